//! The instances' health face: every simulated instance answers HTTP on its own private IP, a
//! loopback address `127.0.0.x` (Linux routes all of 127/8 to `lo`, so binding needs no setup) — 200
//! when [`Cloud::is_healthy`] says so, 503 otherwise (not Running, or a fault knob: `unhealthy`,
//! `all_green_unhealthy`). A rollout's health check `http://{ip}:<port>/health` thus runs over real
//! sockets. Any path answers the same.
//!
//! Listeners are bound lazily, for the addresses instances actually hold, and dropped when no instance
//! holds them any more: several simulators run at once in tests, so nobody binds 253 sockets up front.
//! An address that cannot be bound (the port taken on it) is logged once and tried again on later
//! ticks; its checks meanwhile fail with "connection refused", as a dead instance's would.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tracing::{debug, warn};

use crate::cloud::Cloud;

/// How long a dropped listener may take to finish its in-flight checks at shutdown.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// One instance address being served.
struct Listener {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Stops accepting, lets in-flight checks finish (bounded), and waits for the task.
    async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(STOP_WAIT, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// The listeners of the instances' addresses, kept in step with the model by [`HealthFace::reconcile`].
pub(super) struct HealthFace {
    cloud: Cloud,
    port: u16,
    listeners: BTreeMap<String, Listener>,
    /// Addresses whose bind failed, so the failure is logged once.
    refused: BTreeSet<String>,
}

impl HealthFace {
    /// A face answering on `port` of each instance address (nothing bound yet).
    pub(super) fn new(cloud: Cloud, port: u16) -> Self {
        Self { cloud, port, listeners: BTreeMap::new(), refused: BTreeSet::new() }
    }

    /// Binds the addresses instances hold that are not served yet; stops serving those no instance holds.
    pub(super) async fn reconcile(&mut self) {
        let wanted = self.cloud.instance_ips();
        let gone: Vec<String> = self.listeners.keys().filter(|ip| !wanted.contains(*ip)).cloned().collect();
        for ip in gone {
            if let Some(l) = self.listeners.remove(&ip) {
                debug!(%ip, "no instance holds this address any more; its health listener stops");
                l.stop().await;
            }
        }
        self.refused.retain(|ip| wanted.contains(ip));
        for ip in wanted {
            if !self.listeners.contains_key(&ip) {
                self.bind(ip).await;
            }
        }
    }

    async fn bind(&mut self, ip: String) {
        let Ok(addr) = ip.parse::<IpAddr>() else {
            if self.refused.insert(ip.clone()) {
                warn!(%ip, "an instance's private IP is not an IP address; it answers no health check");
            }
            return;
        };
        match TcpListener::bind(SocketAddr::new(addr, self.port)).await {
            Ok(listener) => {
                self.refused.remove(&ip);
                let (stop, stopped) = oneshot::channel::<()>();
                let app = Router::new().fallback(answer).with_state((self.cloud.clone(), ip.clone()));
                let task = tokio::spawn(async move {
                    let shutdown = async {
                        let _ = stopped.await;
                    };
                    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                        warn!(error = %e, "an instance's health listener failed");
                    }
                });
                debug!(%ip, port = self.port, "health listener bound");
                self.listeners.insert(ip, Listener { stop, task });
            }
            Err(e) => {
                if self.refused.insert(ip.clone()) {
                    warn!(%ip, port = self.port, error = %e, "cannot bind an instance's health listener (set ServeOptions::health_port to a free port); will try again");
                }
            }
        }
    }

    /// Stops every listener.
    pub(super) async fn shutdown(self) {
        for (_, l) in self.listeners {
            l.stop().await;
        }
    }
}

/// Keeps the face in step with the model every `period` until `stop` fires, then stops every listener.
pub(super) async fn run(mut face: HealthFace, period: Duration, mut stop: oneshot::Receiver<()>) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => face.reconcile().await,
            _ = &mut stop => break,
        }
    }
    face.shutdown().await;
}

/// Any request to an instance's address: 200 when it is healthy, 503 when not.
async fn answer(State((cloud, ip)): State<(Cloud, String)>) -> Response {
    let healthy = cloud.is_healthy(&ip);
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(json!({ "ip": ip, "healthy": healthy }))).into_response()
}
