//! The harness's builders make the people a story needs, scoped to their
//! practice (P1, P2, P3).

use crate::harness::{PASSWORD, TestApp};
use portico::domain::Role;
use secrecy::SecretString;

#[tokio::test]
async fn builders_make_a_practice_with_its_people() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour Vale").await;
    assert!(admin.is_admin());
    let member = app
        .with_staff(practice.id, "marcus@harbourvale.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let cafe = app.with_client(practice.id, "Copperleaf Café").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[&bakery, &cafe])
        .await;

    let staff = app.store().list_staff(practice.id).await.unwrap();
    assert_eq!(
        staff.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![admin.id, member.id]
    );
    let reached = app
        .store()
        .portal_clients(practice.id, hannah.id)
        .await
        .unwrap();
    assert_eq!(reached.len(), 2);

    // The builders' password is the one the staff sign in with.
    let (_, hash) = app
        .store()
        .find_staff_for_sign_in(&portico::domain::EmailAddress::parse(&member.email).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        portico::app::password::verify_password(SecretString::from(PASSWORD), hash.unwrap()).await
    );
    assert!(app.data_dir.exists(), "the data folder is created");

    // Another practice sees none of it.
    let (other, _) = app.with_practice("Rival").await;
    assert!(
        app.store()
            .portal_clients(other.id, hannah.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(app.store().get_client(other.id, bakery.id).await.is_err());
}
