//! OTA transports: how the update reaches the device.

pub mod command;
pub mod http;
pub mod probe_write;
pub mod smp;
