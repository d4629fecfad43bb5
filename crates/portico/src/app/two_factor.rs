//! Two-factor sign-in for staff (A5): enrolment with a QR code, recovery
//! codes, and the practice setting that makes it required.

use super::policy;
use super::sessions::{ClientInfo, Identity, Started};
use super::spans::person;
use super::{App, AppError, AppResult};
use crate::domain::{Millis, hash_secret};
use crate::store::{AuditKind, SessionStage};
use base64::Engine;
use totp_rs::{Builder, Secret, Totp};
use tracing::instrument;

/// How many recovery codes a staff user gets.
pub const RECOVERY_CODES: usize = 10;

/// What the enrolment page shows.
#[derive(Clone)]
pub struct Enrolment {
    /// Base32, for typing into an app by hand.
    pub secret: String,
    /// A PNG of the otpauth:// address, base64.
    pub qr_png_base64: String,
}

fn totp(secret_base32: &str, account: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_base32).ok()?;
    Builder::new()
        .with_secret(secret)
        .with_skew(1)
        .with_account_name(account.replace(':', ""))
        .with_issuer(Some("Portico"))
        .build()
        .ok()
}

/// The time step of a valid code for `secret` at `now`, or `None`.
pub(super) fn check_code(
    secret_base32: &str,
    account: &str,
    code: &str,
    now: Millis,
) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret_base32, account)?;
    let seconds = u64::try_from(now.0 / 1000).ok()?;
    totp.check(&code, seconds)
        .and_then(|step| i64::try_from(step).ok())
}

/// A recovery code as typed (any case, with or without the dash), or
/// `None` when the text is not shaped like one.
pub(super) fn normalise_recovery_code(code: &str) -> Option<String> {
    let compact: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (compact.len() == 10).then(|| format!("{}-{}", &compact[..5], &compact[5..]))
}

fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes: [u8; 10] = rand::random();
    let chars: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// The code an authenticator app shows at `now` (for tests and demos).
pub fn current_code(secret_base32: &str, now: Millis) -> Option<String> {
    let totp = totp(secret_base32, "x")?;
    Some(totp.generate(u64::try_from(now.0 / 1000).ok()?).to_string())
}

impl App {
    /// Starts (or shows again) the set-up of an authenticator app.
    #[instrument(skip_all, fields(practice = %identity.practice.id, by = %person(identity)))]
    pub async fn begin_two_factor(&self, identity: &Identity) -> AppResult<Enrolment> {
        let staff = identity.staff().ok_or(AppError::Forbidden)?;
        let current = self.totp_secrets(staff.practice_id, staff.id).await?;
        let secret = match current.pending_secret {
            Some(secret) => secret,
            None => {
                let bytes: [u8; 20] = rand::random();
                let secret = Secret::from(bytes.to_vec()).to_base32();
                let sealed = self.seal_totp(staff.practice_id, staff.id, &secret);
                self.store
                    .set_totp_pending(staff.practice_id, staff.id, &sealed)
                    .await?;
                secret
            }
        };
        let totp = totp(&secret, &staff.email).ok_or_else(|| {
            AppError::Internal("could not prepare the authenticator set-up".into())
        })?;
        let qr_png_base64 = totp
            .to_qr_png()
            .map(|png| base64::engine::general_purpose::STANDARD.encode(png))
            .map_err(|e| AppError::internal("could not draw the QR code", e))?;
        Ok(Enrolment {
            secret,
            qr_png_base64,
        })
    }

