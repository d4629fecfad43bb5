//! The notification e-mail (N2): everything new for one person, grouped
//! by client and by chat or question, each with a link to the exact place.

use super::email::{EmailBrand, EmailContent};
use askama::Template;

/// One chat or question in a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyGroup {
    /// The client it is about ("Your team" for a chat without one).
    pub client: String,
    /// The chat's or question's title.
    pub title: String,
    /// "2 new messages from Sam".
    pub summary: String,
    /// The text itself, only when the practice (or the person) includes
    /// it (S5).
    pub lines: Vec<String>,
    pub link: String,
    /// X7: something in it was marked urgent.
    pub urgent: bool,
    /// X11: the address a reply about it goes to (empty: none).
    pub reply: String,
}

#[derive(Template)]
#[template(path = "email/notification.txt")]
struct NotificationText<'a> {
    recipient_name: &'a str,
    practice_name: &'a str,
    groups: &'a [NotifyGroup],
    more: usize,
    home: &'a str,
    preferences: &'a str,
    unsubscribe: &'a str,
    kind: &'a str,
    signs_in: bool,
}

#[derive(Template)]
#[template(path = "email/notification.html")]
struct NotificationHtml<'a> {
    brand: &'a EmailBrand,
    subject: &'a str,
    recipient_name: &'a str,
    practice_name: &'a str,
    groups: &'a [NotifyGroup],
    more: usize,
    home: &'a str,
    preferences: &'a str,
    unsubscribe: &'a str,
    kind: &'a str,
    signs_in: bool,
}

/// N2: one notification listing `groups` (and `more` not shown), in the
/// practice's look (X15).
#[allow(clippy::too_many_arguments)]
pub fn notification_email(
    brand: &EmailBrand,
    subject: &str,
    recipient_name: &str,
    practice_name: &str,
    groups: &[NotifyGroup],
    more: usize,
    home: &str,
    preferences: &str,
    unsubscribe: &str,
    kind: &str,
    signs_in: bool,
) -> Result<EmailContent, askama::Error> {
    let text = NotificationText {
        recipient_name,
        practice_name,
        groups,
        more,
        home,
        preferences,
        unsubscribe,
        kind,
        signs_in,
    }
    .render()?;
    let html = NotificationHtml {
        brand,
        subject,
        recipient_name,
        practice_name,
        groups,
        more,
        home,
        preferences,
        unsubscribe,
        kind,
        signs_in,
    }
    .render()?;
    Ok(EmailContent {
        subject: subject.to_owned(),
        text,
        html,
    })
}
