//! Messaging preferences: Settings → Messaging (the practice: S3, S6, S7,
//! S8, who answers new chats), My account → Messaging (each person: S1,
//! S2), a client's own S3 setting on its Overview, "Message the practice"
//! in the portal, and scheduled sends (X10).

use super::AppState;
use super::area::{self, Area, Portal};
use super::errors::PageError;
use super::forms::form_refusal;
use super::ids::{IdPath, parse};
use super::layout::Layout;
use super::pages::render;
use super::session::{ContactUser, StaffUser};
use super::staff_pages::Done;
use super::urls;
use crate::app::AppError;
use crate::app::chat_prefs::{DAYS, MAX_WINDOWS, SettingsInput, WindowInput};
use crate::app::chats::MAX_MESSAGE_CHARS;
use crate::app::questions::Actor;
use crate::app::scheduled::ScheduledView;
use crate::app::sessions::ClientInfo;
use crate::domain::{ChatId, ClientId};
use crate::store::{MessagingPreferences, Staff};
use askama::Template;
use axum::Form;
use axum::extract::{Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// A refusal shown as a sentence on a page of its own, never a 500.
fn refused(error: AppError) -> PageError {
    match error {
        AppError::Conflict { message, .. }
        | AppError::Invalid(crate::domain::ValidationError { message, .. }) => {
            PageError::Forbidden(message)
        }
        other => other.into(),
    }
}

#[derive(Template)]
#[template(path = "settings_messaging.html")]
struct SettingsPage {
    layout: Layout,
    notice: Option<String>,
    error: Option<String>,
    input: SettingsInput,
    windows: Vec<WindowInput>,
    team: Vec<Staff>,
    days: &'static [(&'static str, &'static str)],
    server_max: usize,
    is_admin: bool,
}

fn with_blank_rows(mut windows: Vec<WindowInput>) -> Vec<WindowInput> {
    while windows.len() < MAX_WINDOWS {
        windows.push(WindowInput {
            from_day: "mon".into(),
            to_day: "mon".into(),
            ..WindowInput::default()
        });
    }
    windows
}

async fn settings_page(
    state: &AppState,
    user: StaffUser,
    status: StatusCode,
    notice: Option<String>,
    typed: Option<(SettingsInput, String)>,
) -> Result<Response, PageError> {
    let team = state
        .app
        .staff_directory(&user.staff)
        .await?
        .into_iter()
        .filter(|s| s.active)
        .collect();
    let (input, error) = match typed {
        Some((input, error)) => (input, Some(error)),
        None => {
            let s = state.app.messaging_settings(&user.staff).await?;
            (
                SettingsInput {
                    allow_sharing: s.allow_sharing,
                    new_clients_may_chat: s.client_chats_off_since.is_none(),
                    client_max_chars: s
                        .client_max_message_chars
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    default_staff: s.default_staff.map(|s| s.to_string()).unwrap_or_default(),
                    autoresponder_text: s.autoresponder_text.unwrap_or_default(),
                    windows: s.windows.into_iter().map(WindowInput::of_minutes).collect(),
                },
                None,
            )
        }
    };
    let is_admin =
        crate::app::policy::staff_may_manage_practice(&user.staff, user.staff.practice_id);
    Ok(render(
        status,
        &SettingsPage {
            layout: user.layout,
            notice,
            error,
            windows: with_blank_rows(input.windows.clone()),
            input,
            team,
            days: &DAYS,
            server_max: MAX_MESSAGE_CHARS,
            is_admin,
        },
    ))
}

/// `GET /app/settings/messaging`
pub async fn settings_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    settings_page(&state, user, StatusCode::OK, done.notice(), None).await
}

/// S7: an automatic answer's text and weekly windows from a form, the
/// windows as repeated fields read in order.
fn autoresponder_input(body: &[u8]) -> (String, Vec<WindowInput>) {
    let mut text = String::new();
    let (mut from_days, mut from_times, mut to_days, mut to_times) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (key, value) in form_urlencoded::parse(body) {
        let value = value.into_owned();
        match key.as_ref() {
            "autoresponder_text" => text = value,
            "from_day" => from_days.push(value),
            "from_time" => from_times.push(value),
            "to_day" => to_days.push(value),
            "to_time" => to_times.push(value),
            _ => {}
        }
    }
    let windows = from_times
        .into_iter()
        .enumerate()
        .map(|(i, from_time)| WindowInput {
            from_day: from_days.get(i).cloned().unwrap_or_default(),
            from_time,
            to_day: to_days.get(i).cloned().unwrap_or_default(),
            to_time: to_times.get(i).cloned().unwrap_or_default(),
        })
        .collect();
    (text, windows)
}

