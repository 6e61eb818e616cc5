//! The command line: what each command does is in its `--help`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::{bench, demo, scenarios};

/// greenfleet runs Blue/Green rollouts of applications on Spot Elastigroups through AWS CodeDeploy,
/// as a durable saga that compensates on its own when anything fails: green instances deleted,
/// the group's capacity put back, verified by reading it back.
#[derive(Debug, Parser)]
#[command(name = "greenfleet", version, propagate_version = true)]
pub struct Cli {
    /// Log format: `text` or `json`.
    #[arg(long, global = true, default_value = "text", env = "GREENFLEET_LOG_FORMAT")]
    pub log_format: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run four rollouts at once on the embedded engine (no AWS): one succeeds, one succeeds under
    /// KEEP_ALIVE with capacity restored, one fails in CodeDeploy and is rolled back, one is rejected at
    /// preflight for a tag mistake. Prints progress and a timeline per rollout; exits 1 if any outcome
    /// differs from what the scenario expects.
    Demo {
        /// Print only the verdicts and timelines, not the live progress.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a rollout request file (JSON, schemaVersion 1) without running it; prints every problem.
    Validate {
        /// The request file; `-` reads standard input.
        file: PathBuf,
    },
    /// Print the JSON Schema of the rollout request.
    Schema,
    /// Measure how many saga transitions per second the engine handles on one core.
    Bench {
        /// Rounds of the demo's four rollouts to run end to end.
        #[arg(long, default_value_t = 200)]
        rounds: u32,
        /// Decisions of the bare state machine to time.
        #[arg(long, default_value_t = 1_000_000)]
        transitions: u64,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo { quiet } => demo_command(quiet).await,
        Command::Validate { file } => validate(&file),
        Command::Schema => {
            print!("{}", greenfleet_core::request::request_json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { rounds, transitions } => {
            let r = bench::run(rounds, transitions).await;
            println!(
                "state machine : {:>9} transitions in {:.3} s = {:>10.0} transitions/s (one core)",
                r.machine_transitions,
                r.machine_secs,
                r.machine_rate()
            );
            println!(
                "embedded      : {:>9} transitions in {:.3} s = {:>10.0} transitions/s ({} rollouts end to end, worker + in-memory store/queues + simulated cloud, one core)",
                r.engine_transitions,
                r.engine_secs,
                r.engine_rate(),
                r.rollouts
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn demo_command(quiet: bool) -> anyhow::Result<ExitCode> {
    let list = scenarios::demo();
    println!(
        "greenfleet demo — {} rollouts on the embedded engine (simulated Spot + CodeDeploy, virtual clock)\n",
        list.len()
    );
    let (env, verdicts) = demo::run(&list, |line| {
        if !quiet {
            println!("{line}");
        }
    })
    .await;
    println!("\n── timelines ──");
    for saga in env.store.all() {
        println!("{}", demo::timeline(&saga));
    }
    println!("── verdicts ──");
    let mut ok = true;
    for v in &verdicts {
        let mark = if v.ok() { "ok  " } else { "FAIL" };
        println!("{mark} {:<14} {:<12} (expected {})", v.name, v.outcome, v.expected);
        for p in &v.problems {
            println!("       cloud check: {p}");
        }
        ok &= v.ok();
    }
    let dead = env.intake.dead_letters().len() + env.steps.dead_letters().len() + env.events.dead_letters().len();
    if dead > 0 {
        println!("FAIL {dead} messages ended in a dead-letter queue");
        ok = false;
    }
    println!("\n{} lifecycle events published; {} saga writes", env.bus.events().len(), env.store.writes());
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn validate(file: &PathBuf) -> anyhow::Result<ExitCode> {
    let bytes = if file.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v).context("reading standard input")?;
        v
    } else {
        std::fs::read(file).with_context(|| format!("reading {}", file.display()))?
    };
    match greenfleet_core::request::parse_request(&bytes) {
        Ok(r) => {
            println!(
                "valid: rollout {} of {} to Elastigroup {} through {}/{}",
                r.rollout_id(),
                r.revision.describe(),
                r.elastigroup_id,
                r.application,
                r.deployment_group
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("invalid request{}:", e.request_id.map(|id| format!(" {id}")).unwrap_or_default());
            for p in e.problems {
                eprintln!("  {}: {}", p.field, p.message);
            }
            Ok(ExitCode::from(2))
        }
    }
}
