//! Messages (M1, M4, M8, M14, M15): the chat list and a chat for staff
//! (`/app/messages`) and contacts (`/portal/messages`), sending with or
//! without the script, and the WebSocket that makes them live.
//!
//! The pages both areas have are one handler each, generic over
//! [`Area`](super::area::Area) and routed once per area by [`routes`].

mod actions;
mod export;
mod files;
mod list;
mod live;
mod people;
mod send;

pub use actions::{action_post, delete_get, delete_post, rename_post, share_post};
pub use export::{export_get, portal_answers_export_get};
pub use files::thumb_get;
pub use list::{chat_get, dock_get, list_get, preview_chat_get, preview_list_get};
pub use live::ws_get;
pub use people::{
    add_members_post, contacts_list_get, new_chat_get, new_chat_post, remove_member_post,
    staff_chat_post, start_chat_post,
};
pub use send::{after_get, files_post, send_post};

use super::AppState;
use super::area::Area;
use super::errors::PageError;
use super::layout::Layout;
use super::pages::render;
use crate::app::chats::ChatView;
use crate::app::questions::Actor;
use crate::domain::ChatId;
use crate::store::{ChatSummary, Member};
use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

/// The chat routes both areas have, to nest at the area's
/// [`Area::MESSAGES`]: `/app/messages/{chat}`, `/portal/messages/{chat}`, …
pub fn routes<A: Area>(upload_limit: DefaultBodyLimit) -> Router<AppState> {
    Router::new()
        .route("/", get(list_get::<A>))
        .route("/{chat}", get(chat_get::<A>).post(send_post::<A>))
        .route("/{chat}/after/{seq}", get(after_get::<A>))
        .route("/{chat}/action", post(action_post::<A>))
        .route("/{chat}/files", post(files_post::<A>).layer(upload_limit))
        .route("/{chat}/export/{format}", get(export_get::<A>))
}

#[derive(Template)]
#[template(path = "messages.html")]
struct MessagesPage {
    layout: Layout,
    base: String,
    unread_only: bool,
    chats: Vec<ChatSummary>,
    view: Option<ChatView>,
    key: String,
    draft: String,
    error: Option<String>,
    reply_to: Option<i64>,
    /// Staff: who is in the open chat, and who could be added.
    people: Vec<(Member, String)>,
    team: Vec<crate::store::Staff>,
    contacts: Vec<crate::store::Contact>,
    /// S1: what Enter does for the viewer.
    prefs: crate::store::MessagingPreferences,
    /// S6: the longest message the viewer may send.
    max_chars: usize,
    /// S8: whether direct chats may be shared (staff pages offer it).
    sharing: bool,
    /// X10: the viewer's own scheduled messages in the open chat.
    scheduled: Vec<crate::app::scheduled::ScheduledView>,
    /// "Message the practice" (contacts): their clients, and whether each allows it (S3).
    to_message: Vec<(crate::store::PortalClient, bool)>,
}

impl MessagesPage {
    /// The open chat's title as the list shows it (told apart from another
    /// chat with the same people).
    fn title(&self) -> String {
        let Some(view) = &self.view else {
            return String::new();
        };
        self.chats
            .iter()
            .find(|c| c.chat.id == view.chat.id)
            .map_or_else(|| view.title.clone(), |c| c.chat.title.clone())
    }

    /// The message being replied to, when it is on the page.
    fn replying(&self) -> Option<&crate::store::Message> {
        self.view.as_ref()?.quoted(&self.reply_to)
    }

    /// Whether the open chat is starred by the viewer.
    fn starred(&self) -> bool {
        let Some(view) = &self.view else { return false };
        self.chats
            .iter()
            .any(|c| c.chat.id == view.chat.id && c.starred)
    }
}

#[derive(Deserialize, Default)]
pub struct ChatQuery {
    #[serde(default)]
    reply: String,
    #[serde(default)]
    before: String,
}

fn new_key() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListFilter {
    All,
    Unread,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    filter: String,
}

impl ListQuery {
    fn filter(&self) -> ListFilter {
        if self.filter == "unread" {
            ListFilter::Unread
        } else {
            ListFilter::All
        }
    }
}

