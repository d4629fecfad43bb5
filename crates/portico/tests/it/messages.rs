//! Messaging (M1, M4, M8, M14, M15) over HTTP and a real WebSocket.

use crate::harness::{Browser, TestApp, location};
use crate::harness::{active, signed_in};
use futures_util::StreamExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A real WebSocket to `/ws` with the browser's cookies.
async fn socket(
    app: &TestApp,
    browser: &Browser,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = app.base_url.replace("http://", "ws://") + "/ws";
    let mut request = url.into_client_request().unwrap();
    let cookies = format!(
        "portico_session={}",
        browser.cookie("portico_session").expect("signed in")
    );
    request
        .headers_mut()
        .insert("cookie", cookies.parse().unwrap());
    request
        .headers_mut()
        .insert("origin", app.base_url.parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    socket
}

async fn next_event(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<serde_json::Value> {
    match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        Ok(Some(Ok(WsMessage::Text(text)))) => serde_json::from_str(&text).ok(),
        _ => None,
    }
}

#[tokio::test]
async fn staff_and_a_contact_chat_live_with_receipts_for_staff_only() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let tom = active(&app, practice.id, "tom@northwind.example", &[&bakery]).await;
    let staff = app.staff_browser(&admin.email).await;

    // M15: from the client's Contacts tab, the chat with Hannah.
    let (_, html) = staff
        .page(&format!("/app/clients/{}/contacts", bakery.id))
        .await;
    assert!(html.contains(&format!("action=\"/app/clients/{}/chat\"", bakery.id)));
    let response = staff
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    let chat_path = location(&response);
    assert!(chat_path.starts_with("/app/messages/"), "{chat_path}");
    let chat_id = chat_path.trim_start_matches("/app/messages/").to_owned();
    // Opening it again finds the same chat.
    let again = staff
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    assert_eq!(location(&again), chat_path);

    let hannah_browser = signed_in(&app, &hannah.email).await;
    let tom_browser = signed_in(&app, &tom.email).await;
    let mut hannah_socket = socket(&app, &hannah_browser).await;
    let mut tom_socket = socket(&app, &tom_browser).await;
    let mut staff_socket = socket(&app, &staff).await;

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
    assert_eq!(event["chat"], chat_id.as_str());
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
    assert!(html.contains("Not read yet"));

    // Hannah's list shows it unread; opening the chat reads it, and staff hear that.
    let (_, html) = hannah_browser.page("/portal/messages").await;
    assert!(html.contains("<span class=\"badge unread\" data-unread>1</span>"));
    let portal_chat = format!("/portal/messages/{chat_id}");
    let (status, html) = hannah_browser.page(&portal_chat).await;
    assert_eq!(status, 200);
    assert!(html.contains("Hi Hannah, your return is ready."));
    assert!(
        !html.contains("Read by the client") && !html.contains("Not read yet"),
        "no receipts for contacts"
    );
    let read = next_event(&mut staff_socket)
        .await
        .expect("staff hear the receipt");
    assert_eq!(read["kind"], "read");
    assert_eq!(read["reader"], "hannah");
    let (_, html) = staff.page(&chat_path).await;
    assert!(html.contains("Read by the client"));

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
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let staff = app.staff_browser(&admin.email).await;
    let response = staff
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    let chat_path = location(&response);
    let (_, rival_admin) = app.with_practice("Rival").await;
    let rival = app.staff_browser(&rival_admin.email).await;

    let hannah_browser = signed_in(&app, &hannah.email).await;
    let mut first_tab = socket(&app, &hannah_browser).await;
    let mut second_tab = socket(&app, &hannah_browser).await;
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

#[tokio::test]
async fn nobody_outside_a_chat_reaches_it() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let other = app.with_client(practice.id, "Bluegum Landscaping").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olly = active(&app, practice.id, "olly@bluegum.example", &[&other]).await;
    let invited = app
        .with_contact(practice.id, "new@northwind.example", &[&bakery])
        .await;
    let staff = app.staff_browser(&admin.email).await;
    let response = staff
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    let chat_path = location(&response);
    let chat_id = chat_path.trim_start_matches("/app/messages/").to_owned();

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
    let olly_browser = signed_in(&app, &olly.email).await;
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
    let (_, rival_admin) = app.with_practice("Rival").await;
    let rival = app.staff_browser(&rival_admin.email).await;
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
async fn a_flood_of_sends_is_throttled() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let staff = app.staff_browser(&admin.email).await;
    let response = staff
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    let chat_path = location(&response);
    let mut last = 0;
    for i in 0..61 {
        let response = staff
            .post_form(&chat_path, &[("body", "hello"), ("key", &format!("f-{i}"))])
            .await;
        last = response.status().as_u16();
    }
    assert_eq!(last, 429);
    app.clock.advance(Duration::from_secs(61));
    let response = staff
        .post_form(&chat_path, &[("body", "hello again"), ("key", "f-next")])
        .await;
    assert_eq!(response.status(), 303);
}

