//! Sending a message: throttled floods, sends written together in one
//! transaction and failing together (M1, group commit), files and voice
//! notes (M9), the client's status (M16), links made clickable, and the
//! whole history fifty at a time (M15).

use crate::harness::{Chatting, Page, TestApp, World, location};
use portico::app::chats::SendInput;
use std::time::Duration;

#[tokio::test]
async fn a_flood_of_sends_is_throttled() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let bakery = w.client("Northwind Bakery").await;
    let hannah = w.contact("hannah@northwind.example", &[&bakery]).await;
    let staff = &w.staff;
    let chat_path = w.chat(&bakery, &hannah).await.staff_path;
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
    let inputs = bodies
        .iter()
        .map(|body| SendInput {
            body: body.to_string(),
            ..Default::default()
        })
        .collect();
    send_inputs_as_one_batch(app, chat, admin, inputs).await
}

/// [`send_as_one_batch`], of whole sends (each given its own key).
async fn send_inputs_as_one_batch(
    app: &TestApp,
    chat: portico::domain::ChatId,
    admin: &portico::store::Staff,
    inputs: Vec<SendInput>,
) -> Vec<Result<portico::store::Message, portico::app::AppError>> {
    let count = inputs.len();
    let before = app.app.sends.written().0;
    let hold = app.app.sends.hold().await;
    let sends: Vec<_> = inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| {
            let (app, admin) = (app.app.clone(), admin.clone());
            let input = SendInput {
                key: format!("batch-{}-{i}", uuid::Uuid::now_v7()),
                ..input
            };
            tokio::spawn(async move {
                app.send_message(portico::app::questions::Actor::Staff(&admin), chat, &input)
                    .await
            })
        })
        .collect();
    while app.app.sends.queued() < count {
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
    let c = Chatting::started(&app).await;
    let (chat, admin) = (c.chat.id, &c.world.admin);
    let (batches, _) = app.app.sends.written();
    let bodies: Vec<String> = (0..8).map(|i| format!("Batched message {i}")).collect();
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let results = send_as_one_batch(&app, chat, admin, &bodies).await;
    assert_eq!(app.app.sends.written().0, batches + 1);
    let mut seqs: Vec<i64> = results.iter().map(|r| r.as_ref().unwrap().seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (3..=10).collect::<Vec<_>>());
    assert_eq!(stored(&app, admin, chat).await, 10);
}

/// Group commit on SQLite: a batch of plain messages is written by the
/// message writer's own connection in one hand-off; a batch with a send
/// that carries more (here a client's status, M16) through the pool. Both
/// take the chat's next numbers, in one order (M1).
#[tokio::test]
async fn plain_batches_go_to_sqlites_message_writer_and_others_through_the_pool() {
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let (chat, admin) = (c.chat.id, &c.world.admin);
    let sqlite = app.store().backend() == portico::store::Backend::Sqlite;
    let on_writer = app.app.sends.written_by_sqlite_writer();

    let plain = send_as_one_batch(&app, chat, admin, &["one", "two", "three"]).await;
    let with_status = send_inputs_as_one_batch(
        &app,
        chat,
        admin,
        vec![
            SendInput {
                body: "four".into(),
                ..Default::default()
            },
            SendInput {
                body: "Books closed for March".into(),
                set_status: true,
                ..Default::default()
            },
        ],
    )
    .await;
    let plain_again = send_as_one_batch(&app, chat, admin, &["six"]).await;

    // Two of the three batches on SQLite's writer; none on PostgreSQL.
    assert_eq!(
        app.app.sends.written_by_sqlite_writer() - on_writer,
        if sqlite { 2 } else { 0 }
    );
    let mut seqs: Vec<i64> = plain
        .iter()
        .chain(&with_status)
        .chain(&plain_again)
        .map(|r| r.as_ref().expect("stored").seq)
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (3..=8).collect::<Vec<_>>());
    assert_eq!(stored(&app, admin, chat).await, 8);
    // The status went with its message.
    let client = app
        .store()
        .chat_client(admin.practice_id, chat)
        .await
        .unwrap()
        .expect("a client's chat");
    let status = app
        .store()
        .client_status(admin.practice_id, client)
        .await
        .unwrap();
    assert_eq!(
        status.map(|s| s.0),
        Some("Books closed for March".to_owned())
    );
}

