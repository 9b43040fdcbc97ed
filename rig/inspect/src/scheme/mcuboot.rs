//! The metadata of the MCUboot image trailer, kept by swap-scratch and overwrite: each slot's
//! image, trailer fields and swap status records, and the scratch area (the revert journal in
//! its trailer fields, the scratch-marker variant's marker at its top). The fields are read by
//! the firmware's own trailer code over the dump.

use fut::layout::{Area, Layout, Slot, STATUS_STATES};
use fut::scheme::swap_scratch::journal::resume_from_end;
use fut::scheme::swap_scratch::SCRATCH_MARKER;
use fut::trailer::{self, Field, Magic, SwapType};
use fut::PublicKey;

use super::{BootPick, MetadataDecoder, ReadAs, ReliedOn, RollbackCopy, Unconfirmed};
use crate::decode::{
    decode_image_in, Coverage, FlagState, FlashReport, ImageReport, MagicState, ScratchReport, SlotReport,
    StatusRecord, StatusReport, SwapPoint, TrailerReport, ADDR_LIMIT,
};
use crate::slice_flash::SliceFlash;
use fut::image::HEADER_SIZE;

/// MCUboot trailers in both slots and a scratch area, as swap-scratch keeps them.
#[derive(Debug, Clone, Copy, Default)]
pub struct McubootTrailers;

/// The same trailers as overwrite-only keeps them: the copy destroys the old image, so there
/// is no rollback copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct OverwriteTrailers;

impl MetadataDecoder for OverwriteTrailers {
    fn check_layout(&self, layout: &Layout) -> Result<(), String> {
        McubootTrailers.check_layout(layout)
    }

    fn decode_pick(
        &self,
        flash: &mut SliceFlash<'_>,
        layout: &Layout,
        _key: Option<&PublicKey>,
        report: &mut FlashReport,
    ) {
        decode_trailers(flash, layout, report);
    }

    fn boot_pick(&self, report: &FlashReport) -> BootPick {
        trailers_pick(report)
    }

    fn decode(&self, flash: &mut SliceFlash<'_>, layout: &Layout, key: Option<&PublicKey>, report: &mut FlashReport) {
        McubootTrailers.decode(flash, layout, key, report)
    }

    fn running_slot(&self) -> &'static str {
        McubootTrailers.running_slot()
    }

    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed> {
        McubootTrailers.unconfirmed(report)
    }

    fn rollback_copy(&self, _report: &FlashReport) -> Option<RollbackCopy> {
        None
    }

    fn judged_slots(&self, upgrade: fut::scheme::Upgrade) -> Vec<super::JudgedSlot> {
        super::primary_and_test_copy(upgrade, false)
    }

    fn leftovers(&self, report: &FlashReport) -> Vec<String> {
        McubootTrailers.leftovers(report)
    }

    fn metadata_areas(&self, layout: &Layout) -> Vec<std::ops::Range<u32>> {
        McubootTrailers.metadata_areas(layout)
    }

    /// The overwrite bootloader decides on the secondary magic alone (a request: validate and
    /// copy); the application decides from the primary magic and image_ok whether the running
    /// image still needs confirming. Nothing reads the other fields or any status record.
    fn relied_on(&self, _report: &FlashReport, layout: &Layout) -> Vec<ReliedOn> {
        let mut out = Vec::new();
        fields(
            &mut out,
            layout,
            "primary",
            layout.primary,
            &[Field::Magic, Field::ImageOk],
        );
        fields(&mut out, layout, "secondary", layout.secondary, &[Field::Magic]);
        out
    }
}

/// The fixed fields `which` of the trailer at the end of `area`, each read for its value.
pub(super) fn fields(out: &mut Vec<ReliedOn>, l: &Layout, name: &str, area: Area, which: &[Field]) {
    let g = l.trailer_geom();
    for &f in which {
        let start = area.end() - g.from_end(f);
        out.push(ReliedOn {
            what: format!("{name} trailer {}", f.name()),
            range: start..start + g.size(f),
            read_as: ReadAs::Value,
        });
    }
}

impl MetadataDecoder for McubootTrailers {
    fn check_layout(&self, layout: &Layout) -> Result<(), String> {
        check_layout(layout)
    }

    fn decode(&self, flash: &mut SliceFlash<'_>, layout: &Layout, key: Option<&PublicKey>, report: &mut FlashReport) {
        report.slots = [Slot::Primary, Slot::Secondary]
            .map(|s| decode_slot(flash, layout, s, key))
            .into();
        // A map without scratch (swap-move's, overwrite's) has none to decode.
        report.scratch = layout
            .has_scratch()
            .then(|| decode_scratch(flash, layout, layout.scratch));
    }

