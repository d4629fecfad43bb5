//! Scale-out (X4) as people run it: three `portico serve` processes on one
//! PostgreSQL database behind HAProxy (Debian's package), round robin, no
//! sticky sessions, WebSockets passed through, files in one S3 bucket
//! (`s3s-fs` on 127.0.0.1, see `s3.rs`), e-mail to one SMTP server. A
//! reminder and a notification go out once though every instance looks for
//! them; two people on different instances chat live; a file sent through
//! one instance downloads through another; signing out on one instance
//! closes the sockets on the others; and a rolling restart — each instance
//! in turn gets SIGTERM and comes back — while messages flow loses nothing
//! and doubles nothing.
//!
//! Runs in the PostgreSQL pass (`PORTICO_TEST_BACKEND=postgres`): SQLite is
//! one server's database.

use crate::durability::{Serving, practice_of_senders, signed_in};
use crate::harness::live::socket_request;
use crate::harness::{Browser, Socket, TestDb, free_port, location};
use crate::s3::{BUCKET, S3Server, file_links, files_under, send_file};
use crate::smtp::{ReceivedMail, SmtpServer};
use futures_util::StreamExt;
use portico::domain::{ClientKind, ContactId, EmailAddress, Millis, Name, PracticeId};
use portico::store::{ContactStatus, NewClient, NewContact, NewQuestion, ReminderSchedule};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const PATIENCE: Duration = Duration::from_secs(60);
const INSTANCES: [&str; 3] = ["app1", "app2", "app3"];
/// A client's contact with a question waiting for her answer.
const HANNAH: &str = "hannah@northwind.example";

/// HAProxy in front of the instances, as `deploy/haproxy.cfg` sets it up
/// (without TLS). `/ws?via=appN` pins a socket to one instance, so the test
/// knows where each socket is; everything else is round robin.
struct Haproxy {
    // Killed when dropped, with the test.
    _child: Child,
}

impl Haproxy {
    async fn start(dir: &Path, port: u16, backends: &[(&str, u16)]) -> Self {
        let mut config = format!(
            "global\n  maxconn 4000\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  \
             timeout server 60s\n  timeout tunnel 1h\n  retries 3\n  option redispatch\n\
             frontend web\n  bind 127.0.0.1:{port}\n  default_backend portico\n\
             backend portico\n  balance roundrobin\n  option httpchk GET /readyz\n  \
             http-check expect status 200\n  default-server inter 200ms fall 1 rise 1\n"
        );
        for (name, _) in backends {
            config.push_str(&format!(
                "  use-server {name} if {{ urlp(via) -m str {name} }}\n"
            ));
        }
        for (name, backend) in backends {
            config.push_str(&format!("  server {name} 127.0.0.1:{backend} check\n"));
        }
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).expect("write haproxy.cfg");
        let log = std::fs::File::create(dir.join("haproxy.log")).expect("haproxy log");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start haproxy (Debian's haproxy package)");
        Self { _child: child }
    }
}

/// A WebSocket through the load balancer, pinned to one instance.
async fn socket(lb: &str, browser: &Browser, via: &str) -> Socket {
    try_socket(lb, browser, via)
        .await
        .expect("a WebSocket through HAProxy")
}

/// As [`socket`]; an instance that is draining refuses new sockets.
async fn try_socket(
    lb: &str,
    browser: &Browser,
    via: &str,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}/ws?via={via}", lb.replace("http://", "ws://"));
    let (socket, _) = tokio_tungstenite::connect_async(socket_request(&url, lb, browser)).await?;
    Ok(socket)
}

/// What a socket gave next: an event, or how it closed.
enum Heard {
    Event(serde_json::Value),
    Closed(Option<u16>),
}

async fn hear(socket: &mut Socket) -> Heard {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await {
            Ok(Some(Ok(WsMessage::Text(text)))) => {
                return Heard::Event(serde_json::from_str(&text).expect("JSON event"));
            }
            Ok(Some(Ok(WsMessage::Close(frame)))) => {
                return Heard::Closed(frame.map(|f| u16::from(f.code)));
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) => return Heard::Closed(None),
            Err(_) => panic!("nothing heard within {PATIENCE:?}"),
        }
    }
}

