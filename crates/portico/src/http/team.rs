//! `/app/team` (P1, admins): invite, role, deactivate. An invited team
//! member's welcome is in [`super::password_links`].

use super::AppState;
use super::errors::PageError;
use super::forms::refusal;
use super::ids::IdPath;
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use super::staff_pages::Done;
use crate::app::AppError;
use crate::app::sessions::ClientInfo;
use crate::domain::StaffId;
use crate::store::Staff;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
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
    IdPath(id): IdPath<StaffId>,
    Form(form): Form<RoleForm>,
) -> Result<Response, PageError> {
    let outcome = state
        .app
        .set_staff_role(&user.staff, id, &form.role, &origin)
        .await;
    member_changed(&state, user, outcome).await
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
    IdPath(id): IdPath<StaffId>,
    Form(form): Form<ActiveForm>,
) -> Result<Response, PageError> {
    let outcome = state
        .app
        .set_staff_active(&user.staff, id, form.active == "on", &origin)
        .await;
    member_changed(&state, user, outcome).await
}

/// Back to the team after a member's role or access changed, or the team
/// page with the refusal.
async fn member_changed(
    state: &AppState,
    user: StaffUser,
    outcome: Result<(), AppError>,
) -> Result<Response, PageError> {
    match outcome {
        Ok(()) => Ok(Redirect::to("/app/team?done=saved").into_response()),
        Err(error) => {
            let refusal = refusal(error)?;
            team_page(
                state,
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
