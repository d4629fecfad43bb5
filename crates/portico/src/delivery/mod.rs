//! Delivery: what leaves Portico. E-mail is rendered here, queued in the
//! outbox by the use cases, and sent by the [`worker`] through SMTP or, in
//! the default set-up, written as `.eml` files a newcomer can open.

pub mod email;
pub mod live;
pub mod notify_email;
pub mod push;
pub mod sms;
pub mod webhooks;
pub mod worker;

use crate::store::OutboxItem;
use lettre::message::header::ContentTransferEncoding;
use lettre::message::{Body, Mailbox, MultiPart, SinglePart, header};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

/// Where e-mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// A real SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder, one per message, named by its outbox key.
    Files(PathBuf),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp(_) => f.write_str("Mailer::Smtp"),
            Mailer::Files(dir) => write!(f, "Mailer::Files({})", dir.display()),
        }
    }
}

/// Why a message could not be delivered this time.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The message itself is wrong (a bad address): retrying will not help.
    #[error("the message cannot be sent: {0}")]
    Permanent(String),
    /// The server or the disk failed: try again later.
    #[error("{0}")]
    Transient(String),
}

impl Mailer {
    /// An SMTP mailer from a URL (see the README for the forms).
    pub fn smtp(url: &str) -> Result<Self, String> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map(|builder| {
                Mailer::Smtp(
                    builder
                        .timeout(Some(std::time::Duration::from_secs(20)))
                        .build(),
                )
            })
            .map_err(|e| format!("smtp_url (PORTICO_SMTP_URL) is not usable: {e}"))
    }

    pub async fn send(&self, from: &Mailbox, item: &OutboxItem) -> Result<(), DeliveryError> {
        let message = build_message(from, item)?;
        match self {
            Mailer::Smtp(transport) => transport.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    DeliveryError::Permanent(e.to_string())
                } else {
                    DeliveryError::Transient(e.to_string())
                }
            }),
            Mailer::Files(dir) => write_file(dir, item, &message.formatted()).await,
        }
    }
}

/// An outbox key as part of a file name: letters, digits, `-` and `_` only.
fn safe_key(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn file_name(item: &OutboxItem) -> String {
    format!(
        "{}-{}.eml",
        item.created_at.0,
        safe_key(&item.idempotency_key)
    )
}

/// Writes the message once: the file is named by the outbox key and put in
/// place by a rename, so a second delivery of the same item changes nothing.
async fn write_file(dir: &PathBuf, item: &OutboxItem, bytes: &[u8]) -> Result<(), DeliveryError> {
    let transient = |e: std::io::Error| {
        DeliveryError::Transient(format!("could not write to {}: {e}", dir.display()))
    };
    tokio::fs::create_dir_all(dir).await.map_err(transient)?;
    let path = dir.join(file_name(item));
    if tokio::fs::try_exists(&path).await.map_err(transient)? {
        return Ok(());
    }
    let partial = dir.join(format!(".{}.partial", file_name(item)));
    tokio::fs::write(&partial, bytes).await.map_err(transient)?;
    tokio::fs::rename(&partial, &path)
        .await
        .map_err(transient)?;
    Ok(())
}

/// A body sent as it reads (7bit or 8bit) whenever its lines fit SMTP's
/// limit, so links stay whole in the `.eml` a person opens; otherwise
/// lettre's choice (quoted-printable or base64).
fn readable_body(text: &str) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let fits = crlf.split("\r\n").all(|line| line.len() < 990) && !crlf.contains('\0');
    if !fits {
        return Body::new(text.to_owned());
    }
    let encoding = if crlf.is_ascii() {
        ContentTransferEncoding::SevenBit
    } else {
        ContentTransferEncoding::EightBit
    };
    Body::dangerous_pre_encoded(crlf.into_bytes(), encoding)
}

/// `List-Unsubscribe: <https://…>` (RFC 2369).
#[derive(Clone, Debug)]
struct ListUnsubscribe(String);

