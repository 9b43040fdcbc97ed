//! Redundant copies with a generation counter: an A/B scheme whose boot record is kept twice,
//! the way U-Boot's redundant environment (`CONFIG_SYS_REDUNDAND_ENVIRONMENT`) and fwup's
//! `uboot_setenv` keep it. Two app slots (`a` = the primary region, `b` = the secondary) and the
//! record in the first two sectors of the map's scratch region, one copy at the start of each.
//!
//! What is followed (U-Boot `include/env_internal.h`, `env/common.c`, `env/flash.c`):
//! - a redundant copy is `u32 crc | u8 flags | data`, the CRC is zlib's CRC-32 of the data only
//!   (not of the flags byte), the flags byte is the copy's generation counter;
//! - a reader checks both CRCs; with one good copy it takes that one; with two it takes the
//!   newer: flags 0xFF beside 0 means the 0 copy is newer (the counter wrapped), otherwise the
//!   greater flags wins, the first copy on a tie (`env_import_redund`);
//! - a writer never touches the copy it read: it erases the other sector and writes the new
//!   data there with flags + 1, so a cut at any point leaves the copy it read intact;
//! - the boot-once logic is U-Boot's `upgrade_available` / `bootcount` pair, here one state
//!   byte: the application writes the new slot on trial, the bootloader records that it booted
//!   it once, the image clears the trial when its health check passes, and a boot that finds
//!   the trial booted but never cleared reverts to the other slot (`altbootcmd`).
//!
//! Here `data` is 11 bytes: `u8 boot slot (0 = a, 1 = b) | u8 state | 9 reserved bytes (0)`,
//! so a copy is 16 bytes, a whole number of write granules on every profile. A copy whose CRC
//! fails, or whose slot or state is outside the values below, is not valid. A copy that reads
//! back as an uncorrectable error (a torn granule on an ECC part) is taken as erased.
//!
//! A build of this scheme always updates on trial: a permanent request is written the same way,
//! and the update commits when the new image clears the trial (`app: confirm`).
//!
//! fwup before PR #215 ("An incorrect U-Boot environment was being selected at the 128th
//! generation", fwup #214) is the field bug of a counter compared without its wrap; the broken
//! build [`Variant::RedundantGenerationNoWrap`] compares the flags as plain numbers.

use super::esp_idf::crc32_le;
use super::{AbRecord, AppBoot};
use crate::app::AppConfig;
use crate::boot::BootConfig;
use crate::hal::{Flash, FlashError, Hal};
use crate::image::Version;
use crate::layout::{Area, Layout, Slot};
use crate::variant::Variant;
use crate::{say, FwError};

/// The scheme's name (a campaign's `mode`).
pub const NAME: &str = "redundant-copies";

/// Bytes of one copy.
pub const COPY_SIZE: usize = 16;

/// The running slot is good (U-Boot: `upgrade_available=0`).
pub const STATE_CONFIRMED: u8 = 1;
/// The slot holds an update on trial, not booted yet (`upgrade_available=1`, `bootcount=0`).
pub const STATE_TRIAL: u8 = 2;
/// The trial was booted once and not cleared (`bootcount=1`): the next boot reverts.
pub const STATE_BOOTED: u8 = 3;
/// The slot is good and the update in the other slot was reverted.
pub const STATE_REVERTED: u8 = 4;

/// Name of a state byte; `None` outside the values above.
pub const fn state_name(state: u8) -> Option<&'static str> {
    match state {
        STATE_CONFIRMED => Some("confirmed"),
        STATE_TRIAL => Some("trial"),
        STATE_BOOTED => Some("trial-booted"),
        STATE_REVERTED => Some("reverted"),
        _ => None,
    }
}

/// One copy of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordCopy {
    pub crc: u32,
    /// The generation counter (U-Boot's `flags`).
    pub generation: u8,
    /// 0 = slot a (primary), 1 = slot b (secondary).
    pub slot: u8,
    pub state: u8,
    pub reserved: [u8; 9],
}

