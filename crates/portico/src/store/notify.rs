//! Notifications (N2, X7, S4, S5): what waits for whom, each person's
//! choices, the claims that make a notification go once, and the practice
//! settings for e-mail content and the window.

use super::batch_sql::{BatchSql, Bind};
use super::{Backend, Store, StoreError, StoreResult, StoreTx, flag, parse_id};
use crate::domain::{ChatId, ClientId, MessageId, Millis, PracticeId, QuestionId};
use crate::store::Member;
use std::collections::HashMap;

/// How a person wants to hear of one kind of thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyChannel {
    Email,
    Sms,
    Both,
    None,
}

impl NotifyChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyChannel::Email => "email",
            NotifyChannel::Sms => "sms",
            NotifyChannel::Both => "both",
            NotifyChannel::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "email" => NotifyChannel::Email,
            "sms" => NotifyChannel::Sms,
            "both" => NotifyChannel::Both,
            "none" => NotifyChannel::None,
            _ => return None,
        })
    }

    pub fn email(self) -> bool {
        matches!(self, NotifyChannel::Email | NotifyChannel::Both)
    }

    pub fn sms(self) -> bool {
        matches!(self, NotifyChannel::Sms | NotifyChannel::Both)
    }

    /// The same choice with e-mail turned off (one-click unsubscribe).
    pub fn without_email(self) -> Self {
        match self {
            NotifyChannel::Both | NotifyChannel::Sms => NotifyChannel::Sms,
            NotifyChannel::Email | NotifyChannel::None => NotifyChannel::None,
        }
    }
}

/// Staff: when e-mail about what they did not see goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaffMode {
    /// Each time, batched by the window.
    Each,
    /// Once a day at `digest_minute`.
    Daily,
    Never,
}

impl StaffMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffMode::Each => "each",
            StaffMode::Daily => "daily",
            StaffMode::Never => "never",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "each" => StaffMode::Each,
            "daily" => StaffMode::Daily,
            "never" => StaffMode::Never,
            _ => return None,
        })
    }
}

/// S5: whether a person's e-mails carry the text, over the practice's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentChoice {
    /// As the practice decides (the default).
    Practice,
    Include,
    Exclude,
}

impl ContentChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentChoice::Practice => "practice",
            ContentChoice::Include => "include",
            ContentChoice::Exclude => "exclude",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "practice" => ContentChoice::Practice,
            "include" => ContentChoice::Include,
            "exclude" => ContentChoice::Exclude,
            _ => return None,
        })
    }

    /// Whether the text goes in, given the practice's default.
    pub fn includes(self, practice_default: bool) -> bool {
        match self {
            ContentChoice::Practice => practice_default,
            ContentChoice::Include => true,
            ContentChoice::Exclude => false,
        }
    }
}

/// One person's notification choices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyPrefs {
    pub messages: NotifyChannel,
    pub questions: NotifyChannel,
    pub staff_mode: StaffMode,
    /// Staff digest time, minutes after local midnight.
    pub digest_minute: i64,
    /// X7: quiet from `start` to `end` (minutes after local midnight).
    pub quiet: Option<(i64, i64)>,
    /// Their own time zone; `None`: the contact's or the practice's.
    pub time_zone: Option<String>,
    /// S4: the alert bar, and its sound.
    pub in_app_alerts: bool,
    pub alert_sound: bool,
    /// S5: the text in their e-mails, over the practice's default.
    pub content: ContentChoice,
}

impl Default for NotifyPrefs {
    fn default() -> Self {
        Self {
            messages: NotifyChannel::Both,
            questions: NotifyChannel::Both,
            staff_mode: StaffMode::Each,
            digest_minute: 8 * 60,
            quiet: None,
            time_zone: None,
            in_app_alerts: true,
            alert_sound: false,
            content: ContentChoice::Practice,
        }
    }
}

/// The practice's notification settings (S5 and the window).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySettings {
    pub content_to_contacts: bool,
    pub content_to_staff: bool,
    /// `None`: the server's `notify_delay_secs`.
    pub delay_secs: Option<i64>,
}

/// Who is to be told, with what they chose and where to reach them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub practice_id: PracticeId,
    pub practice_name: String,
    pub member: Member,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    /// An active contact or an active staff user.
    pub reachable: bool,
    /// Their own, else the contact's, else the practice's.
    pub time_zone: String,
    pub prefs: NotifyPrefs,
    pub settings: NotifySettings,
    /// X15: the practice's look in its e-mails.
    pub brand: BrandParts,
}

/// X15: what an e-mail needs of a practice's branding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrandParts {
    pub accent_colour: Option<String>,
    pub has_logo: bool,
    pub brand_version: i64,
}

/// An unread message of a chat a member has not been told of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMessage {
    pub recipient: Recipient,
    pub chat_id: ChatId,
    pub chat_title: String,
    pub client_id: Option<ClientId>,
    pub client_name: Option<String>,
    pub seq: i64,
    pub sender_name: String,
    pub body: String,
    pub created_at: Millis,
    /// X7: it breaks through quiet hours.
    pub urgent: bool,
    /// Files shared with the message.
    pub files: i64,
    /// A staff user who looks after the chat's client without being in
    /// the chat (told from their chat alert, not from a membership).
    pub watching: bool,
    /// Of everything this person has unread in the chat (of which only
    /// the newest [`NEWEST_PER_CHAT`] are read, and only among the chat's
    /// newest [`COUNTED_PER_CHAT`] counted): how many.
    pub chat_unread: i64,
    /// The oldest of them, whether any is urgent, their files.
    pub chat_since: Millis,
    pub chat_urgent: bool,
    pub chat_files: i64,
    /// Messages older than the newest [`COUNTED_PER_CHAT`] of the chat may
    /// be unread too: the totals are of those only.
    pub more_unread: bool,
}

