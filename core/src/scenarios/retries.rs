//! Retryable errors back off and retry; terminal or exhausted ones compensate; a compensation step
//! that fails every retry is left for a person, with instructions.

use crate::effect::{CallResult, Command, WakeKind};
use crate::event::LifecycleKind;
use crate::machine::{MAX_ATTEMPTS, backoff_ms};
use crate::ports::RemoteError;
use crate::request::{RolloutRequest, Timeouts};
use crate::saga::{Compensation, Outcome, Phase};

use super::fixtures::{Fleet, ROLLOUT, acquired, busy, rejected, request, unavailable};
use super::harness::{Scenario, is};
use super::walk::{run_to_end, to_await_green, to_start_green};

fn at_start_green(fleet: &mut Fleet) -> Scenario {
    to_start_green(request(), fleet)
}

#[test]
fn a_retryable_error_backs_off_and_the_retry_succeeds() {
    let mut fleet = Fleet::healthy();
    let mut s = at_start_green(&mut fleet);
    let first = s.expect_call(is::start_green);
    s.complete(CallResult::GreenStarted(Err(unavailable())));
    assert_eq!(s.phase(), &Phase::StartGreen);
    assert_eq!(s.saga.attempt, 1);
    s.expect_no_call();
    let wake = s.armed_wake(WakeKind::Step).unwrap();
    assert_eq!(wake.due, s.now.plus_ms(backoff_ms(1, ROLLOUT, &unavailable())));
    assert!(s.noted("attempt 1 failed (unavailable: 503 from the service)"));

    // Throttled with a retry-after: the wait honours it.
    s.fire_wake(WakeKind::Step);
    let throttled = RemoteError::Throttled { message: "slow down".into(), retry_after_ms: Some(90_000) };
    s.complete(CallResult::GreenStarted(Err(throttled)));
    assert_eq!(s.armed_wake(WakeKind::Step).unwrap().due, s.now.plus_ms(90_000));

    s.fire_wake(WakeKind::Step);
    assert_eq!(s.expect_call(is::start_green), first, "the retry asks for the same thing (guarded by its tags)");
    s.apply(&mut fleet, is::start_green);
    assert_eq!(s.phase(), &Phase::AwaitGreen);
    assert_eq!(s.saga.attempt, 0);
}

#[test]
fn a_terminal_error_compensates_at_once() {
    let mut fleet = Fleet::healthy();
    let mut s = at_start_green(&mut fleet);
    s.complete(CallResult::GreenStarted(Err(rejected("GROUP_NOT_READY"))));
    let Phase::Compensating { reason, .. } = s.phase().clone() else { panic!("{}", s.phase().name()) };
    assert!(reason.contains("Spot did not start the Blue/Green deployment: GROUP_NOT_READY: refused"), "{reason}");
    run_to_end(&mut s, &mut fleet);
    assert_eq!(s.outcome(), &Outcome::RolledBack { reason });
}

#[test]
fn retries_exhausted_compensate() {
    let mut fleet = Fleet::healthy();
    let mut s = at_start_green(&mut fleet);
    for _ in 1..MAX_ATTEMPTS {
        s.complete(CallResult::GreenStarted(Err(unavailable()))).fire_wake(WakeKind::Step);
    }
    s.complete(CallResult::GreenStarted(Err(unavailable())));
    let Phase::Compensating { reason, .. } = s.phase() else { panic!("{}", s.phase().name()) };
    assert!(reason.contains(&format!("(after {MAX_ATTEMPTS} attempts)")), "{reason}");
    assert_eq!(s.issued.iter().filter(|c| is::start_green(c)).count(), MAX_ATTEMPTS as usize);
}

