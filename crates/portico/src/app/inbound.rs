//! X11: replies to notification e-mails. Each notification about one
//! chat or question carries a `Reply-To` of `reply+<token>@<reply_domain>`,
//! the token naming (through a short random id, signed with a key derived
//! from the server's) one person and one conversation. A reply that comes
//! back — by the SMTP listener or `POST /inbound/email` — is posted as
//! that person's message (or answer, or follow-up) through the same use
//! cases as the pages, once per Message-ID; access is checked as it
//! arrives. A reply whose From is someone else is held for staff.

use super::questions::Actor;
use super::reply_text::{is_automatic, strip_reply};
use super::sessions::ClientInfo;
use super::spans::person;
use super::{App, AppError, AppResult, policy};
use crate::domain::PracticeId;
use crate::files::{FileError, StoredFile};
use crate::store::{
    Channel, ContactStatus, Conversation, InboundMail, InboundStatus, Member, NewOutboxItem,
    ReplyAddress, Staff,
};
use data_encoding::BASE32_NOPAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::instrument;

/// Bytes of a reply address's random id and of its signature: 16 base32
/// characters each, `reply+` and 32 characters in all, well inside the 64
/// of a local part, and in an alphabet that survives case-folding.
const ID_BYTES: usize = 10;
const TAG_BYTES: usize = 10;
/// The local part's prefix.
const PREFIX: &str = "reply+";
/// The most of a raw e-mail kept for a held reply.
const MAX_RAW: usize = 40 * 1024 * 1024;

/// The deployment's settings for replies (X11).
#[derive(Clone, Debug, Default)]
pub struct ChannelSettings {
    /// `None`: notifications carry no Reply-To, replies are not taken.
    pub reply_domain: Option<String>,
    /// Whether texts can be answered (an inbound SMS webhook is set up).
    pub sms_replies: bool,
}

/// What became of a received e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboundOutcome {
    Posted,
    /// Its Message-ID was received before: nothing new.
    Duplicate,
    Held,
    /// An automatic reply: not posted.
    Ignored,
    /// The person no longer reaches the conversation: told by e-mail.
    NoAccess,
    /// Not posted, for the reason given (the person is told by e-mail).
    Refused(String),
    /// Not addressed to a valid reply address of this server.
    UnknownAddress,
}

impl InboundOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            InboundOutcome::Posted => "posted",
            InboundOutcome::Duplicate => "duplicate",
            InboundOutcome::Held => "held",
            InboundOutcome::Ignored => "ignored",
            InboundOutcome::NoAccess => "no_access",
            InboundOutcome::Refused(_) => "refused",
            InboundOutcome::UnknownAddress => "unknown_address",
        }
    }
}

/// The person behind a reply address, as they are now.
enum Person {
    Staff(Staff),
    Contact(crate::store::Contact),
}

impl Person {
    fn email(&self) -> &str {
        match self {
            Person::Staff(s) => &s.email,
            Person::Contact(c) => &c.email,
        }
    }

    fn actor(&self) -> Actor<'_> {
        match self {
            Person::Staff(s) => Actor::Staff(s),
            Person::Contact(c) => Actor::Contact(c),
        }
    }
}

/// An e-mail's parts that matter here.
struct Parsed {
    message_id: String,
    from: String,
    subject: String,
    original: String,
    automatic: bool,
    /// Attachments: name and bytes.
    files: Vec<(String, Vec<u8>)>,
    recipients: Vec<String>,
}

fn parse(raw: &[u8]) -> Option<Parsed> {
    let message = mail_parser::MessageParser::default().parse(raw)?;
    let header = |name: &'static str| message.header_raw(name).map(str::trim);
    let subject = message.subject().unwrap_or("").trim().to_owned();
    let automatic = is_automatic(
        header("Auto-Submitted"),
        header("Precedence"),
        header("X-Autoreply").is_some() || header("X-Autorespond").is_some(),
        &subject,
    );
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .trim()
        .to_lowercase();
    // No Message-ID: the bytes themselves name the message.
    let message_id = match message.message_id() {
        Some(id) if !id.trim().is_empty() => id.trim().chars().take(250).collect(),
        _ => format!("sha256:{}", hex::encode(Sha256::digest(raw))),
    };
    let original = message
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default();
    let mut recipients = Vec::new();
    for address in [message.to(), message.cc()].into_iter().flatten() {
        for addr in address.iter() {
            if let Some(a) = addr.address() {
                recipients.push(a.to_owned());
            }
        }
    }
    for name in ["Delivered-To", "X-Original-To", "Envelope-To"] {
        if let Some(value) = header(name) {
            recipients.push(value.trim_matches(['<', '>']).to_owned());
        }
    }
    let files = message
        .attachments()
        .filter_map(|part| {
            use mail_parser::MimeHeaders;
            // Inline text parts of a multipart/alternative are the body.
            let name = part.attachment_name()?.to_owned();
            Some((name, part.contents().to_vec()))
        })
        .collect();
    Some(Parsed {
        message_id,
        from,
        subject,
        original,
        automatic,
        files,
        recipients,
    })
}

