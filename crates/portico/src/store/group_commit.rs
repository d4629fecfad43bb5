//! Group commit for message sends (M1, M2): sends that arrive while the
//! previous batch is being written wait in a queue, and are then written
//! together in one transaction, so one durable commit (one `fsync` on
//! SQLite) acknowledges many messages. A sender hears back only after the
//! commit of its batch; when a batch fails, every sender in it hears of the
//! failure and nothing of the batch is stored.
//!
//! One writer drains the queue. On SQLite the database has one writer at a
//! time anyway; on PostgreSQL a second writer would let two batches race on
//! the same idempotency key (a double-clicked send), and the loser's whole
//! batch would fail. Within a batch, messages are written in chat order, so
//! that batches of several instances lock their chats' rows in the same
//! order. Another instance can still store the same double-clicked send
//! between this batch's look-up of earlier keys and its insert: the insert
//! then skips that message (`ON CONFLICT DO NOTHING`), the transaction is
//! rolled back before anything of it is visible, and the batch is written
//! again, its look-up now finding the stored message for that sender.

use super::batch_sql::{BatchSql, Bind, Columns, FromColumns, SqliteBatch};
use super::chats::MessageRow;
use super::{
    ClientMessages, FileMeta, Member, Message, Store, StoreError, StoreResult, WebhookEvent,
    WebhookPost, json_array, parse_id,
};
use crate::domain::{ChatId, ClientId, MessageId, Millis, PracticeId, StaffId};
use futures_util::FutureExt;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{Mutex, OwnedRwLockWriteGuard, RwLock, mpsc, oneshot};

/// The most sends written in one transaction.
const MAX_BATCH: usize = 512;
/// Sends waiting for a writer before new ones wait for room.
const QUEUE: usize = 8192;

/// A message to store.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub practice: PracticeId,
    pub chat: ChatId,
    pub sender: Member,
    pub sender_name: String,
    pub body: String,
    pub reply_to: Option<i64>,
    /// The sender's idempotency key: the same key twice stores one message.
    pub key: String,
    pub now: Millis,
    /// Files sent with the message (their `message_seq` is filled in).
    pub files: Vec<FileMeta>,
    /// M16: the message becomes this client's current status.
    pub status_of: Option<ClientId>,
    /// S7: an automatic answer; it marks nothing read for its sender.
    pub automatic: bool,
    /// X2: audit entries written with the message (a contact's uploads).
    pub audit: Vec<super::NewAudit>,
    /// X7: the sender marked it urgent (it breaks through quiet hours).
    pub urgent: bool,
}

/// What became of a send.
#[derive(Clone, Debug)]
pub struct Appended {
    pub message: Message,
    /// Whether this send stored it (`false`: an earlier send with the
    /// same key did).
    pub new: bool,
    /// Who hears a new message: the chat's members who reach it, read in
    /// the transaction that stored it (empty for a repeat).
    pub recipients: Vec<Member>,
    /// Whether its batch queued webhook deliveries (X3): only then is the
    /// webhook worker woken, whose look for due deliveries is a write.
    pub webhooks_queued: bool,
    /// N1: a client's new message raised these team members' alerts (in
    /// the transaction that stored it), with this text.
    pub alert: Option<Alerted>,
}

/// N1: the staff alerts a client's message raised.
#[derive(Clone, Debug)]
pub struct Alerted {
    pub staff: Vec<StaffId>,
    /// "Hannah Lee wrote about Northwind Bakery".
    pub text: String,
}

struct Pending {
    message: NewMessage,
    reply: oneshot::Sender<StoreResult<Appended>>,
}

/// The queue sends wait in; cheap to clone.
#[derive(Clone)]
pub struct SendQueue {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    sender: mpsc::Sender<Pending>,
    receiver: Arc<Mutex<mpsc::Receiver<Pending>>>,
    /// Writers take it for reading around each batch; [`SendQueue::hold`]
    /// takes it for writing.
    gate: Arc<RwLock<()>>,
    started: OnceLock<()>,
    /// Sends not yet being written.
    waiting: Arc<AtomicUsize>,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    messages: AtomicU64,
    /// Batches written by SQLite's message writer.
    on_writer: AtomicU64,
}

