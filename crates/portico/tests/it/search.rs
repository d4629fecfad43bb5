//! X1: search. Staff find messages of the chats they are in and their
//! practice's questions, answers, files, clients and contacts; a contact
//! her own chats and the questions she may see. Run on SQLite and, with
//! `PORTICO_TEST_BACKEND=postgres`, on PostgreSQL.

use crate::harness::{
    Browser, Chat, TestApp, active, ask_with, origin, post_files, send_chat_file, signed_in,
};
use portico::app::questions::QuestionInput;
use portico::domain::{PracticeId, QuestionId, Role};
use portico::store::{Client, Contact, Staff};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";

struct World {
    practice: PracticeId,
    admin: Staff,
    staff: Browser,
    tom: Browser,
    bakery: Client,
    hannah: Contact,
    hannah_browser: Browser,
    /// Hannah's chat with the admin, the staff path.
    hannah_chat: String,
    olly_browser: Browser,
}

async fn ask(
    app: &TestApp,
    admin: &Staff,
    client: &Client,
    title: &str,
    details: &str,
    assignee: Option<&Contact>,
) -> QuestionId {
    let input = QuestionInput {
        title: title.into(),
        details: details.into(),
        assignee: assignee.map(|c| c.id),
        urgent: false,
    };
    ask_with(app, admin, client, input).await
}

async fn say(browser: &Browser, path: &str, body: &str, key: &str) {
    let response = browser.say(path, body, key).await;
    assert_eq!(response.status(), 303, "{body:?} sent");
}

fn portal(path: &str) -> String {
    path.replace("/app/", "/portal/")
}

async fn world(app: &TestApp) -> World {
    let (practice, admin) = app.with_practice("Harbour").await;
    let p = practice.id;
    let bakery = app.with_client(p, "Northwind Bakery").await;
    let bluegum = app.with_client(p, "Bluegum Landscaping").await;
    let hannah = active(app, p, "hannah@northwind.example", &[&bakery]).await;
    let olly = active(app, p, "olly@bluegum.example", &[&bluegum]).await;
    let tom = app.with_staff(p, "tom@harbour.example", Role::Member).await;
    let staff = app.staff_browser(&admin.email).await;
    let tom = app.staff_browser(&tom.email).await;

    let statement = ask(
        app,
        &admin,
        &bakery,
        "Where is the March bank statement?",
        "We need it for the quarterly return.",
        None,
    )
    .await;
    let hannah_browser = signed_in(app, &hannah.email).await;
    let answered = post_files(
        &hannah_browser,
        &format!("/portal/questions/{statement}/answer"),
        "Attached: account 4417 at the Quayside branch",
        vec![("march-statement.pdf", PDF.to_vec())],
    )
    .await;
    assert_eq!(answered.status(), 303);

    let hannah_chat = Chat::open(&staff, &bakery, &hannah).await.staff_path;
    say(
        &staff,
        &hannah_chat,
        "Your Crème Brûlée invoice is ready",
        "s1",
    )
    .await;
    say(
        &hannah_browser,
        &portal(&hannah_chat),
        "Thanks! My new address is 4 Mill Lane",
        "h1",
    )
    .await;
    send_chat_file(
        &hannah_browser,
        &portal(&hannah_chat),
        "h2",
        "passport-scan.pdf",
    )
    .await;

    // Tom's chat with Olly: the admin is not in it.
    let olly_browser = signed_in(app, &olly.email).await;
    let olly_chat = Chat::open(&tom, &bluegum, &olly).await.staff_path;
    say(&tom, &olly_chat, "Olly, the brulee hedge quote", "t1").await;

    // Another practice with the same words everywhere.
    let (other, other_admin) = app.with_practice("Elsewhere").await;
    let other_client = app.with_client(other.id, "Northwind Elsewhere").await;
    let other_contact = active(app, other.id, "hannah@elsewhere.example", &[&other_client]).await;
    ask(
        app,
        &other_admin,
        &other_client,
        "Their March bank statement",
        "",
        None,
    )
    .await;
    let other_staff = app.staff_browser(&other_admin.email).await;
    let other_chat = Chat::open(&other_staff, &other_client, &other_contact)
        .await
        .staff_path;
    say(
        &other_staff,
        &other_chat,
        "Crème brûlée for Elsewhere",
        "e1",
    )
    .await;

    World {
        practice: p,
        admin,
        staff,
        tom,
        bakery,
        hannah,
        hannah_browser,
        hannah_chat,
        olly_browser,
    }
}

