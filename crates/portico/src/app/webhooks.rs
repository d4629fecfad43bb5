//! X3 webhooks: admins register the addresses a practice's events are
//! posted to (Settings → Integrations), and what the practice's payloads
//! may carry. The events themselves are queued by the use cases that cause
//! them, in their own transactions (see [`crate::store::WebhookPost`]).

use super::sessions::ClientInfo;
use super::spans::person;
use super::{App, AppError, AppResult, FieldCheck, policy};
use crate::delivery::webhooks::{self, AddressRefusal, ROTATION_OVERLAP};
use crate::domain::{Millis, ValidationError, WebhookId};
use crate::store::{
    AuditKind, EndpointFields, Staff, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookPost,
};
use tracing::instrument;

/// Deliveries shown for one endpoint.
const RECENT_DELIVERIES: i64 = 50;
const MAX_URL: usize = 2_000;
const MAX_DESCRIPTION: usize = 200;

/// What an admin typed for an endpoint.
#[derive(Clone, Debug, Default)]
pub struct EndpointInput {
    pub url: String,
    pub description: String,
    /// Event codes (`message.created`, …).
    pub events: Vec<String>,
    pub allow_local: bool,
}

/// Settings → Integrations.
#[derive(Clone, Debug)]
pub struct Integrations {
    pub endpoints: Vec<WebhookEndpoint>,
    /// Payloads carry message and question text.
    pub include_content: bool,
}

