//! `/api/v1/questions`: ask a client, list by state, read a thread, follow
//! up, resolve and reopen (Q1–Q3).

use super::{ApiError, Body, Caller, FieldProblem, Json, Params, Problem, id, time};
use crate::app::api_tokens::{Access, Area};
use crate::app::questions::{Actor, QuestionInput};
use crate::domain::{ClientId, ContactId, QuestionId};
use crate::store::{Author, Entry, Question, QuestionFilter, QuestionStatus, QuestionSummary};
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// A question to a client.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct QuestionOut {
    pub id: String,
    pub client_id: String,
    pub title: String,
    pub details: String,
    /// `open`, `answered` or `resolved`.
    pub state: String,
    /// The one contact it is assigned to, if any.
    pub assignee_contact_id: Option<String>,
    pub asked_by_staff_id: String,
    pub asked_at: String,
    pub updated_at: String,
}

impl From<&Question> for QuestionOut {
    fn from(q: &Question) -> Self {
        Self {
            id: q.id.to_string(),
            client_id: q.client_id.to_string(),
            title: q.title.clone(),
            details: q.details.clone(),
            state: q.status.as_str().to_owned(),
            assignee_contact_id: q.assignee.map(|c| c.to_string()),
            asked_by_staff_id: q.asked_by.to_string(),
            asked_at: time(q.asked_at),
            updated_at: time(q.updated_at),
        }
    }
}

impl From<&QuestionSummary> for QuestionOut {
    fn from(q: &QuestionSummary) -> Self {
        Self::from(&q.question)
    }
}

/// A page of questions.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct QuestionPage {
    pub items: Vec<QuestionOut>,
    pub next_cursor: Option<String>,
}

/// A step of a question's thread.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EntryOut {
    pub id: String,
    /// `answer`, `follow_up`, `reassigned`, `resolved` or `reopened`.
    pub kind: String,
    /// `staff` or `contact`.
    pub author_kind: String,
    pub author_id: String,
    pub author_name: String,
    pub body: String,
    pub created_at: String,
    /// The files sent with it: names and ids (downloaded on the pages).
    pub files: Vec<FileOut>,
}

/// A file's description.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FileOut {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

impl From<&crate::store::FileMeta> for FileOut {
    fn from(file: &crate::store::FileMeta) -> Self {
        Self {
            id: file.id.to_string(),
            name: file.name.clone(),
            content_type: file.content_type.clone(),
            size: file.size,
        }
    }
}

impl From<&Entry> for EntryOut {
    fn from(e: &Entry) -> Self {
        let (author_kind, author_id) = match e.author {
            Author::Staff(id) => ("staff", id.to_string()),
            Author::Contact(id) => ("contact", id.to_string()),
        };
        Self {
            id: e.id.to_string(),
            kind: e.kind.as_str().to_owned(),
            author_kind: author_kind.to_owned(),
            author_id,
            author_name: e.author_name.clone(),
            body: e.body.clone(),
            created_at: time(e.created_at),
            files: e.files.iter().map(FileOut::from).collect(),
        }
    }
}

/// A question and its thread.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ThreadOut {
    pub question: QuestionOut,
    pub entries: Vec<EntryOut>,
}

/// A question to ask.
#[derive(Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NewQuestionIn {
    pub title: String,
    pub details: String,
    /// A contact of the client to assign it to (when the client's questions
    /// are assignable).
    pub assignee_contact_id: Option<String>,
    /// Reaches contacts in their quiet hours.
    pub urgent: bool,
}

/// A follow-up in a question's thread.
#[derive(Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FollowUpIn {
    pub body: String,
    pub urgent: bool,
}

