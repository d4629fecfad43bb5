//! Chats (M1, M4, M8, M15): conversations, their members, their messages
//! in order (a sequence number per chat), and what each member has read.

use super::{Store, StoreError, StoreResult, StoreTx, parse_id};
use crate::domain::{ChatId, ClientId, ContactId, MessageId, Millis, PracticeId, StaffId};

/// A member of a chat: a staff user or a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member {
    Staff(StaffId),
    Contact(ContactId),
}

impl Member {
    pub fn kind(self) -> &'static str {
        match self {
            Member::Staff(_) => "staff",
            Member::Contact(_) => "contact",
        }
    }

    pub fn id(self) -> String {
        match self {
            Member::Staff(id) => id.to_string(),
            Member::Contact(id) => id.to_string(),
        }
    }

    pub(super) fn parse(kind: &str, id: &str) -> StoreResult<Self> {
        Ok(match kind {
            "staff" => Member::Staff(parse_id(id)?),
            "contact" => Member::Contact(parse_id(id)?),
            other => return Err(StoreError::Corrupt(format!("member kind {other:?}"))),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chat {
    pub id: ChatId,
    pub practice_id: PracticeId,
    pub direct: bool,
    pub title: String,
    pub client_id: Option<ClientId>,
    pub last_seq: i64,
    pub last_message_at: Millis,
}

/// A line of a member's chat list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatSummary {
    pub chat: Chat,
    /// Unread messages among the chat's newest
    /// [`COUNTED_PER_CHAT`](super::COUNTED_PER_CHAT): a list is not held up
    /// counting a chat of a million unread.
    pub unread: i64,
    /// More are unread than were counted.
    pub unread_more: bool,
    pub starred: bool,
    pub hidden: bool,
    pub last_body: Option<String>,
    pub last_sender: Option<String>,
}

impl ChatSummary {
    /// The unread count on a badge: "12", or "1000+".
    pub fn unread_text(&self) -> String {
        crate::domain::words::unread_badge(self.unread, self.unread_more)
    }

    /// "1 new message", "12 new messages", "more than 1000 new messages".
    pub fn new_messages(&self) -> String {
        crate::domain::words::new_messages(self.unread, self.unread_more)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub seq: i64,
    pub sender: Member,
    pub sender_name: String,
    pub body: String,
    pub reply_to_seq: Option<i64>,
    pub pinned: bool,
    pub deleted: bool,
    pub created_at: Millis,
    /// S7: an automatic answer of the practice, not written by a person.
    pub automatic: bool,
    /// X7: marked urgent by its sender: it breaks through quiet hours.
    pub urgent: bool,
}

/// A piece of a message's text: plain, or a web address to link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Link(String),
}

impl Segment {
    pub fn text(&self) -> &str {
        match self {
            Segment::Text(t) | Segment::Link(t) => t,
        }
    }

    pub fn is_link(&self) -> bool {
        matches!(self, Segment::Link(_))
    }
}

/// Splits text into plain pieces and `http(s)://` addresses, so a page can
/// make the addresses clickable while everything stays escaped. Trailing
/// punctuation stays outside the link.
pub fn segments(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let next = ["https://", "http://"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let Some(start) = next else {
            if !rest.is_empty() {
                out.push(Segment::Text(rest.to_owned()));
            }
            return out;
        };
        if start > 0 {
            out.push(Segment::Text(rest[..start].to_owned()));
        }
        let after = &rest[start..];
        let mut end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(after.len());
        while end > 0 && after[..end].ends_with(['.', ',', ')', ';', ':', '!', '?', '\'']) {
            end -= 1;
        }
        let url = &after[..end];
        if url.len() > "https://".len() {
            out.push(Segment::Link(url.to_owned()));
        } else {
            out.push(Segment::Text(url.to_owned()));
        }
        // `after` starts with "http", so `end` is never 0 and the loop moves on.
        rest = &after[end.max(1)..];
    }
}

impl Message {
    /// The body as text and links (M: "links made clickable, safely").
    pub fn segments(&self) -> Vec<Segment> {
        segments(&self.body)
    }
}

/// M12: who reacted with what to a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reaction {
    pub seq: i64,
    pub member: Member,
    pub emoji: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberState {
    pub member: Member,
    pub last_read_seq: i64,
}

#[derive(sqlx::FromRow)]
struct ChatRow {
    id: String,
    practice_id: String,
    kind: String,
    title: String,
    client_id: Option<String>,
    last_seq: i64,
    last_message_at: i64,
}

impl TryFrom<ChatRow> for Chat {
    type Error = StoreError;
    fn try_from(row: ChatRow) -> StoreResult<Self> {
        Ok(Chat {
            id: parse_id(&row.id)?,
            practice_id: parse_id(&row.practice_id)?,
            direct: row.kind == "direct",
            title: row.title,
            client_id: row.client_id.as_deref().map(parse_id).transpose()?,
            last_seq: row.last_seq,
            last_message_at: Millis(row.last_message_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: String,
    chat_id: String,
    seq: i64,
    sender_kind: String,
    sender_id: String,
    sender_name: String,
    body: String,
    reply_to_seq: Option<i64>,
    pinned_at: Option<i64>,
    deleted_at: Option<i64>,
    created_at: i64,
    automatic: i64,
    urgent: i64,
}

impl MessageRow {
    /// The row from its first columns, in the order of `message_columns!`.
    pub(super) fn from_columns(row: &impl super::batch_sql::Columns) -> StoreResult<Self> {
        Ok(Self {
            id: row.text(0)?,
            chat_id: row.text(1)?,
            seq: row.int(2)?,
            sender_kind: row.text(3)?,
            sender_id: row.text(4)?,
            sender_name: row.text(5)?,
            body: row.text(6)?,
            reply_to_seq: row.opt_int(7)?,
            pinned_at: row.opt_int(8)?,
            deleted_at: row.opt_int(9)?,
            created_at: row.int(10)?,
            automatic: row.int(11)?,
            urgent: row.int(12)?,
        })
    }
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;
    fn try_from(row: MessageRow) -> StoreResult<Self> {
        Ok(Message {
            id: parse_id(&row.id)?,
            chat_id: parse_id(&row.chat_id)?,
            seq: row.seq,
            sender: Member::parse(&row.sender_kind, &row.sender_id)?,
            sender_name: row.sender_name,
            body: row.body,
            reply_to_seq: row.reply_to_seq,
            pinned: row.pinned_at.is_some(),
            deleted: row.deleted_at.is_some(),
            created_at: Millis(row.created_at),
            automatic: row.automatic != 0,
            urgent: row.urgent != 0,
        })
    }
}

macro_rules! chat_columns {
    () => {
        "ch.id, ch.practice_id, ch.kind, ch.title, ch.client_id, ch.last_seq, ch.last_message_at"
    };
}

macro_rules! message_columns {
    () => {
        "id, chat_id, seq, sender_kind, sender_id, sender_name, body, reply_to_seq, pinned_at, deleted_at, created_at, automatic, urgent"
    };
}
pub(super) use message_columns;

/// Whether the member `m` of the chat `ch` may still reach it. Staff may;
/// a contact only while she reaches the chat's client (given to her, or a
/// sub-record of a family primary given to her), and a chat about no
/// client only while she reaches some client of the practice. Every read
/// of a chat and every send checks this in the same query as membership,
/// so taking a client away from a contact takes its chats away in the
/// same commit (docs/decisions/0003-chat-access-follows-client-access.md).
macro_rules! member_reaches_chat {
    () => {
        "(m.member_kind = 'staff' OR EXISTS (SELECT 1 FROM contact_clients cc \
           WHERE cc.practice_id = m.practice_id AND cc.contact_id = m.member_id \
           AND (ch.client_id IS NULL OR cc.client_id = ch.client_id \
                OR cc.client_id IN (SELECT f.primary_client_id FROM clients f \
                                    WHERE f.practice_id = ch.practice_id AND f.id = ch.client_id))))"
    };
}
pub(super) use member_reaches_chat;

impl Store {
    /// The direct chat of a staff user and a contact about a client, if any.
    pub async fn find_direct_chat(
        &self,
        practice: PracticeId,
        client: ClientId,
        staff: StaffId,
        contact: ContactId,
    ) -> StoreResult<Option<Chat>> {
        sqlx::query_as::<_, ChatRow>(concat!(
            "SELECT ",
            chat_columns!(),
            " FROM chats ch WHERE ch.practice_id = $1 AND ch.kind = 'direct' AND ch.client_id = $2 \
             AND EXISTS (SELECT 1 FROM chat_members m WHERE m.practice_id = ch.practice_id AND m.chat_id = ch.id \
                         AND m.member_kind = 'staff' AND m.member_id = $3) \
             AND EXISTS (SELECT 1 FROM chat_members m WHERE m.practice_id = ch.practice_id AND m.chat_id = ch.id \
                         AND m.member_kind = 'contact' AND m.member_id = $4) \
             ORDER BY ch.created_at LIMIT 1"
        ))
        .bind(practice)
        .bind(client)
        .bind(staff)
        .bind(contact)
        .fetch_optional(&self.pool)
        .await?
        .map(Chat::try_from)
        .transpose()
    }

    /// A chat, if `member` is in it; "not found" otherwise.
    pub async fn chat_for_member(
        &self,
        practice: PracticeId,
        chat: ChatId,
        member: Member,
    ) -> StoreResult<Chat> {
        sqlx::query_as::<_, ChatRow>(concat!(
            "SELECT ",
            chat_columns!(),
            " FROM chats ch JOIN chat_members m ON m.practice_id = ch.practice_id AND m.chat_id = ch.id \
             WHERE ch.practice_id = $1 AND ch.id = $2 AND m.member_kind = $3 AND m.member_id = $4 AND ",
            member_reaches_chat!()
        ))
        .bind(practice)
        .bind(chat)
        .bind(member.kind())
        .bind(member.id())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// A member's chats, the latest message first, with unread counts (M4)
    /// taken among each chat's newest [`COUNTED_PER_CHAT`] messages.
    ///
    /// [`COUNTED_PER_CHAT`]: super::COUNTED_PER_CHAT
    pub async fn chats_of(
        &self,
        practice: PracticeId,
        member: Member,
    ) -> StoreResult<Vec<ChatSummary>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            chat: ChatRow,
            unread: i64,
            unread_more: i64,
            starred: i64,
            hidden: i64,
            last_body: Option<String>,
            last_sender: Option<String>,
        }
        // Every message has `seq <= ch.last_seq`; saying so tells
        // PostgreSQL the unread range is short, so it counts it from the
        // index instead of reading the whole messages table per chat. The
        // range starts at the later of the last read and the newest
        // counted, one bound, so that either engine seeks to it.
        let rows = sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            chat_columns!(),
            ", (SELECT COUNT(*) FROM messages x WHERE x.practice_id = ch.practice_id AND x.chat_id = ch.id \
                  AND x.seq > CASE WHEN m.last_read_seq > ch.last_seq - $4 THEN m.last_read_seq ELSE ch.last_seq - $4 END \
                  AND x.seq <= ch.last_seq \
                  AND NOT (x.sender_kind = m.member_kind AND x.sender_id = m.member_id)) AS unread, \
                CASE WHEN m.last_read_seq < ch.last_seq - $4 THEN 1 ELSE 0 END AS unread_more, \
                m.starred AS starred, m.hidden AS hidden, \
                (SELECT x.body FROM messages x WHERE x.practice_id = ch.practice_id AND x.chat_id = ch.id \
                  AND x.seq = ch.last_seq) AS last_body, \
                (SELECT x.sender_name FROM messages x WHERE x.practice_id = ch.practice_id AND x.chat_id = ch.id \
                  AND x.seq = ch.last_seq) AS last_sender \
             FROM chats ch JOIN chat_members m ON m.practice_id = ch.practice_id AND m.chat_id = ch.id \
             WHERE ch.practice_id = $1 AND m.member_kind = $2 AND m.member_id = $3 AND ",
            member_reaches_chat!(),
            " ORDER BY m.starred DESC, ch.last_message_at DESC, ch.id DESC"
        ))
        .bind(practice)
        .bind(member.kind())
        .bind(member.id())
        .bind(super::COUNTED_PER_CHAT)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ChatSummary {
                    chat: r.chat.try_into()?,
                    unread: r.unread,
                    unread_more: r.unread_more != 0,
                    starred: r.starred != 0,
                    hidden: r.hidden != 0,
                    last_body: r.last_body,
                    last_sender: r.last_sender,
                })
            })
            .collect()
    }

    pub async fn chat_members(
        &self,
        practice: PracticeId,
        chat: ChatId,
    ) -> StoreResult<Vec<MemberState>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(concat!(
            "SELECT m.member_kind, m.member_id, m.last_read_seq FROM chat_members m \
             JOIN chats ch ON ch.practice_id = m.practice_id AND ch.id = m.chat_id \
             WHERE m.practice_id = $1 AND m.chat_id = $2 AND ",
            member_reaches_chat!()
        ))
        .bind(practice)
        .bind(chat)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(kind, id, seq)| {
                Ok(MemberState {
                    member: Member::parse(kind, id)?,
                    last_read_seq: *seq,
                })
            })
            .collect()
    }

    /// The members of a chat with their names, in one query. A member
    /// whose record is gone is left out.
    pub async fn chat_member_names(
        &self,
        practice: PracticeId,
        chat: ChatId,
    ) -> StoreResult<Vec<(Member, String)>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(concat!(
            "SELECT m.member_kind, m.member_id, COALESCE(s.name, k.name) FROM chat_members m \
             JOIN chats ch ON ch.practice_id = m.practice_id AND ch.id = m.chat_id \
             LEFT JOIN staff_users s ON m.member_kind = 'staff' AND s.practice_id = m.practice_id AND s.id = m.member_id \
             LEFT JOIN contacts k ON m.member_kind = 'contact' AND k.practice_id = m.practice_id AND k.id = m.member_id \
             WHERE m.practice_id = $1 AND m.chat_id = $2 AND COALESCE(s.name, k.name) IS NOT NULL AND ",
            member_reaches_chat!()
        ))
        .bind(practice)
        .bind(chat)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(kind, id, name)| Ok((Member::parse(kind, id)?, name.clone())))
            .collect()
    }

    /// The newest `limit` messages of a chat, oldest first; with `after`,
    /// only those after that sequence number (catching up after a drop).
    pub async fn chat_messages(
        &self,
        practice: PracticeId,
        chat: ChatId,
        after: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let mut rows = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE practice_id = $1 AND chat_id = $2 AND seq > $3 ORDER BY seq DESC LIMIT $4"
        ))
        .bind(practice)
        .bind(chat)
        .bind(after.unwrap_or(0))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.reverse();
        rows.into_iter().map(Message::try_from).collect()
    }

    /// The `limit` messages before `before`, oldest first (paging back, M15).
    pub async fn messages_before(
        &self,
        practice: PracticeId,
        chat: ChatId,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let mut rows = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE practice_id = $1 AND chat_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
        ))
        .bind(practice)
        .bind(chat)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.reverse();
        rows.into_iter().map(Message::try_from).collect()
    }

    /// Messages after `after`, oldest first, `limit` at a time (an export
    /// reads a chat of any size this way, in constant memory).
    pub async fn messages_from(
        &self,
        practice: PracticeId,
        chat: ChatId,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE practice_id = $1 AND chat_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
        ))
        .bind(practice)
        .bind(chat)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Message::try_from)
        .collect()
    }

    pub async fn get_message(
        &self,
        practice: PracticeId,
        chat: ChatId,
        seq: i64,
    ) -> StoreResult<Message> {
        sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE practice_id = $1 AND chat_id = $2 AND seq = $3"
        ))
        .bind(practice)
        .bind(chat)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// The reactions to messages `from..=to` of a chat.
    pub async fn reactions(
        &self,
        practice: PracticeId,
        chat: ChatId,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<Reaction>> {
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT seq, member_kind, member_id, emoji FROM message_reactions \
             WHERE practice_id = $1 AND chat_id = $2 AND seq >= $3 AND seq <= $4 ORDER BY seq, emoji",
        )
        .bind(practice)
        .bind(chat)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(seq, kind, id, emoji)| {
                Ok(Reaction {
                    seq,
                    member: Member::parse(&kind, &id)?,
                    emoji,
                })
            })
            .collect()
    }

    /// M12: adds a reaction, or takes it away if it was there. Returns
    /// whether it is there now.
    pub async fn toggle_reaction(
        &self,
        practice: PracticeId,
        chat: ChatId,
        seq: i64,
        member: Member,
        emoji: &str,
    ) -> StoreResult<bool> {
        let removed = sqlx::query(
            "DELETE FROM message_reactions WHERE practice_id = $1 AND chat_id = $2 AND seq = $3 \
             AND member_kind = $4 AND member_id = $5 AND emoji = $6",
        )
        .bind(practice)
        .bind(chat)
        .bind(seq)
        .bind(member.kind())
        .bind(member.id())
        .bind(emoji)
        .execute(&self.pool)
        .await?;
        if removed.rows_affected() > 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO message_reactions (practice_id, chat_id, seq, member_kind, member_id, emoji) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(practice)
        .bind(chat)
        .bind(seq)
        .bind(member.kind())
        .bind(member.id())
        .bind(emoji)
        .execute(&self.pool)
        .await?;
        Ok(true)
    }

    /// M10: pins or unpins a message.
    pub async fn set_pinned(
        &self,
        practice: PracticeId,
        chat: ChatId,
        seq: i64,
        pinned_at: Option<Millis>,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE messages SET pinned_at = $4 WHERE practice_id = $1 AND chat_id = $2 AND seq = $3 AND deleted_at IS NULL",
        )
        .bind(practice)
        .bind(chat)
        .bind(seq)
        .bind(pinned_at.map(|m| m.0))
        .execute(&self.pool)
        .await?;
        super::staff::found(done.rows_affected())
    }

    /// M4, M6: a member's own flags on a chat.
    pub async fn set_member_flags(
        &self,
        practice: PracticeId,
        chat: ChatId,
        member: Member,
        hidden: Option<bool>,
        starred: Option<bool>,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE chat_members SET hidden = COALESCE($5, hidden), starred = COALESCE($6, starred) \
             WHERE practice_id = $1 AND chat_id = $2 AND member_kind = $3 AND member_id = $4",
        )
        .bind(practice)
        .bind(chat)
        .bind(member.kind())
        .bind(member.id())
        .bind(hidden.map(super::flag))
        .bind(starred.map(super::flag))
        .execute(&self.pool)
        .await?;
        super::staff::found(done.rows_affected())
    }

    /// M5: marks a message (and those after it) unread for a member.
    pub async fn mark_unread(
        &self,
        practice: PracticeId,
        chat: ChatId,
        member: Member,
        seq: i64,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE chat_members SET last_read_seq = $5 WHERE practice_id = $1 AND chat_id = $2 \
             AND member_kind = $3 AND member_id = $4",
        )
        .bind(practice)
        .bind(chat)
        .bind(member.kind())
        .bind(member.id())
        .bind((seq - 1).max(0))
        .execute(&self.pool)
        .await?;
        super::staff::found(done.rows_affected())
    }

    /// M16: a client's current status: text, who set it, when.
    pub async fn client_status(
        &self,
        practice: PracticeId,
        client: ClientId,
    ) -> StoreResult<Option<(String, String, Millis)>> {
        let row: Option<(Option<String>, Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT status_text, status_by, status_at FROM clients WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(client)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some((Some(text), Some(by), Some(at))) => Some((text, by, Millis(at))),
            _ => None,
        })
    }

    /// M16: the current status of every client a contact reaches (hers,
    /// and the sub-records of a family primary she reaches), in one query.
    pub async fn contact_client_statuses(
        &self,
        practice: PracticeId,
        contact: crate::domain::ContactId,
    ) -> StoreResult<Vec<(ClientId, String, String, Millis)>> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT c.id, c.status_text, c.status_by, c.status_at FROM clients c \
             WHERE c.practice_id = $1 AND c.status_text IS NOT NULL AND c.status_by IS NOT NULL \
             AND c.status_at IS NOT NULL \
             AND (c.id IN (SELECT client_id FROM contact_clients WHERE practice_id = $1 AND contact_id = $2) \
                  OR c.primary_client_id IN (SELECT client_id FROM contact_clients \
                                             WHERE practice_id = $1 AND contact_id = $2))",
        )
        .bind(practice)
        .bind(contact)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, text, by, at)| Ok((parse_id(&id)?, text, by, Millis(at))))
            .collect()
    }

    /// The pinned messages of a chat, newest pin first (M10).
    pub async fn pinned_messages(
        &self,
        practice: PracticeId,
        chat: ChatId,
    ) -> StoreResult<Vec<Message>> {
        sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE practice_id = $1 AND chat_id = $2 AND pinned_at IS NOT NULL ORDER BY pinned_at DESC"
        ))
        .bind(practice)
        .bind(chat)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Message::try_from)
        .collect()
    }

    /// X5: the chats about a client, oldest first.
    pub async fn client_chats(
        &self,
        practice: PracticeId,
        client: ClientId,
    ) -> StoreResult<Vec<Chat>> {
        sqlx::query_as::<_, ChatRow>(concat!(
            "SELECT ",
            chat_columns!(),
            " FROM chats ch WHERE ch.practice_id = $1 AND ch.client_id = $2 ORDER BY ch.created_at, ch.id"
        ))
        .bind(practice)
        .bind(client)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Chat::try_from)
        .collect()
    }

    /// M2: adds members; a direct chat given a third person becomes a group.
    pub async fn add_chat_members(
        &self,
        practice: PracticeId,
        chat: ChatId,
        members: &[Member],
        now: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for member in members {
            sqlx::query(
                "INSERT INTO chat_members (practice_id, chat_id, member_kind, member_id, last_read_seq, joined_at) \
                 VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING",
            )
            .bind(practice)
            .bind(chat)
            .bind(member.kind())
            .bind(member.id())
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE chats SET kind = 'group' WHERE practice_id = $1 AND id = $2 AND \
             (SELECT COUNT(*) FROM chat_members m WHERE m.practice_id = $1 AND m.chat_id = $2) > 2",
        )
        .bind(practice)
        .bind(chat)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// S8: whether the practice lets staff share direct chats.
    pub async fn chat_sharing_allowed(&self, practice: PracticeId) -> StoreResult<bool> {
        let (on,): (i64,) =
            sqlx::query_as("SELECT allow_chat_sharing FROM practices WHERE id = $1")
                .bind(practice)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        Ok(on != 0)
    }

    pub async fn set_chat_sharing(&self, practice: PracticeId, on: bool) -> StoreResult<()> {
        let done = sqlx::query("UPDATE practices SET allow_chat_sharing = $2 WHERE id = $1")
            .bind(practice)
            .bind(super::flag(on))
            .execute(&self.pool)
            .await?;
        self.people_changed(practice);
        super::staff::found(done.rows_affected())
    }

    /// M3: adds a team member to a direct chat, which stays direct: the
    /// client still sees one conversation with the practice.
    pub async fn share_chat(
        &self,
        practice: PracticeId,
        chat: ChatId,
        staff: StaffId,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chat_members (practice_id, chat_id, member_kind, member_id, last_read_seq, joined_at) \
             VALUES ($1, $2, 'staff', $3, 0, $4) ON CONFLICT DO NOTHING",
        )
        .bind(practice)
        .bind(chat)
        .bind(staff)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// M2: takes someone out of a chat; they no longer see it.
    pub async fn remove_chat_member(
        &self,
        practice: PracticeId,
        chat: ChatId,
        member: Member,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "DELETE FROM chat_members WHERE practice_id = $1 AND chat_id = $2 AND member_kind = $3 AND member_id = $4",
        )
        .bind(practice)
        .bind(chat)
        .bind(member.kind())
        .bind(member.id())
        .execute(&self.pool)
        .await?;
        super::staff::found(done.rows_affected())
    }

    /// Records that `member` has read up to `seq` (never backwards).
    pub async fn mark_read(
        &self,
        practice: PracticeId,
        chat: ChatId,
        member: Member,
        seq: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE chat_members SET last_read_seq = $5 WHERE practice_id = $1 AND chat_id = $2 \
             AND member_kind = $3 AND member_id = $4 AND last_read_seq < $5",
        )
        .bind(practice)
        .bind(chat)
        .bind(member.kind())
        .bind(member.id())
        .bind(seq)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl StoreTx {
    /// M16: a client's current status.
    pub async fn set_client_status(
        &mut self,
        practice: PracticeId,
        client: ClientId,
        text: &str,
        by: &str,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE clients SET status_text = $3, status_by = $4, status_at = $5 WHERE practice_id = $1 AND id = $2")
            .bind(practice)
            .bind(client)
            .bind(text)
            .bind(by)
            .bind(now.0)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn create_chat(
        &mut self,
        practice: PracticeId,
        direct: bool,
        title: &str,
        client: Option<ClientId>,
        members: &[Member],
        now: Millis,
    ) -> StoreResult<Chat> {
        let chat = Chat {
            id: ChatId::new(),
            practice_id: practice,
            direct,
            title: title.to_owned(),
            client_id: client,
            last_seq: 0,
            last_message_at: now,
        };
        sqlx::query(
            "INSERT INTO chats (id, practice_id, kind, title, client_id, last_seq, created_at, last_message_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
        )
        .bind(chat.id)
        .bind(practice)
        .bind(if direct { "direct" } else { "group" })
        .bind(title)
        .bind(client)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        for member in members {
            sqlx::query(
                "INSERT INTO chat_members (practice_id, chat_id, member_kind, member_id, last_read_seq, joined_at) \
                 VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT DO NOTHING",
            )
            .bind(practice)
            .bind(chat.id)
            .bind(member.kind())
            .bind(member.id())
            .bind(now.0)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(chat)
    }
}

#[cfg(test)]
mod tests {
    use super::{Segment, segments};

    #[test]
    fn addresses_become_links_and_nothing_else_does() {
        assert_eq!(
            segments("See https://example.com/a?b=1, then reply."),
            vec![
                Segment::Text("See ".into()),
                Segment::Link("https://example.com/a?b=1".into()),
                Segment::Text(", then reply.".into()),
            ]
        );
        assert_eq!(
            segments("no links here"),
            vec![Segment::Text("no links here".into())]
        );
        assert_eq!(
            segments("javascript:alert(1) <b>x</b>"),
            vec![Segment::Text("javascript:alert(1) <b>x</b>".into())]
        );
        let tricky = segments("(http://a.example/x)\"onmouseover=alert(1)");
        assert!(
            tricky
                .iter()
                .all(|s| !s.text().contains('"') || !s.is_link())
        );
    }
}
