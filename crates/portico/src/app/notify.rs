//! Notifications (N1, N2, S4, S5, X7). A periodic job finds, in one read
//! per kind, everyone with unread messages or question events older than
//! the window that they were not yet told of; claims each (person, window)
//! once in the store, so that instances sharing a database send once; and
//! queues one e-mail (and a text, when chosen) listing everything new, in
//! the transaction that decides it. Staff also hear at once, in the app.
//! The send path itself writes nothing for this: unread messages are read
//! from the members' read state.

use super::push::PlannedPush;
use super::spans::person;
use super::{App, AppError, AppResult, policy};
use crate::delivery::email::EmailBrand;
use crate::delivery::live::LiveEvent;
use crate::delivery::notify_email::{NotifyGroup, notification_email};
use crate::domain::words::{new_messages, plural};
use crate::domain::{ChatId, ClientId, Millis, PhoneNumber, PracticeId, issue_secret, paths};
use crate::store::{
    Channel, ChatMark, ContactStatus, Conversation, Member, NewClaim, NewNotification,
    NewNotifyItem, NewOutboxItem, NewPushNotice, NewToken, NotifyPrefs, NotifySettings,
    PENDING_LIMIT, PendingItem, PendingKey, PendingMessage, PendingPage, PersonKey, PushState,
    Question, Recipient, ReplyKey, Staff, StaffMode, TokenPurpose, WatchMark,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use jiff::tz::TimeZone;
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap, HashSet};
use tracing::instrument;

/// Unread items older than this are never notified (the server was off
/// for that long, say): a notification about last week helps nobody.
const HORIZON_MS: i64 = 2 * 24 * 3_600_000;
/// How long the sign-in links in a notification work.
const LINK_MS: i64 = 3 * 24 * 3_600_000;
/// Groups with a link of their own in one e-mail; the rest are counted.
const MAX_GROUPS: usize = 10;
/// Lines of content per group when the practice includes content (S5).
const MAX_LINES: usize = 5;

/// What a person can turn off by one click: a kind of notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyKind {
    Messages,
    Questions,
}

impl NotifyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Messages => "messages",
            NotifyKind::Questions => "questions",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "messages" => Some(NotifyKind::Messages),
            "questions" => Some(NotifyKind::Questions),
            _ => None,
        }
    }
}

/// X7: whether `minute` (after local midnight) falls in quiet hours
/// `start..end`, which may run over midnight.
pub fn in_quiet_hours(quiet: Option<(i64, i64)>, minute: i64) -> bool {
    match quiet {
        Some((start, end)) if start < end => (start..end).contains(&minute),
        Some((start, end)) if start > end => minute >= start || minute < end,
        _ => false,
    }
}

/// The local date and minute of day of `now` in `zone`.
fn local(now: Millis, zone: &str) -> (String, i64) {
    let zone = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let at = now.to_timestamp().to_zoned_datetime(zone);
    (
        at.date().to_string(),
        i64::from(at.hour()) * 60 + i64::from(at.minute()),
    )
}

/// Everything new for one person.
struct Batch {
    recipient: Recipient,
    messages: Vec<PendingMessage>,
    items: Vec<PendingItem>,
}

impl Batch {
    /// X7: something in it breaks through quiet hours.
    fn urgent(&self) -> bool {
        self.messages.iter().any(|m| m.chat_urgent) || self.items.iter().any(|i| i.urgent)
    }

    fn oldest(&self) -> Option<Millis> {
        self.messages
            .iter()
            .map(|m| m.chat_since)
            .chain(self.items.iter().map(|i| i.created_at))
            .min()
    }

    /// How many things wait: every unread message of each chat (not only
    /// those read) and each question event.
    fn total(&self) -> i64 {
        let mut total = i64::try_from(self.items.len()).unwrap_or(i64::MAX);
        let mut chat = None;
        for m in &self.messages {
            if chat != Some((m.chat_id, m.watching)) {
                chat = Some((m.chat_id, m.watching));
                total = total.saturating_add(m.chat_unread);
            }
        }
        total
    }
}

/// A chat's unread messages as one e-mail group.
struct ChatGroup {
    chat: ChatId,
    title: String,
    client: Option<String>,
    up_to: i64,
    /// A staff user who looks after the client without being in the chat.
    watching: bool,
    /// The newest of the person's unread messages there, in order.
    messages: Vec<PendingMessage>,
    /// Of all of them (`messages` holds at most the newest
    /// [`crate::store::NEWEST_PER_CHAT`]): how many, whether one is
    /// urgent, and their files.
    unread: i64,
    urgent: bool,
    files: i64,
    /// Older messages than those counted may be unread too
    /// ([`crate::store::COUNTED_PER_CHAT`]).
    more: bool,
}

impl ChatGroup {
    /// X12: only what came after `opened` (pushed, delivered and opened
    /// until then) is still to tell. The totals of the messages not read
    /// are known only together: when none of those read is dropped they
    /// stay as they were (the older ones may have been opened too).
    fn after(&mut self, opened: Millis) {
        let before = self.messages.len();
        self.messages.retain(|m| m.created_at.0 > opened.0);
        if self.messages.len() < before {
            // Every unread message older than those dropped was too.
            self.unread = i64::try_from(self.messages.len()).unwrap_or(i64::MAX);
            self.urgent = self.messages.iter().any(|m| m.urgent);
            self.files = self.messages.iter().map(|m| m.files).sum();
            self.more = false;
        }
    }
}

/// A person past the first decisions, whose window is yet to be claimed.
struct Due {
    batch: Batch,
    window_key: String,
    /// Staff who chose no e-mail: the marks are made, nothing is sent.
    mail_off: bool,
    /// How many things wait, as the claim records.
    total: i64,
    /// X12: everything created up to this was pushed, delivered and opened.
    opened_until: Option<Millis>,
}

/// What a person is told by e-mail and text, once claimed and marked.
struct Outgoing {
    recipient: Recipient,
    chats: Vec<ChatGroup>,
    items: Vec<PendingItem>,
    /// Whether the chats go in the e-mail (the person's choice for messages).
    email_chats: bool,
    phone: Option<PhoneNumber>,
    /// The e-mail's idempotency key (the text's is this with `-sms`).
    key: String,
}

