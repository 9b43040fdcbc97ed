//! The metadata of the atomic-word A/B scheme: both slots' images and the one boot word at the
//! start of the map's scratch region, decoded with the firmware's own word format
//! (`fut::scheme::atomic_word`). The word says which slot the bootloader picks, whether its
//! image still has to clear its trial, and whether the image to revert to must be kept; a word
//! that is neither erased nor valid is what a cut leaves on a part that does not rewrite it
//! atomically.

use fut::layout::{Layout, Slot};
use fut::scheme::atomic_word::{decode, word_addr, word_size, BootWord, MAX_WORD};
use fut::scheme::redundant::{state_name, STATE_BOOTED, STATE_TRIAL};
use fut::PublicKey;
use serde::{Deserialize, Serialize};

use super::{McubootTrailers, MetadataDecoder, ReadAs, ReliedOn, RollbackCopy, Unconfirmed};
use crate::decode::FlashReport;
use crate::slice_flash::SliceFlash;

/// The boot word as read from a dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtomicWordReport {
    /// Flash address of the word.
    pub addr: u32,
    /// Its bytes, in hexadecimal.
    pub bytes: String,
    /// `erased`, `valid` or `invalid` (torn, half-programmed or unknown).
    pub condition: String,
    /// The slot a valid word selects.
    pub slot: Option<String>,
    /// A valid word's state: `confirmed`, `trial`, `trial-booted`, `reverted`.
    pub state: Option<String>,
    /// The slot the bootloader starts from: the selected one, or for an erased or invalid word
    /// the slot of the valid image with the lower version (the primary on a tie or when
    /// neither is valid; before its trial rules and its fallback to a valid image).
    pub boot_slot: String,
}

/// Decodes the word's bytes at `addr`.
pub fn decode_word(bytes: &[u8], addr: u32) -> AtomicWordReport {
    let word = decode(bytes);
    let (condition, slot, state) = match word {
        BootWord::Erased => ("erased", None, None),
        BootWord::Invalid => ("invalid", None, None),
        BootWord::Valid { slot, state } => (
            "valid",
            Some(slot.name().to_string()),
            state_name(state).map(str::to_string),
        ),
    };
    AtomicWordReport {
        addr,
        bytes: hex::encode(bytes),
        condition: condition.to_string(),
        boot_slot: slot.clone().unwrap_or_else(|| "primary".to_string()),
        slot,
        state,
    }
}

/// A version string `major.minor.revision+build` as a key that sorts as the firmware compares
/// versions.
fn version_key(v: &str) -> Option<(u8, u8, u16, u32)> {
    let (mmr, build) = v.split_once('+').unwrap_or((v, "0"));
    let mut it = mmr.split('.');
    let key = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        build.parse().ok()?,
    );
    it.next().is_none().then_some(key)
}

/// The slot the bootloader starts from when no word says (`fut::scheme::atomic_word`): the
/// valid image of the lower version, the primary on a tie or when neither slot holds one. The
/// images are those `report` already decoded, or decoded here (a pick alone decodes no slot).
fn without_word(
    flash: &mut SliceFlash<'_>,
    layout: &Layout,
    key: Option<&PublicKey>,
    report: &FlashReport,
) -> &'static str {
    let mut version = |slot: Slot| {
        let decoded;
        let image = match report.slot(slot.name()).and_then(|s| s.image.as_ref()) {
            Some(image) => image,
            None => {
                decoded = crate::decode::decode_image_in(flash, layout.slot(slot), key);
                &decoded
            }
        };
        if image.validity != crate::decode::Validity::Valid {
            return None;
        }
        version_key(image.version()?)
    };
    match (version(Slot::Primary), version(Slot::Secondary)) {
        (Some(a), Some(b)) if b < a => "secondary",
        (None, Some(_)) => "secondary",
        _ => "primary",
    }
}

/// Both app slots and the boot word.
#[derive(Debug, Clone, Copy, Default)]
pub struct AtomicBootWord;

fn state_is(report: &FlashReport, states: &[u8]) -> bool {
    let Some(w) = &report.atomic_word else {
        return false;
    };
    states
        .iter()
        .any(|&s| state_name(s).is_some_and(|n| w.state.as_deref() == Some(n)))
}

