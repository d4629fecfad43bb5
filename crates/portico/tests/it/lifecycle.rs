//! Data lifecycle (issue 11): deleting a chat or a message takes its files'
//! rows and bytes with it, in one transaction with its audit entry; two
//! instances that store the same double-clicked send at once both answer
//! with the one stored message.

use crate::harness::{self, Browser, TestApp, active, location, send_chat_file};
use portico::domain::ChatId;
use portico::store::{Contact, FileMeta, Staff};
use std::path::PathBuf;
use std::time::Duration;

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";

/// A chat between the admin and a client's contact, each having sent one
/// message with a PDF (seq 1 the contact's, seq 2 the admin's).
struct Chatting {
    admin: Staff,
    staff: Browser,
    contact: Browser,
    staff_path: String,
    portal_path: String,
    chat: ChatId,
}

async fn chatting_with_files(app: &TestApp) -> Chatting {
    let harness::Chatting {
        world,
        hannah_browser: contact,
        chat,
        ..
    } = harness::Chatting::new(app).await;
    let (admin, staff) = (world.admin, world.staff);
    send_chat_file(&contact, &chat.portal_path, "hannah-1", "statement.pdf").await;
    send_chat_file(&staff, &chat.staff_path, "staff-1", "receipt.pdf").await;
    Chatting {
        admin,
        staff,
        contact,
        staff_path: chat.staff_path,
        portal_path: chat.portal_path,
        chat: chat.id,
    }
}

async fn files_of(app: &TestApp, c: &Chatting) -> Vec<FileMeta> {
    app.store()
        .chat_files(c.admin.practice_id, c.chat, 0, i64::MAX)
        .await
        .unwrap()
}

/// Where the local file store keeps a file's bytes.
fn bytes_at(app: &TestApp, file: &FileMeta) -> PathBuf {
    app.data_dir.join("files").join(&file.storage_key)
}

async fn audit(app: &TestApp, c: &Chatting) -> Vec<String> {
    app.store()
        .audit_events(c.admin.practice_id, &format!("chat:{}", c.chat))
        .await
        .unwrap()
        .into_iter()
        .map(|(action, _)| action)
        .collect()
}

