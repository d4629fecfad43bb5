//! `/api/v1/chats`: the chats of the token's team member, their messages
//! after a sequence number, sending (once per `Idempotency-Key`), and files
//! sent into a chat through the file store's checks (M1, M4, M9).

use super::questions::FileOut;
use super::{ApiError, Body, Caller, FieldProblem, Json, Params, Problem, id, time};
use crate::app::api_tokens::{Access, Area};
use crate::app::chats::SendInput;
use crate::app::questions::Actor;
use crate::app::sessions::ClientInfo;
use crate::domain::ChatId;
use crate::store::{ChatSummary, Member, Message};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};

/// A chat the token's team member is in.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ChatOut {
    pub id: String,
    /// The chat's title as the team member sees it.
    pub title: String,
    /// A chat of two people.
    pub direct: bool,
    /// The client the chat is about, if any.
    pub client_id: Option<String>,
    /// The sequence number of the chat's latest message.
    pub last_seq: i64,
    pub last_message_at: String,
    /// Messages the team member has not read, counted among the chat's
    /// newest 1,000.
    pub unread: i64,
    /// More messages are unread than `unread` counts (older than the
    /// chat's newest 1,000).
    pub unread_more: bool,
}

impl From<&ChatSummary> for ChatOut {
    fn from(s: &ChatSummary) -> Self {
        Self {
            id: s.chat.id.to_string(),
            title: s.chat.title.clone(),
            direct: s.chat.direct,
            client_id: s.chat.client_id.map(|c| c.to_string()),
            last_seq: s.chat.last_seq,
            last_message_at: time(s.chat.last_message_at),
            unread: s.unread,
            unread_more: s.unread_more,
        }
    }
}

/// A page of chats.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ChatPage {
    pub items: Vec<ChatOut>,
    pub next_cursor: Option<String>,
}

/// A message of a chat.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MessageOut {
    pub id: String,
    pub chat_id: String,
    /// The message's number in its chat, from 1.
    pub seq: i64,
    /// `staff` or `contact`.
    pub sender_kind: String,
    pub sender_id: String,
    pub sender_name: String,
    /// Empty when the message was deleted.
    pub body: String,
    pub reply_to_seq: Option<i64>,
    pub deleted: bool,
    pub urgent: bool,
    /// An automatic answer of the practice.
    pub automatic: bool,
    pub created_at: String,
    /// Files sent with it (given when the API sent them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileOut>,
}

impl From<&Message> for MessageOut {
    fn from(m: &Message) -> Self {
        let sender_kind = match m.sender {
            Member::Staff(_) => "staff",
            Member::Contact(_) => "contact",
        };
        Self {
            id: m.id.to_string(),
            chat_id: m.chat_id.to_string(),
            seq: m.seq,
            sender_kind: sender_kind.to_owned(),
            sender_id: m.sender.id(),
            sender_name: m.sender_name.clone(),
            body: if m.deleted {
                String::new()
            } else {
                m.body.clone()
            },
            reply_to_seq: m.reply_to_seq,
            deleted: m.deleted,
            urgent: m.urgent,
            automatic: m.automatic,
            created_at: time(m.created_at),
            files: Vec::new(),
        }
    }
}

/// A page of messages.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageOut>,
    /// Give it as `cursor` for the next page; absent when there is nothing
    /// more yet (ask again later with `after` = the last `seq`).
    pub next_cursor: Option<String>,
}

/// A message to send.
#[derive(Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NewMessageIn {
    pub body: String,
    /// The `seq` of a message of the same chat this one answers.
    pub reply_to_seq: Option<i64>,
    /// Reaches people in their quiet hours.
    pub urgent: bool,
}

/// The chats of the token's team member.
#[utoipa::path(
    get,
    path = "/chats",
    tag = "messages",
    params(
        ("limit" = Option<usize>, Query, description = "Items per page, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page"),
    ),
    responses(
        (status = 200, body = ChatPage),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_chats(
    State(state): State<super::AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<ChatPage>, ApiError> {
    let staff = caller.require(Area::Messages, Access::Read)?;
    let page = params.page()?;
    let chats = state.app.chats_for(Actor::Staff(staff)).await?;
    let (items, next_cursor) = page.apply(chats, |c| c.chat.id.to_string());
    Ok(Json(ChatPage {
        items: items.iter().map(ChatOut::from).collect(),
        next_cursor,
    }))
}

/// A chat's messages after a sequence number, oldest first. Reading them
/// through the API marks nothing read.
#[utoipa::path(
    get,
    path = "/chats/{chat_id}/messages",
    tag = "messages",
    params(
        ("chat_id" = String, Path, description = "The chat's id"),
        ("after" = Option<i64>, Query, description = "Only messages after this seq (default 0: from the first)"),
        ("limit" = Option<usize>, Query, description = "Items per page, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page (instead of after)"),
    ),
    responses(
        (status = 200, body = MessagePage),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_messages(
    State(state): State<super::AppState>,
    caller: Caller,
    Path(chat_id): Path<String>,
    params: Params,
) -> Result<Json<MessagePage>, ApiError> {
    let staff = caller.require(Area::Messages, Access::Read)?;
    let chat = id::<ChatId>(&chat_id)?;
    let mut page = params.page()?;
    let after = match (&page.after, params.get("after")) {
        (Some(key), _) => key.parse::<i64>().ok(),
        (None, Some(text)) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::validation(vec![FieldProblem::new(
                "after",
                "after must be a message's seq.".into(),
            )])
        })?),
        (None, None) => Some(0),
    }
    .unwrap_or(0)
    .max(0);
    // The cursor names a seq; the page itself starts after it.
    page.after = None;
    let messages = state
        .app
        .messages_after(Actor::Staff(staff), chat, after)
        .await?;
    let (items, next_cursor) = page.apply(messages, |m| format!("{:020}", m.seq));
    Ok(Json(MessagePage {
        items: items.iter().map(MessageOut::from).collect(),
        next_cursor,
    }))
}

