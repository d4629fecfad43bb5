//! The worlds most stories start from, each built in one line: a practice
//! with its admin signed in ([`World`]), and the admin's direct chat with a
//! client's contact ([`Chatting`]).
//!
//! ```ignore
//! let app = TestApp::spawn().await;
//! let w = World::new(&app).await;
//! let bakery = w.client("Northwind Bakery").await;
//! let hannah = w.contact("hannah@northwind.example", &[&bakery]).await;
//! let chat = w.chat(&bakery, &hannah).await;
//! ```

use super::{Browser, TestApp, active, location, signed_in};
use portico::app::chats::SendInput;
use portico::app::questions::{Actor, QuestionInput};
use portico::domain::{ChatId, PracticeId, QuestionId, Role};
use portico::store::{Client, Contact, Message, Practice, Staff};

/// A practice (Harbour, unless named) whose admin is signed in.
pub struct World<'a> {
    pub app: &'a TestApp,
    pub practice: Practice,
    /// The practice's admin ("Harbour Admin", `admin@harbour.example`).
    pub admin: Staff,
    /// The admin's browser, signed in.
    pub staff: Browser,
}

impl<'a> World<'a> {
    /// The practice Harbour.
    pub async fn new(app: &'a TestApp) -> Self {
        Self::named(app, "Harbour").await
    }

    /// A practice of another name (a rival, in stories about borders).
    pub async fn named(app: &'a TestApp, name: &str) -> Self {
        let (practice, admin) = app.with_practice(name).await;
        let staff = app.staff_browser(&admin.email).await;
        Self {
            app,
            practice,
            admin,
            staff,
        }
    }

    pub fn id(&self) -> PracticeId {
        self.practice.id
    }

    /// A client (a business) of the practice.
    pub async fn client(&self, name: &str) -> Client {
        self.app.with_client(self.id(), name).await
    }

    /// A contact of `clients` who has activated her account (A4).
    pub async fn contact(&self, email: &str, clients: &[&Client]) -> Contact {
        active(self.app, self.id(), email, clients).await
    }

    /// A contact of `clients` who was invited and has not activated yet.
    pub async fn invited(&self, email: &str, clients: &[&Client]) -> Contact {
        self.app.with_contact(self.id(), email, clients).await
    }

    /// A staff user of the practice, with her browser signed in.
    pub async fn member(&self, email: &str, role: Role) -> (Staff, Browser) {
        let staff = self.app.with_staff(self.id(), email, role).await;
        let browser = self.app.staff_browser(&staff.email).await;
        (staff, browser)
    }

    /// A browser signed in to the portal as `contact` (A2).
    pub async fn portal(&self, contact: &Contact) -> Browser {
        signed_in(self.app, &contact.email).await
    }

    /// The admin's direct chat with `contact` about `client`, opened as the
    /// client's Contacts tab does (M15).
    pub async fn chat(&self, client: &Client, contact: &Contact) -> Chat {
        Chat::open(&self.staff, client, contact).await
    }

    /// A question the admin asks of `client` (Q1), for everyone of it.
    pub async fn ask(&self, client: &Client, title: &str) -> QuestionId {
        ask(self.app, &self.admin, client, title).await
    }
}

/// A question `staff` asks of `client` (Q1), for everyone of it.
pub async fn ask(app: &TestApp, staff: &Staff, client: &Client, title: &str) -> QuestionId {
    let input = QuestionInput {
        title: title.into(),
        ..Default::default()
    };
    ask_with(app, staff, client, input).await
}

/// A question `staff` asks of `client`, as `input` says.
pub async fn ask_with(
    app: &TestApp,
    staff: &Staff,
    client: &Client,
    input: QuestionInput,
) -> QuestionId {
    app.app
        .ask_questions(staff, client.id, &[input])
        .await
        .expect("ask a question")
        .remove(0)
        .id
}

/// A chat's id and its two addresses.
#[derive(Clone, Debug)]
pub struct Chat {
    pub id: ChatId,
    /// `/app/messages/ID`, where staff read it.
    pub staff_path: String,
    /// `/portal/messages/ID`, where contacts read it.
    pub portal_path: String,
}

