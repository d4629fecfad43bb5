//! Live events (M14): one hub per process delivers events to the open
//! WebSockets of the people each event is for. Events are published only
//! after the change committed. On PostgreSQL the hub also relays every
//! event to the other instances through `NOTIFY`, and delivers theirs
//! (X4): a message sent through one instance reaches a browser on another.
//!
//! The hub keeps the sockets of each person (practice and member), so an
//! event touches only its recipients' sockets, whatever the number of
//! sockets open. It is written as JSON once and shared by all of them.
//! Each socket has a short queue; a socket that falls that far behind is
//! closed instead of buffering without end, and its page catches up from
//! the store when it reconnects.
//!
//! Each socket belongs to the session that opened it. When a session ends
//! (signed out, signed out elsewhere, a new password, a deactivated team
//! member, expiry), [`Hub::end_sessions`] closes its sockets here and, on
//! PostgreSQL, on every other instance; a periodic check closes those whose
//! session ended in a way no instance announced.

use crate::domain::{ChatId, PracticeId};
use crate::store::{Member, Message};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use tokio::sync::{Mutex, mpsc};

/// How many events may wait for one socket before it is closed. Events
/// relayed from another instance arrive in bursts (a NOTIFY carries many,
/// and a busy instance reads several at once): a team member in every busy
/// chat can be sent a few hundred in a moment without having fallen behind.
/// The queue takes room only for what waits in it (blocks of 32), so an
/// idle socket costs no more for a larger bound.
pub const SOCKET_QUEUE: usize = 256;

/// Something that changed, as the pages it is for hear it: a JSON object
/// whose `kind` names the event, with that event's fields beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A new message in a chat (M3).
    Message(Written),
    /// Staff see that the client read up to `seq` (M8).
    Read {
        chat: ChatId,
        seq: i64,
        reader: String,
    },
    /// A chat changed: the message `seq` (a reaction, a pin, a deletion),
    /// or without `seq` the chat itself (a line such as "Olivia added
    /// Tom"). Pages open on it draw it again.
    Changed {
        chat: ChatId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
    },
    /// A chat was deleted.
    Deleted { chat: ChatId },
    /// Staff: a client wrote in a chat they look after (N1); the text is
    /// the alert's ("Hannah wrote about Northwind Bakery").
    Alert(Written),
}

/// What someone wrote in a chat, as a message or an alert carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub chat: ChatId,
    pub seq: i64,
    pub sender_name: String,
    /// Absent when too long to relay: the page fetches the message (an
    /// alert says "A client wrote.").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// What the page shows until it reads the message's own markup, in
    /// each reader's time zone (X15).
    pub at: String,
}

impl LiveEvent {
    /// A message that was just stored.
    pub fn message(message: &Message) -> Self {
        LiveEvent::Message(Written {
            chat: message.chat_id,
            seq: message.seq,
            sender_name: message.sender_name.clone(),
            body: Some(message.body.clone()),
            at: JUST_NOW.to_owned(),
        })
    }

    /// A client wrote in `chat` (N1): `text` says so.
    pub fn alert(chat: ChatId, seq: i64, sender_name: &str, text: String) -> Self {
        LiveEvent::Alert(Written {
            chat,
            seq,
            sender_name: sender_name.to_owned(),
            body: Some(text),
            at: JUST_NOW.to_owned(),
        })
    }

    /// The event without its text, for a relay that cannot carry it.
    pub fn drop_body(&mut self) {
        if let LiveEvent::Message(written) | LiveEvent::Alert(written) = self {
            written.body = None;
        }
    }
}

/// When a live message or alert happened, as its page first shows it.
const JUST_NOW: &str = "just now";

/// An event and who may hear of it: the people, in their practice. Only
/// the event itself reaches their pages.
#[derive(Clone, Debug)]
pub struct Addressed {
    pub practice: PracticeId,
    pub recipients: Vec<Member>,
    pub event: LiveEvent,
}