/// The page's results of one kind (`messages`, `questions`, …), as HTML;
/// empty when there are none.
fn group<'a>(html: &'a str, kind: &str) -> &'a str {
    let start = format!("data-search-group=\"{kind}\"");
    let Some(at) = html.find(&start) else {
        return "";
    };
    let rest = &html[at..];
    &rest[..rest.find("</ol>").unwrap_or(rest.len())]
}

async fn search(browser: &Browser, area: &str, q: &str) -> String {
    let query: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let (status, html) = browser.page(&format!("/{area}/search?q={query}")).await;
    assert_eq!(status, 200, "searching {q:?}");
    html
}

#[tokio::test]
async fn staff_find_each_kind_they_may_see_and_nothing_else() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let chat_id = w.hannah_chat.trim_start_matches("/app/messages/");

    // Messages, accents and case folded; the link lands on the message.
    let html = search(&w.staff, "app", "creme BRULEE").await;
    let messages = group(&html, "messages");
    assert!(
        messages.contains("Your <mark>Crème</mark> <mark>Brûlée</mark> invoice is ready"),
        "{messages}"
    );
    assert!(
        messages.contains(&format!("href=\"/app/messages/{chat_id}#m1\"")),
        "{messages}"
    );
    // Not Tom's chat with Olly (the admin is not in it), not another practice's.
    assert!(!html.contains("hedge"), "{html}");
    assert!(!html.contains("Elsewhere"), "{html}");
    // Tom finds his own chat's message, not the admin's chat with Hannah.
    let html = search(&w.tom, "app", "brulee").await;
    assert!(html.contains("<mark>brulee</mark> hedge"), "{html}");
    assert!(!html.contains("invoice"), "{html}");

    // Questions by a prefix of a word of the title or details.
    let html = search(&w.staff, "app", "statem").await;
    let questions = group(&html, "questions");
    assert!(
        questions.contains("Where is the March bank <mark>statement</mark>?"),
        "{questions}"
    );
    assert!(!html.contains("Their March"), "{html}");
    let html = search(&w.staff, "app", "quarterly").await;
    assert!(
        group(&html, "questions").contains("<mark>quarterly</mark> return"),
        "{html}"
    );

    // Answers, files of a question and of a chat.
    let html = search(&w.staff, "app", "quayside 4417").await;
    assert!(
        group(&html, "answers").contains("account <mark>4417</mark> at the <mark>Quayside</mark>"),
        "{html}"
    );
    let html = search(&w.staff, "app", "statement").await;
    assert!(
        group(&html, "files").contains("march-<mark>statement</mark>.pdf"),
        "{html}"
    );
    let html = search(&w.staff, "app", "passport").await;
    let files = group(&html, "files");
    assert!(files.contains("<mark>passport</mark>-scan.pdf"), "{files}");
    assert!(
        files.contains(&format!("/app/messages/{chat_id}#m")),
        "{files}"
    );

    // Clients and contacts (by name or address).
    let html = search(&w.staff, "app", "northwind").await;
    let clients = group(&html, "clients");
    assert!(
        clients.contains("<mark>Northwind</mark> Bakery"),
        "{clients}"
    );
    assert!(
        clients.contains(&format!("/app/clients/{}", w.bakery.id)),
        "{clients}"
    );
    assert!(!clients.contains("Elsewhere"), "{clients}");
    let contacts = group(&html, "contacts");
    assert!(
        contacts.contains("hannah@<mark>northwind</mark>.example"),
        "{contacts}"
    );
    assert!(!contacts.contains("elsewhere"), "{contacts}");
}

