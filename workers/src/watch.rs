//! `greenfleet watch <id>`: follows a rollout live from the table until it ends — the current step,
//! what it waits for and since when, its deadline, green instances ready / expected, and CodeDeploy's
//! per-instance progress (GetDeployment's overview while the deployment runs) — then prints the
//! timeline. On a terminal it redraws one status line; otherwise (a pipe, a CI log) it prints a plain
//! line only when something changes; `--output json` prints one JSON object per change, then a last
//! one with the outcome and the history.
//!
//! Exit status: 0 the rollout succeeded, 3 it ended otherwise (Rejected, RolledBack,
//! NeedsAttention), 1 it could not be followed (no such rollout, the table unreachable).

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use greenfleet_core::cloud::InstanceCounts;
use greenfleet_core::ids::{RolloutId, Timestamp};
use greenfleet_core::ports::{Clock as _, Deployments as _, SagaStore as _};
use greenfleet_core::status::RolloutStatus;
use greenfleet_infra::codedeploy::CodeDeploySdk;
use serde::Serialize;

use crate::clock::SystemClock;
use crate::connect::{AwsArgs, connect_table};
use crate::demo;
use crate::ops::Output;

/// Exit status of a rollout that ended other than Succeeded.
pub const EXIT_NOT_SUCCEEDED: u8 = 3;
/// How long to wait for a rollout just submitted to appear in the table.
const APPEAR_WAIT: Duration = Duration::from_secs(30);
/// A redrawn status line is cut to this many characters unless `COLUMNS` says otherwise.
const DEFAULT_COLUMNS: usize = 120;

/// What `watch` shows of a rollout at one look; a new line (or JSON object) when it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The rollout.
    pub rollout_id: String,
    /// The current step, e.g. `AwaitGreen`, `Compensating(RemoveGreen)`, `Done(Succeeded)`.
    pub phase: String,
    /// What it waits for, in words.
    pub waiting_for: String,
    /// When it entered the step.
    pub since: Timestamp,
    /// When the step's wait ends (none once done).
    pub deadline: Option<Timestamp>,
    /// Green instances running and tagged.
    pub green_ready: u32,
    /// Green instances expected (as many as blue).
    pub green_expected: u32,
    /// The CodeDeploy deployment, once created.
    pub deployment_id: Option<String>,
    /// Its last known status.
    pub deployment_status: Option<String>,
    /// Instances that reported SUCCESS or READY in CodeDeploy's events.
    pub instances_done: usize,
    /// CodeDeploy's `deploymentOverview`, read while the deployment runs.
    pub codedeploy: Option<InstanceCounts>,
    /// The outcome, once done.
    pub outcome: Option<String>,
    /// Its reason.
    pub reason: Option<String>,
}

impl Progress {
    /// What a rollout's status projection shows, with CodeDeploy's overview if it was read.
    #[must_use]
    pub fn of(status: &RolloutStatus, codedeploy: Option<InstanceCounts>) -> Self {
        Self {
            rollout_id: status.rollout_id.to_string(),
            phase: status.step.clone(),
            waiting_for: status.waiting_for.clone(),
            since: status.since,
            deadline: status.deadline,
            green_ready: status.green_ready,
            green_expected: status.green_expected,
            deployment_id: status.deployment_id.as_ref().map(ToString::to_string),
            deployment_status: status.deployment_status.clone(),
            instances_done: status.instances_done,
            codedeploy,
            outcome: status.outcome.clone(),
            reason: status.reason.clone(),
        }
    }

    /// One plain line: `HH:MM:SSZ  <step>  <what it waits for>; since …, deadline …; green r/e; CodeDeploy …`.
    #[must_use]
    pub fn line(&self, now: Timestamp) -> String {
        let mut s = format!("{}  {:<28} {}", clock(now), self.phase, self.waiting_for);
        if let Some(deadline) = self.deadline {
            let _ = write!(s, "; since {}, deadline {}", clock(self.since), clock(deadline));
        }
        if self.green_expected > 0 {
            let _ = write!(s, "; green {}/{}", self.green_ready, self.green_expected);
        }
        if let Some(c) = self.codedeploy.filter(|c| c.pending + c.in_progress + c.succeeded + c.failed + c.ready > 0) {
            let total = c.pending + c.in_progress + c.succeeded + c.failed + c.ready;
            let _ = write!(
                s,
                "; CodeDeploy instances: {} succeeded, {} ready, {} in progress, {} pending, {} failed of {total}",
                c.succeeded, c.ready, c.in_progress, c.pending, c.failed
            );
        }
        s
    }
}

