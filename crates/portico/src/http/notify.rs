//! Notification pages (N1, N2, S4, S5, X7): each person's preferences,
//! the practice's settings, the one-click unsubscribe (RFC 8058), the
//! counts the top bars show, and opening a chat from a staff alert.

use super::AppState;
use super::area::{Area, Staff};
use super::errors::PageError;
use super::ids::IdPath;
use super::layout::Layout;
use super::pages::render;
use super::session::{MaybeIdentity, StaffUser};
use super::urls;
use crate::app::AppError;
use crate::app::questions::Actor;
use crate::app::sessions::ClientInfo;
use crate::domain::{ChatId, PracticeId};
use crate::store::{ContentChoice, Member, NotifyChannel, NotifyPrefs, NotifySettings, StaffMode};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;

/// `HH:MM` from minutes after midnight.
fn hhmm(minute: i64) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Minutes after midnight from `HH:MM`.
fn minute_of(text: &str) -> Option<i64> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

#[derive(Template)]
#[template(path = "notify_prefs.html")]
struct PrefsPage {
    layout: Layout,
    staff: bool,
    action: String,
    messages: &'static str,
    questions: &'static str,
    staff_mode: &'static str,
    digest: String,
    quiet_start: String,
    quiet_end: String,
    time_zone: String,
    in_app_alerts: bool,
    alert_sound: bool,
    /// S5: the person's own choice, and the practice's default under it.
    content: &'static str,
    practice_default: bool,
    practice_name: String,
    notice: Option<String>,
    error: Option<String>,
    /// X12: the VAPID public key (`None`: no push on this server) and the
    /// person's devices.
    push_key: Option<String>,
    devices: Vec<DeviceRow>,
    devices_action: String,
}

/// A device in the list under the preferences.
struct DeviceRow {
    id: String,
    label: String,
    added: String,
}

impl PrefsPage {
    fn new<A: Area>(
        layout: Layout,
        staff: bool,
        prefs: &NotifyPrefs,
        practice: &PracticeDefault,
    ) -> Self {
        Self {
            layout,
            staff,
            action: urls::account_notifications::<A>(),
            messages: prefs.messages.as_str(),
            questions: prefs.questions.as_str(),
            staff_mode: prefs.staff_mode.as_str(),
            digest: hhmm(prefs.digest_minute),
            quiet_start: prefs.quiet.map(|(s, _)| hhmm(s)).unwrap_or_default(),
            quiet_end: prefs.quiet.map(|(_, e)| hhmm(e)).unwrap_or_default(),
            time_zone: prefs.time_zone.clone().unwrap_or_default(),
            in_app_alerts: prefs.in_app_alerts,
            alert_sound: prefs.alert_sound,
            content: prefs.content.as_str(),
            practice_default: practice.content,
            practice_name: practice.name.clone(),
            notice: None,
            error: None,
            push_key: None,
            devices: Vec::new(),
            devices_action: urls::account_push_devices::<A>(),
        }
    }

    /// X12: the push button's key and the person's devices.
    async fn with_devices(
        mut self,
        state: &AppState,
        practice: PracticeId,
        me: Member,
    ) -> Result<Self, PageError> {
        self.push_key = state.app.push_public_key().map(str::to_owned);
        self.devices = state
            .app
            .my_push_devices(practice, me)
            .await?
            .into_iter()
            .map(|d| DeviceRow {
                id: d.id,
                label: d.label,
                added: d
                    .created_at
                    .to_timestamp()
                    .strftime("%-d %b %Y")
                    .to_string(),
            })
            .collect();
        Ok(self)
    }

    /// The choices offered for each kind, with their labels.
    fn channels(&self) -> &'static [(&'static str, &'static str)] {
        if self.staff {
            &[("email", "E-mail"), ("none", "Nothing")]
        } else {
            &[
                ("both", "E-mail, and a text when you have a mobile number"),
                ("email", "E-mail only"),
                ("sms", "Text only"),
                ("none", "Nothing"),
            ]
        }
    }
}

