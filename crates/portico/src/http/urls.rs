//! Where Portico's pages are: the addresses handlers redirect to and build
//! for their pages, made in one place rather than in format strings spread
//! over the handlers. Those the use cases give too (in e-mails and pushes)
//! are [`crate::domain::paths`], which the area's functions here build on.
//! The routes themselves are in [`super::router`].

use super::area::Area;
use crate::domain::{
    ChatId, ClientId, ContactId, FileId, PracticeId, QuestionId, WebhookId, paths,
};

pub use paths::{
    alert_chat, portal_invitation, portal_link, portal_reset, staff_welcome, unsubscribe,
};

/// Where a team member types the code of her second factor.
pub const TWO_FACTOR_CODE: &str = "/app/sign-in/code";

/// Where a team member sets up two-factor sign-in (and must, before going
/// on, where her practice requires it).
pub const TWO_FACTOR: &str = "/app/two-factor";

/// An area's home: `/app` or `/portal`.
pub fn home<A: Area>() -> &'static str {
    A::BASE
}

/// An area's chat list: `/app/messages` or `/portal/messages`.
pub fn chats<A: Area>() -> &'static str {
    A::MESSAGES
}

/// A chat in an area.
pub fn chat<A: Area>(chat: ChatId) -> String {
    paths::chat(A::BASE, chat)
}

/// A chat under a chat list's address (an area's or a preview's).
pub fn chat_in(chats: &str, chat: ChatId) -> String {
    format!("{chats}/{chat}")
}

/// An area's search page.
pub fn search<A: Area>() -> String {
    format!("{}/search", A::BASE)
}

/// A client's page in an area: its overview for staff, its page in the
/// portal.
pub fn client<A: Area>(client: ClientId) -> String {
    paths::client(A::BASE, client)
}

/// A client's page in an area, with what was just done (`?done=saved`).
pub fn client_done<A: Area>(client: ClientId, done: &str) -> String {
    format!("{}?done={done}", self::client::<A>(client))
}

/// A question's thread in an area.
pub fn question<A: Area>(id: QuestionId) -> String {
    paths::question(A::BASE, id)
}

/// A question's thread in an area, with what was just done.
pub fn question_done<A: Area>(id: QuestionId, done: &str) -> String {
    format!("{}?done={done}", question::<A>(id))
}

/// An area's account page.
pub fn account<A: Area>() -> String {
    format!("{}/account", A::BASE)
}

/// An area's account page, with what was just done (`?done=saved`).
pub fn account_done<A: Area>(done: &str) -> String {
    format!("{}/account?done={done}", A::BASE)
}

/// Where an area's account form for the time zone posts.
pub fn account_time_zone<A: Area>() -> String {
    format!("{}/account/time-zone", A::BASE)
}

/// Where an area's "sign out everywhere else" posts.
pub fn account_sign_out_others<A: Area>() -> String {
    format!("{}/account/sign-out-others", A::BASE)
}

/// A person's messaging preferences (S1, S2).
pub fn account_messaging<A: Area>() -> String {
    format!("{}/account/messaging", A::BASE)
}

/// A person's messaging preferences, with what was just done.
pub fn account_messaging_done<A: Area>(done: &str) -> String {
    format!("{}/account/messaging?done={done}", A::BASE)
}

/// A person's notification preferences (N1, N2).
pub fn account_notifications<A: Area>() -> String {
    paths::notification_preferences(A::BASE)
}

/// A person's notification preferences, with what was just done.
pub fn account_notifications_done<A: Area>(done: &str) -> String {
    format!("{}?done={done}", account_notifications::<A>())
}

/// Where a person's push devices are added (X12).
pub fn account_push_devices<A: Area>() -> String {
    format!("{}/account/push-devices", A::BASE)
}

/// P7: a contact's portal as staff preview it.
pub fn preview(contact: ContactId) -> String {
    format!("/app/preview/{contact}")
}

/// P7: a previewed contact's chat list.
pub fn preview_chats(contact: ContactId) -> String {
    format!("/app/preview/{contact}/messages")
}

