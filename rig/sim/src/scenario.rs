//! A ready-made update scenario on the simulated board: a baseline image in the primary slot
//! and an update offered by the OTA server.

use std::sync::Arc;

use fut::image::{Version, DESC_HEALTH_FAILS};
use fut::layout::Slot;
use fut::scheme::Mode;
use fut::{PublicKey, Variant};

use crate::board::{BootResult, Delivery, Firmware, RunEnd, RunOptions, SimBoard, Update};
use crate::board_profile::BoardProfile;
use crate::flash::NorFlash;
use crate::imgtool::{build_image, default_test_key, public_key, ImageSpec};

/// The byte at `addr` of the flash outside a scheme's areas at the baseline: data that reads as
/// neither erased nor zeroed, different from one address to the next.
pub fn outside_fill(addr: u32) -> u8 {
    let x = addr.wrapping_mul(0x9E37_79B1).rotate_left(13) ^ 0x5A5A_5A5A;
    match (x >> 24) as u8 {
        0xFF => 0xA5,
        0x00 => 0x5A,
        b => b,
    }
}

/// Everything needed to build the board at its baseline.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub profile: BoardProfile,
    pub mode: Mode,
    pub variant: Variant,
    pub permanent: bool,
    pub old_image: Arc<Vec<u8>>,
    pub old_version: Version,
    pub new_image: Arc<Vec<u8>>,
    pub new_version: Version,
    /// The key the bootloader and the application trust.
    pub key: PublicKey,
    /// The update never passes its health check (a revert scenario).
    pub bad_update: bool,
    pub seed: u64,
    /// How the update reaches the secondary slot.
    pub delivery: Delivery,
    /// The bootloader and the application refuse an update older than the running image.
    pub refuse_downgrade: bool,
    /// The slot the baseline image runs from: the primary, or on an A/B scheme the secondary
    /// (the device starts after an earlier update, with the scheme's record selecting it).
    pub baseline_slot: Slot,
    /// The baseline was flashed padded and confirmed (`imgtool sign --pad --confirm`): the
    /// primary trailer holds the magic and image_ok before any update.
    pub baseline_confirmed: bool,
    /// The flash after the earlier updates of [`Scenario::with_prior_updates`], run once: every
    /// board of the scenario starts from a copy of it. `None`: the probe's baseline.
    pub history: Option<Arc<NorFlash>>,
}

pub const OLD_VERSION: Version = Version {
    major: 1,
    minor: 0,
    revision: 0,
    build: 0,
};
pub const NEW_VERSION: Version = Version {
    major: 2,
    minor: 0,
    revision: 0,
    build: 0,
};

impl Scenario {
    /// Reference firmware, test upgrade from 1.0.0 to 2.0.0 with `body_kib` KiB images.
    pub fn new(profile: BoardProfile, body_kib: u32) -> Self {
        let key = default_test_key();
        let old = build_image(&ImageSpec::new(OLD_VERSION, body_kib * 1024), &key);
        let new = build_image(&ImageSpec::new(NEW_VERSION, body_kib * 1024), &key);
        Scenario {
            profile,
            mode: Mode::SWAP_SCRATCH,
            variant: Variant::Reference,
            permanent: false,
            old_image: Arc::new(old),
            old_version: OLD_VERSION,
            new_image: Arc::new(new),
            new_version: NEW_VERSION,
            key: public_key(&key),
            bad_update: false,
            seed: 1,
            delivery: Delivery::Download,
            refuse_downgrade: false,
            baseline_slot: Slot::Primary,
            baseline_confirmed: false,
            history: None,
        }
    }

    /// Flashes the baseline padded and confirmed, as `imgtool sign --pad --confirm` leaves it.
    pub fn with_confirmed_baseline(mut self) -> Self {
        self.baseline_confirmed = true;
        self
    }

    pub fn with_variant(mut self, variant: Variant) -> Self {
        self.variant = variant;
        self
    }

    /// Makes the update one that fails its health check and must be reverted (signed with the
    /// default test key, which the scenario must trust).
    pub fn with_bad_update(mut self) -> Self {
        let key = default_test_key();
        let body = (self.new_image.len() as u32).saturating_sub(32 + 144);
        let spec = ImageSpec::new(self.new_version, body).with_flags(DESC_HEALTH_FAILS);
        self.new_image = Arc::new(build_image(&spec, &key));
        self.bad_update = true;
        self
    }

