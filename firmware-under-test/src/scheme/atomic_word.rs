//! Atomic boot word: an A/B scheme whose boot-select record is one flash word that the part
//! rewrites atomically, the way an STM32 with two banks picks the bank it boots from with one
//! option bit (BFB2), changed through the option bytes and applied at once by the option-byte
//! loader. Two app slots (`a` = the primary region, `b` = the secondary) and the word at the
//! start of the map's scratch region, alone in its sector.
//!
//! The word is rewritten with [`Flash::replace_word`]. On a part that does that atomically
//! (a flash profile flag on the simulated board) a cut leaves the old word or the new one. On
//! any other part it is an erase and a program, and a cut leaves the word erased, torn, or
//! half-programmed with bits that read one way or the other: this scheme must not rely on the
//! part being atomic, so every word carries its own check, and a word that fails it reads as
//! no word at all. With no word the bootloader starts from the valid image of the lower
//! version, the image that ran before the update (updates go up in version): starting from
//! slot `a`, the factory slot, would boot an update written there from slot `b` without its
//! trial, and a failing one would never go back (`campaigns/atomic-word/revert-from-b-nrf52840.toml`).
//!
//! The word is `u8 slot (0 = a, 1 = b) | u8 state | u8 !slot | u8 !state`, then zero bytes up
//! to the part's write granule (at least 4 bytes). States and the boot-once logic are those of
//! the redundant-copies scheme: the application selects the new slot on trial, the bootloader
//! records that it booted it once, the image clears the trial when its health check passes,
//! and a boot that finds the trial booted but never cleared reverts to the other slot. A build
//! of this scheme always updates on trial; the update commits at `app: confirm`.

use super::redundant::{state_name, STATE_BOOTED, STATE_CONFIRMED, STATE_REVERTED, STATE_TRIAL};
use super::{AbRecord, AppBoot};
use crate::app::AppConfig;
use crate::boot::BootConfig;
use crate::hal::{Flash, FlashError, Hal};
use crate::image::Version;
use crate::layout::{Layout, LayoutError, Slot};
use crate::variant::Variant;
use crate::{say, FwError};

/// The scheme's name (a campaign's `mode`).
pub const NAME: &str = "atomic-word";

/// The longest word this build writes (the largest write granule it supports).
pub const MAX_WORD: usize = 32;

/// Bytes of the boot word on a part with write granule `write_size`: the 4 bytes of the record
/// rounded up to whole granules.
pub const fn word_size(write_size: u32) -> usize {
    let w = if write_size == 0 { 1 } else { write_size as usize };
    4usize.div_ceil(w) * w
}

/// The boot word, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootWord {
    /// Every byte erased: no selection made yet.
    Erased,
    /// A word whose check holds: the slot it selects and its state.
    Valid { slot: Slot, state: u8 },
    /// Anything else: a torn or half-programmed word, or one this build does not know.
    Invalid,
}

/// The word's bytes for `slot` and `state`; the first [`word_size`] of them are written.
pub fn encode(slot: Slot, state: u8) -> [u8; MAX_WORD] {
    let s = match slot {
        Slot::Primary => 0u8,
        Slot::Secondary => 1u8,
    };
    let mut b = [0u8; MAX_WORD];
    b[0] = s;
    b[1] = state;
    b[2] = !s;
    b[3] = !state;
    b
}

/// Decodes the word's bytes.
pub fn decode(b: &[u8]) -> BootWord {
    if b.len() < 4 {
        return BootWord::Invalid;
    }
    if b.iter().all(|&x| x == 0xFF) {
        return BootWord::Erased;
    }
    let known = b[0] < 2 && state_name(b[1]).is_some();
    if !known || b[2] != !b[0] || b[3] != !b[1] || b[4..].iter().any(|&x| x != 0) {
        return BootWord::Invalid;
    }
    let slot = if b[0] == 0 { Slot::Primary } else { Slot::Secondary };
    BootWord::Valid { slot, state: b[1] }
}

