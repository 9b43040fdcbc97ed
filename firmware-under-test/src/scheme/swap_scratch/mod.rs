//! Swap using a scratch area (MCUboot's swap-scratch): resumable, test upgrades and revert.
//!
//! The bootloader decides from the trailers what the last boot left undone (`decide.rs`), swaps
//! one sector-sized region at a time through the scratch area with a status record after each
//! step (`swap.rs`), makes the trailer fields it relies on read steadily (`affirm.rs`) and
//! rewrites the primary trailer under a journal when it must (`journal.rs`).

mod affirm;
mod decide;
pub mod journal;
mod swap;

use super::{mcuboot, AppBoot, CommitPoint, Scheme, Upgrade};
use crate::app::AppConfig;
use crate::boot::{self, BootConfig};
use crate::hal::{FlashError, Hal};
use crate::image::{self, Version};
use crate::layout::{Layout, LayoutError, Role};
use crate::trailer::SwapType;
use crate::variant::Variant;
use crate::{say, FwError};
use journal::SwapState;

pub use decide::{decide, Action};
pub use swap::SCRATCH_MARKER;

/// The scheme's name (a campaign's `mode`).
pub const NAME: &str = "swap-scratch";

/// Swap with scratch.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwapScratch;

impl Scheme for SwapScratch {
    fn name(&self) -> &'static str {
        NAME
    }

    fn can_revert(&self) -> bool {
        true
    }

    fn regions(&self) -> &'static [Role] {
        &[Role::Bootloader, Role::Primary, Role::Secondary, Role::Scratch]
    }

    fn sector_rule(&self) -> crate::map::SectorRule {
        crate::map::SectorRule::Scratch
    }

    /// The slots and a scratch region of at least one swap unit: the swap goes through it.
    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        layout.validate()?;
        layout.require_scratch(1)
    }

    fn scratch_use(&self) -> Option<&'static str> {
        Some("it swaps the slots through it, one sector at a time, and keeps its journal there")
    }

    /// A test swap commits when the new image confirms itself (image_ok in the primary
    /// trailer); a permanent swap when the bootloader finished it (image_ok, then copy_done,
    /// set by the swap itself), as in MCUboot, where a permanent request is never reverted.
    fn commit_point(&self, upgrade: Upgrade) -> CommitPoint {
        match upgrade {
            Upgrade::Test => CommitPoint::Confirm,
            Upgrade::Permanent => CommitPoint::Installed,
        }
    }

    fn boot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
        run(hal, cfg)
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

/// Decide, then resume, install or revert.
fn run(hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
    let action = decide(hal, cfg)?;
    if !matches!(action, Action::ResumeFromJournal(_)) {
        journal::drop_stale(hal, cfg)?;
    }
    match action {
        Action::Nothing => affirm::settle_finished(hal, cfg)?,
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
            swap::run(hal, cfg, kind, swap_size, last, stale_check(cfg))?;
            stale_header_check(hal, cfg)?;
        }
        Action::ResumeRevertInit { swap_size } => {
            say!(hal, "boot: swap-resume type=revert size={} from=journal", swap_size);
            swap::init_primary(hal, cfg, SwapType::Revert, swap_size)?;
            let st = SwapState::running(SwapType::Revert, swap_size, None);
            affirm::affirm(hal, cfg, &st, affirm::SWAP_FIELDS)?;
            swap::run(hal, cfg, SwapType::Revert, swap_size, None, swap::Then::Boot)?;
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
            swap::run(hal, cfg, st.kind, st.swap_size, st.last, stale_check(cfg))?;
            stale_header_check(hal, cfg)?;
        }
        Action::Upgrade { kind } => {
            if boot::accept_request(hal, cfg)? {
                swap::start(hal, cfg, kind)?;
            }
        }
        Action::Revert => swap::start(hal, cfg, SwapType::Revert)?,
    }
    Ok(())
}

/// What a resumed swap's boot does after it: the stale-header check in the build that has it.
fn stale_check(cfg: &BootConfig) -> swap::Then {
    match cfg.variant {
        Variant::StaleHeaderAfterResume => swap::Then::StaleHeaderCheck,
        _ => swap::Then::Boot,
    }
}

/// The stale-header-after-resume build, after a resumed swap completed: it validates the
/// primary slot with the header now in the secondary slot (MCUboot before commit 2ac79767 read
/// the headers back with the boot status after `boot_complete_partial_swap`, which swaps the
/// slots they are read from). An image that does not validate so stops the boot ("Unable to
/// find bootable image"; the part resets); the reference validates the primary with its own
/// header after every swap (`crate::boot`).
fn stale_header_check(hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
    if cfg.variant != Variant::StaleHeaderAfterResume {
        return Ok(());
    }
    let Ok(stale) = image::read_header(hal, cfg.layout.secondary) else {
        return Ok(());
    };
    match image::validate_with_header(hal, cfg.layout.primary, stale, &cfg.key, cfg.variant.image_checks()) {
        Ok(_) => Ok(()),
        Err(image::ImageError::Flash(e)) if !matches!(e, FlashError::Uncorrectable { .. }) => Err(e.into()),
        Err(e) => {
            say!(hal, "boot: integrity slot=primary fail reason={}", e.name());
            say!(hal, "boot: panic reason=no-bootable-image");
            Err(FwError::Flash(FlashError::Device))
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
