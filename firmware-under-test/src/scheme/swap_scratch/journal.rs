//! The rewrite journal: a copy of a swap's state kept in the secondary slot's trailer sector
//! while the primary trailer sector is erased and written again from RAM.
//!
//! The primary trailer is the only record of a swap in progress (the request in the secondary
//! trailer is consumed when the swap starts), so erasing it unprotected would leave a
//! half-swapped slot and nothing saying so. During a swap the secondary trailer sector is free:
//! regions never include trailer sectors, and the request there has been erased. The journal
//! uses its own magic, so neither this bootloader nor an MCUboot tool reads it as a request.
//!
//! Order: journal (fields, then its magic), primary trailer (erase, fields, status records,
//! flags, magic last, checked), journal erased. A cut before the journal's magic leaves the old
//! primary trailer in charge; a cut after it resumes from the journal; a cut while the journal
//! is erased leaves a good primary trailer and a stale journal, dropped at the next boot.

use crate::boot::{ops, BootConfig};
use crate::hal::{Flash, FlashError};
use crate::layout::{Area, Slot};
use crate::trailer::{self, Field, Flag, Magic, SwapType, Trailer, ERASED};
use crate::FwError;

/// Magic of the journal (deliberately not MCUboot's: a journal is not an upgrade request).
pub const JOURNAL_MAGIC: [u8; 16] = *b"cp-swap-journal\x01";
/// The resume point (region u32, step u8) sits just below the fixed fields, in one field of
/// the trailer's alignment (at `end - 56` with the default alignment of 8).
///
/// Where the resume point sits back from the end of an area of layout `l`.
pub const fn resume_from_end(l: &crate::layout::Layout) -> u32 {
    let g = l.trailer_geom();
    g.info_size() + g.align()
}

/// What the primary trailer must say for a swap, kept in RAM while the swap runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwapState {
    pub kind: SwapType,
    pub swap_size: u32,
    /// Last completed (region, step), if any.
    pub last: Option<(u32, u32)>,
    pub copy_done: bool,
    pub image_ok: bool,
}

impl SwapState {
    /// A swap in progress (no flag set yet).
    pub const fn running(kind: SwapType, swap_size: u32, last: Option<(u32, u32)>) -> Self {
        SwapState {
            kind,
            swap_size,
            last,
            copy_done: false,
            image_ok: false,
        }
    }

    /// The fixed fields of the primary trailer in this state.
    pub fn trailer(&self) -> Trailer {
        let flag = |set: bool| if set { Flag::Set } else { Flag::Unset };
        Trailer {
            magic: Magic::Good,
            image_ok: flag(self.image_ok),
            copy_done: flag(self.copy_done),
            swap_info: self.kind.code(),
            swap_size: self.swap_size,
        }
    }
}

fn journal_area(cfg: &BootConfig) -> Area {
    cfg.layout.secondary
}

/// The journal's state, when a whole journal is in the secondary trailer.
pub fn read<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig) -> Result<Option<SwapState>, FwError> {
    let area = journal_area(cfg);
    let r = trailer::read_settled(flash, cfg.layout.trailer_geom(), area)?;
    if r.field_bytes(Field::Magic) != JOURNAL_MAGIC {
        return Ok(None);
    }
    let t = r.trailer;
    let (Some(kind), true) = (t.swap_type(), size_ok(cfg, t.swap_size)) else {
        return Ok(None);
    };
    let mut p = [ERASED; 8];
    read_steady(flash, area.end() - resume_from_end(&cfg.layout), &mut p)?;
    let last = match (u32::from_le_bytes([p[0], p[1], p[2], p[3]]), p[4]) {
        (u32::MAX, ERASED) => None,
        (idx, state) if idx >= 1 && idx <= t.swap_size / cfg.layout.sector_size && (1..=3).contains(&state) => {
            Some((idx, u32::from(state)))
        }
        _ => return Ok(None),
    };
    Ok(Some(SwapState {
        kind,
        swap_size: t.swap_size,
        last,
        copy_done: t.copy_done == Flag::Set,
        image_ok: t.image_ok == Flag::Set,
    }))
}

fn size_ok(cfg: &BootConfig, size: u32) -> bool {
    size > 0 && size.is_multiple_of(cfg.layout.sector_size) && size <= cfg.layout.max_image_size()
}

