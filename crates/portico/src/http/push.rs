//! Web Push (X12): the service worker, adding and removing a person's
//! devices (from their notification preferences), and the link a push
//! notification opens.

use super::AppState;
use super::errors::PageError;
use super::session::{ContactUser, StaffUser};
use crate::app::AppError;
use crate::domain::PracticeId;
use crate::store::Member;
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

async fn add_device(
    state: &AppState,
    practice: PracticeId,
    me: Member,
    headers: &HeaderMap,
    form: &DeviceForm,
) -> Result<Response, PageError> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match state
        .app
        .add_push_device(
            practice,
            me,
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

/// `POST /portal/account/push-devices`
pub async fn contact_device_post(
    State(state): State<AppState>,
    user: ContactUser,
    headers: HeaderMap,
    Form(form): Form<DeviceForm>,
) -> Result<Response, PageError> {
    let me = Member::Contact(user.contact.id);
    add_device(&state, user.contact.practice_id, me, &headers, &form).await
}

/// `POST /app/account/push-devices`
pub async fn staff_device_post(
    State(state): State<AppState>,
    user: StaffUser,
    headers: HeaderMap,
    Form(form): Form<DeviceForm>,
) -> Result<Response, PageError> {
    let me = Member::Staff(user.staff.id);
    add_device(&state, user.staff.practice_id, me, &headers, &form).await
}

/// `POST /portal/account/push-devices/{id}/remove`
pub async fn contact_device_remove_post(
    State(state): State<AppState>,
    user: ContactUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let me = Member::Contact(user.contact.id);
    state
        .app
        .remove_push_device(user.contact.practice_id, me, &id)
        .await?;
    Ok(Redirect::to("/portal/account/notifications?done=device-removed").into_response())
}

/// `POST /app/account/push-devices/{id}/remove`
pub async fn staff_device_remove_post(
    State(state): State<AppState>,
    user: StaffUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let me = Member::Staff(user.staff.id);
    state
        .app
        .remove_push_device(user.staff.practice_id, me, &id)
        .await?;
    Ok(Redirect::to("/app/account/notifications?done=device-removed").into_response())
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
