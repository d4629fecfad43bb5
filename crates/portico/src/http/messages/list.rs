//! The chat list and a chat, in either area and in a staff preview of a
//! contact's portal (P7); the counts for the top bar and the dock (M14).

use super::{ChatQuery, ListFilter, ListQuery, Show, latest_chat, messages_page};
use crate::app::questions::Actor;
use crate::domain::words::unread_badge;
use crate::domain::{ChatId, ContactId};
use crate::http::AppState;
use crate::http::area::Area;
use crate::http::errors::PageError;
use crate::http::ids::IdPath;
use crate::http::layout::Layout;
use crate::http::session::StaffUser;
use crate::http::urls;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

/// `GET /app/messages`, `GET /portal/messages`
pub async fn list_get<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    if let Some(chat) = latest_chat(&state, A::actor(&user), &query).await? {
        return Ok(Redirect::to(&urls::chat::<A>(chat)).into_response());
    }
    let show = Show::list(query.filter());
    messages_page(
        &state,
        A::actor(&user),
        A::layout(&user).clone(),
        urls::chats::<A>(),
        show,
    )
    .await
}

/// `GET /app/messages/{chat}`, `GET /portal/messages/{chat}`
pub async fn chat_get<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    IdPath(chat): IdPath<ChatId>,
    Query(query): Query<ChatQuery>,
) -> Result<Response, PageError> {
    let show = Show {
        before: query.before.parse().ok(),
        ..Show::chat(chat, query.reply.parse().ok())
    };
    messages_page(
        &state,
        A::actor(&user),
        A::layout(&user).clone(),
        urls::chats::<A>(),
        show,
    )
    .await
}

/// `GET /app/preview/{contact}/messages` (P7): the contact's chats as she
/// sees them, read-only.
pub async fn preview_list_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(contact): IdPath<ContactId>,
) -> Result<Response, PageError> {
    let (contact, layout) = preview_of(&state, &user, contact).await?;
    let show = Show {
        preview: true,
        ..Show::list(ListFilter::All)
    };
    let base = urls::preview_chats(contact.id);
    messages_page(&state, Actor::Contact(&contact), layout, &base, show).await
}

/// `GET /app/preview/{contact}/messages/{chat}` (P7): one of her chats,
/// read-only; nothing is marked read and no receipt goes.
pub async fn preview_chat_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath((contact, chat)): IdPath<(ContactId, ChatId)>,
    Query(query): Query<ChatQuery>,
) -> Result<Response, PageError> {
    let (contact, layout) = preview_of(&state, &user, contact).await?;
    let show = Show {
        before: query.before.parse().ok(),
        preview: true,
        ..Show::chat(chat, None)
    };
    let base = urls::preview_chats(contact.id);
    messages_page(&state, Actor::Contact(&contact), layout, &base, show).await
}

/// The contact a preview is of, and the frame of her portal.
async fn preview_of(
    state: &AppState,
    user: &StaffUser,
    contact: ContactId,
) -> Result<(crate::store::Contact, Layout), PageError> {
    let contact = state.app.preview_contact(&user.staff, contact).await?;
    let practice = &user.identity.practice;
    let layout =
        Layout::preview(&user.layout.csrf, &contact, practice).seen_at(state.app.clock.now());
    Ok((contact, layout))
}

/// `GET /app/messages/dock`, `GET /portal/messages/dock`: the unread
/// count for the top bar; for staff, with the docked messenger's chats
/// (M14).
pub async fn dock_get<A: Area>(
    State(state): State<AppState>,
    user: A::User,
) -> Result<Response, PageError> {
    let actor = A::actor(&user);
    let chats = state.app.chats_for(actor).await?;
    let shown = chats.iter().filter(|c| !c.hidden);
    let unread: i64 = shown.clone().map(|c| c.unread).sum();
    // "1000+" when a chat has more unread than were counted.
    let unread_text = unread_badge(unread, shown.clone().any(|c| c.unread_more));
    if matches!(actor, Actor::Contact(_)) {
        return Ok(Json(json!({ "unread": unread, "unread_text": unread_text })).into_response());
    }
    let items: Vec<_> = chats
        .iter()
        .filter(|c| !c.hidden)
        .take(8)
        .map(|c| {
            json!({
                "id": c.chat.id, "title": c.chat.title, "unread": c.unread,
                "unread_text": c.unread_text(), "last_seq": c.chat.last_seq
            })
        })
        .collect();
    Ok(
        Json(json!({ "unread": unread, "unread_text": unread_text, "chats": items }))
            .into_response(),
    )
}
