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
    /// Q5, X15: the zone of its reminders, and of the times its people see
    /// unless they chose their own.
    pub time_zone: String,
    /// X15: the brand's accent colour, a validated `#rrggbb`.
    pub accent_colour: Option<String>,
    /// X15: whether the practice uploaded a logo.
    pub has_logo: bool,
    /// X15: changes with every branding change (cache busting).
    pub brand_version: i64,
}

impl Practice {
    /// A practice as it is created: no brand yet, times in UTC.
    fn new(name: &Name, now: Millis) -> Self {
        Practice {
            id: PracticeId::new(),
            name: name.to_string(),
            require_totp: false,
            created_at: now,
            time_zone: "UTC".to_owned(),
            accent_colour: None,
            has_logo: false,
            brand_version: 0,
        }
    }
}

/// The columns of [`PracticeRow`], for a `practices p` in the query.
macro_rules! practice_columns {
    () => {
        "p.id, p.name, p.require_totp, p.created_at, p.time_zone, p.accent_colour, p.brand_version, \
         CASE WHEN EXISTS (SELECT 1 FROM practice_logos l WHERE l.practice_id = p.id) THEN 1 ELSE 0 END AS has_logo"
    };
}

#[derive(sqlx::FromRow)]
struct PracticeRow {
    id: String,
    name: String,
    require_totp: i64,
    created_at: i64,
    time_zone: String,
    accent_colour: Option<String>,
    brand_version: i64,
    has_logo: i64,
}

impl TryFrom<PracticeRow> for Practice {
    type Error = StoreError;
    fn try_from(row: PracticeRow) -> StoreResult<Self> {
        Ok(Practice {
            id: parse_id(&row.id)?,
            name: row.name,
            require_totp: row.require_totp != 0,
            created_at: Millis(row.created_at),
            time_zone: row.time_zone,
            accent_colour: row.accent_colour,
            has_logo: row.has_logo != 0,
            brand_version: row.brand_version,
        })
    }
}

impl Store {
    pub async fn create_practice(&self, name: &Name) -> StoreResult<Practice> {
        let practice = Practice::new(name, self.clock.now());
        sqlx::query("INSERT INTO practices (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(practice.id)
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
        let now = self.clock.now();
        let practice = Practice::new(name, now);
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO practices (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(practice.id)
            .bind(&practice.name)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        let staff = super::staff::insert_staff(&mut tx, practice.id, admin, now).await?;
        tx.commit().await?;
        Ok((practice, staff))
    }

    pub async fn get_practice(&self, id: PracticeId) -> StoreResult<Practice> {
        sqlx::query_as::<_, PracticeRow>(concat!(
            "SELECT ",
            practice_columns!(),
            " FROM practices p WHERE p.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// Every practice on this server, oldest first. For operators only
    /// (`portico admin list-practices`); never reachable from the web.
    pub async fn list_practices(&self) -> StoreResult<Vec<Practice>> {
        sqlx::query_as::<_, PracticeRow>(concat!(
            "SELECT ",
            practice_columns!(),
            " FROM practices p ORDER BY p.created_at, p.id"
        ))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Practice::try_from)
        .collect()
    }

    pub async fn set_require_totp(
        &self,
        id: PracticeId,
        on: bool,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        let done = self
            .execute_audited(
                sqlx::query("UPDATE practices SET require_totp = $2 WHERE id = $1")
                    .bind(id)
                    .bind(super::flag(on)),
                entry,
            )
            .await?;
        self.people_changed(id);
        super::staff::found(done)
    }

    /// X15: the accent colour (already validated), or none.
    pub async fn set_accent_colour(
        &self,
        id: PracticeId,
        colour: Option<&str>,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        let done = self.execute_audited(sqlx::query(
            "UPDATE practices SET accent_colour = $2, brand_version = brand_version + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(colour), entry).await?;
        self.people_changed(id);
        super::staff::found(done)
    }

    /// X15: puts a logo (already checked) in place of any earlier one.
    pub async fn set_logo(
        &self,
        id: PracticeId,
        content_type: &str,
        bytes: &[u8],
        now: Millis,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM practice_logos WHERE practice_id = $1")
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query(
            "INSERT INTO practice_logos (practice_id, content_type, bytes, updated_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(content_type)
        .bind(bytes.to_vec())
        .bind(now.0)
        .execute(&mut *tx.tx)
        .await?;
        let done =
            sqlx::query("UPDATE practices SET brand_version = brand_version + 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx.tx)
                .await?;
        super::staff::found(done.rows_affected())?;
        tx.audit(entry).await?;
        tx.commit().await?;
        self.people_changed(id);
        Ok(())
    }

    pub async fn remove_logo(&self, id: PracticeId, entry: &super::NewAudit) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM practice_logos WHERE practice_id = $1")
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query("UPDATE practices SET brand_version = brand_version + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.audit(entry).await?;
        tx.commit().await?;
        self.people_changed(id);
        Ok(())
    }

    /// X15: a practice's logo, its type and bytes.
    pub async fn logo(&self, id: PracticeId) -> StoreResult<Option<(String, Vec<u8>)>> {
        Ok(sqlx::query_as::<_, (String, Vec<u8>)>(
            "SELECT content_type, bytes FROM practice_logos WHERE practice_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn count_practices(&self) -> StoreResult<i64> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM practices")
            .fetch_one(&self.pool)
            .await?;
        Ok(count)
    }
}
