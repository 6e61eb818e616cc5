//! End to end on the AWS emulator: real `greenfleet worker` processes driving rollouts through SQS,
//! DynamoDB and EventBridge against the HTTP simulator of Spot and CodeDeploy, whose events travel
//! PutEvents → rule → events queue as on AWS. Each test has its own environment (`spawn_env`), so
//! they run in parallel (as many at once as the harness has test threads); every wait is a bounded
//! poll with a deadline.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenfleet_core::cloud::{Capacity, InstanceState};
use greenfleet_core::ids::Timestamp;
use greenfleet_core::ports::Elastigroups as _;
use greenfleet_core::request::ROLLOUT_TAG_KEY;
use greenfleet_core::saga::Saga;
use greenfleet_infra::provision::QueueKind;
use greenfleet_sim::GroupState;
use greenfleet_tests::env::{TestEnv, eventually, spawn_env};
use greenfleet_workers::demo;
use greenfleet_workers::scenarios::Scenario;

/// Longest wait for one rollout (the slowest path, the reconcile poll, needs about 45 s).
const OUTCOME: Duration = Duration::from_secs(120);
/// Longest wait for the simulator or a queue to settle after an outcome.
const SETTLE: Duration = Duration::from_secs(20);

fn cap(target: u32, minimum: u32, maximum: u32) -> Capacity {
    Capacity { minimum, maximum, target }
}

fn group(env: &TestEnv, s: &Scenario) -> GroupState {
    env.cloud.group_state(&s.group.id).expect("the scenario's group exists in the simulator")
}

/// Instances of the group carrying rollout `id`'s green tag.
fn green_of(state: &GroupState, id: &str) -> usize {
    state.instances.iter().filter(|i| i.tags.iter().any(|t| t.key == ROLLOUT_TAG_KEY && t.value == id)).count()
}

fn counters(env: &TestEnv, s: &Scenario) -> (u32, u32) {
    (env.cloud.green_starts(&s.group.id), env.cloud.deployments_created(&s.deployment_group.name))
}

fn reason(saga: &Saga) -> &str {
    saga.outcome().and_then(|o| o.reason()).unwrap_or_default()
}

/// When the rollout entered `step` (first history line of that step).
fn entered(saga: &Saga, step: &str) -> Timestamp {
    saga.history
        .iter()
        .find(|h| h.step == step)
        .unwrap_or_else(|| panic!("rollout {} never entered {step}\n{}", saga.id, demo::timeline(saga)))
        .at
}

/// When the rollout ended (its `Done(…)` history line).
fn ended(saga: &Saga) -> Timestamp {
    saga.history
        .iter()
        .find(|h| h.step.starts_with("Done("))
        .unwrap_or_else(|| panic!("rollout {} has not ended\n{}", saga.id, demo::timeline(saga)))
        .at
}

/// Waits until the simulator shows what `demo::check_cloud` expects of the rollout's outcome.
async fn wait_cloud_clean(env: &TestEnv, s: &Scenario, saga: &Saga) {
    eventually(&format!("the cloud left as {} promises for {}", s.expect, saga.id), SETTLE, || {
        let problems = demo::check_cloud(s, saga, &env.cloud);
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    })
    .await;
}