impl RecordCopy {
    /// An erased copy.
    pub const ERASED: RecordCopy = RecordCopy {
        crc: u32::MAX,
        generation: 0xff,
        slot: 0xff,
        state: 0xff,
        reserved: [0xff; 9],
    };

    /// A copy with its CRC computed.
    pub fn new(generation: u8, slot: Slot, state: u8) -> RecordCopy {
        let mut c = RecordCopy {
            crc: 0,
            generation,
            slot: index_of(slot),
            state,
            reserved: [0; 9],
        };
        c.crc = c.crc_expected();
        c
    }

    pub fn parse(b: &[u8; COPY_SIZE]) -> RecordCopy {
        let mut reserved = [0u8; 9];
        reserved.copy_from_slice(&b[7..16]);
        RecordCopy {
            crc: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            generation: b[4],
            slot: b[5],
            state: b[6],
            reserved,
        }
    }

    pub fn bytes(&self) -> [u8; COPY_SIZE] {
        let mut b = [0u8; COPY_SIZE];
        b[0..4].copy_from_slice(&self.crc.to_le_bytes());
        b[4] = self.generation;
        b[5] = self.slot;
        b[6] = self.state;
        b[7..16].copy_from_slice(&self.reserved);
        b
    }

    /// The CRC the data bytes call for: zlib's CRC-32 of everything after the flags byte.
    pub fn crc_expected(&self) -> u32 {
        crc32_le(0, &self.bytes()[5..])
    }

    pub fn crc_ok(&self) -> bool {
        self.crc == self.crc_expected()
    }

    /// A good CRC over a slot and a state this build knows.
    pub fn valid(&self) -> bool {
        self.crc_ok() && self.slot < 2 && state_name(self.state).is_some()
    }

    /// Whether the reader of `variant` takes this copy: a valid one, or for
    /// [`Variant::RedundantBodyUnchecked`] any copy that is not all erased, its body unchecked.
    pub fn taken_by(&self, variant: Variant) -> bool {
        if variant == Variant::RedundantBodyUnchecked {
            return self.bytes() != [0xFF; COPY_SIZE];
        }
        self.valid()
    }

    pub fn boot_slot(&self) -> Slot {
        if self.slot == 0 {
            Slot::Primary
        } else {
            Slot::Secondary
        }
    }

    /// The image in the selected slot has not cleared its trial.
    pub fn on_trial(&self) -> bool {
        self.state == STATE_TRIAL || self.state == STATE_BOOTED
    }
}

fn index_of(slot: Slot) -> u8 {
    match slot {
        Slot::Primary => 0,
        Slot::Secondary => 1,
    }
}

/// Where copy `i` (0 or 1) lives: the start of sector `i` of the map's scratch region.
pub fn copy_sector(layout: &Layout, i: usize) -> Area {
    Area {
        offset: layout.scratch.offset + i as u32 * layout.sector_size,
        size: layout.sector_size,
    }
}

