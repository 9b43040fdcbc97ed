//! Restoring the baseline before every run: the image over the primary slot, the secondary
//! slot and the scratch area erased, written in full or only where a sector differs.

use std::ops::Range;

use cutpoint_bench::{PowerSwitch, Probe, RigError, RigResult};
use cutpoint_campaign::RestorePolicy;
use fut::layout::Layout;

use super::{Bench, BenchConfig, BACKEND};

/// The writes that restore the baseline: the image padded with erased bytes over the primary
/// slot, erased bytes over the secondary slot and the scratch area. `None` when the image does
/// not fit the primary slot.
pub fn baseline_writes(layout: &Layout, baseline: &[u8]) -> Option<Vec<(u32, Vec<u8>)>> {
    let size = layout.primary.size as usize;
    if baseline.len() > size {
        return None;
    }
    let mut primary = vec![0xFF; size];
    primary[..baseline.len()].copy_from_slice(baseline);
    let mut writes = vec![
        (layout.primary.offset, primary),
        (layout.secondary.offset, vec![0xFF; layout.secondary.size as usize]),
    ];
    // A map without scratch (swap-move, overwrite) has none to erase.
    if layout.has_scratch() {
        writes.push((layout.scratch.offset, vec![0xFF; layout.scratch.size as usize]));
    }
    Some(writes)
}

/// The runs of whole sectors where `current` differs from `wanted` (both starting at `addr`,
/// a sector boundary), adjacent sectors merged: `(address, range into wanted)`.
pub fn changed_sectors(addr: u32, wanted: &[u8], current: &[u8], sector_size: u32) -> Vec<(u32, Range<usize>)> {
    let sector = (sector_size as usize).max(1);
    let mut runs: Vec<(u32, Range<usize>)> = Vec::new();
    for start in (0..wanted.len()).step_by(sector) {
        let end = (start + sector).min(wanted.len());
        if current.get(start..end) == Some(&wanted[start..end]) {
            continue;
        }
        match runs.last_mut() {
            Some((_, r)) if r.end == start => r.end = end,
            _ => runs.push((addr.wrapping_add(start as u32), start..end)),
        }
    }
    runs
}

impl Bench {
    /// Power on, the baseline in flash, the update not yet offered.
    pub(super) fn restore_baseline(&mut self, cfg: &BenchConfig) -> RigResult<()> {
        self.quiesce()?;
        self.transport.hold_at(None)?;
        self.switch.set_power(true)?;
        self.probe.attach()?;
        let writes = baseline_writes(&cfg.layout, &cfg.baseline)
            .ok_or_else(|| RigError::unsupported(BACKEND, "the baseline image does not fit the primary slot"))?;
        // A slot on a device beside the part is out of the probe's reach: not written. The
        // campaign was refused unless the station says the device erases it itself
        // (`restore_unreachable = "device-erases"`, checked in the engine's station setup).
        let reachable = writes
            .into_iter()
            .filter(|(addr, _)| !cfg.unreadable.iter().any(|u| u.offset <= *addr && *addr < u.end()));
        for (addr, data) in reachable {
            match cfg.restore {
                RestorePolicy::Full => self.probe.write_flash(addr, &data, &mut |_, _| {})?,
                RestorePolicy::ChangedSectors => {
                    // A running bootloader could change a sector after it compared equal.
                    self.probe.halt()?;
                    let current = self.probe.read_flash(addr, data.len())?;
                    for (at, range) in changed_sectors(addr, &data, &current, cfg.layout.sector_size) {
                        self.probe.write_flash(at, &data[range], &mut |_, _| {})?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sectors_that_differ_are_rewritten_and_neighbours_merge() {
        let wanted: Vec<u8> = (0..64u8).collect();
        assert!(changed_sectors(0x1000, &wanted, &wanted, 16).is_empty());
        let mut current = wanted.clone();
        current[3] ^= 1; // sector 0
        current[20] = 0xFF; // sector 1
        current[63] = 0; // sector 3, the last
        assert_eq!(
            changed_sectors(0x1000, &wanted, &current, 16),
            vec![(0x1000, 0..32), (0x1030, 48..64)]
        );
        // A short read (the probe returned less) rewrites what it could not compare.
        assert_eq!(changed_sectors(0, &wanted, &wanted[..40], 16), vec![(32, 32..64)]);
        // An area that is not a whole number of sectors ends with a partial one.
        assert_eq!(changed_sectors(0, &wanted[..40], &[0u8; 40], 16), vec![(0, 0..40)]);
        assert_eq!(
            changed_sectors(0, &wanted, &[], 0).len(),
            1,
            "a zero sector size is one run"
        );
    }
}
