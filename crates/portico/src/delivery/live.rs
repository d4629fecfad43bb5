//! Live events (M14): one hub per process fans events out to the open
//! WebSockets of the people each event is for. Events are published only
//! after the change committed. On PostgreSQL the hub also relays every
//! event to the other instances through `NOTIFY`, and delivers theirs
//! (X4): a message sent through one instance reaches a browser on another.

use crate::domain::{ChatId, PracticeId};
use crate::store::Member;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Mutex, broadcast, mpsc};

/// Something that changed, and who may hear of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LiveEvent {
    #[serde(skip)]
    pub practice: PracticeId,
    #[serde(skip)]
    pub recipients: Vec<Member>,
    /// `message`, `read`, `changed` or `deleted`.
    pub kind: String,
    pub chat: ChatId,
    pub seq: i64,
    pub sender_name: Option<String>,
    pub body: Option<String>,
    pub at: Option<String>,
    /// For `read`: staff see that the client read up to `seq` (M8).
    pub reader: Option<String>,
}

impl LiveEvent {
    pub fn is_for(&self, practice: PracticeId, member: Member) -> bool {
        self.practice == practice && self.recipients.contains(&member)
    }
}

/// An event as it travels between instances.
#[derive(Serialize, Deserialize)]
pub struct WireEvent {
    /// The instance that published it (it ignores its own).
    pub origin: String,
    pub practice: PracticeId,
    pub recipients: Vec<(String, String)>,
    pub event: LiveEvent,
}

impl WireEvent {
    pub fn into_event(self) -> Option<LiveEvent> {
        let mut event = self.event;
        event.practice = self.practice;
        event.recipients = self
            .recipients
            .iter()
            .map(|(kind, id)| match kind.as_str() {
                "staff" => id.parse().ok().map(Member::Staff),
                "contact" => id.parse().ok().map(Member::Contact),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(event)
    }
}

#[derive(Clone, Debug)]
pub struct Hub {
    sender: broadcast::Sender<LiveEvent>,
    /// This process, among the instances sharing a database.
    pub instance: String,
    relaying: Arc<AtomicBool>,
    relay_tx: mpsc::UnboundedSender<LiveEvent>,
    relay_rx: Arc<Mutex<Option<mpsc::UnboundedReceiver<LiveEvent>>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(4096);
        let (relay_tx, relay_rx) = mpsc::unbounded_channel();
        Self {
            sender,
            instance: uuid::Uuid::now_v7().to_string(),
            relaying: Arc::new(AtomicBool::new(false)),
            relay_tx,
            relay_rx: Arc::new(Mutex::new(Some(relay_rx))),
        }
    }

    /// Delivers an event to this process's sockets and, when relaying,
    /// to the other instances.
    pub fn publish(&self, event: LiveEvent) {
        if self.relaying.load(Ordering::Relaxed) {
            let _ = self.relay_tx.send(event.clone());
        }
        self.deliver_here(event);
    }

    /// Delivers an event to this process's sockets only.
    pub fn deliver_here(&self, event: LiveEvent) {
        // Nobody listening is fine: pages read the store when they load.
        let _ = self.sender.send(event);
    }

    /// Starts relaying: the caller drains the returned events to the other
    /// instances. Only the first caller gets them.
    pub async fn start_relay(&self) -> Option<mpsc::UnboundedReceiver<LiveEvent>> {
        let rx = self.relay_rx.lock().await.take();
        if rx.is_some() {
            self.relaying.store(true, Ordering::Relaxed);
        }
        rx
    }

    /// The wire form of an event of this instance.
    pub fn wire(&self, event: LiveEvent) -> WireEvent {
        WireEvent {
            origin: self.instance.clone(),
            practice: event.practice,
            recipients: event
                .recipients
                .iter()
                .map(|m| (m.kind().to_owned(), m.id()))
                .collect(),
            event,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }
}
