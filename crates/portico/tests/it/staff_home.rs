//! The staff home lists what waits for the signed-in team member, each
//! item linking to its place, and says "nothing waits" where nothing does.

use crate::harness::{Chat, Page, TestApp, World, active, free_port, signed_in};
use portico::app::questions::QuestionInput;
use portico::config::ConfigArgs;
use portico::domain::Role;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// The items of the home page's part about one kind of thing.
fn items(page: &Page, id: &str) -> Vec<String> {
    page.select_text(&format!("#{id}-section li"))
}

/// The links of the items of one part of the home page.
fn links(page: &Page, id: &str) -> Vec<String> {
    page.attrs(&format!("#{id}-section li a"), "href")
}

/// Whether one part of the home page says that nothing waits.
fn nothing_waits(page: &Page, id: &str) -> bool {
    page.has(&format!("#{id}-section .empty-state")) && items(page, id).is_empty()
}

#[tokio::test]
async fn the_staff_home_lists_what_waits_for_each_team_member() {
    // Mail goes to a server nobody runs, so it ends undeliverable.
    let port = free_port();
    let app = TestApp::spawn_with(ConfigArgs {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        ..Default::default()
    })
    .await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let p = practice.id;
    let marcus = app
        .with_staff(p, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(p, "Northwind Bakery").await;
    let cafe = app.with_client(p, "Copperleaf Cafe").await;
    app.store()
        .assign_staff(p, bakery.id, marcus.id)
        .await
        .unwrap();
    app.store()
        .assign_staff(p, cafe.id, admin.id)
        .await
        .unwrap();
    let hannah = active(&app, p, "hannah@northwind.example", &[&bakery]).await;
    let staff = app.staff_browser(&marcus.email).await;
    let admin_browser = app.staff_browser(&admin.email).await;

    // Nothing yet: each kind says so, and a member has no outbox part.
    let (status, html) = staff.page("/app").await;
    assert_eq!(status, 200);
    assert!(html.contains("Nothing waits for you."), "{html}");
    assert_eq!(Page::parse(&html).count(".empty-state"), 4);
    assert!(!html.contains("Undeliverable"), "admins only");
    let (_, html) = admin_browser.page("/app").await;
    assert_eq!(
        Page::parse(&html).text("#waiting-undeliverable-section .empty-state"),
        "Nothing waits: every e-mail and text message went out."
    );

    // Two invitations nobody accepts: Tom of the bakery, Gina of the café.
    let tom = app
        .with_contact(p, "tom@northwind.example", &[&bakery])
        .await;
    let gina = app
        .with_contact(p, "gina@copperleaf.example", &[&cafe])
        .await;
    for contact in [&tom, &gina] {
        let response = admin_browser
            .post_form(&format!("/app/contacts/{}/invite", contact.id), &[])
            .await;
        assert_eq!(response.status(), 303);
    }
    let (_, html) = staff.page("/app").await;
    assert!(
        !html.contains("tom@northwind.example"),
        "an invitation of today does not wait yet"
    );

    // One reminder, then it runs out on a question left open; another
    // question is answered.
    let response = staff
        .post_form(
            &format!("/app/clients/{}/reminders", bakery.id),
            &[
                ("every_days", "1"),
                ("at", "00:00"),
                ("max", "1"),
                ("sms_from", "21"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let asked = app
        .app
        .ask_questions(
            &marcus,
            bakery.id,
            &[
                QuestionInput {
                    title: "Is the van leased?".into(),
                    ..Default::default()
                },
                QuestionInput {
                    title: "Who is the new flour supplier?".into(),
                    ..Default::default()
                },
            ],
        )
        .await
        .unwrap();
    app.clock.advance(DAY);
    app.run_reminders_now().await;
    app.clock.advance(DAY);
    app.run_reminders_now().await;
    app.app
        .answer_question(
            &hannah,
            asked[1].id,
            "Millers & Co since March.",
            &[],
            &crate::harness::origin(),
        )
        .await
        .unwrap();

    // Days go by; the mail server never answers.
    app.clock.advance(DAY * 2);
    for _ in 0..portico::delivery::worker::MAX_ATTEMPTS {
        app.deliver_mail().await;
        app.clock.advance(Duration::from_secs(3601));
    }
    // Sessions ended while idle: everyone signs in again.
    let staff = app.staff_browser(&marcus.email).await;
    let admin_browser = app.staff_browser(&admin.email).await;

    // Hannah writes in her chat with Marcus.
    let Chat {
        staff_path: chat_path,
        portal_path: portal_chat,
        ..
    } = Chat::open(&staff, &bakery, &hannah).await;
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let response = hannah_browser
        .post_form(
            &portal_chat,
            &[
                ("body", "The bank statements are uploaded."),
                ("key", "h-1"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());

    let (_, html) = staff.page("/app").await;
    assert!(!html.contains("Nothing waits for you."));
    let page = Page::parse(&html);
    assert_eq!(
        links(&page, "waiting-messages"),
        [chat_path.as_str()],
        "{html}"
    );
    assert_eq!(
        page.text("#waiting-messages-section li .badge.unread"),
        "1 new"
    );
    assert_eq!(
        page.text("#waiting-messages-section li .excerpt"),
        "The bank statements are uploaded."
    );
    assert_eq!(
        links(&page, "waiting-answers"),
        [format!("/app/questions/{}", asked[1].id)],
        "only the answered one: the other is still open"
    );
    assert_eq!(
        page.select_text("#waiting-answers-section li a"),
        ["Who is the new flour supplier?"]
    );
    let reminders = items(&page, "waiting-reminders");
    assert!(
        links(&page, "waiting-reminders")
            .contains(&format!("/app/clients/{}/questions", bakery.id)),
        "{reminders:?}"
    );
    assert!(
        reminders
            .iter()
            .any(|r| r.starts_with("hannah has not answered 2 questions about Northwind Bakery")),
        "{reminders:?}"
    );
    let invitations = items(&page, "waiting-invitations");
    assert_eq!(invitations.len(), 1, "{invitations:?}");
    assert!(invitations[0].contains("(tom@northwind.example)"));
    assert!(invitations[0].contains("expires"));
    assert_eq!(
        links(&page, "waiting-invitations"),
        [format!("/app/clients/{}/contacts", bakery.id)],
        "not gina@copperleaf.example: not a client Marcus looks after"
    );
    assert!(!html.contains("Undeliverable"), "admins only");

    // The admin: every unaccepted invitation and the undeliverable mail,
    // but no answers or messages of a client she does not look after.
    let (_, html) = admin_browser.page("/app").await;
    let page = Page::parse(&html);
    let invitations = items(&page, "waiting-invitations").join("\n");
    assert!(invitations.contains("(tom@northwind.example)"));
    assert!(invitations.contains("(gina@copperleaf.example)"));
    let dead = items(&page, "waiting-undeliverable");
    assert!(
        links(&page, "waiting-undeliverable").contains(&"/app/settings/outbox".to_owned()),
        "{dead:?}"
    );
    assert!(
        dead.iter()
            .any(|item| item.contains("to gina@copperleaf.example")),
        "{dead:?}"
    );
    assert!(nothing_waits(&page, "waiting-answers"));
    assert!(nothing_waits(&page, "waiting-messages"));

    // Dealt with, they leave the list: the chat read, the reminders dismissed.
    staff.page(&chat_path).await;
    let response = staff.post_form("/app/alerts/read", &[]).await;
    assert_eq!(response.status(), 303);
    let (_, html) = staff.page("/app").await;
    let page = Page::parse(&html);
    assert!(nothing_waits(&page, "waiting-messages"));
    assert!(nothing_waits(&page, "waiting-reminders"));

    // Another practice sees none of it.
    let rival_browser = World::named(&app, "Rival").await.staff;
    let (_, html) = rival_browser.page("/app").await;
    assert!(html.contains("Nothing waits for you."));
    assert!(!html.contains("northwind"));
}
