//! The main forms say everything that is wrong at once, each sentence by
//! its own field, with what was typed kept.

use crate::harness::TestApp;

/// The sentence shown under the field `id`, if any.
fn error_of(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}-error\">");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('<')?;
    Some(html[start..start + end].to_owned())
}

#[tokio::test]
async fn every_field_of_a_form_says_what_is_wrong_at_once() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let staff = app.staff_browser(&admin.email).await;

    // Add contact: no name, a bad address and a bad number, all three said.
    let response = staff
        .post_form(
            &format!("/app/clients/{}/contacts", bakery.id),
            &[
                ("name", " "),
                ("email", "hannah-at-northwind"),
                ("phone", "12"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(error_of(&html, "name").as_deref(), Some("Enter a name."));
    assert!(
        error_of(&html, "email")
            .unwrap()
            .starts_with("Enter an e-mail address like")
    );
    assert!(error_of(&html, "phone").unwrap().contains("mobile number"));
    assert!(html.contains("value=\"hannah-at-northwind\""));
    assert!(html.contains("value=\"12\""));
    assert!(
        app.store()
            .client_contacts(practice.id, bakery.id)
            .await
            .unwrap()
            .is_empty()
    );

    // A new client: no name and a kind that does not exist.
    let response = staff
        .post_form("/app/clients", &[("name", ""), ("kind", "galaxy")])
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(error_of(&html, "name").as_deref(), Some("Enter a name."));
    assert_eq!(
        error_of(&html, "kind").as_deref(),
        Some("A client is a business, a person or a matter.")
    );

    // Inviting a team member: name, address and role, all at once.
    let response = staff
        .post_form(
            "/app/team",
            &[("name", ""), ("email", "x"), ("role", "root")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(error_of(&html, "name").as_deref(), Some("Enter a name."));
    assert!(error_of(&html, "email").is_some(), "{html}");
    assert_eq!(
        error_of(&html, "role").as_deref(),
        Some("A role is either admin or member.")
    );

    // A question with no title and details too long.
    let long = "x".repeat(10_001);
    let response = staff
        .post_form(
            &format!("/app/clients/{}/questions", bakery.id),
            &[("title", " "), ("details", &long), ("assignee", "")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        error_of(&html, "title").as_deref(),
        Some("Write a question.")
    );
    assert_eq!(
        error_of(&html, "details").as_deref(),
        Some("Details can be at most 10000 characters.")
    );

    // One mistake alone is still said by its own field.
    let response = staff
        .post_form(
            &format!("/app/clients/{}/contacts", bakery.id),
            &[
                ("name", "Hannah"),
                ("email", "hannah@northwind.example"),
                ("phone", "12"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(error_of(&html, "phone").is_some());
    assert!(error_of(&html, "name").is_none() && error_of(&html, "email").is_none());
}
