//! What the spans of use cases record: ids only, never a name, an e-mail
//! address, a phone number, a text, a password, a secret or a token.
//!
//! Each use case that answers a request opens a span inside the request's
//! one, its arguments listed one by one, e.g.
//! `#[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]`.
//! Every line logged in it names them, and at `debug` its close gives the
//! time spent in it (`telemetry.rs`): where a slow request's time went.

use super::questions::Actor;
use super::sessions::{Identity, Person};
use crate::store::{Contact, Member, Staff};
use std::fmt;
use tracing::field::DisplayValue;

/// The person acting, or a member named by a use case, as a span records
/// it: `staff:<id>` or `contact:<id>`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Who(Member);

/// The person acting (`by = %person(actor)`), or a member named.
pub(crate) fn person(who: impl Into<Who>) -> Who {
    who.into()
}

/// An id a use case may be given or not: recorded only when given.
pub(crate) fn maybe<T: fmt::Display>(id: Option<T>) -> Option<DisplayValue<T>> {
    id.map(tracing::field::display)
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Member::Staff(id) => write!(f, "staff:{id}"),
            Member::Contact(id) => write!(f, "contact:{id}"),
        }
    }
}

impl From<Member> for Who {
    fn from(member: Member) -> Self {
        Who(member)
    }
}

impl From<&Staff> for Who {
    fn from(staff: &Staff) -> Self {
        Who(Member::Staff(staff.id))
    }
}

impl From<&Contact> for Who {
    fn from(contact: &Contact) -> Self {
        Who(Member::Contact(contact.id))
    }
}

impl From<Actor<'_>> for Who {
    fn from(actor: Actor<'_>) -> Self {
        Who(actor.member())
    }
}

impl From<&Identity> for Who {
    fn from(identity: &Identity) -> Self {
        match &identity.person {
            Person::Staff(staff) => staff.into(),
            Person::Contact(contact) => contact.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Who;
    use crate::domain::{ContactId, StaffId};
    use crate::store::Member;

    #[test]
    fn a_span_names_a_member_by_kind_and_id() {
        let staff = StaffId::new();
        let contact = ContactId::new();
        assert_eq!(
            Who::from(Member::Staff(staff)).to_string(),
            format!("staff:{staff}")
        );
        assert_eq!(
            Who::from(Member::Contact(contact)).to_string(),
            format!("contact:{contact}")
        );
    }
}
