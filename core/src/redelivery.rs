//! Redelivery safety, decided in one place. The worker persists a transition, then runs its effects,
//! then acks the message; it can die between any two of those, and SQS delivers a message at least
//! once, sometimes to two workers at a time. Every transition is therefore written with its effects in
//! the saga's [`Outbox`], under the id of the message that caused it (its *cause*), and the worker
//! asks [`decide`] what to do with each input of a message's *chain* (the message's own input, then
//! the results of the calls its effects made, until none is left). Three rules, each found by the
//! deterministic simulation (seeds 417, 759, 79 and 760):
//!
//! 1. **Replay.** The saga's outbox names this message, and the saga is not the one this chain last
//!    wrote or read: an earlier delivery, or a worker racing on the same message, persisted it and may
//!    have died before acting. Run its effects again ([`Outbox::replay`]) instead of handling the input
//!    twice; the racer that acks the message must not ack it having done nothing (seeds 417, 759).
//! 2. **Carry.** A transition for another message replaces the outbox; the message that wrote it,
//!    redelivered, would then find nothing to replay. So the new outbox starts with the old one's
//!    still-current effects ([`Outbox::carry`]): calls of the step the saga is still in, the wake-up it
//!    still waits for, its deadline, lifecycle events (seed 79).
//! 3. **Settle.** Once a chain's effects have all run, an outbox holding wake-ups is cleared
//!    ([`settle`]): a duplicate of the message then replays nothing, where each replayed wake-up would
//!    echo down every later one (seed 760).
//!
//! Everything else is an ordinary transition: [`crate::handle`], written at the next version, or
//! nothing written when the input changes nothing. The shell only loads, writes conditionally,
//! executes and loops; see `workers/src/worker.rs`.

use serde::{Deserialize, Serialize};

use crate::effect::{Effect, Input, WakeKind};
use crate::ids::Timestamp;
use crate::machine::{SagaError, Transition};
use crate::saga::Saga;

/// The last transition's effects and the message that caused them (see [`Saga::outbox`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Outbox {
    /// Id of the message whose handling produced `effects`.
    pub cause: Option<String>,
    /// The effects, to replay if `cause` is delivered again (cleared once they are known to have run).
    pub effects: Vec<Effect>,
}

impl Outbox {
    /// What to run again when `cause` is delivered again, its worker having maybe died before running
    /// it: every effect, except wake-ups `saga` no longer waits for (they were sent; sending them
    /// again would let one duplicate delivery echo down every later wake-up). The deadline message is
    /// re-armed for when the saga expects it.
    #[must_use]
    pub fn replay(&self, saga: &Saga, now: Timestamp) -> Vec<Effect> {
        self.effects.iter().filter_map(|e| still_needed(e, saga, now, false)).collect()
    }

    /// What a transition for another message must carry over from this outbox, in case its worker
    /// died before running it (that message, redelivered, would find this outbox replaced and run
    /// nothing): the calls of the step `saga` is still in, the wake-up it still waits for, its
    /// deadline message, lifecycle events. Nothing of a step it has left (no StartGreen after a cancel).
    #[must_use]
    pub fn carry(&self, saga: &Saga, now: Timestamp) -> Vec<Effect> {
        self.effects.iter().filter_map(|e| still_needed(e, saga, now, true)).collect()
    }
}

fn still_needed(effect: &Effect, saga: &Saga, now: Timestamp, current_step_only: bool) -> Option<Effect> {
    match effect {
        Effect::Call { fence, .. } if current_step_only && *fence != saga.fence => None,
        Effect::Call { .. } | Effect::Publish(_) => Some(effect.clone()),
        Effect::Wake { fence, kind: WakeKind::Deadline, seq, .. } => saga.deadline_wake.map(|due| Effect::Wake {
            fence: *fence,
            kind: WakeKind::Deadline,
            seq: *seq,
            delay_ms: due.since(now),
        }),
        Effect::Wake { seq, .. } => (saga.next_wake == Some(*seq)).then(|| effect.clone()),
    }
}

/// One message's chain as the worker runs it: the message's id (the cause every transition of the
/// chain is written under) and the store version of the saga the chain last wrote, replayed or found
/// unchanged. A saga found at another version with this cause was written by someone else for this
/// same message (rule 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    cause: String,
    reached: Option<u64>,
}

impl Chain {
    /// The chain of a message just delivered: it has seen no saga yet.
    #[must_use]
    pub fn new(cause: impl Into<String>) -> Self {
        Self { cause: cause.into(), reached: None }
    }