    fn decode_pick(
        &self,
        flash: &mut SliceFlash<'_>,
        layout: &Layout,
        _key: Option<&PublicKey>,
        report: &mut FlashReport,
    ) {
        decode_trailers(flash, layout, report);
    }

    fn boot_pick(&self, report: &FlashReport) -> BootPick {
        trailers_pick(report)
    }

    fn running_slot(&self) -> &'static str {
        Slot::Primary.name()
    }

    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed> {
        let t = report.slot(Slot::Primary.name())?.trailer.as_ref()?;
        (t.magic == MagicState::Good && t.image_ok != FlagState::Set).then(|| Unconfirmed {
            record: "the primary trailer".to_string(),
            state: format!("image_ok {}", t.image_ok.name()),
        })
    }

    /// A finished test swap (primary trailer: good magic, swap type `test`, copy_done set)
    /// moved the old image into the secondary slot, where it stays until the next download
    /// erases it: while the new image is on test (image_ok unset) a failed health check or a
    /// reset reverts to it, so it must be intact. The confirmation writes only the primary
    /// trailer, so the secondary slot read after it is the copy the undecided update had.
    /// A permanent swap (type `perm`) never reverts, and after a revert (type `revert`) the
    /// old image is the running one, checked as such: neither keeps a rollback copy.
    fn judged_slots(&self, upgrade: fut::scheme::Upgrade) -> Vec<super::JudgedSlot> {
        super::primary_and_test_copy(upgrade, true)
    }

    fn rollback_copy(&self, report: &FlashReport) -> Option<RollbackCopy> {
        let t = report.slot(Slot::Primary.name())?.trailer.as_ref()?;
        let finished_test_swap =
            t.magic == MagicState::Good && t.swap_type == SwapType::Test.name() && t.copy_done == FlagState::Set;
        finished_test_swap.then(|| RollbackCopy {
            slot: Slot::Secondary.name(),
            why: format!(
                "the primary trailer records a finished test swap (image_ok {}), which keeps the image to revert to \
                 there; until the new image confirms itself, a failed health check or a reset swaps it back in, and a \
                 broken one bricks the device",
                t.image_ok.name()
            ),
        })
    }

    fn leftovers(&self, report: &FlashReport) -> Vec<String> {
        let mut warnings = Vec::new();
        for slot in &report.slots {
            if let Some(t) = &slot.trailer {
                if slot.name == Slot::Secondary.name() && t.magic == MagicState::Good {
                    warnings.push(
                        "leftover request: the secondary trailer still holds a good magic after the device settled"
                            .into(),
                    );
                }
                if t.magic == MagicState::Bad {
                    warnings.push(format!("{} trailer magic is torn (neither good nor erased)", slot.name));
                }
            }
        }
        if let Some(s) = &report.scratch {
            if s.trailer.as_ref().is_some_and(|t| t.magic == MagicState::Good) {
                warnings.push("stale journal: the scratch area still holds a trailer with a good magic".into());
            }
        }
        warnings
    }

    /// Each slot's trailer (fixed fields and status records) and the scratch area's fixed
    /// fields, where the revert journal is kept.
    fn metadata_areas(&self, l: &Layout) -> Vec<std::ops::Range<u32>> {
        let trailer = |a: Area| a.end().saturating_sub(l.trailer_size().min(a.size))..a.end();
        let scratch = l.scratch;
        vec![
            trailer(l.primary),
            trailer(l.secondary),
            scratch.end().saturating_sub(l.trailer_info_size().min(scratch.size))..scratch.end(),
        ]
    }

    /// What `decide` reads (`fut::scheme::swap_scratch::decide`): every fixed field of the
    /// primary trailer at every boot; the request in the secondary trailer (magic, and image_ok
    /// for its type when the magic is good); with the primary magic not good, the revert journal in the scratch
    /// trailer and the rewrite journal in the secondary trailer (its fields and resume point);
    /// and the status records of a swap the primary trailer records as unfinished (good magic,
    /// a swap type, a sane size, copy_done not set), from which the next boot resumes.
    fn relied_on(&self, report: &FlashReport, l: &Layout) -> Vec<ReliedOn> {
        let mut out = Vec::new();
        fields(&mut out, l, "primary", l.primary, &Field::ALL);
        let primary = report.slot(Slot::Primary.name());
        let t = primary.and_then(|s| s.trailer.as_ref());
        let primary_good = t.is_some_and(|t| t.magic == MagicState::Good);
        let request = report
            .slot(Slot::Secondary.name())
            .and_then(|s| s.trailer.as_ref())
            .is_some_and(|t| t.magic == MagicState::Good);
        if primary_good {
            // image_ok gives a request its type; without a good magic nothing reads it.
            let which: &[Field] = if request {
                &[Field::Magic, Field::ImageOk]
            } else {
                &[Field::Magic]
            };
            fields(&mut out, l, "secondary", l.secondary, which);
        } else {
            fields(&mut out, l, "secondary", l.secondary, &Field::ALL);
            let at = l.secondary.end() - resume_from_end(l);
            out.push(ReliedOn {
                what: "secondary trailer journal resume point".into(),
                range: at..at + 5,
                read_as: ReadAs::Value,
            });
            fields(
                &mut out,
                l,
                "scratch",
                l.scratch,
                &[Field::Magic, Field::SwapInfo, Field::SwapSize],
            );
        }
        // A finished swap (copy_done set) is never resumed: its records are read no more (a
        // copy_done that reads unsteadily is itself relied on, above).
        let swap = t.is_some_and(|t| {
            primary_good
                && t.copy_done != FlagState::Set
                && [SwapType::Test, SwapType::Perm, SwapType::Revert]
                    .iter()
                    .any(|k| t.swap_type == k.name())
        });
        let regions = primary
            .and_then(|s| s.status.as_ref())
            .and_then(|s| s.swap_regions.map(|n| (n, s)));
        if let (true, Some((n, status))) = (swap, regions) {
            let w = l.status_record_size();
            for region in 1..=n.min(l.sectors_per_slot()) {
                for step in 1..=STATUS_STATES {
                    let at = trailer::status_addr(l, l.primary, region, step);
                    let stored = status
                        .written
                        .iter()
                        .find(|r| r.region == region && r.step == step)
                        .map_or(trailer::ERASED, |r| r.value);
                    out.push(ReliedOn {
                        what: format!("primary status record region {region} step {step}"),
                        range: at..at + w,
                        read_as: ReadAs::Written { stored },
                    });
                }
            }
        }
        out
    }
}