/// The request's `Idempotency-Key`: required for a send.
fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() || key.len() > 100 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::validation(vec![FieldProblem::new(
            "Idempotency-Key",
            "Send an Idempotency-Key header: 1 to 100 visible characters, new for each message \
             (a retry with the same key posts once)."
                .into(),
        )]));
    }
    // The API's keys are its own: they never meet a page's.
    Ok(format!("api:{key}"))
}

/// Sends a message. The same `Idempotency-Key` again (a retry) posts once
/// and answers with the same message.
#[utoipa::path(
    post,
    path = "/chats/{chat_id}/messages",
    tag = "messages",
    params(
        ("chat_id" = String, Path, description = "The chat's id"),
        ("Idempotency-Key" = String, Header, description = "New for each message; a retry with the same key posts once"),
    ),
    request_body = NewMessageIn,
    responses(
        (status = 201, body = MessageOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn send_message(
    State(state): State<super::AppState>,
    caller: Caller,
    origin: ClientInfo,
    Path(chat_id): Path<String>,
    headers: HeaderMap,
    Body(input): Body<NewMessageIn>,
) -> Result<(StatusCode, Json<MessageOut>), ApiError> {
    let staff = caller.require(Area::Messages, Access::Write)?;
    let chat = id::<ChatId>(&chat_id)?;
    let key = idempotency_key(&headers)?;
    let message = state
        .app
        .send_message_from(
            Actor::Staff(staff),
            chat,
            &SendInput {
                body: input.body,
                reply_to: input.reply_to_seq,
                key,
                files: Vec::new(),
                set_status: false,
                urgent: input.urgent,
            },
            Some(&origin),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(MessageOut::from(&message))))
}

/// Sends files into a chat (`multipart/form-data`: one or more `file`
/// parts, and an optional `body` text part), checked by the file store as
/// on the pages (size, type). Needs an `Idempotency-Key` like any send.
#[utoipa::path(
    post,
    path = "/chats/{chat_id}/files",
    tag = "messages",
    params(
        ("chat_id" = String, Path, description = "The chat's id"),
        ("Idempotency-Key" = String, Header, description = "New for each message; a retry with the same key posts once"),
    ),
    request_body(content_type = "multipart/form-data", description = "`file` parts and an optional `body`"),
    responses(
        (status = 201, body = MessageOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A file too large or of a refused type", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload_files(
    State(state): State<super::AppState>,
    caller: Caller,
    origin: ClientInfo,
    Path(chat_id): Path<String>,
    headers: HeaderMap,
    form: Multipart,
) -> Result<(StatusCode, Json<MessageOut>), ApiError> {
    let staff = caller.require(Area::Messages, Access::Write)?;
    let chat = id::<ChatId>(&chat_id)?;
    let key = idempotency_key(&headers)?;
    // Only a member's files are taken (as on the pages): nothing is stored
    // for a chat the team member is not in.
    state
        .app
        .store
        .chat_for_member(staff.practice_id, chat, Member::Staff(staff.id))
        .await
        .map_err(crate::app::AppError::from)?;
    let upload = super::super::uploads::read(&state.app, staff.practice_id, form, &["file"], &[])
        .await
        .map_err(|error| match error {
            super::super::uploads::UploadError::File(e) => {
                ApiError::from(crate::app::AppError::File(e))
            }
            other => ApiError::validation(vec![FieldProblem::new("file", other.to_string())]),
        })?;
    if upload.files.is_empty() {
        return Err(ApiError::validation(vec![FieldProblem::new(
            "file",
            "Send at least one file as a `file` part.".into(),
        )]));
    }
    let input = SendInput {
        body: upload.field("body").to_owned(),
        reply_to: None,
        key,
        files: upload.files.clone(),
        set_status: false,
        urgent: false,
    };
    match state
        .app
        .send_message_from(Actor::Staff(staff), chat, &input, Some(&origin))
        .await
    {
        Ok(message) => {
            let mut out = MessageOut::from(&message);
            out.files = upload
                .files
                .iter()
                .map(|f| FileOut {
                    id: f.id.to_string(),
                    name: f.name.clone(),
                    content_type: f.content_type.to_owned(),
                    size: f.size,
                })
                .collect();
            Ok((StatusCode::CREATED, Json(out)))
        }
        Err(error) => {
            state.app.discard_uploads(&upload.files).await;
            Err(error.into())
        }
    }
}