impl Chat {
    /// The direct chat of the staff user behind `staff` with `contact` about
    /// `client`, opened (or found again) from the client's Contacts tab.
    pub async fn open(staff: &Browser, client: &Client, contact: &Contact) -> Self {
        let response = staff
            .post_form(
                &format!("/app/clients/{}/chat", client.id),
                &[("contact", &contact.id.to_string())],
            )
            .await;
        Self::at(&location(&response))
    }

    /// The chat whose staff address is `staff_path`.
    pub fn at(staff_path: &str) -> Self {
        let id = staff_path
            .strip_prefix("/app/messages/")
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("a chat's address: {staff_path:?}"));
        Self {
            id,
            staff_path: staff_path.to_owned(),
            portal_path: format!("/portal/messages/{id}"),
        }
    }
}

/// Harbour's admin and Hannah of Northwind Bakery in their direct chat, both
/// signed in.
pub struct Chatting<'a> {
    pub world: World<'a>,
    /// Hannah's browser, signed in to the portal.
    pub hannah_browser: Browser,
    pub chat: Chat,
}

impl<'a> Chatting<'a> {
    /// The chat, with nothing in it yet.
    pub async fn new(app: &'a TestApp) -> Self {
        let world = World::new(app).await;
        let bakery = world.client("Northwind Bakery").await;
        let hannah = world.contact("hannah@northwind.example", &[&bakery]).await;
        let chat = world.chat(&bakery, &hannah).await;
        let hannah_browser = world.portal(&hannah).await;
        Self {
            world,
            hannah_browser,
            chat,
        }
    }

    /// The chat after one message each: the admin's "Your return is
    /// ready." (1) and Hannah's "Great, thank you!" (2).
    pub async fn started(app: &'a TestApp) -> Self {
        let chatting = Self::new(app).await;
        let sent = chatting
            .world
            .staff
            .say(&chatting.chat.staff_path, "Your return is ready.", "s1")
            .await;
        assert_eq!(sent.status(), 303, "the admin's first message");
        let sent = chatting
            .hannah_browser
            .say(&chatting.chat.portal_path, "Great, thank you!", "h1")
            .await;
        assert_eq!(sent.status(), 303, "Hannah's answer");
        chatting
    }

    /// The admin's browser.
    pub fn staff(&self) -> &Browser {
        &self.world.staff
    }
}

/// Sends `body` into `chat` as `actor` through the use case (not over
/// HTTP, so not throttled), with a key of its own.
pub async fn say_as(app: &TestApp, actor: Actor<'_>, chat: ChatId, body: &str) -> Message {
    app.app
        .send_message(
            actor,
            chat,
            &SendInput {
                body: body.into(),
                key: uuid::Uuid::now_v7().to_string(),
                ..Default::default()
            },
        )
        .await
        .expect("send a message")
}

/// Writes `count` messages from `staff` into `chat` ("`word` 0", "`word`
/// 1" …), a batch at a time through the group commit: enough for M4's
/// counting (a chat counts its newest thousand) without a thousand commits.
pub async fn many_messages_from(
    app: &TestApp,
    staff: &Staff,
    chat: ChatId,
    count: usize,
    word: &str,
) {
    use portico::store::Member;
    use portico::store::group_commit::NewMessage;
    let hold = app.app.sends.hold().await;
    let sends: Vec<_> = (0..count)
        .map(|i| {
            let (sends, now) = (app.app.sends.clone(), app.clock.now());
            let message = NewMessage {
                practice: staff.practice_id,
                chat,
                sender: Member::Staff(staff.id),
                sender_name: staff.name.clone(),
                body: format!("{word} {i}"),
                reply_to: None,
                key: format!("{}-{i}", word.to_lowercase()),
                now,
                files: Vec::new(),
                status_of: None,
                automatic: false,
                audit: Vec::new(),
                urgent: false,
            };
            tokio::spawn(async move { sends.append(message).await })
        })
        .collect();
    while app.app.sends.queued() < count {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(hold);
    for send in sends {
        send.await.expect("a send").expect("stored");
    }
}
