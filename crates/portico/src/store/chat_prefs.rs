//! Messaging preferences (S1–S3, S6, S7) and scheduled messages (X10).

use super::{Member, Store, StoreError, StoreResult, flag, parse_id};
use crate::domain::{ChatId, ClientId, Millis, PracticeId, StaffId};

/// S7: a team member's own automatic answer, as My account → Messaging
/// saves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffAutoresponder {
    pub staff: StaffId,
    pub name: String,
    /// Their own time zone (`None`: the practice's).
    pub time_zone: Option<String>,
    pub text: String,
    /// Weekly windows, minutes of the week from Monday 00:00.
    pub windows: Vec<(i64, i64)>,
}

/// The practice's messaging settings (Settings → Messaging).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessagingSettings {
    /// S8: direct chats may be shared with other team members.
    pub allow_sharing: bool,
    /// S3: clients created at or after this time have direct chats off.
    pub client_chats_off_since: Option<Millis>,
    /// S6: the longest message a contact may send.
    pub client_max_message_chars: Option<i64>,
    /// Who answers "Message the practice" when nobody looks after a client.
    pub default_staff: Option<StaffId>,
    /// S7: the automatic answer (`None`: off).
    pub autoresponder_text: Option<String>,
    /// S7: weekly windows, minutes of the week from Monday 00:00.
    pub windows: Vec<(i64, i64)>,
}

/// One person's preferences (My account → Messaging).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessagingPreferences {
    /// S1: Enter sends (otherwise Ctrl/Cmd+Enter does, and Enter is a new line).
    pub enter_sends: bool,
    /// S2: Messages opens the most recent chat.
    pub open_latest: bool,
}

