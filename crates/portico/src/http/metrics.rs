//! Prometheus metrics at `/metrics`: request counts and latencies by route
//! and status. One registry per running server, no global state. Every
//! response also says its server time in a `Server-Timing` header.
//!
//! `/metrics` is served on the separate address `metrics_listen` when one is
//! set, and on the public address only to a request with the bearer token
//! `metrics_token`; with neither, it is not served at all.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use secrecy::ExposeSecret;
use std::time::Instant;
use subtle::ConstantTimeEq;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route pattern (`/app/clients/{id}`), never the raw path, so that
    /// ids do not explode the number of series.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    live_delivery: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// 0.25 ms … ~4 s: a live event takes well under a millisecond to reach
/// a socket on an idle instance.
fn live_delivery_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("portico");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            latency.clone(),
        );
        let live_delivery = live_delivery_histogram();
        registry.register(
            "live_event_delivery_seconds",
            "Time from a live event's publication on this instance (or its arrival from another) to its write to a socket",
            live_delivery.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            live_delivery,
        }
    }

    /// A live event was written to a socket, `elapsed` after it was
    /// published here.
    pub fn live_event_delivered(&self, elapsed: std::time::Duration) {
        self.live_delivery.observe(elapsed.as_secs_f64());
    }

    fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts and times every request.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let mut response = next.run(request).await;
    let elapsed = started.elapsed();
    // The server's own time to the response head, for browsers' developer
    // tools and the benchmark (`docs/BENCHMARKS.md`).
    if let Ok(value) =
        header::HeaderValue::from_str(&format!("app;dur={:.3}", elapsed.as_secs_f64() * 1000.0))
    {
        response.headers_mut().insert("server-timing", value);
    }
    let metrics = &state.metrics;
    metrics
        .latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// `GET /metrics` on the public address: only with the configured bearer
/// token (401 without it); not there at all when no token is configured.
pub async fn metrics_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = &state.config.metrics_token else {
        return super::pages::not_found().await.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let authorised = given.is_some_and(|given| {
        bool::from(given.as_bytes().ct_eq(expected.expose_secret().as_bytes()))
    });
    if !authorised {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
            "A bearer token is needed for /metrics.\n",
        )
            .into_response();
    }
    encode(&state)
}

/// `GET /metrics` on the separate metrics address: the address itself is
/// the protection (bind it to a private interface).
pub async fn private_metrics_get(State(state): State<AppState>) -> Response {
    encode(&state)
}

fn encode(state: &AppState) -> Response {
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
