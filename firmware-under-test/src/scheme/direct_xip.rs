//! MCUboot's direct-XIP mode with its revert mechanism (MCUBOOT_DIRECT_XIP and
//! MCUBOOT_DIRECT_XIP_REVERT): the slots are equals, nothing is ever copied. The bootloader
//! boots the slot whose image has the highest version; the application runs from either slot
//! and downloads into the other one. Facts from MCUboot's docs/design.md ("Equal slots
//! (direct-xip)", "Revert mechanism in direct-xip and ram-load mode") and bootutil's loader.c
//! (`boot_get_slot_usage`, `find_slot_with_highest_version`, `boot_select_or_erase`,
//! `boot_load_and_validate_images`, `boot_validate_slot`):
//! - a slot is a candidate when its image header is valid; the candidate with the highest
//!   version is selected (`boot_compare_version`: major, minor, revision; the build number
//!   only with MCUBOOT_VERSION_CMP_USE_BUILD_NUMBER, which this build does not set; on a tie
//!   the primary slot, the first one looked at);
//! - with revert, the selected slot's trailer is read: a magic that is not good, or copy_done
//!   set without image_ok (the image was tried at an earlier boot and never confirmed), gets
//!   the whole slot erased from its start (`boot_scramble_region(fap, 0, size)`) and the next
//!   candidate is selected; otherwise copy_done is set if it was not (the slot is "selected",
//!   before validation: an image that then fails validation is erased anyway);
//! - the image is validated (hash and signature); an invalid one has its slot erased too
//!   (`boot_validate_slot`: slots are equivalent in this mode) and the next candidate is
//!   selected;
//! - images are signed with a trailer (`imgtool sign --pad`): an image without a good magic is
//!   erased. A factory image is flashed padded and confirmed ([`Scheme::provision`]).
//!
//! The application asks for a test upgrade by writing the magic into the trailer of the slot
//! it downloaded to (with image_ok first for a permanent one: MCUboot's `boot_set_pending`),
//! and confirms by writing image_ok into its own slot's trailer (`boot_set_confirmed`). The
//! commit of a test upgrade is that image_ok in the new slot: from then on the bootloader
//! keeps booting it. A permanent request carries its image_ok from the start.
//!
//! MCUboot's bootloader erases a reverted image whole: nothing on flash says afterwards that
//! an update was tried and failed. An update client that downloads by itself would fetch the
//! same failing image and try it at every start, so this application keeps a note of the
//! version it handed over to ([`Note`], in the first sector of the map's scratch region, the
//! application's own storage): after the bootloader fell back, the same version is not tried
//! again unless the server asks for it. The note is the application's, not MCUboot's; the
//! bootloader never reads it.
//!
//! Without revert ([`NO_REVERT`], mode `direct-xip-no-revert`: MCUBOOT_DIRECT_XIP alone) the
//! bootloader never reads a trailer (`boot_select_or_erase` is compiled only with
//! MCUBOOT_DIRECT_XIP_REVERT, loader.c): the valid slot with the highest version boots, an
//! invalid one is erased and the other tried (docs/design.md, "Equal slots (direct-xip)").
//! Nothing is confirmed and nothing reverts: an update is in place, for good, once its image is
//! whole and valid in its slot (the application's `ota: verify-ok`): every later boot selects it.

use super::{AppBoot, CommitPoint, Scheme, Upgrade};
use crate::app::AppConfig;
use crate::boot::{ops, BootConfig};
use crate::hal::{Flash, FlashError, Hal};
use crate::image::{self, ImageError, Version};
use crate::layout::{Area, Layout, LayoutError, Role, Slot};
use crate::trailer::{self, Field, Flag, Magic};
use crate::variant::Variant;
use crate::{say, FwError};

/// The scheme's name (a campaign's `mode`).
pub const NAME: &str = "direct-xip";
/// The name of direct-XIP without revert.
pub const NAME_NO_REVERT: &str = "direct-xip-no-revert";

