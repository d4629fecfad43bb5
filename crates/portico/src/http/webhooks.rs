//! `/app/settings/integrations` (X3, admins): the practice's webhook
//! endpoints, each with its events, secret and recent deliveries.

use super::AppState;
use super::errors::PageError;
use super::forms::{Refusal, refusal};
use super::ids::IdPath;
use super::layout::Layout;
use super::pages::render;
use super::session::StaffUser;
use super::urls;
use crate::app::sessions::ClientInfo;
use crate::app::webhooks::EndpointInput;
use crate::delivery::webhooks::DISABLE_AFTER;
use crate::domain::WebhookId;
use crate::store::{DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// What an endpoint form shows: the values typed and the refusals.
#[derive(Clone, Debug, Default)]
struct EndpointFormView {
    url: String,
    description: String,
    events: Vec<String>,
    allow_local: bool,
    errors: Vec<(&'static str, String)>,
    error: Option<String>,
}

impl EndpointFormView {
    fn of(endpoint: &WebhookEndpoint) -> Self {
        Self {
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            events: endpoint
                .events
                .iter()
                .map(|e| e.code().to_owned())
                .collect(),
            allow_local: endpoint.allow_local,
            ..Self::default()
        }
    }

    fn typed(input: &EndpointInput, refused: Option<Refusal>) -> Self {
        let (errors, error) = match refused {
            Some(r) if r.fields.is_empty() && r.field.is_none() => (Vec::new(), Some(r.message)),
            Some(r) if r.fields.is_empty() => {
                (vec![(r.field.unwrap_or("url"), r.message.clone())], None)
            }
            Some(r) => (r.fields, None),
            None => (Vec::new(), None),
        };
        Self {
            url: input.url.clone(),
            description: input.description.clone(),
            events: input.events.clone(),
            allow_local: input.allow_local,
            errors,
            error,
        }
    }

    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    fn checked(&self, code: &&str) -> bool {
        self.events.iter().any(|e| e == code)
    }
}

/// The events to choose from: `(code, label)`.
fn event_choices() -> Vec<(&'static str, &'static str)> {
    WebhookEvent::ALL
        .iter()
        .map(|e| (e.code(), e.label()))
        .collect()
}

fn events_text(endpoint: &WebhookEndpoint) -> String {
    endpoint
        .events
        .iter()
        .map(|e| e.code())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Template)]
#[template(path = "integrations.html")]
struct IntegrationsPage {
    layout: Layout,
    endpoints: Vec<WebhookEndpoint>,
    include_content: bool,
    form: EndpointFormView,
    choices: Vec<(&'static str, &'static str)>,
    notice: Option<String>,
    disabled_days: u64,
}

impl IntegrationsPage {
    fn action(&self) -> String {
        "/app/settings/integrations".to_owned()
    }

    fn submit_label(&self) -> &'static str {
        "Add endpoint"
    }

    fn events_of(&self, endpoint: &WebhookEndpoint) -> String {
        events_text(endpoint)
    }
}

#[derive(Template)]
#[template(path = "integration.html")]
struct IntegrationPage {
    layout: Layout,
    endpoint: WebhookEndpoint,
    deliveries: Vec<WebhookDelivery>,
    form: EndpointFormView,
    choices: Vec<(&'static str, &'static str)>,
    notice: Option<String>,
    /// The rotated-out secret while it still signs.
    previous_secret: Option<String>,
}

impl IntegrationPage {
    fn action(&self) -> String {
        urls::integration(self.endpoint.id)
    }

    fn submit_label(&self) -> &'static str {
        "Save changes"
    }

    fn delivered(&self, delivery: &WebhookDelivery) -> bool {
        delivery.status == DeliveryStatus::Delivered
    }
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

impl Done {
    fn notice(&self) -> Option<String> {
        let text = match self.done.as_deref()? {
            "added" => "The endpoint was added. Copy its secret below to check the signatures.",
            "saved" => "Saved.",
            "enabled" => "The endpoint is on; what waited for it is sent now.",
            "disabled" => "The endpoint is off; events are not queued for it.",
            "rotated" => {
                "A new secret was made. For 24 hours deliveries carry signatures with both."
            }
            "tested" => "A test event is on its way.",
            "deleted" => "The endpoint was removed.",
            _ => return None,
        };
        Some(text.to_owned())
    }
}

/// An endpoint form's fields; `events` comes once per ticked box.
fn endpoint_input(body: &[u8]) -> EndpointInput {
    let mut input = EndpointInput::default();
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "url" => input.url = value.into_owned(),
            "description" => input.description = value.into_owned(),
            "events" => input.events.push(value.into_owned()),
            "allow_local" => input.allow_local = true,
            _ => {}
        }
    }
    input
}

async fn list_page(
    state: &AppState,
    user: StaffUser,
    status: StatusCode,
    form: EndpointFormView,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let found = state.app.integrations(&user.staff).await?;
    Ok(render(
        status,
        &IntegrationsPage {
            layout: user.layout,
            endpoints: found.endpoints,
            include_content: found.include_content,
            form,
            choices: event_choices(),
            notice,
            disabled_days: DISABLE_AFTER.as_secs() / 86_400,
        },
    ))
}