    /// The message's id.
    #[must_use]
    pub fn cause(&self) -> &str {
        &self.cause
    }

    /// Records that the chain now holds `saga`: call it after writing it, replaying it, or finding an
    /// input changes nothing in it.
    pub fn reached(&mut self, saga: &Saga) {
        self.reached = Some(saga.version);
    }

    /// Whether the saga's last transition was written for this message.
    fn caused(&self, saga: &Saga) -> bool {
        saga.outbox.cause.as_deref() == Some(self.cause.as_str())
    }
}

/// A conditional write: store `next` if the stored saga is still at version `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The saga to store, at `expected + 1`.
    pub next: Saga,
    /// The version the stored saga must still have; another is a lost race (reload and decide again).
    pub expected: u64,
}

/// What the worker does with one input of a chain, given the saga it loaded or last wrote.
// Made and consumed at once, never stored: boxing the saga would cost an allocation per transition.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Rule 1: the saga's last transition is this message's, persisted by a delivery that may have
    /// died before acting. Write nothing, do not handle the input, run these effects.
    Replay(Vec<Effect>),
    /// The input changed nothing (duplicate, stale): write nothing, run these effects.
    Unchanged(Vec<Effect>),
    /// A transition: make the write; once it succeeds run `effects` (recorded in `write.next`'s
    /// outbox). A lost race (conflict) means reload and decide again.
    Persist {
        /// The new saga and the version it replaces.
        write: Write,
        /// The effects to run: the `carried` ones of the previous outbox first (rule 2), then the
        /// transition's own.
        effects: Vec<Effect>,
        /// How many of `effects` were carried over from another message's outbox.
        carried: usize,
    },
}

/// Decides what to do with `input` for `saga` (loaded from the store, or as this chain last left it)
/// in `chain`, at `now`: replay, nothing, or a write with the effects to run after it.
///
/// # Errors
/// [`SagaError`] when the machine finds a broken invariant.
pub fn decide(saga: &Saga, chain: &Chain, input: Input, now: Timestamp) -> Result<Step, SagaError> {
    if let Some(effects) = replay(saga, chain, now) {
        return Ok(Step::Replay(effects));
    }
    let t = crate::machine::handle(saga, input, now)?;
    if !t.changed {
        return Ok(Step::Unchanged(t.effects));
    }
    let mut next = t.next;
    next.version = saga.version + 1;
    let mut effects = t.effects;
    let mut carried = 0;
    if !chain.caused(saga) {
        // Rule 2: the outbox is another message's, whose worker may have died before running it.
        let from_before = saga.outbox.carry(&next, now);
        carried = from_before.len();
        effects.splice(0..0, from_before);
    }
    next.outbox = Outbox { cause: Some(chain.cause.clone()), effects: effects.clone() };
    Ok(Step::Persist { write: Write { next, expected: saga.version }, effects, carried })
}

/// Rule 1 alone: the effects to run again when `saga`'s last transition was written for `chain`'s
/// message by someone else (an earlier delivery, or a worker racing on it), `None` otherwise. The
/// intake uses it when a request's saga already exists.
#[must_use]
pub fn replay(saga: &Saga, chain: &Chain, now: Timestamp) -> Option<Vec<Effect>> {
    (chain.caused(saga) && chain.reached != Some(saga.version)).then(|| saga.outbox.replay(saga, now))
}

/// A new rollout's first write: `t` (from [`crate::accept`]) at version 1, its effects recorded under
/// the chain's cause (so a redelivered request replays them). Create it only if absent.
#[must_use]
pub fn create(t: Transition, chain: &Chain) -> (Saga, Vec<Effect>) {
    let mut saga = t.next;
    saga.version = 1;
    saga.outbox = Outbox { cause: Some(chain.cause.clone()), effects: t.effects.clone() };
    (saga, t.effects)
}

/// Rule 3, at the end of a chain whose effects all ran: the write that clears the outbox of `saga`
/// (as the chain last left it) when it is this chain's and holds wake-ups, on a saga still running.
/// Best effort: a lost write only leaves effects that are safe to repeat.
#[must_use]
pub fn settle(saga: Saga, chain: &Chain) -> Option<Write> {
    let wakes = saga.outbox.effects.iter().any(|e| matches!(e, Effect::Wake { .. }));
    if !wakes || saga.phase.is_done() || !chain.caused(&saga) {
        return None;
    }
    // The chain is over: its saga can be written back as is, without a copy.
    let mut next = saga;
    let expected = next.version;
    next.version = expected + 1;
    next.outbox.effects.clear();
    Some(Write { next, expected })
}
