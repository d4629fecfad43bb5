//! E-mail through the outbox (N3) over a real SMTP conversation.

use crate::harness::{TestApp, free_port, location};
use crate::smtp::SmtpServer;
use portico::config::ConfigArgs;
use portico::store::OutboxStatus;
use std::time::{Duration, Instant};

fn smtp_args(url: String) -> ConfigArgs {
    ConfigArgs {
        smtp_url: Some(url),
        public_url: Some("https://portal.example.com".into()),
        mail_from: Some("Harbour Portal <portal@harbour.example>".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_invitation_is_delivered_over_smtp_with_both_parts_and_the_public_link() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(smtp_args(smtp.url())).await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[])
        .await;
    let staff = app.staff_browser(&admin.email).await;
    staff
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    assert_eq!(app.deliver_mail().await, 1);

    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(mail.from, "portal@harbour.example");
    assert_eq!(mail.to, vec!["hannah@northwind.example".to_owned()]);
    assert_eq!(
        mail.header("From").as_deref(),
        // X15: the practice's name, at `mail_from`'s address.
        Some("Harbour <portal@harbour.example>")
    );
    assert_eq!(
        mail.header("To").as_deref(),
        Some("hannah@northwind.example")
    );
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Harbour invites you to their client portal")
    );
    let message_id = mail.header("Message-ID").unwrap();
    assert!(message_id.ends_with("@portico>"), "{message_id}");
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    assert!(mail.data.contains("Content-Type: text/plain"));
    assert!(mail.data.contains("Content-Type: text/html"));
    // Links use the configured public address, never the request's Host.
    let data = mail.data.replace("=\r\n", "");
    assert!(
        data.contains("https://portal.example.com/portal/invitation/"),
        "{data}"
    );
    assert!(!data.contains("127.0.0.1"));

    let item = &app.store().outbox_for(&hannah.email).await.unwrap()[0];
    assert_eq!(item.status, OutboxStatus::Sent);
    assert_eq!(item.attempts, 1);
    // Nothing more to send: delivered once.
    assert_eq!(app.deliver_mail().await, 0);
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn mail_waits_while_the_server_is_down_and_is_delivered_once_when_it_is_back() {
    let port = free_port();
    let app = TestApp::spawn_with(smtp_args(format!("smtp://127.0.0.1:{port}"))).await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[])
        .await;
    let staff = app.staff_browser(&admin.email).await;
    let response = staff
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    assert_eq!(
        location(&response),
        "/app/contacts?done=invited",
        "the change does not wait for mail"
    );

    assert_eq!(app.deliver_mail().await, 0);
    let item = app
        .store()
        .outbox_for(&hannah.email)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(item.status, OutboxStatus::Pending);
    assert_eq!(item.attempts, 1);
    assert!(item.last_error.is_some());

    let smtp = SmtpServer::start_on(port).await;
    assert_eq!(app.deliver_mail().await, 0, "not before its retry is due");
    app.clock.advance(Duration::from_secs(31));
    assert_eq!(app.deliver_mail().await, 1);
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(app.deliver_mail().await, 0);
    assert_eq!(smtp.messages().len(), 1, "delivered once");
    let item = app
        .store()
        .outbox_for(&hannah.email)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(item.status, OutboxStatus::Sent);
    assert_eq!(item.attempts, 2);
}

#[tokio::test]
async fn mail_that_keeps_failing_is_dead_until_an_admin_retries_it() {
    let port = free_port();
    let app = TestApp::spawn_with(smtp_args(format!("smtp://127.0.0.1:{port}"))).await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[])
        .await;
    let staff = app.staff_browser(&admin.email).await;
    staff
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    for _ in 0..portico::delivery::worker::MAX_ATTEMPTS {
        app.deliver_mail().await;
        app.clock.advance(Duration::from_secs(3601));
    }
    let item = app
        .store()
        .outbox_for(&hannah.email)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(item.status, OutboxStatus::Dead);
    assert_eq!(
        app.deliver_mail().await,
        0,
        "dead mail is not retried by itself"
    );

    let (_, html) = staff.page("/app/settings").await;
    assert!(html.contains("1 could not be delivered"));
    let (_, html) = staff.page("/app/settings/outbox").await;
    assert!(html.contains("hannah@northwind.example"));
    assert!(html.contains("Harbour invites you to their client portal"));

    let smtp = SmtpServer::start_on(port).await;
    let response = staff
        .post_form(&format!("/app/settings/outbox/{}/retry", item.id), &[])
        .await;
    assert_eq!(location(&response), "/app/settings/outbox?done=retried");
    assert_eq!(app.deliver_mail().await, 1);
    assert_eq!(smtp.messages().len(), 1);
    // Another practice's admin cannot retry it.
    let (_, rival_admin) = app.with_practice("Rival").await;
    let rival = app.staff_browser(&rival_admin.email).await;
    let response = rival
        .post_form(&format!("/app/settings/outbox/{}/retry", item.id), &[])
        .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_servers_own_worker_delivers_without_being_asked() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_full(smtp_args(smtp.url()), true).await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[])
        .await;
    let staff = app.staff_browser(&admin.email).await;
    staff
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while smtp.messages().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(smtp.messages().len(), 1);
}

