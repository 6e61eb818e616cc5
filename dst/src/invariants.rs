//! The invariants a seed must keep.
//!
//! At every instant (after each delivery):
//! * never two rollouts active on one Elastigroup or deployment group, and an active rollout holds
//!   both leases.
//!
//! When a rollout ends, against the cloud as it is then:
//! * RolledBack and Rejected leave no instance carrying the rollout's green tag, and capacity equal
//!   to the snapshot taken at Snapshot (when one was taken);
//! * Succeeded leaves only its green instances serving, as many as the snapshot's target, and
//!   capacity equal to the snapshot;
//! * NeedsAttention lists what is left to do.
//!
//! After the seed:
//! * every rollout reached a terminal outcome, within what its deadlines allow, and never changed after;
//! * its outcome is one the seed's faults allow; NeedsAttention only when a fault persisted past
//!   every retry of one step;
//! * at most one Spot Blue/Green start and at most one CreateDeployment per rollout (exactly one each
//!   for Succeeded, none for Rejected);
//! * the lifecycle events published name one outcome, the saga's;
//! * each group ends as its last rollout promised.
//!
//! The checks that need only a saga and what the cloud shows ([`at_end`], [`remote_calls`],
//! [`group_end`]) are public: the end-to-end crash test applies them to the HTTP simulator.

use std::collections::{BTreeMap, BTreeSet};

use greenfleet_core::cloud::{InstanceState, InstanceView};
use greenfleet_core::event::LifecycleKind;
use greenfleet_core::machine::MAX_ATTEMPTS;
use greenfleet_core::memory::MemoryLeases;
use greenfleet_core::ports::{Clock, LeaseKey};
use greenfleet_core::request::ROLLOUT_TAG_KEY;
use greenfleet_core::saga::{Compensation, Outcome, Phase, Saga};
use greenfleet_sim::GroupState;

use super::driver::Driver;
use super::faults::lock;
use super::report::clock;
use super::scheduler::{Plan, RolloutPlan};

/// Most failures kept per seed (the first ones matter; the rest are usually consequences).
const MAX_FAILURES: usize = 40;

/// What the driver saw while running a seed.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Each rollout's phase at the last look.
    pub(crate) phase: BTreeMap<String, String>,
    /// Rollouts seen finished, with their version then.
    pub(crate) done: BTreeMap<String, u64>,
    /// Rollouts seen settled on an outcome (see [`settled`]).
    pub(crate) ended: BTreeSet<String>,
    /// Broken invariants.
    pub(crate) failures: Vec<String>,
    /// Looks taken.
    pub(crate) checks: u64,
    /// Rollouts whose group someone scaled in while green ran: Spot may then have scaled in green
    /// instances and launched plain ones when capacity came back, which no rollout can prevent.
    pub(crate) scaled_in: BTreeSet<String>,
    /// Rollouts whose group someone scaled in around the snapshot, before Spot launched green: Spot
    /// then launches fewer green instances than the snapshot had blue, and the rollout may time out;
    /// scaled to zero, there is nothing left to replace and the rollout is rejected.
    pub(crate) undercut: BTreeSet<String>,
}

impl Seen {
    /// Records a broken invariant (once).
    pub(crate) fn fail(&mut self, what: String) {
        if self.failures.len() < MAX_FAILURES && !self.failures.contains(&what) {
            self.failures.push(what);
        }
    }
}

/// Whether the saga is changing its group: between taking its leases and starting to give them back.
pub(crate) fn acting(saga: &Saga) -> bool {
    match &saga.phase {
        Phase::Preflight | Phase::Lock | Phase::Release | Phase::Done(_) => false,
        Phase::Compensating { remaining, .. } => remaining.iter().any(|c| *c != Compensation::ReleaseLeases),
        _ => true,
    }
}

