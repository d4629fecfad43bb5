use super::staff::found;
use super::{Store, StoreError, StoreResult, flag, like_pattern, parse_id};
use crate::domain::{ClientId, ClientKind, Millis, Name, PracticeId, StaffId};

/// A record the practice serves (P2); with `primary_client_id` set it is a
/// sub-record of a family (P5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub practice_id: PracticeId,
    pub name: String,
    pub kind: ClientKind,
    pub primary_client_id: Option<ClientId>,
    /// Q3: questions may be assigned to a single contact.
    pub assignable_questions: bool,
    pub created_at: Millis,
}

/// A line of the clients list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSummary {
    pub client: Client,
    pub contact_count: i64,
    pub primary_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NewClient {
    pub name: Name,
    pub kind: ClientKind,
}

/// Narrows the clients list.
#[derive(Clone, Debug, Default)]
pub struct ClientFilter {
    /// Part of the client's name, any case.
    pub search: Option<String>,
    /// Only clients this staff user is assigned to.
    pub assigned_to: Option<StaffId>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ClientRow {
    id: String,
    practice_id: String,
    name: String,
    kind: String,
    primary_client_id: Option<String>,
    assignable_questions: i64,
    created_at: i64,
}

/// The columns of [`ClientRow`], for a `clients c` in the query.
macro_rules! client_columns {
    () => {
        "c.id, c.practice_id, c.name, c.kind, c.primary_client_id, c.assignable_questions, c.created_at"
    };
}
pub(super) use client_columns;

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(row: ClientRow) -> StoreResult<Self> {
        Ok(Client {
            id: parse_id(&row.id)?,
            practice_id: parse_id(&row.practice_id)?,
            name: row.name,
            kind: ClientKind::parse(&row.kind).map_err(|e| StoreError::Corrupt(e.message))?,
            primary_client_id: row.primary_client_id.as_deref().map(parse_id).transpose()?,
            assignable_questions: row.assignable_questions != 0,
            created_at: Millis(row.created_at),
        })
    }
}

impl Store {
    pub async fn create_client(
        &self,
        practice: PracticeId,
        new: &NewClient,
    ) -> StoreResult<Client> {
        let mut tx = self.begin().await?;
        let client = tx.insert_client(practice, new, self.clock.now()).await?;
        tx.commit().await?;
        Ok(client)
    }

    /// A new client, and the webhook event `event` makes of it (X3) in the
    /// same transaction.
    pub async fn create_client_with(
        &self,
        practice: PracticeId,
        new: &NewClient,
        event: impl FnOnce(&Client) -> super::WebhookPost,
    ) -> StoreResult<Client> {
        let mut tx = self.begin().await?;
        let client = tx.insert_client(practice, new, self.clock.now()).await?;
        tx.queue_webhook(&event(&client)).await?;
        tx.commit().await?;
        Ok(client)
    }
}

