//! The record of served exchanges: both sides of every request, in order, without the Spot token.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{GROUP, Sim, TOKEN};

#[tokio::test]
async fn every_exchange_is_recorded_in_order_without_the_token() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let setup = sim.recorder.take();
    assert!(setup.iter().all(|e| e.path.starts_with("/_sim/")), "{setup:?}");

    let capacity = json!({ "capacity": { "minimum": 1, "maximum": 3, "target": 3 } });
    let path = format!("/aws/ec2/group/{GROUP}/capacity");
    let (status, answer) = sim.spot(Method::PUT, &format!("{path}?accountId=act-1"), Some(&capacity)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = sim.codedeploy("GetDeployment", &json!({ "deploymentId": "d-NOPE12345" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let seen = sim.recorder.exchanges();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let put = &seen[0];
    assert_eq!(
        (put.method.as_str(), put.path.as_str(), put.query.as_deref()),
        ("PUT", path.as_str(), Some("accountId=act-1"))
    );
    assert_eq!(put.request_header("authorization"), Some("Bearer ***"));
    assert!(seen.iter().all(|e| e.request_headers.iter().all(|(_, v)| !v.contains(TOKEN))));
    assert_eq!(serde_json::from_str::<Value>(&put.request_body).unwrap(), capacity);
    assert_eq!((put.status, serde_json::from_str::<Value>(&put.response_body).unwrap()), (200, answer));
    assert_eq!(put.response_header("content-type"), Some("application/json"));

    let get = &seen[1];
    assert_eq!(get.request_header("x-amz-target"), Some("CodeDeploy_20141006.GetDeployment"));
    assert_eq!(get.status, 400);
    assert!(get.response_body.contains("DeploymentDoesNotExistException"), "{}", get.response_body);
    assert_eq!(sim.recorder.take().len(), 2);
    assert!(sim.recorder.exchanges().is_empty());
    sim.shutdown().await;
}
