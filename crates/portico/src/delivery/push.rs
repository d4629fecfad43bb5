//! Web Push (X12): a notification to one browser, encrypted for it per
//! RFC 8291 (`aes128gcm`, RFC 8188) and signed for the push service with
//! the server's VAPID key (RFC 8292), sent with the project's HTTP client.
//!
//! The VAPID key is a P-256 private key, from the configuration
//! (`vapid_private_key`) or generated into `<data_dir>/vapid.key` on first
//! start. Browsers tie their subscriptions to its public key, so every
//! instance on one database needs the same key, and replacing it means
//! every device subscribes again.

use super::DeliveryError;
use crate::domain::Clock;
use crate::keys::{KeyError, SecretKey};
use crate::store::{OutboxItem, Store};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;
use std::sync::Arc;

/// The file a generated VAPID key is kept in, under the data folder.
pub const VAPID_KEY_FILE: &str = "vapid.key";
/// How long a push service keeps a notification for a device that is off.
const TTL_SECS: u64 = 24 * 3600;
/// How long a VAPID signature is good for (RFC 8292: at most a day).
const VAPID_VALID_SECS: i64 = 12 * 3600;

/// The server's VAPID key pair.
#[derive(Clone)]
pub struct VapidKey {
    signing: SigningKey,
    /// The public key as browsers take it (`applicationServerKey`):
    /// base64url of the uncompressed point.
    public: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl VapidKey {
    fn from_secret(key: &SecretKey) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(key.to_base64().expose_secret())
            .map_err(|_| KeyError::Malformed)?;
        let signing = SigningKey::from_slice(&bytes).map_err(|_| KeyError::Malformed)?;
        let public = URL_SAFE_NO_PAD.encode(
            signing
                .verifying_key()
                .as_affine()
                .to_encoded_point(false)
                .as_bytes(),
        );
        Ok(Self { signing, public })
    }

    /// The configured key, or the data folder's, created on first use.
    pub fn load_or_create(
        configured: Option<&SecretString>,
        data_dir: &Path,
    ) -> Result<Self, KeyError> {
        if let Some(text) = configured {
            return Self::from_secret(&SecretKey::parse(text.expose_secret())?);
        }
        let path = data_dir.join(VAPID_KEY_FILE);
        if let Some(key) = SecretKey::read_file(&path)? {
            return Self::from_secret(&key);
        }
        // 32 random bytes are a P-256 private key but for odds of 2^-32
        // (zero, or not below the group's order): then draw again.
        let generated = loop {
            let bytes: [u8; 32] = rand::random();
            if SigningKey::from_slice(&bytes).is_ok() {
                break SecretKey::parse(&STANDARD.encode(bytes))?;
            }
        };
        let key = generated.create_file(&path)?;
        tracing::info!(path = %path.display(), "generated the VAPID key for Web Push");
        Self::from_secret(&key)
    }

    /// The public key for `PushManager.subscribe`.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// RFC 8292: `vapid t=<JWT>, k=<public key>` for a push service at
    /// `audience` (its origin).
    fn authorization(&self, audience: &str, subject: &str, now_secs: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": audience,
            "exp": now_secs + VAPID_VALID_SECS,
            "sub": subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.signing.sign(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        format!("vapid t={signed}.{signature}, k={}", self.public)
    }
}

/// The origin of a push endpoint (`https://host[:port]`), the VAPID
/// audience; `None` when the endpoint is not a web address.
pub fn origin_of(endpoint: &str) -> Option<String> {
    let uri: axum::http::Uri = endpoint.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?;
    if authority.as_str().contains('@') {
        return None;
    }
    Some(format!(
        "{scheme}://{}",
        authority.as_str().to_ascii_lowercase()
    ))
}

/// Sends pushes from the outbox.
#[derive(Clone, Debug)]
pub struct PushSender {
    client: reqwest::Client,
    key: Arc<VapidKey>,
    /// The contact a push service may use (RFC 8292 `sub`).
    subject: String,
}

impl PushSender {
    pub fn new(key: Arc<VapidKey>, contact_email: &str) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            // A push service answers; it never sends the request elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("could not prepare the push client: {e}"))?;
        Ok(Self {
            client,
            key,
            subject: format!("mailto:{contact_email}"),
        })
    }

    /// Delivers one push: the outbox item names the device and the notice,
    /// and carries the payload (JSON) to encrypt for the device.
    pub async fn send(
        &self,
        store: &Store,
        clock: &Clock,
        item: &OutboxItem,
    ) -> Result<(), DeliveryError> {
        let transient = |e: crate::store::StoreError| DeliveryError::Transient(e.to_string());
        let Some(device) = store
            .push_subscription(&item.recipient)
            .await
            .map_err(transient)?
        else {
            return Err(DeliveryError::Permanent(
                "the device was removed before the push was sent".into(),
            ));
        };
        let bad_device = || DeliveryError::Permanent("the device's push keys are not valid".into());
        let public = URL_SAFE_NO_PAD
            .decode(device.p256dh.trim_end_matches('='))
            .map_err(|_| bad_device())?;
        let public =
            web_push_native::p256::PublicKey::from_sec1_bytes(&public).map_err(|_| bad_device())?;
        let auth = URL_SAFE_NO_PAD
            .decode(device.auth.trim_end_matches('='))
            .map_err(|_| bad_device())?;
        if auth.len() != 16 {
            return Err(bad_device());
        }
        let auth = web_push_native::Auth::clone_from_slice(&auth);
        let body = web_push_native::encrypt(item.body_text.as_bytes().to_vec(), &public, &auth)
            .map_err(|e| DeliveryError::Permanent(format!("could not encrypt the push: {e}")))?;
        let audience = origin_of(&device.endpoint).ok_or_else(|| {
            DeliveryError::Permanent("the device's push address is not valid".into())
        })?;
        let now_secs = clock.now().0 / 1000;
        let response = self
            .client
            .post(&device.endpoint)
            .header(
                "Authorization",
                self.key.authorization(&audience, &self.subject, now_secs),
            )
            .header("TTL", TTL_SECS.to_string())
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Urgency", "normal")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                DeliveryError::Transient(format!("the push service did not answer: {e}"))
            })?;
        let status = response.status();
        if status.is_success() {
            store
                .mark_push_delivered(&item.subject, clock.now())
                .await
                .map_err(transient)?;
            return Ok(());
        }
        match status.as_u16() {
            // The browser unsubscribed or the subscription expired: the
            // device is removed and never tried again.
            404 | 410 => {
                store
                    .drop_push_subscription(&device.id)
                    .await
                    .map_err(transient)?;
                tracing::info!(device = %device.id, %status, "a push subscription is gone; removed");
                Err(DeliveryError::Permanent(format!(
                    "the push service answered {status}: the device no longer takes pushes and was removed"
                )))
            }
            429 | 500..=599 => Err(DeliveryError::Transient(format!(
                "the push service answered {status}"
            ))),
            _ => Err(DeliveryError::Permanent(format!(
                "the push service refused the push: {status}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_the_endpoints_origin() {
        assert_eq!(
            origin_of("https://fcm.googleapis.com/fcm/send/abc").as_deref(),
            Some("https://fcm.googleapis.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:4567/push/1").as_deref(),
            Some("http://127.0.0.1:4567")
        );
        assert_eq!(origin_of("not a url"), None);
        assert_eq!(origin_of("https://user@host/x"), None);
    }
}
