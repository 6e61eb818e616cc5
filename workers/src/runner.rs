//! The long-running worker: a few loops per queue, each receiving a batch and handling it message by
//! message, acking each as soon as it is handled. While a batch is in hand, a heartbeat keeps every
//! message of it not yet disposed of hidden from other workers (the one being handled and the ones
//! still waiting their turn), so a slow batch never lets SQS hand its messages out again and count a
//! receive against the redrive policy.
//! On shutdown the loops finish the message in hand and stop; the rest is redelivered elsewhere.
//! [`serve`] starts the whole process — the admin endpoint, the periodic sweep and the queue loops —
//! and stops all three on one shutdown future, so a test can start the real thing on port 0.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenfleet_core::ports::{Delivery, MessageQueue};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::worker::{Disposition, Source, Worker};

/// How the worker consumes its queues.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Loops per queue.
    pub concurrency: usize,
    /// Messages per receive (SQS allows up to 10).
    pub batch: usize,
    /// Long-poll wait per receive.
    pub wait_ms: u64,
    /// The queues' visibility timeout; the heartbeat extends it by this much.
    pub visibility_ms: u64,
    /// How often a message in hand has its visibility extended.
    pub heartbeat_ms: u64,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self::for_visibility(60_000, 2, 10_000)
    }
}

impl RunOptions {
    /// Options for queues whose visibility timeout is `visibility_ms`: the heartbeat extends it every
    /// third of it (at least every 500 ms), so two heartbeats may fail before a message reappears.
    #[must_use]
    pub fn for_visibility(visibility_ms: u64, concurrency: usize, wait_ms: u64) -> Self {
        Self { concurrency, batch: 10, wait_ms, visibility_ms, heartbeat_ms: (visibility_ms / 3).max(500) }
    }
}

/// Counters for `/healthz`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages handled and acked.
    pub acked: AtomicU64,
    /// Messages left for redelivery.
    pub retried: AtomicU64,
    /// Poison messages left to the redrive policy.
    pub poisoned: AtomicU64,
    /// Receive errors.
    pub receive_errors: AtomicU64,
}

/// What `greenfleet worker` runs besides its queues' consumers.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// How the queues are consumed.
    pub run: RunOptions,
    /// Time between two sweeps for what rollouts left behind (`None`: never).
    pub sweep_every: Option<Duration>,
}

/// The worker process: serves `/healthz` on `admin`, sweeps every `settings.sweep_every` and consumes
/// the queues, until `shutdown` resolves; then each stops — the loops after the message in hand, the
/// sweep after the sweep under way — and `serve` returns once all three have. Errors only when the
/// admin endpoint fails.
pub async fn serve(
    worker: Worker,
    settings: Settings,
    admin: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let stats = Arc::new(Stats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        // An error means the sender is gone, which happens only once everything is stopping.
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let signal = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let sweeps = async {
        if let Some(every) = settings.sweep_every {
            crate::sweep::periodic(worker.deps(), every, stopped(stop_rx.clone())).await;
        }
    };
    let admin = crate::admin::serve(admin, stats.clone(), stopped(stop_rx.clone()));
    let consume = run(worker.clone(), settings.run, stats, stopped(stop_rx.clone()));
    let ((), admin, (), ()) = tokio::join!(signal, admin, sweeps, consume);
    admin
}

/// Runs until `shutdown` resolves, then lets the loops finish the message in hand.
pub async fn run(worker: Worker, opts: RunOptions, stats: Arc<Stats>, shutdown: impl Future<Output = ()>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let deps = worker.deps().clone();
    for (source, queue) in [(Source::Intake, deps.intake), (Source::Steps, deps.steps), (Source::Events, deps.events)] {
        for _ in 0..opts.concurrency.max(1) {
            let (w, q, o, s, rx) = (worker.clone(), queue.clone(), opts.clone(), stats.clone(), stop_rx.clone());
            tasks.spawn(consume(w, source, q, o, s, rx));
        }
    }
    info!(concurrency = opts.concurrency, "worker running");
    shutdown.await;
    info!("shutting down: finishing the messages in hand");
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    info!("worker stopped");
}

async fn consume(
    worker: Worker,
    source: Source,
    queue: Arc<dyn MessageQueue>,
    opts: RunOptions,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let batch = tokio::select! {
            r = queue.receive(opts.batch, opts.wait_ms) => r,
            _ = stop.changed() => break,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                stats.receive_errors.fetch_add(1, Ordering::Relaxed);
                warn!(error = %e, ?source, "receive failed; backing off");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let in_hand = InHand::start(queue.clone(), &batch, &opts);
        for d in batch {
            let disposition = worker.process(source, &d).await;
            in_hand.done(&d.receipt);
            match disposition {
                Disposition::Ack => match queue.ack(std::slice::from_ref(&d.receipt)).await {
                    Ok(()) => {
                        stats.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        warn!(error = %e, "ack failed; the message will be redelivered and found already handled")
                    }
                },
                Disposition::Retry(ms) => {
                    stats.retried.fetch_add(1, Ordering::Relaxed);
                    let _ = queue.release(&d.receipt, ms).await;
                }
                Disposition::DeadLetter(why) => {
                    stats.poisoned.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = queue.dead_letter(&d.receipt, &d.body).await {
                        warn!(?source, error = %e, %why, "moving to the dead-letter queue failed; left for the redrive policy");
                        let _ = queue.release(&d.receipt, 0).await;
                    }
                }
                Disposition::Poison(why) => {
                    stats.poisoned.fetch_add(1, Ordering::Relaxed);
                    warn!(?source, receive_count = d.receive_count, %why, "poison message left for the dead-letter queue");
                    let _ = queue.release(&d.receipt, 0).await;
                }
            }
        }
    }
}

/// The messages of a batch not yet disposed of, kept hidden by a heartbeat until each is handled.
struct InHand {
    receipts: Arc<Mutex<Vec<String>>>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl InHand {
    /// Starts the heartbeat over every message of `batch`.
    fn start(queue: Arc<dyn MessageQueue>, batch: &[Delivery], opts: &RunOptions) -> Self {
        let receipts = Arc::new(Mutex::new(batch.iter().map(|d| d.receipt.clone()).collect::<Vec<_>>()));
        let (every, extend) = (Duration::from_millis(opts.heartbeat_ms.max(100)), opts.visibility_ms);
        let held = receipts.clone();
        let heartbeat = tokio::spawn(async move {
            let mut beat = tokio::time::interval(every);
            beat.tick().await;
            loop {
                beat.tick().await;
                let now: Vec<String> = held.lock().map(|r| r.clone()).unwrap_or_default();
                for receipt in now {
                    if let Err(e) = queue.release(&receipt, extend).await {
                        warn!(error = %e, "visibility heartbeat failed");
                    }
                }
            }
        });
        Self { receipts, heartbeat }
    }

    /// `receipt` is handled: its disposition decides its visibility from now on.
    fn done(&self, receipt: &str) {
        if let Ok(mut r) = self.receipts.lock() {
            r.retain(|x| x != receipt);
        }
    }
}

impl Drop for InHand {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
