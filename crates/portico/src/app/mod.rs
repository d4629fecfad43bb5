//! Use cases: what a person or an operator asks Portico to do. Authorization
//! happens here, once, through [`policy`]; the layers below trust it.

pub mod access;
pub mod api_tokens;
pub mod audit;
pub mod branding;
pub mod chat_prefs;
pub mod chat_room;
pub mod chats;
pub mod client_data;
pub mod contact_edit;
pub mod demo;
pub mod home;
pub mod inbound;
pub mod notify;
pub mod password;
pub mod people;
pub mod policy;
pub mod portal;
pub mod practice_rules;
pub mod push;
pub mod questions;
pub mod reminders;
pub mod reply_text;
pub mod scheduled;
pub mod search;
pub mod secrets;
pub mod sessions;
pub mod sign_in;
pub mod sms_inbound;
mod spans;
pub mod sso;
pub mod throttle;
pub mod two_factor;
mod webhook_events;
pub mod webhooks;

use crate::delivery::live::Hub;
use crate::domain::{Clock, EmailAddress, Name, Role, ValidationError};
use crate::files::{FileError, FileStore};
use crate::store::{AuditActor, AuditKind, NewAudit, NewStaff, Practice, Staff, Store, StoreError};
use password::PasswordError;
use secrecy::SecretString;
use std::sync::Arc;
use tokio::sync::Notify;

/// Why a use case did not happen, in terms the edges map to a status and a
/// sentence. Every variant but [`AppError::Internal`], [`AppError::Store`]
/// and a storage [`FileError`] is a refusal: the person asked for something
/// Portico does not do, and is told why (next to the form field it is about,
/// when there is one). The others are failures on Portico's side: logged with
/// the request id, shown as an apology.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// Several fields of one form refused at once, each with its sentence
    /// (never empty): a form shows every error together.
    #[error("{}", .0.first().map_or("", |e| e.message.as_str()))]
    Fields(Vec<ValidationError>),
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("not found")]
    NotFound,
    #[error("you are not allowed to do that")]
    Forbidden,
    /// Too many attempts; the number of minutes to wait.
    #[error("Too many attempts. Try again in {0} minutes.")]
    Throttled(i64),
    /// Wrong e-mail and password, wrong code, a link that is no good: the
    /// sentence says which, never whether an account exists.
    #[error("{0}")]
    Denied(String),
    /// The request clashes with what is stored (a duplicate e-mail, the
    /// last admin); `field` names the form field it is about, if any.
    #[error("{message}")]
    Conflict {
        message: String,
        field: Option<&'static str>,
    },
    #[error("{0}")]
    File(#[from] FileError),
    #[error(transparent)]
    Store(StoreError),
    /// Something that should have worked did not (a mail that could not be
    /// written, a temporary file that could not be made): never the
    /// person's doing; the text is for the log, never for a page.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// A conflict not about one form field.
    pub fn conflict(message: impl Into<String>) -> Self {
        AppError::Conflict {
            message: message.into(),
            field: None,
        }
    }

    /// An internal failure: what was being done, and why it failed.
    pub fn internal(doing: &str, cause: impl std::fmt::Display) -> Self {
        AppError::Internal(format!("{doing}: {cause}"))
    }

    /// The same refusal, about the form field `field` (a no-op for errors
    /// that are not about a value typed in a form).
    #[must_use]
    pub fn at(self, field: &'static str) -> Self {
        match self {
            AppError::Invalid(e) => AppError::Invalid(e.at(field)),
            AppError::Conflict { message, .. } => AppError::Conflict {
                message,
                field: Some(field),
            },
            other => other,
        }
    }

    /// The form field this refusal is about, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AppError::Invalid(e) => e.field,
            AppError::Fields(all) => all.first().and_then(|e| e.field),
            AppError::Conflict { field, .. } => *field,
            AppError::Password(_) => Some("password"),
            _ => None,
        }
    }
}

/// Checks every field of a form before refusing, so that a person sees
/// all that is wrong at once.
#[derive(Debug, Default)]
pub struct FieldCheck {
    errors: Vec<ValidationError>,
}

impl FieldCheck {
    pub fn new() -> Self {
        Self::default()
    }

