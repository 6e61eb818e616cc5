//! One in-process model of the cloud greenfleet drives: Spot Elastigroups with their CodeDeploy
//! Blue/Green deployments, and CodeDeploy's EC2 Blue/Green deployments with their state-change
//! events. The same behaviour serves the embedded demo, the deterministic simulation tests and
//! the HTTP faces ([`serve`]), so they cannot drift apart.
//!
//! The model has no IO, no randomness, no threads (only `http` does IO): time comes only from the
//! [`greenfleet_core::ports::Clock`] given to [`Cloud::new`], and nothing happens between calls. Move
//! a manual clock (to [`Cloud::next_due`], say) and [`Cloud::tick`], or call a port: every call
//! catches the model up first.
//!
//! Crate map:
//! * [`cloud`](Cloud) — the handle: setup, ticking, event drain, fault knobs, inspection.
//! * `model` — the state: groups, instances, Blue/Green deployments, deployment groups, deployments.
//! * `spot` — Elastigroup behaviour: capacity, detach, Blue/Green (F5, F7, F8).
//! * `codedeploy` — deployment lifecycle, NO_INSTANCES (F3, F4), READY / continue / stop.
//! * `schedule` — due times and applying them in order.
//! * `events` — EventBridge envelopes of CodeDeploy state-change events.
//! * [`faults`](Faults) — the fault knobs.
//! * `ports` — core's `Elastigroups` and `Deployments` implemented for [`Cloud`].
//! * `http` — the Spot REST, CodeDeploy JSON and admin faces over HTTP: [`serve`], [`EventSink`].

mod cloud;
mod codedeploy;
mod events;
mod faults;
mod http;
mod model;
mod ports;
mod schedule;
mod spot;

#[cfg(test)]
mod tests;

pub use cloud::Cloud;
pub use events::{ACCOUNT, DEPLOYMENT_DETAIL_TYPE, INSTANCE_DETAIL_TYPE, REGION};
pub use faults::{BlueAfterSuccess, DeploymentFault, Faults, OPS, WRITE_OPS};
pub use http::{DEFAULT_TICK_MS, EventSink, Exchange, MAX_BATCH, MemorySink, Recorder, ServeOptions, serve};
pub use model::{GroupSetup, GroupState};
