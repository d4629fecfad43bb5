//! The load generator: one keep-alive HTTP/1.1 connection per sender
//! (hyper's client over a tokio `TcpStream`), posting the send form with
//! `Accept: application/json` as the chat page's script does. The same
//! generator drives Portico (`send`) and the bare server (`bare`).

use crate::stats::{self, Latency};
use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One sender: a signed-in person posting to one chat.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub origin: String,
    pub path: String,
    pub cookie: String,
    pub csrf: String,
    pub chat: String,
    /// Index of the person in the fixture.
    pub person: usize,
    /// Behind the load balancer: the instance this sender's requests are
    /// pinned to (the `x-bench-via` header); `None`: round robin.
    pub via: Option<String>,
}

/// What came of one send.
pub enum Outcome {
    Ack { seq: i64 },
    Refused { status: u16 },
}

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    target: Target,
    key_prefix: String,
    sent: u64,
}

impl Conn {
    pub async fn open(target: Target) -> anyhow::Result<Self> {
        let sender = handshake(target.addr).await?;
        Ok(Self {
            sender,
            target,
            key_prefix: uuid::Uuid::now_v7().simple().to_string(),
            sent: 0,
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Posts one message; reconnects once if the connection was closed.
    pub async fn send(&mut self, body: &str) -> anyhow::Result<Outcome> {
        self.sent += 1;
        let key = format!("{}-{}", self.key_prefix, self.sent);
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("body", body)
            .append_pair("key", &key)
            .append_pair("reply_to", "")
            .append_pair("csrf", &self.target.csrf)
            .finish();
        if self.sender.ready().await.is_err() {
            self.sender = handshake(self.target.addr).await?;
        }
        let mut request = hyper::Request::post(self.target.path.as_str());
        if let Some(via) = &self.target.via {
            request = request.header(VIA_HEADER, via);
        }
        let request = request
            .header("host", self.target.addr.to_string())
            .header("origin", &self.target.origin)
            .header("cookie", &self.target.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(Full::new(Bytes::from(form)))
            .context("a send request")?;
        let response = self.sender.send_request(request).await.context("sending")?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .context("reading the answer")?
            .to_bytes();
        if status != 200 {
            return Ok(Outcome::Refused { status });
        }
        let ack: serde_json::Value =
            serde_json::from_slice(&bytes).context("the answer is not JSON")?;
        match ack.get("seq").and_then(serde_json::Value::as_i64) {
            Some(seq) => Ok(Outcome::Ack { seq }),
            None => bail!("the answer has no seq: {ack}"),
        }
    }
}

/// The header that pins a request to one instance behind the benchmark's
/// HAProxy.
pub const VIA_HEADER: &str = "x-bench-via";

async fn handshake(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect to {addr}"))?;
    stream.set_nodelay(true).ok();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends per second at one concurrency.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Level {
    pub concurrency: usize,
    pub per_second: f64,
    pub latency: Latency,
    /// Refused with another 4xx status.
    pub refused: u64,
    /// Refused with 429 (the send limit).
    pub throttled: u64,
    /// Answered with a 5xx status.
    pub server_errors: u64,
    pub errors: u64,
    /// Every acknowledged send of the run, warm-up included.
    pub acked_total: u64,
    /// What the database did meanwhile (PostgreSQL).
    pub db: Option<crate::pgprobe::DbLoad>,
    /// CPU time per acknowledged send, warm-up included.
    pub cpu: Option<crate::cpu::CpuPerSend>,
}

impl Level {
    pub fn median(concurrency: usize, runs: &[Level]) -> Level {
        Level {
            concurrency,
            per_second: stats::median(runs.iter().map(|r| r.per_second)),
            latency: Latency::median(&runs.iter().map(|r| r.latency).collect::<Vec<_>>()),
            refused: runs.iter().map(|r| r.refused).sum(),
            throttled: runs.iter().map(|r| r.throttled).sum(),
            server_errors: runs.iter().map(|r| r.server_errors).sum(),
            errors: runs.iter().map(|r| r.errors).sum(),
            acked_total: stats::median(runs.iter().map(|r| r.acked_total as f64)) as u64,
            db: crate::pgprobe::DbLoad::median(runs.iter().filter_map(|r| r.db.as_ref())),
            cpu: crate::cpu::CpuPerSend::median(runs.iter().filter_map(|r| r.cpu.as_ref())),
        }
    }
}

/// `concurrency` senders, each on its own connection, sending one message
/// after another for `warmup + duration`; only the sends that start and
/// finish inside `duration` count.
pub async fn closed_loop(
    targets: &[Target],
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Level> {
    let mut conns = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        conns.push(Conn::open(targets[i % targets.len()].clone()).await?);
    }
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for mut conn in conns {
        tasks.push(tokio::spawn(async move {
            let mut h = stats::histogram()?;
            let (mut refused, mut throttled, mut failed, mut errors) = (0u64, 0u64, 0u64, 0u64);
            let mut acked = 0u64;
            let mut n = 0u64;
            while Instant::now() < end {
                n += 1;
                let body = format!("Benchmark message {n} from sender {}", conn.target().person);
                let began = Instant::now();
                let outcome = conn.send(&body).await;
                let done = Instant::now();
                let counted = began >= measure_from && done <= end;
                if let Ok(Outcome::Ack { .. }) = outcome {
                    acked += 1;
                }
                match outcome {
                    Ok(Outcome::Ack { .. }) if counted => {
                        stats::record(&mut h, (done - began).as_micros() as u64);
                    }
                    Ok(Outcome::Ack { .. }) => {}
                    Ok(Outcome::Refused { status }) => {
                        if counted {
                            if status == 429 {
                                throttled += 1;
                            } else if status >= 500 {
                                failed += 1;
                            } else {
                                refused += 1;
                            }
                        }
                        // A refusal is quick: do not spin on it.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(_) => {
                        errors += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            Ok::<_, anyhow::Error>((h, refused, throttled, failed, errors, acked))
        }));
    }
    let mut all = stats::histogram()?;
    let mut level = Level {
        concurrency,
        ..Level::default()
    };
    for task in tasks {
        let (h, refused, throttled, failed, errors, acked) =
            task.await.context("a sender task")??;
        level.acked_total += acked;
        all.add(&h).map_err(|e| anyhow::anyhow!("histogram: {e}"))?;
        level.refused += refused;
        level.throttled += throttled;
        level.server_errors += failed;
        level.errors += errors;
    }
    level.latency = Latency::of(&all);
    level.per_second = all.len() as f64 / duration.as_secs_f64();
    Ok(level)
}