impl super::StoreTx {
    async fn insert_client(
        &mut self,
        practice: PracticeId,
        new: &NewClient,
        now: Millis,
    ) -> StoreResult<Client> {
        let client = Client {
            id: ClientId::new(),
            practice_id: practice,
            name: new.name.to_string(),
            kind: new.kind,
            primary_client_id: None,
            assignable_questions: false,
            created_at: now,
        };
        sqlx::query(
            "INSERT INTO clients (id, practice_id, name, kind, assignable_questions, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5)",
        )
        .bind(client.id)
        .bind(practice)
        .bind(&client.name)
        .bind(client.kind.as_str())
        .bind(client.created_at.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(client)
    }
}

impl Store {
    pub async fn get_client(&self, practice: PracticeId, id: ClientId) -> StoreResult<Client> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients c WHERE c.practice_id = $1 AND c.id = $2"
        ))
        .bind(practice)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// The clients list, by name, narrowed by `filter`.
    pub async fn list_clients(
        &self,
        practice: PracticeId,
        filter: &ClientFilter,
    ) -> StoreResult<Vec<ClientSummary>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            client: ClientRow,
            contact_count: i64,
            primary_name: Option<String>,
        }
        let search = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
        let rows = sqlx::query_as::<_, Row>(concat!("SELECT ", client_columns!(), ", \
                (SELECT COUNT(*) FROM contact_clients cc \
                  WHERE cc.practice_id = c.practice_id AND cc.client_id = c.id) AS contact_count, \
                p.name AS primary_name \
             FROM clients c \
             LEFT JOIN clients p ON p.practice_id = c.practice_id AND p.id = c.primary_client_id \
             WHERE c.practice_id = $1 \
               AND ($2 IS NULL OR LOWER(c.name) LIKE $2 ESCAPE '\\') \
               AND ($3 IS NULL OR EXISTS (SELECT 1 FROM client_staff cs \
                    WHERE cs.practice_id = c.practice_id AND cs.client_id = c.id AND cs.staff_id = $3)) \
             ORDER BY LOWER(c.name), c.id"))
        .bind(practice)
        .bind(search)
        .bind(filter.assigned_to)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ClientSummary {
                    client: r.client.try_into()?,
                    contact_count: r.contact_count,
                    primary_name: r.primary_name,
                })
            })
            .collect()
    }

    pub async fn rename_client(
        &self,
        practice: PracticeId,
        id: ClientId,
        name: &Name,
    ) -> StoreResult<()> {
        let done = sqlx::query("UPDATE clients SET name = $3 WHERE practice_id = $1 AND id = $2")
            .bind(practice)
            .bind(id)
            .bind(name.as_str())
            .execute(&self.pool)
            .await?;
        found(done.rows_affected())
    }

    /// Q3's client setting.
    pub async fn set_assignable_questions(
        &self,
        practice: PracticeId,
        id: ClientId,
        on: bool,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE clients SET assignable_questions = $3 WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .bind(flag(on))
        .execute(&self.pool)
        .await?;
        found(done.rows_affected())
    }

    /// Makes `staff` one of the people responsible for `client`; assigning
    /// twice is harmless. Both must belong to `practice`.
    pub async fn assign_staff(
        &self,
        practice: PracticeId,
        client: ClientId,
        staff: StaffId,
    ) -> StoreResult<()> {
        // Both rows are checked first so that another practice's id reads
        // as "not found" rather than as a foreign-key failure.
        self.get_client(practice, client).await?;
        self.get_staff(practice, staff).await?;
        sqlx::query(
            "INSERT INTO client_staff (practice_id, client_id, staff_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(practice)
        .bind(client)
        .bind(staff)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn unassign_staff(
        &self,
        practice: PracticeId,
        client: ClientId,
        staff: StaffId,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "DELETE FROM client_staff WHERE practice_id = $1 AND client_id = $2 AND staff_id = $3",
        )
        .bind(practice)
        .bind(client)
        .bind(staff)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected())
    }

    /// The staff users assigned to a client.
    pub async fn assigned_staff(
        &self,
        practice: PracticeId,
        client: ClientId,
    ) -> StoreResult<Vec<StaffId>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT cs.staff_id FROM client_staff cs \
             JOIN staff_users s ON s.practice_id = cs.practice_id AND s.id = cs.staff_id \
             WHERE cs.practice_id = $1 AND cs.client_id = $2 ORDER BY s.name, s.id",
        )
        .bind(practice)
        .bind(client)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|(id,)| parse_id(id)).collect()
    }

    /// P5: makes `sub` a sub-record of the family whose primary record is
    /// `primary`, or (with `None`) a record of its own again. Families are
    /// one level deep: a primary cannot itself be a sub-record, and a record
    /// with sub-records of its own cannot join another family.
    pub async fn set_family_primary(
        &self,
        practice: PracticeId,
        sub: ClientId,
        primary: Option<ClientId>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let subject: Client = sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients c WHERE c.practice_id = $1 AND c.id = $2"
        ))
        .bind(practice)
        .bind(sub)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()?;
        if let Some(primary) = primary {
            if primary == subject.id {
                return Err(StoreError::Conflict(
                    "A client cannot be its own family's primary record.".into(),
                ));
            }
            let head: Client = sqlx::query_as::<_, ClientRow>(concat!(
                "SELECT ",
                client_columns!(),
                " FROM clients c WHERE c.practice_id = $1 AND c.id = $2"
            ))
            .bind(practice)
            .bind(primary)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_into()?;
            if head.primary_client_id.is_some() {
                return Err(StoreError::Conflict(format!(
                    "{} is itself part of another family; choose that family's primary record.",
                    head.name
                )));
            }
            let (children,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM clients WHERE practice_id = $1 AND primary_client_id = $2",
            )
            .bind(practice)
            .bind(sub)
            .fetch_one(&mut *tx)
            .await?;
            if children > 0 {
                return Err(StoreError::Conflict(format!(
                    "{} is the primary record of a family; it cannot join another one.",
                    subject.name
                )));
            }
        }
        // The old primary's contacts lose this record's chats with this
        // commit; their rows are written first (see `revoke_access`).
        sqlx::query(
            "UPDATE contacts SET status = status WHERE practice_id = $1 AND id IN \
             (SELECT contact_id FROM contact_clients WHERE practice_id = $1 AND client_id = $2)",
        )
        .bind(practice)
        .bind(subject.primary_client_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE clients SET primary_client_id = $3 WHERE practice_id = $1 AND id = $2")
            .bind(practice)
            .bind(sub)
            .bind(primary)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The sub-records of a family's primary record, by name.
    pub async fn family_members(
        &self,
        practice: PracticeId,
        primary: ClientId,
    ) -> StoreResult<Vec<Client>> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients c \
             WHERE c.practice_id = $1 AND c.primary_client_id = $2 ORDER BY LOWER(c.name), c.id"
        ))
        .bind(practice)
        .bind(primary)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Client::try_from)
        .collect()
    }
}
