//! Swap using offset (MCUboot's swap-offset, `MCUBOOT_SWAP_USING_OFFSET`): no scratch area and
//! no move stage. The update is written one sector into the secondary slot; the swap then goes
//! sector by sector from the bottom: primary sector `i` into secondary sector `i`, then
//! secondary sector `i + 1` into primary sector `i`. A revert runs the mirror image from the top
//! down (primary sector `m` into secondary sector `m + 1`, secondary sector `m` into primary
//! sector `m`), which puts the update back one sector in, then erases the secondary's first
//! sector and trailer.
//!
//! Facts from MCUboot, read in its sources, not copied: `docs/design.md` ("Swap using offset",
//! "Swap status": two states per sector); `boot/bootutil/src/swap_offset.c` (`swap_run`,
//! `boot_swap_sectors`, `boot_swap_sectors_revert`, `fixup_revert`, `boot_read_image_header`,
//! `boot_slots_compatible`: the secondary has as many sectors as the primary or one more,
//! `app_max_size`). The decision, the trailers, the revert's request and the resume are
//! swap-move's (`super::swap_move`), which shares them with this scheme. Not modelled: MCUboot
//! also keeps the two images' unprotected TLV sizes in the trailer (used there to skip sectors
//! past the images), and sizes its status area for two states a sector, where this build keeps
//! the trailer sectors of three.

use super::swap_move::status::{Algo, Step};
use super::swap_move::{check_scratchless_layout, scratchless_max_image_size, NoScratch};
use crate::boot::ops;
use crate::hal::{Flash, FlashError};
use crate::layout::{Area, Layout, LayoutError, Slot};
use crate::trailer::SwapType;
use crate::FwError;

/// The scheme's name (a campaign's `mode`).
pub const NAME: &str = "swap-offset";

/// Swap using offset: the scheme type it shares with swap-move (`swap_move::NoScratch`).
pub const SWAP_OFFSET: NoScratch = NoScratch::new(Algo::Offset);

/// Where an update is written: the secondary slot from its second sector on.
pub fn staging(l: &Layout) -> Area {
    let s = l.sector_size.min(l.secondary.size);
    Area {
        offset: l.secondary.offset + s,
        size: l.secondary.size - s,
    }
}

/// Whether `l` fits swap-offset (MCUboot's `boot_slots_compatible`): slots of whole, equal
/// sectors apart from each other, the secondary with as many sectors as the primary or one more,
/// and room for an image (the checks swap-move makes, with the spare sector in the secondary:
/// [`check_scratchless_layout`]).
pub fn check_layout(l: &Layout) -> Result<(), LayoutError> {
    check_scratchless_layout(l, Slot::Secondary)
}

/// The largest image swap-offset can install (MCUboot's `app_max_size`): the primary less its
/// trailer sectors, and no more than the secondary less its first sector and its trailer.
pub fn max_image_size(l: &Layout) -> u32 {
    scratchless_max_image_size(l, Slot::Secondary)
}

/// One step of a swap (`Swap(i, 1)`, `Swap(i, 2)` for the `i`-th sector handled).
pub(super) fn do_step<F: Flash + ?Sized>(
    flash: &mut F,
    l: &Layout,
    kind: SwapType,
    regions: u32,
    step: Step,
) -> Result<(), FlashError> {
    let s = l.sector_size;
    let (pri, sec) = (l.primary.offset, l.secondary.offset);
    let Step::Swap(i, st) = step else {
        return Ok(());
    };
    let (src, dst) = if kind == SwapType::Revert {
        // From the top down: sector m of the primary back one sector into the secondary, then
        // the old image's sector m into the primary.
        let m = regions - i;
        match st {
            1 => (pri + m * s, sec + (m + 1) * s),
            _ => (sec + m * s, pri + m * s),
        }
    } else {
        let x = i - 1;
        match st {
            1 => (pri + x * s, sec + x * s),
            _ => (sec + (x + 1) * s, pri + x * s),
        }
    };
    flash.erase(dst, s)?;
    ops::copy(flash, src, dst, s)
}

/// A revert done: the secondary's first sector (which held the old image's header) and its
/// trailer are erased, as MCUboot's `swap_run` does, so neither is taken for an image or a
/// request.
pub(super) fn after_revert<F: Flash + ?Sized>(flash: &mut F, l: &Layout) -> Result<(), FwError> {
    flash.erase(l.secondary.offset, l.sector_size)?;
    ops::erase_trailer_of(flash, l, crate::layout::Slot::Secondary)?;
    Ok(())
}

