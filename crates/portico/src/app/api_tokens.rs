//! API tokens (X3): made under My account (or by an admin for a chosen team
//! member, the "integration user"), shown once and stored as their SHA-256,
//! with scopes per area, a required expiry, the time they were last used,
//! and revocation. A token acts as its team member with no more than its
//! scopes; it stops at once when that member, or whoever made it, is
//! deactivated.

use super::sessions::ClientInfo;
use super::spans::person;
use super::{App, AppError, AppResult, FieldCheck, policy};
use crate::domain::{Millis, StaffId, ValidationError, hash_secret};
use crate::store::{ApiToken, AuditKind, Practice, Staff};
use tracing::instrument;

/// What every token starts with, so a leaked one is recognised (by people
/// and by secret scanners).
pub const TOKEN_PREFIX: &str = "ptc_";
/// The expiries offered, in days.
pub const EXPIRY_DAYS: &[i64] = &[7, 30, 90, 365];
/// The longest name of a token.
pub const MAX_NAME_CHARS: usize = 100;
/// A token's last use is written at most this often (a busy integration
/// does not write on every request).
const TOUCH_EVERY_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 3_600_000;

/// The parts of Portico a scope covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    Clients,
    Contacts,
    Questions,
    Messages,
    Team,
}

impl Area {
    pub const ALL: [Area; 5] = [
        Area::Clients,
        Area::Contacts,
        Area::Questions,
        Area::Messages,
        Area::Team,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Area::Clients => "clients",
            Area::Contacts => "contacts",
            Area::Questions => "questions",
            Area::Messages => "messages",
            Area::Team => "team",
        }
    }

    /// Whether the API can change anything in the area (the team is read
    /// only).
    pub fn writable(self) -> bool {
        !matches!(self, Area::Team)
    }
}

/// Reading, or reading and changing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn code(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// One scope: `clients:read`, `messages:write`, …
pub fn scope_code(area: Area, access: Access) -> String {
    format!("{}:{}", area.code(), access.code())
}

/// Every scope a token can be given.
pub fn all_scopes() -> Vec<String> {
    Area::ALL
        .into_iter()
        .flat_map(|area| {
            let mut scopes = vec![scope_code(area, Access::Read)];
            if area.writable() {
                scopes.push(scope_code(area, Access::Write));
            }
            scopes
        })
        .collect()
}

/// Whether `scopes` (space separated, as stored) allow `access` to `area`;
/// write includes read.
pub fn scopes_allow(scopes: &str, area: Area, access: Access) -> bool {
    let wanted = [scope_code(area, access), scope_code(area, Access::Write)];
    scopes
        .split_whitespace()
        .any(|s| s == wanted[0] || (access == Access::Read && s == wanted[1]))
}

/// A new token as the form sends it.
#[derive(Clone, Debug, Default)]
pub struct NewTokenInput {
    pub name: String,
    pub scopes: Vec<String>,
    /// Days until it expires: one of [`EXPIRY_DAYS`].
    pub expires_in_days: String,
    /// The team member it acts as, when an admin makes it for someone else.
    pub acts_as: Option<StaffId>,
}

/// A token just made: `secret` is shown once and never again.
#[derive(Clone)]
pub struct MadeToken {
    pub token: ApiToken,
    pub secret: String,
}

impl std::fmt::Debug for MadeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MadeToken")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Who an API request acts as: the token and its team member, both
/// checked just now.
#[derive(Clone, Debug)]
pub struct ApiCaller {
    pub token: ApiToken,
    pub staff: Staff,
    pub practice: Practice,
}

