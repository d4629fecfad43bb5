//! Cross-site request forgery: every state-changing request must come from
//! a page of Portico (Origin or Referer names this site) and carry the
//! anti-forgery token of this browser (a form field `csrf`, or the
//! `x-csrf-token` header), compared in constant time with the cookie.

use super::AppState;
use super::errors::render_error;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;

pub const CSRF_COOKIE: &str = "portico_csrf";
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

/// The origin (`scheme://host[:port]`) of a URL.
fn origin_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let end = rest
        .find('/')
        .map_or(url.len(), |i| url.len() - rest.len() + i);
    Some(&url[..end])
}

/// The request names this site as where it came from: the configured
/// public address, or the host the browser itself addressed.
pub fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let claimed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|v| *v != "null")
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(origin_of)
                .map(str::to_owned)
        });
    let Some(claimed) = claimed else {
        return false;
    };
    if Some(claimed.as_str()) == origin_of(public_url) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let claimed_host = claimed.split_once("://").map(|(_, h)| h);
    matches!((host, claimed_host), (Some(h), Some(c)) if h.eq_ignore_ascii_case(c))
}

fn forbidden(message: &str) -> Response {
    render_error(StatusCode::FORBIDDEN, "This request was refused", message)
}

pub async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let jar = CookieJar::from_headers(request.headers());
    let existing = jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| looks_like_token(v));
    let token = existing.clone().unwrap_or_else(new_token);

    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let mut request = request;
    if unsafe_method {
        if !same_origin(request.headers(), &state.public_url) {
            return forbidden("This form was sent from another site, so it was not accepted.");
        }
        let (given, rebuilt) = match given_token(request).await {
            Ok(pair) => pair,
            Err(response) => return response,
        };
        request = rebuilt;
        let valid = match (&existing, &given) {
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
    if existing.is_some() {
        return response;
    }
    let cookie = Cookie::build((CSRF_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.public_url.starts_with("https://"))
        .build();
    (CookieJar::new().add(cookie), response).into_response()
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
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn origins_are_compared_with_the_public_address_or_the_host() {
        let public = "https://portal.example.com";
        assert!(same_origin(
            &headers(&[("origin", "https://portal.example.com")]),
            public
        ));
        assert!(same_origin(
            &headers(&[("referer", "https://portal.example.com/app/sign-in")]),
            public
        ));
        assert!(same_origin(
            &headers(&[
                ("origin", "http://localhost:8080"),
                ("host", "localhost:8080")
            ]),
            "http://127.0.0.1:8080"
        ));
        assert!(!same_origin(
            &headers(&[("origin", "https://evil.example")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "portal.example.com")
            ]),
            public
        ));
        assert!(!same_origin(&headers(&[("origin", "null")]), public));
        assert!(!same_origin(&headers(&[]), public));
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
            HeaderValue::from_static("multipart/form-data; boundary=\"XyZ\""),
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
