//! Event-triggered rollouts end to end on the emulator, with two workers started with
//! `examples/triggers.json` (its application renamed into the environment): an S3 `Object Created`
//! event for a new bundle, put on the default bus, starts and completes a rollout of that revision;
//! an event outside the pattern starts nothing; the same event delivered again starts nothing new; a
//! matching event the template cannot be filled from is rejected naming the missing field.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use greenfleet_core::ports::SagaStore as _;
use greenfleet_core::trigger::request_id_for;
use greenfleet_infra::provision::QueueKind;
use greenfleet_tests::env::{TestEnv, eventually_async, spawn_env_with_triggers};
use serde_json::{Value, json};

const OUTCOME: Duration = Duration::from_secs(120);
const SETTLE: Duration = Duration::from_secs(30);
const TRIGGER: &str = "shop-bundles";

/// `examples/triggers.json` with its application renamed into the environment of `prefix`.
fn trigger_file(prefix: &str) -> std::path::PathBuf {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/triggers.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
    let rollout = &mut doc["triggers"][0]["rollout"];
    assert_eq!(rollout["application"], "shop", "the example deploys the demo's shop");
    rollout["application"] = json!(format!("{prefix}-shop"));
    let path = trigger_path(prefix);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

fn trigger_path(prefix: &str) -> std::path::PathBuf {
    greenfleet_tests::process::log_dir().join(format!("{prefix}-triggers.json"))
}

/// The `detail` S3 puts in an `Object Created` event.
fn s3_detail(bucket: &str, key: &str) -> Value {
    json!({
        "version": "0",
        "bucket": {"name": bucket},
        "object": {"key": key, "size": 2048, "etag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0062E99A88DC407460"},
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "reason": "PutObject"
    })
}

/// Puts an S3-style `Object Created` event on the default bus, as S3 does; returns its event id.
async fn put_object_created(env: &TestEnv, bucket: &str, key: &str) -> String {
    let entry = PutEventsRequestEntry::builder()
        .source("aws.s3")
        .detail_type("Object Created")
        .resources(format!("arn:aws:s3:::{bucket}"))
        .detail(s3_detail(bucket, key).to_string())
        .event_bus_name("default")
        .build();
    let out = aws_sdk_eventbridge::Client::new(&env.sdk).put_events().entries(entry).send().await.unwrap();
    assert_eq!(out.failed_entry_count(), 0, "{out:?}");
    out.entries()[0].event_id().expect("an event id").to_owned()
}

/// What EventBridge delivers to the queue for that event (to deliver it again, as EventBridge may).
fn envelope(event_id: &str, bucket: &str, key: &str) -> Value {
    json!({
        "version": "0", "id": event_id, "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-11-26T16:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")], "detail": s3_detail(bucket, key)
    })
}

