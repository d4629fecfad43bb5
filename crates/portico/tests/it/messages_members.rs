//! Who is in a chat (M1, M2, M3, M7): direct chats with activated contacts
//! only, nobody outside a chat reaches it, groups and their members, chats
//! shared with a team member, a family primary's contacts, and the Contacts
//! list that opens the right chat.

use crate::harness::{Chat, Page, TestApp, World, location, next_event, socket};
use futures_util::StreamExt;
use portico::domain::Role;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn nobody_outside_a_chat_reaches_it() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let bakery = w.client("Northwind Bakery").await;
    let other = w.client("Bluegum Landscaping").await;
    let hannah = w.contact("hannah@northwind.example", &[&bakery]).await;
    let olly = w.contact("olly@bluegum.example", &[&other]).await;
    let invited = w.invited("new@northwind.example", &[&bakery]).await;
    let staff = &w.staff;
    let Chat {
        id: chat_id,
        staff_path: chat_path,
        ..
    } = w.chat(&bakery, &hannah).await;

    // Only activated contacts can be messaged; not another client's contact.
    let response = staff
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &invited.id.to_string())],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("has not activated their account yet")
    );
    let response = staff
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &olly.id.to_string())],
        )
        .await;
    assert_eq!(response.status(), 404);

    // Another contact of the practice: not found, reading or sending.
    let olly_browser = w.portal(&olly).await;
    assert_eq!(
        olly_browser
            .page(&format!("/portal/messages/{chat_id}"))
            .await
            .0,
        404
    );
    let response = olly_browser
        .post_form(
            &format!("/portal/messages/{chat_id}"),
            &[("body", "Let me in"), ("key", "x")],
        )
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        olly_browser
            .get(&format!("/portal/messages/{chat_id}/after/0"))
            .await
            .status(),
        404
    );

    // Staff of another practice: not found.
    let rival = World::named(&app, "Rival").await.staff;
    assert_eq!(rival.page(&chat_path).await.0, 404);

    // Empty and oversized messages are refused, the text kept.
    let response = staff
        .post_form(&chat_path, &[("body", "   "), ("key", "e-1")])
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("Write a message."));
    let long = "x".repeat(5_001);
    let response = staff
        .post_form(&chat_path, &[("body", &long), ("key", "e-2")])
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("at most 5000 characters")
    );

    // A socket from another site's page, or without a session, is refused.
    let url = app.base_url.replace("http://", "ws://") + "/ws";
    let mut request = url.clone().into_client_request().unwrap();
    request.headers_mut().insert(
        "cookie",
        format!(
            "portico_session={}",
            staff.cookie("portico_session").unwrap()
        )
        .parse()
        .unwrap(),
    );
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", app.base_url.parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
}

