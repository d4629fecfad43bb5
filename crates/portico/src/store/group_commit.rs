//! Group commit for message sends (M1, M2): sends that arrive while the
//! previous batch is being written wait in a queue, and are then written
//! together in one transaction, so one durable commit (one `fsync` on
//! SQLite) acknowledges many messages. A sender hears back only after the
//! commit of its batch; when a batch fails, every sender in it hears of the
//! failure and nothing of the batch is stored.
//!
//! On SQLite one writer drains the queue (the database has one writer at a
//! time anyway); on PostgreSQL a few writers do, each with its own batch.
//! Within a batch, messages are written in chat order, so that two batches
//! lock the rows of their chats in the same order and cannot deadlock.

use super::{Backend, FileMeta, Member, Message, Store, StoreError, StoreResult};
use crate::domain::{ChatId, ClientId, Millis, PracticeId};
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
}

/// What became of a send: the stored message, and whether this send stored
/// it (`false`: an earlier send with the same key did).
pub type Appended = (Message, bool);

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

    /// Keeps the writers from starting a new batch until the guard is
    /// dropped (a batch already being written finishes first): what is sent
    /// meanwhile is written as one batch. Tests use it.
    pub async fn hold(&self) -> OwnedRwLockWriteGuard<()> {
        self.inner.gate.clone().write_owned().await
    }

    fn start(&self) {
        self.inner.started.get_or_init(|| {
            let writers = match self.inner.store.backend() {
                Backend::Sqlite => 1,
                Backend::Postgres => 4,
            };
            for _ in 0..writers {
                let store = self.inner.store.clone();
                let receiver = self.inner.receiver.clone();
                let gate = self.inner.gate.clone();
                let waiting = self.inner.waiting.clone();
                let stats = self.inner.stats.clone();
                tokio::spawn(write_batches(store, receiver, gate, waiting, stats));
            }
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
        match write(&store, &batch).await {
            Ok(results) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
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
}

/// Writes a batch in one transaction. A send to a chat that has gone is
/// refused alone (nothing of it was written); any other error fails the
/// whole batch.
async fn write(store: &Store, batch: &[Pending]) -> StoreResult<Vec<StoreResult<Appended>>> {
    let mut tx = store.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for Pending { message: m, .. } in batch {
        let appended = tx
            .append_message(
                m.practice,
                m.chat,
                m.sender,
                &m.sender_name,
                &m.body,
                m.reply_to,
                &m.key,
                m.now,
            )
            .await;
        match appended {
            Ok((message, true)) => {
                for file in &m.files {
                    tx.insert_file(&FileMeta {
                        message_seq: Some(message.seq),
                        ..file.clone()
                    })
                    .await?;
                }
                if let Some(client) = m.status_of {
                    tx.set_client_status(m.practice, client, &m.body, &m.sender_name, m.now)
                        .await?;
                }
                results.push(Ok((message, true)));
            }
            Ok(earlier) => results.push(Ok(earlier)),
            Err(StoreError::NotFound) => results.push(Err(StoreError::NotFound)),
            Err(error) => return Err(error),
        }
    }
    tx.commit().await?;
    Ok(results)
}
