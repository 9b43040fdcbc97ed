//! The flash outside the scheme's areas (the bootloader's code, a region the scheme does not
//! use): read through the probe once, in the control run after the baseline is restored and
//! before the update starts, as the device holds it at the baseline; read again once the
//! device settled after the control run and after each cut, and compared. Read any later, the
//! copy would hold what an update writes there on every run, and such an update would go
//! unseen. The baseline's restore does not write it, so a run that changed it would leave
//! every later cut point on a changed device: the next restore writes the changed parts back
//! from the first read.

use cutpoint_bench::{Probe, RigError, RigResult};

use crate::target::{Guarded, Outside, OutsideChange};

/// The guarded parts as first read, and whether a cut changed any of them since.
#[derive(Debug, Default)]
pub(super) struct GuardCopy {
    parts: Vec<(Guarded, Vec<u8>)>,
    changed: bool,
}

fn read_part(probe: &mut dyn Probe, g: &Guarded) -> RigResult<Vec<u8>> {
    let len = g.range.len();
    let data = probe.read_flash(g.range.start, len)?;
    if data.len() != len {
        return Err(RigError::protocol(
            probe.describe(),
            format!("asked for {len} bytes at {:#x}, got {}", g.range.start, data.len()),
        ));
    }
    Ok(data)
}

impl GuardCopy {
    /// Reads `guarded` the first time it is asked for (the baseline's copy); later calls with
    /// the same parts keep the first read.
    pub(super) fn ensure(&mut self, probe: &mut dyn Probe, guarded: &[Guarded]) -> RigResult<()> {
        let same = self.parts.len() == guarded.len() && self.parts.iter().zip(guarded).all(|((g, _), h)| g == h);
        if same {
            return Ok(());
        }
        self.parts = guarded
            .iter()
            .map(|g| Ok((g.clone(), read_part(probe, g)?)))
            .collect::<RigResult<_>>()?;
        self.changed = false;
        Ok(())
    }

    /// Reads every guarded part again and compares it with the first read.
    pub(super) fn compare(&mut self, probe: &mut dyn Probe) -> RigResult<Outside> {
        let mut changes = Vec::new();
        for (g, before) in &self.parts {
            let after = read_part(probe, g)?;
            if let Some(c) = OutsideChange::between(g, before, &after) {
                changes.push(c);
            }
        }
        self.changed |= !changes.is_empty();
        Ok(Outside::Scanned(changes))
    }

    /// Writes back each part a cut changed, whole (nothing when none did): a part is whole
    /// sectors of its region, whatever their size, so no write can reach past it.
    pub(super) fn restore(&mut self, probe: &mut dyn Probe) -> RigResult<()> {
        if !self.changed {
            return Ok(());
        }
        for (g, wanted) in &self.parts {
            if read_part(probe, g)? != *wanted {
                probe.write_flash(g.range.start, wanted, &mut |_, _| {})?;
            }
        }
        self.changed = false;
        Ok(())
    }
}
