//! `/api/v1/team`: the practice's team members (P1), read only.

use super::{ApiError, Caller, Json, Params, Problem, id, time};
use crate::app::api_tokens::{Access, Area};
use crate::domain::StaffId;
use crate::store::Staff;
use axum::extract::{Path, State};

/// A team member.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StaffOut {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `admin` or `member`.
    pub role: String,
    pub active: bool,
    pub created_at: String,
}

impl From<&Staff> for StaffOut {
    fn from(staff: &Staff) -> Self {
        Self {
            id: staff.id.to_string(),
            name: staff.name.clone(),
            email: staff.email.clone(),
            role: staff.role.as_str().to_owned(),
            active: staff.active,
            created_at: time(staff.created_at),
        }
    }
}

/// A page of team members.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StaffPage {
    pub items: Vec<StaffOut>,
    pub next_cursor: Option<String>,
}

/// The practice's team.
#[utoipa::path(
    get,
    path = "/team",
    tag = "team",
    params(
        ("limit" = Option<usize>, Query, description = "Items per page, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page"),
    ),
    responses(
        (status = 200, body = StaffPage),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_team(
    State(state): State<super::AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<StaffPage>, ApiError> {
    let staff = caller.require(Area::Team, Access::Read)?;
    let page = params.page()?;
    let team = state.app.staff_directory(staff).await?;
    let (items, next_cursor) = page.apply(team, |s| s.id.to_string());
    Ok(Json(StaffPage {
        items: items.iter().map(StaffOut::from).collect(),
        next_cursor,
    }))
}

/// One team member.
#[utoipa::path(
    get,
    path = "/team/{staff_id}",
    tag = "team",
    params(("staff_id" = String, Path, description = "The team member's id")),
    responses(
        (status = 200, body = StaffOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_member(
    State(state): State<super::AppState>,
    caller: Caller,
    Path(staff_id): Path<String>,
) -> Result<Json<StaffOut>, ApiError> {
    let staff = caller.require(Area::Team, Access::Read)?;
    let wanted = id::<StaffId>(&staff_id)?;
    let team = state.app.staff_directory(staff).await?;
    team.iter()
        .find(|s| s.id == wanted)
        .map(|s| Json(StaffOut::from(s)))
        .ok_or_else(ApiError::not_found)
}
