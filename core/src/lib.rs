//! greenfleet's core: the Blue/Green rollout saga as a pure state machine, with no IO.
//!
//! * [`request`] — the rollout request (schemaVersion 1), its validation and JSON Schema; `duplicate_keys`
//!   refuses a document with a key given twice.
//! * [`preflight`] — the field facts F1–F4 as named rules; [`plan`] — what a rollout would do (`greenfleet plan`).
//! * [`fingerprint`] — what a requestId was first used for; a different request under it is a conflict.
//! * [`saga`] — the saga's state, steps, compensations and outcomes; [`progress`] — typed progress within a step.
//! * [`step_table`] — every phase's stable name and policy (deadline, cancel, approval, what it waits for).
//! * [`machine`] — `handle(&Saga, Input, now) -> Transition`: decide, never do.
//! * [`redelivery`] — what a redelivered or raced message does: replay, carry, settle (one pure decision).
//! * [`effect`] — effects (calls, wake-ups, events) and inputs, as plain data.
//! * [`cloud`] — what greenfleet knows of Spot and CodeDeploy; [`codedeploy_event`] decodes their events.
//! * [`failure`] — one classification of failed AWS and Spot calls (retry or not, what to do).
//! * [`ports`] — the capabilities the shell needs; [`memory`] — in-process adapters and a manual clock.
//! * [`event`] — the lifecycle events greenfleet publishes; [`operator_event`] — approvals and cancels others publish.
//! * [`trigger`] — trigger rules: event patterns ([`trigger_pattern`]) that start rollouts.
//! * [`stored`] — the stored format of a saga (`stateVersion`, migration, refusals); [`status`] — the
//!   stable status projection written beside it, which the CLI and the publisher client read.
//! * [`layout`] — names of queues, table, bus and rules, and the table's layout (one definition).

#[cfg(test)]
mod arbitrary;
pub mod cloud;
pub mod codedeploy_event;
mod compensation;
mod duplicate_keys;
pub mod effect;
pub mod event;
pub mod failure;
mod finalize;
pub mod fingerprint;
mod forward;
pub mod ids;
pub mod layout;
pub mod lease;
pub mod lifecycle;
pub mod machine;
pub mod memory;
pub mod message;
pub mod operator_event;
pub mod plan;
pub mod ports;
pub mod preflight;
pub mod progress;
mod readback;
pub mod redelivery;
pub mod remote;
pub mod request;
pub mod saga;
#[cfg(test)]
mod scenarios;
mod signals;
pub mod status;
pub mod step_table;
mod steps;
mod stop_deployment;
mod stop_green;
pub mod stored;
pub mod sweep;
pub mod trigger;
pub mod trigger_pattern;

pub use machine::{SagaError, Transition, accept, handle};
