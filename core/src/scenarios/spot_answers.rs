//! What Spot and CodeDeploy answer when things are not as documented (issue 10): a refused Blue/Green
//! stop proves nothing until the deployment is read back, a Blue/Green state greenfleet does not know
//! is waited on (and named once), and the lookup for a deployment whose create answer was lost is
//! bounded by the rollout's own clock with a margin.

use crate::cloud::{DeploymentStatus, GreenState};
use crate::effect::{CallResult, Command, WakeKind};
use crate::ids::Timestamp;
use crate::machine::{FIND_MARGIN_MS, MAX_ATTEMPTS};
use crate::ports::RemoteError;
use crate::saga::{Compensation, FinalizeStage, Outcome, Phase};

use super::fixtures::{Fleet, read, rejected, request, unavailable};
use super::harness::{Scenario, is};
use super::walk::{run_to_end, to_await_deployment, to_await_green, to_finalize};

/// Cancelled while CodeDeploy runs; the deployment stopped: StopGreen's stop is outstanding.
fn at_stop_green(fleet: &mut Fleet) -> Scenario {
    let mut s = to_await_deployment(request(), fleet);
    s.cancel();
    s.complete(CallResult::DeploymentStopped(Ok(())));
    s.complete(read(DeploymentStatus::Stopped));
    assert_eq!(s.remaining()[0], Compensation::StopGreen);
    s.expect_call(is::stop_green);
    s
}

fn group_missing() -> RemoteError {
    RemoteError::NotFound("Spot: GROUP_DOESNT_EXIST (Spot request id 7f3c)".into())
}

/// Regression: a 400 to the stop (a bad request, the wrong account) was taken for "stopped", so Spot's
/// Blue/Green went on running while the rollout ended RolledBack.
#[test]
fn a_refused_stop_is_read_back_and_left_for_a_person_while_the_deployment_runs() {
    let mut fleet = Fleet::healthy();
    let mut s = at_stop_green(&mut fleet);
    for attempt in 1..=MAX_ATTEMPTS {
        s.complete(CallResult::GreenStopped(Err(rejected("HTTP_400"))));
        assert!(s.noted("Spot refused to stop Blue/Green deployment cdbg-42 (HTTP_400: refused); reading it back"));
        s.apply(&mut fleet, is::inspect);
        if attempt < MAX_ATTEMPTS {
            assert_eq!(s.remaining()[0], Compensation::StopGreen, "attempt {attempt}");
            s.fire_wake(WakeKind::Step);
        }
    }
    assert_eq!(s.remaining()[0], Compensation::RemoveGreen, "the rest of compensation still runs");
    run_to_end(&mut s, &mut fleet);
    let Outcome::NeedsAttention { left, .. } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("stop Spot Blue/Green deployment cdbg-42 of sig-1234abcd"), "{}", left[0]);
    assert!(left[0].contains("cdbg-42 is still STARTING after Spot refused to stop it"), "{}", left[0]);
    assert_eq!(fleet.green.as_ref().unwrap().state, GreenState::Starting);
}

#[test]
fn a_refused_stop_of_a_deployment_that_already_ended_moves_on() {
    let mut fleet = Fleet::healthy();
    let mut s = at_stop_green(&mut fleet);
    fleet.set_green_state(GreenState::Failed);
    s.complete(CallResult::GreenStopped(Err(rejected("BG_DEPLOYMENT_ALREADY_ENDED"))));
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.remaining()[0], Compensation::RemoveGreen);
    assert!(s.noted("Spot Blue/Green deployment cdbg-42 is FAILED (read back)"));
    run_to_end(&mut s, &mut fleet);
    assert!(matches!(s.outcome(), Outcome::RolledBack { .. }), "{:?}", s.outcome());
}

#[test]
fn a_read_back_that_lists_no_blue_green_deployment_means_nothing_to_stop() {
    let mut fleet = Fleet::healthy();
    let mut s = at_stop_green(&mut fleet);
    fleet.green = None;
    s.complete(CallResult::GreenStopped(Err(RemoteError::NotFound("Spot answered 404".into()))));
    s.apply(&mut fleet, is::inspect);
    assert!(s.noted("Spot lists no Blue/Green deployment on sig-1234abcd (read back); nothing to stop"));
    assert_eq!(s.remaining()[0], Compensation::RemoveGreen);
}

