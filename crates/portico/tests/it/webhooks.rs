//! X3 webhooks: a receiver the test runs on 127.0.0.1 checks the Standard
//! Webhooks signatures (verified here with `hmac`/`sha2`, apart from
//! Portico's own signing code) and the order of events; a failing endpoint
//! is retried with back-off on a manual clock and then disabled; private
//! addresses are refused; secrets rotate with overlap; text only with the
//! practice's setting; members and other practices refused. SQLite, and
//! PostgreSQL with `PORTICO_TEST_BACKEND=postgres`.

use crate::harness::{TestApp, location, origin};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use portico::app::chats::SendInput;
use portico::app::questions::{Actor, QuestionInput};
use portico::app::webhooks::EndpointInput;
use portico::domain::{Role, WebhookId};
use portico::store::{Staff, WebhookEndpoint};
use serde_json::Value;
use sha2::Sha256;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the receiver took.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signatures: Vec<String>,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or("").to_owned()
    }

    /// Whether one of the signatures is `secret`'s, per the specification:
    /// HMAC-SHA256 over `id.timestamp.body` with the key after `whsec_`.
    fn signed_with(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
            .expect("base64 key");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.{}", self.id, self.timestamp, self.body).as_bytes());
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.signatures.contains(&expected)
    }
}

/// An HTTP server on 127.0.0.1 that records what it is sent and answers
/// with the status the test sets.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    receiver.got.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signatures: header("webhook-signature")
            .split(' ')
            .map(str::to_owned)
            .collect(),
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    let status = StatusCode::from_u16(receiver.status.load(Ordering::SeqCst)).unwrap();
    (status, "thanks")
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
            got: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
        };
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        receiver
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

fn every_event() -> Vec<String> {
    portico::store::WebhookEvent::ALL
        .iter()
        .map(|e| e.code().to_owned())
        .collect()
}

/// An endpoint on the receiver, registered by `admin` through the use case.
async fn endpoint(t: &TestApp, admin: &Staff, receiver: &Receiver) -> WebhookEndpoint {
    t.app
        .create_webhook(
            admin,
            &EndpointInput {
                url: receiver.url.clone(),
                description: "Practice management".into(),
                events: every_event(),
                allow_local: true,
            },
            &origin(),
        )
        .await
        .unwrap()
}

async fn endpoint_now(t: &TestApp, e: &WebhookEndpoint) -> WebhookEndpoint {
    t.store()
        .webhook_endpoint(e.practice_id, e.id)
        .await
        .unwrap()
}

