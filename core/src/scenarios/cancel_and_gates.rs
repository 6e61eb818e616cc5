//! Cancel at each step (compensation undoes exactly what was done), approval at READY, and the
//! health gate.

use crate::cloud::{DeploymentStatus, EventState, GreenState};
use crate::effect::{CallResult, Command, WakeKind};
use crate::event::LifecycleKind;
use crate::ids::InstanceId;
use crate::machine::HEALTH_FAILURES;
use crate::saga::{Compensation, FinalizeStage, Outcome, Phase};

use super::fixtures::{
    Fleet, acquired, capacity, deployment_id, health_checked_request, instance, manual_request, read, request,
};
use super::harness::{Scenario, is};
use super::walk::{run_to_end, to_await_deployment, to_await_green, to_finalize};

#[test]
fn cancel_before_lock_rolls_back_with_nothing_to_undo() {
    let mut s = Scenario::start(request());
    s.cancel();
    let Outcome::RolledBack { reason } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert_eq!(reason, "cancelled by ops: bad build before anything changed");
    assert_eq!(s.published_kinds(), [LifecycleKind::Accepted, LifecycleKind::RolledBack]);
    assert!(s.side_effects().is_empty());
    // The preflight read still in flight comes back to a finished saga.
    s.feed(crate::effect::Input::Completed { fence: 1, result: Fleet::healthy().preflight() });
    s.assert_noop();
}

#[test]
fn cancel_while_taking_the_lease_releases_it() {
    let mut s = Scenario::start(request());
    s.complete(Fleet::healthy().preflight());
    s.cancel();
    assert_eq!(s.remaining(), [Compensation::ReleaseLeases]);
    s.complete(CallResult::LeasesReleased(Ok(())));
    assert!(matches!(s.outcome(), Outcome::RolledBack { .. }));
    assert!(s.side_effects().is_empty());
}

#[test]
fn cancel_at_snapshot_only_releases_the_lease() {
    let mut s = Scenario::start(request());
    s.complete(Fleet::healthy().preflight()).complete(acquired());
    s.cancel();
    assert_eq!(s.remaining(), [Compensation::ReleaseLeases]);
}

#[test]
fn cancel_while_green_launches_stops_spot_and_removes_green() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    fleet.launch_green(2, false);
    s.cancel();
    assert_eq!(
        s.remaining(),
        [
            Compensation::StopGreen,
            Compensation::RemoveGreen,
            Compensation::RestoreCapacity,
            Compensation::ReleaseLeases
        ]
    );
    assert!(s.issued.iter().all(|c| !is::stop_deployment(c)));
    run_to_end(&mut s, &mut fleet);
    assert_eq!(s.reason(), "cancelled by ops: bad build");
    assert_eq!(s.saga.facts.cancelled.as_deref(), Some("cancelled by ops: bad build"));
    assert_eq!(fleet.green.as_ref().unwrap().state, GreenState::Stopped);
    assert_eq!(fleet.ids("i-"), [instance("i-blue1"), instance("i-blue2")]);
    assert_eq!(fleet.group.capacity, capacity(2, 1, 2));
}

#[test]
fn cancel_while_deploying_stops_the_deployment_first() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    let mark = s.issued.len();
    s.cancel();
    assert_eq!(s.remaining()[..2], [Compensation::StopDeployment, Compensation::StopGreen]);
    run_to_end(&mut s, &mut fleet);
    let order: Vec<&str> = s.issued[mark..]
        .iter()
        .map(|c| match c {
            Command::StopDeployment(_) | Command::StopWithoutRollback(_) => "StopDeployment",
            Command::GetDeployment(_) => "GetDeployment",
            Command::StopGreen { .. } => "StopGreen",
            Command::Inspect { .. } => "Inspect",
            Command::Detach { .. } => "Detach",
            Command::SetCapacity { .. } => "SetCapacity",
            Command::ReleaseLeases { .. } => "ReleaseLeases",
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        order,
        [
            "StopDeployment",
            "GetDeployment",
            "StopGreen",
            "Inspect",
            "Detach",
            "Inspect",
            "Inspect",
            "SetCapacity",
            "Inspect",
            "ReleaseLeases"
        ]
    );
    assert_eq!(s.outcome(), &Outcome::RolledBack { reason: "cancelled by ops: bad build".into() });
}

#[test]
fn cancel_during_finalize_is_ignored_with_a_note() {
    let mut fleet = Fleet::healthy();
    let mut s = to_finalize(request(), &mut fleet);
    s.cancel();
    assert!(s.changed);
    assert!(s.noted("ignored: the deployment already succeeded and green serves traffic"));
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot));
    assert!(s.saga.facts.cancelled.is_none());
    fleet.set_green_state(GreenState::Finished);
    run_to_end(&mut s, &mut fleet);
    assert_eq!(s.outcome(), &Outcome::Succeeded);
}

