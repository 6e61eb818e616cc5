//! Finalize after success: F8 (KEEP_ALIVE leaves capacity raised) and what happens when finalizing
//! cannot finish.

use crate::cloud::GreenState;
use crate::effect::{CallResult, Command, WakeKind};
use crate::event::LifecycleKind;
use crate::machine::MAX_ATTEMPTS;
use crate::progress::StepProgress;
use crate::saga::{FinalizeStage, Outcome, Phase};

use super::fixtures::{Fleet, capacity, instance, request, unavailable};
use super::harness::{MINUTE, is};
use super::walk::{run_to_end, to_finalize};

/// One blue instance, [Target 1, Min 1, Max 1]; Spot raises it to [Target 2, Min 1, Max 2].
fn single() -> Fleet {
    Fleet::with_blue(1, capacity(1, 1, 1))
}

#[test]
fn f8_keep_alive_capacity_is_restored_and_read_back() {
    let mut fleet = single();
    let mut s = to_finalize(request(), &mut fleet);
    assert_eq!(s.saga.facts.snapshot, Some(capacity(1, 1, 1)));
    // Spot finished; it already let go of blue but left capacity raised (F8).
    fleet.set_green_state(GreenState::Finished);
    fleet.instances.retain(|i| i.id != instance("i-blue1"));
    assert_eq!(fleet.group.capacity, capacity(2, 1, 2));
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::RemoveBlue));
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::PointBlue), "no blue left: nothing to detach");
    // The deployment group now selects the new blue by its unique tag, read back.
    s.apply(&mut fleet, is::inspect_with_dg).apply(&mut fleet, is::point_blue).apply(&mut fleet, is::inspect_with_dg);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::RestoreCapacity), "{:#?}", s.saga.history);

    s.apply(&mut fleet, is::inspect);
    assert_eq!(
        s.expect_call(is::set_capacity),
        Command::SetCapacity { group: fleet.group.id.clone(), capacity: capacity(1, 1, 1) }
    );
    // Spot said OK but the read-back still shows the raised capacity: set it again.
    s.complete(CallResult::CapacitySet(Ok(())));
    assert_eq!(s.saga.progress, StepProgress::ReadBack { accepted: 1 }, "an accepted call is one read-back round");
    s.apply(&mut fleet, is::inspect);
    assert!(s.noted("capacity is [Target 2, Min 1, Max 2]; restoring [Target 1, Min 1, Max 1]"));
    s.apply(&mut fleet, is::set_capacity).apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Release);
    assert_eq!(fleet.group.capacity, capacity(1, 1, 1));
    s.complete(CallResult::LeasesReleased(Ok(())));
    assert_eq!(s.outcome(), &Outcome::Succeeded);
}

#[test]
fn capacity_that_never_reads_back_needs_attention_with_the_numbers() {
    let mut fleet = single();
    let mut s = to_finalize(request(), &mut fleet);
    fleet.set_green_state(GreenState::Finished);
    s.apply(&mut fleet, is::inspect).apply(&mut fleet, is::inspect);
    s.apply(&mut fleet, is::detach).apply(&mut fleet, is::inspect);
    s.apply(&mut fleet, is::inspect_with_dg).apply(&mut fleet, is::point_blue).apply(&mut fleet, is::inspect_with_dg);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::RestoreCapacity));
    for _ in 0..MAX_ATTEMPTS {
        s.apply(&mut fleet, is::inspect);
        s.complete(CallResult::CapacitySet(Ok(()))); // Spot ignores it
    }
    s.apply(&mut fleet, is::inspect);
    let Outcome::NeedsAttention { reason, left } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert!(reason.contains("the deployment succeeded"), "{reason}");
    assert!(reason.contains("expected [Target 1, Min 1, Max 1]"), "{reason}");
    assert!(left[0].contains(r#"{"capacity":{"minimum":1,"maximum":1,"target":1}}"#), "{left:?}");
    assert!(s.issued.iter().any(is::release), "leases are released on the way out");
    assert_eq!(s.published_kinds().last(), Some(&LifecycleKind::NeedsAttention));
}

#[test]
fn finalize_retries_a_failed_detach_then_gives_up_with_instructions() {
    let mut fleet = single();
    let mut s = to_finalize(request(), &mut fleet);
    fleet.set_green_state(GreenState::Finished);
    s.apply(&mut fleet, is::inspect).apply(&mut fleet, is::inspect);
    s.expect_call(is::detach);
    for _ in 1..MAX_ATTEMPTS {
        s.complete(CallResult::Detached(Err(unavailable())));
        s.fire_wake(WakeKind::Step).apply(&mut fleet, is::inspect);
    }
    s.complete(CallResult::Detached(Err(unavailable())));
    let Outcome::NeedsAttention { left, .. } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert!(left[0].contains("detach and terminate the blue instances"), "{left:?}");
    assert!(left[0].contains("i-blue1") && left[0].contains("of sig-1234abcd that are still attached"), "{left:?}");
}

#[test]
fn spot_not_finishing_in_time_needs_attention_and_nothing_is_removed() {
    // Finalizing while Spot still finishes its Blue/Green would have both write the group (F12).
    let mut fleet = single();
    let mut s = to_finalize(request(), &mut fleet);
    fleet.set_green_state(GreenState::InProgress);
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::AwaitSpot), "it waits");
    s.fire_wake(WakeKind::Deadline);
    assert!(s.now.since(super::harness::T0) >= 10 * MINUTE);
    let Outcome::NeedsAttention { reason, left } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert!(reason.contains("did not end within 10 minutes (last seen IN_PROGRESS)"), "{reason}");
    assert!(left[0].contains("greenfleet removed nothing"), "{left:?}");
    assert!(!s.issued.iter().any(|c| is::detach(c) || is::set_capacity(c)), "touched the group: {:?}", s.issued);
    assert!(s.issued.iter().any(is::release));
}

