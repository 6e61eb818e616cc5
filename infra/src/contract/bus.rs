//! `EventBus` contract: what is published can be observed with its detail-type, source and detail.
//!
//! On the emulator the observation is real: greenfleet's bus (from `infra_up`) gets an extra rule
//! sending every `source: greenfleet` event to a test queue, and the test reads the envelopes back.

use std::time::Duration;

use async_trait::async_trait;
use greenfleet_core::event::{EVENT_SOURCE, LifecycleEvent, LifecycleKind};
use greenfleet_core::ids::Timestamp;
use greenfleet_core::memory::MemoryBus;
use greenfleet_core::ports::{EventBus, MessageQueue};

use super::{emulator, saga, unique};
use crate::eventbridge::EventBridgeBus;
use crate::provision::queues::{self, QueueSpec};
use crate::provision::{self, Names, ProvisionOptions, rules};
use crate::sqs::SqsQueue;

/// One observed event: (source, detail-type, detail).
type Seen = (String, String, serde_json::Value);

/// A bus under test and a way to see what reached its subscribers.
#[async_trait]
pub(crate) trait Rig: Send + Sync {
    /// The bus.
    fn bus(&self) -> &dyn EventBus;
    /// Waits for `n` events to reach a subscriber (fewer if they never come).
    async fn seen(&self, n: usize) -> Vec<Seen>;
}

#[async_trait]
impl Rig for MemoryBus {
    fn bus(&self) -> &dyn EventBus {
        self
    }
    async fn seen(&self, _n: usize) -> Vec<Seen> {
        self.events()
            .into_iter()
            .map(|e| {
                let detail = serde_json::to_value(&e).expect("event as JSON");
                (EVENT_SOURCE.to_owned(), e.kind.detail_type().to_owned(), detail)
            })
            .collect()
    }
}

struct AwsRig {
    bus: EventBridgeBus,
    observer: SqsQueue,
}

#[async_trait]
impl Rig for AwsRig {
    fn bus(&self) -> &dyn EventBus {
        &self.bus
    }
    async fn seen(&self, n: usize) -> Vec<Seen> {
        let mut out = Vec::new();
        while out.len() < n {
            let batch = self.observer.receive(10, 5_000).await.expect("receive from the observer queue");
            if batch.is_empty() {
                break;
            }
            for d in batch {
                let envelope: serde_json::Value = serde_json::from_str(&d.body).expect("an EventBridge envelope");
                let field = |k: &str| envelope[k].as_str().unwrap_or_default().to_owned();
                out.push((field("source"), field("detail-type"), envelope["detail"].clone()));
                self.observer.ack(&[d.receipt]).await.expect("ack");
            }
        }
        out
    }
}

/// Published events arrive with greenfleet's source, their kind's detail-type and the event as detail.
pub(crate) async fn check_bus(rig: &dyn Rig) {
    let s = saga("rel-bus", 1_700_000_000_000);
    let events = [
        LifecycleEvent::for_saga(&s, LifecycleKind::Accepted, Timestamp(1_700_000_000_100)),
        LifecycleEvent::invalid_request(Some("bad-1".into()), "schemaVersion 2 is not understood".into(), Timestamp(1)),
    ];
    for e in &events {
        rig.bus().publish(e).await.expect("publish");
    }
    let mut seen = rig.seen(events.len()).await;
    seen.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(seen.len(), 2, "{seen:?}");
    let mut expected: Vec<Seen> = events
        .iter()
        .map(|e| (EVENT_SOURCE.to_owned(), e.kind.detail_type().to_owned(), serde_json::to_value(e).expect("JSON")))
        .collect();
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(seen, expected);
    for (_, _, detail) in seen {
        let back: LifecycleEvent = serde_json::from_value(detail).expect("detail decodes as a LifecycleEvent");
        assert!(events.contains(&back));
    }
}

#[tokio::test]
async fn memory_bus_meets_the_contract() {
    check_bus(&MemoryBus::default()).await;
}

#[tokio::test]
async fn eventbridge_bus_meets_the_contract() {
    let cfg = emulator().await;
    let names = Names::new(&unique("bus")).expect("names");
    let opts = ProvisionOptions { table_wait: Duration::from_secs(60), ..ProvisionOptions::default() };
    let p = provision::infra_up(&cfg, &names, &opts).await.expect("infra up");

    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let eb = aws_sdk_eventbridge::Client::new(&cfg);
    let observer_name = format!("{}-observer", names.prefix());
    let spec = QueueSpec { visibility_timeout_secs: 30, max_receive_count: 5 };
    let observer =
        queues::ensure_pair(&sqs, &observer_name, &format!("{observer_name}-dlq"), spec).await.expect("queue");
    let rule = format!("{}-observe", names.prefix());
    let pattern = serde_json::json!({ "source": [EVENT_SOURCE] }).to_string();
    let rule_arn = rules::ensure_rule_to_queue(&eb, Some(&p.bus_name), &rule, &pattern, "contract test", &observer.arn)
        .await
        .expect("observer rule");
    queues::allow_rules(&sqs, &observer, std::slice::from_ref(&rule_arn)).await.expect("queue policy");

    check_bus(&AwsRig {
        bus: EventBridgeBus::new(eb.clone(), p.bus_name.clone()),
        observer: SqsQueue::new(sqs.clone(), observer.url),
    })
    .await;

    rules::delete_rule(&eb, Some(&p.bus_name), &rule).await.expect("delete the observer rule");
    queues::delete(&sqs, &observer_name).await.expect("delete");
    queues::delete(&sqs, &format!("{observer_name}-dlq")).await.expect("delete");
    provision::infra_down(&cfg, &names).await.expect("infra down");
}
