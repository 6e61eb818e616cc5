//! Operator commands against real endpoints: submit, status, list, history, approve, cancel, and
//! `infra up`. Each prints for people, or JSON with `--output json`.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use greenfleet_core::ids::RolloutId;
use greenfleet_core::message::{StepBody, StepMessage};
use greenfleet_core::ports::{Clock as _, MessageQueue as _, SagaStore as _};
use greenfleet_core::saga::Saga;
use greenfleet_core::status::RolloutStatus;
use greenfleet_infra::dynamo::DynamoStore;
use greenfleet_infra::provision::{self, ProvisionOptions};

use crate::clock::SystemClock;
use crate::connect::{AwsArgs, connect, connect_table, names};
use crate::demo;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `greenfleet infra up`.
pub async fn infra_up(args: &AwsArgs, opts: ProvisionOptions, output: Output) -> anyhow::Result<ExitCode> {
    let names = names(args)?;
    let sdk = greenfleet_infra::aws::load_sdk_config().await;
    let p = provision::infra_up(&sdk, &names, &opts).await?;
    if output == Output::Json {
        print_json(&serde_json::json!({
            "intakeQueue": p.intake.url, "stepsQueue": p.steps.url, "eventsQueue": p.events.url,
            "table": p.table, "bus": p.bus_name,
            "codedeployRule": p.codedeploy_rule_arn, "requestsRule": p.requests_rule_arn,
            "triggerRules": p.trigger_rule_arns.iter().map(|(n, a)| serde_json::json!({"trigger": n, "rule": a})).collect::<Vec<_>>(),
        }))?;
    } else {
        println!("greenfleet infrastructure `{}` is in place:", names.prefix());
        for q in [&p.intake, &p.steps, &p.events] {
            println!("  queue  {:<28} dead-letter {}", q.name, q.dlq_url);
        }
        println!("  table  {}\n  bus    {}", p.table, p.bus_name);
        println!("  rule   {} (CodeDeploy events → events queue)", p.codedeploy_rule_arn);
        println!("  rule   {} (Rollout Requested → intake queue)", p.requests_rule_arn);
        for (name, arn) in &p.trigger_rule_arns {
            println!("  rule   {arn} (trigger `{name}` → intake queue)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `greenfleet infra down`.
pub async fn infra_down(args: &AwsArgs) -> anyhow::Result<ExitCode> {
    let names = names(args)?;
    let sdk = greenfleet_infra::aws::load_sdk_config().await;
    provision::infra_down(&sdk, &names).await?;
    println!("greenfleet infrastructure `{}` deleted", names.prefix());
    Ok(ExitCode::SUCCESS)
}

/// `greenfleet submit`: validates locally first, so a bad request is refused before it is sent (exit
/// 2), as is a request whose requestId already names a rollout of a different request (when the table
/// is readable); publishes through the same client other services use (`greenfleet-client`).
pub async fn submit(args: &AwsArgs, body: &[u8], via_bus: bool) -> anyhow::Result<ExitCode> {
    let request = match greenfleet_core::request::parse_request(body) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("not sent: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let sdk = greenfleet_infra::aws::load_sdk_config().await;
    let client = greenfleet_client::Client::new(&sdk, &args.prefix)?;
    let published = if via_bus { client.publish_via_bus(&request).await } else { client.publish(&request).await };
    let id = match published {
        Ok(id) => id,
        // The requestId names a rollout of a different request: refused like an invalid request.
        Err(e @ greenfleet_client::ClientError::RequestConflict { .. }) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    println!("submitted rollout {id}; follow it with `greenfleet status {id}`");
    Ok(ExitCode::SUCCESS)
}

async fn load(store: &DynamoStore, id: &str) -> anyhow::Result<Saga> {
    let id = RolloutId::parse(id).map_err(|e| anyhow::anyhow!("{e}"))?;
    match store.load(&id).await.with_context(|| format!("reading rollout `{id}` from table `{}`", store.table()))? {
        Some(s) => Ok(s),
        None => bail!("no rollout `{id}`; `greenfleet list` shows the active and recent ones"),
    }
}

/// The status projection of rollout `id` (never its internal state: see `greenfleet_core::status`).
async fn load_status(store: &DynamoStore, id: &str) -> anyhow::Result<RolloutStatus> {
    let id = RolloutId::parse(id).map_err(|e| anyhow::anyhow!("{e}"))?;
    let reading = || format!("reading rollout `{id}` from table `{}`", store.table());
    match store.load_status(&id).await.with_context(reading)? {
        Some(s) => Ok(s),
        None => bail!("no rollout `{id}`; `greenfleet list` shows the active and recent ones"),
    }
}

/// `greenfleet status <id>`: the status projection (`schema/rollout-status.v1.json` with `--output json`).
pub async fn status(args: &AwsArgs, id: &str, output: Output) -> anyhow::Result<ExitCode> {
    let c = connect_table(args).await?;
    let status = load_status(&c.store, id).await?;
    if output == Output::Json {
        print_json(&status)?;
    } else {
        println!("{}  {}", status.rollout_id, status.step);
        println!("  {}", status.waiting_for);
        if let Some(d) = &status.deployment_id {
            println!("  CodeDeploy deployment {d}");
        }
        if let Some(c) = status.capacity_before {
            println!("  capacity before the rollout {}/{}/{} (min/max/target)", c.minimum, c.maximum, c.target);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `greenfleet history <id>`: the history lines of the status projection.
pub async fn history(args: &AwsArgs, id: &str, output: Output) -> anyhow::Result<ExitCode> {
    let c = connect_table(args).await?;
    let status = load_status(&c.store, id).await?;
    if output == Output::Json {
        print_json(&status.history)?;
    } else {
        print!("{}", demo::timeline_of(&status));
    }
    Ok(ExitCode::SUCCESS)
}

/// `greenfleet list`.
pub async fn list(args: &AwsArgs, output: Output) -> anyhow::Result<ExitCode> {
    let c = connect_table(args).await?;
    let reading = || format!("listing rollouts in table `{}`", c.store.table());
    let active = c.store.list_active().await.with_context(reading)?;
    let recent = c.store.list_recent(20).await.with_context(reading)?;
    if output == Output::Json {
        print_json(&serde_json::json!({ "active": active, "recent": recent }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("active ({}):", active.len());
    for s in &active {
        println!("  {:<24} {:<14} {:<28} {}", s.id, s.elastigroup_id, s.phase, s.deployment_group);
    }
    println!("recent:");
    for s in &recent {
        println!(
            "  {:<24} {:<14} {:<14} {}",
            s.id,
            s.elastigroup_id,
            s.outcome.as_deref().unwrap_or("-"),
            s.deployment_group
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `greenfleet approve` / `greenfleet cancel`: a message on the step queue, handled by a worker.
pub async fn command(args: &AwsArgs, id: &str, body: StepBody, output: Output) -> anyhow::Result<ExitCode> {
    let c = connect(args).await?;
    let saga = load(&c.store, id).await?;
    if let Some(o) = saga.outcome() {
        bail!(
            "rollout {} already ended: {}; nothing to {}",
            saga.id,
            o.kind(),
            match &body {
                StepBody::Approve { .. } => "approve",
                _ => "cancel",
            }
        );
    }
    let now = SystemClock.now();
    let what = match &body {
        StepBody::Approve { .. } => "approval",
        StepBody::Cancel { .. } => "cancel",
        StepBody::Wake { .. } => "wake-up",
    };
    let msg = StepMessage { rollout_id: saga.id.clone(), id: format!("op:{what}:{}", now.0), due: now, body };
    c.queue(&c.located.steps_url).send(&msg.encode(), 0).await.context("sending to the steps queue")?;
    if output == Output::Json {
        print_json(&serde_json::json!({ "rolloutId": saga.id, "sent": what, "phase": saga.phase.name() }))?;
    } else {
        println!(
            "{what} sent to rollout {} (now {}); `greenfleet watch {}` follows it",
            saga.id,
            saga.phase.name(),
            saga.id
        );
    }
    Ok(ExitCode::SUCCESS)
}
