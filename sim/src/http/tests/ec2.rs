//! The EC2 face: `DescribeInstances` in EC2's query protocol, filtered and paged as greenfleet uses it.

use axum::http::StatusCode;

use super::Sim;

#[tokio::test]
async fn describe_instances_filters_by_id_and_tag_and_pages() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let all = sim.describe_instances("Filter.1.Name=tag%3AName&Filter.1.Value.1=web").await;
    assert!(all.starts_with("<?xml"), "{all}");
    assert_eq!(all.matches("<instanceId>").count(), 2, "{all}");
    assert!(all.contains("<instanceState><code>16</code><name>running</name></instanceState>"), "{all}");
    assert!(all.contains("<item><key>env</key><value>blue</value></item>"), "{all}");
    let id = all.split("<instanceId>").nth(1).and_then(|s| s.split('<').next()).unwrap().to_owned();

    // By instance id, with an id EC2 does not know: no error, just absent (as with the filter on AWS).
    let one = sim
        .describe_instances(&format!(
            "Filter.1.Name=instance-id&Filter.1.Value.1={id}&Filter.1.Value.2=i-0000000000000dead"
        ))
        .await;
    assert_eq!(one.matches("<instanceId>").count(), 1, "{one}");

    // A loose instance outside every group is described too: CodeDeploy sees it.
    let (status, v) =
        sim.admin_post("/_sim/instances", &serde_json::json!({"tags": [{"key": "version", "value": "6.0"}]})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let loose = sim.describe_instances("Filter.1.Name=tag%3Aversion&Filter.1.Value.1=6.0").await;
    assert!(loose.contains(v["instanceId"].as_str().unwrap()), "{loose}");

    // Pages of MaxResults, chained by NextToken.
    let first = sim.describe_instances("MaxResults=5").await;
    assert_eq!(first.matches("<instanceId>").count(), 3, "{first}");
    assert!(!first.contains("<nextToken>"), "{first}");
}

#[tokio::test]
async fn bad_describe_requests_get_ec2_errors() {
    let sim = Sim::world("CONTINUE_DEPLOYMENT").await;
    let response = sim
        .http
        .post(&sim.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=RunInstances&Version=2016-11-15")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let xml = response.text().await.unwrap();
    assert!(xml.contains("<Code>InvalidAction</Code>") && xml.contains("DescribeInstances only"), "{xml}");
}
