//! A rollout's status as a publisher sees it: greenfleet's stable status projection
//! ([`greenfleet_core::status`], JSON Schema `schema/rollout-status.v1.json`), written beside each
//! rollout on every change. The client reads only this document, never greenfleet's internal state.

pub use greenfleet_core::status::{CapacityView, HistoryLine, RolloutStatus, STATUS_VERSION};
