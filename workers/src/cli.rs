//! The command line: what each command does is in its `--help`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use greenfleet_core::operator_event::{ApprovalDetail, CancelDetail, InvalidCommand};

use crate::connect::{AwsArgs, SpotArgs};
use crate::ops::{self, Output};
use crate::{bench, demo, runner, scenarios, shutdown};

/// greenfleet runs Blue/Green rollouts of applications on Spot Elastigroups through AWS CodeDeploy,
/// as a durable saga that compensates on its own when anything fails: green instances deleted,
/// the group's capacity put back, verified by reading it back.
#[derive(Debug, Parser)]
#[command(name = "greenfleet", version, propagate_version = true)]
pub struct Cli {
    /// Log format: `text` or `json`.
    #[arg(long, global = true, default_value = "text", env = "GREENFLEET_LOG_FORMAT")]
    pub log_format: String,
    /// Where greenfleet's AWS resources are (commands that use AWS).
    #[command(flatten)]
    pub aws: AwsArgs,
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
    /// Print the JSON Schema of the rollout request (or, with `--lifecycle-event`, of the events
    /// greenfleet publishes).
    Schema {
        /// The schema of a lifecycle event's `detail` instead.
        #[arg(long)]
        lifecycle_event: bool,
    },
    /// Create or repair, idempotently, the queues, table, bus and rules greenfleet needs, on whatever
    /// endpoint the AWS configuration points at (`AWS_ENDPOINT_URL` for LocalStack or moto).
    Infra {
        /// `up` or `down`.
        #[command(subcommand)]
        action: InfraAction,
    },
    /// Run a worker: consumes the intake, steps and events queues until SIGTERM, then finishes the
    /// message in hand. Needs `SPOTINST_TOKEN` and the Spot account (`SPOTINST_ACCOUNT`); `GET /healthz`
    /// on the admin address.
    Worker {
        /// Spot API settings.
        #[command(flatten)]
        spot: SpotArgs,
        /// Loops per queue.
        #[arg(long, env = "GREENFLEET_CONCURRENCY", default_value_t = 2)]
        concurrency: usize,
        /// Address of the admin endpoint (`/healthz`).
        #[arg(long, env = "GREENFLEET_ADMIN_ADDR", default_value = "127.0.0.1:9464")]
        admin_addr: String,
        /// Long-poll wait per receive, in milliseconds.
        #[arg(long, default_value_t = 10_000)]
        wait_ms: u64,
        /// Seconds between two sweeps for orphans and capacity drift (0: never).
        #[arg(long, env = "GREENFLEET_SWEEP_EVERY_SECS", default_value_t = 600)]
        sweep_every_secs: u64,
        /// Trigger rules (JSON): events matching a trigger start its rollout. Same file as `infra up`.
        #[arg(long, env = "GREENFLEET_TRIGGERS")]
        triggers: Option<PathBuf>,
    },
    /// Find and repair what rollouts left behind: instances tagged by a rollout that did not succeed
    /// (or that the table does not know) and capacity drifted from the last finished rollout's
    /// snapshot. Takes each group's lease, so it never races a rollout. Workers also sweep periodically.
    /// Needs `SPOTINST_TOKEN` and the Spot account (`SPOTINST_ACCOUNT`).
    Sweep {
        /// Spot API settings.
        #[command(flatten)]
        spot: SpotArgs,
        /// List the repairs without making them.
        #[arg(long)]
        dry_run: bool,
        /// How many recently finished rollouts to consider (with the active ones).
        #[arg(long, default_value_t = 50)]
        recent: usize,
    },
    /// Publish a rollout request (validated here first) to the intake queue, or to greenfleet's bus.
    /// Exit status 2 when it is invalid or its requestId already names a rollout of a different request.
    Submit {
        /// The request file (JSON, schemaVersion 1); `-` reads standard input.
        file: PathBuf,
        /// Publish on greenfleet's EventBridge bus (detail-type `Rollout Requested`) instead of the queue.
        #[arg(long)]
        via_bus: bool,
    },
    /// Show what a rollout request would do, changing nothing: reads the live Elastigroup and deployment
    /// group through the calls preflight makes, runs preflight, and prints capacity before / during /
    /// after, the green instances to launch and the blue to remove, the green tags, the CodeDeploy
    /// deployment it would create and the gates — or every rule the setup breaks, with what to change.
    /// Needs `SPOTINST_TOKEN`, the Spot account (`SPOTINST_ACCOUNT`) and AWS credentials for CodeDeploy;
    /// not the queues or the table.
    ///
    /// Exit status: 0 the rollout would be accepted; 2 it would be rejected (invalid request, a preflight
    /// rule, a Blue/Green already running); 1 Spot or CodeDeploy could not be read.
    Plan {
        /// The request file (JSON, schemaVersion 1); `-` reads standard input.
        file: PathBuf,
        /// Spot API settings.
        #[command(flatten)]
        spot: SpotArgs,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Where a rollout is and what it waits for.
    Status {
        /// Rollout id (its request id).
        id: String,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Active rollouts and the 20 most recently finished.
    List {
        /// `text` or `json`.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Follow a rollout live until it ends: the current step, what it waits for and since when, green
    /// instances ready / expected, CodeDeploy's instance progress; then its timeline. On a terminal one
    /// status line is redrawn; otherwise a plain line is printed when something changes (`--output
    /// json`: one JSON object per change, then one with the outcome and history).
    ///
    /// Exit status: 0 the rollout succeeded; 3 it ended Rejected, RolledBack or NeedsAttention; 1 it
    /// could not be followed.
    Watch {
        /// Rollout id (its request id).
        id: String,
        /// Milliseconds between two looks at the table.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(100..))]
        interval_ms: u64,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// A rollout's timeline: every step, when, and what happened.
    History {
        /// Rollout id.
        id: String,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Approve a rollout waiting at READY (approval `manual`): CodeDeploy then moves traffic to green.
    Approve {
        /// Rollout id.
        id: String,
        /// Who approves (recorded in the history).
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Cancel a rollout: compensation stops the deployment, removes green and restores capacity.
    Cancel {
        /// Rollout id.
        id: String,
        /// Why (recorded in the history and the RolledBack event).
        #[arg(long, default_value = "cancelled by an operator")]
        reason: String,
        /// Who cancels.
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Serve the simulated Spot API, CodeDeploy and EC2's DescribeInstances over HTTP (for trials and
    /// tests without Spot or AWS); CodeDeploy events go to EventBridge with PutEvents. Point the worker
    /// at it with `GREENFLEET_SPOT_URL=http://ADDR`, `AWS_ENDPOINT_URL_CODEDEPLOY=http://ADDR` and
    /// `AWS_ENDPOINT_URL_EC2=http://ADDR`.
    Sim {
        /// Address to listen on.
        #[arg(long, env = "GREENFLEET_SIM_ADDR", default_value = "127.0.0.1:9480")]
        addr: String,
        /// Accept only this Spot token (default: any non-empty one).
        #[arg(long, env = "GREENFLEET_SIM_TOKEN")]
        token: Option<String>,
        /// Set up the demo's four Elastigroups and deployment groups.
        #[arg(long)]
        demo: bool,
        /// The port each simulated instance answers health checks on, at its own loopback IP
        /// (127.0.0.x): a request's check is then `http://{ip}:PORT/health`. Default: the port of
        /// `--addr`. Needed for health checks when `--addr` is a wildcard (0.0.0.0), which holds its
        /// port on every address: without it the instances answer none.
        #[arg(long, value_name = "PORT", env = "GREENFLEET_SIM_HEALTH_PORT", value_parser = clap::value_parser!(u16).range(1..))]
        health_port: Option<u16>,
    },
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

/// `greenfleet infra` actions.
#[derive(Debug, Subcommand)]
pub enum InfraAction {
    /// Create or repair everything (idempotent).
    Up {
        /// Receives before a message moves to its dead-letter queue.
        #[arg(long, default_value_t = 5)]
        max_receive_count: u32,
        /// Route CodeDeploy events of these applications only (default: all).
        #[arg(long = "application")]
        applications: Vec<String>,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        /// Trigger rules (JSON): one EventBridge rule per trigger, to the intake queue.
        #[arg(long, env = "GREENFLEET_TRIGGERS")]
        triggers: Option<PathBuf>,
    },
    /// Delete everything `up` created (queued messages and rollout records are lost).
    Down,
}

/// An approval or cancel refused before sending: exit status 2, as an invalid `submit`.
#[allow(clippy::unnecessary_wraps)] // a match arm of `run`
fn not_sent(e: &InvalidCommand) -> anyhow::Result<ExitCode> {
    eprintln!("not sent: {e}");
    Ok(ExitCode::from(2))
}

fn read_input(file: &PathBuf) -> anyhow::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v).context("reading standard input")?;
        Ok(v)
    } else {
        std::fs::read(file).with_context(|| format!("reading {}", file.display()))
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let aws = cli.aws;
    match cli.command {
        Command::Infra { action: InfraAction::Up { max_receive_count, applications, output, triggers } } => {
            let opts = greenfleet_infra::provision::ProvisionOptions {
                max_receive_count,
                codedeploy_applications: applications,
                triggers: crate::connect::load_triggers(triggers.as_deref())?,
                ..Default::default()
            };
            ops::infra_up(&aws, opts, output).await
        }
        Command::Infra { action: InfraAction::Down } => ops::infra_down(&aws).await,
        Command::Sweep { spot, dry_run, recent } => {
            let spot = spot.client()?;
            let c = crate::connect::connect(&aws).await?;
            let worker = c.worker(spot)?;
            let deps = worker.deps();
            let report = crate::sweep::sweep(&*deps.store, &deps.executor, &*deps.clock, recent, dry_run).await?;
            print!("{}", crate::sweep::describe(&report, dry_run));
            Ok(if report.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Worker { spot, concurrency, admin_addr, wait_ms, sweep_every_secs, triggers } => {
            let spot = spot.client()?;
            let triggers = crate::connect::load_triggers(triggers.as_deref())?;
            let c = crate::connect::connect(&aws).await?;
            let worker = c.worker(spot)?.with_triggers(triggers);
            let listener = tokio::net::TcpListener::bind(&admin_addr)
                .await
                .with_context(|| format!("binding the admin endpoint on {admin_addr} (set --admin-addr)"))?;
            let visibility_ms = c.visibility_ms().await?;
            let settings = runner::Settings {
                run: runner::RunOptions::for_visibility(visibility_ms, concurrency, wait_ms),
                sweep_every: (sweep_every_secs > 0).then(|| std::time::Duration::from_secs(sweep_every_secs)),
            };
            runner::serve(worker, settings, listener, shutdown::signal())
                .await
                .context("serving the admin endpoint (/healthz)")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim { addr, token, demo, health_port } => {
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("binding the simulator on {addr}"))?;
            let local = listener.local_addr()?;
            eprintln!("greenfleet sim listening on http://{local}");
            match health_port.or((!local.ip().is_unspecified()).then_some(local.port())) {
                Some(port) => eprintln!("instances answer health checks on http://{{ip}}:{port}/health"),
                None => eprintln!(
                    "instances answer no health checks: {local} is a wildcard address; give --health-port (GREENFLEET_SIM_HEALTH_PORT)"
                ),
            }
            crate::simulate::run(listener, token, demo, health_port, shutdown::signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Submit { file, via_bus } => ops::submit(&aws, &read_input(&file)?, via_bus).await,
        Command::Plan { file, spot, output } => crate::plan::run(&read_input(&file)?, &spot, output).await,
        Command::Status { id, output } => ops::status(&aws, &id, output).await,
        Command::List { output } => ops::list(&aws, output).await,
        Command::History { id, output } => ops::history(&aws, &id, output).await,
        Command::Watch { id, interval_ms, output } => {
            crate::watch::run(&aws, &id, std::time::Duration::from_millis(interval_ms), output).await
        }
        // The checks an approval or cancel published as an event gets, before anything is sent.
        Command::Approve { id, by, output } => match (ApprovalDetail { rollout_id: id.clone(), by }).check() {
            Ok((_, body)) => ops::command(&aws, &id, body, output).await,
            Err(e) => not_sent(&e),
        },
        Command::Cancel { id, reason, by, output } => {
            match (CancelDetail { rollout_id: id.clone(), by, reason }).check() {
                Ok((_, body)) => ops::command(&aws, &id, body, output).await,
                Err(e) => not_sent(&e),
            }
        }
        Command::Demo { quiet } => demo_command(quiet).await,
        Command::Validate { file } => validate(&file),
        Command::Schema { lifecycle_event } => {
            if lifecycle_event {
                print!("{}", greenfleet_core::event::lifecycle_json_schema());
            } else {
                print!("{}", greenfleet_core::request::request_json_schema());
            }
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
            print_budget(&bench::budget().await);
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
    let bytes = read_input(file)?;
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

fn print_budget(b: &bench::Budget) {
    let total = |m: &std::collections::BTreeMap<String, u64>| m.values().sum::<u64>();
    println!("\nrequests of one successful rollout (2 instances), counted on the adapters:");
    println!(
        "  DynamoDB    {} conditional writes, {} reads, 1 lease transaction + 2 lease deletes, {} index queries (event routing)",
        b.store_writes, b.store_reads, b.events
    );
    println!(
        "  SQS         1 intake + {} step + {} event messages, each received and deleted once (batches of up to 10)",
        b.step_messages, b.events
    );
    println!("  EventBridge {} lifecycle events published", b.published);
    println!("  Spot        {} calls {:?}", total(&b.spot), b.spot);
    println!("  CodeDeploy  {} calls {:?}", total(&b.codedeploy), b.codedeploy);
}