/// Never two rollouts active on one Elastigroup or deployment group; an active one holds both leases.
pub(crate) fn exclusive(sagas: &[Saga], leases: &MemoryLeases) -> Vec<String> {
    let mut problems = Vec::new();
    let mut on: BTreeMap<LeaseKey, Vec<&Saga>> = BTreeMap::new();
    for s in sagas.iter().filter(|s| acting(s)) {
        for key in [LeaseKey::group(&s.request.elastigroup_id), LeaseKey::deployment_group(&s.deployment_group())] {
            match leases.holder(&key) {
                Some(h) if h == s.id => {}
                other => problems.push(format!(
                    "{} is in {} without holding lease {} (held by {})",
                    s.id,
                    s.phase.name(),
                    key.0,
                    other.map_or_else(|| "nobody".to_owned(), |h| h.to_string())
                )),
            }
            on.entry(key).or_default().push(s);
        }
    }
    for (key, active) in on.iter().filter(|(_, v)| v.len() > 1) {
        let who: Vec<String> = active.iter().map(|s| format!("{} in {}", s.id, s.phase.name())).collect();
        problems.push(format!("two rollouts active at once on {}: {}", key.0, who.join(", ")));
    }
    problems
}

fn ours(saga: &Saga) -> impl Fn(&InstanceView) -> bool + '_ {
    move |i| i.tags.iter().any(|t| t.key == ROLLOUT_TAG_KEY && t.value == saga.id.as_str())
}

/// The outcome a saga has settled on once it only has its leases left to give back (Release,
/// compensation down to ReleaseLeases) or is done; `None` while it may still change its group.
pub(crate) fn settled(saga: &Saga) -> Option<&'static str> {
    match &saga.phase {
        Phase::Release => Some("Succeeded"),
        Phase::Compensating { remaining, left, .. } if !acting(saga) && !remaining.is_empty() => {
            Some(if left.is_empty() { "RolledBack" } else { "NeedsAttention" })
        }
        Phase::Done(o) => Some(o.kind()),
        _ => None,
    }
}

/// What a rollout that has settled on `outcome` (see [`settled`]) left in its group — `state`, as it
/// was when the rollout gave its lease back, before another rollout could change it — against what
/// the outcome promises. With `scaled_in`, green may have been replaced by plain instances (see
/// [`Seen::scaled_in`]).
pub fn at_end(saga: &Saga, outcome: &str, state: Option<&GroupState>, scaled_in: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(state) = state else {
        return vec![format!("Elastigroup {} vanished", saga.request.elastigroup_id)];
    };
    let active: Vec<&InstanceView> = state.instances.iter().filter(|i| i.state != InstanceState::Terminating).collect();
    let green = active.iter().filter(|i| ours(saga)(i)).count();
    let snapshot = saga.facts.snapshot;
    let capacity_back = |problems: &mut Vec<String>| {
        if let Some(snap) = snapshot
            && state.capacity != snap
        {
            problems.push(format!("capacity is {}, not the snapshot {snap}", state.capacity));
        }
    };
    match outcome {
        "Succeeded" => {
            capacity_back(&mut problems);
            let others: Vec<String> =
                active.iter().filter(|i| !ours(saga)(i)).map(|i| format!("{} {:?}", i.id, i.state)).collect();
            if !others.is_empty() && !scaled_in {
                problems.push(format!("Succeeded but non-green instances serve: {}", others.join(", ")));
            }
            if let Some(snap) = snapshot
                && u32::try_from(green).ok() != Some(snap.target)
                && !scaled_in
            {
                problems
                    .push(format!("Succeeded with {green} green instances, the snapshot's target is {}", snap.target));
            }
            if snapshot.is_none() {
                problems.push("Succeeded without a capacity snapshot".into());
            }
        }
        "RolledBack" | "Rejected" => {
            capacity_back(&mut problems);
            if green > 0 {
                problems.push(format!("{outcome} but {green} instances still carry its green tag"));
            }
        }
        _ => {}
    }
    problems
}

/// The outcomes the seed's faults allow a rollout, and why.
struct Allowed {
    kinds: BTreeSet<&'static str>,
    why: Vec<&'static str>,
}

