//! Questions (Q1–Q4): staff ask, contacts answer with text and files,
//! staff follow up, resolve, reopen and reassign. Every step checks who is
//! asking: staff of the practice, or a contact who may see the question (Q3).

use super::{App, AppError, AppResult, policy};
use crate::domain::{ClientId, ContactId, FileId, QuestionId, ValidationError};
use crate::files::StoredFile;
use crate::store::{
    Author, Client, Contact, Entry, EntryKind, FileMeta, NewEntry, NewQuestion, Question,
    QuestionFilter, QuestionStatus, QuestionSummary, Staff,
};

/// The longest question title.
pub const MAX_TITLE_CHARS: usize = 500;
/// The longest answer or follow-up.
pub const MAX_BODY_CHARS: usize = 10_000;
/// The most questions asked in one go.
pub const MAX_BATCH: usize = 500;

/// A question as staff type it.
#[derive(Clone, Debug, Default)]
pub struct QuestionInput {
    pub title: String,
    pub details: String,
    pub assignee: Option<ContactId>,
}

/// A thread and what the page around it needs.
#[derive(Clone, Debug)]
pub struct Thread {
    pub question: QuestionSummary,
    pub entries: Vec<Entry>,
    /// For staff: the contacts who can be given the question (Q4).
    pub assignable_to: Vec<Contact>,
}

/// Who is acting on a thread.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    Staff(&'a Staff),
    Contact(&'a Contact),
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::Invalid(ValidationError::new(message.into()))
}

/// Lines pasted or a CSV file, one question each. A CSV whose header names
/// `date`, `amount` and `description` columns (a bank export) becomes
/// "What was this payment?" questions.
pub fn questions_from_text(text: &str) -> AppResult<Vec<String>> {
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(|c| c.trim().to_lowercase()).collect())
        .unwrap_or_default();
    let column = |name: &str| headers.iter().position(|h| h == name);
    if let (Some(date), Some(amount), Some(description)) =
        (column("date"), column("amount"), column("description"))
    {
        let mut titles = Vec::new();
        for (line, record) in reader.records().enumerate() {
            let record = record.map_err(|e| {
                invalid(format!("Line {} of the CSV cannot be read: {e}", line + 2))
            })?;
            let field = |i: usize| record.get(i).map(str::trim).unwrap_or("");
            if field(description).is_empty() && field(amount).is_empty() {
                continue;
            }
            titles.push(format!(
                "What was the payment of {} on {} to \"{}\" for?",
                field(amount),
                field(date),
                field(description)
            ));
        }
        return Ok(titles);
    }
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

impl App {
    async fn staff_client(&self, actor: &Staff, client: ClientId) -> AppResult<Client> {
        let client = self.store.get_client(actor.practice_id, client).await?;
        if !policy::staff_may_open_client(actor, &client) {
            return Err(AppError::NotFound);
        }
        Ok(client)
    }

    /// Q3: whether `contact` may be given questions of `client`.
    async fn check_assignee(&self, client: &Client, contact: ContactId) -> AppResult<()> {
        let reachable = self
            .store
            .portal_clients(client.practice_id, contact)
            .await?;
        if !client.assignable_questions {
            return Err(invalid(
                "Questions of this client are not assignable: turn on \"Assignable questions\" on its Overview first.",
            )
            .at("assignee"));
        }
        if !policy::contact_may_open_client(&reachable, client.id) {
            return Err(invalid("Choose a contact who can open this client.").at("assignee"));
        }
        Ok(())
    }

    /// Q1: staff ask a client one or many questions at once.
    pub async fn ask_questions(
        &self,
        actor: &Staff,
        client: ClientId,
        inputs: &[QuestionInput],
    ) -> AppResult<Vec<Question>> {
        let client = self.staff_client(actor, client).await?;
        if inputs.is_empty() {
            return Err(invalid("Write a question."));
        }
        if inputs.len() > MAX_BATCH {
            return Err(invalid(format!(
                "At most {MAX_BATCH} questions can be asked at once."
            )));
        }
        for input in inputs {
            let title = input.title.trim();
            if title.is_empty() {
                return Err(invalid("Write a question."));
            }
            if title.chars().count() > MAX_TITLE_CHARS {
                return Err(invalid(format!(
                    "A question can be at most {MAX_TITLE_CHARS} characters; put the rest in its details."
                )));
            }
            if input.details.chars().count() > MAX_BODY_CHARS {
                return Err(invalid(format!(
                    "Details can be at most {MAX_BODY_CHARS} characters."
                ))
                .at("details"));
            }
            if let Some(contact) = input.assignee {
                self.check_assignee(&client, contact).await?;
            }
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let mut asked = Vec::with_capacity(inputs.len());
        for input in inputs {
            let question = tx
                .insert_question(
                    actor.practice_id,
                    &NewQuestion {
                        client_id: client.id,
                        assignee: input.assignee,
                        title: input.title.trim().to_owned(),
                        details: input.details.trim().to_owned(),
                        asked_by: actor.id,
                    },
                    now,
                )
                .await?;
            let items = self
                .question_items(&question, "asked", &actor.name, &question.details)
                .await?;
            tx.insert_notify_items(actor.practice_id, &items, now)
                .await?;
            asked.push(question);
        }
        tx.commit().await?;
        for question in &asked {
            self.after_question(question, "asked", &actor.name).await;
        }
        Ok(asked)
    }

    /// Q2: questions for staff, by client and state, or practice-wide.
    pub async fn staff_questions(
        &self,
        actor: &Staff,
        filter: &QuestionFilter,
    ) -> AppResult<Vec<QuestionSummary>> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        if let Some(client) = filter.client {
            self.staff_client(actor, client).await?;
        }
        Ok(self.store.list_questions(actor.practice_id, filter).await?)
    }

