//! X5: a client's data, taken as one ZIP or erased on request; X9: a
//! contact exports her own answers.

use crate::harness::{
    self, Browser, TestApp, active, ask, closed_for_session_end, location, post_files,
    send_chat_file, signed_in, socket,
};
use portico::domain::{PracticeId, QuestionId, Role};
use portico::store::{AuditFilter, AuditKind, Client, Contact, Staff};
use std::io::Read;

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";

/// A practice with two clients, each with a contact who answered a
/// question (with a file) and chats with the admin.
struct World {
    practice: PracticeId,
    admin: Staff,
    staff: Browser,
    bakery: Client,
    hannah: Contact,
    hannah_browser: Browser,
    /// Hannah's chat, the portal's path.
    hannah_chat: String,
    bakery_question: QuestionId,
    olly: Contact,
}

async fn world(app: &TestApp) -> World {
    let w = harness::World::new(app).await;
    let bakery = w.client("Northwind Bakery").await;
    let bluegum = w.client("Bluegum Landscaping").await;
    let hannah = w.contact("hannah@northwind.example", &[&bakery]).await;
    let olly = w.contact("olly@bluegum.example", &[&bluegum]).await;

    let bakery_question = w.ask(&bakery, "Where is the March bank statement?").await;
    let hannah_browser = w.portal(&hannah).await;
    let answered = post_files(
        &hannah_browser,
        &format!("/portal/questions/{bakery_question}/answer"),
        "Hannah's answer: attached, account 4417",
        vec![("march-statement.pdf", PDF.to_vec())],
    )
    .await;
    assert_eq!(answered.status(), 303);
    let chat = w.chat(&bakery, &hannah).await;
    let hannah_chat = chat.portal_path;
    w.staff
        .say(&chat.staff_path, "Staff note: your return is ready.", "s1")
        .await;
    hannah_browser
        .post_form(
            &hannah_chat,
            &[
                ("body", "Hannah's message: my new address is 4 Mill Lane"),
                ("key", "h1"),
            ],
        )
        .await;
    send_chat_file(&hannah_browser, &hannah_chat, "h2", "passport.pdf").await;

    let bluegum_question = w.ask(&bluegum, "Bluegum's payroll question").await;
    let olly_browser = w.portal(&olly).await;
    post_files(
        &olly_browser,
        &format!("/portal/questions/{bluegum_question}/answer"),
        "Olly's private answer",
        vec![("olly-payroll.pdf", PDF.to_vec())],
    )
    .await;
    let olly_chat = w.chat(&bluegum, &olly).await.portal_path;
    olly_browser
        .post_form(
            &olly_chat,
            &[("body", "Olly's chat message"), ("key", "o1")],
        )
        .await;

    World {
        practice: w.id(),
        admin: w.admin,
        staff: w.staff,
        bakery,
        hannah,
        hannah_browser,
        hannah_chat,
        bakery_question,
        olly,
    }
}

fn unzip(bytes: Vec<u8>) -> zip::ZipArchive<std::io::Cursor<Vec<u8>>> {
    zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP")
}

fn names(archive: &zip::ZipArchive<std::io::Cursor<Vec<u8>>>) -> Vec<String> {
    archive
        .file_names()
        .filter_map(Result::ok)
        .map(std::borrow::Cow::into_owned)
        .collect()
}