impl Outgoing {
    /// What `r` is sent of what was kept for them, if anything.
    fn of(
        r: Recipient,
        chats: Vec<ChatGroup>,
        items: Vec<PendingItem>,
        window_key: &str,
    ) -> Option<Self> {
        let staff = matches!(r.member, Member::Staff(_));
        let email_chats = r.prefs.messages.email() && !chats.is_empty();
        let email_items = items.iter().any(|i| wants(&r, i).email());
        let sms_wanted = !staff
            && ((r.prefs.messages.sms() && !chats.is_empty())
                || items.iter().any(|i| wants(&r, i).sms()));
        let phone = r
            .phone
            .as_deref()
            .and_then(|p| PhoneNumber::parse(p).ok())
            .filter(|_| sms_wanted);
        if !email_chats && !email_items && phone.is_none() {
            return None;
        }
        let key = format!("notify-{}-{}-{window_key}", r.member.kind(), r.member.id());
        Some(Self {
            recipient: r,
            chats,
            items,
            email_chats,
            phone,
            key,
        })
    }

    /// The chats and items the e-mail lists (none: no e-mail).
    fn emailed(&self) -> (Vec<&ChatGroup>, Vec<&PendingItem>) {
        let chats = if self.email_chats {
            self.chats.iter().collect()
        } else {
            Vec::new()
        };
        let items = self
            .items
            .iter()
            .filter(|i| wants(&self.recipient, i).email())
            .collect();
        (chats, items)
    }
}

/// How `r` chose to hear of `item`.
fn wants(r: &Recipient, item: &PendingItem) -> crate::store::NotifyChannel {
    match kind_of(item) {
        NotifyKind::Messages => r.prefs.messages,
        NotifyKind::Questions => r.prefs.questions,
    }
}

/// A person's unread messages (by chat and order) as one group per chat.
fn chat_groups(messages: Vec<PendingMessage>) -> Vec<ChatGroup> {
    let mut chats: Vec<ChatGroup> = Vec::new();
    for message in messages {
        match chats.last_mut() {
            Some(group) if group.chat == message.chat_id && group.watching == message.watching => {
                group.up_to = message.seq;
                group.messages.push(message);
            }
            _ => chats.push(ChatGroup {
                chat: message.chat_id,
                title: message.chat_title.clone(),
                client: message.client_name.clone(),
                up_to: message.seq,
                watching: message.watching,
                unread: message.chat_unread,
                urgent: message.chat_urgent,
                files: message.chat_files,
                more: message.more_unread,
                messages: vec![message],
            }),
        }
    }
    chats
}

/// A group of an e-mail: a chat, or a question (or a client's status)
/// with its events in order.
enum Source<'a> {
    Chat(&'a ChatGroup),
    Question(&'a PendingItem, Vec<&'a PendingItem>),
}

impl Source<'_> {
    /// The conversation a reply to this group lands in: none for a chat
    /// one only watches (not in it to answer) or a status update.
    fn conversation(&self) -> Option<Conversation> {
        match self {
            Source::Chat(chat) if chat.watching => None,
            Source::Chat(chat) => Some(Conversation::Chat(chat.chat)),
            Source::Question(first, _) => first.question_id.map(Conversation::Question),
        }
    }
}

/// The groups with a link of their own in one e-mail, chats first, then
/// one per question (and one per client's status) in order; and how many
/// more there are (counted only).
fn email_sources<'a>(
    chats: &[&'a ChatGroup],
    items: &[&'a PendingItem],
) -> (Vec<Source<'a>>, usize) {
    let mut sources = Vec::new();
    let mut more = 0;
    for chat in chats {
        if sources.len() >= MAX_GROUPS {
            more += 1;
        } else {
            sources.push(Source::Chat(chat));
        }
    }
    let mut questions: Vec<(&PendingItem, Vec<&PendingItem>)> = Vec::new();
    for item in items {
        match questions.iter_mut().find(|(first, _)| {
            first.question_id == item.question_id && first.client_id == item.client_id
        }) {
            Some((_, all)) => all.push(item),
            None => questions.push((item, vec![item])),
        }
    }
    for (first, all) in questions {
        if sources.len() >= MAX_GROUPS {
            more += 1;
        } else {
            sources.push(Source::Question(first, all));
        }
    }
    (sources, more)
}

/// Which of a person's choices governs an event: a status update is told
/// of as messages are (it is one, M16); the rest are question events.
fn kind_of(item: &PendingItem) -> NotifyKind {
    if item.what == "status" {
        NotifyKind::Messages
    } else {
        NotifyKind::Questions
    }
}

/// ", with 2 files" when files came along (N2: uploaded documents).
fn with_files(files: i64) -> String {
    match files {
        0 => String::new(),
        1 => ", with 1 file".to_owned(),
        n => format!(", with {n} files"),
    }
}

/// "A", "A and B", "A, B and C".
fn sentence(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

type Key = (PracticeId, String, String);

fn key_of(recipient: &Recipient) -> Key {
    (
        recipient.practice_id,
        recipient.member.kind().to_owned(),
        recipient.member.id(),
    )
}

/// Who wrote, in a sentence: "Sam", "Sam and Alex", "Sam and 2 others".
fn authors<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for name in names {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    match unique.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [one, two] => format!("{one} and {two}"),
        [one, rest @ ..] => format!("{one} and {} others", rest.len()),
    }
}

/// The first `max` characters of a text, on one line.
fn excerpt(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max).collect();
    format!("{cut}…")
}

