//! [`CodeDeploySdk`]'s `find` against a scripted CodeDeploy (AWS JSON 1.1 on 127.0.0.1, port 0): the
//! list is read to its last page, bounded by `createTimeRange` and never by status, the ids are read in
//! batches of 25, and the latest created match wins.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use aws_sdk_codedeploy::Client;
use aws_sdk_codedeploy::config::{BehaviorVersion, Credentials, Region};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use greenfleet_core::cloud::DeploymentGroupRef;
use greenfleet_core::ids::{DeploymentId, Timestamp};
use greenfleet_core::ports::Deployments;

use super::CodeDeploySdk;

const OURS: &str = "greenfleet rollout r-1";

/// Requests as the server saw them: operation and input.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// 300 deployments in three pages of 100, oldest first; two carry [`OURS`]: one on the first page
/// (created at 1 000 s), a later one on the last page (2 000 s).
fn deployment_ids() -> Vec<String> {
    (0..300)
        .map(|i| {
            if i == 5 {
                "d-OURS1".into()
            } else if i == 250 {
                "d-OURS2".into()
            } else {
                format!("d-X{i:07}")
            }
        })
        .collect()
}

fn info(id: &str) -> Value {
    let (description, created) = match id {
        "d-OURS1" => (OURS, 1_000.0),
        "d-OURS2" => (OURS, 2_000.0),
        _ => ("someone else's", 1_500.0),
    };
    json!({ "deploymentId": id, "description": description, "createTime": created, "status": "Failed" })
}

async fn codedeploy(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let op = target.trim_start_matches("CodeDeploy_20141006.").to_owned();
    let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push((op.clone(), input.clone()));
    let out = match op.as_str() {
        "ListDeployments" => {
            let page: usize = match input["nextToken"].as_str() {
                None => 0,
                Some(t) => t.trim_start_matches("page-").parse().unwrap(),
            };
            let ids = deployment_ids();
            let mut out = json!({ "deployments": ids[page * 100..(page + 1) * 100] });
            if page < 2 {
                out["nextToken"] = json!(format!("page-{}", page + 1));
            }
            out
        }
        "BatchGetDeployments" => {
            let ids = input["deploymentIds"].as_array().unwrap();
            assert!(ids.len() <= 25, "BatchGetDeployments takes at most 25 ids, got {}", ids.len());
            json!({ "deploymentsInfo": ids.iter().map(|id| info(id.as_str().unwrap())).collect::<Vec<_>>() })
        }
        other => panic!("unexpected CodeDeploy operation {other}"),
    };
    ([("content-type", "application/x-amz-json-1.1")], out.to_string()).into_response()
}

async fn serve() -> (CodeDeploySdk, Seen) {
    let seen = Seen::default();
    let app = Router::new().fallback(codedeploy).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = aws_sdk_codedeploy::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(format!("http://{addr}"))
        .build();
    (CodeDeploySdk::new(Client::from_conf(config)), seen)
}

/// Regression: `find` read only the first 200 ids, assuming (undocumented) newest-first order, and
/// searched the group's whole history.
#[tokio::test]
async fn find_reads_every_page_in_the_time_range_and_follows_the_latest_match() {
    let (sdk, seen) = serve().await;
    let group = DeploymentGroupRef { application: "web".into(), deployment_group: "web-bg".into() };
    let after = Timestamp(1_700_000_000_123);
    let found = sdk.find(&group, OURS, after).await.unwrap();
    assert_eq!(found, Some(DeploymentId::parse("d-OURS2").unwrap()), "the later of the two, on the last page");

    let seen = seen.lock().unwrap().clone();
    let lists: Vec<&Value> = seen.iter().filter(|(op, _)| op == "ListDeployments").map(|(_, v)| v).collect();
    assert_eq!(lists.len(), 3, "every page, until one comes without a nextToken");
    for input in &lists {
        assert_eq!(input["applicationName"], "web");
        assert_eq!(input["deploymentGroupName"], "web-bg");
        assert_eq!(input["createTimeRange"]["start"].as_f64(), Some(1_700_000_000.123), "{input}");
        assert!(input["createTimeRange"].get("end").is_none(), "open-ended: {input}");
        assert!(input.get("includeOnlyStatuses").is_none(), "never filtered by status: {input}");
    }
    assert_eq!((lists[1]["nextToken"].as_str(), lists[2]["nextToken"].as_str()), (Some("page-1"), Some("page-2")));
    let batches = seen.iter().filter(|(op, _)| op == "BatchGetDeployments").count();
    assert_eq!(batches, 12, "300 ids in batches of 25");
    assert_eq!(sdk.find(&group, "greenfleet rollout r-2", after).await.unwrap(), None);
}
