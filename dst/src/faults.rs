//! Fault-injecting decorators around the worker's ports, and the shared context they report to.
//!
//! * [`Fuse`] — armed by the driver before a delivery: after the n-th write (saga create/save, step
//!   send, lifecycle publish) the worker "dies" (the write happened or not, then every later write
//!   fails), or the store fails that one write transiently. That is a crash between any two of
//!   persist, effect and ack.
//! * [`FaultyStore`], [`FaultyQueue`], [`FaultyBus`] — the fuse on the store, the step queue and the bus.
//! * [`YieldingLeases`] — the lease table, recording what a rollout leaves when it gives its lease back.
//! * [`YieldNow`] and [`join2`] — when two workers race, every port call may yield, so their reads and
//!   conditional writes interleave in an order the seed decides, on one thread.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use async_trait::async_trait;
use greenfleet_core::event::LifecycleEvent;
use greenfleet_core::ids::{DeploymentId, ElastigroupId, RolloutId, Timestamp};
use greenfleet_core::memory::{ManualClock, MemoryLeases};
use greenfleet_core::ports::{
    Clock, Delivery, EventBus, LeaseKey, LeaseOutcome, Leases, MessageQueue, QueueError, SagaStore, StoreError,
};
use greenfleet_core::saga::{Saga, SagaSummary};
use greenfleet_sim::{Cloud, GroupState};

use super::report::{FaultCounts, Trace};
use super::scheduler::Rng;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the harness learned of one rollout's remote calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct RolloutCalls {
    /// Spot Blue/Green deployments started for it (calls that took effect).
    pub(crate) starts: u32,
    /// CodeDeploy deployments created for it (calls that took effect).
    pub(crate) creates: u32,
    /// Failed calls per saga fence (one fence = one step's attempts).
    pub(crate) failures: BTreeMap<u64, u32>,
}

/// State shared by the driver and every decorator of one seed.
pub(crate) struct Ctx {
    pub(crate) rng: Mutex<Rng>,
    pub(crate) trace: Mutex<Trace>,
    /// Two workers are racing: port calls may yield.
    pub(crate) interleave: AtomicBool,
    /// Each rollout's fence as last written, so a failed call is counted against its step.
    pub(crate) fences: Mutex<BTreeMap<RolloutId, u64>>,
    pub(crate) calls: Mutex<BTreeMap<RolloutId, RolloutCalls>>,
    /// Each rollout's group as it was when the rollout gave its lease back: what it left behind, before
    /// the next rollout may change it.
    pub(crate) released: Mutex<BTreeMap<RolloutId, GroupState>>,
    /// Faults injected so far, by kind.
    pub(crate) faults: Mutex<FaultCounts>,
    clock: Arc<ManualClock>,
    start: Timestamp,
}

impl Ctx {
    pub(crate) fn new(rng: Rng, tracing: bool, clock: Arc<ManualClock>, start: Timestamp) -> Self {
        Self {
            rng: Mutex::new(rng),
            trace: Mutex::new(Trace::new(tracing)),
            interleave: AtomicBool::new(false),
            fences: Mutex::default(),
            calls: Mutex::default(),
            released: Mutex::default(),
            faults: Mutex::default(),
            clock,
            start,
        }
    }

    /// Adds a trace line (built only when tracing).
    pub(crate) fn trace(&self, line: impl FnOnce() -> String) {
        let mut t = lock(&self.trace);
        if t.on() {
            let at = self.clock.now().since(self.start);
            t.push(at, line());
        }
    }

    /// Counts one injected fault of `kind`.
    pub(crate) fn count(&self, kind: &'static str) {
        lock(&self.faults).add(kind);
    }

    /// True with probability `percent`/100, from the seed's source.
    pub(crate) fn chance(&self, percent: u32) -> bool {
        lock(&self.rng).chance(percent)
    }

    /// While two workers race, a port call yields half the time, letting the other worker run.
    pub(crate) async fn maybe_yield(&self) {
        if self.interleave.load(Ordering::Relaxed) && self.chance(50) {
            YieldNow(false).await;
        }
    }

