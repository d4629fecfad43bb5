//! Which practices' people changed, for what is cached of them.
//!
//! A signed-in request's identity (its session, its practice, the person)
//! is kept in memory between requests (`app::sessions`), and so are the
//! practice's messaging rules a client's send needs (`app::practice_rules`).
//! Whatever the store writes to a practice's sessions, team members,
//! contacts, messaging settings, automatic answers or the practice itself
//! marks that practice *changed* once the write has committed; what was
//! read before the mark is not used after it. Reading takes a
//! [`Stamp`] first: if the practice changed after the stamp was taken, what
//! was read may predate the change and is read again on the next request.
//!
//! On PostgreSQL every instance hears the others' marks through the same
//! `NOTIFY` relay as live events; an instance whose relay was interrupted
//! forgets everything it cached ([`Changes::changed_everywhere`]).

use crate::domain::PracticeId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::mpsc;

/// A moment in the order of changes, taken before a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(u64);

/// The marks of this process, and what it relays to the other instances.
#[derive(Debug)]
pub struct Changes {
    /// Counts every mark; a stamp is its value.
    counter: AtomicU64,
    /// The counter at each practice's latest mark.
    marked: Mutex<HashMap<PracticeId, u64>>,
    /// The counter at the latest mark of every practice at once.
    everywhere: AtomicU64,
    /// Whether someone takes the marks to the other instances.
    relaying: AtomicBool,
    /// The marks made here, for the other instances (when relaying).
    relay_tx: mpsc::UnboundedSender<PracticeId>,
    relay_rx: Mutex<Option<mpsc::UnboundedReceiver<PracticeId>>>,
}

impl Default for Changes {
    fn default() -> Self {
        let (relay_tx, relay_rx) = mpsc::unbounded_channel();
        Self {
            counter: AtomicU64::new(0),
            marked: Mutex::new(HashMap::new()),
            everywhere: AtomicU64::new(0),
            relaying: AtomicBool::new(false),
            relay_tx,
            relay_rx: Mutex::new(Some(relay_rx)),
        }
    }
}

impl Changes {
    /// Now, in the order of changes: take it before reading.
    pub fn stamp(&self) -> Stamp {
        Stamp(self.counter.load(Ordering::SeqCst))
    }

    /// Whether nothing of `practice` changed since `stamp` was taken.
    pub fn unchanged_since(&self, practice: PracticeId, stamp: Stamp) -> bool {
        if self.everywhere.load(Ordering::SeqCst) > stamp.0 {
            return false;
        }
        self.lock()
            .get(&practice)
            .is_none_or(|&marked| marked <= stamp.0)
    }

    /// A write to `practice`'s people committed here: marked here, and on
    /// the other instances when relaying.
    pub fn changed(&self, practice: PracticeId) {
        self.changed_here(practice);
        if self.relaying.load(Ordering::SeqCst) {
            let _ = self.relay_tx.send(practice);
        }
    }

    /// Another instance wrote to `practice`'s people.
    pub fn changed_here(&self, practice: PracticeId) {
        let mut marked = self.lock();
        let at = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        marked.insert(practice, at);
        // Practices that changed long ago need no entry: a stamp taken
        // since then is newer. Kept small by forgetting them all at once,
        // as one mark of everything.
        if marked.len() > 10_000 {
            marked.clear();
            self.everywhere.store(at, Ordering::SeqCst);
        }
    }

    /// Something may have changed anywhere (the relay was interrupted, an
    /// operator's command ran): nothing read before now is used.
    pub fn changed_everywhere(&self) {
        let _guard = self.lock();
        let at = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        self.everywhere.store(at, Ordering::SeqCst);
    }

