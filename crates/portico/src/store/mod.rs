//! The store: every SQL statement of Portico lives below this module.
//!
//! One store API serves SQLite and PostgreSQL through sqlx's `Any` driver:
//! SQL is written once in the dialect both accept (`$n` parameters,
//! `RETURNING`, `ON CONFLICT`), ids are text, times are unix milliseconds and
//! flags are integers. What differs between the engines lives in
//! [`backend`] alone. Every query on tenant data filters by practice.
//! See `docs/decisions/0001-one-store-for-two-engines.md`.

mod api_tokens;
mod audit;
mod backend;
mod backup;
mod batch_sql;
pub mod changes;
mod chat_events;
mod chat_prefs;
mod chats;
mod clients;
mod contacts;
mod erasure;
mod file_deletions;
pub mod group_commit;
mod ids;
mod inbound;
mod notify;
mod notify_window;
mod outbox;
mod practices;
mod push;
mod questions;
mod reminders;
mod scheduled_questions;
mod search;
mod secret_keys;
mod sessions;
mod sqlite_writer;
mod sso;
mod staff;
mod throttle;
mod tokens;
mod webhooks;

pub use api_tokens::ApiToken;
pub use audit::{
    AuditActor, AuditEntry, AuditFilter, AuditKind, ChainBreak, ChainReport, GENESIS_HASH, NewAudit,
};
pub use backend::{Backend, listen_instances};
pub use chat_events::ChatEvent;
pub use chat_prefs::{
    MessagingPreferences, MessagingSettings, NewScheduled, Scheduled, ScheduledState,
    StaffAutoresponder,
};
pub use chats::{Chat, ChatSummary, Member, MemberState, Message, Reaction, Segment};
pub use clients::{Client, ClientFilter, ClientSummary, NewClient};
pub use contacts::{Contact, ContactFootprint, ContactStatus, NewContact, PortalClient};
pub use erasure::{FORMER_CLIENT, FORMER_CONTACT};
pub use file_deletions::FileDeletion;
pub use inbound::{Conversation, InboundMail, InboundStatus, ReplyAddress};
pub use notify::{
    BrandParts, COUNTED_PER_CHAT, ChatAlerts, ClientMessages, ContentChoice, NEWEST_PER_CHAT,
    NewNotifyItem, NotifyChannel, NotifyPrefs, NotifySettings, PENDING_LIMIT, PendingItem,
    PendingKey, PendingMessage, PendingPage, Recipient, StaffMode,
};
pub use notify_window::{
    ChatMark, NewClaim, NewNotification, NewToken, PersonKey, ReplyKey, WatchMark,
};
pub use outbox::{Channel, NewOutboxItem, OutboxItem, OutboxStatus};
pub use practices::Practice;
pub use push::{NewPushNotice, NewPushSubscription, PushState, PushSubscription};
pub use questions::{
    Author, ContactAnswer, ContactQuestions, Entry, EntryKind, FileMeta, NewEntry, NewQuestion,
    Question, QuestionFilter, QuestionStatus, QuestionSummary,
};
pub use reminders::{Alert, ReminderRun, ReminderSchedule};
pub use scheduled_questions::{NewScheduledQuestion, ScheduledQuestion};
pub use search::{
    AnswerHit, ClientHit, ContactHit, FileHit, MessageHit, QuestionHit, SearchKind, Searcher,
};
pub use secret_keys::{SecretColumn, StoredSecret};
pub use sessions::{NewSession, Session, SessionStage, SessionSubject};
pub use sso::{PendingSsoLogin, SsoSettings};
pub use staff::{NewStaff, Staff, StaffTotp};
pub use tokens::{InvitationSent, TokenHolder, TokenPurpose};
pub use webhooks::{
    DeliveryStatus, EndpointFields, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookPost,
};

use crate::domain::{Clock, PracticeId};
use sqlx::AnyPool;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// What went wrong in the store, in terms the layers above can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row in this practice (or at all: the two are never told apart).
    #[error("not found")]
    NotFound,
    /// The change would break a rule of the data (a duplicate e-mail, a
    /// family of families); the text says which, in a person's words.
    #[error("{0}")]
    Conflict(String),
    /// The database URL names an engine Portico does not run on.
    #[error("{0}")]
    UnsupportedUrl(String),
    /// A stored value could not be read back (a corrupt or foreign row).
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An error of SQLite's message writer ([`sqlite_writer`]).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The batch of sends this one was written with failed as a whole:
    /// nothing of it was stored (see [`group_commit`]).
    #[error("the message was not stored: {0}")]
    BatchFailed(String),
    #[error("could not bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Turns a unique-constraint violation into a [`StoreError::Conflict`]
    /// with the given message; any other error is passed through.
    fn conflict_on_unique(error: sqlx::Error, message: &str) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(message.to_owned())
            }
            _ => StoreError::Database(error),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Options for opening the store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The time rows are stamped with: the server's clock (a test's manual
    /// clock in tests), never the wall clock read here.
    clock: Clock,
    /// Marks the practices whose people a write changed (for caches).
    changes: Arc<changes::Changes>,
    /// SQLite's message writer (a database file's; none in memory or on
    /// PostgreSQL).
    sqlite_writer: Option<Arc<sqlite_writer::SqliteWriter>>,
}

