//! The audit log (X2): what people did, written in the transaction of the
//! change it records, read by admins, never changed or deleted by the app.
//!
//! Entries are numbered per practice and each carries the SHA-256 of the
//! one before it over a canonical encoding (a hash chain), so a changed,
//! removed or inserted row shows as a break when the chain is verified.
//! Writers lock the practice's chain head (`audit_chains`) for the rest of
//! their transaction: two instances writing at once wait for each other
//! and never fork the chain. Retention removes the oldest entries and keeps
//! the last removed one's number and hash as the chain's anchor.

use super::{Store, StoreError, StoreResult, StoreTx, parse_id};
use crate::domain::{ClientId, ContactId, Millis, PracticeId, StaffId};
use sha2::{Digest, Sha256};

/// The hash before a practice's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditActor {
    Staff(StaffId),
    Contact(ContactId),
    /// Nobody signed in: the e-mail address tried at a failed sign-in.
    Address(String),
    /// Portico itself (retention).
    System,
}

impl AuditActor {
    fn kind(&self) -> &'static str {
        match self {
            AuditActor::Staff(_) => "staff",
            AuditActor::Contact(_) => "contact",
            AuditActor::Address(_) => "address",
            AuditActor::System => "system",
        }
    }

    fn id(&self) -> String {
        match self {
            AuditActor::Staff(id) => id.to_string(),
            AuditActor::Contact(id) => id.to_string(),
            AuditActor::Address(_) | AuditActor::System => String::new(),
        }
    }

    fn label(&self) -> &str {
        match self {
            AuditActor::Address(address) => address,
            _ => "",
        }
    }
}

impl From<&super::Staff> for AuditActor {
    fn from(staff: &super::Staff) -> Self {
        AuditActor::Staff(staff.id)
    }
}

impl From<&super::Contact> for AuditActor {
    fn from(contact: &super::Contact) -> Self {
        AuditActor::Contact(contact.id)
    }
}

impl From<super::Member> for AuditActor {
    fn from(member: super::Member) -> Self {
        match member {
            super::Member::Staff(id) => AuditActor::Staff(id),
            super::Member::Contact(id) => AuditActor::Contact(id),
        }
    }
}

/// What was done. The code is what is stored (and hashed); it reads as a
/// sentence's end ("chat exported").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditKind {
    SignedIn,
    SignInFailed,
    TwoFactorOn,
    TwoFactorOff,
    SignedOut,
    OtherSessionsEnded,
    InvitationSent,
    LinkSent,
    AccessGiven,
    AccessRemoved,
    RoleChanged,
    Deactivated,
    Reactivated,
    PortalPreviewed,
    FileDownloaded,
    FileUploaded,
    QuestionAnswered,
    ChatExported,
    AnswersExported,
    MessageDeleted,
    ChatDeleted,
    SettingsChanged,
    ClientExported,
    ClientErased,
    ContactErased,
    AuditExported,
    AuditPruned,
    WebhookCreated,
    WebhookChanged,
    WebhookDeleted,
    WebhookSecretRotated,
    ApiTokenCreated,
    ApiTokenRevoked,
    /// X13: an admin's password sign-in while single sign-on is required.
    BreakGlass,
}

