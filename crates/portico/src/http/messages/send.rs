//! Sending (M1, M9): the text form without the script, the one multipart
//! form with files, photos and voice notes, and what a page missed (M14).

use super::{Show, messages_page, new_key, wants_json};
use crate::app::AppError;
use crate::app::chats::{ChatView, SendInput};
use crate::app::questions::Actor;
use crate::app::sessions::ClientInfo;
use crate::domain::ChatId;
use crate::http::AppState;
use crate::http::area::Area;
use crate::http::errors::PageError;
use crate::http::forms::form_refusal;
use crate::http::ids::IdPath;
use crate::http::layout::Layout;
use crate::http::pages::render;
use crate::http::urls;
use askama::Template;
use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    reply_to: String,
    /// M16: "make this the client's status" (staff).
    status: Option<String>,
    /// X7: "urgent" (staff).
    urgent: Option<String>,
}

/// The page script's answer for a message sent.
fn sent(layout: &Layout, message: &crate::store::Message) -> Response {
    Json(json!({
        "seq": message.seq,
        "sender_name": message.sender_name,
        "body": message.body,
        "at": layout.time.short(message.created_at),
        "next_key": new_key(),
    }))
    .into_response()
}

/// The page script's answer for a message refused.
fn refused(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `POST /app/messages/{chat}`, `POST /portal/messages/{chat}`: a message
/// of text (the form without the script).
pub async fn send_post<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    IdPath(chat): IdPath<ChatId>,
    headers: HeaderMap,
    Form(form): Form<SendForm>,
) -> Result<Response, PageError> {
    let (actor, layout) = (A::actor(&user), A::layout(&user).clone());
    match state
        .app
        .send_message(
            actor,
            chat,
            &SendInput {
                body: form.body.clone(),
                reply_to: form.reply_to.trim().parse::<i64>().ok(),
                key: form.key.clone(),
                files: Vec::new(),
                set_status: form.status.is_some(),
                urgent: form.urgent.is_some(),
            },
        )
        .await
    {
        Ok(message) if wants_json(&headers) => Ok(sent(&layout, &message)),
        Ok(_) => Ok(Redirect::to(&urls::chat::<A>(chat)).into_response()),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            if wants_json(&headers) {
                return Ok(refused(status, message));
            }
            let show = Show {
                status,
                draft: form.body,
                error: Some(message),
                ..Show::chat(chat, form.reply_to.trim().parse().ok())
            };
            messages_page(&state, actor, layout, urls::chats::<A>(), show).await
        }
    }
}

#[derive(Template)]
#[template(path = "chat_messages_after.html")]
struct MessagesAfter {
    layout: Layout,
    base: &'static str,
    v: ChatView,
}

/// `GET /app/messages/{chat}/after/{seq}`, `GET /portal/messages/{chat}/after/{seq}`:
/// what a page missed or has just been told of (M14): as JSON (the
/// messages' text), or, asked for HTML, as the page's own markup, which
/// marks them read as reading the page does (M8).
pub async fn after_get<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    IdPath((chat, seq)): IdPath<(ChatId, i64)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (actor, layout) = (A::actor(&user), A::layout(&user).clone());
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        let v = state.app.chat_view_after(actor, chat, seq).await?;
        let base = urls::chats::<A>();
        return Ok(render(StatusCode::OK, &MessagesAfter { layout, base, v }));
    }
    let messages = state.app.messages_after(actor, chat, seq).await?;
    let items: Vec<_> = messages
        .iter()
        .map(|m| json!({ "seq": m.seq, "sender_name": m.sender_name, "body": m.body, "at": layout.time.short(m.created_at) }))
        .collect();
    Ok(Json(items).into_response())
}

/// `POST {chats}/{chat}/files`: the chat's one form (M9), multipart: text,
/// a reply, files, photos and voice notes. Asked for JSON (the page's
/// script), it answers with the message or the refusal; otherwise it
/// goes back to the chat, or shows the refusal there, the draft kept.
/// The origin goes to the audit log.
pub async fn files_post<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    origin: ClientInfo,
    IdPath(chat): IdPath<ChatId>,
    headers: HeaderMap,
    form: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let (actor, layout) = (A::actor(&user), A::layout(&user).clone());
    let base = urls::chats::<A>();
    let practice = actor.practice_id();
    // Only a member's files are taken.
    state
        .app
        .store
        .chat_for_member(practice, chat, actor.member())
        .await
        .map_err(AppError::from)?;
    let json = wants_json(&headers);
    let (upload, refused_file) =
        crate::http::uploads::read_keeping_text(&state.app, practice, form, &["files"]).await;
    if let Some(error) = refused_file {
        // A file that could not be stored is Portico's failure: the error
        // page (or a 500), logged with the request id.
        let (status, message) = error.refusal()?;
        if json {
            return Ok(refused(status, message));
        }
        let show = Show {
            status,
            draft: upload.field("body").to_owned(),
            error: Some(message),
            ..Show::chat(chat, upload.field("reply_to").trim().parse().ok())
        };
        return messages_page(&state, actor, layout, base, show).await;
    }
    let reply_to = upload.field("reply_to").trim().parse::<i64>().ok();
    let input = SendInput {
        body: upload.field("body").to_owned(),
        reply_to,
        key: upload.field("key").to_owned(),
        files: upload.files.clone(),
        set_status: matches!(actor, Actor::Staff(_)) && upload.field("status") == "on",
        urgent: matches!(actor, Actor::Staff(_)) && upload.field("urgent") == "on",
    };
    match state
        .app
        .send_message_from(actor, chat, &input, Some(&origin))
        .await
    {
        Ok(message) if json => Ok(sent(&layout, &message)),
        Ok(_) => Ok(Redirect::to(&urls::chat::<A>(chat)).into_response()),
        Err(error) => {
            state.app.discard_uploads(&upload.files).await;
            let (status, message) = form_refusal(error)?;
            if json {
                return Ok(refused(status, message));
            }
            let show = Show {
                status,
                draft: input.body,
                error: Some(message),
                ..Show::chat(chat, reply_to)
            };
            messages_page(&state, actor, layout, base, show).await
        }
    }
}
