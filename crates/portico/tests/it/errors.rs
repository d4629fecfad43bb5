//! Errors that say what they are: a refusal answers with its status, its
//! sentence and the field it is about; a failure on Portico's side is an
//! apology with a reference, logged with the request id; no crafted value
//! (a NUL character, a huge number, an unknown role) is a 500.

use crate::harness::{self, Browser, TestApp, location, signed_in};
use portico::domain::{PracticeId, QuestionId, Role};
use portico::store::{Client, Contact, Staff};
use std::sync::{Arc, Mutex};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n";

/// A practice with an admin signed in, a client, an activated contact of
/// it and an open question of it.
struct World {
    practice: PracticeId,
    admin: Staff,
    staff: Browser,
    client: Client,
    contact: Contact,
    question: QuestionId,
}

async fn world(app: &TestApp) -> World {
    let w = harness::World::new(app).await;
    let client = w.client("Northwind Bakery").await;
    let contact = w.contact("hannah@northwind.example", &[&client]).await;
    let question = w.ask(&client, "Bank statements for March").await;
    World {
        practice: w.id(),
        admin: w.admin,
        staff: w.staff,
        client,
        contact,
        question,
    }
}

async fn status_and_text(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

const CANNOT_STORE: &str = "contains a character Portico cannot store";

#[tokio::test]
async fn nul_characters_are_refused_in_every_kind_of_form_with_a_422() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let questions_before = app
        .store()
        .list_questions(w.practice, &Default::default())
        .await
        .unwrap()
        .len();

    // Urlencoded forms: a question's title and details, Send-to subject and
    // body, a team invitation, a client's name.
    let ask = format!("/app/clients/{}/questions", w.client.id);
    let send = format!("/app/clients/{}/send", w.client.id);
    let contact = w.contact.id.to_string();
    let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (&ask, vec![("title", "March\0"), ("details", "")]),
        (&ask, vec![("title", "March"), ("details", "all \0 of it")]),
        (
            &send,
            vec![
                ("to", &contact),
                ("channel", "email"),
                ("subject", "Hello\0"),
                ("message", "Body"),
            ],
        ),
        (
            &send,
            vec![
                ("to", &contact),
                ("channel", "email"),
                ("subject", "Hello"),
                ("message", "Bo\0dy"),
            ],
        ),
        (
            "/app/team",
            vec![
                ("name", "Ann\0"),
                ("email", "ann@harbour.example"),
                ("role", "member"),
            ],
        ),
        (
            "/app/clients",
            vec![("name", "Bluegum\0"), ("kind", "business")],
        ),
    ];
    for (path, fields) in forms {
        let (status, html) = status_and_text(w.staff.post_form(path, &fields).await).await;
        assert_eq!(status, 422, "{path} {fields:?}");
        assert!(html.contains(CANNOT_STORE), "{path}: {html}");
    }

    // Query strings: the client search.
    let (status, html) = w.staff.page("/app/clients?q=North%00wind").await;
    assert_eq!(status, 422);
    assert!(html.contains(CANNOT_STORE));

    // An id in a path: names nothing.
    let response = w
        .staff
        .post_form("/app/settings/outbox/%00/retry", &[])
        .await;
    assert_eq!(response.status(), 404);
    let response = w
        .staff
        .post_form("/app/settings/outbox/not-an-id/retry", &[])
        .await;
    assert_eq!(response.status(), 404);

    // Text fields of forms with files: a pasted list, a CSV, a follow-up.
    let many = format!("/app/clients/{}/questions/many", w.client.id);
    let form = reqwest::multipart::Form::new().text("list", "First\nSec\0ond");
    let (status, html) = status_and_text(w.staff.post_multipart(&many, form).await).await;
    assert_eq!(status, 422);
    assert!(html.contains(CANNOT_STORE));
    let form = reqwest::multipart::Form::new().part(
        "csv",
        reqwest::multipart::Part::bytes(b"question\nWhat is th\0is?\n".to_vec())
            .file_name("list.csv"),
    );
    let (status, html) = status_and_text(w.staff.post_multipart(&many, form).await).await;
    assert_eq!(status, 422);
    assert!(html.contains(CANNOT_STORE));
    let follow_up = format!("/app/questions/{}/follow-up", w.question);
    let form = reqwest::multipart::Form::new().text("body", "Any \0 news?");
    let (status, html) = status_and_text(w.staff.post_multipart(&follow_up, form).await).await;
    assert_eq!(status, 422);
    assert!(html.contains(CANNOT_STORE));

    // Any contact can answer: the same for them.
    let hannah = signed_in(&app, &w.contact.email).await;
    let answer = format!("/portal/questions/{}/answer", w.question);
    let form = reqwest::multipart::Form::new().text("body", "Here\0 they are");
    let (status, html) = status_and_text(hannah.post_multipart(&answer, form).await).await;
    assert_eq!(status, 422);
    assert!(html.contains(CANNOT_STORE));

    // Nothing of it was stored; the same forms without the NUL work.
    let questions = app
        .store()
        .list_questions(w.practice, &Default::default())
        .await
        .unwrap();
    assert_eq!(questions.len(), questions_before);
    let response = w
        .staff
        .post_form(&ask, &[("title", "March"), ("details", "all of it")])
        .await;
    assert_eq!(response.status(), 303);
    let (status, _) = w.staff.page("/app/clients?q=North").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unknown_roles_and_deactivated_members_are_refusals_not_500s() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let marcus = app
        .with_staff(w.practice, "marcus@harbour.example", Role::Member)
        .await;

    // An unknown role: 422 on the team page, nothing changed.
    let response = w
        .staff
        .post_form(
            &format!("/app/team/{}/role", marcus.id),
            &[("role", "owner")],
        )
        .await;
    let (status, html) = status_and_text(response).await;
    assert_eq!(status, 422);
    assert!(html.contains("A role is either admin or member."));
    let stored = app.store().get_staff(w.practice, marcus.id).await.unwrap();
    assert_eq!(stored.role, Role::Member);

    // An id that is no id, or another practice's member: not found.
    let response = w
        .staff
        .post_form("/app/team/nonsense/role", &[("role", "admin")])
        .await;
    assert_eq!(response.status(), 404);
    let (rival, rival_admin) = app.with_practice("Rival").await;
    let response = w
        .staff
        .post_form(
            &format!("/app/team/{}/role", rival_admin.id),
            &[("role", "member")],
        )
        .await;
    assert_eq!(response.status(), 404);
    assert!(
        app.store()
            .get_staff(rival.id, rival_admin.id)
            .await
            .unwrap()
            .is_admin()
    );

    // The last admin cannot step down: a conflict, said on the page.
    let response = w
        .staff
        .post_form(
            &format!("/app/team/{}/role", w.admin.id),
            &[("role", "member")],
        )
        .await;
    let (status, html) = status_and_text(response).await;
    assert_eq!(status, 409);
    assert!(html.contains("at least one admin"));

    // A deactivated team member cannot be assigned to a client: a clear
    // refusal on the client's page.
    let response = w
        .staff
        .post_form(&format!("/app/team/{}/active", marcus.id), &[])
        .await;
    assert_eq!(response.status(), 303);
    let response = w
        .staff
        .post_form(
            &format!("/app/clients/{}/staff", w.client.id),
            &[("staff", &marcus.id.to_string())],
        )
        .await;
    let (status, html) = status_and_text(response).await;
    assert_eq!(status, 409);
    assert!(html.contains("is no longer on the team."), "{html}");
    assert!(html.contains("Northwind Bakery"));

    // The same sweep for other id- and enum-taking forms.
    let response = w
        .staff
        .post_form(
            &format!("/app/clients/{}/staff", w.client.id),
            &[("staff", "not-an-id")],
        )
        .await;
    assert_eq!(response.status(), 404);
    let response = w
        .staff
        .post_form("/app/clients", &[("name", "Bluegum"), ("kind", "galaxy")])
        .await;
    let (status, html) = status_and_text(response).await;
    assert_eq!(status, 422);
    assert!(html.contains("A client is a business, a person or a matter."));
    let response = w
        .staff
        .post_form(
            &format!("/app/questions/{}/reassign", w.question),
            &[("to", &marcus.id.to_string()), ("follow_up", "")],
        )
        .await;
    assert!(
        matches!(response.status().as_u16(), 404 | 422),
        "{}",
        response.status()
    );
}

