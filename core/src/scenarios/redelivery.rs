//! Redelivery: one message delivered again, to two workers at once, or after a worker died between
//! persisting and acting — decided by [`crate::redelivery`], run here the way the worker runs it
//! against a one-row table with conditional writes. Every case the worker once told apart with its
//! four-part condition, and the four simulation seeds (417, 759, 79, 760) that found bugs here.

use crate::cloud::{DeploymentEvent, DeploymentStatus, EventState};
use crate::effect::{CallResult, Command, Effect, Input, WakeKind};
use crate::event::LifecycleKind;
use crate::ids::Timestamp;
use crate::redelivery::{Chain, Outbox, Step, Write, create, decide, replay, settle};
use crate::saga::{Phase, Saga};

use super::fixtures::{Fleet, busy, deployment_id, instance, read, request};
use super::harness::{Scenario, is};
use super::walk::{to_await_deployment, to_await_green, to_finalize, to_start_green};

/// The saga table, one row, written only if the version is still the one expected.
struct Table {
    saga: Saga,
}

impl Table {
    /// The row as the worker left it after `s`'s last transition, written for message `cause`.
    fn after(s: &Scenario, cause: &str) -> Self {
        let mut saga = s.saga.clone();
        saga.outbox = Outbox { cause: Some(cause.into()), effects: s.effects.clone() };
        Self { saga }
    }

    fn write(&mut self, w: Write) -> bool {
        if self.saga.version != w.expected {
            return false;
        }
        assert_eq!(w.next.version, w.expected + 1, "a write moves the version by one");
        self.saga = w.next;
        true
    }
}

/// One delivery of a message to one worker: its chain and the saga it holds between inputs.
struct Delivery {
    chain: Chain,
    latest: Option<Saga>,
}

impl Delivery {
    /// The message just received: the worker holds no saga yet.
    fn of(cause: &str) -> Self {
        Self { chain: Chain::new(cause), latest: None }
    }

    /// A worker part-way through the chain of `cause`, holding `saga` (which it wrote or replayed).
    fn holding(cause: &str, saga: &Saga) -> Self {
        let mut chain = Chain::new(cause);
        chain.reached(saga);
        Self { chain, latest: Some(saga.clone()) }
    }

    /// Handles one input as the worker does (reload and decide again after a lost race) and returns
    /// the effects it would now run.
    fn input(&mut self, table: &mut Table, input: Input, now: Timestamp) -> Vec<Effect> {
        for _ in 0..8 {
            let saga = self.latest.take().unwrap_or_else(|| table.saga.clone());
            match decide(&saga, &self.chain, input.clone(), now).unwrap() {
                Step::Replay(effects) | Step::Unchanged(effects) => {
                    self.chain.reached(&saga);
                    self.latest = Some(saga);
                    return effects;
                }
                Step::Persist { write, effects, .. } => {
                    let next = write.next.clone();
                    if table.write(write) {
                        self.chain.reached(&next);
                        self.latest = Some(next);
                        return effects;
                    }
                }
            }
        }
        panic!("lost every race")
    }

    /// The chain's effects all ran: the settle write, if any, made.
    fn finish(self, table: &mut Table) {
        if let Some(w) = self.latest.and_then(|s| settle(s, &self.chain)) {
            table.write(w);
        }
    }
}

/// The live wake-up of `kind` as the message that delivers it, and when it is due.
fn wake(s: &Scenario, kind: WakeKind) -> (Input, Timestamp) {
    let w = s.armed_wake(kind).unwrap_or_else(|| panic!("no {kind:?} armed in {}", s.phase().name()));
    (Input::Wake { fence: w.fence, kind, seq: w.seq }, w.due.max(s.now))
}

/// The call among `effects` matching `which`, with its fence.
fn call(effects: &[Effect], which: impl Fn(&Command) -> bool) -> (u64, Command) {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Call { fence, command } if which(command) => Some((*fence, command.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no such call in {effects:?}"))
}

fn wakes(effects: &[Effect], kind: WakeKind) -> Vec<u64> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Wake { kind: k, seq, .. } if *k == kind => Some(*seq),
            _ => None,
        })
        .collect()
}

fn instance_event(name: &str) -> Input {
    Input::Deployment(DeploymentEvent {
        deployment_id: deployment_id(),
        state: EventState::Ready,
        instance: Some(instance(name)),
    })
}

