//! Per-scheme metadata decoders: what a scheme keeps on flash, read back from a dump, and what
//! the pass rule asks of it (which slot runs, whether the running image is confirmed, metadata
//! left behind after the device settled).
//!
//! Each decoder is a module here and one line in [`DECODERS`], next to the firmware scheme it
//! reads (`fut::scheme`).

mod atomic_word;
mod direct_xip;
mod embassy_boot;
mod esp_idf;
mod mcuboot;
mod pending_log;
mod redundant;
mod swap_move;

use fut::layout::Layout;
use fut::scheme::pending_log as pending_log_scheme;
use fut::scheme::{
    atomic_word as atomic_scheme, direct_xip as direct_xip_scheme, embassy_boot as embassy_scheme,
    esp_idf as esp_idf_scheme, overwrite, redundant as redundant_scheme, swap_move as move_scheme,
    swap_offset as offset_scheme, swap_scratch,
};
use fut::PublicKey;

use crate::decode::FlashReport;
use crate::slice_flash::SliceFlash;

pub use atomic_word::{decode_word, AtomicBootWord, AtomicWordReport};
pub use direct_xip::{decide as decide_direct_xip, DirectXipTrailers};
pub use embassy_boot::{decode_embassy_state, EmbassyBootState, EmbassyStateReport};
pub use esp_idf::EspIdfOtadata;
pub use mcuboot::{McubootTrailers, OverwriteTrailers};
pub use pending_log::{decode_pending_log, PendingFlagLog, PendingLogRecord, PendingLogReport, PendingLogSector};
pub use redundant::RedundantCopiesRecord;
pub use swap_move::NoScratchTrailers;

/// The slot the bootloader picks on a flash state, as the scheme's record says it: what the
/// reports show per cut (the slot the first boot after the cut starts from) and what the pass
/// rule reads once the device settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootPick {
    /// `primary` or `secondary`; `None` when the record leaves nothing to boot (direct-XIP with
    /// no bootable image) or is outside the dump.
    pub slot: Option<&'static str>,
    /// The scheme's own name for that slot, when it has one (`ota_1`, `slot B`).
    pub name: Option<String>,
    /// What the record says, in one line (`otadata sector 1: seq 2, ota_state new`).
    pub record: String,
    /// Where the copies of a record kept twice do not tell one story (empty when they agree or
    /// the scheme keeps one).
    pub disagreement: Vec<String>,
}

impl BootPick {
    /// No slot named: the record is outside the dump (or unreadable), as `record` says.
    pub fn unread(record: &str) -> Self {
        BootPick {
            slot: None,
            name: None,
            record: record.to_string(),
            disagreement: Vec::new(),
        }
    }
}

/// The slot name for a report: the layout's own `&'static str` for `primary` or `secondary`.
fn layout_slot(name: &str) -> &'static str {
    if name == fut::layout::Slot::Secondary.name() {
        fut::layout::Slot::Secondary.name()
    } else {
        fut::layout::Slot::Primary.name()
    }
}

/// The pick of an A/B record (redundant copies, the pending-flag log, the atomic word) that
/// selects `selected` (`None`: nothing selects, the primary boots) in `state`: `trial` boots
/// on trial, `trial-booted` (a trial that never cleared) reverts to the other slot at this
/// boot; the bootloader then falls back to the other slot when the image there is not valid.
/// Slot A is the primary, slot B the secondary.
fn ab_pick(selected: Option<&str>, state: Option<&str>, mut record: String, disagreement: Vec<String>) -> BootPick {
    let slot = match (selected.map(layout_slot), state) {
        (None, _) => {
            record.push_str(": nothing selects, slot A first");
            layout_slot("primary")
        }
        (Some(s), Some("trial-booted")) => {
            let back = if s == "primary" { "secondary" } else { "primary" };
            record.push_str(": a trial that never cleared, reverted at this boot");
            layout_slot(back)
        }
        (Some(s), Some("trial")) => {
            record.push_str(": booted on trial");
            s
        }
        (Some(s), _) => s,
    };
    BootPick {
        slot: Some(slot),
        name: Some(if slot == "primary" { "slot A" } else { "slot B" }.to_string()),
        record,
        disagreement,
    }
}

