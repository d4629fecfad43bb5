//! Scheduled send (X10): a staff member writes a message now for a chosen
//! date and time in their time zone; it is sent then, once, whichever
//! instance's timer finds it first (claimed like the outbox, and sent under
//! a key of its own so a claim taken again never makes a second message).
//! Until then its author alone sees it, and may change or cancel it.
//! Questions are scheduled the same way, and asked and marked asked in one
//! transaction.

use super::chats::{MAX_MESSAGE_CHARS, SendInput};
use super::questions::{Actor, QuestionInput};
use super::spans::person;
use super::{App, AppError, AppResult};
use crate::domain::{ChatId, ClientId, Millis, ValidationError};
use crate::store::{
    Member, NewScheduled, NewScheduledQuestion, Scheduled, ScheduledQuestion, Staff,
};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use tracing::instrument;

/// How long an instance holds a claimed message before another may take it.
const LEASE_MS: i64 = 5 * 60 * 1000;
/// Messages claimed at a time.
const CLAIM_AT_ONCE: i64 = 50;

fn invalid(text: impl Into<String>) -> AppError {
    AppError::Invalid(ValidationError::new(text.into()))
}

/// A scheduled message as its author's page shows it.
#[derive(Clone, Debug)]
pub struct ScheduledView {
    pub item: Scheduled,
    /// When it goes, in the author's zone ("2026-12-03 09:00").
    pub local: String,
    /// The same for a `datetime-local` field ("2026-12-03T09:00").
    pub input: String,
}

impl App {
    /// The zone a staff member picks times in: the practice's.
    pub async fn staff_zone(&self, actor: &Staff) -> AppResult<TimeZone> {
        // X15: their own zone, else the practice's.
        let name = match &actor.time_zone {
            Some(own) => own.clone(),
            None => self.store.practice_time_zone(actor.practice_id).await?,
        };
        Ok(TimeZone::get(&name).unwrap_or(TimeZone::UTC))
    }

    /// A date and time as a `datetime-local` field sends it, in `zone`,
    /// which must be in the future.
    fn when(&self, text: &str, zone: &TimeZone) -> AppResult<Millis> {
        let civil: DateTime = text
            .trim()
            .parse()
            .map_err(|_| invalid("Choose a date and a time to send it."))?;
        let at = civil
            .to_zoned_datetime(zone.clone())
            .map_err(|_| invalid("That time does not exist in your time zone."))?
            .timestamp()
            .as_millisecond();
        if at <= self.clock.now().0 {
            return Err(invalid("Choose a time that is still to come."));
        }
        Ok(Millis(at))
    }

    fn scheduled_body(body: &str) -> AppResult<String> {
        let body = body.trim();
        if body.is_empty() {
            return Err(invalid("Write a message."));
        }
        if body.chars().count() > MAX_MESSAGE_CHARS {
            return Err(invalid(format!(
                "A message can be at most {MAX_MESSAGE_CHARS} characters."
            )));
        }
        if body.contains('\0') {
            return Err(invalid("A message cannot contain a NUL character."));
        }
        Ok(body.to_owned())
    }

