//! `/app/contacts/{id}/edit` and `/delete` (P3): staff change a contact's
//! details; admins delete a contact after being told what happens.

use super::AppState;
use super::errors::PageError;
use super::forms::refusal;
use super::ids::IdPath;
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use super::staff_pages::COMMON_ZONES;
use crate::app::AppError;
use crate::app::contact_edit::{ContactDetails, ContactEdit};
use crate::domain::ContactId;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// Where to go after saving: a page of the staff app only.
#[derive(Deserialize, Default)]
pub struct Back {
    #[serde(default)]
    back: String,
}

impl Back {
    pub fn path(&self) -> Option<&str> {
        let p = self.back.as_str();
        (p.starts_with("/app/")
            && !p.contains("//")
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/-_".contains(c)))
        .then_some(p)
    }
}

#[derive(Default)]
struct EditErrors {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    time_zone: Option<String>,
}

#[derive(Template)]
#[template(path = "contact_edit.html")]
struct EditPage {
    layout: Layout,
    details: ContactDetails,
    form: ContactEdit,
    errors: EditErrors,
    zones: &'static [&'static str],
    back: String,
    country: Option<&'static str>,
}

async fn edit_page(
    state: &AppState,
    user: StaffUser,
    id: ContactId,
    status: StatusCode,
    form: Option<ContactEdit>,
    errors: EditErrors,
    back: &Back,
) -> Result<Response, PageError> {
    let details = state.app.contact_details(&user.staff, id).await?;
    let form = form.unwrap_or_else(|| ContactEdit {
        name: details.contact.name.clone(),
        email: details.contact.email.clone(),
        phone: details.contact.phone.clone().unwrap_or_default(),
        time_zone: details.contact.time_zone.clone().unwrap_or_default(),
    });
    let country = crate::domain::country_name(state.app.phone_country(&user.staff).await?);
    Ok(render(
        status,
        &EditPage {
            layout: user.layout,
            details,
            form,
            errors,
            zones: COMMON_ZONES,
            back: back.path().unwrap_or("/app/contacts").to_owned(),
            country,
        },
    ))
}

/// `GET /app/contacts/{id}/edit`
pub async fn edit_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ContactId>,
    Query(back): Query<Back>,
) -> Result<Response, PageError> {
    edit_page(
        &state,
        user,
        id,
        StatusCode::OK,
        None,
        EditErrors::default(),
        &back,
    )
    .await
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    time_zone: String,
}

/// `POST /app/contacts/{id}/edit`
pub async fn edit_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ContactId>,
    Query(back): Query<Back>,
    Form(form): Form<EditForm>,
) -> Result<Response, PageError> {
    let edit = ContactEdit {
        name: form.name,
        email: form.email,
        phone: form.phone,
        time_zone: form.time_zone,
    };
    match state.app.edit_contact(&user.staff, id, &edit).await {
        Ok(()) => {
            let to = back.path().unwrap_or("/app/contacts");
            let sep = if to.contains('?') { '&' } else { '?' };
            Ok(Redirect::to(&format!("{to}{sep}done=contact-saved")).into_response())
        }
        Err(error) => {
            let refusal = refusal(error)?;
            let errors = EditErrors {
                name: refusal.for_field("name").or_else(|| {
                    (!refusal.about_any(&["email", "phone", "time_zone"]))
                        .then(|| refusal.message.clone())
                }),
                email: refusal.for_field("email"),
                phone: refusal.for_field("phone"),
                time_zone: refusal.for_field("time_zone"),
            };
            edit_page(&state, user, id, refusal.status, Some(edit), errors, &back).await
        }
    }
}

#[derive(Template)]
#[template(path = "contact_delete.html")]
struct DeletePage {
    layout: Layout,
    details: ContactDetails,
}

/// `GET /app/contacts/{id}/delete` (admins): what deleting her does, and
/// the button.
pub async fn delete_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ContactId>,
) -> Result<Response, PageError> {
    if !user.layout.is_admin {
        return Err(AppError::Forbidden.into());
    }
    let details = state.app.contact_details(&user.staff, id).await?;
    Ok(render(
        StatusCode::OK,
        &DeletePage {
            layout: user.layout,
            details,
        },
    ))
}

/// `POST /app/contacts/{id}/delete` (admins)
pub async fn delete_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<ContactId>,
) -> Result<Response, PageError> {
    state.app.delete_contact(&user.staff, id).await?;
    Ok(Redirect::to("/app/contacts?done=contact-deleted").into_response())
}
