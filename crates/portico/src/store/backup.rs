//! What a backup (X14) needs of the store: a consistent copy of a running
//! SQLite database, and the files its rows name.

use super::{Backend, Store, StoreError, StoreResult};

impl Store {
    /// Writes a consistent copy of the whole database into `path` (which
    /// must not exist) while the server keeps running: SQLite's `VACUUM
    /// INTO` reads one snapshot, so writers go on and the copy holds every
    /// transaction committed before it began and nothing after. PostgreSQL
    /// is backed up with its own tools (`pg_dump`).
    pub async fn copy_into(&self, path: &std::path::Path) -> StoreResult<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::UnsupportedUrl(
                "a copy of the database is made this way on SQLite only".into(),
            ));
        }
        let path = path.to_str().ok_or_else(|| {
            StoreError::Conflict(format!("{} is not a usable path", path.display()))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The storage key of every file the database names.
    pub async fn storage_keys(&self) -> StoreResult<Vec<String>> {
        let keys: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT storage_key FROM files ORDER BY storage_key")
                .fetch_all(&self.pool)
                .await?;
        Ok(keys.into_iter().map(|(k,)| k).collect())
    }

    /// Forgets the rows of files whose bytes are gone (used on a backup's
    /// copy, never on the live database).
    pub async fn forget_files(&self, keys: &[String]) -> StoreResult<()> {
        for key in keys {
            sqlx::query("DELETE FROM files WHERE storage_key = $1")
                .bind(key)
                .execute(&self.pool)
                .await?;
        }
        // Everything in the copy's main file before it is archived.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
