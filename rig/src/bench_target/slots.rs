//! Reading the slots back: the flash range the rig dumps after a run, and its fingerprint.

use std::sync::Arc;

use cutpoint_bench::{RigError, RigResult};
use fut::layout::Layout;

use super::{Bench, BenchConfig};

/// The flash the rig reads back after a run: from the lowest of the slots and the scratch area
/// to the highest end. Returns the base address and the length.
pub fn dump_range(layout: &Layout) -> (u32, usize) {
    let areas = [layout.primary, layout.secondary, layout.scratch];
    let start = areas.iter().map(|a| a.offset).min().unwrap_or(0);
    let end = areas.iter().map(|a| a.end()).max().unwrap_or(start);
    (start, end.saturating_sub(start) as usize)
}

/// The fingerprint of a flash dump: equal dumps decode the same.
pub fn fingerprint(dump: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(dump)[..16])
}

impl Bench {
    /// Reads the slots and the scratch area through the probe.
    pub(super) fn dump(&mut self, cfg: &BenchConfig) -> RigResult<(Arc<Vec<u8>>, u32)> {
        let (base, len) = dump_range(&cfg.layout);
        self.probe.attach()?;
        let data = self.probe.read_flash(base, len)?;
        if data.len() != len {
            return Err(RigError::protocol(
                self.probe.describe(),
                format!("asked for {len} bytes at {base:#x}, got {}", data.len()),
            ));
        }
        Ok((Arc::new(data), base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_target::baseline_writes;
    use cutpoint_sim::BoardProfile;

    #[test]
    fn dump_spans_slots_and_scratch_and_baseline_fills_them() {
        let nrf = BoardProfile::builtin("nrf52840").unwrap().layout;
        assert_eq!(dump_range(&nrf), (64 * 1024, (448 - 64) * 1024 + 2 * 4096));
        let mut odd = nrf;
        // Scratch below the slots: the dump starts there.
        odd.scratch.offset = 0x8000;
        assert_eq!(dump_range(&odd), (0x8000, (448 * 1024 - 0x8000) as usize));
        let writes = baseline_writes(&nrf, &[1, 2, 3]).unwrap();
        assert_eq!(writes.len(), 3);
        assert_eq!(writes[0].0, nrf.primary.offset);
        assert_eq!(writes[0].1.len(), nrf.primary.size as usize);
        assert_eq!(&writes[0].1[..4], &[1, 2, 3, 0xFF]);
        assert!(writes[1..].iter().all(|(_, d)| d.iter().all(|&b| b == 0xFF)));
        assert_eq!(writes[2].0, nrf.scratch.offset);
        assert!(baseline_writes(&nrf, &vec![0; nrf.primary.size as usize + 1]).is_none());
    }
}