/// One send as the chat page makes it; retried with the same key while it
/// fails (a connection cut by a restart, a 5xx), as the page retries.
async fn send(browser: &Browser, chat: &str, key: &str, body: &str) -> i64 {
    let until = tokio::time::Instant::now() + PATIENCE;
    loop {
        {
            let csrf = browser.csrf().await;
            let sent = browser
                .client
                .post(browser.url(chat))
                .header("origin", &browser.base_url)
                .header("accept", "application/json")
                .timeout(Duration::from_secs(20))
                .form(&[
                    ("body", body),
                    ("key", key),
                    ("reply_to", ""),
                    ("csrf", &csrf),
                ])
                .send()
                .await;
            if let Ok(response) = sent
                && response.status() == 200
                && let Ok(ack) = response.json::<serde_json::Value>().await
                && let Some(seq) = ack["seq"].as_i64()
            {
                return seq;
            }
        }
        assert!(
            tokio::time::Instant::now() < until,
            "{key} was never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn three_instances_behind_haproxy_chat_sign_out_and_restart_in_turn() {
    if std::env::var("PORTICO_TEST_BACKEND").as_deref() != Ok("postgres") {
        eprintln!("scale-out runs in the PostgreSQL pass (PORTICO_TEST_BACKEND=postgres)");
        return;
    }
    let db = TestDb::from_env().await;
    let (practice, emails) = practice_of_senders(&db).await;
    let store = db.store().await;
    let (client, hannah) = contact_with_a_reminder_due(&store, practice, &emails[0]).await;
    let smtp = SmtpServer::start().await;
    let s3_root = tempfile::tempdir().unwrap();
    std::fs::create_dir(s3_root.path().join(BUCKET)).unwrap();
    let s3 = S3Server::start(s3_root.path(), 0).await;
    let lb_port = free_port();
    let lb = format!("http://127.0.0.1:{lb_port}");
    let ports: Vec<u16> = INSTANCES.iter().map(|_| free_port()).collect();
    let backends: Vec<(&str, u16)> = INSTANCES.iter().copied().zip(ports.clone()).collect();
    let _haproxy = Haproxy::start(db.dir.path(), lb_port, &backends).await;
    let start = |port: u16, run: String| {
        let db = &db;
        let s3 = &s3;
        let lb = lb.clone();
        let smtp = smtp.url();
        async move {
            Serving::start_on(db, &run, &format!("127.0.0.1:{port}"), |command| {
                command
                    .args(["--public-url", &lb])
                    .args(["--shutdown-grace-secs", "1"])
                    .args(["--smtp-url", &smtp])
                    // An unread message is notified after a second.
                    .args(["--notify-delay-secs", "1"]);
                s3.configure(command);
            })
            .await
        }
    };
    // Started together: each looks for due reminders as it starts.
    let started = futures_util::future::join_all(
        backends
            .iter()
            .map(|(name, port)| start(*port, format!("{name}-0"))),
    )
    .await;
    let mut instances: BTreeMap<&str, Serving> = INSTANCES.into_iter().zip(started).collect();
    wait_for(&lb, "/readyz").await;

    // Hannah's reminder goes out, once however many instances looked.
    let reminder = |mail: &ReceivedMail| {
        mail.to.iter().any(|to| to == HANNAH)
            && mail
                .header("Subject")
                .is_some_and(|s| s == "Harbour is waiting for 1 answer from you")
    };
    wait_for_mail(&smtp, "Hannah's reminder", reminder).await;

    // Olivia writes to Hannah, who does not read it: every instance's
    // notification job sees it unread, and one e-mail tells her.
    let olivia = signed_in(&lb, &emails[0]).await;
    let response = olivia
        .post_form(
            &format!("/app/clients/{client}/chat"),
            &[("contact", &hannah.to_string())],
        )
        .await;
    assert_eq!(response.status(), 303, "a chat with Hannah");
    let with_hannah = location(&response);
    send(
        &olivia,
        &with_hannah,
        "to-hannah",
        "Your October statement is ready.",
    )
    .await;
    let notification = |mail: &ReceivedMail| {
        mail.to.iter().any(|to| to == HANNAH)
            && mail
                .header("Subject")
                .is_some_and(|s| s == "Harbour: 1 new message")
    };
    wait_for_mail(&smtp, "Hannah's notification", notification).await;

    // Olivia and Sam, signed in through the load balancer, chat.
    let sam = signed_in(&lb, &emails[1]).await;
    let sam_id = store
        .list_staff(practice)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.email.as_str() == emails[1])
        .unwrap()
        .id;
    let response = olivia
        .post_form(&format!("/app/messages/with/{sam_id}"), &[])
        .await;
    assert_eq!(response.status(), 303);
    let chat = location(&response);

    // Sam has a page open on each instance; Olivia's sends go round robin.
    let mut sams = Vec::new();
    for name in INSTANCES {
        sams.push((name, socket(&lb, &sam, name).await));
    }
    for i in 0..6 {
        let body = format!("hello {i}");
        let seq = send(&olivia, &chat, &format!("hello-{i}"), &body).await;
        for (name, socket) in &mut sams {
            match hear(socket).await {
                Heard::Event(event) => {
                    assert_eq!(event["seq"].as_i64(), Some(seq), "on {name}: {event}");
                }
                Heard::Closed(code) => panic!("Sam's socket on {name} closed: {code:?}"),
            }
        }
    }

    // A file sent through one instance downloads through another: the
    // bytes are in the one bucket. Not for a member outside the chat.
    let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n% the signed accounts\n".to_vec();
    let response = send_file(
        &olivia,
        &format!("{chat}?via=app1"),
        "file-1",
        "accounts.pdf",
        pdf.clone(),
    )
    .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    for (name, socket) in &mut sams {
        match hear(socket).await {
            Heard::Event(event) => assert_eq!(event["kind"], "message", "on {name}: {event}"),
            Heard::Closed(code) => panic!("Sam's socket on {name} closed: {code:?}"),
        }
    }
    assert!(
        files_under(&s3_root.path().join(BUCKET))
            .iter()
            .any(|path| std::fs::read(path).ok().as_deref() == Some(&pdf[..])),
        "the file is in the bucket"
    );
    let (status, html) = sam.page(&format!("{chat}?via=app2")).await;
    assert_eq!(status, 200);
    let links = file_links(&html);
    assert_eq!(links.len(), 1, "one file in the chat");
    let download = sam.get(&format!("{}?via=app2", links[0])).await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), pdf);
    let outsider = signed_in(&lb, &emails[5]).await;
    let refused = outsider.get(&format!("{}?via=app3", links[0])).await;
    assert_eq!(refused.status(), 404, "not in the chat");

    // Sam signs out (on whichever instance): every socket of his session
    // closes, on every instance.
    let response = sam.post_form("/sign-out", &[]).await;
    assert_eq!(response.status(), 303);
    for (name, socket) in &mut sams {
        loop {
            match hear(socket).await {
                Heard::Closed(_) => break,
                Heard::Event(event) if event["kind"] == "message" => {
                    panic!("Sam's socket on {name} still hears messages after signing out: {event}")
                }
                Heard::Event(_) => {}
            }
        }
    }

    // A rolling restart while four people send: each instance in turn gets
    // SIGTERM and comes back. Sam's page listens through the load balancer,
    // reconnecting when told to, and catches up from what it saw last.
    let sam = signed_in(&lb, &emails[1]).await;
    let mut senders = vec![olivia];
    for email in &emails[2..5] {
        senders.push(signed_in(&lb, email).await);
    }
    // The chat becomes a group of everyone who sends.
    let group = {
        let response = senders[0]
            .post_form(
                "/app/messages/new",
                &[
                    ("title", "Month end"),
                    ("staff", &sam_id.to_string()),
                    ("staff", &staff_id(&store, practice, &emails[2]).await),
                    ("staff", &staff_id(&store, practice, &emails[3]).await),
                    ("staff", &staff_id(&store, practice, &emails[4]).await),
                ],
            )
            .await;
        assert_eq!(response.status(), 303, "a group chat");
        location(&response)
    };
    let done = Arc::new(AtomicBool::new(false));
    let mut sending = Vec::new();
    for (n, browser) in senders.into_iter().enumerate() {
        let group = group.clone();
        let done = done.clone();
        sending.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !done.load(Ordering::SeqCst) || i < 20 {
                let key = format!("[r-{n}-{i}]");
                let seq = send(&browser, &group, &key, &key).await;
                acked.push((key, seq));
                i += 1;
            }
            acked
        }));
    }
    let listening = {
        let lb = lb.clone();
        let group = group.clone();
        let sam = sam;
        let done = done.clone();
        tokio::spawn(async move {
            let mut heard: HashSet<i64> = HashSet::new();
            let mut told_to_reconnect = 0;
            let mut last = 0;
            let mut caught_up = String::new();
            // Once the sends are done, the page listens on until it has
            // heard nothing for a second: the last sends' events may still
            // be crossing between instances on a loaded machine.
            let mut quiet_after_done = 0;
            'pages: while !done.load(Ordering::SeqCst) {
                let Ok(mut page) = try_socket(&lb, &sam, "any").await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                // What was sent while the page was away.
                let (status, html) = sam.page(&format!("{group}/after/{last}")).await;
                assert_eq!(status, 200);
                caught_up.push_str(&html);
                loop {
                    tokio::select! {
                        heard_now = hear(&mut page) => match heard_now {
                            Heard::Event(event) => {
                                if let Some(seq) = event["seq"].as_i64()
                                    && event["kind"] == "message"
                                {
                                    heard.insert(seq);
                                    last = last.max(seq);
                                }
                                quiet_after_done = 0;
                            }
                            Heard::Closed(code) => {
                                if code == Some(1012) {
                                    told_to_reconnect += 1;
                                }
                                continue 'pages;
                            }
                        },
                        () = tokio::time::sleep(Duration::from_millis(200)) => {
                            if done.load(Ordering::SeqCst) {
                                quiet_after_done += 1;
                                if quiet_after_done >= 5 {
                                    break 'pages;
                                }
                            }
                        }
                    }
                }
            }
            (heard, told_to_reconnect, caught_up, sam)
        })
    };
    for (i, (name, port)) in backends.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let instance = instances.remove(name).unwrap();
        let status = instance.terminate().await;
        assert!(
            status.success(),
            "{name} stopped cleanly after SIGTERM: {status}"
        );
        instances.insert(name, start(*port, format!("{name}-{}", i + 1)).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    done.store(true, Ordering::SeqCst);
    let mut acked = Vec::new();
    for task in sending {
        acked.extend(task.await.unwrap());
    }
    let (heard, told_to_reconnect, caught_up, sam) = listening.await.unwrap();

    // Nothing lost, nothing doubled: every acknowledged send is stored once,
    // with the seq it was acknowledged with.
    let stored = stored_messages(&db, group.trim_start_matches("/app/messages/")).await;
    for (key, seq) in &acked {
        let copies: Vec<_> = stored.iter().filter(|(_, body)| body == key).collect();
        assert_eq!(copies.len(), 1, "{key} is stored exactly once");
        assert_eq!(
            copies[0].0, *seq,
            "{key} has the seq it was acknowledged with"
        );
    }
    let seqs: HashSet<i64> = acked.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(seqs.len(), acked.len(), "no two sends share a seq");
    // Sam's page saw each message live or caught up on it.
    for (key, seq) in &acked {
        assert!(
            heard.contains(seq) || caught_up.contains(key.as_str()),
            "Sam's page missed {key}"
        );
    }
    drop(sam);
    assert!(
        told_to_reconnect > 0,
        "a draining instance told Sam's page to reconnect elsewhere"
    );

    // Six instances have started by now, each looking for due reminders
    // and unread messages as it started: Hannah was told once of each.
    let mails = smtp.messages();
    assert_eq!(
        mails.iter().filter(|m| reminder(m)).count(),
        1,
        "one reminder"
    );
    assert_eq!(
        mails.iter().filter(|m| notification(m)).count(),
        1,
        "one notification"
    );
    drop(instances);
    s3.stop().await;
}

