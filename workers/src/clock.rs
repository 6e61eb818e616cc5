//! The system clock, for real deployments (core never reads one itself).

use std::time::{SystemTime, UNIX_EPOCH};

use greenfleet_core::ids::Timestamp;
use greenfleet_core::ports::Clock;

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Timestamp(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}
