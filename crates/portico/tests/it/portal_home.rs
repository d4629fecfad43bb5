//! The portal's home (P6, N2): what waits for a contact in every client she
//! reaches — open questions (an assigned one only to its assignee), new
//! messages per chat, the latest status — and where `/portal` lands her.

use crate::harness::{TestApp, active, location, signed_in};
use portico::app::chats::SendInput;
use portico::app::questions::{Actor, QuestionInput};

#[tokio::test]
async fn the_home_lists_what_waits_in_every_client_and_lands_where_she_is_needed() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let cafe = app.with_client(practice.id, "Copperleaf Cafe").await;
    let hannah = active(
        &app,
        practice.id,
        "hannah@northwind.example",
        &[&bakery, &cafe],
    )
    .await;
    let tom = active(&app, practice.id, "tom@northwind.example", &[&bakery]).await;
    app.store()
        .set_assignable_questions(practice.id, bakery.id, true)
        .await
        .unwrap();
    let browser = signed_in(&app, &hannah.email).await;

    // Nothing waits: her overview of both, saying so.
    let response = browser.get("/portal").await;
    assert_eq!(location(&response), "/portal/overview");
    let (status, html) = browser.page("/portal/overview").await;
    assert_eq!(status, 200);
    assert!(html.contains("Nothing needs you right now."), "{html}");
    assert!(html.contains("Northwind Bakery") && html.contains("Copperleaf Cafe"));

    // A question for Tom only, and one for every contact of the café.
    let ask = |client, title: &str, assignee| {
        let app = app.app.clone();
        let admin = admin.clone();
        let input = QuestionInput {
            title: title.into(),
            assignee,
            ..Default::default()
        };
        async move {
            app.ask_questions(&admin, client, &[input])
                .await
                .unwrap()
                .remove(0)
        }
    };
    let toms = ask(bakery.id, "Tom: sign the payroll", Some(tom.id)).await;
    let cafes = ask(cafe.id, "Send the café's March till rolls", None).await;

    // Only the café needs her: she lands there, and it says so.
    let response = browser.get("/portal").await;
    assert_eq!(location(&response), format!("/portal/clients/{}", cafe.id));
    let (_, html) = browser.page(&format!("/portal/clients/{}", cafe.id)).await;
    assert!(html.contains("1 question needs you"), "{html}");
    assert!(html.contains(&format!("href=\"/portal/questions/{}\"", cafes.id)));
    assert!(!html.contains("No news yet"));
    assert!(!html.contains("Tom: sign the payroll"));

    // Staff write to her about the bakery: now both need her.
    let chat = app
        .app
        .open_direct_chat(&admin, bakery.id, hannah.id)
        .await
        .unwrap();
    for body in ["Your payslips are ready.", "And the P60."] {
        app.app
            .send_message(
                Actor::Staff(&admin),
                chat.id,
                &SendInput {
                    body: body.into(),
                    key: uuid::Uuid::now_v7().to_string(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    app.app
        .send_message(
            Actor::Staff(&admin),
            chat.id,
            &SendInput {
                body: "Your payroll is filed.".into(),
                key: uuid::Uuid::now_v7().to_string(),
                set_status: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let response = browser.get("/portal").await;
    assert_eq!(location(&response), "/portal/overview");
    let (_, html) = browser.page("/portal/overview").await;
    assert!(
        html.contains("1 question and 3 new messages need you"),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"/portal/messages/{}\"", chat.id)));
    assert!(html.contains("3 new messages"));
    assert!(html.contains(&format!("href=\"/portal/questions/{}\"", cafes.id)));
    assert!(!html.contains("Tom: sign the payroll"), "not hers");
    assert!(html.contains("Latest status:"));
    assert!(html.contains("Your payroll is filed."));

    // On the café's page the switcher tells, unopened, that the bakery waits.
    let (_, html) = browser.page(&format!("/portal/clients/{}", cafe.id)).await;
    let summary = html
        .split("<summary>")
        .nth(1)
        .and_then(|rest| rest.split("</summary>").next())
        .unwrap();
    assert!(summary.contains("1 other account needs you"), "{summary}");
    assert!(
        html.contains("href=\"/portal/overview\""),
        "All my accounts"
    );

    // Read, the messages no longer wait.
    browser.page(&format!("/portal/messages/{}", chat.id)).await;
    let (_, html) = browser.page("/portal/overview").await;
    assert!(html.contains("1 question needs you"), "{html}");

    // Tom has one client: he lands on it, and sees his own question.
    let tom_browser = signed_in(&app, &tom.email).await;
    let response = tom_browser.get("/portal").await;
    assert_eq!(
        location(&response),
        format!("/portal/clients/{}", bakery.id)
    );
    let (_, html) = tom_browser
        .page(&format!("/portal/clients/{}", bakery.id))
        .await;
    assert!(html.contains("1 question needs you"), "{html}");
    assert!(html.contains(&format!("href=\"/portal/questions/{}\"", toms.id)));
    // The overview is his too, and lists only what he reaches.
    let (status, html) = tom_browser.page("/portal/overview").await;
    assert_eq!(status, 200);
    assert!(!html.contains("Copperleaf Cafe"));
}
