//! The crash test: three `greenfleet worker` processes run 31 rollouts at once over 28 Elastigroups
//! of the four demo applications — successes under TERMINATE and KEEP_ALIVE, CodeDeploy failures
//! that must roll back, F3/F4 tag mistakes that must be rejected, pairs of rollouts of one group that
//! must wait for each other — plus three malformed requests meant for the intake dead-letter queue,
//! while a seeded random source kills a worker with SIGKILL every few seconds and starts it again.
//!
//! Then everything is read back from the simulator (`env.cloud`) and the table (`env.store`, and a
//! Scan): each rollout reached the outcome its setup promises, within a deadline; the end checks of
//! the deterministic simulation ([`invariants::remote_calls`], [`invariants::at_end`],
//! [`invariants::group_end`]) hold for every rollout and group; rollouts of one group never
//! overlapped; no lease is left; each rollout published its outcome and no other; only the malformed
//! requests were dead-lettered; nothing is left to deliver on the main queues (only each rollout's
//! last deadline timer waits, delayed, to find it finished); and the Spot token shows in no table
//! item, no lifecycle event and no worker log.
//!
//! The seed is printed; `GREENFLEET_CRASH_SEED=<n>` runs the same kill schedule again (which worker,
//! how long between kills; the timing of the rest is the machine's).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use greenfleet_core::ids::ElastigroupId;
use greenfleet_core::saga::Saga;
use greenfleet_dst::invariants;
use greenfleet_infra::provision::QueueKind;
use greenfleet_tests::chaos::Rng;
use greenfleet_tests::env::{EnvOptions, TestEnv, eventually, spawn_env_with};
use greenfleet_tests::observer::Seen;
use greenfleet_workers::demo;
use greenfleet_workers::scenarios::Scenario;
use serde_json::{Value, json};

/// Worker processes.
const WORKERS: usize = 3;
/// The environment variable that fixes the kill schedule's seed.
const SEED_VAR: &str = "GREENFLEET_CRASH_SEED";
/// Every rollout has an outcome this long after the requests were sent.
const DEADLINE: Duration = Duration::from_secs(200);
/// No kill after this long, even if rollouts still run.
const KILL_FOR: Duration = Duration::from_secs(120);
/// Time between two kills: drawn between these (ms).
const KILL_GAP_MS: (u64, u64) = (1_000, 3_000);
/// Longest wait for the simulator, the queues or the bus to settle once every rollout has ended.
const SETTLE: Duration = Duration::from_secs(60);

/// One group's rollouts, and the outcome each must reach.
struct Group {
    scenario: Scenario,
    rollouts: Vec<(String, Value)>,
    expect: &'static str,
}

/// Demo application `base`'s scenario on an Elastigroup and deployment group of its own (number `n`).
fn variant(env: &TestEnv, base: &str, n: u32) -> Scenario {
    let mut s = env.scenario(base);
    s.group.id = ElastigroupId::parse(&format!("sig-c7a5{n:04x}")).expect("a valid Elastigroup id");
    s.deployment_group.name.deployment_group = format!("{base}-bg-{n}");
    s.group.codedeploy = vec![s.deployment_group.name.clone()];
    s
}

/// The 31 rollouts over 28 groups.
fn plan(env: &TestEnv) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut n = 0;
    let mut next = |base: &str| {
        n += 1;
        variant(env, base, n)
    };
    // (application, groups, outcome): TERMINATE, KEEP_ALIVE, CodeDeploy fails, F3.
    for (base, count, expect) in [
        ("shop", 8, "Succeeded"),
        ("search", 6, "Succeeded"),
        ("checkout", 5, "RolledBack"),
        ("billing", 3, "Rejected"),
    ] {
        for i in 0..count {
            let s = next(base);
            let id = format!("{base}-{i}");
            let request = env.request(&s, &id);
            groups.push(Group { scenario: s, rollouts: vec![(id, request)], expect });
        }
    }
    // F4: green asked to carry the tag blue carries.
    for i in 0..3 {
        let s = next("shop");
        let blue = &s.group.blue_tags[0];
        let id = format!("f4-{i}");
        let mut request = env.request(&s, &id);
        request["greenTags"] = json!([{"key": blue.key, "value": blue.value}]);
        groups.push(Group { scenario: s, rollouts: vec![(id, request)], expect: "Rejected" });
    }
    // Two rollouts of one group that may wait: one after the other, with distinct green tags (F4).
    for i in 0..3 {
        let s = next("shop");
        let rollouts = ["6.0", "6.1"]
            .iter()
            .map(|version| {
                let id = format!("wait-{i}-{version}");
                let mut request = env.request(&s, &id);
                request["greenTags"] = json!([{"key": "version", "value": version}]);
                request["timeouts"] = json!({"lockWaitMinutes": 5});
                (id, request)
            })
            .collect();
        groups.push(Group { scenario: s, rollouts, expect: "Succeeded" });
    }
    groups
}

