//! The step queue's messages: wake-ups the saga armed, and operator commands (cancel, approve; the
//! same commands published as events are decoded in [`crate::operator_event`]).

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

impl StepBody {
    /// The saga input it says (also what an approval or cancel event says, see [`crate::operator_event`]).
    #[must_use]
    pub fn input(&self) -> Input {
        match self {
            Self::Wake { fence, kind, seq } => Input::Wake { fence: *fence, kind: *kind, seq: *seq },
            Self::Cancel { by, reason } => Input::Cancel { by: by.clone(), reason: reason.clone() },
            Self::Approve { by } => Input::Approve { by: by.clone() },
        }
    }
}

impl StepMessage {
    /// The message for a wake-up effect of `rollout`, due `delay_ms` after `now`.
    #[must_use]
    pub fn wake(rollout: &RolloutId, fence: u64, kind: WakeKind, seq: u64, now: Timestamp, delay_ms: u64) -> Self {
        let due = now.plus_ms(delay_ms);
        let id = match kind {
            WakeKind::Deadline => format!("{rollout}:{fence}:deadline"),
            WakeKind::Step | WakeKind::Poll => format!("{rollout}:{fence}:{}:{seq}", kind.name()),
        };
        Self { rollout_id: rollout.clone(), id, due, body: StepBody::Wake { fence, kind, seq } }
    }

    /// The saga input this message carries.
    #[must_use]
    pub fn input(&self) -> Input {
        self.body.input()
    }

    /// Decodes a queue body; a message that does not decode belongs in the dead-letter queue. The
    /// rollout id must be one a request could have given (not empty, not 10 KB of junk).
    pub fn decode(body: &str) -> Result<Self, String> {
        let msg: Self = serde_json::from_str(body).map_err(|e| format!("not a greenfleet step message: {e}"))?;
        RolloutId::parse(msg.rollout_id.as_str())
            .map_err(|e| format!("not a greenfleet step message: its rolloutId is not a rollout id ({e})"))?;
        Ok(msg)
    }

    /// Encodes for the queue.
    #[must_use]
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{Just, any, prop_assert, prop_assert_eq, prop_assume, prop_oneof, proptest};
    use proptest::sample::Index;
    use proptest::strategy::Strategy as _;

    use super::*;

    fn rollout() -> RolloutId {
        RolloutId::parse("rel-42").unwrap()
    }

    /// Any step message a worker could send.
    fn message() -> impl proptest::strategy::Strategy<Value = StepMessage> {
        let kind = prop_oneof![Just(WakeKind::Step), Just(WakeKind::Poll), Just(WakeKind::Deadline)];
        let body = prop_oneof![
            (any::<u64>(), kind, any::<u64>()).prop_map(|(fence, kind, seq)| StepBody::Wake { fence, kind, seq }),
            (any::<String>(), any::<String>()).prop_map(|(by, reason)| StepBody::Cancel { by, reason }),
            any::<String>().prop_map(|by| StepBody::Approve { by }),
        ];
        (any::<u64>(), any::<String>(), body).prop_map(|(due, id, body)| StepMessage {
            rollout_id: rollout(),
            id,
            due: Timestamp(due),
            body,
        })
    }

    #[test]
    fn a_wake_message_round_trips_and_carries_its_input() {
        let m = StepMessage::wake(&rollout(), 7, WakeKind::Poll, 3, Timestamp(1_000), 500);
        assert_eq!(m.due, Timestamp(1_500));
        assert_eq!(StepMessage::decode(&m.encode()), Ok(m.clone()));
        assert_eq!(m.input(), Input::Wake { fence: 7, kind: WakeKind::Poll, seq: 3 });
    }

    proptest! {
        #[test]
        fn every_message_round_trips(m in message()) {
            prop_assert_eq!(StepMessage::decode(&m.encode()), Ok(m));
        }

        #[test]
        fn arbitrary_text_never_panics_and_every_error_says_what_it_is(text in any::<String>()) {
            if let Err(e) = StepMessage::decode(&text) {
                prop_assert!(e.starts_with("not a greenfleet step message: "), "{}", e);
            }
        }

        #[test]
        fn every_truncation_is_an_error(m in message(), at in any::<Index>()) {
            let full = m.encode();
            // Cut on a character boundary: the queue carries text.
            let mut cut = at.index(full.len());
            while !full.is_char_boundary(cut) {
                cut -= 1;
            }
            prop_assert!(StepMessage::decode(&full[..cut]).is_err());
        }

        #[test]
        fn a_field_of_the_wrong_type_is_an_error(
            path in proptest::sample::select(vec![
                "rolloutId", "id", "due", "body", "body.wake", "body.wake.fence", "body.wake.kind", "body.wake.seq",
            ]),
            value in crate::arbitrary::json_value(),
        ) {
            let mut v = serde_json::to_value(StepMessage::wake(&rollout(), 1, WakeKind::Step, 2, Timestamp(5), 0)).unwrap();
            let right = match path {
                "rolloutId" | "id" => value.is_string(),
                "due" | "body.wake.fence" | "body.wake.seq" => value.is_u64(),
                // A unit-like string for an enum with data, an object of the right shape: not what `json` makes.
                "body" | "body.wake" => false,
                _ => value.as_str().is_some_and(|s| ["Step", "Poll", "Deadline"].contains(&s)),
            };
            prop_assume!(!right);
            let mut slot = &mut v;
            for part in path.split('.') {
                slot = &mut slot[part];
            }
            *slot = value;
            let e = StepMessage::decode(&v.to_string()).unwrap_err();
            prop_assert!(e.starts_with("not a greenfleet step message: "), "{}", e);
        }

        #[test]
        fn unknown_body_kinds_are_errors(kind in any::<String>(), value in crate::arbitrary::json_value()) {
            prop_assume!(!["wake", "cancel", "approve"].contains(&kind.as_str()));
            let v = serde_json::json!({"rolloutId": "rel-42", "id": "x", "due": 1, "body": {kind.as_str(): value}});
            prop_assert!(StepMessage::decode(&v.to_string()).is_err());
        }

        #[test]
        fn a_rollout_id_no_request_could_have_given_is_an_error(id in any::<String>()) {
            prop_assume!(RolloutId::parse(&id).is_err());
            let v = serde_json::json!({"rolloutId": id, "id": "x", "due": 1, "body": {"approve": {"by": "ops"}}});
            let e = StepMessage::decode(&v.to_string()).unwrap_err();
            prop_assert!(e.contains("rolloutId is not a rollout id"), "{}", e);
        }
    }
}