/// Records every capacity a group goes through (every 50 ms), to see Spot raise it during a rollout.
struct Sampler {
    seen: Arc<Mutex<Vec<Capacity>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    fn start(env: &TestEnv, s: &Scenario) -> Self {
        let seen = Arc::new(Mutex::new(Vec::<Capacity>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (cloud, id, out, halt) = (env.cloud.clone(), s.group.id.clone(), seen.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !halt.load(Ordering::Relaxed) {
                if let Some(g) = cloud.group_state(&id) {
                    let mut v = out.lock().expect("samples");
                    if v.last() != Some(&g.capacity) {
                        v.push(g.capacity);
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self { seen, stop, task }
    }

    /// Stops sampling; returns the distinct capacities seen, in order.
    async fn finish(self) -> Vec<Capacity> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the sampler");
        self.seen.lock().expect("samples").clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_succeeds_and_leaves_only_green_at_the_old_capacity() {
    let env = spawn_env().await;
    let s = env.scenario("shop");
    env.install(&s);
    let before = group(&env, &s);

    env.submit(&env.request(&s, "shop-6.0")).await;
    let saga = env.wait_for_outcome("shop-6.0", OUTCOME).await;

    env.assert_outcome(&saga, "Succeeded");
    wait_cloud_clean(&env, &s, &saga).await;
    let after = group(&env, &s);
    assert_eq!(after.capacity, before.capacity, "capacity after the rollout");
    assert_eq!(
        green_of(&after, "shop-6.0"),
        after.instances.len(),
        "only green instances remain: {:?}",
        after.instances
    );
    assert_eq!(after.instances.len(), before.instances.len());
    let blue: BTreeSet<_> = before.instances.iter().map(|i| i.id.clone()).collect();
    assert!(after.instances.iter().all(|i| !blue.contains(&i.id)), "blue instances survived: {:?}", after.instances);
    assert_eq!(counters(&env, &s), (1, 1), "Blue/Green starts and CreateDeployment calls");
    // The Spot token is a secret: no worker ever prints it.
    assert!(!env.logs().contains(&env.spot_token), "a worker log shows the Spot token");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_capacity_raised_by_spot_is_restored_and_read_back_through_the_spot_api() {
    let env = spawn_env().await;
    let s = env.scenario("search");
    env.install(&s);
    let spot = env.spot();
    assert_eq!(spot.group(&s.group.id).await.expect("Spot: read the group").capacity, cap(1, 1, 1));

    let sampler = Sampler::start(&env, &s);

    env.submit(&env.request(&s, "search-6.0")).await;
    let saga = env.wait_for_outcome("search-6.0", OUTCOME).await;
    let samples = sampler.finish().await;

    env.assert_outcome(&saga, "Succeeded");
    assert!(samples.contains(&cap(2, 1, 2)), "Spot never raised the capacity to [T2, Min1, Max2]: {samples:?}");
    assert_eq!(saga.facts.snapshot, Some(cap(1, 1, 1)), "the snapshot");
    wait_cloud_clean(&env, &s, &saga).await;
    // Read back through Spot's REST API, as an operator's tooling would.
    let g = spot.group(&s.group.id).await.expect("Spot: read the group");
    assert_eq!(g.capacity, cap(1, 1, 1), "capacity through the Spot API; samples {samples:?}");
    // Spot lists the group's instances; their tags are read from EC2, where CodeDeploy looks.
    let listed = spot.instances(&s.group.id).await.expect("Spot: read the instances");
    let ids: Vec<_> = listed.iter().map(|i| i.id.clone()).collect();
    let described = greenfleet_core::ports::Instances::describe(&env.ec2(), &ids).await.expect("EC2: describe them");
    let instances = greenfleet_core::cloud::join_instances(&listed, &described);
    let live: Vec<_> = instances.iter().filter(|i| i.state != InstanceState::Terminating).collect();
    assert_eq!(live.len(), 1, "one instance serves: {instances:?}");
    assert!(
        live.iter().all(|i| i.tags.iter().any(|t| t.key == ROLLOUT_TAG_KEY && t.value == "search-6.0")),
        "the instance that serves is green: {instances:?}"
    );
    // The deployment group now selects the new blue, ready for the next rollout.
    let dg = env.cloud.deployment_group_view(&s.deployment_group.name).expect("the deployment group");
    assert_eq!(dg.blue.to_string(), "greenfleet:rollout=search-6.0");
    assert_eq!(counters(&env, &s), (1, 1));
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_codedeploy_deployment_is_rolled_back_and_announced_on_the_bus() {
    let env = spawn_env().await;
    let events = env.events_observer().await;
    let s = env.scenario("checkout");
    env.install(&s);
    let before = group(&env, &s);
    let sampler = Sampler::start(&env, &s);

    env.submit(&env.request(&s, "checkout-6.0")).await;
    let saga = env.wait_for_outcome("checkout-6.0", OUTCOME).await;
    let samples = sampler.finish().await;

    env.assert_outcome(&saga, "RolledBack");
    assert!(
        samples.iter().any(|c| c.maximum > before.capacity.maximum),
        "Spot raised Max for green before CodeDeploy failed: {samples:?}"
    );
    assert!(reason(&saga).contains("HOOK_EXECUTION_FAILURE"), "the reason names the error code: {}", reason(&saga));
    assert!(!saga.facts.green.is_empty(), "green instances were launched before CodeDeploy failed");
    wait_cloud_clean(&env, &s, &saga).await;
    let after = group(&env, &s);
    let left: BTreeSet<_> = after.instances.iter().map(|i| i.id.clone()).collect();
    assert!(saga.facts.green.iter().all(|g| !left.contains(g)), "green instances still in the group: {left:?}");
    assert_eq!(green_of(&after, "checkout-6.0"), 0);
    assert_eq!(after.capacity, before.capacity, "Max restored (capacity back to the snapshot)");
    assert_eq!(left, before.instances.iter().map(|i| i.id.clone()).collect(), "blue keeps serving");
    assert_eq!(counters(&env, &s), (1, 1));

    let e = events
        .wait_for("Rollout RolledBack", Duration::from_secs(30), |e| e.field("rolloutId") == "checkout-6.0")
        .await;
    assert_eq!(e.source, "greenfleet");
    assert_eq!(e.field("outcome"), "RolledBack");
    assert!(e.field("reason").contains("HOOK_EXECUTION_FAILURE"), "event reason: {}", e.detail);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_rejects_tag_mistakes_naming_the_tag_and_touches_nothing() {
    let env = spawn_env().await;
    // F3: the deployment group filters on `version=6.0`, which is also one of the Elastigroup's tags.
    let f3 = env.scenario("billing");
    // F4: green asked to carry `release=shop-5.0`, the tag the blue instances carry.
    let f4 = env.scenario("shop");
    env.install(&f3);
    env.install(&f4);
    let blue_tag = &f4.group.blue_tags[0];
    let mut r4 = env.request(&f4, "shop-f4");
    r4["greenTags"] = serde_json::json!([{"key": blue_tag.key, "value": blue_tag.value}]);
    env.submit(&env.request(&f3, "billing-f3")).await;
    env.submit(&r4).await;

    let s3 = env.wait_for_outcome("billing-f3", OUTCOME).await;
    env.assert_outcome(&s3, "Rejected");
    assert!(reason(&s3).contains("F3") && reason(&s3).contains("`version=6.0`"), "F3 reason: {}", reason(&s3));
    let s4 = env.wait_for_outcome("shop-f4", OUTCOME).await;
    env.assert_outcome(&s4, "Rejected");
    let tag = format!("`{blue_tag}`");
    assert!(reason(&s4).contains("F4") && reason(&s4).contains(&tag), "F4 reason names {tag}: {}", reason(&s4));

    for (s, saga) in [(&f3, &s3), (&f4, &s4)] {
        assert_eq!(counters(&env, s), (0, 0), "{}: a rejected rollout started nothing", saga.id);
        assert_eq!(group(&env, s).capacity, s.group.capacity, "{}: capacity untouched", saga.id);
        assert!(saga.facts.leases.is_empty(), "{}: no lease left", saga.id);
    }
    env.shutdown().await;
}

/// Two requests for the scenario's group: `ids` with versions 6.0 and 6.1 (distinct green tags, so
/// the second stays valid once the first has made 6.0 the blue fleet, F4).
fn two_requests(env: &TestEnv, s: &Scenario, ids: [&str; 2], lock_wait_minutes: u32) -> [serde_json::Value; 2] {
    let mut out = [env.request(s, ids[0]), env.request(s, ids[1])];
    for (r, version) in out.iter_mut().zip(["6.0", "6.1"]) {
        r["greenTags"] = serde_json::json!([{"key": "version", "value": version}]);
        r["timeouts"] = serde_json::json!({"lockWaitMinutes": lock_wait_minutes});
    }
    out
}

/// Submits two rollouts of the same Elastigroup at once; returns both finished sagas.
async fn two_at_once(env: &TestEnv, s: &Scenario, lock_wait_minutes: u32) -> (Saga, Saga) {
    let [a, b] = two_requests(env, s, ["shop-a", "shop-b"], lock_wait_minutes);
    tokio::join!(env.submit(&a), env.submit(&b));
    let (a, b) = tokio::join!(env.wait_for_outcome("shop-a", OUTCOME), env.wait_for_outcome("shop-b", OUTCOME));
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_rollout_of_a_busy_group_is_rejected_naming_the_holder_when_it_may_not_wait() {
    let env = spawn_env().await;
    let s = env.scenario("shop");
    env.install(&s);

    let (a, b) = two_at_once(&env, &s, 0).await;

    let (winner, loser) = if a.outcome().map(|o| o.kind()) == Some("Succeeded") { (a, b) } else { (b, a) };
    env.assert_outcome(&winner, "Succeeded");
    env.assert_outcome(&loser, "Rejected");
    let why = reason(&loser);
    assert!(
        why.contains(&format!("rollout {} holds the lease", winner.id)),
        "the rejection names the holder {}: {why}\n{}",
        winner.id,
        demo::timeline(&loser)
    );
    assert_eq!(counters(&env, &s), (1, 1), "only the winner started anything");
    wait_cloud_clean(&env, &s, &winner).await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rollouts_of_one_group_that_may_wait_run_one_after_the_other() {
    let env = spawn_env().await;
    let s = env.scenario("shop");
    env.install(&s);

    let (a, b) = two_at_once(&env, &s, 5).await;

    env.assert_outcome(&a, "Succeeded");
    env.assert_outcome(&b, "Succeeded");
    let (first, second) = if entered(&a, "Snapshot") <= entered(&b, "Snapshot") { (&a, &b) } else { (&b, &a) };
    let (f0, f1) = (entered(first, "Snapshot"), ended(first));
    let (s0, s1) = (entered(second, "Snapshot"), ended(second));
    assert!(
        f1 < s0,
        "[Snapshot … Done] of {} ({}..{}) and of {} ({}..{}) overlap: both were running at once\n{}\n{}",
        first.id,
        f0.0,
        f1.0,
        second.id,
        s0.0,
        s1.0,
        demo::timeline(first),
        demo::timeline(second)
    );
    assert!(
        second.history.iter().any(|h| h.note.contains(&format!("waiting: rollout {} holds", first.id))),
        "{} waited for the lease\n{}",
        second.id,
        demo::timeline(second)
    );
    assert_eq!(counters(&env, &s), (2, 2));
    wait_cloud_clean(&env, &s, second).await;
    env.shutdown().await;
}

/// F12 when the second request comes a little later, while the first's Blue/Green runs: it must wait
/// for the lease like one that arrives at once. (Fails today: preflight's "no Blue/Green already
/// running" rule rejects it before it ever reaches Lock — see the report of this test's author.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_requested_while_another_runs_on_the_group_waits_for_it() {
    let env = spawn_env().await;
    let s = env.scenario("shop");
    env.install(&s);
    let [a, b] = two_requests(&env, &s, ["shop-first", "shop-later"], 5);
    env.submit(&a).await;
    // The first rollout holds the lease and Spot's Blue/Green runs on the group (F12: the second waits).
    env.wait_for_saga("shop-first", "Blue/Green started", OUTCOME, |s| s.facts.green_deployment.is_some()).await;
    env.submit(&b).await;

    let first = env.wait_for_outcome("shop-first", OUTCOME).await;
    let later = env.wait_for_outcome("shop-later", OUTCOME).await;
    env.assert_outcome(&first, "Succeeded");
    env.assert_outcome(&later, "Succeeded");
    assert!(ended(&first) < entered(&later, "Snapshot"), "one after the other");
    assert_eq!(counters(&env, &s), (2, 2));
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_published_twice_on_the_queue_and_the_bus_starts_one_rollout() {
    let env = spawn_env().await;
    let s = env.scenario("shop");
    env.install(&s);
    let request = env.request(&s, "shop-twice");

    // Once on the intake queue, once on greenfleet's bus through `greenfleet submit --via-bus` (a
    // rule routes `Rollout Requested` to the intake queue), both at once.
    let text = request.to_string();
    let (_, (code, stdout, stderr)) = tokio::join!(env.submit(&request), env.cli(&["submit", "--via-bus", "-"], &text));
    assert_eq!(code, Some(0), "greenfleet submit --via-bus: {stdout}{stderr}");
    assert!(stdout.contains("submitted rollout shop-twice"), "{stdout}");
    let saga = env.wait_for_outcome("shop-twice", OUTCOME).await;

    env.assert_outcome(&saga, "Succeeded");
    // Both copies were consumed; the second found the rollout already there (ignored as a duplicate, or
    // taken for a redelivery of the first while the first's transitions were still its latest).
    env.wait_queue_idle(&env.provisioned.intake.url, SETTLE).await;
    eventually("a worker handled the second copy", SETTLE, || {
        let logs = env.logs();
        let seen = logs.contains("duplicate requestId") || logs.contains("intake redelivered");
        if seen { Ok(()) } else { Err("no duplicate or redelivery logged".into()) }
    })
    .await;
    assert_eq!(counters(&env, &s), (1, 1), "one Blue/Green start and one CreateDeployment");
    wait_cloud_clean(&env, &s, &saga).await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconcile_poll_finishes_a_rollout_whose_codedeploy_events_are_all_lost() {
    let env = spawn_env().await;
    let s = env.scenario("shop");
    env.install(&s);
    env.cloud.faults(|f| f.drop_all_events = true);

    env.submit(&env.request(&s, "shop-lost")).await;
    let saga = env.wait_for_outcome("shop-lost", OUTCOME).await;

    env.assert_outcome(&saga, "Succeeded");
    assert!(saga.facts.seen_events.is_empty(), "no CodeDeploy event reached the saga: {:?}", saga.facts.seen_events);
    assert_eq!(counters(&env, &s), (1, 1));
    wait_cloud_clean(&env, &s, &saga).await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_rejected_dead_lettered_and_the_workers_carry_on() {
    let mut env = spawn_env().await;
    let events = env.events_observer().await;
    let bad_json = r#"{"schemaVersion":1,"requestId":"bad-1","elastigroupId":"nope"}"#;
    // Odd characters, but only those SQS accepts in a body: AWS and LocalStack refuse U+0001 and the
    // like with InvalidMessageContents (moto takes them), so no sender could deliver them.
    let not_json = "\u{7f}\u{fffd} this is not JSON {";
    env.submit_raw(bad_json).await;
    env.submit_raw(not_json).await;

    let e = events.wait_for("Rollout Rejected", Duration::from_secs(60), |e| e.field("requestId") == "bad-1").await;
    assert!(e.field("reason").contains("missing field `application`"), "the reason names the problem: {}", e.detail);
    let e = events
        .wait_for("Rollout Rejected", Duration::from_secs(60), |e| e.field("reason").contains("not valid JSON"))
        .await;
    assert!(e.detail["requestId"].is_null(), "no request id could be read: {}", e.detail);

    let mut dead = env.wait_dead_letters(QueueKind::Intake, 2, Duration::from_secs(60)).await;
    dead.sort();
    let mut sent = vec![bad_json.to_owned(), not_json.to_owned()];
    sent.sort();
    assert_eq!(dead, sent, "both bad messages sit in the intake dead-letter queue");
    // One Rejected event per bad message, not one per delivery.
    let rejected = events.poll(0).await.into_iter().filter(|e| e.detail_type == "Rollout Rejected").count();
    assert_eq!(rejected, 2, "Rollout Rejected events");

    for i in 0..2 {
        assert_eq!(env.worker(i).exited(), None, "worker {i} is still running");
    }
    let s = env.scenario("shop");
    env.install(&s);
    env.submit(&env.request(&s, "shop-after-bad")).await;
    let saga = env.wait_for_outcome("shop-after-bad", OUTCOME).await;
    env.assert_outcome(&saga, "Succeeded");
    let mut poisoned = 0;
    for i in 0..2 {
        let (status, body) = env.healthz(i).await;
        assert_eq!(status, 200, "worker {i} /healthz: {body}");
        poisoned += body["poisoned"].as_u64().unwrap_or_default();
    }
    assert!(poisoned >= 6, "each bad message was refused on each of its 3 receives: {poisoned} poisoned");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_with_sigterm_exits_cleanly_and_the_other_finishes_its_rollouts() {
    let mut env = spawn_env().await;
    let shop = env.scenario("shop");
    let search = env.scenario("search");
    env.install(&shop);
    env.install(&search);
    env.submit(&env.request(&shop, "shop-term")).await;
    env.submit(&env.request(&search, "search-term")).await;
    for id in ["shop-term", "search-term"] {
        env.wait_for_saga(id, "Blue/Green started", OUTCOME, |s| s.facts.started_green).await;
    }
    for id in ["shop-term", "search-term"] {
        let saga = env.saga(id).await.expect("stored");
        assert!(!saga.phase.is_done(), "{id} is still in flight when the worker is stopped: {}", saga.phase.name());
    }

    env.worker(0).terminate();
    let status = env.worker(0).wait_exit(Duration::from_secs(10)).await;
    let log = env.worker(0).log_tail(20);
    let status = status.unwrap_or_else(|| panic!("worker 0 still runs 10 s after SIGTERM\n{log}"));
    assert!(status.success(), "worker 0 exited with {status}\n{log}");
    assert!(env.worker(0).log_text().contains("worker stopped"), "worker 0 stopped through its shutdown path\n{log}");

    for (s, id) in [(&shop, "shop-term"), (&search, "search-term")] {
        let saga = env.wait_for_outcome(id, OUTCOME).await;
        env.assert_outcome(&saga, "Succeeded");
        assert_eq!(counters(&env, s), (1, 1), "{id}");
        wait_cloud_clean(&env, s, &saga).await;
    }
    assert_eq!(env.worker(1).exited(), None, "worker 1 kept running");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_request_id_with_a_different_request_is_refused_and_changes_nothing() {
    let env = spawn_env().await;
    let events = env.events_observer().await;
    let s = env.scenario("shop");
    env.install(&s);
    let first = env.request(&s, "shop-reused");
    env.submit(&first).await;
    // The same body again (another publisher, same request): a duplicate, nothing refused.
    let mut same = first.clone();
    same["requestedBy"] = serde_json::json!("someone-else@example.com");
    env.submit(&same).await;
    let saga = env.wait_for_outcome("shop-reused", OUTCOME).await;
    env.assert_outcome(&saga, "Succeeded");

    // A different revision and green tag under the same requestId: refused by the worker with its own
    // event (not `Rollout Rejected`), the finished rollout untouched.
    let mut other = first.clone();
    other["revision"]["s3"]["key"] = serde_json::json!("shop/6.1.zip");
    other["greenTags"] = serde_json::json!([{"key": "version", "value": "6.1"}]);
    env.submit(&other).await;
    let e = events
        .wait_for("Rollout Request Conflicted", Duration::from_secs(60), |e| e.field("rolloutId") == "shop-reused")
        .await;
    let why = e.field("reason");
    assert!(why.contains("shop/6.1.zip") && why.contains("version=6.1"), "names what differs: {}", e.detail);
    assert!(why.contains("new requestId"), "says what to do: {}", e.detail);
    env.wait_queue_idle(&env.provisioned.intake.url, SETTLE).await;
    let after = env.wait_for_outcome("shop-reused", OUTCOME).await;
    assert_eq!(after.version, saga.version, "the rollout was not written again");
    assert_eq!(after.request, saga.request, "the rollout keeps its own request");
    assert_eq!(counters(&env, &s), (1, 1), "exactly one Blue/Green start and one deployment");
    assert!(events.poll(0).await.iter().all(|e| e.detail_type != "Rollout Rejected"), "no rejection was published");

    // `greenfleet submit` reads the table first and refuses before sending, naming the conflict.
    let (code, out, err) = env.cli(&["submit", "-"], &other.to_string()).await;
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(format!("{out}{err}").contains("shop/6.1.zip"), "{out}{err}");
    env.shutdown().await;
}
