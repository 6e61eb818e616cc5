//! The admin face under `/_sim/`: what a test (or the docker-compose demo) does to the world that no
//! real API offers. It is a public interface (documented in the README, "The simulator's admin API")
//! and held to the services' own rigour:
//!
//! * **camelCase everywhere**, in every body accepted and every view answered; values are spelled as
//!   the service that owns them spells them (`BLUE_GREEN`, instance states `pending` / `running` /
//!   `shutting-down` as EC2, Blue/Green states `IN_PROGRESS` as Spot).
//! * **Unknown fields are refused**: every body (and the counters' query) has `deny_unknown_fields`,
//!   and the 400 names the field and where it was (``groupTags[0]: unknown field `k`, expected …``).
//! * **Errors** are `{"error": "…"}` with 400 (bad input: wrong JSON, a wrong type, an unknown field or
//!   enum value, an invalid id, tag or capacity), 404 (no such group or route) or 405 (wrong method).
//!
//! Routes ([`ROUTES`]):
//!
//! * `GET  /_sim/health` → `{"ok": true}`, for readiness checks.
//! * `POST /_sim/groups` — `{"id", "name", "capacity": {"minimum", "maximum", "target"}, "groupTags"?: [{"key",
//!   "value"}], "blueTags"?: […], "codeDeploy"?: [{"application", "deploymentGroup"}]}` (`admin_wire`) → the
//!   group's view. Replaces a group with the same id.
//! * `GET  /_sim/groups/{id}` → `{"capacity", "instances": [{"instanceId", "state", "privateIp", "tags"}],
//!   "green": {"id", "state", "tags"} | null}`.
//! * `POST /_sim/deployment-groups` — a deployment group with CodeDeploy's spellings (`admin_setup`) →
//!   `{"application", "deploymentGroup"}`.
//! * `POST /_sim/instances` — `{"tags": [{"key", "value"}]}`: a running EC2 instance outside every
//!   Elastigroup (another application's, a leftover), which CodeDeploy's tag filters see too →
//!   `{"instanceId"}`.
//! * `GET  /_sim/counters?groupId=sig-…&application=…&deploymentGroup=…` → `{"greenStarts",
//!   "deploymentsCreated"}` (`null` for what was not asked).
//! * `POST /_sim/external-capacity` — `{"groupId", "capacity"}`: someone else changes the capacity →
//!   `{"capacity"}`.
//! * `POST /_sim/faults` — one fault command, or an array of them applied together (all or none) →
//!   `{"applied": n}`; the language is in `admin_faults`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use greenfleet_core::cloud::DeploymentGroupRef;
use greenfleet_core::ports::RemoteError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::admin_faults::{apply, parse_command};
use super::admin_setup::DeploymentGroupSetup;
use super::admin_wire::{CapacityWire, GroupSetupWire, GroupStateView, TagWire, decode, group_id, tags};
use super::{AppState, admin_error};

/// Every admin route, as named in errors for paths under `/_sim/` that match none.
pub(super) const ROUTES: &str = "GET /_sim/health, POST /_sim/groups, GET /_sim/groups/{id}, \
                                 POST /_sim/deployment-groups, POST /_sim/instances, GET /_sim/counters, \
                                 POST /_sim/external-capacity, POST /_sim/faults";

/// The admin routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/groups", post(add_group))
        .route("/_sim/groups/{id}", get(group_state))
        .route("/_sim/deployment-groups", post(add_deployment_group))
        .route("/_sim/instances", post(add_instance))
        .route("/_sim/counters", get(counters))
        .route("/_sim/external-capacity", post(external_capacity))
        .route("/_sim/faults", post(faults))
}

/// An admin refusal: rendered as `{"error": message}` with `status`.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        admin_error(self.status, &self.message)
    }
}

type Answer = Result<Response, Refusal>;

fn bad(message: impl Into<String>) -> Refusal {
    Refusal { status: StatusCode::BAD_REQUEST, message: message.into() }
}

fn not_found(message: impl Into<String>) -> Refusal {
    Refusal { status: StatusCode::NOT_FOUND, message: message.into() }
}

/// Decodes the body of `route`, refusing with a 400 that names the route and what was wrong where.
fn body<T: serde::de::DeserializeOwned>(route: &str, bytes: &Bytes) -> Result<T, Refusal> {
    decode(bytes).map_err(|e| bad(format!("{route}: {e}")))
}

async fn health() -> Response {
    axum::Json(json!({ "ok": true })).into_response()
}

