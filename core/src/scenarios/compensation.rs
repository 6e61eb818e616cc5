//! Compensation after CodeDeploy fails (F7): stop the deployment, stop Spot's Blue/Green, remove green,
//! restore capacity, release the leases — each verified by reading back.

use crate::cloud::{DeploymentStatus, EventState, GreenState};
use crate::effect::{CallResult, Command, WakeKind};
use crate::event::LifecycleKind;
use crate::machine::{MAX_ATTEMPTS, STOP_POLLS};
use crate::saga::{Compensation, Outcome, Phase};

use super::fixtures::{
    Fleet, capacity, deployment_id, green_deployment_id, instance, read, read_failed, rejected, request, unavailable,
};
use super::harness::is;
use super::walk::{run_to_end, to_await_deployment, to_await_green};

fn all_steps() -> Vec<Compensation> {
    vec![
        Compensation::StopDeployment,
        Compensation::StopGreen,
        Compensation::RemoveGreen,
        Compensation::RestoreCapacity,
        Compensation::ReleaseLeases,
    ]
}

#[test]
fn codedeploy_failure_is_compensated_step_by_step() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.event(EventState::Start);

    // FAILURE: read why, then compensate with CodeDeploy's own error.
    s.event(EventState::Failure);
    assert_eq!(s.expect_call(is::get), Command::GetDeployment(deployment_id()));
    s.complete(read_failed("HEALTH_CONSTRAINTS", "too many instances failed"));
    assert_eq!(s.remaining(), all_steps());
    assert_eq!(s.saga.facts.deployment_error.as_deref(), Some("HEALTH_CONSTRAINTS: too many instances failed"));

    // StopDeployment, then poll until it is terminal. The group waits at READY and was never
    // continued: no traffic moved, so no rollback is asked for.
    assert_eq!(s.expect_call(is::stop_deployment), Command::StopWithoutRollback(deployment_id()));
    s.complete(CallResult::DeploymentStopped(Ok(())));
    s.complete(read(DeploymentStatus::InProgress));
    s.expect_no_call();
    s.fire_wake(WakeKind::Step).complete(read(DeploymentStatus::Stopped));

    // StopGreen.
    assert_eq!(s.remaining()[0], Compensation::StopGreen);
    s.apply(&mut fleet, is::stop_green);
    assert_eq!(fleet.green.as_ref().unwrap().state, GreenState::Stopped);

    // RemoveGreen: read, detach the green instances, read back none.
    assert_eq!(s.remaining()[0], Compensation::RemoveGreen);
    s.apply(&mut fleet, is::inspect);
    let Command::Detach { instances, .. } = s.expect_call(is::detach) else { unreachable!() };
    assert_eq!(instances, [instance("i-green1"), instance("i-green2")]);
    s.apply(&mut fleet, is::detach).apply(&mut fleet, is::inspect);

    // RestoreCapacity: Spot had raised it to [Target 4, Min 1, Max 4]; set the snapshot, read back.
    assert_eq!(s.remaining()[0], Compensation::RestoreCapacity);
    s.apply(&mut fleet, is::inspect);
    let Command::SetCapacity { capacity: set, .. } = s.expect_call(is::set_capacity) else { unreachable!() };
    assert_eq!(set, capacity(2, 1, 2));
    s.apply(&mut fleet, is::set_capacity).apply(&mut fleet, is::inspect);

    // ReleaseLeases → RolledBack.
    assert_eq!(s.remaining(), [Compensation::ReleaseLeases]);
    s.complete(CallResult::LeasesReleased(Ok(())));
    let Outcome::RolledBack { reason } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert!(reason.contains("CodeDeploy deployment d-ABC123 Failed: HEALTH_CONSTRAINTS"), "{reason}");
    assert!(s.saga.facts.leases.is_empty());
    assert_eq!(s.published_kinds(), [LifecycleKind::Accepted, LifecycleKind::Started, LifecycleKind::RolledBack]);
    assert_eq!(s.published.last().unwrap().reason.as_deref(), Some(reason.as_str()));
    assert_eq!(fleet.ids("i-"), [instance("i-blue1"), instance("i-blue2")]);
    assert_eq!(fleet.group.capacity, capacity(2, 1, 2));
}

#[test]
fn stopping_an_already_finished_deployment_is_not_an_error() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.cancel();
    s.complete(CallResult::DeploymentStopped(Err(rejected("DeploymentAlreadyCompletedException"))));
    s.complete(read(DeploymentStatus::Failed));
    assert_eq!(s.remaining()[0], Compensation::StopGreen);
}

#[test]
fn a_deployment_that_will_not_stop_is_left_behind_after_its_polls() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.cancel();
    s.complete(CallResult::DeploymentStopped(Ok(())));
    for _ in 1..STOP_POLLS {
        s.complete(read(DeploymentStatus::InProgress)).fire_wake(WakeKind::Step);
    }
    s.complete(read(DeploymentStatus::InProgress));
    assert_eq!(s.remaining()[0], Compensation::StopGreen);
    assert!(s.noted("deployment d-ABC123 still InProgress; moving on"));
}

