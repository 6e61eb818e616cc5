//! `infra_up` / `infra_down` on the emulator: idempotence, repair, and that the rules really route
//! rollout requests, approvals and cancels (also on an upgraded installation) to the intake queue and
//! CodeDeploy events (of the chosen applications only) to the events queue.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::QueueAttributeName;
use greenfleet_core::ports::{MessageQueue, SagaStore};

use super::{emulator, saga, unique};
use crate::dynamo::DynamoStore;
use crate::provision::{
    CODEDEPLOY_DETAIL_TYPES, INTAKE_DETAIL_TYPES, Names, ProvisionOptions, QueueKind, ROLLOUT_APPROVED,
    ROLLOUT_CANCEL_REQUESTED, ROLLOUT_REQUESTED, infra_down, infra_up,
};
use crate::sqs::SqsQueue;

async fn attribute(sqs: &aws_sdk_sqs::Client, url: &str, name: QueueAttributeName) -> String {
    let out = sqs.get_queue_attributes().queue_url(url).attribute_names(name.clone()).send().await.expect("attributes");
    out.attributes().and_then(|a| a.get(&name)).cloned().unwrap_or_default()
}

async fn redrive_count(sqs: &aws_sdk_sqs::Client, url: &str) -> (String, String) {
    let raw = attribute(sqs, url, QueueAttributeName::RedrivePolicy).await;
    let v: serde_json::Value = serde_json::from_str(&raw).expect("redrive policy JSON");
    let count = match &v["maxReceiveCount"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (count, v["deadLetterTargetArn"].as_str().unwrap_or_default().to_owned())
}

async fn put(eb: &aws_sdk_eventbridge::Client, entry: PutEventsRequestEntry) {
    let out = eb.put_events().entries(entry).send().await.expect("put events");
    assert_eq!(out.failed_entry_count(), 0, "{:?}", out.entries());
}

async fn envelopes(q: &SqsQueue, n: usize, wait_ms: u64) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let batch = q.receive(10, wait_ms).await.expect("receive");
        if batch.is_empty() {
            break;
        }
        for d in batch {
            out.push(serde_json::from_str(&d.body).expect("envelope JSON"));
            q.ack(&[d.receipt]).await.expect("ack");
        }
    }
    out
}

#[tokio::test]
async fn infra_up_is_idempotent_routes_events_and_infra_down_cleans_up() {
    let cfg = emulator().await;
    let names = Names::new(&unique("infra")).expect("names");
    let app = format!("{}-app", names.prefix());
    let opts = ProvisionOptions {
        codedeploy_applications: vec![app.clone()],
        table_wait: Duration::from_secs(60),
        ..ProvisionOptions::default()
    };
    let p = infra_up(&cfg, &names, &opts).await.expect("infra up");
    assert_eq!(infra_up(&cfg, &names, &opts).await.expect("infra up again"), p, "a second run changes nothing");
    assert_eq!(p.table, names.table());
    assert_eq!(p.bus_name, names.bus());

    let sqs = aws_sdk_sqs::Client::new(&cfg);
    for kind in QueueKind::ALL {
        let q = p.queue(kind);
        assert_eq!(q.name, names.queue(kind));
        assert_eq!(attribute(&sqs, &q.url, QueueAttributeName::VisibilityTimeout).await, "60");
        assert_eq!(redrive_count(&sqs, &q.url).await, ("5".to_owned(), q.dlq_arn.clone()));
    }
    let policy = attribute(&sqs, &p.events.url, QueueAttributeName::Policy).await;
    assert!(policy.contains(&p.codedeploy_rule_arn) && policy.contains("events.amazonaws.com"), "{policy}");
    let policy = attribute(&sqs, &p.intake.url, QueueAttributeName::Policy).await;
    assert!(policy.contains(&p.requests_rule_arn), "{policy}");

    // Changed options repair existing queues.
    let tighter = ProvisionOptions { max_receive_count: 3, ..opts.clone() };
    let again = infra_up(&cfg, &names, &tighter).await.expect("infra up with new options");
    assert_eq!(redrive_count(&sqs, &again.steps.url).await.0, "3");

    // A rollout request on greenfleet's bus reaches the intake queue.
    let eb = aws_sdk_eventbridge::Client::new(&cfg);
    let request = serde_json::json!({"schemaVersion": 1, "requestId": "rel-routed"});
    let entry = PutEventsRequestEntry::builder()
        .source("ci.pipeline")
        .detail_type(ROLLOUT_REQUESTED)
        .detail(request.to_string())
        .event_bus_name(&p.bus_name)
        .build();
    put(&eb, entry).await;
    let intake = SqsQueue::new(sqs.clone(), p.intake.url.clone());
    let got = envelopes(&intake, 1, 5_000).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["detail-type"], ROLLOUT_REQUESTED);
    assert_eq!(got[0]["detail"], request);

    // CodeDeploy events of the managed application reach the events queue; others do not.
    let events = SqsQueue::new(sqs.clone(), p.events.url.clone());
    for (application, state) in [(app.as_str(), "SUCCESS"), ("someone-elses-app", "FAILURE")] {
        let detail = serde_json::json!({
            "application": application, "deploymentGroup": "web-bg", "deploymentId": "d-ABCDEF123",
            "state": state, "region": "us-east-1", "instanceGroupId": "9fd2fbef",
        });
        let entry = PutEventsRequestEntry::builder()
            .source("aws.codedeploy")
            .detail_type(CODEDEPLOY_DETAIL_TYPES[0])
            .detail(detail.to_string())
            .build();
        put(&eb, entry).await;
    }
    let got = envelopes(&events, 2, 2_000).await;
    assert_eq!(got.len(), 1, "only the managed application's event: {got:?}");
    assert_eq!(got[0]["source"], "aws.codedeploy");
    assert_eq!(got[0]["detail"]["application"], app.as_str());

    // The table works as a saga store.
    let store = DynamoStore::from_config(&cfg, p.table.clone());
    store.create(&saga("rel-infra", 1_700_000_000_000)).await.expect("create a saga");

    infra_down(&cfg, &names).await.expect("infra down");
    infra_down(&cfg, &names).await.expect("infra down twice");
    for kind in QueueKind::ALL {
        for name in [names.queue(kind), names.dlq(kind)] {
            let gone = sqs.get_queue_url().queue_name(&name).send().await;
            assert!(gone.is_err(), "{name} should be deleted");
        }
    }
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    assert!(ddb.describe_table().table_name(&p.table).send().await.is_err(), "table should be deleted");
}