/// A person as the notification run reads them, in order: practice, kind
/// (`contact`, `staff`) and id, as stored. Ids are UUIDs in one form, so
/// their order as strings is the database's.
pub type PendingKey = (String, String, String);

/// What one notification run reads of what waits: a page of people, in
/// order, and where the next page begins (`None`: from the first again).
#[derive(Clone, Debug, Default)]
pub struct PendingPage {
    pub messages: Vec<PendingMessage>,
    pub items: Vec<PendingItem>,
    pub resume_after: Option<PendingKey>,
}

/// A question event (or a status update) a person has not read nor been
/// told of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingItem {
    pub recipient: Recipient,
    pub id: String,
    pub client_id: ClientId,
    pub client_name: String,
    /// `None` for a status update.
    pub question_id: Option<QuestionId>,
    /// `asked`, `follow_up`, `reassigned`, `answer` or `status`.
    pub what: String,
    pub author_name: String,
    pub title: String,
    pub body: String,
    pub created_at: Millis,
    /// X7: it breaks through quiet hours.
    pub urgent: bool,
    /// Files shared with it.
    pub files: i64,
}

/// A question event to queue for one recipient.
#[derive(Clone, Debug)]
pub struct NewNotifyItem {
    pub recipient: Member,
    pub client_id: ClientId,
    pub question_id: QuestionId,
    pub what: &'static str,
    pub author_name: String,
    pub title: String,
    pub body: String,
    /// X7: marked urgent by staff.
    pub urgent: bool,
    /// Files shared with it.
    pub files: i64,
}

/// The columns describing the recipient `x` (with `x.practice_id`,
/// `x.kind`, `x.member_id`), joined below.
macro_rules! recipient_columns {
    () => {
        "p.name AS practice_name, p.time_zone AS practice_zone, \
         p.notify_content_contacts AS content_contacts, p.notify_content_staff AS content_staff, \
         p.notify_delay_secs AS delay_secs, COALESCE(k.email, s.email) AS email, \
         COALESCE(k.name, s.name) AS name, k.phone AS phone, \
         CAST(CASE WHEN k.status = 'active' OR s.active = 1 THEN 1 ELSE 0 END AS BIGINT) AS reachable, \
         k.time_zone AS contact_zone, np.messages AS messages, np.questions AS questions, \
         np.staff_mode AS staff_mode, np.digest_minute AS digest_minute, np.quiet_start AS quiet_start, \
         np.quiet_end AS quiet_end, np.time_zone AS own_zone, np.in_app_alerts AS in_app_alerts, \
         np.alert_sound AS alert_sound, np.content AS content, p.accent_colour AS accent_colour, \
         p.brand_version AS brand_version, \
         CAST(CASE WHEN pl.practice_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_logo"
    };
}

macro_rules! recipient_joins {
    () => {
        " JOIN practices p ON p.id = x.practice_id \
         LEFT JOIN contacts k ON x.kind = 'contact' AND k.practice_id = x.practice_id AND k.id = x.member_id \
         LEFT JOIN staff_users s ON x.kind = 'staff' AND s.practice_id = x.practice_id AND s.id = x.member_id \
         LEFT JOIN notify_prefs np ON np.practice_id = x.practice_id AND np.member_kind = x.kind \
         AND np.member_id = x.member_id \
         LEFT JOIN practice_logos pl ON pl.practice_id = x.practice_id "
    };
}

#[derive(sqlx::FromRow)]
struct RecipientRow {
    practice_id: String,
    kind: String,
    member_id: String,
    practice_name: String,
    practice_zone: String,
    content_contacts: i64,
    content_staff: i64,
    delay_secs: Option<i64>,
    email: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    reachable: i64,
    contact_zone: Option<String>,
    messages: Option<String>,
    questions: Option<String>,
    staff_mode: Option<String>,
    digest_minute: Option<i64>,
    quiet_start: Option<i64>,
    quiet_end: Option<i64>,
    own_zone: Option<String>,
    in_app_alerts: Option<i64>,
    alert_sound: Option<i64>,
    content: Option<String>,
    accent_colour: Option<String>,
    brand_version: i64,
    has_logo: i64,
}

fn member_of(kind: &str, id: &str) -> StoreResult<Member> {
    Ok(match kind {
        "staff" => Member::Staff(parse_id(id)?),
        "contact" => Member::Contact(parse_id(id)?),
        other => return Err(StoreError::Corrupt(format!("member kind {other:?}"))),
    })
}