/// M10, M9: a deleted message's file row goes in the transaction that
/// records the deletion; its bytes go once the removal job runs.
#[tokio::test]
async fn deleting_a_message_takes_its_file_row_at_once_and_its_bytes_after_commit() {
    let app = TestApp::spawn().await;
    let c = chatting_with_files(&app).await;
    let files = files_of(&app, &c).await;
    assert_eq!(files.len(), 2);
    let hannahs = files.iter().find(|f| f.message_seq == Some(1)).unwrap();
    assert!(bytes_at(&app, hannahs).is_file(), "stored locally");

    // Only the sender deletes (the admin is refused, nothing changes).
    let response = c
        .staff
        .post_form(
            &format!("{}/action", c.staff_path),
            &[("action", "delete"), ("seq", "1")],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(files_of(&app, &c).await.len(), 2);

    c.contact
        .post_form(
            &format!("{}/action", c.portal_path),
            &[("action", "delete"), ("seq", "1")],
        )
        .await;
    let left = files_of(&app, &c).await;
    assert_eq!(left.len(), 1, "the deleted message's file row is gone");
    assert_eq!(left[0].message_seq, Some(2));
    assert_eq!(audit(&app, &c).await, vec!["message deleted"]);
    let queued = app
        .store()
        .pending_file_deletions(c.admin.practice_id)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].storage_key, hannahs.storage_key);

    let swept = app.app.file_sweeper().run_once().await.unwrap();
    assert_eq!((swept.removed, swept.failed), (1, 0));
    assert!(!bytes_at(&app, hannahs).exists(), "the bytes are gone");
    assert!(bytes_at(&app, &left[0]).is_file(), "the other file stays");
    assert!(
        app.store()
            .pending_file_deletions(c.admin.practice_id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// M6: deleting a chat removes its files' rows with it and records the
/// audit entry in the same transaction; the bytes go after commit, and a
/// removal that fails is retried after a back-off until it succeeds.
#[tokio::test]
async fn deleting_a_chat_removes_its_files_and_retries_a_failed_removal() {
    let app = TestApp::spawn().await;
    let c = chatting_with_files(&app).await;
    let files = files_of(&app, &c).await;
    assert_eq!(files.len(), 2);

    // A contact cannot delete the chat.
    let response = c
        .contact
        .post_form(&format!("{}/delete", c.staff_path), &[])
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(files_of(&app, &c).await.len(), 2);

    let response = c
        .staff
        .post_form(&format!("{}/delete", c.staff_path), &[])
        .await;
    assert_eq!(location(&response), "/app/messages");
    assert!(files_of(&app, &c).await.is_empty(), "no dangling file rows");
    assert_eq!(audit(&app, &c).await, vec!["chat deleted"]);
    let queued = app
        .store()
        .pending_file_deletions(c.admin.practice_id)
        .await
        .unwrap();
    assert_eq!(queued.len(), 2);

    // The file store fails on one file: something it cannot remove (a
    // folder) stands where its bytes were.
    let stuck = bytes_at(&app, &files[0]);
    std::fs::remove_file(&stuck).unwrap();
    std::fs::create_dir_all(stuck.join("in-the-way")).unwrap();
    let swept = app.app.file_sweeper().run_once().await.unwrap();
    assert_eq!((swept.removed, swept.failed), (1, 1));
    assert!(!bytes_at(&app, &files[1]).exists());
    let queued = app
        .store()
        .pending_file_deletions(c.admin.practice_id)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "the failed removal stays queued");
    assert_eq!(queued[0].storage_key, files[0].storage_key);
    assert_eq!(queued[0].attempts, 1);
    assert!(queued[0].last_error.is_some());
    assert!(queued[0].next_attempt_at > app.clock.now().0, "backed off");

    // Not retried before its time; retried after, and then it succeeds.
    std::fs::remove_dir_all(&stuck).unwrap();
    std::fs::write(&stuck, PDF).unwrap();
    let swept = app.app.file_sweeper().run_once().await.unwrap();
    assert_eq!((swept.removed, swept.failed), (0, 0));
    assert!(stuck.is_file());
    app.clock.advance(Duration::from_secs(31));
    let swept = app.app.file_sweeper().run_once().await.unwrap();
    assert_eq!((swept.removed, swept.failed), (1, 0));
    assert!(!stuck.exists(), "removed on the retry");
    assert!(
        app.store()
            .pending_file_deletions(c.admin.practice_id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// M6: when the audit entry cannot be written, the deletion does not
/// happen either: rows, files and bytes all stay, nothing is queued.
#[tokio::test]
async fn a_deletion_whose_audit_entry_fails_deletes_nothing() {
    let app = TestApp::spawn().await;
    let c = chatting_with_files(&app).await;
    if app.store().backend() == portico::store::Backend::Postgres {
        app.execute_sql(
            "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN \
               RAISE EXCEPTION 'audit log unavailable'; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events \
               FOR EACH ROW EXECUTE FUNCTION refuse_audit();",
        )
        .await;
    } else {
        app.execute_sql(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events \
             BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END;",
        )
        .await;
    }
    let chat = app
        .app
        .delete_chat(&c.admin, c.chat, &crate::harness::origin())
        .await
        .expect_err("the audit entry failed");
    assert!(matches!(chat, portico::app::AppError::Store(_)), "{chat:?}");
    let message = app
        .app
        .chat_action(
            portico::app::questions::Actor::Staff(&c.admin),
            c.chat,
            portico::app::chats::ChatAction::DeleteMessage { seq: 2 },
            &crate::harness::origin(),
        )
        .await;
    assert!(message.is_err());
    let files = files_of(&app, &c).await;
    assert_eq!(files.len(), 2, "the rows stay");
    assert!(files.iter().all(|f| bytes_at(&app, f).is_file()));
    assert!(audit(&app, &c).await.is_empty());
    assert!(
        app.store()
            .pending_file_deletions(c.admin.practice_id)
            .await
            .unwrap()
            .is_empty()
    );
    let (status, html) = c.staff.page(&c.staff_path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Here is receipt.pdf"), "the message stays");
}

/// The sends of `sends` (actor, body, key) through `app`, held back so that
/// they are written as one batch; returns once they are all queued.
fn one_batch(
    app: &portico::app::App,
    chat: ChatId,
    sends: Vec<(Member, String, String)>,
) -> Vec<tokio::task::JoinHandle<Result<portico::store::Message, portico::app::AppError>>> {
    sends
        .into_iter()
        .map(|(who, body, key)| {
            let app = app.clone();
            tokio::spawn(async move {
                let input = portico::app::chats::SendInput {
                    body,
                    key,
                    ..Default::default()
                };
                match &who {
                    Member::Staff(staff) => {
                        app.send_message(Actor::Staff(staff), chat, &input).await
                    }
                    Member::Contact(contact) => {
                        app.send_message(Actor::Contact(contact), chat, &input)
                            .await
                    }
                }
            })
        })
        .collect()
}

enum Member {
    Staff(Staff),
    Contact(Contact),
}

use portico::app::questions::Actor;

/// M1, X4: two instances on one PostgreSQL database receive the same
/// double-clicked send at the same moment, each in a batch with another
/// person's message. Both answer with the one stored message; the other
/// messages of both batches are stored; the chat's numbers have no gap.
#[tokio::test]
async fn two_instances_storing_the_same_send_at_once_both_answer_with_the_one_message() {
    use sqlx::Connection;
    let app = TestApp::spawn().await;
    if app.store().backend() != portico::store::Backend::Postgres {
        eprintln!("SQLite: one instance owns the database; see the PostgreSQL run");
        return;
    }
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let chat = app
        .app
        .open_direct_chat(&admin, bakery.id, hannah.id)
        .await
        .unwrap()
        .id;
    let other = app.another_instance().await;

    // A connection of the test's own holds the chat's row, so both
    // batches look up their keys, find nothing, and then wait to number
    // their messages; released, one commits first and the other meets its
    // key.
    sqlx::any::install_default_drivers();
    let mut blocker = sqlx::AnyConnection::connect(&app.database_url())
        .await
        .unwrap();
    let (blocker_pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(&mut blocker)
        .await
        .unwrap();
    let mut hold_chat = blocker.begin().await.unwrap();
    sqlx::query("SELECT id FROM chats WHERE id = $1 FOR UPDATE")
        .bind(chat.to_string())
        .execute(&mut *hold_chat)
        .await
        .unwrap();

    let hold_a = app.app.sends.hold().await;
    let hold_b = other.sends.hold().await;
    let mut sends = one_batch(
        &app.app,
        chat,
        vec![
            (
                Member::Staff(admin.clone()),
                "Your return is ready.".into(),
                "dbl".into(),
            ),
            (
                Member::Contact(hannah.clone()),
                "Thanks (A)".into(),
                "h-a".into(),
            ),
        ],
    );
    sends.extend(one_batch(
        &other,
        chat,
        vec![
            (
                Member::Staff(admin.clone()),
                "Your return is ready.".into(),
                "dbl".into(),
            ),
            (
                Member::Contact(hannah.clone()),
                "Thanks (B)".into(),
                "h-b".into(),
            ),
        ],
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.app.sends.queued() < 2 || other.sends.queued() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the sends queued");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(hold_a);
    drop(hold_b);
    // Both batches wait behind the held row (one of them perhaps behind
    // the other, which waits for the row).
    let mut watcher = sqlx::AnyConnection::connect(&app.database_url())
        .await
        .unwrap();
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity a WHERE $1 = ANY(pg_blocking_pids(a.pid)) \
             OR EXISTS (SELECT 1 FROM pg_stat_activity b WHERE b.pid = ANY(pg_blocking_pids(a.pid)) \
                        AND $1 = ANY(pg_blocking_pids(b.pid)))",
        )
        .bind(blocker_pid)
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both batches reached the chat's row ({waiting} waiting)"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    hold_chat.rollback().await.unwrap();

    let mut results = Vec::new();
    for send in sends {
        results.push(send.await.unwrap());
    }
    let messages: Vec<_> = results
        .into_iter()
        .map(|r| r.expect("every send of both batches is acknowledged"))
        .collect();
    assert_eq!(
        messages[0].id, messages[2].id,
        "one stored message for the key"
    );
    assert_eq!(messages[0].body, "Your return is ready.");
    let stored = app
        .store()
        .messages_from(practice.id, chat, 0, 100)
        .await
        .unwrap();
    let seqs: Vec<i64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        vec![1, 2, 3],
        "three messages, numbered without a gap"
    );
    let mut bodies: Vec<&str> = stored.iter().map(|m| m.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(
        bodies,
        vec!["Thanks (A)", "Thanks (B)", "Your return is ready."]
    );
    let chat_row = app
        .store()
        .chat_for_member(practice.id, chat, portico::store::Member::Staff(admin.id))
        .await
        .unwrap();
    assert_eq!(chat_row.last_seq, 3, "no number taken and left unused");
}

/// X4: PostgreSQL ends the pool's connections (a restart, a fail-over, an
/// administrator's `pg_terminate_backend`). A pooled connection that has
/// waited a moment is tested before use, so the next pages work: nobody
/// meets an error for connections that died while nobody used them.
#[tokio::test]
async fn pages_work_after_postgresql_ends_the_pools_connections() {
    let app = TestApp::spawn().await;
    if app.store().backend() != portico::store::Backend::Postgres {
        eprintln!("SQLite: a database file's connections cannot be ended from outside");
        return;
    }
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let staff = app.staff_browser(&admin.email).await;
    // Several requests at once, so the pool holds several connections.
    let pages = ["/app", "/app/clients", "/app/questions", "/app/messages"];
    for _ in 0..2 {
        let loads = pages.iter().map(|path| staff.page(path));
        for (status, _) in futures_util::future::join_all(loads).await {
            assert_eq!(status, 200);
        }
    }

    let url = app.database_url();
    let name = url
        .split("application_name=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("the test database's connections are named")
        .to_owned();
    sqlx::any::install_default_drivers();
    let mut admin_db = <sqlx::AnyConnection as sqlx::Connection>::connect(
        &std::env::var("PORTICO_TEST_POSTGRES_URL").expect("the PostgreSQL run names its server"),
    )
    .await
    .unwrap();
    let (ended,): (i64,) = sqlx::query_as(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = $1",
    )
    .bind(&name)
    .fetch_one(&mut admin_db)
    .await
    .unwrap();
    assert!(ended >= 2, "the pool's connections were ended ({ended})");

    // A moment later the next visitor's pages, and a change, all work.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..3 {
        let loads = pages.iter().map(|path| staff.page(path));
        for (status, html) in futures_util::future::join_all(loads).await {
            assert_eq!(status, 200, "{html}");
        }
    }
    let (status, html) = staff.page(&format!("/app/clients/{}", bakery.id)).await;
    assert_eq!(status, 200, "{html}");
}