    /// Q2: how many questions each client has in each state.
    pub async fn question_counts(
        &self,
        actor: &Staff,
    ) -> AppResult<
        std::collections::HashMap<ClientId, std::collections::HashMap<QuestionStatus, i64>>,
    > {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        let mut counts: std::collections::HashMap<
            ClientId,
            std::collections::HashMap<QuestionStatus, i64>,
        > = std::collections::HashMap::new();
        for (client, status, count) in self.store.question_counts(actor.practice_id).await? {
            counts.entry(client).or_default().insert(status, count);
        }
        Ok(counts)
    }

    /// The questions a contact sees for one of their clients (Q3).
    pub async fn contact_questions(
        &self,
        contact: &Contact,
        client: ClientId,
    ) -> AppResult<Vec<QuestionSummary>> {
        let reachable = self
            .store
            .portal_clients(contact.practice_id, contact.id)
            .await?;
        if !policy::contact_may_open_client(&reachable, client) {
            return Err(AppError::NotFound);
        }
        Ok(self
            .store
            .contact_questions(contact.practice_id, contact.id, client)
            .await?)
    }

    /// A question the actor may see, or "not found".
    pub async fn visible_question(
        &self,
        actor: Actor<'_>,
        id: QuestionId,
    ) -> AppResult<QuestionSummary> {
        match actor {
            Actor::Staff(staff) => {
                if !staff.active {
                    return Err(AppError::Forbidden);
                }
                Ok(self.store.get_question(staff.practice_id, id).await?)
            }
            Actor::Contact(contact) => {
                let question = self.store.get_question(contact.practice_id, id).await?;
                let reachable = self
                    .store
                    .portal_clients(contact.practice_id, contact.id)
                    .await?;
                if !policy::contact_may_see_question(
                    contact.id,
                    &reachable,
                    question.client_assignable,
                    &question.question,
                ) {
                    return Err(AppError::NotFound);
                }
                Ok(question)
            }
        }
    }

    pub async fn thread(&self, actor: Actor<'_>, id: QuestionId) -> AppResult<Thread> {
        let question = self.visible_question(actor, id).await?;
        let p = question.question.practice_id;
        let me = match actor {
            Actor::Staff(s) => crate::store::Member::Staff(s.id),
            Actor::Contact(c) => crate::store::Member::Contact(c.id),
        };
        self.question_seen(p, id, me).await;
        self.thread_unseen(actor, id).await
    }

    /// A thread as `actor` sees it, without marking anything seen (P7).
    pub async fn thread_unseen(&self, actor: Actor<'_>, id: QuestionId) -> AppResult<Thread> {
        let question = self.visible_question(actor, id).await?;
        let p = question.question.practice_id;
        let entries = self.store.question_entries(p, id).await?;
        let assignable_to = match actor {
            Actor::Staff(_) if question.client_assignable => {
                self.contacts_reaching(p, question.question.client_id)
                    .await?
            }
            _ => Vec::new(),
        };
        Ok(Thread {
            question,
            entries,
            assignable_to,
        })
    }

    /// Contacts who reach a client: its own, and its family primary's.
    async fn contacts_reaching(
        &self,
        practice: crate::domain::PracticeId,
        client: ClientId,
    ) -> AppResult<Vec<Contact>> {
        let record = self.store.get_client(practice, client).await?;
        let mut contacts = self.store.client_contacts(practice, client).await?;
        if let Some(primary) = record.primary_client_id {
            for contact in self.store.client_contacts(practice, primary).await? {
                if !contacts.iter().any(|c| c.id == contact.id) {
                    contacts.push(contact);
                }
            }
        }
        Ok(contacts)
    }

