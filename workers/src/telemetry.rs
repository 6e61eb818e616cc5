//! Logging with `tracing`: text for people, JSON for machines; `GREENFLEET_LOG` sets the filter
//! (default `warn`), so tests and the demo stay quiet unless asked.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are no-ops.
pub fn init(format: &str, default_filter: &str) {
    let filter = EnvFilter::try_from_env("GREENFLEET_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}
