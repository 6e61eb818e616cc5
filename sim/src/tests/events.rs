//! The EventBridge envelopes: the documented fields, unique ids, clock time, and the event faults.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Setup, World, deployment_states, tag};

#[test]
fn envelopes_have_the_documented_fields() {
    let w = World::new(Setup::default());
    w.green_up();
    let d = w.create(vec![tag("env", "green")]);
    let created_at = w.now();
    w.run_until_terminal(&d);
    let events: Vec<Value> = w.cloud.drain_events().iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(events.len(), 4);
    let ids: BTreeSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "ids are unique");

    let start = &events[0];
    assert_eq!(start["version"], "0");
    assert_eq!(start["detail-type"], "CodeDeploy Deployment State-change Notification");
    assert_eq!(start["source"], "aws.codedeploy");
    assert_eq!(start["account"], "123456789012");
    assert_eq!(start["region"], "us-east-1");
    // Created at 00:00:03 (green up after 3 s), START one step later.
    assert_eq!(created_at, super::T0 + 3_000);
    assert_eq!(start["time"], "2026-01-01T00:00:04Z");
    assert_eq!(
        start["resources"],
        serde_json::json!([
            "arn:aws:codedeploy:us-east-1:123456789012:application:app",
            "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:app/dg"
        ])
    );
    let detail = &start["detail"];
    assert_eq!(detail["application"], "app");
    assert_eq!(detail["deploymentGroup"], "dg");
    assert_eq!(detail["deploymentId"], d.as_str());
    assert_eq!(detail["state"], "START");
    assert_eq!(detail["region"], "us-east-1");
    assert_eq!(detail["instanceGroupId"].as_str().unwrap().len(), 36);
    assert!(detail.get("instanceId").is_none());

    let instance = &events[1];
    let green = w.cloud.group_state(&w.group).unwrap().instances[0].id.to_string();
    assert_eq!(instance["detail-type"], "CodeDeploy Instance State-change Notification");
    assert_eq!(instance["detail"]["instanceId"], green.as_str());
    assert_eq!(instance["detail"]["instanceGroupId"], detail["instanceGroupId"]);
    assert_eq!(instance["resources"][0], format!("arn:aws:ec2:us-east-1:123456789012:instance/{green}"));
    assert_eq!(instance["resources"][1], "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:app/dg");
    assert_eq!(instance["resources"][2], "arn:aws:codedeploy:us-east-1:123456789012:application:app");

    assert_eq!(events[3]["detail"]["state"], "SUCCESS");
    assert!(w.cloud.drain_events().is_empty(), "drain empties the queue");
}

#[test]
fn events_can_be_lost_or_duplicated() {
    let w = World::new(Setup::default());
    w.green_up();
    w.cloud.faults(|f| {
        f.drop_next_events = 1;
        f.duplicate_next_events = 1;
    });
    let d = w.create(vec![tag("env", "green")]);
    w.run_until_terminal(&d);
    let events = w.cloud.drain_events();
    assert_eq!(deployment_states(&events), ["SUCCESS"], "START was lost");
    assert_eq!(events.len(), 4, "instance START twice, instance SUCCESS, SUCCESS");
    assert_eq!(events[0], events[1], "the instance START came twice, same id");

    let w = World::new(Setup::default());
    w.cloud.faults(|f| f.drop_all_events = true);
    w.green_up();
    let d = w.create(vec![tag("env", "green")]);
    w.run_until_terminal(&d);
    assert!(w.cloud.drain_events().is_empty());
    assert_eq!(w.status(&d).as_str(), "Succeeded", "losing events changes nothing else");
}
