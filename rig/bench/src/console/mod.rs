//! Consoles: the target's log lines, timestamped on arrival.

pub mod lines;
pub mod rtt;
pub mod serial;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// What a console backend's reader knows about its device.
#[derive(Debug, Default)]
pub struct LinkState {
    connected: AtomicBool,
    opens: AtomicU64,
    last_change_us: AtomicU64,
    where_: Mutex<String>,
}

/// A snapshot of [`LinkState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    /// The device is open right now.
    pub connected: bool,
    /// How many times it was opened (1 after the first open, +1 per reopen).
    pub opens: u64,
    /// When it last connected or disconnected (bench clock, µs).
    pub last_change_us: u64,
    /// The device node (or probe) it is read from.
    pub device: String,
}

impl LinkState {
    pub(crate) fn set_connected(&self, device: &str, t_us: u64) {
        *self.where_.lock().unwrap_or_else(|p| p.into_inner()) = device.to_string();
        self.opens.fetch_add(1, Ordering::AcqRel);
        self.last_change_us.store(t_us, Ordering::Release);
        self.connected.store(true, Ordering::Release);
    }

    pub(crate) fn set_disconnected(&self, t_us: u64) {
        self.last_change_us.store(t_us, Ordering::Release);
        self.connected.store(false, Ordering::Release);
    }

    pub fn snapshot(&self) -> LinkStatus {
        LinkStatus {
            connected: self.connected.load(Ordering::Acquire),
            opens: self.opens.load(Ordering::Acquire),
            last_change_us: self.last_change_us.load(Ordering::Acquire),
            device: self.where_.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}
