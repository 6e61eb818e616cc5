//! Elastigroup scenarios: Blue/Green with TERMINATE and KEEP_ALIVE, failure leaving green (F7), the
//! one-B/G-at-a-time rule, tags lagging creation (F5), timeouts, detach and capacity.

use greenfleet_core::cloud::{BlueAction, GreenState, InstanceState};
use greenfleet_core::ids::{GreenDeploymentId, InstanceId};
use greenfleet_core::ports::{Elastigroups, RemoteError};

use super::{Setup, World, cap, deployment_states, ready, tag};

fn code(e: RemoteError) -> String {
    match e {
        RemoteError::Rejected { code, .. } => code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn blue_green_with_terminate_removes_blue_and_restores_capacity() {
    let w = World::new(Setup::default());
    let blue = w.cloud.group_state(&w.group).unwrap().instances[0].id.clone();
    let g = w.green_up();
    assert_eq!(w.capacity(), cap(2, 1, 2), "Spot raises target and max while blue and green coexist");
    let d = w.create(vec![tag("env", "green")]);
    w.run_until_terminal(&d);

    assert_eq!(w.status(&d).as_str(), "Succeeded");
    let state = w.cloud.group_state(&w.group).unwrap();
    assert_eq!(state.green.unwrap(), greenfleet_core::cloud::GreenDeployment { state: GreenState::Finished, ..g });
    assert_eq!(state.capacity, cap(1, 1, 1), "capacity back to the pre-start snapshot");
    assert_eq!(state.instances.len(), 1);
    assert_ne!(state.instances[0].id, blue, "blue is gone");
    assert!(state.instances[0].has_all(&[tag("Name", "web"), tag("env", "green")]));
    assert_eq!(deployment_states(&w.cloud.drain_events()), ["START", "SUCCESS"]);
    assert_eq!(w.cloud.green_starts(&w.group), 1);
    assert_eq!(w.cloud.deployments_created(&w.dg), 1);
}

#[test]
fn keep_alive_keeps_blue_running_and_capacity_raised() {
    let w = World::new(Setup { blue_action: BlueAction::KeepAlive, ..Setup::default() });
    w.green_up();
    let d = w.create(vec![tag("env", "green")]);
    w.run_until_terminal(&d);

    assert_eq!(w.green_state(), "FINISHED");
    assert_eq!(w.capacity(), cap(2, 1, 2), "F8: [T1,Min1,Max1] became [T2,Min1,Max2] and stays");
    let instances = ready(w.cloud.instances(&w.group)).unwrap();
    assert_eq!(instances.len(), 2);
    assert!(instances.iter().all(|i| i.state == InstanceState::Running));
}

#[test]
fn failed_deployment_leaves_green_and_raised_capacity() {
    let w = World::new(Setup { capacity: cap(2, 1, 3), ..Setup::default() });
    w.cloud.faults(|f| f.fail_deployments(&w.dg, "HOOK_EXECUTION_FAILURE", "ApplicationStart failed"));
    w.green_up();
    assert_eq!(w.capacity(), cap(4, 1, 4));
    let d = w.create(vec![tag("env", "green")]);
    w.run_until_terminal(&d);

    let view = ready(greenfleet_core::ports::Deployments::get(&w.cloud, &d)).unwrap();
    assert_eq!(view.status.as_str(), "Failed");
    assert_eq!(view.error, Some(("HOOK_EXECUTION_FAILURE".into(), "ApplicationStart failed".into())));
    assert_eq!(view.overview.failed, 2);
    assert_eq!(w.green_state(), "FAILED");
    assert_eq!(w.capacity(), cap(4, 1, 4), "F7: Max stays raised");
    assert_eq!(w.instance_count(), 4, "F7: green instances stay beside blue");
    // Nothing cleans up later either.
    w.advance(3_600_000);
    assert_eq!(w.instance_count(), 4);
}

#[test]
fn one_blue_green_at_a_time_and_stop_is_idempotent() {
    let w = World::new(Setup::default());
    let g = w.start_green(vec![tag("env", "green")]);
    let second = ready(w.cloud.start_green(&w.group, &w.green_spec(vec![tag("env", "pink")]))).unwrap_err();
    assert_eq!(code(second), "DEPLOYMENT_ALREADY_IN_PROGRESS");

    ready(w.cloud.stop_green(&w.group, &g.id)).unwrap();
    assert_eq!(w.green_state(), "STOPPED");
    assert_eq!(w.instance_count(), 2, "stopping leaves the instances as they are");
    ready(w.cloud.stop_green(&w.group, &g.id)).unwrap();
    let unknown = GreenDeploymentId::parse("cdbg-ffffffff").unwrap();
    assert!(matches!(ready(w.cloud.stop_green(&w.group, &unknown)), Err(RemoteError::NotFound(_))));

    // A stopped B/G no longer blocks a new one.
    let again = w.start_green(vec![tag("env", "green")]);
    assert_ne!(again.id, g.id);
    assert_eq!(w.cloud.green_starts(&w.group), 2);
}

#[test]
fn start_green_checks_integration_and_tags() {
    let w = World::new(Setup::default());
    let mut spec = w.green_spec(vec![tag("env", "green")]);
    spec.deployment_group.deployment_group = "other".into();
    let e = ready(w.cloud.start_green(&w.group, &spec)).unwrap_err();
    assert!(e.to_string().contains("app/other"), "{e}");
    assert_eq!(code(e), "CODEDEPLOY_INTEGRATION_MISSING");
    let e = ready(w.cloud.start_green(&w.group, &w.green_spec(vec![]))).unwrap_err();
    assert_eq!(code(e), "VALIDATION_ERROR");
    assert_eq!(w.cloud.green_starts(&w.group), 0);

    let missing = greenfleet_core::ids::ElastigroupId::parse("sig-00000000").unwrap();
    let e = ready(w.cloud.group(&missing)).unwrap_err();
    assert_eq!(e, RemoteError::NotFound("Elastigroup sig-00000000 not found".into()));
    assert!(matches!(ready(w.cloud.instances(&missing)), Err(RemoteError::NotFound(_))));
    assert_eq!(ready(w.cloud.green(&w.group)).unwrap(), None);
}

#[test]
fn green_tags_land_after_the_instance_runs() {
    let w = World::new(Setup { capacity: cap(2, 2, 2), ..Setup::default() });
    let g = w.start_green(vec![tag("env", "green"), tag("version", "6.0")]);
    assert_eq!(g.state, GreenState::Starting);
    assert_eq!(g.id.as_str().len(), "cdbg-".len() + 8);
    // Spot lists the instances; their tags are read from EC2, where the green ones land late (F5).
    let green = |w: &World| {
        let spot = ready(w.cloud.instances(&w.group)).unwrap();
        let ids: Vec<_> = spot.iter().map(|i| i.id.clone()).collect();
        let ec2 = ready(greenfleet_core::ports::Instances::describe(&w.cloud, &ids)).unwrap();
        greenfleet_core::cloud::join_instances(&spot, &ec2).into_iter().skip(2).collect::<Vec<_>>()
    };
    let fresh = green(&w);
    assert_eq!(fresh.len(), 2, "as many green as blue were running");
    assert!(fresh.iter().all(|i| i.state == InstanceState::Pending && i.tags == [tag("Name", "web")]));
    assert!(fresh.iter().all(|i| i.private_ip.as_deref().is_some_and(|ip| ip.starts_with("127.0.0."))));

    w.advance(2_000);
    let running = green(&w);
    assert!(running.iter().all(|i| i.state == InstanceState::Running), "{running:?}");
    assert!(running.iter().all(|i| !i.has_all(&g.tags)), "F5: running but not yet tagged");
    assert_eq!(w.green_state(), "STARTING");

    w.advance(1_000);
    assert!(green(&w).iter().all(|i| i.has_all(&g.tags)));
    assert_eq!(w.green_state(), "IN_PROGRESS");
}

#[test]
fn green_that_never_runs_and_the_spot_timeout() {
    let w = World::new(Setup::default());
    w.cloud.faults(|f| f.green_never_ready = true);
    w.start_green(vec![tag("env", "green")]);
    w.advance(10 * 60_000);
    let state = w.cloud.group_state(&w.group).unwrap();
    assert!(state.instances.iter().skip(1).all(|i| i.state == InstanceState::Pending));
    assert_eq!(w.green_state(), "STARTING");
    assert_eq!(w.cloud.next_due().map(|t| t.0), Some(super::T0 + 30 * 60_000), "only Spot's deadline is left");
    w.run_until("spot timeout", |w| w.green_state() == "FAILED");
    assert_eq!(w.now(), super::T0 + 30 * 60_000);
    assert_eq!(w.instance_count(), 2, "green left after a timeout");
    assert_eq!(w.capacity(), cap(2, 1, 2));
}

#[test]
fn detach_terminates_decrements_and_ignores_strangers() {
    let w = World::new(Setup { capacity: cap(3, 3, 5), ..Setup::default() });
    let ids: Vec<InstanceId> = w.cloud.group_state(&w.group).unwrap().instances.iter().map(|i| i.id.clone()).collect();
    let stranger = InstanceId::parse("i-0deadbeef").unwrap();
    ready(w.cloud.detach(&w.group, &[ids[0].clone(), stranger, ids[0].clone()])).unwrap();
    assert_eq!(w.capacity(), cap(2, 2, 5), "target down by one, minimum follows it down");
    assert_eq!(w.instance_count(), 2);
    ready(w.cloud.detach(&w.group, &ids[1..])).unwrap();
    assert_eq!(w.capacity(), cap(0, 0, 5));
    ready(w.cloud.detach(&w.group, &ids)).unwrap();
    assert_eq!(w.capacity(), cap(0, 0, 5), "never below zero");
    w.advance(60_000);
    assert_eq!(w.instance_count(), 0, "no replacement launched");
}

#[test]
fn terminated_instances_can_linger_as_terminating() {
    let w = World::new(Setup { capacity: cap(2, 1, 2), ..Setup::default() });
    w.cloud.faults(|f| f.terminate_delay_ms = 5_000);
    let first = w.cloud.group_state(&w.group).unwrap().instances[0].id.clone();
    ready(w.cloud.detach(&w.group, std::slice::from_ref(&first))).unwrap();
    let state = w.cloud.group_state(&w.group).unwrap();
    assert_eq!(state.instances[0].state, InstanceState::Terminating);
    assert!(!w.cloud.is_healthy(first.as_str()));
    w.advance(5_000);
    assert_eq!(w.instance_count(), 1);
}

#[test]
fn capacity_is_validated_and_reconciled_except_during_blue_green() {
    let w = World::new(Setup { capacity: cap(2, 1, 4), ..Setup::default() });
    let e = ready(w.cloud.set_capacity(&w.group, cap(5, 1, 4))).unwrap_err();
    assert!(e.to_string().contains("minimum <= target <= maximum"), "{e}");
    assert_eq!(code(e), "INVALID_CAPACITY");

    ready(w.cloud.set_capacity(&w.group, cap(3, 1, 4))).unwrap();
    let state = w.cloud.group_state(&w.group).unwrap();
    assert_eq!(state.instances.len(), 3);
    assert_eq!(state.instances[2].state, InstanceState::Pending);
    assert_eq!(state.instances[2].tags, [tag("Name", "web")], "new instances carry the group tags only");
    w.advance(2_000);
    assert_eq!(w.cloud.group_state(&w.group).unwrap().instances[2].state, InstanceState::Running);

    w.cloud.set_capacity_external(&w.group, cap(1, 1, 4)).unwrap();
    let state = w.cloud.group_state(&w.group).unwrap();
    assert_eq!(state.instances.len(), 1, "scale-down terminates the newest");
    assert!(state.instances[0].has_all(&[tag("env", "blue")]));

    // While a B/G runs the count is left alone, then follows the target once it ends.
    let g = w.start_green(vec![tag("env", "green")]);
    w.cloud.set_capacity_external(&w.group, cap(4, 1, 4)).unwrap();
    assert_eq!(w.instance_count(), 2);
    ready(w.cloud.stop_green(&w.group, &g.id)).unwrap();
    assert_eq!(w.instance_count(), 4);
}

#[test]
fn scripted_errors_and_lost_responses() {
    let w = World::new(Setup::default());
    w.cloud.faults(|f| f.fail_next("group", RemoteError::Unavailable("502 Bad Gateway".into()), 2));
    assert!(ready(w.cloud.group(&w.group)).is_err());
    assert!(ready(w.cloud.group(&w.group)).is_err());
    assert_eq!(ready(w.cloud.group(&w.group)).unwrap().name, "web");

    w.cloud.faults(|f| f.fail_next("start_green", RemoteError::Unavailable("timeout".into()), 1));
    assert!(ready(w.cloud.start_green(&w.group, &w.green_spec(vec![tag("env", "green")]))).is_err());
    assert_eq!(w.cloud.green_starts(&w.group), 0, "a scripted error does nothing");

    w.cloud.faults(|f| f.lose_response("start_green", 1));
    let lost = ready(w.cloud.start_green(&w.group, &w.green_spec(vec![tag("env", "green")]))).unwrap_err();
    assert!(lost.is_retryable());
    assert_eq!(w.cloud.green_starts(&w.group), 1, "the lost call took effect");
    assert_eq!(w.green_state(), "STARTING");
    assert_eq!(w.cloud.faults(|f| f.pending_api_faults("start_green")), 0);
}

#[test]
fn health_follows_state_and_faults() {
    let w = World::new(Setup::default());
    let blue = w.cloud.group_state(&w.group).unwrap().instances[0].clone();
    let ip = blue.private_ip.clone().unwrap();
    assert_eq!(ip, "127.0.0.2");
    assert!(w.cloud.is_healthy(&ip) && w.cloud.is_healthy(blue.id.as_str()));
    w.green_up();
    let green = w.cloud.group_state(&w.group).unwrap().instances[1].clone();
    assert!(w.cloud.is_healthy(green.id.as_str()));
    w.cloud.faults(|f| f.all_green_unhealthy = true);
    assert!(!w.cloud.is_healthy(green.id.as_str()) && w.cloud.is_healthy(&ip));
    w.cloud.faults(|f| {
        f.all_green_unhealthy = false;
        f.unhealthy.insert(blue.id.clone());
    });
    assert!(!w.cloud.is_healthy(&ip) && w.cloud.is_healthy(green.id.as_str()));
    assert!(!w.cloud.is_healthy("127.0.0.99"));
}
