//! The step table: for every phase, its stable name and its policy as data — its deadline, what a
//! cancel and an approval do, whether it follows the CodeDeploy deployment, and what it waits for.
//!
//! [`Phase::policy`] is the one place a phase's policy is written, matched without wildcards: a new
//! phase (or Finalize stage, compensation step, outcome) does not compile until it has a row here.
//! The machine reads the rows; it does not match on phases for these decisions.
//!
//! Names are string literals, never `Debug` output: they land in the table's `phase` attribute, the
//! history's `step`, the client's status, lifecycle events, the CLI and metrics, so renaming a Rust
//! identifier must not change one. `tests::every_stable_name_is_pinned` pins them all.
//!
//! To add a step: a [`Phase`] variant, its row here (the compiler asks for it), its pinned name, then
//! what the compiler asks for next — its action in `steps::act`, its deadline handling in
//! `steps::on_deadline` — and its results in `forward::on_result`. State the step keeps between
//! messages goes in a [`crate::progress::StepProgress`] variant of its own, never in a shared counter.

use crate::cloud::DeploymentStatus;
use crate::event::LifecycleKind;
use crate::request::RolloutRequest;
use crate::saga::{Compensation, FinalizeStage, Outcome, Phase, Saga};

/// Consecutive failed health rounds that fail the gate.
pub const HEALTH_FAILURES: u32 = 3;
/// Backstop deadline of steps that only make calls.
pub const STEP_DEADLINE_MS: u64 = 10 * MINUTE;
const MINUTE: u64 = 60_000;

/// One row of the step table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepPolicy {
    /// The stable name (e.g. `AwaitGreen`, `Finalize(AwaitSpot)`, `Compensating(RemoveGreen)`, `Done(Succeeded)`).
    pub name: &'static str,
    /// How long the step may take before its deadline handling runs.
    pub deadline: Deadline,
    /// What a cancel does in this step.
    pub on_cancel: OnCancel,
    /// What an approval does in this step.
    pub on_approve: OnApprove,
    /// Whether the step follows the CodeDeploy deployment: its events and reads move the saga on.
    pub follows_deployment: bool,
    /// What the step waits for, as `greenfleet status` says it.
    pub waiting_for: Waiting,
}

/// Which deadline a step has; every step has one (F10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// [`STEP_DEADLINE_MS`]: steps that only make calls.
    Backstop,
    /// `timeouts.lockWaitMinutes`, or the backstop when the request does not wait for leases.
    LockWait,
    /// `timeouts.greenReadyMinutes`.
    GreenReady,
    /// `timeouts.deploymentMinutes`.
    Deployment,
    /// `timeouts.approvalMinutes`.
    Approval,
    /// Long enough for the health check's rounds ([`verify_deadline_ms`]).
    HealthChecks,
}

impl Deadline {
    /// The deadline in milliseconds for `request`.
    #[must_use]
    pub fn ms(self, request: &RolloutRequest) -> u64 {
        let t = &request.timeouts;
        match self {
            Self::Backstop => STEP_DEADLINE_MS,
            Self::LockWait if t.lock_wait_minutes > 0 => u64::from(t.lock_wait_minutes) * MINUTE,
            Self::LockWait => STEP_DEADLINE_MS,
            Self::GreenReady => u64::from(t.green_ready_minutes) * MINUTE,
            Self::Deployment => u64::from(t.deployment_minutes) * MINUTE,
            Self::Approval => u64::from(t.approval_minutes) * MINUTE,
            Self::HealthChecks => verify_deadline_ms(request),
        }
    }
}

/// Verify's deadline: 15 minutes, or longer when the health check's rounds need it (a valid request may
/// ask for 20 rounds 5 minutes apart), with room for the failed rounds that end the gate.
#[must_use]
pub fn verify_deadline_ms(request: &RolloutRequest) -> u64 {
    let rounds = request.health_check.as_ref().map_or(0, |h| {
        u64::from(h.consecutive_successes + HEALTH_FAILURES) * u64::from(h.interval_seconds + h.timeout_seconds) * 1_000
    });
    rounds.max(15 * MINUTE)
}

