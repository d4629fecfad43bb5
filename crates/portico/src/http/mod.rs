//! The web edge: routes, pages, middleware. Handlers parse the request, call
//! a use case in [`crate::app`] and render its answer; they never touch SQL.

mod assets;
mod health;
mod metrics;
mod pages;
mod security;

pub use metrics::Metrics;

use crate::app::App;
use crate::config::Config;
use axum::Router;
use axum::http::{HeaderName, Request, StatusCode};
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub app: App,
    pub config: Arc<Config>,
    /// The configured public URL, or the bound address.
    pub public_url: Arc<str>,
    pub metrics: Arc<Metrics>,
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of Portico, in one place.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(pages::home_get))
        .route("/healthz", get(health::healthz_get))
        .route("/readyz", get(health::readyz_get))
        .route("/metrics", get(metrics::metrics_get))
        .route("/static/portico.css", get(assets::stylesheet_get))
        .fallback(pages::not_found);

    routes
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
                        tracing::info_span!(
                            "request",
                            method = %request.method(),
                            path = %request.uri().path(),
                            request_id,
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(30),
                ))
                .layer(axum::middleware::from_fn(security::headers)),
        )
        .with_state(state)
}
