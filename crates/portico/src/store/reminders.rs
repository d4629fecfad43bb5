//! Reminder schedules and claims (Q5, X6), time zones, and staff alerts (N1).

use super::{Client, Store, StoreResult, StoreTx, parse_id};
use crate::domain::{ClientId, ContactId, Millis, PracticeId, StaffId};

/// Q5: a client's reminder schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReminderSchedule {
    /// 0: reminders are off.
    pub every_days: i64,
    /// Local time of day, in minutes after midnight.
    pub minute_of_day: i64,
    /// At most this many reminders for one run of outstanding questions.
    pub max: i64,
    /// From this reminder on, a text message goes too (when a number is known).
    pub sms_from_step: i64,
}

impl ReminderSchedule {
    pub fn is_on(&self) -> bool {
        self.every_days > 0
    }
}

/// A reminder that was sent (or claimed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReminderRun {
    pub contact_id: ContactId,
    pub slot: String,
    pub step: i64,
    pub channels: String,
    pub question_count: i64,
    pub created_at: Millis,
}

/// An in-app alert for a staff user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub id: String,
    pub client_id: ClientId,
    pub text: String,
    pub created_at: Millis,
    pub read: bool,
    /// What the alert is about: `chat:<id>`, `answer:<question>:<at>` or
    /// `reminders-exhausted:<client>:<contact>:<at>`.
    pub key: String,
}

impl Alert {
    /// The chat a client's message raised this alert in (N1).
    pub fn chat(&self) -> Option<crate::domain::ChatId> {
        self.key.strip_prefix("chat:")?.parse().ok()
    }

    /// Whether it says a contact's reminders ran out unanswered (X6).
    pub fn reminders_ran_out(&self) -> bool {
        self.key.starts_with("reminders-exhausted:")
    }
}

impl Store {
    pub async fn reminder_schedule(
        &self,
        practice: PracticeId,
        client: ClientId,
    ) -> StoreResult<ReminderSchedule> {
        let (every_days, minute_of_day, max, sms_from_step): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT reminder_every_days, reminder_minute_of_day, reminder_max, reminder_sms_from_step \
             FROM clients WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(client)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(super::StoreError::NotFound)?;
        Ok(ReminderSchedule {
            every_days,
            minute_of_day,
            max,
            sms_from_step,
        })
    }

    pub async fn set_reminder_schedule(
        &self,
        practice: PracticeId,
        client: ClientId,
        schedule: &ReminderSchedule,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE clients SET reminder_every_days = $3, reminder_minute_of_day = $4, reminder_max = $5, \
             reminder_sms_from_step = $6 WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(client)
        .bind(schedule.every_days)
        .bind(schedule.minute_of_day)
        .bind(schedule.max)
        .bind(schedule.sms_from_step)
        .execute(&self.pool)
        .await?;
        super::staff::found(done.rows_affected())
    }