fn allowed(plan: &Plan, seen: &Seen, i: usize) -> Allowed {
    let mut a = Allowed { kinds: BTreeSet::new(), why: Vec::new() };
    let Some(r) = plan.rollouts.get(i) else { return a };
    let Some(g) = plan.groups.get(r.group) else { return a };
    let dg_has = |list: &[usize]| list.iter().filter_map(|x| plan.groups.get(*x)).any(|o| o.dg.name == g.dg.name);
    if r.mistake.is_some() || g.f3_mistake {
        a.kinds.insert("Rejected");
        a.why.push("a setup mistake preflight must reject");
        // A rollout before it on the group may have moved the deployment group's tags to its own green
        // (Finalize): the old blue tag it reuses is then no longer blue's, and it runs like any other.
        let reused_tag_freed = r.mistake == Some(crate::scheduler::Mistake::GreenTagIsBlue) && plan.shares(i);
        if !reused_tag_freed {
            if r.cancel.is_some() {
                a.kinds.insert("RolledBack");
            }
            return a;
        }
        a.why.push("an earlier rollout may have moved the deployment group off the tag it reuses");
    }
    let mut doomed = Vec::new();
    if dg_has(&plan.cloud.fail_deployments) {
        doomed.push("its deployments fail");
    }
    if dg_has(&plan.cloud.hang_deployments) {
        doomed.push("its deployments hang");
    }
    if plan.cloud.green_never_ready {
        doomed.push("green never runs");
    }
    if plan.cloud.all_green_unhealthy && r.health_check {
        doomed.push("green fails its health checks");
    }
    if r.manual && r.approve.is_none() {
        doomed.push("nobody approves");
    }
    if doomed.is_empty() {
        a.kinds.insert("Succeeded");
        a.why.push("no fault stops it");
    } else {
        a.kinds.insert("RolledBack");
        a.why.extend(doomed);
    }
    if r.cancel.is_some() {
        a.kinds.insert("RolledBack");
        a.why.push("cancelled");
    }
    if plan.shares(i) {
        a.kinds.insert("Rejected");
        a.why.push("shares a group with another rollout");
    }
    if !g.owns_dg {
        // A deployment group shared with another Elastigroup selects that group's blue by its tags.
        a.kinds.insert("Rejected");
        a.why.push("its deployment group's tags select another group's blue");
    }
    if g.external.is_some() {
        // An outside scale-out launches instances without the tag the deployment group selects blue
        // by; preflight refuses to deploy past instances CodeDeploy would not count as original.
        a.kinds.insert("Rejected");
        a.why.push("an outside capacity change launched instances the deployment group does not select");
    }
    if seen.undercut.contains(&r.id) {
        a.kinds.extend(["RolledBack", "Rejected"]);
        a.why.push("its group was scaled in before Spot launched green");
    }
    if plan.persistent_faults() {
        a.kinds.extend(["RolledBack", "Rejected", "NeedsAttention"]);
        a.why.push("API faults outlast the retries");
    }
    a
}

/// The longest a rollout may take, by its deadlines: every step's wait plus every compensation's,
/// with room for redelivery after crashes.
fn bound_ms(r: &RolloutPlan) -> u64 {
    let (green, deployment, approval, lock_wait) = r.timeouts;
    let step = 10;
    let minutes = step                                 // Preflight
        + u64::from(lock_wait).max(step)               // Lock
        + 2 * step                                     // Snapshot, StartGreen
        + u64::from(green)                             // AwaitGreen
        + step                                         // CreateDeployment
        + 3 * u64::from(deployment)                    // AwaitDeployment, again after Verify and approval
        + 15                                           // Verify
        + u64::from(approval)                          // AwaitApproval
        + 4 * step                                     // Finalize (3 stages), Release
        + 5 * step                                     // compensation steps
        + 15; // redeliveries after crashes, lost acks and delays
    minutes * 60_000
}

