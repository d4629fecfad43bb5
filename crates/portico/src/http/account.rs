//! A person's own account page, the same in both areas (X15): the time
//! zone of the times they read, and their sessions (A5).

use super::AppState;
use super::area::Area;
use super::errors::PageError;
use super::layout::Layout;
use super::pages::render;
use super::staff_pages::{COMMON_ZONES, Done, TimeZoneForm};
use super::urls;
use crate::app::AppError;
use crate::app::questions::Actor;
use crate::app::sessions::{ClientInfo, SessionView};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub layout: Layout,
    /// The person's own time zone (empty: the practice's).
    pub time_zone: Option<String>,
    pub zone_error: Option<String>,
    pub zones: &'static [&'static str],
    /// X15: where the time zone form posts.
    pub zone_action: String,
    pub practice_zone: String,
    pub totp_enabled: bool,
    pub sessions: Vec<SessionView>,
    pub notice: Option<String>,
    pub sign_out_others_action: String,
}

/// `GET /app/account`, `GET /portal/account`
pub async fn account_get<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    account_page::<A>(&state, &user, StatusCode::OK, done.notice(), None, None).await
}

async fn account_page<A: Area>(
    state: &AppState,
    user: &A::User,
    status: StatusCode,
    notice: Option<String>,
    typed_zone: Option<String>,
    zone_error: Option<String>,
) -> Result<Response, PageError> {
    let identity = A::identity(user);
    let actor = A::actor(user);
    let sessions = state.app.sessions_of(identity).await?;
    let time_zone = match typed_zone {
        Some(zone) => zone,
        None => state.app.my_time_zone(actor).await?,
    };
    Ok(render(
        status,
        &AccountPage {
            time_zone: Some(time_zone),
            zone_error,
            zones: COMMON_ZONES,
            zone_action: urls::account_time_zone::<A>(),
            practice_zone: identity.practice.time_zone.clone(),
            totp_enabled: matches!(actor, Actor::Staff(staff) if staff.totp_enabled),
            layout: A::layout(user).clone(),
            sessions,
            notice,
            sign_out_others_action: urls::account_sign_out_others::<A>(),
        },
    ))
}

/// `POST /app/account/time-zone`, `POST /portal/account/time-zone` (X15):
/// the zone of the times the person reads.
pub async fn time_zone_post<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    Form(form): Form<TimeZoneForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .set_my_time_zone(A::actor(&user), &form.time_zone)
        .await
    {
        Ok(()) => Ok(Redirect::to(&urls::account_done::<A>("saved")).into_response()),
        Err(AppError::Invalid(e)) => {
            account_page::<A>(
                &state,
                &user,
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

/// `POST /app/account/sign-out-others`, `POST /portal/account/sign-out-others`
pub async fn sign_out_others_post<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    origin: ClientInfo,
) -> Result<Response, PageError> {
    state
        .app
        .sign_out_other_sessions(A::identity(&user), &origin)
        .await?;
    Ok(Redirect::to(&urls::account_done::<A>("signed-out-others")).into_response())
}