/// Decodes the word as `variant` reads it: [`Variant::AtomicWordUnchecked`] trusts any word
/// that is not all erased, its check bytes unread (slot 0 = a, anything else = b; the state as
/// written, one it does not know is no trial).
pub fn decode_as(b: &[u8], variant: Variant) -> BootWord {
    if variant != Variant::AtomicWordUnchecked || b.len() < 4 {
        return decode(b);
    }
    if b.iter().all(|&x| x == 0xFF) {
        return BootWord::Erased;
    }
    let slot = if b[0] == 0 { Slot::Primary } else { Slot::Secondary };
    BootWord::Valid { slot, state: b[1] }
}

/// Where the word lives: the start of the map's scratch region.
pub fn word_addr(layout: &Layout) -> u32 {
    layout.scratch.offset
}

/// Reads the word as `variant` decodes it ([`decode_as`]); an uncorrectable read (a torn
/// granule on an ECC part) is an invalid word.
pub fn read_word<F: Flash + ?Sized>(flash: &mut F, layout: &Layout, variant: Variant) -> Result<BootWord, FlashError> {
    let n = word_size(layout.write_size);
    let mut b = [0u8; MAX_WORD];
    match flash.read(word_addr(layout), &mut b[..n]) {
        Ok(()) => Ok(decode_as(&b[..n], variant)),
        Err(FlashError::Uncorrectable { .. }) => Ok(BootWord::Invalid),
        Err(e) => Err(e),
    }
}

/// Rewrites the word to select `slot` in `state`.
pub fn write_word<F: Flash + ?Sized>(flash: &mut F, layout: &Layout, slot: Slot, state: u8) -> Result<(), FlashError> {
    let n = word_size(layout.write_size);
    flash.replace_word(word_addr(layout), &encode(slot, state)[..n])
}

fn say_write(hal: &mut dyn Hal, who: &str, slot: Slot, state: u8) {
    say!(
        hal,
        "{}: boot-word-write slot={} state={}",
        who,
        slot.name(),
        state_name(state).unwrap_or("unknown")
    );
}

/// The atomic-word A/B scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct AtomicWord;

impl AtomicWord {
    /// The slot to start from when no word says: the valid image of the lower version (the
    /// primary on a tie, or when neither slot holds a valid image). Updates go up in version,
    /// so the lower one is the image that ran before any update started: on a part that tears
    /// the word, a cut in any rewrite (the request, the trial-booted mark, the confirmation)
    /// leaves the word erased or invalid, and the device goes back to the image it ran before
    /// the update instead of booting a new image without its trial (the primary, where a
    /// failing update started from slot b was written). Before the first update only the
    /// primary holds an image, and it boots. The build that relies on the word being atomic
    /// starts from the primary, as a factory default would.
    fn without_word(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<Slot, FwError> {
        if cfg.variant == Variant::AtomicWordUnchecked {
            return Ok(Slot::Primary);
        }
        let mut version = [None, None];
        for (i, slot) in [Slot::Primary, Slot::Secondary].into_iter().enumerate() {
            match self.validate_image(hal, cfg.layout.slot(slot), &cfg.key, cfg.variant) {
                Ok(info) => version[i] = Some(info.header.version),
                Err(crate::image::ImageError::Flash(e)) if !matches!(e, FlashError::Uncorrectable { .. }) => {
                    return Err(e.into())
                }
                Err(_) => {}
            }
        }
        Ok(match version {
            [Some(a), Some(b)] if b < a => Slot::Secondary,
            [None, Some(_)] => Slot::Secondary,
            _ => Slot::Primary,
        })
    }
}

impl AbRecord for AtomicWord {
    fn name(&self) -> &'static str {
        NAME
    }