/// A client of the practice whose contact Hannah has had a question open
/// for three days, with daily reminders at a time of day twelve hours from
/// now (so that the slot due now stays the one due while the test runs).
async fn contact_with_a_reminder_due(
    store: &portico::store::Store,
    practice: PracticeId,
    admin_email: &str,
) -> (portico::domain::ClientId, ContactId) {
    let client = store
        .create_client(
            practice,
            &NewClient {
                name: Name::parse("Northwind Bakery").unwrap(),
                kind: ClientKind::Business,
            },
        )
        .await
        .unwrap();
    let hannah = store
        .create_contact(
            practice,
            &NewContact {
                email: EmailAddress::parse(HANNAH).unwrap(),
                name: Name::parse("Hannah").unwrap(),
                phone: None,
            },
        )
        .await
        .unwrap();
    store
        .grant_access(practice, hannah.id, client.id)
        .await
        .unwrap();
    store
        .set_contact_status(practice, hannah.id, ContactStatus::Active)
        .await
        .unwrap();
    let admin = staff_id(store, practice, admin_email)
        .await
        .parse()
        .unwrap();
    let three_days_ago = Millis(Millis::now().0 - 3 * 24 * 3_600_000);
    let mut tx = store.begin().await.unwrap();
    tx.insert_question(
        practice,
        &NewQuestion {
            client_id: client.id,
            assignee: None,
            title: "Please send the October bank statement".into(),
            details: String::new(),
            asked_by: admin,
        },
        three_days_ago,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let zone = store.contact_time_zone(practice, hannah.id).await.unwrap();
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::get(&zone).unwrap());
    let minute_now = i64::from(now.hour()) * 60 + i64::from(now.minute());
    store
        .set_reminder_schedule(
            practice,
            client.id,
            &ReminderSchedule {
                every_days: 1,
                minute_of_day: (minute_now + 12 * 60) % (24 * 60),
                max: 5,
                sms_from_step: 21,
            },
        )
        .await
        .unwrap();
    (client.id, hannah.id)
}

