//! Logging with `tracing`: text for people, JSON for machines; `GREENFLEET_LOG` sets the filter
//! (default `warn`), so tests and the demo stay quiet unless asked.
//!
//! Text logs carry colour codes only when they go to a terminal. Commands a person runs keep the AWS
//! SDK's own log lines (IMDS probes, credential-chain warnings) and the adapters' per-call warnings out
//! of their output: the command's error already says what failed, once. `GREENFLEET_LOG` brings them
//! back (e.g. `GREENFLEET_LOG=debug`).

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Targets a person's command does not log unless `GREENFLEET_LOG` asks: the AWS SDK's crates
/// (`aws_config`, `aws_smithy_*`, `aws_sdk_*`, `aws_runtime`: a target filter matches by prefix), their
/// HTTP stack, and the adapters, whose failures come back as the command's error.
pub const QUIET_FOR_COMMANDS: &str = "aws=off,hyper=off,rustls=off,greenfleet_infra=error";

/// Installs the global subscriber once; later calls are no-ops.
pub fn init(format: &str, default_filter: &str) {
    let filter = EnvFilter::try_from_env("GREENFLEET_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

/// The default filter of a command a person runs: `level`, without [`QUIET_FOR_COMMANDS`].
#[must_use]
pub fn command_filter(level: &str) -> String {
    format!("{level},{QUIET_FOR_COMMANDS}")
}