/// What one instance tells the others: an event, or sessions that ended.
#[derive(Clone, Debug)]
pub enum Relayed {
    Event(Addressed),
    /// The hashes of sessions whose sockets must close.
    EndSessions(Vec<String>),
}

/// An event as it travels between instances.
#[derive(Serialize, Deserialize)]
pub struct WireEvent {
    /// The instance that published it (it ignores its own).
    pub origin: String,
    pub practice: PracticeId,
    pub recipients: Vec<(String, String)>,
    /// An event of a kind this instance does not know (a newer instance's,
    /// during an upgrade) is passed over; the rest is still read.
    #[serde(default, deserialize_with = "event_if_known")]
    pub event: Option<LiveEvent>,
    /// Sessions that ended: their sockets close on every instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ended_sessions: Vec<String>,
    /// Practices whose people changed: what each instance kept of them
    /// is read again (`store::changes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people_changed: Vec<PracticeId>,
}

fn event_if_known<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<LiveEvent>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value.and_then(|event| serde_json::from_value(event).ok()))
}

impl WireEvent {
    pub fn into_event(self) -> Option<Addressed> {
        let event = self.event?;
        let recipients = self
            .recipients
            .iter()
            .map(|(kind, id)| match kind.as_str() {
                "staff" => id.parse().ok().map(Member::Staff),
                "contact" => id.parse().ok().map(Member::Contact),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Addressed {
            practice: self.practice,
            recipients,
            event,
        })
    }
}

/// An event as its sockets send it: JSON text, shared, and when this
/// instance published it (or received it from another), for the time it
/// takes to reach a socket (`portico_live_event_delivery_seconds`).
#[derive(Clone, Debug)]
pub struct Frame {
    pub text: Bytes,
    pub published: std::time::Instant,
}

type Person = (PracticeId, Member);
type ByPerson = HashMap<Person, Vec<Socket>>;

/// One socket as the hub holds it.
#[derive(Debug)]
struct Socket {
    id: u64,
    /// The hash of the session that opened it.
    session: Arc<str>,
    tx: mpsc::Sender<Frame>,
    /// Set when its session ended (the socket then closes with a frame
    /// that says so), rather than falling behind.
    ended: Arc<AtomicBool>,
}

/// The open sockets of each person, by a number the hub gave each one.
#[derive(Debug, Default)]
struct Sockets {
    by_person: std::sync::Mutex<ByPerson>,
    next: AtomicU64,
}

impl Sockets {
    fn add(&self, person: Person, session: &str) -> (u64, mpsc::Receiver<Frame>, Arc<AtomicBool>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        let ended = Arc::new(AtomicBool::new(false));
        self.lock().entry(person).or_default().push(Socket {
            id,
            session: Arc::from(session),
            tx,
            ended: ended.clone(),
        });
        (id, rx, ended)
    }

    /// Lets go of the sockets of these sessions, marked as ended. Returns
    /// how many there were.
    fn end_sessions(&self, sessions: &[String]) -> usize {
        let mut ended = 0;
        self.lock().retain(|_, sockets| {
            sockets.retain(|socket| {
                let end = sessions.iter().any(|s| **s == *socket.session);
                if end {
                    socket.ended.store(true, Ordering::SeqCst);
                    ended += 1;
                }
                !end
            });
            !sockets.is_empty()
        });
        ended
    }

    /// The sessions that have sockets here, each once.
    fn sessions(&self) -> Vec<String> {
        let mut sessions: Vec<String> = self
            .lock()
            .values()
            .flatten()
            .map(|socket| socket.session.to_string())
            .collect();
        sessions.sort_unstable();
        sessions.dedup();
        sessions
    }

    fn remove(&self, person: Person, id: u64) {
        let mut by_person = self.lock();
        if let Some(sockets) = by_person.get_mut(&person) {
            sockets.retain(|socket| socket.id != id);
            if sockets.is_empty() {
                by_person.remove(&person);
            }
        }
    }

