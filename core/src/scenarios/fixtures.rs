//! The world a scenario runs against: a rollout request, an Elastigroup ([`Fleet`]) that answers
//! Spot commands like Spot would, and CodeDeploy results. Defaults are a healthy setup that passes
//! preflight; scenarios change one thing to make their point.

use crate::cloud::{
    BlueAction, BlueSelector, Capacity, DeploymentGroupRef, DeploymentGroupView, DeploymentStatus, DeploymentType,
    DeploymentView, GreenDeployment, GreenProvisioning, GreenState, GroupView, InstanceCounts, InstanceState,
    InstanceView, ReadyAction, TagFilter,
};
use crate::effect::{CallResult, Command, Inspection};
use crate::ids::{DeploymentId, ElastigroupId, GreenDeploymentId, InstanceId, RequestId, RolloutId, Tag};
use crate::ports::{LeaseKey, LeaseOutcome, RemoteError};
use crate::request::{ApprovalMode, BundleType, HealthCheck, Revision, RolloutRequest, S3Revision, Timeouts};

/// The Elastigroup every scenario rolls out on.
pub(crate) const GROUP: &str = "sig-1234abcd";
/// The rollout (and request) id.
pub(crate) const ROLLOUT: &str = "rel-42";
/// The CodeDeploy deployment greenfleet creates.
pub(super) const DEPLOYMENT: &str = "d-ABC123";
/// Spot's Blue/Green deployment.
pub(super) const GREEN_DEPLOYMENT: &str = "cdbg-42";

pub(crate) fn tag(key: &str, value: &str) -> Tag {
    Tag::new(key, value).unwrap()
}

pub(super) fn capacity(target: u32, minimum: u32, maximum: u32) -> Capacity {
    Capacity { minimum, maximum, target }
}

pub(super) fn instance(id: &str) -> InstanceId {
    InstanceId::parse(id).unwrap()
}

pub(super) fn deployment_id() -> DeploymentId {
    DeploymentId::parse(DEPLOYMENT).unwrap()
}

pub(super) fn green_deployment_id() -> GreenDeploymentId {
    GreenDeploymentId::parse(GREEN_DEPLOYMENT).unwrap()
}

pub(super) fn dg_ref() -> DeploymentGroupRef {
    DeploymentGroupRef { application: "web".into(), deployment_group: "web-bg".into() }
}

/// The leases a rollout on [`GROUP`] takes.
pub(super) fn lease_keys() -> Vec<LeaseKey> {
    vec![LeaseKey::group(&ElastigroupId::parse(GROUP).unwrap()), LeaseKey::deployment_group(&dg_ref())]
}

/// A request for `web/web-bg` on [`GROUP`]: S3 revision, green tag `version=6.0`, default timeouts,
/// no gates.
pub(crate) fn request() -> RolloutRequest {
    RolloutRequest {
        request_id: RequestId::parse(ROLLOUT).unwrap(),
        elastigroup_id: ElastigroupId::parse(GROUP).unwrap(),
        application: "web".into(),
        deployment_group: "web-bg".into(),
        revision: Revision::S3(S3Revision {
            bucket: "artifacts".into(),
            key: "web/6.0.zip".into(),
            bundle_type: BundleType::Zip,
            version: None,
            e_tag: None,
        }),
        green_tags: vec![tag("version", "6.0")],
        timeouts: Timeouts::default(),
        health_check: None,
        approval: ApprovalMode::Auto,
        requested_by: "ci".into(),
    }
}

/// [`request`] with manual approval.
pub(super) fn manual_request() -> RolloutRequest {
    RolloutRequest { approval: ApprovalMode::Manual, ..request() }
}

/// [`request`] with a health check needing `successes` passing rounds, 10 s apart.
pub(super) fn health_checked_request(successes: u32) -> RolloutRequest {
    RolloutRequest {
        health_check: Some(HealthCheck {
            url_template: "http://{ip}:8080/health".into(),
            expected_status: 200,
            consecutive_successes: successes,
            timeout_seconds: 5,
            interval_seconds: 10,
        }),
        ..request()
    }
}

