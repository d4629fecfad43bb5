//! Webhooks (X3): the endpoints a practice registers, and one delivery row
//! per event and endpoint, written in the transaction of the change that
//! caused the event (as the outbox is). The worker in
//! [`crate::delivery::webhooks`] claims them in order per endpoint.

use super::batch_sql::{BatchSql, Bind};
use super::{NewAudit, NewOutboxItem, Store, StoreError, StoreResult, StoreTx, flag, parse_id};
use crate::domain::{Millis, PracticeId, WebhookId};
use serde_json::{Map, Value, json};

/// What an endpoint can ask to hear of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    MessageCreated,
    QuestionAsked,
    QuestionAnswered,
    QuestionResolved,
    ContactActivated,
    FileUploaded,
    ClientCreated,
    /// "Send a test event" on the Integrations page; to one endpoint only.
    Test,
}

impl WebhookEvent {
    /// The events an endpoint can choose (the test event goes to whoever asks).
    pub const ALL: [WebhookEvent; 7] = [
        WebhookEvent::MessageCreated,
        WebhookEvent::QuestionAsked,
        WebhookEvent::QuestionAnswered,
        WebhookEvent::QuestionResolved,
        WebhookEvent::ContactActivated,
        WebhookEvent::FileUploaded,
        WebhookEvent::ClientCreated,
    ];

    /// The payload's `type`.
    pub fn code(self) -> &'static str {
        match self {
            WebhookEvent::MessageCreated => "message.created",
            WebhookEvent::QuestionAsked => "question.asked",
            WebhookEvent::QuestionAnswered => "question.answered",
            WebhookEvent::QuestionResolved => "question.resolved",
            WebhookEvent::ContactActivated => "contact.activated",
            WebhookEvent::FileUploaded => "file.uploaded",
            WebhookEvent::ClientCreated => "client.created",
            WebhookEvent::Test => "webhook.test",
        }
    }

    /// In a person's words, for the Integrations page.
    pub fn label(self) -> &'static str {
        match self {
            WebhookEvent::MessageCreated => "A message is sent",
            WebhookEvent::QuestionAsked => "A question is asked",
            WebhookEvent::QuestionAnswered => "A question is answered",
            WebhookEvent::QuestionResolved => "A question is resolved",
            WebhookEvent::ContactActivated => "A contact activates their account",
            WebhookEvent::FileUploaded => "A file is uploaded",
            WebhookEvent::ClientCreated => "A client is added",
            WebhookEvent::Test => "Test event",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

/// A registered endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    pub practice_id: PracticeId,
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEvent>,
    pub allow_local: bool,
    pub enabled: bool,
    /// `whsec_…`: what deliveries are signed with.
    pub secret: String,
    /// The secret before the last rotation, and until when it still signs.
    pub previous_secret: Option<String>,
    pub previous_until: Option<Millis>,
    /// The first failure since the last success.
    pub failing_since: Option<Millis>,
    /// Why Portico disabled it (none: an admin did, or it is enabled).
    pub disabled_reason: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl WebhookEndpoint {
    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.events.contains(&event)
    }

    /// The secrets that sign a delivery at `now`: the current one, and the
    /// previous one during the overlap after a rotation.
    pub fn signing_secrets(&self, now: Millis) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_until)
            && now < until
        {
            secrets.push(previous.as_str());
        }
        secrets
    }
}

/// What an admin sets on an endpoint.
#[derive(Clone, Debug)]
pub struct EndpointFields {
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEvent>,
    pub allow_local: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
}

/// One event on its way to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The `webhook-id`: the same on every attempt.
    pub id: String,
    pub practice_id: PracticeId,
    pub endpoint_id: WebhookId,
    pub event_type: String,
    /// The JSON body, exactly as it is signed and sent.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub response_excerpt: Option<String>,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
}

/// An event to post to the practice's endpoints that want it.
#[derive(Clone, Debug)]
pub struct WebhookPost {
    pub practice: PracticeId,
    pub event: WebhookEvent,
    pub at: Millis,
    /// Ids and what changed.
    pub data: Map<String, Value>,
    /// Text people wrote (a message, a question): added to `data` only when
    /// the practice lets payloads carry it.
    pub content: Map<String, Value>,
}

