//! Swap-move's and swap-offset's metadata: MCUboot trailers in both slots (no scratch area),
//! and the move and swap status records in the primary trailer, read by the firmware's own
//! status code over the dump (`fut::scheme::swap_move::status`): how far a swap got.

use fut::layout::{Layout, Slot, STATUS_STATES};
use fut::scheme::swap_move::{self, status, status::Algo, status::Step};
use fut::scheme::swap_offset;
use fut::Scheme;

use super::mcuboot::{area_sane, decode_slot, fields, slot_line, McubootTrailers};
use super::{MetadataDecoder, ReadAs, ReliedOn, RollbackCopy, Unconfirmed};
use crate::decode::{decode_image_in, FlashReport, MagicState, SwapProgress, ADDR_LIMIT};
use crate::slice_flash::SliceFlash;
use fut::PublicKey;

/// The trailers and status records a swap without scratch keeps: swap-move's, or swap-offset's
/// (whose update waiting in the secondary sits one sector in). One decoder for both, as one
/// scheme type runs both in the firmware (`fut::scheme::swap_move::NoScratch`).
#[derive(Debug, Clone, Copy)]
pub struct NoScratchTrailers(Algo);

/// Swap-move's trailers and status records.
pub const SWAP_MOVE: NoScratchTrailers = NoScratchTrailers(Algo::Move);
/// Swap-offset's trailers and status records.
pub const SWAP_OFFSET: NoScratchTrailers = NoScratchTrailers(Algo::Offset);

/// Both slots' trailers: swap-move and swap-offset keep no scratch area.
fn trailer_areas(l: &Layout) -> Vec<std::ops::Range<u32>> {
    let trailer = |a: fut::layout::Area| a.end().saturating_sub(l.trailer_size().min(a.size))..a.end();
    vec![trailer(l.primary), trailer(l.secondary)]
}

/// The trailer fields every boot reads: all of the primary's fixed fields; the secondary's
/// magic, and its image_ok when the magic makes it a request (it gives the request its type);
/// every secondary field while the primary magic is not good (a revert's request lives there).
/// The move and swap status records are listed apart (`status_records`).
fn trailer_fields(report: &FlashReport, l: &Layout) -> Vec<ReliedOn> {
    use fut::trailer::Field;
    let mut out = Vec::new();
    fields(&mut out, l, "primary", l.primary, &Field::ALL);
    let good = |slot: Slot| {
        report
            .slot(slot.name())
            .and_then(|s| s.trailer.as_ref())
            .is_some_and(|t| t.magic == MagicState::Good)
    };
    let which: &[Field] = if !good(Slot::Primary) {
        &Field::ALL
    } else if good(Slot::Secondary) {
        &[Field::Magic, Field::ImageOk]
    } else {
        &[Field::Magic]
    };
    fields(&mut out, l, "secondary", l.secondary, which);
    out
}

fn sane(l: &Layout) -> Result<(), String> {
    if l.sector_size == 0 || l.write_size == 0 {
        return Err("sector or write size is zero".into());
    }
    for (name, a) in [
        ("bootloader", l.bootloader),
        ("primary", l.primary),
        ("secondary", l.secondary),
        ("scratch", l.scratch),
    ] {
        if !area_sane(a) {
            return Err(format!("{name} area ends past 0x{ADDR_LIMIT:x}"));
        }
    }
    let sectors = u128::from(l.primary.size / l.sector_size);
    let trailer = sectors * u128::from(STATUS_STATES) * u128::from(l.write_size) + u128::from(l.trailer_info_size());
    if trailer >= u128::from(l.primary.size.min(l.secondary.size)) {
        return Err("trailer does not fit the slots".into());
    }
    Ok(())
}

