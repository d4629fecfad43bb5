//! The processes the benchmark starts: Portico itself (this binary run
//! again with the hidden `portico` subcommand) and the bare axum server.

use anyhow::{Context, bail};
use clap::Parser;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

/// `portico-bench portico -- ARGS`: Portico's own command line, in a
/// multi-threaded runtime as its `main` has.
pub fn run_portico(args: Vec<String>) -> anyhow::Result<()> {
    let cli = portico::cli::Cli::parse_from(std::iter::once("portico".to_owned()).chain(args));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the runtime")?
        .block_on(portico::cli::run(cli))
}

/// `portico-bench bare-child --listen ADDR`: the same form POST as a send,
/// answered with a small JSON and nothing else.
pub fn run_bare(listen: &str) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the runtime")?
        .block_on(async {
            let app = axum::Router::new()
                .route("/healthz", axum::routing::get(|| async { "ok" }))
                .route("/app/messages/{chat}", axum::routing::post(bare_send));
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("could not listen on {listen}"))?;
            axum::serve(listener, app).await.context("bare server")
        })
}

async fn bare_send(
    axum::extract::Path(chat): axum::extract::Path<String>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    let body = form.get("body").cloned().unwrap_or_default();
    axum::Json(serde_json::json!({
        "seq": 1,
        "sender_name": "Bare",
        "body": body,
        "at": chat,
        "next_key": form.get("key").cloned().unwrap_or_default(),
    }))
}

/// A free port on 127.0.0.1 (bound, then let go for the child to take).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("could not find a free port")?;
    listener.local_addr().context("local address")
}

/// A child process serving HTTP on `addr`.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
}

impl ServerProcess {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Resident memory of the process now, in KiB (VmRSS).
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        rss_kib(self.pid)
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill().ok();
        self.child.wait().await.context("waiting for a child")?;
        Ok(())
    }
}

pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("could not read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

fn this_binary() -> anyhow::Result<std::path::PathBuf> {
    std::env::current_exe().context("could not find this program's path")
}

/// Settings every Portico child gets: no send limit (0 = none), so the
/// benchmark measures the server and not the flood guard; `/metrics` open
/// to the benchmark's token.
fn portico_command(data_dir: &Path, log: &Path) -> anyhow::Result<Command> {
    let mut command = Command::new(this_binary()?);
    let log_file = std::fs::File::create(log)
        .with_context(|| format!("could not create {}", log.display()))?;
    let err_file = log_file.try_clone().context("log file")?;
    command
        .arg("portico")
        .arg("--")
        .arg("--data-dir")
        .arg(data_dir)
        .env("PORTICO_SEND_LIMIT_PER_MINUTE", "0")
        .env("PORTICO_METRICS_TOKEN", crate::sockets::METRICS_TOKEN)
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(err_file))
        .kill_on_drop(true);
    Ok(command)
}

/// `portico admin create-practice …` with the password on standard input.
pub async fn create_practice(
    data_dir: &Path,
    database_url: Option<&str>,
    name: &str,
    admin_email: &str,
    password: &str,
) -> anyhow::Result<()> {
    let log = data_dir.join(format!("create-practice-{admin_email}.log"));
    let mut command = portico_command(data_dir, &log)?;
    if let Some(url) = database_url {
        command.arg("--database-url").arg(url);
    }
    command
        .args(["admin", "create-practice", "--name", name])
        .args(["--admin-name", "Bench Admin", "--admin-email", admin_email])
        .arg("--password-stdin")
        .stdin(Stdio::piped());
    let mut child = command
        .spawn()
        .context("could not start portico admin create-practice")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(format!("{password}\n").as_bytes())
            .await
            .context("writing the password")?;
    }
    let status = child.wait().await.context("create-practice")?;
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        bail!("portico admin create-practice failed: {text}");
    }
    Ok(())
}

/// `portico serve --no-demo` on a free port, waiting until it answers.
pub async fn start_portico(
    data_dir: &Path,
    database_url: Option<&str>,
    log_name: &str,
) -> anyhow::Result<ServerProcess> {
    let addr = free_addr()?;
    let log = data_dir.join(log_name);
    let mut command = portico_command(data_dir, &log)?;
    if let Some(url) = database_url {
        command.arg("--database-url").arg(url);
    }
    command
        .arg("--listen")
        .arg(addr.to_string())
        .args(["serve", "--no-demo"]);
    let child = command.spawn().context("could not start Portico")?;
    wait_ready(child, addr, &log).await
}

/// The bare axum server on a free port.
pub async fn start_bare(dir: &Path) -> anyhow::Result<ServerProcess> {
    let addr = free_addr()?;
    let log = dir.join("bare.log");
    let log_file = std::fs::File::create(&log).context("bare log")?;
    let child = Command::new(this_binary()?)
        .arg("bare-child")
        .arg("--listen")
        .arg(addr.to_string())
        .stdout(Stdio::from(log_file.try_clone().context("bare log")?))
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn()
        .context("could not start the bare server")?;
    wait_ready(child, addr, &log).await
}

async fn wait_ready(
    mut child: Child,
    addr: SocketAddr,
    log: &Path,
) -> anyhow::Result<ServerProcess> {
    let pid = child.id().context("the child has no process id")?;
    let url = format!("http://{addr}/healthz");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().context("child status")? {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            bail!("the server stopped ({status}) before answering: {text}");
        }
        if let Ok(response) = http.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(ServerProcess { child, addr, pid });
        }
        if Instant::now() > deadline {
            bail!("the server at {addr} did not answer within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
