//! What greenfleet knows of the cloud: Elastigroups, their instances and Blue/Green deployments on
//! the Spot side; deployment groups, deployments and state-change events on the CodeDeploy side.
//! Adapters in infra (and the model in sim) translate their wire formats into these types.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{DeploymentId, ElastigroupId, GreenDeploymentId, InstanceId, Tag};

/// An Elastigroup's capacity: minimum, maximum and target (desired) instance counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Capacity {
    /// Minimum instances.
    pub minimum: u32,
    /// Maximum instances.
    pub maximum: u32,
    /// Target (desired) instances.
    pub target: u32,
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[Target {}, Min {}, Max {}]", self.target, self.minimum, self.maximum)
    }
}

/// A CodeDeploy application + deployment group pair, as named in Elastigroup's integration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeploymentGroupRef {
    /// Application name.
    pub application: String,
    /// Deployment group name.
    pub deployment_group: String,
}

impl fmt::Display for DeploymentGroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.application, self.deployment_group)
    }
}

/// An Elastigroup as read from the Spot API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    /// Its id.
    pub id: ElastigroupId,
    /// Its name.
    pub name: String,
    /// Current capacity.
    pub capacity: Capacity,
    /// Tags of the group's launch specification (every instance it launches carries them).
    pub tags: Vec<Tag>,
    /// Deployment groups of its CodeDeploy integration (`thirdPartiesIntegration.codeDeploy`), if any.
    pub codedeploy: Vec<DeploymentGroupRef>,
}

/// Lifecycle of an instance in an Elastigroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InstanceState {
    /// Requested or booting.
    Pending,
    /// Running (`fulfilled` for spot, `running` on demand).
    Running,
    /// On its way out.
    Terminating,
}

/// An instance of an Elastigroup (`GET /aws/ec2/group/{id}/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceView {
    /// EC2 instance id.
    pub id: InstanceId,
    /// Its state.
    pub state: InstanceState,
    /// Private IP, for health checks.
    pub private_ip: Option<String>,
    /// The instance's tags. Tags land only after the instance is created (F5), so this may lag.
    pub tags: Vec<Tag>,
}

impl InstanceView {
    /// Whether the instance carries every one of `tags`.
    #[must_use]
    pub fn has_all(&self, tags: &[Tag]) -> bool {
        tags.iter().all(|t| self.tags.contains(t))
    }
}

/// State of Spot's CodeDeploy Blue/Green deployment. Spot documents only `STARTING` (in `state`); the
/// others mirror rolls, and answers have been seen to carry `status` (e.g. `INITIALIZING`) besides or
/// instead of `state`. Whatever greenfleet does not know is [`GreenState::Other`]: not finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GreenState {
    /// Accepted, launching green instances.
    Starting,
    /// Green launched, waiting for the CodeDeploy deployment.
    InProgress,
    /// CodeDeploy succeeded and Spot finished (detached blue unless KEEP_ALIVE).
    Finished,
    /// Failed or timed out; green instances and raised capacity stay (F7).
    Failed,
    /// Stopped on request.
    Stopped,
    /// A value this build does not know, kept verbatim; treated as still running (until the step's
    /// deadline), and named once in the rollout's history.
    Other(String),
}

impl GreenState {
    /// Parses Spot's spelling case-insensitively (surrounding blanks ignored).
    #[must_use]
    pub fn parse(s: &str) -> Self {
        let s = s.trim();
        match s.to_ascii_uppercase().as_str() {
            "STARTING" => Self::Starting,
            "IN_PROGRESS" | "INPROGRESS" => Self::InProgress,
            "FINISHED" | "SUCCEEDED" => Self::Finished,
            "FAILED" | "TIMED_OUT" | "TIMEDOUT" => Self::Failed,
            "STOPPED" => Self::Stopped,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// Spot's spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Starting => "STARTING",
            Self::InProgress => "IN_PROGRESS",
            Self::Finished => "FINISHED",
            Self::Failed => "FAILED",
            Self::Stopped => "STOPPED",
            Self::Other(s) => s,
        }
    }

    /// Whether Spot is done with it.
    #[must_use]
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Finished | Self::Failed | Self::Stopped)
    }
}

/// Spot's CodeDeploy Blue/Green deployment on a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GreenDeployment {
    /// `cdbg-…`.
    pub id: GreenDeploymentId,
    /// Its state.
    pub state: GreenState,
    /// The green tags it launches instances with.
    pub tags: Vec<Tag>,
}

/// What to ask Spot for when starting Blue/Green (`POST …/codeDeploy/blueGreenDeployment`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GreenSpec {
    /// Minutes before Spot fails the deployment.
    pub timeout_minutes: u32,
    /// Tags for green instances.
    pub tags: Vec<Tag>,
    /// The deployment group to deploy through.
    pub deployment_group: DeploymentGroupRef,
}

/// Type of a deployment group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeploymentType {
    /// In place.
    InPlace,
    /// Blue/Green.
    BlueGreen,
}

/// How a Blue/Green deployment group gets its green fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GreenProvisioning {
    /// "Manually provision instances": green instances exist already, found by tags.
    DiscoverExisting,
    /// CodeDeploy copies an Auto Scaling group.
    CopyAutoScalingGroup,
}

/// What CodeDeploy does with blue after success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlueAction {
    /// Terminate blue after the wait.
    Terminate,
    /// Deregister blue but keep it running.
    KeepAlive,
}

