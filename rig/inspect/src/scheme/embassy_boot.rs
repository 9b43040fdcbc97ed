//! The metadata of embassy-boot: its state partition (the map's scratch region), decoded with
//! the firmware's own reading of it (`fut::scheme::embassy_boot::decode_state`, which follows
//! the crate's `read_state` and `current_progress`): the magic, the progress-valid marker, how
//! many swap and revert steps are recorded, and what the next `prepare_boot` does. The active
//! partition is the primary slot less its last sector; the DFU partition is the secondary.

use fut::layout::{Area, Layout, Slot};
use fut::scheme::embassy_boot::{
    self as scheme, decode_state, Action, Magic, StateWords, DFU_DETACH_MAGIC, REVERT_MAGIC, SWAP_MAGIC,
};
use fut::PublicKey;
use serde::{Deserialize, Serialize};

use super::mcuboot::decode_slot;
use super::{BootPick, McubootTrailers, MetadataDecoder, ReadAs, ReliedOn, RollbackCopy, Unconfirmed};
use crate::decode::{FlashReport, SwapProgress, Validity};
use crate::slice_flash::SliceFlash;

/// The state partition as the bootloader reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbassyStateReport {
    /// `swap`, `revert`, `dfu-detach` or `boot` (any other value, `0xd0` after mark_booted).
    pub magic: String,
    /// The magic word's bytes in hex.
    pub magic_bytes: String,
    /// The progress-valid word reads erased.
    pub progress_valid: bool,
    /// The crate's progress index (steps recorded, swap then revert).
    pub progress: u32,
    /// Steps of one pass: two per active page.
    pub steps: u32,
    /// What the next boot does: `boot`, `swap from step K of S`, `revert from step K of S`.
    pub next_boot: String,
    /// The partition the bootloader jumps to (always `active`, the primary slot).
    pub boots: String,
    /// The bytes of the words the crate reads (magic, marker, both progress runs), as the dump
    /// held them; kept for the relied-on check, not written out.
    #[serde(skip)]
    pub words: Vec<u8>,
    /// The version in the header at the start of the DFU partition, valid image or not (after
    /// a swap its first page still holds the update's first page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dfu_start_version: Option<String>,
}

fn words(report: &FlashReport) -> Option<(&EmbassyStateReport, bool)> {
    let e = report.embassy.as_ref()?;
    Some((e, e.magic == Magic::Swap.name()))
}

