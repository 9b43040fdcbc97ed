//! Swap using a scratch area, one sector-sized region at a time from the top of the slots,
//! with a status record after each of the three copy steps so a cut can resume.

use super::affirm::{affirm, rewrite, SWAP_FIELDS};
use super::journal::SwapState;
use crate::boot::{ops, BootConfig};
use crate::hal::{Console, Flash, FlashError, Hal, RestState};
use crate::image;
use crate::layout::{Area, Slot};
use crate::trailer::{self, Field, Fields, SwapType};
use crate::variant::Variant;
use crate::{say, FwError};

/// Marker the scratch-marker variant writes at the top of the scratch area (`CPSM`, then the
/// region as a little-endian u32, in the last 16 bytes).
pub const SCRATCH_MARKER: [u8; 4] = *b"CPSM";

/// Starts a new swap of `kind`.
pub fn start<H: Hal + ?Sized>(hal: &mut H, cfg: &BootConfig, kind: SwapType) -> Result<(), FwError> {
    let swap_size = swap_size(hal, cfg)?;
    say!(
        hal,
        "boot: swap-start type={} size={} regions={}",
        kind.name(),
        swap_size,
        swap_size / cfg.layout.sector_size
    );
    if kind == SwapType::Revert && cfg.variant != Variant::TornMagicRevert {
        write_revert_journal(hal, cfg, swap_size)?;
    }
    init_primary(hal, cfg, kind, swap_size)?;
    affirm(hal, cfg, &SwapState::running(kind, swap_size, None), SWAP_FIELDS)?;
    run(hal, cfg, kind, swap_size, None, Then::Boot)
}

/// Bytes to swap: the larger image, rounded up to whole sectors.
fn swap_size<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig) -> Result<u32, FwError> {
    let mut size = 0;
    for slot in [cfg.layout.primary, cfg.layout.secondary] {
        match image::total_size(flash, slot) {
            Ok(n) => size = size.max(n),
            Err(image::ImageError::Flash(e)) if !matches!(e, FlashError::Uncorrectable { .. }) => return Err(e.into()),
            Err(_) => {}
        }
    }
    let s = cfg.layout.sector_size;
    Ok(size
        .div_ceil(s)
        .max(1)
        .saturating_mul(s)
        .min(cfg.layout.max_image_size()))
}

/// Records an upcoming revert in the scratch area before the primary trailer, which holds the
/// revert request, is erased.
fn write_revert_journal<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig, swap_size: u32) -> Result<(), FwError> {
    let scratch = cfg.layout.scratch;
    ops::erase_backwards(flash, scratch, cfg.layout.sector_size)?;
    trailer::write_swap_size(flash, cfg.layout.trailer_geom(), scratch, swap_size)?;
    trailer::write_swap_info(flash, cfg.layout.trailer_geom(), scratch, SwapType::Revert)?;
    trailer::write_magic(flash, cfg.layout.trailer_geom(), scratch)?;
    Ok(())
}

/// Rewrites the primary trailer for a swap in progress: size, type, then the magic last.
pub fn init_primary<F: Flash + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    kind: SwapType,
    swap_size: u32,
) -> Result<(), FwError> {
    let primary = cfg.layout.primary;
    ops::erase_trailer(flash, cfg, Slot::Primary)?;
    trailer::write_swap_size(flash, cfg.layout.trailer_geom(), primary, swap_size)?;
    trailer::write_swap_info(flash, cfg.layout.trailer_geom(), primary, kind)?;
    trailer::write_magic(flash, cfg.layout.trailer_geom(), primary)?;
    Ok(())
}

/// What the boot does once the swap is done, after [`run`] returns: part of the swap's rest
/// points (see [`crate::hal::Progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Returns to the bootloader, which picks and validates the slot to boot.
    Boot,
    /// Checks the primary slot with the stale header first (the stale-header-after-resume
    /// build after a resumed swap), then returns.
    StaleHeaderCheck,
}

/// Runs (or resumes after `last`) the region copies, then finishes the swap; `then` says what
/// the caller does after.
pub fn run<H: Hal + ?Sized>(
    hal: &mut H,
    cfg: &BootConfig,
    kind: SwapType,
    swap_size: u32,
    last: Option<(u32, u32)>,
    then: Then,
) -> Result<(), FwError> {
    let regions = swap_size / cfg.layout.sector_size;
    let stale_request = cfg.variant == Variant::StaleSwapRequest;
    if last.is_none() && kind != SwapType::Revert && !stale_request {
        // Consume the request so a finished swap is never started again.
        ops::erase_trailer(hal, cfg, Slot::Secondary)?;
    }
    for idx in 1..=regions {
        if last.is_none_or(|(done, _)| idx > done) {
            // Nothing of this region is done: what follows is decided by the flash, the swap's
            // parameters and this region's number.
            RestState::new(b"swap-scratch")
                .bytes(&[kind.code(), then as u8])
                .word(swap_size)
                .word(idx)
                .tell(hal);
        }
        let mut worked = false;
        for state in 1..=3 {
            if last.is_some_and(|done| (idx, state) <= done) {
                continue;
            }
            step(hal, cfg, kind, regions, idx, state)?;
            worked = true;
        }
        if worked {
            say!(
                hal,
                "boot: swap-progress type={} region={} of={}",
                kind.name(),
                idx,
                regions
            );
        }
    }
    finish(hal, cfg, kind, swap_size)?;
    say!(hal, "boot: swap-done type={}", kind.name());
    if stale_request && kind != SwapType::Revert {
        // The broken variant clears the request only now, after the swap reported done.
        ops::erase_trailer(hal, cfg, Slot::Secondary)?;
    }
    Ok(())
}

