//! `greenfleet bench`: how fast the engine decides, on one core. Two figures: the pure state machine
//! (`handle`) and the whole embedded engine (worker, in-memory store and queues, simulated cloud).

use std::time::Instant;

use greenfleet_core::effect::{CallResult, Effect, Input, WakeKind};
use greenfleet_core::saga::{Phase, Saga};

use crate::embedded::Embedded;
use crate::scenarios;

/// Figures from one run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Transitions through `handle` alone.
    pub machine_transitions: u64,
    /// Seconds they took.
    pub machine_secs: f64,
    /// Rollouts run end to end on the embedded engine.
    pub rollouts: u64,
    /// Persisted transitions those rollouts made.
    pub engine_transitions: u64,
    /// Seconds they took.
    pub engine_secs: f64,
}

impl BenchReport {
    /// Transitions per second of `handle`.
    #[must_use]
    pub fn machine_rate(&self) -> f64 {
        rate(self.machine_transitions, self.machine_secs)
    }

    /// Transitions per second of the embedded engine.
    #[must_use]
    pub fn engine_rate(&self) -> f64 {
        rate(self.engine_transitions, self.engine_secs)
    }
}

#[allow(clippy::cast_precision_loss)]
fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// Runs `rounds` of the demo's rollouts end to end, and `machine_transitions` decisions of a saga
/// waiting on CodeDeploy (reconcile poll, then the poll's result).
pub async fn run(rounds: u32, machine_transitions: u64) -> BenchReport {
    let started = Instant::now();
    let mut rollouts = 0;
    let mut transitions = 0;
    let mut waiting: Option<Saga> = None;
    for round in 0..rounds {
        let env = Embedded::new(crate::demo::DEMO_START);
        for mut s in scenarios::demo() {
            s.name = Box::leak(format!("{}-{round}", s.name).into_boxed_str());
            s.install(&env.cloud);
            env.submit(&s.request().to_string()).await;
            rollouts += 1;
        }
        env.run_until_idle(crate::demo::DEMO_LIMIT_MS, |e| {
            if waiting.is_none() {
                waiting = e.store.all().into_iter().find(|s| s.phase == Phase::AwaitDeployment);
            }
        })
        .await;
        transitions += env.store.writes();
    }
    let engine_secs = started.elapsed().as_secs_f64();
    let (machine_transitions, machine_secs) = match waiting {
        Some(saga) => machine(saga, machine_transitions),
        None => (0, 0.0),
    };
    BenchReport { machine_transitions, machine_secs, rollouts, engine_transitions: transitions, engine_secs }
}

/// Drives a saga in AwaitDeployment through poll → GetDeployment result pairs, `n` transitions.
fn machine(mut saga: Saga, n: u64) -> (u64, f64) {
    let view = greenfleet_core::cloud::DeploymentView {
        id: saga.facts.deployment_id.clone().unwrap_or_else(|| unreachable!("AwaitDeployment has a deployment")),
        status: greenfleet_core::cloud::DeploymentStatus::InProgress,
        error: None,
        overview: greenfleet_core::cloud::InstanceCounts::default(),
        rollback: None,
    };
    let mut now = saga.updated_at;
    let mut done = 0;
    let started = Instant::now();
    while done < n {
        now = now.plus_ms(30_000);
        let wake = Input::Wake { fence: saga.fence, kind: WakeKind::Poll, seq: saga.next_wake.unwrap_or(0) };
        let Ok(t) = greenfleet_core::handle(&saga, wake, now) else { break };
        let fence = t.effects.iter().find_map(|e| match e {
            Effect::Call { fence, .. } => Some(*fence),
            _ => None,
        });
        saga = t.next;
        let Some(fence) = fence else { break };
        let result = Input::Completed { fence, result: CallResult::DeploymentRead(Ok(view.clone())) };
        let Ok(t) = greenfleet_core::handle(&saga, result, now) else { break };
        saga = t.next;
        done += 2;
    }
    (done, started.elapsed().as_secs_f64())
}

/// What one rollout asks of the outside world, counted on the embedded engine's adapters.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    /// Saga writes (conditional PutItem).
    pub store_writes: u64,
    /// Saga reads (GetItem).
    pub store_reads: u64,
    /// Messages sent to the steps queue (SendMessage).
    pub step_messages: u64,
    /// CodeDeploy events delivered to the events queue (by EventBridge), each routed with one index query.
    pub events: u64,
    /// Lifecycle events published (PutEvents).
    pub published: u64,
    /// Spot API calls, per operation.
    pub spot: std::collections::BTreeMap<String, u64>,
    /// CodeDeploy API calls, per operation.
    pub codedeploy: std::collections::BTreeMap<String, u64>,
}

/// Runs the demo's first rollout (it succeeds) alone and counts its requests.
pub async fn budget() -> Budget {
    let env = Embedded::new(crate::demo::DEMO_START);
    let s = &scenarios::demo()[0];
    s.install(&env.cloud);
    env.submit(&s.request().to_string()).await;
    env.run_until_idle(crate::demo::DEMO_LIMIT_MS, |_| {}).await;
    let codedeploy_ops = ["deployment_group", "create", "find", "get", "continue_deployment", "stop"];
    let (mut spot, mut codedeploy) = (std::collections::BTreeMap::new(), std::collections::BTreeMap::new());
    for (op, n) in env.cloud.api_calls() {
        if codedeploy_ops.contains(&op.as_str()) {
            codedeploy.insert(op, n)
        } else {
            spot.insert(op, n)
        };
    }
    Budget {
        store_writes: env.store.writes(),
        store_reads: env.store.loads(),
        step_messages: env.steps.sends(),
        events: env.events.sends(),
        published: u64::try_from(env.bus.events().len()).unwrap_or(u64::MAX),
        spot,
        codedeploy,
    }
}