impl std::fmt::Debug for SendQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendQueue")
            .field("queued", &self.queued())
            .field("batches", &self.inner.stats.batches.load(Ordering::Relaxed))
            .finish()
    }
}

impl SendQueue {
    pub fn new(store: Store) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        Self {
            inner: Arc::new(Inner {
                store,
                sender,
                receiver: Arc::new(Mutex::new(receiver)),
                gate: Arc::new(RwLock::new(())),
                started: OnceLock::new(),
                waiting: Arc::new(AtomicUsize::new(0)),
                stats: Arc::new(Stats::default()),
            }),
        }
    }

    /// Stores a message durably, together with whatever other sends are
    /// waiting; returns once its batch has committed.
    pub async fn append(&self, message: NewMessage) -> StoreResult<Appended> {
        self.start();
        let (reply, answer) = oneshot::channel();
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
        if self
            .inner
            .sender
            .send(Pending { message, reply })
            .await
            .is_err()
        {
            self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::BatchFailed(
                "the message writer has stopped".into(),
            ));
        }
        answer
            .await
            .map_err(|_| StoreError::BatchFailed("the message writer has stopped".into()))?
    }

    /// Sends not yet being written.
    pub fn queued(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// Batches and messages written so far.
    pub fn written(&self) -> (u64, u64) {
        (
            self.inner.stats.batches.load(Ordering::Relaxed),
            self.inner.stats.messages.load(Ordering::Relaxed),
        )
    }

    /// Batches written by SQLite's message writer, on its own connection
    /// (the others went through the pool).
    pub fn written_by_sqlite_writer(&self) -> u64 {
        self.inner.stats.on_writer.load(Ordering::Relaxed)
    }

    /// Keeps the writer from starting a new batch until the guard is
    /// dropped (a batch already being written finishes first): what is sent
    /// meanwhile is written as one batch. Tests use it.
    pub async fn hold(&self) -> OwnedRwLockWriteGuard<()> {
        self.inner.gate.clone().write_owned().await
    }

    fn start(&self) {
        self.inner.started.get_or_init(|| {
            tokio::spawn(write_batches(
                self.inner.store.clone(),
                self.inner.receiver.clone(),
                self.inner.gate.clone(),
                self.inner.waiting.clone(),
                self.inner.stats.clone(),
            ));
        });
    }
}

/// One writer: takes what is waiting, writes it in one transaction, and
/// answers every sender; until every sender has gone.
async fn write_batches(
    store: Store,
    receiver: Arc<Mutex<mpsc::Receiver<Pending>>>,
    gate: Arc<RwLock<()>>,
    waiting: Arc<AtomicUsize>,
    stats: Arc<Stats>,
) {
    loop {
        let mut batch = Vec::new();
        let _open = {
            let mut receiver = receiver.lock().await;
            if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
            let open = gate.read().await;
            // What came in while waiting goes in too.
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(pending) => batch.push(pending),
                    Err(_) => break,
                }
            }
            waiting.fetch_sub(batch.len(), Ordering::Relaxed);
            open
        };
        // Chat order: see the module's comment on deadlocks.
        batch.sort_by_key(|p| (p.message.practice, p.message.chat));
        match store.sqlite_writer() {
            // On SQLite, a batch of plain messages is one job of the
            // message writer, which answers its senders once committed.
            Some(writer) if batch.iter().all(|p| p.message.is_plain()) => {
                let stats = stats.clone();
                let run = writer.run(move |connection| {
                    let result = write_on_sqlite(connection, &batch);
                    answer(batch, result, &stats, true);
                });
                if let Err(error) = run.await {
                    // Its senders hear it from their dropped answers.
                    tracing::error!(%error, "a batch of messages was not stored");
                }
            }
            _ => {
                let result = write(&store, &batch).await;
                answer(batch, result, &stats, false);
            }
        }
    }
}

