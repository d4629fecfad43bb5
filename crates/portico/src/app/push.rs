//! Web Push (X12): a person asks, on a click, to be notified on a device;
//! the notification job pushes to their devices at once what it will
//! e-mail after the window, through the outbox; a push that was delivered
//! and opened stands for the e-mail of the same items.

use super::spans::person;
use super::{App, AppError, AppResult};
use crate::delivery::push::{VapidKey, origin_of};
use crate::domain::{Millis, PracticeId, ValidationError, hash_secret, issue_secret, paths};
use crate::store::{
    Channel, Member, NewNotification, NewOutboxItem, NewPushNotice, NewPushSubscription, PushState,
    PushSubscription, Recipient,
};
use tracing::instrument;

/// What the server needs to offer Web Push.
#[derive(Clone, Debug)]
pub struct PushSetup {
    pub key: std::sync::Arc<VapidKey>,
    /// Host names (or their endings) subscriptions may point to.
    pub hosts: Vec<String>,
}

/// Lines of content in a push when the practice includes content (S5).
const PUSH_LINES: usize = 3;

/// A push decided in a notification window, queued once claimed.
pub(super) struct PlannedPush {
    pub notice: NewPushNotice,
    /// What the service worker shows.
    pub payload: String,
    /// The person's devices' subscription ids.
    pub devices: Vec<String>,
}

/// What one push says and where its click leads.
pub(super) struct PushContent {
    pub title: String,
    pub body: String,
    /// The exact place: a path of the portal or the app.
    pub target: String,
    /// Everything created up to this is covered.
    pub covers_until: Millis,
}

/// "Chrome on Android": a name for a device from its browser's
/// User-Agent, so a person tells their devices apart.
pub fn device_label(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Firefox/") || ua.contains("FxiOS") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("CriOS") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else {
        "A browser"
    };
    let system = if ua.contains("iPhone") {
        "iPhone"
    } else if ua.contains("iPad") {
        "iPad"
    } else if ua.contains("Android") {
        "Android"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "Mac"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        "this device"
    };
    format!("{browser} on {system}")
}

fn invalid(message: &str) -> AppError {
    AppError::Invalid(ValidationError::new(message.to_owned()))
}

/// A base64url value of `len` bytes (as `PushSubscription.toJSON()` gives).
fn key_bytes(text: &str, len: usize) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .is_ok_and(|bytes| bytes.len() == len)
}

impl App {
    /// The VAPID public key pages subscribe with; `None`: no push here.
    pub fn push_public_key(&self) -> Option<&str> {
        self.push.as_ref().map(|p| p.key.public_key())
    }

    /// Whether `endpoint` is a push service's address this server sends
    /// to (https, a known service; plain http only to this machine).
    fn push_endpoint_allowed(&self, endpoint: &str) -> bool {
        let Some(setup) = &self.push else {
            return false;
        };
        let Some(origin) = origin_of(endpoint) else {
            return false;
        };
        let Ok(uri) = endpoint.parse::<axum::http::Uri>() else {
            return false;
        };
        let Some(host) = uri.host().map(str::to_ascii_lowercase) else {
            return false;
        };
        let known = setup
            .hosts
            .iter()
            .any(|allowed| host == *allowed || host.ends_with(&format!(".{allowed}")));
        let loopback = host == "127.0.0.1" || host == "localhost" || host == "[::1]";
        known && (origin.starts_with("https://") || (loopback && origin.starts_with("http://")))
    }

    /// X12: a person asks to be notified on the device `endpoint` names.
    /// Only for themselves: `me` is the signed-in person.
    #[instrument(skip_all, fields(practice = %practice, by = %person(me)))]
    pub async fn add_push_device(
        &self,
        practice: PracticeId,
        me: Member,
        endpoint: &str,
        p256dh: &str,
        auth: &str,
        user_agent: &str,
    ) -> AppResult<()> {
        if self.push.is_none() {
            return Err(AppError::conflict(
                "Notifications on devices are not set up on this server.",
            ));
        }
        let endpoint = endpoint.trim();
        if endpoint.len() > 2000 || !self.push_endpoint_allowed(endpoint) {
            return Err(invalid(
                "This browser's push service is not one Portico sends to. Try another browser.",
            ));
        }
        if !key_bytes(p256dh, 65) || !key_bytes(auth, 16) {
            return Err(invalid(
                "This browser gave keys Portico cannot use. Try again, or try another browser.",
            ));
        }
        self.store
            .save_push_subscription(
                practice,
                me,
                &NewPushSubscription {
                    endpoint: endpoint.to_owned(),
                    p256dh: p256dh.trim().trim_end_matches('=').to_owned(),
                    auth: auth.trim().trim_end_matches('=').to_owned(),
                    label: device_label(user_agent),
                },
                self.clock.now(),
            )
            .await?;
        tracing::info!(member = %me.id(), kind = me.kind(), "a device was added for push");
        Ok(())
    }

