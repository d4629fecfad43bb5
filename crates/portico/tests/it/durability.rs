//! Durability (issue #7 "Speed", section "Durability stays"): a message
//! whose send was acknowledged survives the server being killed outright.
//!
//! Messaging (M2, M14): sixteen team members send into one group chat at
//! once through the real `portico` binary; after a few hundred
//! acknowledgements, with sends still in flight, the process gets SIGKILL
//! (no graceful shutdown, nothing flushed on the way out). Started again on
//! the same database and data folder, every acknowledged message is there
//! with the sequence number and text it was acknowledged with. How sends
//! are committed (one transaction each, or batched) is not this test's
//! business: only what the sender was told.

use crate::harness::{Browser, PASSWORD, TestDb, location};
use portico::domain::{ChatId, EmailAddress, Name, PracticeId, Role};
use portico::store::{NewStaff, Store, StoreOptions};
use secrecy::SecretString;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, oneshot};

const BIN: &str = env!("CARGO_BIN_EXE_portico");

/// People sending at the same time, each with a session of their own.
const SENDERS: usize = 16;
/// Acknowledgements to wait for before the kill.
const ACKS_BEFORE_KILL: usize = 300;
/// A generous bound on every wait: a slow, busy machine is not a failure.
const PATIENCE: Duration = Duration::from_secs(60);

const ADMIN_EMAIL: &str = "olivia@harbour.example";

/// The binary with none of the caller's PORTICO_* settings, on the test's
/// database and data folder.
pub(crate) fn portico(db: &TestDb) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(db.dir.path());
    for (key, _) in std::env::vars() {
        if key.starts_with("PORTICO_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PORTICO_LOG", "warn")
        .arg("--data-dir")
        .arg(db.dir.path().join("data"))
        .arg("--database-url")
        .arg(&db.url)
        .kill_on_drop(true);
    cmd
}

/// `portico serve` as a child process; killed if the test ends early.
pub(crate) struct Serving {
    child: Child,
    pub(crate) base_url: String,
    stderr: PathBuf,
    /// The log, which goes to stdout.
    stdout: PathBuf,
}

impl Serving {
    /// Starts the server on a port of the system's choosing, learns the
    /// port from what it prints, and waits until `/readyz` answers.
    async fn start(db: &TestDb, run: &str) -> Self {
        Self::start_with(db, run, |_| {}).await
    }

    /// As [`Serving::start`], with settings of the caller's own.
    pub(crate) async fn start_with(
        db: &TestDb,
        run: &str,
        configure: impl FnOnce(&mut Command),
    ) -> Self {
        Self::start_on(db, run, "127.0.0.1:0", configure).await
    }

    /// As [`Serving::start_with`], listening on `listen`.
    pub(crate) async fn start_on(
        db: &TestDb,
        run: &str,
        listen: &str,
        configure: impl FnOnce(&mut Command),
    ) -> Self {
        let stderr = db.dir.path().join(format!("serve-{run}.stderr"));
        let stderr_file = std::fs::File::create(&stderr).expect("a file for the server's stderr");
        let mut command = portico(db);
        configure(&mut command);
        let mut child = command
            .args(["serve", "--no-demo", "--listen", listen])
            .args(["--send-limit-per-minute", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_file)
            .spawn()
            .expect("start portico serve");
        let stdout = child.stdout.take().expect("the server's stdout");
        let (tx, rx) = oneshot::channel();
        // Reads stdout to the end, so the server never writes into a full
        // or closed pipe.
        let stdout_copy = db.dir.path().join(format!("serve-{run}.stdout"));
        let mut copy = tokio::fs::File::create(&stdout_copy)
            .await
            .expect("a file for the server's stdout");
        tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = copy.write_all(format!("{line}\n").as_bytes()).await;
                if let Some(rest) = line.strip_prefix("Portico is running at ") {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.to_owned());
                    }
                }
            }
        });
        let serving = match tokio::time::timeout(PATIENCE, rx).await {
            Ok(Ok(public_url)) => Self {
                // The address it prints is its public URL, which may be a
                // load balancer's; a chosen port is its own address.
                base_url: if listen.ends_with(":0") {
                    public_url
                } else {
                    format!("http://{listen}")
                },
                child,
                stderr,
                stdout: stdout_copy,
            },
            _ => panic!(
                "portico serve did not start: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            ),
        };
        serving.wait_until_ready().await;
        serving
    }

    async fn wait_until_ready(&self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("http client");
        let url = format!("{}/readyz", self.base_url);
        let ready = async {
            loop {
                if let Ok(response) = http.get(&url).send().await
                    && response.status().is_success()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        if tokio::time::timeout(PATIENCE, ready).await.is_err() {
            panic!("{url} never answered: {}", self.output());
        }
    }

    /// What the server printed, for a failure's message.
    pub(crate) fn output(&self) -> String {
        let read = |path| std::fs::read_to_string(path).unwrap_or_default();
        format!("{}{}", read(&self.stdout), read(&self.stderr))
    }

    /// SIGTERM, as `systemctl stop` sends it; waits for the process to
    /// finish what it was doing and exit, and returns how it exited.
    pub(crate) async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("a running server");
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .expect("run kill");
        assert!(sent.success(), "SIGTERM sent");
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server stops after SIGTERM")
            .expect("wait for the server")
    }

    /// SIGKILL: the process gets no chance to finish anything.
    async fn kill(mut self) {
        self.child.start_kill().expect("send SIGKILL");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the killed server exits")
            .expect("wait for the server");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed, not exited: {status}");
    }
}

