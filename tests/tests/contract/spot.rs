//! Spot: the client's requests and the simulator's answers against `spotinst/openapi` (derived into
//! tests/contract/spot-openapi.json) and the exception list.

use std::collections::BTreeSet;

use greenfleet_core::cloud::{Capacity, GreenSpec, InstanceState};
use greenfleet_core::ids::ElastigroupId;
use greenfleet_core::ports::{Elastigroups, RemoteError};
use greenfleet_tests::contract::served::ServedSim;
use greenfleet_tests::contract::spot::SpotContract;
use greenfleet_tests::contract::spot_exceptions::OPERATIONS;

use super::{assert_conform, green_up, rollout_tag, waiting_scenario};

#[tokio::test]
async fn every_spot_call_and_answer_follows_the_definition() {
    let contract = SpotContract::new();
    let sim = ServedSim::start().await;
    let scenario = waiting_scenario();
    scenario.install(&sim.cloud);
    let spot = sim.spot();
    let id = &scenario.group.id;

    spot.group(id).await.expect("the group");
    spot.instances(id).await.expect("its instances");
    assert!(spot.green(id).await.expect("no Blue/Green yet").is_none());
    let missing = ElastigroupId::parse("sig-00000000").expect("an id");
    assert!(matches!(spot.group(&missing).await, Err(RemoteError::NotFound(_))));

    let spec = GreenSpec {
        timeout_minutes: 30,
        tags: vec![rollout_tag()],
        deployment_group: scenario.deployment_group.name.clone(),
    };
    let green = spot.start_green(id, &spec).await.expect("Blue/Green starts");
    let again = spot.start_green(id, &spec).await;
    assert!(matches!(again, Err(RemoteError::Rejected { ref code, .. }) if code == "DEPLOYMENT_ALREADY_IN_PROGRESS"));
    green_up(&sim, id);
    assert!(spot.green(id).await.expect("the Blue/Green deployment").is_some());

    let now = sim.cloud.group_state(id).expect("the group").capacity;
    spot.set_capacity(id, Capacity { maximum: now.maximum + 1, ..now }).await.expect("capacity");
    let inverted = Capacity { minimum: 3, maximum: 2, target: 2 };
    assert!(matches!(spot.set_capacity(id, inverted).await, Err(RemoteError::Rejected { .. })));
    let running = spot.instances(id).await.expect("instances");
    let victim = running.iter().rev().find(|i| i.state == InstanceState::Running).expect("a running instance");
    spot.detach(id, std::slice::from_ref(&victim.id)).await.expect("detach");
    spot.stop_green(id, &green.id).await.expect("stop");
    // Stopping a Blue/Green deployment the group does not have: a 404 (the path is not in the
    // definition at all; the Python SDK has it).
    let unknown = greenfleet_core::ids::GreenDeploymentId::parse("cdbg-ffffffff").expect("an id");
    assert!(spot.stop_green(id, &unknown).await.is_err());

    // Answers greenfleet must survive: rate limiting (retried after X-RateLimit-Reset), an outage
    // (returned: the saga retries it, as the next call here does), a refusal (returned).
    let throttled = RemoteError::Throttled { message: "slow down".into(), retry_after_ms: Some(10) };
    sim.cloud.faults(|f| f.fail_next("group", throttled, 1));
    spot.group(id).await.expect("the group after a 429");
    sim.cloud.faults(|f| f.fail_next("instances", RemoteError::Unavailable("maintenance".into()), 1));
    let outage = spot.instances(id).await.expect_err("a 503 goes back to the caller");
    assert!(matches!(&outage, RemoteError::Unavailable(m) if m.contains("503")), "{outage:?}");
    spot.instances(id).await.expect("instances after a 503");
    let refused = RemoteError::Rejected { code: "CANT_UPDATE_CAPACITY".into(), message: "scaling is suspended".into() };
    sim.cloud.faults(|f| f.fail_next("set_capacity", refused, 1));
    assert!(spot.set_capacity(id, now).await.is_err());

    let exchanges = sim.take();
    let called: BTreeSet<&str> =
        exchanges.iter().filter_map(|e| contract.operation(&e.method, &e.path).map(|(op, _)| op)).collect();
    assert_eq!(called, OPERATIONS.iter().copied().collect(), "every operation greenfleet uses is exercised");
    let statuses: BTreeSet<u16> = exchanges.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [200, 400, 404, 429, 503].into(), "answers of every kind are exercised");
    assert_conform(&format!("spotinst/openapi@{}", contract.commit()), &exchanges, |e| contract.check(e));
    sim.shutdown().await;
}

#[test]
fn every_spot_exception_still_overrides_the_definition() {
    let stale = SpotContract::new().stale_exceptions();
    assert!(stale.is_empty(), "exceptions the definition no longer needs (remove them): {stale:#?}");
}
