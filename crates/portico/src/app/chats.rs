//! Chats (M1, M4, M8, M14, M15): direct chats between a staff user and a
//! client's contact, messages sent once (idempotency key), read receipts
//! for staff, and live events for the members.

use super::questions::Actor;
use super::{App, AppError, AppResult, policy};
use crate::delivery::live::LiveEvent;
use crate::domain::{ChatId, ClientId, ContactId, PracticeId, ValidationError};
use crate::store::{Chat, ChatSummary, ContactStatus, Member, MemberState, Message, Staff};

/// The longest message.
pub const MAX_MESSAGE_CHARS: usize = 5_000;
/// How many messages a chat page shows.
pub const PAGE: i64 = 50;

/// A chat as its page shows it.
#[derive(Clone, Debug)]
pub struct ChatView {
    pub chat: Chat,
    pub messages: Vec<Message>,
    pub members: Vec<MemberState>,
    /// The highest message the contacts of the chat have read (M8): shown
    /// to staff only.
    pub read_by_client: Option<i64>,
}

impl ChatView {
    /// M8, for staff: whether the client has read the latest message.
    pub fn receipt(&self) -> Option<&'static str> {
        let seq = self.read_by_client?;
        Some(if self.chat.last_seq == 0 {
            return None;
        } else if seq >= self.chat.last_seq {
            "Read by the client"
        } else if seq > 0 {
            "Read up to an earlier message"
        } else {
            "Not read yet"
        })
    }
}

fn who(actor: Actor<'_>) -> (PracticeId, Member, String) {
    match actor {
        Actor::Staff(s) => (s.practice_id, Member::Staff(s.id), s.name.clone()),
        Actor::Contact(c) => (c.practice_id, Member::Contact(c.id), c.name.clone()),
    }
}

impl App {
    /// M1, M15: the direct chat of a staff user and a client's contact,
    /// started if there is none. Only activated contacts can be messaged.
    pub async fn open_direct_chat(
        &self,
        actor: &Staff,
        client: ClientId,
        contact: ContactId,
    ) -> AppResult<Chat> {
        let client = self.store.get_client(actor.practice_id, client).await?;
        if !policy::staff_may_open_client(actor, &client) {
            return Err(AppError::NotFound);
        }
        let contact = self.store.get_contact(actor.practice_id, contact).await?;
        let reachable = self
            .store
            .portal_clients(actor.practice_id, contact.id)
            .await?;
        if !policy::contact_may_open_client(&reachable, client.id) {
            return Err(AppError::NotFound);
        }
        if contact.status != ContactStatus::Active {
            return Err(AppError::Conflict(format!(
                "{} has not activated their account yet, so they cannot be messaged. Send them their invitation first.",
                contact.name
            )));
        }
        if let Some(chat) = self
            .store
            .find_direct_chat(actor.practice_id, client.id, actor.id, contact.id)
            .await?
        {
            return Ok(chat);
        }
        let mut tx = self.store.begin().await?;
        let chat = tx
            .create_chat(
                actor.practice_id,
                true,
                &format!("{} — {}", contact.name, client.name),
                Some(client.id),
                &[Member::Staff(actor.id), Member::Contact(contact.id)],
                self.clock.now(),
            )
            .await?;
        tx.commit().await?;
        Ok(chat)
    }

    /// M4: the actor's chats, latest message first, with unread counts.
    pub async fn chats_for(&self, actor: Actor<'_>) -> AppResult<Vec<ChatSummary>> {
        let (practice, member, _) = who(actor);
        Ok(self.store.chats_of(practice, member).await?)
    }

    /// A chat's newest messages; reading it marks it read, and tells the
    /// staff of the chat when a contact read it (M8).
    pub async fn chat_view(&self, actor: Actor<'_>, chat: ChatId) -> AppResult<ChatView> {
        let (practice, member, name) = who(actor);
        let chat = self.store.chat_for_member(practice, chat, member).await?;
        let messages = self
            .store
            .chat_messages(practice, chat.id, None, PAGE)
            .await?;
        let newly_read = self
            .store
            .mark_read(practice, chat.id, member, chat.last_seq)
            .await?;
        if newly_read && matches!(member, Member::Contact(_)) {
            let members = self.store.chat_members(practice, chat.id).await?;
            self.live.publish(LiveEvent {
                practice,
                recipients: members
                    .iter()
                    .map(|m| m.member)
                    .filter(|m| matches!(m, Member::Staff(_)))
                    .collect(),
                kind: "read",
                chat: chat.id,
                seq: chat.last_seq,
                sender_name: None,
                body: None,
                at: None,
                reader: Some(name),
            });
        }
        let members = self.store.chat_members(practice, chat.id).await?;
        let read_by_client = match member {
            Member::Staff(_) => members
                .iter()
                .filter(|m| matches!(m.member, Member::Contact(_)))
                .map(|m| m.last_read_seq)
                .max(),
            Member::Contact(_) => None,
        };
        Ok(ChatView {
            chat,
            messages,
            members,
            read_by_client,
        })
    }

    /// Messages after `seq`, for a page catching up after a dropped socket.
    pub async fn messages_after(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        seq: i64,
    ) -> AppResult<Vec<Message>> {
        let (practice, member, _) = who(actor);
        let chat = self.store.chat_for_member(practice, chat, member).await?;
        Ok(self
            .store
            .chat_messages(practice, chat.id, Some(seq), 500)
            .await?)
    }

    /// Sends a message. The same `idempotency_key` twice (a retry after a
    /// timeout) stores and delivers it once.
    pub async fn send_message(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        body: &str,
        idempotency_key: &str,
    ) -> AppResult<Message> {
        let (practice, member, name) = who(actor);
        let chat = self.store.chat_for_member(practice, chat, member).await?;
        let body = body.trim();
        if body.is_empty() {
            return Err(AppError::Invalid(ValidationError(
                "Write a message.".into(),
            )));
        }
        if body.chars().count() > MAX_MESSAGE_CHARS {
            return Err(AppError::Invalid(ValidationError(format!(
                "A message can be at most {MAX_MESSAGE_CHARS} characters."
            ))));
        }
        let key = idempotency_key.trim();
        if key.is_empty() || key.len() > 100 {
            return Err(AppError::Invalid(ValidationError(
                "The message form is out of date: reload the page.".into(),
            )));
        }
        let scope = format!("send:{}:{}", member.kind(), member.id());
        self.check_throttle(&scope, super::throttle::SENDS_PER_MEMBER)
            .await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let (message, new) = tx
            .append_message(practice, chat.id, member, &name, body, key, now)
            .await?;
        tx.commit().await?;
        if new {
            self.record_attempt(&scope).await?;
            let members = self.store.chat_members(practice, chat.id).await?;
            self.live.publish(LiveEvent {
                practice,
                recipients: members.iter().map(|m| m.member).collect(),
                kind: "message",
                chat: chat.id,
                seq: message.seq,
                sender_name: Some(message.sender_name.clone()),
                body: Some(message.body.clone()),
                at: Some(message.created_at.to_string()),
                reader: None,
            });
        }
        Ok(message)
    }
}
