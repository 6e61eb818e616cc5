//! The Spot face: envelopes, status codes, auth, and the model's errors and faults over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ACCOUNT, GROUP, Sim, TOKEN, eventually};

fn items(v: &Value) -> &Vec<Value> {
    v["response"]["items"].as_array().unwrap()
}

fn error_code(v: &Value) -> &str {
    v["response"]["errors"][0]["code"].as_str().unwrap()
}

#[tokio::test]
async fn group_status_capacity_and_detach() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;

    let (status, v) = sim.spot_get(&format!("/aws/ec2/group/{GROUP}?accountId=act-123")).await;
    assert_eq!(status, StatusCode::OK);
    let request = &v["request"];
    assert_eq!(request["url"], format!("/aws/ec2/group/{GROUP}?accountId=act-123"));
    assert_eq!(request["method"], "GET");
    assert_eq!(request["id"].as_str().unwrap().len(), 36);
    assert!(request["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["response"]["status"], json!({ "code": 200, "message": "OK" }));
    assert_eq!(v["response"]["kind"], "spotinst:aws:ec2:group");
    assert_eq!(v["response"]["count"], 1);
    let group = &items(&v)[0];
    assert_eq!(group["id"], GROUP);
    assert_eq!(group["capacity"], json!({ "minimum": 1, "maximum": 3, "target": 2, "unit": "instance" }));
    assert_eq!(group["compute"]["launchSpecification"]["tags"], json!([{ "tagKey": "Name", "tagValue": "web" }]));
    assert_eq!(
        group["thirdPartiesIntegration"]["codeDeploy"]["deploymentGroups"],
        json!([{ "applicationName": "app", "deploymentGroupName": "dg" }])
    );

    let status_path = format!("/aws/ec2/group/{GROUP}/status");
    let (status, v) = sim.spot_get(&status_path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["response"]["count"], 2);
    let first = &items(&v)[0];
    for field in ["spotInstanceRequestId", "instanceType", "product", "availabilityZone", "privateIp", "createdAt"] {
        assert!(first[field].is_string(), "{field} in {first}");
    }
    assert_eq!(
        (&first["groupId"], &first["status"], &first["lockStatus"]),
        (&json!(GROUP), &json!("fulfilled"), &json!("unlocked"))
    );
    assert!(first.get("tags").is_none(), "Spot's instance items carry no tags (EC2 does): {first}");
    let victim = first["instanceId"].as_str().unwrap().to_owned();

    // Only the target is given: minimum and maximum keep their values.
    let capacity_path = format!("/aws/ec2/group/{GROUP}/capacity");
    let (status, v) = sim.spot(Method::PUT, &capacity_path, Some(&json!({ "capacity": { "target": 3 } }))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["response"]["kind"], "spotinst:aws:ec2:group:capacity");
    assert_eq!(items(&v)[0], json!({ "capacity": { "minimum": 1, "maximum": 3, "target": 3 } }));
    let (status, v) = sim
        .spot(Method::PUT, &capacity_path, Some(&json!({ "capacity": { "minimum": 1, "maximum": 3, "target": 4 } })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["response"]["status"], json!({ "code": 400, "message": "Bad Request" }));
    assert_eq!(error_code(&v), "INVALID_CAPACITY");
    assert!(v["response"]["errors"][0]["message"].as_str().unwrap().contains("minimum <= target <= maximum"));

    let detach = json!({ "instancesToDetach": [victim], "shouldTerminateInstances": true,
        "shouldDecrementTargetCapacity": true, "drainingTimeout": 0 });
    let (status, v) = sim.spot(Method::PUT, &format!("/aws/ec2/group/{GROUP}/detachInstances"), Some(&detach)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["response"]["kind"], "spotinst:aws:ec2:detachInstances");
    assert!(v["response"].get("items").is_none());
    let (_, v) = sim.spot_get(&status_path).await;
    assert!(items(&v).iter().all(|i| i["instanceId"] != victim.as_str()));
    let (_, v) = sim.spot_get(&format!("/aws/ec2/group/{GROUP}")).await;
    assert_eq!(items(&v)[0]["capacity"]["target"], 2, "detach decrements the target");
    sim.shutdown().await;
}

#[tokio::test]
async fn blue_green_create_get_and_stop() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let path = format!("/aws/ec2/group/{GROUP}/codeDeploy/blueGreenDeployment");
    let (status, v) = sim.spot_get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((items(&v).len(), &v["response"]["count"]), (0, &json!(0)));

    let body = json!({ "deployment": { "timeout": 20, "tags": [{ "tagKey": "version", "tagValue": "green" }],
        "deploymentGroups": [{ "applicationName": "app", "deploymentGroupName": "dg" }] } });
    let (status, v) = sim.spot(Method::POST, &path, Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["response"]["kind"], "spotinst:aws:ec2:group:codeDeploy:blueGreenDeployment");
    let item = &items(&v)[0];
    let id = item["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cdbg-"), "{id}");
    assert_eq!((&item["groupId"], &item["state"]), (&json!(GROUP), &json!("STARTING")));
    assert_eq!(item["config"], body["deployment"]);

    let (status, v) = sim.spot(Method::POST, &path, Some(&body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "DEPLOYMENT_ALREADY_IN_PROGRESS");

    // Green tags land after the instances run (F5), in EC2, where CodeDeploy looks.
    eventually("green tagged", async || {
        let xml = sim.describe_instances("Filter.1.Name=tag%3Aversion&Filter.1.Value.1=green").await;
        (xml.matches("<instanceId>").count() == 2).then_some(())
    })
    .await;

    let (status, v) = sim.spot(Method::PUT, &format!("{path}/{id}/stop"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["response"].get("items").is_none());
    let (_, v) = sim.spot_get(&path).await;
    assert_eq!((&items(&v)[0]["id"], &items(&v)[0]["state"]), (&json!(id), &json!("STOPPED")));

    // A second one is listed first.
    let (status, _) = sim.spot(Method::POST, &path, Some(&body)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, v) = sim.spot_get(&path).await;
    assert_eq!(items(&v).len(), 2);
    assert_eq!(items(&v)[1]["id"], id.as_str());
    assert_ne!(items(&v)[0]["id"], id.as_str());
    // STARTING, or already IN_PROGRESS if the (20 ms) green instances came up meanwhile.
    assert_ne!(items(&v)[0]["state"], "STOPPED");
    sim.shutdown().await;
}

#[tokio::test]
async fn bearer_token_is_required_and_checked_when_configured() {
    let sim = Sim::start(Some(TOKEN)).await;
    sim.cloud.add_group(crate::GroupSetup {
        id: greenfleet_core::ids::ElastigroupId::parse(GROUP).unwrap(),
        name: "web".into(),
        capacity: greenfleet_core::cloud::Capacity { minimum: 0, maximum: 1, target: 0 },
        group_tags: vec![],
        blue_tags: vec![],
        codedeploy: vec![],
    });
    let url = format!("{}/aws/ec2/group/{GROUP}", sim.base);
    let (status, v) = Sim::read(sim.http.get(&url).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["response"]["status"]["code"], 401);
    assert_eq!(error_code(&v), "UNAUTHORIZED");
    let (status, _) = Sim::read(sim.http.get(&url).bearer_auth("wrong").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = sim.spot_get(&format!("/aws/ec2/group/{GROUP}")).await;
    assert_eq!(status, StatusCode::OK);
    // No thirdPartiesIntegration without deployment groups.
    assert!(items(&v)[0].get("thirdPartiesIntegration").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn errors_and_scripted_faults_over_http() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;

    // A missing group is answered as Spot does: 400 with GROUP_DOESNT_EXIST, on every path under it.
    for path in ["", "/status", "/capacity", "/codeDeploy/blueGreenDeployment"] {
        let (status, v) = if path == "/capacity" {
            sim.spot(Method::PUT, &format!("/aws/ec2/group/sig-ffffffff{path}"), Some(&json!({ "capacity": {} }))).await
        } else {
            sim.spot_get(&format!("/aws/ec2/group/sig-ffffffff{path}")).await
        };
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert_eq!(v["response"]["status"], json!({ "code": 400, "message": "Bad Request" }));
        assert_eq!(error_code(&v), "GROUP_DOESNT_EXIST", "{path}");
        assert!(v["response"]["errors"][0]["message"].as_str().unwrap().contains("sig-ffffffff"));
        assert!(v["request"]["id"].is_string());
    }
    // A Blue/Green deployment the group does not have is something else: Spot documents no answer.
    let (status, v) = sim
        .spot(Method::PUT, &format!("/aws/ec2/group/{GROUP}/codeDeploy/blueGreenDeployment/cdbg-0000/stop"), None)
        .await;
    assert_eq!((status, error_code(&v)), (StatusCode::NOT_FOUND, "NOT_FOUND"));

    let (status, v) = sim.spot_get("/aws/ec2/group/not-a-group").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "VALIDATION_ERROR");

    let (status, v) = sim.spot_get("/aws/ec2/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&v), "NOT_FOUND");

    let capacity_path = format!("/aws/ec2/group/{GROUP}/capacity");
    let request = sim
        .http
        .put(format!("{}{capacity_path}?accountId={ACCOUNT}", sim.base))
        .bearer_auth(TOKEN)
        .body("{\"capacity\":");
    let (status, v) = Sim::read(request.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "INVALID_JSON");
    let (status, v) = sim.spot(Method::PUT, &capacity_path, Some(&json!({ "target": 1 }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["response"]["errors"][0]["message"].as_str().unwrap().contains("`capacity` is missing"));
    let detach = json!({ "instancesToDetach": ["i-1"], "shouldTerminateInstances": false,
        "shouldDecrementTargetCapacity": true });
    let (status, _) = sim.spot(Method::PUT, &format!("/aws/ec2/group/{GROUP}/detachInstances"), Some(&detach)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let faults = json!([
        { "failNext": { "op": "group",
            "error": { "kind": "throttled", "message": "slow down", "retryAfterMs": 2_500 } } },
        { "failNext": { "op": "instances", "error": { "kind": "rejected", "code": "SOME_CODE", "message": "no" } } },
        { "failNext": { "op": "green", "error": { "kind": "unavailable", "message": "gateway down" } } },
        { "loseResponse": { "op": "setCapacity" } },
    ]);
    let (status, v) = sim.admin_post("/_sim/faults", &faults).await;
    assert_eq!((status, &v["applied"]), (StatusCode::OK, &json!(4)));

    let response = sim.http.get(format!("{}/aws/ec2/group/{GROUP}", sim.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["x-ratelimit-reset"], "3");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
    assert!(response.headers().contains_key("x-ratelimit-limit"));
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["response"]["status"], json!({ "code": 429, "message": "Too Many Requests" }));
    assert_eq!(v["response"]["data"], "Rate limit exceeded");
    let (status, _) = sim.spot_get(&format!("/aws/ec2/group/{GROUP}")).await;
    assert_eq!(status, StatusCode::OK, "one scripted error, then normal service");

    let (status, v) = sim.spot_get(&format!("/aws/ec2/group/{GROUP}/status")).await;
    assert_eq!((status, error_code(&v)), (StatusCode::BAD_REQUEST, "SOME_CODE"));
    let (status, v) = sim.spot_get(&format!("/aws/ec2/group/{GROUP}/codeDeploy/blueGreenDeployment")).await;
    assert_eq!((status, error_code(&v)), (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"));

    // A lost response: the caller sees 503, but the change was made.
    let (status, _) = sim.spot(Method::PUT, &capacity_path, Some(&json!({ "capacity": { "target": 1 } }))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (_, v) = sim.spot_get(&format!("/aws/ec2/group/{GROUP}")).await;
    assert_eq!(items(&v)[0]["capacity"]["target"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn reads_are_counted_apart_from_writes() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    for path in [format!("/aws/ec2/group/{GROUP}"), format!("/aws/ec2/group/{GROUP}/status")] {
        assert_eq!(sim.spot_get(&path).await.0, StatusCode::OK);
    }
    assert!(sim.cloud.api_writes().is_empty(), "{:?}", sim.cloud.api_writes());
    assert_eq!(sim.cloud.api_calls().values().sum::<u64>(), 2);

    let capacity = json!({ "capacity": { "target": 3 } });
    let (status, _) = sim.spot(Method::PUT, &format!("/aws/ec2/group/{GROUP}/capacity"), Some(&capacity)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sim.cloud.api_writes(), [("set_capacity".to_owned(), 1)].into());
    sim.shutdown().await;
}

/// `accountId` is required where Spot's definition requires it (capacity, Blue/Green), optional on the
/// other calls, and must look like a Spot account id wherever it is given.
#[tokio::test]
async fn account_id_is_required_where_spot_requires_it() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let send = async |method: Method, path: String, body: Option<Value>| {
        let mut request = sim.http.request(method, format!("{}{path}", sim.base)).bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Sim::read(request.send().await.unwrap()).await
    };
    let green = format!("/aws/ec2/group/{GROUP}/codeDeploy/blueGreenDeployment");
    let body = json!({ "deployment": { "timeout": 20, "tags": [{ "tagKey": "version", "tagValue": "green" }],
        "deploymentGroups": [{ "applicationName": "app", "deploymentGroupName": "dg" }] } });
    for (method, path, body) in [
        (Method::PUT, format!("/aws/ec2/group/{GROUP}/capacity"), Some(json!({ "capacity": { "target": 3 } }))),
        (Method::GET, green.clone(), None),
        (Method::POST, green.clone(), Some(body)),
    ] {
        let (status, v) = send(method.clone(), path.clone(), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {v}");
        assert_eq!(v["response"]["status"], json!({ "code": 400, "message": "Bad Request" }));
        assert_eq!(error_code(&v), "VALIDATION_ERROR");
        let message = v["response"]["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("accountId is required") && message.contains("act-"), "{message}");
        assert!(v["request"]["id"].is_string(), "the envelope names the request: {v}");
    }
    assert!(sim.cloud.api_calls().is_empty(), "refused before the model: {:?}", sim.cloud.api_calls());
    assert_eq!(
        sim.cloud.group_state(&greenfleet_core::ids::ElastigroupId::parse(GROUP).unwrap()).unwrap().capacity.target,
        2
    );

    // Optional on the group, its instances and detach (their definitions say `required: false`).
    let (status, _) = send(Method::GET, format!("/aws/ec2/group/{GROUP}/status"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = send(Method::GET, format!("/aws/ec2/group/{GROUP}?accountId=123"), None).await;
    assert_eq!((status, error_code(&v)), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"));
    assert!(v["response"]["errors"][0]["message"].as_str().unwrap().contains("`123` is not a Spot account id"));
    let (status, _) = send(Method::GET, format!("{green}?accountId={ACCOUNT}"), None).await;
    assert_eq!(status, StatusCode::OK);
    sim.shutdown().await;
}
