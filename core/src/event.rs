//! Lifecycle events greenfleet publishes on its bus, so other services can react to rollouts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{DeploymentId, ElastigroupId, RolloutId, Timestamp};

/// The EventBridge `source` of greenfleet's events.
pub const EVENT_SOURCE: &str = "greenfleet";

/// Which lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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
    /// A request reused the requestId of an existing rollout for a different request: refused, and the
    /// rollout left as it is. Not an end of that rollout; `reason` says what differs and what to do.
    RequestConflicted,
}

impl LifecycleKind {
    /// Every kind, in the order a rollout can meet them.
    pub const ALL: [Self; 7] = [
        Self::Accepted,
        Self::Rejected,
        Self::Started,
        Self::Succeeded,
        Self::RolledBack,
        Self::NeedsAttention,
        Self::RequestConflicted,
    ];

    /// The stable name, e.g. `Succeeded` (in event ids): a literal, never `Debug` output.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Accepted => "Accepted",
            Self::Rejected => "Rejected",
            Self::Started => "Started",
            Self::Succeeded => "Succeeded",
            Self::RolledBack => "RolledBack",
            Self::NeedsAttention => "NeedsAttention",
            Self::RequestConflicted => "RequestConflicted",
        }
    }

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
            Self::RequestConflicted => "Rollout Request Conflicted",
        }
    }
}

/// The `detail` of a lifecycle event. Its JSON Schema is committed as `schema/lifecycle-event.v1.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    title = "greenfleet lifecycle event",
    description = "The `detail` of an event greenfleet publishes on its bus (source `greenfleet`, detail-type `Rollout <kind>`).",
    extend("$id" = "https://greenfleet.dev/schema/lifecycle-event.v1.json")
)]
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
    /// Why, for Rejected / RolledBack / NeedsAttention; for RequestConflicted, what differs and what to do.
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

/// The committed JSON Schema of [`LifecycleEvent`], pretty-printed with a trailing newline.
#[must_use]
pub fn lifecycle_json_schema() -> String {
    let schema = schemars::schema_for!(LifecycleEvent);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