/// What a fake SMS provider received: the Authorization header and the form.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<(String, String)>)>>>;

/// A stand-in for an SMS provider's REST API on 127.0.0.1, answering with
/// `status`.
async fn sms_provider(status: u16) -> (String, Received) {
    use axum::extract::State;
    let received: Received = Default::default();
    let app = axum::Router::new()
        .route(
            "/Accounts/AC123/Messages.json",
            axum::routing::post(
                |State((received, status)): State<(Received, u16)>,
                 headers: axum::http::HeaderMap,
                 axum::Form(form): axum::Form<Vec<(String, String)>>| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    received.lock().unwrap().push((auth, form));
                    axum::http::StatusCode::from_u16(status).unwrap()
                },
            ),
        )
        .with_state((received.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (
        format!("http://{addr}/Accounts/AC123/Messages.json"),
        received,
    )
}

fn sms_args(url: String) -> ConfigArgs {
    ConfigArgs {
        sms_url: Some(url),
        sms_account: Some("AC123".into()),
        sms_token: Some("sms-secret-token".into()),
        sms_from: Some("+61400000000".into()),
        ..Default::default()
    }
}

async fn queue_text(app: &TestApp) {
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[&bakery])
        .await;
    app.store()
        .set_contact_status(
            practice.id,
            hannah.id,
            portico::store::ContactStatus::Active,
        )
        .await
        .unwrap();
    app.store()
        .update_contact(
            practice.id,
            hannah.id,
            &portico::domain::Name::parse("Hannah").unwrap(),
            Some(&portico::domain::PhoneNumber::parse("+61 412 345 678").unwrap()),
        )
        .await
        .unwrap();
    let staff = app.staff_browser(&admin.email).await;
    let response = staff
        .post_form(
            &format!("/app/clients/{}/send", bakery.id),
            &[
                ("to", &hannah.id.to_string()),
                ("channel", "sms"),
                ("message", "Your return is ready."),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn texts_go_to_the_sms_providers_api() {
    let (url, received) = sms_provider(201).await;
    let app = TestApp::spawn_with(sms_args(url)).await;
    queue_text(&app).await;
    assert_eq!(app.deliver_mail().await, 1);
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (auth, form) = &received[0];
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode("AC123:sms-secret-token");
    assert_eq!(auth, &format!("Basic {expected}"));
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("To"), Some("+61412345678"));
    assert_eq!(field("From"), Some("+61400000000"));
    assert!(field("Body").unwrap().starts_with("Your return is ready."));
}

#[tokio::test]
async fn a_text_the_provider_refuses_is_not_retried_and_one_it_cannot_take_now_is() {
    let (url, received) = sms_provider(400).await;
    let app = TestApp::spawn_with(sms_args(url)).await;
    queue_text(&app).await;
    assert_eq!(app.deliver_mail().await, 0);
    let item = app
        .store()
        .outbox_for("+61412345678")
        .await
        .unwrap()
        .remove(0);
    assert_eq!(item.status, OutboxStatus::Dead, "a 400 will not get better");
    assert_eq!(received.lock().unwrap().len(), 1);

    let (url, received) = sms_provider(503).await;
    let app = TestApp::spawn_with(sms_args(url)).await;
    queue_text(&app).await;
    app.deliver_mail().await;
    let item = app
        .store()
        .outbox_for("+61412345678")
        .await
        .unwrap()
        .remove(0);
    assert_eq!(item.status, OutboxStatus::Pending, "a 503 is tried again");
    assert_eq!(received.lock().unwrap().len(), 1);
}
