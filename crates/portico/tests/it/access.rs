//! Access (A1–A6): staff and contact sign-in, two-factor, invitations,
//! links and passwords, sessions, throttling and CSRF, with every "no".

use crate::harness::{PASSWORD, Page, TestApp, location, totp_key};
use portico::app::two_factor::current_code;
use portico::domain::Role;
use std::time::Duration;

/// The key shown under the QR code of the two-factor page.
#[tokio::test]
async fn staff_sign_in_and_sign_out() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let browser = app.browser();

    // Not signed in: staff pages send you to sign in.
    let response = browser.get("/app").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app/sign-in");

    // A wrong password is refused, the address kept, nothing said of which was wrong.
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", "not the password")],
        )
        .await;
    assert_eq!(response.status(), 401);
    let html = response.text().await.unwrap();
    assert!(html.contains("That e-mail address and password do not match."));
    assert_eq!(
        Page::parse(&html).attr("input#email", "value"),
        Some(admin.email.clone())
    );
    assert!(browser.cookie("portico_session").is_none());

    // An unknown address gets the very same answer.
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", "nobody@harbour.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("That e-mail address and password do not match.")
    );

    let response = browser
        .post_form(
            "/app/sign-in",
            &[
                ("email", &admin.email.to_uppercase()),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app");
    let cookie = browser.cookie("portico_session").expect("session cookie");
    let (status, html) = browser.page("/app").await;
    assert_eq!(status, 200);
    assert!(html.contains("Welcome, Harbour Admin"));

    // Signing out ends the session on the server: the old cookie is worthless.
    let response = browser.post_form("/sign-out", &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app/sign-in");
    let replay = app
        .http
        .get(app.url("/app"))
        .header("cookie", format!("portico_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303, "a session after sign-out");
    assert_eq!(location(&replay), "/app/sign-in");
}

#[tokio::test]
async fn sign_in_gives_a_new_session_id_and_ends_the_old_one() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let browser = app.staff_browser(&admin.email).await;
    let first = browser.cookie("portico_session").unwrap();
    browser
        .post_form(
            "/app/sign-in",
            &[("email", &member.email), ("password", PASSWORD)],
        )
        .await;
    let second = browser.cookie("portico_session").unwrap();
    assert_ne!(first, second);
    let replay = app
        .http
        .get(app.url("/app"))
        .header("cookie", format!("portico_session={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
}

#[tokio::test]
async fn sessions_end_when_idle_and_at_their_absolute_end() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let browser = app.staff_browser(&admin.email).await;
    app.clock.advance(Duration::from_secs(11 * 3600));
    assert_eq!(
        browser.get("/app").await.status(),
        200,
        "used within the idle limit"
    );
    app.clock.advance(Duration::from_secs(13 * 3600));
    let response = browser.get("/app").await;
    assert_eq!(response.status(), 303, "idle for 13 hours");

    let browser = app.staff_browser(&admin.email).await;
    for _ in 0..20 {
        app.clock.advance(Duration::from_secs(11 * 3600));
        if browser.get("/app").await.status() != 200 {
            break;
        }
    }
    assert_eq!(
        browser.get("/app").await.status(),
        303,
        "past the 7-day absolute end"
    );
}

#[tokio::test]
async fn wrong_passwords_are_throttled_per_account() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let browser = app.browser();
    for _ in 0..5 {
        let response = browser
            .post_form(
                "/app/sign-in",
                &[("email", &admin.email), ("password", "wrong wrong wrong")],
            )
            .await;
        assert_eq!(response.status(), 401);
    }
    // Even the right password waits now.
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 429);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Too many attempts. Try again in 15 minutes.")
    );
    app.clock.advance(Duration::from_secs(10 * 60));
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Try again in 5 minutes.")
    );
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn two_factor_enrolment_sign_in_and_recovery_codes() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let browser = app.staff_browser(&admin.email).await;

    let (status, html) = browser.page("/app/two-factor").await;
    assert_eq!(status, 200);
    assert!(html.contains("data:image/png;base64,"), "a QR code");
    let key = totp_key(&html);
    // A reload shows the same key until it is confirmed.
    assert_eq!(totp_key(&browser.page("/app/two-factor").await.1), key);

    let response = browser
        .post_form("/app/two-factor", &[("code", "000000")])
        .await;
    assert_eq!(response.status(), 401);
    let code = current_code(&key, app.clock.now()).unwrap();
    let response = browser
        .post_form("/app/two-factor", &[("code", &code)])
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Your recovery codes"));
    let recovery: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    browser.post_form("/sign-out", &[]).await;

    // Now sign-in asks for a code.
    let browser = app.browser();
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&response), "/app/sign-in/code");
    let half = browser.cookie("portico_session").unwrap();
    let response = browser.get("/app").await;
    assert_eq!(
        location(&response),
        "/app/sign-in/code",
        "nothing before the code"
    );
    let response = browser
        .post_form("/app/sign-in/code", &[("code", "123456")])
        .await;
    assert_eq!(response.status(), 401, "a wrong code");
    // The code used at enrolment cannot be used again.
    let response = browser
        .post_form("/app/sign-in/code", &[("code", &code)])
        .await;
    assert_eq!(response.status(), 401, "a replayed code");
    app.clock.advance(Duration::from_secs(30));
    let code = current_code(&key, app.clock.now()).unwrap();
    let response = browser
        .post_form("/app/sign-in/code", &[("code", &code)])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/app");
    assert_ne!(
        browser.cookie("portico_session").unwrap(),
        half,
        "a new id after the code"
    );
    assert_eq!(browser.get("/app").await.status(), 200);

    // A recovery code works once.
    for (attempt, expected) in [(1, 303), (2, 401)] {
        let other = app.browser();
        other
            .post_form(
                "/app/sign-in",
                &[("email", &admin.email), ("password", PASSWORD)],
            )
            .await;
        let response = other
            .post_form(
                "/app/sign-in/code",
                &[("code", &recovery[0].to_uppercase())],
            )
            .await;
        assert_eq!(
            response.status(),
            expected,
            "recovery code, attempt {attempt}"
        );
    }
}

