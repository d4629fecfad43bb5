//! Errors on pages, split three ways: a session that ended goes to the
//! sign-in page; a "no" (a refusal: invalid, conflict, denied, throttled,
//! forbidden, not found) is a page or a form with its status and sentence;
//! anything else is an internal failure: an apology page with the request
//! id, and the whole cause in the log next to that id.

use super::layout::Layout;
use crate::app::AppError;
use askama::Template;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
    request_id: Option<&'a str>,
}

/// A plain error page (no signed-in navigation).
pub fn render_error(status: StatusCode, heading: &str, message: &str) -> Response {
    render_error_with_id(status, heading, message, None)
}

fn render_error_with_id(
    status: StatusCode,
    heading: &str,
    message: &str,
    request_id: Option<&str>,
) -> Response {
    let page = ErrorPage {
        layout: Layout::anonymous(),
        heading,
        message,
        request_id,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_owned()).into_response(),
    }
}

/// Marks a response as an internal failure, for [`error_pages`] to log and
/// dress; it carries the cause.
#[derive(Clone, Debug)]
struct InternalFailure(String);

/// What a page handler can fail with.
#[derive(Debug)]
pub enum PageError {
    /// Not there, or not this person's to see: the two are never told apart.
    NotFound,
    /// Signed in, but this is not for them; the sentence says why.
    Forbidden(String),
    /// Not signed in (or the session ended): to this sign-in page.
    SignIn(&'static str),
    /// A refusal shown as a page of its own: the status and the sentence.
    Refused(StatusCode, String),
    /// Anything else: logged whole, shown as an error page.
    Internal(String),
}

/// What a person is told about a refusal: its status and sentence; `None`
/// for an internal failure.
pub fn refusal_status(error: &AppError) -> Option<(StatusCode, String)> {
    use crate::app::password::PasswordError;
    use crate::files::FileError;
    use crate::store::StoreError;
    let status = match error {
        AppError::Invalid(_) | AppError::Fields(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Password(
            PasswordError::TooShort | PasswordError::TooLong | PasswordError::Weak(_),
        ) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::Forbidden => StatusCode::FORBIDDEN,
        AppError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::Denied(_) => StatusCode::UNAUTHORIZED,
        AppError::Conflict { .. } => StatusCode::CONFLICT,
        AppError::File(
            FileError::TooLarge { .. } | FileError::RefusedType { .. } | FileError::Empty { .. },
        ) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::File(FileError::Upload(_)) => StatusCode::BAD_REQUEST,
        // Already logged where it failed; the person keeps the draft.
        AppError::Store(StoreError::BatchFailed(_)) => {
            return Some((
                StatusCode::SERVICE_UNAVAILABLE,
                "Your message was not saved. Please send it again.".into(),
            ));
        }
        AppError::Password(_)
        | AppError::File(FileError::Storage(_))
        | AppError::Store(_)
        | AppError::Internal(_) => return None,
    };
    Some((status, error.to_string()))
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound => PageError::NotFound,
            AppError::Forbidden => PageError::Forbidden("You do not have access to this.".into()),
            other => match refusal_status(&other) {
                Some((status, message)) => PageError::Refused(status, message),
                None => PageError::Internal(format!("{other:#}")),
            },
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound => render_error(
                StatusCode::NOT_FOUND,
                "We could not find that page",
                "The address may be mistyped, or what it pointed to is not yours to see or no longer exists.",
            ),
            PageError::Forbidden(message) => render_error(
                StatusCode::FORBIDDEN,
                "You do not have access to this",
                &message,
            ),
            PageError::SignIn(to) => Redirect::to(to).into_response(),
            PageError::Refused(status, message) => {
                render_error(status, "That could not be done", &message)
            }
            PageError::Internal(cause) => {
                let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                response.extensions_mut().insert(InternalFailure(cause));
                response
            }
        }
    }
}

/// Logs every 500 with its request id and cause, and turns internal
/// failures into an error page that shows the request id, so a person can
/// quote it and the log line can be found.
pub async fn error_pages(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let id = request_id.as_deref().unwrap_or("-");
    let Some(InternalFailure(cause)) = response.extensions().get::<InternalFailure>() else {
        // A 500 made elsewhere (a layer, a handler's own answer): logged,
        // passed on as it is.
        tracing::error!(request_id = id, "request failed with a server error");
        return response;
    };
    tracing::error!(request_id = id, %cause, "request failed");
    render_error_with_id(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side",
        "Nothing you did caused this, and nothing you had saved is lost. Please try again in a moment; \
         if it keeps happening, tell your practice and quote the reference below.",
        request_id.as_deref(),
    )
}