/// A rollout following its deployment, whose last transition — a reconcile poll: the next poll and a
/// read — was written for message `cause`.
fn following_the_deployment(cause: &str) -> (Scenario, Table) {
    let mut s = to_await_deployment(request(), &mut Fleet::healthy());
    s.fire_wake(WakeKind::Poll);
    let table = Table::after(&s, cause);
    (s, table)
}

// The four cases of the decision: whose outbox, and whether this chain has seen that saga.

#[test]
fn a_message_delivered_again_replays_the_transition_persisted_for_it() {
    let (s, mut table) = following_the_deployment("created");
    let (poll, now) = wake(&s, WakeKind::Poll);
    let mut first = Delivery::of("poll-1");
    let ran = first.input(&mut table, poll.clone(), now);
    assert_eq!(wakes(&ran, WakeKind::Poll).len(), 1, "the next poll: {ran:?}");
    call(&ran, is::get);
    // The worker died before running those effects; the message comes back.
    let stored = table.saga.clone();
    let mut again = Delivery::of("poll-1");
    let replayed = again.input(&mut table, poll, now);
    assert_eq!(replayed, ran, "the same effects again");
    assert_eq!(table.saga, stored, "nothing written: the poll is not handled twice");
}

#[test]
fn another_message_is_handled_and_carries_the_outbox_it_replaces() {
    let (s, mut table) = following_the_deployment("created");
    let mut event = Delivery::of("event:1");
    let saga = table.saga.clone();
    let Step::Persist { write, effects, carried } =
        decide(&saga, &event.chain, instance_event("i-green1"), s.now).unwrap()
    else {
        panic!("an instance event is a transition");
    };
    assert!(carried > 0, "the creation's poll and read are still current: {:?}", s.effects);
    assert_eq!(effects[..carried], saga.outbox.carry(&write.next, s.now)[..]);
    assert_eq!(write.next.outbox.cause.as_deref(), Some("event:1"));
    assert_eq!(write.next.outbox.effects, effects);
    assert_eq!(write.expected, saga.version);
    // Run through the worker's loop, it writes once.
    event.input(&mut table, instance_event("i-green1"), s.now);
    assert_eq!(table.saga.version, saga.version + 1);
}

#[test]
fn the_next_input_of_the_same_chain_is_handled_without_carrying_its_own_effects() {
    let (s, mut table) = following_the_deployment("created");
    let (poll, now) = wake(&s, WakeKind::Poll);
    let mut d = Delivery::of("poll-1");
    let ran = d.input(&mut table, poll, now);
    let (fence, _) = call(&ran, is::get);
    let held = d.latest.clone().unwrap();
    let read = Input::Completed { fence, result: read(DeploymentStatus::Succeeded) };
    let Step::Persist { effects, carried, .. } = decide(&held, &d.chain, read.clone(), now).unwrap() else {
        panic!("a succeeded read moves the saga");
    };
    assert_eq!(carried, 0, "its own effects ran already: {effects:?}");
    d.input(&mut table, read, now);
    assert_eq!(table.saga.phase, Phase::Finalize(crate::saga::FinalizeStage::AwaitSpot));
}

#[test]
fn a_saga_this_chain_already_holds_is_handled_not_replayed() {
    let (s, table) = following_the_deployment("poll-1");
    let mut chain = Chain::new("poll-1");
    assert!(replay(&table.saga, &chain, s.now).is_some(), "first sight of its own outbox: replay");
    chain.reached(&table.saga);
    assert_eq!(replay(&table.saga, &chain, s.now), None, "the saga it wrote: handle the next input");
    let read = Input::Completed { fence: s.saga.fence, result: read(DeploymentStatus::InProgress) };
    assert!(!matches!(decide(&table.saga, &chain, read, s.now).unwrap(), Step::Replay(_)));
}

#[test]
fn an_input_that_changes_nothing_writes_nothing_and_carries_nothing() {
    let (s, table) = following_the_deployment("created");
    let stale = Input::Wake { fence: s.saga.fence, kind: WakeKind::Poll, seq: 0 };
    assert_eq!(decide(&table.saga, &Chain::new("poll-0"), stale, s.now).unwrap(), Step::Unchanged(Vec::new()));
}

// Where a rollout begins: the intake.

