//! Spot's JSON, as serde types, and their translation into core's types. Reading is lenient (missing
//! or `null` fields fall back to defaults, unknown fields are ignored) because Spot documents its
//! responses loosely; writing follows spot-api.md exactly.

use serde::{Deserialize, Deserializer, Serialize};
use tracing::debug;

use greenfleet_core::cloud::{
    Capacity, DeploymentGroupRef, GreenDeployment, GreenSpec, GreenState, GroupInstance, GroupView, InstanceState,
};
use greenfleet_core::ids::{ElastigroupId, GreenDeploymentId, InstanceId, Tag};

/// `null` reads as the default, like a missing field.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// `{"request": …, "response": {"status", "kind", "items", "errors"}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope<T> {
    pub(crate) response: ResponseBody<T>,
}

/// The `response` part of the envelope.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub(crate) struct ResponseBody<T> {
    #[serde(default = "Vec::new", deserialize_with = "nullable_vec")]
    pub(crate) items: Vec<T>,
}

fn nullable_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(d).map(Option::unwrap_or_default)
}

/// The envelope of a refusal: `request.id`, `response.errors` and `response.status`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorEnvelope {
    #[serde(default)]
    pub(crate) request: RequestPart,
    #[serde(default)]
    pub(crate) response: ErrorResponse,
}

/// Only the `request` part of an envelope, read from any answer (success, refusal, 429).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RequestOnly {
    #[serde(default)]
    pub(crate) request: RequestPart,
}

/// `request` of an envelope: `id` is Spot's id for the request, which Spot's support asks for.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RequestPart {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) id: String,
}

/// `response` of a refusal.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorResponse {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) errors: Vec<ApiError>,
    #[serde(default)]
    pub(crate) status: Option<ApiStatus>,
}

/// One entry of `response.errors`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) code: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) field: Option<String>,
}

/// `response.status`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) message: String,
}

/// `{"tagKey","tagValue"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireTag {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) tag_key: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) tag_value: String,
}

impl WireTag {
    fn from_core(t: &Tag) -> Self {
        Self { tag_key: t.key.clone(), tag_value: t.value.clone() }
    }

    /// Spot's tags are facts about the world, not user input: kept as they are (even `aws:` keys).
    fn into_core(self) -> Tag {
        Tag { key: self.tag_key, value: self.tag_value }
    }
}

fn core_tags(tags: Vec<WireTag>) -> Vec<Tag> {
    tags.into_iter().filter(|t| !t.tag_key.is_empty()).map(WireTag::into_core).collect()
}

/// `{"applicationName","deploymentGroupName"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireDeploymentGroup {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) application_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) deployment_group_name: String,
}

impl WireDeploymentGroup {
    fn into_core(self) -> DeploymentGroupRef {
        DeploymentGroupRef { application: self.application_name, deployment_group: self.deployment_group_name }
    }
}

/// `capacity` of a group, and the body of `PUT …/capacity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireCapacity {
    pub(crate) minimum: u32,
    pub(crate) maximum: u32,
    pub(crate) target: u32,
}

impl From<Capacity> for WireCapacity {
    fn from(c: Capacity) -> Self {
        Self { minimum: c.minimum, maximum: c.maximum, target: c.target }
    }
}

/// An item of `GET /aws/ec2/group/{id}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupItem {
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    capacity: WireCapacity,
    #[serde(default, deserialize_with = "nullable")]
    compute: Compute,
    #[serde(default, deserialize_with = "nullable")]
    third_parties_integration: Integration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Compute {
    #[serde(default, deserialize_with = "nullable")]
    launch_specification: LaunchSpecification,
}

