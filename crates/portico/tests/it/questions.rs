//! Questions (Q1–Q5, X6): threads, states, who sees what, files, and
//! reminders that escalate — over HTTP, with the visibility matrix.

use crate::harness::{
    self, Browser, Page, TestApp, active, free_port, location, post_files, signed_in,
};
use crate::smtp::SmtpServer;
use portico::config::ConfigArgs;
use portico::domain::{PracticeId, Role};
use portico::store::{Client, Contact, QuestionStatus, ReminderSchedule};
use std::time::Duration;

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n";

/// A practice with a client (a sub-record of a family), its contacts, the
/// family primary's contact, and another client's contact.
struct World {
    practice: PracticeId,
    admin_email: String,
    staff: Browser,
    northwind: Client,
    bluegum: Client,
    hannah: Contact,
    tom: Contact,
    gina: Contact,
    olly: Contact,
}

async fn world(app: &TestApp) -> World {
    let w = harness::World::new(app).await;
    let group = w.client("Brooks Group").await;
    let northwind = w.client("Northwind Bakery").await;
    let bluegum = w.client("Bluegum Landscaping").await;
    app.store()
        .set_family_primary(w.id(), northwind.id, Some(group.id))
        .await
        .unwrap();
    app.store()
        .assign_staff(w.id(), northwind.id, w.admin.id)
        .await
        .unwrap();
    let hannah = w.contact("hannah@northwind.example", &[&northwind]).await;
    let tom = w.contact("tom@northwind.example", &[&northwind]).await;
    let gina = w.contact("gina@brooks.example", &[&group]).await;
    let olly = w.contact("olly@bluegum.example", &[&bluegum]).await;
    World {
        practice: w.id(),
        admin_email: w.admin.email.clone(),
        staff: w.staff,
        northwind,
        bluegum,
        hannah,
        tom,
        gina,
        olly,
    }
}

/// Asks a question through the form; returns its id.
async fn ask(
    app: &TestApp,
    w: &World,
    title: &str,
    assignee: Option<&Contact>,
) -> portico::domain::QuestionId {
    let assignee = assignee.map(|c| c.id.to_string()).unwrap_or_default();
    let response = w
        .staff
        .post_form(
            &format!("/app/clients/{}/questions", w.northwind.id),
            &[("title", title), ("details", ""), ("assignee", &assignee)],
        )
        .await;
    assert_eq!(
        location(&response),
        format!("/app/clients/{}/questions?done=asked", w.northwind.id)
    );
    app.store()
        .list_questions(w.practice, &Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|q| q.question.title == title)
        .unwrap()
        .question
        .id
}

