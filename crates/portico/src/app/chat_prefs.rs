//! Messaging preferences: the practice's (S3, S6, S7, S8 and who answers
//! "Message the practice") and each person's (S1, S2); clients starting a
//! conversation; the autoresponder.

use super::chats::MAX_MESSAGE_CHARS;
use super::practice_rules::PracticeRules;
use super::questions::Actor;
use super::spans::person;
use super::{App, AppError, AppResult, policy};
use crate::delivery::live::LiveEvent;
use crate::domain::{ChatId, ClientId, Millis, PracticeId, StaffId, ValidationError};
use crate::store::group_commit::NewMessage;
use crate::store::{
    Chat, Client, Contact, ContactStatus, Member, MessagingPreferences, MessagingSettings,
    PortalClient, Staff,
};
use jiff::tz::TimeZone;
use tracing::instrument;

/// S7: at most this many weekly windows.
pub const MAX_WINDOWS: usize = 5;
/// S7: the longest automatic answer.
pub const MAX_AUTORESPONSE_CHARS: usize = 1_000;
/// S7: a chat hears the automatic answer at most once in this time.
pub const AUTORESPONSE_EVERY_MS: i64 = 30 * 60 * 1000;
const MINUTES_IN_WEEK: i64 = 7 * 24 * 60;

/// Days of the week as forms name them, Monday first.
pub const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

/// One autoresponder window as a form shows it: from a day and time to a
/// day and time ("fri", "18:00" → "mon", "08:00").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowInput {
    pub from_day: String,
    pub from_time: String,
    pub to_day: String,
    pub to_time: String,
}

impl WindowInput {
    fn is_blank(&self) -> bool {
        self.from_time.trim().is_empty() && self.to_time.trim().is_empty()
    }

    /// The window from stored minutes of the week.
    pub fn of_minutes((start, end): (i64, i64)) -> Self {
        let day = |m: i64| {
            let index = usize::try_from(m / 1440).unwrap_or(0);
            DAYS.get(index).map_or("mon", |(d, _)| d).to_owned()
        };
        let time = |m: i64| format!("{:02}:{:02}", (m % 1440) / 60, m % 60);
        Self {
            from_day: day(start),
            from_time: time(start),
            to_day: day(end % MINUTES_IN_WEEK),
            to_time: time(end % MINUTES_IN_WEEK),
        }
    }
}

/// A minute of the week from a day name and "HH:MM".
fn minute_of_week(day: &str, time: &str) -> Option<i64> {
    let day = DAYS.iter().position(|(d, _)| *d == day.trim())?;
    let (h, m) = time.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    Some(i64::try_from(day).ok()? * 1440 + h * 60 + m)
}

/// Whether a minute of the week falls in a window (which may run over
/// the week's end, e.g. Friday evening to Monday morning).
pub fn in_window(minute: i64, (start, end): (i64, i64)) -> bool {
    if start < end {
        (start..end).contains(&minute)
    } else {
        minute >= start || minute < end
    }
}

/// The minute of the week of `at` in `zone`.
pub fn week_minute(at: Millis, zone: &TimeZone) -> i64 {
    let local = at.to_timestamp().to_zoned_datetime(zone.clone());
    let day = i64::from(local.weekday().to_monday_zero_offset());
    day * 1440 + i64::from(local.hour()) * 60 + i64::from(local.minute())
}

/// What Settings → Messaging sends.
#[derive(Clone, Debug, Default)]
pub struct SettingsInput {
    pub allow_sharing: bool,
    /// S3: contacts of new clients may start direct chats.
    pub new_clients_may_chat: bool,
    /// S6: empty for the server's own limit.
    pub client_max_chars: String,
    /// Empty for nobody chosen.
    pub default_staff: String,
    pub autoresponder_text: String,
    pub windows: Vec<WindowInput>,
}

fn invalid(text: impl Into<String>) -> AppError {
    AppError::Invalid(ValidationError::new(text.into()))
}

/// S7: a weekly window, minutes of the week from Monday 00:00.
type Window = (i64, i64);

