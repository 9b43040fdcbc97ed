//! The metadata of the esp-idf A/B scheme: both slots' images and the otadata record in the
//! map's scratch region (two sectors of the part's erase size). The record says which slot the
//! bootloader picks, whether the image it selects still has to mark itself valid, and whether
//! the image to fall back to must be kept.

use fut::layout::{Area, Layout, Slot};
use fut::scheme::esp_idf::OTA_SLOTS;
use fut::PublicKey;

use super::mcuboot::slot_line;
use super::{BootPick, McubootTrailers, MetadataDecoder, ReadAs, ReliedOn, RollbackCopy, Unconfirmed};
use crate::decode::FlashReport;
use crate::esp_image::{decode_esp_image_in, is_esp_image};
use crate::otadata::{decode_otadata_sectors, OtaEntry, SectorCondition, STATE_NEW, STATE_PENDING_VERIFY};
use crate::slice_flash::SliceFlash;

/// The size of one otadata entry: `ota_seq`, `seq_label[20]`, `ota_state`, `crc`.
const ENTRY_SIZE: u32 = 32;

/// Both app slots and otadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct EspIdfOtadata;

fn slot_name(index: u32) -> &'static str {
    if index == 0 {
        Slot::Primary.name()
    } else {
        Slot::Secondary.name()
    }
}

/// The otadata sectors, two of the part's erase size at the start of the scratch region.
fn decode_record(flash: &mut SliceFlash<'_>, layout: &Layout, report: &mut FlashReport) {
    let bytes = flash.get(layout.scratch.offset, (2 * layout.sector_size) as usize);
    report.otadata = bytes.map(|b| decode_otadata_sectors(b, layout.sector_size as usize, OTA_SLOTS));
}

/// The ota_N an entry selects: `(seq - 1) mod slots`.
fn entry_slot(e: &OtaEntry) -> u32 {
    e.seq.wrapping_sub(1) % OTA_SLOTS
}

/// One entry in a few words: `sector 1 seq 2 new`, `sector 0 blank`, `sector 1 seq 3 new (crc bad)`.
fn entry_text(e: &OtaEntry) -> String {
    let state = e
        .state_name
        .clone()
        .unwrap_or_else(|| format!("state 0x{:08x}", e.state));
    match e.condition {
        SectorCondition::Blank => format!("sector {} blank", e.sector),
        SectorCondition::Absent => format!("sector {} outside the dump", e.sector),
        _ if e.seq == u32::MAX => format!("sector {} seq erased", e.sector),
        _ if !e.crc_ok => format!("sector {} seq {} {state} (crc bad)", e.sector, e.seq),
        _ => format!("sector {} seq {} {state}", e.sector, e.seq),
    }
}

/// The active entry, when otadata was decoded and one is valid.
fn active(report: &FlashReport) -> Option<&OtaEntry> {
    let o = report.otadata.as_ref()?;
    let s = o.active_sector?;
    o.entries.iter().find(|e| e.sector == s)
}

impl MetadataDecoder for EspIdfOtadata {
    fn check_layout(&self, layout: &Layout) -> Result<(), String> {
        super::mcuboot::check_layout(layout)?;
        if layout.scratch.size < 2 * layout.sector_size {
            return Err("otadata needs two sectors in the scratch region".into());
        }
        Ok(())
    }

    fn decode(&self, flash: &mut SliceFlash<'_>, layout: &Layout, key: Option<&PublicKey>, report: &mut FlashReport) {
        McubootTrailers.decode(flash, layout, key, report);
        report.scratch = None;
        // A slot holding an ESP app image (magic 0xE9, what a stock ESP-IDF build flashes) is
        // judged by that format: the bootloader's checksum and appended SHA-256.
        for s in &mut report.slots {
            let area = Area {
                offset: s.offset,
                size: s.size,
            };
            if flash.get(area.offset, 1).is_some_and(is_esp_image) {
                let image = decode_esp_image_in(flash, area);
                s.summary = slot_line(&s.name, Some(&image), s.trailer.as_ref());
                s.image = Some(image);
            }
        }
        decode_record(flash, layout, report);
    }

    fn decode_pick(
        &self,
        flash: &mut SliceFlash<'_>,
        layout: &Layout,
        _key: Option<&PublicKey>,
        report: &mut FlashReport,
    ) {
        decode_record(flash, layout, report);
    }

