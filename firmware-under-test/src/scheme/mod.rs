//! Update schemes: how an update gets from the secondary slot into the running slot, and what
//! on flash says how far it got. An A/B scheme (`esp_idf`) copies nothing: the update stays in
//! the slot it was downloaded to, and a boot-select record says which slot boots
//! ([`Scheme::boot_slot`]); the application runs from either slot and downloads into the other.
//!
//! A scheme is a type implementing [`Scheme`]: its name (a campaign's `mode`), the regions it
//! needs and how they must fit, whether it can revert a test image, its commit point, its boot
//! path (decide, resume, upgrade) and what the application needs from it (is the running image
//! confirmed, confirm it, raise an upgrade request). The bootloader, the application, the
//! inspector, the pass rule and the campaign schema ask the scheme instead of matching on modes.
//!
//! The built-in schemes are listed once, in [`BUILTIN`]; a new scheme is one module and one line
//! there. A scheme defined elsewhere (a test, another crate) is added to a [`Registry`] with
//! [`Registry::with_extra`], and runs wherever a [`Mode`] is accepted.

pub mod atomic_word;
pub mod direct_xip;
pub mod embassy_boot;
pub mod esp_idf;
pub mod mcuboot;
pub mod overwrite;
pub mod pending_log;
pub mod redundant;
pub mod swap_move;
pub mod swap_offset;
pub mod swap_scratch;

use core::fmt;

use crate::app::AppConfig;
use crate::boot::BootConfig;
use crate::hal::Hal;
use crate::image::{self, Descriptor, ImageError, ImageInfo, Version};
use crate::key::PublicKey;
use crate::layout::{Area, Layout, LayoutError, Role, Slot};
use crate::variant::Variant;
use crate::{say, FwError};

/// What on flash or on the console says that an update committed: from then on only the new
/// image may boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitPoint {
    /// The new image confirms itself after its first healthy boot (MCUboot's image_ok in the
    /// primary trailer; the application prints `app: confirm`). Until then a reset reverts.
    Confirm,
    /// The new image is in place once the bootloader finished installing it; nothing reverts.
    /// The bootloader says so when it is done (`boot: swap-done type=perm`,
    /// `boot: overwrite-done`): from that line on, booting the old image is a downgrade.
    Installed,
}

/// How the application asks for an update: on trial (it must confirm itself, or a later boot
/// reverts it) or for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Upgrade {
    /// MCUboot's test upgrade: the secondary trailer's magic without image_ok.
    Test,
    /// MCUboot's permanent upgrade: image_ok set in the secondary trailer with the magic.
    Permanent,
}

/// What the application learns from the scheme at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppBoot {
    /// The running image must still confirm itself, or some later boot may revert it.
    pub pending: bool,
    /// The bootloader just reverted an update: the same version is not tried again unless the
    /// server asks for it.
    pub reverted: bool,
    /// The application's start-up gave up on what it read of the record and asked for a reset
    /// before its health check (a broken build's; the reference always goes on).
    pub restart: bool,
}

/// An update scheme. Object safe: the registry holds `&'static dyn Scheme`.
pub trait Scheme: Sync {
    /// The name a campaign's `mode` gives (`swap-scratch`), printed by the bootloader's banner.
    fn name(&self) -> &'static str;

    /// Whether the scheme can boot a new image on trial and revert it when the image does not
    /// confirm itself: test upgrades exist only on such schemes. This is the one place that
    /// decides which modes can revert.
    fn can_revert(&self) -> bool;

    /// The regions of the flash map the scheme uses, in flash order. A scheme that lists
    /// [`Role::Scratch`] needs a scratch region in the map ([`Scheme::scratch_use`]); one that
    /// does not runs on a map without it.
    fn regions(&self) -> &'static [Role];

