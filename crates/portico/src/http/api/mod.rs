//! X3: the JSON API under `/api/v1`. Every route is registered together
//! with its OpenAPI description (utoipa-axum), so the document at
//! `/api/v1/openapi.json` cannot drift from the routes. A request carries an
//! API token as `Authorization: Bearer`; cookies are never read here (so a
//! browser's session cannot be ridden across sites, and CSRF does not
//! apply). Handlers call the same use cases as the pages, as the token's
//! team member, after checking the token's scope for the area.

mod chats;
mod clients;
mod contacts;
mod problem;
mod questions;
mod team;

pub use problem::{ApiError, FieldProblem, Problem};

use super::AppState;
use crate::app::api_tokens::{Access, ApiCaller, Area};
use crate::domain::Millis;
use axum::Extension;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the API lives.
pub const PREFIX: &str = "/api/v1";
/// The most items one page of a list holds.
pub const MAX_LIMIT: usize = 200;
/// Items in a page when the request does not say.
pub const DEFAULT_LIMIT: usize = 50;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portico API",
        version = "1",
        description = "Clients, contacts, questions, chats and the team of a practice, for integrations. \
                       Authenticate with an API token made under My account → API tokens: \
                       `Authorization: Bearer ptc_…`. Errors are RFC 9457 problem details."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "clients", description = "Clients of the practice (scope clients:read / clients:write)"),
        (name = "contacts", description = "Contacts of clients and their access (contacts:read / contacts:write)"),
        (name = "questions", description = "Questions to clients (questions:read / questions:write)"),
        (name = "messages", description = "Chats and messages (messages:read / messages:write)"),
        (name = "team", description = "The practice's team (team:read)"),
        (name = "meta", description = "The token and this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ptc_…")
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document, made once when the router is built.
#[derive(Clone, Debug)]
struct Document(Arc<String>);

/// The API's routes and its OpenAPI document. The caller nests nothing:
/// paths are complete (`/api/v1/...`).
pub fn router(state: &AppState) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let gate = Gate {
        state: state.clone(),
        limiter: Arc::new(Limiter::new(state.config.api_limit_per_minute)),
    };
    let upload_limit = axum::extract::DefaultBodyLimit::max(
        usize::try_from(state.config.max_upload_bytes.saturating_mul(5)).unwrap_or(usize::MAX),
    );
    let (schemas, paths, upload) = routes!(chats::upload_files);
    let authed = OpenApiRouter::new()
        .routes(routes!(me_get))
        .routes(routes!(clients::list_clients, clients::create_client))
        .routes(routes!(clients::get_client))
        .routes(routes!(contacts::list_contacts, contacts::add_contact))
        .routes(routes!(contacts::get_contact))
        .routes(routes!(contacts::give_access, contacts::remove_access))
        .routes(routes!(questions::list_questions))
        .routes(routes!(questions::ask_question))
        .routes(routes!(questions::get_question))
        .routes(routes!(questions::follow_up))
        .routes(routes!(questions::resolve))
        .routes(routes!(questions::reopen))
        .routes(routes!(chats::list_chats))
        .routes(routes!(chats::list_messages, chats::send_message))
        .routes((schemas, paths, upload.layer(upload_limit)))
        .routes(routes!(team::list_team))
        .routes(routes!(team::get_member))
        .layer(axum::middleware::from_fn_with_state(gate, authenticate));
    let api = OpenApiRouter::new()
        .routes(routes!(openapi_get))
        .merge(authed);
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(PREFIX, api)
        .split_for_parts();
    let json = doc.to_json().unwrap_or_else(|_| "{}".to_owned());
    let router = router
        .route(
            "/api/v1/{*rest}",
            axum::routing::any(|| async { ApiError::not_found() }),
        )
        .layer(Extension(Document(Arc::new(json))));
    (router, doc)
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
async fn openapi_get(Extension(doc): Extension<Document>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.as_str().to_owned(),
    )
        .into_response()
}

/// Who the token acts as, and what it may do.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    /// The team member the token acts as.
    staff: team::StaffOut,
    /// The token's scopes.
    scopes: Vec<String>,
    token_name: String,
    /// When the token stops working (RFC 3339).
    expires_at: String,
}

