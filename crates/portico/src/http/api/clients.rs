//! `/api/v1/clients`: list, read, create (P2).

use super::{ApiError, Body, Caller, Json, Params, Problem, id, time};
use crate::app::api_tokens::{Access, Area};
use crate::domain::ClientId;
use crate::store::{Client, ClientFilter};
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// A client of the practice.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ClientOut {
    pub id: String,
    pub name: String,
    /// `individual` or `business`.
    pub kind: String,
    /// The family's primary record, when this is a sub-record.
    pub primary_client_id: Option<String>,
    /// Q3: questions may be assigned to one contact.
    pub assignable_questions: bool,
    pub created_at: String,
}

impl From<&Client> for ClientOut {
    fn from(client: &Client) -> Self {
        Self {
            id: client.id.to_string(),
            name: client.name.clone(),
            kind: client.kind.as_str().to_owned(),
            primary_client_id: client.primary_client_id.map(|c| c.to_string()),
            assignable_questions: client.assignable_questions,
            created_at: time(client.created_at),
        }
    }
}

/// A page of clients.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ClientPage {
    pub items: Vec<ClientOut>,
    /// Give it as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A client with who looks after it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ClientDetail {
    #[serde(flatten)]
    pub client: ClientOut,
    /// The team members assigned to the client.
    pub assigned_staff_ids: Vec<String>,
    /// The sub-records of the family, when this is a primary record.
    pub family_member_ids: Vec<String>,
}

/// A new client.
#[derive(Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NewClientIn {
    pub name: String,
    /// `individual` or `business`.
    pub kind: String,
}

/// The practice's clients, oldest first.
#[utoipa::path(
    get,
    path = "/clients",
    tag = "clients",
    params(
        ("search" = Option<String>, Query, description = "Part of the client's name"),
        ("limit" = Option<usize>, Query, description = "Items per page, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page"),
    ),
    responses(
        (status = 200, body = ClientPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_clients(
    State(state): State<super::AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<ClientPage>, ApiError> {
    let staff = caller.require(Area::Clients, Access::Read)?;
    let page = params.page()?;
    let filter = ClientFilter {
        search: params.get("search").map(str::to_owned),
        assigned_to: None,
    };
    let clients = state.app.list_clients(staff, &filter).await?;
    let (items, next_cursor) = page.apply(clients, |c| c.client.id.to_string());
    Ok(Json(ClientPage {
        items: items.iter().map(|c| ClientOut::from(&c.client)).collect(),
        next_cursor,
    }))
}

/// Adds a client, looked after by the token's team member.
#[utoipa::path(
    post,
    path = "/clients",
    tag = "clients",
    request_body = NewClientIn,
    responses(
        (status = 201, body = ClientOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_client(
    State(state): State<super::AppState>,
    caller: Caller,
    Body(input): Body<NewClientIn>,
) -> Result<(StatusCode, Json<ClientOut>), ApiError> {
    let staff = caller.require(Area::Clients, Access::Write)?;
    let client = state
        .app
        .create_client(staff, &input.name, &input.kind)
        .await?;
    Ok((StatusCode::CREATED, Json(ClientOut::from(&client))))
}

/// One client.
#[utoipa::path(
    get,
    path = "/clients/{client_id}",
    tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, body = ClientDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_client(
    State(state): State<super::AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<Json<ClientDetail>, ApiError> {
    let staff = caller.require(Area::Clients, Access::Read)?;
    let page = state
        .app
        .client_page(staff, id::<ClientId>(&client_id)?)
        .await?;
    Ok(Json(ClientDetail {
        client: ClientOut::from(&page.client),
        assigned_staff_ids: page.assigned.iter().map(|s| s.id.to_string()).collect(),
        family_member_ids: page.members.iter().map(|c| c.id.to_string()).collect(),
    }))
}
