//! Web Push (X12) to a push service the test runs on 127.0.0.1: it checks
//! the VAPID signature (RFC 8292) against the page's public key and the
//! endpoint's origin, and decrypts each payload (RFC 8291, aes128gcm per
//! RFC 8188) with the subscription's private key and auth secret, written
//! here from the RFCs rather than taken from the sending library. SQLite,
//! and PostgreSQL with `PORTICO_TEST_BACKEND=postgres`.

use crate::harness::active_with_phone as contact;
use crate::harness::{Browser, TestApp, location, origin, say_as, signed_in};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use portico::app::questions::Actor;
use portico::config::ConfigArgs;
use portico::domain::{PracticeId, Role};
use portico::store::{
    Channel, Chat, Contact, Member, NotifyPrefs, NotifySettings, OutboxStatus, Staff,
};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the push service received.
#[derive(Clone, Debug)]
struct Received {
    device: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Service {
    received: Arc<Mutex<Vec<Received>>>,
    /// Devices the service answers with this status instead of 201.
    answers: Arc<Mutex<HashMap<String, u16>>>,
}

async fn receive(
    State(service): State<Service>,
    Path(device): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    service.received.lock().unwrap().push(Received {
        device: device.clone(),
        headers,
        body: body.to_vec(),
    });
    let status = service
        .answers
        .lock()
        .unwrap()
        .get(&device)
        .copied()
        .unwrap_or(201);
    StatusCode::from_u16(status).unwrap()
}

/// A push service on a free port of 127.0.0.1.
struct PushService {
    base: String,
    service: Service,
}

impl PushService {
    async fn start() -> Self {
        let service = Service::default();
        let router = axum::Router::new()
            .route("/push/{device}", axum::routing::post(receive))
            .with_state(service.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { base, service }
    }

    fn received(&self) -> Vec<Received> {
        self.service.received.lock().unwrap().clone()
    }

    fn answer(&self, device: &str, status: u16) {
        self.service
            .answers
            .lock()
            .unwrap()
            .insert(device.to_owned(), status);
    }
}

/// A browser's side of a subscription: its key pair and auth secret.
struct Device {
    name: String,
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Device {
    fn new(name: &str) -> Self {
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        Self {
            name: name.to_owned(),
            secret,
            auth: rand::random(),
        }
    }

    fn public(&self) -> Vec<u8> {
        self.secret
            .public_key()
            .as_affine()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    fn endpoint(&self, service: &PushService) -> String {
        format!("{}/push/{}", service.base, self.name)
    }

    /// Subscribes as the page's script does.
    async fn subscribe(&self, browser: &Browser, service: &PushService) -> reqwest::Response {
        browser
            .post_form(
                "/portal/account/push-devices",
                &[
                    ("endpoint", &self.endpoint(service)),
                    ("p256dh", &URL_SAFE_NO_PAD.encode(self.public())),
                    ("auth", &URL_SAFE_NO_PAD.encode(self.auth)),
                ],
            )
            .await
    }

    /// RFC 8291 section 3.4 and RFC 8188 section 2: one record, padding
    /// delimiter 2.
    fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        let salt = &body[..16];
        let record_size = u32::from_be_bytes(body[16..20].try_into().unwrap());
        assert!(record_size as usize >= body.len() - 86, "one record");
        let id_len = usize::from(body[20]);
        assert_eq!(id_len, 65, "the key id is the sender's public key");
        let sender = p256::PublicKey::from_sec1_bytes(&body[21..21 + id_len]).unwrap();
        let ciphertext = &body[21 + id_len..];
        let shared =
            p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), sender.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(&self.public());
        info.extend_from_slice(&body[21..21 + id_len]);
        let mut ikm = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes().as_ref())
            .expand(&info, &mut ikm)
            .unwrap();
        let prk = hkdf::Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .unwrap();
        let mut nonce = [0u8; 12];
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let mut plain = Aes128Gcm::new_from_slice(&cek)
            .unwrap()
            .decrypt(Nonce::from_slice(&nonce), ciphertext)
            .expect("the payload decrypts with the subscription's keys");
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(plain.pop(), Some(2), "the last record's delimiter");
        plain
    }
}

/// Checks the VAPID header of `request` against the server's public key
/// and the service's origin (RFC 8292).
fn check_vapid(request: &Received, service: &PushService, public_key: &str, now_secs: i64) {
    let header = request.headers["authorization"].to_str().unwrap();
    let rest = header.strip_prefix("vapid ").expect("vapid scheme");
    let mut token = "";
    let mut key = "";
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(t) = part.strip_prefix("t=") {
            token = t;
        }
        if let Some(k) = part.strip_prefix("k=") {
            key = k;
        }
    }
    assert_eq!(key, public_key, "k is the key the page subscribed with");
    let verifying =
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature =
        p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    verifying
        .verify(signed.as_bytes(), &signature)
        .expect("the JWT is signed by the VAPID key");
    let (head, claims) = signed.split_once('.').unwrap();
    let head: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
    assert_eq!(head["alg"], "ES256");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["aud"], service.base.as_str(), "aud is the origin");
    assert!(claims["sub"].as_str().unwrap().starts_with("mailto:"));
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp > now_secs && exp <= now_secs + 24 * 3600, "{exp}");
    assert_eq!(request.headers["content-encoding"], "aes128gcm");
    assert!(request.headers.contains_key("ttl"));
}

