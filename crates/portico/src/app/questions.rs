//! Questions (Q1–Q4): staff ask, contacts answer with text and files,
//! staff follow up, resolve, reopen and reassign. Every step checks who is
//! asking: staff of the practice, or a contact who may see the question (Q3).

use super::sessions::ClientInfo;
use super::spans::person;
use super::{App, AppError, AppResult, policy};
use crate::domain::{ClientId, ContactId, FileId, QuestionId, ValidationError};
use crate::files::StoredFile;
use crate::store::{
    AuditKind, Author, Client, Contact, Entry, EntryKind, FileMeta, NewEntry, NewQuestion,
    Question, QuestionFilter, QuestionStatus, QuestionSummary, Staff,
};
use tracing::instrument;

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
    /// X7: the contact is told even in her quiet hours.
    pub urgent: bool,
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

impl Actor<'_> {
    /// The practice the person belongs to.
    pub fn practice_id(&self) -> crate::domain::PracticeId {
        match self {
            Actor::Staff(s) => s.practice_id,
            Actor::Contact(c) => c.practice_id,
        }
    }

    /// The person as a member of a chat.
    pub fn member(&self) -> crate::store::Member {
        match self {
            Actor::Staff(s) => crate::store::Member::Staff(s.id),
            Actor::Contact(c) => crate::store::Member::Contact(c.id),
        }
    }

    /// The person's name, as others read it.
    pub fn name(&self) -> &str {
        match self {
            Actor::Staff(s) => &s.name,
            Actor::Contact(c) => &c.name,
        }
    }
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::Invalid(ValidationError::new(message.into()))
}

/// Why a row of a bank export was not made a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Money coming in (a positive amount where payments are negative).
    MoneyIn,
    /// No amount, or one that is not a sum of money.
    NoAmount,
    /// An amount of nothing.
    Zero,
    /// No date (a balance or total line).
    NoDate,
}

impl Skip {
    /// A short code for an address (`?skipped=4-in`).
    pub fn code(self) -> &'static str {
        match self {
            Skip::MoneyIn => "in",
            Skip::NoAmount => "amount",
            Skip::Zero => "zero",
            Skip::NoDate => "date",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [Skip::MoneyIn, Skip::NoAmount, Skip::Zero, Skip::NoDate]
            .into_iter()
            .find(|s| s.code() == code)
    }

    /// Why, in words.
    pub fn reason(self) -> &'static str {
        match self {
            Skip::MoneyIn => "money in, not a payment",
            Skip::NoAmount => "no amount",
            Skip::Zero => "an amount of nothing",
            Skip::NoDate => "no date",
        }
    }
}

/// The questions read from pasted lines or a CSV, and the rows of a bank
/// export left out (by their line number in the file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadQuestions {
    pub titles: Vec<String>,
    pub skipped: Vec<(usize, Skip)>,
}

/// An amount of money as a bank export writes it (`$1,200.50`, `-412`,
/// `(412.00)`, `412.00 DR`): its currency symbol, if any, and cents
/// (negative for money out when the file says so).
fn parse_money(text: &str) -> Option<(Option<char>, i64)> {
    let mut text = text.trim().to_owned();
    let mut negative = false;
    if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        negative = true;
        text = inner.trim().to_owned();
    }
    for (suffix, out) in [(" DR", true), (" CR", false), ("DR", true), ("CR", false)] {
        if let Some(rest) = text.strip_suffix(suffix) {
            negative |= out;
            text = rest.trim().to_owned();
            break;
        }
    }
    if let Some(rest) = text.strip_prefix('-') {
        negative = !negative;
        text = rest.trim().to_owned();
    } else if let Some(rest) = text.strip_prefix('+') {
        text = rest.trim().to_owned();
    }
    let symbol = text.chars().next().filter(|c| "$£€¥".contains(*c));
    if let Some(c) = symbol {
        text = text[c.len_utf8()..].trim().to_owned();
    }
    if let Some(rest) = text.strip_prefix('-') {
        negative = !negative;
        text = rest.trim().to_owned();
    }
    let digits: String = text.chars().filter(|c| *c != ',').collect();
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (digits.as_str(), ""),
    };
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 2
        || whole.len() > 13
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let cents: i64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().ok()? * 10,
        _ => fraction.parse().ok()?,
    };
    let amount = whole.checked_mul(100)?.checked_add(cents)?;
    Some((symbol, if negative { -amount } else { amount }))
}

/// Cents as money: `$1,200.50`.
fn format_money(symbol: char, cents: i64) -> String {
    let cents = cents.unsigned_abs();
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{symbol}{grouped}.{:02}", cents % 100)
}

