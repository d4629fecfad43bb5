//! Reminders that escalate (Q5, X6). A client's schedule says "every N
//! days at HH:MM" in each contact's time zone, counted from the oldest
//! question still open for them. Each due slot sends one message listing
//! *their* open questions — e-mail, then also SMS from the step set — and
//! once the last step has gone unanswered, the client's staff get an alert.
//! Slots are claimed in the store (one row per contact and slot), so a slot
//! is sent once however many instances run or how often this runs.

use super::spans::person;
use super::{App, AppError, AppResult, policy};
use crate::delivery::email::reminder_email;
use crate::domain::{Millis, PhoneNumber, issue_secret, paths};
use crate::store::{
    Channel, Client, Contact, ContactQuestions, ContactStatus, NewOutboxItem, ReminderSchedule,
    Staff, TokenPurpose,
};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use tracing::instrument;

/// How long the sign-in link in a reminder works.
const REMINDER_LINK_MS: i64 = 3 * 24 * 3_600_000;

/// When slot `k` (k ≥ 1) of a schedule falls, counted from `anchor`.
pub fn slot_time(
    anchor: Millis,
    zone: &TimeZone,
    schedule: &ReminderSchedule,
    k: i64,
) -> Option<Millis> {
    let anchor = Timestamp::from_millisecond(anchor.0)
        .ok()?
        .to_zoned_datetime(zone.clone());
    let day = anchor
        .date()
        .checked_add(
            Span::new()
                .try_days(k.checked_mul(schedule.every_days)?)
                .ok()?,
        )
        .ok()?;
    let minute = schedule.minute_of_day.clamp(0, 24 * 60 - 1);
    let hour = i8::try_from(minute / 60).ok()?;
    let min = i8::try_from(minute % 60).ok()?;
    let local = day
        .at(hour, min, 0, 0)
        .to_zoned_datetime(zone.clone())
        .ok()?;
    Some(Millis(local.timestamp().as_millisecond()))
}

/// The latest slot due at `now`, if any: its number and time.
pub fn due_slot(
    anchor: Millis,
    zone: &TimeZone,
    schedule: &ReminderSchedule,
    now: Millis,
) -> Option<(i64, Millis)> {
    if !schedule.is_on() {
        return None;
    }
    let mut due = None;
    for k in 1..=3660 {
        let at = slot_time(anchor, zone, schedule, k)?;
        if at > now {
            break;
        }
        due = Some((k, at));
    }
    due
}