    /// Queues `frame` for every socket of `recipients`. A socket whose
    /// queue is full loses its place here: its task sees that and closes it.
    fn send(&self, practice: PracticeId, recipients: &[Member], frame: &Frame) {
        let mut by_person = self.lock();
        for (i, member) in recipients.iter().enumerate() {
            if recipients[..i].contains(member) {
                continue;
            }
            let person = (practice, *member);
            let Some(sockets) = by_person.get_mut(&person) else {
                continue;
            };
            sockets.retain(|socket| socket.tx.try_send(frame.clone()).is_ok());
            if sockets.is_empty() {
                by_person.remove(&person);
            }
        }
    }

    fn count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// The map stays consistent whatever a panicking holder did (each
    /// change is one call on it), so a poisoned lock is used as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, ByPerson> {
        self.by_person
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open socket's place in the hub: the events for its person, until
/// it is dropped (the socket closed) or the hub let it go (it fell behind).
#[derive(Debug)]
pub struct Subscription {
    sockets: Arc<Sockets>,
    person: Person,
    id: u64,
    events: mpsc::Receiver<Frame>,
    ended: Arc<AtomicBool>,
    restarting: Arc<AtomicBool>,
}

impl Subscription {
    /// Whether the hub let this socket go because its session ended.
    pub fn session_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// Whether the hub let this socket go because this instance is
    /// stopping: the page should reconnect (to another instance).
    pub fn restarting(&self) -> bool {
        self.restarting.load(Ordering::SeqCst)
    }

    /// The next event for this socket; `None` once the hub let it go,
    /// without first handing over what was still queued (the page reads
    /// it from the store when it reconnects).
    pub async fn next(&mut self) -> Option<Frame> {
        let frame = self.events.recv().await?;
        if self.events.is_closed() {
            return None;
        }
        Some(frame)
    }

    /// The next event if one is already queued, without waiting; `None`
    /// also once the hub let the socket go (then [`Self::next`] says so).
    pub fn ready(&mut self) -> Option<Frame> {
        let frame = self.events.try_recv().ok()?;
        if self.events.is_closed() {
            return None;
        }
        Some(frame)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.sockets.remove(self.person, self.id);
    }
}

#[derive(Clone, Debug)]
pub struct Hub {
    sockets: Arc<Sockets>,
    /// This process, among the instances sharing a database.
    pub instance: String,
    relaying: Arc<AtomicBool>,
    /// Set when this instance stops: every socket is let go, and told why.
    restarting: Arc<AtomicBool>,
    relay_tx: mpsc::UnboundedSender<Relayed>,
    relay_rx: Arc<Mutex<Option<mpsc::UnboundedReceiver<Relayed>>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        let (relay_tx, relay_rx) = mpsc::unbounded_channel();
        Self {
            sockets: Arc::default(),
            instance: uuid::Uuid::now_v7().to_string(),
            relaying: Arc::new(AtomicBool::new(false)),
            restarting: Arc::new(AtomicBool::new(false)),
            relay_tx,
            relay_rx: Arc::new(Mutex::new(Some(relay_rx))),
        }
    }

    /// Delivers an event to this process's sockets and, when relaying,
    /// to the other instances.
    pub fn publish(&self, practice: PracticeId, recipients: Vec<Member>, event: LiveEvent) {
        let event = Addressed {
            practice,
            recipients,
            event,
        };
        self.deliver(&event);
        if self.relaying.load(Ordering::Relaxed) {
            let _ = self.relay_tx.send(Relayed::Event(event));
        }
    }

    /// Closes the sockets of sessions that ended, here and, when relaying,
    /// on the other instances.
    pub fn end_sessions(&self, sessions: Vec<String>) {
        if sessions.is_empty() {
            return;
        }
        self.sockets.end_sessions(&sessions);
        if self.relaying.load(Ordering::Relaxed) {
            let _ = self.relay_tx.send(Relayed::EndSessions(sessions));
        }
    }

