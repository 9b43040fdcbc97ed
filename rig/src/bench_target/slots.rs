//! Reading the slots back: the flash range the rig dumps after a run, and its fingerprint.

use std::sync::Arc;

use cutpoint_bench::{Probe, RigError, RigErrorKind, RigResult};
use fut::layout::{Area, Layout};

use super::{Bench, BenchConfig};
use crate::target::{Stability, StabilityScan, UnstableByte};

/// The flash the rig reads back after a run: from the lowest of the slots and the scratch area
/// to the highest end (a map without scratch: the slots'). Returns the base address and the
/// length.
pub fn dump_range(layout: &Layout) -> (u32, usize) {
    let areas: Vec<Area> = [layout.primary, layout.secondary, layout.scratch]
        .into_iter()
        .filter(|a| a.size > 0)
        .collect();
    let start = areas.iter().map(|a| a.offset).min().unwrap_or(0);
    let end = areas.iter().map(|a| a.end()).max().unwrap_or(start);
    (start, end.saturating_sub(start) as usize)
}

/// The areas the rig reads back after a run: the slots and the scratch area, less those the
/// probe cannot reach (`unreadable`: on a device beside the part). Returns the base address,
/// the length of the range from the lowest to the highest end of the areas read, and the
/// areas; a byte of the range no area covers reads erased in the dump, and the decoder marks
/// the unreadable areas as such, never as erased.
pub fn dump_areas(layout: &Layout, unreadable: &[Area]) -> (u32, usize, Vec<Area>) {
    let areas: Vec<Area> = [layout.primary, layout.secondary, layout.scratch]
        .into_iter()
        .filter(|a| a.size > 0 && !unreadable.iter().any(|u| a.offset < u.end() && u.offset < a.end()))
        .collect();
    let start = areas.iter().map(|a| a.offset).min().unwrap_or(0);
    let end = areas.iter().map(|a| a.end()).max().unwrap_or(start);
    (start, end.saturating_sub(start) as usize, areas)
}

/// The fingerprint of a flash dump: equal dumps decode the same.
pub fn fingerprint(dump: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(dump)[..16])
}

impl Bench {
    /// Reads the slots and the scratch area through the probe.
    /// An area the probe cannot reach (`cfg.unreadable`) is not read.
    pub(super) fn dump(&mut self, cfg: &BenchConfig) -> RigResult<(Arc<Vec<u8>>, u32)> {
        self.probe.attach()?;
        if cfg.unreadable.is_empty() {
            // One read of the whole range: nothing of it is out of reach.
            let (base, len) = dump_range(&cfg.layout);
            let data = self.probe.read_flash(base, len)?;
            if data.len() != len {
                return Err(RigError::protocol(
                    self.probe.describe(),
                    format!("asked for {len} bytes at {base:#x}, got {}", data.len()),
                ));
            }
            return Ok((Arc::new(data), base));
        }
        let (base, len, areas) = dump_areas(&cfg.layout, &cfg.unreadable);
        let mut dump = vec![0xFF; len];
        for a in areas {
            let data = self.probe.read_flash(a.offset, a.size as usize)?;
            if data.len() != a.size as usize {
                return Err(RigError::protocol(
                    self.probe.describe(),
                    format!("asked for {} bytes at {:#x}, got {}", a.size, a.offset, data.len()),
                ));
            }
            let at = (a.offset - base) as usize;
            dump[at..at + data.len()].copy_from_slice(&data);
        }
        Ok((Arc::new(dump), base))
    }
}

impl Bench {
    /// Reads each area of `scan` `scan.reads` times through the probe and compares: the bits
    /// that differ are unstable (a weak cell reads 0 or 1 at random; a bench cannot see the
    /// cells, only reads).
    pub(super) fn scan_stability(&mut self, scan: &StabilityScan) -> RigResult<Stability> {
        self.probe.attach()?;
        scan_probe(self.probe.as_mut(), scan)
    }
}