/// What a cancel does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCancel {
    /// Nothing changed yet: end RolledBack at once.
    EndUnchanged,
    /// Undo what was done.
    Compensate,
    /// Already undoing: note it.
    AlreadyCompensating,
    /// The deployment succeeded and green serves traffic: note it, go on.
    TooLate,
    /// The rollout ended: nothing.
    Finished,
}

/// What an approval does (one already given is never given again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnApprove {
    /// Recorded, used when the rollout reaches its gate.
    InAdvance,
    /// The step waits for it: continue the deployment.
    Continue,
    /// Nothing waits for it any more: note it.
    NothingWaits,
    /// The rollout ended: nothing.
    Finished,
}

/// What a step waits for; `Saga::waiting_for` renders it with the saga's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// A fixed description.
    Text(&'static str),
    /// Green instances running and tagged, out of the expected count.
    GreenInstances,
    /// The CodeDeploy deployment and its instances.
    Deployment,
    /// Health rounds passed.
    HealthRounds,
    /// A person's `greenfleet approve`.
    Approval,
    /// A Finalize stage (its name follows).
    Finalizing(&'static str),
    /// Compensation steps left.
    Compensation,
    /// Nothing: the outcome.
    Outcome,
}

use Deadline as D;
use OnApprove as A;
use OnCancel as C;
use Waiting as W;

const fn row(
    name: &'static str,
    deadline: Deadline,
    on_cancel: OnCancel,
    on_approve: OnApprove,
    follows_deployment: bool,
    waiting_for: Waiting,
) -> StepPolicy {
    StepPolicy { name, deadline, on_cancel, on_approve, follows_deployment, waiting_for }
}

impl Phase {
    /// This phase's row of the step table.
    #[must_use]
    #[rustfmt::skip]
    pub fn policy(&self) -> StepPolicy {
        match self {
            //                            name                deadline        cancel              approve          deploy  waiting for
            Self::Preflight        => row("Preflight",        D::Backstop,    C::EndUnchanged,    A::InAdvance,    false, W::Text("checking the deployment group and Elastigroup")),
            Self::Lock             => row("Lock",             D::LockWait,    C::Compensate,      A::InAdvance,    false, W::Text("waiting for the lease on the Elastigroup and deployment group")),
            Self::Snapshot         => row("Snapshot",         D::Backstop,    C::Compensate,      A::InAdvance,    false, W::Text("recording capacity and blue instances")),
            Self::StartGreen       => row("StartGreen",       D::Backstop,    C::Compensate,      A::InAdvance,    false, W::Text("starting Spot's Blue/Green deployment")),
            Self::AwaitGreen       => row("AwaitGreen",       D::GreenReady,  C::Compensate,      A::InAdvance,    false, W::GreenInstances),
            Self::CreateDeployment => row("CreateDeployment", D::Backstop,    C::Compensate,      A::InAdvance,    false, W::Text("creating the CodeDeploy deployment")),
            Self::AwaitDeployment  => row("AwaitDeployment",  D::Deployment,  C::Compensate,      A::InAdvance,    true,  W::Deployment),
            Self::Verify           => row("Verify",           D::HealthChecks,C::Compensate,      A::InAdvance,    true,  W::HealthRounds),
            Self::AwaitApproval    => row("AwaitApproval",    D::Approval,    C::Compensate,      A::Continue,     true,  W::Approval),
            Self::Finalize(stage)  => { let (name, stage) = stage.names(); row(name, D::Backstop, C::TooLate, A::NothingWaits, false, W::Finalizing(stage)) }
            Self::Release          => row("Release",          D::Backstop,    C::TooLate,         A::NothingWaits, false, W::Text("releasing the leases")),
            Self::Compensating { remaining, .. } => {
                let name = remaining.first().map_or("Compensating", |c| c.names().0);
                row(name, D::Backstop, C::AlreadyCompensating, A::NothingWaits, false, W::Compensation)
            }
            Self::Done(outcome)    => row(outcome.names().0, D::Backstop, C::Finished, A::Finished, false, W::Outcome),
        }
    }
}

impl Phase {
    /// The stable name, from the step table: for logs, timelines, the table's `phase` attribute and
    /// status. Never derived from Rust identifiers.
    #[must_use]
    pub fn name(&self) -> String {
        self.policy().name.to_owned()
    }
}

impl Saga {
    /// A one-line answer to "what is it doing?", e.g. `AwaitGreen: 1/2 green running and tagged, since …`.
    #[must_use]
    pub fn waiting_for(&self) -> String {
        let f = &self.facts;
        match self.phase.policy().waiting_for {
            Waiting::Text(text) => text.to_owned(),
            Waiting::GreenInstances => {
                format!("{}/{} green instances running and tagged", f.green_progress.0, f.green_progress.1)
            }
            Waiting::Deployment => format!(
                "CodeDeploy deployment {} ({}), {}/{} instances done",
                crate::saga::opt(f.deployment_id.as_ref()),
                f.deployment_status.as_ref().map_or("unknown", DeploymentStatus::as_str),
                f.instances_done.len(),
                f.green.len()
            ),
            Waiting::HealthRounds => format!("health checks: {} rounds passed", f.health_streak.0),
            Waiting::Approval => format!("approval (`greenfleet approve {}`)", self.id),
            Waiting::Finalizing(stage) => format!("finalizing: {stage}"),
            Waiting::Compensation => match &self.phase {
                Phase::Compensating { reason, remaining, .. } => {
                    format!("compensating ({reason}): {} step(s) left", remaining.len())
                }
                _ => "compensating".to_owned(),
            },
            Waiting::Outcome => self.outcome().map_or_else(String::new, |o| {
                o.reason().map_or_else(|| o.kind().to_owned(), |r| format!("{}: {r}", o.kind()))
            }),
        }
    }
}

impl FinalizeStage {
    /// The phase name of this stage (`Finalize(AwaitSpot)`) and the stage's own name (`AwaitSpot`).
    #[must_use]
    pub const fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::AwaitSpot => ("Finalize(AwaitSpot)", "AwaitSpot"),
            Self::RemoveBlue => ("Finalize(RemoveBlue)", "RemoveBlue"),
            Self::RestoreCapacity => ("Finalize(RestoreCapacity)", "RestoreCapacity"),
            Self::PointBlue => ("Finalize(PointBlue)", "PointBlue"),
        }
    }

    /// The stage's stable name, e.g. `AwaitSpot`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        self.names().1
    }
}

