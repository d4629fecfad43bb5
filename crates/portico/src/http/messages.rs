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
use crate::app::chats::{ChatAction, ChatView, ExportFormat, SendInput};
use crate::app::questions::Actor;
use crate::app::sessions::{ClientInfo, Person};
use crate::domain::{ChatId, ClientId, ContactId};
use crate::store::{ChatSummary, Member, SessionStage};
use askama::Template;
use axum::Form;
use axum::Json;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
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

/// `GET /app/messages`
pub async fn staff_list_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    if let Some(chat) = latest_chat(&state, Actor::Staff(&user.staff), &query).await? {
        return Ok(Redirect::to(&format!("/app/messages/{chat}")).into_response());
    }
    let show = Show::list(query.filter());
    messages_page(
        &state,
        Actor::Staff(&user.staff),
        user.layout.clone(),
        "/app/messages",
        show,
    )
    .await
}

/// `GET /app/messages/{chat}`
pub async fn staff_chat_get(
    State(state): State<AppState>,
    user: StaffUser,
    Path(chat): Path<String>,
    Query(query): Query<ChatQuery>,
) -> Result<Response, PageError> {
    let show = Show {
        before: query.before.parse().ok(),
        ..Show::chat(parse(&chat)?, query.reply.parse().ok())
    };
    messages_page(
        &state,
        Actor::Staff(&user.staff),
        user.layout.clone(),
        "/app/messages",
        show,
    )
    .await
}

/// `GET /portal/messages`
pub async fn portal_list_get(
    State(state): State<AppState>,
    user: ContactUser,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    if let Some(chat) = latest_chat(&state, Actor::Contact(&user.contact), &query).await? {
        return Ok(Redirect::to(&format!("/portal/messages/{chat}")).into_response());
    }
    let show = Show::list(query.filter());
    messages_page(
        &state,
        Actor::Contact(&user.contact),
        user.layout.clone(),
        "/portal/messages",
        show,
    )
    .await
}

/// `GET /portal/messages/{chat}`
pub async fn portal_chat_get(
    State(state): State<AppState>,
    user: ContactUser,
    Path(chat): Path<String>,
    Query(query): Query<ChatQuery>,
) -> Result<Response, PageError> {
    let show = Show {
        before: query.before.parse().ok(),
        ..Show::chat(parse(&chat)?, query.reply.parse().ok())
    };
    messages_page(
        &state,
        Actor::Contact(&user.contact),
        user.layout.clone(),
        "/portal/messages",
        show,
    )
    .await
}

/// `GET /app/preview/{contact}/messages` (P7): the contact's chats as she
/// sees them, read-only.
pub async fn preview_list_get(
    State(state): State<AppState>,
    user: StaffUser,
    Path(contact): Path<String>,
) -> Result<Response, PageError> {
    let (contact, layout) = preview_of(&state, &user, &contact).await?;
    let show = Show {
        preview: true,
        ..Show::list(ListFilter::All)
    };
    let base = format!("/app/preview/{}/messages", contact.id);
    messages_page(&state, Actor::Contact(&contact), layout, &base, show).await
}

/// `GET /app/preview/{contact}/messages/{chat}` (P7): one of her chats,
/// read-only; nothing is marked read and no receipt goes.
pub async fn preview_chat_get(
    State(state): State<AppState>,
    user: StaffUser,
    Path((contact, chat)): Path<(String, String)>,
    Query(query): Query<ChatQuery>,
) -> Result<Response, PageError> {
    let (contact, layout) = preview_of(&state, &user, &contact).await?;
    let show = Show {
        before: query.before.parse().ok(),
        preview: true,
        ..Show::chat(parse(&chat)?, None)
    };
    let base = format!("/app/preview/{}/messages", contact.id);
    messages_page(&state, Actor::Contact(&contact), layout, &base, show).await
}

