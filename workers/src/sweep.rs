//! `greenfleet sweep` and the worker's periodic sweep: finds what rollouts left behind in their
//! Elastigroups — instances tagged by a rollout that did not succeed (or that the table does not know)
//! and capacity that drifted from the last finished rollout's snapshot — and repairs it, holding the
//! group's lease so it never races a rollout.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use greenfleet_core::ids::{ElastigroupId, RolloutId};
use greenfleet_core::ports::{Clock, LeaseKey, LeaseOutcome, SagaStore};
use greenfleet_core::sweep::{Known, Repair, plan};

use crate::executor::Executor;
use crate::worker::Deps;

/// The lease holder name the sweeper uses.
pub const SWEEPER: &str = "greenfleet-sweep";
/// How long the sweeper holds a group's lease at most.
const LEASE_MS: u64 = 5 * 60_000;
/// How many of the latest finished rollouts a periodic sweep looks at.
const PERIODIC_RECENT: usize = 50;

/// What a sweep found and did.
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    /// Groups looked at.
    pub groups: usize,
    /// Repairs found (applied unless a dry run).
    pub repairs: Vec<Repair>,
    /// Repairs applied.
    pub applied: usize,
    /// Groups skipped because a rollout holds their lease (they belong to it; not a failure).
    pub skipped: Vec<String>,
    /// Groups that could not be read and repairs that failed.
    pub problems: Vec<String>,
}

/// Sweeps the Elastigroups of the active rollouts and the `recent` latest finished ones.
pub async fn sweep(
    store: &dyn SagaStore,
    executor: &Executor,
    clock: &dyn Clock,
    recent: usize,
    dry_run: bool,
) -> Result<SweepReport, greenfleet_core::ports::StoreError> {
    let mut known: BTreeMap<String, Known> = BTreeMap::new();
    let mut by_group: BTreeMap<ElastigroupId, Vec<String>> = BTreeMap::new();
    for s in store.list_active().await? {
        known.insert(s.id.to_string(), Known::Active);
        by_group.entry(s.elastigroup_id.clone()).or_default().push(s.id.to_string());
    }
    for s in store.list_recent(recent).await? {
        if let Some(saga) = store.load(&s.id).await? {
            known.insert(s.id.to_string(), Known::of(&saga));
            by_group.entry(s.elastigroup_id.clone()).or_default().push(s.id.to_string());
        }
    }
    let mut report = SweepReport { groups: by_group.len(), ..SweepReport::default() };
    for (group, on_group) in by_group {
        let spot = &executor.elastigroups;
        let listed = crate::executor::group_instances(spot.as_ref(), executor.instances.as_ref(), &group).await;
        let (view, instances) = match (spot.group(&group).await, listed) {
            (Ok(v), Ok(i)) => (v, i),
            (Err(e), _) | (_, Err(e)) => {
                report.problems.push(format!("{group}: could not read the group: {e}"));
                continue;
            }
        };
        // Tags of rollouts the listing did not include: ask the table about each once.
        let tagged: BTreeSet<String> = instances
            .iter()
            .flat_map(|i| i.tags.iter())
            .filter(|t| t.key == greenfleet_core::request::ROLLOUT_TAG_KEY)
            .map(|t| t.value.clone())
            .collect();
        let unknown: Vec<String> = tagged.into_iter().filter(|id| !known.contains_key(id)).collect();
        for id in unknown {
            if let Ok(rid) = RolloutId::parse(&id)
                && let Some(saga) = store.load(&rid).await?
            {
                known.insert(id, Known::of(&saga));
            }
        }
        let repairs = plan(&view, &instances, &known, &on_group);
        if repairs.is_empty() {
            continue;
        }
        report.repairs.extend(repairs.iter().cloned());
        if !dry_run {
            repair(executor, clock, &group, &repairs, &mut report).await;
        }
    }
    Ok(report)
}

/// The worker's periodic sweep: every `every` (the first one after `every`), until `stop` resolves.
/// A sweep under way when it does finishes first, so it never leaves a group's lease held. Every
/// worker runs one; the group leases keep them from colliding.
pub async fn periodic(deps: &Deps, every: Duration, stop: impl Future<Output = ()>) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        match sweep(&*deps.store, &deps.executor, &*deps.clock, PERIODIC_RECENT, false).await {
            Ok(r) if r.repairs.is_empty() && r.problems.is_empty() => {}
            Ok(r) => tracing::warn!(report = %describe(&r, false), "sweep repaired what rollouts left behind"),
            Err(e) => tracing::warn!(error = %e, "sweep could not read the table"),
        }
    }
}

async fn repair(
    executor: &Executor,
    clock: &dyn Clock,
    group: &ElastigroupId,
    repairs: &[Repair],
    report: &mut SweepReport,
) {
    let holder = RolloutId::parse(SWEEPER).unwrap_or_else(|_| unreachable!("a valid id"));
    let key = [LeaseKey::group(group)];
    let now = clock.now();
    match executor.leases.acquire(&key, &holder, now.plus_ms(LEASE_MS), now).await {
        Ok(LeaseOutcome::Acquired) => {}
        Ok(LeaseOutcome::Busy { holder, .. }) => {
            report.skipped.push(format!("{group}: rollout {holder} holds its lease"));
            return;
        }
        Err(e) => {
            report.problems.push(format!("{group}: could not take its lease: {e}"));
            return;
        }
    }
    for r in repairs {
        let result = match r {
            Repair::RemoveOrphans { instances, .. } => {
                let ids: Vec<_> = instances.iter().map(|(i, _)| i.clone()).collect();
                executor.elastigroups.detach(group, &ids).await
            }
            Repair::RestoreCapacity { snapshot, .. } => executor.elastigroups.set_capacity(group, *snapshot).await,
        };
        match result {
            Ok(()) => {
                report.applied += 1;
                tracing::info!(%group, repair = %r, "sweeper repaired");
            }
            Err(e) => report.problems.push(format!("{r}: {e}")),
        }
    }
    let _ = executor.leases.release(&key, &holder).await;
}

/// Prints a report for people.
#[must_use]
pub fn describe(report: &SweepReport, dry_run: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let verb = if dry_run { "would repair" } else { "repaired" };
    let _ = writeln!(s, "swept {} Elastigroups; {} repairs found", report.groups, report.repairs.len());
    for r in &report.repairs {
        let _ = writeln!(s, "  {verb}: {r}");
    }
    for k in &report.skipped {
        let _ = writeln!(s, "  skipped: {k}");
    }
    for p in &report.problems {
        let _ = writeln!(s, "  problem: {p}");
    }
    s
}
