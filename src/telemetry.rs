//! Logging setup. Logs go to stderr; nothing here ever formats a PIN, a MyNumber or card bytes,
//! because the types that hold them print only masks.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber once; `VAXCERT_LOG` (or `RUST_LOG`) sets the filter.
pub fn init(default_filter: &str) {
    #[allow(clippy::disallowed_methods)] // the log filter is read before any config exists
    let filter = std::env::var("VAXCERT_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default_filter.to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