/// A chat between the admin and Hannah with a few messages; returns the
/// staff browser, Hannah's browser, and both paths of the chat.
async fn chatting(app: &TestApp) -> (Browser, Browser, String, String) {
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let staff = app.staff_browser(&admin.email).await;
    let response = staff
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    let staff_path = location(&response);
    let portal_path = staff_path.replace("/app/", "/portal/");
    let hannah_browser = signed_in(app, &hannah.email).await;
    staff
        .post_form(
            &staff_path,
            &[("body", "Your return is ready."), ("key", "s1")],
        )
        .await;
    hannah_browser
        .post_form(
            &portal_path,
            &[("body", "Great, thank you!"), ("key", "h1")],
        )
        .await;
    (staff, hannah_browser, staff_path, portal_path)
}

#[tokio::test]
async fn reactions_replies_pins_and_deleting_ones_own_message() {
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path) = chatting(&app).await;
    let action = format!("{staff_path}/action");

    // M12: a reaction toggles; only the offered emoji are taken.
    staff
        .post_form(&action, &[("action", "react:👍"), ("seq", "2")])
        .await;
    let (_, html) = hannah.page(&portal_path).await;
    assert!(html.contains("👍 1"));
    staff
        .post_form(&action, &[("action", "react:👍"), ("seq", "2")])
        .await;
    let (_, html) = hannah.page(&portal_path).await;
    assert!(!html.contains("👍 1"), "the same emoji again takes it away");
    let response = staff
        .post_form(&action, &[("action", "react:<script>"), ("seq", "2")])
        .await;
    assert_eq!(response.status(), 422);

    // M11: a reply shows the quoted original.
    hannah
        .post_form(
            &portal_path,
            &[("body", "Which one?"), ("key", "h2"), ("reply_to", "1")],
        )
        .await;
    let (_, html) = staff.page(&staff_path).await;
    assert!(html.contains("<blockquote class=\"quote\"><strong>Harbour Admin:</strong> Your return is ready.</blockquote>"), "{html}");

    // M10: pins show in the panel; a sender deletes their own message only.
    staff
        .post_form(&action, &[("action", "pin"), ("seq", "2")])
        .await;
    let (_, html) = hannah.page(&portal_path).await;
    assert!(html.contains("<aside class=\"pinned\""));
    let response = staff
        .post_form(&action, &[("action", "delete"), ("seq", "2")])
        .await;
    assert_eq!(response.status(), 403, "not the sender");
    let response = hannah
        .post_form(
            &format!("{portal_path}/action"),
            &[("action", "delete"), ("seq", "2")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let (_, html) = staff.page(&staff_path).await;
    assert!(html.contains("Message deleted"));
    assert!(
        !html.contains("Great, thank you!"),
        "the text is gone for everyone"
    );
    assert!(
        !html.contains("<aside class=\"pinned\""),
        "a deleted message is unpinned"
    );
}

#[tokio::test]
async fn star_hide_unread_and_delete_a_chat() {
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path) = chatting(&app).await;
    let action = format!("{staff_path}/action");

    // M5: mark unread, then the Unread filter shows it.
    let response = staff
        .post_form(&action, &[("action", "unread"), ("seq", "2")])
        .await;
    assert_eq!(location(&response), "/app/messages");
    let (_, html) = staff.page("/app/messages?filter=unread").await;
    assert!(html.contains("<span class=\"badge unread\" data-unread>1</span>"));
    staff.page(&staff_path).await;
    let (_, html) = staff.page("/app/messages?filter=unread").await;
    assert!(
        !html.contains("Northwind Bakery"),
        "read again: not in Unread"
    );

    // M4: starred. M6: hidden until the next message.
    staff.post_form(&action, &[("action", "star")]).await;
    let (_, html) = staff.page("/app/messages").await;
    assert!(html.contains("aria-label=\"Starred\""));
    staff.post_form(&action, &[("action", "hide")]).await;
    let (_, html) = staff.page("/app/messages").await;
    assert!(!html.contains("Northwind Bakery"), "hidden");
    hannah
        .post_form(&portal_path, &[("body", "One more thing"), ("key", "h9")])
        .await;
    let (_, html) = staff.page("/app/messages").await;
    assert!(
        html.contains("Northwind Bakery"),
        "back with the next message"
    );

    // M6: deleting asks first, then the chat and its messages are gone for good.
    let (status, html) = staff.page(&format!("{staff_path}/delete")).await;
    assert_eq!(status, 200);
    assert!(html.contains("for good"));
    assert_eq!(
        hannah
            .post_form(&format!("{portal_path}/action"), &[("action", "hide")])
            .await
            .status(),
        303
    );
    let response = hannah.post_form(&format!("{staff_path}/delete"), &[]).await;
    assert_eq!(
        response.status(),
        403,
        "a contact cannot delete from the staff side"
    );
    let response = staff.post_form(&format!("{staff_path}/delete"), &[]).await;
    assert_eq!(location(&response), "/app/messages");
    assert_eq!(staff.page(&staff_path).await.0, 404);
    assert_eq!(hannah.page(&portal_path).await.0, 404);
}

