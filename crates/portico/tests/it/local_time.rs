//! X15: every person reads times in their own time zone (their own, else
//! the practice's): pages, e-mails and exports.

use crate::harness::{Chat, TestApp, active, location, signed_in};
use portico::domain::Millis;
use portico::store::{Client, Contact, Practice, Staff};
use std::time::Duration;

fn at(text: &str) -> Millis {
    Millis(
        text.parse::<jiff::Timestamp>()
            .expect("a timestamp")
            .as_millisecond(),
    )
}

/// Moves the server's clock forward to `when` (the dates of these tests are
/// chosen for their daylight-saving changes, and lie ahead).
fn move_clock_to(app: &TestApp, when: Millis) {
    let now = app.clock.now();
    assert!(when >= now, "the test's dates must lie ahead of today");
    app.clock.advance(Duration::from_millis(
        u64::try_from(when.0 - now.0).unwrap(),
    ));
}

/// A practice in Sydney whose admin reads times in London, and a client
/// with a contact who chose no zone (so reads the practice's).
async fn sydney_practice(app: &TestApp) -> (Practice, Staff, Client, Contact) {
    let (practice, admin) = app.with_practice("Harbour").await;
    app.app
        .set_practice_time_zone(&admin, "Australia/Sydney", &crate::harness::origin())
        .await
        .unwrap();
    app.store()
        .set_staff_time_zone(practice.id, admin.id, Some("Europe/London"))
        .await
        .unwrap();
    let bakery = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = active(app, practice.id, "hannah@northwind.example", &[&bakery]).await;
    (practice, admin, bakery, hannah)
}

fn time_element(datetime: &str, title: &str, text: &str) -> String {
    format!("<time datetime=\"{datetime}\" title=\"{title}\">{text}</time>")
}

#[tokio::test]
async fn the_same_message_reads_in_each_persons_zone_across_daylight_saving() {
    let app = TestApp::spawn().await;
    // Saturday 3 April 2027, 15:06 in Sydney (AEDT, +11:00), 05:06 in
    // London (BST, +01:00). Sydney leaves daylight saving the next day.
    move_clock_to(&app, at("2027-04-03T04:06:00Z"));
    let (_, admin, bakery, hannah) = sydney_practice(&app).await;
    let staff = app.staff_browser(&admin.email).await;
    let staff_path = Chat::open(&staff, &bakery, &hannah).await.staff_path;
    let portal_path = staff_path.replace("/app/", "/portal/");
    staff
        .post_form(
            &staff_path,
            &[("body", "Your return is ready."), ("key", "s1")],
        )
        .await;

    let sydney_first = time_element(
        "2027-04-03T15:06:00+11:00",
        "Saturday 3 April 2027, 15:06 AEDT (Australia/Sydney)",
        "Today 15:06",
    );
    let london_first = time_element(
        "2027-04-03T05:06:00+01:00",
        "Saturday 3 April 2027, 05:06 BST (Europe/London)",
        "Today 05:06",
    );
    let hannah_browser = signed_in(&app, &hannah.email).await;
    let (status, html) = hannah_browser.page(&portal_path).await;
    assert_eq!(status, 200);
    assert!(html.contains(&sydney_first), "{html}");
    let (_, html) = staff.page(&staff_path).await;
    assert!(html.contains(&london_first), "{html}");
    assert!(!html.contains("UTC"), "no time is shown in UTC");

    // Monday 5 April, 15:06 in Sydney, now AEST (+10:00); 06:06 in London.
    move_clock_to(&app, at("2027-04-05T05:06:00Z"));
    let hannah_browser = signed_in(&app, &hannah.email).await;
    hannah_browser
        .post_form(&portal_path, &[("body", "Thank you!"), ("key", "h1")])
        .await;
    let (_, html) = hannah_browser.page(&portal_path).await;
    assert!(
        html.contains(&time_element(
            "2027-04-03T15:06:00+11:00",
            "Saturday 3 April 2027, 15:06 AEDT (Australia/Sydney)",
            "Sat 15:06",
        )),
        "{html}"
    );
    assert!(
        html.contains(&time_element(
            "2027-04-05T15:06:00+10:00",
            "Monday 5 April 2027, 15:06 AEST (Australia/Sydney)",
            "Today 15:06",
        )),
        "{html}"
    );
    let staff = app.staff_browser(&admin.email).await;
    let (_, html) = staff.page(&staff_path).await;
    assert!(html.contains(">Sat 05:06</time>"), "{html}");
    assert!(
        html.contains(&time_element(
            "2027-04-05T06:06:00+01:00",
            "Monday 5 April 2027, 06:06 BST (Europe/London)",
            "Today 06:06",
        )),
        "{html}"
    );
    // The JSON a page reads after a live event speaks the reader's zone too.
    let json: serde_json::Value = staff
        .client
        .get(staff.url(&format!("{staff_path}/after/0")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json[1]["at"], "Today 06:06");
}

#[tokio::test]
async fn team_members_choose_their_own_zone_under_my_account() {
    let app = TestApp::spawn().await;
    move_clock_to(&app, at("2027-04-03T04:06:00Z"));
    let (practice, _) = app.with_practice("Harbour").await;
    let member = app
        .with_staff(
            practice.id,
            "mia@harbour.example",
            portico::domain::Role::Member,
        )
        .await;
    let browser = app.staff_browser(&member.email).await;
    let (_, html) = browser.page("/app/account").await;
    assert!(html.contains("action=\"/app/account/time-zone\""), "{html}");
    assert!(
        html.contains("follow the practice's time zone (UTC)"),
        "{html}"
    );

    // A name the tz database does not know is refused, kept in the field.
    let refused = browser
        .post_form("/app/account/time-zone", &[("time_zone", "Mars/Olympus")])
        .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("is not a time zone"), "{html}");
    assert!(html.contains("value=\"Mars/Olympus\""));

    let saved = browser
        .post_form("/app/account/time-zone", &[("time_zone", "Asia/Tokyo")])
        .await;
    assert_eq!(location(&saved), "/app/account?done=saved");
    let (_, html) = browser.page("/app/account").await;
    assert!(html.contains("value=\"Asia/Tokyo\""));
    assert!(html.contains("Saturday 3 April 2027, 13:06 JST"), "{html}");
    // Empty: the practice's zone again.
    browser
        .post_form("/app/account/time-zone", &[("time_zone", "")])
        .await;
    let staff = app.store().get_staff(practice.id, member.id).await.unwrap();
    assert_eq!(staff.time_zone, None);
    // Without a session, nothing changes.
    let anonymous = app.browser();
    anonymous.page("/").await;
    let response = anonymous
        .post_form("/app/account/time-zone", &[("time_zone", "Asia/Tokyo")])
        .await;
    assert_eq!(location(&response), "/app/sign-in");
}

