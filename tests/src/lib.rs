//! Shared helpers for greenfleet's integration tests: a seeded random source and the chaos driver
//! that delivers messages twice, shuffles events and drops acks, on the embedded engine.

pub mod chaos;
