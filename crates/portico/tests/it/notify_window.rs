//! One notification window for many people (N2, X7): everyone with
//! something unread is told exactly once, however many instances run the
//! window at the same moment, and one in quiet hours or who chose no
//! e-mail nor text is not. On SQLite and (with
//! `PORTICO_TEST_BACKEND=postgres`) PostgreSQL.

use crate::harness::{TestApp, active_with_phone, location, say_as};
use portico::app::questions::Actor;
use portico::config::ConfigArgs;
use portico::domain::{ChatId, PracticeId};
use portico::store::{Contact, Member, NotifyChannel, NotifyPrefs};
use std::time::Duration;

const PUBLIC: &str = "http://portal.example.com";

/// Contacts in the window, each in a chat of her own with a message she
/// has not read.
const PEOPLE: usize = 200;

struct Crowd {
    app: TestApp,
    practice: PracticeId,
    contacts: Vec<Contact>,
    /// Each contact's chat, in the same order.
    chats: Vec<ChatId>,
}

async fn crowd() -> Crowd {
    let app = TestApp::spawn_with(ConfigArgs {
        public_url: Some(PUBLIC.into()),
        notify_delay_secs: Some(120),
        // One staff user writes to everyone in a moment.
        send_limit_per_minute: Some(10_000),
        ..Default::default()
    })
    .await;
    let (practice, admin) = app.with_practice("Harbour").await;
    let client = app.with_client(practice.id, "Northwind Bakery").await;
    let mut contacts = Vec::with_capacity(PEOPLE);
    let mut chats = Vec::with_capacity(PEOPLE);
    for n in 0..PEOPLE {
        let contact = active_with_phone(
            &app,
            practice.id,
            &format!("person{n}@northwind.example"),
            None,
            &client,
        )
        .await;
        let chat = app
            .app
            .open_direct_chat(&admin, client.id, contact.id)
            .await
            .unwrap();
        say_as(
            &app,
            Actor::Staff(&admin),
            chat.id,
            "Your documents are ready",
        )
        .await;
        contacts.push(contact);
        chats.push(chat.id);
    }
    Crowd {
        app,
        practice: practice.id,
        contacts,
        chats,
    }
}

impl Crowd {
    /// The notification e-mails and texts queued for `contact`.
    async fn told(&self, contact: &Contact) -> usize {
        self.app
            .store()
            .outbox_for(&contact.email)
            .await
            .unwrap()
            .into_iter()
            .filter(|item| item.idempotency_key.starts_with("notify-"))
            .count()
    }

    async fn prefer(&self, contact: &Contact, prefs: NotifyPrefs) {
        self.app
            .app
            .set_my_notify_prefs(self.practice, Member::Contact(contact.id), prefs)
            .await
            .unwrap();
    }
}

/// The minute of the day now on the test's clock, in UTC.
fn utc_minute(app: &TestApp) -> i64 {
    let at = app
        .clock
        .now()
        .to_timestamp()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC);
    i64::from(at.hour()) * 60 + i64::from(at.minute())
}

#[tokio::test]
async fn everyone_with_something_unread_is_told_once_in_one_window_by_instances_running_at_once() {
    let c = crowd().await;
    // One in quiet hours (UTC, from ten minutes ago to an hour from now),
    // one who chose neither e-mail nor text for messages.
    let minute = utc_minute(&c.app);
    let quiet = &c.contacts[0];
    c.prefer(
        quiet,
        NotifyPrefs {
            quiet: Some(((minute + 1440 - 10) % 1440, (minute + 60) % 1440)),
            time_zone: Some("UTC".into()),
            ..NotifyPrefs::default()
        },
    )
    .await;
    let unsubscribed = &c.contacts[1];
    c.prefer(
        unsubscribed,
        NotifyPrefs {
            messages: NotifyChannel::None,
            ..NotifyPrefs::default()
        },
    )
    .await;

    assert_eq!(
        c.app.app.run_notifications().await.unwrap(),
        0,
        "nothing before the window has passed"
    );
    c.app.clock.advance(Duration::from_secs(121));
    let other = c.app.another_instance().await;
    let third = c.app.another_instance().await;
    let (a, b, d) = tokio::join!(
        c.app.app.run_notifications(),
        other.run_notifications(),
        third.run_notifications()
    );
    assert_eq!(
        a.unwrap() + b.unwrap() + d.unwrap(),
        PEOPLE - 2,
        "everyone told once, between the instances"
    );
    let (a, b) = tokio::join!(c.app.app.run_notifications(), other.run_notifications());
    assert_eq!(a.unwrap() + b.unwrap(), 0, "nobody twice");

    assert_eq!(c.told(quiet).await, 0, "quiet hours hold hers");
    assert_eq!(c.told(unsubscribed).await, 0, "she chose no e-mail");
    for contact in &c.contacts[2..] {
        assert_eq!(c.told(contact).await, 1, "{} told once", contact.email);
    }

    // A later window tells nobody again; the one in quiet hours hears
    // when they end.
    c.app.clock.advance(Duration::from_secs(3600));
    let (a, b) = tokio::join!(c.app.app.run_notifications(), other.run_notifications());
    assert_eq!(
        a.unwrap() + b.unwrap(),
        1,
        "only the one whose quiet hours ended"
    );
    assert_eq!(c.told(quiet).await, 1);
    assert_eq!(c.told(unsubscribed).await, 0);
    for contact in &c.contacts[2..] {
        assert_eq!(c.told(contact).await, 1, "{} still once", contact.email);
    }
}

#[tokio::test]
async fn each_email_of_a_window_lands_its_reader_signed_in_on_her_own_chat() {
    let c = crowd().await;
    c.app.clock.advance(Duration::from_secs(121));
    assert_eq!(c.app.app.run_notifications().await.unwrap(), PEOPLE);
    for n in [0, PEOPLE / 2, PEOPLE - 1] {
        let (contact, chat) = (&c.contacts[n], c.chats[n]);
        let queued = c.app.store().outbox_for(&contact.email).await.unwrap();
        let [mail] = queued.as_slice() else {
            panic!("one e-mail for {}", contact.email);
        };
        assert_eq!(mail.subject, "Harbour: 1 new message");
        assert!(mail.list_unsubscribe.is_some());
        // Its link lands her, signed in, on her own chat.
        let next = format!("?next=/portal/messages/{chat}");
        let link = mail
            .body_text
            .split_whitespace()
            .find(|w| w.starts_with(&format!("{PUBLIC}/portal/link/")) && w.ends_with(&next))
            .expect("a link to her chat")
            .trim_start_matches(PUBLIC)
            .to_owned();
        let browser = c.app.browser();
        let (status, _) = browser.page(&link).await;
        assert_eq!(status, 200);
        let response = browser.post_form(&link, &[]).await;
        assert_eq!(location(&response), format!("/portal/messages/{chat}"));
        let (status, page) = browser.page(&format!("/portal/messages/{chat}")).await;
        assert_eq!(status, 200);
        assert!(page.contains("Your documents are ready"));
    }
}