/// The contact a preview is of, and the frame of her portal.
async fn preview_of(
    state: &AppState,
    user: &StaffUser,
    contact: &str,
) -> Result<(crate::store::Contact, Layout), PageError> {
    let contact = state
        .app
        .preview_contact(&user.staff, parse(contact)?)
        .await?;
    let practice = &user.identity.practice;
    let layout =
        Layout::preview(&user.layout.csrf, &contact, practice).seen_at(state.app.clock.now());
    Ok((contact, layout))
}

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
        Ok(message) if wants_json(headers) => Ok(Json(json!({
            "seq": message.seq,
            "sender_name": message.sender_name,
            "body": message.body,
            "at": layout.time.short(message.created_at),
            "next_key": new_key(),
        }))
        .into_response()),
        Ok(_) => Ok(Redirect::to(&format!("{base}/{chat}")).into_response()),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            if wants_json(headers) {
                return Ok((status, Json(json!({ "error": message }))).into_response());
            }
            let show = Show {
                status,
                draft: form.body,
                error: Some(message),
                ..Show::chat(chat, form.reply_to.trim().parse().ok())
            };
            messages_page(state, actor, layout, base, show).await
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

#[derive(Template)]
#[template(path = "chat_messages_after.html")]
struct MessagesAfter {
    layout: Layout,
    base: &'static str,
    v: ChatView,
}

/// What a page missed or has just been told of (M14): as JSON (the
/// messages' text), or, asked for HTML, as the page's own markup, which
/// marks them read as reading the page does (M8).
async fn after(
    state: &AppState,
    actor: Actor<'_>,
    layout: Layout,
    base: &'static str,
    (chat, seq): (String, String),
    headers: &HeaderMap,
) -> Result<Response, PageError> {
    let seq: i64 = seq.parse().map_err(|_| PageError::NotFound)?;
    let chat: ChatId = parse(&chat)?;
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        let v = state.app.chat_view_after(actor, chat, seq).await?;
        return Ok(render(StatusCode::OK, &MessagesAfter { layout, base, v }));
    }
    let messages = state.app.messages_after(actor, chat, seq).await?;
    let items: Vec<_> = messages
        .iter()
        .map(|m| json!({ "seq": m.seq, "sender_name": m.sender_name, "body": m.body, "at": layout.time.short(m.created_at) }))
        .collect();
    Ok(Json(items).into_response())
}

/// `GET /app/messages/{chat}/after/{seq}`: what a page missed.
pub async fn staff_after_get(
    State(state): State<AppState>,
    user: StaffUser,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let actor = Actor::Staff(&user.staff);
    after(
        &state,
        actor,
        user.layout.clone(),
        "/app/messages",
        path,
        &headers,
    )
    .await
}

/// `GET /portal/messages/{chat}/after/{seq}`
pub async fn portal_after_get(
    State(state): State<AppState>,
    user: ContactUser,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let actor = Actor::Contact(&user.contact);
    after(
        &state,
        actor,
        user.layout.clone(),
        "/portal/messages",
        path,
        &headers,
    )
    .await
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
        Err(AppError::Conflict { message, .. }) => Err(PageError::Forbidden(message)),
        Err(other) => Err(other.into()),
    }
}

/// `GET /ws`: one WebSocket per open page, carrying the live events of the
/// signed-in person's chats.
pub async fn ws_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    headers: HeaderMap,
    Query(open): Query<crate::http::notify::OpenChat>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // A page of another site must not open a socket with this browser's cookie.
    if !super::csrf::same_origin(&headers, &state) {
        return StatusCode::FORBIDDEN.into_response();
    }
    // A stopping instance takes no new sockets: the page retries, and the
    // load balancer sends it to another instance.
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
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
    // Registered before the upgrade completes, so nothing sent meanwhile
    // is missed; dropped (and so unregistered) if the upgrade fails. The
    // socket belongs to this session: it closes when the session ends.
    let events = state
        .app
        .live
        .subscribe(practice, member, &identity.session.id_hash);
    // And it never outlives the session's absolute end.
    let left = identity.session.expires_at.0 - state.app.clock.now().0;
    let ends_at = tokio::time::Instant::now()
        + std::time::Duration::from_millis(u64::try_from(left).unwrap_or(0));
    // An idle socket should cost little: browsers send nothing but close
    // frames and pongs, so the buffers are small, and frames are written
    // as they come rather than gathered.
    upgrade
        .read_buffer_size(SOCKET_READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(SOCKET_MAX_WRITE_BUFFER)
        .max_message_size(SOCKET_MAX_INCOMING)
        .max_frame_size(SOCKET_MAX_INCOMING)
        .on_upgrade(move |socket| {
            // N2: a message shown on an open chat page is seen, not notified.
            let seen = open.watch(state.app.clone(), practice, member);
            live(socket, events, seen, ends_at)
        })
}

