//! The worker's admin endpoint: `GET /healthz` answers 200 with the worker's counters while it runs.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::routing::get;
use axum::{Json, Router};

use crate::runner::Stats;

/// Serves `/healthz` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new().route(
        "/healthz",
        get(move || {
            let s = stats.clone();
            async move {
                Json(serde_json::json!({
                    "status": "ok",
                    "acked": s.acked.load(Ordering::Relaxed),
                    "retried": s.retried.load(Ordering::Relaxed),
                    "poisoned": s.poisoned.load(Ordering::Relaxed),
                    "receiveErrors": s.receive_errors.load(Ordering::Relaxed),
                }))
            }
        }),
    );
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