/// A correctly set up deployment group: BLUE_GREEN, DISCOVER_EXISTING, KEEP_ALIVE, waiting at READY
/// (STOP_DEPLOYMENT), blue identified by `fleet=blue`.
pub(super) fn deployment_group() -> DeploymentGroupView {
    DeploymentGroupView {
        name: dg_ref(),
        deployment_type: DeploymentType::BlueGreen,
        green_provisioning: Some(GreenProvisioning::DiscoverExisting),
        blue_action: Some(BlueAction::KeepAlive),
        ready_action: Some(ReadyAction::StopDeployment),
        blue: BlueSelector::Filters(vec![TagFilter { key: "fleet".into(), value: "blue".into(), key_only: false }]),
        load_balancer: true,
    }
}

pub(super) fn acquired() -> CallResult {
    CallResult::LeasesAcquired(Ok(LeaseOutcome::Acquired))
}

pub(super) fn busy(holder: &str) -> CallResult {
    CallResult::LeasesAcquired(Ok(LeaseOutcome::Busy {
        key: lease_keys()[0].clone(),
        holder: RolloutId::parse(holder).unwrap(),
    }))
}

pub(super) fn created() -> CallResult {
    CallResult::DeploymentCreated(Ok(deployment_id()))
}

/// `GetDeployment` answering `status`.
pub(super) fn read(status: DeploymentStatus) -> CallResult {
    CallResult::DeploymentRead(Ok(DeploymentView {
        id: deployment_id(),
        status,
        error: None,
        overview: InstanceCounts::default(),
        rollback: None,
    }))
}

/// `GetDeployment` of a stopped deployment that CodeDeploy rolls back with deployment `rollback`.
pub(super) fn read_rolled_back(rollback: &str) -> CallResult {
    CallResult::DeploymentRead(Ok(DeploymentView {
        id: deployment_id(),
        status: DeploymentStatus::Stopped,
        error: Some(("MANUAL_STOP".into(), "stopped".into())),
        overview: InstanceCounts::default(),
        rollback: Some(DeploymentId::parse(rollback).unwrap()),
    }))
}

/// `GetDeployment` of the rollback deployment `id`.
pub(super) fn read_rollback(id: &str, status: DeploymentStatus) -> CallResult {
    CallResult::DeploymentRead(Ok(DeploymentView {
        id: DeploymentId::parse(id).unwrap(),
        status,
        error: None,
        overview: InstanceCounts::default(),
        rollback: None,
    }))
}

/// `GetDeployment` answering Failed with CodeDeploy's error code and message.
pub(super) fn read_failed(code: &str, message: &str) -> CallResult {
    CallResult::DeploymentRead(Ok(DeploymentView {
        id: deployment_id(),
        status: DeploymentStatus::Failed,
        error: Some((code.into(), message.into())),
        overview: InstanceCounts::default(),
        rollback: None,
    }))
}

pub(super) fn unavailable() -> RemoteError {
    RemoteError::Unavailable("503 from the service".into())
}

pub(super) fn rejected(code: &str) -> RemoteError {
    RemoteError::Rejected { code: code.into(), message: "refused".into() }
}

/// An Elastigroup as Spot would show it, with its instances and latest Blue/Green deployment, plus
/// the deployment group CodeDeploy would show. [`Fleet::apply`] executes Spot commands on it.
#[derive(Debug, Clone)]
pub(super) struct Fleet {
    pub(super) group: GroupView,
    pub(super) instances: Vec<InstanceView>,
    pub(super) green: Option<GreenDeployment>,
    pub(super) dg: Option<DeploymentGroupView>,
    /// Green instances launched so far (for their ids).
    launched: usize,
}

impl Fleet {
    /// Two blue instances (`fleet=blue`, `version=5.9`), capacity [Target 2, Min 1, Max 2], group tags
    /// Name/Owner, integrated with `web/web-bg`, a healthy deployment group.
    pub(super) fn healthy() -> Self {
        Self::with_blue(2, capacity(2, 1, 2))
    }