/// Tells each sender of `batch` what became of its send (written by
/// SQLite's message writer or not).
fn answer(
    batch: Vec<Pending>,
    result: StoreResult<Vec<StoreResult<Appended>>>,
    stats: &Stats,
    on_writer: bool,
) {
    match result {
        Ok(results) => {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            if on_writer {
                stats.on_writer.fetch_add(1, Ordering::Relaxed);
            }
            stats
                .messages
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            for (pending, result) in batch.into_iter().zip(results) {
                // A sender that gave up waiting is no one's concern.
                let _ = pending.reply.send(result);
            }
        }
        Err(error) => {
            tracing::error!(%error, sends = batch.len(), "a batch of messages was not stored");
            let error = error.to_string();
            for pending in batch {
                let _ = pending
                    .reply
                    .send(Err(StoreError::BatchFailed(error.clone())));
            }
        }
    }
}

/// How many times a batch is written again after another instance stored
/// one of its keys first (each time, at least one more key is found).
const KEY_RACES: usize = 4;

/// Writes a batch on a transaction of the pool (see [`write_once`]);
/// written again when another instance stored one of its messages' keys
/// first.
async fn write(store: &Store, batch: &[Pending]) -> StoreResult<Vec<StoreResult<Appended>>> {
    for _ in 0..KEY_RACES {
        let mut tx = store.begin().await?;
        if let Some(results) = write_once(&mut tx, batch).await? {
            tx.commit().await?;
            return Ok(results);
        }
        key_race(batch);
    }
    Err(key_races_lost())
}

/// Writes a batch on SQLite's message writer's connection, on its thread:
/// every statement of the transaction runs here, without a hand-off.
fn write_on_sqlite(
    connection: &mut rusqlite::Connection,
    batch: &[Pending],
) -> StoreResult<Vec<StoreResult<Appended>>> {
    for _ in 0..KEY_RACES {
        let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut db = SqliteBatch { tx };
        // The writer's statements run as they are called: the future is
        // ready when first polled.
        let written = write_once(&mut db, batch).now_or_never().ok_or_else(|| {
            StoreError::BatchFailed("the message writer's batch did not finish".into())
        })??;
        if let Some(results) = written {
            db.tx.commit()?;
            return Ok(results);
        }
        key_race(batch);
    }
    Err(key_races_lost())
}

fn key_race(batch: &[Pending]) {
    tracing::info!(
        sends = batch.len(),
        "another instance stored a send of this batch first; writing the batch again"
    );
}

fn key_races_lost() -> StoreError {
    StoreError::BatchFailed("other instances kept storing the same sends first".into())
}

