//! What the current step has done so far, typed by the step that owns it: one field of the saga that
//! used to be a bare counter (`stage`) meaning five different things. Entering a step resets it to
//! [`StepProgress::Start`]; each step reads only its own variant, through the accessors below.

use serde::{Deserialize, Serialize};

/// Progress within the current step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum StepProgress {
    /// Nothing done yet in this step: every step starts here.
    #[default]
    Start,
    /// Lock: rounds the lease was busy. Busy rounds are waiting, not failures: they leave the
    /// step's `attempt` to errors.
    LeaseBusy {
        /// Busy answers so far.
        rounds: u32,
    },
    /// Snapshot: rounds waited for launching instances to settle (the first one is noted).
    Settling {
        /// Rounds so far.
        rounds: u32,
    },
    /// Compensation's StopDeployment: the stop was sent (or found unneeded), and the deployment, or its
    /// rollback once known, is being read until it ends.
    Stopping {
        /// Reads since the stop (or since the rollback became known) that found it not yet ended.
        unfinished_reads: u32,
    },
    /// Compensation's StopGreen: Spot refused the stop, so the deployment is read back.
    StopGreenReadBack,
    /// A step that changes the group and reads it back (RemoveGreen, RestoreCapacity, the Finalize
    /// stages): calls Spot or CodeDeploy accepted without the read-back agreeing yet. Failed calls are
    /// bounded by `attempt` alone, so a burst of faults gets every retry.
    ReadBack {
        /// Accepted calls so far.
        accepted: u32,
    },
}

impl StepProgress {
    /// Accepted calls of a read-back step (0 before the first).
    #[must_use]
    pub const fn accepted_calls(self) -> u32 {
        match self {
            Self::ReadBack { accepted } => accepted,
            Self::Start
            | Self::LeaseBusy { .. }
            | Self::Settling { .. }
            | Self::Stopping { .. }
            | Self::StopGreenReadBack => 0,
        }
    }

    /// Settling rounds of Snapshot (0 before the first).
    #[must_use]
    pub const fn settling_rounds(self) -> u32 {
        match self {
            Self::Settling { rounds } => rounds,
            Self::Start
            | Self::LeaseBusy { .. }
            | Self::Stopping { .. }
            | Self::StopGreenReadBack
            | Self::ReadBack { .. } => 0,
        }
    }

    /// Busy rounds of Lock (0 before the first).
    #[must_use]
    pub const fn busy_rounds(self) -> u32 {
        match self {
            Self::LeaseBusy { rounds } => rounds,
            Self::Start
            | Self::Settling { .. }
            | Self::Stopping { .. }
            | Self::StopGreenReadBack
            | Self::ReadBack { .. } => 0,
        }
    }

    /// StopDeployment's unfinished reads since the stop, or `None` before the stop was sent.
    #[must_use]
    pub const fn stop_sent(self) -> Option<u32> {
        match self {
            Self::Stopping { unfinished_reads } => Some(unfinished_reads),
            Self::Start
            | Self::LeaseBusy { .. }
            | Self::Settling { .. }
            | Self::StopGreenReadBack
            | Self::ReadBack { .. } => None,
        }
    }
}