fn decode_with(flash: &mut SliceFlash<'_>, l: &Layout, key: Option<&PublicKey>, report: &mut FlashReport, algo: Algo) {
    report.slots = [Slot::Primary, Slot::Secondary]
        .map(|s| {
            let mut r = decode_slot(flash, l, s, key);
            // Swap-scratch's reading of the records does not apply: the progress below does.
            r.status = None;
            let no_header = r.image.as_ref().is_some_and(|i| i.header.is_none());
            if algo == Algo::Offset && s == Slot::Secondary && no_header {
                // An update waiting to be installed (or put back by a revert) sits one sector in.
                let staged = swap_offset::staging(l);
                if flash.covers(staged.offset, fut::image::HEADER_SIZE as u32) {
                    let image = decode_image_in(flash, staged, key);
                    if image.header.is_some() {
                        r.summary = slot_line(s.name(), Some(&image), r.trailer.as_ref());
                        r.image = Some(image);
                    }
                }
            }
            r
        })
        .into();
    report.progress = progress(flash, l, report, algo);
}

impl MetadataDecoder for NoScratchTrailers {
    fn check_layout(&self, l: &Layout) -> Result<(), String> {
        sane(l)?;
        let scheme = swap_move::NoScratch::new(self.0);
        scheme.check_layout(l).map_err(|e| format!("{e:?} ({})", scheme.name()))
    }

    fn decode(&self, flash: &mut SliceFlash<'_>, l: &Layout, key: Option<&PublicKey>, report: &mut FlashReport) {
        decode_with(flash, l, key, report, self.0);
    }

    fn decode_pick(&self, flash: &mut SliceFlash<'_>, l: &Layout, _key: Option<&PublicKey>, report: &mut FlashReport) {
        super::mcuboot::decode_trailers(flash, l, report);
    }

    fn boot_pick(&self, report: &FlashReport) -> super::BootPick {
        super::mcuboot::trailers_pick(report)
    }

    fn running_slot(&self) -> &'static str {
        Slot::Primary.name()
    }

    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed> {
        McubootTrailers.unconfirmed(report)
    }

    /// As swap-scratch: a finished test swap keeps the image to revert to in the secondary.
    fn rollback_copy(&self, report: &FlashReport) -> Option<RollbackCopy> {
        McubootTrailers.rollback_copy(report)
    }

    fn judged_slots(&self, upgrade: fut::scheme::Upgrade) -> Vec<super::JudgedSlot> {
        McubootTrailers.judged_slots(upgrade)
    }

    fn leftovers(&self, report: &FlashReport) -> Vec<String> {
        let mut warnings = McubootTrailers.leftovers(report);
        if let Some(p) = &report.progress {
            let unfinished = report
                .slot(Slot::Primary.name())
                .and_then(|s| s.trailer.as_ref())
                .is_some_and(|t| t.magic == MagicState::Good && t.copy_done != crate::decode::FlagState::Set);
            if unfinished && !p.records.is_empty() {
                warnings.push(format!("unfinished swap: the primary trailer records {}", p.summary));
            }
        }
        warnings
    }

    fn metadata_areas(&self, l: &Layout) -> Vec<std::ops::Range<u32>> {
        trailer_areas(l)
    }

    fn relied_on(&self, report: &FlashReport, l: &Layout) -> Vec<ReliedOn> {
        let mut out = trailer_fields(report, l);
        status_records(&mut out, report, l, self.0);
        out
    }
}

