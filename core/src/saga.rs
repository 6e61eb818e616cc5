//! The saga's state: which step it is in, what it has learned and done so far, and its history.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cloud::{BlueAction, Capacity, DeploymentGroupRef, DeploymentStatus, ReadyAction};
use crate::ids::{DeploymentId, GreenDeploymentId, InstanceId, RolloutId, Timestamp};
use crate::lease::LeaseKey;
use crate::request::RolloutRequest;

pub use crate::redelivery::Outbox;

/// One rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saga {
    /// Its id (the request id).
    pub id: RolloutId,
    /// What was asked (shared: it never changes, so copies of the saga need not copy it).
    pub request: Arc<RolloutRequest>,
    /// The fingerprint of `request` ([`crate::fingerprint`]): a later publication of the same requestId
    /// with another fingerprint is a conflict, refused. `None` in sagas written before fingerprints
    /// existed, which match any request with their id (as they always did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Store version, bumped by every write (optimistic concurrency).
    pub version: u64,
    /// Bumped every time the saga enters a step; step and timer messages carry it, so stale ones are ignored.
    pub fence: u64,
    /// Where the saga is.
    pub phase: Phase,
    /// Attempts made at the current step's call (for retries with backoff).
    pub attempt: u32,
    /// What the current step has done so far (reset when a step is entered).
    pub progress: crate::progress::StepProgress,
    /// Counter for step/poll messages; each carries the value it was sent with.
    pub seq: u64,
    /// The one step/poll message the saga waits for; any other (duplicate, superseded) is ignored.
    pub next_wake: Option<u64>,
    /// When the earliest deadline message still on its way fires (none: arm one at the next step).
    #[serde(default)]
    pub deadline_wake: Option<Timestamp>,
    /// When the current step began.
    pub phase_since: Timestamp,
    /// When the current step's wait ends; every step has one (F10).
    pub deadline: Timestamp,
    /// When the rollout was accepted.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// What the saga has learned and done.
    pub facts: Facts,
    /// What happened, in order (shared until a transition adds a line).
    pub history: Arc<Vec<HistoryEntry>>,
    /// The effects of the last transition and the message that caused it: when that message is delivered
    /// again (the worker died after persisting), the shell replays these instead of handling it twice.
    pub outbox: Outbox,
}

/// What a rollout learned and did, needed by later steps and by compensation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facts {
    /// Capacity before anything changed.
    pub snapshot: Option<Capacity>,
    /// Instances running before the rollout (blue).
    pub blue: Vec<InstanceId>,
    /// Green instances, once running and tagged.
    pub green: Vec<InstanceId>,
    /// Green instances seen running and tagged at the last look, and how many are expected.
    pub green_progress: (u32, u32),
    /// Spot's Blue/Green deployment.
    pub green_deployment: Option<GreenDeploymentId>,
    /// The CodeDeploy deployment.
    pub deployment_id: Option<DeploymentId>,
    /// Last known CodeDeploy status.
    pub deployment_status: Option<DeploymentStatus>,
    /// CodeDeploy's error, if it failed.
    pub deployment_error: Option<String>,
    /// Deployment-level events already handled (dedupe, F11).
    pub seen_events: Vec<String>,
    /// Per-instance event progress: instances that reported SUCCESS or READY.
    pub instances_done: Vec<InstanceId>,
    /// Leases this rollout holds.
    pub leases: Vec<LeaseKey>,
    /// The deployment group's blue action (KEEP_ALIVE or TERMINATE).
    pub blue_action: Option<BlueAction>,
    /// The deployment group's ready action.
    pub ready_action: Option<ReadyAction>,
    /// ContinueDeployment was called.
    pub continued: bool,
    /// Who approved.
    pub approved_by: Option<String>,
    /// Health rounds in a row that passed / failed.
    pub health_streak: (u32, u32),
    /// Who cancelled, and why.
    pub cancelled: Option<String>,
    /// The rollout that held a lease this one waited for.
    #[serde(default)]
    pub lock_holder: Option<String>,
    /// Warnings found at preflight that did not stop the rollout.
    pub warnings: Vec<String>,
    /// StartGreen was attempted, so green instances may exist.
    pub started_green: bool,
    /// CreateDeployment was attempted, so a deployment may exist even without its id.
    pub create_attempted: bool,
    /// When the rollout started changing things (Started event).
    pub started_at: Option<Timestamp>,
    /// CodeDeploy's rollback of the stopped deployment, followed to its end before green is removed.
    #[serde(default)]
    pub rollback_deployment: Option<DeploymentId>,
    /// Spot's Blue/Green state last seen while Finalize waited for it.
    #[serde(default)]
    pub green_state: Option<String>,
}

/// A compensation step, run in order after a failure, timeout or cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Compensation {
    /// Stop the CodeDeploy deployment (auto-rollback on) and wait until it is terminal.
    StopDeployment,
    /// Stop Spot's Blue/Green deployment.
    StopGreen,
    /// Detach and terminate every green instance, then read the group back until none is left.
    RemoveGreen,
    /// Put capacity back to the snapshot, then read it back.
    RestoreCapacity,
    /// Release the leases.
    ReleaseLeases,
}

