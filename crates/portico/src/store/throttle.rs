//! Counting attempts for throttling (A6): sign-in failures and link
//! requests, per account and per address, shared by every instance.

use super::{Store, StoreResult};
use crate::domain::Millis;

impl Store {
    pub async fn record_attempt(&self, scope: &str, now: Millis) -> StoreResult<()> {
        sqlx::query("INSERT INTO throttle_events (scope, at) VALUES ($1, $2)")
            .bind(scope)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// How many attempts `scope` made since `since`, and when the oldest of
    /// them was.
    pub async fn attempts_since(
        &self,
        scope: &str,
        since: Millis,
    ) -> StoreResult<(i64, Option<Millis>)> {
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM throttle_events WHERE scope = $1 AND at >= $2",
        )
        .bind(scope)
        .bind(since.0)
        .fetch_one(&self.pool)
        .await?;
        Ok((count, oldest.map(Millis)))
    }

    /// Forgets the attempts of `scope` (after a successful sign-in).
    pub async fn clear_attempts(&self, scope: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM throttle_events WHERE scope = $1")
            .bind(scope)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Drops attempts older than any window looks back.
    pub async fn prune_attempts(&self, before: Millis) -> StoreResult<()> {
        sqlx::query("DELETE FROM throttle_events WHERE at < $1")
            .bind(before.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
