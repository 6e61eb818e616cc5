//! The Spot REST face: exactly the Elastigroup paths greenfleet's Spot client calls, with Spot's
//! `{"request": …, "response": …}` envelopes (spot-api.md §1–§6). Every call needs
//! `Authorization: Bearer <token>` (the token is checked only when the server was given one).
//! `?accountId=act-…` is required where Spot's definition requires it (`PUT …/capacity`, `GET` and
//! `POST …/codeDeploy/blueGreenDeployment`), optional elsewhere, refused everywhere when it is not an
//! `act-…` id; any account is accepted (the model has one). The model's `RemoteError`s become Spot's
//! answers: Rejected → 400 with `response.errors`; NotFound for a group → 400 `GROUP_DOESNT_EXIST`, as
//! Spot answers it (terraform-provider-spotinst's `ErrCodeGroupNotFound`, seen with HTTP 400 in its
//! issue #7), and any other NotFound → 404; Throttled → 429 with the `X-RateLimit-*` headers;
//! Unavailable → 503.
//!
//! `GET …/status` items carry no tags, as real Spot's: instance tags come from the EC2 face (`ec2`),
//! where CodeDeploy looks too, and where green tags land late (F5).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use greenfleet_core::cloud::{Capacity, DeploymentGroupRef, GreenDeployment, GreenSpec, GroupView, InstanceState};
use greenfleet_core::ids::{ElastigroupId, GreenDeploymentId, InstanceId, Tag};
use greenfleet_core::ports::RemoteError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AppState;
use crate::cloud::Cloud;
use crate::events::{REGION, rfc3339_millis};
use crate::model::Instance;

const KIND_GROUP: &str = "spotinst:aws:ec2:group";
const KIND_CAPACITY: &str = "spotinst:aws:ec2:group:capacity";
const KIND_DETACH: &str = "spotinst:aws:ec2:detachInstances";
const KIND_GREEN: &str = "spotinst:aws:ec2:group:codeDeploy:blueGreenDeployment";
/// `X-RateLimit-Limit` of a 429: Spot publishes no numbers, so this is only plausible.
const RATE_LIMIT: &str = "60";

/// The Spot routes (authorization is checked by the [`SpotCall`] extractor each handler takes).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/aws/ec2/group/{id}", get(get_group))
        .route("/aws/ec2/group/{id}/status", get(get_status))
        .route("/aws/ec2/group/{id}/capacity", put(put_capacity))
        .route("/aws/ec2/group/{id}/detachInstances", put(put_detach))
        .route("/aws/ec2/group/{id}/codeDeploy/blueGreenDeployment", get(get_greens).post(post_green))
        .route("/aws/ec2/group/{id}/codeDeploy/blueGreenDeployment/{deployment}/stop", put(put_stop_green))
}

/// The `request` part of every envelope.
struct Meta {
    id: String,
    url: String,
    method: String,
    timestamp: String,
}

impl Meta {
    fn new(state: &AppState, method: &Method, uri: &Uri) -> Self {
        Self {
            id: state.next_request_id(),
            url: uri.path_and_query().map_or_else(|| uri.path().to_owned(), ToString::to_string),
            method: method.as_str().to_owned(),
            timestamp: rfc3339_millis(state.cloud.now()),
        }
    }

    fn respond(&self, status: StatusCode, response: Value) -> Response {
        let request = json!({ "id": self.id, "url": self.url, "method": self.method, "timestamp": self.timestamp });
        (status, axum::Json(json!({ "request": request, "response": response }))).into_response()
    }

    /// An error envelope: `response.status` plus `response.errors[{code, message}]`.
    fn refuse(&self, status: StatusCode, code: &str, message: &str) -> Response {
        let response = json!({
            "status": status_json(status),
            "errors": [{ "code": code, "message": message }],
        });
        self.respond(status, response)
    }
}

fn status_json(status: StatusCode) -> Value {
    json!({ "code": status.as_u16(), "message": status.canonical_reason().unwrap_or("") })
}