impl Store {
    /// The same database, stamping rows with `clock`'s time.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Opens the database named by `url` (`sqlite://…` or `postgres://…`).
    /// Any other scheme is refused. Does not run migrations.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        let backend = Backend::from_url(url).map_err(StoreError::UnsupportedUrl)?;
        let pool = backend.connect(url, options).await?;
        let sqlite_writer = match backend {
            Backend::Sqlite => sqlite_file(url)?
                .map(|path| sqlite_writer::SqliteWriter::open(&path).map(Arc::new))
                .transpose()?,
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            backend,
            clock: Clock::system(),
            changes: Arc::default(),
            sqlite_writer,
        })
    }

    /// SQLite's message writer, if this store has one.
    fn sqlite_writer(&self) -> Option<&Arc<sqlite_writer::SqliteWriter>> {
        self.sqlite_writer.as_ref()
    }

    /// Brings the schema up to date; safe to run on every start.
    pub async fn migrate(&self) -> StoreResult<()> {
        self.backend.migrator().run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Which practices' people (sessions, team, contacts, the practice
    /// itself) or messaging rules (settings, automatic answers) changed:
    /// the store marks them as its writes commit.
    pub fn changes(&self) -> &changes::Changes {
        &self.changes
    }

    /// A committed write changed `practice`'s people or messaging rules.
    fn people_changed(&self, practice: PracticeId) {
        self.changes.changed(practice);
    }

    /// A round trip to the database, for `/readyz`.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(writer) = &self.sqlite_writer {
            writer.close();
        }
        self.pool.close().await;
    }

    /// Starts a transaction: changes and the messages they cause commit
    /// together or not at all.
    ///
    /// On SQLite the transaction takes the write lock at once (`BEGIN
    /// IMMEDIATE`): one that read first and wrote later could be refused
    /// outright ("database is locked", without waiting) when another writer
    /// committed in between.
    pub async fn begin(&self) -> StoreResult<StoreTx> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(StoreTx {
            tx,
            backend: self.backend,
            changes: self.changes.clone(),
            changed: Vec::new(),
        })
    }
}

/// A transaction on the store. Dropped without [`StoreTx::commit`], it
/// rolls back.
pub struct StoreTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    /// The engine, for the statements whose text differs between them.
    backend: Backend,
    changes: Arc<changes::Changes>,
    /// The practices whose people this transaction changes, marked once
    /// it commits.
    changed: Vec<PracticeId>,
}

impl StoreTx {
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        for practice in self.changed {
            self.changes.changed(practice);
        }
        Ok(())
    }

    /// This transaction changes `practice`'s people (marked at commit).
    fn people_changed(&mut self, practice: PracticeId) {
        if !self.changed.contains(&practice) {
            self.changed.push(practice);
        }
    }
}

/// One statement as sqlx builds it.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

impl Store {
    /// Runs one statement and writes its audit entry (X2) in the same
    /// transaction; returns the rows the statement touched.
    async fn execute_audited(&self, query: AnyQuery<'_>, entry: &NewAudit) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let done = query.execute(&mut *tx.tx).await?.rows_affected();
        tx.audit(entry).await?;
        tx.commit().await?;
        Ok(done)
    }
}

/// The file of a SQLite URL; `None` for a database in memory, which only
/// the pool's connections share.
fn sqlite_file(url: &str) -> StoreResult<Option<std::path::PathBuf>> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    let path = options.get_filename();
    let in_memory = path.as_os_str().is_empty()
        || path.to_string_lossy().starts_with("file:sqlx-in-memory")
        || url.contains(":memory:")
        || url.contains("mode=memory");
    Ok((!in_memory).then(|| path.to_path_buf()))
}

/// Parses an id read from the database.
fn parse_id<T: FromStr>(value: &str) -> StoreResult<T> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{value:?} is not an id")))
}

/// A statement's JSON parameter: the rows as a JSON array (read by
/// `json_each` on SQLite and `json_to_recordset` or
/// `json_array_elements_text` on PostgreSQL).
fn json_array<T: serde::Serialize>(rows: &[T]) -> StoreResult<String> {
    serde_json::to_string(rows).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// Escapes `%`, `_` and `\` so a person's search text matches literally in
/// a `LIKE … ESCAPE '\'` pattern.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
        assert_eq!(like_pattern("ACME"), "%acme%");
    }
}
