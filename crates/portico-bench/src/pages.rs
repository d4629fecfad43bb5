//! Page times (the server's own, from `Server-Timing`) and the export of a
//! large chat (wall time and the server's peak memory).

use crate::children::rss_kib;
use crate::fixture::Browser;
use crate::stats;
use anyhow::{Context, ensure};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Default, Serialize)]
pub struct PageTime {
    pub requests: usize,
    /// Where the figures come from: `server` (Server-Timing) or `client`.
    pub source: String,
    pub median_ms: f64,
    pub p95_ms: f64,
    /// As the client saw it (request sent to the last byte).
    pub client_median_ms: f64,
    pub bytes: usize,
}

impl PageTime {
    pub fn median(runs: &[PageTime]) -> PageTime {
        let Some(first) = runs.first() else {
            return PageTime::default();
        };
        PageTime {
            requests: first.requests,
            source: first.source.clone(),
            median_ms: stats::median(runs.iter().map(|r| r.median_ms)),
            p95_ms: stats::median(runs.iter().map(|r| r.p95_ms)),
            client_median_ms: stats::median(runs.iter().map(|r| r.client_median_ms)),
            bytes: first.bytes,
        }
    }
}

/// `app;dur=12.5` → 12.5
fn server_timing(response: &reqwest::Response) -> Option<f64> {
    let value = response.headers().get("server-timing")?.to_str().ok()?;
    value.split(',').find_map(|metric| {
        let mut parts = metric.trim().split(';');
        if parts.next()?.trim() != "app" {
            return None;
        }
        parts.find_map(|p| p.trim().strip_prefix("dur=")?.parse().ok())
    })
}

/// GETs `path` `requests` times, one after another (after three unmeasured).
pub async fn page_time(browser: &Browser, path: &str, requests: usize) -> anyhow::Result<PageTime> {
    let mut server = Vec::new();
    let mut client = Vec::new();
    let mut bytes = 0;
    for i in 0..requests + 3 {
        let began = Instant::now();
        let response = browser.get(path).await?;
        let status = response.status();
        let timing = server_timing(&response);
        let body = response.bytes().await.context("page body")?;
        let elapsed = began.elapsed().as_secs_f64() * 1000.0;
        ensure!(status.is_success(), "GET {path}: {status}");
        if i < 3 {
            continue;
        }
        bytes = body.len();
        client.push(elapsed);
        if let Some(ms) = timing {
            server.push(ms);
        }
    }
    let (source, times) = if server.len() == client.len() {
        ("server", &server)
    } else {
        ("client", &client)
    };
    Ok(PageTime {
        requests,
        source: source.to_owned(),
        median_ms: stats::median(times.iter().copied()),
        p95_ms: stats::quantile(times, 0.95),
        client_median_ms: stats::median(client.iter().copied()),
        bytes,
    })
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Export {
    pub messages: i64,
    pub seconds: f64,
    pub bytes: u64,
    pub rss_before_kib: u64,
    pub rss_peak_kib: u64,
    pub rss_growth_kib: u64,
    pub status: u16,
}

impl Export {
    pub fn median(runs: &[Export]) -> Export {
        let Some(first) = runs.first() else {
            return Export::default();
        };
        let m = |f: fn(&Export) -> f64| stats::median(runs.iter().map(f));
        Export {
            messages: first.messages,
            seconds: m(|r| r.seconds),
            bytes: m(|r| r.bytes as f64) as u64,
            rss_before_kib: m(|r| r.rss_before_kib as f64) as u64,
            rss_peak_kib: m(|r| r.rss_peak_kib as f64) as u64,
            rss_growth_kib: m(|r| r.rss_growth_kib as f64) as u64,
            status: runs.iter().map(|r| r.status).max().unwrap_or(0),
        }
    }
}

/// Downloads the XLSX export of `chat`, discarding the body as it streams,
/// while sampling the server's resident memory every 5 ms.
pub async fn export(
    browser: &Browser,
    pid: u32,
    chat: &str,
    messages: i64,
) -> anyhow::Result<Export> {
    let before = rss_kib(pid)?;
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while !done.load(Ordering::Relaxed) {
                tick.tick().await;
                if let Ok(rss) = rss_kib(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
            }
        })
    };
    let began = Instant::now();
    let path = format!("/app/messages/{chat}/export/xlsx");
    let result = async {
        let mut response = browser.get(&path).await?;
        let status = response.status().as_u16();
        let mut bytes = 0u64;
        while let Some(chunk) = response.chunk().await.context("export body")? {
            bytes += chunk.len() as u64;
        }
        Ok::<_, anyhow::Error>((status, bytes))
    }
    .await;
    let seconds = began.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.await.ok();
    let (status, bytes) = result?;
    let peak = peak.load(Ordering::Relaxed);
    Ok(Export {
        messages,
        seconds,
        bytes,
        rss_before_kib: before,
        rss_peak_kib: peak,
        rss_growth_kib: peak.saturating_sub(before),
        status,
    })
}
