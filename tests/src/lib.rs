//! Shared helpers for greenfleet's integration tests:
//!
//! * [`chaos`] — a seeded random source and the hostile driver for the embedded engine;
//! * [`contract`] — the checkers behind the contract suites: recorded exchanges against Spot's
//!   OpenAPI definition and botocore's CodeDeploy and EC2 models;
//! * [`env`] — `spawn_env()`: an isolated installation per test on the AWS emulator, with the HTTP
//!   simulator in-process and two real worker processes;
//! * [`observer`] — reading greenfleet's lifecycle events off its bus, as a subscriber would;
//! * [`process`] — the `greenfleet` binary and worker processes that never outlive their test;
//! * [`readback`] — sagas, table items and queue contents read back, for assertions and waits.

pub mod chaos;
pub mod contract;
pub mod env;
pub mod observer;
pub mod process;
pub mod readback;