impl MetadataDecoder for AtomicBootWord {
    fn check_layout(&self, layout: &Layout) -> Result<(), String> {
        super::mcuboot::check_layout(layout)?;
        if word_size(layout.write_size) > MAX_WORD {
            return Err(format!(
                "a write granule of {} bytes is past the boot word's {MAX_WORD}",
                layout.write_size
            ));
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
        key: Option<&PublicKey>,
        report: &mut FlashReport,
    ) {
        let addr = word_addr(layout);
        report.atomic_word = flash
            .get(addr, word_size(layout.write_size))
            .map(|b| decode_word(b, addr));
        if report.atomic_word.as_ref().is_some_and(|w| w.slot.is_none()) {
            let pick = without_word(flash, layout, key, report);
            if let Some(w) = report.atomic_word.as_mut() {
                w.boot_slot = pick.to_string();
            }
        }
    }

    /// The word's slot and state, as the bootloader reads it (`fut::scheme::atomic_word`).
    fn boot_pick(&self, report: &FlashReport) -> super::BootPick {
        let Some(w) = report.atomic_word.as_ref() else {
            return super::BootPick::unread("the boot word is outside the dump");
        };
        let record = match (&w.slot, &w.state) {
            (Some(slot), state) => format!(
                "boot word {} (slot {} {})",
                w.bytes,
                if slot == "primary" { "A" } else { "B" },
                state.as_deref().unwrap_or("unknown")
            ),
            (None, _) => {
                let slot = if w.boot_slot == "secondary" {
                    "secondary"
                } else {
                    "primary"
                };
                return super::BootPick {
                    slot: Some(slot),
                    name: Some(if slot == "primary" { "slot A" } else { "slot B" }.to_string()),
                    record: format!(
                        "boot word {} {}: nothing selects, the valid image of the lower version first ({})",
                        w.bytes,
                        w.condition,
                        if slot == "primary" { "slot A" } else { "slot B" }
                    ),
                    disagreement: Vec::new(),
                };
            }
        };
        super::ab_pick(w.slot.as_deref(), w.state.as_deref(), record, Vec::new())
    }

    /// With no valid word the bootloader boots the primary slot.
    fn running_slot(&self) -> &'static str {
        "primary"
    }

    fn booted_slot(&self, report: &FlashReport) -> Option<&'static str> {
        Some(if report.atomic_word.as_ref()?.boot_slot == "secondary" {
            "secondary"
        } else {
            "primary"
        })
    }

    /// The word still on trial: the next boot reverts it unless the image clears it.
    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed> {
        let w = report.atomic_word.as_ref()?;
        state_is(report, &[STATE_TRIAL, STATE_BOOTED]).then(|| Unconfirmed {
            record: "the boot word".to_string(),
            state: format!("state {}", w.state.as_deref().unwrap_or("unknown")),
        })
    }

    /// While the word is on trial, the other slot holds the image a revert boots.
    fn rollback_copy(&self, report: &FlashReport) -> Option<RollbackCopy> {
        let w = report.atomic_word.as_ref()?;
        let trial = w.slot.as_deref()?;
        let back = if trial == "primary" { "secondary" } else { "primary" };
        state_is(report, &[STATE_TRIAL, STATE_BOOTED]).then(|| RollbackCopy {
            slot: back,
            why: format!(
                "the boot word selects the {trial} slot on trial: a boot that finds it not cleared reverts to the other slot"
            ),
        })
    }

    fn leftovers(&self, report: &FlashReport) -> Vec<String> {
        match &report.atomic_word {
            Some(w) if w.condition == "invalid" => vec![format!(
                "the boot word at {:#x} is neither erased nor valid ({}): a rewrite was cut on a part that tears it",
                w.addr, w.bytes
            )],
            _ => Vec::new(),
        }
    }

    fn metadata_areas(&self, layout: &Layout) -> Vec<std::ops::Range<u32>> {
        let a = word_addr(layout);
        let word = a..a + word_size(layout.write_size) as u32;
        std::iter::once(word).collect()
    }

    /// The whole word: every bit of it is checked, so any that reads differently from one read
    /// to the next can turn a valid word invalid (and the boot to the primary slot) or back.
    fn relied_on(&self, report: &FlashReport, layout: &Layout) -> Vec<ReliedOn> {
        let _ = report;
        self.metadata_areas(layout)
            .into_iter()
            .map(|range| ReliedOn {
                what: "the boot word".to_string(),
                range,
                read_as: ReadAs::Value,
            })
            .collect()
    }
}
