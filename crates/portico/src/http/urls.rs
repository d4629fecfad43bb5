//! Where Portico's pages are: the addresses handlers redirect to and build
//! for their pages, made in one place rather than in format strings spread
//! over the handlers. The routes themselves are in [`super::router`].

use super::area::Area;
use crate::domain::{ChatId, ClientId, ContactId, QuestionId};

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
    chat_in(A::MESSAGES, chat)
}

/// A chat under a chat list's address (an area's or a preview's).
pub fn chat_in(chats: &str, chat: ChatId) -> String {
    format!("{chats}/{chat}")
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

/// A client's Questions tab, with what was just done and where on the page
/// (`done=saved#reminders`).
pub fn client_questions_done(client: ClientId, done: &str) -> String {
    format!("/app/clients/{client}/questions?done={done}")
}

/// A question's thread for staff, with what was just done.
pub fn staff_question_done(id: QuestionId, done: &str) -> String {
    format!("/app/questions/{id}?done={done}")
}

/// A client's page in the portal.
pub fn portal_client(client: ClientId) -> String {
    format!("/portal/clients/{client}")
}

/// A client's page in the portal, with what was just done.
pub fn portal_client_done(client: ClientId, done: &str) -> String {
    format!("/portal/clients/{client}?done={done}")
}

/// A question's thread in the portal, with what was just done.
pub fn portal_question_done(id: QuestionId, done: &str) -> String {
    format!("/portal/questions/{id}?done={done}")
}

/// A link's confirmation page posts back to itself.
pub fn portal_reset(token: &str) -> String {
    format!("/portal/reset/{token}")
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
        assert_eq!(chats::<Staff>(), "/app/messages");
    }
}
