//! Fault knobs: delays, failing or hanging deployments, lost and duplicated events, scripted API
//! errors and lost responses. Tests and the demo turn them through [`crate::Cloud::faults`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use greenfleet_core::cloud::DeploymentGroupRef;
use greenfleet_core::ids::InstanceId;
use greenfleet_core::ports::RemoteError;

/// The port methods whose calls can be scripted to fail (`fail_next`) or to lose their response
/// (`lose_response`), spelled as the methods of core's `Elastigroups` and `Deployments` traits
/// (`describe_instances` is the `Instances` port's `describe`).
pub const OPS: &[&str] = &[
    "group",
    "instances",
    "set_capacity",
    "detach",
    "start_green",
    "green",
    "stop_green",
    "describe_instances",
    "deployment_group",
    "create",
    "find",
    "get",
    "continue_deployment",
    "point_blue",
    "stop",
];

/// The operations of [`OPS`] that change something in Spot or CodeDeploy; the rest only read.
pub const WRITE_OPS: &[&str] =
    &["set_capacity", "detach", "start_green", "stop_green", "create", "continue_deployment", "point_blue", "stop"];

/// What Spot does with the blue instances when its Blue/Green deployment finishes. Spot's documents
/// say it "detaches (terminates)" blue, without saying whether the deployment group's KEEP_ALIVE or
/// TERMINATE matters: greenfleet must be right whichever it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlueAfterSuccess {
    /// Terminates blue (and restores capacity) under TERMINATE, leaves it under KEEP_ALIVE.
    FollowDeploymentGroup,
    /// Always detaches and terminates blue, and restores capacity.
    Detach,
    /// Never touches blue: it stays in the group, capacity stays raised.
    Leave,
}

/// How a deployment fails when a failure fault is set for its deployment group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeploymentFault {
    /// `errorInformation.code`, e.g. `HOOK_EXECUTION_FAILURE`.
    pub code: String,
    /// `errorInformation.message`.
    pub message: String,
}

/// Everything that can go wrong (or slowly) in the simulated cloud. Defaults: nothing fails, green
/// instances run 2 s after launch and carry their green tags 1 s later, deployments take 1 s per step.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Delay from launching a green instance to Running.
    pub green_launch_delay_ms: u64,
    /// Delay from launching an instance to scale up (not green) to Running.
    pub launch_delay_ms: u64,
    /// Delay from Running to the green tags landing on a green instance (F5).
    pub tag_delay_ms: u64,
    /// How long a terminated instance stays listed as Terminating; 0 removes it at once.
    pub terminate_delay_ms: u64,
    /// Time between two steps of a CodeDeploy deployment's lifecycle.
    pub deployment_step_ms: u64,
    /// Green instances are launched but never reach Running.
    pub green_never_ready: bool,
    /// Deployments of these deployment groups fail once the revision is being installed.
    pub fail_deployments: BTreeMap<DeploymentGroupRef, DeploymentFault>,
    /// Deployments of these deployment groups hang in InProgress and never end by themselves.
    pub hang_deployments: BTreeSet<DeploymentGroupRef>,
    /// No CodeDeploy event reaches [`crate::Cloud::drain_events`].
    pub drop_all_events: bool,
    /// The next N CodeDeploy events are lost.
    pub drop_next_events: u32,
    /// The next N CodeDeploy events are delivered twice (same event id, as EventBridge redelivers).
    pub duplicate_next_events: u32,
    /// Instances that fail health checks ([`crate::Cloud::is_healthy`]).
    pub unhealthy: BTreeSet<InstanceId>,
    /// Every green instance fails health checks.
    pub all_green_unhealthy: bool,
    /// What Spot does with blue once its Blue/Green deployment finishes (undocumented).
    pub blue_after_success: BlueAfterSuccess,
    /// How long after CodeDeploy succeeded Spot's Blue/Green deployment turns FINISHED.
    pub spot_finish_delay_ms: u64,
    scripted: BTreeMap<String, VecDeque<RemoteError>>,
    lost: BTreeMap<String, u32>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            green_launch_delay_ms: 2_000,
            launch_delay_ms: 2_000,
            tag_delay_ms: 1_000,
            terminate_delay_ms: 0,
            deployment_step_ms: 1_000,
            green_never_ready: false,
            fail_deployments: BTreeMap::new(),
            hang_deployments: BTreeSet::new(),
            drop_all_events: false,
            drop_next_events: 0,
            duplicate_next_events: 0,
            unhealthy: BTreeSet::new(),
            all_green_unhealthy: false,
            blue_after_success: BlueAfterSuccess::FollowDeploymentGroup,
            spot_finish_delay_ms: 0,
            scripted: BTreeMap::new(),
            lost: BTreeMap::new(),
        }
    }
}

fn check_op(op: &str) {
    // A misspelt name would silently script nothing and make a chaos test pass for the wrong reason.
    assert!(OPS.contains(&op), "unknown port operation `{op}`; expected one of {OPS:?}");
}

impl Faults {
    /// Makes deployments of `group` fail with `code` and `message` (e.g. `HOOK_EXECUTION_FAILURE`).
    pub fn fail_deployments(&mut self, group: &DeploymentGroupRef, code: &str, message: &str) {
        self.fail_deployments
            .insert(group.clone(), DeploymentFault { code: code.to_owned(), message: message.to_owned() });
    }

    /// Makes deployments of `group` hang in InProgress.
    pub fn hang_deployments(&mut self, group: &DeploymentGroupRef) {
        self.hang_deployments.insert(group.clone());
    }

    /// The next `times` calls of port method `op` (one of [`OPS`]) fail with `error` and do nothing.
    ///
    /// # Panics
    /// If `op` is not one of [`OPS`].
    pub fn fail_next(&mut self, op: &str, error: RemoteError, times: u32) {
        check_op(op);
        let queue = self.scripted.entry(op.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(error, times as usize));
    }

    /// The next `times` successful calls of `op` take effect, but the caller sees `Unavailable`, as if
    /// the response was lost on the way back (the case CreateDeployment's missing idempotency token makes hard).
    ///
    /// # Panics
    /// If `op` is not one of [`OPS`].
    pub fn lose_response(&mut self, op: &str, times: u32) {
        check_op(op);
        *self.lost.entry(op.to_owned()).or_default() += times;
    }

    /// Scripted errors and lost responses still pending for `op`.
    #[must_use]
    pub fn pending_api_faults(&self, op: &str) -> usize {
        self.scripted.get(op).map_or(0, VecDeque::len) + self.lost.get(op).map_or(0, |n| *n as usize)
    }

    /// Takes the next scripted error for `op`, if any.
    pub(crate) fn take_scripted(&mut self, op: &str) -> Option<RemoteError> {
        self.scripted.get_mut(op).and_then(VecDeque::pop_front)
    }

    /// Whether this successful call of `op` loses its response (and consumes one if so).
    pub(crate) fn take_lost(&mut self, op: &str) -> bool {
        match self.lost.get_mut(op) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}
