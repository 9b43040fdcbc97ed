//! Decoder of flash dumps taken after a power cut: MCUboot image headers, TLVs, hash, key and
//! signature; slot trailers, swap status records and the scratch journal; ESP-IDF otadata.
//!
//! Verdicts and trailer fields are decoded by the firmware's own format code (the `fut` crate)
//! running over a read-only [`SliceFlash`]. Nothing here panics on any input bytes: sizes read
//! from the dump are bounds-checked before use, and areas the dump does not hold come out as
//! absent.

pub mod decode;
pub mod esp_image;
pub mod image_cache;
mod journal_terms;
pub mod otadata;
pub mod redundant;
pub mod render;
pub mod scheme;
pub mod signature;
pub mod slice_flash;
pub mod tlv;
pub mod verdict;

pub use decode::{
    boot_pick_for, decode_flash, decode_flash_for, decode_flash_for_cached, decode_flash_with, decode_image,
    AreaReport, Coverage, FlagState, FlashReport, HashReport, HeaderReport, ImageReport, KeyReport, LayoutReport,
    MagicState, ScratchReport, SignatureReport, SlotReport, SlotSummary, StatusRecord, StatusReport, SwapPoint,
    SwapProgress, TrailerReport, Validity,
};
pub use esp_image::{decode_esp_image, EspAppReport, EspImageReport, EspSegmentReport};
pub use image_cache::{DumpKeys, ImageCache};
pub use otadata::{decode_otadata, otadata_crc, OtaEntry, OtadataReport, SectorCondition};
pub use render::{render_image_text, render_otadata_text, render_redundant_text, render_text};
pub use slice_flash::SliceFlash;
pub use tlv::{TlvArea, TlvEntry};
pub use verdict::{flash_verdict, image_verdict, Gate, Verdict};