#[tokio::test]
async fn a_question_goes_open_answered_resolved_and_back() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let id = ask(
        &app,
        &w,
        "What was the $412 payment to ACME on 3 October?",
        None,
    )
    .await;
    let hannah = signed_in(&app, &w.hannah.email).await;

    // An empty answer is refused and nothing changes.
    let response = post_files(
        &hannah,
        &format!("/portal/questions/{id}/answer"),
        "  ",
        vec![],
    )
    .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Write an answer or attach a file.")
    );

    let response = post_files(
        &hannah,
        &format!("/portal/questions/{id}/answer"),
        "Office supplies: printer paper and toner.",
        vec![("receipt.pdf", PDF.to_vec())],
    )
    .await;
    assert_eq!(
        location(&response),
        format!("/portal/questions/{id}?done=answered")
    );
    let q = app.store().get_question(w.practice, id).await.unwrap();
    assert_eq!(q.question.status, QuestionStatus::Answered);

    // Staff see the answer, who and when, and the file.
    let (_, html) = w.staff.page(&format!("/app/questions/{id}")).await;
    assert!(html.contains("Office supplies: printer paper and toner."));
    assert!(html.contains("hannah"));
    assert!(html.contains("receipt.pdf"));
    let (_, html) = w.staff.page("/app/questions?status=answered").await;
    assert_eq!(
        Page::parse(&html).text(&format!("table.questions a[href='/app/questions/{id}']")),
        "What was the $412 payment to ACME on 3 October?"
    );

    // A follow-up opens it again; resolving closes it; reopening opens it.
    let response = post_files(
        &w.staff,
        &format!("/app/questions/{id}/follow-up"),
        "Which invoice number?",
        vec![],
    )
    .await;
    assert_eq!(
        location(&response),
        format!("/app/questions/{id}?done=followed-up")
    );
    assert_eq!(
        app.store()
            .get_question(w.practice, id)
            .await
            .unwrap()
            .question
            .status,
        QuestionStatus::Open
    );
    w.staff
        .post_form(&format!("/app/questions/{id}/resolve"), &[])
        .await;
    assert_eq!(
        app.store()
            .get_question(w.practice, id)
            .await
            .unwrap()
            .question
            .status,
        QuestionStatus::Resolved
    );
    let (_, html) = hannah.page(&format!("/portal/questions/{id}")).await;
    assert!(
        html.contains("Resolved") && !html.contains("Send answer"),
        "no answering a resolved question"
    );
    w.staff
        .post_form(&format!("/app/questions/{id}/reopen"), &[])
        .await;
    assert_eq!(
        app.store()
            .get_question(w.practice, id)
            .await
            .unwrap()
            .question
            .status,
        QuestionStatus::Open
    );

    // The thread is in order.
    let entries = app.store().question_entries(w.practice, id).await.unwrap();
    let kinds: Vec<_> = entries.iter().map(|e| e.kind_name()).collect();
    assert_eq!(kinds, vec!["answer", "follow_up", "resolved", "reopened"]);
}

