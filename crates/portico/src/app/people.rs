//! People (P1–P5, P8): clients and their assigned staff, contacts and
//! their access, families, the team, and "Send to".

use super::sessions::{ClientInfo, Started};
use super::spans::{maybe, person};
use super::{App, AppError, AppResult, password, policy};
use crate::delivery::email::{AccessEmail, EmailBrand, access_email, message_email};
use crate::domain::{
    ClientId, ClientKind, ContactId, EmailAddress, Millis, Name, PhoneNumber, Role, StaffId,
    hash_secret, issue_secret, paths,
};
use crate::store::{
    AuditKind, Channel, Client, ClientFilter, ClientSummary, Contact, ContactStatus, NewClient,
    NewContact, NewOutboxItem, NewStaff, Practice, SessionStage, SessionSubject, Staff, StoreError,
};
use secrecy::SecretString;
use tracing::instrument;

const TEAM_INVITATION_MS: i64 = 7 * 24 * 3_600_000;
/// The longest message "Send to" takes.
pub const MAX_MESSAGE_CHARS: usize = 5_000;
/// An SMS longer than this would arrive in many parts.
pub const MAX_SMS_CHARS: usize = 640;

/// A client's page: the record, its family, and who looks after it.
#[derive(Clone, Debug)]
pub struct ClientPage {
    pub client: Client,
    /// The family's primary record, when this is a sub-record.
    pub primary: Option<Client>,
    /// The sub-records, when this is a primary record.
    pub members: Vec<Client>,
    pub assigned: Vec<Staff>,
    pub team: Vec<Staff>,
    /// Records this one could join as a sub-record.
    pub possible_primaries: Vec<Client>,
    /// S3: the client's own setting, and whether its contacts may start chats.
    pub client_chats: (Option<bool>, bool),
}

/// What "Add contact" did.
#[derive(Clone, Debug)]
pub enum AddContact {
    /// A new person, invited to the portal.
    Created(Contact),
    /// The address belongs to a contact of the practice already: nobody new
    /// was made. `has_access` says whether they can open this client.
    Existing { contact: Contact, has_access: bool },
}

/// A contact with the clients they can open (All Contacts, P4).
#[derive(Clone, Debug)]
pub struct ContactWithClients {
    pub contact: Contact,
    pub clients: Vec<Client>,
}

/// How "Send to" reaches people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendChannel {
    Email,
    Sms,
}

/// Why "Send to" could not go, per field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendProblems {
    pub recipients: Option<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
}

impl SendProblems {
    pub fn is_empty(&self) -> bool {
        self.recipients.is_none() && self.subject.is_none() && self.message.is_none()
    }
}

