//! `/app/settings/contacts` (P4, admins): every contact and the clients
//! each one can open, editable in one place.

use super::AppState;
use super::errors::PageError;
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use super::staff_pages::Done;
use crate::app::people::ContactWithClients;
use crate::app::sessions::ClientInfo;
use crate::domain::{ClientId, ContactId};
use crate::store::Client;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "all_contacts.html")]
struct AllContactsPage {
    layout: Layout,
    rows: Vec<ContactWithClients>,
    clients: Vec<Client>,
    notice: Option<String>,
}

/// `GET /app/settings/contacts`
pub async fn all_contacts_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let (rows, clients) = state.app.all_contacts(&user.staff).await?;
    Ok(render(
        StatusCode::OK,
        &AllContactsPage {
            layout: user.layout,
            rows,
            clients,
            notice: done.notice(),
        },
    ))
}

#[derive(Deserialize)]
pub struct AddClientForm {
    #[serde(default)]
    client: String,
}

fn parse<T: std::str::FromStr>(id: &str) -> Result<T, PageError> {
    id.parse().map_err(|_| PageError::NotFound)
}

/// `POST /app/settings/contacts/{contact}/clients`
pub async fn add_client_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Path(contact): Path<String>,
    Form(form): Form<AddClientForm>,
) -> Result<Response, PageError> {
    let contact: ContactId = parse(&contact)?;
    let client: ClientId = parse(&form.client)?;
    state
        .app
        .grant_access(&user.staff, contact, client, &origin)
        .await?;
    Ok(Redirect::to("/app/settings/contacts?done=access-given").into_response())
}

/// `POST /app/settings/contacts/{contact}/clients/{client}/remove`
pub async fn remove_client_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Path((contact, client)): Path<(String, String)>,
) -> Result<Response, PageError> {
    state
        .app
        .revoke_access(&user.staff, parse(&contact)?, parse(&client)?, &origin)
        .await?;
    Ok(Redirect::to("/app/settings/contacts?done=access-removed").into_response())
}
