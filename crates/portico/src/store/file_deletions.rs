//! Deleting chats and messages with their files (M6, M10, M9): the rows and
//! the audit event are written in one transaction, which also queues the
//! stored bytes for removal. A worker removes the bytes after commit and
//! retries with back-off (the outbox pattern): a crash between the commit
//! and the removal leaves a queued job, never a row without its audit entry
//! or bytes nobody will remove.

use super::{Member, Store, StoreResult, StoreTx};
use crate::domain::{ChatId, Millis, PracticeId};

/// Stored bytes waiting to be removed.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct FileDeletion {
    pub id: String,
    pub practice_id: String,
    pub storage_key: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
}

macro_rules! file_deletion_columns {
    () => {
        "id, practice_id, storage_key, attempts, next_attempt_at, last_error"
    };
}
pub(super) use file_deletion_columns;

impl StoreTx {
    /// M6: deletes a chat, its messages, reactions, members and files' rows,
    /// and queues the files' bytes for removal.
    pub async fn delete_chat(
        &mut self,
        practice: PracticeId,
        chat: ChatId,
        now: Millis,
    ) -> StoreResult<()> {
        self.queue_file_deletions(practice, chat, None, now).await?;
        let mut deleted_chats = 0;
        for sql in [
            "DELETE FROM files WHERE practice_id = $1 AND chat_id = $2",
            "DELETE FROM message_reactions WHERE practice_id = $1 AND chat_id = $2",
            "DELETE FROM messages WHERE practice_id = $1 AND chat_id = $2",
            "DELETE FROM chat_members WHERE practice_id = $1 AND chat_id = $2",
            "DELETE FROM chats WHERE practice_id = $1 AND id = $2",
        ] {
            deleted_chats = sqlx::query(sql)
                .bind(practice)
                .bind(chat)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
        }
        super::staff::found(deleted_chats)
    }

    /// M10: the sender deletes their message: a trace stays, its text goes,
    /// its files' rows go and their bytes are queued for removal.
    pub async fn delete_message(
        &mut self,
        practice: PracticeId,
        chat: ChatId,
        seq: i64,
        sender: Member,
        now: Millis,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE messages SET deleted_at = $6, body = '', pinned_at = NULL \
             WHERE practice_id = $1 AND chat_id = $2 AND seq = $3 AND sender_kind = $4 AND sender_id = $5 \
             AND deleted_at IS NULL",
        )
        .bind(practice)
        .bind(chat)
        .bind(seq)
        .bind(sender.kind())
        .bind(sender.id())
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        super::staff::found(done.rows_affected())?;
        self.queue_file_deletions(practice, chat, Some(seq), now)
            .await?;
        sqlx::query(
            "DELETE FROM files WHERE practice_id = $1 AND chat_id = $2 AND message_seq = $3",
        )
        .bind(practice)
        .bind(chat)
        .bind(seq)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Queues the bytes of a chat's files (or one message's) for removal.
    /// A file's id names its job: a file is removed once.
    async fn queue_file_deletions(
        &mut self,
        practice: PracticeId,
        chat: ChatId,
        seq: Option<i64>,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO file_deletions (id, practice_id, storage_key, attempts, next_attempt_at, claimed_until, created_at) \
             SELECT id, practice_id, storage_key, 0, $4, 0, $4 FROM files \
             WHERE practice_id = $1 AND chat_id = $2 AND ($3 IS NULL OR message_seq = $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(practice)
        .bind(chat)
        .bind(seq)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

impl Store {
    /// Claims up to `limit` due removals for `lease_ms` (as the outbox does:
    /// instances claim side by side, a worker that died leaves its claims to
    /// be taken again when the lease ends).
    pub async fn claim_due_file_deletions(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<FileDeletion>> {
        Ok(
            sqlx::query_as::<_, FileDeletion>(self.backend.claim_file_deletions_sql())
                .bind(now.0)
                .bind(now.0 + lease_ms)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The bytes are gone: the job is done.
    pub async fn file_deletion_done(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM file_deletions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A failed attempt: tried again at `retry_at`.
    pub async fn file_deletion_failed(
        &self,
        id: &str,
        error: &str,
        retry_at: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE file_deletions SET attempts = attempts + 1, last_error = $2, claimed_until = 0, \
             next_attempt_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The removals still queued for a practice, oldest first (for support
    /// and tests).
    pub async fn pending_file_deletions(
        &self,
        practice: PracticeId,
    ) -> StoreResult<Vec<FileDeletion>> {
        Ok(sqlx::query_as::<_, FileDeletion>(concat!(
            "SELECT ",
            file_deletion_columns!(),
            " FROM file_deletions WHERE practice_id = $1 ORDER BY created_at, id"
        ))
        .bind(practice)
        .fetch_all(&self.pool)
        .await?)
    }
}
