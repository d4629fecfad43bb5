//! Stories in a real browser (headless Chromium): the forms post, the
//! redirects land and the pages say what they should, as a person sees them.
//!
//! With `PORTICO_SCREENSHOTS=1` they also leave the README's pictures in
//! `docs/screenshots/`, so the data is what a practice would really hold.

use crate::browser::{RealBrowser, run_story};
use crate::harness::{PASSWORD, TestApp};
use portico::domain::{ClientKind, EmailAddress, Name, PhoneNumber, PracticeId, Role};
use portico::store::{
    Client, Contact, ContactStatus, NewClient, NewContact, NewStaff, Practice, Staff,
};
use secrecy::SecretString;

/// Signs a staff user in through the sign-in form.
async fn sign_in_as_staff(browser: &RealBrowser, email: &str) {
    browser.goto("/app/sign-in").await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.press("Sign in").await;
    browser.wait_for_path("/app").await;
}

/// Harbour & Vale Accounting, with Olivia Hart as its admin.
async fn harbour_and_vale(app: &TestApp) -> (Practice, Staff) {
    app.app
        .create_practice_with_admin(
            "Harbour & Vale Accounting",
            "Olivia Hart",
            "olivia@harbourvale.example",
            SecretString::from(PASSWORD),
        )
        .await
        .expect("create the practice")
}

/// A team member with a real name; `None` for `password` is one invited
/// who has not chosen a password yet.
async fn team_member(
    app: &TestApp,
    practice: PracticeId,
    name: &str,
    email: &str,
    role: Role,
    password: Option<&str>,
) -> Staff {
    let password_hash = match password {
        Some(p) => Some(
            portico::app::password::hash_password(SecretString::from(p.to_owned()))
                .await
                .expect("hash"),
        ),
        None => None,
    };
    app.store()
        .create_staff(
            practice,
            &NewStaff {
                email: EmailAddress::parse(email).expect("email"),
                name: Name::parse(name).expect("name"),
                role,
                password_hash,
            },
        )
        .await
        .expect("create staff")
}

async fn client(app: &TestApp, practice: PracticeId, name: &str, kind: ClientKind) -> Client {
    app.store()
        .create_client(
            practice,
            &NewClient {
                name: Name::parse(name).expect("name"),
                kind,
            },
        )
        .await
        .expect("create client")
}

/// A contact with a real name and access to `clients`; `active` once they
/// have activated their account, invited otherwise.
async fn contact(
    app: &TestApp,
    practice: PracticeId,
    (name, email, phone): (&str, &str, Option<&str>),
    clients: &[&Client],
    active: bool,
) -> Contact {
    let contact = app
        .store()
        .create_contact(
            practice,
            &NewContact {
                email: EmailAddress::parse(email).expect("email"),
                name: Name::parse(name).expect("name"),
                phone: phone.map(|p| PhoneNumber::parse(p).expect("phone")),
            },
        )
        .await
        .expect("create contact");
    for client in clients {
        app.store()
            .grant_access(practice, contact.id, client.id)
            .await
            .expect("grant access");
    }
    if active {
        app.store()
            .set_contact_status(practice, contact.id, ContactStatus::Active)
            .await
            .expect("activate");
    }
    contact
}

/// A small practice as it would look after a few weeks of use.
struct Firm {
    practice: Practice,
    olivia: Staff,
    marcus: Staff,
    bakery: Client,
    cafe: Client,
    landscaping: Client,
    hannah: Contact,
}

async fn firm(app: &TestApp) -> Firm {
    let (practice, olivia) = harbour_and_vale(app).await;
    let p = practice.id;
    let marcus = team_member(
        app,
        p,
        "Marcus Lee",
        "marcus@harbourvale.example",
        Role::Member,
        Some(PASSWORD),
    )
    .await;
    team_member(
        app,
        p,
        "Priya Nair",
        "priya@harbourvale.example",
        Role::Member,
        None,
    )
    .await;

    let bakery = client(app, p, "Northwind Bakery Ltd", ClientKind::Business).await;
    let cafe = client(app, p, "Copperleaf Café", ClientKind::Business).await;
    let landscaping = client(app, p, "Bluegum Landscaping", ClientKind::Business).await;
    let household = client(app, p, "Okafor Household", ClientKind::Person).await;
    let chidi = client(app, p, "Chidi Okafor", ClientKind::Person).await;
    app.store()
        .set_family_primary(p, chidi.id, Some(household.id))
        .await
        .expect("family");
    for (c, s) in [
        (&bakery, &olivia),
        (&cafe, &olivia),
        (&bakery, &marcus),
        (&landscaping, &marcus),
        (&household, &olivia),
    ] {
        app.store()
            .assign_staff(p, c.id, s.id)
            .await
            .expect("assign");
    }

    let hannah = contact(
        app,
        p,
        (
            "Hannah Brooks",
            "hannah@northwindbakery.example",
            Some("+61 412 345 678"),
        ),
        &[&bakery],
        true,
    )
    .await;
    contact(
        app,
        p,
        ("Tom Reid", "tom@northwindbakery.example", None),
        &[&bakery],
        false,
    )
    .await;
    contact(
        app,
        p,
        ("Sam Patel", "sam@bluegumlandscaping.example", None),
        &[&landscaping],
        true,
    )
    .await;
    contact(
        app,
        p,
        (
            "Ngozi Okafor",
            "ngozi@okafor.example",
            Some("+61 400 111 222"),
        ),
        &[&household],
        true,
    )
    .await;
    Firm {
        practice,
        olivia,
        marcus,
        bakery,
        cafe,
        landscaping,
        hannah,
    }
}

