//! What people do to a chat: act on a message or the chat (M5, M6, M10,
//! M11), and, for staff, delete, rename, share it and change who is in it
//! (M2, M3).

use super::{Show, messages_page};
use crate::app::AppError;
use crate::app::chats::ChatAction;
use crate::app::questions::Actor;
use crate::app::sessions::ClientInfo;
use crate::domain::ChatId;
use crate::http::AppState;
use crate::http::area::{Area, Staff};
use crate::http::errors::PageError;
use crate::http::forms::form_refusal;
use crate::http::ids::{IdPath, parse};
use crate::http::layout::Layout;
use crate::http::pages::render;
use crate::http::session::StaffUser;
use crate::http::urls;
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    seq: String,
}

/// `POST /app/messages/{chat}/action`, `POST /portal/messages/{chat}/action`:
/// a reaction, a pin, a message deleted or marked unread, the chat starred
/// or hidden.
pub async fn action_post<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    client: ClientInfo,
    IdPath(chat): IdPath<ChatId>,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    let actor = A::actor(&user);
    let seq = form.seq.trim().parse::<i64>().unwrap_or(0);
    let action = match form.action.as_str() {
        react if react.starts_with("react:") => ChatAction::React {
            seq,
            emoji: react.trim_start_matches("react:").to_owned(),
        },
        "pin" => ChatAction::Pin { seq, pinned: true },
        "unpin" => ChatAction::Pin { seq, pinned: false },
        "delete" => ChatAction::DeleteMessage { seq },
        "unread" => ChatAction::MarkUnread { seq },
        "star" => ChatAction::Star(true),
        "unstar" => ChatAction::Star(false),
        "hide" => ChatAction::Hide,
        "show" => ChatAction::Show,
        _ => return Err(PageError::NotFound),
    };
    let leaves = matches!(action, ChatAction::MarkUnread { .. } | ChatAction::Hide);
    match state.app.chat_action(actor, chat, action, &client).await {
        Ok(()) if leaves => Ok(Redirect::to(urls::chats::<A>()).into_response()),
        Ok(()) => Ok(Redirect::to(&urls::chat::<A>(chat)).into_response()),
        Err(AppError::Forbidden) => Err(PageError::Forbidden(
            "Only the sender can delete a message.".into(),
        )),
        Err(error @ AppError::Invalid(_)) => {
            let (status, message) = form_refusal(error)?;
            Ok((status, message).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "chat_delete.html")]
struct DeletePage {
    layout: Layout,
    chat: crate::store::Chat,
}

/// `GET /app/messages/{chat}/delete`: the confirmation (M6).
pub async fn delete_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(chat): IdPath<ChatId>,
) -> Result<Response, PageError> {
    let view = state
        .app
        .chat_view(Actor::Staff(&user.staff), chat, None)
        .await?;
    Ok(render(
        StatusCode::OK,
        &DeletePage {
            layout: user.layout,
            chat: view.chat,
        },
    ))
}

/// `POST /app/messages/{chat}/delete`
pub async fn delete_post(
    State(state): State<AppState>,
    user: StaffUser,
    client: ClientInfo,
    IdPath(chat): IdPath<ChatId>,
) -> Result<Response, PageError> {
    state.app.delete_chat(&user.staff, chat, &client).await?;
    Ok(Redirect::to(urls::chats::<Staff>()).into_response())
}

#[derive(Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    title: String,
}

/// `POST /app/messages/{chat}/rename`: a group chat's new name.
pub async fn rename_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(chat): IdPath<ChatId>,
    Form(form): Form<RenameForm>,
) -> Result<Response, PageError> {
    match state.app.rename_chat(&user.staff, chat, &form.title).await {
        Ok(()) => Ok(Redirect::to(&urls::chat::<Staff>(chat)).into_response()),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            let show = Show {
                status,
                error: Some(message),
                ..Show::chat(chat, None)
            };
            messages_page(
                &state,
                Actor::Staff(&user.staff),
                user.layout.clone(),
                urls::chats::<Staff>(),
                show,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct ShareForm {
    #[serde(default)]
    staff: String,
}

/// `POST /app/messages/{chat}/share` (M3)
pub async fn share_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(chat): IdPath<ChatId>,
    Form(form): Form<ShareForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .share_chat(&user.staff, chat, parse(&form.staff)?)
        .await
    {
        Ok(()) => Ok(Redirect::to(&urls::chat::<Staff>(chat)).into_response()),
        Err(AppError::Conflict { message, .. }) => Err(PageError::Forbidden(message)),
        Err(other) => Err(other.into()),
    }
}
