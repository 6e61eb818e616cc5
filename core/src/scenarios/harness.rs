//! A scenario drives one saga the way the worker would, with a manual clock: it keeps the saga, the
//! calls waiting for an answer and the wake-ups armed, and checks invariants as it goes — a saga in
//! progress always has a deadline armed (F10), a call is never issued with a fence whose result the
//! saga would ignore, and a wake-up is never delivered after the step's deadline has passed.

use crate::cloud::{DeploymentEvent, DeploymentStatus, EventState};
use crate::effect::{CallResult, Command, Effect, Input, WakeKind};
use crate::event::{LifecycleEvent, LifecycleKind};
use crate::ids::Timestamp;
use crate::machine::{Transition, accept, handle};
use crate::request::RolloutRequest;
use crate::saga::{Compensation, Outcome, Phase, Saga};

use super::fixtures::Fleet;

/// When every scenario starts.
pub(super) const T0: Timestamp = Timestamp(1_700_000_000_000);
pub(super) const SECOND: u64 = 1_000;
pub(super) const MINUTE: u64 = 60 * SECOND;

/// A step or timer message on its way back to the saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Armed {
    pub(super) fence: u64,
    pub(super) kind: WakeKind,
    pub(super) seq: u64,
    pub(super) due: Timestamp,
}

/// One saga under test.
pub(super) struct Scenario {
    pub(super) saga: Saga,
    pub(super) now: Timestamp,
    /// Calls issued with the saga's current fence and not answered yet.
    calls: Vec<(u64, Command)>,
    /// Every wake-up ever armed and not delivered yet (stale ones included).
    pub(super) armed: Vec<Armed>,
    /// Every call issued, in order.
    pub(super) issued: Vec<Command>,
    /// Every lifecycle event published, in order.
    pub(super) published: Vec<LifecycleEvent>,
    /// The last transition's effects and whether it changed the saga.
    pub(super) effects: Vec<Effect>,
    pub(super) changed: bool,
}

impl Scenario {
    /// Accepts `request` at [`T0`].
    pub(super) fn start(request: RolloutRequest) -> Self {
        let t = accept(request, T0);
        let mut s = Self {
            saga: t.next.clone(),
            now: T0,
            calls: Vec::new(),
            armed: Vec::new(),
            issued: Vec::new(),
            published: Vec::new(),
            effects: Vec::new(),
            changed: false,
        };
        s.absorb(t);
        s
    }

    /// Hands `input` to the machine at the current time; a broken invariant fails the scenario.
    pub(super) fn feed(&mut self, input: Input) -> &mut Self {
        let t = handle(&self.saga, input.clone(), self.now)
            .unwrap_or_else(|e| panic!("{input:?} in {}: {e}", self.saga.phase.name()));
        self.absorb(t);
        self
    }

    fn absorb(&mut self, t: Transition) {
        let version = self.saga.version;
        self.saga = t.next;
        if t.changed {
            self.saga.version = version + 1;
        }
        let fence = self.saga.fence;
        // Answers to calls of an earlier step carry an old fence: the saga would ignore them.
        self.calls.retain(|(f, _)| *f == fence);
        for e in &t.effects {
            match e {
                Effect::Call { fence: f, command } => {
                    assert!(
                        *f == fence || self.saga.phase.is_done(),
                        "{command:?} issued with fence {f} while the saga is at {fence}: its result would be ignored"
                    );
                    self.issued.push(command.clone());
                    if *f == fence {
                        self.calls.push((*f, command.clone()));
                    }
                }
                Effect::Wake { fence, kind, seq, delay_ms } => {
                    self.armed.push(Armed { fence: *fence, kind: *kind, seq: *seq, due: self.now.plus_ms(*delay_ms) });
                }
                Effect::Publish(event) => self.published.push(event.clone()),
            }
        }
        self.effects = t.effects;
        self.changed = t.changed;
        if !self.saga.phase.is_done() {
            let deadline = self.saga.deadline;
            assert!(
                self.armed.iter().any(|w| w.kind == WakeKind::Deadline && w.due <= deadline),
                "{} has no deadline message due by its deadline {deadline:?}: {:?}",
                self.saga.phase.name(),
                self.armed
            );
        }
    }

