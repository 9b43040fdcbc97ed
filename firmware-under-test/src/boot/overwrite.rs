//! Overwrite-only upgrade: copy the secondary image over the primary, sector by sector.
//! The request stays in the secondary trailer until the copy is complete, so a cut restarts
//! the copy from an intact source.

use super::{ops, BootConfig};
use crate::hal::{Flash, Hal};
use crate::image;
use crate::layout::Slot;
use crate::trailer::{self, SwapType};
use crate::variant::Variant;
use crate::{say, FwError};

pub fn run<H: Hal + ?Sized>(hal: &mut H, cfg: &BootConfig) -> Result<(), FwError> {
    let l = cfg.layout;
    let total = match image::total_size(hal, l.secondary) {
        Ok(n) => n.min(l.max_image_size()),
        Err(_) => l.max_image_size(),
    };
    let sectors = total.div_ceil(l.sector_size);
    say!(hal, "boot: overwrite-start size={} sectors={}", total, sectors);
    if cfg.variant == Variant::OverwriteNoRollback {
        ops::erase_trailer(hal, cfg, Slot::Secondary)?;
    }
    for n in 0..sectors {
        let off = n * l.sector_size;
        hal.erase(l.primary.offset + off, l.sector_size)?;
        ops::copy(hal, l.secondary.offset + off, l.primary.offset + off, l.sector_size)?;
        say!(hal, "boot: overwrite-progress sector={} of={}", n + 1, sectors);
    }
    mark_primary_permanent(hal, cfg)?;
    if cfg.variant != Variant::OverwriteNoRollback {
        ops::erase_trailer(hal, cfg, Slot::Secondary)?;
    }
    say!(hal, "boot: overwrite-done");
    Ok(())
}

fn mark_primary_permanent<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig) -> Result<(), FwError> {
    let primary = cfg.layout.primary;
    ops::erase_trailer(flash, cfg, Slot::Primary)?;
    trailer::write_swap_info(flash, primary, SwapType::Perm)?;
    trailer::write_image_ok(flash, primary)?;
    trailer::write_copy_done(flash, primary)?;
    trailer::write_magic(flash, primary)?;
    Ok(())
}