/// Harbour & Vale, its client, Hannah in a chat with the admin; pushes go
/// to the test's service, e-mail is read from the outbox.
struct Story {
    service: PushService,
    app: TestApp,
    practice: PracticeId,
    admin: Staff,
    hannah: Contact,
    chat: Chat,
}

async fn story() -> Story {
    let service = PushService::start().await;
    let app = TestApp::spawn_with(ConfigArgs {
        notify_delay_secs: Some(120),
        push_service_hosts: Some("127.0.0.1".into()),
        ..Default::default()
    })
    .await;
    let (practice, admin) = app.with_practice("Harbour & Vale").await;
    let client = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = contact(&app, practice.id, "hannah@northwind.example", None, &client).await;
    let chat = app
        .app
        .open_direct_chat(&admin, client.id, hannah.id)
        .await
        .unwrap();
    Story {
        service,
        app,
        practice: practice.id,
        admin,
        hannah,
        chat,
    }
}

impl Story {
    async fn staff_says(&self, body: &str) {
        say_as(&self.app, Actor::Staff(&self.admin), self.chat.id, body).await;
    }

    fn later(&self, secs: u64) {
        self.app.clock.advance(Duration::from_secs(secs));
    }

    /// Runs the notification job and delivers what it queued.
    async fn notify(&self) -> usize {
        let told = self.app.app.run_notifications().await.unwrap();
        self.app.deliver_mail().await;
        told
    }

    async fn hannahs_email(&self) -> Vec<portico::store::OutboxItem> {
        self.app
            .store()
            .outbox_for(self.hannah.email.as_str())
            .await
            .unwrap()
            .into_iter()
            .filter(|i| i.channel == Channel::Email && i.list_unsubscribe.is_some())
            .collect()
    }

    fn payloads(&self, device: &Device) -> Vec<serde_json::Value> {
        self.service
            .received()
            .iter()
            .filter(|r| r.device == device.name)
            .map(|r| serde_json::from_slice(&device.decrypt(&r.body)).unwrap())
            .collect()
    }

    /// Hannah, signed in, with `device` subscribed.
    async fn hannah_on(&self, device: &Device) -> Browser {
        let browser = signed_in(&self.app, self.hannah.email.as_str()).await;
        let response = device.subscribe(&browser, &self.service).await;
        assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
        browser
    }
}

