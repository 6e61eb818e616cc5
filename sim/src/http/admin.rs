//! The admin face under `/_sim/`: what a test (or the docker-compose demo) does to the world that no
//! real API offers. Bodies are JSON; errors are `{"error": "…"}` with 400 (bad input) or 404.
//!
//! * `GET  /_sim/health` → `{"ok": true}`, for readiness checks.
//! * `POST /_sim/groups` — a [`crate::GroupSetup`] (camelCase: `id`, `name`, `capacity{minimum,maximum,target}`,
//!   `groupTags[{key,value}]`, `blueTags`, `codedeploy[{application,deployment_group}]`; unknown fields are
//!   refused) → the group's state.
//! * `GET  /_sim/groups/{id}` → [`crate::GroupState`] (`capacity`, `instances`, `green`).
//! * `POST /_sim/deployment-groups` — a deployment group in camelCase with CodeDeploy's spellings
//!   (`application`, `deploymentGroup`, `deploymentType: BLUE_GREEN`, `greenFleetProvisioning`, `blueAction`,
//!   `readyAction`, `readyWaitMinutes`, `ec2TagFilters[{key,value,type}]` or `ec2TagSet[[…]]`, `loadBalancer`);
//!   see `admin_setup`.
//! * `POST /_sim/instances` — `{"tags": [{key,value}]}`: a running EC2 instance outside every Elastigroup
//!   (another application's, a leftover), which CodeDeploy's tag filters see too → `{"instanceId"}`.
//! * `GET  /_sim/counters?group=sig-…&application=…&deploymentGroup=…` → `{greenStarts, deploymentsCreated}`
//!   (`null` for what was not asked).
//! * `POST /_sim/external-capacity` — `{"groupId", "capacity"}`: someone else changes the capacity.
//! * `POST /_sim/faults` — one fault command, or an array of them applied together (all or none). Each is an
//!   object with one key: `failDeployments{application,deploymentGroup,code?,message?}`,
//!   `hangDeployments{application,deploymentGroup}`, `clearDeployments{application,deploymentGroup}`,
//!   `dropAllEvents: bool`, `dropNextEvents: n`, `duplicateNextEvents: n`,
//!   `failNext{op,error,times?}` (`error` is core's `RemoteError` JSON, e.g. `{"Throttled":{"message":"slow
//!   down","retry_after_ms":2000}}` or `{"Unavailable":"…"}`), `loseResponse{op,times?}`,
//!   `delays{greenLaunchMs?,launchMs?,tagMs?,terminateMs?,deploymentStepMs?}`,
//!   `unhealthy{instances?,allGreen?}` (what the instances' health face answers: 503), `greenNeverReady: bool`,
//!   `reset: true` (all knobs back to default).
//!   `op` is one of [`crate::OPS`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use greenfleet_core::cloud::{Capacity, DeploymentGroupRef};
use greenfleet_core::ids::{ElastigroupId, InstanceId, Tag};
use greenfleet_core::ports::RemoteError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::admin_setup::DeploymentGroupSetup;
use super::{AppState, admin_error};
use crate::faults::{Faults, OPS};
use crate::model::GroupSetup;

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

fn bad(message: &str) -> Refusal {
    Refusal { status: StatusCode::BAD_REQUEST, message: message.to_owned() }
}

fn not_found(message: &str) -> Refusal {
    Refusal { status: StatusCode::NOT_FOUND, message: message.to_owned() }
}

fn body<T: DeserializeOwned>(bytes: &Bytes, what: &str) -> Result<T, Refusal> {
    serde_json::from_slice(bytes).map_err(|e| bad(&format!("the body is not a valid {what}: {e}")))
}

fn tags(what: &str, tags: &[Tag]) -> Result<(), Refusal> {
    for t in tags {
        Tag::new(&t.key, &t.value).map_err(|e| bad(&format!("{what}: {e}")))?;
    }
    Ok(())
}

fn group_name(what: &str, g: &DeploymentGroupRef) -> Result<(), Refusal> {
    if g.application.is_empty() || g.deployment_group.is_empty() {
        return Err(bad(&format!("{what}: application and deployment group names must not be empty")));
    }
    Ok(())
}

async fn health() -> Response {
    axum::Json(json!({ "ok": true })).into_response()
}

