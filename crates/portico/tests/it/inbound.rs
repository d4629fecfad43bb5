//! X11: replies to notifications by e-mail (a real SMTP conversation into
//! Portico's listener, sent with lettre, and `POST /inbound/email`) and by
//! text (`POST /inbound/sms`), on SQLite and (with
//! `PORTICO_TEST_BACKEND=postgres`) PostgreSQL.

use crate::harness::active_with_phone as contact;
use crate::harness::{TestApp, say_as, signed_in};
use crate::smtp::SmtpServer;
use hmac::{Hmac, Mac};
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use portico::app::questions::{Actor, QuestionInput};
use portico::config::ConfigArgs;
use portico::domain::{PracticeId, Role};
use portico::store::{Channel, Chat, Client, Contact, EntryKind, Member, Staff};
use sha2::Sha256;
use std::time::Duration;

const DOMAIN: &str = "reply.example.com";
const EMAIL_SECRET: &str = "inbound-email-secret-0123456789";
const SMS_SECRET: &str = "inbound-sms-secret-0123456789";
const HANNAH: &str = "hannah@northwind.example";
const HANNAH_PHONE: &str = "+61412345678";

struct Story {
    smtp: SmtpServer,
    app: TestApp,
    practice: PracticeId,
    admin: Staff,
    client: Client,
    hannah: Contact,
    chat: Chat,
}

async fn story() -> Story {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(ConfigArgs {
        smtp_url: Some(smtp.url()),
        notify_delay_secs: Some(0),
        reply_domain: Some(DOMAIN.into()),
        inbound_smtp_listen: Some("127.0.0.1:0".into()),
        inbound_email_secret: Some(EMAIL_SECRET.into()),
        sms_inbound_secret: Some(SMS_SECRET.into()),
        ..Default::default()
    })
    .await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let client = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = contact(&app, practice.id, HANNAH, Some(HANNAH_PHONE), &client).await;
    let chat = app
        .app
        .open_direct_chat(&admin, client.id, hannah.id)
        .await
        .unwrap();
    Story {
        smtp,
        app,
        practice: practice.id,
        admin,
        client,
        hannah,
        chat,
    }
}

impl Story {
    async fn staff_says(&self, body: &str) {
        say_as(&self.app, Actor::Staff(&self.admin), self.chat.id, body).await;
    }

    /// Notifies Hannah of what waits, and returns the Reply-To of the
    /// latest notification e-mail queued for her.
    async fn reply_address(&self) -> String {
        self.app.clock.advance(Duration::from_secs(5));
        self.app.app.run_notifications().await.unwrap();
        self.app
            .store()
            .outbox_for(HANNAH)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .find_map(|item| item.reply_to)
            .expect("a notification with a Reply-To")
    }

    /// Hannah's messages in the chat, oldest first.
    async fn hannahs_messages(&self) -> Vec<portico::store::Message> {
        self.app
            .store()
            .chat_messages(self.practice, self.chat.id, None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.sender == Member::Contact(self.hannah.id))
            .collect()
    }