    fn scratch_use(&self) -> &'static str {
        "it keeps its boot word alone in the first sector"
    }

    /// The word's sector: the first of the scratch region.
    fn record_area(&self, layout: &Layout) -> crate::layout::Area {
        super::scratch_sectors(layout, 1)
    }

    /// The slots, and a scratch region whose first sector holds the word alone.
    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        layout.validate()?;
        layout.require_scratch(1)?;
        if (layout.write_size as usize) > MAX_WORD {
            return Err(LayoutError::TrailerTooLarge);
        }
        Ok(())
    }

    fn boot_slot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<Slot, FwError> {
        let l = &cfg.layout;
        let start = match read_word(hal, l, cfg.variant)? {
            BootWord::Erased => {
                let slot = self.without_word(hal, cfg)?;
                say!(hal, "boot: boot-word-empty slot={}", slot.name());
                slot
            }
            BootWord::Invalid => {
                let slot = self.without_word(hal, cfg)?;
                say!(hal, "boot: boot-word-invalid slot={}", slot.name());
                slot
            }
            BootWord::Valid { slot, state } => {
                say!(
                    hal,
                    "boot: boot-word slot={} state={}",
                    slot.name(),
                    state_name(state).unwrap_or("unknown")
                );
                match state {
                    STATE_TRIAL => {
                        write_word(hal, l, slot, STATE_BOOTED)?;
                        say_write(hal, "boot", slot, STATE_BOOTED);
                        slot
                    }
                    STATE_BOOTED => {
                        let back = slot.other();
                        say!(hal, "boot: boot-word-revert slot={}", back.name());
                        write_word(hal, l, back, STATE_REVERTED)?;
                        say_write(hal, "boot", back, STATE_REVERTED);
                        back
                    }
                    _ => slot,
                }
            }
        };
        // The build that relies on the word being atomic boots the slot it names, or nothing.
        // The build relying on an atomic word never falls back to the other slot.
        super::first_valid_slot(hal, cfg, start, cfg.variant != Variant::AtomicWordUnchecked)
    }

    /// Slot a: the word selecting a, confirmed (as a factory image is written). Slot b, as
    /// after an earlier update: the word selecting b, confirmed.
    fn provision(&self, layout: &Layout, slot: Slot, put: &mut dyn FnMut(u32, &[u8])) -> bool {
        let n = word_size(layout.write_size);
        if n > MAX_WORD {
            return false;
        }
        put(word_addr(layout), &encode(slot, STATE_CONFIRMED)[..n]);
        true
    }

    /// The word selects the running slot on trial: it must clear it. It selects the running
    /// slot as reverted: the bootloader rolled the other slot's update back.
    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        let BootWord::Valid { slot, state } = read_word(hal, &cfg.layout, cfg.variant)? else {
            return Ok(AppBoot::default());
        };
        let mine = slot == cfg.running;
        Ok(AppBoot {
            pending: mine && (state == STATE_TRIAL || state == STATE_BOOTED),
            reverted: mine && state == STATE_REVERTED,
            restart: false,
        })
    }

    /// Clears the trial: the running slot, confirmed.
    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        let on_trial = matches!(
            read_word(hal, &cfg.layout, cfg.variant)?,
            BootWord::Valid { slot, state } if slot == cfg.running && (state == STATE_TRIAL || state == STATE_BOOTED)
        );
        if on_trial {
            write_word(hal, &cfg.layout, cfg.running, STATE_CONFIRMED)?;
            say_write(hal, "app", cfg.running, STATE_CONFIRMED);
        }
        say!(hal, "app: confirm version={}", me);
        Ok(())
    }

    /// Selects the target slot on trial.
    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        write_word(hal, &cfg.layout, cfg.target(), STATE_TRIAL)?;
        say_write(hal, "ota", cfg.target(), STATE_TRIAL);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_a_torn_word_is_no_word() {
        for w in [1u32, 4, 8, 16] {
            let n = word_size(w);
            assert!(n >= 4 && n.is_multiple_of(w as usize), "{w}: {n}");
            let b = encode(Slot::Secondary, STATE_TRIAL);
            assert_eq!(
                decode(&b[..n]),
                BootWord::Valid {
                    slot: Slot::Secondary,
                    state: STATE_TRIAL
                }
            );
        }
        assert_eq!(decode(&[0xFF; 8]), BootWord::Erased);
        let good = encode(Slot::Primary, STATE_CONFIRMED);
        // A program cut part-way: a bit of the new word still erased (!state = 0xFE).
        let mut torn = good;
        torn[3] |= 0x01;
        assert_eq!(decode(&torn[..4]), BootWord::Invalid);
        let mut torn = good;
        torn[1] = 0xFF;
        assert_eq!(decode(&torn[..4]), BootWord::Invalid);
        // Reserved bytes must read zero.
        let mut b = encode(Slot::Primary, STATE_CONFIRMED);
        b[5] = 1;
        assert_eq!(decode(&b[..8]), BootWord::Invalid);
        assert_eq!(decode(&encode(Slot::Primary, 9)[..4]), BootWord::Invalid);
    }
}
