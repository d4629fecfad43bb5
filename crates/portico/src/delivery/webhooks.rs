//! Webhook deliveries (X3): signed as the Standard Webhooks specification
//! says, posted only to addresses that are not on the server's own network
//! (checked after resolving the name, and the checked address is the one
//! connected to), retried with back-off, in order per endpoint; an endpoint
//! that keeps failing for [`DISABLE_AFTER`] is disabled and its practice's
//! admins are told.

use crate::domain::{Clock, Millis, Role};
use crate::store::{Channel, NewOutboxItem, Store, StoreResult, WebhookDelivery, WebhookEndpoint};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// An endpoint whose deliveries have failed without a success for this
/// long is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);
/// How long a rotated-out secret still signs.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// Connecting, sending and hearing back, together.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Of a response's body, only this much is kept (for the admins to read).
const EXCERPT_BYTES: usize = 300;
/// Longer than the timeout: a worker that died mid-post leaves the
/// delivery to be claimed again after this.
const LEASE_MS: i64 = 60_000;
const POLL: Duration = Duration::from_secs(5);

/// The wait after the `failed`-th failed attempt: 5 s, 5 min, 30 min, 2 h,
/// 5 h, then every 10 h (the schedule the specification suggests), until
/// the endpoint is disabled.
pub fn retry_delay(failed: i64) -> Duration {
    const SCHEDULE: [u64; 6] = [5, 300, 1_800, 7_200, 18_000, 36_000];
    let at = usize::try_from(failed.saturating_sub(1).max(0))
        .unwrap_or(usize::MAX)
        .min(SCHEDULE.len() - 1);
    Duration::from_secs(SCHEDULE[at])
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under `secret`
/// (`whsec_<base64 key>`); `None` for a secret that is not of that form.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret, space separated.
pub fn signature_header(secrets: &[&str], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .filter_map(|secret| sign(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Addresses a webhook never goes to: the server's own and its private
/// networks (loopback, RFC 1918, link-local, unique-local, shared CGNAT
/// space, unspecified, multicast, reserved), also when written inside an
/// IPv6 address. With `allow_local`, loopback is allowed (for testing).
pub fn forbidden_address(ip: IpAddr, allow_local: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4, allow_local),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4, allow_local);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return forbidden_v4(Ipv4Addr::new(a, b, c, d), allow_local);
            }
            if s[0] == 0x2002 {
                let [a, b] = s[1].to_be_bytes();
                let [c, d] = s[2].to_be_bytes();
                return forbidden_v4(Ipv4Addr::new(a, b, c, d), allow_local);
            }
            if v6.is_loopback() {
                return !allow_local;
            }
            v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr, allow_local: bool) -> bool {
    if ip.is_loopback() {
        return !allow_local;
    }
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

/// Checks what can be checked of an address without the network: a
/// well-formed http(s) URL, https unless `allow_local`, no user name or
/// password in it, no forbidden IP literal.
pub fn check_url(text: &str, allow_local: bool) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|_| "Give the whole address, starting with https://.".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if allow_local => {}
        "http" => {
            return Err(
                "The address must start with https:// (or tick the box for a local address for testing)."
                    .into(),
            );
        }
        _ => return Err("The address must start with https://.".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Leave the user name and password out of the address.".into());
    }
    match url.host() {
        None => Err("Give the whole address, starting with https://.".into()),
        Some(url::Host::Ipv4(ip)) if forbidden_address(IpAddr::V4(ip), allow_local) => {
            Err(PRIVATE.into())
        }
        Some(url::Host::Ipv6(ip)) if forbidden_address(IpAddr::V6(ip), allow_local) => {
            Err(PRIVATE.into())
        }
        Some(_) => Ok(url),
    }
}

/// Why an address is refused, in a person's words.
pub const PRIVATE: &str =
    "That address is on a private or local network; webhooks only go to addresses on the internet.";

/// Why [`resolve_checked`] refused an address.
#[derive(Debug, thiserror::Error)]
pub enum AddressRefusal {
    #[error("refused: the address resolves to {0} (a private or local network)")]
    Private(IpAddr),
    #[error("{0}")]
    Unresolved(String),
}

/// Where a URL's host name resolves to, every address checked: an error
/// when any of them is forbidden (a name that points partly inside is
/// refused as a whole). An IP literal is checked as it is.
pub async fn resolve_checked(
    url: &reqwest::Url,
    allow_local: bool,
) -> Result<Vec<SocketAddr>, AddressRefusal> {
    use AddressRefusal::Unresolved;
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.host() {
        None => return Err(Unresolved("the address has no host".into())),
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(name)) => {
            match tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((name, port))).await {
                Ok(Ok(found)) => found.collect(),
                Ok(Err(e)) => return Err(Unresolved(format!("{name} could not be resolved: {e}"))),
                Err(_) => return Err(Unresolved(format!("{name} could not be resolved in time"))),
            }
        }
    };
    if addrs.is_empty() {
        return Err(Unresolved("the name has no address".into()));
    }
    if let Some(bad) = addrs
        .iter()
        .find(|a| forbidden_address(a.ip(), allow_local))
    {
        return Err(AddressRefusal::Private(bad.ip()));
    }
    Ok(addrs)
}

