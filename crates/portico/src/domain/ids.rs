//! Typed, opaque identifiers. Every id that appears in a URL is a UUIDv7
//! rendered as text; the types keep a `ClientId` from being passed where a
//! `ContactId` is expected.

use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

id_type!(
    /// A practice: one tenant.
    PracticeId,
    /// A person of a practice.
    StaffId,
    /// A client record (a business, a person or a matter).
    ClientId,
    /// A person who signs in to the client portal.
    ContactId,
    /// Something the practice needs a client to answer.
    QuestionId,
    /// One entry of a question's thread.
    EntryId,
    /// A file kept for a practice.
    FileId,
    /// A conversation.
    ChatId,
    /// One message of a chat.
    MessageId,
    /// An address a practice's events are posted to (X3).
    WebhookId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = ClientId::new();
        let parsed: ClientId = id.to_string().parse().unwrap_or_default();
        assert_eq!(id, parsed);
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = StaffId::new();
        let b = StaffId::new();
        assert!(a < b);
    }

    #[test]
    fn garbage_is_not_an_id() {
        assert!("1".parse::<ContactId>().is_err());
        assert!("../etc/passwd".parse::<ContactId>().is_err());
    }
}
