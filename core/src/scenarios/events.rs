//! CodeDeploy events are best effort (F11): duplicated, reordered, lost, or for another deployment.
//! Stale step and timer messages and stale call results change nothing.

use crate::cloud::{DeploymentEvent, DeploymentStatus, EventState, GreenState};
use crate::effect::{CallResult, Input, WakeKind};
use crate::ids::DeploymentId;
use crate::saga::{FinalizeStage, Outcome, Phase};

use super::fixtures::{Fleet, created, instance, read, request};
use super::harness::is;
use super::walk::{run_to_end, to_await_deployment, to_await_green};

#[test]
fn duplicate_events_are_no_ops() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.event(EventState::Start);
    assert!(s.changed);
    s.event(EventState::Start);
    s.assert_noop();
    s.event(EventState::Ready);
    s.expect_call(is::continue_);
    s.event(EventState::Ready);
    s.assert_noop();
    s.complete(CallResult::Continued(Ok(())));
    s.event(EventState::Success);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot));
    s.event(EventState::Success);
    s.assert_noop();
    assert_eq!(s.issued.iter().filter(|c| is::continue_(c)).count(), 1);
}

#[test]
fn events_out_of_order_still_finish() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.event(EventState::Success);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot));
    s.event(EventState::Ready);
    s.event(EventState::Start);
    assert!(s.noted("event READY for d-ABC123 arrived after the wait; ignored"));
    assert!(s.issued.iter().all(|c| !is::continue_(c)), "a late READY does not continue a finished deployment");
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot));
    fleet.set_green_state(GreenState::Finished);
    run_to_end(&mut s, &mut fleet);
    assert_eq!(s.outcome(), &Outcome::Succeeded);
}

#[test]
fn an_event_for_another_deployment_is_ignored() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    let other = DeploymentId::parse("d-OTHER1").unwrap();
    s.feed(Input::Deployment(DeploymentEvent { deployment_id: other, state: EventState::Failure, instance: None }));
    s.assert_noop();
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
}

#[test]
fn an_event_before_the_deployment_id_is_known_is_ignored() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    fleet.launch_green(2, true);
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::CreateDeployment);
    let id = super::fixtures::deployment_id();
    s.feed(Input::Deployment(DeploymentEvent { deployment_id: id, state: EventState::Start, instance: None }));
    s.assert_noop();
    s.complete(created());
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
}

#[test]
fn a_lost_success_event_is_covered_by_the_reconcile_poll() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.fire_wake(WakeKind::Poll);
    s.expect_call(is::get);
    s.complete(read(DeploymentStatus::Ready));
    s.complete(CallResult::Continued(Ok(())));
    s.fire_wake(WakeKind::Poll).complete(read(DeploymentStatus::InProgress));
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
    s.fire_wake(WakeKind::Poll).complete(read(DeploymentStatus::Succeeded));
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot));
    assert!(s.noted("deployment d-ABC123 is Succeeded"));
}

#[test]
fn instance_events_are_counted_once() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    let event = |i: &str| {
        Input::Deployment(DeploymentEvent {
            deployment_id: super::fixtures::deployment_id(),
            state: EventState::Ready,
            instance: Some(instance(i)),
        })
    };
    s.feed(event("i-green1"));
    assert!(s.changed);
    s.feed(event("i-green1"));
    s.assert_noop();
    s.feed(event("i-green2"));
    assert_eq!(s.saga.facts.instances_done, [instance("i-green1"), instance("i-green2")]);
    assert_eq!(s.phase(), &Phase::AwaitDeployment, "instance events never move the saga");
}

#[test]
fn stale_wakes_are_no_ops() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    let old = s.armed_wake(WakeKind::Poll).unwrap().clone();
    // The poll fires and is re-armed; the old message delivered again is superseded.
    s.fire_wake(WakeKind::Poll);
    s.feed(Input::Wake { fence: old.fence, kind: WakeKind::Poll, seq: old.seq });
    s.assert_noop();
    // A wake of an earlier step (old fence) changes nothing, whatever its kind.
    s.feed(Input::Wake { fence: old.fence - 1, kind: WakeKind::Step, seq: s.saga.next_wake.unwrap() });
    s.assert_noop();
    s.feed(Input::Wake { fence: old.fence - 1, kind: WakeKind::Deadline, seq: 0 });
    s.assert_noop();
    // The right fence with a wrong sequence number too.
    s.feed(Input::Wake { fence: s.saga.fence, kind: WakeKind::Poll, seq: s.saga.next_wake.unwrap() + 1 });
    s.assert_noop();
    assert_eq!(s.phase(), &Phase::AwaitGreen);
}

#[test]
fn a_result_with_a_stale_fence_is_ignored() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    let fence = s.saga.fence;
    // The answer to CreateDeployment, delivered again after the saga moved on.
    s.feed(Input::Completed { fence: fence - 1, result: created() });
    s.assert_noop();
    s.feed(Input::Completed { fence: fence - 1, result: fleet.inspected() });
    s.assert_noop();
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
}

#[test]
fn an_event_racing_the_reconcile_poll_continues_once() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.fire_wake(WakeKind::Poll);
    s.event(EventState::Ready);
    // Both the poll's read and ContinueDeployment are in flight; Continue answers first.
    s.complete_where(is::continue_, CallResult::Continued(Ok(())));
    s.complete(read(DeploymentStatus::Ready));
    s.expect_no_call();
    assert_eq!(s.issued.iter().filter(|c| is::continue_(c)).count(), 1);
}
