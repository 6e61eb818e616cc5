//! `MessageQueue` contract: send / receive / ack, delays, release, receive counts, dead-lettering
//! (by the redrive policy, and at once with `dead_letter`).
//!
//! The in-memory queue runs on a manual clock, SQS on real time. A [`Rig`] hides the difference:
//! where the contract says "let this much time pass", the memory rig advances its clock and the SQS
//! rig does nothing, because the next `receive` long-polls until the message shows up. Delays are
//! kept to one or two seconds and the SQS visibility timeout to two.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use greenfleet_core::ids::Timestamp;
use greenfleet_core::memory::{ManualClock, MemoryQueue};
use greenfleet_core::ports::{Delivery, MessageQueue};

use super::{emulator, unique};
use crate::provision::queues::{self, QueueSpec};
use crate::sqs::SqsQueue;

/// Receives before a message is dead-lettered, in every rig.
const MAX_RECEIVES: u32 = 2;
/// Visibility timeout of the SQS test queues, seconds.
const SQS_VISIBILITY_SECS: u32 = 2;

/// A queue under test with its dead-letter queue and its notion of time.
#[async_trait]
pub(crate) trait Rig: Send + Sync {
    /// The queue.
    fn queue(&self) -> &dyn MessageQueue;
    /// Lets `ms` pass for the queue.
    fn elapse(&self, ms: u64);
    /// How long a received message stays hidden.
    fn visibility_ms(&self) -> u64;
    /// How long to wait for a message that should arrive.
    fn patience_ms(&self) -> u64;
    /// Bodies in the dead-letter queue.
    async fn dead_letters(&self) -> Vec<String>;
}

struct MemoryRig {
    clock: Arc<ManualClock>,
    queue: MemoryQueue,
}

#[async_trait]
impl Rig for MemoryRig {
    fn queue(&self) -> &dyn MessageQueue {
        &self.queue
    }
    fn elapse(&self, ms: u64) {
        self.clock.advance(ms);
    }
    fn visibility_ms(&self) -> u64 {
        30_000
    }
    fn patience_ms(&self) -> u64 {
        0
    }
    async fn dead_letters(&self) -> Vec<String> {
        self.queue.dead_letters()
    }
}

fn memory_rig() -> Box<dyn Rig> {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    Box::new(MemoryRig { queue: MemoryQueue::new(clock.clone(), MAX_RECEIVES), clock })
}

struct SqsRig {
    queue: SqsQueue,
    dlq: SqsQueue,
}

#[async_trait]
impl Rig for SqsRig {
    fn queue(&self) -> &dyn MessageQueue {
        &self.queue
    }
    fn elapse(&self, _ms: u64) {
        // Real time: the next receive's long poll does the waiting.
    }
    fn visibility_ms(&self) -> u64 {
        u64::from(SQS_VISIBILITY_SECS) * 1000
    }
    fn patience_ms(&self) -> u64 {
        5_000
    }
    async fn dead_letters(&self) -> Vec<String> {
        let got = collect(&self.dlq, 1, 5_000).await;
        got.into_iter().map(|d| d.body).collect()
    }
}

async fn sqs_rig(cfg: &aws_config::SdkConfig) -> Box<dyn Rig> {
    let client = aws_sdk_sqs::Client::new(cfg);
    let name = unique("q");
    let spec = QueueSpec { visibility_timeout_secs: SQS_VISIBILITY_SECS, max_receive_count: MAX_RECEIVES };
    let info = queues::ensure_pair(&client, &name, &format!("{name}-dlq"), spec).await.expect("create test queues");
    Box::new(SqsRig { queue: SqsQueue::new(client.clone(), info.url), dlq: SqsQueue::new(client, info.dlq_url) })
}

/// Receives until `n` messages arrived or a receive comes back empty.
async fn collect(q: &dyn MessageQueue, n: usize, wait_ms: u64) -> Vec<Delivery> {
    let mut got = Vec::new();
    while got.len() < n {
        let batch = q.receive(10, wait_ms).await.expect("receive");
        if batch.is_empty() {
            break;
        }
        got.extend(batch);
    }
    got
}

