//! Removes the stored bytes of deleted files (M6, M10): the deletion queued
//! them in its transaction; this worker removes them after commit, and
//! retries with back-off when the file store fails (the outbox pattern).

use crate::delivery::worker::retry_delay;
use crate::domain::{Clock, Millis};
use crate::files::FileStore;
use crate::store::{Store, StoreResult};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long a claim lasts: a worker that died mid-removal leaves its jobs to
/// be claimed again after this.
const LEASE_MS: i64 = 120_000;
/// How often the worker looks for due jobs when nobody wakes it.
const POLL: Duration = Duration::from_secs(30);
/// The longest wait between two attempts: bytes are never given up on.
const LONGEST_WAIT: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug)]
pub struct FileSweeper {
    store: Store,
    files: FileStore,
    clock: Clock,
    wake: Arc<Notify>,
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub removed: usize,
    pub failed: usize,
}

impl FileSweeper {
    pub fn new(store: Store, files: FileStore, clock: Clock, wake: Arc<Notify>) -> Self {
        Self {
            store,
            files,
            clock,
            wake,
        }
    }

    /// Removes every file due now; a failure is retried later.
    pub async fn run_once(&self) -> StoreResult<Swept> {
        let mut swept = Swept::default();
        loop {
            let now = self.clock.now();
            let batch = self
                .store
                .claim_due_file_deletions(now, LEASE_MS, 50)
                .await?;
            if batch.is_empty() {
                return Ok(swept);
            }
            for job in batch {
                match self.files.delete(&job.storage_key).await {
                    Ok(()) => {
                        self.store.file_deletion_done(&job.id).await?;
                        swept.removed += 1;
                    }
                    Err(error) => {
                        let failed = job.attempts + 1;
                        let wait = retry_delay(failed).unwrap_or(LONGEST_WAIT);
                        let retry_at = Millis(
                            self.clock.now().0
                                + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
                        );
                        tracing::warn!(file = %job.id, attempt = failed, %error, "could not remove a deleted file's bytes; will retry");
                        self.store
                            .file_deletion_failed(&job.id, &error.to_string(), retry_at)
                            .await?;
                        swept.failed += 1;
                    }
                }
            }
        }
    }

    /// Runs until the task is dropped: removes whenever woken (a deletion
    /// committed) or every little while (retries, other instances' jobs).
    pub async fn run(self) {
        loop {
            if let Err(error) = self.run_once().await {
                tracing::error!(%error, "the file sweeper could not read its queue");
            }
            tokio::select! {
                () = self.wake.notified() => {},
                () = tokio::time::sleep(POLL) => {},
            }
        }
    }
}