pub(super) fn area_sane(a: Area) -> bool {
    u64::from(a.offset) + u64::from(a.size) <= ADDR_LIMIT
}

/// Checks that `layout` can be decoded against without any of its arithmetic overflowing.
pub(super) fn check_layout(l: &Layout) -> Result<(), String> {
    if l.sector_size == 0 || l.write_size == 0 {
        return Err("sector or write size is zero".into());
    }
    let areas = [
        ("bootloader", l.bootloader),
        ("primary", l.primary),
        ("secondary", l.secondary),
        ("scratch", l.scratch),
    ];
    if let Some((name, _)) = areas.iter().find(|(_, a)| !area_sane(*a)) {
        return Err(format!("{name} area ends past 0x{ADDR_LIMIT:x}"));
    }
    // In u128: sectors (< 2^32) x 3 x write_size (< 2^32) does not fit u64.
    let sectors = u128::from(l.primary.size / l.sector_size);
    let trailer = sectors * u128::from(STATUS_STATES) * u128::from(l.write_size) + u128::from(l.trailer_info_size());
    if trailer >= u128::from(l.primary.size) {
        return Err("trailer does not fit the slot".into());
    }
    l.validate().map_err(|e| format!("{e:?}"))
}

fn read_trailer(flash: &mut SliceFlash<'_>, l: &Layout, area: Area) -> Option<TrailerReport> {
    let g = l.trailer_geom();
    let info = g.info_size();
    if area.size < info || !flash.covers(area.end() - info, info) {
        return None;
    }
    let t = trailer::read(flash, g, area).ok()?;
    let magic_raw = flash.get(area.end() - g.from_end(Field::Magic), 16).map(hex::encode);
    let image_ok_raw = flash
        .get(area.end() - g.from_end(Field::ImageOk), 1)
        .map_or(0xff, |b| b[0]);
    let copy_done_raw = flash
        .get(area.end() - g.from_end(Field::CopyDone), 1)
        .map_or(0xff, |b| b[0]);
    let swap_type = match (t.swap_info, t.swap_type()) {
        (0xff, _) => "unset",
        (_, Some(k)) => k.name(),
        (_, None) => "bad",
    };
    Some(TrailerReport {
        magic: t.magic.into(),
        magic_raw: magic_raw.filter(|_| t.magic == Magic::Bad),
        image_ok: t.image_ok.into(),
        image_ok_raw,
        copy_done: t.copy_done.into(),
        copy_done_raw,
        swap_info_raw: t.swap_info,
        swap_type: swap_type.to_string(),
        image_num: (t.swap_info != 0xff).then_some(t.swap_info >> 4),
        swap_size: (t.swap_size != u32::MAX).then_some(t.swap_size),
    })
}