async fn one(rig: &dyn Rig, why: &str) -> Delivery {
    let mut got = collect(rig.queue(), 1, rig.patience_ms()).await;
    assert_eq!(got.len(), 1, "{why}: expected one message, got {got:?}");
    got.remove(0)
}

/// A sent message is received once, then gone for good once acked.
async fn send_receive_ack(rig: &dyn Rig) {
    let q = rig.queue();
    q.send("hello", 0).await.expect("send");
    let d = one(rig, "a sent message").await;
    assert_eq!((d.body.as_str(), d.receive_count), ("hello", 1));
    assert_eq!(q.receive(10, 0).await.expect("receive"), Vec::new(), "hidden while in flight");
    q.ack(std::slice::from_ref(&d.receipt)).await.expect("ack");
    rig.elapse(rig.visibility_ms() + 1_000);
    let wait = if rig.patience_ms() == 0 { 0 } else { rig.visibility_ms() + 1_000 };
    assert_eq!(q.receive(10, wait).await.expect("receive"), Vec::new(), "an acked message never returns");
    // Acking or releasing a receipt that is no longer valid is not an error.
    q.ack(std::slice::from_ref(&d.receipt)).await.expect("second ack");
    q.ack(&[]).await.expect("empty ack");
}

/// `receive` returns at most `max`; several messages can be acked at once.
async fn batches(rig: &dyn Rig) {
    let q = rig.queue();
    for body in ["m1", "m2", "m3"] {
        q.send(body, 0).await.expect("send");
    }
    assert_eq!(q.receive(0, 0).await.expect("receive none"), Vec::new());
    let first = q.receive(2, rig.patience_ms()).await.expect("receive");
    assert!((1..=2).contains(&first.len()), "receive(2) gave {}", first.len());
    let mut all = first;
    all.extend(collect(q, 3 - all.len(), rig.patience_ms()).await);
    let bodies: BTreeSet<&str> = all.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, BTreeSet::from(["m1", "m2", "m3"]));
    let receipts: Vec<String> = all.iter().map(|d| d.receipt.clone()).collect();
    q.ack(&receipts).await.expect("ack all");
    rig.elapse(rig.visibility_ms() + 1_000);
    let wait = if rig.patience_ms() == 0 { 0 } else { rig.visibility_ms() + 1_000 };
    assert_eq!(q.receive(10, wait).await.expect("receive"), Vec::new());
}

/// A delayed message stays hidden until its delay passed; over-long delays are capped, not refused.
async fn delays(rig: &dyn Rig) {
    let q = rig.queue();
    assert_eq!(q.max_delay_ms(), 900_000, "both adapters follow SQS's 15 minutes");
    q.send("later", 1_500).await.expect("send delayed");
    q.send("much later", 3_600_000).await.expect("an over-long delay is capped");
    assert_eq!(q.receive(10, 0).await.expect("receive"), Vec::new(), "hidden during its delay");
    rig.elapse(1_500);
    let d = one(rig, "after the delay").await;
    assert_eq!((d.body.as_str(), d.receive_count), ("later", 1));
    q.ack(&[d.receipt]).await.expect("ack");
}

/// Release makes a message visible again after its delay, and each receive counts. (Release with no
/// delay is exercised by [`dead_letters`].)
async fn release(rig: &dyn Rig) {
    let q = rig.queue();
    q.send("again", 0).await.expect("send");
    let d1 = one(rig, "first receive").await;
    assert_eq!(d1.receive_count, 1);
    q.release(&d1.receipt, 1_000).await.expect("release later");
    assert_eq!(q.receive(10, 0).await.expect("receive"), Vec::new(), "hidden until the release delay passed");
    rig.elapse(1_000);
    let d2 = one(rig, "released after a delay").await;
    assert_eq!((d2.body.as_str(), d2.receive_count), ("again", 2));
    q.ack(std::slice::from_ref(&d2.receipt)).await.expect("ack");
    q.release(&d2.receipt, 0).await.expect("releasing the receipt of an acked message is not an error");
    q.release("not-a-receipt", 0).await.expect("releasing an unknown receipt is not an error");
    q.ack(&["not-a-receipt".to_owned()]).await.expect("acking an unknown receipt is not an error");
}

