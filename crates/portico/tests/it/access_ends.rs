//! Access that ends, ends everywhere (issue 11): a contact whose client is
//! taken away loses its chats at once (pages, fragments, files, sends, live
//! events); a session that ends closes its open sockets, on every instance;
//! a newer credential ends the older links.

use crate::harness::{
    Browser, Chat, Page, Socket, TestApp, active, closed_for_session_end, location, signed_in,
    socket, socket_at,
};
use futures_util::StreamExt;
use portico::store::Member;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// How long a test waits for what it expects before it fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// The next message event's body, skipping other events.
async fn next_message(socket: &mut Socket) -> Option<String> {
    tokio::time::timeout(DEADLINE, async {
        loop {
            match socket.next().await {
                Some(Ok(WsMessage::Text(text))) => {
                    let event: serde_json::Value = serde_json::from_str(&text).ok()?;
                    if event["kind"] == "message" {
                        return event["body"].as_str().map(str::to_owned);
                    }
                }
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// Sends a message as `browser` to the chat at `path`; returns the status.
async fn send(browser: &Browser, path: &str, body: &str, key: &str) -> u16 {
    browser.say(path, body, key).await.status().as_u16()
}

/// Hannah sends a file into the chat at `portal_path`; its download path.
async fn send_file(staff: &Browser, hannah: &Browser, portal_path: &str) -> String {
    let form = reqwest::multipart::Form::new()
        .text("body", "My statement")
        .text("key", "file-1")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"%PDF-1.7\n%%EOF\n".to_vec())
                .file_name("statement.pdf"),
        );
    let response = hannah
        .post_multipart(&format!("{portal_path}/files"), form)
        .await;
    assert_eq!(location(&response), portal_path);
    let (_, html) = staff.page(&portal_path.replace("/portal/", "/app/")).await;
    Page::parse(&html)
        .attr("a[href^='/files/']", "href")
        .expect("a file link")
}

/// Everything a contact could reach a chat by, after her access ended.
async fn locked_out(hannah: &Browser, portal_path: &str, file: Option<&str>, what: &str) {
    let chat = portal_path.trim_start_matches("/portal/messages/");
    let (_, list) = hannah.page("/portal/messages").await;
    assert!(!list.contains(chat), "{what}: the chat list still shows it");
    assert_eq!(
        hannah.page(portal_path).await.0,
        404,
        "{what}: the chat page"
    );
    assert_eq!(
        hannah.page(&format!("{portal_path}?before=2")).await.0,
        404,
        "{what}: the history"
    );
    assert_eq!(
        hannah.page(&format!("{portal_path}/after/0")).await.0,
        404,
        "{what}: the after fragment"
    );
    assert_eq!(
        send(hannah, portal_path, "Still here?", &format!("late-{what}")).await,
        404,
        "{what}: a send"
    );
    let action = hannah
        .post_form(
            &format!("{portal_path}/action"),
            &[("action", "react:👍"), ("seq", "1")],
        )
        .await;
    assert_eq!(action.status(), 404, "{what}: a reaction");
    if let Some(file) = file {
        assert_eq!(hannah.get(file).await.status(), 404, "{what}: the file");
    }
}

#[tokio::test]
async fn a_contact_removed_from_a_client_loses_its_chats_files_and_live_events_at_once() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let cafe = app.with_client(practice.id, "Northwind Cafe").await;
    let hannah = active(
        &app,
        practice.id,
        "hannah@northwind.example",
        &[&bakery, &cafe],
    )
    .await;
    let staff = app.staff_browser(&admin.email).await;
    let bakery_chat = Chat::open(&staff, &bakery, &hannah).await.staff_path;
    let cafe_chat = Chat::open(&staff, &cafe, &hannah).await.staff_path;
    let portal_path = bakery_chat.replace("/app/", "/portal/");
    let browser = signed_in(&app, &hannah.email).await;
    assert_eq!(
        send(&staff, &bakery_chat, "Your return is ready.", "s1").await,
        303
    );
    let file = send_file(&staff, &browser, &portal_path).await;
    staff
        .post_form(
            &format!("{bakery_chat}/action"),
            &[("action", "pin"), ("seq", "1")],
        )
        .await;
    // Before: she reads the chat, its pinned panel and its file, and hears it live.
    let (status, html) = browser.page(&portal_path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Your return is ready."));
    assert_eq!(browser.get(&file).await.status(), 200);
    let mut live = socket(&app, &browser).await;
    assert_eq!(send(&staff, &bakery_chat, "Before", "s2").await, 303);
    assert_eq!(next_message(&mut live).await.as_deref(), Some("Before"));

    let removed = staff
        .post_form(
            &format!("/app/clients/{}/contacts/{}/remove", bakery.id, hannah.id),
            &[],
        )
        .await;
    assert_eq!(removed.status(), 303);

    // After: what the practice writes about the bakery never reaches her.
    assert_eq!(
        send(&staff, &bakery_chat, "After the removal", "s3").await,
        303
    );
    assert_eq!(send(&staff, &cafe_chat, "About the cafe", "c1").await, 303);
    assert_eq!(
        next_message(&mut live).await.as_deref(),
        Some("About the cafe"),
        "the socket hears the chat she still reaches, and not the other"
    );
    locked_out(
        &browser,
        &portal_path,
        Some(&file),
        "removed from the client",
    )
    .await;
    let (status, cafe_html) = browser.page(&cafe_chat.replace("/app/", "/portal/")).await;
    assert_eq!(status, 200, "her other client's chat stays");
    assert!(cafe_html.contains("About the cafe"));
    // The switcher counts nothing of the bakery.
    let (_, home) = browser.page("/portal").await;
    assert!(!home.contains("Northwind Bakery"));

    // Access given back: the chat is hers again, history included.
    staff
        .post_form(
            &format!("/app/settings/contacts/{}/clients", hannah.id),
            &[("client", &bakery.id.to_string())],
        )
        .await;
    let (status, html) = browser.page(&portal_path).await;
    assert_eq!(status, 200);
    assert!(html.contains("After the removal"));
}

#[tokio::test]
async fn removing_a_contact_in_all_contacts_closes_the_clients_chats_to_her() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let staff = app.staff_browser(&admin.email).await;
    let chat = Chat::open(&staff, &bakery, &hannah).await.staff_path;
    let portal_path = chat.replace("/app/", "/portal/");
    assert_eq!(send(&staff, &chat, "Hello", "s1").await, 303);
    let browser = signed_in(&app, &hannah.email).await;
    assert_eq!(browser.page(&portal_path).await.0, 200);
    let removed = staff
        .post_form(
            &format!(
                "/app/settings/contacts/{}/clients/{}/remove",
                hannah.id, bakery.id
            ),
            &[],
        )
        .await;
    assert_eq!(removed.status(), 303);
    locked_out(&browser, &portal_path, None, "removed in All contacts").await;
    // Staff still read the whole chat.
    assert_eq!(staff.page(&chat).await.0, 200);
}

#[tokio::test]
async fn unlinking_a_family_takes_the_sub_records_chats_from_the_primarys_contacts() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let household = app.with_client(practice.id, "Okafor Household").await;
    let chidi = app.with_client(practice.id, "Chidi Okafor").await;
    app.store()
        .set_family_primary(practice.id, chidi.id, Some(household.id))
        .await
        .unwrap();
    let ngozi = active(&app, practice.id, "ngozi@okafor.example", &[&household]).await;
    let chidi_contact = active(&app, practice.id, "chidi@okafor.example", &[&chidi]).await;
    let staff = app.staff_browser(&admin.email).await;
    let household_chat = Chat::open(&staff, &household, &ngozi).await.staff_path;
    let chat = Chat::open(&staff, &chidi, &chidi_contact).await.staff_path;
    let portal_path = chat.replace("/app/", "/portal/");
    assert_eq!(send(&staff, &chat, "About Chidi's return", "s1").await, 303);
    let browser = signed_in(&app, &ngozi.email).await;
    assert_eq!(
        browser.page(&portal_path).await.0,
        200,
        "through the family"
    );
    let mut live = socket(&app, &browser).await;

    let unlinked = staff
        .post_form(
            &format!("/app/clients/{}/family", chidi.id),
            &[("primary", "")],
        )
        .await;
    assert_eq!(unlinked.status(), 303);

    assert_eq!(send(&staff, &chat, "Private to Chidi now", "s2").await, 303);
    assert_eq!(
        send(&staff, &household_chat, "For the household", "h1").await,
        303
    );
    assert_eq!(
        next_message(&mut live).await.as_deref(),
        Some("For the household")
    );
    locked_out(&browser, &portal_path, None, "family unlinked").await;
    // Chidi's own contact keeps it.
    let chidi_browser = signed_in(&app, &chidi_contact.email).await;
    let (status, html) = chidi_browser.page(&portal_path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Private to Chidi now"));
}

#[tokio::test]
async fn a_contact_who_reaches_no_client_leaves_its_group_chats_too() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let group = app
        .app
        .create_group_chat(&admin, "Year end", &[], &[hannah.id])
        .await
        .unwrap();
    let portal_path = format!("/portal/messages/{}", group.id);
    let browser = signed_in(&app, &hannah.email).await;
    assert_eq!(browser.page(&portal_path).await.0, 200);
    app.app
        .revoke_access(&admin, hannah.id, bakery.id, &crate::harness::origin())
        .await
        .unwrap();
    locked_out(&browser, &portal_path, None, "no client left").await;
}

/// The check in the write of a batch: a send that passed the request's
/// checks but reaches the writer after the contact's access ended is
/// refused alone, and nobody who lost access hears a message.
#[tokio::test]
async fn a_send_written_after_the_access_ended_is_refused_in_the_same_transaction() {
    use portico::store::group_commit::NewMessage;
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let chat = app
        .app
        .open_direct_chat(&admin, bakery.id, hannah.id)
        .await
        .unwrap();
    let message = |sender: Member, key: &str| NewMessage {
        practice: practice.id,
        chat: chat.id,
        sender,
        sender_name: "Someone".into(),
        body: format!("message {key}"),
        reply_to: None,
        key: key.into(),
        now: app.clock.now(),
        files: Vec::new(),
        status_of: None,
        automatic: false,
        audit: Vec::new(),
        urgent: false,
    };
    let before = app
        .app
        .sends
        .append(message(Member::Staff(admin.id), "a1"))
        .await
        .unwrap();
    assert!(before.recipients.contains(&Member::Contact(hannah.id)));
    app.store()
        .revoke_access(practice.id, hannah.id, bakery.id, None)
        .await
        .unwrap();
    let refused = app
        .app
        .sends
        .append(message(Member::Contact(hannah.id), "h1"))
        .await;
    assert!(
        matches!(refused, Err(portico::store::StoreError::NotFound)),
        "{refused:?}"
    );
    let after = app
        .app
        .sends
        .append(message(Member::Staff(admin.id), "a2"))
        .await
        .unwrap();
    assert_eq!(after.message.seq, before.message.seq + 1, "no number lost");
    assert_eq!(after.recipients, vec![Member::Staff(admin.id)]);
}

#[tokio::test]
async fn signing_out_closes_that_sessions_sockets_and_no_others() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let staff = app.staff_browser(&admin.email).await;
    let chat = Chat::open(&staff, &bakery, &hannah).await.staff_path;
    let laptop = signed_in(&app, &hannah.email).await;
    let phone = signed_in(&app, &hannah.email).await;
    let mut laptop_tab = socket(&app, &laptop).await;
    let mut laptop_other_tab = socket(&app, &laptop).await;
    let mut phone_tab = socket(&app, &phone).await;
    assert_eq!(app.app.live.sockets(), 3);

    assert_eq!(laptop.post_form("/sign-out", &[]).await.status(), 303);
    closed_for_session_end(&mut laptop_tab, "the signed-out tab").await;
    closed_for_session_end(&mut laptop_other_tab, "the signed-out session's other tab").await;
    assert_eq!(send(&staff, &chat, "Still on your phone", "s1").await, 303);
    assert_eq!(
        next_message(&mut phone_tab).await.as_deref(),
        Some("Still on your phone")
    );
}

