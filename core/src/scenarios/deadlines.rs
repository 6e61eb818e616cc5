//! Every wait has a deadline (F10) with a defined way out; a deadline message arriving early re-arms.

use crate::cloud::EventState;
use crate::effect::{Effect, WakeKind};
use crate::event::LifecycleKind;
use crate::machine::LOCK_RETRY_MS;
use crate::request::{RolloutRequest, Timeouts};
use crate::saga::{Compensation, Outcome, Phase};

use super::fixtures::{Fleet, acquired, busy, manual_request, request};
use super::harness::{MINUTE, Scenario, T0, is};
use super::walk::{run_to_end, to_await_deployment, to_await_green};

fn compensating_reason(s: &Scenario) -> String {
    match s.phase() {
        Phase::Compensating { reason, .. } => reason.clone(),
        other => panic!("not compensating: {}", other.name()),
    }
}

#[test]
fn green_not_ready_in_time_is_compensated() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    fleet.launch_green(1, true);
    s.apply(&mut fleet, is::inspect);
    let started = s.now;
    s.fire_wake(WakeKind::Deadline);
    assert_eq!(s.now, started.plus_ms(15 * MINUTE));
    let reason = compensating_reason(&s);
    assert!(reason.contains("within 15 minutes (1 of 2; timeouts.greenReadyMinutes)"), "{reason}");
    assert_eq!(
        s.remaining(),
        [
            Compensation::StopGreen,
            Compensation::RemoveGreen,
            Compensation::RestoreCapacity,
            Compensation::ReleaseLeases
        ]
    );
    run_to_end(&mut s, &mut fleet);
    assert_eq!(s.outcome(), &Outcome::RolledBack { reason });
}

#[test]
fn deployment_not_done_in_time_is_compensated() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.event(EventState::Start);
    s.fire_wake(WakeKind::Deadline);
    let reason = compensating_reason(&s);
    assert!(reason.contains("d-ABC123 did not finish within 60 minutes (last status InProgress"), "{reason}");
    assert_eq!(s.remaining()[0], Compensation::StopDeployment);
    s.expect_call(is::stop_deployment);
}

#[test]
fn approval_not_given_in_time_is_compensated() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(manual_request(), &mut fleet);
    s.event(EventState::Ready);
    assert_eq!(s.phase(), &Phase::AwaitApproval);
    assert!(s.side_effects().iter().all(|c| !is::continue_(c)), "nothing continues without approval");
    s.fire_wake(WakeKind::Deadline);
    assert!(compensating_reason(&s).contains("not approved within 60 minutes (timeouts.approvalMinutes)"));
    s.expect_call(is::stop_deployment);
}

#[test]
fn a_busy_lease_without_waiting_rejects_naming_the_holder() {
    let timeouts = Timeouts { lock_wait_minutes: 0, ..Timeouts::default() };
    let mut s = Scenario::start(RolloutRequest { timeouts, ..request() });
    s.complete(Fleet::healthy().preflight());
    s.complete(busy("rel-41"));
    let reason = s.reason();
    assert!(reason.contains("rollout rel-41 holds the lease group#sig-1234abcd"), "{reason}");
    assert!(reason.contains("timeouts.lockWaitMinutes"), "{reason}");
    assert_eq!(s.published_kinds().last(), Some(&LifecycleKind::Rejected));
    assert!(s.side_effects().is_empty());
}

#[test]
fn a_busy_lease_is_asked_for_again_until_the_wait_ends() {
    let timeouts = Timeouts { lock_wait_minutes: 1, ..Timeouts::default() };
    let mut s = Scenario::start(RolloutRequest { timeouts, ..request() });
    s.complete(Fleet::healthy().preflight());
    for _ in 0..3 {
        s.complete(busy("rel-41"));
        assert_eq!(s.armed_wake(WakeKind::Step).unwrap().due, s.now.plus_ms(LOCK_RETRY_MS));
        s.fire_wake(WakeKind::Step);
        s.expect_call(is::acquire);
    }
    s.complete(busy("rel-41"));
    assert!(s.noted("waiting: rollout rel-41 holds group#sig-1234abcd"));
    s.fire_wake(WakeKind::Deadline);
    assert_eq!(s.now, T0.plus_ms(MINUTE));
    assert!(
        s.reason().contains(
            "rollout rel-41 kept the Elastigroup or deployment group busy for 1 minute(s) (timeouts.lockWaitMinutes)"
        ),
        "{}",
        s.reason()
    );
    assert!(s.side_effects().is_empty());
}

#[test]
fn a_busy_lease_that_frees_up_goes_on() {
    let mut s = Scenario::start(request());
    s.complete(Fleet::healthy().preflight());
    s.complete(busy("rel-41")).fire_wake(WakeKind::Step).complete(acquired());
    assert_eq!(s.phase(), &Phase::Snapshot);
}

#[test]
fn a_deadline_message_before_the_steps_deadline_arms_the_next_one() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    let deadline = s.saga.deadline;
    // Preflight's 10-minute message still serves: AwaitGreen (15 minutes) armed nothing new.
    let first = s.armed_wake(WakeKind::Deadline).unwrap().due;
    assert!(first < deadline);
    s.now = first;
    s.fire_wake_early(WakeKind::Deadline);
    assert_eq!(s.phase(), &Phase::AwaitGreen);
    assert_eq!(
        s.effects,
        [Effect::Wake { fence: s.saga.fence, kind: WakeKind::Deadline, seq: 0, delay_ms: deadline.since(s.now) }]
    );
    assert_eq!(s.saga.deadline_wake, Some(deadline));
    s.fire_wake(WakeKind::Deadline);
    assert!(matches!(s.phase(), Phase::Compensating { .. }));
}

#[test]
fn preflight_that_cannot_read_in_time_rejects() {
    let mut s = Scenario::start(request());
    s.fire_wake(WakeKind::Deadline);
    assert!(s.reason().contains("preflight could not read Spot and CodeDeploy within 10 minutes"));
}

#[test]
fn a_compensation_step_past_its_deadline_is_left_for_a_person() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    s.cancel();
    s.apply(&mut fleet, is::stop_green);
    s.expect_call(is::inspect); // RemoveGreen's read never comes back
    s.fire_wake(WakeKind::Deadline);
    assert_eq!(s.remaining(), [Compensation::RestoreCapacity, Compensation::ReleaseLeases]);
    run_to_end(&mut s, &mut fleet);
    let Outcome::NeedsAttention { left, .. } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert_eq!(left.len(), 1);
    assert!(left[0].contains("tagged greenfleet:rollout=rel-42"), "{left:?}");
    assert!(left[0].contains("did not complete within 10 minutes"), "{left:?}");
    assert_eq!(s.published_kinds().last(), Some(&LifecycleKind::NeedsAttention));
    assert_eq!(s.published.last().unwrap().left, *left);
}

#[test]
fn health_checks_that_never_pass_end_at_the_verify_deadline() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(super::fixtures::health_checked_request(3), &mut fleet);
    s.event(EventState::Ready);
    assert_eq!(s.phase(), &Phase::Verify);
    s.fire_wake(WakeKind::Deadline);
    assert!(compensating_reason(&s).contains("health checks did not pass within 15 minutes"));
    s.expect_call(is::stop_deployment);
}
