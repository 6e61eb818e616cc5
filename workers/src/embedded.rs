//! Embedded mode: the whole engine in one process, with no AWS account. The worker runs over the
//! in-memory store, leases and queues and the simulated cloud, on a virtual clock that jumps to the
//! next thing due, so an hour-long rollout plays out in milliseconds and the same way every time.

use std::sync::Arc;

use async_trait::async_trait;
use greenfleet_core::ids::Timestamp;
use greenfleet_core::memory::{ManualClock, MemoryBus, MemoryLeases, MemoryQueue, MemoryStore};
use greenfleet_core::ports::{Clock, HealthProbe, MessageQueue, SagaStore};
use greenfleet_sim::Cloud;

use crate::executor::Executor;
use crate::worker::{Deps, Disposition, Source, Worker};

/// Receives before a message moves to the dead-letter list (the SQS redrive count).
pub const MAX_RECEIVES: u32 = 5;

/// Health checks answered by the simulated instances (their loopback IPs), healthy unless a fault says not.
pub struct SimHealth(pub Cloud);

#[async_trait]
impl HealthProbe for SimHealth {
    async fn probe(&self, url: &str, expected_status: u16, _timeout_ms: u64) -> Result<(), String> {
        let host = url.split("://").nth(1).unwrap_or(url);
        let host = host.split(['/', ':']).next().unwrap_or(host);
        if self.0.is_healthy(host) { Ok(()) } else { Err(format!("status 503, expected {expected_status}")) }
    }
}

/// The engine on in-memory adapters and the simulated cloud.
pub struct Embedded {
    /// The virtual clock.
    pub clock: Arc<ManualClock>,
    /// The simulated Spot + CodeDeploy.
    pub cloud: Cloud,
    /// Saga state.
    pub store: Arc<MemoryStore>,
    /// Leases.
    pub leases: Arc<MemoryLeases>,
    /// Intake queue.
    pub intake: Arc<MemoryQueue>,
    /// Step queue.
    pub steps: Arc<MemoryQueue>,
    /// Events queue.
    pub events: Arc<MemoryQueue>,
    /// Lifecycle events published.
    pub bus: Arc<MemoryBus>,
    /// The worker.
    pub worker: Worker,
}

impl Embedded {
    /// A fresh engine whose clock starts at `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        Self::with_store(start, |store| store)
    }

    /// A fresh engine whose worker reaches the in-memory store through `wrap` (a decorator that
    /// records or fails writes, for tests); [`Embedded::store`] is the store underneath.
    #[must_use]
    pub fn with_store(start: Timestamp, wrap: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn SagaStore>) -> Self {
        let clock = Arc::new(ManualClock::new(start));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let cloud = Cloud::new(dyn_clock.clone());
        let store = Arc::new(MemoryStore::default());
        let leases = Arc::new(MemoryLeases::default());
        let queue = || Arc::new(MemoryQueue::new(dyn_clock.clone(), MAX_RECEIVES));
        let (intake, steps, events) = (queue(), queue(), queue());
        let bus = Arc::new(MemoryBus::default());
        let executor = Executor {
            elastigroups: Arc::new(cloud.clone()),
            instances: Arc::new(cloud.clone()),
            deployments: Arc::new(cloud.clone()),
            leases: leases.clone(),
            health: Arc::new(SimHealth(cloud.clone())),
        };
        let worker = Worker::new(Deps {
            store: wrap(store.clone()),
            intake: intake.clone(),
            steps: steps.clone(),
            events: events.clone(),
            bus: bus.clone(),
            executor,
            clock: dyn_clock,
        });
        Self { clock, cloud, store, leases, intake, steps, events, bus, worker }
    }

    /// Publishes a rollout request (JSON) to the intake queue.
    pub async fn submit(&self, request_json: &str) {
        // The in-memory queue never fails.
        let _ = self.intake.send(request_json, 0).await;
    }

    /// Delivers the simulated cloud's events, then handles every visible message once. Returns how many.
    pub async fn pump(&self) -> usize {
        // Draining catches the cloud up with the clock first (as a tick would).
        for envelope in self.cloud.drain_events() {
            let _ = self.events.send(&envelope, 0).await;
        }
        let mut handled = 0;
        for (source, queue) in
            [(Source::Intake, &self.intake), (Source::Events, &self.events), (Source::Steps, &self.steps)]
        {
            let Ok(batch) = queue.receive(10, 0).await else { continue };
            for d in batch {
                handled += 1;
                let _ = match self.worker.process(source, &d).await {
                    Disposition::Ack => queue.ack(std::slice::from_ref(&d.receipt)).await,
                    Disposition::Retry(ms) => queue.release(&d.receipt, ms).await,
                    Disposition::Poison(_) => queue.release(&d.receipt, 0).await,
                    Disposition::DeadLetter(_) => queue.dead_letter(&d.receipt, &d.body).await,
                };
            }
        }
        handled
    }

    /// When something is next due: a queued message or a change in the cloud.
    #[must_use]
    pub fn next_due(&self) -> Option<Timestamp> {
        [
            self.intake.next_visible_at(),
            self.steps.next_visible_at(),
            self.events.next_visible_at(),
            self.cloud.next_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs until nothing is left to do or `limit_ms` of virtual time passed, calling `observe` after
    /// every round. Returns the virtual milliseconds that passed.
    pub async fn run_until_idle(&self, limit_ms: u64, mut observe: impl FnMut(&Self)) -> u64 {
        let start = self.clock.now();
        loop {
            let handled = self.pump().await;
            observe(self);
            if handled > 0 {
                continue;
            }
            let now = self.clock.now();
            match self.next_due() {
                None => break,
                Some(t) if t.since(start) > limit_ms => break,
                Some(t) => self.clock.set(if t > now { t } else { now.plus_ms(1) }),
            }
        }
        self.clock.now().since(start)
    }
}