#[tokio::test]
async fn wrong_codes_are_throttled() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let browser = app.staff_browser(&admin.email).await;
    let key = totp_key(&browser.page("/app/two-factor").await.1);
    let code = current_code(&key, app.clock.now()).unwrap();
    browser
        .post_form("/app/two-factor", &[("code", &code)])
        .await;
    browser.post_form("/sign-out", &[]).await;

    let browser = app.browser();
    browser
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    for _ in 0..5 {
        let response = browser
            .post_form("/app/sign-in/code", &[("code", "999999")])
            .await;
        assert_eq!(response.status(), 401);
    }
    app.clock.advance(Duration::from_secs(60));
    let code = current_code(&key, app.clock.now()).unwrap();
    let response = browser
        .post_form("/app/sign-in/code", &[("code", &code)])
        .await;
    assert_eq!(response.status(), 429);
}

#[tokio::test]
async fn a_practice_can_require_two_factor_sign_in() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;

    // Members may not change practice settings.
    let member_browser = app.staff_browser(&member.email).await;
    assert_eq!(member_browser.get("/app/settings").await.status(), 403);
    let response = member_browser
        .post_form("/app/settings/security", &[("require_totp", "on")])
        .await;
    assert_eq!(response.status(), 403);
    assert!(
        !app.store()
            .get_practice(practice.id)
            .await
            .unwrap()
            .require_totp
    );

    let admin_browser = app.staff_browser(&admin.email).await;
    let response = admin_browser
        .post_form("/app/settings/security", &[("require_totp", "on")])
        .await;
    assert_eq!(response.status(), 303);
    assert!(
        app.store()
            .get_practice(practice.id)
            .await
            .unwrap()
            .require_totp
    );

    // The member must set it up before anything else.
    let browser = app.browser();
    let response = browser
        .post_form(
            "/app/sign-in",
            &[("email", &member.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&response), "/app/two-factor");
    assert_eq!(
        location(&browser.get("/app/contacts").await),
        "/app/two-factor"
    );
    let (_, html) = browser.page("/app/two-factor").await;
    assert!(html.contains("Your practice requires two-factor sign-in."));
    let code = current_code(&totp_key(&html), app.clock.now()).unwrap();
    let response = browser
        .post_form("/app/two-factor", &[("code", &code)])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(browser.get("/app/contacts").await.status(), 200);
    // And cannot turn it off.
    let response = browser.post_form("/app/two-factor/disable", &[]).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_contact_is_invited_activates_and_signs_in() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[&bakery])
        .await;
    let staff = app.staff_browser(&admin.email).await;

    let (_, html) = staff.page("/app/contacts").await;
    assert_eq!(
        Page::parse(&html).row("tbody tr", "hannah")[2],
        "Invited, not activated"
    );
    let response = staff
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    assert_eq!(location(&response), "/app/contacts?done=invited");

    // The e-mail lands in the outbox folder with the link.
    assert_eq!(app.deliver_mail().await, 1);
    let files = app.mail_files();
    assert_eq!(files.len(), 1);
    let eml = &files[0];
    assert!(eml.contains("To: hannah@northwind.example"));
    assert!(eml.contains("Subject: Harbour invites you to their client portal"));
    assert!(eml.contains("Content-Type: text/html"));
    let link = app.latest_link(&hannah.email, "/portal/invitation/").await;
    assert!(
        eml.contains(&format!("{}{link}", app.base_url)),
        "the whole link is in the e-mail"
    );

    // Opening the link asks to confirm; only the button uses it.
    let contact = app.browser();
    let (status, html) = contact.page(&link).await;
    assert_eq!(status, 200);
    assert!(html.contains("Harbour invites you"));
    let (status, _) = contact.page(&link).await;
    assert_eq!(status, 200, "looking twice does not use it up");
    let response = contact.post_form(&link, &[]).await;
    assert_eq!(location(&response), "/portal");
    let (status, html) = contact.follow("/portal").await;
    assert_eq!(status, 200);
    assert!(html.contains("Northwind Bakery"));

    // Used once, it is used up: followed again, it says to sign in.
    let other = app.browser();
    let (status, html) = other.page(&link).await;
    assert_eq!(status, 410);
    assert!(html.contains("You have already activated your account"));
    let response = other.post_form(&link, &[]).await;
    assert_eq!(response.status(), 410);

    let (_, html) = staff.page("/app/contacts").await;
    assert!(!html.contains("Invited, not activated"));
    assert_eq!(Page::parse(&html).row("tbody tr", "hannah")[2], "Active");
    // An active contact is not invited again.
    let response = staff
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    assert_eq!(response.status(), 409);
}

