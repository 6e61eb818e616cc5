//! Following the real services through failure (issue "Follow the real services through failure"):
//! an event is a hint that GetDeployment confirms, and a stop that may have moved traffic is rolled
//! back by CodeDeploy with a new deployment that greenfleet follows to its end before removing green.

use crate::cloud::{DeploymentStatus, EventState, ReadyAction};
use crate::effect::{CallResult, Command, WakeKind};
use crate::saga::{Compensation, FinalizeStage, Outcome, Phase};

use super::fixtures::{Fleet, deployment_id, read, read_failed, read_rollback, read_rolled_back, request};
use super::harness::is;
use super::walk::{run_to_end, to_await_deployment};

#[test]
fn a_success_event_for_a_deployment_codedeploy_reports_failed_compensates() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.event_unconfirmed(EventState::Success);
    assert_eq!(s.phase(), &Phase::AwaitDeployment, "an event alone decides nothing");
    assert_eq!(s.expect_call(is::get), Command::GetDeployment(deployment_id()));
    s.complete(read_failed("HOOK_EXECUTION_FAILURE", "ApplicationStart failed"));
    let Phase::Compensating { reason, .. } = s.phase() else { panic!("{}", s.phase().name()) };
    assert!(reason.contains("Failed: HOOK_EXECUTION_FAILURE"), "{reason}");
    run_to_end(&mut s, &mut fleet);
    assert!(matches!(s.outcome(), Outcome::RolledBack { .. }), "{:?}", s.outcome());
}

#[test]
fn a_ready_event_codedeploy_does_not_confirm_continues_nothing() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.event_unconfirmed(EventState::Ready);
    s.complete(read(DeploymentStatus::InProgress));
    assert!(!s.issued.iter().any(is::continue_), "continued on an unconfirmed READY");
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
    // The reconcile poll sees Ready later and continues then.
    s.fire_wake(WakeKind::Poll).complete(read(DeploymentStatus::Ready));
    s.expect_call(is::continue_);
}

/// A rollout whose deployment group reroutes at once (CONTINUE_DEPLOYMENT): traffic may have moved.
fn rerouting_fleet() -> Fleet {
    let mut fleet = Fleet::healthy();
    fleet.dg_mut().ready_action = Some(ReadyAction::ContinueDeployment);
    fleet
}

#[test]
fn a_stop_after_traffic_may_have_moved_follows_codedeploys_rollback_before_removing_green() {
    let mut fleet = rerouting_fleet();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.cancel();
    assert_eq!(s.expect_call(is::stop_deployment), Command::StopDeployment(deployment_id()), "with rollback");
    s.complete(CallResult::DeploymentStopped(Ok(())));
    s.complete(read_rolled_back("d-RB0000001"));
    assert!(s.noted("CodeDeploy rolls it back with deployment d-RB0000001"), "{:?}", s.saga.history);
    assert_eq!(s.remaining()[0], Compensation::StopDeployment, "green stays while the rollback runs");
    s.fire_wake(WakeKind::Step);
    let Command::GetDeployment(id) = s.expect_call(is::get) else { unreachable!() };
    assert_eq!(id.as_str(), "d-RB0000001");
    s.complete(read_rollback("d-RB0000001", DeploymentStatus::InProgress));
    s.fire_wake(WakeKind::Step).complete(read_rollback("d-RB0000001", DeploymentStatus::Succeeded));
    assert!(s.noted("rollback deployment d-RB0000001 Succeeded: traffic is back on blue"));
    assert_eq!(s.remaining()[0], Compensation::StopGreen);
    run_to_end(&mut s, &mut fleet);
    assert!(matches!(s.outcome(), Outcome::RolledBack { .. }), "{:?}", s.outcome());
}

#[test]
fn a_rollback_that_fails_keeps_green_and_needs_attention() {
    let mut fleet = rerouting_fleet();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.cancel();
    s.complete(CallResult::DeploymentStopped(Ok(())));
    s.complete(read_rolled_back("d-RB0000001"));
    s.fire_wake(WakeKind::Step).complete(read_rollback("d-RB0000001", DeploymentStatus::Failed));
    run_to_end(&mut s, &mut fleet);
    let Outcome::NeedsAttention { left, .. } = s.outcome() else { panic!("{:?}", s.outcome()) };
    let all = left.join("\n");
    assert!(all.contains("rollback deployment d-RB0000001 ended Failed: traffic may still reach green"), "{all}");
    assert!(all.contains("once traffic is confirmed on blue"), "{all}");
    assert!(!s.issued.iter().any(is::detach), "green was removed while it may hold traffic");
    assert!(s.issued.iter().any(is::release));
}

#[test]
fn a_deployment_that_succeeded_before_the_stop_reached_it_is_finalized_not_removed() {
    let mut fleet = rerouting_fleet();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.cancel();
    s.complete(CallResult::DeploymentStopped(Err(crate::ports::RemoteError::Rejected {
        code: "DeploymentAlreadyCompletedException".into(),
        message: "already completed".into(),
    })));
    s.complete(read(DeploymentStatus::Succeeded));
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot));
    assert!(s.noted("Succeeded before it could be stopped: green serves traffic; finalizing instead"));
    fleet.set_green_state(crate::cloud::GreenState::Finished);
    run_to_end(&mut s, &mut fleet);
    assert_eq!(s.outcome(), &Outcome::Succeeded);
    assert!(!s.issued.iter().any(|c| matches!(c, Command::StopGreen { .. })), "green was not undone");
}

#[test]
fn a_rollback_still_running_at_the_deadline_keeps_green() {
    let mut fleet = rerouting_fleet();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.cancel();
    s.complete(CallResult::DeploymentStopped(Ok(())));
    s.complete(read_rolled_back("d-RB0000001"));
    s.fire_wake(WakeKind::Step).complete(read_rollback("d-RB0000001", DeploymentStatus::InProgress));
    s.fire_wake(WakeKind::Deadline);
    run_to_end(&mut s, &mut fleet);
    let Outcome::NeedsAttention { left, .. } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert!(left.join("\n").contains("rollback deployment d-RB0000001 did not end within 10 minutes"), "{left:?}");
    assert!(!s.issued.iter().any(is::detach), "green was removed while the rollback may still move traffic");
}

#[test]
fn a_deployment_that_will_not_stop_after_traffic_may_have_moved_keeps_green() {
    let mut fleet = rerouting_fleet();
    let mut s = to_await_deployment(request(), &mut fleet);
    s.cancel();
    s.complete(CallResult::DeploymentStopped(Ok(())));
    // CodeDeploy keeps answering InProgress, poll after poll.
    while s.remaining().first() == Some(&Compensation::StopDeployment) {
        match s.outstanding() {
            Some(Command::GetDeployment(_)) => {
                s.complete(read(DeploymentStatus::InProgress));
            }
            _ => {
                s.fire_wake(WakeKind::Step);
            }
        }
    }
    run_to_end(&mut s, &mut fleet);
    let Outcome::NeedsAttention { left, .. } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert!(left.join("\n").contains("traffic may have moved to green"), "{left:?}");
    assert!(!s.issued.iter().any(is::detach));
}
