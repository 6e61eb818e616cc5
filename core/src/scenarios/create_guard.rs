//! CreateDeployment takes no idempotency token (F11): greenfleet describes its deployment as
//! `greenfleet rollout <id>` and repeats the very same request after a lost response, so the
//! executor's find-then-create adopts the first deployment instead of creating a second.

use crate::cloud::DeploymentStatus;
use crate::effect::{CallResult, Command, WakeKind};
use crate::saga::{Compensation, Phase};

use super::fixtures::{Fleet, created, deployment_id, read, rejected, request, unavailable};
use super::harness::{Scenario, is};
use super::walk::to_await_green;

fn at_create(fleet: &mut Fleet) -> Scenario {
    let mut s = to_await_green(request(), fleet);
    fleet.launch_green(2, true);
    s.apply(fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::CreateDeployment);
    s
}

#[test]
fn a_retry_after_a_lost_response_repeats_the_exact_same_request() {
    let mut fleet = Fleet::healthy();
    let mut s = at_create(&mut fleet);
    let Command::CreateDeployment(first) = s.expect_call(is::create) else { unreachable!() };
    assert_eq!(first.description, "greenfleet rollout rel-42");

    s.complete(CallResult::DeploymentCreated(Err(unavailable())));
    assert_eq!(s.phase(), &Phase::CreateDeployment);
    assert!(s.saga.facts.deployment_id.is_none());
    s.fire_wake(WakeKind::Step);
    let Command::CreateDeployment(again) = s.expect_call(is::create) else { unreachable!() };
    assert_eq!(again, first);

    s.complete(created()).complete(read(DeploymentStatus::InProgress));
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
    assert_eq!(s.saga.facts.deployment_id, Some(deployment_id()));
    assert_eq!(s.issued.iter().filter(|c| is::create(c)).count(), 2);
}

#[test]
fn a_refused_create_compensates_without_a_deployment_to_stop() {
    let mut fleet = Fleet::healthy();
    let mut s = at_create(&mut fleet);
    s.complete(CallResult::DeploymentCreated(Err(rejected("DeploymentLimitExceededException"))));
    let Phase::Compensating { reason, remaining, .. } = s.phase() else { panic!("{}", s.phase().name()) };
    assert!(reason.contains("CodeDeploy did not create the deployment: DeploymentLimitExceededException"), "{reason}");
    assert_eq!(remaining[..2], [Compensation::StopDeployment, Compensation::StopGreen]);
    // The create was sent, so compensation first makes sure no deployment exists, without creating one.
    s.complete(CallResult::DeploymentFound(Ok(None)));
    let Phase::Compensating { remaining, .. } = s.phase() else { panic!("{}", s.phase().name()) };
    assert_eq!(remaining[0], Compensation::StopGreen);
    assert!(!s.issued.iter().any(|c| matches!(c, Command::StopDeployment(_) | Command::StopWithoutRollback(_))));
}

#[test]
fn a_deployment_whose_every_answer_was_lost_is_found_and_stopped() {
    let mut fleet = Fleet::healthy();
    let mut s = at_create(&mut fleet);
    for _ in 1..crate::machine::MAX_ATTEMPTS {
        s.complete(CallResult::DeploymentCreated(Err(unavailable())));
        s.fire_wake(WakeKind::Step);
    }
    s.complete(CallResult::DeploymentCreated(Err(unavailable())));
    let Phase::Compensating { remaining, .. } = s.phase() else { panic!("{}", s.phase().name()) };
    assert_eq!(remaining[0], Compensation::StopDeployment);
    let Command::FindDeployment(spec) = s.expect_call(|c| matches!(c, Command::FindDeployment(_))) else {
        unreachable!()
    };
    assert_eq!(spec.description, "greenfleet rollout rel-42");
    s.complete(CallResult::DeploymentFound(Ok(Some(deployment_id()))));
    assert_eq!(s.saga.facts.deployment_id, Some(deployment_id()));
    s.expect_call(|c| c == &Command::StopWithoutRollback(deployment_id()));
}