#[tokio::test]
async fn contacts_search_their_own_chats_and_the_questions_they_may_see() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let p = w.practice;

    // Her chat's messages, not Olly's chat; no clients or contacts.
    let html = search(&w.hannah_browser, "portal", "brulee").await;
    assert!(
        group(&html, "messages").contains("<mark>Brûlée</mark> invoice"),
        "{html}"
    );
    assert!(html.contains("/portal/messages/"), "{html}");
    assert!(!html.contains("hedge"), "{html}");
    let html = search(&w.olly_browser, "portal", "brulee").await;
    assert!(html.contains("hedge"), "{html}");
    assert!(!html.contains("invoice"), "{html}");
    let html = search(&w.hannah_browser, "portal", "northwind").await;
    assert!(group(&html, "clients").is_empty(), "{html}");
    assert!(group(&html, "contacts").is_empty(), "{html}");

    // Her client's questions; not another client's.
    let html = search(&w.hannah_browser, "portal", "march statement").await;
    assert!(
        group(&html, "questions").contains("/portal/questions/"),
        "{html}"
    );
    let html = search(&w.olly_browser, "portal", "march statement").await;
    assert!(group(&html, "questions").is_empty(), "{html}");
    assert!(group(&html, "files").is_empty(), "{html}");

    // Q3: a question assigned to Hannah is hers alone among the contacts.
    let hugo = active(&app, p, "hugo@northwind.example", &[&w.bakery]).await;
    app.store()
        .set_assignable_questions(p, w.bakery.id, true)
        .await
        .unwrap();
    ask(
        &app,
        &w.admin,
        &w.bakery,
        "What is the ACME payment?",
        "",
        Some(&w.hannah),
    )
    .await;
    let hugo_browser = signed_in(&app, &hugo.email).await;
    let html = search(&hugo_browser, "portal", "acme").await;
    assert!(group(&html, "questions").is_empty(), "{html}");
    let html = search(&w.hannah_browser, "portal", "acme").await;
    assert!(
        group(&html, "questions").contains("<mark>ACME</mark>"),
        "{html}"
    );
    assert!(
        group(&search(&w.staff, "app", "acme").await, "questions").contains("ACME"),
        "staff see it"
    );

    // A client taken away: its questions are no longer found.
    w.staff
        .post_form(
            &format!(
                "/app/clients/{}/contacts/{}/remove",
                w.bakery.id, w.hannah.id
            ),
            &[],
        )
        .await;
    let html = search(&w.hannah_browser, "portal", "march statement").await;
    assert!(group(&html, "questions").is_empty(), "{html}");
}

#[tokio::test]
async fn deleted_messages_and_erased_contacts_leave_the_index_at_once() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let chat = portal(&w.hannah_chat);
    say(&w.hannah_browser, &chat, "Zebra crossing note", "h3").await;
    let html = search(&w.staff, "app", "zebra").await;
    assert!(
        group(&html, "messages").contains("<mark>Zebra</mark>"),
        "{html}"
    );
    // The note is Hannah's fourth message of the chat (after the file).
    let seq = group(&html, "messages")
        .split("#m")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let response = w
        .hannah_browser
        .post_form(
            &format!("{chat}/action"),
            &[("action", "delete"), ("seq", &seq)],
        )
        .await;
    assert_eq!(response.status(), 303);
    let html = search(&w.staff, "app", "zebra").await;
    assert!(group(&html, "messages").is_empty(), "{html}");

    // X5: an erased contact's words, name and address are no longer found.
    let html = search(&w.staff, "app", "mill lane").await;
    assert!(!group(&html, "messages").is_empty(), "{html}");
    app.app
        .erase_contact(&w.admin, w.bakery.id, w.hannah.id, "Hannah", &origin())
        .await
        .unwrap();
    for q in ["mill lane", "quayside", "passport", "hannah"] {
        let html = search(&w.staff, "app", q).await;
        assert!(html.contains("Nothing found"), "{q}: {html}");
    }
    // The staff's own message in the chat stays.
    let html = search(&w.staff, "app", "invoice").await;
    assert!(!group(&html, "messages").is_empty(), "{html}");
}

#[tokio::test]
async fn an_exact_phrase_ranks_first() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    // The exact phrase comes first even though it is the oldest and the
    // longest of the three (which relevance alone would rank last).
    say(
        &w.staff,
        &w.hannah_chat,
        "Good news about this year: your tax return for the bakery has been filed with the office today",
        "p1",
    )
    .await;
    say(&w.staff, &w.hannah_chat, "Return the tax form", "p2").await;
    say(&w.staff, &w.hannah_chat, "Tax for the return", "p3").await;
    let html = search(&w.staff, "app", "tax return").await;
    let messages = group(&html, "messages");
    let first = messages.find("<mark>tax</mark> <mark>return</mark> for the bakery");
    let others = [
        messages.find("<mark>Return</mark> the <mark>tax</mark> form"),
        messages.find("<mark>Tax</mark> for the <mark>return</mark>"),
    ];
    assert!(first.is_some(), "{messages}");
    for other in others {
        assert!(other.is_some(), "{messages}");
        assert!(first < other, "{messages}");
    }
}