    /// What the scheme keeps in the map's scratch region, in words for an error that says the
    /// map lacks one; `None` when it needs none. By default: its metadata, when
    /// [`Scheme::regions`] lists the scratch role.
    fn scratch_use(&self) -> Option<&'static str> {
        self.regions()
            .contains(&Role::Scratch)
            .then_some("it keeps its metadata there")
    }

    /// Whether `layout` fits the scheme: the regions it needs are there, aligned, apart and
    /// large enough for its metadata.
    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError>;

    /// The flash the scheme's bootloader and application may erase and program on `layout`,
    /// each area with what it holds (`put(what, area)`): the slots and the sectors where the
    /// scheme keeps its metadata (scratch and its journal, a state partition, otadata). A write
    /// anywhere else in the flash map (the bootloader's own code, another partition: a file
    /// system, NVS, calibration data) destroys what the device keeps there, and the pass rule
    /// checks that no cut leaves it changed. By default the slots and the whole scratch region,
    /// which swap-scratch copies through.
    fn areas(&self, layout: &Layout, put: &mut dyn FnMut(&'static str, Area)) {
        slot_areas(layout, put);
        if layout.scratch.size > 0 {
            put("scratch", layout.scratch);
        }
    }

    /// What the scheme needs of the slots' sectors when they are not all one size (see
    /// [`crate::map::FlashMap::check_sectors`]): nothing for a scheme that copies nothing between
    /// the slots.
    fn sector_rule(&self) -> crate::map::SectorRule {
        crate::map::SectorRule::Any
    }

    /// Whether an image runs in place from the secondary slot (an A/B scheme, direct-XIP): the
    /// secondary slot must then be on flash the part runs code from, not on a serial NOR beside
    /// it. Schemes that copy the image into the primary slot before they boot it say `false`.
    fn runs_from_secondary(&self) -> bool {
        false
    }

    /// The largest signed image (header, body and TLVs) the scheme can install with `layout`
    /// (a scheme that keeps room of its own, as swap-move's spare sector, says less).
    fn max_image_size(&self, layout: &Layout) -> u32 {
        layout.max_image_size()
    }

    /// Where an update is written and checked before it is installed: the secondary slot, or
    /// part of it (swap-offset writes it one sector in).
    fn staging_area(&self, layout: &Layout) -> crate::layout::Area {
        layout.secondary
    }

    /// What says an update of this kind committed: the point from which only the new image may
    /// boot. A scheme that cannot revert commits when the image is installed, whatever the
    /// request asked for.
    fn commit_point(&self, upgrade: Upgrade) -> CommitPoint;

    /// The bootloader's work before it validates and boots the primary slot: read the metadata,
    /// finish what an earlier boot left undone, install a requested upgrade, revert an image
    /// that did not confirm.
    fn boot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError>;

    /// The slot the bootloader validates and boots, chosen after [`Scheme::boot`] ran. Every
    /// scheme that installs into the primary slot boots it (the default). An A/B scheme reads
    /// its boot-select record here (and may write it: a rollback state machine), and may fall
    /// back to the other slot when the selected one holds no valid image; the image is
    /// validated again by the bootloader before the jump.
    fn boot_slot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<Slot, FwError> {
        let _ = (hal, cfg);
        Ok(Slot::Primary)
    }

    /// The record a probe writes beside the baseline image when the device starts out running
    /// from `slot` (on an A/B scheme, after an earlier update): each `(address, bytes)` goes to
    /// `put`. The default knows only the primary slot, which needs no record. `false` when the
    /// scheme cannot start from `slot`.
    fn provision(&self, layout: &Layout, slot: Slot, put: &mut dyn FnMut(u32, &[u8])) -> bool {
        let _ = (layout, put);
        slot == Slot::Primary
    }

    /// A version the bootloader fell back from, when the scheme's metadata (or the
    /// application's own note) names it and it is not the running image: the application does
    /// not try it again unless the server asks for it. The default names none: a scheme whose
    /// reverted image stays in its slot says so through [`AppBoot::reverted`].
    fn refused_version(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<Option<Version>, FwError> {
        let _ = (hal, cfg);
        Ok(None)
    }

    /// Checks the image in `area` as this scheme's bootloader does before it boots it, and as
    /// its application does before it selects it: by default MCUboot's image (header, hash,
    /// key, signature) with the checks the build of `variant` runs. A scheme whose bootloader
    /// boots images of another format checks them here.
    fn validate_image(
        &self,
        hal: &mut dyn Hal,
        area: Area,
        key: &PublicKey,
        variant: Variant,
    ) -> Result<ImageInfo, ImageError> {
        image::validate_with(hal, area, key, variant.image_checks())
    }

    /// The version of the image in `area` as the application reads it, without checking the
    /// image (a download half done still names its version): by default the MCUboot header's.
    fn image_version(&self, hal: &mut dyn Hal, area: Area) -> Result<Version, ImageError> {
        image::read_header(hal, area).map(|h| h.version)
    }

    /// The SHA-256 the image in `area` claims (the application's banner prints it): by default
    /// its SHA-256 TLV.
    fn image_hash(&self, hal: &mut dyn Hal, area: Area) -> Result<[u8; 32], ImageError> {
        image::read_hash(hal, area)
    }

    /// The behaviour flags of the image in `area` (see [`Descriptor`]); an image without them
    /// behaves normally.
    fn image_descriptor(&self, hal: &mut dyn Hal, area: Area) -> Result<Descriptor, ImageError> {
        image::read_descriptor(hal, area)
    }

    /// Reads what the running image needs to know about itself.
    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError>;

    /// Confirms the running image (the commit of a test upgrade); prints `app: confirm`.
    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError>;

    /// Clears what an earlier request left in the secondary slot before a download starts from
    /// byte 0.
    fn prepare_download(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError>;

    /// Whether an upload (an mcumgr SMP upload: the application does not check the image,
    /// [`AppConfig::verify`] off) is refused before its first byte is written because the
    /// slot it goes to is in use. mcumgr's `img_mgmt_upload_first_chunk` refuses the secondary
    /// slot while `img_mgmt_slot_in_use` says so ("No free slot", `MGMT_ERR_ENOMEM`), and a
    /// slot whose trailer holds an upgrade request is in use: it is pending. The default: never
    /// refused.
    fn upload_blocked(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<bool, FwError> {
        let _ = (hal, cfg);
        Ok(false)
    }

    /// Called after each chunk of a download is written (a broken variant raises its request
    /// there, before the image is complete).
    fn downloaded_chunk(&self, hal: &mut dyn Hal, cfg: &AppConfig, offset: u32) -> Result<(), FwError> {
        let _ = (hal, cfg, offset);
        Ok(())
    }

    /// Asks the bootloader to install the verified image in the secondary slot at the next boot.
    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError>;
}

/// Which scheme a bootloader and application are built with: a handle to a registered scheme,
/// compared by name.
#[derive(Clone, Copy)]
pub struct Mode(&'static dyn Scheme);

impl Mode {
    /// Swap through a scratch area; resumable; test upgrades and revert.
    pub const SWAP_SCRATCH: Mode = Mode(&swap_scratch::SwapScratch);
    /// Copy the secondary over the primary; no way back.
    pub const OVERWRITE: Mode = Mode(&overwrite::Overwrite);
    /// Swap using move (no scratch area); resumable; test upgrades and revert.
    pub const SWAP_MOVE: Mode = Mode(&swap_move::SWAP_MOVE);
    /// Swap using offset (the update one sector into the secondary; no move stage).
    pub const SWAP_OFFSET: Mode = Mode(&swap_offset::SWAP_OFFSET);
    /// MCUboot direct-XIP with revert: boot the valid slot with the highest version.
    pub const DIRECT_XIP: Mode = Mode(&direct_xip::WITH_REVERT);
    /// MCUboot direct-XIP without revert: the valid slot with the highest version boots,
    /// nothing is confirmed.
    pub const DIRECT_XIP_NO_REVERT: Mode = Mode(&direct_xip::NO_REVERT);

    /// A handle to `scheme`.
    pub const fn of(scheme: &'static dyn Scheme) -> Mode {
        Mode(scheme)
    }

    pub fn scheme(self) -> &'static dyn Scheme {
        self.0
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub fn can_revert(self) -> bool {
        self.0.can_revert()
    }

    /// What the scheme keeps in the scratch region, `None` when it needs none
    /// ([`Scheme::scratch_use`]).
    pub fn scratch_use(self) -> Option<&'static str> {
        self.0.scratch_use()
    }

    /// The areas of `layout` the scheme writes ([`Scheme::areas`]).
    pub fn areas(self, layout: &Layout, put: &mut dyn FnMut(&'static str, Area)) {
        self.0.areas(layout, put)
    }

    /// The flash of `map` outside the scheme's areas on `layout` ([`Scheme::areas`]): every
    /// part of a region of the map that no area covers (the bootloader's own code, a region
    /// the scheme does not use, another partition), in map order, each with its region's name.
    /// An update must leave all of it as it was.
    pub fn outside_areas(self, map: &crate::map::FlashMap<'_>, layout: &Layout, put: &mut dyn FnMut(&str, Area)) {
        let mut used = [Area { offset: 0, size: 0 }; MAX_AREAS];
        let mut n = 0;
        self.0.areas(layout, &mut |_, a| {
            if a.size > 0 && n < MAX_AREAS {
                used[n] = a;
                n += 1;
            }
        });
        for r in map.regions {
            for part in uncovered(r.area, &used[..n]) {
                put(r.name, part);
            }
        }
    }

    /// Whether the flash `map` fits the scheme: its slots' sectors (MCUboot's
    /// `boot_slots_compatible`), then the bootloader's view of it. Gives that view.
    pub fn check_map(self, map: &crate::map::FlashMap<'_>) -> Result<Layout, LayoutError> {
        let layout = map.check_sectors(self.0.sector_rule())?;
        self.0.check_layout(&layout)?;
        Ok(layout)
    }

    /// The largest signed image the scheme can install with `layout`.
    pub fn max_image_size(self, layout: &Layout) -> u32 {
        self.0.max_image_size(layout)
    }

    /// What says an `upgrade` on this scheme committed.
    pub fn commit_point(self, upgrade: Upgrade) -> CommitPoint {
        self.0.commit_point(upgrade)
    }

    /// The scheme a build of `variant` really runs: a broken variant bound to one scheme
    /// ([`Variant::scheme`]) runs that one, or this one when the build shares its code.
    pub fn effective(self, variant: Variant) -> Mode {
        variant
            .scheme()
            .map_or(self, |b| if b.allows(self) { self } else { b.mode })
    }
}

impl PartialEq for Mode {
    fn eq(&self, other: &Mode) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Mode {}

impl core::hash::Hash for Mode {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mode({:?})", self.name())
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The layout an A/B scheme with a boot-select record needs: two slots, and a region of at
/// least two sectors (the record's two copies, one sector each) in the map's scratch role.
pub(crate) fn check_record_layout(layout: &Layout) -> Result<(), LayoutError> {
    layout.validate()?;
    layout.require_scratch(2)
}

/// The most areas a scheme gives ([`Scheme::areas`]); more are not taken into account.
pub const MAX_AREAS: usize = 8;

/// The parts of `region` that no area of `used` covers, in address order.
fn uncovered(region: Area, used: &[Area]) -> impl Iterator<Item = Area> + '_ {
    let mut at = region.offset;
    core::iter::from_fn(move || {
        while at < region.end() {
            if let Some(a) = used.iter().find(|a| a.contains(at)) {
                at = a.end();
                continue;
            }
            let next = used
                .iter()
                .filter(|a| a.offset > at)
                .map(|a| a.offset)
                .min()
                .unwrap_or(u32::MAX)
                .min(region.end());
            let part = Area {
                offset: at,
                size: next - at,
            };
            at = next;
            return Some(part);
        }
        None
    })
}

/// The two slots, as [`Scheme::areas`] names them.
pub fn slot_areas(layout: &Layout, put: &mut dyn FnMut(&'static str, Area)) {
    put("primary", layout.primary);
    put("secondary", layout.secondary);
}

/// The first `n` sectors of the map's scratch region (within it), where an A/B scheme keeps its
/// record.
pub fn scratch_sectors(layout: &Layout, n: u32) -> Area {
    Area {
        offset: layout.scratch.offset,
        size: n.saturating_mul(layout.sector_size).min(layout.scratch.size),
    }
}

/// The regions every A/B scheme uses: the bootloader, the two app slots (`a` = the primary
/// region, `b` = the secondary) and the record in the map's scratch region.
pub const AB_REGIONS: &[Role] = &[Role::Bootloader, Role::Primary, Role::Secondary, Role::Scratch];

/// The slot an A/B bootloader boots: the record's choice `start` if its image validates, else
/// (with `fallback`) the other slot if its image does, saying `boot: fallback`; `start` when
/// none does. An uncorrectable ECC read is an invalid image there; any other flash error ends
/// the boot.
pub(crate) fn first_valid_slot(
    hal: &mut dyn Hal,
    cfg: &BootConfig,
    start: Slot,
    fallback: bool,
) -> Result<Slot, FwError> {
    use crate::hal::FlashError;
    let both = [start, start.other()];
    for &slot in if fallback { &both[..] } else { &both[..1] } {
        let scheme = crate::boot::effective_mode(cfg).scheme();
        match scheme.validate_image(hal, cfg.layout.slot(slot), &cfg.key, cfg.variant) {
            Ok(_) => {
                if slot != start {
                    say!(hal, "boot: fallback slot={}", slot.name());
                }
                return Ok(slot);
            }
            Err(ImageError::Flash(e)) if !matches!(e, FlashError::Uncorrectable { .. }) => return Err(e.into()),
            Err(_) => {}
        }
    }
    Ok(start)
}

/// An A/B scheme with a boot-select record: what it shares with every other one is given here
/// once, and a type implementing this trait is a [`Scheme`] (a blanket implementation) that
/// writes only what differs. What they share: every update boots on trial and can revert
/// ([`Scheme::can_revert`]), it commits when the new image confirms itself
/// ([`CommitPoint::Confirm`], test or permanent alike), the regions are [`AB_REGIONS`], and by
/// default the layout needs two record sectors ([`check_record_layout`]), the bootloader
/// installs nothing before it picks a slot ([`AbRecord::boot`]) and a download needs nothing
/// cleared first (it erases the target slot sector by sector).
///
/// The methods mean what their namesakes in [`Scheme`] mean.
pub trait AbRecord: Sync {
    /// The name a campaign's `mode` gives.
    fn name(&self) -> &'static str;

    /// Each image runs from the slot it was written to ([`Scheme::runs_from_secondary`]); a
    /// scheme that swaps its images into one place to run them says `false`.
    fn runs_from_secondary(&self) -> bool {
        true
    }

    /// By default the slots and a region of at least two sectors for the record.
    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        check_record_layout(layout)
    }

    /// Where the record lives on `layout` (what [`Scheme::areas`] gives besides the slots): by
    /// default the first two sectors of the map's scratch region, one copy in each.
    fn record_area(&self, layout: &Layout) -> Area {
        scratch_sectors(layout, 2)
    }

    fn max_image_size(&self, layout: &Layout) -> u32 {
        layout.max_image_size()
    }

    /// What the scheme keeps in the scratch region ([`Scheme::scratch_use`]): by default its
    /// record, one copy per sector.
    fn scratch_use(&self) -> &'static str {
        "it keeps its boot-select record there, one copy in each of two sectors"
    }

    fn staging_area(&self, layout: &Layout) -> crate::layout::Area {
        layout.secondary
    }

    /// By default nothing to install: the record only selects a slot ([`AbRecord::boot_slot`]).
    fn boot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
        let _ = (hal, cfg);
        Ok(())
    }

    /// Reads the record (and may write it: a rollback state machine) and picks the slot.
    fn boot_slot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<Slot, FwError> {
        let _ = (hal, cfg);
        Ok(Slot::Primary)
    }

    fn provision(&self, layout: &Layout, slot: Slot, put: &mut dyn FnMut(u32, &[u8])) -> bool {
        let _ = (layout, put);
        slot == Slot::Primary
    }

    fn refused_version(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<Option<Version>, FwError> {
        let _ = (hal, cfg);
        Ok(None)
    }

    fn validate_image(
        &self,
        hal: &mut dyn Hal,
        area: Area,
        key: &PublicKey,
        variant: Variant,
    ) -> Result<ImageInfo, ImageError> {
        image::validate_with(hal, area, key, variant.image_checks())
    }

    fn image_version(&self, hal: &mut dyn Hal, area: Area) -> Result<Version, ImageError> {
        image::read_header(hal, area).map(|h| h.version)
    }

    fn image_hash(&self, hal: &mut dyn Hal, area: Area) -> Result<[u8; 32], ImageError> {
        image::read_hash(hal, area)
    }

    fn image_descriptor(&self, hal: &mut dyn Hal, area: Area) -> Result<Descriptor, ImageError> {
        image::read_descriptor(hal, area)
    }

    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError>;

    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError>;

    /// By default nothing: the download erases the target slot sector by sector.
    fn prepare_download(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        let _ = (hal, cfg);
        Ok(())
    }

    fn downloaded_chunk(&self, hal: &mut dyn Hal, cfg: &AppConfig, offset: u32) -> Result<(), FwError> {
        let _ = (hal, cfg, offset);
        Ok(())
    }

    /// Selects the target slot (on trial).
    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError>;
}

impl<T: AbRecord> Scheme for T {
    fn name(&self) -> &'static str {
        AbRecord::name(self)
    }

    fn can_revert(&self) -> bool {
        true
    }

    fn regions(&self) -> &'static [Role] {
        AB_REGIONS
    }

    fn scratch_use(&self) -> Option<&'static str> {
        Some(AbRecord::scratch_use(self))
    }

    fn areas(&self, layout: &Layout, put: &mut dyn FnMut(&'static str, Area)) {
        slot_areas(layout, put);
        put("record", AbRecord::record_area(self, layout));
    }

    fn runs_from_secondary(&self) -> bool {
        AbRecord::runs_from_secondary(self)
    }

    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        AbRecord::check_layout(self, layout)
    }

    fn max_image_size(&self, layout: &Layout) -> u32 {
        AbRecord::max_image_size(self, layout)
    }

    fn staging_area(&self, layout: &Layout) -> crate::layout::Area {
        AbRecord::staging_area(self, layout)
    }

    /// The new image confirms itself (`app: confirm`), test or permanent alike.
    fn commit_point(&self, _upgrade: Upgrade) -> CommitPoint {
        CommitPoint::Confirm
    }

    fn boot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
        AbRecord::boot(self, hal, cfg)
    }

    fn boot_slot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<Slot, FwError> {
        AbRecord::boot_slot(self, hal, cfg)
    }

    fn provision(&self, layout: &Layout, slot: Slot, put: &mut dyn FnMut(u32, &[u8])) -> bool {
        AbRecord::provision(self, layout, slot, put)
    }

    fn refused_version(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<Option<Version>, FwError> {
        AbRecord::refused_version(self, hal, cfg)
    }

    fn validate_image(
        &self,
        hal: &mut dyn Hal,
        area: Area,
        key: &PublicKey,
        variant: Variant,
    ) -> Result<ImageInfo, ImageError> {
        AbRecord::validate_image(self, hal, area, key, variant)
    }

    fn image_version(&self, hal: &mut dyn Hal, area: Area) -> Result<Version, ImageError> {
        AbRecord::image_version(self, hal, area)
    }

    fn image_hash(&self, hal: &mut dyn Hal, area: Area) -> Result<[u8; 32], ImageError> {
        AbRecord::image_hash(self, hal, area)
    }

    fn image_descriptor(&self, hal: &mut dyn Hal, area: Area) -> Result<Descriptor, ImageError> {
        AbRecord::image_descriptor(self, hal, area)
    }

    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        AbRecord::app_boot(self, hal, cfg)
    }

    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        AbRecord::confirm(self, hal, cfg, me)
    }

    fn prepare_download(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        AbRecord::prepare_download(self, hal, cfg)
    }

    fn downloaded_chunk(&self, hal: &mut dyn Hal, cfg: &AppConfig, offset: u32) -> Result<(), FwError> {
        AbRecord::downloaded_chunk(self, hal, cfg, offset)
    }

    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        AbRecord::request(self, hal, cfg)
    }
}