/// Requests meant for the intake dead-letter queue: not JSON, cut short, a field of the wrong type.
fn poison(valid: &Value) -> Vec<String> {
    let text = valid.to_string();
    let mut wrong_type = valid.clone();
    wrong_type["requestId"] = json!("poison-wrong-type");
    wrong_type["elastigroupId"] = json!(42);
    vec!["this is not JSON {".to_owned(), text[..text.len() / 2].to_owned(), wrong_type.to_string()]
}

/// The seed from [`SEED_VAR`], or a fresh one.
fn seed() -> u64 {
    match std::env::var(SEED_VAR) {
        Ok(v) => v.trim().parse().unwrap_or_else(|e| panic!("{SEED_VAR}={v:?} is not a number: {e}")),
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64),
    }
}

/// Rollouts without an outcome yet.
async fn unfinished(env: &TestEnv, ids: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    for id in ids {
        if !env.saga(id).await.is_some_and(|s| s.phase.is_done()) {
            left.push(id.clone());
        }
    }
    left
}

/// Every finished saga, by id.
async fn finished(env: &TestEnv, ids: &[String], deadline: Instant) -> BTreeMap<String, Saga> {
    let mut out = BTreeMap::new();
    for id in ids {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        out.insert(id.clone(), env.wait_for_outcome(id, left).await);
    }
    out
}

/// What the simulator shows against the DST's end checks, for every group: empty when all hold.
fn cloud_problems(env: &TestEnv, groups: &[Group], sagas: &BTreeMap<String, Saga>) -> Vec<String> {
    let mut problems = Vec::new();
    for g in groups {
        let s = &g.scenario;
        let on: Vec<&Saga> = g.rollouts.iter().map(|(id, _)| &sagas[id]).collect();
        let Some(state) = env.cloud.group_state(&s.group.id) else {
            problems.push(format!("Elastigroup {} vanished", s.group.id));
            continue;
        };
        problems.extend(invariants::group_end(&on, &state, |_| false));
        // The last rollout on the group left it as its outcome promises.
        let last = on.iter().max_by_key(|s| s.facts.started_at).expect("a group has rollouts");
        let kind = last.outcome().map_or("-", |o| o.kind());
        problems.extend(invariants::at_end(last, kind, Some(&state), false));
        // Spot Blue/Green starts and CreateDeployments, counted by the simulator per group.
        let starts = env.cloud.green_starts(&s.group.id);
        let creates = env.cloud.deployments_created(&s.deployment_group.name);
        if let [only] = on.as_slice() {
            problems.extend(invariants::remote_calls(only, starts, creates));
        } else {
            // Every rollout that started green made at least one call of each; as many calls as such
            // rollouts means exactly one each.
            let started = u32::try_from(on.iter().filter(|s| s.facts.started_green).count()).unwrap_or(u32::MAX);
            if (starts, creates) != (started, started) {
                problems.push(format!(
                    "{}: {starts} Blue/Green starts and {creates} CreateDeployments for {started} rollouts that started",
                    s.group.id
                ));
            }
        }
    }
    problems
}

