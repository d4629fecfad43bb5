//! Who chats with whom (M2, M7, M15): group chats made and changed, the
//! Contacts list, and the direct chats with a team member or a contact.

use crate::app::AppError;
use crate::app::questions::Actor;
use crate::domain::{ChatId, ClientId, ContactId, StaffId};
use crate::http::AppState;
use crate::http::area::Staff;
use crate::http::errors::PageError;
use crate::http::forms::form_refusal;
use crate::http::ids::{IdPath, parse};
use crate::http::layout::Layout;
use crate::http::pages::render;
use crate::http::session::StaffUser;
use crate::http::urls;
use crate::store::{ChatSummary, Member};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

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
        Ok(chat) => Ok(Redirect::to(&urls::chat::<Staff>(chat.id)).into_response()),
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
    IdPath(chat): IdPath<ChatId>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Result<Response, PageError> {
    let (staff, contacts, _) = people_of(&body);
    match state
        .app
        .add_to_chat(&user.staff, chat, &staff, &contacts)
        .await
    {
        Ok(()) => Ok(Redirect::to(&urls::chat::<Staff>(chat)).into_response()),
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
    IdPath(chat): IdPath<ChatId>,
    Form(form): Form<RemoveForm>,
) -> Result<Response, PageError> {
    let member = match form.member.split_once(':') {
        Some(("staff", id)) => Member::Staff(parse(id)?),
        Some(("contact", id)) => Member::Contact(parse(id)?),
        _ => return Err(PageError::NotFound),
    };
    state
        .app
        .remove_from_chat(&user.staff, chat, member)
        .await?;
    Ok(Redirect::to(&urls::chat::<Staff>(chat)).into_response())
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
    IdPath(other): IdPath<StaffId>,
) -> Result<Response, PageError> {
    let chat = state.app.open_staff_chat(&user.staff, other).await?;
    Ok(Redirect::to(&urls::chat::<Staff>(chat.id)).into_response())
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
    IdPath(client): IdPath<ClientId>,
    Form(form): Form<StartForm>,
) -> Result<Response, PageError> {
    let contact: ContactId = parse(&form.contact)?;
    match state
        .app
        .open_direct_chat(&user.staff, client, contact)
        .await
    {
        Ok(chat) => Ok(Redirect::to(&urls::chat::<Staff>(chat.id)).into_response()),
        Err(AppError::Conflict { message, .. }) => Err(PageError::Forbidden(message)),
        Err(other) => Err(other.into()),
    }
}