#[test]
fn a_request_delivered_again_replays_its_acceptance_and_another_message_does_not() {
    let chain = Chain::new("intake:rel-42");
    let (saga, effects) = create(crate::machine::accept(request(), super::harness::T0), &chain);
    assert_eq!(saga.version, 1);
    assert_eq!(saga.outbox, Outbox { cause: Some("intake:rel-42".into()), effects: effects.clone() });
    assert!(effects.iter().any(|e| matches!(e, Effect::Publish(ev) if ev.kind == LifecycleKind::Accepted)));
    assert_eq!(replay(&saga, &Chain::new("intake:rel-42"), super::harness::T0), Some(effects));
    assert_eq!(replay(&saga, &Chain::new("intake:other"), super::harness::T0), None);
}

// What a replay and a carry keep.

#[test]
fn a_replay_skips_wake_ups_no_longer_awaited_and_re_arms_the_deadline_for_when_it_is_due() {
    let (s, mut table) = following_the_deployment("poll-1");
    let due = s.now.plus_ms(90_000);
    table.saga.deadline_wake = Some(due);
    let live = table.saga.next_wake.unwrap();
    let fence = table.saga.fence;
    let gone = Effect::Wake { fence, kind: WakeKind::Poll, seq: live - 1, delay_ms: 30_000 };
    let awaited = Effect::Wake { fence, kind: WakeKind::Poll, seq: live, delay_ms: 30_000 };
    let deadline = Effect::Wake { fence, kind: WakeKind::Deadline, seq: 0, delay_ms: 600_000 };
    let get = Effect::Call { fence: fence - 1, command: Command::GetDeployment(deployment_id()) };
    table.saga.outbox.effects = vec![gone, awaited.clone(), deadline, get.clone()];
    let now = s.now.plus_ms(30_000);
    let rearmed = Effect::Wake { fence, kind: WakeKind::Deadline, seq: 0, delay_ms: 60_000 };
    assert_eq!(table.saga.outbox.replay(&table.saga, now), [awaited.clone(), rearmed.clone(), get]);
    // A carry keeps the same, except a call of a step the saga has left.
    assert_eq!(table.saga.outbox.carry(&table.saga, now), [awaited, rearmed]);
}

#[test]
fn a_cancel_carries_the_started_event_but_not_the_start_of_a_step_it_leaves() {
    let s = to_start_green(request(), &mut Fleet::healthy());
    call(&s.effects, is::start_green);
    let mut table = Table::after(&s, "inspected");
    let cancel = Input::Cancel { by: "ops".into(), reason: "bad build".into() };
    let ran = Delivery::of("op:cancel").input(&mut table, cancel, s.now);
    assert!(!ran.iter().any(|e| matches!(e, Effect::Call { command: Command::StartGreen { .. }, .. })), "{ran:?}");
    assert!(ran.iter().any(|e| matches!(e, Effect::Publish(ev) if ev.kind == LifecycleKind::Started)));
    assert!(matches!(table.saga.phase, Phase::Compensating { .. }));
}

// The simulation's regressions.

/// Seed 417: two workers had the same poll; one persisted the read's transition and died, the other
/// lost the race with it and must run what it persisted (here Finalize's first look at Spot) instead
/// of acking the message having done nothing.
#[test]
fn seed_417_a_racing_worker_runs_what_the_dead_one_persisted_for_the_same_message() {
    let (s, mut table) = following_the_deployment("created");
    let (poll, now) = wake(&s, WakeKind::Poll);
    let mut racer = Delivery::of("poll-1");
    let ran = racer.input(&mut table, poll.clone(), now);
    let (fence, _) = call(&ran, is::get);
    let mut dying = Delivery::of("poll-1");
    assert_eq!(dying.input(&mut table, poll, now), ran, "the duplicate replays the poll");
    let succeeded = Input::Completed { fence, result: read(DeploymentStatus::Succeeded) };
    let lost = dying.input(&mut table, succeeded.clone(), now);
    let (_, look) = call(&lost, is::inspect);
    // The dying worker is gone; the racer, holding the older saga, handles the same read.
    let ran = racer.input(&mut table, succeeded, now);
    assert!(ran.iter().any(|e| matches!(e, Effect::Call { command, .. } if *command == look)), "{ran:?}");
    assert_eq!(ran, lost, "exactly what the dead worker would have run");
}

