//! The portal's home (P5, P6, P7, N2): what waits for a contact in every
//! client she reaches — open questions (an assigned one: hers only), new
//! messages per chat and the latest status — on the page of one client,
//! on her overview of all of them, and in the company switcher.

use super::questions::Actor;
use super::spans::{maybe, person};
use super::{App, AppError, AppResult, policy};
use crate::domain::{ClientId, ContactId, Millis};
use crate::store::{
    ChatSummary, Client, Contact, ContactQuestions, PortalClient, Practice, QuestionSummary, Staff,
};
use tracing::instrument;

/// What waits for a contact in one client she reaches.
#[derive(Clone, Debug)]
pub struct Waiting {
    pub client: PortalClient,
    /// The open questions she sees there (Q3).
    pub questions: Vec<QuestionSummary>,
    /// Her chats about it with new messages.
    pub chats: Vec<ChatSummary>,
    /// M16: the latest status: text, who set it, when.
    pub status: Option<(String, String, Millis)>,
}

impl Waiting {
    /// Unread messages in her chats, as counted (each chat's newest
    /// [`COUNTED_PER_CHAT`](crate::store::COUNTED_PER_CHAT)).
    pub fn unread(&self) -> i64 {
        self.chats.iter().map(|c| c.unread).sum()
    }

    /// Older messages than those counted are unread too.
    pub fn unread_more(&self) -> bool {
        self.chats.iter().any(|c| c.unread_more)
    }

    /// The unread count on the switcher's badge: "12 unread", "1000+ unread".
    pub fn unread_text(&self) -> String {
        format!(
            "{} unread",
            crate::domain::words::unread_badge(self.unread(), self.unread_more())
        )
    }

    pub fn open(&self) -> usize {
        self.questions.len()
    }

    /// Something here waits for her.
    pub fn needs_her(&self) -> bool {
        self.open() > 0 || self.unread() > 0
    }

