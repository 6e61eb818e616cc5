//! The admin face: setup, inspection, counters and the fault command language.

use reqwest::StatusCode;
use serde_json::json;

use super::{GROUP, Sim};

#[tokio::test]
async fn setup_inspection_and_counters() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let (status, v) = sim.admin_get("/_sim/health").await;
    assert_eq!((status, v), (StatusCode::OK, json!({ "ok": true })));

    let (status, v) = sim.admin_get(&format!("/_sim/groups/{GROUP}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["capacity"], json!({ "minimum": 1, "maximum": 3, "target": 2 }));
    assert_eq!(v["instances"].as_array().unwrap().len(), 2);
    assert!(v["green"].is_null());
    let (status, _) = sim.admin_get("/_sim/groups/sig-ffffffff").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let counters = format!("/_sim/counters?group={GROUP}&application=app&deploymentGroup=dg");
    let (_, v) = sim.admin_get(&counters).await;
    assert_eq!(v, json!({ "greenStarts": 0, "deploymentsCreated": 0 }));
    sim.green_up().await;
    sim.create_deployment("greenfleet rollout r-1").await;
    let (_, v) = sim.admin_get(&counters).await;
    assert_eq!(v, json!({ "greenStarts": 1, "deploymentsCreated": 1 }));
    let (_, v) = sim.admin_get(&format!("/_sim/counters?group={GROUP}")).await;
    assert_eq!(v, json!({ "greenStarts": 1, "deploymentsCreated": null }));
    let (status, _) = sim.admin_get("/_sim/counters?application=app").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let change = json!({ "groupId": GROUP, "capacity": { "minimum": 0, "maximum": 9, "target": 5 } });
    let (status, _) = sim.admin_post("/_sim/external-capacity", &change).await;
    assert_eq!(status, StatusCode::OK);
    let (_, v) = sim.admin_get(&format!("/_sim/groups/{GROUP}")).await;
    assert_eq!(v["capacity"], json!({ "minimum": 0, "maximum": 9, "target": 5 }));
    let bad = json!({ "groupId": GROUP, "capacity": { "minimum": 3, "maximum": 9, "target": 1 } });
    let (status, v) = sim.admin_post("/_sim/external-capacity", &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("INVALID_CAPACITY"));

    let (status, v) = sim.admin_post("/_sim/groups", &json!({ "id": "bad", "name": "x" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let invalid = json!({ "id": "sig-2", "name": "x", "capacity": { "minimum": 0, "maximum": 1, "target": 0 },
        "groupTags": [{ "key": "aws:reserved", "value": "x" }] });
    let (status, v) = sim.admin_post("/_sim/groups", &invalid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("aws:"), "{v}");
    sim.shutdown().await;
}

#[tokio::test]
async fn fault_commands_apply_and_bad_ones_are_refused_whole() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let commands = json!([
        { "failDeployments": { "application": "app", "deploymentGroup": "dg", "code": "HOOK_EXECUTION_FAILURE" } },
        { "dropNextEvents": 1 },
        { "duplicateNextEvents": 2 },
        { "delays": { "deploymentStepMs": 5, "tagMs": 5 } },
        { "unhealthy": { "instances": ["i-00000000000000001"], "allGreen": true } },
        { "loseResponse": { "op": "create", "times": 2 } },
        { "dropAllEvents": false },
        { "greenNeverReady": false },
    ]);
    let (status, v) = sim.admin_post("/_sim/faults", &commands).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    sim.cloud.faults(|f| {
        assert_eq!(f.fail_deployments.values().next().unwrap().code, "HOOK_EXECUTION_FAILURE");
        assert_eq!((f.drop_next_events, f.duplicate_next_events), (1, 2));
        assert_eq!((f.deployment_step_ms, f.tag_delay_ms, f.green_launch_delay_ms), (5, 5, 20));
        assert!(f.all_green_unhealthy && f.unhealthy.len() == 1);
        assert_eq!(f.pending_api_faults("create"), 2);
    });

    for (bad, says) in [
        (json!({ "failNext": { "op": "launch", "error": { "Unavailable": "x" } } }), "unknown operation `launch`"),
        (json!({ "loseResponse": { "op": "Create" } }), "expected one of"),
        (json!({ "explode": true }), "unknown variant"),
        (json!({ "dropNextEvents": 1, "dropAllEvents": true }), "exactly one key"),
        (json!({ "failNext": { "op": "get", "error": { "Boom": 1 } } }), "fault command #1"),
        (json!([{ "dropNextEvents": 7 }, { "hangDeployments": { "application": "", "deploymentGroup": "dg" } }]), "#2"),
    ] {
        let (status, v) = sim.admin_post("/_sim/faults", &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(v["error"].as_str().unwrap().contains(says), "{bad}: {v}");
    }
    let response = sim.http.post(format!("{}/_sim/faults", sim.base)).body("{oops").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    sim.cloud.faults(|f| assert_eq!(f.drop_next_events, 1, "a refused batch changes nothing"));

    let (status, _) = sim.admin_post("/_sim/faults", &json!({ "reset": true })).await;
    assert_eq!(status, StatusCode::OK);
    sim.cloud.faults(|f| {
        assert!(f.fail_deployments.is_empty() && f.unhealthy.is_empty());
        assert_eq!(f.pending_api_faults("create"), 0);
    });
    sim.shutdown().await;
}

#[tokio::test]
async fn failed_deployments_are_scripted_over_http() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let fail = json!({ "failDeployments": {
        "application": "app",
        "deploymentGroup": "dg",
        "code": "HOOK_EXECUTION_FAILURE",
        "message": "ApplicationStart failed",
    }});
    assert_eq!(sim.admin_post("/_sim/faults", &fail).await.0, StatusCode::OK);
    sim.green_up().await;
    let (_, v) = sim.create_deployment("greenfleet rollout r-1").await;
    let id = v["deploymentId"].as_str().unwrap().to_owned();
    sim.await_status(&id, "Failed").await;
    let (_, v) = sim.codedeploy("GetDeployment", &serde_json::json!({ "deploymentId": id })).await;
    assert_eq!(
        v["deploymentInfo"]["errorInformation"],
        json!({ "code": "HOOK_EXECUTION_FAILURE", "message": "ApplicationStart failed" })
    );
    assert_eq!(v["deploymentInfo"]["deploymentOverview"]["Failed"], 2);
    let (_, v) = sim.spot_get(&format!("/aws/ec2/group/{GROUP}/codeDeploy/blueGreenDeployment")).await;
    assert_eq!(v["response"]["items"][0]["state"], "FAILED", "F7: Spot fails the Blue/Green too");
    sim.shutdown().await;
}