#[tokio::test]
async fn signing_out_everywhere_else_closes_the_other_sessions_sockets() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let chat = app
        .app
        .open_direct_chat(&admin, bakery.id, hannah.id)
        .await
        .unwrap();
    let here = app.staff_browser(&admin.email).await;
    let elsewhere = app.staff_browser(&admin.email).await;
    let mut here_tab = socket(&app, &here).await;
    let mut elsewhere_tab = socket(&app, &elsewhere).await;
    let response = here.post_form("/app/account/sign-out-others", &[]).await;
    assert_eq!(response.status(), 303);
    closed_for_session_end(&mut elsewhere_tab, "the other session's socket").await;
    // This session's socket goes on.
    let contact = signed_in(&app, &hannah.email).await;
    assert_eq!(
        send(
            &contact,
            &format!("/portal/messages/{}", chat.id),
            "Hi",
            "h1"
        )
        .await,
        303
    );
    assert_eq!(next_message(&mut here_tab).await.as_deref(), Some("Hi"));

    // The same for a contact in the portal.
    let phone = signed_in(&app, &hannah.email).await;
    let mut phone_tab = socket(&app, &phone).await;
    let response = contact
        .post_form("/portal/account/sign-out-others", &[])
        .await;
    assert_eq!(response.status(), 303);
    closed_for_session_end(&mut phone_tab, "the contact's other session").await;
}