    /// `n` blue instances and the given capacity; otherwise as [`Fleet::healthy`].
    pub(super) fn with_blue(n: usize, capacity: Capacity) -> Self {
        let group_tags = vec![tag("Name", "web"), tag("Owner", "team-web")];
        let blue_tags = [group_tags.clone(), vec![tag("fleet", "blue"), tag("version", "5.9")]].concat();
        let instances = (1..=n)
            .map(|i| InstanceView {
                id: instance(&format!("i-blue{i}")),
                state: InstanceState::Running,
                private_ip: Some(format!("10.0.0.{i}")),
                tags: blue_tags.clone(),
            })
            .collect();
        Self {
            group: GroupView {
                id: ElastigroupId::parse(GROUP).unwrap(),
                name: "web".into(),
                capacity,
                tags: group_tags,
                codedeploy: vec![dg_ref()],
            },
            instances,
            green: None,
            dg: Some(deployment_group()),
            launched: 0,
        }
    }

    /// What `Inspect` without a deployment group returns.
    pub(super) fn inspected(&self) -> CallResult {
        CallResult::Inspected(Ok(self.inspection(false)))
    }

    /// What preflight's `Inspect` (with the deployment group) returns.
    pub(super) fn preflight(&self) -> CallResult {
        CallResult::Inspected(Ok(self.inspection(true)))
    }

    fn inspection(&self, with_dg: bool) -> Inspection {
        Inspection {
            group: self.group.clone(),
            instances: self.instances.clone(),
            green: self.green.clone(),
            deployment_group: with_dg.then(|| self.dg.clone()),
        }
    }

    pub(super) fn dg_mut(&mut self) -> &mut DeploymentGroupView {
        self.dg.as_mut().unwrap()
    }

    /// Spot launches `n` green instances; `tagged` says whether their green tags have landed (F5).
    pub(super) fn launch_green(&mut self, n: usize, tagged: bool) {
        for _ in 0..n {
            self.launched += 1;
            let mut tags = self.group.tags.clone();
            if tagged {
                tags.extend(request().all_green_tags());
            }
            self.instances.push(InstanceView {
                id: instance(&format!("i-green{}", self.launched)),
                state: InstanceState::Running,
                private_ip: Some(format!("10.0.1.{}", self.launched)),
                tags,
            });
        }
    }

    /// The green tags land on every green instance.
    pub(super) fn tag_green(&mut self) {
        let green_tags = request().all_green_tags();
        for i in self.instances.iter_mut().filter(|i| i.id.as_str().starts_with("i-green")) {
            for t in &green_tags {
                if !i.tags.contains(t) {
                    i.tags.push(t.clone());
                }
            }
        }
    }

    pub(super) fn set_green_state(&mut self, state: GreenState) {
        self.green.as_mut().unwrap().state = state;
    }

    pub(super) fn ids(&self, prefix: &str) -> Vec<InstanceId> {
        self.instances.iter().filter(|i| i.id.as_str().starts_with(prefix)).map(|i| i.id.clone()).collect()
    }

    /// Executes a Spot command (or CodeDeploy's UpdateDeploymentGroup) like the service would and returns its result.
    pub(super) fn apply(&mut self, command: &Command) -> CallResult {
        match command {
            Command::Inspect { deployment_group, .. } => {
                CallResult::Inspected(Ok(self.inspection(deployment_group.is_some())))
            }
            Command::StartGreen { spec, .. } => {
                // Spot raises capacity to run green next to blue.
                let c = &mut self.group.capacity;
                c.target *= 2;
                c.maximum = c.maximum.max(c.target);
                let g =
                    GreenDeployment { id: green_deployment_id(), state: GreenState::Starting, tags: spec.tags.clone() };
                self.green = Some(g.clone());
                CallResult::GreenStarted(Ok(g))
            }
            Command::StopGreen { .. } => {
                self.set_green_state(GreenState::Stopped);
                CallResult::GreenStopped(Ok(()))
            }
            Command::Detach { instances, .. } => {
                let before = self.instances.len();
                self.instances.retain(|i| !instances.contains(&i.id));
                let removed = u32::try_from(before - self.instances.len()).unwrap();
                self.group.capacity.target = self.group.capacity.target.saturating_sub(removed);
                CallResult::Detached(Ok(()))
            }
            Command::SetCapacity { capacity, .. } => {
                self.group.capacity = *capacity;
                CallResult::CapacitySet(Ok(()))
            }
            Command::PointBlue { blue, .. } => {
                self.dg_mut().blue = blue.clone();
                CallResult::BluePointed(Ok(()))
            }
            other => panic!("not a Spot command: {other:?}"),
        }
    }
}