impl WebhookPost {
    pub fn new(practice: PracticeId, event: WebhookEvent, at: Millis) -> Self {
        Self {
            practice,
            event,
            at,
            data: Map::new(),
            content: Map::new(),
        }
    }

    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_owned(), value.into());
        self
    }

    #[must_use]
    pub fn with_content(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.content.insert(key.to_owned(), value.into());
        self
    }

    /// The body as Standard Webhooks lays it out: `{type, timestamp, data}`.
    fn payload(&self, include_content: bool) -> String {
        let mut data = self.data.clone();
        if include_content {
            data.extend(self.content.clone());
        }
        json!({
            "type": self.event.code(),
            "timestamp": timestamp_text(self.at),
            "data": data,
        })
        .to_string()
    }
}

/// RFC 3339, in UTC, to the millisecond.
fn timestamp_text(at: Millis) -> String {
    jiff::Timestamp::from_millisecond(at.0)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    practice_id: String,
    url: String,
    description: String,
    events: String,
    allow_local: i64,
    enabled: i64,
    secret: String,
    previous_secret: Option<String>,
    previous_until: Option<i64>,
    failing_since: Option<i64>,
    disabled_reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

const ENDPOINT_COLUMNS: &str = "id, practice_id, url, description, events, allow_local, enabled, secret, \
     previous_secret, previous_until, failing_since, disabled_reason, created_at, updated_at";

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;
    fn try_from(row: EndpointRow) -> StoreResult<Self> {
        Ok(WebhookEndpoint {
            id: parse_id(&row.id)?,
            practice_id: parse_id(&row.practice_id)?,
            url: row.url,
            description: row.description,
            events: row
                .events
                .split(',')
                .filter_map(WebhookEvent::parse)
                .collect(),
            allow_local: row.allow_local != 0,
            enabled: row.enabled != 0,
            secret: row.secret,
            previous_secret: row.previous_secret,
            previous_until: row.previous_until.map(Millis),
            failing_since: row.failing_since.map(Millis),
            disabled_reason: row.disabled_reason,
            created_at: Millis(row.created_at),
            updated_at: Millis(row.updated_at),
        })
    }
}

/// `,message.created,client.created,`: each code between commas, so a
/// search for `,code,` finds the endpoints that want an event.
fn events_text(events: &[WebhookEvent]) -> String {
    let mut text = String::from(",");
    for event in WebhookEvent::ALL {
        if events.contains(&event) {
            text.push_str(event.code());
            text.push(',');
        }
    }
    text
}

#[derive(sqlx::FromRow)]
pub(super) struct DeliveryRow {
    id: String,
    practice_id: String,
    endpoint_id: String,
    event_type: String,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    response_excerpt: Option<String>,
    created_at: i64,
    delivered_at: Option<i64>,
}

macro_rules! delivery_columns {
    () => {
        "id, practice_id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, \
         last_status, last_error, response_excerpt, created_at, delivered_at"
    };
}
pub(super) use delivery_columns;

impl TryFrom<DeliveryRow> for WebhookDelivery {
    type Error = StoreError;
    fn try_from(row: DeliveryRow) -> StoreResult<Self> {
        Ok(WebhookDelivery {
            id: row.id,
            practice_id: parse_id(&row.practice_id)?,
            endpoint_id: parse_id(&row.endpoint_id)?,
            event_type: row.event_type,
            payload: row.payload,
            status: match row.status.as_str() {
                "pending" => DeliveryStatus::Pending,
                "delivered" => DeliveryStatus::Delivered,
                other => return Err(StoreError::Corrupt(format!("delivery status {other:?}"))),
            },
            attempts: row.attempts,
            next_attempt_at: Millis(row.next_attempt_at),
            last_status: row.last_status,
            last_error: row.last_error,
            response_excerpt: row.response_excerpt,
            created_at: Millis(row.created_at),
            delivered_at: row.delivered_at.map(Millis),
        })
    }
}

impl StoreTx {
    /// Queues `post` for every enabled endpoint of its practice that wants
    /// it, as part of this transaction.
    pub async fn queue_webhook(&mut self, post: &WebhookPost) -> StoreResult<()> {
        self.queue_webhooks(std::slice::from_ref(post)).await?;
        Ok(())
    }

    /// Queues several events (a batch of messages): see [`queue_webhooks`].
    pub async fn queue_webhooks(&mut self, posts: &[WebhookPost]) -> StoreResult<usize> {
        queue_webhooks(self, posts).await
    }
}