/// Waits until the SMTP server has received an e-mail that `is` it.
async fn wait_for_mail(smtp: &SmtpServer, what: &str, is: impl Fn(&ReceivedMail) -> bool) {
    let until = tokio::time::Instant::now() + PATIENCE;
    while !smtp.messages().iter().any(&is) {
        assert!(
            tokio::time::Instant::now() < until,
            "{what} never arrived: {:?}",
            smtp.messages()
                .iter()
                .map(|m| (m.to.clone(), m.header("Subject")))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every message of a chat as stored: (seq, body).
async fn stored_messages(db: &TestDb, chat: &str) -> Vec<(i64, String)> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("SELECT seq, body FROM messages WHERE chat_id = $1 ORDER BY seq")
        .bind(chat)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

async fn staff_id(
    store: &portico::store::Store,
    practice: portico::domain::PracticeId,
    email: &str,
) -> String {
    store
        .list_staff(practice)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.email.as_str() == email)
        .unwrap()
        .id
        .to_string()
}

/// Waits until `path` answers 200 through `base`.
async fn wait_for(base: &str, path: &str) {
    let http = reqwest::Client::new();
    let ready = async {
        loop {
            if let Ok(response) = http.get(format!("{base}{path}")).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(PATIENCE, ready)
        .await
        .expect("the load balancer answers");
}