    /// The value, or `None` with its refusal kept.
    pub fn take<T>(&mut self, result: Result<T, ValidationError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.errors.push(error);
                None
            }
        }
    }

    /// Keeps a refusal of the check's own.
    pub fn refuse(&mut self, error: ValidationError) {
        self.errors.push(error);
    }

    /// Every refusal together, or nothing wrong.
    pub fn finish(self) -> AppResult<()> {
        let mut errors = self.errors;
        match errors.len() {
            0 => Ok(()),
            1 => Err(AppError::Invalid(errors.remove(0))),
            _ => Err(AppError::Fields(errors)),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(message) => AppError::conflict(message),
            other => AppError::Store(other),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// What the use cases need to know of the deployment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The address people reach Portico at, without a trailing slash; links
    /// in e-mails start with it.
    pub public_url: String,
    /// Messages one person may send in a minute; 0: no limit.
    pub send_limit_per_minute: u32,
    /// N2: seconds an item waits unread before it is notified (0: at once).
    pub notify_delay_secs: u64,
}

/// The application: use cases over one store.
#[derive(Clone, Debug)]
pub struct App {
    pub store: Store,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    /// Woken after a change queued something in the outbox.
    pub outbox_wake: Arc<Notify>,
    /// Woken after something new may need notifying (N2).
    pub notify_wake: Arc<Notify>,
    /// Woken after a deletion queued files' bytes for removal.
    pub file_sweep_wake: Arc<Notify>,
    /// Woken after a change queued webhook deliveries (X3).
    pub webhook_wake: Arc<Notify>,
    pub files: FileStore,
    /// Live events for open pages (M14).
    pub live: Hub,
    /// Sends wait here to be written together (group commit).
    pub sends: crate::store::group_commit::SendQueue,
    /// Counts each person's recent sends (a flood is throttled).
    pub send_limiter: Arc<throttle::SendLimiter>,
    /// Seals secrets at rest and signs anti-forgery tokens.
    pub keys: Arc<crate::keys::Keyring>,
    /// X11: replies by e-mail and text.
    pub channels: Arc<inbound::ChannelSettings>,
    /// X12: Web Push, when the server set it up.
    pub push: Option<Arc<push::PushSetup>>,
    /// Signed-in identities kept between requests, by session hash.
    identities: sessions::IdentityCache,
    /// Practices' messaging rules kept between client sends.
    rules: practice_rules::RulesCache,
    /// N2: the last person the notification run read, when it read a
    /// full page: the next run reads on from there.
    pending_after: Arc<std::sync::Mutex<Option<crate::store::PendingKey>>>,
}

impl App {
    /// The use cases over `store`; the store stamps its rows with `clock`'s
    /// time, the same time the use cases read.
    pub fn new(
        store: Store,
        settings: Settings,
        clock: Clock,
        files: FileStore,
        keys: crate::keys::Keyring,
    ) -> Self {
        let store = store.with_clock(clock.clone());
        Self {
            keys: Arc::new(keys),
            sends: crate::store::group_commit::SendQueue::new(store.clone()),
            store,
            clock,
            send_limiter: Arc::new(throttle::SendLimiter::new(settings.send_limit_per_minute)),
            settings: Arc::new(settings),
            outbox_wake: Arc::new(Notify::new()),
            notify_wake: Arc::new(Notify::new()),
            file_sweep_wake: Arc::new(Notify::new()),
            webhook_wake: Arc::new(Notify::new()),
            files,
            live: Hub::new(),
            channels: Arc::default(),
            push: None,
            identities: sessions::identity_cache(),
            rules: practice_rules::rules_cache(),
            pending_after: Arc::default(),
        }
    }

    /// X11: with the deployment's settings for replies.
    pub fn with_channels(mut self, channels: inbound::ChannelSettings) -> Self {
        self.channels = Arc::new(channels);
        self
    }

    /// The worker that removes deleted files' bytes (the server runs one;
    /// tests run passes of their own).
    pub fn file_sweeper(&self) -> crate::file_sweeper::FileSweeper {
        crate::file_sweeper::FileSweeper::new(
            self.store.clone(),
            self.files.clone(),
            self.clock.clone(),
            self.file_sweep_wake.clone(),
        )
    }

    /// An audit entry (X2) of `kind` by `actor`, now, from the request
    /// `client` came with.
    pub fn audit_entry(
        &self,
        practice: crate::domain::PracticeId,
        actor: impl Into<AuditActor>,
        kind: AuditKind,
        client: &sessions::ClientInfo,
    ) -> NewAudit {
        NewAudit::new(practice, actor.into(), kind, self.clock.now())
            .from(&client.ip, &client.request_id)
    }

    /// A link into Portico for an e-mail.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.settings.public_url)
    }

    /// `portico admin create-practice`: a practice and its first admin.
    pub async fn create_practice_with_admin(
        &self,
        practice_name: &str,
        admin_name: &str,
        admin_email: &str,
        password: SecretString,
    ) -> AppResult<(Practice, Staff)> {
        let practice_name = Name::parse(practice_name)?;
        let admin_name = Name::parse(admin_name)?;
        let email = EmailAddress::parse(admin_email)?;
        let password_hash = password::hash_new_password(
            password,
            &[practice_name.as_str(), admin_name.as_str(), email.as_str()],
        )
        .await?;
        let admin = NewStaff {
            email,
            name: admin_name,
            role: Role::Admin,
            password_hash: Some(password_hash),
        };
        Ok(self
            .store
            .create_practice_with_admin(&practice_name, &admin)
            .await?)
    }

    /// `portico admin reset-password`: sets a staff user's password.
    pub async fn reset_staff_password(
        &self,
        email: &str,
        password: SecretString,
    ) -> AppResult<Staff> {
        let email = EmailAddress::parse(email)?;
        let (staff, _) = self
            .store
            .find_staff_for_sign_in(&email)
            .await?
            .ok_or(AppError::NotFound)?;
        let hash = password::hash_new_password(password, &[&staff.name, &staff.email]).await?;
        self.store
            .set_staff_password(staff.practice_id, staff.id, &hash)
            .await?;
        // A new password ends every session of the old one (their sockets
        // close at the next check of the running servers).
        self.end_sessions_of(
            staff.practice_id,
            crate::store::SessionSubject::Staff(staff.id),
            None,
            None,
        )
        .await?;
        Ok(staff)
    }
}