fn text_of(archive: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>, name: &str) -> String {
    let mut text = String::new();
    archive
        .by_name(name)
        .unwrap_or_else(|_| panic!("{name} in the archive"))
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[tokio::test]
async fn an_admin_exports_everything_about_a_client_as_one_zip() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;

    let (status, page) = w
        .staff
        .page(&format!("/app/clients/{}/data", w.bakery.id))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("/app/clients/{}/export.zip", w.bakery.id)));

    let response = w
        .staff
        .get(&format!("/app/clients/{}/export.zip", w.bakery.id))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let mut archive = unzip(response.bytes().await.unwrap().to_vec());

    let index = text_of(&mut archive, "index.html");
    for expected in [
        "Northwind Bakery",
        "Where is the March bank statement?",
        "Hannah&#39;s answer: attached, account 4417",
        "Hannah&#39;s message: my new address is 4 Mill Lane",
        "Staff note: your return is ready.",
        "march-statement.pdf",
        "passport.pdf",
        "hannah@northwind.example",
    ] {
        assert!(index.contains(expected), "index.html lacks {expected}");
    }
    let data: serde_json::Value =
        serde_json::from_str(&text_of(&mut archive, "data.json")).expect("data.json is JSON");
    assert_eq!(data["client"]["name"], "Northwind Bakery");
    assert_eq!(data["contacts"][0]["email"], "hannah@northwind.example");
    let question = &data["questions"][0];
    assert_eq!(question["title"], "Where is the March bank statement?");
    assert_eq!(
        question["entries"][0]["text"],
        "Hannah's answer: attached, account 4417"
    );
    let file_path = question["entries"][0]["files"][0]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let messages = data["chats"][0]["messages"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m["text"] == "Hannah's message: my new address is 4 Mill Lane")
    );
    assert!(
        data["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["what"] == "question answered")
    );
    // The files themselves, byte for byte.
    let mut bytes = Vec::new();
    archive
        .by_name(&file_path)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(bytes, PDF);
    assert!(
        names(&archive)
            .iter()
            .any(|n| n.starts_with("files/") && n.ends_with("passport.pdf"))
    );

    // Nothing of the other client.
    let everything = format!("{index}{data}");
    for other in [
        "Bluegum",
        "Olly",
        "olly@bluegum.example",
        "olly-payroll.pdf",
        &w.olly.id.to_string(),
    ] {
        assert!(
            !everything.contains(other),
            "{other} leaked into the export"
        );
    }
    assert!(!names(&archive).iter().any(|n| n.contains("olly")));

    // Recorded; refused to a member, a contact and another practice.
    let exported = app
        .store()
        .audit_entries(
            w.practice,
            &AuditFilter {
                action: Some(AuditKind::ClientExported),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].subject, format!("client:{}", w.bakery.id));
    // Her uploads were recorded with their sends: the answer's and the chat's.
    let uploads = app
        .store()
        .audit_entries(
            w.practice,
            &AuditFilter {
                action: Some(AuditKind::FileUploaded),
                client: Some(w.bakery.id),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(uploads.len(), 2, "{uploads:#?}");
    assert!(uploads.iter().all(|e| e.actor_name == "hannah"));
    assert!(uploads.iter().any(|e| e.detail.starts_with("in chat ")));
    app.with_staff(w.practice, "tom@harbour.example", Role::Member)
        .await;
    let tom = app.staff_browser("tom@harbour.example").await;
    for path in ["data", "export.zip"] {
        assert_eq!(
            tom.get(&format!("/app/clients/{}/{path}", w.bakery.id))
                .await
                .status(),
            403,
            "{path}"
        );
    }
    let (_, overview) = tom.page(&format!("/app/clients/{}", w.bakery.id)).await;
    assert!(!overview.contains("/data\""), "no Data tab for members");
    assert_eq!(
        w.hannah_browser
            .get(&format!("/app/clients/{}/export.zip", w.bakery.id))
            .await
            .status(),
        403
    );
    let (_, rival) = app.with_practice("Rival").await;
    let rival = app.staff_browser(&rival.email).await;
    assert_eq!(
        rival
            .get(&format!("/app/clients/{}/export.zip", w.bakery.id))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn erasing_a_contact_leaves_none_of_her_words_or_files_and_ends_her_sessions() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let p = w.practice;
    let mut hannah_socket = socket(&app, &w.hannah_browser).await;
    let hannah_files: Vec<_> = app
        .store()
        .question_files(p, w.bakery_question)
        .await
        .unwrap();
    let bytes_of = |key: &str| app.data_dir.join("files").join(key);
    assert!(bytes_of(&hannah_files[0].storage_key).is_file());
    let erase = format!(
        "/app/clients/{}/contacts/{}/erase",
        w.bakery.id, w.hannah.id
    );

    // A member may not; a wrong name is refused with the form kept.
    app.with_staff(p, "tom@harbour.example", Role::Member).await;
    let tom = app.staff_browser("tom@harbour.example").await;
    assert_eq!(
        tom.post_form(&erase, &[("confirm", "hannah")])
            .await
            .status(),
        403
    );
    let refused = w.staff.post_form(&erase, &[("confirm", "Hanna")]).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Type the contact&#39;s name, hannah, to confirm."));
    assert!(html.contains("value=\"Hanna\""));
    assert_eq!(
        app.store().get_contact(p, w.hannah.id).await.unwrap().name,
        "hannah"
    );

    let done = w.staff.post_form(&erase, &[("confirm", "Hannah")]).await;
    assert_eq!(
        location(&done),
        format!("/app/clients/{}/data?done=erased", w.bakery.id)
    );

    // Her socket closes as at sign-out; her session is gone.
    closed_for_session_end(&mut hannah_socket, "the erased contact's socket").await;
    assert_eq!(w.hannah_browser.get("/portal").await.status(), 303);

    // Her name, address, words and files are gone; the staff's stay.
    let erased = app.store().get_contact(p, w.hannah.id).await.unwrap();
    assert_eq!(erased.name, "Former contact");
    assert!(!erased.email.contains("northwind"));
    let (_, chat) = w
        .staff
        .page(&w.hannah_chat.replace("/portal/", "/app/"))
        .await;
    assert!(chat.contains("Staff note: your return is ready."));
    assert!(!chat.contains("4 Mill Lane") && !chat.contains("passport.pdf"));
    let (_, question) = w
        .staff
        .page(&format!("/app/questions/{}", w.bakery_question))
        .await;
    assert!(question.contains("Where is the March bank statement?"));
    assert!(!question.contains("account 4417") && !question.contains("march-statement"));
    assert!(
        app.store()
            .question_files(p, w.bakery_question)
            .await
            .unwrap()
            .is_empty()
    );
    let chat_id = w
        .hannah_chat
        .trim_start_matches("/portal/messages/")
        .parse()
        .unwrap();
    assert!(
        app.store()
            .chat_files(p, chat_id, 0, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    let swept = app.app.file_sweeper().run_once().await.unwrap();
    assert_eq!((swept.removed, swept.failed), (2, 0));
    assert!(!bytes_of(&hannah_files[0].storage_key).exists());
    // A search of the whole database finds none of her words.
    let export = w
        .staff
        .get(&format!("/app/clients/{}/export.zip", w.bakery.id))
        .await
        .bytes()
        .await
        .unwrap();
    let mut archive = unzip(export.to_vec());
    let index = text_of(&mut archive, "index.html");
    assert!(!index.contains("4417") && !index.contains("Mill Lane"));
    assert!(!index.contains("hannah@northwind.example"));
    assert!(!names(&archive).iter().any(|n| n.starts_with("files/")));

    // Olly, of another client, keeps everything; the erasure is recorded.
    let olly = app.store().get_contact(p, w.olly.id).await.unwrap();
    assert_eq!(olly.email, "olly@bluegum.example");
    let entries = app
        .store()
        .audit_entries(p, &AuditFilter::default(), None, 1000)
        .await
        .unwrap();
    let entry = entries
        .iter()
        .find(|e| e.action == AuditKind::ContactErased.code())
        .expect("recorded");
    assert_eq!(entry.actor_name, w.admin.name);
    assert_eq!(entry.subject, format!("contact:{}", w.hannah.id));
    let report = app.store().verify_audit_chain(p).await.unwrap();
    assert_eq!(report.first_break, None);
}

#[tokio::test]
async fn erasing_a_client_takes_its_contacts_words_and_leaves_other_clients_alone() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let p = w.practice;
    // Gina reaches the bakery and another client: she stays, without it.
    let other = app.with_client(p, "Gina's Gallery").await;
    let gina = active(&app, p, "gina@gallery.example", &[&w.bakery, &other]).await;
    let gina_question = ask(&app, &w.admin, &other, "Gallery invoice?").await;
    let gina_browser = signed_in(&app, &gina.email).await;
    post_files(
        &gina_browser,
        &format!("/portal/questions/{}/answer", w.bakery_question),
        "Gina on the bakery",
        vec![],
    )
    .await;
    post_files(
        &gina_browser,
        &format!("/portal/questions/{gina_question}/answer"),
        "Gina on her gallery",
        vec![],
    )
    .await;

    let erase = format!("/app/clients/{}/erase", w.bakery.id);
    let refused = w.staff.post_form(&erase, &[("confirm", "Northwind")]).await;
    assert_eq!(refused.status(), 422);
    let done = w
        .staff
        .post_form(&erase, &[("confirm", "northwind bakery")])
        .await;
    assert_eq!(
        location(&done),
        format!("/app/clients/{}/data?done=erased", w.bakery.id)
    );

    let client = app.store().get_client(p, w.bakery.id).await.unwrap();
    assert_eq!(client.name, "Former client");
    assert_eq!(
        app.store().get_contact(p, w.hannah.id).await.unwrap().name,
        "Former contact"
    );
    let gina_now = app.store().get_contact(p, gina.id).await.unwrap();
    assert_eq!(gina_now.email, "gina@gallery.example");
    let reached: Vec<_> = app
        .store()
        .contact_clients(p, gina.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(reached, vec![other.id]);
    let store = app.store().clone();
    let entries = async |q| {
        store
            .question_entries(p, q)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.body)
            .collect::<Vec<_>>()
    };
    let bakery = entries(w.bakery_question).await;
    assert!(bakery.iter().all(|b| b.is_empty()), "{bakery:?}");
    assert_eq!(entries(gina_question).await, vec!["Gina on her gallery"]);
    let (status, portal) = gina_browser.follow("/portal").await;
    assert_eq!(status, 200, "Gina is still signed in");
    assert!(portal.contains("Gina&#39;s Gallery") && !portal.contains("Northwind"));
    // Olly, of another client, is untouched.
    assert_eq!(
        app.store().get_contact(p, w.olly.id).await.unwrap().name,
        "olly"
    );
}

#[tokio::test]
async fn a_contact_exports_her_own_answers_and_nobody_elses() {
    // X9: from My account, as CSV or Excel, recorded.
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (_, account) = w.hannah_browser.page("/portal/account").await;
    assert!(account.contains("/portal/answers/export/csv"));
    let response = w.hannah_browser.get("/portal/answers/export/csv").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let csv = response.text().await.unwrap();
    assert!(
        csv.starts_with("Date,Client,Question,Answer,Attachments\n"),
        "{csv}"
    );
    assert!(csv.contains("Northwind Bakery"));
    assert!(csv.contains("Where is the March bank statement?"));
    assert!(csv.contains("Hannah's answer: attached, account 4417"));
    assert!(csv.contains("march-statement.pdf"));
    assert!(!csv.contains("Olly") && !csv.contains("Bluegum"), "{csv}");
    let xlsx = w.hannah_browser.get("/portal/answers/export/xlsx").await;
    assert_eq!(xlsx.status(), 200);
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));
    assert_eq!(
        w.staff.get("/portal/answers/export/csv").await.status(),
        403,
        "the portal's address is for contacts"
    );
    assert_eq!(
        w.hannah_browser
            .get("/portal/answers/export/pdf")
            .await
            .status(),
        404
    );
    let exported = app
        .store()
        .audit_entries(
            w.practice,
            &AuditFilter {
                action: Some(AuditKind::AnswersExported),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(exported.len(), 2);
    assert!(exported.iter().all(|e| e.actor_name == "hannah"));
}