#[derive(Deserialize)]
pub struct PrefsForm {
    #[serde(default)]
    messages: String,
    #[serde(default)]
    questions: String,
    #[serde(default)]
    staff_mode: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    quiet_start: String,
    #[serde(default)]
    quiet_end: String,
    #[serde(default)]
    time_zone: String,
    in_app_alerts: Option<String>,
    alert_sound: Option<String>,
    #[serde(default)]
    content: String,
}

impl PrefsForm {
    fn parse(&self, staff: bool, current: &NotifyPrefs) -> Result<NotifyPrefs, String> {
        let channel = |text: &str| {
            NotifyChannel::parse(text)
                .filter(|c| !staff || matches!(c, NotifyChannel::Email | NotifyChannel::None))
                .ok_or_else(|| "Choose how you are told of each kind.".to_owned())
        };
        let quiet = match (self.quiet_start.trim(), self.quiet_end.trim()) {
            ("", "") => None,
            (start, end) => Some((
                minute_of(start).ok_or("Quiet hours start at a time such as 22:00.")?,
                minute_of(end).ok_or("Quiet hours end at a time such as 07:00.")?,
            )),
        };
        Ok(NotifyPrefs {
            messages: channel(&self.messages)?,
            questions: channel(&self.questions)?,
            staff_mode: if staff {
                StaffMode::parse(&self.staff_mode).ok_or("Choose when e-mail reaches you.")?
            } else {
                current.staff_mode
            },
            digest_minute: if staff {
                minute_of(&self.digest).ok_or("Choose a digest time such as 08:00.")?
            } else {
                current.digest_minute
            },
            quiet,
            time_zone: Some(self.time_zone.trim().to_owned()).filter(|z| !z.is_empty()),
            in_app_alerts: if staff {
                self.in_app_alerts.is_some()
            } else {
                current.in_app_alerts
            },
            alert_sound: if staff {
                self.alert_sound.is_some()
            } else {
                current.alert_sound
            },
            content: match self.content.as_str() {
                // A form from before the choice existed keeps what was set.
                "" => current.content,
                text => ContentChoice::parse(text)
                    .ok_or("Choose whether your e-mails include the text.")?,
            },
        })
    }
}

#[derive(Deserialize, Default)]
pub struct Saved {
    done: Option<String>,
}

/// What a person's preferences page says of their practice (S5).
struct PracticeDefault {
    name: String,
    /// Whether the practice puts the text in this person's e-mails.
    content: bool,
}

async fn practice_default(
    state: &AppState,
    practice: PracticeId,
    me: Member,
) -> Result<PracticeDefault, PageError> {
    let (name, content) = state.app.notify_content_default(practice, me).await?;
    Ok(PracticeDefault { name, content })
}