/// Bytes of the application's note (`XIPN`, the version, its complement, erased padding).
pub const NOTE_SIZE: usize = 32;
/// The note's tag.
pub const NOTE_TAG: [u8; 4] = *b"XIPN";

const SLOTS: [Slot; 2] = [Slot::Primary, Slot::Secondary];

/// What the bootloader does with the slot it selected, from that slot's trailer, as
/// `boot_select_or_erase` decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// No good magic: not an image signed with a trailer, or a request never completed. Erased.
    NoMagic,
    /// copy_done set without image_ok: tried at an earlier boot, never confirmed. Erased.
    TriedUnconfirmed,
    /// Never tried: copy_done is set now and the image is booted on trial (or for good when
    /// image_ok is set already: a permanent request).
    FirstTry,
    /// Tried before and confirmed (or a permanent request tried before): booted.
    Confirmed,
}

impl Selection {
    pub const fn name(self) -> &'static str {
        match self {
            Selection::NoMagic => "no-magic",
            Selection::TriedUnconfirmed => "tried-unconfirmed",
            Selection::FirstTry => "first-try",
            Selection::Confirmed => "confirmed",
        }
    }

    /// Whether the bootloader erases the slot instead of booting it.
    pub const fn erases(self) -> bool {
        matches!(self, Selection::NoMagic | Selection::TriedUnconfirmed)
    }
}

/// `boot_select_or_erase`'s decision on a trailer.
pub fn selection(t: &trailer::Trailer) -> Selection {
    if t.magic != Magic::Good {
        Selection::NoMagic
    } else if t.copy_done == Flag::Set && t.image_ok != Flag::Set {
        Selection::TriedUnconfirmed
    } else if t.copy_done != Flag::Set {
        Selection::FirstTry
    } else {
        Selection::Confirmed
    }
}

/// The versions MCUboot compares (major, minor, revision; not the build number).
pub fn version_key(v: Version) -> (u8, u8, u16) {
    (v.major, v.minor, v.revision)
}

/// `find_slot_with_highest_version`: among the slots still available, the one whose image has
/// the highest version; the first looked at (the primary) on a tie.
pub fn highest(versions: &[Option<Version>; 2]) -> Option<Slot> {
    let mut best: Option<(Slot, Version)> = None;
    for (i, v) in versions.iter().enumerate() {
        if let Some(v) = *v {
            if best.is_none_or(|(_, b)| version_key(v) > version_key(b)) {
                best = Some((SLOTS[i], v));
            }
        }
    }
    best.map(|(s, _)| s)
}

fn index(slot: Slot) -> usize {
    match slot {
        Slot::Primary => 0,
        Slot::Secondary => 1,
    }
}

/// The application's note of the version it last handed over to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    pub version: Version,
}

impl Note {
    pub fn bytes(&self) -> [u8; NOTE_SIZE] {
        let mut b = [0xffu8; NOTE_SIZE];
        b[0..4].copy_from_slice(&NOTE_TAG);
        let v = version_bytes(self.version);
        b[4..12].copy_from_slice(&v);
        for (i, x) in v.iter().enumerate() {
            b[12 + i] = !x;
        }
        b
    }

    /// A note whose tag and complement check; `None` for anything else (erased, torn).
    pub fn parse(b: &[u8]) -> Option<Note> {
        if b.len() < 20 || b[0..4] != NOTE_TAG {
            return None;
        }
        if (0..8).any(|i| b[12 + i] != !b[4 + i]) {
            return None;
        }
        Some(Note {
            version: Version {
                major: b[4],
                minor: b[5],
                revision: u16::from_le_bytes([b[6], b[7]]),
                build: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
            },
        })
    }
}

fn version_bytes(v: Version) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = v.major;
    b[1] = v.minor;
    b[2..4].copy_from_slice(&v.revision.to_le_bytes());
    b[4..8].copy_from_slice(&v.build.to_le_bytes());
    b
}

/// The sector that holds the application's note: the first of the map's scratch region.
pub fn note_area(layout: &Layout) -> Area {
    Area {
        offset: layout.scratch.offset,
        size: layout.sector_size,
    }
}

