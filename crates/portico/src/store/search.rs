//! X1: full-text search over what a person may see. The indexes are kept by
//! the database itself (migration 0085: FTS5 tables and triggers on SQLite,
//! generated `tsvector` columns on PostgreSQL), so every write updates them
//! in its own transaction; this module only reads them. The SQL differs by
//! engine only in how it matches and ranks ([`super::Backend::search_sql`]);
//! who may see what is written once, below.

use super::{Store, StoreResult, parse_id};
use crate::domain::{
    ChatId, ClientId, ContactId, FileId, Millis, PracticeId, QuestionId, SearchQuery, StaffId,
};

/// Who is searching: staff see their practice's questions, clients and
/// contacts and the chats they are in; a contact her own chats and the
/// questions she may see in the portal.
#[derive(Clone, Copy, Debug)]
pub enum Searcher {
    Staff(StaffId),
    Contact(ContactId),
}

/// What a search looks through; one query each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchKind {
    /// Messages with every word, the last as a prefix, the newest first.
    Messages,
    /// Messages with the exact phrase, the newest first.
    MessagePhrases,
    /// Messages with every word exactly, the newest first.
    MessageWords,
    Questions,
    Answers,
    Files,
    Clients,
    Contacts,
}

/// A message found, with what its link needs.
#[derive(Clone, Debug)]
pub struct MessageHit {
    pub chat_id: ChatId,
    pub chat_title: String,
    pub seq: i64,
    pub sender_name: String,
    pub body: String,
    pub created_at: Millis,
    /// The chat's latest number, to tell whether the message is on the
    /// chat's first page.
    pub last_seq: i64,
}

/// A question found by its title or details.
#[derive(Clone, Debug)]
pub struct QuestionHit {
    pub question_id: QuestionId,
    pub title: String,
    pub details: String,
    pub status: String,
    pub updated_at: Millis,
    pub client_name: String,
}

/// An answer or follow-up found in a question's thread.
#[derive(Clone, Debug)]
pub struct AnswerHit {
    pub question_id: QuestionId,
    pub question_title: String,
    pub author_name: String,
    pub body: String,
    pub created_at: Millis,
}

/// A file found by its name: a question's, or a chat message's.
#[derive(Clone, Debug)]
pub struct FileHit {
    pub file_id: FileId,
    pub name: String,
    pub created_at: Millis,
    pub question: Option<(QuestionId, String)>,
    /// The chat, its title, the message's number and the chat's latest.
    pub chat: Option<(ChatId, String, i64, i64)>,
}

#[derive(Clone, Debug)]
pub struct ClientHit {
    pub client_id: ClientId,
    pub name: String,
    pub kind: String,
}

#[derive(Clone, Debug)]
pub struct ContactHit {
    pub contact_id: ContactId,
    pub name: String,
    pub email: String,
}

/// A contact (`$6`) sees a question `q` of a client she reaches (given to
/// her, or a sub-record of a family primary given to her), unless the
/// client's questions are assignable and it is assigned to another contact
/// (Q3). Staff (`$5 = 'staff'`) see every question of their practice.
macro_rules! question_visible {
    () => {
        "($5 = 'staff' OR EXISTS (SELECT 1 FROM clients qc JOIN contact_clients cc \
           ON cc.practice_id = qc.practice_id AND cc.contact_id = $6 \
           AND (cc.client_id = qc.id OR cc.client_id = qc.primary_client_id) \
           WHERE qc.practice_id = q.practice_id AND qc.id = q.client_id \
           AND (qc.assignable_questions = 0 OR q.assignee_contact_id IS NULL OR q.assignee_contact_id = $6)))"
    };
}
pub(super) use question_visible;

/// The searcher (`$5` kind, `$6` id) is a member of chat `ch` and still
/// reaches it.
macro_rules! chat_visible {
    () => {
        concat!(
            "EXISTS (SELECT 1 FROM chat_members m WHERE m.practice_id = ch.practice_id AND m.chat_id = ch.id \
             AND m.member_kind = $5 AND m.member_id = $6 AND ",
            super::chats::member_reaches_chat!(),
            ")"
        )
    };
}
pub(super) use chat_visible;

