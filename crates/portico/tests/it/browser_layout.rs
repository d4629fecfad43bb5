//! Pages that hold up, in a real browser at desktop and phone sizes: long
//! unbroken text never widens a page, tables become cards on a phone, the
//! docked messenger covers no button, and what staff and contacts land on
//! says what waits. Every page visited is also checked by axe-core and for
//! width (see `browser.rs`).

use crate::browser::{DESKTOP, PHONE, RealBrowser, run_story};
use crate::browser_stories::{sign_in_as_contact, sign_in_as_staff};
use crate::harness::{PASSWORD, TestApp, active, location};
use portico::app::questions::QuestionInput;
use secrecy::SecretString;
use serde_json::json;

/// A bank reference as it comes: 300 characters, no space to break at.
fn unbroken(len: usize) -> String {
    "REF0123456789ABCDEF".chars().cycle().take(len).collect()
}

/// Whether any button, link or field of the page's main part is under the
/// docked messenger, with the page scrolled to its end: the names of those
/// that are.
async fn covered_by_the_dock(browser: &RealBrowser) -> Vec<String> {
    let covered = browser
        .run_async_script(
            r#"
            const done = arguments[arguments.length - 1];
            window.scrollTo(0, document.documentElement.scrollHeight);
            requestAnimationFrame(() => {
              const dock = document.querySelector('[data-dock]');
              const out = [];
              for (const el of document.querySelectorAll('main button, main a, main input, main select, main textarea')) {
                const r = el.getBoundingClientRect();
                if (r.width === 0 || r.height === 0 || r.bottom < 0 || r.top > window.innerHeight) continue;
                const x = Math.min(r.left + r.width / 2, window.innerWidth - 1);
                const y = Math.min(r.top + r.height / 2, window.innerHeight - 1);
                const top = document.elementFromPoint(x, y);
                if (dock && top && dock.contains(top)) out.push((el.textContent || el.name || el.tagName).trim().slice(0, 40));
              }
              done(out);
            });
            "#,
            vec![],
        )
        .await;
    covered
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn long_unbroken_text_fits_a_phone_tables_become_cards_and_the_dock_covers_no_button() {
    let app = TestApp::spawn().await;
    let (practice, olivia) = app
        .app
        .create_practice_with_admin(
            "Harbour & Vale Accounting",
            "Olivia Hart",
            "olivia@harbourvale.example",
            SecretString::from(PASSWORD),
        )
        .await
        .unwrap();
    let p = practice.id;
    let long_name = format!("Northwind{}", unbroken(180));
    let bakery = app.with_client(p, &long_name).await;
    app.store()
        .assign_staff(p, bakery.id, olivia.id)
        .await
        .unwrap();
    app.store()
        .set_assignable_questions(p, bakery.id, true)
        .await
        .unwrap();
    let hannah = active(&app, p, "hannah@northwindbakery.example", &[&bakery]).await;
    let tom = active(&app, p, "tom@northwindbakery.example", &[&bakery]).await;
    let title = unbroken(300);
    let asked = app
        .app
        .ask_questions(
            &olivia,
            bakery.id,
            &[
                QuestionInput {
                    title: title.clone(),
                    assignee: Some(hannah.id),
                    ..Default::default()
                },
                QuestionInput {
                    title: "Is the van leased?".into(),
                    ..Default::default()
                },
            ],
        )
        .await
        .unwrap();
    app.app
        .answer_question(
            &hannah,
            asked[1].id,
            &unbroken(300),
            &[],
            &crate::harness::origin(),
        )
        .await
        .unwrap();
    // A chat in which Hannah pastes a long address.
    let staff_api = app.staff_browser(&olivia.email).await;
    let response = staff_api
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    let chat_path = location(&response);
    let hannah_api = crate::harness::signed_in(&app, &hannah.email).await;
    let url = format!("https://bank.example/statements/{}", unbroken(200));
    hannah_api
        .post_form(
            &chat_path.replace("/app/", "/portal/"),
            &[("body", &url), ("key", "h-1")],
        )
        .await;
    let question = format!("/app/questions/{}", asked[0].id);
    let staff_pages = [
        "/app".to_owned(),
        "/app/clients".to_owned(),
        format!("/app/clients/{}", bakery.id),
        format!("/app/clients/{}/contacts", bakery.id),
        format!("/app/clients/{}/questions", bakery.id),
        "/app/questions?status=answered".to_owned(),
        question.clone(),
        format!("/app/questions/{}", asked[1].id),
        chat_path.clone(),
        format!("/app/preview/{}/clients/{}", hannah.id, bakery.id),
        format!("/app/preview/{}/messages", hannah.id),
        "/app/contacts".to_owned(),
        "/app/settings/contacts".to_owned(),
        format!("/app/contacts/{}/edit", hannah.id),
        format!("/app/contacts/{}/delete", hannah.id),
        format!("/app/clients/{}/send", bakery.id),
    ];
    let base_url = app.base_url.clone();
    run_story(
        "long_unbroken_text_fits_a_phone",
        &base_url,
        |staff| async move {
            sign_in_as_staff(&staff, &olivia.email).await;
            // The home says what waits: her answer and her message.
            staff
                .wait_for_text("#waiting-answers-section", "Is the van leased?")
                .await;
            staff
                .wait_for_text("#waiting-messages-section", "1 new")
                .await;
            // Every page at both sizes: axe-core and the width check run on
            // each (the long title, name, answer and address wrap).
            for size in [DESKTOP, PHONE] {
                staff.set_viewport(size).await;
                for page in &staff_pages {
                    staff.goto(page).await;
                }
            }
            staff.goto(&question).await;
            assert!(staff.text_of("h1").await.contains(&title[..40]));

            // On a phone, the contacts table is a list of cards.
            staff
                .goto(&format!("/app/clients/{}/contacts", bakery.id))
                .await;
            let display = staff
                .run_async_script(
                    "arguments[0](getComputedStyle(document.querySelector('table.responsive tbody tr')).display);",
                    vec![],
                )
                .await;
            assert_eq!(display, json!("block"), "rows are cards on a phone");

            // On a desk, with the messenger open, no button is under it.
            staff.set_viewport(DESKTOP).await;
            staff
                .goto(&format!("/app/clients/{}/contacts", bakery.id))
                .await;
            staff.click("[data-dock-toggle]").await;
            staff.wait_for("[data-dock-panel]:not([hidden])").await;
            assert_eq!(covered_by_the_dock(&staff).await, Vec::<String>::new());
            staff.goto(&question).await;
            assert_eq!(covered_by_the_dock(&staff).await, Vec::<String>::new());
            // Closed, neither.
            staff.click("[data-dock-toggle]").await;
            assert_eq!(covered_by_the_dock(&staff).await, Vec::<String>::new());

            // Hannah on her phone: her portal, her question, her chat.
            let phone = staff.another().await;
            phone.set_viewport(PHONE).await;
            sign_in_as_contact(&phone, &app, &hannah.email).await;
            for page in [
                format!("/portal/clients/{}", bakery.id),
                format!("/portal/questions/{}", asked[0].id),
                format!("/portal/questions/{}", asked[1].id),
                "/portal/messages".to_owned(),
                chat_path.replace("/app/", "/portal/"),
                "/portal/account".to_owned(),
            ] {
                phone.goto(&page).await;
            }
            // Tom follows a link to Hannah's question: his portal says so.
            let toms = phone.another().await;
            toms.set_viewport(PHONE).await;
            sign_in_as_contact(&toms, &app, &tom.email).await;
            toms.goto(&format!("/portal/questions/{}", asked[0].id))
                .await;
            toms.wait_for_text("main .notice", "with someone else now")
                .await;
        },
    )
    .await;
}

#[tokio::test]
async fn every_settings_and_account_page_fits_a_phone_and_passes_axe() {
    let app = TestApp::spawn().await;
    let (practice, olivia) = app
        .app
        .create_practice_with_admin(
            "Harbour & Vale Accounting",
            "Olivia Hart",
            "olivia@harbourvale.example",
            SecretString::from(PASSWORD),
        )
        .await
        .unwrap();
    let p = practice.id;
    let bakery = app.with_client(p, "Northwind Bakery").await;
    app.store()
        .assign_staff(p, bakery.id, olivia.id)
        .await
        .unwrap();
    let hannah = active(&app, p, "hannah@northwindbakery.example", &[&bakery]).await;
    let staff_pages = [
        "/app/questions",
        "/app/messages",
        "/app/messages/new",
        "/app/team",
        "/app/settings",
        "/app/settings/audit",
        "/app/settings/branding",
        "/app/settings/messaging",
        "/app/settings/notifications",
        "/app/settings/outbox",
        "/app/settings/security",
        "/app/settings/time-zone",
        "/app/account",
        "/app/account/messaging",
        "/app/account/messaging/away",
        "/app/account/notifications",
        "/app/two-factor",
        "/app/settings/integrations",
        "/app/settings/sso",
        "/app/settings/held-emails",
        "/app/account/api-tokens",
        "/app/search?q=northwind",
    ];
    // The pages a link in an e-mail opens: a new team member's welcome
    // (set a password) and a contact's password reset.
    let invited = app
        .staff_browser(&olivia.email)
        .await
        .post_form(
            "/app/team",
            &[
                ("name", "Priya Nair"),
                ("email", "priya@harbourvale.example"),
                ("role", portico::domain::Role::Member.as_str()),
            ],
        )
        .await;
    assert_eq!(invited.status(), 303);
    let helped = app
        .browser()
        .post_form("/portal/help", &[("email", &hannah.email)])
        .await;
    assert_eq!(helped.status(), 200);
    let emailed = [
        (
            app.latest_link("priya@harbourvale.example", "/app/welcome/")
                .await,
            "staff-welcome",
        ),
        (
            app.latest_link(&hannah.email, "/portal/reset/").await,
            "portal-reset",
        ),
    ]
    .map(|(link, name)| (link.replacen(&app.base_url, "", 1), name));
    let base_url = app.base_url.clone();
    run_story(
        "every_settings_and_account_page_fits_a_phone",
        &base_url,
        |staff| async move {
            sign_in_as_staff(&staff, &olivia.email).await;
            // axe-core and the width check run on each page, at both sizes.
            for size in [DESKTOP, PHONE] {
                staff.set_viewport(size).await;
                for page in staff_pages {
                    staff.goto(page).await;
                    let h1 = staff.text_of("h1").await;
                    assert!(!h1.contains("could not find"), "{page}: {h1}");
                }
            }
            let phone = staff.another().await;
            phone.set_viewport(PHONE).await;
            sign_in_as_contact(&phone, &app, &hannah.email).await;
            for page in [
                "/portal/account",
                "/portal/account/messaging",
                "/portal/account/notifications",
                "/portal/overview",
                "/portal/help",
                "/portal/search?q=northwind",
            ] {
                phone.goto(page).await;
                let h1 = phone.text_of("h1").await;
                assert!(!h1.contains("could not find"), "{page}: {h1}");
            }
            // Opened from the e-mail, signed in as nobody.
            let stranger = staff.another().await;
            for size in [DESKTOP, PHONE] {
                stranger.set_viewport(size).await;
                for (link, name) in &emailed {
                    stranger.goto(link).await;
                    stranger.wait_for("input[type=password]").await;
                    let h1 = stranger.text_of("h1").await;
                    assert!(!h1.contains("could not find"), "{name}: {h1}");
                    if size == PHONE {
                        stranger.doc_screenshot(&format!("{name}-phone")).await;
                    }
                }
            }
        },
    )
    .await;
}
