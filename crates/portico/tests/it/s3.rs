//! Files in S3-compatible storage (X4), for real: an S3 server
//! (`s3s-fs`, files in a temporary folder, requests signed with SigV4 and
//! checked) runs on 127.0.0.1, and two `portico serve` processes on one
//! database keep their files in its bucket. A file sent through one
//! instance downloads through the other, type and size checks still hold,
//! storage that is down gives a clear answer and loses nothing, and it
//! works again once the storage is back. A deleted file's bytes leave the
//! bucket by the clean-up job (`file_sweeper.rs`), and a removal that failed
//! while the storage was down is retried once it is back. On both engines.

use crate::durability::{Serving, practice_of_senders, signed_in};
use crate::harness::{TestDb, location};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const ACCESS_KEY: &str = "PORTICOTESTKEY";
const SECRET_KEY: &str = "portico-test-secret-key";
pub(crate) const BUCKET: &str = "portico-files";
/// Where in the bucket the instances keep their files.
const PREFIX: &str = "practice-files";
/// A generous bound on every wait: a slow, busy machine is not a failure.
const PATIENCE: Duration = Duration::from_secs(60);

/// An S3-compatible server on 127.0.0.1 whose buckets are folders of `root`.
pub(crate) struct S3Server {
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl S3Server {
    /// Listens on `port` (0: any free port).
    pub(crate) async fn start(root: &Path, port: u16) -> Self {
        let fs = s3s_fs::FileSystem::new(root).expect("an s3s-fs root");
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the S3 server");
        let addr = listener.local_addr().expect("the S3 server's address");
        let task = tokio::spawn(async move {
            // Dropped with the task, so stopping the server also cuts every
            // connection it holds.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                let service = service.clone();
                connections.spawn(async move {
                    let _ = ConnBuilder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Self { addr, task }
    }

    pub(crate) async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// The settings that keep an instance's files in this server's bucket.
    pub(crate) fn configure(&self, command: &mut tokio::process::Command) {
        command
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .args(["--files-url", &format!("s3://{BUCKET}/{PREFIX}")])
            .args(["--s3-endpoint", &format!("http://{}", self.addr)]);
    }
}

/// Where the S3 server rooted at `root` keeps the bytes of a stored file.
pub(crate) fn object_path(root: &Path, storage_key: &str) -> PathBuf {
    root.join(BUCKET).join(PREFIX).join(storage_key)
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Sends a file into a chat as its page does; the response as it came.
/// (`chat` may carry a query, e.g. `?via=app1` behind the load balancer.)
pub(crate) async fn send_file(
    browser: &crate::harness::Browser,
    chat: &str,
    key: &str,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let csrf = browser.csrf().await;
    let form = reqwest::multipart::Form::new()
        .text("body", format!("Here is {name}"))
        .text("key", key.to_owned())
        .part(
            "files",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    browser
        .client
        .post(browser.url(&match chat.split_once('?') {
            Some((path, query)) => format!("{path}/files?{query}&csrf={csrf}"),
            None => format!("{chat}/files?csrf={csrf}"),
        }))
        .header("origin", &browser.base_url)
        .multipart(form)
        .send()
        .await
        .expect("send a file")
}

/// The download links of a chat page, each once, in the order they first
/// appear (the chat shows a file in its message and in its Files panel).
pub(crate) fn file_links(html: &str) -> Vec<String> {
    let mut links: Vec<String> = Vec::new();
    for id in html
        .split("href=\"/files/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
    {
        let link = format!("/files/{id}");
        if !links.contains(&link) {
            links.push(link);
        }
    }
    links
}

/// Waits until `done` holds, checking every 100 ms, for at most `patience`.
async fn eventually(what: &str, patience: Duration, mut done: impl AsyncFnMut() -> bool) {
    let until = tokio::time::Instant::now() + patience;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < until,
            "{what}: not within {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A PDF of `size` bytes.
fn pdf_of(size: usize) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec();
    pdf.resize(size, b'%');
    pdf
}

#[tokio::test]
async fn files_live_in_an_s3_bucket_shared_by_two_instances() {
    let s3_root = tempfile::tempdir().unwrap();
    std::fs::create_dir(s3_root.path().join(BUCKET)).unwrap();
    let s3 = S3Server::start(s3_root.path(), 0).await;

    let db = TestDb::from_env().await;
    let (_, emails) = practice_of_senders(&db).await;
    let with_s3 = |command: &mut tokio::process::Command| {
        s3.configure(command);
        command.args(["--max-upload-mb", "1"]);
    };
    let first = Serving::start_with(&db, "s3-first", with_s3).await;
    let second = Serving::start_with(&db, "s3-second", with_s3).await;

    // Olivia on the first instance, her colleague on the second, in a chat.
    let olivia = signed_in(&first.base_url, &emails[0]).await;
    let colleague = signed_in(&second.base_url, &emails[1]).await;
    // Another member of the practice, not in the chat.
    let outsider = signed_in(&second.base_url, &emails[2]).await;
    let store = db.store().await;
    let practice = store.list_practices().await.unwrap()[0].id;
    let colleague_id = store
        .list_staff(practice)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.email.as_str() == emails[1])
        .unwrap()
        .id;
    let response = olivia
        .post_form(&format!("/app/messages/with/{colleague_id}"), &[])
        .await;
    assert_eq!(response.status(), 303);
    let chat = location(&response);
    let chat_id: portico::domain::ChatId =
        chat.trim_start_matches("/app/messages/").parse().unwrap();
    let stored_files = async || {
        let mut files = store
            .chat_files(practice, chat_id, 0, i64::MAX)
            .await
            .unwrap();
        files.sort_by_key(|f| f.message_seq);
        files
    };

    // Sent through the first instance: the bytes are in the bucket.
    let pdf = pdf_of(600 * 1024);
    let response = send_file(&olivia, &chat, "s3-1", "october.pdf", pdf.clone()).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let october = stored_files().await.remove(0);
    assert_eq!(
        std::fs::read(object_path(s3_root.path(), &october.storage_key)).unwrap(),
        pdf,
        "the file is in the bucket under its key"
    );

    // Downloaded through the second instance, byte for byte; not by a
    // member of the practice who is not in the chat.
    let (status, html) = colleague.page(&chat).await;
    assert_eq!(status, 200);
    let links = file_links(&html);
    assert_eq!(links.len(), 1, "one file in the chat");
    let download = colleague.get(&links[0]).await;
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-type"].to_str().unwrap(),
        "application/pdf"
    );
    assert_eq!(download.bytes().await.unwrap().to_vec(), pdf);
    assert_eq!(outsider.get(&links[0]).await.status(), 404);

    // The checks hold whatever the storage: a page renamed .pdf and a file
    // over the size limit are refused, and nothing of either reaches the
    // bucket.
    let before = files_under(&s3_root.path().join(BUCKET));
    let response = send_file(
        &olivia,
        &chat,
        "s3-2",
        "invoice.pdf",
        b"<html><script>alert(1)</script></html>".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 422);
    let response = send_file(
        &colleague,
        &chat,
        "s3-2b",
        "scan.pdf",
        pdf_of(1024 * 1024 + 1),
    )
    .await;
    assert_eq!(response.status(), 422);
    let text = response.text().await.unwrap();
    assert!(text.contains("scan.pdf is larger than 1 MB"), "{text}");
    assert_eq!(files_under(&s3_root.path().join(BUCKET)), before);
    assert_eq!(stored_files().await.len(), 1);

    // Storage down: a clear answer in seconds, no message without its file.
    let port = s3.addr.port();
    s3.stop().await;
    let response = send_file(&olivia, &chat, "s3-3", "november.pdf", pdf.clone()).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(
        status.is_server_error(),
        "storage that is down fails the upload: {status}"
    );
    assert!(
        !text.contains("127.0.0.1") && !text.contains("dispatch"),
        "no raw storage error is shown: {text}"
    );
    let (_, html) = colleague.page(&chat).await;
    assert!(!html.contains("november.pdf"), "nothing half-sent");

    // Storage back: the same send goes through, and downloads again.
    let s3 = S3Server::start(s3_root.path(), port).await;
    let response = send_file(&olivia, &chat, "s3-3", "november.pdf", pdf.clone()).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let (_, html) = colleague.page(&chat).await;
    let links = file_links(&html);
    assert_eq!(links.len(), 2, "both files in the chat");
    let download = colleague.get(&links[1]).await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), pdf);
    let november = stored_files().await.remove(1);
    assert_eq!(november.name, "november.pdf");

    // Deleted through the first instance: the file is gone for everyone at
    // once, and the clean-up job removes its bytes from the bucket. Only
    // its sender deletes a message.
    let delete = |seq: i64| vec![("action", "delete".to_owned()), ("seq", seq.to_string())];
    let october_seq = october.message_seq.unwrap();
    let form = delete(october_seq);
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = colleague
        .post_form(&format!("{chat}/action"), &fields)
        .await;
    assert_eq!(response.status(), 403, "not the colleague's message");
    let response = olivia.post_form(&format!("{chat}/action"), &fields).await;
    assert_eq!(response.status(), 303);
    let october_link = format!("/files/{}", october.id);
    assert_eq!(colleague.get(&october_link).await.status(), 404);
    let october_bytes = object_path(s3_root.path(), &october.storage_key);
    eventually(
        "the deleted file's bytes leave the bucket",
        PATIENCE,
        async || !october_bytes.exists(),
    )
    .await;
    let november_bytes = object_path(s3_root.path(), &november.storage_key);
    assert!(november_bytes.is_file(), "the other file stays");

    // Storage down while a file is deleted: the deletion is done, the
    // removal of the bytes fails and stays queued, and once the storage is
    // back it is retried until the bytes are gone.
    s3.stop().await;
    let form = delete(november.message_seq.unwrap());
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = olivia.post_form(&format!("{chat}/action"), &fields).await;
    assert_eq!(
        response.status(),
        303,
        "a deletion does not wait on the storage"
    );
    assert!(stored_files().await.is_empty());
    eventually("the failed removal is recorded", PATIENCE, async || {
        store
            .pending_file_deletions(practice)
            .await
            .unwrap()
            .iter()
            .any(|job| job.attempts >= 1 && job.last_error.is_some())
    })
    .await;
    assert!(
        november_bytes.is_file(),
        "not removed while the storage is down"
    );
    let s3 = S3Server::start(s3_root.path(), port).await;
    // The first retry comes 30 s after the failure.
    eventually(
        "the bytes are removed once the storage is back",
        PATIENCE * 2,
        async || !november_bytes.exists(),
    )
    .await;
    // The job is marked done right after the bytes go.
    eventually("the removal leaves the queue", PATIENCE, async || {
        store
            .pending_file_deletions(practice)
            .await
            .unwrap()
            .is_empty()
    })
    .await;

    s3.stop().await;
    drop((first, second));
}