/// An installation made before approvals and cancels could be published: its `<prefix>-requests` rule
/// matches `Rollout Requested` only. `infra up` gives it the new pattern, after which approvals and
/// cancels on greenfleet's bus reach the intake queue (and greenfleet's own lifecycle events do not).
#[tokio::test]
async fn infra_up_upgrades_the_requests_rule_to_route_approvals_and_cancels() {
    let cfg = emulator().await;
    let names = Names::new(&unique("oprule")).expect("names");
    let opts = ProvisionOptions { table_wait: Duration::from_secs(60), ..ProvisionOptions::default() };
    let p = infra_up(&cfg, &names, &opts).await.expect("infra up");
    let eb = aws_sdk_eventbridge::Client::new(&cfg);
    let old = serde_json::json!({ "detail-type": [ROLLOUT_REQUESTED] }).to_string();
    eb.put_rule()
        .name(names.requests_rule())
        .event_bus_name(&p.bus_name)
        .event_pattern(&old)
        .send()
        .await
        .expect("the rule as an older greenfleet made it");
    let rule = eb.describe_rule().name(names.requests_rule()).event_bus_name(&p.bus_name).send().await.expect("rule");
    assert_eq!(rule.event_pattern(), Some(old.as_str()), "the old pattern is in place");

    assert_eq!(infra_up(&cfg, &names, &opts).await.expect("infra up again"), p);
    let rule = eb.describe_rule().name(names.requests_rule()).event_bus_name(&p.bus_name).send().await.expect("rule");
    let pattern: serde_json::Value = serde_json::from_str(rule.event_pattern().unwrap_or_default()).expect("JSON");
    assert_eq!(pattern["detail-type"], serde_json::json!(INTAKE_DETAIL_TYPES));

    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let intake = SqsQueue::new(sqs, p.intake.url.clone());
    for (detail_type, source) in [
        (ROLLOUT_APPROVED, "chatops.bot"),
        (ROLLOUT_CANCEL_REQUESTED, "change.mgmt"),
        ("Rollout Succeeded", "greenfleet"),
    ] {
        let detail = serde_json::json!({"rolloutId": "rel-routed", "by": "ops"});
        let entry = PutEventsRequestEntry::builder()
            .source(source)
            .detail_type(detail_type)
            .detail(detail.to_string())
            .event_bus_name(&p.bus_name)
            .build();
        put(&eb, entry).await;
    }
    let mut got: Vec<String> = envelopes(&intake, 3, 3_000)
        .await
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap_or_default().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, [ROLLOUT_APPROVED, ROLLOUT_CANCEL_REQUESTED], "commands only, no lifecycle event");
    infra_down(&cfg, &names).await.expect("infra down");
}
