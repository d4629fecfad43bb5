//! What every page's frame needs: the anti-forgery token for its forms and
//! who is signed in, for the navigation.

use crate::app::sessions::{Identity, Person};
use crate::domain::{Millis, PracticeId};
use crate::local_time::{Instant, LocalTime, Viewer};
use crate::store::Practice;

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
    /// P7: where the previewed portal's pages are (`/app/preview/<contact>`).
    pub preview_base: Option<String>,
    /// X15: the viewer's time zone and "now", for every time on the page.
    pub time: Viewer,
    /// X15: the practice's brand, when someone of a practice is looking.
    pub brand: Option<Brand>,
}

/// X15: what the page frame shows of a practice's brand.
#[derive(Clone, Debug)]
pub struct Brand {
    pub practice_id: PracticeId,
    pub version: i64,
    pub has_logo: bool,
    pub has_colour: bool,
}

impl Brand {
    pub fn of(practice: &Practice) -> Option<Self> {
        let has_colour = practice.accent_colour.is_some();
        (practice.has_logo || has_colour).then_some(Brand {
            practice_id: practice.id,
            version: practice.brand_version,
            has_logo: practice.has_logo,
            has_colour,
        })
    }

    /// The brand's stylesheet (its accent colour as a custom property).
    pub fn stylesheet(&self) -> String {
        super::urls::brand_stylesheet(self.practice_id, self.version)
    }

    pub fn logo(&self) -> String {
        super::urls::brand_logo(self.practice_id, self.version)
    }
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

    /// A page for someone not signed in that belongs to one practice (a
    /// link from its e-mail): its name and brand in the top bar, times
    /// in its zone.
    pub fn public_of(csrf: &str, practice: &Practice) -> Self {
        Self {
            csrf: csrf.to_owned(),
            practice_name: Some(practice.name.clone()),
            time: Viewer::for_person(None, &practice.time_zone, Millis::now()),
            brand: Brand::of(practice),
            ..Self::default()
        }
    }

    pub fn for_identity(csrf: &str, identity: &Identity) -> Self {
        let (who, area, is_admin, own_zone) = match &identity.person {
            Person::Staff(staff) => (
                staff.name.clone(),
                Area::Staff,
                staff.is_admin(),
                staff.time_zone.as_deref(),
            ),
            Person::Contact(contact) => (
                contact.name.clone(),
                Area::Portal,
                false,
                contact.time_zone.as_deref(),
            ),
        };
        Self {
            csrf: csrf.to_owned(),
            who: Some(who),
            area,
            is_admin,
            practice_name: Some(identity.practice.name.clone()),
            preview: false,
            preview_base: None,
            time: Viewer::for_person(own_zone, &identity.practice.time_zone, Millis::now()),
            brand: Brand::of(&identity.practice),
        }
    }

    /// The frame of a contact's portal as staff preview it (P7), with
    /// times in the contact's zone, as she sees them.
    pub fn preview(csrf: &str, contact: &crate::store::Contact, practice: &Practice) -> Self {
        Self {
            csrf: csrf.to_owned(),
            who: Some(contact.name.clone()),
            area: Area::Portal,
            is_admin: false,
            practice_name: Some(practice.name.clone()),
            preview: true,
            preview_base: Some(super::urls::preview(contact.id)),
            time: Viewer::for_person(
                contact.time_zone.as_deref(),
                &practice.time_zone,
                Millis::now(),
            ),
            brand: Brand::of(practice),
        }
    }

    /// The page as seen at `now` (the application's clock).
    pub fn seen_at(mut self, now: Millis) -> Self {
        self.time = self.time.with_now(now);
        self
    }

    /// A time on the page, in the viewer's zone ("Today 15:06").
    pub fn at(&self, at: impl Instant) -> LocalTime {
        self.time.at(at.millis())
    }

    /// A duration up to now on the page ("3 days ago").
    pub fn ago(&self, at: impl Instant) -> LocalTime {
        self.time.ago(at.millis())
    }

    /// The portal's home: the contact's own, or the previewed one.
    pub fn portal_home(&self) -> &str {
        self.preview_base.as_deref().unwrap_or("/portal")
    }

    pub fn is_staff(&self) -> bool {
        self.area == Area::Staff
    }

    pub fn is_portal(&self) -> bool {
        self.area == Area::Portal
    }
}
