//! `SagaStore` contract: conditional create and save, the deployment index, active / recent lists.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use greenfleet_core::ids::{DeploymentId, RolloutId, Timestamp};
use greenfleet_core::memory::MemoryStore;
use greenfleet_core::ports::{SagaStore, StoreError};
use greenfleet_core::saga::{HistoryEntry, Outcome, Phase, Saga};

use super::{emulator, saga, unique};
use crate::dynamo::DynamoStore;
use crate::provision::table;

const T: u64 = 1_700_000_000_000;

fn id(s: &str) -> RolloutId {
    RolloutId::parse(s).expect("valid rollout id")
}

fn deployment(s: &str) -> DeploymentId {
    DeploymentId::parse(s).expect("valid deployment id")
}

/// The next version of `s`, changed at `at` by `change`.
fn next(s: &Saga, at: u64, change: impl FnOnce(&mut Saga)) -> Saga {
    let mut n = s.clone();
    n.version += 1;
    n.updated_at = Timestamp(at);
    std::sync::Arc::make_mut(&mut n.history).push(HistoryEntry {
        at: Timestamp(at),
        step: n.phase.name(),
        note: format!("v{}", n.version),
    });
    change(&mut n);
    n
}

/// Create is exclusive; load returns exactly what was stored (history included).
async fn create_and_load(store: &dyn SagaStore) {
    let a = saga("rel-a", T);
    assert!(!a.history.is_empty(), "the fixture should carry history");
    store.create(&a).await.expect("create");
    assert_eq!(store.create(&a).await, Err(StoreError::Conflict), "a second create must conflict");
    let mut other = saga("rel-a", T + 5);
    std::sync::Arc::make_mut(&mut other.request).requested_by = "someone else".into();
    assert_eq!(store.create(&other).await, Err(StoreError::Conflict), "create must not overwrite");
    assert_eq!(store.load(&a.id).await.expect("load"), Some(a.clone()));
    assert_eq!(store.load(&id("rel-missing")).await.expect("load"), None);
}

/// Save succeeds at the expected version only; stale writes and writes to missing sagas conflict.
async fn save_is_conditional(store: &dyn SagaStore) {
    let a = saga("rel-save", T);
    store.create(&a).await.expect("create");
    let a2 = next(&a, T + 10, |s| s.phase = Phase::Lock);
    store.save(&a2, 1).await.expect("save at the expected version");
    assert_eq!(store.load(&a.id).await.expect("load"), Some(a2.clone()), "state and history travel together");

    let stale = next(&a, T + 11, |s| s.phase = Phase::StartGreen);
    assert_eq!(store.save(&stale, 1).await, Err(StoreError::Conflict), "stale version must conflict");
    assert_eq!(store.load(&a.id).await.expect("load"), Some(a2.clone()), "the losing write left no trace");

    let a3 = next(&a2, T + 12, |_| {});
    store.save(&a3, 2).await.expect("save again");
    assert_eq!(store.load(&a.id).await.expect("load").map(|s| s.version), Some(3));

    let ghost = saga("rel-ghost", T);
    assert_eq!(store.save(&ghost, 0).await, Err(StoreError::Conflict), "save never creates");
    assert_eq!(store.load(&ghost.id).await.expect("load"), None);
}

/// A saved deployment id leads back to its rollout.
async fn find_by_deployment(store: &dyn SagaStore) {
    let a = saga("rel-dep", T);
    store.create(&a).await.expect("create");
    let d = deployment("d-ABC123XYZ");
    assert_eq!(store.find_by_deployment(&d).await.expect("find"), None);
    let a2 = next(&a, T + 10, |s| {
        s.phase = Phase::AwaitDeployment;
        s.facts.deployment_id = Some(d.clone());
    });
    store.save(&a2, 1).await.expect("save");
    assert_eq!(store.find_by_deployment(&d).await.expect("find"), Some(a.id.clone()));
    assert_eq!(store.find_by_deployment(&deployment("d-OTHER1")).await.expect("find"), None);
}

