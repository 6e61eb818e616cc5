//! Shortcuts that walk a rollout to the step a scenario is about, every call answered as a healthy
//! cloud would, and a driver that answers compensation's calls until the saga is done.

use crate::cloud::DeploymentStatus;
use crate::effect::{CallResult, Command, WakeKind};
use crate::request::RolloutRequest;
use crate::saga::{FinalizeStage, Phase};

use super::fixtures::{Fleet, acquired, created, read};
use super::harness::{Scenario, is};

/// Preflight passed, leases taken, snapshot recorded: Spot's Blue/Green start is outstanding.
pub(super) fn to_start_green(request: RolloutRequest, fleet: &mut Fleet) -> Scenario {
    let mut s = Scenario::start(request);
    s.complete(fleet.preflight());
    s.complete(acquired());
    s.apply(fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::StartGreen);
    s
}

/// Spot's Blue/Green started: waiting for green.
pub(super) fn to_await_green(request: RolloutRequest, fleet: &mut Fleet) -> Scenario {
    let mut s = to_start_green(request, fleet);
    s.apply(fleet, is::start_green);
    assert_eq!(s.phase(), &Phase::AwaitGreen);
    s
}

/// Green running and tagged, the deployment created and read as InProgress: waiting for CodeDeploy.
pub(super) fn to_await_deployment(request: RolloutRequest, fleet: &mut Fleet) -> Scenario {
    let mut s = to_await_green(request, fleet);
    fleet.launch_green(s.saga.facts.blue.len(), true);
    s.apply(fleet, is::inspect);
    s.complete(created());
    s.complete(read(DeploymentStatus::InProgress));
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
    s
}

/// The deployment reached READY, was continued and succeeded: finalizing, waiting for Spot.
pub(super) fn to_finalize(request: RolloutRequest, fleet: &mut Fleet) -> Scenario {
    let mut s = to_await_deployment(request, fleet);
    s.event(crate::cloud::EventState::Ready);
    s.complete(CallResult::Continued(Ok(())));
    s.event(crate::cloud::EventState::Success);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot));
    s
}

/// Answers every call as a cooperative cloud would (deployments stop at once, Spot commands run on
/// `fleet`), firing retry wake-ups when nothing is outstanding, until the saga is done.
pub(super) fn run_to_end(s: &mut Scenario, fleet: &mut Fleet) {
    for _ in 0..200 {
        if s.phase().is_done() {
            return;
        }
        match s.outstanding() {
            Some(command) => {
                let result = match &command {
                    Command::StopDeployment(_) | Command::StopWithoutRollback(_) => {
                        CallResult::DeploymentStopped(Ok(()))
                    }
                    Command::GetDeployment(_) => read(DeploymentStatus::Stopped),
                    Command::ReleaseLeases { .. } => CallResult::LeasesReleased(Ok(())),
                    spot => fleet.apply(spot),
                };
                s.complete(result);
            }
            None if s.armed_wake(WakeKind::Step).is_some() => {
                s.fire_wake(WakeKind::Step);
            }
            None => {
                s.fire_wake(WakeKind::Poll);
            }
        }
    }
    panic!("still not done: {}", s.phase().name());
}
