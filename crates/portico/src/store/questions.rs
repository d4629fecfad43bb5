//! Questions (Q1–Q4): threads of entries, with files, in three states.

use super::staff::found;
use super::{Store, StoreError, StoreResult, StoreTx, parse_id};
use crate::domain::{
    ClientId, ContactId, EntryId, FileId, Millis, PracticeId, QuestionId, StaffId,
};

/// Q2: waiting for the client, waiting for the practice, or done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuestionStatus {
    Open,
    Answered,
    Resolved,
}

impl QuestionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionStatus::Open => "open",
            QuestionStatus::Answered => "answered",
            QuestionStatus::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(QuestionStatus::Open),
            "answered" => Some(QuestionStatus::Answered),
            "resolved" => Some(QuestionStatus::Resolved),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub id: QuestionId,
    pub practice_id: PracticeId,
    pub client_id: ClientId,
    pub assignee: Option<ContactId>,
    pub title: String,
    pub details: String,
    pub status: QuestionStatus,
    pub asked_by: StaffId,
    pub asked_at: Millis,
    pub updated_at: Millis,
}

/// A question as a list shows it, with its client's name and settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuestionSummary {
    pub question: Question,
    pub client_name: String,
    pub assignee_name: Option<String>,
    pub client_assignable: bool,
}

#[derive(Clone, Debug)]
pub struct NewQuestion {
    pub client_id: ClientId,
    pub assignee: Option<ContactId>,
    pub title: String,
    pub details: String,
    pub asked_by: StaffId,
}

/// What one entry of a thread is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Answer,
    FollowUp,
    Reassigned,
    Resolved,
    Reopened,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Answer => "answer",
            EntryKind::FollowUp => "follow_up",
            EntryKind::Reassigned => "reassigned",
            EntryKind::Resolved => "resolved",
            EntryKind::Reopened => "reopened",
        }
    }

    fn parse(text: &str) -> StoreResult<Self> {
        Ok(match text {
            "answer" => EntryKind::Answer,
            "follow_up" => EntryKind::FollowUp,
            "reassigned" => EntryKind::Reassigned,
            "resolved" => EntryKind::Resolved,
            "reopened" => EntryKind::Reopened,
            other => return Err(StoreError::Corrupt(format!("entry kind {other:?}"))),
        })
    }
}

/// Who wrote an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    Staff(StaffId),
    Contact(ContactId),
}

/// X9: one of a contact's answers, for her export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactAnswer {
    pub at: Millis,
    pub id: String,
    pub client_id: ClientId,
    pub client_name: String,
    pub question: String,
    pub body: String,
    pub files: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: EntryId,
    pub question_id: QuestionId,
    pub author: Author,
    pub author_name: String,
    pub kind: EntryKind,
    pub body: String,
    pub created_at: Millis,
    pub files: Vec<FileMeta>,
}

impl Entry {
    /// The entry's kind as a word, for styling.
    pub fn kind_name(&self) -> &'static str {
        self.kind.as_str()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    pub author: Author,
    pub author_name: String,
    pub kind: EntryKind,
    pub body: String,
}

/// A stored file's description; its bytes are in the object store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMeta {
    pub id: FileId,
    pub practice_id: PracticeId,
    pub question_id: Option<QuestionId>,
    pub entry_id: Option<EntryId>,
    /// M9: a file sent in a chat, with its message's number.
    pub chat_id: Option<crate::domain::ChatId>,
    pub message_seq: Option<i64>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub storage_key: String,
    pub created_at: Millis,
}

impl FileMeta {
    /// "1.2 MB", "34 KB".
    pub fn size_text(&self) -> String {
        let size = self.size.max(0);
        if size >= 1024 * 1024 {
            format!(
                "{}.{} MB",
                size / (1024 * 1024),
                (size % (1024 * 1024)) * 10 / (1024 * 1024)
            )
        } else {
            format!("{} KB", ((size + 1023) / 1024).max(1))
        }
    }
}

/// Which of a contact's questions in a client to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactQuestions {
    All,
    /// Waiting for her answer.
    Open,
    /// Answered or resolved.
    Settled,
}

