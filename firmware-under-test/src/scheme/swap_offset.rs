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
use super::swap_move::NoScratch;
use crate::boot::ops;
use crate::hal::{Flash, FlashError};
use crate::layout::{Area, Layout, LayoutError, STATUS_STATES};
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
/// and room for an image.
pub fn check_layout(l: &Layout) -> Result<(), LayoutError> {
    let s = l.sector_size;
    let areas = [l.bootloader, l.primary, l.secondary];
    if l.write_size > crate::trailer::MAX_ALIGN {
        return Err(LayoutError::WriteTooWide);
    }
    if s == 0
        || l.write_size == 0
        || areas
            .iter()
            .any(|a| !a.offset.is_multiple_of(s) || !a.size.is_multiple_of(s))
    {
        return Err(LayoutError::NotSectorAligned);
    }
    let records = u64::from(l.sectors_per_slot()) * u64::from(STATUS_STATES) * u64::from(l.write_size);
    if areas.iter().any(|a| a.offset.checked_add(a.size).is_none()) || records > u64::from(u32::MAX / 2) {
        return Err(LayoutError::TrailerTooLarge);
    }
    let mut all = [l.bootloader, l.primary, l.secondary, l.scratch];
    if l.scratch.size == 0 {
        all[3] = l.bootloader;
    }
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            if a != b && a.size > 0 && b.size > 0 && a.offset < b.end() && b.offset < a.end() {
                return Err(LayoutError::Overlap);
            }
        }
    }
    let (np, ns) = (l.primary.size / s, l.secondary.size / s);
    if ns != np && ns != np + 1 {
        return Err(LayoutError::SlotsDiffer);
    }
    if max_image_size(l) == 0 {
        return Err(LayoutError::TrailerTooLarge);
    }
    Ok(())
}

/// The largest image swap-offset can install (MCUboot's `app_max_size`): the primary less its
/// trailer sectors, and no more than the secondary less its first sector and its trailer.
pub fn max_image_size(l: &Layout) -> u32 {
    let s = l.sector_size;
    if s == 0 {
        return 0;
    }
    let t = l.trailer_sectors();
    let pri = (l.primary.size / s).saturating_sub(t);
    let sec = (l.secondary.size / s).saturating_sub(1).saturating_sub(t);
    pri.min(sec).saturating_mul(s)
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
pub(super) fn header_places(
    pri: Area,
    sec: Area,
    kind: SwapType,
    regions: u32,
    last: Option<Step>,
) -> [(Area, u32); 2] {
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
    fn a_revert_mirrors_the_swap() {
        // Forward: the update one sector in goes down a sector; revert: back up a sector.
        let pri = Area { offset: 0, size: 64 };
        let sec = Area { offset: 64, size: 64 };
        assert_eq!(header_places(pri, sec, SwapType::Test, 4, None), [(sec, 1), (pri, 0)]);
        assert_eq!(
            header_places(pri, sec, SwapType::Test, 4, Some(Step::Swap(1, 2))),
            [(pri, 0), (sec, 0)]
        );
        assert_eq!(
            header_places(pri, sec, SwapType::Revert, 4, Some(Step::Swap(3, 2))),
            [(sec, 0), (pri, 0)]
        );
        assert_eq!(
            header_places(pri, sec, SwapType::Revert, 4, Some(Step::Swap(4, 2))),
            [(pri, 0), (sec, 1)]
        );
    }
}
