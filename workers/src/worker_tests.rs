//! The worker's intake against a reused requestId: the same request again is a duplicate, a different
//! one is refused with a `Rollout Request Conflicted` event and changes nothing. And the span every
//! message's handling runs in, which names its rollout on every line logged meanwhile.

use greenfleet_core::event::LifecycleKind;

use crate::demo::{DEMO_LIMIT_MS, DEMO_START};
use crate::embedded::Embedded;
use crate::scenarios;

/// The scenario's request reused for revision 6.1, green tag `version=6.1`.
fn conflicting(s: &scenarios::Scenario) -> String {
    let mut r = s.request();
    r["revision"]["s3"]["key"] = "shop/6.1.zip".into();
    r["greenTags"] = serde_json::json!([{"key": "version", "value": "6.1"}]);
    r.to_string()
}

fn conflicts(env: &Embedded) -> Vec<greenfleet_core::event::LifecycleEvent> {
    env.bus.events().into_iter().filter(|e| e.kind == LifecycleKind::RequestConflicted).collect()
}

#[tokio::test]
async fn a_different_request_under_a_used_request_id_is_refused_and_changes_nothing() {
    let s = scenarios::demo().into_iter().find(|s| s.name == "shop-6.0").expect("the shop scenario");
    let env = Embedded::new(DEMO_START);
    s.install(&env.cloud);
    env.submit(&s.request().to_string()).await;
    env.pump().await;
    let first = env.store.all().into_iter().next().expect("saga stored");
    // Still the intake's transition: a different request must not be taken for its redelivery.
    assert_eq!(first.outbox.cause.as_deref(), Some("intake:shop-6.0"));
    let (writes, published) = (env.store.writes(), env.bus.events().len());

    env.submit(&conflicting(&s)).await;
    assert_eq!(env.pump().await, 1);
    assert_eq!(env.store.all(), vec![first.clone()], "the saga is untouched");
    assert_eq!(env.store.writes(), writes);
    let events = env.bus.events();
    assert_eq!(events.len(), published + 1, "only the conflict event: {events:?}");
    let [conflict] = conflicts(&env).try_into().expect("one conflict event");
    assert_eq!(conflict.request_id.as_deref(), Some("shop-6.0"));
    assert_eq!(conflict.outcome, None);
    let reason = conflict.reason.unwrap_or_default();
    for want in [
        "revision: s3://releases/shop/shop-6.0.zip (zip) → s3://releases/shop/6.1.zip (zip)",
        "greenTags: version=6.0 → version=6.1",
        "publish it under a new requestId",
    ] {
        assert!(reason.contains(want), "{want} not in {reason}");
    }

    // The same request again, from someone else: a duplicate, no conflict.
    let mut again = s.request();
    again["requestedBy"] = "someone else".into();
    env.submit(&again.to_string()).await;
    env.run_until_idle(DEMO_LIMIT_MS, |_| {}).await;
    let done = env.store.all().into_iter().next().expect("saga stored");
    assert_eq!(done.outcome().map(|o| o.kind()), Some("Succeeded"));
    assert_eq!(conflicts(&env).len(), 1);

    // A finished rollout is left alone too.
    env.submit(&conflicting(&s)).await;
    env.run_until_idle(DEMO_LIMIT_MS, |_| {}).await;
    assert_eq!(env.store.all(), vec![done]);
    assert_eq!(conflicts(&env).len(), 2);
    assert!(env.bus.events().iter().all(|e| e.kind != LifecycleKind::Rejected));
    assert_eq!(env.cloud.green_starts(&s.group.id), 1);
    assert_eq!(env.cloud.deployments_created(&s.deployment_group.name), 1);
}

#[tokio::test]
async fn a_saga_stored_without_a_fingerprint_matches_any_request_with_its_id() {
    let s = scenarios::demo().into_iter().find(|s| s.name == "shop-6.0").expect("the shop scenario");
    let env = Embedded::new(DEMO_START);
    s.install(&env.cloud);
    env.submit(&s.request().to_string()).await;
    env.run_until_idle(DEMO_LIMIT_MS, |_| {}).await;
    let mut old = env.store.all().into_iter().next().expect("saga stored");
    old.fingerprint = None;
    let expected = old.version;
    old.version += 1;
    greenfleet_core::ports::SagaStore::save(env.store.as_ref(), &old, expected).await.expect("saved");
    env.submit(&conflicting(&s)).await;
    env.run_until_idle(DEMO_LIMIT_MS, |_| {}).await;
    assert!(conflicts(&env).is_empty(), "an old saga has no fingerprint to conflict with");
    assert_eq!(env.store.all(), vec![old]);
}

/// The lifecycle bus, logging each event the way an adapter logs its calls: without naming the rollout.
struct LoggingBus(std::sync::Arc<greenfleet_core::memory::MemoryBus>);

