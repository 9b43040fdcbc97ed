//! Per-scheme metadata decoders: what a scheme keeps on flash, read back from a dump, and what
//! the pass rule asks of it (which slot runs, whether the running image is confirmed, metadata
//! left behind after the device settled).
//!
//! Each decoder is a module here and one line in [`DECODERS`], next to the firmware scheme it
//! reads (`fut::scheme`).

mod esp_idf;
mod mcuboot;
mod redundant;

use fut::layout::Layout;
use fut::scheme::{esp_idf as esp_idf_scheme, overwrite, redundant as redundant_scheme, swap_scratch};
use fut::PublicKey;

use crate::decode::FlashReport;
use crate::slice_flash::SliceFlash;

pub use esp_idf::EspIdfOtadata;
pub use mcuboot::{McubootTrailers, OverwriteTrailers};
pub use redundant::RedundantCopiesRecord;

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

    /// The running image's confirmation, when the metadata says it is not confirmed.
    fn unconfirmed(&self, report: &FlashReport) -> Option<Unconfirmed>;

    /// The rollback copy the metadata says the device keeps, if any. `None` when the scheme
    /// keeps none, or when nothing is left to roll back to (no update installed, a revert
    /// done, a permanent install).
    fn rollback_copy(&self, report: &FlashReport) -> Option<RollbackCopy>;

    /// Metadata a settled device should not have left behind (warnings on a cut).
    fn leftovers(&self, report: &FlashReport) -> Vec<String>;
}

/// The decoders, by the name of the firmware scheme whose metadata they read.
pub static DECODERS: &[(&str, &dyn MetadataDecoder)] = &[
    (swap_scratch::NAME, &McubootTrailers),
    (overwrite::NAME, &OverwriteTrailers),
    (esp_idf_scheme::NAME, &EspIdfOtadata),
    (redundant_scheme::NAME, &RedundantCopiesRecord),
];

/// The decoder of the scheme called `name`.
pub fn decoder(name: &str) -> Option<&'static dyn MetadataDecoder> {
    DECODERS.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
}

/// The decoder used when no scheme is named (`cutpoint inspect`): MCUboot trailers and scratch.
pub fn default_decoder() -> &'static dyn MetadataDecoder {
    &McubootTrailers
}
