//! The gates at READY, end to end on the emulator with two worker processes: the health gate against
//! the simulator's instances (each answers HTTP on its own loopback IP, healthy or not as a fault knob
//! says), manual approval through `greenfleet approve`, an approval that times out, and `greenfleet
//! cancel` while a rollout waits; and `greenfleet sim` on a wildcard address answering health checks
//! on the port `--health-port` (`GREENFLEET_SIM_HEALTH_PORT`) names.
//!
//! Every test uses the `checkout` group (Target 2, KEEP_ALIVE, CodeDeploy waits at READY for
//! ContinueDeployment) without its deployment failure, so two green instances reach READY and wait.

use std::time::Duration;

use greenfleet_core::request::ROLLOUT_TAG_KEY;
use greenfleet_core::saga::{Phase, Saga};
use greenfleet_tests::env::{TestEnv, eventually, eventually_async, spawn_env};
use greenfleet_tests::process::greenfleet_binary;
use greenfleet_workers::demo;
use greenfleet_workers::scenarios::Scenario;
use serde_json::{Value, json};

/// Longest wait for one gated rollout to end.
const OUTCOME: Duration = Duration::from_secs(120);
/// Longest wait for the simulator to settle after an outcome.
const SETTLE: Duration = Duration::from_secs(20);

/// The checkout group and deployment group, installed, CodeDeploy succeeding; the rollout must end `expect`.
fn install(env: &TestEnv, expect: &'static str) -> Scenario {
    let mut s = env.scenario("checkout");
    s.fails_with = None;
    s.expect = expect;
    env.install(&s);
    s
}

/// The rollout request `id` of `s` with `gates` (`healthCheck`, `approval`, `timeouts`) merged in.
fn request(env: &TestEnv, s: &Scenario, id: &str, gates: &Value) -> Value {
    let mut r = env.request(s, id);
    for (k, v) in gates.as_object().expect("gates are a JSON object") {
        r[k] = v.clone();
    }
    r
}

/// A health check against the simulator's instances: one passing round is enough, a second apart.
fn health_check(env: &TestEnv) -> Value {
    let port = env.sim_url.rsplit(':').next().expect("the simulator's URL has a port");
    json!({
        "urlTemplate": format!("http://{{ip}}:{port}/health"),
        "consecutiveSuccesses": 1,
        "intervalSeconds": 1,
        "timeoutSeconds": 2
    })
}

fn reason(saga: &Saga) -> &str {
    saga.outcome().and_then(|o| o.reason()).unwrap_or_default()
}

/// Waits until the simulator shows what the outcome promises (no green left and capacity back after a
/// rollback; only green at the old capacity after a success).
async fn wait_cloud_clean(env: &TestEnv, s: &Scenario, saga: &Saga) {
    eventually(&format!("the cloud left as {} promises for {}", s.expect, saga.id), SETTLE, || {
        let problems = demo::check_cloud(s, saga, &env.cloud);
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    })
    .await;
}

