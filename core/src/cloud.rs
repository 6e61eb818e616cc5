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

/// Lifecycle of an instance of an Elastigroup, as greenfleet sees it: Spot's membership joined with
/// EC2's state (see [`join_instances`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InstanceState {
    /// Requested, booting, not yet known to EC2, or stopped: not serving, but still the group's.
    Pending,
    /// Running in EC2 (and `fulfilled` / `running` for Spot).
    Running,
    /// Shutting down or terminated in EC2 (or on its way out of the group).
    Terminating,
}

/// An instance as Spot lists it (`GET /aws/ec2/group/{id}/status`). Spot's items carry no tags, and no
/// Spot endpoint returns an instance's tags: those come from EC2 ([`Ec2Instance`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInstance {
    /// EC2 instance id.
    pub id: InstanceId,
    /// What Spot's `status` says (`fulfilled` / `running` → Running; anything else is not yet running).
    pub state: InstanceState,
    /// Spot's `privateIp`.
    pub private_ip: Option<String>,
}

/// EC2's `instanceState.name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ec2State {
    /// `pending`.
    Pending,
    /// `running`.
    Running,
    /// `shutting-down`.
    ShuttingDown,
    /// `terminated`.
    Terminated,
    /// `stopping`.
    Stopping,
    /// `stopped`.
    Stopped,
    /// A name this build does not know, kept verbatim; treated as not running.
    Other(String),
}

impl Ec2State {
    /// Parses EC2's spelling (`InstanceStateName` in botocore's ec2 model).
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "shutting-down" => Self::ShuttingDown,
            "terminated" => Self::Terminated,
            "stopping" => Self::Stopping,
            "stopped" => Self::Stopped,
            other => Self::Other(other.to_owned()),
        }
    }

    /// EC2's spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::ShuttingDown => "shutting-down",
            Self::Terminated => "terminated",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Other(s) => s,
        }
    }
}

/// An instance as EC2 describes it (`DescribeInstances`): where CodeDeploy looks for its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2Instance {
    /// Its id.
    pub id: InstanceId,
    /// Its state.
    pub state: Ec2State,
    /// `privateIpAddress`.
    pub private_ip: Option<String>,
    /// Its tags, as CodeDeploy's tag filters see them. Tags land after the instance (F5), so this may lag.
    pub tags: Vec<Tag>,
}

/// An instance of an Elastigroup with what EC2 says of it: the view every rule of the saga reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceView {
    /// EC2 instance id.
    pub id: InstanceId,
    /// Its state (see [`join_instances`]).
    pub state: InstanceState,
    /// Private IP, for health checks.
    pub private_ip: Option<String>,
    /// Its EC2 tags; empty while EC2 does not know the instance yet.
    pub tags: Vec<Tag>,
}

impl InstanceView {
    /// Whether the instance carries every one of `tags`.
    #[must_use]
    pub fn has_all(&self, tags: &[Tag]) -> bool {
        tags.iter().all(|t| self.tags.contains(t))
    }
}

/// Joins Spot's list of a group's instances (which says what belongs to the group) with EC2's
/// descriptions (which say their state and tags), in Spot's order. An instance EC2 does not describe
/// yet is Pending with no tags; it is Running only when both Spot and EC2 say so, and Terminating
/// when EC2 says it is shutting down or gone, whatever Spot still lists.
#[must_use]
pub fn join_instances(spot: &[GroupInstance], ec2: &[Ec2Instance]) -> Vec<InstanceView> {
    spot.iter()
        .map(|s| {
            let described = ec2.iter().find(|e| e.id == s.id);
            let state = match described.map(|e| &e.state) {
                Some(Ec2State::ShuttingDown | Ec2State::Terminated) => InstanceState::Terminating,
                _ if s.state == InstanceState::Terminating => InstanceState::Terminating,
                Some(Ec2State::Running) if s.state == InstanceState::Running => InstanceState::Running,
                _ => InstanceState::Pending,
            };
            InstanceView {
                id: s.id.clone(),
                state,
                private_ip: described.and_then(|e| e.private_ip.clone()).or_else(|| s.private_ip.clone()),
                tags: described.map(|e| e.tags.clone()).unwrap_or_default(),
            }
        })
        .collect()
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

/// How a deployment group identifies its original (blue) fleet: `ec2TagFilters` (an instance matching
/// *any* filter belongs) or `ec2TagSet` (an instance must match at least one filter of *every* set).
/// CodeDeploy takes one form or the other, never both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlueSelector {
    /// `ec2TagFilters`: OR over the filters.
    Filters(Vec<TagFilter>),
    /// `ec2TagSet.ec2TagSetList`: AND over the sets, OR within each.
    TagSet(Vec<Vec<TagFilter>>),
}

impl BlueSelector {
    /// The selector in the same form as `self` that picks exactly the instances carrying `tag`.
    #[must_use]
    pub fn only(&self, tag: &Tag) -> Self {
        let filter = TagFilter { key: tag.key.clone(), value: tag.value.clone(), key_only: false };
        match self {
            Self::Filters(_) => Self::Filters(vec![filter]),
            Self::TagSet(_) => Self::TagSet(vec![vec![filter]]),
        }
    }

    /// Whether an instance with `tags` is part of the original fleet.
    #[must_use]
    pub fn matches(&self, tags: &[Tag]) -> bool {
        match self {
            Self::Filters(filters) => filters.iter().any(|f| f.matches(tags)),
            Self::TagSet(sets) => {
                let sets: Vec<_> = sets.iter().filter(|s| !s.is_empty()).collect();
                !sets.is_empty() && sets.iter().all(|set| set.iter().any(|f| f.matches(tags)))
            }
        }
    }

    /// Whether it names no filter at all (then it selects nothing).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Filters(f) => f.is_empty(),
            Self::TagSet(sets) => sets.iter().all(Vec::is_empty),
        }
    }

    /// `ec2TagFilters` or `ec2TagSet`, for messages.
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            Self::Filters(_) => "ec2TagFilters",
            Self::TagSet(_) => "ec2TagSet",
        }
    }
}

impl fmt::Display for BlueSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |filters: &[TagFilter]| filters.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or ");
        match self {
            Self::Filters(filters) => f.write_str(&list(filters)),
            Self::TagSet(sets) => {
                let sets: Vec<String> =
                    sets.iter().filter(|s| !s.is_empty()).map(|s| format!("({})", list(s))).collect();
                f.write_str(&sets.join(" and "))
            }
        }
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
    /// The EC2 tags that identify the original (blue) fleet.
    pub blue: BlueSelector,
    /// `loadBalancerInfo` names a target group, classic load balancer or target group pair; Blue/Green
    /// moves traffic through it and fails without one (`MISSING_ELB_INFORMATION`).
    pub load_balancer: bool,
}

/// A deployment to create (`CreateDeployment`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSpec {
    /// Application + deployment group.
    pub group: DeploymentGroupRef,
    /// What to deploy.
    pub revision: crate::request::Revision,
    /// Green instances are those carrying *any* of these tags: CodeDeploy ORs the filters of
    /// `targetInstances.tagFilters`. greenfleet gives one, the unique `greenfleet:rollout=<id>`, so no
    /// other instance (another application's, a leftover tagged `version=6.0`) can become a target.
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
    /// `rollbackInfo.rollbackDeploymentId`: the deployment CodeDeploy started to roll this one back.
    #[serde(default)]
    pub rollback: Option<DeploymentId>,
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
