//! Lifecycle events greenfleet publishes on its bus, so other services can react to rollouts.

use serde::{Deserialize, Serialize};

use crate::ids::{DeploymentId, ElastigroupId, RolloutId, Timestamp};
use crate::saga::Saga;

/// The EventBridge `source` of greenfleet's events.
pub const EVENT_SOURCE: &str = "greenfleet";

/// Which lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LifecycleKind {
    /// Request accepted, saga stored.
    Accepted,
    /// Preflight or validation said no; nothing was touched.
    Rejected,
    /// Green is being launched.
    Started,
    /// Green serves, capacity restored.
    Succeeded,
    /// Compensation finished and was verified.
    RolledBack,
    /// Something is left to do by hand.
    NeedsAttention,
}

impl LifecycleKind {
    /// The EventBridge detail-type, e.g. `Rollout Succeeded`.
    #[must_use]
    pub fn detail_type(self) -> &'static str {
        match self {
            Self::Accepted => "Rollout Accepted",
            Self::Rejected => "Rollout Rejected",
            Self::Started => "Rollout Started",
            Self::Succeeded => "Rollout Succeeded",
            Self::RolledBack => "Rollout RolledBack",
            Self::NeedsAttention => "Rollout NeedsAttention",
        }
    }
}

/// The `detail` of a lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleEvent {
    /// Which event.
    pub kind: LifecycleKind,
    /// Unique per rollout and kind, so subscribers can deduplicate.
    pub event_id: String,
    /// The rollout (None when the request could not be read at all).
    pub rollout_id: Option<RolloutId>,
    /// The request id, when known.
    pub request_id: Option<String>,
    /// The Elastigroup.
    pub elastigroup_id: Option<ElastigroupId>,
    /// CodeDeploy application.
    pub application: Option<String>,
    /// CodeDeploy deployment group.
    pub deployment_group: Option<String>,
    /// The CodeDeploy deployment, once created.
    pub deployment_id: Option<DeploymentId>,
    /// The revision, described.
    pub revision: Option<String>,
    /// Outcome, for terminal events.
    pub outcome: Option<String>,
    /// Why, for Rejected / RolledBack / NeedsAttention.
    pub reason: Option<String>,
    /// What is left to do by hand (NeedsAttention).
    pub left: Vec<String>,
    /// When the rollout was accepted.
    pub accepted_at: Option<Timestamp>,
    /// When this happened.
    pub at: Timestamp,
    /// Milliseconds since acceptance.
    pub duration_ms: Option<u64>,
}

impl LifecycleEvent {
    /// The event for `saga` reaching `kind` at `now`.
    #[must_use]
    pub fn for_saga(saga: &Saga, kind: LifecycleKind, now: Timestamp) -> Self {
        let (outcome, reason, left) = match saga.outcome() {
            Some(o) => (
                Some(o.kind().to_owned()),
                o.reason().map(str::to_owned),
                match o {
                    crate::saga::Outcome::NeedsAttention { left, .. } => left.clone(),
                    _ => Vec::new(),
                },
            ),
            None => (None, None, Vec::new()),
        };
        Self {
            kind,
            event_id: format!("{}:{:?}", saga.id, kind),
            rollout_id: Some(saga.id.clone()),
            request_id: Some(saga.request.request_id.to_string()),
            elastigroup_id: Some(saga.request.elastigroup_id.clone()),
            application: Some(saga.request.application.clone()),
            deployment_group: Some(saga.request.deployment_group.clone()),
            deployment_id: saga.facts.deployment_id.clone(),
            revision: Some(saga.request.revision.describe()),
            outcome,
            reason,
            left,
            accepted_at: Some(saga.created_at),
            at: now,
            duration_ms: Some(now.since(saga.created_at)),
        }
    }

    /// A `Rollout Rejected` event for a request that could not be parsed.
    #[must_use]
    pub fn invalid_request(request_id: Option<String>, reason: String, now: Timestamp) -> Self {
        Self {
            kind: LifecycleKind::Rejected,
            event_id: format!("{}:Rejected", request_id.as_deref().unwrap_or("unknown")),
            rollout_id: None,
            request_id,
            elastigroup_id: None,
            application: None,
            deployment_group: None,
            deployment_id: None,
            revision: None,
            outcome: Some("Rejected".into()),
            reason: Some(reason),
            left: Vec::new(),
            accepted_at: None,
            at: now,
            duration_ms: None,
        }
    }
}
