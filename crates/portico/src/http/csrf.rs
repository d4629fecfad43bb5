//! Cross-site request forgery: every state-changing request must come from
//! a page of Portico (its Origin, or else its Referer, is the origin of
//! `public_url`: scheme, host and port) and carry the anti-forgery token of
//! this browser (a form field `csrf`, or the `x-csrf-token` header),
//! compared in constant time.
//!
//! A browser with a session has the token of its session: an HMAC of the
//! session id under a key derived from the server's secret key (see
//! [`crate::keys`]). Signing in starts a new session, so the token changes
//! then; a token of one session is worth nothing in another. A browser
//! without a session (the sign-in and link-request forms) has a random token
//! that its cookie holds (double submit). The cookie always carries the
//! browser's current token; with an https `public_url` it is named
//! `__Host-portico_csrf`, like the session's `__Host-portico_session`.

use super::AppState;
use super::errors::render_error;
use super::session::{secure_cookies, session_cookie_name};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;

pub const CSRF_COOKIE: &str = "portico_csrf";
/// The name when `public_url` is https: only a secure, host-wide cookie set
/// by this host itself may carry it.
pub const SECURE_CSRF_COOKIE: &str = "__Host-portico_csrf";
/// Forms bigger than this are not forms a person typed.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// This browser's anti-forgery token, for the forms of the page.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

fn new_token() -> String {
    crate::domain::issue_secret().secret
}

fn looks_like_token(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The anti-forgery token of the session whose cookie holds `secret`.
pub fn session_token(state: &AppState, secret: &str) -> String {
    state
        .app
        .keys
        .csrf_token(&crate::domain::hash_secret(secret))
}

pub fn csrf_cookie_name(state: &AppState) -> &'static str {
    if secure_cookies(state) {
        SECURE_CSRF_COOKIE
    } else {
        CSRF_COOKIE
    }
}

/// The origin (`scheme://host[:port]`) of a URL, lower case, without the
/// scheme's default port.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let mut authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    if let Some(host) = authority.strip_suffix(default_port) {
        authority = host.to_owned();
    }
    Some(format!("{scheme}://{authority}"))
}

/// Whether `claimed` (an Origin) is this site. With a configured public
/// address, only its origin is; without one, Portico is reached directly
/// over plain HTTP, at the address the browser names in `host`.
fn origin_allowed(claimed: &str, public_url: &str, host: Option<&str>) -> bool {
    let Some(claimed) = origin_of(claimed) else {
        return false;
    };
    if origin_of(public_url).as_deref() == Some(claimed.as_str()) {
        return true;
    }
    host.and_then(|host| origin_of(&format!("http://{host}")))
        .is_some_and(|own| own == claimed)
}

/// The request names this site as where it came from.
pub fn same_origin(headers: &HeaderMap, state: &AppState) -> bool {
    let claimed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|v| *v != "null")
        .or_else(|| headers.get(header::REFERER).and_then(|v| v.to_str().ok()));
    let Some(claimed) = claimed else {
        return false;
    };
    let host = if state.config.public_url.is_some() {
        None
    } else {
        headers.get(header::HOST).and_then(|v| v.to_str().ok())
    };
    origin_allowed(claimed, &state.public_url, host)
}

fn forbidden(message: &str) -> Response {
    render_error(StatusCode::FORBIDDEN, "This request was refused", message)
}

/// What a response does to the session cookie: `None` when nothing,
/// `Some(None)` when it ends it, `Some(Some(secret))` when it starts one.
fn session_set_by(response: &Response, name: &str) -> Option<Option<String>> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| Cookie::parse(v.to_owned()).ok())
        .filter(|c| c.name() == name)
        .map(|c| Some(c.value().to_owned()).filter(|v| !v.is_empty()))
        .next_back()
}

pub async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let cookie_name = csrf_cookie_name(&state);
    let session_name = session_cookie_name(&state);
    let cookie_token = jar
        .get(cookie_name)
        .map(|c| c.value().to_owned())
        .filter(|v| looks_like_token(v));
    let session = jar
        .get(session_name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty());
    // What the request must carry: its session's token, or else the token
    // of its cookie.
    let expected = match &session {
        Some(secret) => Some(session_token(&state, secret)),
        None => cookie_token.clone(),
    };
    let token = expected.clone().unwrap_or_else(new_token);

    // RFC 8058: a mail program's one-click unsubscribe POST carries no
    // token; its signed link is the proof, and it can only turn e-mail off.
    // X11: a mail or SMS provider's webhook carries a secret of its own.
    let one_click = request
        .uri()
        .path()
        .starts_with("/notifications/unsubscribe/")
        || request.uri().path().starts_with("/inbound/");
    let unsafe_method = !one_click
        && !matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
    let mut request = request;
    if unsafe_method {
        if !same_origin(request.headers(), &state) {
            return forbidden("This form was sent from another site, so it was not accepted.");
        }
        let (given, rebuilt) = match given_token(request).await {
            Ok(pair) => pair,
            Err(response) => return response,
        };
        request = rebuilt;
        let valid = match (&expected, &given) {
            (Some(expected), Some(given)) => {
                bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
            }
            _ => false,
        };
        if !valid {
            return forbidden("This form has expired. Go back, reload the page and try again.");
        }
    }
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let response = next.run(request).await;
    // The token the browser has from now on: a new session's at sign-in, a
    // new random one at sign-out.
    let after = match session_set_by(&response, session_name) {
        Some(Some(secret)) => session_token(&state, &secret),
        Some(None) if session.is_some() => new_token(),
        _ => token,
    };
    if cookie_token.as_deref() == Some(after.as_str()) {
        return response;
    }
    let cookie = Cookie::build((cookie_name, after))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure_cookies(&state))
        .build();
    let mut response = response;
    if let Ok(value) = header::HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The token a request carries, from the header, the query string, or a
