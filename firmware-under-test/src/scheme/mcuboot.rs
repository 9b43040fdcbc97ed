//! What the application does with an MCUboot image trailer, shared by the schemes that keep
//! one (swap-scratch and overwrite): read whether the running image is confirmed, confirm it,
//! clear the secondary trailer before a download and raise the upgrade request.

use super::AppBoot;
use crate::app::AppConfig;
use crate::boot::ops;
use crate::hal::{Console, Flash, FlashError, Hal};
use crate::image::Version;
use crate::layout::Slot;
use crate::trailer::{self, Field, Flag, Magic, SwapType};
use crate::variant::Variant;
use crate::{say, FwError};

/// Reads the primary trailer: whether the image still has to confirm itself, and whether the
/// last swap was a revert.
pub fn app_boot(hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
    let mut reading = trailer::read_settled(hal, cfg.layout.trailer_geom(), cfg.layout.primary)?;
    if cfg.variant == Variant::ConfirmedOnOneRead {
        // This build looks at what the fields read, not at whether they read the same.
        reading.unsteady = trailer::Fields::NONE;
    }
    Ok(AppBoot {
        pending: !confirmed(&reading),
        reverted: reading.trailer.swap_type() == Some(SwapType::Revert),
        restart: false,
    })
}

/// Whether the running image is confirmed for good: image_ok reads set on every read, or the
/// slot has no trailer at all (an image flashed by a probe). Anything else (a good magic
/// without image_ok, a torn or weak magic, a weak image_ok) may be reverted by some later
/// boot, so the image confirms itself once its health check passes. MCUboot's own
/// `boot_set_confirmed` gives up on a BAD primary magic (`BOOT_EBADVECT`); an application that
/// stops there runs unconfirmed until a boot reads the magic good and reverts it.
fn confirmed(r: &trailer::Reading) -> bool {
    let t = &r.trailer;
    let image_ok = t.image_ok == Flag::Set && r.steady(Field::ImageOk);
    let no_trailer = t.magic == Magic::Unset && t.image_ok == Flag::Unset && r.unsteady.is_empty();
    image_ok || no_trailer
}

/// Writes image_ok (the commit: the confirm line follows the write at once) and checks that it
/// reads set on every read. A torn image_ok (a cut inside an earlier confirm) is programmed
/// again; where the part refuses that (ECC) or it still does not read steadily, the trailer is
/// rewritten whole (a cut in between leaves no trailer at all, which boots this image as
/// permanent). A weak magic is programmed again too, so every reader of the trailer sees the
/// same thing.
pub fn confirm(hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
    let primary = cfg.layout.primary;
    let written = match trailer::write_image_ok(hal, cfg.layout.trailer_geom(), primary) {
        Ok(()) => true,
        Err(FlashError::ProgramRefused { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    if written {
        say!(hal, "app: confirm version={}", me);
    }
    let mut r = trailer::read_settled(hal, cfg.layout.trailer_geom(), primary)?;
    let mut steady = written && image_ok_steady(&r);
    if written && !steady {
        steady = match trailer::write_image_ok(hal, cfg.layout.trailer_geom(), primary) {
            Ok(()) => {
                r = trailer::read_settled(hal, cfg.layout.trailer_geom(), primary)?;
                image_ok_steady(&r)
            }
            Err(FlashError::ProgramRefused { .. }) => false,
            Err(e) => return Err(e.into()),
        };
    }
    if steady && !r.steady(Field::Magic) && r.trailer.magic == Magic::Good {
        steady = match trailer::write_magic(hal, cfg.layout.trailer_geom(), primary) {
            Ok(()) => trailer::read_settled(hal, cfg.layout.trailer_geom(), primary)?.steady(Field::Magic),
            Err(FlashError::ProgramRefused { .. }) => false,
            Err(e) => return Err(e.into()),
        };
    }
    if !steady {
        rewrite_confirmed(hal, cfg, &r.trailer)?;
    }
    if !written {
        say!(hal, "app: confirm version={}", me);
    }
    Ok(())
}

fn image_ok_steady(r: &trailer::Reading) -> bool {
    r.trailer.image_ok == Flag::Set && r.steady(Field::ImageOk)
}

/// Erases the primary trailer and writes it back confirmed.
fn rewrite_confirmed<F: Flash + ?Sized>(hal: &mut F, cfg: &AppConfig, t: &trailer::Trailer) -> Result<(), FwError> {
    let primary = cfg.layout.primary;
    ops::erase_trailer_of(hal, &cfg.layout, Slot::Primary)?;
    trailer::write_swap_size(hal, cfg.layout.trailer_geom(), primary, t.swap_size)?;
    trailer::write_swap_info(
        hal,
        cfg.layout.trailer_geom(),
        primary,
        t.swap_type().unwrap_or(SwapType::Test),
    )?;
    trailer::write_copy_done(hal, cfg.layout.trailer_geom(), primary)?;
    trailer::write_image_ok(hal, cfg.layout.trailer_geom(), primary)?;
    trailer::write_magic(hal, cfg.layout.trailer_geom(), primary)?;
    Ok(())
}

/// A download from byte 0 starts with the secondary trailer erased.
pub fn prepare_download(hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
    ops::erase_trailer_of(hal, &cfg.layout, Slot::Secondary)?;
    Ok(())
}

/// Whether mcumgr refuses an upload into the secondary slot: its trailer holds an upgrade
/// request (a good magic: MCUboot's `boot_swap_type_multi` reads a test or permanent swap for
/// it, and mcumgr's `img_mgmt_state_flags` marks the slot pending, so `img_mgmt_slot_in_use`
/// says it is in use). A request the bootloader left over an image it erased (FIELD-BUGS row 3,
/// MCUboot commit 260ec457) blocks every later upload this way.
pub fn upload_blocked(hal: &mut dyn Hal, cfg: &AppConfig) -> Result<bool, FwError> {
    Ok(trailer::read(hal, cfg.layout.trailer_geom(), cfg.layout.secondary)?.magic == Magic::Good)
}

/// The early-magic variant raises its request as soon as the first chunk is written.
pub fn downloaded_chunk(hal: &mut dyn Hal, cfg: &AppConfig, offset: u32) -> Result<(), FwError> {
    if offset == 0 && cfg.variant == Variant::EarlyTrailerMagic {
        write_request(hal, cfg)?;
    }
    Ok(())
}

/// Raises the upgrade request in the secondary trailer: flags first, the magic last.
pub fn request(hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
    let t = trailer::read(hal, cfg.layout.trailer_geom(), cfg.layout.secondary)?;
    if t.magic != Magic::Good || cfg.variant != Variant::EarlyTrailerMagic {
        if !ops::is_blank(hal, ops::trailer_area(&cfg.layout, Slot::Secondary))? {
            ops::erase_trailer_of(hal, &cfg.layout, Slot::Secondary)?;
        }
        write_request(hal, cfg)?;
    }
    Ok(())
}

fn write_request<F: Flash + Console + ?Sized>(flash: &mut F, cfg: &AppConfig) -> Result<(), FwError> {
    let secondary = cfg.layout.secondary;
    if cfg.permanent {
        trailer::write_image_ok(flash, cfg.layout.trailer_geom(), secondary)?;
    }
    trailer::write_magic(flash, cfg.layout.trailer_geom(), secondary)?;
    Ok(())
}
