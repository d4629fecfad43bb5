//! X11: replies by e-mail and text. Reply addresses (one per person and
//! conversation), the e-mails received for them (once per Message-ID,
//! held ones until staff decide), and the numbers that said STOP.

use super::{Member, Store, StoreError, StoreResult, StoreTx, parse_id};
use crate::domain::{ChatId, ContactId, Millis, PracticeId};

/// What a reply address answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Conversation {
    Chat(ChatId),
    Question(crate::domain::QuestionId),
}

impl Conversation {
    pub fn kind(self) -> &'static str {
        match self {
            Conversation::Chat(_) => "chat",
            Conversation::Question(_) => "question",
        }
    }

    pub fn id(self) -> String {
        match self {
            Conversation::Chat(id) => id.to_string(),
            Conversation::Question(id) => id.to_string(),
        }
    }

    pub(super) fn parse(kind: &str, id: &str) -> StoreResult<Self> {
        match kind {
            "chat" => Ok(Conversation::Chat(parse_id(id)?)),
            "question" => Ok(Conversation::Question(parse_id(id)?)),
            other => Err(StoreError::Corrupt(format!("conversation kind {other:?}"))),
        }
    }
}

/// The person and conversation a reply address names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyAddress {
    pub id: String,
    pub practice_id: PracticeId,
    pub member: Member,
    pub conversation: Conversation,
}

/// What became of a received e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundStatus {
    Posted,
    /// Its From is not the address's person: staff decide.
    Held,
    Discarded,
    /// An automatic reply (out of office and the like).
    Ignored,
    /// Not posted: a refused attachment, an empty reply.
    Refused,
    /// The person no longer reaches the conversation.
    NoAccess,
}

impl InboundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InboundStatus::Posted => "posted",
            InboundStatus::Held => "held",
            InboundStatus::Discarded => "discarded",
            InboundStatus::Ignored => "ignored",
            InboundStatus::Refused => "refused",
            InboundStatus::NoAccess => "no_access",
        }
    }

    fn parse(text: &str) -> StoreResult<Self> {
        Ok(match text {
            "posted" => InboundStatus::Posted,
            "held" => InboundStatus::Held,
            "discarded" => InboundStatus::Discarded,
            "ignored" => InboundStatus::Ignored,
            "refused" => InboundStatus::Refused,
            "no_access" => InboundStatus::NoAccess,
            other => return Err(StoreError::Corrupt(format!("inbound status {other:?}"))),
        })
    }
}

/// A received e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundMail {
    pub id: String,
    pub message_id: String,
    pub practice_id: PracticeId,
    pub reply_address_id: String,
    pub member: Member,
    pub conversation: Conversation,
    pub from_address: String,
    pub subject: String,
    pub body: String,
    pub original_text: String,
    pub status: InboundStatus,
    pub raw_key: Option<String>,
    pub message_seq: Option<i64>,
    pub note: Option<String>,
    pub created_at: Millis,
}

#[derive(sqlx::FromRow)]
struct InboundRow {
    id: String,
    message_id: String,
    practice_id: String,
    reply_address_id: String,
    member_kind: String,
    member_id: String,
    conversation_kind: String,
    conversation_id: String,
    from_address: String,
    subject: String,
    body: String,
    original_text: String,
    status: String,
    raw_key: Option<String>,
    message_seq: Option<i64>,
    note: Option<String>,
    created_at: i64,
}

macro_rules! inbound_columns {
    () => {
        "id, message_id, practice_id, reply_address_id, member_kind, member_id, conversation_kind, \
         conversation_id, from_address, subject, body, original_text, status, raw_key, message_seq, \
         note, created_at"
    };
}

impl TryFrom<InboundRow> for InboundMail {
    type Error = StoreError;
    fn try_from(row: InboundRow) -> StoreResult<Self> {
        Ok(InboundMail {
            id: row.id,
            message_id: row.message_id,
            practice_id: parse_id(&row.practice_id)?,
            reply_address_id: row.reply_address_id,
            member: Member::parse(&row.member_kind, &row.member_id)?,
            conversation: Conversation::parse(&row.conversation_kind, &row.conversation_id)?,
            from_address: row.from_address,
            subject: row.subject,
            body: row.body,
            original_text: row.original_text,
            status: InboundStatus::parse(&row.status)?,
            raw_key: row.raw_key,
            message_seq: row.message_seq,
            note: row.note,
            created_at: Millis(row.created_at),
        })
    }
}