    /// Sends a raw e-mail to the listener over SMTP, as a mail server would.
    async fn deliver(&self, from: &str, to: &str, raw: &str) -> Result<(), String> {
        let port = self.app.inbound_smtp.expect("the SMTP listener").port();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build();
        let envelope =
            Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
        transport
            .send_raw(&envelope, raw.as_bytes())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The e-mails queued for Hannah that are not notifications.
    async fn answers_to_hannah(&self) -> Vec<portico::store::OutboxItem> {
        self.app
            .store()
            .outbox_for(HANNAH)
            .await
            .unwrap()
            .into_iter()
            .filter(|i| i.list_unsubscribe.is_none())
            .collect()
    }
}

/// A reply as a mail program writes it.
fn reply(message_id: &str, from: &str, to: &str, subject: &str, body: &str) -> String {
    format!(
        "From: Hannah <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Wed, 2 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
}

/// A reply with one attachment.
fn reply_with_file(message_id: &str, to: &str, text: &str, name: &str, bytes: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!(
        "From: {HANNAH}\r\nTo: {to}\r\nSubject: Re: papers\r\nMessage-ID: <{message_id}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b1\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {encoded}\r\n--b1--\r\n"
    )
}

const QUOTED: &str = "Here are the papers you asked for.\r\n\r\nHannah\r\n-- \r\nHannah Baker, Northwind Bakery\r\n\r\n\
    On Tue, 1 Dec 2026 at 09:00, Harbour <notify@harbour.example> wrote:\r\n> Please send the papers.\r\n";

#[tokio::test]
async fn a_reply_by_smtp_is_posted_once_without_its_quotes_and_the_full_email_is_kept() {
    let s = story().await;
    s.staff_says("Please send the papers.").await;
    let address = s.reply_address().await;
    let (local, domain) = address.split_once('@').unwrap();
    assert_eq!(domain, DOMAIN);
    assert!(local.starts_with("reply+") && local.len() <= 64, "{local}");
    assert_eq!(
        local,
        local.to_ascii_lowercase(),
        "case-insensitive alphabet"
    );
    // The delivered notification carries it as its Reply-To.
    s.app.deliver_mail().await;
    let sent = s
        .smtp
        .messages()
        .into_iter()
        .find(|m| m.to.contains(&HANNAH.to_owned()))
        .expect("the notification");
    assert!(
        sent.header("Reply-To")
            .is_some_and(|r| r.contains(&address)),
        "{:?}",
        sent.header("Reply-To")
    );

    // A mail system that folds the local part to upper case still reaches it.
    let raw = reply(
        "r1@northwind.example",
        HANNAH,
        &address,
        "Re: papers",
        QUOTED,
    );
    s.deliver(HANNAH, &address.to_ascii_uppercase(), &raw)
        .await
        .unwrap();
    // Delivered twice (a retry after a lost answer): posted once.
    s.deliver(HANNAH, &address, &raw).await.unwrap();
    let mine = s.hannahs_messages().await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].body, "Here are the papers you asked for.\n\nHannah");

    // Staff see the whole e-mail behind the message, from the chat.
    let admin = s.app.staff_browser(&s.admin.email).await;
    let (_, chat_page) = admin.page(&format!("/app/messages/{}", s.chat.id)).await;
    assert!(chat_page.contains("Show the full e-mail"), "{chat_page}");
    let (status, page) = admin
        .page(&format!(
            "/app/messages/{}/email/{}",
            s.chat.id, mine[0].seq
        ))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Hannah Baker, Northwind Bakery"), "{page}");
    assert!(page.contains("wrote:"), "{page}");
    // A contact has no such page.
    let portal = signed_in(&s.app, HANNAH).await;
    let (_, her_page) = portal
        .page(&format!("/portal/messages/{}", s.chat.id))
        .await;
    assert!(her_page.contains("Here are the papers"), "{her_page}");
    assert!(!her_page.contains("Show the full e-mail"));
    let response = portal
        .get(&format!(
            "/app/messages/{}/email/{}",
            s.chat.id, mine[0].seq
        ))
        .await;
    assert_ne!(response.status(), 200);
}

#[tokio::test]
async fn a_forged_or_foreign_address_is_refused_at_rcpt() {
    let s = story().await;
    s.staff_says("Please send the papers.").await;
    let address = s.reply_address().await;
    let (local, _) = address.split_once('@').unwrap();
    // One character of the signature changed.
    let mut forged: Vec<char> = local.chars().collect();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == 'a' { 'b' } else { 'a' };
    let forged: String = forged.into_iter().collect();
    let raw = reply("f1@evil.example", HANNAH, &address, "Re: x", "Hello");
    let refused = s
        .deliver(HANNAH, &format!("{forged}@{DOMAIN}"), &raw)
        .await
        .unwrap_err();
    assert!(refused.contains("550"), "{refused}");
    // Not a relay: other domains are refused too.
    let relay = s
        .deliver(HANNAH, &format!("{local}@elsewhere.example"), &raw)
        .await
        .unwrap_err();
    assert!(relay.contains("550"), "{relay}");
    assert!(s.hannahs_messages().await.is_empty());
}

