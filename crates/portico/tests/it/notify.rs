//! Notifications (N1, N2, S4, S5, X7): real SMTP conversations with a
//! manual clock, on SQLite and (with `PORTICO_TEST_BACKEND=postgres`)
//! PostgreSQL.

use crate::harness::active_with_phone as contact;
use crate::harness::{TestApp, location, say_as, signed_in};
use crate::smtp::{ReceivedMail, SmtpServer};
use futures_util::StreamExt;
use portico::app::chats::SendInput;
use portico::app::questions::{Actor, QuestionInput};
use portico::config::ConfigArgs;
use portico::domain::{ChatId, Millis, PracticeId, Role};
use portico::store::{
    Channel, Chat, Client, Contact, Member, NotifyChannel, NotifyPrefs, PendingKey, PendingPage,
    Staff,
};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PUBLIC: &str = "http://portal.example.com";

/// A practice with a client, its contact Hannah in a chat with the admin,
/// everything e-mailed over SMTP.
struct Story {
    smtp: SmtpServer,
    app: TestApp,
    practice: PracticeId,
    admin: Staff,
    client: Client,
    hannah: Contact,
    chat: Chat,
}

async fn story_with(phone: Option<&str>) -> Story {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(ConfigArgs {
        smtp_url: Some(smtp.url()),
        public_url: Some(PUBLIC.into()),
        notify_delay_secs: Some(120),
        ..Default::default()
    })
    .await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let client = app.with_client(practice.id, "Northwind Bakery").await;
    let hannah = contact(
        &app,
        practice.id,
        "hannah@northwind.example",
        phone,
        &client,
    )
    .await;
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

async fn story() -> Story {
    story_with(None).await
}

impl Story {
    async fn staff_says(&self, body: &str) {
        say_as(&self.app, Actor::Staff(&self.admin), self.chat.id, body).await;
    }

    async fn hannah_says(&self, body: &str) {
        say_as(&self.app, Actor::Contact(&self.hannah), self.chat.id, body).await;
    }

    /// Two team members who are not in the chat: Carol looks after the
    /// client, Dave does not.
    async fn carol_and_dave(&self) -> (Staff, Staff) {
        let carol = self
            .app
            .with_staff(self.practice, "carol@harbour.example", Role::Member)
            .await;
        self.app
            .store()
            .assign_staff(self.practice, self.client.id, carol.id)
            .await
            .unwrap();
        let dave = self
            .app
            .with_staff(self.practice, "dave@harbour.example", Role::Member)
            .await;
        (carol, dave)
    }

    /// The admin includes the text of messages in e-mails to clients
    /// (*Settings → Notifications*).
    async fn include_text_for_contacts(&self) {
        let admin = self.app.staff_browser(&self.admin.email).await;
        let response = admin
            .post_form(
                "/app/settings/notifications",
                &[("content_to_contacts", "on"), ("delay", "")],
            )
            .await;
        assert_eq!(response.status(), 303);
    }

    fn later(&self, secs: u64) {
        self.app.clock.advance(Duration::from_secs(secs));
    }

    async fn notify(&self) -> usize {
        self.app.app.run_notifications().await.unwrap()
    }

    /// Runs the job, delivers, and returns the mail Hannah got over SMTP.
    async fn hannahs_mail(&self) -> Vec<ReceivedMail> {
        self.app.deliver_mail().await;
        self.smtp
            .messages()
            .into_iter()
            .filter(|m| m.to.contains(&self.hannah.email))
            .filter(|m| m.header("List-Unsubscribe").is_some())
            .collect()
    }
}

/// A mail's text with quoted-printable soft breaks undone.
fn text(mail: &ReceivedMail) -> String {
    mail.data.replace("=\r\n", "").replace("=3D", "=")
}

#[tokio::test]
async fn a_message_is_notified_once_after_the_window_and_its_link_lands_on_the_chat() {
    let s = story().await;
    s.staff_says("Your return is ready to sign.").await;
    assert_eq!(s.notify().await, 0, "not before the window");
    s.later(60);
    assert_eq!(s.notify().await, 0, "still within the window");
    s.later(61);
    assert_eq!(s.notify().await, 1);
    assert_eq!(s.notify().await, 0, "told once");
    s.later(600);
    assert_eq!(s.notify().await, 0, "and never again");

    let mails = s.hannahs_mail().await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Harbour: 1 new message")
    );
    let body = text(mail);
    assert!(body.contains("Northwind Bakery"), "{body}");
    assert!(body.contains("1 new message from Harbour Admin"), "{body}");
    // S5 is off by default: the text stays in the portal.
    assert!(!body.contains("ready to sign"), "{body}");
    let unsubscribe = mail.header("List-Unsubscribe").unwrap();
    assert!(
        unsubscribe.starts_with(&format!("<{PUBLIC}/notifications/unsubscribe/")),
        "{unsubscribe}"
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(body.contains(&format!("{PUBLIC}/portal/account/notifications")));

    // One click lands on the chat, signed in.
    let next = format!("?next=/portal/messages/{}", s.chat.id);
    let link = body
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{PUBLIC}/portal/link/")) && w.ends_with(&next))
        .expect("a link to the chat")
        .trim_start_matches(PUBLIC)
        .to_owned();
    let browser = s.app.browser();
    let (status, page) = browser.page(&link).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("{next}\"")),
        "the form keeps the landing place"
    );
    let response = browser.post_form(&link, &[]).await;
    assert_eq!(
        location(&response),
        format!("/portal/messages/{}", s.chat.id)
    );
    let (status, _) = browser
        .page(&format!("/portal/messages/{}", s.chat.id))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_link_never_lands_outside_the_portal() {
    let s = story().await;
    s.staff_says("Hello").await;
    s.later(121);
    s.notify().await;
    let item = s
        .app
        .store()
        .outbox_for(&s.hannah.email)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let link = item
        .body_text
        .split_whitespace()
        .find(|w| w.contains("/portal/link/"))
        .unwrap()
        .trim_start_matches(PUBLIC)
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let browser = s.app.browser();
    let response = browser
        .post_form(&format!("{link}?next=//evil.example/portal/"), &[])
        .await;
    assert_eq!(location(&response), "/portal");
}

