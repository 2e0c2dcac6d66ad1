//! Logs, request ids and metrics: what operators read. Logs go to stderr, as text or one JSON
//! object per line; nothing here ever formats a PIN, a MyNumber or card bytes, because the types
//! that hold them print only masks, and request spans carry the method, the route and the
//! request id only.
//!
//! A leaf: imports nothing of vaxcert.

pub mod metrics;
mod request_id;

pub use request_id::{REQUEST_ID_HEADER, RequestId, current_request_id, scope_request_id};

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `span` with the request id),
    /// for log shippers.
    Json,
}

/// Install the global subscriber once; `VAXCERT_LOG` (or `RUST_LOG`) sets the filter.
pub fn init(default_filter: &str, format: LogFormat) {
    #[allow(clippy::disallowed_methods)] // the log filter is read before any config exists
    let filter = std::env::var("VAXCERT_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default_filter.to_owned());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
