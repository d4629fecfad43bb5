//! Staff sign-in (A1) and its second factor (A5).

use super::sessions::{ClientInfo, Identity, STAFF_ABSOLUTE_MS, Started};
use super::spans::person;
use super::throttle::{CODE_PER_ACCOUNT, SIGN_IN_PER_ACCOUNT, SIGN_IN_PER_IP};
use super::two_factor::{check_code, normalise_recovery_code};
use super::{App, AppError, AppResult, password};
use crate::domain::{EmailAddress, Millis, Role, hash_secret, issue_secret};
use crate::store::{AuditActor, AuditKind, SessionStage, SessionSubject};
use secrecy::SecretString;
use tokio::sync::OnceCell;
use tracing::instrument;

pub const WRONG_PASSWORD: &str =
    "That e-mail address and password do not match. Check them and try again.";
/// The refusal of a password where single sign-on is required.
pub fn sso_required(provider: &str) -> String {
    format!(
        "Your practice signs in with {provider}: use “Sign in with {provider}” on the sign-in page instead of a password."
    )
}

pub const WRONG_CODE: &str = "That code is not right. Check your authenticator app and try again.";

/// A real argon2id hash of nothing in particular, so that an unknown
/// e-mail address costs as much time as a wrong password.
static DECOY_HASH: OnceCell<String> = OnceCell::const_new();

pub(super) async fn decoy_hash() -> String {
    DECOY_HASH
        .get_or_init(|| async {
            password::hash_password(SecretString::from("decoy password, never used"))
                .await
                .unwrap_or_default()
        })
        .await
        .clone()
}

impl App {
    /// Checks a staff user's e-mail and password. The session it starts is
    /// fully signed in, or owes a second factor, or must set one up first.
    #[instrument(skip_all)]
    pub async fn staff_sign_in(
        &self,
        email: &str,
        password_given: SecretString,
        client: &ClientInfo,
    ) -> AppResult<Started> {
        let ip_scope = format!("sign-in-ip:{}", client.ip);
        self.check_throttle(&ip_scope, SIGN_IN_PER_IP).await?;
        let email = EmailAddress::parse(email)?;
        let account_scope = format!("sign-in:{email}");
        self.check_throttle(&account_scope, SIGN_IN_PER_ACCOUNT)
            .await?;

        let found = self.store.find_staff_for_sign_in(&email).await?;
        let practice_tried = found.as_ref().map(|(staff, _)| staff.practice_id);
        let staff = match found {
            Some((staff, Some(hash))) if staff.active => {
                password::verify_password(password_given, hash)
                    .await
                    .then_some(staff)
            }
            _ => {
                password::verify_password(password_given, decoy_hash().await).await;
                None
            }
        };
        let Some(staff) = staff else {
            self.record_attempt(&account_scope).await?;
            self.record_attempt(&ip_scope).await?;
            // X2: recorded in the practice whose address was tried (an
            // address no practice knows belongs to no practice's log).
            if let Some(practice) = practice_tried {
                let entry = self
                    .audit_entry(
                        practice,
                        AuditActor::Address(email.to_string()),
                        AuditKind::SignInFailed,
                        client,
                    )
                    .detail("wrong password");
                self.store.audit(&entry).await?;
            }
            return Err(AppError::Denied(WRONG_PASSWORD.into()));
        };
        self.store.clear_attempts(&account_scope).await?;
        let practice = self.store.get_practice(staff.practice_id).await?;
        // X13: a practice that requires single sign-on refuses passwords,
        // except an admin's with their second factor (break-glass).
        if let Some(sso) = self.sso_of(practice.id).await?
            && sso.require_sso
        {
            let entry = self.audit_entry(
                practice.id,
                AuditActor::Address(email.to_string()),
                AuditKind::SignInFailed,
                client,
            );
            if staff.role != Role::Admin || !staff.totp_enabled {
                let entry = entry.detail("password refused: the practice requires single sign-on");
                self.store.audit(&entry).await?;
                return Err(AppError::Denied(sso_required(&sso.display_name)));
            }
            let entry = self
                .audit_entry(practice.id, &staff, AuditKind::BreakGlass, client)
                .on("staff", staff.id)
                .detail("password accepted while single sign-on is required; second factor next");
            self.store.audit(&entry).await?;
        }
        let stage = if staff.totp_enabled {
            SessionStage::Totp
        } else if practice.require_totp {
            SessionStage::Enrol
        } else {
            SessionStage::Active
        };
        self.start_session(&practice, SessionSubject::Staff(staff.id), stage, client)
            .await
    }

    /// The second step of a staff sign-in: a code from the authenticator
    /// app, or one of the recovery codes. On success the session gets a new
    /// secret, so the half-signed-in one is worthless.
    #[instrument(skip_all, fields(practice = %identity.practice.id, by = %person(identity)))]
    pub async fn complete_two_factor(
        &self,
        identity: &Identity,
        code: &str,
        client: &ClientInfo,
    ) -> AppResult<Started> {
        let staff = identity.staff().ok_or(AppError::Forbidden)?;
        if identity.session.stage != SessionStage::Totp {
            return Err(AppError::Forbidden);
        }
        let scope = format!("code:{}", staff.id);
        let ip_scope = format!("sign-in-ip:{}", client.ip);
        self.check_throttle(&scope, CODE_PER_ACCOUNT).await?;
        self.check_throttle(&ip_scope, SIGN_IN_PER_IP).await?;
        let now = self.clock.now();
        let totp = self.totp_secrets(staff.practice_id, staff.id).await?;
        let accepted = match (totp.secret, normalise_recovery_code(code)) {
            (_, Some(recovery)) => {
                self.store
                    .use_recovery_code(staff.practice_id, staff.id, &hash_secret(&recovery), now)
                    .await?
            }
            (Some(secret), None) => match check_code(&secret, &staff.email, code, now) {
                Some(step) => {
                    self.store
                        .use_totp_step(staff.practice_id, staff.id, step)
                        .await?
                }
                None => false,
            },
            (None, None) => false,
        };
        if !accepted {
            self.record_attempt(&scope).await?;
            self.record_attempt(&ip_scope).await?;
            let entry = self
                .audit_entry(
                    staff.practice_id,
                    AuditActor::Address(staff.email.to_string()),
                    AuditKind::SignInFailed,
                    client,
                )
                .detail("wrong second-factor code");
            self.store.audit(&entry).await?;
            return Err(AppError::Denied(WRONG_CODE.into()));
        }
        self.store.clear_attempts(&scope).await?;
        self.activate_staff_session(identity, client).await
    }

    /// Replaces a half-signed-in staff session by a signed-in one with a new
    /// secret.
    pub(super) async fn activate_staff_session(
        &self,
        identity: &Identity,
        client: &ClientInfo,
    ) -> AppResult<Started> {
        let staff = identity.staff().ok_or(AppError::Forbidden)?;
        let now = self.clock.now();
        let issued = issue_secret();
        self.store
            .rotate_session(
                &identity.session.id_hash,
                &issued.hash,
                SessionStage::Active,
                now,
                Millis(now.0 + STAFF_ABSOLUTE_MS),
            )
            .await?;
        let entry = self
            .audit_entry(staff.practice_id, staff, AuditKind::SignedIn, client)
            .on("staff", staff.id)
            .detail("with a second factor");
        self.store
            .record_staff_sign_in(staff.practice_id, staff.id, now, &entry)
            .await?;
        Ok(Started {
            secret: issued.secret,
            stage: SessionStage::Active,
        })
    }
}
