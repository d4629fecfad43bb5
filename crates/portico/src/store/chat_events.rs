//! A chat's events besides its messages: people added or taken out, a
//! group renamed. Each is shown after the message it followed.

use super::{Store, StoreResult, parse_id};
use crate::domain::{ChatId, Millis, PracticeId};

/// "Olivia added Tom", after message `after_seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatEvent {
    pub id: String,
    pub chat_id: ChatId,
    pub after_seq: i64,
    pub text: String,
    pub created_at: Millis,
}

impl Store {
    /// Records an event after the chat's latest message.
    pub async fn add_chat_event(
        &self,
        practice: PracticeId,
        chat: ChatId,
        text: &str,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chat_events (id, practice_id, chat_id, after_seq, text, created_at) \
             SELECT $1, $2, $3, ch.last_seq, $4, $5 FROM chats ch WHERE ch.practice_id = $2 AND ch.id = $3",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(practice)
        .bind(chat)
        .bind(text)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The events placed after messages `from..=to` (from 0: those before
    /// the first message too), oldest first.
    pub async fn chat_events(
        &self,
        practice: PracticeId,
        chat: ChatId,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<ChatEvent>> {
        let rows: Vec<(String, String, i64, String, i64)> = sqlx::query_as(
            "SELECT id, chat_id, after_seq, text, created_at FROM chat_events \
             WHERE practice_id = $1 AND chat_id = $2 AND after_seq >= $3 AND after_seq <= $4 \
             ORDER BY after_seq, created_at, id",
        )
        .bind(practice)
        .bind(chat)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, chat, after_seq, text, at)| {
                Ok(ChatEvent {
                    id,
                    chat_id: parse_id(&chat)?,
                    after_seq,
                    text,
                    created_at: Millis(at),
                })
            })
            .collect()
    }

    /// Renames a group chat.
    pub async fn rename_chat(
        &self,
        practice: PracticeId,
        chat: ChatId,
        title: &str,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE chats SET title = $3 WHERE practice_id = $1 AND id = $2 AND kind = 'group'",
        )
        .bind(practice)
        .bind(chat)
        .bind(title)
        .execute(&self.pool)
        .await?;
        super::staff::found(done.rows_affected())
    }

    /// The names of the members of every chat `member` is in, in one query:
    /// (chat, member kind, member id, name).
    pub async fn member_names_of_chats(
        &self,
        practice: PracticeId,
        member: super::Member,
    ) -> StoreResult<Vec<(ChatId, super::Member, String)>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT o.chat_id, o.member_kind, o.member_id, COALESCE(s.name, k.name) FROM chat_members me \
             JOIN chat_members o ON o.practice_id = me.practice_id AND o.chat_id = me.chat_id \
             LEFT JOIN staff_users s ON o.member_kind = 'staff' AND s.practice_id = o.practice_id AND s.id = o.member_id \
             LEFT JOIN contacts k ON o.member_kind = 'contact' AND k.practice_id = o.practice_id AND k.id = o.member_id \
             WHERE me.practice_id = $1 AND me.member_kind = $2 AND me.member_id = $3 \
             AND COALESCE(s.name, k.name) IS NOT NULL",
        )
        .bind(practice)
        .bind(member.kind())
        .bind(member.id())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(chat, kind, id, name)| {
                Ok((
                    parse_id(chat)?,
                    super::Member::parse(kind, id)?,
                    name.clone(),
                ))
            })
            .collect()
    }
}
