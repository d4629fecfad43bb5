//! P3: a contact's details edited by staff, and a contact deleted by an
//! admin (access and sessions end at once; what she wrote stays).

use super::spans::person;
use super::{App, AppError, AppResult, FieldCheck, policy};
use crate::domain::{ContactId, EmailAddress, Name, PhoneNumber};
use crate::store::{
    Client, Contact, ContactFootprint, InvitationSent, Staff, StoreError, TokenPurpose,
};
use tracing::instrument;

/// A contact as her edit page shows her.
#[derive(Clone, Debug)]
pub struct ContactDetails {
    pub contact: Contact,
    /// The clients she was given.
    pub clients: Vec<Client>,
    pub footprint: ContactFootprint,
    pub invitation: Option<InvitationSent>,
}

/// What staff typed on a contact's edit page.
#[derive(Clone, Debug, Default)]
pub struct ContactEdit {
    pub name: String,
    pub email: String,
    pub phone: String,
    /// Empty: the practice's.
    pub time_zone: String,
}

impl App {
    /// A contact of the actor's practice, with what her pages show.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), contact = %id
    ))]
    pub async fn contact_details(&self, actor: &Staff, id: ContactId) -> AppResult<ContactDetails> {
        if !actor.active {
            return Err(AppError::Forbidden);
        }
        let p = actor.practice_id;
        let contact = self.store.get_contact(p, id).await?;
        let clients = self.store.contact_clients(p, id).await?;
        let footprint = self.store.contact_footprint(p, id).await?;
        let invitation = self
            .store
            .latest_invitations(p)
            .await?
            .into_iter()
            .find(|i| i.contact_id == id);
        Ok(ContactDetails {
            contact,
            clients,
            footprint,
            invitation,
        })
    }

    /// P3: staff change a contact's name, address, mobile number (national
    /// form in the practice's country) and time zone; every field is
    /// checked before refusing. A new address ends the links sent to the
    /// old one.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), contact = %id
    ))]
    pub async fn edit_contact(
        &self,
        actor: &Staff,
        id: ContactId,
        edit: &ContactEdit,
    ) -> AppResult<()> {
        let before = self.contact_details(actor, id).await?.contact;
        let country = self.phone_country(actor).await?;
        let mut check = FieldCheck::new();
        let name = check.take(Name::parse(&edit.name));
        let email = check.take(EmailAddress::parse(&edit.email));
        let phone = match edit.phone.trim() {
            "" => None,
            text => check.take(PhoneNumber::parse_in(text, country)),
        };
        let time_zone = match edit.time_zone.trim() {
            "" => None,
            zone => match super::reminders::valid_zone(zone) {
                Ok(zone) => Some(zone),
                Err(AppError::Invalid(e)) => {
                    check.refuse(e.at("time_zone"));
                    None
                }
                Err(other) => return Err(other),
            },
        };
        check.finish()?;
        let (Some(name), Some(email)) = (name, email) else {
            return Err(AppError::internal(
                "could not edit a contact",
                "a field was lost",
            ));
        };
        match self
            .store
            .edit_contact(
                actor.practice_id,
                id,
                &name,
                &email,
                phone.as_ref(),
                time_zone.as_deref(),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(message)) => {
                return Err(AppError::conflict(message).at("email"));
            }
            Err(other) => return Err(other.into()),
        }
        if before.email != email.as_str() {
            // Links in the old mailbox must not work any more.
            let now = self.clock.now();
            let mut tx = self.store.begin().await?;
            for purpose in [
                TokenPurpose::Invitation,
                TokenPurpose::SignIn,
                TokenPurpose::Reset,
            ] {
                tx.revoke_tokens(actor.practice_id, id, purpose, now)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// P3: an admin deletes a contact. Her access and sessions end at once
    /// (open pages close on every instance); her messages and answers stay
    /// with the practice under her name; questions given to her alone go
    /// back to every contact of their client.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), contact = %id
    ))]
    pub async fn delete_contact(&self, actor: &Staff, id: ContactId) -> AppResult<Contact> {
        if !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::Forbidden);
        }
        let contact = self.store.get_contact(actor.practice_id, id).await?;
        let ended = self.store.delete_contact(actor.practice_id, id).await?;
        self.live.end_sessions(ended);
        // Nothing of hers is left to notify; the job looks again.
        self.notify_wake.notify_one();
        Ok(contact)
    }
}
