//! Logging with `tracing`: human-readable by default, JSON by setting.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. The level comes from `PORTICO_LOG` (or
/// `RUST_LOG`), e.g. `info` or `portico=debug`; the default is `info`.
pub fn init(format: LogFormat) {
    let filter = std::env::var("PORTICO_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second call (tests start many servers in one process) is harmless.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