/// Reads the observer until every rollout's outcome event and `n_poison` rejections without a
/// rollout have arrived; returns every event seen.
async fn outcome_events(env: &TestEnv, sagas: &BTreeMap<String, Saga>, n_poison: usize) -> Vec<Seen> {
    let events = env.events_observer().await;
    let deadline = Instant::now() + SETTLE;
    loop {
        let seen = events.poll(1_000).await;
        let terminal: BTreeSet<(&str, &str)> = seen
            .iter()
            .filter(|e| !matches!(e.detail_type.as_str(), "Rollout Accepted" | "Rollout Started"))
            .map(|e| (e.field("rolloutId"), e.detail_type.as_str()))
            .collect();
        let missing: Vec<&String> =
            sagas.keys().filter(|id| !terminal.iter().any(|(r, _)| r == &id.as_str())).collect();
        let poisoned = seen.iter().filter(|e| e.detail_type == "Rollout Rejected" && e.field("rolloutId").is_empty());
        if missing.is_empty() && poisoned.count() >= n_poison {
            return seen;
        }
        assert!(Instant::now() < deadline, "no outcome event within {SETTLE:?} for {missing:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_reach_their_outcomes_while_workers_are_killed_with_sigkill() {
    let started = Instant::now();
    let seed = seed();
    println!("crash test seed {seed} (set {SEED_VAR}={seed} to replay the kill schedule)");
    let mut env = spawn_env_with(EnvOptions { workers: WORKERS }).await;
    // Created before anything is published, so that it sees every lifecycle event.
    env.events_observer().await;
    let groups = plan(&env);
    for g in &groups {
        env.install(&g.scenario);
    }
    let expected: BTreeMap<String, &str> =
        groups.iter().flat_map(|g| g.rollouts.iter().map(|(id, _)| (id.clone(), g.expect))).collect();
    let ids: Vec<String> = expected.keys().cloned().collect();
    let poison = poison(&groups[0].rollouts[0].1);

    // Everything at once: the requests and the malformed messages, in an order the seed shuffles.
    let mut rng = Rng::new(seed);
    let mut bodies: Vec<String> = groups.iter().flat_map(|g| g.rollouts.iter().map(|(_, r)| r.to_string())).collect();
    bodies.extend(poison.iter().cloned());
    rng.shuffle(&mut bodies);
    for body in &bodies {
        env.submit_raw(body).await;
    }
    let sent = Instant::now();
    let kills = kill_until_done(&mut env, &ids, &mut rng, sent).await;
    let sagas = finished(&env, &ids, sent + DEADLINE).await;
    let all_done = sent.elapsed();

    for (id, saga) in &sagas {
        env.assert_outcome(saga, expected[id]);
    }
    check_sagas(&groups, &sagas);
    // The simulator: what the DST checks on its in-memory world, here on the HTTP simulator.
    eventually("every group left as its rollouts promise", SETTLE, || {
        let problems = cloud_problems(&env, &groups, &sagas);
        if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
    })
    .await;
    // The table: no lease left held.
    let items = env.scan_table().await;
    let leases: Vec<&str> = items.iter().filter_map(pk).filter(|pk| pk.starts_with("lease#")).collect();
    assert!(leases.is_empty(), "leases left in the table: {leases:?}");
    // The dead-letter queues: only the malformed requests.
    let dead = env.wait_dead_letters(QueueKind::Intake, poison.len(), SETTLE).await;
    assert_eq!(dead.iter().collect::<BTreeSet<_>>(), poison.iter().collect(), "the intake dead-letter queue");
    for kind in [QueueKind::Intake, QueueKind::Steps, QueueKind::Events] {
        let (visible, in_flight, delayed) = env.queue_counts(&env.provisioned.queue(kind).dlq_url).await;
        let expect = if kind == QueueKind::Intake { poison.len() as u64 } else { 0 };
        assert_eq!(visible + in_flight + delayed, expect, "{} dead-letter queue holds {expect}", kind.suffix());
    }
    let seen = outcome_events(&env, &sagas, poison.len()).await;
    check_outcome_events(&seen, &sagas);
    let logs = env.logs();
    check_secret(&env.spot_token, &items, &seen, &logs, &sagas);
    // The main queues: drained (the steps queue last: its wake-ups need up to 30 s to fire).
    for kind in [QueueKind::Intake, QueueKind::Events, QueueKind::Steps] {
        wait_drained(&env, &env.provisioned.queue(kind).url, sagas.len()).await;
    }

    // How much recovery the kills caused (the workers log these at debug).
    let replays = logs.matches("redelivered; replaying").count();
    let races = logs.matches("lost a race for the saga").count();
    println!(
        "crash test seed {seed}: {} rollouts + {} malformed requests, {WORKERS} workers, {kills} SIGKILLs ({replays} \
         redelivered transitions replayed, {races} lost races); all ended {:.1} s after submission; {} table items, {} \
         events, {} log lines scanned; {:.1} s in all",
        sagas.len(),
        poison.len(),
        all_done.as_secs_f64(),
        items.len(),
        seen.len(),
        logs.lines().count(),
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= 3, "only {kills} kills happened while rollouts ran");
    env.shutdown().await;
}

/// Kills a worker (drawn by `rng`) with SIGKILL every [`KILL_GAP_MS`] and starts it again, until every
/// rollout has an outcome or [`KILL_FOR`] has passed since `sent`. Returns how many kills there were.
async fn kill_until_done(env: &mut TestEnv, ids: &[String], rng: &mut Rng, sent: Instant) -> usize {
    let mut kills = 0;
    let mut next_kill = sent + gap(rng);
    loop {
        let left = unfinished(env, ids).await;
        if left.is_empty() || sent.elapsed() > KILL_FOR {
            return kills;
        }
        if Instant::now() >= next_kill {
            let i = usize::try_from(rng.next_u64() % WORKERS as u64).unwrap_or(0);
            let status = env.worker(i).kill();
            kills += 1;
            println!(
                "t+{:>6} ms: SIGKILL worker {i} ({status:?}); {} rollouts running",
                sent.elapsed().as_millis(),
                left.len()
            );
            env.restart_worker(i).await;
            next_kill = Instant::now() + gap(rng);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the finished sagas say: no lease listed, F3/F4 named in the rejections, and the rollouts of
/// one group one after the other (F12), the second having waited for the first's lease.
fn check_sagas(groups: &[Group], sagas: &BTreeMap<String, Saga>) {
    for (id, saga) in sagas {
        assert!(saga.facts.leases.is_empty(), "{id} still lists leases: {:?}", saga.facts.leases);
        let why = saga.outcome().and_then(|o| o.reason()).unwrap_or_default();
        for (prefix, rule) in [("billing-", "F3"), ("f4-", "F4")] {
            assert!(!id.starts_with(prefix) || why.contains(rule), "{id} is rejected for {rule}: {why}");
        }
    }
    for g in groups.iter().filter(|g| g.rollouts.len() > 1) {
        let on: Vec<&Saga> = g.rollouts.iter().map(|(id, _)| &sagas[id]).collect();
        let waited = on.iter().any(|s| s.facts.lock_holder.is_some());
        assert!(waited, "one of {:?} waited for the other's lease", on.iter().map(|s| &s.id).collect::<Vec<_>>());
        // F12 across crashes: from Snapshot to its last change of the group, one rollout of the group at
        // a time. A rollout's work on the group ends before it releases its leases; its Done may be
        // written later (a worker killed after the release call), when the next one already runs.
        let mut spans: Vec<(u64, u64, &Saga)> =
            on.iter().map(|s| (step_at(s, "Snapshot"), last_on_group(s), *s)).collect();
        spans.sort_by_key(|(start, _, _)| *start);
        for pair in spans.windows(2) {
            let ((_, first_end, first), (second_start, _, second)) = (&pair[0], &pair[1]);
            assert!(
                first_end <= second_start,
                "{} and {} ran on {} at once\n{}\n{}",
                first.id,
                second.id,
                g.scenario.group.id,
                demo::timeline(first),
                demo::timeline(second)
            );
        }
    }
}

/// Each rollout announced its outcome on the bus, and only that one (duplicates allowed: publishing
/// is at least once).
fn check_outcome_events(seen: &[Seen], sagas: &BTreeMap<String, Saga>) {
    for (id, saga) in sagas {
        let kinds: BTreeSet<&str> = seen
            .iter()
            .filter(|e| e.field("rolloutId") == id.as_str())
            .filter(|e| !matches!(e.detail_type.as_str(), "Rollout Accepted" | "Rollout Started"))
            .map(|e| e.detail_type.as_str())
            .collect();
        let outcome = format!("Rollout {}", saga.outcome().map_or("-", |o| o.kind()));
        assert_eq!(kinds, BTreeSet::from([outcome.as_str()]), "{id}'s outcome events\n{}", demo::timeline(saga));
    }
}

/// The Spot token is in no table item, no event and no log — and each of those was really looked
/// at: every saga item scanned, events for every rollout, every rollout in the logs.
fn check_secret(
    token: &str,
    items: &[HashMap<String, AttributeValue>],
    seen: &[Seen],
    logs: &str,
    sagas: &BTreeMap<String, Saga>,
) {
    let scanned: BTreeSet<&str> = items.iter().filter_map(pk).collect();
    let missing: Vec<&String> = sagas.keys().filter(|id| !scanned.contains(format!("saga#{id}").as_str())).collect();
    assert!(missing.is_empty(), "the scan did not see the saga items of {missing:?}: {scanned:?}");
    for item in items {
        assert!(!format!("{item:?}").contains(token), "a table item shows the Spot token: {:?}", pk(item));
    }
    assert!(seen.len() >= 2 * sagas.len(), "{} events seen for {} rollouts", seen.len(), sagas.len());
    for e in seen {
        assert!(!e.detail.to_string().contains(token), "an event shows the Spot token: {}", e.detail_type);
    }
    let unlogged: Vec<&String> = sagas.keys().filter(|id| !logs.contains(id.as_str())).collect();
    assert!(unlogged.is_empty(), "the worker logs never mention {unlogged:?}");
    assert!(!logs.contains(token), "a worker log shows the Spot token");
}

/// A table item's partition key.
fn pk(item: &HashMap<String, AttributeValue>) -> Option<&str> {
    item.get("pk").and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// When the rollout entered the step whose history line starts with `step` (ms).
fn step_at(saga: &Saga, step: &str) -> u64 {
    saga.history
        .iter()
        .find(|h| h.step.starts_with(step))
        .unwrap_or_else(|| panic!("{} never entered {step}\n{}", saga.id, demo::timeline(saga)))
        .at
        .0
}

/// When `saga` last recorded anything before releasing its leases: the end of its work on the group.
/// The release step (`Release`, `Compensating(ReleaseLeases)`) and the outcome come after the lease
/// is given up, so they do not count.
fn last_on_group(saga: &Saga) -> u64 {
    let releasing =
        |step: &str| step == "Release" || step == "Compensating(ReleaseLeases)" || step.starts_with("Done(");
    saga.history
        .iter()
        .filter(|h| !releasing(&h.step))
        .map(|h| h.at.0)
        .max()
        .unwrap_or_else(|| panic!("{} recorded nothing\n{}", saga.id, demo::timeline(saga)))
}

/// A pause before the next kill, drawn from [`KILL_GAP_MS`].
fn gap(rng: &mut Rng) -> Duration {
    let (lo, hi) = KILL_GAP_MS;
    Duration::from_millis(lo + rng.next_u64() % (hi - lo))
}

/// Waits until a main queue has nothing visible or in flight, and at most two delayed messages per
/// rollout. Delayed messages may remain for a while: each rollout's last deadline timer (10 minutes
/// out; a second one when a shorter lock wait armed it), which will find the rollout finished and do
/// nothing. Poll and retry wake-ups fire within 30 s and must be gone.
async fn wait_drained(env: &TestEnv, url: &str, rollouts: usize) {
    let timers = 2 * rollouts as u64;
    greenfleet_tests::env::eventually_async(&format!("{url} drained"), SETTLE, || async {
        let c = env.queue_counts(url).await;
        if c.0 == 0 && c.1 == 0 && c.2 <= timers {
            Ok(())
        } else {
            Err(format!("(visible, in flight, delayed) = {c:?}; at most {timers} delayed deadline timers may remain"))
        }
    })
    .await;
}
