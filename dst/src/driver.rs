//! The driver: runs one seed's rollouts through two real workers on the embedded engine's store,
//! queues and simulated cloud, on the virtual clock. Every round it delivers the cloud's events
//! (lost, duplicated, delayed, reordered), then every visible message, each one handled normally,
//! twice, by two racing workers, by a worker that dies part-way, under a failing write, with its ack
//! lost, or put back for later. Between deliveries it fires the plan's triggers (submissions, API
//! fault bursts, cancels, approvals, outside capacity changes) and checks the invariants that must
//! hold at every instant. Only the seed decides; nothing depends on wall time or thread scheduling.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use greenfleet_core::ids::{RolloutId, Timestamp};
use greenfleet_core::message::{StepBody, StepMessage};
use greenfleet_core::ports::{Clock, Delivery, MessageQueue, SagaStore};
use greenfleet_core::saga::Saga;

use super::faults::{Blow, Ctx, join2, lock};
use super::invariants::{self, Seen};
use super::scheduler::{BurstKind, CapacityChange, Plan, Rng, stage_of};
use super::world::{Slot, install, slot};
use greenfleet_workers::embedded::Embedded;
use greenfleet_workers::worker::{Disposition, Source};

/// Virtual time after which a seed stops, done or not.
pub(crate) const LIMIT_MS: u64 = 48 * 3_600_000;
/// Busy rounds at one virtual instant before the seed is declared livelocked.
const LIVELOCK: u32 = 2_000;
/// Deliveries in one seed before it is declared a runaway (messages multiplying).
const RUNAWAY: u64 = 50_000;
/// The virtual start of every seed.
pub(crate) const START: Timestamp = Timestamp(1_767_258_000_000);
/// Receives of one message during which the driver may still be hostile to it (SQS dead-letters at 5).
const HOSTILE_RECEIVES: u32 = 2;

/// One seed in flight.
pub(crate) struct Driver {
    pub(crate) plan: Plan,
    pub(crate) env: Embedded,
    pub(crate) ctx: Arc<Ctx>,
    slots: [Slot; 2],
    pub(crate) seen: Seen,
    pub(crate) deliveries: u64,
    submitted: Vec<bool>,
    bursts: Vec<bool>,
    cancelled: Vec<bool>,
    approved: Vec<bool>,
    changed: Vec<bool>,
    /// Rollouts that were sent a conflicting request under their requestId.
    pub(crate) conflicted: std::collections::BTreeSet<String>,
}

impl Driver {
    /// Sets up the seed's cloud and two workers sharing one store, lease table and queues.
    pub(crate) fn new(plan: Plan, rng: Rng, tracing: bool) -> Self {
        let env = Embedded::new(START);
        let ctx = Arc::new(Ctx::new(rng, tracing, env.clock.clone(), START));
        install(&plan, &env.cloud);
        let slots = [slot(&env, &ctx, "A"), slot(&env, &ctx, "B")];
        let n = plan.rollouts.len();
        Self {
            submitted: vec![false; n],
            bursts: vec![false; plan.bursts.len()],
            cancelled: vec![false; n],
            approved: vec![false; n],
            changed: vec![false; plan.groups.len()],
            plan,
            env,
            ctx,
            slots,
            seen: Seen::default(),
            deliveries: 0,
            conflicted: std::collections::BTreeSet::new(),
        }
    }

    fn rng<R>(&self, f: impl FnOnce(&mut Rng) -> R) -> R {
        f(&mut lock(&self.ctx.rng))
    }

    pub(crate) fn elapsed(&self) -> u64 {
        self.env.clock.now().since(START)
    }

    /// Runs rounds until nothing is due, or [`LIMIT_MS`] of virtual time passed.
    pub(crate) async fn run(&mut self) {
        let mut same_instant = 0u32;
        loop {
            self.fire_timed().await;
            self.observe().await;
            let handled = self.round().await;
            if self.deliveries > RUNAWAY {
                self.seen.fail(format!("runaway: more than {RUNAWAY} deliveries (messages multiply)"));
                break;
            }
            if handled > 0 {
                same_instant += 1;
                if same_instant > LIVELOCK {
                    self.seen.fail(format!("livelock: {LIVELOCK} rounds at one virtual instant"));
                    break;
                }
                continue;
            }
            same_instant = 0;
            let now = self.env.clock.now();
            let next = [self.env.next_due(), self.next_planned()].into_iter().flatten().min();
            match next {
                None => break,
                // Whatever has not finished by now never will: the final checks say which.
                Some(t) if t.since(START) > LIMIT_MS => break,
                Some(t) => self.env.clock.set(if t > now { t } else { now.plus_ms(1) }),
            }
        }
        self.observe().await;
    }

