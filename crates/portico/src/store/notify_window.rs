//! The writes of one notification window (N2, X11, X12), each a few
//! set-based statements however many people it tells: the claims that
//! make a notification go once, the marks of what was told, the push
//! notices, reply addresses, sign-in links and outbox rows. Each takes
//! its rows as one JSON array parameter (see [`Backend::json_rows`]), in
//! chunks of [`CHUNK`] rows, and writes the rows the one-row forms write
//! elsewhere (`insert_token`, `enqueue_notification`): the same columns,
//! idempotency keys and conflicts.

use super::backend::Backend;
use super::{Conversation, Member, NewOutboxItem, NewPushNotice, StoreResult, StoreTx};
use super::{TokenPurpose, json_array, parse_id};
use crate::domain::{ChatId, ContactId, Millis, PracticeId, StaffId};
use serde::Serialize;
use std::collections::HashSet;

/// Rows per statement: a window of 10,000 people takes a few statements
/// of each kind, none with a parameter of more than some megabytes.
const CHUNK: usize = 1000;

/// A person: practice and member.
pub type PersonKey = (PracticeId, Member);

/// A person's claim of one notification window.
#[derive(Clone, Debug)]
pub struct NewClaim {
    pub practice_id: PracticeId,
    pub member: Member,
    pub window_key: String,
    pub items: i64,
    pub channels: &'static str,
}

/// A chat a member was told of, up to `seq`.
#[derive(Clone, Copy, Debug)]
pub struct ChatMark {
    pub practice_id: PracticeId,
    pub chat_id: ChatId,
    pub member: Member,
    pub seq: i64,
}

/// A chat a staff user who looks after its client without being in it
/// was told of (from their chat alert), up to `seq`.
#[derive(Clone, Copy, Debug)]
pub struct WatchMark {
    pub practice_id: PracticeId,
    pub chat_id: ChatId,
    pub staff_id: StaffId,
    pub seq: i64,
}

/// A reply address a notification names (X11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplyKey {
    pub practice_id: PracticeId,
    pub member: Member,
    pub conversation: Conversation,
}

/// A sign-in link's token.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub hash: String,
    pub purpose: TokenPurpose,
    pub practice_id: PracticeId,
    pub contact_id: ContactId,
    pub expires_at: Millis,
}

/// An outbox row with its unsubscribe and reply addresses.
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub item: NewOutboxItem,
    pub list_unsubscribe: Option<String>,
    pub reply_to: Option<String>,
}

#[derive(Serialize)]
struct ClaimRow<'a> {
    practice_id: PracticeId,
    member_kind: &'static str,
    member_id: String,
    window_key: &'a str,
    items: i64,
    channels: &'static str,
    created_at: i64,
}

#[derive(Serialize)]
struct ChatMarkRow {
    practice_id: PracticeId,
    chat_id: ChatId,
    member_kind: &'static str,
    member_id: String,
    seq: i64,
}

#[derive(Serialize)]
struct WatchMarkRow {
    practice_id: PracticeId,
    staff_id: StaffId,
    dedupe_key: String,
    seq: i64,
}

#[derive(Serialize)]
struct ItemRow<'a> {
    practice_id: PracticeId,
    id: &'a str,
}

#[derive(Serialize)]
struct PushNoticeRow<'a> {
    id: String,
    practice_id: PracticeId,
    member_kind: &'static str,
    member_id: String,
    covers_until: i64,
    token_hash: &'a str,
    target: &'a str,
    created_at: i64,
}

#[derive(Serialize)]
struct ReplyRow {
    id: String,
    practice_id: PracticeId,
    member_kind: &'static str,
    member_id: String,
    conversation_kind: &'static str,
    conversation_id: String,
    created_at: i64,
}

#[derive(Serialize)]
struct TokenRow<'a> {
    token_hash: &'a str,
    practice_id: PracticeId,
    purpose: &'static str,
    contact_id: ContactId,
    created_at: i64,
    expires_at: i64,
}

#[derive(Serialize)]
struct OutboxRow<'a> {
    id: String,
    practice_id: Option<PracticeId>,
    channel: &'static str,
    idempotency_key: &'a str,
    recipient: &'a str,
    subject: &'a str,
    body_text: &'a str,
    body_html: Option<&'a str>,
    created_at: i64,
    list_unsubscribe: Option<&'a str>,
    reply_to: Option<&'a str>,
}