/// Which questions a list shows.
#[derive(Clone, Debug, Default)]
pub struct QuestionFilter {
    pub client: Option<ClientId>,
    pub status: Option<QuestionStatus>,
    /// Only questions of clients this staff user looks after.
    pub assigned_to: Option<StaffId>,
}

#[derive(sqlx::FromRow)]
struct QuestionRow {
    id: String,
    practice_id: String,
    client_id: String,
    assignee_contact_id: Option<String>,
    title: String,
    details: String,
    status: String,
    asked_by: String,
    asked_at: i64,
    updated_at: i64,
}

macro_rules! question_columns {
    () => {
        "q.id, q.practice_id, q.client_id, q.assignee_contact_id, q.title, q.details, q.status, \
         q.asked_by, q.asked_at, q.updated_at"
    };
}

impl TryFrom<QuestionRow> for Question {
    type Error = StoreError;
    fn try_from(row: QuestionRow) -> StoreResult<Self> {
        Ok(Question {
            id: parse_id(&row.id)?,
            practice_id: parse_id(&row.practice_id)?,
            client_id: parse_id(&row.client_id)?,
            assignee: row
                .assignee_contact_id
                .as_deref()
                .map(parse_id)
                .transpose()?,
            title: row.title,
            details: row.details,
            status: QuestionStatus::parse(&row.status)
                .ok_or_else(|| StoreError::Corrupt(format!("question status {:?}", row.status)))?,
            asked_by: parse_id(&row.asked_by)?,
            asked_at: Millis(row.asked_at),
            updated_at: Millis(row.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    #[sqlx(flatten)]
    question: QuestionRow,
    client_name: String,
    assignee_name: Option<String>,
    client_assignable: i64,
}

impl TryFrom<SummaryRow> for QuestionSummary {
    type Error = StoreError;
    fn try_from(row: SummaryRow) -> StoreResult<Self> {
        Ok(QuestionSummary {
            question: row.question.try_into()?,
            client_name: row.client_name,
            assignee_name: row.assignee_name,
            client_assignable: row.client_assignable != 0,
        })
    }
}

#[derive(sqlx::FromRow)]
struct FileRow {
    id: String,
    practice_id: String,
    question_id: Option<String>,
    entry_id: Option<String>,
    chat_id: Option<String>,
    message_seq: Option<i64>,
    name: String,
    content_type: String,
    size: i64,
    storage_key: String,
    created_at: i64,
}

impl TryFrom<FileRow> for FileMeta {
    type Error = StoreError;
    fn try_from(row: FileRow) -> StoreResult<Self> {
        Ok(FileMeta {
            id: parse_id(&row.id)?,
            practice_id: parse_id(&row.practice_id)?,
            question_id: row.question_id.as_deref().map(parse_id).transpose()?,
            entry_id: row.entry_id.as_deref().map(parse_id).transpose()?,
            chat_id: row.chat_id.as_deref().map(parse_id).transpose()?,
            message_seq: row.message_seq,
            name: row.name,
            content_type: row.content_type,
            size: row.size,
            storage_key: row.storage_key,
            created_at: Millis(row.created_at),
        })
    }
}

macro_rules! summary_select {
    () => {
        concat!(
            "SELECT ",
            question_columns!(),
            ", c.name AS client_name, k.name AS assignee_name, c.assignable_questions AS client_assignable \
             FROM questions q \
             JOIN clients c ON c.practice_id = q.practice_id AND c.id = q.client_id \
             LEFT JOIN contacts k ON k.practice_id = q.practice_id AND k.id = q.assignee_contact_id "
        )
    };
}

impl StoreTx {
    pub async fn insert_question(
        &mut self,
        practice: PracticeId,
        new: &NewQuestion,
        now: Millis,
    ) -> StoreResult<Question> {
        let question = Question {
            id: QuestionId::new(),
            practice_id: practice,
            client_id: new.client_id,
            assignee: new.assignee,
            title: new.title.clone(),
            details: new.details.clone(),
            status: QuestionStatus::Open,
            asked_by: new.asked_by,
            asked_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO questions (id, practice_id, client_id, assignee_contact_id, title, details, status, \
             asked_by, asked_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $8)",
        )
        .bind(question.id)
        .bind(practice)
        .bind(question.client_id)
        .bind(question.assignee)
        .bind(&question.title)
        .bind(&question.details)
        .bind(question.asked_by)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(question)
    }

    pub async fn insert_entry(
        &mut self,
        practice: PracticeId,
        question: QuestionId,
        new: &NewEntry,
        now: Millis,
    ) -> StoreResult<EntryId> {
        let id = EntryId::new();
        let (kind, author) = match new.author {
            Author::Staff(s) => ("staff", s.to_string()),
            Author::Contact(c) => ("contact", c.to_string()),
        };
        sqlx::query(
            "INSERT INTO question_entries (id, practice_id, question_id, author_kind, author_id, author_name, \
             kind, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(practice)
        .bind(question)
        .bind(kind)
        .bind(author)
        .bind(&new.author_name)
        .bind(new.kind.as_str())
        .bind(&new.body)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(id)
    }

    pub async fn set_question_status(
        &mut self,
        practice: PracticeId,
        question: QuestionId,
        status: QuestionStatus,
        now: Millis,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE questions SET status = $3, updated_at = $4 WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(question)
        .bind(status.as_str())
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        found(done.rows_affected())
    }

    pub async fn set_question_assignee(
        &mut self,
        practice: PracticeId,
        question: QuestionId,
        assignee: Option<ContactId>,
        now: Millis,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE questions SET assignee_contact_id = $3, updated_at = $4 WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(question)
        .bind(assignee)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        found(done.rows_affected())
    }

    pub async fn insert_file(&mut self, file: &FileMeta) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO files (id, practice_id, question_id, entry_id, chat_id, message_seq, name, content_type, \
             size, storage_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(file.id)
        .bind(file.practice_id)
        .bind(file.question_id)
        .bind(file.entry_id)
        .bind(file.chat_id)
        .bind(file.message_seq)
        .bind(&file.name)
        .bind(&file.content_type)
        .bind(file.size)
        .bind(&file.storage_key)
        .bind(file.created_at.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

impl Store {
    pub async fn get_question(
        &self,
        practice: PracticeId,
        id: QuestionId,
    ) -> StoreResult<QuestionSummary> {
        sqlx::query_as::<_, SummaryRow>(concat!(
            summary_select!(),
            "WHERE q.practice_id = $1 AND q.id = $2"
        ))
        .bind(practice)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// Questions for staff, newest activity first.
    pub async fn list_questions(
        &self,
        practice: PracticeId,
        filter: &QuestionFilter,
    ) -> StoreResult<Vec<QuestionSummary>> {
        sqlx::query_as::<_, SummaryRow>(concat!(
            summary_select!(),
            "WHERE q.practice_id = $1 AND ($2 IS NULL OR q.client_id = $2) AND ($3 IS NULL OR q.status = $3) \
             AND ($4 IS NULL OR EXISTS (SELECT 1 FROM client_staff cs WHERE cs.practice_id = q.practice_id \
                  AND cs.client_id = q.client_id AND cs.staff_id = $4)) \
             ORDER BY q.updated_at DESC, q.id DESC"
        ))
        .bind(practice)
        .bind(filter.client)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.assigned_to)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(QuestionSummary::try_from)
        .collect()
    }

    /// The questions a contact sees (Q3) in `client`, open ones first,
    /// then by newest activity; `which` keeps only the open or only the
    /// settled (answered and resolved) ones.
    pub async fn contact_questions(
        &self,
        practice: PracticeId,
        contact: ContactId,
        client: ClientId,
        which: ContactQuestions,
    ) -> StoreResult<Vec<QuestionSummary>> {
        macro_rules! contact_questions_sql {
            ($status:literal) => {
                concat!(
                    summary_select!(),
                    "WHERE q.practice_id = $1 AND q.client_id = $3 ",
                    $status,
                    " AND (c.assignable_questions = 0 OR q.assignee_contact_id IS NULL OR q.assignee_contact_id = $2) \
                     ORDER BY CASE q.status WHEN 'open' THEN 0 WHEN 'answered' THEN 1 ELSE 2 END, q.updated_at DESC, q.id"
                )
            };
        }
        let sql = match which {
            ContactQuestions::All => contact_questions_sql!(""),
            ContactQuestions::Open => contact_questions_sql!("AND q.status = 'open'"),
            ContactQuestions::Settled => contact_questions_sql!("AND q.status <> 'open'"),
        };
        sqlx::query_as::<_, SummaryRow>(sql)
            .bind(practice)
            .bind(contact)
            .bind(client)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(QuestionSummary::try_from)
            .collect()
    }

    /// The open questions a contact sees (Q3) in every client she reaches
    /// (P6: her overview and the switcher's counts), in one query, newest
    /// first.
    pub async fn contact_open_questions(
        &self,
        practice: PracticeId,
        contact: ContactId,
    ) -> StoreResult<Vec<QuestionSummary>> {
        sqlx::query_as::<_, SummaryRow>(concat!(
            summary_select!(),
            "WHERE q.practice_id = $1 AND q.status = 'open' \
             AND (c.id IN (SELECT client_id FROM contact_clients WHERE practice_id = $1 AND contact_id = $2) \
                  OR c.primary_client_id IN (SELECT client_id FROM contact_clients \
                                             WHERE practice_id = $1 AND contact_id = $2)) \
             AND (c.assignable_questions = 0 OR q.assignee_contact_id IS NULL OR q.assignee_contact_id = $2) \
             ORDER BY q.updated_at DESC, q.id"
        ))
        .bind(practice)
        .bind(contact)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(QuestionSummary::try_from)
        .collect()
    }

    /// Counts by state for each client of the practice (Q2).
    pub async fn question_counts(
        &self,
        practice: PracticeId,
    ) -> StoreResult<Vec<(ClientId, QuestionStatus, i64)>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT client_id, status, COUNT(*) FROM questions WHERE practice_id = $1 GROUP BY client_id, status",
        )
        .bind(practice)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(client, status, count)| {
                Ok((
                    parse_id(client)?,
                    QuestionStatus::parse(status)
                        .ok_or_else(|| StoreError::Corrupt(status.clone()))?,
                    *count,
                ))
            })
            .collect()
    }

    /// A question's thread, oldest first, with the files of each entry.
    pub async fn question_entries(
        &self,
        practice: PracticeId,
        question: QuestionId,
    ) -> StoreResult<Vec<Entry>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: String,
            question_id: String,
            author_kind: String,
            author_id: String,
            author_name: String,
            kind: String,
            body: String,
            created_at: i64,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, question_id, author_kind, author_id, author_name, kind, body, created_at \
             FROM question_entries WHERE practice_id = $1 AND question_id = $2 ORDER BY created_at, id",
        )
        .bind(practice)
        .bind(question)
        .fetch_all(&self.pool)
        .await?;
        let files = self.question_files(practice, question).await?;
        rows.into_iter()
            .map(|r| {
                let id: EntryId = parse_id(&r.id)?;
                Ok(Entry {
                    files: files
                        .iter()
                        .filter(|f| f.entry_id == Some(id))
                        .cloned()
                        .collect(),
                    id,
                    question_id: parse_id(&r.question_id)?,
                    author: match r.author_kind.as_str() {
                        "staff" => Author::Staff(parse_id(&r.author_id)?),
                        _ => Author::Contact(parse_id(&r.author_id)?),
                    },
                    author_name: r.author_name,
                    kind: EntryKind::parse(&r.kind)?,
                    body: r.body,
                    created_at: Millis(r.created_at),
                })
            })
            .collect()
    }

    /// X9: a contact's own answers, oldest first, after `(created_at, id)`:
    /// time, entry id, client id, client name, question title, text and
    /// the names of its files.
    pub async fn contact_answers(
        &self,
        practice: PracticeId,
        contact: ContactId,
        after: (i64, &str),
        limit: i64,
    ) -> StoreResult<Vec<ContactAnswer>> {
        let rows: Vec<(i64, String, String, String, String, String)> = sqlx::query_as(
            "SELECT e.created_at, e.id, q.client_id, c.name, q.title, e.body FROM question_entries e \
             JOIN questions q ON q.practice_id = e.practice_id AND q.id = e.question_id \
             JOIN clients c ON c.practice_id = q.practice_id AND c.id = q.client_id \
             WHERE e.practice_id = $1 AND e.author_kind = 'contact' AND e.author_id = $2 AND e.kind = 'answer' \
             AND (e.created_at > $3 OR (e.created_at = $3 AND e.id > $4)) \
             ORDER BY e.created_at, e.id LIMIT $5",
        )
        .bind(practice)
        .bind(contact)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(Vec::new());
        };
        let files: Vec<(String, String)> = sqlx::query_as(
            "SELECT f.entry_id, f.name FROM files f \
             JOIN question_entries e ON e.practice_id = f.practice_id AND e.id = f.entry_id \
             WHERE f.practice_id = $1 AND e.author_kind = 'contact' AND e.author_id = $2 \
             AND e.created_at >= $3 AND e.created_at <= $4 ORDER BY f.created_at, f.id",
        )
        .bind(practice)
        .bind(contact)
        .bind(first.0)
        .bind(last.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(at, id, client, client_name, title, body)| {
                Ok(ContactAnswer {
                    files: files
                        .iter()
                        .filter(|(entry, _)| *entry == id)
                        .map(|(_, name)| name.clone())
                        .collect(),
                    at: Millis(at),
                    id,
                    client_id: parse_id(&client)?,
                    client_name,
                    question: title,
                    body,
                })
            })
            .collect()
    }

    pub async fn question_files(
        &self,
        practice: PracticeId,
        question: QuestionId,
    ) -> StoreResult<Vec<FileMeta>> {
        sqlx::query_as::<_, FileRow>(
            "SELECT id, practice_id, question_id, entry_id, chat_id, message_seq, name, content_type, size, \
             storage_key, created_at FROM files WHERE practice_id = $1 AND question_id = $2 ORDER BY created_at, id",
        )
        .bind(practice)
        .bind(question)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(FileMeta::try_from)
        .collect()
    }

    /// The files of a chat's messages that still stand (a deleted
    /// message's files are gone), for its Files panel: each file finds its
    /// message by key, so a long chat costs no more than a short one.
    pub async fn standing_chat_files(
        &self,
        practice: PracticeId,
        chat: crate::domain::ChatId,
    ) -> StoreResult<Vec<FileMeta>> {
        sqlx::query_as::<_, FileRow>(concat!(
            "SELECT fi.id, fi.practice_id, fi.question_id, fi.entry_id, fi.chat_id, fi.message_seq, fi.name, \
             fi.content_type, fi.size, fi.storage_key, fi.created_at FROM files fi \
             WHERE fi.practice_id = $1 AND fi.chat_id = $2 AND ",
            super::search::file_message_standing!(),
            " ORDER BY fi.message_seq, fi.created_at"
        ))
        .bind(practice)
        .bind(chat)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(FileMeta::try_from)
        .collect()
    }

    /// The files of a chat's messages `from..=to`.
    pub async fn chat_files(
        &self,
        practice: PracticeId,
        chat: crate::domain::ChatId,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<FileMeta>> {
        sqlx::query_as::<_, FileRow>(
            "SELECT id, practice_id, question_id, entry_id, chat_id, message_seq, name, content_type, size, \
             storage_key, created_at FROM files WHERE practice_id = $1 AND chat_id = $2 \
             AND message_seq >= $3 AND message_seq <= $4 ORDER BY message_seq, created_at",
        )
        .bind(practice)
        .bind(chat)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(FileMeta::try_from)
        .collect()
    }

    pub async fn get_file(&self, practice: PracticeId, id: FileId) -> StoreResult<FileMeta> {
        sqlx::query_as::<_, FileRow>(
            "SELECT id, practice_id, question_id, entry_id, chat_id, message_seq, name, content_type, size, \
             storage_key, created_at FROM files WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }
}