/// Regression: "the group does not exist" (GROUP_DOESNT_EXIST: deleted, or the wrong account) was taken
/// for "stopped" as well.
#[test]
fn a_missing_group_is_retried_then_left_on_the_needs_attention_list() {
    let mut fleet = Fleet::healthy();
    let mut s = at_stop_green(&mut fleet);
    s.complete(CallResult::GreenStopped(Err(group_missing())));
    for attempt in 1..=MAX_ATTEMPTS {
        s.complete(CallResult::Inspected(Err(group_missing())));
        if attempt < MAX_ATTEMPTS {
            s.fire_wake(WakeKind::Step);
            s.expect_call(is::inspect);
        }
    }
    let Phase::Compensating { left, remaining, .. } = s.phase() else { panic!("{}", s.phase().name()) };
    assert_eq!(remaining[0], Compensation::RemoveGreen);
    assert_eq!(left[0].0, Compensation::StopGreen);
    assert!(left[0].1.contains("GROUP_DOESNT_EXIST") && left[0].1.contains("after 6 attempts"), "{}", left[0].1);
}

#[test]
fn a_stop_that_spot_throttles_is_sent_again() {
    let mut fleet = Fleet::healthy();
    let mut s = at_stop_green(&mut fleet);
    s.complete(CallResult::GreenStopped(Err(unavailable())));
    s.expect_no_call();
    s.fire_wake(WakeKind::Step);
    s.apply(&mut fleet, is::stop_green);
    assert_eq!(s.remaining()[0], Compensation::RemoveGreen);
    assert_eq!(fleet.green.as_ref().unwrap().state, GreenState::Stopped);
}

/// Spot's answers have carried `status: INITIALIZING` instead of a documented `state`.
#[test]
fn an_unknown_blue_green_state_is_named_once_and_waited_on_until_the_deadline() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    fleet.set_green_state(GreenState::parse("initializing"));
    s.apply(&mut fleet, is::inspect);
    for _ in 0..2 {
        s.fire_wake(WakeKind::Poll).apply(&mut fleet, is::inspect);
        assert_eq!(s.phase(), &Phase::AwaitGreen);
    }
    let named: Vec<_> = s.saga.history.iter().filter(|h| h.note.contains("`initializing`")).collect();
    assert_eq!(named.len(), 1, "{:?}", s.saga.history);
    assert!(named[0].note.contains("cdbg-42 reports state `initializing`, which greenfleet does not know"));
    s.fire_wake(WakeKind::Deadline);
    let Phase::Compensating { reason, .. } = s.phase() else { panic!("{}", s.phase().name()) };
    assert!(reason.contains("timeouts.greenReadyMinutes"), "{reason}");
}

#[test]
fn finalize_waits_while_spot_reports_a_state_it_does_not_document() {
    let mut fleet = Fleet::healthy();
    let mut s = to_finalize(request(), &mut fleet);
    fleet.set_green_state(GreenState::parse("DEPLOYING"));
    s.apply(&mut fleet, is::inspect);
    s.fire_wake(WakeKind::Poll).apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot), "not finished: keep waiting");
    assert_eq!(s.saga.history.iter().filter(|h| h.note.contains("`DEPLOYING`")).count(), 1);
    fleet.set_green_state(GreenState::parse(" finished "));
    s.fire_wake(WakeKind::Poll).apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::RemoveBlue));
}

/// The lookup for a deployment whose create answer was lost starts a margin before the snapshot, on
/// every path that looks: the guarded create and compensation's find.
#[test]
fn the_deployment_lookup_starts_before_the_snapshot_with_a_margin_for_clock_skew() {
    let mut fleet = Fleet::healthy();
    let mut s = to_await_green(request(), &mut fleet);
    let started = s.saga.facts.started_at.expect("snapshot taken");
    let after = Timestamp(started.0 - FIND_MARGIN_MS);
    assert_eq!(FIND_MARGIN_MS, 15 * 60_000);
    fleet.launch_green(2, true);
    s.advance(3 * 60_000).apply(&mut fleet, is::inspect);
    let Command::CreateDeployment(spec) = s.expect_call(is::create) else { unreachable!() };
    assert_eq!(spec.created_after, after);
    s.cancel();
    let Command::FindDeployment(spec) = s.expect_call(|c| matches!(c, Command::FindDeployment(_))) else {
        unreachable!()
    };
    assert_eq!(spec.created_after, after, "from the saga's own timestamps, not the time of the lookup");
}
