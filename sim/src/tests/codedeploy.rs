//! CodeDeploy scenarios: F3 and F4 as CodeDeploy reports them, one active deployment per group,
//! READY / ContinueDeployment / StopDeployment and the ready wait, hangs, find and lost responses.

use greenfleet_core::cloud::{DeploymentType, ReadyAction, TagFilter};
use greenfleet_core::ids::{DeploymentId, Timestamp};
use greenfleet_core::ports::{Deployments, RemoteError};

use super::{Setup, World, deployment_states, event_states, ready, tag};

fn rejection(e: RemoteError) -> (String, String) {
    match e {
        RemoteError::Rejected { code, message } => (code, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn error_of(w: &World, id: &DeploymentId) -> (String, String) {
    ready(w.cloud.get(id)).unwrap().error.unwrap()
}

#[test]
fn f3_group_tag_in_the_filter_means_no_replacement() {
    // The deployment group's filter names the group's own tag, which green instances carry too.
    let w = World::new(Setup {
        filter: TagFilter { key: "Name".into(), value: "web".into(), key_only: false },
        ..Setup::default()
    });
    w.green_up();
    let d = w.create(vec![tag("env", "green")]);
    w.run_until_terminal(&d);
    assert_eq!(w.status(&d).as_str(), "Failed");
    let (code, message) = error_of(&w, &d);
    assert_eq!(code, "NO_INSTANCES");
    assert!(message.starts_with("The deployment has no replacement instances"), "{message}");
    assert!(message.contains("Name=web"), "{message}");
    assert_eq!(deployment_states(&w.cloud.drain_events()), ["START", "FAILURE"]);
    assert_eq!(w.green_state(), "FAILED", "Spot follows the failure");
}

#[test]
fn f4_green_tags_equal_to_blue_find_no_green_fleet() {
    let w = World::new(Setup::default());
    w.start_green(vec![tag("env", "blue")]);
    w.run_until("green in progress", |w| w.green_state() == "IN_PROGRESS");
    let d = w.create(vec![tag("env", "blue")]);
    w.run_until_terminal(&d);
    let (code, message) = error_of(&w, &d);
    assert_eq!(code, "NO_INSTANCES");
    assert!(message.starts_with("No instances found in the green fleet"), "{message}");

    // Tags nobody carries (or not yet: F5) fail the same way.
    let w = World::new(Setup::default());
    let d = w.create(vec![tag("env", "green")]);
    w.run_until_terminal(&d);
    assert!(error_of(&w, &d).1.starts_with("No instances found in the green fleet"));
}

#[test]
fn one_active_deployment_per_group() {
    let w = World::new(Setup::default());
    w.green_up();
    let d = w.create(vec![tag("env", "green")]);
    let e = ready(w.cloud.create(&w.deployment_spec(vec![tag("env", "green")], "again"))).unwrap_err();
    assert_eq!(
        rejection(e),
        (
            "DeploymentLimitExceededException".into(),
            format!("The Deployment Group 'dg' already has an active Deployment '{d}'")
        )
    );
    assert_eq!(w.cloud.deployments_created(&w.dg), 1);
    let id = d.as_str();
    assert!(id.len() == 11 && id[2..].chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{id}");
    w.run_until_terminal(&d);
    let next = w.create(vec![tag("env", "green")]);
    assert_ne!(next, d);
}

#[test]
fn ready_continue_and_their_refusals() {
    let w = World::new(Setup { ready_action: ReadyAction::StopDeployment, ..Setup::default() });
    let g = w.green_up();
    let d = w.create(vec![tag("env", "green")]);
    let (code, _) = rejection(ready(w.cloud.continue_deployment(&d)).unwrap_err());
    assert_eq!(code, "DeploymentIsNotInReadyStateException");

    w.run_until("ready", |w| w.status(&d).as_str() == "Ready");
    let view = ready(w.cloud.get(&d)).unwrap();
    assert_eq!((view.overview.ready, view.overview.in_progress), (1, 0));
    assert_eq!(w.green_state(), "IN_PROGRESS", "Spot waits while CodeDeploy waits");
    ready(w.cloud.continue_deployment(&d)).unwrap();
    assert_eq!(w.status(&d).as_str(), "InProgress");
    w.advance(1_000);
    assert_eq!(w.status(&d).as_str(), "Succeeded", "one step after continue");
    assert_eq!(ready(w.cloud.get(&d)).unwrap().overview.succeeded, 1);

    let states = event_states(&w.cloud.drain_events());
    let green_id = w.cloud.group_state(&w.group).unwrap().instances[0].id.to_string();
    let expected: Vec<(String, String, Option<String>)> = [
        ("deployment", "START", None),
        ("instance", "START", Some(&green_id)),
        ("instance", "READY", Some(&green_id)),
        ("deployment", "READY", None),
        ("instance", "SUCCESS", Some(&green_id)),
        ("deployment", "SUCCESS", None),
    ]
    .into_iter()
    .map(|(k, s, i)| (k.to_owned(), s.to_owned(), i.cloned()))
    .collect();
    assert_eq!(states, expected);
    assert!(w.cloud.group_state(&w.group).unwrap().instances[0].has_all(&g.tags));

    let (code, _) = rejection(ready(w.cloud.continue_deployment(&d)).unwrap_err());
    assert_eq!(code, "DeploymentAlreadyCompletedException");
}

#[test]
fn ready_wait_runs_out_into_stopped() {
    let w = World::new(Setup { ready_action: ReadyAction::StopDeployment, ..Setup::default() });
    w.green_up();
    let d = w.create(vec![tag("env", "green")]);
    w.run_until("ready", |w| w.status(&d).as_str() == "Ready");
    let ready_at = w.now();
    w.run_until_terminal(&d);
    assert_eq!(w.now() - ready_at, 5 * 60_000, "the deployment group's ready wait");
    assert_eq!(w.status(&d).as_str(), "Stopped");
    assert_eq!(error_of(&w, &d).0, "TIMEOUT");
    assert_eq!(deployment_states(&w.cloud.drain_events()), ["START", "READY", "STOP"]);
    assert_eq!(w.green_state(), "FAILED");
}

#[test]
fn stop_ends_an_active_deployment_once() {
    let w = World::new(Setup::default());
    w.green_up();
    let d = w.create(vec![tag("env", "green")]);
    w.advance(1_000);
    ready(w.cloud.stop(&d, false)).unwrap();
    assert_eq!(w.status(&d).as_str(), "Stopped");
    assert_eq!(error_of(&w, &d).0, "MANUAL_STOP");
    assert_eq!(ready(w.cloud.get(&d)).unwrap().rollback, None, "no rollback asked for, none started");
    assert_eq!(deployment_states(&w.cloud.drain_events()), ["START", "STOP"]);
    assert_eq!(w.green_state(), "FAILED", "green stays after a stop (F7)");
    assert_eq!(w.instance_count(), 2);
    let (code, _) = rejection(ready(w.cloud.stop(&d, false)).unwrap_err());
    assert_eq!(code, "DeploymentAlreadyCompletedException");
    w.advance(60_000);
    assert!(w.cloud.drain_events().is_empty(), "nothing happens after the end");
}

#[test]
fn hung_deployment_never_ends_by_itself() {
    let w = World::new(Setup::default());
    w.cloud.faults(|f| f.hang_deployments(&w.dg));
    w.green_up();
    let d = w.create(vec![tag("env", "green")]);
    w.advance(10_000);
    assert_eq!(w.status(&d).as_str(), "InProgress");
    assert_eq!(ready(w.cloud.get(&d)).unwrap().overview.in_progress, 1);
    w.advance(24 * 3_600_000);
    assert_eq!(w.status(&d).as_str(), "InProgress");
    assert_eq!(w.cloud.next_due(), None);
    ready(w.cloud.stop(&d, false)).unwrap();
    assert_eq!(w.status(&d).as_str(), "Stopped");
}

#[test]
fn a_stop_with_rollback_starts_a_rollback_deployment_that_holds_the_group_until_it_ends() {
    let w = World::new(Setup::default());
    w.green_up();
    let d = w.create(vec![tag("env", "green")]);
    w.advance(1_000);
    let before = w.instance_count();
    ready(w.cloud.stop(&d, true)).unwrap();
    let rollback = ready(w.cloud.get(&d)).unwrap().rollback.expect("rollbackInfo names it");
    assert_ne!(rollback, d, "a rollback is a new deployment");
    assert_eq!(w.status(&rollback).as_str(), "InProgress");
    // It holds the deployment group: the next rollout must wait for it.
    let spec = w.deployment_spec(vec![tag("env", "green")], "greenfleet rollout r-2");
    let (code, _) = rejection(ready(w.cloud.create(&spec)).unwrap_err());
    assert_eq!(code, "DeploymentLimitExceededException");
    w.run_until_terminal(&rollback);
    assert_eq!(w.status(&rollback).as_str(), "Succeeded");
    assert_eq!(w.green_state(), "FAILED", "a rollback's success is no verdict on Spot's Blue/Green");
    assert_eq!(w.instance_count(), before, "green is left for compensation to remove");
}

#[test]
fn find_lookups_and_lost_create_responses() {
    let w = World::new(Setup::default());
    w.green_up();
    let description = "greenfleet rollout r-1";
    let before = Timestamp(w.now());
    assert_eq!(ready(w.cloud.find(&w.dg, description, before)).unwrap(), None);
    w.cloud.faults(|f| f.lose_response("create", 1));
    let lost = ready(w.cloud.create(&w.deployment_spec(vec![tag("env", "green")], description))).unwrap_err();
    assert!(matches!(lost, RemoteError::Unavailable(_)), "{lost:?}");
    assert_eq!(w.cloud.deployments_created(&w.dg), 1, "the deployment exists although the caller saw an error");
    let found = ready(w.cloud.find(&w.dg, description, before)).unwrap().unwrap();
    assert_eq!(w.status(&found).as_str(), "Created");
    assert_eq!(ready(w.cloud.find(&w.dg, "greenfleet rollout r-2", before)).unwrap(), None);
    let later = Timestamp(w.now() + 1);
    assert_eq!(ready(w.cloud.find(&w.dg, description, later)).unwrap(), None, "created before the range");
    w.run_until_terminal(&found);
    assert_eq!(w.status(&found).as_str(), "Succeeded");
}

/// A deployment that failed at once (NO_INSTANCES: its tag filter matched nothing) is found like any other.
#[test]
fn find_sees_a_deployment_that_failed_at_once() {
    let w = World::new(Setup::default());
    let before = Timestamp(w.now());
    let description = "greenfleet rollout r-fast";
    let id = ready(w.cloud.create(&w.deployment_spec(vec![tag("env", "nowhere")], description))).unwrap();
    w.run_until_terminal(&id);
    assert_eq!(error_of(&w, &id).0, "NO_INSTANCES");
    assert_eq!(ready(w.cloud.find(&w.dg, description, before)).unwrap(), Some(id));
}

#[test]
fn unknown_and_unfit_deployment_groups() {
    let w = World::new(Setup::default());
    let mut spec = w.deployment_spec(vec![tag("env", "green")], "x");
    spec.group.deployment_group = "nope".into();
    assert_eq!(
        ready(w.cloud.create(&spec)).unwrap_err(),
        RemoteError::NotFound("deployment group app/nope not found in application app".into())
    );
    assert!(matches!(ready(Deployments::deployment_group(&w.cloud, &spec.group)), Err(RemoteError::NotFound(_))));
    let unknown = DeploymentId::parse("d-NOPE00000").unwrap();
    assert!(matches!(ready(w.cloud.get(&unknown)), Err(RemoteError::NotFound(_))));

    let mut view = ready(Deployments::deployment_group(&w.cloud, &w.dg)).unwrap();
    view.deployment_type = DeploymentType::InPlace;
    view.name.deployment_group = "in-place".into();
    w.cloud.add_deployment_group(view.clone(), 0);
    spec.group = view.name;
    let (code, _) = rejection(ready(w.cloud.create(&spec)).unwrap_err());
    assert_eq!(code, "InvalidTargetInstancesException");
}

#[test]
fn target_tag_filters_are_ored_so_a_shared_tag_reaches_instances_outside_the_group() {
    // An unrelated instance in the account carries `version=6.0`, the version green deploys.
    let w = World::new(Setup::default());
    let stranger = w.cloud.add_instance(vec![tag("version", "6.0")]);
    w.start_green(vec![tag("greenfleet:rollout", "r-1"), tag("version", "6.0")]);
    w.run_until("green in progress", |w| w.green_state() == "IN_PROGRESS");
    // Targeting by every green tag (what greenfleet did) selects the stranger too: CodeDeploy ORs them.
    let d = w.create(vec![tag("greenfleet:rollout", "r-1"), tag("version", "6.0")]);
    w.run_until_terminal(&d);
    assert_eq!(w.cloud.deployments_targeting(&stranger), std::slice::from_ref(&d));

    // By the unique rollout tag alone, only green is a target.
    let w = World::new(Setup::default());
    let stranger = w.cloud.add_instance(vec![tag("version", "6.0")]);
    w.start_green(vec![tag("greenfleet:rollout", "r-1"), tag("version", "6.0")]);
    w.run_until("green in progress", |w| w.green_state() == "IN_PROGRESS");
    let d = w.create(vec![tag("greenfleet:rollout", "r-1")]);
    w.run_until_terminal(&d);
    assert!(w.cloud.deployments_targeting(&stranger).is_empty());
    assert_eq!(w.cloud.deployment_status(&d), Some(greenfleet_core::cloud::DeploymentStatus::Succeeded));
}

#[test]
fn a_tag_set_selects_the_original_fleet_by_and_across_sets() {
    // (Name=web) AND (env=blue): green carries Name=web too, but not env=blue, so it is a replacement.
    let w = World::new(Setup::default());
    let set = |k: &str, v: &str| vec![TagFilter { key: k.into(), value: v.into(), key_only: false }];
    let mut view = w.cloud.deployment_group_view(&w.dg).unwrap();
    view.blue = greenfleet_core::cloud::BlueSelector::TagSet(vec![set("Name", "web"), set("env", "blue")]);
    w.cloud.add_deployment_group(view.clone(), 5);
    w.start_green(vec![tag("greenfleet:rollout", "r-1")]);
    w.run_until("green in progress", |w| w.green_state() == "IN_PROGRESS");
    let d = w.create(vec![tag("greenfleet:rollout", "r-1")]);
    w.run_until_terminal(&d);
    assert_eq!(w.cloud.deployment_status(&d), Some(greenfleet_core::cloud::DeploymentStatus::Succeeded));

    // Read as filters (OR), Name=web alone would make green original: no replacement (F3).
    let w = World::new(Setup::default());
    view.blue = greenfleet_core::cloud::BlueSelector::Filters([set("Name", "web"), set("env", "blue")].concat());
    w.cloud.add_deployment_group(view, 5);
    w.start_green(vec![tag("greenfleet:rollout", "r-1")]);
    w.run_until("green in progress", |w| w.green_state() == "IN_PROGRESS");
    let d = w.create(vec![tag("greenfleet:rollout", "r-1")]);
    w.run_until_terminal(&d);
    assert_eq!(error_of(&w, &d).0, "NO_INSTANCES");
}

#[test]
fn blue_green_without_a_load_balancer_fails_with_missing_elb_information() {
    let w = World::new(Setup::default());
    let mut view = w.cloud.deployment_group_view(&w.dg).unwrap();
    view.load_balancer = false;
    w.cloud.add_deployment_group(view, 5);
    w.start_green(vec![tag("greenfleet:rollout", "r-1")]);
    w.run_until("green in progress", |w| w.green_state() == "IN_PROGRESS");
    let d = w.create(vec![tag("greenfleet:rollout", "r-1")]);
    w.run_until_terminal(&d);
    assert_eq!(error_of(&w, &d).0, "MISSING_ELB_INFORMATION");
}
