//! ESP-IDF's A/B scheme: two app slots (`ota_0` = the primary region, `ota_1` = the secondary)
//! and the otadata boot-select record, kept in the region the map gives the role `scratch`
//! (two sectors, one entry at the start of each). Neither image is ever copied: the
//! application downloads into the slot it does not run from and selects it in otadata, the
//! bootloader boots the slot the record selects.
//!
//! The entry is `u32 ota_seq | u8 seq_label[20] | u32 ota_state | u32 crc`, the CRC is
//! CRC-32/LE over the 4 bytes of `ota_seq` only (ESP-IDF `bootloader_common_ota_select_crc`:
//! `esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4)`). The behaviour follows ESP-IDF's sources
//! (components/bootloader_support/src/bootloader_utility.c, bootloader_common_loader.c and
//! components/app_update/esp_ota_ops.c), built with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE and
//! without a factory partition:
//! - an entry is *invalid* when `ota_seq` is erased or the state is INVALID or ABORTED, and
//!   *valid* when it is not invalid and its CRC matches (`bootloader_common_ota_select_valid`);
//!   a state outside the enum is valid;
//! - the active entry is the valid one with the highest `ota_seq` (the first sector on a tie),
//!   and the slot it selects is `(ota_seq - 1) % 2`;
//! - at boot, every entry in PENDING_VERIFY is rewritten ABORTED in its own sector (erase,
//!   then write the same entry with the new state), then the active entry in NEW is rewritten
//!   PENDING_VERIFY the same way;
//! - with both entries invalid the bootloader boots `ota_0` and, when neither entry has a seq
//!   with a good CRC, writes `ota_seq = 1`, VALID into the first sector once `ota_0` loaded
//!   (`set_actual_ota_seq`); with entries that are not invalid but none valid it tries every
//!   slot from `ota_0` up;
//! - a selected slot that holds no valid image falls back to the slots below it, then above;
//! - the application selects the new slot by writing the *inactive* sector (erase, then write)
//!   with the next seq that maps to it and state NEW (`esp_rewrite_ota_data`), and marks itself
//!   valid by rewriting the *active* sector in place with state VALID
//!   (`esp_ota_mark_app_valid_cancel_rollback`).
//!
//! The images: the bootloader and the application take an ESP-IDF app image (magic 0xE9, what
//! `idf.py build` and `esptool elf2image` write; [`crate::esp_image`]) and check it as ESP-IDF
//! does, and take an MCUboot image (the rig's generated ones) as every other scheme here does.
//! An ESP image is checked as the second-stage bootloader checks the image it is about to
//! load without secure boot (components/bootloader_support/src/esp_image_format.c,
//! `image_load` in ESP_IMAGE_LOAD mode): the header's magic and segment count, each segment's
//! header (length a multiple of 4, data inside the partition), the XOR checksum in the last
//! byte of the 16-byte block after the segments, then the appended SHA-256 when the header's
//! `hash_appended` byte says there is one, and the whole image inside the partition
//! (`process_appended_hash`: "Image length ... doesn't fit in partition length"). An image
//! that fails is skipped as ESP-IDF's `bootloader_utility_load_boot_image` skips it: the slots
//! below the selected one are tried, then those above. The application checks the image it
//! downloaded the same way before it writes otadata (`esp_ota_end` runs `esp_image_verify` on
//! the partition, and `esp_ota_set_boot_partition` verifies it again before
//! `esp_rewrite_ota_data`). The version the rig compares is the app descriptor's
//! (`esp_app_desc_t.version`, [`crate::esp_image::app_version`]).
//!
//! A build of this scheme is ESP-IDF with rollback enabled: a permanent request is written the
//! same way as a test one (state NEW), and the update commits when the new image marks itself
//! valid, whichever was asked.

use super::{AbRecord, AppBoot};
use crate::app::AppConfig;
use crate::boot::BootConfig;
use crate::esp_image::{self, EspChecks, EspImageError, ESP_IMAGE_MAGIC};
use crate::hal::{Flash, FlashError, Hal};
use crate::image::{self, Descriptor, ImageError, ImageHeader, ImageInfo, Version};
use crate::key::PublicKey;
use crate::layout::{Area, Layout, Slot};
use crate::variant::Variant;
use crate::{say, FwError};