    /// "2 questions and 1 new message need you", or nothing waits.
    pub fn headline(&self) -> String {
        headline(self.open(), self.unread(), self.unread_more())
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What needs a contact, in a sentence: "3 questions need you", "1 new
/// message needs you", "2 questions and 4 new messages need you"; with
/// `more` (older messages than those counted are unread too), "more than
/// 1000 new messages need you".
pub fn headline(open: usize, unread: i64, more: bool) -> String {
    let unread = usize::try_from(unread).unwrap_or(0);
    match (open, unread, more) {
        (0, 0, _) => "Nothing needs you right now.".to_owned(),
        (1, 0, _) => "1 question needs you".to_owned(),
        (q, 0, _) => format!("{q} questions need you"),
        (0, 1, false) => "1 new message needs you".to_owned(),
        (0, m, false) => format!("{m} new messages need you"),
        (0, m, true) => format!("More than {m} new messages need you"),
        (q, m, more) => format!(
            "{} and {}{} need you",
            count(q, "question", "questions"),
            if more { "more than " } else { "" },
            count(m, "new message", "new messages")
        ),
    }
}

/// A contact's portal for one of their clients (P5, P6), as they see it
/// or as staff preview it (P7).
#[derive(Clone, Debug)]
pub struct PortalView {
    pub practice: Practice,
    pub contact: Contact,
    pub current: PortalClient,
    /// Every client the contact reaches, for the switcher.
    pub clients: Vec<PortalClient>,
    /// The staff looking after the current client.
    pub assigned: Vec<Staff>,
    /// The current client's sub-records, when it is a family's primary.
    pub members: Vec<Client>,
    /// The current client's questions this contact sees (Q3, X8) that do
    /// not wait for her (answered or resolved); the open ones are in what
    /// waits.
    pub settled: Vec<QuestionSummary>,
    /// What waits in each client she reaches, in the switcher's order.
    pub waiting: Vec<Waiting>,
    /// M16: the client's current status: text, who set it, when.
    pub status: Option<(String, String, Millis)>,
}

impl PortalView {
    fn waiting_in(&self, client: ClientId) -> Option<&Waiting> {
        self.waiting.iter().find(|w| w.client.client.id == client)
    }

    /// How many unread messages wait in a client's chats (for the switcher).
    pub fn unread_in(&self, client: &PortalClient) -> i64 {
        self.waiting_in(client.client.id).map_or(0, Waiting::unread)
    }

    /// The switcher's badge for a client: "12 unread", "1000+ unread".
    pub fn unread_text_in(&self, client: &PortalClient) -> String {
        self.waiting_in(client.client.id)
            .map_or_else(|| "0 unread".to_owned(), Waiting::unread_text)
    }

    /// How many open questions wait in a client (for the switcher).
    pub fn open_in(&self, client: &PortalClient) -> usize {
        self.waiting_in(client.client.id).map_or(0, Waiting::open)
    }

    /// What waits in the current client.
    pub fn here(&self) -> Option<&Waiting> {
        self.waiting_in(self.current.client.id)
    }

    /// What needs her here, in a sentence.
    pub fn headline(&self) -> String {
        self.here()
            .map_or_else(|| headline(0, 0, false), Waiting::headline)
    }

    /// Whether she has no question at all in the current client.
    pub fn no_questions(&self) -> bool {
        self.settled.is_empty() && self.here().is_none_or(|w| w.questions.is_empty())
    }

    /// How many of her other clients have something waiting (shown on the
    /// switcher without opening it).
    pub fn others_needing(&self) -> usize {
        self.waiting
            .iter()
            .filter(|w| w.client.client.id != self.current.client.id && w.needs_her())
            .count()
    }

    /// The name of the family a sub-record is reached through.
    pub fn family_of(&self, client: &PortalClient) -> Option<&str> {
        let primary = client.through_primary?;
        self.clients
            .iter()
            .find(|c| c.client.id == primary)
            .map(|c| c.client.name.as_str())
    }
}

/// A contact's overview of every client she reaches (N2: "all my
/// accounts").
#[derive(Clone, Debug)]
pub struct PortalOverview {
    pub practice: Practice,
    pub contact: Contact,
    pub waiting: Vec<Waiting>,
    /// Her chats about no client (with the practice's team) with new messages.
    pub other_chats: Vec<ChatSummary>,
}

impl PortalOverview {
    pub fn headline(&self) -> String {
        let open = self.waiting.iter().map(Waiting::open).sum();
        let unread = self.waiting.iter().map(Waiting::unread).sum::<i64>()
            + self.other_chats.iter().map(|c| c.unread).sum::<i64>();
        let more = self.waiting.iter().any(Waiting::unread_more)
            || self.other_chats.iter().any(|c| c.unread_more);
        headline(open, unread, more)
    }

    /// Where `/portal` takes her: the one client that needs her, her only
    /// client, or (`None`) this overview.
    pub fn landing(&self) -> Option<ClientId> {
        if let [only] = self.waiting.as_slice() {
            return Some(only.client.client.id);
        }
        let mut needing = self.waiting.iter().filter(|w| w.needs_her());
        match (needing.next(), needing.next()) {
            (Some(one), None) if self.other_chats.is_empty() => Some(one.client.client.id),
            _ => None,
        }
    }

    /// The name of the family a sub-record is reached through.
    pub fn family_of(&self, client: &PortalClient) -> Option<&str> {
        let primary = client.through_primary?;
        self.waiting
            .iter()
            .find(|w| w.client.client.id == primary)
            .map(|w| w.client.client.name.as_str())
    }
}

impl App {
    /// What waits for `contact` in each of `clients`, and in chats about
    /// no client: three queries, however many clients.
    async fn waiting_for(
        &self,
        contact: &Contact,
        clients: &[PortalClient],
    ) -> AppResult<(Vec<Waiting>, Vec<ChatSummary>)> {
        let p = contact.practice_id;
        // Independent reads, each on a connection of its own.
        let (open, chats, statuses) = tokio::try_join!(
            async { Ok::<_, AppError>(self.store.contact_open_questions(p, contact.id).await?) },
            self.chats_for(Actor::Contact(contact)),
            async { Ok::<_, AppError>(self.store.contact_client_statuses(p, contact.id).await?) },
        )?;
        let waiting = clients
            .iter()
            .map(|c| Waiting {
                client: c.clone(),
                questions: open
                    .iter()
                    .filter(|q| q.question.client_id == c.client.id)
                    .cloned()
                    .collect(),
                chats: chats
                    .iter()
                    .filter(|s| s.unread > 0 && s.chat.client_id == Some(c.client.id))
                    .cloned()
                    .collect(),
                status: statuses
                    .iter()
                    .find(|(id, ..)| *id == c.client.id)
                    .map(|(_, text, by, at)| (text.clone(), by.clone(), *at)),
            })
            .collect();
        let other_chats = chats
            .into_iter()
            .filter(|s| s.unread > 0 && s.chat.client_id.is_none())
            .collect();
        Ok((waiting, other_chats))
    }

    /// The portal of `contact` for `client` (or their first client). A
    /// client they do not reach is "not found".
    #[instrument(skip_all, fields(
        practice = %contact.practice_id, by = %person(contact), client = maybe(client)
    ))]
    pub async fn portal_view(
        &self,
        contact: &Contact,
        client: Option<ClientId>,
    ) -> AppResult<PortalView> {
        let p = contact.practice_id;
        let clients = self.store.portal_clients(p, contact.id).await?;
        let current = match client {
            Some(id) if policy::contact_may_open_client(&clients, id) => {
                clients.iter().find(|c| c.client.id == id).cloned()
            }
            Some(_) => None,
            None => clients.first().cloned(),
        }
        .ok_or(AppError::NotFound)?;
        // The rest depends only on the client: read at once, each on a
        // connection of its own, so the page waits for the slowest read
        // rather than for their sum.
        let store = &self.store;
        let client_id = current.client.id;
        let (team, assigned_ids, family, settled, (waiting, _), status, practice) = tokio::try_join!(
            async { Ok::<_, AppError>(store.list_staff(p).await?) },
            async { Ok::<_, AppError>(store.assigned_staff(p, client_id).await?) },
            async { Ok::<_, AppError>(store.family_members(p, client_id).await?) },
            async {
                let settled = ContactQuestions::Settled;
                Ok::<_, AppError>(
                    store
                        .contact_questions(p, contact.id, client_id, settled)
                        .await?,
                )
            },
            self.waiting_for(contact, &clients),
            async { Ok::<_, AppError>(store.client_status(p, client_id).await?) },
            async { Ok::<_, AppError>(store.get_practice(p).await?) },
        )?;
        let assigned = team
            .into_iter()
            .filter(|s| assigned_ids.contains(&s.id))
            .collect();
        let members = family
            .into_iter()
            .filter(|m| clients.iter().any(|c| c.client.id == m.id))
            .collect();
        Ok(PortalView {
            practice,
            contact: contact.clone(),
            current,
            clients,
            assigned,
            members,
            settled,
            waiting,
            status,
        })
    }

    /// N2: what waits for `contact` in every client she reaches.
    #[instrument(skip_all, fields(practice = %contact.practice_id, by = %person(contact)))]
    pub async fn portal_overview(&self, contact: &Contact) -> AppResult<PortalOverview> {
        let p = contact.practice_id;
        let clients = self.store.portal_clients(p, contact.id).await?;
        if clients.is_empty() {
            return Err(AppError::NotFound);
        }
        let (waiting, other_chats) = self.waiting_for(contact, &clients).await?;
        Ok(PortalOverview {
            practice: self.store.get_practice(p).await?,
            contact: contact.clone(),
            waiting,
            other_chats,
        })
    }

    /// A contact saw the status of `client` (or, with `None`, of every
    /// client on her overview): its update is not notified (N2).
    #[instrument(skip_all, fields(
        practice = %contact.practice_id, by = %person(contact), client = maybe(client)
    ))]
    pub async fn status_seen(&self, contact: &Contact, client: Option<ClientId>) {
        if let Err(error) = self
            .store
            .mark_status_items_read(contact.practice_id, contact.id, client, self.clock.now())
            .await
        {
            tracing::warn!(%error, "could not mark a status update seen");
        }
    }

    /// P7: staff see the portal exactly as one contact of their practice
    /// sees it.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor),
        contact = %contact, client = maybe(client)
    ))]
    pub async fn preview_view(
        &self,
        actor: &Staff,
        contact: ContactId,
        client: Option<ClientId>,
        origin: &super::sessions::ClientInfo,
    ) -> AppResult<PortalView> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        let contact = self.store.get_contact(actor.practice_id, contact).await?;
        if client.is_none()
            && self
                .store
                .portal_clients(contact.practice_id, contact.id)
                .await?
                .is_empty()
        {
            return Err(AppError::Denied(format!(
                "{} has no client to open yet, so their portal is empty.",
                contact.name
            )));
        }
        let view = self.portal_view(&contact, client).await?;
        let entry = self
            .audit_entry(
                actor.practice_id,
                actor,
                crate::store::AuditKind::PortalPreviewed,
                origin,
            )
            .on("contact", contact.id)
            .client(client);
        self.store.audit(&entry).await?;
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_says_what_needs_her() {
        assert_eq!(headline(0, 0, false), "Nothing needs you right now.");
        assert_eq!(headline(1, 0, false), "1 question needs you");
        assert_eq!(headline(3, 0, false), "3 questions need you");
        assert_eq!(headline(0, 1, false), "1 new message needs you");
        assert_eq!(headline(0, 4, false), "4 new messages need you");
        assert_eq!(
            headline(1, 1, false),
            "1 question and 1 new message need you"
        );
        assert_eq!(
            headline(2, 5, false),
            "2 questions and 5 new messages need you"
        );
        // More unread than the chats count (M4): the sum is a floor.
        assert_eq!(
            headline(0, 1005, true),
            "More than 1005 new messages need you"
        );
        assert_eq!(
            headline(1, 2000, true),
            "1 question and more than 2000 new messages need you"
        );
    }
}
