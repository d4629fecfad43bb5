//! The two areas of the site a signed-in person works in: the practice's
//! (`/app`, [`Staff`]) and the client portal (`/portal`, [`Portal`]).
//!
//! A page both have is one handler generic over [`Area`], registered once
//! for each: the area says who may ask (its user extractor), who that is to
//! the use cases (an [`Actor`]) and where its pages are. See
//! `docs/decisions/0006-one-web-layer.md`.

use super::AppState;
use super::errors::PageError;
use super::layout::Layout;
use super::session::{ContactUser, StaffUser};
use crate::app::questions::Actor;
use crate::app::sessions::Identity;
use crate::domain::paths;
use axum::extract::FromRequestParts;

/// An area of the site for signed-in people.
pub trait Area: Send + Sync + 'static {
    /// The signed-in person the area's pages are for; asking without being
    /// one is refused by the extractor (to the area's sign-in page).
    type User: FromRequestParts<AppState, Rejection = PageError> + Send + Sync;

    /// Where the area's pages are: `/app` or `/portal`.
    const BASE: &'static str;

    /// Where the area's chats are: `/app/messages` or `/portal/messages`.
    const MESSAGES: &'static str;

    /// Where someone not signed in is sent: `/app/sign-in` or
    /// `/portal/sign-in`.
    const SIGN_IN: &'static str;

    /// Who the person is to the use cases.
    fn actor(user: &Self::User) -> Actor<'_>;

    /// The person's session and practice.
    fn identity(user: &Self::User) -> &Identity;

    /// The frame of the person's pages.
    fn layout(user: &Self::User) -> &Layout;
}

/// The practice's team, at `/app`.
pub struct Staff;

/// A client's contacts, at `/portal`.
pub struct Portal;

impl Area for Staff {
    type User = StaffUser;
    const BASE: &'static str = paths::STAFF;
    const MESSAGES: &'static str = "/app/messages";
    const SIGN_IN: &'static str = "/app/sign-in";

    fn actor(user: &StaffUser) -> Actor<'_> {
        Actor::Staff(&user.staff)
    }

    fn identity(user: &StaffUser) -> &Identity {
        &user.identity
    }

    fn layout(user: &StaffUser) -> &Layout {
        &user.layout
    }
}

impl Area for Portal {
    type User = ContactUser;
    const BASE: &'static str = paths::PORTAL;
    const MESSAGES: &'static str = "/portal/messages";
    const SIGN_IN: &'static str = "/portal/sign-in";

    fn actor(user: &ContactUser) -> Actor<'_> {
        Actor::Contact(&user.contact)
    }

    fn identity(user: &ContactUser) -> &Identity {
        &user.identity
    }

    fn layout(user: &ContactUser) -> &Layout {
        &user.layout
    }
}