impl StoreTx {
    /// STOP: no more texts to `phone` (what is queued in this transaction
    /// before it still goes: the confirmation).
    pub async fn sms_opt_out(&mut self, phone: &str, now: Millis) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sms_opt_outs (phone, created_at) VALUES ($1, $2) ON CONFLICT (phone) DO NOTHING",
        )
        .bind(phone)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// START: texts to `phone` again.
    pub async fn sms_opt_in(&mut self, phone: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sms_opt_outs WHERE phone = $1")
            .bind(phone)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Records a received text once; false when its id was seen before.
    pub async fn record_inbound_sms(
        &mut self,
        provider_id: &str,
        from: &str,
        outcome: &str,
        now: Millis,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO inbound_sms (id, provider_id, from_number, outcome, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider_id) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(provider_id)
        .bind(from)
        .bind(outcome)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// The reply address with this id, if any.
    pub async fn get_reply_address(&self, id: &str) -> StoreResult<Option<ReplyAddress>> {
        let row: Option<(String, String, String, String, String, String)> = sqlx::query_as(
            "SELECT id, practice_id, member_kind, member_id, conversation_kind, conversation_id \
             FROM reply_addresses WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, practice, kind, member, ckind, cid)| {
            Ok(ReplyAddress {
                id,
                practice_id: parse_id(&practice)?,
                member: Member::parse(&kind, &member)?,
                conversation: Conversation::parse(&ckind, &cid)?,
            })
        })
        .transpose()
    }

    /// The e-mail received with this Message-ID, if any.
    pub async fn inbound_mail_by_message_id(
        &self,
        message_id: &str,
    ) -> StoreResult<Option<InboundMail>> {
        sqlx::query_as::<_, InboundRow>(concat!(
            "SELECT ",
            inbound_columns!(),
            " FROM inbound_mail WHERE message_id = $1"
        ))
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?
        .map(InboundMail::try_from)
        .transpose()
    }

    /// Records a received e-mail; false when its Message-ID was recorded
    /// before (a second delivery).
    pub async fn record_inbound_mail(&self, mail: &InboundMail) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO inbound_mail (id, message_id, practice_id, reply_address_id, member_kind, \
             member_id, conversation_kind, conversation_id, from_address, subject, body, original_text, \
             status, raw_key, message_seq, note, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(&mail.id)
        .bind(&mail.message_id)
        .bind(mail.practice_id)
        .bind(&mail.reply_address_id)
        .bind(mail.member.kind())
        .bind(mail.member.id())
        .bind(mail.conversation.kind())
        .bind(mail.conversation.id())
        .bind(&mail.from_address)
        .bind(&mail.subject)
        .bind(&mail.body)
        .bind(&mail.original_text)
        .bind(mail.status.as_str())
        .bind(mail.raw_key.as_deref())
        .bind(mail.message_seq)
        .bind(mail.note.as_deref())
        .bind(mail.created_at.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A practice's e-mails in one state, newest first.
    pub async fn inbound_mail_in(
        &self,
        practice: PracticeId,
        status: InboundStatus,
    ) -> StoreResult<Vec<InboundMail>> {
        sqlx::query_as::<_, InboundRow>(concat!(
            "SELECT ",
            inbound_columns!(),
            " FROM inbound_mail WHERE practice_id = $1 AND status = $2 ORDER BY created_at DESC, id LIMIT 200"
        ))
        .bind(practice)
        .bind(status.as_str())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(InboundMail::try_from)
        .collect()
    }

    pub async fn get_inbound_mail(
        &self,
        practice: PracticeId,
        id: &str,
    ) -> StoreResult<InboundMail> {
        sqlx::query_as::<_, InboundRow>(concat!(
            "SELECT ",
            inbound_columns!(),
            " FROM inbound_mail WHERE practice_id = $1 AND id = $2"
        ))
        .bind(practice)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// The e-mail a chat message was posted from, if it came by e-mail.
    pub async fn inbound_mail_of_message(
        &self,
        practice: PracticeId,
        chat: ChatId,
        seq: i64,
    ) -> StoreResult<Option<InboundMail>> {
        sqlx::query_as::<_, InboundRow>(concat!(
            "SELECT ",
            inbound_columns!(),
            " FROM inbound_mail WHERE practice_id = $1 AND conversation_kind = 'chat' \
             AND conversation_id = $2 AND message_seq = $3 AND status = 'posted'"
        ))
        .bind(practice)
        .bind(chat)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?
        .map(InboundMail::try_from)
        .transpose()
    }

    /// The messages of a chat that came by e-mail.
    pub async fn emailed_messages(
        &self,
        practice: PracticeId,
        chat: ChatId,
    ) -> StoreResult<Vec<i64>> {
        let rows: Vec<(Option<i64>,)> = sqlx::query_as(
            "SELECT message_seq FROM inbound_mail WHERE practice_id = $1 AND conversation_kind = 'chat' \
             AND conversation_id = $2 AND status = 'posted'",
        )
        .bind(practice)
        .bind(chat)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().filter_map(|(s,)| s).collect())
    }

    /// A held e-mail decided by staff; false when it was no longer held.
    pub async fn decide_inbound_mail(
        &self,
        practice: PracticeId,
        id: &str,
        status: InboundStatus,
        message_seq: Option<i64>,
        by: &str,
        now: Millis,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE inbound_mail SET status = $3, message_seq = $4, decided_by = $5, decided_at = $6, \
             raw_key = NULL WHERE practice_id = $1 AND id = $2 AND status = 'held'",
        )
        .bind(practice)
        .bind(id)
        .bind(status.as_str())
        .bind(message_seq)
        .bind(by)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether `phone` said STOP.
    pub async fn sms_opted_out(&self, phone: &str) -> StoreResult<bool> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT phone FROM sms_opt_outs WHERE phone = $1")
                .bind(phone)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    /// Every contact, in any practice, with this number.
    pub async fn contacts_with_phone(
        &self,
        phone: &str,
    ) -> StoreResult<Vec<(PracticeId, ContactId)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT practice_id, id FROM contacts WHERE phone = $1 LIMIT 10")
                .bind(phone)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|(p, k)| Ok((parse_id(p)?, parse_id(k)?)))
            .collect()
    }

    /// The chat a contact wrote in or heard from last, among those she
    /// still reaches.
    pub async fn latest_chat_of(
        &self,
        practice: PracticeId,
        contact: ContactId,
    ) -> StoreResult<Option<ChatId>> {
        let row: Option<(String,)> = sqlx::query_as(concat!(
            "SELECT ch.id FROM chats ch JOIN chat_members m ON m.practice_id = ch.practice_id AND m.chat_id = ch.id \
             WHERE ch.practice_id = $1 AND m.member_kind = 'contact' AND m.member_id = $2 AND ",
            super::chats::member_reaches_chat!(),
            " ORDER BY ch.last_message_at DESC, ch.id DESC LIMIT 1"
        ))
        .bind(practice)
        .bind(contact)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id,)| parse_id(&id)).transpose()
    }
}
