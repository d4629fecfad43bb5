use super::{Store, StoreError, StoreResult, flag, parse_id};
use crate::domain::{EmailAddress, Millis, Name, PracticeId, Role, StaffId};

/// A person of a practice (P1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staff {
    pub id: StaffId,
    pub practice_id: PracticeId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    /// A5: signs in with a second factor.
    pub totp_enabled: bool,
    pub last_sign_in_at: Option<Millis>,
    pub created_at: Millis,
    /// X15: their own time zone; `None` follows the practice's.
    pub time_zone: Option<String>,
}

/// A staff user's two-factor secrets (sealed as stored; in clear once
/// opened by the application).
#[derive(Clone, Debug, Default)]
pub struct StaffTotp {
    /// Set once enrolment is confirmed.
    pub secret: Option<String>,
    /// Shown during enrolment, until confirmed with a code.
    pub pending_secret: Option<String>,
}

impl Staff {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// What it takes to add a staff user.
#[derive(Clone, Debug)]
pub struct NewStaff {
    pub email: EmailAddress,
    pub name: Name,
    pub role: Role,
    /// An argon2id PHC string, or `None` until the person sets a password.
    pub password_hash: Option<String>,
}

#[derive(sqlx::FromRow)]
struct StaffRow {
    id: String,
    practice_id: String,
    email: String,
    name: String,
    role: String,
    active: i64,
    totp_enabled: i64,
    last_sign_in_at: Option<i64>,
    created_at: i64,
    time_zone: Option<String>,
}

/// The columns of [`StaffRow`].
macro_rules! staff_columns {
    () => {
        "id, practice_id, email, name, role, active, \
         CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS totp_enabled, last_sign_in_at, created_at, time_zone"
    };
}

impl TryFrom<StaffRow> for Staff {
    type Error = StoreError;
    fn try_from(row: StaffRow) -> StoreResult<Self> {
        Ok(Staff {
            id: parse_id(&row.id)?,
            practice_id: parse_id(&row.practice_id)?,
            email: row.email,
            name: row.name,
            role: Role::parse(&row.role).map_err(|e| StoreError::Corrupt(e.message))?,
            active: row.active != 0,
            totp_enabled: row.totp_enabled != 0,
            last_sign_in_at: row.last_sign_in_at.map(Millis),
            created_at: Millis(row.created_at),
            time_zone: row.time_zone,
        })
    }
}

impl Store {
    /// Adds a staff user. An e-mail address belongs to one staff user on the
    /// whole server, since it is what they sign in with.
    pub async fn create_staff(&self, practice: PracticeId, new: &NewStaff) -> StoreResult<Staff> {
        let mut conn = self.pool.acquire().await?;
        insert_staff(&mut conn, practice, new, self.clock.now()).await
    }

    pub async fn get_staff(&self, practice: PracticeId, id: StaffId) -> StoreResult<Staff> {
        sqlx::query_as::<_, StaffRow>(concat!(
            "SELECT ",
            staff_columns!(),
            " FROM staff_users WHERE practice_id = $1 AND id = $2"
        ))
        .bind(practice)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// Finds a staff user by the address they sign in with, whatever their
    /// practice, with their password hash (if they have one).
    pub async fn find_staff_for_sign_in(
        &self,
        email: &EmailAddress,
    ) -> StoreResult<Option<(Staff, Option<String>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            staff: StaffRow,
            password_hash: Option<String>,
        }
        let row = sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            staff_columns!(),
            ", password_hash FROM staff_users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.staff.try_into()?, r.password_hash)))
            .transpose()
    }

    /// The practice's staff, admins first, then by name.
    pub async fn list_staff(&self, practice: PracticeId) -> StoreResult<Vec<Staff>> {
        sqlx::query_as::<_, StaffRow>(concat!(
            "SELECT ",
            staff_columns!(),
            " FROM staff_users WHERE practice_id = $1 \
             ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, name, id"
        ))
        .bind(practice)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Staff::try_from)
        .collect()
    }