    pub fn firmware(&self) -> Firmware {
        Firmware::new(self.profile.layout, self.mode, self.variant, self.key, self.permanent)
            .with_delivery(self.delivery)
            .with_refuse_downgrade(self.refuse_downgrade)
    }

    /// The flash as the probe leaves it: the old image in its slot (the primary unless the
    /// scenario starts from the other one, with the scheme's record selecting it), the rest
    /// erased.
    pub fn baseline_flash(&self) -> NorFlash {
        if let Some(h) = &self.history {
            return NorFlash::clone(h);
        }
        let mut flash = NorFlash::new(self.profile.flash.clone(), self.seed);
        let layout = self.profile.layout;
        // The flash the scheme never writes holds data, as on a device (the bootloader's code,
        // other partitions): an update that erases or programs it changes what it reads.
        for (_, area) in self.profile.outside(self.mode) {
            let bytes: Vec<u8> = (area.offset..area.end()).map(outside_fill).collect();
            flash.load(area.offset, &bytes);
        }
        flash.load(layout.slot(self.baseline_slot).offset, &self.old_image);
        let scheme = self.mode.effective(self.variant).scheme();
        // A slot the scheme cannot start from is refused where the campaign is loaded.
        let _ = scheme.provision(&layout, self.baseline_slot, &mut |addr, bytes| flash.load(addr, bytes));
        if self.baseline_confirmed {
            // imgtool's --confirm: image_ok (0x01 padded with the erased value) and the magic at
            // the end of the slot, everything between erased.
            fut::trailer::put_confirmed(layout.trailer_geom(), layout.primary, &mut |addr, bytes| {
                flash.load(addr, bytes)
            });
        }
        flash
    }

    /// Makes the baseline the product of `n` earlier updates, each run once on the simulated
    /// board without a cut from the probe's baseline: the update image and the baseline image
    /// are offered in turn (new, old, new, ...), so after an even `n` the device runs the
    /// baseline image again, from the slot it started in, with every record the firmware wrote
    /// on the way (a generation counter, a sequence number) where those updates left it. An
    /// update on an A/B scheme whose other slot still holds the image offered is not fetched
    /// again: after the first one, each earlier update is its record writes and boots.
    ///
    /// Errors (say which update and why) when `n` is odd, when the update would not pass its
    /// health check, or when an earlier update does not end with its image running and
    /// settled: that baseline cannot be made.
    pub fn with_prior_updates(mut self, n: u32) -> Result<Self, String> {
        self.history = None;
        if n == 0 {
            return Ok(self);
        }
        if n % 2 == 1 {
            return Err(format!(
                "prior_updates = {n}: an odd number leaves the device running the update image; give an even number"
            ));
        }
        if self.bad_update {
            return Err(
                "prior_updates needs an update image that passes its health check (the earlier updates install it)"
                    .into(),
            );
        }
        let crypto = Arc::default();
        let mut flash = self.baseline_flash();
        for k in 0..n {
            let (image, version) = if k % 2 == 0 {
                (self.new_image.clone(), self.new_version)
            } else {
                (self.old_image.clone(), self.old_version)
            };
            let update = Update {
                image,
                version,
                retry: false,
                once: false,
            };
            let mut board = SimBoard::new(flash, self.firmware(), Some(update)).with_crypto(Arc::clone(&crypto));
            let log = board.run(RunOptions::default());
            let booted = log.boots.iter().rev().find_map(|b| match &b.result {
                BootResult::Jump { version, .. } => Some(version.clone()),
                _ => None,
            });
            if log.end != RunEnd::Idle || booted.as_deref() != Some(version.to_string().as_str()) {
                let last = log.console.last().map_or("", |c| c.text.as_str());
                return Err(format!(
                    "prior update {} of {n} (to {version}) did not settle with its image running: run ended {:?}, last boot {}, last console line \"{last}\"",
                    k + 1,
                    log.end,
                    booted.as_deref().unwrap_or("none")
                ));
            }
            flash = board.flash;
        }
        self.history = Some(Arc::new(flash));
        Ok(self)
    }

    pub fn update(&self) -> Update {
        Update {
            image: self.new_image.clone(),
            version: self.new_version,
            retry: false,
            once: self.delivery == Delivery::Upload,
        }
    }

    /// The board at its baseline with the update offered.
    pub fn board(&self) -> SimBoard {
        SimBoard::new(self.baseline_flash(), self.firmware(), Some(self.update()))
    }
}
