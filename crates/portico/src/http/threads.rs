//! A question's thread in either area (Q3, Q4): its page
//! (`/app/questions/{id}`, `/portal/questions/{id}`) and a reply with
//! files: a team member's follow-up (`/app/questions/{id}/follow-up`) and a
//! contact's answer (`/portal/questions/{id}/answer`) are one flow. The use
//! case tells the two apart by the actor; what differs here is the word
//! the page says afterwards and the page's own template (the area's
//! [`ThreadPage`] implementation, beside it).

use super::AppState;
use super::area::Area;
use super::errors::PageError;
use super::forms::form_refusal;
use super::ids::IdPath;
use super::staff_pages::Done;
use super::uploads;
use super::urls;
use crate::app::questions::{Actor, Thread};
use crate::app::sessions::ClientInfo;
use crate::domain::QuestionId;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// What a thread's page shows besides the thread: the reply as typed, and
/// what was just done or why the reply was refused.
pub struct Draft {
    pub status: StatusCode,
    pub body: String,
    /// The largest file the reply may carry, in MB.
    pub max_mb: u64,
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl Draft {
    pub fn new(
        state: &AppState,
        status: StatusCode,
        body: String,
        notice: Option<String>,
        error: Option<String>,
    ) -> Self {
        Self {
            status,
            body,
            max_mb: state.app.files.max_bytes() / (1024 * 1024),
            notice,
            error,
        }
    }
}

/// An area whose people read questions' threads and reply to them.
pub trait ThreadPage: Area {
    /// What the thread's page says once a reply is in (`?done=…`).
    const REPLIED: &'static str;

    /// The thread's page.
    fn render(user: Self::User, thread: Thread, draft: Draft) -> Response;
}

/// A question's page in an area, with `draft` under the thread.
pub(super) async fn thread_page<A: ThreadPage>(
    state: &AppState,
    user: A::User,
    id: QuestionId,
    status: StatusCode,
    body: String,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let thread = state.app.thread(A::actor(&user), id).await?;
    let draft = Draft::new(state, status, body, notice, error);
    Ok(A::render(user, thread, draft))
}

/// `GET /app/questions/{id}`, `GET /portal/questions/{id}`
pub async fn question_get<A: ThreadPage>(
    State(state): State<AppState>,
    user: A::User,
    IdPath(id): IdPath<QuestionId>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    // Q4: a question moved to someone else lands a contact on her portal
    // with a sentence, not on "not found".
    if let Actor::Contact(contact) = A::actor(&user)
        && let Some(client) = state.app.moved_away_from(contact, id).await?
    {
        let to = urls::client_done::<A>(client, "question-moved");
        return Ok(Redirect::to(&to).into_response());
    }
    let notice = done.notice();
    thread_page::<A>(
        &state,
        user,
        id,
        StatusCode::OK,
        String::new(),
        notice,
        None,
    )
    .await
}

/// `POST /app/questions/{id}/follow-up`, `POST /portal/questions/{id}/answer`
/// (with files)
pub async fn reply_post<A: ThreadPage>(
    State(state): State<AppState>,
    user: A::User,
    origin: ClientInfo,
    IdPath(id): IdPath<QuestionId>,
    form: Multipart,
) -> Result<Response, PageError> {
    // Only a question the person may see takes their files.
    let actor = A::actor(&user);
    state.app.visible_question(actor, id).await?;
    let practice = actor.practice_id();
    let upload = match uploads::read_or_refusal(&state.app, practice, form, &["files"], &[]).await?
    {
        Ok(upload) => upload,
        Err((status, message)) => {
            let body = String::new();
            return thread_page::<A>(&state, user, id, status, body, None, Some(message)).await;
        }
    };
    let (body, urgent) = (upload.field("body"), upload.field("urgent") == "on");
    match state
        .app
        .reply_to_question(A::actor(&user), id, body, &upload.files, urgent, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to(&urls::question_done::<A>(id, A::REPLIED)).into_response()),
        Err(error) => {
            state.app.discard_uploads(&upload.files).await;
            let (status, message) = form_refusal(error)?;
            let body = upload.field("body").to_owned();
            thread_page::<A>(&state, user, id, status, body, None, Some(message)).await
        }
    }
}