/// The scheme's name (a campaign's `mode`).
pub const NAME: &str = "esp-idf";

/// Bytes of one otadata entry.
pub const ENTRY_SIZE: usize = 32;
/// Number of OTA app slots (`ota_0`, `ota_1`).
pub const OTA_SLOTS: u32 = 2;

/// `esp_ota_img_states_t`.
pub const STATE_NEW: u32 = 0;
pub const STATE_PENDING_VERIFY: u32 = 1;
pub const STATE_VALID: u32 = 2;
pub const STATE_INVALID: u32 = 3;
pub const STATE_ABORTED: u32 = 4;
pub const STATE_UNDEFINED: u32 = u32::MAX;

/// CRC-32/LE as ESP-IDF's ROM `crc32_le(init, buf, len)` computes it (reflected polynomial
/// 0xEDB88320; with `init` 0 it is zlib's `crc32`).
pub fn crc32_le(init: u32, bytes: &[u8]) -> u32 {
    let mut c = !init;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
        }
    }
    !c
}

/// The CRC an entry with sequence number `seq` carries.
pub fn seq_crc(seq: u32) -> u32 {
    crc32_le(u32::MAX, &seq.to_le_bytes())
}

/// One otadata entry (`esp_ota_select_entry_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub seq: u32,
    pub label: [u8; 20],
    pub state: u32,
    pub crc: u32,
}

impl Entry {
    /// An erased entry.
    pub const ERASED: Entry = Entry {
        seq: u32::MAX,
        label: [0xff; 20],
        state: u32::MAX,
        crc: u32::MAX,
    };

    pub fn parse(b: &[u8; ENTRY_SIZE]) -> Entry {
        let le = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let mut label = [0u8; 20];
        label.copy_from_slice(&b[4..24]);
        Entry {
            seq: le(0),
            label,
            state: le(24),
            crc: le(28),
        }
    }

