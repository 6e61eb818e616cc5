//! Preflight rejects a badly set up deployment group or Elastigroup (F1–F4) before touching anything,
//! with a message that names the setting or tag to change.

use crate::cloud::{
    BlueAction, BlueSelector, DeploymentType, GreenDeployment, GreenProvisioning, GreenState, InstanceState,
    ReadyAction,
};
use crate::effect::CallResult;
use crate::event::LifecycleKind;
use crate::ports::RemoteError;
use crate::request::RolloutRequest;
use crate::saga::{Outcome, Phase};

use super::fixtures::{Fleet, acquired, dg_ref, green_deployment_id, manual_request, request, tag};
use super::harness::{Scenario, is};

/// Runs preflight of `request` against `fleet`; asserts a clean rejection and returns its reason.
fn rejection(request: RolloutRequest, fleet: &Fleet) -> String {
    let mut s = Scenario::start(request);
    s.complete(fleet.preflight());
    let Outcome::Rejected { reason } = s.outcome() else { panic!("not rejected: {:?}", s.outcome()) };
    assert_eq!(s.published_kinds(), [LifecycleKind::Accepted, LifecycleKind::Rejected]);
    assert_eq!(s.published[1].reason.as_deref(), Some(reason.as_str()));
    assert!(s.issued.iter().all(is::inspect_with_dg), "touched something: {:?}", s.issued);
    assert!(s.side_effects().is_empty());
    reason.clone()
}

fn rejects(fleet: &Fleet, needles: &[&str]) {
    let reason = rejection(request(), fleet);
    for n in needles {
        assert!(reason.contains(n), "`{n}` not in: {reason}");
    }
}

#[test]
fn f1_deployment_group_missing() {
    let mut fleet = Fleet::healthy();
    fleet.dg = None;
    rejects(&fleet, &["[F1 deployment group exists]", "web/web-bg does not exist", "BLUE_GREEN"]);
}

#[test]
fn f1_in_place_deployment_group() {
    let mut fleet = Fleet::healthy();
    fleet.dg_mut().deployment_type = DeploymentType::InPlace;
    rejects(&fleet, &["is IN_PLACE", "deploymentStyle.deploymentType to BLUE_GREEN"]);
}

#[test]
fn f1_copy_auto_scaling_group() {
    let mut fleet = Fleet::healthy();
    fleet.dg_mut().green_provisioning = Some(GreenProvisioning::CopyAutoScalingGroup);
    rejects(&fleet, &["copies an Auto Scaling group", "greenFleetProvisioningOption.action", "DISCOVER_EXISTING"]);
}

#[test]
fn f1_no_tag_filters() {
    let mut fleet = Fleet::healthy();
    fleet.dg_mut().blue = BlueSelector::Filters(vec![]);
    rejects(&fleet, &["[F1 EC2 tags identify blue]", "has no EC2 tag filters or tag set", "filter to fleet=blue"]);
}

#[test]
fn f2_integration_missing_or_naming_another_group() {
    let mut fleet = Fleet::healthy();
    fleet.group.codedeploy.clear();
    rejects(&fleet, &["has no CodeDeploy integration", "thirdPartiesIntegration.codeDeploy.deploymentGroups"]);
    fleet.group.codedeploy = vec![crate::cloud::DeploymentGroupRef { deployment_group: "old".into(), ..dg_ref() }];
    rejects(&fleet, &["not integrated with CodeDeploy deployment group web/web-bg", "it names web/old"]);
}

#[test]
fn f3_group_tag_matched_by_the_deployment_groups_filter() {
    let mut fleet = Fleet::healthy();
    fleet.group.tags.push(tag("fleet", "blue"));
    rejects(&fleet, &["[F3", "ec2TagFilters `fleet=blue` match the Elastigroup's own tags", "Name and Owner"]);
}

#[test]
fn f4_green_tag_carried_by_blue() {
    let fleet = Fleet::healthy();
    let req = RolloutRequest { green_tags: vec![tag("version", "5.9")], ..request() };
    let reason = rejection(req, &fleet);
    assert!(reason.contains("[F4"), "{reason}");
    assert!(reason.contains("green tag `version=5.9` is already carried by the blue instances"), "{reason}");
    assert!(reason.contains("new value for `version`"), "{reason}");
}