#[test]
fn spot_failing_its_blue_green_compensates_and_removes_untagged_green_too() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    // One green made it; another runs without its tags (F5); then Spot gives up.
    fleet.launch_green(1, true);
    fleet.launch_green(1, false);
    fleet.set_green_state(GreenState::Failed);
    s.apply(&mut fleet, is::inspect);
    assert!(matches!(s.phase(), Phase::Compensating { reason, .. } if reason.contains("cdbg-42 ended FAILED")));
    assert_eq!(s.remaining()[0], Compensation::StopGreen, "no CodeDeploy deployment to stop");
    run_to_end(&mut s, &mut fleet);
    assert!(matches!(s.outcome(), Outcome::RolledBack { .. }));
    assert_eq!(fleet.ids("i-"), [instance("i-blue1"), instance("i-blue2")], "both green gone, tagged or not");
    assert_eq!(fleet.group.capacity, capacity(2, 1, 2));
}

#[test]
fn compensation_ignores_a_late_event_and_a_second_cancel() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.cancel();
    let before = s.saga.phase.clone();
    s.event(EventState::Stop);
    assert!(s.noted("event STOP for d-ABC123 arrived after the wait; ignored"));
    s.cancel();
    assert!(s.noted("already compensating"));
    assert_eq!(s.phase(), &before);
    s.expect_call(is::stop_deployment);
}

/// Regression: when Spot started the Blue/Green deployment but its answer never arrived (every retry
/// lost, or a cancel while the call was in flight), compensation skipped StopGreen and Spot went on
/// launching green and raising capacity after the rollout said RolledBack (F7).
#[test]
fn a_blue_green_started_without_an_answer_is_found_by_its_tags_and_stopped() {
    let mut fleet = Fleet::healthy();
    let mut s = super::walk::to_start_green(request(), &mut fleet);
    let start = s.expect_call(is::start_green);
    let _ = fleet.apply(&start); // Spot started it; the answer is lost.
    for _ in 1..MAX_ATTEMPTS {
        s.complete(CallResult::GreenStarted(Err(unavailable()))).fire_wake(WakeKind::Step);
    }
    s.complete(CallResult::GreenStarted(Err(unavailable())));
    assert_eq!(s.remaining()[0], Compensation::StopGreen);
    s.apply(&mut fleet, is::inspect);
    let Command::StopGreen { id, .. } = s.expect_call(is::stop_green) else { unreachable!() };
    assert_eq!(id, green_deployment_id());
    fleet.launch_green(1, false);
    run_to_end(&mut s, &mut fleet);
    assert!(matches!(s.outcome(), Outcome::RolledBack { .. }));
    assert_eq!(fleet.green.as_ref().unwrap().state, GreenState::Stopped);
    assert_eq!(fleet.group.capacity, capacity(2, 1, 2));
    assert_eq!(fleet.ids("i-"), [instance("i-blue1"), instance("i-blue2")]);
}

#[test]
fn cancel_while_starting_green_stops_what_spot_started() {
    let mut fleet = Fleet::healthy();
    let mut s = super::walk::to_start_green(request(), &mut fleet);
    let start = s.expect_call(is::start_green);
    let late = fleet.apply(&start);
    let fence = s.saga.fence;
    s.cancel();
    // Spot's answer arrives after the cancel, for a step the saga has left.
    s.feed(crate::effect::Input::Completed { fence, result: late });
    s.assert_noop();
    s.apply(&mut fleet, is::inspect).apply(&mut fleet, is::stop_green);
    run_to_end(&mut s, &mut fleet);
    assert_eq!(fleet.green.as_ref().unwrap().state, GreenState::Stopped);
}

#[test]
fn nothing_to_stop_when_spot_refused_to_start() {
    let mut fleet = Fleet::healthy();
    let mut s = super::walk::to_start_green(request(), &mut fleet);
    // Another rollout's finished deployment is the group's latest: not ours to stop.
    fleet.green = Some(crate::cloud::GreenDeployment {
        id: crate::ids::GreenDeploymentId::parse("cdbg-old").unwrap(),
        state: GreenState::Finished,
        tags: vec![super::fixtures::tag("greenfleet:rollout", "rel-41")],
    });
    s.complete(CallResult::GreenStarted(Err(rejected("GROUP_NOT_READY"))));
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.remaining()[0], Compensation::RemoveGreen);
    assert!(s.noted("Spot started no Blue/Green deployment for this rollout"));
    run_to_end(&mut s, &mut fleet);
    assert!(s.side_effects().iter().all(|c| !is::stop_green(c)));
}