#[tokio::test]
async fn an_expired_invitation_is_refused() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[])
        .await;
    let staff = app.staff_browser(&admin.email).await;
    staff
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    let link = app.latest_link(&hannah.email, "/portal/invitation/").await;
    app.clock.advance(Duration::from_secs(8 * 24 * 3600));
    let contact = app.browser();
    assert_eq!(contact.page(&link).await.0, 410);
    assert_eq!(contact.post_form(&link, &[]).await.status(), 410);
    assert!(contact.cookie("portico_session").is_none());
}

#[tokio::test]
async fn staff_cannot_invite_another_practices_contact() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let (rival, _) = app.with_practice("Rival").await;
    let theirs = app.with_contact(rival.id, "them@rival.example", &[]).await;
    let staff = app.staff_browser(&admin.email).await;
    for action in ["invite", "password-reset"] {
        let response = staff
            .post_form(&format!("/app/contacts/{}/{action}", theirs.id), &[])
            .await;
        assert_eq!(response.status(), 404, "{action}");
    }
    let response = staff.post_form("/app/contacts/not-an-id/invite", &[]).await;
    assert_eq!(response.status(), 404);
    assert!(
        app.store()
            .outbox_for(&theirs.email)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn sign_in_links_answer_the_same_for_known_and_unknown_addresses() {
    let app = TestApp::spawn().await;
    let (practice, _) = app.with_practice("Harbour").await;
    let (rival, _) = app.with_practice("Rival").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let theirs = app.with_client(rival.id, "Rival Client").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[&bakery])
        .await;
    // The same person is also a contact of another practice, still invited there.
    app.with_contact(rival.id, "hannah@northwind.example", &[&theirs])
        .await;
    app.store()
        .set_contact_status(
            practice.id,
            hannah.id,
            portico::store::ContactStatus::Active,
        )
        .await
        .unwrap();

    let browser = app.browser();
    let known = browser
        .post_form(
            "/portal/sign-in/link",
            &[("email", "Hannah@Northwind.example")],
        )
        .await;
    assert_eq!(known.status(), 200);
    let known = known.text().await.unwrap();
    let unknown = browser
        .post_form(
            "/portal/sign-in/link",
            &[("email", "nobody@northwind.example")],
        )
        .await;
    assert_eq!(unknown.status(), 200);
    let unknown = unknown.text().await.unwrap();
    assert_eq!(
        known.replace("Hannah@Northwind.example", "X"),
        unknown.replace("nobody@northwind.example", "X"),
        "the answer never tells whether an address is known"
    );
    assert!(
        app.store()
            .outbox_for("nobody@northwind.example")
            .await
            .unwrap()
            .is_empty()
    );

    // One message per practice: a sign-in link where active, an invitation where not.
    let mail = app
        .store()
        .outbox_for("hannah@northwind.example")
        .await
        .unwrap();
    assert_eq!(mail.len(), 2);
    assert!(
        mail.iter()
            .any(|m| m.subject == "Your sign-in link for Harbour")
    );
    assert!(
        mail.iter()
            .any(|m| m.subject == "Rival invites you to their client portal")
    );

    // The link signs in to its own practice only.
    let link = app.latest_link(&hannah.email, "/portal/link/").await;
    let contact = app.browser();
    contact.post_form(&link, &[]).await;
    let (status, html) = contact.follow("/portal").await;
    assert_eq!(status, 200);
    assert!(html.contains("Northwind Bakery"));
    assert!(!html.contains("Rival Client"));
    // Once.
    assert_eq!(app.browser().post_form(&link, &[]).await.status(), 410);
    // And it expires.
    browser
        .post_form("/portal/sign-in/link", &[("email", &hannah.email)])
        .await;
    let link = app.latest_link(&hannah.email, "/portal/link/").await;
    app.clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(app.browser().post_form(&link, &[]).await.status(), 410);
    // A link is not a reset link nor an invitation.
    let token = link.trim_start_matches("/portal/link/");
    assert_eq!(
        app.browser()
            .page(&format!("/portal/reset/{token}"))
            .await
            .0,
        410
    );
}

