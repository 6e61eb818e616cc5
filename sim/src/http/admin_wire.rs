//! The admin face's wire forms of groups, tags and capacity: camelCase, unknown fields refused, and
//! validated into the model's Rust types ([`GroupSetup`]) or rendered from them ([`GroupStateView`]).
//! These are the only JSON forms of those types: the model's own structs have no serde, so the admin
//! face cannot drift into core's snake_case by accident.

use greenfleet_core::cloud::{Capacity, DeploymentGroupRef, GreenDeployment, InstanceState, InstanceView};
use greenfleet_core::ids::{ElastigroupId, Tag};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::{GroupSetup, GroupState};

/// Decodes a JSON body, naming where it went wrong: ``groupTags[0]: unknown field `k`, expected `key` or
/// `value` at line 1 column 40``. Unknown fields are refused by each wire type's `deny_unknown_fields`.
pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| with_path(&e))?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Decodes one already-parsed JSON value (a fault command), naming where it went wrong.
pub(super) fn decode_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| with_path(&e))
}

/// `path: message`, where the path is the object holding an unknown field (the message names the field).
fn with_path<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>) -> String {
    let message = e.inner().to_string();
    let mut path = e.path().to_string();
    let unknown = message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next());
    if let Some(field) = unknown
        && let Some(holder) = path.strip_suffix(field)
    {
        path = holder.strip_suffix('.').unwrap_or(holder).to_owned();
    }
    if path.is_empty() || path == "." { message } else { format!("{path}: {message}") }
}

/// `{"key": "…", "value": "…"}`, checked as EC2 checks a tag.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a tag {\"key\", \"value\"}")]
pub(super) struct TagWire {
    key: String,
    value: String,
}

impl From<&Tag> for TagWire {
    fn from(t: &Tag) -> Self {
        Self { key: t.key.clone(), value: t.value.clone() }
    }
}

/// Validates `tags` (the list at `at`) into core's tags.
pub(super) fn tags(at: &str, tags: Vec<TagWire>) -> Result<Vec<Tag>, String> {
    tags.into_iter()
        .enumerate()
        .map(|(i, t)| Tag::new(&t.key, &t.value).map_err(|e| format!("{at}[{i}]: {e}")))
        .collect()
}

/// `{"minimum", "maximum", "target"}`, all required.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a capacity {\"minimum\", \"maximum\", \"target\"}")]
pub(super) struct CapacityWire {
    minimum: u32,
    maximum: u32,
    target: u32,
}

impl CapacityWire {
    /// The capacity, if `minimum <= target <= maximum` (Spot's rule).
    pub(super) fn valid(self, at: &str) -> Result<Capacity, String> {
        let c = Capacity { minimum: self.minimum, maximum: self.maximum, target: self.target };
        if c.minimum <= c.target && c.target <= c.maximum {
            Ok(c)
        } else {
            Err(format!("{at}: {c} is invalid: minimum <= target <= maximum must hold"))
        }
    }
}

impl From<CapacityWire> for Capacity {
    fn from(c: CapacityWire) -> Self {
        Self { minimum: c.minimum, maximum: c.maximum, target: c.target }
    }
}

impl From<Capacity> for CapacityWire {
    fn from(c: Capacity) -> Self {
        Self { minimum: c.minimum, maximum: c.maximum, target: c.target }
    }
}

/// `{"application": "…", "deploymentGroup": "…"}`: one CodeDeploy deployment group by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a deployment group {\"application\", \"deploymentGroup\"}"
)]
pub(super) struct GroupRefWire {
    pub(super) application: String,
    pub(super) deployment_group: String,
}

impl GroupRefWire {
    /// The deployment group, if neither name is empty.
    pub(super) fn valid(self, at: &str) -> Result<DeploymentGroupRef, String> {
        if self.application.is_empty() || self.deployment_group.is_empty() {
            return Err(format!("{at}: application and deploymentGroup must not be empty"));
        }
        Ok(DeploymentGroupRef { application: self.application, deployment_group: self.deployment_group })
    }
}

/// Parses an Elastigroup id given at `at`.
pub(super) fn group_id(at: &str, id: &str) -> Result<ElastigroupId, String> {
    ElastigroupId::parse(id).map_err(|e| format!("{at}: {}", e.0))
}

/// `POST /_sim/groups`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, expecting = "a group setup {\"id\", \"name\", \"capacity\", …}")]
pub(super) struct GroupSetupWire {
    id: String,
    name: String,
    capacity: CapacityWire,
    #[serde(default)]
    group_tags: Vec<TagWire>,
    #[serde(default)]
    blue_tags: Vec<TagWire>,
    #[serde(default)]
    code_deploy: Vec<GroupRefWire>,
}

impl GroupSetupWire {
    /// The model's setup, or what is wrong with this one.
    pub(super) fn into_setup(self) -> Result<GroupSetup, String> {
        if self.name.trim().is_empty() {
            return Err("name must not be empty".into());
        }
        Ok(GroupSetup {
            id: group_id("id", &self.id)?,
            name: self.name,
            capacity: self.capacity.valid("capacity")?,
            group_tags: tags("groupTags", self.group_tags)?,
            blue_tags: tags("blueTags", self.blue_tags)?,
            codedeploy: self
                .code_deploy
                .into_iter()
                .enumerate()
                .map(|(i, g)| g.valid(&format!("codeDeploy[{i}]")))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `GET /_sim/groups/{id}` (and the answer of `POST /_sim/groups`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GroupStateView {
    capacity: CapacityWire,
    instances: Vec<InstanceWire>,
    green: Option<GreenWire>,
}

/// One instance of a group: Spot's membership with EC2's state spelling and tags.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceWire {
    instance_id: String,
    /// EC2's `instanceState.name`: `pending`, `running` or `shutting-down`.
    state: &'static str,
    private_ip: Option<String>,
    tags: Vec<TagWire>,
}

/// Spot's CodeDeploy Blue/Green deployment on the group, with Spot's state spelling.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GreenWire {
    id: String,
    /// `STARTING`, `IN_PROGRESS`, `FINISHED`, `FAILED` or `STOPPED`.
    state: String,
    tags: Vec<TagWire>,
}

/// EC2's spelling of the model's instance state (the model's Terminating is EC2's `shutting-down`).
pub(super) fn ec2_state(s: InstanceState) -> &'static str {
    match s {
        InstanceState::Pending => "pending",
        InstanceState::Running => "running",
        InstanceState::Terminating => "shutting-down",
    }
}

impl From<&InstanceView> for InstanceWire {
    fn from(i: &InstanceView) -> Self {
        Self {
            instance_id: i.id.to_string(),
            state: ec2_state(i.state),
            private_ip: i.private_ip.clone(),
            tags: i.tags.iter().map(TagWire::from).collect(),
        }
    }
}

impl From<&GreenDeployment> for GreenWire {
    fn from(g: &GreenDeployment) -> Self {
        Self {
            id: g.id.to_string(),
            state: g.state.as_str().to_owned(),
            tags: g.tags.iter().map(TagWire::from).collect(),
        }
    }
}

impl From<&GroupState> for GroupStateView {
    fn from(s: &GroupState) -> Self {
        Self {
            capacity: s.capacity.into(),
            instances: s.instances.iter().map(InstanceWire::from).collect(),
            green: s.green.as_ref().map(GreenWire::from),
        }
    }
}
