//! The metadata of the redundant-copies A/B scheme: both slots' images and the two copies of
//! the boot record in the map's scratch region (two sectors of the part's erase size). The
//! winning copy says which slot the bootloader picks, whether its image still has to clear its
//! trial, and whether the image to revert to must be kept.

use fut::layout::Layout;
use fut::PublicKey;

use super::{BootPick, McubootTrailers, MetadataDecoder, ReadAs, ReliedOn, RollbackCopy, Unconfirmed};
use crate::decode::FlashReport;
use crate::redundant::{decode_redundant_sectors, RedundantCopyReport};
use crate::slice_flash::SliceFlash;

/// The size of one copy of the record: `crc32 | generation | slot | state | 9 reserved bytes`.
const COPY_SIZE: u32 = 16;

/// Both app slots and the two record copies.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedundantCopiesRecord;

fn winner(report: &FlashReport) -> Option<&RedundantCopyReport> {
    let r = report.redundant.as_ref()?;
    let w = r.winner?;
    r.copies.iter().find(|c| c.copy == w)
}

fn on_trial(c: &RedundantCopyReport) -> bool {
    matches!(c.state_name.as_deref(), Some("trial" | "trial-booted"))
}

impl MetadataDecoder for RedundantCopiesRecord {
    fn check_layout(&self, layout: &Layout) -> Result<(), String> {
        super::mcuboot::check_layout(layout)?;
        if layout.scratch.size < 2 * layout.sector_size {
            return Err("the redundant record needs two sectors in the scratch region".into());
        }
        Ok(())
    }

    fn decode(&self, flash: &mut SliceFlash<'_>, layout: &Layout, key: Option<&PublicKey>, report: &mut FlashReport) {
        McubootTrailers.decode(flash, layout, key, report);
        report.scratch = None;
        self.decode_pick(flash, layout, key, report);
    }

    fn decode_pick(
        &self,
        flash: &mut SliceFlash<'_>,
        layout: &Layout,
        _key: Option<&PublicKey>,
        report: &mut FlashReport,
    ) {
        let bytes = flash.get(layout.scratch.offset, (2 * layout.sector_size) as usize);
        report.redundant = bytes.map(|b| decode_redundant_sectors(b, layout.sector_size as usize));
    }

    /// The winning copy's slot and state, as the bootloader reads them
    /// (`fut::scheme::redundant`).
    fn boot_pick(&self, report: &FlashReport) -> BootPick {
        let Some(r) = report.redundant.as_ref() else {
            return BootPick::unread("redundant record outside the dump");
        };
        let copies: Vec<String> = r
            .copies
            .iter()
            .map(|c| {
                if c.valid {
                    format!(
                        "copy {} gen {} slot {} {}",
                        c.copy,
                        c.generation,
                        if c.slot == 0 { "A" } else { "B" },
                        c.state_name.as_deref().unwrap_or("unknown")
                    )
                } else {
                    format!(
                        "copy {} {}",
                        c.copy,
                        if c.problems.is_empty() { "not valid" } else { "damaged" }
                    )
                }
            })
            .collect();
        let w = winner(report);
        let record = format!("redundant {}; {}", copies.join(", "), r.why);
        super::ab_pick(
            w.map(|c| if c.slot == 0 { "primary" } else { "secondary" }),
            w.and_then(|c| c.state_name.as_deref()),
            record,
            r.disagreement.clone(),
        )
    }

    /// With no valid copy the bootloader boots the primary slot.
    fn running_slot(&self) -> &'static str {
        "primary"
    }

    fn booted_slot(&self, report: &FlashReport) -> Option<&'static str> {
        Some(if report.redundant.as_ref()?.boot_slot == "secondary" {
            "secondary"
        } else {
            "primary"
        })
    }

    /// The winning copy still on trial: the next boot reverts it unless the image clears it.
    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed> {
        let c = winner(report)?;
        on_trial(c).then(|| Unconfirmed {
            record: format!("redundant copy {}", c.copy),
            state: format!("state {}", c.state_name.as_deref().unwrap_or("unknown")),
        })
    }

    /// While the winning copy is on trial, the other slot holds the image a revert boots.
    fn rollback_copy(&self, report: &FlashReport) -> Option<RollbackCopy> {
        let c = winner(report)?;
        let (trial, back) = if c.slot == 0 {
            ("primary", "secondary")
        } else {
            ("secondary", "primary")
        };
        on_trial(c).then(|| RollbackCopy {
            slot: back,
            why: format!(
                "redundant copy {} (generation {}) selects the {trial} slot on trial: a boot that finds it \
                 not cleared reverts to the other slot",
                c.copy, c.generation
            ),
        })
    }

    fn leftovers(&self, report: &FlashReport) -> Vec<String> {
        let Some(r) = &report.redundant else {
            return Vec::new();
        };
        let mut w: Vec<String> = r
            .disagreement
            .iter()
            .map(|d| format!("redundant copies disagree: {d}"))
            .collect();
        for c in &r.copies {
            for p in &c.problems {
                w.push(format!("redundant copy {}: {p}", c.copy));
            }
        }
        w
    }

    /// The first bytes of each record sector: `crc32 | generation | slot | state` and the
    /// reserved bytes of each copy (16 bytes).
    fn metadata_areas(&self, layout: &Layout) -> Vec<std::ops::Range<u32>> {
        (0..2u32)
            .map(|i| {
                let start = layout.scratch.offset + i * layout.sector_size;
                start..start + COPY_SIZE
            })
            .collect()
    }

    /// The winning copy's CRC, generation, slot and state: they make it the copy the
    /// bootloader reads and say which slot boots and whether it is on trial. A copy that does
    /// not validate is skipped, whatever its bits read.
    fn relied_on(&self, report: &FlashReport, layout: &Layout) -> Vec<ReliedOn> {
        let Some(c) = winner(report) else {
            return Vec::new();
        };
        let start = layout.scratch.offset + u32::from(c.copy) * layout.sector_size;
        [("crc", 0..4), ("generation", 4..5), ("slot", 5..6), ("state", 6..7)]
            .into_iter()
            .map(|(name, r)| ReliedOn {
                what: format!("redundant record copy {} {name}", c.copy),
                range: start + r.start..start + r.end,
                read_as: ReadAs::Value,
            })
            .collect()
    }
}
