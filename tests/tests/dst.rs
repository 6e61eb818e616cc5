//! Deterministic simulation testing: thousands of seeds, each several rollouts at once through the
//! real saga, worker and executor code on the embedded engine, under the faults the seed draws
//! (see `greenfleet_dst`). The campaign is split in two so both cores of a CI runner work;
//! `GREENFLEET_DST_SEEDS` sets the total. Below it, one test per engine bug the simulation found, with
//! the seed that found it.

use greenfleet_dst::{self as dst, SeedReport};

/// Seeds per CI run, over both halves.
const CI_SEEDS: u64 = 2_000;

fn total_seeds() -> u64 {
    std::env::var("GREENFLEET_DST_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(CI_SEEDS)
}

/// Runs `from..from + count` and fails with every failing seed's invariants and trace.
async fn campaign(from: u64, count: u64) {
    let mut failures = String::new();
    let c = dst::campaign(from, count, false, |line| {
        if !line.starts_with('…') {
            failures.push_str(line);
            failures.push('\n');
        }
    })
    .await;
    assert!(c.failed.is_empty(), "{}\n{failures}", c.final_line());
    assert_eq!(c.seeds, count);
}

#[tokio::test]
async fn dst_first_half_of_the_seeds_keep_every_invariant() {
    let n = total_seeds();
    campaign(0, n / 2).await;
}

#[tokio::test]
async fn dst_second_half_of_the_seeds_keep_every_invariant() {
    let n = total_seeds();
    campaign(n / 2, n - n / 2).await;
}

#[tokio::test]
async fn dst_a_seed_replays_exactly() {
    for seed in [3, 100, 4_324] {
        let a = dst::run_seed(seed, true).await;
        let b = dst::run_seed(seed, true).await;
        assert!(!a.trace.is_empty(), "seed {seed} traced nothing");
        assert_eq!(a.trace, b.trace, "seed {seed} ran differently twice");
        assert_eq!((a.outcomes, a.failures), (b.outcomes, b.failures));
    }
}

#[tokio::test]
async fn dst_exercises_every_fault_kind() {
    // NeedsAttention is rare (a fault must outlast every retry): 400 seeds give it a few times.
    const SEEDS: u64 = 400;
    let c = dst::campaign(0, SEEDS, false, |_| {}).await;
    for kind in [
        "acks lost",
        "api fault bursts",
        "approvals",
        "cancels",
        "conditional writes lost",
        "crashes after persisting",
        "crashes before persisting",
        "crashes between effects",
        "events duplicated",
        "events lost",
        "events that lie",
        "conflicting requests",
        "failed writes",
        "messages delayed",
        "messages handled twice",
        "outside capacity changes",
        "racing workers",
    ] {
        assert!(c.faults.0.get(kind).is_some_and(|n| *n > 0), "no `{kind}` in {SEEDS} seeds: {}", c.faults.describe());
    }
    for outcome in ["Succeeded", "RolledBack", "Rejected", "NeedsAttention"] {
        assert!(c.outcomes.get(outcome).is_some_and(|n| *n > 0), "no {outcome} in {SEEDS} seeds: {:?}", c.outcomes);
    }
}

fn assert_passes(r: &SeedReport) {
    assert!(r.ok(), "{}", r.details());
}

/// Two workers raced on one message; the one that persisted the next step died before acting on it,
/// and the other acked the message having done nothing (its own inputs had gone stale): the effects were
/// lost — here the `Rollout Succeeded` event. Fixed: a worker that finds, after a lost race, a transition
/// for its own message that it did not write runs that transition's effects.
#[tokio::test]
async fn regression_seed_417_racing_worker_acks_what_a_dead_one_persisted() {
    assert_passes(&dst::check_seed(417).await);
}

/// The same race, where the lost effect was the read-back wake-up of a compensation step: the saga sat
/// until the step's deadline and ended NeedsAttention with nothing wrong in the cloud.
#[tokio::test]
async fn regression_seed_759_racing_worker_loses_a_compensation_wake_up() {
    assert_passes(&dst::check_seed(759).await);
}

/// A worker died after persisting a poll's transition and before sending the next poll; CodeDeploy
/// instance events for the saga were handled before the poll was redelivered, replacing the outbox,
/// so the redelivered poll found nothing to replay. With the READY event lost too, the saga waited
/// until the deployment deadline and rolled back a good deployment. Fixed: a transition for another
/// message carries the previous outbox's still-current effects.
#[tokio::test]
async fn regression_seed_79_outbox_replaced_before_redelivery() {
    assert_passes(&dst::check_seed(79).await);
}

/// A duplicate delivery of a wake-up replayed its outbox, sending the next wake-up again; every copy
/// did the same at the next step, so one duplicate echoed forever and a long lock wait multiplied
/// into tens of thousands of messages. Fixed: once a message's effects have run, the outbox is
/// cleared, and a replay never re-sends a wake-up the saga no longer waits for.
#[tokio::test]
async fn regression_seed_760_duplicate_wake_ups_echo_forever() {
    assert_passes(&dst::check_seed(760).await);
}

/// Someone raised the group's capacity while the saga was taking its snapshot: the snapshot counted a
/// launching instance as blue, Spot launched green only for the running ones (F5), and AwaitGreen
/// waited for green that never came. Fixed: the snapshot waits for the group to settle, and Finalize
/// removes every instance without the rollout's tag, not only the snapshot's.
#[tokio::test]
async fn regression_seed_4324_snapshot_of_a_scaling_group() {
    assert_passes(&dst::check_seed(4_324).await);
}

/// Someone raised the group's capacity while the saga was about to start Spot's Blue/Green: the group
/// launched a plain instance, older than green; Finalize removed only the snapshot's blue instances, and
/// restoring capacity made Spot scale in the newest — green — leaving the plain one serving. Fixed:
/// Finalize removes every instance that does not carry the rollout's tag.
#[tokio::test]
async fn regression_seed_37443_instances_launched_during_the_rollout_outlive_green() {
    assert_passes(&dst::check_seed(37_443).await);
}

/// Spot throttled the instance listing during health checks; each round that could not read the group
/// counted as green being unhealthy, and three of them rolled back a healthy deployment. Fixed: a round
/// that cannot run says nothing of green's health and is not counted.
#[tokio::test]
async fn regression_seed_10432_throttling_is_not_an_unhealthy_green() {
    assert_passes(&dst::check_seed(10_432).await);
}

/// Finalize detached the blue instances; someone then raised the group's capacity, so a new plain
/// instance appeared, and the next six detaches hit a burst of 503s. The step gave up after five
/// failures, because its round counter also counted the first, accepted detach. Fixed: rounds count
/// only calls Spot accepted; failures are bounded by the retry budget alone (six).
#[tokio::test]
async fn regression_seed_1066951_a_successful_round_does_not_spend_a_retry() {
    assert_passes(&dst::check_seed(1_066_951).await);
}
