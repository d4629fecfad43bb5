//! Sessions (A1, A6): started at sign-in, found from the cookie's secret,
//! ended by signing out, by idling too long, or at their absolute end.

use super::{App, AppResult};
use crate::domain::{Millis, hash_secret, issue_secret};
use crate::store::changes::Stamp;
use crate::store::{
    AuditActor, AuditKind, Contact, NewSession, Practice, Session, SessionStage, SessionSubject,
    Staff, StoreError,
};
use std::sync::Arc;

const HOUR: i64 = 3_600_000;
/// A session unused this long has ended.
pub const IDLE_MS: i64 = 12 * HOUR;
/// No staff session lasts longer than this, however active.
pub const STAFF_ABSOLUTE_MS: i64 = 7 * 24 * HOUR;
/// No contact session lasts longer than this, however active.
pub const CONTACT_ABSOLUTE_MS: i64 = 30 * 24 * HOUR;
/// Between the password and the second factor.
pub const PENDING_MS: i64 = 10 * 60_000;
/// How often each instance checks that its open sockets' sessions are
/// still alive: the longest a socket outlives a session that ended where
/// no instance could announce it (an operator's command, a passing clock).
pub const SOCKET_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The longest an identity is kept in memory: the bound on what a change
/// no instance announced (an operator's command on the database) leaves
/// behind, as for sockets. Every change made through Portico ends what was
/// kept of its practice's people at once (`store::changes`).
pub const IDENTITY_KEPT_FOR: std::time::Duration = SOCKET_CHECK_EVERY;
/// How many identities an instance keeps.
pub const IDENTITIES_KEPT: u64 = 100_000;

/// A signed-in identity kept between requests, by its session's hash.
#[derive(Debug)]
pub struct KeptIdentity {
    identity: Identity,
    /// Taken before the identity was read: any change to its practice's
    /// people after it means the identity may be out of date.
    read_at: Stamp,
}

/// Identities kept between requests: a signed-in request then needs no
/// read of its own.
pub type IdentityCache = moka::sync::Cache<String, Arc<KeptIdentity>>;

pub(super) fn identity_cache() -> IdentityCache {
    moka::sync::Cache::builder()
        .max_capacity(IDENTITIES_KEPT)
        .time_to_live(IDENTITY_KEPT_FOR)
        .build()
}

/// Where a request comes from, for the session list and throttling.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    /// The request's id (`x-request-id`), for the audit log (X2).
    pub request_id: String,
}

/// The person behind a session.
#[derive(Clone, Debug)]
pub enum Person {
    Staff(Staff),
    Contact(Contact),
}

/// A signed-in (or half signed-in) request's identity.
#[derive(Clone, Debug)]
pub struct Identity {
    pub session: Session,
    pub practice: Practice,
    pub person: Person,
}

impl Identity {
    pub fn staff(&self) -> Option<&Staff> {
        match &self.person {
            Person::Staff(staff) => Some(staff),
            Person::Contact(_) => None,
        }
    }

    pub fn contact(&self) -> Option<&Contact> {
        match &self.person {
            Person::Contact(contact) => Some(contact),
            Person::Staff(_) => None,
        }
    }
}

/// A session just started: the secret goes into the cookie.
#[derive(Clone)]
pub struct Started {
    pub secret: String,
    pub stage: SessionStage,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

/// One line of the session list.
#[derive(Clone, Debug)]
pub struct SessionView {
    pub device: String,
    pub ip: String,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub current: bool,
}

impl App {
    pub(super) async fn start_session(
        &self,
        practice: &Practice,
        subject: SessionSubject,
        stage: SessionStage,
        client: &ClientInfo,
    ) -> AppResult<Started> {
        self.start_session_with(practice, subject, stage, client, "")
            .await
    }