/// What a Messages page shows besides the chat list.
struct Show {
    filter: ListFilter,
    chat: Option<ChatId>,
    status: StatusCode,
    draft: String,
    error: Option<String>,
    reply_to: Option<i64>,
    before: Option<i64>,
    /// P7: staff preview a contact's chats; reading marks nothing read.
    preview: bool,
}

impl Show {
    fn list(filter: ListFilter) -> Self {
        Self {
            filter,
            chat: None,
            status: StatusCode::OK,
            draft: String::new(),
            error: None,
            reply_to: None,
            before: None,
            preview: false,
        }
    }

    fn chat(chat: ChatId, reply_to: Option<i64>) -> Self {
        Self {
            chat: Some(chat),
            reply_to,
            ..Self::list(ListFilter::All)
        }
    }
}

async fn messages_page(
    state: &AppState,
    actor: Actor<'_>,
    layout: Layout,
    base: &str,
    show: Show,
) -> Result<Response, PageError> {
    let Show {
        filter,
        chat,
        status,
        draft,
        error,
        reply_to,
        before,
        preview,
    } = show;
    let view = match chat {
        Some(chat) if preview => Some(state.app.chat_view_unread(actor, chat, before).await?),
        Some(chat) => Some(state.app.chat_view(actor, chat, before).await?),
        None => None,
    };
    // Read after viewing, so the open chat shows no unread badge.
    let (people, team, contacts) = match (&view, actor) {
        (Some(v), Actor::Staff(staff)) => {
            let people = state.app.member_names(staff.practice_id, v.chat.id).await?;
            let team = state
                .app
                .staff_directory(staff)
                .await?
                .into_iter()
                .filter(|s| s.active && !people.iter().any(|(m, _)| *m == Member::Staff(s.id)))
                .collect();
            let contacts = state
                .app
                .contacts_for_staff(staff)
                .await?
                .into_iter()
                .filter(|c| {
                    c.status == crate::store::ContactStatus::Active
                        && !people.iter().any(|(m, _)| *m == Member::Contact(c.id))
                })
                .collect();
            (people, team, contacts)
        }
        _ => (Vec::new(), Vec::new(), Vec::new()),
    };
    let (sharing, scheduled, to_message) = match (&view, actor) {
        (view, Actor::Staff(staff)) => (
            state.app.chat_sharing_allowed(staff).await?,
            match view {
                Some(v) => state.app.scheduled_messages(staff, v.chat.id).await?,
                None => Vec::new(),
            },
            Vec::new(),
        ),
        (_, Actor::Contact(contact)) => (
            false,
            Vec::new(),
            state.app.clients_to_message(contact).await?,
        ),
    };
    let prefs = state.app.my_messaging_preferences(actor).await?;
    let max_chars = state.app.max_message_chars(actor).await?;
    let unread_only = filter == ListFilter::Unread;
    let open = view.as_ref().map(|v| v.chat.id);
    let chats = state
        .app
        .chats_for(actor)
        .await?
        .into_iter()
        // M6: hidden chats stay out of the list until their next message;
        // M5: the Unread filter.
        .filter(|c| Some(c.chat.id) == open || (!c.hidden && (!unread_only || c.unread > 0)))
        .collect();
    Ok(render(
        status,
        &MessagesPage {
            layout,
            base: base.to_owned(),
            unread_only,
            chats,
            view,
            key: new_key(),
            draft,
            error,
            reply_to,
            people,
            team,
            contacts,
            prefs,
            max_chars,
            sharing,
            scheduled,
            to_message,
        },
    ))
}

/// S2: the most recent chat to open instead of the list, when the person
/// asked for it and the list was not asked for by name (`?filter=all`, as
/// the page's script reads the list).
async fn latest_chat(
    state: &AppState,
    actor: Actor<'_>,
    query: &ListQuery,
) -> Result<Option<ChatId>, PageError> {
    if !query.filter.is_empty() || !state.app.my_messaging_preferences(actor).await?.open_latest {
        return Ok(None);
    }
    Ok(state
        .app
        .chats_for(actor)
        .await?
        .into_iter()
        .filter(|c| !c.hidden)
        .max_by_key(|c| c.chat.last_message_at)
        .map(|c| c.chat.id))
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}
