//! The session cookie and the extractors that turn it into a person:
//! [`StaffUser`] for `/app`, [`ContactUser`] for `/portal`.

use super::AppState;
use super::csrf::CsrfToken;
use super::errors::PageError;
use super::layout::Layout;
use crate::app::sessions::{ClientInfo, Identity, Person, Started};
use crate::store::SessionStage;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
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
        let maybe = MaybeIdentity::from_request_parts(parts, state).await?;
        let Some(identity) = maybe.identity else {
            return Err(PageError::SignIn("/app/sign-in"));
        };
        match (&identity.person, identity.session.stage) {
            (Person::Contact(_), _) => Err(PageError::Forbidden(
                "This page is for the practice's team. Your client portal is at /portal.".into(),
            )),
            (Person::Staff(_), SessionStage::Totp) => Err(PageError::SignIn("/app/sign-in/code")),
            (Person::Staff(_), SessionStage::Enrol) => Err(PageError::SignIn("/app/two-factor")),
            (Person::Staff(staff), SessionStage::Active) => Ok(Self {
                layout: Layout::for_identity(&maybe.csrf, &identity).seen_at(state.app.clock.now()),
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
        let maybe = MaybeIdentity::from_request_parts(parts, state).await?;
        let Some(identity) = maybe.identity else {
            return Err(PageError::SignIn("/portal/sign-in"));
        };
        match &identity.person {
            Person::Staff(_) => Err(PageError::Forbidden(
                "This is the client portal; you are signed in as a member of the practice's team. \
                 Sign out first to use the portal."
                    .into(),
            )),
            Person::Contact(contact) => Ok(Self {
                layout: Layout::for_identity(&maybe.csrf, &identity).seen_at(state.app.clock.now()),
                contact: contact.clone(),
                identity,
            }),
        }
    }
}
