//! The OTA application: reports what it runs, proves its health, confirms a test image,
//! then downloads, verifies and requests the offered update, resuming from flash after a cut.

use crate::boot::ops;
use crate::hal::{Flash, FlashError, Hal, Offer};
use crate::image::{self, ImageError, Version};
use crate::layout::{Area, Layout, Slot};
use crate::line::ShortHex;
use crate::scheme::{AppBoot, Mode};
use crate::variant::Variant;
use crate::{say, FwError};

/// Time one cycle of the main loop takes (the health check), in microseconds.
pub const HEALTH_CHECK_US: u64 = 50_000;
/// Bytes fetched per transport request.
pub const CHUNK: usize = 1024;

/// What is compiled into the application.
#[derive(Debug, Clone, Copy)]
pub struct AppConfig {
    pub layout: Layout,
    pub key: crate::key::PublicKey,
    /// Request a permanent upgrade instead of a test (revertible) one.
    pub permanent: bool,
    pub variant: Variant,
    /// The bootloader's scheme: how the app confirms, requests an upgrade, and whether a
    /// revert can happen.
    pub mode: Mode,
    /// The application checks a downloaded image (hash, key, signature) before it raises the
    /// request. Off, the image reaches the secondary slot unchecked (as an mcumgr SMP upload
    /// does) and the bootloader is the only gate.
    pub verify: bool,
    /// Refuse an update older than the running image.
    pub refuse_downgrade: bool,
    /// The slot the image runs from: where its code is mapped, which the board knows (the
    /// primary on every scheme that installs into it; either slot on an A/B scheme, whose
    /// bootloader jumps to the slot its record selects). The update goes to the other one.
    pub running: Slot,
}

impl AppConfig {
    /// The slot the running image is in.
    pub const fn running_area(&self) -> Area {
        self.layout.slot(self.running)
    }

    /// The slot an update is downloaded into: the one the image does not run from.
    pub const fn target(&self) -> Slot {
        self.running.other()
    }

    /// Where an update to [`AppConfig::target`] is written and checked: the scheme's staging
    /// area when it goes to the secondary slot (swap-offset writes it one sector in), else the
    /// whole slot.
    pub fn target_area(&self) -> Area {
        match self.target() {
            Slot::Secondary => self.mode.scheme().staging_area(&self.layout),
            s => self.layout.slot(s),
        }
    }
}

/// How the application's run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppExit {
    /// The application asked for a reset (to install an update, or to retry).
    Reset,
    /// Steady state: the image is confirmed and no update is pending.
    Idle,
    /// The health check failed; the watchdog resets the part.
    Crash,
}

