//! What the saga asks its shell to do (effects, as plain data) and what comes back (inputs).

use serde::{Deserialize, Serialize};

use crate::cloud::{
    BlueSelector, Capacity, DeploymentEvent, DeploymentGroupRef, DeploymentGroupView, DeploymentSpec, DeploymentView,
    GreenDeployment, GreenSpec, GroupView, InstanceView,
};
use crate::event::LifecycleEvent;
use crate::ids::{DeploymentId, ElastigroupId, GreenDeploymentId, InstanceId, Timestamp};
use crate::lease::{LeaseKey, LeaseOutcome};
use crate::remote::RemoteError;

/// Something the shell must do after persisting a transition. Every effect is idempotent or guarded,
/// so replaying the effects of a transition (after a crash) is safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Call Spot, CodeDeploy or the lease table; the result comes back as [`Input::Completed`] with this fence.
    Call {
        /// The fence of the step that asked.
        fence: u64,
        /// What to call.
        command: Command,
    },
    /// Send a step or timer message to this saga after `delay_ms` (durable time).
    Wake {
        /// The fence the message carries.
        fence: u64,
        /// What kind of wake-up.
        kind: WakeKind,
        /// The saga's wake counter when sent (0 for deadlines, which need none).
        seq: u64,
        /// Delay.
        delay_ms: u64,
    },
    /// Publish a lifecycle event.
    Publish(LifecycleEvent),
}

/// Kinds of step and timer messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WakeKind {
    /// Do the current step (or retry it).
    Step,
    /// Look again (reconcile poll, progress poll).
    Poll,
    /// The current step's deadline.
    Deadline,
}

impl WakeKind {
    /// The stable name, e.g. `Poll` (in message ids): a literal, never `Debug` output.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Step => "Step",
            Self::Poll => "Poll",
            Self::Deadline => "Deadline",
        }
    }
}

/// A remote operation. The shell's executor maps each to port calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Read the group, its instances and latest Blue/Green deployment, and optionally a deployment group.
    Inspect {
        /// The Elastigroup.
        group: ElastigroupId,
        /// The deployment group to read too.
        deployment_group: Option<DeploymentGroupRef>,
    },
    /// Take the leases.
    AcquireLeases {
        /// Keys.
        keys: Vec<LeaseKey>,
        /// Until when.
        until: Timestamp,
    },
    /// Release the leases.
    ReleaseLeases {
        /// Keys.
        keys: Vec<LeaseKey>,
    },
    /// Start Spot's Blue/Green deployment, or adopt the one already carrying these tags (guarded: F11).
    StartGreen {
        /// The Elastigroup.
        group: ElastigroupId,
        /// Timeout, tags and deployment group.
        spec: GreenSpec,
    },
    /// Create the CodeDeploy deployment, or adopt the one with this description (guarded: F11).
    CreateDeployment(DeploymentSpec),
    /// Find the deployment created for this spec (by its description), without creating one.
    FindDeployment(DeploymentSpec),
    /// `GetDeployment`.
    GetDeployment(DeploymentId),
    /// `ContinueDeployment(READY_WAIT)`.
    ContinueDeployment(DeploymentId),
    /// `StopDeployment` with auto-rollback: traffic may have moved to green.
    StopDeployment(DeploymentId),
    /// `StopDeployment` without auto-rollback: no traffic moved (the group still waited at READY).
    StopWithoutRollback(DeploymentId),
    /// Point the deployment group's original-fleet tags at the new blue (`UpdateDeploymentGroup`).
    PointBlue {
        /// The deployment group.
        group: DeploymentGroupRef,
        /// Its new selector.
        blue: BlueSelector,
    },
    /// Stop Spot's Blue/Green deployment.
    StopGreen {
        /// The Elastigroup.
        group: ElastigroupId,
        /// Which deployment.
        id: GreenDeploymentId,
    },
    /// Detach and terminate instances.
    Detach {
        /// The Elastigroup.
        group: ElastigroupId,
        /// Which instances.
        instances: Vec<InstanceId>,
    },
    /// Set capacity.
    SetCapacity {
        /// The Elastigroup.
        group: ElastigroupId,
        /// The capacity.
        capacity: Capacity,
    },
    /// One round of HTTP health checks against green instances.
    CheckHealth {
        /// The Elastigroup (for private IPs).
        group: ElastigroupId,
        /// Which instances.
        instances: Vec<InstanceId>,
        /// URL template with `{ip}`.
        url_template: String,
        /// Healthy status.
        expected_status: u16,
        /// Per-probe timeout.
        timeout_ms: u64,
    },
}

