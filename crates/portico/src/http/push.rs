//! Web Push (X12): the service worker, adding and removing a person's
//! devices (from their notification preferences), and the link a push
//! notification opens.

use super::AppState;
use super::area::Area;
use super::errors::PageError;
use super::urls;
use crate::app::AppError;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

const SERVICE_WORKER: &str = include_str!("../../static/sw.js");

/// `GET /sw.js`: served from the root so that its scope covers the portal
/// and the app. It handles pushes and clicks only, and caches nothing.
pub async fn service_worker_get() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Browsers check for a new worker on their own; no-cache keeps
            // an old one from lingering.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SERVICE_WORKER,
    )
}

/// What `PushSubscription.toJSON()` gives, flattened into a form.
#[derive(Deserialize)]
pub struct DeviceForm {
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    p256dh: String,
    #[serde(default)]
    auth: String,
}

/// `POST /app/account/push-devices`, `POST /portal/account/push-devices`
pub async fn device_post<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    headers: HeaderMap,
    Form(form): Form<DeviceForm>,
) -> Result<Response, PageError> {
    let actor = A::actor(&user);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match state
        .app
        .add_push_device(
            actor.practice_id(),
            actor.member(),
            &form.endpoint,
            &form.p256dh,
            &form.auth,
            user_agent,
        )
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        // The page's script shows the sentence beside the button.
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            error.to_string(),
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}

/// `POST /app/account/push-devices/{id}/remove`,
/// `POST /portal/account/push-devices/{id}/remove`
pub async fn device_remove_post<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let actor = A::actor(&user);
    state
        .app
        .remove_push_device(actor.practice_id(), actor.member(), &id)
        .await?;
    let done = urls::account_notifications_done::<A>("device-removed");
    Ok(Redirect::to(&done).into_response())
}

/// `GET /push/open/{token}`: a push notification was clicked. The token
/// (in the encrypted payload only) marks it opened, so the same items are
/// not e-mailed too, and the person lands on the exact place (signing in
/// first when their session ended).
pub async fn open_get(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let target = state.app.open_push(&token).await?;
    Ok(Redirect::to(&target).into_response())
}
