use super::clients::{ClientRow, client_columns};
use super::staff::found;
use super::{Client, Store, StoreError, StoreResult, parse_id};
use crate::domain::{ClientId, ContactId, EmailAddress, Millis, Name, PhoneNumber, PracticeId};

/// A person who signs in to the client portal (P3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub id: ContactId,
    pub practice_id: PracticeId,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub status: ContactStatus,
    pub activated_at: Option<Millis>,
    pub last_sign_in_at: Option<Millis>,
    pub created_at: Millis,
    /// Q5, X15: their own time zone; `None` follows the practice's.
    pub time_zone: Option<String>,
}

/// A4: a contact is invited first and can be messaged once active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactStatus {
    Invited,
    Active,
}

impl ContactStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactStatus::Invited => "invited",
            ContactStatus::Active => "active",
        }
    }
}

#[derive(Clone, Debug)]
pub struct NewContact {
    pub email: EmailAddress,
    pub name: Name,
    pub phone: Option<PhoneNumber>,
}

/// A client as a contact reaches it in the portal: directly, or as a
/// sub-record of a family whose primary record they can open (P5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortalClient {
    pub client: Client,
    /// The primary record through which a sub-record is reached.
    pub through_primary: Option<ClientId>,
}

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: String,
    practice_id: String,
    email: String,
    name: String,
    phone: Option<String>,
    status: String,
    activated_at: Option<i64>,
    last_sign_in_at: Option<i64>,
    created_at: i64,
    time_zone: Option<String>,
}

/// The columns of [`ContactRow`], for a `contacts k` in the query.
macro_rules! contact_columns {
    () => {
        "k.id, k.practice_id, k.email, k.name, k.phone, k.status, k.activated_at, k.last_sign_in_at, k.created_at, k.time_zone"
    };
}

impl TryFrom<ContactRow> for Contact {
    type Error = StoreError;
    fn try_from(row: ContactRow) -> StoreResult<Self> {
        Ok(Contact {
            id: parse_id(&row.id)?,
            practice_id: parse_id(&row.practice_id)?,
            email: row.email,
            name: row.name,
            phone: row.phone,
            status: match row.status.as_str() {
                "invited" => ContactStatus::Invited,
                "active" => ContactStatus::Active,
                other => return Err(StoreError::Corrupt(format!("contact status {other:?}"))),
            },
            activated_at: row.activated_at.map(Millis),
            last_sign_in_at: row.last_sign_in_at.map(Millis),
            created_at: Millis(row.created_at),
            time_zone: row.time_zone,
        })
    }
}