fn prefs_of(row: &RecipientRow) -> NotifyPrefs {
    let defaults = NotifyPrefs::default();
    NotifyPrefs {
        messages: row
            .messages
            .as_deref()
            .and_then(NotifyChannel::parse)
            .unwrap_or(defaults.messages),
        questions: row
            .questions
            .as_deref()
            .and_then(NotifyChannel::parse)
            .unwrap_or(defaults.questions),
        staff_mode: row
            .staff_mode
            .as_deref()
            .and_then(StaffMode::parse)
            .unwrap_or(defaults.staff_mode),
        digest_minute: row.digest_minute.unwrap_or(defaults.digest_minute),
        quiet: row.quiet_start.zip(row.quiet_end),
        time_zone: row.own_zone.clone(),
        in_app_alerts: row.in_app_alerts.is_none_or(|v| v != 0),
        alert_sound: row.alert_sound.is_some_and(|v| v != 0),
        content: row
            .content
            .as_deref()
            .and_then(ContentChoice::parse)
            .unwrap_or(defaults.content),
    }
}

impl TryFrom<RecipientRow> for Recipient {
    type Error = StoreError;
    fn try_from(row: RecipientRow) -> StoreResult<Self> {
        let prefs = prefs_of(&row);
        Ok(Recipient {
            practice_id: parse_id(&row.practice_id)?,
            member: member_of(&row.kind, &row.member_id)?,
            time_zone: row
                .own_zone
                .clone()
                .or(row.contact_zone.clone())
                .unwrap_or(row.practice_zone.clone()),
            practice_name: row.practice_name,
            email: row.email.unwrap_or_default(),
            name: row.name.unwrap_or_default(),
            phone: row.phone,
            reachable: row.reachable != 0,
            prefs,
            settings: NotifySettings {
                content_to_contacts: row.content_contacts != 0,
                content_to_staff: row.content_staff != 0,
                delay_secs: row.delay_secs,
            },
            brand: BrandParts {
                accent_colour: row.accent_colour,
                has_logo: row.has_logo != 0,
                brand_version: row.brand_version,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct PendingMessageRow {
    #[sqlx(flatten)]
    recipient: RecipientRow,
    chat_id: String,
    chat_title: String,
    client_id: Option<String>,
    client_name: Option<String>,
    seq: i64,
    sender_name: String,
    body: String,
    created_at: i64,
    urgent: i64,
    files: i64,
    watching: i64,
    chat_unread: i64,
    chat_since: i64,
    chat_urgent: i64,
    chat_files: i64,
    beyond: i64,
}

#[derive(sqlx::FromRow)]
struct PendingItemRow {
    #[sqlx(flatten)]
    recipient: RecipientRow,
    id: String,
    client_id: String,
    client_name: String,
    question_id: Option<String>,
    what: String,
    author_name: String,
    title: String,
    body: String,
    created_at: i64,
    urgent: i64,
    files: i64,
}

/// A `notify_prefs` row as read back.
type PrefsRow = (
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    i64,
    String,
);

/// At most this many rows of each kind (messages, question events) are
/// read in one run: a page of people, the next page read by the next run.
pub const PENDING_LIMIT: i64 = 20_000;

/// Of a person's unread messages in one chat, only the newest this many
/// are read (with the chat's totals): an e-mail quotes the last five, and
/// a person with thousands unread costs no more of a page than one with
/// twenty.
pub const NEWEST_PER_CHAT: i64 = 20;

/// The totals of a person's unread messages in a chat are of the chat's
/// newest this many messages at most (a range of its numbers, read by its
/// key): someone with a million unread costs a run no more than one with
/// a thousand, and is told of "more than" that.
pub const COUNTED_PER_CHAT: i64 = 1000;

/// The order a person is read in.
fn pending_key(r: &Recipient) -> PendingKey {
    (
        r.practice_id.to_string(),
        r.member.kind().to_owned(),
        r.member.id(),
    )
}

/// N2: whether a person may have unread messages in chat `c` older than
/// the newest `$7` (those counted): the newest message before them came
/// after what the person read or was told of (`$read`, `$told`) and since
/// they could see the chat (`$since`). One read by the chat's key; a
/// member who joined after a long history is not told of "more than".
macro_rules! beyond_counted {
    ($read:literal, $told:literal, $since:literal) => {
        concat!(
            "CAST(CASE WHEN c.last_seq - $7 > ", $read, " AND c.last_seq - $7 > ", $told,
            " AND EXISTS (SELECT 1 FROM messages b WHERE b.practice_id = c.practice_id AND b.chat_id = c.id \
             AND b.seq = c.last_seq - $7 AND b.created_at >= ", $since,
            ") THEN 1 ELSE 0 END AS BIGINT) AS beyond"
        )
    };
}

/// N2: what [`StoreTx::pending_messages`] reads, with `$messages` the
/// read of a person's unread messages in one chat of `chats_unread u`
/// (`msg`): the chat's numbers after `u.told_to`, among its newest `$7`.
macro_rules! pending_messages_sql {
    ($messages:literal) => {
        concat!(
            // First each person's chats with something unread (from their
            // memberships, and from the unread alerts of those who look
            // after a chat's client without being in it), after `after`;
            // then each one's unread messages by the chat's key, among its
            // newest `$7`. Materialised: the few chats found lead to their
            // messages, whatever the engine guesses of the sizes.
            "WITH chats_unread AS MATERIALIZED (\
             SELECT m.practice_id, m.member_kind AS kind, m.member_id, m.chat_id, c.title AS chat_title, \
             c.client_id, CAST(0 AS BIGINT) AS watching, \
             CASE WHEN m.last_read_seq > m.notified_seq THEN m.last_read_seq ELSE m.notified_seq END AS told_to, \
             c.last_seq, m.joined_at AS since, ",
            beyond_counted!("m.last_read_seq", "m.notified_seq", "m.joined_at"),
            " FROM chat_members m JOIN chats c ON c.practice_id = m.practice_id AND c.id = m.chat_id \
             WHERE c.last_message_at > $1 AND c.last_seq > m.last_read_seq AND c.last_seq > m.notified_seq \
             AND (m.practice_id, m.member_kind, m.member_id) > ($3, $4, $5) \
             UNION ALL \
             SELECT a.practice_id, 'staff' AS kind, a.staff_id AS member_id, c.id AS chat_id, c.title AS chat_title, \
             c.client_id, CAST(1 AS BIGINT) AS watching, \
             CASE WHEN a.since_seq - 1 > a.notified_seq THEN a.since_seq - 1 ELSE a.notified_seq END AS told_to, \
             c.last_seq, $1 + 1 AS since, ",
            beyond_counted!("a.since_seq - 1", "a.notified_seq", "$1 + 1"),
            " FROM alerts a \
             JOIN chats c ON c.practice_id = a.practice_id AND c.id = a.chat_id \
             JOIN client_staff cs ON cs.practice_id = a.practice_id AND cs.client_id = c.client_id \
             AND cs.staff_id = a.staff_id \
             WHERE a.read_at IS NULL AND a.chat_id IS NOT NULL AND a.created_at > $1 \
             AND c.last_seq > a.notified_seq AND c.last_seq >= a.since_seq \
             AND (a.practice_id, 'staff', a.staff_id) > ($3, $4, $5) \
             AND NOT EXISTS (SELECT 1 FROM chat_members w WHERE w.practice_id = a.practice_id \
                             AND w.chat_id = a.chat_id AND w.member_kind = 'staff' AND w.member_id = a.staff_id)) \
             SELECT x.practice_id, x.kind, x.member_id, ",
            recipient_columns!(),
            ", x.chat_id, x.chat_title, x.client_id, cl.name AS client_name, x.seq, x.sender_name, x.body, \
             x.created_at, x.urgent, x.watching, x.files, x.chat_unread, \
             x.beyond, x.chat_since, x.chat_urgent, x.chat_files \
             FROM (SELECT r.*, ROW_NUMBER() OVER (PARTITION BY r.practice_id, r.kind, r.member_id, r.chat_id \
                   ORDER BY r.seq DESC) AS newest, \
             COUNT(*) OVER chat AS chat_unread, MIN(r.created_at) OVER chat AS chat_since, \
             CAST(MAX(r.urgent) OVER chat AS BIGINT) AS chat_urgent, CAST(SUM(r.files) OVER chat AS BIGINT) AS chat_files \
             FROM (SELECT u.practice_id, u.kind, u.member_id, u.chat_id, u.chat_title, u.client_id, u.watching, \
             u.beyond, \
             msg.seq, msg.sender_name, msg.body, msg.created_at, msg.urgent, \
             CAST((SELECT COUNT(*) FROM files f WHERE f.practice_id = msg.practice_id \
                   AND f.chat_id = msg.chat_id AND f.message_seq = msg.seq) AS BIGINT) AS files \
             FROM chats_unread u",
            $messages,
            " WHERE msg.deleted_at IS NULL AND msg.created_at >= u.since \
             AND ((u.watching = 1 AND msg.sender_kind = 'contact') \
                  OR (u.watching = 0 AND NOT (msg.sender_kind = u.kind AND msg.sender_id = u.member_id)))) r \
             WINDOW chat AS (PARTITION BY r.practice_id, r.kind, r.member_id, r.chat_id)) x",
            recipient_joins!(),
            " LEFT JOIN clients cl ON cl.practice_id = x.practice_id AND cl.id = x.client_id \
             WHERE x.newest <= $6 \
             ORDER BY x.practice_id, x.kind, x.member_id, x.chat_id, x.seq LIMIT $2"
        )
    };
}

impl StoreTx {
    /// What waits to be told, read inside the deciding transaction: a page
    /// of people after `after` (from the first, with `None`), each with
    /// their unread messages ([`Self::pending_messages`]) and question
    /// events ([`Self::pending_items`]), at most `limit` rows of each.
    /// When a read fills its page, its last person may be cut short: the
    /// page ends before them (unless they alone fill it), and
    /// `resume_after` says where the next run begins, so that every person
    /// is reached in turn however many wait.
    pub async fn pending(
        &mut self,
        horizon: Millis,
        after: Option<&PendingKey>,
        limit: i64,
    ) -> StoreResult<PendingPage> {
        let start: PendingKey = Default::default();
        let after = after.unwrap_or(&start);
        let mut messages = self.pending_messages(horizon, after, limit).await?;
        let mut items = self.pending_items(horizon, after, limit).await?;
        let full = |len: usize| i64::try_from(len).is_ok_and(|len| len >= limit);
        // The first person a full read may have cut short.
        let cut = [
            full(messages.len())
                .then(|| messages.last().map(|m| pending_key(&m.recipient)))
                .flatten(),
            full(items.len())
                .then(|| items.last().map(|i| pending_key(&i.recipient)))
                .flatten(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(cut) = cut else {
            return Ok(PendingPage {
                messages,
                items,
                resume_after: None,
            });
        };
        let before_cut = messages
            .iter()
            .map(|m| pending_key(&m.recipient))
            .chain(items.iter().map(|i| pending_key(&i.recipient)))
            .filter(|key| *key < cut)
            .max();
        let last = before_cut.unwrap_or_else(|| cut.clone());
        messages.retain(|m| pending_key(&m.recipient) <= last);
        items.retain(|i| pending_key(&i.recipient) <= last);
        Ok(PendingPage {
            messages,
            items,
            resume_after: Some(last),
        })
    }

    /// Every unread message, sent since `horizon`, that its chat's members
    /// were not yet told of, by recipient (those after `after`), chat and
    /// order, only the newest [`NEWEST_PER_CHAT`] of a person's in a chat
    /// with the chat's totals; and the client
    /// messages of the chats whose client a staff user looks after without
    /// being in the chat, while their chat alert is unread. Read inside the
    /// deciding transaction.
    async fn pending_messages(
        &mut self,
        horizon: Millis,
        after: &PendingKey,
        limit: i64,
    ) -> StoreResult<Vec<PendingMessage>> {
        let sql = match self.backend {
            // SQLite reads the messages of each chat by its key, a nested
            // loop over the few chats found.
            Backend::Sqlite => pending_messages_sql!(
                " JOIN messages msg ON msg.practice_id = u.practice_id AND msg.chat_id = u.chat_id \
                 AND msg.seq > u.told_to AND msg.seq > u.last_seq - $7 AND msg.seq <= u.last_seq"
            ),
            // PostgreSQL cannot tell how few of a chat's numbers the range
            // holds and would scan the whole table (1.2 s for 1,190,000
            // messages, against 0.8 ms a chat by its key): the read with a
            // limit, per chat, can only be by the key.
            Backend::Postgres => pending_messages_sql!(
                " CROSS JOIN LATERAL (SELECT m2.practice_id, m2.chat_id, m2.seq, m2.sender_kind, m2.sender_id, \
                 m2.sender_name, m2.body, m2.created_at, m2.urgent, m2.deleted_at FROM messages m2 \
                 WHERE m2.practice_id = u.practice_id AND m2.chat_id = u.chat_id \
                 AND m2.seq > u.told_to AND m2.seq > u.last_seq - $7 AND m2.seq <= u.last_seq \
                 ORDER BY m2.seq DESC LIMIT $7) msg"
            ),
        };
        let rows = sqlx::query_as::<_, PendingMessageRow>(sql)
            .bind(horizon.0)
            .bind(limit)
            .bind(&after.0)
            .bind(&after.1)
            .bind(&after.2)
            .bind(NEWEST_PER_CHAT)
            .bind(COUNTED_PER_CHAT)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(PendingMessage {
                    chat_id: parse_id(&row.chat_id)?,
                    chat_title: row.chat_title,
                    client_id: row.client_id.as_deref().map(parse_id).transpose()?,
                    client_name: row.client_name,
                    seq: row.seq,
                    sender_name: row.sender_name,
                    body: row.body,
                    created_at: Millis(row.created_at),
                    urgent: row.urgent != 0,
                    files: row.files,
                    watching: row.watching != 0,
                    chat_unread: row.chat_unread,
                    chat_since: Millis(row.chat_since),
                    chat_urgent: row.chat_urgent != 0,
                    chat_files: row.chat_files,
                    more_unread: row.beyond != 0,
                    recipient: Recipient::try_from(row.recipient)?,
                })
            })
            .collect()
    }

    /// Every question event (and status update) since `horizon` not read
    /// nor told of, by recipient (those after `after`).
    async fn pending_items(
        &mut self,
        horizon: Millis,
        after: &PendingKey,
        limit: i64,
    ) -> StoreResult<Vec<PendingItem>> {
        let rows = sqlx::query_as::<_, PendingItemRow>(concat!(
            "SELECT x.practice_id, x.kind, x.member_id, ",
            recipient_columns!(),
            ", x.id, x.client_id, cl.name AS client_name, x.question_id, x.what, x.author_name, x.title, \
             x.body, x.created_at, x.urgent, x.files FROM (SELECT i.practice_id, i.recipient_kind AS kind, \
             i.recipient_id AS member_id, i.id, i.client_id, i.question_id, i.what, i.author_name, i.title, \
             i.body, i.created_at, i.urgent, i.files FROM notify_items i \
             WHERE i.notified_at IS NULL AND i.read_at IS NULL AND i.created_at > $1 \
             AND (i.practice_id, i.recipient_kind, i.recipient_id) > ($3, $4, $5)) x",
            recipient_joins!(),
            " JOIN clients cl ON cl.practice_id = x.practice_id AND cl.id = x.client_id \
             ORDER BY x.practice_id, x.kind, x.member_id, x.created_at, x.id LIMIT $2"
        ))
        .bind(horizon.0)
        .bind(limit)
        .bind(&after.0)
        .bind(&after.1)
        .bind(&after.2)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(PendingItem {
                    id: row.id,
                    client_id: parse_id(&row.client_id)?,
                    client_name: row.client_name,
                    question_id: row.question_id.as_deref().map(parse_id).transpose()?,
                    what: row.what,
                    author_name: row.author_name,
                    title: row.title,
                    body: row.body,
                    created_at: Millis(row.created_at),
                    urgent: row.urgent != 0,
                    files: row.files,
                    recipient: Recipient::try_from(row.recipient)?,
                })
            })
            .collect()
    }

    /// Queues question events for their recipients, in the transaction of
    /// the change.
    pub async fn insert_notify_items(
        &mut self,
        practice: PracticeId,
        items: &[NewNotifyItem],
        now: Millis,
    ) -> StoreResult<()> {
        for item in items {
            sqlx::query(
                "INSERT INTO notify_items (id, practice_id, recipient_kind, recipient_id, client_id, question_id, \
                 what, author_name, title, body, created_at, urgent, files) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(practice)
            .bind(item.recipient.kind())
            .bind(item.recipient.id())
            .bind(item.client_id)
            .bind(item.question_id)
            .bind(item.what)
            .bind(&item.author_name)
            .bind(&item.title)
            .bind(&item.body)
            .bind(now.0)
            .bind(flag(item.urgent))
            .bind(item.files)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// N2: a client's status changed (M16) through a message of `chat`:
    /// the active contacts who reach the client and are not in that chat
    /// (those in it hear of the message itself) are told, in the
    /// transaction that stored it. One statement, however many contacts.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_status_items(
        &mut self,
        practice: PracticeId,
        client: ClientId,
        chat: ChatId,
        message: MessageId,
        author_name: &str,
        text: &str,
        urgent: bool,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO notify_items (id, practice_id, recipient_kind, recipient_id, client_id, question_id, \
             what, author_name, title, body, created_at, urgent, files) \
             SELECT $4 || ':' || k.id, $1, 'contact', k.id, $2, NULL, 'status', $5, 'Status update', $6, $7, $8, 0 \
             FROM contacts k WHERE k.practice_id = $1 AND k.status = 'active' \
             AND EXISTS (SELECT 1 FROM contact_clients cc WHERE cc.practice_id = $1 AND cc.contact_id = k.id \
                         AND (cc.client_id = $2 OR cc.client_id IN \
                              (SELECT f.primary_client_id FROM clients f WHERE f.practice_id = $1 AND f.id = $2))) \
             AND NOT EXISTS (SELECT 1 FROM chat_members m WHERE m.practice_id = $1 AND m.chat_id = $3 \
                             AND m.member_kind = 'contact' AND m.member_id = k.id)",
        )
        .bind(practice)
        .bind(client)
        .bind(chat)
        .bind(format!("status:{message}"))
        .bind(author_name)
        .bind(text)
        .bind(now.0)
        .bind(flag(urgent))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

impl Store {
    /// A person read a question: what waited there is not told of.
    pub async fn mark_question_items_read(
        &self,
        practice: PracticeId,
        question: QuestionId,
        member: Member,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE notify_items SET read_at = $5 WHERE practice_id = $1 AND question_id = $2 \
             AND recipient_kind = $3 AND recipient_id = $4 AND read_at IS NULL",
        )
        .bind(practice)
        .bind(question)
        .bind(member.kind())
        .bind(member.id())
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A contact saw the status of `client` (or, with `None`, of every
    /// client, on her overview): its updates are not told of.
    pub async fn mark_status_items_read(
        &self,
        practice: PracticeId,
        contact: crate::domain::ContactId,
        client: Option<ClientId>,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE notify_items SET read_at = $4 WHERE practice_id = $1 AND recipient_kind = 'contact' \
             AND recipient_id = $2 AND what = 'status' AND read_at IS NULL \
             AND ($3 = '' OR client_id = $3)",
        )
        .bind(practice)
        .bind(contact)
        .bind(client.map(|c| c.to_string()).unwrap_or_default())
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A person's choices (the defaults when they made none).
    pub async fn notify_prefs(
        &self,
        practice: PracticeId,
        member: Member,
    ) -> StoreResult<NotifyPrefs> {
        let row: Option<PrefsRow> =
            sqlx::query_as(
                "SELECT messages, questions, staff_mode, digest_minute, quiet_start, quiet_end, time_zone, \
                 in_app_alerts, alert_sound, content FROM notify_prefs \
                 WHERE practice_id = $1 AND member_kind = $2 AND member_id = $3",
            )
            .bind(practice)
            .bind(member.kind())
            .bind(member.id())
            .fetch_optional(&self.pool)
            .await?;
        let defaults = NotifyPrefs::default();
        let Some((messages, questions, mode, digest, start, end, zone, alerts, sound, content)) =
            row
        else {
            return Ok(defaults);
        };
        Ok(NotifyPrefs {
            messages: NotifyChannel::parse(&messages).unwrap_or(defaults.messages),
            questions: NotifyChannel::parse(&questions).unwrap_or(defaults.questions),
            staff_mode: StaffMode::parse(&mode).unwrap_or(defaults.staff_mode),
            digest_minute: digest,
            quiet: start.zip(end),
            time_zone: zone,
            in_app_alerts: alerts != 0,
            alert_sound: sound != 0,
            content: ContentChoice::parse(&content).unwrap_or(defaults.content),
        })
    }

    pub async fn set_notify_prefs(
        &self,
        practice: PracticeId,
        member: Member,
        prefs: &NotifyPrefs,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO notify_prefs (practice_id, member_kind, member_id, messages, questions, staff_mode, \
             digest_minute, quiet_start, quiet_end, time_zone, in_app_alerts, alert_sound, content) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (practice_id, member_kind, member_id) DO UPDATE SET messages = $4, questions = $5, \
             staff_mode = $6, digest_minute = $7, quiet_start = $8, quiet_end = $9, time_zone = $10, \
             in_app_alerts = $11, alert_sound = $12, content = $13",
        )
        .bind(practice)
        .bind(member.kind())
        .bind(member.id())
        .bind(prefs.messages.as_str())
        .bind(prefs.questions.as_str())
        .bind(prefs.staff_mode.as_str())
        .bind(prefs.digest_minute)
        .bind(prefs.quiet.map(|(s, _)| s))
        .bind(prefs.quiet.map(|(_, e)| e))
        .bind(prefs.time_zone.as_deref())
        .bind(flag(prefs.in_app_alerts))
        .bind(flag(prefs.alert_sound))
        .bind(prefs.content.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn notify_settings(&self, practice: PracticeId) -> StoreResult<NotifySettings> {
        let (contacts, staff, delay): (i64, i64, Option<i64>) = sqlx::query_as(
            "SELECT notify_content_contacts, notify_content_staff, notify_delay_secs FROM practices WHERE id = $1",
        )
        .bind(practice)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(NotifySettings {
            content_to_contacts: contacts != 0,
            content_to_staff: staff != 0,
            delay_secs: delay,
        })
    }

    pub async fn set_notify_settings(
        &self,
        practice: PracticeId,
        settings: &NotifySettings,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        let done = self.execute_audited(sqlx::query(
            "UPDATE practices SET notify_content_contacts = $2, notify_content_staff = $3, notify_delay_secs = $4 \
             WHERE id = $1",
        )
        .bind(practice)
        .bind(flag(settings.content_to_contacts))
        .bind(flag(settings.content_to_staff))
        .bind(settings.delay_secs), entry).await?;
        super::staff::found(done)
    }

    /// The key that signs unsubscribe links; the first caller on a new
    /// database makes it (from `candidate`), every later one reads it.
    pub async fn notify_key(&self, candidate: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO notify_keys (name, secret) VALUES ('unsubscribe', $1) ON CONFLICT DO NOTHING",
        )
        .bind(candidate)
        .execute(&self.pool)
        .await?;
        let (secret,): (String,) =
            sqlx::query_as("SELECT secret FROM notify_keys WHERE name = 'unsubscribe'")
                .fetch_one(&self.pool)
                .await?;
        Ok(secret)
    }

    /// The unread client messages and answers waiting for a staff user
    /// in the chats they are in (the count in the top bar).
    pub async fn staff_unread_count(
        &self,
        practice: PracticeId,
        staff: crate::domain::StaffId,
    ) -> StoreResult<i64> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM alerts WHERE practice_id = $1 AND staff_id = $2 AND read_at IS NULL",
        )
        .bind(practice)
        .bind(staff)
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }
}

/// N1: a client's messages to one chat in a batch of sends.
#[derive(Clone, Debug)]
pub struct ClientMessages {
    pub practice_id: PracticeId,
    pub chat_id: ChatId,
    /// The number of the first: an alert read before stands from it.
    pub first_seq: i64,
    /// Who sent the last, and when.
    pub last_sender_name: String,
    pub at: Millis,
}

/// N1: the alerts a chat's client messages raised.
#[derive(Clone, Debug)]
pub struct ChatAlerts {
    /// The team members told: those in the chat and those who look after
    /// its client.
    pub staff: Vec<crate::domain::StaffId>,
    pub client_name: String,
}

impl StoreTx {
    /// N1: each team member's alert about a chat with new client messages,
    /// raised again (unread); it stands for the messages from the first
    /// one since it was last read. For the team members among `members`
    /// (the chat's, as the batch reads them) and those who look after the
    /// chat's client; a chat that is no client's raises none. One read and
    /// one write however many chats and people.
    pub async fn raise_chat_alerts(
        &mut self,
        messages: &[ClientMessages],
        members: &HashMap<ChatId, Vec<Member>>,
    ) -> StoreResult<HashMap<ChatId, ChatAlerts>> {
        raise_chat_alerts(self, messages, members).await
    }
}

/// N1: [`StoreTx::raise_chat_alerts`], on `db`'s transaction.
pub(super) async fn raise_chat_alerts<D: BatchSql>(
    db: &mut D,
    messages: &[ClientMessages],
    members: &HashMap<ChatId, Vec<Member>>,
) -> StoreResult<HashMap<ChatId, ChatAlerts>> {
    let mut raised: HashMap<ChatId, ChatAlerts> = HashMap::new();
    if messages.is_empty() {
        return Ok(raised);
    }
    #[derive(serde::Serialize)]
    struct ChatRow {
        practice_id: PracticeId,
        chat_id: ChatId,
    }
    let chats: Vec<ChatRow> = messages
        .iter()
        .map(|m| ChatRow {
            practice_id: m.practice_id,
            chat_id: m.chat_id,
        })
        .collect();
    let sql = format!(
        "SELECT ch.id, c.id, c.name, s.id FROM {} \
         JOIN chats ch ON ch.practice_id = j.practice_id AND ch.id = j.chat_id \
         JOIN clients c ON c.practice_id = ch.practice_id AND c.id = ch.client_id \
         LEFT JOIN client_staff cs ON cs.practice_id = c.practice_id AND cs.client_id = c.id \
         LEFT JOIN staff_users s ON s.practice_id = cs.practice_id AND s.id = cs.staff_id",
        db.backend()
            .json_rows(&[("practice_id", "text"), ("chat_id", "text")])
    );
    let rows: Vec<(String, String, String, Option<String>)> = db
        .rows(&sql, &[Bind::from(super::json_array(&chats)?)])
        .await?;
    let mut clients: HashMap<ChatId, (ClientId, String, Vec<crate::domain::StaffId>)> =
        HashMap::new();
    for (chat, client, name, staff) in rows {
        let entry = match clients.entry(parse_id(&chat)?) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert((parse_id(&client)?, name, Vec::new()))
            }
        };
        if let Some(staff) = staff {
            entry.2.push(parse_id(&staff)?);
        }
    }
    #[derive(serde::Serialize)]
    struct AlertRow {
        id: String,
        practice_id: String,
        staff_id: String,
        client_id: ClientId,
        dedupe_key: String,
        body: String,
        created_at: i64,
        chat_id: ChatId,
        since_seq: i64,
    }
    let mut alerts: Vec<AlertRow> = Vec::new();
    for m in messages {
        let Some((client_id, client_name, assigned)) = clients.remove(&m.chat_id) else {
            continue;
        };
        let mut staff: Vec<crate::domain::StaffId> = members
            .get(&m.chat_id)
            .into_iter()
            .flatten()
            .filter_map(|member| match member {
                Member::Staff(id) => Some(*id),
                Member::Contact(_) => None,
            })
            .collect();
        for id in assigned {
            if !staff.contains(&id) {
                staff.push(id);
            }
        }
        if staff.is_empty() {
            continue;
        }
        let text = format!("{} wrote about {client_name}", m.last_sender_name);
        for id in &staff {
            alerts.push(AlertRow {
                id: uuid::Uuid::now_v7().to_string(),
                practice_id: m.practice_id.to_string(),
                staff_id: id.to_string(),
                client_id,
                dedupe_key: format!("chat:{}", m.chat_id),
                body: text.clone(),
                created_at: m.at.0,
                chat_id: m.chat_id,
                since_seq: m.first_seq,
            });
        }
        raised.insert(m.chat_id, ChatAlerts { staff, client_name });
    }
    if alerts.is_empty() {
        return Ok(raised);
    }
    // In the order a notification window locks them (decision 0010).
    alerts.sort_by(|a, b| {
        (&a.practice_id, &a.staff_id, &a.dedupe_key).cmp(&(
            &b.practice_id,
            &b.staff_id,
            &b.dedupe_key,
        ))
    });
    let sql = format!(
        "INSERT INTO alerts (id, practice_id, staff_id, client_id, dedupe_key, text, created_at, \
         chat_id, since_seq) SELECT j.id, j.practice_id, j.staff_id, j.client_id, j.dedupe_key, \
         j.body, j.created_at, j.chat_id, j.since_seq FROM {} WHERE true \
         ON CONFLICT (practice_id, staff_id, dedupe_key) \
         DO UPDATE SET text = excluded.text, created_at = excluded.created_at, read_at = NULL, \
         chat_id = excluded.chat_id, \
         since_seq = CASE WHEN alerts.read_at IS NULL THEN alerts.since_seq ELSE excluded.since_seq END",
        db.backend().json_rows(&[
            ("id", "text"),
            ("practice_id", "text"),
            ("staff_id", "text"),
            ("client_id", "text"),
            ("dedupe_key", "text"),
            ("body", "text"),
            ("created_at", "bigint"),
            ("chat_id", "text"),
            ("since_seq", "bigint"),
        ])
    );
    db.exec(&sql, &[Bind::from(super::json_array(&alerts)?)])
        .await?;
    Ok(raised)
}

impl Store {
    /// N1: a staff user opened a chat; its alert is read.
    pub async fn mark_chat_alert_read(
        &self,
        practice: PracticeId,
        staff: crate::domain::StaffId,
        chat: ChatId,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE alerts SET read_at = $4 WHERE practice_id = $1 AND staff_id = $2 AND dedupe_key = $3 \
             AND read_at IS NULL",
        )
        .bind(practice)
        .bind(staff)
        .bind(format!("chat:{chat}"))
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The client a chat is about, if any.
    pub async fn chat_client(
        &self,
        practice: PracticeId,
        chat: ChatId,
    ) -> StoreResult<Option<ClientId>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT client_id FROM chats WHERE practice_id = $1 AND id = $2")
                .bind(practice)
                .bind(chat)
                .fetch_optional(&self.pool)
                .await?;
        let (client,) = row.ok_or(StoreError::NotFound)?;
        client.as_deref().map(parse_id).transpose()
    }
}