#[derive(Debug, Default, Deserialize)]
struct LaunchSpecification {
    #[serde(default, deserialize_with = "nullable")]
    tags: Vec<WireTag>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Integration {
    #[serde(default, deserialize_with = "nullable")]
    code_deploy: CodeDeployIntegration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeDeployIntegration {
    #[serde(default, deserialize_with = "nullable")]
    deployment_groups: Vec<WireDeploymentGroup>,
}

impl GroupItem {
    /// The group as core sees it; `id` is the one asked for.
    pub(crate) fn into_core(self, id: &ElastigroupId) -> GroupView {
        let c = self.capacity;
        GroupView {
            id: id.clone(),
            name: self.name,
            capacity: Capacity { minimum: c.minimum, maximum: c.maximum, target: c.target },
            tags: core_tags(self.compute.launch_specification.tags),
            codedeploy: self
                .third_parties_integration
                .code_deploy
                .deployment_groups
                .into_iter()
                .map(WireDeploymentGroup::into_core)
                .collect(),
        }
    }
}

/// An item of `GET /aws/ec2/group/{id}/status`. It has no tags (OpenAPI `items-status-f.yaml`): an
/// instance's tags are read from EC2, where CodeDeploy looks.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InstanceItem {
    #[serde(default)]
    instance_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    status: String,
    #[serde(default)]
    private_ip: Option<String>,
}

/// Spot's instance status → core's three states. Unknown spellings count as not yet running.
pub(crate) fn instance_state(status: &str) -> InstanceState {
    match status.to_ascii_lowercase().as_str() {
        "fulfilled" | "running" => InstanceState::Running,
        "terminating" | "shutting-down" | "terminated" | "stopping" | "stopped" => InstanceState::Terminating,
        _ => InstanceState::Pending,
    }
}

impl InstanceItem {
    /// The instance as core sees it, or `None` while it has no (valid) EC2 id: an open spot request
    /// cannot be checked or detached by id yet.
    pub(crate) fn into_core(self) -> Option<GroupInstance> {
        let raw = self.instance_id?;
        let id = match InstanceId::parse(&raw) {
            Ok(id) => id,
            Err(e) => {
                debug!(instance_id = %raw, error = %e, "skipping a Spot instance entry without a usable id");
                return None;
            }
        };
        Some(GroupInstance {
            id,
            state: instance_state(&self.status),
            private_ip: self.private_ip.filter(|ip| !ip.is_empty()),
        })
    }
}

/// An item of `…/codeDeploy/blueGreenDeployment` (create and get). The definition names only `state`
/// (example `STARTING`); answers have also carried `status` (e.g. `INITIALIZING`) besides or instead of
/// it, so `state` is read and `status` is the fallback.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GreenItem {
    #[serde(default, deserialize_with = "nullable")]
    id: String,
    #[serde(default, deserialize_with = "nullable")]
    state: String,
    #[serde(default, deserialize_with = "nullable")]
    status: String,
    #[serde(default, deserialize_with = "nullable")]
    config: GreenConfig,
}

#[derive(Debug, Default, Deserialize)]
struct GreenConfig {
    #[serde(default, deserialize_with = "nullable")]
    tags: Vec<WireTag>,
}

impl GreenItem {
    /// The deployment as core sees it; an item without a usable id is malformed.
    pub(crate) fn into_core(self) -> Result<GreenDeployment, String> {
        let id = GreenDeploymentId::parse(&self.id).map_err(|e| e.0)?;
        let raw = [self.state.trim(), self.status.trim()].into_iter().find(|s| !s.is_empty());
        // Neither field: a state greenfleet cannot know, so not finished (core names it in the history).
        let state = GreenState::parse(raw.unwrap_or("(no state or status)"));
        Ok(GreenDeployment { id, state, tags: core_tags(self.config.tags) })
    }
}

/// Body of `PUT …/capacity`.
#[derive(Debug, Serialize)]
pub(crate) struct CapacityRequest {
    pub(crate) capacity: WireCapacity,
}

/// Body of `PUT …/detachInstances`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DetachRequest {
    pub(crate) instances_to_detach: Vec<String>,
    pub(crate) should_terminate_instances: bool,
    pub(crate) should_decrement_target_capacity: bool,
    pub(crate) draining_timeout: u32,
}

/// Body of `POST …/codeDeploy/blueGreenDeployment`: the wrapper key is `deployment`.
#[derive(Debug, Serialize)]
pub(crate) struct GreenRequest {
    pub(crate) deployment: GreenRequestSpec,
}

/// `deployment` of [`GreenRequest`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GreenRequestSpec {
    timeout: u32,
    tags: Vec<WireTag>,
    deployment_groups: Vec<WireDeploymentGroup>,
}

