//! Trailer fields the bootloader relies on must read the same on every read.
//!
//! A cut while a trailer field is programmed can leave it weak: one read says the field is
//! written, the next says it is not. The swap decision is made once per boot from such reads,
//! so a weak primary magic turns every later boot into a coin flip: MCUboot's swap table
//! (`boot_swap_tables` in bootutil_public.c) reverts only on a GOOD primary magic with
//! image_ok UNSET and copy_done SET, and a BAD magic means no swap at all; its
//! `boot_set_confirmed_multi` refuses to confirm on a BAD primary magic (`BOOT_EBADVECT`), so
//! an application cannot repair it either. A resumed swap that ran on a magic that happened to
//! read good once therefore leaves an image that some later reset may revert, or (mid-swap)
//! a half-swapped slot that some later reset boots as is.
//!
//! Before a swap relies on its trailer (after writing it, and before resuming from it), the
//! bootloader reads the fields several times and, when one is unsteady or wrong, programs the
//! same value again: a completed program makes weak bits solid, and NOR parts without ECC allow
//! a second program of a word (the nRF52840: two between erases). Where the part refuses that
//! (ECC double-words on the STM32L4, or the program budget is spent), the trailer sector is
//! rewritten from RAM under the protection of the rewrite journal (`journal.rs`).

use super::journal::{self, SwapState};
use crate::boot::BootConfig;
use crate::hal::{Console, Flash, FlashError};
use crate::trailer::{self, Block, Field, Fields, Flag, Geom, Magic};
use crate::variant::Variant;
use crate::{say, FwError};

/// What a resumed swap relies on: magic, type and size (and the last status record).
pub const SWAP_FIELDS: Fields = Fields::of(&[Field::Magic, Field::SwapInfo, Field::SwapSize]);

/// Makes `fields` of the primary trailer, and the last status record of `st`, read `st`'s
/// values on every read.
pub fn affirm<F: Flash + Console + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    st: &SwapState,
    fields: Fields,
) -> Result<(), FwError> {
    let primary = cfg.layout.primary;
    let want = st.trailer();
    let want_bytes = trailer::encode(cfg.layout.trailer_geom(), &want);
    let status = keeps_status_records(cfg.variant);
    for attempt in 0..2 {
        let r = trailer::read_settled(flash, cfg.layout.trailer_geom(), primary)?;
        let mut wrong = Fields::NONE;
        for f in fields.iter() {
            if !r.steady(f) || !trailer::field_matches(&r.trailer, &want, f) {
                wrong.insert(f);
            }
        }
        let status_ok = !status || journal::last_status_steady(flash, cfg, st.last)?;
        if wrong.is_empty() && status_ok {
            return Ok(());
        }
        if attempt == 1 {
            break;
        }
        for f in wrong.iter() {
            // Programming only clears bits: a field with a 0 where it needs a 1 is beyond it.
            if !programmable(r.geom, &r.raw, &want_bytes, f) {
                return rewrite(flash, cfg, st, f.name());
            }
            if !r.field_bytes(f).iter().all(|&b| b == trailer::ERASED) {
                // Written before (a cut tore it, or it reads unsteadily): programmed again.
                say!(flash, "boot: trailer-reprogram slot=primary field={}", f.name());
            }
            match trailer::program_field(flash, cfg.layout.trailer_geom(), primary, f, &want) {
                Ok(()) => {}
                Err(FlashError::ProgramRefused { .. }) => return rewrite(flash, cfg, st, f.name()),
                Err(e) => return Err(e.into()),
            }
        }
        if let (false, Some((idx, state))) = (status_ok, st.last) {
            say!(flash, "boot: trailer-reprogram slot=primary field=status");
            match trailer::write_status(flash, &cfg.layout, primary, idx, state) {
                Ok(()) => {}
                Err(FlashError::ProgramRefused { .. }) => return rewrite(flash, cfg, st, "status"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    rewrite(flash, cfg, st, "unsteady")
}

/// A boot with nothing to do still makes a finished swap's copy_done steady. A cut while the
/// swap's last flag was programmed can leave it weak: this boot reads it set (a settled read
/// keeps every 0 it saw) and has nothing to resume, so nothing else would program it again,
/// and some later boot that misses the weak bit would take the finished swap for a cut one.
pub fn settle_finished<F: Flash + Console + ?Sized>(flash: &mut F, cfg: &BootConfig) -> Result<(), FwError> {
    let r = trailer::read_settled(flash, cfg.layout.trailer_geom(), cfg.layout.primary)?;
    let t = r.trailer;
    if t.magic != Magic::Good || t.copy_done != Flag::Set || r.steady(Field::CopyDone) {
        return Ok(());
    }
    let Some(kind) = t.swap_type() else {
        return Ok(());
    };
    let regions = t.swap_size / cfg.layout.sector_size.max(1);
    let mut st = SwapState::running(kind, t.swap_size, (regions > 0).then_some((regions, 3)));
    st.copy_done = true;
    st.image_ok = t.image_ok == Flag::Set;
    affirm(flash, cfg, &st, Fields::of(&[Field::CopyDone]))
}

/// Rewrites the primary trailer from `st` through the journal, because `why` would not read
/// steadily or could not be programmed again.
pub fn rewrite<F: Flash + Console + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    st: &SwapState,
    why: &str,
) -> Result<(), FwError> {
    say!(flash, "boot: trailer-rewrite slot=primary field={} via=journal", why);
    journal::rewrite(flash, cfg, st)
}

/// Whether programming `want` over `have` can give `want` for field `f`.
fn programmable(g: Geom, have: &Block, want: &Block, f: Field) -> bool {
    let at = g.field_offset(f);
    let range = at..at + g.size(f) as usize;
    have[range.clone()].iter().zip(&want[range]).all(|(h, w)| h & w == *w)
}

/// Whether the build records swap progress in the primary trailer's status records (the
/// variants without them keep their own, broken, bookkeeping).
fn keeps_status_records(v: Variant) -> bool {
    !matches!(
        v,
        Variant::NoSwapStatus | Variant::ScratchEraseForward | Variant::SingleSectorMetadata
    )
}
