//! The report: a Markdown table per backend with what it was measured on,
//! and the raw figures as JSON beside it.

use crate::Scenario;
use crate::cluster::ClusterReport;
use crate::fixture::Sizes;
use crate::load::Level;
use crate::machine::Header;
use crate::notify::NotifyWindow;
use crate::pages::{Export, PageTime};
use crate::pgprobe::{DbLoad, Storage};
use crate::practices::PracticesMemory;
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
    pub practices: usize,
    /// People told in the notify scenario's window.
    pub notify_contacts: usize,
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
    /// Each page timed (what it is, the median of its runs).
    pub pages: Vec<(String, PageTime)>,
    pub page_runs: Vec<Vec<(String, PageTime)>>,
    pub export: Option<Export>,
    pub export_runs: Vec<Export>,
    pub cluster: Option<ClusterReport>,
    pub practices: Option<PracticesMemory>,
    /// X1: each query, what it matches, and its server time.
    pub search: Vec<(String, String, PageTime)>,
    /// X1: sends with the search index, and without it (dropped).
    pub send_indexed: Vec<Level>,
    pub send_unindexed: Vec<Level>,
    /// N2: one notification window, and sends during it.
    pub notify: Option<NotifyWindow>,
    pub notify_runs: Vec<NotifyWindow>,
    /// What the database holds after the fixture (PostgreSQL).
    pub storage: Option<Storage>,
    /// The load average as each scenario began, and at the end.
    pub loads: Vec<(String, String)>,
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

