//! The bench's monotonic clock: every timestamp (console lines, cut records) counts
//! microseconds from one shared epoch, so they can be compared with each other.

use std::time::{Duration, Instant};

/// A shared epoch. Cheap to copy; every backend of a station gets the same one.
#[derive(Debug, Clone, Copy)]
pub struct BenchClock {
    epoch: Instant,
}

impl Default for BenchClock {
    fn default() -> Self {
        Self::new()
    }
}

impl BenchClock {
    /// Starts a clock whose epoch is now.
    pub fn new() -> Self {
        BenchClock { epoch: Instant::now() }
    }

    /// A clock with the given epoch.
    pub fn with_epoch(epoch: Instant) -> Self {
        BenchClock { epoch }
    }

    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Microseconds since the epoch, now.
    pub fn now_us(&self) -> u64 {
        self.us_at(Instant::now())
    }

    /// Microseconds since the epoch at `t` (0 for instants before the epoch).
    pub fn us_at(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.epoch);
        u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
    }

    /// The instant `us` microseconds after the epoch (saturating far in the future).
    pub fn instant_at(&self, us: u64) -> Instant {
        after(self.epoch, Duration::from_micros(us))
    }
}

/// `t + d`, saturating at a point far in the future instead of overflowing.
pub fn after(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(Duration::from_secs(1 << 32)))
        .unwrap_or(t)
}

/// `now + d`, saturating.
pub fn from_now(d: Duration) -> Instant {
    after(Instant::now(), d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_monotonic() {
        let c = BenchClock::new();
        let a = c.now_us();
        std::thread::sleep(Duration::from_millis(2));
        let b = c.now_us();
        assert!(b >= a + 1_000, "{a} {b}");
        assert_eq!(c.us_at(c.instant_at(12_345)), 12_345);
        let earlier = BenchClock::with_epoch(Instant::now() + Duration::from_secs(5));
        assert_eq!(earlier.now_us(), 0);
        assert!(c.instant_at(u64::MAX) > Instant::now());
        assert!(from_now(Duration::MAX) > Instant::now());
    }
}
