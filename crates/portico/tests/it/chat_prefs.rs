//! Messaging preferences (S1–S3, S6–S8), clients starting conversations,
//! and scheduled messages and questions (X10), each with the server's
//! refusals.

use crate::harness::{Chat, TestApp, active, location, signed_in};
use portico::domain::{ChatId, Millis, PracticeId, Role};
use portico::store::Member;
use std::time::Duration;

fn chat_id(path: &str) -> ChatId {
    path.rsplit('/').next().unwrap().parse().unwrap()
}

async fn bodies(app: &TestApp, practice: PracticeId, chat: ChatId) -> Vec<(String, bool)> {
    app.store()
        .chat_messages(practice, chat, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.body, m.automatic))
        .collect()
}

/// The practice settings form as an admin saves it; `extra` adds or
/// replaces fields.
fn settings<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("allow_sharing", "on"), ("new_clients_may_chat", "on")];
    form.extend_from_slice(extra);
    form
}

#[tokio::test]
async fn each_person_chooses_what_enter_does_and_whether_messages_opens_the_latest_chat() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let chat = Chat::open(&olivia, &bakery, &hannah).await.staff_path;
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let portal_chat = chat.replace("/app/", "/portal/");

    // S1: Enter sends by default; each person may choose Ctrl/Cmd+Enter.
    let (_, html) = olivia.page(&chat).await;
    assert!(html.contains(r#"data-enter="send""#));
    let saved = olivia
        .post_form("/app/account/messaging", &[("enter", "newline")])
        .await;
    assert_eq!(location(&saved), "/app/account/messaging?done=saved");
    let (_, html) = olivia.page(&chat).await;
    assert!(html.contains(r#"data-enter="newline""#));
    let (_, html) = hannah_browser.page(&portal_chat).await;
    assert!(
        html.contains(r#"data-enter="send""#),
        "one person's choice is theirs alone"
    );
    let (status, html) = olivia.page("/app/account/messaging").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"value="newline" checked"#));

    // S2: off by default (the list); on, Messages opens the latest chat.
    assert_eq!(hannah_browser.page("/portal/messages").await.0, 200);
    hannah_browser
        .post_form(
            "/portal/account/messaging",
            &[("enter", "send"), ("open_latest", "on")],
        )
        .await;
    let response = hannah_browser.get("/portal/messages").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), portal_chat);
    // The Unread filter still shows the list.
    assert_eq!(
        hannah_browser
            .get("/portal/messages?filter=unread")
            .await
            .status(),
        200
    );
    assert_eq!(olivia.get("/app/messages").await.status(), 200);

    // Preferences change only with the anti-forgery token.
    let forged = app
        .http
        .post(app.url("/app/account/messaging"))
        .form(&[("enter", "send")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}

#[tokio::test]
async fn direct_chats_for_new_clients_can_be_turned_off_with_a_per_client_override() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let old = app.with_client(practice.id, "Old Client").await;
    app.store()
        .assign_staff(practice.id, old.id, marcus.id)
        .await
        .unwrap();
    let hannah = active(&app, practice.id, "hannah@old.example", &[&old]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let hannah_browser = signed_in(&app, &hannah.email).await;
    // A minute later, a new client.
    app.clock.advance(Duration::from_secs(60));
    let new = app.with_client(practice.id, "New Client").await;
    app.store()
        .assign_staff(practice.id, new.id, marcus.id)
        .await
        .unwrap();
    let tom = active(&app, practice.id, "tom@new.example", &[&new]).await;
    let tom_browser = signed_in(&app, &tom.email).await;
    assert!(old.created_at < new.created_at);

    // The change is made when the new client is created (the test's clock
    // moves to that moment): the old client was there before it.
    let ahead = new.created_at.0 - app.clock.now().0;
    app.clock
        .advance(Duration::from_millis(u64::try_from(ahead.max(0)).unwrap()));
    let marcus_browser = app.staff_browser(&marcus.email).await;
    assert_eq!(
        marcus_browser
            .post_form("/app/settings/messaging", &[("allow_sharing", "on")])
            .await
            .status(),
        403,
        "members do not change the practice's settings"
    );
    let response = olivia
        .post_form("/app/settings/messaging", &[("allow_sharing", "on")])
        .await;
    assert_eq!(location(&response), "/app/settings/messaging?done=saved");

    // The new client's contact is not offered it, and the server refuses.
    let (_, html) = tom_browser.page("/portal/messages").await;
    assert!(!html.contains("Message the practice"));
    let refused = tom_browser
        .post_form("/portal/messages/start", &[("client", &new.id.to_string())])
        .await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("does not take new chats about New Client")
    );
    // The old client's contact still can.
    let (_, html) = hannah_browser.page("/portal/messages").await;
    assert!(html.contains("Message the practice"));
    let started = hannah_browser
        .post_form("/portal/messages/start", &[("client", &old.id.to_string())])
        .await;
    assert_eq!(started.status(), 303);
    // Staff still start a chat with the new client's contact.
    let staff_chat = olivia
        .post_form(
            &format!("/app/clients/{}/chat", new.id),
            &[("contact", &tom.id.to_string())],
        )
        .await;
    assert_eq!(staff_chat.status(), 303);

    // The Overview's own setting wins, both ways.
    let (_, html) = olivia.page(&format!("/app/clients/{}", new.id)).await;
    assert!(html.contains("Its contacts cannot start a chat with the practice"));
    olivia
        .post_form(
            &format!("/app/clients/{}/chats", new.id),
            &[("client_chats", "on")],
        )
        .await;
    let (_, html) = olivia.page(&format!("/app/clients/{}", new.id)).await;
    assert!(html.contains("Its contacts can start a chat with the practice"));
    let started = tom_browser
        .post_form("/portal/messages/start", &[("client", &new.id.to_string())])
        .await;
    assert_eq!(started.status(), 303, "allowed for this client");
    olivia
        .post_form(
            &format!("/app/clients/{}/chats", old.id),
            &[("client_chats", "off")],
        )
        .await;
    let another = active(&app, practice.id, "ann@old.example", &[&old]).await;
    let ann = signed_in(&app, &another.email).await;
    let refused = ann
        .post_form("/portal/messages/start", &[("client", &old.id.to_string())])
        .await;
    assert_eq!(refused.status(), 403, "turned off for this client");
    // A client she cannot reach is not there at all.
    let refused = ann
        .post_form("/portal/messages/start", &[("client", &new.id.to_string())])
        .await;
    assert_eq!(refused.status(), 404);
}

#[tokio::test]
async fn a_client_messages_the_practice_and_reaches_the_staff_who_look_after_it() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    app.store()
        .assign_staff(practice.id, bakery.id, marcus.id)
        .await
        .unwrap();
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let hannah_browser = signed_in(&app, &hannah.email).await;

    let response = hannah_browser
        .post_form(
            "/portal/messages/start",
            &[("client", &bakery.id.to_string())],
        )
        .await;
    let chat = location(&response);
    assert!(chat.starts_with("/portal/messages/"), "{chat}");
    let id = chat_id(&chat);
    let members = app.store().chat_members(practice.id, id).await.unwrap();
    assert!(members.iter().any(|m| m.member == Member::Staff(marcus.id)));
    assert!(
        !members.iter().any(|m| m.member == Member::Staff(admin.id)),
        "only the staff who look after the client"
    );
    hannah_browser
        .post_form(&chat, &[("body", "Hello, a question"), ("key", "k1")])
        .await;
    let marcus_browser = app.staff_browser(&marcus.email).await;
    let (status, html) = marcus_browser.page(&format!("/app/messages/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Hello, a question"));
    // Again: the same chat, shown again if she had hidden it.
    hannah_browser
        .post_form(&format!("{chat}/action"), &[("action", "hide")])
        .await;
    let again = hannah_browser
        .post_form(
            "/portal/messages/start",
            &[("client", &bakery.id.to_string())],
        )
        .await;
    assert_eq!(location(&again), chat);
    let (_, list) = hannah_browser.page("/portal/messages").await;
    assert!(list.contains(&id.to_string()), "back in her list");

    // Nobody looks after a client: the practice's chosen team member.
    let cafe = app.with_client(practice.id, "Corner Cafe").await;
    let tom = active(&app, practice.id, "tom@cafe.example", &[&cafe]).await;
    let tom_browser = signed_in(&app, &tom.email).await;
    let refused = tom_browser
        .post_form(
            "/portal/messages/start",
            &[("client", &cafe.id.to_string())],
        )
        .await;
    assert_eq!(
        refused.status(),
        403,
        "nobody chosen yet: a sentence, not a 500"
    );
    let olivia = app.staff_browser(&admin.email).await;
    olivia
        .post_form(
            "/app/settings/messaging",
            &settings(&[("default_staff", &admin.id.to_string())]),
        )
        .await;
    let chat = location(
        &tom_browser
            .post_form(
                "/portal/messages/start",
                &[("client", &cafe.id.to_string())],
            )
            .await,
    );
    let members = app
        .store()
        .chat_members(practice.id, chat_id(&chat))
        .await
        .unwrap();
    assert!(members.iter().any(|m| m.member == Member::Staff(admin.id)));

    // A sub-record with no contact of its own: through the family primary.
    let family = app.with_client(practice.id, "Smith Family").await;
    let junior = app.with_client(practice.id, "Smith Junior").await;
    app.store()
        .set_family_primary(practice.id, junior.id, Some(family.id))
        .await
        .unwrap();
    app.store()
        .assign_staff(practice.id, junior.id, marcus.id)
        .await
        .unwrap();
    let parent = active(&app, practice.id, "parent@smith.example", &[&family]).await;
    let parent_browser = signed_in(&app, &parent.email).await;
    let (_, html) = parent_browser.page("/portal/messages").await;
    assert!(html.contains("Message the practice about Smith Junior"));
    let chat = location(
        &parent_browser
            .post_form(
                "/portal/messages/start",
                &[("client", &junior.id.to_string())],
            )
            .await,
    );
    let (_, html) = parent_browser.page("/portal/messages").await;
    assert!(
        html.contains("— Smith Junior"),
        "labelled with the sub-record"
    );
    assert!(chat.starts_with("/portal/messages/"));
}

#[tokio::test]
async fn clients_have_a_shorter_message_limit_enforced_by_the_server() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let staff_chat = Chat::open(&olivia, &bakery, &hannah).await.staff_path;
    let portal_chat = staff_chat.replace("/app/", "/portal/");
    let hannah_browser = signed_in(&app, &hannah.email).await;

    for bad in ["0", "5001", "many"] {
        let response = olivia
            .post_form(
                "/app/settings/messaging",
                &settings(&[("client_max_chars", bad)]),
            )
            .await;
        assert_eq!(response.status(), 422, "{bad}");
        assert!(response.text().await.unwrap().contains("from 1 to 5000"));
    }
    olivia
        .post_form(
            "/app/settings/messaging",
            &settings(&[("client_max_chars", "20")]),
        )
        .await;
    let (_, html) = hannah_browser.page(&portal_chat).await;
    assert!(html.contains(r#"maxlength="20""#) && html.contains("data-counter"));
    let (_, html) = olivia.page(&staff_chat).await;
    assert!(
        html.contains(r#"maxlength="5000""#),
        "staff keep the server's limit"
    );

    // Too long: refused with a sentence, the draft kept.
    let long = "x".repeat(21);
    let response = hannah_browser
        .post_form(&portal_chat, &[("body", &long), ("key", "h1")])
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("at most 20 characters; yours has 21"));
    assert!(
        html.contains(&format!(">{long}</textarea>")),
        "the draft is kept"
    );
    // As the script sends it.
    let response = hannah_browser
        .client
        .post(hannah_browser.url(&portal_chat))
        .header("origin", &hannah_browser.base_url)
        .header("accept", "application/json")
        .form(&[
            ("body", long.as_str()),
            ("key", "h2"),
            ("csrf", &hannah_browser.csrf().await),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let json: serde_json::Value = response.json().await.unwrap();
    assert!(json["error"].as_str().unwrap().contains("at most 20"));
    assert!(
        bodies(&app, practice.id, chat_id(&staff_chat))
            .await
            .is_empty()
    );

    let fits = "y".repeat(20);
    let response = hannah_browser
        .post_form(&portal_chat, &[("body", &fits), ("key", "h3")])
        .await;
    assert_eq!(response.status(), 303);
    let response = olivia
        .post_form(&staff_chat, &[("body", &"z".repeat(100)), ("key", "o1")])
        .await;
    assert_eq!(response.status(), 303, "the limit is for clients");
    assert_eq!(
        bodies(&app, practice.id, chat_id(&staff_chat)).await.len(),
        2
    );
}

/// Moves the test clock forward to the next `weekday` at `hour`:00 UTC.
fn advance_to(app: &TestApp, weekday: jiff::civil::Weekday, hour: i8) {
    let now = app
        .clock
        .now()
        .to_timestamp()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let mut day = now.date().tomorrow().unwrap();
    while day.weekday() != weekday {
        day = day.tomorrow().unwrap();
    }
    let target = day
        .at(hour, 0, 0, 0)
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_millisecond();
    let ahead = target - app.clock.now().0;
    app.clock
        .advance(Duration::from_millis(u64::try_from(ahead).unwrap()));
}

#[tokio::test]
async fn the_autoresponder_answers_in_its_windows_once_per_half_hour_and_never_staff() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let staff_chat = Chat::open(&olivia, &bakery, &hannah).await.staff_path;
    let portal_chat = staff_chat.replace("/app/", "/portal/");
    let chat = chat_id(&staff_chat);
    let team_chat = location(
        &olivia
            .post_form(&format!("/app/messages/with/{}", marcus.id), &[])
            .await,
    );

    // Six windows are too many; a text needs a window.
    let mut six = settings(&[("autoresponder_text", "We are closed.")]);
    for _ in 0..6 {
        six.extend([
            ("from_day", "mon"),
            ("from_time", "18:00"),
            ("to_day", "mon"),
            ("to_time", "20:00"),
        ]);
    }
    let response = olivia.post_form("/app/settings/messaging", &six).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("at most 5 windows"));
    let response = olivia
        .post_form(
            "/app/settings/messaging",
            &settings(&[("autoresponder_text", "We are closed.")]),
        )
        .await;
    assert_eq!(response.status(), 422);

    // Weekends (Friday 18:00 to Monday 08:00) and Wednesday evenings.
    let text = "Thanks for your message: we are away and answer on Monday morning.";
    let response = olivia
        .post_form(
            "/app/settings/messaging",
            &settings(&[
                ("autoresponder_text", text),
                ("from_day", "fri"),
                ("from_time", "18:00"),
                ("to_day", "mon"),
                ("to_time", "08:00"),
                ("from_day", "wed"),
                ("from_time", "18:00"),
                ("to_day", "wed"),
                ("to_time", "22:00"),
            ]),
        )
        .await;
    assert_eq!(location(&response), "/app/settings/messaging?done=saved");
    let (_, html) = olivia.page("/app/settings/messaging").await;
    assert!(html.contains(text) && html.contains(r#"value="18:00""#));

    // Tuesday noon: no answer.
    advance_to(&app, jiff::civil::Weekday::Tuesday, 12);
    // Days have passed: everyone signs in again.
    let hannah_browser = signed_in(&app, &hannah.email).await;
    hannah_browser
        .post_form(&portal_chat, &[("body", "Tuesday question"), ("key", "h1")])
        .await;
    assert_eq!(bodies(&app, practice.id, chat).await.len(), 1);

    // Saturday 10:00: answered once, marked automatic.
    advance_to(&app, jiff::civil::Weekday::Saturday, 10);
    // Days have passed: everyone signs in again.
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let olivia = app.staff_browser(&admin.email).await;
    hannah_browser
        .post_form(
            &portal_chat,
            &[("body", "Saturday question"), ("key", "h2")],
        )
        .await;
    let after = bodies(&app, practice.id, chat).await;
    assert_eq!(after.len(), 3);
    assert_eq!(after[2], (text.to_owned(), true));
    assert!(!after[1].1, "her own message is not automatic");
    let (_, html) = hannah_browser.page(&portal_chat).await;
    assert!(html.contains(text) && html.contains("Automatic reply"));
    // Staff still have her message to read: the answer read nothing for them.
    let (_, list) = olivia.page("/app/messages").await;
    assert!(list.contains("data-unread"), "Olivia's unread count stays");

    // Ten minutes later: not again. Staff writing: never.
    app.clock.advance(Duration::from_secs(10 * 60));
    hannah_browser
        .post_form(&portal_chat, &[("body", "One more thing"), ("key", "h3")])
        .await;
    olivia
        .post_form(&staff_chat, &[("body", "Seen, back Monday"), ("key", "o1")])
        .await;
    assert_eq!(bodies(&app, practice.id, chat).await.len(), 5);
    // Thirty minutes after the answer: again.
    app.clock.advance(Duration::from_secs(21 * 60));
    hannah_browser
        .post_form(&portal_chat, &[("body", "Still there?"), ("key", "h4")])
        .await;
    let after = bodies(&app, practice.id, chat).await;
    assert_eq!(after.len(), 7);
    assert_eq!(after[6], (text.to_owned(), true));

    // A staff-only chat in the window: never.
    olivia
        .post_form(&team_chat, &[("body", "Weekend shift?"), ("key", "t1")])
        .await;
    assert_eq!(
        bodies(&app, practice.id, chat_id(&team_chat)).await.len(),
        1
    );

    // Monday 09:00, outside: no answer.
    advance_to(&app, jiff::civil::Weekday::Monday, 9);
    // Days have passed: everyone signs in again.
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let olivia = app.staff_browser(&admin.email).await;
    hannah_browser
        .post_form(&portal_chat, &[("body", "Monday morning"), ("key", "h5")])
        .await;
    assert_eq!(bodies(&app, practice.id, chat).await.len(), 8);

    // Turned off (empty text): no answer even in a window.
    olivia
        .post_form("/app/settings/messaging", &settings(&[]))
        .await;
    advance_to(&app, jiff::civil::Weekday::Saturday, 11);
    // Days have passed: everyone signs in again.
    let hannah_browser = signed_in(&app, &hannah.email).await;
    hannah_browser
        .post_form(&portal_chat, &[("body", "Saturday again"), ("key", "h6")])
        .await;
    assert_eq!(bodies(&app, practice.id, chat).await.len(), 9);
}

/// The staff page of a new direct chat of `browser`'s team member with a
/// contact of a client.
async fn start_chat(
    browser: &crate::harness::Browser,
    client: portico::domain::ClientId,
    contact: portico::domain::ContactId,
) -> String {
    location(
        &browser
            .post_form(
                &format!("/app/clients/{client}/chat"),
                &[("contact", &contact.to_string())],
            )
            .await,
    )
}

#[tokio::test]
async fn a_team_member_has_an_automatic_answer_of_their_own_in_their_own_time_zone() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let marcus_browser = app.staff_browser(&marcus.email).await;
    let olivia = app.staff_browser(&admin.email).await;
    let marcus_chat = start_chat(&marcus_browser, bakery.id, hannah.id).await;
    let olivia_chat = start_chat(&olivia, bakery.id, hannah.id).await;
    assert_ne!(marcus_chat, olivia_chat);

    // Marcus works from Tokyo; his own answer runs Monday 09:00–12:00 there.
    marcus_browser
        .post_form("/app/account/time-zone", &[("time_zone", "Asia/Tokyo")])
        .await;
    let text = "Marcus is on a course on Monday mornings and answers after lunch.";
    // A text without a window is refused, the text kept.
    let response = marcus_browser
        .post_form(
            "/app/account/messaging/away",
            &[("autoresponder_text", text)],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("add at least one window") && html.contains(text));
    let saved = marcus_browser
        .post_form(
            "/app/account/messaging/away",
            &[
                ("autoresponder_text", text),
                ("from_day", "mon"),
                ("from_time", "09:00"),
                ("to_day", "mon"),
                ("to_time", "12:00"),
            ],
        )
        .await;
    assert_eq!(location(&saved), "/app/account/messaging?done=saved");
    let (_, html) = marcus_browser.page("/app/account/messaging").await;
    assert!(html.contains(text) && html.contains(r#"value="09:00""#));
    // Each person sees only their own.
    let (_, html) = olivia.page("/app/account/messaging").await;
    assert!(!html.contains(text));

    // Monday 01:00 UTC is 10:00 in Tokyo: Marcus's chat is answered, as
    // him, marked automatic; Olivia's chat is not.
    advance_to(&app, jiff::civil::Weekday::Monday, 1);
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let to_marcus = marcus_chat.replace("/app/", "/portal/");
    let to_olivia = olivia_chat.replace("/app/", "/portal/");
    hannah_browser
        .post_form(&to_marcus, &[("body", "Quick question"), ("key", "m1")])
        .await;
    hannah_browser
        .post_form(&to_olivia, &[("body", "Another one"), ("key", "o1")])
        .await;
    let messages = app
        .store()
        .chat_messages(practice.id, chat_id(&marcus_chat), None, 100)
        .await
        .unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].body, text);
    assert!(messages[1].automatic);
    assert_eq!(messages[1].sender, Member::Staff(marcus.id));
    assert_eq!(
        bodies(&app, practice.id, chat_id(&olivia_chat)).await.len(),
        1,
        "Olivia has no automatic answer"
    );
    // Ten minutes later: not again.
    app.clock.advance(Duration::from_secs(10 * 60));
    hannah_browser
        .post_form(&to_marcus, &[("body", "And another"), ("key", "m2")])
        .await;
    assert_eq!(
        bodies(&app, practice.id, chat_id(&marcus_chat)).await.len(),
        3
    );

    // The practice's answer, when it applies, comes instead of his.
    let practice_text = "The office is closed today.";
    // Days have passed: Olivia signs in again.
    let olivia = app.staff_browser(&admin.email).await;
    let saved = olivia
        .post_form(
            "/app/settings/messaging",
            &settings(&[
                ("autoresponder_text", practice_text),
                ("from_day", "sun"),
                ("from_time", "12:00"),
                ("to_day", "mon"),
                ("to_time", "23:00"),
            ]),
        )
        .await;
    assert_eq!(location(&saved), "/app/settings/messaging?done=saved");
    app.clock.advance(Duration::from_secs(31 * 60));
    hannah_browser
        .post_form(&to_marcus, &[("body", "Still there?"), ("key", "m3")])
        .await;
    let after = bodies(&app, practice.id, chat_id(&marcus_chat)).await;
    assert_eq!(after.len(), 5);
    assert_eq!(after[4], (practice_text.to_owned(), true));
    olivia
        .post_form("/app/settings/messaging", &settings(&[]))
        .await;

    // Monday 05:00 UTC is 14:00 in Tokyo: no answer.
    app.clock.advance(Duration::from_secs(3 * 60 * 60));
    let hannah_browser = signed_in(&app, &hannah.email).await;
    hannah_browser
        .post_form(&to_marcus, &[("body", "Afternoon"), ("key", "m4")])
        .await;
    assert_eq!(
        bodies(&app, practice.id, chat_id(&marcus_chat)).await.len(),
        6
    );

    // Turned off: an empty text, nothing in the window either.
    let marcus_browser = app.staff_browser(&marcus.email).await;
    let saved = marcus_browser
        .post_form("/app/account/messaging/away", &[("autoresponder_text", "")])
        .await;
    assert_eq!(location(&saved), "/app/account/messaging?done=saved");
    advance_to(&app, jiff::civil::Weekday::Monday, 1);
    let hannah_browser = signed_in(&app, &hannah.email).await;
    hannah_browser
        .post_form(&to_marcus, &[("body", "Next week"), ("key", "m5")])
        .await;
    assert_eq!(
        bodies(&app, practice.id, chat_id(&marcus_chat)).await.len(),
        7
    );
}

#[tokio::test]
async fn without_sharing_nothing_offers_it_and_the_server_refuses_it() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let chat = Chat::open(&olivia, &bakery, &hannah).await.staff_path;
    let (_, html) = olivia.page(&chat).await;
    assert!(
        html.contains("/share") && html.contains(&format!(r#"name="staff" value="{}""#, marcus.id))
    );

    olivia
        .post_form("/app/settings/messaging", &[("new_clients_may_chat", "on")])
        .await;
    let (_, html) = olivia.page(&chat).await;
    assert!(!html.contains("/share"), "no Share form");
    assert!(
        !html.contains(&format!(r#"name="staff" value="{}""#, marcus.id)),
        "no team members offered"
    );
    let refused = olivia
        .post_form(
            &format!("{chat}/share"),
            &[("staff", &marcus.id.to_string())],
        )
        .await;
    assert_eq!(refused.status(), 403);
    let refused = olivia
        .post_form(
            &format!("{chat}/members"),
            &[("staff", &marcus.id.to_string())],
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("does not allow adding team members")
    );
    let members = app
        .store()
        .chat_members(practice.id, chat_id(&chat))
        .await
        .unwrap();
    assert!(!members.iter().any(|m| m.member == Member::Staff(marcus.id)));
    // A group of the team is not a client's direct chat: people join it.
    let group = location(
        &olivia
            .post_form(&format!("/app/messages/with/{}", marcus.id), &[])
            .await,
    );
    let other = app
        .with_staff(practice.id, "tom@harbour.example", Role::Member)
        .await;
    let added = olivia
        .post_form(
            &format!("{group}/members"),
            &[("staff", &other.id.to_string())],
        )
        .await;
    assert_eq!(added.status(), 303);
}

#[tokio::test]
async fn a_scheduled_message_is_sent_once_at_its_time_and_can_be_changed_or_cancelled() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    app.store()
        .set_practice_time_zone(
            practice.id,
            "Australia/Sydney",
            &crate::harness::test_entry(practice.id),
        )
        .await
        .unwrap();
    let marcus = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let staff_chat = Chat::open(&olivia, &bakery, &hannah).await.staff_path;
    olivia
        .post_form(
            &format!("{staff_chat}/share"),
            &[("staff", &marcus.id.to_string())],
        )
        .await;
    let chat = chat_id(&staff_chat);
    let portal_chat = staff_chat.replace("/app/", "/portal/");
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let marcus_browser = app.staff_browser(&marcus.email).await;

    // Tomorrow at 09:00 in Sydney.
    let sydney = jiff::tz::TimeZone::get("Australia/Sydney").unwrap();
    let local_now = app
        .clock
        .now()
        .to_timestamp()
        .to_zoned_datetime(sydney.clone());
    let tomorrow = local_now.date().tomorrow().unwrap();
    let at = format!("{tomorrow}T09:00");
    let due = tomorrow
        .at(9, 0, 0, 0)
        .to_zoned_datetime(sydney)
        .unwrap()
        .timestamp()
        .as_millisecond();

    // Refusals: a past time, no text, a chat she is not in.
    let past = format!("{}T09:00", local_now.date().yesterday().unwrap());
    let response = olivia
        .post_form(
            &format!("{staff_chat}/schedule"),
            &[("body", "Too late"), ("send_at", &past)],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("still to come"));
    let response = olivia
        .post_form(
            &format!("{staff_chat}/schedule"),
            &[("body", " "), ("send_at", &at)],
        )
        .await;
    assert_eq!(response.status(), 422);
    let outsider = app
        .with_staff(practice.id, "ivy@harbour.example", Role::Member)
        .await;
    let ivy = app.staff_browser(&outsider.email).await;
    let response = ivy
        .post_form(
            &format!("{staff_chat}/schedule"),
            &[("body", "Not my chat"), ("send_at", &at)],
        )
        .await;
    assert_eq!(response.status(), 404);

    let response = olivia
        .post_form(
            &format!("{staff_chat}/schedule"),
            &[("body", "Your return is ready"), ("send_at", &at)],
        )
        .await;
    assert_eq!(location(&response), staff_chat);
    let cancelled = olivia
        .post_form(
            &format!("{staff_chat}/schedule"),
            &[("body", "Never mind this one"), ("send_at", &at)],
        )
        .await;
    assert_eq!(cancelled.status(), 303);
    let (_, html) = olivia.page(&staff_chat).await;
    assert!(html.contains("Scheduled") && html.contains("Your return is ready"));
    assert!(
        html.contains(&format!("{tomorrow} 09:00")),
        "in her time zone"
    );
    // Only its author sees it.
    let (_, html) = marcus_browser.page(&staff_chat).await;
    assert!(!html.contains("Your return is ready"));
    let (_, html) = hannah_browser.page(&portal_chat).await;
    assert!(!html.contains("Your return is ready"));

    let items = app
        .store()
        .scheduled_in_chat(practice.id, chat, admin.id)
        .await
        .unwrap();
    assert_eq!(items.len(), 2);
    let (first, second) = (items[0].id, items[1].id);

    // Edit (only by its author), cancel the other.
    let edit = format!("/app/messages/scheduled/{first}");
    assert_eq!(marcus_browser.page(&edit).await.0, 404);
    assert_eq!(
        marcus_browser
            .post_form(&edit, &[("body", "Hijack"), ("send_at", &at)])
            .await
            .status(),
        404
    );
    let (status, html) = olivia.page(&edit).await;
    assert_eq!(status, 200);
    assert!(html.contains(&at));
    let later = format!("{tomorrow}T09:30");
    let response = olivia
        .post_form(
            &edit,
            &[("body", "Your tax return is ready"), ("send_at", &later)],
        )
        .await;
    assert_eq!(location(&response), staff_chat);
    assert_eq!(
        marcus_browser
            .post_form(&format!("/app/messages/scheduled/{second}/cancel"), &[])
            .await
            .status(),
        404
    );
    let response = olivia
        .post_form(&format!("/app/messages/scheduled/{second}/cancel"), &[])
        .await;
    assert_eq!(location(&response), staff_chat);

    // Nothing is sent before its time.
    assert_eq!(app.app.run_scheduled_sends().await.unwrap(), 0);
    app.clock.advance(Duration::from_millis(
        u64::try_from(due - app.clock.now().0).unwrap(),
    ));
    assert_eq!(
        app.app.run_scheduled_sends().await.unwrap(),
        0,
        "moved to 09:30"
    );
    app.clock.advance(Duration::from_secs(30 * 60));

    // Two instances at the same moment: sent once.
    let other = app.another_instance().await;
    let (a, b) = tokio::join!(app.app.run_scheduled_sends(), other.run_scheduled_sends());
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(app.app.run_scheduled_sends().await.unwrap(), 0);
    let sent = app
        .store()
        .chat_messages(practice.id, chat, None, 10)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body, "Your tax return is ready");
    assert_eq!(sent[0].sender, Member::Staff(admin.id));
    assert_eq!(sent[0].created_at, Millis(app.clock.now().0));
    // A day has passed: both sign in again.
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let olivia = app.staff_browser(&admin.email).await;
    let (_, html) = hannah_browser.page(&portal_chat).await;
    assert!(html.contains("Your tax return is ready"));
    let (_, html) = olivia.page(&staff_chat).await;
    assert!(!html.contains("Scheduled by you"), "no longer waiting");

    // Sent: too late to change or cancel.
    let response = olivia
        .post_form(&format!("/app/messages/scheduled/{first}/cancel"), &[])
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_scheduled_question_is_asked_once_at_its_time_and_can_be_changed_or_cancelled() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    app.store()
        .set_practice_time_zone(
            practice.id,
            "Australia/Sydney",
            &crate::harness::test_entry(practice.id),
        )
        .await
        .unwrap();
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let questions = format!("/app/clients/{}/questions", bakery.id);

    let sydney = jiff::tz::TimeZone::get("Australia/Sydney").unwrap();
    let local_now = app
        .clock
        .now()
        .to_timestamp()
        .to_zoned_datetime(sydney.clone());
    let tomorrow = local_now.date().tomorrow().unwrap();
    let at = format!("{tomorrow}T09:00");
    let due = tomorrow
        .at(9, 30, 0, 0)
        .to_zoned_datetime(sydney)
        .unwrap()
        .timestamp()
        .as_millisecond();

    // A past time is refused at its field, the question kept.
    let past = format!("{}T09:00", local_now.date().yesterday().unwrap());
    let response = olivia
        .post_form(
            &questions,
            &[("title", "Too late?"), ("details", ""), ("send_at", &past)],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("still to come") && html.contains("send_at-error"));
    assert!(html.contains(r#"value="Too late?""#));

    let response = olivia
        .post_form(
            &questions,
            &[
                ("title", "Please send the November bank statement"),
                ("details", "The PDF from your bank is fine."),
                ("send_at", &at),
            ],
        )
        .await;
    assert_eq!(location(&response), format!("{questions}?done=scheduled"));
    olivia
        .post_form(
            &questions,
            &[("title", "A question never asked"), ("send_at", &at)],
        )
        .await;
    let (_, html) = olivia.page(&questions).await;
    assert!(html.contains("Scheduled by you") && html.contains("November bank statement"));
    assert!(html.contains(&format!("{tomorrow} 09:00")), "in her zone");
    // Nobody else sees it, nor can change it; the client is not asked yet.
    let marcus = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Admin)
        .await;
    let marcus = app.staff_browser(&marcus.email).await;
    let (_, html) = marcus.page(&questions).await;
    assert!(!html.contains("November bank statement"));
    let items = app
        .store()
        .scheduled_questions_for(practice.id, bakery.id, admin.id)
        .await
        .unwrap();
    assert_eq!(items.len(), 2);
    let (first, second) = (items[0].id, items[1].id);
    let edit = format!("/app/questions/scheduled/{first}");
    assert_eq!(marcus.page(&edit).await.0, 404);
    assert_eq!(
        marcus
            .post_form(&format!("{edit}/cancel"), &[])
            .await
            .status(),
        404
    );
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let (_, portal) = hannah_browser.page("/portal").await;
    assert!(!portal.contains("November bank statement"));

    // Moved to 09:30 with new words; the other cancelled.
    let (status, html) = olivia.page(&edit).await;
    assert_eq!(status, 200);
    assert!(html.contains(&at));
    let later = format!("{tomorrow}T09:30");
    let response = olivia
        .post_form(
            &edit,
            &[
                ("title", "Please send the November and December statements"),
                ("details", "PDFs are fine."),
                ("send_at", &later),
            ],
        )
        .await;
    assert_eq!(
        location(&response),
        format!("{questions}?done=saved#scheduled")
    );
    let response = olivia
        .post_form(&format!("/app/questions/scheduled/{second}/cancel"), &[])
        .await;
    assert_eq!(response.status(), 303);

    // Not before its time; then once, across two instances.
    assert_eq!(app.app.run_scheduled_questions().await.unwrap(), 0);
    app.clock.advance(Duration::from_millis(
        u64::try_from(due - app.clock.now().0).unwrap(),
    ));
    let other = app.another_instance().await;
    let (a, b) = tokio::join!(
        app.app.run_scheduled_questions(),
        other.run_scheduled_questions()
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(app.app.run_scheduled_questions().await.unwrap(), 0);
    let asked = app.app.contact_questions(&hannah, bakery.id).await.unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].question.title,
        "Please send the November and December statements"
    );
    assert_eq!(asked[0].question.asked_at, Millis(app.clock.now().0));
    assert_eq!(asked[0].question.asked_by, admin.id);

    // Asked: no longer listed, too late to change or cancel.
    let olivia = app.staff_browser(&admin.email).await;
    let (_, html) = olivia.page(&questions).await;
    assert!(!html.contains("Scheduled by you"));
    let response = olivia.post_form(&format!("{edit}/cancel"), &[]).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_hidden_group_opened_from_contacts_stays_and_shared_chats_are_told_apart() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let marcus_browser = app.staff_browser(&marcus.email).await;

    let group = location(
        &olivia
            .post_form(
                "/app/messages/new",
                &[("title", "Year end"), ("staff", &marcus.id.to_string())],
            )
            .await,
    );
    olivia
        .post_form(&format!("{group}/action"), &[("action", "hide")])
        .await;
    let (_, list) = olivia.page("/app/messages").await;
    assert!(!list.contains(&group), "hidden");
    let (_, contacts) = olivia.page("/app/messages/contacts").await;
    assert!(contacts.contains("Year end") && contacts.contains(r#"value="show""#));
    let opened = olivia
        .post_form(&format!("{group}/action"), &[("action", "show")])
        .await;
    assert_eq!(location(&opened), group);
    let (_, list) = olivia.page("/app/messages").await;
    assert!(list.contains(&group), "it stays after leaving it");

    // Two direct chats with Hannah about the bakery (Olivia's and Marcus's),
    // both shared with Olivia: the list says who is in each.
    let mine = Chat::open(&olivia, &bakery, &hannah).await.staff_path;
    let his = Chat::open(&marcus_browser, &bakery, &hannah)
        .await
        .staff_path;
    assert_ne!(mine, his);
    marcus_browser
        .post_form(&format!("{his}/share"), &[("staff", &admin.id.to_string())])
        .await;
    let (_, html) = olivia.page("/app/messages/contacts").await;
    assert!(html.contains("choose one"));
    assert!(html.contains("with you"), "{html}");
    assert!(html.contains("with marcus and you"), "{html}");
}
