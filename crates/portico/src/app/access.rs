//! Contacts' access (A2–A4): invitations, sign-in links, passwords and
//! their reset. Every e-mail is queued in the same transaction as the token
//! it carries.

use super::sessions::{ClientInfo, Started};
use super::sign_in::{WRONG_PASSWORD, decoy_hash};
use super::spans::person;
use super::throttle::{LINKS_PER_ADDRESS, LINKS_PER_IP, SIGN_IN_PER_ACCOUNT, SIGN_IN_PER_IP};
use super::{App, AppError, AppResult, password, policy};
use crate::delivery::email::{AccessEmail, EmailBrand, access_email};
use crate::domain::{ContactId, EmailAddress, Millis, hash_secret, issue_secret, paths};
use crate::local_time::Viewer;
use crate::store::{
    AuditActor, AuditKind, Channel, Contact, ContactStatus, NewOutboxItem, Practice, SessionStage,
    SessionSubject, Staff, TokenPurpose,
};
use secrecy::SecretString;
use tracing::instrument;

const MINUTE: i64 = 60_000;
const INVITATION_MS: i64 = 7 * 24 * 60 * MINUTE;
const SIGN_IN_LINK_MS: i64 = 15 * MINUTE;
const RESET_MS: i64 = 60 * MINUTE;

pub const LINK_NO_GOOD: &str =
    "This link has expired or has already been used. Ask for a new one below.";

fn purpose_parts(purpose: TokenPurpose) -> (AccessEmail, fn(&str) -> String, i64, &'static str) {
    match purpose {
        TokenPurpose::Invitation => (
            AccessEmail::Invitation,
            paths::portal_invitation,
            INVITATION_MS,
            "7 days",
        ),
        TokenPurpose::SignIn => (
            AccessEmail::SignInLink,
            |token| paths::portal_link(token, None),
            SIGN_IN_LINK_MS,
            "15 minutes",
        ),
        TokenPurpose::Reset => (
            AccessEmail::PasswordReset,
            paths::portal_reset,
            RESET_MS,
            "1 hour",
        ),
    }
}

impl App {
    /// Issues a token and queues the e-mail that carries it, together.
    async fn send_access_link(
        &self,
        practice: &Practice,
        contact: &Contact,
        purpose: TokenPurpose,
        by: AuditActor,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        let (kind, path, lifetime, valid_for) = purpose_parts(purpose);
        let (audit_kind, what) = match purpose {
            TokenPurpose::Invitation => (AuditKind::InvitationSent, "invitation"),
            TokenPurpose::SignIn => (AuditKind::LinkSent, "sign-in link"),
            TokenPurpose::Reset => (AuditKind::LinkSent, "password link"),
        };
        let entry = self
            .audit_entry(practice.id, by, audit_kind, origin)
            .on("contact", contact.id)
            .detail(what);
        let now = self.clock.now();
        let issued = issue_secret();
        let link = self.link(&path(&issued.secret));
        // X15: when it ends, in the recipient's own time zone.
        let time = Viewer::for_person(contact.time_zone.as_deref(), &practice.time_zone, now);
        let valid_for = format!("{valid_for} ({})", time.full(Millis(now.0 + lifetime)));
        let brand = EmailBrand::of(practice, &self.settings.public_url);
        let mail = access_email(kind, &contact.name, &brand, &link, &valid_for)
            .map_err(|e| AppError::internal("could not write the e-mail", e))?;
        let mut tx = self.store.begin().await?;
        tx.insert_token(
            &issued.hash,
            purpose,
            practice.id,
            contact.id,
            now,
            Millis(now.0 + lifetime),
        )
        .await?;
        tx.enqueue(
            &NewOutboxItem {
                practice_id: Some(practice.id),
                channel: Channel::Email,
                idempotency_key: format!("token-{}", issued.hash),
                recipient: contact.email.clone(),
                subject: mail.subject,
                body_text: mail.text,
                body_html: Some(mail.html),
            },
            now,
        )
        .await?;
        tx.audit(&entry).await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        Ok(())
    }

