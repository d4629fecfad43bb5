//! `/app/settings/contacts` (P4, admins): every contact and the clients
//! each one can open, editable in one place.

use super::AppState;
use super::errors::PageError;
use super::ids::{IdPath, parse};
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use super::urls;
use crate::app::people::ContactWithClients;
use crate::app::sessions::ClientInfo;
use crate::domain::{ClientId, ContactId};
use crate::store::Client;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
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
    error: Option<(ContactId, String)>,
}

impl AllContactsPage {
    /// The clients a contact cannot open yet: what "Give access to" offers.
    fn lacking(&self, row: &ContactWithClients) -> Vec<&Client> {
        self.clients
            .iter()
            .filter(|c| !row.clients.iter().any(|has| has.id == c.id))
            .collect()
    }

    fn error_for(&self, row: &ContactWithClients) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(id, _)| *id == row.contact.id)
            .map(|(_, message)| message.as_str())
    }
}

/// After a change: who got or lost which client (`?given=` or `?removed=`
/// with `contact:client`).
#[derive(Deserialize, Default)]
pub struct Changed {
    #[serde(default)]
    given: String,
    #[serde(default)]
    removed: String,
}

fn names(rows: &[ContactWithClients], clients: &[Client], pair: &str) -> Option<(String, String)> {
    let (contact, client) = pair.split_once(':')?;
    let contact: ContactId = contact.parse().ok()?;
    let client: ClientId = client.parse().ok()?;
    let who = rows.iter().find(|r| r.contact.id == contact)?;
    let what = clients.iter().find(|c| c.id == client)?;
    Some((who.contact.name.clone(), what.name.clone()))
}

async fn page(
    state: &AppState,
    user: StaffUser,
    status: StatusCode,
    changed: &Changed,
    error: Option<(ContactId, String)>,
) -> Result<Response, PageError> {
    let (rows, clients) = state.app.all_contacts(&user.staff).await?;
    let notice = if let Some((who, what)) = names(&rows, &clients, &changed.given) {
        Some(format!(
            "{who} can now open {what}: its questions for her and the chats she is added to."
        ))
    } else {
        names(&rows, &clients, &changed.removed).map(|(who, what)| {
            format!("{who} can no longer open {what}: its questions and chats are closed to her.")
        })
    };
    Ok(render(
        status,
        &AllContactsPage {
            layout: user.layout,
            rows,
            clients,
            notice,
            error,
        },
    ))
}

/// `GET /app/settings/contacts`
pub async fn all_contacts_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(changed): Query<Changed>,
) -> Result<Response, PageError> {
    page(&state, user, StatusCode::OK, &changed, None).await
}

#[derive(Deserialize)]
pub struct AddClientForm {
    #[serde(default)]
    client: String,
}

/// `POST /app/settings/contacts/{contact}/clients`
pub async fn add_client_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(contact): IdPath<ContactId>,
    Form(form): Form<AddClientForm>,
) -> Result<Response, PageError> {
    if form.client.trim().is_empty() {
        let message = "Choose a client to give access to.".to_owned();
        return page(
            &state,
            user,
            StatusCode::UNPROCESSABLE_ENTITY,
            &Changed::default(),
            Some((contact, message)),
        )
        .await;
    }
    let client: ClientId = parse(&form.client)?;
    state
        .app
        .grant_access(&user.staff, contact, client, &origin)
        .await?;
    Ok(Redirect::to(&urls::all_contacts_given(contact, client)).into_response())
}

/// `POST /app/settings/contacts/{contact}/clients/{client}/remove`
pub async fn remove_client_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath((contact, client)): IdPath<(ContactId, ClientId)>,
) -> Result<Response, PageError> {
    state
        .app
        .revoke_access(&user.staff, contact, client, &origin)
        .await?;
    Ok(Redirect::to(&urls::all_contacts_removed(contact, client)).into_response())
}
