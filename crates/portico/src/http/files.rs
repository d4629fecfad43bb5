//! `GET /files/{id}`: a file of a question the signed-in person may see,
//! always as an attachment, never rendered in the page.

use super::AppState;
use super::errors::PageError;
use super::ids::IdPath;
use super::session::MaybeIdentity;
use crate::app::AppError;
use crate::app::questions::Actor;
use crate::app::sessions::{ClientInfo, Person};
use crate::domain::FileId;
use crate::store::SessionStage;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// RFC 6266 / 5987: an ASCII fallback and the UTF-8 name.
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `GET /files/{id}`
pub async fn file_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
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
    let file = state.app.download_file(actor, id, &client).await?;
    let stream = state
        .app
        .files
        .open(&file.storage_key)
        .await
        .map_err(AppError::from)?;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    // Only types Portico checked on the way in are named; anything else is bytes.
    let content_type = HeaderValue::from_str(&file.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Ok(value) = HeaderValue::from_str(&disposition(&file.name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size.max(0)));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn names_are_quoted_safely() {
        assert_eq!(
            disposition("bank statement.pdf"),
            "attachment; filename=\"bank statement.pdf\"; filename*=UTF-8''bank%20statement.pdf"
        );
        assert_eq!(
            disposition("reçu \"1\".pdf"),
            "attachment; filename=\"re_u _1_.pdf\"; filename*=UTF-8''re%C3%A7u%20%221%22.pdf"
        );
    }
}
