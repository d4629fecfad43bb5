//! WebSockets: live delivery under a steady send rate, and the memory of
//! idle sockets.

use crate::children::ServerProcess;
use crate::load::{Conn, Outcome, Target};
use crate::stats::{self, Latency};
use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/ws` with a person's cookies and this site as the Origin.
pub async fn connect(addr: SocketAddr, cookie: &str) -> anyhow::Result<Socket> {
    connect_via(addr, cookie, None).await
}

/// As [`connect`]; behind the load balancer, pinned to the instance `via`.
pub async fn connect_via(
    addr: SocketAddr,
    cookie: &str,
    via: Option<&str>,
) -> anyhow::Result<Socket> {
    let mut request = format!("ws://{addr}/ws")
        .into_client_request()
        .context("websocket request")?;
    let headers = request.headers_mut();
    headers.insert("cookie", cookie.parse().context("cookie header")?);
    headers.insert(
        "origin",
        format!("http://{addr}").parse().context("origin header")?,
    );
    if let Some(via) = via {
        headers.insert(crate::load::VIA_HEADER, via.parse().context("via header")?);
    }
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("websocket handshake")?;
    Ok(socket)
}

/// Opens `count` sockets, spread over `cookies` round robin, `parallel` at a time.
async fn open_many(
    addr: SocketAddr,
    via: Option<&str>,
    cookies: &[String],
    count: usize,
    parallel: usize,
) -> anyhow::Result<Vec<(usize, Socket)>> {
    stream::iter(0..count)
        .map(|i| {
            let owner = i % cookies.len();
            let cookie = cookies[owner].clone();
            async move { Ok::<_, anyhow::Error>((owner, connect_via(addr, &cookie, via).await?)) }
        })
        .buffer_unordered(parallel)
        .try_collect()
        .await
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Delivery {
    pub sockets: usize,
    pub target_rate: f64,
    pub achieved_rate: f64,
    pub sent: u64,
    pub send_failures: u64,
    /// Sends still queued 2 s after the last was due (the server fell
    /// behind the asked rate), never made.
    pub skipped: u64,
    /// Deliveries expected: each acknowledged message, to every socket of
    /// every other member of its chat.
    pub expected: u64,
    pub missed: u64,
    /// Sockets the server closed during the run.
    pub closed_by_server: u64,
    /// From the start of the send request to the arrival on a socket.
    pub latency: Latency,
    /// From the send's acknowledgement (its answer read by the sender) to
    /// the arrival on a socket; an event that arrived before the answer
    /// counts as 0.
    pub from_ack: Latency,
    /// The server's own part, from its `/metrics`: from each event's
    /// publication (or, relayed, its arrival) to its write to a socket.
    pub server: ServerPart,
}

/// A delivery's time inside the server, from the histogram
/// `portico_live_event_delivery_seconds`: the quantiles are the upper
/// bounds of the buckets they fall in (0.25, 0.5, 1, 2, 4 … ms).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ServerPart {
    pub p50_at_most_ms: f64,
    pub p99_at_most_ms: f64,
    pub count: u64,
}

impl ServerPart {
    fn median(runs: &[ServerPart]) -> Self {
        ServerPart {
            p50_at_most_ms: stats::median(runs.iter().map(|r| r.p50_at_most_ms)),
            p99_at_most_ms: stats::median(runs.iter().map(|r| r.p99_at_most_ms)),
            count: runs.iter().map(|r| r.count).sum(),
        }
    }

    /// What was added between two readings of the histogram.
    fn between(before: &[(f64, u64)], after: &[(f64, u64)]) -> Self {
        let added: Vec<(f64, u64)> = after
            .iter()
            .map(|(le, n)| {
                let earlier = before.iter().find(|(l, _)| l == le).map_or(0, |(_, n)| *n);
                (*le, n.saturating_sub(earlier))
            })
            .collect();
        let count = added.last().map_or(0, |(_, n)| *n);
        let at = |q: f64| {
            let rank = (q * count as f64).ceil() as u64;
            added
                .iter()
                .find(|(_, n)| *n >= rank)
                .map_or(f64::INFINITY, |(le, _)| le * 1000.0)
        };
        ServerPart {
            p50_at_most_ms: at(0.5),
            p99_at_most_ms: at(0.99),
            count,
        }
    }
}

/// The token the benchmark's servers take for `/metrics`.
pub const METRICS_TOKEN: &str = "portico-bench-reads-its-own-servers-metrics";

/// The cumulative buckets (upper bound in seconds, count) of the server's
/// live delivery histogram.
async fn live_buckets(addr: SocketAddr) -> anyhow::Result<Vec<(f64, u64)>> {
    let text = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("http://{addr}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let mut buckets = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("portico_live_event_delivery_seconds_bucket{le=\"")
        else {
            continue;
        };
        let Some((le, n)) = rest.split_once("\"} ") else {
            continue;
        };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse()?
        };
        buckets.push((le, n.trim().parse()?));
    }
    anyhow::ensure!(
        !buckets.is_empty(),
        "no live delivery histogram in /metrics"
    );
    Ok(buckets)
}

impl Delivery {
    pub fn median(runs: &[Delivery]) -> Delivery {
        let Some(first) = runs.first() else {
            return Delivery::default();
        };
        Delivery {
            sockets: first.sockets,
            target_rate: first.target_rate,
            achieved_rate: stats::median(runs.iter().map(|r| r.achieved_rate)),
            sent: stats::median(runs.iter().map(|r| r.sent as f64)) as u64,
            send_failures: runs.iter().map(|r| r.send_failures).sum(),
            skipped: runs.iter().map(|r| r.skipped).sum(),
            expected: runs.iter().map(|r| r.expected).sum(),
            missed: runs.iter().map(|r| r.missed).sum(),
            closed_by_server: runs.iter().map(|r| r.closed_by_server).sum(),
            latency: Latency::median(&runs.iter().map(|r| r.latency).collect::<Vec<_>>()),
            from_ack: Latency::median(&runs.iter().map(|r| r.from_ack).collect::<Vec<_>>()),
            server: ServerPart::median(&runs.iter().map(|r| r.server).collect::<Vec<_>>()),
        }
    }
}

/// What a socket reader takes from an event: borrowed from the frame, the
/// rest (the body, the sender) skipped unread, so that the load generator's
/// 1,000 readers spend as little of the shared cores as they can.
#[derive(serde::Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    chat: Option<std::borrow::Cow<'a, str>>,
    seq: Option<i64>,
}

/// A message as a socket saw it: (chat, seq) and when.
type Seen = Vec<(String, i64, Instant)>;

/// `sockets` sockets of the members of the senders' chats; sends paced at
/// `rate` per second for `duration` over the senders' connections; the
/// latency of each delivery is measured to its arrival on a socket of
/// another member of the chat, from the start of its send request and from
/// its acknowledgement.
#[allow(clippy::too_many_arguments)]
pub async fn delivery(
    addr: SocketAddr,
    metrics_at: SocketAddr,
    socket_via: Option<&str>,
    targets: &[Target],
    watchers: &[(String, String)],
    members: &HashMap<String, Vec<String>>,
    sockets: usize,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Delivery> {
    // watchers: (member key `kind:id`, cookie header)
    let cookies: Vec<String> = watchers.iter().map(|(_, c)| c.clone()).collect();
    let opened = open_many(addr, socket_via, &cookies, sockets, 64).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut readers = Vec::new();
    for (owner, mut socket) in opened {
        let mut stop = stop_rx.clone();
        readers.push(tokio::spawn(async move {
            let mut seen: Seen = Vec::new();
            let mut closed = false;
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    incoming = socket.next() => match incoming {
                        Some(Ok(Message::Text(text))) => {
                            let at = Instant::now();
                            if let Ok(event) = serde_json::from_str::<Event>(&text)
                                && event.kind == "message"
                                && let (Some(chat), Some(seq)) = (event.chat, event.seq)
                            {
                                seen.push((chat.into_owned(), seq, at));
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => { closed = true; break; }
                    }
                }
            }
            let _ = socket.close(None).await;
            (owner, seen, closed)
        }));
    }
    // Let every socket's subscription settle before the first send.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let buckets_before = live_buckets(metrics_at).await?;

    let mut conns = Vec::new();
    for target in targets {
        conns.push(Conn::open(target.clone()).await?);
    }
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let t0 = tokio::time::Instant::now();
    let give_up = t0 + duration + Duration::from_secs(2);
    let mut queues = Vec::new();
    let mut workers = Vec::new();
    for mut conn in conns {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        queues.push(tx);
        workers.push(tokio::spawn(async move {
            let mut acks: Vec<Acked> = Vec::new();
            let (mut failures, mut skipped) = (0u64, 0u64);
            while let Some(n) = rx.recv().await {
                if tokio::time::Instant::now() > give_up {
                    skipped += 1;
                    continue;
                }
                let body = format!("Delivery probe {n}");
                let began = Instant::now();
                match conn.send(&body).await {
                    Ok(Outcome::Ack { seq }) => acks.push(Acked {
                        chat: conn.target().chat.clone(),
                        seq,
                        began,
                        acked: Instant::now(),
                        person: conn.target().person,
                    }),
                    _ => failures += 1,
                }
            }
            (acks, failures, skipped)
        }));
    }
    for n in 0..total {
        let due = t0 + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due).await;
        let queue = &queues[(n as usize) % queues.len()];
        queue.send(n).ok();
    }
    drop(queues);
    let mut acks = Vec::new();
    let (mut failures, mut skipped) = (0, 0);
    for worker in workers {
        let (a, f, s) = worker.await.context("a sender")?;
        acks.extend(a);
        failures += f;
        skipped += s;
    }
    let send_seconds = t0.elapsed().as_secs_f64();
    // Time for the last events to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let server = ServerPart::between(&buckets_before, &live_buckets(metrics_at).await?);
    stop_tx.send(true).ok();
    let mut arrivals: Vec<HashMap<String, HashMap<i64, Instant>>> = Vec::new();
    let mut owners = Vec::new();
    let mut closed_by_server = 0;
    for reader in readers {
        let (owner, seen, closed) = reader.await.context("a socket reader")?;
        closed_by_server += u64::from(closed);
        owners.push(owner);
        let mut by_chat: HashMap<String, HashMap<i64, Instant>> = HashMap::new();
        for (chat, seq, at) in seen {
            by_chat.entry(chat).or_default().insert(seq, at);
        }
        arrivals.push(by_chat);
    }

    // The sockets of each chat's members.
    let member_of: Vec<&str> = watchers.iter().map(|(m, _)| m.as_str()).collect();
    let mut sockets_of: HashMap<&str, Vec<(usize, &str)>> = HashMap::new();
    for (chat, ms) in members {
        let ms: HashSet<&str> = ms.iter().map(String::as_str).collect();
        let list = owners
            .iter()
            .enumerate()
            .filter(|(_, owner)| ms.contains(member_of[**owner]))
            .map(|(socket, owner)| (socket, member_of[*owner]))
            .collect();
        sockets_of.insert(chat.as_str(), list);
    }
    let sender_key: HashMap<usize, &str> = targets
        .iter()
        .filter_map(|t| {
            watchers
                .iter()
                .position(|(_, c)| *c == t.cookie)
                .map(|i| (t.person, member_of[i]))
        })
        .collect();
    let mut h = stats::histogram()?;
    let mut h_ack = stats::histogram()?;
    let (mut expected, mut missed) = (0u64, 0u64);
    for ack in &acks {
        let Some(list) = sockets_of.get(ack.chat.as_str()) else {
            continue;
        };
        let sender = sender_key.get(&ack.person).copied().unwrap_or("");
        for (socket, who) in list {
            if *who == sender {
                continue;
            }
            expected += 1;
            match arrivals[*socket]
                .get(ack.chat.as_str())
                .and_then(|m| m.get(&ack.seq))
            {
                Some(at) => {
                    let micros = |from: Instant| at.saturating_duration_since(from).as_micros();
                    stats::record(&mut h, micros(ack.began) as u64);
                    stats::record(&mut h_ack, micros(ack.acked) as u64);
                }
                None => missed += 1,
            }
        }
    }
    Ok(Delivery {
        sockets,
        target_rate: rate,
        achieved_rate: acks.len() as f64 / send_seconds,
        sent: acks.len() as u64,
        send_failures: failures,
        skipped,
        expected,
        missed,
        closed_by_server,
        latency: Latency::of(&h),
        from_ack: Latency::of(&h_ack),
        server,
    })
}

/// A send acknowledged during a delivery run.
struct Acked {
    chat: String,
    seq: i64,
    /// The request's start.
    began: Instant,
    /// Its answer read.
    acked: Instant,
    /// The sender's index in the fixture.
    person: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Idle {
    pub sockets: usize,
    pub rss_before_kib: u64,
    pub rss_open_kib: u64,
    pub per_socket_kib: f64,
    pub connect_seconds: f64,
}

impl Idle {
    pub fn median(runs: &[Idle]) -> Idle {
        let Some(first) = runs.first() else {
            return Idle::default();
        };
        Idle {
            sockets: first.sockets,
            rss_before_kib: stats::median(runs.iter().map(|r| r.rss_before_kib as f64)) as u64,
            rss_open_kib: stats::median(runs.iter().map(|r| r.rss_open_kib as f64)) as u64,
            per_socket_kib: stats::median(runs.iter().map(|r| r.per_socket_kib)),
            connect_seconds: stats::median(runs.iter().map(|r| r.connect_seconds)),
        }
    }
}

/// Server memory with no socket, then with `count` idle authenticated sockets.
pub async fn idle(
    server: &ServerProcess,
    cookies: &[String],
    count: usize,
) -> anyhow::Result<Idle> {
    // One socket opened and closed first, so that what the first socket
    // starts once (a database connection, the live hub) is in the baseline.
    drop(connect(server.addr, &cookies[0]).await?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_kib()?;
    let started = Instant::now();
    let sockets = open_many(server.addr, None, cookies, count, 128).await?;
    let connect_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open = server.rss_kib()?;
    drop(sockets);
    Ok(Idle {
        sockets: count,
        rss_before_kib: before,
        rss_open_kib: open,
        per_socket_kib: (open as f64 - before as f64) / count as f64,
        connect_seconds,
    })
}
