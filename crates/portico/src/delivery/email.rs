//! The e-mails Portico writes: subject, a plain-text part and an HTML part,
//! both from templates.

use askama::Template;

/// A rendered e-mail, ready for the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailContent {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "email/access.txt")]
struct AccessText<'a> {
    recipient_name: &'a str,
    practice_name: &'a str,
    intro: &'a str,
    action: &'a str,
    link: &'a str,
    valid_for: &'a str,
}

#[derive(Template)]
#[template(path = "email/access.html")]
struct AccessHtml<'a> {
    subject: &'a str,
    recipient_name: &'a str,
    practice_name: &'a str,
    intro: &'a str,
    action: &'a str,
    link: &'a str,
    valid_for: &'a str,
}

/// Which access e-mail to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessEmail {
    Invitation,
    SignInLink,
    PasswordReset,
    /// P1: a new team member chooses their password.
    TeamInvitation,
    /// P1: a team invitation to an address that is already staff of another
    /// practice (one address, one practice: decision 0002). The link is the
    /// staff sign-in page; nothing expires.
    TeamAccountElsewhere,
}

/// An e-mail carrying a single-use link: an invitation (A4), a sign-in link
/// (A2) or a password reset (A3).
pub fn access_email(
    kind: AccessEmail,
    recipient_name: &str,
    practice_name: &str,
    link: &str,
    valid_for: &str,
) -> Result<EmailContent, askama::Error> {
    let (subject, intro, action) = match kind {
        AccessEmail::Invitation => (
            format!("{practice_name} invites you to their client portal"),
            format!(
                "{practice_name} uses Portico to share questions, messages and documents with you securely. \
                 Activate your account to get started; you will not need a password."
            ),
            "Activate my account",
        ),
        AccessEmail::SignInLink => (
            format!("Your sign-in link for {practice_name}"),
            format!(
                "Here is the link you asked for to sign in to {practice_name}'s client portal."
            ),
            "Sign in",
        ),
        AccessEmail::PasswordReset => (
            format!("Set your password for {practice_name}"),
            format!(
                "Someone (hopefully you, or your adviser at {practice_name}) asked to set a password \
                 for your client portal account."
            ),
            "Choose a password",
        ),
        AccessEmail::TeamInvitation => (
            format!("Join {practice_name} on Portico"),
            format!(
                "{practice_name} added you to their team on Portico, their secure client portal. \
                 Choose a password to sign in."
            ),
            "Choose my password",
        ),
        AccessEmail::TeamAccountElsewhere => (
            format!("{practice_name} tried to add you on Portico"),
            format!(
                "{practice_name} tried to add this e-mail address to their team on Portico, but the address \
                 already has a Portico staff account with another practice, and one address can belong to one \
                 practice's team. Nothing has changed in your account. If you also work with {practice_name}, \
                 ask them to invite you with another e-mail address; if you did not expect this, you can \
                 ignore it."
            ),
            "Sign in to your account",
        ),
    };
    let text = AccessText {
        recipient_name,
        practice_name,
        intro: &intro,
        action,
        link,
        valid_for,
    }
    .render()?;
    let html = AccessHtml {
        subject: &subject,
        recipient_name,
        practice_name,
        intro: &intro,
        action,
        link,
        valid_for,
    }
    .render()?;
    Ok(EmailContent {
        subject,
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_has_both_parts_with_the_link() {
        let mail = access_email(
            AccessEmail::Invitation,
            "Hannah <Brooks>",
            "Harbour & Vale",
            "https://portal.example.com/portal/invitation/abc",
            "7 days",
        )
        .unwrap();
        assert_eq!(
            mail.subject,
            "Harbour & Vale invites you to their client portal"
        );
        assert!(mail.text.contains("Hello Hannah <Brooks>,"));
        assert!(
            mail.text
                .contains("https://portal.example.com/portal/invitation/abc")
        );
        assert!(mail.text.contains("expires in 7 days"));
        assert!(
            mail.html.contains("Hello Hannah &#60;Brooks&#62;,")
                || mail.html.contains("Hello Hannah &lt;Brooks&gt;,")
        );
        assert!(
            mail.html
                .contains("href=\"https://portal.example.com/portal/invitation/abc\"")
        );
    }
}

#[derive(Template)]
#[template(path = "email/message.txt")]
struct MessageText<'a> {
    recipient_name: &'a str,
    sender_name: &'a str,
    practice_name: &'a str,
    body: &'a str,
    portal_link: &'a str,
}

#[derive(Template)]
#[template(path = "email/message.html")]
struct MessageHtml<'a> {
    subject: &'a str,
    recipient_name: &'a str,
    sender_name: &'a str,
    practice_name: &'a str,
    body: &'a str,
    portal_link: &'a str,
}

/// P8: a message a staff user writes to a contact ("Send to").
pub fn message_email(
    subject: &str,
    recipient_name: &str,
    sender_name: &str,
    practice_name: &str,
    body: &str,
    portal_link: &str,
) -> Result<EmailContent, askama::Error> {
    let text = MessageText {
        recipient_name,
        sender_name,
        practice_name,
        body,
        portal_link,
    }
    .render()?;
    let html = MessageHtml {
        subject,
        recipient_name,
        sender_name,
        practice_name,
        body,
        portal_link,
    }
    .render()?;
    Ok(EmailContent {
        subject: subject.to_owned(),
        text,
        html,
    })
}

#[derive(Template)]
#[template(path = "email/reminder.txt")]
struct ReminderText<'a> {
    recipient_name: &'a str,
    practice_name: &'a str,
    client_name: &'a str,
    titles: &'a [String],
    more: usize,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/reminder.html")]
struct ReminderHtml<'a> {
    subject: &'a str,
    recipient_name: &'a str,
    practice_name: &'a str,
    client_name: &'a str,
    titles: &'a [String],
    more: usize,
    link: &'a str,
}

/// Q5: a reminder listing a contact's outstanding questions (at most 20
/// by name).
pub fn reminder_email(
    recipient_name: &str,
    practice_name: &str,
    client_name: &str,
    titles: &[String],
    link: &str,
) -> Result<EmailContent, askama::Error> {
    let shown = &titles[..titles.len().min(20)];
    let more = titles.len() - shown.len();
    let subject = if titles.len() == 1 {
        format!("{practice_name} is waiting for 1 answer from you")
    } else {
        format!(
            "{practice_name} is waiting for {} answers from you",
            titles.len()
        )
    };
    let text = ReminderText {
        recipient_name,
        practice_name,
        client_name,
        titles: shown,
        more,
        link,
    }
    .render()?;
    let html = ReminderHtml {
        subject: &subject,
        recipient_name,
        practice_name,
        client_name,
        titles: shown,
        more,
        link,
    }
    .render()?;
    Ok(EmailContent {
        subject,
        text,
        html,
    })
}
