//! A hostile message driver for the embedded engine: every message is delivered more than once,
//! CodeDeploy events arrive shuffled and duplicated, and some acks are "lost" (the worker died
//! before deleting), so the queue delivers the message again after its visibility timeout.

use greenfleet_core::ports::MessageQueue;
use greenfleet_workers::embedded::Embedded;
use greenfleet_workers::worker::{Disposition, Source};

/// A small deterministic random source (xorshift64*), so a failing seed reproduces.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// Shuffles in place.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = usize::try_from(self.next_u64() % (i as u64 + 1)).unwrap_or(0);
            v.swap(i, j);
        }
    }
}

/// How hostile the driver is.
#[derive(Debug, Clone, Copy)]
pub struct Hostility {
    /// Every delivery is handled this many times before its ack.
    pub deliveries: u32,
    /// Percent of handled messages whose ack is lost.
    pub lost_acks: u64,
    /// Percent of CodeDeploy events duplicated.
    pub duplicate_events: u64,
    /// Shuffle CodeDeploy events and each received batch.
    pub shuffle: bool,
}

/// One round: deliver the cloud's events (shuffled, duplicated), then handle every visible message
/// with duplicates and lost acks. Returns how many deliveries were handled.
pub async fn pump(env: &Embedded, rng: &mut Rng, h: Hostility) -> usize {
    env.cloud.tick();
    let mut events = env.cloud.drain_events();
    let dups: Vec<String> = events.iter().filter(|_| rng.chance(h.duplicate_events)).cloned().collect();
    events.extend(dups);
    if h.shuffle {
        rng.shuffle(&mut events);
    }
    for e in events {
        let delay = if h.shuffle { rng.next_u64() % 3_000 } else { 0 };
        env.events.send(&e, delay).await.expect("memory queue");
    }
    let mut handled = 0;
    for (source, queue) in [(Source::Intake, &env.intake), (Source::Events, &env.events), (Source::Steps, &env.steps)] {
        let mut batch = queue.receive(10, 0).await.expect("memory queue");
        if h.shuffle {
            rng.shuffle(&mut batch);
        }
        for d in batch {
            let mut last = Disposition::Ack;
            for _ in 0..h.deliveries.max(1) {
                last = env.worker.process(source, &d).await;
                handled += 1;
            }
            if rng.chance(h.lost_acks) {
                continue;
            }
            match last {
                Disposition::Ack => queue.ack(std::slice::from_ref(&d.receipt)).await.expect("memory queue"),
                Disposition::Retry(ms) => queue.release(&d.receipt, ms).await.expect("memory queue"),
                Disposition::Poison(_) => queue.release(&d.receipt, 0).await.expect("memory queue"),
                Disposition::DeadLetter(_) => queue.dead_letter(&d.receipt, &d.body).await.expect("memory queue"),
            }
        }
    }
    handled
}

/// Runs rounds until nothing is due within `limit_ms` of virtual time.
pub async fn run(env: &Embedded, rng: &mut Rng, h: Hostility, limit_ms: u64) {
    let start = greenfleet_core::ports::Clock::now(&*env.clock);
    loop {
        if pump(env, rng, h).await > 0 {
            continue;
        }
        let now = greenfleet_core::ports::Clock::now(&*env.clock);
        match env.next_due() {
            None => break,
            Some(t) if t.since(start) > limit_ms => break,
            Some(t) => env.clock.set(if t > now { t } else { now.plus_ms(1) }),
        }
    }
}
