//! The firmware under test: an MCUboot-compatible bootloader and an OTA application.
//!
//! This core is `#![no_std]` without an allocator. It talks to its board only through the
//! traits in [`hal`]: flash, console, clock and the OTA transport. The same code can be built
//! for a Cortex-M part; on the host it runs on cutpoint's simulated board.
#![no_std]
#![forbid(unsafe_code)]

pub mod app;
pub mod boot;
pub mod esp_image;
pub mod hal;
pub mod image;
pub mod key;
pub mod layout;
pub mod line;
pub mod map;
pub mod scheme;
pub mod trailer;
pub mod variant;

pub use hal::{Clock, Console, Flash, FlashError, Hal, Offer, Transport, TransportError};
pub use key::PublicKey;
pub use layout::{Area, Layout, Role};
pub use scheme::{Mode, Registry, Scheme};
pub use variant::Variant;

/// Any error that stops the firmware. On a real part the handler resets the MCU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FwError {
    Flash(FlashError),
    Transport(TransportError),
}

impl From<FlashError> for FwError {
    fn from(e: FlashError) -> Self {
        FwError::Flash(e)
    }
}

impl From<TransportError> for FwError {
    fn from(e: TransportError) -> Self {
        FwError::Transport(e)
    }
}