#[tokio::test]
async fn link_requests_are_throttled() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    for _ in 0..5 {
        let response = browser
            .post_form("/portal/sign-in/link", &[("email", "someone@example.com")])
            .await;
        assert_eq!(response.status(), 200);
    }
    let response = browser
        .post_form("/portal/help", &[("email", "someone@example.com")])
        .await;
    assert_eq!(response.status(), 429);
    let html = response.text().await.unwrap();
    assert!(html.contains("Too many attempts. Try again in"));
    assert_eq!(
        Page::parse(&html).attr("input#email", "value").as_deref(),
        Some("someone@example.com"),
        "the form keeps what was typed"
    );
}

#[tokio::test]
async fn a_contact_sets_a_password_from_a_reset_link() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[&bakery])
        .await;

    // A session from before the reset…
    let staff = app.staff_browser(&admin.email).await;
    staff
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    let earlier = app.browser();
    earlier
        .post_form(
            &app.latest_link(&hannah.email, "/portal/invitation/").await,
            &[],
        )
        .await;
    assert_eq!(earlier.follow("/portal").await.0, 200);

    // "Get help signing in".
    let browser = app.browser();
    let (status, html) = browser.page("/portal/help").await;
    assert_eq!(status, 200);
    assert!(html.contains("Get help signing in"));
    let response = browser
        .post_form("/portal/help", &[("email", &hannah.email)])
        .await;
    assert!(response.text().await.unwrap().contains("Check your e-mail"));
    let link = app.latest_link(&hannah.email, "/portal/reset/").await;

    let response = browser
        .post_form(
            &link,
            &[
                ("password", "a good long passphrase"),
                ("confirm", "a different one"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("The two passwords are not the same.")
    );
    let response = browser
        .post_form(&link, &[("password", "short"), ("confirm", "short")])
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("at least 10 characters")
    );
    let response = browser
        .post_form(
            &link,
            &[
                ("password", "a good long passphrase"),
                ("confirm", "a good long passphrase"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/portal");
    assert_eq!(browser.follow("/portal").await.0, 200);
    // The earlier session ended with the new password; the link is used up.
    assert_eq!(location(&earlier.get("/portal").await), "/portal/sign-in");
    assert_eq!(app.browser().page(&link).await.0, 410);

    // The password now signs in; a wrong one does not.
    let fresh = app.browser();
    let response = fresh
        .post_form(
            "/portal/sign-in",
            &[("email", &hannah.email), ("password", "wrong password!!")],
        )
        .await;
    assert_eq!(response.status(), 401);
    let response = fresh
        .post_form(
            "/portal/sign-in",
            &[
                ("email", &hannah.email),
                ("password", "a good long passphrase"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/portal");

    // Staff can send the link too.
    let response = staff
        .post_form(&format!("/app/contacts/{}/password-reset", hannah.id), &[])
        .await;
    assert_eq!(location(&response), "/app/contacts?done=reset");
    let staff_link = app.latest_link(&hannah.email, "/portal/reset/").await;
    assert_ne!(staff_link, link);
    assert_eq!(app.browser().page(&staff_link).await.0, 200);
}

#[tokio::test]
async fn forms_without_the_token_or_from_another_site_are_refused() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let browser = app.browser();
    let csrf = browser.csrf().await;
    let post = |origin: Option<&str>, token: Option<&str>| {
        let mut form = vec![
            ("email", admin.email.clone()),
            ("password", PASSWORD.to_owned()),
        ];
        if let Some(token) = token {
            form.push(("csrf", token.to_owned()));
        }
        let mut request = browser.client.post(browser.url("/app/sign-in")).form(&form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let base = app.base_url.clone();
    let missing = post(Some(&base), None).await.unwrap();
    assert_eq!(missing.status(), 403);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("This form has expired.")
    );
    assert_eq!(
        post(Some(&base), Some("x".repeat(43).as_str()))
            .await
            .unwrap()
            .status(),
        403
    );
    let cross = post(Some("https://evil.example"), Some(&csrf))
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    assert!(
        cross
            .text()
            .await
            .unwrap()
            .contains("sent from another site")
    );
    assert_eq!(
        post(None, Some(&csrf)).await.unwrap().status(),
        403,
        "no Origin nor Referer"
    );
    assert!(browser.cookie("portico_session").is_none());
    // The same request from the page itself goes through.
    assert_eq!(post(Some(&base), Some(&csrf)).await.unwrap().status(), 303);
}

#[tokio::test]
async fn each_side_stays_on_its_own_side() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[])
        .await;
    let staff = app.staff_browser(&admin.email).await;
    staff
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    let contact = app.browser();
    contact
        .post_form(
            &app.latest_link(&hannah.email, "/portal/invitation/").await,
            &[],
        )
        .await;

    for path in [
        "/app",
        "/app/contacts",
        "/app/settings",
        "/app/settings/outbox",
        "/app/account",
    ] {
        let (status, html) = contact.page(path).await;
        assert_eq!(status, 403, "a contact on {path}");
        assert!(html.contains("This page is for the practice"), "{path}");
    }
    let response = contact
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(staff.page("/portal").await.0, 403, "staff in the portal");
    let anonymous = app.browser();
    assert_eq!(location(&anonymous.get("/portal").await), "/portal/sign-in");
    assert_eq!(
        location(&anonymous.get("/app/settings").await),
        "/app/sign-in"
    );
}

#[tokio::test]
async fn the_session_list_signs_out_everywhere_else() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.with_practice("Harbour").await;
    let laptop = app.staff_browser(&admin.email).await;
    let phone = app.staff_browser(&admin.email).await;
    let (status, html) = laptop.page("/app/account").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("Firefox on Linux").count(), 2);
    let page = Page::parse(&html);
    assert_eq!(
        page.row("tbody tr", "Firefox on Linux this device")[1],
        "127.0.0.1"
    );
    assert_eq!(
        page.count("tbody tr .badge"),
        1,
        "one of them is this device"
    );
    let response = laptop.post_form("/app/account/sign-out-others", &[]).await;
    assert_eq!(location(&response), "/app/account?done=signed-out-others");
    assert_eq!(
        phone.get("/app").await.status(),
        303,
        "the other device is signed out"
    );
    assert_eq!(laptop.get("/app").await.status(), 200, "this one is not");
    let (_, html) = laptop.page("/app/account").await;
    assert_eq!(html.matches("Firefox on Linux").count(), 1);
}

#[tokio::test]
async fn only_admins_see_the_outbox_and_retry_dead_mail() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let member_browser = app.staff_browser(&member.email).await;
    assert_eq!(
        member_browser.get("/app/settings/outbox").await.status(),
        403
    );
    let admin_browser = app.staff_browser(&admin.email).await;
    let (status, html) = admin_browser.page("/app/settings/outbox").await;
    assert_eq!(status, 200);
    assert!(html.contains("Nothing waiting."));
    let response = admin_browser
        .post_form("/app/settings/outbox/no-such-id/retry", &[])
        .await;
    assert_eq!(response.status(), 404);
}

/// Lines written by the logger, shared with the test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every task of this test runs on its thread, so a thread-local logger
/// sees all the server logs.
#[tokio::test(flavor = "current_thread")]
async fn no_token_or_password_reaches_the_logs() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[])
        .await;
    let staff = app.browser();
    staff
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", "a wrong password")],
        )
        .await;
    staff
        .post_form(
            "/app/sign-in",
            &[("email", &admin.email), ("password", PASSWORD)],
        )
        .await;
    let session = staff.cookie("portico_session").unwrap();
    staff
        .post_form(&format!("/app/contacts/{}/invite", hannah.id), &[])
        .await;
    app.deliver_mail().await;
    let invitation = app.latest_link(&hannah.email, "/portal/invitation/").await;
    let contact = app.browser();
    contact.page(&invitation).await;
    contact.post_form(&invitation, &[]).await;
    contact
        .post_form("/portal/help", &[("email", &hannah.email)])
        .await;
    let reset = app.latest_link(&hannah.email, "/portal/reset/").await;
    contact
        .post_form(
            &reset,
            &[
                ("password", "my new passphrase"),
                ("confirm", "my new passphrase"),
            ],
        )
        .await;
    let contact_session = contact.cookie("portico_session").unwrap();
    let csrf = contact.cookie("portico_csrf").unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("delivered"),
        "the logger saw the server: {logs}"
    );
    let invitation_token = invitation.trim_start_matches("/portal/invitation/");
    let reset_token = reset.trim_start_matches("/portal/reset/");
    for secret in [
        PASSWORD,
        "a wrong password",
        "my new passphrase",
        session.as_str(),
        contact_session.as_str(),
        csrf.as_str(),
        invitation_token,
        reset_token,
    ] {
        assert!(!logs.contains(secret), "{secret:?} is in the logs");
    }
}
