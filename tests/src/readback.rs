//! Reading an environment back: sagas and outcomes from the table, every item of it, and what the
//! queues hold. Tests wait by bounded polling of these, never by a fixed sleep.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use greenfleet_core::ids::RolloutId;
use greenfleet_core::ports::{MessageQueue as _, SagaStore as _};
use greenfleet_core::saga::Saga;
use greenfleet_infra::provision::QueueKind;
use greenfleet_infra::sqs::SqsQueue;

use crate::env::{TestEnv, eventually_async};

impl TestEnv {
    /// The saga of rollout `id`, if stored.
    ///
    /// # Panics
    /// On a bad id or a store failure.
    pub async fn saga(&self, id: &str) -> Option<Saga> {
        let id = RolloutId::parse(id).expect("a valid rollout id");
        self.store.load(&id).await.expect("reading the saga table")
    }

    /// Polls the store every 200 ms until rollout `id` satisfies `done`; returns it.
    ///
    /// # Panics
    /// After `timeout`, with the rollout's timeline and the workers' log tails.
    pub async fn wait_for_saga(&self, id: &str, what: &str, timeout: Duration, done: impl Fn(&Saga) -> bool) -> Saga {
        let deadline = Instant::now() + timeout;
        loop {
            let saga = self.saga(id).await;
            if let Some(s) = saga.as_ref().filter(|s| done(s)) {
                return s.clone();
            }
            if Instant::now() >= deadline {
                let timeline = saga.as_ref().map_or_else(
                    || "(no saga stored)".to_owned(),
                    |s| {
                        format!(
                            "now {}: {}\n{}",
                            s.phase.name(),
                            s.waiting_for(),
                            greenfleet_workers::demo::timeline(s)
                        )
                    },
                );
                panic!(
                    "rollout {id} did not reach {what} within {timeout:?} (prefix {})\n{timeline}\n{}",
                    self.prefix,
                    self.log_tails()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until rollout `id` has an outcome; returns the finished saga.
    ///
    /// # Panics
    /// After `timeout`, with the rollout's timeline and the workers' log tails.
    pub async fn wait_for_outcome(&self, id: &str, timeout: Duration) -> Saga {
        self.wait_for_saga(id, "an outcome", timeout, |s| s.phase.is_done()).await
    }

    /// Asserts that rollout `saga` ended as `kind`, showing its timeline otherwise.
    ///
    /// # Panics
    /// When it did not.
    #[track_caller]
    pub fn assert_outcome(&self, saga: &Saga, kind: &str) {
        let got = saga.outcome().map(|o| o.kind());
        assert_eq!(
            got,
            Some(kind),
            "rollout {} ended {}\n{}",
            saga.id,
            saga.waiting_for(),
            greenfleet_workers::demo::timeline(saga)
        );
    }

    /// Every item of the environment's DynamoDB table (sagas, leases), read with a paginated Scan —
    /// something greenfleet itself never does; tests use it to see all that was stored.
    ///
    /// # Panics
    /// When DynamoDB refuses.
    pub async fn scan_table(&self) -> Vec<HashMap<String, AttributeValue>> {
        let client = aws_sdk_dynamodb::Client::new(&self.sdk);
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = client
                .scan()
                .table_name(&self.provisioned.table)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .expect("scanning the table");
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return items,
            }
        }
    }

    /// Approximate message counts of a queue: visible, in flight, delayed.
    ///
    /// # Panics
    /// When SQS refuses.
    pub async fn queue_counts(&self, url: &str) -> (u64, u64, u64) {
        let out = aws_sdk_sqs::Client::new(&self.sdk)
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .expect("reading queue attributes");
        let attrs: HashMap<QueueAttributeName, String> = out.attributes().cloned().unwrap_or_default();
        let n = |k: QueueAttributeName| attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0);
        (
            n(QueueAttributeName::ApproximateNumberOfMessages),
            n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            n(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        )
    }

    /// Waits until the queue at `url` holds nothing (visible, in flight or delayed).
    ///
    /// # Panics
    /// After `timeout`.
    pub async fn wait_queue_idle(&self, url: &str, timeout: Duration) {
        eventually_async(&format!("queue {url} drained"), timeout, || async {
            let c = self.queue_counts(url).await;
            if c == (0, 0, 0) { Ok(()) } else { Err(format!("(visible, in flight, delayed) = {c:?}")) }
        })
        .await;
    }

    /// Reads the dead-letter queue of `kind` until it has yielded `n` messages; returns their bodies.
    /// (They stay in the queue, invisible for a while.)
    ///
    /// # Panics
    /// After `timeout`, listing what was found.
    pub async fn wait_dead_letters(&self, kind: QueueKind, n: usize, timeout: Duration) -> Vec<String> {
        let dlq = SqsQueue::from_config(&self.sdk, &self.provisioned.queue(kind).dlq_url);
        let deadline = Instant::now() + timeout;
        let mut bodies = Vec::new();
        while bodies.len() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} messages reached the {} dead-letter queue within {timeout:?}: {bodies:?}\n{}",
                bodies.len(),
                kind.suffix(),
                self.log_tails()
            );
            for d in dlq.receive(10, 1_000).await.expect("receiving from the dead-letter queue") {
                // Hidden for the queue's visibility timeout, then seen again: count each body once.
                if !bodies.contains(&d.body) {
                    bodies.push(d.body);
                }
            }
        }
        bodies
    }
}
