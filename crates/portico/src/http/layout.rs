//! What every page's frame needs: the anti-forgery token for its forms and
//! who is signed in, for the navigation.

use crate::app::sessions::{Identity, Person};

#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub csrf: String,
    /// The signed-in person's name, for the top bar.
    pub who: Option<String>,
    pub area: Area,
    pub is_admin: bool,
    pub practice_name: Option<String>,
    /// P7: staff looking at a contact's portal; nothing in it may change.
    pub preview: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Area {
    #[default]
    Public,
    Staff,
    Portal,
}

impl Layout {
    pub fn anonymous() -> Self {
        Self::default()
    }

    pub fn public(csrf: &str) -> Self {
        Self {
            csrf: csrf.to_owned(),
            ..Self::default()
        }
    }

    pub fn for_identity(csrf: &str, identity: &Identity) -> Self {
        let (who, area, is_admin) = match &identity.person {
            Person::Staff(staff) => (staff.name.clone(), Area::Staff, staff.is_admin()),
            Person::Contact(contact) => (contact.name.clone(), Area::Portal, false),
        };
        Self {
            csrf: csrf.to_owned(),
            who: Some(who),
            area,
            is_admin,
            practice_name: Some(identity.practice.name.clone()),
            preview: false,
        }
    }

    /// The frame of a contact's portal as staff preview it (P7).
    pub fn preview(csrf: &str, contact_name: &str, practice_name: &str) -> Self {
        Self {
            csrf: csrf.to_owned(),
            who: Some(contact_name.to_owned()),
            area: Area::Portal,
            is_admin: false,
            practice_name: Some(practice_name.to_owned()),
            preview: true,
        }
    }

    pub fn is_staff(&self) -> bool {
        self.area == Area::Staff
    }

    pub fn is_portal(&self) -> bool {
        self.area == Area::Portal
    }
}