/// Reads both copies; an uncorrectable read is an erased copy.
pub fn read_copies<F: Flash + ?Sized>(flash: &mut F, layout: &Layout) -> Result<[RecordCopy; 2], FlashError> {
    let mut out = [RecordCopy::ERASED; 2];
    for (i, c) in out.iter_mut().enumerate() {
        let mut b = [0u8; COPY_SIZE];
        match flash.read(copy_sector(layout, i).offset, &mut b) {
            Ok(()) => *c = RecordCopy::parse(&b),
            Err(FlashError::Uncorrectable { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Whether generation `a` is newer than `b` as U-Boot's `env_import_redund` decides: 0xFF
/// beside 0 is the wrap (0 is newer), otherwise the greater wins. The broken build compares
/// the bytes as plain numbers, so the copy written after 255 (flags 0) loses to the older one.
pub fn newer(a: u8, b: u8, variant: Variant) -> bool {
    if variant == Variant::RedundantGenerationNoWrap {
        return a > b;
    }
    match (a, b) {
        (0, 0xff) => true,
        (0xff, 0) => false,
        _ => a > b,
    }
}

/// The copy the reader takes: the only valid one, or the newer of two (the first on a tie);
/// the reader of [`Variant::RedundantBodyUnchecked`] takes copies without checking them.
pub fn winner(c: &[RecordCopy; 2], variant: Variant) -> Option<usize> {
    match (c[0].taken_by(variant), c[1].taken_by(variant)) {
        (true, true) => Some(if newer(c[1].generation, c[0].generation, variant) {
            1
        } else {
            0
        }),
        (true, false) => Some(0),
        (false, true) => Some(1),
        (false, false) => None,
    }
}

/// The writer: the copy it did not read (copy 0 when none is valid) is erased and rewritten
/// with the winner's generation + 1 (1 when none is valid). Returns the copy index written.
pub fn write_next<F: Flash + ?Sized>(
    flash: &mut F,
    layout: &Layout,
    variant: Variant,
    slot: Slot,
    state: u8,
) -> Result<(usize, RecordCopy), FlashError> {
    let c = read_copies(flash, layout)?;
    let (target, generation) = match winner(&c, variant) {
        Some(w) => (1 - w, c[w].generation.wrapping_add(1)),
        None => (0, 1),
    };
    let copy = RecordCopy::new(generation, slot, state);
    let area = copy_sector(layout, target);
    flash.erase(area.offset, area.size)?;
    flash.write(area.offset, &copy.bytes())?;
    Ok((target, copy))
}

fn say_write(hal: &mut dyn Hal, who: &str, written: (usize, RecordCopy)) {
    let (i, c) = written;
    say!(
        hal,
        "{}: redundant-write copy={} gen={} slot={} state={}",
        who,
        i,
        c.generation,
        c.boot_slot().name(),
        state_name(c.state).unwrap_or("unknown")
    );
}

/// The redundant-copies A/B scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedundantCopies;

impl AbRecord for RedundantCopies {
    fn name(&self) -> &'static str {
        NAME
    }

    fn boot_slot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<Slot, FwError> {
        let l = &cfg.layout;
        let v = cfg.variant;
        let c = read_copies(hal, l)?;
        let start = match winner(&c, v) {
            None => {
                say!(hal, "boot: redundant-empty slot=primary");
                Slot::Primary
            }
            Some(w) => {
                let r = c[w];
                let slot = r.boot_slot();
                say!(
                    hal,
                    "boot: redundant-select copy={} gen={} slot={} state={}",
                    w,
                    r.generation,
                    slot.name(),
                    state_name(r.state).unwrap_or("unknown")
                );
                match r.state {
                    STATE_TRIAL => {
                        let written = write_next(hal, l, v, slot, STATE_BOOTED)?;
                        say_write(hal, "boot", written);
                        slot
                    }
                    STATE_BOOTED => {
                        let back = slot.other();
                        say!(hal, "boot: redundant-revert slot={}", back.name());
                        let written = write_next(hal, l, v, back, STATE_REVERTED)?;
                        say_write(hal, "boot", written);
                        back
                    }
                    _ => slot,
                }
            }
        };
        super::first_valid_slot(hal, cfg, start, true)
    }

    /// Slot a: copy 0, generation 1, selecting a, confirmed (the record a factory image is
    /// written with). Slot b, as after an earlier update: copy 1, generation 2, selecting b.
    fn provision(&self, layout: &Layout, slot: Slot, put: &mut dyn FnMut(u32, &[u8])) -> bool {
        put(
            copy_sector(layout, 0).offset,
            &RecordCopy::new(1, Slot::Primary, STATE_CONFIRMED).bytes(),
        );
        if slot == Slot::Secondary {
            put(
                copy_sector(layout, 1).offset,
                &RecordCopy::new(2, Slot::Secondary, STATE_CONFIRMED).bytes(),
            );
        }
        true
    }

    /// The winning copy selects the running slot on trial: it must clear it. It selects the
    /// running slot as reverted: the bootloader rolled the other slot's update back.
    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        let c = read_copies(hal, &cfg.layout)?;
        let Some(w) = winner(&c, cfg.variant) else {
            return Ok(AppBoot::default());
        };
        let mine = c[w].boot_slot() == cfg.running;
        Ok(AppBoot {
            pending: mine && c[w].on_trial(),
            reverted: mine && c[w].state == STATE_REVERTED,
            restart: false,
        })
    }

    /// Clears the trial: the running slot, confirmed, in the older copy.
    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        let c = read_copies(hal, &cfg.layout)?;
        if winner(&c, cfg.variant).is_some_and(|w| c[w].on_trial()) {
            let written = write_next(hal, &cfg.layout, cfg.variant, cfg.running, STATE_CONFIRMED)?;
            say_write(hal, "app", written);
        }
        say!(hal, "app: confirm version={}", me);
        Ok(())
    }

    /// Selects the target slot on trial, in the older copy.
    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        let written = write_next(hal, &cfg.layout, cfg.variant, cfg.target(), STATE_TRIAL)?;
        say_write(hal, "ota", written);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_takes_the_wrapped_counter_as_newer() {
        let r = Variant::Reference;
        assert!(newer(0, 0xff, r));
        assert!(!newer(0xff, 0, r));
        assert!(newer(128, 127, r));
        assert!(newer(2, 1, r));
        assert!(!newer(5, 5, r));
        let broken = Variant::RedundantGenerationNoWrap;
        assert!(!newer(0, 0xff, broken), "the broken build misses the wrap");
        assert!(newer(128, 127, broken));
    }

    #[test]
    fn copies_round_trip_and_check_their_crc() {
        let c = RecordCopy::new(7, Slot::Secondary, STATE_TRIAL);
        assert_eq!(RecordCopy::parse(&c.bytes()), c);
        assert!(c.valid());
        // zlib's CRC-32 of the 11 data bytes, computed independently.
        let mut data = [0u8; 11];
        data[0] = 1;
        data[1] = STATE_TRIAL;
        assert_eq!(c.crc, crc32_le(0, &data));
        let mut flipped = c;
        flipped.state = STATE_CONFIRMED;
        assert!(!flipped.valid());
        let mut gen = c;
        gen.generation = 9;
        assert!(gen.valid(), "the CRC does not cover the flags byte");
        assert!(!RecordCopy::ERASED.valid());
        let unknown = RecordCopy::new(1, Slot::Primary, 9);
        assert!(!unknown.valid());
    }

    #[test]
    fn the_winner_is_the_only_valid_copy_or_the_newer_one() {
        let a = RecordCopy::new(255, Slot::Primary, STATE_CONFIRMED);
        let b = RecordCopy::new(0, Slot::Secondary, STATE_TRIAL);
        assert_eq!(winner(&[a, b], Variant::Reference), Some(1));
        assert_eq!(winner(&[a, b], Variant::RedundantGenerationNoWrap), Some(0));
        assert_eq!(winner(&[a, RecordCopy::ERASED], Variant::Reference), Some(0));
        assert_eq!(winner(&[RecordCopy::ERASED, b], Variant::Reference), Some(1));
        assert_eq!(winner(&[RecordCopy::ERASED; 2], Variant::Reference), None);
        assert_eq!(winner(&[a, a], Variant::Reference), Some(0));
    }

    #[test]
    fn a_copy_with_a_zeroed_body_loses_to_the_other_copy_unless_the_body_goes_unchecked() {
        let old = RecordCopy::new(4, Slot::Secondary, STATE_CONFIRMED);
        let new = RecordCopy::new(5, Slot::Secondary, STATE_TRIAL);
        let mut b = new.bytes();
        // Written up to the generation, zeros from the slot on.
        b[5..].fill(0);
        let zeroed = RecordCopy::parse(&b);
        assert!(!zeroed.valid(), "the CRC covers the slot and the state");
        assert_eq!(winner(&[old, zeroed], Variant::Reference), Some(0));
        let broken = Variant::RedundantBodyUnchecked;
        assert_eq!(winner(&[old, zeroed], broken), Some(1));
        assert_eq!(zeroed.boot_slot(), Slot::Primary);
        assert!(!zeroed.on_trial());
        assert_eq!(winner(&[old, RecordCopy::ERASED], broken), Some(0));
    }
}
