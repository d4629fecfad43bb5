//! The session cookie and the extractors that turn it into a person:
//! [`StaffUser`] for `/app`, [`ContactUser`] for `/portal`.

use super::AppState;
use super::area::{Area, Portal, Staff};
use super::csrf::CsrfToken;
use super::errors::PageError;
use super::layout::Layout;
use super::urls;
use crate::app::sessions::{ClientInfo, Identity, Person, Started};
use crate::store::SessionStage;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use std::net::SocketAddr;

pub const SESSION_COOKIE: &str = "portico_session";
/// The name when `public_url` is https: only a secure, host-wide cookie set
/// by this host itself may carry it (no sibling domain can plant one).
pub const SECURE_SESSION_COOKIE: &str = "__Host-portico_session";

/// Cookies are `Secure` and `__Host-` named when people reach Portico over
/// https.
pub fn secure_cookies(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

pub fn session_cookie_name(state: &AppState) -> &'static str {
    if secure_cookies(state) {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The cookie that carries a new session's secret.
pub fn session_cookie(state: &AppState, started: &Started) -> Cookie<'static> {
    Cookie::build((session_cookie_name(state), started.secret.clone()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure_cookies(state))
        .build()
}

/// A cookie that removes the session cookie.
pub fn cleared_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = Cookie::build((session_cookie_name(state), ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure_cookies(state))
        .build();
    cookie.make_removal();
    cookie
}

pub fn session_secret(parts: &Parts, state: &AppState) -> Option<String> {
    CookieJar::from_headers(&parts.headers)
        .get(session_cookie_name(state))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let forwarded = state
            .config
            .trust_forwarded_for
            .then(|| {
                parts
                    .headers
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(',').next())
                    .map(|v| v.trim().to_owned())
            })
            .flatten();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let request_id = parts
            .headers
            .get(&super::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Ok(ClientInfo {
            ip: forwarded.or(peer).unwrap_or_else(|| "unknown".into()),
            user_agent,
            request_id,
        })
    }
}

/// The anti-forgery token of this request (set by the CSRF middleware).
pub fn csrf_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<CsrfToken>()
        .map(|t| t.0.clone())
        .unwrap_or_default()
}

/// Whoever the cookie names, in any stage of signing in, or nobody.
#[derive(Debug)]
pub struct MaybeIdentity {
    pub identity: Option<Identity>,
    pub secret: Option<String>,
    pub csrf: String,
}

impl FromRequestParts<AppState> for MaybeIdentity {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let csrf = csrf_of(parts);
        let Some(secret) = session_secret(parts, state) else {
            return Ok(Self {
                identity: None,
                secret: None,
                csrf,
            });
        };
        let client = ClientInfo::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        let identity = state.app.authenticate(&secret, &client.ip).await?;
        Ok(Self {
            identity,
            secret: Some(secret),
            csrf,
        })
    }
}

/// A staff user, fully signed in.
#[derive(Debug)]
pub struct StaffUser {
    pub identity: Identity,
    pub staff: crate::store::Staff,
    pub layout: Layout,
}

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (identity, csrf) = signed_in_person(parts, state, Staff::SIGN_IN).await?;
        match (&identity.person, identity.session.stage) {
            (Person::Contact(_), _) => Err(PageError::Forbidden(
                "This page is for the practice's team. Your client portal is at /portal.".into(),
            )),
            (Person::Staff(_), SessionStage::Totp) => Err(PageError::SignIn(urls::TWO_FACTOR_CODE)),
            (Person::Staff(_), SessionStage::Enrol) => Err(PageError::SignIn(urls::TWO_FACTOR)),
            (Person::Staff(staff), SessionStage::Active) => Ok(Self {
                layout: frame(state, &csrf, &identity),
                staff: staff.clone(),
                identity,
            }),
        }
    }
}

/// A contact, signed in to the portal.
#[derive(Debug)]
pub struct ContactUser {
    pub identity: Identity,
    pub contact: crate::store::Contact,
    pub layout: Layout,
}

impl FromRequestParts<AppState> for ContactUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (identity, csrf) = signed_in_person(parts, state, Portal::SIGN_IN).await?;
        match &identity.person {
            Person::Staff(_) => Err(PageError::Forbidden(
                "This is the client portal; you are signed in as a member of the practice's team. \
                 Sign out first to use the portal."
                    .into(),
            )),
            Person::Contact(contact) => Ok(Self {
                layout: frame(state, &csrf, &identity),
                contact: contact.clone(),
                identity,
            }),
        }
    }
}

/// Whoever the cookie names, in any stage of signing in, and the request's
/// anti-forgery token; nobody is sent to the area's `sign_in` page.
async fn signed_in_person(
    parts: &mut Parts,
    state: &AppState,
    sign_in: &'static str,
) -> Result<(Identity, String), PageError> {
    let maybe = MaybeIdentity::from_request_parts(parts, state).await?;
    match maybe.identity {
        Some(identity) => Ok((identity, maybe.csrf)),
        None => Err(PageError::SignIn(sign_in)),
    }
}

/// The frame of a signed-in person's pages.
fn frame(state: &AppState, csrf: &str, identity: &Identity) -> Layout {
    Layout::for_identity(csrf, identity).seen_at(state.app.clock.now())
}

/// A session just begun (a sign-in, a link followed, a password chosen):
/// the session this browser had before (`replacing`) is ended, the new
/// one's cookie set (added to `jar`), and the person sent on to `to`.
pub async fn begin_session(
    state: &AppState,
    jar: CookieJar,
    replacing: Option<&str>,
    started: &Started,
    to: &str,
) -> Result<Response, PageError> {
    if let Some(old) = replacing {
        state.app.sign_out(old).await?;
    }
    let jar = jar.add(session_cookie(state, started));
    Ok((jar, Redirect::to(to)).into_response())
}
