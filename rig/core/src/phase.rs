//! A phase of the update as a run showed it.

use serde::{Deserialize, Serialize};

/// One phase found on a run's console: its name and when its start and end markers were
/// printed (µs after power-on). The journal records the control run's phases as these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseSpan {
    pub name: String,
    pub start_us: u64,
    pub end_us: u64,
}
