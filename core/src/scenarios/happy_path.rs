//! A rollout that goes right, every forward step asserted.

use crate::cloud::{DeploymentStatus, EventState, GreenState};
use crate::effect::{CallResult, Command, Effect, WakeKind};
use crate::event::LifecycleKind;
use crate::machine::{DEPLOYMENT_POLL_MS, GREEN_POLL_MS};
use crate::saga::{FinalizeStage, Outcome, Phase};

use super::fixtures::{
    Fleet, acquired, capacity, created, deployment_id, dg_ref, green_deployment_id, instance, lease_keys, read,
    request, tag,
};
use super::harness::{MINUTE, Scenario, T0, is};

#[test]
fn happy_path_walks_every_forward_step() {
    let mut fleet = Fleet::healthy();

    // Accept: the Accepted event, a deadline, and preflight reads the group with its deployment group.
    let mut s = Scenario::start(request());
    assert_eq!(s.phase(), &Phase::Preflight);
    assert_eq!(s.published_kinds(), [LifecycleKind::Accepted]);
    let Command::Inspect { deployment_group, .. } = s.expect_call(is::inspect_with_dg) else { unreachable!() };
    assert_eq!(deployment_group, Some(dg_ref()));
    assert!(s.effects.iter().any(|e| matches!(e, Effect::Wake { kind: WakeKind::Deadline, delay_ms: 600_000, .. })));

    // Preflight passes → Lock asks for both leases.
    s.complete(fleet.preflight());
    assert_eq!(s.phase(), &Phase::Lock);
    let Command::AcquireLeases { keys, .. } = s.expect_call(is::acquire) else { unreachable!() };
    assert_eq!(keys, lease_keys());

    // Lock → Snapshot reads the group under the lease.
    s.complete(acquired());
    assert_eq!(s.phase(), &Phase::Snapshot);
    assert_eq!(s.saga.facts.leases, lease_keys());

    // Snapshot records capacity and blue, publishes Started, then starts Spot's Blue/Green.
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::StartGreen);
    assert_eq!(s.saga.facts.snapshot, Some(capacity(2, 1, 2)));
    assert_eq!(s.saga.facts.blue, [instance("i-blue1"), instance("i-blue2")]);
    assert_eq!(s.published_kinds(), [LifecycleKind::Accepted, LifecycleKind::Started]);
    let Command::StartGreen { spec, .. } = s.expect_call(is::start_green) else { unreachable!() };
    assert_eq!(spec.tags, [tag("greenfleet:rollout", "rel-42"), tag("version", "6.0")]);
    assert_eq!(spec.timeout_minutes, 15 + 60 + 60);

    // StartGreen → AwaitGreen polls the group, with the green deadline armed.
    s.apply(&mut fleet, is::start_green);
    assert_eq!(s.phase(), &Phase::AwaitGreen);
    assert_eq!(s.saga.facts.green_deployment, Some(green_deployment_id()));
    assert_eq!(s.saga.deadline, s.now.plus_ms(15 * MINUTE));
    assert!(s.armed_wake(WakeKind::Deadline).unwrap().due <= s.saga.deadline);
    assert_eq!(s.armed_wake(WakeKind::Poll).unwrap().due, s.now.plus_ms(GREEN_POLL_MS));

    // First look: one green tagged, one running but its tags have not landed yet (F5) → 1/2.
    fleet.launch_green(1, true);
    fleet.launch_green(1, false);
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::AwaitGreen);
    assert_eq!(s.saga.facts.green_progress, (1, 2));
    s.expect_no_call();

    // Next poll: both tagged → CreateDeployment.
    fleet.tag_green();
    s.fire_wake(WakeKind::Poll);
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::CreateDeployment);
    assert_eq!(s.saga.facts.green, [instance("i-green1"), instance("i-green2")]);
    let Command::CreateDeployment(spec) = s.expect_call(is::create) else { unreachable!() };
    assert_eq!(spec.description, "greenfleet rollout rel-42");
    // CodeDeploy ORs target filters: only the unique rollout tag, never the shared `version=6.0`.
    assert_eq!(spec.target_tags, [tag("greenfleet:rollout", "rel-42")]);
    assert_eq!(spec.group, dg_ref());

    // Created → AwaitDeployment: a reconcile poll and a first read.
    s.complete(created());
    assert_eq!(s.phase(), &Phase::AwaitDeployment);
    assert_eq!(s.saga.facts.deployment_id, Some(deployment_id()));
    assert_eq!(s.armed_wake(WakeKind::Poll).unwrap().due, s.now.plus_ms(DEPLOYMENT_POLL_MS));
    s.complete(read(DeploymentStatus::Created));

    // START, then READY → ContinueDeployment (the group waits at READY), then SUCCESS.
    s.advance(MINUTE).event(EventState::Start);
    assert_eq!(s.saga.facts.deployment_status, Some(crate::cloud::DeploymentStatus::InProgress));
    s.event(EventState::Ready);
    assert_eq!(s.expect_call(is::continue_), Command::ContinueDeployment(deployment_id()));
    s.complete(CallResult::Continued(Ok(())));
    assert!(s.saga.facts.continued);
    s.event(EventState::Success);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot));

    // Finalize waits for Spot to finish its Blue/Green deployment.
    fleet.set_green_state(GreenState::InProgress);
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot));
    fleet.set_green_state(GreenState::Finished);
    s.fire_wake(WakeKind::Poll).apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::RemoveBlue));

    // KEEP_ALIVE kept blue: detach and terminate it, then read back.
    s.apply(&mut fleet, is::inspect);
    let Command::Detach { instances, .. } = s.expect_call(is::detach) else { unreachable!() };
    assert_eq!(instances, [instance("i-blue1"), instance("i-blue2")]);
    s.apply(&mut fleet, is::detach).apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::PointBlue));

    // The deployment group's tag filter moves from the old blue to this rollout's green, read back.
    s.apply(&mut fleet, is::inspect_with_dg);
    let Command::PointBlue { blue, .. } = s.expect_call(is::point_blue) else { unreachable!() };
    assert_eq!(blue.to_string(), "greenfleet:rollout=rel-42");
    s.apply(&mut fleet, is::point_blue).apply(&mut fleet, is::inspect_with_dg);
    assert!(s.noted("selects blue by ec2TagFilters = greenfleet:rollout=rel-42 (read back)"));
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::RestoreCapacity));

    // Capacity back to the snapshot, read back.
    assert_eq!(fleet.group.capacity, capacity(2, 1, 4));
    s.apply(&mut fleet, is::inspect);
    let Command::SetCapacity { capacity: set, .. } = s.expect_call(is::set_capacity) else { unreachable!() };
    assert_eq!(set, capacity(2, 1, 2));
    s.apply(&mut fleet, is::set_capacity).apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Release);

    // Release → Succeeded.
    let Command::ReleaseLeases { keys } = s.expect_call(is::release) else { unreachable!() };
    assert_eq!(keys, lease_keys());
    s.complete(CallResult::LeasesReleased(Ok(())));
    assert_eq!(s.outcome(), &Outcome::Succeeded);
    assert_eq!(s.published_kinds(), [LifecycleKind::Accepted, LifecycleKind::Started, LifecycleKind::Succeeded]);
    let succeeded = s.published.last().unwrap();
    assert_eq!(succeeded.deployment_id, Some(deployment_id()));
    assert_eq!(succeeded.duration_ms, Some(s.now.since(T0)));
    assert!(s.saga.history.len() > 10, "{:#?}", s.saga.history);
    assert!(s.noted("capacity is [Target 2, Min 1, Max 2] again (read back)"));
    s.expect_no_call();
    assert_eq!(fleet.ids("i-"), [instance("i-green1"), instance("i-green2")]);
}

