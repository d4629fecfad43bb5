//! Two instances on one PostgreSQL database behind HAProxy (Debian's
//! `haproxy` package, started here with a configuration written to a
//! temporary folder): sends through the load balancer, round robin; live
//! delivery with the sockets on one instance and the sends through the
//! same one, then through the other (events crossing by the database's
//! LISTEN/NOTIFY relay, counted by listening to it); and what NOTIFY
//! itself carries on this machine.

use crate::children::{self, ServerProcess};
use crate::load::{Level, Target};
use crate::pgprobe::PgProbe;
use crate::report::Settings;
use crate::sockets::{self, Delivery};
use crate::stats;
use anyhow::{Context, bail};
use serde::Serialize;
use sqlx::Connection;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// The instances' names behind the load balancer.
pub const A: &str = "a";
pub const B: &str = "b";

/// HAProxy in front of the instances: round robin, WebSockets passed
/// through, and the `x-bench-via` header pinning a request to one instance.
pub struct Haproxy {
    child: Child,
    pub addr: SocketAddr,
    stats: SocketAddr,
}

impl Haproxy {
    pub async fn start(dir: &Path, backends: &[(&str, SocketAddr)]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).context("a folder for HAProxy")?;
        let addr = children::free_addr()?;
        let stats = children::free_addr()?;
        // HAProxy wants two descriptors a connection, within the limit
        // this program raised and passes on.
        let nofile = rlimit::Resource::NOFILE
            .get()
            .map_or(4_096, |(soft, _)| soft);
        let maxconn = (nofile / 2).saturating_sub(100).clamp(256, 20_000);
        let mut config = format!(
            "global\n  maxconn {maxconn}\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  \
             timeout server 60s\n  timeout tunnel 1h\n\
             frontend web\n  bind {addr}\n  default_backend portico\n\
             frontend stats\n  bind {stats}\n  stats enable\n  stats uri /stats\n\
             backend portico\n  balance roundrobin\n"
        );
        for (name, _) in backends {
            config.push_str(&format!(
                "  use-server {name} if {{ req.hdr({}) -m str {name} }}\n",
                crate::load::VIA_HEADER
            ));
        }
        for (name, backend) in backends {
            config.push_str(&format!("  server {name} {backend}\n"));
        }
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).context("write haproxy.cfg")?;
        let log = std::fs::File::create(dir.join("haproxy.log")).context("haproxy log")?;
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("haproxy log")?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("could not start haproxy (Debian: apt-get install haproxy)")?;
        let haproxy = Self { child, addr, stats };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = http.get(format!("http://{addr}/healthz")).send().await
                && response.status().is_success()
            {
                return Ok(haproxy);
            }
            if Instant::now() > deadline {
                let text = std::fs::read_to_string(dir.join("haproxy.log")).unwrap_or_default();
                bail!("HAProxy did not answer on {addr} within 30 s: {text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Responses each instance has given through the load balancer so far
    /// (HAProxy's statistics, `hrsp_*` of each server).
    pub async fn answered(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let csv = reqwest::get(format!("http://{}/stats;csv", self.stats))
            .await
            .context("HAProxy statistics")?
            .text()
            .await
            .context("HAProxy statistics")?;
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let responses: Vec<usize> = [
            "hrsp_1xx",
            "hrsp_2xx",
            "hrsp_3xx",
            "hrsp_4xx",
            "hrsp_5xx",
            "hrsp_other",
        ]
        .iter()
        .filter_map(|name| column(name))
        .collect();
        let mut answered = BTreeMap::new();
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.first() != Some(&"portico") {
                continue;
            }
            let Some(server) = cells.get(1).filter(|s| **s != "BACKEND") else {
                continue;
            };
            let total: u64 = responses
                .iter()
                .filter_map(|i| cells.get(*i).and_then(|c| c.parse::<u64>().ok()))
                .sum();
            answered.insert((*server).to_owned(), total);
        }
        Ok(answered)
    }

    pub async fn stop(mut self) {
        self.child.start_kill().ok();
        let _ = self.child.wait().await;
    }
}

/// The relayed live events, as a listener on the relay's channel saw them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Relay {
    pub notifications: u64,
    pub events: u64,
    pub bytes: u64,
    pub largest_bytes: u64,
    pub notifications_per_s: f64,
    pub events_per_s: f64,
}

impl Relay {
    pub fn median(runs: &[Relay]) -> Relay {
        Relay {
            notifications: stats::median(runs.iter().map(|r| r.notifications as f64)) as u64,
            events: stats::median(runs.iter().map(|r| r.events as f64)) as u64,
            bytes: stats::median(runs.iter().map(|r| r.bytes as f64)) as u64,
            largest_bytes: runs.iter().map(|r| r.largest_bytes).max().unwrap_or(0),
            notifications_per_s: stats::median(runs.iter().map(|r| r.notifications_per_s)),
            events_per_s: stats::median(runs.iter().map(|r| r.events_per_s)),
        }
    }
}

