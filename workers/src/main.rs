//! The `greenfleet` binary: parse the command line, set up logging, run.

use std::process::ExitCode;

use clap::Parser as _;
use greenfleet_workers::cli::{Cli, run};
use greenfleet_workers::telemetry;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(&cli.log_format, "warn");
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
