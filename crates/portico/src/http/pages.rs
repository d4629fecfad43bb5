//! Pages that belong to no area: the front door and the "not found" page.

use super::AppState;
use super::errors::PageError;
use super::layout::Layout;
use super::session::{MaybeIdentity, cleared_session_cookie};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

/// Renders a page template, or a plain error if the template fails.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "could not render a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
}

/// `GET /`: says nothing of what runs behind it (X15).
pub async fn home_get(maybe: MaybeIdentity) -> Response {
    render(
        StatusCode::OK,
        &HomePage {
            layout: Layout::public(&maybe.csrf),
        },
    )
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    layout: Layout,
}

/// Any path Portico does not know.
pub async fn not_found() -> Response {
    render(
        StatusCode::NOT_FOUND,
        &NotFoundPage {
            layout: Layout::anonymous(),
        },
    )
}

/// `POST /sign-out`: ends the session server-side and clears the cookie.
pub async fn sign_out_post(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    origin: crate::app::sessions::ClientInfo,
) -> Result<Response, PageError> {
    let to = match &maybe.identity {
        Some(identity) if identity.contact().is_some() => "/portal/sign-in",
        Some(_) => "/app/sign-in",
        None => "/",
    };
    match (&maybe.identity, &maybe.secret) {
        (Some(identity), Some(secret)) => {
            state.app.sign_out_person(identity, secret, &origin).await?;
        }
        (None, Some(secret)) => state.app.sign_out(secret).await?,
        _ => {}
    }
    let jar = CookieJar::new().add(cleared_session_cookie(&state));
    Ok((jar, Redirect::to(to)).into_response())
}
