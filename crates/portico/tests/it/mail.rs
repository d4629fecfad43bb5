//! E-mail through the outbox (N3) over a real SMTP conversation.

use crate::harness::{TestApp, location};
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
        Some("\"Harbour Portal\" <portal@harbour.example>")
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