/// The schemes built into the firmware, in the order campaign errors list them.
pub static BUILTIN: &[&dyn Scheme] = &[
    &swap_scratch::SwapScratch,
    &overwrite::Overwrite,
    &swap_move::SWAP_MOVE,
    &swap_offset::SWAP_OFFSET,
    &esp_idf::EspIdf,
    &redundant::RedundantCopies,
    &direct_xip::WITH_REVERT,
    &atomic_word::AtomicWord,
    &embassy_boot::EmbassyBoot,
    &direct_xip::NO_REVERT,
    &pending_log::PendingLog,
];

/// The schemes a rig knows: the built-in ones and any added by the caller.
#[derive(Clone, Copy)]
pub struct Registry<'a> {
    extra: &'a [&'static dyn Scheme],
}

impl Registry<'static> {
    /// The built-in schemes.
    pub const fn builtin() -> Registry<'static> {
        Registry { extra: &[] }
    }
}

impl Default for Registry<'static> {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl<'a> Registry<'a> {
    /// The built-in schemes and `extra` (a scheme of the same name as a built-in one is ignored).
    pub const fn with_extra(extra: &'a [&'static dyn Scheme]) -> Registry<'a> {
        Registry { extra }
    }

    /// Every registered scheme: the built-in ones first.
    pub fn iter(&self) -> impl Iterator<Item = Mode> + 'a {
        BUILTIN.iter().chain(self.extra.iter()).map(|s| Mode(*s))
    }

    /// The names a campaign's `mode` may take.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + 'a {
        self.iter().map(Mode::name)
    }

    /// The scheme called `name`.
    pub fn find(&self, name: &str) -> Option<Mode> {
        self.iter().find(|m| m.name() == name)
    }
}