    /// Adds an entry (with its files) and moves the question to `status`.
    async fn add_entry(
        &self,
        question: &Question,
        entry: NewEntry,
        files: &[StoredFile],
        status: Option<QuestionStatus>,
    ) -> AppResult<()> {
        let now = self.clock.now();
        let p = question.practice_id;
        let what = match entry.kind {
            EntryKind::Answer => Some("answer"),
            EntryKind::FollowUp => Some("follow_up"),
            _ => None,
        };
        let items = match what {
            Some(what) => {
                self.question_items(question, what, &entry.author_name, &entry.body)
                    .await?
            }
            None => Vec::new(),
        };
        let author = entry.author_name.clone();
        let mut tx = self.store.begin().await?;
        tx.insert_notify_items(p, &items, now).await?;
        let entry_id = tx.insert_entry(p, question.id, &entry, now).await?;
        for file in files {
            tx.insert_file(&FileMeta {
                question_id: Some(question.id),
                entry_id: Some(entry_id),
                ..file.meta(p, now)
            })
            .await?;
        }
        if let Some(status) = status {
            tx.set_question_status(p, question.id, status, now).await?;
        }
        tx.commit().await?;
        if let Some(what) = what {
            self.after_question(question, what, &author).await;
        }
        Ok(())
    }