    /// The one call waiting for an answer, checked by `expected`.
    pub(super) fn expect_call(&self, expected: impl Fn(&Command) -> bool) -> Command {
        match self.calls.as_slice() {
            [(_, only)] if expected(only) => only.clone(),
            [(_, only)] => panic!("in {}: unexpected call {only:?}", self.saga.phase.name()),
            calls => panic!("in {}: expected one outstanding call, found {calls:?}", self.saga.phase.name()),
        }
    }

    /// The one call waiting for an answer, if exactly one does.
    pub(super) fn outstanding(&self) -> Option<Command> {
        match self.calls.as_slice() {
            [(_, only)] => Some(only.clone()),
            _ => None,
        }
    }

    /// No call waits for an answer.
    pub(super) fn expect_no_call(&self) {
        assert!(self.calls.is_empty(), "in {}: unexpected calls {:?}", self.saga.phase.name(), self.calls);
    }

    /// Answers the one outstanding call with `result` (which must be of that call's kind).
    pub(super) fn complete(&mut self, result: CallResult) -> &mut Self {
        let command = self.expect_call(|c| answers(c, &result));
        self.answer(&command, result)
    }

    /// Answers the outstanding call matching `which` when several are outstanding.
    pub(super) fn complete_where(&mut self, which: impl Fn(&Command) -> bool, result: CallResult) -> &mut Self {
        let command = self.calls.iter().map(|(_, c)| c).find(|c| which(c) && answers(c, &result)).cloned();
        let command = command.unwrap_or_else(|| panic!("no outstanding call matches among {:?}", self.calls));
        self.answer(&command, result)
    }

    fn answer(&mut self, command: &Command, result: CallResult) -> &mut Self {
        let pos = self.calls.iter().position(|(_, c)| c == command).unwrap();
        let (fence, _) = self.calls.remove(pos);
        let changed_spot = matches!(
            result,
            CallResult::Detached(Ok(())) | CallResult::CapacitySet(Ok(())) | CallResult::BluePointed(Ok(()))
        );
        self.feed(Input::Completed { fence, result });
        // After a detach, capacity or deployment-group change the saga pauses before reading the group back: let it pass.
        if changed_spot && self.calls.is_empty() {
            let pause = self.armed_wake(WakeKind::Step).map(|w| w.due.since(self.now));
            assert_eq!(pause, Some(crate::machine::READBACK_DELAY_MS), "read-back pause after {command:?}");
            self.fire_wake(WakeKind::Step);
        }
        self
    }

    /// Lets `fleet` execute the one outstanding call (a Spot command), checked by `expected`.
    pub(super) fn apply(&mut self, fleet: &mut Fleet, expected: impl Fn(&Command) -> bool) -> &mut Self {
        let command = self.expect_call(expected);
        let result = fleet.apply(&command);
        self.answer(&command, result)
    }

    /// Delivers the live wake-up of `kind`, moving the clock to when it is due.
    /// A step's deadline due no later than the wake-up would be delivered first: that fails the scenario.
    pub(super) fn fire_wake(&mut self, kind: WakeKind) -> &mut Self {
        if kind == WakeKind::Deadline {
            // Deadline messages are shared between steps: deliver them in time order until one finds
            // the current step's deadline passed (the earlier ones only arm the next).
            for _ in 0..20 {
                let w = self.take_wake(kind);
                self.now = self.now.max(w.due);
                let reached = self.now >= self.saga.deadline;
                self.feed(Input::Wake { fence: w.fence, kind: w.kind, seq: w.seq });
                if reached {
                    return self;
                }
            }
            panic!("in {}: the deadline never fired", self.saga.phase.name());
        }
        let w = self.take_wake(kind);
        if self.saga.deadline <= w.due {
            panic!(
                "in {}: the deadline ({:?}) passes before this {kind:?} (due {:?})",
                self.saga.phase.name(),
                self.saga.deadline,
                w.due
            );
        }
        self.now = self.now.max(w.due);
        self.feed(Input::Wake { fence: w.fence, kind: w.kind, seq: w.seq })
    }

    /// Delivers the live wake-up of `kind` now, before it is due (an early or redelivered message).
    pub(super) fn fire_wake_early(&mut self, kind: WakeKind) -> &mut Self {
        let w = self.take_wake(kind);
        self.feed(Input::Wake { fence: w.fence, kind: w.kind, seq: w.seq })
    }