/// `GET /app/account/notifications`, `GET /portal/account/notifications`
pub async fn prefs_get<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    Query(saved): Query<Saved>,
) -> Result<Response, PageError> {
    let actor = A::actor(&user);
    let (practice, me) = (actor.practice_id(), actor.member());
    let staff = matches!(actor, Actor::Staff(_));
    let prefs = state.app.my_notify_prefs(practice, me).await?;
    let defaults = practice_default(&state, practice, me).await?;
    let mut page = PrefsPage::new::<A>(A::layout(&user).clone(), staff, &prefs, &defaults)
        .with_devices(&state, practice, me)
        .await?;
    page.notice = saved.done.as_deref().map(|done| match done {
        "unsubscribed" => "You will no longer get those e-mails.".to_owned(),
        "device" => "This device will be notified.".to_owned(),
        "device-removed" => "The device was removed; it will not be notified.".to_owned(),
        _ => "Saved.".to_owned(),
    });
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/account/notifications`, `POST /portal/account/notifications`
pub async fn prefs_post<A: Area>(
    State(state): State<AppState>,
    user: A::User,
    Form(form): Form<PrefsForm>,
) -> Result<Response, PageError> {
    let actor = A::actor(&user);
    let (practice, me) = (actor.practice_id(), actor.member());
    let staff = matches!(actor, Actor::Staff(_));
    let current = state.app.my_notify_prefs(practice, me).await?;
    let defaults = practice_default(&state, practice, me).await?;
    let refused = |message: String| {
        let mut page = PrefsPage::new::<A>(A::layout(&user).clone(), staff, &current, &defaults);
        page.error = Some(message);
        render(StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    let prefs = match form.parse(staff, &current) {
        Ok(prefs) => prefs,
        Err(message) => return Ok(refused(message)),
    };
    match state.app.set_my_notify_prefs(practice, me, prefs).await {
        Ok(()) => Ok(Redirect::to(&urls::account_notifications_done::<A>("saved")).into_response()),
        Err(AppError::Invalid(error)) => Ok(refused(error.to_string())),
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    layout: Layout,
    action: String,
    practice_name: String,
    kind: &'static str,
    done: bool,
    error: Option<String>,
}

/// `GET /notifications/unsubscribe/{token}`: a page with the button; a
/// GET never changes anything (mail scanners open links).
pub async fn unsubscribe_get(
    State(state): State<AppState>,
    maybe: MaybeIdentity,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let layout = Layout::public(&maybe.csrf);
    match state.app.peek_unsubscribe(&token).await {
        Ok((practice_name, kind)) => Ok(render(
            StatusCode::OK,
            &UnsubscribePage {
                layout,
                action: urls::unsubscribe(&token),
                practice_name,
                kind: kind.as_str(),
                done: false,
                error: None,
            },
        )),
        Err(AppError::Denied(message)) => Ok(render(
            StatusCode::NOT_FOUND,
            &UnsubscribePage {
                layout,
                action: String::new(),
                practice_name: String::new(),
                kind: "",
                done: false,
                error: Some(message),
            },
        )),
        Err(AppError::NotFound) => Err(PageError::NotFound),
        Err(other) => Err(other.into()),
    }
}

/// `POST /notifications/unsubscribe/{token}`: RFC 8058's one-click POST
/// (`List-Unsubscribe=One-Click`) from a mail program, or the page's
/// button. No sign-in and no anti-forgery token: the signed token is the
/// proof, and it can only turn one kind of e-mail off for one person.
pub async fn unsubscribe_post(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    match state.app.unsubscribe(&token).await {
        Ok(kind) => render(
            StatusCode::OK,
            &UnsubscribePage {
                layout: Layout::anonymous(),
                action: String::new(),
                practice_name: String::new(),
                kind: kind.as_str(),
                done: true,
                error: None,
            },
        ),
        Err(AppError::Denied(message)) => render(
            StatusCode::FORBIDDEN,
            &UnsubscribePage {
                layout: Layout::anonymous(),
                action: String::new(),
                practice_name: String::new(),
                kind: "",
                done: false,
                error: Some(message),
            },
        ),
        Err(other) => PageError::from(other).into_response(),
    }
}

#[derive(Template)]
#[template(path = "notify_settings.html")]
struct SettingsPage {
    layout: Layout,
    content_to_contacts: bool,
    content_to_staff: bool,
    delay: String,
    server_delay: u64,
    notice: Option<String>,
    error: Option<String>,
}

/// `GET /app/settings/notifications` (admins: S5 and the window)
pub async fn settings_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(saved): Query<Saved>,
) -> Result<Response, PageError> {
    if !user.staff.is_admin() {
        return Err(AppError::Forbidden.into());
    }
    let settings = state.app.notify_settings(&user.staff).await?;
    Ok(render(
        StatusCode::OK,
        &SettingsPage {
            layout: user.layout,
            content_to_contacts: settings.content_to_contacts,
            content_to_staff: settings.content_to_staff,
            delay: settings
                .delay_secs
                .map(|s| s.to_string())
                .unwrap_or_default(),
            server_delay: state.config.notify_delay_secs,
            notice: saved.done.map(|_| "Saved.".to_owned()),
            error: None,
        },
    ))
}

#[derive(Deserialize)]
pub struct SettingsForm {
    content_to_contacts: Option<String>,
    content_to_staff: Option<String>,
    #[serde(default)]
    delay: String,
}

/// `POST /app/settings/notifications`
pub async fn settings_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    Form(form): Form<SettingsForm>,
) -> Result<Response, PageError> {
    let refused = |layout: Layout, message: String| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SettingsPage {
                layout,
                content_to_contacts: form.content_to_contacts.is_some(),
                content_to_staff: form.content_to_staff.is_some(),
                delay: form.delay.clone(),
                server_delay: state.config.notify_delay_secs,
                notice: None,
                error: Some(message),
            },
        )
    };
    let delay = match form.delay.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(secs) => Some(secs),
            Err(_) => {
                return Ok(refused(
                    user.layout,
                    "The window is a number of seconds, such as 120.".into(),
                ));
            }
        },
    };
    let settings = NotifySettings {
        content_to_contacts: form.content_to_contacts.is_some(),
        content_to_staff: form.content_to_staff.is_some(),
        delay_secs: delay,
    };
    match state
        .app
        .set_notify_settings(&user.staff, settings, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to("/app/settings/notifications?done=saved").into_response()),
        Err(AppError::Invalid(error)) => Ok(refused(user.layout, error.to_string())),
        Err(other) => Err(other.into()),
    }
}

/// `GET /app/alerts/count`: the top bar's count and the person's S4 choices.
pub async fn alert_count_get(
    State(state): State<AppState>,
    user: StaffUser,
) -> Result<Response, PageError> {
    let count = state.app.staff_alert_count(&user.staff).await?;
    let prefs = state
        .app
        .my_notify_prefs(user.staff.practice_id, Member::Staff(user.staff.id))
        .await?;
    Ok(Json(serde_json::json!({
        "count": count,
        "alerts": prefs.in_app_alerts,
        "sound": prefs.alert_sound,
    }))
    .into_response())
}

#[derive(Template)]
#[template(path = "alert_chat.html")]
struct AlertChatPage {
    layout: Layout,
    action: String,
    error: Option<String>,
}

/// `GET /app/alerts/chat/{chat}`: from an alert to the chat; a staff user
/// who looks after the client but is not in it is asked to join first.
pub async fn alert_chat_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(chat): IdPath<ChatId>,
) -> Result<Response, PageError> {
    if state.app.in_chat(&user.staff, chat).await? {
        return Ok(Redirect::to(&urls::chat::<Staff>(chat)).into_response());
    }
    Ok(render(
        StatusCode::OK,
        &AlertChatPage {
            layout: user.layout,
            action: urls::alert_chat(chat),
            error: None,
        },
    ))
}

/// `POST /app/alerts/chat/{chat}`: join the chat (S8) and open it.
pub async fn alert_chat_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(chat): IdPath<ChatId>,
) -> Result<Response, PageError> {
    match state.app.open_chat_from_alert(&user.staff, chat).await {
        Ok(chat) => Ok(Redirect::to(&urls::chat::<Staff>(chat)).into_response()),
        Err(AppError::Conflict { message, .. }) => Ok(render(
            StatusCode::FORBIDDEN,
            &AlertChatPage {
                layout: user.layout,
                action: String::new(),
                error: Some(message),
            },
        )),
        Err(other) => Err(other.into()),
    }
}

/// `/ws?chat=…`: the chat the page of a socket has open.
#[derive(Deserialize, Default)]
pub struct OpenChat {
    chat: Option<String>,
}

impl OpenChat {
    pub fn watch(
        &self,
        app: crate::app::App,
        practice: PracticeId,
        member: Member,
    ) -> Option<SeenOnPage> {
        let chat = self.chat.as_deref()?.parse().ok()?;
        Some(SeenOnPage {
            app,
            practice,
            member,
            chat,
        })
    }
}

/// A socket whose page shows one chat: the messages it delivers there are
/// in front of the person, so they count as read (and are not notified).
pub struct SeenOnPage {
    app: crate::app::App,
    practice: PracticeId,
    member: Member,
    chat: ChatId,
}

#[derive(Deserialize)]
struct FrameHead {
    kind: String,
    chat: ChatId,
    seq: i64,
}

impl SeenOnPage {
    pub async fn frame(&self, frame: &[u8]) {
        let Ok(head) = serde_json::from_slice::<FrameHead>(frame) else {
            return;
        };
        if head.kind == "message" && head.chat == self.chat {
            self.app
                .seen_live(self.practice, self.member, self.chat, head.seq)
                .await;
        }
    }
}
