//! Where the served simulator sends CodeDeploy's state-change events: an [`EventSink`]. The host
//! injects one that calls EventBridge `PutEvents` (in infra), so sim never depends on the AWS SDK;
//! tests use [`MemorySink`].

use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

/// Most envelopes one [`EventSink::put`] receives: EventBridge's `PutEvents` limit.
pub const MAX_BATCH: usize = 10;

/// Receives the EventBridge envelopes (JSON text, as an SQS queue behind an EventBridge rule would
/// receive them) of the simulated CodeDeploy events.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Delivers `envelopes`, oldest first, at most [`MAX_BATCH`] of them. On `Err` (say why) nothing is
    /// taken as delivered: the same envelopes are offered again on the next tick, so a sink that
    /// delivered part of a batch before failing causes duplicates, which CodeDeploy's best-effort
    /// delivery allows anyway.
    async fn put(&self, envelopes: Vec<String>) -> Result<(), String>;
}

/// An [`EventSink`] that keeps what it receives, for tests; it can be told to fail a few puts.
#[derive(Debug, Default)]
pub struct MemorySink {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<String>,
    failures: u32,
}

impl MemorySink {
    /// An empty sink.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything received so far, oldest first.
    #[must_use]
    pub fn events(&self) -> Vec<String> {
        self.inner().events.clone()
    }

    /// Takes everything received so far, oldest first.
    #[must_use]
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.inner().events)
    }

    /// How many envelopes were received (and not taken).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner().events.len()
    }

    /// Whether nothing was received (or all was taken).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next `n` puts fail (and keep nothing), to exercise the server's retry.
    pub fn fail_next(&self, n: u32) {
        self.inner().failures = n;
    }
}

#[async_trait]
impl EventSink for MemorySink {
    async fn put(&self, envelopes: Vec<String>) -> Result<(), String> {
        let mut inner = self.inner();
        if inner.failures > 0 {
            inner.failures -= 1;
            return Err("MemorySink told to fail this put".to_owned());
        }
        inner.events.extend(envelopes);
        Ok(())
    }
}