#[tokio::test]
async fn many_questions_are_asked_from_a_list_or_a_bank_export() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let path = format!("/app/clients/{}/questions/many", w.northwind.id);
    // Payments are the negative amounts; a deposit and a balance line are
    // not payments.
    let csv = "Date,Amount,Description\n2026-10-03,-412,ACME SUPPLIES\n2026-10-04,\"1,500.00\",Client payment\n2026-10-05,-88.1,Corner Cafe\n,-23.00,Closing balance\n";
    let form = reqwest::multipart::Form::new().text("list", "").part(
        "csv",
        reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("october.csv"),
    );
    let response = w.staff.post_multipart(&path, form).await;
    let landed = location(&response);
    assert_eq!(
        landed,
        format!(
            "/app/clients/{}/questions?done=asked-many&skipped=3-in.5-date",
            w.northwind.id
        )
    );
    let (_, html) = w.staff.page(&landed).await;
    assert!(html.contains(
        "Left out of the bank export: line 3 (money in, not a payment), line 5 (no date)."
    ));
    assert!(html.contains("What was the payment of $88.10 on 2026-10-05"));
    let form = reqwest::multipart::Form::new()
        .text("list", "Is the van leased?\nWho is the new supplier?\n");
    w.staff.post_multipart(&path, form).await;
    let (_, html) = w
        .staff
        .page(&format!("/app/clients/{}/questions", w.northwind.id))
        .await;
    let page = Page::parse(&html);
    assert_eq!(page.text("a[href='?status=open']"), "Open (4)");
    let titles = page.select_text("table.questions tbody td:first-child a");
    assert!(
        titles.contains(
            &"What was the payment of $412.00 on 2026-10-03 to \"ACME SUPPLIES\" for?".to_owned()
        ),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Is the van leased?".to_owned()),
        "{titles:?}"
    );
    let (_, html) = w.staff.page("/app/clients").await;
    assert_eq!(
        Page::parse(&html).row("tbody tr", "Northwind Bakery")[3],
        "4",
        "open count in the clients list"
    );

    // A missing question and another practice's client are refused.
    let response = w
        .staff
        .post_form(
            &format!("/app/clients/{}/questions", w.northwind.id),
            &[("title", " ")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let (rival, _) = app.with_practice("Rival").await;
    let theirs = app.with_client(rival.id, "Rival Client").await;
    let response = w
        .staff
        .post_form(
            &format!("/app/clients/{}/questions", theirs.id),
            &[("title", "Sneaky?")],
        )
        .await;
    assert_eq!(response.status(), 404);
}

/// What each contact sees of three questions, across lists, counts, the
/// direct URL, the file download and the reminder, with the client's
/// assignable setting on and off.
#[tokio::test]
async fn who_sees_which_question_with_assignable_questions_on_and_off() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    app.store()
        .set_assignable_questions(w.practice, w.northwind.id, true)
        .await
        .unwrap();
    let everyone = ask(&app, &w, "Everyone: is the van leased?", None).await;
    let hers = ask(
        &app,
        &w,
        "Hannah only: what is the ACME payment?",
        Some(&w.hannah),
    )
    .await;
    let answered = ask(&app, &w, "Hannah only: send the lease", Some(&w.hannah)).await;
    // Assigning to someone who cannot open the client is refused.
    let response = w
        .staff
        .post_form(
            &format!("/app/clients/{}/questions", w.northwind.id),
            &[("title", "For Olly?"), ("assignee", &w.olly.id.to_string())],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Choose a contact who can open this client.")
    );

    let hannah = signed_in(&app, &w.hannah.email).await;
    post_files(
        &hannah,
        &format!("/portal/questions/{answered}/answer"),
        "Attached.",
        vec![("lease.pdf", PDF.to_vec())],
    )
    .await;
    let file = app
        .store()
        .question_files(w.practice, answered)
        .await
        .unwrap()
        .remove(0);

    app.store()
        .set_reminder_schedule(
            w.practice,
            w.northwind.id,
            &ReminderSchedule {
                every_days: 1,
                minute_of_day: 0,
                max: 5,
                sms_from_step: 21,
            },
        )
        .await
        .unwrap();

    for (setting, day) in [(true, 1), (false, 2)] {
        app.store()
            .set_assignable_questions(w.practice, w.northwind.id, setting)
            .await
            .unwrap();
        app.clock.advance(Duration::from_secs(24 * 3600));
        app.run_reminders_now().await;
        // A day later everyone signs in afresh.
        let hannah = signed_in(&app, &w.hannah.email).await;
        let tom = signed_in(&app, &w.tom.email).await;
        let gina = signed_in(&app, &w.gina.email).await;
        let olly = signed_in(&app, &w.olly.email).await;
        // (contact, their browser, sees `hers` and `answered`, sees `everyone`)
        let cases: [(&Contact, &Browser, bool, bool); 4] = [
            (&w.hannah, &hannah, true, true),
            (&w.tom, &tom, !setting, true),
            (&w.gina, &gina, !setting, true),
            (&w.olly, &olly, false, false),
        ];
        for (contact, browser, sees_hers, sees_everyone) in cases {
            let who = format!(
                "{} with the setting {}",
                contact.email,
                if setting { "on" } else { "off" }
            );
            let (status, page) = browser
                .follow(&format!("/portal/clients/{}", w.northwind.id))
                .await;
            if !sees_everyone {
                assert_eq!(status, 404, "{who}: another client's contact");
            } else {
                assert_eq!(
                    page.contains("Hannah only: what is the ACME payment?"),
                    sees_hers,
                    "{who}: list"
                );
                assert!(page.contains("Everyone: is the van leased?"), "{who}: list");
            }
            // Seen: the page (200). Not seen: "not found", or, for someone
            // else's question of a client she reaches, her portal saying so
            // (a redirect); never the question.
            for (id, sees) in [
                (hers, sees_hers),
                (answered, sees_hers),
                (everyone, sees_everyone),
            ] {
                let status = browser.page(&format!("/portal/questions/{id}")).await.0;
                assert_eq!(status == 200, sees, "{who}: URL");
                assert!(matches!(status, 200 | 303 | 404), "{who}: {status}");
            }
            let download = browser.get(&format!("/files/{}", file.id)).await;
            assert_eq!(
                download.status().as_u16(),
                if sees_hers { 200 } else { 404 },
                "{who}: file"
            );
            if sees_hers {
                assert!(
                    download.headers()["content-disposition"]
                        .to_str()
                        .unwrap()
                        .starts_with("attachment;")
                );
                assert_eq!(download.headers()["x-content-type-options"], "nosniff");
                assert_eq!(download.bytes().await.unwrap().as_ref(), PDF);
            }
            // The reminder lists exactly the open questions they see.
            let mail = app.store().outbox_for(&contact.email).await.unwrap();
            let reminders: Vec<_> = mail
                .iter()
                .filter(|m| m.subject.contains("is waiting for"))
                .collect();
            if sees_everyone {
                assert_eq!(reminders.len(), day, "{who}: one reminder a day");
                let last = reminders.last().unwrap();
                assert_eq!(
                    last.body_text
                        .contains("Hannah only: what is the ACME payment?"),
                    sees_hers,
                    "{who}: reminder"
                );
                assert!(
                    last.body_text.contains("Everyone: is the van leased?"),
                    "{who}: reminder"
                );
                assert!(
                    !last.body_text.contains("send the lease"),
                    "{who}: answered questions are not listed"
                );
            } else {
                assert!(reminders.is_empty(), "{who}: no reminder");
            }
        }
        // The switcher count follows the same rule (Gina reaches Northwind through her family).
        let (_, page) = gina.follow("/portal").await;
        let expected = if setting { "1 open" } else { "2 open" };
        assert!(
            page.contains(expected),
            "gina's switcher with the setting {setting}: {page}"
        );
    }
    // Staff see every question whatever the setting.
    let staff = app.staff_browser(&w.admin_email).await;
    let (_, html) = staff.page(&format!("/app/questions/{hers}")).await;
    assert!(html.contains("Hannah only: what is the ACME payment?"));
    // A staff user of another practice does not.
    let rival = harness::World::named(&app, "Rival").await.staff;
    assert_eq!(rival.page(&format!("/app/questions/{hers}")).await.0, 404);
    assert_eq!(
        rival.get(&format!("/files/{}", file.id)).await.status(),
        404
    );
    assert_eq!(
        app.browser()
            .get(&format!("/files/{}", file.id))
            .await
            .status(),
        404,
        "signed out"
    );
    let _ = w.bluegum;
}