/// The checks made once the seed has run.
pub(crate) fn final_checks(d: &Driver) -> Vec<String> {
    let mut f = Vec::new();
    let sagas = d.sagas();
    let calls = lock(&d.ctx.calls).clone();
    let events = d.env.bus.events();
    for (i, r) in d.plan.rollouts.iter().enumerate() {
        let Some(saga) = sagas.get(&r.id) else {
            f.push(format!("{} was never accepted", r.id));
            continue;
        };
        let Some(outcome) = saga.outcome() else {
            let age = clock(d.env.clock.now().since(saga.created_at));
            f.push(format!(
                "{} never finished: still {} after {age} ({})",
                r.id,
                saga.phase.name(),
                saga.waiting_for()
            ));
            continue;
        };
        let kind = outcome.kind();
        let took = saga.updated_at.since(saga.created_at);
        if took > bound_ms(r) {
            f.push(format!(
                "{} took {} to end, more than its deadlines allow ({})",
                r.id,
                clock(took),
                clock(bound_ms(r))
            ));
        }
        let a = allowed(&d.plan, &d.seen, i);
        if !a.kinds.contains(kind) {
            f.push(format!(
                "{} ended {kind} ({}); allowed: {:?}, because {}",
                r.id,
                outcome.reason().unwrap_or("-"),
                a.kinds,
                a.why.join(", ")
            ));
        }
        let c = calls.get(&saga.id).cloned().unwrap_or_default();
        f.extend(remote_calls(saga, c.starts, c.creates));
        f.extend(conflict_checks(d, saga, &r.id, &events));
        if let Outcome::NeedsAttention { left, .. } = outcome {
            let worst = c.failures.values().copied().max().unwrap_or(0);
            if worst < MAX_ATTEMPTS {
                f.push(format!(
                    "{} ended NeedsAttention ({}) but no step saw {MAX_ATTEMPTS} failed calls (at most {worst})",
                    r.id,
                    outcome.reason().unwrap_or("-")
                ));
            }
            if left.is_empty() {
                f.push(format!("{} ended NeedsAttention with nothing left to do listed", r.id));
            }
        }
        if d.seen.done.get(&r.id).is_some_and(|v| *v != saga.version) {
            f.push(format!("{} changed after it finished", r.id));
        }
        let terminal: BTreeSet<&str> = events
            .iter()
            .filter(|e| e.rollout_id.as_ref() == Some(&saga.id))
            .filter(|e| {
                !matches!(e.kind, LifecycleKind::Accepted | LifecycleKind::Started | LifecycleKind::RequestConflicted)
            })
            .map(|e| e.kind.detail_type())
            .collect();
        let expected = outcome.event();
        if terminal != BTreeSet::from([expected.detail_type()]) {
            f.push(format!("{} ended {kind} but published {terminal:?}", r.id));
        }
    }
    f.extend(group_checks(d, &sagas));
    if !d.env.intake.dead_letters().is_empty() {
        f.push(format!("{} rollout requests ended in the dead-letter queue", d.env.intake.dead_letters().len()));
    }
    f
}

/// Each group ends as the last rollout that changed it promised; no rolled-back green survives.
fn group_checks(d: &Driver, sagas: &BTreeMap<String, Saga>) -> Vec<String> {
    let mut f = Vec::new();
    for (gi, g) in d.plan.groups.iter().enumerate() {
        let Some(state) = d.env.cloud.group_state(&g.setup.id) else { continue };
        let on_group: Vec<&Saga> =
            d.plan.rollouts.iter().filter(|r| r.group == gi).filter_map(|r| sagas.get(&r.id)).collect();
        f.extend(group_end(&on_group, &state, |s| d.seen.scaled_in.contains(s.id.as_str())));
    }
    f
}