    fn next_planned(&self) -> Option<Timestamp> {
        let subs = self.plan.rollouts.iter().zip(&self.submitted).filter(|(_, s)| !**s).map(|(r, _)| r.submit_at_ms);
        let bursts = self.plan.bursts.iter().zip(&self.bursts).filter(|(_, f)| !**f).map(|(b, _)| b.at_ms);
        subs.chain(bursts).min().map(|ms| START.plus_ms(ms))
    }

    /// Submissions and API fault bursts whose time came.
    async fn fire_timed(&mut self) {
        let elapsed = self.elapsed();
        for i in 0..self.plan.rollouts.len() {
            let Some(r) = self.plan.rollouts.get(i) else { continue };
            if !self.submitted[i] && r.submit_at_ms <= elapsed {
                self.submitted[i] = true;
                let body = r.request.to_string();
                self.ctx.trace(|| format!("submit {}", r.id));
                self.env.submit(&body).await;
                if self.ctx.chance(self.plan.hostility.conflicting_request)
                    && let Some(other) = conflicting(&r.request)
                {
                    self.ctx.count("conflicting requests");
                    self.conflicted.insert(r.id.clone());
                    let delay = self.rng(|rng| rng.range(0, 30_000));
                    self.ctx.trace(|| format!("submit a conflicting request under {} (in {delay} ms)", r.id));
                    let _ = self.env.intake.send(&other.to_string(), delay).await;
                }
            }
        }
        for (i, b) in self.plan.bursts.iter().enumerate() {
            if !self.bursts[i] && b.at_ms <= elapsed {
                self.bursts[i] = true;
                self.ctx.count("api fault bursts");
                self.ctx.trace(|| format!("FAULT next {} `{}` calls fail: {:?}", b.times, b.op, b.kind));
                self.env.cloud.faults(|f| match &b.kind {
                    BurstKind::Error(e) => f.fail_next(b.op, e.clone(), b.times),
                    BurstKind::LostResponse => f.lose_response(b.op, b.times),
                });
            }
        }
    }

    /// Looks at every saga: phase changes (traced), invariants of the instant, triggers, outcomes.
    async fn observe(&mut self) {
        let sagas = self.env.store.all();
        self.seen.checks += 1;
        for problem in invariants::exclusive(&sagas, &self.env.leases) {
            self.seen.fail(format!("at {}: {problem}", super::report::clock(self.elapsed())));
        }
        for saga in &sagas {
            let name = saga.phase.name();
            if self.seen.phase.get(saga.id.as_str()) != Some(&name) {
                self.ctx.trace(|| format!("  {} → {} ({})", saga.id, name, saga.waiting_for()));
                self.seen.phase.insert(saga.id.to_string(), name.clone());
            }
            if let Some(outcome) = invariants::settled(saga)
                && self.seen.ended.insert(saga.id.to_string())
            {
                let scaled_in = self.seen.scaled_in.contains(saga.id.as_str());
                let left = lock(&self.ctx.released).get(&saga.id).cloned();
                let state = left.or_else(|| self.env.cloud.group_state(&saga.request.elastigroup_id));
                for p in invariants::at_end(saga, outcome, state.as_ref(), scaled_in) {
                    self.seen.fail(format!("{} at its end ({}): {p}", saga.id, saga.phase.name()));
                }
            }
            if saga.phase.is_done() && !self.seen.done.contains_key(saga.id.as_str()) {
                self.seen.done.insert(saga.id.to_string(), saga.version);
            }
            self.triggers(saga).await;
        }
    }

