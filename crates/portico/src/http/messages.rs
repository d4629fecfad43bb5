//! Messages (M1, M4, M8, M14, M15): the chat list and a chat for staff
//! (`/app/messages`) and contacts (`/portal/messages`), sending with or
//! without the script, and the WebSocket that makes them live.

use super::AppState;
use super::errors::PageError;
use super::forms::form_refusal;
use super::layout::Layout;
use super::pages::render;
use super::session::{ContactUser, MaybeIdentity, StaffUser};
use crate::app::AppError;
use crate::app::chats::ChatView;
use crate::app::questions::Actor;
use crate::app::sessions::Person;
use crate::domain::{ChatId, ClientId, ContactId};
use crate::store::{ChatSummary, Member, SessionStage};
use askama::Template;
use axum::Form;
use axum::Json;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

fn parse<T: std::str::FromStr>(id: &str) -> Result<T, PageError> {
    id.parse().map_err(|_| PageError::NotFound)
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    layout: Layout,
    base: &'static str,
    chats: Vec<ChatSummary>,
    view: Option<ChatView>,
    key: String,
    draft: String,
    error: Option<String>,
}

fn new_key() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[allow(clippy::too_many_arguments)]
async fn messages_page(
    state: &AppState,
    actor: Actor<'_>,
    layout: Layout,
    base: &'static str,
    chat: Option<ChatId>,
    status: StatusCode,
    draft: String,
    error: Option<String>,
) -> Result<Response, PageError> {
    let view = match chat {
        Some(chat) => Some(state.app.chat_view(actor, chat).await?),
        None => None,
    };
    // Read after viewing, so the open chat shows no unread badge.
    let chats = state.app.chats_for(actor).await?;
    Ok(render(
        status,
        &MessagesPage {
            layout,
            base,
            chats,
            view,
            key: new_key(),
            draft,
            error,
        },
    ))
}

/// `GET /app/messages`
pub async fn staff_list_get(
    State(state): State<AppState>,
    user: StaffUser,
) -> Result<Response, PageError> {
    messages_page(
        &state,
        Actor::Staff(&user.staff),
        user.layout.clone(),
        "/app/messages",
        None,
        StatusCode::OK,
        String::new(),
        None,
    )
    .await
}

/// `GET /app/messages/{chat}`
pub async fn staff_chat_get(
    State(state): State<AppState>,
    user: StaffUser,
    Path(chat): Path<String>,
) -> Result<Response, PageError> {
    let chat = parse(&chat)?;
    messages_page(
        &state,
        Actor::Staff(&user.staff),
        user.layout.clone(),
        "/app/messages",
        Some(chat),
        StatusCode::OK,
        String::new(),
        None,
    )
    .await
}

/// `GET /portal/messages`
pub async fn portal_list_get(
    State(state): State<AppState>,
    user: ContactUser,
) -> Result<Response, PageError> {
    messages_page(
        &state,
        Actor::Contact(&user.contact),
        user.layout.clone(),
        "/portal/messages",
        None,
        StatusCode::OK,
        String::new(),
        None,
    )
    .await
}

/// `GET /portal/messages/{chat}`
pub async fn portal_chat_get(
    State(state): State<AppState>,
    user: ContactUser,
    Path(chat): Path<String>,
) -> Result<Response, PageError> {
    let chat = parse(&chat)?;
    messages_page(
        &state,
        Actor::Contact(&user.contact),
        user.layout.clone(),
        "/portal/messages",
        Some(chat),
        StatusCode::OK,
        String::new(),
        None,
    )
    .await
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    key: String,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

async fn send(
    state: &AppState,
    actor: Actor<'_>,
    layout: Layout,
    base: &'static str,
    chat: ChatId,
    headers: &HeaderMap,
    form: SendForm,
) -> Result<Response, PageError> {
    match state
        .app
        .send_message(actor, chat, &form.body, &form.key)
        .await
    {
        Ok(message) if wants_json(headers) => Ok(Json(json!({
            "seq": message.seq,
            "sender_name": message.sender_name,
            "body": message.body,
            "at": message.created_at.to_string(),
            "next_key": new_key(),
        }))
        .into_response()),
        Ok(_) => Ok(Redirect::to(&format!("{base}/{chat}")).into_response()),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            if wants_json(headers) {
                return Ok((status, Json(json!({ "error": message }))).into_response());
            }
            messages_page(
                state,
                actor,
                layout,
                base,
                Some(chat),
                status,
                form.body,
                Some(message),
            )
            .await
        }
    }
}