/// One authorized Spot call: the envelope's request part, the `accountId` it named, and the model.
/// Taking it in a handler checks `Authorization: Bearer <token>` first; a missing or wrong token is
/// answered 401 before anything else, then an `accountId` that is not `act-…` is answered 400.
pub(super) struct SpotCall {
    meta: Meta,
    account: Option<String>,
    /// The group the path names (`/aws/ec2/group/{id}/…`), when it is a valid id.
    group: Option<ElastigroupId>,
    cloud: Cloud,
}

/// The `accountId` query parameter, if given.
fn account_param(uri: &Uri) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "accountId")
        .map(|(_, v)| v.to_owned())
}

/// Whether `account` looks like a Spot account id: `act-` and letters or digits.
fn is_account_id(account: &str) -> bool {
    account.strip_prefix("act-").is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl FromRequestParts<AppState> for SpotCall {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let meta = Meta::new(state, &parts.method, &parts.uri);
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
            .map(|(_, token)| token.trim());
        let Some(given) = given else {
            return Err(meta.refuse(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "missing or malformed Authorization header: send `Authorization: Bearer <token>`",
            ));
        };
        if state.expected_token.as_deref().is_some_and(|expected| expected != given) {
            return Err(meta.refuse(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "the Bearer token is not valid for this simulator; use the token it was started with",
            ));
        }
        let account = account_param(&parts.uri);
        if let Some(bad) = account.as_deref().filter(|a| !is_account_id(a)) {
            return Err(meta.refuse(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                &format!(
                    "accountId `{bad}` is not a Spot account id; send the account's id, e.g. accountId=act-1a2b3c4d"
                ),
            ));
        }
        let group = parts.uri.path().split('/').nth(4).and_then(|id| ElastigroupId::parse(id).ok());
        Ok(Self { meta, account, group, cloud: state.cloud.clone() })
    }
}

/// Why a call was refused: the model's error, or the request itself (400 with `code`).
#[derive(Debug)]
enum Refusal {
    Remote(RemoteError),
    Request { code: &'static str, message: String },
}

impl From<RemoteError> for Refusal {
    fn from(e: RemoteError) -> Self {
        Self::Remote(e)
    }
}

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal::Request { code: "VALIDATION_ERROR", message: message.into() }
}

fn group_id(raw: &str) -> Result<ElastigroupId, Refusal> {
    ElastigroupId::parse(raw).map_err(|e| invalid(e.0))
}

/// Parses a JSON body; malformed or empty bodies get a 400 that says what was expected.
fn body<T: DeserializeOwned>(bytes: &Bytes, expected: &str) -> Result<T, Refusal> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid(format!("the request body is empty; expected {expected}")));
    }
    serde_json::from_slice(bytes).map_err(|e| Refusal::Request {
        code: "INVALID_JSON",
        message: format!("the request body cannot be read ({e}); expected {expected}"),
    })
}

/// What a successful call answers: its `kind`, and its items unless it has none (detach, stop).
struct Answer {
    kind: &'static str,
    items: Option<Vec<Value>>,
}

impl SpotCall {
    /// Refuses a call without `accountId` on a path whose definition requires it (spotinst/openapi
    /// `commons/parameters/accountId.yaml`, `required: true`). Spot would otherwise act on the
    /// organization's oldest account; the simulator makes a client that forgets it fail in tests.
    fn account_required(&self) -> Result<(), Refusal> {
        match self.account {
            Some(_) => Ok(()),
            None => Err(invalid(format!(
                "accountId is required on {} {}; send ?accountId=act-… (the account that owns the group)",
                self.meta.method,
                self.meta.url.split('?').next().unwrap_or_default()
            ))),
        }
    }