/// The VAPID public key the preferences page subscribes with.
async fn page_key(browser: &Browser) -> String {
    let (status, page) = browser.page("/portal/account/notifications").await;
    assert_eq!(status, 200);
    let start = page.find("data-push-key=\"").expect("the push button") + 15;
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn x12_a_push_says_only_the_practice_name_signed_and_encrypted_for_the_device() {
    let s = story().await;
    let phone = Device::new("phone");
    let browser = s.hannah_on(&phone).await;
    let key = page_key(&browser).await;
    let (_, page) = browser.page("/portal/account/notifications").await;
    assert!(page.contains("Notify me on this device"), "{page}");
    assert!(page.contains("added"), "the device is listed: {page}");

    s.staff_says("Your return is ready to sign.").await;
    assert_eq!(s.notify().await, 1, "pushed at once, before the window");
    let received = s.service.received();
    assert_eq!(received.len(), 1);
    check_vapid(&received[0], &s.service, &key, s.app.clock.now().0 / 1000);
    let payload = &s.payloads(&phone)[0];
    assert_eq!(payload["title"], "New message from Harbour & Vale");
    assert_eq!(payload["body"], "", "S5 off: nothing more");
    assert!(
        !serde_json::to_string(payload)
            .unwrap()
            .contains("ready to sign"),
        "{payload}"
    );
    assert!(
        s.hannahs_email().await.is_empty(),
        "e-mail waits for the window"
    );
    assert_eq!(s.notify().await, 0, "pushed once");
    assert_eq!(s.service.received().len(), 1);

    // S5 on: the push carries the text.
    s.app
        .app
        .set_notify_settings(
            &s.admin,
            NotifySettings {
                content_to_contacts: true,
                content_to_staff: false,
                delay_secs: None,
            },
            &origin(),
        )
        .await
        .unwrap();
    s.later(1);
    s.staff_says("The meeting moved to Friday.").await;
    s.notify().await;
    let payloads = s.payloads(&phone);
    assert_eq!(payloads.len(), 2);
    assert_eq!(payloads[1]["title"], "New message from Harbour & Vale");
    let body = payloads[1]["body"].as_str().unwrap();
    assert!(body.contains("The meeting moved to Friday."), "{body}");

    // Its click lands on the chat.
    let url = payloads[1]["url"].as_str().unwrap();
    assert!(url.starts_with("/push/open/"), "{url}");
    let opened = browser.get(url).await;
    assert_eq!(opened.status(), 303);
    assert_eq!(location(&opened), format!("/portal/messages/{}", s.chat.id));
    // A made-up token opens nothing.
    assert_eq!(browser.get("/push/open/not-a-token").await.status(), 404);
}

#[tokio::test]
async fn x12_an_opened_push_stands_for_the_email_of_the_same_items_only() {
    let s = story().await;
    let phone = Device::new("phone");
    let browser = s.hannah_on(&phone).await;

    s.staff_says("First").await;
    s.notify().await;
    let url = s.payloads(&phone)[0]["url"].as_str().unwrap().to_owned();
    assert_eq!(browser.get(&url).await.status(), 303, "opened");
    s.later(121);
    s.notify().await;
    assert!(
        s.hannahs_email().await.is_empty(),
        "delivered and opened: no e-mail for it"
    );

    // The next one is pushed, not opened: it is e-mailed after the window,
    // alone.
    s.staff_says("Second").await;
    s.notify().await;
    assert_eq!(s.payloads(&phone).len(), 2);
    s.later(121);
    s.notify().await;
    let mails = s.hannahs_email().await;
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].subject.ends_with("1 new message"),
        "{}",
        mails[0].subject
    );
    s.later(121);
    assert_eq!(s.notify().await, 0, "told once");
}

