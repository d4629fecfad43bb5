//! Pages that belong to no area: the front door and the "not found" page.

use super::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

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
    backend: &'static str,
}

/// `GET /`
pub async fn home_get(State(state): State<AppState>) -> Response {
    render(
        StatusCode::OK,
        &HomePage {
            backend: state.app.store.backend().name(),
        },
    )
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage;

/// Any path Portico does not know.
pub async fn not_found() -> Response {
    render(StatusCode::NOT_FOUND, &NotFoundPage)
}