#[async_trait::async_trait]
impl greenfleet_core::ports::EventBus for LoggingBus {
    async fn publish(
        &self,
        event: &greenfleet_core::event::LifecycleEvent,
    ) -> Result<(), greenfleet_core::ports::QueueError> {
        tracing::warn!(kind = ?event.kind, "adapter publishing");
        self.0.publish(event).await
    }
}

/// Log lines, captured.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_line_logged_while_a_message_is_handled_names_its_rollout() {
    use greenfleet_core::ports::{Clock as _, MessageQueue as _};
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let s = scenarios::demo().into_iter().find(|s| s.name == "shop-6.0").expect("the shop scenario");
    let env = Embedded::new(DEMO_START);
    s.install(&env.cloud);
    let mut deps = env.worker.deps().clone();
    deps.bus = std::sync::Arc::new(LoggingBus(env.bus.clone()));
    let worker = crate::worker::Worker::new(deps);
    env.submit(&s.request().to_string()).await;
    // The request, then a few rounds of whatever it sends itself, on the virtual clock.
    for _ in 0..20 {
        for (source, queue) in
            [(crate::worker::Source::Intake, &env.intake), (crate::worker::Source::Steps, &env.steps)]
        {
            for d in queue.receive(10, 0).await.unwrap_or_default() {
                worker.process(source, &d).await;
                let _ = queue.ack(std::slice::from_ref(&d.receipt)).await;
            }
        }
        if let Some(t) = env.next_due() {
            env.clock.set(t.max(env.clock.now()));
        }
    }
    let text = String::from_utf8(logs.0.lock().expect("log buffer").clone()).expect("text logs");
    let adapter: Vec<&str> = text.lines().filter(|l| l.contains("adapter publishing")).collect();
    assert!(adapter.len() >= 2, "Accepted and Started at least:\n{text}");
    let named = |l: &&str| l.contains("rollout{rollout_id=shop-6.0}");
    assert!(adapter.iter().all(named), "{text}");
    assert!(text.lines().filter(|l| l.contains("rollout accepted")).all(|l| named(&l)), "{text}");
    assert!(text.lines().any(|l| l.contains("from=") && named(&l)), "transitions are logged in the span:\n{text}");
}

/// A broken invariant is a bug, not a cloud failure: the message that meets it goes to the
/// dead-letter queue on its first delivery (the log names the rollout), instead of coming back until
/// the redrive policy gives up.
#[tokio::test]
async fn a_broken_invariant_sends_the_message_to_the_dead_letter_queue_at_once() {
    use greenfleet_core::ports::{Clock as _, MessageQueue as _, SagaStore as _};
    use greenfleet_core::saga::Phase;

    let s = scenarios::demo().into_iter().find(|s| s.name == "shop-6.0").expect("the shop scenario");
    let env = Embedded::new(DEMO_START);
    s.install(&env.cloud);
    env.submit(&s.request().to_string()).await;
    let waiting = |env: &Embedded| env.store.all().first().is_some_and(|s| matches!(s.phase, Phase::AwaitDeployment));
    while !waiting(&env) {
        if env.pump().await == 0 {
            let due = env.next_due().expect("the rollout has something to do before it waits on CodeDeploy");
            env.clock.set(if due > env.clock.now() { due } else { env.clock.now().plus_ms(1) });
        }
    }
    // Break the invariant "a rollout waiting on its deployment knows the deployment's id".
    let mut broken = env.store.all().into_iter().next().expect("saga stored");
    broken.facts.deployment_id = None;
    let expected = broken.version;
    broken.version += 1;
    env.store.save(&broken, expected).await.expect("saved");

    // Deliver as the worker loop does until some message meets the broken invariant: on its first
    // delivery, it is to be dead-lettered.
    use crate::worker::{Disposition, Source};
    let queues = [(Source::Intake, &env.intake), (Source::Events, &env.events), (Source::Steps, &env.steps)];
    let mut met = None;
    for _ in 0..1_000 {
        let mut handled = 0;
        for (source, queue) in queues {
            for d in queue.receive(10, 0).await.expect("memory queue") {
                handled += 1;
                match env.worker.process(source, &d).await {
                    Disposition::DeadLetter(why) => met = Some((queue, d, why)),
                    Disposition::Ack => queue.ack(std::slice::from_ref(&d.receipt)).await.expect("memory queue"),
                    other => panic!("{other:?} for {}", d.body),
                }
            }
        }
        if met.is_some() {
            break;
        }
        if handled == 0 {
            let due = env.next_due().expect("a timer or event is due");
            env.clock.set(if due > env.clock.now() { due } else { env.clock.now().plus_ms(1) });
        }
    }
    let (queue, d, why) = met.expect("a message met the broken invariant");
    assert_eq!(d.receive_count, 1, "dead-lettered on its first delivery");
    assert_eq!(why, "rollout shop-6.0: no deployment id while waiting for the deployment");
    queue.dead_letter(&d.receipt, &d.body).await.expect("memory queue");
    assert_eq!(queue.dead_letters(), vec![d.body.clone()]);
}