    /// The team as [`Store::list_staff`] orders it, each with whether they
    /// have a password yet (an invited one has not), in one query.
    pub async fn list_staff_with_password(
        &self,
        practice: PracticeId,
    ) -> StoreResult<Vec<(Staff, bool)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            staff: StaffRow,
            has_password: i64,
        }
        sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            staff_columns!(),
            ", CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS has_password \
             FROM staff_users WHERE practice_id = $1 \
             ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, name, id"
        ))
        .bind(practice)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| Ok((Staff::try_from(r.staff)?, r.has_password == 1)))
        .collect()
    }

    pub async fn set_staff_role(
        &self,
        practice: PracticeId,
        id: StaffId,
        role: Role,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        let done = self
            .execute_audited(
                sqlx::query("UPDATE staff_users SET role = $3 WHERE practice_id = $1 AND id = $2")
                    .bind(practice)
                    .bind(id)
                    .bind(role.as_str()),
                entry,
            )
            .await?;
        self.people_changed(practice);
        found(done)
    }

    pub async fn set_staff_active(
        &self,
        practice: PracticeId,
        id: StaffId,
        active: bool,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        let done = self
            .execute_audited(
                sqlx::query(
                    "UPDATE staff_users SET active = $3 WHERE practice_id = $1 AND id = $2",
                )
                .bind(practice)
                .bind(id)
                .bind(flag(active)),
                entry,
            )
            .await?;
        self.people_changed(practice);
        found(done)
    }

    /// Stores a new argon2id password hash for a staff user.
    pub async fn set_staff_password(
        &self,
        practice: PracticeId,
        id: StaffId,
        password_hash: &str,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE staff_users SET password_hash = $3 WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .bind(password_hash)
        .execute(&self.pool)
        .await?;
        self.people_changed(practice);
        found(done.rows_affected())
    }
}

impl Store {
    pub async fn staff_totp(&self, practice: PracticeId, id: StaffId) -> StoreResult<StaffTotp> {
        let (secret, pending_secret): (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT totp_secret, totp_pending_secret FROM staff_users WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(StaffTotp {
            secret,
            pending_secret,
        })
    }

    /// Starts (or restarts) enrolment with a new secret.
    pub async fn set_totp_pending(
        &self,
        practice: PracticeId,
        id: StaffId,
        secret: &str,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE staff_users SET totp_pending_secret = $3 WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .bind(secret)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected())
    }

    /// Confirms enrolment: the pending secret becomes the secret, `step` the
    /// last code used, and `code_hashes` the recovery codes (replacing any).
    pub async fn enable_totp(
        &self,
        practice: PracticeId,
        id: StaffId,
        step: i64,
        code_hashes: &[String],
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE staff_users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, \
             totp_last_step = $3 WHERE practice_id = $1 AND id = $2 AND totp_pending_secret IS NOT NULL",
        )
        .bind(practice)
        .bind(id)
        .bind(step)
        .execute(&mut *tx.tx)
        .await?;
        found(done.rows_affected())?;
        sqlx::query("DELETE FROM staff_recovery_codes WHERE practice_id = $1 AND staff_id = $2")
            .bind(practice)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        for hash in code_hashes {
            sqlx::query(
                "INSERT INTO staff_recovery_codes (practice_id, staff_id, code_hash) VALUES ($1, $2, $3)",
            )
            .bind(practice)
            .bind(id)
            .bind(hash)
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.audit(entry).await?;
        tx.people_changed(practice);
        tx.commit().await?;
        Ok(())
    }

    pub async fn disable_totp(
        &self,
        practice: PracticeId,
        id: StaffId,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE staff_users SET totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = 0 \
             WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        found(done.rows_affected())?;
        sqlx::query("DELETE FROM staff_recovery_codes WHERE practice_id = $1 AND staff_id = $2")
            .bind(practice)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.audit(entry).await?;
        tx.people_changed(practice);
        tx.commit().await?;
        Ok(())
    }

