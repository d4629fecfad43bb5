//! Messages live (M14, M8): a real WebSocket per page hears what reaches its
//! person, and only that; receipts are for staff; an open page fetches only
//! what follows its last message; across instances on PostgreSQL (X4); the
//! docked messenger counts what is unread (M4).

use crate::harness::{
    Browser, Chat, Chatting, Page, TestApp, World, location, next_event, socket, socket_at,
};
use futures_util::StreamExt;
use std::time::Duration;

#[tokio::test]
async fn staff_and_a_contact_chat_live_with_receipts_for_staff_only() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let bakery = w.client("Northwind Bakery").await;
    let hannah = w.contact("hannah@northwind.example", &[&bakery]).await;
    let tom = w.contact("tom@northwind.example", &[&bakery]).await;
    let staff = &w.staff;

    // M15: from the client's Contacts tab, the chat with Hannah.
    let (_, html) = staff
        .page(&format!("/app/clients/{}/contacts", bakery.id))
        .await;
    assert!(
        Page::parse(&html).has(&format!(
            "form[action='/app/clients/{}/chat'] [name=contact][value='{}']",
            bakery.id, hannah.id
        )),
        "{html}"
    );
    let Chat {
        id: chat_id,
        staff_path: chat_path,
        ..
    } = Chat::open(staff, &bakery, &hannah).await;
    // Opening it again finds the same chat.
    let again = Chat::open(staff, &bakery, &hannah).await;
    assert_eq!(again.staff_path, chat_path);

    let hannah_browser = w.portal(&hannah).await;
    let tom_browser = w.portal(&tom).await;
    let mut hannah_socket = socket(&app, &hannah_browser).await;
    let mut tom_socket = socket(&app, &tom_browser).await;
    let mut staff_socket = socket(&app, staff).await;

    // Staff send; Hannah hears it live; Tom, not in the chat, does not.
    let response = staff
        .post_form(
            &chat_path,
            &[("body", "Hi Hannah, your return is ready."), ("key", "k-1")],
        )
        .await;
    assert_eq!(location(&response), chat_path);
    let event = next_event(&mut hannah_socket)
        .await
        .expect("hannah hears it");
    assert_eq!(event["kind"], "message");
    assert_eq!(event["chat"], chat_id.to_string());
    assert_eq!(event["body"], "Hi Hannah, your return is ready.");
    assert_eq!(event["sender_name"], "Harbour Admin");
    let own = next_event(&mut staff_socket)
        .await
        .expect("the sender's other pages hear it");
    assert_eq!(own["seq"], 1);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), tom_socket.next())
            .await
            .is_err(),
        "a contact not in the chat hears nothing"
    );

    // A retry with the same key is the same message, sent once.
    let retry = staff
        .post_form(
            &chat_path,
            &[("body", "Hi Hannah, your return is ready."), ("key", "k-1")],
        )
        .await;
    assert_eq!(retry.status(), 303, "a retry is answered as the first send");
    let (_, html) = staff.page(&chat_path).await;
    assert_eq!(
        html.matches("Hi Hannah, your return is ready.").count(),
        2,
        "once in the thread, once as the preview"
    );
    assert_eq!(Page::parse(&html).text("#receipt"), "Not read yet");

    // Hannah's list shows it unread; opening the chat reads it, and staff hear that.
    let (_, html) = hannah_browser.page("/portal/messages").await;
    assert_eq!(
        Page::parse(&html).text(&format!("li[data-chat-item='{chat_id}'] [data-unread]")),
        "1"
    );
    let portal_chat = format!("/portal/messages/{chat_id}");
    let (status, html) = hannah_browser.page(&portal_chat).await;
    assert_eq!(status, 200);
    assert!(html.contains("Hi Hannah, your return is ready."));
    assert!(
        !html.contains("Read by the client") && !html.contains("Not read yet"),
        "no receipts for contacts"
    );
    assert!(
        !Page::parse(&html).has("#receipt"),
        "no receipts for contacts"
    );
    let read = next_event(&mut staff_socket)
        .await
        .expect("staff hear the receipt");
    assert_eq!(read["kind"], "read");
    assert_eq!(read["reader"], "hannah");
    let (_, html) = staff.page(&chat_path).await;
    assert_eq!(Page::parse(&html).text("#receipt"), "Read by the client");

    // Hannah answers with the script's request, and gets JSON back.
    let csrf = hannah_browser.csrf().await;
    let response = hannah_browser
        .client
        .post(hannah_browser.url(&portal_chat))
        .header("origin", &app.base_url)
        .header("accept", "application/json")
        .form(&[
            ("body", "Thanks! <b>Signed</b> today."),
            ("key", "h-1"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sent: serde_json::Value = response.json().await.unwrap();
    assert_eq!(sent["seq"], 2);
    let event = next_event(&mut staff_socket)
        .await
        .expect("staff hear the answer");
    assert_eq!(event["body"], "Thanks! <b>Signed</b> today.");
    let (_, html) = staff.page(&chat_path).await;
    assert!(
        html.contains("Thanks! &#60;b&#62;Signed&#60;/b&#62; today.")
            || html.contains("Thanks! &lt;b&gt;Signed&lt;/b&gt; today."),
        "escaped"
    );
    let page = Page::parse(&html);
    assert_eq!(page.text("#m2 .body"), "Thanks! <b>Signed</b> today.");
    assert!(!page.has("#m2 .body b"), "shown as text, not markup");

    // Catching up after a drop: what came after seq 1, no more, no less.
    let missed: serde_json::Value = hannah_browser
        .client
        .get(hannah_browser.url(&format!("{portal_chat}/after/1")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(missed.as_array().unwrap().len(), 1);
    assert_eq!(missed[0]["seq"], 2);
    let _ = hannah_socket.close(None).await;
}

/// M14: the hub keeps each person's sockets: another practice's socket
/// hears nothing of this one, and a closed socket leaves the hub.
#[tokio::test]
async fn a_socket_hears_only_its_own_people_and_leaves_the_hub_when_closed() {
    let app = TestApp::spawn().await;
    let c = Chatting::new(&app).await;
    let (staff, hannah_browser) = (c.staff(), &c.hannah_browser);
    let chat_path = c.chat.staff_path.clone();
    let rival = World::named(&app, "Rival").await.staff;

    let mut first_tab = socket(&app, hannah_browser).await;
    let mut second_tab = socket(&app, hannah_browser).await;
    let mut rival_socket = socket(&app, &rival).await;
    staff
        .post_form(&chat_path, &[("body", "Both tabs"), ("key", "k-1")])
        .await;
    for tab in [&mut first_tab, &mut second_tab] {
        let event = next_event(tab).await.expect("each of her tabs hears it");
        assert_eq!(event["body"], "Both tabs");
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rival_socket.next())
            .await
            .is_err(),
        "another practice's socket hears nothing"
    );

    // Closed sockets leave the hub: nothing is kept for pages gone.
    assert_eq!(app.app.live.sockets(), 3);
    let _ = first_tab.close(None).await;
    let _ = rival_socket.close(None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.app.live.sockets() > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "closed sockets left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    staff
        .post_form(&chat_path, &[("body", "One tab left"), ("key", "k-2")])
        .await;
    let event = next_event(&mut second_tab)
        .await
        .expect("the open tab hears it");
    assert_eq!(event["body"], "One tab left");
    drop(second_tab);
    while app.app.live.sockets() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a dropped connection left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// X4: a message sent through one instance reaches a socket on another,
/// through PostgreSQL's LISTEN/NOTIFY. (On SQLite one instance owns the
/// database, so there is nothing to cross; this runs in the PostgreSQL pass.)
#[tokio::test]
async fn a_message_sent_through_one_instance_reaches_a_socket_on_another() {
    let app = TestApp::spawn().await;
    if app.store().backend() != portico::store::Backend::Postgres {
        eprintln!("SQLite: live events stay within one instance; see the PostgreSQL run");
        return;
    }
    let c = Chatting::started(&app).await;
    let (staff, hannah) = (c.staff(), &c.hannah_browser);
    let staff_path = c.chat.staff_path.clone();
    let (second_url, _stop) = app.second_server().await;
    // Hannah's socket is on the second instance.
    let mut socket = socket_at(&second_url, hannah).await;
    // The second instance's listener may still be connecting: send until
    // its socket hears one, with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut heard = None;
    let mut n = 0;
    while heard.is_none() && std::time::Instant::now() < deadline {
        n += 1;
        staff
            .post_form(
                &staff_path,
                &[("body", "Across instances"), ("key", &format!("x-{n}"))],
            )
            .await;
        heard = next_event(&mut socket).await;
    }
    let event = heard.expect("the second instance delivered the first instance's message");
    assert_eq!(event["kind"], "message");
    assert_eq!(event["body"], "Across instances");

    // A run of messages whose events pile up while the relay's last
    // NOTIFYs go out (two long ones fill a NOTIFY): every one arrives, in
    // the order they were sent.
    let admin = &c.world.admin;
    let mut sent = Vec::new();
    for i in 0..40 {
        let body = format!("{i:02} {}", "long ".repeat(500));
        let message = crate::harness::say_as(
            &app,
            portico::app::questions::Actor::Staff(admin),
            c.chat.id,
            &body,
        )
        .await;
        sent.push(message.seq);
    }
    let mut arrived = Vec::new();
    while arrived.len() < sent.len() {
        let Some(event) = next_event(&mut socket).await else {
            break;
        };
        if event["kind"] == "message" && event["body"] != "Across instances" {
            arrived.push(event["seq"].as_i64().expect("a seq"));
        }
    }
    assert_eq!(arrived, sent, "every message, in order");
}

/// M14: an open page reads only the messages after its last one, in its
/// own markup (links made safe, a reply's quote), and reading them marks
/// them read (M8) as reading the page does.
#[tokio::test]
async fn an_open_page_reads_only_the_new_messages_in_its_own_markup() {
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let (staff, hannah) = (c.staff(), &c.hannah_browser);
    let (staff_path, portal_path) = (c.chat.staff_path.clone(), c.chat.portal_path.clone());
    staff
        .post_form(
            &staff_path,
            &[
                ("body", "See https://sign.example/doc?id=7 <b>now</b>"),
                ("key", "s2"),
                ("reply_to", "2"),
            ],
        )
        .await;
    let fragment = |browser: &Browser, path: String| {
        let request = browser
            .client
            .get(browser.url(&path))
            .header("accept", "text/html");
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, html) = fragment(hannah, format!("{portal_path}/after/2")).await;
    assert_eq!(status, 200);
    let page = Page::parse(&html);
    assert_eq!(
        page.attrs("li.msg", "data-seq"),
        ["3"],
        "only what is new: {html}"
    );
    assert_eq!(
        page.attr("#m3 .body a", "href").as_deref(),
        Some("https://sign.example/doc?id=7"),
        "{html}"
    );
    assert_eq!(
        page.attr("#m3 .body a", "rel").as_deref(),
        Some("noopener noreferrer nofollow"),
        "{html}"
    );
    assert!(!page.has("#m3 .body b"), "{html}");
    assert!(!html.contains("<b>now</b>"), "{html}");
    assert_eq!(
        page.select_text("#m3 blockquote.quote"),
        ["hannah: Great, thank you!"],
        "the reply quotes #2: {html}"
    );
    // She has read it now: staff see the receipt, her list shows nothing unread.
    let (_, page) = staff.page(&staff_path).await;
    assert_eq!(Page::parse(&page).text("#receipt"), "Read by the client");
    let (_, list) = hannah.page("/portal/messages").await;
    assert!(!Page::parse(&list).has("[data-unread]"), "{list}");
    // Nothing new: an empty answer.
    let (status, html) = fragment(hannah, format!("{portal_path}/after/3")).await;
    assert_eq!(status, 200);
    assert!(!Page::parse(&html).has("li"), "{html}");

    // Someone not in the chat reads nothing.
    let rival = World::named(&app, "Rival").await;
    let client = rival.client("Elsewhere").await;
    let olly = rival.contact("olly@elsewhere.example", &[&client]).await;
    let olly = rival.portal(&olly).await;
    let (status, _) = fragment(&olly, format!("{portal_path}/after/0")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_docked_messenger_counts_unread_messages_on_every_staff_page() {
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let (staff, hannah) = (c.staff(), &c.hannah_browser);
    let portal_path = c.chat.portal_path.clone();
    let (_, html) = staff.page("/app/clients").await;
    assert!(
        html.contains("data-dock"),
        "the messenger is docked on staff pages"
    );
    assert!(html.contains("<script src=\"/static/portico.js\" defer></script>"));
    hannah
        .post_form(&portal_path, &[("body", "Another one"), ("key", "d1")])
        .await;
    let dock: serde_json::Value = staff.get("/app/messages/dock").await.json().await.unwrap();
    assert_eq!(dock["unread"], 2, "two of Hannah's messages are unread");
    assert_eq!(dock["chats"][0]["unread"], 2);
    assert_eq!(
        hannah.get("/app/messages/dock").await.status(),
        403,
        "not for contacts"
    );
    let (_, html) = hannah.follow("/portal").await;
    assert!(!html.contains("data-dock"));
    // P2, P6: unread messages are counted in the clients list.
    let (_, html) = staff.page("/app/clients").await;
    assert_eq!(
        Page::parse(&html).row("tbody tr", "Northwind Bakery")[5],
        "2",
        "two unread for the bakery"
    );
}

/// M14: `/metrics` tells how long live events take to reach sockets
/// (`portico_live_event_delivery_seconds`), for operators and the benchmark.
#[tokio::test]
async fn metrics_time_each_live_event_from_its_publication_to_its_socket() {
    let token = "0123456789abcdef0123456789abcdef";
    let app = TestApp::spawn_with_metrics(token).await;
    let c = Chatting::started(&app).await;
    let delivered = || async {
        let (_, text) = app.metrics(token).await;
        text.lines()
            .find_map(|line| line.strip_prefix("portico_live_event_delivery_seconds_count "))
            .map(|n| n.trim().parse::<u64>().unwrap())
            .expect("the live delivery histogram is exported")
    };
    // Deliveries are counted once written, which the page may see a
    // moment before.
    let counted = |at_least: u64, what: &'static str| {
        let delivered = &delivered;
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while delivered().await < at_least {
                assert!(std::time::Instant::now() < deadline, "{what}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(delivered().await, 0, "no socket open yet");

    let mut hannah_socket = socket(&app, &c.hannah_browser).await;
    c.staff()
        .say(&c.chat.staff_path, "Counted on its way", "m-1")
        .await;
    let event = next_event(&mut hannah_socket)
        .await
        .expect("the message, live");
    assert_eq!(event["body"], "Counted on its way");
    counted(1, "the delivery was not counted").await;

    // A burst queues faster than the socket is written (here all of it,
    // within the socket's queue, before its task runs): what waits is
    // written together, and every event still arrives, in order, and is
    // counted once.
    let mut admin_socket = socket(&app, &c.world.staff).await;
    let admin = portico::store::Member::Staff(c.world.admin.id);
    let before = delivered().await;
    for seq in 1..=200 {
        app.app.live.publish(
            c.world.id(),
            vec![admin],
            portico::delivery::live::LiveEvent::Changed {
                chat: c.chat.id,
                seq: Some(seq),
            },
        );
    }
    for seq in 1..=200 {
        let event = next_event(&mut admin_socket)
            .await
            .expect("every event of the burst");
        assert_eq!(event["kind"], "changed");
        assert_eq!(event["seq"], seq, "in the order published");
    }
    counted(before + 200, "each event of the burst is counted").await;
    assert_eq!(delivered().await, before + 200, "and counted once");
}