/// A running image the metadata does not record as confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unconfirmed {
    /// Where the confirmation would be (`the primary trailer`).
    pub record: String,
    /// What it reads (`image_ok unset`).
    pub state: String,
}

/// Where the image the device would roll back to must be, when the metadata says one must be
/// kept: while an update is undecided, a revert installs it, so it must be valid (hash and
/// signature) in its slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackCopy {
    /// The slot that holds it (`secondary`).
    pub slot: &'static str,
    /// What on flash says it must be there, and until when it mattered.
    pub why: String,
}

/// How the bootloader reads a relied-on byte range, which says when an unstable bit in it
/// changes what it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAs {
    /// Its value: any bit that reads differently from one read to the next changes the field
    /// (a magic, a flag, a type or size).
    Value,
    /// Only whether it reads erased (a swap status record, `written` when any bit is 0): an
    /// unstable bit matters when, with it read as 1, the whole record can read erased.
    Written {
        /// The record's byte as the dump read it.
        stored: u8,
    },
    /// Only whether it reads as one of a few magic bytes (a state word compared whole with a
    /// magic, anything else one meaning): an unstable bit matters when, its bits read either
    /// way, the byte can read as one of `magics`.
    Magic {
        /// The byte as the dump read it.
        stored: u8,
        magics: &'static [u8],
    },
}

/// A byte range of metadata the bootloader reads to decide what a boot does, once the device
/// has settled: a bit in it that reads differently from one read to the next turns some later
/// boot's decision into a coin flip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReliedOn {
    /// What it is, for a verdict: `primary trailer image_ok`, `primary status record region 3
    /// step 2`.
    pub what: String,
    /// Its flash addresses.
    pub range: std::ops::Range<u32>,
    pub read_as: ReadAs,
}

impl ReliedOn {
    /// Whether unstable bits `mask` at `addr` change what the bootloader reads here.
    pub fn upset_by(&self, addr: u32, mask: u8) -> bool {
        if mask == 0 || !self.range.contains(&addr) {
            return false;
        }
        match self.read_as {
            ReadAs::Value => true,
            // Only the record's first byte is read (the step number).
            ReadAs::Written { stored } => addr == self.range.start && stored | mask == 0xff,
            ReadAs::Magic { stored, magics } => magics.iter().any(|m| (stored ^ m) & !mask == 0),
        }
    }
}

/// Decodes one scheme's metadata from a dump.
pub trait MetadataDecoder: Sync {
    /// Why `layout` cannot be decoded against, if it cannot (nothing is decoded then).
    fn check_layout(&self, layout: &Layout) -> Result<(), String>;

    /// Fills the report's slots and scratch area.
    fn decode(&self, flash: &mut SliceFlash<'_>, layout: &Layout, key: Option<&PublicKey>, report: &mut FlashReport);

    /// The slot the device boots from.
    fn running_slot(&self) -> &'static str;

    /// The slot the bootloader picks on the decoded flash: the fixed [`running_slot`] on a
    /// scheme that always boots one slot; an A/B scheme reads its boot-select record. `None`
    /// when the record is not in the dump.
    ///
    /// [`running_slot`]: MetadataDecoder::running_slot
    fn booted_slot(&self, report: &FlashReport) -> Option<&'static str> {
        let _ = report;
        Some(self.running_slot())
    }

    /// What the bootloader reads to pick a slot, decoded into `report`: by default everything
    /// ([`MetadataDecoder::decode`]). A scheme whose pick needs no image (an A/B record, the
    /// trailers of an MCUboot swap) reads only its record, which is cheap enough for every cut.
    fn decode_pick(
        &self,
        flash: &mut SliceFlash<'_>,
        layout: &Layout,
        key: Option<&PublicKey>,
        report: &mut FlashReport,
    ) {
        self.decode(flash, layout, key, report);
    }

    /// The slot the bootloader picks on the flash `report` decodes (by
    /// [`MetadataDecoder::decode_pick`] or [`MetadataDecoder::decode`]) and what its record
    /// says: at its next boot, before it validates the image there (a scheme that falls back to
    /// the other slot's valid image says so in the record line).
    fn boot_pick(&self, report: &FlashReport) -> BootPick;