impl AuditKind {
    pub const ALL: [AuditKind; 34] = [
        AuditKind::SignedIn,
        AuditKind::SignInFailed,
        AuditKind::TwoFactorOn,
        AuditKind::TwoFactorOff,
        AuditKind::SignedOut,
        AuditKind::OtherSessionsEnded,
        AuditKind::InvitationSent,
        AuditKind::LinkSent,
        AuditKind::AccessGiven,
        AuditKind::AccessRemoved,
        AuditKind::RoleChanged,
        AuditKind::Deactivated,
        AuditKind::Reactivated,
        AuditKind::PortalPreviewed,
        AuditKind::FileDownloaded,
        AuditKind::FileUploaded,
        AuditKind::QuestionAnswered,
        AuditKind::ChatExported,
        AuditKind::AnswersExported,
        AuditKind::MessageDeleted,
        AuditKind::ChatDeleted,
        AuditKind::SettingsChanged,
        AuditKind::ClientExported,
        AuditKind::ClientErased,
        AuditKind::ContactErased,
        AuditKind::AuditExported,
        AuditKind::AuditPruned,
        AuditKind::WebhookCreated,
        AuditKind::WebhookChanged,
        AuditKind::WebhookDeleted,
        AuditKind::WebhookSecretRotated,
        AuditKind::ApiTokenCreated,
        AuditKind::ApiTokenRevoked,
        AuditKind::BreakGlass,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AuditKind::SignedIn => "signed in",
            AuditKind::SignInFailed => "sign-in failed",
            AuditKind::TwoFactorOn => "two-factor turned on",
            AuditKind::TwoFactorOff => "two-factor turned off",
            AuditKind::SignedOut => "signed out",
            AuditKind::OtherSessionsEnded => "other sessions ended",
            AuditKind::InvitationSent => "invitation sent",
            AuditKind::LinkSent => "link sent",
            AuditKind::AccessGiven => "access given",
            AuditKind::AccessRemoved => "access removed",
            AuditKind::RoleChanged => "role changed",
            AuditKind::Deactivated => "deactivated",
            AuditKind::Reactivated => "reactivated",
            AuditKind::PortalPreviewed => "portal previewed",
            AuditKind::FileDownloaded => "file downloaded",
            AuditKind::FileUploaded => "file uploaded",
            AuditKind::QuestionAnswered => "question answered",
            AuditKind::ChatExported => "chat exported",
            AuditKind::AnswersExported => "answers exported",
            AuditKind::MessageDeleted => "message deleted",
            AuditKind::ChatDeleted => "chat deleted",
            AuditKind::SettingsChanged => "settings changed",
            AuditKind::ClientExported => "client data exported",
            AuditKind::ClientErased => "client erased",
            AuditKind::ContactErased => "contact erased",
            AuditKind::AuditExported => "audit log exported",
            AuditKind::AuditPruned => "old entries removed",
            AuditKind::WebhookCreated => "webhook endpoint added",
            AuditKind::WebhookChanged => "webhook endpoint changed",
            AuditKind::WebhookDeleted => "webhook endpoint removed",
            AuditKind::WebhookSecretRotated => "webhook secret rotated",
            AuditKind::ApiTokenCreated => "API token made",
            AuditKind::ApiTokenRevoked => "API token revoked",
            AuditKind::BreakGlass => "break-glass sign-in",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// An entry to write.
#[derive(Clone, Debug)]
pub struct NewAudit {
    pub practice: PracticeId,
    pub actor: AuditActor,
    pub kind: AuditKind,
    /// The record it is about, as `kind:id` (`chat:…`, `client:…`), or empty.
    pub subject: String,
    /// The client the record belongs to, for the client filter and export.
    pub client: Option<ClientId>,
    /// A few words more (a format, a new role, a setting's name); never a
    /// message's text or a file's name.
    pub detail: String,
    pub ip: String,
    pub request_id: String,
    pub at: Millis,
}

impl NewAudit {
    pub fn new(practice: PracticeId, actor: AuditActor, kind: AuditKind, at: Millis) -> Self {
        Self {
            practice,
            actor,
            kind,
            subject: String::new(),
            client: None,
            detail: String::new(),
            ip: String::new(),
            request_id: String::new(),
            at,
        }
    }

    /// About the record `kind:id`.
    #[must_use]
    pub fn on(mut self, kind: &str, id: impl std::fmt::Display) -> Self {
        self.subject = format!("{kind}:{id}");
        self
    }

    #[must_use]
    pub fn client(mut self, client: Option<ClientId>) -> Self {
        self.client = client;
        self
    }

    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// From this IP address, in this request.
    #[must_use]
    pub fn from(mut self, ip: &str, request_id: &str) -> Self {
        self.ip = ip.to_owned();
        self.request_id = request_id.to_owned();
        self
    }
}

/// The stored fields an entry's hash is taken over, in their order.
struct Hashed<'a> {
    practice: &'a str,
    seq: i64,
    at: i64,
    actor_kind: &'a str,
    actor_id: &'a str,
    actor_label: &'a str,
    action: &'a str,
    subject: &'a str,
    client: &'a str,
    detail: &'a str,
    ip: &'a str,
    request_id: &'a str,
    prev_hash: &'a str,
}

impl Hashed<'_> {
    /// SHA-256 (hex) over a JSON array of the fields: one encoding, the
    /// same on every engine and in every version.
    fn hash(&self) -> String {
        let canonical = serde_json::json!([
            self.practice,
            self.seq,
            self.at,
            self.actor_kind,
            self.actor_id,
            self.actor_label,
            self.action,
            self.subject,
            self.client,
            self.detail,
            self.ip,
            self.request_id,
            self.prev_hash,
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// Writes an entry on a connection inside a transaction, as the next link
/// of its practice's chain.
async fn append(conn: &mut sqlx::AnyConnection, entry: &NewAudit) -> StoreResult<i64> {
    let practice = entry.practice.to_string();
    sqlx::query(
        "INSERT INTO audit_chains (practice_id, last_seq, last_hash, anchor_seq, anchor_hash) \
         VALUES ($1, 0, $2, 0, $2) ON CONFLICT (practice_id) DO NOTHING",
    )
    .bind(entry.practice)
    .bind(GENESIS_HASH)
    .execute(&mut *conn)
    .await?;
    // The update locks the head until commit: the next writer waits here.
    let (seq, prev_hash): (i64, String) = sqlx::query_as(
        "UPDATE audit_chains SET last_seq = last_seq + 1 WHERE practice_id = $1 \
         RETURNING last_seq, last_hash",
    )
    .bind(entry.practice)
    .fetch_one(&mut *conn)
    .await?;
    let client = entry.client.map(|c| c.to_string());
    let actor_id = entry.actor.id();
    let hash = Hashed {
        practice: &practice,
        seq,
        at: entry.at.0,
        actor_kind: entry.actor.kind(),
        actor_id: &actor_id,
        actor_label: entry.actor.label(),
        action: entry.kind.code(),
        subject: &entry.subject,
        client: client.as_deref().unwrap_or(""),
        detail: &entry.detail,
        ip: &entry.ip,
        request_id: &entry.request_id,
        prev_hash: &prev_hash,
    }
    .hash();
    sqlx::query("UPDATE audit_chains SET last_hash = $2 WHERE practice_id = $1")
        .bind(entry.practice)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO audit_events (id, practice_id, seq, created_at, actor_kind, actor_id, actor_label, \
         action, subject, client_id, detail, ip, request_id, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(entry.practice)
    .bind(seq)
    .bind(entry.at.0)
    .bind(entry.actor.kind())
    .bind(&actor_id)
    .bind(entry.actor.label())
    .bind(entry.kind.code())
    .bind(&entry.subject)
    .bind(entry.client)
    .bind(&entry.detail)
    .bind(&entry.ip)
    .bind(&entry.request_id)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(seq)
}

impl StoreTx {
    /// Records an entry in this transaction: it commits with the change.
    pub async fn audit(&mut self, entry: &NewAudit) -> StoreResult<()> {
        append(&mut self.tx, entry).await?;
        Ok(())
    }
}

/// One entry, as the audit page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Millis,
    pub actor_kind: String,
    pub actor_id: String,
    /// The person's name now (erased people read "Former …"), or the
    /// address tried.
    pub actor_name: String,
    pub action: String,
    pub subject: String,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub detail: String,
    pub ip: String,
    pub request_id: String,
}

/// Which entries to list; every part optional.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// `staff:<id>` or `contact:<id>`.
    pub person: Option<(String, String)>,
    pub client: Option<ClientId>,
    pub action: Option<AuditKind>,
    pub from: Option<Millis>,
    /// Up to, not including.
    pub until: Option<Millis>,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    seq: i64,
    created_at: i64,
    actor_kind: String,
    actor_id: String,
    actor_label: String,
    staff_name: Option<String>,
    contact_name: Option<String>,
    action: String,
    subject: String,
    client_id: Option<String>,
    client_name: Option<String>,
    detail: String,
    ip: String,
    request_id: String,
}

impl From<EntryRow> for AuditEntry {
    fn from(row: EntryRow) -> Self {
        let actor_name = match row.actor_kind.as_str() {
            "staff" => row
                .staff_name
                .unwrap_or_else(|| "Former team member".into()),
            "contact" => row.contact_name.unwrap_or_else(|| "Former contact".into()),
            "system" => "Portico".into(),
            _ => row.actor_label,
        };
        AuditEntry {
            seq: row.seq,
            at: Millis(row.created_at),
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            actor_name,
            action: row.action,
            subject: row.subject,
            client_id: row.client_id,
            client_name: row.client_name,
            detail: row.detail,
            ip: row.ip,
            request_id: row.request_id,
        }
    }
}

/// Where the chain first breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// A practice's chain, verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    pub practice: PracticeId,
    /// Entries checked.
    pub entries: i64,
    /// The retention anchor the check started from.
    pub anchor_seq: i64,
    pub first_break: Option<ChainBreak>,
}

#[derive(sqlx::FromRow)]
struct ChainRow {
    seq: i64,
    created_at: i64,
    actor_kind: String,
    actor_id: String,
    actor_label: String,
    action: String,
    subject: String,
    client_id: Option<String>,
    detail: String,
    ip: String,
    request_id: String,
    prev_hash: Option<String>,
    hash: Option<String>,
}

impl Store {
    /// Records an entry on its own (an action that changes nothing else:
    /// a download, a preview, a failed sign-in).
    pub async fn audit(&self, entry: &NewAudit) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        tx.audit(entry).await?;
        tx.commit().await
    }

    /// A page of entries, newest first, before entry `before` (keyset).
    pub async fn audit_entries(
        &self,
        practice: PracticeId,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        let (person_kind, person_id) = filter.person.clone().unzip();
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT e.seq, e.created_at, e.actor_kind, e.actor_id, e.actor_label, \
             u.name AS staff_name, k.name AS contact_name, e.action, e.subject, e.client_id, \
             c.name AS client_name, e.detail, e.ip, e.request_id \
             FROM audit_events e \
             LEFT JOIN staff_users u ON e.actor_kind = 'staff' AND u.practice_id = e.practice_id AND u.id = e.actor_id \
             LEFT JOIN contacts k ON e.actor_kind = 'contact' AND k.practice_id = e.practice_id AND k.id = e.actor_id \
             LEFT JOIN clients c ON c.practice_id = e.practice_id AND c.id = e.client_id \
             WHERE e.practice_id = $1 AND e.seq IS NOT NULL \
             AND ($2 IS NULL OR e.actor_kind = $2) AND ($3 IS NULL OR e.actor_id = $3) \
             AND ($4 IS NULL OR e.client_id = $4) AND ($5 IS NULL OR e.action = $5) \
             AND ($6 IS NULL OR e.created_at >= $6) AND ($7 IS NULL OR e.created_at < $7) \
             AND ($8 IS NULL OR e.seq < $8) \
             ORDER BY e.seq DESC LIMIT $9",
        )
        .bind(practice)
        .bind(person_kind)
        .bind(person_id)
        .bind(filter.client)
        .bind(filter.action.map(AuditKind::code))
        .bind(filter.from.map(|m| m.0))
        .bind(filter.until.map(|m| m.0))
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }

