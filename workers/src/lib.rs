//! The greenfleet shell: the worker that drives sagas through queues, the executor that calls Spot
//! and CodeDeploy, the embedded engine, the demo and the command line. `main.rs` only wires them.

pub mod bench;
pub mod cli;
pub mod demo;
pub mod embedded;
pub mod executor;
pub mod scenarios;
pub mod telemetry;
pub mod worker;