async fn add_group(State(state): State<AppState>, bytes: Bytes) -> Answer {
    let setup: GroupSetup = body(&bytes, "group setup")?;
    let id = ElastigroupId::parse(setup.id.as_str()).map_err(|e| bad(&e.0))?;
    let c = setup.capacity;
    if !(c.minimum <= c.target && c.target <= c.maximum) {
        return Err(bad(&format!("capacity {c} is invalid: minimum <= target <= maximum must hold")));
    }
    tags("groupTags", &setup.group_tags)?;
    tags("blueTags", &setup.blue_tags)?;
    for g in &setup.codedeploy {
        group_name("codedeploy", g)?;
    }
    state.cloud.add_group(setup);
    Ok(axum::Json(state.cloud.group_state(&id)).into_response())
}

async fn group_state(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let id = ElastigroupId::parse(&id).map_err(|e| bad(&e.0))?;
    let group = state.cloud.group_state(&id).ok_or_else(|| not_found(&format!("Elastigroup {id} does not exist")))?;
    Ok(axum::Json(group).into_response())
}

async fn add_deployment_group(State(state): State<AppState>, bytes: Bytes) -> Answer {
    let setup: DeploymentGroupSetup = body(&bytes, "deployment group setup (see the sim crate's admin_setup module)")?;
    let (view, ready_wait_minutes) = setup.into_view().map_err(|m| bad(&m))?;
    let name = view.name.to_string();
    state.cloud.add_deployment_group(view, ready_wait_minutes);
    Ok(axum::Json(json!({ "deploymentGroup": name })).into_response())
}

/// `POST /_sim/instances`: `{"tags": [{"key", "value"}]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LooseInstance {
    tags: Vec<Tag>,
}

