//! Chats (M1, M4, M8, M14, M15): direct chats between a staff user and a
//! client's contact, messages sent once (idempotency key), read receipts
//! for staff, and live events for the members.

use super::questions::Actor;
use super::sessions::ClientInfo;
use super::spans::person;
use super::{App, AppError, AppResult, policy};
use crate::delivery::live::LiveEvent;
use crate::domain::{ChatId, ClientId, ContactId, PracticeId, StaffId, ValidationError};
use crate::local_time::Viewer;
use crate::store::group_commit::NewMessage;
use crate::store::{
    AuditKind, Chat, ChatSummary, ContactStatus, Member, MemberState, Message, NewAudit, Staff,
};
use tracing::instrument;

/// The longest message.
pub const MAX_MESSAGE_CHARS: usize = 5_000;
/// How many messages a chat page shows.
pub const PAGE: i64 = 50;

/// What a member sends.
#[derive(Clone, Debug, Default)]
pub struct SendInput {
    pub body: String,
    pub reply_to: Option<i64>,
    /// The sender's idempotency key: a retry with the same key is one message.
    pub key: String,
    pub files: Vec<crate::files::StoredFile>,
    /// M16 (staff): make this message the client's current status.
    pub set_status: bool,
    /// X7 (staff): urgent: it reaches people in their quiet hours.
    pub urgent: bool,
}

/// A chat as its page shows it.
#[derive(Clone, Debug)]
pub struct ChatView {
    pub chat: Chat,
    pub messages: Vec<Message>,
    pub reactions: Vec<crate::store::Reaction>,
    pub files: Vec<crate::store::FileMeta>,
    pub pinned: Vec<Message>,
    /// The member looking (for "your reaction", "delete your message").
    pub me: Member,
    pub members: Vec<MemberState>,
    /// The highest message the contacts of the chat have read (M8): shown
    /// to staff only.
    pub read_by_client: Option<i64>,
    /// Originals quoted by the messages shown that are not among them.
    pub quotes: Vec<Message>,
    /// When the page was made (for "Today" and "Yesterday").
    pub now: crate::domain::Millis,
    /// The members' names (receipts, titles).
    pub names: Vec<(Member, String)>,
    /// "Olivia added Tom" lines among the messages shown.
    pub events: Vec<crate::store::ChatEvent>,
    /// Every file shared in the chat, for the Files panel (full pages only).
    pub all_files: Vec<crate::store::FileMeta>,
    /// The chat's title as the reader sees it.
    pub title: String,
    /// X11: messages that came as replies by e-mail (staff only: they may
    /// read the whole e-mail).
    pub by_email: Vec<i64>,
}

impl ChatView {
    /// "👍 2" lines for one message, and whether each includes the viewer.
    pub fn reactions_of(&self, seq: &i64) -> Vec<(String, usize, bool)> {
        let mut out: Vec<(String, usize, bool)> = Vec::new();
        for r in self.reactions.iter().filter(|r| r.seq == *seq) {
            let mine = r.member == self.me;
            match out.iter_mut().find(|(e, _, _)| *e == r.emoji) {
                Some(entry) => {
                    entry.1 += 1;
                    entry.2 |= mine;
                }
                None => out.push((r.emoji.clone(), 1, mine)),
            }
        }
        out
    }

    /// The quoted original of a reply (M11), if it is on this page.
    pub fn quoted(&self, seq: &Option<i64>) -> Option<&Message> {
        let seq = (*seq)?;
        self.messages
            .iter()
            .chain(&self.quotes)
            .find(|m| m.seq == seq)
    }

    /// M9: the files sent with a message.
    pub fn files_of(&self, seq: &i64) -> Vec<&crate::store::FileMeta> {
        self.files
            .iter()
            .filter(|f| f.message_seq == Some(*seq))
            .collect()
    }

    /// X11: whether a message came by e-mail (its whole e-mail is offered).
    pub fn came_by_email(&self, seq: &i64) -> bool {
        self.by_email.contains(seq)
    }

    pub fn is_mine(&self, message: &Message) -> bool {
        message.sender == self.me
    }

    pub fn reactions_offered(&self) -> &'static [&'static str] {
        REACTIONS
    }

    /// The first message shown, when there are earlier ones to page back to.
    pub fn earlier(&self) -> Option<i64> {
        self.messages.first().map(|m| m.seq).filter(|seq| *seq > 1)
    }

    /// M8, for staff: whether the client has read the latest message.
    pub fn receipt(&self) -> Option<&'static str> {
        let seq = self.read_by_client?;
        Some(if self.chat.last_seq == 0 {
            return None;
        } else if seq >= self.chat.last_seq {
            "Read by the client"
        } else if seq > 0 {
            "Read up to an earlier message"
        } else {
            "Not read yet"
        })
    }
}

fn who(actor: Actor<'_>) -> (PracticeId, Member, String) {
    (actor.practice_id(), actor.member(), actor.name().to_owned())
}

