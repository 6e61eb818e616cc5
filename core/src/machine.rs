//! The saga as a pure state machine: `handle(&Saga, Input, now) -> Transition`. It decides; the
//! shell persists the next state, then executes the effects. No IO, no clock: time is an argument.

use crate::cloud::{DeploymentGroupRef, DeploymentSpec, GreenSpec};
use crate::effect::{Command, Effect, Input, WakeKind};
use crate::event::{LifecycleEvent, LifecycleKind};
use crate::ids::Timestamp;
use crate::ports::{LeaseKey, RemoteError};
use crate::request::RolloutRequest;
use crate::saga::{Compensation, Facts, HistoryEntry, Outbox, Outcome, Phase, Saga};

/// Attempts at a call before a step gives up (forward: compensate; compensation: needs attention).
pub const MAX_ATTEMPTS: u32 = 6;
pub use crate::step_table::{HEALTH_FAILURES, STEP_DEADLINE_MS};
/// How often green instances are looked at (AwaitGreen, Finalize).
pub const GREEN_POLL_MS: u64 = 5_000;
/// Reconcile poll of the CodeDeploy deployment while waiting for events (F11).
pub const DEPLOYMENT_POLL_MS: u64 = 30_000;
/// How often a busy lease is asked for again.
pub const LOCK_RETRY_MS: u64 = 15_000;
/// Polls of a stopping deployment before compensation moves on.
pub const STOP_POLLS: u32 = 12;
/// Most history lines a saga keeps.
pub const MAX_HISTORY: usize = 300;
const HISTORY_HEAD: usize = 20;
/// Pause between a detach or capacity change and reading the group back to verify it.
pub const READBACK_DELAY_MS: u64 = 2_000;
/// How far before the rollout's snapshot a lookup for its CodeDeploy deployment starts
/// (`createTimeRange.start`, see [`DeploymentSpec::created_after`]). The snapshot is taken before any
/// CreateDeployment attempt, on some worker's clock, and CodeDeploy stamps `createTime` on AWS's: the
/// margin covers skew between the two. AWS refuses requests signed more than 5 minutes off (SigV4), so
/// 15 minutes is three times the skew a worker that can call CodeDeploy at all may have. The range is
/// left open at its end, so skew the other way hides nothing.
pub const FIND_MARGIN_MS: u64 = 15 * MINUTE;

const MINUTE: u64 = 60_000;

/// The next state and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state to persist (its `version` is the caller's to bump).
    pub next: Saga,
    /// Effects to execute after persisting, in order.
    pub effects: Vec<Effect>,
    /// False when the input changed nothing (duplicate, stale): nothing to persist.
    pub changed: bool,
}

/// A broken invariant: a bug, never a cloud failure (those are inputs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SagaError {
    /// The saga's facts contradict its phase.
    #[error("rollout {rollout}: {what}")]
    Invariant {
        /// Which rollout.
        rollout: String,
        /// What is inconsistent.
        what: String,
    },
}

/// Starts a saga for an accepted request.
#[must_use]
pub fn accept(request: RolloutRequest, now: Timestamp) -> Transition {
    let saga = Saga {
        id: request.rollout_id(),
        fingerprint: Some(crate::fingerprint::fingerprint(&request)),
        request: std::sync::Arc::new(request),
        version: 0,
        fence: 0,
        phase: Phase::Preflight,
        attempt: 0,
        progress: crate::progress::StepProgress::Start,
        seq: 0,
        next_wake: None,
        deadline_wake: None,
        phase_since: now,
        deadline: now,
        created_at: now,
        updated_at: now,
        facts: Facts::default(),
        history: std::sync::Arc::default(),
        outbox: Outbox::default(),
    };
    let mut cx = Cx::new(&saga, now);
    cx.note(format!("accepted: {} by {}", cx.saga.request.revision.describe(), cx.saga.request.requested_by));
    cx.publish(LifecycleKind::Accepted);
    cx.enter(Phase::Preflight, "checking deployment group and Elastigroup");
    cx.finish()
}

/// Handles one input. Stale and duplicate inputs give an unchanged transition with no effects.
pub fn handle(saga: &Saga, input: Input, now: Timestamp) -> Result<Transition, SagaError> {
    let mut cx = Cx::new(saga, now);
    if cx.saga.phase.is_done() {
        return Ok(cx.unchanged());
    }
    match input {
        // A deadline message is a "look at the clock" for whatever step the saga is in (see `arm_deadline`).
        Input::Wake { kind: WakeKind::Deadline, .. } => cx.on_deadline_wake()?,
        Input::Wake { fence, seq, .. } => {
            if fence == saga.fence && saga.next_wake == Some(seq) {
                cx.saga.next_wake = None;
                cx.dirty = true;
                cx.act()?;
            }
        }
        Input::Completed { fence, result } => {
            if fence == saga.fence {
                cx.dirty = true;
                cx.see_green_state(&result);
                cx.on_result(result)?;
            }
        }
        Input::Deployment(event) => cx.on_event(&event)?,
        Input::Cancel { by, reason } => cx.on_cancel(&by, &reason)?,
        Input::Approve { by } => cx.on_approve(&by)?,
    }
    Ok(cx.finish())
}