/// Writes a batch in one transaction, in a handful of set-based statements
/// whatever its size (each statement takes the batch as a JSON array): the
/// earlier sends with the same keys, the chats' next numbers, the messages,
/// the members' flags. A send to a chat that has gone is refused alone
/// (nothing of it is written); any other error fails the whole batch.
/// `None` (nothing written) when another instance stored one of the keys
/// after this batch looked them up.
async fn write_once<D: BatchSql + Extras>(
    db: &mut D,
    batch: &[Pending],
) -> StoreResult<Option<Vec<StoreResult<Appended>>>> {
    let backend = db.backend();
    let mut results: Vec<Option<StoreResult<Appended>>> = batch.iter().map(|_| None).collect();

    // 1. Retries: a key already used by its sender gets the first message.
    let keys: Vec<_> = batch
        .iter()
        .map(|p| {
            let m = &p.message;
            SenderKey {
                practice_id: m.practice,
                sender_kind: m.sender.kind(),
                sender_id: m.sender.id(),
                idempotency_key: &m.key,
            }
        })
        .collect();
    let existing: Vec<Existing> = db
        .rows(
            backend.existing_messages_sql(),
            &[json_array(&keys)?.into()],
        )
        .await?;
    let mut by_key: HashMap<(Member, String), usize> = HashMap::new();
    let mut stored: Vec<Message> = Vec::new();
    for row in existing {
        let message = Message::try_from(row.message)?;
        by_key.insert((message.sender, row.idempotency_key), stored.len());
        stored.push(message);
    }
    // The sends that store a message, and those that repeat one of the batch.
    let mut fresh = Vec::new();
    let mut repeats = Vec::new();
    let mut first_of: HashMap<(Member, &str), usize> = HashMap::new();
    for (i, p) in batch.iter().enumerate() {
        let m = &p.message;
        if let Some(&at) = by_key.get(&(m.sender, m.key.clone())) {
            results[i] = Some(Ok(Appended {
                message: stored[at].clone(),
                new: false,
                recipients: Vec::new(),
                webhooks_queued: false,
                alert: None,
            }));
        } else if let Some(&first) = first_of.get(&(m.sender, m.key.as_str())) {
            repeats.push((i, first));
        } else {
            first_of.insert((m.sender, m.key.as_str()), i);
            fresh.push(i);
        }
    }

    // 2. Senders who no longer reach their chat (a client taken away from a
    // contact, a member taken out) are refused alone. On PostgreSQL the
    // chats' contacts are locked first, so a revocation either committed
    // before this check or waits for this batch.
    if !fresh.is_empty() {
        let chats: Vec<_> = fresh
            .iter()
            .map(|&i| ChatRef::of(&batch[i].message))
            .collect();
        if let Some(lock) = backend.lock_chat_contacts_sql() {
            db.rows::<String>(lock, &[json_array(&chats)?.into()])
                .await?;
        }
        let senders: Vec<_> = fresh
            .iter()
            .map(|&i| {
                let m = &batch[i].message;
                ChatMember {
                    practice_id: m.practice,
                    chat_id: m.chat,
                    member_kind: m.sender.kind(),
                    member_id: m.sender.id(),
                }
            })
            .collect();
        let allowed: Vec<(String, String, String)> = db
            .rows(
                backend.senders_allowed_sql(),
                &[json_array(&senders)?.into()],
            )
            .await?;
        let mut may_send: Vec<(ChatId, Member)> = Vec::new();
        for (chat, kind, id) in &allowed {
            may_send.push((parse_id(chat)?, Member::parse(kind, id)?));
        }
        fresh.retain(|&i| {
            let m = &batch[i].message;
            // S7: the practice's automatic answer speaks for the practice,
            // not for a member; the contact it answers was checked.
            let ok = m.automatic || may_send.contains(&(m.chat, m.sender));
            if !ok {
                results[i] = Some(Err(StoreError::NotFound));
            }
            ok
        });
    }

    // 3. Numbers: each chat's next ones, taken together.
    let mut per_chat: Vec<((PracticeId, ChatId), i64, Millis)> = Vec::new();
    for &i in &fresh {
        let m = &batch[i].message;
        match per_chat
            .iter_mut()
            .find(|(chat, ..)| *chat == (m.practice, m.chat))
        {
            Some((_, n, at)) => {
                *n += 1;
                *at = (*at).max(m.now);
            }
            None => per_chat.push(((m.practice, m.chat), 1, m.now)),
        }
    }
    let mut next_seq: HashMap<ChatId, i64> = HashMap::new();
    if !per_chat.is_empty() {
        let wanted: Vec<_> = per_chat
            .iter()
            .map(|&((practice_id, chat_id), taken, at)| SeqsToTake {
                practice_id,
                chat_id,
                taken,
                last_message_at: at.0,
            })
            .collect();
        let wanted = [Bind::from(json_array(&wanted)?)];
        if let Some(lock) = backend.lock_chats_sql() {
            db.rows::<String>(lock, &wanted).await?;
        }
        let taken: Vec<(String, i64)> = db.rows(backend.take_seqs_sql(), &wanted).await?;
        for (chat, last) in taken {
            let chat: ChatId = parse_id(&chat)?;
            if let Some((_, n, _)) = per_chat.iter().find(|((_, c), ..)| *c == chat) {
                next_seq.insert(chat, last - n + 1);
            }
        }
    }

    // 4. The messages.
    let mut rows = Vec::new();
    let mut read_up_to: Vec<((PracticeId, ChatId, Member), i64)> = Vec::new();
    let mut written: Vec<(usize, Message)> = Vec::new();
    for &i in &fresh {
        let m = &batch[i].message;
        let Some(seq) = next_seq.get_mut(&m.chat) else {
            // The chat has gone (deleted meanwhile).
            results[i] = Some(Err(StoreError::NotFound));
            continue;
        };
        let message = Message {
            id: MessageId::new(),
            chat_id: m.chat,
            seq: *seq,
            sender: m.sender,
            sender_name: m.sender_name.clone(),
            body: m.body.clone(),
            reply_to_seq: m.reply_to,
            pinned: false,
            deleted: false,
            created_at: m.now,
            automatic: m.automatic,
            urgent: m.urgent,
        };
        *seq += 1;
        rows.push(MessageInsert {
            id: message.id,
            practice_id: m.practice,
            chat_id: m.chat,
            seq: message.seq,
            sender_kind: m.sender.kind(),
            sender_id: m.sender.id(),
            sender_name: &m.sender_name,
            body: &m.body,
            idempotency_key: &m.key,
            reply_to_seq: m.reply_to,
            created_at: m.now.0,
            automatic: i64::from(m.automatic),
            urgent: i64::from(m.urgent),
        });
        let reader = (m.practice, m.chat, m.sender);
        if !m.automatic {
            match read_up_to.iter_mut().find(|(r, _)| *r == reader) {
                Some((_, up_to)) => *up_to = message.seq,
                None => read_up_to.push((reader, message.seq)),
            }
        }
        written.push((i, message));
    }
    if !rows.is_empty() {
        let inserted: Vec<String> = db
            .rows(backend.insert_messages_sql(), &[json_array(&rows)?.into()])
            .await?;
        if inserted.len() < rows.len() {
            // Dropped, the transaction rolls back: no numbers taken, no gap.
            return Ok(None);
        }
        // 5. Hidden chats come back (M6); senders have read their own.
        let chats = ChatRef::of_chats(&per_chat);
        let readers: Vec<_> = read_up_to
            .iter()
            .map(
                |&((practice_id, chat_id, member), last_read_seq)| ReadUpTo {
                    practice_id,
                    chat_id,
                    member_kind: member.kind(),
                    member_id: member.id(),
                    last_read_seq,
                },
            )
            .collect();
        let [unhide, mark_read] = backend.members_after_send_sql();
        db.exec(unhide, &[json_array(&chats)?.into()]).await?;
        db.exec(mark_read, &[json_array(&readers)?.into()]).await?;
    }
    // Files, status and audit entries: few sends have them.
    for (i, message) in &written {
        let m = &batch[*i].message;
        if !m.is_plain() {
            db.extras(m, message).await?;
        }
    }
    // X3: the practices' webhooks hear of the messages and their files.
    let webhooks_queued = !written.is_empty()
        && super::webhooks::queue_webhooks(db, &webhook_posts(batch, &written)).await? > 0;
    // 6. Who hears them: read here, so that a contact whose client was
    // taken away before this commit hears nothing of it.
    let mut recipients: HashMap<ChatId, Vec<Member>> = HashMap::new();
    if !written.is_empty() {
        let chats = ChatRef::of_chats(&per_chat);
        let rows: Vec<(String, String, String)> = db
            .rows(backend.chat_recipients_sql(), &[json_array(&chats)?.into()])
            .await?;
        for (chat, kind, id) in &rows {
            recipients
                .entry(parse_id(chat)?)
                .or_default()
                .push(Member::parse(kind, id)?);
        }
    }
    // 7. N1: clients' messages raise the staff alerts of their chats.
    let alerts =
        super::notify::raise_chat_alerts(db, &client_messages(batch, &written), &recipients)
            .await?;

    for (i, message) in written {
        let m = &batch[i].message;
        let alert = match alerts.get(&message.chat_id) {
            Some(raised) if matches!(m.sender, Member::Contact(_)) && !m.automatic => {
                Some(Alerted {
                    staff: raised.staff.clone(),
                    text: format!("{} wrote about {}", m.sender_name, raised.client_name),
                })
            }
            _ => None,
        };
        results[i] = Some(Ok(Appended {
            recipients: recipients
                .get(&message.chat_id)
                .cloned()
                .unwrap_or_default(),
            message,
            new: true,
            webhooks_queued,
            alert,
        }));
    }
    for (i, first) in repeats {
        results[i] = Some(match &results[first] {
            Some(Ok(first)) => Ok(Appended {
                message: first.message.clone(),
                new: false,
                recipients: Vec::new(),
                webhooks_queued: false,
                alert: None,
            }),
            _ => Err(StoreError::NotFound),
        });
    }
    Ok(Some(
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(StoreError::NotFound)))
            .collect(),
    ))
}

