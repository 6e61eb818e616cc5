//! In-process adapters for the store, leases, queues and event bus, plus a manual clock. They back the
//! embedded mode, the simulation harness and the contract tests that real adapters must also pass.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::event::LifecycleEvent;
use crate::ids::{DeploymentId, RolloutId, Timestamp};
use crate::ports::{
    Clock, Delivery, EventBus, LeaseKey, LeaseOutcome, Leases, MessageQueue, QueueError, SagaStore, StoreError,
};
use crate::saga::{Saga, SagaSummary};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock at `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicU64::new(start.0))
    }

    /// Moves to `t` (never backwards).
    pub fn set(&self, t: Timestamp) {
        self.0.fetch_max(t.0, Ordering::SeqCst);
    }

    /// Moves forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// Sagas in a map, with the same conditional-write semantics as the DynamoDB adapter.
#[derive(Debug, Default)]
pub struct MemoryStore {
    sagas: Mutex<HashMap<RolloutId, Saga>>,
    by_deployment: Mutex<HashMap<DeploymentId, RolloutId>>,
    writes: AtomicU64,
    loads: AtomicU64,
}

impl MemoryStore {
    /// Every saga, for tests and the demo's report.
    #[must_use]
    pub fn all(&self) -> Vec<Saga> {
        let mut v: Vec<Saga> = lock(&self.sagas).values().cloned().collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        v
    }

    /// How many writes succeeded.
    #[must_use]
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// How many loads were asked for.
    #[must_use]
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    fn index(&self, saga: &Saga) {
        if let Some(d) = &saga.facts.deployment_id {
            let mut index = lock(&self.by_deployment);
            if index.get(d) != Some(&saga.id) {
                index.insert(d.clone(), saga.id.clone());
            }
        }
    }
}

#[async_trait]
impl SagaStore for MemoryStore {
    async fn create(&self, saga: &Saga) -> Result<(), StoreError> {
        let mut sagas = lock(&self.sagas);
        if sagas.contains_key(&saga.id) {
            return Err(StoreError::Conflict);
        }
        sagas.insert(saga.id.clone(), saga.clone());
        drop(sagas);
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.index(saga);
        Ok(())
    }

    async fn load(&self, id: &RolloutId) -> Result<Option<Saga>, StoreError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        Ok(lock(&self.sagas).get(id).cloned())
    }

    async fn save(&self, saga: &Saga, expected_version: u64) -> Result<(), StoreError> {
        let mut sagas = lock(&self.sagas);
        match sagas.get_mut(&saga.id) {
            Some(current) if current.version == expected_version => *current = saga.clone(),
            _ => return Err(StoreError::Conflict),
        }
        drop(sagas);
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.index(saga);
        Ok(())
    }

    async fn find_by_deployment(&self, id: &DeploymentId) -> Result<Option<RolloutId>, StoreError> {
        Ok(lock(&self.by_deployment).get(id).cloned())
    }

    async fn list_active(&self) -> Result<Vec<SagaSummary>, StoreError> {
        Ok(self.all().iter().filter(|s| !s.phase.is_done()).map(Saga::summary).collect())
    }

    async fn list_recent(&self, limit: usize) -> Result<Vec<SagaSummary>, StoreError> {
        let mut all: Vec<SagaSummary> = self.all().iter().filter(|s| s.phase.is_done()).map(Saga::summary).collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.updated_at));
        all.truncate(limit);
        Ok(all)
    }
}

/// Leases in a map.
#[derive(Debug, Default)]
pub struct MemoryLeases {
    held: Mutex<BTreeMap<LeaseKey, (RolloutId, Timestamp)>>,
}

impl MemoryLeases {
    /// Who holds `key` now, if anyone.
    #[must_use]
    pub fn holder(&self, key: &LeaseKey) -> Option<RolloutId> {
        lock(&self.held).get(key).map(|(h, _)| h.clone())
    }
}

#[async_trait]
impl Leases for MemoryLeases {
    async fn acquire(
        &self,
        keys: &[LeaseKey],
        holder: &RolloutId,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<LeaseOutcome, StoreError> {
        let mut held = lock(&self.held);
        for key in keys {
            if let Some((other, expires)) = held.get(key)
                && other != holder
                && *expires > now
            {
                return Ok(LeaseOutcome::Busy { key: key.clone(), holder: other.clone() });
            }
        }
        for key in keys {
            held.insert(key.clone(), (holder.clone(), until));
        }
        Ok(LeaseOutcome::Acquired)
    }

    async fn release(&self, keys: &[LeaseKey], holder: &RolloutId) -> Result<(), StoreError> {
        let mut held = lock(&self.held);
        for key in keys {
            if held.get(key).is_some_and(|(h, _)| h == holder) {
                held.remove(key);
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Stored {
    body: String,
    visible_at: Timestamp,
    receive_count: u32,
    receipt: Option<String>,
}

#[derive(Debug, Default)]
struct QueueState {
    sends: u64,
    next_id: u64,
    messages: BTreeMap<u64, Stored>,
    dead: Vec<String>,
}

/// An at-least-once queue on a clock: delays, a visibility timeout, and a dead-letter list after
/// `max_receives` receives, like SQS with a redrive policy.
pub struct MemoryQueue {
    clock: Arc<dyn Clock>,
    state: Mutex<QueueState>,
    visibility_ms: u64,
    max_receives: u32,
    max_delay_ms: u64,
}

impl MemoryQueue {
    /// A queue on `clock` with SQS's defaults: 30 s visibility, 15 min longest delay.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>, max_receives: u32) -> Self {
        Self { clock, state: Mutex::default(), visibility_ms: 30_000, max_receives, max_delay_ms: 15 * 60_000 }
    }

    /// Messages not yet deleted (visible or not).
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.state).messages.len()
    }

    /// Whether no message is left.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the next message becomes visible, if any.
    #[must_use]
    pub fn next_visible_at(&self) -> Option<Timestamp> {
        lock(&self.state).messages.values().map(|m| m.visible_at).min()
    }

    /// Messages sent so far.
    #[must_use]
    pub fn sends(&self) -> u64 {
        lock(&self.state).sends
    }

    /// Bodies moved to the dead-letter list.
    #[must_use]
    pub fn dead_letters(&self) -> Vec<String> {
        lock(&self.state).dead.clone()
    }
}

#[async_trait]
impl MessageQueue for MemoryQueue {
    async fn send(&self, body: &str, delay_ms: u64) -> Result<(), QueueError> {
        let visible_at = self.clock.now().plus_ms(delay_ms.min(self.max_delay_ms));
        let mut s = lock(&self.state);
        s.sends += 1;
        s.next_id += 1;
        let id = s.next_id;
        s.messages.insert(id, Stored { body: body.to_owned(), visible_at, receive_count: 0, receipt: None });
        Ok(())
    }

    async fn receive(&self, max: usize, _wait_ms: u64) -> Result<Vec<Delivery>, QueueError> {
        let now = self.clock.now();
        let mut s = lock(&self.state);
        let mut due: Vec<(u64, Timestamp)> =
            s.messages.iter().filter(|(_, m)| m.visible_at <= now).map(|(id, m)| (*id, m.visible_at)).collect();
        due.sort_by_key(|(id, at)| (*at, *id));
        let mut out = Vec::new();
        for (id, _) in due {
            if out.len() >= max {
                break;
            }
            let Some(m) = s.messages.get_mut(&id) else { continue };
            if m.receive_count >= self.max_receives {
                let body = m.body.clone();
                s.messages.remove(&id);
                s.dead.push(body);
                continue;
            }
            m.receive_count += 1;
            m.visible_at = now.plus_ms(self.visibility_ms);
            let receipt = format!("{id}:{}", m.receive_count);
            m.receipt = Some(receipt.clone());
            out.push(Delivery { body: m.body.clone(), receipt, receive_count: m.receive_count });
        }
        Ok(out)
    }

    async fn ack(&self, receipts: &[String]) -> Result<(), QueueError> {
        let mut s = lock(&self.state);
        for r in receipts {
            let id = r.split(':').next().and_then(|i| i.parse::<u64>().ok());
            if let Some(id) = id
                && s.messages.get(&id).is_some_and(|m| m.receipt.as_deref() == Some(r.as_str()))
            {
                s.messages.remove(&id);
            }
        }
        Ok(())
    }

    async fn release(&self, receipt: &str, delay_ms: u64) -> Result<(), QueueError> {
        let now = self.clock.now();
        let mut s = lock(&self.state);
        let id = receipt.split(':').next().and_then(|i| i.parse::<u64>().ok());
        if let Some(m) = id.and_then(|id| s.messages.get_mut(&id))
            && m.receipt.as_deref() == Some(receipt)
        {
            m.visible_at = now.plus_ms(delay_ms);
        }
        Ok(())
    }

    async fn dead_letter(&self, receipt: &str, body: &str) -> Result<(), QueueError> {
        let mut s = lock(&self.state);
        let id = receipt.split(':').next().and_then(|i| i.parse::<u64>().ok());
        if let Some(id) = id
            && s.messages.get(&id).is_some_and(|m| m.receipt.as_deref() == Some(receipt))
        {
            s.messages.remove(&id);
            s.dead.push(body.to_owned());
        }
        Ok(())
    }

    fn max_delay_ms(&self) -> u64 {
        self.max_delay_ms
    }
}

/// Collects published lifecycle events.
#[derive(Debug, Default)]
pub struct MemoryBus {
    events: Mutex<Vec<LifecycleEvent>>,
}

impl MemoryBus {
    /// Everything published so far.
    #[must_use]
    pub fn events(&self) -> Vec<LifecycleEvent> {
        lock(&self.events).clone()
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, event: &LifecycleEvent) -> Result<(), QueueError> {
        lock(&self.events).push(event.clone());
        Ok(())
    }
}