/// X1: after the exact phrase, messages with every word as it was typed
/// come before those where a word only begins another (the newest first
/// within each).
#[tokio::test]
async fn whole_words_come_before_words_they_begin() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    say(&w.staff, &w.hannah_chat, "The tax form is ready", "w1").await;
    say(&w.staff, &w.hannah_chat, "Taxes are due on Friday", "w2").await;
    say(&w.staff, &w.hannah_chat, "Taxation changes this year", "w3").await;
    let html = search(&w.staff, "app", "tax").await;
    let messages = group(&html, "messages");
    let whole = messages.find("The <mark>tax</mark> form");
    let begun = [
        messages.find("<mark>Taxes</mark> are due"),
        messages.find("<mark>Taxation</mark> changes"),
    ];
    assert!(whole.is_some(), "{messages}");
    for other in begun {
        assert!(other.is_some(), "{messages}");
        assert!(whole < other, "{messages}");
    }
    // The last word is the one being typed: a prefix; the words before it
    // are whole.
    let messages = group(&search(&w.staff, "app", "taxes are d").await, "messages").to_owned();
    assert!(
        messages.contains("<mark>Taxes</mark> <mark>are</mark> <mark>due</mark>"),
        "{messages}"
    );
    let messages = group(&search(&w.staff, "app", "taxa changes").await, "messages").to_owned();
    assert!(!messages.contains("Taxation"), "{messages}");
}

#[tokio::test]
async fn group_committed_sends_are_found() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    // Sent side by side, the messages are written in shared batches.
    let sends = (0..12).map(|i| {
        let staff = &w.staff;
        let chat = w.hannah_chat.clone();
        async move {
            say(
                staff,
                &chat,
                &format!("batched word{i} marmalade"),
                &format!("b{i}"),
            )
            .await;
        }
    });
    futures_util::future::join_all(sends).await;
    for i in [0, 5, 11] {
        let html = search(&w.staff, "app", &format!("word{i}")).await;
        assert!(
            group(&html, "messages").contains(&format!("<mark>word{i}</mark> marmalade")),
            "{html}"
        );
    }
    let html = search(&w.staff, "app", "marmalade").await;
    assert_eq!(
        group(&html, "messages").matches("<li>").count(),
        12,
        "{html}"
    );
}

#[tokio::test]
async fn short_queries_get_a_friendly_page_and_text_is_escaped() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let html = search(&w.staff, "app", "").await;
    assert!(html.contains("<h1>Search</h1>"), "{html}");
    assert!(!html.contains("Nothing found"), "{html}");
    let html = search(&w.staff, "app", "a").await;
    assert!(html.contains("Type at least 2 letters or digits"), "{html}");
    let html = search(&w.hannah_browser, "portal", "  *  ").await;
    assert!(html.contains("Type at least 2 letters or digits"), "{html}");
    // Query syntax is only words.
    let html = search(&w.staff, "app", "\"invoice OR NEAR(x\"*").await;
    assert!(html.contains("Nothing found"), "{html}");

    say(
        &w.staff,
        &w.hannah_chat,
        "<b>bold</b> budget & <script>x</script>",
        "x1",
    )
    .await;
    let html = search(&w.staff, "app", "<budget>").await;
    let messages = group(&html, "messages");
    assert!(
        messages.contains("&#60;b&#62;bold&#60;/b&#62; <mark>budget</mark> &#38; &#60;script&#62;"),
        "{messages}"
    );
    assert!(!html.contains("<script>x"), "{html}");
    assert!(html.contains("value=\"&#60;budget&#62;\""), "{html}");

    // Signed out: the sign-in page, not the results.
    let response = app.get("/app/search?q=invoice").await;
    assert!(!response.text().await.unwrap().contains("invoice is ready"));
}

