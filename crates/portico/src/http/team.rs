//! `/app/team` (P1, admins): invite, role, deactivate; and
//! `/app/welcome/{token}`, where an invited team member chooses a password.

use super::AppState;
use super::errors::PageError;
use super::forms::{form_refusal, refusal};
use super::layout::Layout;
use super::pages::render;
use super::session::{MaybeIdentity, StaffUser, session_cookie};
use super::staff_pages::Done;
use crate::app::AppError;
use crate::app::password::MIN_PASSWORD_CHARS;
use crate::app::sessions::ClientInfo;
use crate::domain::StaffId;
use crate::store::{SessionStage, Staff};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

#[derive(Default)]
struct InviteErrors {
    name: Option<String>,
    email: Option<String>,
    role: Option<String>,
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    layout: Layout,
    team: Vec<(Staff, bool)>,
    me: StaffId,
    form: InviteForm,
    errors: InviteErrors,
    notice: Option<String>,
    error: Option<String>,
}

async fn team_page(
    state: &AppState,
    user: StaffUser,
    status: StatusCode,
    form: InviteForm,
    errors: InviteErrors,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let team = state.app.team(&user.staff).await?;
    Ok(render(
        status,
        &TeamPage {
            me: user.staff.id,
            layout: user.layout,
            team,
            form,
            errors,
            notice,
            error,
        },
    ))
}

/// `GET /app/team`
pub async fn team_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    team_page(
        &state,
        user,
        StatusCode::OK,
        InviteForm::default(),
        InviteErrors::default(),
        done.notice(),
        None,
    )
    .await
}

/// `POST /app/team`: invite a team member.
pub async fn team_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Form(form): Form<InviteForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .invite_staff(&user.staff, &form.name, &form.email, &form.role, &origin)
        .await
    {
        Ok(_) => Ok(Redirect::to("/app/team?done=team-invited").into_response()),
        Err(AppError::Forbidden) => Err(AppError::Forbidden.into()),
        Err(error) => {
            let refusal = refusal(error)?;
            let errors = InviteErrors {
                name: refusal.for_field("name"),
                email: refusal.for_field("email"),
                role: refusal.for_field("role"),
            };
            // A refusal about no field of the form shows above it.
            let general = match refusal.field {
                Some("name" | "email" | "role") => None,
                _ => Some(refusal.message),
            };
            team_page(&state, user, refusal.status, form, errors, None, general).await
        }
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// `POST /app/team/{id}/role`
pub async fn role_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Result<Response, PageError> {
    let id: StaffId = id.parse().map_err(|_| PageError::NotFound)?;
    match state
        .app
        .set_staff_role(&user.staff, id, &form.role, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to("/app/team?done=saved").into_response()),
        Err(error) => {
            let refusal = refusal(error)?;
            team_page(
                &state,
                user,
                refusal.status,
                InviteForm::default(),
                InviteErrors::default(),
                None,
                Some(refusal.message),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    active: String,
}

/// `POST /app/team/{id}/active`
pub async fn active_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Path(id): Path<String>,
    Form(form): Form<ActiveForm>,
) -> Result<Response, PageError> {
    let id: StaffId = id.parse().map_err(|_| PageError::NotFound)?;
    match state
        .app
        .set_staff_active(&user.staff, id, form.active == "on", &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to("/app/team?done=saved").into_response()),
        Err(error) => {
            let refusal = refusal(error)?;
            team_page(
                &state,
                user,
                refusal.status,
                InviteForm::default(),
                InviteErrors::default(),
                None,
                Some(refusal.message),
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage {
    layout: Layout,
    link_ok: bool,
    name: String,
    email: String,
    practice_name: String,
    min_chars: usize,
    action: String,
    error: Option<String>,
}

async fn welcome_page(
    state: &AppState,
    maybe: &MaybeIdentity,
    token: &str,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let layout = Layout::public(&maybe.csrf);
    match state.app.peek_staff_invitation(token).await {
        Ok((practice, staff)) => Ok(render(
            status,
            &WelcomePage {
                layout,
                link_ok: true,
                name: staff.name,
                email: staff.email,
                practice_name: practice.name,
                min_chars: MIN_PASSWORD_CHARS,
                action: format!("/app/welcome/{token}"),
                error,
            },
        )),
        Err(AppError::Denied(message)) => Ok(render(
            StatusCode::GONE,
            &WelcomePage {
                layout,
                link_ok: false,
                name: String::new(),
                email: String::new(),
                practice_name: String::new(),
                min_chars: MIN_PASSWORD_CHARS,
                action: String::new(),
                error: Some(message),
            },
        )),
        Err(other) => Err(other.into()),
    }
}

/// `GET /app/welcome/{token}`
pub async fn welcome_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    welcome_page(&state, &maybe, &token, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /app/welcome/{token}`
pub async fn welcome_post(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    Path(token): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    if form.password != form.confirm {
        return welcome_page(
            &state,
            &maybe,
            &token,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("The two passwords are not the same. Type them again.".into()),
        )
        .await;
    }
    match state
        .app
        .accept_staff_invitation(&token, SecretString::from(form.password), &client)
        .await
    {
        Ok(started) => {
            if let Some(old) = &maybe.secret {
                state.app.sign_out(old).await?;
            }
            let to = if started.stage == SessionStage::Enrol {
                "/app/two-factor"
            } else {
                "/app"
            };
            let jar = CookieJar::new().add(session_cookie(&state, &started));
            Ok((jar, Redirect::to(to)).into_response())
        }
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            welcome_page(&state, &maybe, &token, status, Some(message)).await
        }
    }
}