    fn take_wake(&mut self, kind: WakeKind) -> Armed {
        if kind == WakeKind::Deadline {
            let earliest = self.armed.iter().enumerate().filter(|(_, w)| w.kind == kind).min_by_key(|(_, w)| w.due);
            let pos = earliest.map(|(i, _)| i);
            let pos = pos.unwrap_or_else(|| panic!("in {}: no deadline armed", self.saga.phase.name()));
            return self.armed.remove(pos);
        }
        let live = |w: &Armed| w.kind == kind && w.fence == self.saga.fence && self.saga.next_wake == Some(w.seq);
        let pos = self.armed.iter().rposition(live);
        let pos = pos.unwrap_or_else(|| panic!("in {}: no {kind:?} armed: {:?}", self.saga.phase.name(), self.armed));
        self.armed.remove(pos)
    }

    /// The live wake-up of `kind`, if armed.
    pub(super) fn armed_wake(&self, kind: WakeKind) -> Option<&Armed> {
        if kind == WakeKind::Deadline {
            return self.armed.iter().filter(|w| w.kind == kind).min_by_key(|w| w.due);
        }
        self.armed
            .iter()
            .rev()
            .find(|w| w.kind == kind && w.fence == self.saga.fence && self.saga.next_wake == Some(w.seq))
    }

    /// Moves the clock.
    pub(super) fn advance(&mut self, ms: u64) -> &mut Self {
        self.now = self.now.plus_ms(ms);
        self
    }

    /// A deployment-level CodeDeploy event for the saga's deployment. READY and SUCCESS are confirmed
    /// as CodeDeploy would: the GetDeployment the saga sends before acting answers that status.
    pub(super) fn event(&mut self, state: EventState) -> &mut Self {
        let confirms = match state {
            EventState::Ready => Some(DeploymentStatus::Ready),
            EventState::Success => Some(DeploymentStatus::Succeeded),
            _ => None,
        };
        self.event_unconfirmed(state);
        let id = self.saga.facts.deployment_id.clone().expect("no deployment yet");
        let asked = Command::GetDeployment(id);
        if let Some(status) = confirms
            && self.calls.last().is_some_and(|(_, c)| *c == asked)
        {
            self.answer(&asked, super::fixtures::read(status));
        }
        self
    }

    /// The event alone: whatever the saga asks CodeDeploy next stays outstanding.
    pub(super) fn event_unconfirmed(&mut self, state: EventState) -> &mut Self {
        let deployment_id = self.saga.facts.deployment_id.clone().expect("no deployment yet");
        self.feed(Input::Deployment(DeploymentEvent { deployment_id, state, instance: None }))
    }

    pub(super) fn cancel(&mut self) -> &mut Self {
        self.feed(Input::Cancel { by: "ops".into(), reason: "bad build".into() })
    }

    pub(super) fn approve(&mut self) -> &mut Self {
        self.feed(Input::Approve { by: "alice".into() })
    }

    /// The last input changed nothing and asked for nothing.
    pub(super) fn assert_noop(&self) {
        assert!(!self.changed, "expected a no-op in {}", self.saga.phase.name());
        assert!(self.effects.is_empty(), "expected no effects, got {:?}", self.effects);
    }

    pub(super) fn phase(&self) -> &Phase {
        &self.saga.phase
    }

    /// The compensations still to run, when compensating.
    pub(super) fn remaining(&self) -> Vec<Compensation> {
        match &self.saga.phase {
            Phase::Compensating { remaining, .. } => remaining.clone(),
            other => panic!("not compensating: {}", other.name()),
        }
    }

    /// The outcome; fails unless the saga is done.
    pub(super) fn outcome(&self) -> &Outcome {
        self.saga.outcome().unwrap_or_else(|| panic!("not done: {}", self.saga.phase.name()))
    }

    pub(super) fn reason(&self) -> &str {
        self.outcome().reason().unwrap_or_else(|| panic!("no reason: {:?}", self.outcome()))
    }

    pub(super) fn published_kinds(&self) -> Vec<LifecycleKind> {
        self.published.iter().map(|e| e.kind).collect()
    }

