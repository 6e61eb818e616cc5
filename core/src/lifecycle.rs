//! The lifecycle events of a rollout, built from its saga. The events themselves are plain data in
//! [`crate::event`], below the saga; building them from a saga belongs above it.

use crate::event::{LifecycleEvent, LifecycleKind};
use crate::ids::Timestamp;
use crate::saga::{Outcome, Saga};

impl LifecycleEvent {
    /// The event for `saga` reaching `kind` at `now`.
    #[must_use]
    pub fn for_saga(saga: &Saga, kind: LifecycleKind, now: Timestamp) -> Self {
        let (outcome, reason, left) = match saga.outcome() {
            Some(o) => (
                Some(o.kind().to_owned()),
                o.reason().map(str::to_owned),
                match o {
                    Outcome::NeedsAttention { left, .. } => left.clone(),
                    _ => Vec::new(),
                },
            ),
            None => (None, None, Vec::new()),
        };
        Self {
            kind,
            event_id: format!("{}:{}", saga.id, kind.name()),
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

    /// The `Rollout Request Conflicted` event: `refused` reused the requestId of `saga`'s rollout for a
    /// different request. It describes the refused request (its target and revision) and names the
    /// existing rollout; `reason` lists what differs and says to publish under a new requestId. Its
    /// id carries the refused request's fingerprint, so each different request is reported once.
    #[must_use]
    pub fn request_conflicted(
        saga: &Saga,
        refused: &crate::request::RolloutRequest,
        conflict: &crate::fingerprint::Conflict,
        now: Timestamp,
    ) -> Self {
        let kind = LifecycleKind::RequestConflicted;
        Self {
            kind,
            event_id: format!("{}:{}:{}", saga.id, kind.name(), conflict.fingerprint),
            rollout_id: Some(saga.id.clone()),
            request_id: Some(refused.request_id.to_string()),
            elastigroup_id: Some(refused.elastigroup_id.clone()),
            application: Some(refused.application.clone()),
            deployment_group: Some(refused.deployment_group.clone()),
            deployment_id: None,
            revision: Some(refused.revision.describe()),
            outcome: None,
            reason: Some(conflict.explain()),
            left: Vec::new(),
            accepted_at: Some(saga.created_at),
            at: now,
            duration_ms: None,
        }
    }
}
