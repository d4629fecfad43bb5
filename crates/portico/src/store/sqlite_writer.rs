//! SQLite's message writer (M1, M2): a connection of its own, on a thread
//! of its own, that writes the group commit's batches.
//!
//! sqlx runs each SQLite connection on a thread and hands every statement
//! to it and back, two thread switches a statement; a batch is a dozen
//! statements, so a lone send paid two dozen switches before its commit.
//! Here a batch is one job: the writer's thread runs all its statements
//! (prepared once, from the connection's statement cache) and its commit,
//! and answers once. The connection is opened like the pool's (WAL,
//! `synchronous = FULL`, foreign keys, the same busy timeout) and takes
//! SQLite's write lock like any other writer, so the pool's writes and
//! the writer's queue behind each other as before. Decision 0013.

use super::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::{Mutex, mpsc};
use tokio::sync::oneshot;

/// How many prepared statements the writer keeps.
const STATEMENT_CACHE: usize = 64;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The writer's thread; closed with [`SqliteWriter::close`] or when the
/// last handle is dropped.
#[derive(Debug)]
pub(super) struct SqliteWriter {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl SqliteWriter {
    /// Opens a connection to the database file at `path` (which must
    /// exist) and starts its thread.
    pub(super) fn open(path: &Path) -> StoreResult<Self> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.execute_batch(
            "PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = FULL; \
             PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 5000;",
        )?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut connection = connection;
                for job in queue {
                    // A job that panics fails its own batch (its answer is
                    // dropped), not the writer.
                    let run = std::panic::AssertUnwindSafe(|| job(&mut connection));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::error!("the SQLite message writer's job panicked");
                    }
                }
            })
            .map_err(|error| StoreError::BatchFailed(error.to_string()))?;
        Ok(Self {
            jobs: Mutex::new(Some(jobs)),
        })
    }

    /// Runs `job` on the writer's connection and returns what it returns.
    pub(super) async fn run<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> T + Send + 'static,
    {
        let stopped = || StoreError::BatchFailed("the message writer has stopped".into());
        let (answer, answered) = oneshot::channel();
        let jobs = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or_else(stopped)?;
        jobs.send(Box::new(move |connection: &mut Connection| {
            let _ = answer.send(job(connection));
        }))
        .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())
    }

    /// Closes the connection once the jobs already queued are done; later
    /// jobs are refused.
    pub(super) fn close(&self) {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}
