//! Signing in with an e-mail address and a password (A3), the same door in
//! both areas: `/app/sign-in` and `/portal/sign-in`. What differs is the
//! use case that checks the password, where a new session goes next, and
//! the page (the staff one also offers single sign-on, X13): the area's
//! [`SignInDoor`] implementation, beside its page.

use super::AppState;
use super::area::Area;
use super::errors::PageError;
use super::forms::form_refusal;
use super::layout::Layout;
use super::session::{MaybeIdentity, begin_session};
use crate::app::AppError;
use crate::app::sessions::{ClientInfo, Identity, Started};
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use secrecy::SecretString;
use serde::Deserialize;
use std::future::Future;

/// An area with a sign-in page.
pub trait SignInDoor: Area {
    /// Where someone already signed in to the area goes instead of the
    /// form, if they are.
    fn signed_in_to(identity: &Identity) -> Option<&'static str>;

    /// Checks the address and the password, and starts a session.
    fn sign_in(
        state: &AppState,
        typed: Credentials,
        client: &ClientInfo,
    ) -> impl Future<Output = Result<Started, AppError>> + Send;

    /// Where a new session goes next.
    fn next(started: &Started) -> &'static str;

    /// The sign-in page: empty, or with the address typed and why it was
    /// refused.
    fn page(
        state: &AppState,
        layout: Layout,
        status: StatusCode,
        email: String,
        error: Option<String>,
    ) -> impl Future<Output = Result<Response, PageError>> + Send;
}

/// The address and the password typed.
pub struct Credentials {
    pub email: String,
    pub password: SecretString,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `GET /app/sign-in`, `GET /portal/sign-in`
pub async fn sign_in_get<A: SignInDoor>(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
) -> Result<Response, PageError> {
    if let Some(to) = maybe.identity.as_ref().and_then(A::signed_in_to) {
        return Ok(Redirect::to(to).into_response());
    }
    let layout = Layout::public(&maybe.csrf);
    A::page(&state, layout, StatusCode::OK, String::new(), None).await
}

/// `POST /app/sign-in`, `POST /portal/sign-in`
pub async fn sign_in_post<A: SignInDoor>(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    client: ClientInfo,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let typed = Credentials {
        email: form.email.clone(),
        password: SecretString::from(form.password),
    };
    match A::sign_in(&state, typed, &client).await {
        // Whatever session this browser had before is ended: a new id at sign-in.
        Ok(started) => {
            let (old, to) = (maybe.secret.as_deref(), A::next(&started));
            begin_session(&state, CookieJar::new(), old, &started, to).await
        }
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            let layout = Layout::public(&maybe.csrf);
            A::page(&state, layout, status, form.email, Some(message)).await
        }
    }
}
