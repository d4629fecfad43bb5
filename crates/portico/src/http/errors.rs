//! Errors on pages, split three ways: a session that ended goes to the
//! sign-in page; a "no" is a message in a page; anything else is an error
//! page with the request id, and the whole cause in the log.

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

/// Marks a response as an internal failure, for [`error_pages`] to dress.
#[derive(Clone, Copy, Debug)]
struct InternalFailure;

/// What a page handler can fail with.
#[derive(Debug)]
pub enum PageError {
    /// Not there, or not this person's to see: the two are never told apart.
    NotFound,
    /// Signed in, but this is not for them; the sentence says why.
    Forbidden(String),
    /// Not signed in (or the session ended): to this sign-in page.
    SignIn(&'static str),
    /// Anything else: logged whole, shown as an error page.
    Internal(String),
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound => PageError::NotFound,
            AppError::Forbidden => PageError::Forbidden("You do not have access to this.".into()),
            other => PageError::Internal(format!("{other:#}")),
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
            PageError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                response.extensions_mut().insert(InternalFailure);
                response
            }
        }
    }
}

/// Turns internal failures into an error page that shows the request id,
/// so a person can quote it and the log line can be found.
pub async fn error_pages(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    if response.extensions().get::<InternalFailure>().is_none() {
        return response;
    }
    render_error_with_id(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side",
        "Nothing you did caused this, and nothing you had saved is lost. Please try again in a moment; \
         if it keeps happening, tell your practice and quote the reference below.",
        request_id.as_deref(),
    )
}