    /// The audit events of a practice about one subject (`kind:id`),
    /// oldest first: their codes and times.
    pub async fn audit_events(
        &self,
        practice: PracticeId,
        subject: &str,
    ) -> StoreResult<Vec<(String, Millis)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT action, created_at FROM audit_events WHERE practice_id = $1 AND subject = $2 \
             ORDER BY seq, created_at, id",
        )
        .bind(practice)
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(a, t)| (a, Millis(t))).collect())
    }

    /// Gives the entries written before the chain existed (by an earlier
    /// version, without number or hash) their place in it, oldest first.
    /// Run at start-up; does nothing once done.
    pub async fn chain_earlier_audit_events(&self) -> StoreResult<u64> {
        let practices: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT practice_id FROM audit_events WHERE seq IS NULL ORDER BY practice_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut chained = 0;
        for (practice,) in practices {
            let mut tx = self.begin().await?;
            let rows: Vec<(String, String, String, String, String, i64)> = sqlx::query_as(
                "SELECT id, actor_kind, actor_id, action, subject, created_at FROM audit_events \
                 WHERE practice_id = $1 AND seq IS NULL ORDER BY created_at, id",
            )
            .bind(&practice)
            .fetch_all(&mut *tx.tx)
            .await?;
            let practice_id: PracticeId = parse_id(&practice)?;
            for (id, actor_kind, actor_id, action, subject, at) in rows {
                let actor = match actor_kind.as_str() {
                    "staff" => AuditActor::Staff(parse_id(&actor_id)?),
                    "contact" => AuditActor::Contact(parse_id(&actor_id)?),
                    _ => AuditActor::System,
                };
                let kind = AuditKind::parse(&action)
                    .ok_or_else(|| StoreError::Corrupt(format!("audit action {action:?}")))?;
                let mut entry = NewAudit::new(practice_id, actor, kind, Millis(at));
                entry.subject = subject;
                append(&mut tx.tx, &entry).await?;
                sqlx::query("DELETE FROM audit_events WHERE id = $1")
                    .bind(&id)
                    .execute(&mut *tx.tx)
                    .await?;
                chained += 1;
            }
            tx.commit().await?;
        }
        Ok(chained)
    }

    /// Verifies a practice's chain from its anchor: numbers follow each
    /// other, each entry names the hash of the one before, each hash is
    /// that of its entry, and the head names the last entry.
    pub async fn verify_audit_chain(&self, practice: PracticeId) -> StoreResult<ChainReport> {
        let head: Option<(i64, String, i64, String)> = sqlx::query_as(
            "SELECT last_seq, last_hash, anchor_seq, anchor_hash FROM audit_chains WHERE practice_id = $1",
        )
        .bind(practice)
        .fetch_optional(&self.pool)
        .await?;
        let (last_seq, last_hash, anchor_seq, anchor_hash) =
            head.unwrap_or((0, GENESIS_HASH.into(), 0, GENESIS_HASH.into()));
        let practice_text = practice.to_string();
        let mut report = ChainReport {
            practice,
            entries: 0,
            anchor_seq,
            first_break: None,
        };
        let broken = |seq: i64, reason: String| Some(ChainBreak { seq, reason });
        let mut expected_seq = anchor_seq + 1;
        let mut expected_prev = anchor_hash;
        let mut after = i64::MIN;
        loop {
            let rows: Vec<ChainRow> = sqlx::query_as(
                "SELECT seq, created_at, actor_kind, actor_id, actor_label, action, subject, client_id, \
                 detail, ip, request_id, prev_hash, hash FROM audit_events \
                 WHERE practice_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000",
            )
            .bind(practice)
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            for row in &rows {
                if row.seq != expected_seq {
                    report.first_break = broken(
                        expected_seq,
                        if row.seq > expected_seq {
                            format!("entry {expected_seq} is missing")
                        } else {
                            format!("entry {} comes before the anchor", row.seq)
                        },
                    );
                    return Ok(report);
                }
                let prev = row.prev_hash.as_deref().unwrap_or("");
                if prev != expected_prev {
                    report.first_break = broken(
                        row.seq,
                        "does not name the hash of the entry before it".into(),
                    );
                    return Ok(report);
                }
                let hash = Hashed {
                    practice: &practice_text,
                    seq: row.seq,
                    at: row.created_at,
                    actor_kind: &row.actor_kind,
                    actor_id: &row.actor_id,
                    actor_label: &row.actor_label,
                    action: &row.action,
                    subject: &row.subject,
                    client: row.client_id.as_deref().unwrap_or(""),
                    detail: &row.detail,
                    ip: &row.ip,
                    request_id: &row.request_id,
                    prev_hash: prev,
                }
                .hash();
                if Some(hash.as_str()) != row.hash.as_deref() {
                    report.first_break =
                        broken(row.seq, "its content does not match its hash".into());
                    return Ok(report);
                }
                report.entries += 1;
                expected_seq += 1;
                expected_prev = hash;
            }
        }
        if expected_seq - 1 != last_seq || expected_prev != last_hash {
            report.first_break = broken(
                expected_seq,
                format!(
                    "the log ends at entry {} but {last_seq} were written",
                    expected_seq - 1
                ),
            );
        }
        Ok(report)
    }

    /// Removes the entries older than `before` (X2 retention), keeping the
    /// last removed entry's number and hash as the anchor, and records the
    /// removal as an entry of its own. Returns how many went.
    pub async fn prune_audit(
        &self,
        practice: PracticeId,
        before: Millis,
        now: Millis,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        // Lock the head: no entry is written while the anchor moves.
        let locked =
            sqlx::query("UPDATE audit_chains SET last_seq = last_seq WHERE practice_id = $1")
                .bind(practice)
                .execute(&mut *tx.tx)
                .await?
                .rows_affected();
        if locked == 0 {
            return Ok(0);
        }
        let newest_old: Option<(i64, String)> = sqlx::query_as(
            "SELECT seq, hash FROM audit_events WHERE practice_id = $1 AND seq = \
             (SELECT MAX(seq) FROM audit_events WHERE practice_id = $1 AND created_at < $2)",
        )
        .bind(practice)
        .bind(before.0)
        .fetch_optional(&mut *tx.tx)
        .await?;
        let Some((anchor_seq, anchor_hash)) = newest_old else {
            return Ok(0);
        };

        let removed = sqlx::query("DELETE FROM audit_events WHERE practice_id = $1 AND seq <= $2")
            .bind(practice)
            .bind(anchor_seq)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE audit_chains SET anchor_seq = $2, anchor_hash = $3 WHERE practice_id = $1",
        )
        .bind(practice)
        .bind(anchor_seq)
        .bind(&anchor_hash)
        .execute(&mut *tx.tx)
        .await?;
        let removed = i64::try_from(removed).unwrap_or(i64::MAX);
        tx.audit(
            &NewAudit::new(practice, AuditActor::System, AuditKind::AuditPruned, now)
                .detail(format!("{removed} entries up to number {anchor_seq}")),
        )
        .await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// X2: how many days a practice keeps its audit log.
    pub async fn audit_retention_days(&self, practice: PracticeId) -> StoreResult<i64> {
        let (days,): (i64,) =
            sqlx::query_as("SELECT audit_retention_days FROM practices WHERE id = $1")
                .bind(practice)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        Ok(days)
    }

    /// Sets the retention, recorded in the same transaction.
    pub async fn set_audit_retention_days(&self, days: i64, entry: &NewAudit) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE practices SET audit_retention_days = $2 WHERE id = $1")
            .bind(entry.practice)
            .bind(days)
            .execute(&mut *tx.tx)
            .await?;
        super::staff::found(done.rows_affected())?;
        tx.audit(entry).await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_code() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(AuditKind::parse("something else"), None);
    }

    #[test]
    fn the_hash_covers_every_field() {
        let base = Hashed {
            practice: "p",
            seq: 1,
            at: 2,
            actor_kind: "staff",
            actor_id: "s",
            actor_label: "",
            action: "signed in",
            subject: "",
            client: "",
            detail: "",
            ip: "127.0.0.1",
            request_id: "r",
            prev_hash: GENESIS_HASH,
        };
        let hash = base.hash();
        assert_eq!(hash.len(), 64);
        assert_ne!(
            hash,
            Hashed {
                ip: "10.0.0.1",
                ..base
            }
            .hash()
        );
        let base = Hashed {
            practice: "p",
            seq: 1,
            at: 2,
            actor_kind: "staff",
            actor_id: "s",
            actor_label: "",
            action: "signed in",
            subject: "",
            client: "",
            detail: "",
            ip: "127.0.0.1",
            request_id: "r",
            prev_hash: GENESIS_HASH,
        };
        assert_ne!(hash, Hashed { seq: 2, ..base }.hash());
    }
}
