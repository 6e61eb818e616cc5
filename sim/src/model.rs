//! The state of the simulated cloud: Elastigroups with their instances and Blue/Green deployments,
//! CodeDeploy deployment groups and deployments, pending events, fault knobs, and the counters that
//! mint deterministic ids. Behaviour lives in `spot`, `codedeploy` and `schedule`.

use std::collections::BTreeMap;

use crate::faults::Faults;
use greenfleet_core::cloud::{
    BlueAction, Capacity, DeploymentGroupRef, DeploymentGroupView, DeploymentStatus, Ec2Instance, Ec2State,
    GreenDeployment, GroupInstance, InstanceState, InstanceView, ReadyAction,
};
use greenfleet_core::ids::{DeploymentId, ElastigroupId, GreenDeploymentId, InstanceId, InvalidId, Tag, Timestamp};
use greenfleet_core::ports::RemoteError;
use greenfleet_core::request::Revision;

/// How to create an Elastigroup in the model ([`crate::Cloud::add_group`]). It has no serde on purpose:
/// its one JSON form is the admin face's `POST /_sim/groups` body (camelCase, unknown fields refused),
/// decoded and validated by the `http` module's own wire type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSetup {
    /// `sig-…`.
    pub id: ElastigroupId,
    /// The group's name.
    pub name: String,
    /// Its capacity; `target` Running instances are created at once.
    pub capacity: Capacity,
    /// Launch-specification tags: every instance the group launches carries them.
    pub group_tags: Vec<Tag>,
    /// Extra tags of the initial (blue) instances, e.g. `env=blue`.
    pub blue_tags: Vec<Tag>,
    /// Deployment groups of the group's CodeDeploy integration.
    pub codedeploy: Vec<DeploymentGroupRef>,
}

/// A snapshot of a group for assertions ([`crate::Cloud::group_state`]). No serde either: the admin face's
/// `GET /_sim/groups/{id}` renders its own camelCase view of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    /// Current capacity.
    pub capacity: Capacity,
    /// Instances, oldest first, as `GET …/status` would list them (with their current tags).
    pub instances: Vec<InstanceView>,
    /// The latest Spot Blue/Green deployment, if any.
    pub green: Option<GreenDeployment>,
}

/// One EC2 instance of a group.
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub(crate) id: InstanceId,
    pub(crate) state: InstanceState,
    pub(crate) ip: String,
    /// When it was launched (`createdAt` of `GET …/status`).
    pub(crate) created_at: Timestamp,
    /// Tags it carries now.
    pub(crate) tags: Vec<Tag>,
    /// When a Pending instance becomes Running; `None`: never.
    pub(crate) running_at: Option<Timestamp>,
    /// Tags that land later (green tags, F5), and when, counted from `running_at`.
    pub(crate) late_tags: Vec<Tag>,
    pub(crate) tag_delay_ms: u64,
    /// When a Terminating instance disappears.
    pub(crate) gone_at: Option<Timestamp>,
    /// The Spot Blue/Green deployment that launched it.
    pub(crate) green_of: Option<GreenDeploymentId>,
}

impl Instance {
    /// Pending or Running: counts toward the group's capacity.
    pub(crate) fn is_active(&self) -> bool {
        self.state != InstanceState::Terminating
    }

    /// When its late tags land, if it is Running and some are still to come.
    pub(crate) fn tags_due(&self) -> Option<Timestamp> {
        if self.state == InstanceState::Running && !self.late_tags.is_empty() {
            self.running_at.map(|r| r.plus_ms(self.tag_delay_ms))
        } else {
            None
        }
    }

    /// The model's whole view of it (tests and the admin face): Spot's state with EC2's tags.
    pub(crate) fn view(&self) -> InstanceView {
        InstanceView {
            id: self.id.clone(),
            state: self.state,
            private_ip: Some(self.ip.clone()),
            tags: self.tags.clone(),
        }
    }

    /// What Spot lists (`GET …/status`): no tags, as the real API.
    pub(crate) fn spot_view(&self) -> GroupInstance {
        GroupInstance { id: self.id.clone(), state: self.state, private_ip: Some(self.ip.clone()) }
    }

    /// What EC2 describes (`DescribeInstances`): its state and the tags that have landed.
    pub(crate) fn ec2_view(&self) -> Ec2Instance {
        let state = match self.state {
            InstanceState::Pending => Ec2State::Pending,
            InstanceState::Running => Ec2State::Running,
            InstanceState::Terminating => Ec2State::ShuttingDown,
        };
        Ec2Instance { id: self.id.clone(), state, private_ip: Some(self.ip.clone()), tags: self.tags.clone() }
    }
}

