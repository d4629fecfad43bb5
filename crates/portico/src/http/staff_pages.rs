//! The staff app's pages of this area: home, contacts (A4), my account
//! (A6), practice settings (A5) and the outbox (N3).

use super::AppState;
use super::errors::PageError;
use super::ids::IdPath;
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use crate::app::AppError;
use crate::app::sessions::ClientInfo;
use crate::delivery::worker::MAX_ATTEMPTS;
use crate::domain::{ContactId, Millis};
use crate::store::{ContactStatus, OutboxItem, OutboxStatus};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// `?done=…` after a change: which sentence to show.
#[derive(Deserialize, Default)]
pub struct Done {
    pub done: Option<String>,
}

impl Done {
    pub fn notice(&self) -> Option<String> {
        let text = match self.done.as_deref()? {
            "invited" => "The invitation is on its way.",
            "reset" => "The link to set a password is on its way.",
            "signed-out-others" => "You are now signed out everywhere else.",
            "saved" => "Saved.",
            "retried" => "The message will be sent again now.",
            "contact-added" => "The contact was added and their invitation is on its way.",
            "access-given" => "Access given.",
            "access-removed" => "Access removed.",
            "sent" => "Your message is on its way.",
            "contact-saved" => "The contact's details were saved.",
            "contact-deleted" => {
                "The contact was deleted: her access and sessions have ended; what she wrote stays."
            }
            "team-invited" => "The invitation is on its way.",
            "asked" => "The question was asked.",
            "asked-many" => "The questions were asked.",
            "scheduled" => "The question will be asked at the time you chose.",
            "scheduled-cancelled" => "The scheduled question was cancelled.",
            "followed-up" => "Your follow-up was added; the question is open again.",
            "resolved" => "Marked as resolved.",
            "reopened" => "Reopened.",
            "reassigned" => "The question was moved.",
            "answered" => "Thank you: your answer was sent.",
            "erased" => "Erased. Their files are being removed.",
            "question-moved" => {
                "That question is with someone else now, so it does not wait for you. What waits for you is below."
            }
            _ => return None,
        };
        Some(text.to_owned())
    }
}

#[derive(Template)]
#[template(path = "staff_home.html")]
struct HomePage {
    layout: Layout,
    staff_name: String,
    practice_name: String,
    totp_enabled: bool,
    waiting: crate::app::home::Waiting,
    nudge_days: i64,
    now: Millis,
}

/// `GET /app`: what waits for the signed-in team member.
pub async fn home_get(
    State(state): State<AppState>,
    user: StaffUser,
) -> Result<Response, PageError> {
    let waiting = state.app.staff_waiting(&user.staff).await?;
    let now = state.app.clock.now();
    Ok(render(
        StatusCode::OK,
        &HomePage {
            waiting,
            nudge_days: crate::app::home::INVITATION_NUDGE_DAYS,
            now,
            staff_name: user.staff.name.clone(),
            practice_name: user.identity.practice.name.clone(),
            totp_enabled: user.staff.totp_enabled,
            layout: user.layout.seen_at(now),
        },
    ))
}

struct ContactRow {
    id: ContactId,
    name: String,
    email: String,
    active: bool,
    state: &'static str,
    last_sign_in: Option<Millis>,
}

#[derive(Template)]
#[template(path = "staff_contacts.html")]
struct ContactsPage {
    layout: Layout,
    contacts: Vec<ContactRow>,
    notice: Option<String>,
    error: Option<String>,
}

async fn contacts_page(
    state: &AppState,
    user: StaffUser,
    notice: Option<String>,
    error: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let contacts = state.app.contacts_for_staff(&user.staff).await?;
    let rows = contacts
        .into_iter()
        .map(|c| ContactRow {
            id: c.id,
            active: c.status == ContactStatus::Active,
            state: match (c.status, c.last_sign_in_at) {
                (ContactStatus::Invited, _) => "Invited, not activated",
                (ContactStatus::Active, None) => "Active, never signed in",
                (ContactStatus::Active, Some(_)) => "Active",
            },
            last_sign_in: c.last_sign_in_at,
            name: c.name,
            email: c.email,
        })
        .collect();
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    Ok(render(
        status,
        &ContactsPage {
            layout: user.layout,
            contacts: rows,
            notice,
            error,
        },
    ))
}

/// `GET /app/contacts`
pub async fn contacts_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    contacts_page(&state, user, done.notice(), None).await
}