impl fmt::Debug for Registry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

#[cfg(test)]
mod area_tests {
    extern crate std;
    use std::string::{String, ToString};
    use std::vec::Vec;

    use super::*;
    use crate::layout::Role;
    use crate::map::{FlashMap, Region};

    const K: u32 = 1024;

    /// The outside of `mode`'s areas on a map of a 64 KiB bootloader, two 192 KiB slots and a
    /// three-sector scratch region of 4 KiB sectors, with a 16 KiB storage region after it.
    fn outside(mode: Mode) -> Vec<(String, u32, u32)> {
        let mut regions = Vec::from([
            Region::internal(Role::Bootloader, 0, 64 * K, 4 * K),
            Region::internal(Role::Primary, 64 * K, 192 * K, 4 * K),
            Region::internal(Role::Secondary, 256 * K, 192 * K, 4 * K),
            Region::internal(Role::Scratch, 448 * K, 12 * K, 4 * K),
        ]);
        regions.push(Region {
            name: "storage",
            ..Region::internal(Role::Metadata, 460 * K, 16 * K, 4 * K)
        });
        let map = FlashMap {
            write_size: 4,
            regions: &regions,
        };
        let layout = map.layout().unwrap();
        let mut out = Vec::new();
        mode.outside_areas(&map, &layout, &mut |name, a| {
            out.push((name.to_string(), a.offset, a.size))
        });
        out
    }

