//! Web Push (X12): the devices each person asked to be notified on, and
//! the push notifications sent to them (claimed once, marked delivered by
//! the outbox worker and opened by the notification's link).

use super::{Member, Store, StoreError, StoreResult, StoreTx};
use crate::domain::{Millis, PracticeId};
use std::collections::HashMap;

/// A browser's push subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushSubscription {
    pub id: String,
    pub practice_id: PracticeId,
    pub member: Member,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub label: String,
    pub created_at: Millis,
}

/// A subscription to store.
#[derive(Clone, Debug)]
pub struct NewPushSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub label: String,
}

/// What the notification job needs of one person's push state.
#[derive(Clone, Debug, Default)]
pub struct PushState {
    /// Their devices' subscription ids.
    pub devices: Vec<String>,
    /// Everything created up to this was pushed already.
    pub pushed_until: Option<Millis>,
    /// Everything created up to this was pushed, delivered and opened: it
    /// is not e-mailed too.
    pub opened_until: Option<Millis>,
}

/// A push notification to queue for every device of a person.
#[derive(Clone, Debug)]
pub struct NewPushNotice {
    pub practice_id: PracticeId,
    pub member: Member,
    pub covers_until: Millis,
    pub token_hash: String,
    pub target: String,
}

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: String,
    practice_id: String,
    member_kind: String,
    member_id: String,
    endpoint: String,
    p256dh: String,
    auth: String,
    label: String,
    created_at: i64,
}

impl TryFrom<SubscriptionRow> for PushSubscription {
    type Error = StoreError;
    fn try_from(row: SubscriptionRow) -> StoreResult<Self> {
        Ok(PushSubscription {
            id: row.id,
            practice_id: super::parse_id(&row.practice_id)?,
            member: Member::parse(&row.member_kind, &row.member_id)?,
            endpoint: row.endpoint,
            p256dh: row.p256dh,
            auth: row.auth,
            label: row.label,
            created_at: Millis(row.created_at),
        })
    }
}

macro_rules! columns {
    () => {
        "id, practice_id, member_kind, member_id, endpoint, p256dh, auth, label, created_at"
    };
}

type PersonKey = (PracticeId, Member);

/// A person's newest pushed and newest opened `covers_until`.
type NoticeRow = (String, String, String, Option<i64>, Option<i64>);

impl Store {
    /// Stores a device for `member`; an endpoint already known (this
    /// browser subscribed before, maybe as someone else) is taken over.
    pub async fn save_push_subscription(
        &self,
        practice: PracticeId,
        member: Member,
        new: &NewPushSubscription,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO push_subscriptions (id, practice_id, member_kind, member_id, endpoint, p256dh, auth, label, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (endpoint) DO UPDATE SET practice_id = excluded.practice_id, \
             member_kind = excluded.member_kind, member_id = excluded.member_id, p256dh = excluded.p256dh, \
             auth = excluded.auth, label = excluded.label, created_at = excluded.created_at",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(practice)
        .bind(member.kind())
        .bind(member.id())
        .bind(&new.endpoint)
        .bind(&new.p256dh)
        .bind(&new.auth)
        .bind(&new.label)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One person's devices, newest first.
    pub async fn push_subscriptions_of(
        &self,
        practice: PracticeId,
        member: Member,
    ) -> StoreResult<Vec<PushSubscription>> {
        sqlx::query_as::<_, SubscriptionRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM push_subscriptions \
             WHERE practice_id = $1 AND member_kind = $2 AND member_id = $3 ORDER BY created_at DESC, id"
        ))
        .bind(practice)
        .bind(member.kind())
        .bind(member.id())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(PushSubscription::try_from)
        .collect()
    }

    /// Removes one of `member`'s own devices; not found when it is not
    /// theirs.
    pub async fn remove_push_subscription(
        &self,
        practice: PracticeId,
        member: Member,
        id: &str,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "DELETE FROM push_subscriptions \
             WHERE id = $1 AND practice_id = $2 AND member_kind = $3 AND member_id = $4",
        )
        .bind(id)
        .bind(practice)
        .bind(member.kind())
        .bind(member.id())
        .execute(&self.pool)
        .await?;
        super::staff::found(done.rows_affected())
    }

    /// A subscription by id, for the worker (`None`: removed since).
    pub async fn push_subscription(&self, id: &str) -> StoreResult<Option<PushSubscription>> {
        sqlx::query_as::<_, SubscriptionRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM push_subscriptions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(PushSubscription::try_from)
        .transpose()
    }

    /// The push service said the subscription is gone (404 or 410).
    pub async fn drop_push_subscription(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The push service accepted a notice for a device.
    pub async fn mark_push_delivered(&self, notice: &str, now: Millis) -> StoreResult<()> {
        sqlx::query(
            "UPDATE push_notices SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL",
        )
        .bind(notice)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The notification was clicked: where it leads, when the token is
    /// one Portico issued.
    pub async fn open_push_notice(&self, token_hash: &str, now: Millis) -> StoreResult<String> {
        let target: Option<String> =
            sqlx::query_scalar("SELECT target FROM push_notices WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        let target = target.ok_or(StoreError::NotFound)?;
        sqlx::query(
            "UPDATE push_notices SET opened_at = $2 WHERE token_hash = $1 AND opened_at IS NULL",
        )
        .bind(token_hash)
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(target)
    }
}

impl StoreTx {
    /// Every person with a device, with what was pushed and opened since
    /// `horizon`: two reads, whatever the number of people.
    pub async fn push_states(
        &mut self,
        horizon: Millis,
    ) -> StoreResult<HashMap<PersonKey, PushState>> {
        let mut states: HashMap<PersonKey, PushState> = HashMap::new();
        let devices: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT id, practice_id, member_kind, member_id FROM push_subscriptions ORDER BY created_at, id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for (id, practice, kind, member) in devices {
            let key = (super::parse_id(&practice)?, Member::parse(&kind, &member)?);
            states.entry(key).or_default().devices.push(id);
        }
        if states.is_empty() {
            return Ok(states);
        }
        let notices: Vec<NoticeRow> = sqlx::query_as(
            "SELECT practice_id, member_kind, member_id, MAX(covers_until), \
             MAX(CASE WHEN opened_at IS NOT NULL AND delivered_at IS NOT NULL THEN covers_until END) \
             FROM push_notices WHERE created_at > $1 GROUP BY practice_id, member_kind, member_id",
        )
        .bind(horizon.0)
        .fetch_all(&mut *self.tx)
        .await?;
        for (practice, kind, member, pushed, opened) in notices {
            let key = (super::parse_id(&practice)?, Member::parse(&kind, &member)?);
            if let Some(state) = states.get_mut(&key) {
                state.pushed_until = pushed.map(Millis);
                state.opened_until = opened.map(Millis);
            }
        }
        Ok(states)
    }

    /// Notices older than `horizon` are no longer read: they go.
    pub async fn prune_push_notices(&mut self, horizon: Millis) -> StoreResult<()> {
        sqlx::query("DELETE FROM push_notices WHERE created_at < $1")
            .bind(horizon.0)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
