//! `portico demo`: a believable practice to look around in.

use super::{App, AppResult, password};
use crate::domain::{ClientKind, EmailAddress, Name, PhoneNumber, Role, ValidationError};
use crate::store::{NewClient, NewContact, NewStaff, Practice};
use secrecy::SecretString;

/// What the demo created, and how to sign in to it.
#[derive(Debug)]
pub struct DemoPractice {
    pub practice: Practice,
    pub admin_email: String,
    /// Shown once, to the operator who created the demo.
    pub admin_password: SecretString,
    pub member_email: String,
    pub contact_email: String,
}

pub const DEMO_ADMIN_EMAIL: &str = "olivia@harbourvale.example";

/// A random password of 16 letters and digits, easy to type.
pub fn random_password() -> SecretString {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes: [u8; 16] = rand::random();
    let text: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    SecretString::from(text)
}

fn name(text: &str) -> Result<Name, ValidationError> {
    Name::parse(text)
}

fn email(text: &str) -> Result<EmailAddress, ValidationError> {
    EmailAddress::parse(text)
}

impl App {
    /// Fills the store with one practice: two admins… staff, eight clients
    /// (one family of three), and contacts, one of whom reaches two
    /// businesses.
    pub async fn create_demo_practice(&self) -> AppResult<DemoPractice> {
        let store = &self.store;
        let admin_password = random_password();
        let hash = password::hash_password(admin_password.clone()).await?;
        let (practice, olivia) = store
            .create_practice_with_admin(
                &name("Harbour & Vale Accounting")?,
                &NewStaff {
                    email: email(DEMO_ADMIN_EMAIL)?,
                    name: name("Olivia Harbour")?,
                    role: Role::Admin,
                    password_hash: Some(hash.clone()),
                },
            )
            .await?;
        let p = practice.id;
        let marcus = store
            .create_staff(
                p,
                &NewStaff {
                    email: email("marcus@harbourvale.example")?,
                    name: name("Marcus Vale")?,
                    role: Role::Member,
                    password_hash: Some(hash.clone()),
                },
            )
            .await?;
        let priya = store
            .create_staff(
                p,
                &NewStaff {
                    email: email("priya@harbourvale.example")?,
                    name: name("Priya Natarajan")?,
                    role: Role::Member,
                    password_hash: Some(hash),
                },
            )
            .await?;

        let mut clients = Vec::new();
        for (client_name, kind, staff) in [
            ("Northwind Bakery Ltd", ClientKind::Business, &marcus),
            ("Bluegum Landscaping Pty", ClientKind::Business, &marcus),
            ("Copperleaf Café", ClientKind::Business, &priya),
            ("Dr Samuel Reyes", ClientKind::Person, &priya),
            ("Estate of H. Whitfield", ClientKind::Matter, &olivia),
            ("The Okafor Household", ClientKind::Person, &olivia),
            ("Chidi Okafor", ClientKind::Person, &olivia),
            ("Amara Okafor", ClientKind::Person, &olivia),
        ] {
            let client = store
                .create_client(
                    p,
                    &NewClient {
                        name: name(client_name)?,
                        kind,
                    },
                )
                .await?;
            store.assign_staff(p, client.id, staff.id).await?;
            clients.push(client);
        }
        let [
            northwind,
            bluegum,
            copperleaf,
            reyes,
            whitfield,
            okafor,
            chidi,
            amara,
        ] = <[_; 8]>::try_from(clients).map_err(|_| super::AppError::NotFound)?;
        store
            .set_family_primary(p, chidi.id, Some(okafor.id))
            .await?;
        store
            .set_family_primary(p, amara.id, Some(okafor.id))
            .await?;
        store.assign_staff(p, copperleaf.id, marcus.id).await?;

        let mut contacts = Vec::new();
        for (contact_name, contact_email, phone, reaches) in [
            (
                "Hannah Brooks",
                "hannah@northwindbakery.example",
                Some("+61412345678"),
                vec![&northwind, &bluegum],
            ),
            (
                "Tom Brooks",
                "tom@northwindbakery.example",
                None,
                vec![&northwind],
            ),
            (
                "Lena Fischer",
                "lena@copperleaf.example",
                Some("+61498765432"),
                vec![&copperleaf],
            ),
            (
                "Samuel Reyes",
                "sam.reyes@clinic.example",
                None,
                vec![&reyes],
            ),
            (
                "Grace Whitfield",
                "grace.whitfield@example.net",
                None,
                vec![&whitfield],
            ),
            (
                "Ngozi Okafor",
                "ngozi.okafor@example.net",
                None,
                vec![&okafor],
            ),
        ] {
            let contact = store
                .create_contact(
                    p,
                    &NewContact {
                        email: email(contact_email)?,
                        name: name(contact_name)?,
                        phone: phone.map(PhoneNumber::parse).transpose()?,
                    },
                )
                .await?;
            for client in reaches {
                store.grant_access(p, contact.id, client.id).await?;
            }
            contacts.push(contact);
        }
        // A month's questions for the bakery, so the Questions tab has something to show.
        let now = self.clock.now();
        let mut tx = store.begin().await?;
        for title in [
            "What was the payment of $412.00 on 3 October to \"ACME SUPPLIES\" for?",
            "Please upload the October bank statement for the business account.",
            "Is the delivery van leased or owned?",
        ] {
            tx.insert_question(
                p,
                &crate::store::NewQuestion {
                    client_id: northwind.id,
                    assignee: None,
                    title: title.to_owned(),
                    details: String::new(),
                    asked_by: marcus.id,
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(DemoPractice {
            practice,
            admin_email: DEMO_ADMIN_EMAIL.to_owned(),
            admin_password,
            member_email: marcus.email,
            contact_email: contacts
                .first()
                .map(|c| c.email.clone())
                .unwrap_or_default(),
        })
    }
}