pub fn thousands(n: f64) -> String {
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
        let large = if z.export_chat_messages > 0 {
            format!(
                "chats of {} and {} messages",
                thousands(z.page_chat_messages as f64),
                thousands(z.export_chat_messages as f64)
            )
        } else {
            format!(
                "a chat of {} messages (the export's chat left empty)",
                thousands(z.page_chat_messages as f64)
            )
        };
        let _ = writeln!(
            md,
            "- Fixture: {} team members and an admin, {} clients with 2 contacts each, {} direct chats, {} team chats, \
             {} group chats, {} questions on one client, {large}",
            z.staff,
            z.clients,
            z.clients,
            z.staff / 2,
            z.group_chats,
            z.questions,
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
            if !backend.loads.is_empty() {
                let loads: Vec<String> = backend
                    .loads
                    .iter()
                    .map(|(scenario, load)| format!("{scenario} {load}"))
                    .collect();
                let _ = writeln!(
                    md,
                    "\nLoad average (1, 5, 15 min) as each scenario began: {}",
                    loads.join("; ")
                );
            }
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
        for level in &b.send {
            if let Some(db) = &level.db {
                db_row(md, &format!("database, send ×{}", level.concurrency), db);
            }
        }
        for level in &b.send {
            if let Some(cpu) = &level.cpu {
                let _ = writeln!(
                    md,
                    "| CPU, send ×{} | CPU time per acknowledged send (user and system, warm-up included) | {} |",
                    level.concurrency,
                    cpu.text()
                );
            }
        }
        for level in &self.bare {
            bare_row(md, level);
        }
        if let Some(d) = &b.delivery {
            self.delivery_row(md, "delivery", "", d);
        }
        if let Some(c) = &b.cluster {
            self.cluster_rows(md, b, c);
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
        for (name, p) in &b.pages {
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
        if let Some(p) = &b.practices {
            let _ = writeln!(
                md,
                "| practices | server RSS with {} more practices in the database: at start; 2 in use → all in use; per practice in use (its admin signed in, 4 pages seen, 1 socket) | {}; {} → {}; {:.1} KiB per practice (made in {:.0} s) |",
                p.practices,
                mib(p.rss_start_kib),
                mib(p.rss_two_kib),
                mib(p.rss_all_kib),
                p.per_practice_kib,
                p.made_seconds
            );
        }
        if let Some(st) = &b.storage {
            let _ = writeln!(
                md,
                "| storage | messages stored; the messages table with its indexes and TOAST, per message; every table of the schema | {}; {} ({:.0} bytes per message); {} |",
                thousands(st.messages as f64),
                mib((st.message_bytes / 1024) as u64),
                st.message_bytes as f64 / st.messages.max(1) as f64,
                mib((st.schema_bytes / 1024) as u64)
            );
        }
        for (q, what, p) in &b.search {
            let _ = writeln!(
                md,
                "| search | `{q}` in a {}-message chat ({what}): {} time median / p95 | {:.1} / {:.1} ms (client median {:.1} ms) |",
                thousands(self.settings.sizes.export_chat_messages as f64),
                p.source,
                p.median_ms,
                p.p95_ms,
                p.client_median_ms
            );
        }
        for (with, without) in b.send_indexed.iter().zip(&b.send_unindexed) {
            let change =
                (with.per_second / without.per_second.max(f64::MIN_POSITIVE) - 1.0) * 100.0;
            let _ = writeln!(
                md,
                "| search | sends/s at concurrency {} with the search index → without it; p50 latency | {:.0} → {:.0} /s ({change:+.1} % with the index); {:.1} → {:.1} ms |",
                with.concurrency,
                with.per_second,
                without.per_second,
                with.latency.p50_ms,
                without.latency.p50_ms
            );
            if let (Some(with_cpu), Some(without_cpu)) = (with.cpu, without.cpu) {
                let change = (with_cpu.total_ms() / without_cpu.total_ms().max(f64::MIN_POSITIVE)
                    - 1.0)
                    * 100.0;
                let _ = writeln!(
                    md,
                    "| search | CPU per acknowledged send at concurrency {} with the search index → without it | {} → {} ({change:+.1} % with the index) |",
                    with.concurrency,
                    with_cpu.text(),
                    without_cpu.text()
                );
            }
        }
        if let Some(n) = &b.notify {
            let _ = writeln!(
                md,
                "| notify | one window telling {} contacts (each an unread message past the window): time (from the server's log); told, outbox rows queued | {:.0} ms; {}, {} |",
                thousands(n.contacts as f64),
                n.window_ms,
                thousands(n.told as f64),
                thousands(n.queued as f64)
            );
            let _ = writeln!(
                md,
                "| notify | sends/s at concurrency {} without a window → during it; p50 latency; p99 | {:.0} → {:.0} /s; {:.1} → {:.1} ms; {:.1} → {:.1} ms ({} sends overlapped the window) |",
                n.without.concurrency,
                n.without.per_second,
                n.during_per_second,
                n.without.latency.p50_ms,
                n.during.p50_ms,
                n.without.latency.p99_ms,
                n.during.p99_ms,
                n.during.count
            );
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

    fn delivery_row(&self, md: &mut String, name: &str, how: &str, d: &Delivery) {
        let _ = writeln!(
            md,
            "| {name} | {how}{} sockets, {} msg/s asked for {} s: sent/s; latency p50 / p95 / p99 to another member's socket from the send's start, and from its acknowledgement; inside the server, from the event's publication to its write to the socket (`/metrics`, bucket bounds); missed | {} /s ({} sent, {} failed, {} not sent in time); from the start {:.1} / {:.1} / {:.1} ms, from the acknowledgement {:.1} / {:.1} / {:.1} ms; inside the server p50 ≤ {} ms, p99 ≤ {} ms; {} of {} deliveries missed, {} sockets closed by the server |",
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
            d.from_ack.p50_ms,
            d.from_ack.p95_ms,
            d.from_ack.p99_ms,
            d.server.p50_at_most_ms,
            d.server.p99_at_most_ms,
            thousands(d.missed as f64),
            thousands(d.expected as f64),
            d.closed_by_server
        );
    }

    fn cluster_rows(&self, md: &mut String, b: &BackendReport, c: &ClusterReport) {
        for level in &c.send {
            let Some(one) = c.one.iter().find(|l| l.concurrency == level.concurrency) else {
                continue;
            };
            let direct = b
                .send
                .iter()
                .find(|l| l.concurrency == level.concurrency)
                .map_or(String::new(), |d| {
                    format!(
                        "; one instance without HAProxy (send ×{}, earlier): {} /s",
                        d.concurrency,
                        thousands(d.per_second)
                    )
                });
            let refusals = |l: &Level| l.throttled + l.refused + l.server_errors + l.errors;
            let _ = writeln!(
                md,
                "| cluster send ×{} | through HAProxy, in alternate runs: instance a alone → round robin over a and b: acknowledged sends/s; latency p50, p99 | {} → {} /s (×{:.2}); p50 {:.1} → {:.1} ms, p99 {:.1} → {:.1} ms{direct}{} |",
                level.concurrency,
                thousands(one.per_second),
                thousands(level.per_second),
                level.per_second / one.per_second.max(f64::MIN_POSITIVE),
                one.latency.p50_ms,
                level.latency.p50_ms,
                one.latency.p99_ms,
                level.latency.p99_ms,
                if refusals(one) + refusals(level) > 0 {
                    format!(
                        "; not sent (one → two): {} → {} (429, 5xx, other refusals and connection errors)",
                        refusals(one),
                        refusals(level)
                    )
                } else {
                    String::new()
                }
            );
        }
        for level in &c.send {
            if let Some(db) = &level.db {
                db_row(
                    md,
                    &format!("database, cluster send ×{}", level.concurrency),
                    db,
                );
            }
        }
        if !c.answered.is_empty() {
            let split: Vec<String> = c
                .answered
                .iter()
                .map(|(name, n)| format!("{name} {}", thousands(*n as f64)))
                .collect();
            let _ = writeln!(
                md,
                "| cluster split | responses each instance gave through HAProxy during the round-robin sends | {} |",
                split.join(", ")
            );
        }
        if let Some(d) = &c.same {
            self.delivery_row(
                md,
                "cluster delivery, one instance",
                "through HAProxy, sockets on instance a, sends through a: ",
                d,
            );
        }
        if let Some(d) = &c.across {
            self.delivery_row(
                md,
                "cluster delivery, across instances",
                "through HAProxy, sockets on instance a, sends through b: ",
                d,
            );
        }
        if let Some(r) = &c.relay {
            let _ = writeln!(
                md,
                "| relay | LISTEN/NOTIFY during delivery across instances: NOTIFYs/s; events/s; events per NOTIFY; payload average / largest | {:.0} /s; {:.0} /s; {:.1}; {:.0} / {} bytes |",
                r.notifications_per_s,
                r.events_per_s,
                r.events as f64 / r.notifications.max(1) as f64,
                r.bytes as f64 / r.notifications.max(1) as f64,
                r.largest_bytes
            );
        }
        for ceiling in &c.ceiling {
            let _ = writeln!(
                md,
                "| NOTIFY ceiling | `SELECT pg_notify(…)` from {} connections, payloads of {} bytes, for {:.0} s: NOTIFYs/s; MB/s; received by a listener | {} /s; {:.1} MB/s; {} of {} |",
                ceiling.connections,
                thousands(ceiling.payload_bytes as f64),
                ceiling.seconds,
                thousands(ceiling.sent_per_s),
                ceiling.megabytes_per_s,
                thousands(ceiling.received as f64),
                thousands(ceiling.sent as f64)
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
        "| bare ×{} | requests/s of a trivial axum handler; latency p50 / p95 / p99; its CPU per request | {} /s; {:.2} / {:.2} / {:.2} ms; {} |",
        level.concurrency,
        thousands(level.per_second),
        level.latency.p50_ms,
        level.latency.p95_ms,
        level.latency.p99_ms,
        level.cpu.map(|c| c.text()).unwrap_or_else(|| "—".into())
    );
}

fn db_row(md: &mut String, name: &str, db: &DbLoad) {
    let _ = writeln!(
        md,
        "| {name} | PostgreSQL: transactions/s (reads included); rows written/s; per acknowledged send; most connections at once per instance | {} /s; {} /s; {:.1} and {:.1} per send; {} |",
        thousands(db.transactions_per_s),
        thousands(db.rows_written_per_s),
        db.transactions_per_send,
        db.rows_written_per_send,
        db.connections_text()
    );
}