/// `POST /app/messages/{chat}`
pub async fn staff_send_post(
    State(state): State<AppState>,
    user: StaffUser,
    Path(chat): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SendForm>,
) -> Result<Response, PageError> {
    send(
        &state,
        Actor::Staff(&user.staff),
        user.layout.clone(),
        "/app/messages",
        parse(&chat)?,
        &headers,
        form,
    )
    .await
}

/// `POST /portal/messages/{chat}`
pub async fn portal_send_post(
    State(state): State<AppState>,
    user: ContactUser,
    Path(chat): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SendForm>,
) -> Result<Response, PageError> {
    send(
        &state,
        Actor::Contact(&user.contact),
        user.layout.clone(),
        "/portal/messages",
        parse(&chat)?,
        &headers,
        form,
    )
    .await
}

async fn after(
    state: &AppState,
    actor: Actor<'_>,
    chat: &str,
    seq: &str,
) -> Result<Response, PageError> {
    let seq: i64 = seq.parse().map_err(|_| PageError::NotFound)?;
    let messages = state.app.messages_after(actor, parse(chat)?, seq).await?;
    let items: Vec<_> = messages
        .iter()
        .map(|m| json!({ "seq": m.seq, "sender_name": m.sender_name, "body": m.body, "at": m.created_at.to_string() }))
        .collect();
    Ok(Json(items).into_response())
}

/// `GET /app/messages/{chat}/after/{seq}`: what a page missed.
pub async fn staff_after_get(
    State(state): State<AppState>,
    user: StaffUser,
    Path((chat, seq)): Path<(String, String)>,
) -> Result<Response, PageError> {
    after(&state, Actor::Staff(&user.staff), &chat, &seq).await
}

/// `GET /portal/messages/{chat}/after/{seq}`
pub async fn portal_after_get(
    State(state): State<AppState>,
    user: ContactUser,
    Path((chat, seq)): Path<(String, String)>,
) -> Result<Response, PageError> {
    after(&state, Actor::Contact(&user.contact), &chat, &seq).await
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    contact: String,
}

/// `POST /app/clients/{id}/chat` (M15): the chat with one of the client's contacts.
pub async fn start_chat_post(
    State(state): State<AppState>,
    user: StaffUser,
    Path(client): Path<String>,
    Form(form): Form<StartForm>,
) -> Result<Response, PageError> {
    let client: ClientId = parse(&client)?;
    let contact: ContactId = parse(&form.contact)?;
    match state
        .app
        .open_direct_chat(&user.staff, client, contact)
        .await
    {
        Ok(chat) => Ok(Redirect::to(&format!("/app/messages/{}", chat.id)).into_response()),
        Err(AppError::Conflict(message)) => Err(PageError::Forbidden(message)),
        Err(other) => Err(other.into()),
    }
}

/// `GET /ws`: one WebSocket per open page, carrying the live events of the
/// signed-in person's chats.
pub async fn ws_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // A page of another site must not open a socket with this browser's cookie.
    if !super::csrf::same_origin(&headers, &state.public_url) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(identity) = maybe
        .identity
        .filter(|i| i.session.stage == SessionStage::Active)
    else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let member = match &identity.person {
        Person::Staff(staff) => Member::Staff(staff.id),
        Person::Contact(contact) => Member::Contact(contact.id),
    };
    let practice = identity.practice.id;
    let events = state.app.live.subscribe();
    upgrade.on_upgrade(move |socket| live(socket, events, practice, member))
}

async fn live(
    mut socket: WebSocket,
    mut events: tokio::sync::broadcast::Receiver<crate::delivery::live::LiveEvent>,
    practice: crate::domain::PracticeId,
    member: Member,
) {
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) if event.is_for(practice, member) => {
                    let Ok(text) = serde_json::to_string(&event) else { continue };
                    if socket.send(WsMessage::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                // Fell behind: the page catches up from the store when it reconnects.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
