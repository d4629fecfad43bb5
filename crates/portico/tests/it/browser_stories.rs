//! Stories in a real browser (headless Chromium): the forms post, the
//! redirects land and the pages say what they should, as a person sees them.

use crate::browser::{RealBrowser, run_story};
use crate::harness::{PASSWORD, TestApp};

/// Signs a staff user in through the sign-in form.
async fn sign_in_as_staff(browser: &RealBrowser, email: &str) {
    browser.goto("/app/sign-in").await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.press("Sign in").await;
    browser.wait_for_path("/app").await;
}

#[tokio::test]
async fn staff_sign_in_form_keeps_the_address_after_a_wrong_password_then_welcomes() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    run_story(
        "staff_sign_in_form_keeps_the_address_after_a_wrong_password_then_welcomes",
        &app.base_url,
        |browser| async move {
            // Staff pages send a stranger to sign in.
            browser.goto("/app").await;
            browser.wait_for_path("/app/sign-in").await;
            assert_eq!(browser.text_of("h1").await, "Team sign-in");
            browser.doc_screenshot("staff-sign-in").await;

            browser.fill("#email", &admin.email).await;
            browser.fill("#password", "not the password").await;
            browser.press("Sign in").await;
            let error = browser.wait_for_text("#form-error", "do not match").await;
            assert_eq!(
                error,
                "That e-mail address and password do not match. Check them and try again."
            );
            assert_eq!(browser.current_path().await, "/app/sign-in");
            assert_eq!(
                browser.value_of("#email").await,
                admin.email,
                "the address stays typed"
            );
            assert_eq!(
                browser.value_of("#password").await,
                "",
                "the password is not sent back"
            );

            browser.fill("#password", PASSWORD).await;
            browser.press("Sign in").await;
            browser.wait_for_path("/app").await;
            assert_eq!(browser.text_of("h1").await, "Welcome, Harbour Admin");
            browser.doc_screenshot("staff-home").await;
        },
    )
    .await;
}

#[tokio::test]
async fn an_invited_contact_activates_from_the_emailed_link_on_a_phone_and_sees_their_client() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[&bakery])
        .await;
    let app = &app;
    run_story(
        "an_invited_contact_activates_from_the_emailed_link_on_a_phone_and_sees_their_client",
        &app.base_url,
        |staff| async move {
            sign_in_as_staff(&staff, &admin.email).await;
            staff.click("nav a[href='/app/contacts']").await;
            staff.wait_for_path("/app/contacts").await;
            assert!(
                staff
                    .text_of("tbody")
                    .await
                    .contains("Invited, not activated")
            );
            staff.press("Send invitation").await;
            staff
                .wait_for_text(".notice.ok", "The invitation is on its way.")
                .await;
            assert_eq!(app.deliver_mail().await, 1);
            let link = app.latest_link(&hannah.email, "/portal/invitation/").await;

            // Hannah opens it on her phone: a browser with cookies of its own.
            let phone = staff.another().await;
            phone.phone().await;
            phone.goto(&link).await;
            assert_eq!(phone.text_of("h1").await, "Activate your account");
            phone.doc_screenshot("portal-activate-phone").await;
            phone.press("Activate my account").await;
            phone
                .wait_for_path(&format!("/portal/clients/{}", bakery.id))
                .await;
            assert_eq!(phone.text_of("h1").await, "Northwind Bakery");
            assert!(phone.html().await.contains("Hello hannah"));
            phone.doc_screenshot("portal-home-phone").await;

            // The staff list shows her active, with no invitation left to send.
            staff.goto("/app/contacts").await;
            assert_eq!(staff.text_of("tbody .badge").await, "Active");
            assert!(!staff.html().await.contains("Send invitation"));
        },
    )
    .await;
}