/// A message already stored under a sender's idempotency key.
struct Existing {
    message: MessageRow,
    idempotency_key: String,
}

impl FromColumns for Existing {
    fn from_columns(row: &impl Columns) -> StoreResult<Self> {
        Ok(Self {
            message: MessageRow::from_columns(row)?,
            idempotency_key: row.text(13)?,
        })
    }
}

impl NewMessage {
    /// Whether the send is its text alone: no files, status or audit
    /// entries (what SQLite's message writer writes).
    fn is_plain(&self) -> bool {
        self.files.is_empty() && self.status_of.is_none() && self.audit.is_empty()
    }
}

/// What few sends carry beside their text, on either connection.
pub(super) trait Extras {
    /// Writes `message`'s files, status and audit entries, `stored` as it.
    async fn extras(&mut self, message: &NewMessage, stored: &Message) -> StoreResult<()>;
}

impl Extras for super::StoreTx {
    async fn extras(&mut self, m: &NewMessage, message: &Message) -> StoreResult<()> {
        for file in &m.files {
            self.insert_file(&FileMeta {
                message_seq: Some(message.seq),
                ..file.clone()
            })
            .await?;
        }
        if let Some(client) = m.status_of {
            self.set_client_status(m.practice, client, &m.body, &m.sender_name, m.now)
                .await?;
            // N2: the client's other contacts are told of the new status.
            self.insert_status_items(
                m.practice,
                client,
                m.chat,
                message.id,
                &m.sender_name,
                &m.body,
                m.urgent,
                m.now,
            )
            .await?;
        }
        for entry in &m.audit {
            self.audit(entry).await?;
        }
        Ok(())
    }
}

