//! Debug probes, and esptool for the ESP32 family's serial bootloader.

pub mod esptool;
pub mod probe_rs;
pub mod selector;