/// The practice's questions, by state and client.
#[utoipa::path(
    get,
    path = "/questions",
    tag = "questions",
    params(
        ("state" = Option<String>, Query, description = "open, answered or resolved"),
        ("client_id" = Option<String>, Query, description = "Only this client's questions"),
        ("limit" = Option<usize>, Query, description = "Items per page, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page"),
    ),
    responses(
        (status = 200, body = QuestionPage),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_questions(
    State(state): State<super::AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<QuestionPage>, ApiError> {
    let staff = caller.require(Area::Questions, Access::Read)?;
    let page = params.page()?;
    let status = match params.get("state") {
        None => None,
        Some(text) => Some(QuestionStatus::parse(text).ok_or_else(|| {
            ApiError::validation(vec![FieldProblem::new(
                "state",
                "state must be open, answered or resolved.".into(),
            )])
        })?),
    };
    let client = params.get("client_id").map(id::<ClientId>).transpose()?;
    let filter = QuestionFilter {
        client,
        status,
        assigned_to: None,
    };
    let questions = state.app.staff_questions(staff, &filter).await?;
    let (items, next_cursor) = page.apply(questions, |q| q.question.id.to_string());
    Ok(Json(QuestionPage {
        items: items.iter().map(QuestionOut::from).collect(),
        next_cursor,
    }))
}

/// Asks a client a question.
#[utoipa::path(
    post,
    path = "/clients/{client_id}/questions",
    tag = "questions",
    params(("client_id" = String, Path, description = "The client's id")),
    request_body = NewQuestionIn,
    responses(
        (status = 201, body = QuestionOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ask_question(
    State(state): State<super::AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
    Body(input): Body<NewQuestionIn>,
) -> Result<(StatusCode, Json<QuestionOut>), ApiError> {
    let staff = caller.require(Area::Questions, Access::Write)?;
    let client = id::<ClientId>(&client_id)?;
    let assignee = match input.assignee_contact_id.as_deref() {
        None | Some("") => None,
        Some(text) => Some(text.parse::<ContactId>().map_err(|_| {
            ApiError::validation(vec![FieldProblem::new(
                "assignee_contact_id",
                "Choose a contact who can open this client.".into(),
            )])
        })?),
    };
    let asked = state
        .app
        .ask_questions(
            staff,
            client,
            &[QuestionInput {
                title: input.title,
                details: input.details,
                assignee,
                urgent: input.urgent,
            }],
        )
        .await?;
    let question = asked.first().ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::CREATED, Json(QuestionOut::from(question))))
}

/// A question and its thread. Reading it through the API marks nothing seen.
#[utoipa::path(
    get,
    path = "/questions/{question_id}",
    tag = "questions",
    params(("question_id" = String, Path, description = "The question's id")),
    responses(
        (status = 200, body = ThreadOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_question(
    State(state): State<super::AppState>,
    caller: Caller,
    Path(question_id): Path<String>,
) -> Result<Json<ThreadOut>, ApiError> {
    let staff = caller.require(Area::Questions, Access::Read)?;
    thread_of(&state, staff, id::<QuestionId>(&question_id)?).await
}

async fn thread_of(
    state: &super::AppState,
    staff: &crate::store::Staff,
    question: QuestionId,
) -> Result<Json<ThreadOut>, ApiError> {
    let thread = state
        .app
        .thread_unseen(Actor::Staff(staff), question)
        .await?;
    Ok(Json(ThreadOut {
        question: QuestionOut::from(&thread.question),
        entries: thread.entries.iter().map(EntryOut::from).collect(),
    }))
}

/// Follows up in a question's thread; the question is open again.
#[utoipa::path(
    post,
    path = "/questions/{question_id}/follow-ups",
    tag = "questions",
    params(("question_id" = String, Path, description = "The question's id")),
    request_body = FollowUpIn,
    responses(
        (status = 201, body = ThreadOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn follow_up(
    State(state): State<super::AppState>,
    caller: Caller,
    Path(question_id): Path<String>,
    Body(input): Body<FollowUpIn>,
) -> Result<(StatusCode, Json<ThreadOut>), ApiError> {
    let staff = caller.require(Area::Questions, Access::Write)?;
    let question = id::<QuestionId>(&question_id)?;
    state
        .app
        .follow_up_question(staff, question, &input.body, &[], input.urgent)
        .await?;
    Ok((
        StatusCode::CREATED,
        thread_of(&state, staff, question).await?,
    ))
}

/// Resolves a question.
#[utoipa::path(
    post,
    path = "/questions/{question_id}/resolve",
    tag = "questions",
    params(("question_id" = String, Path, description = "The question's id")),
    responses(
        (status = 200, body = ThreadOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn resolve(
    State(state): State<super::AppState>,
    caller: Caller,
    Path(question_id): Path<String>,
) -> Result<Json<ThreadOut>, ApiError> {
    set_resolved(&state, &caller, &question_id, true).await
}

/// Reopens a resolved question.
#[utoipa::path(
    post,
    path = "/questions/{question_id}/reopen",
    tag = "questions",
    params(("question_id" = String, Path, description = "The question's id")),
    responses(
        (status = 200, body = ThreadOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reopen(
    State(state): State<super::AppState>,
    caller: Caller,
    Path(question_id): Path<String>,
) -> Result<Json<ThreadOut>, ApiError> {
    set_resolved(&state, &caller, &question_id, false).await
}

async fn set_resolved(
    state: &super::AppState,
    caller: &Caller,
    question_id: &str,
    resolved: bool,
) -> Result<Json<ThreadOut>, ApiError> {
    let staff = caller.require(Area::Questions, Access::Write)?;
    let question = id::<QuestionId>(question_id)?;
    state
        .app
        .set_question_resolved(staff, question, resolved)
        .await?;
    thread_of(state, staff, question).await
}
