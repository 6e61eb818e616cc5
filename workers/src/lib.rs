//! The greenfleet shell: the worker that drives sagas through queues, the executor that calls Spot
//! and CodeDeploy, the embedded engine, the demo and the command line. `main.rs` only wires them.

pub mod admin;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod connect;
pub mod demo;
pub mod embedded;
pub mod executor;
pub mod ops;
pub mod plan;
pub mod runner;
pub mod scenarios;
pub mod shutdown;
pub mod simulate;
pub mod sweep;
pub mod telemetry;
pub mod watch;
pub mod worker;