#[tokio::test]
async fn a_message_older_than_the_first_page_is_reached_by_its_link() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    say(&w.staff, &w.hannah_chat, "The quince jelly recipe", "old").await;
    for i in 0..60 {
        if i % 20 == 0 {
            // Past the per-minute send limit.
            app.clock.advance(std::time::Duration::from_secs(61));
        }
        say(
            &w.staff,
            &w.hannah_chat,
            &format!("filler {i}"),
            &format!("f{i}"),
        )
        .await;
    }
    let html = search(&w.staff, "app", "quince").await;
    let messages = group(&html, "messages");
    let href = messages
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(href.contains("?before="), "{href}");
    let (path, anchor) = href.split_once('#').unwrap();
    let (status, page) = w.staff.page(path).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("id=\"{anchor}\"")),
        "{anchor} on {path}"
    );
    assert!(page.contains("The quince jelly recipe"));
    // The portal's link lands on it too.
    let html = search(&w.hannah_browser, "portal", "quince").await;
    let href = group(&html, "messages")
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let (path, anchor) = href.split_once('#').unwrap();
    let (status, page) = w.hannah_browser.page(path).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("id=\"{anchor}\"")),
        "{anchor} on {path}"
    );
    let _ = &w.tom;
}

/// On PostgreSQL a message search first reads the practice's newest 2,000
/// messages (a word in most of a large chat's messages costs no scan of
/// them all), and the whole index only when those hold too few. Either
/// way the answer is the same: the newest matches, only of chats the
/// searcher is in.
#[tokio::test]
async fn a_word_in_thousands_of_messages_gives_the_newest_and_an_old_rare_word_is_found() {
    use portico::app::chats::SendInput;
    use portico::app::questions::Actor;
    use portico::domain::SearchQuery;
    use portico::store::Searcher;

    // Sends as fast as the test makes them.
    let app = TestApp::spawn_with(portico::config::ConfigArgs {
        send_limit_per_minute: Some(1_000_000),
        ..Default::default()
    })
    .await;
    let w = world(&app).await;
    let chat = Chat::at(&w.hannah_chat).id;
    let send = |body: String, key: String| {
        let app = &app.app;
        let admin = &w.admin;
        async move {
            let input = SendInput {
                body,
                reply_to: None,
                key,
                files: Vec::new(),
                set_status: false,
                urgent: false,
            };
            app.send_message(Actor::Staff(admin), chat, &input)
                .await
                .expect("sent")
        }
    };
    send("The opening ledger balance".into(), "first".into()).await;
    // More than the window, sent side by side (group-committed batches).
    for batch in 0..22 {
        let sends = (0..100).map(|i| {
            let n = batch * 100 + i;
            send(format!("Figures for quarter {n}"), format!("q{n}"))
        });
        futures_util::future::join_all(sends).await;
    }
    let newest: Vec<i64> = {
        let mut seqs = Vec::new();
        let last = app
            .store()
            .search_messages(
                w.practice,
                Searcher::Staff(w.admin.id),
                &SearchQuery::parse("figures").unwrap(),
                2_500,
            )
            .await
            .unwrap();
        seqs.extend(last.iter().map(|m| m.seq));
        seqs
    };
    assert_eq!(newest.len(), 2_200, "every message with the word");
    for (searcher, who) in [
        (Searcher::Staff(w.admin.id), "the admin"),
        (Searcher::Contact(w.hannah.id), "Hannah"),
    ] {
        for q in ["quarter", "figures quarter", "figures quar"] {
            let found = app
                .store()
                .search_messages(w.practice, searcher, &SearchQuery::parse(q).unwrap(), 20)
                .await
                .unwrap();
            let seqs: Vec<i64> = found.iter().map(|m| m.seq).collect();
            assert_eq!(
                seqs,
                newest[..20],
                "{who}, {q:?}: the 20 newest, newest first"
            );
        }
        let old = app
            .store()
            .search_messages(
                w.practice,
                searcher,
                &SearchQuery::parse("opening ledger").unwrap(),
                20,
            )
            .await
            .unwrap();
        assert_eq!(old.len(), 1, "{who}: a word only in an old message");
        assert_eq!(old[0].body, "The opening ledger balance");
    }
    // Tom is not in the chat; Olly is another client's contact.
    let html = search(&w.tom, "app", "quarter").await;
    assert!(!group(&html, "messages").contains("Figures"), "{html}");
    let html = search(&w.olly_browser, "portal", "quarter").await;
    assert!(!group(&html, "messages").contains("Figures"), "{html}");
}