/// The token in use and the team member it acts as.
#[utoipa::path(
    get,
    path = "/me",
    tag = "meta",
    responses(
        (status = 200, body = Me),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn me_get(Caller(caller): Caller) -> Json<Me> {
    Json(Me {
        staff: team::StaffOut::from(&caller.staff),
        scopes: caller
            .token
            .scopes
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        token_name: caller.token.name.clone(),
        expires_at: time(caller.token.expires_at),
    })
}

pub use axum::Json;

/// A time as RFC 3339 (UTC).
pub fn time(at: Millis) -> String {
    jiff::Timestamp::from_millisecond(at.0)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

// — authentication and the rate limit —

#[derive(Clone)]
struct Gate {
    state: AppState,
    limiter: Arc<Limiter>,
}

/// The bearer token of a request, if it carries one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

async fn authenticate(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    let Some(secret) = bearer(request.headers()) else {
        return ApiError::unauthorized(
            "Send an API token as `Authorization: Bearer ptc_…`; cookies are not accepted here.",
        )
        .into_response();
    };
    let caller = match gate.state.app.authenticate_api_token(secret).await {
        Ok(Some(caller)) => caller,
        Ok(None) => {
            return ApiError::unauthorized(
                "The token is not valid: unknown, expired or revoked, or its team member is no longer active.",
            )
            .into_response();
        }
        Err(error) => return ApiError::from(error).into_response(),
    };
    let quota = gate
        .limiter
        .take(caller.token.id, gate.state.app.clock.now());
    if let Some(quota) = &quota
        && !quota.allowed
    {
        let mut response = ApiError::rate_limited(quota.reset_secs).into_response();
        quota.write(response.headers_mut());
        return response;
    }
    request.extensions_mut().insert(caller);
    let mut response = next.run(request).await;
    if let Some(quota) = &quota {
        quota.write(response.headers_mut());
    }
    response
}

/// Requests per token in fixed windows of a minute, counted by this
/// instance (as the send limit is).
#[derive(Debug)]
struct Limiter {
    per_minute: u32,
    windows: Mutex<HashMap<uuid::Uuid, (i64, u32)>>,
}

const WINDOW_MS: i64 = 60_000;

/// What a request used of its token's minute.
#[derive(Clone, Copy, Debug)]
struct Quota {
    limit: u32,
    remaining: u32,
    reset_secs: i64,
    allowed: bool,
}

impl Quota {
    /// The IETF `RateLimit-Policy` and `RateLimit` fields
    /// (draft-ietf-httpapi-ratelimit-headers), and `Retry-After` when refused.
    fn write(&self, headers: &mut HeaderMap) {
        let policy = format!("\"per-token\";q={};w=60", self.limit);
        let now = format!("\"per-token\";r={};t={}", self.remaining, self.reset_secs);
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert("ratelimit-policy", value);
        }
        if let Ok(value) = HeaderValue::from_str(&now) {
            headers.insert("ratelimit", value);
        }
        if !self.allowed {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(self.reset_secs));
        }
    }
}

impl Limiter {
    fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request; `None` when there is no limit.
    fn take(&self, token: uuid::Uuid, now: Millis) -> Option<Quota> {
        if self.per_minute == 0 {
            return None;
        }
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.0 - *start < WINDOW_MS);
        }
        let window = windows.entry(token).or_insert((now.0, 0));
        if now.0 - window.0 >= WINDOW_MS {
            *window = (now.0, 0);
        }
        let allowed = window.1 < self.per_minute;
        if allowed {
            window.1 += 1;
        }
        let reset_ms = (window.0 + WINDOW_MS - now.0).max(0);
        Some(Quota {
            limit: self.per_minute,
            remaining: self.per_minute - window.1,
            reset_secs: ((reset_ms + 999) / 1000).max(1),
            allowed,
        })
    }
}

// — extractors —

/// The token's caller, authenticated by the gate.
pub struct Caller(pub ApiCaller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ApiCaller>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::unauthorized("Send an API token."))
    }
}

impl Caller {
    /// The token's scopes allow `access` to `area`.
    pub fn require(&self, area: Area, access: Access) -> Result<&crate::store::Staff, ApiError> {
        if self.0.require(area, access).is_err() {
            return Err(ApiError::forbidden(format!(
                "This token does not have the scope {}.",
                crate::app::api_tokens::scope_code(area, access)
            )));
        }
        Ok(&self.0.staff)
    }
}