    /// Closes the sockets of sessions that ended, on this process only.
    /// Returns how many closed.
    pub fn end_sessions_here(&self, sessions: &[String]) -> usize {
        self.sockets.end_sessions(sessions)
    }

    /// The sessions with a socket open on this process.
    pub fn open_sessions(&self) -> Vec<String> {
        self.sockets.sessions()
    }

    /// Whether this instance published `wire` itself.
    pub fn is_own(&self, wire: &WireEvent) -> bool {
        wire.origin == self.instance
    }

    /// The wire form of practices whose people changed here.
    pub fn wire_changes(&self, practices: Vec<PracticeId>) -> WireEvent {
        WireEvent {
            origin: self.instance.clone(),
            practice: PracticeId::default(),
            recipients: Vec::new(),
            event: None,
            ended_sessions: Vec::new(),
            people_changed: practices,
        }
    }

    /// What another instance relayed: sessions to end, an event to deliver.
    pub fn receive(&self, wire: WireEvent) {
        if wire.origin == self.instance {
            return;
        }
        if !wire.ended_sessions.is_empty() {
            self.sockets.end_sessions(&wire.ended_sessions);
        }
        if let Some(event) = wire.into_event() {
            self.deliver(&event);
        }
    }

    /// Nobody listening is fine: pages read the store when they load.
    fn deliver(&self, event: &Addressed) {
        let Ok(text) = serde_json::to_string(&event.event) else {
            return;
        };
        let frame = Frame {
            text: Bytes::from(text),
            published: std::time::Instant::now(),
        };
        self.sockets.send(event.practice, &event.recipients, &frame);
    }

    /// A new socket of `member` of `practice`, opened by the session whose
    /// hash is `session`: it hears the events for that person until the
    /// subscription is dropped or the session ends.
    pub fn subscribe(&self, practice: PracticeId, member: Member, session: &str) -> Subscription {
        let person = (practice, member);
        let (id, events, ended) = self.sockets.add(person, session);
        Subscription {
            sockets: self.sockets.clone(),
            person,
            id,
            events,
            ended,
            restarting: self.restarting.clone(),
        }
    }

    /// This instance is stopping (SIGTERM): lets every socket go, each to
    /// be closed with "service restart" (1012) so its page reconnects —
    /// through the load balancer, to another instance — and catches up.
    /// Returns how many there were.
    pub fn restart_all(&self) -> usize {
        self.restarting.store(true, Ordering::SeqCst);
        let mut all = self.sockets.lock();
        let count = all.values().map(Vec::len).sum();
        all.clear();
        count
    }

    /// How many sockets are open on this process.
    pub fn sockets(&self) -> usize {
        self.sockets.count()
    }

    /// Starts relaying: the caller drains the returned events to the other
    /// instances. Only the first caller gets them.
    pub async fn start_relay(&self) -> Option<mpsc::UnboundedReceiver<Relayed>> {
        let rx = self.relay_rx.lock().await.take();
        if rx.is_some() {
            self.relaying.store(true, Ordering::Relaxed);
        }
        rx
    }

