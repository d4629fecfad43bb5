//! Memory per practice: `count` more practices made with `portico admin
//! create-practice`, then a freshly started instance whose resident memory
//! is read with two practices in use and again with all of them in use
//! (each practice's admin signed in, having opened the home page, the
//! message list, the client list and the team page, with one live socket
//! open).

use crate::children::{self, ServerProcess};
use crate::fixture::{Browser, PASSWORD};
use crate::sockets;
use anyhow::{Context, ensure};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Default, Serialize)]
pub struct PracticesMemory {
    /// Practices in use at the end (the fixture's is not one of them).
    pub practices: usize,
    /// Right after start, with every practice in the database.
    pub rss_start_kib: u64,
    /// With two practices in use (both hashing threads have worked).
    pub rss_two_kib: u64,
    pub rss_all_kib: u64,
    pub per_practice_kib: f64,
    pub made_seconds: f64,
}

fn admin_email(k: usize) -> String {
    format!("admin{k}@practice{k}.example")
}

pub async fn run(
    data_dir: &Path,
    database_url: Option<&str>,
    count: usize,
) -> anyhow::Result<PracticesMemory> {
    ensure!(
        count >= 3,
        "the practices scenario needs at least 3 practices"
    );
    let started = Instant::now();
    stream::iter(0..count)
        .map(|k| async move {
            children::create_practice(
                data_dir,
                database_url,
                &format!("Practice {k}"),
                &admin_email(k),
                PASSWORD,
            )
            .await
        })
        .buffer_unordered(2)
        .try_collect::<Vec<()>>()
        .await?;
    let made_seconds = started.elapsed().as_secs_f64();
    let server = children::start_portico(data_dir, database_url, "practices.log").await?;
    let result = measure(&server, count, made_seconds).await;
    server.stop().await?;
    result
}

/// One practice in use: its admin signed in, four pages seen, a socket.
async fn use_practice(
    server: &ServerProcess,
    k: usize,
) -> anyhow::Result<(Browser, sockets::Socket)> {
    let browser = Browser::new(&server.base_url())?;
    let to = browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin_email(k)), ("password", PASSWORD)],
        )
        .await
        .with_context(|| format!("sign-in of {}", admin_email(k)))?;
    ensure!(to == "/app", "sign-in of {} went to {to:?}", admin_email(k));
    for page in ["/app", "/app/messages", "/app/clients", "/app/team"] {
        browser.page(page).await?;
    }
    let socket = sockets::connect(server.addr, &browser.cookie_header()?).await?;
    Ok((browser, socket))
}

async fn measure(
    server: &ServerProcess,
    count: usize,
    made_seconds: f64,
) -> anyhow::Result<PracticesMemory> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_start_kib = server.rss_kib()?;
    // Two at once, so that both password-hashing threads hold their block
    // before the baseline.
    let mut in_use: Vec<(Browser, sockets::Socket)> = stream::iter(0..2)
        .map(|k| use_practice(server, k))
        .buffer_unordered(2)
        .try_collect()
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_two_kib = server.rss_kib()?;
    let more: Vec<(Browser, sockets::Socket)> = stream::iter(2..count)
        .map(|k| use_practice(server, k))
        .buffer_unordered(2)
        .try_collect()
        .await?;
    in_use.extend(more);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_all_kib = server.rss_kib()?;
    drop(in_use);
    Ok(PracticesMemory {
        practices: count,
        rss_start_kib,
        rss_two_kib,
        rss_all_kib,
        per_practice_kib: (rss_all_kib as f64 - rss_two_kib as f64) / (count - 2) as f64,
        made_seconds,
    })
}