impl App {
    /// The window of `settings`' practice, in milliseconds.
    fn window_ms(&self, settings: &NotifySettings) -> i64 {
        let secs = settings
            .delay_secs
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(self.settings.notify_delay_secs);
        i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// N2: sends every notification due now, on the whole server; returns
    /// how many people were told. Safe to run as often as wanted, anywhere.
    ///
    /// One window is a fixed number of statements however many people it
    /// tells: it reads what waits, decides for each person in memory as
    /// below, then writes each kind of row (claims, marks of what was told,
    /// push notices, reply addresses, sign-in links, outbox rows) for
    /// everyone at once, in the one transaction that decides it.
    pub async fn run_notifications(&self) -> AppResult<usize> {
        let started = std::time::Instant::now();
        let now = self.clock.now();
        let horizon = Millis(now.0 - HORIZON_MS);
        // Read before the transaction: on SQLite it holds the one write lock.
        let key = self.signing_key().await?;
        let mut tx = self.store.begin().await?;
        // A page of people, after those the last run read (every person is
        // reached in turn, however many wait and whoever waits longest).
        let after = self
            .pending_after
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        let PendingPage {
            messages,
            items,
            resume_after,
        } = tx.pending(horizon, after.as_ref(), PENDING_LIMIT).await?;
        let next_page = |resume: Option<PendingKey>| {
            if let Ok(mut after) = self.pending_after.lock() {
                *after = resume;
            }
        };
        if messages.is_empty() && items.is_empty() {
            next_page(resume_after);
            return Ok(0);
        }
        let mut batches: BTreeMap<Key, Batch> = BTreeMap::new();
        for message in messages {
            batches
                .entry(key_of(&message.recipient))
                .or_insert_with(|| Batch {
                    recipient: message.recipient.clone(),
                    messages: Vec::new(),
                    items: Vec::new(),
                })
                .messages
                .push(message);
        }
        for item in items {
            batches
                .entry(key_of(&item.recipient))
                .or_insert_with(|| Batch {
                    recipient: item.recipient.clone(),
                    messages: Vec::new(),
                    items: Vec::new(),
                })
                .items
                .push(item);
        }
        // X12: who has devices, and what was pushed and opened.
        let push_states = tx.push_states(horizon).await?;
        if !push_states.is_empty() {
            tx.prune_push_notices(horizon).await?;
        }
        // Each person's decisions, in memory.
        let mut pushes = Vec::new();
        let mut due = Vec::new();
        for batch in batches.into_values() {
            let push = push_states
                .get(&(batch.recipient.practice_id, batch.recipient.member))
                .cloned()
                .unwrap_or_default();
            if let Some(one) = self.decide(batch, &push, now, &mut pushes) {
                due.push(one);
            }
        }
        let mut told: HashSet<PersonKey> = HashSet::new();
        let mut outbox: Vec<NewNotification> = Vec::new();
        // X12: devices hear at once, once per what they cover.
        if !pushes.is_empty() {
            let notices: Vec<NewPushNotice> = pushes.iter().map(|p| p.notice.clone()).collect();
            let claimed = tx.claim_push_notices(&notices, now).await?;
            for (push, notice) in pushes.iter().zip(claimed) {
                if let Some(notice) = notice {
                    told.insert((push.notice.practice_id, push.notice.member));
                    outbox.extend(Self::push_rows(push, &notice));
                }
            }
        }
        // Each person's window is claimed once in the store; one another
        // instance claimed first is its to tell.
        if !due.is_empty() {
            let claims: Vec<NewClaim> = due
                .iter()
                .map(|d| NewClaim {
                    practice_id: d.batch.recipient.practice_id,
                    member: d.batch.recipient.member,
                    window_key: d.window_key.clone(),
                    items: d.total,
                    channels: "email",
                })
                .collect();
            let claimed = tx.claim_notifications(&claims, now).await?;
            due.retain(|d| {
                claimed.contains(&(d.batch.recipient.practice_id, d.batch.recipient.member))
            });
        }
        // Each chat and item is marked told; one already marked by another
        // instance is left out of this notification.
        let mut claimed: Vec<(Due, Vec<ChatGroup>)> = Vec::with_capacity(due.len());
        let mut chat_marks = Vec::new();
        let mut watch_marks = Vec::new();
        for mut one in due {
            let r = &one.batch.recipient;
            let chats = chat_groups(std::mem::take(&mut one.batch.messages));
            for group in &chats {
                match (group.watching, r.member) {
                    (true, Member::Staff(staff)) => watch_marks.push(WatchMark {
                        practice_id: r.practice_id,
                        chat_id: group.chat,
                        staff_id: staff,
                        seq: group.up_to,
                    }),
                    _ => chat_marks.push(ChatMark {
                        practice_id: r.practice_id,
                        chat_id: group.chat,
                        member: r.member,
                        seq: group.up_to,
                    }),
                }
            }
            claimed.push((one, chats));
        }
        let item_marks: Vec<(PracticeId, &str)> = claimed
            .iter()
            .flat_map(|(one, _)| {
                one.batch
                    .items
                    .iter()
                    .map(|i| (one.batch.recipient.practice_id, i.id.as_str()))
            })
            .collect();
        let marked_items = if item_marks.is_empty() {
            HashSet::new()
        } else {
            tx.mark_items_notified(&item_marks, now).await?
        };
        let marked_chats = if chat_marks.is_empty() {
            HashSet::new()
        } else {
            tx.mark_chats_notified(&chat_marks).await?
        };
        let marked_watches = if watch_marks.is_empty() {
            HashSet::new()
        } else {
            tx.mark_watches_notified(&watch_marks).await?
        };
        // What goes to whom, by e-mail and text.
        let mut outgoing = Vec::new();
        for (one, chats) in claimed {
            let r = &one.batch.recipient;
            let mut kept_chats: Vec<ChatGroup> = chats
                .into_iter()
                .filter(|group| match (group.watching, r.member) {
                    (true, Member::Staff(staff)) => {
                        marked_watches.contains(&(r.practice_id, group.chat, staff))
                    }
                    _ => marked_chats.contains(&(r.practice_id, group.chat, r.member)),
                })
                .collect();
            let Due {
                batch,
                window_key,
                mail_off,
                opened_until,
                ..
            } = one;
            let mut kept_items: Vec<PendingItem> = batch
                .items
                .into_iter()
                .filter(|i| marked_items.contains(&i.id))
                .collect();
            // X12: what a push told of, delivered and opened, is not e-mailed
            // (nor texted) too.
            if let Some(opened) = opened_until {
                for group in &mut kept_chats {
                    group.after(opened);
                }
                kept_chats.retain(|g| !g.messages.is_empty());
                kept_items.retain(|i| i.created_at.0 > opened.0);
            }
            if mail_off {
                continue;
            }
            if let Some(mail) = Outgoing::of(batch.recipient, kept_chats, kept_items, &window_key) {
                outgoing.push(mail);
            }
        }
        // X11: each conversation an e-mail names has its reply address.
        let replies: HashMap<ReplyKey, String> = if self.reply_domain().is_some() {
            let mut wanted: Vec<(ReplyKey, String)> = Vec::new();
            let mut seen: HashSet<ReplyKey> = HashSet::new();
            for mail in &outgoing {
                let (chats, items) = mail.emailed();
                let (sources, _) = email_sources(&chats, &items);
                for conversation in sources.iter().filter_map(Source::conversation) {
                    let key = ReplyKey {
                        practice_id: mail.recipient.practice_id,
                        member: mail.recipient.member,
                        conversation,
                    };
                    if seen.insert(key) {
                        wanted.push((key, Self::new_reply_id()));
                    }
                }
            }
            if wanted.is_empty() {
                HashMap::new()
            } else {
                tx.reply_addresses(&wanted, now)
                    .await?
                    .into_iter()
                    .collect()
            }
        } else {
            HashMap::new()
        };
        let mut tokens = Vec::new();
        for mail in &outgoing {
            let r = &mail.recipient;
            let (chats, items) = mail.emailed();
            if !chats.is_empty() || !items.is_empty() {
                outbox.push(self.compose_email(
                    r,
                    &chats,
                    &items,
                    &mail.key,
                    &key,
                    now,
                    &replies,
                    &mut tokens,
                )?);
            }
            if let Some(phone) = &mail.phone {
                outbox.push(self.text_of(mail, phone));
            }
            told.insert((r.practice_id, r.member));
            tracing::debug!(member = %r.member.id(), kind = r.member.kind(), "notification queued");
        }
        if !tokens.is_empty() {
            tx.insert_tokens(&tokens, now).await?;
        }
        if !outbox.is_empty() {
            tx.enqueue_notifications(&outbox, now).await?;
        }
        tx.commit().await?;
        next_page(resume_after);
        if !told.is_empty() {
            self.outbox_wake.notify_one();
        }
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(
            told = told.len(),
            queued = outbox.len(),
            ms,
            "notification window"
        );
        Ok(told.len())
    }

    /// A person's decisions before anything is written: whether they are
    /// told now (reachable, X7 quiet hours unless something is urgent),
    /// a push to their devices (`pushes`), and the window their e-mail
    /// belongs to (staff's daily digest, or the practice's window).
    fn decide(
        &self,
        batch: Batch,
        push: &PushState,
        now: Millis,
        pushes: &mut Vec<PlannedPush>,
    ) -> Option<Due> {
        let r = &batch.recipient;
        if !r.reachable {
            return None;
        }
        let oldest = batch.oldest()?;
        let (date, minute) = local(now, &r.time_zone);
        // X7: what falls in quiet hours waits for their end, untouched,
        // unless something in it was marked urgent: then everything
        // waiting goes now, in one e-mail.
        if in_quiet_hours(r.prefs.quiet, minute) && !batch.urgent() {
            return None;
        }
        // X12: devices hear at once (under the same quiet hours); e-mail
        // waits for the window as before.
        if !push.devices.is_empty() {
            let content = self.push_content(r, &batch, oldest);
            pushes.extend(Self::plan_push(r, push, content));
        }
        let staff = matches!(r.member, Member::Staff(_));
        let window = self.window_ms(&r.settings);
        let window_key = match (staff, r.prefs.staff_mode) {
            (true, StaffMode::Daily) => {
                if minute < r.prefs.digest_minute {
                    return None;
                }
                format!("digest-{date}")
            }
            _ => {
                if oldest.0 > now.0 - window {
                    return None;
                }
                format!("w{}", now.0 / window.max(1000))
            }
        };
        let mail_off = staff && r.prefs.staff_mode == StaffMode::Never;
        let total = batch.total();
        Some(Due {
            batch,
            window_key,
            mail_off,
            total,
            opened_until: push.opened_until,
        })
    }

    /// The text of `mail` to `phone`: it says only that something waits,
    /// never what.
    fn text_of(&self, mail: &Outgoing, phone: &PhoneNumber) -> NewNotification {
        let r = &mail.recipient;
        let count = mail.chats.iter().map(|c| c.unread).sum::<i64>()
            + i64::try_from(mail.items.len()).unwrap_or(i64::MAX);
        let more = mail.chats.iter().any(|c| c.more);
        let urgent = mail.chats.iter().any(|c| c.urgent) || mail.items.iter().any(|i| i.urgent);
        // X11: a reply to the text lands in her latest chat.
        let body = format!(
            "{}: {}{} waiting for you in your client portal. {}{}",
            r.practice_name,
            if urgent { "urgent: " } else { "" },
            if more {
                format!("more than {count} new items are")
            } else {
                plural(count, "new item is", "new items are")
            },
            self.link("/portal"),
            if self.channels.sms_replies {
                " Reply to this text to answer, STOP to end texts."
            } else {
                ""
            }
        );
        NewNotification {
            item: NewOutboxItem {
                practice_id: Some(r.practice_id),
                channel: Channel::Sms,
                idempotency_key: format!("{}-sms", mail.key),
                recipient: phone.to_string(),
                subject: String::new(),
                body_text: body,
                body_html: None,
            },
            list_unsubscribe: None,
            reply_to: None,
        }
    }

    /// X12: what a push of `batch` says, where its click leads (the one
    /// chat or question it is about, else the home page) and what it
    /// covers.
    fn push_content(
        &self,
        r: &Recipient,
        batch: &Batch,
        oldest: Millis,
    ) -> super::push::PushContent {
        let area = paths::area(matches!(r.member, Member::Staff(_)));
        let newest = batch
            .messages
            .iter()
            .map(|m| m.created_at)
            .chain(batch.items.iter().map(|i| i.created_at))
            .max()
            .unwrap_or(oldest);
        let first_chat = batch.messages.first();
        let one_chat =
            first_chat.filter(|first| batch.messages.iter().all(|m| m.chat_id == first.chat_id));
        let first_item = batch.items.first();
        let one_item = first_item.filter(|first| {
            batch
                .items
                .iter()
                .all(|i| i.question_id == first.question_id && i.client_id == first.client_id)
        });
        let target = match (
            one_chat,
            one_item,
            batch.items.is_empty(),
            batch.messages.is_empty(),
        ) {
            (Some(m), _, true, _) if m.watching => paths::alert_chat(m.chat_id),
            (Some(m), _, true, _) => paths::chat(area, m.chat_id),
            (_, Some(i), _, true) => match i.question_id {
                Some(q) => paths::question(area, q),
                None => paths::client(area, i.client_id),
            },
            _ => area.to_owned(),
        };
        let lines = batch
            .messages
            .iter()
            .rev()
            .map(|m| format!("{}: {}", m.sender_name, excerpt(&m.body, 120)))
            .chain(
                batch
                    .items
                    .iter()
                    .filter(|i| !i.body.trim().is_empty())
                    .map(|i| format!("{}: {}", i.author_name, excerpt(&i.body, 120))),
            );
        let (title, body) = Self::push_text(r, !batch.messages.is_empty(), lines);
        super::push::PushContent {
            title,
            body,
            target,
            covers_until: newest,
        }
    }

    /// A link that lands a contact on `path`, signed in (as reminder links
    /// do; its token joins `tokens`), or the plain path for staff.
    fn landing(
        &self,
        r: &Recipient,
        path: &str,
        now: Millis,
        tokens: &mut Vec<NewToken>,
    ) -> String {
        match r.member {
            Member::Staff(_) => self.link(path),
            Member::Contact(contact) => {
                let issued = issue_secret();
                tokens.push(NewToken {
                    hash: issued.hash,
                    purpose: TokenPurpose::SignIn,
                    practice_id: r.practice_id,
                    contact_id: contact,
                    expires_at: Millis(now.0 + LINK_MS),
                });
                self.link(&paths::portal_link(&issued.secret, Some(path)))
            }
        }
    }

    /// One person's e-mail listing `chats` and `items`, with the reply
    /// addresses of `replies` (X11); the tokens of its links join `tokens`.
    #[allow(clippy::too_many_arguments)]
    fn compose_email(
        &self,
        r: &Recipient,
        chats: &[&ChatGroup],
        items: &[&PendingItem],
        key: &str,
        signing_key: &[u8],
        now: Millis,
        replies: &HashMap<ReplyKey, String>,
        tokens: &mut Vec<NewToken>,
    ) -> AppResult<NewNotification> {
        let staff = matches!(r.member, Member::Staff(_));
        // S5: the practice's default, unless the person chose otherwise.
        let content = r.prefs.content.includes(if staff {
            r.settings.content_to_staff
        } else {
            r.settings.content_to_contacts
        });
        let area = paths::area(staff);
        let reply_of = |conversation: Conversation| -> String {
            replies
                .get(&ReplyKey {
                    practice_id: r.practice_id,
                    member: r.member,
                    conversation,
                })
                .and_then(|id| self.reply_address_of(id))
                .unwrap_or_default()
        };
        let (sources, more) = email_sources(chats, items);
        let mut groups = Vec::new();
        for source in &sources {
            match source {
                Source::Chat(chat) => {
                    let summary = format!(
                        "{} from {}{}",
                        new_messages(chat.unread, chat.more),
                        authors(chat.messages.iter().map(|m| m.sender_name.as_str())),
                        with_files(chat.files)
                    );
                    let lines = if content {
                        chat.messages
                            .iter()
                            .rev()
                            .take(MAX_LINES)
                            .rev()
                            .map(|m| format!("{}: {}", m.sender_name, excerpt(&m.body, 300)))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    // A staff user not in the chat opens it from their alert
                    // (and joins it there, S8).
                    let path = if chat.watching {
                        paths::alert_chat(chat.chat)
                    } else {
                        paths::chat(area, chat.chat)
                    };
                    // One who only watches the chat is not in it to answer.
                    let reply = source.conversation().map(reply_of).unwrap_or_default();
                    groups.push(NotifyGroup {
                        client: chat.client.clone().unwrap_or_else(|| "Your team".into()),
                        title: chat.title.clone(),
                        summary,
                        lines,
                        link: self.landing(r, &path, now, tokens),
                        urgent: chat.urgent,
                        reply,
                    });
                }
                Source::Question(first, all) => {
                    let summary = all
                        .iter()
                        .map(|i| {
                            let what = match i.what.as_str() {
                                "asked" => format!("{} asked a new question", i.author_name),
                                "follow_up" => format!("{} followed up", i.author_name),
                                "reassigned" => {
                                    format!("{} passed the question to you", i.author_name)
                                }
                                "answer" => format!("{} answered", i.author_name),
                                "status" => format!("{} updated the status", i.author_name),
                                _ => format!("{} updated the question", i.author_name),
                            };
                            format!("{what}{}", with_files(i.files))
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    let lines = if content {
                        all.iter()
                            .filter(|i| !i.body.trim().is_empty())
                            .take(MAX_LINES)
                            .map(|i| format!("{}: {}", i.author_name, excerpt(&i.body, 300)))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    // A status update lands on the client's page, where it shows.
                    let path = match first.question_id {
                        Some(question) => paths::question(area, question),
                        None => paths::client(area, first.client_id),
                    };
                    // A status update is no conversation: it takes no reply.
                    let reply = source.conversation().map(reply_of).unwrap_or_default();
                    groups.push(NotifyGroup {
                        client: first.client_name.clone(),
                        title: first.title.clone(),
                        summary,
                        lines,
                        link: self.landing(r, &path, now, tokens),
                        urgent: all.iter().any(|i| i.urgent),
                        reply,
                    });
                }
            }
        }
        groups.sort_by(|a, b| a.client.cmp(&b.client));
        let message_count: i64 = chats.iter().map(|c| c.unread).sum();
        let more_messages = chats.iter().any(|c| c.more);
        let status_count = items.iter().filter(|i| i.what == "status").count();
        let question_count = items.len() - status_count;
        let mut parts = Vec::new();
        if message_count > 0 {
            parts.push(new_messages(message_count, more_messages));
        }
        if status_count > 0 {
            parts.push(plural(status_count, "status update", "status updates"));
        }
        if question_count > 0 {
            parts.push(format!(
                "{} on your questions",
                plural(question_count, "update", "updates")
            ));
        }
        let urgent = groups.iter().any(|g| g.urgent);
        let subject = format!(
            "{}: {}{}",
            r.practice_name,
            if urgent { "urgent: " } else { "" },
            sentence(&parts)
        );
        let kind = if message_count > 0 || status_count > 0 {
            NotifyKind::Messages
        } else {
            NotifyKind::Questions
        };
        let unsubscribe = self.link(&paths::unsubscribe(&Self::sign_unsubscribe(
            signing_key,
            r.practice_id,
            r.member,
            kind,
        )?));
        let preferences = self.link(&paths::notification_preferences(area));
        let home = if staff {
            self.link(area)
        } else {
            self.landing(r, area, now, tokens)
        };
        let brand = EmailBrand::from_parts(
            r.practice_id,
            &r.practice_name,
            &r.brand,
            &self.settings.public_url,
        );
        let mail = notification_email(
            &brand,
            &subject,
            &r.name,
            &r.practice_name,
            &groups,
            more,
            &home,
            &preferences,
            &unsubscribe,
            kind.as_str(),
            !staff,
        )
        .map_err(|e| AppError::internal("could not write the notification", e))?;
        // X11: an e-mail about one conversation is answered by replying;
        // one about several names each one's address in its text.
        let reply_to = match (groups.as_slice(), more) {
            ([one], 0) if !one.reply.is_empty() => Some(one.reply.clone()),
            _ => None,
        };
        Ok(NewNotification {
            item: NewOutboxItem {
                practice_id: Some(r.practice_id),
                channel: Channel::Email,
                idempotency_key: key.to_owned(),
                recipient: r.email.clone(),
                subject: mail.subject,
                body_text: mail.text,
                body_html: Some(mail.html),
            },
            list_unsubscribe: Some(unsubscribe),
            reply_to,
        })
    }

    /// The key unsubscribe links are signed with.
    async fn signing_key(&self) -> AppResult<Vec<u8>> {
        let candidate = issue_secret().secret;
        let key = self.store.notify_key(&candidate).await?;
        Ok(key.into_bytes())
    }

    fn mac(key: &[u8], payload: &str) -> AppResult<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key)
            .map_err(|_| AppError::conflict("the signing key is not usable"))?;
        mac.update(payload.as_bytes());
        Ok(mac)
    }

    /// A token naming one person and one kind, signed by the server.
    pub async fn unsubscribe_token(
        &self,
        practice: PracticeId,
        member: Member,
        kind: NotifyKind,
    ) -> AppResult<String> {
        let key = self.signing_key().await?;
        Self::sign_unsubscribe(&key, practice, member, kind)
    }

    fn sign_unsubscribe(
        key: &[u8],
        practice: PracticeId,
        member: Member,
        kind: NotifyKind,
    ) -> AppResult<String> {
        let payload = format!(
            "{}|{}|{}|{}",
            practice,
            member.kind(),
            member.id(),
            kind.as_str()
        );
        let tag = Self::mac(key, &payload)?.finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(tag)
        ))
    }

    /// The person and kind a token names, when its signature holds.
    async fn verify_unsubscribe(&self, token: &str) -> AppResult<(PracticeId, Member, NotifyKind)> {
        let refused = || AppError::Denied("This unsubscribe link is not valid.".into());
        let (payload, tag) = token.split_once('.').ok_or_else(refused)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| refused())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| refused())?;
        let key = self.signing_key().await?;
        Self::mac(&key, std::str::from_utf8(&payload).map_err(|_| refused())?)?
            .verify_slice(&tag)
            .map_err(|_| refused())?;
        let text = String::from_utf8(payload).map_err(|_| refused())?;
        let parts: Vec<&str> = text.split('|').collect();
        let [practice, kind, id, what] = parts.as_slice() else {
            return Err(refused());
        };
        let practice: PracticeId = practice.parse().map_err(|_| refused())?;
        let member = match *kind {
            "staff" => Member::Staff(id.parse().map_err(|_| refused())?),
            "contact" => Member::Contact(id.parse().map_err(|_| refused())?),
            _ => return Err(refused()),
        };
        let what = NotifyKind::parse(what).ok_or_else(refused)?;
        Ok((practice, member, what))
    }

    /// What an unsubscribe link would turn off: the practice's name and the kind.
    #[instrument(skip_all)]
    pub async fn peek_unsubscribe(&self, token: &str) -> AppResult<(String, NotifyKind)> {
        let (practice, _, kind) = self.verify_unsubscribe(token).await?;
        let practice = self.store.get_practice(practice).await?;
        Ok((practice.name, kind))
    }

    /// RFC 8058: turns off e-mail of one kind for the person the signed
    /// token names, and nothing else. No sign-in: the signature is the proof.
    #[instrument(skip_all)]
    pub async fn unsubscribe(&self, token: &str) -> AppResult<NotifyKind> {
        let (practice, member, kind) = self.verify_unsubscribe(token).await?;
        let mut prefs = self.store.notify_prefs(practice, member).await?;
        match kind {
            NotifyKind::Messages => prefs.messages = prefs.messages.without_email(),
            NotifyKind::Questions => prefs.questions = prefs.questions.without_email(),
        }
        self.store
            .set_notify_prefs(practice, member, &prefs)
            .await?;
        tracing::info!(member = %member.id(), kind = kind.as_str(), "unsubscribed by one click");
        Ok(kind)
    }

    /// A person's own choices.
    #[instrument(skip_all, fields(practice = %practice, by = %person(me)))]
    pub async fn my_notify_prefs(
        &self,
        practice: PracticeId,
        me: Member,
    ) -> AppResult<NotifyPrefs> {
        Ok(self.store.notify_prefs(practice, me).await?)
    }

    /// A person changes their own choices (only theirs: `me` is the
    /// signed-in person, never taken from a form).
    #[instrument(skip_all, fields(practice = %practice, by = %person(me)))]
    pub async fn set_my_notify_prefs(
        &self,
        practice: PracticeId,
        me: Member,
        prefs: NotifyPrefs,
    ) -> AppResult<()> {
        let bad = |m: &str| AppError::Invalid(crate::domain::ValidationError::new(m.to_owned()));
        let minute = 0..24 * 60;
        if !minute.contains(&prefs.digest_minute) {
            return Err(bad("Choose a digest time such as 08:00."));
        }
        if let Some((start, end)) = prefs.quiet
            && (!minute.contains(&start) || !minute.contains(&end) || start == end)
        {
            return Err(bad(
                "Quiet hours need a start and an end time, such as 22:00 to 07:00.",
            ));
        }
        if let Some(zone) = &prefs.time_zone
            && TimeZone::get(zone).is_err()
        {
            return Err(bad(
                "Choose a time zone such as Europe/London, or leave it empty.",
            ));
        }
        Ok(self.store.set_notify_prefs(practice, me, &prefs).await?)
    }

    /// S5: the practice's name and whether it puts the text in the
    /// e-mails of a person like `me` (its default, under their choice).
    #[instrument(skip_all, fields(practice = %practice, by = %person(me)))]
    pub async fn notify_content_default(
        &self,
        practice: PracticeId,
        me: Member,
    ) -> AppResult<(String, bool)> {
        let settings = self.store.notify_settings(practice).await?;
        let name = self.store.get_practice(practice).await?.name;
        Ok(match me {
            Member::Staff(_) => (name, settings.content_to_staff),
            Member::Contact(_) => (name, settings.content_to_contacts),
        })
    }

    /// S5 and the window: the practice's settings (admins change them).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn notify_settings(&self, actor: &Staff) -> AppResult<NotifySettings> {
        Ok(self.store.notify_settings(actor.practice_id).await?)
    }

    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn set_notify_settings(
        &self,
        actor: &Staff,
        settings: NotifySettings,
        origin: &super::sessions::ClientInfo,
    ) -> AppResult<()> {
        if !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::Forbidden);
        }
        if settings
            .delay_secs
            .is_some_and(|s| !(0..=7 * 24 * 3600).contains(&s))
        {
            return Err(AppError::Invalid(crate::domain::ValidationError::new(
                "The window is 0 seconds (at once) to a week.",
            )));
        }
        let entry = self
            .audit_entry(
                actor.practice_id,
                actor,
                crate::store::AuditKind::SettingsChanged,
                origin,
            )
            .on("practice", actor.practice_id)
            .detail("notifications");
        Ok(self
            .store
            .set_notify_settings(actor.practice_id, &settings, &entry)
            .await?)
    }

    /// After a message was stored: the job looks again (a window of 0 sends
    /// at once), and the staff whose alert a client's message raised (in
    /// the transaction that stored it, N1) hear of it.
    pub fn after_message(
        &self,
        practice: PracticeId,
        chat: ChatId,
        sender_name: &str,
        seq: i64,
        alert: Option<crate::store::group_commit::Alerted>,
    ) {
        self.notify_wake.notify_one();
        if let Some(alert) = alert {
            self.live.publish(
                practice,
                alert.staff.into_iter().map(Member::Staff).collect(),
                LiveEvent::alert(chat, seq, sender_name, alert.text),
            );
        }
    }

    /// N1: a contact answered: the staff who look after the client hear it
    /// at once, as for a message.
    async fn raise_question_alert(&self, question: &Question, author: &str) -> AppResult<()> {
        let client = self
            .store
            .get_client(question.practice_id, question.client_id)
            .await?;
        let staff = self
            .store
            .assigned_staff(question.practice_id, question.client_id)
            .await?;
        if staff.is_empty() {
            return Ok(());
        }
        let text = format!("{author} answered \"{}\" ({})", question.title, client.name);
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        for id in &staff {
            tx.insert_alert(
                question.practice_id,
                *id,
                client.id,
                &format!("answer:{}:{}", question.id, now.0),
                &text,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The people a question event is for: on a contact's answer, the staff
    /// who look after the client; otherwise the active contacts who may see
    /// the question (an assigned one: its assignee only).
    pub(super) async fn question_audience(
        &self,
        question: &Question,
        by_contact: bool,
    ) -> AppResult<Vec<Member>> {
        let p = question.practice_id;
        if by_contact {
            return Ok(self
                .store
                .assigned_staff(p, question.client_id)
                .await?
                .into_iter()
                .map(Member::Staff)
                .collect());
        }
        let client = self.store.get_client(p, question.client_id).await?;
        let mut contacts = self.store.client_contacts(p, client.id).await?;
        if let Some(primary) = client.primary_client_id {
            for contact in self.store.client_contacts(p, primary).await? {
                if !contacts.iter().any(|c| c.id == contact.id) {
                    contacts.push(contact);
                }
            }
        }
        Ok(contacts
            .into_iter()
            .filter(|c| c.status == ContactStatus::Active)
            .filter(|c| {
                !client.assignable_questions
                    || question.assignee.is_none()
                    || question.assignee == Some(c.id)
            })
            .map(|c| Member::Contact(c.id))
            .collect())
    }

    /// The question events to queue with a change, one per recipient.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn question_items(
        &self,
        question: &Question,
        what: &'static str,
        author_name: &str,
        body: &str,
        urgent: bool,
        files: usize,
    ) -> AppResult<Vec<NewNotifyItem>> {
        let by_contact = what == "answer";
        Ok(self
            .question_audience(question, by_contact)
            .await?
            .into_iter()
            .map(|recipient| NewNotifyItem {
                recipient,
                client_id: question.client_id,
                question_id: question.id,
                what,
                author_name: author_name.to_owned(),
                title: question.title.clone(),
                body: body.to_owned(),
                urgent,
                files: i64::try_from(files).unwrap_or(i64::MAX),
            })
            .collect())
    }

    /// After a question changed: the job looks again; an answer alerts staff.
    pub(super) async fn after_question(&self, question: &Question, what: &str, author: &str) {
        self.notify_wake.notify_one();
        if what == "answer"
            && let Err(error) = self.raise_question_alert(question, author).await
        {
            tracing::warn!(%error, "could not raise the staff alerts of an answer");
        }
    }

    /// A person opened a question: what waited there is not notified.
    pub async fn question_seen(
        &self,
        practice: PracticeId,
        question: crate::domain::QuestionId,
        me: Member,
    ) {
        if let Err(error) = self
            .store
            .mark_question_items_read(practice, question, me, self.clock.now())
            .await
        {
            tracing::warn!(%error, "could not mark a question's notifications read");
        }
    }

    /// A message reached a socket that has its chat open: the person has
    /// it in front of them, so it counts as read (and is not notified).
    #[instrument(skip_all, fields(practice = %practice, by = %person(member), chat = %chat, seq))]
    pub async fn seen_live(&self, practice: PracticeId, member: Member, chat: ChatId, seq: i64) {
        match self.store.mark_read(practice, chat, member, seq).await {
            // M8: staff's receipts hear it as any other reading.
            Ok(true) => {
                if let Member::Contact(contact) = member
                    && let (Ok(members), Ok(contact)) = (
                        self.store.chat_members(practice, chat).await,
                        self.store.get_contact(practice, contact).await,
                    )
                {
                    self.publish_read(
                        practice,
                        chat,
                        members.iter().map(|m| m.member),
                        seq,
                        contact.name,
                    );
                }
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, "could not mark a message seen on an open chat");
            }
        }
    }

    /// The count in the staff top bar and the alert bar's items.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn staff_alert_count(&self, actor: &Staff) -> AppResult<i64> {
        Ok(self
            .store
            .staff_unread_count(actor.practice_id, actor.id)
            .await?)
    }

    /// A staff user opened a chat: its alert is read (N1).
    pub async fn chat_alert_seen(&self, practice: PracticeId, member: Member, chat: ChatId) {
        let Member::Staff(staff) = member else {
            return;
        };
        if let Err(error) = self
            .store
            .mark_chat_alert_read(practice, staff, chat, self.clock.now())
            .await
        {
            tracing::warn!(%error, "could not mark a chat's alert read");
        }
    }

    /// Whether a staff user is in a chat.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), chat = %chat
    ))]
    pub async fn in_chat(&self, actor: &Staff, chat: ChatId) -> AppResult<bool> {
        match self
            .store
            .chat_for_member(actor.practice_id, chat, Member::Staff(actor.id))
            .await
        {
            Ok(_) => Ok(true),
            Err(crate::store::StoreError::NotFound) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// N1: a staff user who looks after a chat's client opens it from an
    /// alert; if they are not in it, they join it when the practice allows
    /// sharing chats (S8).
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), chat = %chat
    ))]
    pub async fn open_chat_from_alert(&self, actor: &Staff, chat: ChatId) -> AppResult<ChatId> {
        let me = Member::Staff(actor.id);
        match self
            .store
            .chat_for_member(actor.practice_id, chat, me)
            .await
        {
            Ok(found) => return Ok(found.id),
            Err(crate::store::StoreError::NotFound) => {}
            Err(other) => return Err(other.into()),
        }
        let client: Option<ClientId> = self.store.chat_client(actor.practice_id, chat).await?;
        let Some(client) = client else {
            return Err(AppError::NotFound);
        };
        let assigned = self.store.assigned_staff(actor.practice_id, client).await?;
        if !assigned.contains(&actor.id) || !actor.active {
            return Err(AppError::NotFound);
        }
        if !self.store.chat_sharing_allowed(actor.practice_id).await? {
            return Err(AppError::conflict(
                "Your practice does not share client chats with team members, so you cannot join this chat. Ask a member of the chat.",
            ));
        }
        self.store
            .add_chat_members(actor.practice_id, chat, &[me], self.clock.now())
            .await?;
        Ok(chat)
    }
}