fn sector_area(slot: Area, sector: u32, n: u32) -> u32 {
    slot.offset + n * sector
}

fn step<F: Flash + Console + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    kind: SwapType,
    regions: u32,
    idx: u32,
    state: u32,
) -> Result<(), FwError> {
    let l = &cfg.layout;
    let sec = l.sector_size;
    let n = regions - idx;
    let p = sector_area(l.primary, sec, n);
    let q = sector_area(l.secondary, sec, n);
    let sc = l.scratch.offset;
    match state {
        1 => {
            erase_scratch(flash, cfg)?;
            ops::copy(flash, q, sc, sec)?;
            if cfg.variant == Variant::ScratchEraseForward {
                write_scratch_marker(flash, cfg, idx)?;
                return Ok(());
            }
        }
        2 => {
            flash.erase(q, sec)?;
            if cfg.variant == Variant::StatusBeforeCopy {
                // The broken variant records the step before the copy it describes.
                record(flash, cfg, &SwapState::running(kind, regions * sec, Some((idx, state))))?;
                ops::copy(flash, p, q, sec)?;
                return Ok(());
            }
            ops::copy(flash, p, q, sec)?;
        }
        _ => {
            flash.erase(p, sec)?;
            ops::copy(flash, sc, p, sec)?;
            if cfg.variant == Variant::ScratchEraseForward {
                return Ok(());
            }
        }
    }
    let st = SwapState::running(kind, regions * sec, Some((idx, state)));
    record(flash, cfg, &st)
}

fn erase_scratch<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig) -> Result<(), FlashError> {
    let scratch = cfg.layout.scratch;
    if cfg.variant == Variant::ScratchEraseForward {
        flash.erase(scratch.offset, scratch.size)
    } else {
        ops::erase_backwards(flash, scratch, cfg.layout.sector_size)
    }
}

/// Records that the step `st.last` names is complete. A status record the part will not
/// program again (a cut tore it twice, and the nRF52840 allows two programs of a word) is
/// written into a rewritten trailer instead.
fn record<F: Flash + Console + ?Sized>(flash: &mut F, cfg: &BootConfig, st: &SwapState) -> Result<(), FwError> {
    let Some((idx, state)) = st.last else {
        return Ok(());
    };
    match cfg.variant {
        Variant::NoSwapStatus => Ok(()),
        Variant::SingleSectorMetadata => rewrite_single_record(flash, cfg, idx, state),
        _ => match trailer::write_status(flash, &cfg.layout, cfg.layout.primary, idx, state) {
            Ok(()) => Ok(()),
            Err(FlashError::ProgramRefused { .. }) => rewrite(flash, cfg, st, "status"),
            Err(e) => Err(e.into()),
        },
    }
}

/// The single-record variant: read the metadata, erase its sector, write it back with the new
/// progress. The erase-to-write gap loses everything.
fn rewrite_single_record<F: Flash + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    idx: u32,
    state: u32,
) -> Result<(), FwError> {
    let primary = cfg.layout.primary;
    let t = trailer::read(flash, cfg.layout.trailer_geom(), primary)?;
    let kind = t.swap_type().unwrap_or(SwapType::Test);
    ops::erase_trailer(flash, cfg, Slot::Primary)?;
    trailer::write_swap_size(flash, cfg.layout.trailer_geom(), primary, t.swap_size)?;
    trailer::write_swap_info(flash, cfg.layout.trailer_geom(), primary, kind)?;
    trailer::write_status(flash, &cfg.layout, primary, idx, state)?;
    trailer::write_magic(flash, cfg.layout.trailer_geom(), primary)?;
    Ok(())
}

fn write_scratch_marker<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig, idx: u32) -> Result<(), FwError> {
    let mut m = [0xffu8; 16];
    m[..4].copy_from_slice(&SCRATCH_MARKER);
    m[4..8].copy_from_slice(&idx.to_le_bytes());
    flash.write(cfg.layout.scratch.end() - 16, &m)?;
    Ok(())
}

/// The region named by the scratch marker, if a whole marker is there.
pub fn read_scratch_marker<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig) -> Result<Option<u32>, FwError> {
    let mut m = [0u8; 16];
    match flash.read(cfg.layout.scratch.end() - 16, &mut m) {
        Ok(()) => {}
        Err(FlashError::Uncorrectable { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    if m[..4] != SCRATCH_MARKER {
        return Ok(None);
    }
    Ok(Some(u32::from_le_bytes([m[4], m[5], m[6], m[7]])))
}

/// Marks the swap complete: image_ok first (for permanent swaps and reverts), then copy_done,
/// then a clean scratch area. Each flag must read set on every read before the next step: a
/// torn flag is programmed again, or the trailer rewritten (see `affirm.rs`).
fn finish<F: Flash + Console + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    kind: SwapType,
    swap_size: u32,
) -> Result<(), FwError> {
    let mut st = SwapState::running(kind, swap_size, Some((swap_size / cfg.layout.sector_size, 3)));
    if kind != SwapType::Test {
        st.image_ok = true;
        affirm(flash, cfg, &st, Fields::of(&[Field::ImageOk]))?;
    }
    st.copy_done = true;
    affirm(flash, cfg, &st, Fields::of(&[Field::CopyDone]))?;
    ops::erase_backwards(flash, cfg.layout.scratch, cfg.layout.sector_size)?;
    Ok(())
}