#[tokio::test]
async fn a_group_of_two_staff_and_two_contacts_each_see_what_they_should_live() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let (marcus, marcus_browser) = w.member("marcus@harbour.example", Role::Member).await;
    let bakery = w.client("Northwind Bakery").await;
    let hannah = w.contact("hannah@northwind.example", &[&bakery]).await;
    let tom = w.contact("tom@northwind.example", &[&bakery]).await;
    let invited = w.invited("new@northwind.example", &[&bakery]).await;
    let theirs = World::named(&app, "Rival")
        .await
        .contact("them@rival.example", &[])
        .await;
    let olivia = &w.staff;

    // Nobody of another practice, nobody not activated, can be put in a group.
    for (kind, id) in [
        ("contact", theirs.id.to_string()),
        ("contact", invited.id.to_string()),
    ] {
        let response = olivia
            .post_form("/app/messages/new", &[("title", "Year end"), (kind, &id)])
            .await;
        assert!(response.status().is_client_error(), "{kind} {id}");
    }
    let response = olivia
        .post_form(
            "/app/messages/new",
            &[
                ("title", "Northwind year end"),
                ("staff", &marcus.id.to_string()),
                ("contact", &hannah.id.to_string()),
                ("contact", &tom.id.to_string()),
            ],
        )
        .await;
    let Chat {
        staff_path: chat_path,
        portal_path,
        ..
    } = Chat::at(&location(&response));

    let hannah_browser = w.portal(&hannah).await;
    let tom_browser = w.portal(&tom).await;
    let mut sockets = Vec::new();
    for browser in [&marcus_browser, &hannah_browser, &tom_browser] {
        sockets.push(socket(&app, browser).await);
    }
    olivia
        .post_form(&chat_path, &[("body", "Welcome, everyone."), ("key", "g1")])
        .await;
    for socket in &mut sockets {
        let event = next_event(socket)
            .await
            .expect("everyone in the group hears it");
        assert_eq!(event["body"], "Welcome, everyone.");
    }
    // Receipts are for staff: the contacts' pages show none, the staff's do.
    let (_, html) = tom_browser.page(&portal_path).await;
    let page = Page::parse(&html);
    assert_eq!(page.select_text("#m1 .body"), ["Welcome, everyone."]);
    assert!(!page.has("#receipt"));
    let (_, html) = marcus_browser.page(&chat_path).await;
    assert!(Page::parse(&html).has("#receipt"));

    // Tom is removed: he neither reads nor hears the chat any more.
    let response = olivia
        .post_form(
            &format!("{chat_path}/members/remove"),
            &[("member", &format!("contact:{}", tom.id))],
        )
        .await;
    assert_eq!(location(&response), chat_path);
    assert_eq!(tom_browser.page(&portal_path).await.0, 404);
    let mut tom_socket = sockets.pop().unwrap();
    hannah_browser
        .post_form(&portal_path, &[("body", "Thanks Olivia"), ("key", "g2")])
        .await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), async {
            loop {
                match tom_socket.next().await {
                    Some(Ok(WsMessage::Text(text))) if text.contains("Thanks Olivia") => return,
                    Some(Ok(_)) => {}
                    _ => std::future::pending::<()>().await,
                }
            }
        })
        .await
        .is_err(),
        "a removed member hears nothing more"
    );
    let response = tom_browser
        .post_form(&portal_path, &[("body", "Still here?"), ("key", "g3")])
        .await;
    assert_eq!(response.status(), 404);
    // A contact cannot add people.
    let response = hannah_browser
        .post_form(
            &format!("{chat_path}/members"),
            &[("contact", &tom.id.to_string())],
        )
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_direct_chat_becomes_a_group_when_people_are_added() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let (marcus, marcus_browser) = w.member("marcus@harbour.example", Role::Member).await;
    let bakery = w.client("Northwind Bakery").await;
    let hannah = w.contact("hannah@northwind.example", &[&bakery]).await;
    let olivia = &w.staff;
    let Chat {
        id: chat_id,
        staff_path: chat_path,
        ..
    } = w.chat(&bakery, &hannah).await;
    olivia
        .post_form(
            &format!("{chat_path}/members"),
            &[("staff", &marcus.id.to_string())],
        )
        .await;
    assert_eq!(
        marcus_browser.page(&chat_path).await.0,
        200,
        "Marcus now reads the chat"
    );
    let chat = app
        .store()
        .chat_for_member(w.id(), chat_id, portico::store::Member::Staff(marcus.id))
        .await
        .unwrap();
    assert!(!chat.direct, "three people make a group");
}