    fn wrote(&self, saga: &Saga) {
        lock(&self.fences).insert(saga.id.clone(), saga.fence);
    }
}

/// Returns `Pending` once, asking to be polled again: lets a concurrently joined future run.
pub(crate) struct YieldNow(pub(crate) bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Runs two futures on the current task, polling `a` then `b` each round: their interleaving depends
/// only on where they yield.
pub(crate) async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(move |cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        match (ra.take(), rb.take()) {
            (Some(x), Some(y)) => Poll::Ready((x, y)),
            (x, y) => {
                (ra, rb) = (x, y);
                Poll::Pending
            }
        }
    })
    .await
}

/// How an armed fuse blows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blow {
    /// The worker process dies: this write and every later one fail; nobody acks or releases.
    Crash,
    /// One write fails (store or queue unavailable); the worker gives the message back.
    WriteError,
}

#[derive(Debug, Default)]
struct FuseState {
    armed: Option<(u32, bool, Blow)>,
    fired: Option<Blow>,
}

/// One worker's crash switch, counted in writes.
#[derive(Debug, Default)]
pub(crate) struct Fuse(Mutex<FuseState>);

impl Fuse {
    /// Blows at the `countdown`-th write from now; `after`: the write happens first.
    pub(crate) fn arm(&self, countdown: u32, after: bool, blow: Blow) {
        *lock(&self.0) = FuseState { armed: Some((countdown.max(1), after, blow)), fired: None };
    }

    /// Disarms; returns how it blew, if it did.
    pub(crate) fn reset(&self) -> Option<Blow> {
        std::mem::take(&mut *lock(&self.0)).fired
    }

    /// One write: `None` to go ahead, `Some(after)` to fail it (after doing it when `after`). A crash
    /// is counted under `crash_at` (where it hit), or under `crash_at_after` when the write happened.
    fn tick(&self, ctx: &Ctx, crash_at: &'static str, crash_at_after: &'static str) -> Option<bool> {
        let mut s = lock(&self.0);
        if s.fired == Some(Blow::Crash) {
            return Some(false);
        }
        let (n, after, blow) = s.armed?;
        if n > 1 {
            s.armed = Some((n - 1, after, blow));
            return None;
        }
        s.armed = None;
        s.fired = Some(blow);
        drop(s);
        if blow == Blow::Crash {
            ctx.count(if after { crash_at_after } else { crash_at });
        }
        Some(after)
    }
}

fn died(what: &str) -> String {
    format!("injected: the worker died at {what}")
}

/// The saga store behind a fuse.
pub(crate) struct FaultyStore {
    pub(crate) inner: Arc<dyn SagaStore>,
    pub(crate) fuse: Arc<Fuse>,
    pub(crate) ctx: Arc<Ctx>,
}

#[async_trait]
impl SagaStore for FaultyStore {
    async fn create(&self, saga: &Saga) -> Result<(), StoreError> {
        self.ctx.maybe_yield().await;
        if let Some(after) = self.fuse.tick(&self.ctx, "crashes before persisting", "crashes after persisting") {
            if after {
                self.inner.create(saga).await?;
                self.ctx.wrote(saga);
            }
            return Err(StoreError::Unavailable(died(if after { "after create" } else { "before create" })));
        }
        self.inner.create(saga).await?;
        self.ctx.wrote(saga);
        Ok(())
    }

    async fn load(&self, id: &RolloutId) -> Result<Option<Saga>, StoreError> {
        self.ctx.maybe_yield().await;
        self.inner.load(id).await
    }

    async fn save(&self, saga: &Saga, expected_version: u64) -> Result<(), StoreError> {
        self.ctx.maybe_yield().await;
        if let Some(after) = self.fuse.tick(&self.ctx, "crashes before persisting", "crashes after persisting") {
            if after {
                self.inner.save(saga, expected_version).await?;
                self.ctx.wrote(saga);
            }
            return Err(StoreError::Unavailable(died(if after { "after persisting" } else { "before persisting" })));
        }
        if let Err(e) = self.inner.save(saga, expected_version).await {
            if e == StoreError::Conflict {
                self.ctx.count("conditional writes lost");
            }
            return Err(e);
        }
        self.ctx.wrote(saga);
        Ok(())
    }