async fn add_instance(State(state): State<AppState>, bytes: Bytes) -> Answer {
    let req: LooseInstance = body(&bytes, r#"instance {"tags": [{"key": "…", "value": "…"}]}"#)?;
    tags("tags", &req.tags)?;
    let id = state.cloud.add_instance(req.tags);
    Ok(axum::Json(json!({ "instanceId": id })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountersQuery {
    group: Option<String>,
    application: Option<String>,
    deployment_group: Option<String>,
}

async fn counters(State(state): State<AppState>, query: Result<Query<CountersQuery>, QueryRejection>) -> Answer {
    let Query(q) = query.map_err(|e| bad(&e.body_text()))?;
    let green_starts = match &q.group {
        Some(g) => Some(state.cloud.green_starts(&ElastigroupId::parse(g).map_err(|e| bad(&e.0))?)),
        None => None,
    };
    let deployments_created = match (q.application, q.deployment_group) {
        (Some(application), Some(deployment_group)) => {
            Some(state.cloud.deployments_created(&DeploymentGroupRef { application, deployment_group }))
        }
        (None, None) => None,
        _ => return Err(bad("give both application and deploymentGroup to count deployments")),
    };
    if green_starts.is_none() && deployments_created.is_none() {
        return Err(bad("ask for ?group=sig-… and/or ?application=…&deploymentGroup=…"));
    }
    Ok(axum::Json(json!({ "greenStarts": green_starts, "deploymentsCreated": deployments_created })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExternalCapacity {
    group_id: String,
    capacity: Capacity,
}

async fn external_capacity(State(state): State<AppState>, bytes: Bytes) -> Answer {
    let req: ExternalCapacity = body(&bytes, r#"capacity change {"groupId": "sig-…", "capacity": {…}}"#)?;
    let id = ElastigroupId::parse(&req.group_id).map_err(|e| bad(&e.0))?;
    state.cloud.set_capacity_external(&id, req.capacity).map_err(|e| match e {
        RemoteError::NotFound(m) => not_found(&m),
        other => bad(&other.to_string()),
    })?;
    Ok(axum::Json(json!({ "capacity": req.capacity })).into_response())
}

/// One fault command: an object with exactly one of these keys.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Command {
    FailDeployments(FailDeployments),
    HangDeployments(GroupName),
    ClearDeployments(GroupName),
    DropAllEvents(bool),
    DropNextEvents(u32),
    DuplicateNextEvents(u32),
    FailNext(FailNext),
    LoseResponse(LoseResponse),
    Delays(Delays),
    Unhealthy(Unhealthy),
    GreenNeverReady(bool),
    Reset(bool),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GroupName {
    application: String,
    deployment_group: String,
}

impl GroupName {
    fn to_ref(&self) -> DeploymentGroupRef {
        DeploymentGroupRef { application: self.application.clone(), deployment_group: self.deployment_group.clone() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FailDeployments {
    application: String,
    deployment_group: String,
    #[serde(default = "default_failure_code")]
    code: String,
    #[serde(default = "default_failure_message")]
    message: String,
}

fn default_failure_code() -> String {
    "HOOK_EXECUTION_FAILURE".to_owned()
}

fn default_failure_message() -> String {
    "The ApplicationStart lifecycle hook failed (simulated)".to_owned()
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailNext {
    op: String,
    error: RemoteError,
    #[serde(default = "one")]
    times: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoseResponse {
    op: String,
    #[serde(default = "one")]
    times: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Delays {
    green_launch_ms: Option<u64>,
    launch_ms: Option<u64>,
    tag_ms: Option<u64>,
    terminate_ms: Option<u64>,
    deployment_step_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Unhealthy {
    #[serde(default)]
    instances: Vec<String>,
    all_green: Option<bool>,
}

/// A command checked against everything that could make applying it fail or panic.
fn parse_command(n: usize, value: Value) -> Result<Command, String> {
    let example = r#"{"dropNextEvents": 2}"#;
    match &value {
        Value::Object(map) if map.len() == 1 => {}
        _ => return Err(format!("fault command #{n} must be an object with exactly one key, e.g. {example}")),
    }
    let command: Command = serde_json::from_value(value).map_err(|e| format!("fault command #{n}: {e}"))?;
    let check_op = |op: &str| {
        if OPS.contains(&op) {
            Ok(())
        } else {
            Err(format!("fault command #{n}: unknown operation `{op}`; expected one of {}", OPS.join(", ")))
        }
    };
    match &command {
        Command::FailNext(f) => check_op(&f.op)?,
        Command::LoseResponse(l) => check_op(&l.op)?,
        Command::Unhealthy(u) => {
            for i in &u.instances {
                InstanceId::parse(i).map_err(|e| format!("fault command #{n}: {e}"))?;
            }
        }
        Command::FailDeployments(FailDeployments { application, deployment_group, .. })
        | Command::HangDeployments(GroupName { application, deployment_group })
        | Command::ClearDeployments(GroupName { application, deployment_group })
            if application.is_empty() || deployment_group.is_empty() =>
        {
            return Err(format!("fault command #{n}: application and deploymentGroup must not be empty"));
        }
        _ => {}
    }
    Ok(command)
}

fn apply(f: &mut Faults, command: Command) {
    match command {
        Command::FailDeployments(c) => {
            let group = DeploymentGroupRef { application: c.application, deployment_group: c.deployment_group };
            f.fail_deployments(&group, &c.code, &c.message);
        }
        Command::HangDeployments(g) => f.hang_deployments(&g.to_ref()),
        Command::ClearDeployments(g) => {
            let group = g.to_ref();
            f.fail_deployments.remove(&group);
            f.hang_deployments.remove(&group);
        }
        Command::DropAllEvents(on) => f.drop_all_events = on,
        Command::DropNextEvents(n) => f.drop_next_events = n,
        Command::DuplicateNextEvents(n) => f.duplicate_next_events = n,
        // The op was checked against OPS in parse_command, so these cannot panic.
        Command::FailNext(c) => f.fail_next(&c.op, c.error, c.times),
        Command::LoseResponse(c) => f.lose_response(&c.op, c.times),
        Command::Delays(d) => {
            let set = |knob: &mut u64, value: Option<u64>| *knob = value.unwrap_or(*knob);
            set(&mut f.green_launch_delay_ms, d.green_launch_ms);
            set(&mut f.launch_delay_ms, d.launch_ms);
            set(&mut f.tag_delay_ms, d.tag_ms);
            set(&mut f.terminate_delay_ms, d.terminate_ms);
            set(&mut f.deployment_step_ms, d.deployment_step_ms);
        }
        Command::Unhealthy(u) => {
            f.unhealthy.extend(u.instances.iter().filter_map(|i| InstanceId::parse(i).ok()));
            if let Some(all) = u.all_green {
                f.all_green_unhealthy = all;
            }
        }
        Command::GreenNeverReady(on) => f.green_never_ready = on,
        Command::Reset(true) => *f = Faults::default(),
        Command::Reset(false) => {}
    }
}

async fn faults(State(state): State<AppState>, bytes: Bytes) -> Answer {
    let value: Value = body(&bytes, "fault command (JSON)")?;
    let values = match value {
        Value::Array(values) => values,
        single => vec![single],
    };
    let commands = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_command(i + 1, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| bad(&m))?;
    let applied = commands.len();
    state.cloud.faults(|f| commands.into_iter().for_each(|c| apply(f, c)));
    Ok(axum::Json(json!({ "applied": applied })).into_response())
}