/// urlencoded form body (which is read and put back).
async fn given_token(request: Request) -> Result<(Option<String>, Request), Response> {
    if let Some(value) = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        let value = value.to_owned();
        return Ok((Some(value), request));
    }
    if let Some((_, v)) = request
        .uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "csrf"))
    {
        let value = v.into_owned();
        return Ok((Some(value), request));
    }
    if let Some(boundary) = multipart_boundary(request.headers()) {
        return Ok(multipart_token(request, &boundary).await);
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, request));
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
        render_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "That form is too large",
            "What was sent is larger than any form of Portico takes.",
        )
    })?;
    let given = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    Ok((given, Request::from_parts(parts, Body::from(bytes))))
}

/// The boundary of a `multipart/form-data` body.
fn multipart_boundary(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !value
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    value.split(';').find_map(|part| {
        let (key, value) = part.trim().split_once('=')?;
        key.eq_ignore_ascii_case("boundary")
            .then(|| value.trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

/// How much of a multipart body is read to find its first field.
const MULTIPART_HEAD: usize = 16 * 1024;

/// The token of a form with files: its first field, named `csrf` (forms
/// put it first). Only the start of the body is read; the rest streams on
/// to the handler untouched.
async fn multipart_token(request: Request, boundary: &str) -> (Option<String>, Request) {
    use futures_util::StreamExt;
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let delimiter = format!("\r\n--{boundary}");
    let mut head: Vec<u8> = Vec::new();
    let mut failed = None;
    while head.len() < MULTIPART_HEAD {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(error)) => {
                failed = Some(error);
                break;
            }
            None => break,
        }
        // The first field is whole once the second delimiter has come.
        let text = String::from_utf8_lossy(&head);
        if text.matches(delimiter.as_str()).count() >= 1 {
            break;
        }
    }
    let given = first_field_token(&head, boundary);
    let head = bytes::Bytes::from(head);
    let rest = stream.map(|chunk| chunk.map_err(axum::Error::new));
    let start = futures_util::stream::iter(
        std::iter::once(Ok::<_, axum::Error>(head)).chain(failed.map(|e| Err(axum::Error::new(e)))),
    );
    let body = Body::from_stream(start.chain(rest));
    (given, Request::from_parts(parts, body))
}

/// The value of the first part of a multipart body when it is the
/// `csrf` field.
fn first_field_token(head: &[u8], boundary: &str) -> Option<String> {
    let text = std::str::from_utf8(head).ok().or_else(|| {
        let valid = std::str::from_utf8(head).err()?.valid_up_to();
        std::str::from_utf8(head.get(..valid)?).ok()
    })?;
    let opening = format!("--{boundary}\r\n");
    let rest = text.strip_prefix(&opening)?;
    let (headers, rest) = rest.split_once("\r\n\r\n")?;
    let named_csrf = headers.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("content-disposition:")
            && line.contains("name=\"csrf\"")
            && !line.contains("filename")
    });
    if !named_csrf {
        return None;
    }
    let (value, _) = rest.split_once(&format!("\r\n--{boundary}"))?;
    Some(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_compared_whole_with_the_public_address() {
        let public = "https://portal.example.com";
        assert!(origin_allowed("https://portal.example.com", public, None));
        assert!(origin_allowed(
            "https://Portal.Example.com:443",
            public,
            None
        ));
        assert!(origin_allowed(
            "https://portal.example.com/app/sign-in",
            public,
            None
        ));
        // Scheme and port are part of the origin.
        assert!(!origin_allowed("http://portal.example.com", public, None));
        assert!(!origin_allowed(
            "https://portal.example.com:8443",
            public,
            None
        ));
        assert!(!origin_allowed("https://evil.example", public, None));
        assert!(!origin_allowed(
            "https://portal.example.com.evil.example",
            public,
            None
        ));
        assert!(!origin_allowed(
            "https://portal.example.com@evil.example",
            public,
            None
        ));
        assert!(!origin_allowed("null", public, None));
        // Without a configured address, the plain-HTTP address the browser used.
        let bound = "http://127.0.0.1:8080";
        assert!(origin_allowed(
            "http://localhost:8080",
            bound,
            Some("localhost:8080")
        ));
        assert!(!origin_allowed(
            "https://localhost:8080",
            bound,
            Some("localhost:8080")
        ));
        assert!(!origin_allowed(
            "http://evil.example",
            bound,
            Some("localhost:8080")
        ));
    }

    #[test]
    fn a_form_with_files_carries_its_token_as_its_first_field() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc123\r\n--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.pdf\"\r\n\r\n%PDF";
        assert_eq!(first_field_token(body, "XyZ").as_deref(), Some("abc123"));
        let late = b"--XyZ\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\nhi\r\n--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--XyZ--";
        assert_eq!(
            first_field_token(late, "XyZ"),
            None,
            "only the first field counts"
        );
        let file = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"; filename=\"t\"\r\n\r\nabc\r\n--XyZ--";
        assert_eq!(
            first_field_token(file, "XyZ"),
            None,
            "a file is not a token"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("multipart/form-data; boundary=\"XyZ\""),
        );
        assert_eq!(multipart_boundary(&headers).as_deref(), Some("XyZ"));
    }

    #[test]
    fn only_well_formed_tokens_are_kept() {
        assert!(looks_like_token(&new_token()));
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&"=".repeat(43)));
    }
}