#[tokio::test]
async fn a_chat_exports_to_xlsx_and_csv() {
    use calamine::{Reader, Xlsx};
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path) = chatting(&app).await;
    staff
        .post_form(
            &format!("{staff_path}/action"),
            &[("action", "react:🎉"), ("seq", "2")],
        )
        .await;
    hannah
        .post_form(
            &portal_path,
            &[
                ("body", "=SUM(A1) stays text"),
                ("key", "h3"),
                ("reply_to", "1"),
            ],
        )
        .await;

    let response = staff.get(&format!("{staff_path}/export/xlsx")).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let bytes = response.bytes().await.unwrap().to_vec();
    let mut workbook: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(
        rows[0],
        vec![
            "Date",
            "Sender",
            "Message",
            "Reply to",
            "Attachments",
            "Reactions"
        ]
    );
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1][1], "Harbour Admin");
    assert_eq!(rows[1][2], "Your return is ready.");
    assert_eq!(rows[2][5], "🎉 1");
    assert_eq!(rows[3][2], "=SUM(A1) stays text");
    assert_eq!(rows[3][3], "#1");

    let csv = staff
        .get(&format!("{staff_path}/export/csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("Date,Sender,Message,Reply to,Attachments,Reactions\n"));
    assert!(csv.contains("Great, thank you!"));
    assert!(
        csv.contains("'=SUM(A1) stays text"),
        "no formula runs when the CSV is opened"
    );
    // A contact cannot export from the staff side; each export is recorded.
    assert_eq!(
        hannah
            .get(&format!("{staff_path}/export/csv"))
            .await
            .status(),
        403
    );
    let practice = app.store().list_practices().await.unwrap()[0].id;
    let chat = staff_path.trim_start_matches("/app/messages/");
    let events = app
        .store()
        .audit_events(practice, &format!("chat:{chat}"))
        .await
        .unwrap();
    assert_eq!(
        events.iter().filter(|(a, _)| a == "chat exported").count(),
        2
    );
}

#[tokio::test]
async fn a_contact_exports_her_own_chat_and_nobody_elses() {
    // X9: the same spreadsheet as the practice's, from her side, recorded.
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path) = chatting(&app).await;
    let (_, page) = hannah.page(&portal_path).await;
    assert!(page.contains(&format!("{portal_path}/export/csv")));
    let response = hannah.get(&format!("{portal_path}/export/csv")).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("Date,Sender,Message,Reply to,Attachments,Reactions\n"));
    assert!(csv.contains("Your return is ready.") && csv.contains("Great, thank you!"));
    let xlsx = hannah.get(&format!("{portal_path}/export/xlsx")).await;
    assert_eq!(xlsx.status(), 200);

    // Another contact of the practice, and the staff side's address: no.
    let (practice, _) = {
        let practices = app.store().list_practices().await.unwrap();
        (practices[0].id, ())
    };
    let client = app.with_client(practice, "Another Client").await;
    let tom = active(&app, practice, "tom@another.example", &[&client]).await;
    let tom = signed_in(&app, &tom.email).await;
    assert_eq!(
        tom.get(&format!("{portal_path}/export/csv")).await.status(),
        404
    );
    assert_eq!(
        hannah
            .get(&format!("{staff_path}/export/csv"))
            .await
            .status(),
        403
    );
    assert_eq!(
        staff
            .get(&format!("{portal_path}/export/csv"))
            .await
            .status(),
        403,
        "the portal's address is for contacts"
    );
    let chat = staff_path.trim_start_matches("/app/messages/");
    let events = app
        .store()
        .audit_events(practice, &format!("chat:{chat}"))
        .await
        .unwrap();
    assert_eq!(
        events.iter().filter(|(a, _)| a == "chat exported").count(),
        2,
        "both of her exports are recorded"
    );
}