    #[test]
    fn the_outside_of_a_scheme_is_every_part_of_the_map_it_does_not_write() {
        let boot = ("bootloader".to_string(), 0, 64 * K);
        let storage = ("storage".to_string(), 460 * K, 16 * K);
        // Swap-scratch copies through the whole scratch region.
        assert_eq!(outside(Mode::SWAP_SCRATCH), [boot.clone(), storage.clone()]);
        // Swap-offset and overwrite write no scratch: all of it is outside.
        let scratch = ("scratch".to_string(), 448 * K, 12 * K);
        assert_eq!(
            outside(Mode::SWAP_OFFSET),
            [boot.clone(), scratch.clone(), storage.clone()]
        );
        assert_eq!(outside(Mode::OVERWRITE), [boot.clone(), scratch, storage.clone()]);
        // Direct-XIP keeps its note in the first scratch sector only.
        let after_note = ("scratch".to_string(), 452 * K, 8 * K);
        assert_eq!(outside(Mode::DIRECT_XIP), [boot.clone(), after_note, storage.clone()]);
        // ESP-IDF's otadata: the first two sectors.
        let esp = Registry::builtin().find("esp-idf").unwrap();
        let third = ("scratch".to_string(), 456 * K, 4 * K);
        assert_eq!(outside(esp), [boot, third, storage]);
    }
}
