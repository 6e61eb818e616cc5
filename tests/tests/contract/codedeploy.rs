//! CodeDeploy: the SDK client's requests and the simulator's JSON 1.1 answers against botocore's
//! `codedeploy/2014-10-06` model, every error `__type` among those its operation declares.

use std::collections::BTreeSet;

use greenfleet_core::cloud::{
    BlueSelector, DeploymentGroupRef, DeploymentSpec, DeploymentStatus, GreenSpec, TagFilter,
};
use greenfleet_core::ids::{DeploymentId, Tag};
use greenfleet_core::ports::{Deployments, Elastigroups, RemoteError};
use greenfleet_core::request::{BundleType, Revision, S3Revision};
use greenfleet_tests::contract::codedeploy::{CodeDeployContract, OPERATIONS};
use greenfleet_tests::contract::served::ServedSim;

use super::{assert_conform, green_up, rollout_tag, waiting_scenario};

fn rejected_with(result: Result<impl std::fmt::Debug, RemoteError>, expected: &str) {
    match result {
        Err(RemoteError::Rejected { code, .. }) if code == expected => {}
        other => panic!("expected {expected}, got {other:?}"),
    }
}

#[tokio::test]
async fn every_codedeploy_call_and_answer_follows_botocores_model() {
    let contract = CodeDeployContract::load();
    for op in OPERATIONS {
        assert!(contract.model.operation(op).is_some(), "botocore's model has no {op}");
    }
    let sim = ServedSim::start().await;
    let scenario = waiting_scenario();
    scenario.install(&sim.cloud);
    let codedeploy = sim.codedeploy().await;
    let dg = &scenario.deployment_group.name;

    let view = codedeploy.deployment_group(dg).await.expect("the deployment group");
    // Finalize's UpdateDeploymentGroup, in both forms, and its refusal for a missing group.
    codedeploy.point_blue(dg, &view.blue.only(&rollout_tag())).await.expect("UpdateDeploymentGroup with filters");
    let set =
        BlueSelector::TagSet(vec![vec![TagFilter { key: "Name".into(), value: "search".into(), key_only: false }]]);
    codedeploy.point_blue(dg, &set).await.expect("UpdateDeploymentGroup with a tag set");
    assert_eq!(codedeploy.deployment_group(dg).await.expect("read back").blue, set);
    codedeploy.point_blue(dg, &view.blue).await.expect("UpdateDeploymentGroup back to the filters");
    let no_app = DeploymentGroupRef { application: "nope".into(), deployment_group: dg.deployment_group.clone() };
    assert!(matches!(codedeploy.deployment_group(&no_app).await, Err(RemoteError::NotFound(_))));
    let no_group = DeploymentGroupRef { application: dg.application.clone(), deployment_group: "nope".into() };
    assert!(matches!(codedeploy.deployment_group(&no_group).await, Err(RemoteError::NotFound(_))));
    assert!(matches!(codedeploy.point_blue(&no_group, &view.blue).await, Err(RemoteError::NotFound(_))));

    // Green comes up through the model's own port: Spot's side is the other suite's.
    let green = GreenSpec { timeout_minutes: 30, tags: vec![rollout_tag()], deployment_group: dg.clone() };
    sim.cloud.start_green(&scenario.group.id, &green).await.expect("Blue/Green starts");
    green_up(&sim, &scenario.group.id);

    let spec = DeploymentSpec {
        group: dg.clone(),
        revision: Revision::S3(S3Revision {
            bucket: "releases".into(),
            key: "search/6.0.zip".into(),
            bundle_type: BundleType::Zip,
            version: None,
            e_tag: Some("etag-1".into()),
        }),
        target_tags: vec![rollout_tag()],
        description: "greenfleet rollout contract-1".into(),
        created_after: greenfleet_core::ids::Timestamp(0),
    };
    let id = codedeploy.create(&spec).await.expect("CreateDeployment");
    rejected_with(codedeploy.create(&spec).await, "DeploymentLimitExceededException");
    rejected_with(codedeploy.continue_deployment(&id).await, "DeploymentIsNotInReadyStateException");
    assert_eq!(codedeploy.find(dg, &spec.description, spec.created_after).await.expect("find"), Some(id.clone()));
    codedeploy.get(&id).await.expect("GetDeployment");

    sim.run_until("the deployment is Ready", |c| c.deployment_status(&id) == Some(DeploymentStatus::Ready));
    codedeploy.get(&id).await.expect("GetDeployment at Ready");
    codedeploy.continue_deployment(&id).await.expect("ContinueDeployment");
    sim.run_until("the deployment succeeds", |c| c.deployment_status(&id) == Some(DeploymentStatus::Succeeded));
    codedeploy.get(&id).await.expect("GetDeployment after success");
    rejected_with(codedeploy.stop(&id, true).await, "DeploymentAlreadyCompletedException");
    let unknown = DeploymentId::parse("d-NOPE12345").expect("an id");
    assert!(matches!(codedeploy.get(&unknown).await, Err(RemoteError::NotFound(_))));

    // A deployment stopped while it runs; then answers the SDK retries: throttling, an outage.
    let second = codedeploy
        .create(&DeploymentSpec { description: "greenfleet rollout contract-2".into(), ..spec.clone() })
        .await
        .expect("a second deployment");
    sim.run_until("the second deployment runs", |c| c.deployment_status(&second) == Some(DeploymentStatus::InProgress));
    codedeploy.stop(&second, true).await.expect("StopDeployment");
    sim.run_until("the deployment is stopped", |c| c.deployment_status(&second) == Some(DeploymentStatus::Stopped));
    let stopped = codedeploy.get(&second).await.expect("GetDeployment of a stopped deployment");
    // CodeDeploy rolls it back with a deployment of its own, followed to its end.
    let rollback = stopped.rollback.expect("rollbackInfo names the rollback deployment");
    sim.run_until("the rollback ends", |c| c.deployment_status(&rollback) == Some(DeploymentStatus::Succeeded));
    codedeploy.get(&rollback).await.expect("GetDeployment of the rollback deployment");
    // One that finds no green instance fails with NO_INSTANCES.
    let nobody = Tag::new("greenfleet:rollout", "nobody").expect("a tag");
    let third =
        DeploymentSpec { description: "greenfleet rollout contract-3".into(), target_tags: vec![nobody], ..spec };
    let third = codedeploy.create(&third).await.expect("a third deployment");
    sim.run_until("the deployment fails", |c| c.deployment_status(&third) == Some(DeploymentStatus::Failed));
    codedeploy.get(&third).await.expect("GetDeployment of a failed deployment");
    let throttled = RemoteError::Throttled { message: "slow down".into(), retry_after_ms: None };
    sim.cloud.faults(|f| f.fail_next("get", throttled, 1));
    codedeploy.get(&second).await.expect("GetDeployment after throttling");
    // An outage (5xx) is not repeated by the SDK: the saga retries it, as the next call here does.
    sim.cloud.faults(|f| f.fail_next("get", RemoteError::Unavailable("maintenance".into()), 1));
    let outage = codedeploy.get(&second).await.expect_err("a 5xx goes back to the caller");
    assert!(matches!(&outage, RemoteError::Unavailable(m) if m.contains("maintenance")), "{outage:?}");
    codedeploy.get(&second).await.expect("GetDeployment after an outage");

    let exchanges = sim.take();
    let called: BTreeSet<&str> = exchanges.iter().filter_map(|e| contract.operation_of(e)).collect();
    let expected: BTreeSet<&str> = OPERATIONS.iter().copied().collect();
    assert_eq!(called, expected, "every operation greenfleet uses is exercised");
    let statuses: BTreeSet<u16> = exchanges.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [200, 400, 500].into(), "answers of every kind are exercised");
    let what = format!("botocore {} codedeploy/2014-10-06", contract.model.botocore_version);
    assert_conform(&what, &exchanges, |e| contract.check(e));
    sim.shutdown().await;
}