    async fn triggers(&mut self, saga: &Saga) {
        let Some(i) = self.plan.rollouts.iter().position(|r| r.id == saga.id.as_str()) else { return };
        let stage = stage_of(&saga.phase.name());
        let (cancel, approve, manual, group) = {
            let r = &self.plan.rollouts[i];
            (r.cancel, r.approve, r.manual, r.group)
        };
        if saga.phase.is_done() {
            return;
        }
        if let Some((at, delay)) = cancel
            && !self.cancelled[i]
            && stage >= at
        {
            self.cancelled[i] = true;
            self.ctx.count("cancels");
            let body = StepBody::Cancel { by: "dst".into(), reason: format!("cancel at {}", saga.phase.name()) };
            self.command(&saga.id, "cancel", body, delay).await;
        }
        if let Some((early, delay)) = approve
            && manual
            && !self.approved[i]
            && (early || saga.phase == greenfleet_core::saga::Phase::AwaitApproval)
        {
            self.approved[i] = true;
            self.ctx.count("approvals");
            self.command(&saga.id, "approve", StepBody::Approve { by: "dst".into() }, delay).await;
        }
        if let Some((at, change)) = self.plan.groups.get(group).and_then(|g| g.external)
            && !self.changed[group]
            && invariants::acting(saga)
            && (at..=9).contains(&stage)
        {
            self.changed[group] = true;
            self.change_capacity(saga, change);
        }
    }

    async fn command(&self, rollout: &RolloutId, what: &str, body: StepBody, delay_ms: u64) {
        let now = self.env.clock.now();
        let msg = StepMessage { rollout_id: rollout.clone(), id: format!("op:{what}:{rollout}"), due: now, body };
        self.ctx.trace(|| format!("{what} {rollout} (arrives in {delay_ms} ms)"));
        let _ = self.env.steps.send(&msg.encode(), delay_ms).await;
    }

    fn change_capacity(&mut self, saga: &Saga, change: CapacityChange) {
        let group = &saga.request.elastigroup_id;
        let Some(state) = self.env.cloud.group_state(group) else { return };
        let mut c = state.capacity;
        match change {
            CapacityChange::Raise => {
                c.target += 1;
                c.maximum = c.maximum.max(c.target);
            }
            CapacityChange::Lower if c.target > 0 => {
                c.target -= 1;
                c.minimum = c.minimum.min(c.target);
            }
            CapacityChange::Lower => return,
            CapacityChange::RaiseMax => c.maximum += 2,
        }
        self.ctx.count("outside capacity changes");
        let stage = stage_of(&saga.phase.name());
        if change == CapacityChange::Lower && stage >= 3 {
            self.seen.scaled_in.insert(saga.id.to_string());
        }
        if change == CapacityChange::Lower && stage <= 3 {
            self.seen.undercut.insert(saga.id.to_string());
        }
        self.ctx
            .trace(|| format!("OUTSIDE: capacity of {group} {} → {c} during {}", state.capacity, saga.phase.name()));
        if let Err(e) = self.env.cloud.set_capacity_external(group, c) {
            self.seen.fail(format!("the harness set an invalid capacity {c} on {group}: {e}"));
        }
    }

    /// Delivers the cloud's events, then every visible message. Returns how many deliveries.
    async fn round(&mut self) -> usize {
        self.pump_events().await;
        let mut order = [Source::Intake, Source::Events, Source::Steps];
        self.rng(|r| r.shuffle(&mut order));
        let mut handled = 0;
        for source in order {
            let Ok(mut batch) = self.queue(source).receive(10, 0).await else { continue };
            self.rng(|r| r.shuffle(&mut batch));
            let mut i = 0;
            while let Some(d) = batch.get(i).cloned() {
                let next = batch.get(i + 1).cloned();
                i += self.deliver(source, &d, next.as_ref()).await;
                handled += 1;
                self.observe().await;
            }
        }
        handled
    }

    fn queue(&self, source: Source) -> Arc<dyn MessageQueue> {
        match source {
            Source::Intake => self.env.intake.clone(),
            Source::Events => self.env.events.clone(),
            Source::Steps => self.env.steps.clone(),
        }
    }