/// Group commit: when the transaction of a batch fails, every sender in it
/// hears so, nothing of the batch is stored, and the next send works.
#[tokio::test]
async fn a_failed_batch_fails_every_send_in_it() {
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let staff = c.staff();
    let staff_path = c.chat.staff_path.clone();
    let (chat, admin) = (c.chat.id, &c.world.admin);
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
        admin,
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
        stored(&app, admin, chat).await,
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
    assert_eq!(stored(&app, admin, chat).await, 3);

    // What no engine stores is refused before it joins a batch.
    let response = staff
        .post_form(&staff_path, &[("body", "nul\0here"), ("key", "nul")])
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(stored(&app, admin, chat).await, 3);
}

#[tokio::test]
async fn files_and_voice_notes_in_a_chat_and_the_clients_status() {
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let (staff, hannah) = (c.staff(), &c.hannah_browser);
    let (staff_path, portal_path) = (c.chat.staff_path.clone(), c.chat.portal_path.clone());
    let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec();
    let mut ogg = b"OggS\x00\x02".to_vec();
    ogg.resize(200, 0);
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
        .post_multipart(&format!("{portal_path}/files"), form)
        .await;
    assert_eq!(location(&response), portal_path);
    let (_, html) = staff.page(&staff_path).await;
    let page = Page::parse(&html);
    assert_eq!(page.text("#m3 a.card-file .file-name"), "statement.pdf");
    assert!(
        page.select_text("#m3 .attachment")
            .iter()
            .any(|a| a.contains("note.ogg")),
        "{html}"
    );
    let href = page
        .attr("#m3 a.card-file", "href")
        .expect("the statement's link");
    let download = staff.get(&href).await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), pdf);

    // A refused type gets a sentence; nothing is sent.
    let form = reqwest::multipart::Form::new().text("key", "files-2").part(
        "files",
        reqwest::multipart::Part::bytes(b"<html></html>".to_vec()).file_name("page.html"),
    );
    let response = hannah
        .post_multipart(&format!("{portal_path}/files"), form)
        .await;
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
    assert_eq!(outsider.get(&href).await.status(), 404);
    hannah
        .post_form(
            &format!("{portal_path}/action"),
            &[("action", "delete"), ("seq", "3")],
        )
        .await;
    assert_eq!(
        staff.get(&href).await.status(),
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
    let page = Page::parse(&html);
    assert_eq!(page.text("#status-heading"), "Latest status");
    assert_eq!(
        page.text("section.status .body"),
        "Your 2026 return was lodged."
    );
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
async fn links_in_messages_are_clickable_and_nothing_else_is() {
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let (staff, hannah) = (c.staff(), &c.hannah_browser);
    let (staff_path, portal_path) = (c.chat.staff_path.clone(), c.chat.portal_path.clone());
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
    let page = Page::parse(&html);
    assert_eq!(
        page.attrs("#m3 .body a", "href"),
        ["https://sign.example/doc?id=7&x=1"],
        "one link: {html}"
    );
    assert_eq!(
        page.attr("#m3 .body a", "rel").as_deref(),
        Some("noopener noreferrer nofollow")
    );
    assert_eq!(
        page.attr("#m3 .body a", "target").as_deref(),
        Some("_blank")
    );
    assert!(!page.has("#m3 .body script"), "{html}");
    assert!(!html.contains("<script>alert(1)</script>"));
}

#[tokio::test]
async fn the_whole_history_pages_back_fifty_at_a_time() {
    let app = TestApp::spawn().await;
    let c = Chatting::started(&app).await;
    let staff = c.staff();
    let staff_path = c.chat.staff_path.clone();
    let (chat, admin) = (c.chat.id, &c.world.admin);
    // 60 more messages (the sends are throttled over HTTP, so straight through the use case).
    for i in 0..60 {
        app.clock.advance(Duration::from_secs(2));
        app.app
            .send_message(
                portico::app::questions::Actor::Staff(admin),
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
    let page = Page::parse(&html);
    let thread = page.select_text("#messages li.msg .body");
    assert_eq!(thread.len(), 50, "the newest fifty");
    assert_eq!(thread.last().unwrap(), "Message number 59");
    assert!(
        !html.contains("Your return is ready."),
        "the first messages are on an earlier page"
    );
    let earlier = page
        .attr("p.earlier a", "href")
        .expect("a link to earlier messages");
    assert!(
        earlier.starts_with(&format!("{staff_path}?before=")),
        "{earlier}"
    );
    let (_, html) = staff.page(&earlier).await;
    let thread = Page::parse(&html).select_text("#messages li.msg .body");
    assert!(thread.contains(&"Your return is ready.".to_owned()));
    assert!(thread.contains(&"Great, thank you!".to_owned()));
    assert!(
        !thread.contains(&"Message number 59".to_owned()),
        "only the earlier page"
    );
}
