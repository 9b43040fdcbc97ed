//! A UART console through a USB serial adapter.
//!
//! The port stays open across power cuts so the start of the boot log is not lost. A reader
//! thread stamps each line the moment its newline arrives. When the adapter disappears (read
//! error, end of file, or its stable name no longer points at the open device) the reader
//! reopens it by its stable identity, which may now resolve to another device node, and
//! carries on.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serialport::SerialPort;

use super::lines::LineAssembler;
use super::queue::{LineSender, QueueStats};
use super::{LinkState, LinkStatus, ReaderThread};
use crate::config::SerialConsoleConfig;
use crate::serial_id::{open_identity, open_port, LineSettings, SerialIdentity};
use cutpoint_core::clock::BenchClock;
use cutpoint_core::{Console, ConsoleLine, RigResult};

/// How often the reader retries opening a device that went away.
const REOPEN_POLL: Duration = Duration::from_millis(10);

/// A serial console.
pub struct SerialConsole {
    thread: ReaderThread,
    link: Arc<LinkState>,
}

struct Reader {
    id: SerialIdentity,
    settings: LineSettings,
    name: String,
    clock: BenchClock,
    tx: LineSender,
    link: Arc<LinkState>,
    stop: Arc<AtomicBool>,
}

impl SerialConsole {
    /// Opens the console. The device must be present now; later disappearances are survived.
    pub fn open(cfg: &SerialConsoleConfig, clock: BenchClock) -> RigResult<Self> {
        let id = SerialIdentity::from_config(cfg.port.as_deref(), cfg.usb_serial.as_deref(), "console/serial")?;
        let name = format!("console/serial:{id}");
        if let Some(hint) = id.stability_hint() {
            tracing::warn!("{name}: {hint}");
        }
        let settings = LineSettings {
            baud: cfg.baud,
            dtr: cfg.dtr,
            rts: cfg.rts,
            timeout: Duration::from_millis(20),
        };
        let (path, port) = open_identity(&id, &settings, &name)?;
        let link = Arc::new(LinkState::default());
        link.set_connected(&path.to_string_lossy(), clock.now_us());
        let reader_link = link.clone();
        let reader_name = name.clone();
        let thread = ReaderThread::spawn(&name, "serial-console", move |tx, stop| {
            let reader = Reader {
                id,
                settings,
                name: reader_name,
                clock,
                tx,
                link: reader_link,
                stop,
            };
            reader.run(path, port)
        })?;
        Ok(SerialConsole { thread, link })
    }

    /// Whether the device is open now, how often it was (re)opened, and where.
    pub fn status(&self) -> LinkStatus {
        self.link.snapshot()
    }

    /// What is read and not yet taken: lines and bytes, bounded (see [`super::queue`]).
    pub fn queued(&self) -> QueueStats {
        self.thread.queued()
    }

    /// Shared link state, for watchers on other threads.
    pub fn link(&self) -> Arc<LinkState> {
        self.link.clone()
    }
}

impl Reader {
    fn run(self, mut path: PathBuf, port: Box<dyn SerialPort>) {
        let mut port = Some(port);
        let mut lines = LineAssembler::new();
        let mut buf = [0u8; 1024];
        let mut last_check = Instant::now();
        let check_every = match self.id {
            SerialIdentity::Path(_) => Duration::from_millis(100),
            SerialIdentity::UsbSerial(_) => Duration::from_millis(500),
        };
        while !self.stop.load(Ordering::Acquire) {
            let Some(p) = port.as_mut() else {
                // Gone: wait for the device to come back under its stable name.
                std::thread::sleep(REOPEN_POLL);
                if let Some(new_path) = self.id.resolve() {
                    match open_port(&new_path, &self.settings, &self.name) {
                        Ok(newp) => {
                            tracing::info!("{}: reopened as {}", self.name, new_path.display());
                            self.link
                                .set_connected(&new_path.to_string_lossy(), self.clock.now_us());
                            path = new_path;
                            port = Some(newp);
                            last_check = Instant::now();
                        }
                        Err(e) => tracing::debug!("{}: not back yet: {}", self.name, e.message),
                    }
                }
                continue;
            };
            let gone = match p.read(&mut buf) {
                Ok(0) => true,
                Ok(n) => {
                    let t = self.clock.now_us();
                    self.link.add_bytes(n);
                    let tx = &self.tx;
                    lines.push(&buf[..n], t, &mut |l| {
                        let _ = tx.send(l);
                    });
                    false
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::Interrupted => {
                    if last_check.elapsed() >= check_every {
                        last_check = Instant::now();
                        // The stable name now points elsewhere (or nowhere): the device we hold
                        // is stale even if reads have not failed yet.
                        self.id.resolve().as_ref() != Some(&path)
                    } else {
                        false
                    }
                }
                Err(e) => {
                    tracing::info!("{}: {} went away: {e}", self.name, path.display());
                    true
                }
            };
            if gone {
                let t = self.clock.now_us();
                if let Some(rest) = lines.flush(t) {
                    let _ = self.tx.send(rest);
                }
                port = None;
                self.link.set_disconnected(t);
            }
        }
    }
}

impl Console for SerialConsole {
    fn describe(&self) -> String {
        self.thread.name().to_string()
    }

    fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        self.thread.read_line(timeout)
    }

    fn link(&self) -> Option<Arc<dyn cutpoint_core::ConsoleLink>> {
        Some(self.link.clone())
    }
}