/// Listens to the relay's channel until `stop` changes.
fn count_relay(
    url: String,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<anyhow::Result<Relay>> {
    tokio::spawn(async move {
        let mut listener = portico::store::listen_instances(&url)
            .await
            .map_err(|e| anyhow::anyhow!("listen to the relay: {e}"))?;
        let mut relay = Relay::default();
        loop {
            tokio::select! {
                _ = stop.changed() => return Ok(relay),
                received = listener.recv() => {
                    let notification = received.context("the relay's listener")?;
                    let payload = notification.payload();
                    let bytes = payload.len() as u64;
                    relay.notifications += 1;
                    relay.bytes += bytes;
                    relay.largest_bytes = relay.largest_bytes.max(bytes);
                    if let Ok(serde_json::Value::Array(events)) = serde_json::from_str(payload) {
                        relay.events += events.len() as u64;
                    }
                }
            }
        }
    })
}

/// What NOTIFY itself carries: `connections` connections each notifying
/// payloads of `payload_bytes` as fast as they can for the duration, one
/// listener counting.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ceiling {
    pub payload_bytes: usize,
    pub connections: usize,
    pub seconds: f64,
    pub sent: u64,
    pub received: u64,
    pub sent_per_s: f64,
    pub megabytes_per_s: f64,
}

const CEILING_CHANNEL: &str = "portico_bench_ceiling";

async fn ceiling(
    url: &str,
    payload_bytes: usize,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Ceiling> {
    let mut listener = sqlx::postgres::PgListener::connect(url)
        .await
        .context("a listener")?;
    listener
        .listen(CEILING_CHANNEL)
        .await
        .context("LISTEN for the ceiling")?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let counting = tokio::spawn(async move {
        let mut received = 0u64;
        loop {
            tokio::select! {
                _ = stop_rx.changed() => return received,
                got = listener.recv() => match got {
                    Ok(_) => received += 1,
                    Err(_) => return received,
                },
            }
        }
    });
    let payload = "x".repeat(payload_bytes);
    let started = Instant::now();
    let end = started + duration;
    let mut senders = Vec::new();
    for _ in 0..connections {
        let url = url.to_owned();
        let payload = payload.clone();
        senders.push(tokio::spawn(async move {
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .context("a notifying connection")?;
            let mut sent = 0u64;
            while Instant::now() < end {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CEILING_CHANNEL)
                    .bind(&payload)
                    .execute(&mut conn)
                    .await
                    .context("NOTIFY")?;
                sent += 1;
            }
            Ok::<_, anyhow::Error>(sent)
        }));
    }
    let mut sent = 0;
    for task in senders {
        sent += task.await.context("a notifying task")??;
    }
    let seconds = started.elapsed().as_secs_f64();
    // Time for the last notifications to arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop_tx.send(true).ok();
    let received = counting.await.context("the listener")?;
    Ok(Ceiling {
        payload_bytes,
        connections,
        seconds,
        sent,
        received,
        sent_per_s: sent as f64 / seconds,
        megabytes_per_s: (sent as f64 * payload_bytes as f64) / seconds / 1e6,
    })
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ClusterReport {
    /// Sends through the load balancer to instance a alone.
    pub one: Vec<Level>,
    pub one_runs: Vec<Vec<Level>>,
    /// Sends through the load balancer, round robin over both instances
    /// (in runs alternating with the former).
    pub send: Vec<Level>,
    pub send_runs: Vec<Vec<Level>>,
    /// Responses each instance gave during the round-robin sends.
    pub answered: BTreeMap<String, u64>,
    /// Sockets on instance a, sends through instance a (both through
    /// HAProxy).
    pub same: Option<Delivery>,
    pub same_runs: Vec<Delivery>,
    /// Sockets on instance a, sends through instance b.
    pub across: Option<Delivery>,
    pub across_runs: Vec<Delivery>,
    /// The relay during the deliveries across instances.
    pub relay: Option<Relay>,
    pub relay_runs: Vec<Relay>,
    pub ceiling: Vec<Ceiling>,
}

/// Everything the cluster scenario needs from the backend's run.
pub struct Inputs<'a> {
    pub settings: &'a Settings,
    pub first: &'a ServerProcess,
    pub data_dir: &'a Path,
    /// The second instance's database URL (its own application name).
    pub second_url: &'a str,
    pub probe: &'a PgProbe,
    /// The senders, as targets of the first instance.
    pub targets: &'a [Target],
    pub watchers: &'a [(String, String)],
    pub members: &'a HashMap<String, Vec<String>>,
}

