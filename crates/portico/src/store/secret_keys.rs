//! Secrets at rest: the id of the key that seals them, and the stored
//! secrets themselves for sealing on start and for a key rotation. The
//! store never sees a key; sealing is done above it.

use super::{Store, StoreError, StoreResult, parse_id};
use crate::domain::{Millis, PracticeId, StaffId};

/// Which stored secret of a staff user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretColumn {
    Totp,
    TotpPending,
}

impl SecretColumn {
    /// Replaces the value if it is still `$3`.
    fn replace_sql(self) -> &'static str {
        match self {
            SecretColumn::Totp => {
                "UPDATE staff_users SET totp_secret = $4 \
                 WHERE practice_id = $1 AND id = $2 AND totp_secret = $3"
            }
            SecretColumn::TotpPending => {
                "UPDATE staff_users SET totp_pending_secret = $4 \
                 WHERE practice_id = $1 AND id = $2 AND totp_pending_secret = $3"
            }
        }
    }
}

/// One stored secret, as it is in the database (sealed, or clear when it
/// was stored before secrets were encrypted).
#[derive(Clone, Debug)]
pub struct StoredSecret {
    pub practice_id: PracticeId,
    pub staff_id: StaffId,
    pub column: SecretColumn,
    pub value: String,
}

type SecretRow = (String, String, Option<String>, Option<String>);

fn secrets_of(rows: Vec<SecretRow>) -> StoreResult<Vec<StoredSecret>> {
    let mut secrets = Vec::new();
    for (practice, staff, secret, pending) in rows {
        let practice_id: PracticeId = parse_id(&practice)?;
        let staff_id: StaffId = parse_id(&staff)?;
        for (column, value) in [
            (SecretColumn::Totp, secret),
            (SecretColumn::TotpPending, pending),
        ] {
            if let Some(value) = value {
                secrets.push(StoredSecret {
                    practice_id,
                    staff_id,
                    column,
                    value,
                });
            }
        }
    }
    Ok(secrets)
}

const SECRETS_SQL: &str = "SELECT practice_id, id, totp_secret, totp_pending_secret FROM staff_users \
     WHERE totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL";

impl Store {
    /// Records `key_id` as the sealing key unless one is recorded already;
    /// returns the recorded one.
    pub async fn claim_secret_key(&self, key_id: &str, now: Millis) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO secret_keys (slot, key_id, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (slot) DO NOTHING",
        )
        .bind(key_id)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        let (recorded,): (String,) =
            sqlx::query_as("SELECT key_id FROM secret_keys WHERE slot = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(recorded)
    }

    /// Every stored secret of every practice (a handful per staff user).
    pub async fn stored_secrets(&self) -> StoreResult<Vec<StoredSecret>> {
        let rows: Vec<SecretRow> = sqlx::query_as(SECRETS_SQL).fetch_all(&self.pool).await?;
        secrets_of(rows)
    }

    /// Replaces a stored secret if it is still what was read (another
    /// instance may have replaced it meanwhile); whether it was replaced.
    pub async fn replace_stored_secret(
        &self,
        secret: &StoredSecret,
        value: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(secret.column.replace_sql())
            .bind(secret.practice_id)
            .bind(secret.staff_id)
            .bind(&secret.value)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A key rotation, in one transaction: every stored secret is replaced
    /// by `reseal` of it and the recorded key id becomes `new_key_id`. The
    /// recorded key must be one of `accepted` (the old key, or the new one
    /// when a rotation is run again). Returns how many were replaced.
    pub async fn reseal_secrets(
        &self,
        accepted: &[&str],
        new_key_id: &str,
        now: Millis,
        reseal: impl Fn(&StoredSecret) -> StoreResult<String>,
        reseal_sso: impl Fn(PracticeId, &str) -> StoreResult<String>,
    ) -> StoreResult<usize> {
        let mut tx = self.begin().await?;
        let recorded: Option<(String,)> =
            sqlx::query_as("SELECT key_id FROM secret_keys WHERE slot = 1")
                .fetch_optional(&mut *tx.tx)
                .await?;
        if let Some((recorded,)) = &recorded
            && !accepted.contains(&recorded.as_str())
        {
            return Err(StoreError::Conflict(format!(
                "the database's secrets are sealed under the key {recorded}, which is not the current key"
            )));
        }
        let rows: Vec<SecretRow> = sqlx::query_as(SECRETS_SQL).fetch_all(&mut *tx.tx).await?;
        let secrets = secrets_of(rows)?;
        for secret in &secrets {
            let value = reseal(secret)?;
            sqlx::query(secret.column.replace_sql())
                .bind(secret.practice_id)
                .bind(secret.staff_id)
                .bind(&secret.value)
                .bind(value)
                .execute(&mut *tx.tx)
                .await?;
        }
        // X13: the practices' single sign-on client secrets.
        let sso: Vec<(String, String)> =
            sqlx::query_as("SELECT practice_id, client_secret FROM practice_sso")
                .fetch_all(&mut *tx.tx)
                .await?;
        for (practice, value) in &sso {
            let resealed = reseal_sso(parse_id(practice)?, value)?;
            sqlx::query("UPDATE practice_sso SET client_secret = $2 WHERE practice_id = $1")
                .bind(practice)
                .bind(resealed)
                .execute(&mut *tx.tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO secret_keys (slot, key_id, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (slot) DO UPDATE SET key_id = excluded.key_id, created_at = excluded.created_at",
        )
        .bind(new_key_id)
        .bind(now.0)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(secrets.len() + sso.len())
    }
}