const CLAIM: &[(&str, &str)] = &[
    ("practice_id", "text"),
    ("member_kind", "text"),
    ("member_id", "text"),
    ("window_key", "text"),
    ("items", "bigint"),
    ("channels", "text"),
    ("created_at", "bigint"),
];
const CHAT_MARK: &[(&str, &str)] = &[
    ("practice_id", "text"),
    ("chat_id", "text"),
    ("member_kind", "text"),
    ("member_id", "text"),
    ("seq", "bigint"),
];
const WATCH_MARK: &[(&str, &str)] = &[
    ("practice_id", "text"),
    ("staff_id", "text"),
    ("dedupe_key", "text"),
    ("seq", "bigint"),
];
const ITEM: &[(&str, &str)] = &[("practice_id", "text"), ("id", "text")];
const PUSH_NOTICE: &[(&str, &str)] = &[
    ("id", "text"),
    ("practice_id", "text"),
    ("member_kind", "text"),
    ("member_id", "text"),
    ("covers_until", "bigint"),
    ("token_hash", "text"),
    ("target", "text"),
    ("created_at", "bigint"),
];
const REPLY: &[(&str, &str)] = &[
    ("id", "text"),
    ("practice_id", "text"),
    ("member_kind", "text"),
    ("member_id", "text"),
    ("conversation_kind", "text"),
    ("conversation_id", "text"),
    ("created_at", "bigint"),
];
const TOKEN: &[(&str, &str)] = &[
    ("token_hash", "text"),
    ("practice_id", "text"),
    ("purpose", "text"),
    ("contact_id", "text"),
    ("created_at", "bigint"),
    ("expires_at", "bigint"),
];
const OUTBOX: &[(&str, &str)] = &[
    ("id", "text"),
    ("practice_id", "text"),
    ("channel", "text"),
    ("idempotency_key", "text"),
    ("recipient", "text"),
    ("subject", "text"),
    ("body_text", "text"),
    ("body_html", "text"),
    ("created_at", "bigint"),
    ("list_unsubscribe", "text"),
    ("reply_to", "text"),
];

/// The statement texts of a window on one engine (made from constants).
struct Sql {
    claim: String,
    lock_chats: Option<String>,
    mark_chats: String,
    lock_watches: Option<String>,
    mark_watches: String,
    mark_items: String,
    push_notices: String,
    reply_insert: String,
    reply_select: String,
    tokens: String,
    outbox: String,
}