/// The form's fields.
fn settings_input(body: &[u8]) -> SettingsInput {
    let (autoresponder_text, windows) = autoresponder_input(body);
    let mut input = SettingsInput {
        autoresponder_text,
        windows,
        ..SettingsInput::default()
    };
    for (key, value) in form_urlencoded::parse(body) {
        let value = value.into_owned();
        match key.as_ref() {
            "allow_sharing" => input.allow_sharing = true,
            "new_clients_may_chat" => input.new_clients_may_chat = true,
            "client_max_chars" => input.client_max_chars = value,
            "default_staff" => input.default_staff = value,
            _ => {}
        }
    }
    input
}

/// `POST /app/settings/messaging` (admins)
pub async fn settings_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let input = settings_input(&body);
    match state
        .app
        .save_messaging_settings(&user.staff, &input, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to("/app/settings/messaging?done=saved").into_response()),
        Err(AppError::Forbidden) => Err(PageError::Forbidden(
            "Only admins change the practice's messaging settings.".into(),
        )),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            settings_page(&state, user, status, None, Some((input, message))).await
        }
    }
}

#[derive(Template)]
#[template(path = "account_messaging.html")]
struct PreferencesPage {
    layout: Layout,
    action: String,
    back: String,
    prefs: MessagingPreferences,
    notice: Option<String>,
    /// S7: staff only, their own automatic answer.
    away: Option<AwayForm>,
}

/// S7: a team member's own automatic answer as the form shows it.
struct AwayForm {
    text: String,
    windows: Vec<WindowInput>,
    days: &'static [(&'static str, &'static str)],
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct PreferencesForm {
    #[serde(default)]
    enter: String,
    open_latest: Option<String>,
}

impl PreferencesForm {
    fn prefs(&self) -> MessagingPreferences {
        MessagingPreferences {
            enter_sends: self.enter != "newline",
            open_latest: self.open_latest.is_some(),
        }
    }
}

/// A person's messaging preferences; for a team member, with her own
/// automatic answer (as typed, with why it was refused, or as saved).
async fn preferences_page<A: Area>(
    state: &AppState,
    user: A::User,
    status: StatusCode,
    notice: Option<String>,
    typed: Option<(String, Vec<WindowInput>, String)>,
) -> Result<Response, PageError> {
    let actor = A::actor(&user);
    let prefs = state.app.my_messaging_preferences(actor).await?;
    let away = match (actor, typed) {
        (Actor::Staff(_), Some((text, windows, error))) => Some((text, windows, Some(error))),
        (Actor::Staff(staff), None) => {
            let (text, windows) = state.app.my_autoresponder(staff).await?;
            Some((text, windows, None))
        }
        (Actor::Contact(_), _) => None,
    };
    Ok(render(
        status,
        &PreferencesPage {
            layout: A::layout(&user).clone(),
            action: urls::account_messaging::<A>(),
            back: urls::account::<A>(),
            prefs,
            notice,
            away: away.map(|(text, windows, error)| AwayForm {
                text,
                windows: with_blank_rows(windows),
                days: &DAYS,
                error,
            }),
        },
    ))
}

/// `GET /app/account/messaging`, `GET /portal/account/messaging`
pub async fn preferences_get<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    preferences_page::<A>(&state, user, StatusCode::OK, done.notice(), None).await
}

/// `POST /app/account/messaging`, `POST /portal/account/messaging`
pub async fn preferences_post<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    Form(form): Form<PreferencesForm>,
) -> Result<Response, PageError> {
    state
        .app
        .set_my_messaging_preferences(A::actor(&user), form.prefs())
        .await?;
    Ok(Redirect::to(&urls::account_messaging_done::<A>("saved")).into_response())
}