/// What became of one attempt.
#[derive(Debug)]
pub struct Attempt {
    /// The response's status, if there was one.
    pub status: Option<u16>,
    pub excerpt: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl Attempt {
    fn refused(error: String) -> Self {
        Self {
            status: None,
            excerpt: None,
            error: Some(error),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// Posts one delivery to its endpoint, signed at `now`.
pub async fn post(endpoint: &WebhookEndpoint, delivery: &WebhookDelivery, now: Millis) -> Attempt {
    let url = match check_url(&endpoint.url, endpoint.allow_local) {
        Ok(url) => url,
        Err(e) => return Attempt::refused(e),
    };
    let addrs = match resolve_checked(&url, endpoint.allow_local).await {
        Ok(addrs) => addrs,
        Err(e) => return Attempt::refused(e.to_string()),
    };
    // The connection goes to the address just checked, not to whatever the
    // name resolves to a moment later (DNS rebinding); never via a proxy,
    // never following a redirect.
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .user_agent("Portico-Webhooks/1");
    if let Some(url::Host::Domain(name)) = url.host() {
        client = client.resolve_to_addrs(name, &addrs);
    }
    let client = match client.build() {
        Ok(client) => client,
        Err(e) => return Attempt::refused(format!("could not prepare the request: {e}")),
    };
    let timestamp = now.0.div_euclid(1000);
    let id = webhook_id(delivery);
    let signature = signature_header(
        &endpoint.signing_secrets(now),
        &id,
        timestamp,
        &delivery.payload,
    );
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone())
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) if e.is_timeout() => return Attempt::refused("no answer within 10 seconds".into()),
        Err(e) => return Attempt::refused(format!("could not post: {}", without_url(&e))),
    };
    let status = response.status();
    let mut body = Vec::new();
    while body.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(EXCERPT_BYTES);
    let excerpt = String::from_utf8_lossy(&body).into_owned();
    Attempt {
        status: Some(status.as_u16()),
        excerpt: Some(excerpt),
        error: (!status.is_success()).then(|| format!("the endpoint answered {status}")),
    }
}

/// The `webhook-id` of a delivery: the same on every attempt.
pub fn webhook_id(delivery: &WebhookDelivery) -> String {
    format!("msg_{}", delivery.id.replace('-', ""))
}

fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the endpoint");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Claims due deliveries and posts them (the server runs one; tests run
/// passes of their own).
#[derive(Clone, Debug)]
pub struct WebhookWorker {
    store: Store,
    clock: Clock,
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
    public_url: String,
}

impl WebhookWorker {
    pub fn new(
        store: Store,
        clock: Clock,
        wake: Arc<Notify>,
        outbox_wake: Arc<Notify>,
        public_url: String,
    ) -> Self {
        Self {
            store,
            clock,
            wake,
            outbox_wake,
            public_url,
        }
    }

    /// Posts everything due now (each endpoint's waiting deliveries one
    /// after another, endpoints side by side); returns how many attempts
    /// were made.
    pub async fn run_once(&self) -> StoreResult<usize> {
        let mut attempts = 0;
        loop {
            let batch = self
                .store
                .claim_due_webhooks(self.clock.now(), LEASE_MS, 16)
                .await?;
            if batch.is_empty() {
                return Ok(attempts);
            }
            attempts += batch.len();
            let results =
                futures_util::future::join_all(batch.iter().map(|d| self.deliver(d))).await;
            for result in results {
                result?;
            }
        }
    }