impl Sql {
    fn of(backend: Backend) -> &'static Sql {
        static SQLITE: std::sync::OnceLock<Sql> = std::sync::OnceLock::new();
        static POSTGRES: std::sync::OnceLock<Sql> = std::sync::OnceLock::new();
        let cell = match backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        cell.get_or_init(|| Sql::make(backend))
    }

    fn make(b: Backend) -> Sql {
        let chat_on = "chat_members.practice_id = j.practice_id AND chat_members.chat_id = j.chat_id \
                       AND chat_members.member_kind = j.member_kind AND chat_members.member_id = j.member_id";
        let watch_on = "alerts.practice_id = j.practice_id AND alerts.staff_id = j.staff_id \
                        AND alerts.dedupe_key = j.dedupe_key";
        Sql {
            // A claim another instance holds is not returned: that person
            // is its to tell.
            claim: format!(
                "INSERT INTO notify_runs (practice_id, member_kind, member_id, window_key, items, channels, \
                 created_at) SELECT j.practice_id, j.member_kind, j.member_id, j.window_key, j.items, \
                 j.channels, j.created_at FROM {} WHERE true ON CONFLICT DO NOTHING \
                 RETURNING practice_id, member_kind, member_id",
                b.json_rows(CLAIM)
            ),
            lock_chats: b.lock_rows_sql(
                "chat_members",
                CHAT_MARK,
                chat_on,
                "chat_members.practice_id, chat_members.chat_id, chat_members.member_kind, \
                 chat_members.member_id",
            ),
            // Only the rows it advances are returned: a chat another
            // instance marked is left out of this notification.
            mark_chats: format!(
                "UPDATE chat_members SET notified_seq = j.seq FROM {} WHERE {chat_on} \
                 AND chat_members.notified_seq < j.seq \
                 RETURNING chat_members.practice_id, chat_members.chat_id, chat_members.member_kind, \
                 chat_members.member_id",
                b.json_rows(CHAT_MARK)
            ),
            lock_watches: b.lock_rows_sql(
                "alerts",
                WATCH_MARK,
                watch_on,
                "alerts.practice_id, alerts.staff_id, alerts.dedupe_key",
            ),
            mark_watches: format!(
                "UPDATE alerts SET notified_seq = j.seq FROM {} WHERE {watch_on} \
                 AND alerts.notified_seq < j.seq \
                 RETURNING alerts.practice_id, alerts.staff_id, alerts.dedupe_key",
                b.json_rows(WATCH_MARK)
            ),
            mark_items: format!(
                "UPDATE notify_items SET notified_at = $2 WHERE notified_at IS NULL AND (practice_id, id) IN \
                 (SELECT j.practice_id, j.id FROM {}) RETURNING id",
                b.json_rows(ITEM)
            ),
            push_notices: format!(
                "INSERT INTO push_notices (id, practice_id, member_kind, member_id, covers_until, token_hash, \
                 target, created_at) SELECT j.id, j.practice_id, j.member_kind, j.member_id, j.covers_until, \
                 j.token_hash, j.target, j.created_at FROM {} WHERE true ON CONFLICT DO NOTHING RETURNING id",
                b.json_rows(PUSH_NOTICE)
            ),
            reply_insert: format!(
                "INSERT INTO reply_addresses (id, practice_id, member_kind, member_id, conversation_kind, \
                 conversation_id, created_at) SELECT j.id, j.practice_id, j.member_kind, j.member_id, \
                 j.conversation_kind, j.conversation_id, j.created_at FROM {} WHERE true \
                 ON CONFLICT (practice_id, member_kind, member_id, conversation_kind, conversation_id) DO NOTHING",
                b.json_rows(REPLY)
            ),
            reply_select: format!(
                "SELECT r.practice_id, r.member_kind, r.member_id, r.conversation_kind, r.conversation_id, r.id \
                 FROM reply_addresses r JOIN {} ON r.practice_id = j.practice_id AND r.member_kind = j.member_kind \
                 AND r.member_id = j.member_id AND r.conversation_kind = j.conversation_kind \
                 AND r.conversation_id = j.conversation_id",
                b.json_rows(REPLY)
            ),
            tokens: format!(
                "INSERT INTO tokens (token_hash, practice_id, purpose, contact_id, created_at, expires_at) \
                 SELECT j.token_hash, j.practice_id, j.purpose, j.contact_id, j.created_at, j.expires_at FROM {}",
                b.json_rows(TOKEN)
            ),
            // As `enqueue_notification`: a text to a number that said STOP
            // is not queued, and a key already queued is one message.
            outbox: format!(
                "INSERT INTO outbox (id, practice_id, channel, idempotency_key, recipient, subject, body_text, \
                 body_html, status, attempts, next_attempt_at, claimed_until, created_at, list_unsubscribe, \
                 reply_to) SELECT j.id, j.practice_id, j.channel, j.idempotency_key, j.recipient, j.subject, \
                 j.body_text, j.body_html, 'pending', 0, j.created_at, 0, j.created_at, j.list_unsubscribe, \
                 j.reply_to FROM {} \
                 WHERE NOT (j.channel = 'sms' AND EXISTS (SELECT 1 FROM sms_opt_outs WHERE phone = j.recipient)) \
                 ON CONFLICT (idempotency_key) DO NOTHING",
                b.json_rows(OUTBOX)
            ),
        }
    }
}

