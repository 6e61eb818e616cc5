//! The CodeDeploy face: AWS JSON 1.1 (`POST /`, `X-Amz-Target: CodeDeploy_20141006.<Operation>`,
//! `application/x-amz-json-1.1`), serving the operations aws-sdk-codedeploy sends for greenfleet.
//! Member names follow the service model (`deploymentGroupInfo`, `ec2TagFilters[{Key,Value,Type}]`,
//! `deploymentOverview{Pending,InProgress,…}`, `createTime` in epoch seconds). SigV4 is not checked.
//!
//! Errors are HTTP 400 with `{"__type": "<Code>", "message": "…"}` (500 `InternalFailure` for an
//! unavailable model). Each operation consumes the scripted faults of one port operation:
//! GetDeploymentGroup `deployment_group`, CreateDeployment `create`, GetDeployment `get`,
//! ListDeployments `find` (its first page), ContinueDeployment `continue_deployment`, StopDeployment
//! `stop`; later ListDeployments pages and BatchGetDeployments none, so that one `find` through the SDK
//! (List pages + BatchGet) consumes one fault.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use greenfleet_core::cloud::{DeploymentGroupRef, DeploymentSpec, DeploymentStatus};
use greenfleet_core::ids::{DeploymentId, Tag, Timestamp};
use greenfleet_core::ports::RemoteError;
use greenfleet_core::request::{BundleType, GitHubRevision, Revision, S3Revision};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AppState;
use super::deployment_groups as groups;
use crate::cloud::Cloud;
use crate::model::{Deployment, Model, TargetState};

const TARGET_PREFIX: &str = "CodeDeploy_20141006.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// BatchGetDeployments takes at most this many ids.
const BATCH_LIMIT: usize = 25;
/// Deployment ids per ListDeployments page: small, so that paging is exercised (CodeDeploy's own page
/// size is not documented).
const LIST_PAGE: usize = 3;
/// How the simulator's (opaque to clients) `nextToken` starts; the offset of the next page follows.
const NEXT_TOKEN_PREFIX: &str = "gf-list-";
pub(super) const DEPLOYMENT_CONFIG: &str = "CodeDeployDefault.OneAtATime";
const OPERATIONS: &str = "GetDeploymentGroup, UpdateDeploymentGroup, CreateDeployment, GetDeployment, ListDeployments, \
                          BatchGetDeployments, ContinueDeployment, StopDeployment";

/// The single route of the CodeDeploy (and EC2) face.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/", post(dispatch))
}

/// A CodeDeploy error answer.
#[derive(Debug)]
pub(super) struct Fault {
    status: StatusCode,
    code: String,
    message: String,
}

impl Fault {
    pub(super) fn client(code: &str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: code.to_owned(), message: message.into() }
    }
}

/// What a `NotFound` from the model was about.
pub(super) enum Missing<'a> {
    /// A deployment group (or its whole application).
    Group(&'a str),
    /// A deployment.
    Deployment,
}

/// A model refusal as CodeDeploy would answer it.
pub(super) fn from_remote(cloud: &Cloud, error: RemoteError, missing: &Missing<'_>) -> Fault {
    match error {
        RemoteError::Rejected { code, message } => Fault::client(&code, message),
        RemoteError::NotFound(message) => match missing {
            Missing::Group(app) if !application_exists(cloud, app) => {
                Fault::client("ApplicationDoesNotExistException", format!("No application found for name: {app}"))
            }
            Missing::Group(_) => Fault::client("DeploymentGroupDoesNotExistException", message),
            Missing::Deployment => Fault::client("DeploymentDoesNotExistException", message),
        },
        RemoteError::Throttled { message, .. } => {
            Fault::client("ThrottlingException", format!("Rate exceeded: {message}"))
        }
        RemoteError::Unavailable(message) => {
            Fault { status: StatusCode::INTERNAL_SERVER_ERROR, code: "InternalFailure".to_owned(), message }
        }
    }
}

