//! Approvals and cancels published as events by another service, end to end on the emulator with two
//! worker processes: `client.approve` lets a manual rollout waiting at READY continue to Succeeded;
//! `client.cancel` rolls one back with its reason. Each publishes the README's example event (the
//! rollout ids and values come from `examples/rollout-*.json`, which the client's detail equals,
//! see greenfleet-core's `operator_event` tests). On the way, a malformed approval lands in the
//! intake dead-letter queue and one for an unknown rollout is logged and dropped, neither touching
//! the waiting rollout; `greenfleet cancel` and the client refuse an empty or overlong reason before
//! sending.
//!
//! As in `gates.rs`, the `checkout` group makes CodeDeploy wait at READY for ContinueDeployment.

use std::time::Duration;

use greenfleet_client::{Client, ClientError};
use greenfleet_core::layout::{QueueKind, ROLLOUT_APPROVED};
use greenfleet_core::operator_event::{ApprovalDetail, CancelDetail};
use greenfleet_core::saga::{Phase, Saga};
use greenfleet_tests::env::{TestEnv, eventually, spawn_env};
use greenfleet_workers::demo;
use greenfleet_workers::scenarios::Scenario;
use serde_json::json;

/// Longest wait for one gated rollout to end.
const OUTCOME: Duration = Duration::from_secs(120);
/// Longest wait for the simulator to settle, a log line to appear, or a poison event to be dead-lettered
/// (3 receives, 5 s apart).
const SETTLE: Duration = Duration::from_secs(45);

/// The README's example events.
fn approval_example() -> ApprovalDetail {
    serde_json::from_str(include_str!("../../examples/rollout-approved.json")).expect("the approval example")
}

fn cancel_example() -> CancelDetail {
    serde_json::from_str(include_str!("../../examples/rollout-cancel-requested.json")).expect("the cancel example")
}

/// The checkout group installed, CodeDeploy succeeding; a manual rollout `id` submitted and waiting at
/// READY.
async fn waiting_at_ready(env: &TestEnv, id: &str, expect: &'static str) -> Scenario {
    let mut s = env.scenario("checkout");
    s.fails_with = None;
    s.expect = expect;
    env.install(&s);
    let mut request = env.request(&s, id);
    request["approval"] = json!("manual");
    env.submit(&request).await;
    let waiting = env.wait_for_saga(id, "AwaitApproval", OUTCOME, |s| s.phase == Phase::AwaitApproval).await;
    assert!(!waiting.facts.continued, "nothing moved traffic before the approval");
    s
}

/// Puts a `Rollout Approved` event with `detail` on the environment's bus, as a chat-ops bot would.
async fn put(env: &TestEnv, detail: &serde_json::Value) {
    let bus = env.bus();
    bus.put("chatops.bot", ROLLOUT_APPROVED, detail.to_string(), Some(bus.bus_name()), Vec::new())
        .await
        .expect("PutEvents on greenfleet's bus");
}

async fn wait_cloud_clean(env: &TestEnv, s: &Scenario, saga: &Saga) {
    eventually(&format!("the cloud left as {} promises for {}", s.expect, saga.id), SETTLE, || {
        let problems = demo::check_cloud(s, saga, &env.cloud);
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_service_approves_a_manual_rollout_with_an_event() {
    let env = spawn_env().await;
    let example = approval_example();
    let id = example.rollout_id.as_str();
    let s = waiting_at_ready(&env, id, "Succeeded").await;
    let client = Client::from_env(&env.prefix).await.expect("a client for this installation");

    // Bad input never leaves the service.
    let e = client.approve(id, "").await.expect_err("refused");
    assert!(matches!(e, ClientError::InvalidCommand(_)), "{e:?}");
    // A malformed approval (no `by`) and one for a rollout greenfleet does not know, put on the bus by hand.
    let malformed = json!({ "rolloutId": id });
    put(&env, &malformed).await;
    let stranger = json!({ "rolloutId": "nobody-1.0", "by": "chatops" });
    put(&env, &stranger).await;
    let dead = env.wait_dead_letters(QueueKind::Intake, 1, SETTLE).await;
    let envelope: serde_json::Value = serde_json::from_str(&dead[0]).expect("an EventBridge envelope");
    assert_eq!(envelope["detail"], malformed, "only the malformed approval is dead-lettered");
    eventually("the unknown rollout's approval logged", SETTLE, || {
        let logs = env.logs();
        let refused = logs.contains("operator event refused") && logs.contains("missing field `by`");
        let unknown = logs.contains("nobody-1.0") && logs.contains("for a rollout greenfleet does not know");
        if refused && unknown { Ok(()) } else { Err("not yet".to_owned()) }
    })
    .await;
    let still = env.saga(id).await.expect("the rollout");
    assert_eq!(still.phase, Phase::AwaitApproval, "neither bad event moved the rollout");

    client.approve(&example.rollout_id, &example.by).await.expect("approval published");

    let saga = env.wait_for_outcome(id, OUTCOME).await;
    env.assert_outcome(&saga, "Succeeded");
    assert_eq!(saga.facts.approved_by.as_deref(), Some("release-manager"));
    assert!(saga.facts.continued, "ContinueDeployment was called after the approval");
    let timeline = demo::timeline(&saga);
    assert!(
        saga.history.iter().any(|h| h.note.starts_with("approved by release-manager")),
        "the history names who approved\n{timeline}"
    );
    wait_cloud_clean(&env, &s, &saga).await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_service_cancels_a_waiting_rollout_with_an_event_and_its_reason() {
    let env = spawn_env().await;
    let example = cancel_example();
    let id = example.rollout_id.as_str();
    let s = waiting_at_ready(&env, id, "RolledBack").await;
    let client = Client::from_env(&env.prefix).await.expect("a client for this installation");

    // The CLI applies the same checks before sending.
    let (code, _, err) = env.cli(&["cancel", id, "--by", "oncall", "--reason", " "], "").await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not sent: `reason` is empty"), "{err}");
    let e = client.cancel(id, "oncall", &"r".repeat(1025)).await.expect_err("refused");
    assert!(e.to_string().starts_with("not sent: `reason` is 1025 characters long"), "{e}");

    client.cancel(&example.rollout_id, &example.by, &example.reason).await.expect("cancel published");

    let saga = env.wait_for_outcome(id, OUTCOME).await;
    env.assert_outcome(&saga, "RolledBack");
    assert_eq!(
        saga.outcome().and_then(|o| o.reason()),
        Some("cancelled by oncall: 6.0 fails its smoke tests"),
        "the reason given in the event"
    );
    assert!(saga.facts.approved_by.is_none() && !saga.facts.continued);
    let timeline = demo::timeline(&saga);
    for step in ["Compensating(StopDeployment)", "Compensating(RemoveGreen)", "Compensating(RestoreCapacity)"] {
        assert!(saga.history.iter().any(|h| h.step == step), "compensation ran {step}\n{timeline}");
    }
    wait_cloud_clean(&env, &s, &saga).await;
    env.shutdown().await;
}