/// A JSON body; fields a request leaves out take their defaults, so that
/// the use case names each missing field in its refusal.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = bytes::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        // Neither engine stores a NUL in text.
        if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
            return Err(ApiError::bad_request(
                "Text cannot contain a NUL character.".into(),
            ));
        }
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| ApiError::bad_request(format!("The body is not the JSON expected: {e}.")))
    }
}

/// The query string's parameters.
pub struct Params(HashMap<String, String>);

impl FromRequestParts<AppState> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let map: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        if map
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::bad_request(
                "Text cannot contain a NUL character.".into(),
            ));
        }
        Ok(Params(map))
    }
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and the
    /// opaque `cursor` a previous page gave.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let mut errors = Vec::new();
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.push(FieldProblem::new(
                        "limit",
                        format!("limit must be a number from 1 to {MAX_LIMIT}."),
                    ));
                    DEFAULT_LIMIT
                }
            },
        };
        let after = match self.get("cursor") {
            None => None,
            Some(cursor) => match decode_cursor(cursor) {
                Some(after) => Some(after),
                None => {
                    errors.push(FieldProblem::new(
                        "cursor",
                        "The cursor is not one this API gave.".into(),
                    ));
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(PageRequest { limit, after })
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// Which page of a list.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub limit: usize,
    /// The sort key of the last item of the previous page.
    pub after: Option<String>,
}

fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{key}"))
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("v1:").map(str::to_owned)
}

impl PageRequest {
    /// One page of `items`, ordered by `key` (ids that sort by time, or
    /// zero-padded numbers), with the cursor of the next page if there is one.
    pub fn apply<T>(
        &self,
        mut items: Vec<T>,
        key: impl Fn(&T) -> String,
    ) -> (Vec<T>, Option<String>) {
        items.sort_by_key(&key);
        let mut rest: Vec<T> = match &self.after {
            Some(after) => items.into_iter().filter(|i| key(i) > *after).collect(),
            None => items,
        };
        let more = rest.len() > self.limit;
        rest.truncate(self.limit);
        let next = if more {
            rest.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        (rest, next)
    }
}

/// A path segment naming an id; anything else names nothing (404).
pub fn id<T: std::str::FromStr>(text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_without_gaps() {
        let request = PageRequest {
            limit: 2,
            after: None,
        };
        let items: Vec<i64> = vec![5, 1, 4, 2, 3];
        let key = |i: &i64| format!("{i:020}");
        let (first, next) = request.apply(items.clone(), key);
        assert_eq!(first, vec![1, 2]);
        let after = next.as_deref().and_then(decode_cursor);
        let (second, next) = PageRequest { limit: 2, after }.apply(items.clone(), key);
        assert_eq!(second, vec![3, 4]);
        let after = next.as_deref().and_then(decode_cursor);
        let (third, next) = PageRequest { limit: 2, after }.apply(items, key);
        assert_eq!(third, vec![5]);
        assert!(next.is_none());
    }

    #[test]
    fn the_limiter_counts_per_token_per_minute() {
        let limiter = Limiter::new(2);
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let t = Millis(1_000_000);
        assert!(
            limiter
                .take(a, t)
                .is_some_and(|q| q.allowed && q.remaining == 1)
        );
        assert!(
            limiter
                .take(a, t)
                .is_some_and(|q| q.allowed && q.remaining == 0)
        );
        assert!(
            limiter
                .take(a, t)
                .is_some_and(|q| !q.allowed && q.reset_secs == 60)
        );
        assert!(limiter.take(b, t).is_some_and(|q| q.allowed));
        assert!(
            limiter
                .take(a, Millis(t.0 + WINDOW_MS))
                .is_some_and(|q| q.allowed)
        );
        assert!(Limiter::new(0).take(a, t).is_none());
    }

    #[test]
    fn every_api_route_is_registered_with_its_documentation() {
        // Routes come only through `routes!` (documented); the one plain
        // route is the catch-all that answers 404 in problem details.
        for (name, source) in [
            ("mod.rs", include_str!("mod.rs")),
            ("clients.rs", include_str!("clients.rs")),
            ("contacts.rs", include_str!("contacts.rs")),
            ("questions.rs", include_str!("questions.rs")),
            ("chats.rs", include_str!("chats.rs")),
            ("team.rs", include_str!("team.rs")),
        ] {
            let plain = source.matches(concat!(".route", "(")).count();
            let allowed = usize::from(name == "mod.rs");
            assert_eq!(
                plain, allowed,
                "{name} registers a route without its documentation"
            );
        }
    }
}