/// The CodeDeploy deployment's revision, read from the simulator's CodeDeploy API.
async fn deployed_revision(env: &TestEnv, deployment_id: &str) -> Value {
    let resp = reqwest::Client::new()
        .post(&env.sim_url)
        .header("x-amz-target", "CodeDeploy_20141006.GetDeployment")
        .header("content-type", "application/x-amz-json-1.1")
        .body(json!({"deploymentId": deployment_id}).to_string())
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    body["deploymentInfo"]["revision"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_upload_under_the_prefix_rolls_out_that_bundle_once() {
    let env = spawn_env_with_triggers(trigger_file).await;
    let shop = env.scenario("shop");
    env.install(&shop);
    let events = env.events_observer().await;

    // Outside the pattern: another prefix in the same bucket.
    let outside = put_object_created(&env, "releases", "search/6.1.zip").await;
    // The new bundle.
    let event_id = put_object_created(&env, "releases", "shop/6.1.zip").await;
    let id = request_id_for(TRIGGER, &event_id);

    let saga = env.wait_for_outcome(&id, OUTCOME).await;
    env.assert_outcome(&saga, "Succeeded");
    assert_eq!(saga.request.revision.describe(), "s3://releases/shop/6.1.zip (zip)");
    let tags: Vec<String> = saga.request.green_tags.iter().map(ToString::to_string).collect();
    assert_eq!(tags, ["version=6.1"], "the version tag is the key's file stem");
    assert_eq!(saga.request.requested_by, "trigger shop-bundles");
    let deployment = saga.facts.deployment_id.as_ref().expect("a CodeDeploy deployment");
    let revision = deployed_revision(&env, deployment.as_str()).await;
    assert_eq!(revision["revisionType"], "S3", "{revision}");
    assert_eq!(revision["s3Location"]["bucket"], "releases");
    assert_eq!(revision["s3Location"]["key"], "shop/6.1.zip");
    assert_eq!(revision["s3Location"]["eTag"], "d41d8cd98f00b204e9800998ecf8427e");

    // EventBridge delivers the same event again (at-least-once), twice: no second rollout. And an
    // event no trigger matches, delivered anyway (say by a broader rule), is ignored, not dead-lettered.
    let again = envelope(&event_id, "releases", "shop/6.1.zip").to_string();
    env.submit_raw(&again).await;
    env.submit_raw(&again).await;
    env.submit_raw(&envelope("not-for-us", "releases", "docs/readme.zip").to_string()).await;
    env.wait_queue_idle(&env.provisioned.intake.url, SETTLE).await;
    eventually_async("a worker logged the unmatched event", SETTLE, || async {
        let logs = env.logs();
        if logs.contains("event matches no trigger; ignored") { Ok(()) } else { Err("not yet".to_owned()) }
    })
    .await;
    assert_eq!(env.queue_counts(&env.provisioned.queue(QueueKind::Intake).dlq_url).await, (0, 0, 0));

    assert_eq!(env.cloud.green_starts(&shop.group.id), 1, "one Blue/Green deployment on the group");
    assert_eq!(env.cloud.deployments_created(&shop.deployment_group.name), 1, "one CodeDeploy deployment");
    assert!(
        env.saga(&request_id_for(TRIGGER, &outside)).await.is_none(),
        "the event outside the pattern started nothing"
    );
    let recent = env.store.list_recent(10).await.unwrap();
    let active = env.store.list_active().await.unwrap();
    assert_eq!(recent.len() + active.len(), 1, "one rollout in all: {recent:?} {active:?}");

    // A matching event the template cannot be filled from: `Rollout Rejected`, naming the field.
    let mut no_etag = envelope("no-etag", "releases", "shop/6.2.zip");
    no_etag["detail"]["object"].as_object_mut().unwrap().remove("etag");
    env.submit_raw(&no_etag.to_string()).await;
    let rejected = request_id_for(TRIGGER, "no-etag");
    let e = events.wait_for("Rollout Rejected", SETTLE, |e| e.field("requestId") == rejected).await;
    assert!(
        e.field("reason")
            .contains("`revision.s3.eTag` cannot be filled: the event has no text at `detail.object.etag`"),
        "{}",
        e.detail
    );
    assert!(env.saga(&rejected).await.is_none());

    // The command line: `infra up --triggers` reports the rule; without the trigger, it deletes it.
    let rules = || async {
        let out = aws_sdk_eventbridge::Client::new(&env.sdk)
            .list_rules()
            .name_prefix(env.names.trigger_rule(""))
            .send()
            .await
            .unwrap();
        out.rules().iter().filter_map(|r| r.name()).map(str::to_owned).collect::<Vec<_>>()
    };
    let file = trigger_path(&env.prefix).display().to_string();
    let (code, out, err) = env.cli(&["infra", "up", "--triggers", &file, "--output", "json"], "").await;
    assert_eq!(code, Some(0), "{err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["triggerRules"][0]["trigger"], TRIGGER, "{out}");
    assert_eq!(rules().await, [env.names.trigger_rule(TRIGGER)]);
    let (code, _, err) = env.cli(&["infra", "up"], "").await;
    assert_eq!(code, Some(0), "{err}");
    assert!(rules().await.is_empty(), "{:?}", rules().await);

    env.shutdown().await;
}
