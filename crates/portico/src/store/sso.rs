//! X13: a practice's single sign-on settings, and the sign-ins sent to its
//! provider that have not come back yet.

use super::{NewAudit, Store, StoreError, StoreResult, flag, parse_id};
use crate::domain::{Millis, PracticeId};

/// A practice's OpenID Connect provider, as stored (the client secret
/// sealed; the application opens it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoSettings {
    pub practice_id: PracticeId,
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret_sealed: String,
    pub display_name: String,
    /// Password sign-in is refused for the practice's staff (admins keep a
    /// break-glass path with their second factor).
    pub require_sso: bool,
    /// The provider's sign-in meets the practice's two-factor requirement.
    pub counts_as_two_factor: bool,
    pub updated_at: Millis,
}

/// A sign-in sent to the provider: what the callback checks against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingSsoLogin {
    pub practice_id: PracticeId,
    pub nonce: String,
    pub pkce_verifier: String,
    pub expires_at: Millis,
}

type SettingsRow = (String, String, String, String, String, i64, i64, i64);

fn settings_of(row: SettingsRow) -> StoreResult<SsoSettings> {
    let (practice, issuer_url, client_id, secret, display_name, require, counts, updated) = row;
    Ok(SsoSettings {
        practice_id: parse_id(&practice)?,
        issuer_url,
        client_id,
        client_secret_sealed: secret,
        display_name,
        require_sso: require != 0,
        counts_as_two_factor: counts != 0,
        updated_at: Millis(updated),
    })
}

impl Store {
    /// The practice's single sign-on settings, if it has any.
    pub async fn sso_settings(&self, practice: PracticeId) -> StoreResult<Option<SsoSettings>> {
        let row: Option<SettingsRow> = sqlx::query_as(
            "SELECT practice_id, issuer_url, client_id, client_secret, display_name, \
             require_sso, counts_as_two_factor, updated_at FROM practice_sso WHERE practice_id = $1",
        )
        .bind(practice)
        .fetch_optional(&self.pool)
        .await?;
        row.map(settings_of).transpose()
    }

    /// Stores the practice's settings (replacing any), with its audit entry.
    pub async fn save_sso_settings(
        &self,
        settings: &SsoSettings,
        entry: &NewAudit,
    ) -> StoreResult<()> {
        self.execute_audited(
            sqlx::query(
                "INSERT INTO practice_sso (practice_id, issuer_url, client_id, client_secret, \
                 display_name, require_sso, counts_as_two_factor, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (practice_id) DO UPDATE SET issuer_url = excluded.issuer_url, \
                 client_id = excluded.client_id, client_secret = excluded.client_secret, \
                 display_name = excluded.display_name, require_sso = excluded.require_sso, \
                 counts_as_two_factor = excluded.counts_as_two_factor, \
                 updated_at = excluded.updated_at",
            )
            .bind(settings.practice_id)
            .bind(&settings.issuer_url)
            .bind(&settings.client_id)
            .bind(&settings.client_secret_sealed)
            .bind(&settings.display_name)
            .bind(flag(settings.require_sso))
            .bind(flag(settings.counts_as_two_factor))
            .bind(settings.updated_at.0),
            entry,
        )
        .await?;
        Ok(())
    }

    /// Turns single sign-on off for the practice.
    pub async fn remove_sso_settings(
        &self,
        practice: PracticeId,
        entry: &NewAudit,
    ) -> StoreResult<()> {
        self.execute_audited(
            sqlx::query("DELETE FROM practice_sso WHERE practice_id = $1").bind(practice),
            entry,
        )
        .await?;
        Ok(())
    }

    /// Records a sign-in sent to the provider; expired ones are dropped.
    pub async fn add_sso_login(
        &self,
        state_hash: &str,
        login: &PendingSsoLogin,
        now: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM sso_logins WHERE expires_at < $1")
            .bind(now.0)
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query(
            "INSERT INTO sso_logins (state_hash, practice_id, nonce, pkce_verifier, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(state_hash)
        .bind(login.practice_id)
        .bind(&login.nonce)
        .bind(&login.pkce_verifier)
        .bind(now.0)
        .bind(login.expires_at.0)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// Takes (once: the row is deleted) the sign-in whose state hashes to
    /// `state_hash`.
    pub async fn take_sso_login(&self, state_hash: &str) -> StoreResult<PendingSsoLogin> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "DELETE FROM sso_logins WHERE state_hash = $1 \
             RETURNING practice_id, nonce, pkce_verifier, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        let (practice, nonce, pkce_verifier, expires_at) = row.ok_or(StoreError::NotFound)?;
        Ok(PendingSsoLogin {
            practice_id: parse_id(&practice)?,
            nonce,
            pkce_verifier,
            expires_at: Millis(expires_at),
        })
    }
}