/// `HH:MM:SSZ` (UTC) of a timestamp.
fn clock(t: Timestamp) -> String {
    let secs = t.0 / 1_000 % 86_400;
    format!("{:02}:{:02}:{:02}Z", secs / 3_600, secs / 60 % 60, secs % 60)
}

/// Follows rollout `id` every `interval` until it ends; see the module documentation.
pub async fn run(args: &AwsArgs, id: &str, interval: Duration, output: Output) -> anyhow::Result<ExitCode> {
    let id = RolloutId::parse(id).map_err(|e| anyhow::anyhow!("{e}"))?;
    let c = connect_table(args).await?;
    let codedeploy = CodeDeploySdk::from_config(&c.sdk);
    let tty = output == Output::Text && std::io::stdout().is_terminal();
    let columns = std::env::var("COLUMNS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_COLUMNS);
    let started = Instant::now();
    let mut last: Option<Progress> = None;
    let mut stdout = std::io::stdout();
    let status = loop {
        let reading = || format!("reading rollout `{id}` from table `{}`", c.store.table());
        let Some(status) = c.store.load_status(&id).await.with_context(reading)? else {
            if started.elapsed() > APPEAR_WAIT {
                bail!(
                    "no rollout `{id}` after {} s; check the id and the prefix (`greenfleet list` shows the active and recent ones)",
                    APPEAR_WAIT.as_secs()
                );
            }
            tokio::time::sleep(interval).await;
            continue;
        };
        // CodeDeploy's overview is a nicety: when it cannot be read, the saga's own facts still show.
        let overview = match (&status.deployment_id, status.awaiting_deployment) {
            (Some(d), true) => codedeploy.get(d).await.ok().map(|v| v.overview),
            _ => None,
        };
        let progress = Progress::of(&status, overview);
        let now = SystemClock.now();
        if tty {
            let line: String = progress.line(now).chars().take(columns.saturating_sub(1)).collect();
            write!(stdout, "\r\x1b[2K{line}")?;
            stdout.flush()?;
        } else if last.as_ref() != Some(&progress) {
            match output {
                Output::Json => println!("{}", serde_json::to_string(&progress)?),
                Output::Text => println!("{}", progress.line(now)),
            }
        }
        last = Some(progress);
        if status.done {
            break status;
        }
        tokio::time::sleep(interval).await;
    };
    if tty {
        writeln!(stdout)?;
    }
    match output {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "rolloutId": status.rollout_id, "outcome": status.outcome,
                "reason": status.reason, "history": status.history,
            })
        ),
        Output::Text => print!("\n{}", demo::timeline_of(&status)),
    }
    let succeeded = status.succeeded();
    Ok(if succeeded { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NOT_SUCCEEDED) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_the_step_what_it_waits_for_since_when_and_the_progress() {
        let p = Progress {
            rollout_id: "shop-6.0".into(),
            phase: "AwaitDeployment".into(),
            waiting_for: "CodeDeploy deployment d-1 (InProgress), 1/2 instances done".into(),
            since: Timestamp(3_600_000 + 61_000),
            deadline: Some(Timestamp(3_600_000 + 3_661_000)),
            green_ready: 2,
            green_expected: 2,
            deployment_id: Some("d-1".into()),
            deployment_status: Some("InProgress".into()),
            instances_done: 1,
            codedeploy: Some(InstanceCounts { pending: 0, in_progress: 1, succeeded: 1, failed: 0, ready: 0 }),
            outcome: None,
            reason: None,
        };
        assert_eq!(
            p.line(Timestamp(3_600_000 + 62_500)),
            "01:01:02Z  AwaitDeployment              CodeDeploy deployment d-1 (InProgress), 1/2 instances done; \
             since 01:01:01Z, deadline 02:01:01Z; green 2/2; CodeDeploy instances: 1 succeeded, 0 ready, \
             1 in progress, 0 pending, 0 failed of 2"
        );
        let done = Progress { phase: "Done(Succeeded)".into(), deadline: None, codedeploy: None, ..p };
        assert!(!done.line(Timestamp(0)).contains("deadline"));
    }
}
