//! Logging with `tracing`: human-readable by default, JSON by setting.
//!
//! Each request has a span (method, route, request id; `http/mod.rs`), and
//! each use case it calls opens one inside it with ids only
//! (`app/spans.rs`), so every line logged names the request and the use
//! case it came from. At `debug` (e.g. `PORTICO_LOG=portico=debug`) a line
//! also closes each span with the time spent in it (`time.busy`) and
//! waiting (`time.idle`): where a slow request's time went.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber. The level comes from `PORTICO_LOG` (or
/// `RUST_LOG`), e.g. `info` or `portico=debug`; the default is `info`.
pub fn init(format: LogFormat) {
    let filter = std::env::var("PORTICO_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_span_events(span_events(filter.max_level_hint()))
        .with_env_filter(filter);
    // A second call (tests start many servers in one process) is harmless.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Spans are timed in the log only when it is asked for in detail: at
/// `info` a request logs no more lines than before.
fn span_events(most: Option<LevelFilter>) -> FmtSpan {
    if most.is_some_and(|level| level >= LevelFilter::DEBUG) {
        FmtSpan::CLOSE
    } else {
        FmtSpan::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::span_events;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::format::FmtSpan;

    #[test]
    fn spans_are_timed_at_debug_only() {
        let at = |spec: &str| span_events(EnvFilter::new(spec).max_level_hint());
        assert_eq!(at("info,sqlx=warn"), FmtSpan::NONE);
        assert_eq!(at("warn"), FmtSpan::NONE);
        assert_eq!(at("portico=debug"), FmtSpan::CLOSE);
        assert_eq!(at("info,portico::app=trace"), FmtSpan::CLOSE);
    }
}