async fn add_group(State(state): State<AppState>, bytes: Bytes) -> Answer {
    const ROUTE: &str = "POST /_sim/groups";
    let wire: GroupSetupWire = body(ROUTE, &bytes)?;
    let setup = wire.into_setup().map_err(|e| bad(format!("{ROUTE}: {e}")))?;
    let id = setup.id.clone();
    state.cloud.add_group(setup);
    let group = state.cloud.group_state(&id).ok_or_else(|| not_found(format!("Elastigroup {id} vanished")))?;
    Ok(axum::Json(GroupStateView::from(&group)).into_response())
}

async fn group_state(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let id = group_id("GET /_sim/groups/{id}", &id).map_err(bad)?;
    let group = state.cloud.group_state(&id).ok_or_else(|| not_found(format!("Elastigroup {id} does not exist")))?;
    Ok(axum::Json(GroupStateView::from(&group)).into_response())
}

async fn add_deployment_group(State(state): State<AppState>, bytes: Bytes) -> Answer {
    const ROUTE: &str = "POST /_sim/deployment-groups";
    let setup: DeploymentGroupSetup = body(ROUTE, &bytes)?;
    let (view, ready_wait_minutes) = setup.into_view().map_err(|m| bad(format!("{ROUTE}: {m}")))?;
    let answer = json!({ "application": view.name.application, "deploymentGroup": view.name.deployment_group });
    state.cloud.add_deployment_group(view, ready_wait_minutes);
    Ok(axum::Json(answer).into_response())
}

/// `POST /_sim/instances`: `{"tags": [{"key", "value"}]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an instance {\"tags\": […]}")]
struct LooseInstance {
    tags: Vec<TagWire>,
}

async fn add_instance(State(state): State<AppState>, bytes: Bytes) -> Answer {
    const ROUTE: &str = "POST /_sim/instances";
    let req: LooseInstance = body(ROUTE, &bytes)?;
    let tags = tags("tags", req.tags).map_err(|e| bad(format!("{ROUTE}: {e}")))?;
    let id = state.cloud.add_instance(tags);
    Ok(axum::Json(json!({ "instanceId": id })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CountersQuery {
    group_id: Option<String>,
    application: Option<String>,
    deployment_group: Option<String>,
}

async fn counters(State(state): State<AppState>, query: Result<Query<CountersQuery>, QueryRejection>) -> Answer {
    const ROUTE: &str = "GET /_sim/counters";
    let Query(q) = query.map_err(|e| bad(format!("{ROUTE}: {}", e.body_text())))?;
    let green_starts = match &q.group_id {
        Some(g) => Some(state.cloud.green_starts(&group_id("groupId", g).map_err(|e| bad(format!("{ROUTE}: {e}")))?)),
        None => None,
    };
    let deployments_created = match (q.application, q.deployment_group) {
        (Some(application), Some(deployment_group)) => {
            Some(state.cloud.deployments_created(&DeploymentGroupRef { application, deployment_group }))
        }
        (None, None) => None,
        _ => return Err(bad(format!("{ROUTE}: give both application and deploymentGroup to count deployments"))),
    };
    if green_starts.is_none() && deployments_created.is_none() {
        return Err(bad(format!("{ROUTE}: ask for ?groupId=sig-… and/or ?application=…&deploymentGroup=…")));
    }
    Ok(axum::Json(json!({ "greenStarts": green_starts, "deploymentsCreated": deployments_created })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "a capacity change {\"groupId\", \"capacity\"}")]
struct ExternalCapacity {
    group_id: String,
    capacity: CapacityWire,
}

async fn external_capacity(State(state): State<AppState>, bytes: Bytes) -> Answer {
    const ROUTE: &str = "POST /_sim/external-capacity";
    let req: ExternalCapacity = body(ROUTE, &bytes)?;
    let id = group_id("groupId", &req.group_id).map_err(|e| bad(format!("{ROUTE}: {e}")))?;
    // Spot's own rule judges the capacity (INVALID_CAPACITY), as it would judge the console's change.
    let capacity = req.capacity.into();
    state.cloud.set_capacity_external(&id, capacity).map_err(|e| match e {
        RemoteError::NotFound(m) => not_found(format!("{ROUTE}: {m}")),
        other => bad(format!("{ROUTE}: {other}")),
    })?;
    Ok(axum::Json(json!({ "capacity": CapacityWire::from(capacity) })).into_response())
}

async fn faults(State(state): State<AppState>, bytes: Bytes) -> Answer {
    const ROUTE: &str = "POST /_sim/faults";
    let value: Value = body(ROUTE, &bytes)?;
    let values = match value {
        Value::Array(values) => values,
        single => vec![single],
    };
    let commands = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_command(i + 1, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| bad(format!("{ROUTE}: {m}")))?;
    let applied = commands.len();
    state.cloud.faults(|f| commands.into_iter().for_each(|c| apply(f, c)));
    Ok(axum::Json(json!({ "applied": applied })).into_response())
}
