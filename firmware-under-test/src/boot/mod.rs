//! The bootloader: decides from the trailers what the last boot left undone, finishes it,
//! then validates and boots the primary slot. Nothing survives in RAM between boots: every
//! decision is made from flash.

mod affirm;
mod decide;
pub mod journal;
pub(crate) mod ops;
mod overwrite;
mod swap;

use crate::hal::Hal;
use crate::image::{self, ImageError, ImageInfo};
use crate::layout::{Layout, Slot};
use crate::line::ShortHex;
use crate::trailer::SwapType;
use crate::variant::Variant;
use crate::{say, FwError};
use journal::SwapState;

pub use decide::{decide, Action};

/// How an upgrade moves the new image into the primary slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Swap the slots through a scratch area; resumable; supports test upgrades and revert.
    SwapScratch,
    /// Copy the secondary over the primary; no way back.
    Overwrite,
}

impl Mode {
    pub const fn name(self) -> &'static str {
        match self {
            Mode::SwapScratch => "swap-scratch",
            Mode::Overwrite => "overwrite",
        }
    }
}

/// What is compiled into the bootloader.
#[derive(Debug, Clone, Copy)]
pub struct BootConfig {
    pub layout: Layout,
    pub mode: Mode,
    /// The public key images must be signed with (the bootloader's key table).
    pub key: crate::key::PublicKey,
    pub variant: Variant,
}

/// Where the boot ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootOutcome {
    /// Jumps to the valid image in the primary slot.
    Jump(ImageInfo),
    /// Nothing valid to run: the device is bricked until someone reflashes it.
    NoBootableImage(ImageError),
}

/// Runs the bootloader once, from reset to the jump.
pub fn boot<H: Hal + ?Sized>(hal: &mut H, cfg: &BootConfig) -> Result<BootOutcome, FwError> {
    say!(
        hal,
        "boot: start mode={} variant={}",
        cfg.mode.name(),
        cfg.variant.name()
    );
    let action = decide(hal, cfg)?;
    if effective_mode(cfg) == Mode::SwapScratch && !matches!(action, Action::ResumeFromJournal(_)) {
        journal::drop_stale(hal, cfg)?;
    }
    match action {
        Action::Nothing => {}
        Action::Resume { kind, swap_size, last } => {
            say!(
                hal,
                "boot: swap-resume type={} size={} {}",
                kind.name(),
                swap_size,
                ResumePoint(last)
            );
            // The cut may have left a field weak: settle it before anything relies on it.
            let st = SwapState::running(kind, swap_size, last);
            affirm::affirm(hal, cfg, &st, affirm::SWAP_FIELDS)?;
            swap::run(hal, cfg, kind, swap_size, last)?;
        }
        Action::ResumeRevertInit { swap_size } => {
            say!(hal, "boot: swap-resume type=revert size={} from=journal", swap_size);
            swap::init_primary(hal, cfg, SwapType::Revert, swap_size)?;
            let st = SwapState::running(SwapType::Revert, swap_size, None);
            affirm::affirm(hal, cfg, &st, affirm::SWAP_FIELDS)?;
            swap::run(hal, cfg, SwapType::Revert, swap_size, None)?;
        }
        Action::ResumeFromJournal(st) => {
            say!(
                hal,
                "boot: swap-resume type={} size={} {} from=journal",
                st.kind.name(),
                st.swap_size,
                ResumePoint(st.last)
            );
            journal::restore(hal, cfg, &st)?;
            swap::run(hal, cfg, st.kind, st.swap_size, st.last)?;
        }
        Action::Upgrade { kind } => upgrade(hal, cfg, kind)?,
        Action::Revert => swap::start(hal, cfg, SwapType::Revert)?,
    }
    boot_primary(hal, cfg)
}

fn upgrade<H: Hal + ?Sized>(hal: &mut H, cfg: &BootConfig, kind: SwapType) -> Result<(), FwError> {
    let trusts_request = cfg.variant == Variant::EarlyTrailerMagic;
    if !trusts_request && !secondary_is_valid(hal, cfg)? {
        // An invalid image must not stay requested (MCUboot commit 260ec457).
        ops::erase_trailer(hal, cfg, Slot::Secondary)?;
        say!(hal, "boot: request-dropped slot=secondary");
        return Ok(());
    }
    match effective_mode(cfg) {
        Mode::SwapScratch => swap::start(hal, cfg, kind),
        Mode::Overwrite => overwrite::run(hal, cfg),
    }
}

/// The mode the build really uses (some broken variants only exist as overwrite-only).
pub fn effective_mode(cfg: &BootConfig) -> Mode {
    if cfg.variant.forces_overwrite() {
        Mode::Overwrite
    } else {
        cfg.mode
    }
}

fn secondary_is_valid<H: Hal + ?Sized>(hal: &mut H, cfg: &BootConfig) -> Result<bool, FwError> {
    match image::validate(hal, cfg.layout.secondary, &cfg.key) {
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

fn boot_primary<H: Hal + ?Sized>(hal: &mut H, cfg: &BootConfig) -> Result<BootOutcome, FwError> {
    match image::validate(hal, cfg.layout.primary, &cfg.key) {
        Ok(info) => {
            say!(
                hal,
                "boot: integrity slot=primary ok version={} hash={}",
                info.header.version,
                ShortHex(&info.hash)
            );
            say!(
                hal,
                "boot: jump version={} hash={}",
                info.header.version,
                ShortHex(&info.hash)
            );
            Ok(BootOutcome::Jump(info))
        }
        Err(ImageError::Flash(e)) if !matches!(e, crate::hal::FlashError::Uncorrectable { .. }) => Err(e.into()),
        Err(e) => {
            say!(hal, "boot: integrity slot=primary fail reason={}", e.name());
            say!(hal, "boot: halt reason=no-bootable-image");
            Ok(BootOutcome::NoBootableImage(e))
        }
    }
}

struct ResumePoint(Option<(u32, u32)>);

impl core::fmt::Display for ResumePoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some((idx, state)) => write!(f, "after-region={idx} after-step={state}"),
            None => write!(f, "after-region=0 after-step=0"),
        }
    }
}
