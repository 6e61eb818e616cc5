//! Scenario tests of the saga: feed inputs to the machine with a manual clock, assert on the effects
//! it asks for and the state it reaches. Each module tells one part of the story.

#![allow(clippy::unwrap_used)]

pub(crate) mod fixtures;
mod harness;
mod walk;

mod cancel_and_gates;
mod compensation;
mod create_guard;
mod deadlines;
mod events;
mod finalize;
mod happy_path;
mod preflight;
mod real_signals;
mod redelivery;
mod retries;
mod spot_answers;