#[tokio::test]
async fn a_reply_from_another_address_is_held_until_an_admin_approves_it() {
    let s = story().await;
    s.staff_says("Please send the papers.").await;
    let address = s.reply_address().await;
    let raw = reply(
        "h1@gmail.example",
        "hannah.baker@gmail.example",
        &address,
        "Re: papers",
        "Sent from my other account.",
    );
    s.deliver("hannah.baker@gmail.example", &address, &raw)
        .await
        .unwrap();
    assert!(s.hannahs_messages().await.is_empty(), "held, not posted");

    // A member of the team does not decide; an admin sees it listed.
    let member = s
        .app
        .with_staff(s.practice, "marcus@harbour.example", Role::Member)
        .await;
    let marcus = s.app.staff_browser(&member.email).await;
    let (status, _) = marcus.page("/app/settings/held-emails").await;
    assert_eq!(status, 403);
    let admin = s.app.staff_browser(&s.admin.email).await;
    let (status, page) = admin.page("/app/settings/held-emails").await;
    assert_eq!(status, 200);
    assert!(page.contains("hannah.baker@gmail.example"), "{page}");
    let held = s.app.app.held_emails(&s.admin).await.unwrap();
    assert_eq!(held.len(), 1);
    let refused = marcus
        .post_form(
            &format!("/app/settings/held-emails/{}/approve", held[0].id),
            &[],
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert!(s.hannahs_messages().await.is_empty());

    let approved = admin
        .post_form(
            &format!("/app/settings/held-emails/{}/approve", held[0].id),
            &[],
        )
        .await;
    assert_eq!(approved.status(), 303);
    let mine = s.hannahs_messages().await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].body, "Sent from my other account.");
    assert!(s.app.app.held_emails(&s.admin).await.unwrap().is_empty());
}

#[tokio::test]
async fn automatic_replies_are_not_posted() {
    let s = story().await;
    s.staff_says("Please send the papers.").await;
    let address = s.reply_address().await;
    let out_of_office = reply(
        "o1@northwind.example",
        HANNAH,
        &address,
        "Out of Office: back on Monday",
        "I am away until Monday.",
    );
    s.deliver(HANNAH, &address, &out_of_office).await.unwrap();
    let auto_submitted = reply(
        "o2@northwind.example",
        HANNAH,
        &address,
        "Re: papers",
        "Thank you for your e-mail.",
    )
    .replacen(
        "MIME-Version",
        "Auto-Submitted: auto-replied\r\nMIME-Version",
        1,
    );
    s.deliver(HANNAH, &address, &auto_submitted).await.unwrap();
    let bulk = reply("o3@northwind.example", HANNAH, &address, "Re: papers", "x").replacen(
        "MIME-Version",
        "Precedence: bulk\r\nMIME-Version",
        1,
    );
    s.deliver(HANNAH, &address, &bulk).await.unwrap();
    assert!(s.hannahs_messages().await.is_empty());
    assert!(s.answers_to_hannah().await.is_empty(), "and no answer");
}

#[tokio::test]
async fn attachments_go_through_the_file_checks() {
    let s = story().await;
    s.staff_says("Please send the papers.").await;
    let address = s.reply_address().await;
    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
    let raw = reply_with_file(
        "a1@northwind.example",
        &address,
        "Attached.",
        "return.pdf",
        pdf,
    );
    s.deliver(HANNAH, &address, &raw).await.unwrap();
    let mine = s.hannahs_messages().await;
    assert_eq!(mine.len(), 1);
    let files = s
        .app
        .store()
        .chat_files(s.practice, s.chat.id, mine[0].seq, mine[0].seq)
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "return.pdf");
    assert_eq!(files[0].content_type, "application/pdf");

    // A program is not a kind of file Portico takes: nothing is posted,
    // and she is told why.
    let exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00";
    let raw = reply_with_file(
        "a2@northwind.example",
        &address,
        "And this.",
        "setup.exe",
        exe,
    );
    s.deliver(HANNAH, &address, &raw).await.unwrap();
    assert_eq!(s.hannahs_messages().await.len(), 1);
    let answers = s.answers_to_hannah().await;
    assert_eq!(answers.len(), 1);
    assert!(
        answers[0].body_text.contains("setup.exe"),
        "{}",
        answers[0].body_text
    );
}

