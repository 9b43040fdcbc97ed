//! Overwrite-only upgrade: copy the secondary image over the primary, sector by sector.
//! The request stays in the secondary trailer until the copy is complete, so a cut restarts
//! the copy from an intact source. No test upgrades, no revert.

use super::{mcuboot, AppBoot, CommitPoint, Scheme, Upgrade};
use crate::app::AppConfig;
use crate::boot::{self, ops, BootConfig};
use crate::hal::{Flash, Hal};
use crate::image::{self, Version};
use crate::layout::{Layout, LayoutError, Role, Slot};
use crate::trailer::{self, Field, Magic, SwapType};
use crate::variant::Variant;
use crate::{say, FwError};

/// The scheme's name (a campaign's `mode`).
pub const NAME: &str = "overwrite";

/// Overwrite-only.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overwrite;

impl Scheme for Overwrite {
    fn name(&self) -> &'static str {
        NAME
    }

    fn can_revert(&self) -> bool {
        false
    }

    /// No scratch: MCUboot's overwrite-only copies slot to slot (a scratch region in the map
    /// is left alone).
    fn regions(&self) -> &'static [Role] {
        &[Role::Bootloader, Role::Primary, Role::Secondary]
    }

    /// The two slots: the copy goes from one to the other, nothing through the scratch region
    /// the map states (MCUboot's overwrite-only uses none).
    fn areas(&self, layout: &Layout, put: &mut dyn FnMut(&'static str, crate::layout::Area)) {
        super::slot_areas(layout, put);
    }

    /// The copy goes in groups of sectors, as MCUboot's overwrite-only pairs them.
    fn sector_rule(&self) -> crate::map::SectorRule {
        crate::map::SectorRule::Groups
    }

    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        layout.validate()
    }

    /// The copy's completion: the old image is gone, test or permanent alike.
    fn commit_point(&self, _upgrade: Upgrade) -> CommitPoint {
        CommitPoint::Installed
    }

    fn boot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
        // The primary trailer is read as the swap-scratch bootloader reads it (the same reads,
        // so the same virtual time), though nothing here resumes from it.
        let _primary = trailer::read(hal, cfg.layout.trailer_geom(), cfg.layout.primary)?;
        let secondary = trailer::read_settled(hal, cfg.layout.trailer_geom(), cfg.layout.secondary)?;
        if secondary.trailer.magic == Magic::Good {
            if boot::accept_request(hal, cfg)? {
                run(hal, cfg)?;
            }
        } else if !secondary.steady(Field::Magic) {
            // A cut erase of the trailer (after a copy) or a cut request left the magic weak:
            // no request is there now, and none may appear to a later boot that reads it
            // differently. The erase is finished.
            say!(hal, "boot: trailer-erase slot=secondary reason=unsteady-magic");
            ops::erase_trailer(hal, cfg, Slot::Secondary)?;
        }
        Ok(())
    }

    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        mcuboot::app_boot(hal, cfg)
    }

    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        mcuboot::confirm(hal, cfg, me)
    }

    fn upload_blocked(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<bool, FwError> {
        mcuboot::upload_blocked(hal, cfg)
    }

    fn prepare_download(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        mcuboot::prepare_download(hal, cfg)
    }

    fn downloaded_chunk(&self, hal: &mut dyn Hal, cfg: &AppConfig, offset: u32) -> Result<(), FwError> {
        mcuboot::downloaded_chunk(hal, cfg, offset)
    }

    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        mcuboot::request(hal, cfg)
    }
}

fn run(hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
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
    trailer::write_swap_info(flash, cfg.layout.trailer_geom(), primary, SwapType::Perm)?;
    trailer::write_image_ok(flash, cfg.layout.trailer_geom(), primary)?;
    trailer::write_copy_done(flash, cfg.layout.trailer_geom(), primary)?;
    trailer::write_magic(flash, cfg.layout.trailer_geom(), primary)?;
    Ok(())
}