/// Where the header of the image being installed and of the image being moved out are once
/// `last` is complete (MCUboot's `boot_read_image_header` with a swap status): `(slot,
/// sector)` pairs.
///
/// `last_index_lost`: the stale-header-after-move build (FIELD-BUGS row 4, MCUboot #1588: the
/// index of the swap's last sector kept in a global that a reset loses, fixed in swap-move by
/// commit 74530753, PR #1597). Swap-offset has no move stage, but MCUboot's swap_offset.c
/// `boot_read_image_header` needs that index too: a swap resumed past its last sector reads
/// the headers elsewhere. Forwards the index only bounds the test `idx <= last_idx`, which a
/// lost index (`UINT32_MAX`, the global's value at reset) still answers right for every step
/// of an unfinished swap: no window. A revert asks whether its last step (sector 0) has begun:
/// with the index lost it never has, so once that step's first half has moved the primary's
/// first sector up into the secondary's second, the header of the image moved out is looked
/// for in the primary's first sector, which the second half erases; and once the step is done,
/// the header of the image brought back in the secondary's first sector, which the end of the
/// revert erases. A cut there leaves a revert that never resumes: a brick.
pub(super) fn header_places(
    pri: Area,
    sec: Area,
    kind: SwapType,
    regions: u32,
    last: Option<Step>,
    last_index_lost: bool,
) -> [(Area, u32); 2] {
    if kind == SwapType::Revert && last_index_lost {
        return [(sec, 0), (pri, 0)];
    }
    if kind == SwapType::Revert {
        // Sector 0 is the last one handled.
        let incoming = match last {
            Some(Step::Swap(i, 2)) if i == regions => (pri, 0),
            _ => (sec, 0),
        };
        let outgoing = match last {
            Some(Step::Swap(i, _)) if i == regions => (sec, 1),
            _ => (pri, 0),
        };
        return [incoming, outgoing];
    }
    let incoming = match last {
        None | Some(Step::Swap(1, 1)) => (sec, 1),
        _ => (pri, 0),
    };
    let outgoing = match last {
        None => (pri, 0),
        _ => (sec, 0),
    };
    [incoming, outgoing]
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::scheme::swap_move::tests::layout;

    const K: u32 = 1024;

    #[test]
    fn the_secondary_keeps_a_sector_before_the_update() {
        let l = layout(192 * K, 192 * K);
        assert_eq!(check_layout(&l), Ok(()));
        assert_eq!(max_image_size(&l), 184 * K);
        assert_eq!(staging(&l).offset, l.secondary.offset + 4 * K);
        // MCUboot's optimal map: the secondary one sector larger.
        let l = layout(192 * K, 196 * K);
        assert_eq!(check_layout(&l), Ok(()));
        assert_eq!(max_image_size(&l), 188 * K);
        assert_eq!(check_layout(&layout(196 * K, 192 * K)), Err(LayoutError::SlotsDiffer));
        assert_eq!(check_layout(&layout(8 * K, 8 * K)), Err(LayoutError::TrailerTooLarge));
    }

    #[test]
    fn the_checks_swap_move_makes_refuse_the_same_maps_here() {
        // One check for both swaps without scratch: only the slot that may be a sector larger
        // differs.
        let mut odd = layout(192 * K, 192 * K);
        odd.secondary.offset += 1024;
        let mut overlap = layout(192 * K, 192 * K);
        overlap.secondary.offset = overlap.primary.offset + 4 * K;
        let mut wide = layout(192 * K, 192 * K);
        wide.write_size = 64;
        let mut scratch = layout(192 * K, 192 * K);
        scratch.scratch = Area {
            offset: scratch.secondary.end() + 1024,
            size: 4 * K,
        };
        for (l, e) in [
            (odd, LayoutError::NotSectorAligned),
            (overlap, LayoutError::Overlap),
            (wide, LayoutError::WriteTooWide),
            (scratch, LayoutError::NotSectorAligned),
        ] {
            assert_eq!(check_layout(&l), Err(e));
            assert_eq!(crate::scheme::swap_move::check_layout(&l), Err(e));
        }
        assert_eq!(check_layout(&layout(200 * K, 192 * K)), Err(LayoutError::SlotsDiffer));
        assert_eq!(check_layout(&layout(192 * K, 200 * K)), Err(LayoutError::SlotsDiffer));
    }

    #[test]
    fn a_revert_mirrors_the_swap() {
        // Forward: the update one sector in goes down a sector; revert: back up a sector.
        let pri = Area { offset: 0, size: 64 };
        let sec = Area { offset: 64, size: 64 };
        assert_eq!(
            header_places(pri, sec, SwapType::Test, 4, None, false),
            [(sec, 1), (pri, 0)]
        );
        assert_eq!(
            header_places(pri, sec, SwapType::Test, 4, Some(Step::Swap(1, 2)), false),
            [(pri, 0), (sec, 0)]
        );
        assert_eq!(
            header_places(pri, sec, SwapType::Revert, 4, Some(Step::Swap(3, 2)), false),
            [(sec, 0), (pri, 0)]
        );
        assert_eq!(
            header_places(pri, sec, SwapType::Revert, 4, Some(Step::Swap(4, 2)), false),
            [(pri, 0), (sec, 1)]
        );
        // A lost last index: the revert's last step is never taken for begun, forwards changes
        // nothing.
        for last in [
            None,
            Some(Step::Swap(1, 1)),
            Some(Step::Swap(1, 2)),
            Some(Step::Swap(3, 2)),
        ] {
            for kind in [SwapType::Test, SwapType::Perm] {
                assert_eq!(
                    header_places(pri, sec, kind, 4, last, true),
                    header_places(pri, sec, kind, 4, last, false)
                );
            }
        }
        assert_eq!(
            header_places(pri, sec, SwapType::Revert, 4, Some(Step::Swap(4, 1)), false),
            [(sec, 0), (sec, 1)]
        );
        assert_eq!(
            header_places(pri, sec, SwapType::Revert, 4, Some(Step::Swap(4, 1)), true),
            [(sec, 0), (pri, 0)]
        );
    }
}