/// Lines pasted or a CSV file, one question each. A CSV whose header names
/// `date`, `amount` and `description` columns (a bank export) becomes
/// "What was the payment of $412.00 …?" questions, one per payment: rows
/// with no date or amount, and money coming in (positive amounts in a file
/// whose payments are negative), are skipped and said so.
pub fn questions_from_text(text: &str) -> AppResult<ReadQuestions> {
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
        // (line, date, amount, description) of every row with something in it.
        type Row = (usize, String, Option<(Option<char>, i64)>, String);
        let mut rows: Vec<Row> = Vec::new();
        for (index, record) in reader.records().enumerate() {
            let line = index + 2;
            let record = record
                .map_err(|e| invalid(format!("Line {line} of the CSV cannot be read: {e}")))?;
            let field = |i: usize| record.get(i).map(str::trim).unwrap_or("").to_owned();
            if record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            rows.push((
                line,
                field(date),
                parse_money(&field(amount)),
                field(description),
            ));
        }
        // Payments are the negative amounts when the file has any; a file
        // of positive amounts only lists payments as positive.
        let out_is_negative = rows
            .iter()
            .any(|(_, _, money, _)| money.is_some_and(|(_, cents)| cents < 0));
        let mut read = ReadQuestions::default();
        for (line, date, money, description) in rows {
            let skip = match money {
                _ if date.is_empty() => Some(Skip::NoDate),
                None => Some(Skip::NoAmount),
                Some((_, 0)) => Some(Skip::Zero),
                Some((_, cents)) if out_is_negative && cents > 0 => Some(Skip::MoneyIn),
                Some(_) => None,
            };
            if let Some(skip) = skip {
                read.skipped.push((line, skip));
                continue;
            }
            let (symbol, cents) = money.unwrap_or((None, 0));
            let to = if description.is_empty() {
                String::new()
            } else {
                format!(" to \"{description}\"")
            };
            read.titles.push(format!(
                "What was the payment of {} on {date}{to} for?",
                format_money(symbol.unwrap_or('$'), cents)
            ));
        }
        if read.titles.is_empty() {
            return Err(invalid(
                "No payment found in this bank export: every row was money in, a balance, or had no amount.",
            ));
        }
        return Ok(read);
    }
    Ok(ReadQuestions {
        titles: text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        skipped: Vec::new(),
    })
}