    /// Confirms the set-up with a code from the app. Returns the recovery
    /// codes (shown once) and, for a session that had to enrol before going
    /// on, the new signed-in session.
    #[instrument(skip_all, fields(practice = %identity.practice.id, by = %person(identity)))]
    pub async fn confirm_two_factor(
        &self,
        identity: &Identity,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<(Vec<String>, Option<Started>)> {
        let staff = identity.staff().ok_or(AppError::Forbidden)?;
        if !matches!(
            identity.session.stage,
            SessionStage::Active | SessionStage::Enrol
        ) {
            return Err(AppError::Forbidden);
        }
        let scope = format!("code:{}", staff.id);
        self.check_throttle(&scope, super::throttle::CODE_PER_ACCOUNT)
            .await?;
        let current = self.totp_secrets(staff.practice_id, staff.id).await?;
        let pending = current.pending_secret.ok_or_else(|| {
            AppError::Denied("Start the set-up again: scan the new QR code.".into())
        })?;
        let Some(step) = check_code(&pending, &staff.email, code, self.clock.now()) else {
            self.record_attempt(&scope).await?;
            return Err(AppError::Denied(super::sign_in::WRONG_CODE.into()));
        };
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        let hashes: Vec<String> = codes.iter().map(|c| hash_secret(c)).collect();
        let entry = self
            .audit_entry(staff.practice_id, staff, AuditKind::TwoFactorOn, client)
            .on("staff", staff.id);
        self.store
            .enable_totp(staff.practice_id, staff.id, step, &hashes, &entry)
            .await?;
        let started = if identity.session.stage == SessionStage::Enrol {
            Some(self.activate_staff_session(identity, client).await?)
        } else {
            None
        };
        Ok((codes, started))
    }

    /// Turns two-factor sign-in off, unless the practice requires it.
    #[instrument(skip_all, fields(practice = %identity.practice.id, by = %person(identity)))]
    pub async fn disable_two_factor(
        &self,
        identity: &Identity,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let staff = identity.staff().ok_or(AppError::Forbidden)?;
        if identity.practice.require_totp {
            return Err(AppError::Denied(
                "Your practice requires two-factor sign-in, so it cannot be turned off.".into(),
            ));
        }
        let entry = self
            .audit_entry(staff.practice_id, staff, AuditKind::TwoFactorOff, client)
            .on("staff", staff.id);
        self.store
            .disable_totp(staff.practice_id, staff.id, &entry)
            .await?;
        Ok(())
    }

    /// A5's practice setting; admins only.
    #[instrument(skip_all, fields(practice = %identity.practice.id, by = %person(identity)))]
    pub async fn set_require_two_factor(
        &self,
        identity: &Identity,
        on: bool,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let staff = identity.staff().ok_or(AppError::Forbidden)?;
        if !policy::staff_may_manage_practice(staff, identity.practice.id) {
            return Err(AppError::Forbidden);
        }
        let entry = self
            .audit_entry(
                identity.practice.id,
                staff,
                AuditKind::SettingsChanged,
                client,
            )
            .on("practice", identity.practice.id)
            .detail(if on {
                "two-factor sign-in required"
            } else {
                "two-factor sign-in not required"
            });
        self.store
            .set_require_totp(identity.practice.id, on, &entry)
            .await?;
        Ok(())
    }

    #[instrument(skip_all, fields(practice = %identity.practice.id, by = %person(identity)))]
    pub async fn recovery_codes_left(&self, identity: &Identity) -> AppResult<i64> {
        let staff = identity.staff().ok_or(AppError::Forbidden)?;
        Ok(self
            .store
            .recovery_codes_left(staff.practice_id, staff.id)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_check_against_their_secret_and_time() {
        let secret = Secret::from(vec![7u8; 20]).to_base32();
        let now = Millis(1_800_000_000_000);
        let code = current_code(&secret, now).unwrap();
        assert!(check_code(&secret, "a@b.example", &code, now).is_some());
        // One step either side is accepted (clock skew), five minutes is not.
        assert!(check_code(&secret, "a@b.example", &code, Millis(now.0 + 30_000)).is_some());
        assert!(check_code(&secret, "a@b.example", &code, Millis(now.0 + 300_000)).is_none());
        assert!(check_code(&secret, "a@b.example", "12345", now).is_none());
        assert!(check_code(&secret, "a@b.example", "abcdef", now).is_none());
    }

    #[test]
    fn recovery_codes_are_read_forgivingly() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(
            normalise_recovery_code(&code.to_uppercase()),
            Some(code.clone())
        );
        assert_eq!(normalise_recovery_code(&code.replace('-', " ")), Some(code));
        assert_eq!(normalise_recovery_code("123456"), None);
    }
}