    async fn staff_contact(
        &self,
        actor: &Staff,
        contact: ContactId,
    ) -> AppResult<(Practice, Contact)> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        let practice = self.store.get_practice(actor.practice_id).await?;
        let contact = self.store.get_contact(practice.id, contact).await?;
        Ok((practice, contact))
    }

    /// Sends a contact their invitation (P3: on "Add contact").
    pub(super) async fn send_invitation(
        &self,
        practice: &Practice,
        contact: &Contact,
        actor: &Staff,
        origin: &ClientInfo,
    ) -> AppResult<()> {
        self.send_access_link(
            practice,
            contact,
            TokenPurpose::Invitation,
            actor.into(),
            origin,
        )
        .await
    }

    /// A4: staff (re)send a contact their invitation.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), contact = %contact
    ))]
    pub async fn invite_contact(
        &self,
        actor: &Staff,
        contact: ContactId,
        origin: &ClientInfo,
    ) -> AppResult<Contact> {
        let (practice, contact) = self.staff_contact(actor, contact).await?;
        if contact.status == ContactStatus::Active {
            return Err(AppError::conflict(format!(
                "{} has already activated their account.",
                contact.name
            )));
        }
        self.send_access_link(
            &practice,
            &contact,
            TokenPurpose::Invitation,
            actor.into(),
            origin,
        )
        .await?;
        Ok(contact)
    }

    /// A3: staff send a contact a link to set their password.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), contact = %contact
    ))]
    pub async fn send_contact_password_reset(
        &self,
        actor: &Staff,
        contact: ContactId,
        origin: &ClientInfo,
    ) -> AppResult<Contact> {
        let (practice, contact) = self.staff_contact(actor, contact).await?;
        self.send_access_link(
            &practice,
            &contact,
            TokenPurpose::Reset,
            actor.into(),
            origin,
        )
        .await?;
        Ok(contact)
    }

    /// Counts a link request against the address and the sender, refusing
    /// when either has asked too often.
    async fn throttle_link_request(
        &self,
        email: &EmailAddress,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let ip_scope = format!("links-ip:{}", client.ip);
        let address_scope = format!("links:{email}");
        self.check_throttle(&ip_scope, LINKS_PER_IP).await?;
        self.check_throttle(&address_scope, LINKS_PER_ADDRESS)
            .await?;
        self.record_attempt(&ip_scope).await?;
        self.record_attempt(&address_scope).await?;
        Ok(())
    }

    /// A2: "e-mail me a sign-in link". Active contacts get a link, invited
    /// ones a fresh invitation; unknown addresses get nothing, and the answer
    /// is the same in every case.
    #[instrument(skip_all)]
    pub async fn request_sign_in_link(&self, email: &str, client: &ClientInfo) -> AppResult<()> {
        let email = EmailAddress::parse(email)?;
        self.throttle_link_request(&email, client).await?;
        for (contact, _) in self.store.find_contacts_anywhere(&email).await? {
            let practice = self.store.get_practice(contact.practice_id).await?;
            let purpose = match contact.status {
                ContactStatus::Active => TokenPurpose::SignIn,
                ContactStatus::Invited => TokenPurpose::Invitation,
            };
            self.send_access_link(&practice, &contact, purpose, (&contact).into(), client)
                .await?;
        }
        Ok(())
    }

    /// A3: "Get help signing in": a link to set a password, for every
    /// contact with this address; the same answer whether there is one or not.
    #[instrument(skip_all)]
    pub async fn request_password_reset(&self, email: &str, client: &ClientInfo) -> AppResult<()> {
        let email = EmailAddress::parse(email)?;
        self.throttle_link_request(&email, client).await?;
        for (contact, _) in self.store.find_contacts_anywhere(&email).await? {
            let practice = self.store.get_practice(contact.practice_id).await?;
            self.send_access_link(
                &practice,
                &contact,
                TokenPurpose::Reset,
                (&contact).into(),
                client,
            )
            .await?;
        }
        Ok(())
    }

    /// A4: whether an invitation that no longer works belongs to a contact
    /// who is active already: she is told to sign in, not that it expired.
    #[instrument(skip_all)]
    pub async fn invitation_already_used(&self, secret: &str) -> AppResult<bool> {
        let Some(holder) = self
            .store
            .token_holder_any(&hash_secret(secret), TokenPurpose::Invitation)
            .await?
        else {
            return Ok(false);
        };
        match self
            .store
            .get_contact(holder.practice_id, holder.contact_id)
            .await
        {
            Ok(contact) => Ok(contact.status == ContactStatus::Active),
            Err(crate::store::StoreError::NotFound) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// The latest invitation of each contact of the actor's practice (A4).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn invitations_sent(
        &self,
        actor: &Staff,
    ) -> AppResult<Vec<crate::store::InvitationSent>> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        Ok(self.store.latest_invitations(actor.practice_id).await?)
    }

    /// Whose a link is, without using it (for the page that asks to confirm).
    #[instrument(skip_all, fields(purpose = ?purpose))]
    pub async fn peek_access_link(
        &self,
        purpose: TokenPurpose,
        secret: &str,
    ) -> AppResult<(Practice, Contact)> {
        let holder = self
            .store
            .peek_token(&hash_secret(secret), purpose, self.clock.now())
            .await?
            .ok_or_else(|| AppError::Denied(LINK_NO_GOOD.into()))?;
        let practice = self.store.get_practice(holder.practice_id).await?;
        let contact = self
            .store
            .get_contact(practice.id, holder.contact_id)
            .await?;
        Ok((practice, contact))
    }

    /// Uses an invitation or sign-in link: activates the contact if need be
    /// and signs them in.
    #[instrument(skip_all, fields(purpose = ?purpose))]
    pub async fn use_access_link(
        &self,
        purpose: TokenPurpose,
        secret: &str,
        client: &ClientInfo,
    ) -> AppResult<Started> {
        if purpose == TokenPurpose::Reset {
            return Err(AppError::Forbidden);
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let holder = tx
            .consume_token(&hash_secret(secret), purpose, now)
            .await?
            .ok_or_else(|| AppError::Denied(LINK_NO_GOOD.into()))?;
        // An invitation activates; a sign-in link is only ever sent to an
        // active contact, and following it proves the address too.
        if tx
            .activate_contact(holder.practice_id, holder.contact_id, now)
            .await?
        {
            tx.queue_webhook(&super::webhook_events::contact_activated(
                holder.practice_id,
                holder.contact_id,
                now,
            ))
            .await?;
        }
        // She is in: her other invitations and sign-in links end with this
        // one (a link that lies in a mailbox must not sign anyone in later).
        for older in [TokenPurpose::Invitation, TokenPurpose::SignIn] {
            tx.revoke_tokens(holder.practice_id, holder.contact_id, older, now)
                .await?;
        }
        tx.commit().await?;
        self.webhook_wake.notify_one();
        let practice = self.store.get_practice(holder.practice_id).await?;
        self.start_session(
            &practice,
            SessionSubject::Contact(holder.contact_id),
            SessionStage::Active,
            client,
        )
        .await
    }

    /// Uses a reset link: sets the new password, ends the contact's other
    /// sessions and older reset links, and signs them in.
    #[instrument(skip_all)]
    pub async fn reset_contact_password(
        &self,
        secret: &str,
        new_password: SecretString,
        client: &ClientInfo,
    ) -> AppResult<Started> {
        // Check the link before spending time on the hash.
        let (practice, contact) = self.peek_access_link(TokenPurpose::Reset, secret).await?;
        let hash = password::hash_new_password(
            new_password,
            &[&contact.name, &contact.email, &practice.name],
        )
        .await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let holder = tx
            .consume_token(&hash_secret(secret), TokenPurpose::Reset, now)
            .await?
            .ok_or_else(|| AppError::Denied(LINK_NO_GOOD.into()))?;
        tx.set_contact_password(holder.practice_id, holder.contact_id, &hash)
            .await?;
        if tx
            .activate_contact(holder.practice_id, holder.contact_id, now)
            .await?
        {
            tx.queue_webhook(&super::webhook_events::contact_activated(
                holder.practice_id,
                holder.contact_id,
                now,
            ))
            .await?;
        }
        // A new password ends every older link: reset links, invitations
        // and sign-in links alike.
        for older in [
            TokenPurpose::Reset,
            TokenPurpose::Invitation,
            TokenPurpose::SignIn,
        ] {
            tx.revoke_tokens(holder.practice_id, holder.contact_id, older, now)
                .await?;
        }
        tx.commit().await?;
        self.webhook_wake.notify_one();
        let subject = SessionSubject::Contact(holder.contact_id);
        self.end_sessions_of(holder.practice_id, subject, None, None)
            .await?;
        let practice = self.store.get_practice(holder.practice_id).await?;
        self.start_session(&practice, subject, SessionStage::Active, client)
            .await
    }

    /// A3: a contact who set a password signs in with it.
    #[instrument(skip_all)]
    pub async fn contact_password_sign_in(
        &self,
        email: &str,
        password_given: SecretString,
        client: &ClientInfo,
    ) -> AppResult<Started> {
        let ip_scope = format!("sign-in-ip:{}", client.ip);
        self.check_throttle(&ip_scope, SIGN_IN_PER_IP).await?;
        let email = EmailAddress::parse(email)?;
        let account_scope = format!("portal-sign-in:{email}");
        self.check_throttle(&account_scope, SIGN_IN_PER_ACCOUNT)
            .await?;
        let mut matched = None;
        let mut checked = false;
        let found = self.store.find_contacts_anywhere(&email).await?;
        let practices_tried: Vec<_> = found.iter().map(|(c, _)| c.practice_id).collect();
        for (contact, hash) in found {
            if let Some(hash) = hash {
                checked = true;
                if password::verify_password(password_given.clone(), hash).await {
                    matched = Some(contact);
                    break;
                }
            }
        }
        if !checked {
            password::verify_password(password_given, decoy_hash().await).await;
        }
        let Some(contact) = matched.filter(|c| c.status == ContactStatus::Active) else {
            self.record_attempt(&account_scope).await?;
            self.record_attempt(&ip_scope).await?;
            for practice in practices_tried {
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
        let practice = self.store.get_practice(contact.practice_id).await?;
        self.start_session(
            &practice,
            SessionSubject::Contact(contact.id),
            SessionStage::Active,
            client,
        )
        .await
    }

    /// The practice's contacts with their state, for staff (A4).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn contacts_for_staff(&self, actor: &Staff) -> AppResult<Vec<Contact>> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        Ok(self.store.list_contacts(actor.practice_id).await?)
    }

    /// The practice's outbox in one state, for admins (N3).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn outbox_for_admin(
        &self,
        actor: &Staff,
        status: crate::store::OutboxStatus,
    ) -> AppResult<Vec<crate::store::OutboxItem>> {
        if !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::Forbidden);
        }
        Ok(self
            .store
            .list_outbox(actor.practice_id, status, 200)
            .await?)
    }

    /// Puts a dead message back in the queue (admins).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn retry_outbox_item(&self, actor: &Staff, id: &str) -> AppResult<()> {
        if !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::Forbidden);
        }
        self.store
            .retry_outbox(actor.practice_id, id, self.clock.now())
            .await?;
        self.outbox_wake.notify_one();
        Ok(())
    }
}
