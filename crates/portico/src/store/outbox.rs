//! The durable outbox (N3): e-mail and SMS written in the same transaction
//! as the change that causes them, delivered by a worker with retries.

use super::{Store, StoreError, StoreResult, StoreTx, parse_id};
use crate::domain::{Millis, PracticeId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
    /// X12: a Web Push to one device; `recipient` is the subscription's id
    /// and `subject` the push notice's.
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    Pending,
    Sent,
    /// Given up on after too many failures; an admin may retry it.
    Dead,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Dead => "dead",
        }
    }
}

/// A message to queue.
#[derive(Clone, Debug)]
pub struct NewOutboxItem {
    pub practice_id: Option<PracticeId>,
    pub channel: Channel,
    /// The same key twice is one message: the second is ignored.
    pub idempotency_key: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: String,
    pub practice_id: Option<PracticeId>,
    pub channel: Channel,
    pub idempotency_key: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub sent_at: Option<Millis>,
    /// RFC 8058: the one-click unsubscribe address of a notification.
    pub list_unsubscribe: Option<String>,
    /// X11: the address a reply goes to (one per person and conversation).
    pub reply_to: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: String,
    practice_id: Option<String>,
    channel: String,
    idempotency_key: String,
    recipient: String,
    subject: String,
    body_text: String,
    body_html: Option<String>,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
    list_unsubscribe: Option<String>,
    reply_to: Option<String>,
}

macro_rules! outbox_columns {
    () => {
        "id, practice_id, channel, idempotency_key, recipient, subject, body_text, body_html, \
         status, attempts, next_attempt_at, last_error, created_at, sent_at, list_unsubscribe, \
         reply_to"
    };
}
pub(super) use outbox_columns;

impl TryFrom<OutboxRow> for OutboxItem {
    type Error = StoreError;
    fn try_from(row: OutboxRow) -> StoreResult<Self> {
        Ok(OutboxItem {
            id: row.id,
            practice_id: row.practice_id.as_deref().map(parse_id).transpose()?,
            channel: match row.channel.as_str() {
                "email" => Channel::Email,
                "sms" => Channel::Sms,
                "push" => Channel::Push,
                other => return Err(StoreError::Corrupt(format!("outbox channel {other:?}"))),
            },
            idempotency_key: row.idempotency_key,
            recipient: row.recipient,
            subject: row.subject,
            body_text: row.body_text,
            body_html: row.body_html,
            status: match row.status.as_str() {
                "pending" => OutboxStatus::Pending,
                "sent" => OutboxStatus::Sent,
                "dead" => OutboxStatus::Dead,
                other => return Err(StoreError::Corrupt(format!("outbox status {other:?}"))),
            },
            attempts: row.attempts,
            next_attempt_at: Millis(row.next_attempt_at),
            last_error: row.last_error,
            created_at: Millis(row.created_at),
            sent_at: row.sent_at.map(Millis),
            list_unsubscribe: row.list_unsubscribe,
            reply_to: row.reply_to,
        })
    }
}

impl StoreTx {
    /// Queues a message, due at once, as part of this transaction.
    pub async fn enqueue(&mut self, item: &NewOutboxItem, now: Millis) -> StoreResult<()> {
        self.enqueue_with_unsubscribe(item, None, now).await
    }

    /// Queues a notification that carries a one-click unsubscribe address
    /// (RFC 8058).
    pub async fn enqueue_with_unsubscribe(
        &mut self,
        item: &NewOutboxItem,
        list_unsubscribe: Option<&str>,
        now: Millis,
    ) -> StoreResult<()> {
        self.enqueue_notification(item, list_unsubscribe, None, now)
            .await
    }

    /// Queues a notification with its unsubscribe and reply addresses
    /// (X11). A text to a number that said STOP is not queued.
    pub async fn enqueue_notification(
        &mut self,
        item: &NewOutboxItem,
        list_unsubscribe: Option<&str>,
        reply_to: Option<&str>,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO outbox (id, practice_id, channel, idempotency_key, recipient, subject, body_text, \
             body_html, status, attempts, next_attempt_at, claimed_until, created_at, list_unsubscribe, reply_to) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, 0, $9, $10, $11 \
             WHERE NOT ($3 = 'sms' AND EXISTS (SELECT 1 FROM sms_opt_outs WHERE phone = $5)) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(item.practice_id)
        .bind(item.channel.as_str())
        .bind(&item.idempotency_key)
        .bind(&item.recipient)
        .bind(&item.subject)
        .bind(&item.body_text)
        .bind(item.body_html.as_deref())
        .bind(now.0)
        .bind(list_unsubscribe)
        .bind(reply_to)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

impl Store {
    /// Claims up to `limit` due messages for `lease_ms`: another worker (in
    /// this or another instance) will not take them until the lease ends,
    /// and a worker that died mid-send leaves them to be taken again.
    pub async fn claim_due_outbox(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutboxItem>> {
        sqlx::query_as::<_, OutboxRow>(self.backend.claim_outbox_sql())
            .bind(now.0)
            .bind(now.0 + lease_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(OutboxItem::try_from)
            .collect()
    }

    pub async fn mark_outbox_sent(&self, id: &str, now: Millis) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $2, attempts = attempts + 1, last_error = NULL \
             WHERE id = $1",
        )
        .bind(id)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: tried again at `retry_at`, or dead.
    pub async fn mark_outbox_failed(
        &self,
        id: &str,
        error: &str,
        retry_at: Option<Millis>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2, claimed_until = 0, \
             status = CASE WHEN $3 IS NULL THEN 'dead' ELSE 'pending' END, \
             next_attempt_at = COALESCE($3, next_attempt_at) WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at.map(|m| m.0))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A practice's messages in one state, newest first.
    pub async fn list_outbox(
        &self,
        practice: PracticeId,
        status: OutboxStatus,
        limit: i64,
    ) -> StoreResult<Vec<OutboxItem>> {
        sqlx::query_as::<_, OutboxRow>(concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox WHERE practice_id = $1 AND status = $2 ORDER BY created_at DESC, id LIMIT $3"
        ))
        .bind(practice)
        .bind(status.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(OutboxItem::try_from)
        .collect()
    }

    /// Every message to one recipient, oldest first (for tests and support).
    pub async fn outbox_for(&self, recipient: &str) -> StoreResult<Vec<OutboxItem>> {
        sqlx::query_as::<_, OutboxRow>(concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox WHERE recipient = $1 ORDER BY created_at, id"
        ))
        .bind(recipient)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(OutboxItem::try_from)
        .collect()
    }

    /// Puts a dead message of the practice back in the queue, due now.
    pub async fn retry_outbox(
        &self,
        practice: PracticeId,
        id: &str,
        now: Millis,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $3, claimed_until = 0 \
             WHERE practice_id = $1 AND id = $2 AND status = 'dead'",
        )
        .bind(practice)
        .bind(id)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        super::staff::found(done.rows_affected())
    }
}