#[tokio::test]
async fn a_new_password_closes_the_contacts_sockets() {
    let app = TestApp::spawn().await;
    let (practice, _admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let browser = signed_in(&app, &hannah.email).await;
    let mut tab = socket(&app, &browser).await;
    let other = app.browser();
    other
        .post_form("/portal/help", &[("email", &hannah.email)])
        .await;
    let reset = app.latest_link(&hannah.email, "/portal/reset/").await;
    let response = other
        .post_form(
            &reset,
            &[
                ("password", "a brand new password"),
                ("confirm", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303, "password set");
    closed_for_session_end(&mut tab, "the socket of the session before the reset").await;
}

#[tokio::test]
async fn a_deactivated_team_members_sockets_close() {
    let app = TestApp::spawn().await;
    let (practice, _admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(
            practice.id,
            "sam@harbour.example",
            portico::domain::Role::Member,
        )
        .await;
    let admin_browser = app.staff_browser("admin@harbour.example").await;
    let member_browser = app.staff_browser(&member.email).await;
    let mut tab = socket(&app, &member_browser).await;
    let response = admin_browser
        .post_form(
            &format!("/app/team/{}/active", member.id),
            &[("active", "0")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(
        !app.store()
            .get_staff(practice.id, member.id)
            .await
            .unwrap()
            .active
    );
    closed_for_session_end(&mut tab, "the deactivated member's socket").await;
}

#[tokio::test]
async fn an_idle_session_and_one_past_its_absolute_end_close_their_sockets() {
    let app = TestApp::spawn().await;
    let (_practice, admin) = app.with_practice("Harbour").await;
    // Idle: nothing for 12 hours.
    let idle = app.staff_browser(&admin.email).await;
    let mut idle_tab = socket(&app, &idle).await;
    // Busy: used every 11 hours, until its 7 days are over.
    let busy = app.staff_browser(&admin.email).await;
    let mut busy_tab = socket(&app, &busy).await;
    app.clock.advance(Duration::from_secs(11 * 3600));
    assert_eq!(busy.page("/app").await.0, 200);
    app.clock.advance(Duration::from_secs(2 * 3600));
    closed_for_session_end(&mut idle_tab, "the idle session's socket").await;
    assert_eq!(busy.page("/app").await.0, 200);
    let mut hours = 13;
    while hours + 10 < 7 * 24 {
        app.clock.advance(Duration::from_secs(10 * 3600));
        hours += 10;
        assert_eq!(
            busy.page("/app").await.0,
            200,
            "still signed in at {hours} h"
        );
    }
    // Still open, then past the 7 days it closes, however busy.
    assert_eq!(app.app.live.sockets(), 1);
    app.clock.advance(Duration::from_secs(6 * 3600));
    closed_for_session_end(&mut busy_tab, "the socket past the absolute end").await;
}

/// X4: a session ended through one instance closes its sockets on another
/// (the ended sessions travel by NOTIFY, as live events do). PostgreSQL only.
#[tokio::test]
async fn a_session_ended_on_one_instance_closes_its_socket_on_another() {
    let app = TestApp::spawn().await;
    if app.store().backend() != portico::store::Backend::Postgres {
        eprintln!("SQLite: one instance owns the database; see the PostgreSQL run");
        return;
    }
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let staff = app.staff_browser(&admin.email).await;
    let chat = Chat::open(&staff, &bakery, &hannah).await.staff_path;
    let (second_url, _stop) = app.second_server().await;
    let browser = signed_in(&app, &hannah.email).await;
    let mut tab = socket_at(&second_url, &browser).await;
    // The second instance's listener may still be connecting: send until
    // its socket hears one, with a deadline.
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut n = 0;
    loop {
        n += 1;
        send(&staff, &chat, "Across", &format!("x-{n}")).await;
        let heard = tokio::time::timeout(Duration::from_secs(1), tab.next()).await;
        if matches!(heard, Ok(Some(Ok(WsMessage::Text(_))))) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the relay never came up"
        );
    }
    // Drain what else was sent meanwhile, then sign out on the first.
    while let Ok(Some(Ok(WsMessage::Text(_)))) =
        tokio::time::timeout(Duration::from_millis(300), tab.next()).await
    {}
    assert_eq!(browser.post_form("/sign-out", &[]).await.status(), 303);
    closed_for_session_end(&mut tab, "the socket on the other instance").await;
}

/// Links the contact did not use yet, from her mailbox, oldest first.
async fn links(app: &TestApp, to: &str, prefix: &str) -> Vec<String> {
    let items = app.store().outbox_for(to).await.unwrap();
    let marker = format!("{}{prefix}", app.base_url);
    items
        .iter()
        .filter_map(|item| {
            item.body_text
                .split_whitespace()
                .find(|w| w.starts_with(&marker))
                .map(|w| w.trim_start_matches(&app.base_url).to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_newer_credential_ends_the_older_links() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[&bakery])
        .await;
    // Two invitations; she activates with the second.
    app.app
        .invite_contact(&admin, hannah.id, &crate::harness::origin())
        .await
        .unwrap();
    app.app
        .invite_contact(&admin, hannah.id, &crate::harness::origin())
        .await
        .unwrap();
    let invitations = links(&app, &hannah.email, "/portal/invitation/").await;
    assert_eq!(invitations.len(), 2);
    let browser = app.browser();
    assert_eq!(browser.post_form(&invitations[1], &[]).await.status(), 303);
    let stranger = app.browser();
    assert_ne!(
        stranger.post_form(&invitations[0], &[]).await.status(),
        303,
        "the older invitation no longer signs anyone in"
    );
    assert!(stranger.cookie("portico_session").is_none());

    // Two sign-in links; the second one used ends the first.
    for _ in 0..2 {
        app.browser()
            .post_form("/portal/sign-in/link", &[("email", &hannah.email)])
            .await;
    }
    let sign_ins = links(&app, &hannah.email, "/portal/link/").await;
    assert_eq!(sign_ins.len(), 2);
    assert_eq!(
        app.browser().post_form(&sign_ins[1], &[]).await.status(),
        303
    );
    let stranger = app.browser();
    assert_ne!(stranger.post_form(&sign_ins[0], &[]).await.status(), 303);
    assert!(stranger.cookie("portico_session").is_none());

    // A sign-in link and a second reset link lying in the mailbox; she
    // sets a password with a reset link: both end. (An hour later, so the
    // requests are not throttled.)
    app.clock.advance(Duration::from_secs(3600));
    app.browser()
        .post_form("/portal/sign-in/link", &[("email", &hannah.email)])
        .await;
    for _ in 0..2 {
        app.browser()
            .post_form("/portal/help", &[("email", &hannah.email)])
            .await;
    }
    let resets = links(&app, &hannah.email, "/portal/reset/").await;
    let sign_ins = links(&app, &hannah.email, "/portal/link/").await;
    let response = app
        .browser()
        .post_form(
            &resets[0],
            &[
                ("password", "a brand new password"),
                ("confirm", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303, "password set");
    let stranger = app.browser();
    assert_ne!(
        stranger.post_form(&sign_ins[2], &[]).await.status(),
        303,
        "the sign-in link from before the new password"
    );
    let (status, html) = stranger.page(&resets[1]).await;
    assert!(
        status != 200 || html.contains("expired or has already been used"),
        "the other reset link from before the new password"
    );
    assert!(stranger.cookie("portico_session").is_none());
}
