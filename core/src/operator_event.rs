//! Approvals and cancels published as events: another service (a chat-ops bot, a change-management
//! system, `greenfleet-client`) puts `Rollout Approved` or `Rollout Cancel Requested` on greenfleet's
//! bus; the `<prefix>-requests` rule routes it to the intake queue, and the worker decodes it here
//! into the same [`StepBody`] `greenfleet approve` / `greenfleet cancel` put on the steps queue, so
//! both drive the saga with one [`Input`].
//!
//! The event's `id` becomes the transition's cause, so an event EventBridge or SQS delivers twice
//! is handled once. The checks on the fields are shared with the client, which refuses bad input
//! before sending.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::effect::Input;
use crate::event::EVENT_SOURCE;
use crate::ids::RolloutId;
use crate::layout::{ROLLOUT_APPROVED, ROLLOUT_CANCEL_REQUESTED};
use crate::message::StepBody;

/// Longest `by` (as a request's `requestedBy`).
pub const MAX_BY_LEN: usize = 256;
/// Longest cancel `reason`.
pub const MAX_REASON_LEN: usize = 1024;
/// The reason of a cancel request that gives none (as `greenfleet cancel` without `--reason`).
pub const DEFAULT_CANCEL_REASON: &str = "cancelled by an operator";

/// Which command an event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatorKind {
    /// `Rollout Approved`: continue a manual rollout waiting at READY.
    Approve,
    /// `Rollout Cancel Requested`: run compensation.
    Cancel,
}

impl OperatorKind {
    /// Both kinds.
    pub const ALL: [Self; 2] = [Self::Approve, Self::Cancel];

    /// The EventBridge detail-type.
    #[must_use]
    pub fn detail_type(self) -> &'static str {
        match self {
            Self::Approve => ROLLOUT_APPROVED,
            Self::Cancel => ROLLOUT_CANCEL_REQUESTED,
        }
    }

    /// The kind of an event envelope (by its `detail-type`), or `None` when it carries no command.
    #[must_use]
    pub fn of_event(event: &Value) -> Option<Self> {
        let detail_type = event.get("detail-type").and_then(Value::as_str)?;
        Self::ALL.into_iter().find(|k| k.detail_type() == detail_type)
    }

    fn verb(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Cancel => "cancel",
        }
    }

    fn shape(self) -> &'static str {
        match self {
            Self::Approve => r#"{"rolloutId": "…", "by": "…"}"#,
            Self::Cancel => r#"{"rolloutId": "…", "by": "…", "reason": "…"} (reason optional)"#,
        }
    }
}

/// A field of an approval or cancel that cannot be used, and what to put instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {message}")]
pub struct InvalidCommand {
    /// `rolloutId`, `by` or `reason`.
    pub field: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

/// The `detail` of a `Rollout Approved` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalDetail {
    /// The rollout to approve (its request's `requestId`).
    pub rollout_id: String,
    /// Who approves (recorded in the rollout's history).
    pub by: String,
}

/// The `detail` of a `Rollout Cancel Requested` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelDetail {
    /// The rollout to cancel (its request's `requestId`).
    pub rollout_id: String,
    /// Who cancels.
    pub by: String,
    /// Why (recorded in the history and the `Rollout RolledBack` event); default [`DEFAULT_CANCEL_REASON`].
    #[serde(default = "default_reason")]
    pub reason: String,
}

fn default_reason() -> String {
    DEFAULT_CANCEL_REASON.to_owned()
}

fn check_rollout_id(id: &str) -> Result<RolloutId, InvalidCommand> {
    RolloutId::parse(id).map_err(|e| InvalidCommand {
        field: "rolloutId",
        message: format!("is not a rollout id ({e}); use the rollout's requestId, as `greenfleet list` shows it"),
    })
}

fn check_text(field: &'static str, s: &str, max: usize, what: &str) -> Result<(), InvalidCommand> {
    if s.trim().is_empty() {
        return Err(InvalidCommand { field, message: format!("is empty; say {what}") });
    }
    if s.len() > max {
        return Err(InvalidCommand {
            field,
            message: format!("is {} characters long; at most {max} are allowed: shorten it", s.len()),
        });
    }
    Ok(())
}

impl ApprovalDetail {
    /// An approval of `rollout_id` by `by`, checked as the worker will check it.
    pub fn new(rollout_id: &str, by: &str) -> Result<Self, InvalidCommand> {
        let detail = Self { rollout_id: rollout_id.to_owned(), by: by.to_owned() };
        detail.check()?;
        Ok(detail)
    }

    /// The rollout and the step body this approval asks for.
    pub fn check(&self) -> Result<(RolloutId, StepBody), InvalidCommand> {
        let id = check_rollout_id(&self.rollout_id)?;
        check_text("by", &self.by, MAX_BY_LEN, "who approves (recorded in the rollout's history)")?;
        Ok((id, StepBody::Approve { by: self.by.clone() }))
    }
}

impl CancelDetail {
    /// A cancel request for `rollout_id` by `by` because of `reason`, checked as the worker will check it.
    pub fn new(rollout_id: &str, by: &str, reason: &str) -> Result<Self, InvalidCommand> {
        let detail = Self { rollout_id: rollout_id.to_owned(), by: by.to_owned(), reason: reason.to_owned() };
        detail.check()?;
        Ok(detail)
    }