fn application_exists(cloud: &Cloud, app: &str) -> bool {
    cloud.lock().deployment_groups.keys().any(|g| g.application == app)
}

/// `POST /`: CodeDeploy's JSON 1.1 (with `X-Amz-Target`), or EC2's query protocol (a form body).
async fn dispatch(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form && !headers.contains_key("x-amz-target") {
        return super::ec2::dispatch(&state, &body);
    }
    let (status, body) = match handle(&state.cloud, &headers, &body) {
        Ok(out) => (StatusCode::OK, out),
        Err(f) => (f.status, json!({ "__type": f.code, "message": f.message })),
    };
    let mut response = (status, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(&state.next_request_id()) {
        h.insert("x-amzn-requestid", id);
    }
    response
}

fn handle(cloud: &Cloud, headers: &HeaderMap, body: &Bytes) -> Result<Value, Fault> {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let op = target.strip_prefix(TARGET_PREFIX).ok_or_else(|| {
        Fault::client(
            "UnknownOperationException",
            format!(
                "X-Amz-Target `{target}` is not a CodeDeploy_20141006 operation; send `{TARGET_PREFIX}<Operation>`"
            ),
        )
    })?;
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| Fault::client("SerializationException", format!("the {op} request body is not JSON: {e}")))?
    };
    match op {
        "GetDeploymentGroup" => groups::get_deployment_group(cloud, parse(op, input)?),
        "UpdateDeploymentGroup" => groups::update_deployment_group(cloud, parse(op, input)?),
        "CreateDeployment" => create_deployment(cloud, parse(op, input)?),
        "GetDeployment" => get_deployment(cloud, parse(op, input)?),
        "ListDeployments" => list_deployments(cloud, parse(op, input)?),
        "BatchGetDeployments" => batch_get_deployments(cloud, parse(op, input)?),
        "ContinueDeployment" => continue_deployment(cloud, parse(op, input)?),
        "StopDeployment" => stop_deployment(cloud, parse(op, input)?),
        other => Err(Fault::client(
            "UnknownOperationException",
            format!("operation {other} is not simulated; the simulator serves {OPERATIONS}"),
        )),
    }
}

fn parse<T: DeserializeOwned>(op: &str, input: Value) -> Result<T, Fault> {
    serde_json::from_value(input)
        .map_err(|e| Fault::client("SerializationException", format!("cannot read the {op} request: {e}")))
}

/// A required string member: missing, `null` and empty all answer `code`.
fn required(value: Option<String>, code: &str, member: &str) -> Result<String, Fault> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| Fault::client(code, format!("{member} is required")))
}

pub(super) fn group_ref(application: Option<String>, group: Option<String>) -> Result<DeploymentGroupRef, Fault> {
    let application = required(application, "ApplicationNameRequiredException", "applicationName")?;
    let deployment_group = required(group, "DeploymentGroupNameRequiredException", "deploymentGroupName")?;
    Ok(DeploymentGroupRef { application, deployment_group })
}

fn deployment_id(raw: Option<String>) -> Result<DeploymentId, Fault> {
    let raw = required(raw, "DeploymentIdRequiredException", "deploymentId")?;
    DeploymentId::parse(&raw).map_err(|e| Fault::client("InvalidDeploymentIdException", e.0))
}