fn read_status(flash: &mut SliceFlash<'_>, l: &Layout, slot: Area, t: Option<&TrailerReport>) -> Option<StatusReport> {
    let trailer_size = l.trailer_size();
    if !flash.covers(slot.end() - trailer_size, trailer_size) {
        return None;
    }
    let capacity = l.sectors_per_slot();
    let mut written = Vec::new();
    for region in 1..=capacity {
        for step in 1..=STATUS_STATES {
            let addr = trailer::status_addr(l, slot, region, step);
            if trailer::status_written(flash, addr).ok()? {
                let value = flash.get(addr, 1).map_or(0xff, |b| b[0]);
                written.push(StatusRecord { region, step, value });
            }
        }
    }
    // The bootloader's test of a sane swap size before it resumes.
    let swap_regions = t
        .and_then(|t| t.swap_size)
        .filter(|s| *s > 0 && s.is_multiple_of(l.sector_size) && *s <= l.max_image_size())
        .map(|s| s / l.sector_size);
    let last = trailer::last_status(flash, l, slot, swap_regions.unwrap_or(capacity)).ok()?;
    Some(StatusReport {
        capacity,
        swap_regions,
        written,
        last_completed: last.map(|(region, step)| SwapPoint { region, step }),
    })
}

fn is_blank(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0xff)
}

pub(super) fn slot_line(name: &str, image: Option<&ImageReport>, trailer: Option<&TrailerReport>) -> String {
    let image_part = match image {
        None => "outside dump".to_string(),
        Some(i) => match i.version() {
            Some(v) => format!("{v} hash={} {}", i.short_hash().unwrap_or("none"), i.validity),
            None if i.header_erased => format!("{} (erased)", i.validity),
            None => i.validity.to_string(),
        },
    };
    let trailer_part = trailer.map_or_else(|| "outside dump".to_string(), TrailerReport::summary);
    format!("{name}: {image_part}; trailer {trailer_part}")
}

/// Both slots' trailers alone (no image is read): all an MCUboot swap or overwrite reads to
/// decide what its next boot does, before it validates the primary image it jumps to.
pub(super) fn decode_trailers(flash: &mut SliceFlash<'_>, l: &Layout, report: &mut FlashReport) {
    report.slots = [Slot::Primary, Slot::Secondary]
        .map(|which| {
            let slot = l.slot(which);
            let trailer = read_trailer(flash, l, slot);
            SlotReport {
                name: which.name().to_string(),
                offset: slot.offset,
                size: slot.size,
                coverage: Coverage::of(flash, slot),
                summary: String::new(),
                image: None,
                trailer,
                status: None,
                trailer_sectors_blank: None,
            }
        })
        .into();
}

/// The pick of a bootloader that always runs the primary slot (an MCUboot swap or overwrite,
/// embassy-boot's active partition): the record is what its trailers say the next boot does
/// (a request in the secondary trailer swaps or copies first).
pub(super) fn trailers_pick(report: &FlashReport) -> BootPick {
    let trailer = |name: &str| {
        report
            .slot(name)
            .and_then(|s| s.trailer.as_ref())
            .map_or_else(|| "outside dump".to_string(), TrailerReport::summary)
    };
    BootPick {
        slot: Some(Slot::Primary.name()),
        name: None,
        record: format!(
            "primary trailer {}; secondary trailer {}",
            trailer(Slot::Primary.name()),
            trailer(Slot::Secondary.name())
        ),
        disagreement: Vec::new(),
    }
}

pub(super) fn decode_slot(flash: &mut SliceFlash<'_>, l: &Layout, which: Slot, key: Option<&PublicKey>) -> SlotReport {
    let slot = l.slot(which);
    let image = flash
        .covers(slot.offset, HEADER_SIZE as u32)
        .then(|| decode_image_in(flash, slot, key));
    let trailer = read_trailer(flash, l, slot);
    let status = read_status(flash, l, slot, trailer.as_ref());
    let sectors_len = l.trailer_sectors().saturating_mul(l.sector_size).min(slot.size);
    let trailer_sectors_blank = flash.get(slot.end() - sectors_len, sectors_len as usize).map(is_blank);
    SlotReport {
        name: which.name().to_string(),
        offset: slot.offset,
        size: slot.size,
        coverage: Coverage::of(flash, slot),
        summary: slot_line(which.name(), image.as_ref(), trailer.as_ref()),
        image,
        trailer,
        status,
        trailer_sectors_blank,
    }
}

fn decode_scratch(flash: &mut SliceFlash<'_>, l: &Layout, area: Area) -> ScratchReport {
    let marker_region = (area.size >= 16)
        .then(|| flash.get(area.end() - 16, 8))
        .flatten()
        .filter(|m| m[..4] == SCRATCH_MARKER)
        .map(|m| u32::from_le_bytes([m[4], m[5], m[6], m[7]]));
    ScratchReport {
        offset: area.offset,
        size: area.size,
        coverage: Coverage::of(flash, area),
        trailer: read_trailer(flash, l, area),
        blank: flash.get(area.offset, area.size as usize).map(is_blank),
        marker_region,
    }
}