#[tokio::test]
async fn x12_a_gone_subscription_is_removed_and_not_tried_again() {
    let s = story().await;
    let phone = Device::new("phone");
    let laptop = Device::new("laptop");
    let browser = s.hannah_on(&phone).await;
    let response = laptop.subscribe(&browser, &s.service).await;
    assert_eq!(response.status(), 204);
    s.service.answer("phone", 410);

    s.staff_says("Hello").await;
    s.notify().await;
    let devices = s
        .app
        .app
        .my_push_devices(s.practice, Member::Contact(s.hannah.id))
        .await
        .unwrap();
    assert_eq!(devices.len(), 1, "the phone is gone");
    assert!(devices[0].endpoint.ends_with("/laptop"));
    assert_eq!(s.payloads(&laptop).len(), 1, "the laptop got it");
    let dead = s
        .app
        .store()
        .list_outbox(s.practice, OutboxStatus::Dead, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "not retried");
    assert_eq!(dead[0].channel, Channel::Push);

    s.later(1);
    s.staff_says("Again").await;
    s.notify().await;
    let to_phone = s
        .service
        .received()
        .iter()
        .filter(|r| r.device == "phone")
        .count();
    assert_eq!(to_phone, 1, "the removed phone is not pushed to again");
    assert_eq!(s.payloads(&laptop).len(), 2);
}

#[tokio::test]
async fn x12_quiet_hours_hold_the_push_as_they_hold_the_email() {
    let s = story().await;
    let phone = Device::new("phone");
    s.hannah_on(&phone).await;
    let now = s
        .app
        .clock
        .now()
        .to_timestamp()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let minute = i64::from(now.hour()) * 60 + i64::from(now.minute());
    s.app
        .app
        .set_my_notify_prefs(
            s.practice,
            Member::Contact(s.hannah.id),
            NotifyPrefs {
                quiet: Some(((minute + 1440 - 10) % 1440, (minute + 60) % 1440)),
                time_zone: Some("UTC".into()),
                ..NotifyPrefs::default()
            },
        )
        .await
        .unwrap();
    s.staff_says("Sent in the night").await;
    assert_eq!(s.notify().await, 0);
    s.later(30 * 60);
    assert_eq!(s.notify().await, 0, "still quiet");
    assert!(s.service.received().is_empty(), "no push in quiet hours");
    s.later(35 * 60);
    s.notify().await;
    assert_eq!(s.payloads(&phone).len(), 1, "pushed when they end");
    assert_eq!(s.hannahs_email().await.len(), 1, "and e-mailed, once");
    s.later(121);
    s.notify().await;
    assert_eq!(s.payloads(&phone).len(), 1, "once");
}