#[tokio::test]
async fn e_mails_give_times_in_the_recipients_zone() {
    let app = TestApp::spawn().await;
    move_clock_to(&app, at("2027-04-03T04:06:00Z"));
    let (practice, _, bakery, hannah) = sydney_practice(&app).await;
    let tom = active(&app, practice.id, "tom@northwind.example", &[&bakery]).await;
    app.store()
        .set_contact_time_zone(practice.id, tom.id, Some("America/New_York"))
        .await
        .unwrap();
    for email in [&hannah.email, &tom.email] {
        app.browser()
            .post_form("/portal/sign-in/link", &[("email", email)])
            .await;
    }
    let hannah_mail = app.store().outbox_for(&hannah.email).await.unwrap();
    let tom_mail = app.store().outbox_for(&tom.email).await.unwrap();
    // The link lasts 15 minutes: until 15:21 in Sydney, 00:21 in New York.
    assert!(
        hannah_mail[0]
            .body_text
            .contains("expires in 15 minutes (Saturday 3 April 2027, 15:21 AEDT)"),
        "{}",
        hannah_mail[0].body_text
    );
    assert!(
        tom_mail[0]
            .body_text
            .contains("expires in 15 minutes (Saturday 3 April 2027, 00:21 EDT)"),
        "{}",
        tom_mail[0].body_text
    );
    assert!(
        hannah_mail[0]
            .body_html
            .as_deref()
            .unwrap()
            .contains("Saturday 3 April 2027, 15:21 AEDT")
    );
}

#[tokio::test]
async fn a_chat_export_has_date_cells_in_the_practices_zone() {
    use calamine::{Data, Reader, Xlsx};
    let app = TestApp::spawn().await;
    move_clock_to(&app, at("2027-04-03T04:06:30Z"));
    let (_, admin, bakery, hannah) = sydney_practice(&app).await;
    let staff = app.staff_browser(&admin.email).await;
    let staff_path = Chat::open(&staff, &bakery, &hannah).await.staff_path;
    staff
        .post_form(
            &staff_path,
            &[("body", "Your return is ready."), ("key", "s1")],
        )
        .await;

    let bytes = staff
        .get(&format!("{staff_path}/export/xlsx"))
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let mut workbook: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    let cell = sheet.get((1, 0)).expect("the first message's date");
    let Data::DateTime(date) = cell else {
        panic!("a real date cell, not {cell:?}");
    };
    // Excel counts days from 30 December 1899; 15:06:30 on 3 April 2027
    // (the practice's Sydney time, not the admin's London time).
    let days = jiff::civil::date(1899, 12, 30)
        .until(jiff::civil::date(2027, 4, 3))
        .unwrap()
        .get_days();
    let expected = f64::from(days) + (15.0 * 3600.0 + 6.0 * 60.0 + 30.0) / 86_400.0;
    assert!((date.as_f64() - expected).abs() < 1e-6, "{}", date.as_f64());

    let csv = staff
        .get(&format!("{staff_path}/export/csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("\n2027-04-03T15:06:30+11:00,Harbour Admin,Your return is ready."),
        "{csv}"
    );
}
