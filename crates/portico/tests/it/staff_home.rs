//! The staff home lists what waits for the signed-in team member, each
//! item linking to its place, and says "nothing waits" where nothing does.

use crate::harness::{TestApp, active, location, signed_in};
use portico::app::questions::QuestionInput;
use portico::config::ConfigArgs;
use portico::domain::Role;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// The part of the home page about one kind of thing.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}-section\""))
        .unwrap_or_else(|| panic!("no {id} section"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_staff_home_lists_what_waits_for_each_team_member() {
    // Mail goes to a server nobody runs, so it ends undeliverable.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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
    assert_eq!(html.matches("class=\"muted empty-state\"").count(), 4);
    assert!(!html.contains("Undeliverable"), "admins only");
    let (_, html) = admin_browser.page("/app").await;
    assert!(
        section(&html, "waiting-undeliverable").contains("every e-mail and text message went out")
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
    let response = staff
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    let chat_path = location(&response);
    assert!(chat_path.starts_with("/app/messages/"), "{chat_path}");
    let portal_chat = chat_path.replace("/app/", "/portal/");
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
    let messages = section(&html, "waiting-messages");
    assert!(
        messages.contains(&format!("href=\"{chat_path}\"")),
        "{messages}"
    );
    assert!(messages.contains("1 new"));
    assert!(messages.contains("The bank statements are uploaded."));
    let answers = section(&html, "waiting-answers");
    assert!(answers.contains(&format!("href=\"/app/questions/{}\"", asked[1].id)));
    assert!(answers.contains("Who is the new flour supplier?"));
    assert!(!answers.contains("Is the van leased?"), "still open");
    let reminders = section(&html, "waiting-reminders");
    assert!(reminders.contains(&format!("href=\"/app/clients/{}/questions\"", bakery.id)));
    assert!(
        reminders.contains("hannah has not answered 2 questions about Northwind Bakery"),
        "{reminders}"
    );
    let invitations = section(&html, "waiting-invitations");
    assert!(invitations.contains("tom@northwind.example"));
    assert!(invitations.contains(&format!("href=\"/app/clients/{}/contacts\"", bakery.id)));
    assert!(invitations.contains("expires"));
    assert!(
        !invitations.contains("gina@copperleaf.example"),
        "not a client Marcus looks after"
    );
    assert!(!html.contains("Undeliverable"), "admins only");

    // The admin: every unaccepted invitation and the undeliverable mail,
    // but no answers or messages of a client she does not look after.
    let (_, html) = admin_browser.page("/app").await;
    let invitations = section(&html, "waiting-invitations");
    assert!(invitations.contains("tom@northwind.example"));
    assert!(invitations.contains("gina@copperleaf.example"));
    let dead = section(&html, "waiting-undeliverable");
    assert!(dead.contains("href=\"/app/settings/outbox\""), "{dead}");
    assert!(dead.contains("to gina@copperleaf.example"));
    assert!(section(&html, "waiting-answers").contains("Nothing waits"));
    assert!(section(&html, "waiting-messages").contains("Nothing waits"));

    // Dealt with, they leave the list: the chat read, the reminders dismissed.
    staff.page(&chat_path).await;
    let response = staff.post_form("/app/alerts/read", &[]).await;
    assert_eq!(response.status(), 303);
    let (_, html) = staff.page("/app").await;
    assert!(section(&html, "waiting-messages").contains("Nothing waits"));
    assert!(section(&html, "waiting-reminders").contains("Nothing waits"));

    // Another practice sees none of it.
    let (_, rival) = app.with_practice("Rival").await;
    let rival_browser = app.staff_browser(&rival.email).await;
    let (_, html) = rival_browser.page("/app").await;
    assert!(html.contains("Nothing waits for you."));
    assert!(!html.contains("northwind"));
}
