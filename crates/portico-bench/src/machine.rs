//! What the figures were measured on and with.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Header {
    pub date_utc: String,
    pub commit: String,
    pub command: String,
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Header {
    pub fn now() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count()
            .max(1);
        let memory_kib: f64 = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| "unknown".to_owned());
        // Run by `cargo run`, the program's path means less than how to
        // run it again.
        let program = match (std::env::var_os("CARGO"), std::env::args().len()) {
            (Some(_), 1) => "cargo run --release -p portico-bench".to_owned(),
            (Some(_), _) => "cargo run --release -p portico-bench --".to_owned(),
            (None, _) => "portico-bench".to_owned(),
        };
        let command = std::iter::once(program)
            .chain(std::env::args().skip(1).map(
                |a| {
                    if a.contains(' ') { format!("'{a}'") } else { a }
                },
            ))
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            date_utc: jiff::Timestamp::now()
                .strftime("%Y-%m-%d %H:%M UTC")
                .to_string(),
            commit: commit(),
            command,
            cpu,
            cores,
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel,
        }
    }
}

/// `git rev-parse --short HEAD`, with `-dirty` when the tree has changes.
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_owned();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if !changes.is_empty() => format!("{head}-dirty"),
        _ => head,
    }
}

/// The load average over 1, 5 and 15 minutes (`/proc/loadavg`), e.g.
/// "2.16 1.35 0.60": the machine is shared, so each figure says what else
/// was running.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}
