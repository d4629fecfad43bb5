//! The report: a Markdown table per backend with what it was measured on,
//! and the raw figures as JSON beside it.

use crate::Scenario;
use crate::fixture::Sizes;
use crate::load::Level;
use crate::machine::Header;
use crate::pages::{Export, PageTime};
use crate::sockets::{Delivery, Idle};
use anyhow::Context;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    pub runs: usize,
    pub warmup_seconds: f64,
    pub duration_seconds: f64,
    pub concurrency: Vec<usize>,
    pub delivery_sockets: usize,
    pub delivery_rate: f64,
    pub idle_sockets: usize,
    pub page_requests: usize,
    pub scenarios: Vec<Scenario>,
    pub sizes: Sizes,
}

#[derive(Debug, Default, Serialize)]
pub struct BackendReport {
    pub backend: String,
    pub fixture_seconds: f64,
    pub send: Vec<Level>,
    pub send_runs: Vec<Vec<Level>>,
    pub delivery: Option<Delivery>,
    pub delivery_runs: Vec<Delivery>,
    pub idle: Option<Idle>,
    pub idle_runs: Vec<Idle>,
    pub chat_page: Option<PageTime>,
    pub portal_page: Option<PageTime>,
    pub page_runs: Vec<(PageTime, PageTime)>,
    pub export: Option<Export>,
    pub export_runs: Vec<Export>,
    /// Scenarios that failed, and why.
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub header: Header,
    pub settings: Settings,
    pub bare: Vec<Level>,
    pub bare_runs: Vec<Vec<Level>>,
    pub backends: Vec<BackendReport>,
}

