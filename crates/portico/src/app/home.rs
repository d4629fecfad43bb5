//! The staff home: what waits for the signed-in team member, each item
//! with the place to deal with it.

use super::questions::Actor;
use super::spans::person;
use super::{App, AppError, AppResult, policy};
use crate::domain::{ChatId, ClientId, Millis, paths};
use crate::store::{
    Alert, ClientFilter, ContactStatus, OutboxItem, OutboxStatus, QuestionFilter, QuestionStatus,
    QuestionSummary, Staff,
};
use std::collections::HashSet;
use tracing::instrument;

/// An invitation counts as not accepted once it is this old.
pub const INVITATION_NUDGE_DAYS: i64 = 3;
/// The most undeliverable messages listed on the home page.
const UNDELIVERABLE_SHOWN: i64 = 5;

/// A chat with client messages the staff member has not read.
#[derive(Clone, Debug)]
pub struct WaitingChat {
    pub chat: ChatId,
    pub title: String,
    /// Unread messages as shown ("12", "1000+"), when the staff member is
    /// in the chat; `None` for a chat of a client they look after but are
    /// not in (its alert).
    pub unread: Option<String>,
    pub last_body: Option<String>,
    pub at: Millis,
    /// Where to open it: the chat, or the alert that offers to join it.
    pub link: String,
}

/// A contact who has not accepted her invitation.
#[derive(Clone, Debug)]
pub struct WaitingInvitation {
    pub name: String,
    pub email: String,
    /// When the latest invitation went (or the contact was added).
    pub invited_at: Millis,
    pub expires_at: Option<Millis>,
    pub client_id: ClientId,
    pub client_name: String,
}

/// Everything waiting for one staff member.
#[derive(Clone, Debug, Default)]
pub struct Waiting {
    pub chats: Vec<WaitingChat>,
    /// Answered questions of the clients they look after (Q2).
    pub answered: Vec<QuestionSummary>,
    /// Reminders that ran out unanswered (X6), not yet dismissed.
    pub reminders: Vec<Alert>,
    pub invitations: Vec<WaitingInvitation>,
    /// Admins: messages that could not be delivered (N3); `None` for members.
    pub undeliverable: Option<Vec<OutboxItem>>,
}

impl Waiting {
    /// Whether nothing at all waits.
    pub fn is_empty(&self) -> bool {
        self.chats.is_empty()
            && self.answered.is_empty()
            && self.reminders.is_empty()
            && self.invitations.is_empty()
            && self.undeliverable.as_ref().is_none_or(Vec::is_empty)
    }
}

impl App {
    /// What waits for `actor`: unread client messages in their chats and
    /// their clients' chats, answers to review in the clients they look
    /// after, reminders that ran out, invitations not accepted after
    /// [`INVITATION_NUDGE_DAYS`] days (their clients' contacts; admins:
    /// every contact), and, for admins, undeliverable messages.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn staff_waiting(&self, actor: &Staff) -> AppResult<Waiting> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        let p = actor.practice_id;
        let alerts = self.store.alerts_for(p, actor.id, 200).await?;

        let mut chats: Vec<WaitingChat> = self
            .chats_for(Actor::Staff(actor))
            .await?
            .into_iter()
            .filter(|c| c.unread > 0)
            .map(|c| WaitingChat {
                unread: Some(c.unread_text()),
                link: paths::chat(paths::STAFF, c.chat.id),
                chat: c.chat.id,
                title: c.chat.title,
                last_body: c.last_body,
                at: c.chat.last_message_at,
            })
            .collect();
        let mine: HashSet<ChatId> = chats.iter().map(|c| c.chat).collect();
        for alert in alerts.iter().filter(|a| !a.read) {
            if let Some(chat) = alert.chat().filter(|c| !mine.contains(c)) {
                chats.push(WaitingChat {
                    chat,
                    title: alert.text.clone(),
                    unread: None,
                    last_body: None,
                    at: alert.created_at,
                    link: paths::alert_chat(chat),
                });
            }
        }
        chats.sort_by_key(|c| std::cmp::Reverse(c.at));

        let answered = self
            .store
            .list_questions(
                p,
                &QuestionFilter {
                    client: None,
                    status: Some(QuestionStatus::Answered),
                    assigned_to: Some(actor.id),
                },
            )
            .await?;

        let reminders = alerts
            .into_iter()
            .filter(|a| !a.read && a.reminders_ran_out())
            .collect();

        let is_admin = policy::staff_may_manage_practice(actor, p);
        let invitations = self.waiting_invitations(actor, is_admin).await?;

        let undeliverable = if is_admin {
            Some(
                self.store
                    .list_outbox(p, OutboxStatus::Dead, UNDELIVERABLE_SHOWN)
                    .await?,
            )
        } else {
            None
        };
        Ok(Waiting {
            chats,
            answered,
            reminders,
            invitations,
            undeliverable,
        })
    }

    async fn waiting_invitations(
        &self,
        actor: &Staff,
        every_client: bool,
    ) -> AppResult<Vec<WaitingInvitation>> {
        let p = actor.practice_id;
        let clients = self
            .store
            .list_clients(
                p,
                &ClientFilter {
                    search: None,
                    assigned_to: (!every_client).then_some(actor.id),
                },
            )
            .await?;
        let access = self.store.practice_access(p).await?;
        let sent = self.store.latest_invitations(p).await?;
        let cutoff = Millis(self.clock.now().0 - INVITATION_NUDGE_DAYS * 24 * 3_600_000);
        let mut waiting = Vec::new();
        for contact in self.store.list_contacts(p).await? {
            if contact.status != ContactStatus::Invited {
                continue;
            }
            let Some(client) = clients
                .iter()
                .find(|c| access.contains(&(contact.id, c.client.id)))
            else {
                continue;
            };
            let latest = sent.iter().find(|s| s.contact_id == contact.id);
            let invited_at = latest.map_or(contact.created_at, |s| s.sent_at);
            if invited_at > cutoff {
                continue;
            }
            waiting.push(WaitingInvitation {
                name: contact.name,
                email: contact.email,
                invited_at,
                expires_at: latest.map(|s| s.expires_at),
                client_id: client.client.id,
                client_name: client.client.name.clone(),
            });
        }
        waiting.sort_by_key(|w| w.invited_at);
        Ok(waiting)
    }
}
