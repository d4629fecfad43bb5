use super::{NewStaff, Staff, Store, StoreError, StoreResult, parse_id};
use crate::domain::{Millis, Name, PracticeId};

/// A practice: one tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Practice {
    pub id: PracticeId,
    pub name: String,
    /// A5: every staff user must sign in with a second factor.
    pub require_totp: bool,
    pub created_at: Millis,
}

#[derive(sqlx::FromRow)]
struct PracticeRow {
    id: String,
    name: String,
    require_totp: i64,
    created_at: i64,
}

impl TryFrom<PracticeRow> for Practice {
    type Error = StoreError;
    fn try_from(row: PracticeRow) -> StoreResult<Self> {
        Ok(Practice {
            id: parse_id(&row.id)?,
            name: row.name,
            require_totp: row.require_totp != 0,
            created_at: Millis(row.created_at),
        })
    }
}

impl Store {
    pub async fn create_practice(&self, name: &Name) -> StoreResult<Practice> {
        let practice = Practice {
            id: PracticeId::new(),
            name: name.to_string(),
            require_totp: false,
            created_at: Millis::now(),
        };
        sqlx::query("INSERT INTO practices (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(practice.id.to_string())
            .bind(&practice.name)
            .bind(practice.created_at.0)
            .execute(&self.pool)
            .await?;
        Ok(practice)
    }

    /// A practice and its first admin, together or not at all.
    pub async fn create_practice_with_admin(
        &self,
        name: &Name,
        admin: &NewStaff,
    ) -> StoreResult<(Practice, Staff)> {
        let now = Millis::now();
        let practice = Practice {
            id: PracticeId::new(),
            name: name.to_string(),
            require_totp: false,
            created_at: now,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO practices (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(practice.id.to_string())
            .bind(&practice.name)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        let staff = super::staff::insert_staff(&mut tx, practice.id, admin, now).await?;
        tx.commit().await?;
        Ok((practice, staff))
    }

    pub async fn get_practice(&self, id: PracticeId) -> StoreResult<Practice> {
        sqlx::query_as::<_, PracticeRow>(
            "SELECT id, name, require_totp, created_at FROM practices WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// Every practice on this server, oldest first. For operators only
    /// (`portico admin list-practices`); never reachable from the web.
    pub async fn list_practices(&self) -> StoreResult<Vec<Practice>> {
        sqlx::query_as::<_, PracticeRow>(
            "SELECT id, name, require_totp, created_at FROM practices ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Practice::try_from)
        .collect()
    }

    pub async fn set_require_totp(&self, id: PracticeId, on: bool) -> StoreResult<()> {
        let done = sqlx::query("UPDATE practices SET require_totp = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(super::flag(on))
            .execute(&self.pool)
            .await?;
        super::staff::found(done.rows_affected())
    }

    pub async fn count_practices(&self) -> StoreResult<i64> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM practices")
            .fetch_one(&self.pool)
            .await?;
        Ok(count)
    }
}
