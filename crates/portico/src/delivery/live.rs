//! Live events (M14): one hub per process fans events out to the open
//! WebSockets of the people each event is for. Events are published only
//! after the change committed.

use crate::domain::{ChatId, PracticeId};
use crate::store::Member;
use serde::Serialize;
use tokio::sync::broadcast;

/// Something that changed, and who may hear of it.
#[derive(Clone, Debug, Serialize)]
pub struct LiveEvent {
    #[serde(skip)]
    pub practice: PracticeId,
    #[serde(skip)]
    pub recipients: Vec<Member>,
    /// `message` or `read`.
    pub kind: &'static str,
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

#[derive(Clone, Debug)]
pub struct Hub {
    sender: broadcast::Sender<LiveEvent>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(4096);
        Self { sender }
    }

    pub fn publish(&self, event: LiveEvent) {
        // Nobody listening is fine: pages read the store when they load.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.sender.subscribe()
    }
}