    /// Every client with reminders on, on the whole server, with its schedule.
    pub async fn clients_with_reminders(&self) -> StoreResult<Vec<(Client, ReminderSchedule)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            client: super::clients::ClientRow,
            reminder_every_days: i64,
            reminder_minute_of_day: i64,
            reminder_max: i64,
            reminder_sms_from_step: i64,
        }
        let rows = sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            super::clients::client_columns!(),
            ", c.reminder_every_days, c.reminder_minute_of_day, c.reminder_max, c.reminder_sms_from_step \
             FROM clients c WHERE c.reminder_every_days > 0 ORDER BY c.practice_id, c.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    Client::try_from(r.client)?,
                    ReminderSchedule {
                        every_days: r.reminder_every_days,
                        minute_of_day: r.reminder_minute_of_day,
                        max: r.reminder_max,
                        sms_from_step: r.reminder_sms_from_step,
                    },
                ))
            })
            .collect()
    }

    /// The time zone a contact's day runs in: their own, else the practice's.
    pub async fn contact_time_zone(
        &self,
        practice: PracticeId,
        contact: ContactId,
    ) -> StoreResult<String> {
        let (zone,): (String,) = sqlx::query_as(
            "SELECT COALESCE(k.time_zone, p.time_zone) FROM contacts k \
             JOIN practices p ON p.id = k.practice_id WHERE k.practice_id = $1 AND k.id = $2",
        )
        .bind(practice)
        .bind(contact)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(super::StoreError::NotFound)?;
        Ok(zone)
    }

    pub async fn set_practice_time_zone(
        &self,
        practice: PracticeId,
        zone: &str,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        let done = self
            .execute_audited(
                sqlx::query("UPDATE practices SET time_zone = $2 WHERE id = $1")
                    .bind(practice)
                    .bind(zone),
                entry,
            )
            .await?;
        self.people_changed(practice);
        super::staff::found(done)
    }

    pub async fn practice_time_zone(&self, practice: PracticeId) -> StoreResult<String> {
        let (zone,): (String,) = sqlx::query_as("SELECT time_zone FROM practices WHERE id = $1")
            .bind(practice)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(super::StoreError::NotFound)?;
        Ok(zone)
    }

    pub async fn set_contact_time_zone(
        &self,
        practice: PracticeId,
        contact: ContactId,
        zone: Option<&str>,
    ) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE contacts SET time_zone = $3 WHERE practice_id = $1 AND id = $2")
                .bind(practice)
                .bind(contact)
                .bind(zone)
                .execute(&self.pool)
                .await?;
        self.people_changed(practice);
        super::staff::found(done.rows_affected())
    }

    /// X15: a team member's own time zone (`None`: the practice's).
    pub async fn set_staff_time_zone(
        &self,
        practice: PracticeId,
        staff: crate::domain::StaffId,
        zone: Option<&str>,
    ) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE staff_users SET time_zone = $3 WHERE practice_id = $1 AND id = $2")
                .bind(practice)
                .bind(staff)
                .bind(zone)
                .execute(&self.pool)
                .await?;
        self.people_changed(practice);
        super::staff::found(done.rows_affected())
    }

    /// The reminders a client's contacts were sent since `since`, oldest first.
    pub async fn reminder_runs(
        &self,
        practice: PracticeId,
        client: ClientId,
        since: Millis,
    ) -> StoreResult<Vec<ReminderRun>> {
        let rows: Vec<(String, String, i64, String, i64, i64)> = sqlx::query_as(
            "SELECT contact_id, slot, step, channels, question_count, created_at FROM reminder_runs \
             WHERE practice_id = $1 AND client_id = $2 AND created_at >= $3 ORDER BY created_at, slot",
        )
        .bind(practice)
        .bind(client)
        .bind(since.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |(contact, slot, step, channels, question_count, created_at)| {
                    Ok(ReminderRun {
                        contact_id: parse_id(&contact)?,
                        slot,
                        step,
                        channels,
                        question_count,
                        created_at: Millis(created_at),
                    })
                },
            )
            .collect()
    }

    /// A staff user's alerts, unread first, newest first.
    pub async fn alerts_for(
        &self,
        practice: PracticeId,
        staff: StaffId,
        limit: i64,
    ) -> StoreResult<Vec<Alert>> {
        let rows: Vec<(String, String, String, i64, Option<i64>, String)> = sqlx::query_as(
            "SELECT id, client_id, text, created_at, read_at, dedupe_key FROM alerts WHERE practice_id = $1 AND staff_id = $2 \
             ORDER BY CASE WHEN read_at IS NULL THEN 0 ELSE 1 END, created_at DESC LIMIT $3",
        )
        .bind(practice)
        .bind(staff)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, client, text, created_at, read_at, key)| {
                Ok(Alert {
                    id,
                    client_id: parse_id(&client)?,
                    text,
                    created_at: Millis(created_at),
                    read: read_at.is_some(),
                    key,
                })
            })
            .collect()
    }

    pub async fn mark_alerts_read(
        &self,
        practice: PracticeId,
        staff: StaffId,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE alerts SET read_at = $3 WHERE practice_id = $1 AND staff_id = $2 AND read_at IS NULL")
            .bind(practice)
            .bind(staff)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl StoreTx {
    /// Claims a reminder slot: true if this caller is the one to send it.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim_reminder(
        &mut self,
        practice: PracticeId,
        client: ClientId,
        contact: ContactId,
        slot: &str,
        step: i64,
        channels: &str,
        question_count: i64,
        now: Millis,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO reminder_runs (practice_id, client_id, contact_id, slot, step, channels, question_count, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(practice)
        .bind(client)
        .bind(contact)
        .bind(slot)
        .bind(step)
        .bind(channels)
        .bind(question_count)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An alert for a staff user, once per `dedupe_key`.
    pub async fn insert_alert(
        &mut self,
        practice: PracticeId,
        staff: StaffId,
        client: ClientId,
        dedupe_key: &str,
        text: &str,
        now: Millis,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO alerts (id, practice_id, staff_id, client_id, dedupe_key, text, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(practice)
        .bind(staff)
        .bind(client)
        .bind(dedupe_key)
        .bind(text)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
