//! The bootloader: its scheme decides from flash what the last boot left undone and finishes
//! it (`crate::scheme`) and names the slot to boot (the primary, or on an A/B scheme the slot
//! its record selects), then the bootloader validates and boots that slot. Nothing survives in
//! RAM between boots: every decision is made from flash.

pub mod ops;

use crate::hal::Hal;
use crate::image::{self, ImageError, ImageInfo};
use crate::layout::{Layout, Slot};
use crate::line::ShortHex;
use crate::variant::Variant;
use crate::{say, FwError};

pub use crate::scheme::Mode;

/// What is compiled into the bootloader.
#[derive(Debug, Clone, Copy)]
pub struct BootConfig {
    pub layout: Layout,
    /// The update scheme (a campaign's `mode`).
    pub mode: Mode,
    /// The public key images must be signed with (the bootloader's key table).
    pub key: crate::key::PublicKey,
    pub variant: Variant,
    /// Refuse to install an update older than the running image (MCUboot's
    /// MCUBOOT_DOWNGRADE_PREVENTION: the secondary's version is compared with the primary's).
    pub refuse_downgrade: bool,
}

/// Where the boot ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootOutcome {
    /// Jumps to the valid image in the slot named (the primary, except on an A/B scheme).
    Jump(ImageInfo, Slot),
    /// Nothing valid to run: the device is bricked until someone reflashes it.
    NoBootableImage(ImageError),
}

/// Runs the bootloader once, from reset to the jump: the scheme finishes or starts what the
/// metadata asks for and names the slot to boot (the primary, except on an A/B scheme), which
/// is then validated and booted.
pub fn boot(hal: &mut dyn Hal, cfg: &BootConfig) -> Result<BootOutcome, FwError> {
    say!(
        hal,
        "boot: start mode={} variant={}",
        cfg.mode.name(),
        cfg.variant.name()
    );
    let scheme = effective_mode(cfg).scheme();
    if cfg.variant == Variant::EccErrorFaults && reads_mcuboot_trailers(effective_mode(cfg)) {
        read_trailers_plainly(hal, cfg)?;
    }
    scheme.boot(hal, cfg)?;
    let slot = scheme.boot_slot(hal, cfg)?;
    boot_slot(hal, cfg, slot)
}

/// Whether `mode` keeps MCUboot image trailers at the end of its slots.
fn reads_mcuboot_trailers(mode: Mode) -> bool {
    [
        Mode::SWAP_SCRATCH,
        Mode::OVERWRITE,
        Mode::SWAP_MOVE,
        Mode::SWAP_OFFSET,
        Mode::DIRECT_XIP,
    ]
    .contains(&mode)
}

/// The ecc-error-faults build's trailer read: each slot's fixed fields in one plain read, an
/// uncorrectable ECC error returned as the fault it raises on the part.
fn read_trailers_plainly(hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
    let info = cfg.layout.trailer_info_size();
    let mut b = [0u8; crate::trailer::MAX_INFO_BYTES];
    for slot in [Slot::Primary, Slot::Secondary] {
        let area = cfg.layout.slot(slot);
        hal.read(area.end() - info, &mut b[..info as usize])?;
    }
    Ok(())
}

/// Whether a requested upgrade may be installed: the secondary image is valid (a broken variant
/// trusts any raised request). An invalid image must not stay requested: its request is erased,
/// the trailer sectors from the top down, so a cut part-way leaves no request (the magic, at the
/// slot's end, goes first) and nothing else is touched. A request over an image whose header
/// a cut erased is an invalid image like any other and is dropped the same way (MCUboot commit
/// 260ec457, "Fix erase of possible trailer leftover after reset": a trailer left standing
/// blocks every later mcumgr upload, [`crate::scheme::Scheme::upload_blocked`]).
pub fn accept_request(hal: &mut dyn Hal, cfg: &BootConfig) -> Result<bool, FwError> {
    let trusts_request = cfg.variant == Variant::EarlyTrailerMagic;
    if trusts_request || secondary_is_valid(hal, cfg)? {
        return Ok(true);
    }
    if cfg.variant == Variant::InvalidEraseForward {
        return erase_invalid_forward(hal, cfg).map(|()| false);
    }
    ops::erase_trailer(hal, cfg, Slot::Secondary)?;
    say!(hal, "boot: request-dropped slot=secondary");
    Ok(false)
}