    async fn find_by_deployment(&self, id: &DeploymentId) -> Result<Option<RolloutId>, StoreError> {
        self.inner.find_by_deployment(id).await
    }

    async fn list_active(&self) -> Result<Vec<SagaSummary>, StoreError> {
        self.inner.list_active().await
    }

    async fn list_recent(&self, limit: usize) -> Result<Vec<SagaSummary>, StoreError> {
        self.inner.list_recent(limit).await
    }
}

/// The step queue behind a fuse (sends only: the driver receives from the queue itself).
pub(crate) struct FaultyQueue {
    pub(crate) inner: Arc<dyn MessageQueue>,
    pub(crate) fuse: Arc<Fuse>,
    pub(crate) ctx: Arc<Ctx>,
}

#[async_trait]
impl MessageQueue for FaultyQueue {
    async fn send(&self, body: &str, delay_ms: u64) -> Result<(), QueueError> {
        if let Some(after) = self.fuse.tick(&self.ctx, "crashes between effects", "crashes between effects") {
            if after {
                self.inner.send(body, delay_ms).await?;
            }
            return Err(QueueError::Unavailable(died(if after { "after a send" } else { "before a send" })));
        }
        self.inner.send(body, delay_ms).await
    }

    async fn receive(&self, max: usize, wait_ms: u64) -> Result<Vec<Delivery>, QueueError> {
        self.inner.receive(max, wait_ms).await
    }

    async fn ack(&self, receipts: &[String]) -> Result<(), QueueError> {
        self.inner.ack(receipts).await
    }

    async fn release(&self, receipt: &str, delay_ms: u64) -> Result<(), QueueError> {
        self.inner.release(receipt, delay_ms).await
    }

    async fn dead_letter(&self, receipt: &str, body: &str) -> Result<(), QueueError> {
        self.inner.dead_letter(receipt, body).await
    }

    fn max_delay_ms(&self) -> u64 {
        self.inner.max_delay_ms()
    }
}

/// The lifecycle bus behind a fuse.
pub(crate) struct FaultyBus {
    pub(crate) inner: Arc<dyn EventBus>,
    pub(crate) fuse: Arc<Fuse>,
    pub(crate) ctx: Arc<Ctx>,
}

#[async_trait]
impl EventBus for FaultyBus {
    async fn publish(&self, event: &LifecycleEvent) -> Result<(), QueueError> {
        if let Some(after) = self.fuse.tick(&self.ctx, "crashes between effects", "crashes between effects") {
            if after {
                self.inner.publish(event).await?;
            }
            return Err(QueueError::Unavailable(died(if after { "after a publish" } else { "before a publish" })));
        }
        self.inner.publish(event).await
    }
}

/// Leases that may yield while workers race, and record the group a rollout leaves behind when it
/// gives its lease back.
pub(crate) struct YieldingLeases {
    pub(crate) inner: Arc<MemoryLeases>,
    pub(crate) cloud: Cloud,
    pub(crate) ctx: Arc<Ctx>,
}

#[async_trait]
impl Leases for YieldingLeases {
    async fn acquire(
        &self,
        keys: &[LeaseKey],
        holder: &RolloutId,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<LeaseOutcome, StoreError> {
        self.ctx.maybe_yield().await;
        self.inner.acquire(keys, holder, until, now).await
    }

    async fn release(&self, keys: &[LeaseKey], holder: &RolloutId) -> Result<(), StoreError> {
        self.ctx.maybe_yield().await;
        for key in keys.iter().filter(|k| self.inner.holder(k).as_ref() == Some(holder)) {
            let group = key.0.strip_prefix("group#").and_then(|g| ElastigroupId::parse(g).ok());
            if let Some(state) = group.and_then(|g| self.cloud.group_state(&g)) {
                lock(&self.ctx.released).insert(holder.clone(), state);
            }
        }
        self.inner.release(keys, holder).await
    }
}