#[tokio::test]
async fn staff_sign_in_form_keeps_the_address_after_a_wrong_password_then_welcomes() {
    let app = TestApp::spawn().await;
    let firm = firm(&app).await;
    let admin = firm.olivia;
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
            assert_eq!(browser.text_of("h1").await, "Welcome, Olivia Hart");
            browser.doc_screenshot("staff-home").await;
        },
    )
    .await;
}

#[tokio::test]
async fn an_invited_contact_activates_from_the_emailed_link_on_a_phone_and_sees_their_client() {
    let app = TestApp::spawn().await;
    let (practice, admin) = harbour_and_vale(&app).await;
    let bakery = client(
        &app,
        practice.id,
        "Northwind Bakery Ltd",
        ClientKind::Business,
    )
    .await;
    let hannah = contact(
        &app,
        practice.id,
        ("Hannah Brooks", "hannah@northwindbakery.example", None),
        &[&bakery],
        false,
    )
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
            assert_eq!(phone.text_of("h1").await, "Northwind Bakery Ltd");
            assert!(phone.html().await.contains("Hello Hannah Brooks"));
            phone.doc_screenshot("portal-home-phone").await;

            // The staff list shows her active, with no invitation left to send.
            staff.goto("/app/contacts").await;
            assert_eq!(staff.text_of("tbody .badge").await, "Active");
            assert!(!staff.html().await.contains("Send invitation"));
        },
    )
    .await;
}

/// The rows of the table on the page, as a person reads them.
async fn table_text(browser: &RealBrowser) -> String {
    browser.text_of("main table tbody").await
}