/// What the shell read in one [`Command::Inspect`]. `instances` joins Spot's list of the group's
/// instances with EC2's description of them ([`crate::cloud::join_instances`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// The group.
    pub group: GroupView,
    /// Its instances.
    pub instances: Vec<InstanceView>,
    /// Its latest Spot Blue/Green deployment.
    pub green: Option<GreenDeployment>,
    /// The deployment group, when asked: `None` inside means it does not exist.
    pub deployment_group: Option<Option<DeploymentGroupView>>,
}

/// One round of health checks: per instance, `Ok` or why not.
pub type HealthRound = Vec<(InstanceId, Result<(), String>)>;

/// The result of a [`Command`], one variant per command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallResult {
    /// [`Command::Inspect`].
    Inspected(Result<Inspection, RemoteError>),
    /// [`Command::AcquireLeases`].
    LeasesAcquired(Result<LeaseOutcome, RemoteError>),
    /// [`Command::ReleaseLeases`].
    LeasesReleased(Result<(), RemoteError>),
    /// [`Command::StartGreen`].
    GreenStarted(Result<GreenDeployment, RemoteError>),
    /// [`Command::CreateDeployment`].
    DeploymentCreated(Result<DeploymentId, RemoteError>),
    /// [`Command::FindDeployment`].
    DeploymentFound(Result<Option<DeploymentId>, RemoteError>),
    /// [`Command::GetDeployment`].
    DeploymentRead(Result<DeploymentView, RemoteError>),
    /// [`Command::ContinueDeployment`].
    Continued(Result<(), RemoteError>),
    /// [`Command::StopDeployment`] and [`Command::StopWithoutRollback`].
    DeploymentStopped(Result<(), RemoteError>),
    /// [`Command::StopGreen`].
    GreenStopped(Result<(), RemoteError>),
    /// [`Command::PointBlue`].
    BluePointed(Result<(), RemoteError>),
    /// [`Command::Detach`].
    Detached(Result<(), RemoteError>),
    /// [`Command::SetCapacity`].
    CapacitySet(Result<(), RemoteError>),
    /// [`Command::CheckHealth`]: the round, or why it could not run (the group could not be read),
    /// which says nothing of green's health.
    Health(Result<HealthRound, RemoteError>),
}

/// Everything that can happen to a saga.
// Inputs are built once and moved into `handle`; boxing the large results would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// A step or timer message arrived.
    Wake {
        /// The fence it carries.
        fence: u64,
        /// Its kind.
        kind: WakeKind,
        /// The wake counter it was sent with.
        seq: u64,
    },
    /// A call finished.
    Completed {
        /// The fence of the step that made the call.
        fence: u64,
        /// Its result.
        result: CallResult,
    },
    /// A CodeDeploy state-change event for this saga's deployment.
    Deployment(DeploymentEvent),
    /// An operator or service asked to cancel: compensation runs.
    Cancel {
        /// Who.
        by: String,
        /// Why.
        reason: String,
    },
    /// A person approved at READY.
    Approve {
        /// Who.
        by: String,
    },
}

impl CallResult {
    /// The name of the call this answers, e.g. `GetDeployment` (for history lines).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Inspected(_) => "Inspect",
            Self::LeasesAcquired(_) => "AcquireLeases",
            Self::LeasesReleased(_) => "ReleaseLeases",
            Self::GreenStarted(_) => "StartGreen",
            Self::DeploymentCreated(_) => "CreateDeployment",
            Self::DeploymentFound(_) => "FindDeployment",
            Self::DeploymentRead(_) => "GetDeployment",
            Self::Continued(_) => "ContinueDeployment",
            Self::DeploymentStopped(_) => "StopDeployment",
            Self::GreenStopped(_) => "StopGreen",
            Self::BluePointed(_) => "PointBlue",
            Self::Detached(_) => "Detach",
            Self::CapacitySet(_) => "SetCapacity",
            Self::Health(_) => "CheckHealth",
        }
    }
}
