//! Watching greenfleet's lifecycle events the way a subscriber would: a rule on the environment's
//! bus sends every `source: greenfleet` event to an observer queue, and the test reads the
//! EventBridge envelopes back (the same arrangement as infra's bus contract test).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::{RuleState, Target};
use aws_sdk_sqs::types::QueueAttributeName;
use greenfleet_core::event::EVENT_SOURCE;
use greenfleet_core::ports::MessageQueue as _;
use greenfleet_infra::sqs::SqsQueue;

/// One lifecycle event as a subscriber receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// The envelope's `source` (`greenfleet`).
    pub source: String,
    /// The envelope's `detail-type`, e.g. `Rollout RolledBack`.
    pub detail_type: String,
    /// The envelope's `detail`: the `LifecycleEvent` as JSON (camelCase).
    pub detail: serde_json::Value,
}

impl Seen {
    /// A string field of the detail, e.g. `rolloutId` or `reason` (empty when absent).
    #[must_use]
    pub fn field(&self, name: &str) -> &str {
        self.detail.get(name).and_then(serde_json::Value::as_str).unwrap_or_default()
    }
}

/// The observer rule and queue of one environment, and every event read from it so far.
#[derive(Debug)]
pub struct Observer {
    queue: SqsQueue,
    rule: String,
    bus: String,
    seen: tokio::sync::Mutex<Vec<Seen>>,
    deleted: Mutex<bool>,
}

impl Observer {
    /// Creates `<prefix>-observer` and the rule `<prefix>-observe` on `bus`.
    pub(crate) async fn create(sdk: &SdkConfig, prefix: &str, bus: &str) -> Self {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let eb = aws_sdk_eventbridge::Client::new(sdk);
        let queue_name = format!("{prefix}-observer");
        let url = sqs
            .create_queue()
            .queue_name(&queue_name)
            .send()
            .await
            .expect("creating the observer queue")
            .queue_url()
            .expect("the observer queue's URL")
            .to_owned();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("reading the observer queue's ARN");
        let arn = attrs.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).expect("the queue ARN").clone();
        let rule = format!("{prefix}-observe");
        let pattern = serde_json::json!({ "source": [EVENT_SOURCE] }).to_string();
        let rule_arn = eb
            .put_rule()
            .name(&rule)
            .event_bus_name(bus)
            .event_pattern(pattern)
            .state(RuleState::Enabled)
            .send()
            .await
            .expect("creating the observer rule")
            .rule_arn()
            .expect("the rule ARN")
            .to_owned();
        let target = Target::builder().id("observer").arn(&arn).build().expect("a rule target");
        let out = eb
            .put_targets()
            .rule(&rule)
            .event_bus_name(bus)
            .targets(target)
            .send()
            .await
            .expect("pointing the observer rule at its queue");
        assert_eq!(out.failed_entry_count(), 0, "observer target refused: {:?}", out.failed_entries());
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }],
        });
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .expect("letting the observer rule send to its queue");
        Self {
            queue: SqsQueue::new(sqs, url),
            rule,
            bus: bus.to_owned(),
            seen: tokio::sync::Mutex::new(Vec::new()),
            deleted: Mutex::new(false),
        }
    }

    /// Reads whatever has arrived (waiting up to `wait_ms` for a first message), keeps it, and returns
    /// every event seen so far.
    pub async fn poll(&self, wait_ms: u64) -> Vec<Seen> {
        let mut seen = self.seen.lock().await;
        let batch = self.queue.receive(10, wait_ms).await.expect("receiving from the observer queue");
        let mut receipts = Vec::new();
        for d in batch {
            let envelope: serde_json::Value = serde_json::from_str(&d.body)
                .unwrap_or_else(|e| panic!("not an EventBridge envelope ({e}): {}", d.body));
            let text = |k: &str| envelope[k].as_str().unwrap_or_default().to_owned();
            seen.push(Seen {
                source: text("source"),
                detail_type: text("detail-type"),
                detail: envelope["detail"].clone(),
            });
            receipts.push(d.receipt);
        }
        if !receipts.is_empty() {
            self.queue.ack(&receipts).await.expect("acking observed events");
        }
        seen.clone()
    }

    /// Waits up to `timeout` for an event with `detail_type` that `matches`, and returns it.
    ///
    /// # Panics
    /// On timeout, listing every event seen.
    pub async fn wait_for(&self, detail_type: &str, timeout: Duration, matches: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.poll(1_000).await;
            if let Some(s) = seen.iter().find(|s| s.detail_type == detail_type && matches(s)) {
                return s.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no matching `{detail_type}` event within {timeout:?}; seen:\n{}",
                seen.iter().map(|s| format!("  {} {}", s.detail_type, s.detail)).collect::<Vec<_>>().join("\n")
            );
        }
    }

    /// Deletes the rule and the queue (idempotent, best effort).
    pub(crate) async fn delete(&self, sdk: &SdkConfig) {
        {
            let mut deleted = self.deleted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if *deleted {
                return;
            }
            *deleted = true;
        }
        let eb = aws_sdk_eventbridge::Client::new(sdk);
        let _ = eb.remove_targets().rule(&self.rule).event_bus_name(&self.bus).ids("observer").send().await;
        let _ = eb.delete_rule().name(&self.rule).event_bus_name(&self.bus).send().await;
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let _ = sqs.delete_queue().queue_url(self.queue.url()).send().await;
    }
}