#[test]
fn a_compensation_step_failing_every_retry_needs_attention_with_the_capacity() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    fleet.launch_green(2, true);
    s.cancel();
    s.apply(&mut fleet, is::stop_green);
    s.apply(&mut fleet, is::inspect).apply(&mut fleet, is::detach).apply(&mut fleet, is::inspect);
    assert_eq!(s.remaining()[0], Compensation::RestoreCapacity);
    s.apply(&mut fleet, is::inspect);
    for _ in 1..MAX_ATTEMPTS {
        s.complete(CallResult::CapacitySet(Err(unavailable())));
        s.fire_wake(WakeKind::Step).apply(&mut fleet, is::inspect);
    }
    s.complete(CallResult::CapacitySet(Err(unavailable())));
    assert_eq!(s.remaining(), [Compensation::ReleaseLeases], "the next step still runs");
    let Phase::Compensating { left, .. } = s.phase() else { unreachable!() };
    assert_eq!(left[0].0, Compensation::RestoreCapacity);

    s.complete(CallResult::LeasesReleased(Ok(())));
    let Outcome::NeedsAttention { reason, left } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert!(reason.contains("cancelled by ops"), "{reason}");
    assert_eq!(left.len(), 1);
    assert!(left[0].contains("set the capacity of sig-1234abcd back to [Target 2, Min 1, Max 2]"), "{left:?}");
    assert!(left[0].contains(r#"{"capacity":{"minimum":1,"maximum":2,"target":2}}"#), "{left:?}");
    assert!(left[0].contains("(after 6 attempts)"), "{left:?}");
    assert_eq!(s.published_kinds().last(), Some(&LifecycleKind::NeedsAttention));
}

#[test]
fn green_that_cannot_be_detached_needs_attention_naming_the_rollout_tag() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    fleet.launch_green(2, true);
    s.cancel();
    s.apply(&mut fleet, is::stop_green).apply(&mut fleet, is::inspect);
    for _ in 1..MAX_ATTEMPTS {
        s.complete(CallResult::Detached(Err(unavailable())));
        s.fire_wake(WakeKind::Step).apply(&mut fleet, is::inspect);
    }
    s.complete(CallResult::Detached(Err(unavailable())));
    run_to_end(&mut s, &mut fleet);
    let Outcome::NeedsAttention { left, .. } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert!(left[0].contains("instances of sig-1234abcd tagged greenfleet:rollout=rel-42"), "{left:?}");
}

/// Regression: rounds spent waiting for a busy lease used to count as failed attempts, so one
/// transient error after five busy rounds rejected a rollout that was allowed to wait.
#[test]
fn waiting_for_a_busy_lease_does_not_use_up_the_retries() {
    let timeouts = Timeouts { lock_wait_minutes: 30, ..Timeouts::default() };
    let mut s = Scenario::start(RolloutRequest { timeouts, ..request() });
    s.complete(Fleet::healthy().preflight());
    for _ in 0..MAX_ATTEMPTS {
        s.complete(busy("rel-41")).fire_wake(WakeKind::Step);
    }
    s.complete(CallResult::LeasesAcquired(Err(unavailable())));
    assert_eq!(s.phase(), &Phase::Lock, "{:?}", s.saga.history.last());
    s.fire_wake(WakeKind::Step).complete(acquired());
    assert_eq!(s.phase(), &Phase::Snapshot);
    assert_eq!(s.saga.history.iter().filter(|h| h.note.starts_with("waiting:")).count(), 1);
}

#[test]
fn a_retry_after_a_lost_response_adopts_what_the_first_try_started() {
    let mut fleet = Fleet::healthy();
    let mut s = at_start_green(&mut fleet);
    let Command::StartGreen { spec, .. } = s.expect_call(is::start_green) else { unreachable!() };
    // Spot started it, but the answer was lost.
    let _ = fleet.apply(&Command::StartGreen { group: fleet.group.id.clone(), spec });
    s.complete(CallResult::GreenStarted(Err(unavailable())));
    s.fire_wake(WakeKind::Step);
    s.complete(CallResult::GreenStarted(Ok(fleet.green.clone().unwrap())));
    assert_eq!(s.phase(), &Phase::AwaitGreen);
}