#[test]
fn spot_failing_after_codedeploy_succeeded_needs_attention_naming_both() {
    let mut fleet = single();
    let mut s = to_finalize(request(), &mut fleet);
    fleet.set_green_state(GreenState::Failed);
    s.apply(&mut fleet, is::inspect);
    let Outcome::NeedsAttention { reason, left } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert!(reason.contains("CodeDeploy reports deployment d-ABC123 Succeeded"), "{reason}");
    assert!(reason.contains("Spot's Blue/Green deployment cdbg-42 ended FAILED"), "{reason}");
    assert!(left[0].contains("target group serves"), "{left:?}");
    assert!(!s.issued.iter().any(|c| is::detach(c) || is::set_capacity(c)), "touched the group: {:?}", s.issued);
    assert_eq!(s.published_kinds().last(), Some(&LifecycleKind::NeedsAttention));
}

#[test]
fn finalize_removes_every_instance_without_the_rollout_tag_not_only_the_snapshots_blue() {
    let mut fleet = single();
    let mut s = to_finalize(request(), &mut fleet);
    fleet.set_green_state(GreenState::Finished);
    // Someone raised the capacity during the rollout: the group launched a plain instance, older than
    // nothing greenfleet knows of. Left in place, restoring capacity would scale in green instead.
    fleet.instances.push(crate::cloud::InstanceView {
        id: instance("i-extra1"),
        state: crate::cloud::InstanceState::Running,
        private_ip: Some("10.0.2.1".into()),
        tags: fleet.group.tags.clone(),
    });
    s.apply(&mut fleet, is::inspect);
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::RemoveBlue));
    s.apply(&mut fleet, is::inspect);
    let Command::Detach { instances, .. } = s.expect_call(is::detach) else { unreachable!() };
    assert_eq!(instances, vec![instance("i-blue1"), instance("i-extra1")]);
}

#[test]
fn a_tag_set_group_is_pointed_at_the_new_blue_in_its_own_form() {
    let mut fleet = single();
    let set = |k: &str, v: &str| vec![crate::cloud::TagFilter { key: k.into(), value: v.into(), key_only: false }];
    fleet.dg_mut().blue = crate::cloud::BlueSelector::TagSet(vec![set("fleet", "blue"), set("Name", "web")]);
    let mut s = to_finalize(request(), &mut fleet);
    fleet.set_green_state(GreenState::Finished);
    run_to_end(&mut s, &mut fleet);
    assert_eq!(s.outcome(), &Outcome::Succeeded);
    assert_eq!(
        fleet.dg.as_ref().unwrap().blue,
        crate::cloud::BlueSelector::TagSet(vec![set("greenfleet:rollout", "rel-42")])
    );
}

#[test]
fn a_deployment_group_that_will_not_take_the_new_filter_needs_attention_with_the_command() {
    let mut fleet = single();
    let mut s = to_finalize(request(), &mut fleet);
    fleet.set_green_state(GreenState::Finished);
    for _ in 0..20 {
        if s.phase() == &Phase::Finalize(FinalizeStage::PointBlue) {
            break;
        }
        match s.outstanding() {
            Some(_) => {
                s.apply(&mut fleet, |_| true);
            }
            None => {
                s.fire_wake(WakeKind::Step);
            }
        }
    }
    assert_eq!(s.phase(), &Phase::Finalize(FinalizeStage::PointBlue));
    for _ in 0..MAX_ATTEMPTS {
        s.apply(&mut fleet, is::inspect_with_dg);
        s.complete(CallResult::BluePointed(Ok(()))); // CodeDeploy says yes, but the read-back disagrees
    }
    s.apply(&mut fleet, is::inspect_with_dg);
    let Outcome::NeedsAttention { reason, left } = s.outcome() else { panic!("{:?}", s.outcome()) };
    assert!(reason.contains("the deployment succeeded") && reason.contains("still read fleet=blue"), "{reason}");
    assert!(left[0].contains("aws deploy update-deployment-group --application-name web"), "{left:?}");
    assert!(left[0].contains("Key=greenfleet:rollout,Value=rel-42,Type=KEY_AND_VALUE"), "{left:?}");
    assert!(s.issued.iter().any(is::release), "leases are released on the way out");
}