impl ApiCaller {
    /// The token's scopes allow `access` to `area`, or "forbidden".
    pub fn require(&self, area: Area, access: Access) -> AppResult<()> {
        if scopes_allow(&self.token.scopes, area, access) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// A token's shape: the prefix and 43 characters of base64url.
fn looks_like_token(secret: &str) -> bool {
    secret.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

impl App {
    /// X3: a new token, acting as the actor, or (admins) as the team member
    /// they chose. The audit log records who made it, for whom, and its scopes.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn create_api_token(
        &self,
        actor: &Staff,
        input: &NewTokenInput,
        origin: &ClientInfo,
    ) -> AppResult<MadeToken> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        let acts_as = match input.acts_as {
            Some(id) if id != actor.id => {
                if !policy::staff_may_manage_practice(actor, actor.practice_id) {
                    return Err(AppError::Forbidden);
                }
                let member = self.store.get_staff(actor.practice_id, id).await?;
                if !member.active {
                    return Err(AppError::Invalid(
                        ValidationError::new(format!("{} is no longer on the team.", member.name))
                            .at("acts_as"),
                    ));
                }
                member
            }
            _ => actor.clone(),
        };
        let mut check = FieldCheck::new();
        let name = input.name.trim();
        if name.is_empty() {
            check.refuse(ValidationError::new("Name the token after what will use it.").at("name"));
        } else if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            check.refuse(
                ValidationError::new(format!(
                    "A token's name can be at most {MAX_NAME_CHARS} characters, on one line."
                ))
                .at("name"),
            );
        }
        let known = all_scopes();
        let mut scopes: Vec<String> = Vec::new();
        for scope in &input.scopes {
            if !known.contains(scope) {
                check.refuse(
                    ValidationError::new(format!("{scope:?} is not a scope.")).at("scopes"),
                );
            } else if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        if input.scopes.is_empty() {
            check.refuse(
                ValidationError::new("Choose at least one thing the token may do.").at("scopes"),
            );
        }
        let days = input.expires_in_days.trim().parse::<i64>().ok();
        let days = match days {
            Some(days) if EXPIRY_DAYS.contains(&days) => Some(days),
            _ => {
                check.refuse(
                    ValidationError::new("Choose when the token expires.").at("expires_in_days"),
                );
                None
            }
        };
        check.finish()?;
        let days = days.unwrap_or(EXPIRY_DAYS[0]);
        let issued = crate::domain::issue_secret();
        let secret = format!("{TOKEN_PREFIX}{}", issued.secret);
        let now = self.clock.now();
        let token = ApiToken {
            id: uuid::Uuid::now_v7(),
            practice_id: actor.practice_id,
            staff_id: acts_as.id,
            created_by: actor.id,
            name: name.to_owned(),
            shown_prefix: secret.chars().take(TOKEN_PREFIX.len() + 6).collect(),
            scopes: scopes.join(" "),
            created_at: now,
            expires_at: Millis(now.0 + days * DAY_MS),
            last_used_at: None,
            revoked_at: None,
        };
        let entry = self
            .audit_entry(actor.practice_id, actor, AuditKind::ApiTokenCreated, origin)
            .on("api_token", token.id)
            .detail(format!(
                "acts as staff:{}; {}; {days} days",
                acts_as.id, token.scopes
            ));
        self.store
            .insert_api_token(&token, &hash_secret(&secret), &entry)
            .await?;
        Ok(MadeToken { token, secret })
    }

    /// The tokens the actor made or that act as them; for an admin, every
    /// token of the practice.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn api_tokens(&self, actor: &Staff) -> AppResult<Vec<ApiToken>> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        if policy::staff_may_manage_practice(actor, actor.practice_id) {
            Ok(self.store.practice_api_tokens(actor.practice_id).await?)
        } else {
            Ok(self
                .store
                .api_tokens_of(actor.practice_id, actor.id)
                .await?)
        }
    }

    /// Revokes a token: its member, its maker, or an admin may. Another
    /// practice's token, or another member's for a member, is "not found".
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), api_token = %id
    ))]
    pub async fn revoke_api_token(
        &self,
        actor: &Staff,
        id: uuid::Uuid,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        let token = self.store.get_api_token(actor.practice_id, id).await?;
        let mine = token.staff_id == actor.id || token.created_by == actor.id;
        if !mine && !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::NotFound);
        }
        let entry = self
            .audit_entry(actor.practice_id, actor, AuditKind::ApiTokenRevoked, origin)
            .on("api_token", token.id)
            .detail(format!("acts as staff:{}", token.staff_id));
        self.store
            .revoke_api_token(actor.practice_id, token.id, self.clock.now(), &entry)
            .await?;
        Ok(())
    }

    /// The caller a bearer token names, or `None` for an unknown, expired
    /// or revoked token, or one whose member or maker is no longer active.
    #[instrument(skip_all)]
    pub async fn authenticate_api_token(&self, secret: &str) -> AppResult<Option<ApiCaller>> {
        if !looks_like_token(secret) {
            return Ok(None);
        }
        let Some(token) = self.store.find_api_token(&hash_secret(secret)).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if token.revoked_at.is_some() || token.expires_at <= now {
            return Ok(None);
        }
        let staff = match self
            .store
            .get_staff(token.practice_id, token.staff_id)
            .await
        {
            Ok(staff) => staff,
            Err(crate::store::StoreError::NotFound) => return Ok(None),
            Err(other) => return Err(other.into()),
        };
        if !staff.active {
            return Ok(None);
        }
        if token.created_by != token.staff_id {
            let maker = self
                .store
                .get_staff(token.practice_id, token.created_by)
                .await?;
            if !maker.active {
                return Ok(None);
            }
        }
        if token
            .last_used_at
            .is_none_or(|at| now.0 - at.0 >= TOUCH_EVERY_MS)
        {
            self.store
                .touch_api_token(token.practice_id, token.id, now)
                .await?;
        }
        let practice = self.store.get_practice(token.practice_id).await?;
        Ok(Some(ApiCaller {
            token,
            staff,
            practice,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_includes_read_and_nothing_else() {
        let scopes = "clients:write questions:read";
        assert!(scopes_allow(scopes, Area::Clients, Access::Read));
        assert!(scopes_allow(scopes, Area::Clients, Access::Write));
        assert!(scopes_allow(scopes, Area::Questions, Access::Read));
        assert!(!scopes_allow(scopes, Area::Questions, Access::Write));
        assert!(!scopes_allow(scopes, Area::Messages, Access::Read));
        assert!(!scopes_allow("", Area::Team, Access::Read));
    }

    #[test]
    fn the_team_is_read_only() {
        let scopes = all_scopes();
        assert!(scopes.contains(&"team:read".to_owned()));
        assert!(!scopes.contains(&"team:write".to_owned()));
        assert_eq!(scopes.len(), 9);
    }

    #[test]
    fn only_tokens_of_the_right_shape_are_looked_up() {
        let good = format!("{TOKEN_PREFIX}{}", crate::domain::issue_secret().secret);
        assert!(looks_like_token(&good));
        assert!(!looks_like_token(&good[TOKEN_PREFIX.len()..]));
        assert!(!looks_like_token("ptc_short"));
        assert!(!looks_like_token(&format!("{good}x")));
    }
}