impl App {
    /// The reply domain, when replies are taken.
    pub fn reply_domain(&self) -> Option<&str> {
        self.channels.reply_domain.as_deref()
    }

    /// `reply+<id><tag>@<domain>` for a reply address's id.
    pub(super) fn reply_address_of(&self, id: &str) -> Option<String> {
        let domain = self.reply_domain()?;
        let raw = BASE32_NOPAD
            .decode(id.to_ascii_uppercase().as_bytes())
            .ok()?;
        let tag: [u8; TAG_BYTES] = self.keys.reply_tag(&raw);
        Some(format!(
            "{PREFIX}{id}{}@{domain}",
            BASE32_NOPAD.encode(&tag).to_ascii_lowercase()
        ))
    }

    /// A new random id for a reply address (kept only if none exists).
    pub(super) fn new_reply_id() -> String {
        let bytes: [u8; ID_BYTES] = rand::random();
        BASE32_NOPAD.encode(&bytes).to_ascii_lowercase()
    }

    /// The id an address names, when it is one of this server's reply
    /// addresses and its signature holds (no database read for forgeries).
    pub fn verify_reply_address(&self, address: &str) -> Option<String> {
        let domain = self.reply_domain()?;
        let address = address.trim().trim_matches(['<', '>']).to_ascii_lowercase();
        let (local, at) = address.rsplit_once('@')?;
        if at != domain.to_ascii_lowercase() {
            return None;
        }
        let token = local.strip_prefix(PREFIX)?;
        let decoded = BASE32_NOPAD
            .decode(token.to_ascii_uppercase().as_bytes())
            .ok()?;
        if decoded.len() != ID_BYTES + TAG_BYTES {
            return None;
        }
        let (id, tag) = decoded.split_at(ID_BYTES);
        let expected: [u8; TAG_BYTES] = self.keys.reply_tag(id);
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return None;
        }
        Some(BASE32_NOPAD.encode(id).to_ascii_lowercase())
    }

    /// Whether mail to `address` would be taken (the SMTP listener asks
    /// at `RCPT TO`).
    pub async fn accepts_reply_to(&self, address: &str) -> AppResult<bool> {
        let Some(id) = self.verify_reply_address(address) else {
            return Ok(false);
        };
        let Some(found) = self.store.get_reply_address(&id).await? else {
            return Ok(false);
        };
        Ok(self.person(&found).await?.is_some())
    }

    /// The person of an address, when they are still active (an erased or
    /// deactivated person's addresses are refused).
    async fn person(&self, address: &ReplyAddress) -> AppResult<Option<Person>> {
        let p = address.practice_id;
        Ok(match address.member {
            Member::Staff(id) => match self.store.get_staff(p, id).await {
                Ok(staff) if staff.active => Some(Person::Staff(staff)),
                Ok(_) | Err(crate::store::StoreError::NotFound) => None,
                Err(other) => return Err(other.into()),
            },
            Member::Contact(id) => match self.store.get_contact(p, id).await {
                Ok(contact)
                    if contact.status == ContactStatus::Active
                        && contact.name != crate::store::FORMER_CONTACT =>
                {
                    Some(Person::Contact(contact))
                }
                Ok(_) | Err(crate::store::StoreError::NotFound) => None,
                Err(other) => return Err(other.into()),
            },
        })
    }

    /// X11: takes one received e-mail. `envelope` lists the SMTP
    /// recipients (empty for `POST /inbound/email`: the headers name them).
    #[instrument(skip_all)]
    pub async fn receive_email(
        &self,
        raw: &[u8],
        envelope: &[String],
    ) -> AppResult<InboundOutcome> {
        let Some(parsed) = parse(raw) else {
            return Ok(InboundOutcome::Refused("not an e-mail".into()));
        };
        let mut address = None;
        for candidate in envelope.iter().chain(parsed.recipients.iter()) {
            if let Some(id) = self.verify_reply_address(candidate)
                && let Some(found) = self.store.get_reply_address(&id).await?
            {
                address = Some(found);
                break;
            }
        }
        let Some(address) = address else {
            return Ok(InboundOutcome::UnknownAddress);
        };
        if self
            .store
            .inbound_mail_by_message_id(&parsed.message_id)
            .await?
            .is_some()
        {
            return Ok(InboundOutcome::Duplicate);
        }
        let Some(person) = self.person(&address).await? else {
            return Ok(InboundOutcome::UnknownAddress);
        };
        let now = self.clock.now();
        let mut record = InboundMail {
            id: uuid::Uuid::now_v7().to_string(),
            message_id: parsed.message_id.clone(),
            practice_id: address.practice_id,
            reply_address_id: address.id.clone(),
            member: address.member,
            conversation: address.conversation,
            from_address: parsed.from.clone(),
            subject: parsed.subject.chars().take(300).collect(),
            body: strip_reply(&parsed.original),
            original_text: parsed.original.replace('\0', ""),
            status: InboundStatus::Ignored,
            raw_key: None,
            message_seq: None,
            note: None,
            created_at: now,
        };
        if parsed.automatic {
            self.store.record_inbound_mail(&record).await?;
            tracing::info!(message_id = %parsed.message_id, "an automatic reply was not posted");
            return Ok(InboundOutcome::Ignored);
        }
        if !self.reaches(&person, address.conversation).await? {
            return self.no_access(&person, &address, record).await;
        }
        if !parsed.from.eq_ignore_ascii_case(person.email()) {
            // The token decides who it is; someone else's From waits for
            // staff, with the raw e-mail kept for the decision.
            let key = format!("{}/inbound/{}", address.practice_id, record.id);
            let bytes = raw[..raw.len().min(MAX_RAW)].to_vec();
            self.files
                .write_small(&key, bytes)
                .await
                .map_err(|e| AppError::internal("could not keep a held e-mail", e))?;
            record.status = InboundStatus::Held;
            record.raw_key = Some(key);
            record.note = Some(format!("From {} is not {}", parsed.from, person.email()));
            self.store.record_inbound_mail(&record).await?;
            tracing::info!(message_id = %parsed.message_id, "a reply from another address was held");
            return Ok(InboundOutcome::Held);
        }
        let outcome = self
            .post_reply(&person, &address, &parsed, &mut record)
            .await?;
        if self.store.record_inbound_mail(&record).await? {
            Ok(outcome)
        } else {
            Ok(InboundOutcome::Duplicate)
        }
    }

    /// Whether the person still reaches the conversation.
    async fn reaches(&self, person: &Person, conversation: Conversation) -> AppResult<bool> {
        let result = match conversation {
            Conversation::Chat(chat) => {
                let (p, member) = match person {
                    Person::Staff(s) => (s.practice_id, Member::Staff(s.id)),
                    Person::Contact(c) => (c.practice_id, Member::Contact(c.id)),
                };
                self.store
                    .chat_for_member(p, chat, member)
                    .await
                    .map(|_| ())
                    .map_err(AppError::from)
            }
            Conversation::Question(id) => {
                self.visible_question(person.actor(), id).await.map(|_| ())
            }
        };
        match result {
            Ok(()) => Ok(true),
            Err(AppError::NotFound | AppError::Forbidden) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// A reply to a conversation the person left: recorded, and answered
    /// by a short e-mail (to the person's own address).
    async fn no_access(
        &self,
        person: &Person,
        address: &ReplyAddress,
        mut record: InboundMail,
    ) -> AppResult<InboundOutcome> {
        record.status = InboundStatus::NoAccess;
        if !self.store.record_inbound_mail(&record).await? {
            return Ok(InboundOutcome::Duplicate);
        }
        let what = match address.conversation {
            Conversation::Chat(_) => "chat",
            Conversation::Question(_) => "question",
        };
        let text = format!(
            "Your reply \"{}\" was not posted: you are no longer in this {what}.\n\n\
             Sign in to see the conversations you are in: {}\n",
            record.subject,
            self.link(match person {
                Person::Staff(_) => "/app",
                Person::Contact(_) => "/portal",
            })
        );
        self.email_back(person, address.practice_id, &record, text)
            .await?;
        Ok(InboundOutcome::NoAccess)
    }

    async fn email_back(
        &self,
        person: &Person,
        practice: PracticeId,
        record: &InboundMail,
        text: String,
    ) -> AppResult<()> {
        let name = self.store.get_practice(practice).await?.name;
        let mut tx = self.store.begin().await?;
        tx.enqueue(
            &NewOutboxItem {
                practice_id: Some(practice),
                channel: Channel::Email,
                idempotency_key: format!("inbound-{}", record.id),
                recipient: person.email().to_owned(),
                subject: format!("{name}: your reply was not posted"),
                body_text: text,
                body_html: None,
            },
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        Ok(())
    }

    /// Posts the reply through the conversation's own use case; fills in
    /// `record` with what became of it.
    async fn post_reply(
        &self,
        person: &Person,
        address: &ReplyAddress,
        parsed: &Parsed,
        record: &mut InboundMail,
    ) -> AppResult<InboundOutcome> {
        let practice = address.practice_id;
        let mut files: Vec<StoredFile> = Vec::new();
        for (name, bytes) in &parsed.files {
            let chunk: Result<bytes::Bytes, std::convert::Infallible> =
                Ok(bytes::Bytes::from(bytes.clone()));
            match self
                .files
                .save(practice, name, futures_util::stream::iter([chunk]))
                .await
            {
                Ok(file) => files.push(file),
                Err(FileError::Empty { .. }) => {}
                Err(error) => {
                    self.discard_uploads(&files).await;
                    return self.refuse(person, record, error.to_string()).await;
                }
            }
        }
        if record.body.trim().is_empty() && files.is_empty() {
            return self
                .refuse(person, record, "the reply had no text of its own.".into())
                .await;
        }
        let origin = ClientInfo {
            ip: "e-mail".into(),
            user_agent: "reply by e-mail".into(),
            request_id: record.message_id.chars().take(100).collect(),
        };
        let posted = match address.conversation {
            Conversation::Chat(chat) => {
                let key = format!(
                    "email:{}",
                    &hex::encode(Sha256::digest(record.message_id.as_bytes()))[..40]
                );
                self.send_message_from(
                    person.actor(),
                    chat,
                    &super::chats::SendInput {
                        body: record.body.clone(),
                        key,
                        files: files.clone(),
                        ..Default::default()
                    },
                    Some(&origin),
                )
                .await
                .map(|m| Some(m.seq))
            }
            Conversation::Question(id) => match person {
                Person::Contact(contact) => self
                    .answer_question(contact, id, &record.body, &files, &origin)
                    .await
                    .map(|()| None),
                Person::Staff(staff) => self
                    .follow_up_question(staff, id, &record.body, &files, false)
                    .await
                    .map(|()| None),
            },
        };
        match posted {
            Ok(seq) => {
                record.status = InboundStatus::Posted;
                record.message_seq = seq;
                tracing::info!(message_id = %record.message_id, "a reply by e-mail was posted");
                Ok(InboundOutcome::Posted)
            }
            Err(AppError::Invalid(error)) => {
                self.discard_uploads(&files).await;
                self.refuse(person, record, error.to_string()).await
            }
            Err(other) => {
                self.discard_uploads(&files).await;
                Err(other)
            }
        }
    }

    /// Not posted: recorded as refused, and the person is told why.
    async fn refuse(
        &self,
        person: &Person,
        record: &mut InboundMail,
        reason: String,
    ) -> AppResult<InboundOutcome> {
        record.status = InboundStatus::Refused;
        record.note = Some(reason.clone());
        let text = format!(
            "Your reply \"{}\" was not posted: {reason}\n\nYou can send it from the portal instead: {}\n",
            record.subject,
            self.link(match person {
                Person::Staff(_) => "/app",
                Person::Contact(_) => "/portal",
            })
        );
        self.email_back(person, record.practice_id, record, text)
            .await?;
        Ok(InboundOutcome::Refused(reason))
    }

    /// The e-mails held for staff (admins decide).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn held_emails(&self, actor: &Staff) -> AppResult<Vec<InboundMail>> {
        if !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::Forbidden);
        }
        Ok(self
            .store
            .inbound_mail_in(actor.practice_id, InboundStatus::Held)
            .await?)
    }

    /// A received e-mail in full, for staff of its practice who reach its
    /// conversation (admins reach every one).
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn inbound_email(&self, actor: &Staff, id: &str) -> AppResult<InboundMail> {
        let mail = self.store.get_inbound_mail(actor.practice_id, id).await?;
        if policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Ok(mail);
        }
        if !actor.active
            || !self
                .reaches(&Person::Staff(actor.clone()), mail.conversation)
                .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(mail)
    }

    /// The e-mail a chat message came from, for staff in the chat.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), chat = %chat, seq
    ))]
    pub async fn email_of_message(
        &self,
        actor: &Staff,
        chat: crate::domain::ChatId,
        seq: i64,
    ) -> AppResult<Option<InboundMail>> {
        self.store
            .chat_for_member(actor.practice_id, chat, Member::Staff(actor.id))
            .await?;
        Ok(self
            .store
            .inbound_mail_of_message(actor.practice_id, chat, seq)
            .await?)
    }

    /// The messages of a chat that came by e-mail (their page offers the
    /// full e-mail to staff).
    pub async fn emailed_messages(
        &self,
        actor: &Staff,
        chat: crate::domain::ChatId,
    ) -> AppResult<Vec<i64>> {
        Ok(self.store.emailed_messages(actor.practice_id, chat).await?)
    }

    /// An admin approves a held e-mail: it is posted as the address's
    /// person (access checked again), or refused as any reply would be.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn approve_held_email(&self, actor: &Staff, id: &str) -> AppResult<InboundOutcome> {
        let mail = self.held(actor, id).await?;
        let address = ReplyAddress {
            id: mail.reply_address_id.clone(),
            practice_id: mail.practice_id,
            member: mail.member,
            conversation: mail.conversation,
        };
        let raw = match &mail.raw_key {
            Some(key) => self
                .files
                .read_small(key, MAX_RAW)
                .await
                .map_err(|e| AppError::internal("could not read a held e-mail", e))?,
            None => None,
        };
        let Some(parsed) = raw.as_deref().and_then(parse) else {
            return Err(AppError::conflict(
                "This e-mail can no longer be read; discard it.",
            ));
        };
        let Some(person) = self.person(&address).await? else {
            return Err(AppError::conflict(
                "The person this reply was sent for is no longer active; discard it.",
            ));
        };
        if !self.reaches(&person, address.conversation).await? {
            return Err(AppError::conflict(
                "The person this reply was sent for is no longer in the conversation; discard it.",
            ));
        }
        let mut record = mail.clone();
        let outcome = self
            .post_reply(&person, &address, &parsed, &mut record)
            .await?;
        self.store
            .decide_inbound_mail(
                actor.practice_id,
                id,
                record.status,
                record.message_seq,
                &actor.id.to_string(),
                self.clock.now(),
            )
            .await?;
        if let Some(key) = &mail.raw_key {
            let _ = self.files.delete(key).await;
        }
        Ok(outcome)
    }

    /// An admin discards a held e-mail.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn discard_held_email(&self, actor: &Staff, id: &str) -> AppResult<()> {
        let mail = self.held(actor, id).await?;
        self.store
            .decide_inbound_mail(
                actor.practice_id,
                id,
                InboundStatus::Discarded,
                None,
                &actor.id.to_string(),
                self.clock.now(),
            )
            .await?;
        if let Some(key) = &mail.raw_key {
            let _ = self.files.delete(key).await;
        }
        Ok(())
    }

    async fn held(&self, actor: &Staff, id: &str) -> AppResult<InboundMail> {
        if !policy::staff_may_manage_practice(actor, actor.practice_id) {
            return Err(AppError::Forbidden);
        }
        let mail = self.store.get_inbound_mail(actor.practice_id, id).await?;
        if mail.status != InboundStatus::Held {
            return Err(AppError::conflict("This e-mail was already decided."));
        }
        Ok(mail)
    }
}