impl Default for MessagingPreferences {
    fn default() -> Self {
        Self {
            enter_sends: true,
            open_latest: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduledState {
    Scheduled,
    Sending,
    Sent,
    Failed,
}

impl ScheduledState {
    pub(super) fn parse(text: &str) -> StoreResult<Self> {
        Ok(match text {
            "scheduled" => Self::Scheduled,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            other => return Err(StoreError::Corrupt(format!("scheduled state {other:?}"))),
        })
    }
}

/// X10: a staff message to be sent at a chosen time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    pub id: uuid::Uuid,
    pub practice_id: PracticeId,
    pub chat_id: ChatId,
    pub author: StaffId,
    pub body: String,
    pub send_at: Millis,
    pub state: ScheduledState,
    pub sent_seq: Option<i64>,
    pub failure: Option<String>,
}

/// A message to schedule.
#[derive(Clone, Debug)]
pub struct NewScheduled {
    pub practice: PracticeId,
    pub chat: ChatId,
    pub author: StaffId,
    pub body: String,
    pub send_at: Millis,
    pub now: Millis,
}

macro_rules! scheduled_columns {
    () => {
        "id, practice_id, chat_id, author_id, body, send_at, state, sent_seq, failure"
    };
}
pub(super) use scheduled_columns;

#[derive(sqlx::FromRow)]
pub(super) struct ScheduledRow {
    id: String,
    practice_id: String,
    chat_id: String,
    author_id: String,
    body: String,
    send_at: i64,
    state: String,
    sent_seq: Option<i64>,
    failure: Option<String>,
}

impl TryFrom<ScheduledRow> for Scheduled {
    type Error = StoreError;
    fn try_from(row: ScheduledRow) -> StoreResult<Self> {
        Ok(Self {
            id: parse_id(&row.id)?,
            practice_id: parse_id(&row.practice_id)?,
            chat_id: parse_id(&row.chat_id)?,
            author: parse_id(&row.author_id)?,
            body: row.body,
            send_at: Millis(row.send_at),
            state: ScheduledState::parse(&row.state)?,
            sent_seq: row.sent_seq,
            failure: row.failure,
        })
    }
}

impl Store {
    pub async fn messaging_settings(&self, practice: PracticeId) -> StoreResult<MessagingSettings> {
        type Row = (
            i64,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let (sharing, off_since, max_chars, default_staff, text): Row = sqlx::query_as(
            "SELECT allow_chat_sharing, client_chats_off_since, client_max_message_chars, \
             default_chat_staff_id, autoresponder_text FROM practices WHERE id = $1",
        )
        .bind(practice)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let windows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT start_minute, end_minute FROM autoresponder_windows \
             WHERE practice_id = $1 ORDER BY position",
        )
        .bind(practice)
        .fetch_all(&self.pool)
        .await?;
        Ok(MessagingSettings {
            allow_sharing: sharing != 0,
            client_chats_off_since: off_since.map(Millis),
            client_max_message_chars: max_chars,
            default_staff: default_staff.as_deref().map(parse_id).transpose()?,
            autoresponder_text: text.filter(|t| !t.is_empty()),
            windows,
        })
    }

    /// Saves the practice's messaging settings, windows and all, at once.
    pub async fn set_messaging_settings(
        &self,
        practice: PracticeId,
        settings: &MessagingSettings,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE practices SET allow_chat_sharing = $2, client_chats_off_since = $3, \
             client_max_message_chars = $4, default_chat_staff_id = $5, autoresponder_text = $6 \
             WHERE id = $1",
        )
        .bind(practice)
        .bind(flag(settings.allow_sharing))
        .bind(settings.client_chats_off_since.map(|m| m.0))
        .bind(settings.client_max_message_chars)
        .bind(settings.default_staff)
        .bind(settings.autoresponder_text.clone())
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM autoresponder_windows WHERE practice_id = $1")
            .bind(practice)
            .execute(&mut *tx.tx)
            .await?;
        for (position, (start, end)) in settings.windows.iter().enumerate() {
            sqlx::query(
                "INSERT INTO autoresponder_windows (practice_id, position, start_minute, end_minute) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(practice)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(*start)
            .bind(*end)
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.audit(entry).await?;
        // What is kept of the practice's rules (`app::practice_rules`)
        // is read again.
        tx.people_changed(practice);
        tx.commit().await
    }

    /// S3: a client's own setting (`None`: as the practice says).
    pub async fn client_chats_setting(
        &self,
        practice: PracticeId,
        client: ClientId,
    ) -> StoreResult<Option<bool>> {
        let (value,): (Option<i64>,) =
            sqlx::query_as("SELECT client_chats FROM clients WHERE practice_id = $1 AND id = $2")
                .bind(practice)
                .bind(client)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        Ok(value.map(|v| v != 0))
    }

    pub async fn set_client_chats_setting(
        &self,
        practice: PracticeId,
        client: ClientId,
        value: Option<bool>,
    ) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE clients SET client_chats = $3 WHERE practice_id = $1 AND id = $2")
                .bind(practice)
                .bind(client)
                .bind(value.map(flag))
                .execute(&self.pool)
                .await?;
        super::staff::found(done.rows_affected())
    }

    pub async fn messaging_preferences(
        &self,
        practice: PracticeId,
        member: Member,
    ) -> StoreResult<MessagingPreferences> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT enter_sends, open_latest FROM messaging_preferences \
             WHERE practice_id = $1 AND member_kind = $2 AND member_id = $3",
        )
        .bind(practice)
        .bind(member.kind())
        .bind(member.id())
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map_or_else(MessagingPreferences::default, |(enter, latest)| {
                MessagingPreferences {
                    enter_sends: enter != 0,
                    open_latest: latest != 0,
                }
            }),
        )
    }

    pub async fn set_messaging_preferences(
        &self,
        practice: PracticeId,
        member: Member,
        prefs: MessagingPreferences,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO messaging_preferences (practice_id, member_kind, member_id, enter_sends, open_latest) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (practice_id, member_kind, member_id) \
             DO UPDATE SET enter_sends = excluded.enter_sends, open_latest = excluded.open_latest",
        )
        .bind(practice)
        .bind(member.kind())
        .bind(member.id())
        .bind(flag(prefs.enter_sends))
        .bind(flag(prefs.open_latest))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// S7: a team member's own automatic answer (`None`: off).
    pub async fn staff_autoresponder(
        &self,
        practice: PracticeId,
        staff: StaffId,
    ) -> StoreResult<Option<StaffAutoresponder>> {
        Ok(self
            .staff_autoresponders(practice)
            .await?
            .into_iter()
            .find(|a| a.staff == staff))
    }

    /// S7: every own automatic answer in the practice (one per team member
    /// at most), with names and time zones, in one read.
    pub async fn staff_autoresponders(
        &self,
        practice: PracticeId,
    ) -> StoreResult<Vec<StaffAutoresponder>> {
        let rows: Vec<(String, String, String, Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT a.staff_id, a.text, s.name, s.time_zone, w.start_minute, w.end_minute \
             FROM staff_autoresponders a \
             JOIN staff_users s ON s.practice_id = a.practice_id AND s.id = a.staff_id \
             JOIN staff_autoresponder_windows w \
               ON w.practice_id = a.practice_id AND w.staff_id = a.staff_id \
             WHERE a.practice_id = $1 AND s.active = 1 \
             ORDER BY s.name, a.staff_id, w.position",
        )
        .bind(practice)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<StaffAutoresponder> = Vec::new();
        for (id, text, name, zone, start, end) in rows {
            let id: StaffId = parse_id(&id)?;
            match out.last_mut() {
                Some(last) if last.staff == id => last.windows.push((start, end)),
                _ => out.push(StaffAutoresponder {
                    staff: id,
                    name,
                    time_zone: zone,
                    text,
                    windows: vec![(start, end)],
                }),
            }
        }
        Ok(out)
    }

    /// S7: saves (or, with `None`, removes) a team member's own automatic
    /// answer and its windows at once.
    pub async fn set_staff_autoresponder(
        &self,
        practice: PracticeId,
        staff: StaffId,
        answer: Option<(&str, &[(i64, i64)])>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM staff_autoresponders WHERE practice_id = $1 AND staff_id = $2")
            .bind(practice)
            .bind(staff)
            .execute(&mut *tx.tx)
            .await?;
        if let Some((text, windows)) = answer {
            sqlx::query(
                "INSERT INTO staff_autoresponders (practice_id, staff_id, text) VALUES ($1, $2, $3)",
            )
            .bind(practice)
            .bind(staff)
            .bind(text)
            .execute(&mut *tx.tx)
            .await?;
            for (position, (start, end)) in windows.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO staff_autoresponder_windows \
                     (practice_id, staff_id, position, start_minute, end_minute) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(practice)
                .bind(staff)
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .bind(*start)
                .bind(*end)
                .execute(&mut *tx.tx)
                .await?;
            }
        }
        tx.people_changed(practice);
        tx.commit().await
    }

    /// S7: takes the chat's turn for an automatic answer, if it had none
    /// since `since`. One statement, so two instances never both answer.
    pub async fn claim_autoreply(
        &self,
        practice: PracticeId,
        chat: ChatId,
        now: Millis,
        since: Millis,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE chats SET last_autoreply_at = $3 WHERE practice_id = $1 AND id = $2 \
             AND (last_autoreply_at IS NULL OR last_autoreply_at <= $4)",
        )
        .bind(practice)
        .bind(chat)
        .bind(now.0)
        .bind(since.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// X10
    pub async fn schedule_message(&self, new: &NewScheduled) -> StoreResult<Scheduled> {
        let id = uuid::Uuid::now_v7();
        sqlx::query(
            "INSERT INTO scheduled_messages (id, practice_id, chat_id, author_id, body, send_at, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', $7)",
        )
        .bind(id.to_string())
        .bind(new.practice)
        .bind(new.chat)
        .bind(new.author)
        .bind(&new.body)
        .bind(new.send_at.0)
        .bind(new.now.0)
        .execute(&self.pool)
        .await?;
        self.get_scheduled(new.practice, id).await
    }

    pub async fn get_scheduled(
        &self,
        practice: PracticeId,
        id: uuid::Uuid,
    ) -> StoreResult<Scheduled> {
        sqlx::query_as::<_, ScheduledRow>(concat!(
            "SELECT ",
            scheduled_columns!(),
            " FROM scheduled_messages WHERE practice_id = $1 AND id = $2"
        ))
        .bind(practice)
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// An author's messages waiting to be sent in a chat, soonest first.
    pub async fn scheduled_in_chat(
        &self,
        practice: PracticeId,
        chat: ChatId,
        author: StaffId,
    ) -> StoreResult<Vec<Scheduled>> {
        sqlx::query_as::<_, ScheduledRow>(concat!(
            "SELECT ",
            scheduled_columns!(),
            " FROM scheduled_messages WHERE practice_id = $1 AND chat_id = $2 AND author_id = $3 \
             AND state IN ('scheduled', 'sending', 'failed') ORDER BY send_at, id"
        ))
        .bind(practice)
        .bind(chat)
        .bind(author)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Scheduled::try_from)
        .collect()
    }

    /// Changes a message not yet claimed for sending; `false` when it is
    /// being sent or gone.
    pub async fn update_scheduled(
        &self,
        practice: PracticeId,
        id: uuid::Uuid,
        author: StaffId,
        body: &str,
        send_at: Millis,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE scheduled_messages SET body = $4, send_at = $5, state = 'scheduled', failure = NULL \
             WHERE practice_id = $1 AND id = $2 AND author_id = $3 AND state IN ('scheduled', 'failed')",
        )
        .bind(practice)
        .bind(id.to_string())
        .bind(author)
        .bind(body)
        .bind(send_at.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Cancels a message not yet claimed for sending; `false` otherwise.
    pub async fn cancel_scheduled(
        &self,
        practice: PracticeId,
        id: uuid::Uuid,
        author: StaffId,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM scheduled_messages WHERE practice_id = $1 AND id = $2 AND author_id = $3 \
             AND state IN ('scheduled', 'failed')",
        )
        .bind(practice)
        .bind(id.to_string())
        .bind(author)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims up to `limit` due messages until `lease_until`, across all
    /// practices (the server's timer sends them).
    pub async fn claim_due_scheduled(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> StoreResult<Vec<Scheduled>> {
        sqlx::query_as::<_, ScheduledRow>(self.backend.claim_scheduled_sql())
            .bind(now.0)
            .bind(lease_until.0)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Scheduled::try_from)
            .collect()
    }

    /// Records how a claimed message ended: sent as `seq`, or failed.
    pub async fn finish_scheduled(
        &self,
        practice: PracticeId,
        id: uuid::Uuid,
        outcome: Result<i64, &str>,
    ) -> StoreResult<()> {
        let (state, seq, failure) = match outcome {
            Ok(seq) => ("sent", Some(seq), None),
            Err(why) => ("failed", None, Some(why.to_owned())),
        };
        sqlx::query(
            "UPDATE scheduled_messages SET state = $3, sent_seq = $4, failure = $5 \
             WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id.to_string())
        .bind(state)
        .bind(seq)
        .bind(failure)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