    /// The marks to relay to the other instances. Only the first caller
    /// gets them; until someone asks, none are kept.
    pub fn take_relay(&self) -> Option<mpsc::UnboundedReceiver<PracticeId>> {
        let rx = self
            .relay_rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if rx.is_some() {
            self.relaying.store(true, Ordering::SeqCst);
        }
        rx
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PracticeId, u64>> {
        self.marked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_before_a_change_is_not_used_after_it() {
        let changes = Changes::default();
        let (a, b) = (PracticeId::new(), PracticeId::new());
        let before = changes.stamp();
        assert!(changes.unchanged_since(a, before));
        changes.changed(a);
        assert!(
            !changes.unchanged_since(a, before),
            "a changed after the read"
        );
        assert!(changes.unchanged_since(b, before), "b did not");
        let after = changes.stamp();
        assert!(
            changes.unchanged_since(a, after),
            "read again after the change"
        );
        changes.changed_everywhere();
        assert!(!changes.unchanged_since(b, after));
        assert!(changes.unchanged_since(b, changes.stamp()));
    }

    /// The tables whose rows a kept identity or kept messaging rules are
    /// read from.
    const KEPT_FROM: &[&str] = &[
        "sessions",
        "staff_users",
        "contacts",
        "practices",
        "practice_logos",
        "autoresponder_windows",
        "staff_autoresponders",
        "staff_autoresponder_windows",
    ];

    /// Store functions that write those tables and rightly mark nothing.
    const MARK_NOTHING: &[(&str, &str)] = &[
        (
            "create_practice",
            "a new practice: nothing of it is kept yet",
        ),
        (
            "create_practice_with_admin",
            "a new practice: nothing of it is kept yet",
        ),
        (
            "insert_staff",
            "a new team member: nothing of them is kept yet",
        ),
        (
            "create_contact",
            "a new contact: nothing of her is kept yet",
        ),
        ("create_session", "a new session: nothing of it is kept yet"),
        (
            "touch_session",
            "last seen: a kept identity is used only while seen in the last minute",
        ),
        (
            "revoke_access",
            "`SET status = status` only locks the row; access is read with membership",
        ),
        (
            "set_family_primary",
            "`SET status = status` only locks the rows",
        ),
        (
            "set_totp_pending",
            "a second factor being set up: not part of an identity",
        ),
        (
            "use_totp_step",
            "the last second-factor step: not part of an identity",
        ),
        (
            "replace_sql",
            "secrets sealed again under a new key: not part of an identity",
        ),
        (
            "set_audit_retention_days",
            "a practice setting nothing kept holds",
        ),
        (
            "set_notify_settings",
            "a practice setting nothing kept holds",
        ),
        (
            "set_webhook_content",
            "a practice setting nothing kept holds",
        ),
    ];

    /// Every store function that writes what is kept marks the practice
    /// (or is listed above with the reason it need not): a new write that
    /// forgot would leave a changed rule or an ended access in memory.
    #[test]
    fn every_write_to_what_is_kept_marks_its_practice() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store");
        let mut unmarked = Vec::new();
        for entry in std::fs::read_dir(dir).expect("the store's sources") {
            let path = entry.expect("a source file").path();
            let source = std::fs::read_to_string(&path).expect("readable source");
            // Each function's text runs from its `fn` to the next one's.
            let starts: Vec<usize> = source.match_indices("fn ").map(|(at, _)| at).collect();
            for (n, &start) in starts.iter().enumerate() {
                let end = starts.get(n + 1).copied().unwrap_or(source.len());
                let body = &source[start..end];
                let name: String = body[3..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let writes = KEPT_FROM.iter().any(|table| {
                    ["INSERT INTO", "UPDATE", "DELETE FROM"].iter().any(|verb| {
                        body.match_indices(&format!("{verb} {table}"))
                            .any(|(at, hit)| {
                                !body[at + hit.len()..]
                                    .starts_with(|c: char| c == '_' || c.is_alphanumeric())
                            })
                    })
                });
                if writes
                    && !body.contains("people_changed")
                    && !MARK_NOTHING.iter().any(|(allowed, _)| *allowed == name)
                {
                    unmarked.push(format!("{}: {name}", path.display()));
                }
            }
        }
        assert!(
            unmarked.is_empty(),
            "these write what is kept without marking the practice: {unmarked:#?}"
        );
    }

    #[test]
    fn forgetting_many_practices_marks_them_all() {
        let changes = Changes::default();
        let first = PracticeId::new();
        let before = changes.stamp();
        for _ in 0..10_001 {
            changes.changed_here(PracticeId::new());
        }
        assert!(!changes.unchanged_since(first, before));
        assert!(changes.unchanged_since(first, changes.stamp()));
    }
}
