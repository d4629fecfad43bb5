//! The store's story (P1, P2, P3, P5): every operation, with the "not
//! found" and "another practice" cases, on SQLite always and on PostgreSQL
//! when `PORTICO_TEST_POSTGRES_URL` is set.

use crate::harness::TestDb;
use portico::domain::{ClientId, ClientKind, ContactId, EmailAddress, Name, Role, StaffId};
use portico::store::{
    ClientFilter, ContactStatus, NewClient, NewContact, NewStaff, Store, StoreError,
};

#[tokio::test]
async fn store_story_on_sqlite() {
    let db = TestDb::sqlite();
    story(db.store().await).await;
}

#[tokio::test]
async fn store_story_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set PORTICO_TEST_POSTGRES_URL so the store story runs on PostgreSQL"
        );
        eprintln!("PORTICO_TEST_POSTGRES_URL is not set: the PostgreSQL store story did not run");
        return;
    };
    story(db.store().await).await;
}

#[tokio::test]
async fn migrations_run_twice_without_harm() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    store.migrate().await.unwrap();
    assert_eq!(store.count_practices().await.unwrap(), 0);
}

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

fn new_staff(address: &str, role: Role) -> NewStaff {
    NewStaff {
        email: email(address),
        name: name(address),
        role,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into()),
    }
}

fn new_client(client_name: &str) -> NewClient {
    NewClient {
        name: name(client_name),
        kind: ClientKind::Business,
    }
}

fn new_contact(address: &str) -> NewContact {
    NewContact {
        email: email(address),
        name: name(address),
        phone: Some(portico::domain::PhoneNumber::parse("+61400000000").unwrap()),
    }
}

fn is_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound))
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