#[test]
fn f4_green_tag_matched_by_the_deployment_groups_filter() {
    let fleet = Fleet::healthy();
    let req = RolloutRequest { green_tags: vec![tag("fleet", "blue")], ..request() };
    let reason = rejection(req, &fleet);
    assert!(reason.contains("green tags match the deployment group's ec2TagFilters `fleet=blue`"), "{reason}");
}

#[test]
fn no_running_instance_to_replace() {
    let mut fleet = Fleet::healthy();
    fleet.instances.iter_mut().for_each(|i| i.state = InstanceState::Pending);
    rejects(&fleet, &["has no running instance", "nothing to replace"]);
}

#[test]
fn a_blue_green_in_progress_is_judged_under_the_lease_not_before_it() {
    // It may belong to the rollout holding the lease: preflight lets the request wait for the lease.
    let mut fleet = Fleet::healthy();
    fleet.green = Some(GreenDeployment { id: green_deployment_id(), state: GreenState::InProgress, tags: Vec::new() });
    let mut s = Scenario::start(request());
    s.complete(fleet.preflight());
    assert_eq!(s.phase(), &Phase::Lock);
    // Still running once the lease is ours: nobody in greenfleet started it.
    s.complete(acquired()).apply(&mut fleet, is::inspect);
    assert!(s.reason().contains("Blue/Green deployment cdbg-42 running, started outside greenfleet"), "{}", s.reason());
}

#[test]
fn the_rules_are_checked_again_under_the_lease() {
    // While this request waited, the previous rollout left green instances tagged like ours (F4).
    let mut fleet = Fleet::healthy();
    let mut s = Scenario::start(request());
    s.complete(fleet.preflight()).complete(acquired());
    for i in &mut fleet.instances {
        i.tags.push(tag("version", "6.0"));
    }
    s.apply(&mut fleet, is::inspect);
    assert!(s.reason().contains("[F4 green tags differ from blue]"), "{}", s.reason());
    assert!(s.reason().contains("under the lease"), "{}", s.reason());
    assert!(is::release(s.issued.last().unwrap()));
}

#[test]
fn gates_need_the_group_to_wait_at_ready() {
    let mut fleet = Fleet::healthy();
    fleet.dg_mut().ready_action = Some(ReadyAction::ContinueDeployment);
    let reason = rejection(manual_request(), &fleet);
    assert!(reason.contains("deploymentReadyOption.actionOnTimeout to STOP_DEPLOYMENT"), "{reason}");
    // Without gates, continuing at once is fine.
    let mut s = Scenario::start(request());
    s.complete(fleet.preflight());
    assert_eq!(s.phase(), &Phase::Lock);
}

#[test]
fn every_violation_is_reported_at_once() {
    let mut fleet = Fleet::healthy();
    fleet.group.codedeploy.clear();
    fleet.dg_mut().deployment_type = DeploymentType::InPlace;
    fleet.dg_mut().blue = BlueSelector::Filters(vec![]);
    let reason = rejection(request(), &fleet);
    assert_eq!(reason.matches("; [").count(), 2, "{reason}");
}

#[test]
fn a_missing_group_is_rejected_naming_what_to_check() {
    let mut s = Scenario::start(request());
    s.complete(CallResult::Inspected(Err(RemoteError::NotFound("Elastigroup sig-1234abcd not found".into()))));
    assert!(s.reason().contains("check elastigroupId"), "{}", s.reason());
    assert!(s.side_effects().is_empty());
}

#[test]
fn terminate_blue_passes_with_a_warning() {
    let mut fleet = Fleet::healthy();
    fleet.dg_mut().blue_action = Some(BlueAction::Terminate);
    let mut s = Scenario::start(request());
    s.complete(fleet.preflight());
    assert_eq!(s.phase(), &Phase::Lock);
    assert!(s.saga.facts.warnings[0].contains("TERMINATE"));
    assert!(s.noted("warning: deployment group web/web-bg terminates blue itself"));
}