    /// The wire form of what this instance relays.
    pub fn wire(&self, relayed: Relayed) -> WireEvent {
        match relayed {
            Relayed::Event(event) => WireEvent {
                origin: self.instance.clone(),
                practice: event.practice,
                recipients: event
                    .recipients
                    .iter()
                    .map(|m| (m.kind().to_owned(), m.id()))
                    .collect(),
                event: Some(event.event),
                ended_sessions: Vec::new(),
                people_changed: Vec::new(),
            },
            Relayed::EndSessions(sessions) => WireEvent {
                origin: self.instance.clone(),
                practice: PracticeId::default(),
                recipients: Vec::new(),
                event: None,
                ended_sessions: sessions,
                people_changed: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContactId, StaffId};

    fn message(seq: i64) -> LiveEvent {
        LiveEvent::Message(Written {
            chat: ChatId::new(),
            seq,
            sender_name: "Hannah".into(),
            body: Some("Hello".into()),
            at: JUST_NOW.into(),
        })
    }

    fn heard(subscription: &mut Subscription) -> Vec<i64> {
        let mut seqs = Vec::new();
        while let Ok(frame) = subscription.events.try_recv() {
            if let Ok(LiveEvent::Message(written)) = serde_json::from_slice(&frame.text) {
                seqs.push(written.seq);
            }
        }
        seqs
    }

    #[test]
    fn an_event_reaches_its_recipients_sockets_and_no_others() {
        let hub = Hub::new();
        let (practice, rival) = (PracticeId::new(), PracticeId::new());
        let (staff, contact) = (
            Member::Staff(StaffId::new()),
            Member::Contact(ContactId::new()),
        );
        let outsider = Member::Contact(ContactId::new());
        let mut staff_tab = hub.subscribe(practice, staff, "s1");
        let mut staff_other_tab = hub.subscribe(practice, staff, "s1");
        let mut contact_tab = hub.subscribe(practice, contact, "c1");
        let mut outsider_tab = hub.subscribe(practice, outsider, "o1");
        // The same member id in another practice is someone else.
        let mut rival_tab = hub.subscribe(rival, contact, "r1");

        // A recipient named twice still hears it once.
        hub.publish(practice, vec![staff, contact, staff], message(1));

        assert_eq!(heard(&mut staff_tab), vec![1]);
        assert_eq!(heard(&mut staff_other_tab), vec![1]);
        assert_eq!(heard(&mut contact_tab), vec![1]);
        assert_eq!(heard(&mut outsider_tab), Vec::<i64>::new());
        assert_eq!(heard(&mut rival_tab), Vec::<i64>::new());
    }

    #[tokio::test]
    async fn a_socket_that_falls_behind_is_let_go_and_the_others_go_on() {
        let hub = Hub::new();
        let practice = PracticeId::new();
        let contact = Member::Contact(ContactId::new());
        let mut slow = hub.subscribe(practice, contact, "c1");
        let mut quick = hub.subscribe(practice, contact, "c1");
        let mut quick_heard = Vec::new();
        let count = i64::try_from(SOCKET_QUEUE).unwrap_or(256) + 1;
        for seq in 1..=count {
            hub.publish(practice, vec![contact], message(seq));
            quick_heard.extend(heard(&mut quick));
        }
        assert_eq!(quick_heard, (1..=count).collect::<Vec<_>>());
        assert_eq!(hub.sockets(), 1, "the slow socket left the hub");
        // What was still queued is not handed over: the page reads it from
        // the store when it reconnects.
        assert!(slow.next().await.is_none());
        hub.publish(practice, vec![contact], message(count + 1));
        assert_eq!(heard(&mut quick), vec![count + 1]);
    }

    #[tokio::test]
    async fn a_session_that_ends_closes_its_sockets_only() {
        let hub = Hub::new();
        let practice = PracticeId::new();
        let staff = Member::Staff(StaffId::new());
        let mut laptop = hub.subscribe(practice, staff, "laptop");
        let mut laptop_tab = hub.subscribe(practice, staff, "laptop");
        let mut phone = hub.subscribe(practice, staff, "phone");
        assert_eq!(hub.open_sessions(), vec!["laptop", "phone"]);
        hub.publish(practice, vec![staff], message(1));
        hub.end_sessions(vec!["laptop".into()]);
        // What was queued is not handed over: the session has ended.
        assert!(laptop.next().await.is_none());
        assert!(laptop.session_ended());
        assert!(laptop_tab.next().await.is_none());
        assert!(laptop_tab.session_ended());
        assert_eq!(heard(&mut phone), vec![1]);
        assert!(!phone.session_ended());
        assert_eq!(hub.sockets(), 1);
        // Another instance's announcement closes them too.
        let other = Hub::new();
        let mut elsewhere = other.subscribe(practice, staff, "phone");
        other.receive(hub.wire(Relayed::EndSessions(vec!["phone".into()])));
        assert!(elsewhere.next().await.is_none());
        assert!(elsewhere.session_ended());
        // Its own announcement coming back changes nothing.
        hub.receive(hub.wire(Relayed::EndSessions(vec!["phone".into()])));
        assert_eq!(hub.sockets(), 1);
    }

    #[test]
    fn pages_read_each_event_by_its_kind_with_its_own_fields() {
        let chat = ChatId::new();
        let json = |event: &LiveEvent| serde_json::to_value(event).unwrap();
        assert_eq!(
            json(&LiveEvent::Read {
                chat,
                seq: 4,
                reader: "hannah".into()
            }),
            serde_json::json!({"kind": "read", "chat": chat, "seq": 4, "reader": "hannah"})
        );
        assert_eq!(
            json(&LiveEvent::Changed { chat, seq: None }),
            serde_json::json!({"kind": "changed", "chat": chat})
        );
        assert_eq!(
            json(&LiveEvent::Deleted { chat }),
            serde_json::json!({"kind": "deleted", "chat": chat})
        );
        assert_eq!(
            json(&LiveEvent::alert(chat, 7, "hannah", "hannah wrote".into())),
            serde_json::json!({
                "kind": "alert", "chat": chat, "seq": 7, "sender_name": "hannah",
                "body": "hannah wrote", "at": "just now",
            })
        );
        let mut long = message(7);
        long.drop_body();
        assert_eq!(json(&long)["kind"], "message");
        assert_eq!(json(&long)["sender_name"], "Hannah");
        assert!(json(&long).get("body").is_none(), "the page fetches it");
        // An event as an instance of the previous version relays it.
        let earlier = serde_json::json!({
            "kind": "changed", "chat": chat, "seq": 0,
            "sender_name": null, "body": null, "at": null, "reader": null,
        });
        assert_eq!(
            serde_json::from_value::<LiveEvent>(earlier).unwrap(),
            LiveEvent::Changed { chat, seq: Some(0) }
        );
    }

    #[test]
    fn a_relayed_event_reaches_the_recipients_on_another_instance() {
        let (here, there) = (Hub::new(), Hub::new());
        let practice = PracticeId::new();
        let contact = Member::Contact(ContactId::new());
        let mut tab = there.subscribe(practice, contact, "c1");
        let addressed = Addressed {
            practice,
            recipients: vec![contact],
            event: message(3),
        };
        let wire = here.wire(Relayed::Event(addressed));
        let text = serde_json::to_string(&wire).unwrap();
        there.receive(serde_json::from_str(&text).unwrap());
        assert_eq!(heard(&mut tab), vec![3]);
    }

    #[test]
    fn an_event_of_an_unknown_kind_is_passed_over_and_the_rest_read() {
        let wire: WireEvent = serde_json::from_value(serde_json::json!({
            "origin": "newer", "practice": PracticeId::new(), "recipients": [],
            "event": {"kind": "something new", "chat": ChatId::new()},
            "ended_sessions": ["s1"],
        }))
        .unwrap();
        assert!(wire.event.is_none());
        assert_eq!(wire.ended_sessions, vec!["s1"]);
    }

    #[test]
    fn a_closed_socket_leaves_the_hub() {
        let hub = Hub::new();
        let practice = PracticeId::new();
        let staff = Member::Staff(StaffId::new());
        let first = hub.subscribe(practice, staff, "s1");
        let second = hub.subscribe(practice, staff, "s1");
        assert_eq!(hub.sockets(), 2);
        drop(first);
        assert_eq!(hub.sockets(), 1);
        drop(second);
        assert_eq!(hub.sockets(), 0);
        assert!(hub.sockets.lock().is_empty(), "no empty entry is kept");
    }
}
