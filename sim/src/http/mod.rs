//! The model's HTTP faces, for integration tests and the docker-compose simulator: the Spot REST API
//! (`/aws/ec2/group/…`), the CodeDeploy JSON 1.1 API (`POST /` with `X-Amz-Target`) and the admin
//! face (`/_sim/…`) that sets the world up and turns the fault knobs, all on one listener.
//!
//! Every Spot or CodeDeploy request goes through the same port operation the in-process adapter uses
//! (`Cloud::call`), so scripted faults (`failNext`, `loseResponse`) show up over HTTP exactly as they
//! do in process, and the behaviour cannot drift between the two.
//!
//! * `spot` — Spot's envelopes, Bearer auth, `accountId`, `RemoteError` → 400 (`GROUP_DOESNT_EXIST` for a
//!   missing group) / 404 / 429 / 503.
//! * `codedeploy` — `CodeDeploy_20141006.*` operations and their `__type` errors.
//! * `admin` — setup, inspection, counters, fault commands (`admin_wire`, `admin_setup` and
//!   `admin_faults` hold its wire forms: camelCase, unknown fields refused).
//! * `health` — each instance answers health checks on its own loopback IP (200 healthy, 503 not).
//! * `serve` — [`serve()`] with [`ServeOptions`]: the listener plus the ticker that publishes events.
//! * `record` — [`Recorder`]: optionally, every request served and its answer, for contract tests.
//! * `sink` — [`EventSink`], where the ticker sends CodeDeploy events, and [`MemorySink`].

mod admin;
mod admin_faults;
mod admin_setup;
mod admin_wire;
mod codedeploy;
mod deployment_groups;
mod ec2;
mod health;
mod record;
mod serve;
mod sink;
mod spot;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::cloud::Cloud;
use crate::events::uuid_from;

pub use record::{Exchange, Recorder};
pub use serve::{DEFAULT_TICK_MS, ServeOptions, serve};
pub use sink::{EventSink, MAX_BATCH, MemorySink};

/// What every handler shares: the model, the Spot token to expect, and a counter for request ids.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) cloud: Cloud,
    pub(crate) expected_token: Option<Arc<str>>,
    requests: Arc<AtomicU64>,
}

impl AppState {
    pub(crate) fn new(cloud: Cloud, expected_token: Option<String>) -> Self {
        Self { cloud, expected_token: expected_token.map(Arc::from), requests: Arc::new(AtomicU64::new(0)) }
    }

    /// A fresh UUID-shaped request id (distinct from event ids, which count from 1 without the high bit).
    pub(crate) fn next_request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        uuid_from(0x2000_0000_0000_0000 | n)
    }
}

/// All three faces on one router.
pub(crate) fn app(state: AppState) -> Router {
    Router::new()
        .merge(spot::router())
        .merge(codedeploy::router())
        .merge(admin::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Unknown paths: Spot's envelope under `/aws/`, a plain JSON error elsewhere.
async fn not_found(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/aws/") {
        spot::unrouted(&state, &method, &uri, StatusCode::NOT_FOUND)
    } else if path.starts_with("/_sim/") {
        admin_error(
            StatusCode::NOT_FOUND,
            &format!("no route for {method} {path}; the admin routes are {}", admin::ROUTES),
        )
    } else {
        admin_error(StatusCode::NOT_FOUND, &format!("no route for {method} {path}; see the sim crate's http module"))
    }
}

async fn method_not_allowed(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/aws/") {
        spot::unrouted(&state, &method, &uri, StatusCode::METHOD_NOT_ALLOWED)
    } else {
        admin_error(StatusCode::METHOD_NOT_ALLOWED, &format!("{path} does not accept {method}"))
    }
}

/// `{"error": message}` with `status`: the admin face's (and unknown paths') error shape.
pub(crate) fn admin_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}