#[tokio::test]
async fn reassigning_moves_a_question_from_one_portal_to_another() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    app.store()
        .set_assignable_questions(w.practice, w.northwind.id, true)
        .await
        .unwrap();
    let id = ask(&app, &w, "Who signed the lease?", Some(&w.hannah)).await;
    let hannah = signed_in(&app, &w.hannah.email).await;
    let tom = signed_in(&app, &w.tom.email).await;
    assert_eq!(hannah.page(&format!("/portal/questions/{id}")).await.0, 200);
    assert_eq!(
        location(&tom.get(&format!("/portal/questions/{id}")).await),
        format!("/portal/clients/{}?done=question-moved", w.northwind.id),
        "someone else's question: her portal says so"
    );

    let response = w
        .staff
        .post_form(
            &format!("/app/questions/{id}/reassign"),
            &[
                ("to", &w.tom.id.to_string()),
                ("follow_up", "Tom, you signed it, I think?"),
            ],
        )
        .await;
    assert_eq!(
        location(&response),
        format!("/app/questions/{id}?done=reassigned")
    );
    // Gone from Hannah's portal: her old link lands on her portal with a
    // sentence, not on "not found".
    let response = hannah.get(&format!("/portal/questions/{id}")).await;
    assert_eq!(
        location(&response),
        format!("/portal/clients/{}?done=question-moved", w.northwind.id)
    );
    let (status, html) = hannah.follow(&format!("/portal/questions/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("That question is with someone else now"));
    assert!(!html.contains("Who signed the lease?"));
    // Someone who never reached its client still finds nothing there.
    let olly = signed_in(&app, &w.olly.email).await;
    assert_eq!(olly.page(&format!("/portal/questions/{id}")).await.0, 404);
    let (status, html) = tom.page(&format!("/portal/questions/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Tom, you signed it, I think?"));
    assert!(html.contains("Moved from hannah to tom."));
    // Not to another client's contact.
    let response = w
        .staff
        .post_form(
            &format!("/app/questions/{id}/reassign"),
            &[("to", &w.olly.id.to_string())],
        )
        .await;
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn files_are_checked_and_bounded() {
    let app = TestApp::spawn_with(ConfigArgs {
        max_upload_mb: Some(1),
        ..Default::default()
    })
    .await;
    let w = world(&app).await;
    let id = ask(&app, &w, "Send your statements", None).await;
    let hannah = signed_in(&app, &w.hannah.email).await;
    let path = format!("/portal/questions/{id}/answer");

    let response = post_files(
        &hannah,
        &path,
        "Here",
        vec![("page.html", b"<html><script>alert(1)</script>".to_vec())],
    )
    .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("page.html is not a kind of file Portico takes.")
    );
    let mut big = PDF.to_vec();
    big.resize(1024 * 1024 + 10, b'x');
    let response = post_files(&hannah, &path, "Here", vec![("big.pdf", big)]).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("big.pdf is larger than 1 MB"), "{html}");
    assert_eq!(
        app.store()
            .get_question(w.practice, id)
            .await
            .unwrap()
            .question
            .status,
        QuestionStatus::Open
    );
    assert!(
        app.store()
            .question_files(w.practice, id)
            .await
            .unwrap()
            .is_empty()
    );
    let stored = walk(&app.data_dir.join("files"));
    assert!(stored.is_empty(), "nothing refused is kept: {stored:?}");
    // Another contact's answer with a file to a question she cannot see is refused before any upload.
    let olly = signed_in(&app, &w.olly.email).await;
    let response = post_files(&olly, &path, "Mine", vec![("a.pdf", PDF.to_vec())]).await;
    assert_eq!(response.status(), 404);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn reminders_escalate_stop_when_answered_and_go_once_per_slot() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    app.store()
        .update_contact(
            w.practice,
            w.tom.id,
            &portico::domain::Name::parse("tom").unwrap(),
            Some(&portico::domain::PhoneNumber::parse("+61400111222").unwrap()),
        )
        .await
        .unwrap();
    let response = w
        .staff
        .post_form(
            &format!("/app/clients/{}/reminders", w.northwind.id),
            &[
                ("every_days", "1"),
                ("at", "00:00"),
                ("max", "2"),
                ("sms_from", "2"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let id = ask(&app, &w, "Is the van leased?", None).await;

    // Nothing before the first slot.
    assert_eq!(app.run_reminders_now().await, 0);
    app.clock.advance(Duration::from_secs(24 * 3600));
    let first = app.run_reminders_now().await;
    assert_eq!(first, 3, "hannah, tom and gina (through her family)");
    // The same slot, run again — and by a second instance at once — sends nothing more.
    let other = app.another_instance().await;
    let (again, twice) = tokio::join!(app.app.run_reminders(), other.run_reminders());
    assert_eq!(again.unwrap() + twice.unwrap(), 0);
    assert_eq!(
        app.store()
            .outbox_for(&w.tom.email)
            .await
            .unwrap()
            .iter()
            .filter(|m| m.subject.contains("waiting"))
            .count(),
        1
    );
    assert!(
        app.store()
            .outbox_for("+61400111222")
            .await
            .unwrap()
            .is_empty(),
        "e-mail first"
    );

    // Step 2 adds a text message where a number is known.
    app.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(app.run_reminders_now().await, 3);
    let texts = app.store().outbox_for("+61400111222").await.unwrap();
    assert_eq!(texts.len(), 1, "step 2 adds a text message for tom");
    assert!(
        texts[0]
            .body_text
            .contains("1 question about Northwind Bakery")
    );

    // After the last step, the staff who look after the client are alerted, once.
    app.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(app.run_reminders_now().await, 0, "no third reminder");
    app.clock.advance(Duration::from_secs(24 * 3600));
    app.run_reminders_now().await;
    let staff = app.staff_browser(&w.admin_email).await;
    let (_, html) = staff.page("/app").await;
    assert!(html.contains("Reminders that ran out"));
    assert_eq!(
        html.matches("has not answered 1 question about Northwind Bakery after 2 reminders")
            .count(),
        3
    );
    let (_, html) = staff
        .page(&format!("/app/clients/{}/questions", w.northwind.id))
        .await;
    assert!(html.contains("All reminders sent; the team was alerted"));

    // An answer stops the reminders: a new question starts a new series,
    // and the answered one is not in it.
    let hannah = signed_in(&app, &w.hannah.email).await;
    post_files(
        &hannah,
        &format!("/portal/questions/{id}/answer"),
        "Yes, leased.",
        vec![],
    )
    .await;
    let staff = app.staff_browser(&w.admin_email).await;
    let asked = staff
        .post_form(
            &format!("/app/clients/{}/questions", w.northwind.id),
            &[("title", "Who is the lessor?")],
        )
        .await;
    assert_eq!(asked.status(), 303);
    app.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(app.run_reminders_now().await, 3);
    let last = app
        .store()
        .outbox_for(&w.tom.email)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(last.body_text.contains("Who is the lessor?"));
    assert!(!last.body_text.contains("Is the van leased?"));
}

#[tokio::test]
async fn a_reminder_waits_for_the_mail_server_and_is_sent_once() {
    let port = free_port();
    let app = TestApp::spawn_with(ConfigArgs {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        ..Default::default()
    })
    .await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let client = app.with_client(practice.id, "Northwind Bakery").await;
    active(&app, practice.id, "hannah@northwind.example", &[&client]).await;
    app.store()
        .set_reminder_schedule(
            practice.id,
            client.id,
            &ReminderSchedule {
                every_days: 1,
                minute_of_day: 0,
                max: 3,
                sms_from_step: 21,
            },
        )
        .await
        .unwrap();
    let staff = app.staff_browser(&admin.email).await;
    staff
        .post_form(
            &format!("/app/clients/{}/questions", client.id),
            &[("title", "Is the van leased?")],
        )
        .await;
    app.clock.advance(Duration::from_secs(24 * 3600 + 60));
    assert_eq!(app.app.run_reminders().await.unwrap(), 1);
    assert_eq!(app.deliver_mail().await, 0, "the mail server is down");
    let smtp = SmtpServer::start_on(port).await;
    app.clock.advance(Duration::from_secs(31));
    assert_eq!(
        app.app.run_reminders().await.unwrap(),
        0,
        "the slot was already claimed"
    );
    assert_eq!(app.deliver_mail().await, 1);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].data.contains("Is the van leased?"));
    let _ = Role::Member;
}

#[tokio::test]
async fn time_zones_are_set_by_admins_and_by_each_contact() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let member = app
        .with_staff(w.practice, "marcus@harbour.example", Role::Member)
        .await;
    let response = w
        .staff
        .post_form(
            "/app/settings/time-zone",
            &[("time_zone", "Mars/Olympus_Mons")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("is not a time zone"));
    assert_eq!(
        Page::parse(&html)
            .attr("input#time_zone", "value")
            .as_deref(),
        Some("Mars/Olympus_Mons"),
        "the form keeps what was typed"
    );
    let response = w
        .staff
        .post_form(
            "/app/settings/time-zone",
            &[("time_zone", "Australia/Sydney")],
        )
        .await;
    assert_eq!(location(&response), "/app/settings?done=saved");
    assert_eq!(
        app.store()
            .contact_time_zone(w.practice, w.hannah.id)
            .await
            .unwrap(),
        "Australia/Sydney"
    );
    let member_browser = app.staff_browser(&member.email).await;
    let response = member_browser
        .post_form("/app/settings/time-zone", &[("time_zone", "UTC")])
        .await;
    assert_eq!(response.status(), 403);

    let hannah = signed_in(&app, &w.hannah.email).await;
    let (_, html) = hannah.page("/portal/account").await;
    assert_eq!(
        Page::parse(&html)
            .attr("input#time_zone", "value")
            .as_deref(),
        Some("Australia/Sydney")
    );
    let response = hannah
        .post_form("/portal/account/time-zone", &[("time_zone", "Nowhere")])
        .await;
    assert_eq!(response.status(), 422);
    hannah
        .post_form(
            "/portal/account/time-zone",
            &[("time_zone", "Europe/London")],
        )
        .await;
    assert_eq!(
        app.store()
            .contact_time_zone(w.practice, w.hannah.id)
            .await
            .unwrap(),
        "Europe/London"
    );
    assert_eq!(
        app.store()
            .contact_time_zone(w.practice, w.tom.id)
            .await
            .unwrap(),
        "Australia/Sydney"
    );
}

/// Q3: a contact's page for a client puts the questions waiting for her
/// answer in what waits, and the answered and resolved ones below it,
/// each once; with none at all, it says so.
#[tokio::test]
async fn the_portal_shows_open_questions_as_waiting_and_settled_ones_below() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let hannah = signed_in(&app, &w.hannah.email).await;
    let page = format!("/portal/clients/{}", w.northwind.id);

    let (_, html) = hannah.page(&page).await;
    assert!(html.contains("has no questions for you here"), "{html}");

    let open = ask(&app, &w, "Which bank holds the loan?", None).await;
    let answered = ask(&app, &w, "Is the van leased or owned?", None).await;
    let resolved = ask(&app, &w, "Who signs the annual return?", None).await;
    // Assigned to Tom: Hannah sees it nowhere while questions are assignable.
    app.store()
        .set_assignable_questions(w.practice, w.northwind.id, true)
        .await
        .unwrap();
    let toms = ask(&app, &w, "Tom: your mileage log?", Some(&w.tom)).await;
    let tom = signed_in(&app, &w.tom.email).await;
    post_files(
        &tom,
        &format!("/portal/questions/{toms}/answer"),
        "Sent.",
        vec![],
    )
    .await;
    for id in [answered, resolved] {
        let response = post_files(
            &hannah,
            &format!("/portal/questions/{id}/answer"),
            "Done.",
            vec![],
        )
        .await;
        assert_eq!(
            location(&response),
            format!("/portal/questions/{id}?done=answered")
        );
    }
    w.staff
        .post_form(&format!("/app/questions/{resolved}/resolve"), &[])
        .await;

    let (_, html) = hannah.page(&page).await;
    let doc = Page::parse(&html);
    let waiting = doc.select_text("#waiting .question-list a");
    assert_eq!(waiting, vec!["Which bank holds the loan?"]);
    let settled = doc.select_text("#settled-heading ~ .question-list a");
    assert_eq!(
        settled,
        vec![
            "Is the van leased or owned?",
            "Who signs the annual return?"
        ]
    );
    assert_eq!(html.matches(&format!("/questions/{open}\"")).count(), 1);
    assert!(
        !html.contains(&toms.to_string()),
        "Tom's question, answered, is his alone"
    );
    assert!(!html.contains("has no questions for you here"));
}