/// Runs the application from its start until it resets or settles.
pub fn run(hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppExit, FwError> {
    let scheme = cfg.mode.scheme();
    let primary = cfg.running_area();
    let me = match scheme.image_version(hal, primary) {
        Ok(v) => v,
        Err(e) => return Err(image_fault(e)),
    };
    let hash = scheme.image_hash(hal, primary).unwrap_or([0; 32]);
    say!(hal, "app: banner version={} hash={}", me, ShortHex(&hash));
    let desc = scheme.image_descriptor(hal, primary).unwrap_or_default();
    let state = scheme.app_boot(hal, cfg)?;
    if state.restart {
        say!(hal, "app: restart reason=start-up-failed version={}", me);
        return Ok(AppExit::Reset);
    }
    let pending = state.pending;
    if pending {
        say!(hal, "app: first-boot version={} pending=confirm", me);
        if cfg.variant == Variant::ConfirmAtBoot {
            scheme.confirm(hal, cfg, me)?;
        }
    }
    hal.spend_us(HEALTH_CHECK_US);
    if desc.health_fails() {
        say!(hal, "app: health fail version={}", me);
        return Ok(AppExit::Crash);
    }
    say!(hal, "app: health ok version={}", me);
    if pending && cfg.variant != Variant::ConfirmAtBoot {
        scheme.confirm(hal, cfg, me)?;
    }
    ota(hal, cfg, me, state)
}

/// The version the scheme says the bootloader fell back from, if any.
fn scheme_refused(hal: &mut dyn Hal, cfg: &AppConfig) -> Result<Option<Version>, FwError> {
    cfg.mode.scheme().refused_version(hal, cfg)
}

fn image_fault(e: ImageError) -> FwError {
    match e {
        ImageError::Flash(f) => FwError::Flash(f),
        _ => FwError::Flash(FlashError::Device),
    }
}

fn ota(hal: &mut dyn Hal, cfg: &AppConfig, me: Version, state: AppBoot) -> Result<AppExit, FwError> {
    let offer = match hal.offer()? {
        Some(o) => o,
        None => {
            say!(hal, "ota: idle reason=no-offer");
            return Ok(AppExit::Idle);
        }
    };
    if offer.version == me {
        say!(hal, "ota: idle reason=up-to-date version={}", me);
        return Ok(AppExit::Idle);
    }
    if offer.size > cfg.mode.max_image_size(&cfg.layout) || offer.size < image::HEADER_SIZE as u32 {
        say!(hal, "ota: idle reason=offer-too-large size={}", offer.size);
        return Ok(AppExit::Idle);
    }
    let secondary = cfg.target_area();
    let staged = cfg.mode.scheme().image_version(hal, secondary).ok();
    let refused = scheme_refused(hal, cfg)? == Some(offer.version);
    if (refused || (staged == Some(offer.version) && state.reverted)) && cfg.mode.can_revert() && !offer.retry {
        say!(hal, "ota: idle reason=rejected version={}", offer.version);
        return Ok(AppExit::Idle);
    }
    let complete = staged == Some(offer.version) && check(hal, cfg, me).is_ok();
    if !complete {
        let from_zero = match download(hal, cfg, &offer)? {
            Download::Done(from_zero) => from_zero,
            Download::Refused => {
                say!(hal, "ota: idle reason=upload-refused version={}", offer.version);
                return Ok(AppExit::Idle);
            }
        };
        if cfg.verify {
            say!(hal, "ota: verify-start version={}", offer.version);
            match check(hal, cfg, me) {
                Ok(info) => say!(
                    hal,
                    "ota: verify-ok version={} hash={}",
                    offer.version,
                    ShortHex(&info.hash)
                ),
                Err(e) => {
                    say!(hal, "ota: verify-fail reason={}", e.name());
                    wipe_secondary(hal, cfg)?;
                    // A download this boot fetched whole is the server's image: refused. One that
                    // resumed after a cut may hold bytes of an earlier run; it is fetched again
                    // from byte 0 after a reset.
                    if from_zero {
                        say!(hal, "ota: idle reason=verify-fail version={}", offer.version);
                        return Ok(AppExit::Idle);
                    }
                    return Ok(AppExit::Reset);
                }
            }
        }
    } else {
        say!(hal, "ota: staged version={}", offer.version);
    }
    request(hal, cfg)?;
    say!(hal, "ota: reboot");
    Ok(AppExit::Reset)
}

/// The application's check of the image in the secondary slot: the image validation of this
/// build, and no downgrade when the build refuses them.
fn check(hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<image::ImageInfo, ImageError> {
    let info = cfg
        .mode
        .scheme()
        .validate_image(hal, cfg.target_area(), &cfg.key, cfg.variant)?;
    if cfg.refuse_downgrade && info.header.version < me {
        return Err(ImageError::Downgrade);
    }
    Ok(info)
}

fn wipe_secondary<F: Flash + ?Sized>(flash: &mut F, cfg: &AppConfig) -> Result<(), FlashError> {
    ops::erase_backwards(flash, cfg.target_area(), cfg.layout.sector_size)
}

/// Where a cut download picks up: the start of the sector holding the last written byte
/// (that sector is erased and fetched again), or 0 when the slot holds another image.
fn resume_point(flash: &mut dyn Hal, cfg: &AppConfig, offer: &Offer) -> Result<u32, FlashError> {
    let secondary = cfg.target_area();
    match cfg.mode.scheme().image_version(flash, secondary) {
        Ok(v) if v == offer.version => {}
        _ => return Ok(0),
    }
    let mut buf = [0u8; CHUNK];
    let mut end = offer.size;
    while end > 0 {
        let start = end.saturating_sub(CHUNK as u32);
        let n = (end - start) as usize;
        match flash.read(secondary.offset + start, &mut buf[..n]) {
            Ok(()) => {}
            Err(FlashError::Uncorrectable { addr }) => return Ok(sector_floor(cfg, addr - secondary.offset)),
            Err(e) => return Err(e),
        }
        if let Some(i) = buf[..n].iter().rposition(|&b| b != 0xff) {
            return Ok(sector_floor(cfg, start + i as u32));
        }
        end = start;
    }
    Ok(0)
}

fn sector_floor(cfg: &AppConfig, off: u32) -> u32 {
    off - off % cfg.layout.sector_size
}

/// How a download ended.
enum Download {
    /// Stored whole; `true` when it started from byte 0.
    Done(bool),
    /// The upload was refused before its first byte ([`crate::scheme::Scheme::upload_blocked`]).
    Refused,
}

/// Downloads the offer into the secondary slot.
fn download(hal: &mut dyn Hal, cfg: &AppConfig, offer: &Offer) -> Result<Download, FwError> {
    let secondary = cfg.target_area();
    let sector = cfg.layout.sector_size;
    let from = resume_point(hal, cfg, offer)?;
    if from == 0 && !cfg.verify && cfg.mode.scheme().upload_blocked(hal, cfg)? {
        // An mcumgr upload into a slot in use is refused before anything is written.
        say!(hal, "ota: upload-refused reason=slot-pending version={}", offer.version);
        return Ok(Download::Refused);
    }
    if from == 0 {
        say!(hal, "ota: download-start version={} size={}", offer.version, offer.size);
        cfg.mode.scheme().prepare_download(hal, cfg)?;
    } else {
        say!(
            hal,
            "ota: download-resume version={} offset={} size={}",
            offer.version,
            from,
            offer.size
        );
    }
    let w = cfg.layout.write_size.max(1) as usize;
    let mut buf = [0xffu8; CHUNK];
    let mut off = from;
    while off < offer.size {
        if off % sector == 0 {
            hal.erase(secondary.offset + off, sector)?;
        }
        let want = ((offer.size - off) as usize).min(CHUNK);
        buf.fill(0xff);
        let got = fetch_exact(hal, off, &mut buf[..want])?;
        let padded = got.div_ceil(w) * w;
        hal.write(secondary.offset + off, &buf[..padded.min(CHUNK)])?;
        cfg.mode.scheme().downloaded_chunk(hal, cfg, off)?;
        off += got as u32;
        if off % sector == 0 || off == offer.size {
            say!(hal, "ota: download-progress bytes={} of={}", off, offer.size);
        }
    }
    say!(hal, "ota: download-done bytes={}", offer.size);
    Ok(Download::Done(from == 0))
}

fn fetch_exact(hal: &mut dyn Hal, off: u32, buf: &mut [u8]) -> Result<usize, FwError> {
    let mut got = 0;
    while got < buf.len() {
        let n = hal.fetch(off + got as u32, &mut buf[got..])?;
        if n == 0 {
            return Err(FwError::Transport(crate::hal::TransportError::Protocol));
        }
        got += n;
    }
    Ok(got)
}

/// Raises the upgrade request the scheme's way.
fn request(hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
    let kind = if cfg.permanent { "perm" } else { "test" };
    say!(hal, "ota: request-start type={}", kind);
    cfg.mode.scheme().request(hal, cfg)?;
    say!(hal, "ota: request-done type={}", kind);
    Ok(())
}
