//! `greenfleet demo`: several rollouts at once on the embedded engine, with live progress, a
//! timeline per rollout, and a check of what each left behind in the (simulated) cloud.

use std::collections::HashMap;
use std::fmt::Write as _;

use greenfleet_core::ids::{RolloutId, Timestamp};
use greenfleet_core::request::ROLLOUT_TAG_KEY;
use greenfleet_core::saga::Saga;
use greenfleet_sim::Cloud;

use crate::embedded::Embedded;
use crate::scenarios::Scenario;

/// The virtual start time of the demo: 2026-01-01T09:00:00Z.
pub const DEMO_START: Timestamp = Timestamp(1_767_258_000_000);
/// Virtual time after which the demo stops waiting.
pub const DEMO_LIMIT_MS: u64 = 6 * 3_600_000;

/// What one scenario came to.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The scenario's name.
    pub name: String,
    /// Outcome reached (or the phase it is stuck in).
    pub outcome: String,
    /// What was expected.
    pub expected: String,
    /// What the cloud check found wrong.
    pub problems: Vec<String>,
}

impl Verdict {
    /// Whether the scenario came out as expected.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.outcome == self.expected && self.problems.is_empty()
    }
}

/// `+mm:ss.mmm` from the start.
#[must_use]
pub fn offset(start: Timestamp, at: Timestamp) -> String {
    let ms = at.since(start);
    format!("+{:02}:{:02}.{:03}", ms / 60_000, (ms / 1_000) % 60, ms % 1_000)
}

/// Runs `scenarios` together; `out` receives progress lines as they happen.
pub async fn run(scenarios: &[Scenario], mut out: impl FnMut(&str)) -> (Embedded, Vec<Verdict>) {
    let env = Embedded::new(DEMO_START);
    for s in scenarios {
        s.install(&env.cloud);
    }
    for s in scenarios {
        out(&format!("publish  {:<14} {}", s.name, s.about));
        env.submit(&s.request().to_string()).await;
    }
    out("");
    let mut printed: HashMap<RolloutId, usize> = HashMap::new();
    env.run_until_idle(DEMO_LIMIT_MS, |e| {
        for saga in e.store.all() {
            let seen = printed.entry(saga.id.clone()).or_default();
            for h in saga.history.iter().skip(*seen) {
                out(&format!("{}  {:<14} {:<28} {}", offset(DEMO_START, h.at), saga.id, h.step, h.note));
            }
            *seen = saga.history.len();
        }
    })
    .await;
    let verdicts = scenarios.iter().map(|s| verdict(s, &env)).collect();
    (env, verdicts)
}

fn verdict(s: &Scenario, env: &Embedded) -> Verdict {
    let saga = env.store.all().into_iter().find(|x| x.id.as_str() == s.name);
    let outcome = saga.as_ref().map_or_else(
        || "missing".to_owned(),
        |x| match x.outcome() {
            Some(o) => o.kind().to_owned(),
            None => format!("stuck in {}", x.phase.name()),
        },
    );
    let problems =
        saga.as_ref().map_or_else(|| vec!["no saga was stored".to_owned()], |x| check_cloud(s, x, &env.cloud));
    Verdict { name: s.name.to_owned(), outcome, expected: s.expect.to_owned(), problems }
}

/// What the rollout left in the cloud, against what its outcome promises.
#[must_use]
pub fn check_cloud(s: &Scenario, saga: &Saga, cloud: &Cloud) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(state) = cloud.group_state(&s.group.id) else { return vec!["group vanished".into()] };
    if state.capacity != s.group.capacity {
        problems.push(format!("capacity is {}, expected {} as before the rollout", state.capacity, s.group.capacity));
    }
    let ours = |i: &greenfleet_core::cloud::InstanceView| {
        i.tags.iter().any(|t| t.key == ROLLOUT_TAG_KEY && t.value == saga.id.as_str())
    };
    let green = state.instances.iter().filter(|i| ours(i)).count();
    let others = state.instances.len() - green;
    match s.expect {
        "Succeeded" => {
            if others > 0 {
                problems.push(format!("{others} non-green instances still in the group"));
            }
            if u32::try_from(green).ok() != Some(s.group.capacity.target) {
                problems.push(format!("{green} green instances serve, expected {}", s.group.capacity.target));
            }
        }
        _ => {
            if green > 0 {
                problems.push(format!("{green} instances with the rollout's green tag survived"));
            }
            if s.expect == "Rejected" && cloud.green_starts(&s.group.id) > 0 {
                problems.push("a rejected rollout started a Blue/Green deployment".into());
            }
        }
    }
    problems
}

/// The timeline of one rollout, for a person to read at a glance.
#[must_use]
pub fn timeline(saga: &Saga) -> String {
    timeline_of(&greenfleet_core::status::RolloutStatus::of(saga))
}

/// [`timeline`] of a rollout's status projection (what `greenfleet history` reads).
#[must_use]
pub fn timeline_of(status: &greenfleet_core::status::RolloutStatus) -> String {
    let mut s = String::new();
    let end = status.history.last().map_or(status.accepted_at, |h| h.at);
    let outcome = status.outcome.clone().unwrap_or_else(|| status.step.clone());
    let _ = writeln!(
        s,
        "{} — {} after {}",
        status.rollout_id,
        outcome,
        offset(status.accepted_at, end).trim_start_matches('+')
    );
    let mut last_step = String::new();
    for h in &status.history {
        let step = if h.step == last_step { String::new() } else { h.step.clone() };
        last_step.clone_from(&h.step);
        let _ = writeln!(s, "  {}  {:<28} {}", offset(status.accepted_at, h.at), step, h.note);
    }
    for l in &status.left {
        let _ = writeln!(s, "  TODO by hand: {l}");
    }
    s
}