/// P7: one client of a previewed contact.
pub fn preview_client(contact: ContactId, client: ClientId) -> String {
    format!("/app/preview/{contact}/clients/{client}")
}

/// A client's contacts, for staff.
pub fn client_contacts(client: ClientId) -> String {
    format!("/app/clients/{client}/contacts")
}

/// A client's contacts, with what was just done.
pub fn client_contacts_done(client: ClientId, done: &str) -> String {
    format!("/app/clients/{client}/contacts?done={done}")
}

/// A client's Data tab, with what was just done.
pub fn client_data_done(client: ClientId, done: &str) -> String {
    format!("/app/clients/{client}/data?done={done}")
}

/// A client's "Send a message" page, with what was just done.
pub fn client_send_done(client: ClientId, done: &str) -> String {
    format!("/app/clients/{client}/send?done={done}")
}

/// A client's Questions tab, with what was just done and where on the page
/// (`done=saved#reminders`).
pub fn client_questions_done(client: ClientId, done: &str) -> String {
    format!("/app/clients/{client}/questions?done={done}")
}

/// A contact's details, for staff.
pub fn contact_edit(contact: ContactId) -> String {
    format!("/app/contacts/{contact}/edit")
}

/// Settings → Contacts, saying which access was just given.
pub fn all_contacts_given(contact: ContactId, client: ClientId) -> String {
    format!("/app/settings/contacts?given={contact}:{client}")
}

/// Settings → Contacts, saying which access was just removed.
pub fn all_contacts_removed(contact: ContactId, client: ClientId) -> String {
    format!("/app/settings/contacts?removed={contact}:{client}")
}

/// X3: an endpoint of Settings → Integrations.
pub fn integration(id: WebhookId) -> String {
    format!("/app/settings/integrations/{id}")
}

/// X3: an endpoint of Settings → Integrations, with what was just done.
pub fn integration_done(id: WebhookId, done: &str) -> String {
    format!("/app/settings/integrations/{id}?done={done}")
}

/// X11: the held e-mails, with what was just done.
pub fn held_emails_done(done: &str) -> String {
    format!("/app/settings/held-emails?done={done}")
}

/// A stored file (its download, for whoever may see it).
pub fn file(id: FileId) -> String {
    format!("/files/{id}")
}

/// X15: a practice's brand stylesheet (its accent colour), by version so
/// that a change is fetched at once.
pub fn brand_stylesheet(practice: PracticeId, version: i64) -> String {
    format!("/brand/{practice}/style.css?v={version}")
}

/// X15: a practice's logo, by version.
pub fn brand_logo(practice: PracticeId, version: i64) -> String {
    format!("/brand/{practice}/logo?v={version}")
}

/// The portal's overview of every client a contact reaches.
pub fn portal_overview() -> &'static str {
    "/portal/overview"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::area::{Portal, Staff};

    #[test]
    fn areas_have_their_own_addresses() {
        let chat = ChatId::new();
        assert_eq!(super::chat::<Staff>(chat), format!("/app/messages/{chat}"));
        assert_eq!(
            super::chat::<Portal>(chat),
            format!("/portal/messages/{chat}")
        );
        assert_eq!(
            account_done::<Portal>("saved"),
            "/portal/account?done=saved"
        );
        assert_eq!(account_time_zone::<Staff>(), "/app/account/time-zone");
        assert_eq!(
            account_sign_out_others::<Portal>(),
            "/portal/account/sign-out-others"
        );
        assert_eq!(home::<Portal>(), "/portal");
        let question = QuestionId::new();
        assert_eq!(
            question_done::<Staff>(question, "resolved"),
            format!("/app/questions/{question}?done=resolved")
        );
        let client = ClientId::new();
        assert_eq!(
            super::client::<Portal>(client),
            format!("/portal/clients/{client}")
        );
        assert_eq!(
            account_notifications_done::<Staff>("saved"),
            "/app/account/notifications?done=saved"
        );
        assert_eq!(search::<Portal>(), "/portal/search");
        assert_eq!(chats::<Staff>(), "/app/messages");
    }
}
