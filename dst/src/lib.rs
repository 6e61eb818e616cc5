//! Deterministic simulation testing, in the spirit of FoundationDB's and TigerBeetle's: many rollouts
//! at once through the real saga, worker and executor code, the in-memory store, leases and queues,
//! and the in-process cloud model, under one seeded scheduler and the virtual clock.
//!
//! Each seed draws its own world and faults ([`scheduler`]): messages and CodeDeploy events
//! duplicated, reordered, delayed or lost; a worker dying between any two of persist, effect and ack;
//! two workers racing on one saga's conditional writes; Spot and CodeDeploy throttling, 5xx and lost
//! answers; slow or missing green instances; deployments that fail, stop or hang; cancels at any step;
//! someone changing the group's capacity from outside. The driver runs it; the invariants are checked
//! at every instant and at the end. A failing seed is run again with its trace on, which must find
//! the same failures: the seed number is all it takes to reproduce one.
//!
//! * [`scheduler`] — the seeded random source and the plan a seed draws.
//! * `faults` — crash switches around the worker's ports; `recorder` — Spot and CodeDeploy as a worker
//!   sees them, counted per rollout.
//! * `world` — the plan installed in the simulated cloud, and two workers over decorated ports.
//! * `driver` — delivers messages and fires the plan's triggers.
//! * `invariants` — what must hold.
//! * [`report`] — what a seed and a campaign report.

mod driver;
mod faults;
pub mod invariants;
mod recorder;
pub mod report;
pub mod scheduler;
mod world;

use std::collections::BTreeMap;
use std::time::Instant;

pub use report::{FaultCounts, SeedReport, Trace};
pub use scheduler::{Plan, Rng};

use self::driver::Driver;
use self::faults::lock;

/// Runs one seed; with `trace`, records every step.
pub async fn run_seed(seed: u64, trace: bool) -> SeedReport {
    let mut rng = Rng::new(seed);
    let plan = Plan::draw(seed, &mut rng);
    let mut d = Driver::new(plan, rng, trace);
    d.run().await;
    let mut failures = d.seen.failures.clone();
    failures.extend(invariants::final_checks(&d));
    let sagas = d.sagas();
    let outcomes = d
        .plan
        .rollouts
        .iter()
        .map(|r| {
            let o = sagas.get(&r.id).map_or_else(
                || "missing".to_owned(),
                |s| s.outcome().map_or_else(|| format!("stuck:{}", s.phase.name()), |o| o.kind().to_owned()),
            );
            (r.id.clone(), o)
        })
        .collect();
    let faults = lock(&d.ctx.faults).clone();
    let trace = lock(&d.ctx.trace).lines().to_vec();
    SeedReport {
        seed,
        failures,
        outcomes,
        deliveries: d.deliveries,
        virtual_ms: d.elapsed(),
        faults,
        checks: d.seen.checks,
        trace,
    }
}

/// Runs a seed; if it fails, runs it again traced, and checks the second run failed the same way.
pub async fn check_seed(seed: u64) -> SeedReport {
    let first = run_seed(seed, false).await;
    if first.ok() {
        return first;
    }
    let mut traced = run_seed(seed, true).await;
    if traced.failures != first.failures {
        traced.failures.push(format!(
            "NOT REPRODUCIBLE: the first run broke {:?}, the traced re-run {:?}",
            first.failures, traced.failures
        ));
    }
    traced
}

/// What a campaign of seeds found.
#[derive(Debug, Clone, Default)]
pub struct Campaign {
    /// Seeds run.
    pub seeds: u64,
    /// The seeds that failed, traced.
    pub failed: Vec<SeedReport>,
    /// Wall-clock seconds.
    pub secs: f64,
    /// Faults injected, by kind, over all seeds.
    pub faults: FaultCounts,
    /// Rollouts per outcome, over all seeds.
    pub outcomes: BTreeMap<String, u64>,
    /// Deliveries handled, over all seeds.
    pub deliveries: u64,
    /// Invariant looks taken, over all seeds.
    pub checks: u64,
}

impl Campaign {
    /// Seeds checked per wall-clock second.
    #[must_use]
    pub fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let n = self.seeds as f64;
        if self.secs > 0.0 { n / self.secs } else { 0.0 }
    }

    /// `N seeds, F failed, X seeds/s`.
    #[must_use]
    pub fn final_line(&self) -> String {
        format!("{} seeds, {} failed, {:.0} seeds/s", self.seeds, self.failed.len(), self.rate())
    }

    /// Folds in another campaign's counts (seeds run on another thread); wall-clock time is the
    /// longer of the two, since they ran side by side.
    pub fn merge(&mut self, other: Campaign) {
        self.seeds += other.seeds;
        self.failed.extend(other.failed);
        self.secs = self.secs.max(other.secs);
        self.faults.merge(&other.faults);
        self.deliveries += other.deliveries;
        self.checks += other.checks;
        for (k, n) in other.outcomes {
            *self.outcomes.entry(k).or_default() += n;
        }
    }

    fn add(&mut self, r: &SeedReport) {
        self.seeds += 1;
        self.faults.merge(&r.faults);
        self.deliveries += r.deliveries;
        self.checks += r.checks;
        for (_, o) in &r.outcomes {
            let key = o.split(':').next().unwrap_or(o).to_owned();
            *self.outcomes.entry(key).or_default() += 1;
        }
    }
}

/// Runs seeds `from..from + count`. `out` receives progress about every 5 s, each failure (seed,
/// broken invariants, trace) as found, and with `verbose` a line per seed (and the trace, when only one
/// seed runs).
pub async fn campaign(from: u64, count: u64, verbose: bool, mut out: impl FnMut(&str)) -> Campaign {
    let started = Instant::now();
    let mut c = Campaign::default();
    let mut last_progress = Instant::now();
    for seed in from..from.saturating_add(count) {
        let report = if verbose && count == 1 { run_seed(seed, true).await } else { check_seed(seed).await };
        c.add(&report);
        if verbose {
            out(&report.summary());
            if count == 1 && report.ok() {
                for line in &report.trace {
                    out(&format!("    {line}"));
                }
            }
        }
        if !report.ok() {
            let report = if verbose && count == 1 { check_seed(seed).await } else { report };
            out(&report.details());
            c.failed.push(report);
        }
        if last_progress.elapsed().as_secs() >= 5 {
            last_progress = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            c.secs = secs;
            out(&format!("… {}/{count} seeds, {} failed, {:.0} seeds/s", c.seeds, c.failed.len(), c.rate()));
        }
    }
    c.secs = started.elapsed().as_secs_f64();
    c
}