#[test]
fn a_done_saga_ignores_everything() {
    let mut fleet = Fleet::healthy();
    let mut s = super::walk::to_finalize(request(), &mut fleet);
    fleet.set_green_state(GreenState::Finished);
    super::walk::run_to_end(&mut s, &mut fleet);
    assert_eq!(s.outcome(), &Outcome::Succeeded);
    let fence = s.saga.fence;
    s.cancel();
    s.assert_noop();
    s.event(EventState::Failure);
    s.assert_noop();
    s.feed(crate::effect::Input::Wake { fence, kind: WakeKind::Deadline, seq: 0 });
    s.assert_noop();
}

/// Spot launches as many green instances as run when it starts (F5): an instance still launching at
/// the snapshot would be expected as green that Spot never launches, so the snapshot waits for it.
#[test]
fn the_snapshot_waits_for_a_scaling_group_to_settle() {
    let mut fleet = Fleet::healthy();
    let mut s = Scenario::start(request());
    s.complete(fleet.preflight()).complete(acquired());
    assert_eq!(s.phase(), &Phase::Snapshot);
    fleet.instances[1].state = crate::cloud::InstanceState::Pending;
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Snapshot);
    assert!(s.noted("1 instances of sig-1234abcd still launching"));
    assert!(s.saga.facts.snapshot.is_none());
    fleet.instances[1].state = crate::cloud::InstanceState::Running;
    s.fire_wake(WakeKind::Step).apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::StartGreen);
    assert_eq!(s.saga.facts.blue.len(), 2);
}