impl StoreTx {
    /// Runs `sql` (taking `$1`, a chunk of `rows` as JSON, and `extra` as
    /// `$2`) over every chunk, returning what each returns.
    async fn per_chunk<T, R>(
        &mut self,
        sql: &'static str,
        rows: &[T],
        extra: Option<i64>,
    ) -> StoreResult<Vec<R>>
    where
        T: Serialize,
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let mut out = Vec::new();
        for chunk in rows.chunks(CHUNK) {
            let mut query = sqlx::query_as::<_, R>(sql).bind(json_array(chunk)?);
            if let Some(extra) = extra {
                query = query.bind(extra);
            }
            out.extend(query.fetch_all(&mut *self.tx).await?);
        }
        Ok(out)
    }

    /// Runs `sql` over every chunk of `rows`, for its effect only.
    async fn execute_chunks<T: Serialize>(
        &mut self,
        sql: &'static str,
        rows: &[T],
    ) -> StoreResult<()> {
        for chunk in rows.chunks(CHUNK) {
            sqlx::query(sql)
                .bind(json_array(chunk)?)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Claims each person's notification for their window at once: the
    /// people this caller is to tell (another instance may have claimed
    /// some).
    pub async fn claim_notifications(
        &mut self,
        claims: &[NewClaim],
        now: Millis,
    ) -> StoreResult<HashSet<PersonKey>> {
        let rows: Vec<ClaimRow> = claims
            .iter()
            .map(|c| ClaimRow {
                practice_id: c.practice_id,
                member_kind: c.member.kind(),
                member_id: c.member.id(),
                window_key: &c.window_key,
                items: c.items,
                channels: c.channels,
                created_at: now.0,
            })
            .collect();
        let claimed: Vec<(String, String, String)> = self
            .per_chunk(&Sql::of(self.backend).claim, &rows, None)
            .await?;
        claimed
            .into_iter()
            .map(|(practice, kind, id)| Ok((parse_id(&practice)?, Member::parse(&kind, &id)?)))
            .collect()
    }

    /// Records that members were told of chats up to their numbers: the
    /// marks it made (one another instance made first is not among them).
    pub async fn mark_chats_notified(
        &mut self,
        marks: &[ChatMark],
    ) -> StoreResult<HashSet<(PracticeId, ChatId, Member)>> {
        let mut rows: Vec<ChatMarkRow> = marks
            .iter()
            .map(|m| ChatMarkRow {
                practice_id: m.practice_id,
                chat_id: m.chat_id,
                member_kind: m.member.kind(),
                member_id: m.member.id(),
                seq: m.seq,
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.practice_id, a.chat_id, a.member_kind, &a.member_id).cmp(&(
                b.practice_id,
                b.chat_id,
                b.member_kind,
                &b.member_id,
            ))
        });
        if let Some(lock) = &Sql::of(self.backend).lock_chats {
            self.execute_chunks(lock, &rows).await?;
        }
        let marked: Vec<(String, String, String, String)> = self
            .per_chunk(&Sql::of(self.backend).mark_chats, &rows, None)
            .await?;
        marked
            .into_iter()
            .map(|(practice, chat, kind, id)| {
                Ok((
                    parse_id(&practice)?,
                    parse_id(&chat)?,
                    Member::parse(&kind, &id)?,
                ))
            })
            .collect()
    }

    /// As [`StoreTx::mark_chats_notified`], for staff users told of a
    /// chat from their chat alert.
    pub async fn mark_watches_notified(
        &mut self,
        marks: &[WatchMark],
    ) -> StoreResult<HashSet<(PracticeId, ChatId, StaffId)>> {
        let mut rows: Vec<WatchMarkRow> = marks
            .iter()
            .map(|m| WatchMarkRow {
                practice_id: m.practice_id,
                staff_id: m.staff_id,
                dedupe_key: format!("chat:{}", m.chat_id),
                seq: m.seq,
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.practice_id, a.staff_id, &a.dedupe_key).cmp(&(
                b.practice_id,
                b.staff_id,
                &b.dedupe_key,
            ))
        });
        if let Some(lock) = &Sql::of(self.backend).lock_watches {
            self.execute_chunks(lock, &rows).await?;
        }
        let marked: Vec<(String, String, String)> = self
            .per_chunk(&Sql::of(self.backend).mark_watches, &rows, None)
            .await?;
        marked
            .into_iter()
            .map(|(practice, staff, key)| {
                let chat = key.strip_prefix("chat:").unwrap_or(&key);
                Ok((parse_id(&practice)?, parse_id(chat)?, parse_id(&staff)?))
            })
            .collect()
    }

    /// Records that question events were told of: the ids it marked (one
    /// another instance marked first is not among them).
    pub async fn mark_items_notified(
        &mut self,
        items: &[(PracticeId, &str)],
        now: Millis,
    ) -> StoreResult<HashSet<String>> {
        let mut rows: Vec<ItemRow> = items
            .iter()
            .map(|&(practice_id, id)| ItemRow { practice_id, id })
            .collect();
        rows.sort_by(|a, b| (a.practice_id, a.id).cmp(&(b.practice_id, b.id)));
        let marked: Vec<(String,)> = self
            .per_chunk(&Sql::of(self.backend).mark_items, &rows, Some(now.0))
            .await?;
        Ok(marked.into_iter().map(|(id,)| id).collect())
    }

    /// Claims push notices at once: for each, its id when this caller is
    /// the one to send it (another instance may have).
    pub async fn claim_push_notices(
        &mut self,
        notices: &[NewPushNotice],
        now: Millis,
    ) -> StoreResult<Vec<Option<String>>> {
        let rows: Vec<PushNoticeRow> = notices
            .iter()
            .map(|n| PushNoticeRow {
                id: uuid::Uuid::now_v7().to_string(),
                practice_id: n.practice_id,
                member_kind: n.member.kind(),
                member_id: n.member.id(),
                covers_until: n.covers_until.0,
                token_hash: &n.token_hash,
                target: &n.target,
                created_at: now.0,
            })
            .collect();
        let claimed: HashSet<String> = self
            .per_chunk::<_, (String,)>(&Sql::of(self.backend).push_notices, &rows, None)
            .await?
            .into_iter()
            .map(|(id,)| id)
            .collect();
        Ok(rows
            .into_iter()
            .map(|row| claimed.contains(&row.id).then_some(row.id))
            .collect())
    }

    /// The reply address of each of `keys`, made when it has none (X11;
    /// the candidate is its id then).
    pub async fn reply_addresses(
        &mut self,
        keys: &[(ReplyKey, String)],
        now: Millis,
    ) -> StoreResult<Vec<(ReplyKey, String)>> {
        let rows: Vec<ReplyRow> = keys
            .iter()
            .map(|(key, candidate)| ReplyRow {
                id: candidate.clone(),
                practice_id: key.practice_id,
                member_kind: key.member.kind(),
                member_id: key.member.id(),
                conversation_kind: key.conversation.kind(),
                conversation_id: key.conversation.id(),
                created_at: now.0,
            })
            .collect();
        self.execute_chunks(&Sql::of(self.backend).reply_insert, &rows)
            .await?;
        let found: Vec<(String, String, String, String, String, String)> = self
            .per_chunk(&Sql::of(self.backend).reply_select, &rows, None)
            .await?;
        found
            .into_iter()
            .map(
                |(practice, kind, member, conversation_kind, conversation, id)| {
                    let conversation = Conversation::parse(&conversation_kind, &conversation)?;
                    Ok((
                        ReplyKey {
                            practice_id: parse_id(&practice)?,
                            member: Member::parse(&kind, &member)?,
                            conversation,
                        },
                        id,
                    ))
                },
            )
            .collect()
    }

    /// Stores sign-in links' tokens at once (`insert_token` for one).
    pub async fn insert_tokens(&mut self, tokens: &[NewToken], now: Millis) -> StoreResult<()> {
        let rows: Vec<TokenRow> = tokens
            .iter()
            .map(|t| TokenRow {
                token_hash: &t.hash,
                practice_id: t.practice_id,
                purpose: t.purpose.as_str(),
                contact_id: t.contact_id,
                created_at: now.0,
                expires_at: t.expires_at.0,
            })
            .collect();
        self.execute_chunks(&Sql::of(self.backend).tokens, &rows)
            .await
    }

    /// Queues messages at once, due now, in their order
    /// (`enqueue_notification` for one).
    pub async fn enqueue_notifications(
        &mut self,
        items: &[NewNotification],
        now: Millis,
    ) -> StoreResult<()> {
        let rows: Vec<OutboxRow> = items
            .iter()
            .map(|n| OutboxRow {
                id: uuid::Uuid::now_v7().to_string(),
                practice_id: n.item.practice_id,
                channel: n.item.channel.as_str(),
                idempotency_key: &n.item.idempotency_key,
                recipient: &n.item.recipient,
                subject: &n.item.subject,
                body_text: &n.item.body_text,
                body_html: n.item.body_html.as_deref(),
                created_at: now.0,
                list_unsubscribe: n.list_unsubscribe.as_deref(),
                reply_to: n.reply_to.as_deref(),
            })
            .collect();
        self.execute_chunks(&Sql::of(self.backend).outbox, &rows)
            .await
    }
}