fn thousands(n: f64) -> String {
    let rounded = n.round() as i64;
    let digits = rounded.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0 { format!("-{out}") } else { out }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

impl Report {
    pub fn markdown(&self) -> String {
        let h = &self.header;
        let s = &self.settings;
        let mut md = String::new();
        let _ = writeln!(md, "- Date: {}", h.date_utc);
        let _ = writeln!(md, "- Commit: {}", h.commit);
        let _ = writeln!(md, "- Command: `{}`", h.command);
        let _ = writeln!(
            md,
            "- Machine: {} ({} cores), {} GiB memory, {}",
            h.cpu, h.cores, h.memory_gib, h.kernel
        );
        let _ = writeln!(
            md,
            "- Settings: {} runs (medians shown); send and bare {} s after {} s warm-up at {:?} senders; \
             delivery {} sockets at {} msg/s for {} s; idle {} sockets; pages {} requests each",
            s.runs,
            s.duration_seconds,
            s.warmup_seconds,
            s.concurrency,
            s.delivery_sockets,
            s.delivery_rate,
            s.duration_seconds,
            s.idle_sockets,
            s.page_requests
        );
        let z = &s.sizes;
        let _ = writeln!(
            md,
            "- Fixture: {} team members and an admin, {} clients with 2 contacts each, {} direct chats, {} team chats, \
             {} group chats, {} questions on one client, chats of {} and {} messages",
            z.staff,
            z.clients,
            z.clients,
            z.staff / 2,
            z.group_chats,
            z.questions,
            thousands(z.page_chat_messages as f64),
            thousands(z.export_chat_messages as f64)
        );
        for backend in &self.backends {
            let _ = writeln!(md);
            let _ = writeln!(
                md,
                "### {} (fixture made in {:.0} s)",
                backend.backend, backend.fixture_seconds
            );
            let _ = writeln!(md);
            let _ = writeln!(md, "| scenario | measure | result |");
            let _ = writeln!(md, "| --- | --- | --- |");
            self.rows(&mut md, backend);
            for problem in &backend.problems {
                let _ = writeln!(md, "\n**Problem:** {problem}");
            }
        }
        if self.backends.is_empty() && !self.bare.is_empty() {
            let _ = writeln!(md, "\n| scenario | measure | result |\n| --- | --- | --- |");
            for level in &self.bare {
                bare_row(&mut md, level);
            }
        }
        md
    }

    fn rows(&self, md: &mut String, b: &BackendReport) {
        for level in &b.send {
            let bare = self
                .bare
                .iter()
                .find(|l| l.concurrency == level.concurrency)
                .filter(|l| l.per_second > 0.0);
            let ratio = bare.map_or(String::new(), |bare| {
                format!(
                    " ({:.1}% of the bare limit, {} /s)",
                    100.0 * level.per_second / bare.per_second,
                    thousands(bare.per_second)
                )
            });
            let refusals = if level.throttled + level.refused + level.server_errors + level.errors
                > 0
            {
                format!(
                    "; not sent: {} throttled (429), {} server errors (5xx), {} other refusals, {} connection errors",
                    level.throttled, level.server_errors, level.refused, level.errors
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                md,
                "| send ×{} | acknowledged sends/s; latency p50 / p95 / p99 | {} /s{}; {:.1} / {:.1} / {:.1} ms{} |",
                level.concurrency,
                thousands(level.per_second),
                ratio,
                level.latency.p50_ms,
                level.latency.p95_ms,
                level.latency.p99_ms,
                refusals
            );
        }
        for level in &self.bare {
            bare_row(md, level);
        }
        if let Some(d) = &b.delivery {
            let _ = writeln!(
                md,
                "| delivery | {} sockets, {} msg/s asked for {} s: sent/s; send→socket latency p50 / p95 / p99; missed | {} /s ({} sent, {} failed, {} not sent in time); {:.1} / {:.1} / {:.1} ms; {} of {} deliveries missed, {} sockets closed by the server |",
                d.sockets,
                thousands(d.target_rate),
                self.settings.duration_seconds,
                thousands(d.achieved_rate),
                thousands(d.sent as f64),
                d.send_failures,
                d.skipped,
                d.latency.p50_ms,
                d.latency.p95_ms,
                d.latency.p99_ms,
                thousands(d.missed as f64),
                thousands(d.expected as f64),
                d.closed_by_server
            );
        }
        if let Some(i) = &b.idle {
            let _ = writeln!(
                md,
                "| idle | server RSS with 0 → {} idle sockets; per socket | {} → {}; {:.1} KiB per socket (opened in {:.1} s) |",
                thousands(i.sockets as f64),
                mib(i.rss_before_kib),
                mib(i.rss_open_kib),
                i.per_socket_kib,
                i.connect_seconds
            );
        }
        for (name, page) in [
            (
                format!(
                    "staff chat page, {}-message chat (newest page)",
                    thousands(self.settings.sizes.page_chat_messages as f64)
                ),
                &b.chat_page,
            ),
            (
                format!(
                    "portal home of a contact, {} questions",
                    self.settings.sizes.questions
                ),
                &b.portal_page,
            ),
        ] {
            if let Some(p) = page {
                let _ = writeln!(
                    md,
                    "| pages | {name}: {} time median / p95 | {:.1} / {:.1} ms (client median {:.1} ms, {} KiB) |",
                    p.source,
                    p.median_ms,
                    p.p95_ms,
                    p.client_median_ms,
                    p.bytes / 1024
                );
            }
        }
        if let Some(e) = &b.export {
            let _ = writeln!(
                md,
                "| export | XLSX of {} messages: wall time; server peak RSS (growth) | {:.1} s, {:.1} MB (status {}); {} (+{}) |",
                thousands(e.messages as f64),
                e.seconds,
                e.bytes as f64 / 1e6,
                e.status,
                mib(e.rss_peak_kib),
                mib(e.rss_growth_kib)
            );
        }
    }

    /// Writes the Markdown report at `path` and the JSON beside it.
    pub fn write(&self, path: &Path) -> anyhow::Result<std::path::PathBuf> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
        }
        let md = format!("## Portico benchmark\n\n{}", self.markdown());
        std::fs::write(path, md).with_context(|| format!("could not write {}", path.display()))?;
        let json_path = path.with_extension("json");
        let json = serde_json::to_string_pretty(self).context("report as JSON")?;
        std::fs::write(&json_path, json)
            .with_context(|| format!("could not write {}", json_path.display()))?;
        Ok(json_path)
    }
}

fn bare_row(md: &mut String, level: &Level) {
    let _ = writeln!(
        md,
        "| bare ×{} | requests/s of a trivial axum handler; latency p50 / p95 / p99 | {} /s; {:.2} / {:.2} / {:.2} ms |",
        level.concurrency,
        thousands(level.per_second),
        level.latency.p50_ms,
        level.latency.p95_ms,
        level.latency.p99_ms
    );
}
