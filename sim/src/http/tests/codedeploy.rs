//! The CodeDeploy face: the operations greenfleet's SDK client sends, their shapes and `__type` errors.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{GROUP, Sim, eventually};

fn error_type(v: &Value) -> &str {
    v["__type"].as_str().unwrap()
}

#[tokio::test]
async fn get_deployment_group_reports_blue_green_settings() {
    let sim = Sim::world("STOP_DEPLOYMENT").await;
    let (status, v) =
        sim.codedeploy("GetDeploymentGroup", &json!({ "applicationName": "app", "deploymentGroupName": "dg" })).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let info = &v["deploymentGroupInfo"];
    assert_eq!((&info["applicationName"], &info["deploymentGroupName"]), (&json!("app"), &json!("dg")));
    assert_eq!(
        info["deploymentStyle"],
        json!({ "deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL" })
    );
    assert_eq!(
        info["blueGreenDeploymentConfiguration"],
        json!({
            "terminateBlueInstancesOnDeploymentSuccess": { "action": "KEEP_ALIVE", "terminationWaitTimeInMinutes": 0 },
            "deploymentReadyOption": { "actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 5 },
            "greenFleetProvisioningOption": { "action": "DISCOVER_EXISTING" },
        })
    );
    assert_eq!(info["ec2TagFilters"], json!([{ "Key": "env", "Value": "blue", "Type": "KEY_AND_VALUE" }]));
    let (again, _) =
        sim.codedeploy("GetDeploymentGroup", &json!({ "applicationName": "app", "deploymentGroupName": "dg" })).await;
    assert_eq!(again, StatusCode::OK);

    let (status, v) =
        sim.codedeploy("GetDeploymentGroup", &json!({ "applicationName": "nope", "deploymentGroupName": "dg" })).await;
    assert_eq!((status, error_type(&v)), (StatusCode::BAD_REQUEST, "ApplicationDoesNotExistException"));
    let (_, v) =
        sim.codedeploy("GetDeploymentGroup", &json!({ "applicationName": "app", "deploymentGroupName": "nope" })).await;
    assert_eq!(error_type(&v), "DeploymentGroupDoesNotExistException");
    assert!(v["message"].as_str().unwrap().contains("nope"));
    let (_, v) = sim.codedeploy("GetDeploymentGroup", &json!({ "applicationName": "app" })).await;
    assert_eq!(error_type(&v), "DeploymentGroupNameRequiredException");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_deployment_round_trips_through_ready_continue_and_success() {
    let sim = Sim::world("STOP_DEPLOYMENT").await;
    sim.green_up().await;
    let (status, v) = sim.create_deployment("greenfleet rollout r-1").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["deploymentId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("d-"), "{id}");

    // One active deployment per group.
    let (status, v) = sim.create_deployment("greenfleet rollout r-2").await;
    assert_eq!((status, error_type(&v)), (StatusCode::BAD_REQUEST, "DeploymentLimitExceededException"));

    let (_, v) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": id })).await;
    let info = &v["deploymentInfo"];
    assert_eq!(
        (&info["deploymentId"], &info["applicationName"], &info["deploymentGroupName"]),
        (&json!(id), &json!("app"), &json!("dg"))
    );
    assert_eq!(info["description"], "greenfleet rollout r-1");
    assert_eq!(info["creator"], "user");
    assert!(info["createTime"].is_f64(), "createTime is epoch seconds: {info}");
    assert_eq!(
        info["revision"],
        json!({ "revisionType": "S3",
            "s3Location": { "bucket": "bucket", "key": "app.zip", "bundleType": "zip", "eTag": "abc" } })
    );
    assert_eq!(
        info["targetInstances"]["tagFilters"],
        json!([{ "Key": "version", "Value": "green", "Type": "KEY_AND_VALUE" }])
    );
    assert_eq!(info["deploymentStyle"]["deploymentType"], "BLUE_GREEN");

    sim.await_status(&id, "Ready").await;
    let (_, v) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": id })).await;
    let overview = &v["deploymentInfo"]["deploymentOverview"];
    assert_eq!(
        overview,
        &json!({ "Pending": 0, "InProgress": 0, "Succeeded": 0, "Failed": 0, "Skipped": 0, "Ready": 2 })
    );

    let (status, v) =
        sim.codedeploy("ContinueDeployment", &json!({ "deploymentId": id, "deploymentWaitType": "READY_WAIT" })).await;
    assert_eq!((status, &v), (StatusCode::OK, &json!({})));
    sim.await_status(&id, "Succeeded").await;
    let (_, v) = sim.codedeploy("ContinueDeployment", &json!({ "deploymentId": id })).await;
    assert_eq!(error_type(&v), "DeploymentAlreadyCompletedException");
    let (_, v) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": id })).await;
    assert!(v["deploymentInfo"]["completeTime"].is_f64());
    assert!(v["deploymentInfo"].get("errorInformation").is_none());

    // Spot followed CodeDeploy.
    let (_, v) = sim.spot_get(&format!("/aws/ec2/group/{GROUP}/codeDeploy/blueGreenDeployment")).await;
    assert_eq!(v["response"]["items"][0]["state"], "FINISHED");

    // A second deployment, stopped.
    let (_, v) = sim.create_deployment("greenfleet rollout r-2").await;
    let second = v["deploymentId"].as_str().unwrap().to_owned();
    let (status, v) =
        sim.codedeploy("StopDeployment", &json!({ "deploymentId": second, "autoRollbackEnabled": true })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["status"], "Succeeded");
    assert_eq!(sim.deployment_status(&second).await, "Stopped");
    let (_, v) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": second })).await;
    assert_eq!(v["deploymentInfo"]["errorInformation"]["code"], "MANUAL_STOP");
    let (_, v) = sim.codedeploy("StopDeployment", &json!({ "deploymentId": second })).await;
    assert_eq!(error_type(&v), "DeploymentAlreadyCompletedException");

    // In creation order (CodeDeploy documents none; see list_deployments_pages_…); filters; batch get in
    // the order asked.
    let (_, v) =
        sim.codedeploy("ListDeployments", &json!({ "applicationName": "app", "deploymentGroupName": "dg" })).await;
    assert_eq!(v["deployments"], json!([id, second]));
    let (_, v) = sim
        .codedeploy(
            "ListDeployments",
            &json!({ "applicationName": "app", "deploymentGroupName": "dg", "includeOnlyStatuses": ["Succeeded"] }),
        )
        .await;
    assert_eq!(v["deployments"], json!([id]));
    let (_, v) =
        sim.codedeploy("ListDeployments", &json!({ "applicationName": "other", "deploymentGroupName": "dg" })).await;
    assert_eq!(error_type(&v), "ApplicationDoesNotExistException");
    let (status, v) =
        sim.codedeploy("BatchGetDeployments", &json!({ "deploymentIds": [id, "d-UNKNOWN12", second] })).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let infos = v["deploymentsInfo"].as_array().unwrap();
    assert_eq!(infos.len(), 2);
    assert_eq!((&infos[0]["deploymentId"], &infos[0]["status"]), (&json!(id), &json!("Succeeded")));
    assert_eq!((&infos[1]["deploymentId"], &infos[1]["status"]), (&json!(second), &json!("Stopped")));
    let many: Vec<String> = (0..26).map(|i| format!("d-{i:09}")).collect();
    let (_, v) = sim.codedeploy("BatchGetDeployments", &json!({ "deploymentIds": many })).await;
    assert_eq!(error_type(&v), "BatchLimitExceededException");
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_and_model_errors_map_to_codedeploy_error_types() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;

    let response = sim.http.post(format!("{}/", sim.base)).body("{}").send().await.unwrap();
    let (status, v) = Sim::read(response).await;
    assert_eq!((status, error_type(&v)), (StatusCode::BAD_REQUEST, "UnknownOperationException"));
    let (_, v) = sim.codedeploy("DeleteApplication", &json!({ "applicationName": "app" })).await;
    assert_eq!(error_type(&v), "UnknownOperationException");
    assert!(v["message"].as_str().unwrap().contains("CreateDeployment"));

    let response = sim
        .http
        .post(format!("{}/", sim.base))
        .header("x-amz-target", "CodeDeploy_20141006.GetDeployment")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, v) = Sim::read(response).await;
    assert_eq!((status, error_type(&v)), (StatusCode::BAD_REQUEST, "SerializationException"));

    let (_, v) = sim.codedeploy("GetDeployment", &json!({})).await;
    assert_eq!(error_type(&v), "DeploymentIdRequiredException");
    let (_, v) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": "bad id" })).await;
    assert_eq!(error_type(&v), "InvalidDeploymentIdException");
    let (_, v) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": "d-NOPE12345" })).await;
    assert_eq!(error_type(&v), "DeploymentDoesNotExistException");
    let (_, v) = sim
        .codedeploy(
            "CreateDeployment",
            &json!({ "applicationName": "app", "deploymentGroupName": "dg",
                "revision": { "revisionType": "S3",
                    "s3Location": { "bucket": "b", "key": "k", "bundleType": "rar" } } }),
        )
        .await;
    assert_eq!(error_type(&v), "InvalidBundleTypeException");
    let (_, v) = sim
        .codedeploy(
            "CreateDeployment",
            &json!({ "applicationName": "app", "deploymentGroupName": "dg",
                "revision": { "revisionType": "GitHub",
                    "gitHubLocation": { "repository": "o/r", "commitId": "abc" } } }),
        )
        .await;
    assert_eq!(error_type(&v), "InvalidTargetInstancesException", "no target tags: {v}");

    // F4 over HTTP: nothing carries the green tags, so the deployment fails with NO_INSTANCES.
    let (status, v) = sim.create_deployment("nothing green").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["deploymentId"].as_str().unwrap().to_owned();
    sim.await_status(&id, "Failed").await;
    let (_, v) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": id })).await;
    assert_eq!(v["deploymentInfo"]["errorInformation"]["code"], "NO_INSTANCES");

    let faults = json!([
        { "failNext": { "op": "get", "error": { "kind": "throttled", "message": "slow down" } } },
        { "failNext": { "op": "get", "error": { "kind": "unavailable", "message": "broken" } } },
        { "failNext": { "op": "find", "error": { "kind": "notFound" } } },
    ]);
    assert_eq!(sim.admin_post("/_sim/faults", &faults).await.0, StatusCode::OK);
    let (status, v) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": id })).await;
    assert_eq!((status, error_type(&v)), (StatusCode::BAD_REQUEST, "ThrottlingException"));
    let (status, v) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": id })).await;
    assert_eq!((status, error_type(&v)), (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure"));
    let (_, v) =
        sim.codedeploy("ListDeployments", &json!({ "applicationName": "app", "deploymentGroupName": "dg" })).await;
    assert_eq!(error_type(&v), "DeploymentGroupDoesNotExistException");
    let (status, _) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": id })).await;
    assert_eq!(status, StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn events_reach_the_sink_as_the_deployment_advances() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    // The first puts fail: the events are kept and delivered on a later tick.
    sim.sink.fail_next(3);
    sim.green_up().await;
    let (_, v) = sim.create_deployment("greenfleet rollout r-1").await;
    let id = v["deploymentId"].as_str().unwrap().to_owned();
    let events = eventually("SUCCESS reached the sink", async || {
        let events = sim.sink.events();
        events.iter().any(|e| e.contains("\"SUCCESS\"") && e.contains(crate::DEPLOYMENT_DETAIL_TYPE)).then_some(events)
    })
    .await;
    let states: Vec<(String, String)> = events
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter(|e| e["detail-type"] == crate::DEPLOYMENT_DETAIL_TYPE)
        .map(|e| {
            (
                e["detail"]["deploymentId"].as_str().unwrap().to_owned(),
                e["detail"]["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(states, [(id.clone(), "START".to_owned()), (id, "SUCCESS".to_owned())]);
    assert!(events.iter().any(|e| e.contains(crate::INSTANCE_DETAIL_TYPE)));
    sim.shutdown().await;
}

/// ListDeployments as botocore's model has it: `nextToken` out while more remain, in again for the next
/// page; `createTimeRange` bounds the list (either end open). No order is documented: the simulator's
/// pages are small and oldest first, so a client must read to the end.
#[tokio::test]
async fn list_deployments_pages_and_honours_the_create_time_range() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let mut ids = Vec::new();
    let mut created = Vec::new();
    for i in 1..=5 {
        // No instance carries version=green: each fails at once (NO_INSTANCES) and frees the group.
        let (status, v) = sim.create_deployment(&format!("greenfleet rollout r-{i}")).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let id = v["deploymentId"].as_str().unwrap().to_owned();
        sim.await_status(&id, "Failed").await;
        let (_, v) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": id })).await;
        created.push(v["deploymentInfo"]["createTime"].as_f64().unwrap());
        ids.push(id);
    }
    let list = async |input: Value| {
        let (status, v) = sim.codedeploy("ListDeployments", &input).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    };
    let finds = |sim: &Sim| sim.cloud.api_calls().get("find").copied().unwrap_or(0);
    let before = finds(&sim);
    let first = list(json!({ "applicationName": "app", "deploymentGroupName": "dg" })).await;
    assert_eq!(first["deployments"], json!(ids[..3]));
    let token = first["nextToken"].as_str().unwrap().to_owned();
    let second = list(json!({ "applicationName": "app", "deploymentGroupName": "dg", "nextToken": token })).await;
    assert_eq!(second["deployments"], json!(ids[3..]));
    assert!(second.get("nextToken").is_none(), "the last page has no nextToken: {second}");
    assert_eq!(finds(&sim) - before, 1, "one lookup, however many pages, is one `find` (one scripted fault)");

    let range = |start: Option<f64>, end: Option<f64>| {
        json!({ "applicationName": "app", "deploymentGroupName": "dg",
                "createTimeRange": { "start": start, "end": end } })
    };
    let v = list(range(Some(created[2]), None)).await;
    assert_eq!(v["deployments"], json!(ids[2..]), "from the third on, no status filter");
    assert!(v.get("nextToken").is_none());
    let v = list(range(Some(created[1]), Some(created[2]))).await;
    assert_eq!(v["deployments"], json!(ids[1..3]));

    let (_, v) = sim.codedeploy("ListDeployments", &range(Some(created[3]), Some(created[1]))).await;
    assert_eq!(error_type(&v), "InvalidTimeRangeException");
    let (_, v) = sim
        .codedeploy(
            "ListDeployments",
            &json!({ "applicationName": "app", "deploymentGroupName": "dg", "nextToken": "made-up" }),
        )
        .await;
    assert_eq!(error_type(&v), "InvalidNextTokenException");
    sim.shutdown().await;
}