async fn story(store: Store) {
    store.ping().await.unwrap();

    // P1: practices with their staff.
    let (harbour, olivia) = store
        .create_practice_with_admin(
            &name("Harbour"),
            &new_staff("olivia@harbour.example", Role::Admin),
        )
        .await
        .unwrap();
    let (rival, rita) = store
        .create_practice_with_admin(
            &name("Rival"),
            &new_staff("rita@rival.example", Role::Admin),
        )
        .await
        .unwrap();
    let h = harbour.id;
    assert_eq!(store.get_practice(h).await.unwrap(), harbour);
    assert!(is_not_found(
        store.get_practice(portico::domain::PracticeId::new()).await
    ));
    let listed: Vec<_> = store
        .list_practices()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(listed, vec![harbour.id, rival.id]);
    assert_eq!(store.count_practices().await.unwrap(), 2);

    // A practice whose admin's e-mail is taken is not created at all.
    assert!(is_conflict(
        store
            .create_practice_with_admin(
                &name("Copycat"),
                &new_staff("OLIVIA@harbour.example", Role::Admin)
            )
            .await
    ));
    assert_eq!(store.count_practices().await.unwrap(), 2);

    let marcus = store
        .create_staff(h, &new_staff("marcus@harbour.example", Role::Member))
        .await
        .unwrap();
    assert!(is_conflict(
        store
            .create_staff(h, &new_staff("marcus@harbour.example", Role::Member))
            .await
    ));
    assert!(is_conflict(
        store
            .create_staff(rival.id, &new_staff("marcus@harbour.example", Role::Admin))
            .await
    ));
    assert_eq!(store.get_staff(h, marcus.id).await.unwrap(), marcus);
    assert!(
        is_not_found(store.get_staff(rival.id, marcus.id).await),
        "another practice's staff"
    );
    assert!(is_not_found(store.get_staff(h, StaffId::new()).await));
    let staff: Vec<_> = store
        .list_staff(h)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(staff, vec![olivia.id, marcus.id], "admins first");
    assert_eq!(store.list_staff(rival.id).await.unwrap().len(), 1);

    let (found, hash) = store
        .find_staff_for_sign_in(&email("Marcus@Harbour.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, marcus.id);
    assert!(hash.unwrap().starts_with("$argon2id$"));
    assert!(
        store
            .find_staff_for_sign_in(&email("nobody@harbour.example"))
            .await
            .unwrap()
            .is_none()
    );

    store
        .set_staff_role(h, marcus.id, Role::Admin, &crate::harness::test_entry(h))
        .await
        .unwrap();
    assert!(store.get_staff(h, marcus.id).await.unwrap().is_admin());
    assert!(is_not_found(
        store
            .set_staff_role(
                rival.id,
                marcus.id,
                Role::Member,
                &crate::harness::test_entry(rival.id)
            )
            .await
    ));
    store
        .set_staff_active(h, marcus.id, false, &crate::harness::test_entry(h))
        .await
        .unwrap();
    assert!(!store.get_staff(h, marcus.id).await.unwrap().active);
    assert!(is_not_found(
        store
            .set_staff_active(
                rival.id,
                marcus.id,
                true,
                &crate::harness::test_entry(rival.id)
            )
            .await
    ));
    store
        .set_staff_password(h, marcus.id, "$argon2id$new")
        .await
        .unwrap();
    let (_, hash) = store
        .find_staff_for_sign_in(&email("marcus@harbour.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$new"));
    assert!(is_not_found(
        store
            .set_staff_password(rival.id, marcus.id, "$argon2id$evil")
            .await
    ));

    // P2: clients, their settings and assigned staff.
    let bakery = store
        .create_client(h, &new_client("Northwind Bakery"))
        .await
        .unwrap();
    let landscaping = store
        .create_client(h, &new_client("Bluegum 100% Landscaping"))
        .await
        .unwrap();
    let theirs = store
        .create_client(rival.id, &new_client("Rival Client"))
        .await
        .unwrap();
    assert_eq!(store.get_client(h, bakery.id).await.unwrap(), bakery);
    assert!(
        is_not_found(store.get_client(rival.id, bakery.id).await),
        "another practice's client"
    );
    assert!(is_not_found(store.get_client(h, ClientId::new()).await));

    store
        .rename_client(h, bakery.id, &name("Northwind Bakery Ltd"))
        .await
        .unwrap();
    assert_eq!(
        store.get_client(h, bakery.id).await.unwrap().name,
        "Northwind Bakery Ltd"
    );
    assert!(is_not_found(
        store
            .rename_client(rival.id, bakery.id, &name("Stolen"))
            .await
    ));

    store
        .set_assignable_questions(h, bakery.id, true)
        .await
        .unwrap();
    assert!(
        store
            .get_client(h, bakery.id)
            .await
            .unwrap()
            .assignable_questions
    );
    assert!(is_not_found(
        store
            .set_assignable_questions(rival.id, bakery.id, false)
            .await
    ));

    store.assign_staff(h, bakery.id, olivia.id).await.unwrap();
    store.assign_staff(h, bakery.id, olivia.id).await.unwrap(); // twice is harmless
    store.assign_staff(h, bakery.id, marcus.id).await.unwrap();
    let mut assigned = store.assigned_staff(h, bakery.id).await.unwrap();
    assigned.sort();
    let mut expected = vec![olivia.id, marcus.id];
    expected.sort();
    assert_eq!(assigned, expected);
    assert!(
        is_not_found(store.assign_staff(h, bakery.id, rita.id).await),
        "another practice's staff"
    );
    assert!(
        is_not_found(store.assign_staff(h, theirs.id, olivia.id).await),
        "another practice's client"
    );
    assert!(is_not_found(
        store.assign_staff(rival.id, bakery.id, rita.id).await
    ));
    assert!(
        store
            .assigned_staff(rival.id, bakery.id)
            .await
            .unwrap()
            .is_empty()
    );
    store.unassign_staff(h, bakery.id, marcus.id).await.unwrap();
    assert_eq!(
        store.assigned_staff(h, bakery.id).await.unwrap(),
        vec![olivia.id]
    );
    assert!(is_not_found(
        store.unassign_staff(h, bakery.id, marcus.id).await
    ));

    let all = store
        .list_clients(h, &ClientFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|c| c.client.id).collect::<Vec<_>>(),
        vec![landscaping.id, bakery.id],
        "by name, this practice only"
    );
    let search = |text: &str| ClientFilter {
        search: Some(text.into()),
        assigned_to: None,
    };
    let hits = store.list_clients(h, &search("NORTHWIND")).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].client.id, bakery.id);
    let hits = store.list_clients(h, &search("100%")).await.unwrap();
    assert_eq!(hits.len(), 1, "% is matched literally");
    assert_eq!(hits[0].client.id, landscaping.id);
    assert!(
        store
            .list_clients(h, &search("_"))
            .await
            .unwrap()
            .is_empty(),
        "_ is matched literally"
    );
    assert!(
        store
            .list_clients(h, &search("Rival"))
            .await
            .unwrap()
            .is_empty()
    );
    let mine = store
        .list_clients(
            h,
            &ClientFilter {
                search: None,
                assigned_to: Some(olivia.id),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        mine.iter().map(|c| c.client.id).collect::<Vec<_>>(),
        vec![bakery.id]
    );

    // P3: contacts, one person per e-mail address in a practice.
    let hannah = store
        .create_contact(h, &new_contact("hannah@northwind.example"))
        .await
        .unwrap();
    assert_eq!(hannah.status, ContactStatus::Invited);
    assert!(is_conflict(
        store
            .create_contact(h, &new_contact("Hannah@Northwind.example"))
            .await
    ));
    // The same person may be a contact of another practice too.
    let hannah_elsewhere = store
        .create_contact(rival.id, &new_contact("hannah@northwind.example"))
        .await
        .unwrap();
    assert_ne!(hannah_elsewhere.id, hannah.id);
    assert_eq!(store.get_contact(h, hannah.id).await.unwrap(), hannah);
    assert!(is_not_found(store.get_contact(rival.id, hannah.id).await));
    assert!(is_not_found(store.get_contact(h, ContactId::new()).await));
    assert_eq!(
        store
            .find_contact_by_email(h, &email("hannah@northwind.example"))
            .await
            .unwrap()
            .map(|c| c.id),
        Some(hannah.id)
    );
    assert!(
        store
            .find_contact_by_email(h, &email("tom@northwind.example"))
            .await
            .unwrap()
            .is_none()
    );

    store
        .set_contact_status(h, hannah.id, ContactStatus::Active)
        .await
        .unwrap();
    assert_eq!(
        store.get_contact(h, hannah.id).await.unwrap().status,
        ContactStatus::Active
    );
    assert!(is_not_found(
        store
            .set_contact_status(rival.id, hannah.id, ContactStatus::Invited)
            .await
    ));

    store.grant_access(h, hannah.id, bakery.id).await.unwrap();
    store.grant_access(h, hannah.id, bakery.id).await.unwrap(); // twice is harmless
    store
        .grant_access(h, hannah.id, landscaping.id)
        .await
        .unwrap();
    assert!(
        is_not_found(store.grant_access(h, hannah.id, theirs.id).await),
        "another practice's client"
    );
    assert!(
        is_not_found(store.grant_access(rival.id, hannah.id, theirs.id).await),
        "another practice's contact"
    );
    let tom = store
        .create_contact(h, &new_contact("tom@northwind.example"))
        .await
        .unwrap();
    store.grant_access(h, tom.id, bakery.id).await.unwrap();

    let of_bakery: Vec<_> = store
        .client_contacts(h, bakery.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(of_bakery, vec![hannah.id, tom.id]);
    assert!(
        store
            .client_contacts(rival.id, bakery.id)
            .await
            .unwrap()
            .is_empty()
    );
    let hannahs: Vec<_> = store
        .contact_clients(h, hannah.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(hannahs, vec![landscaping.id, bakery.id]);
    assert!(
        store
            .contact_clients(rival.id, hannah.id)
            .await
            .unwrap()
            .is_empty()
    );
    let everyone: Vec<_> = store
        .list_contacts(h)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(everyone, vec![hannah.id, tom.id]);
    let counts = store
        .list_clients(h, &ClientFilter::default())
        .await
        .unwrap();
    assert_eq!(
        counts.iter().map(|c| c.contact_count).collect::<Vec<_>>(),
        vec![1, 2]
    );

    store
        .revoke_access(h, hannah.id, landscaping.id, None)
        .await
        .unwrap();
    assert!(is_not_found(
        store
            .revoke_access(h, hannah.id, landscaping.id, None)
            .await
    ));
    assert!(is_not_found(
        store
            .revoke_access(rival.id, hannah.id, bakery.id, None)
            .await
    ));
    assert_eq!(store.contact_clients(h, hannah.id).await.unwrap().len(), 1);

    // P5: families, one level deep, reached through the primary's contacts.
    let household = store
        .create_client(h, &new_client("Okafor Household"))
        .await
        .unwrap();
    let chidi = store
        .create_client(h, &new_client("Chidi Okafor"))
        .await
        .unwrap();
    let amara = store
        .create_client(h, &new_client("Amara Okafor"))
        .await
        .unwrap();
    store
        .set_family_primary(h, chidi.id, Some(household.id))
        .await
        .unwrap();
    store
        .set_family_primary(h, amara.id, Some(household.id))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_client(h, chidi.id)
            .await
            .unwrap()
            .primary_client_id,
        Some(household.id)
    );
    let members: Vec<_> = store
        .family_members(h, household.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(members, vec![amara.id, chidi.id]);
    assert!(
        is_conflict(
            store
                .set_family_primary(h, household.id, Some(household.id))
                .await
        ),
        "own primary"
    );
    assert!(
        is_conflict(store.set_family_primary(h, bakery.id, Some(chidi.id)).await),
        "a sub-record as primary"
    );
    assert!(
        is_conflict(
            store
                .set_family_primary(h, household.id, Some(bakery.id))
                .await
        ),
        "a primary joining"
    );
    assert!(
        is_not_found(
            store
                .set_family_primary(h, bakery.id, Some(theirs.id))
                .await
        ),
        "another practice's primary"
    );
    assert!(
        is_not_found(store.set_family_primary(rival.id, chidi.id, None).await),
        "another practice's record"
    );
    let listed = store.list_clients(h, &search("Chidi")).await.unwrap();
    assert_eq!(listed[0].primary_name.as_deref(), Some("Okafor Household"));

    let ngozi = store
        .create_contact(h, &new_contact("ngozi@okafor.example"))
        .await
        .unwrap();
    store.grant_access(h, ngozi.id, household.id).await.unwrap();
    let portal = store.portal_clients(h, ngozi.id).await.unwrap();
    let reached: Vec<_> = portal
        .iter()
        .map(|p| (p.client.id, p.through_primary))
        .collect();
    assert_eq!(
        reached,
        vec![
            (amara.id, Some(household.id)),
            (chidi.id, Some(household.id)),
            (household.id, None),
        ]
    );
    // A contact of one family member does not reach the rest of the family.
    let chidis = store
        .create_contact(h, &new_contact("chidi@okafor.example"))
        .await
        .unwrap();
    store.grant_access(h, chidis.id, chidi.id).await.unwrap();
    let portal = store.portal_clients(h, chidis.id).await.unwrap();
    assert_eq!(
        portal.iter().map(|p| p.client.id).collect::<Vec<_>>(),
        vec![chidi.id]
    );
    assert!(
        store
            .portal_clients(rival.id, ngozi.id)
            .await
            .unwrap()
            .is_empty()
    );

    // Leaving a family takes the sub-record out of the primary's portal.
    store.set_family_primary(h, amara.id, None).await.unwrap();
    let portal = store.portal_clients(h, ngozi.id).await.unwrap();
    assert_eq!(portal.len(), 2);
    assert!(portal.iter().all(|p| p.client.id != amara.id));

    // A practice may start without staff (an operator adds them later).
    let empty = store
        .create_practice(&name("Empty Practice"))
        .await
        .unwrap();
    assert!(store.list_staff(empty.id).await.unwrap().is_empty());
    assert!(
        store
            .list_clients(empty.id, &ClientFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count_practices().await.unwrap(), 3);
}
