//! The admin face as a public interface: every route's happy path in camelCase, and its refusals —
//! an unknown field named with where it was, a bad enum value, a bad id — each a 400 that says so.

use greenfleet_core::cloud::{BlueSelector, DeploymentGroupRef, DeploymentType};
use greenfleet_core::ports::RemoteError;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{GROUP, Sim};

/// Posts `body` to `path` and checks it is refused with `status`, the error naming each of `says`.
async fn refused(sim: &Sim, path: &str, body: &Value, status: StatusCode, says: &[&str]) {
    let (got, v) = sim.admin_post(path, body).await;
    assert_eq!(got, status, "{path} {body}: {v}");
    let error = v["error"].as_str().unwrap_or_else(|| panic!("{path} {body}: no error message in {v}"));
    for s in says {
        assert!(error.contains(s), "{path} {body}: `{error}` should name `{s}`");
    }
}

fn group(extra: &[(&str, Value)]) -> Value {
    let mut g = json!({ "id": "sig-2222abcd", "name": "api", "capacity": { "minimum": 1, "maximum": 2, "target": 1 } });
    for (k, v) in extra {
        g[*k] = v.clone();
    }
    g
}

#[tokio::test]
async fn health_and_what_is_not_a_route() {
    let sim = Sim::start(None).await;
    assert_eq!(sim.admin_get("/_sim/health").await, (StatusCode::OK, json!({ "ok": true })));
    let (status, v) = sim.admin_get("/_sim/group/sig-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("GET /_sim/group/sig-1") && error.contains("GET /_sim/groups/{id}"), "{error}");
    let (status, v) = sim.admin_get("/_sim/faults").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(v["error"].as_str().unwrap().contains("does not accept GET"), "{v}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_group_is_set_up_and_viewed_in_camel_case_with_the_services_spellings() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let (status, created) = sim
        .admin_post(
            "/_sim/groups",
            &group(&[
                ("groupTags", json!([{ "key": "Name", "value": "api" }])),
                ("blueTags", json!([{ "key": "release", "value": "api-5.0" }])),
                ("codeDeploy", json!([{ "application": "app", "deploymentGroup": "dg" }])),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let instance_id = created["instances"][0]["instanceId"].as_str().unwrap().to_owned();
    let ip = created["instances"][0]["privateIp"].as_str().unwrap().to_owned();
    assert!(instance_id.starts_with("i-") && ip.starts_with("127.0.0."), "{created}");
    assert_eq!(
        created,
        json!({
            "capacity": { "minimum": 1, "maximum": 2, "target": 1 },
            "instances": [{
                "instanceId": instance_id,
                "state": "running",
                "privateIp": ip,
                "tags": [{ "key": "Name", "value": "api" }, { "key": "release", "value": "api-5.0" }],
            }],
            "green": null,
        })
    );
    assert_eq!(sim.admin_get("/_sim/groups/sig-2222abcd").await, (StatusCode::OK, created));
    let view = sim.cloud.group_state(&greenfleet_core::ids::ElastigroupId::parse("sig-2222abcd").unwrap()).unwrap();
    assert_eq!(view.instances[0].tags.len(), 2, "the tags reached the model");

    // Spot's Blue/Green as Spot spells it.
    sim.green_up().await;
    let (_, v) = sim.admin_get(&format!("/_sim/groups/{GROUP}")).await;
    assert!(v["green"]["id"].as_str().unwrap().starts_with("cdbg-"), "{v}");
    assert_eq!(v["green"]["state"], "IN_PROGRESS");
    assert_eq!(v["green"]["tags"], json!([{ "key": "version", "value": "green" }]));

    // EC2's instance states: an instance on its way out is `shutting-down`, a new one `pending`.
    let delays = json!({ "delays": { "launchMs": 600_000, "terminateMs": 600_000 } });
    assert_eq!(sim.admin_post("/_sim/faults", &delays).await.0, StatusCode::OK);
    let capacity =
        |target| json!({ "groupId": "sig-2222abcd", "capacity": { "minimum": 0, "maximum": 2, "target": target } });
    assert_eq!(sim.admin_post("/_sim/external-capacity", &capacity(0)).await.0, StatusCode::OK);
    assert_eq!(sim.admin_post("/_sim/external-capacity", &capacity(1)).await.0, StatusCode::OK);
    let (_, v) = sim.admin_get("/_sim/groups/sig-2222abcd").await;
    let states: Vec<&str> = v["instances"].as_array().unwrap().iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["shutting-down", "pending"], "{v}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_group_setup_is_refused_naming_the_field_and_nothing_is_created() {
    let sim = Sim::start(None).await;
    let route = "POST /_sim/groups";
    let tagged = |key: &str| json!([{ "key": key, "value": "x" }]);
    for (body, says) in [
        // What a new user tried: snake_case answered 200 and created a group without tags.
        (group(&[("group_tags", tagged("Name"))]), vec![route, "unknown field `group_tags`", "`groupTags`"]),
        (group(&[("codedeploy", json!([]))]), vec!["unknown field `codedeploy`", "`codeDeploy`"]),
        (
            group(&[("codeDeploy", json!([{ "application": "app", "deployment_group": "dg" }]))]),
            vec!["codeDeploy[0]", "unknown field `deployment_group`", "`deploymentGroup`"],
        ),
        (
            group(&[("groupTags", json!([{ "Key": "Name", "Value": "x" }]))]),
            vec!["groupTags[0]", "unknown field `Key`"],
        ),
        (
            group(&[("capacity", json!({ "minimum": 1, "maximum": 2, "target": 1, "desired": 1 }))]),
            vec!["capacity", "unknown field `desired`"],
        ),
        (
            group(&[("capacity", json!({ "minimum": 1, "maximum": 2, "target": "1" }))]),
            vec!["capacity.target", "invalid type"],
        ),
        (group(&[("capacity", json!({ "minimum": 1, "maximum": 2 }))]), vec!["capacity", "missing field `target`"]),
        (group(&[("id", json!("bad"))]), vec!["id:", "`bad`"]),
        (group(&[("name", json!(" "))]), vec!["name must not be empty"]),
        (
            group(&[("capacity", json!({ "minimum": 2, "maximum": 3, "target": 1 }))]),
            vec!["capacity:", "minimum <= target <= maximum"],
        ),
        (group(&[("blueTags", tagged("aws:reserved"))]), vec!["blueTags[0]", "aws:"]),
        (group(&[("codeDeploy", json!([{ "application": "app", "deploymentGroup": "" }]))]), vec!["codeDeploy[0]"]),
        (group(&[("groupTags", json!(["Name=api"]))]), vec!["groupTags[0]", "expected a tag {\"key\", \"value\"}"]),
        (json!([]), vec!["expected a group setup {\"id\", \"name\", \"capacity\""]),
    ] {
        refused(&sim, "/_sim/groups", &body, StatusCode::BAD_REQUEST, &says).await;
    }
    let response = sim.http.post(format!("{}/_sim/groups", sim.base)).body("{oops").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.admin_get("/_sim/groups/sig-2222abcd").await.0, StatusCode::NOT_FOUND, "no refusal created it");

    let (status, v) = sim.admin_get("/_sim/groups/bad").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("`bad`"), "{v}");
    let (status, v) = sim.admin_get("/_sim/groups/sig-ffffffff").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(v["error"].as_str().unwrap().contains("sig-ffffffff does not exist"), "{v}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_deployment_group_is_set_up_with_codedeploys_spellings_and_nothing_else() {
    let sim = Sim::start(None).await;
    let dg = |extra: &[(&str, Value)]| {
        let mut d = json!({ "application": "web", "deploymentGroup": "web-bg", "deploymentType": "BLUE_GREEN" });
        for (k, v) in extra {
            d[*k] = v.clone();
        }
        d
    };
    let tag_set = json!([[{ "key": "env", "value": "blue" }], [{ "key": "team", "type": "KEY_ONLY" }]]);
    let (status, v) = sim
        .admin_post(
            "/_sim/deployment-groups",
            &dg(&[
                ("greenFleetProvisioning", json!("DISCOVER_EXISTING")),
                ("blueAction", json!("TERMINATE")),
                ("readyAction", json!("STOP_DEPLOYMENT")),
                ("readyWaitMinutes", json!(5)),
                ("ec2TagSet", tag_set),
                ("loadBalancer", json!(false)),
            ]),
        )
        .await;
    assert_eq!((status, v), (StatusCode::OK, json!({ "application": "web", "deploymentGroup": "web-bg" })));
    let name = DeploymentGroupRef { application: "web".into(), deployment_group: "web-bg".into() };
    let view = sim.cloud.deployment_group_view(&name).unwrap();
    assert_eq!(view.deployment_type, DeploymentType::BlueGreen);
    assert!(matches!(&view.blue, BlueSelector::TagSet(sets) if sets.len() == 2 && sets[1][0].key_only));
    assert!(!view.load_balancer);

    let route = "POST /_sim/deployment-groups";
    for (body, says) in [
        (dg(&[("deployment_group", json!("x"))]), vec![route, "unknown field `deployment_group`", "`deploymentGroup`"]),
        (
            dg(&[("deploymentType", json!("BlueGreen"))]),
            vec!["deploymentType", "unknown variant `BlueGreen`", "`BLUE_GREEN`"],
        ),
        (
            dg(&[("blueAction", json!("keep_alive"))]),
            vec!["blueAction", "unknown variant `keep_alive`", "`KEEP_ALIVE`"],
        ),
        (
            dg(&[("ec2TagFilters", json!([{ "Key": "env", "Value": "blue", "Type": "KEY_AND_VALUE" }]))]),
            vec!["ec2TagFilters[0]", "unknown field `Key`"],
        ),
        (
            dg(&[("ec2TagFilters", json!([{ "key": "env", "type": "VALUE_ONLY" }]))]),
            vec!["ec2TagFilters[0].type", "`VALUE_ONLY`"],
        ),
        (dg(&[("ec2TagFilters", json!([])), ("ec2TagSet", json!([]))]), vec!["not both"]),
        (dg(&[("application", json!(""))]), vec!["must not be empty"]),
    ] {
        refused(&sim, "/_sim/deployment-groups", &body, StatusCode::BAD_REQUEST, &says).await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_loose_instance_is_added_and_a_bad_one_refused() {
    let sim = Sim::start(None).await;
    let (status, v) =
        sim.admin_post("/_sim/instances", &json!({ "tags": [{ "key": "version", "value": "6.0" }] })).await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["instanceId"].as_str().unwrap().starts_with("i-"), "{v}");
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    for (body, says) in [
        (json!({ "tag": [] }), vec!["unknown field `tag`", "`tags`"]),
        (json!({ "tags": [{ "key": "a", "value": "b", "type": "x" }] }), vec!["tags[0]", "unknown field `type`"]),
        (json!({ "tags": [{ "key": "aws:x", "value": "b" }] }), vec!["tags[0]", "aws:"]),
        (json!({}), vec!["missing field `tags`"]),
    ] {
        refused(&sim, "/_sim/instances", &body, StatusCode::BAD_REQUEST, &says).await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn counters_count_and_refuse_what_they_do_not_know() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let counters = format!("/_sim/counters?groupId={GROUP}&application=app&deploymentGroup=dg");
    assert_eq!(sim.admin_get(&counters).await.1, json!({ "greenStarts": 0, "deploymentsCreated": 0 }));
    sim.green_up().await;
    sim.create_deployment("greenfleet rollout r-1").await;
    assert_eq!(sim.admin_get(&counters).await.1, json!({ "greenStarts": 1, "deploymentsCreated": 1 }));
    let (_, v) = sim.admin_get(&format!("/_sim/counters?groupId={GROUP}")).await;
    assert_eq!(v, json!({ "greenStarts": 1, "deploymentsCreated": null }));
    let (_, v) = sim.admin_get("/_sim/counters?application=app&deploymentGroup=dg").await;
    assert_eq!(v, json!({ "greenStarts": null, "deploymentsCreated": 1 }));

    for (query, says) in [
        (format!("group={GROUP}"), vec!["unknown field `group`", "`groupId`"]),
        ("application=app&deployment_group=dg".to_owned(), vec!["unknown field `deployment_group`"]),
        ("groupId=bad".to_owned(), vec!["groupId", "`bad`"]),
        ("application=app".to_owned(), vec!["give both application and deploymentGroup"]),
        (String::new(), vec!["ask for ?groupId="]),
    ] {
        let (status, v) = sim.admin_get(&format!("/_sim/counters?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        let error = v["error"].as_str().unwrap();
        assert!(says.iter().all(|s| error.contains(s)), "{query}: {error}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn external_capacity_changes_follow_spots_rules() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let change = json!({ "groupId": GROUP, "capacity": { "minimum": 0, "maximum": 9, "target": 5 } });
    let (status, v) = sim.admin_post("/_sim/external-capacity", &change).await;
    assert_eq!((status, v), (StatusCode::OK, json!({ "capacity": { "minimum": 0, "maximum": 9, "target": 5 } })));
    let (_, v) = sim.admin_get(&format!("/_sim/groups/{GROUP}")).await;
    assert_eq!(v["capacity"], json!({ "minimum": 0, "maximum": 9, "target": 5 }));

    let capacity = json!({ "minimum": 1, "maximum": 2, "target": 1 });
    let path = "/_sim/external-capacity";
    let bad = json!({ "groupId": GROUP, "capacity": { "minimum": 3, "maximum": 9, "target": 1 } });
    refused(&sim, path, &bad, StatusCode::BAD_REQUEST, &["INVALID_CAPACITY"]).await;
    let snake = json!({ "group_id": GROUP, "capacity": capacity });
    refused(&sim, path, &snake, StatusCode::BAD_REQUEST, &["unknown field `group_id`", "`groupId`"]).await;
    let extra = json!({ "groupId": GROUP, "capacity": { "minimum": 1, "maximum": 2, "target": 1, "max": 2 } });
    refused(&sim, path, &extra, StatusCode::BAD_REQUEST, &["capacity", "unknown field `max`"]).await;
    let bad_id = json!({ "groupId": "group-1", "capacity": capacity });
    refused(&sim, path, &bad_id, StatusCode::BAD_REQUEST, &["groupId", "`group-1`"]).await;
    let unknown = json!({ "groupId": "sig-ffffffff", "capacity": capacity });
    refused(&sim, path, &unknown, StatusCode::NOT_FOUND, &["sig-ffffffff"]).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn fault_commands_apply_and_bad_ones_are_refused_whole() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let commands = json!([
        { "failDeployments": { "application": "app", "deploymentGroup": "dg", "code": "HOOK_EXECUTION_FAILURE" } },
        { "hangDeployments": { "application": "app", "deploymentGroup": "other" } },
        { "dropNextEvents": 1 },
        { "duplicateNextEvents": 2 },
        { "delays": { "deploymentStepMs": 5, "tagMs": 5 } },
        { "unhealthy": { "instances": ["i-00000000000000001"], "allGreen": true } },
        { "loseResponse": { "op": "create", "times": 2 } },
        { "failNext": { "op": "setCapacity", "error": { "kind": "throttled", "retryAfterMs": 2000 } } },
        { "failNext": { "op": "describeInstances", "error": { "kind": "unavailable" }, "times": 2 } },
        { "failNext": { "op": "deploymentGroup", "error": { "kind": "notFound", "message": "gone" } } },
        { "failNext": { "op": "continueDeployment", "error": { "kind": "rejected", "code": "X", "message": "no" } } },
        { "dropAllEvents": false },
        { "greenNeverReady": false },
        { "blueAfterSuccess": "leave" },
        { "spotFinishDelayMs": 30000 },
    ]);
    let (status, v) = sim.admin_post("/_sim/faults", &commands).await;
    assert_eq!((status, v), (StatusCode::OK, json!({ "applied": 15 })));
    sim.cloud.faults(|f| {
        assert_eq!(f.blue_after_success, crate::BlueAfterSuccess::Leave);
        assert_eq!(f.spot_finish_delay_ms, 30_000);
        assert_eq!(f.fail_deployments.values().next().unwrap().code, "HOOK_EXECUTION_FAILURE");
        assert_eq!(f.hang_deployments.len(), 1);
        assert_eq!((f.drop_next_events, f.duplicate_next_events), (1, 2));
        assert_eq!((f.deployment_step_ms, f.tag_delay_ms, f.green_launch_delay_ms), (5, 5, 20));
        assert!(f.all_green_unhealthy && f.unhealthy.len() == 1);
        assert_eq!(f.pending_api_faults("create"), 2);
        assert_eq!(
            f.take_scripted("set_capacity"),
            Some(RemoteError::Throttled { message: "rate exceeded (simulated)".into(), retry_after_ms: Some(2000) })
        );
        assert_eq!(f.pending_api_faults("describe_instances"), 2);
        assert_eq!(f.take_scripted("deployment_group"), Some(RemoteError::NotFound("gone".into())));
        assert_eq!(
            f.take_scripted("continue_deployment"),
            Some(RemoteError::Rejected { code: "X".into(), message: "no".into() })
        );
    });

    let unavailable = json!({ "kind": "unavailable" });
    for (bad, says) in [
        (
            json!({ "failNext": { "op": "launch", "error": unavailable } }),
            vec!["unknown operation `launch`", "setCapacity"],
        ),
        (json!({ "loseResponse": { "op": "set_capacity" } }), vec!["unknown operation `set_capacity`", "setCapacity"]),
        (json!({ "explode": true }), vec!["unknown variant `explode`", "`failNext`"]),
        (json!({ "dropNextEvents": 1, "dropAllEvents": true }), vec!["exactly one key"]),
        (
            json!({ "failNext": { "op": "get", "error": { "Throttled": { "message": "x" } } } }),
            vec!["failNext.error", "`kind`"],
        ),
        (
            json!({ "failNext": { "op": "get", "error": { "kind": "Throttled" } } }),
            vec!["unknown variant `Throttled`", "`throttled`"],
        ),
        (
            json!({ "failNext": { "op": "get", "error": { "kind": "throttled", "retry_after_ms": 5 } } }),
            vec!["unknown field `retry_after_ms`", "`retryAfterMs`"],
        ),
        (json!({ "failNext": { "op": "get", "error": { "kind": "rejected" } } }), vec!["missing field `code`"]),
        (json!({ "failNext": { "op": "get", "error": { "kind": "rejected", "code": "" } } }), vec!["error.code"]),
        (json!({ "failNext": { "op": "get", "error": unavailable, "time": 2 } }), vec!["unknown field `time`"]),
        (
            json!({ "failDeployments": { "application": "app", "deployment_group": "dg" } }),
            vec!["failDeployments", "unknown field `deployment_group`"],
        ),
        (
            json!({ "delays": { "green_launch_ms": 5 } }),
            vec!["delays", "unknown field `green_launch_ms`", "`greenLaunchMs`"],
        ),
        (json!({ "unhealthy": { "instances": ["web-1"] } }), vec!["unhealthy.instances[0]", "`web-1`"]),
        (json!({ "dropNextEvents": -1 }), vec!["dropNextEvents", "invalid value"]),
        (
            json!([{ "dropNextEvents": 7 }, { "hangDeployments": { "application": "", "deploymentGroup": "dg" } }]),
            vec!["#2"],
        ),
    ] {
        refused(&sim, "/_sim/faults", &bad, StatusCode::BAD_REQUEST, &says).await;
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