#[tokio::test]
async fn a_refusal_is_shown_by_the_field_it_is_about_with_the_values_kept() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;

    // A role that does not exist: by the role, not the name.
    let response = w
        .staff
        .post_form(
            "/app/team",
            &[
                ("name", "Ann Lee"),
                ("email", "ann@harbour.example"),
                ("role", "owner"),
            ],
        )
        .await;
    let (status, html) = status_and_text(response).await;
    assert_eq!(status, 422);
    assert!(
        html.contains(
            r#"<p class="field-error" id="role-error">A role is either admin or member.</p>"#
        ),
        "{html}"
    );
    assert!(!html.contains("id=\"name-error\"") && !html.contains("id=\"email-error\""));
    assert!(html.contains(r#"value="Ann Lee""#) && html.contains(r#"value="ann@harbour.example""#));

    // Someone already on this team: by the e-mail address.
    let response = w
        .staff
        .post_form(
            "/app/team",
            &[
                ("name", "Me Again"),
                ("email", &w.admin.email),
                ("role", "member"),
            ],
        )
        .await;
    let (status, html) = status_and_text(response).await;
    assert_eq!(status, 409);
    assert!(html.contains(r#"id="email-error""#), "{html}");
    assert!(html.contains("is already on your team"));

    // A contact's mobile number: by the number.
    let response = w
        .staff
        .post_form(
            &format!("/app/clients/{}/contacts", w.client.id),
            &[
                ("name", "Tom"),
                ("email", "tom@northwind.example"),
                ("phone", "12"),
            ],
        )
        .await;
    let (status, html) = status_and_text(response).await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="phone-error""#), "{html}");
    assert!(html.contains(r#"value="tom@northwind.example""#));
}

/// Log lines written while the guard lives, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

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

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_file_that_cannot_be_written_is_an_apology_logged_with_its_request_id() {
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    // The test runtime runs the server on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    // Where the practice's files go is taken by a plain file: no file of
    // the practice can be written.
    let files = app.data_dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join(w.practice.to_string()), b"in the way").unwrap();

    let follow_up = format!("/app/questions/{}/follow-up", w.question);
    let form = reqwest::multipart::Form::new()
        .text("body", "The form")
        .part(
            "files",
            reqwest::multipart::Part::bytes(PDF.to_vec()).file_name("form.pdf"),
        );
    let response = w.staff.post_multipart(&follow_up, form).await;
    let request_id = response
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let (status, html) = status_and_text(response).await;
    assert_eq!(status, 500, "{html}");
    assert!(html.contains("Something went wrong on our side"));
    assert!(html.contains(&request_id), "the page quotes the reference");
    assert!(
        !html.contains("could not store") && !html.contains("os error"),
        "no raw error text: {html}"
    );
    let logged = log.text();
    let line = logged
        .lines()
        .find(|l| l.contains("request failed") && l.contains(&request_id))
        .unwrap_or_else(|| panic!("the failure is logged with {request_id}: {logged}"));
    assert!(line.contains("could not store the file"), "{line}");
}

#[tokio::test]
async fn reminder_times_and_counts_are_bounded_integers() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let path = format!("/app/clients/{}/reminders", w.client.id);
    let before = app
        .store()
        .reminder_schedule(w.practice, w.client.id)
        .await
        .unwrap();

    for (every, at, max, sms) in [
        ("7", "307445734561825861:00", "3", "21"),
        ("7", "24:00", "3", "21"),
        ("7", "12:60", "3", "21"),
        ("7", "-1:30", "3", "21"),
        ("99999999999999999999", "09:00", "3", "21"),
        ("7", "09:00", "abc", "21"),
        ("7", "09:00", "3", "-5"),
        ("366", "09:00", "3", "21"),
    ] {
        let response = w
            .staff
            .post_form(
                &path,
                &[
                    ("every_days", every),
                    ("at", at),
                    ("max", max),
                    ("sms_from", sms),
                ],
            )
            .await;
        let (status, html) = status_and_text(response).await;
        assert_eq!(status, 422, "{every} {at} {max} {sms}");
        assert!(html.contains("class=\"field-error\"") || html.contains("role=\"alert\""));
        let now = app
            .store()
            .reminder_schedule(w.practice, w.client.id)
            .await
            .unwrap();
        assert_eq!(now, before, "nothing is saved for {at}");
    }

    let response = w
        .staff
        .post_form(
            &path,
            &[
                ("every_days", "7"),
                ("at", "17:30"),
                ("max", "3"),
                ("sms_from", "21"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let saved = app
        .store()
        .reminder_schedule(w.practice, w.client.id)
        .await
        .unwrap();
    assert_eq!(saved.minute_of_day, 17 * 60 + 30);
    assert_eq!(saved.every_days, 7);
}

#[tokio::test]
async fn a_team_invitation_to_another_practices_staff_reads_as_any_other() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (rival, rival_admin) = app.with_practice("Rival").await;

    let fresh = w
        .staff
        .post_form(
            "/app/team",
            &[
                ("name", "Ann Lee"),
                ("email", "ann@harbour.example"),
                ("role", "member"),
            ],
        )
        .await;
    let elsewhere = w
        .staff
        .post_form(
            "/app/team",
            &[
                ("name", "Someone"),
                ("email", &rival_admin.email.to_uppercase()),
                ("role", "member"),
            ],
        )
        .await;
    // The inviting admin sees the same answer for both.
    assert_eq!(fresh.status(), elsewhere.status());
    assert_eq!(location(&fresh), "/app/team?done=team-invited");
    assert_eq!(location(&elsewhere), location(&fresh));
    let (_, page) = w.staff.follow(&location(&elsewhere)).await;
    assert!(!page.contains("already"), "{page}");

    // The other practice's member is untouched, and the owner of the
    // address is told, without a link to join.
    let still = app
        .store()
        .get_staff(rival.id, rival_admin.id)
        .await
        .unwrap();
    assert!(still.active && still.is_admin());
    assert_eq!(still.name, rival_admin.name);
    app.deliver_mail().await;
    let mails = app.mail_files();
    let told = mails
        .iter()
        .find(|m| m.contains(&rival_admin.email) && m.contains("tried to add you"))
        .unwrap_or_else(|| panic!("a mail to {}: {mails:?}", rival_admin.email));
    assert!(told.contains("another practice"));
    assert!(!told.contains("/app/welcome/"));
    // Ann got her invitation as usual.
    assert!(
        mails
            .iter()
            .any(|m| m.contains("ann@harbour.example") && m.contains("/app/welcome/"))
    );
}

#[tokio::test]
async fn uploaded_file_names_lose_bidi_and_zero_width_characters() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let follow_up = format!("/app/questions/{}/follow-up", w.question);
    let form = reqwest::multipart::Form::new()
        .text("body", "Your statement")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"plain text statement".to_vec())
                .file_name("statement-\u{202E}fdp.txt"),
        )
        .part(
            "files",
            reqwest::multipart::Part::bytes(PDF.to_vec()).file_name("in\u{200B}voice\u{2066}.pdf"),
        )
        .percent_encode_noop();
    let response = w.staff.post_multipart(&follow_up, form).await;
    assert_eq!(response.status(), 303);
    let (_, html) = w
        .staff
        .page(&format!("/app/questions/{}", w.question))
        .await;
    assert!(html.contains("statement-fdp.txt"), "{html}");
    assert!(html.contains("invoice.pdf"), "{html}");
    for c in ['\u{202E}', '\u{200B}', '\u{2066}'] {
        assert!(!html.contains(c), "{c:?} is gone");
    }
}
