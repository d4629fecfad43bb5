//! P3, P4, A4 as a practice meets them: contacts edited and deleted, the
//! Contacts tab's invitations and links, and All contacts' picker.

use crate::harness::{Chat, TestApp, active, location, signed_in};
use portico::app::questions::QuestionInput;
use portico::domain::Role;
use std::time::Duration;

fn error_of(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}-error\">");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('<')?;
    Some(html[start..start + end].to_owned())
}

#[tokio::test]
async fn staff_edit_a_contact_and_an_admin_deletes_one_ending_her_access_at_once() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let p = practice.id;
    app.store()
        .set_practice_time_zone(p, "Australia/Sydney", &crate::harness::test_entry(p))
        .await
        .unwrap();
    let bakery = app.with_client(p, "Northwind Bakery").await;
    app.store()
        .set_assignable_questions(p, bakery.id, true)
        .await
        .unwrap();
    let hannah = active(&app, p, "hannah@northwind.example", &[&bakery]).await;
    let tom = app
        .with_contact(p, "tom@northwind.example", &[&bakery])
        .await;
    let member = app
        .with_staff(p, "marcus@harbour.example", Role::Member)
        .await;
    let staff = app.staff_browser(&member.email).await;
    let edit = format!("/app/contacts/{}/edit", hannah.id);

    // A member edits her: every field wrong at once is said at once.
    let (status, html) = staff.page(&edit).await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"hannah@northwind.example\""));
    assert!(!html.contains("Delete hannah"), "deleting is for admins");
    let response = staff
        .post_form(
            &edit,
            &[
                ("name", ""),
                ("email", "nope"),
                ("phone", "0412"),
                ("time_zone", "Mars/Olympus"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    for field in ["name", "email", "phone", "time_zone"] {
        assert!(error_of(&html, field).is_some(), "{field}: {html}");
    }
    assert!(html.contains("value=\"Mars/Olympus\""), "kept");
    // Tom's address is his.
    let response = staff
        .post_form(
            &edit,
            &[
                ("name", "Hannah Brooks"),
                ("email", "tom@northwind.example"),
                ("phone", ""),
                ("time_zone", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 409);
    assert!(
        error_of(&response.text().await.unwrap(), "email")
            .unwrap()
            .contains("Another contact")
    );
    let response = staff
        .post_form(
            &format!("{edit}?back=/app/clients/{}/contacts", bakery.id),
            &[
                ("name", "Hannah Brooks"),
                ("email", "Hannah.Brooks@Northwind.example"),
                ("phone", "0412 345 678"),
                ("time_zone", "Australia/Perth"),
            ],
        )
        .await;
    assert_eq!(
        location(&response),
        format!("/app/clients/{}/contacts?done=contact-saved", bakery.id)
    );
    let saved = app.store().get_contact(p, hannah.id).await.unwrap();
    assert_eq!(saved.name, "Hannah Brooks");
    assert_eq!(saved.email, "hannah.brooks@northwind.example");
    assert_eq!(saved.phone.as_deref(), Some("+61412345678"));
    assert_eq!(saved.time_zone.as_deref(), Some("Australia/Perth"));

    // She is in a chat, answered a question and has one of her own.
    let hannah = saved;
    let asked = app
        .app
        .ask_questions(
            &admin,
            bakery.id,
            &[
                QuestionInput {
                    title: "Is the van leased?".into(),
                    ..Default::default()
                },
                QuestionInput {
                    title: "Who signed the lease?".into(),
                    assignee: Some(hannah.id),
                    ..Default::default()
                },
            ],
        )
        .await
        .unwrap();
    app.app
        .answer_question(
            &hannah,
            asked[0].id,
            "Yes, since March.",
            &[],
            &crate::harness::origin(),
        )
        .await
        .unwrap();
    let admin_browser = app.staff_browser(&admin.email).await;
    let chat_path = Chat::open(&admin_browser, &bakery, &hannah)
        .await
        .staff_path;
    let hannah_browser = signed_in(&app, &hannah.email).await;
    hannah_browser
        .post_form(
            &chat_path.replace("/app/", "/portal/"),
            &[("body", "Here are the statements."), ("key", "h-1")],
        )
        .await;
    assert_eq!(hannah_browser.follow("/portal").await.0, 200);

    // Members may not delete; the admin is told what happens first.
    let delete = format!("/app/contacts/{}/delete", hannah.id);
    assert_eq!(staff.page(&delete).await.0, 403);
    assert_eq!(staff.post_form(&delete, &[]).await.status(), 403);
    let (status, html) = admin_browser.page(&delete).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("She loses access to Northwind Bakery."),
        "{html}"
    );
    assert!(html.contains("She leaves 1 chat; the messages she sent stay in them"));
    assert!(html.contains("Her 1 answer and their files stay with the questions"));
    assert!(html.contains("1 question given to her alone goes back to every contact"));
    // Another practice's admin finds nobody.
    let (_, rival) = app.with_practice("Rival").await;
    let rival_browser = app.staff_browser(&rival.email).await;
    assert_eq!(rival_browser.post_form(&delete, &[]).await.status(), 404);

    let response = admin_browser.post_form(&delete, &[]).await;
    assert_eq!(location(&response), "/app/contacts?done=contact-deleted");
    // Her session ended at once; what she wrote stays.
    let response = hannah_browser.get("/portal/account").await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert!(location(&response).starts_with("/portal/sign-in"));
    assert!(app.store().get_contact(p, hannah.id).await.is_err());
    let (_, html) = admin_browser.page(&chat_path).await;
    assert!(html.contains("Here are the statements."));
    let (_, html) = admin_browser
        .page(&format!("/app/questions/{}", asked[0].id))
        .await;
    assert!(html.contains("Yes, since March."));
    let moved = app.store().get_question(p, asked[1].id).await.unwrap();
    assert_eq!(moved.question.assignee, None, "back to every contact");
    let _ = tom;
}

#[tokio::test]
async fn the_contacts_tab_sends_invitations_and_links_and_says_when_they_end() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let p = practice.id;
    let bakery = app.with_client(p, "Northwind Bakery").await;
    let tom = app
        .with_contact(p, "tom@northwind.example", &[&bakery])
        .await;
    let staff = app.staff_browser(&admin.email).await;
    let tab = format!("/app/clients/{}/contacts", bakery.id);

    let (_, html) = staff.page(&tab).await;
    assert!(html.contains("No invitation sent yet"));
    assert!(html.contains("Send invitation<span class=\"sr-only\"> to tom"));
    let response = staff
        .post_form(&format!("/app/contacts/{}/invite?back={tab}", tom.id), &[])
        .await;
    assert_eq!(location(&response), format!("{tab}?done=invited"));
    let (_, html) = staff.page(&location(&response)).await;
    assert!(html.contains("The invitation is on its way."));
    assert!(html.contains("Resend invitation<span class=\"sr-only\"> to tom"));
    let invited = html
        .split("class=\"muted small invited\">")
        .nth(1)
        .unwrap()
        .split("</span>")
        .next()
        .unwrap()
        .to_owned();
    assert!(invited.starts_with("Invited "), "{invited}");
    assert!(invited.contains("expires"), "{invited}");
    let response = staff
        .post_form(
            &format!("/app/contacts/{}/password-reset?back={tab}", tom.id),
            &[],
        )
        .await;
    assert_eq!(location(&response), format!("{tab}?done=reset"));
    // A week on, the invitation has ended and the tab says so.
    app.clock.advance(Duration::from_secs(8 * 24 * 3600));
    let staff = app.staff_browser(&admin.email).await;
    let (_, html) = staff.page(&tab).await;
    assert!(html.contains("expired"), "{html}");

    // Resent, used; followed again, it says to sign in, not "expired".
    staff
        .post_form(&format!("/app/contacts/{}/invite?back={tab}", tom.id), &[])
        .await;
    let link = app.latest_link(&tom.email, "/portal/invitation/").await;
    let browser = app.browser();
    let response = browser.post_form(&link, &[]).await;
    assert_eq!(location(&response), "/portal");
    let (status, html) = app.browser().page(&link).await;
    assert_eq!(status, 410);
    assert!(
        html.contains("You have already activated your account"),
        "{html}"
    );
    assert!(html.contains(">Sign in</a>"));
    // Someone else's dead link still reads as one.
    let (_, html) = app.browser().page("/portal/invitation/nothing-here").await;
    assert!(html.contains("expired or has already been used"));

    // A text to someone without a mobile number links to where it is added.
    let response = staff
        .post_form(
            &format!("/app/clients/{}/send", bakery.id),
            &[
                ("to", &tom.id.to_string()),
                ("channel", "sms"),
                ("message", "Your return is ready."),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!(
        "href=\"/app/contacts/{}/edit?back=/app/clients/{}/send#phone\">Add a mobile number for tom</a>",
        tom.id, bakery.id
    )));
}

#[tokio::test]
async fn all_contacts_offers_only_the_clients_she_lacks_and_says_who_gets_or_loses_what() {
    let app = TestApp::spawn().await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let p = practice.id;
    let bakery = app.with_client(p, "Northwind Bakery").await;
    let cafe = app.with_client(p, "Copperleaf Cafe").await;
    let hannah = active(&app, p, "hannah@northwind.example", &[&bakery]).await;
    let staff = app.staff_browser(&admin.email).await;

    let (_, html) = staff.page("/app/settings/contacts").await;
    let picker = html
        .split(&format!("<select id=\"add-{}\"", hannah.id))
        .nth(1)
        .unwrap()
        .split("</select>")
        .next()
        .unwrap()
        .to_owned();
    assert!(picker.contains("<option value=\"\" selected>Choose a client…</option>"));
    assert!(picker.contains("Copperleaf Cafe"));
    assert!(!picker.contains("Northwind Bakery"), "she has it already");
    assert!(html.contains(
        "hannah loses Northwind Bakery: its questions and her chats about it close to her at once."
    ));

    let add = format!("/app/settings/contacts/{}/clients", hannah.id);
    let response = staff.post_form(&add, &[("client", "")]).await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Choose a client to give access to.")
    );
    let response = staff
        .post_form(&add, &[("client", &cafe.id.to_string())])
        .await;
    let (_, html) = staff.page(&location(&response)).await;
    assert!(
        html.contains("hannah can now open Copperleaf Cafe"),
        "{html}"
    );
    assert!(html.contains("hannah can open every client."));
    let response = staff
        .post_form(
            &format!(
                "/app/settings/contacts/{}/clients/{}/remove",
                hannah.id, bakery.id
            ),
            &[],
        )
        .await;
    let (_, html) = staff.page(&location(&response)).await;
    assert!(html.contains("hannah can no longer open Northwind Bakery"));
}