#[tokio::test]
async fn x12_devices_are_removed_only_by_their_owner_and_only_push_services_are_taken() {
    let s = story().await;
    let phone = Device::new("phone");
    let hannah = s.hannah_on(&phone).await;
    let id = s
        .app
        .app
        .my_push_devices(s.practice, Member::Contact(s.hannah.id))
        .await
        .unwrap()[0]
        .id
        .clone();
    let path = format!("/portal/account/push-devices/{id}/remove");

    // Another contact of the same practice.
    let client = s.app.with_client(s.practice, "Other Client").await;
    let olga = contact(&s.app, s.practice, "olga@other.example", None, &client).await;
    let olga = signed_in(&s.app, olga.email.as_str()).await;
    assert_eq!(olga.post_form(&path, &[]).await.status(), 404);
    // Staff of another practice, through the app's route.
    let (other, _) = s.app.with_practice("Elsewhere").await;
    let stranger = s
        .app
        .with_staff(other.id, "stranger@elsewhere.example", Role::Admin)
        .await;
    let stranger = s.app.staff_browser(stranger.email.as_str()).await;
    let staff_path = format!("/app/account/push-devices/{id}/remove");
    assert_eq!(stranger.post_form(&staff_path, &[]).await.status(), 404);
    // Hannah's own practice's admin cannot remove it either: it is hers.
    let admin = s.app.staff_browser(s.admin.email.as_str()).await;
    assert_eq!(admin.post_form(&staff_path, &[]).await.status(), 404);
    assert_eq!(
        s.app
            .app
            .my_push_devices(s.practice, Member::Contact(s.hannah.id))
            .await
            .unwrap()
            .len(),
        1
    );

    // A subscription pointing elsewhere than a push service is refused.
    let refused = hannah
        .post_form(
            "/portal/account/push-devices",
            &[
                ("endpoint", "https://intranet.example/admin"),
                ("p256dh", &URL_SAFE_NO_PAD.encode(phone.public())),
                ("auth", &URL_SAFE_NO_PAD.encode(phone.auth)),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("push service"));
    let bad_keys = hannah
        .post_form(
            "/portal/account/push-devices",
            &[
                ("endpoint", &phone.endpoint(&s.service)),
                ("p256dh", "short"),
                ("auth", "short"),
            ],
        )
        .await;
    assert_eq!(bad_keys.status(), 422);

    // She removes her own.
    let removed = hannah.post_form(&path, &[]).await;
    assert_eq!(removed.status(), 303);
    assert!(
        s.app
            .app
            .my_push_devices(s.practice, Member::Contact(s.hannah.id))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn x12_the_service_worker_handles_push_and_clicks_only() {
    let s = story().await;
    let response = s.app.get("/sw.js").await;
    assert_eq!(response.status(), 200);
    let script = response.text().await.unwrap();
    assert!(script.contains("\"push\""));
    assert!(script.contains("\"notificationclick\""));
    assert!(!script.contains("\"fetch\""), "no fetch handler, no cache");
    assert!(!script.contains("caches."), "no cache");
}

/// A browser story: the button appears only with script, on a phone-wide
/// page that passes axe; a click (never the page load) asks for permission;
/// refused, the page says how to allow it; allowed, the service worker is
/// registered. Headless Chromium has no push service to subscribe with, so
/// the story ends there.
#[tokio::test]
async fn x12_the_button_asks_on_a_click_and_registers_the_service_worker() {
    let s = story().await;
    let app = &s.app;
    let email = s.hannah.email.as_str().to_owned();
    crate::browser::run_story("x12_the_push_button", &app.base_url, |portal| async move {
        portal.goto("/portal/sign-in").await;
        portal.fill("#link-email", &email).await;
        portal.press("Send me a link").await;
        portal.wait_for_text("h1", "Check your e-mail").await;
        let link = app.latest_link(&email, "/portal/link/").await;
        portal.goto(&link).await;
        let link_page = portal.current_path().await;
        portal.press("Sign me in").await;
        portal.wait_to_leave(&link_page).await;
        portal.phone().await;
        portal.goto("/portal/account/notifications").await;
        portal.wait_for("button[data-push-key]:not([hidden])").await;
        portal.assert_no_sideways_scroll().await;
        portal.audit().await;
        // Nothing was asked on load.
        let asked = portal
            .run_async_script(
                "const done = arguments[arguments.length - 1]; done(Notification.permission);",
                vec![],
            )
            .await;
        assert_eq!(asked, serde_json::json!("default"), "not asked on load");
        // She refuses when the browser asks: the page says how to allow it.
        portal.set_permission("notifications", "denied").await;
        portal.press("Notify me on this device").await;
        portal.wait_for_text("#push-status", "blocked").await;
        // She allows it: the service worker is registered for the whole
        // site. (Headless Chromium reaches no push service, so the
        // subscription itself does not complete here; the tests above
        // stand in for the browser's side of it.)
        portal.set_permission("notifications", "granted").await;
        portal.press("Notify me on this device").await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let script = portal
                .run_async_script(
                    "const done = arguments[arguments.length - 1]; \
                     navigator.serviceWorker.getRegistration('/').then(r => \
                     done(r && r.active ? r.active.scriptURL : null));",
                    vec![],
                )
                .await;
            if let Some(url) = script.as_str() {
                assert!(url.ends_with("/sw.js"), "{url}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no service worker");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        portal.audit().await;
    })
    .await;
}
