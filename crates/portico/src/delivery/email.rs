//! The e-mails Portico writes: subject, a plain-text part and an HTML part,
//! both from templates.

use askama::Template;

/// X15: the practice's look in its e-mails: its name (also the From name),
/// its accent colour for the button and its logo, by absolute address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailBrand {
    pub name: String,
    /// A validated `#rrggbb`.
    pub accent: String,
    pub logo_url: Option<String>,
}

impl EmailBrand {
    pub fn of(practice: &crate::store::Practice, public_url: &str) -> Self {
        Self::from_parts(
            practice.id,
            &practice.name,
            &crate::store::BrandParts {
                accent_colour: practice.accent_colour.clone(),
                has_logo: practice.has_logo,
                brand_version: practice.brand_version,
            },
            public_url,
        )
    }

    /// The brand from what a query read of the practice (the notification
    /// job reads it with each recipient, not practice by practice).
    pub fn from_parts(
        id: crate::domain::PracticeId,
        name: &str,
        parts: &crate::store::BrandParts,
        public_url: &str,
    ) -> Self {
        let accent = parts
            .accent_colour
            .as_deref()
            .and_then(|c| crate::app::branding::AccentColour::parse(c).ok())
            .map_or_else(|| "#1f5f8b".to_owned(), |c| c.as_str().to_owned());
        EmailBrand {
            name: name.to_owned(),
            accent,
            logo_url: parts.has_logo.then(|| {
                format!(
                    "{}/brand/{}/logo?v={}",
                    public_url.trim_end_matches('/'),
                    id,
                    parts.brand_version
                )
            }),
        }
    }

    /// Portico's own look, for a practice known only by name.
    pub fn plain(name: &str) -> Self {
        EmailBrand {
            name: name.to_owned(),
            accent: "#1f5f8b".to_owned(),
            logo_url: None,
        }
    }
}

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
    brand: &'a EmailBrand,
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
///
/// `valid_for` reads after "expires in" ("7 days (Tuesday 9 December 2025,
/// 15:06 AEDT)", the end in the recipient's time zone).
pub fn access_email(
    kind: AccessEmail,
    recipient_name: &str,
    brand: &EmailBrand,
    link: &str,
    valid_for: &str,
) -> Result<EmailContent, askama::Error> {
    let practice_name = brand.name.as_str();
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
        brand,
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
            &EmailBrand::plain("Harbour & Vale"),
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
    brand: &'a EmailBrand,
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
    brand: &EmailBrand,
    body: &str,
    portal_link: &str,
) -> Result<EmailContent, askama::Error> {
    let practice_name = brand.name.as_str();
    let text = MessageText {
        recipient_name,
        sender_name,
        practice_name,
        body,
        portal_link,
    }
    .render()?;
    let html = MessageHtml {
        brand,
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
    until: &'a str,
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
    brand: &'a EmailBrand,
    subject: &'a str,
    recipient_name: &'a str,
    practice_name: &'a str,
    client_name: &'a str,
    titles: &'a [String],
    more: usize,
    link: &'a str,
    until: &'a str,
}

/// Q5: a reminder listing a contact's outstanding questions (at most 20
/// by name). `until`: when the link stops working, in the recipient's zone.
pub fn reminder_email(
    recipient_name: &str,
    brand: &EmailBrand,
    client_name: &str,
    titles: &[String],
    link: &str,
    until: &str,
) -> Result<EmailContent, askama::Error> {
    let practice_name = brand.name.as_str();
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
        until,
        recipient_name,
        practice_name,
        client_name,
        titles: shown,
        more,
        link,
    }
    .render()?;
    let html = ReminderHtml {
        brand,
        subject: &subject,
        recipient_name,
        practice_name,
        client_name,
        titles: shown,
        more,
        link,
        until,
    }
    .render()?;
    Ok(EmailContent {
        subject,
        text,
        html,
    })
}
