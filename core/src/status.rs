//! A rollout's status as others read it: a stable, documented projection of the saga, written beside
//! it on every transition (the table's `rolloutStatus` attribute), so that the CLI and the publisher
//! client (`greenfleet-client`) never parse the saga's internal state.
//!
//! Its JSON Schema is committed as `schema/rollout-status.v1.json`. Fields are only ever added (with
//! a default); a field that changes meaning or goes away is a new [`STATUS_VERSION`]. Step and outcome
//! names are the stable names (`Phase::name`, `Outcome::kind`), never Rust identifiers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::{DeploymentId, RolloutId, Timestamp};
use crate::request::RolloutRequestDoc;
use crate::saga::{Outcome, Saga};

/// The `statusVersion` this build writes.
pub const STATUS_VERSION: u32 = 1;

/// Where a rollout is and how it ended, as the CLI and the publisher client show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    title = "greenfleet rollout status",
    description = "A rollout's status, written beside the saga on every transition (DynamoDB attribute `rolloutStatus`).",
    extend("$id" = "https://greenfleet.dev/schema/rollout-status.v1.json")
)]
pub struct RolloutStatus {
    /// The version of this document's shape: 1.
    pub status_version: u32,
    /// The rollout (its request id).
    pub rollout_id: RolloutId,
    /// The request it runs, as it was published (schemaVersion 1).
    pub request: RolloutRequestDoc,
    /// What the request was first published as (see `fingerprint`); another request under the same id is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The step it is at (a stable name, e.g. `AwaitGreen`, or `Done(Succeeded)` once finished).
    pub step: String,
    /// What it waits for, in words.
    pub waiting_for: String,
    /// Whether it has finished.
    pub done: bool,
    /// `Succeeded`, `Rejected`, `RolledBack` or `NeedsAttention`, once done.
    #[serde(default)]
    pub outcome: Option<String>,
    /// Why it was rejected, rolled back or needs attention.
    #[serde(default)]
    pub reason: Option<String>,
    /// What is left to do by hand (NeedsAttention).
    #[serde(default)]
    pub left: Vec<String>,
    /// The revision, described (`s3://bucket/key (zip)`).
    pub revision: String,
    /// The CodeDeploy deployment, once created.
    #[serde(default)]
    pub deployment_id: Option<DeploymentId>,
    /// CodeDeploy's status of it, as last seen.
    #[serde(default)]
    pub deployment_status: Option<String>,
    /// Spot's Blue/Green deployment, once started.
    #[serde(default)]
    pub green_deployment_id: Option<String>,
    /// Green instances seen running and tagged at the last look.
    pub green_ready: u32,
    /// Green instances expected.
    pub green_expected: u32,
    /// Green instances known (running and tagged).
    pub green_count: usize,
    /// Blue instances recorded before the rollout changed anything.
    pub blue_count: usize,
    /// Whether the step waits on the CodeDeploy deployment (its progress is worth reading from CodeDeploy).
    pub awaiting_deployment: bool,
    /// Instances that finished CodeDeploy's lifecycle.
    pub instances_done: usize,
    /// The Elastigroup's capacity before the rollout, once recorded (restored at the end).
    #[serde(default)]
    pub capacity_before: Option<CapacityView>,
    /// When it was accepted.
    pub accepted_at: Timestamp,
    /// When the current step began.
    pub since: Timestamp,
    /// When the current step's wait ends (none once done).
    #[serde(default)]
    pub deadline: Option<Timestamp>,
    /// When it last changed (its end, once done).
    pub updated_at: Timestamp,
    /// Milliseconds from acceptance to the last change.
    pub duration_ms: u64,
    /// What happened, in order.
    pub history: Vec<HistoryLine>,
}

/// An Elastigroup's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapacityView {
    /// Minimum instances.
    pub minimum: u32,
    /// Maximum instances.
    pub maximum: u32,
    /// Target instances.
    pub target: u32,
}

/// One line of a rollout's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryLine {
    /// When.
    pub at: Timestamp,
    /// The step (stable name).
    pub step: String,
    /// What happened.
    pub note: String,
}

