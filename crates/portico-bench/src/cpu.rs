//! CPU time a run costs the machine's processes: the server's, and on
//! PostgreSQL the database's (every `postgres` process but autovacuum's), read from
//! `/proc/<pid>/stat` before and after. Divided by the sends acknowledged,
//! it is the cost of one send, which does not depend on how the two cores
//! were shared out between the server and the load generator the way
//! sends per second does.

use anyhow::Context as _;
use serde::Serialize;
use std::sync::OnceLock;

/// The processes whose CPU time a run counts.
#[derive(Clone, Debug)]
pub struct CpuMeter {
    server: Vec<u32>,
    database: bool,
}

/// CPU seconds used so far (user and system).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTime {
    pub server: f64,
    pub database: f64,
}

/// CPU milliseconds per acknowledged send (or request).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct CpuPerSend {
    pub server_ms: f64,
    /// PostgreSQL's processes; `None` on SQLite.
    pub database_ms: Option<f64>,
}

impl CpuPerSend {
    pub fn total_ms(&self) -> f64 {
        self.server_ms + self.database_ms.unwrap_or(0.0)
    }

    pub fn median<'a>(runs: impl Iterator<Item = &'a CpuPerSend>) -> Option<CpuPerSend> {
        let runs: Vec<_> = runs.collect();
        if runs.is_empty() {
            return None;
        }
        let database: Vec<f64> = runs.iter().filter_map(|r| r.database_ms).collect();
        Some(CpuPerSend {
            server_ms: crate::stats::median(runs.iter().map(|r| r.server_ms)),
            database_ms: (!database.is_empty())
                .then(|| crate::stats::median(database.iter().copied())),
        })
    }

    /// "0.38 ms (server 0.21 + database 0.17)".
    pub fn text(&self) -> String {
        match self.database_ms {
            Some(db) => format!(
                "{:.3} ms (server {:.3} + database {:.3})",
                self.total_ms(),
                self.server_ms,
                db
            ),
            None => format!("{:.3} ms", self.server_ms),
        }
    }
}

impl CpuMeter {
    /// The server process (its threads included) and, with `database`,
    /// every process named `postgres` but autovacuum's.
    pub fn new(server: u32, database: bool) -> Self {
        Self {
            server: vec![server],
            database,
        }
    }

    pub fn now(&self) -> anyhow::Result<CpuTime> {
        let mut time = CpuTime::default();
        for &pid in &self.server {
            time.server += process_seconds(pid)?.1;
        }
        if self.database {
            for entry in std::fs::read_dir("/proc").context("could not list /proc")? {
                let Ok(entry) = entry else { continue };
                let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                    continue;
                };
                // A process may end between the listing and the read.
                if let Ok((name, seconds)) = process_seconds(pid)
                    && name == "postgres"
                    && !autovacuum(pid)
                {
                    time.database += seconds;
                }
            }
        }
        Ok(time)
    }

    /// What one of `sends` cost between `before` and now.
    pub fn per_send(&self, before: CpuTime, sends: u64) -> anyhow::Result<CpuPerSend> {
        let after = self.now()?;
        let sends = sends.max(1) as f64;
        Ok(CpuPerSend {
            server_ms: (after.server - before.server) * 1000.0 / sends,
            database_ms: self
                .database
                .then(|| (after.database - before.database) * 1000.0 / sends),
        })
    }
}

/// Whether a PostgreSQL process is autovacuum's (its launcher or a worker),
/// whose work starts at times of its own choosing: after the fixture's bulk
/// load, or after the search index is dropped, it would land in whichever
/// run it happened to overlap.
fn autovacuum(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("autovacuum"))
        .unwrap_or(false)
}

/// A process's name and its CPU seconds, user and system, its threads'
/// included (fields 2, 14 and 15 of `/proc/<pid>/stat`).
fn process_seconds(pid: u32) -> anyhow::Result<(String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("could not read /proc/{pid}/stat"))?;
    // The name is in parentheses and may hold spaces; the fields after
    // the last ')' are numbers.
    let open = stat.find('(').context("no name in /proc/PID/stat")?;
    let close = stat.rfind(')').context("no name in /proc/PID/stat")?;
    let name = stat[open + 1..close].to_owned();
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // Field 3 (the state) is the first after the name: utime is field 14.
    let ticks = |field: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(field - 3)
            .context("a short /proc/PID/stat")?
            .parse::<f64>()?)
    };
    Ok((name, (ticks(14)? + ticks(15)?) / ticks_per_second()))
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