/// Working state of one `handle` call.
pub(crate) struct Cx {
    pub(crate) saga: Saga,
    pub(crate) effects: Vec<Effect>,
    pub(crate) now: Timestamp,
    pub(crate) dirty: bool,
}

impl Cx {
    fn new(saga: &Saga, now: Timestamp) -> Self {
        Self { saga: saga.clone(), effects: Vec::new(), now, dirty: false }
    }

    fn unchanged(self) -> Transition {
        Transition { next: self.saga, effects: Vec::new(), changed: false }
    }

    fn finish(mut self) -> Transition {
        if self.dirty {
            self.saga.updated_at = self.now;
        }
        Transition { next: self.saga, effects: self.effects, changed: self.dirty }
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.dirty = true;
        let step = self.saga.phase.name();
        let h = std::sync::Arc::make_mut(&mut self.saga.history);
        // The saga is one store item (DynamoDB allows 400 KB): keep the first lines and the latest.
        if h.len() >= MAX_HISTORY {
            h.drain(HISTORY_HEAD..=HISTORY_HEAD);
            if let Some(e) = h.get_mut(HISTORY_HEAD - 1) {
                e.note.truncate(0);
                e.note.push_str("… earlier lines dropped …");
            }
        }
        h.push(HistoryEntry { at: self.now, step, note: note.into() });
    }

    pub(crate) fn publish(&mut self, kind: LifecycleKind) {
        self.effects.push(Effect::Publish(LifecycleEvent::for_saga(&self.saga, kind, self.now)));
    }

    pub(crate) fn call(&mut self, command: Command) {
        self.effects.push(Effect::Call { fence: self.saga.fence, command });
    }

    /// Arms the one step/poll message the saga will wait for.
    pub(crate) fn wake(&mut self, kind: WakeKind, delay_ms: u64) {
        self.dirty = true;
        self.saga.seq += 1;
        self.saga.next_wake = Some(self.saga.seq);
        self.effects.push(Effect::Wake { fence: self.saga.fence, kind, seq: self.saga.seq, delay_ms });
    }

    /// Finishes the current step with `done_note` (recorded under it), then enters `phase`.
    pub(crate) fn advance(&mut self, phase: Phase, done_note: impl Into<String>) {
        self.note(done_note);
        self.enter(phase, "");
    }

    /// Enters a step: new fence, fresh attempts, a deadline, a history line, then the step's action.
    pub(crate) fn enter(&mut self, phase: Phase, note: impl Into<String>) {
        self.dirty = true;
        self.saga.phase = phase;
        self.saga.fence += 1;
        self.saga.attempt = 0;
        self.saga.progress = crate::progress::StepProgress::Start;
        self.saga.next_wake = None;
        self.saga.phase_since = self.now;
        let deadline_ms = self.saga.phase.policy().deadline.ms(&self.saga.request);
        self.saga.deadline = self.now.plus_ms(deadline_ms);
        let note = note.into();
        if !note.is_empty() {
            self.note(note);
        }
        if !self.saga.phase.is_done() {
            self.arm_deadline();
            // An action that cannot fail here: act only dispatches on the phase just set.
            if let Err(e) = self.act() {
                self.note(format!("internal error: {e}"));
            }
        }
    }

    /// Makes sure a deadline message fires no later than the current step's deadline. One message
    /// serves many steps: steps that finish quickly arm nothing new, and a message that fires before
    /// the current deadline arms the next one (so a rollout sends a handful, not one per step).
    pub(crate) fn arm_deadline(&mut self) {
        let deadline = self.saga.deadline;
        if self.saga.deadline_wake.is_none_or(|armed| armed > deadline) {
            self.dirty = true;
            self.saga.deadline_wake = Some(deadline);
            self.effects.push(Effect::Wake {
                fence: self.saga.fence,
                kind: WakeKind::Deadline,
                seq: 0,
                delay_ms: deadline.since(self.now),
            });
        }
    }

    /// A retryable error at a call step: try again after a backoff, or give up with `exhausted`.
    pub(crate) fn retry(&mut self, err: &RemoteError, exhausted: impl FnOnce(&mut Self, String)) {
        self.saga.attempt += 1;
        if err.is_retryable() && self.saga.attempt < MAX_ATTEMPTS {
            let delay = backoff_ms(self.saga.attempt, self.saga.id.as_str(), err);
            self.note(format!("attempt {} failed ({err}); retrying in {} ms", self.saga.attempt, delay));
            self.wake(WakeKind::Step, delay);
        } else {
            let why = if err.is_retryable() {
                format!("{err} (after {} attempts)", self.saga.attempt)
            } else {
                err.to_string()
            };
            exhausted(self, why);
        }
    }

    /// Ends the saga.
    pub(crate) fn done(&mut self, outcome: Outcome) {
        let kind = outcome.event();
        let note = outcome.reason().map_or_else(|| outcome.kind().to_owned(), |r| format!("{}: {r}", outcome.kind()));
        self.enter(Phase::Done(outcome), note);
        self.publish(kind);
    }

