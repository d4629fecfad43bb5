//! What PostgreSQL does while a scenario runs: transactions and rows
//! written (`pg_stat_database`), and the connections each instance holds
//! (`pg_stat_activity`, by the `application_name` each instance's database
//! URL carries).

use crate::stats;
use anyhow::Context;
use serde::Serialize;
use sqlx::Connection;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;

/// PostgreSQL sends a backend's counters to `pg_stat_database` at most
/// once a second while it is busy and within 10 s of its going idle
/// (`PGSTAT_IDLE_INTERVAL`): counters are read this long after a load.
pub const STATS_SETTLE: Duration = Duration::from_secs(11);

/// The benchmark's own window on the database (a URL with its schema).
#[derive(Clone, Debug)]
pub struct PgProbe {
    pub url: String,
}

/// Cumulative counters of the database.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    transactions: i64,
    rows_written: i64,
}

/// The database's side of a stretch of load.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DbLoad {
    /// Committed and rolled back transactions per second, reads included
    /// (each autocommit statement is a transaction).
    pub transactions_per_s: f64,
    /// Rows inserted, updated and deleted per second.
    pub rows_written_per_s: f64,
    pub transactions_per_send: f64,
    pub rows_written_per_send: f64,
    /// The most connections seen at once, by `application_name` (client
    /// connections only: a query's parallel workers carry its name too).
    pub connections: BTreeMap<String, i64>,
}

impl DbLoad {
    pub fn median<'a>(runs: impl Iterator<Item = &'a DbLoad>) -> Option<DbLoad> {
        let runs: Vec<&DbLoad> = runs.collect();
        if runs.is_empty() {
            return None;
        }
        let mut connections: BTreeMap<String, i64> = BTreeMap::new();
        for run in &runs {
            for (name, n) in &run.connections {
                let most = connections.entry(name.clone()).or_default();
                *most = (*most).max(*n);
            }
        }
        Some(DbLoad {
            transactions_per_s: stats::median(runs.iter().map(|r| r.transactions_per_s)),
            rows_written_per_s: stats::median(runs.iter().map(|r| r.rows_written_per_s)),
            transactions_per_send: stats::median(runs.iter().map(|r| r.transactions_per_send)),
            rows_written_per_send: stats::median(runs.iter().map(|r| r.rows_written_per_send)),
            connections,
        })
    }

    /// "portico-a 17, portico-b 17"
    pub fn connections_text(&self) -> String {
        self.connections
            .iter()
            .filter(|(name, _)| name.starts_with("portico-"))
            .map(|(name, n)| format!("{name} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl PgProbe {
    pub async fn counters(&self) -> anyhow::Result<Counters> {
        let mut conn = sqlx::PgConnection::connect(&self.url)
            .await
            .context("connect to PostgreSQL")?;
        let (transactions, rows_written): (i64, i64) = sqlx::query_as(
            "SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted \
             FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&mut conn)
        .await
        .context("read pg_stat_database")?;
        Ok(Counters {
            transactions,
            rows_written,
        })
    }

    /// Samples the connections to the database every 200 ms until `stop`
    /// changes; the most seen at once, by application name.
    pub fn watch_connections(
        &self,
        mut stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<anyhow::Result<BTreeMap<String, i64>>> {
        let url = self.url.clone();
        tokio::spawn(async move {
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .context("connect to PostgreSQL")?;
            let mut most: BTreeMap<String, i64> = BTreeMap::new();
            loop {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT COALESCE(application_name, ''), count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND backend_type = 'client backend' \
                     GROUP BY 1",
                )
                .fetch_all(&mut conn)
                .await
                .context("read pg_stat_activity")?;
                for (name, n) in rows {
                    let seen = most.entry(name).or_default();
                    *seen = (*seen).max(n);
                }
                tokio::select! {
                    _ = stop.changed() => return Ok(most),
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        })
    }

    /// The database's load between `before` and now, over `seconds` and
    /// `sends` acknowledged sends. Call after [`STATS_SETTLE`].
    pub async fn load_since(
        &self,
        before: Counters,
        seconds: f64,
        sends: u64,
        connections: BTreeMap<String, i64>,
    ) -> anyhow::Result<DbLoad> {
        let after = self.counters().await?;
        let transactions = (after.transactions - before.transactions) as f64;
        let rows = (after.rows_written - before.rows_written) as f64;
        let sends = sends.max(1) as f64;
        Ok(DbLoad {
            transactions_per_s: transactions / seconds,
            rows_written_per_s: rows / seconds,
            transactions_per_send: transactions / sends,
            rows_written_per_send: rows / sends,
            connections,
        })
    }

    /// Messages stored, and what the messages table takes with its
    /// indexes and TOAST; the whole schema's size.
    pub async fn storage(&self) -> anyhow::Result<Storage> {
        let mut conn = sqlx::PgConnection::connect(&self.url)
            .await
            .context("connect to PostgreSQL")?;
        let (messages, message_bytes): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM messages), pg_total_relation_size('messages')",
        )
        .fetch_one(&mut conn)
        .await
        .context("size of messages")?;
        let (schema_bytes,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')",
        )
        .fetch_one(&mut conn)
        .await
        .context("size of the schema")?;
        Ok(Storage {
            messages,
            message_bytes,
            schema_bytes,
        })
    }
}

/// What the database holds after the fixture.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Storage {
    pub messages: i64,
    /// `messages` with its indexes and TOAST.
    pub message_bytes: i64,
    /// Every table of the schema with its indexes.
    pub schema_bytes: i64,
}
