//! Use cases: what a person or an operator asks Portico to do. Authorization
//! happens here, once, through [`policy`]; the layers below trust it.

pub mod access;
pub mod chat_room;
pub mod chats;
pub mod demo;
pub mod password;
pub mod people;
pub mod policy;
pub mod questions;
pub mod reminders;
pub mod sessions;
pub mod sign_in;
pub mod throttle;
pub mod two_factor;

use crate::delivery::live::Hub;
use crate::domain::{Clock, EmailAddress, Name, Role, ValidationError};
use crate::files::{FileError, FileStore};
use crate::store::{NewStaff, Practice, Staff, Store, StoreError};
use password::PasswordError;
use secrecy::SecretString;
use std::sync::Arc;
use tokio::sync::Notify;

/// Why a use case did not happen, in terms the edges map to a status and a
/// sentence.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
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
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    File(#[from] FileError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(message) => AppError::Conflict(message),
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
}

/// The application: use cases over one store.
#[derive(Clone, Debug)]
pub struct App {
    pub store: Store,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    /// Woken after a change queued something in the outbox.
    pub outbox_wake: Arc<Notify>,
    pub files: FileStore,
    /// Live events for open pages (M14).
    pub live: Hub,
    /// Sends wait here to be written together (group commit).
    pub sends: crate::store::group_commit::SendQueue,
    /// Counts each person's recent sends (a flood is throttled).
    pub send_limiter: Arc<throttle::SendLimiter>,
}

impl App {
    pub fn new(store: Store, settings: Settings, clock: Clock, files: FileStore) -> Self {
        Self {
            sends: crate::store::group_commit::SendQueue::new(store.clone()),
            store,
            clock,
            send_limiter: Arc::new(throttle::SendLimiter::new(settings.send_limit_per_minute)),
            settings: Arc::new(settings),
            outbox_wake: Arc::new(Notify::new()),
            files,
            live: Hub::new(),
        }
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
        let password_hash = password::hash_password(password).await?;
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
        let hash = password::hash_password(password).await?;
        self.store
            .set_staff_password(staff.practice_id, staff.id, &hash)
            .await?;
        Ok(staff)
    }
}