/// Epoch seconds, as JSON 1.1 writes timestamps.
#[allow(clippy::cast_precision_loss)] // milliseconds since 1970 fit an f64 exactly for millennia
fn epoch_seconds(t: greenfleet_core::ids::Timestamp) -> Value {
    json!(t.0 as f64 / 1_000.0)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    application_name: Option<String>,
    deployment_group_name: Option<String>,
    revision: Option<RevisionIn>,
    description: Option<String>,
    target_instances: Option<TargetInstancesIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevisionIn {
    revision_type: Option<String>,
    s3_location: Option<S3LocationIn>,
    git_hub_location: Option<GitHubLocationIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3LocationIn {
    bucket: Option<String>,
    key: Option<String>,
    bundle_type: Option<String>,
    version: Option<String>,
    e_tag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GitHubLocationIn {
    repository: Option<String>,
    commit_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetInstancesIn {
    tag_filters: Option<Vec<TagFilterIn>>,
    auto_scaling_groups: Option<Vec<String>>,
    ec2_tag_set: Option<Value>,
}

/// `EC2TagFilter`: the model capitalizes these members.
#[derive(Debug, Deserialize)]
pub(super) struct TagFilterIn {
    #[serde(rename = "Key")]
    pub(super) key: Option<String>,
    #[serde(rename = "Value")]
    pub(super) value: Option<String>,
    #[serde(rename = "Type")]
    pub(super) kind: Option<String>,
}

fn revision(input: Option<RevisionIn>) -> Result<Revision, Fault> {
    let invalid = |m: String| Fault::client("InvalidRevisionException", m);
    let r = input.ok_or_else(|| Fault::client("RevisionRequiredException", "revision is required"))?;
    match r.revision_type.as_deref() {
        Some("S3") => {
            let s3 = r.s3_location.ok_or_else(|| invalid("revisionType S3 needs s3Location".into()))?;
            let bucket =
                s3.bucket.filter(|b| !b.is_empty()).ok_or_else(|| invalid("s3Location.bucket is required".into()))?;
            let key = s3.key.filter(|k| !k.is_empty()).ok_or_else(|| invalid("s3Location.key is required".into()))?;
            let raw = s3.bundle_type.unwrap_or_default();
            let bundle_type: BundleType = serde_json::from_value(json!(raw)).map_err(|_| {
                Fault::client(
                    "InvalidBundleTypeException",
                    format!("s3Location.bundleType `{raw}` is not one of zip, tar, tgz, YAML, JSON"),
                )
            })?;
            Ok(Revision::S3(S3Revision { bucket, key, bundle_type, version: s3.version, e_tag: s3.e_tag }))
        }
        Some("GitHub") => {
            let gh = r.git_hub_location.ok_or_else(|| invalid("revisionType GitHub needs gitHubLocation".into()))?;
            let repository = gh.repository.filter(|s| !s.is_empty());
            let commit_id = gh.commit_id.filter(|s| !s.is_empty());
            match (repository, commit_id) {
                (Some(repository), Some(commit_id)) => Ok(Revision::GitHub(GitHubRevision { repository, commit_id })),
                _ => Err(invalid("gitHubLocation needs repository and commitId".into())),
            }
        }
        other => Err(invalid(format!(
            "revisionType {} is not simulated; use S3 or GitHub",
            other.map_or_else(|| "(missing)".to_owned(), |t| format!("`{t}`"))
        ))),
    }
}

/// Green instances carry every one of these tags: only KEY_AND_VALUE tag filters are simulated.
fn target_tags(input: Option<TargetInstancesIn>) -> Result<Vec<Tag>, Fault> {
    let invalid = |m: String| Fault::client("InvalidTargetInstancesException", m);
    let Some(t) = input else { return Ok(Vec::new()) };
    if t.auto_scaling_groups.is_some_and(|a| !a.is_empty()) || t.ec2_tag_set.is_some_and(|s| !s.is_null()) {
        return Err(invalid(
            "the simulator selects green instances by targetInstances.tagFilters only, \
             not autoScalingGroups or ec2TagSet"
                .into(),
        ));
    }
    t.tag_filters
        .unwrap_or_default()
        .into_iter()
        .map(|f| match (f.kind.as_deref(), f.key, f.value) {
            (Some("KEY_AND_VALUE") | None, Some(key), Some(value)) => {
                Tag::new(&key, &value).map_err(|e| Fault::client("InvalidTagException", e.0))
            }
            (kind, key, _) => Err(invalid(format!(
                "tag filter {} of type {} is not simulated; give Key, Value and Type KEY_AND_VALUE",
                key.unwrap_or_default(),
                kind.unwrap_or("(none)")
            ))),
        })
        .collect()
}

fn create_deployment(cloud: &Cloud, input: CreateInput) -> Result<Value, Fault> {
    let group = group_ref(input.application_name, input.deployment_group_name)?;
    let spec = DeploymentSpec {
        revision: revision(input.revision)?,
        target_tags: target_tags(input.target_instances)?,
        description: input.description.unwrap_or_default(),
        group,
        created_after: Timestamp::default(),
    };
    let id = cloud
        .call("create", |m| m.create_deployment(&spec))
        .map_err(|e| from_remote(cloud, e, &Missing::Group(&spec.group.application)))?;
    Ok(json!({ "deploymentId": id }))
}

fn revision_json(revision: &Revision) -> Value {
    match revision {
        Revision::S3(s3) => {
            let mut location = json!({ "bucket": s3.bucket, "key": s3.key, "bundleType": s3.bundle_type.as_str() });
            if let Some(v) = &s3.version {
                location["version"] = json!(v);
            }
            if let Some(e) = &s3.e_tag {
                location["eTag"] = json!(e);
            }
            json!({ "revisionType": "S3", "s3Location": location })
        }
        Revision::GitHub(gh) => json!({
            "revisionType": "GitHub",
            "gitHubLocation": { "repository": gh.repository, "commitId": gh.commit_id },
        }),
    }
}

fn target_filter_json(t: &Tag) -> Value {
    json!({ "Key": t.key, "Value": t.value, "Type": "KEY_AND_VALUE" })
}

/// `deploymentInfo` of one deployment.
fn deployment_info(m: &Model, d: &Deployment) -> Value {
    let count = |s: TargetState| d.targets.iter().filter(|(_, t)| *t == s).count();
    let mut info = json!({
        "applicationName": d.group.application,
        "deploymentGroupName": d.group.deployment_group,
        "deploymentConfigName": DEPLOYMENT_CONFIG,
        "deploymentId": d.id,
        "revision": revision_json(&d.revision),
        "status": d.status.as_str(),
        "createTime": epoch_seconds(d.created_at),
        "deploymentOverview": {
            "Pending": 0,
            "InProgress": count(TargetState::InProgress),
            "Succeeded": count(TargetState::Succeeded),
            "Failed": count(TargetState::Failed),
            "Skipped": count(TargetState::Skipped),
            "Ready": count(TargetState::Ready),
        },
        "description": d.description,
        "creator": if d.rollback_of.is_some() { "codeDeployRollback" } else { "user" },
        "ignoreApplicationStopFailures": false,
        "updateOutdatedInstancesOnly": false,
        "targetInstances": { "tagFilters": d.target_tags.iter().map(target_filter_json).collect::<Vec<_>>() },
        "instanceTerminationWaitTimeStarted": false,
        "fileExistsBehavior": "DISALLOW",
        "computePlatform": "Server",
    });
    if let Some((code, message)) = &d.error {
        info["errorInformation"] = json!({ "code": code, "message": message });
    }
    if let Some(by) = &d.rolled_back_by {
        info["rollbackInfo"] = json!({ "rollbackDeploymentId": by, "rollbackMessage": format!("Rolled back by {by}") });
    } else if let Some(of) = &d.rollback_of {
        info["rollbackInfo"] = json!({ "rollbackTriggeringDeploymentId": of });
    }
    if let Some(t) = d.started_at {
        info["startTime"] = epoch_seconds(t);
    }
    if let Some(t) = d.completed_at {
        info["completeTime"] = epoch_seconds(t);
    }
    if let Some(g) = m.deployment_groups.get(&d.group) {
        info["deploymentStyle"] = groups::deployment_style(&g.view);
        if let Some(bg) = groups::blue_green_configuration(g) {
            info["blueGreenDeploymentConfiguration"] = bg;
        }
    }
    info
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentInput {
    deployment_id: Option<String>,
    deployment_wait_type: Option<String>,
    auto_rollback_enabled: Option<bool>,
}

fn get_deployment(cloud: &Cloud, input: DeploymentInput) -> Result<Value, Fault> {
    let id = deployment_id(input.deployment_id)?;
    let info = cloud
        .call("get", |m| m.deployment_index(&id).map(|i| deployment_info(m, &m.deployments[i])))
        .map_err(|e| from_remote(cloud, e, &Missing::Deployment))?;
    Ok(json!({ "deploymentInfo": info }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    application_name: Option<String>,
    deployment_group_name: Option<String>,
    include_only_statuses: Option<Vec<String>>,
    create_time_range: Option<TimeRange>,
    next_token: Option<String>,
}

/// Epoch seconds, either end open.
#[derive(Debug, Deserialize)]
struct TimeRange {
    start: Option<f64>,
    end: Option<f64>,
}

/// Deployment ids of one deployment group (or of one application, or of all), a page at a time.
/// CodeDeploy documents neither an order nor a page size (botocore's model: `nextToken` in, `nextToken`
/// out while more remain): the simulator lists oldest first, [`LIST_PAGE`] at a time, so a client that
/// reads only the first page, or takes the first id for the newest, fails here as it would there.
fn list_deployments(cloud: &Cloud, input: ListInput) -> Result<Value, Fault> {
    let app = input.application_name.filter(|a| !a.is_empty());
    let group = input.deployment_group_name.filter(|g| !g.is_empty());
    if group.is_some() && app.is_none() {
        return Err(Fault::client(
            "ApplicationNameRequiredException",
            "applicationName is required with deploymentGroupName",
        ));
    }
    let statuses = input.include_only_statuses.unwrap_or_default();
    if let Some(bad) = statuses.iter().find(|s| matches!(DeploymentStatus::parse(s), DeploymentStatus::Other(_))) {
        return Err(Fault::client("InvalidDeploymentStatusException", format!("`{bad}` is not a deployment status")));
    }
    let (start, end) = input.create_time_range.map_or((None, None), |r| (r.start, r.end));
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(Fault::client("InvalidTimeRangeException", "createTimeRange: start is after end"));
    }
    let offset = input
        .next_token
        .map(|t| {
            t.strip_prefix(NEXT_TOKEN_PREFIX).and_then(|n| n.parse::<usize>().ok()).ok_or_else(|| {
                Fault::client(
                    "InvalidNextTokenException",
                    format!(
                        "nextToken `{t}` is not one this simulator gave; send the previous page's nextToken unchanged"
                    ),
                )
            })
        })
        .transpose()?;
    let select = |m: &mut Model| {
        if let (Some(app), Some(group)) = (&app, &group) {
            m.deployment_group(&DeploymentGroupRef { application: app.clone(), deployment_group: group.clone() })?;
        } else if let Some(app) = &app
            && !m.deployment_groups.keys().any(|g| &g.application == app)
        {
            return Err(RemoteError::NotFound(format!("No application found for name: {app}")));
        }
        Ok(m.deployments
            .iter()
            .filter(|d| app.as_ref().is_none_or(|a| &d.group.application == a))
            .filter(|d| group.as_ref().is_none_or(|g| &d.group.deployment_group == g))
            .filter(|d| statuses.is_empty() || statuses.iter().any(|s| s == d.status.as_str()))
            .filter(|d| in_range(d, start, end))
            .map(|d| d.id.as_str().to_owned())
            .collect::<Vec<String>>())
    };
    // The first page is the port's `find` (it consumes a scripted fault); the pages after it continue
    // that call and consume none, like BatchGetDeployments.
    let ids = match offset {
        None => cloud.call("find", select),
        Some(_) => {
            let mut model = cloud.lock();
            select(&mut model)
        }
    }
    .map_err(|e| from_remote(cloud, e, &Missing::Group(app.as_deref().unwrap_or_default())))?;
    let from = offset.unwrap_or(0).min(ids.len());
    let to = (from + LIST_PAGE).min(ids.len());
    let mut page = json!({ "deployments": ids[from..to] });
    if to < ids.len() {
        page["nextToken"] = json!(format!("{NEXT_TOKEN_PREFIX}{to}"));
    }
    Ok(page)
}

#[allow(clippy::cast_precision_loss)] // see epoch_seconds
fn in_range(d: &Deployment, start: Option<f64>, end: Option<f64>) -> bool {
    let t = d.created_at.0 as f64 / 1_000.0;
    start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchInput {
    deployment_ids: Option<Vec<String>>,
}

/// The deployments that exist among the ids, in the order asked; unknown ids are left out.
fn batch_get_deployments(cloud: &Cloud, input: BatchInput) -> Result<Value, Fault> {
    let raw = input.deployment_ids.filter(|ids| !ids.is_empty()).ok_or_else(|| {
        Fault::client("DeploymentIdRequiredException", "deploymentIds is required and must not be empty")
    })?;
    if raw.len() > BATCH_LIMIT {
        return Err(Fault::client(
            "BatchLimitExceededException",
            format!("{} deployment ids were given; at most {BATCH_LIMIT} are allowed", raw.len()),
        ));
    }
    let ids = raw.into_iter().map(|r| deployment_id(Some(r))).collect::<Result<Vec<_>, _>>()?;
    let m = cloud.lock();
    let infos: Vec<Value> = ids
        .iter()
        .filter_map(|id| m.deployment_index(id).ok())
        .map(|i| deployment_info(&m, &m.deployments[i]))
        .collect();
    Ok(json!({ "deploymentsInfo": infos }))
}

fn continue_deployment(cloud: &Cloud, input: DeploymentInput) -> Result<Value, Fault> {
    let id = deployment_id(input.deployment_id)?;
    let termination_wait = match input.deployment_wait_type.as_deref() {
        None | Some("READY_WAIT") => false,
        Some("TERMINATION_WAIT") => true,
        Some(other) => {
            return Err(Fault::client(
                "InvalidDeploymentWaitTypeException",
                format!("deploymentWaitType `{other}` is not READY_WAIT or TERMINATION_WAIT"),
            ));
        }
    };
    cloud
        .call("continue_deployment", |m| {
            if !termination_wait {
                return m.continue_deployment(&id);
            }
            // The model ends blue at once on success: no deployment ever waits to terminate it.
            let d = &m.deployments[m.deployment_index(&id)?];
            let (code, message) = if d.status.is_terminal() {
                ("DeploymentAlreadyCompletedException", format!("The deployment {id} has already completed"))
            } else {
                (
                    "DeploymentIsNotInReadyStateException",
                    format!("The deployment {id} is not waiting to terminate the original instances"),
                )
            };
            Err(RemoteError::Rejected { code: code.to_owned(), message })
        })
        .map_err(|e| from_remote(cloud, e, &Missing::Deployment))?;
    Ok(json!({}))
}

fn stop_deployment(cloud: &Cloud, input: DeploymentInput) -> Result<Value, Fault> {
    let id = deployment_id(input.deployment_id)?;
    // Like CodeDeploy, no rollback unless asked for (the deployment group's own rollback settings are
    // not modelled).
    let rollback = input.auto_rollback_enabled.unwrap_or(false);
    cloud
        .call("stop", |m| m.stop_deployment(&id, rollback))
        .map_err(|e| from_remote(cloud, e, &Missing::Deployment))?;
    Ok(json!({ "status": "Succeeded", "statusMessage": format!("Deployment {id} stopped") }))
}
