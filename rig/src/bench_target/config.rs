//! What a campaign asks of the bench: its console grammar, images, timing and parts.

use std::sync::Arc;
use std::time::Duration;

use cutpoint_bench::{BenchClock, Console, OtaTransport, PowerSwitch, Probe};
use cutpoint_campaign::{Markers, RestorePolicy};
use fut::layout::Layout;

use crate::target::Guarded;

/// What a campaign asks of the bench.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// For reports, e.g. the station's name.
    pub name: String,
    /// The device's flash map.
    pub layout: Layout,
    /// Written into the primary slot before every run.
    pub baseline: Arc<Vec<u8>>,
    /// Whether that rewrites the areas in full or only the sectors that differ.
    pub restore: RestorePolicy,
    /// Staged on the transport for every run.
    pub update: Arc<Vec<u8>>,
    /// The update is healthy: when the device reverts it after a cut, re-trigger it once.
    pub retrigger: bool,
    /// Power-off time of a cut.
    pub dwell: Duration,
    /// Longest wait from power-on (or reset) for the device's first console line; a device
    /// that stays silent this long is left alone. Once it talks, only `settle_timeout` applies
    /// (a swap may take long without a word).
    pub boot_timeout: Duration,
    /// Longest wait for the device to settle.
    pub settle_timeout: Duration,
    /// Boots after which a device that has not settled is left alone.
    pub max_boots: u32,
    /// The campaign's console markers: a boot begins, the device settled, nothing bootable.
    pub markers: Markers,
    /// Areas of the map the probe cannot reach (a slot on a device beside the part): never
    /// written to restore the baseline, never read back.
    pub unreadable: Vec<fut::layout::Area>,
    /// The flash outside the scheme's areas that the pass rule guards (the campaign's
    /// expectations, less `[pass] may_change` and what the probe cannot reach): read in the
    /// control run after the baseline is restored and before the update starts, so an update
    /// that writes there on every run changes it against that read, and fails.
    pub guarded: Vec<Guarded>,
}

/// One bench of each kind of part, opened: what [`BenchTarget::from_parts`] drives.
pub struct BenchParts {
    /// Stamps console lines; shared by every part.
    pub clock: BenchClock,
    pub power: Box<dyn PowerSwitch>,
    pub console: Box<dyn Console>,
    pub probe: Box<dyn Probe>,
    pub transport: Box<dyn OtaTransport>,
}
