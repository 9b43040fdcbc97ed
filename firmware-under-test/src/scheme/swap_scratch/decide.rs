//! Reads the trailers and says what this boot must do (MCUboot's decision table, plus
//! resuming an interrupted swap from its status records).

use super::journal::{self, SwapState};
use crate::boot::BootConfig;
use crate::hal::Flash;
use crate::trailer::{self, Flag, Magic, SwapType};
use crate::variant::Variant;
use crate::FwError;

/// What the bootloader has to do before it boots the primary slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// A swap was cut (copy_done not set, or torn while being set); `last` is the last
    /// completed (region, step), if any.
    Resume {
        kind: SwapType,
        swap_size: u32,
        last: Option<(u32, u32)>,
    },
    /// A revert was cut while the primary trailer was being rewritten; the scratch journal has it.
    ResumeRevertInit {
        swap_size: u32,
    },
    /// A swap was cut while its primary trailer was rewritten; the rewrite journal has it.
    ResumeFromJournal(SwapState),
    /// The secondary slot requests an upgrade.
    Upgrade {
        kind: SwapType,
    },
    /// The running image was on test and did not confirm.
    Revert,
}

pub fn decide<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig) -> Result<Action, FwError> {
    let primary = trailer::read(flash, cfg.layout.trailer_geom(), cfg.layout.primary)?;
    if primary.magic == Magic::Good && primary.copy_done != Flag::Set {
        if let Some(action) = resume(flash, cfg, &primary)? {
            return Ok(action);
        }
    }
    if primary.magic != Magic::Good && cfg.variant != Variant::TornMagicRevert {
        let journal = trailer::read(flash, cfg.layout.trailer_geom(), cfg.layout.scratch)?;
        if journal.magic == Magic::Good
            && journal.swap_type() == Some(SwapType::Revert)
            && size_ok(cfg, journal.swap_size)
        {
            return Ok(Action::ResumeRevertInit {
                swap_size: journal.swap_size,
            });
        }
    }
    if primary.magic != Magic::Good {
        if let Some(st) = journal::read(flash, cfg)? {
            return Ok(Action::ResumeFromJournal(st));
        }
    }
    let secondary = trailer::read(flash, cfg.layout.trailer_geom(), cfg.layout.secondary)?;
    if secondary.magic == Magic::Good {
        let kind = if secondary.image_ok == Flag::Set {
            SwapType::Perm
        } else {
            SwapType::Test
        };
        return Ok(Action::Upgrade { kind });
    }
    if primary.magic == Magic::Good && primary.image_ok == Flag::Unset && primary.copy_done == Flag::Set {
        return Ok(Action::Revert);
    }
    Ok(Action::Nothing)
}

fn size_ok(cfg: &BootConfig, size: u32) -> bool {
    size > 0 && size.is_multiple_of(cfg.layout.sector_size) && size <= cfg.layout.max_image_size()
}

fn resume<F: Flash + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    primary: &trailer::Trailer,
) -> Result<Option<Action>, FwError> {
    let kind = match primary.swap_type() {
        Some(k @ (SwapType::Test | SwapType::Perm | SwapType::Revert)) => k,
        _ => return Ok(None),
    };
    if !size_ok(cfg, primary.swap_size) {
        return Ok(None);
    }
    let regions = primary.swap_size / cfg.layout.sector_size;
    let last = match cfg.variant {
        Variant::NoSwapStatus => None,
        Variant::ScratchEraseForward => scratch_marker_progress(flash, cfg, regions)?,
        _ => trailer::last_status(flash, &cfg.layout, cfg.layout.primary, regions)?,
    };
    Ok(Some(Action::Resume {
        kind,
        swap_size: primary.swap_size,
        last,
    }))
}

/// The scratch-marker variant records step 1 in a marker at the top of the scratch area,
/// step 2 in the primary status, and step 3 only implicitly (by the next marker).
fn scratch_marker_progress<F: Flash + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    regions: u32,
) -> Result<Option<(u32, u32)>, FwError> {
    let status = trailer::last_status(flash, &cfg.layout, cfg.layout.primary, regions)?;
    let marker = super::swap::read_scratch_marker(flash, cfg)?.filter(|m| *m >= 1 && *m <= regions);
    Ok(match (marker, status) {
        (Some(m), Some((k, _))) if m == k => Some((k, 2)),
        (Some(m), _) => Some((m, 1)),
        (None, Some((k, _))) => Some((k, 3)),
        (None, None) => None,
    })
}