impl Compensation {
    /// What an operator must do by hand when this step could not finish.
    #[must_use]
    pub fn manual_instructions(self, saga: &Saga) -> String {
        let group = &saga.request.elastigroup_id;
        match self {
            Self::StopDeployment => format!(
                "stop CodeDeploy deployment {} (aws deploy stop-deployment --deployment-id {} --auto-rollback-enabled)",
                opt(saga.facts.deployment_id.as_ref()),
                opt(saga.facts.deployment_id.as_ref())
            ),
            Self::StopGreen => format!(
                "stop Spot Blue/Green deployment {} of {group} (PUT /aws/ec2/group/{group}/codeDeploy/blueGreenDeployment/{}/stop)",
                opt(saga.facts.green_deployment.as_ref()),
                opt(saga.facts.green_deployment.as_ref())
            ),
            Self::RemoveGreen => format!(
                "detach and terminate the instances of {group} tagged {}={} (Spot console → Elastigroup → Instances → Detach, with terminate)",
                crate::request::ROLLOUT_TAG_KEY,
                saga.id
            ),
            Self::RestoreCapacity => match saga.facts.snapshot {
                Some(c) => format!(
                    "set the capacity of {group} back to {c} (PUT /aws/ec2/group/{group}/capacity {{\"capacity\":{{\"minimum\":{},\"maximum\":{},\"target\":{}}}}})",
                    c.minimum, c.maximum, c.target
                ),
                None => format!("check the capacity of {group}; no snapshot was taken"),
            },
            Self::ReleaseLeases => {
                "release the leases with `greenfleet release <rollout>` once the group is clean".into()
            }
        }
    }
}

pub(crate) fn opt<T: fmt::Display>(v: Option<&T>) -> String {
    v.map_or_else(|| "(unknown)".to_owned(), ToString::to_string)
}

/// Sub-steps of Finalize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinalizeStage {
    /// Wait for Spot to finish its Blue/Green deployment.
    AwaitSpot,
    /// Detach and terminate blue instances Spot kept (KEEP_ALIVE), then verify.
    RemoveBlue,
    /// Restore capacity to the snapshot (F8) and read it back (the last stage).
    RestoreCapacity,
    /// Point the deployment group's original-fleet tags at the new blue (this rollout's tag), and read
    /// them back, so the next rollout finds blue where CodeDeploy looks (before RestoreCapacity).
    PointBlue,
}

/// Where a saga is. Forward steps follow the ARCHITECTURE step table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Check the deployment group and Elastigroup (F1–F4).
    Preflight,
    /// Take the leases on the Elastigroup and deployment group (F12).
    Lock,
    /// Record capacity and blue instances under the lease.
    Snapshot,
    /// Start Spot's CodeDeploy Blue/Green deployment.
    StartGreen,
    /// Wait for all green instances running and tagged (F5).
    AwaitGreen,
    /// CreateDeployment exactly once (F11).
    CreateDeployment,
    /// Follow CodeDeploy's events, with a reconcile poll.
    AwaitDeployment,
    /// Health checks against green at READY.
    Verify,
    /// Wait for a person's approval at READY.
    AwaitApproval,
    /// Handle blue, restore capacity, point the deployment group at the new blue, verify each.
    Finalize(FinalizeStage),
    /// Release the leases.
    Release,
    /// Undoing what was done: `remaining` in order; `left` could not be finished.
    Compensating {
        /// Why.
        reason: String,
        /// Steps still to run, the current one first.
        remaining: Vec<Compensation>,
        /// Steps that failed after every retry, with their error.
        left: Vec<(Compensation, String)>,
    },
    /// Finished.
    Done(Outcome),
}

impl Phase {
    /// Whether the saga has finished.
    #[must_use]
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done(_))
    }
}

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Green serves, blue is gone, capacity is back at the snapshot.
    Succeeded,
    /// Preflight said no; nothing was touched.
    Rejected {
        /// Why, with what to change.
        reason: String,
    },
    /// Something failed; compensation finished and was verified.
    RolledBack {
        /// What failed.
        reason: String,
    },
    /// A compensation or finalization could not finish: what is left, to do by hand.
    NeedsAttention {
        /// What failed first.
        reason: String,
        /// What remains, as instructions.
        left: Vec<String>,
    },
}

impl Outcome {
    /// The reason, if any.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Succeeded => None,
            Self::Rejected { reason } | Self::RolledBack { reason } | Self::NeedsAttention { reason, .. } => {
                Some(reason)
            }
        }
    }
}

/// One line of a rollout's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When.
    pub at: Timestamp,
    /// The step (phase name).
    pub step: String,
    /// What happened.
    pub note: String,
}

/// What `list` shows of a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaSummary {
    /// Id.
    pub id: RolloutId,
    /// Elastigroup.
    pub elastigroup_id: crate::ids::ElastigroupId,
    /// Deployment group.
    pub deployment_group: DeploymentGroupRef,
    /// Phase name.
    pub phase: String,
    /// Outcome, when done.
    pub outcome: Option<String>,
    /// Accepted at.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Saga {
    /// The deployment group this rollout deploys through.
    #[must_use]
    pub fn deployment_group(&self) -> DeploymentGroupRef {
        DeploymentGroupRef {
            application: self.request.application.clone(),
            deployment_group: self.request.deployment_group.clone(),
        }
    }

    /// The outcome, when done.
    #[must_use]
    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.phase {
            Phase::Done(o) => Some(o),
            _ => None,
        }
    }

    /// The list view.
    #[must_use]
    pub fn summary(&self) -> SagaSummary {
        SagaSummary {
            id: self.id.clone(),
            elastigroup_id: self.request.elastigroup_id.clone(),
            deployment_group: self.deployment_group(),
            phase: self.phase.name(),
            outcome: self.outcome().map(|o| o.kind().to_owned()),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