/// The note's bytes read [`trailer::SETTLE_READS`] times: the AND of every read, and whether
/// the reads disagreed.
fn read_note<F: Flash + ?Sized>(flash: &mut F, layout: &Layout) -> Result<([u8; NOTE_SIZE], bool), FlashError> {
    let at = note_area(layout).offset;
    let mut all = [0xffu8; NOTE_SIZE];
    let mut first = [0u8; NOTE_SIZE];
    let mut unsteady = false;
    for pass in 0..trailer::SETTLE_READS {
        let mut b = [0u8; NOTE_SIZE];
        match flash.read(at, &mut b) {
            Ok(()) => {}
            Err(FlashError::Uncorrectable { .. }) => b = [0; NOTE_SIZE],
            Err(e) => return Err(e),
        }
        if pass == 0 {
            first = b;
        } else if b != first {
            unsteady = true;
        }
        for (a, x) in all.iter_mut().zip(b) {
            *a &= x;
        }
    }
    Ok((all, unsteady))
}

/// Erases the note's sector and writes `note` (padded to the part's write size).
fn write_note<F: Flash + ?Sized>(flash: &mut F, layout: &Layout, note: Option<Note>) -> Result<(), FlashError> {
    let area = note_area(layout);
    flash.erase(area.offset, area.size)?;
    if let Some(n) = note {
        let w = layout.write_size.max(1) as usize;
        let len = NOTE_SIZE.div_ceil(w) * w;
        let mut buf = [0xffu8; 256];
        let len = len.min(buf.len());
        buf[..NOTE_SIZE].copy_from_slice(&n.bytes());
        flash.write(area.offset, &buf[..len])?;
    }
    Ok(())
}

/// Erases a whole slot from its start, one sector at a time (`boot_scramble_region` over the
/// slot, forwards): a cut part-way has erased the header first.
fn erase_slot<F: Flash + ?Sized>(flash: &mut F, layout: &Layout, slot: Slot) -> Result<(), FlashError> {
    let area = layout.slot(slot);
    let mut at = area.offset;
    while at < area.end() {
        flash.erase(at, layout.sector_size)?;
        at += layout.sector_size;
    }
    Ok(())
}