    async fn pump_events(&mut self) {
        self.env.cloud.tick();
        let h = self.plan.hostility;
        for e in self.env.cloud.drain_events() {
            if self.ctx.chance(h.event_drop) {
                self.ctx.count("events lost");
                self.ctx.trace(|| format!("FAULT event lost: {}", describe(Source::Events, &e)));
                continue;
            }
            let copies = if self.ctx.chance(h.event_duplicate) {
                self.ctx.count("events duplicated");
                2
            } else {
                1
            };
            for _ in 0..copies {
                let delay = self.rng(|r| r.range(0, h.event_jitter_ms));
                let _ = self.env.events.send(&e, delay).await;
            }
            if self.ctx.chance(h.event_lie)
                && let Some(lie) = forged_success(&e)
            {
                self.ctx.count("events that lie");
                self.ctx.trace(|| format!("FAULT forged event: {}", describe(Source::Events, &lie)));
                let delay = self.rng(|r| r.range(0, h.event_jitter_ms));
                let _ = self.env.events.send(&lie, delay).await;
            }
        }
    }

    /// Handles `d` one way or another; returns how many batch entries it consumed (2 when it raced `next`).
    async fn deliver(&mut self, source: Source, d: &Delivery, next: Option<&Delivery>) -> usize {
        let h = self.plan.hostility;
        let hostile = d.receive_count <= HOSTILE_RECEIVES;
        let roll = if hostile { self.rng(|r| r.range(0, 99)) } else { 100 };
        let mut cut = 0;
        let mut band = |p: u32| {
            let hit = roll >= cut && roll < cut + u64::from(p);
            cut += u64::from(p);
            hit
        };
        let (delay, race, dup, crash, write_error) =
            (band(h.delay), band(h.race), band(h.duplicate), band(h.crash), band(h.store_error));
        let queue = self.queue(source);
        if delay {
            let ms = self.rng(|r| r.range(1_000, 20_000));
            self.ctx.count("messages delayed");
            self.ctx.trace(|| format!("FAULT delay {} by {ms} ms", describe(source, &d.body)));
            let _ = queue.release(&d.receipt, ms).await;
            return 1;
        }
        if race {
            return self.race(source, d, next.filter(|n| n.receive_count <= HOSTILE_RECEIVES)).await;
        }
        if crash || write_error {
            let (countdown, after) = self.rng(|r| (r.range32(1, 6), r.chance(50)));
            let blow = if crash { Blow::Crash } else { Blow::WriteError };
            self.slots[0].fuse.arm(countdown, after, blow);
        }
        let mut result = self.run_on(0, source, d).await;
        if dup {
            self.ctx.count("messages handled twice");
            let second = self.run_on(1, source, d).await;
            result = best(result, second);
        }
        self.settle(source, d, result, hostile).await;
        1
    }

    /// Two workers at once: on `d` and the next message, or on `d` twice, interleaved by the seed.
    async fn race(&mut self, source: Source, d: &Delivery, next: Option<&Delivery>) -> usize {
        let other = next.filter(|_| self.ctx.chance(50));
        let second = other.unwrap_or(d);
        self.ctx.count("racing workers");
        if self.ctx.chance(20) {
            let (countdown, after) = self.rng(|r| (r.range32(1, 6), r.chance(50)));
            self.slots[0].fuse.arm(countdown, after, Blow::Crash);
        }
        self.ctx.interleave.store(true, Ordering::Relaxed);
        let (a, b) = join2(self.run_on(0, source, d), self.run_on(1, source, second)).await;
        self.ctx.interleave.store(false, Ordering::Relaxed);
        if other.is_some() {
            self.settle(source, d, a, true).await;
            self.settle(source, second, b, true).await;
            2
        } else {
            self.settle(source, d, best(a, b), true).await;
            1
        }
    }

    /// One worker handles `d`. `None`: it died on the way (its fuse blew as a crash).
    async fn run_on(&self, slot: usize, source: Source, d: &Delivery) -> Option<Disposition> {
        let s = &self.slots[slot];
        let rollout = self.rollout_of(source, &d.body).await;
        *lock(&s.current) = rollout;
        self.ctx.trace(|| format!("deliver [{}] {} (receive {})", s.name, describe(source, &d.body), d.receive_count));
        let disposition = s.worker.process(source, d).await;
        *lock(&s.current) = None;
        match s.fuse.reset() {
            Some(Blow::Crash) => {
                self.ctx.trace(|| format!("  [{}] CRASHED mid-way; message stays invisible until its timeout", s.name));
                None
            }
            blew => {
                if blew.is_some() {
                    self.ctx.count("failed writes");
                    self.ctx.trace(|| format!("  [{}] a write FAILED; worker says {disposition:?}", s.name));
                }
                Some(disposition)
            }
        }
    }

