//! Swap-move's status records and progress, as MCUboot lays them out in the primary trailer.
//!
//! Facts from MCUboot (`boot/bootutil/src/swap_move.c`, `boot_status_internal_off` and
//! `swap_read_status_bytes`; `docs/design.md`, "Swap status"): the status area starts at the
//! same place as swap-scratch's (end of slot - (N * 3 * W + the fixed fields)), N being the
//! number of sectors the records can describe (`BOOT_MAX_IMG_SECTORS`; here the primary slot's
//! sector count). It holds N "move" records of one write unit each (one state per move), then
//! N "swap" records of two write units each (two states per sector swapped). Each record's
//! first byte is the state number (1 for a move, 1 or 2 for a swap step), the rest of the unit
//! erased. The last written record, in that order, is the last completed step.

use crate::hal::{Flash, FlashError};
use crate::layout::{Area, Layout};
use crate::trailer::{self, ERASED};

/// The two swaps without scratch that keep these records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    /// Swap using move: N move records (one state each), then N swap records (two states).
    Move,
    /// Swap using offset (MCUboot's `swap_offset.c`, `boot_status_internal_off`): N swap
    /// records of two states each and no move records; the status area is N * 2 * W plus the
    /// fixed fields (`docs/design.md`, "Swap status": 2 states per sector in this mode).
    Offset,
}

/// One step of a swap-move, in the order the swap does them. With `R` regions:
/// `Move(1)` moves primary sector `R - 1` up to `R`, ... `Move(R)` moves sector 0 up to 1;
/// `Swap(i, 1)` copies secondary sector `i - 1` into primary sector `i - 1`, `Swap(i, 2)` the
/// moved primary sector `i` into secondary sector `i - 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Move(u32),
    Swap(u32, u32),
}

impl Step {
    /// The first step of a swap-move.
    pub const fn first() -> Step {
        Step::Move(1)
    }

    /// The first step of a swap with `algo`.
    pub const fn first_of(algo: Algo) -> Step {
        match algo {
            Algo::Move => Step::Move(1),
            Algo::Offset => Step::Swap(1, 1),
        }
    }

    /// The step after this one, if any, in a swap of `regions` sectors.
    pub fn next(self, regions: u32) -> Option<Step> {
        match self {
            Step::Move(i) if i < regions => Some(Step::Move(i + 1)),
            Step::Move(_) => Some(Step::Swap(1, 1)),
            Step::Swap(i, 1) => Some(Step::Swap(i, 2)),
            Step::Swap(i, _) if i < regions => Some(Step::Swap(i + 1, 1)),
            Step::Swap(..) => None,
        }
    }

    /// How many steps are complete once this one is (moves first, then swap steps).
    pub fn ordinal(self, regions: u32) -> u32 {
        match self {
            Step::Move(i) => i,
            Step::Swap(i, s) => regions + (i - 1) * 2 + s,
        }
    }

    /// Moves and swapped sectors complete once this step is: `(moved, swapped)`.
    pub fn counts(self, regions: u32) -> (u32, u32) {
        match self {
            Step::Move(i) => (i, 0),
            Step::Swap(i, 1) => (regions, i - 1),
            Step::Swap(i, _) => (regions, i),
        }
    }
}

/// Counts of a swap's progress: `(moved, swapped)` sectors once `last` is complete.
pub fn counts(last: Option<Step>, regions: u32) -> (u32, u32) {
    last.map_or((0, 0), |s| s.counts(regions))
}

/// Address of the record of `step` in `slot`'s trailer, for `algo`.
pub fn addr_of(algo: Algo, layout: &Layout, slot: Area, step: Step) -> u32 {
    match algo {
        Algo::Move => addr(layout, slot, step),
        Algo::Offset => {
            let w = layout.status_record_size();
            let n = layout.sectors_per_slot();
            let base = slot.end() - (n * 2 * w + layout.trailer_info_size());
            match step {
                Step::Swap(i, s) => base + (i - 1) * 2 * w + (s - 1) * w,
                // Swap-offset has no move records.
                Step::Move(i) => base + (i - 1) * 2 * w,
            }
        }
    }
}

/// Address of the record of `step` in `slot`'s trailer (swap-move).
pub fn addr(layout: &Layout, slot: Area, step: Step) -> u32 {
    let w = layout.status_record_size();
    let n = layout.sectors_per_slot();
    let base = slot.end() - layout.trailer_size();
    match step {
        Step::Move(i) => base + (i - 1) * w,
        Step::Swap(i, s) => base + n * w + (i - 1) * 2 * w + (s - 1) * w,
    }
}

/// The state number MCUboot writes in a record's first byte.
pub const fn value(step: Step) -> u8 {
    match step {
        Step::Move(_) => 1,
        Step::Swap(_, s) => s as u8,
    }
}

/// Writes the record of `step` into `slot`'s trailer.
pub fn write<F: Flash + ?Sized>(
    flash: &mut F,
    algo: Algo,
    layout: &Layout,
    slot: Area,
    step: Step,
) -> Result<(), FlashError> {
    let mut b = [ERASED; 32];
    let w = (layout.status_record_size() as usize).min(b.len());
    b[0] = value(step);
    flash.write(addr_of(algo, layout, slot, step), &b[..w])
}

/// The last completed step recorded in `slot` for a swap of `regions` sectors: the last record
/// that reads written on any of the settled reads (a record whose program began was written
/// after its step completed).
pub fn last<F: Flash + ?Sized>(
    flash: &mut F,
    layout: &Layout,
    slot: Area,
    regions: u32,
) -> Result<Option<Step>, FlashError> {
    last_of(flash, Algo::Move, layout, slot, regions)
}

/// [`last`] for `algo`.
pub fn last_of<F: Flash + ?Sized>(
    flash: &mut F,
    algo: Algo,
    layout: &Layout,
    slot: Area,
    regions: u32,
) -> Result<Option<Step>, FlashError> {
    let regions = regions.min(layout.sectors_per_slot());
    if regions == 0 {
        return Ok(None);
    }
    let mut found = None;
    let mut step = Some(Step::first_of(algo));
    while let Some(s) = step {
        if trailer::status_written(flash, addr_of(algo, layout, slot, s))? {
            found = Some(s);
        }
        step = s.next(regions);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_moves_then_swaps_in_order() {
        let mut s = Some(Step::first());
        let mut n = 0;
        let mut prev = None;
        while let Some(x) = s {
            n += 1;
            assert_eq!(x.ordinal(3), n);
            assert!(prev < Some(x));
            prev = Some(x);
            s = x.next(3);
        }
        assert_eq!(n, 9);
        assert_eq!(Step::Move(2).counts(3), (2, 0));
        assert_eq!(Step::Swap(2, 1).counts(3), (3, 1));
        assert_eq!(Step::Swap(3, 2).counts(3), (3, 3));
    }
}
