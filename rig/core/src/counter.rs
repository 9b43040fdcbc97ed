//! A counter of delivered image bytes that one thread updates and another waits on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Inner {
    value: AtomicU64,
    lock: Mutex<()>,
    changed: Condvar,
}

/// Bytes of the image delivered by a transport. Clones share the same counter.
#[derive(Debug, Clone, Default)]
pub struct DeliveryCounter {
    inner: Arc<Inner>,
}

impl DeliveryCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self) -> u64 {
        self.inner.value.load(Ordering::Acquire)
    }

    /// Sets the counter (used by `stage`, which starts again at 0).
    pub fn set(&self, value: u64) {
        let _g = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.inner.value.store(value, Ordering::Release);
        self.inner.changed.notify_all();
    }

    /// Raises the counter to `value` if it is higher (a high-water mark of image offsets).
    pub fn raise_to(&self, value: u64) {
        let _g = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.inner.value.fetch_max(value, Ordering::AcqRel);
        self.inner.changed.notify_all();
    }

    /// Waits until the counter reaches `target`. Returns the counter's value; it is below
    /// `target` only when `timeout` passed first.
    pub fn wait_at_least(&self, target: u64, timeout: Duration) -> u64 {
        let deadline = crate::clock::from_now(timeout);
        let mut g = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let v = self.get();
            if v >= target {
                return v;
            }
            let now = Instant::now();
            if now >= deadline {
                return v;
            }
            g = match self.inner.changed.wait_timeout(g, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiter_wakes_when_target_reached() {
        let c = DeliveryCounter::new();
        let c2 = c.clone();
        let h = std::thread::spawn(move || c2.wait_at_least(100, Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(10));
        c.raise_to(50);
        c.raise_to(20);
        assert_eq!(c.get(), 50);
        c.raise_to(100);
        assert_eq!(h.join().unwrap(), 100);
    }

    #[test]
    fn wait_times_out_below_target() {
        let c = DeliveryCounter::new();
        c.set(7);
        assert_eq!(c.wait_at_least(8, Duration::from_millis(20)), 7);
    }
}