/// The status records a boot reads (`fut::scheme::swap_move`, `run`, `resume` and
/// `swap_finished`): every record of a swap of the recorded size, read for whether it is
/// written, when the primary trailer (good magic, a sane size) records a swap not finished
/// and no request stands in the secondary, and the swap's type is one a boot resumes; and
/// when copy_done is torn, which the boot takes for finished only if the last step's record
/// reads written. A finished swap's records are read no more.
fn status_records(out: &mut Vec<ReliedOn>, report: &FlashReport, l: &Layout, algo: Algo) {
    use crate::decode::FlagState;
    use fut::trailer::SwapType;
    let trailer = |slot: Slot| report.slot(slot.name()).and_then(|s| s.trailer.as_ref());
    let Some(t) = trailer(Slot::Primary).filter(|t| t.magic == MagicState::Good) else {
        return;
    };
    let Some(p) = report.progress.as_ref() else {
        return;
    };
    let Some(regions) = p.regions.map(|n| n.min(l.sectors_per_slot())) else {
        return;
    };
    let request = trailer(Slot::Secondary).is_some_and(|t| t.magic == MagicState::Good);
    let resumes = t.copy_done == FlagState::Unset
        && !request
        && [SwapType::Test, SwapType::Perm, SwapType::Revert]
            .iter()
            .any(|k| t.swap_type == k.name());
    if !resumes && t.copy_done != FlagState::Bad {
        return;
    }
    let w = l.status_record_size();
    let mut step = Some(Step::first_of(algo));
    while let Some(s) = step {
        let at = status::addr_of(algo, l, l.primary, s);
        let name = match s {
            Step::Move(i) => format!("move {i}"),
            Step::Swap(i, k) => format!("swap {i}.{k}"),
        };
        out.push(ReliedOn {
            what: format!("primary status record {name}"),
            range: at..at + w,
            read_as: ReadAs::Written {
                stored: stored(p, &name, s),
            },
        });
        step = s.next(regions);
    }
}

/// The first byte of the record `name` as the dump read it: the state number for a record
/// listed plainly, the value in brackets for one listed with another value (`progress`),
/// erased for one not listed (it reads erased).
fn stored(p: &SwapProgress, name: &str, step: Step) -> u8 {
    for r in &p.records {
        if r == name {
            return status::value(step);
        }
        if let Some(hex) = r
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix("[0x"))
            .and_then(|r| r.strip_suffix(']'))
        {
            return u8::from_str_radix(hex, 16).unwrap_or(0);
        }
    }
    fut::trailer::ERASED
}

/// The progress the status records in the primary trailer record.
fn progress(flash: &mut SliceFlash<'_>, l: &Layout, report: &FlashReport, algo: Algo) -> Option<SwapProgress> {
    let primary = l.primary;
    let size = l.trailer_size();
    if !flash.covers(primary.end() - size, size) {
        return None;
    }
    let swap_size = report
        .slot(Slot::Primary.name())
        .and_then(|s| s.trailer.as_ref())
        .and_then(|t| t.swap_size);
    let max = match algo {
        Algo::Move => swap_move::max_image_size(l),
        Algo::Offset => swap_offset::max_image_size(l),
    };
    let regions = swap_size
        .filter(|s| *s > 0 && s.is_multiple_of(l.sector_size) && *s <= max)
        .map(|s| s / l.sector_size);
    let capacity = l.sectors_per_slot();
    let mut records = Vec::new();
    let moves = (1..=capacity).filter(|_| algo == Algo::Move).map(Step::Move);
    let swaps = (1..=capacity).flat_map(|i| [Step::Swap(i, 1), Step::Swap(i, 2)]);
    for step in moves.chain(swaps) {
        let addr = status::addr_of(algo, l, primary, step);
        if fut::trailer::status_written(flash, addr).ok()? {
            let value = flash.get(addr, 1).map_or(0xff, |b| b[0]);
            let name = match step {
                Step::Move(i) => format!("move {i}"),
                Step::Swap(i, s) => format!("swap {i}.{s}"),
            };
            records.push(if value == status::value(step) {
                name
            } else {
                format!("{name}[0x{value:02x}]")
            });
        }
    }
    let n = regions.unwrap_or(capacity.saturating_sub(1).max(1));
    let last = status::last_of(flash, algo, l, primary, n).ok()?;
    let (moved, swapped) = status::counts(last, n);
    let moved = if algo == Algo::Move { moved } else { 0 };
    let of = regions.map_or_else(|| "?".to_string(), |r| r.to_string());
    Some(SwapProgress {
        regions,
        moved,
        swapped,
        summary: match algo {
            Algo::Move => format!("move: {moved}/{of} sectors, swap: {swapped}/{of}"),
            Algo::Offset => format!("swap: {swapped}/{of} sectors"),
        },
        records,
    })
}