/// Active sagas are listed oldest first; done ones leave that list and appear in the recent list,
/// newest first, cut at the limit.
async fn lists_follow_phase_done(store: &dyn SagaStore) {
    let a = saga("rel-list-a", T);
    let b = saga("rel-list-b", T + 1);
    let c = saga("rel-list-c", T + 2);
    for s in [&b, &a] {
        store.create(s).await.expect("create");
    }
    assert_eq!(store.list_active().await.expect("active"), vec![a.summary(), b.summary()]);

    let a_done = next(&a, T + 30, |s| s.phase = Phase::Done(Outcome::Succeeded));
    store.save(&a_done, 1).await.expect("save");
    let b_done =
        next(&b, T + 40, |s| s.phase = Phase::Done(Outcome::RolledBack { reason: "CodeDeploy failed".into() }));
    store.save(&b_done, 1).await.expect("save");
    store.create(&c).await.expect("create");

    assert_eq!(store.list_active().await.expect("active"), vec![c.summary()]);
    let recent = store.list_recent(2).await.expect("recent");
    assert_eq!(recent, vec![b_done.summary(), a_done.summary()], "newest first");
    assert_eq!(recent[0].outcome.as_deref(), Some("RolledBack"));
    assert_eq!(recent[1].phase, "Done(Succeeded)");
    assert_eq!(store.list_recent(1).await.expect("recent"), vec![b_done.summary()]);
    assert_eq!(store.list_recent(0).await.expect("recent"), Vec::new());
}

/// The status projection is read back as written: the projection of the last saved saga.
async fn status_is_the_projection(store: &dyn SagaStore) {
    let a = saga("rel-status", T);
    assert_eq!(store.load_status(&a.id).await.expect("load_status"), None);
    store.create(&a).await.expect("create");
    let done = next(&a, T + 5, |n| n.phase = Phase::Done(Outcome::Succeeded));
    store.save(&done, 1).await.expect("save");
    let status = store.load_status(&a.id).await.expect("load_status").expect("there");
    assert_eq!(status, greenfleet_core::status::RolloutStatus::of(&done));
    assert_eq!((status.step.as_str(), status.outcome.as_deref()), ("Done(Succeeded)", Some("Succeeded")));
}

/// The whole `SagaStore` contract. Each property uses its own rollout ids, so one store serves all.
pub(crate) async fn check_store(make: impl AsyncFn() -> Box<dyn SagaStore>) {
    create_and_load(&*make().await).await;
    save_is_conditional(&*make().await).await;
    find_by_deployment(&*make().await).await;
    lists_follow_phase_done(&*make().await).await;
    status_is_the_projection(&*make().await).await;
}

#[tokio::test]
async fn memory_store_meets_the_contract() {
    check_store(async || Box::new(MemoryStore::default()) as Box<dyn SagaStore>).await;
}

pub(super) async fn dynamo_store(cfg: &aws_config::SdkConfig) -> DynamoStore {
    let name = unique("store");
    let client = aws_sdk_dynamodb::Client::new(cfg);
    table::ensure(&client, &name, Duration::from_secs(60)).await.expect("create the test table");
    DynamoStore::new(client, name)
}

#[tokio::test]
async fn dynamo_store_meets_the_contract() {
    let cfg = emulator().await;
    check_store(async || Box::new(dynamo_store(&cfg).await) as Box<dyn SagaStore>).await;
}

#[tokio::test]
async fn dynamo_store_reports_corrupt_items_and_missing_tables() {
    let cfg = emulator().await;
    let store = dynamo_store(&cfg).await;
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    client
        .put_item()
        .table_name(store.table())
        .item("pk", AttributeValue::S("saga#rel-bad".into()))
        .item("version", AttributeValue::N("1".into()))
        .item("state", AttributeValue::S("{not json".into()))
        .send()
        .await
        .expect("put a bad item");
    match store.load(&id("rel-bad")).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("saga#rel-bad"), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    table::delete(&client, store.table()).await.expect("delete the test table");
    match store.load(&id("rel-a")).await {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("greenfleet infra up"), "{m}"),
        other => panic!("expected Unavailable naming `infra up`, got {other:?}"),
    }
}
