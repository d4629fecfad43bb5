//! API tokens (X3): stored by their SHA-256, found by it on every API
//! request, listed for their owner and the practice's admins, revoked.

use super::{NewAudit, Store, StoreError, StoreResult, parse_id};
use crate::domain::{Millis, PracticeId, StaffId};

/// A token as stored (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: uuid::Uuid,
    pub practice_id: PracticeId,
    /// The team member the token acts as.
    pub staff_id: StaffId,
    /// Who made it: the same member, or an admin who chose them.
    pub created_by: StaffId,
    pub name: String,
    /// The token's first characters, to tell tokens apart in a list.
    pub shown_prefix: String,
    /// Space-separated scopes (`clients:read messages:write`).
    pub scopes: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

#[derive(sqlx::FromRow)]
struct ApiTokenRow {
    id: String,
    practice_id: String,
    staff_id: String,
    created_by: String,
    name: String,
    shown_prefix: String,
    scopes: String,
    created_at: i64,
    expires_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// The columns of [`ApiTokenRow`].
macro_rules! columns {
    () => {
        "id, practice_id, staff_id, created_by, name, shown_prefix, scopes, \
         created_at, expires_at, last_used_at, revoked_at"
    };
}

impl TryFrom<ApiTokenRow> for ApiToken {
    type Error = StoreError;
    fn try_from(row: ApiTokenRow) -> StoreResult<Self> {
        Ok(ApiToken {
            id: parse_id(&row.id)?,
            practice_id: parse_id(&row.practice_id)?,
            staff_id: parse_id(&row.staff_id)?,
            created_by: parse_id(&row.created_by)?,
            name: row.name,
            shown_prefix: row.shown_prefix,
            scopes: row.scopes,
            created_at: Millis(row.created_at),
            expires_at: Millis(row.expires_at),
            last_used_at: row.last_used_at.map(Millis),
            revoked_at: row.revoked_at.map(Millis),
        })
    }
}

fn all(rows: Vec<ApiTokenRow>) -> StoreResult<Vec<ApiToken>> {
    rows.into_iter().map(ApiToken::try_from).collect()
}

impl Store {
    /// Stores a new token by its hash, with its audit entry.
    pub async fn insert_api_token(
        &self,
        token: &ApiToken,
        hash: &str,
        entry: &NewAudit,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, practice_id, staff_id, created_by, name, token_hash, \
             shown_prefix, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(token.id.to_string())
        .bind(token.practice_id)
        .bind(token.staff_id)
        .bind(token.created_by)
        .bind(&token.name)
        .bind(hash)
        .bind(&token.shown_prefix)
        .bind(&token.scopes)
        .bind(token.created_at.0)
        .bind(token.expires_at.0)
        .execute(&mut *tx.tx)
        .await?;
        tx.audit(entry).await?;
        tx.commit().await
    }

    /// The token whose hash this is, in whichever practice.
    pub async fn find_api_token(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        sqlx::query_as::<_, ApiTokenRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM api_tokens WHERE token_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?
        .map(ApiToken::try_from)
        .transpose()
    }

    pub async fn get_api_token(
        &self,
        practice: PracticeId,
        id: uuid::Uuid,
    ) -> StoreResult<ApiToken> {
        sqlx::query_as::<_, ApiTokenRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM api_tokens WHERE practice_id = $1 AND id = $2"
        ))
        .bind(practice)
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// The tokens a member made or that act as them, newest first.
    pub async fn api_tokens_of(
        &self,
        practice: PracticeId,
        staff: StaffId,
    ) -> StoreResult<Vec<ApiToken>> {
        all(sqlx::query_as::<_, ApiTokenRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM api_tokens WHERE practice_id = $1 \
             AND (staff_id = $2 OR created_by = $2) ORDER BY created_at DESC, id DESC"
        ))
        .bind(practice)
        .bind(staff)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every token of the practice, newest first.
    pub async fn practice_api_tokens(&self, practice: PracticeId) -> StoreResult<Vec<ApiToken>> {
        all(sqlx::query_as::<_, ApiTokenRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM api_tokens WHERE practice_id = $1 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(practice)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes a token (once; a revoked token stays revoked as it was),
    /// with its audit entry. False when it was revoked already.
    pub async fn revoke_api_token(
        &self,
        practice: PracticeId,
        id: uuid::Uuid,
        now: Millis,
        entry: &NewAudit,
    ) -> StoreResult<bool> {
        let done = self
            .execute_audited(
                sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $3 \
                     WHERE practice_id = $1 AND id = $2 AND revoked_at IS NULL",
                )
                .bind(practice)
                .bind(id.to_string())
                .bind(now.0),
                entry,
            )
            .await?;
        Ok(done > 0)
    }

    /// Notes that the token was used now.
    pub async fn touch_api_token(
        &self,
        practice: PracticeId,
        id: uuid::Uuid,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $3 WHERE practice_id = $1 AND id = $2")
            .bind(practice)
            .bind(id.to_string())
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