/// How often the job looks when nobody wakes it: quiet hours end and
/// windows pass without any new event.
const JOB_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// The notification job of one instance: runs when woken (something was
/// sent or asked), then again once the window may have passed, and every
/// few seconds. The claims in the store make several instances safe.
pub async fn run_notification_job(app: App) {
    loop {
        if let Err(error) = app.run_notifications().await {
            tracing::error!(%error, "could not send notifications");
        }
        let window = std::time::Duration::from_secs(app.settings.notify_delay_secs);
        tokio::select! {
            () = app.notify_wake.notified() => {
                // Something new: it is due after the window (at once for 0).
                tokio::time::sleep(window.min(JOB_EVERY)).await;
            },
            () = tokio::time::sleep(JOB_EVERY) => {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_may_run_over_midnight() {
        let night = Some((22 * 60, 7 * 60));
        assert!(in_quiet_hours(night, 23 * 60));
        assert!(in_quiet_hours(night, 3 * 60));
        assert!(!in_quiet_hours(night, 7 * 60));
        assert!(!in_quiet_hours(night, 12 * 60));
        let lunch = Some((12 * 60, 13 * 60));
        assert!(in_quiet_hours(lunch, 12 * 60 + 30));
        assert!(!in_quiet_hours(lunch, 13 * 60));
        assert!(!in_quiet_hours(None, 0));
    }

    #[test]
    fn authors_are_named_once() {
        assert_eq!(authors(["Sam", "Sam"].into_iter()), "Sam");
        assert_eq!(authors(["Sam", "Alex", "Sam"].into_iter()), "Sam and Alex");
        assert_eq!(authors(["A", "B", "C"].into_iter()), "A and 2 others");
    }

    #[test]
    fn subjects_and_summaries_read_as_sentences() {
        assert_eq!(sentence(&[]), "");
        assert_eq!(sentence(&["a".into()]), "a");
        assert_eq!(sentence(&["a".into(), "b".into()]), "a and b");
        assert_eq!(
            sentence(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
        assert_eq!(with_files(0), "");
        assert_eq!(with_files(1), ", with 1 file");
        assert_eq!(with_files(3), ", with 3 files");
        assert_eq!(new_messages(1, false), "1 new message");
        assert_eq!(new_messages(30, false), "30 new messages");
        assert_eq!(new_messages(1000, true), "more than 1000 new messages");
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt("a\n b", 10), "a b");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