impl From<&GreenSpec> for GreenRequest {
    fn from(spec: &GreenSpec) -> Self {
        let dg = &spec.deployment_group;
        Self {
            deployment: GreenRequestSpec {
                timeout: spec.timeout_minutes,
                tags: spec.tags.iter().map(WireTag::from_core).collect(),
                deployment_groups: vec![WireDeploymentGroup {
                    application_name: dg.application.clone(),
                    deployment_group_name: dg.deployment_group.clone(),
                }],
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn group_item_reads_tags_integration_and_tolerates_nulls() {
        let json = r#"{"id":"sig-1","name":"web","capacity":{"minimum":1,"maximum":10,"target":2,"unit":"instance"},
            "compute":{"launchSpecification":{"tags":[{"tagKey":"env","tagValue":"blue"},{"tagKey":"x","tagValue":null}]}},
            "thirdPartiesIntegration":{"codeDeploy":{"cleanUpOnFailure":false,
              "deploymentGroups":[{"applicationName":"app","deploymentGroupName":"dg"}]}}}"#;
        let item: GroupItem = serde_json::from_str(json).unwrap();
        let id = ElastigroupId::parse("sig-1").unwrap();
        let g = item.into_core(&id);
        assert_eq!(g.capacity, Capacity { minimum: 1, maximum: 10, target: 2 });
        assert_eq!(g.tags, vec![Tag::new("env", "blue").unwrap(), Tag::new("x", "").unwrap()]);
        assert_eq!(g.codedeploy[0].to_string(), "app/dg");

        let bare: GroupItem = serde_json::from_str(
            r#"{"capacity":{"minimum":0,"maximum":1,"target":0},"compute":null,"thirdPartiesIntegration":null}"#,
        )
        .unwrap();
        let g = bare.into_core(&id);
        assert!(g.tags.is_empty() && g.codedeploy.is_empty());
    }

    #[test]
    fn instance_states_and_ids() {
        assert_eq!(instance_state("fulfilled"), InstanceState::Running);
        assert_eq!(instance_state("RUNNING"), InstanceState::Running);
        assert_eq!(instance_state("pending-evaluation"), InstanceState::Pending);
        assert_eq!(instance_state("shutting-down"), InstanceState::Terminating);
        assert_eq!(instance_state("something-new"), InstanceState::Pending);
        let open: InstanceItem = serde_json::from_str(r#"{"instanceId":null,"status":"open"}"#).unwrap();
        assert!(open.into_core().is_none());
        // The OpenAPI example item (items-status-example2.yaml): no tags, which come from EC2.
        let item: InstanceItem = serde_json::from_str(
            r#"{"spotInstanceRequestId":"sir-3thgagpn","instanceId":"i-0abc","instanceType":"t2.micro","product":"Linux/UNIX",
                "groupId":"sig-1","availabilityZone":"us-west-2a","privateIp":"10.0.0.5","publicIp":"10.0.0.1",
                "createdAt":"2018-06-25T11:49:00.000Z","status":"fulfilled","lockStatus":"unlocked","protectedUntil":null}"#,
        )
        .unwrap();
        let v = item.into_core().unwrap();
        assert_eq!((v.state, v.private_ip.as_deref()), (InstanceState::Running, Some("10.0.0.5")));
    }

    #[test]
    fn green_state_is_read_from_state_then_status_case_insensitively() {
        let state = |json: &str| serde_json::from_str::<GreenItem>(json).unwrap().into_core().unwrap().state;
        assert_eq!(state(r#"{"id":"cdbg-1","state":"STARTING","status":"INITIALIZING"}"#), GreenState::Starting);
        assert_eq!(state(r#"{"id":"cdbg-1","state":"","status":"in_progress"}"#), GreenState::InProgress);
        assert_eq!(state(r#"{"id":"cdbg-1","state":null,"status":"Finished"}"#), GreenState::Finished);
        assert_eq!(state(r#"{"id":"cdbg-1","status":"INITIALIZING"}"#), GreenState::Other("INITIALIZING".into()));
        let neither = state(r#"{"id":"cdbg-1","config":{}}"#);
        assert!(matches!(&neither, GreenState::Other(s) if s.contains("no state")), "{neither:?}");
        assert!(!neither.is_terminal());
    }

    #[test]
    fn green_request_uses_the_deployment_wrapper() {
        let spec = GreenSpec {
            timeout_minutes: 20,
            tags: vec![Tag::new("ver", "pink").unwrap()],
            deployment_group: DeploymentGroupRef { application: "appTest".into(), deployment_group: "dgTest".into() },
        };
        let body = serde_json::to_value(GreenRequest::from(&spec)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"deployment":{"timeout":20,"tags":[{"tagKey":"ver","tagValue":"pink"}],
                "deploymentGroups":[{"applicationName":"appTest","deploymentGroupName":"dgTest"}]}})
        );
    }
}