    /// As the bootloader (`fut::scheme::esp_idf`, after ESP-IDF's
    /// `bootloader_utility_get_selected_boot_partition`): an entry still PENDING_VERIFY is
    /// aborted at this boot and the other valid entry, if any, selects; NEW turns into
    /// PENDING_VERIFY and boots on trial; no valid entry boots `ota_0` first.
    fn boot_pick(&self, report: &FlashReport) -> BootPick {
        let Some(o) = report.otadata.as_ref() else {
            return BootPick::unread("otadata outside the dump");
        };
        let entries: Vec<String> = o.entries.iter().map(entry_text).collect();
        let mut record = format!("otadata {}", entries.join(", "));
        let chosen = match active(report) {
            Some(e) if e.state == STATE_PENDING_VERIFY => {
                let other = o
                    .entries
                    .iter()
                    .filter(|x| x.valid && x.sector != e.sector)
                    .max_by_key(|x| x.seq);
                record.push_str(&format!(
                    "; sector {} is pending-verify: aborted at this boot, {}",
                    e.sector,
                    other.map_or("no other valid entry: ota_0 first".to_string(), |x| format!(
                        "sector {} selects",
                        x.sector
                    ))
                ));
                other.map_or(0, entry_slot)
            }
            Some(e) => {
                record.push_str(&format!("; sector {} selects", e.sector));
                if e.state == STATE_NEW {
                    record.push_str(" (new: booted on trial)");
                }
                entry_slot(e)
            }
            None => {
                record.push_str("; no valid entry: ota_0 first");
                0
            }
        };
        BootPick {
            slot: Some(slot_name(chosen)),
            name: Some(format!("ota_{chosen}")),
            record,
            disagreement: o.disagreement.clone(),
        }
    }

    /// The slot of the active entry; with no valid entry the bootloader boots `ota_0`.
    fn running_slot(&self) -> &'static str {
        Slot::Primary.name()
    }

    fn booted_slot(&self, report: &FlashReport) -> Option<&'static str> {
        let o = report.otadata.as_ref()?;
        Some(o.boot_slot.map_or(Slot::Primary.name(), slot_name))
    }

    /// The active entry still in NEW or PENDING_VERIFY: the next boot aborts it unless the
    /// image marks itself valid.
    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed> {
        let e = active(report)?;
        (e.state == STATE_NEW || e.state == STATE_PENDING_VERIFY).then(|| Unconfirmed {
            record: format!("otadata sector {}", e.sector),
            state: format!("ota_state {}", e.state_name.as_deref().unwrap_or("unknown")),
        })
    }

    /// While the active entry is on trial, the slot it does not select holds the image the
    /// bootloader falls back to when it aborts the trial.
    fn rollback_copy(&self, report: &FlashReport) -> Option<RollbackCopy> {
        let e = active(report)?;
        let index = e.seq.wrapping_sub(1) % OTA_SLOTS;
        (e.state == STATE_NEW || e.state == STATE_PENDING_VERIFY).then(|| RollbackCopy {
            slot: slot_name(1 - index),
            why: format!(
                "otadata sector {} selects the {} slot on trial ({}): the bootloader aborts it at the next boot \
                 unless it marks itself valid, and falls back to the other slot",
                e.sector,
                slot_name(index),
                e.state_name.as_deref().unwrap_or("unknown")
            ),
        })
    }

    fn leftovers(&self, report: &FlashReport) -> Vec<String> {
        let Some(o) = &report.otadata else {
            return Vec::new();
        };
        let mut w: Vec<String> = o
            .disagreement
            .iter()
            .map(|d| format!("otadata copies disagree: {d}"))
            .collect();
        for e in &o.entries {
            for p in &e.problems {
                w.push(format!("otadata sector {}: {p}", e.sector));
            }
        }
        w
    }

    /// The first entry of each otadata sector: the only bytes of otadata the bootloader reads.
    fn metadata_areas(&self, layout: &Layout) -> Vec<std::ops::Range<u32>> {
        let base = layout.scratch.offset;
        (0..2u32)
            .map(|i| {
                let start = base + i * layout.sector_size;
                start..start + ENTRY_SIZE
            })
            .collect()
    }

    /// The active entry's `ota_seq`, `ota_state` and `crc`: they make it the entry the
    /// bootloader picks and say whether the image it selects is on trial. Its label is never
    /// read; an entry that does not validate is skipped, whatever its bits read.
    fn relied_on(&self, report: &FlashReport, layout: &Layout) -> Vec<ReliedOn> {
        let Some(e) = active(report) else {
            return Vec::new();
        };
        let start = layout.scratch.offset + u32::from(e.sector) * layout.sector_size;
        [("ota_seq", 0..4), ("ota_state", 24..28), ("crc", 28..32)]
            .into_iter()
            .map(|(name, r)| ReliedOn {
                what: format!("otadata sector {} {name}", e.sector),
                range: start + r.start..start + r.end,
                read_as: ReadAs::Value,
            })
            .collect()
    }
}
