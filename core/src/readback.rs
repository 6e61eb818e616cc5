//! Steps that change the group and read it back (F7): compensation's RemoveGreen and RestoreCapacity,
//! Finalize's RemoveBlue, PointBlue and RestoreCapacity. Spot applies detaches and capacity changes
//! asynchronously, so a step counts the calls Spot accepted (`StepProgress::ReadBack`), reads the
//! group back after a pause, and gives up after [`MAX_ATTEMPTS`] accepted calls the read-back does not
//! confirm. What giving up means is the caller's: compensation leaves the step for a person and goes
//! on, Finalize ends NeedsAttention.

use crate::effect::{Command, Inspection, WakeKind};
use crate::machine::{Cx, MAX_ATTEMPTS, READBACK_DELAY_MS, SagaError};
use crate::progress::StepProgress;
use crate::request::ROLLOUT_TAG_KEY;

/// What a read-back says.
pub(crate) enum ReadBack {
    /// The group is as wanted: the line to note.
    Agreed(String),
    /// Still not as wanted after every accepted call: why.
    GaveUp(String),
    /// Not yet: the call was made again (noted), its read-back follows.
    Again,
}

impl Cx {
    /// Whether `tag` is this rollout's `greenfleet:rollout=<id>`.
    pub(crate) fn is_rollout_tag(&self, tag: &crate::ids::Tag) -> bool {
        tag.key == ROLLOUT_TAG_KEY && tag.value == self.saga.id.as_str()
    }

    /// Sets capacity back to the snapshot unless the read-back shows it already is.
    pub(crate) fn read_back_capacity(&mut self, seen: &Inspection) -> Result<ReadBack, SagaError> {
        let snapshot = self.saga.facts.snapshot.ok_or_else(|| self.invariant("no capacity snapshot to restore"))?;
        let now = seen.group.capacity;
        Ok(if now == snapshot {
            ReadBack::Agreed(format!("capacity is {snapshot} again (read back)"))
        } else if self.saga.progress.accepted_calls() >= MAX_ATTEMPTS {
            ReadBack::GaveUp(format!("capacity is {now}, expected {snapshot}"))
        } else {
            self.note(format!("capacity is {now}; restoring {snapshot}"));
            self.call(Command::SetCapacity { group: seen.group.id.clone(), capacity: snapshot });
            ReadBack::Again
        })
    }

    /// Spot accepted a detach, capacity change or deployment-group update, and applies it
    /// asynchronously: count it, and read the group back after a pause.
    pub(crate) fn read_back_after_accepted_call(&mut self) {
        let accepted = self.saga.progress.accepted_calls() + 1;
        self.saga.progress = StepProgress::ReadBack { accepted };
        self.wake(WakeKind::Step, READBACK_DELAY_MS);
    }
}
