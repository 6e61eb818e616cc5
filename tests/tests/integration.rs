//! greenfleet's integration tests, in one binary: the embedded engine under hostile delivery, and
//! (with the emulator) the worker processes end to end through SQS, DynamoDB and EventBridge.

#![allow(clippy::unwrap_used)]

mod approvals;
mod aws;
mod client;
mod contract;
mod crash;
mod dst;
mod embedded;
mod errors;
mod gates;
mod golden;
mod operators;
mod readme;
mod sweep;
mod triggers;