    /// [`Self::start_session`], with a word for the "signed in" entry of
    /// the audit log (how the person signed in).
    pub(super) async fn start_session_with(
        &self,
        practice: &Practice,
        subject: SessionSubject,
        stage: SessionStage,
        client: &ClientInfo,
        detail: &str,
    ) -> AppResult<Started> {
        let now = self.clock.now();
        let lifetime = match (stage, subject) {
            (SessionStage::Totp | SessionStage::Enrol, _) => PENDING_MS,
            (SessionStage::Active, SessionSubject::Staff(_)) => STAFF_ABSOLUTE_MS,
            (SessionStage::Active, SessionSubject::Contact(_)) => CONTACT_ABSOLUTE_MS,
        };
        let issued = issue_secret();
        self.store
            .create_session(&NewSession {
                id_hash: issued.hash,
                practice_id: practice.id,
                subject,
                stage,
                now,
                expires_at: Millis(now.0 + lifetime),
                ip: client.ip.clone(),
                user_agent: client.user_agent.chars().take(400).collect(),
            })
            .await?;
        match subject {
            SessionSubject::Staff(id) if stage == SessionStage::Active => {
                let entry = self
                    .audit_entry(
                        practice.id,
                        AuditActor::Staff(id),
                        AuditKind::SignedIn,
                        client,
                    )
                    .on("staff", id)
                    .detail(detail);
                self.store
                    .record_staff_sign_in(practice.id, id, now, &entry)
                    .await?;
            }
            SessionSubject::Contact(id) => {
                let entry = self
                    .audit_entry(
                        practice.id,
                        AuditActor::Contact(id),
                        AuditKind::SignedIn,
                        client,
                    )
                    .on("contact", id);
                self.store
                    .record_contact_sign_in(practice.id, id, now, &entry)
                    .await?;
            }
            SessionSubject::Staff(_) => {}
        }
        Ok(Started {
            secret: issued.secret,
            stage,
        })
    }

    /// The identity behind a cookie's secret, if its session is still
    /// alive; an ended session is removed.
    ///
    /// An identity read in the last [`IDENTITY_KEPT_FOR`] is used again
    /// while nothing of its practice's people changed since (a session
    /// ended, a role, a deactivation, a time zone, the brand …), its
    /// session is neither past its end nor idle, and it was seen in the
    /// last minute; otherwise it is read again.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, secret: &str, ip: &str) -> AppResult<Option<Identity>> {
        let hash = hash_secret(secret);
        let now = self.clock.now();
        if let Some(kept) = self.identities.get(&hash) {
            let session = &kept.identity.session;
            if self
                .store
                .changes()
                .unchanged_since(kept.identity.practice.id, kept.read_at)
                && session.expires_at > now
                && session.last_seen_at.0 + 60_000 >= now.0
            {
                return Ok(Some(kept.identity.clone()));
            }
            self.identities.invalidate(&hash);
        }
        let read_at = self.store.changes().stamp();
        let Some((mut session, practice)) = self.store.find_session_with_practice(&hash).await?
        else {
            return Ok(None);
        };
        if session.expires_at <= now || session.last_seen_at.0 + IDLE_MS <= now.0 {
            self.end_session(&hash).await?;
            return Ok(None);
        }
        let person = match session.subject {
            SessionSubject::Staff(id) => match self.store.get_staff(practice.id, id).await {
                Ok(staff) if staff.active => Person::Staff(staff),
                Ok(_) | Err(StoreError::NotFound) => {
                    self.end_session(&hash).await?;
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            },
            SessionSubject::Contact(id) => match self.store.get_contact(practice.id, id).await {
                Ok(contact) => Person::Contact(contact),
                Err(StoreError::NotFound) => {
                    self.end_session(&hash).await?;
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            },
        };
        // Last seen to the minute: most requests then write nothing.
        if session.last_seen_at.0 + 60_000 < now.0 {
            self.store.touch_session(&hash, now, ip).await?;
            session.last_seen_at = now;
        }
        let identity = Identity {
            session,
            practice,
            person,
        };
        self.identities.insert(
            hash,
            Arc::new(KeptIdentity {
                identity: identity.clone(),
                read_at,
            }),
        );
        Ok(Some(identity))
    }

    /// Ends the session of this secret, server-side.
    #[tracing::instrument(skip_all)]
    pub async fn sign_out(&self, secret: &str) -> AppResult<()> {
        self.end_session(&hash_secret(secret)).await
    }

    /// X2: the signed-in person signs out; recorded.
    #[tracing::instrument(skip_all, fields(
        practice = %identity.practice.id, by = %super::spans::person(identity)
    ))]
    pub async fn sign_out_person(
        &self,
        identity: &Identity,
        secret: &str,
        client: &ClientInfo,
    ) -> AppResult<()> {
        let hash = hash_secret(secret);
        let (actor, subject) = match &identity.person {
            Person::Staff(s) => (AuditActor::Staff(s.id), ("staff", s.id.to_string())),
            Person::Contact(c) => (AuditActor::Contact(c.id), ("contact", c.id.to_string())),
        };
        let entry = self
            .audit_entry(identity.practice.id, actor, AuditKind::SignedOut, client)
            .on(subject.0, subject.1);
        self.store.end_session_audited(&hash, &entry).await?;
        self.live.end_sessions(vec![hash]);
        Ok(())
    }

    /// Ends one session: its row, and its open sockets on every instance.
    async fn end_session(&self, hash: &str) -> AppResult<()> {
        self.store.delete_session(hash).await?;
        self.live.end_sessions(vec![hash.to_owned()]);
        Ok(())
    }

    /// Ends a person's sessions but `keep` (or all, with `None`), and closes
    /// their sockets on every instance. Returns how many ended.
    pub(super) async fn end_sessions_of(
        &self,
        practice: crate::domain::PracticeId,
        subject: SessionSubject,
        keep: Option<&str>,
        entry: Option<&crate::store::NewAudit>,
    ) -> AppResult<usize> {
        let ended = self
            .store
            .delete_sessions_of(practice, subject, keep, entry)
            .await?;
        let count = ended.len();
        self.live.end_sessions(ended);
        Ok(count)
    }

    /// Closes this instance's sockets whose session is no longer alive
    /// (ended, expired, idle, or its person gone). The server runs it every
    /// [`SOCKET_CHECK_EVERY`]. Returns how many sockets closed.
    pub async fn close_ended_sockets(&self) -> AppResult<usize> {
        let open = self.live.open_sessions();
        if open.is_empty() {
            return Ok(0);
        }
        let now = self.clock.now();
        let mut ended = Vec::new();
        for chunk in open.chunks(500) {
            let alive = self
                .store
                .alive_sessions(chunk, now, Millis(now.0 - IDLE_MS))
                .await?;
            ended.extend(chunk.iter().filter(|s| !alive.contains(s)).cloned());
        }
        Ok(self.live.end_sessions_here(&ended))
    }

    /// The signed-in person's sessions, this one marked.
    #[tracing::instrument(skip_all, fields(
        practice = %identity.practice.id, by = %super::spans::person(identity)
    ))]
    pub async fn sessions_of(&self, identity: &Identity) -> AppResult<Vec<SessionView>> {
        let sessions = self
            .store
            .list_sessions(identity.practice.id, identity.session.subject)
            .await?;
        let now = self.clock.now();
        Ok(sessions
            .into_iter()
            .filter(|s| s.expires_at > now && s.last_seen_at.0 + IDLE_MS > now.0)
            .map(|s| SessionView {
                device: describe_device(&s.user_agent),
                current: s.id_hash == identity.session.id_hash,
                ip: s.ip,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
            })
            .collect())
    }

    /// "Sign out everywhere else": every other session of this person ends.
    #[tracing::instrument(skip_all, fields(
        practice = %identity.practice.id, by = %super::spans::person(identity)
    ))]
    pub async fn sign_out_other_sessions(
        &self,
        identity: &Identity,
        client: &ClientInfo,
    ) -> AppResult<usize> {
        let actor = match &identity.person {
            Person::Staff(s) => AuditActor::Staff(s.id),
            Person::Contact(c) => AuditActor::Contact(c.id),
        };
        let entry = self.audit_entry(
            identity.practice.id,
            actor,
            AuditKind::OtherSessionsEnded,
            client,
        );
        self.end_sessions_of(
            identity.practice.id,
            identity.session.subject,
            Some(&identity.session.id_hash),
            Some(&entry),
        )
        .await
    }
}