impl App {
    pub(super) async fn staff_client(&self, actor: &Staff, client: ClientId) -> AppResult<Client> {
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
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn ask_questions(
        &self,
        actor: &Staff,
        client: ClientId,
        inputs: &[QuestionInput],
    ) -> AppResult<Vec<Question>> {
        self.ask(actor, client, inputs, None).await
    }

    /// Q1: what is asked, checked before it is asked or scheduled (X10).
    pub(super) async fn check_questions(
        &self,
        client: &Client,
        inputs: &[QuestionInput],
    ) -> AppResult<()> {
        if inputs.is_empty() {
            return Err(invalid("Write a question."));
        }
        if inputs.len() > MAX_BATCH {
            return Err(invalid(format!(
                "At most {MAX_BATCH} questions can be asked at once."
            )));
        }
        for input in inputs {
            // Every field of the question is checked before refusing.
            let mut check = super::FieldCheck::new();
            let title = input.title.trim();
            if title.is_empty() {
                check.refuse(ValidationError::new("Write a question.").at("title"));
            }
            if title.chars().count() > MAX_TITLE_CHARS {
                check.refuse(ValidationError::new(format!(
                    "A question can be at most {MAX_TITLE_CHARS} characters; put the rest in its details."
                )).at("title"));
            }
            if input.details.chars().count() > MAX_BODY_CHARS {
                check.refuse(
                    ValidationError::new(format!(
                        "Details can be at most {MAX_BODY_CHARS} characters."
                    ))
                    .at("details"),
                );
            }
            if let Some(contact) = input.assignee {
                match self.check_assignee(client, contact).await {
                    Ok(()) => {}
                    Err(AppError::Invalid(error)) => check.refuse(error),
                    Err(other) => return Err(other),
                }
            }
            check.finish()?;
        }
        Ok(())
    }

    /// Asks `inputs`; with `scheduled`, as that scheduled question (X10),
    /// marked asked in the same transaction: when another instance already
    /// asked it, nothing is asked and the list is empty.
    pub(super) async fn ask(
        &self,
        actor: &Staff,
        client: ClientId,
        inputs: &[QuestionInput],
        scheduled: Option<uuid::Uuid>,
    ) -> AppResult<Vec<Question>> {
        let client = self.staff_client(actor, client).await?;
        self.check_questions(&client, inputs).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let mut asked = Vec::with_capacity(inputs.len());
        for input in inputs {
            let urgent = input.urgent;
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
                .question_items(
                    &question,
                    "asked",
                    &actor.name,
                    &question.details,
                    urgent,
                    0,
                )
                .await?;
            tx.insert_notify_items(actor.practice_id, &items, now)
                .await?;
            tx.queue_webhook(&super::webhook_events::question_asked(&question, now))
                .await?;
            asked.push(question);
        }
        if let (Some(id), Some(first)) = (scheduled, asked.first())
            && !tx
                .mark_scheduled_question_asked(actor.practice_id, id, first.id)
                .await?
        {
            // Another instance asked it: this transaction rolls back.
            return Ok(Vec::new());
        }
        tx.commit().await?;
        self.webhook_wake.notify_one();
        for question in &asked {
            self.after_question(question, "asked", &actor.name).await;
        }
        Ok(asked)
    }

    /// Q2: questions for staff, by client and state, or practice-wide.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
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
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
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
            .contact_questions(
                contact.practice_id,
                contact.id,
                client,
                crate::store::ContactQuestions::All,
            )
            .await?)
    }

    /// A question the actor may see, or "not found".
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), question = %id
    ))]
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

    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), question = %id
    ))]
    pub async fn thread(&self, actor: Actor<'_>, id: QuestionId) -> AppResult<Thread> {
        let question = self.visible_question(actor, id).await?;
        let p = question.question.practice_id;
        let me = actor.member();
        self.question_seen(p, id, me).await;
        self.thread_unseen(actor, id).await
    }

    /// A thread as `actor` sees it, without marking anything seen (P7).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), question = %id
    ))]
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
        audit: &[crate::store::NewAudit],
        urgent: bool,
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
                self.question_items(
                    question,
                    what,
                    &entry.author_name,
                    &entry.body,
                    urgent,
                    files.len(),
                )
                .await?
            }
            None => Vec::new(),
        };
        let author = entry.author_name.clone();
        let mut tx = self.store.begin().await?;
        tx.insert_notify_items(p, &items, now).await?;
        let entry_id = tx.insert_entry(p, question.id, &entry, now).await?;
        let mut posts = Vec::new();
        for file in files {
            let meta = FileMeta {
                question_id: Some(question.id),
                entry_id: Some(entry_id),
                ..file.meta(p, now)
            };
            tx.insert_file(&meta).await?;
            posts.push(super::webhook_events::file_uploaded(&meta, entry.author));
        }
        if let Some(status) = status {
            tx.set_question_status(p, question.id, status, now).await?;
        }
        // X3: answers and resolutions, and the files sent with them.
        if entry.kind == EntryKind::Answer {
            posts.push(super::webhook_events::question_answered(
                question, entry_id, &entry, now,
            ));
        }
        if status == Some(QuestionStatus::Resolved) {
            posts.push(super::webhook_events::question_resolved(
                question,
                entry.author,
                now,
            ));
        }
        tx.queue_webhooks(&posts).await?;
        for entry in audit {
            tx.audit(entry).await?;
        }
        tx.commit().await?;
        self.webhook_wake.notify_one();
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

    /// A reply to a question, with text and files, from either side: a
    /// contact's answer, or a team member's follow-up (`urgent`: X7, staff
    /// only; a contact's reply ignores it).
    pub async fn reply_to_question(
        &self,
        actor: Actor<'_>,
        id: QuestionId,
        body: &str,
        files: &[StoredFile],
        urgent: bool,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        match actor {
            Actor::Staff(staff) => {
                self.follow_up_question(staff, id, body, files, urgent)
                    .await
            }
            Actor::Contact(contact) => self.answer_question(contact, id, body, files, origin).await,
        }
    }

    /// Q1: a contact answers with text and files; the question now waits
    /// for the practice.
    #[instrument(skip_all, fields(
        practice = %contact.practice_id, by = %person(contact), question = %id
    ))]
    pub async fn answer_question(
        &self,
        contact: &Contact,
        id: QuestionId,
        body: &str,
        files: &[StoredFile],
        origin: &ClientInfo,
    ) -> AppResult<()> {
        let question = self.visible_question(Actor::Contact(contact), id).await?;
        let body = Self::check_body(body, files)?;
        // X2: the answer and each file she sent, with the entry.
        let about = |kind| {
            self.audit_entry(contact.practice_id, contact, kind, origin)
                .client(Some(question.question.client_id))
        };
        let mut audit = vec![about(AuditKind::QuestionAnswered).on("question", id)];
        audit.extend(
            files
                .iter()
                .map(|f| about(AuditKind::FileUploaded).on("file", f.id)),
        );
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
            &audit,
            false,
        )
        .await
    }

    /// Q1: staff follow up in the same thread; the question is open again.
    /// An `urgent` follow-up reaches contacts in their quiet hours (X7).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), question = %id
    ))]
    pub async fn follow_up_question(
        &self,
        actor: &Staff,
        id: QuestionId,
        body: &str,
        files: &[StoredFile],
        urgent: bool,
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
            &[],
            urgent,
        )
        .await
    }

    /// Q2: staff resolve a question, or reopen a resolved one.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), question = %id
    ))]
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
            &[],
            false,
        )
        .await
    }

    /// Q4: staff move a question to another contact (`Some`), or back to
    /// every contact of the client (`None`), optionally with a follow-up in
    /// the same step. Moving it to whoever has it already is refused.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), question = %id
    ))]
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
            .question_items(
                &moved,
                "reassigned",
                &actor.name,
                follow_up.trim(),
                false,
                0,
            )
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
    #[instrument(skip_all, fields(
        practice = %contact.practice_id, by = %person(contact), question = %id
    ))]
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

    /// A file downloaded (its bytes about to be sent), recorded (X2).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), file = %id
    ))]
    pub async fn download_file(
        &self,
        actor: Actor<'_>,
        id: FileId,
        origin: &ClientInfo,
    ) -> AppResult<FileMeta> {
        let file = self.file_for(actor, id).await?;
        let (practice, member) = (actor.practice_id(), actor.member());
        let who: crate::store::AuditActor = match actor {
            Actor::Staff(s) => s.into(),
            Actor::Contact(c) => c.into(),
        };
        let client = match (file.chat_id, file.question_id) {
            (Some(chat), _) => {
                self.store
                    .chat_for_member(practice, chat, member)
                    .await?
                    .client_id
            }
            (None, Some(question)) => Some(
                self.store
                    .get_question(practice, question)
                    .await?
                    .question
                    .client_id,
            ),
            (None, None) => None,
        };
        let entry = self
            .audit_entry(practice, who, AuditKind::FileDownloaded, origin)
            .on("file", file.id)
            .client(client);
        self.store.audit(&entry).await?;
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
        let read = questions_from_text("What is this?\n\n  And this?  \n").unwrap();
        assert_eq!(read.titles, vec!["What is this?", "And this?"]);
        assert!(read.skipped.is_empty());
    }

    #[test]
    fn a_bank_export_becomes_payment_questions_with_money_amounts() {
        let csv = "Date,Amount,Description\n2026-10-03,412,ACME SUPPLIES\n2026-10-05,\"$1,200.5\",\"Smith, J\"\n";
        let read = questions_from_text(csv).unwrap();
        assert_eq!(
            read.titles,
            vec![
                "What was the payment of $412.00 on 2026-10-03 to \"ACME SUPPLIES\" for?",
                "What was the payment of $1,200.50 on 2026-10-05 to \"Smith, J\" for?",
            ]
        );
        assert!(read.skipped.is_empty());
    }

    #[test]
    fn rows_that_are_not_payments_are_skipped_and_named() {
        let csv = "Date,Description,Amount\n\
            2026-10-01,Opening balance,\n\
            2026-10-03,ACME SUPPLIES,-412.00\n\
            2026-10-04,Client payment,\"1,500.00\"\n\
            2026-10-05,Fee reversal,0.00\n\
            ,Closing balance,-88.00\n\
            2026-10-06,Stationery,(£19.9)\n\
            2026-10-07,Pending,n/a\n";
        let read = questions_from_text(csv).unwrap();
        assert_eq!(
            read.titles,
            vec![
                "What was the payment of $412.00 on 2026-10-03 to \"ACME SUPPLIES\" for?",
                "What was the payment of £19.90 on 2026-10-06 to \"Stationery\" for?",
            ]
        );
        assert_eq!(
            read.skipped,
            vec![
                (2, Skip::NoAmount),
                (4, Skip::MoneyIn),
                (5, Skip::Zero),
                (6, Skip::NoDate),
                (8, Skip::NoAmount),
            ]
        );
        let only_deposits = "Date,Amount,Description\n2026-10-04,-0,x\n";
        assert!(questions_from_text(only_deposits).is_err());
    }

    #[test]
    fn money_reads_as_banks_write_it() {
        assert_eq!(parse_money("$1,200.50"), Some((Some('$'), 120_050)));
        assert_eq!(parse_money("-$412"), Some((Some('$'), -41_200)));
        assert_eq!(parse_money("$-412.5"), Some((Some('$'), -41_250)));
        assert_eq!(parse_money("(19.99)"), Some((None, -1_999)));
        assert_eq!(parse_money("19.99 DR"), Some((None, -1_999)));
        assert_eq!(parse_money(".5"), Some((None, 50)));
        for bad in ["", "n/a", "1.234", "12a", "$", "1e5", "99999999999999999"] {
            assert_eq!(parse_money(bad), None, "{bad:?}");
        }
        assert_eq!(format_money('$', 41_200), "$412.00");
        assert_eq!(format_money('$', -123_456_789), "$1,234,567.89");
        assert_eq!(format_money('€', 5), "€0.05");
    }
}