/// Seed 759: the same race in compensation, where what the dead worker persisted was the pause
/// before reading the group back; the racer must send that wake-up or the saga sits until its deadline.
#[test]
fn seed_759_a_racing_worker_sends_the_read_back_wake_up_the_dead_one_persisted() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    fleet.launch_green(2, true);
    s.cancel();
    for _ in 0..20 {
        match s.outstanding() {
            Some(c) if is::detach(&c) => break,
            Some(_) => s.apply(&mut fleet, |_| true),
            None => s.fire_wake(WakeKind::Step),
        };
    }
    let (fence, _) = call(&s.effects, is::detach);
    let mut table = Table::after(&s, "step-7");
    let detached = Input::Completed { fence, result: CallResult::Detached(Ok(())) };
    let mut racer = Delivery::holding("step-7", &table.saga);
    let mut dying = Delivery::holding("step-7", &table.saga);
    let lost = dying.input(&mut table, detached.clone(), s.now);
    let paused = wakes(&lost, WakeKind::Step);
    assert_eq!(paused, [table.saga.next_wake.unwrap()], "the read-back pause: {lost:?}");
    let ran = racer.input(&mut table, detached, s.now);
    assert_eq!(wakes(&ran, WakeKind::Step), paused, "{ran:?}");
}

/// Seed 79: a worker persisted a poll's transition and died before sending the next poll; instance
/// events were handled before the poll came back, replacing the outbox. The event's transition must
/// carry the next poll, since the redelivered poll now finds nothing of its own to replay.
#[test]
fn seed_79_an_outbox_replaced_before_its_message_comes_back_is_carried() {
    let (s, mut table) = following_the_deployment("created");
    let (poll, now) = wake(&s, WakeKind::Poll);
    let lost = Delivery::of("poll-1").input(&mut table, poll.clone(), now);
    let next_poll = wakes(&lost, WakeKind::Poll);
    assert_eq!(next_poll.len(), 1);
    let event = Delivery::of("event:i-green1").input(&mut table, instance_event("i-green1"), now);
    assert_eq!(wakes(&event, WakeKind::Poll), next_poll, "the event carries the next poll: {event:?}");
    call(&event, is::get);
    // The redelivered poll is stale now: it must find nothing to do, and nothing is lost.
    assert_eq!(Delivery::of("poll-1").input(&mut table, poll, now), Vec::new());
}

/// Seed 760: a duplicate of a wake-up replayed its outbox and sent the next wake-up again; each copy
/// did the same at the next step, so a long wait for a busy lease echoed forever. Once a chain's
/// effects have run its outbox is cleared, so the duplicate replays nothing.
#[test]
fn seed_760_a_duplicate_wake_up_after_its_chain_finished_sends_nothing() {
    let mut s = Scenario::start(request());
    s.complete(Fleet::healthy().preflight());
    s.complete(busy("rel-41"));
    assert_eq!(s.phase(), &Phase::Lock);
    let mut table = Table::after(&s, "acquire");
    let (retry, now) = wake(&s, WakeKind::Step);
    let mut d = Delivery::of("step-1");
    let ran = d.input(&mut table, retry.clone(), now);
    let (fence, _) = call(&ran, is::acquire);
    let waits = d.input(&mut table, Input::Completed { fence, result: busy("rel-41") }, now);
    let next_retry = wakes(&waits, WakeKind::Step);
    assert_eq!(next_retry.len(), 1, "still busy: retry later {waits:?}");
    let unsettled = table.saga.clone();
    d.finish(&mut table);
    assert!(table.saga.outbox.effects.is_empty(), "settled: {:?}", table.saga.outbox);
    assert_eq!(table.saga.version, unsettled.version + 1);
    assert_eq!(Delivery::of("step-1").input(&mut table, retry.clone(), now), Vec::new());
    // Unsettled, the duplicate would have sent the next retry a second time.
    let mut echo = Table { saga: unsettled };
    assert_eq!(wakes(&Delivery::of("step-1").input(&mut echo, retry, now), WakeKind::Step), next_retry);
}

#[test]
fn settling_leaves_an_outbox_without_wake_ups_another_messages_or_a_finished_sagas() {
    let (_, table) = following_the_deployment("poll-1");
    let mut saga = table.saga;
    let ours = Chain::new("poll-1");
    assert!(settle(saga.clone(), &ours).is_some());
    assert_eq!(settle(saga.clone(), &Chain::new("event:1")), None, "another message's effects");
    let mut done = to_finalize(request(), &mut Fleet::healthy()).saga;
    done.phase = Phase::Done(crate::saga::Outcome::Succeeded);
    done.outbox = saga.outbox.clone();
    assert_eq!(settle(done, &ours), None, "a finished saga is never written again");
    saga.outbox.effects.retain(|e| !matches!(e, Effect::Wake { .. }));
    assert_eq!(settle(saga, &ours), None, "nothing that could echo");
}
