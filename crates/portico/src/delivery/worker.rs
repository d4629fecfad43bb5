//! The outbox worker: claims due messages, delivers them, records the
//! outcome, and retries failures with back-off until a message is declared
//! dead (then an admin can see and retry it).

use super::push::PushSender;
use super::sms::SmsSender;
use super::{DeliveryError, Mailer};
use crate::domain::{Clock, Millis};
use crate::store::{Channel, Store, StoreResult};
use lettre::message::Mailbox;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// After this many failed attempts a message is dead.
pub const MAX_ATTEMPTS: i64 = 10;
/// How long a claim lasts: a worker that died mid-send leaves its messages
/// to be claimed again after this.
const LEASE_MS: i64 = 120_000;
/// How often the worker looks for due messages when nobody wakes it.
const POLL: Duration = Duration::from_secs(5);

/// The wait before attempt `failed + 1`: 30 s, doubling, at most an hour;
/// `None` once `failed` reaches [`MAX_ATTEMPTS`].
pub fn retry_delay(failed: i64) -> Option<Duration> {
    if failed >= MAX_ATTEMPTS {
        return None;
    }
    let exponent = u32::try_from(failed.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    Some(Duration::from_secs(30u64.saturating_mul(1u64 << exponent)).min(Duration::from_secs(3600)))
}

#[derive(Clone, Debug)]
pub struct OutboxWorker {
    store: Store,
    mailer: Mailer,
    sms: SmsSender,
    from: Mailbox,
    clock: Clock,
    wake: Arc<Notify>,
    /// X12: `None` only where no server runs (then pushes wait).
    push: Option<PushSender>,
}

impl OutboxWorker {
    pub fn new(
        store: Store,
        mailer: Mailer,
        sms: SmsSender,
        from: Mailbox,
        clock: Clock,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            mailer,
            sms,
            from,
            clock,
            wake,
            push: None,
        }
    }

    /// Sends Web Push (X12) with `push`.
    pub fn with_push(mut self, push: PushSender) -> Self {
        self.push = Some(push);
        self
    }

    /// X15: a practice's e-mail comes from its name, at `mail_from`'s
    /// address; e-mail of no practice from `mail_from` as configured.
    async fn sender_of(&self, item: &crate::store::OutboxItem) -> StoreResult<Mailbox> {
        let Some(practice) = item.practice_id else {
            return Ok(self.from.clone());
        };
        match self.store.get_practice(practice).await {
            Ok(practice) => Ok(Mailbox::new(Some(practice.name), self.from.email.clone())),
            Err(crate::store::StoreError::NotFound) => Ok(self.from.clone()),
            Err(e) => Err(e),
        }
    }

    /// Delivers everything due now; returns how many were sent.
    pub async fn run_once(&self) -> StoreResult<usize> {
        let mut sent = 0;
        loop {
            let now = self.clock.now();
            let batch = self.store.claim_due_outbox(now, LEASE_MS, 20).await?;
            if batch.is_empty() {
                return Ok(sent);
            }
            for item in batch {
                let outcome = match item.channel {
                    Channel::Email => {
                        let from = self.sender_of(&item).await?;
                        self.mailer.send(&from, &item).await
                    }
                    Channel::Sms => self.sms.send(&item).await,
                    Channel::Push => match &self.push {
                        Some(push) => push.send(&self.store, &self.clock, &item).await,
                        None => Err(DeliveryError::Transient("push is not set up here".into())),
                    },
                };
                match outcome {
                    Ok(()) => {
                        self.store
                            .mark_outbox_sent(&item.id, self.clock.now())
                            .await?;
                        sent += 1;
                        tracing::info!(outbox_id = %item.id, channel = item.channel.as_str(), "delivered");
                    }
                    Err(error) => {
                        let failed = item.attempts + 1;
                        let retry_at = match &error {
                            DeliveryError::Permanent(_) => None,
                            DeliveryError::Transient(_) => retry_delay(failed).map(|d| {
                                Millis(
                                    self.clock.now().0
                                        + i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
                                )
                            }),
                        };
                        tracing::warn!(
                            outbox_id = %item.id,
                            attempt = failed,
                            dead = retry_at.is_none(),
                            %error,
                            "delivery failed"
                        );
                        self.store
                            .mark_outbox_failed(&item.id, &error.to_string(), retry_at)
                            .await?;
                    }
                }
            }
        }
    }

    /// Runs until the task is dropped: delivers whenever woken (a use case
    /// queued something) or every few seconds (retries, other instances).
    pub async fn run(self) {
        self.run_until(Arc::new(Notify::new())).await;
    }

    /// As [`OutboxWorker::run`], and returns once `stop` is notified, never
    /// in the middle of a delivery.
    pub async fn run_until(self, stop: Arc<Notify>) {
        let stopping = stop.notified();
        tokio::pin!(stopping);
        loop {
            if let Err(error) = self.run_once().await {
                tracing::error!(%error, "the outbox worker could not read the outbox");
            }
            tokio::select! {
                biased;
                () = &mut stopping => return,
                () = self.wake.notified() => {},
                () = tokio::time::sleep(POLL) => {},
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_then_stop() {
        assert_eq!(retry_delay(1), Some(Duration::from_secs(30)));
        assert_eq!(retry_delay(2), Some(Duration::from_secs(60)));
        assert_eq!(retry_delay(3), Some(Duration::from_secs(120)));
        assert_eq!(retry_delay(9), Some(Duration::from_secs(3600)));
        assert_eq!(retry_delay(MAX_ATTEMPTS), None);
    }
}
