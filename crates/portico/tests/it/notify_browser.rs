//! Notifications in a real browser (N1, N2): the portal's unread count
//! and the staff "Portal chat" bar, live.

use crate::browser::run_story;
use crate::harness::{PASSWORD, TestApp, active};
use portico::app::chats::SendInput;
use portico::app::questions::Actor;
use portico::domain::Role;

#[tokio::test]
async fn the_portal_count_and_the_staff_alert_bar_update_live_and_the_bar_opens_the_chat() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let client = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&client]).await;
    let carol = app
        .with_staff(practice.id, "carol@harbour.example", Role::Member)
        .await;
    app.store()
        .assign_staff(practice.id, client.id, carol.id)
        .await
        .unwrap();
    let chat = app
        .app
        .open_direct_chat(&admin, client.id, hannah.id)
        .await
        .unwrap();
    let app = &app;
    let send = |actor: Actor<'_>, body: &str| {
        let input = SendInput {
            body: body.into(),
            key: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        };
        let app = app.app.clone();
        let chat = chat.id;
        let actor = match actor {
            Actor::Staff(s) => Ok(s.clone()),
            Actor::Contact(c) => Err(c.clone()),
        };
        async move {
            match &actor {
                Ok(staff) => app.send_message(Actor::Staff(staff), chat, &input).await,
                Err(contact) => {
                    app.send_message(Actor::Contact(contact), chat, &input)
                        .await
                }
            }
            .unwrap();
        }
    };
    run_story(
        "the_portal_count_and_the_staff_alert_bar_update_live",
        &app.base_url,
        |portal| async move {
            // Hannah on her portal home.
            portal.goto("/portal/sign-in").await;
            portal.fill("#link-email", &hannah.email).await;
            portal.press("Send me a link").await;
            portal.wait_for_text("h1", "Check your e-mail").await;
            let link = app.latest_link(&hannah.email, "/portal/link/").await;
            portal.goto(&link).await;
            portal.press("Sign me in").await;
            // Her portal home: nothing waits for her yet.
            portal
                .wait_for_path(&format!("/portal/clients/{}", client.id))
                .await;
            portal
                .wait_for_text("#waiting", "Nothing needs you right now.")
                .await;

            // Her page's socket is open; staff write: her Messages link counts it, live.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while app.app.live.sockets() < 1 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the portal's socket opened"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            send(Actor::Staff(&admin), "Your return is ready.").await;
            portal
                .wait_for_text("[data-messages-link] .badge", "1")
                .await;
            // The home says what waits, and leads to it (the chat is not
            // open there, so the message stays unread).
            portal
                .wait_for_text("#waiting", "1 new message needs you")
                .await;
            send(Actor::Staff(&admin), "Sign it by Friday, please.").await;
            portal
                .wait_for_text("#waiting", "2 new messages need you")
                .await;
            portal
                .wait_for_text("[data-messages-link] .badge", "2")
                .await;
            assert_eq!(
                portal
                    .count(&format!("#waiting a[href='/portal/messages/{}']", chat.id))
                    .await,
                1
            );

            // Carol looks after the client but is not in the chat.
            let staff = portal.another().await;
            staff.goto("/app/sign-in").await;
            staff.fill("#email", &carol.email).await;
            staff.fill("#password", PASSWORD).await;
            staff.press("Sign in").await;
            staff.wait_for_path("/app").await;
            staff.goto("/app/clients").await;
            // Hannah's page and Carol's each hold a socket once opened.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while app.app.live.sockets() < 2 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the pages' sockets opened"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            send(Actor::Contact(&hannah), "Can someone call me?").await;
            let text = staff
                .wait_for_text("[data-alert-text]", "hannah wrote about Northwind Bakery")
                .await;
            assert!(text.contains("Northwind Bakery"));
            staff.click("[data-alert-open]").await;
            staff.press("Join the chat").await;
            staff
                .wait_for_path(&format!("/app/messages/{}", chat.id))
                .await;
            staff
                .wait_for_text("#messages", "Can someone call me?")
                .await;
        },
    )
    .await;
}