#[test]
fn manual_approval_at_ready_continues_the_deployment() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(manual_request(), &mut fleet);
    s.event(EventState::Ready);
    assert_eq!(s.phase(), &Phase::AwaitApproval);
    assert!(s.saga.waiting_for().contains("greenfleet approve rel-42"));
    // The approval phase keeps reconciling; READY again does not continue anything.
    s.complete(read(DeploymentStatus::Ready));
    s.expect_no_call();
    s.approve();
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
    assert_eq!(s.saga.facts.approved_by.as_deref(), Some("alice"));
    s.complete(read(DeploymentStatus::Ready));
    assert_eq!(s.expect_call(is::continue_), Command::ContinueDeployment(deployment_id()));
    s.complete(CallResult::Continued(Ok(())));
    s.event(EventState::Success);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot));
}

#[test]
fn approval_given_in_advance_continues_at_ready_without_waiting() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(manual_request(), &mut fleet);
    s.approve();
    assert!(s.noted("approved in advance by alice"));
    assert_eq!(s.phase(), &Phase::AwaitGreen);
    s.approve();
    s.assert_noop();
    fleet.launch_green(2, true);
    s.apply(&mut fleet, is::inspect);
    s.complete(super::fixtures::created()).complete(read(DeploymentStatus::InProgress));
    s.event(EventState::Ready);
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
    s.expect_call(is::continue_);
}

fn healthy_round(ids: &[InstanceId]) -> CallResult {
    CallResult::Health(Ok(ids.iter().map(|i| (i.clone(), Ok(()))).collect()))
}

#[test]
fn health_rounds_pass_then_the_deployment_continues() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(health_checked_request(2), &mut fleet);
    s.event(EventState::Ready);
    assert_eq!(s.phase(), &Phase::Verify);
    let Command::CheckHealth { instances, url_template, .. } = s.expect_call(is::check_health) else { unreachable!() };
    assert_eq!(instances, s.saga.facts.green);
    assert_eq!(url_template, "http://{ip}:8080/health");
    s.complete(healthy_round(&instances));
    assert_eq!(s.saga.facts.health_streak, (1, 0));
    assert_eq!(s.armed_wake(WakeKind::Poll).unwrap().due.since(s.saga.phase_since), 10_000);
    s.fire_wake(WakeKind::Poll).complete(healthy_round(&instances));
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
    assert!(s.noted("health checks passed"));
    s.complete(read(DeploymentStatus::Ready));
    s.expect_call(is::continue_);
}

#[test]
fn three_failed_health_rounds_compensate() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(health_checked_request(2), &mut fleet);
    s.event(EventState::Ready);
    let sick =
        || CallResult::Health(Ok(vec![(instance("i-green1"), Ok(())), (instance("i-green2"), Err("HTTP 503".into()))]));
    s.complete(sick());
    s.fire_wake(WakeKind::Poll).complete(sick());
    assert_eq!(s.phase(), &Phase::Verify);
    s.fire_wake(WakeKind::Poll).complete(sick());
    let Phase::Compensating { reason, remaining, .. } = s.phase() else { panic!("{}", s.phase().name()) };
    assert!(reason.contains("green failed its health checks: i-green2: HTTP 503"), "{reason}");
    assert_eq!(remaining[0], Compensation::StopDeployment);
    assert!(s.issued.iter().all(|c| !is::continue_(c)), "traffic never moved to green");
}

/// Regression: Verify's deadline was a fixed 15 minutes, shorter than the rounds a valid health check
/// asks for (here 4 rounds 5 minutes apart), so a healthy green fleet was rolled back.
#[test]
fn slow_health_rounds_get_the_time_they_need() {
    let mut fleet = Fleet::healthy();
    let mut request = health_checked_request(4);
    request.health_check.as_mut().unwrap().interval_seconds = 300;
    let mut s = to_await_deployment(request, &mut fleet);
    s.event(EventState::Ready);
    let green = s.saga.facts.green.clone();
    s.complete(healthy_round(&green));
    for _ in 0..3 {
        s.fire_wake(WakeKind::Poll).advance(5_000).complete(healthy_round(&green));
    }
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
}

#[test]
fn a_health_round_that_cannot_read_the_group_does_not_count_against_green() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(health_checked_request(1), &mut fleet);
    s.event(EventState::Ready);
    for _ in 0..HEALTH_FAILURES + 1 {
        s.complete(CallResult::Health(Err(super::fixtures::unavailable())));
        assert_eq!(s.saga.facts.health_streak, (0, 0), "Spot throttling says nothing of green's health");
        s.fire_wake(WakeKind::Poll);
    }
    assert_eq!(s.phase(), &Phase::Verify);
    assert!(s.noted("health round not run"));
    let Command::CheckHealth { instances, .. } = s.expect_call(is::check_health) else { unreachable!() };
    s.complete(healthy_round(&instances));
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
}
