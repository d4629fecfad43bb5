//! Server-side sessions (A1, A6), found by the hash of the cookie's secret.

use super::{Store, StoreError, StoreResult, json_array, parse_id};
use crate::domain::{Millis, PracticeId};

/// Who a session belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionSubject {
    Staff(crate::domain::StaffId),
    Contact(crate::domain::ContactId),
}

impl SessionSubject {
    fn kind(self) -> &'static str {
        match self {
            SessionSubject::Staff(_) => "staff",
            SessionSubject::Contact(_) => "contact",
        }
    }

    fn id(self) -> String {
        match self {
            SessionSubject::Staff(id) => id.to_string(),
            SessionSubject::Contact(id) => id.to_string(),
        }
    }
}

/// How far through signing in a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStage {
    /// Signed in.
    Active,
    /// Password checked; the second factor is still owed (A5).
    Totp,
    /// Password checked; the practice requires two-factor sign-in and this
    /// staff user must set it up before anything else.
    Enrol,
}

impl SessionStage {
    fn as_str(self) -> &'static str {
        match self {
            SessionStage::Active => "active",
            SessionStage::Totp => "totp",
            SessionStage::Enrol => "enrol",
        }
    }

    fn parse(text: &str) -> StoreResult<Self> {
        match text {
            "active" => Ok(SessionStage::Active),
            "totp" => Ok(SessionStage::Totp),
            "enrol" => Ok(SessionStage::Enrol),
            other => Err(StoreError::Corrupt(format!("session stage {other:?}"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub practice_id: PracticeId,
    pub subject: SessionSubject,
    pub stage: SessionStage,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub expires_at: Millis,
    pub ip: String,
    pub user_agent: String,
}

#[derive(Clone, Debug)]
pub struct NewSession {
    pub id_hash: String,
    pub practice_id: PracticeId,
    pub subject: SessionSubject,
    pub stage: SessionStage,
    pub now: Millis,
    /// The absolute end of the session, however active it is.
    pub expires_at: Millis,
    pub ip: String,
    pub user_agent: String,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id_hash: String,
    practice_id: String,
    subject_kind: String,
    subject_id: String,
    stage: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    ip: String,
    user_agent: String,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(row: SessionRow) -> StoreResult<Self> {
        let subject = match row.subject_kind.as_str() {
            "staff" => SessionSubject::Staff(parse_id(&row.subject_id)?),
            "contact" => SessionSubject::Contact(parse_id(&row.subject_id)?),
            other => return Err(StoreError::Corrupt(format!("session subject {other:?}"))),
        };
        Ok(Session {
            id_hash: row.id_hash,
            practice_id: parse_id(&row.practice_id)?,
            subject,
            stage: SessionStage::parse(&row.stage)?,
            created_at: Millis(row.created_at),
            last_seen_at: Millis(row.last_seen_at),
            expires_at: Millis(row.expires_at),
            ip: row.ip,
            user_agent: row.user_agent,
        })
    }
}

macro_rules! session_columns {
    () => {
        "id_hash, practice_id, subject_kind, subject_id, stage, created_at, last_seen_at, expires_at, ip, user_agent"
    };
}

impl Store {
    pub async fn create_session(&self, new: &NewSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, practice_id, subject_kind, subject_id, stage, created_at, \
             last_seen_at, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)",
        )
        .bind(&new.id_hash)
        .bind(new.practice_id)
        .bind(new.subject.kind())
        .bind(new.subject.id())
        .bind(new.stage.as_str())
        .bind(new.now.0)
        .bind(new.expires_at.0)
        .bind(&new.ip)
        .bind(&new.user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A session with its practice, expired or not (the caller decides), in
    /// one read: every signed-in request asks it.
    pub async fn find_session_with_practice(
        &self,
        id_hash: &str,
    ) -> StoreResult<Option<(Session, super::Practice)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            session: SessionRow,
            practice_name: String,
            practice_require_totp: i64,
            practice_created_at: i64,
            practice_time_zone: String,
            practice_accent_colour: Option<String>,
            practice_brand_version: i64,
            practice_has_logo: i64,
        }
        let Some(row) = sqlx::query_as::<_, Row>(
            "SELECT s.id_hash, s.practice_id, s.subject_kind, s.subject_id, s.stage, s.created_at, \
             s.last_seen_at, s.expires_at, s.ip, s.user_agent, p.name AS practice_name, \
             p.require_totp AS practice_require_totp, p.created_at AS practice_created_at, \
             p.time_zone AS practice_time_zone, p.accent_colour AS practice_accent_colour, \
             p.brand_version AS practice_brand_version, \
             CASE WHEN EXISTS (SELECT 1 FROM practice_logos l WHERE l.practice_id = p.id) \
             THEN 1 ELSE 0 END AS practice_has_logo \
             FROM sessions s JOIN practices p ON p.id = s.practice_id WHERE s.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let session = Session::try_from(row.session)?;
        let practice = super::Practice {
            id: session.practice_id,
            name: row.practice_name,
            require_totp: row.practice_require_totp != 0,
            created_at: Millis(row.practice_created_at),
            time_zone: row.practice_time_zone,
            accent_colour: row.practice_accent_colour,
            has_logo: row.practice_has_logo != 0,
            brand_version: row.practice_brand_version,
        };
        Ok(Some((session, practice)))
    }

    /// Records activity, at most once a minute per session.
    pub async fn touch_session(&self, id_hash: &str, now: Millis, ip: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $2, ip = $3 WHERE id_hash = $1 AND last_seen_at < $4",
        )
        .bind(id_hash)
        .bind(now.0)
        .bind(ip)
        .bind(now.0 - 60_000)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaces a session by a new one (a new secret) at `stage`: used when
    /// a staff user completes their second factor, so the id that was in the
    /// browser before is worthless after.
    pub async fn rotate_session(
        &self,
        old_hash: &str,
        new_hash: &str,
        stage: SessionStage,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()> {
        let practice: Option<(String,)> = sqlx::query_as(
            "UPDATE sessions SET id_hash = $2, stage = $3, last_seen_at = $4, expires_at = $5 \
             WHERE id_hash = $1 RETURNING practice_id",
        )
        .bind(old_hash)
        .bind(new_hash)
        .bind(stage.as_str())
        .bind(now.0)
        .bind(expires_at.0)
        .fetch_optional(&self.pool)
        .await?;
        let (practice,) = practice.ok_or(StoreError::NotFound)?;
        // The old secret is worthless from now on, cached or not.
        self.people_changed(parse_id(&practice)?);
        Ok(())
    }

    pub async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        let practice: Option<(String,)> =
            sqlx::query_as("DELETE FROM sessions WHERE id_hash = $1 RETURNING practice_id")
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?;
        if let Some((practice,)) = practice {
            self.people_changed(parse_id(&practice)?);
        }
        Ok(())
    }

    /// X2: a person signs out: the session ends and the entry is written
    /// together.
    pub async fn end_session_audited(
        &self,
        id_hash: &str,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        self.execute_audited(
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash.to_owned()),
            entry,
        )
        .await?;
        self.people_changed(entry.practice);
        Ok(())
    }

    /// One person's sessions, most recently used first.
    pub async fn list_sessions(
        &self,
        practice: PracticeId,
        subject: SessionSubject,
    ) -> StoreResult<Vec<Session>> {
        sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE practice_id = $1 AND subject_kind = $2 AND subject_id = $3 \
             ORDER BY last_seen_at DESC, id_hash"
        ))
        .bind(practice)
        .bind(subject.kind())
        .bind(subject.id())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Session::try_from)
        .collect()
    }

    /// Signs a person out everywhere but the session `keep` (or everywhere,
    /// with `None`). Returns the hashes of the sessions that ended.
    pub async fn delete_sessions_of(
        &self,
        practice: PracticeId,
        subject: SessionSubject,
        keep: Option<&str>,
        entry: Option<&super::NewAudit>,
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.begin().await?;
        let ended: Vec<(String,)> = sqlx::query_as(
            "DELETE FROM sessions WHERE practice_id = $1 AND subject_kind = $2 AND subject_id = $3 \
             AND ($4 IS NULL OR id_hash <> $4) RETURNING id_hash",
        )
        .bind(practice)
        .bind(subject.kind())
        .bind(subject.id())
        .bind(keep)
        .fetch_all(&mut *tx.tx)
        .await?;
        if let Some(entry) = entry {
            tx.audit(entry).await?;
        }
        tx.people_changed(practice);
        tx.commit().await?;
        Ok(ended.into_iter().map(|(hash,)| hash).collect())
    }

    /// Of these session hashes, those whose session is still alive: signed
    /// in, before its end, used since `idle_since`, and its person still
    /// there (a staff user still active).
    pub async fn alive_sessions(
        &self,
        hashes: &[String],
        now: Millis,
        idle_since: Millis,
    ) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(self.backend().alive_sessions_sql())
            .bind(json_array(hashes)?)
            .bind(now.0)
            .bind(idle_since.0)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(hash,)| hash).collect())
    }
}
