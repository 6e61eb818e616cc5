//! `greenfleet-client`: what another service needs to start rollouts with greenfleet and follow them,
//! without depending on greenfleet's workers or infrastructure code.
//!
//! * [`RequestBuilder`] — a typed rollout request; `build()` runs the same validation as the worker,
//!   so a bad request is refused (with every problem, field by field) before anything is sent.
//! * [`Client`] — publishes a request to the intake queue ([`Client::publish`]) or on greenfleet's
//!   EventBridge bus ([`Client::publish_via_bus`]), approves or cancels a rollout with an event on
//!   that bus ([`Client::approve`], [`Client::cancel`]), and reads a rollout's [`RolloutStatus`].
//! * [`ClientError`] — what went wrong, what to do about it, and whether to retry.
//!
//! Resource names come from the installation's prefix (`greenfleet infra up --prefix …`), through
//! the same naming convention greenfleet itself uses ([`greenfleet_core::layout::Names`]).

mod builder;
mod client;
mod error;
mod status;

pub use builder::{RequestBuilder, VERSION_TAG_KEY};
pub use client::Client;
pub use error::ClientError;
pub use greenfleet_core::operator_event::InvalidCommand;
pub use greenfleet_core::request::{
    ApprovalMode, BundleType, FieldProblem, HealthCheck, RequestError, RolloutRequest, Timeouts,
};
pub use status::{CapacityView, HistoryLine, RolloutStatus, STATUS_VERSION};
