//! A signed-in request's identity is kept in memory between requests
//! (issue 19), and so are the practice's messaging rules a client's send
//! reads (S6, S7): whatever ends or changes them is seen on the very next
//! request, on this instance at once and on the others through the relay,
//! as without the cache.

use crate::harness::{Browser, Chat, TestApp, active, location, signed_in};
use portico::app::chat_prefs::DAYS;
use portico::domain::Role;
use std::time::{Duration, Instant};

/// Well under the longest an identity is kept (`IDENTITY_KEPT_FOR`, 5 s):
/// a refusal within this came from the change being heard, not from the
/// kept identity running out.
const HEARD_WITHIN: Duration = Duration::from_secs(3);

/// Whether the browser is turned away from the team page (403 for a
/// member, the sign-in page for an ended session).
async fn team_page(browser: &Browser) -> u16 {
    browser.get("/app/team").await.status().as_u16()
}

/// Asks twice, so the second answer comes from what the instance kept.
async fn kept(browser: &Browser, path: &str) {
    for _ in 0..2 {
        assert_eq!(browser.get(path).await.status(), 200, "{path} before");
    }
}

#[tokio::test]
async fn what_ends_or_changes_a_kept_identity_shows_on_the_next_request() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bob = app
        .with_staff(practice.id, "bob@harbour.example", Role::Admin)
        .await;
    let alice = app.staff_browser(&admin.email).await;
    let laptop = app.staff_browser(&bob.email).await;
    let phone = app.staff_browser(&bob.email).await;

    // A role taken away: the admin page is refused on the next request.
    kept(&laptop, "/app/team").await;
    let response = alice
        .post_form(&format!("/app/team/{}/role", bob.id), &[("role", "member")])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(team_page(&laptop).await, 403, "a member now");

    // His own time zone: the next page shows it.
    kept(&laptop, "/app/account").await;
    let response = laptop
        .post_form("/app/account/time-zone", &[("time_zone", "Asia/Tokyo")])
        .await;
    assert_eq!(response.status(), 303);
    let (_, html) = laptop.page("/app/account").await;
    assert!(
        html.contains(r#"value="Asia/Tokyo""#) && html.contains(" JST"),
        "the account page shows the zone just chosen, and times in it"
    );

    // Signed out everywhere else: the phone's next request is a sign-in.
    kept(&phone, "/app").await;
    let response = laptop.post_form("/app/account/sign-out-others", &[]).await;
    assert_eq!(response.status(), 303);
    let response = phone.get("/app").await;
    assert_eq!(response.status(), 303, "the phone's session ended");
    assert!(location(&response).starts_with("/app/sign-in"));

    // Deactivated: the laptop's next request is a sign-in too.
    kept(&laptop, "/app").await;
    let response = alice
        .post_form(
            &format!("/app/team/{}/active", bob.id),
            &[("active", "off")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let response = laptop.get("/app").await;
    assert_eq!(response.status(), 303, "a deactivated member is signed out");

    // Signing out ends the kept identity of that session at once.
    kept(&alice, "/app").await;
    assert_eq!(alice.post_form("/sign-out", &[]).await.status(), 303);
    assert_eq!(alice.get("/app").await.status(), 303);
}

#[tokio::test]
async fn a_change_on_one_instance_ends_what_another_kept() {
    let app = TestApp::spawn().await;
    if app.store().backend() != portico::store::Backend::Postgres {
        eprintln!("SQLite: one instance owns the database; see the PostgreSQL run");
        return;
    }
    let (practice, admin) = app.with_practice("Harbour").await;
    let bob = app
        .with_staff(practice.id, "bob@harbour.example", Role::Admin)
        .await;
    let (second_url, _stop) = app.second_server().await;
    let alice = app.staff_browser(&admin.email).await;
    let laptop = app.staff_browser(&bob.email).await;
    let there = laptop.at(&second_url);

    // Refused on the other instance soon after a change made on this one.
    async fn refused_there(there: &Browser, path: &str, status: u16, what: &str) {
        let since = Instant::now();
        loop {
            if there.get(path).await.status().as_u16() == status {
                return;
            }
            assert!(
                since.elapsed() < HEARD_WITHIN,
                "{what}: the other instance still let him in after {HEARD_WITHIN:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    kept(&there, "/app/team").await;
    let response = alice
        .post_form(&format!("/app/team/{}/role", bob.id), &[("role", "member")])
        .await;
    assert_eq!(response.status(), 303);
    refused_there(&there, "/app/team", 403, "demoted").await;

    kept(&there, "/app").await;
    assert_eq!(laptop.post_form("/sign-out", &[]).await.status(), 303);
    refused_there(&there, "/app", 303, "signed out").await;
}

#[tokio::test]
async fn a_deleted_contact_is_refused_and_another_practices_change_ends_nothing_of_hers() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let (_, rival_admin) = app.with_practice("Rival").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let portal = signed_in(&app, &hannah.email).await;
    let other = app.staff_browser(&rival_admin.email).await;

    // A change in another practice leaves her kept identity, and her, in.
    kept(&portal, "/portal/account").await;
    let response = other
        .post_form("/app/account/time-zone", &[("time_zone", "Asia/Tokyo")])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(portal.get("/portal/account").await.status(), 200);

    // Deleted: her next request is a sign-in.
    kept(&portal, "/portal/account").await;
    app.app
        .delete_contact(&admin, hannah.id)
        .await
        .expect("the admin deletes the contact");
    let response = portal.get("/portal/account").await;
    assert_eq!(response.status(), 303, "a deleted contact is signed out");
    assert!(location(&response).starts_with("/portal/sign-in"));
}

/// The practice's messaging settings as an admin saves them, with a
/// client message limit of `max_chars`.
fn limit_form(max_chars: &str) -> [(&str, &str); 3] {
    [
        ("allow_sharing", "on"),
        ("new_clients_may_chat", "on"),
        ("client_max_chars", max_chars),
    ]
}

/// A client's send as the chat page's form posts it: its status.
async fn send(browser: &Browser, chat: &Chat, key: &str, body: &str) -> u16 {
    browser
        .post_form(&chat.portal_path, &[("body", body), ("key", key)])
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_changed_messaging_rule_applies_to_the_clients_very_next_send() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let chat = Chat::open(&olivia, &bakery, &hannah).await;
    let portal = signed_in(&app, &hannah.email).await;

    // Her sends read the practice's rules, which the instance then keeps.
    assert_eq!(send(&portal, &chat, "h1", "Good morning").await, 303);
    assert_eq!(send(&portal, &chat, "h2", "The March invoices").await, 303);

    // S6: a shorter limit for clients: her very next send is held to it.
    let response = olivia
        .post_form("/app/settings/messaging", &limit_form("20"))
        .await;
    assert_eq!(response.status(), 303);
    let long = "x".repeat(21);
    assert_eq!(send(&portal, &chat, "h3", &long).await, 422);

    // S7: Olivia's own automatic answer, in a window holding now: the
    // next send hears it.
    let now = app
        .clock
        .now()
        .to_timestamp()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let day = usize::try_from(now.weekday().to_monday_zero_offset()).unwrap();
    let (today, tomorrow) = (DAYS[day].0, DAYS[(day + 1) % 7].0);
    let away = "Olivia is at a conference and answers tomorrow.";
    let saved = olivia
        .post_form(
            "/app/account/messaging/away",
            &[
                ("autoresponder_text", away),
                ("from_day", today),
                ("from_time", "00:00"),
                ("to_day", tomorrow),
                ("to_time", "12:00"),
            ],
        )
        .await;
    assert_eq!(location(&saved), "/app/account/messaging?done=saved");
    assert_eq!(send(&portal, &chat, "h4", "Are you there?").await, 303);
    let messages = app
        .store()
        .chat_messages(practice.id, chat.id, None, 100)
        .await
        .unwrap();
    let bodies: Vec<&str> = messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["Good morning", "The March invoices", "Are you there?", away],
        "the long message was refused and the automatic answer came"
    );
    assert!(messages[3].automatic);

    // A rule of another practice changed leaves hers as they were.
    let (_, rival_admin) = app.with_practice("Rival").await;
    let rival = app.staff_browser(&rival_admin.email).await;
    let response = rival
        .post_form("/app/settings/messaging", &limit_form("5000"))
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(send(&portal, &chat, "h5", &long).await, 422);
}

#[tokio::test]
async fn a_rule_changed_on_one_instance_applies_to_sends_on_another() {
    let app = TestApp::spawn().await;
    if app.store().backend() != portico::store::Backend::Postgres {
        eprintln!("SQLite: one instance owns the database; see the PostgreSQL run");
        return;
    }
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let chat = Chat::open(&olivia, &bakery, &hannah).await;
    let (second_url, _stop) = app.second_server().await;
    let there = signed_in(&app, &hannah.email).await.at(&second_url);

    // The second instance keeps the rules after her first sends there.
    assert_eq!(send(&there, &chat, "t1", "Good morning").await, 303);
    assert_eq!(send(&there, &chat, "t2", "The March invoices").await, 303);

    let response = olivia
        .post_form("/app/settings/messaging", &limit_form("20"))
        .await;
    assert_eq!(response.status(), 303);
    let long = "x".repeat(21);
    let since = Instant::now();
    for attempt in 0.. {
        if send(&there, &chat, &format!("long-{attempt}"), &long).await == 422 {
            break;
        }
        assert!(
            since.elapsed() < HEARD_WITHIN,
            "the other instance still took a 21-character message after {HEARD_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
