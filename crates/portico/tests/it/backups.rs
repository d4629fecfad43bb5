//! Backups (X14): `portico backup` copies a running server's SQLite
//! database and files into one archive while people are sending; `portico
//! restore` unpacks it into an empty data folder, with every message and
//! file that was acknowledged before the backup began.

use crate::harness::{Browser, TestApp, location};
use portico::domain::ChatId;
use portico::store::{Store, StoreOptions};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_portico");
const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";

/// The binary with none of the caller's PORTICO_* settings.
fn portico(data_dir: &Path, database_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("PORTICO_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PORTICO_LOG", "warn")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(database_url)
        .kill_on_drop(true);
    cmd
}

async fn run(mut cmd: Command) -> (bool, String) {
    let output = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("the command finishes")
        .expect("run portico");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// What a sender was told: the message's number, its text, and the file
/// it carried, if any.
#[derive(Clone, Debug)]
struct Ack {
    seq: i64,
    body: String,
    file: Option<Vec<u8>>,
}

/// A send as the chat page's script makes it; `Some(seq)` when acknowledged.
async fn send(
    browser: &Browser,
    path: &str,
    key: &str,
    body: &str,
    file: Option<&[u8]>,
) -> Option<i64> {
    let csrf = browser.csrf().await;
    let request = match file {
        None => browser.client.post(browser.url(path)).form(&[
            ("body", body),
            ("key", key),
            ("csrf", csrf.as_str()),
        ]),
        Some(bytes) => browser
            .client
            .post(browser.url(&format!("{path}/files?csrf={csrf}")))
            .multipart(
                reqwest::multipart::Form::new()
                    .text("body", body.to_owned())
                    .text("key", key.to_owned())
                    .part(
                        "files",
                        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("scan.pdf"),
                    ),
            ),
    };
    let response = request
        .header("origin", &browser.base_url)
        .header("accept", "application/json")
        .send()
        .await
        .ok()?;
    if response.status() == 200 {
        let ack: serde_json::Value = response.json().await.ok()?;
        ack["seq"].as_i64()
    } else if response.status() == 303 {
        // The file form answers with the chat page: stored, number unknown.
        Some(0)
    } else {
        None
    }
}

#[tokio::test]
async fn a_backup_taken_while_people_send_restores_every_acknowledged_message_and_file() {
    let app = TestApp::spawn_with(portico::config::ConfigArgs {
        send_limit_per_minute: Some(0),
        ..Default::default()
    })
    .await;
    let database_url = app.database_url();
    let backup_file = app.data_dir.parent().unwrap().join("portico-backup.tar");
    if app.store().backend() == portico::store::Backend::Postgres {
        let (ok, said) = run({
            let mut cmd = portico(&app.data_dir, &database_url);
            cmd.arg("backup").arg("--to").arg(&backup_file);
            cmd
        })
        .await;
        assert!(!ok, "nothing to do on PostgreSQL: {said}");
        assert!(said.contains("pg_dump"), "{said}");
        assert!(said.contains("files"), "{said}");
        assert!(!backup_file.exists());
        return;
    }
    let (practice, admin) = app.with_practice("Harbour").await;
    let mut staff = Vec::new();
    for i in 0..4 {
        let email = format!("sender{i}@harbour.example");
        app.with_staff(practice.id, &email, portico::domain::Role::Member)
            .await;
        staff.push(email);
    }
    let admin_browser = app.staff_browser(&admin.email).await;
    let mut fields = vec![("title".to_owned(), "Year end".to_owned())];
    for member in app.store().list_staff(practice.id).await.unwrap() {
        if member.id != admin.id {
            fields.push(("staff".to_owned(), member.id.to_string()));
        }
    }
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let response = admin_browser.post_form("/app/messages/new", &fields).await;
    let chat_path = location(&response);
    let chat: ChatId = chat_path
        .trim_start_matches("/app/messages/")
        .parse()
        .unwrap();

    // Four senders keep sending, every third message with a file.
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for (n, email) in staff.iter().enumerate() {
        let browser = app.staff_browser(email).await;
        let (acks, stop, path) = (acks.clone(), stop.clone(), chat_path.clone());
        let (live, practice_id) = (app.store().clone(), practice.id);
        senders.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let body = format!("Message {i} from sender {n}");
                let file = (i % 3 == 0).then(|| {
                    let mut bytes = PDF.to_vec();
                    bytes.extend_from_slice(body.as_bytes());
                    bytes
                });
                let key = format!("k-{n}-{i}");
                if let Some(mut seq) = send(&browser, &path, &key, &body, file.as_deref()).await {
                    if seq == 0 {
                        seq = live
                            .messages_from(practice_id, chat, 0, 100_000)
                            .await
                            .unwrap()
                            .iter()
                            .find(|m| m.body == body)
                            .expect("an acknowledged file message is stored")
                            .seq;
                    }
                    acks.lock().unwrap().push(Ack { seq, body, file });
                }
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acks.lock().unwrap().len() < 40 {
        assert!(tokio::time::Instant::now() < deadline, "the senders send");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The backup, while they go on sending.
    let before: Vec<Ack> = acks.lock().unwrap().clone();
    let (ok, said) = run({
        let mut cmd = portico(&app.data_dir, &database_url);
        cmd.arg("backup").arg("--to").arg(&backup_file);
        cmd
    })
    .await;
    assert!(ok, "portico backup: {said}");
    let during = acks.lock().unwrap().len() - before.len();
    stop.store(true, Ordering::SeqCst);
    for sender in senders {
        sender.await.unwrap();
    }
    eprintln!(
        "{} sends acknowledged before the backup, {during} while it ran; {said}",
        before.len()
    );

    // Restoring into a folder that is not empty is refused, and changes nothing.
    let (ok, said) = run({
        let mut cmd = portico(
            &app.data_dir,
            &format!("sqlite://{}", app.data_dir.join("other.db").display()),
        );
        cmd.arg("restore").arg("--from").arg(&backup_file);
        cmd
    })
    .await;
    assert!(!ok && said.contains("not empty"), "{said}");
    assert!(!app.data_dir.join("other.db").exists());

    let restored = tempfile::tempdir().unwrap();
    let data = restored.path().join("data");
    let restored_url = format!("sqlite://{}", restored.path().join("portico.db").display());
    let (ok, said) = run({
        let mut cmd = portico(&data, &restored_url);
        cmd.arg("restore").arg("--from").arg(&backup_file);
        cmd
    })
    .await;
    assert!(ok, "portico restore: {said}");

    // Every message acknowledged before the backup began, with its number,
    // its text and its file's bytes.
    let store = Store::connect(&restored_url, &StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let messages = store
        .messages_from(practice.id, chat, 0, 100_000)
        .await
        .unwrap();
    let by_seq: HashMap<i64, &str> = messages.iter().map(|m| (m.seq, m.body.as_str())).collect();
    let files = store
        .chat_files(practice.id, chat, 0, i64::MAX)
        .await
        .unwrap();
    let files_by_seq: HashMap<i64, &portico::store::FileMeta> =
        files.iter().map(|f| (f.message_seq.unwrap(), f)).collect();
    for ack in &before {
        assert_eq!(
            by_seq.get(&ack.seq),
            Some(&ack.body.as_str()),
            "message {}",
            ack.seq
        );
        if let Some(bytes) = &ack.file {
            let file = files_by_seq
                .get(&ack.seq)
                .unwrap_or_else(|| panic!("the file of message {}", ack.seq));
            let stored = std::fs::read(data.join("files").join(&file.storage_key)).unwrap();
            assert_eq!(&stored, bytes, "the bytes of message {}'s file", ack.seq);
        }
    }
    assert!(
        before.iter().any(|a| a.file.is_some()),
        "some files were sent"
    );
    // Nothing half-there: every file the copy names has its bytes.
    for file in &files {
        assert!(data.join("files").join(&file.storage_key).is_file());
    }
    store.close().await;
}
