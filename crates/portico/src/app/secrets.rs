//! Secrets at rest: two-factor secrets are stored sealed under the server's
//! key (see [`crate::keys`]); on start, secrets stored in clear by an older
//! Portico are sealed; `portico admin rotate-key` reseals them all.

use super::{App, AppError, AppResult};
use crate::domain::{PracticeId, StaffId};
use crate::keys::{KeyError, Keyring, SecretKey};
use crate::store::StoreError;

/// What a staff user's two-factor secret is sealed for: a sealed secret
/// copied to another row does not open there.
pub(super) fn totp_context(practice: PracticeId, staff: StaffId) -> String {
    format!("totp:{practice}:{staff}")
}

fn unreadable(error: KeyError) -> AppError {
    AppError::Store(StoreError::Corrupt(error.to_string()))
}

/// The sentence for a server whose key is not the database's.
fn wrong_key(recorded: &str, current: &str) -> String {
    format!(
        "the secrets in this database are sealed under the key {recorded}, but this server's key is \
         {current}: give every instance the same secret_key (PORTICO_SECRET_KEY), or the key file \
         secret.key of the instance that started first"
    )
}

impl App {
    /// Seals a two-factor secret for storing.
    pub(super) fn seal_totp(&self, practice: PracticeId, staff: StaffId, secret: &str) -> String {
        self.keys.seal(secret, &totp_context(practice, staff))
    }

    /// A stored two-factor secret in clear.
    pub(super) fn open_totp(
        &self,
        practice: PracticeId,
        staff: StaffId,
        stored: &str,
    ) -> AppResult<String> {
        self.keys
            .open(stored, &totp_context(practice, staff))
            .map_err(unreadable)
    }

    /// A staff user's two-factor secrets, in clear.
    pub(super) async fn totp_secrets(
        &self,
        practice: PracticeId,
        staff: StaffId,
    ) -> AppResult<crate::store::StaffTotp> {
        let stored = self.store.staff_totp(practice, staff).await?;
        let open = |value: Option<String>| {
            value
                .map(|v| self.open_totp(practice, staff, &v))
                .transpose()
        };
        Ok(crate::store::StaffTotp {
            secret: open(stored.secret)?,
            pending_secret: open(stored.pending_secret)?,
        })
    }

    /// On start: checks that this server's key is the one the database's
    /// secrets are sealed under (recording it on a fresh database), then
    /// seals any secret still stored in clear. Returns how many were sealed.
    pub async fn prepare_secrets(&self) -> AppResult<usize> {
        let current = self.keys.current_id().to_owned();
        let recorded = self
            .store
            .claim_secret_key(&current, self.clock.now())
            .await?;
        if recorded != current {
            return Err(AppError::conflict(wrong_key(&recorded, &current)));
        }
        let mut sealed = 0;
        for secret in self.store.stored_secrets().await? {
            if Keyring::is_sealed(&secret.value) {
                if !self.keys.is_current(&secret.value) {
                    let id = Keyring::key_id_of(&secret.value).unwrap_or("?");
                    return Err(AppError::conflict(wrong_key(id, &current)));
                }
                continue;
            }
            let value = self.keys.seal(
                &secret.value,
                &totp_context(secret.practice_id, secret.staff_id),
            );
            if self.store.replace_stored_secret(&secret, &value).await? {
                sealed += 1;
            }
        }
        if sealed > 0 {
            tracing::info!(sealed, "sealed two-factor secrets stored in clear");
        }
        Ok(sealed)
    }

    /// `portico admin rotate-key`: every stored secret is resealed under
    /// `new` in one transaction; until it commits, everything stays sealed
    /// under `old`. Run again after an interruption, it finishes the job.
    pub async fn rotate_secret_key(&self, old: &SecretKey, new: &SecretKey) -> AppResult<usize> {
        let ring = Keyring::rotating(old, new);
        let old_id = old.id();
        let new_id = new.id();
        let resealed = self
            .store
            .reseal_secrets(
                &[&old_id, &new_id],
                &new_id,
                self.clock.now(),
                |secret| {
                    let context = totp_context(secret.practice_id, secret.staff_id);
                    let clear = if Keyring::is_sealed(&secret.value) {
                        ring.open(&secret.value, &context)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?
                    } else {
                        secret.value.clone()
                    };
                    Ok(ring.seal(&clear, &context))
                },
                |practice, sealed| {
                    let context = Self::sso_context(practice);
                    let clear = ring
                        .open(sealed, &context)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    Ok(ring.seal(&clear, &context))
                },
            )
            .await?;
        Ok(resealed)
    }
}
