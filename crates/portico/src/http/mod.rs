//! The web edge: routes, pages, middleware. Handlers parse the request, call
//! a use case in [`crate::app`] and render its answer; they never touch SQL.

mod account;
mod all_contacts;
mod api;
mod api_tokens;
pub(crate) mod area;
mod assets;
mod audit;
mod branding;
mod chat_prefs;
mod client_data;
mod clients;
mod contact_edit;
mod csrf;
mod errors;
mod files;
mod forms;
mod health;
mod ids;
mod inbound;
mod layout;
mod messages;
mod metrics;
pub(crate) mod notify;
mod pages;
mod password_links;
mod portal;
mod push;
mod questions;
mod search;
mod security;
mod session;
mod sign_in;
mod sso;
mod staff_auth;
mod staff_pages;
mod team;
mod threads;
mod uploads;
pub(crate) mod urls;
mod webhooks;

pub use metrics::Metrics;

use crate::app::App;
use crate::config::Config;
use area::{Area, Portal, Staff};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::routing::{get, post};
use password_links::{Reset, Welcome};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub app: App,
    pub config: Arc<Config>,
    /// The configured public URL, or the bound address.
    pub public_url: Arc<str>,
    pub metrics: Arc<Metrics>,
    /// Set on SIGTERM: `/readyz` answers 503 and new sockets are refused,
    /// so a load balancer and open pages move to other instances.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Routes that may rightly take long: files coming in from a slow phone, a
/// long chat's export being written.
const LONG_ROUTES: &[&str] = &[
    "/app/messages/{chat}/files",
    "/portal/messages/{chat}/files",
    "/app/messages/{chat}/export/{format}",
    "/portal/messages/{chat}/export/{format}",
    "/app/clients/{id}/questions/many",
    "/app/questions/{id}/follow-up",
    "/portal/questions/{id}/answer",
    "/app/settings/audit/export.csv",
    "/app/clients/{id}/export.zip",
    "/portal/answers/export/{format}",
];