    /// Runs a call and renders its answer or refusal in Spot's envelope.
    fn answer(&self, call: impl FnOnce(&Cloud) -> Result<Answer, Refusal>) -> Response {
        match call(&self.cloud) {
            Ok(Answer { kind, items: Some(items) }) => {
                let count = items.len();
                let status = status_json(StatusCode::OK);
                self.meta
                    .respond(StatusCode::OK, json!({ "status": status, "kind": kind, "items": items, "count": count }))
            }
            Ok(Answer { kind, items: None }) => {
                self.meta.respond(StatusCode::OK, json!({ "status": status_json(StatusCode::OK), "kind": kind }))
            }
            Err(Refusal::Request { code, message }) => self.meta.refuse(StatusCode::BAD_REQUEST, code, &message),
            Err(Refusal::Remote(e)) => self.remote(e),
        }
    }

    /// A model refusal as Spot would answer it.
    fn remote(&self, error: RemoteError) -> Response {
        match error {
            RemoteError::Rejected { code, message } => self.meta.refuse(StatusCode::BAD_REQUEST, &code, &message),
            RemoteError::NotFound(message)
                if self.group.as_ref().is_some_and(|g| self.cloud.group_state(g).is_none()) =>
            {
                self.meta.refuse(StatusCode::BAD_REQUEST, "GROUP_DOESNT_EXIST", &message)
            }
            // Something else the group does not have (a Blue/Green deployment to stop): Spot documents
            // no answer for it.
            RemoteError::NotFound(message) => self.meta.refuse(StatusCode::NOT_FOUND, "NOT_FOUND", &message),
            RemoteError::Unavailable(message) => {
                self.meta.refuse(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", &message)
            }
            RemoteError::Throttled { retry_after_ms, .. } => {
                let status = StatusCode::TOO_MANY_REQUESTS;
                let mut response =
                    self.meta.respond(status, json!({ "status": status_json(status), "data": "Rate limit exceeded" }));
                let reset = retry_after_ms.map_or(1, |ms| ms.div_ceil(1_000)).max(1);
                let headers = response.headers_mut();
                headers.insert("x-ratelimit-limit", HeaderValue::from_static(RATE_LIMIT));
                headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
                headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
                response
            }
        }
    }
}

/// A 404/405 for a path or method no route serves, in Spot's envelope.
pub(super) fn unrouted(state: &AppState, method: &Method, uri: &Uri, status: StatusCode) -> Response {
    let meta = Meta::new(state, method, uri);
    let message = if status == StatusCode::NOT_FOUND {
        format!("no Spot route {}; the simulator serves the Elastigroup paths greenfleet calls", uri.path())
    } else {
        format!("{} does not accept {method}", uri.path())
    };
    meta.refuse(status, if status == StatusCode::NOT_FOUND { "NOT_FOUND" } else { "METHOD_NOT_ALLOWED" }, &message)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTag {
    tag_key: String,
    tag_value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDeploymentGroup {
    application_name: String,
    deployment_group_name: String,
}

fn wire_tags(tags: &[Tag]) -> Vec<Value> {
    tags.iter().map(|t| json!({ "tagKey": t.key, "tagValue": t.value })).collect()
}

fn wire_deployment_group(g: &DeploymentGroupRef) -> Value {
    json!({ "applicationName": g.application, "deploymentGroupName": g.deployment_group })
}

fn group_item(g: &GroupView) -> Value {
    let c = g.capacity;
    let mut item = json!({
        "id": g.id,
        "name": g.name,
        "region": REGION,
        "capacity": { "minimum": c.minimum, "maximum": c.maximum, "target": c.target, "unit": "instance" },
        "compute": { "launchSpecification": { "tags": wire_tags(&g.tags) } },
    });
    if !g.codedeploy.is_empty() {
        item["thirdPartiesIntegration"] = json!({ "codeDeploy": {
            "cleanUpOnFailure": false,
            "terminateInstanceOnFailure": false,
            "deploymentGroups": g.codedeploy.iter().map(wire_deployment_group).collect::<Vec<_>>(),
        }});
    }
    item
}

fn instance_item(group: &ElastigroupId, i: &Instance) -> Value {
    let status = match i.state {
        InstanceState::Pending => "pending",
        InstanceState::Running => "fulfilled",
        InstanceState::Terminating => "terminating",
    };
    let id = i.id.as_str();
    let suffix = id.get(id.len().saturating_sub(8)..).unwrap_or(id);
    json!({
        "spotInstanceRequestId": format!("sir-{suffix}"),
        "instanceId": id,
        "instanceType": "t3.micro",
        "product": "Linux/UNIX",
        "groupId": group,
        "availabilityZone": format!("{REGION}a"),
        "privateIp": i.ip,
        "createdAt": rfc3339_millis(i.created_at),
        "status": status,
        "lockStatus": "unlocked",
        "protectedUntil": null,
    })
}

fn green_item(group: &ElastigroupId, view: &GreenDeployment, timeout: u32, dg: &DeploymentGroupRef) -> Value {
    json!({
        "id": view.id,
        "groupId": group,
        "state": view.state.as_str(),
        "config": {
            "timeout": timeout,
            "tags": wire_tags(&view.tags),
            "deploymentGroups": [wire_deployment_group(dg)],
        },
    })
}

async fn get_group(call: SpotCall, Path(id): Path<String>) -> Response {
    call.answer(|cloud| {
        let id = group_id(&id)?;
        let group = cloud.call("group", |m| m.group_view(&id))?;
        Ok(Answer { kind: KIND_GROUP, items: Some(vec![group_item(&group)]) })
    })
}

async fn get_status(call: SpotCall, Path(id): Path<String>) -> Response {
    call.answer(|cloud| {
        let id = group_id(&id)?;
        let items =
            cloud.call("instances", |m| Ok(m.group(&id)?.instances.iter().map(|i| instance_item(&id, i)).collect()))?;
        Ok(Answer { kind: KIND_GROUP, items: Some(items) })
    })
}

/// `{"capacity": {minimum?, maximum?, target?}}`: fields left out keep their current value.
#[derive(Debug, Deserialize)]
struct CapacityBody {
    capacity: Option<CapacityPatch>,
}

#[derive(Debug, Deserialize)]
struct CapacityPatch {
    minimum: Option<u32>,
    maximum: Option<u32>,
    target: Option<u32>,
}

async fn put_capacity(call: SpotCall, Path(id): Path<String>, bytes: Bytes) -> Response {
    call.answer(|cloud| {
        call.account_required()?;
        let id = group_id(&id)?;
        let expected = r#"{"capacity":{"minimum":1,"maximum":2,"target":1}}"#;
        let body: CapacityBody = body(&bytes, expected)?;
        let patch = body.capacity.ok_or_else(|| invalid(format!("`capacity` is missing; expected {expected}")))?;
        let capacity = cloud.call("set_capacity", |m| {
            let current = m.group(&id)?.capacity;
            let capacity = Capacity {
                minimum: patch.minimum.unwrap_or(current.minimum),
                maximum: patch.maximum.unwrap_or(current.maximum),
                target: patch.target.unwrap_or(current.target),
            };
            m.set_capacity(&id, capacity).map(|()| capacity)
        })?;
        // Items are `{"capacity": {…}}`: the definition's schema (capacity.yaml) and the Java SDK's
        // ApiElastigroupUpdateCapacityResponse agree on it.
        let item = json!({
            "capacity": { "minimum": capacity.minimum, "maximum": capacity.maximum, "target": capacity.target },
        });
        Ok(Answer { kind: KIND_CAPACITY, items: Some(vec![item]) })
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetachBody {
    instances_to_detach: Option<Vec<String>>,
    should_terminate_instances: Option<bool>,
    should_decrement_target_capacity: Option<bool>,
    // `drainingTimeout` (seconds) is accepted and ignored: the model terminates without draining.
}

async fn put_detach(call: SpotCall, Path(id): Path<String>, bytes: Bytes) -> Response {
    call.answer(|cloud| {
        let id = group_id(&id)?;
        let expected = concat!(
            r#"{"instancesToDetach":["i-…"],"shouldTerminateInstances":true,"#,
            r#""shouldDecrementTargetCapacity":true,"drainingTimeout":300}"#
        );
        let body: DetachBody = body(&bytes, expected)?;
        let raw = body
            .instances_to_detach
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid(format!("`instancesToDetach` is missing or empty; expected {expected}")))?;
        if body.should_terminate_instances != Some(true) || body.should_decrement_target_capacity != Some(true) {
            return Err(invalid(
                "the simulator models detaching only with `shouldTerminateInstances: true` and \
                 `shouldDecrementTargetCapacity: true`; send both",
            ));
        }
        let ids = raw
            .iter()
            .map(|i| InstanceId::parse(i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("instancesToDetach: {e}")))?;
        cloud.call("detach", |m| m.detach(&id, &ids))?;
        Ok(Answer { kind: KIND_DETACH, items: None })
    })
}

/// `{"deployment": {timeout, tags, deploymentGroups}}`.
#[derive(Debug, Deserialize)]
struct GreenBody {
    deployment: Option<GreenBodySpec>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GreenBodySpec {
    timeout: Option<u32>,
    tags: Option<Vec<WireTag>>,
    deployment_groups: Option<Vec<WireDeploymentGroup>>,
}

fn green_spec(bytes: &Bytes) -> Result<GreenSpec, Refusal> {
    let expected = concat!(
        r#"{"deployment":{"timeout":20,"tags":[{"tagKey":"ver","tagValue":"pink"}],"#,
        r#""deploymentGroups":[{"applicationName":"app","deploymentGroupName":"dg"}]}}"#
    );
    let body: GreenBody = body(bytes, expected)?;
    let spec = body.deployment.ok_or_else(|| {
        invalid(format!("`deployment` is missing (the wrapper key is `deployment`); expected {expected}"))
    })?;
    let timeout_minutes = spec.timeout.ok_or_else(|| invalid("`deployment.timeout` (minutes) is missing"))?;
    let tags = spec
        .tags
        .unwrap_or_default()
        .iter()
        .map(|t| Tag::new(&t.tag_key, &t.tag_value))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("deployment.tags: {e}")))?;
    let mut groups = spec.deployment_groups.unwrap_or_default();
    if groups.len() != 1 {
        return Err(invalid(format!(
            "`deployment.deploymentGroups` has {} entries; the simulator deploys through exactly one",
            groups.len()
        )));
    }
    let g = groups.remove(0);
    let deployment_group =
        DeploymentGroupRef { application: g.application_name, deployment_group: g.deployment_group_name };
    Ok(GreenSpec { timeout_minutes, tags, deployment_group })
}

async fn post_green(call: SpotCall, Path(id): Path<String>, bytes: Bytes) -> Response {
    call.answer(|cloud| {
        call.account_required()?;
        let id = group_id(&id)?;
        let spec = green_spec(&bytes)?;
        let view = cloud.call("start_green", |m| m.start_green(&id, &spec))?;
        let item = green_item(&id, &view, spec.timeout_minutes, &spec.deployment_group);
        Ok(Answer { kind: KIND_GREEN, items: Some(vec![item]) })
    })
}

/// Every Blue/Green deployment of the group, latest first (`items[0]` is the current one).
async fn get_greens(call: SpotCall, Path(id): Path<String>) -> Response {
    call.answer(|cloud| {
        call.account_required()?;
        let id = group_id(&id)?;
        let items = cloud.call("green", |m| {
            let g = m.group(&id)?;
            Ok(g.greens
                .iter()
                .rev()
                .map(|bg| green_item(&id, &bg.view, bg.timeout_minutes, &bg.deployment_group))
                .collect())
        })?;
        Ok(Answer { kind: KIND_GREEN, items: Some(items) })
    })
}

async fn put_stop_green(call: SpotCall, Path((id, deployment)): Path<(String, String)>) -> Response {
    call.answer(|cloud| {
        let id = group_id(&id)?;
        let deployment = GreenDeploymentId::parse(&deployment).map_err(|e| invalid(e.0))?;
        cloud.call("stop_green", |m| m.stop_green(&id, &deployment))?;
        Ok(Answer { kind: KIND_GREEN, items: None })
    })
}