impl Store {
    /// Adds a contact to the practice. An e-mail address is one person per
    /// practice: adding it again is a [`StoreError::Conflict`], and the
    /// caller offers access to the existing contact instead (P3).
    pub async fn create_contact(
        &self,
        practice: PracticeId,
        new: &NewContact,
    ) -> StoreResult<Contact> {
        let contact = Contact {
            id: ContactId::new(),
            practice_id: practice,
            email: new.email.to_string(),
            name: new.name.to_string(),
            phone: new.phone.as_ref().map(|p| p.to_string()),
            status: ContactStatus::Invited,
            activated_at: None,
            last_sign_in_at: None,
            created_at: self.clock.now(),
            time_zone: None,
        };
        sqlx::query(
            "INSERT INTO contacts (id, practice_id, email, name, phone, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'invited', $6)",
        )
        .bind(contact.id)
        .bind(practice)
        .bind(&contact.email)
        .bind(&contact.name)
        .bind(contact.phone.as_deref())
        .bind(contact.created_at.0)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            StoreError::conflict_on_unique(e, "A contact with this e-mail address already exists.")
        })?;
        Ok(contact)
    }

    pub async fn get_contact(&self, practice: PracticeId, id: ContactId) -> StoreResult<Contact> {
        sqlx::query_as::<_, ContactRow>(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts k WHERE k.practice_id = $1 AND k.id = $2"
        ))
        .bind(practice)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    pub async fn find_contact_by_email(
        &self,
        practice: PracticeId,
        email: &EmailAddress,
    ) -> StoreResult<Option<Contact>> {
        sqlx::query_as::<_, ContactRow>(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts k WHERE k.practice_id = $1 AND k.email = $2"
        ))
        .bind(practice)
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(Contact::try_from)
        .transpose()
    }

    /// Every contact of the practice, by name (P4).
    pub async fn list_contacts(&self, practice: PracticeId) -> StoreResult<Vec<Contact>> {
        sqlx::query_as::<_, ContactRow>(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts k WHERE k.practice_id = $1 \
             ORDER BY LOWER(k.name), k.id"
        ))
        .bind(practice)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Contact::try_from)
        .collect()
    }

    /// The contacts given access to one client (its Contacts tab).
    pub async fn client_contacts(
        &self,
        practice: PracticeId,
        client: ClientId,
    ) -> StoreResult<Vec<Contact>> {
        sqlx::query_as::<_, ContactRow>(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts k \
             JOIN contact_clients cc ON cc.practice_id = k.practice_id AND cc.contact_id = k.id \
             WHERE k.practice_id = $1 AND cc.client_id = $2 ORDER BY LOWER(k.name), k.id"
        ))
        .bind(practice)
        .bind(client)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Contact::try_from)
        .collect()
    }

    /// Every contact with this e-mail address, in every practice (a person
    /// may be a client of two practices on one server).
    pub async fn find_contacts_anywhere(
        &self,
        email: &EmailAddress,
    ) -> StoreResult<Vec<(Contact, Option<String>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            contact: ContactRow,
            password_hash: Option<String>,
        }
        let rows = sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            contact_columns!(),
            ", k.password_hash FROM contacts k WHERE k.email = $1 ORDER BY k.created_at, k.id"
        ))
        .bind(email.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| Ok((Contact::try_from(r.contact)?, r.password_hash)))
            .collect()
    }

    pub async fn record_contact_sign_in(
        &self,
        practice: PracticeId,
        id: ContactId,
        now: Millis,
        entry: &super::NewAudit,
    ) -> StoreResult<()> {
        self.execute_audited(
            sqlx::query(
                "UPDATE contacts SET last_sign_in_at = $3 WHERE practice_id = $1 AND id = $2",
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

    pub async fn set_contact_status(
        &self,
        practice: PracticeId,
        id: ContactId,
        status: ContactStatus,
    ) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE contacts SET status = $3 WHERE practice_id = $1 AND id = $2")
                .bind(practice)
                .bind(id)
                .bind(status.as_str())
                .execute(&self.pool)
                .await?;
        self.people_changed(practice);
        found(done.rows_affected())
    }

    /// Changes a contact's name and mobile number.
    pub async fn update_contact(
        &self,
        practice: PracticeId,
        id: ContactId,
        name: &Name,
        phone: Option<&PhoneNumber>,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE contacts SET name = $3, phone = $4 WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .bind(name.as_str())
        .bind(phone.map(PhoneNumber::as_str))
        .execute(&self.pool)
        .await?;
        self.people_changed(practice);
        found(done.rows_affected())
    }

    /// Every (contact, client) access pair of the practice (P4), in one read.
    pub async fn practice_access(
        &self,
        practice: PracticeId,
    ) -> StoreResult<Vec<(ContactId, ClientId)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT contact_id, client_id FROM contact_clients WHERE practice_id = $1",
        )
        .bind(practice)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(contact, client)| Ok((parse_id(contact)?, parse_id(client)?)))
            .collect()
    }

    /// Lets a contact open a client; granting twice is harmless. Both must
    /// belong to `practice`.
    pub async fn grant_access(
        &self,
        practice: PracticeId,
        contact: ContactId,
        client: ClientId,
    ) -> StoreResult<()> {
        self.grant_access_audited(practice, contact, client, None)
            .await
    }

    /// Gives a contact a client, with its audit entry (X2) in the same
    /// transaction when there is one.
    pub async fn grant_access_audited(
        &self,
        practice: PracticeId,
        contact: ContactId,
        client: ClientId,
        entry: Option<&super::NewAudit>,
    ) -> StoreResult<()> {
        self.get_contact(practice, contact).await?;
        self.get_client(practice, client).await?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO contact_clients (practice_id, contact_id, client_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(practice)
        .bind(contact)
        .bind(client)
        .bind(self.clock.now().0)
        .execute(&mut *tx.tx)
        .await?;
        if let Some(entry) = entry {
            tx.audit(entry).await?;
        }
        tx.commit().await
    }

    /// Takes a client away from a contact. Her chats about it (and, for a
    /// family primary, about its sub-records) are closed to her by the same
    /// commit: every read and send checks her access in the same query as
    /// her membership. Her row is written first, so that a batch of
    /// messages being written to her chats (which locks it) finishes
    /// before, or starts after.
    pub async fn revoke_access(
        &self,
        practice: PracticeId,
        contact: ContactId,
        client: ClientId,
        entry: Option<&super::NewAudit>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE contacts SET status = status WHERE practice_id = $1 AND id = $2")
            .bind(practice)
            .bind(contact)
            .execute(&mut *tx.tx)
            .await?;
        let done = sqlx::query(
            "DELETE FROM contact_clients WHERE practice_id = $1 AND contact_id = $2 AND client_id = $3",
        )
        .bind(practice)
        .bind(contact)
        .bind(client)
        .execute(&mut *tx.tx)
        .await?;
        found(done.rows_affected())?;
        if let Some(entry) = entry {
            tx.audit(entry).await?;
        }
        tx.commit().await
    }

    /// The clients a contact was given directly, by name.
    pub async fn contact_clients(
        &self,
        practice: PracticeId,
        contact: ContactId,
    ) -> StoreResult<Vec<Client>> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients c \
             JOIN contact_clients cc ON cc.practice_id = c.practice_id AND cc.client_id = c.id \
             WHERE c.practice_id = $1 AND cc.contact_id = $2 ORDER BY LOWER(c.name), c.id"
        ))
        .bind(practice)
        .bind(contact)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Client::try_from)
        .collect()
    }

    /// Every client a contact reaches in the portal: those given to them,
    /// and the sub-records of the family primaries among them (P5).
    pub async fn portal_clients(
        &self,
        practice: PracticeId,
        contact: ContactId,
    ) -> StoreResult<Vec<PortalClient>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            client: ClientRow,
            direct: i64,
        }
        let rows = sqlx::query_as::<_, Row>(concat!("SELECT ", client_columns!(), ", \
                CASE WHEN c.id IN (SELECT client_id FROM contact_clients \
                                   WHERE practice_id = $1 AND contact_id = $2) THEN 1 ELSE 0 END AS direct \
             FROM clients c \
             WHERE c.practice_id = $1 AND ( \
                c.id IN (SELECT client_id FROM contact_clients WHERE practice_id = $1 AND contact_id = $2) \
                OR c.primary_client_id IN (SELECT client_id FROM contact_clients \
                                           WHERE practice_id = $1 AND contact_id = $2)) \
             ORDER BY LOWER(c.name), c.id"))
        .bind(practice)
        .bind(contact)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let direct = r.direct != 0;
                let client = Client::try_from(r.client)?;
                Ok(PortalClient {
                    through_primary: if direct {
                        None
                    } else {
                        client.primary_client_id
                    },
                    client,
                })
            })
            .collect()
    }
}