/// After `MAX_RECEIVES` receives, the next receive moves the message to the dead-letter queue.
async fn dead_letters(rig: &dyn Rig) {
    let q = rig.queue();
    q.send("poison", 0).await.expect("send");
    for n in 1..=MAX_RECEIVES {
        let d = one(rig, "a receive before dead-lettering").await;
        assert_eq!((d.body.as_str(), d.receive_count), ("poison", n));
        q.release(&d.receipt, 0).await.expect("release");
    }
    let wait = rig.patience_ms().min(1_000);
    assert_eq!(q.receive(10, wait).await.expect("receive"), Vec::new(), "dead-lettered, not delivered");
    assert_eq!(rig.dead_letters().await, vec!["poison".to_owned()]);
}

/// `dead_letter` moves a received message to the dead-letter queue at once, on its first receive.
async fn dead_letter_at_once(rig: &dyn Rig) {
    let q = rig.queue();
    q.send("broken invariant", 0).await.expect("send");
    let d = one(rig, "the first receive").await;
    assert_eq!(d.receive_count, 1);
    q.dead_letter(&d.receipt, &d.body).await.expect("dead-letter");
    rig.elapse(rig.visibility_ms() + 1_000);
    let wait = if rig.patience_ms() == 0 { 0 } else { rig.visibility_ms() + 1_000 };
    assert_eq!(q.receive(10, wait).await.expect("receive"), Vec::new(), "gone from the queue");
    assert_eq!(rig.dead_letters().await, vec!["broken invariant".to_owned()]);
}

/// The whole `MessageQueue` contract; each property gets a fresh queue from `make`.
pub(crate) async fn check_queue(make: impl AsyncFn() -> Box<dyn Rig>) {
    send_receive_ack(&*make().await).await;
    batches(&*make().await).await;
    delays(&*make().await).await;
    release(&*make().await).await;
    dead_letters(&*make().await).await;
    dead_letter_at_once(&*make().await).await;
}

#[tokio::test]
async fn memory_queue_meets_the_contract() {
    check_queue(async || memory_rig()).await;
}

#[tokio::test]
async fn sqs_queue_meets_the_contract() {
    let cfg = emulator().await;
    check_queue(async || sqs_rig(&cfg).await).await;
}

#[tokio::test]
async fn sqs_reports_a_missing_queue_with_what_to_do() {
    let cfg = emulator().await;
    let client = aws_sdk_sqs::Client::new(&cfg);
    let name = unique("gone");
    let info = queues::ensure_pair(
        &client,
        &name,
        &format!("{name}-dlq"),
        QueueSpec { visibility_timeout_secs: 1, max_receive_count: 1 },
    )
    .await
    .expect("create");
    let live = SqsQueue::new(client.clone(), info.url.clone());
    assert_eq!(live.visibility_timeout_ms().await.expect("the queue's visibility timeout"), 1_000);
    queues::delete(&client, &name).await.expect("delete");
    let q = SqsQueue::new(client.clone(), info.url);
    assert!(q.visibility_timeout_ms().await.is_err(), "a deleted queue has no visibility timeout to read");
    for err in [q.send("x", 0).await.expect_err("send"), q.receive(1, 0).await.expect_err("receive")] {
        let m = err.to_string();
        assert!(m.contains("does not exist") && m.contains("greenfleet infra up"), "{m}");
        assert!(matches!(err, greenfleet_core::ports::QueueError::Rejected(_)), "{err:?}");
    }
    queues::delete(&client, &format!("{name}-dlq")).await.expect("delete dlq");
}