#[test]
fn a_blue_green_started_outside_greenfleet_after_preflight_is_rejected_and_leases_released() {
    let mut fleet = Fleet::healthy();
    let mut s = Scenario::start(request());
    s.complete(fleet.preflight()).complete(acquired());
    fleet.green = Some(GreenDeployment { id: green_deployment_id(), state: GreenState::Starting, tags: Vec::new() });
    s.apply(&mut fleet, is::inspect);
    assert!(s.reason().contains("Blue/Green deployment cdbg-42 running, started outside greenfleet"), "{}", s.reason());
    assert!(is::release(s.issued.last().unwrap()));
    assert!(s.side_effects().is_empty());
}

fn filter(key: &str, value: &str) -> crate::cloud::TagFilter {
    crate::cloud::TagFilter { key: key.into(), value: value.into(), key_only: false }
}

#[test]
fn a_tag_set_is_read_as_and_across_sets_so_a_group_tag_in_one_set_is_fine() {
    // ec2TagSet: (Name=web) AND (fleet=blue). The group's Name tag alone does not make green blue.
    let mut fleet = Fleet::healthy();
    fleet.dg_mut().blue = BlueSelector::TagSet(vec![vec![filter("Name", "web")], vec![filter("fleet", "blue")]]);
    let mut s = Scenario::start(request());
    s.complete(fleet.preflight());
    assert_eq!(s.phase(), &Phase::Lock, "{:?}", s.saga.history);

    // A tag set whose every set matches the group's own tags selects green too (F3).
    fleet.dg_mut().blue = BlueSelector::TagSet(vec![vec![filter("Name", "web")], vec![filter("Owner", "team-web")]]);
    rejects(&fleet, &["[F3", "ec2TagSet `(Name=web) and (Owner=team-web)` match the Elastigroup's own tags"]);
}

/// Runs preflight, the lease and the Snapshot's re-check under it; returns the rejection's reason.
fn rejection_under_the_lease(fleet: &mut Fleet) -> String {
    let mut s = Scenario::start(request());
    s.complete(fleet.preflight());
    assert_eq!(s.phase(), &Phase::Lock, "judged under the lease, not before it: {:?}", s.saga.history);
    s.complete(acquired());
    s.apply(fleet, is::inspect_with_dg);
    assert!(matches!(s.outcome(), Outcome::Rejected { .. }), "{:?}", s.outcome());
    assert!(is::release(s.issued.last().unwrap()), "the leases are released");
    assert!(s.side_effects().is_empty(), "nothing was changed");
    s.reason().to_owned()
}

#[test]
fn a_filter_that_misses_running_instances_is_refused_under_the_lease_naming_a_tag_they_all_carry() {
    let mut fleet = Fleet::healthy();
    fleet.dg_mut().blue = BlueSelector::Filters(vec![filter("fleet", "old")]);
    let reason = rejection_under_the_lease(&mut fleet);
    for needle in [
        "[F1 tags select every blue instance]",
        "ec2TagFilters `fleet=old` do not select 2 of the 2 running instances in EC2 (i-blue1, i-blue2)",
        "set the deployment group's EC2 tag filter to fleet=blue",
    ] {
        assert!(reason.contains(needle), "`{needle}` not in: {reason}");
    }
    // The previous rollout's tag is the natural choice once greenfleet ran on the group.
    for i in &mut fleet.instances {
        i.tags.push(tag("greenfleet:rollout", "rel-41"));
    }
    assert!(rejection_under_the_lease(&mut fleet).contains("filter to greenfleet:rollout=rel-41"));
    // No tag shared by them all: say how to make one.
    fleet.instances[0].tags.retain(|t| t.key == "Name" || t.key == "Owner");
    assert!(rejection_under_the_lease(&mut fleet).contains("aws ec2 create-tags --resources i-blue1 i-blue2"));
}

#[test]
fn f1_blue_green_without_a_load_balancer() {
    let mut fleet = Fleet::healthy();
    fleet.dg_mut().load_balancer = false;
    rejects(&fleet, &["[F1 load balancer]", "MISSING_ELB_INFORMATION", "loadBalancerInfo.targetGroupInfoList"]);
}
