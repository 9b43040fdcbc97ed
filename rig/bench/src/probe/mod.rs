//! Debug probes.

pub mod probe_rs;
pub mod selector;