/// S7: an automatic answer and its windows as a form gave them, checked:
/// the text (`None` when empty) and the windows in minutes of the week.
fn autoresponse(
    text: &str,
    windows_in: &[WindowInput],
) -> AppResult<(Option<String>, Vec<Window>)> {
    let text = text.trim();
    if text.chars().count() > MAX_AUTORESPONSE_CHARS || text.contains('\0') {
        return Err(invalid(format!(
            "The automatic answer can be at most {MAX_AUTORESPONSE_CHARS} characters."
        )));
    }
    let mut windows = Vec::new();
    for w in windows_in.iter().filter(|w| !w.is_blank()) {
        let (Some(start), Some(end)) = (
            minute_of_week(&w.from_day, &w.from_time),
            minute_of_week(&w.to_day, &w.to_time),
        ) else {
            return Err(invalid(
                "Give each window a day and a time (HH:MM) to start and to end.",
            ));
        };
        if start == end {
            return Err(invalid("A window must end at another time than it starts."));
        }
        windows.push((start, end));
    }
    if windows.len() > MAX_WINDOWS {
        return Err(invalid(format!(
            "The autoresponder has at most {MAX_WINDOWS} windows."
        )));
    }
    if !text.is_empty() && windows.is_empty() {
        return Err(invalid(
            "Say when the automatic answer is sent: add at least one window.",
        ));
    }
    Ok(((!text.is_empty()).then(|| text.to_owned()), windows))
}