impl super::StoreTx {
    /// A4: an invited contact becomes active (no change if already);
    /// true when she was not active before.
    pub async fn activate_contact(
        &mut self,
        practice: PracticeId,
        id: ContactId,
        now: Millis,
    ) -> StoreResult<bool> {
        let before: Option<(String,)> =
            sqlx::query_as("SELECT status FROM contacts WHERE practice_id = $1 AND id = $2")
                .bind(practice)
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await?;
        sqlx::query(
            "UPDATE contacts SET status = 'active', activated_at = COALESCE(activated_at, $3) \
             WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .bind(now.0)
        .execute(&mut *self.tx)
        .await?;
        self.people_changed(practice);
        Ok(before.is_some_and(|(status,)| status != "active"))
    }

    pub async fn set_contact_password(
        &mut self,
        practice: PracticeId,
        id: ContactId,
        hash: &str,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE contacts SET password_hash = $3 WHERE practice_id = $1 AND id = $2",
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

/// What a contact leaves behind if she is deleted (said before confirming).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContactFootprint {
    /// Chats she is in.
    pub chats: i64,
    /// Answers she gave to questions.
    pub answers: i64,
    /// Questions given to her alone.
    pub assigned: i64,
}

impl Store {
    /// Changes a contact's name, address, mobile number and time zone. An
    /// address another contact of the practice has is a conflict.
    pub async fn edit_contact(
        &self,
        practice: PracticeId,
        id: ContactId,
        name: &Name,
        email: &EmailAddress,
        phone: Option<&PhoneNumber>,
        time_zone: Option<&str>,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE contacts SET name = $3, email = $4, phone = $5, time_zone = $6 \
             WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .bind(name.as_str())
        .bind(email.as_str())
        .bind(phone.map(PhoneNumber::as_str))
        .bind(time_zone)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            StoreError::conflict_on_unique(
                e,
                "Another contact of your practice has this e-mail address.",
            )
        })?;
        self.people_changed(practice);
        found(done.rows_affected())
    }

