//! The orphan sweeper on the embedded engine: a rollout whose compensation could not finish leaves
//! green instances and a raised capacity behind (planted orphans); after a successful rollout, someone
//! changes capacity (planted drift). A dry run lists the repairs and changes nothing; a real sweep
//! repairs both, and a second sweep finds nothing.

use greenfleet_core::cloud::Capacity;
use greenfleet_core::ports::RemoteError;
use greenfleet_core::request::ROLLOUT_TAG_KEY;
use greenfleet_core::sweep::Repair;
use greenfleet_sim::Faults;
use greenfleet_workers::demo::{DEMO_LIMIT_MS, DEMO_START};
use greenfleet_workers::embedded::Embedded;
use greenfleet_workers::scenarios;
use greenfleet_workers::sweep::sweep;

async fn run_sweep(env: &Embedded, dry_run: bool) -> greenfleet_workers::sweep::SweepReport {
    let executor = &env.worker.deps().executor;
    sweep(&*env.store, executor, &*env.clock, 50, dry_run).await.unwrap()
}

#[tokio::test]
async fn orphans_and_capacity_left_by_a_failed_compensation_are_swept() {
    let env = Embedded::new(DEMO_START);
    let s = scenarios::demo().into_iter().find(|s| s.expect == "RolledBack").unwrap();
    s.install(&env.cloud);
    env.cloud.faults(|f| {
        f.fail_next("detach", RemoteError::Unavailable("Spot is down".into()), 100);
        f.fail_next("set_capacity", RemoteError::Unavailable("Spot is down".into()), 100);
    });
    env.submit(&s.request().to_string()).await;
    env.run_until_idle(DEMO_LIMIT_MS, |_| {}).await;
    let saga = env.store.all().pop().unwrap();
    assert_eq!(
        saga.outcome().map(|o| o.kind()),
        Some("NeedsAttention"),
        "{}",
        greenfleet_workers::demo::timeline(&saga)
    );
    let tagged = |env: &Embedded| {
        let state = env.cloud.group_state(&s.group.id).unwrap();
        state.instances.iter().filter(|i| i.tags.iter().any(|t| t.key == ROLLOUT_TAG_KEY)).count()
    };
    assert_eq!(tagged(&env), 2, "the failed compensation left the green instances");
    env.cloud.faults(|f| *f = Faults::default());

    let dry = run_sweep(&env, true).await;
    assert_eq!(dry.applied, 0);
    assert!(
        matches!(dry.repairs.as_slice(), [Repair::RemoveOrphans { instances, .. }, Repair::RestoreCapacity { .. }] if instances.len() == 2),
        "{dry:?}"
    );
    assert_eq!(tagged(&env), 2, "a dry run changes nothing");

    let real = run_sweep(&env, false).await;
    assert_eq!(real.applied, 2, "{real:?}");
    assert_eq!(tagged(&env), 0);
    assert_eq!(env.cloud.group_state(&s.group.id).unwrap().capacity, s.group.capacity);
    assert!(run_sweep(&env, false).await.repairs.is_empty(), "a second sweep finds nothing");
}

#[tokio::test]
async fn capacity_drift_after_a_rollout_is_restored_and_an_active_rollout_is_left_alone() {
    let env = Embedded::new(DEMO_START);
    let s = scenarios::demo().into_iter().find(|s| s.expect == "Succeeded").unwrap();
    s.install(&env.cloud);
    env.submit(&s.request().to_string()).await;
    env.run_until_idle(DEMO_LIMIT_MS, |_| {}).await;
    let drifted = Capacity { minimum: 1, maximum: 6, target: 3 };
    env.cloud.set_capacity_external(&s.group.id, drifted).unwrap();
    let report = run_sweep(&env, false).await;
    assert!(
        matches!(report.repairs.as_slice(), [Repair::RestoreCapacity { now, snapshot, .. }] if *now == drifted && *snapshot == s.group.capacity),
        "{report:?}"
    );
    assert_eq!(env.cloud.group_state(&s.group.id).unwrap().capacity, s.group.capacity);
    // A group with a rollout in flight belongs to that rollout.
    env.cloud.set_capacity_external(&s.group.id, drifted).unwrap();
    let mut again = s.request();
    again["requestId"] = "shop-6.1".into();
    again["greenTags"] = serde_json::json!([{"key": "version", "value": "6.1"}]);
    env.submit(&again.to_string()).await;
    env.pump().await;
    let in_flight = env.store.all().into_iter().find(|x| x.id.as_str() == "shop-6.1").unwrap();
    assert!(!in_flight.phase.is_done(), "{}", greenfleet_workers::demo::timeline(&in_flight));
    let report = run_sweep(&env, false).await;
    assert!(report.repairs.is_empty(), "{report:?}");
}