/// Spot's CodeDeploy Blue/Green deployment on a group, with what Spot remembers about it.
#[derive(Debug, Clone)]
pub(crate) struct BlueGreen {
    pub(crate) view: GreenDeployment,
    pub(crate) deployment_group: DeploymentGroupRef,
    /// `config.timeout` as asked, in minutes.
    pub(crate) timeout_minutes: u32,
    pub(crate) deadline: Timestamp,
    pub(crate) pre_capacity: Capacity,
    pub(crate) blue: Vec<InstanceId>,
    pub(crate) green: Vec<InstanceId>,
    /// Deployments at this index of `Model::deployments` and later were created after the start.
    pub(crate) first_deployment: usize,
    /// CodeDeploy succeeded; Spot turns FINISHED (and handles blue) at this time.
    pub(crate) finish_at: Option<Timestamp>,
}

/// An Elastigroup.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) id: ElastigroupId,
    pub(crate) name: String,
    pub(crate) capacity: Capacity,
    pub(crate) group_tags: Vec<Tag>,
    pub(crate) codedeploy: Vec<DeploymentGroupRef>,
    /// Oldest first.
    pub(crate) instances: Vec<Instance>,
    /// Oldest first; the last one is what `GET …/blueGreenDeployment` returns.
    pub(crate) greens: Vec<BlueGreen>,
    pub(crate) green_starts: u32,
}

impl Group {
    /// A Blue/Green deployment Spot is still running, if any.
    pub(crate) fn active_green(&self) -> Option<&BlueGreen> {
        self.greens.last().filter(|bg| !bg.view.state.is_terminal())
    }
}

/// A CodeDeploy deployment group.
#[derive(Debug, Clone)]
pub(crate) struct DeploymentGroupState {
    pub(crate) view: DeploymentGroupView,
    pub(crate) ready_wait_minutes: u32,
    pub(crate) created: u32,
}

impl DeploymentGroupState {
    pub(crate) fn blue_action(&self) -> BlueAction {
        self.view.blue_action.unwrap_or(BlueAction::KeepAlive)
    }

    pub(crate) fn ready_action(&self) -> ReadyAction {
        self.view.ready_action.unwrap_or(ReadyAction::ContinueDeployment)
    }
}

/// Where a deployment is in its lifecycle; each step takes `deployment_step_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Created, START comes next.
    Created,
    /// InProgress, the fleets are evaluated next.
    Started,
    /// Revision being installed on the replacement instances.
    Installing,
    /// Hung by a fault: nothing happens until someone stops it.
    Hung,
    /// Ready, waiting for ContinueDeployment until `next_at`.
    AwaitingContinue,
    /// Continued: traffic moves, SUCCESS next.
    Rerouting,
    /// Terminal.
    Done,
}

/// What became of one replacement instance (for `deploymentOverview`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetState {
    InProgress,
    Ready,
    Succeeded,
    Failed,
    Skipped,
}

/// A CodeDeploy deployment.
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    pub(crate) id: DeploymentId,
    pub(crate) group: DeploymentGroupRef,
    pub(crate) description: String,
    pub(crate) revision: Revision,
    pub(crate) target_tags: Vec<Tag>,
    pub(crate) created_at: Timestamp,
    /// When it went InProgress (START).
    pub(crate) started_at: Option<Timestamp>,
    /// When it ended.
    pub(crate) completed_at: Option<Timestamp>,
    pub(crate) status: DeploymentStatus,
    pub(crate) error: Option<(String, String)>,
    pub(crate) phase: Phase,
    pub(crate) next_at: Option<Timestamp>,
    pub(crate) targets: Vec<(InstanceId, TargetState)>,
    /// `detail.instanceGroupId` of its events.
    pub(crate) instance_group_id: String,
    /// The deployment CodeDeploy started to roll this one back (`rollbackInfo.rollbackDeploymentId`).
    pub(crate) rolled_back_by: Option<DeploymentId>,
    /// For a rollback deployment (`creator=codeDeployRollback`): the one it rolls back.
    pub(crate) rollback_of: Option<DeploymentId>,
}

/// The whole simulated cloud.
#[derive(Debug, Default)]
pub(crate) struct Model {
    /// Model time: the clock reading of the last tick, or the due time of the happening being applied.
    pub(crate) now: Timestamp,
    pub(crate) groups: BTreeMap<ElastigroupId, Group>,
    /// EC2 instances of the account that belong to no Elastigroup (another application's, a leftover):
    /// CodeDeploy's tag filters see them as much as any group's.
    pub(crate) loose: Vec<Instance>,
    pub(crate) deployment_groups: BTreeMap<DeploymentGroupRef, DeploymentGroupState>,
    /// In creation order.
    pub(crate) deployments: Vec<Deployment>,
    /// EventBridge envelopes not yet drained.
    pub(crate) events: Vec<String>,
    pub(crate) faults: Faults,
    /// Port calls made, per operation (what a real Spot/CodeDeploy would have been asked).
    pub(crate) api_calls: BTreeMap<String, u64>,
    instance_counter: u64,
    ip_counter: u64,
    green_counter: u64,
    deployment_counter: u64,
    pub(crate) event_counter: u64,
}

