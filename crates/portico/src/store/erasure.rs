//! X5: erasing a contact or a client on request. What they wrote goes
//! (messages' text, answers, files), their names become "Former contact" /
//! "Former client", their sessions and links end; everything in one
//! transaction, which also queues the files' bytes for the file sweeper.
//! What others wrote in the same chats and questions stays.

use super::{StoreResult, StoreTx};
use crate::domain::{ClientId, ContactId, Millis, PracticeId};

pub const FORMER_CONTACT: &str = "Former contact";
pub const FORMER_CLIENT: &str = "Former client";

impl StoreTx {
    /// Erases what a contact wrote — everywhere, or (`within`) only in one
    /// client's chats and questions — and queues its files' bytes.
    async fn erase_words_of(
        &mut self,
        practice: PracticeId,
        contact: ContactId,
        within: Option<ClientId>,
        now: Millis,
    ) -> StoreResult<()> {
        // Her messages' files and her answers' files, queued then gone.
        const CHAT_FILES: &str = "EXISTS (SELECT 1 FROM messages m JOIN chats ch ON ch.practice_id = m.practice_id AND ch.id = m.chat_id \
             WHERE m.practice_id = f.practice_id AND m.chat_id = f.chat_id AND m.seq = f.message_seq \
             AND m.sender_kind = 'contact' AND m.sender_id = $2 AND ($3 IS NULL OR ch.client_id = $3))";
        const ENTRY_FILES: &str = "EXISTS (SELECT 1 FROM question_entries e JOIN questions q ON q.practice_id = e.practice_id AND q.id = e.question_id \
             WHERE e.practice_id = f.practice_id AND e.id = f.entry_id \
             AND e.author_kind = 'contact' AND e.author_id = $2 AND ($3 IS NULL OR q.client_id = $3))";
        for files in [CHAT_FILES, ENTRY_FILES] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO file_deletions (id, practice_id, storage_key, attempts, next_attempt_at, claimed_until, created_at) \
                 SELECT f.id, f.practice_id, f.storage_key, 0, $4, 0, $4 FROM files f WHERE f.practice_id = $1 AND {files} \
                 ON CONFLICT (id) DO NOTHING"
            )))
            .bind(practice)
            .bind(contact)
            .bind(within)
            .bind(now.0)
            .execute(&mut *self.tx)
            .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM files WHERE practice_id = $1 AND id IN (SELECT f.id FROM files f WHERE f.practice_id = $1 AND {files})"
            )))
            .bind(practice)
            .bind(contact)
            .bind(within)
            .execute(&mut *self.tx)
            .await?;
        }
        // A trace of each message stays (the chat's numbering), without text.
        sqlx::query(
            "UPDATE messages SET body = '', sender_name = 'Former contact', pinned_at = NULL, \
             deleted_at = COALESCE(deleted_at, $4) \
             WHERE practice_id = $1 AND sender_kind = 'contact' AND sender_id = $2 \
             AND ($3 IS NULL OR chat_id IN (SELECT id FROM chats WHERE practice_id = $1 AND client_id = $3))",
        )
        .bind(practice)
        .bind(contact)
        .bind(within)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        for sql in [
            "UPDATE question_entries SET body = '', author_name = 'Former contact' \
             WHERE practice_id = $1 AND author_kind = 'contact' AND author_id = $2 \
             AND ($3 IS NULL OR question_id IN (SELECT id FROM questions WHERE practice_id = $1 AND client_id = $3))",
            "DELETE FROM message_reactions WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2 \
             AND ($3 IS NULL OR chat_id IN (SELECT id FROM chats WHERE practice_id = $1 AND client_id = $3))",
        ] {
            sqlx::query(sql)
                .bind(practice)
                .bind(contact)
                .bind(within)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// X5: erases a contact: what she wrote, her name and details, her
    /// access, links, sessions and preferences. Returns the ended
    /// sessions' hashes (their sockets are closed after commit).
    pub async fn erase_contact(
        &mut self,
        practice: PracticeId,
        contact: ContactId,
        now: Millis,
    ) -> StoreResult<Vec<String>> {
        let (name, email): (String, String) =
            sqlx::query_as("SELECT name, email FROM contacts WHERE practice_id = $1 AND id = $2")
                .bind(practice)
                .bind(contact)
                .fetch_optional(&mut *self.tx)
                .await?
                .ok_or(super::StoreError::NotFound)?;
        self.erase_words_of(practice, contact, None, now).await?;
        // Direct chats named after her.
        sqlx::query(
            "UPDATE chats SET title = 'Former contact' WHERE practice_id = $1 AND title = $3 AND id IN \
             (SELECT chat_id FROM chat_members WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2)",
        )
        .bind(practice)
        .bind(contact)
        .bind(&name)
        .execute(&mut *self.tx)
        .await?;
        // Copies of her words waiting to be notified, mail to her address.
        sqlx::query(
            "UPDATE notify_items SET body = '', author_name = 'Former contact' \
             WHERE practice_id = $1 AND author_name = $2",
        )
        .bind(practice)
        .bind(&name)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("DELETE FROM outbox WHERE practice_id = $1 AND recipient = $2")
            .bind(practice)
            .bind(&email)
            .execute(&mut *self.tx)
            .await?;
        // X11: the e-mails she sent as replies (held ones' raw text too)
        // and her reply addresses go.
        sqlx::query(
            "INSERT INTO file_deletions (id, practice_id, storage_key, attempts, next_attempt_at, claimed_until, created_at) \
             SELECT i.id, i.practice_id, i.raw_key, 0, $3, 0, $3 FROM inbound_mail i \
             WHERE i.practice_id = $1 AND i.member_kind = 'contact' AND i.member_id = $2 AND i.raw_key IS NOT NULL \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(practice)
        .bind(contact)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        for sql in [
            "DELETE FROM inbound_mail WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2",
            "DELETE FROM reply_addresses WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2",
            "DELETE FROM notify_items WHERE practice_id = $1 AND recipient_kind = 'contact' AND recipient_id = $2",
            "DELETE FROM notify_prefs WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2",
            "DELETE FROM messaging_preferences WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2",
            "DELETE FROM chat_members WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2",
            "DELETE FROM tokens WHERE practice_id = $1 AND contact_id = $2",
            "DELETE FROM reminder_runs WHERE practice_id = $1 AND contact_id = $2",
            "DELETE FROM contact_clients WHERE practice_id = $1 AND contact_id = $2",
            "UPDATE questions SET assignee_contact_id = NULL WHERE practice_id = $1 AND assignee_contact_id = $2",
            // The row stays (what she wrote still points at it), empty.
            "UPDATE contacts SET name = 'Former contact', email = 'erased-' || id || '@erased.invalid', \
             phone = NULL, password_hash = NULL, time_zone = NULL, status = 'invited' \
             WHERE practice_id = $1 AND id = $2",
        ] {
            sqlx::query(sql)
                .bind(practice)
                .bind(contact)
                .execute(&mut *self.tx)
                .await?;
        }
        let ended: Vec<(String,)> = sqlx::query_as(
            "DELETE FROM sessions WHERE practice_id = $1 AND subject_kind = 'contact' AND subject_id = $2 \
             RETURNING id_hash",
        )
        .bind(practice)
        .bind(contact)
        .fetch_all(&mut *self.tx)
        .await?;
        self.people_changed(practice);
        Ok(ended.into_iter().map(|(h,)| h).collect())
    }

    /// X5: erases a client: its name and status; its contacts who reach no
    /// other client are erased whole, the others lose it and what they
    /// wrote about it. Returns the ended sessions' hashes.
    pub async fn erase_client(
        &mut self,
        practice: PracticeId,
        client: ClientId,
        now: Millis,
    ) -> StoreResult<Vec<String>> {
        let (name,): (String,) =
            sqlx::query_as("SELECT name FROM clients WHERE practice_id = $1 AND id = $2")
                .bind(practice)
                .bind(client)
                .fetch_optional(&mut *self.tx)
                .await?
                .ok_or(super::StoreError::NotFound)?;
        let contacts: Vec<(String, i64)> = sqlx::query_as(
            "SELECT cc.contact_id, (SELECT COUNT(*) FROM contact_clients o \
               WHERE o.practice_id = cc.practice_id AND o.contact_id = cc.contact_id AND o.client_id <> cc.client_id) \
             FROM contact_clients cc WHERE cc.practice_id = $1 AND cc.client_id = $2 ORDER BY cc.contact_id",
        )
        .bind(practice)
        .bind(client)
        .fetch_all(&mut *self.tx)
        .await?;
        let mut ended = Vec::new();
        for (contact, others) in contacts {
            let contact: ContactId = super::parse_id(&contact)?;
            if others == 0 {
                ended.extend(self.erase_contact(practice, contact, now).await?);
            } else {
                self.erase_words_of(practice, contact, Some(client), now)
                    .await?;
                sqlx::query(
                    "DELETE FROM contact_clients WHERE practice_id = $1 AND contact_id = $2 AND client_id = $3",
                )
                .bind(practice)
                .bind(contact)
                .bind(client)
                .execute(&mut *self.tx)
                .await?;
            }
        }
        sqlx::query(
            "UPDATE chats SET title = 'Former client' WHERE practice_id = $1 AND client_id = $2 AND title = $3",
        )
        .bind(practice)
        .bind(client)
        .bind(&name)
        .execute(&mut *self.tx)
        .await?;
        for sql in [
            "DELETE FROM notify_items WHERE practice_id = $1 AND client_id = $2",
            "DELETE FROM alerts WHERE practice_id = $1 AND client_id = $2",
            "DELETE FROM reminder_runs WHERE practice_id = $1 AND client_id = $2",
            "UPDATE clients SET name = 'Former client', status_text = NULL, status_by = NULL, status_at = NULL \
             WHERE practice_id = $1 AND id = $2",
        ] {
            sqlx::query(sql)
                .bind(practice)
                .bind(client)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(ended)
    }
}