impl App {
    /// M1, M15: the direct chat of a staff user and a client's contact,
    /// started if there is none. Only activated contacts can be messaged.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), client = %client, contact = %contact
    ))]
    pub async fn open_direct_chat(
        &self,
        actor: &Staff,
        client: ClientId,
        contact: ContactId,
    ) -> AppResult<Chat> {
        let client = self.store.get_client(actor.practice_id, client).await?;
        if !policy::staff_may_open_client(actor, &client) {
            return Err(AppError::NotFound);
        }
        let contact = self.store.get_contact(actor.practice_id, contact).await?;
        let reachable = self
            .store
            .portal_clients(actor.practice_id, contact.id)
            .await?;
        if !policy::contact_may_open_client(&reachable, client.id) {
            return Err(AppError::NotFound);
        }
        if contact.status != ContactStatus::Active {
            return Err(AppError::conflict(format!(
                "{} has not activated their account yet, so they cannot be messaged. Send them their invitation first.",
                contact.name
            )));
        }
        if let Some(chat) = self
            .store
            .find_direct_chat(actor.practice_id, client.id, actor.id, contact.id)
            .await?
        {
            // M6: a hidden chat comes back when opened from Contacts.
            self.store
                .set_member_flags(
                    actor.practice_id,
                    chat.id,
                    Member::Staff(actor.id),
                    Some(false),
                    None,
                )
                .await?;
            return Ok(chat);
        }
        let mut members = vec![Member::Staff(actor.id), Member::Contact(contact.id)];
        if let Some(primary) = client.primary_client_id {
            // In a family, the primary's login sees the sub-records' chats (M1, P5).
            for family in self
                .store
                .client_contacts(actor.practice_id, primary)
                .await?
            {
                if family.status == ContactStatus::Active && family.id != contact.id {
                    members.push(Member::Contact(family.id));
                }
            }
        }
        let mut tx = self.store.begin().await?;
        let chat = tx
            .create_chat(
                actor.practice_id,
                true,
                &format!("{} — {}", contact.name, client.name),
                Some(client.id),
                &members,
                self.clock.now(),
            )
            .await?;
        tx.commit().await?;
        Ok(chat)
    }

    /// M4: the actor's chats, latest message first, with unread counts.
    #[instrument(skip_all, fields(practice = %actor.practice_id(), by = %person(actor)))]
    pub async fn chats_for(&self, actor: Actor<'_>) -> AppResult<Vec<ChatSummary>> {
        let (practice, member, _) = who(actor);
        let mut chats = self.store.chats_of(practice, member).await?;
        let names = self.store.member_names_of_chats(practice, member).await?;
        super::chat_room::reader_titles(&mut chats, member, &names);
        Ok(chats)
    }

    /// A chat's newest messages; reading it marks it read, and tells the
    /// staff of the chat when a contact read it (M8).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), chat = %chat
    ))]
    pub async fn chat_view(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        before: Option<i64>,
    ) -> AppResult<ChatView> {
        self.chat_view_reading(actor, chat, before, true).await
    }

    /// P7: a chat as `actor` sees it, for staff previewing a contact's
    /// portal: nothing is marked read, no receipt or alert changes.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), chat = %chat
    ))]
    pub async fn chat_view_unread(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        before: Option<i64>,
    ) -> AppResult<ChatView> {
        self.chat_view_reading(actor, chat, before, false).await
    }

    async fn chat_view_reading(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        before: Option<i64>,
        reads: bool,
    ) -> AppResult<ChatView> {
        let (practice, member, name) = who(actor);
        let chat = self.store.chat_for_member(practice, chat, member).await?;
        let messages = match before {
            // M15: paging back through the whole history.
            Some(before) => {
                self.store
                    .messages_before(practice, chat.id, before, PAGE)
                    .await?
            }
            None => {
                self.store
                    .chat_messages(practice, chat.id, None, PAGE)
                    .await?
            }
        };
        let members = self.store.chat_members(practice, chat.id).await?;
        if reads {
            self.mark_read(practice, &chat, member, name, chat.last_seq, &members)
                .await?;
            self.chat_alert_seen(practice, member, chat.id).await;
        }
        let mut view = self
            .view_of(practice, chat, member, messages, members)
            .await?;
        // The Files panel: every file of a message still standing.
        view.all_files = self
            .store
            .standing_chat_files(practice, view.chat.id)
            .await?;
        Ok(view)
    }

    /// The messages after `seq` (at most a page), as a chat page shows them;
    /// reading them marks them read, as reading the page does (M8).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), chat = %chat, seq
    ))]
    pub async fn chat_view_after(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        seq: i64,
    ) -> AppResult<ChatView> {
        let (practice, member, name) = who(actor);
        let chat = self.store.chat_for_member(practice, chat, member).await?;
        let messages = self
            .store
            .messages_from(practice, chat.id, seq, PAGE)
            .await?;
        let members = self.store.chat_members(practice, chat.id).await?;
        // Only what was shown is read (nothing, when nothing is new).
        let read = messages.last().map_or(0, |m| m.seq);
        self.mark_read(practice, &chat, member, name, read, &members)
            .await?;
        // The originals that new replies quote (M11) are further up the page.
        let mut quotes: Vec<Message> = Vec::new();
        for original in messages.iter().filter_map(|m| m.reply_to_seq) {
            if original <= seq && !quotes.iter().any(|q| q.seq == original) {
                match self.store.get_message(practice, chat.id, original).await {
                    Ok(message) => quotes.push(message),
                    Err(crate::store::StoreError::NotFound) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
        let mut view = self
            .view_of(practice, chat, member, messages, members)
            .await?;
        view.quotes = quotes;
        Ok(view)
    }

    /// Marks `chat` read up to `seq` for `member`; staff hear when a
    /// contact read it (M8).
    async fn mark_read(
        &self,
        practice: PracticeId,
        chat: &Chat,
        member: Member,
        name: String,
        seq: i64,
        members: &[MemberState],
    ) -> AppResult<()> {
        let newly_read = self.store.mark_read(practice, chat.id, member, seq).await?;
        if newly_read && matches!(member, Member::Contact(_)) {
            self.publish_read(
                practice,
                chat.id,
                members.iter().map(|m| m.member),
                seq,
                name,
            );
        }
        Ok(())
    }

    /// Tells the chat's staff that a contact has read up to `seq` (M8).
    pub(crate) fn publish_read(
        &self,
        practice: PracticeId,
        chat: ChatId,
        members: impl IntoIterator<Item = Member>,
        seq: i64,
        reader: String,
    ) {
        self.live.publish(
            practice,
            members
                .into_iter()
                .filter(|m| matches!(m, Member::Staff(_)))
                .collect(),
            LiveEvent::Read { chat, seq, reader },
        );
    }

    /// The page's view of `messages`: their reactions, files, the pins.
    async fn view_of(
        &self,
        practice: PracticeId,
        chat: Chat,
        member: Member,
        messages: Vec<Message>,
        members: Vec<MemberState>,
    ) -> AppResult<ChatView> {
        let read_by_client = match member {
            Member::Staff(_) => members
                .iter()
                .filter(|m| matches!(m.member, Member::Contact(_)))
                .map(|m| m.last_read_seq)
                .max(),
            Member::Contact(_) => None,
        };
        let (from, to) = (
            messages.first().map_or(0, |m| m.seq),
            messages.last().map_or(0, |m| m.seq),
        );
        // The events just before the first message shown, and after each.
        let (events_from, events_to) = match messages.first() {
            Some(first) => (if first.seq <= 1 { 0 } else { first.seq }, to),
            None => (0, chat.last_seq),
        };
        // Independent reads, each on a connection of its own: the page
        // waits for the slowest, not for their sum.
        let store = &self.store;
        let (reactions, files, pinned, names, events, by_email) = tokio::try_join!(
            store.reactions(practice, chat.id, from, to),
            store.chat_files(practice, chat.id, from, to),
            store.pinned_messages(practice, chat.id),
            store.chat_member_names(practice, chat.id),
            store.chat_events(practice, chat.id, events_from, events_to),
            async {
                match member {
                    Member::Staff(_) => store.emailed_messages(practice, chat.id).await,
                    Member::Contact(_) => Ok(Vec::new()),
                }
            },
        )?;
        let title = super::chat_room::reader_title(&chat, member, &names);
        Ok(ChatView {
            chat,
            messages,
            reactions,
            files,
            pinned,
            me: member,
            members,
            read_by_client,
            quotes: Vec::new(),
            now: self.clock.now(),
            names,
            events,
            all_files: Vec::new(),
            title,
            by_email,
        })
    }

    /// Messages after `seq`, for a page catching up after a dropped socket.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), chat = %chat, seq
    ))]
    pub async fn messages_after(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        seq: i64,
    ) -> AppResult<Vec<Message>> {
        let (practice, member, _) = who(actor);
        let chat = self.store.chat_for_member(practice, chat, member).await?;
        Ok(self
            .store
            .chat_messages(practice, chat.id, Some(seq), 500)
            .await?)
    }

    /// Sends a message. The same `idempotency_key` twice (a retry after a
    /// timeout) stores and delivers it once. (Its span is
    /// [`App::send_message_from`]'s.)
    pub async fn send_message(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        input: &SendInput,
    ) -> AppResult<Message> {
        self.send_message_from(actor, chat, input, None).await
    }

    /// A send from a request: a contact's files are recorded (X2) in the
    /// send's own transaction.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), chat = %chat
    ))]
    pub async fn send_message_from(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        input: &SendInput,
        origin: Option<&ClientInfo>,
    ) -> AppResult<Message> {
        let (practice, member, name) = who(actor);
        // Whether the sender is in the chat and still reaches it is checked
        // by the transaction that writes the message (group commit), which
        // also reads who hears it: a send reads nothing of the chat before.
        let body = input.body.trim();
        if body.is_empty() && input.files.is_empty() {
            return Err(AppError::Invalid(ValidationError::new("Write a message.")));
        }
        if body.chars().count() > MAX_MESSAGE_CHARS {
            return Err(AppError::Invalid(ValidationError::new(format!(
                "A message can be at most {MAX_MESSAGE_CHARS} characters."
            ))));
        }
        // S6: the practice's limit for its clients, below the server's own
        // (its rules are kept in memory between sends).
        let contact_rules = match member {
            Member::Contact(_) => Some(self.practice_rules(practice).await?),
            Member::Staff(_) => None,
        };
        if let Some(limit) = contact_rules
            .as_ref()
            .and_then(|r| r.messaging.client_max_message_chars)
            .and_then(|n| usize::try_from(n).ok())
        {
            let length = body.chars().count();
            if length > limit {
                return Err(AppError::Invalid(ValidationError::new(format!(
                    "Messages to the practice can be at most {limit} characters; yours has {length}. Shorten it and send it again."
                ))));
            }
        }
        // Neither engine's text may hold a NUL (PostgreSQL refuses it), and
        // a send is written with others: it is refused here, alone.
        if body.contains('\0') {
            return Err(AppError::Invalid(ValidationError::new(
                "A message cannot contain a NUL character.",
            )));
        }
        let key = input.key.trim();
        if key.is_empty() || key.len() > 100 || key.contains('\0') {
            return Err(AppError::Invalid(ValidationError::new(
                "The message form is out of date: reload the page.",
            )));
        }
        if let Some(seq) = input.reply_to {
            // M11: a reply quotes a message of the same chat.
            self.store.get_message(practice, chat, seq).await?;
        }
        if (input.set_status || input.urgent) && !matches!(member, Member::Staff(_)) {
            return Err(AppError::Forbidden);
        }
        let status_of = if input.set_status {
            self.store
                .chat_for_member(practice, chat, member)
                .await?
                .client_id
        } else {
            None
        };
        let now = self.clock.now();
        self.send_limiter.allow(member, now)?;
        let audit = match (member, origin) {
            (Member::Contact(_), Some(origin)) if !input.files.is_empty() => {
                let client = self
                    .store
                    .chat_for_member(practice, chat, member)
                    .await?
                    .client_id;
                input
                    .files
                    .iter()
                    .map(|f| {
                        self.audit_entry(practice, member, AuditKind::FileUploaded, origin)
                            .on("file", f.id)
                            .client(client)
                            .detail(format!("in chat {chat}"))
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let appended = self
            .sends
            .append(NewMessage {
                practice,
                chat,
                sender: member,
                sender_name: name,
                body: body.to_owned(),
                reply_to: input.reply_to,
                key: key.to_owned(),
                now,
                files: input
                    .files
                    .iter()
                    .map(|file| crate::store::FileMeta {
                        chat_id: Some(chat),
                        ..file.meta(practice, now)
                    })
                    .collect(),
                // M16: the message becomes the client's current status.
                status_of,
                automatic: false,
                audit,
                urgent: input.urgent,
            })
            .await?;
        let message = appended.message;
        if appended.webhooks_queued {
            self.webhook_wake.notify_one();
        }
        if appended.new {
            // Those who reach the chat as the message was stored hear it.
            let members = appended.recipients;
            self.live
                .publish(practice, members.clone(), LiveEvent::message(&message));
            if matches!(member, Member::Contact(_)) {
                // A contact has read what she sent (the store marks it):
                // staff's receipts hear it as any other reading (M8).
                self.publish_read(
                    practice,
                    chat,
                    members.iter().copied(),
                    message.seq,
                    message.sender_name.clone(),
                );
            }
            // S7: the practice's automatic answer, in its windows.
            if let Some(rules) = &contact_rules {
                self.autorespond(practice, chat, &members, rules).await;
            }
            // N1, N2: after the message's own event, so pages see it first.
            self.after_message(
                practice,
                chat,
                &message.sender_name,
                message.seq,
                appended.alert,
            );
        } else {
            // A retry: the files sent again are not needed.
            self.discard_uploads(&input.files).await;
        }
        Ok(message)
    }
}

/// A CSV cell that a spreadsheet will not run as a formula: text starting
/// with `=`, `+`, `-`, `@` or a tab gets a leading apostrophe.
pub(crate) fn csv_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// M12: the reactions people can choose.
pub const REACTIONS: &[&str] = &["👍", "❤️", "😂", "😮", "😢", "🙏", "✅", "🎉"];

/// What a member does to a message or a chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatAction {
    React {
        seq: i64,
        emoji: String,
    },
    Pin {
        seq: i64,
        pinned: bool,
    },
    DeleteMessage {
        seq: i64,
    },
    MarkUnread {
        seq: i64,
    },
    Star(bool),
    Hide,
    /// M6: a hidden chat opened on purpose (from Contacts) is shown again.
    Show,
}

/// A spreadsheet's date cell: the local date and time of `at` for `time`'s
/// zone (a cell has no zone of its own).
pub(crate) fn excel_date_time(
    time: &Viewer,
    at: crate::domain::Millis,
) -> Result<rust_xlsxwriter::ExcelDateTime, rust_xlsxwriter::XlsxError> {
    let local = time.civil(at);
    let number = |n: i16| u16::try_from(n).unwrap_or(0);
    let small = |n: i8| u8::try_from(n).unwrap_or(0);
    rust_xlsxwriter::ExcelDateTime::from_ymd(
        number(local.year()),
        small(local.month()),
        small(local.day()),
    )?
    .and_hms(
        u16::from(small(local.hour())),
        small(local.minute()),
        small(local.second()),
    )
}

/// Export formats (M13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

impl App {
    /// M4–M6, M10, M12: what a member does in a chat.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), chat = %chat
    ))]
    pub async fn chat_action(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        action: ChatAction,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let (practice, member, _) = who(actor);
        let chat = self.store.chat_for_member(practice, chat, member).await?;
        let changed_seq = match &action {
            ChatAction::React { seq, emoji } => {
                if !REACTIONS.contains(&emoji.as_str()) {
                    return Err(AppError::Invalid(ValidationError::new(
                        "Choose one of the reactions offered.",
                    )));
                }
                let message = self.store.get_message(practice, chat.id, *seq).await?;
                if message.deleted {
                    return Err(AppError::NotFound);
                }
                self.store
                    .toggle_reaction(practice, chat.id, *seq, member, emoji)
                    .await?;
                Some(*seq)
            }
            ChatAction::Pin { seq, pinned } => {
                let at = pinned.then(|| self.clock.now());
                self.store.set_pinned(practice, chat.id, *seq, at).await?;
                Some(*seq)
            }
            ChatAction::DeleteMessage { seq } => {
                let message = self.store.get_message(practice, chat.id, *seq).await?;
                if message.sender != member {
                    return Err(AppError::Forbidden);
                }
                // The trace, its files' rows and the audit event commit
                // together; the files' bytes go after commit.
                let now = self.clock.now();
                let mut tx = self.store.begin().await?;
                tx.delete_message(practice, chat.id, *seq, member, now)
                    .await?;
                tx.audit(
                    &NewAudit::new(practice, member.into(), AuditKind::MessageDeleted, now)
                        .on("chat", chat.id)
                        .client(chat.client_id)
                        .detail(format!("message {seq}"))
                        .from(&client.ip, &client.request_id),
                )
                .await?;
                tx.commit().await?;
                self.file_sweep_wake.notify_one();
                Some(*seq)
            }
            ChatAction::MarkUnread { seq } => {
                self.store.get_message(practice, chat.id, *seq).await?;
                self.store
                    .mark_unread(practice, chat.id, member, *seq)
                    .await?;
                None
            }
            ChatAction::Star(on) => {
                self.store
                    .set_member_flags(practice, chat.id, member, None, Some(*on))
                    .await?;
                None
            }
            ChatAction::Hide => {
                self.store
                    .set_member_flags(practice, chat.id, member, Some(true), None)
                    .await?;
                None
            }
            ChatAction::Show => {
                self.store
                    .set_member_flags(practice, chat.id, member, Some(false), None)
                    .await?;
                None
            }
        };
        if let Some(seq) = changed_seq {
            let members = self.store.chat_members(practice, chat.id).await?;
            self.live.publish(
                practice,
                members.iter().map(|m| m.member).collect(),
                LiveEvent::Changed {
                    chat: chat.id,
                    seq: Some(seq),
                },
            );
        }
        Ok(())
    }

    /// Checks that the people to put in a chat are of the actor's practice
    /// (and, for contacts, activated).
    async fn check_members(
        &self,
        actor: &Staff,
        staff: &[StaffId],
        contacts: &[ContactId],
    ) -> AppResult<Vec<Member>> {
        let mut members = Vec::new();
        for id in staff {
            let member = self.store.get_staff(actor.practice_id, *id).await?;
            if !member.active {
                return Err(AppError::conflict(format!(
                    "{} is no longer on the team.",
                    member.name
                )));
            }
            members.push(Member::Staff(member.id));
        }
        for id in contacts {
            let contact = self.store.get_contact(actor.practice_id, *id).await?;
            if contact.status != ContactStatus::Active {
                return Err(AppError::conflict(format!(
                    "{} has not activated their account yet, so they cannot be messaged.",
                    contact.name
                )));
            }
            members.push(Member::Contact(contact.id));
        }
        Ok(members)
    }

    /// M2: a group chat with any staff and contacts of the practice.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn create_group_chat(
        &self,
        actor: &Staff,
        title: &str,
        staff: &[StaffId],
        contacts: &[ContactId],
    ) -> AppResult<Chat> {
        let title = crate::domain::Name::parse(title)?;
        let mut members = self.check_members(actor, staff, contacts).await?;
        members.push(Member::Staff(actor.id));
        if members.len() < 2 {
            return Err(AppError::Invalid(ValidationError::new(
                "Choose at least one other person.",
            )));
        }
        let mut tx = self.store.begin().await?;
        let chat = tx
            .create_chat(
                actor.practice_id,
                false,
                title.as_str(),
                None,
                &members,
                self.clock.now(),
            )
            .await?;
        tx.commit().await?;
        Ok(chat)
    }

    /// M2: adds people to a chat (a direct chat becomes a group).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), chat = %chat
    ))]
    pub async fn add_to_chat(
        &self,
        actor: &Staff,
        chat: ChatId,
        staff: &[StaffId],
        contacts: &[ContactId],
    ) -> AppResult<()> {
        let chat = self
            .store
            .chat_for_member(actor.practice_id, chat, Member::Staff(actor.id))
            .await?;
        // S8: no team members join a client's direct chat when sharing is off.
        if chat.direct
            && chat.client_id.is_some()
            && !staff.is_empty()
            && !self.store.chat_sharing_allowed(actor.practice_id).await?
        {
            return Err(AppError::conflict(
                "Your practice does not allow adding team members to a client's direct chat.",
            ));
        }
        let members = self.check_members(actor, staff, contacts).await?;
        let before = self.store.chat_members(actor.practice_id, chat.id).await?;
        self.store
            .add_chat_members(actor.practice_id, chat.id, &members, self.clock.now())
            .await?;
        // "Olivia added Tom", for those not already in it.
        let added: Vec<Member> = members
            .into_iter()
            .filter(|m| !before.iter().any(|b| b.member == *m))
            .collect();
        self.note_members_added(actor, chat.id, &added).await
    }

    /// M7: the chat of two team members, started if there is none.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), staff = %other
    ))]
    pub async fn open_staff_chat(&self, actor: &Staff, other: StaffId) -> AppResult<Chat> {
        let other = self.store.get_staff(actor.practice_id, other).await?;
        if other.id == actor.id || !other.active {
            return Err(AppError::NotFound);
        }
        for summary in self
            .store
            .chats_of(actor.practice_id, Member::Staff(actor.id))
            .await?
        {
            if summary.chat.client_id.is_some() {
                continue;
            }
            let members = self
                .store
                .chat_members(actor.practice_id, summary.chat.id)
                .await?;
            if members.len() == 2 && members.iter().any(|m| m.member == Member::Staff(other.id)) {
                return Ok(summary.chat);
            }
        }
        let mut tx = self.store.begin().await?;
        let chat = tx
            .create_chat(
                actor.practice_id,
                false,
                &format!("{} & {}", actor.name, other.name),
                None,
                &[Member::Staff(actor.id), Member::Staff(other.id)],
                self.clock.now(),
            )
            .await?;
        tx.commit().await?;
        Ok(chat)
    }

    /// M3: shares a direct chat with another team member, when the practice
    /// allows it (S8).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), chat = %chat, staff = %with
    ))]
    pub async fn share_chat(&self, actor: &Staff, chat: ChatId, with: StaffId) -> AppResult<()> {
        let chat = self
            .store
            .chat_for_member(actor.practice_id, chat, Member::Staff(actor.id))
            .await?;
        if !chat.direct {
            return Err(AppError::conflict(
                "This is a group chat: add people to it instead.",
            ));
        }
        if !self.store.chat_sharing_allowed(actor.practice_id).await? {
            return Err(AppError::conflict(
                "Your practice does not allow sharing direct chats with other team members.",
            ));
        }
        self.check_members(actor, &[with], &[]).await?;
        self.store
            .share_chat(actor.practice_id, chat.id, with, self.clock.now())
            .await?;
        self.note_members_added(actor, chat.id, &[Member::Staff(with)])
            .await
    }

    /// S8: the practice setting (admins).
    pub async fn set_chat_sharing(&self, actor: &Staff, on: bool) -> AppResult<()> {
        if !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::Forbidden);
        }
        Ok(self.store.set_chat_sharing(actor.practice_id, on).await?)
    }

    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn chat_sharing_allowed(&self, actor: &Staff) -> AppResult<bool> {
        Ok(self.store.chat_sharing_allowed(actor.practice_id).await?)
    }

    /// M2: takes someone out of a chat.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), chat = %chat, removed = %person(member)
    ))]
    pub async fn remove_from_chat(
        &self,
        actor: &Staff,
        chat: ChatId,
        member: Member,
    ) -> AppResult<()> {
        let chat = self
            .store
            .chat_for_member(actor.practice_id, chat, Member::Staff(actor.id))
            .await?;
        let name = self
            .member_name(Actor::Staff(actor), chat.id, member)
            .await?;
        self.store
            .remove_chat_member(actor.practice_id, chat.id, member)
            .await?;
        let line = match name {
            _ if member == Member::Staff(actor.id) => format!("{} left", actor.name),
            Some(name) => format!("{} removed {name}", actor.name),
            None => return Ok(()),
        };
        self.chat_event(actor.practice_id, chat.id, &line).await
    }

    /// Names of a chat's members, for its page (the caller has opened
    /// the chat as a member).
    pub async fn member_names(
        &self,
        practice: PracticeId,
        chat: ChatId,
    ) -> AppResult<Vec<(Member, String)>> {
        Ok(self.store.chat_member_names(practice, chat).await?)
    }

    /// M6: staff delete a chat, its messages gone for good.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), chat = %chat
    ))]
    pub async fn delete_chat(
        &self,
        actor: &Staff,
        chat: ChatId,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let member = Member::Staff(actor.id);
        let chat = self
            .store
            .chat_for_member(actor.practice_id, chat, member)
            .await?;
        let members = self.store.chat_members(actor.practice_id, chat.id).await?;
        // Rows and audit event commit together; the files' bytes go after.
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.delete_chat(actor.practice_id, chat.id, now).await?;
        tx.audit(
            &NewAudit::new(
                actor.practice_id,
                member.into(),
                AuditKind::ChatDeleted,
                now,
            )
            .on("chat", chat.id)
            .client(chat.client_id)
            .from(&client.ip, &client.request_id),
        )
        .await?;
        tx.commit().await?;
        self.file_sweep_wake.notify_one();
        self.live.publish(
            actor.practice_id,
            members.iter().map(|m| m.member).collect(),
            LiveEvent::Deleted { chat: chat.id },
        );
        Ok(())
    }

    /// M13: a chat's whole history as CSV or XLSX, written batch by batch
    /// into a temporary file (constant memory however long the chat); the
    /// answer is an open handle on it (the file itself is already unlinked).
    ///
    /// The file work (creating, writing, the XLSX's own temporary files,
    /// saving) runs on a blocking thread; this task reads the batches from
    /// the store and hands them over through a queue of two, so at most a
    /// few batches are in memory at once.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id(), by = %person(actor), chat = %chat
    ))]
    pub async fn export_chat(
        &self,
        actor: Actor<'_>,
        chat: ChatId,
        format: ExportFormat,
        client: &ClientInfo,
    ) -> AppResult<(Chat, std::fs::File)> {
        let (practice, member, _) = who(actor);
        let chat = self.store.chat_for_member(practice, chat, member).await?;
        // X15: dates in the practice's time zone: real date cells in XLSX,
        // ISO 8601 with the offset in CSV.
        let time = Viewer::new(
            &self.store.practice_time_zone(practice).await?,
            self.clock.now(),
        );
        let (rows, receiver) = tokio::sync::mpsc::channel::<Vec<ExportRow>>(2);
        let writer =
            tokio::task::spawn_blocking(move || write_export(format, &EXPORT_HEADER, receiver));
        let mut after = 0;
        loop {
            let batch = self
                .store
                .messages_from(practice, chat.id, after, 1000)
                .await?;
            let Some(last) = batch.last() else { break };
            let (first_seq, last_seq) = (batch[0].seq, last.seq);
            let reactions = self
                .store
                .reactions(practice, chat.id, first_seq, last_seq)
                .await?;
            let files = self
                .store
                .chat_files(practice, chat.id, first_seq, last_seq)
                .await?;
            let mut lines = Vec::with_capacity(batch.len());
            for m in &batch {
                let mut counts: Vec<(String, usize)> = Vec::new();
                for r in reactions.iter().filter(|r| r.seq == m.seq) {
                    match counts.iter_mut().find(|(e, _)| *e == r.emoji) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((r.emoji.clone(), 1)),
                    }
                }
                let reactions_text = counts
                    .iter()
                    .map(|(e, n)| format!("{e} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let date_cell = excel_date_time(&time, m.created_at).ok();
                lines.push((
                    date_cell,
                    vec![
                        time.rfc3339(m.created_at),
                        m.sender_name.clone(),
                        if m.deleted {
                            "(message deleted)".to_owned()
                        } else {
                            m.body.clone()
                        },
                        m.reply_to_seq.map(|s| format!("#{s}")).unwrap_or_default(),
                        files
                            .iter()
                            .filter(|f| f.message_seq == Some(m.seq) && !m.deleted)
                            .map(|f| f.name.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                        reactions_text,
                    ],
                ));
            }
            if rows.send(lines).await.is_err() {
                // The writer stopped on an error: it is reported below.
                break;
            }
            after = last_seq;
        }
        drop(rows);
        let file = writer
            .await
            .map_err(|e| AppError::internal("could not write the export", e))?
            .map_err(|e| AppError::internal("could not write the export", e))?;
        self.store
            .audit(
                &NewAudit::new(
                    practice,
                    member.into(),
                    AuditKind::ChatExported,
                    self.clock.now(),
                )
                .on("chat", chat.id)
                .client(chat.client_id)
                .detail(format.extension())
                .from(&client.ip, &client.request_id),
            )
            .await?;
        Ok((chat, file))
    }
}

impl App {
    /// X9: a contact's own answers to questions, in the clients she still
    /// reaches, as CSV or XLSX (the same writer as the chat export, batch
    /// by batch in constant memory); recorded.
    #[instrument(skip_all, fields(practice = %contact.practice_id, by = %person(contact)))]
    pub async fn export_my_answers(
        &self,
        contact: &crate::store::Contact,
        format: ExportFormat,
        client: &ClientInfo,
    ) -> AppResult<std::fs::File> {
        let practice = contact.practice_id;
        let reachable: Vec<ClientId> = self
            .store
            .portal_clients(practice, contact.id)
            .await?
            .into_iter()
            .map(|c| c.client.id)
            .collect();
        let time = Viewer::for_person(
            contact.time_zone.as_deref(),
            &self.store.practice_time_zone(practice).await?,
            self.clock.now(),
        );
        let (rows, receiver) = tokio::sync::mpsc::channel::<Vec<ExportRow>>(2);
        let writer =
            tokio::task::spawn_blocking(move || write_export(format, &ANSWERS_HEADER, receiver));
        let mut after = (i64::MIN, String::new());
        loop {
            let batch = self
                .store
                .contact_answers(practice, contact.id, (after.0, &after.1), 1000)
                .await?;
            let Some(last) = batch.last() else { break };
            after = (last.at.0, last.id.clone());
            let lines = batch
                .iter()
                .filter(|a| reachable.contains(&a.client_id))
                .map(|a| {
                    (
                        excel_date_time(&time, a.at).ok(),
                        vec![
                            time.rfc3339(a.at),
                            a.client_name.clone(),
                            a.question.clone(),
                            a.body.clone(),
                            a.files.join(", "),
                        ],
                    )
                })
                .collect();
            if rows.send(lines).await.is_err() {
                break;
            }
        }
        drop(rows);
        let file = writer
            .await
            .map_err(|e| AppError::internal("could not write the export", e))?
            .map_err(|e| AppError::internal("could not write the export", e))?;
        self.store
            .audit(
                &self
                    .audit_entry(practice, contact, AuditKind::AnswersExported, client)
                    .on("contact", contact.id)
                    .detail(format.extension()),
            )
            .await?;
        Ok(file)
    }
}

const ANSWERS_HEADER: [&str; 5] = ["Date", "Client", "Question", "Answer", "Attachments"];

/// One exported line: date, sender, text, reply-to, attachments, reactions.
/// One message of an export: its time as a date cell (XLSX), and its
/// fields as text (the time in ISO 8601 with its offset first).
pub(crate) type ExportRow = (Option<rust_xlsxwriter::ExcelDateTime>, Vec<String>);

const EXPORT_HEADER: [&str; 6] = [
    "Date",
    "Sender",
    "Message",
    "Reply to",
    "Attachments",
    "Reactions",
];

/// Writes the lines it receives into a temporary file, on a blocking
/// thread; returns an open handle on the finished file, already unlinked.
pub(crate) fn write_export(
    format: ExportFormat,
    header: &[&str],
    mut lines: tokio::sync::mpsc::Receiver<Vec<ExportRow>>,
) -> Result<std::fs::File, String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let file = tempfile::NamedTempFile::new().map_err(|e| text(&e))?;
    match format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::io::BufWriter::new(
                file.reopen().map_err(|e| text(&e))?,
            ));
            w.write_record(header).map_err(|e| text(&e))?;
            while let Some(batch) = lines.blocking_recv() {
                for (_, fields) in batch {
                    w.write_record(fields.iter().map(|f| csv_safe(f).into_owned()))
                        .map_err(|e| text(&e))?;
                }
            }
            w.flush().map_err(|e| text(&e))?;
        }
        ExportFormat::Xlsx => {
            let mut workbook = rust_xlsxwriter::Workbook::new();
            let sheet = workbook
                .add_worksheet_with_constant_memory()
                .map_err(|e| text(&e))?;
            for (col, title) in header.iter().enumerate() {
                sheet
                    .write_string(0, u16::try_from(col).unwrap_or(0), *title)
                    .map_err(|e| text(&e))?;
            }
            let date_format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
            let mut row: u32 = 1;
            while let Some(batch) = lines.blocking_recv() {
                for (date_cell, fields) in batch {
                    match &date_cell {
                        Some(cell) => sheet.write_datetime_with_format(row, 0, cell, &date_format),
                        None => sheet.write_string(row, 0, &fields[0]),
                    }
                    .map_err(|e| text(&e))?;
                    for (col, value) in fields.iter().enumerate().skip(1) {
                        sheet
                            .write_string(row, u16::try_from(col).unwrap_or(0), value)
                            .map_err(|e| text(&e))?;
                    }
                    row += 1;
                }
            }
            workbook.save(file.path()).map_err(|e| text(&e))?;
        }
    }
    // The open handle streams on once the name is gone.
    let handle = file.reopen().map_err(|e| text(&e))?;
    drop(file);
    Ok(handle)
}