/// The text of cell `column` (from 0) of the table row that mentions
/// `needle`, or "" when no row does.
async fn cell_in_row(browser: &RealBrowser, needle: &str, column: usize) -> String {
    let script = "const [needle, column, done] = arguments;
        const row = [...document.querySelectorAll('main tbody tr')]
            .find((r) => r.textContent.includes(needle));
        done(row ? row.cells[column].innerText : '');";
    let text = browser
        .run_async_script(script, vec![needle.into(), column.into()])
        .await;
    text.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn an_admin_gives_an_existing_contact_access_and_a_member_is_told_to_ask() {
    let app = TestApp::spawn().await;
    let Firm {
        olivia,
        marcus,
        bakery,
        cafe,
        landscaping,
        hannah,
        ..
    } = firm(&app).await;
    run_story(
        "an_admin_gives_an_existing_contact_access_and_a_member_is_told_to_ask",
        &app.base_url,
        |staff| async move {
            sign_in_as_staff(&staff, &olivia.email).await;
            staff.click("nav a[href='/app/clients']").await;
            staff.wait_for_path("/app/clients").await;
            assert_eq!(staff.text_of("h1").await, "Clients");
            let list = table_text(&staff).await;
            assert!(list.contains("Copperleaf Café") && list.contains("part of Okafor Household"));
            staff.doc_screenshot("clients").await;

            // Copperleaf Café's Overview, then its Contacts tab.
            let overview = format!("/app/clients/{}", cafe.id);
            staff.click(&format!("main a[href='{overview}']")).await;
            staff.wait_for_path(&overview).await;
            assert_eq!(staff.text_of("h1").await, "Copperleaf Café");
            staff.doc_screenshot("client-overview").await;
            let tab = format!("{overview}/contacts");
            staff.click(&format!("nav.tabs a[href='{tab}']")).await;
            staff.wait_for_path(&tab).await;
            assert!(!table_text(&staff).await.contains("Hannah Brooks"));

            // Hannah is already a contact of the bakery: typing her address
            // again adds nobody, and offers access instead.
            staff.fill("#name", "Hannah Brooks").await;
            staff.fill("#email", "Hannah@NorthwindBakery.example").await;
            staff.press("Add and invite").await;
            let notice = staff
                .wait_for_text("#existing", "is already a contact of your practice")
                .await;
            assert!(
                notice.contains("hannah@northwindbakery.example")
                    && notice.contains("so nobody new was added"),
                "{notice}"
            );
            staff.doc_screenshot("client-contacts").await;
            staff
                .press("Give Hannah Brooks access to Copperleaf Café")
                .await;
            staff.wait_for_text(".notice.ok", "Access given.").await;
            assert_eq!(staff.current_path().await, tab);
            let rows = table_text(&staff).await;
            assert!(rows.contains("Hannah Brooks"), "{rows}");
            assert!(rows.contains("hannah@northwindbakery.example"));
            assert_eq!(
                staff.count("main tbody tr").await,
                1,
                "one person, not a second Hannah"
            );

            // A member trying the same on another client is told to ask.
            let member = staff.another().await;
            sign_in_as_staff(&member, &marcus.email).await;
            let their_tab = format!("/app/clients/{}/contacts", landscaping.id);
            member.goto(&their_tab).await;
            member.fill("#name", "Hannah Brooks").await;
            member.fill("#email", &hannah.email).await;
            member.press("Add and invite").await;
            let notice = member
                .wait_for_text("#existing", "is already a contact of your practice")
                .await;
            assert!(notice.contains("Ask an admin"), "{notice}");
            assert_eq!(member.count("#existing button").await, 0, "no button");
            assert!(!member.html().await.contains("Give Hannah Brooks access"));
            assert!(!table_text(&member).await.contains("Hannah Brooks"));

            // The bakery's Send to tab lists its two contacts.
            let send = format!("/app/clients/{}/send", bakery.id);
            staff.goto(&format!("/app/clients/{}", bakery.id)).await;
            staff.click(&format!("nav.tabs a[href='{send}']")).await;
            staff.wait_for_path(&send).await;
            let to = staff.text_of("fieldset").await;
            assert!(
                to.contains("Hannah Brooks") && to.contains("Tom Reid"),
                "{to}"
            );
            staff.doc_screenshot("client-send").await;

            // Settings: the team, and every contact with what they can open.
            staff.click("nav a[href='/app/settings']").await;
            staff.wait_for_path("/app/settings").await;
            staff.click("main a[href='/app/team']").await;
            staff.wait_for_path("/app/team").await;
            let team = table_text(&staff).await;
            assert!(
                team.contains("Marcus Lee") && team.contains("Invited"),
                "{team}"
            );
            staff.doc_screenshot("team").await;
            staff.goto("/app/settings").await;
            staff.click("main a[href='/app/settings/contacts']").await;
            staff.wait_for_path("/app/settings/contacts").await;
            let can_open = cell_in_row(&staff, &hannah.email, 1).await;
            assert!(
                can_open.contains("Copperleaf Café") && can_open.contains("Northwind Bakery Ltd"),
                "{can_open}"
            );
            assert_eq!(
                staff.count("main tbody tr").await,
                4,
                "the practice still has four contacts: nobody was added twice"
            );
            staff.doc_screenshot("all-contacts").await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_contact_signs_in_by_link_on_a_phone_and_switches_between_her_clients() {
    let app = TestApp::spawn().await;
    let Firm {
        practice,
        bakery,
        cafe,
        hannah,
        ..
    } = firm(&app).await;
    app.store()
        .grant_access(practice.id, hannah.id, cafe.id)
        .await
        .expect("grant access");
    let app = &app;
    run_story(
        "a_contact_signs_in_by_link_on_a_phone_and_switches_between_her_clients",
        &app.base_url,
        |phone| async move {
            phone.phone().await;
            phone.goto("/portal/sign-in").await;
            phone.fill("#link-email", &hannah.email).await;
            phone.press("Send me a link").await;
            phone.wait_for_text("h1", "Check your e-mail").await;
            let link = app.latest_link(&hannah.email, "/portal/link/").await;
            phone.goto(&link).await;
            phone.press("Sign me in").await;

            // Her clients come in name order: the café first.
            let first = format!("/portal/clients/{}", cafe.id);
            phone.wait_for_path(&first).await;
            assert_eq!(phone.text_of("main h1").await, "Copperleaf Café");

            // The switcher opens on a list of her other clients only.
            phone.click("nav.switcher summary").await;
            let other = format!("/portal/clients/{}", bakery.id);
            let entry = phone
                .wait_for(&format!("nav.switcher a[href='{other}']"))
                .await;
            assert_eq!(entry.text().await.expect("read"), "Northwind Bakery Ltd");
            let listed = phone.text_of("nav.switcher ul").await;
            assert!(listed.contains("Copperleaf Café"), "{listed}");
            for not_hers in ["Bluegum Landscaping", "Okafor Household", "Chidi Okafor"] {
                assert!(!listed.contains(not_hers), "{not_hers} in {listed}");
            }
            assert_eq!(phone.count("nav.switcher li").await, 2);
            phone.doc_screenshot("portal-switcher-phone").await;

            entry.click().await.expect("click the bakery");
            phone.wait_for_path(&other).await;
            assert_eq!(phone.text_of("main h1").await, "Northwind Bakery Ltd");
            assert!(phone.text_of("main").await.contains("Hello Hannah Brooks"));
        },
    )
    .await;
}

/// Run in the page: reads the anti-forgery token from a staff page, as a
/// script of the site could, and posts a change to the preview with it.
const POST_TO_PREVIEW: &str = r"
const [tokenPage, target, done] = arguments;
fetch(tokenPage)
  .then((r) => r.text())
  .then((html) => {
    const page = new DOMParser().parseFromString(html, 'text/html');
    const csrf = page.querySelector('input[name=csrf]').value;
    return fetch(target, {
      method: 'POST',
      body: new URLSearchParams({ csrf, name: 'Changed by a preview' }),
    });
  })
  .then((r) => r.text().then((body) => done({ status: r.status, body })))
  .catch((e) => done({ status: 0, body: String(e) }));
";

#[tokio::test]
async fn staff_preview_a_contacts_portal_and_cannot_change_anything_from_it() {
    let app = TestApp::spawn().await;
    let Firm {
        practice,
        olivia,
        bakery,
        cafe,
        hannah,
        ..
    } = firm(&app).await;
    app.store()
        .grant_access(practice.id, hannah.id, cafe.id)
        .await
        .expect("grant access");
    run_story(
        "staff_preview_a_contacts_portal_and_cannot_change_anything_from_it",
        &app.base_url,
        |staff| async move {
            sign_in_as_staff(&staff, &olivia.email).await;
            staff.click("nav a[href='/app/clients']").await;
            let overview = format!("/app/clients/{}", bakery.id);
            staff.click(&format!("main a[href='{overview}']")).await;
            staff.wait_for_path(&overview).await;
            let tab = format!("{overview}/contacts");
            staff.click(&format!("nav.tabs a[href='{tab}']")).await;
            staff.wait_for_path(&tab).await;

            let preview = format!("/app/preview/{}/clients/{}", hannah.id, bakery.id);
            let link = staff.wait_for(&format!("main a[href='{preview}']")).await;
            assert_eq!(link.text().await.expect("read"), "Preview as Hannah Brooks");
            link.click().await.expect("click the preview link");
            staff.wait_for_path(&preview).await;
            let banner = staff.text_of(".banner").await;
            assert!(
                banner.contains("Preview of Hannah Brooks's portal — read only"),
                "{banner}"
            );
            assert_eq!(staff.text_of("main h1").await, "Northwind Bakery Ltd");
            assert!(staff.text_of("main").await.contains("Hello Hannah Brooks"));

            // Her other client is listed, but nothing in the switcher leads
            // anywhere.
            staff.click("nav.switcher summary").await;
            let listed = staff
                .wait_for_text("nav.switcher ul", "Copperleaf Café")
                .await;
            assert!(listed.contains("Northwind Bakery Ltd"), "{listed}");
            assert_eq!(staff.count("nav.switcher a").await, 0, "no links");
            assert_eq!(
                staff.count("nav.switcher li [aria-disabled='true']").await,
                2
            );
            assert!(
                staff
                    .text_of("nav.switcher")
                    .await
                    .contains("Switching is off while previewing.")
            );
            staff.doc_screenshot("preview").await;

            // Nothing on the page can change anything: no form, no field, no
            // button; the only thing to press is the switcher's summary.
            assert_eq!(
                staff
                    .count("main form, main button, main input, main select, main textarea")
                    .await,
                0
            );
            assert_eq!(staff.count("main summary").await, 1);
            assert_eq!(
                staff.count("header form").await,
                0,
                "no sign-out of her portal"
            );

            // And a change sent from the page, with a valid token, is refused.
            let answer = staff
                .run_async_script(
                    POST_TO_PREVIEW,
                    vec![tab.clone().into(), preview.clone().into()],
                )
                .await;
            assert_eq!(answer["status"], 403, "{answer}");
            assert!(
                answer["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("nothing can be changed")),
                "{answer}"
            );

            // Leaving the preview goes back to the client's contacts.
            staff.click(".banner a").await;
            staff.wait_for_path(&tab).await;
            assert_eq!(staff.text_of("main h1").await, "Northwind Bakery Ltd");
        },
    )
    .await;
}