/// Queues several events (a batch of messages) on `db`'s transaction: one
/// look-up of the endpoints for all their practices, nothing more when
/// none has one. Returns how many deliveries were queued.
pub(super) async fn queue_webhooks<D: BatchSql>(
    db: &mut D,
    posts: &[WebhookPost],
) -> StoreResult<usize> {
    let mut practices: Vec<PracticeId> = posts.iter().map(|p| p.practice).collect();
    practices.sort();
    practices.dedup();
    if practices.is_empty() {
        return Ok(0);
    }
    // Placeholders only ($1, $2, …): the values are bound.
    let list: Vec<String> = (1..=practices.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT e.id, e.practice_id, e.events, p.webhook_content FROM webhook_endpoints e \
         JOIN practices p ON p.id = e.practice_id \
         WHERE e.enabled = 1 AND e.practice_id IN ({})",
        list.join(", ")
    );
    let binds: Vec<Bind> = practices
        .iter()
        .map(|p| Bind::from(p.to_string()))
        .collect();
    let rows: Vec<(String, String, String, i64)> = db.rows(&sql, &binds).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut endpoints: Vec<(WebhookId, PracticeId, String, i64)> = Vec::with_capacity(rows.len());
    for (id, practice, events, content) in rows {
        endpoints.push((parse_id(&id)?, parse_id(&practice)?, events, content));
    }
    let mut queued = 0;
    for post in posts {
        let wanted = format!(",{},", post.event.code());
        let mut payloads: [Option<String>; 2] = [None, None];
        for (endpoint, _, _, content) in endpoints
            .iter()
            .filter(|(_, p, events, _)| *p == post.practice && events.contains(&wanted))
        {
            let include = *content != 0;
            let payload = payloads[usize::from(include)]
                .get_or_insert_with(|| post.payload(include))
                .clone();
            insert_delivery(db, post.practice, *endpoint, post.event, payload, post.at).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// One delivery of `event` to `endpoint`, due now.
async fn insert_delivery<D: BatchSql>(
    db: &mut D,
    practice: PracticeId,
    endpoint: WebhookId,
    event: WebhookEvent,
    payload: String,
    at: Millis,
) -> StoreResult<()> {
    db.exec(
        "INSERT INTO webhook_deliveries (id, practice_id, endpoint_id, event_type, payload, status, \
         attempts, next_attempt_at, claimed_until, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, 0, $6)",
        &[
            Bind::from(uuid::Uuid::now_v7().to_string()),
            Bind::from(practice.to_string()),
            Bind::from(endpoint.to_string()),
            Bind::from(event.code().to_owned()),
            Bind::from(payload),
            Bind::from(at.0),
        ],
    )
    .await?;
    Ok(())
}

impl Store {
    /// A practice's endpoints, oldest first.
    pub async fn webhook_endpoints(
        &self,
        practice: PracticeId,
    ) -> StoreResult<Vec<WebhookEndpoint>> {
        sqlx::query_as::<_, EndpointRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE practice_id = $1 ORDER BY created_at, id"
        )))
        .bind(practice)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(WebhookEndpoint::try_from)
        .collect()
    }

    pub async fn webhook_endpoint(
        &self,
        practice: PracticeId,
        id: WebhookId,
    ) -> StoreResult<WebhookEndpoint> {
        sqlx::query_as::<_, EndpointRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE practice_id = $1 AND id = $2"
        )))
        .bind(practice)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_into()
    }

    /// Registers an endpoint, enabled, with its first secret.
    pub async fn create_webhook_endpoint(
        &self,
        practice: PracticeId,
        fields: &EndpointFields,
        secret: &str,
        audit: &NewAudit,
    ) -> StoreResult<WebhookEndpoint> {
        let id = WebhookId::new();
        let now = audit.at;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, practice_id, url, description, events, allow_local, enabled, \
             secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $8)",
        )
        .bind(id)
        .bind(practice)
        .bind(&fields.url)
        .bind(&fields.description)
        .bind(events_text(&fields.events))
        .bind(flag(fields.allow_local))
        .bind(secret)
        .bind(now.0)
        .execute(&mut *tx.tx)
        .await?;
        tx.audit(&audit.clone().on("webhook", id)).await?;
        tx.commit().await?;
        self.webhook_endpoint(practice, id).await
    }

    /// Changes what an admin sets on an endpoint.
    pub async fn update_webhook_endpoint(
        &self,
        practice: PracticeId,
        id: WebhookId,
        fields: &EndpointFields,
        audit: &NewAudit,
    ) -> StoreResult<()> {
        let done = self
            .execute_audited(
                sqlx::query(
                    "UPDATE webhook_endpoints SET url = $3, description = $4, events = $5, allow_local = $6, \
                     updated_at = $7 WHERE practice_id = $1 AND id = $2",
                )
                .bind(practice)
                .bind(id)
                .bind(fields.url.clone())
                .bind(fields.description.clone())
                .bind(events_text(&fields.events))
                .bind(flag(fields.allow_local))
                .bind(audit.at.0),
                &audit.clone().on("webhook", id),
            )
            .await?;
        super::staff::found(done)
    }

    /// Enables or disables an endpoint. Enabled again, it starts afresh:
    /// no failures counted, what waits for it due at once.
    pub async fn set_webhook_enabled(
        &self,
        practice: PracticeId,
        id: WebhookId,
        enabled: bool,
        audit: &NewAudit,
    ) -> StoreResult<()> {
        let now = audit.at;
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET enabled = $3, failing_since = NULL, disabled_reason = NULL, \
             updated_at = $4 WHERE practice_id = $1 AND id = $2",
        )
        .bind(practice)
        .bind(id)
        .bind(flag(enabled))
        .bind(now.0)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        super::staff::found(done)?;
        if enabled {
            sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $3 WHERE practice_id = $1 AND endpoint_id = $2 \
                 AND status = 'pending' AND next_attempt_at > $3",
            )
            .bind(practice)
            .bind(id)
            .bind(now.0)
            .execute(&mut *tx.tx)
            .await?;
        }
        tx.audit(&audit.clone().on("webhook", id)).await?;
        tx.commit().await
    }

    /// Removes an endpoint and what waits for it.
    pub async fn delete_webhook_endpoint(
        &self,
        practice: PracticeId,
        id: WebhookId,
        audit: &NewAudit,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE practice_id = $1 AND endpoint_id = $2")
            .bind(practice)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE practice_id = $1 AND id = $2")
            .bind(practice)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        super::staff::found(done)?;
        tx.audit(&audit.clone().on("webhook", id)).await?;
        tx.commit().await
    }

    /// A new secret; the one it replaces keeps signing until `overlap_until`.
    pub async fn rotate_webhook_secret(
        &self,
        practice: PracticeId,
        id: WebhookId,
        secret: &str,
        overlap_until: Millis,
        audit: &NewAudit,
    ) -> StoreResult<()> {
        let done = self
            .execute_audited(
                sqlx::query(
                    "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $4, secret = $3, \
                     updated_at = $5 WHERE practice_id = $1 AND id = $2",
                )
                .bind(practice)
                .bind(id)
                .bind(secret.to_owned())
                .bind(overlap_until.0)
                .bind(audit.at.0),
                &audit.clone().on("webhook", id),
            )
            .await?;
        super::staff::found(done)
    }

    /// Queues a test event for one endpoint, whatever events it chose.
    pub async fn queue_webhook_test(
        &self,
        endpoint: &WebhookEndpoint,
        post: &WebhookPost,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_delivery(
            &mut tx,
            endpoint.practice_id,
            endpoint.id,
            WebhookEvent::Test,
            post.payload(false),
            post.at,
        )
        .await?;
        tx.commit().await
    }

    /// An endpoint's deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        practice: PracticeId,
        endpoint: WebhookId,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        sqlx::query_as::<_, DeliveryRow>(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE practice_id = $1 AND endpoint_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(practice)
        .bind(endpoint)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(WebhookDelivery::try_from)
        .collect()
    }

    /// Whether the practice's payloads carry message and question text.
    pub async fn webhook_content(&self, practice: PracticeId) -> StoreResult<bool> {
        let (on,): (i64,) = sqlx::query_as("SELECT webhook_content FROM practices WHERE id = $1")
            .bind(practice)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(on != 0)
    }

    pub async fn set_webhook_content(
        &self,
        practice: PracticeId,
        on: bool,
        audit: &NewAudit,
    ) -> StoreResult<()> {
        let done = self
            .execute_audited(
                sqlx::query("UPDATE practices SET webhook_content = $2 WHERE id = $1")
                    .bind(practice)
                    .bind(flag(on)),
                audit,
            )
            .await?;
        super::staff::found(done)
    }

    /// Claims up to `limit` deliveries due now, each the oldest one waiting
    /// for its (enabled) endpoint, for `lease_ms`: an endpoint hears of its
    /// events in order, one at a time, and two instances never post the
    /// same one together.
    pub async fn claim_due_webhooks(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        sqlx::query_as::<_, DeliveryRow>(self.backend.claim_webhooks_sql())
            .bind(now.0)
            .bind(now.0 + lease_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(WebhookDelivery::try_from)
            .collect()
    }

    /// The endpoint a claimed delivery goes to (`None`: deleted meanwhile).
    pub async fn webhook_endpoint_for(
        &self,
        delivery: &WebhookDelivery,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        match self
            .webhook_endpoint(delivery.practice_id, delivery.endpoint_id)
            .await
        {
            Ok(endpoint) => Ok(Some(endpoint)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A 2xx answer: the delivery is done and the endpoint no longer failing.
    pub async fn mark_webhook_delivered(
        &self,
        delivery: &WebhookDelivery,
        status: i64,
        excerpt: &str,
        now: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = $2, \
             last_error = NULL, response_excerpt = $3, delivered_at = $4, claimed_until = 0 WHERE id = $1",
        )
        .bind(&delivery.id)
        .bind(status)
        .bind(excerpt)
        .bind(now.0)
        .execute(&mut *tx.tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_endpoints SET failing_since = NULL WHERE practice_id = $1 AND id = $2",
        )
        .bind(delivery.practice_id)
        .bind(delivery.endpoint_id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// A failed attempt, tried again at `retry_at`; returns since when the
    /// endpoint has been failing (this failure, if it was not before).
    pub async fn mark_webhook_failed(
        &self,
        delivery: &WebhookDelivery,
        status: Option<i64>,
        error: &str,
        excerpt: Option<&str>,
        retry_at: Millis,
        now: Millis,
    ) -> StoreResult<Millis> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3, \
             response_excerpt = $4, next_attempt_at = $5, claimed_until = 0 WHERE id = $1",
        )
        .bind(&delivery.id)
        .bind(status)
        .bind(error)
        .bind(excerpt)
        .bind(retry_at.0)
        .execute(&mut *tx.tx)
        .await?;
        let since: Option<(Option<i64>,)> = sqlx::query_as(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $3) \
             WHERE practice_id = $1 AND id = $2 RETURNING failing_since",
        )
        .bind(delivery.practice_id)
        .bind(delivery.endpoint_id)
        .bind(now.0)
        .fetch_optional(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(since.and_then(|(s,)| s).map_or(now, Millis))
    }

    /// Disables an endpoint that kept failing and queues `mails` (the
    /// admins told) in the same transaction; false when it was no longer
    /// enabled (another instance disabled it first, or an admin did).
    pub async fn disable_failing_webhook(
        &self,
        practice: PracticeId,
        id: WebhookId,
        reason: &str,
        mails: &[NewOutboxItem],
        now: Millis,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $3, updated_at = $4 \
             WHERE practice_id = $1 AND id = $2 AND enabled = 1",
        )
        .bind(practice)
        .bind(id)
        .bind(reason)
        .bind(now.0)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Ok(false);
        }
        for mail in mails {
            tx.enqueue(mail, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_text() {
        let events = vec![WebhookEvent::ClientCreated, WebhookEvent::MessageCreated];
        let text = events_text(&events);
        assert_eq!(text, ",message.created,client.created,");
        let back: Vec<_> = text.split(',').filter_map(WebhookEvent::parse).collect();
        assert_eq!(
            back,
            vec![WebhookEvent::MessageCreated, WebhookEvent::ClientCreated]
        );
    }

    #[test]
    fn text_is_in_the_payload_only_when_allowed() {
        let post = WebhookPost::new(PracticeId::new(), WebhookEvent::MessageCreated, Millis(0))
            .with("message_id", "m1")
            .with_content("text", "secret plans");
        let without: Value = serde_json::from_str(&post.payload(false)).unwrap_or_default();
        let with: Value = serde_json::from_str(&post.payload(true)).unwrap_or_default();
        assert_eq!(without["type"], "message.created");
        assert_eq!(without["timestamp"], "1970-01-01T00:00:00Z");
        assert_eq!(without["data"]["message_id"], "m1");
        assert!(without["data"].get("text").is_none());
        assert_eq!(with["data"]["text"], "secret plans");
    }

    #[test]
    fn the_previous_secret_signs_only_during_the_overlap() {
        let endpoint = WebhookEndpoint {
            id: WebhookId::new(),
            practice_id: PracticeId::new(),
            url: "https://example.com/hook".into(),
            description: String::new(),
            events: vec![],
            allow_local: false,
            enabled: true,
            secret: "new".into(),
            previous_secret: Some("old".into()),
            previous_until: Some(Millis(1_000)),
            failing_since: None,
            disabled_reason: None,
            created_at: Millis(0),
            updated_at: Millis(0),
        };
        assert_eq!(endpoint.signing_secrets(Millis(999)), vec!["new", "old"]);
        assert_eq!(endpoint.signing_secrets(Millis(1_000)), vec!["new"]);
    }
}
