//! Plain domain types: validated once at the edge, trusted after. No I/O here.

mod ids;
pub mod paths;
pub mod search;
mod secret;
mod values;
pub mod words;

pub use ids::{
    ChatId, ClientId, ContactId, EntryId, FileId, MessageId, PracticeId, QuestionId, StaffId,
    WebhookId,
};
pub use search::SearchQuery;
pub use secret::{Clock, IssuedSecret, hash_secret, issue_secret};
pub use values::{
    ClientKind, EmailAddress, Name, PhoneNumber, Role, ValidationError, bounded_integer,
    country_name, country_of_time_zone, time_of_day,
};

/// Milliseconds since the Unix epoch, the one timestamp representation the
/// store uses on every backend. It has no `Display`: what a person reads
/// comes from [`crate::local_time`], in their own time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub i64);

impl Millis {
    pub fn now() -> Self {
        Self(jiff::Timestamp::now().as_millisecond())
    }

    pub fn to_timestamp(self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}
