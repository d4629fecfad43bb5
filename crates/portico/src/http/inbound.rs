//! X11: replies by e-mail and text from the outside — `POST /inbound/email`
//! (a mail provider forwards the raw message, with the configured secret)
//! and `POST /inbound/sms` (the SMS provider's inbound webhook, signed) —
//! and the pages where admins decide the held e-mails and staff read a
//! reply's whole e-mail.

use super::AppState;
use super::errors::PageError;
use super::ids::IdPath;
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use super::urls;
use crate::app::inbound::InboundOutcome;
use crate::store::InboundMail;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

/// The secret a request carries: `Authorization: Bearer SECRET`, or the
/// password of HTTP Basic credentials (as providers put them in the URL).
fn given_secret(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(token.trim().to_owned());
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_owned())
}

fn same_secret(expected: &SecretString, given: &str) -> bool {
    bool::from(expected.expose_secret().as_bytes().ct_eq(given.as_bytes()))
}

/// `POST /inbound/email`: the raw RFC 5322 message as the body
/// (`message/rfc822` or any type), with the configured secret.
pub async fn email_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(expected) = &state.config.inbound_email_secret else {
        return plain(
            StatusCode::NOT_FOUND,
            "Replies by e-mail are not set up here.",
        );
    };
    if state.app.reply_domain().is_none() {
        return plain(
            StatusCode::NOT_FOUND,
            "Replies by e-mail are not set up here.",
        );
    }
    let authorised = given_secret(&headers).is_some_and(|given| same_secret(expected, &given));
    if !authorised {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "The inbound e-mail secret is missing or wrong.",
        )
            .into_response();
    }
    match state.app.receive_email(&body, &[]).await {
        Ok(InboundOutcome::UnknownAddress) => plain(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The message is not addressed to a reply address of this server.",
        ),
        Ok(outcome) => plain(StatusCode::OK, outcome.as_str()),
        Err(error) => {
            tracing::error!(%error, "could not take a reply by e-mail");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "The reply could not be taken now; send it again later.",
            )
        }
    }
}

/// `POST /inbound/sms`: the provider's inbound webhook, a form of `From`,
/// `To` and `Body` (and the provider's message id), signed with the
/// configured secret: `X-Portico-Signature: sha256=<hex of HMAC-SHA256 of
/// the body>`.
pub async fn sms_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &state.config.sms_inbound_secret else {
        return plain(
            StatusCode::NOT_FOUND,
            "Replies by text are not set up here.",
        );
    };
    let given = headers
        .get("x-portico-signature")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_start_matches("sha256="))
        .and_then(|v| hex::decode(v).ok());
    let valid = given.is_some_and(|given| {
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes()).is_ok_and(
            |mut mac| {
                mac.update(&body);
                mac.verify_slice(&given).is_ok()
            },
        )
    });
    if !valid {
        return plain(
            StatusCode::UNAUTHORIZED,
            "The signature (X-Portico-Signature) is missing or wrong.",
        );
    }
    let mut from = None;
    let mut text = None;
    let mut id = None;
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "From" => from = Some(value.into_owned()),
            "Body" => text = Some(value.into_owned()),
            "MessageSid" | "SmsSid" | "MessageId" | "message_id" | "id" => {
                id = Some(value.into_owned())
            }
            _ => {}
        }
    }
    let (Some(from), Some(text)) = (from, text) else {
        return plain(StatusCode::BAD_REQUEST, "The form needs From and Body.");
    };
    match state.app.receive_sms(&from, &text, id.as_deref()).await {
        Ok(outcome) => plain(StatusCode::OK, outcome.as_str()),
        Err(error) => {
            tracing::error!(%error, "could not take a reply by text");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "The text could not be taken now; send it again later.",
            )
        }
    }
}

#[derive(Template)]
#[template(path = "held_emails.html")]
struct HeldPage {
    layout: Layout,
    held: Vec<InboundMail>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `GET /app/settings/held-emails` (admins)
pub async fn held_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let held = state.app.held_emails(&user.staff).await?;
    let notice = match done.done.as_str() {
        "approved" => Some("The reply was posted."),
        "refused" => Some("The reply could not be posted; its sender was told why by e-mail."),
        "discarded" => Some("The e-mail was discarded."),
        _ => None,
    };
    Ok(render(
        StatusCode::OK,
        &HeldPage {
            layout: user.layout,
            held,
            notice,
        },
    ))
}

/// `POST /app/settings/held-emails/{id}/approve` (admins)
pub async fn approve_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<uuid::Uuid>,
) -> Result<Response, PageError> {
    let outcome = state
        .app
        .approve_held_email(&user.staff, &id.to_string())
        .await?;
    let done = match outcome {
        InboundOutcome::Posted => "approved",
        _ => "refused",
    };
    Ok(Redirect::to(&urls::held_emails_done(done)).into_response())
}

/// `POST /app/settings/held-emails/{id}/discard` (admins)
pub async fn discard_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<uuid::Uuid>,
) -> Result<Response, PageError> {
    state
        .app
        .discard_held_email(&user.staff, &id.to_string())
        .await?;
    Ok(Redirect::to("/app/settings/held-emails?done=discarded").into_response())
}

#[derive(Template)]
#[template(path = "inbound_email.html")]
struct EmailPage {
    layout: Layout,
    mail: InboundMail,
}

/// `GET /app/inbound-emails/{id}`: "Show the full e-mail" (staff who
/// reach its conversation).
pub async fn email_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<uuid::Uuid>,
) -> Result<Response, PageError> {
    let mail = state
        .app
        .inbound_email(&user.staff, &id.to_string())
        .await?;
    Ok(render(
        StatusCode::OK,
        &EmailPage {
            layout: user.layout,
            mail,
        },
    ))
}

/// `GET /app/messages/{chat}/email/{seq}`: the e-mail a chat message came
/// from.
pub async fn message_email_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath((chat, seq)): IdPath<(crate::domain::ChatId, i64)>,
) -> Result<Response, PageError> {
    let mail = state
        .app
        .email_of_message(&user.staff, chat, seq)
        .await?
        .ok_or(PageError::NotFound)?;
    Ok(render(
        StatusCode::OK,
        &EmailPage {
            layout: user.layout,
            mail,
        },
    ))
}