/// Ids the model mints satisfy core's rules by construction; a refusal is a bug in this crate.
fn minted<T>(id: Result<T, InvalidId>) -> T {
    id.expect("the simulator mints ids in the format core accepts")
}

const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

impl Model {
    /// An empty cloud at model time `now`.
    pub(crate) fn new(now: Timestamp) -> Self {
        Self { now, ..Self::default() }
    }

    pub(crate) fn next_instance_id(&mut self) -> InstanceId {
        self.instance_counter += 1;
        minted(InstanceId::parse(&format!("i-{:017x}", self.instance_counter)))
    }

    /// `127.0.0.2` upward, wrapping within 2..=254: loopback addresses a health-check face can answer on.
    pub(crate) fn next_ip(&mut self) -> String {
        let n = 2 + self.ip_counter % 253;
        self.ip_counter += 1;
        format!("127.0.0.{n}")
    }

    pub(crate) fn next_green_id(&mut self) -> GreenDeploymentId {
        self.green_counter += 1;
        minted(GreenDeploymentId::parse(&format!("cdbg-{:08x}", self.green_counter)))
    }

    /// `d-` and 9 upper-case letters or digits, scrambled from a counter so ids look like CodeDeploy's.
    pub(crate) fn next_deployment_id(&mut self) -> DeploymentId {
        self.deployment_counter += 1;
        // An affine map with a multiplier coprime to 36 is a bijection mod 36^9: ids never repeat.
        let modulus = 36u64.pow(9);
        let mut n = (self.deployment_counter.wrapping_mul(7_919).wrapping_add(1_234_567)) % modulus;
        let mut digits = [b'0'; 9];
        for d in digits.iter_mut().rev() {
            *d = BASE36[(n % 36) as usize];
            n /= 36;
        }
        minted(DeploymentId::parse(&format!("d-{}", String::from_utf8_lossy(&digits))))
    }

    pub(crate) fn group_mut(&mut self, id: &ElastigroupId) -> Result<&mut Group, RemoteError> {
        self.groups.get_mut(id).ok_or_else(|| group_not_found(id))
    }

    pub(crate) fn group(&self, id: &ElastigroupId) -> Result<&Group, RemoteError> {
        self.groups.get(id).ok_or_else(|| group_not_found(id))
    }

    pub(crate) fn deployment_index(&self, id: &DeploymentId) -> Result<usize, RemoteError> {
        self.deployments
            .iter()
            .position(|d| &d.id == id)
            .ok_or_else(|| RemoteError::NotFound(format!("deployment {id} not found")))
    }

    /// Every EC2 instance of the account: those of every group, then the loose ones.
    pub(crate) fn all_instances(&self) -> impl Iterator<Item = &Instance> {
        self.groups.values().flat_map(|g| g.instances.iter()).chain(self.loose.iter())
    }

    /// A running EC2 instance outside every Elastigroup, carrying `tags`.
    pub(crate) fn add_loose_instance(&mut self, tags: Vec<Tag>) -> InstanceId {
        let instance = self.running_instance(tags);
        let id = instance.id.clone();
        self.loose.push(instance);
        id
    }

    /// A new instance, Running now with `tags` (blue at setup, or loose).
    pub(crate) fn running_instance(&mut self, tags: Vec<Tag>) -> Instance {
        Instance {
            id: self.next_instance_id(),
            state: InstanceState::Running,
            ip: self.next_ip(),
            created_at: self.now,
            tags,
            running_at: Some(self.now),
            late_tags: Vec::new(),
            tag_delay_ms: 0,
            gone_at: None,
            green_of: None,
        }
    }

    /// `DescribeInstances` filtered by instance id: every EC2 instance among `ids`, in `ids` order.
    pub(crate) fn describe(&self, ids: &[InstanceId]) -> Vec<Ec2Instance> {
        ids.iter().filter_map(|id| self.all_instances().find(|i| &i.id == id)).map(Instance::ec2_view).collect()
    }
}

pub(crate) fn group_not_found(id: &ElastigroupId) -> RemoteError {
    RemoteError::NotFound(format!("Elastigroup {id} not found"))
}

pub(crate) fn deployment_group_not_found(group: &DeploymentGroupRef) -> RemoteError {
    RemoteError::NotFound(format!("deployment group {group} not found in application {}", group.application))
}