pub async fn run(inputs: Inputs<'_>) -> anyhow::Result<ClusterReport> {
    let second =
        children::start_portico(inputs.data_dir, Some(inputs.second_url), "cluster-b.log").await?;
    let result = async {
        let haproxy = Haproxy::start(
            &inputs.data_dir.join("haproxy"),
            &[(A, inputs.first.addr), (B, second.addr)],
        )
        .await?;
        let result = measure(&inputs, &haproxy).await;
        haproxy.stop().await;
        result
    }
    .await;
    second.stop().await?;
    result
}

async fn measure(inputs: &Inputs<'_>, haproxy: &Haproxy) -> anyhow::Result<ClusterReport> {
    let settings = inputs.settings;
    let mut report = ClusterReport::default();
    let through = |target: &Target, via: Option<&str>| Target {
        addr: haproxy.addr,
        origin: haproxy.base_url(),
        via: via.map(str::to_owned),
        ..target.clone()
    };
    let round_robin: Vec<Target> = inputs.targets.iter().map(|t| through(t, None)).collect();
    let pinned: Vec<Target> = inputs.targets.iter().map(|t| through(t, Some(A))).collect();
    // One instance and two, in alternate runs: the machine's other load
    // changes from minute to minute, and both see the same.
    eprintln!("     sends through HAProxy: to instance a alone, then round robin over both");
    let levels = &settings.concurrency;
    let mut one_runs: Vec<Vec<Level>> = vec![Vec::new(); levels.len()];
    let mut two_runs: Vec<Vec<Level>> = vec![Vec::new(); levels.len()];
    for _ in 0..settings.runs {
        for (i, &concurrency) in levels.iter().enumerate() {
            one_runs[i].push(
                crate::run::level(settings, &pinned, concurrency, Some(inputs.probe), None).await?,
            );
            let before = haproxy.answered().await?;
            two_runs[i].push(
                crate::run::level(
                    settings,
                    &round_robin,
                    concurrency,
                    Some(inputs.probe),
                    None,
                )
                .await?,
            );
            for (name, n) in haproxy.answered().await? {
                let earlier = before.get(&name).copied().unwrap_or(0);
                *report.answered.entry(name).or_default() += n.saturating_sub(earlier);
            }
        }
    }
    report.one = levels
        .iter()
        .zip(&one_runs)
        .map(|(c, runs)| Level::median(*c, runs))
        .collect();
    report.send = levels
        .iter()
        .zip(&two_runs)
        .map(|(c, runs)| Level::median(*c, runs))
        .collect();
    report.one_runs = one_runs;
    report.send_runs = two_runs;

    let duration = Duration::from_secs_f64(settings.duration_seconds);
    for _ in 0..settings.runs {
        for across in [false, true] {
            let writers: Vec<Target> = inputs
                .targets
                .iter()
                .take(64)
                .map(|t| through(t, Some(if across { B } else { A })))
                .collect();
            let (stop_tx, stop_rx) = watch::channel(false);
            let counting = count_relay(inputs.probe.url.clone(), stop_rx);
            // Let the listener start before the first send.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let d = sockets::delivery(
                haproxy.addr,
                inputs.first.addr,
                Some(A),
                &writers,
                inputs.watchers,
                inputs.members,
                settings.delivery_sockets,
                settings.delivery_rate,
                duration,
            )
            .await?;
            stop_tx.send(true).ok();
            let mut relay = counting.await.context("the relay's listener")??;
            let send_seconds = if d.achieved_rate > 0.0 {
                d.sent as f64 / d.achieved_rate
            } else {
                duration.as_secs_f64()
            };
            relay.notifications_per_s = relay.notifications as f64 / send_seconds;
            relay.events_per_s = relay.events as f64 / send_seconds;
            eprintln!(
                "     delivery {}: {:.0} sent/s, p50 {:.1} ms, p99 {:.1} ms, missed {} of {}; relay {:.0} NOTIFY/s, {:.1} events each",
                if across {
                    "across instances"
                } else {
                    "on one instance"
                },
                d.achieved_rate,
                d.latency.p50_ms,
                d.latency.p99_ms,
                d.missed,
                d.expected,
                relay.notifications_per_s,
                relay.events as f64 / relay.notifications.max(1) as f64
            );
            if across {
                report.across_runs.push(d);
                report.relay_runs.push(relay);
            } else {
                report.same_runs.push(d);
            }
        }
    }
    if !report.same_runs.is_empty() {
        report.same = Some(Delivery::median(&report.same_runs));
    }
    if !report.across_runs.is_empty() {
        report.across = Some(Delivery::median(&report.across_runs));
        report.relay = Some(Relay::median(&report.relay_runs));
    }

    for payload in [500, 7_000] {
        let c = ceiling(&inputs.probe.url, payload, 4, duration).await?;
        eprintln!(
            "     NOTIFY of {payload} bytes from 4 connections: {:.0} /s ({:.1} MB/s), {} of {} received",
            c.sent_per_s, c.megabytes_per_s, c.received, c.sent
        );
        report.ceiling.push(c);
    }
    Ok(report)
}