/// Programs a trailer field again when its reads disagree (a weak bit left by a cut write),
/// where the part allows a second program; an ECC part refuses it and the field stays as read.
fn settle_field<F: Flash + ?Sized>(
    flash: &mut F,
    area: Area,
    r: &trailer::Reading,
    field: Field,
) -> Result<(), FlashError> {
    if r.steady(field) {
        return Ok(());
    }
    match trailer::program_field(flash, r.geom, area, field, &r.trailer) {
        Ok(()) | Err(FlashError::ProgramRefused { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// MCUboot direct-XIP, with revert (MCUBOOT_DIRECT_XIP_REVERT) or without.
#[derive(Debug, Clone, Copy)]
pub struct DirectXip {
    revert: bool,
}

/// Direct-XIP with revert (mode `direct-xip`).
pub const WITH_REVERT: DirectXip = DirectXip { revert: true };
/// Direct-XIP without revert (mode `direct-xip-no-revert`).
pub const NO_REVERT: DirectXip = DirectXip { revert: false };

impl Scheme for DirectXip {
    fn name(&self) -> &'static str {
        if self.revert {
            NAME
        } else {
            NAME_NO_REVERT
        }
    }

    /// Each image runs from the slot it was written to.
    fn runs_from_secondary(&self) -> bool {
        true
    }

    fn can_revert(&self) -> bool {
        self.revert
    }

    fn regions(&self) -> &'static [Role] {
        &[Role::Bootloader, Role::Primary, Role::Secondary, Role::Scratch]
    }

    /// The two slots and the application's note, in the first sector of the scratch region.
    fn areas(&self, layout: &Layout, put: &mut dyn FnMut(&'static str, Area)) {
        super::slot_areas(layout, put);
        put("note", note_area(layout));
    }

    fn scratch_use(&self) -> Option<&'static str> {
        Some("the application keeps its note in its first sector")
    }

    /// Two slots, and a sector in the scratch region for the application's note.
    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        layout.validate()?;
        layout.require_scratch(1)
    }

    /// A test upgrade commits when the new image sets its own image_ok (`app: confirm`); a
    /// permanent request carries image_ok already, and its image is in place once the
    /// bootloader first selects it (`boot: xip-select ... state=first-try image_ok=set`).
    /// Without revert every upgrade is for good: installed once its image is whole and valid.
    fn commit_point(&self, upgrade: Upgrade) -> CommitPoint {
        match upgrade {
            Upgrade::Test if self.revert => CommitPoint::Confirm,
            Upgrade::Test => CommitPoint::Installed,
            Upgrade::Permanent => CommitPoint::Installed,
        }
    }

    /// Nothing to install: the slot is chosen in [`Scheme::boot_slot`].
    fn boot(&self, _hal: &mut dyn Hal, _cfg: &BootConfig) -> Result<(), FwError> {
        Ok(())
    }

    fn boot_slot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<Slot, FwError> {
        let l = &cfg.layout;
        let mut versions: [Option<Version>; 2] = [None, None];
        for s in SLOTS {
            match image::read_header(hal, l.slot(s)) {
                Ok(h) => versions[index(s)] = Some(h.version),
                Err(ImageError::Flash(e)) if !matches!(e, FlashError::Uncorrectable { .. }) => return Err(e.into()),
                Err(_) => {}
            }
        }
        loop {
            let Some(slot) = highest(&versions) else {
                say!(hal, "boot: xip-none");
                // The bootloader's validation of the primary then fails: no bootable image.
                return Ok(Slot::Primary);
            };
            let area = l.slot(slot);
            let version = versions[index(slot)].unwrap_or_default();
            if !self.revert {
                // MCUBOOT_DIRECT_XIP alone: no trailer is read, the image is validated below.
                say!(
                    hal,
                    "boot: xip-select slot={} version={} state=no-revert",
                    slot.name(),
                    version
                );
            } else if cfg.variant != Variant::XipBootsUnconfirmed {
                let r = trailer::read_settled(hal, cfg.layout.trailer_geom(), area)?;
                let sel = selection(&r.trailer);
                say!(
                    hal,
                    "boot: xip-select slot={} version={} state={} image_ok={}",
                    slot.name(),
                    version,
                    sel.name(),
                    if r.trailer.image_ok == Flag::Set {
                        "set"
                    } else {
                        "unset"
                    }
                );
                if sel.erases() {
                    say!(hal, "boot: xip-erase slot={} reason={}", slot.name(), sel.name());
                    erase_slot(hal, l, slot)?;
                    say!(hal, "boot: xip-erased slot={}", slot.name());
                    versions[index(slot)] = None;
                    continue;
                }
                // A magic or flag a cut left weak is programmed again, so every later boot
                // reads what this one read.
                settle_field(hal, area, &r, Field::Magic)?;
                if sel == Selection::FirstTry {
                    // MCUboot sets copy_done before validating. Where the part refuses the
                    // write (a granule an earlier cut tore, on an ECC part), MCUboot logs a
                    // warning and boots the image anyway ("Failed to set copy_done flag"):
                    // the image can then never be marked as tried, and one that fails its
                    // health check is booted on trial at every reset, never reverted. This
                    // build takes the torn flag for the try it records: the slot is erased.
                    match trailer::write_copy_done(hal, cfg.layout.trailer_geom(), area) {
                        Ok(()) => {}
                        Err(FlashError::ProgramRefused { .. }) => {
                            say!(hal, "boot: xip-erase slot={} reason=copy-done-torn", slot.name());
                            erase_slot(hal, l, slot)?;
                            say!(hal, "boot: xip-erased slot={}", slot.name());
                            versions[index(slot)] = None;
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    settle_field(hal, area, &r, Field::CopyDone)?;
                }
            } else {
                // This build never reads the trailer: the highest version boots, tried or not.
                say!(
                    hal,
                    "boot: xip-select slot={} version={} state=unchecked",
                    slot.name(),
                    version
                );
            }
            match image::validate_with(hal, area, &cfg.key, cfg.variant.image_checks()) {
                Ok(_) => return Ok(slot),
                Err(ImageError::Flash(e)) if !matches!(e, FlashError::Uncorrectable { .. }) => return Err(e.into()),
                Err(e) => {
                    say!(hal, "boot: xip-erase slot={} reason=invalid-{}", slot.name(), e.name());
                    erase_slot(hal, l, slot)?;
                    say!(hal, "boot: xip-erased slot={}", slot.name());
                    versions[index(slot)] = None;
                }
            }
        }
    }

    /// Either slot: the baseline is flashed padded and confirmed (`imgtool sign --pad
    /// --confirm`: image_ok and the magic at the end of the slot), as direct-XIP with revert
    /// needs of every image.
    fn provision(&self, layout: &Layout, slot: Slot, put: &mut dyn FnMut(u32, &[u8])) -> bool {
        if self.revert {
            trailer::put_confirmed(layout.trailer_geom(), layout.slot(slot), put);
        }
        true
    }

    /// The running slot's trailer: image_ok set on every read, or the image must confirm. A
    /// note whose reads disagree (a cut inside its write) is written again as it reads, or
    /// erased when it does not read whole.
    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        if !self.revert {
            return Ok(AppBoot::default());
        }
        let r = trailer::read_settled(hal, cfg.layout.trailer_geom(), cfg.running_area())?;
        let confirmed = r.trailer.image_ok == Flag::Set && r.steady(Field::ImageOk);
        let (bytes, unsteady) = read_note(hal, &cfg.layout)?;
        let note = Note::parse(&bytes);
        if unsteady {
            say!(hal, "app: xip-note-rewrite");
            write_note(hal, &cfg.layout, note)?;
        }
        let me = image::read_header(hal, cfg.running_area()).ok().map(|h| h.version);
        Ok(AppBoot {
            pending: !confirmed,
            reverted: note.is_some_and(|n| Some(n.version) != me),
            restart: false,
        })
    }

    /// The version the note names, when the running image is not it: the bootloader fell
    /// back from it.
    fn refused_version(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<Option<Version>, FwError> {
        if !self.revert {
            return Ok(None);
        }
        let (bytes, _) = read_note(hal, &cfg.layout)?;
        let me = image::read_header(hal, cfg.running_area()).ok().map(|h| h.version);
        Ok(Note::parse(&bytes).map(|n| n.version).filter(|v| Some(*v) != me))
    }

    /// `boot_set_confirmed`: image_ok in the running slot's trailer. A write the part refuses
    /// or that does not read back steadily (a torn granule of an earlier cut confirm) gets the
    /// trailer rewritten: erase, magic, image_ok, copy_done. A cut before the magic is back
    /// leaves a slot the bootloader erases (the confirm line has not been printed: the update
    /// had not committed); a cut after it leaves an image not yet tried, booted again.
    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        if !self.revert {
            // Nothing to confirm: no bootloader reads it.
            return Ok(());
        }
        let area = cfg.running_area();
        let written = match trailer::write_image_ok(hal, cfg.layout.trailer_geom(), area) {
            Ok(()) => true,
            Err(FlashError::ProgramRefused { .. }) => false,
            Err(e) => return Err(e.into()),
        };
        let mut steady = written && {
            let r = trailer::read_settled(hal, cfg.layout.trailer_geom(), area)?;
            r.trailer.image_ok == Flag::Set && r.steady(Field::ImageOk)
        };
        if written && !steady {
            steady = match trailer::write_image_ok(hal, cfg.layout.trailer_geom(), area) {
                Ok(()) => {
                    let r = trailer::read_settled(hal, cfg.layout.trailer_geom(), area)?;
                    r.trailer.image_ok == Flag::Set && r.steady(Field::ImageOk)
                }
                Err(FlashError::ProgramRefused { .. }) => false,
                Err(e) => return Err(e.into()),
            };
        }
        if !steady {
            ops::erase_trailer_of(hal, &cfg.layout, cfg.running)?;
            trailer::write_magic(hal, cfg.layout.trailer_geom(), area)?;
            trailer::write_image_ok(hal, cfg.layout.trailer_geom(), area)?;
            trailer::write_copy_done(hal, cfg.layout.trailer_geom(), area)?;
        }
        say!(hal, "app: confirm version={}", me);
        Ok(())
    }

    /// A download from byte 0 starts with the target slot's trailer erased.
    fn prepare_download(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        if self.revert {
            ops::erase_trailer_of(hal, &cfg.layout, cfg.target())?;
        }
        Ok(())
    }

    /// `boot_set_pending` on the target slot: image_ok first for a permanent request, the magic
    /// last; then the note of the version handed over to.
    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        if !self.revert {
            // The whole, valid image is the request: the highest version boots.
            return Ok(());
        }
        let target = cfg.target();
        let area = cfg.layout.slot(target);
        if !ops::is_blank(hal, ops::trailer_area(&cfg.layout, target))? {
            ops::erase_trailer_of(hal, &cfg.layout, target)?;
        }
        if cfg.permanent {
            trailer::write_image_ok(hal, cfg.layout.trailer_geom(), area)?;
        }
        trailer::write_magic(hal, cfg.layout.trailer_geom(), area)?;
        let version = image::read_header(hal, area).ok().map(|h| h.version);
        if let Some(version) = version {
            say!(hal, "ota: xip-note version={}", version);
            write_note(hal, &cfg.layout, Some(Note { version }))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u8, build: u32) -> Version {
        Version {
            major,
            minor: 0,
            revision: 0,
            build,
        }
    }

    #[test]
    fn the_highest_version_wins_and_the_primary_on_a_tie() {
        assert_eq!(highest(&[Some(v(1, 0)), Some(v(2, 0))]), Some(Slot::Secondary));
        assert_eq!(highest(&[Some(v(3, 0)), Some(v(2, 0))]), Some(Slot::Primary));
        assert_eq!(highest(&[Some(v(2, 0)), Some(v(2, 9))]), Some(Slot::Primary));
        assert_eq!(highest(&[None, Some(v(1, 0))]), Some(Slot::Secondary));
        assert_eq!(highest(&[None, None]), None);
    }

    #[test]
    fn selection_follows_boot_select_or_erase() {
        let t = |magic, copy_done, image_ok| trailer::Trailer {
            magic,
            image_ok,
            copy_done,
            swap_info: 0xff,
            swap_size: u32::MAX,
        };
        assert_eq!(selection(&t(Magic::Unset, Flag::Unset, Flag::Set)), Selection::NoMagic);
        assert_eq!(selection(&t(Magic::Bad, Flag::Set, Flag::Set)), Selection::NoMagic);
        assert_eq!(
            selection(&t(Magic::Good, Flag::Set, Flag::Unset)),
            Selection::TriedUnconfirmed
        );
        assert_eq!(
            selection(&t(Magic::Good, Flag::Set, Flag::Bad)),
            Selection::TriedUnconfirmed
        );
        assert_eq!(
            selection(&t(Magic::Good, Flag::Unset, Flag::Unset)),
            Selection::FirstTry
        );
        assert_eq!(selection(&t(Magic::Good, Flag::Bad, Flag::Unset)), Selection::FirstTry);
        assert_eq!(selection(&t(Magic::Good, Flag::Set, Flag::Set)), Selection::Confirmed);
    }

    #[test]
    fn a_note_reads_back_and_a_torn_one_does_not() {
        let n = Note {
            version: Version {
                major: 2,
                minor: 1,
                revision: 300,
                build: 7,
            },
        };
        let b = n.bytes();
        assert_eq!(Note::parse(&b), Some(n));
        for i in 0..20 {
            let mut torn = b;
            torn[i] ^= 0x10;
            assert_eq!(Note::parse(&torn), None, "byte {i}");
        }
        assert_eq!(Note::parse(&[0xff; NOTE_SIZE]), None);
    }
}