/// Reads `buf` [`trailer::SETTLE_READS`] times, keeping every 0 seen (an uncorrectable read
/// counts as garbage).
fn read_steady<F: Flash + ?Sized>(flash: &mut F, addr: u32, buf: &mut [u8]) -> Result<(), FwError> {
    let mut b = [0u8; 8];
    let n = buf.len().min(b.len());
    buf[..n].fill(ERASED);
    for _ in 0..trailer::SETTLE_READS {
        match flash.read(addr, &mut b[..n]) {
            Ok(()) => {}
            Err(FlashError::Uncorrectable { .. }) => b[..n].fill(0x5a),
            Err(e) => return Err(e.into()),
        }
        for (acc, x) in buf[..n].iter_mut().zip(b.iter()) {
            *acc &= *x;
        }
    }
    Ok(())
}

/// Rewrites the primary trailer sector from `st` under the protection of the journal.
pub fn rewrite<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig, st: &SwapState) -> Result<(), FwError> {
    let area = journal_area(cfg);
    let trailer_area = ops::trailer_area(&cfg.layout, Slot::Secondary);
    if !ops::is_blank(flash, trailer_area)? {
        ops::erase_trailer(flash, cfg, Slot::Secondary)?;
    }
    trailer::write_swap_size(flash, cfg.layout.trailer_geom(), area, st.swap_size)?;
    trailer::write_swap_info(flash, cfg.layout.trailer_geom(), area, st.kind)?;
    if let Some((idx, state)) = st.last {
        let mut p = [ERASED; trailer::MAX_ALIGN as usize];
        p[..4].copy_from_slice(&idx.to_le_bytes());
        p[4] = state as u8;
        let g = cfg.layout.trailer_geom();
        flash.write(area.end() - resume_from_end(&cfg.layout), &p[..g.align() as usize])?;
    }
    if st.copy_done {
        trailer::write_copy_done(flash, cfg.layout.trailer_geom(), area)?;
    }
    if st.image_ok {
        trailer::write_image_ok(flash, cfg.layout.trailer_geom(), area)?;
    }
    trailer::write_magic_bytes(flash, cfg.layout.trailer_geom(), area, &JOURNAL_MAGIC)?;
    if read(flash, cfg)? != Some(*st) {
        // The sector would not hold the journal; the old primary trailer is still in charge.
        return Err(FwError::Flash(FlashError::Device));
    }
    restore(flash, cfg, st)
}

/// Writes the primary trailer from `st` (the journal holds it), checks that every field and
/// the last status record read steadily, then drops the journal.
pub fn restore<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig, st: &SwapState) -> Result<(), FwError> {
    let primary = cfg.layout.primary;
    ops::erase_trailer(flash, cfg, Slot::Primary)?;
    trailer::write_swap_size(flash, cfg.layout.trailer_geom(), primary, st.swap_size)?;
    trailer::write_swap_info(flash, cfg.layout.trailer_geom(), primary, st.kind)?;
    if let Some(last) = st.last {
        for idx in 1..=last.0 {
            for state in 1..=3 {
                if (idx, state) <= last {
                    trailer::write_status(flash, &cfg.layout, primary, idx, state)?;
                }
            }
        }
    }
    if st.image_ok {
        trailer::write_image_ok(flash, cfg.layout.trailer_geom(), primary)?;
    }
    if st.copy_done {
        trailer::write_copy_done(flash, cfg.layout.trailer_geom(), primary)?;
    }
    trailer::write_magic(flash, cfg.layout.trailer_geom(), primary)?;
    let r = trailer::read_settled(flash, cfg.layout.trailer_geom(), primary)?;
    let want = st.trailer();
    let wrong = Field::ALL
        .into_iter()
        .any(|f| !r.steady(f) || !trailer::field_matches(&r.trailer, &want, f));
    if wrong || !last_status_steady(flash, cfg, st.last)? {
        // Keep the journal: the next boot restores again.
        return Err(FwError::Flash(FlashError::Device));
    }
    drop_stale(flash, cfg)
}

/// Whether the last completed status record reads written on every read.
pub fn last_status_steady<F: Flash + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    last: Option<(u32, u32)>,
) -> Result<bool, FwError> {
    let Some((idx, state)) = last else {
        return Ok(true);
    };
    let addr = trailer::status_addr(&cfg.layout, cfg.layout.primary, idx, state);
    Ok(trailer::status_steady(flash, addr)? && trailer::status_written(flash, addr)?)
}

/// Erases a journal left in the secondary trailer once the primary trailer is in charge.
pub fn drop_stale<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig) -> Result<(), FwError> {
    let r = trailer::read_settled(flash, cfg.layout.trailer_geom(), journal_area(cfg))?;
    if r.field_bytes(Field::Magic) == JOURNAL_MAGIC {
        ops::erase_trailer(flash, cfg, Slot::Secondary)?;
    }
    Ok(())
}