#[tokio::test]
async fn five_messages_in_a_window_make_one_email() {
    let s = story().await;
    for n in 1..=5 {
        s.staff_says(&format!("Message {n}")).await;
        s.later(10);
    }
    s.later(80);
    assert_eq!(s.notify().await, 1);
    s.later(300);
    assert_eq!(s.notify().await, 0);
    let mails = s.hannahs_mail().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("Harbour: 5 new messages")
    );
    // A message after that one is the next e-mail's, after its own window.
    s.staff_says("One more").await;
    s.later(121);
    assert_eq!(s.notify().await, 1);
    let mails = s.hannahs_mail().await;
    assert_eq!(mails.len(), 2);
    assert_eq!(
        mails[1].header("Subject").as_deref(),
        Some("Harbour: 1 new message")
    );
}

#[tokio::test]
async fn a_message_read_within_the_window_is_not_notified() {
    let s = story().await;
    s.staff_says("Read me in the portal").await;
    s.later(30);
    s.app
        .app
        .chat_view(Actor::Contact(&s.hannah), s.chat.id, None)
        .await
        .unwrap();
    s.later(300);
    assert_eq!(s.notify().await, 0);
    assert!(s.hannahs_mail().await.is_empty());
}

#[tokio::test]
async fn a_message_shown_on_a_chat_open_on_a_live_socket_is_not_notified() {
    let s = story().await;
    let browser = signed_in(&s.app, &s.hannah.email).await;
    let url = format!(
        "{}/ws?chat={}",
        s.app.base_url.replace("http://", "ws://"),
        s.chat.id
    );
    let mut request = url.into_client_request().unwrap();
    let cookie = format!(
        "portico_session={}",
        browser.cookie("portico_session").unwrap()
    );
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("origin", PUBLIC.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    s.staff_says("You have this chat open").await;
    let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("the message reaches the open chat");
    assert!(frame.is_some());
    // The socket's page shows it: it is read once the server has recorded that.
    wait_until_read(&s, 1).await;
    s.later(300);
    assert_eq!(s.notify().await, 0);
    assert!(s.hannahs_mail().await.is_empty());
}

async fn wait_until_read(s: &Story, seq: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let members = s
            .app
            .store()
            .chat_members(s.practice, s.chat.id)
            .await
            .unwrap();
        if members
            .iter()
            .any(|m| m.member == Member::Contact(s.hannah.id) && m.last_read_seq >= seq)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the open chat never read the message"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_assigned_question_is_notified_to_its_assignee_only() {
    let s = story().await;
    let tom = contact(&s.app, s.practice, "tom@northwind.example", None, &s.client).await;
    s.app
        .store()
        .set_assignable_questions(s.practice, s.client.id, true)
        .await
        .unwrap();
    s.app
        .app
        .ask_questions(
            &s.admin,
            s.client.id,
            &[QuestionInput {
                title: "Send the March bank statement".into(),
                details: "The PDF from your bank.".into(),
                assignee: Some(tom.id),
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    s.later(121);
    assert_eq!(s.notify().await, 1);
    s.app.deliver_mail().await;
    let mails = s.smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec![tom.email.clone()]);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("Harbour: 1 update on your questions")
    );
    let body = text(&mails[0]);
    assert!(body.contains("Send the March bank statement"), "{body}");
    assert!(body.contains("/portal/questions/"), "{body}");
    assert!(
        !body.contains("The PDF from your bank"),
        "no content without S5"
    );
}

#[tokio::test]
async fn a_question_read_in_the_window_is_not_notified_and_an_answer_tells_the_staff_who_look_after_the_client()
 {
    let s = story().await;
    s.app
        .store()
        .assign_staff(s.practice, s.client.id, s.admin.id)
        .await
        .unwrap();
    let asked = s
        .app
        .app
        .ask_questions(
            &s.admin,
            s.client.id,
            &[QuestionInput {
                title: "Who is your new supplier?".into(),
                details: String::new(),
                assignee: None,
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    s.later(30);
    s.app
        .app
        .thread(Actor::Contact(&s.hannah), asked[0].id)
        .await
        .unwrap();
    s.app
        .app
        .answer_question(
            &s.hannah,
            asked[0].id,
            "Acme Flour",
            &[],
            &crate::harness::origin(),
        )
        .await
        .unwrap();
    s.later(121);
    assert_eq!(s.notify().await, 1, "only the staff user is told");
    s.app.deliver_mail().await;
    let mails = s.smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec![s.admin.email.clone()]);
    let body = text(&mails[0]);
    assert!(body.contains("hannah answered"), "{body}");
    assert!(
        body.contains(&format!("{PUBLIC}/app/questions/{}", asked[0].id)),
        "{body}"
    );
    // N1: and in the app at once.
    let alerts = s.app.app.alerts(&s.admin).await.unwrap();
    assert!(alerts.iter().any(|a| a.text.contains("hannah answered")));
}

#[tokio::test]
async fn quiet_hours_hold_a_notification_until_they_end_then_send_it_once() {
    let s = story().await;
    let now = s.app.clock.now().to_timestamp();
    let minute = i64::from(now.to_zoned_datetime(jiff::tz::TimeZone::UTC).hour()) * 60
        + i64::from(now.to_zoned_datetime(jiff::tz::TimeZone::UTC).minute());
    let quiet = ((minute + 1440 - 10) % 1440, (minute + 60) % 1440);
    s.app
        .app
        .set_my_notify_prefs(
            s.practice,
            Member::Contact(s.hannah.id),
            NotifyPrefs {
                quiet: Some(quiet),
                time_zone: Some("UTC".into()),
                ..NotifyPrefs::default()
            },
        )
        .await
        .unwrap();
    s.staff_says("Sent in the night").await;
    s.later(121);
    assert_eq!(s.notify().await, 0, "quiet");
    s.later(30 * 60);
    assert_eq!(s.notify().await, 0, "still quiet");
    s.later(35 * 60);
    assert_eq!(s.notify().await, 1, "sent when the quiet hours end");
    s.later(121);
    assert_eq!(s.notify().await, 0, "once");
    assert_eq!(s.hannahs_mail().await.len(), 1);
}

#[tokio::test]
async fn two_instances_on_one_database_send_one_email() {
    let s = story().await;
    let other = s.app.another_instance().await;
    s.staff_says("Hello from one of two instances").await;
    s.later(121);
    let (a, b) = tokio::join!(s.app.app.run_notifications(), other.run_notifications());
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    let (a, b) = tokio::join!(s.app.app.run_notifications(), other.run_notifications());
    assert_eq!(a.unwrap() + b.unwrap(), 0);
    let queued: Vec<_> = s
        .app
        .store()
        .outbox_for(&s.hannah.email)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.idempotency_key.starts_with("notify-"))
        .collect();
    assert_eq!(queued.len(), 1);
    assert_eq!(s.hannahs_mail().await.len(), 1);
}

#[tokio::test]
async fn one_click_unsubscribe_turns_off_only_that_kind_for_that_person_and_a_forged_token_is_refused()
 {
    let s = story().await;
    let tom = contact(&s.app, s.practice, "tom@northwind.example", None, &s.client).await;
    s.staff_says("Hello").await;
    s.later(121);
    s.notify().await;
    let mails = s.hannahs_mail().await;
    let header = mails[0].header("List-Unsubscribe").unwrap();
    let url = header
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    let path = url.trim_start_matches(PUBLIC).to_owned();
    let token = path
        .trim_start_matches("/notifications/unsubscribe/")
        .to_owned();

    // A forged token: Hannah's signature on a payload naming Tom.
    let (payload, signature) = token.split_once('.').unwrap();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let text = String::from_utf8(engine.decode(payload).unwrap()).unwrap();
    let forged_payload = engine.encode(text.replace(&s.hannah.id.to_string(), &tom.id.to_string()));
    let plain = reqwest::Client::new();
    for bad in [
        format!("{forged_payload}.{signature}"),
        "not-a-token".to_owned(),
        format!("{payload}.{}", engine.encode([0u8; 32])),
    ] {
        let response = plain
            .post(s.app.url(&format!("/notifications/unsubscribe/{bad}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{bad}");
    }
    let toms = s
        .app
        .app
        .my_notify_prefs(s.practice, Member::Contact(tom.id))
        .await
        .unwrap();
    assert_eq!(toms, NotifyPrefs::default());

    // GET shows a page and changes nothing (mail scanners open links).
    let (status, page) = s.app.browser().page(&path).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Stop e-mails about messages from Harbour"),
        "{page}"
    );
    assert_eq!(
        s.app
            .app
            .my_notify_prefs(s.practice, Member::Contact(s.hannah.id))
            .await
            .unwrap(),
        NotifyPrefs::default()
    );

    // The mail program's one-click POST: no cookie, no token, no Origin.
    let response = plain
        .post(s.app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let hannahs = s
        .app
        .app
        .my_notify_prefs(s.practice, Member::Contact(s.hannah.id))
        .await
        .unwrap();
    assert_eq!(
        hannahs.messages,
        NotifyChannel::Sms,
        "e-mail about messages off"
    );
    assert_eq!(
        hannahs.questions,
        NotifyChannel::Both,
        "questions untouched"
    );
    assert_eq!(
        s.app
            .app
            .my_notify_prefs(s.practice, Member::Contact(tom.id))
            .await
            .unwrap(),
        NotifyPrefs::default(),
        "nobody else changed"
    );

    // No more message e-mails for her; she has no mobile number, so nothing.
    s.staff_says("After unsubscribing").await;
    s.later(121);
    s.notify().await;
    assert_eq!(s.hannahs_mail().await.len(), 1);
}

#[tokio::test]
async fn content_is_in_the_email_only_with_the_practice_setting_on() {
    let s = story().await;
    s.staff_says("Secret figures: 1234").await;
    s.later(121);
    s.notify().await;
    let first = s.hannahs_mail().await;
    assert!(!text(&first[0]).contains("1234"));

    let admin = s.app.staff_browser(&s.admin.email).await;
    let (status, page) = admin.page("/app/settings/notifications").await;
    assert_eq!(status, 200);
    assert!(page.contains("E-mail is not a secure channel"));
    s.include_text_for_contacts().await;

    s.staff_says("Secret figures: 5678").await;
    s.later(121);
    s.notify().await;
    let mails = s.hannahs_mail().await;
    assert_eq!(mails.len(), 2);
    assert!(
        text(&mails[1]).contains("Secret figures: 5678"),
        "{}",
        text(&mails[1])
    );
}

#[tokio::test]
async fn only_admins_change_the_practice_settings_and_a_bad_window_is_refused() {
    let s = story().await;
    let member = s
        .app
        .with_staff(s.practice, "sam@harbour.example", Role::Member)
        .await;
    let sam = s.app.staff_browser(&member.email).await;
    let (status, _) = sam.page("/app/settings/notifications").await;
    assert_eq!(status, 403);
    let response = sam
        .post_form(
            "/app/settings/notifications",
            &[("content_to_contacts", "on")],
        )
        .await;
    assert_eq!(response.status(), 403);
    let admin = s.app.staff_browser(&s.admin.email).await;
    let response = admin
        .post_form("/app/settings/notifications", &[("delay", "-5")])
        .await;
    assert_eq!(response.status(), 422);
    let settings = s.app.app.notify_settings(&s.admin).await.unwrap();
    assert!(!settings.content_to_contacts);
    assert_eq!(settings.delay_secs, None);
}

#[tokio::test]
async fn a_text_never_carries_content() {
    let s = story_with(Some("+44 7400 123456")).await;
    let admin = s.app.staff_browser(&s.admin.email).await;
    admin
        .post_form(
            "/app/settings/notifications",
            &[("content_to_contacts", "on")],
        )
        .await;
    s.staff_says("Private: your balance is 9876").await;
    s.later(121);
    assert_eq!(s.notify().await, 1);
    let items = s.app.store().outbox_for("+447400123456").await.unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    let sms = &items[0];
    assert_eq!(sms.channel, Channel::Sms);
    assert!(!sms.body_text.contains("9876"), "{}", sms.body_text);
    assert!(sms.body_text.contains(&format!("{PUBLIC}/portal")));
    // The e-mail, with the setting on, does carry it.
    assert!(text(&s.hannahs_mail().await[0]).contains("9876"));
}

#[tokio::test]
async fn a_client_message_alerts_the_staff_who_look_after_the_client_and_they_can_join_the_chat() {
    let s = story().await;
    let (carol, _) = s.carol_and_dave().await;
    let browser = s.app.staff_browser(&carol.email).await;
    let url = s.app.base_url.replace("http://", "ws://") + "/ws";
    let mut request = url.into_client_request().unwrap();
    let cookie = format!(
        "portico_session={}",
        browser.cookie("portico_session").unwrap()
    );
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("origin", PUBLIC.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    s.hannah_says("Can someone call me?").await;
    let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("an alert")
        .unwrap()
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(event["kind"], "alert");
    assert_eq!(event["chat"], s.chat.id.to_string());
    assert_eq!(event["body"], "hannah wrote about Northwind Bakery");

    let count: serde_json::Value = browser.get("/app/alerts/count").await.json().await.unwrap();
    assert_eq!(count["count"], 1);
    assert_eq!(count["alerts"], true);

    // From the alert: Carol is not in the chat, so she is asked to join.
    let (status, page) = browser
        .page(&format!("/app/alerts/chat/{}", s.chat.id))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Join the chat"));
    let response = browser
        .post_form(&format!("/app/alerts/chat/{}", s.chat.id), &[])
        .await;
    assert_eq!(location(&response), format!("/app/messages/{}", s.chat.id));
    let (status, _) = browser.page(&format!("/app/messages/{}", s.chat.id)).await;
    assert_eq!(status, 200);
    let count: serde_json::Value = browser.get("/app/alerts/count").await.json().await.unwrap();
    assert_eq!(count["count"], 0, "opening the chat read its alert");
}

#[tokio::test]
async fn client_messages_written_together_raise_one_alert_each_and_a_team_message_none() {
    let s = story().await;
    // Dave neither looks after the bakery nor is in its chat.
    let (carol, dave) = s.carol_and_dave().await;

    s.staff_says("Please send the receipts").await;
    assert!(
        s.app.app.alerts(&carol).await.unwrap().is_empty(),
        "a team member's message raises no alert"
    );

    // Eight at once: the group commit writes those that wait together,
    // the alerts in the same transaction.
    let bodies: Vec<String> = (1..=8).map(|n| format!("Receipt {n} of 8")).collect();
    futures_util::future::join_all(bodies.iter().map(|body| s.hannah_says(body))).await;
    for (who, staff) in [
        ("in the chat", &s.admin),
        ("looks after the client", &carol),
    ] {
        let alerts = s.app.app.alerts(staff).await.unwrap();
        assert_eq!(alerts.len(), 1, "one alert for the chat: {who}");
        assert!(!alerts[0].read, "{who}");
        assert_eq!(alerts[0].chat(), Some(s.chat.id), "{who}");
        assert_eq!(alerts[0].text, "hannah wrote about Northwind Bakery");
    }
    assert!(
        s.app.app.alerts(&dave).await.unwrap().is_empty(),
        "nothing for a team member who neither looks after the client nor is in the chat"
    );
}

#[tokio::test]
async fn staff_who_do_not_look_after_the_client_cannot_join_from_an_alert() {
    let s = story().await;
    let dave = s
        .app
        .with_staff(s.practice, "dave@harbour.example", Role::Member)
        .await;
    let browser = s.app.staff_browser(&dave.email).await;
    let response = browser
        .post_form(&format!("/app/alerts/chat/{}", s.chat.id), &[])
        .await;
    assert_eq!(response.status(), 404);
    let not_a_chat = ChatId::new();
    let response = browser
        .post_form(&format!("/app/alerts/chat/{not_a_chat}"), &[])
        .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn staff_in_the_chat_get_an_email_for_a_client_message_they_did_not_see() {
    let s = story().await;
    s.hannah_says("I sent the documents").await;
    s.later(121);
    assert_eq!(s.notify().await, 1);
    s.app.deliver_mail().await;
    let mails = s.smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec![s.admin.email.clone()]);
    let body = text(&mails[0]);
    assert!(
        body.contains(&format!("{PUBLIC}/app/messages/{}", s.chat.id)),
        "{body}"
    );
    // Staff who chose "never" are not e-mailed.
    let admin = s.app.staff_browser(&s.admin.email).await;
    let response = admin
        .post_form(
            "/app/account/notifications",
            &[
                ("messages", "email"),
                ("questions", "email"),
                ("staff_mode", "never"),
                ("digest", "08:00"),
                ("in_app_alerts", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    s.hannah_says("Anyone there?").await;
    s.later(121);
    assert_eq!(s.notify().await, 0);
}

#[tokio::test]
async fn people_change_only_their_own_preferences_and_bad_values_are_refused() {
    let s = story().await;
    let browser = signed_in(&s.app, &s.hannah.email).await;
    let (status, page) = browser.page("/portal/account/notifications").await;
    assert_eq!(status, 200);
    assert!(page.contains("Quiet hours"));
    let response = browser
        .post_form(
            "/portal/account/notifications",
            &[
                ("messages", "email"),
                ("questions", "none"),
                ("quiet_start", "22:00"),
                ("quiet_end", "07:00"),
                ("time_zone", "Europe/London"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let prefs = s
        .app
        .app
        .my_notify_prefs(s.practice, Member::Contact(s.hannah.id))
        .await
        .unwrap();
    assert_eq!(prefs.messages, NotifyChannel::Email);
    assert_eq!(prefs.questions, NotifyChannel::None);
    assert_eq!(prefs.quiet, Some((22 * 60, 7 * 60)));
    for bad in [
        [
            ("messages", "email"),
            ("questions", "loud"),
            ("time_zone", ""),
        ],
        [
            ("messages", "email"),
            ("questions", "none"),
            ("time_zone", "Mars/Olympus"),
        ],
        [
            ("messages", "email"),
            ("quiet_start", "25:00"),
            ("quiet_end", "07:00"),
        ],
    ] {
        let response = browser
            .post_form("/portal/account/notifications", &bad)
            .await;
        assert_eq!(response.status(), 422, "{bad:?}");
    }
    // Staff cannot be told by text (they have no number to receive it).
    let admin = s.app.staff_browser(&s.admin.email).await;
    let response = admin
        .post_form(
            "/app/account/notifications",
            &[
                ("messages", "sms"),
                ("questions", "email"),
                ("staff_mode", "each"),
                ("digest", "08:00"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    // Signed out, the pages send people to sign in.
    let (status, _) = s.app.browser().page("/portal/account/notifications").await;
    assert_eq!(status, 303);
}

/// Minutes after midnight (UTC) on the test's clock.
fn utc_minute(app: &TestApp) -> i64 {
    let at = app
        .clock
        .now()
        .to_timestamp()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC);
    i64::from(at.hour()) * 60 + i64::from(at.minute())
}

/// Quiet hours (UTC) from ten minutes ago to an hour from now.
async fn quiet_now(app: &TestApp, practice: PracticeId, member: Member) {
    let minute = utc_minute(app);
    app.app
        .set_my_notify_prefs(
            practice,
            member,
            NotifyPrefs {
                quiet: Some(((minute + 1440 - 10) % 1440, (minute + 60) % 1440)),
                time_zone: Some("UTC".into()),
                ..NotifyPrefs::default()
            },
        )
        .await
        .unwrap();
}

impl Story {
    /// X7: a message the admin marks urgent.
    async fn staff_says_urgently(&self, body: &str) {
        self.staff_sends(SendInput {
            body: body.into(),
            key: uuid::Uuid::now_v7().to_string(),
            urgent: true,
            ..Default::default()
        })
        .await;
    }

    async fn staff_sends(&self, input: SendInput) {
        self.app
            .app
            .send_message(Actor::Staff(&self.admin), self.chat.id, &input)
            .await
            .unwrap();
    }

    /// The notification e-mails `email` got over SMTP.
    async fn mail_of(&self, email: &str) -> Vec<ReceivedMail> {
        self.app.deliver_mail().await;
        self.smtp
            .messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|to| to == email))
            .filter(|m| m.header("List-Unsubscribe").is_some())
            .collect()
    }
}

#[tokio::test]
async fn an_urgent_message_goes_out_in_quiet_hours_and_a_plain_one_waits_for_their_end() {
    let s = story().await;
    quiet_now(&s.app, s.practice, Member::Contact(s.hannah.id)).await;

    // Urgent: sent once the window has passed, quiet hours or not.
    s.staff_says_urgently("The tax office called: please ring us today.")
        .await;
    assert_eq!(s.notify().await, 0, "not before the window");
    s.later(121);
    assert_eq!(s.notify().await, 1, "urgent breaks through quiet hours");
    let mails = s.hannahs_mail().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("Harbour: urgent: 1 new message")
    );
    assert!(text(&mails[0]).contains("URGENT: Northwind Bakery"));

    // A plain message in the same quiet hours waits for their end, once.
    s.staff_says("Your invoice is in the portal.").await;
    s.later(121);
    assert_eq!(s.notify().await, 0, "quiet");
    s.later(30 * 60);
    assert_eq!(s.notify().await, 0, "still quiet");
    s.later(35 * 60);
    assert_eq!(s.notify().await, 1, "sent when the quiet hours end");
    s.later(121);
    assert_eq!(s.notify().await, 0, "once");
    let mails = s.hannahs_mail().await;
    assert_eq!(mails.len(), 2);
    assert_eq!(
        mails[1].header("Subject").as_deref(),
        Some("Harbour: 1 new message")
    );

    // The chat shows the mark; only staff may set it.
    let admin = s.app.staff_browser(&s.admin.email).await;
    let (_, page) = admin.page(&format!("/app/messages/{}", s.chat.id)).await;
    assert_eq!(page.matches("data-urgent").count(), 1, "one urgent message");
    assert!(page.contains("name=\"urgent\""), "the composer offers it");
    let refused = s
        .app
        .app
        .send_message(
            Actor::Contact(&s.hannah),
            s.chat.id,
            &SendInput {
                body: "Me too".into(),
                key: uuid::Uuid::now_v7().to_string(),
                urgent: true,
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(refused, Err(portico::app::AppError::Forbidden)));
    let hannah = signed_in(&s.app, &s.hannah.email).await;
    let (_, page) = hannah
        .page(&format!("/portal/messages/{}", s.chat.id))
        .await;
    assert!(page.contains("data-urgent"), "the contact sees the mark");
    assert!(!page.contains("name=\"urgent\""), "but cannot set it");
}

#[tokio::test]
async fn an_urgent_question_or_follow_up_reaches_the_contact_in_her_quiet_hours() {
    let s = story().await;
    quiet_now(&s.app, s.practice, Member::Contact(s.hannah.id)).await;
    let asked = s
        .app
        .app
        .ask_questions(
            &s.admin,
            s.client.id,
            &[QuestionInput {
                title: "Plain question".into(),
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    s.later(121);
    assert_eq!(s.notify().await, 0, "a plain question waits");
    s.app
        .app
        .follow_up_question(&s.admin, asked[0].id, "We need it today.", &[], true)
        .await
        .unwrap();
    s.later(121);
    assert_eq!(s.notify().await, 1, "the urgent follow-up goes now");
    let mails = s.hannahs_mail().await;
    assert_eq!(mails.len(), 1);
    let body = text(&mails[0]);
    assert!(
        body.contains("URGENT: Northwind Bakery - Plain question"),
        "{body}"
    );
    // Everything waiting went in that one e-mail: nothing later.
    s.later(65 * 60);
    assert_eq!(s.notify().await, 0);

    // Through the page: the ask form's box.
    let admin = s.app.staff_browser(&s.admin.email).await;
    let response = admin
        .post_form(
            &format!("/app/clients/{}/questions", s.client.id),
            &[("title", "Sign the return tonight"), ("urgent", "on")],
        )
        .await;
    assert_eq!(response.status(), 303);
    quiet_now(&s.app, s.practice, Member::Contact(s.hannah.id)).await;
    s.later(121);
    assert_eq!(s.notify().await, 1);
    let mails = s.hannahs_mail().await;
    assert_eq!(
        mails[1].header("Subject").as_deref(),
        Some("Harbour: urgent: 1 update on your questions")
    );
}

#[tokio::test]
async fn staff_who_look_after_the_client_but_are_not_in_the_chat_are_emailed_as_they_chose() {
    let s = story().await;
    // Dave works at the practice but does not look after the client.
    let (carol, dave) = s.carol_and_dave().await;

    // Each time (the default): one e-mail after the window, with a link
    // that opens the chat from her alert.
    s.hannah_says("Can someone call me?").await;
    s.hannah_says("It is about the VAT return.").await;
    s.later(121);
    assert_eq!(s.notify().await, 2, "the admin in the chat, and Carol");
    let mails = s.mail_of(&carol.email).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("Harbour: 2 new messages")
    );
    let body = text(&mails[0]);
    assert!(body.contains("2 new messages from hannah"), "{body}");
    let link = format!("{PUBLIC}/app/alerts/chat/{}", s.chat.id);
    assert!(body.contains(&link), "{body}");
    assert!(!body.contains("VAT"), "no text without S5");
    assert!(s.mail_of(&dave.email).await.is_empty(), "not Dave's client");
    let browser = s.app.staff_browser(&carol.email).await;
    let (status, page) = browser.page(link.trim_start_matches(PUBLIC)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Join the chat"));
    s.later(600);
    assert_eq!(s.notify().await, 0, "told once");

    // Read in the app within the window: not e-mailed.
    s.hannah_says("Are you there?").await;
    browser.post_form("/app/alerts/read", &[]).await;
    s.later(121);
    s.notify().await;
    assert_eq!(s.mail_of(&carol.email).await.len(), 1);

    // A daily digest at the time she chose, in her time zone.
    let mut minute = utc_minute(&s.app);
    if minute > 22 * 60 {
        // Keep the digest time on the same day as the message.
        s.later(u64::try_from(1440 - minute + 60).unwrap() * 60);
        minute = utc_minute(&s.app);
    }
    s.app
        .app
        .set_my_notify_prefs(
            s.practice,
            Member::Staff(carol.id),
            NotifyPrefs {
                staff_mode: portico::store::StaffMode::Daily,
                digest_minute: minute + 30,
                time_zone: Some("UTC".into()),
                ..NotifyPrefs::default()
            },
        )
        .await
        .unwrap();
    s.hannah_says("One more thing.").await;
    s.later(121);
    s.notify().await;
    assert_eq!(
        s.mail_of(&carol.email).await.len(),
        1,
        "not before the digest"
    );
    s.later(30 * 60);
    s.notify().await;
    let mails = s.mail_of(&carol.email).await;
    assert_eq!(mails.len(), 2, "the digest");
    assert!(text(&mails[1]).contains("1 new message from hannah"));

    // Never: nothing more by e-mail, the alert stays in the app.
    s.app
        .app
        .set_my_notify_prefs(
            s.practice,
            Member::Staff(carol.id),
            NotifyPrefs {
                staff_mode: portico::store::StaffMode::Never,
                ..NotifyPrefs::default()
            },
        )
        .await
        .unwrap();
    s.hannah_says("Last one.").await;
    s.later(24 * 3600);
    s.notify().await;
    assert_eq!(s.mail_of(&carol.email).await.len(), 2);
    assert_eq!(s.app.app.staff_alert_count(&carol).await.unwrap(), 1);
}

#[tokio::test]
async fn a_status_update_is_told_to_the_contacts_who_are_not_in_the_chat() {
    let s = story().await;
    let tom = contact(&s.app, s.practice, "tom@northwind.example", None, &s.client).await;
    // A contact of another client hears nothing of it.
    let other = s.app.with_client(s.practice, "Bluegum Landscaping").await;
    let zoe = contact(&s.app, s.practice, "zoe@bluegum.example", None, &other).await;
    s.staff_sends(SendInput {
        body: "Your accounts are filed.".into(),
        key: uuid::Uuid::now_v7().to_string(),
        set_status: true,
        ..Default::default()
    })
    .await;
    s.later(121);
    assert_eq!(
        s.notify().await,
        2,
        "Hannah of the message, Tom of the status"
    );
    let hannahs = s.hannahs_mail().await;
    assert_eq!(hannahs.len(), 1);
    assert_eq!(
        hannahs[0].header("Subject").as_deref(),
        Some("Harbour: 1 new message")
    );
    let toms = s.mail_of(&tom.email).await;
    assert_eq!(toms.len(), 1);
    assert_eq!(
        toms[0].header("Subject").as_deref(),
        Some("Harbour: 1 status update")
    );
    let body = text(&toms[0]);
    assert!(body.contains("Harbour Admin updated the status"), "{body}");
    assert!(
        body.contains(&format!("?next=/portal/clients/{}", s.client.id)),
        "{body}"
    );
    assert!(!body.contains("filed"), "no text without S5");
    assert!(s.mail_of(&zoe.email).await.is_empty());

    // Seen on the portal within the window: not told.
    s.staff_sends(SendInput {
        body: "Your refund is on its way.".into(),
        key: uuid::Uuid::now_v7().to_string(),
        set_status: true,
        ..Default::default()
    })
    .await;
    let browser = signed_in(&s.app, &tom.email).await;
    let (status, page) = browser
        .page(&format!("/portal/clients/{}", s.client.id))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Your refund is on its way."));
    s.later(121);
    s.notify().await;
    assert_eq!(s.mail_of(&tom.email).await.len(), 1);
}

#[tokio::test]
async fn a_file_shared_in_a_chat_or_a_follow_up_is_named_in_the_email() {
    let s = story().await;
    let admin = s.app.staff_browser(&s.admin.email).await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", admin.csrf().await)
        .text("key", "file-1")
        .text("body", "")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"%PDF-1.7\n%%EOF\n".to_vec())
                .file_name("engagement-letter.pdf"),
        );
    let response = admin
        .client
        .post(admin.url(&format!("/app/messages/{}/files", s.chat.id)))
        .header("origin", &admin.origin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    s.later(121);
    assert_eq!(s.notify().await, 1);
    let body = text(&s.hannahs_mail().await[0]);
    assert!(
        body.contains("1 new message from Harbour Admin, with 1 file"),
        "{body}"
    );
    assert!(!body.contains("engagement-letter"), "no names without S5");
}

#[tokio::test]
async fn a_follow_up_and_a_reassignment_are_told_to_the_contact_who_has_the_question() {
    let s = story().await;
    let tom = contact(&s.app, s.practice, "tom@northwind.example", None, &s.client).await;
    s.app
        .store()
        .set_assignable_questions(s.practice, s.client.id, true)
        .await
        .unwrap();
    let asked = s
        .app
        .app
        .ask_questions(
            &s.admin,
            s.client.id,
            &[QuestionInput {
                title: "Which bank do you use?".into(),
                assignee: Some(s.hannah.id),
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    s.later(121);
    assert_eq!(s.notify().await, 1);
    assert_eq!(s.hannahs_mail().await.len(), 1, "the question");
    s.app
        .app
        .follow_up_question(&s.admin, asked[0].id, "And the account number?", &[], false)
        .await
        .unwrap();
    s.later(121);
    assert_eq!(s.notify().await, 1);
    let hannahs = s.hannahs_mail().await;
    assert_eq!(hannahs.len(), 2);
    assert!(
        text(&hannahs[1]).contains("Harbour Admin followed up"),
        "{}",
        text(&hannahs[1])
    );

    s.app
        .app
        .reassign_question(&s.admin, asked[0].id, Some(tom.id), "Tom knows this one.")
        .await
        .unwrap();
    s.later(121);
    assert_eq!(s.notify().await, 1, "only the new assignee");
    let toms = s.mail_of(&tom.email).await;
    assert_eq!(toms.len(), 1);
    let body = text(&toms[0]);
    assert!(
        body.contains("Harbour Admin passed the question to you"),
        "{body}"
    );
    assert!(body.contains("Which bank do you use?"), "{body}");
    assert_eq!(s.hannahs_mail().await.len(), 2, "nothing more for Hannah");
}

#[tokio::test]
async fn each_person_chooses_the_text_in_their_emails_over_the_practice_default() {
    let s = story().await;
    let tom = contact(&s.app, s.practice, "tom@northwind.example", None, &s.client).await;
    let tom_chat = s
        .app
        .app
        .open_direct_chat(&s.admin, s.client.id, tom.id)
        .await
        .unwrap();
    let to_tom = |body: &'static str| {
        let app = s.app.app.clone();
        let admin = s.admin.clone();
        async move {
            app.send_message(
                Actor::Staff(&admin),
                tom_chat.id,
                &SendInput {
                    body: body.into(),
                    key: uuid::Uuid::now_v7().to_string(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
    };

    // Hannah asks for the text although the practice leaves it out.
    let hannah = signed_in(&s.app, &s.hannah.email).await;
    let (status, page) = hannah.page("/portal/account/notifications").await;
    assert_eq!(status, 200);
    assert!(page.contains("E-mail is not a secure channel"), "{page}");
    assert!(page.contains("As Harbour decides (now: the text is not included)"));
    let response = hannah
        .post_form(
            "/portal/account/notifications",
            &[
                ("messages", "both"),
                ("questions", "both"),
                ("content", "include"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    s.staff_says("Balance due: 4321").await;
    to_tom("Balance due: 8765").await;
    s.later(121);
    assert_eq!(s.notify().await, 2);
    assert!(text(&s.hannahs_mail().await[0]).contains("Balance due: 4321"));
    assert!(!text(&s.mail_of(&tom.email).await[0]).contains("8765"));

    // The practice includes it; Hannah now declines it, Tom keeps the default.
    let admin = s.app.staff_browser(&s.admin.email).await;
    admin
        .post_form(
            "/app/settings/notifications",
            &[("content_to_contacts", "on")],
        )
        .await;
    hannah
        .post_form(
            "/portal/account/notifications",
            &[
                ("messages", "both"),
                ("questions", "both"),
                ("content", "exclude"),
            ],
        )
        .await;
    s.staff_says("Balance due: 1111").await;
    to_tom("Balance due: 2222").await;
    s.later(121);
    assert_eq!(s.notify().await, 2);
    assert!(!text(&s.hannahs_mail().await[1]).contains("1111"));
    assert!(text(&s.mail_of(&tom.email).await[1]).contains("2222"));

    // A bad choice is refused with the form kept; staff have the choice too.
    let response = hannah
        .post_form(
            "/portal/account/notifications",
            &[
                ("messages", "both"),
                ("questions", "both"),
                ("content", "all"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let (status, page) = admin.page("/app/account/notifications").await;
    assert_eq!(status, 200);
    assert!(page.contains("E-mail is not a secure channel"));
    assert!(page.contains("name=\"content\" value=\"include\""));
}

#[tokio::test]
async fn notification_emails_carry_their_practices_logo_and_colour() {
    let s = story().await;
    s.app
        .app
        .set_accent_colour(&s.admin, "#7a1f5c", &crate::harness::origin())
        .await
        .unwrap();
    s.app
        .app
        .set_logo(&s.admin, PNG, &crate::harness::origin())
        .await
        .unwrap();
    // Another practice, unbranded, told in the same run.
    let (other, other_admin) = s.app.with_practice("Bluegum").await;
    let client = s.app.with_client(other.id, "Okafor Household").await;
    let chidi = contact(&s.app, other.id, "chidi@okafor.example", None, &client).await;
    let chat = s
        .app
        .app
        .open_direct_chat(&other_admin, client.id, chidi.id)
        .await
        .unwrap();
    s.app
        .app
        .send_message(
            Actor::Staff(&other_admin),
            chat.id,
            &SendInput {
                body: "Hello".into(),
                key: uuid::Uuid::now_v7().to_string(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.staff_says("Hello").await;
    s.later(121);
    assert_eq!(s.notify().await, 2);
    let branded = text(&s.hannahs_mail().await[0]);
    assert!(
        branded.contains(&format!("{PUBLIC}/brand/{}/logo?v=", s.practice)),
        "{branded}"
    );
    assert!(branded.contains("background:#7a1f5c"), "{branded}");
    let plain = text(&s.mail_of(&chidi.email).await[0]);
    assert!(!plain.contains("/logo?v="), "{plain}");
    assert!(!plain.contains("#7a1f5c"));
    assert!(plain.contains("background:#1f5f8b"), "{plain}");
}

/// The smallest PNG: one transparent pixel.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// N2: a chat with more unread than a run reads of it (the newest 20) is
/// told of whole: every message counted, an urgent one among the oldest
/// still urgent, the newest quoted, and all of them marked told.
#[tokio::test]
async fn a_chat_with_many_unread_messages_is_counted_whole_and_quoted_from_its_newest() {
    let s = story().await;
    s.include_text_for_contacts().await;
    s.staff_says_urgently("Message 1, please ring us").await;
    for n in 2..=30 {
        s.staff_says(&format!("Message {n}")).await;
    }
    s.later(121);
    assert_eq!(s.notify().await, 1);
    let mails = s.hannahs_mail().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("Harbour: urgent: 30 new messages")
    );
    let body = text(&mails[0]);
    assert!(body.contains("30 new messages from"), "{body}");
    for quoted in 26..=30 {
        assert!(body.contains(&format!("Message {quoted}")), "{body}");
    }
    assert!(
        !body.contains("Message 25"),
        "five lines are quoted: {body}"
    );
    s.later(300);
    assert_eq!(s.notify().await, 0, "every message was marked told");
}

/// N2: a notification run reads a page of people; a page that fills ends
/// before its last person (who may be cut short), and the next run reads
/// on from there, so that nobody waits behind those with the most unread.
#[tokio::test]
async fn a_full_page_of_waiting_people_ends_before_the_last_and_the_next_run_reads_on() {
    let s = story().await;
    let mut everyone = Vec::new();
    for name in ["ada", "ben", "cy"] {
        let email = format!("{name}@northwind.example");
        let person = contact(&s.app, s.practice, &email, None, &s.client).await;
        let chat = s
            .app
            .app
            .open_direct_chat(&s.admin, s.client.id, person.id)
            .await
            .unwrap();
        for n in 1..=2 {
            say_as(
                &s.app,
                Actor::Staff(&s.admin),
                chat.id,
                &format!("For {name}, {n}"),
            )
            .await;
        }
        everyone.push(Member::Contact(person.id));
    }
    let page = |after: Option<PendingKey>, limit: i64| {
        let store = s.app.store().clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            tx.pending(Millis(0), after.as_ref(), limit).await.unwrap()
        }
    };
    let people = |page: &PendingPage| {
        let mut seen: Vec<(Member, usize)> = Vec::new();
        for m in &page.messages {
            match seen.last_mut() {
                Some((member, n)) if *member == m.recipient.member => *n += 1,
                _ => seen.push((m.recipient.member, 1)),
            }
        }
        seen
    };

    // Three rows a page: the first person whole, the second (cut short)
    // left for the next page.
    let mut told = Vec::new();
    let mut after = None;
    for _ in 0..3 {
        let one = page(after.clone(), 3).await;
        let seen = people(&one);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].1, 2, "a person is read whole");
        told.push(seen[0].0);
        after = one.resume_after;
    }
    assert_eq!(
        after, None,
        "the last page was not full: the next starts over"
    );
    told.sort_by_key(|m| m.id());
    everyone.sort_by_key(|m| m.id());
    assert_eq!(told, everyone);

    // A person who alone fills a page is read in part, and the next page
    // begins after her.
    let one = page(None, 1).await;
    assert_eq!(people(&one).len(), 1);
    let first = one.resume_after.clone().expect("a full page");
    let next = page(Some(first), 100).await;
    assert_eq!(people(&next).len(), 2, "the two others");
    assert_eq!(next.resume_after, None);
}

/// N2: only a chat's newest 1,000 messages are counted for a person: one
/// with more unread is told of "more than 1000", and all are marked told.
#[tokio::test]
async fn more_unread_than_are_counted_is_told_as_more_than_the_count() {
    let s = story().await;
    for n in 1..=1005 {
        s.staff_says(&format!("Update {n}")).await;
        // Under the send limit per minute.
        s.app.clock.advance(Duration::from_millis(1500));
    }
    s.later(121);
    assert_eq!(s.notify().await, 1);
    let mails = s.hannahs_mail().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("Harbour: more than 1000 new messages")
    );
    s.later(300);
    assert_eq!(s.notify().await, 0, "every message was marked told");

    // Tom, added after all of them, is told of what came since he joined:
    // its number, not "more than".
    let tom = contact(&s.app, s.practice, "tom@northwind.example", None, &s.client).await;
    s.app
        .app
        .add_to_chat(&s.admin, s.chat.id, &[], &[tom.id])
        .await
        .unwrap();
    s.later(1);
    s.staff_says("Welcome, Tom").await;
    s.later(121);
    assert_eq!(s.notify().await, 2, "Tom, and Hannah of the new message");
    let toms = s.mail_of(&tom.email).await;
    assert_eq!(toms.len(), 1);
    let subject = toms[0].header("Subject").unwrap_or_default();
    assert!(subject.contains("new message"), "{subject}");
    assert!(!subject.contains("more than"), "{subject}");
}
