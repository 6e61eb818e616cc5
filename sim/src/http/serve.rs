//! [`serve`]: the HTTP faces on a listener the caller binds (port 0 in tests, mini-redis style), plus a
//! ticker that moves the model along with its clock and hands the CodeDeploy events it publishes to
//! an [`EventSink`], and the instances' health face (each instance answers on its own loopback IP).
//! All stop when the shutdown future completes.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;
use tracing::{debug, info, warn};

use super::health::{self, HealthFace};
use super::record::{self, Recorder};
use super::sink::{EventSink, MAX_BATCH};
use super::{AppState, app};
use crate::cloud::Cloud;

/// How often the served model is ticked and its events drained, unless told otherwise.
pub const DEFAULT_TICK_MS: u64 = 50;
/// Events kept for a failing sink; past this the oldest are dropped (and logged), so a sink that is
/// down for good cannot grow memory without bound.
const MAX_PENDING: usize = 10_000;
/// How long the last delivery at shutdown may take.
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// How to serve the model.
#[derive(Clone)]
pub struct ServeOptions {
    /// The Spot Bearer token to accept; `None` accepts any non-empty token.
    pub expected_token: Option<String>,
    /// Milliseconds between two ticks of the model (at least 1).
    pub tick_ms: u64,
    /// The port each instance answers health checks on, on its own private IP (`127.0.0.x`); `None`:
    /// the main listener's port, so a request's health check is `http://{ip}:<that port>/health`. When
    /// the main listener is bound to a wildcard address (`0.0.0.0`, which takes its port on every
    /// address), the instances answer health checks only on a port given here.
    pub health_port: Option<u16>,
    /// Where to record every request served with its answer (`None`: nothing is recorded). The
    /// contract suites read it to check both sides against the services' published definitions.
    pub record: Option<Recorder>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self { expected_token: None, tick_ms: DEFAULT_TICK_MS, health_port: None, record: None }
    }
}

impl fmt::Debug for ServeOptions {
    // The token is a secret: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeOptions")
            .field("expected_token", &self.expected_token.as_ref().map(|_| "<redacted>"))
            .field("tick_ms", &self.tick_ms)
            .field("health_port", &self.health_port)
            .field("record", &self.record.is_some())
            .finish()
    }
}

/// Serves the Spot, CodeDeploy and admin faces of `cloud` on `listener` until `shutdown` completes,
/// ticking the model every `opts.tick_ms` and sending its CodeDeploy events to `sink`; each instance
/// answers health checks on its private IP and `opts.health_port` (see [`ServeOptions::health_port`]).
/// The cloud keeps the clock it was built with (a host gives it the system clock). At shutdown,
/// in-flight requests finish, the health listeners close and pending events get one last delivery attempt.
///
/// # Errors
/// When the listener's address cannot be read or accepting connections fails.
pub async fn serve(
    listener: TcpListener,
    cloud: Cloud,
    opts: ServeOptions,
    sink: Arc<dyn EventSink>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let health_port = match opts.health_port {
        Some(port) => Some(port),
        // A wildcard listener holds its port on every address: the instances could not bind it.
        None if addr.ip().is_unspecified() => {
            info!(%addr, "the instances answer no health checks: the simulator listens on a wildcard address; give ServeOptions::health_port");
            None
        }
        None => Some(addr.port()),
    };
    let (stop, stopped) = oneshot::channel();
    let (stop_health, health_stopped) = oneshot::channel();
    let period = Duration::from_millis(opts.tick_ms.max(1));
    let ticker = tokio::spawn(publish_events(cloud.clone(), sink, period, stopped));
    let health =
        health_port.map(|port| tokio::spawn(health::run(HealthFace::new(cloud.clone(), port), period, health_stopped)));
    let mut router = app(AppState::new(cloud, opts.expected_token));
    if let Some(recorder) = opts.record {
        router = router.layer(axum::middleware::from_fn_with_state(recorder, record::record));
    }
    let served = axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
    // Either task may have ended already (a panic); then there is nobody to tell.
    let _ = stop.send(());
    let _ = stop_health.send(());
    if let Err(e) = ticker.await {
        warn!(error = %e, "the simulator's event ticker ended abnormally");
    }
    if let Some(task) = health
        && let Err(e) = task.await
    {
        warn!(error = %e, "the simulator's health face ended abnormally");
    }
    served
}

/// Ticks the model, drains its events and delivers them until told to stop.
async fn publish_events(cloud: Cloud, sink: Arc<dyn EventSink>, period: Duration, mut stop: oneshot::Receiver<()>) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pending = VecDeque::new();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = &mut stop => break,
        }
        // Draining catches the model up with the clock first.
        pending.extend(cloud.drain_events());
        deliver(sink.as_ref(), &mut pending).await;
        if pending.len() > MAX_PENDING {
            let dropped = pending.len() - MAX_PENDING;
            pending.drain(..dropped);
            warn!(dropped, kept = MAX_PENDING, "the event sink keeps failing; dropped the oldest events");
        }
    }
    pending.extend(cloud.drain_events());
    if tokio::time::timeout(FINAL_FLUSH, deliver(sink.as_ref(), &mut pending)).await.is_err() {
        warn!("the event sink did not answer at shutdown");
    }
    if !pending.is_empty() {
        warn!(lost = pending.len(), "events not delivered at shutdown");
    }
}

/// Sends `pending` in batches, oldest first; stops at the first failure, leaving the rest for later.
async fn deliver(sink: &dyn EventSink, pending: &mut VecDeque<String>) {
    while !pending.is_empty() {
        let n = pending.len().min(MAX_BATCH);
        let batch: Vec<String> = pending.iter().take(n).cloned().collect();
        match sink.put(batch).await {
            Ok(()) => {
                pending.drain(..n);
                debug!(delivered = n, "simulated CodeDeploy events delivered");
            }
            Err(why) => {
                warn!(error = %why, pending = pending.len(), "the event sink failed; retrying on the next tick");
                return;
            }
        }
    }
}