fn admin(actor: &Staff) -> AppResult<()> {
    if policy::staff_may_manage_practice(actor, actor.practice_id) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl App {
    /// The worker that posts deliveries (the server runs one; tests run
    /// passes of their own).
    pub fn webhook_worker(&self) -> webhooks::WebhookWorker {
        webhooks::WebhookWorker::new(
            self.store.clone(),
            self.clock.clone(),
            self.webhook_wake.clone(),
            self.outbox_wake.clone(),
            self.settings.public_url.clone(),
        )
    }

    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn integrations(&self, actor: &Staff) -> AppResult<Integrations> {
        admin(actor)?;
        Ok(Integrations {
            endpoints: self.store.webhook_endpoints(actor.practice_id).await?,
            include_content: self.store.webhook_content(actor.practice_id).await?,
        })
    }

    /// One endpoint and its recent deliveries, newest first.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), webhook = %id
    ))]
    pub async fn webhook_endpoint(
        &self,
        actor: &Staff,
        id: WebhookId,
    ) -> AppResult<(WebhookEndpoint, Vec<WebhookDelivery>)> {
        admin(actor)?;
        let endpoint = self.store.webhook_endpoint(actor.practice_id, id).await?;
        let deliveries = self
            .store
            .webhook_deliveries(actor.practice_id, id, RECENT_DELIVERIES)
            .await?;
        Ok((endpoint, deliveries))
    }

    /// Checks an endpoint's fields; the address is resolved, and refused
    /// when it points into a private or local network.
    async fn endpoint_fields(&self, input: &EndpointInput) -> AppResult<EndpointFields> {
        let mut check = FieldCheck::new();
        let url = input.url.trim();
        let mut checked = None;
        if url.is_empty() {
            check.refuse(ValidationError::new("Give the address to post events to.").at("url"));
        } else if url.len() > MAX_URL {
            check.refuse(ValidationError::new("That address is too long.").at("url"));
        } else {
            match webhooks::check_url(url, input.allow_local) {
                Ok(parsed) => match webhooks::resolve_checked(&parsed, input.allow_local).await {
                    Ok(_) => checked = Some(parsed.to_string()),
                    Err(AddressRefusal::Private(_)) => {
                        check.refuse(ValidationError::new(webhooks::PRIVATE).at("url"));
                    }
                    Err(AddressRefusal::Unresolved(_)) => check.refuse(
                        ValidationError::new("No address was found for that name.").at("url"),
                    ),
                },
                Err(message) => check.refuse(ValidationError::new(message).at("url")),
            }
        }
        let description = input.description.trim();
        if description.chars().count() > MAX_DESCRIPTION {
            check.refuse(
                ValidationError::new(format!(
                    "A description can be at most {MAX_DESCRIPTION} characters."
                ))
                .at("description"),
            );
        }
        let events: Vec<WebhookEvent> = input
            .events
            .iter()
            .filter_map(|code| WebhookEvent::parse(code))
            .collect();
        if events.is_empty() {
            check.refuse(ValidationError::new("Choose at least one event.").at("events"));
        }
        check.finish()?;
        let url =
            checked.ok_or_else(|| AppError::internal("checking an endpoint", "no address"))?;
        Ok(EndpointFields {
            url,
            description: description.to_owned(),
            events,
            allow_local: input.allow_local,
        })
    }

    /// Registers an endpoint, enabled, with a new secret.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn create_webhook(
        &self,
        actor: &Staff,
        input: &EndpointInput,
        client: &ClientInfo,
    ) -> AppResult<WebhookEndpoint> {
        admin(actor)?;
        let fields = self.endpoint_fields(input).await?;
        let audit = self
            .audit_entry(actor.practice_id, actor, AuditKind::WebhookCreated, client)
            .detail(&fields.url);
        Ok(self
            .store
            .create_webhook_endpoint(actor.practice_id, &fields, &webhooks::new_secret(), &audit)
            .await?)
    }

    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), webhook = %id
    ))]
    pub async fn update_webhook(
        &self,
        actor: &Staff,
        id: WebhookId,
        input: &EndpointInput,
        client: &ClientInfo,
    ) -> AppResult<()> {
        admin(actor)?;
        self.store.webhook_endpoint(actor.practice_id, id).await?;
        let fields = self.endpoint_fields(input).await?;
        let audit = self
            .audit_entry(actor.practice_id, actor, AuditKind::WebhookChanged, client)
            .detail(&fields.url);
        self.store
            .update_webhook_endpoint(actor.practice_id, id, &fields, &audit)
            .await?;
        Ok(())
    }

    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), webhook = %id
    ))]
    pub async fn set_webhook_enabled(
        &self,
        actor: &Staff,
        id: WebhookId,
        enabled: bool,
        client: &ClientInfo,
    ) -> AppResult<()> {
        admin(actor)?;
        let audit = self
            .audit_entry(actor.practice_id, actor, AuditKind::WebhookChanged, client)
            .detail(if enabled { "enabled" } else { "disabled" });
        self.store
            .set_webhook_enabled(actor.practice_id, id, enabled, &audit)
            .await?;
        if enabled {
            self.webhook_wake.notify_one();
        }
        Ok(())
    }

    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), webhook = %id
    ))]
    pub async fn delete_webhook(
        &self,
        actor: &Staff,
        id: WebhookId,
        client: &ClientInfo,
    ) -> AppResult<()> {
        admin(actor)?;
        let endpoint = self.store.webhook_endpoint(actor.practice_id, id).await?;
        let audit = self
            .audit_entry(actor.practice_id, actor, AuditKind::WebhookDeleted, client)
            .detail(&endpoint.url);
        self.store
            .delete_webhook_endpoint(actor.practice_id, id, &audit)
            .await?;
        Ok(())
    }

    /// A new secret; the old one keeps signing, beside it, for a day.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), webhook = %id
    ))]
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Staff,
        id: WebhookId,
        client: &ClientInfo,
    ) -> AppResult<()> {
        admin(actor)?;
        let audit = self.audit_entry(
            actor.practice_id,
            actor,
            AuditKind::WebhookSecretRotated,
            client,
        );
        let until = Millis(audit.at.0.saturating_add(millis(ROTATION_OVERLAP)));
        self.store
            .rotate_webhook_secret(
                actor.practice_id,
                id,
                &webhooks::new_secret(),
                until,
                &audit,
            )
            .await?;
        Ok(())
    }

    /// Queues a `webhook.test` event for one endpoint.
    #[instrument(skip_all, fields(
        practice = %actor.practice_id, by = %person(actor), webhook = %id
    ))]
    pub async fn send_webhook_test(&self, actor: &Staff, id: WebhookId) -> AppResult<()> {
        admin(actor)?;
        let endpoint = self.store.webhook_endpoint(actor.practice_id, id).await?;
        let post = WebhookPost::new(actor.practice_id, WebhookEvent::Test, self.clock.now())
            .with("endpoint_id", endpoint.id.to_string())
            .with("sent_by_staff_id", actor.id.to_string());
        self.store.queue_webhook_test(&endpoint, &post).await?;
        self.webhook_wake.notify_one();
        Ok(())
    }

    /// Whether payloads carry message and question text.
    #[instrument(skip_all, fields(practice = %actor.practice_id, by = %person(actor)))]
    pub async fn set_webhook_content(
        &self,
        actor: &Staff,
        on: bool,
        client: &ClientInfo,
    ) -> AppResult<()> {
        admin(actor)?;
        let audit = self
            .audit_entry(actor.practice_id, actor, AuditKind::SettingsChanged, client)
            .detail(if on {
                "webhook payloads include text"
            } else {
                "webhook payloads without text"
            });
        self.store
            .set_webhook_content(actor.practice_id, on, &audit)
            .await?;
        Ok(())
    }
}
