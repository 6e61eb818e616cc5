//! What a seed reports: its failures, the outcomes it reached, the faults it injected, and (when
//! asked) the trace of every step, each line stamped with virtual time since the seed began.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The step-by-step record of one seed. Built only when asked: a failing seed is run again with it on.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    on: bool,
    lines: Vec<String>,
}

impl Trace {
    /// An empty trace; `on` false records nothing.
    #[must_use]
    pub fn new(on: bool) -> Self {
        Self { on, lines: Vec::new() }
    }

    /// Whether lines are recorded.
    #[must_use]
    pub fn on(&self) -> bool {
        self.on
    }

    /// Records `line` at `at_ms` virtual milliseconds.
    pub fn push(&mut self, at_ms: u64, line: String) {
        if self.on {
            self.lines.push(format!("{} {line}", clock(at_ms)));
        }
    }

    /// The lines, in order.
    #[must_use]
    pub fn lines(&self) -> &[String] {
        &self.lines
    }
}

/// `+hh:mm:ss.mmm`.
#[must_use]
pub fn clock(ms: u64) -> String {
    format!("+{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, (ms / 60_000) % 60, (ms / 1_000) % 60, ms % 1_000)
}

/// Faults one seed (or a whole campaign) injected, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts(pub BTreeMap<&'static str, u64>);

impl FaultCounts {
    /// Counts one fault of `kind`.
    pub fn add(&mut self, kind: &'static str) {
        *self.0.entry(kind).or_default() += 1;
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: &Self) {
        for (k, v) in &other.0 {
            *self.0.entry(k).or_default() += v;
        }
    }

    /// `kind n, kind n, …`.
    #[must_use]
    pub fn describe(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    }
}

/// What one seed came to.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// Broken invariants, each saying what and for which rollout. Empty: the seed passed.
    pub failures: Vec<String>,
    /// Each rollout and its outcome (or the phase it was stuck in).
    pub outcomes: Vec<(String, String)>,
    /// Deliveries handled by workers.
    pub deliveries: u64,
    /// Virtual time the seed covered, in milliseconds.
    pub virtual_ms: u64,
    /// Faults injected, by kind.
    pub faults: FaultCounts,
    /// Invariant checks made.
    pub checks: u64,
    /// The step-by-step trace (empty unless traced).
    pub trace: Vec<String>,
}

impl SeedReport {
    /// Whether every invariant held.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// One line: seed, outcomes, deliveries, virtual time.
    #[must_use]
    pub fn summary(&self) -> String {
        let outcomes: Vec<String> = self.outcomes.iter().map(|(id, o)| format!("{id}={o}")).collect();
        format!(
            "seed {:>6} {} [{}] {} deliveries, {} virtual, faults: {}",
            self.seed,
            if self.ok() { "ok  " } else { "FAIL" },
            outcomes.join(" "),
            self.deliveries,
            clock(self.virtual_ms),
            self.faults.describe()
        )
    }

    /// The failure report: seed, broken invariants, then the trace.
    #[must_use]
    pub fn details(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "seed {} FAILED ({} broken invariants):", self.seed, self.failures.len());
        for f in &self.failures {
            let _ = writeln!(s, "  ✗ {f}");
        }
        if !self.trace.is_empty() {
            let _ = writeln!(s, "  trace of seed {} ({} steps):", self.seed, self.trace.len());
            for line in &self.trace {
                let _ = writeln!(s, "    {line}");
            }
        }
        let _ = writeln!(s, "  reproduce: cargo dst --from {} --seeds 1 --verbose", self.seed);
        s
    }
}