/// A chat file whose message still stands (`fi`).
macro_rules! file_message_standing {
    () => {
        "fi.message_seq IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages dm WHERE dm.practice_id = fi.practice_id \
         AND dm.chat_id = fi.chat_id AND dm.seq = fi.message_seq AND dm.deleted_at IS NOT NULL)"
    };
}
pub(super) use file_message_standing;

type MessageRow = (String, String, i64, String, String, i64, i64);
type QuestionRow = (String, String, String, String, i64, String);
type AnswerRow = (String, String, String, String, i64);
type FileRow = (
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

impl Store {
    fn search_query<'q, O>(
        &self,
        kind: SearchKind,
        query: &'q SearchQuery,
        practice: PracticeId,
        searcher: Searcher,
        limit: i64,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        // PostgreSQL plans a prepared statement for its parameters five
        // times, then may keep a generic plan that knows nothing of the
        // words: for a rare word in a 1,000,000-message chat that plan
        // walks the chat (352 ms against 0.5 ms, `EXPLAIN ANALYZE` of both).
        // The messages' full-text reads are therefore planned for their own
        // words every time; the rest (the newest-messages window, the
        // smaller kinds) keep their plans: planning every read of a search
        // cost more (benchmark medians 33–52 ms a search, against 27–41 ms
        // with only these planned each time).
        let words_decide_the_plan = matches!(
            kind,
            SearchKind::Messages | SearchKind::MessagePhrases | SearchKind::MessageWords
        );
        self.search_query_sql(
            self.backend.search_sql(kind),
            query,
            practice,
            searcher,
            limit,
            !words_decide_the_plan,
        )
    }

    fn search_query_sql<'q, O>(
        &self,
        sql: &'static str,
        query: &'q SearchQuery,
        practice: PracticeId,
        searcher: Searcher,
        limit: i64,
        keep_plan: bool,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let (all, phrase) = match self.backend {
            super::Backend::Sqlite => (query.fts5_all(), query.fts5_phrase()),
            super::Backend::Postgres => (query.tsquery_all(), query.phrase_text()),
        };
        let (who_kind, who_id) = match searcher {
            Searcher::Staff(id) => ("staff", id.to_string()),
            Searcher::Contact(id) => ("contact", id.to_string()),
        };
        // An unprepared read is planned for its parameters every time
        // (SQLite's plans do not depend on them).
        let prepared = keep_plan || matches!(self.backend, super::Backend::Sqlite);
        sqlx::query_as(sql)
            .persistent(prepared)
            .bind(all)
            .bind(phrase)
            .bind(limit)
            .bind(practice)
            .bind(who_kind)
            .bind(who_id)
    }

    /// Messages matching `query` in the chats the searcher is in: those
    /// with the exact phrase first, then those with every word, then those
    /// with every word and the last as a prefix, each the newest first. Each tier is one
    /// read that stops at `limit` (on PostgreSQL, first among the newest
    /// messages only: [`super::Backend::search_window_sql`]), and the next
    /// is read only while there are fewer: a word found in every message of
    /// a large chat is as quick as a rare one.
    pub async fn search_messages(
        &self,
        practice: PracticeId,
        searcher: Searcher,
        query: &SearchQuery,
        limit: i64,
    ) -> StoreResult<Vec<MessageHit>> {
        let wanted = usize::try_from(limit).unwrap_or(0);
        let mut rows: Vec<MessageRow> = Vec::new();
        for tier in [
            SearchKind::MessagePhrases,
            SearchKind::MessageWords,
            SearchKind::Messages,
        ] {
            if rows.len() >= wanted {
                break;
            }
            let mut found: Vec<MessageRow> = Vec::new();
            if let Some(sql) = self.backend.search_window_sql(tier) {
                found = self
                    .search_query_sql(sql, query, practice, searcher, limit, true)
                    .fetch_all(&self.pool)
                    .await?;
            }
            if found.len() < wanted {
                found = self
                    .search_query(tier, query, practice, searcher, limit)
                    .fetch_all(&self.pool)
                    .await?;
            }
            for row in found {
                let seen = rows.iter().any(|r| r.0 == row.0 && r.2 == row.2);
                if !seen && rows.len() < wanted {
                    rows.push(row);
                }
            }
        }
        rows.into_iter()
            .map(|(chat, title, seq, sender, body, at, last)| {
                Ok(MessageHit {
                    chat_id: parse_id(&chat)?,
                    chat_title: title,
                    seq,
                    sender_name: sender,
                    body,
                    created_at: Millis(at),
                    last_seq: last,
                })
            })
            .collect()
    }

    /// Questions whose title or details match.
    pub async fn search_questions(
        &self,
        practice: PracticeId,
        searcher: Searcher,
        query: &SearchQuery,
        limit: i64,
    ) -> StoreResult<Vec<QuestionHit>> {
        let rows: Vec<QuestionRow> = self
            .search_query(SearchKind::Questions, query, practice, searcher, limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id, title, details, status, at, client)| {
                Ok(QuestionHit {
                    question_id: parse_id(&id)?,
                    title,
                    details,
                    status,
                    updated_at: Millis(at),
                    client_name: client,
                })
            })
            .collect()
    }

    /// Answers and follow-ups that match, in questions the searcher sees.
    pub async fn search_answers(
        &self,
        practice: PracticeId,
        searcher: Searcher,
        query: &SearchQuery,
        limit: i64,
    ) -> StoreResult<Vec<AnswerHit>> {
        let rows: Vec<AnswerRow> = self
            .search_query(SearchKind::Answers, query, practice, searcher, limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id, title, author, body, at)| {
                Ok(AnswerHit {
                    question_id: parse_id(&id)?,
                    question_title: title,
                    author_name: author,
                    body,
                    created_at: Millis(at),
                })
            })
            .collect()
    }

    /// Files whose names match: of questions the searcher sees, and of
    /// standing messages in chats she is in.
    pub async fn search_files(
        &self,
        practice: PracticeId,
        searcher: Searcher,
        query: &SearchQuery,
        limit: i64,
    ) -> StoreResult<Vec<FileHit>> {
        let rows: Vec<FileRow> = self
            .search_query(SearchKind::Files, query, practice, searcher, limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(
                |(id, name, at, question, title, chat, chat_title, seq, last)| {
                    let question = match (question, title) {
                        (Some(q), Some(t)) => Some((parse_id(&q)?, t)),
                        _ => None,
                    };
                    let chat = match (chat, chat_title, seq, last) {
                        (Some(c), Some(t), Some(seq), Some(last)) => {
                            Some((parse_id(&c)?, t, seq, last))
                        }
                        _ => None,
                    };
                    Ok(FileHit {
                        file_id: parse_id(&id)?,
                        name,
                        created_at: Millis(at),
                        question,
                        chat,
                    })
                },
            )
            .collect()
    }

    /// Clients whose names match (staff only: a contact's search finds none).
    pub async fn search_clients(
        &self,
        practice: PracticeId,
        searcher: Searcher,
        query: &SearchQuery,
        limit: i64,
    ) -> StoreResult<Vec<ClientHit>> {
        let rows: Vec<(String, String, String)> = self
            .search_query(SearchKind::Clients, query, practice, searcher, limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id, name, kind)| {
                Ok(ClientHit {
                    client_id: parse_id(&id)?,
                    name,
                    kind,
                })
            })
            .collect()
    }

    /// Contacts whose names or addresses match (staff only).
    pub async fn search_contacts(
        &self,
        practice: PracticeId,
        searcher: Searcher,
        query: &SearchQuery,
        limit: i64,
    ) -> StoreResult<Vec<ContactHit>> {
        let rows: Vec<(String, String, String)> = self
            .search_query(SearchKind::Contacts, query, practice, searcher, limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id, name, email)| {
                Ok(ContactHit {
                    contact_id: parse_id(&id)?,
                    name,
                    email,
                })
            })
            .collect()
    }
}