/// Waits until rollout `id` waits for a person at READY.
async fn wait_for_approval_step(env: &TestEnv, id: &str) -> Saga {
    env.wait_for_saga(id, "AwaitApproval", OUTCOME, |s| s.phase == Phase::AwaitApproval).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_green_fleet_passes_the_health_gate_and_the_rollout_succeeds() {
    let env = spawn_env().await;
    let s = install(&env, "Succeeded");
    env.submit(&request(&env, &s, "checkout-healthy", &json!({ "healthCheck": health_check(&env) }))).await;

    let saga = env.wait_for_outcome("checkout-healthy", OUTCOME).await;

    env.assert_outcome(&saga, "Succeeded");
    let timeline = demo::timeline(&saga);
    assert!(saga.history.iter().any(|h| h.step == "Verify"), "the rollout went through Verify\n{timeline}");
    assert!(
        saga.history.iter().any(|h| h.note.starts_with("health round passed (1/1)")),
        "a health round passed against the green instances\n{timeline}"
    );
    assert_eq!(saga.facts.green.len(), 2, "both green instances were checked");
    wait_cloud_clean(&env, &s, &saga).await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_green_fleet_fails_the_health_gate_and_is_rolled_back() {
    let env = spawn_env().await;
    let s = install(&env, "RolledBack");
    env.cloud.faults(|f| f.all_green_unhealthy = true);
    env.submit(&request(&env, &s, "checkout-sick", &json!({ "healthCheck": health_check(&env) }))).await;

    let saga = env.wait_for_outcome("checkout-sick", OUTCOME).await;

    env.assert_outcome(&saga, "RolledBack");
    let why = reason(&saga);
    assert!(why.contains("green failed its health checks"), "the reason names the health check: {why}");
    assert!(why.contains("status 503"), "the reason says what the instances answered: {why}");
    for g in &saga.facts.green {
        assert!(why.contains(g.as_str()), "the reason names green instance {g}: {why}");
    }
    wait_cloud_clean(&env, &s, &saga).await;
    let after = env.cloud.group_state(&s.group.id).expect("the group");
    assert!(
        after.instances.iter().all(|i| !i.tags.iter().any(|t| t.key == ROLLOUT_TAG_KEY)),
        "no green instance is left: {:?}",
        after.instances
    );
    assert_eq!(after.capacity, s.group.capacity, "capacity restored to the snapshot");
    assert_eq!(env.cloud.deployments_created(&s.deployment_group.name), 1);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_rollout_waits_at_ready_until_greenfleet_approve() {
    let env = spawn_env().await;
    let s = install(&env, "Succeeded");
    env.submit(&request(&env, &s, "checkout-manual", &json!({ "approval": "manual" }))).await;

    let waiting = wait_for_approval_step(&env, "checkout-manual").await;
    assert!(!waiting.facts.continued, "nothing moved traffic before the approval");
    let (code, out, err) = env.cli(&["approve", "checkout-manual", "--by", "release-manager"], "").await;
    assert_eq!(code, Some(0), "greenfleet approve: {out}{err}");
    assert!(out.contains("approval sent to rollout checkout-manual"), "{out}");

    let saga = env.wait_for_outcome("checkout-manual", OUTCOME).await;
    env.assert_outcome(&saga, "Succeeded");
    assert_eq!(saga.facts.approved_by.as_deref(), Some("release-manager"));
    assert!(saga.facts.continued, "ContinueDeployment was called after the approval");
    wait_cloud_clean(&env, &s, &saga).await;

    // Approving a finished rollout is refused with what happened to it.
    let (code, _, err) = env.cli(&["approve", "checkout-manual"], "").await;
    assert_eq!(code, Some(1));
    assert!(err.contains("already ended: Succeeded"), "{err}");
    env.shutdown().await;
}

/// The smallest approval timeout a request may ask for is one minute, and the workers run on the
/// system clock: this test waits that minute (the other gates take seconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_that_never_comes_times_out_and_the_rollout_is_rolled_back() {
    let env = spawn_env().await;
    let s = install(&env, "RolledBack");
    let gates = json!({ "approval": "manual", "timeouts": { "approvalMinutes": 1 } });
    env.submit(&request(&env, &s, "checkout-unapproved", &gates)).await;

    let waiting = wait_for_approval_step(&env, "checkout-unapproved").await;
    assert_eq!(waiting.deadline.since(waiting.phase_since), 60_000, "the approval's deadline");

    let saga = env.wait_for_outcome("checkout-unapproved", OUTCOME).await;
    env.assert_outcome(&saga, "RolledBack");
    let why = reason(&saga);
    assert!(why.contains("not approved within 1 minutes (timeouts.approvalMinutes)"), "{why}");
    assert!(saga.facts.approved_by.is_none() && !saga.facts.continued);
    wait_cloud_clean(&env, &s, &saga).await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greenfleet_cancel_while_a_rollout_waits_rolls_it_back_with_the_reason() {
    let env = spawn_env().await;
    let s = install(&env, "RolledBack");
    env.submit(&request(&env, &s, "checkout-cancel", &json!({ "approval": "manual" }))).await;

    wait_for_approval_step(&env, "checkout-cancel").await;
    let (code, out, err) =
        env.cli(&["cancel", "checkout-cancel", "--by", "oncall", "--reason", "bad build 7.1"], "").await;
    assert_eq!(code, Some(0), "greenfleet cancel: {out}{err}");
    assert!(out.contains("cancel sent to rollout checkout-cancel"), "{out}");

    let saga = env.wait_for_outcome("checkout-cancel", OUTCOME).await;
    env.assert_outcome(&saga, "RolledBack");
    assert_eq!(reason(&saga), "cancelled by oncall: bad build 7.1");
    let timeline = demo::timeline(&saga);
    for step in ["Compensating(StopDeployment)", "Compensating(RemoveGreen)", "Compensating(RestoreCapacity)"] {
        assert!(saga.history.iter().any(|h| h.step == step), "compensation ran {step}\n{timeline}");
    }
    wait_cloud_clean(&env, &s, &saga).await;
    env.shutdown().await;
}

/// A `greenfleet sim` process, killed and reaped when the test ends (even by a panic).
struct SimProcess(std::process::Child);

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address").port()
}

/// The simulator listening on 0.0.0.0 (as in a container) holds its port on every address, so the
/// instances need another one: `GREENFLEET_SIM_HEALTH_PORT` gives it, and each demo instance answers
/// `http://{ip}:<that port>/health` on its own loopback IP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greenfleet_sim_on_a_wildcard_address_answers_health_checks_on_the_health_port() {
    let bin = tokio::task::spawn_blocking(greenfleet_binary).await.expect("building the greenfleet binary");
    let port = free_port();
    let health_port = std::iter::repeat_with(free_port).find(|p| *p != port).expect("another free port");
    let log = std::env::temp_dir().join(format!("greenfleet-sim-{}-{port}.log", std::process::id()));
    let stderr = std::fs::File::create(&log).expect("the simulator's log file");
    let _sim = SimProcess(
        std::process::Command::new(bin)
            .args(["sim", "--addr", &format!("0.0.0.0:{port}"), "--demo"])
            .env("GREENFLEET_SIM_HEALTH_PORT", health_port.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("starting greenfleet sim"),
    );
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("an HTTP client");

    let group_url = format!("http://127.0.0.1:{port}/_sim/groups/sig-5b0b0001");
    let ips: Vec<String> = eventually_async("the demo's shop group served", SETTLE, || async {
        let group: Value = match http.get(&group_url).send().await {
            Ok(r) if r.status().is_success() => r.json().await.map_err(|e| e.to_string())?,
            other => return Err(format!("{other:?}")),
        };
        let ips: Vec<String> = group["instances"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["privateIp"].as_str().map(str::to_owned))
            .collect();
        if ips.is_empty() { Err(format!("no instance IPs yet: {group}")) } else { Ok(ips) }
    })
    .await;
    for ip in &ips {
        let url = format!("http://{ip}:{health_port}/health");
        eventually_async(&format!("{url} answers 200"), SETTLE, || async {
            match http.get(&url).send().await {
                Ok(r) if r.status() == reqwest::StatusCode::OK => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
    }
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(said.contains(&format!("instances answer health checks on http://{{ip}}:{health_port}/health")), "{said}");
}