    async fn settle(&mut self, source: Source, d: &Delivery, result: Option<Disposition>, hostile: bool) {
        self.deliveries += 1;
        let Some(disposition) = result else {
            self.ctx.count("messages left by a crashed worker");
            return;
        };
        if hostile && self.ctx.chance(self.plan.hostility.lost_ack) {
            self.ctx.count("acks lost");
            self.ctx.trace(|| format!("  FAULT ack lost ({disposition:?})"));
            return;
        }
        let queue = self.queue(source);
        let _ = match disposition {
            Disposition::Ack => queue.ack(std::slice::from_ref(&d.receipt)).await,
            Disposition::Retry(ms) => {
                self.ctx.count("messages given back");
                queue.release(&d.receipt, ms).await
            }
            Disposition::Poison(_) => queue.release(&d.receipt, 0).await,
            Disposition::DeadLetter(_) => {
                self.ctx.count("messages dead-lettered at once");
                queue.dead_letter(&d.receipt, &d.body).await
            }
        };
    }

    /// The rollout a message is for, so failed calls are counted against it.
    async fn rollout_of(&self, source: Source, body: &str) -> Option<RolloutId> {
        match source {
            Source::Steps => field(body, "rolloutId").and_then(|s| RolloutId::parse(s).ok()),
            Source::Intake => field(body, "requestId").and_then(|s| RolloutId::parse(s).ok()),
            Source::Events => {
                let id = field(body, "deploymentId")?;
                let id = greenfleet_core::ids::DeploymentId::parse(id).ok()?;
                self.env.store.find_by_deployment(&id).await.ok().flatten()
            }
        }
    }

    /// Every rollout's saga now, by id.
    pub(crate) fn sagas(&self) -> BTreeMap<String, Saga> {
        self.env.store.all().into_iter().map(|s| (s.id.to_string(), s)).collect()
    }
}

fn best(a: Option<Disposition>, b: Option<Disposition>) -> Option<Disposition> {
    match (a, b) {
        (Some(Disposition::Ack), _) | (_, Some(Disposition::Ack)) => Some(Disposition::Ack),
        (Some(x), _) => Some(x),
        (None, y) => y,
    }
}

/// A JSON string field's value, found without parsing the body (`"key":"value"`).
fn field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":\"");
    let start = body.find(&pat)? + pat.len();
    let len = body.get(start..)?.find('"')?;
    body.get(start..start + len)
}

/// A short description of a message, for the trace.
fn describe(source: Source, body: &str) -> String {
    match source {
        Source::Intake => format!("intake {}", field(body, "requestId").unwrap_or("?")),
        Source::Steps => match StepMessage::decode(body) {
            Ok(m) => format!("step {} {:?}", m.rollout_id, m.body),
            Err(_) => "step ?".into(),
        },
        Source::Events => format!(
            "event {} {}{}",
            field(body, "deploymentId").unwrap_or("?"),
            field(body, "state").unwrap_or("?"),
            field(body, "instanceId").map(|i| format!(" ({i})")).unwrap_or_default()
        ),
    }
}

/// The same request with another revision (an S3 key or GitHub commit changed): what a publisher reusing
/// a requestId for a new build would send.
fn conflicting(request: &serde_json::Value) -> Option<serde_json::Value> {
    let mut other = request.clone();
    let revision = other.get_mut("revision")?;
    if let Some(key) = revision.pointer_mut("/s3/key") {
        *key = serde_json::Value::from(format!("{}.rebuilt", key.as_str()?));
    } else if let Some(commit) = revision.pointer_mut("/github/commitId") {
        *commit = serde_json::Value::from("f".repeat(40));
    } else {
        return None;
    }
    Some(other)
}

/// A deployment-level event's envelope with its state turned to SUCCESS (and a new event id), whatever
/// CodeDeploy says of the deployment; `None` for instance events and what cannot be read.
fn forged_success(envelope: &str) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(envelope).ok()?;
    if v.get("detail-type")?.as_str()? != greenfleet_sim::DEPLOYMENT_DETAIL_TYPE {
        return None;
    }
    let id = format!("{}-forged", v.get("id")?.as_str()?);
    v["id"] = serde_json::Value::from(id);
    v["detail"]["state"] = serde_json::Value::from("SUCCESS");
    Some(v.to_string())
}
