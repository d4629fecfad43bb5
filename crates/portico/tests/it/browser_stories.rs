//! Stories in a real browser (headless Chromium): the forms post, the
//! redirects land and the pages say what they should, as a person sees them.
//!
//! With `PORTICO_SCREENSHOTS=1` they also leave the README's pictures in
//! `docs/screenshots/`, so the data is what a practice would really hold.

use crate::browser::{RealBrowser, run_story};
use crate::harness::{PASSWORD, TestApp};
use portico::app::questions::QuestionInput;
use portico::domain::{ClientKind, EmailAddress, Name, PhoneNumber, PracticeId, Role};
use portico::store::{
    Client, Contact, ContactStatus, NewClient, NewContact, NewStaff, Practice, Staff,
};
use secrecy::SecretString;

/// Signs a staff user in through the sign-in form.
pub(crate) async fn sign_in_as_staff(browser: &RealBrowser, email: &str) {
    browser.goto("/app/sign-in").await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.press("Sign in").await;
    browser.wait_for_path("/app").await;
}

/// Signs a contact in by the link e-mailed from the portal's sign-in page.
pub(crate) async fn sign_in_as_contact(browser: &RealBrowser, app: &TestApp, email: &str) {
    browser.goto("/portal/sign-in").await;
    browser.fill("#link-email", email).await;
    browser.press("Send me a link").await;
    browser.wait_for_text("h1", "Check your e-mail").await;
    let link = app.latest_link(email, "/portal/link/").await;
    browser.goto(&link).await;
    let link_page = browser.current_path().await;
    browser.press("Sign me in").await;
    // Signed in once the portal is shown: a page opened before then
    // would race the sign-in's own redirect.
    browser.wait_to_leave(&link_page).await;
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
    /// The bakery's other contact, invited but not yet active.
    tom: Contact,
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
    let tom = contact(
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
        tom,
    }
}