/// A time zone name from the tz database (`Europe/London`), or why not.
pub(super) fn valid_zone(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || TimeZone::get(name).is_err() {
        return Err(AppError::Invalid(crate::domain::ValidationError::new(
            format!(
                "{name:?} is not a time zone; use a name such as Europe/London or Australia/Sydney."
            ),
        )));
    }
    Ok(name.to_owned())
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// What the client's page shows about one contact's reminders.
#[derive(Clone, Debug)]
pub struct ReminderStatus {
    pub contact: Contact,
    pub open_questions: usize,
    pub last_sent: Option<Millis>,
    pub steps_sent: i64,
    pub next: Option<Millis>,
    /// All steps were sent and the staff were alerted.
    pub exhausted: bool,
}

impl App {
    /// The open questions a contact sees for a client, oldest first.
    async fn outstanding(
        &self,
        client: &Client,
        contact: &Contact,
    ) -> AppResult<Vec<crate::store::Question>> {
        let reachable = self
            .store
            .portal_clients(client.practice_id, contact.id)
            .await?;
        let mut open: Vec<_> = self
            .store
            .contact_questions(
                client.practice_id,
                contact.id,
                client.id,
                ContactQuestions::Open,
            )
            .await?
            .into_iter()
            .filter(|q| {
                policy::contact_may_see_question(
                    contact.id,
                    &reachable,
                    q.client_assignable,
                    &q.question,
                )
            })
            .map(|q| q.question)
            .collect();
        open.sort_by_key(|q| q.asked_at);
        Ok(open)
    }

    /// The active contacts who reach a client (its own and its family primary's).
    async fn reminded_contacts(&self, client: &Client) -> AppResult<Vec<Contact>> {
        let mut contacts = self
            .store
            .client_contacts(client.practice_id, client.id)
            .await?;
        if let Some(primary) = client.primary_client_id {
            for contact in self
                .store
                .client_contacts(client.practice_id, primary)
                .await?
            {
                if !contacts.iter().any(|c| c.id == contact.id) {
                    contacts.push(contact);
                }
            }
        }
        contacts.retain(|c| c.status == ContactStatus::Active);
        Ok(contacts)
    }

    /// Sends every reminder due now, on the whole server; returns how many
    /// reminders were sent. Safe to run as often as wanted, anywhere.
    pub async fn run_reminders(&self) -> AppResult<usize> {
        let now = self.clock.now();
        let mut sent = 0;
        for (client, schedule) in self.store.clients_with_reminders().await? {
            for contact in self.reminded_contacts(&client).await? {
                if self.remind(&client, &schedule, &contact, now).await? {
                    sent += 1;
                }
            }
        }
        if sent > 0 {
            self.outbox_wake.notify_one();
        }
        Ok(sent)
    }

    async fn remind(
        &self,
        client: &Client,
        schedule: &ReminderSchedule,
        contact: &Contact,
        now: Millis,
    ) -> AppResult<bool> {
        let open = self.outstanding(client, contact).await?;
        let Some(oldest) = open.first() else {
            return Ok(false);
        };
        let anchor = oldest.asked_at;
        let tz = zone(
            &self
                .store
                .contact_time_zone(client.practice_id, contact.id)
                .await?,
        );
        let Some((_, slot_at)) = due_slot(anchor, &tz, schedule, now) else {
            return Ok(false);
        };
        let runs: Vec<_> = self
            .store
            .reminder_runs(client.practice_id, client.id, anchor)
            .await?
            .into_iter()
            .filter(|r| r.contact_id == contact.id)
            .collect();
        let slot = slot_at.0.to_string();
        if runs.iter().any(|r| r.slot == slot) {
            return Ok(false);
        }
        let practice = self.store.get_practice(client.practice_id).await?;
        let steps_sent = i64::try_from(runs.len()).unwrap_or(i64::MAX);
        let mut tx = self.store.begin().await?;
        if steps_sent >= schedule.max {
            // X6: the last step went unanswered: tell the people responsible, once.
            let key = format!(
                "reminders-exhausted:{}:{}:{}",
                client.id, contact.id, anchor.0
            );
            let text = format!(
                "{} has not answered {} question{} about {} after {} reminders.",
                contact.name,
                open.len(),
                if open.len() == 1 { "" } else { "s" },
                client.name,
                schedule.max
            );
            let staff = self
                .store
                .assigned_staff(client.practice_id, client.id)
                .await?;
            for staff_id in staff {
                tx.insert_alert(client.practice_id, staff_id, client.id, &key, &text, now)
                    .await?;
            }
            tx.commit().await?;
            return Ok(false);
        }
        let step = steps_sent + 1;
        let phone = contact
            .phone
            .as_deref()
            .and_then(|p| PhoneNumber::parse(p).ok());
        let with_sms = step >= schedule.sms_from_step && phone.is_some();
        let channels = if with_sms { "email,sms" } else { "email" };
        let count = i64::try_from(open.len()).unwrap_or(i64::MAX);
        if !tx
            .claim_reminder(
                client.practice_id,
                client.id,
                contact.id,
                &slot,
                step,
                channels,
                count,
                now,
            )
            .await?
        {
            return Ok(false);
        }
        let issued = issue_secret();
        tx.insert_token(
            &issued.hash,
            TokenPurpose::SignIn,
            client.practice_id,
            contact.id,
            now,
            Millis(now.0 + REMINDER_LINK_MS),
        )
        .await?;
        let link = self.link(&paths::portal_link(&issued.secret, None));
        let titles: Vec<String> = open.iter().map(|q| q.title.clone()).collect();
        // X15: the link's end in the contact's own time zone.
        let until = crate::local_time::Viewer::new(tz.iana_name().unwrap_or("UTC"), now)
            .full(Millis(now.0 + REMINDER_LINK_MS));
        let brand = crate::delivery::email::EmailBrand::of(&practice, &self.settings.public_url);
        let mail = reminder_email(&contact.name, &brand, &client.name, &titles, &link, &until)
            .map_err(|e| AppError::internal("could not write the reminder", e))?;
        let key = format!("reminder-{}-{}-{slot}", client.id, contact.id);
        tx.enqueue(
            &NewOutboxItem {
                practice_id: Some(practice.id),
                channel: Channel::Email,
                idempotency_key: key.clone(),
                recipient: contact.email.clone(),
                subject: mail.subject,
                body_text: mail.text,
                body_html: Some(mail.html),
            },
            now,
        )
        .await?;
        if let (true, Some(phone)) = (with_sms, phone) {
            tx.enqueue(
                &NewOutboxItem {
                    practice_id: Some(practice.id),
                    channel: Channel::Sms,
                    idempotency_key: format!("{key}-sms"),
                    recipient: phone.to_string(),
                    subject: String::new(),
                    body_text: format!(
                        "{}: {} question{} about {} await your answer. Sign in: {}",
                        practice.name,
                        open.len(),
                        if open.len() == 1 { "" } else { "s" },
                        client.name,
                        self.link("/portal/sign-in")
                    ),
                    body_html: None,
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        tracing::info!(client = %client.id, contact = %contact.id, step, "reminder queued");
        Ok(true)
    }

    /// Staff see, per contact, when they were last reminded and what comes next.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn reminder_status(
        &self,
        actor: &Staff,
        client: crate::domain::ClientId,
    ) -> AppResult<(ReminderSchedule, Vec<ReminderStatus>)> {
        let client = self.store.get_client(actor.practice_id, client).await?;
        if !policy::staff_may_open_client(actor, &client) {
            return Err(AppError::NotFound);
        }
        let schedule = self
            .store
            .reminder_schedule(actor.practice_id, client.id)
            .await?;
        let now = self.clock.now();
        let mut rows = Vec::new();
        for contact in self.reminded_contacts(&client).await? {
            let open = self.outstanding(&client, &contact).await?;
            let anchor = open.first().map(|q| q.asked_at);
            let runs: Vec<_> = match anchor {
                Some(anchor) => self
                    .store
                    .reminder_runs(client.practice_id, client.id, anchor)
                    .await?
                    .into_iter()
                    .filter(|r| r.contact_id == contact.id)
                    .collect(),
                None => Vec::new(),
            };
            let steps_sent = i64::try_from(runs.len()).unwrap_or(i64::MAX);
            let exhausted = schedule.is_on() && steps_sent >= schedule.max;
            let next = match anchor {
                Some(anchor) if schedule.is_on() && !exhausted => {
                    let tz = zone(
                        &self
                            .store
                            .contact_time_zone(client.practice_id, contact.id)
                            .await?,
                    );
                    let due = due_slot(anchor, &tz, &schedule, now).map_or(0, |(k, _)| k);
                    let already = due_slot(anchor, &tz, &schedule, now)
                        .is_some_and(|(_, at)| runs.iter().any(|r| r.slot == at.0.to_string()));
                    let k = if due == 0 || already { due + 1 } else { due };
                    slot_time(anchor, &tz, &schedule, k).map(|at| if at < now { now } else { at })
                }
                _ => None,
            };
            rows.push(ReminderStatus {
                open_questions: open.len(),
                last_sent: runs.last().map(|r| r.created_at),
                steps_sent,
                next,
                exhausted,
                contact,
            });
        }
        Ok((schedule, rows))
    }

    /// Q5: staff set a client's reminder schedule.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn set_reminder_schedule(
        &self,
        actor: &Staff,
        client: crate::domain::ClientId,
        schedule: ReminderSchedule,
    ) -> AppResult<()> {
        let client = self.store.get_client(actor.practice_id, client).await?;
        if !policy::staff_may_open_client(actor, &client) {
            return Err(AppError::NotFound);
        }
        let bad = |m: &str| AppError::Invalid(crate::domain::ValidationError::new(m.to_owned()));
        if !(0..=365).contains(&schedule.every_days) {
            return Err(bad("Remind every 1 to 365 days (or turn reminders off)."));
        }
        if !(0..24 * 60).contains(&schedule.minute_of_day) {
            return Err(bad("Choose a time of day such as 09:00."));
        }
        if !(1..=20).contains(&schedule.max) {
            return Err(bad("Send between 1 and 20 reminders."));
        }
        if !(1..=21).contains(&schedule.sms_from_step) {
            return Err(bad(
                "Text messages start from a reminder between 1 and 21 (21: never).",
            ));
        }
        Ok(self
            .store
            .set_reminder_schedule(actor.practice_id, client.id, &schedule)
            .await?)
    }

    /// X7, Q5: the practice's time zone (admins), the default for contacts.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn set_practice_time_zone(
        &self,
        actor: &Staff,
        zone_name: &str,
        origin: &super::sessions::ClientInfo,
    ) -> AppResult<()> {
        if !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::Forbidden);
        }
        let name = valid_zone(zone_name)?;
        let entry = self
            .audit_entry(
                actor.practice_id,
                actor,
                crate::store::AuditKind::SettingsChanged,
                origin,
            )
            .on("practice", actor.practice_id)
            .detail("time zone");
        Ok(self
            .store
            .set_practice_time_zone(actor.practice_id, &name, &entry)
            .await?)
    }

    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn practice_time_zone(&self, actor: &Staff) -> AppResult<String> {
        Ok(self.store.practice_time_zone(actor.practice_id).await?)
    }

    /// A contact chooses the time zone their reminders follow (empty: the practice's).
    pub async fn set_contact_time_zone(&self, contact: &Contact, zone_name: &str) -> AppResult<()> {
        let zone = match zone_name.trim() {
            "" => None,
            other => Some(valid_zone(other)?),
        };
        Ok(self
            .store
            .set_contact_time_zone(contact.practice_id, contact.id, zone.as_deref())
            .await?)
    }

    /// X15: a team member chooses the zone their pages show times in
    /// (empty: the practice's). Only their own: `actor` is who asks.
    pub async fn set_staff_time_zone(&self, actor: &Staff, zone_name: &str) -> AppResult<()> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        let zone = match zone_name.trim() {
            "" => None,
            other => Some(valid_zone(other)?),
        };
        Ok(self
            .store
            .set_staff_time_zone(actor.practice_id, actor.id, zone.as_deref())
            .await?)
    }

    pub async fn contact_time_zone(&self, contact: &Contact) -> AppResult<String> {
        Ok(self
            .store
            .contact_time_zone(contact.practice_id, contact.id)
            .await?)
    }

    /// X15: the zone a person chose for the times they read, as their
    /// account page shows it (empty: the practice's).
    #[instrument(skip_all, fields(practice = %actor.practice_id(), by = %person(actor)))]
    pub async fn my_time_zone(&self, actor: crate::app::questions::Actor<'_>) -> AppResult<String> {
        match actor {
            crate::app::questions::Actor::Staff(staff) => {
                Ok(staff.time_zone.clone().unwrap_or_default())
            }
            crate::app::questions::Actor::Contact(contact) => self.contact_time_zone(contact).await,
        }
    }

    /// X15: a person chooses their own time zone (empty: the practice's).
    #[instrument(skip_all, fields(practice = %actor.practice_id(), by = %person(actor)))]
    pub async fn set_my_time_zone(
        &self,
        actor: crate::app::questions::Actor<'_>,
        zone_name: &str,
    ) -> AppResult<()> {
        match actor {
            crate::app::questions::Actor::Staff(staff) => {
                self.set_staff_time_zone(staff, zone_name).await
            }
            crate::app::questions::Actor::Contact(contact) => {
                self.set_contact_time_zone(contact, zone_name).await
            }
        }
    }

    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn alerts(&self, actor: &Staff) -> AppResult<Vec<crate::store::Alert>> {
        Ok(self
            .store
            .alerts_for(actor.practice_id, actor.id, 20)
            .await?)
    }

    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn mark_alerts_read(&self, actor: &Staff) -> AppResult<()> {
        Ok(self
            .store
            .mark_alerts_read(actor.practice_id, actor.id, self.clock.now())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(every_days: i64) -> ReminderSchedule {
        ReminderSchedule {
            every_days,
            minute_of_day: 9 * 60,
            max: 3,
            sms_from_step: 2,
        }
    }

    fn at(text: &str) -> Millis {
        Millis(text.parse::<Timestamp>().unwrap().as_millisecond())
    }

    #[test]
    fn slots_fall_at_the_local_time_of_day() {
        let sydney = TimeZone::get("Australia/Sydney").unwrap();
        // Asked on 1 December at 15:00 in Sydney (04:00 UTC).
        let anchor = at("2026-12-01T04:00:00Z");
        let first = slot_time(anchor, &sydney, &schedule(3), 1).unwrap();
        assert_eq!(
            first,
            at("2026-12-03T22:00:00Z"),
            "4 December, 09:00 in Sydney"
        );
        assert_eq!(
            due_slot(anchor, &sydney, &schedule(3), at("2026-12-03T21:59:00Z")),
            None
        );
        assert_eq!(
            due_slot(anchor, &sydney, &schedule(3), at("2026-12-03T22:00:00Z")),
            Some((1, first))
        );
        let later = at("2026-12-08T00:00:00Z");
        assert_eq!(
            due_slot(anchor, &sydney, &schedule(3), later).map(|(k, _)| k),
            Some(2)
        );
        assert_eq!(due_slot(anchor, &sydney, &schedule(0), later), None, "off");
    }
}