impl header::Header for ListUnsubscribe {
    fn name() -> header::HeaderName {
        header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> header::HeaderValue {
        header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Clone, Debug)]
struct ListUnsubscribePost;

impl header::Header for ListUnsubscribePost {
    fn name() -> header::HeaderName {
        header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> header::HeaderValue {
        header::HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

fn build_message(from: &Mailbox, item: &OutboxItem) -> Result<Message, DeliveryError> {
    let to: Mailbox = item.recipient.parse().map_err(|e| {
        DeliveryError::Permanent(format!(
            "the address {:?} is not valid: {e}",
            item.recipient
        ))
    })?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(item.subject.clone())
        // The outbox key makes the Message-ID: should a crash between
        // sending and recording it send a message again, mail systems see
        // the same message, not a new one.
        .message_id(Some(format!(
            "<{}@portico>",
            file_name(item).trim_end_matches(".eml")
        )))
        .header(header::MIME_VERSION_1_0);
    // RFC 8058: one click in the mail program unsubscribes, by a POST.
    let builder = match &item.list_unsubscribe {
        Some(url) => builder
            .header(ListUnsubscribe(format!("<{url}>")))
            .header(ListUnsubscribePost),
        None => builder,
    };
    // X11: a reply goes to the person's address for the conversation.
    let builder = match item.reply_to.as_deref().map(str::parse::<Mailbox>) {
        Some(Ok(reply_to)) => builder.reply_to(reply_to),
        Some(Err(e)) => {
            return Err(DeliveryError::Permanent(format!(
                "the reply address {:?} is not valid: {e}",
                item.reply_to
            )));
        }
        None => builder,
    };
    let text = SinglePart::builder()
        .header(header::ContentType::TEXT_PLAIN)
        .body(readable_body(&item.body_text));
    let result = match &item.body_html {
        Some(html) => builder.multipart(
            MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(header::ContentType::TEXT_HTML)
                    .body(readable_body(html)),
            ),
        ),
        None => builder.singlepart(text),
    };
    result.map_err(|e| DeliveryError::Permanent(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Millis;
    use crate::store::{Channel, OutboxStatus};

    fn item() -> OutboxItem {
        OutboxItem {
            id: "1".into(),
            practice_id: None,
            channel: Channel::Email,
            idempotency_key: "token-abc/../x".into(),
            recipient: "hannah@northwind.example".into(),
            subject: "Hello".into(),
            body_text: "Text part".into(),
            body_html: Some("<p>HTML part</p>".into()),
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: Millis(0),
            last_error: None,
            created_at: Millis(1_700_000_000_000),
            sent_at: None,
            list_unsubscribe: None,
            reply_to: None,
        }
    }

    #[tokio::test]
    async fn a_message_delivered_twice_to_the_folder_is_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::Files(dir.path().to_path_buf());
        let from: Mailbox = "Portico <portico@localhost>".parse().unwrap();
        mailer.send(&from, &item()).await.unwrap();
        // As after a crash between sending and recording it.
        mailer.send(&from, &item()).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
        let name = files[0]
            .as_ref()
            .unwrap()
            .file_name()
            .into_string()
            .unwrap();
        assert_eq!(
            name, "1700000000000-token-abc____x.eml",
            "no path tricks in names"
        );
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(text.contains("Message-ID: <1700000000000-token-abc____x@portico>"));
        assert!(text.contains("Text part"));
    }

    #[tokio::test]
    async fn links_stay_whole_in_the_file_a_person_opens() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::Files(dir.path().to_path_buf());
        let from: Mailbox = "Portico <portico@localhost>".parse().unwrap();
        let link = format!("http://127.0.0.1:8080/portal/invitation/{}", "a".repeat(43));
        let mut message = item();
        message.body_text = format!("Hello Hannah,\n\nActivate my account:\n{link}\n");
        message.body_html = Some(format!("<p><a href=\"{link}\">Activate</a> {link}</p>"));
        mailer.send(&from, &message).await.unwrap();
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(file).unwrap();
        assert_eq!(text.matches(&link).count(), 3, "{text}");
    }

    #[tokio::test]
    async fn a_bad_address_is_a_permanent_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::Files(dir.path().to_path_buf());
        let from: Mailbox = "Portico <portico@localhost>".parse().unwrap();
        let mut bad = item();
        bad.recipient = "not an address".into();
        assert!(matches!(
            mailer.send(&from, &bad).await,
            Err(DeliveryError::Permanent(_))
        ));
    }
}