    /// How many chats, answers and assigned questions a contact has.
    pub async fn contact_footprint(
        &self,
        practice: PracticeId,
        id: ContactId,
    ) -> StoreResult<ContactFootprint> {
        let (chats, answers, assigned): (i64, i64, i64) = sqlx::query_as(
            "SELECT \
               (SELECT COUNT(*) FROM chat_members WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2), \
               (SELECT COUNT(*) FROM question_entries WHERE practice_id = $1 AND author_kind = 'contact' \
                  AND author_id = $2 AND kind = 'answer'), \
               (SELECT COUNT(*) FROM questions WHERE practice_id = $1 AND assignee_contact_id = $2)",
        )
        .bind(practice)
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        Ok(ContactFootprint {
            chats,
            answers,
            assigned,
        })
    }

    /// Deletes a contact, in one transaction: her sessions, links, access
    /// to clients, chat memberships, waiting notifications and preferences
    /// go; questions given to her alone go back to every contact of their
    /// client; her messages and answers stay, under her name. Returns the
    /// hashes of the sessions that ended (their sockets are closed by the
    /// caller after commit).
    pub async fn delete_contact(
        &self,
        practice: PracticeId,
        id: ContactId,
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.begin().await?;
        // Her row first, as for a revoked access: a batch of messages being
        // written to her chats finishes before, or starts after.
        let locked =
            sqlx::query("UPDATE contacts SET status = status WHERE practice_id = $1 AND id = $2")
                .bind(practice)
                .bind(id)
                .execute(&mut *tx.tx)
                .await?;
        found(locked.rows_affected())?;
        let ended: Vec<(String,)> = sqlx::query_as(
            "DELETE FROM sessions WHERE practice_id = $1 AND subject_kind = 'contact' AND subject_id = $2 \
             RETURNING id_hash",
        )
        .bind(practice)
        .bind(id)
        .fetch_all(&mut *tx.tx)
        .await?;
        for sql in [
            "DELETE FROM tokens WHERE practice_id = $1 AND contact_id = $2",
            "DELETE FROM contact_clients WHERE practice_id = $1 AND contact_id = $2",
            "DELETE FROM chat_members WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2",
            "DELETE FROM notify_items WHERE practice_id = $1 AND recipient_kind = 'contact' AND recipient_id = $2",
            "DELETE FROM notify_prefs WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2",
            "DELETE FROM notify_runs WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2",
            "DELETE FROM messaging_preferences WHERE practice_id = $1 AND member_kind = 'contact' AND member_id = $2",
            "UPDATE questions SET assignee_contact_id = NULL WHERE practice_id = $1 AND assignee_contact_id = $2",
            "DELETE FROM contacts WHERE practice_id = $1 AND id = $2",
        ] {
            sqlx::query(sql)
                .bind(practice)
                .bind(id)
                .execute(&mut *tx.tx)
                .await?;
        }
        tx.people_changed(practice);
        tx.commit().await?;
        Ok(ended.into_iter().map(|(hash,)| hash).collect())
    }
}
