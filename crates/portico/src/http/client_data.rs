//! `/app/clients/{id}/data` (X5, admins): a client's data to download as
//! one ZIP, or to erase (the client, or one of its contacts) after typing
//! the name.

use super::AppState;
use super::errors::PageError;
use super::forms::refusal;
use super::ids::IdPath;
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use super::staff_pages::Done;
use super::urls;
use crate::app::sessions::ClientInfo;
use crate::domain::{ClientId, ContactId};
use crate::store::{Client, Contact};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "client_data.html")]
struct DataPage {
    layout: Layout,
    tab: &'static str,
    client: Client,
    primary: Option<Client>,
    contacts: Vec<Contact>,
    notice: Option<String>,
    /// Which form was refused (`client` or a contact's id), what was typed
    /// and why.
    refused: Option<(String, String, String)>,
}

impl DataPage {
    fn typed_for(&self, form: &str) -> &str {
        match &self.refused {
            Some((f, typed, _)) if f == form => typed,
            _ => "",
        }
    }

    fn error_for(&self, form: &str) -> Option<&str> {
        match &self.refused {
            Some((f, _, message)) if f == form => Some(message),
            _ => None,
        }
    }
}

async fn page(
    state: &AppState,
    user: StaffUser,
    client: ClientId,
    status: StatusCode,
    notice: Option<String>,
    refused: Option<(String, String, String)>,
) -> Result<Response, PageError> {
    let (client, contacts) = state.app.client_data(&user.staff, client).await?;
    Ok(render(
        status,
        &DataPage {
            layout: user.layout,
            tab: "data",
            client,
            primary: None,
            contacts,
            notice,
            refused,
        },
    ))
}

/// `GET /app/clients/{id}/data`
pub async fn data_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ClientId>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    page(&state, user, id, StatusCode::OK, done.notice(), None).await
}

/// `GET /app/clients/{id}/export.zip`: everything about the client.
pub async fn export_get(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(id): IdPath<ClientId>,
) -> Result<Response, PageError> {
    let (client, file) = state
        .app
        .export_client(&user.staff, id, &user.layout.time, &origin)
        .await?;
    let handle = tokio::fs::File::from_std(file);
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(handle));
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"client-{}.zip\"", client.id),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /app/clients/{id}/erase`
pub async fn erase_client_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(id): IdPath<ClientId>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .erase_client(&user.staff, id, &form.confirm, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to(&urls::client_data_done(id, "erased")).into_response()),
        Err(error) => {
            let refused = refusal(error)?;
            let why = ("client".to_owned(), form.confirm, refused.message);
            page(&state, user, id, refused.status, None, Some(why)).await
        }
    }
}

/// `POST /app/clients/{id}/contacts/{contact}/erase`
pub async fn erase_contact_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath((id, contact)): IdPath<(ClientId, ContactId)>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .erase_contact(&user.staff, id, contact, &form.confirm, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to(&urls::client_data_done(id, "erased")).into_response()),
        Err(error) => {
            let refused = refusal(error)?;
            let why = (contact.to_string(), form.confirm, refused.message);
            page(&state, user, id, refused.status, None, Some(why)).await
        }
    }
}