    async fn deliver(&self, delivery: &WebhookDelivery) -> StoreResult<()> {
        let Some(endpoint) = self.store.webhook_endpoint_for(delivery).await? else {
            return Ok(());
        };
        let attempt = post(&endpoint, delivery, self.clock.now()).await;
        let now = self.clock.now();
        let status = attempt.status.map(i64::from);
        match &attempt.error {
            None => {
                tracing::info!(delivery = %delivery.id, endpoint = %endpoint.id, "webhook delivered");
                self.store
                    .mark_webhook_delivered(
                        delivery,
                        status.unwrap_or(0),
                        attempt.excerpt.as_deref().unwrap_or(""),
                        now,
                    )
                    .await
            }
            Some(error) => {
                let delay = retry_delay(delivery.attempts + 1);
                let retry_at = Millis(now.0 + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                tracing::warn!(
                    delivery = %delivery.id,
                    endpoint = %endpoint.id,
                    attempt = delivery.attempts + 1,
                    %error,
                    "webhook delivery failed"
                );
                let since = self
                    .store
                    .mark_webhook_failed(
                        delivery,
                        status,
                        error,
                        attempt.excerpt.as_deref(),
                        retry_at,
                        now,
                    )
                    .await?;
                let limit = i64::try_from(DISABLE_AFTER.as_millis()).unwrap_or(i64::MAX);
                if now.0 - since.0 >= limit {
                    self.disable(&endpoint, error, now).await?;
                }
                Ok(())
            }
        }
    }

    /// Disables an endpoint that kept failing; its practice's admins get
    /// an e-mail (and the Integrations page says so).
    async fn disable(
        &self,
        endpoint: &WebhookEndpoint,
        error: &str,
        now: Millis,
    ) -> StoreResult<()> {
        let reason = format!(
            "Every delivery failed for {} days (the last: {error}).",
            DISABLE_AFTER.as_secs() / 86_400
        );
        let link = format!(
            "{}/app/settings/integrations/{}",
            self.public_url, endpoint.id
        );
        let admins = self.store.list_staff(endpoint.practice_id).await?;
        let mails: Vec<NewOutboxItem> = admins
            .iter()
            .filter(|s| s.active && s.role == Role::Admin)
            .map(|admin| NewOutboxItem {
                practice_id: Some(endpoint.practice_id),
                channel: Channel::Email,
                idempotency_key: format!("webhook-disabled:{}:{}:{}", endpoint.id, now.0, admin.id),
                recipient: admin.email.clone(),
                subject: "A webhook endpoint was turned off".into(),
                body_text: format!(
                    "Hello {},\n\nPortico turned off the webhook endpoint {} because every delivery to it \
                     failed for {} days.\n\nLast error: {error}\n\nWhen it works again, turn it back on \
                     under Settings → Integrations; the events that waited will be sent:\n{link}\n",
                    admin.name,
                    endpoint.url,
                    DISABLE_AFTER.as_secs() / 86_400
                ),
                body_html: None,
            })
            .collect();
        if self
            .store
            .disable_failing_webhook(endpoint.practice_id, endpoint.id, &reason, &mails, now)
            .await?
        {
            tracing::warn!(endpoint = %endpoint.id, "webhook endpoint disabled after failing for days");
            self.outbox_wake.notify_one();
        }
        Ok(())
    }

    /// Runs until the task is dropped: posts whenever woken (an event was
    /// queued) or every few seconds (retries, other instances' events).
    pub async fn run(self) {
        loop {
            if let Err(error) = self.run_once().await {
                tracing::error!(%error, "the webhook worker could not read its deliveries");
            }
            tokio::select! {
                () = self.wake.notified() => {},
                () = tokio::time::sleep(POLL) => {},
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_as_the_specification_suggests() {
        assert_eq!(retry_delay(1), Duration::from_secs(5));
        assert_eq!(retry_delay(2), Duration::from_secs(300));
        assert_eq!(retry_delay(3), Duration::from_secs(1_800));
        assert_eq!(retry_delay(4), Duration::from_secs(7_200));
        assert_eq!(retry_delay(5), Duration::from_secs(18_000));
        assert_eq!(retry_delay(6), Duration::from_secs(36_000));
        assert_eq!(retry_delay(60), Duration::from_secs(36_000));
    }

    #[test]
    fn signatures_match_the_specification_example() {
        // The vector of the reference implementation's own tests.
        let signature = sign(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            r#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Some("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")
        );
        assert_eq!(sign("not a secret", "id", 1, "{}"), None);
        let both = signature_header(&[&new_secret(), &new_secret()], "id", 1, "{}");
        assert_eq!(both.split(' ').count(), 2);
    }

    #[test]
    fn private_and_local_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "::",
            "224.0.0.1",
            "240.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(forbidden_address(ip, false), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "100.128.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!forbidden_address(ip, false), "{ip}");
        }
        assert!(!forbidden_address("127.0.0.1".parse().unwrap(), true));
        assert!(!forbidden_address("::1".parse().unwrap(), true));
        assert!(
            forbidden_address("10.0.0.1".parse().unwrap(), true),
            "only loopback"
        );
        assert!(forbidden_address("169.254.169.254".parse().unwrap(), true));
    }

    #[test]
    fn urls_must_be_https_unless_allowed() {
        assert!(check_url("https://hooks.example.com/portico", false).is_ok());
        assert!(check_url("http://hooks.example.com/portico", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("https://127.0.0.1/hook", false).is_err());
        assert!(check_url("https://[::1]/hook", false).is_err());
        assert!(check_url("https://user:pw@hooks.example.com/", false).is_err());
        assert!(check_url("ftp://hooks.example.com/", true).is_err());
        assert!(check_url("hooks.example.com", false).is_err());
    }
}