/// What a socket reads at a time, and the largest message a browser may send it.
const SOCKET_READ_BUFFER: usize = 1024;
const SOCKET_MAX_INCOMING: usize = 4096;
/// Frames not yet taken by a slow connection, beyond which it is closed.
const SOCKET_MAX_WRITE_BUFFER: usize = 64 * 1024;
/// A connection that takes no frame for this long is closed: its page
/// catches up when it reconnects.
const SOCKET_SEND_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The close code a socket gets when its session has ended (4000–4999 are
/// the application's own): the page then stops reconnecting.
pub const SESSION_ENDED_CLOSE_CODE: u16 = 4001;

/// The close code a socket gets when its instance stops ("service
/// restart"): the page reconnects after a random pause, so a thousand
/// pages do not all come back at once, and catches up.
pub const RESTART_CLOSE_CODE: u16 = 1012;

/// One task per socket: it sends the person's events as the hub queues
/// them, and ends when either side closes, the hub lets the socket go, or
/// its session ends (then with a close frame that says so).
async fn live(
    mut socket: WebSocket,
    mut events: crate::delivery::live::Subscription,
    seen: Option<crate::http::notify::SeenOnPage>,
    session_ends_at: tokio::time::Instant,
) {
    let session_ended = axum::extract::ws::CloseFrame {
        code: SESSION_ENDED_CLOSE_CODE,
        reason: "session ended".into(),
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(session_ends_at) => {
                let _ = tokio::time::timeout(
                    SOCKET_SEND_WITHIN,
                    socket.send(WsMessage::Close(Some(session_ended))),
                )
                .await;
                return;
            }
            frame = events.next() => {
                let Some(frame) = frame else {
                    if events.restarting() && !events.session_ended() {
                        let restart = axum::extract::ws::CloseFrame {
                            code: RESTART_CLOSE_CODE,
                            reason: "instance restarting".into(),
                        };
                        let _ = tokio::time::timeout(
                            SOCKET_SEND_WITHIN,
                            socket.send(WsMessage::Close(Some(restart))),
                        )
                        .await;
                    } else if events.session_ended() {
                        let _ = tokio::time::timeout(
                            SOCKET_SEND_WITHIN,
                            socket.send(WsMessage::Close(Some(session_ended))),
                        )
                        .await;
                    }
                    return;
                };
                if let Some(seen) = &seen {
                    seen.frame(&frame).await;
                }
                let Ok(text) = axum::extract::ws::Utf8Bytes::try_from(frame) else { continue };
                let sent = tokio::time::timeout(SOCKET_SEND_WITHIN, socket.send(WsMessage::Text(text)));
                if !matches!(sent.await, Ok(Ok(()))) {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    seq: String,
}

async fn act(
    state: &AppState,
    actor: Actor<'_>,
    client: &ClientInfo,
    base: &'static str,
    chat: ChatId,
    form: ActionForm,
) -> Result<Response, PageError> {
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
    match state.app.chat_action(actor, chat, action, client).await {
        Ok(()) if leaves => Ok(Redirect::to(base).into_response()),
        Ok(()) => Ok(Redirect::to(&format!("{base}/{chat}")).into_response()),
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

/// `POST /app/messages/{chat}/action`
pub async fn staff_action_post(
    State(state): State<AppState>,
    user: StaffUser,
    client: ClientInfo,
    Path(chat): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    act(
        &state,
        Actor::Staff(&user.staff),
        &client,
        "/app/messages",
        parse(&chat)?,
        form,
    )
    .await
}

/// `POST /portal/messages/{chat}/action`
pub async fn portal_action_post(
    State(state): State<AppState>,
    user: ContactUser,
    client: ClientInfo,
    Path(chat): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    act(
        &state,
        Actor::Contact(&user.contact),
        &client,
        "/portal/messages",
        parse(&chat)?,
        form,
    )
    .await
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
    Path(chat): Path<String>,
) -> Result<Response, PageError> {
    let view = state
        .app
        .chat_view(Actor::Staff(&user.staff), parse(&chat)?, None)
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
    Path(chat): Path<String>,
) -> Result<Response, PageError> {
    state
        .app
        .delete_chat(&user.staff, parse(&chat)?, &client)
        .await?;
    Ok(Redirect::to("/app/messages").into_response())
}

async fn export(
    state: &AppState,
    actor: Actor<'_>,
    client: &ClientInfo,
    chat: &str,
    format: &str,
) -> Result<Response, PageError> {
    let format = match format {
        "csv" => ExportFormat::Csv,
        "xlsx" => ExportFormat::Xlsx,
        _ => return Err(PageError::NotFound),
    };
    let (chat, file) = state
        .app
        .export_chat(actor, parse(chat)?, format, client)
        .await?;
    let (content_type, extension) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    // An open handle on a file already unlinked: it streams on.
    let handle = tokio::fs::File::from_std(file);
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(handle));
    let name = format!("chat-{}.{extension}", chat.id);
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// `GET /app/messages/{chat}/export/{format}` (M13: csv or xlsx)
pub async fn staff_export_get(
    State(state): State<AppState>,
    user: StaffUser,
    client: ClientInfo,
    Path((chat, format)): Path<(String, String)>,
) -> Result<Response, PageError> {
    export(&state, Actor::Staff(&user.staff), &client, &chat, &format).await
}

/// `GET /portal/answers/export/{format}` (X9): a contact downloads her own
/// answers to questions; recorded.
pub async fn portal_answers_export_get(
    State(state): State<AppState>,
    user: ContactUser,
    client: ClientInfo,
    Path(format): Path<String>,
) -> Result<Response, PageError> {
    let format = match format.as_str() {
        "csv" => ExportFormat::Csv,
        "xlsx" => ExportFormat::Xlsx,
        _ => return Err(PageError::NotFound),
    };
    let file = state
        .app
        .export_my_answers(&user.contact, format, &client)
        .await?;
    let content_type = match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    };
    let handle = tokio::fs::File::from_std(file);
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(handle));
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"my-answers.{}\"", format.extension()),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// `GET /portal/messages/{chat}/export/{format}` (X9): a contact downloads
/// a chat she is in, the same spreadsheet as the practice's; recorded.
pub async fn portal_export_get(
    State(state): State<AppState>,
    user: ContactUser,
    client: ClientInfo,
    Path((chat, format)): Path<(String, String)>,
) -> Result<Response, PageError> {
    export(
        &state,
        Actor::Contact(&user.contact),
        &client,
        &chat,
        &format,
    )
    .await
}

/// `POST {base}/{chat}/files`: the chat's one form (M9), multipart: text,
/// a reply, files, photos and voice notes. Asked for JSON (the page's
/// script), it answers with the message or the refusal; otherwise it
/// goes back to the chat, or shows the refusal there, the draft kept.
/// The headers say whether JSON is wanted; the origin goes to the audit log.
async fn send_files(
    state: &AppState,
    actor: Actor<'_>,
    layout: Layout,
    base: &'static str,
    chat: ChatId,
    (headers, origin): (&HeaderMap, &ClientInfo),
    form: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let (practice, member) = match actor {
        Actor::Staff(s) => (s.practice_id, Member::Staff(s.id)),
        Actor::Contact(c) => (c.practice_id, Member::Contact(c.id)),
    };
    // Only a member's files are taken.
    state
        .app
        .store
        .chat_for_member(practice, chat, member)
        .await
        .map_err(AppError::from)?;
    let json = wants_json(headers);
    let (upload, refused) =
        super::uploads::read_keeping_text(&state.app, practice, form, &["files"]).await;
    if let Some(error) = refused {
        // A file that could not be stored is Portico's failure: the error
        // page (or a 500), logged with the request id.
        let (status, message) = error.refusal()?;
        if json {
            return Ok((status, Json(json!({ "error": message }))).into_response());
        }
        let show = Show {
            status,
            draft: upload.field("body").to_owned(),
            error: Some(message),
            ..Show::chat(chat, upload.field("reply_to").trim().parse().ok())
        };
        return messages_page(state, actor, layout, base, show).await;
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
        .send_message_from(actor, chat, &input, Some(origin))
        .await
    {
        Ok(message) if json => Ok(Json(json!({
            "seq": message.seq,
            "sender_name": message.sender_name,
            "body": message.body,
            "at": layout.time.short(message.created_at),
            "next_key": new_key(),
        }))
        .into_response()),
        Ok(_) => Ok(Redirect::to(&format!("{base}/{chat}")).into_response()),
        Err(error) => {
            state.app.discard_uploads(&upload.files).await;
            let (status, message) = form_refusal(error)?;
            if json {
                return Ok((status, Json(json!({ "error": message }))).into_response());
            }
            let show = Show {
                status,
                draft: input.body,
                error: Some(message),
                ..Show::chat(chat, reply_to)
            };
            messages_page(state, actor, layout, base, show).await
        }
    }
}

/// `POST /app/messages/{chat}/files`
pub async fn staff_files_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Path(chat): Path<String>,
    headers: HeaderMap,
    form: axum::extract::Multipart,
) -> Result<Response, PageError> {
    send_files(
        &state,
        Actor::Staff(&user.staff),
        user.layout.clone(),
        "/app/messages",
        parse(&chat)?,
        (&headers, &origin),
        form,
    )
    .await
}

/// `POST /portal/messages/{chat}/files`
pub async fn portal_files_post(
    State(state): State<AppState>,
    user: ContactUser,
    origin: ClientInfo,
    Path(chat): Path<String>,
    headers: HeaderMap,
    form: axum::extract::Multipart,
) -> Result<Response, PageError> {
    send_files(
        &state,
        Actor::Contact(&user.contact),
        user.layout.clone(),
        "/portal/messages",
        parse(&chat)?,
        (&headers, &origin),
        form,
    )
    .await
}

/// The repeated `staff` and `contact` fields of a form.
fn people_of(body: &[u8]) -> (Vec<crate::domain::StaffId>, Vec<ContactId>, String) {
    let (mut staff, mut contacts, mut title) = (Vec::new(), Vec::new(), String::new());
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "staff" => staff.extend(value.parse::<crate::domain::StaffId>().ok()),
            "contact" => contacts.extend(value.parse::<ContactId>().ok()),
            "title" => title = value.into_owned(),
            _ => {}
        }
    }
    (staff, contacts, title)
}

#[derive(Template)]
#[template(path = "chat_new.html")]
struct NewChatPage {
    layout: Layout,
    title: String,
    team: Vec<crate::store::Staff>,
    contacts: Vec<crate::store::Contact>,
    error: Option<String>,
}

async fn new_chat_page(
    state: &AppState,
    user: StaffUser,
    status: StatusCode,
    title: String,
    error: Option<String>,
) -> Result<Response, PageError> {
    let team = state
        .app
        .staff_directory(&user.staff)
        .await?
        .into_iter()
        .filter(|s| s.active && s.id != user.staff.id)
        .collect();
    let contacts = state
        .app
        .contacts_for_staff(&user.staff)
        .await?
        .into_iter()
        .filter(|c| c.status == crate::store::ContactStatus::Active)
        .collect();
    Ok(render(
        status,
        &NewChatPage {
            layout: user.layout,
            title,
            team,
            contacts,
            error,
        },
    ))
}

/// `GET /app/messages/new` (M2)
pub async fn new_chat_get(
    State(state): State<AppState>,
    user: StaffUser,
) -> Result<Response, PageError> {
    new_chat_page(&state, user, StatusCode::OK, String::new(), None).await
}

/// `POST /app/messages/new`
pub async fn new_chat_post(
    State(state): State<AppState>,
    user: StaffUser,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Result<Response, PageError> {
    let (staff, contacts, title) = people_of(&body);
    match state
        .app
        .create_group_chat(&user.staff, &title, &staff, &contacts)
        .await
    {
        Ok(chat) => Ok(Redirect::to(&format!("/app/messages/{}", chat.id)).into_response()),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            new_chat_page(&state, user, status, title, Some(message)).await
        }
    }
}

/// `POST /app/messages/{chat}/members` (M2: a direct chat becomes a group)
pub async fn add_members_post(
    State(state): State<AppState>,
    user: StaffUser,
    Path(chat): Path<String>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Result<Response, PageError> {
    let chat: ChatId = parse(&chat)?;
    let (staff, contacts, _) = people_of(&body);
    match state
        .app
        .add_to_chat(&user.staff, chat, &staff, &contacts)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/app/messages/{chat}")).into_response()),
        Err(AppError::Conflict { message, .. }) => Err(PageError::Forbidden(message)),
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    member: String,
}

/// `POST /app/messages/{chat}/members/remove`
pub async fn remove_member_post(
    State(state): State<AppState>,
    user: StaffUser,
    Path(chat): Path<String>,
    Form(form): Form<RemoveForm>,
) -> Result<Response, PageError> {
    let chat: ChatId = parse(&chat)?;
    let member = match form.member.split_once(':') {
        Some(("staff", id)) => Member::Staff(parse(id)?),
        Some(("contact", id)) => Member::Contact(parse(id)?),
        _ => return Err(PageError::NotFound),
    };
    state
        .app
        .remove_from_chat(&user.staff, chat, member)
        .await?;
    Ok(Redirect::to(&format!("/app/messages/{chat}")).into_response())
}

/// `GET /app/messages/dock`: the docked messenger's data (M14).
pub async fn dock_get(
    State(state): State<AppState>,
    user: StaffUser,
) -> Result<Response, PageError> {
    let chats = state.app.chats_for(Actor::Staff(&user.staff)).await?;
    let unread: i64 = chats.iter().filter(|c| !c.hidden).map(|c| c.unread).sum();
    let items: Vec<_> = chats
        .iter()
        .filter(|c| !c.hidden)
        .take(8)
        .map(|c| json!({ "id": c.chat.id, "title": c.chat.title, "unread": c.unread, "last_seq": c.chat.last_seq }))
        .collect();
    Ok(Json(json!({ "unread": unread, "chats": items })).into_response())
}

/// `GET /portal/messages/dock`: a contact's unread count, for the top bar.
pub async fn portal_dock_get(
    State(state): State<AppState>,
    user: ContactUser,
) -> Result<Response, PageError> {
    let chats = state.app.chats_for(Actor::Contact(&user.contact)).await?;
    let unread: i64 = chats.iter().filter(|c| !c.hidden).map(|c| c.unread).sum();
    Ok(Json(json!({ "unread": unread })).into_response())
}

/// `GET /files/{id}/thumb`: a picture's thumbnail, made by the server.
pub async fn thumb_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id: crate::domain::FileId = parse(&id)?;
    let Some(identity) = maybe
        .identity
        .filter(|i| i.session.stage == SessionStage::Active)
    else {
        return Err(PageError::NotFound);
    };
    let actor = match &identity.person {
        Person::Staff(staff) => Actor::Staff(staff),
        Person::Contact(contact) => Actor::Contact(contact),
    };
    match state.app.thumbnail(actor, id).await {
        Ok(bytes) => Ok((
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "private, no-store"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; sandbox",
                ),
            ],
            bytes,
        )
            .into_response()),
        // A picture too large or broken to preview: the page offers it as
        // a download instead.
        Err(AppError::Conflict { message, .. }) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            [(header::CACHE_CONTROL, "private, no-store")],
            message,
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
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
    Path(chat): Path<String>,
    Form(form): Form<RenameForm>,
) -> Result<Response, PageError> {
    let chat: ChatId = parse(&chat)?;
    match state.app.rename_chat(&user.staff, chat, &form.title).await {
        Ok(()) => Ok(Redirect::to(&format!("/app/messages/{chat}")).into_response()),
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
                "/app/messages",
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
    Path(chat): Path<String>,
    Form(form): Form<ShareForm>,
) -> Result<Response, PageError> {
    let chat: ChatId = parse(&chat)?;
    match state
        .app
        .share_chat(&user.staff, chat, parse(&form.staff)?)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/app/messages/{chat}")).into_response()),
        Err(AppError::Conflict { message, .. }) => Err(PageError::Forbidden(message)),
        Err(other) => Err(other.into()),
    }
}

/// A client on the Contacts list: its activated contacts, and the direct
/// chats about it this staff user is in (several when chats were shared).
pub struct ClientChats {
    pub client: crate::store::Client,
    pub contacts: Vec<crate::store::Contact>,
    pub chats: Vec<SharedChat>,
}

/// A direct chat about a client, told apart from the others by who of the
/// team is in it ("with Olivia and you").
pub struct SharedChat {
    pub summary: ChatSummary,
    pub team: String,
}

#[derive(Template)]
#[template(path = "chat_contacts.html")]
struct ContactsListPage {
    layout: Layout,
    team: Vec<crate::store::Staff>,
    groups: Vec<ChatSummary>,
    clients: Vec<ClientChats>,
}

/// `GET /app/messages/contacts` (M7): team members, groups and clients.
pub async fn contacts_list_get(
    State(state): State<AppState>,
    user: StaffUser,
) -> Result<Response, PageError> {
    let chats = state.app.chats_for(Actor::Staff(&user.staff)).await?;
    let team = state
        .app
        .staff_directory(&user.staff)
        .await?
        .into_iter()
        .filter(|s| s.active && s.id != user.staff.id)
        .collect();
    let groups = chats.iter().filter(|c| !c.chat.direct).cloned().collect();
    let mut clients = Vec::new();
    for summary in state
        .app
        .list_clients(&user.staff, &Default::default())
        .await?
    {
        let client = summary.client;
        let contacts = state
            .app
            .client_contacts(&user.staff, client.id)
            .await?
            .into_iter()
            .filter(|c| c.status == crate::store::ContactStatus::Active)
            .collect::<Vec<_>>();
        let mut direct = Vec::new();
        for summary in chats
            .iter()
            .filter(|c| c.chat.direct && c.chat.client_id == Some(client.id))
        {
            let mut names: Vec<String> = state
                .app
                .member_names(user.staff.practice_id, summary.chat.id)
                .await?
                .into_iter()
                .filter_map(|(member, name)| match member {
                    Member::Staff(id) if id == user.staff.id => None,
                    Member::Staff(_) => Some(name),
                    Member::Contact(_) => None,
                })
                .collect();
            names.push("you".into());
            let team = match names.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => String::new(),
            };
            direct.push(SharedChat {
                summary: summary.clone(),
                team: format!("with {team}"),
            });
        }
        if !contacts.is_empty() || !direct.is_empty() {
            clients.push(ClientChats {
                client,
                contacts,
                chats: direct,
            });
        }
    }
    Ok(render(
        StatusCode::OK,
        &ContactsListPage {
            layout: user.layout,
            team,
            groups,
            clients,
        },
    ))
}

/// `POST /app/messages/with/{staff}` (M7): the chat with a team member.
pub async fn staff_chat_post(
    State(state): State<AppState>,
    user: StaffUser,
    Path(other): Path<String>,
) -> Result<Response, PageError> {
    let chat = state
        .app
        .open_staff_chat(&user.staff, parse(&other)?)
        .await?;
    Ok(Redirect::to(&format!("/app/messages/{}", chat.id)).into_response())
}