fn describe(d: &StateWords) -> String {
    match d.action {
        Action::Boot => "boot the active partition".to_string(),
        Action::Swap { step } => format!("swap from step {step} of {}", d.steps),
        Action::Revert { step } if !d.progress_valid => format!(
            "revert with the progress invalidated: step {step} of {} and on are skipped, then the revert magic is \
             written",
            d.steps
        ),
        Action::Revert { step } => format!("revert from step {step} of {}", d.steps),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decodes the state partition `bytes` of `layout` (the whole scratch region, or as much of
/// it as the dump holds).
pub fn decode_embassy_state(bytes: &[u8], layout: &Layout) -> Option<(EmbassyStateReport, SwapProgress)> {
    let w = layout.write_size as usize;
    let n = scheme::pages(layout);
    let d = decode_state(bytes, w, n, scheme::state(layout).size as usize)?;
    let swapped = d.progress.min(d.steps);
    let reverted = d.progress.saturating_sub(d.steps).min(d.steps);
    let validity = if d.progress_valid {
        ""
    } else {
        " (progress invalidated)"
    };
    let report = EmbassyStateReport {
        magic: d.magic.name().to_string(),
        magic_bytes: hex(&bytes[..w]),
        progress_valid: d.progress_valid,
        progress: d.progress,
        steps: d.steps,
        next_boot: describe(&d),
        boots: "active".to_string(),
        words: bytes[..bytes.len().min((2 + 4 * n as usize) * w)].to_vec(),
        dfu_start_version: None,
    };
    let progress = SwapProgress {
        regions: Some(n),
        moved: 0,
        swapped: swapped / 2,
        records: Vec::new(),
        summary: format!(
            "embassy-boot state: magic={}, swap: {swapped}/{} steps, revert: {reverted}/{} steps{validity}; next boot: {}",
            d.magic.name(),
            d.steps,
            d.steps,
            report.next_boot
        ),
    };
    Some((report, progress))
}

/// embassy-boot's state partition beside both slots' images.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassyBootState;

impl MetadataDecoder for EmbassyBootState {
    fn check_layout(&self, layout: &Layout) -> Result<(), String> {
        scheme::check_layout(layout).map_err(|e| format!("the flash map does not fit embassy-boot ({e:?})"))
    }

    /// The DFU partition holds an update from its start, or after a swap the image swapped out
    /// one page up (the swap's layout: its first page keeps the update's first page): the
    /// secondary slot is read from the start, and from one page up when only that holds a
    /// valid image.
    fn decode(&self, flash: &mut SliceFlash<'_>, layout: &Layout, key: Option<&PublicKey>, report: &mut FlashReport) {
        McubootTrailers.decode(flash, layout, key, report);
        report.scratch = None;
        let valid = |s: &crate::decode::SlotReport| {
            s.image
                .as_ref()
                .is_some_and(|i| matches!(i.validity, Validity::Valid | Validity::Unverified))
        };
        let mut dfu_start_version = None;
        if let Some(i) = report.slots.iter().position(|s| s.name == Slot::Secondary.name()) {
            dfu_start_version = report.slots[i]
                .image
                .as_ref()
                .and_then(|i| i.version())
                .map(str::to_string);
            let page = layout.sector_size;
            let mut up = *layout;
            up.secondary = Area {
                offset: layout.secondary.offset + page,
                size: layout.secondary.size.saturating_sub(page),
            };
            if !valid(&report.slots[i]) {
                let mut shifted = decode_slot(flash, &up, Slot::Secondary, key);
                if valid(&shifted) {
                    shifted.summary = format!(
                        "{} (DFU partition one page up: the image a swap moved out)",
                        shifted.summary
                    );
                    report.slots[i] = shifted;
                }
            }
        }
        self.decode_pick(flash, layout, key, report);
        if let Some(e) = report.embassy.as_mut() {
            e.dfu_start_version = dfu_start_version;
        }
    }

    fn decode_pick(
        &self,
        flash: &mut SliceFlash<'_>,
        layout: &Layout,
        _key: Option<&PublicKey>,
        report: &mut FlashReport,
    ) {
        let s = scheme::state(layout);
        let bytes = flash.get_prefix(s.offset, s.size as usize);
        if let Some((e, p)) = decode_embassy_state(bytes, layout) {
            report.embassy = Some(e);
            report.progress = Some(p);
        }
    }

    /// The bootloader always jumps to the active partition; the state partition says what it
    /// does first (swap, revert or nothing).
    fn boot_pick(&self, report: &FlashReport) -> BootPick {
        BootPick {
            slot: Some(Slot::Primary.name()),
            name: Some("active".to_string()),
            record: report.embassy.as_ref().map_or_else(
                || "state partition outside the dump".to_string(),
                |e| format!("state magic {} ({}): {}", e.magic, e.magic_bytes, e.next_boot),
            ),
            disagreement: Vec::new(),
        }
    }

    /// The bootloader always jumps to the active partition.
    fn running_slot(&self) -> &'static str {
        "primary"
    }

    /// Swapped and not marked booted: the next boot reverts.
    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed> {
        let (e, swap) = words(report)?;
        (swap && e.progress >= e.steps).then(|| Unconfirmed {
            record: "the embassy-boot state partition".to_string(),
            state: format!("magic swap with the swap done ({}): not marked booted", e.next_boot),
        })
    }

    /// The image a revert brings back is in the DFU partition shifted one page up (the swap's
    /// layout), which the slot decoder does not read as an image: no copy is checked here.
    fn rollback_copy(&self, _report: &FlashReport) -> Option<RollbackCopy> {
        None
    }

    /// The state reads `revert` while the active partition holds the image whose first page is
    /// still at the start of the DFU partition: a revert would have put that image back in the
    /// DFU partition and the old one in the active partition, so the revert the state claims did
    /// not happen (the window inside `mark_booted`: progress invalidated, then the cut before the
    /// state erase finished, and the next boot's revert copied nothing).
    fn leftovers(&self, report: &FlashReport) -> Vec<String> {
        let mut w = Vec::new();
        let Some(e) = &report.embassy else {
            return w;
        };
        let active = report
            .slot(Slot::Primary.name())
            .and_then(|s| s.image.as_ref())
            .and_then(|i| i.version())
            .map(str::to_string);
        if e.magic == Magic::Revert.name() {
            if let (Some(a), Some(d)) = (active, e.dfu_start_version.clone()) {
                if a == d {
                    w.push(format!(
                        "embassy-boot state reads revert, but the active partition runs {a}, the image the DFU \
                         partition offered: no revert happened (the state says the update was rolled back)"
                    ));
                }
            }
        }
        if !e.progress_valid && e.magic != Magic::Swap.name() {
            w.push(
                "embassy-boot progress marker written under a settled state (the state erase did not finish)".into(),
            );
        }
        w
    }

    /// The words the crate reads: the magic, the progress-valid marker and both progress runs.
    fn metadata_areas(&self, layout: &Layout) -> Vec<std::ops::Range<u32>> {
        let s = scheme::state(layout);
        let len = (2 + 4 * scheme::pages(layout)) * layout.write_size;
        std::iter::once(s.offset..s.offset + len.min(s.size)).collect()
    }

    /// The magic word, read as a value. Under the swap magic also the progress marker and the
    /// progress words up to the first one not done, each byte read only as erased or not (a
    /// word is done when no byte reads 0xff; the marker is valid when every byte does).
    fn relied_on(&self, report: &FlashReport, layout: &Layout) -> Vec<ReliedOn> {
        let Some((e, swap)) = words(report) else {
            return Vec::new();
        };
        let s = scheme::state(layout).offset;
        let w = layout.write_size;
        // The magic is compared whole with the swap, DFU-detach and revert magics, anything
        // else meaning boot: a weak bit matters when the byte can read as one of them.
        let mut out: Vec<ReliedOn> = (0..w)
            .map(|b| ReliedOn {
                what: format!("embassy-boot state magic byte {b}"),
                range: s + b..s + b + 1,
                read_as: ReadAs::Magic {
                    stored: e.words.get(b as usize).copied().unwrap_or(0xff),
                    magics: &[SWAP_MAGIC, DFU_DETACH_MAGIC, REVERT_MAGIC],
                },
            })
            .collect();
        if !swap {
            return out;
        }
        let last = if e.progress_valid {
            e.progress.min(2 * e.steps)
        } else {
            0
        };
        let words = std::iter::once(("progress marker".to_string(), 1u32)).chain(
            (0..=last)
                .filter(|_| e.progress_valid)
                .map(|i| (format!("progress step {i}"), 2 + i)),
        );
        for (what, word) in words {
            for b in 0..w {
                let addr = s + word * w + b;
                out.push(ReliedOn {
                    what: format!("embassy-boot {what} byte {b}"),
                    range: addr..addr + 1,
                    read_as: ReadAs::Written {
                        stored: e.words.get((addr - s) as usize).copied().unwrap_or(0xff),
                    },
                });
            }
        }
        out
    }
}