impl RolloutStatus {
    /// The projection of `saga`.
    #[must_use]
    pub fn of(saga: &Saga) -> Self {
        let f = &saga.facts;
        let outcome = saga.outcome();
        Self {
            status_version: STATUS_VERSION,
            rollout_id: saga.id.clone(),
            request: RolloutRequestDoc::from(saga.request.as_ref()),
            fingerprint: saga.fingerprint.clone(),
            step: saga.phase.name(),
            waiting_for: saga.waiting_for(),
            done: saga.phase.is_done(),
            outcome: outcome.map(|o| o.kind().to_owned()),
            reason: outcome.and_then(Outcome::reason).map(str::to_owned),
            left: match outcome {
                Some(Outcome::NeedsAttention { left, .. }) => left.clone(),
                _ => Vec::new(),
            },
            revision: saga.request.revision.describe(),
            deployment_id: f.deployment_id.clone(),
            deployment_status: f.deployment_status.as_ref().map(|d| d.as_str().to_owned()),
            green_deployment_id: f.green_deployment.as_ref().map(ToString::to_string),
            green_ready: f.green_progress.0,
            green_expected: f.green_progress.1,
            green_count: f.green.len(),
            blue_count: f.blue.len(),
            awaiting_deployment: saga.phase.policy().follows_deployment,
            instances_done: f.instances_done.len(),
            capacity_before: f.snapshot.map(|c| CapacityView {
                minimum: c.minimum,
                maximum: c.maximum,
                target: c.target,
            }),
            accepted_at: saga.created_at,
            since: saga.phase_since,
            deadline: (!saga.phase.is_done()).then_some(saga.deadline),
            updated_at: saga.updated_at,
            duration_ms: saga.updated_at.since(saga.created_at),
            history: saga
                .history
                .iter()
                .map(|h| HistoryLine { at: h.at, step: h.step.clone(), note: h.note.clone() })
                .collect(),
        }
    }

    /// Whether it ended as `Succeeded`.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.outcome.as_deref() == Some("Succeeded")
    }
}

/// The JSON Schema of [`RolloutStatus`], as committed in `schema/rollout-status.v1.json`.
#[must_use]
pub fn status_json_schema() -> String {
    let schema = schemars::schema_for!(RolloutStatus);
    // A derived schema always encodes.
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::fixtures::request;

    const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/rollout-status.v1.json");

    #[test]
    fn committed_json_schema_is_up_to_date() {
        let fresh = status_json_schema();
        if std::env::var_os("GREENFLEET_WRITE_SCHEMA").is_some() {
            std::fs::write(SCHEMA_PATH, &fresh).expect("write schema");
        }
        let committed = std::fs::read_to_string(SCHEMA_PATH).expect("schema/rollout-status.v1.json exists");
        assert_eq!(committed, fresh, "schema is stale: run `GREENFLEET_WRITE_SCHEMA=1 cargo test -p greenfleet-core`");
        let schema: serde_json::Value = serde_json::from_str(&committed).expect("JSON");
        let required = schema["required"].as_array().expect("required list");
        for field in ["statusVersion", "rolloutId", "step", "done", "history"] {
            assert!(required.iter().any(|r| r == field), "{field} is required");
        }
    }

    #[test]
    fn the_projection_names_the_step_and_round_trips() {
        let saga = crate::accept(request(), Timestamp(5_000)).next;
        let status = RolloutStatus::of(&saga);
        assert_eq!((status.status_version, status.step.as_str(), status.done), (1, "Preflight", false));
        assert_eq!(status.rollout_id, saga.id);
        assert_eq!(status.deadline, Some(saga.deadline));
        assert_eq!(status.history.len(), saga.history.len());
        let json = serde_json::to_value(&status).expect("encodes");
        assert_eq!(json["rolloutId"], saga.id.to_string());
        assert_eq!(json["request"]["schemaVersion"], 1);
        assert_eq!(serde_json::from_value::<RolloutStatus>(json).expect("decodes"), status);
    }
}
