//! The step queue's messages: wake-ups the saga armed, and operator commands (cancel, approve).

use serde::{Deserialize, Serialize};

use crate::effect::{Input, WakeKind};
use crate::ids::{RolloutId, Timestamp};

/// A message on the step queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepMessage {
    /// The saga it is for.
    pub rollout_id: RolloutId,
    /// Unique per message; a duplicate delivery carries the same id.
    pub id: String,
    /// When it is due. A timer longer than the queue's longest delay is re-sent until then.
    pub due: Timestamp,
    /// What it says.
    pub body: StepBody,
}

/// What a step message says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepBody {
    /// A wake-up the saga armed.
    Wake {
        /// Fence.
        fence: u64,
        /// Kind.
        kind: WakeKind,
        /// Wake counter.
        seq: u64,
    },
    /// Cancel the rollout (compensation runs).
    Cancel {
        /// Who.
        by: String,
        /// Why.
        reason: String,
    },
    /// Approve at READY.
    Approve {
        /// Who.
        by: String,
    },
}

impl StepMessage {
    /// The message for a wake-up effect of `rollout`, due `delay_ms` after `now`.
    #[must_use]
    pub fn wake(rollout: &RolloutId, fence: u64, kind: WakeKind, seq: u64, now: Timestamp, delay_ms: u64) -> Self {
        let due = now.plus_ms(delay_ms);
        let id = match kind {
            WakeKind::Deadline => format!("{rollout}:{fence}:deadline"),
            _ => format!("{rollout}:{fence}:{kind:?}:{seq}"),
        };
        Self { rollout_id: rollout.clone(), id, due, body: StepBody::Wake { fence, kind, seq } }
    }

    /// The saga input this message carries.
    #[must_use]
    pub fn input(&self) -> Input {
        match &self.body {
            StepBody::Wake { fence, kind, seq } => Input::Wake { fence: *fence, kind: *kind, seq: *seq },
            StepBody::Cancel { by, reason } => Input::Cancel { by: by.clone(), reason: reason.clone() },
            StepBody::Approve { by } => Input::Approve { by: by.clone() },
        }
    }

    /// Decodes a queue body; a message that does not decode belongs in the dead-letter queue.
    pub fn decode(body: &str) -> Result<Self, String> {
        serde_json::from_str(body).map_err(|e| format!("not a greenfleet step message: {e}"))
    }

    /// Encodes for the queue.
    #[must_use]
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
