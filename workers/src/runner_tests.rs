//! `serve` started as `greenfleet worker` starts it, on port 0 over the embedded engine: it consumes
//! the queues, answers `/healthz` and sweeps, and one shutdown stops all three.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use greenfleet_core::ids::{DeploymentId, RolloutId};
use greenfleet_core::memory::{MemoryQueue, MemoryStore};
use greenfleet_core::ports::{Delivery, MessageQueue, QueueError, SagaStore, StoreError};
use greenfleet_core::saga::{Saga, SagaSummary};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{RunOptions, Settings, serve};
use crate::demo::DEMO_START;
use crate::embedded::Embedded;
use crate::scenarios;
use crate::worker::Worker;

/// The in-memory queue, waiting up to `wait_ms` when empty as SQS's long poll does (the in-memory
/// one answers at once, which would make the loops spin).
struct LongPoll(Arc<MemoryQueue>);

#[async_trait]
impl MessageQueue for LongPoll {
    async fn send(&self, body: &str, delay_ms: u64) -> Result<(), QueueError> {
        self.0.send(body, delay_ms).await
    }
    async fn receive(&self, max: usize, wait_ms: u64) -> Result<Vec<Delivery>, QueueError> {
        let batch = self.0.receive(max, wait_ms).await?;
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        }
        Ok(batch)
    }
    async fn ack(&self, receipts: &[String]) -> Result<(), QueueError> {
        self.0.ack(receipts).await
    }
    async fn release(&self, receipt: &str, delay_ms: u64) -> Result<(), QueueError> {
        self.0.release(receipt, delay_ms).await
    }
    async fn dead_letter(&self, receipt: &str, body: &str) -> Result<(), QueueError> {
        self.0.dead_letter(receipt, body).await
    }
    fn max_delay_ms(&self) -> u64 {
        self.0.max_delay_ms()
    }
}

/// The in-memory store, counting sweeps (each starts by listing the active rollouts).
struct CountingSweeps {
    store: Arc<MemoryStore>,
    sweeps: AtomicUsize,
}

#[async_trait]
impl SagaStore for CountingSweeps {
    async fn create(&self, saga: &Saga) -> Result<(), StoreError> {
        self.store.create(saga).await
    }
    async fn load(&self, id: &RolloutId) -> Result<Option<Saga>, StoreError> {
        self.store.load(id).await
    }
    async fn save(&self, saga: &Saga, expected_version: u64) -> Result<(), StoreError> {
        self.store.save(saga, expected_version).await
    }
    async fn find_by_deployment(&self, id: &DeploymentId) -> Result<Option<RolloutId>, StoreError> {
        self.store.find_by_deployment(id).await
    }
    async fn list_active(&self) -> Result<Vec<SagaSummary>, StoreError> {
        self.sweeps.fetch_add(1, Ordering::SeqCst);
        self.store.list_active().await
    }
    async fn list_recent(&self, limit: usize) -> Result<Vec<SagaSummary>, StoreError> {
        self.store.list_recent(limit).await
    }
}

/// Polls `done` every few milliseconds until it holds; fails after ten seconds.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !done().await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{what} did not happen within ten seconds");
}

/// `GET /healthz` on `port`: the status line and the body.
async fn healthz(port: u16) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("admin endpoint reachable");
    let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("request sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("answer read");
    answer
}

/// The `acked` counter of a `/healthz` answer.
fn acked(answer: &str) -> u64 {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    json["acked"].as_u64().unwrap_or_default()
}

#[tokio::test]
async fn serve_on_port_0_consumes_answers_and_sweeps_until_shutdown_stops_all_three() {
    let env = Embedded::new(DEMO_START);
    let s = scenarios::demo().into_iter().find(|s| s.name == "shop-6.0").expect("the shop scenario");
    s.install(&env.cloud);
    env.submit(&s.request().to_string()).await;
    let store = Arc::new(CountingSweeps { store: env.store.clone(), sweeps: AtomicUsize::new(0) });
    let mut deps = env.worker.deps().clone();
    deps.store = store.clone();
    deps.intake = Arc::new(LongPoll(env.intake.clone()));
    deps.steps = Arc::new(LongPoll(env.steps.clone()));
    deps.events = Arc::new(LongPoll(env.events.clone()));
    let settings = Settings {
        run: RunOptions { concurrency: 1, wait_ms: 20, heartbeat_ms: 1_000, ..RunOptions::default() },
        sweep_every: Some(Duration::from_millis(10)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port 0");
    let port = listener.local_addr().expect("bound").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(Worker::new(deps), settings, listener, async {
        let _ = stopped.await;
    }));

    // The intake loop takes the request: the rollout is stored and its first message acked.
    eventually("the request accepted", async || !env.store.all().is_empty()).await;
    eventually("an ack counted", async || acked(&healthz(port).await) >= 1).await;
    let answer = healthz(port).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""), "{answer}");
    eventually("two sweeps", async || store.sweeps.load(Ordering::SeqCst) >= 2).await;

    let _ = stop.send(());
    let ended = tokio::time::timeout(Duration::from_secs(10), server).await;
    let result = ended.expect("serve returns once shut down").expect("serve did not panic");
    assert!(result.is_ok(), "{result:?}");
    // Returned means stopped: the sweep too. Several sweep periods later none has started.
    let sweeps = store.sweeps.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(store.sweeps.load(Ordering::SeqCst), sweeps, "the sweep outlived serve");
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(), "the admin endpoint still answers");
}
