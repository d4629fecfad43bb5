//! Text messages (P8): through an SMS provider's HTTP API in the shape the
//! common providers share (a form POST of `To`, `From` and `Body`, with the
//! account and token as HTTP Basic credentials), or, in the default set-up,
//! as files in `<data_dir>/outbox/sms/`.

use super::DeliveryError;
use crate::store::OutboxItem;
use secrecy::{ExposeSecret, SecretString};
use std::path::{Path, PathBuf};

/// Where text messages go.
#[derive(Clone)]
pub enum SmsSender {
    Http {
        client: reqwest::Client,
        url: String,
        account: String,
        token: SecretString,
        from: String,
    },
    Files(PathBuf),
}

impl std::fmt::Debug for SmsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmsSender::Http { url, .. } => write!(f, "SmsSender::Http({url})"),
            SmsSender::Files(dir) => write!(f, "SmsSender::Files({})", dir.display()),
        }
    }
}

impl SmsSender {
    pub fn http(
        url: String,
        account: String,
        token: SecretString,
        from: String,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| format!("could not prepare the SMS client: {e}"))?;
        Ok(SmsSender::Http {
            client,
            url,
            account,
            token,
            from,
        })
    }

    pub async fn send(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        match self {
            SmsSender::Files(dir) => write_file(dir, item).await,
            SmsSender::Http {
                client,
                url,
                account,
                token,
                from,
            } => {
                let response = client
                    .post(url)
                    .basic_auth(account, Some(token.expose_secret()))
                    // The outbox key lets a provider that honours it drop a
                    // repeat after a crash between sending and recording.
                    .header("Idempotency-Key", &item.idempotency_key)
                    .form(&[
                        ("To", item.recipient.as_str()),
                        ("From", from),
                        ("Body", &item.body_text),
                    ])
                    .send()
                    .await
                    .map_err(|e| {
                        DeliveryError::Transient(format!("the SMS provider did not answer: {e}"))
                    })?;
                let status = response.status();
                if status.is_success() {
                    Ok(())
                } else if status.is_client_error() && status.as_u16() != 429 {
                    Err(DeliveryError::Permanent(format!(
                        "the SMS provider refused the message ({status})"
                    )))
                } else {
                    Err(DeliveryError::Transient(format!(
                        "the SMS provider answered {status}"
                    )))
                }
            }
        }
    }
}

/// One file per message, named by its outbox key, written once.
async fn write_file(dir: &Path, item: &OutboxItem) -> Result<(), DeliveryError> {
    let transient = |e: std::io::Error| {
        DeliveryError::Transient(format!("could not write to {}: {e}", dir.display()))
    };
    tokio::fs::create_dir_all(dir).await.map_err(transient)?;
    let name = format!(
        "{}-{}.txt",
        item.created_at.0,
        super::safe_key(&item.idempotency_key)
    );
    let path = dir.join(&name);
    if tokio::fs::try_exists(&path).await.map_err(transient)? {
        return Ok(());
    }
    let partial = dir.join(format!(".{name}.partial"));
    let text = format!("To: {}\n\n{}\n", item.recipient, item.body_text);
    tokio::fs::write(&partial, text).await.map_err(transient)?;
    tokio::fs::rename(&partial, &path)
        .await
        .map_err(transient)?;
    Ok(())
}
