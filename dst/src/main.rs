//! `greenfleet-dst`: runs a campaign of simulation seeds, spread over the machine's cores (each seed
//! runs on one thread and is deterministic; seeds are split into contiguous ranges, one per job).
//! Developers run it as `cargo dst --seeds N [--from S]` (an alias in `.cargo/config.toml`).

use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;

use clap::Parser;
use greenfleet_dst::{Campaign, campaign};

/// Deterministic simulation of many rollouts under faults; exits 1 if any seed breaks an invariant.
#[derive(Debug, Parser)]
#[command(name = "greenfleet-dst", version)]
struct Args {
    /// How many seeds.
    #[arg(long, default_value_t = 1_000)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Threads to run seeds on (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// A line per seed; with `--seeds 1`, its whole trace.
    #[arg(long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cores = thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // A verbose run prints seeds in order, so it stays on one thread.
    let jobs = if args.verbose { 1 } else { args.jobs.unwrap_or(cores).max(1) };
    let jobs = u64::try_from(jobs).unwrap_or(1).min(args.seeds.max(1));
    let per_job = args.seeds.div_ceil(jobs);
    let (lines, printed) = mpsc::channel::<String>();
    let mut handles = Vec::new();
    for j in 0..jobs {
        let from = args.from + j * per_job;
        let count = per_job.min(args.seeds.saturating_sub(j * per_job));
        let lines = lines.clone();
        let verbose = args.verbose;
        handles.push(thread::spawn(move || -> Result<Campaign, String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("starting the async runtime: {e}"))?;
            Ok(rt.block_on(campaign(from, count, verbose, |line| {
                let _ = lines.send(format!("[{from}..] {line}"));
            })))
        }));
    }
    drop(lines);
    for line in printed {
        println!("{line}");
    }
    let mut total = Campaign::default();
    for h in handles {
        match h.join() {
            Ok(Ok(c)) => total.merge(c),
            Ok(Err(e)) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            Err(_) => {
                eprintln!("error: a simulation thread panicked (a bug in the simulation: run its range with --jobs 1)");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("outcomes: {:?}; faults injected: {}", total.outcomes, total.faults.describe());
    println!("{} on {jobs} threads", total.final_line());
    if total.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