async fn say(t: &TestApp, admin: &Staff, chat: portico::domain::ChatId, body: &str) {
    t.app
        .send_message(
            Actor::Staff(admin),
            chat,
            &SendInput {
                body: body.into(),
                key: uuid::Uuid::now_v7().to_string(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn x3_events_arrive_signed_in_order_once_with_text_only_when_allowed() {
    let t = TestApp::spawn().await;
    let (practice, admin) = t.with_practice("Harbour").await;
    let receiver = Receiver::start().await;

    // The admin registers the endpoint on the Integrations page.
    let browser = t.staff_browser(&admin.email).await;
    let (status, html) = browser.page("/app/settings").await;
    assert_eq!(status, 200);
    assert!(html.contains("/app/settings/integrations"));
    let mut form = vec![
        ("url", receiver.url.as_str()),
        ("description", "Practice management"),
        ("allow_local", "on"),
    ];
    for event in ["message.created", "client.created", "question.asked"] {
        form.push(("events", event));
    }
    for event in [
        "question.answered",
        "question.resolved",
        "contact.activated",
    ] {
        form.push(("events", event));
    }
    let response = browser.post_form("/app/settings/integrations", &form).await;
    assert_eq!(response.status(), 303);
    let page = location(&response);
    assert!(page.starts_with("/app/settings/integrations/"), "{page}");
    let id: WebhookId = page
        .trim_start_matches("/app/settings/integrations/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let registered = t.store().webhook_endpoint(practice.id, id).await.unwrap();
    assert!(registered.secret.starts_with("whsec_"));
    let (_, html) = browser.page(&page).await;
    assert!(
        html.contains(&registered.secret),
        "the admin sees the secret"
    );

    // Events of several kinds, in the order they happened.
    let client = t
        .app
        .create_client(&admin, "Northwind Bakery", "business")
        .await
        .unwrap();
    let hannah = t
        .with_contact(practice.id, "hannah@northwind.example", &[&client])
        .await;
    t.app
        .invite_contact(&admin, hannah.id, &origin())
        .await
        .unwrap();
    let link = t.latest_link(&hannah.email, "/portal/invitation/").await;
    let response = t.browser().post_form(&link, &[]).await;
    assert_eq!(location(&response), "/portal");
    let hannah = t.store().get_contact(practice.id, hannah.id).await.unwrap();
    let asked = t
        .app
        .ask_questions(
            &admin,
            client.id,
            &[QuestionInput {
                title: "Your bank statements".into(),
                details: "For March, please.".into(),
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    let question = asked[0].id;
    t.app
        .answer_question(&hannah, question, "Attached, thanks.", &[], &origin())
        .await
        .unwrap();
    t.app
        .set_question_resolved(&admin, question, true)
        .await
        .unwrap();
    let chat = t
        .app
        .open_direct_chat(&admin, client.id, hannah.id)
        .await
        .unwrap();
    for n in 1..=3 {
        say(&t, &admin, chat.id, &format!("Private note {n}")).await;
    }

    // Two instances post at once: each delivery goes once.
    let other = t.another_instance().await;
    let (mine, theirs) = (t.app.webhook_worker(), other.webhook_worker());
    let (a, b) = tokio::join!(mine.run_once(), theirs.run_once());
    a.unwrap();
    b.unwrap();
    t.app.webhook_worker().run_once().await.unwrap();
    let got = receiver.got();
    let kinds: Vec<String> = got.iter().map(Received::kind).collect();
    assert_eq!(
        kinds,
        [
            "client.created",
            "contact.activated",
            "question.asked",
            "question.answered",
            "question.resolved",
            "message.created",
            "message.created",
            "message.created",
        ],
        "in order, each once"
    );
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), got.len());
    for r in &got {
        assert!(r.id.starts_with("msg_"));
        assert_eq!(r.signatures.len(), 1);
        assert!(r.signed_with(&registered.secret), "{r:?}");
        assert!(!r.signed_with(&portico::delivery::webhooks::new_secret()));
        assert_eq!(
            r.timestamp.parse::<i64>().unwrap(),
            t.clock.now().0 / 1000,
            "seconds since the epoch"
        );
    }
    let seqs: Vec<i64> = got[5..]
        .iter()
        .map(|r| r.json()["data"]["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let first = got[5].json();
    assert_eq!(first["data"]["chat_id"], chat.id.to_string());
    assert!(first["data"].get("text").is_none(), "no text by default");
    assert!(!got[2].body.contains("bank statements"));
    assert_eq!(got[0].json()["data"]["client_id"], client.id.to_string());
    assert_eq!(got[1].json()["data"]["contact_id"], hannah.id.to_string());
    assert_eq!(got[4].json()["data"]["question_id"], question.to_string());

    // A tampered body does not verify.
    let mut forged = got[5].clone();
    forged.body = forged.body.replace("message.created", "message.deleted");
    assert!(!forged.signed_with(&registered.secret));

    // With the practice's setting on, the text goes too.
    let response = browser
        .post_form(
            "/app/settings/integrations/content",
            &[("include_content", "on")],
        )
        .await;
    assert_eq!(response.status(), 303);
    say(&t, &admin, chat.id, "Text allowed now").await;
    t.app.webhook_worker().run_once().await.unwrap();
    let last = receiver.got().last().unwrap().json();
    assert_eq!(last["data"]["text"], "Text allowed now");

    // The endpoint's page lists its deliveries with their answers.
    let (_, html) = browser.page(&page).await;
    assert!(html.contains("message.created"));
    assert!(html.contains("Delivered"));
    assert!(html.contains("200"));

    // A test event on request.
    let response = browser
        .post_form(&format!("{page}/test").replace("?done=added", ""), &[])
        .await;
    assert_eq!(response.status(), 303);
    t.app.webhook_worker().run_once().await.unwrap();
    assert_eq!(receiver.got().last().unwrap().kind(), "webhook.test");

    // X2: the audit log has the endpoint's story.
    let entries = t
        .store()
        .audit_entries(practice.id, &Default::default(), None, 50)
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.action == portico::store::AuditKind::WebhookCreated.code())
    );
}

#[tokio::test]
async fn x3_a_failing_endpoint_is_retried_with_back_off_then_disabled_and_admins_told() {
    let t = TestApp::spawn().await;
    let (practice, admin) = t.with_practice("Harbour").await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let e = endpoint(&t, &admin, &receiver).await;
    t.app
        .create_client(&admin, "First Client", "business")
        .await
        .unwrap();
    t.app
        .create_client(&admin, "Second Client", "business")
        .await
        .unwrap();

    // Attempt after attempt, only the first event is tried (order), each
    // time later, until three days have passed without a success.
    let mut waits = Vec::new();
    let mut tries = 0;
    while endpoint_now(&t, &e).await.enabled {
        tries += 1;
        assert!(tries < 40, "never disabled");
        t.app.webhook_worker().run_once().await.unwrap();
        let deliveries = t
            .store()
            .webhook_deliveries(practice.id, e.id, 10)
            .await
            .unwrap();
        let head = deliveries.last().unwrap();
        assert_eq!(head.attempts, tries);
        assert_eq!(head.last_status, Some(500));
        assert_eq!(deliveries[0].attempts, 0, "the later event waits");
        let wait = head.next_attempt_at.0 - t.clock.now().0;
        waits.push(wait / 1000);
        // Nothing is tried before its time.
        t.clock
            .advance(Duration::from_millis(u64::try_from(wait - 1).unwrap()));
        assert_eq!(t.app.webhook_worker().run_once().await.unwrap(), 0);
        t.clock.advance(Duration::from_millis(1));
    }
    assert_eq!(&waits[..6], &[5, 300, 1_800, 7_200, 18_000, 36_000]);
    let got = receiver.got();
    assert_eq!(got.len(), waits.len());
    assert!(got.iter().all(|r| r.id == got[0].id), "one event, one id");
    assert!(got.iter().all(|r| r.kind() == "client.created"));
    assert!(got[0].body.contains("First Client"));
    let disabled = endpoint_now(&t, &e).await;
    assert!(disabled.disabled_reason.is_some());
    let failing_for = t.clock.now().0 - disabled.failing_since.unwrap().0;
    assert!(failing_for >= 3 * 24 * 3600 * 1000);

    // The admins are told by e-mail and on the page.
    let mail = t.store().outbox_for(&admin.email).await.unwrap();
    assert!(
        mail.iter()
            .any(|m| m.subject == "A webhook endpoint was turned off"
                && m.body_text.contains(&receiver.url)),
        "{mail:?}"
    );
    let browser = t.staff_browser(&admin.email).await;
    let (_, html) = browser.page("/app/settings/integrations").await;
    assert!(html.contains("Portico turned off"));

    // Disabled, it is left alone, and new events are not queued for it.
    t.clock.advance(Duration::from_secs(86_400));
    assert_eq!(t.app.webhook_worker().run_once().await.unwrap(), 0);

    // Fixed and turned back on, what waited goes, in order.
    receiver.answer(204);
    let browser = t.staff_browser(&admin.email).await;
    let response = browser
        .post_form(
            &format!("/app/settings/integrations/{}/enabled", e.id),
            &[("enabled", "on")],
        )
        .await;
    assert_eq!(
        location(&response),
        format!("/app/settings/integrations/{}?done=enabled", e.id)
    );
    t.app.webhook_worker().run_once().await.unwrap();
    let got = receiver.got();
    let names: Vec<String> = got[got.len() - 2..]
        .iter()
        .map(|r| r.json()["data"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["First Client", "Second Client"]);
    let back = endpoint_now(&t, &e).await;
    assert!(back.enabled && back.failing_since.is_none() && back.disabled_reason.is_none());
}

#[tokio::test]
async fn x3_private_addresses_are_refused_at_registration_and_at_delivery() {
    let t = TestApp::spawn().await;
    let (practice, admin) = t.with_practice("Harbour").await;
    let browser = t.staff_browser(&admin.email).await;

    // A name that resolves to the server's own address, without the
    // testing allowance: refused, the form kept filled.
    let response = browser
        .post_form(
            "/app/settings/integrations",
            &[
                ("url", "https://localhost:9/hook"),
                ("description", "Mine"),
                ("events", "client.created"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("private or local network"), "{html}");
    assert!(html.contains("https://localhost:9/hook"));
    for (url, allow) in [
        ("https://10.1.2.3/hook", true),
        ("https://169.254.169.254/latest", true),
        ("https://[::1]/hook", false),
        ("http://hooks.example.com/hook", false),
    ] {
        let refused = t
            .app
            .create_webhook(
                &admin,
                &EndpointInput {
                    url: url.into(),
                    events: every_event(),
                    allow_local: allow,
                    ..Default::default()
                },
                &origin(),
            )
            .await;
        assert!(
            matches!(refused, Err(portico::app::AppError::Invalid(_))),
            "{url}: {refused:?}"
        );
    }
    assert!(
        t.store()
            .webhook_endpoints(practice.id)
            .await
            .unwrap()
            .is_empty()
    );

    // At delivery the resolved address is checked again: a registered
    // address whose name now points inside (as DNS rebinding would) gets
    // nothing.
    let receiver = Receiver::start().await;
    let e = t
        .app
        .create_webhook(
            &admin,
            &EndpointInput {
                url: "https://93.184.216.34/hook".into(),
                events: every_event(),
                ..Default::default()
            },
            &origin(),
        )
        .await
        .unwrap();
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let sql: &'static str = Box::leak(
        format!(
            "UPDATE webhook_endpoints SET url = 'https://localhost:{port}/hook' WHERE id = '{}'",
            e.id
        )
        .into_boxed_str(),
    );
    t.execute_sql(sql).await;
    t.app
        .create_client(&admin, "Northwind Bakery", "business")
        .await
        .unwrap();
    assert_eq!(t.app.webhook_worker().run_once().await.unwrap(), 1);
    assert!(receiver.got().is_empty());
    let deliveries = t
        .store()
        .webhook_deliveries(practice.id, e.id, 10)
        .await
        .unwrap();
    let error = deliveries[0].last_error.clone().unwrap();
    assert!(error.contains("private or local network"), "{error}");
    assert_eq!(deliveries[0].last_status, None);
}

#[tokio::test]
async fn x3_a_rotated_secret_signs_beside_the_new_one_for_a_day() {
    let t = TestApp::spawn().await;
    let (_, admin) = t.with_practice("Harbour").await;
    let receiver = Receiver::start().await;
    let e = endpoint(&t, &admin, &receiver).await;
    let browser = t.staff_browser(&admin.email).await;
    let response = browser
        .post_form(&format!("/app/settings/integrations/{}/rotate", e.id), &[])
        .await;
    assert_eq!(response.status(), 303);
    let rotated = endpoint_now(&t, &e).await;
    assert_ne!(rotated.secret, e.secret);
    assert_eq!(rotated.previous_secret.as_deref(), Some(e.secret.as_str()));

    t.app.send_webhook_test(&admin, e.id).await.unwrap();
    t.app.webhook_worker().run_once().await.unwrap();
    let during = receiver.got().pop().unwrap();
    assert_eq!(during.signatures.len(), 2, "{during:?}");
    assert!(
        during.signed_with(&e.secret),
        "the old secret still verifies"
    );
    assert!(during.signed_with(&rotated.secret));

    t.clock.advance(Duration::from_secs(24 * 3600 + 1));
    t.app.send_webhook_test(&admin, e.id).await.unwrap();
    t.app.webhook_worker().run_once().await.unwrap();
    let after = receiver.got().pop().unwrap();
    assert_eq!(after.signatures.len(), 1);
    assert!(after.signed_with(&rotated.secret));
    assert!(!after.signed_with(&e.secret));

    let entries = t
        .store()
        .audit_entries(e.practice_id, &Default::default(), None, 50)
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.action == portico::store::AuditKind::WebhookSecretRotated.code())
    );
}

#[tokio::test]
async fn x3_members_and_other_practices_cannot_reach_endpoints() {
    let t = TestApp::spawn().await;
    let (practice, admin) = t.with_practice("Harbour").await;
    let receiver = Receiver::start().await;
    let e = endpoint(&t, &admin, &receiver).await;
    let page = format!("/app/settings/integrations/{}", e.id);

    // A member: no link, and 403 for every page and form.
    t.with_staff(practice.id, "mia@harbour.example", Role::Member)
        .await;
    let member = t.staff_browser("mia@harbour.example").await;
    let (_, home) = member.page("/app").await;
    assert!(!home.contains("href=\"/app/settings\""));
    let (status, _) = member.page("/app/settings/integrations").await;
    assert_eq!(status, 403);
    let (status, _) = member.page(&page).await;
    assert_eq!(status, 403);
    for path in [
        "/app/settings/integrations".to_owned(),
        format!("{page}/delete"),
        format!("{page}/rotate"),
        format!("{page}/test"),
    ] {
        let response = member
            .post_form(
                &path,
                &[("url", "https://h.example/"), ("events", "client.created")],
            )
            .await;
        assert_eq!(response.status(), 403, "{path}");
    }

    // Another practice's admin: not found.
    let (_, other_admin) = t.with_practice("Elsewhere").await;
    let other = t.staff_browser(&other_admin.email).await;
    let (status, html) = other.page(&page).await;
    assert_eq!(status, 404);
    assert!(!html.contains(&e.secret));
    for path in [
        format!("{page}/delete"),
        format!("{page}/rotate"),
        page.clone(),
    ] {
        let response = other
            .post_form(
                &path,
                &[("url", "https://h.example/"), ("events", "client.created")],
            )
            .await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let (_, list) = other.page("/app/settings/integrations").await;
    assert!(!list.contains(&receiver.url));
    assert!(t.app.webhook_endpoint(&other_admin, e.id).await.is_err());
    // Its events do not go to the first practice's endpoint either.
    t.app
        .create_client(&other_admin, "Their Client", "business")
        .await
        .unwrap();
    assert_eq!(t.app.webhook_worker().run_once().await.unwrap(), 0);

    // The admin removes it; it is gone with its deliveries.
    let browser = t.staff_browser(&admin.email).await;
    let response = browser.post_form(&format!("{page}/delete"), &[]).await;
    assert_eq!(
        location(&response),
        "/app/settings/integrations?done=deleted"
    );
    assert!(
        t.store()
            .webhook_endpoints(practice.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn x3_the_integrations_pages_fit_a_phone_and_pass_axe() {
    use crate::browser::run_story;
    let t = TestApp::spawn().await;
    let (_, admin) = t.with_practice("Harbour & Vale Accounting").await;
    let receiver = Receiver::start().await;
    let e = endpoint(&t, &admin, &receiver).await;
    t.app.send_webhook_test(&admin, e.id).await.unwrap();
    t.app.webhook_worker().run_once().await.unwrap();
    let t = &t;
    run_story(
        "x3_the_integrations_pages_fit_a_phone_and_pass_axe",
        &t.base_url,
        |browser| async move {
            browser.phone().await;
            browser.goto("/app/sign-in").await;
            browser.fill("#email", &admin.email).await;
            browser.fill("#password", crate::harness::PASSWORD).await;
            browser.press("Sign in").await;
            browser.wait_for_path("/app").await;
            browser.goto("/app/settings/integrations").await;
            browser.wait_for("#url").await;
            browser.assert_no_sideways_scroll().await;
            browser
                .goto(&format!("/app/settings/integrations/{}", e.id))
                .await;
            browser.wait_for("#url").await;
            browser.assert_no_sideways_scroll().await;
        },
    )
    .await;
}
