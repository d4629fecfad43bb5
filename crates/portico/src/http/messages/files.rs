//! The thumbnails of pictures shared in chats and questions.

use crate::app::AppError;
use crate::app::questions::Actor;
use crate::app::sessions::Person;
use crate::domain::FileId;
use crate::http::AppState;
use crate::http::errors::PageError;
use crate::http::ids::IdPath;
use crate::http::session::MaybeIdentity;
use crate::store::SessionStage;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `GET /files/{id}/thumb`: a picture's thumbnail, made by the server.
pub async fn thumb_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    IdPath(id): IdPath<FileId>,
) -> Result<Response, PageError> {
    let Some(identity) = maybe
        .identity
        .filter(|i| i.session.stage == SessionStage::Active)
    else {
        return Err(PageError::NotFound);
    };
    let actor = match &identity.person {
        Person::Staff(staff) => Actor::Staff(staff),
        Person::Contact(contact) => Actor::Contact(contact),
    };
    match state.app.thumbnail(actor, id).await {
        Ok(bytes) => Ok((
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "private, no-store"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; sandbox",
                ),
            ],
            bytes,
        )
            .into_response()),
        // A picture too large or broken to preview: the page offers it as
        // a download instead.
        Err(AppError::Conflict { message, .. }) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            [(header::CACHE_CONTROL, "private, no-store")],
            message,
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}