/// `GET /app/settings/integrations`
pub async fn integrations_get(
    State(state): State<AppState>,
    user: StaffUser,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let form = EndpointFormView {
        events: WebhookEvent::ALL
            .iter()
            .map(|e| e.code().to_owned())
            .collect(),
        ..EndpointFormView::default()
    };
    list_page(&state, user, StatusCode::OK, form, done.notice()).await
}

/// `POST /app/settings/integrations`: a new endpoint.
pub async fn create_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    body: Bytes,
) -> Result<Response, PageError> {
    let input = endpoint_input(&body);
    match state.app.create_webhook(&user.staff, &input, &origin).await {
        Ok(endpoint) => {
            Ok(Redirect::to(&urls::integration_done(endpoint.id, "added")).into_response())
        }
        Err(error) => {
            let refused = refusal(error)?;
            let status = refused.status;
            list_page(
                &state,
                user,
                status,
                EndpointFormView::typed(&input, Some(refused)),
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct ContentForm {
    include_content: Option<String>,
}

/// `POST /app/settings/integrations/content`
pub async fn content_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    axum::Form(form): axum::Form<ContentForm>,
) -> Result<Response, PageError> {
    state
        .app
        .set_webhook_content(&user.staff, form.include_content.is_some(), &origin)
        .await?;
    Ok(Redirect::to("/app/settings/integrations?done=saved").into_response())
}

async fn endpoint_page(
    state: &AppState,
    user: StaffUser,
    id: WebhookId,
    status: StatusCode,
    form: Option<EndpointFormView>,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let (endpoint, deliveries) = state.app.webhook_endpoint(&user.staff, id).await?;
    let now = state.app.clock.now();
    let previous_secret = endpoint
        .previous_secret
        .clone()
        .filter(|_| endpoint.previous_until.is_some_and(|until| now < until));
    Ok(render(
        status,
        &IntegrationPage {
            form: form.unwrap_or_else(|| EndpointFormView::of(&endpoint)),
            layout: user.layout,
            endpoint,
            deliveries,
            choices: event_choices(),
            notice,
            previous_secret,
        },
    ))
}

/// `GET /app/settings/integrations/{id}`
pub async fn endpoint_get(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<WebhookId>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    endpoint_page(&state, user, id, StatusCode::OK, None, done.notice()).await
}

/// `POST /app/settings/integrations/{id}`: its address, events, description.
pub async fn update_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(id): IdPath<WebhookId>,
    body: Bytes,
) -> Result<Response, PageError> {
    let input = endpoint_input(&body);
    match state
        .app
        .update_webhook(&user.staff, id, &input, &origin)
        .await
    {
        Ok(()) => Ok(Redirect::to(&urls::integration_done(id, "saved")).into_response()),
        Err(error) => {
            let refused = refusal(error)?;
            let status = refused.status;
            endpoint_page(
                &state,
                user,
                id,
                status,
                Some(EndpointFormView::typed(&input, Some(refused))),
                None,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct EnabledForm {
    #[serde(default)]
    enabled: String,
}

/// `POST /app/settings/integrations/{id}/enabled`
pub async fn enabled_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(id): IdPath<WebhookId>,
    axum::Form(form): axum::Form<EnabledForm>,
) -> Result<Response, PageError> {
    let enabled = form.enabled == "on";
    state
        .app
        .set_webhook_enabled(&user.staff, id, enabled, &origin)
        .await?;
    let done = if enabled { "enabled" } else { "disabled" };
    Ok(Redirect::to(&urls::integration_done(id, done)).into_response())
}

/// `POST /app/settings/integrations/{id}/rotate`
pub async fn rotate_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(id): IdPath<WebhookId>,
) -> Result<Response, PageError> {
    state
        .app
        .rotate_webhook_secret(&user.staff, id, &origin)
        .await?;
    Ok(Redirect::to(&urls::integration_done(id, "rotated")).into_response())
}

/// `POST /app/settings/integrations/{id}/test`
pub async fn test_post(
    State(state): State<AppState>,
    user: StaffUser,
    IdPath(id): IdPath<WebhookId>,
) -> Result<Response, PageError> {
    state.app.send_webhook_test(&user.staff, id).await?;
    Ok(Redirect::to(&urls::integration_done(id, "tested")).into_response())
}

/// `POST /app/settings/integrations/{id}/delete`
pub async fn delete_post(
    State(state): State<AppState>,
    user: StaffUser,
    origin: ClientInfo,
    IdPath(id): IdPath<WebhookId>,
) -> Result<Response, PageError> {
    state.app.delete_webhook(&user.staff, id, &origin).await?;
    Ok(Redirect::to("/app/settings/integrations?done=deleted").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticked_events_come_once_each() {
        let input = endpoint_input(
            b"csrf=x&url=https%3A%2F%2Fh.example%2F&events=message.created&events=client.created&allow_local=on",
        );
        assert_eq!(input.url, "https://h.example/");
        assert_eq!(input.events, vec!["message.created", "client.created"]);
        assert!(input.allow_local);
    }
}