    /// The running image's confirmation, when the metadata says it is not confirmed.
    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed>;

    /// The rollback copy the metadata says the device keeps, if any. `None` when the scheme
    /// keeps none, or when nothing is left to roll back to (no update installed, a revert
    /// done, a permanent install).
    fn rollback_copy(&self, report: &FlashReport) -> Option<RollbackCopy>;

    /// Metadata a settled device should not have left behind (warnings on a cut).
    fn leftovers(&self, report: &FlashReport) -> Vec<String>;

    /// Where the scheme keeps its metadata on `layout`: the ranges a target reads for unstable
    /// bits once the device settled (a bench reads them several times through its probe and
    /// compares). Every range [`MetadataDecoder::relied_on`] can return lies inside them.
    fn metadata_areas(&self, layout: &Layout) -> Vec<std::ops::Range<u32>>;

    /// The metadata the bootloader relies on in the state `report` decodes: the fields and
    /// records a later boot reads to decide what to do.
    fn relied_on(&self, report: &FlashReport, layout: &Layout) -> Vec<ReliedOn>;

    /// The slots whose contents the pass rule's verdict reads for an `upgrade` of this scheme,
    /// each with the check that reads it: the slot the device runs from (the running image) and
    /// the slot a rollback copy may be kept in. A bench that cannot read one of them through
    /// its probe cannot judge the campaign. By default both slots: an A/B scheme runs from
    /// either and keeps the other as its way back.
    fn judged_slots(&self, upgrade: fut::scheme::Upgrade) -> Vec<JudgedSlot> {
        let _ = upgrade;
        vec![
            JudgedSlot {
                slot: "primary",
                check: "the running image and the rollback copy (either slot may hold either)",
            },
            JudgedSlot {
                slot: "secondary",
                check: "the running image and the rollback copy (either slot may hold either)",
            },
        ]
    }
}

/// A slot the pass rule reads, and for which check ([`MetadataDecoder::judged_slots`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JudgedSlot {
    pub slot: &'static str,
    pub check: &'static str,
}

/// The slots of an MCUboot mode that copies the update into the primary slot and runs it there:
/// the primary for the running image; for a test upgrade, the secondary too, which keeps the
/// old image to revert to until the new one confirms itself ([`MetadataDecoder::rollback_copy`]).
pub(crate) fn primary_and_test_copy(upgrade: fut::scheme::Upgrade, keeps_copy: bool) -> Vec<JudgedSlot> {
    let mut out = vec![JudgedSlot {
        slot: "primary",
        check: "the running image",
    }];
    if keeps_copy && upgrade == fut::scheme::Upgrade::Test {
        out.push(JudgedSlot {
            slot: "secondary",
            check: "the rollback copy of a test upgrade (the old image, kept there until the new one confirms itself)",
        });
    }
    out
}

/// The decoders, by the name of the firmware scheme whose metadata they read.
pub static DECODERS: &[(&str, &dyn MetadataDecoder)] = &[
    (swap_scratch::NAME, &McubootTrailers),
    (overwrite::NAME, &OverwriteTrailers),
    (move_scheme::NAME, &swap_move::SWAP_MOVE),
    (offset_scheme::NAME, &swap_move::SWAP_OFFSET),
    (esp_idf_scheme::NAME, &EspIdfOtadata),
    (redundant_scheme::NAME, &RedundantCopiesRecord),
    (direct_xip_scheme::NAME, &DirectXipTrailers),
    (atomic_scheme::NAME, &AtomicBootWord),
    (embassy_scheme::NAME, &EmbassyBootState),
    (pending_log_scheme::NAME, &PendingFlagLog),
];

/// The decoder of the scheme called `name`.
pub fn decoder(name: &str) -> Option<&'static dyn MetadataDecoder> {
    DECODERS.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
}

/// The decoder used when no scheme is named (`cutpoint inspect`): MCUboot trailers and scratch.
pub fn default_decoder() -> &'static dyn MetadataDecoder {
    &McubootTrailers
}