    pub fn bytes(&self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b[0..4].copy_from_slice(&self.seq.to_le_bytes());
        b[4..24].copy_from_slice(&self.label);
        b[24..28].copy_from_slice(&self.state.to_le_bytes());
        b[28..32].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    /// `bootloader_common_ota_select_invalid`: the seq is erased or the state says the image
    /// failed (the CRC is not looked at).
    pub fn invalid(&self) -> bool {
        self.seq == u32::MAX || self.state == STATE_INVALID || self.state == STATE_ABORTED
    }

    /// Whether the CRC matches the seq.
    pub fn crc_ok(&self, variant: Variant) -> bool {
        let _ = variant;
        self.crc == seq_crc(self.seq)
    }

    /// `bootloader_common_ota_select_valid`.
    pub fn valid(&self, variant: Variant) -> bool {
        !self.invalid() && self.crc_ok(variant)
    }

    /// The slot this entry selects: `(ota_seq - 1) % 2`.
    pub fn slot(&self) -> Slot {
        slot_of_index(self.seq.wrapping_sub(1) % OTA_SLOTS)
    }
}

fn slot_of_index(i: u32) -> Slot {
    if i == 0 {
        Slot::Primary
    } else {
        Slot::Secondary
    }
}

fn index_of(slot: Slot) -> u32 {
    match slot {
        Slot::Primary => 0,
        Slot::Secondary => 1,
    }
}

/// Where otadata lives: the two sectors at the start of the map's scratch region.
pub fn otadata_sector(layout: &Layout, sector: usize) -> Area {
    Area {
        offset: layout.scratch.offset + sector as u32 * layout.sector_size,
        size: layout.sector_size,
    }
}

/// Reads both entries. An entry that reads back as an uncorrectable error (a torn granule on
/// an ECC part) is taken as erased: the bootloader must survive it.
pub fn read_entries<F: Flash + ?Sized>(flash: &mut F, layout: &Layout) -> Result<[Entry; 2], FlashError> {
    let mut out = [Entry::ERASED; 2];
    for (i, e) in out.iter_mut().enumerate() {
        let mut b = [0u8; ENTRY_SIZE];
        match flash.read(otadata_sector(layout, i).offset, &mut b) {
            Ok(()) => *e = Entry::parse(&b),
            Err(FlashError::Uncorrectable { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(out)
}

/// `bootloader_common_get_active_otadata`: the valid entry with the highest seq, the first on
/// a tie.
pub fn active(entries: &[Entry; 2], variant: Variant) -> Option<usize> {
    match (entries[0].valid(variant), entries[1].valid(variant)) {
        (true, true) => Some(if entries[0].seq >= entries[1].seq { 0 } else { 1 }),
        (true, false) => Some(0),
        (false, true) => Some(1),
        (false, false) => None,
    }
}

/// The slot the application's `esp_ota_get_boot_partition` names on a partition table without
/// a factory app (components/app_update/esp_ota_ops.c): with both entries invalid it looks for
/// the factory app, and with none valid it logs "ota data invalid, no current app. Assuming
/// factory" and looks for it too; there is none, so both give `None` (NULL). Otherwise the
/// slot the active entry selects.
pub fn app_boot_partition(entries: &[Entry; 2], variant: Variant) -> Option<Slot> {
    if entries[0].invalid() && entries[1].invalid() {
        return None;
    }
    active(entries, variant).map(|a| entries[a].slot())
}

/// ESP-IDF's `write_otadata` / `rewrite_ota_seq`: erase the entry's sector, then write the entry.
pub fn write_entry<F: Flash + ?Sized>(
    flash: &mut F,
    layout: &Layout,
    sector: usize,
    e: &Entry,
) -> Result<(), FlashError> {
    let area = otadata_sector(layout, sector);
    flash.erase(area.offset, area.size)?;
    flash.write(area.offset, &e.bytes())
}

/// The next seq above `current` that selects `slot` (`compute_ota_seq_for_target_slot`).
pub fn next_seq_for(current: u32, slot: Slot) -> u32 {
    let base = (index_of(slot) + 1) % OTA_SLOTS;
    let mut seq = base;
    while current > seq {
        seq += OTA_SLOTS;
    }
    seq
}

/// Whether the image at the start of `area` is an ESP app image (its first byte is 0xE9). An
/// unreadable byte is not: the MCUboot path then meets the same read error.
pub fn holds_esp_image<F: Flash + ?Sized>(flash: &mut F, area: Area) -> bool {
    let mut b = [0u8; 1];
    flash.read(area.offset, &mut b).is_ok() && b[0] == ESP_IMAGE_MAGIC
}

/// Why an ESP app image is refused, in the words the bootloader's console uses for any image:
/// a header or segment that does not fit is `bad-size`, a checksum or appended SHA-256 that
/// does not match is `hash-mismatch`.
pub fn image_error(e: EspImageError) -> ImageError {
    match e {
        EspImageError::NoHeader => ImageError::NoHeader,
        EspImageError::SegmentCount(_) | EspImageError::BadSegment { .. } | EspImageError::Truncated => {
            ImageError::BadSize
        }
        EspImageError::Checksum { .. } | EspImageError::HashMismatch => ImageError::HashMismatch,
        EspImageError::Flash(f) => ImageError::Flash(f),
    }
}

/// Checks the ESP app image at the start of `area` as the bootloader does (see the module
/// comment) and describes it the way the firmware describes any image it boots: its version
/// is the app descriptor's (`0.0.0+0` when it has none the rig can read: the bootloader boots
/// it all the same), its hash the SHA-256 of the image (header to checksum, the appended one
/// when there is one), its total size the bytes a download moves. The header has no MCUboot
/// fields: `hdr_size` and `protect_tlv_size` are 0, `img_size` is the bytes the SHA-256
/// covers and `load_addr` the image's entry address.
///
/// Every build of this scheme runs both checks: no broken variant skips them (why none does is
/// in campaigns/README.md, esp-idf/).
pub fn validate_esp<H: Hal + ?Sized>(hal: &mut H, area: Area) -> Result<ImageInfo, ImageError> {
    let info = esp_image::validate(hal, area, EspChecks::ALL).map_err(image_error)?;
    let version = info
        .app_desc
        .as_ref()
        .and_then(esp_image::app_version)
        .unwrap_or_default();
    Ok(ImageInfo {
        header: ImageHeader {
            load_addr: info.layout.header.entry_addr,
            hdr_size: 0,
            protect_tlv_size: 0,
            img_size: info.layout.image_len,
            flags: 0,
            version,
        },
        hash: info.digest,
        total_size: info.layout.total_size,
    })
}

/// ESP-IDF's A/B scheme with its otadata record.
#[derive(Debug, Clone, Copy, Default)]
pub struct EspIdf;

impl AbRecord for EspIdf {
    fn name(&self) -> &'static str {
        NAME
    }

    fn scratch_use(&self) -> &'static str {
        "it is otadata, the boot-select record, one entry in each of two sectors"
    }

    fn boot_slot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<Slot, FwError> {
        let l = &cfg.layout;
        let v = cfg.variant;
        let mut e = read_entries(hal, l)?;
        for (i, entry) in e.iter_mut().enumerate() {
            if entry.state == STATE_PENDING_VERIFY {
                entry.state = STATE_ABORTED;
                say!(hal, "boot: otadata-abort sector={} seq={}", i, entry.seq);
                write_entry(hal, l, i, entry)?;
            }
        }
        let mut initial = false;
        let start = if e[0].invalid() && e[1].invalid() {
            // No factory partition: ota_0, and an otadata that never held a good seq is set.
            initial = e.iter().all(|x| x.seq == u32::MAX || x.crc != seq_crc(x.seq));
            say!(hal, "boot: otadata-empty slot=primary");
            Some(Slot::Primary)
        } else if let Some(a) = active(&e, v) {
            let slot = e[a].slot();
            say!(
                hal,
                "boot: otadata-select sector={} seq={} slot={}",
                a,
                e[a].seq,
                slot.name()
            );
            if e[a].state == STATE_NEW {
                e[a].state = STATE_PENDING_VERIFY;
                say!(hal, "boot: otadata-pending sector={} seq={}", a, e[a].seq);
                write_entry(hal, l, a, &e[a])?;
            }
            Some(slot)
        } else {
            say!(hal, "boot: otadata-invalid try=all");
            None
        };
        // Try the selected slot, then those below it, then those above (ota_0 first when
        // nothing is selected).
        let order: [Slot; 2] = match start {
            Some(Slot::Secondary) => [Slot::Secondary, Slot::Primary],
            _ => [Slot::Primary, Slot::Secondary],
        };
        for slot in order {
            match AbRecord::validate_image(self, hal, l.slot(slot), &cfg.key, v) {
                Ok(_) => {
                    if start.is_some_and(|s| s != slot) {
                        say!(hal, "boot: fallback slot={}", slot.name());
                    }
                    if initial && slot == Slot::Primary {
                        let set = Entry {
                            seq: 1,
                            label: [0xff; 20],
                            state: STATE_VALID,
                            crc: seq_crc(1),
                        };
                        say!(hal, "boot: otadata-init sector=0 seq=1");
                        write_entry(hal, l, 0, &set)?;
                    }
                    return Ok(slot);
                }
                Err(ImageError::Flash(err)) if !matches!(err, FlashError::Uncorrectable { .. }) => {
                    return Err(err.into())
                }
                Err(_) => {}
            }
        }
        Ok(order[0])
    }

    /// An ESP app image as ESP-IDF's bootloader checks it ([`validate_esp`]), an MCUboot image
    /// as every other scheme does.
    fn validate_image(
        &self,
        hal: &mut dyn Hal,
        area: Area,
        key: &PublicKey,
        variant: Variant,
    ) -> Result<ImageInfo, ImageError> {
        if holds_esp_image(hal, area) {
            return validate_esp(hal, area);
        }
        image::validate_with(hal, area, key, variant.image_checks())
    }

    /// An ESP app image's version is its app descriptor's, read where ESP-IDF's application
    /// reads it ([`esp_image::peek_app_desc`]); one without a descriptor the rig can read has
    /// no version (`NoHeader`).
    fn image_version(&self, hal: &mut dyn Hal, area: Area) -> Result<Version, ImageError> {
        if holds_esp_image(hal, area) {
            let desc = esp_image::peek_app_desc(hal, area)?;
            return desc
                .as_ref()
                .and_then(esp_image::app_version)
                .ok_or(ImageError::NoHeader);
        }
        image::read_header(hal, area).map(|h| h.version)
    }

    /// An ESP app image's appended SHA-256, or, without one, the SHA-256 of the image.
    fn image_hash(&self, hal: &mut dyn Hal, area: Area) -> Result<[u8; 32], ImageError> {
        if holds_esp_image(hal, area) {
            let layout = esp_image::read_layout(hal, area).map_err(image_error)?;
            if layout.header.hash_appended {
                let mut h = [0u8; 32];
                hal.read(area.offset + layout.image_len, &mut h)?;
                return Ok(h);
            }
            return Ok(image::hash_flash(hal, area.offset, layout.image_len)?);
        }
        image::read_hash(hal, area)
    }

    /// An ESP app image carries none of the rig's behaviour flags: it behaves normally.
    fn image_descriptor(&self, hal: &mut dyn Hal, area: Area) -> Result<Descriptor, ImageError> {
        if holds_esp_image(hal, area) {
            return Ok(Descriptor::default());
        }
        image::read_descriptor(hal, area)
    }

    /// Either slot: `ota_0` needs no record (a blank otadata boots it); `ota_1` is where an
    /// earlier update left the device: seq 1 (ota_0) and seq 2 (ota_1), both VALID.
    fn provision(&self, layout: &Layout, slot: Slot, put: &mut dyn FnMut(u32, &[u8])) -> bool {
        if slot == Slot::Secondary {
            for (sector, seq) in [(0usize, 1u32), (1, 2)] {
                let e = Entry {
                    seq,
                    label: [0xff; 20],
                    state: STATE_VALID,
                    crc: seq_crc(seq),
                };
                put(otadata_sector(layout, sector).offset, &e.bytes());
            }
        }
        true
    }

    /// The running slot's entry (the one whose seq maps to it with a good CRC, as
    /// `esp_ota_get_state_partition` finds it): PENDING_VERIFY must be confirmed. An entry for
    /// the other slot with a higher seq that is ABORTED or INVALID says the bootloader rolled
    /// that update back.
    ///
    /// The broken `otadata-invalid-reboot` build gives up when `esp_ota_get_boot_partition`
    /// names no partition (see [`Variant::OtadataInvalidReboot`]): it asks for a rollback,
    /// which `esp_ota_mark_app_invalid_rollback_and_reboot` refuses without an active entry
    /// ("Running firmware is factory", ESP_FAIL), and restarts.
    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        let e = read_entries(hal, &cfg.layout)?;
        let v = cfg.variant;
        if v == Variant::OtadataInvalidReboot && app_boot_partition(&e, v).is_none() {
            say!(hal, "app: otadata-unreadable boot-partition=none");
            say!(hal, "app: rollback-refused reason=no-active-otadata");
            return Ok(AppBoot {
                restart: true,
                ..AppBoot::default()
            });
        }
        let mine = e.iter().find(|x| x.slot() == cfg.running && x.crc_ok(v));
        let pending = mine.is_some_and(|x| x.state == STATE_PENDING_VERIFY);
        let my_seq = mine.map_or(0, |x| x.seq);
        let reverted = e.iter().any(|x| {
            x.seq != u32::MAX
                && x.crc_ok(v)
                && x.slot() == cfg.target()
                && (x.state == STATE_ABORTED || x.state == STATE_INVALID)
                && x.seq > my_seq
        });
        if reverted && cfg.variant == Variant::OtadataRunningRewritten {
            if let Some(i) = e.iter().position(|x| x.slot() == cfg.running && x.crc_ok(v)) {
                say!(hal, "app: otadata-rewrite sector={} seq={}", i, e[i].seq);
                write_entry(hal, &cfg.layout, i, &e[i])?;
            }
        }
        Ok(AppBoot {
            pending,
            reverted,
            restart: false,
        })
    }

    /// `esp_ota_mark_app_valid_cancel_rollback`: the active entry rewritten VALID in place.
    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        let l = &cfg.layout;
        let mut e = read_entries(hal, l)?;
        if let Some(a) = active(&e, cfg.variant) {
            if e[a].state != STATE_VALID {
                e[a].state = STATE_VALID;
                e[a].crc = seq_crc(e[a].seq);
                write_entry(hal, l, a, &e[a])?;
            }
        }
        say!(hal, "app: confirm version={}", me);
        Ok(())
    }

    /// `esp_ota_set_boot_partition` (`esp_rewrite_ota_data`): the next seq that selects the
    /// target slot, state NEW, written into the inactive sector.
    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        let l = &cfg.layout;
        let target = cfg.target();
        let mut e = read_entries(hal, l)?;
        let (sector, seq) = match active(&e, cfg.variant) {
            Some(a) if e[a].slot() == target => (a, e[a].seq),
            // The broken single-sector build rewrites the active entry's own sector.
            Some(a) if cfg.variant == Variant::OtadataSingleSector => (a, next_seq_for(e[a].seq, target)),
            Some(a) => (1 - a, next_seq_for(e[a].seq, target)),
            None => (0, index_of(target) + 1),
        };
        e[sector].seq = seq;
        e[sector].state = STATE_NEW;
        e[sector].crc = seq_crc(seq);
        say!(hal, "ota: otadata-write sector={} seq={} state=new", sector, seq);
        write_entry(hal, l, sector, &e[sector])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_published_vectors() {
        assert_eq!(seq_crc(1), 0x4743_989A);
        assert_eq!(seq_crc(2), 0x55F6_3774);
        assert_eq!(seq_crc(3), 0xED4A_5011);
        assert_eq!(seq_crc(4), 0x709D_68A8);
        assert_eq!(crc32_le(0, b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn next_seq_maps_to_the_target_slot_above_the_current_one() {
        assert_eq!(next_seq_for(1, Slot::Secondary), 2);
        assert_eq!(next_seq_for(2, Slot::Primary), 3);
        assert_eq!(next_seq_for(5, Slot::Secondary), 6);
        assert_eq!(next_seq_for(0, Slot::Primary), 1);
        for cur in 0..20 {
            for slot in [Slot::Primary, Slot::Secondary] {
                let n = next_seq_for(cur, slot);
                let e = Entry {
                    seq: n,
                    ..Entry::ERASED
                };
                assert_eq!(e.slot(), slot);
                assert!(n >= cur && n < cur + 2 + 1);
            }
        }
    }

    #[test]
    fn validity_follows_esp_idf() {
        let good = |seq, state| Entry {
            seq,
            label: [0xff; 20],
            state,
            crc: seq_crc(seq),
        };
        let v = Variant::Reference;
        assert!(good(1, STATE_VALID).valid(v));
        assert!(good(1, 0x1234).valid(v), "a state outside the enum is not invalid");
        assert!(!good(1, STATE_ABORTED).valid(v));
        assert!(!good(1, STATE_INVALID).valid(v));
        assert!(!Entry::ERASED.valid(v));
        let zero = Entry {
            seq: 0,
            label: [0; 20],
            state: 0,
            crc: 0,
        };
        assert!(!zero.valid(v));
        let e = [good(3, STATE_VALID), good(4, STATE_NEW)];
        assert_eq!(active(&e, v), Some(1));
        assert_eq!(e[1].slot(), Slot::Secondary);
        let tie = [good(3, STATE_VALID), good(3, STATE_VALID)];
        assert_eq!(active(&tie, v), Some(0));
        let b = good(7, STATE_PENDING_VERIFY).bytes();
        assert_eq!(Entry::parse(&b), good(7, STATE_PENDING_VERIFY));
    }
}
