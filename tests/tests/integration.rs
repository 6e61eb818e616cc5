//! greenfleet's integration tests, in one binary: the embedded engine under hostile delivery, and
//! (with the emulator) the AWS adapters and the worker processes end to end.

#![allow(clippy::unwrap_used)]

mod embedded;