/// [`Bench::scan_stability`] over any probe. A probe that cannot read flash says so
/// ([`Stability::Unsupported`]); any other read error is a rig error.
pub fn scan_probe(probe: &mut dyn Probe, scan: &StabilityScan) -> RigResult<Stability> {
    if scan.reads < 2 {
        return Ok(Stability::Unsupported(format!(
            "{} reads of the metadata area cannot be compared (at least 2)",
            scan.reads
        )));
    }
    let mut unstable = Vec::new();
    for area in &scan.areas {
        let len = area.len();
        let mut read = || -> RigResult<Vec<u8>> {
            let data = probe.read_flash(area.start, len)?;
            if data.len() != len {
                return Err(RigError::protocol(
                    probe.describe(),
                    format!("asked for {len} bytes at {:#x}, got {}", area.start, data.len()),
                ));
            }
            Ok(data)
        };
        let first = match read() {
            Err(e) if e.kind == RigErrorKind::Unsupported => {
                return Ok(Stability::Unsupported(format!(
                    "the probe cannot read the metadata area again: {e}"
                )))
            }
            other => other?,
        };
        let mut differ = vec![0u8; len];
        for _ in 1..scan.reads {
            for ((d, a), b) in differ.iter_mut().zip(&first).zip(read()?) {
                *d |= a ^ b;
            }
        }
        unstable.extend(
            (area.start..)
                .zip(differ)
                .filter(|(_, m)| *m != 0)
                .map(|(addr, mask)| UnstableByte { addr, mask }),
        );
    }
    Ok(Stability::Scanned {
        reads: Some(scan.reads),
        unstable,
    })
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

    /// A probe whose reads of one byte alternate between two values.
    struct Flaky {
        reads: u32,
        weak_at: u32,
        unsupported: bool,
    }

    impl Probe for Flaky {
        fn describe(&self) -> String {
            "probe/flaky".into()
        }
        fn attach(&mut self) -> RigResult<()> {
            Ok(())
        }
        fn write_flash(&mut self, _: u32, _: &[u8], _: &mut dyn FnMut(usize, usize)) -> RigResult<()> {
            Ok(())
        }
        fn read_flash(&mut self, addr: u32, len: usize) -> RigResult<Vec<u8>> {
            if self.unsupported {
                return Err(RigError::unsupported("probe/flaky", "no memory access"));
            }
            self.reads += 1;
            let mut d = vec![0x01; len];
            if (addr..addr + len as u32).contains(&self.weak_at) && self.reads.is_multiple_of(3) {
                d[(self.weak_at - addr) as usize] = 0x05;
            }
            Ok(d)
        }
        fn reset(&mut self) -> RigResult<()> {
            Ok(())
        }
        fn halt(&mut self) -> RigResult<()> {
            Ok(())
        }
    }

    #[test]
    fn a_bench_finds_unstable_bits_by_reading_the_metadata_again() {
        let scan = StabilityScan {
            areas: vec![0x1000..0x1030, 0x2000..0x2010],
            reads: 8,
        };
        let mut p = Flaky {
            reads: 0,
            weak_at: 0x1028,
            unsupported: false,
        };
        let s = scan_probe(&mut p, &scan).unwrap();
        assert_eq!(
            s,
            Stability::Scanned {
                reads: Some(8),
                unstable: vec![UnstableByte {
                    addr: 0x1028,
                    mask: 0x04
                }]
            }
        );
        assert_eq!(p.reads, 16, "each area read 8 times");
        p.unsupported = true;
        assert!(
            matches!(scan_probe(&mut p, &scan).unwrap(), Stability::Unsupported(w) if w.contains("no memory access"))
        );
        let once = StabilityScan { reads: 1, ..scan };
        assert!(matches!(scan_probe(&mut p, &once).unwrap(), Stability::Unsupported(_)));
    }
}