fn admin_only(actor: &Staff) -> AppResult<()> {
    if policy::staff_may_manage_practice(actor, actor.practice_id) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

fn active(actor: &Staff) -> AppResult<()> {
    if actor.active {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

impl App {
    /// The country whose national phone numbers the actor's practice types
    /// (from its time zone), if Portico knows it.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn phone_country(&self, actor: &Staff) -> AppResult<Option<&'static str>> {
        let zone = self.store.practice_time_zone(actor.practice_id).await?;
        Ok(crate::domain::country_of_time_zone(&zone))
    }

    /// A client of the actor's practice, or "not found" for any other.
    async fn client_for(&self, actor: &Staff, id: ClientId) -> AppResult<Client> {
        let client = self.store.get_client(actor.practice_id, id).await?;
        if !policy::staff_may_open_client(actor, &client) {
            return Err(AppError::NotFound);
        }
        Ok(client)
    }

    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn list_clients(
        &self,
        actor: &Staff,
        filter: &ClientFilter,
    ) -> AppResult<Vec<ClientSummary>> {
        active(actor)?;
        Ok(self.store.list_clients(actor.practice_id, filter).await?)
    }

    /// P2: a new client, looked after by the staff user who made it.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn create_client(&self, actor: &Staff, name: &str, kind: &str) -> AppResult<Client> {
        active(actor)?;
        let mut check = super::FieldCheck::new();
        let name = check.take(Name::parse(name));
        let kind = check.take(ClientKind::parse(kind));
        check.finish()?;
        let (Some(name), Some(kind)) = (name, kind) else {
            return Err(AppError::internal(
                "could not add a client",
                "a field was lost",
            ));
        };
        let client = self
            .store
            .create_client_with(actor.practice_id, &NewClient { name, kind }, |client| {
                super::webhook_events::client_created(client, actor.id)
            })
            .await?;
        self.store
            .assign_staff(actor.practice_id, client.id, actor.id)
            .await?;
        self.webhook_wake.notify_one();
        Ok(client)
    }

    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %id
    ))]
    pub async fn client_page(&self, actor: &Staff, id: ClientId) -> AppResult<ClientPage> {
        let client = self.client_for(actor, id).await?;
        let p = actor.practice_id;
        let primary = match client.primary_client_id {
            Some(primary) => Some(self.store.get_client(p, primary).await?),
            None => None,
        };
        let members = self.store.family_members(p, client.id).await?;
        let team = self.store.list_staff(p).await?;
        let assigned_ids = self.store.assigned_staff(p, client.id).await?;
        let assigned = team
            .iter()
            .filter(|s| assigned_ids.contains(&s.id))
            .cloned()
            .collect();
        let possible_primaries = if members.is_empty() {
            self.store
                .list_clients(p, &ClientFilter::default())
                .await?
                .into_iter()
                .map(|s| s.client)
                .filter(|c| c.id != client.id && c.primary_client_id.is_none())
                .collect()
        } else {
            Vec::new()
        };
        let client_chats = (
            self.store
                .client_chats_setting(client.practice_id, client.id)
                .await?,
            self.client_may_start_chats(&client).await?,
        );
        Ok(ClientPage {
            client_chats,
            client,
            primary,
            members,
            assigned,
            team,
            possible_primaries,
        })
    }

    /// P2: the client's name and settings.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %id
    ))]
    pub async fn update_client(
        &self,
        actor: &Staff,
        id: ClientId,
        name: &str,
        assignable: bool,
    ) -> AppResult<()> {
        let client = self.client_for(actor, id).await?;
        let name = Name::parse(name)?;
        self.store
            .rename_client(actor.practice_id, client.id, &name)
            .await?;
        self.store
            .set_assignable_questions(actor.practice_id, client.id, assignable)
            .await?;
        Ok(())
    }

    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client, staff = %staff
    ))]
    pub async fn assign_staff(
        &self,
        actor: &Staff,
        client: ClientId,
        staff: StaffId,
    ) -> AppResult<()> {
        let client = self.client_for(actor, client).await?;
        let staff = self.store.get_staff(actor.practice_id, staff).await?;
        if !staff.active {
            return Err(AppError::conflict(format!(
                "{} is no longer on the team.",
                staff.name
            )));
        }
        Ok(self
            .store
            .assign_staff(actor.practice_id, client.id, staff.id)
            .await?)
    }

    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client, staff = %staff
    ))]
    pub async fn unassign_staff(
        &self,
        actor: &Staff,
        client: ClientId,
        staff: StaffId,
    ) -> AppResult<()> {
        let client = self.client_for(actor, client).await?;
        Ok(self
            .store
            .unassign_staff(actor.practice_id, client.id, staff)
            .await?)
    }

    /// P5: makes the client a sub-record of `primary`'s family, or (`None`)
    /// a record of its own again.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor),
        client = %client, primary = maybe(primary)
    ))]
    pub async fn set_family(
        &self,
        actor: &Staff,
        client: ClientId,
        primary: Option<ClientId>,
    ) -> AppResult<()> {
        let client = self.client_for(actor, client).await?;
        if let Some(primary) = primary {
            self.client_for(actor, primary).await?;
        }
        Ok(self
            .store
            .set_family_primary(actor.practice_id, client.id, primary)
            .await?)
    }

    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn client_contacts(
        &self,
        actor: &Staff,
        client: ClientId,
    ) -> AppResult<Vec<Contact>> {
        let client = self.client_for(actor, client).await?;
        Ok(self
            .store
            .client_contacts(actor.practice_id, client.id)
            .await?)
    }

    /// P3: "Add contact" on a client's Contacts tab. An address that belongs
    /// to a contact of the practice already makes nobody new.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn add_contact_to_client(
        &self,
        actor: &Staff,
        client: ClientId,
        name: &str,
        email: &str,
        phone: &str,
        origin: &ClientInfo,
    ) -> AppResult<AddContact> {
        let client = self.client_for(actor, client).await?;
        let mut check = super::FieldCheck::new();
        let email = check.take(EmailAddress::parse(email));
        if let Some(email) = &email
            && let Some(contact) = self
                .store
                .find_contact_by_email(actor.practice_id, email)
                .await?
        {
            let has_access = self
                .store
                .contact_clients(actor.practice_id, contact.id)
                .await?
                .iter()
                .any(|c| c.id == client.id);
            return Ok(AddContact::Existing {
                contact,
                has_access,
            });
        }
        let name = check.take(Name::parse(name));
        let country = self.phone_country(actor).await?;
        let phone = match phone.trim() {
            "" => None,
            text => check.take(PhoneNumber::parse_in(text, country)),
        };
        check.finish()?;
        let (Some(email), Some(name)) = (email, name) else {
            return Err(AppError::internal(
                "could not add a contact",
                "a field was lost",
            ));
        };
        let contact = match self
            .store
            .create_contact(actor.practice_id, &NewContact { email, name, phone })
            .await
        {
            Ok(contact) => contact,
            Err(StoreError::Conflict(message)) => {
                return Err(AppError::conflict(message).at("email"));
            }
            Err(other) => return Err(other.into()),
        };
        let entry = self
            .audit_entry(actor.practice_id, actor, AuditKind::AccessGiven, origin)
            .on("contact", contact.id)
            .client(Some(client.id));
        self.store
            .grant_access_audited(actor.practice_id, contact.id, client.id, Some(&entry))
            .await?;
        let practice = self.store.get_practice(actor.practice_id).await?;
        self.send_invitation(&practice, &contact, actor, origin)
            .await?;
        Ok(AddContact::Created(contact))
    }

    /// P4: an admin gives an existing contact access to a client.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), contact = %contact, client = %client
    ))]
    pub async fn grant_access(
        &self,
        actor: &Staff,
        contact: ContactId,
        client: ClientId,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        if !policy::staff_may_grant_existing_contact(actor) {
            return Err(AppError::Forbidden);
        }
        let client = self.client_for(actor, client).await?;
        let entry = self
            .audit_entry(actor.practice_id, actor, AuditKind::AccessGiven, origin)
            .on("contact", contact)
            .client(Some(client.id));
        Ok(self
            .store
            .grant_access_audited(actor.practice_id, contact, client.id, Some(&entry))
            .await?)
    }

    /// P4: an admin takes a client away from a contact.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), contact = %contact, client = %client
    ))]
    pub async fn revoke_access(
        &self,
        actor: &Staff,
        contact: ContactId,
        client: ClientId,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        if !policy::staff_may_grant_existing_contact(actor) {
            return Err(AppError::Forbidden);
        }
        let client = self.client_for(actor, client).await?;
        let entry = self
            .audit_entry(actor.practice_id, actor, AuditKind::AccessRemoved, origin)
            .on("contact", contact)
            .client(Some(client.id));
        // Their sessions stay, but what they reach is read afresh on every request.
        Ok(self
            .store
            .revoke_access(actor.practice_id, contact, client.id, Some(&entry))
            .await?)
    }

    /// Changes a contact's name and mobile number.
    pub async fn update_contact(
        &self,
        actor: &Staff,
        contact: ContactId,
        name: &str,
        phone: &str,
    ) -> AppResult<()> {
        active(actor)?;
        let name = Name::parse(name)?;
        let country = self.phone_country(actor).await?;
        let phone = match phone.trim() {
            "" => None,
            text => Some(PhoneNumber::parse_in(text, country)?),
        };
        Ok(self
            .store
            .update_contact(actor.practice_id, contact, &name, phone.as_ref())
            .await?)
    }

    /// P4: every contact with the clients they can open; admins only.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn all_contacts(
        &self,
        actor: &Staff,
    ) -> AppResult<(Vec<ContactWithClients>, Vec<Client>)> {
        admin_only(actor)?;
        let p = actor.practice_id;
        let contacts = self.store.list_contacts(p).await?;
        let clients: Vec<Client> = self
            .store
            .list_clients(p, &ClientFilter::default())
            .await?
            .into_iter()
            .map(|s| s.client)
            .collect();
        let access = self.store.practice_access(p).await?;
        let rows = contacts
            .into_iter()
            .map(|contact| {
                let clients = clients
                    .iter()
                    .filter(|c| access.contains(&(contact.id, c.id)))
                    .cloned()
                    .collect();
                ContactWithClients { contact, clients }
            })
            .collect();
        Ok((rows, clients))
    }

    // — the team (P1) —

    /// Everyone on the team, for pickers ("looked after by").
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn staff_directory(&self, actor: &Staff) -> AppResult<Vec<Staff>> {
        active(actor)?;
        Ok(self.store.list_staff(actor.practice_id).await?)
    }

    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn team(&self, actor: &Staff) -> AppResult<Vec<(Staff, bool)>> {
        admin_only(actor)?;
        Ok(self
            .store
            .list_staff_with_password(actor.practice_id)
            .await?)
    }

    /// P1: an admin adds a team member, who gets an e-mail to choose a password.
    ///
    /// A staff address is unique on the server (decision 0002). An address
    /// already on this practice's team is refused; one on another practice's
    /// team is answered exactly as a new address (nothing tells one practice
    /// about another's staff): its owner gets an e-mail saying the address
    /// already has an account elsewhere, and nothing else changes.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn invite_staff(
        &self,
        actor: &Staff,
        name: &str,
        email: &str,
        role: &str,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        admin_only(actor)?;
        let mut check = super::FieldCheck::new();
        let fields = (
            check.take(EmailAddress::parse(email)),
            check.take(Name::parse(name)),
            check.take(Role::parse(role)),
        );
        check.finish()?;
        let (Some(email), Some(name), Some(role)) = fields else {
            return Err(AppError::internal("could not invite", "a field was lost"));
        };
        let new = NewStaff {
            email,
            name,
            role,
            password_hash: None,
        };
        let practice = self.store.get_practice(actor.practice_id).await?;
        if let Some((existing, _)) = self.store.find_staff_for_sign_in(&new.email).await? {
            return self.invited_existing_staff(&practice, &existing).await;
        }
        match self
            .create_invited_staff(&practice, &new, actor, origin)
            .await
        {
            // Added by someone else since the look-up above.
            Err(AppError::Conflict { .. }) => {
                match self.store.find_staff_for_sign_in(&new.email).await? {
                    Some((existing, _)) => self.invited_existing_staff(&practice, &existing).await,
                    None => Err(AppError::internal(
                        "could not add a team member",
                        "the address clashed, then was not found",
                    )),
                }
            }
            other => other,
        }
    }

    /// A team invitation to an address that already belongs to a staff
    /// user: refused when they are on this team; otherwise the owner of the
    /// address is told, and the inviting admin sees what they see for any
    /// new address.
    async fn invited_existing_staff(&self, practice: &Practice, existing: &Staff) -> AppResult<()> {
        if existing.practice_id == practice.id {
            return Err(AppError::conflict(format!(
                "{} is already on your team with this e-mail address.",
                existing.name
            ))
            .at("email"));
        }
        let mail = access_email(
            AccessEmail::TeamAccountElsewhere,
            &existing.name,
            &EmailBrand::of(practice, &self.settings.public_url),
            &self.link("/app/sign-in"),
            "",
        )
        .map_err(|e| AppError::internal("could not write the e-mail", e))?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.enqueue(
            &NewOutboxItem {
                practice_id: Some(practice.id),
                channel: Channel::Email,
                idempotency_key: format!("staff-elsewhere-{}", uuid::Uuid::now_v7()),
                recipient: existing.email.clone(),
                subject: mail.subject,
                body_text: mail.text,
                body_html: Some(mail.html),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// The new team member, their invitation token and e-mail, in one
    /// transaction.
    async fn create_invited_staff(
        &self,
        practice: &Practice,
        new: &NewStaff,
        actor: &Staff,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        let now = self.clock.now();
        let issued = issue_secret();
        let link = self.link(&paths::staff_welcome(&issued.secret));
        // X15: a new team member has no zone yet: the practice's.
        let until = crate::local_time::Viewer::new(&practice.time_zone, now)
            .full(Millis(now.0 + TEAM_INVITATION_MS));
        let mail = access_email(
            AccessEmail::TeamInvitation,
            &new.name.to_string(),
            &EmailBrand::of(practice, &self.settings.public_url),
            &link,
            &format!("7 days ({until})"),
        )
        .map_err(|e| AppError::internal("could not write the e-mail", e))?;
        let mut tx = self.store.begin().await?;
        let staff = tx.create_staff(practice.id, new, now).await?;
        tx.insert_staff_token(
            &issued.hash,
            practice.id,
            staff.id,
            now,
            Millis(now.0 + TEAM_INVITATION_MS),
        )
        .await?;
        tx.enqueue(
            &NewOutboxItem {
                practice_id: Some(practice.id),
                channel: Channel::Email,
                idempotency_key: format!("staff-token-{}", issued.hash),
                recipient: staff.email.clone(),
                subject: mail.subject,
                body_text: mail.text,
                body_html: Some(mail.html),
            },
            now,
        )
        .await?;
        tx.audit(
            &self
                .audit_entry(practice.id, actor, AuditKind::InvitationSent, origin)
                .on("staff", staff.id)
                .detail(format!("team invitation as {}", new.role.as_str())),
        )
        .await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// Who a team invitation is for, without using it.
    #[instrument(skip_all)]
    pub async fn peek_staff_invitation(&self, secret: &str) -> AppResult<(Practice, Staff)> {
        let (practice, staff) = self
            .store
            .peek_staff_token(&hash_secret(secret), self.clock.now())
            .await?
            .ok_or_else(|| AppError::Denied(super::access::LINK_NO_GOOD.into()))?;
        let practice = self.store.get_practice(practice).await?;
        let staff = self.store.get_staff(practice.id, staff).await?;
        Ok((practice, staff))
    }

    /// A new team member chooses their password and is signed in.
    #[instrument(skip_all)]
    pub async fn accept_staff_invitation(
        &self,
        secret: &str,
        new_password: SecretString,
        client: &ClientInfo,
    ) -> AppResult<Started> {
        let (practice, staff) = self.peek_staff_invitation(secret).await?;
        if !staff.active {
            return Err(AppError::Denied(super::access::LINK_NO_GOOD.into()));
        }
        // X13: where single sign-on is required, nobody sets a password.
        if let Some(sso) = self.sso_of(practice.id).await?
            && sso.require_sso
        {
            return Err(AppError::Denied(super::sign_in::sso_required(
                &sso.display_name,
            )));
        }
        let hash =
            password::hash_new_password(new_password, &[&staff.name, &staff.email, &practice.name])
                .await?;
        let mut tx = self.store.begin().await?;
        tx.consume_staff_token(&hash_secret(secret), self.clock.now())
            .await?
            .ok_or_else(|| AppError::Denied(super::access::LINK_NO_GOOD.into()))?;
        tx.set_staff_password(practice.id, staff.id, &hash).await?;
        tx.commit().await?;
        let stage = if practice.require_totp {
            SessionStage::Enrol
        } else {
            SessionStage::Active
        };
        self.start_session(&practice, SessionSubject::Staff(staff.id), stage, client)
            .await
    }

    /// P1: an admin changes a team member's role; the last admin stays one.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), staff = %staff
    ))]
    pub async fn set_staff_role(
        &self,
        actor: &Staff,
        staff: StaffId,
        role: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        admin_only(actor)?;
        let role = Role::parse(role)?;
        let member = self.store.get_staff(actor.practice_id, staff).await?;
        if member.role == Role::Admin
            && role == Role::Member
            && member.active
            && self.store.count_active_admins(actor.practice_id).await? <= 1
        {
            return Err(AppError::conflict(
                "A practice needs at least one admin: make someone else an admin first.",
            ));
        }
        let entry = self
            .audit_entry(actor.practice_id, actor, AuditKind::RoleChanged, client)
            .on("staff", member.id)
            .detail(format!("{} to {}", member.role.as_str(), role.as_str()));
        Ok(self
            .store
            .set_staff_role(actor.practice_id, member.id, role, &entry)
            .await?)
    }

    /// P1: an admin deactivates (or reactivates) a team member; a
    /// deactivated member is signed out everywhere and cannot sign in.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), staff = %staff
    ))]
    pub async fn set_staff_active(
        &self,
        actor: &Staff,
        staff: StaffId,
        on: bool,
        client: &ClientInfo,
    ) -> AppResult<()> {
        admin_only(actor)?;
        let member = self.store.get_staff(actor.practice_id, staff).await?;
        if member.id == actor.id && !on {
            return Err(AppError::conflict("You cannot deactivate yourself."));
        }
        let kind = if on {
            AuditKind::Reactivated
        } else {
            AuditKind::Deactivated
        };
        let entry = self
            .audit_entry(actor.practice_id, actor, kind, client)
            .on("staff", member.id);
        self.store
            .set_staff_active(actor.practice_id, member.id, on, &entry)
            .await?;
        if !on {
            self.end_sessions_of(
                actor.practice_id,
                SessionSubject::Staff(member.id),
                None,
                None,
            )
            .await?;
        }
        Ok(())
    }

    /// P8: e-mails or texts chosen contacts of a client. Problems are
    /// reported per field and nothing is sent unless all is well.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client
    ))]
    pub async fn send_to_contacts(
        &self,
        actor: &Staff,
        client: ClientId,
        recipients: &[ContactId],
        channel: SendChannel,
        subject: &str,
        message: &str,
    ) -> Result<usize, SendOutcome> {
        let client = self
            .client_for(actor, client)
            .await
            .map_err(SendOutcome::Failed)?;
        let contacts = self
            .store
            .client_contacts(actor.practice_id, client.id)
            .await
            .map_err(|e| SendOutcome::Failed(e.into()))?;
        let chosen: Vec<&Contact> = contacts
            .iter()
            .filter(|c| recipients.contains(&c.id))
            .collect();
        let mut problems = SendProblems::default();
        if chosen.is_empty() || chosen.len() != recipients.len() {
            problems.recipients = Some("Choose at least one contact of this client.".into());
        }
        let message = message.trim();
        let subject = subject.trim();
        if message.is_empty() {
            problems.message = Some("Write a message.".into());
        } else if channel == SendChannel::Email && message.chars().count() > MAX_MESSAGE_CHARS {
            problems.message = Some(format!(
                "A message can be at most {MAX_MESSAGE_CHARS} characters."
            ));
        } else if channel == SendChannel::Sms && message.chars().count() > MAX_SMS_CHARS {
            problems.message = Some(format!(
                "A text message can be at most {MAX_SMS_CHARS} characters."
            ));
        }
        if channel == SendChannel::Email && subject.is_empty() {
            problems.subject = Some("Write a subject.".into());
        }
        if channel == SendChannel::Sms {
            let without: Vec<&str> = chosen
                .iter()
                .filter(|c| {
                    c.phone
                        .as_deref()
                        .is_none_or(|p| PhoneNumber::parse(p).is_err())
                })
                .map(|c| c.name.as_str())
                .collect();
            if !without.is_empty() {
                problems.recipients = Some(format!(
                    "No valid mobile number for {}. Add one first (below), then send again.",
                    without.join(", ")
                ));
            }
        }
        if let Some(invited) = chosen
            .iter()
            .find(|c| c.status == ContactStatus::Invited)
            .filter(|_| problems.recipients.is_none())
        {
            problems.recipients = Some(format!(
                "{} has not activated their account yet; send them their invitation first.",
                invited.name
            ));
        }
        if !problems.is_empty() {
            return Err(SendOutcome::Problems(problems));
        }
        let practice = self
            .store
            .get_practice(actor.practice_id)
            .await
            .map_err(|e| SendOutcome::Failed(e.into()))?;
        let now = self.clock.now();
        let batch = uuid::Uuid::now_v7();
        let portal = self.link("/portal");
        let mut tx = self
            .store
            .begin()
            .await
            .map_err(|e| SendOutcome::Failed(e.into()))?;
        for contact in &chosen {
            let item = match channel {
                SendChannel::Email => {
                    let mail = message_email(
                        subject,
                        &contact.name,
                        &actor.name,
                        &EmailBrand::of(&practice, &self.settings.public_url),
                        message,
                        &portal,
                    )
                    .map_err(|e| {
                        SendOutcome::Failed(AppError::internal("could not write the e-mail", e))
                    })?;
                    NewOutboxItem {
                        practice_id: Some(practice.id),
                        channel: Channel::Email,
                        idempotency_key: format!("send-{batch}-{}", contact.id),
                        recipient: contact.email.clone(),
                        subject: mail.subject,
                        body_text: mail.text,
                        body_html: Some(mail.html),
                    }
                }
                SendChannel::Sms => NewOutboxItem {
                    practice_id: Some(practice.id),
                    channel: Channel::Sms,
                    idempotency_key: format!("send-{batch}-{}", contact.id),
                    recipient: contact.phone.clone().unwrap_or_default(),
                    subject: String::new(),
                    body_text: format!("{message}\n— {}, {}", actor.name, practice.name),
                    body_html: None,
                },
            };
            tx.enqueue(&item, now)
                .await
                .map_err(|e| SendOutcome::Failed(e.into()))?;
        }
        tx.commit()
            .await
            .map_err(|e| SendOutcome::Failed(e.into()))?;
        self.outbox_wake.notify_one();
        Ok(chosen.len())
    }
}

impl App {
    /// P7: the contact a team member previews: one of their practice.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), contact = %contact
    ))]
    pub async fn preview_contact(&self, actor: &Staff, contact: ContactId) -> AppResult<Contact> {
        active(actor)?;
        Ok(self.store.get_contact(actor.practice_id, contact).await?)
    }

    /// P7: a question as the previewed contact sees it (read-only): only
    /// one she may see, and nothing is marked seen.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), contact = %contact, question = %question
    ))]
    pub async fn preview_thread(
        &self,
        actor: &Staff,
        contact: ContactId,
        question: crate::domain::QuestionId,
    ) -> AppResult<(Contact, super::questions::Thread)> {
        let contact = self.preview_contact(actor, contact).await?;
        let thread = self
            .thread_unseen(super::questions::Actor::Contact(&contact), question)
            .await?;
        Ok((contact, thread))
    }
}

/// "Send to" did not go.
#[derive(Debug)]
pub enum SendOutcome {
    /// Something to correct on the form.
    Problems(SendProblems),
    Failed(AppError),
}