    /// X10: schedules a message in a chat the staff member is in.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), chat = %chat
    ))]
    pub async fn schedule_message(
        &self,
        actor: &Staff,
        chat: ChatId,
        body: &str,
        send_at: &str,
    ) -> AppResult<Scheduled> {
        let chat = self
            .store
            .chat_for_member(actor.practice_id, chat, Member::Staff(actor.id))
            .await?;
        let body = Self::scheduled_body(body)?;
        let zone = self.staff_zone(actor).await?;
        let send_at = self.when(send_at, &zone)?;
        Ok(self
            .store
            .schedule_message(&NewScheduled {
                practice: actor.practice_id,
                chat: chat.id,
                author: actor.id,
                body,
                send_at,
                now: self.clock.now(),
            })
            .await?)
    }

    /// The staff member's own messages waiting in a chat (nobody else's).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), chat = %chat
    ))]
    pub async fn scheduled_messages(
        &self,
        actor: &Staff,
        chat: ChatId,
    ) -> AppResult<Vec<ScheduledView>> {
        let zone = self.staff_zone(actor).await?;
        let items = self
            .store
            .scheduled_in_chat(actor.practice_id, chat, actor.id)
            .await?;
        Ok(items
            .into_iter()
            .map(|item| {
                let local = item.send_at.to_timestamp().to_zoned_datetime(zone.clone());
                ScheduledView {
                    local: local.strftime("%Y-%m-%d %H:%M").to_string(),
                    input: local.strftime("%Y-%m-%dT%H:%M").to_string(),
                    item,
                }
            })
            .collect())
    }

    /// One of the author's scheduled messages.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), scheduled = %id
    ))]
    pub async fn scheduled_message(
        &self,
        actor: &Staff,
        id: uuid::Uuid,
    ) -> AppResult<ScheduledView> {
        let item = self.store.get_scheduled(actor.practice_id, id).await?;
        if item.author != actor.id {
            return Err(AppError::NotFound);
        }
        let mut views = self.scheduled_messages(actor, item.chat_id).await?;
        views.retain(|v| v.item.id == id);
        views.pop().ok_or(AppError::NotFound)
    }

    /// Changes the text and time of a message not yet sent.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), scheduled = %id
    ))]
    pub async fn edit_scheduled(
        &self,
        actor: &Staff,
        id: uuid::Uuid,
        body: &str,
        send_at: &str,
    ) -> AppResult<Scheduled> {
        let item = self.store.get_scheduled(actor.practice_id, id).await?;
        if item.author != actor.id {
            return Err(AppError::NotFound);
        }
        let body = Self::scheduled_body(body)?;
        let zone = self.staff_zone(actor).await?;
        let send_at = self.when(send_at, &zone)?;
        if !self
            .store
            .update_scheduled(actor.practice_id, id, actor.id, &body, send_at)
            .await?
        {
            return Err(AppError::conflict(
                "This message is being sent or has been sent: it can no longer be changed.",
            ));
        }
        Ok(self.store.get_scheduled(actor.practice_id, id).await?)
    }

    /// Cancels a message not yet sent.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), scheduled = %id
    ))]
    pub async fn cancel_scheduled(&self, actor: &Staff, id: uuid::Uuid) -> AppResult<ChatId> {
        let item = self.store.get_scheduled(actor.practice_id, id).await?;
        if item.author != actor.id {
            return Err(AppError::NotFound);
        }
        if !self
            .store
            .cancel_scheduled(actor.practice_id, id, actor.id)
            .await?
        {
            return Err(AppError::conflict(
                "This message is being sent or has been sent: it can no longer be cancelled.",
            ));
        }
        Ok(item.chat_id)
    }

    /// Sends the scheduled messages that are due; what the server's timer
    /// runs every few seconds. Returns how many were sent.
    pub async fn run_scheduled_sends(&self) -> AppResult<usize> {
        let now = self.clock.now();
        let due = self
            .store
            .claim_due_scheduled(now, Millis(now.0 + LEASE_MS), CLAIM_AT_ONCE)
            .await?;
        let mut sent = 0;
        for item in due {
            let outcome = self.send_scheduled(&item).await;
            match outcome {
                Ok(seq) => {
                    self.store
                        .finish_scheduled(item.practice_id, item.id, Ok(seq))
                        .await?;
                    sent += 1;
                }
                // The database or the writer failed: the claim runs out and
                // another round tries again (the key keeps it one message).
                Err(error @ (AppError::Store(_) | AppError::Throttled(_))) => {
                    tracing::warn!(%error, scheduled = %item.id, "a scheduled message was not sent yet");
                }
                Err(other) => {
                    let why = match other {
                        AppError::NotFound => {
                            "The author is no longer in this chat or on the team.".to_owned()
                        }
                        other => other.to_string(),
                    };
                    self.store
                        .finish_scheduled(item.practice_id, item.id, Err(&why))
                        .await?;
                }
            }
        }
        Ok(sent)
    }

    async fn send_scheduled(&self, item: &Scheduled) -> AppResult<i64> {
        let author = self.store.get_staff(item.practice_id, item.author).await?;
        if !author.active {
            return Err(AppError::NotFound);
        }
        let message = self
            .send_message(
                Actor::Staff(&author),
                item.chat_id,
                &SendInput {
                    body: item.body.clone(),
                    reply_to: None,
                    key: format!("scheduled:{}", item.id),
                    files: Vec::new(),
                    set_status: false,
                    urgent: false,
                },
            )
            .await?;
        Ok(message.seq)
    }
}

/// A scheduled question as its author's page shows it (X10).
#[derive(Clone, Debug)]
pub struct ScheduledQuestionView {
    pub item: ScheduledQuestion,
    /// When it is asked, in the author's zone ("2026-12-03 09:00").
    pub local: String,
    /// The same for a `datetime-local` field ("2026-12-03T09:00").
    pub input: String,
}

impl App {
    fn question_view(item: ScheduledQuestion, zone: &TimeZone) -> ScheduledQuestionView {
        let local = item.send_at.to_timestamp().to_zoned_datetime(zone.clone());
        ScheduledQuestionView {
            local: local.strftime("%Y-%m-%d %H:%M").to_string(),
            input: local.strftime("%Y-%m-%dT%H:%M").to_string(),
            item,
        }
    }

