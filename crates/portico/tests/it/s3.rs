//! Files in S3-compatible storage (X4), for real: an S3 server
//! (`s3s-fs`, files in a temporary folder, requests signed with SigV4 and
//! checked) runs on 127.0.0.1, and two `portico serve` processes on one
//! database keep their files in its bucket. A file sent through one
//! instance downloads through the other, type and size checks still hold,
//! storage that is down gives a clear answer and loses nothing, and it
//! works again once the storage is back.

use crate::durability::{Serving, practice_of_senders, signed_in};
use crate::harness::{TestDb, location};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const ACCESS_KEY: &str = "PORTICOTESTKEY";
const SECRET_KEY: &str = "portico-test-secret-key";
const BUCKET: &str = "portico-files";

/// An S3-compatible server on 127.0.0.1 whose buckets are folders of `root`.
struct S3Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl S3Server {
    /// Listens on `port` (0: any free port).
    async fn start(root: &Path, port: u16) -> Self {
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

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
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
async fn send_file(
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
        .post(browser.url(&format!("{chat}/files?csrf={csrf}")))
        .header("origin", &browser.base_url)
        .multipart(form)
        .send()
        .await
        .expect("send a file")
}

/// The download links of a chat page, each once, in the order they first
/// appear (the chat shows a file in its message and in its Files panel).
fn file_links(html: &str) -> Vec<String> {
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

#[tokio::test]
async fn files_live_in_an_s3_bucket_shared_by_two_instances() {
    let s3_root = tempfile::tempdir().unwrap();
    std::fs::create_dir(s3_root.path().join(BUCKET)).unwrap();
    let s3 = S3Server::start(s3_root.path(), 0).await;
    let endpoint = format!("http://{}", s3.addr);

    let db = TestDb::from_env().await;
    let (_, emails) = practice_of_senders(&db).await;
    let with_s3 = |command: &mut tokio::process::Command| {
        command
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .args(["--files-url", &format!("s3://{BUCKET}/practice-files")])
            .args(["--s3-endpoint", &endpoint]);
    };
    let first = Serving::start_with(&db, "s3-first", with_s3).await;
    let second = Serving::start_with(&db, "s3-second", with_s3).await;

    // Olivia on the first instance, her colleague on the second, in a chat.
    let olivia = signed_in(&first.base_url, &emails[0]).await;
    let colleague = signed_in(&second.base_url, &emails[1]).await;
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

    // Sent through the first instance: the bytes are in the bucket.
    let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n% the October statement\n".to_vec();
    let response = send_file(&olivia, &chat, "s3-1", "october.pdf", pdf.clone()).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let stored = files_under(&s3_root.path().join(BUCKET));
    assert!(
        stored
            .iter()
            .any(|path| std::fs::read(path).ok().as_deref() == Some(&pdf[..])),
        "the file is in the bucket: {stored:?}"
    );

    // Downloaded through the second instance, byte for byte.
    let (status, html) = colleague.page(&chat).await;
    assert_eq!(status, 200);
    let links = file_links(&html);
    assert_eq!(links.len(), 1, "one file in the chat");
    let download = colleague.get(&links[0]).await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), pdf);

    // The checks hold whatever the storage: a page renamed .pdf is refused
    // and nothing of it reaches the bucket.
    let before = files_under(&s3_root.path().join(BUCKET)).len();
    let response = send_file(
        &olivia,
        &chat,
        "s3-2",
        "invoice.pdf",
        b"<html><script>alert(1)</script></html>".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 422);
    assert_eq!(files_under(&s3_root.path().join(BUCKET)).len(), before);

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

    s3.stop().await;
    drop((first, second));
}