    /// Whether some history line contains `needle`.
    pub(super) fn noted(&self, needle: &str) -> bool {
        self.saga.history.iter().any(|h| h.note.contains(needle))
    }

    /// Calls that change something at Spot or CodeDeploy.
    pub(super) fn side_effects(&self) -> Vec<&Command> {
        self.issued
            .iter()
            .filter(|c| {
                !matches!(
                    c,
                    Command::Inspect { .. }
                        | Command::GetDeployment(_)
                        | Command::FindDeployment(_)
                        | Command::CheckHealth { .. }
                )
            })
            .filter(|c| !matches!(c, Command::AcquireLeases { .. } | Command::ReleaseLeases { .. }))
            .collect()
    }
}

/// Whether `result` is the kind of answer `command` gets.
fn answers(command: &Command, result: &CallResult) -> bool {
    matches!(
        (command, result),
        (Command::Inspect { .. }, CallResult::Inspected(_))
            | (Command::AcquireLeases { .. }, CallResult::LeasesAcquired(_))
            | (Command::ReleaseLeases { .. }, CallResult::LeasesReleased(_))
            | (Command::StartGreen { .. }, CallResult::GreenStarted(_))
            | (Command::CreateDeployment(_), CallResult::DeploymentCreated(_))
            | (Command::GetDeployment(_), CallResult::DeploymentRead(_))
            | (Command::FindDeployment(_), CallResult::DeploymentFound(_))
            | (Command::ContinueDeployment(_), CallResult::Continued(_))
            | (Command::StopDeployment(_) | Command::StopWithoutRollback(_), CallResult::DeploymentStopped(_))
            | (Command::StopGreen { .. }, CallResult::GreenStopped(_))
            | (Command::Detach { .. }, CallResult::Detached(_))
            | (Command::SetCapacity { .. }, CallResult::CapacitySet(_))
            | (Command::CheckHealth { .. }, CallResult::Health(_))
            | (Command::PointBlue { .. }, CallResult::BluePointed(_))
    )
}

/// Predicates for [`Scenario::expect_call`], so scenarios read as the step they expect.
pub(super) mod is {
    use crate::effect::Command;

    pub(in crate::scenarios) fn inspect(c: &Command) -> bool {
        matches!(c, Command::Inspect { .. })
    }
    pub(in crate::scenarios) fn inspect_with_dg(c: &Command) -> bool {
        matches!(c, Command::Inspect { deployment_group: Some(_), .. })
    }
    pub(in crate::scenarios) fn acquire(c: &Command) -> bool {
        matches!(c, Command::AcquireLeases { .. })
    }
    pub(in crate::scenarios) fn release(c: &Command) -> bool {
        matches!(c, Command::ReleaseLeases { .. })
    }
    pub(in crate::scenarios) fn start_green(c: &Command) -> bool {
        matches!(c, Command::StartGreen { .. })
    }
    pub(in crate::scenarios) fn create(c: &Command) -> bool {
        matches!(c, Command::CreateDeployment(_))
    }
    pub(in crate::scenarios) fn get(c: &Command) -> bool {
        matches!(c, Command::GetDeployment(_))
    }
    pub(in crate::scenarios) fn continue_(c: &Command) -> bool {
        matches!(c, Command::ContinueDeployment(_))
    }
    /// Either stop: with CodeDeploy's rollback or without.
    pub(in crate::scenarios) fn stop_deployment(c: &Command) -> bool {
        matches!(c, Command::StopDeployment(_) | Command::StopWithoutRollback(_))
    }

    pub(in crate::scenarios) fn stop_green(c: &Command) -> bool {
        matches!(c, Command::StopGreen { .. })
    }
    pub(in crate::scenarios) fn detach(c: &Command) -> bool {
        matches!(c, Command::Detach { .. })
    }
    pub(in crate::scenarios) fn set_capacity(c: &Command) -> bool {
        matches!(c, Command::SetCapacity { .. })
    }
    pub(in crate::scenarios) fn point_blue(c: &Command) -> bool {
        matches!(c, Command::PointBlue { .. })
    }
    pub(in crate::scenarios) fn check_health(c: &Command) -> bool {
        matches!(c, Command::CheckHealth { .. })
    }
}