    /// What a scheduled question will ask, checked now as asking checks it.
    async fn new_scheduled_question(
        &self,
        actor: &Staff,
        client: ClientId,
        input: &QuestionInput,
        send_at: &str,
    ) -> AppResult<NewScheduledQuestion> {
        let client = self.staff_client(actor, client).await?;
        self.check_questions(&client, std::slice::from_ref(input))
            .await?;
        let zone = self.staff_zone(actor).await?;
        let send_at = self
            .when(send_at, &zone)
            .map_err(|error| error.at("send_at"))?;
        Ok(NewScheduledQuestion {
            practice: actor.practice_id,
            client: client.id,
            author: actor.id,
            title: input.title.trim().to_owned(),
            details: input.details.trim().to_owned(),
            assignee: input.assignee,
            urgent: input.urgent,
            send_at,
            now: self.clock.now(),
        })
    }

    /// X10: schedules a question of a client the staff member may open.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn schedule_question(
        &self,
        actor: &Staff,
        client: ClientId,
        input: &QuestionInput,
        send_at: &str,
    ) -> AppResult<ScheduledQuestion> {
        let new = self
            .new_scheduled_question(actor, client, input, send_at)
            .await?;
        Ok(self.store.schedule_question(&new).await?)
    }

    /// The staff member's own questions waiting for a client (nobody
    /// else's).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn scheduled_questions(
        &self,
        actor: &Staff,
        client: ClientId,
    ) -> AppResult<Vec<ScheduledQuestionView>> {
        let zone = self.staff_zone(actor).await?;
        Ok(self
            .store
            .scheduled_questions_for(actor.practice_id, client, actor.id)
            .await?
            .into_iter()
            .map(|item| Self::question_view(item, &zone))
            .collect())
    }

    /// One of the author's scheduled questions.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), scheduled = %id
    ))]
    pub async fn scheduled_question(
        &self,
        actor: &Staff,
        id: uuid::Uuid,
    ) -> AppResult<ScheduledQuestionView> {
        let item = self
            .store
            .get_scheduled_question(actor.practice_id, id)
            .await?;
        if item.author != actor.id {
            return Err(AppError::NotFound);
        }
        let zone = self.staff_zone(actor).await?;
        Ok(Self::question_view(item, &zone))
    }

    /// Changes a question not yet asked.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), scheduled = %id
    ))]
    pub async fn edit_scheduled_question(
        &self,
        actor: &Staff,
        id: uuid::Uuid,
        input: &QuestionInput,
        send_at: &str,
    ) -> AppResult<ClientId> {
        let item = self.scheduled_question(actor, id).await?.item;
        let new = self
            .new_scheduled_question(actor, item.client_id, input, send_at)
            .await?;
        if !self.store.update_scheduled_question(id, &new).await? {
            return Err(AppError::conflict(
                "This question is being asked or has been asked: it can no longer be changed.",
            ));
        }
        Ok(item.client_id)
    }

    /// Cancels a question not yet asked.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), scheduled = %id
    ))]
    pub async fn cancel_scheduled_question(
        &self,
        actor: &Staff,
        id: uuid::Uuid,
    ) -> AppResult<ClientId> {
        let item = self.scheduled_question(actor, id).await?.item;
        if !self
            .store
            .cancel_scheduled_question(actor.practice_id, id, actor.id)
            .await?
        {
            return Err(AppError::conflict(
                "This question is being asked or has been asked: it can no longer be cancelled.",
            ));
        }
        Ok(item.client_id)
    }

    /// Asks the scheduled questions that are due; what the server's timer
    /// runs every few seconds. Returns how many were asked.
    pub async fn run_scheduled_questions(&self) -> AppResult<usize> {
        let now = self.clock.now();
        let due = self
            .store
            .claim_due_scheduled_questions(now, Millis(now.0 + LEASE_MS), CLAIM_AT_ONCE)
            .await?;
        let mut asked = 0;
        for item in due {
            match self.ask_scheduled(&item).await {
                Ok(n) => asked += n,
                // The database failed: the claim runs out and another round
                // tries again (asking and marking it asked are one
                // transaction).
                Err(error @ (AppError::Store(_) | AppError::Throttled(_))) => {
                    tracing::warn!(%error, scheduled = %item.id, "a scheduled question was not asked yet");
                }
                Err(other) => {
                    let why = match other {
                        AppError::NotFound => {
                            "The author is no longer on the team or cannot open this client."
                                .to_owned()
                        }
                        other => other.to_string(),
                    };
                    self.store
                        .fail_scheduled_question(item.practice_id, item.id, &why)
                        .await?;
                }
            }
        }
        Ok(asked)
    }

    async fn ask_scheduled(&self, item: &ScheduledQuestion) -> AppResult<usize> {
        let author = self.store.get_staff(item.practice_id, item.author).await?;
        if !author.active {
            return Err(AppError::NotFound);
        }
        let input = QuestionInput {
            title: item.title.clone(),
            details: item.details.clone(),
            assignee: item.assignee,
            urgent: item.urgent,
        };
        let asked = self
            .ask(&author, item.client_id, &[input], Some(item.id))
            .await?;
        Ok(asked.len())
    }
}
