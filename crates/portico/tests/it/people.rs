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

use crate::harness::{Page, active, location, signed_in};

/// The names of the clients the clients list shows.
fn listed_clients(html: &str) -> Vec<String> {
    Page::parse(html).select_text("table tbody tr td:first-child a")
}
use portico::store::Channel;

#[tokio::test]
async fn staff_add_find_and_open_clients() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let (rival, _) = app.with_practice("Rival").await;
    let theirs = app.with_client(rival.id, "Rival Client").await;
    let staff = app.staff_browser(&member.email).await;

    // A name is needed; the form keeps what was typed.
    let response = staff
        .post_form("/app/clients", &[("name", "  "), ("kind", "person")])
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    let page = Page::parse(&html);
    assert_eq!(page.text("p.field-error#name-error"), "Enter a name.");
    assert_eq!(
        page.attr("select#kind option[selected]", "value")
            .as_deref(),
        Some("person")
    );

    let response = staff
        .post_form(
            "/app/clients",
            &[("name", "Northwind Bakery"), ("kind", "business")],
        )
        .await;
    let to = location(&response);
    assert!(
        to.starts_with("/app/clients/") && to.ends_with("/contacts"),
        "{to}"
    );
    app.with_client(practice.id, "Bluegum Landscaping").await;

    let (_, html) = staff.page("/app/clients").await;
    let mut listed = listed_clients(&html);
    listed.sort();
    assert_eq!(listed, ["Bluegum Landscaping", "Northwind Bakery"]);
    assert!(!html.contains("Rival Client"));
    let (_, html) = staff.page("/app/clients?q=north").await;
    assert_eq!(listed_clients(&html), ["Northwind Bakery"]);
    // The maker looks after the client they added.
    let (_, html) = staff
        .page(&format!("/app/clients?assigned={}", member.id))
        .await;
    assert_eq!(listed_clients(&html), ["Northwind Bakery"]);
    let (_, html) = staff
        .page(&format!("/app/clients?assigned={}", admin.id))
        .await;
    assert!(html.contains("No client matches."));

    // Another practice's client is not found, nor a made-up id.
    for path in [
        format!("/app/clients/{}", theirs.id),
        format!("/app/clients/{}/contacts", theirs.id),
        format!("/app/clients/{}/send", theirs.id),
        "/app/clients/12345".to_owned(),
    ] {
        assert_eq!(staff.page(&path).await.0, 404, "{path}");
    }
    let response = staff
        .post_form(
            &format!("/app/clients/{}", theirs.id),
            &[("name", "Stolen")],
        )
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        app.store()
            .get_client(rival.id, theirs.id)
            .await
            .unwrap()
            .name,
        "Rival Client"
    );
}

#[tokio::test]
async fn a_clients_settings_staff_and_family_are_edited_on_its_page() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let (_, rival_admin) = app.with_practice("Rival").await;
    let household = app.with_client(practice.id, "Okafor Household").await;
    let chidi = app.with_client(practice.id, "Chidi Okafor").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let staff = app.staff_browser(&admin.email).await;
    let page = format!("/app/clients/{}", chidi.id);

    let response = staff
        .post_form(&page, &[("name", "Chidi A. Okafor"), ("assignable", "on")])
        .await;
    assert_eq!(location(&response), format!("{page}?done=saved"));
    let saved = app.store().get_client(practice.id, chidi.id).await.unwrap();
    assert_eq!(saved.name, "Chidi A. Okafor");
    assert!(saved.assignable_questions);
    let response = staff.post_form(&page, &[("name", "")]).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("Enter a name."));

    staff
        .post_form(
            &format!("{page}/staff"),
            &[("staff", &member.id.to_string())],
        )
        .await;
    assert_eq!(
        app.store()
            .assigned_staff(practice.id, chidi.id)
            .await
            .unwrap(),
        vec![member.id]
    );
    let response = staff
        .post_form(
            &format!("{page}/staff"),
            &[("staff", &rival_admin.id.to_string())],
        )
        .await;
    assert_eq!(response.status(), 404, "another practice's staff");
    staff
        .post_form(&format!("{page}/staff/{}/remove", member.id), &[])
        .await;
    assert!(
        app.store()
            .assigned_staff(practice.id, chidi.id)
            .await
            .unwrap()
            .is_empty()
    );

    // P5: Chidi joins the Okafor family; the household cannot then join another.
    let response = staff
        .post_form(
            &format!("{page}/family"),
            &[("primary", &household.id.to_string())],
        )
        .await;
    assert_eq!(location(&response), format!("{page}?done=saved"));
    let (_, html) = staff.page(&page).await;
    assert!(html.contains("Part of the family of"));
    let (_, html) = staff.page(&format!("/app/clients/{}", household.id)).await;
    assert!(html.contains("This is the primary record of a family"));
    let response = staff
        .post_form(
            &format!("/app/clients/{}/family", bakery.id),
            &[("primary", &chidi.id.to_string())],
        )
        .await;
    assert_eq!(response.status(), 409);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("is itself part of another family")
    );
    staff
        .post_form(&format!("{page}/family"), &[("primary", "")])
        .await;
    assert_eq!(
        app.store()
            .get_client(practice.id, chidi.id)
            .await
            .unwrap()
            .primary_client_id,
        None
    );
}