/// What CodeDeploy does when green is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadyAction {
    /// Reroute traffic at once.
    ContinueDeployment,
    /// Wait (READY) for ContinueDeployment.
    StopDeployment,
}

/// An EC2 tag filter of a deployment group (`KEY_AND_VALUE`; `KEY_ONLY` has an empty value and `key_only`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagFilter {
    /// Key.
    pub key: String,
    /// Value (ignored when `key_only`).
    pub value: String,
    /// Matches any value of the key.
    pub key_only: bool,
}

impl TagFilter {
    /// Whether a tag set matches this filter.
    #[must_use]
    pub fn matches(&self, tags: &[Tag]) -> bool {
        tags.iter().any(|t| t.key == self.key && (self.key_only || t.value == self.value))
    }
}

impl fmt::Display for TagFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key_only { write!(f, "{} (any value)", self.key) } else { write!(f, "{}={}", self.key, self.value) }
    }
}

/// A CodeDeploy deployment group, as far as greenfleet cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentGroupView {
    /// Its application and name.
    pub name: DeploymentGroupRef,
    /// IN_PLACE or BLUE_GREEN.
    pub deployment_type: DeploymentType,
    /// For Blue/Green: how green is provisioned.
    pub green_provisioning: Option<GreenProvisioning>,
    /// For Blue/Green: what happens to blue after success.
    pub blue_action: Option<BlueAction>,
    /// For Blue/Green: what happens when green is ready.
    pub ready_action: Option<ReadyAction>,
    /// The EC2 tag filters that identify the original (blue) fleet.
    pub ec2_tag_filters: Vec<TagFilter>,
}

/// A deployment to create (`CreateDeployment`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSpec {
    /// Application + deployment group.
    pub group: DeploymentGroupRef,
    /// What to deploy.
    pub revision: crate::request::Revision,
    /// Green instances are those carrying these tags.
    pub target_tags: Vec<Tag>,
    /// Free text; greenfleet writes `greenfleet rollout <id>` here so a retry can find it (F11).
    pub description: String,
    /// Where a lookup for a deployment created from this spec starts (`createTimeRange.start`): an
    /// instant surely before any CreateDeployment attempt, clock skew included. Not sent by `create`;
    /// the default (0) searches the whole history.
    #[serde(default)]
    pub created_after: crate::ids::Timestamp,
}

/// CodeDeploy `DeploymentStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeploymentStatus {
    /// Created.
    Created,
    /// Queued.
    Queued,
    /// In progress.
    InProgress,
    /// Baking (not expected on EC2; non-terminal).
    Baking,
    /// Green installed, waiting for ContinueDeployment.
    Ready,
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
    /// Stopped.
    Stopped,
    /// Unknown spelling; treated as still running.
    Other(String),
}

impl DeploymentStatus {
    /// Parses CodeDeploy's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "Created" => Self::Created,
            "Queued" => Self::Queued,
            "InProgress" => Self::InProgress,
            "Baking" => Self::Baking,
            "Ready" => Self::Ready,
            "Succeeded" => Self::Succeeded,
            "Failed" => Self::Failed,
            "Stopped" => Self::Stopped,
            other => Self::Other(other.to_owned()),
        }
    }

    /// CodeDeploy's spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Created => "Created",
            Self::Queued => "Queued",
            Self::InProgress => "InProgress",
            Self::Baking => "Baking",
            Self::Ready => "Ready",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Stopped => "Stopped",
            Self::Other(s) => s,
        }
    }

    /// Succeeded, Failed or Stopped.
    #[must_use]
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Stopped)
    }
}

/// A deployment as read by `GetDeployment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentView {
    /// Its id.
    pub id: DeploymentId,
    /// Its status.
    pub status: DeploymentStatus,
    /// `errorInformation.code` and `.message`, when it failed.
    pub error: Option<(String, String)>,
    /// Instances per state, from `deploymentOverview` (pending, in progress, succeeded, failed, ready).
    pub overview: InstanceCounts,
}

/// `deploymentOverview`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InstanceCounts {
    /// Pending.
    pub pending: u32,
    /// In progress.
    pub in_progress: u32,
    /// Succeeded.
    pub succeeded: u32,
    /// Failed.
    pub failed: u32,
    /// Ready.
    pub ready: u32,
}

/// `state` of a CodeDeploy state-change event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventState {
    /// START.
    Start,
    /// READY (Blue/Green: green installed).
    Ready,
    /// SUCCESS.
    Success,
    /// FAILURE.
    Failure,
    /// STOP.
    Stop,
    /// Anything else, kept verbatim.
    Unknown(String),
}

impl EventState {
    /// Parses the event's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "START" => Self::Start,
            "READY" => Self::Ready,
            "SUCCESS" => Self::Success,
            "FAILURE" => Self::Failure,
            "STOP" => Self::Stop,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The event's spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Start => "START",
            Self::Ready => "READY",
            Self::Success => "SUCCESS",
            Self::Failure => "FAILURE",
            Self::Stop => "STOP",
            Self::Unknown(s) => s,
        }
    }
}

/// A decoded CodeDeploy state-change event (deployment- or instance-level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentEvent {
    /// The deployment.
    pub deployment_id: DeploymentId,
    /// Its new state.
    pub state: EventState,
    /// Set for instance events.
    pub instance: Option<InstanceId>,
}