impl Compensation {
    /// The phase name while this step runs (`Compensating(RemoveGreen)`) and the step's own name (`RemoveGreen`).
    #[must_use]
    pub const fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::StopDeployment => ("Compensating(StopDeployment)", "StopDeployment"),
            Self::StopGreen => ("Compensating(StopGreen)", "StopGreen"),
            Self::RemoveGreen => ("Compensating(RemoveGreen)", "RemoveGreen"),
            Self::RestoreCapacity => ("Compensating(RestoreCapacity)", "RestoreCapacity"),
            Self::ReleaseLeases => ("Compensating(ReleaseLeases)", "ReleaseLeases"),
        }
    }

    /// The step's stable name, e.g. `RemoveGreen`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        self.names().1
    }
}

impl Outcome {
    /// The phase name of this ending (`Done(Succeeded)`) and the outcome's own name ([`Outcome::kind`]).
    #[must_use]
    pub const fn names(&self) -> (&'static str, &'static str) {
        match self {
            Self::Succeeded => ("Done(Succeeded)", "Succeeded"),
            Self::Rejected { .. } => ("Done(Rejected)", "Rejected"),
            Self::RolledBack { .. } => ("Done(RolledBack)", "RolledBack"),
            Self::NeedsAttention { .. } => ("Done(NeedsAttention)", "NeedsAttention"),
        }
    }

    /// `Succeeded`, `Rejected`, `RolledBack` or `NeedsAttention`.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        self.names().1
    }

    /// The lifecycle event that announces this ending.
    #[must_use]
    pub const fn event(&self) -> LifecycleKind {
        match self {
            Self::Succeeded => LifecycleKind::Succeeded,
            Self::Rejected { .. } => LifecycleKind::Rejected,
            Self::RolledBack { .. } => LifecycleKind::RolledBack,
            Self::NeedsAttention { .. } => LifecycleKind::NeedsAttention,
        }
    }
}

#[cfg(test)]
#[path = "step_table_tests.rs"]
mod tests;