/// The invalid-erase-forward build (FIELD-BUGS row 3, MCUboot before commit 260ec457): an
/// invalid image is erased with its whole slot from the first sector up, as MCUboot's
/// `boot_validate_slot` erased it (`flash_area_erase(fap, 0, fa_size)`, today
/// `boot_scramble_slot`, forwards), so the header goes first and the trailer with its request
/// last; and a slot whose header reads erased is taken for "no image" and left alone ("No
/// bootable image in slot; continue booting from the primary slot"), its trailer with it. A cut
/// inside the erase leaves the request standing for good over an erased header.
fn erase_invalid_forward(hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
    let staged = effective_mode(cfg).scheme().staging_area(&cfg.layout);
    let mut magic = [0u8; 4];
    match hal.read(staged.offset, &mut magic) {
        Ok(()) => {}
        Err(crate::hal::FlashError::Uncorrectable { .. }) => magic = [0; 4],
        Err(e) => return Err(e.into()),
    }
    if magic == [0xff; 4] {
        return Ok(());
    }
    let slot = cfg.layout.secondary;
    let mut at = slot.offset;
    while at < slot.end() {
        hal.erase(at, cfg.layout.sector_size)?;
        at += cfg.layout.sector_size;
    }
    say!(hal, "boot: request-dropped slot=secondary");
    Ok(())
}

/// The scheme the build really uses (some broken variants only exist as overwrite-only).
pub fn effective_mode(cfg: &BootConfig) -> Mode {
    cfg.mode.effective(cfg.variant)
}

fn secondary_is_valid(hal: &mut dyn Hal, cfg: &BootConfig) -> Result<bool, FwError> {
    let staged = effective_mode(cfg).scheme().staging_area(&cfg.layout);
    let checked = effective_mode(cfg)
        .scheme()
        .validate_image(hal, staged, &cfg.key, cfg.variant)
        .and_then(|info| refuse_downgrade(hal, cfg, info));
    match checked {
        Ok(info) => {
            say!(
                hal,
                "boot: integrity slot=secondary ok version={} hash={}",
                info.header.version,
                ShortHex(&info.hash)
            );
            Ok(true)
        }
        Err(ImageError::Flash(e)) if !matches!(e, crate::hal::FlashError::Uncorrectable { .. }) => Err(e.into()),
        Err(e) => {
            say!(hal, "boot: integrity slot=secondary fail reason={}", e.name());
            Ok(false)
        }
    }
}

/// A downgrade is an error when the build refuses them: the update's version is below the
/// running image's (a primary without a readable header has nothing to protect).
fn refuse_downgrade(hal: &mut dyn Hal, cfg: &BootConfig, update: ImageInfo) -> Result<ImageInfo, ImageError> {
    if !cfg.refuse_downgrade {
        return Ok(update);
    }
    match image::read_header(hal, cfg.layout.primary) {
        Ok(running) if update.header.version < running.version => Err(ImageError::Downgrade),
        Err(ImageError::Flash(e)) => Err(ImageError::Flash(e)),
        _ => Ok(update),
    }
}

fn boot_slot(hal: &mut dyn Hal, cfg: &BootConfig, slot: Slot) -> Result<BootOutcome, FwError> {
    let scheme = effective_mode(cfg).scheme();
    match scheme.validate_image(hal, cfg.layout.slot(slot), &cfg.key, cfg.variant) {
        Ok(info) => {
            say!(
                hal,
                "boot: integrity slot={} ok version={} hash={}",
                slot.name(),
                info.header.version,
                ShortHex(&info.hash)
            );
            say!(
                hal,
                "boot: jump version={} hash={}",
                info.header.version,
                ShortHex(&info.hash)
            );
            Ok(BootOutcome::Jump(info, slot))
        }
        Err(ImageError::Flash(e)) if !matches!(e, crate::hal::FlashError::Uncorrectable { .. }) => Err(e.into()),
        Err(e) => {
            say!(hal, "boot: integrity slot={} fail reason={}", slot.name(), e.name());
            say!(hal, "boot: halt reason=no-bootable-image");
            Ok(BootOutcome::NoBootableImage(e))
        }
    }
}