    /// Rejects before anything changed (leases, if any were taken, are released on the way out).
    pub(crate) fn reject(&mut self, reason: String) {
        if matches!(self.saga.phase, Phase::Lock | Phase::Snapshot) {
            let keys = self.lease_keys();
            self.call(Command::ReleaseLeases { keys });
        }
        self.done(Outcome::Rejected { reason });
    }

    /// Moves to compensation: undo what was done, in order.
    pub(crate) fn compensate(&mut self, reason: String) {
        if let Phase::Compensating { .. } = self.saga.phase {
            return;
        }
        let f = &self.saga.facts;
        let mut steps = Vec::new();
        if f.deployment_id.is_some() || f.create_attempted {
            steps.push(Compensation::StopDeployment);
        }
        // Started but never answered (lost response, cancel in flight): StopGreen finds it by its tags.
        if f.green_deployment.is_some() || f.started_green {
            steps.push(Compensation::StopGreen);
        }
        if f.started_green && f.snapshot.is_some() {
            steps.push(Compensation::RemoveGreen);
            steps.push(Compensation::RestoreCapacity);
        }
        if !f.leases.is_empty() || matches!(self.saga.phase, Phase::Lock | Phase::Snapshot) {
            steps.push(Compensation::ReleaseLeases);
        }
        let note = format!("compensating: {reason}");
        self.enter(Phase::Compensating { reason, remaining: steps, left: Vec::new() }, note);
    }

    pub(crate) fn lease_keys(&self) -> Vec<LeaseKey> {
        vec![
            LeaseKey::group(&self.saga.request.elastigroup_id),
            LeaseKey::deployment_group(&self.saga.deployment_group()),
        ]
    }

    pub(crate) fn lease_until(&self) -> Timestamp {
        let t = &self.saga.request.timeouts;
        let minutes = u64::from(t.green_ready_minutes)
            + 2 * u64::from(t.deployment_minutes)
            + u64::from(t.approval_minutes)
            + 240;
        self.now.plus_ms(minutes * MINUTE)
    }

    pub(crate) fn green_spec(&self) -> GreenSpec {
        let t = &self.saga.request.timeouts;
        GreenSpec {
            timeout_minutes: t.green_ready_minutes + t.deployment_minutes + t.approval_minutes,
            tags: self.saga.request.all_green_tags(),
            deployment_group: self.saga.deployment_group(),
        }
    }

    pub(crate) fn deployment_spec(&self) -> DeploymentSpec {
        DeploymentSpec {
            group: self.saga.deployment_group(),
            revision: self.saga.request.revision.clone(),
            // The unique tag alone: CodeDeploy ORs target tag filters, so a shared tag such as
            // `version=6.0` would also select every other instance in the account that carries it.
            target_tags: vec![self.saga.request.rollout_tag()],
            description: deployment_description(&self.saga),
            created_after: self.find_after(),
        }
    }

    /// Where a lookup for this rollout's deployment starts: the snapshot (taken before any
    /// CreateDeployment attempt; the saga's creation if there is none) less [`FIND_MARGIN_MS`].
    fn find_after(&self) -> Timestamp {
        let since = self.saga.facts.started_at.unwrap_or(self.saga.created_at);
        Timestamp(since.0.saturating_sub(FIND_MARGIN_MS))
    }

    pub(crate) fn dg(&self) -> DeploymentGroupRef {
        self.saga.deployment_group()
    }

    pub(crate) fn invariant(&self, what: impl Into<String>) -> SagaError {
        SagaError::Invariant { rollout: self.saga.id.to_string(), what: what.into() }
    }
}

/// The description greenfleet gives its CodeDeploy deployments; a retry finds the deployment by it (F11).
#[must_use]
pub fn deployment_description(saga: &Saga) -> String {
    format!("greenfleet rollout {}", saga.id)
}

/// Exponential backoff with deterministic jitter (±25 %, from the rollout id and attempt), honouring a
/// service's retry-after.
#[must_use]
pub fn backoff_ms(attempt: u32, key: &str, err: &RemoteError) -> u64 {
    let base = 1_000u64.saturating_mul(1 << attempt.min(6)).min(60_000);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(attempt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let jittered = base * 3 / 4 + h % (base / 2 + 1);
    match err {
        RemoteError::Throttled { retry_after_ms: Some(after), .. } => jittered.max(*after),
        _ => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let e = RemoteError::Unavailable("x".into());
        let a1 = backoff_ms(1, "r", &e);
        let a5 = backoff_ms(5, "r", &e);
        assert!((1_500..=2_500).contains(&a1), "{a1}");
        assert!(a5 > a1);
        assert!(backoff_ms(30, "r", &e) <= 75_000);
        let t = RemoteError::Throttled { message: "slow".into(), retry_after_ms: Some(90_000) };
        assert_eq!(backoff_ms(1, "r", &t), 90_000);
    }
}
