//! A rollout's status as a publisher sees it: where it is, how it ended, how long it took.

use greenfleet_core::ids::{DeploymentId, RolloutId, Timestamp};
use greenfleet_core::saga::Saga;
use serde::Serialize;

/// Where a rollout is, read from greenfleet's table by [`crate::Client::status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// The rollout (its request id).
    pub rollout_id: RolloutId,
    /// The step it is at, e.g. `AwaitGreen`, `Compensating(StopDeployment)` or `Done(Succeeded)`.
    pub phase: String,
    /// What it waits for, in words.
    pub waiting_for: String,
    /// Whether it has finished.
    pub done: bool,
    /// `Succeeded`, `Rejected`, `RolledBack` or `NeedsAttention`, once done.
    pub outcome: Option<String>,
    /// Why it was rejected, rolled back or needs attention.
    pub reason: Option<String>,
    /// What is left to do by hand (NeedsAttention).
    pub left: Vec<String>,
    /// The CodeDeploy deployment, once created.
    pub deployment_id: Option<DeploymentId>,
    /// The revision, described (`s3://bucket/key (zip)`).
    pub revision: String,
    /// When it was accepted.
    pub accepted_at: Timestamp,
    /// When it last changed (its end, once done).
    pub updated_at: Timestamp,
    /// Milliseconds from acceptance to the last change.
    pub duration_ms: u64,
}

impl RolloutStatus {
    /// Whether it ended as `Succeeded`.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.outcome.as_deref() == Some("Succeeded")
    }
}

impl From<&Saga> for RolloutStatus {
    fn from(saga: &Saga) -> Self {
        let outcome = saga.outcome();
        Self {
            rollout_id: saga.id.clone(),
            phase: saga.phase.name(),
            waiting_for: saga.waiting_for(),
            done: saga.phase.is_done(),
            outcome: outcome.map(|o| o.kind().to_owned()),
            reason: outcome.and_then(|o| o.reason()).map(str::to_owned),
            left: match outcome {
                Some(greenfleet_core::saga::Outcome::NeedsAttention { left, .. }) => left.clone(),
                _ => Vec::new(),
            },
            deployment_id: saga.facts.deployment_id.clone(),
            revision: saga.request.revision.describe(),
            accepted_at: saga.created_at,
            updated_at: saga.updated_at,
            duration_ms: saga.updated_at.since(saga.created_at),
        }
    }
}