#[tokio::test]
async fn a_reply_after_leaving_the_chat_is_answered_by_email() {
    let s = story().await;
    s.staff_says("Please send the papers.").await;
    let address = s.reply_address().await;
    s.app
        .app
        .remove_from_chat(&s.admin, s.chat.id, Member::Contact(s.hannah.id))
        .await
        .unwrap();
    let raw = reply(
        "l1@northwind.example",
        HANNAH,
        &address,
        "Re: papers",
        "Here.",
    );
    s.deliver(HANNAH, &address, &raw).await.unwrap();
    assert!(s.hannahs_messages().await.is_empty());
    let answers = s.answers_to_hannah().await;
    assert_eq!(answers.len(), 1);
    assert!(
        answers[0].body_text.contains("no longer in this chat"),
        "{}",
        answers[0].body_text
    );
    // Delivered again: not answered twice.
    s.deliver(HANNAH, &address, &raw).await.unwrap();
    assert_eq!(s.answers_to_hannah().await.len(), 1);
}

#[tokio::test]
async fn the_http_endpoint_takes_raw_mail_with_its_secret_only() {
    let s = story().await;
    s.staff_says("Please send the papers.").await;
    let address = s.reply_address().await;
    let raw = reply(
        "w1@northwind.example",
        HANNAH,
        &address,
        "Re: papers",
        "By the provider.",
    );
    let url = s.app.url("/inbound/email");
    let without = s
        .app
        .http
        .post(&url)
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 401);
    let wrong = s
        .app
        .http
        .post(&url)
        .bearer_auth("not-the-secret-0123456789")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(s.hannahs_messages().await.is_empty());
    let taken = s
        .app
        .http
        .post(&url)
        .header("Content-Type", "message/rfc822")
        .basic_auth("provider", Some(EMAIL_SECRET))
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 200);
    assert_eq!(taken.text().await.unwrap(), "posted");
    let mine = s.hannahs_messages().await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].body, "By the provider.");
    // Not for a reply address of this server: refused.
    let stray = reply(
        "w2@x.example",
        HANNAH,
        "someone@elsewhere.example",
        "Hi",
        "Hi",
    );
    let response = s
        .app
        .http
        .post(&url)
        .bearer_auth(EMAIL_SECRET)
        .body(stray)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn a_reply_to_a_question_becomes_her_answer() {
    let s = story().await;
    let questions = s
        .app
        .app
        .ask_questions(
            &s.admin,
            s.client.id,
            &[QuestionInput {
                title: "What is this payment of $120?".into(),
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    let address = s.reply_address().await;
    let raw = reply(
        "q1@northwind.example",
        HANNAH,
        &address,
        "Re: payment",
        "Office chairs.",
    );
    s.deliver(HANNAH, &address, &raw).await.unwrap();
    let entries = s
        .app
        .store()
        .question_entries(s.practice, questions[0].id)
        .await
        .unwrap();
    let answer = entries
        .iter()
        .find(|e| e.kind == EntryKind::Answer)
        .expect("her answer");
    assert_eq!(answer.body, "Office chairs.");
}

fn signed(body: &str) -> String {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(SMS_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn text_in(s: &Story, from: &str, body: &str, id: &str) -> reqwest::Response {
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("From", from)
        .append_pair("To", "+61400000999")
        .append_pair("Body", body)
        .append_pair("MessageSid", id)
        .finish();
    s.app
        .http
        .post(s.app.url("/inbound/sms"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Portico-Signature", signed(&form))
        .body(form)
        .send()
        .await
        .unwrap()
}

async fn texts_to(s: &Story, phone: &str) -> Vec<portico::store::OutboxItem> {
    s.app
        .store()
        .outbox_for(phone)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.channel == Channel::Sms)
        .collect()
}

#[tokio::test]
async fn replies_by_text_land_in_her_latest_chat_and_stop_and_start_work() {
    let s = story().await;
    s.staff_says("Your return is ready.").await;
    s.reply_address().await;
    // The notification text carries a link and says it can be answered,
    // never what was written.
    let texts = texts_to(&s, HANNAH_PHONE).await;
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].body_text.contains("/portal"),
        "{}",
        texts[0].body_text
    );
    assert!(texts[0].body_text.contains("Reply to this text"));
    assert!(!texts[0].body_text.contains("ready"));

    // Unsigned or wrongly signed: refused.
    let unsigned = s
        .app
        .http
        .post(s.app.url("/inbound/sms"))
        .form(&[("From", HANNAH_PHONE), ("Body", "Hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    let response = text_in(&s, HANNAH_PHONE, "Thanks, I will sign today.", "SM1").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "posted");
    // The provider delivers it again: one message.
    text_in(&s, HANNAH_PHONE, "Thanks, I will sign today.", "SM1").await;
    let mine = s.hannahs_messages().await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].body, "Thanks, I will sign today.");

    // STOP: a confirmation, then no more texts.
    let stop = text_in(&s, HANNAH_PHONE, "stop", "SM2").await;
    assert_eq!(stop.text().await.unwrap(), "stopped");
    let texts = texts_to(&s, HANNAH_PHONE).await;
    assert_eq!(texts.len(), 2);
    assert!(texts[1].body_text.contains("no more texts"));
    s.staff_says("One more thing.").await;
    s.reply_address().await;
    assert_eq!(texts_to(&s, HANNAH_PHONE).await.len(), 2, "none after STOP");

    // START: texts again.
    let start = text_in(&s, HANNAH_PHONE, "Start", "SM3").await;
    assert_eq!(start.text().await.unwrap(), "started");
    s.staff_says("And another.").await;
    s.reply_address().await;
    let texts = texts_to(&s, HANNAH_PHONE).await;
    assert_eq!(texts.len(), 4, "the confirmation and the notification");
    assert!(texts[3].body_text.contains("waiting for you"));
}

#[tokio::test]
async fn a_number_two_contacts_share_is_asked_to_reply_in_the_portal() {
    let s = story().await;
    let shared = "+61499888777";
    let first = contact(
        &s.app,
        s.practice,
        "ann@northwind.example",
        Some(shared),
        &s.client,
    )
    .await;
    let second = contact(
        &s.app,
        s.practice,
        "bob@northwind.example",
        Some(shared),
        &s.client,
    )
    .await;
    for c in [&first, &second] {
        s.app
            .app
            .open_direct_chat(&s.admin, s.client.id, c.id)
            .await
            .unwrap();
    }
    let response = text_in(&s, shared, "Which of us is this?", "SM9").await;
    assert_eq!(response.text().await.unwrap(), "asked_to_use_portal");
    let texts = texts_to(&s, shared).await;
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].body_text.contains("reply in your client portal"),
        "{}",
        texts[0].body_text
    );
    // Nothing was posted in either chat.
    for c in [&first, &second] {
        let chats = s
            .app
            .store()
            .chats_of(s.practice, Member::Contact(c.id))
            .await
            .unwrap();
        assert!(chats.iter().all(|c| c.chat.last_seq == 0));
    }
}

#[tokio::test]
async fn an_erased_persons_reply_address_is_refused_and_her_replies_go() {
    let s = story().await;
    s.staff_says("Please send the papers.").await;
    let address = s.reply_address().await;
    let raw = reply(
        "e1@northwind.example",
        HANNAH,
        &address,
        "Re: papers",
        "Here.",
    );
    s.deliver(HANNAH, &address, &raw).await.unwrap();
    assert_eq!(s.hannahs_messages().await.len(), 1);
    s.app
        .app
        .erase_contact(
            &s.admin,
            s.client.id,
            s.hannah.id,
            &s.hannah.name,
            &crate::harness::origin(),
        )
        .await
        .unwrap();
    let again = reply(
        "e2@northwind.example",
        HANNAH,
        &address,
        "Re: papers",
        "More.",
    );
    let refused = s.deliver(HANNAH, &address, &again).await.unwrap_err();
    assert!(refused.contains("550"), "{refused}");
    // The e-mail she sent is not kept behind the erased message.
    let admin = s.app.staff_browser(&s.admin.email).await;
    let (_, chat_page) = admin.page(&format!("/app/messages/{}", s.chat.id)).await;
    assert!(!chat_page.contains("Show the full e-mail"), "{chat_page}");
}