    /// Records `step` as the last code used, only if it is newer than the
    /// last one: a code is accepted once, however quickly it is replayed.
    pub async fn use_totp_step(
        &self,
        practice: PracticeId,
        id: StaffId,
        step: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE staff_users SET totp_last_step = $3 \
             WHERE practice_id = $1 AND id = $2 AND totp_last_step < $3",
        )
        .bind(practice)
        .bind(id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses up a recovery code; false if unknown or already used.
    pub async fn use_recovery_code(
        &self,
        practice: PracticeId,
        id: StaffId,
        code_hash: &str,
        now: Millis,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE staff_recovery_codes SET used_at = $4 \
             WHERE practice_id = $1 AND staff_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(practice)
        .bind(id)
        .bind(code_hash)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn recovery_codes_left(&self, practice: PracticeId, id: StaffId) -> StoreResult<i64> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM staff_recovery_codes \
             WHERE practice_id = $1 AND staff_id = $2 AND used_at IS NULL",
        )
        .bind(practice)
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    pub async fn record_staff_sign_in(
        &self,
        practice: PracticeId,
        id: StaffId,
        now: Millis,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        self.execute_audited(
            sqlx::query(
                "UPDATE staff_users SET last_sign_in_at = $3 WHERE practice_id = $1 AND id = $2",
            )
            .bind(practice)
            .bind(id)
            .bind(now.0),
            entry,
        )
        .await?;
        self.people_changed(practice);
        Ok(())
    }
}

/// Inserts a staff user (active, no second factor yet).
pub(super) async fn insert_staff(
    conn: &mut sqlx::AnyConnection,
    practice: PracticeId,
    new: &NewStaff,
    now: Millis,
) -> StoreResult<Staff> {
    let staff = Staff {
        id: StaffId::new(),
        practice_id: practice,
        email: new.email.to_string(),
        name: new.name.to_string(),
        role: new.role,
        active: true,
        totp_enabled: false,
        last_sign_in_at: None,
        created_at: now,
        time_zone: None,
    };
    sqlx::query(
        "INSERT INTO staff_users (id, practice_id, email, name, role, password_hash, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
    )
    .bind(staff.id)
    .bind(practice)
    .bind(&staff.email)
    .bind(&staff.name)
    .bind(staff.role.as_str())
    .bind(new.password_hash.as_deref())
    .bind(now.0)
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        StoreError::conflict_on_unique(e, "A team member with this e-mail address already exists.")
    })?;
    Ok(staff)
}

impl super::StoreTx {
    pub async fn create_staff(
        &mut self,
        practice: PracticeId,
        new: &NewStaff,
        now: Millis,
    ) -> StoreResult<Staff> {
        self.people_changed(practice);
        insert_staff(&mut self.tx, practice, new, now).await
    }

    pub async fn insert_staff_token(
        &mut self,
        hash: &str,
        practice: PracticeId,
        staff: StaffId,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO staff_tokens (token_hash, practice_id, staff_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash)
        .bind(practice)
        .bind(staff)
        .bind(now.0)
        .bind(expires_at.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Uses up a team invitation: once, before it expires.
    pub async fn consume_staff_token(
        &mut self,
        hash: &str,
        now: Millis,
    ) -> StoreResult<Option<(PracticeId, StaffId)>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "UPDATE staff_tokens SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             RETURNING practice_id, staff_id",
        )
        .bind(hash)
        .bind(now.0)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|(p, s)| Ok((parse_id(&p)?, parse_id(&s)?)))
            .transpose()
    }

    pub async fn set_staff_password(
        &mut self,
        practice: PracticeId,
        id: StaffId,
        hash: &str,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE staff_users SET password_hash = $3 WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .bind(hash)
        .execute(&mut *self.tx)
        .await?;
        self.people_changed(practice);
        found(done.rows_affected())
    }
}

impl Store {
    /// Whose a team invitation is, without using it.
    pub async fn peek_staff_token(
        &self,
        hash: &str,
        now: Millis,
    ) -> StoreResult<Option<(PracticeId, StaffId)>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT practice_id, staff_id FROM staff_tokens \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(hash)
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(p, s)| Ok((parse_id(&p)?, parse_id(&s)?)))
            .transpose()
    }

    /// Active admins of a practice (the last one cannot be demoted).
    pub async fn count_active_admins(&self, practice: PracticeId) -> StoreResult<i64> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM staff_users WHERE practice_id = $1 AND role = 'admin' AND active = 1",
        )
        .bind(practice)
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }
}

/// `Ok` when an update touched a row, [`StoreError::NotFound`] otherwise.
pub(super) fn found(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