    /// The rollout and the step body this cancel request asks for.
    pub fn check(&self) -> Result<(RolloutId, StepBody), InvalidCommand> {
        let id = check_rollout_id(&self.rollout_id)?;
        check_text("by", &self.by, MAX_BY_LEN, "who cancels (recorded in the rollout's history)")?;
        check_text("reason", &self.reason, MAX_REASON_LEN, "why the rollout is cancelled, or leave the field out")?;
        Ok((id, StepBody::Cancel { by: self.by.clone(), reason: self.reason.clone() }))
    }
}

/// An approval or cancel event that cannot be acted on: it belongs in the dead-letter queue. The
/// message names the event, the field and what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorEventError {
    /// The envelope has no `id` (EventBridge gives every event one): it was not put on the bus.
    #[error(
        "`{detail_type}` event from `{event_source}` has no `id`; publish it on greenfleet's bus with PutEvents (EventBridge gives every event an id) rather than sending it to the intake queue"
    )]
    NoEventId {
        /// Its detail-type.
        detail_type: String,
        /// Its source.
        event_source: String,
    },
    /// greenfleet's own source: greenfleet publishes lifecycle events, never commands.
    #[error(
        "`{detail_type}` event `{event_id}` comes from source `greenfleet`, which greenfleet keeps for its own lifecycle events; publish commands with your service's name as the source"
    )]
    OwnSource {
        /// Its detail-type.
        detail_type: String,
        /// Its id.
        event_id: String,
    },
    /// The `detail` is not the documented shape (missing or unknown field, wrong type).
    #[error("`{detail_type}` event `{event_id}` from `{event_source}` refused: its detail {message}; send {shape}")]
    Malformed {
        /// Its detail-type.
        detail_type: String,
        /// Its id.
        event_id: String,
        /// Its source.
        event_source: String,
        /// What is wrong.
        message: String,
        /// The shape expected.
        shape: &'static str,
    },
    /// A field has the right type but cannot be used.
    #[error("`{detail_type}` event `{event_id}` from `{event_source}` refused: detail.{problem}")]
    Invalid {
        /// Its detail-type.
        detail_type: String,
        /// Its id.
        event_id: String,
        /// Its source.
        event_source: String,
        /// Which field, and why.
        problem: InvalidCommand,
    },
}

/// A decoded approval or cancel, ready to drive the saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorCommand {
    /// Which command.
    pub kind: OperatorKind,
    /// The rollout it is for.
    pub rollout_id: RolloutId,
    /// The event's id (dedupe, logs).
    pub event_id: String,
    /// The event's source (who published it).
    pub source: String,
    /// What it says, as the CLI's step message would say it.
    pub body: StepBody,
}

impl OperatorCommand {
    /// Decodes an EventBridge envelope whose detail-type is one of [`OperatorKind`]'s; `Ok(None)`
    /// when it is not an approval or cancel at all.
    pub fn decode(event: &Value) -> Result<Option<Self>, OperatorEventError> {
        let Some(kind) = OperatorKind::of_event(event) else { return Ok(None) };
        let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (detail_type, source, event_id) = (kind.detail_type().to_owned(), text("source"), text("id"));
        if event_id.is_empty() {
            return Err(OperatorEventError::NoEventId { detail_type, event_source: source });
        }
        if source == EVENT_SOURCE {
            return Err(OperatorEventError::OwnSource { detail_type, event_id });
        }
        let detail = event.get("detail").cloned().unwrap_or(Value::Null);
        let malformed = |e: serde_json::Error| OperatorEventError::Malformed {
            detail_type: detail_type.clone(),
            event_id: event_id.clone(),
            event_source: source.clone(),
            message: e.to_string(),
            shape: kind.shape(),
        };
        let checked = match kind {
            OperatorKind::Approve => serde_json::from_value::<ApprovalDetail>(detail).map_err(malformed)?.check(),
            OperatorKind::Cancel => serde_json::from_value::<CancelDetail>(detail).map_err(malformed)?.check(),
        };
        let (rollout_id, body) = checked.map_err(|problem| OperatorEventError::Invalid {
            detail_type: detail_type.clone(),
            event_id: event_id.clone(),
            event_source: source.clone(),
            problem,
        })?;
        Ok(Some(Self { kind, rollout_id, event_id, source, body }))
    }

    /// The cause its transitions record, from the event's id: a redelivered event finds it and is
    /// handled once.
    #[must_use]
    pub fn cause(&self) -> String {
        format!("bus:{}:{}", self.kind.verb(), self.event_id)
    }

    /// Who asked.
    #[must_use]
    pub fn by(&self) -> &str {
        match &self.body {
            StepBody::Approve { by } | StepBody::Cancel { by, .. } => by,
            StepBody::Wake { .. } => "",
        }
    }

    /// The saga input: the one `greenfleet approve` / `cancel` produce.
    #[must_use]
    pub fn input(&self) -> Input {
        self.body.input()
    }
}

#[cfg(test)]
#[path = "operator_event_tests.rs"]
mod tests;