#[tokio::test]
async fn adding_a_contact_that_exists_offers_access_instead_of_a_second_person() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let cafe = app.with_client(practice.id, "Copperleaf Cafe").await;
    let member_browser = app.staff_browser(&member.email).await;
    let tab = format!("/app/clients/{}/contacts", bakery.id);

    // Bad input: each sentence beside its field, the form kept.
    let response = member_browser
        .post_form(
            &tab,
            &[
                ("name", "Hannah Brooks"),
                ("email", "hannah@"),
                ("phone", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    let page = Page::parse(&html);
    assert!(page.has("#email-error"));
    assert_eq!(
        page.attr("input[name=name]", "value").as_deref(),
        Some("Hannah Brooks")
    );
    let response = member_browser
        .post_form(
            &tab,
            &[
                ("name", "Hannah Brooks"),
                ("email", "hannah@northwind.example"),
                ("phone", "0412 345 678"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(
        Page::parse(&html)
            .text("#phone-error")
            .starts_with("Enter a mobile number in international format")
    );
    assert!(
        app.store()
            .list_contacts(practice.id)
            .await
            .unwrap()
            .is_empty(),
        "nothing saved"
    );

    let response = member_browser
        .post_form(
            &tab,
            &[
                ("name", "Hannah Brooks"),
                ("email", "hannah@northwind.example"),
                ("phone", "+61 412 345 678"),
            ],
        )
        .await;
    assert_eq!(location(&response), format!("{tab}?done=contact-added"));
    let hannah = app
        .store()
        .find_contact_by_email(
            practice.id,
            &portico::domain::EmailAddress::parse("hannah@northwind.example").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hannah.phone.as_deref(), Some("+61412345678"));
    assert_eq!(
        app.store().outbox_for(&hannah.email).await.unwrap().len(),
        1,
        "invited"
    );

    // The same address on another client: nobody new; a member is told to ask.
    let cafe_tab = format!("/app/clients/{}/contacts", cafe.id);
    let response = member_browser
        .post_form(
            &cafe_tab,
            &[
                ("name", "H. Brooks"),
                ("email", "HANNAH@northwind.example"),
                ("phone", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(html.contains("is already a contact of your practice, so nobody new was added"));
    assert!(html.contains("Ask an admin of your practice"));
    assert!(!html.contains("/grant"));
    let grant = format!("/app/clients/{}/contacts/{}/grant", cafe.id, hannah.id);
    assert_eq!(
        member_browser.post_form(&grant, &[]).await.status(),
        403,
        "members cannot grant"
    );
    assert_eq!(
        app.store().list_contacts(practice.id).await.unwrap().len(),
        1
    );

    // An admin is offered the button, and it gives access.
    let admin_browser = app.staff_browser(&admin.email).await;
    let response = admin_browser
        .post_form(
            &cafe_tab,
            &[
                ("name", "H. Brooks"),
                ("email", "hannah@northwind.example"),
                ("phone", ""),
            ],
        )
        .await;
    let html = response.text().await.unwrap();
    assert!(Page::parse(&html).has(&format!("form[action='{grant}']")));
    let response = admin_browser.post_form(&grant, &[]).await;
    assert_eq!(location(&response), format!("{cafe_tab}?done=access-given"));
    let clients: Vec<_> = app
        .store()
        .contact_clients(practice.id, hannah.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(clients.contains(&cafe.id) && clients.contains(&bakery.id));
    let response = admin_browser
        .post_form(
            &cafe_tab,
            &[
                ("name", "H"),
                ("email", "hannah@northwind.example"),
                ("phone", ""),
            ],
        )
        .await;
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("They can already open Copperleaf Cafe.")
    );
}

#[tokio::test]
async fn all_contacts_is_for_admins_and_edits_access_in_one_place() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let cafe = app.with_client(practice.id, "Copperleaf Cafe").await;
    let hannah = app
        .with_contact(practice.id, "hannah@northwind.example", &[&bakery])
        .await;
    let (rival, _) = app.with_practice("Rival").await;
    let theirs = app.with_client(rival.id, "Rival Client").await;

    let member_browser = app.staff_browser(&member.email).await;
    assert_eq!(
        member_browser.page("/app/settings/contacts").await.0,
        403,
        "a member"
    );
    let add = format!("/app/settings/contacts/{}/clients", hannah.id);
    assert_eq!(
        member_browser
            .post_form(&add, &[("client", &cafe.id.to_string())])
            .await
            .status(),
        403
    );

    let admin_browser = app.staff_browser(&admin.email).await;
    let (status, html) = admin_browser.page("/app/settings/contacts").await;
    assert_eq!(status, 200);
    assert!(html.contains("hannah@northwind.example"));
    let response = admin_browser
        .post_form(&add, &[("client", &cafe.id.to_string())])
        .await;
    assert_eq!(
        location(&response),
        format!("/app/settings/contacts?given={}:{}", hannah.id, cafe.id)
    );
    let response = admin_browser
        .post_form(&add, &[("client", &theirs.id.to_string())])
        .await;
    assert_eq!(response.status(), 404, "another practice's client");
    admin_browser
        .post_form(
            &format!(
                "/app/settings/contacts/{}/clients/{}/remove",
                hannah.id, bakery.id
            ),
            &[],
        )
        .await;
    let clients: Vec<_> = app
        .store()
        .contact_clients(practice.id, hannah.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(clients, vec![cafe.id]);
}

#[tokio::test]
async fn admins_invite_team_members_who_choose_a_password() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let admin_browser = app.staff_browser(&admin.email).await;

    let response = admin_browser
        .post_form(
            "/app/team",
            &[("name", "Priya N"), ("email", "priya@"), ("role", "member")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("value=\"Priya N\""));
    let response = crate::harness::invite_priya(&admin_browser).await;
    assert_eq!(location(&response), "/app/team?done=team-invited");
    let response = admin_browser
        .post_form(
            "/app/team",
            &[
                ("name", "Again"),
                ("email", "priya@harbour.example"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(response.status(), 409);

    let link = app
        .latest_link("priya@harbour.example", "/app/welcome/")
        .await;
    let priya = app.browser();
    let (status, html) = priya.page(&link).await;
    assert_eq!(status, 200);
    assert!(html.contains("Hello Priya N"));
    let response = priya
        .post_form(
            &link,
            &[
                ("password", "priya's long password"),
                ("confirm", "priya's long password"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/app");
    assert_eq!(priya.get("/app").await.status(), 200);
    assert_eq!(app.browser().page(&link).await.0, 410, "used once");

    // Members do not manage the team.
    assert_eq!(priya.page("/app/team").await.0, 403);
    let staff = app.store().list_staff(practice.id).await.unwrap();
    let priya_id = staff
        .iter()
        .find(|s| s.email == "priya@harbour.example")
        .unwrap()
        .id;
    let response = priya
        .post_form(
            &format!("/app/team/{}/role", admin.id),
            &[("role", "member")],
        )
        .await;
    assert_eq!(response.status(), 403);

    // The last admin stays an admin; nobody deactivates themselves.
    let response = admin_browser
        .post_form(
            &format!("/app/team/{}/role", admin.id),
            &[("role", "member")],
        )
        .await;
    assert_eq!(response.status(), 409);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("at least one admin")
    );
    let response = admin_browser
        .post_form(
            &format!("/app/team/{}/active", admin.id),
            &[("active", "off")],
        )
        .await;
    assert_eq!(response.status(), 409);

    // Deactivating signs the member out everywhere and keeps them out.
    admin_browser
        .post_form(
            &format!("/app/team/{priya_id}/active"),
            &[("active", "off")],
        )
        .await;
    assert_eq!(location(&priya.get("/app").await), "/app/sign-in");
    let response = priya
        .post_form(
            "/app/sign-in",
            &[
                ("email", "priya@harbour.example"),
                ("password", "priya's long password"),
            ],
        )
        .await;
    assert_eq!(response.status(), 401);
    // Another practice's admin cannot touch Harbour's team.
    let (_, rival_admin) = app.with_practice("Rival").await;
    let rival = app.staff_browser(&rival_admin.email).await;
    let response = rival
        .post_form(&format!("/app/team/{priya_id}/active"), &[("active", "on")])
        .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_contact_switches_between_their_clients_and_reaches_no_other() {
    let app = TestApp::spawn().await;
    let (practice, _) = app.with_practice("Harbour").await;
    let (rival, _) = app.with_practice("Rival").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let landscaping = app.with_client(practice.id, "Bluegum Landscaping").await;
    let other = app.with_client(practice.id, "Someone Else Ltd").await;
    let theirs = app.with_client(rival.id, "Rival Client").await;
    active(
        &app,
        practice.id,
        "hannah@northwind.example",
        &[&bakery, &landscaping],
    )
    .await;
    let hannah = signed_in(&app, "hannah@northwind.example").await;

    // Nothing waits for her anywhere: she lands on all her clients.
    let (status, html) = hannah.follow("/portal").await;
    assert_eq!(status, 200);
    let page = Page::parse(&html);
    assert_eq!(page.text("h1"), "All my accounts", "{html}");
    let links = page.attrs("a[href^='/portal/clients/']", "href");
    for client in [&bakery, &landscaping] {
        assert!(
            links.contains(&format!("/portal/clients/{}", client.id)),
            "{links:?}"
        );
    }
    assert!(!html.contains("Someone Else Ltd"));
    let (status, html) = hannah.page(&format!("/portal/clients/{}", bakery.id)).await;
    assert_eq!(status, 200);
    let page = Page::parse(&html);
    assert_eq!(page.text("h1"), "Northwind Bakery");
    assert_eq!(
        page.attrs("nav.switcher li a", "href"),
        [format!("/portal/clients/{}", landscaping.id)]
    );

    for id in [other.id, theirs.id] {
        let (status, html) = hannah.page(&format!("/portal/clients/{id}")).await;
        assert_eq!(status, 404, "a client not given to her");
        assert!(!html.contains("Someone Else Ltd") && !html.contains("Rival Client"));
    }
}

#[tokio::test]
async fn families_are_reached_through_their_primary_only() {
    let app = TestApp::spawn().await;
    let (practice, _) = app.with_practice("Harbour").await;
    let okafor = app.with_client(practice.id, "Okafor Household").await;
    let chidi = app.with_client(practice.id, "Chidi Okafor").await;
    let smith = app.with_client(practice.id, "Smith Household").await;
    let jo = app.with_client(practice.id, "Jo Smith").await;
    for (member, primary) in [(&chidi, &okafor), (&jo, &smith)] {
        app.store()
            .set_family_primary(practice.id, member.id, Some(primary.id))
            .await
            .unwrap();
    }
    active(&app, practice.id, "ngozi@okafor.example", &[&okafor]).await;
    active(&app, practice.id, "chidi@okafor.example", &[&chidi]).await;

    let ngozi = signed_in(&app, "ngozi@okafor.example").await;
    let (status, html) = ngozi.page(&format!("/portal/clients/{}", okafor.id)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Your family"));
    assert_eq!(
        Page::parse(&html).text(&format!("a[href='/portal/clients/{}']", chidi.id)),
        "Chidi Okafor"
    );
    let (status, html) = ngozi.page(&format!("/portal/clients/{}", chidi.id)).await;
    assert_eq!(status, 200);
    assert_eq!(Page::parse(&html).text("h1"), "Chidi Okafor");
    assert!(
        html.contains("(Okafor Household)"),
        "labelled with its family"
    );
    assert_eq!(
        ngozi.page(&format!("/portal/clients/{}", jo.id)).await.0,
        404,
        "another family's record"
    );

    // A contact of one member does not reach the rest of the family.
    let chidi_browser = signed_in(&app, "chidi@okafor.example").await;
    assert_eq!(
        chidi_browser
            .page(&format!("/portal/clients/{}", okafor.id))
            .await
            .0,
        404
    );
    assert_eq!(
        chidi_browser
            .page(&format!("/portal/clients/{}", chidi.id))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn staff_preview_a_contacts_portal_read_only() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let (rival, _) = app.with_practice("Rival").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let landscaping = app.with_client(practice.id, "Bluegum Landscaping").await;
    let hannah = active(
        &app,
        practice.id,
        "hannah@northwind.example",
        &[&bakery, &landscaping],
    )
    .await;
    let theirs = app.with_contact(rival.id, "them@rival.example", &[]).await;
    let staff = app.staff_browser(&admin.email).await;

    let (_, html) = staff
        .page(&format!("/app/clients/{}/contacts", bakery.id))
        .await;
    let preview = format!("/app/preview/{}/clients/{}", hannah.id, bakery.id);
    assert!(Page::parse(&html).has(&format!("a[href='{preview}']")));
    let (status, html) = staff.page(&preview).await;
    assert_eq!(status, 200);
    assert!(html.contains("Preview of hannah's portal — read only."));
    let page = Page::parse(&html);
    assert_eq!(page.text("h1"), "Northwind Bakery");
    assert!(
        html.contains("Bluegum Landscaping"),
        "her other client is listed"
    );
    assert!(
        !page.has("a[href^='/portal/clients/']"),
        "the switcher is disabled"
    );
    assert!(html.contains("Switching is off while previewing."));
    assert!(
        !page.has("form[action='/sign-out']"),
        "no forms of the portal"
    );

    // A change posted while previewing is refused.
    let response = staff.post_form(&preview, &[("anything", "x")]).await;
    assert_eq!(response.status(), 403);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("nothing can be changed")
    );
    // Another practice's contact cannot be previewed.
    assert_eq!(
        staff.page(&format!("/app/preview/{}", theirs.id)).await.0,
        404
    );
    // A client she was not given is not in her preview either.
    let other = app.with_client(practice.id, "Someone Else Ltd").await;
    assert_eq!(
        staff
            .page(&format!("/app/preview/{}/clients/{}", hannah.id, other.id))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn send_to_emails_or_texts_chosen_contacts() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    let tom = active(&app, practice.id, "tom@northwind.example", &[&bakery]).await;
    app.store()
        .update_contact(
            practice.id,
            hannah.id,
            &portico::domain::Name::parse("Hannah").unwrap(),
            Some(&portico::domain::PhoneNumber::parse("+61412345678").unwrap()),
        )
        .await
        .unwrap();
    let (rival, _) = app.with_practice("Rival").await;
    let theirs = active(&app, rival.id, "them@rival.example", &[]).await;
    let staff = app.staff_browser(&admin.email).await;
    let send = format!("/app/clients/{}/send", bakery.id);

    // Nothing chosen, nothing written: each problem beside its field.
    let response = staff
        .post_form(
            &send,
            &[("channel", "email"), ("subject", ""), ("message", "")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Choose at least one contact of this client."));
    assert!(html.contains("Write a subject."));
    assert!(html.contains("Write a message."));

    // A text to someone without a valid number is refused, the form kept.
    let response = staff
        .post_form(
            &send,
            &[
                ("to", &hannah.id.to_string()),
                ("to", &tom.id.to_string()),
                ("channel", "sms"),
                ("message", "Your return is ready to sign."),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("No valid mobile number for tom."), "{html}");
    assert!(html.contains("Your return is ready to sign."));
    // A contact of another practice cannot be chosen.
    let response = staff
        .post_form(
            &send,
            &[
                ("to", &theirs.id.to_string()),
                ("channel", "email"),
                ("subject", "Hi"),
                ("message", "Hi"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        app.store()
            .outbox_for(&theirs.email)
            .await
            .unwrap()
            .is_empty()
    );

    let response = staff
        .post_form(
            &send,
            &[
                ("to", &hannah.id.to_string()),
                ("to", &tom.id.to_string()),
                ("channel", "email"),
                ("subject", "Documents"),
                ("message", "Please upload your bank statements."),
            ],
        )
        .await;
    assert_eq!(location(&response), format!("{send}?done=sent"));
    for contact in [&hannah, &tom] {
        let mail = app.store().outbox_for(&contact.email).await.unwrap();
        let last = mail.last().unwrap();
        assert_eq!(last.subject, "Documents");
        assert!(
            last.body_text
                .contains("Please upload your bank statements.")
        );
        assert!(last.body_text.contains("Harbour Admin"));
    }

    let response = staff
        .post_form(
            &send,
            &[
                ("to", &hannah.id.to_string()),
                ("channel", "sms"),
                ("message", "Your return is ready to sign."),
            ],
        )
        .await;
    assert_eq!(location(&response), format!("{send}?done=sent"));
    let texts = app.store().outbox_for("+61412345678").await.unwrap();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].channel, Channel::Sms);
    app.deliver_mail().await;
    let dir = app.data_dir.join("outbox").join("sms");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(text.starts_with("To: +61412345678\n"));
    assert!(text.contains("Your return is ready to sign.\n— Harbour Admin, Harbour"));
}

#[tokio::test]
async fn records_are_stamped_with_the_servers_clock_not_the_wall_clock() {
    let app = TestApp::spawn().await;
    app.clock
        .advance(std::time::Duration::from_secs(400 * 24 * 60 * 60));
    let now = app.clock.now();
    let (practice, admin) = app.with_practice("Harbour Vale").await;
    let marcus = app
        .with_staff(practice.id, "marcus@harbour.example", Role::Member)
        .await;
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah =
        crate::harness::active(&app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    assert_eq!(practice.created_at, now);
    assert_eq!(admin.created_at, now);
    assert_eq!(marcus.created_at, now);
    assert_eq!(bakery.created_at, now);
    assert_eq!(hannah.created_at, now);
}