impl Extras for SqliteBatch<'_> {
    /// Never called: batches with extras are written through the pool.
    async fn extras(&mut self, _: &NewMessage, _: &Message) -> StoreResult<()> {
        Err(StoreError::BatchFailed(
            "the message writer does not write files, statuses or audit entries".into(),
        ))
    }
}

/// N1: the clients' messages written, one entry per chat: the first's
/// number, the last's sender and time.
fn client_messages(batch: &[Pending], written: &[(usize, Message)]) -> Vec<ClientMessages> {
    let mut chats: Vec<ClientMessages> = Vec::new();
    for (i, message) in written {
        let m = &batch[*i].message;
        if !matches!(m.sender, Member::Contact(_)) || m.automatic {
            continue;
        }
        match chats
            .iter_mut()
            .find(|c| c.practice_id == m.practice && c.chat_id == m.chat)
        {
            Some(chat) => {
                chat.first_seq = chat.first_seq.min(message.seq);
                chat.last_sender_name.clone_from(&m.sender_name);
                chat.at = chat.at.max(m.now);
            }
            None => chats.push(ClientMessages {
                practice_id: m.practice,
                chat_id: m.chat,
                first_seq: message.seq,
                last_sender_name: m.sender_name.clone(),
                at: m.now,
            }),
        }
    }
    chats
}