impl App {
    /// The practice's messaging settings (any team member may read them:
    /// pages follow them).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn messaging_settings(&self, actor: &Staff) -> AppResult<MessagingSettings> {
        Ok(self.store.messaging_settings(actor.practice_id).await?)
    }

    /// Settings → Messaging (admins).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn save_messaging_settings(
        &self,
        actor: &Staff,
        input: &SettingsInput,
        origin: &super::sessions::ClientInfo,
    ) -> AppResult<()> {
        if !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::Forbidden);
        }
        let current = self.store.messaging_settings(actor.practice_id).await?;
        let max = input.client_max_chars.trim();
        let client_max_message_chars = if max.is_empty() {
            None
        } else {
            match max.replace([',', '.', ' '], "").parse::<i64>() {
                Ok(n)
                    if (1..=i64::try_from(MAX_MESSAGE_CHARS).unwrap_or(i64::MAX)).contains(&n) =>
                {
                    Some(n)
                }
                _ => {
                    return Err(invalid(format!(
                        "The longest message for clients must be a number from 1 to {MAX_MESSAGE_CHARS} (the server's own limit)."
                    )));
                }
            }
        };
        let default_staff = match input.default_staff.trim() {
            "" => None,
            id => {
                let id: StaffId = id
                    .parse()
                    .map_err(|_| invalid("Choose a team member from the list."))?;
                let staff = self.store.get_staff(actor.practice_id, id).await?;
                if !staff.active {
                    return Err(invalid(format!("{} is no longer on the team.", staff.name)));
                }
                Some(staff.id)
            }
        };
        let (autoresponder_text, windows) =
            autoresponse(&input.autoresponder_text, &input.windows)?;
        // S3 applies to clients created after the change: the time it was
        // turned off is kept while it stays off.
        let client_chats_off_since =
            match (input.new_clients_may_chat, current.client_chats_off_since) {
                (true, _) => None,
                (false, Some(since)) => Some(since),
                (false, None) => Some(self.clock.now()),
            };
        let settings = MessagingSettings {
            allow_sharing: input.allow_sharing,
            client_chats_off_since,
            client_max_message_chars,
            default_staff,
            autoresponder_text,
            windows,
        };
        let entry = self
            .audit_entry(
                actor.practice_id,
                actor,
                crate::store::AuditKind::SettingsChanged,
                origin,
            )
            .on("practice", actor.practice_id)
            .detail("messaging");
        Ok(self
            .store
            .set_messaging_settings(actor.practice_id, &settings, &entry)
            .await?)
    }

    /// S7, per person: the signed-in team member's own automatic answer
    /// (an empty text and no windows when they have none).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn my_autoresponder(&self, actor: &Staff) -> AppResult<(String, Vec<WindowInput>)> {
        Ok(self
            .store
            .staff_autoresponder(actor.practice_id, actor.id)
            .await?
            .map(|a| {
                (
                    a.text,
                    a.windows.into_iter().map(WindowInput::of_minutes).collect(),
                )
            })
            .unwrap_or_default())
    }

    /// S7, per person: saves the signed-in team member's own automatic
    /// answer; an empty text turns it off. Each person changes only their
    /// own.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn save_my_autoresponder(
        &self,
        actor: &Staff,
        text: &str,
        windows: &[WindowInput],
    ) -> AppResult<()> {
        let (text, windows) = autoresponse(text, windows)?;
        let answer = text.as_deref().map(|t| (t, windows.as_slice()));
        Ok(self
            .store
            .set_staff_autoresponder(actor.practice_id, actor.id, answer)
            .await?)
    }

    /// S3: whether the contacts of `client` may start a direct chat: its own
    /// setting, else on unless it was created after the practice turned
    /// direct chats off for new clients.
    pub async fn client_may_start_chats(&self, client: &Client) -> AppResult<bool> {
        let own = self
            .store
            .client_chats_setting(client.practice_id, client.id)
            .await?;
        if let Some(own) = own {
            return Ok(own);
        }
        let settings = self.store.messaging_settings(client.practice_id).await?;
        Ok(settings
            .client_chats_off_since
            .is_none_or(|since| client.created_at < since))
    }

    /// S3 on a client's Overview: its own setting and what applies.
    pub async fn client_chats_setting(
        &self,
        actor: &Staff,
        client: ClientId,
    ) -> AppResult<(Option<bool>, bool)> {
        let client = self.store.get_client(actor.practice_id, client).await?;
        if !policy::staff_may_open_client(actor, &client) {
            return Err(AppError::NotFound);
        }
        let own = self
            .store
            .client_chats_setting(client.practice_id, client.id)
            .await?;
        Ok((own, self.client_may_start_chats(&client).await?))
    }

    /// S3: a client's own setting (`None`: as the practice says).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn set_client_chats(
        &self,
        actor: &Staff,
        client: ClientId,
        value: Option<bool>,
    ) -> AppResult<()> {
        let client = self.store.get_client(actor.practice_id, client).await?;
        if !policy::staff_may_open_client(actor, &client) {
            return Err(AppError::NotFound);
        }
        Ok(self
            .store
            .set_client_chats_setting(client.practice_id, client.id, value)
            .await?)
    }

    /// S1, S2: the person's own preferences.
    #[instrument(skip_all, fields(practice = %actor.practice_id(), by = %person(actor)))]
    pub async fn my_messaging_preferences(
        &self,
        actor: Actor<'_>,
    ) -> AppResult<MessagingPreferences> {
        let (practice, member) = member_of(actor);
        Ok(self.store.messaging_preferences(practice, member).await?)
    }

    #[instrument(skip_all, fields(practice = %actor.practice_id(), by = %person(actor)))]
    pub async fn set_my_messaging_preferences(
        &self,
        actor: Actor<'_>,
        prefs: MessagingPreferences,
    ) -> AppResult<()> {
        let (practice, member) = member_of(actor);
        Ok(self
            .store
            .set_messaging_preferences(practice, member, prefs)
            .await?)
    }

    /// S6: the longest message this person may send.
    #[instrument(skip_all, fields(practice = %actor.practice_id(), by = %person(actor)))]
    pub async fn max_message_chars(&self, actor: Actor<'_>) -> AppResult<usize> {
        match actor {
            Actor::Staff(_) => Ok(MAX_MESSAGE_CHARS),
            Actor::Contact(c) => Ok(self
                .store
                .messaging_settings(c.practice_id)
                .await?
                .client_max_message_chars
                .and_then(|n| usize::try_from(n).ok())
                .map_or(MAX_MESSAGE_CHARS, |n| n.min(MAX_MESSAGE_CHARS))),
        }
    }

    /// The clients a contact can message the practice about, and whether
    /// each allows it (S3).
    #[instrument(skip_all, fields(practice = %contact.practice_id, by = %person(contact)))]
    pub async fn clients_to_message(
        &self,
        contact: &Contact,
    ) -> AppResult<Vec<(PortalClient, bool)>> {
        let mut out = Vec::new();
        for reachable in self
            .store
            .portal_clients(contact.practice_id, contact.id)
            .await?
        {
            let allowed = self.client_may_start_chats(&reachable.client).await?;
            out.push((reachable, allowed));
        }
        Ok(out)
    }

    /// "Message the practice": the contact's direct chat about `client`
    /// with the staff who look after it (or the practice's chosen team
    /// member), opened again if there is one; refused when S3 is off for
    /// the client. A sub-record is reached through its family primary.
    #[instrument(skip_all, fields(
        practice = %contact.practice_id, by = %person(contact), client = %client
    ))]
    pub async fn message_the_practice(
        &self,
        contact: &Contact,
        client: ClientId,
    ) -> AppResult<Chat> {
        let practice = contact.practice_id;
        let reachable = self.store.portal_clients(practice, contact.id).await?;
        if !policy::contact_may_open_client(&reachable, client) {
            return Err(AppError::NotFound);
        }
        let client = self.store.get_client(practice, client).await?;
        // Her chat about this client, if there is one, comes back.
        for summary in self
            .store
            .chats_of(practice, Member::Contact(contact.id))
            .await?
        {
            if summary.chat.direct && summary.chat.client_id == Some(client.id) {
                self.store
                    .set_member_flags(
                        practice,
                        summary.chat.id,
                        Member::Contact(contact.id),
                        Some(false),
                        None,
                    )
                    .await?;
                return Ok(summary.chat);
            }
        }
        if !self.client_may_start_chats(&client).await? {
            return Err(AppError::conflict(format!(
                "Your practice does not take new chats about {} here. Reply to a message from them, or contact them another way.",
                client.name
            )));
        }
        let mut staff = self.active_staff_of(practice, client.id).await?;
        if staff.is_empty()
            && let Some(primary) = client.primary_client_id
        {
            staff = self.active_staff_of(practice, primary).await?;
        }
        if staff.is_empty()
            && let Some(default) = self.store.messaging_settings(practice).await?.default_staff
            && self.store.get_staff(practice, default).await?.active
        {
            staff.push(default);
        }
        if staff.is_empty() {
            return Err(AppError::conflict(
                "Nobody at the practice has been chosen to answer yet. Please contact them another way.",
            ));
        }
        let mut members: Vec<Member> = staff.into_iter().map(Member::Staff).collect();
        members.push(Member::Contact(contact.id));
        if let Some(primary) = client.primary_client_id {
            // In a family, the primary's login sees the sub-records' chats (P5).
            for family in self.store.client_contacts(practice, primary).await? {
                if family.status == ContactStatus::Active && family.id != contact.id {
                    members.push(Member::Contact(family.id));
                }
            }
        }
        let mut tx = self.store.begin().await?;
        let chat = tx
            .create_chat(
                practice,
                true,
                &format!("{} — {}", contact.name, client.name),
                Some(client.id),
                &members,
                self.clock.now(),
            )
            .await?;
        tx.commit().await?;
        Ok(chat)
    }

    async fn active_staff_of(
        &self,
        practice: PracticeId,
        client: ClientId,
    ) -> AppResult<Vec<StaffId>> {
        let mut out = Vec::new();
        for id in self.store.assigned_staff(practice, client).await? {
            if self.store.get_staff(practice, id).await?.active {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// S7: after a contact's message, the practice's automatic answer (or a
    /// team member's own) when it is inside one of its windows, at most once per chat in 30
    /// minutes. Only contacts' messages reach here, so staff-only chats
    /// and automatic answers never get one. A failure is logged: the
    /// contact's message is stored whatever happens here.
    pub(super) async fn autorespond(
        &self,
        practice: PracticeId,
        chat: ChatId,
        members: &[Member],
        rules: &PracticeRules,
    ) {
        if let Err(error) = self.try_autorespond(practice, chat, members, rules).await {
            tracing::warn!(%error, %chat, "could not send the automatic answer");
        }
    }

    async fn try_autorespond(
        &self,
        practice: PracticeId,
        chat: ChatId,
        members: &[Member],
        rules: &PracticeRules,
    ) -> AppResult<()> {
        if !members.iter().any(|m| matches!(m, Member::Contact(_))) {
            return Ok(());
        }
        let now = self.clock.now();
        let Some((sender, sender_name, text)) = autoresponse_now(practice, members, rules, now)?
        else {
            return Ok(());
        };
        if !self
            .store
            .claim_autoreply(practice, chat, now, Millis(now.0 - AUTORESPONSE_EVERY_MS))
            .await?
        {
            return Ok(());
        }
        let appended = self
            .sends
            .append(NewMessage {
                practice,
                chat,
                sender: Member::Staff(sender),
                sender_name,
                body: text,
                reply_to: None,
                key: format!("auto:{chat}:{}", now.0),
                now,
                files: Vec::new(),
                status_of: None,
                urgent: false,
                automatic: true,
                audit: Vec::new(),
            })
            .await?;
        if appended.webhooks_queued {
            self.webhook_wake.notify_one();
        }
        let message = appended.message;
        if appended.new {
            self.live
                .publish(practice, appended.recipients, LiveEvent::message(&message));
        }
        Ok(())
    }
}

/// S7: which automatic answer applies now, if any: the practice's in its
/// windows (in the practice's time zone), else the own answer of a team
/// member in the chat in one of their windows (in their own time zone),
/// sent as them. Returns the sender, its name and the text.
fn autoresponse_now(
    practice: PracticeId,
    members: &[Member],
    rules: &PracticeRules,
    now: Millis,
) -> AppResult<Option<(StaffId, String, String)>> {
    let practice_zone = TimeZone::get(&rules.time_zone).unwrap_or(TimeZone::UTC);
    let settings = &rules.messaging;
    if let Some(text) = &settings.autoresponder_text {
        let minute = week_minute(now, &practice_zone);
        if settings.windows.iter().any(|w| in_window(minute, *w)) {
            // The practice answers, not a person: its id stands for the sender.
            let sender: StaffId = practice
                .to_string()
                .parse()
                .map_err(|_| invalid("practice id"))?;
            return Ok(Some((sender, rules.name.clone(), text.clone())));
        }
    }
    let staff_in_chat: Vec<StaffId> = members
        .iter()
        .filter_map(|m| match *m {
            Member::Staff(id) => Some(id),
            Member::Contact(_) => None,
        })
        .collect();
    let answer = rules
        .staff_autoresponders
        .iter()
        .filter(|a| staff_in_chat.contains(&a.staff))
        .find(|a| {
            let zone = a
                .time_zone
                .as_deref()
                .and_then(|z| TimeZone::get(z).ok())
                .unwrap_or_else(|| practice_zone.clone());
            let minute = week_minute(now, &zone);
            a.windows.iter().any(|w| in_window(minute, *w))
        });
    Ok(answer.map(|a| (a.staff, a.name.clone(), a.text.clone())))
}

fn member_of(actor: Actor<'_>) -> (PracticeId, Member) {
    (actor.practice_id(), actor.member())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_may_run_over_the_weeks_end() {
        let friday_evening = minute_of_week("fri", "18:00").unwrap_or(-1);
        let monday_morning = minute_of_week("mon", "08:00").unwrap_or(-1);
        let weekend = (friday_evening, monday_morning);
        assert!(in_window(
            minute_of_week("sat", "12:00").unwrap_or(-1),
            weekend
        ));
        assert!(in_window(
            minute_of_week("mon", "07:59").unwrap_or(-1),
            weekend
        ));
        assert!(!in_window(monday_morning, weekend));
        assert!(!in_window(
            minute_of_week("wed", "12:00").unwrap_or(-1),
            weekend
        ));
        let evening = (
            minute_of_week("tue", "18:00").unwrap_or(-1),
            minute_of_week("tue", "23:59").unwrap_or(-1),
        );
        assert!(in_window(
            minute_of_week("tue", "20:15").unwrap_or(-1),
            evening
        ));
        assert!(!in_window(
            minute_of_week("wed", "20:15").unwrap_or(-1),
            evening
        ));
    }

    #[test]
    fn bad_days_and_times_are_not_minutes() {
        assert_eq!(minute_of_week("mon", "00:00"), Some(0));
        assert_eq!(minute_of_week("sun", "23:59"), Some(MINUTES_IN_WEEK - 1));
        assert_eq!(minute_of_week("xyz", "10:00"), None);
        assert_eq!(minute_of_week("mon", "24:00"), None);
        assert_eq!(minute_of_week("mon", "nine"), None);
    }

    #[test]
    fn windows_show_as_they_were_given() {
        let w = WindowInput::of_minutes((
            minute_of_week("fri", "18:30").unwrap_or(0),
            minute_of_week("mon", "08:00").unwrap_or(0),
        ));
        assert_eq!(
            (
                w.from_day.as_str(),
                w.from_time.as_str(),
                w.to_day.as_str(),
                w.to_time.as_str()
            ),
            ("fri", "18:30", "mon", "08:00")
        );
    }
}