/// A practice and its admin made with `portico admin create-practice`, and
/// fifteen more team members; returns the practice and everyone's e-mail.
pub(crate) async fn practice_of_senders(db: &TestDb) -> (PracticeId, Vec<String>) {
    let mut create = portico(db)
        .args([
            "admin",
            "create-practice",
            "--name",
            "Harbour",
            "--admin-name",
            "Olivia Admin",
            "--admin-email",
            ADMIN_EMAIL,
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start portico admin create-practice");
    let mut stdin = create.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .await
        .expect("write the password");
    drop(stdin);
    let output = tokio::time::timeout(PATIENCE, create.wait_with_output())
        .await
        .expect("create-practice finishes")
        .expect("run create-practice");
    assert!(
        output.status.success(),
        "create-practice: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let store = Store::connect(&db.url, &StoreOptions::default())
        .await
        .expect("open the database");
    let practices = store.list_practices().await.expect("practices");
    assert_eq!(practices.len(), 1);
    let practice = practices[0].id;
    let hash = portico::app::password::hash_password(SecretString::from(PASSWORD))
        .await
        .expect("hash");
    let mut emails = vec![ADMIN_EMAIL.to_owned()];
    for i in 1..SENDERS {
        let email = format!("sender{i}@harbour.example");
        store
            .create_staff(
                practice,
                &NewStaff {
                    email: EmailAddress::parse(&email).expect("email"),
                    name: Name::parse(&format!("Sender {i}")).expect("name"),
                    role: Role::Member,
                    password_hash: Some(hash.clone()),
                },
            )
            .await
            .expect("create staff");
        emails.push(email);
    }
    store.close().await;
    (practice, emails)
}

pub(crate) async fn signed_in(base_url: &str, email: &str) -> Browser {
    let browser = Browser::new(base_url);
    let response = browser
        .post_form("/app/sign-in", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 303, "sign-in of {email}");
    browser
}

/// Why a send was not acknowledged.
#[derive(Debug, PartialEq)]
enum Unacked {
    /// No connection could be made (the server was already gone).
    NoConnection(String),
    /// The request was under way, or its answer was, when the server died.
    CutOff(String),
    /// The server answered, but not with an acknowledgement.
    Refused(u16, String),
}

/// One send as the chat page's script makes it, asking for a JSON answer.
/// `Ok(seq)` is an acknowledgement.
async fn send(browser: &Browser, chat_path: &str, key: &str, body: &str) -> Result<i64, Unacked> {
    let csrf = browser.csrf().await;
    let response = browser
        .client
        .post(browser.url(chat_path))
        .header("origin", &browser.base_url)
        .header("accept", "application/json")
        .timeout(PATIENCE)
        .form(&[
            ("body", body),
            ("key", key),
            ("reply_to", ""),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .map_err(|e| {
            if e.is_connect() {
                Unacked::NoConnection(e.to_string())
            } else {
                Unacked::CutOff(e.to_string())
            }
        })?;
    let status = response.status().as_u16();
    // A body cut off by the kill is no acknowledgement either.
    let text = response
        .text()
        .await
        .map_err(|e| Unacked::CutOff(e.to_string()))?;
    let refused =
        |why: &str| Unacked::Refused(status, format!("{why}{}", &text[..text.len().min(300)]));
    if status != 200 {
        return Err(refused(""));
    }
    let ack: serde_json::Value = serde_json::from_str(&text).map_err(|_| refused("not JSON: "))?;
    ack["seq"].as_i64().ok_or_else(|| refused("no seq: "))
}

/// How long one message is retried while the server fails it (5xx).
const RETRY_FOR: Duration = Duration::from_secs(30);

/// A send as the chat page makes it: when the server fails, the same
/// message is sent again with the same key (the page falls back to posting
/// the form, key and all), so a retry is the same message, never a second.
async fn send_with_retries(
    browser: &Browser,
    chat_path: &str,
    key: &str,
    body: &str,
    failures: &mut Failures,
) -> Result<i64, Unacked> {
    let until = tokio::time::Instant::now() + RETRY_FOR;
    let mut tries = 1;
    loop {
        match send(browser, chat_path, key, body).await {
            Err(Unacked::Refused(status, _))
                if status >= 500 && tokio::time::Instant::now() < until =>
            {
                failures.count += 1;
                failures.most_in_a_row = failures.most_in_a_row.max(tries);
                tries += 1;
                // Backing off a little spreads the retries out.
                tokio::time::sleep(Duration::from_millis(5 * u64::from(tries.min(10)))).await;
            }
            outcome => return outcome,
        }
    }
}

/// Answers of 5xx that a retry got past.
#[derive(Default)]
struct Failures {
    count: usize,
    most_in_a_row: u32,
}

struct Ack {
    sender: usize,
    key: String,
    body: String,
    seq: i64,
}

/// How one sender's run ended.
struct Ended {
    acked: usize,
    failures: Failures,
    /// Why the last send got no acknowledgement.
    last: Unacked,
}

/// Sends until a send goes unacknowledged, recording every
/// acknowledgement; the ACKS_BEFORE_KILL-th one rings `enough`.
async fn keep_sending(
    sender: usize,
    browser: Arc<Browser>,
    chat_path: Arc<String>,
    acks: Arc<Mutex<Vec<Ack>>>,
    total: Arc<AtomicUsize>,
    enough: Arc<Notify>,
) -> Ended {
    let mut acked = 0;
    let mut failures = Failures::default();
    for n in 0.. {
        let key = format!("crash-{sender}-{n}");
        let body = format!("Message {n} from sender {sender}");
        match send_with_retries(&browser, &chat_path, &key, &body, &mut failures).await {
            Ok(seq) => {
                acks.lock().expect("acks").push(Ack {
                    sender,
                    key,
                    body,
                    seq,
                });
                acked += 1;
                if total.fetch_add(1, Ordering::SeqCst) + 1 == ACKS_BEFORE_KILL {
                    enough.notify_one();
                }
            }
            Err(last) => {
                return Ended {
                    acked,
                    failures,
                    last,
                };
            }
        }
    }
    unreachable!("the loop ends with a send that is not acknowledged")
}

#[tokio::test]
async fn every_acknowledged_message_survives_a_kill() {
    let db = TestDb::from_env().await;
    let (practice, emails) = practice_of_senders(&db).await;
    let server = Serving::start(&db, "first").await;

    let browsers: Vec<Arc<Browser>> =
        futures_util::future::join_all(emails.iter().map(|e| signed_in(&server.base_url, e)))
            .await
            .into_iter()
            .map(Arc::new)
            .collect();
    // The admin opens a group chat with the other fifteen (M2).
    let store = Store::connect(&db.url, &StoreOptions::default())
        .await
        .expect("open the database");
    let mut fields = vec![("title".to_owned(), "Year end".to_owned())];
    for staff in store.list_staff(practice).await.expect("staff") {
        if staff.email != ADMIN_EMAIL {
            fields.push(("staff".to_owned(), staff.id.to_string()));
        }
    }
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let response = browsers[0].post_form("/app/messages/new", &fields).await;
    let chat_path = location(&response);
    let chat: ChatId = chat_path
        .strip_prefix("/app/messages/")
        .unwrap_or_else(|| panic!("a chat was opened: {chat_path}"))
        .parse()
        .expect("chat id");
    let chat_path = Arc::new(chat_path);

    // Sixteen senders at once; the kill comes once enough are acknowledged.
    let acks = Arc::new(Mutex::new(Vec::new()));
    let total = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut senders: Vec<_> = browsers
        .iter()
        .enumerate()
        .map(|(sender, browser)| {
            tokio::spawn(keep_sending(
                sender,
                browser.clone(),
                chat_path.clone(),
                acks.clone(),
                total.clone(),
                enough.clone(),
            ))
        })
        .collect();
    tokio::select! {
        () = enough.notified() => {}
        ended = futures_util::future::join_all(senders.iter_mut()) => {
            let errors: Vec<String> = ended
                .into_iter()
                .map(|e| e.map_or_else(|e| e.to_string(), |e| format!("{:?}", e.last)))
                .collect();
            panic!(
                "the senders stopped after {} acknowledgements: {errors:?}\n{}",
                total.load(Ordering::SeqCst),
                server.output()
            );
        }
        () = tokio::time::sleep(PATIENCE) => panic!(
            "only {} sends were acknowledged in {PATIENCE:?}: {}",
            total.load(Ordering::SeqCst),
            server.output()
        ),
    }
    server.kill().await;
    let mut cut_off = 0;
    let mut acked = 0;
    let mut failures = Failures::default();
    for sender in senders {
        let ended = tokio::time::timeout(PATIENCE, sender)
            .await
            .expect("a sender stops once the server is gone")
            .expect("sender task");
        match ended.last {
            Unacked::CutOff(_) => cut_off += 1,
            Unacked::NoConnection(_) => {}
            refused @ Unacked::Refused(..) => {
                panic!("a send went unacknowledged before the kill: {refused:?}")
            }
        }
        acked += ended.acked;
        failures.count += ended.failures.count;
        failures.most_in_a_row = failures.most_in_a_row.max(ended.failures.most_in_a_row);
    }
    assert!(cut_off > 0, "the kill came while sends were under way");
    eprintln!(
        "{acked} sends acknowledged before the kill, {cut_off} cut off by it, \
         {} answers of 5xx retried (at most {} in a row)",
        failures.count, failures.most_in_a_row
    );
    let acks = std::mem::take(&mut *acks.lock().expect("acks"));
    assert_eq!(acks.len(), acked);
    assert!(acked >= ACKS_BEFORE_KILL);

    // Started again on the same database and data folder.
    let server = Serving::start(&db, "second").await;
    let stored = store
        .messages_from(practice, chat, 0, 100_000)
        .await
        .expect("the chat's messages");
    let seqs: HashSet<i64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(seqs.len(), stored.len(), "sequence numbers are unique");
    let by_body: HashMap<&str, i64> = stored.iter().map(|m| (m.body.as_str(), m.seq)).collect();
    let lost: Vec<String> = acks
        .iter()
        .filter(|a| by_body.get(a.body.as_str()) != Some(&a.seq))
        .map(|a| {
            format!(
                "{} (seq {}): {:?}",
                a.key,
                a.seq,
                by_body.get(a.body.as_str())
            )
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages are missing or renumbered: {lost:?}",
        lost.len(),
        acks.len()
    );
    let acked_seqs: HashSet<i64> = acks.iter().map(|a| a.seq).collect();
    assert_eq!(acked_seqs.len(), acks.len(), "no two acks share a seq");

    // It works again: an acknowledged send repeated is the same message
    // (its idempotency key survived too), and a new one is acknowledged.
    let first = &acks[0];
    let again = signed_in(&server.base_url, &emails[first.sender]).await;
    assert_eq!(
        send(&again, &chat_path, &first.key, &first.body).await,
        Ok(first.seq),
        "a repeated send returns the stored message"
    );
    let newest = seqs.iter().copied().max().unwrap_or(0);
    let seq = send(&again, &chat_path, "after-restart", "Back again.")
        .await
        .expect("a send after the restart is acknowledged");
    assert!(seq > newest, "{seq} follows {newest}");
    let latest = store
        .messages_from(practice, chat, newest, 10)
        .await
        .expect("the newest messages");
    assert_eq!(latest.len(), 1);
    assert_eq!(
        (latest[0].seq, latest[0].body.as_str()),
        (seq, "Back again.")
    );
    store.close().await;
    server.kill().await;
}