    /// A person's own devices.
    #[instrument(skip_all, fields(practice = %practice, by = %person(me)))]
    pub async fn my_push_devices(
        &self,
        practice: PracticeId,
        me: Member,
    ) -> AppResult<Vec<PushSubscription>> {
        Ok(self.store.push_subscriptions_of(practice, me).await?)
    }

    /// A person removes one of their own devices; another's is not found.
    #[instrument(skip_all, fields(practice = %practice, by = %person(me)))]
    pub async fn remove_push_device(
        &self,
        practice: PracticeId,
        me: Member,
        id: &str,
    ) -> AppResult<()> {
        Ok(self
            .store
            .remove_push_subscription(practice, me, id)
            .await?)
    }

    /// The notification was clicked: it is marked opened (so the same
    /// items are not e-mailed) and its exact place returned.
    #[instrument(skip_all)]
    pub async fn open_push(&self, token: &str) -> AppResult<String> {
        match self
            .store
            .open_push_notice(&hash_secret(token), self.clock.now())
            .await
        {
            Ok(target) => Ok(target),
            Err(crate::store::StoreError::NotFound) => Err(AppError::NotFound),
            Err(other) => Err(other.into()),
        }
    }

    /// One push to every device of `r` covering `content`, unless what it
    /// covers was pushed already; queued once its notice is claimed (per
    /// person and `covers_until`, so instances sharing a database push once).
    pub(super) fn plan_push(
        r: &Recipient,
        state: &PushState,
        content: PushContent,
    ) -> Option<PlannedPush> {
        if state.devices.is_empty()
            || state
                .pushed_until
                .is_some_and(|pushed| pushed.0 >= content.covers_until.0)
        {
            return None;
        }
        let issued = issue_secret();
        let payload = serde_json::json!({
            "title": content.title,
            "body": content.body,
            "url": paths::push_open(&issued.secret),
            "tag": format!("portico-{}", r.practice_id),
        })
        .to_string();
        Some(PlannedPush {
            notice: NewPushNotice {
                practice_id: r.practice_id,
                member: r.member,
                covers_until: content.covers_until,
                token_hash: issued.hash,
                target: content.target,
            },
            payload,
            devices: state.devices.clone(),
        })
    }

    /// The outbox rows of a claimed push (`notice` its id): one per device.
    pub(super) fn push_rows(push: &PlannedPush, notice: &str) -> Vec<NewNotification> {
        push.devices
            .iter()
            .map(|device| NewNotification {
                item: NewOutboxItem {
                    practice_id: Some(push.notice.practice_id),
                    channel: Channel::Push,
                    idempotency_key: format!("push-{notice}-{device}"),
                    recipient: device.clone(),
                    subject: notice.to_owned(),
                    body_text: push.payload.clone(),
                    body_html: None,
                },
                list_unsubscribe: None,
                reply_to: None,
            })
            .collect()
    }

    /// The title and text of a push (S5: the text only when the practice,
    /// or the person, includes it in their notifications).
    pub(super) fn push_text(
        r: &Recipient,
        messages: bool,
        lines: impl Iterator<Item = String>,
    ) -> (String, String) {
        let staff = matches!(r.member, Member::Staff(_));
        let content = r.prefs.content.includes(if staff {
            r.settings.content_to_staff
        } else {
            r.settings.content_to_contacts
        });
        let title = if messages {
            format!("New message from {}", r.practice_name)
        } else {
            format!("New update from {}", r.practice_name)
        };
        let body = if content {
            lines.take(PUSH_LINES).collect::<Vec<_>>().join("\n")
        } else {
            String::new()
        };
        (title, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_by_browser_and_system() {
        assert_eq!(
            device_label(
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
            ),
            "Chrome on Android"
        );
        assert_eq!(
            device_label(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
            ),
            "Safari on iPhone"
        );
        assert_eq!(device_label(""), "A browser on this device");
    }

    #[test]
    fn push_keys_must_have_their_lengths() {
        assert!(key_bytes(&"A".repeat(22), 16));
        assert!(!key_bytes("short", 16));
    }
}
