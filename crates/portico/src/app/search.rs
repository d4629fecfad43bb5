//! X1: search. Staff look through the chats they are in and their
//! practice's questions, answers, files, clients and contacts; a contact
//! through her own chats and the questions she may see in the portal. Who
//! may see what is decided by the store's queries, from the same facts the
//! pages use (chat membership, the clients a contact reaches, Q3's
//! assignment); here only who is asking.

use super::questions::Actor;
use super::spans::person;
use super::{App, AppError, AppResult};
use crate::domain::SearchQuery;
use crate::store::{AnswerHit, ClientHit, ContactHit, FileHit, MessageHit, QuestionHit, Searcher};
use tracing::instrument;

/// At most this many results of each kind.
pub const PER_KIND: i64 = 20;

/// What a search found, by kind, best first within each.
#[derive(Clone, Debug, Default)]
pub struct SearchResults {
    pub messages: Vec<MessageHit>,
    pub questions: Vec<QuestionHit>,
    pub answers: Vec<AnswerHit>,
    pub files: Vec<FileHit>,
    pub clients: Vec<ClientHit>,
    pub contacts: Vec<ContactHit>,
}

impl SearchResults {
    pub fn total(&self) -> usize {
        self.messages.len()
            + self.questions.len()
            + self.answers.len()
            + self.files.len()
            + self.clients.len()
            + self.contacts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }
}

impl App {
    /// Everything matching `query` that `actor` may see. The kinds are
    /// looked up side by side.
    #[instrument(skip_all, fields(practice = %actor.practice_id(), by = %person(actor)))]
    pub async fn search(&self, actor: Actor<'_>, query: &SearchQuery) -> AppResult<SearchResults> {
        let (practice, searcher) = match actor {
            Actor::Staff(staff) if !staff.active => return Err(AppError::Forbidden),
            Actor::Staff(staff) => (staff.practice_id, Searcher::Staff(staff.id)),
            Actor::Contact(contact) => (contact.practice_id, Searcher::Contact(contact.id)),
        };
        let store = &self.store;
        let staff = matches!(searcher, Searcher::Staff(_));
        let (messages, questions, answers, files, clients, contacts) = tokio::try_join!(
            store.search_messages(practice, searcher, query, PER_KIND),
            store.search_questions(practice, searcher, query, PER_KIND),
            store.search_answers(practice, searcher, query, PER_KIND),
            store.search_files(practice, searcher, query, PER_KIND),
            async {
                if staff {
                    store
                        .search_clients(practice, searcher, query, PER_KIND)
                        .await
                } else {
                    Ok(Vec::new())
                }
            },
            async {
                if staff {
                    store
                        .search_contacts(practice, searcher, query, PER_KIND)
                        .await
                } else {
                    Ok(Vec::new())
                }
            },
        )?;
        Ok(SearchResults {
            messages,
            questions,
            answers,
            files,
            clients,
            contacts,
        })
    }
}