/// `message.created` for each message written, `file.uploaded` for each
/// file sent with one; the text only where the practice allows it.
fn webhook_posts(batch: &[Pending], written: &[(usize, Message)]) -> Vec<WebhookPost> {
    let mut posts = Vec::new();
    for (i, message) in written {
        let m = &batch[*i].message;
        posts.push(
            WebhookPost::new(m.practice, WebhookEvent::MessageCreated, m.now)
                .with("message_id", message.id.to_string())
                .with("chat_id", m.chat.to_string())
                .with("seq", message.seq)
                .with("sender_kind", m.sender.kind())
                .with("sender_id", m.sender.id())
                .with("reply_to_seq", m.reply_to)
                .with("files", m.files.len())
                .with("urgent", m.urgent)
                .with("automatic", m.automatic)
                .with_content("text", m.body.clone()),
        );
        for file in &m.files {
            posts.push(
                WebhookPost::new(m.practice, WebhookEvent::FileUploaded, m.now)
                    .with("file_id", file.id.to_string())
                    .with("chat_id", m.chat.to_string())
                    .with("message_id", message.id.to_string())
                    .with("uploaded_by_kind", m.sender.kind())
                    .with("uploaded_by_id", m.sender.id())
                    .with("content_type", file.content_type.clone())
                    .with("size", file.size)
                    .with_content("name", file.name.clone()),
            );
        }
    }
    posts
}

// The JSON arrays a batch's statements take as `$1`, one type per shape.
// Each field's name is the key both engines' SQL texts read (see
// `Backend::existing_messages_sql` and the statements after it): on SQLite
// `value ->> 'chat_id'` over `json_each($1)`, on PostgreSQL a column of
// `json_to_recordset($1::json) AS j(chat_id text, …)`. Ids are written as
// their text, as they are stored.

/// A chat of the batch: for the locks on its contacts and on itself, the
/// members it shows again and who hears its messages.
#[derive(Serialize)]
pub(super) struct ChatRef {
    practice_id: PracticeId,
    chat_id: ChatId,
}

impl ChatRef {
    fn of(message: &NewMessage) -> Self {
        Self {
            practice_id: message.practice,
            chat_id: message.chat,
        }
    }

    /// The chats the batch writes to, once each.
    fn of_chats(per_chat: &[((PracticeId, ChatId), i64, Millis)]) -> Vec<Self> {
        per_chat
            .iter()
            .map(|&((practice_id, chat_id), ..)| Self {
                practice_id,
                chat_id,
            })
            .collect()
    }
}

/// A sender's idempotency key, to find the message it already stored.
#[derive(Serialize)]
pub(super) struct SenderKey<'a> {
    practice_id: PracticeId,
    sender_kind: &'static str,
    sender_id: String,
    idempotency_key: &'a str,
}

/// A sender as a member of the chat it sends to, to check that she
/// still reaches it.
#[derive(Serialize)]
pub(super) struct ChatMember {
    practice_id: PracticeId,
    chat_id: ChatId,
    member_kind: &'static str,
    member_id: String,
}

/// How many numbers the batch takes in a chat, and the time of its
/// latest message there.
#[derive(Serialize)]
pub(super) struct SeqsToTake {
    practice_id: PracticeId,
    chat_id: ChatId,
    taken: i64,
    last_message_at: i64,
}

/// A message to insert: the columns of `messages` it fills.
#[derive(Serialize)]
pub(super) struct MessageInsert<'a> {
    id: MessageId,
    practice_id: PracticeId,
    chat_id: ChatId,
    seq: i64,
    sender_kind: &'static str,
    sender_id: String,
    sender_name: &'a str,
    body: &'a str,
    idempotency_key: &'a str,
    reply_to_seq: Option<i64>,
    created_at: i64,
    automatic: i64,
    urgent: i64,
}

/// A sender who has read her chat up to her last message of the batch.
#[derive(Serialize)]
pub(super) struct ReadUpTo {
    practice_id: PracticeId,
    chat_id: ChatId,
    member_kind: &'static str,
    member_id: String,
    last_read_seq: i64,
}