#[tokio::test]
async fn staff_sign_in_form_keeps_the_address_after_a_wrong_password_then_welcomes() {
    let app = TestApp::spawn().await;
    let firm = firm(&app).await;
    // What waits for Olivia when she signs in: Hannah answered a question
    // and wrote in their chat.
    let asked = app
        .app
        .ask_questions(
            &firm.olivia,
            firm.bakery.id,
            &[QuestionInput {
                title: "Is the delivery van leased or owned?".into(),
                ..Default::default()
            }],
        )
        .await
        .expect("ask");
    app.app
        .answer_question(
            &firm.hannah,
            asked[0].id,
            "Leased, until March 2028. The agreement is in the shared folder.",
            &[],
            &crate::harness::origin(),
        )
        .await
        .expect("answer");
    let olivia_api = app.staff_browser(&firm.olivia.email).await;
    let response = olivia_api
        .post_form(
            &format!("/app/clients/{}/chat", firm.bakery.id),
            &[("contact", &firm.hannah.id.to_string())],
        )
        .await;
    let chat_path = crate::harness::location(&response);
    let hannah_api = crate::harness::signed_in(&app, &firm.hannah.email).await;
    hannah_api
        .post_form(
            &chat_path.replace("/app/", "/portal/"),
            &[
                (
                    "body",
                    "I've uploaded the March bank statements. Anything else?",
                ),
                ("key", "hannah-1"),
            ],
        )
        .await;
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
            browser
                .wait_for_text("#waiting-answers-section", "Is the delivery van leased")
                .await;
            browser
                .wait_for_text("#waiting-messages-section", "1 new")
                .await;
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
    // A question waits for her in each of her clients.
    for (client, title) in [
        (
            &bakery,
            "Please send the signed engagement letter for the 2025–2026 financial year",
        ),
        (
            &cafe,
            "What was the payment of £1,240.00 on 3 October to Copperleaf Supplies for?",
        ),
    ] {
        app.app
            .ask_questions(
                &olivia,
                client.id,
                &[portico::app::questions::QuestionInput {
                    title: title.into(),
                    ..Default::default()
                }],
            )
            .await
            .expect("ask");
    }
    let app = &app;
    run_story(
        "a_contact_signs_in_by_link_on_a_phone_and_switches_between_her_clients",
        &app.base_url,
        |phone| async move {
            phone.phone().await;
            sign_in_as_contact(&phone, app, &hannah.email).await;

            // Both clients need her: she lands on all of them, and opens
            // the café from there.
            phone.wait_for_path("/portal/overview").await;
            assert_eq!(phone.text_of("main h1").await, "All my accounts");
            assert_eq!(
                phone.text_of("[data-headline]").await,
                "2 questions need you"
            );
            phone.assert_no_sideways_scroll().await;
            phone.doc_screenshot("portal-overview-phone").await;
            let first = format!("/portal/clients/{}", cafe.id);
            phone.click(&format!("main h2 a[href='{first}']")).await;
            phone.wait_for_path(&first).await;
            assert_eq!(phone.text_of("main h1").await, "Copperleaf Café");
            assert_eq!(phone.text_of("#waiting h2").await, "1 question needs you");
            // Closed, the switcher already says the bakery needs her.
            assert!(
                phone
                    .text_of("nav.switcher summary")
                    .await
                    .contains("1 other account needs you")
            );
            phone.assert_no_sideways_scroll().await;

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

/// A one-page PDF, small but whole (its cross-reference table points at
/// its objects), as a contact's phone would hold.
fn small_pdf() -> Vec<u8> {
    use std::fmt::Write as _;
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    let mut pdf = String::from("%PDF-1.7\n");
    let mut offsets = Vec::new();
    for (n, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        writeln!(pdf, "{} 0 obj\n{object}\nendobj", n + 1).expect("write");
    }
    let xref = pdf.len();
    writeln!(pdf, "xref\n0 {}\n0000000000 65535 f ", objects.len() + 1).expect("write");
    for offset in offsets {
        writeln!(pdf, "{offset:010} 00000 n ").expect("write");
    }
    writeln!(
        pdf,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF",
        objects.len() + 1
    )
    .expect("write");
    pdf.into_bytes()
}

/// The badge beside the question `title` in a contact's list, or "" when
/// the list does not show it.
async fn portal_badge(browser: &RealBrowser, title: &str) -> String {
    let script = "const [needle, done] = arguments;
        const item = [...document.querySelectorAll('.question-list li')]
            .find((li) => li.textContent.includes(needle));
        done(item ? item.querySelector('.badge').innerText : '');";
    let text = browser.run_async_script(script, vec![title.into()]).await;
    text.as_str().unwrap_or_default().to_owned()
}

/// Run in the page: downloads the thread's first file as its link would,
/// and says what came back.
const DOWNLOAD_FIRST_FILE: &str = r"
const [done] = arguments;
const link = document.querySelector('.files a[download]');
fetch(link.href)
  .then((r) => r.arrayBuffer().then((body) => done({
    status: r.status,
    disposition: r.headers.get('content-disposition'),
    size: body.byteLength,
    head: new TextDecoder().decode(new Uint8Array(body).slice(0, 8)),
  })))
  .catch((e) => done({ status: 0, head: String(e) }));
";

/// The rows of the questions on a client's Questions tab (the reminders'
/// table comes below them).
const QUESTION_ROWS: &str = "nav[aria-label='Question state'] + table tbody";

#[tokio::test]
async fn staff_ask_three_questions_one_for_a_single_contact_who_answers_it_with_a_file_on_a_phone()
{
    let app = TestApp::spawn().await;
    let Firm {
        practice,
        olivia,
        bakery,
        hannah,
        tom,
        ..
    } = firm(&app).await;
    app.store()
        .set_contact_status(practice.id, tom.id, ContactStatus::Active)
        .await
        .expect("activate Tom");
    let folder = tempfile::tempdir().expect("a folder for the invoice");
    let invoice = folder.path().join("acme-invoice-3-october.pdf");
    let pdf = small_pdf();
    std::fs::write(&invoice, &pdf).expect("write the invoice");
    let app = &app;
    run_story(
        "staff_ask_three_questions_one_for_a_single_contact_who_answers_it_with_a_file_on_a_phone",
        &app.base_url,
        |staff| async move {
            let van = "Is the delivery van leased or owned?";
            let acme = "What was the $412.00 payment to ACME Supplies on 3 October for?";
            let staffing = "Did the bakery take on any new staff this quarter?";
            let answer = "A repair of the big dough mixer. The invoice is attached.";

            // Olivia turns on assignable questions on the bakery's Overview.
            sign_in_as_staff(&staff, &olivia.email).await;
            staff.click("nav a[href='/app/clients']").await;
            let overview = format!("/app/clients/{}", bakery.id);
            staff.click(&format!("main a[href='{overview}']")).await;
            staff.wait_for_path(&overview).await;
            assert!(!staff.is_checked("input[name='assignable']").await);
            staff.click("input[name='assignable']").await;
            staff.press("Save").await;
            staff.wait_for_text(".notice.ok", "Saved.").await;
            assert!(staff.is_checked("input[name='assignable']").await);

            // On the Questions tab she asks three: one for Hannah only.
            let questions = format!("{overview}/questions");
            staff
                .click(&format!("nav.tabs a[href='{questions}']"))
                .await;
            staff.wait_for_path(&questions).await;
            let choices = staff.text_of("#assignee").await;
            for choice in [
                "Every contact of Northwind Bakery Ltd",
                "Only Hannah Brooks",
                "Only Tom Reid",
            ] {
                assert!(choices.contains(choice), "{choice} in {choices}");
            }
            for (title, details, assignee) in [
                (
                    van,
                    "If it is leased, the lease agreement would help.",
                    None,
                ),
                (
                    acme,
                    "It shows in the October bank statement as ACME SUPPLIES PTY LTD.",
                    Some("Only Hannah Brooks"),
                ),
                (staffing, "", None),
            ] {
                staff.fill("#title", title).await;
                staff.fill("#details", details).await;
                if let Some(assignee) = assignee {
                    staff.choose("#assignee", assignee).await;
                }
                staff.press("Ask").await;
                staff.wait_for_text(QUESTION_ROWS, title).await;
                assert_eq!(staff.text_of(".notice.ok").await, "The question was asked.");
            }
            assert_eq!(staff.current_path().await, questions);
            assert!(
                staff
                    .text_of("nav.tabs[aria-label='Question state']")
                    .await
                    .contains("Open (3)")
            );
            assert_eq!(staff.count(&format!("{QUESTION_ROWS} tr")).await, 3);
            assert_eq!(cell_in_row(&staff, acme, 1).await, "Hannah Brooks");
            assert_eq!(cell_in_row(&staff, van, 1).await, "Every contact");
            assert_eq!(cell_in_row(&staff, staffing, 1).await, "Every contact");
            staff.doc_screenshot("client-questions").await;

            // Tom, the contact not chosen, sees the two for everyone only.
            let portal = format!("/portal/clients/{}", bakery.id);
            let toms = staff.another().await;
            sign_in_as_contact(&toms, app, &tom.email).await;
            toms.wait_for_path(&portal).await;
            let his = toms.text_of(".question-list").await;
            assert!(his.contains(van) && his.contains(staffing), "{his}");
            assert!(!his.contains(acme), "{his}");
            assert_eq!(toms.count(".question-list li").await, 2);

            // Hannah, on her phone, sees all three and answers hers with
            // the invoice.
            let phone = staff.another().await;
            phone.phone().await;
            sign_in_as_contact(&phone, app, &hannah.email).await;
            phone.wait_for_path(&portal).await;
            let hers = phone.text_of(".question-list").await;
            for title in [van, acme, staffing] {
                assert!(hers.contains(title), "{title} in {hers}");
                assert_eq!(portal_badge(&phone, title).await, "Waiting for your answer");
            }
            assert_eq!(phone.count(".question-list li").await, 3);
            phone.doc_screenshot("portal-questions-phone").await;

            phone.click_link(acme).await;
            let thread = phone.wait_for_text("main h1", acme).await;
            assert_eq!(thread, acme);
            let question_path = phone.current_path().await;
            let id = question_path
                .strip_prefix("/portal/questions/")
                .expect("a question's page")
                .to_owned();
            assert!(
                phone
                    .text_of(".thread")
                    .await
                    .contains("ACME SUPPLIES PTY LTD"),
                "the details are shown"
            );
            phone.fill("#body", answer).await;
            phone.attach("#files", &invoice).await;
            phone.press("Send answer").await;
            phone
                .wait_for_text(".notice.ok", "Thank you: your answer was sent.")
                .await;
            assert_eq!(phone.current_path().await, question_path);
            let entry = phone.text_of(".entry.kind-answer").await;
            assert!(
                entry.contains("Hannah Brooks")
                    && entry.contains(answer)
                    && entry.contains("acme-invoice-3-october.pdf"),
                "{entry}"
            );
            assert_eq!(
                phone.text_of("main p .badge").await,
                "Answered — with Harbour & Vale Accounting"
            );
            phone.doc_screenshot("portal-question-phone").await;

            // Tom cannot open it by its address either: his portal says
            // it is with someone else.
            toms.goto(&question_path).await;
            toms.wait_for_text("main .notice", "That question is with someone else now")
                .await;
            assert!(!toms.html().await.contains(answer));

            // Back at the practice: the Answered tab lists it.
            staff.goto(&questions).await;
            let tabs = staff.text_of("nav.tabs[aria-label='Question state']").await;
            assert!(
                tabs.contains("Open (2)") && tabs.contains("Answered (1)"),
                "{tabs}"
            );
            staff.click_link("Answered (1)").await;
            staff.wait_for_text(QUESTION_ROWS, acme).await;
            assert_eq!(staff.count(&format!("{QUESTION_ROWS} tr")).await, 1);

            // Its thread shows her answer and the invoice to download.
            let staff_thread = format!("/app/questions/{id}");
            staff.click_link(acme).await;
            staff.wait_for_path(&staff_thread).await;
            let entry = staff.text_of(".entry.kind-answer").await;
            assert!(
                entry.contains("Hannah Brooks") && entry.contains(answer),
                "{entry}"
            );
            let link = staff.wait_for(".files a[download]").await;
            assert_eq!(
                link.text().await.expect("read the link"),
                "acme-invoice-3-october.pdf"
            );
            let download = staff.run_async_script(DOWNLOAD_FIRST_FILE, vec![]).await;
            assert_eq!(download["status"], 200, "{download}");
            assert_eq!(download["head"], "%PDF-1.7", "{download}");
            assert_eq!(download["size"], pdf.len(), "{download}");
            assert!(
                download["disposition"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("attachment")),
                "{download}"
            );
            staff.doc_screenshot("question-thread").await;

            // Olivia marks it resolved.
            staff.press("Mark as resolved").await;
            staff
                .wait_for_text(".notice.ok", "Marked as resolved.")
                .await;
            assert_eq!(staff.current_path().await, staff_thread);
            // The page says "resolved"; the style shows it as "Resolved".
            assert_eq!(staff.text_of("main p .badge").await, "resolved");
            assert!(staff.html().await.contains(">Reopen</button>"));
            staff.goto(&questions).await;
            let tabs = staff.text_of("nav.tabs[aria-label='Question state']").await;
            assert!(
                tabs.contains("Answered (0)") && tabs.contains("Resolved (1)"),
                "{tabs}"
            );

            // Hannah's list shows it resolved; the other two still wait.
            phone.goto(&portal).await;
            assert_eq!(portal_badge(&phone, acme).await, "Resolved");
            for title in [van, staffing] {
                assert_eq!(portal_badge(&phone, title).await, "Waiting for your answer");
            }
            phone.click_link(acme).await;
            phone.wait_for_path(&question_path).await;
            assert_eq!(phone.text_of("main p .badge").await, "Resolved");
            assert_eq!(
                phone.count("#body, #files").await,
                0,
                "nothing left to answer"
            );
        },
    )
    .await;
}

/// Run in the page: leaves a mark on it, gone if the page is ever reloaded.
const MARK_PAGE: &str = "const [done] = arguments; window.porticoStayed = true; done(true);";

/// Run in the page: whether the mark left by [`MARK_PAGE`] is still there.
const PAGE_MARKED: &str = "const [done] = arguments; done(window.porticoStayed === true);";

/// Whether the page shown is still the one [`MARK_PAGE`] marked: nothing
/// reloaded it or went elsewhere.
async fn still_the_same_page(browser: &RealBrowser) -> bool {
    browser.run_async_script(PAGE_MARKED, vec![]).await == true
}

#[tokio::test]
async fn staff_and_a_contact_on_her_phone_chat_live_then_react_and_pin_her_reply() {
    let app = TestApp::spawn().await;
    let Firm {
        olivia,
        bakery,
        hannah,
        ..
    } = firm(&app).await;
    let app = &app;
    run_story(
        "staff_and_a_contact_on_her_phone_chat_live_then_react_and_pin_her_reply",
        &app.base_url,
        |staff| async move {
            let ready = "Your return is ready";
            let thanks = "Thank you! I will read it tonight and sign it tomorrow.";

            // Olivia opens the chat with Hannah from the bakery's Contacts
            // tab: only Hannah, who activated her account, has a Chat button.
            sign_in_as_staff(&staff, &olivia.email).await;
            let overview = format!("/app/clients/{}", bakery.id);
            staff.goto(&overview).await;
            let tab = format!("{overview}/contacts");
            staff.click(&format!("nav.tabs a[href='{tab}']")).await;
            staff.wait_for_path(&tab).await;
            assert_eq!(
                staff.count("main tbody form[action$='/chat'] button").await,
                1,
                "Tom, invited but not active, cannot be messaged yet"
            );
            staff.press("Chat with Hannah Brooks").await;
            staff
                .wait_for_text(".chat h2", "Hannah Brooks — Northwind Bakery Ltd")
                .await;
            let staff_chat = staff.current_path().await;
            let chat = staff_chat
                .strip_prefix("/app/messages/")
                .expect("a chat's page")
                .to_owned();
            assert!(
                staff
                    .text_of("#messages")
                    .await
                    .contains("No messages yet: say hello.")
            );
            assert_eq!(staff.count("#receipt").await, 0, "nothing to have read yet");

            // Hannah, on her phone, opens the chat from her Messages.
            let phone = staff.another().await;
            phone.phone().await;
            sign_in_as_contact(&phone, app, &hannah.email).await;
            phone
                .wait_for_path(&format!("/portal/clients/{}", bakery.id))
                .await;
            phone.click("nav a[href='/portal/messages']").await;
            phone.wait_for_path("/portal/messages").await;
            let portal_chat = format!("/portal/messages/{chat}");
            phone
                .click(&format!(".chat-list a[href='{portal_chat}']"))
                .await;
            phone.wait_for_path(&portal_chat).await;
            assert!(
                phone
                    .text_of("#messages")
                    .await
                    .contains("No messages yet: say hello.")
            );
            phone.run_async_script(MARK_PAGE, vec![]).await;
            staff.run_async_script(MARK_PAGE, vec![]).await;

            // Olivia sends; it shows on Hannah's phone without a reload,
            // with its Reply link, and Olivia sees that she read it.
            staff.fill("#body", ready).await;
            staff.press("Send").await;
            staff.wait_for_text("#messages", ready).await;
            assert_eq!(staff.value_of("#body").await, "", "the box is emptied");
            let seen = phone.wait_for_text("#messages", ready).await;
            assert!(seen.contains("Olivia Hart"), "{seen}");
            assert!(!seen.contains("No messages yet"), "{seen}");
            phone.wait_for("#m1 a[href$='?reply=1#body']").await;
            staff.wait_for_text("#receipt", "Read by the client").await;
            assert_eq!(phone.count("#receipt").await, 0, "no receipts for contacts");
            assert!(
                still_the_same_page(&phone).await,
                "her page was not reloaded"
            );
            assert!(still_the_same_page(&staff).await, "nor was Olivia's");

            // Hannah replies to it, from the message's menu.
            phone.click("#m1 details.msg-menu summary").await;
            phone.click_link("Reply").await;
            phone
                .wait_for_text("form[data-send] [data-replying]", "Replying to Olivia Hart")
                .await;
            assert!(phone.text_of("[data-replying]").await.contains(ready));
            phone.fill("#body", thanks).await;
            phone.press("Send").await;
            phone.wait_for_text("#m2 blockquote.quote", ready).await;
            let sent = phone.text_of("#m2").await;
            assert!(sent.contains(thanks), "{sent}");
            assert_eq!(
                phone.count("#m2.msg.mine").await,
                1,
                "her own, on the right"
            );
            assert!(
                !phone
                    .text_of("form[data-send]")
                    .await
                    .contains("Replying to"),
                "the next message is not a reply"
            );
            assert_eq!(phone.count("#receipt").await, 0, "no receipts for contacts");

            // Her reply shows on Olivia's page live, quoting the original.
            phone.run_async_script(MARK_PAGE, vec![]).await;
            let quote = staff.wait_for_text("#m2 blockquote.quote", ready).await;
            assert_eq!(quote, format!("Olivia Hart: {ready}"));
            let reply = staff.text_of("#m2").await;
            assert!(
                reply.contains("Hannah Brooks") && reply.contains(thanks),
                "{reply}"
            );
            // Her page read her reply back, which tells Olivia's page.
            staff.wait_for_text("#receipt", "Read by the client").await;
            assert!(
                still_the_same_page(&staff).await,
                "Olivia's page was not reloaded"
            );

            // Olivia reacts 👍 to the reply and pins it, from its menu.
            staff.click("#m2 details.msg-menu summary").await;
            staff.click("#m2 .menu button[value='react:👍']").await;
            staff.wait_for_text("#m2 .reaction.mine", "👍 1").await;
            assert_eq!(staff.current_path().await, staff_chat);
            staff.click("#m2 details.msg-menu summary").await;
            staff.click("#m2 button[value='pin']").await;
            let pinned = staff.wait_for_text("aside.pinned", thanks).await;
            assert!(pinned.contains("Hannah Brooks"), "{pinned}");
            assert_eq!(staff.text_of("#m2 .meta .badge").await, "pinned");
            assert_eq!(staff.count("#m2 button[value='unpin']").await, 1);
            assert_eq!(staff.text_of("#receipt").await, "Read by the client");
            staff.doc_screenshot("chat").await;

            // Hannah's phone shows both as they happen, and after a reload.
            phone.wait_for_text("aside.pinned", thanks).await;
            phone.wait_for_text("#m2 .reaction", "👍 1").await;
            assert!(
                still_the_same_page(&phone).await,
                "her page was not reloaded"
            );
            phone.goto(&portal_chat).await;
            assert!(phone.text_of("aside.pinned").await.contains(thanks));
            assert_eq!(phone.text_of("#m2 .reaction").await, "👍 1");
            assert_eq!(
                phone.count("#m2 .reaction.mine").await,
                0,
                "Olivia's reaction, not hers"
            );
            assert!(phone.text_of("#m2 blockquote.quote").await.contains(ready));
            assert_eq!(phone.count("#receipt").await, 0, "no receipts for contacts");
        },
    )
    .await;
}

/// Run in the page: whether the composer is whole on the screen, the
/// newest message above it, and the list of messages no box of its own.
const COMPOSER_IN_VIEW: &str = r##"
const [done] = arguments;
const form = document.querySelector("form.composer").getBoundingClientRect();
const items = document.querySelectorAll("#messages li[data-seq]");
const last = items[items.length - 1].getBoundingClientRect();
const list = getComputedStyle(document.getElementById("messages"));
done({
  composer: form.top >= 0 && form.bottom <= window.innerHeight + 1,
  newest: last.bottom <= form.top + 1 && last.bottom > 0,
  nested: list.overflowY !== "visible",
});
"##;

/// Run in the page: whether every picture in the chat has loaded.
const PICTURES_LOADED: &str = r##"
const [done] = arguments;
const pictures = [...document.querySelectorAll("#messages img")];
done(pictures.length > 0 && pictures.every((p) => p.complete && p.naturalWidth > 0));
"##;

#[tokio::test]
async fn a_contact_on_her_phone_sends_a_photo_and_a_voice_note_from_the_composer() {
    let app = TestApp::spawn().await;
    let Firm {
        olivia,
        bakery,
        hannah,
        ..
    } = firm(&app).await;
    let app = &app;
    let photo_dir = tempfile::tempdir().expect("a folder for the photo");
    let photo = photo_dir.path().join("receipt.jpg");
    let pixels = image::RgbImage::from_fn(1600, 1200, |x, y| {
        image::Rgb([(x / 7 % 256) as u8, (y / 5 % 256) as u8, 160])
    });
    pixels.save(&photo).expect("write the photo");
    run_story(
        "a_contact_on_her_phone_sends_a_photo_and_a_voice_note_from_the_composer",
        &app.base_url,
        |staff| async move {
            sign_in_as_staff(&staff, &olivia.email).await;
            staff
                .goto(&format!("/app/clients/{}/contacts", bakery.id))
                .await;
            staff.press("Chat with Hannah Brooks").await;
            staff.wait_for(".chat h2").await;
            let staff_chat = staff.current_path().await;
            let portal_chat = staff_chat.replace("/app/", "/portal/");
            for (i, text) in [
                "Hi Hannah, could you send a photo of the fuel receipt?",
                "And a quick note on what it was for, when you can.",
            ]
            .iter()
            .enumerate()
            {
                staff.fill("#body", text).await;
                staff.press("Send").await;
                staff.wait_for(&format!("#m{}", i + 1)).await;
            }
            // Grouped: the second message of Olivia's run shows no name again.
            staff.wait_for("#m2.cont").await;

            let phone = staff.another().await;
            phone.phone().await;
            sign_in_as_contact(&phone, app, &hannah.email).await;
            phone
                .wait_for_path(&format!("/portal/clients/{}", bakery.id))
                .await;
            phone.goto(&portal_chat).await;
            phone.wait_for("#m2").await;
            assert_eq!(
                phone.text_of(".chat h2").await,
                "Olivia Hart — Northwind Bakery Ltd",
                "who she writes to, not her own name"
            );
            assert_eq!(phone.text_of("#m1 .day-sep").await, "Today");
            let view = phone.run_async_script(COMPOSER_IN_VIEW, vec![]).await;
            assert_eq!(view["composer"], true, "the composer is on the screen");
            assert_eq!(view["newest"], true, "the newest message is in view");
            assert_eq!(view["nested"], false, "no scroll box inside the page");
            phone.run_async_script(MARK_PAGE, vec![]).await;

            // A photo from the (+), with a caption.
            phone.attach("#files", &photo).await;
            phone.wait_for_text("[data-chosen]", "receipt.jpg").await;
            phone.fill("#body", "Here it is").await;
            phone.press("Send").await;
            phone.wait_for("#m3 img[src$='/thumb']").await;
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            while phone.run_async_script(PICTURES_LOADED, vec![]).await != true {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the thumbnail loads"
                );
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            assert!(phone.text_of("#m3").await.contains("Here it is"));

            // A voice note, recorded in the page.
            phone.click("details.attach summary").await;
            phone.press("Record a voice note").await;
            phone
                .wait_for_text("[data-rec-time]", "Recording 0:01")
                .await;
            phone.press("Stop and send").await;
            phone.wait_for("#m4 audio[controls]").await;
            assert!(
                phone.text_of("#m4").await.contains("voice-note-"),
                "{}",
                phone.text_of("#m4").await
            );
            assert!(still_the_same_page(&phone).await, "no reload");
            let view = phone.run_async_script(COMPOSER_IN_VIEW, vec![]).await;
            assert_eq!(view["composer"], true);
            assert_eq!(view["newest"], true);

            // Olivia sees both live, and the Files panel lists them.
            staff.wait_for("#m3 img[src$='/thumb']").await;
            staff.wait_for("#m4 audio[controls]").await;
            staff.goto(&staff_chat).await;
            assert!(
                staff
                    .text_of("#files-panel summary")
                    .await
                    .contains("Files (2)")
            );
            phone.goto(&portal_chat).await;
            phone.wait_for("#m4 audio").await;
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            while phone.run_async_script(PICTURES_LOADED, vec![]).await != true {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the thumbnail loads"
                );
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            phone.doc_screenshot("portal-chat-phone").await;
        },
    )
    .await;
}

#[tokio::test]
async fn staff_answer_from_the_docked_chat_window_on_another_page_and_minimise_it() {
    let app = TestApp::spawn().await;
    let Firm {
        olivia,
        bakery,
        hannah,
        ..
    } = firm(&app).await;
    let app = &app;
    run_story(
        "staff_answer_from_the_docked_chat_window_on_another_page_and_minimise_it",
        &app.base_url,
        |staff| async move {
            sign_in_as_staff(&staff, &olivia.email).await;
            staff
                .goto(&format!("/app/clients/{}/contacts", bakery.id))
                .await;
            staff.press("Chat with Hannah Brooks").await;
            staff.wait_for(".chat h2").await;
            let staff_chat = staff.current_path().await;
            let chat = staff_chat.trim_start_matches("/app/messages/").to_owned();
            // Olivia works on another page while Hannah writes.
            staff.goto("/app/clients").await;
            let phone = staff.another().await;
            phone.phone().await;
            sign_in_as_contact(&phone, app, &hannah.email).await;
            phone
                .wait_for_path(&format!("/portal/clients/{}", bakery.id))
                .await;
            phone.goto(&staff_chat.replace("/app/", "/portal/")).await;
            phone.fill("#body", "Is the BAS lodged yet?").await;
            phone.press("Send").await;
            phone.wait_for("#m1").await;

            // On the clients page, the dock shows the unread count and the
            // top bar's Messages link too, as it comes.
            staff.wait_for_text("[data-dock-unread]", "1").await;
            staff.wait_for_text("a[data-messages-link] .badge", "1").await;
            staff.press("Messages 1").await;
            staff
                .click(&format!("[data-dock-open='{chat}']"))
                .await;
            staff
                .wait_for_text("[data-dock-messages]", "Is the BAS lodged yet?")
                .await;
            staff.run_async_script(MARK_PAGE, vec![]).await;
            staff.fill("#dock-body", "Yes, this morning.").await;
            staff.press("Send").await;
            staff
                .wait_for_text("[data-dock-messages]", "Yes, this morning.")
                .await;
            phone.wait_for_text("#m2", "Yes, this morning.").await;
            // A new message comes into the open window live.
            phone.fill("#body", "Thank you!").await;
            phone.press("Send").await;
            staff
                .wait_for_text("[data-dock-messages]", "Thank you!")
                .await;
            assert!(still_the_same_page(&staff).await, "no reload");
            assert_eq!(staff.current_path().await, "/app/clients");
            staff.doc_screenshot("dock").await;

            // Minimised to its bar, which does not cover the page's end.
            staff.click("[data-dock-toggle]").await;
            assert_eq!(staff.count("[data-dock-panel]:not([hidden])").await, 0);
            let covered = staff
                .run_async_script(
                    r#"const [done] = arguments;
                    const bar = document.querySelector("[data-dock]").getBoundingClientRect();
                    window.scrollTo(0, document.documentElement.scrollHeight);
                    const buttons = [...document.querySelectorAll("main button, main a")];
                    done(buttons.some((b) => { const r = b.getBoundingClientRect();
                      return r.width > 0 && r.bottom > bar.top && r.top < bar.bottom && r.right > bar.left && r.left < bar.right; }));"#,
                    vec![],
                )
                .await;
            assert_eq!(covered, false, "the bar covers no button of the page");

            // On a phone it is a button to the full Messages page.
            staff.phone().await;
            staff.click("[data-dock-toggle]").await;
            staff.wait_for_path("/app/messages").await;
        },
    )
    .await;
}

/// Run in the page: the chats of the list, top first.
const CHAT_ORDER: &str = r##"
const [done] = arguments;
done([...document.querySelectorAll(".chat-list li[data-chat-item]")]
  .map((li) => li.getAttribute("data-chat-item")));
"##;

/// Run in the page: the next form the page posts fails as it does with no
/// network; everything after it goes through.
const NETWORK_DOWN_ONCE: &str = r##"
const [done] = arguments;
const real = window.fetch;
window.fetch = function (url, options) {
  if (options && options.method === "POST") {
    window.fetch = real;
    return Promise.reject(new TypeError("Failed to fetch"));
  }
  return real.apply(this, arguments);
};
done(true);
"##;

/// Waits until the chat list reads `order`, top first.
async fn wait_for_order(browser: &RealBrowser, order: &[&str]) {
    let want: Vec<serde_json::Value> = order.iter().map(|c| (*c).into()).collect();
    for _ in 0..100 {
        if browser.run_async_script(CHAT_ORDER, vec![]).await
            == serde_json::Value::Array(want.clone())
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "the chat list never read {order:?}: {}",
        browser.run_async_script(CHAT_ORDER, vec![]).await
    );
}

#[tokio::test]
async fn enter_follows_each_persons_choice_a_send_without_network_is_retried_once_and_the_list_resorts_live()
 {
    let app = TestApp::spawn().await;
    let Firm {
        practice,
        olivia,
        bakery,
        hannah,
        ..
    } = firm(&app).await;
    let app = &app;
    run_story(
        "enter_follows_each_persons_choice_a_send_without_network_is_retried_once_and_the_list_resorts_live",
        &app.base_url,
        |staff| async move {
            sign_in_as_staff(&staff, &olivia.email).await;
            let tab = format!("/app/clients/{}/contacts", bakery.id);
            staff.goto(&tab).await;
            staff.press("Chat with Hannah Brooks").await;
            staff
                .wait_for_text(".chat h2", "Hannah Brooks — Northwind Bakery Ltd")
                .await;
            let hannah_chat = staff.current_path().await;
            let with_hannah = hannah_chat.rsplit('/').next().unwrap().to_owned();

            // S1: by default Enter sends and Shift+Enter starts a new line.
            staff.fill("#body", "Enter sends this").await;
            staff.type_keys("#body", "\u{E007}").await;
            staff.wait_for_text("#messages", "Enter sends this").await;
            assert_eq!(staff.value_of("#body").await, "", "the box is emptied");
            staff
                .type_keys("#body", "first line\u{E008}\u{E007}\u{E000}second line")
                .await;
            assert_eq!(staff.value_of("#body").await, "first line\nsecond line");
            assert_eq!(staff.count("#messages li.msg").await, 1, "not sent");
            staff.fill("#body", "").await;

            // Olivia chooses: Enter is a new line, Ctrl+Enter sends.
            staff.goto("/app/account/messaging").await;
            staff.click("input[name='enter'][value='newline']").await;
            staff.press("Save").await;
            staff.wait_for_text(".notice", "Saved").await;
            staff.goto(&hannah_chat).await;
            staff.type_keys("#body", "one\u{E007}two").await;
            assert_eq!(staff.value_of("#body").await, "one\ntwo");
            assert_eq!(staff.count("#messages li.msg").await, 1, "not sent");
            staff.type_keys("#body", "\u{E009}\u{E007}\u{E000}").await;
            staff.wait_for("#m2").await;
            assert!(staff.text_of("#m2").await.contains("one"));
            assert_eq!(staff.value_of("#body").await, "");

            // The network drops as she sends: "Not sent", Retry, the draft
            // kept; Retry sends it once, under the same key.
            let offline = "Sent while the network was down";
            staff.run_async_script(NETWORK_DOWN_ONCE, vec![]).await;
            staff.fill("#body", offline).await;
            staff.press("Send").await;
            staff.wait_for_text("#messages li.pending.failed", "Not sent").await;
            assert_eq!(staff.value_of("#body").await, offline, "the draft stays");
            staff.press("Retry").await;
            staff.wait_for_text("#m3", offline).await;
            assert_eq!(staff.count("#messages li.pending").await, 0);
            assert_eq!(staff.value_of("#body").await, "", "sent: the draft goes");
            let stored = app
                .store()
                .chat_messages(practice.id, with_hannah.parse().unwrap(), None, 10)
                .await
                .unwrap();
            assert_eq!(
                stored.iter().filter(|m| m.body == offline).count(),
                1,
                "stored once"
            );

            // A second chat, with the household's Ngozi, goes to the top.
            let tab = format!(
                "/app/clients/{}/contacts",
                app.store()
                    .list_clients(practice.id, &Default::default())
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|c| c.client.name == "Okafor Household")
                    .unwrap()
                    .client
                    .id
            );
            staff.goto(&tab).await;
            staff.press("Chat with Ngozi Okafor").await;
            staff.wait_for_text(".chat h2", "Ngozi Okafor").await;
            let with_ngozi = staff
                .current_path()
                .await
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            staff.fill("#body", "Hello Ngozi").await;
            staff.press("Send").await;
            staff.wait_for_text("#messages", "Hello Ngozi").await;
            staff.goto("/app/messages").await;
            wait_for_order(&staff, &[&with_ngozi, &with_hannah]).await;
            staff.run_async_script(MARK_PAGE, vec![]).await;

            // Hannah, on her phone, long-presses Olivia's message: its menu
            // opens. She answers; Olivia's list re-sorts without a reload.
            let phone = staff.another().await;
            phone.phone().await;
            sign_in_as_contact(&phone, app, &hannah.email).await;
            phone.wait_for("nav a[href='/portal/messages']").await;
            phone.goto(&format!("/portal/messages/{with_hannah}")).await;
            phone.wait_for("#m1 .bubble").await;
            assert_eq!(phone.count("#m1 details.msg-menu[open]").await, 0);
            phone
                .long_press("#m1 .bubble", std::time::Duration::from_millis(800))
                .await;
            phone.wait_for("#m1 details.msg-menu[open]").await;
            phone.click("#m1 details.msg-menu summary").await;
            phone.fill("#body", "Got it, thanks").await;
            phone.press("Send").await;
            phone.wait_for_text("#messages", "Got it, thanks").await;

            wait_for_order(&staff, &[&with_hannah, &with_ngozi]).await;
            staff
                .wait_for_text(
                    &format!("li[data-chat-item='{with_hannah}'] [data-preview]"),
                    "Got it, thanks",
                )
                .await;
            assert!(
                still_the_same_page(&staff).await,
                "the list re-sorted without a reload"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_contact_on_her_phone_starts_a_chat_with_the_practice_and_staff_see_it_live() {
    let app = TestApp::spawn().await;
    let Firm { olivia, hannah, .. } = firm(&app).await;
    let app = &app;
    run_story(
        "a_contact_on_her_phone_starts_a_chat_with_the_practice_and_staff_see_it_live",
        &app.base_url,
        |staff| async move {
            sign_in_as_staff(&staff, &olivia.email).await;
            staff.goto("/app/messages").await;
            staff.wait_for(".chat-list").await;
            staff.run_async_script(MARK_PAGE, vec![]).await;

            // Hannah has no chat yet: her Messages offers to write to the
            // practice, and the composer is in view on her phone.
            let phone = staff.another().await;
            phone.phone().await;
            sign_in_as_contact(&phone, app, &hannah.email).await;
            phone.click("nav a[href='/portal/messages']").await;
            phone.wait_for_path("/portal/messages").await;
            phone.press("Message the practice").await;
            phone.wait_for("form.composer #body").await;
            let chat = phone.current_path().await;
            assert!(chat.starts_with("/portal/messages/"), "{chat}");
            let title = phone.text_of(".chat h2").await;
            assert!(
                !title.contains("Hannah Brooks"),
                "her own name is not the title: {title}"
            );
            let first = "Hello, I have a question about my BAS.";
            phone.fill("#body", first).await;
            phone.press("Send").await;
            phone.wait_for_text("#m1", first).await;

            // Olivia, who looks after the bakery, sees the new chat arrive
            // in her list without a reload, and opens it.
            let id = chat.rsplit('/').next().unwrap().to_owned();
            staff
                .wait_for_text(&format!("li[data-chat-item='{id}'] [data-preview]"), first)
                .await;
            assert!(still_the_same_page(&staff).await, "no reload");
            staff
                .click(&format!(".chat-list a[href='/app/messages/{id}']"))
                .await;
            staff.wait_for_text("#m1", first).await;
            let title = staff.text_of(".chat h2").await;
            assert!(title.contains("Hannah Brooks"), "{title}");

            // Doing it again reopens the same chat.
            phone.goto("/portal/messages").await;
            phone.press("Message the practice").await;
            phone.wait_for_path(&chat).await;
        },
    )
    .await;
}

/// X1: on her phone, Olivia searches from the top bar for a message sent
/// long ago (older than the chat's first page) and lands on it.
#[tokio::test]
async fn staff_search_from_the_top_bar_on_a_phone_and_land_on_an_old_message() {
    let app = TestApp::spawn().await;
    let (practice, olivia) = harbour_and_vale(&app).await;
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
        ("Hannah Brooks", "hannah@northwind.example", None),
        &[&bakery],
        true,
    )
    .await;
    // The chat, with the message sought and sixty after it.
    let api = app.staff_browser(&olivia.email).await;
    let response = api
        .post_form(
            &format!("/app/clients/{}/chat", bakery.id),
            &[("contact", &hannah.id.to_string())],
        )
        .await;
    let chat = crate::harness::location(&response);
    let sends = std::iter::once("The quince jelly invoice is in the shared folder".to_owned())
        .chain((0..60).map(|i| format!("Note {i} about the ledger")));
    for (i, body) in sends.enumerate() {
        if i % 20 == 0 {
            app.clock.advance(std::time::Duration::from_secs(61));
        }
        let key = format!("k{i}");
        let sent = api
            .post_form(&chat, &[("body", body.as_str()), ("key", key.as_str())])
            .await;
        assert_eq!(sent.status(), 303);
    }
    let app = &app;
    run_story(
        "staff_search_from_the_top_bar_on_a_phone_and_land_on_an_old_message",
        &app.base_url,
        |staff| async move {
            staff.phone().await;
            sign_in_as_staff(&staff, &olivia.email).await;
            staff
                .type_keys("#top-search", "Quince invoice\u{E007}")
                .await;
            staff.wait_for_path("/app/search").await;
            staff.assert_no_sideways_scroll().await;
            let found = staff
                .wait_for_text("[data-search-group='messages']", "quince")
                .await;
            assert!(found.contains("The quince jelly invoice"), "{found}");
            assert_eq!(staff.count("[data-search-group='messages'] mark").await, 2);
            staff.click("[data-search-group='messages'] a").await;
            staff.wait_for_path(&chat).await;
            // The message is the page's target, on screen.
            let shown = staff
                .run_async_script(
                    "var m = document.querySelector(':target'); \
                     var r = m ? m.getBoundingClientRect() : null; \
                     arguments[0]([m ? m.id : '', m ? m.textContent : '', \
                                   !!r && r.bottom > 0 && r.top < window.innerHeight]);",
                    vec![],
                )
                .await;
            assert_eq!(shown[0], "m1", "{shown:?}");
            assert!(
                shown[1]
                    .as_str()
                    .is_some_and(|t| t.contains("quince jelly invoice")),
                "{shown:?}"
            );
            assert_eq!(shown[2], true, "the message is in view: {shown:?}");
            staff.assert_no_sideways_scroll().await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_contact_with_a_thousand_unread_sees_1000_plus_once_one_more_arrives_live() {
    let app = TestApp::spawn().await;
    let Firm {
        practice,
        olivia,
        hannah,
        bakery,
        cafe,
        ..
    } = firm(&app).await;
    let app = &app;
    run_story(
        "a_contact_with_a_thousand_unread_sees_1000_plus_once_one_more_arrives_live",
        &app.base_url,
        |staff| async move {
            sign_in_as_staff(&staff, &olivia.email).await;
            staff
                .goto(&format!("/app/clients/{}/contacts", bakery.id))
                .await;
            staff.press("Chat with Hannah Brooks").await;
            staff
                .wait_for_text(".chat h2", "Hannah Brooks — Northwind Bakery Ltd")
                .await;
            let chat = staff
                .current_path()
                .await
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            // Exactly as many unread as a chat counts (M4).
            crate::harness::many_messages_from(
                app,
                &olivia,
                chat.parse().expect("a chat id"),
                1000,
                "Reminder",
            )
            .await;

            let phone = staff.another().await;
            phone.phone().await;
            sign_in_as_contact(&phone, app, &hannah.email).await;
            phone.wait_for("nav a[href='/portal/messages']").await;
            phone.goto("/portal").await;
            assert_eq!(
                phone.text_of("#waiting-heading").await,
                "1000 new messages need you"
            );
            phone.goto("/portal/messages").await;
            let badge = format!("li[data-chat-item='{chat}'] [data-unread]");
            assert_eq!(phone.text_of(&badge).await, "1000");
            phone.run_async_script(MARK_PAGE, vec![]).await;

            // One more, live: 1,001 unread, of which the chat counts its
            // newest thousand, as the server would show it.
            staff.fill("#body", "And one more thing").await;
            staff.press("Send").await;
            staff.wait_for_text("#messages", "And one more thing").await;
            phone.wait_for_text(&badge, "1000+").await;
            phone
                .wait_for_text(
                    &format!("li[data-chat-item='{chat}'] [data-preview]"),
                    "And one more thing",
                )
                .await;
            assert!(
                still_the_same_page(&phone).await,
                "the badge changed without a reload"
            );
            phone.assert_no_sideways_scroll().await;
            phone
                .doc_screenshot("portal-messages-1000-plus-phone")
                .await;
            // The server says the same when the page is loaded again.
            phone.goto("/portal/messages").await;
            assert_eq!(phone.text_of(&badge).await, "1000+");
            phone.goto("/portal").await;
            phone
                .wait_for_text("#waiting-heading", "More than 1000 new messages need you")
                .await;
            phone.assert_no_sideways_scroll().await;
            phone.doc_screenshot("portal-home-1000-plus-phone").await;
            phone.desktop().await;
            phone.goto("/portal/messages").await;
            assert_eq!(phone.text_of(&badge).await, "1000+");
            phone.assert_no_sideways_scroll().await;

            // With a second client, the switcher counts the bakery's
            // unread the same way.
            app.store()
                .grant_access(practice.id, hannah.id, cafe.id)
                .await
                .expect("grant access");
            phone.phone().await;
            phone.goto(&format!("/portal/clients/{}", cafe.id)).await;
            phone.click("nav.switcher summary").await;
            let entry = phone
                .wait_for(&format!(
                    "nav.switcher a[href='/portal/clients/{}']",
                    bakery.id
                ))
                .await;
            assert_eq!(entry.text().await.expect("read"), "Northwind Bakery Ltd");
            let listed = phone.text_of("nav.switcher ul").await;
            assert!(listed.contains("1000+ unread"), "{listed}");
            phone.assert_no_sideways_scroll().await;
            phone
                .doc_screenshot("portal-switcher-1000-plus-phone")
                .await;
        },
    )
    .await;
}
