//! Consoles: the target's log lines, timestamped on arrival.

pub mod lines;
pub mod queue;
pub mod rtt;
pub mod serial;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use cutpoint_core::{ConsoleLine, RigError, RigResult};
use queue::{line_queue, LineReceiver, LineSender, QueueStats, RecvError};

/// A console fed by a reader thread: lines arrive on a bounded queue as the thread reads them
/// (the oldest dropped and counted when nobody reads, see [`queue`]), and dropping the console
/// stops and joins the thread. Serial and RTT consoles both are one.
pub(crate) struct ReaderThread {
    name: String,
    rx: LineReceiver,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl ReaderThread {
    /// Starts `body` on a thread named `thread`, handing it the line sender and the stop flag.
    pub(crate) fn spawn(
        name: &str,
        thread: &str,
        body: impl FnOnce(LineSender, Arc<AtomicBool>) + Send + 'static,
    ) -> RigResult<Self> {
        let (tx, rx) = line_queue();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name(thread.into())
            .spawn(move || body(tx, flag))
            .map_err(|e| RigError::open(name, format!("cannot start the reader thread: {e}")))?;
        Ok(ReaderThread {
            name: name.to_string(),
            rx,
            stop,
            reader: Some(handle),
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The next line, `None` after `timeout`; an error once the reader thread has stopped.
    pub(crate) fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        match self.rx.recv_timeout(timeout) {
            Ok(l) => Ok(Some(l)),
            Err(RecvError::Timeout) => Ok(None),
            Err(RecvError::Disconnected) => Err(RigError::io(&self.name, "the console reader stopped")),
        }
    }

    /// What the queue between the reader thread and the rig holds now.
    pub(crate) fn queued(&self) -> QueueStats {
        self.rx.stats()
    }
}

impl Drop for ReaderThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

/// What a console backend's reader knows about its device.
#[derive(Debug, Default)]
pub struct LinkState {
    connected: AtomicBool,
    opens: AtomicU64,
    bytes: AtomicU64,
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
    /// Bytes read from the device so far, over every open.
    pub bytes_read: u64,
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

    pub(crate) fn add_bytes(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::AcqRel);
    }

    pub(crate) fn set_disconnected(&self, t_us: u64) {
        self.last_change_us.store(t_us, Ordering::Release);
        self.connected.store(false, Ordering::Release);
    }

    pub fn snapshot(&self) -> LinkStatus {
        LinkStatus {
            connected: self.connected.load(Ordering::Acquire),
            opens: self.opens.load(Ordering::Acquire),
            bytes_read: self.bytes.load(Ordering::Acquire),
            last_change_us: self.last_change_us.load(Ordering::Acquire),
            device: self.where_.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

impl cutpoint_core::ConsoleLink for LinkState {
    fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    fn device(&self) -> String {
        self.where_.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