    fn check_body(body: &str, files: &[StoredFile]) -> AppResult<String> {
        let body = body.trim();
        if body.is_empty() && files.is_empty() {
            return Err(invalid("Write an answer or attach a file."));
        }
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(invalid(format!(
                "A reply can be at most {MAX_BODY_CHARS} characters."
            )));
        }
        Ok(body.to_owned())
    }

    /// Q1: a contact answers with text and files; the question now waits
    /// for the practice.
    pub async fn answer_question(
        &self,
        contact: &Contact,
        id: QuestionId,
        body: &str,
        files: &[StoredFile],
    ) -> AppResult<()> {
        let question = self.visible_question(Actor::Contact(contact), id).await?;
        let body = Self::check_body(body, files)?;
        self.add_entry(
            &question.question,
            NewEntry {
                author: Author::Contact(contact.id),
                author_name: contact.name.clone(),
                kind: EntryKind::Answer,
                body,
            },
            files,
            Some(QuestionStatus::Answered),
        )
        .await
    }

    /// Q1: staff follow up in the same thread; the question is open again.
    pub async fn follow_up_question(
        &self,
        actor: &Staff,
        id: QuestionId,
        body: &str,
        files: &[StoredFile],
    ) -> AppResult<()> {
        let question = self.visible_question(Actor::Staff(actor), id).await?;
        let body = Self::check_body(body, files)?;
        self.add_entry(
            &question.question,
            NewEntry {
                author: Author::Staff(actor.id),
                author_name: actor.name.clone(),
                kind: EntryKind::FollowUp,
                body,
            },
            files,
            Some(QuestionStatus::Open),
        )
        .await
    }

    /// Q2: staff resolve a question, or reopen a resolved one.
    pub async fn set_question_resolved(
        &self,
        actor: &Staff,
        id: QuestionId,
        resolved: bool,
    ) -> AppResult<()> {
        let question = self.visible_question(Actor::Staff(actor), id).await?;
        let (kind, status, body) = if resolved {
            (
                EntryKind::Resolved,
                QuestionStatus::Resolved,
                "Marked as resolved.",
            )
        } else {
            (EntryKind::Reopened, QuestionStatus::Open, "Reopened.")
        };
        self.add_entry(
            &question.question,
            NewEntry {
                author: Author::Staff(actor.id),
                author_name: actor.name.clone(),
                kind,
                body: body.to_owned(),
            },
            &[],
            Some(status),
        )
        .await
    }

    /// Q4: staff move a question to another contact (`Some`), or back to
    /// every contact of the client (`None`), optionally with a follow-up in
    /// the same step. Moving it to whoever has it already is refused.
    pub async fn reassign_question(
        &self,
        actor: &Staff,
        id: QuestionId,
        to: Option<ContactId>,
        follow_up: &str,
    ) -> AppResult<()> {
        let question = self.visible_question(Actor::Staff(actor), id).await?;
        let client = self
            .staff_client(actor, question.question.client_id)
            .await?;
        let follow_up = follow_up.trim();
        if follow_up.chars().count() > MAX_BODY_CHARS {
            return Err(invalid(format!(
                "A follow-up can be at most {MAX_BODY_CHARS} characters."
            ))
            .at("follow_up"));
        }
        if to == question.question.assignee {
            let message = match &question.assignee_name {
                Some(name) => format!(
                    "The question is already with {name}: choose someone else to move it to."
                ),
                None => {
                    "The question is already for every contact: choose one contact to move it to."
                        .to_owned()
                }
            };
            return Err(AppError::conflict(message).at("to"));
        }
        let to_name = match to {
            Some(to) => {
                self.check_assignee(&client, to)
                    .await
                    .map_err(|e| e.at("to"))?;
                self.store.get_contact(actor.practice_id, to).await?.name
            }
            None => format!("every contact of {}", client.name),
        };
        let now = self.clock.now();
        let p = actor.practice_id;
        let from = question
            .assignee_name
            .clone()
            .unwrap_or_else(|| "everyone".into());
        // Those who see it now and did not before are told (N2), with the
        // follow-up if there is one.
        let moved = Question {
            assignee: to,
            ..question.question.clone()
        };
        let before = question
            .question
            .assignee
            .map(crate::store::Member::Contact);
        let items: Vec<_> = self
            .question_items(&moved, "reassigned", &actor.name, follow_up)
            .await?
            .into_iter()
            .filter(|item| Some(item.recipient) != before)
            .collect();
        let mut tx = self.store.begin().await?;
        tx.insert_notify_items(p, &items, now).await?;
        tx.set_question_assignee(p, id, to, now).await?;
        tx.insert_entry(
            p,
            id,
            &NewEntry {
                author: Author::Staff(actor.id),
                author_name: actor.name.clone(),
                kind: EntryKind::Reassigned,
                body: format!("Moved from {from} to {to_name}."),
            },
            now,
        )
        .await?;
        if !follow_up.is_empty() {
            tx.insert_entry(
                p,
                id,
                &NewEntry {
                    author: Author::Staff(actor.id),
                    author_name: actor.name.clone(),
                    kind: EntryKind::FollowUp,
                    body: follow_up.to_owned(),
                },
                now,
            )
            .await?;
            tx.set_question_status(p, id, QuestionStatus::Open, now)
                .await?;
        }
        tx.commit().await?;
        self.after_question(&moved, "reassigned", &actor.name).await;
        Ok(())
    }

    /// A question a contact no longer sees because it was moved to another
    /// contact of a client she still reaches: that client, so her portal
    /// can say so. `None` for any other question (it stays "not found").
    pub async fn moved_away_from(
        &self,
        contact: &Contact,
        id: QuestionId,
    ) -> AppResult<Option<ClientId>> {
        let question = match self.store.get_question(contact.practice_id, id).await {
            Ok(question) => question,
            Err(crate::store::StoreError::NotFound) => return Ok(None),
            Err(other) => return Err(other.into()),
        };
        let reachable = self
            .store
            .portal_clients(contact.practice_id, contact.id)
            .await?;
        let moved = question.client_assignable
            && question
                .question
                .assignee
                .is_some_and(|other| other != contact.id)
            && policy::contact_may_open_client(&reachable, question.question.client_id);
        Ok(moved.then_some(question.question.client_id))
    }

    /// A file the actor may download: one of a question they may see.
    pub async fn file_for(&self, actor: Actor<'_>, id: FileId) -> AppResult<FileMeta> {
        let practice = match actor {
            Actor::Staff(staff) => staff.practice_id,
            Actor::Contact(contact) => contact.practice_id,
        };
        let file = self.store.get_file(practice, id).await?;
        if let (Some(chat), Some(seq)) = (file.chat_id, file.message_seq) {
            // M9: a chat's file, for its members, while its message stands.
            let member = match actor {
                Actor::Staff(staff) => crate::store::Member::Staff(staff.id),
                Actor::Contact(contact) => crate::store::Member::Contact(contact.id),
            };
            self.store.chat_for_member(practice, chat, member).await?;
            if self.store.get_message(practice, chat, seq).await?.deleted {
                return Err(AppError::NotFound);
            }
            return Ok(file);
        }
        let question = file.question_id.ok_or(AppError::NotFound)?;
        self.visible_question(actor, question).await?;
        Ok(file)
    }

    /// Forgets uploads whose entry was refused, so nothing is left behind.
    pub async fn discard_uploads(&self, files: &[StoredFile]) {
        for file in files {
            if let Err(error) = self.files.delete(&file.key).await {
                tracing::warn!(%error, file = %file.id, "could not remove a refused upload");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_lines_become_questions() {
        let titles = questions_from_text("What is this?\n\n  And this?  \n").unwrap();
        assert_eq!(titles, vec!["What is this?", "And this?"]);
    }

    #[test]
    fn a_bank_export_becomes_payment_questions() {
        let csv = "Date,Amount,Description\n2026-10-03,$412.00,ACME SUPPLIES\n2026-10-05,\"$1,200.50\",\"Smith, J\"\n";
        let titles = questions_from_text(csv).unwrap();
        assert_eq!(
            titles,
            vec![
                "What was the payment of $412.00 on 2026-10-03 to \"ACME SUPPLIES\" for?",
                "What was the payment of $1,200.50 on 2026-10-05 to \"Smith, J\" for?",
            ]
        );
    }
}
