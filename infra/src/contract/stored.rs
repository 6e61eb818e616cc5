//! The DynamoDB store's stored format and retention, read back with plain DynamoDB calls: every saga
//! item carries `stateVersion` 1 and the status projection; unversioned and newer state is refused
//! naming the rollout (and left as it is); finished rollouts carry `expiresAt`, running ones and
//! leases never; `infra up` turns TTL on for `expiresAt`, idempotently.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use greenfleet_core::ids::{RolloutId, Timestamp};
use greenfleet_core::ports::{LeaseOutcome, Leases, SagaStore, StoreError};
use greenfleet_core::saga::{Outcome, Phase};

use super::store::dynamo_store;
use super::{emulator, saga, unique};
use crate::dynamo::{DEFAULT_RETENTION_DAYS, DynamoStore};
use crate::provision::{Names, ProvisionOptions, infra_down, infra_up, table};

const T: u64 = 1_700_000_000_000;

async fn item(store: &DynamoStore, pk: &str) -> HashMap<String, AttributeValue> {
    let client = aws_sdk_dynamodb::Client::new(&emulator().await);
    let out = client
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(pk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem");
    out.item().cloned().expect("the item exists")
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn finished_rollouts_expire_and_running_ones_and_leases_never() {
    let cfg = emulator().await;
    let store = dynamo_store(&cfg).await.with_retention_days(30);
    let running = saga("ttl-running", T);
    store.create(&running).await.expect("create");
    let mut done = saga("ttl-done", T);
    store.create(&done).await.expect("create");
    done.version = 2;
    done.updated_at = Timestamp(T + 90_500);
    done.phase = Phase::Done(Outcome::RolledBack { reason: "test".into() });
    store.save(&done, 1).await.expect("save");
    let key = greenfleet_core::ports::LeaseKey("group#sig-ttl".into());
    let held = store.acquire(&[key], &running.id, Timestamp(T + 60_000), Timestamp(T)).await.expect("acquire");
    assert_eq!(held, LeaseOutcome::Acquired);

    let running_item = item(&store, "saga#ttl-running").await;
    assert_eq!(number(&running_item, "expiresAt"), None, "a running rollout never expires");
    assert_eq!(number(&running_item, "stateVersion"), Some(1));
    let done_item = item(&store, "saga#ttl-done").await;
    assert_eq!(number(&done_item, "expiresAt"), Some((T + 90_500) / 1_000 + 30 * 86_400));
    let lease_item = item(&store, "lease#group#sig-ttl").await;
    assert_eq!(number(&lease_item, "expiresAt"), None, "a lease never expires");

    let state = done_item["state"].as_s().expect("state string");
    let value: serde_json::Value = serde_json::from_str(state).expect("JSON");
    assert_eq!(value["stateVersion"], 1);
    let status: serde_json::Value =
        serde_json::from_str(done_item["rolloutStatus"].as_s().expect("status string")).expect("JSON");
    assert_eq!((status["statusVersion"].as_u64(), status["step"].as_str()), (Some(1), Some("Done(RolledBack)")));
    assert_eq!(DynamoStore::new(aws_sdk_dynamodb::Client::new(&cfg), "t").retention(), DEFAULT_RETENTION_DAYS);
    table::delete(&aws_sdk_dynamodb::Client::new(&cfg), store.table()).await.expect("delete the test table");
}

#[tokio::test]
async fn unversioned_and_newer_state_is_refused_naming_the_rollout_and_left_alone() {
    let cfg = emulator().await;
    let store = dynamo_store(&cfg).await;
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    let original = saga("old-state", T);
    let mut unversioned = greenfleet_core::stored::encode_value(&original).expect("encode");
    unversioned.as_object_mut().expect("object").remove("stateVersion");
    let mut newer = unversioned.clone();
    newer["stateVersion"] = serde_json::json!(2);
    newer["id"] = serde_json::json!("new-state");
    for (id, state, expected) in
        [("old-state", &unversioned, "older greenfleet"), ("new-state", &newer, "upgrade this worker")]
    {
        client
            .put_item()
            .table_name(store.table())
            .item("pk", AttributeValue::S(format!("saga#{id}")))
            .item("version", AttributeValue::N("1".into()))
            .item("state", AttributeValue::S(state.to_string()))
            .send()
            .await
            .expect("put an item of another version");
        let rollout = RolloutId::parse(id).expect("id");
        match store.load(&rollout).await {
            Err(e @ StoreError::Corrupt(_)) => {
                let m = e.to_string();
                assert!(m.contains(&format!("rollout {id}")) && m.contains(expected), "{m}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Refused, never overwritten: the item is as it was put.
        assert_eq!(item(&store, &format!("saga#{id}")).await["state"].as_s().ok(), Some(&state.to_string()));
    }
    table::delete(&client, store.table()).await.expect("delete the test table");
}

#[tokio::test]
async fn infra_up_turns_ttl_on_for_expires_at_idempotently() {
    let cfg = emulator().await;
    let names = Names::new(&unique("ttl")).expect("names");
    let opts = ProvisionOptions::default();
    infra_up(&cfg, &names, &opts).await.expect("infra up");
    infra_up(&cfg, &names, &opts).await.expect("infra up again: TTL already on is fine");
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    let ttl = table::ttl(&client, &names.table()).await.expect("describe TTL");
    assert_eq!(ttl, Some((TimeToLiveStatus::Enabled, "expiresAt".to_owned())));
    infra_down(&cfg, &names).await.expect("infra down");
}