/// Spot Blue/Green starts and CreateDeployments that took effect for one finished rollout, against
/// what its outcome allows: at most one of each; none for Rejected; exactly one of each for Succeeded,
/// which must not have acted on a cancel. Shared with the end-to-end crash test, which counts the calls
/// in the HTTP simulator.
#[must_use]
pub fn remote_calls(saga: &Saga, starts: u32, creates: u32) -> Vec<String> {
    let mut f = Vec::new();
    let id = &saga.id;
    if starts > 1 || creates > 1 {
        f.push(format!("{id}: {starts} Spot Blue/Green starts and {creates} CreateDeployments"));
    }
    match saga.outcome() {
        Some(Outcome::Rejected { .. }) if starts + creates > 0 => {
            f.push(format!("{id} was Rejected after starting Blue/Green or a deployment"));
        }
        Some(Outcome::Succeeded) if (starts, creates) != (1, 1) => {
            f.push(format!("{id} Succeeded with {starts} Blue/Green starts and {creates} CreateDeployments"));
        }
        Some(Outcome::Succeeded) if saga.facts.cancelled.is_some() => {
            f.push(format!("{id} Succeeded although its cancel was acted on"));
        }
        _ => {}
    }
    f
}

/// What a group shows once every rollout on it (`on_group`) has finished: no instance carries the
/// green tag of a RolledBack or Rejected one, and the group ends as the last rollout that changed it
/// promised — capacity back to its snapshot, and after a success only its green instances (unless
/// `scaled_in` says someone scaled the group in while that rollout ran). Shared with the end-to-end
/// crash test.
#[must_use]
pub fn group_end(on_group: &[&Saga], state: &GroupState, scaled_in: impl Fn(&Saga) -> bool) -> Vec<String> {
    let mut f = Vec::new();
    for s in on_group {
        let failed = matches!(s.outcome(), Some(Outcome::RolledBack { .. } | Outcome::Rejected { .. }));
        let left = state.instances.iter().filter(|i| ours(s)(i)).count();
        if failed && left > 0 {
            f.push(format!(
                "{} ended {}, yet {left} instances of {} carry its tag",
                s.id,
                s.phase.name(),
                s.request.elastigroup_id
            ));
        }
    }
    let last = on_group.iter().filter(|s| s.facts.snapshot.is_some()).max_by_key(|s| s.facts.started_at);
    let Some(last) = last else { return f };
    let Some(snap) = last.facts.snapshot else { return f };
    let group = &last.request.elastigroup_id;
    match last.outcome() {
        Some(Outcome::Succeeded | Outcome::RolledBack { .. }) if state.capacity != snap => {
            f.push(format!("{group} ends at capacity {}, not {}'s snapshot {snap}", state.capacity, last.id));
        }
        Some(Outcome::Succeeded) if !scaled_in(last) => {
            let stray = state.instances.iter().filter(|i| !ours(last)(i)).count();
            if stray > 0 {
                f.push(format!("{group} ends with {stray} instances that are not {}'s green", last.id));
            }
        }
        _ => {}
    }
    f
}

/// A conflicting request under a rollout's requestId never changes it: the rollout keeps the request
/// it was created from (whichever copy arrived first), and the other one is refused with its own event.
fn conflict_checks(
    d: &Driver,
    saga: &Saga,
    id: &str,
    events: &[greenfleet_core::event::LifecycleEvent],
) -> Vec<String> {
    let mut f = Vec::new();
    if saga.fingerprint.as_deref().is_some_and(|fp| fp != greenfleet_core::fingerprint::fingerprint(&saga.request)) {
        f.push(format!("{id}'s request no longer matches the fingerprint it was created with"));
    }
    let refused = events
        .iter()
        .any(|e| e.kind == LifecycleKind::RequestConflicted && e.rollout_id.as_ref().is_some_and(|r| r.as_str() == id));
    if d.conflicted.contains(id) && !refused {
        f.push(format!("{id} was sent a conflicting request, but no Rollout Request Conflicted was published"));
    }
    if !d.conflicted.contains(id) && refused {
        f.push(format!("{id} published Rollout Request Conflicted without a conflicting request"));
    }
    f
}
