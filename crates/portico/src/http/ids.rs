//! Ids in addresses and forms. Every id of [`crate::domain`] is a UUID as
//! text; anything else where one is expected names nothing, so it is
//! answered "not found" (404), never "bad request".

use super::errors::PageError;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The typed ids (and other values) of a route's path, like
/// [`axum::extract::Path`], but a malformed one is a 404:
/// `IdPath(chat): IdPath<ChatId>`, or for several,
/// `IdPath((contact, chat)): IdPath<(ContactId, ChatId)>`.
#[derive(Debug)]
pub struct IdPath<T>(pub T);

impl<S, T> FromRequestParts<S> for IdPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(_) => Err(PageError::NotFound),
        }
    }
}

/// An id given in a form or a query: a malformed one is a 404 too.
pub fn parse<T: std::str::FromStr>(id: &str) -> Result<T, PageError> {
    id.parse().map_err(|_| PageError::NotFound)
}
