//! Power switches: each backend turns the target's supply on and off.

pub mod command;
pub mod gpio;
pub mod guard;
pub mod hid_relay;
pub mod lcus;
pub mod numato;
