//! X10: questions written now to be asked at a chosen time. The store keeps
//! them, claims the due ones (as scheduled messages are claimed), and marks
//! one asked inside the transaction that asks it.

use super::chat_prefs::ScheduledState;
use super::{Store, StoreError, StoreResult, StoreTx, flag, parse_id};
use crate::domain::{ClientId, ContactId, Millis, PracticeId, QuestionId, StaffId};

/// A question waiting to be asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledQuestion {
    pub id: uuid::Uuid,
    pub practice_id: PracticeId,
    pub client_id: ClientId,
    pub author: StaffId,
    pub title: String,
    pub details: String,
    pub assignee: Option<ContactId>,
    /// X7: asked as urgent.
    pub urgent: bool,
    pub send_at: Millis,
    pub state: ScheduledState,
    pub question: Option<QuestionId>,
    pub failure: Option<String>,
}

/// A question to schedule.
#[derive(Clone, Debug)]
pub struct NewScheduledQuestion {
    pub practice: PracticeId,
    pub client: ClientId,
    pub author: StaffId,
    pub title: String,
    pub details: String,
    pub assignee: Option<ContactId>,
    pub urgent: bool,
    pub send_at: Millis,
    pub now: Millis,
}

macro_rules! scheduled_question_columns {
    () => {
        "id, practice_id, client_id, author_id, title, details, assignee_id, urgent, send_at, \
         state, question_id, failure"
    };
}
pub(super) use scheduled_question_columns;

#[derive(sqlx::FromRow)]
pub(super) struct ScheduledQuestionRow {
    id: String,
    practice_id: String,
    client_id: String,
    author_id: String,
    title: String,
    details: String,
    assignee_id: Option<String>,
    urgent: i64,
    send_at: i64,
    state: String,
    question_id: Option<String>,
    failure: Option<String>,
}

impl TryFrom<ScheduledQuestionRow> for ScheduledQuestion {
    type Error = StoreError;
    fn try_from(row: ScheduledQuestionRow) -> StoreResult<Self> {
        Ok(Self {
            id: parse_id(&row.id)?,
            practice_id: parse_id(&row.practice_id)?,
            client_id: parse_id(&row.client_id)?,
            author: parse_id(&row.author_id)?,
            title: row.title,
            details: row.details,
            assignee: row.assignee_id.as_deref().map(parse_id).transpose()?,
            urgent: row.urgent != 0,
            send_at: Millis(row.send_at),
            state: ScheduledState::parse(&row.state)?,
            question: row.question_id.as_deref().map(parse_id).transpose()?,
            failure: row.failure,
        })
    }
}

impl Store {
    pub async fn schedule_question(
        &self,
        new: &NewScheduledQuestion,
    ) -> StoreResult<ScheduledQuestion> {
        let id = uuid::Uuid::now_v7();
        sqlx::query(
            "INSERT INTO scheduled_questions (id, practice_id, client_id, author_id, title, details, \
             assignee_id, urgent, send_at, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'scheduled', $10)",
        )
        .bind(id.to_string())
        .bind(new.practice)
        .bind(new.client)
        .bind(new.author)
        .bind(&new.title)
        .bind(&new.details)
        .bind(new.assignee)
        .bind(flag(new.urgent))
        .bind(new.send_at.0)
        .bind(new.now.0)
        .execute(&self.pool)
        .await?;
        self.get_scheduled_question(new.practice, id).await
    }

    pub async fn get_scheduled_question(
        &self,
        practice: PracticeId,
        id: uuid::Uuid,
    ) -> StoreResult<ScheduledQuestion> {
        sqlx::query_as::<_, ScheduledQuestionRow>(concat!(
            "SELECT ",
            scheduled_question_columns!(),
            " FROM scheduled_questions WHERE practice_id = $1 AND id = $2"
        ))
        .bind(practice)
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// An author's questions waiting to be asked of a client, soonest first.
    pub async fn scheduled_questions_for(
        &self,
        practice: PracticeId,
        client: ClientId,
        author: StaffId,
    ) -> StoreResult<Vec<ScheduledQuestion>> {
        sqlx::query_as::<_, ScheduledQuestionRow>(concat!(
            "SELECT ",
            scheduled_question_columns!(),
            " FROM scheduled_questions WHERE practice_id = $1 AND client_id = $2 AND author_id = $3 \
             AND state IN ('scheduled', 'sending', 'failed') ORDER BY send_at, id"
        ))
        .bind(practice)
        .bind(client)
        .bind(author)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ScheduledQuestion::try_from)
        .collect()
    }

    /// Changes a question not yet claimed for asking; `false` when it is
    /// being asked or gone.
    pub async fn update_scheduled_question(
        &self,
        id: uuid::Uuid,
        new: &NewScheduledQuestion,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE scheduled_questions SET title = $4, details = $5, assignee_id = $6, send_at = $7, \
             urgent = $8, state = 'scheduled', failure = NULL \
             WHERE practice_id = $1 AND id = $2 AND author_id = $3 AND state IN ('scheduled', 'failed')",
        )
        .bind(new.practice)
        .bind(id.to_string())
        .bind(new.author)
        .bind(&new.title)
        .bind(&new.details)
        .bind(new.assignee)
        .bind(new.send_at.0)
        .bind(flag(new.urgent))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Cancels a question not yet claimed for asking; `false` otherwise.
    pub async fn cancel_scheduled_question(
        &self,
        practice: PracticeId,
        id: uuid::Uuid,
        author: StaffId,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM scheduled_questions WHERE practice_id = $1 AND id = $2 AND author_id = $3 \
             AND state IN ('scheduled', 'failed')",
        )
        .bind(practice)
        .bind(id.to_string())
        .bind(author)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims up to `limit` due questions until `lease_until`, across all
    /// practices (the server's timer asks them).
    pub async fn claim_due_scheduled_questions(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> StoreResult<Vec<ScheduledQuestion>> {
        sqlx::query_as::<_, ScheduledQuestionRow>(self.backend.claim_scheduled_questions_sql())
            .bind(now.0)
            .bind(lease_until.0)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(ScheduledQuestion::try_from)
            .collect()
    }

    /// Records that a claimed question could not be asked, and why.
    pub async fn fail_scheduled_question(
        &self,
        practice: PracticeId,
        id: uuid::Uuid,
        why: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE scheduled_questions SET state = 'failed', failure = $3 \
             WHERE practice_id = $1 AND id = $2 AND state = 'sending'",
        )
        .bind(practice)
        .bind(id.to_string())
        .bind(why)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl StoreTx {
    /// Marks a claimed question asked as `question`, in the transaction
    /// that asks it; `false` when another instance already did, so the
    /// caller rolls back.
    pub async fn mark_scheduled_question_asked(
        &mut self,
        practice: PracticeId,
        id: uuid::Uuid,
        question: QuestionId,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE scheduled_questions SET state = 'sent', question_id = $3 \
             WHERE practice_id = $1 AND id = $2 AND state = 'sending'",
        )
        .bind(practice)
        .bind(id.to_string())
        .bind(question)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
