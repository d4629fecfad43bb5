//! Mobile numbers typed as people dial them, read with the practice's
//! country; new passwords checked for how easy they are to guess.

use crate::harness::{TestApp, active, location};
use portico::domain::Role;

#[tokio::test]
async fn national_mobile_numbers_are_read_with_the_practices_country() {
    let app = TestApp::spawn().await;
    let (sydney, sydney_admin) = app.with_practice("Harbour").await;
    app.store()
        .set_practice_time_zone(
            sydney.id,
            "Australia/Sydney",
            &crate::harness::test_entry(sydney.id),
        )
        .await
        .unwrap();
    let bakery = app.with_client(sydney.id, "Northwind Bakery").await;
    let staff = app.staff_browser(&sydney_admin.email).await;
    let response = staff
        .post_form(
            &format!("/app/clients/{}/contacts", bakery.id),
            &[
                ("name", "Hannah Brooks"),
                ("email", "hannah@northwind.example"),
                ("phone", "0412 345 678"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let contacts = app
        .store()
        .client_contacts(sydney.id, bakery.id)
        .await
        .unwrap();
    assert_eq!(contacts[0].phone.as_deref(), Some("+61412345678"));

    // A number that is no Australian mobile is refused, saying how to type it.
    let response = staff
        .post_form(
            &format!("/app/clients/{}/contacts", bakery.id),
            &[
                ("name", "Tom"),
                ("email", "tom@northwind.example"),
                ("phone", "0412 345"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("as it is dialled in Australia"), "{html}");

    // A practice whose country Portico cannot tell (UTC) takes international
    // numbers only.
    let (other, other_admin) = app.with_practice("Elsewhere").await;
    let client = app.with_client(other.id, "Far Away Ltd").await;
    let staff = app.staff_browser(&other_admin.email).await;
    let response = staff
        .post_form(
            &format!("/app/clients/{}/contacts", client.id),
            &[
                ("name", "Olly"),
                ("email", "olly@faraway.example"),
                ("phone", "0412 345 678"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("in international format, starting with + and the country code")
    );
    let response = staff
        .post_form(
            &format!("/app/clients/{}/contacts", client.id),
            &[
                ("name", "Olly"),
                ("email", "olly@faraway.example"),
                ("phone", "+44 7400 123456"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn new_passwords_that_are_easy_to_guess_are_refused_with_what_would_help() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let staff = app.staff_browser(&admin.email).await;
    staff
        .post_form(&format!("/app/contacts/{}/password-reset", hannah.id), &[])
        .await;
    let link = app.latest_link(&hannah.email, "/portal/reset/").await;
    let browser = app.browser();

    // Long enough, but guessable: refused with zxcvbn's advice, the link
    // still good.
    for weak in ["password1234", "qwertyuiop12", "hannahnorthwind"] {
        let response = browser
            .post_form(&link, &[("password", weak), ("confirm", weak)])
            .await;
        assert_eq!(response.status(), 422, "{weak}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("This password is too easy to guess."),
            "{weak}: {html}"
        );
    }
    let (status, html) = browser.page(&link).await;
    assert_eq!(status, 200, "the link still works");
    assert!(html.contains("must be hard to guess"));
    let response = browser
        .post_form(
            &link,
            &[
                ("password", "kettle orbit lantern"),
                ("confirm", "kettle orbit lantern"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/portal");

    // A new team member's password too.
    let response = staff
        .post_form(
            "/app/team",
            &[
                ("name", "Priya Nair"),
                ("email", "priya@harbour.example"),
                ("role", Role::Member.as_str()),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let link = app
        .latest_link("priya@harbour.example", "/app/welcome/")
        .await;
    let priya = app.browser();
    let response = priya
        .post_form(
            &link,
            &[("password", "password1234"), ("confirm", "password1234")],
        )
        .await;
    assert_eq!(response.status(), 422, "{}", location(&response));
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("This password is too easy to guess.")
    );
}
