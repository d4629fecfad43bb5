//! `/api/v1/.../contacts`: a client's contacts, adding one (invited to the
//! portal), reading one, and giving or removing access (P3, P4).

use super::{ApiError, Body, Caller, Json, Params, Problem, id, time};
use crate::app::api_tokens::{Access, Area};
use crate::app::people::AddContact;
use crate::app::sessions::ClientInfo;
use crate::domain::{ClientId, ContactId};
use crate::store::Contact;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// A contact: a person at a client who uses the portal.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ContactOut {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    /// `invited` or `active`.
    pub status: String,
    pub created_at: String,
}

impl From<&Contact> for ContactOut {
    fn from(contact: &Contact) -> Self {
        Self {
            id: contact.id.to_string(),
            name: contact.name.clone(),
            email: contact.email.clone(),
            phone: contact.phone.clone(),
            status: contact.status.as_str().to_owned(),
            created_at: time(contact.created_at),
        }
    }
}

/// A page of contacts.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ContactPage {
    pub items: Vec<ContactOut>,
    pub next_cursor: Option<String>,
}

/// A contact with the clients she can open.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ContactDetail {
    #[serde(flatten)]
    pub contact: ContactOut,
    pub client_ids: Vec<String>,
}

/// A new contact of a client.
#[derive(Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NewContactIn {
    pub name: String,
    pub email: String,
    /// A mobile number (optional).
    pub phone: String,
}

/// What adding a contact did.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ContactAdded {
    pub contact: ContactOut,
    /// True when a new contact was made and invited; false when the address
    /// belongs to a contact of the practice already (nobody new was made).
    pub created: bool,
    /// Whether the contact can open this client now.
    pub has_access: bool,
}

/// A client's contacts.
#[utoipa::path(
    get,
    path = "/clients/{client_id}/contacts",
    tag = "contacts",
    params(
        ("client_id" = String, Path, description = "The client's id"),
        ("limit" = Option<usize>, Query, description = "Items per page, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page"),
    ),
    responses(
        (status = 200, body = ContactPage),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_contacts(
    State(state): State<super::AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
    params: Params,
) -> Result<Json<ContactPage>, ApiError> {
    let staff = caller.require(Area::Contacts, Access::Read)?;
    let page = params.page()?;
    let contacts = state
        .app
        .client_contacts(staff, id::<ClientId>(&client_id)?)
        .await?;
    let (items, next_cursor) = page.apply(contacts, |c| c.id.to_string());
    Ok(Json(ContactPage {
        items: items.iter().map(ContactOut::from).collect(),
        next_cursor,
    }))
}

/// Adds a contact to a client and invites them to the portal. An address
/// that belongs to a contact of the practice already makes nobody new.
#[utoipa::path(
    post,
    path = "/clients/{client_id}/contacts",
    tag = "contacts",
    params(("client_id" = String, Path, description = "The client's id")),
    request_body = NewContactIn,
    responses(
        (status = 201, description = "Made and invited", body = ContactAdded),
        (status = 200, description = "An existing contact of the practice", body = ContactAdded),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_contact(
    State(state): State<super::AppState>,
    caller: Caller,
    origin: ClientInfo,
    Path(client_id): Path<String>,
    Body(input): Body<NewContactIn>,
) -> Result<(StatusCode, Json<ContactAdded>), ApiError> {
    let staff = caller.require(Area::Contacts, Access::Write)?;
    let added = state
        .app
        .add_contact_to_client(
            staff,
            id::<ClientId>(&client_id)?,
            &input.name,
            &input.email,
            &input.phone,
            &origin,
        )
        .await?;
    Ok(match added {
        AddContact::Created(contact) => (
            StatusCode::CREATED,
            Json(ContactAdded {
                contact: ContactOut::from(&contact),
                created: true,
                has_access: true,
            }),
        ),
        AddContact::Existing {
            contact,
            has_access,
        } => (
            StatusCode::OK,
            Json(ContactAdded {
                contact: ContactOut::from(&contact),
                created: false,
                has_access,
            }),
        ),
    })
}

/// One contact, with the clients she can open.
#[utoipa::path(
    get,
    path = "/contacts/{contact_id}",
    tag = "contacts",
    params(("contact_id" = String, Path, description = "The contact's id")),
    responses(
        (status = 200, body = ContactDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_contact(
    State(state): State<super::AppState>,
    caller: Caller,
    Path(contact_id): Path<String>,
) -> Result<Json<ContactDetail>, ApiError> {
    let staff = caller.require(Area::Contacts, Access::Read)?;
    let details = state
        .app
        .contact_details(staff, id::<ContactId>(&contact_id)?)
        .await?;
    Ok(Json(ContactDetail {
        contact: ContactOut::from(&details.contact),
        client_ids: details.clients.iter().map(|c| c.id.to_string()).collect(),
    }))
}

/// Gives an existing contact access to a client (admins, as on the pages).
#[utoipa::path(
    put,
    path = "/clients/{client_id}/contacts/{contact_id}/access",
    tag = "contacts",
    params(
        ("client_id" = String, Path, description = "The client's id"),
        ("contact_id" = String, Path, description = "The contact's id"),
    ),
    responses(
        (status = 204, description = "The contact can open the client"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn give_access(
    State(state): State<super::AppState>,
    caller: Caller,
    origin: ClientInfo,
    Path((client_id, contact_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let staff = caller.require(Area::Contacts, Access::Write)?;
    let (client, contact) = (id::<ClientId>(&client_id)?, id::<ContactId>(&contact_id)?);
    // Another practice's contact is "not found", as on the pages.
    state.app.contact_details(staff, contact).await?;
    state
        .app
        .grant_access(staff, contact, client, &origin)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a client away from a contact (admins, as on the pages).
#[utoipa::path(
    delete,
    path = "/clients/{client_id}/contacts/{contact_id}/access",
    tag = "contacts",
    params(
        ("client_id" = String, Path, description = "The client's id"),
        ("contact_id" = String, Path, description = "The contact's id"),
    ),
    responses(
        (status = 204, description = "The contact can no longer open the client"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_access(
    State(state): State<super::AppState>,
    caller: Caller,
    origin: ClientInfo,
    Path((client_id, contact_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let staff = caller.require(Area::Contacts, Access::Write)?;
    let (client, contact) = (id::<ClientId>(&client_id)?, id::<ContactId>(&contact_id)?);
    state.app.contact_details(staff, contact).await?;
    state
        .app
        .revoke_access(staff, contact, client, &origin)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