/// "Firefox on Windows" from a User-Agent header, for the session list.
pub fn describe_device(user_agent: &str) -> String {
    let browser = if user_agent.contains("Edg/") {
        "Edge"
    } else if user_agent.contains("Firefox/") {
        "Firefox"
    } else if user_agent.contains("Chrome/") || user_agent.contains("Chromium/") {
        "Chrome"
    } else if user_agent.contains("Safari/") {
        "Safari"
    } else {
        "A browser"
    };
    let system = if user_agent.contains("Android") {
        "Android"
    } else if user_agent.contains("iPhone") || user_agent.contains("iPad") {
        "iOS"
    } else if user_agent.contains("Windows") {
        "Windows"
    } else if user_agent.contains("Mac OS X") || user_agent.contains("Macintosh") {
        "macOS"
    } else if user_agent.contains("Linux") {
        "Linux"
    } else {
        "an unknown system"
    };
    format!("{browser} on {system}")
}

#[cfg(test)]
mod tests {
    use super::describe_device;

    #[test]
    fn devices_are_described_plainly() {
        assert_eq!(
            describe_device(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1"
            ),
            "Safari on iOS"
        );
        assert_eq!(
            describe_device(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
            ),
            "Firefox on Windows"
        );
        assert_eq!(
            describe_device("curl/8.0"),
            "A browser on an unknown system"
        );
    }
}
