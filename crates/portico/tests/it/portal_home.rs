//! The portal's home (P6, N2): what waits for a contact in every client she
//! reaches — open questions (an assigned one only to its assignee), new
//! messages per chat, the latest status — and where `/portal` lands her.

use crate::harness::{Page, TestApp, World, ask_with, location, say_as};
use portico::app::chats::SendInput;
use portico::app::questions::{Actor, QuestionInput};

#[tokio::test]
async fn the_home_lists_what_waits_in_every_client_and_lands_where_she_is_needed() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let bakery = w.client("Northwind Bakery").await;
    let cafe = w.client("Copperleaf Cafe").await;
    let hannah = w
        .contact("hannah@northwind.example", &[&bakery, &cafe])
        .await;
    let tom = w.contact("tom@northwind.example", &[&bakery]).await;
    app.store()
        .set_assignable_questions(w.id(), bakery.id, true)
        .await
        .unwrap();
    let browser = w.portal(&hannah).await;

    // Nothing waits: her overview of both, saying so.
    let response = browser.get("/portal").await;
    assert_eq!(location(&response), "/portal/overview");
    let (status, html) = browser.page("/portal/overview").await;
    assert_eq!(status, 200);
    assert!(html.contains("Nothing needs you right now."), "{html}");
    assert!(html.contains("Northwind Bakery") && html.contains("Copperleaf Cafe"));

    // A question for Tom only, and one for every contact of the café.
    let toms = QuestionInput {
        title: "Tom: sign the payroll".into(),
        assignee: Some(tom.id),
        ..Default::default()
    };
    let toms = ask_with(&app, &w.admin, &bakery, toms).await;
    let cafes = w.ask(&cafe, "Send the café's March till rolls").await;

    // Only the café needs her: she lands there, and it says so.
    let response = browser.get("/portal").await;
    assert_eq!(location(&response), format!("/portal/clients/{}", cafe.id));
    let (_, html) = browser.page(&format!("/portal/clients/{}", cafe.id)).await;
    assert!(html.contains("1 question needs you"), "{html}");
    assert_eq!(
        Page::parse(&html).attrs("#waiting li a", "href"),
        [format!("/portal/questions/{cafes}")]
    );
    assert!(!html.contains("No news yet"));
    assert!(!html.contains("Tom: sign the payroll"));

    // Staff write to her about the bakery: now both need her.
    let chat = app
        .app
        .open_direct_chat(&w.admin, bakery.id, hannah.id)
        .await
        .unwrap();
    for body in ["Your payslips are ready.", "And the P60."] {
        say_as(&app, Actor::Staff(&w.admin), chat.id, body).await;
    }
    app.app
        .send_message(
            Actor::Staff(&w.admin),
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
    let page = Page::parse(&html);
    let bakery_part = format!("section[aria-labelledby='client-{}']", bakery.id);
    assert_eq!(
        page.attrs(&format!("{bakery_part} li a"), "href"),
        [format!("/portal/messages/{}", chat.id)],
        "her chat, not Tom's question"
    );
    assert_eq!(
        page.text(&format!("{bakery_part} li [data-chat-unread]")),
        "3 new messages"
    );
    assert!(
        page.text(&format!("{bakery_part} .status-line"))
            .starts_with("Latest status: Your payroll is filed."),
        "{html}"
    );
    assert_eq!(
        page.attrs(
            &format!("section[aria-labelledby='client-{}'] li a", cafe.id),
            "href"
        ),
        [format!("/portal/questions/{cafes}")]
    );
    assert!(!html.contains("Tom: sign the payroll"), "not hers");

    // On the café's page the switcher tells, unopened, that the bakery waits.
    let (_, html) = browser.page(&format!("/portal/clients/{}", cafe.id)).await;
    let page = Page::parse(&html);
    assert_eq!(
        page.text("#switcher summary [data-others-waiting]"),
        "1 other account needs you"
    );
    assert_eq!(
        page.text("#switcher a[href='/portal/overview']"),
        "All my accounts"
    );

    // Read, the messages no longer wait.
    browser.page(&format!("/portal/messages/{}", chat.id)).await;
    let (_, html) = browser.page("/portal/overview").await;
    assert!(html.contains("1 question needs you"), "{html}");

    // Tom has one client: he lands on it, and sees his own question.
    let tom_browser = w.portal(&tom).await;
    let response = tom_browser.get("/portal").await;
    assert_eq!(
        location(&response),
        format!("/portal/clients/{}", bakery.id)
    );
    let (_, html) = tom_browser
        .page(&format!("/portal/clients/{}", bakery.id))
        .await;
    assert!(html.contains("1 question needs you"), "{html}");
    assert_eq!(
        Page::parse(&html).attrs("#waiting li a", "href"),
        [format!("/portal/questions/{toms}")]
    );
    // The overview is his too, and lists only what he reaches.
    let (status, html) = tom_browser.page("/portal/overview").await;
    assert_eq!(status, 200);
    assert!(!html.contains("Copperleaf Cafe"));
}
