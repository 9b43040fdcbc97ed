//! The bench: the parts of a test station the engine drives, behind traits, and the hardware
//! backends that implement them on a lab bench (relays, serial consoles, debug probes, OTA
//! transports), plus the cut trigger and the station self-check (`doctor`).
//!
//! The engine never names a concrete backend. A station file picks one implementation of each
//! trait (the simulated board provides all of them), so the same campaign runs on a lab bench
//! and on the simulated board.

pub mod config;
pub mod console;
pub mod doctor;
pub mod open;
pub mod power;
pub mod probe;
pub mod serial_id;
pub mod shared;
pub mod transport;
pub mod trigger;
pub mod validate;

pub use config::StationBackends;
pub use cutpoint_core::clock::{self, BenchClock};
pub use cutpoint_core::counter::{self, DeliveryCounter};
pub use cutpoint_core::traits::{self, *};
pub use doctor::{doctor, DoctorReport};
pub use open::{open_console, open_power, open_probe, open_station, open_transport, Station};
pub use power::guard::{stop_gracefully, PowerGuard};
pub use shared::{SharedProbe, SharedSwitch};
pub use trigger::{CutCondition, CutPlan, CutRecord, Trigger};