/// `POST /app/contacts/{id}/invite`
pub async fn invite_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(id): IdPath<ContactId>,
    Query(back): Query<super::contact_edit::Back>,
) -> Result<Response, PageError> {
    match state.app.invite_contact(&user.staff, id, &origin).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}?done=invited",
            back.path().unwrap_or("/app/contacts")
        ))
        .into_response()),
        Err(AppError::Conflict { message, .. }) => {
            contacts_page(&state, user, None, Some((StatusCode::CONFLICT, message))).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /app/contacts/{id}/password-reset`
pub async fn password_reset_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(id): IdPath<ContactId>,
    Query(back): Query<super::contact_edit::Back>,
) -> Result<Response, PageError> {
    state
        .app
        .send_contact_password_reset(&user.staff, id, &origin)
        .await?;
    Ok(Redirect::to(&format!(
        "{}?done=reset",
        back.path().unwrap_or("/app/contacts")
    ))
    .into_response())
}

/// Time zones offered first; any name of the tz database is accepted.
pub const COMMON_ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Australia/Perth",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Pacific/Auckland",
];

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    require_totp: bool,
    dead_count: usize,
    notice: Option<String>,
    time_zone: String,
    zone_error: Option<String>,
    zones: &'static [&'static str],
    allow_sharing: bool,
}

/// `GET /app/settings` (admins)
pub async fn settings_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    settings_page(&state, user, StatusCode::OK, done.notice(), None, None).await
}

async fn settings_page(
    state: &AppState,
    user: StaffUser,
    status: StatusCode,
    notice: Option<String>,
    typed_zone: Option<String>,
    zone_error: Option<String>,
) -> Result<Response, PageError> {
    let dead = state
        .app
        .outbox_for_admin(&user.staff, OutboxStatus::Dead)
        .await?;
    let time_zone = match typed_zone {
        Some(zone) => zone,
        None => state.app.practice_time_zone(&user.staff).await?,
    };
    Ok(render(
        status,
        &SettingsPage {
            require_totp: user.identity.practice.require_totp,
            dead_count: dead.len(),
            layout: user.layout,
            notice,
            time_zone,
            zone_error,
            zones: COMMON_ZONES,
            allow_sharing: state.app.chat_sharing_allowed(&user.staff).await?,
        },
    ))
}

#[derive(Deserialize)]
pub struct TimeZoneForm {
    #[serde(default)]
    pub time_zone: String,
}

/// `POST /app/settings/time-zone` (admins)
pub async fn time_zone_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Form(form): Form<TimeZoneForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .set_practice_time_zone(&user.staff, &form.time_zone, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to("/app/settings?done=saved").into_response()),
        Err(AppError::Invalid(e)) => {
            settings_page(
                &state,
                user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(form.time_zone),
                Some(e.message),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct SecurityForm {
    require_totp: Option<String>,
}

/// `POST /app/settings/security` (admins)
pub async fn security_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Form(form): Form<SecurityForm>,
) -> Result<Response, PageError> {
    state
        .app
        .set_require_two_factor(&user.identity, form.require_totp.is_some(), &origin)
        .await?;
    Ok(Redirect::to("/app/settings?done=saved").into_response())
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    layout: Layout,
    dead: Vec<OutboxItem>,
    pending: Vec<OutboxItem>,
    max_attempts: i64,
    notice: Option<String>,
}

/// `GET /app/settings/outbox` (admins)
pub async fn outbox_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let dead = state
        .app
        .outbox_for_admin(&user.staff, OutboxStatus::Dead)
        .await?;
    let pending = state
        .app
        .outbox_for_admin(&user.staff, OutboxStatus::Pending)
        .await?;
    Ok(render(
        StatusCode::OK,
        &OutboxPage {
            layout: user.layout,
            dead,
            pending,
            max_attempts: MAX_ATTEMPTS,
            notice: done.notice(),
        },
    ))
}

/// `POST /app/settings/outbox/{id}/retry` (admins)
pub async fn outbox_retry_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<uuid::Uuid>,
) -> Result<Response, PageError> {
    // Outbox ids are UUIDs; anything else names no item.
    state
        .app
        .retry_outbox_item(&user.staff, &id.to_string())
        .await?;
    Ok(Redirect::to("/app/settings/outbox?done=retried").into_response())
}

/// `POST /app/alerts/read`
pub async fn alerts_read_post(
    State(state): State<AppState>,
    user: StaffUser,
) -> Result<Response, PageError> {
    state.app.mark_alerts_read(&user.staff).await?;
    Ok(Redirect::to("/app").into_response())
}