#[tokio::test]
async fn files_and_voice_notes_in_a_chat_and_the_clients_status() {
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path) = chatting(&app).await;
    let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec();
    let mut ogg = b"OggS\x00\x02".to_vec();
    ogg.resize(200, 0);
    let csrf = hannah.csrf().await;
    let form = reqwest::multipart::Form::new()
        .text("body", "My statement and a voice note")
        .text("key", "files-1")
        .part(
            "files",
            reqwest::multipart::Part::bytes(pdf.clone()).file_name("statement.pdf"),
        )
        .part(
            "files",
            reqwest::multipart::Part::bytes(ogg).file_name("note.ogg"),
        );
    let response = hannah
        .client
        .post(hannah.url(&format!("{portal_path}/files?csrf={csrf}")))
        .header("origin", &app.base_url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), portal_path);
    let (_, html) = staff.page(&staff_path).await;
    assert!(html.contains("statement.pdf") && html.contains("note.ogg"));
    let href = html
        .split("href=\"/files/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let download = staff.get(&format!("/files/{href}")).await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), pdf);

    // A refused type gets a sentence; nothing is sent.
    let form = reqwest::multipart::Form::new().text("key", "files-2").part(
        "files",
        reqwest::multipart::Part::bytes(b"<html></html>".to_vec()).file_name("page.html"),
    );
    let response = hannah
        .client
        .post(hannah.url(&format!("{portal_path}/files?csrf={csrf}")))
        .header("origin", &app.base_url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("is not a kind of file Portico takes")
    );

    // Someone outside the chat cannot download; after deletion nobody can.
    let outsider = app.browser();
    assert_eq!(outsider.get(&format!("/files/{href}")).await.status(), 404);
    hannah
        .post_form(
            &format!("{portal_path}/action"),
            &[("action", "delete"), ("seq", "3")],
        )
        .await;
    assert_eq!(
        staff.get(&format!("/files/{href}")).await.status(),
        404,
        "a deleted message's file"
    );

    // M16: a staff message made the client's status shows on the portal's Status.
    staff
        .post_form(
            &staff_path,
            &[
                ("body", "Your 2026 return was lodged."),
                ("key", "st-1"),
                ("status", "on"),
            ],
        )
        .await;
    let (_, html) = hannah.follow("/portal").await;
    assert!(html.contains("<h2 id=\"status-heading\">Latest status</h2>"));
    assert!(html.contains("Your 2026 return was lodged."));
    // A contact cannot set the status.
    let response = hannah
        .post_form(
            &portal_path,
            &[
                ("body", "All done, I think"),
                ("key", "st-2"),
                ("status", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_group_of_two_staff_and_two_contacts_each_see_what_they_should_live() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(
            practice.id,
            "marcus@harbour.example",
            portico::domain::Role::Member,
        )
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let tom = active(&app, practice.id, "tom@northwind.example", &[&bakery]).await;
    let invited = app
        .with_contact(practice.id, "new@northwind.example", &[&bakery])
        .await;
    let (rival, _) = app.with_practice("Rival").await;
    let theirs = active(&app, rival.id, "them@rival.example", &[]).await;
    let olivia = app.staff_browser(&admin.email).await;

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
    let chat_path = location(&response);
    assert!(chat_path.starts_with("/app/messages/"), "{chat_path}");
    let chat_id = chat_path.trim_start_matches("/app/messages/").to_owned();
    let portal_path = format!("/portal/messages/{chat_id}");

    let marcus_browser = app.staff_browser(&marcus.email).await;
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let tom_browser = signed_in(&app, &tom.email).await;
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
    assert!(html.contains("Welcome, everyone.") && !html.contains("id=\"receipt\""));
    let (_, html) = marcus_browser.page(&chat_path).await;
    assert!(html.contains("id=\"receipt\""));

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
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(
            practice.id,
            "marcus@harbour.example",
            portico::domain::Role::Member,
        )
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let response = olivia
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    let chat_path = location(&response);
    olivia
        .post_form(
            &format!("{chat_path}/members"),
            &[("staff", &marcus.id.to_string())],
        )
        .await;
    let marcus_browser = app.staff_browser(&marcus.email).await;
    assert_eq!(
        marcus_browser.page(&chat_path).await.0,
        200,
        "Marcus now reads the chat"
    );
    let chat_id: portico::domain::ChatId = chat_path
        .trim_start_matches("/app/messages/")
        .parse()
        .unwrap();
    let chat = app
        .store()
        .chat_for_member(
            practice.id,
            chat_id,
            portico::store::Member::Staff(marcus.id),
        )
        .await
        .unwrap();
    assert!(!chat.direct, "three people make a group");
}

#[tokio::test]
async fn the_docked_messenger_counts_unread_messages_on_every_staff_page() {
    let app = TestApp::spawn().await;
    let (staff, hannah, _staff_path, portal_path) = chatting(&app).await;
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
    assert!(html.contains("<td>2</td>"), "two unread for the bakery");
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
    let (staff, hannah, staff_path, _) = chatting(&app).await;
    let (second_url, _stop) = app.second_server().await;
    // Hannah's socket is on the second instance.
    let url = second_url.replace("http://", "ws://") + "/ws";
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "cookie",
        format!(
            "portico_session={}",
            hannah.cookie("portico_session").unwrap()
        )
        .parse()
        .unwrap(),
    );
    request
        .headers_mut()
        .insert("origin", second_url.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket on the second instance");
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
}

#[tokio::test]
async fn a_direct_chat_is_shared_with_a_team_member_when_the_practice_allows_it() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(
            practice.id,
            "marcus@harbour.example",
            portico::domain::Role::Member,
        )
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let response = olivia
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    let chat_path = location(&response);
    let marcus_browser = app.staff_browser(&marcus.email).await;
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
    let chat_id: portico::domain::ChatId = chat_path
        .trim_start_matches("/app/messages/")
        .parse()
        .unwrap();
    let chat = app
        .store()
        .chat_for_member(
            practice.id,
            chat_id,
            portico::store::Member::Staff(marcus.id),
        )
        .await
        .unwrap();
    assert!(chat.direct, "still one conversation with the practice");
    // Not with someone of another practice.
    let (_, rival_admin) = app.with_practice("Rival").await;
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
    let (practice, admin) = app.with_practice("Harbour").await;
    let household = app.with_client(practice.id, "Okafor Household").await;
    let chidi = app.with_client(practice.id, "Chidi Okafor").await;
    let smiths = app.with_client(practice.id, "Smith Household").await;
    app.store()
        .set_family_primary(practice.id, chidi.id, Some(household.id))
        .await
        .unwrap();
    let ngozi = active(&app, practice.id, "ngozi@okafor.example", &[&household]).await;
    let chidi_contact = active(&app, practice.id, "chidi@okafor.example", &[&chidi]).await;
    let jo = active(&app, practice.id, "jo@smith.example", &[&smiths]).await;
    let staff = app.staff_browser(&admin.email).await;
    let response = staff
        .post_form(
            &format!("/app/clients/{}/chat", chidi.id),
            &[("contact", &chidi_contact.id.to_string())],
        )
        .await;
    let chat_id = location(&response)
        .trim_start_matches("/app/messages/")
        .to_owned();
    staff
        .post_form(
            &format!("/app/messages/{chat_id}"),
            &[("body", "About Chidi's return"), ("key", "f1")],
        )
        .await;
    let ngozi_browser = signed_in(&app, &ngozi.email).await;
    let (status, html) = ngozi_browser
        .page(&format!("/portal/messages/{chat_id}"))
        .await;
    assert_eq!(
        status, 200,
        "the primary's contact reads the sub-record's chat"
    );
    assert!(html.contains("About Chidi&#39;s return") || html.contains("About Chidi's return"));
    let jo_browser = signed_in(&app, &jo.email).await;
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
async fn the_whole_history_pages_back_fifty_at_a_time() {
    let app = TestApp::spawn().await;
    let (staff, _hannah, staff_path, _) = chatting(&app).await;
    let practice = app.store().list_practices().await.unwrap()[0].id;
    let admin = app.store().list_staff(practice).await.unwrap()[0].clone();
    let chat: portico::domain::ChatId = staff_path
        .trim_start_matches("/app/messages/")
        .parse()
        .unwrap();
    // 60 more messages (the sends are throttled over HTTP, so straight through the use case).
    for i in 0..60 {
        app.clock.advance(Duration::from_secs(2));
        app.app
            .send_message(
                portico::app::questions::Actor::Staff(&admin),
                chat,
                &portico::app::chats::SendInput {
                    body: format!("Message number {i:02}"),
                    key: format!("bulk-{i}"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let (_, html) = staff.page(&staff_path).await;
    assert!(html.contains("Message number 59"));
    assert!(
        !html.contains("Your return is ready."),
        "the first messages are on an earlier page"
    );
    let earlier = html
        .split("?before=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (_, html) = staff.page(&format!("{staff_path}?before={earlier}")).await;
    let thread = html
        .split("id=\"messages\"")
        .nth(1)
        .unwrap()
        .split("</ol>")
        .next()
        .unwrap();
    assert!(thread.contains("Your return is ready."));
    assert!(thread.contains("Great, thank you!"));
    assert!(
        !thread.contains("Message number 59"),
        "only the earlier page"
    );
}

#[tokio::test]
async fn the_contacts_list_opens_the_right_chat_and_offers_a_choice_of_shared_ones() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let marcus = app
        .with_staff(
            practice.id,
            "marcus@harbour.example",
            portico::domain::Role::Member,
        )
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let tom = active(&app, practice.id, "tom@northwind.example", &[&bakery]).await;
    let olivia = app.staff_browser(&admin.email).await;
    let marcus_browser = app.staff_browser(&marcus.email).await;

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
    for contact in [&hannah, &tom] {
        let chat = location(
            &olivia
                .post_form(
                    &format!("/app/clients/{}/chat", bakery.id),
                    &[("contact", &contact.id.to_string())],
                )
                .await,
        );
        olivia
            .post_form(
                &format!("{chat}/share"),
                &[("staff", &marcus.id.to_string())],
            )
            .await;
    }
    let (status, html) = marcus_browser.page("/app/messages/contacts").await;
    assert_eq!(status, 200);
    assert!(html.contains("Several chats about Northwind Bakery are shared with you: choose one."));
    assert!(html.contains("hannah — Northwind Bakery") && html.contains("tom — Northwind Bakery"));
    assert!(
        html.contains("Olivia Hart") || html.contains("Harbour Admin"),
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

#[tokio::test]
async fn links_in_messages_are_clickable_and_nothing_else_is() {
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path) = chatting(&app).await;
    staff
        .post_form(
            &staff_path,
            &[
                (
                    "body",
                    "Sign here: https://sign.example/doc?id=7&x=1. <script>alert(1)</script>",
                ),
                ("key", "l1"),
            ],
        )
        .await;
    let (_, html) = hannah.page(&portal_path).await;
    assert!(html.contains(
        "<a href=\"https://sign.example/doc?id=7&#38;x=1\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">"
    ) || html.contains(
        "<a href=\"https://sign.example/doc?id=7&amp;x=1\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">"
    ), "{html}");
    assert!(!html.contains("<script>alert(1)</script>"));
}

#[tokio::test]
async fn the_portal_switcher_marks_a_client_with_unread_messages() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let garden = app.with_client(practice.id, "Bluegum Landscaping").await;
    let hannah = active(
        &app,
        practice.id,
        "hannah@northwind.example",
        &[&bakery, &garden],
    )
    .await;
    let staff = app.staff_browser(&admin.email).await;
    let chat = location(
        &staff
            .post_form(
                &format!("/app/clients/{}/chat", bakery.id),
                &[("contact", &hannah.id.to_string())],
            )
            .await,
    );
    staff
        .post_form(
            &chat,
            &[("body", "A question about the bakery"), ("key", "u1")],
        )
        .await;
    let browser = signed_in(&app, &hannah.email).await;
    let (_, html) = browser
        .page(&format!("/portal/clients/{}", garden.id))
        .await;
    assert!(
        html.contains("<span class=\"badge unread\">1 unread</span>"),
        "{html}"
    );
}

/// The chat of [`chatting`] and its staff member, for use cases called
/// directly.
async fn chat_and_admin(
    app: &TestApp,
    staff_path: &str,
) -> (portico::domain::ChatId, portico::store::Staff) {
    let practice = app.store().list_practices().await.unwrap()[0].id;
    let admin = app.store().list_staff(practice).await.unwrap()[0].clone();
    let chat = staff_path
        .trim_start_matches("/app/messages/")
        .parse()
        .unwrap();
    (chat, admin)
}

/// How many messages the chat holds.
async fn stored(
    app: &TestApp,
    admin: &portico::store::Staff,
    chat: portico::domain::ChatId,
) -> usize {
    app.store()
        .chat_messages(admin.practice_id, chat, None, 1000)
        .await
        .unwrap()
        .len()
}

/// Sends `bodies` at once while the send queue is held, so that they are
/// written as one batch; returns each send's outcome.
async fn send_as_one_batch(
    app: &TestApp,
    chat: portico::domain::ChatId,
    admin: &portico::store::Staff,
    bodies: &[&str],
) -> Vec<Result<portico::store::Message, portico::app::AppError>> {
    let before = app.app.sends.written().0;
    let hold = app.app.sends.hold().await;
    let sends: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let (app, admin, body) = (app.app.clone(), admin.clone(), body.to_string());
            tokio::spawn(async move {
                app.send_message(
                    portico::app::questions::Actor::Staff(&admin),
                    chat,
                    &portico::app::chats::SendInput {
                        body,
                        key: format!("batch-{}-{i}", uuid::Uuid::now_v7()),
                        ..Default::default()
                    },
                )
                .await
            })
        })
        .collect();
    while app.app.sends.queued() < bodies.len() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(hold);
    let mut results = Vec::new();
    for send in sends {
        results.push(send.await.unwrap());
    }
    // One transaction, whatever became of it.
    let after = app.app.sends.written().0;
    assert!(after <= before + 1, "{before} → {after}");
    results
}

/// Group commit: sends that wait together are written in one transaction,
/// each acknowledged with its own number (M1).
#[tokio::test]
async fn sends_that_wait_together_are_written_in_one_transaction() {
    let app = TestApp::spawn().await;
    let (_staff, _hannah, staff_path, _) = chatting(&app).await;
    let (chat, admin) = chat_and_admin(&app, &staff_path).await;
    let (batches, _) = app.app.sends.written();
    let bodies: Vec<String> = (0..8).map(|i| format!("Batched message {i}")).collect();
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let results = send_as_one_batch(&app, chat, &admin, &bodies).await;
    assert_eq!(app.app.sends.written().0, batches + 1);
    let mut seqs: Vec<i64> = results.iter().map(|r| r.as_ref().unwrap().seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (3..=10).collect::<Vec<_>>());
    assert_eq!(stored(&app, &admin, chat).await, 10);
}

/// Group commit: when the transaction of a batch fails, every sender in it
/// hears so, nothing of the batch is stored, and the next send works.
#[tokio::test]
async fn a_failed_batch_fails_every_send_in_it() {
    let app = TestApp::spawn().await;
    let (staff, _hannah, staff_path, _) = chatting(&app).await;
    let (chat, admin) = chat_and_admin(&app, &staff_path).await;
    // The database refuses one particular message.
    if std::env::var("PORTICO_TEST_BACKEND").as_deref() == Ok("postgres") {
        app.execute_sql(
            "CREATE FUNCTION refuse_message() RETURNS trigger AS $$ BEGIN \
               IF NEW.body = 'refuse me' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; \
             END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_message BEFORE INSERT ON messages \
               FOR EACH ROW EXECUTE FUNCTION refuse_message();",
        )
        .await;
    } else {
        app.execute_sql(
            "CREATE TRIGGER refuse_message BEFORE INSERT ON messages \
             WHEN NEW.body = 'refuse me' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .await;
    }
    let results = send_as_one_batch(
        &app,
        chat,
        &admin,
        &["first", "second", "refuse me", "fourth", "fifth"],
    )
    .await;
    for result in &results {
        assert!(
            matches!(
                result,
                Err(portico::app::AppError::Store(
                    portico::store::StoreError::BatchFailed(_)
                ))
            ),
            "{result:?}"
        );
    }
    assert_eq!(
        stored(&app, &admin, chat).await,
        2,
        "only the two messages of before"
    );

    // Over HTTP the sender is told, and keeps the draft.
    let response = staff
        .client
        .post(staff.url(&staff_path))
        .header("accept", "application/json")
        .header("origin", staff.url(""))
        .form(&[
            ("body", "refuse me"),
            ("key", "http-refused"),
            ("csrf", &staff.csrf().await),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        answer["error"],
        "Your message was not saved. Please send it again."
    );
    let response = staff
        .post_form(
            &staff_path,
            &[("body", "refuse me"), ("key", "form-refused")],
        )
        .await;
    assert_eq!(response.status(), 503);
    let page = response.text().await.unwrap();
    assert!(page.contains("Your message was not saved"), "{page}");
    assert!(page.contains(">refuse me</textarea>"), "the draft is kept");

    // The writer carries on.
    let response = staff
        .post_form(&staff_path, &[("body", "All fine now"), ("key", "after")])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(stored(&app, &admin, chat).await, 3);

    // What no engine stores is refused before it joins a batch.
    let response = staff
        .post_form(&staff_path, &[("body", "nul\0here"), ("key", "nul")])
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(stored(&app, &admin, chat).await, 3);
}

/// M14: an open page reads only the messages after its last one, in its
/// own markup (links made safe, a reply's quote), and reading them marks
/// them read (M8) as reading the page does.
#[tokio::test]
async fn an_open_page_reads_only_the_new_messages_in_its_own_markup() {
    let app = TestApp::spawn().await;
    let (staff, hannah, staff_path, portal_path) = chatting(&app).await;
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
    let (status, html) = fragment(&hannah, format!("{portal_path}/after/2")).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-seq=\"3\""), "{html}");
    assert!(!html.contains("data-seq=\"2\""), "only what is new: {html}");
    assert!(
        html.contains("rel=\"noopener noreferrer nofollow\""),
        "{html}"
    );
    assert!(!html.contains("<b>now</b>"), "{html}");
    assert!(
        html.contains("blockquote class=\"quote\""),
        "the reply quotes #2: {html}"
    );
    assert!(html.contains("Great, thank you!"), "{html}");
    // She has read it now: staff see the receipt, her list shows nothing unread.
    let (_, page) = staff.page(&staff_path).await;
    assert!(page.contains("Read by the client"), "{page}");
    let (_, list) = hannah.page("/portal/messages").await;
    assert!(!list.contains("data-unread"), "{list}");
    // Nothing new: an empty answer.
    let (status, html) = fragment(&hannah, format!("{portal_path}/after/3")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("<li"), "{html}");

    // Someone not in the chat reads nothing.
    let (practice, _) = app.with_practice("Rival").await;
    let client = app.with_client(practice.id, "Elsewhere").await;
    let olly = active(&app, practice.id, "olly@elsewhere.example", &[&client]).await;
    let olly = signed_in(&app, &olly.email).await;
    let (status, _) = fragment(&olly, format!("{portal_path}/after/0")).await;
    assert_eq!(status, 404);
}