#[tokio::test]
async fn a_direct_chat_is_shared_with_a_team_member_when_the_practice_allows_it() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let (marcus, marcus_browser) = w.member("marcus@harbour.example", Role::Member).await;
    let bakery = w.client("Northwind Bakery").await;
    let hannah = w.contact("hannah@northwind.example", &[&bakery]).await;
    let olivia = &w.staff;
    let Chat {
        id: chat_id,
        staff_path: chat_path,
        ..
    } = w.chat(&bakery, &hannah).await;
    assert_eq!(
        marcus_browser.page(&chat_path).await.0,
        404,
        "not shared yet"
    );

    // S8 off: sharing is refused.
    let member_attempt = marcus_browser
        .post_form("/app/settings/messaging", &[])
        .await;
    assert_eq!(
        member_attempt.status(),
        403,
        "members do not change practice settings"
    );
    olivia.post_form("/app/settings/messaging", &[]).await;
    let response = olivia
        .post_form(
            &format!("{chat_path}/share"),
            &[("staff", &marcus.id.to_string())],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("does not allow sharing")
    );

    // S8 on: Marcus joins; the chat stays direct for the client.
    olivia
        .post_form("/app/settings/messaging", &[("allow_sharing", "on")])
        .await;
    let response = olivia
        .post_form(
            &format!("{chat_path}/share"),
            &[("staff", &marcus.id.to_string())],
        )
        .await;
    assert_eq!(location(&response), chat_path);
    assert_eq!(marcus_browser.page(&chat_path).await.0, 200);
    let chat = app
        .store()
        .chat_for_member(w.id(), chat_id, portico::store::Member::Staff(marcus.id))
        .await
        .unwrap();
    assert!(chat.direct, "still one conversation with the practice");
    // Not with someone of another practice.
    let rival_admin = World::named(&app, "Rival").await.admin;
    let response = olivia
        .post_form(
            &format!("{chat_path}/share"),
            &[("staff", &rival_admin.id.to_string())],
        )
        .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_family_primarys_contact_sees_the_sub_records_chats() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let household = w.client("Okafor Household").await;
    let chidi = w.client("Chidi Okafor").await;
    let smiths = w.client("Smith Household").await;
    app.store()
        .set_family_primary(w.id(), chidi.id, Some(household.id))
        .await
        .unwrap();
    let ngozi = w.contact("ngozi@okafor.example", &[&household]).await;
    let chidi_contact = w.contact("chidi@okafor.example", &[&chidi]).await;
    let jo = w.contact("jo@smith.example", &[&smiths]).await;
    let chat_id = w.chat(&chidi, &chidi_contact).await.id;
    w.staff
        .say(
            &format!("/app/messages/{chat_id}"),
            "About Chidi's return",
            "f1",
        )
        .await;
    let ngozi_browser = w.portal(&ngozi).await;
    let (status, html) = ngozi_browser
        .page(&format!("/portal/messages/{chat_id}"))
        .await;
    assert_eq!(
        status, 200,
        "the primary's contact reads the sub-record's chat"
    );
    assert_eq!(
        Page::parse(&html).select_text("#m1 .body"),
        ["About Chidi's return"]
    );
    let jo_browser = w.portal(&jo).await;
    assert_eq!(
        jo_browser
            .page(&format!("/portal/messages/{chat_id}"))
            .await
            .0,
        404,
        "another family's"
    );
}

#[tokio::test]
async fn the_contacts_list_opens_the_right_chat_and_offers_a_choice_of_shared_ones() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let (marcus, marcus_browser) = w.member("marcus@harbour.example", Role::Member).await;
    let bakery = w.client("Northwind Bakery").await;
    let hannah = w.contact("hannah@northwind.example", &[&bakery]).await;
    let tom = w.contact("tom@northwind.example", &[&bakery]).await;
    let olivia = &w.staff;

    // A team member: the same chat every time.
    let first = location(
        &olivia
            .post_form(&format!("/app/messages/with/{}", marcus.id), &[])
            .await,
    );
    let again = location(
        &olivia
            .post_form(&format!("/app/messages/with/{}", marcus.id), &[])
            .await,
    );
    assert_eq!(first, again);
    assert_eq!(marcus_browser.page(&first).await.0, 200);

    // Two direct chats about the bakery, both shared with Marcus: he chooses.
    let mut shared = Vec::new();
    for contact in [&hannah, &tom] {
        let chat = w.chat(&bakery, contact).await;
        olivia
            .post_form(
                &format!("{}/share", chat.staff_path),
                &[("staff", &marcus.id.to_string())],
            )
            .await;
        shared.push(chat.staff_path);
    }
    let (status, html) = marcus_browser.page("/app/messages/contacts").await;
    assert_eq!(status, 200);
    assert!(html.contains("Several chats about Northwind Bakery are shared with you: choose one."));
    let page = Page::parse(&html);
    let mut links = page.attrs("section.card li a", "href");
    links.sort();
    shared.sort();
    assert_eq!(links, shared, "each of the two chats");
    let mut titles = page.select_text("section.card li a");
    titles.sort();
    assert_eq!(
        titles,
        ["hannah — Northwind Bakery", "tom — Northwind Bakery"]
    );
    assert_eq!(
        page.select_text(&format!(
            "form[action='/app/messages/with/{}'] button",
            w.admin.id
        )),
        ["Harbour Admin"],
        "team members are listed"
    );
    assert_eq!(
        marcus_browser
            .post_form(&format!("/app/messages/with/{}", marcus.id), &[])
            .await
            .status(),
        404,
        "not with oneself"
    );
}
