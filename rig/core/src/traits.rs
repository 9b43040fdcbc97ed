//! The traits the engine drives, and the rig's own error type.
//!
//! The engine never names a concrete backend. A station file picks one implementation of each
//! trait (the simulated board provides all of them), so the same campaign runs on a lab bench
//! and on the simulated board.

use std::fmt;
use std::time::Duration;

use crate::counter::DeliveryCounter;

/// What went wrong with the rig itself (never a verdict about the device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RigError {
    /// Which backend failed, e.g. `power/lcus:/dev/serial/by-id/usb-1a86_7523-if00 ch1`.
    pub backend: String,
    pub kind: RigErrorKind,
    /// What happened and what to do about it.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RigErrorKind {
    /// The device could not be opened (missing, no permission, wrong platform).
    Open,
    /// Reading or writing the device failed after it was opened.
    Io,
    /// The device did not answer in time.
    Timeout,
    /// The device answered something the protocol does not allow.
    Protocol,
    /// The backend cannot do what was asked (e.g. read back a relay that has no status query).
    Unsupported,
}

impl RigError {
    pub fn new(backend: impl Into<String>, kind: RigErrorKind, message: impl Into<String>) -> Self {
        RigError {
            backend: backend.into(),
            kind,
            message: message.into(),
        }
    }

    /// Shorthand for [`RigErrorKind::Open`].
    pub fn open(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(backend, RigErrorKind::Open, message)
    }

    /// Shorthand for [`RigErrorKind::Io`].
    pub fn io(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(backend, RigErrorKind::Io, message)
    }

    /// Shorthand for [`RigErrorKind::Timeout`].
    pub fn timeout(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(backend, RigErrorKind::Timeout, message)
    }

    /// Shorthand for [`RigErrorKind::Protocol`].
    pub fn protocol(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(backend, RigErrorKind::Protocol, message)
    }

    /// Shorthand for [`RigErrorKind::Unsupported`].
    pub fn unsupported(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(backend, RigErrorKind::Unsupported, message)
    }
}

impl fmt::Display for RigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?}): {}", self.backend, self.kind, self.message)
    }
}

impl std::error::Error for RigError {}

pub type RigResult<T> = Result<T, RigError>;

/// Switches the target's supply.
pub trait PowerSwitch: Send {
    /// Human-readable name naming the device, e.g. `power/lcus:/dev/serial/by-id/... ch1`.
    fn describe(&self) -> String;
    /// Turns the target's power on or off. Returns once the command was accepted by the switch.
    fn set_power(&mut self, on: bool) -> RigResult<()>;
    /// Reads the switch state back when the hardware can tell; `None` when it cannot.
    fn read_back(&mut self) -> RigResult<Option<bool>> {
        Ok(None)
    }
    /// Whether the target's supply is live, read from a sense wired to the supply rail itself
    /// (not the switch's own state): `None` when the station has none. It catches what a read
    /// back cannot: a relay whose contacts stay closed, a second supply through USB or the probe.
    fn sense(&mut self) -> RigResult<Option<bool>> {
        Ok(None)
    }
}

impl<T: PowerSwitch + ?Sized> PowerSwitch for Box<T> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn set_power(&mut self, on: bool) -> RigResult<()> {
        (**self).set_power(on)
    }
    fn read_back(&mut self) -> RigResult<Option<bool>> {
        (**self).read_back()
    }
    fn sense(&mut self) -> RigResult<Option<bool>> {
        (**self).sense()
    }
}

/// One console line, timestamped on arrival (microseconds on the bench's monotonic clock).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConsoleLine {
    pub t_us: u64,
    pub text: String,
}

/// The link a console reads through (a serial adapter, the probe for RTT), as the thread
/// reading it sees it: shared, so the rig can ask while another thread reads.
pub trait ConsoleLink: Send + Sync {
    /// Whether the link is open now.
    fn connected(&self) -> bool;
    /// Where it reads from (the device node, the probe).
    fn device(&self) -> String;
}

/// The target's console (UART or RTT).
pub trait Console: Send {
    fn describe(&self) -> String;
    /// Waits up to `timeout` for the next complete line. `Ok(None)` on timeout.
    fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>>;
    /// The state of its link, where the console can tell; `None` when it cannot.
    fn link(&self) -> Option<std::sync::Arc<dyn ConsoleLink>> {
        None
    }
}

impl<T: Console + ?Sized> Console for Box<T> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        (**self).read_line(timeout)
    }
    fn link(&self) -> Option<std::sync::Arc<dyn ConsoleLink>> {
        (**self).link()
    }
}

/// A debug probe attached to the target.
pub trait Probe: Send {
    fn describe(&self) -> String;
    /// (Re)attaches to the target; needed after every power cut.
    fn attach(&mut self) -> RigResult<()>;
    /// Writes `data` at `addr` (erasing as needed), reporting progress as (done, total) bytes.
    fn write_flash(&mut self, addr: u32, data: &[u8], progress: &mut dyn FnMut(usize, usize)) -> RigResult<()>;
    /// Reads `len` bytes of flash at `addr`.
    fn read_flash(&mut self, addr: u32, len: usize) -> RigResult<Vec<u8>>;
    /// Resets the target (system reset through the debug port).
    fn reset(&mut self) -> RigResult<()>;
    /// Resets the target and holds its CPU halted, so the flash stays still while it is read
    /// (a bootloader left running could be mid-swap).
    fn halt(&mut self) -> RigResult<()>;
}

impl<T: Probe + ?Sized> Probe for Box<T> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn attach(&mut self) -> RigResult<()> {
        (**self).attach()
    }
    fn write_flash(&mut self, addr: u32, data: &[u8], progress: &mut dyn FnMut(usize, usize)) -> RigResult<()> {
        (**self).write_flash(addr, data, progress)
    }
    fn read_flash(&mut self, addr: u32, len: usize) -> RigResult<Vec<u8>> {
        (**self).read_flash(addr, len)
    }
    fn reset(&mut self) -> RigResult<()> {
        (**self).reset()
    }
    fn halt(&mut self) -> RigResult<()> {
        (**self).halt()
    }
}

/// How the update reaches the device.
pub trait OtaTransport: Send {
    fn describe(&self) -> String;
    /// Makes `image` the update the device will fetch (or pushes it, for push transports).
    fn stage(&mut self, image: &[u8]) -> RigResult<()>;
    /// Holds the stream once `byte` bytes of the image have been delivered (`None`: never hold).
    fn hold_at(&mut self, byte: Option<u64>) -> RigResult<()>;
    /// Bytes of the image delivered so far since the last `stage`.
    fn bytes_delivered(&self) -> u64;
    /// A handle on the delivered-bytes counter that another thread (the cut trigger) can watch
    /// without going through the transport. `None` when the backend has no live counter.
    fn delivery_counter(&self) -> Option<DeliveryCounter> {
        None
    }
}