/// `POST /app/account/messaging/away` (S7: the team member's own
/// automatic answer)
pub async fn staff_away_post(
    State(state): State<AppState>,
    user: StaffUser,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let (text, windows) = autoresponder_input(&body);
    match state
        .app
        .save_my_autoresponder(&user.staff, &text, &windows)
        .await
    {
        Ok(()) => {
            Ok(Redirect::to(&urls::account_messaging_done::<area::Staff>("saved")).into_response())
        }
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            let typed = Some((text, windows, message));
            preferences_page::<area::Staff>(&state, user, status, None, typed).await
        }
    }
}

#[derive(Deserialize)]
pub struct ClientChatsForm {
    #[serde(default)]
    client_chats: String,
}

/// `POST /app/clients/{id}/chats` (S3: the client's own setting)
pub async fn client_chats_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(client): IdPath<ClientId>,
    Form(form): Form<ClientChatsForm>,
) -> Result<Response, PageError> {
    let value = match form.client_chats.as_str() {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    };
    state
        .app
        .set_client_chats(&user.staff, client, value)
        .await?;
    Ok(Redirect::to(&urls::client_done::<area::Staff>(client, "saved")).into_response())
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    client: String,
}

/// `POST /portal/messages/start`: "Message the practice".
pub async fn portal_start_post(
    State(state): State<AppState>,
    user: ContactUser,
    Form(form): Form<StartForm>,
) -> Result<Response, PageError> {
    let client: ClientId = parse(&form.client)?;
    let chat = state
        .app
        .message_the_practice(&user.contact, client)
        .await
        .map_err(refused)?;
    Ok(Redirect::to(&urls::chat::<Portal>(chat.id)).into_response())
}

#[derive(Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    send_at: String,
}

/// `POST /app/messages/{chat}/schedule` (X10)
pub async fn schedule_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(chat): IdPath<ChatId>,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .schedule_message(&user.staff, chat, &form.body, &form.send_at)
        .await
    {
        Ok(_) => Ok(Redirect::to(&urls::chat::<area::Staff>(chat)).into_response()),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            edit_page(
                user,
                status,
                chat,
                None,
                form.body,
                form.send_at,
                Some(message),
            )
        }
    }
}

#[derive(Template)]
#[template(path = "chat_scheduled_edit.html")]
struct EditPage {
    layout: Layout,
    chat: ChatId,
    /// `None`: a new message that was refused.
    id: Option<String>,
    body: String,
    send_at: String,
    error: Option<String>,
}

fn edit_page(
    user: StaffUser,
    status: StatusCode,
    chat: ChatId,
    id: Option<String>,
    body: String,
    send_at: String,
    error: Option<String>,
) -> Result<Response, PageError> {
    Ok(render(
        status,
        &EditPage {
            layout: user.layout,
            chat,
            id,
            body,
            send_at,
            error,
        },
    ))
}

/// `GET /app/messages/scheduled/{id}`: change a scheduled message.
pub async fn scheduled_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<uuid::Uuid>,
) -> Result<Response, PageError> {
    let ScheduledView { item, input, .. } = state.app.scheduled_message(&user.staff, id).await?;
    edit_page(
        user,
        StatusCode::OK,
        item.chat_id,
        Some(item.id.to_string()),
        item.body,
        input,
        None,
    )
}

/// `POST /app/messages/scheduled/{id}`
pub async fn scheduled_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<uuid::Uuid>,
    Form(form): Form<ScheduleForm>,
) -> Result<Response, PageError> {
    match state
        .app
        .edit_scheduled(&user.staff, id, &form.body, &form.send_at)
        .await
    {
        Ok(item) => Ok(Redirect::to(&urls::chat::<area::Staff>(item.chat_id)).into_response()),
        Err(error) => {
            let chat = state
                .app
                .scheduled_message(&user.staff, id)
                .await?
                .item
                .chat_id;
            let (status, message) = form_refusal(error)?;
            edit_page(
                user,
                status,
                chat,
                Some(id.to_string()),
                form.body,
                form.send_at,
                Some(message),
            )
        }
    }
}

/// `POST /app/messages/scheduled/{id}/cancel`
pub async fn scheduled_cancel_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<uuid::Uuid>,
) -> Result<Response, PageError> {
    let chat = state
        .app
        .cancel_scheduled(&user.staff, id)
        .await
        .map_err(refused)?;
    Ok(Redirect::to(&urls::chat::<area::Staff>(chat)).into_response())
}
