//! Where Portico's pages are, for the links the use cases give (in e-mails,
//! pushes and the home page) as much as for the web layer, whose
//! `http::urls` builds on these: each address is written in one place.
//! The routes themselves are in `http::router`.

use super::{ChatId, ClientId, QuestionId};

/// The practice's team's area.
pub const STAFF: &str = "/app";

/// The client portal.
pub const PORTAL: &str = "/portal";

/// The area of a team member (`staff`) or of a contact.
pub fn area(staff: bool) -> &'static str {
    if staff { STAFF } else { PORTAL }
}

/// A chat in an area.
pub fn chat(area: &str, chat: ChatId) -> String {
    format!("{area}/messages/{chat}")
}

/// A question's thread in an area.
pub fn question(area: &str, id: QuestionId) -> String {
    format!("{area}/questions/{id}")
}

/// A client's page in an area: its overview for staff, its page in the
/// portal.
pub fn client(area: &str, client: ClientId) -> String {
    format!("{area}/clients/{client}")
}

/// A person's notification preferences in an area (N1, N2).
pub fn notification_preferences(area: &str) -> String {
    format!("{area}/account/notifications")
}

/// A staff alert's chat, opened (and joined) from the alert.
pub fn alert_chat(chat: ChatId) -> String {
    format!("/app/alerts/chat/{chat}")
}

/// Where an invited team member chooses a password.
pub fn staff_welcome(token: &str) -> String {
    format!("/app/welcome/{token}")
}

/// A contact's sign-in link, with where it lands (N2).
pub fn portal_link(token: &str, next: Option<&str>) -> String {
    match next {
        Some(next) => format!("/portal/link/{token}?next={next}"),
        None => format!("/portal/link/{token}"),
    }
}

/// A contact's invitation.
pub fn portal_invitation(token: &str) -> String {
    format!("/portal/invitation/{token}")
}

/// A contact's link to choose a new password.
pub fn portal_reset(token: &str) -> String {
    format!("/portal/reset/{token}")
}

/// One-click unsubscribe from a kind of e-mail (RFC 8058).
pub fn unsubscribe(token: &str) -> String {
    format!("/notifications/unsubscribe/{token}")
}

/// Where a push notification's click lands first (X12).
pub fn push_open(token: &str) -> String {
    format!("/push/open/{token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_give_their_own_addresses() {
        let chat_id = ChatId::new();
        assert_eq!(
            chat(area(true), chat_id),
            format!("/app/messages/{chat_id}")
        );
        let id = QuestionId::new();
        assert_eq!(question(PORTAL, id), format!("/portal/questions/{id}"));
        assert_eq!(
            portal_link("t", Some("/portal/x")),
            "/portal/link/t?next=/portal/x"
        );
        assert_eq!(
            notification_preferences(STAFF),
            "/app/account/notifications"
        );
    }
}
