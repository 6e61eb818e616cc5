//! The recording store of the golden test: a [`SagaStore`] decorator that keeps the saga written at
//! each first entry into a step, and can make its worker die right after one such write.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use greenfleet_core::ids::{DeploymentId, RolloutId};
use greenfleet_core::memory::MemoryStore;
use greenfleet_core::ports::{SagaStore, StoreError};
use greenfleet_core::saga::{Saga, SagaSummary};

pub(super) fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the recorder saw and whether its worker is dead.
#[derive(Default)]
pub(super) struct Tape {
    /// The first write entering each step, in order: the step and the saga written.
    pub(super) entries: Vec<(String, Saga)>,
    /// The worker dies right after the write that first enters this step.
    pub(super) die_at: Option<String>,
    /// Died: every later call fails, until the test revives it.
    pub(super) dead: bool,
}

/// A [`SagaStore`] decorator over the embedded store that keeps a copy of the saga at each write's
/// first entry into a step, and can make the worker die right after one.
pub(super) struct Recorder {
    pub(super) inner: Arc<MemoryStore>,
    pub(super) tape: Mutex<Tape>,
}

impl Recorder {
    fn alive(&self) -> Result<(), StoreError> {
        if locked(&self.tape).dead { Err(StoreError::Unavailable("golden: the worker died".into())) } else { Ok(()) }
    }

    /// Notes a write that happened; `Err` when the worker dies right after it.
    fn wrote(&self, saga: &Saga) -> Result<(), StoreError> {
        let step = saga.phase.name();
        let mut tape = locked(&self.tape);
        if tape.entries.iter().any(|(s, _)| *s == step) {
            return Ok(());
        }
        tape.entries.push((step.clone(), saga.clone()));
        if tape.die_at.as_deref() == Some(step.as_str()) {
            tape.die_at = None;
            tape.dead = true;
            return Err(StoreError::Unavailable(format!("golden: the worker died after writing {step}")));
        }
        Ok(())
    }
}

#[async_trait]
impl SagaStore for Recorder {
    async fn create(&self, saga: &Saga) -> Result<(), StoreError> {
        self.alive()?;
        self.inner.create(saga).await?;
        self.wrote(saga)
    }
    async fn load(&self, id: &RolloutId) -> Result<Option<Saga>, StoreError> {
        self.alive()?;
        self.inner.load(id).await
    }
    async fn save(&self, saga: &Saga, expected_version: u64) -> Result<(), StoreError> {
        self.alive()?;
        self.inner.save(saga, expected_version).await?;
        self.wrote(saga)
    }
    async fn find_by_deployment(&self, id: &DeploymentId) -> Result<Option<RolloutId>, StoreError> {
        self.alive()?;
        self.inner.find_by_deployment(id).await
    }
    async fn list_active(&self) -> Result<Vec<SagaSummary>, StoreError> {
        self.alive()?;
        self.inner.list_active().await
    }
    async fn list_recent(&self, limit: usize) -> Result<Vec<SagaSummary>, StoreError> {
        self.alive()?;
        self.inner.list_recent(limit).await
    }
}