/// A request gets 30 seconds (408 after), one of [`LONG_ROUTES`] 15 minutes.
async fn time_limit(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let long = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|path| LONG_ROUTES.contains(&path.as_str()));
    let limit = Duration::from_secs(if long { 15 * 60 } else { 30 });
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// Every route of Portico, in one place.
pub fn router(state: AppState) -> Router {
    // Forms with files may carry several files of the configured size.
    let upload_limit = DefaultBodyLimit::max(
        usize::try_from(state.config.max_upload_bytes.saturating_mul(5)).unwrap_or(usize::MAX),
    );
    let routes = Router::new()
        .route("/", get(pages::home_get))
        .route("/healthz", get(health::healthz_get))
        .route("/readyz", get(health::readyz_get))
        .route("/metrics", get(metrics::metrics_get))
        .route("/static/portico.css", get(assets::stylesheet_get))
        .route("/static/portico.js", get(assets::script_get))
        .route("/ws", get(messages::ws_get))
        .route("/app/messages/dock", get(messages::dock_get::<Staff>))
        .route("/portal/messages/dock", get(messages::dock_get::<Portal>))
        .route("/files/{id}/thumb", get(messages::thumb_get))
        .route("/app/messages/{chat}/rename", post(messages::rename_post))
        .route("/app/messages/contacts", get(messages::contacts_list_get))
        .route(
            "/app/messages/with/{staff}",
            post(messages::staff_chat_post),
        )
        .route(
            "/app/messages/new",
            get(messages::new_chat_get).post(messages::new_chat_post),
        )
        .route(
            "/app/messages/{chat}/members",
            post(messages::add_members_post),
        )
        .route("/app/messages/{chat}/share", post(messages::share_post))
        .route(
            "/app/messages/{chat}/members/remove",
            post(messages::remove_member_post),
        )
        .route(
            "/app/messages/{chat}/delete",
            get(messages::delete_get).post(messages::delete_post),
        )
        .route(
            "/portal/answers/export/{format}",
            get(messages::portal_answers_export_get),
        )
        .route("/app/clients/{id}/chat", post(messages::start_chat_post))
        .route("/sign-out", post(pages::sign_out_post))
        // Staff: /app
        .route("/app", get(staff_pages::home_get))
        .route(
            "/app/sign-in",
            get(sign_in::sign_in_get::<Staff>).post(sign_in::sign_in_post::<Staff>),
        )
        .route(
            "/app/sign-in/code",
            get(staff_auth::code_get).post(staff_auth::code_post),
        )
        .route("/app/sso/start", post(sso::start_post))
        .route("/app/sso/callback", get(sso::callback_get))
        .route(
            "/app/settings/sso",
            get(sso::settings_get).post(sso::settings_post),
        )
        .route("/app/settings/sso/remove", post(sso::remove_post))
        .route(
            "/app/two-factor",
            get(staff_auth::two_factor_get).post(staff_auth::two_factor_post),
        )
        .route(
            "/app/two-factor/disable",
            post(staff_auth::two_factor_disable_post),
        )
        .route(
            "/app/clients",
            get(clients::clients_get).post(clients::clients_post),
        )
        .route(
            "/app/clients/{id}",
            get(clients::client_get).post(clients::client_post),
        )
        .route("/app/clients/{id}/data", get(client_data::data_get))
        .route("/app/clients/{id}/export.zip", get(client_data::export_get))
        .route(
            "/app/clients/{id}/erase",
            post(client_data::erase_client_post),
        )
        .route(
            "/app/clients/{id}/contacts/{contact}/erase",
            post(client_data::erase_contact_post),
        )
        .route("/app/clients/{id}/staff", post(clients::assign_post))
        .route(
            "/app/clients/{id}/staff/{staff}/remove",
            post(clients::unassign_post),
        )
        .route("/app/clients/{id}/family", post(clients::family_post))
        .route(
            "/app/clients/{id}/contacts",
            get(clients::contacts_get).post(clients::contacts_post),
        )
        .route(
            "/app/clients/{id}/contacts/{contact}/grant",
            post(clients::grant_post),
        )
        .route(
            "/app/clients/{id}/contacts/{contact}/remove",
            post(clients::revoke_post),
        )
        .route(
            "/app/clients/{id}/send",
            get(clients::send_get).post(clients::send_post),
        )
        .route(
            "/app/clients/{id}/questions",
            get(questions::client_questions_get).post(questions::ask_post),
        )
        .route(
            "/app/clients/{id}/questions/many",
            post(questions::ask_many_post).layer(upload_limit),
        )
        .route(
            "/app/clients/{id}/reminders",
            post(questions::reminders_post),
        )
        .route("/app/search", get(search::search_get::<Staff>))
        .route("/portal/search", get(search::search_get::<Portal>))
        .route("/app/questions", get(questions::questions_get))
        .route("/app/questions/{id}", get(threads::question_get::<Staff>))
        .route(
            "/app/questions/{id}/follow-up",
            post(threads::reply_post::<Staff>).layer(upload_limit),
        )
        .route("/app/questions/{id}/resolve", post(questions::resolve_post))
        .route("/app/questions/{id}/reopen", post(questions::reopen_post))
        .route(
            "/app/questions/{id}/reassign",
            post(questions::reassign_post),
        )
        .route("/files/{id}", get(files::file_get))
        .route(
            "/app/preview/{contact}",
            get(portal::preview_home_get).post(portal::preview_post),
        )
        .route(
            "/app/preview/{contact}/clients/{client}",
            get(portal::preview_get).post(portal::preview_post),
        )
        .route(
            "/app/preview/{contact}/questions/{id}",
            get(portal::preview_question_get).post(portal::preview_post),
        )
        .route(
            "/app/preview/{contact}/messages",
            get(messages::preview_list_get).post(portal::preview_post),
        )
        .route(
            "/app/preview/{contact}/messages/{chat}",
            get(messages::preview_chat_get).post(portal::preview_post),
        )
        .route("/app/team", get(team::team_get).post(team::team_post))
        .route("/app/team/{id}/role", post(team::role_post))
        .route("/app/team/{id}/active", post(team::active_post))
        .route(
            "/app/welcome/{token}",
            get(password_links::link_get::<Welcome>).post(password_links::link_post::<Welcome>),
        )
        .route(
            "/app/settings/contacts",
            get(all_contacts::all_contacts_get),
        )
        .route(
            "/app/settings/contacts/{contact}/clients",
            post(all_contacts::add_client_post),
        )
        .route(
            "/app/settings/contacts/{contact}/clients/{client}/remove",
            post(all_contacts::remove_client_post),
        )
        .route("/app/settings/audit", get(audit::audit_get))
        .route(
            "/app/settings/audit/export.csv",
            get(audit::audit_export_get),
        )
        .route("/app/settings/audit/retention", post(audit::retention_post))
        .route("/app/contacts", get(staff_pages::contacts_get))
        .route("/app/alerts/read", post(staff_pages::alerts_read_post))
        .route("/app/contacts/{id}/invite", post(staff_pages::invite_post))
        .route(
            "/app/contacts/{id}/edit",
            get(contact_edit::edit_get).post(contact_edit::edit_post),
        )
        .route(
            "/app/contacts/{id}/delete",
            get(contact_edit::delete_get).post(contact_edit::delete_post),
        )
        .route(
            "/app/contacts/{id}/password-reset",
            post(staff_pages::password_reset_post),
        )
        .route("/app/account", get(account::account_get::<Staff>))
        .route(
            "/app/account/api-tokens",
            get(api_tokens::tokens_get).post(api_tokens::tokens_post),
        )
        .route(
            "/app/account/api-tokens/{id}/revoke",
            post(api_tokens::revoke_post),
        )
        .route(
            "/app/account/time-zone",
            post(account::time_zone_post::<Staff>),
        )
        .route(
            "/app/account/sign-out-others",
            post(account::sign_out_others_post::<Staff>),
        )
        .route("/app/settings", get(staff_pages::settings_get))
        .route(
            "/app/settings/integrations",
            get(webhooks::integrations_get).post(webhooks::create_post),
        )
        .route(
            "/app/settings/integrations/content",
            post(webhooks::content_post),
        )
        .route(
            "/app/settings/integrations/{id}",
            get(webhooks::endpoint_get).post(webhooks::update_post),
        )
        .route(
            "/app/settings/integrations/{id}/enabled",
            post(webhooks::enabled_post),
        )
        .route(
            "/app/settings/integrations/{id}/rotate",
            post(webhooks::rotate_post),
        )
        .route(
            "/app/settings/integrations/{id}/test",
            post(webhooks::test_post),
        )
        .route(
            "/app/settings/integrations/{id}/delete",
            post(webhooks::delete_post),
        )
        .route("/app/settings/branding", get(branding::branding_get))
        .route("/app/settings/branding/colour", post(branding::colour_post))
        .route("/app/settings/branding/logo", post(branding::logo_post))
        .route(
            "/app/settings/branding/logo/remove",
            post(branding::logo_remove_post),
        )
        .route("/brand/{practice}/style.css", get(branding::style_get))
        .route("/brand/{practice}/logo", get(branding::logo_get))
        .route("/favicon.svg", get(branding::favicon_get))
        .route("/favicon.ico", get(branding::favicon_get))
        .route("/static/icon-192.png", get(branding::icon_192_get))
        .route("/static/icon-512.png", get(branding::icon_512_get))
        .route("/manifest.webmanifest", get(branding::manifest_get))
        .route("/app/settings/security", post(staff_pages::security_post))
        .route("/app/settings/time-zone", post(staff_pages::time_zone_post))
        .route(
            "/app/settings/messaging",
            get(chat_prefs::settings_get).post(chat_prefs::settings_post),
        )
        .route(
            "/app/account/messaging",
            get(chat_prefs::preferences_get::<Staff>).post(chat_prefs::preferences_post::<Staff>),
        )
        .route(
            "/app/questions/scheduled/{id}",
            get(questions::scheduled_question_get).post(questions::scheduled_question_post),
        )
        .route(
            "/app/questions/scheduled/{id}/cancel",
            post(questions::scheduled_question_cancel_post),
        )
        .route(
            "/app/account/messaging/away",
            post(chat_prefs::staff_away_post),
        )
        .route(
            "/portal/account/messaging",
            get(chat_prefs::preferences_get::<Portal>).post(chat_prefs::preferences_post::<Portal>),
        )
        .route(
            "/app/clients/{id}/chats",
            post(chat_prefs::client_chats_post),
        )
        .route(
            "/portal/messages/start",
            post(chat_prefs::portal_start_post),
        )
        .route(
            "/app/messages/{chat}/schedule",
            post(chat_prefs::schedule_post),
        )
        .route(
            "/app/messages/scheduled/{id}",
            get(chat_prefs::scheduled_get).post(chat_prefs::scheduled_post),
        )
        .route(
            "/app/messages/scheduled/{id}/cancel",
            post(chat_prefs::scheduled_cancel_post),
        )
        .route("/app/settings/outbox", get(staff_pages::outbox_get))
        // X11: replies by e-mail and text.
        .route(
            "/inbound/email",
            post(inbound::email_post).layer(upload_limit),
        )
        .route("/inbound/sms", post(inbound::sms_post))
        .route("/app/settings/held-emails", get(inbound::held_get))
        .route(
            "/app/settings/held-emails/{id}/approve",
            post(inbound::approve_post),
        )
        .route(
            "/app/settings/held-emails/{id}/discard",
            post(inbound::discard_post),
        )
        .route("/app/inbound-emails/{id}", get(inbound::email_get))
        .route(
            "/app/messages/{chat}/email/{seq}",
            get(inbound::message_email_get),
        )
        .route(
            "/app/settings/outbox/{id}/retry",
            post(staff_pages::outbox_retry_post),
        )
        // Contacts: /portal
        .route("/portal", get(portal::home_get))
        .route("/portal/overview", get(portal::overview_get))
        .route("/portal/clients/{id}", get(portal::client_get))
        .route(
            "/portal/questions/{id}",
            get(threads::question_get::<Portal>),
        )
        .route(
            "/portal/questions/{id}/answer",
            post(threads::reply_post::<Portal>).layer(upload_limit),
        )
        .route(
            "/portal/sign-in",
            get(sign_in::sign_in_get::<Portal>).post(sign_in::sign_in_post::<Portal>),
        )
        .route("/portal/sign-in/link", post(portal::link_request_post))
        .route(
            "/portal/help",
            get(portal::help_get).post(portal::help_post),
        )
        .route(
            "/portal/invitation/{token}",
            get(portal::invitation_get).post(portal::invitation_post),
        )
        .route(
            "/portal/link/{token}",
            get(portal::link_get).post(portal::link_post),
        )
        .route(
            "/portal/reset/{token}",
            get(password_links::link_get::<Reset>).post(password_links::link_post::<Reset>),
        )
        .route("/portal/account", get(account::account_get::<Portal>))
        .route(
            "/portal/account/time-zone",
            post(account::time_zone_post::<Portal>),
        )
        .route(
            "/portal/account/sign-out-others",
            post(account::sign_out_others_post::<Portal>),
        )
        // Notifications (N1, N2, S4, S5, X7)
        .route(
            "/app/account/notifications",
            get(notify::prefs_get::<Staff>).post(notify::prefs_post::<Staff>),
        )
        .route(
            "/portal/account/notifications",
            get(notify::prefs_get::<Portal>).post(notify::prefs_post::<Portal>),
        )
        .route(
            "/notifications/unsubscribe/{token}",
            get(notify::unsubscribe_get).post(notify::unsubscribe_post),
        )
        .route(
            "/app/settings/notifications",
            get(notify::settings_get).post(notify::settings_post),
        )
        // Web Push (X12)
        .route("/sw.js", get(push::service_worker_get))
        .route(
            "/app/account/push-devices",
            post(push::device_post::<Staff>),
        )
        .route(
            "/app/account/push-devices/{id}/remove",
            post(push::device_remove_post::<Staff>),
        )
        .route(
            "/portal/account/push-devices",
            post(push::device_post::<Portal>),
        )
        .route(
            "/portal/account/push-devices/{id}/remove",
            post(push::device_remove_post::<Portal>),
        )
        .route("/push/open/{token}", get(push::open_get))
        .route("/app/alerts/count", get(notify::alert_count_get))
        .route(
            "/app/alerts/chat/{chat}",
            get(notify::alert_chat_get).post(notify::alert_chat_post),
        )
        // The chats both areas have (M1, M4, M8, M13, M14, X9).
        .nest(Staff::MESSAGES, messages::routes::<Staff>(upload_limit))
        .nest(Portal::MESSAGES, messages::routes::<Portal>(upload_limit))
        .fallback(pages::not_found);

    // X3: the API takes bearer tokens only, never cookies, so the pages'
    // anti-forgery check and error pages are not its; it answers in
    // problem details.
    let (api, _) = api::router(&state);
    routes
        .layer(axum::middleware::from_fn(time_limit))
        .layer(axum::middleware::from_fn(forms::refuse_unstorable))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::protect,
        ))
        .layer(axum::middleware::from_fn(errors::error_pages))
        .merge(api.layer(axum::middleware::from_fn(time_limit)))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                        let request_id = request
                            .headers()
                            .get(&REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        // The route pattern, never the path: paths carry the
                        // secrets of sign-in and reset links.
                        let route = request
                            .extensions()
                            .get::<axum::extract::MatchedPath>()
                            .map_or("unmatched", |p| p.as_str());
                        tracing::info_span!(
                            "request",
                            method = %request.method(),
                            route,
                            request_id,
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
                .layer(axum::middleware::from_fn(security::headers)),
        )
        .with_state(state)
}

/// The router of the separate metrics address (`metrics_listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::private_metrics_get))
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_long_route_is_a_route() {
        use super::area::{Area, Portal, Staff};
        let source = include_str!("mod.rs");
        // The chat routes of both areas are nested at their chat lists.
        let chats = include_str!("messages/mod.rs");
        for path in super::LONG_ROUTES {
            let quoted = format!("\"{path}\"");
            let nested = [Staff::MESSAGES, Portal::MESSAGES]
                .iter()
                .find_map(|prefix| path.strip_prefix(prefix))
                .is_some_and(|rest| chats.contains(&format!("\"{rest}\"")));
            assert!(
                nested || source.matches(&quoted).count() >= 2,
                "{path} is not routed here any more"
            );
        }
    }
}
