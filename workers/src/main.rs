//! The `greenfleet` binary: parse the command line, set up logging, run.

use std::process::ExitCode;

use clap::Parser as _;
use greenfleet_workers::cli::{Cli, Command, run};
use greenfleet_workers::telemetry;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = match cli.command {
        Command::Worker { .. } => "info",
        _ => "",
    };
    let default_filter =
        if default_filter.is_empty() { telemetry::command_filter("warn") } else { default_filter.to_owned() };
    telemetry::init(&cli.log_format, &default_filter);
    // The benchmark measures one core; everything else may use them all.
    let runtime = if matches!(cli.command, Command::Bench { .. }) {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    };
    let result = match runtime {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => Err(anyhow::anyhow!("starting the async runtime: {e}")),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
