//! ESP-IDF's app image format (magic 0xE9), as `esptool elf2image` writes it and ESP-IDF's
//! second-stage bootloader loads it.
//!
//! Facts from ESP-IDF (components/bootloader_support/include/esp_app_format.h and
//! esp_image_format.h, components/bootloader_support/src/esp_image_format.c, and the
//! "App Image Format" page of its docs; esptool's bin_image.py writes the same layout):
//! - an 8-byte header: magic 0xE9, segment count, SPI mode, SPI speed (low nibble) and size
//!   (high nibble), entry address (LE u32);
//! - a 16-byte extended header: WP pin, SPI pin drive settings (3 bytes), chip id (u16), min
//!   chip revision (u8), min and max chip revision "full" (u16 each, major * 100 + minor),
//!   4 reserved bytes, and `hash_appended` (u8);
//! - `segment_count` segments, each an 8-byte header (load address, data length; LE u32) and
//!   its data; ESP-IDF loads at most `ESP_IMAGE_MAX_SEGMENTS` (16) and refuses a data length
//!   that is not a multiple of 4;
//! - padding so that the checksum byte is the last byte of a 16-byte block, then the checksum:
//!   the XOR of every segment's data, seeded with `ESP_ROM_CHECKSUM_INITIAL` (0xEF);
//! - when `hash_appended` is set, a SHA-256 of every byte before it (header to checksum).
//!
//! The first segment of an app starts with `esp_app_desc_t` (components/esp_app_format/
//! include/esp_app_desc.h, esp_app_format.h before v5.0): magic_word 0xABCD5432,
//! secure_version, reserv1[2], version[32], project_name[32], time[16], date[16],
//! idf_ver[32], app_elf_sha256[32], then reserved bytes up to 256.
//!
//! Every size read from the bytes is checked against the slot before use: a torn or garbage
//! image is an error, never a panic.

use crate::hal::{Clock, Crypto, Flash, FlashError};
use crate::image::{hash_flash, HASH_US_PER_KIB};
use crate::layout::Area;

/// `ESP_IMAGE_HEADER_MAGIC`.
pub const ESP_IMAGE_MAGIC: u8 = 0xE9;
/// The header and the extended header.
pub const HEADER_SIZE: usize = 24;
/// `esp_image_segment_header_t`: load address and data length.
pub const SEGMENT_HEADER_SIZE: u32 = 8;
/// `ESP_IMAGE_MAX_SEGMENTS`.
pub const MAX_SEGMENTS: usize = 16;
/// `ESP_ROM_CHECKSUM_INITIAL`.
pub const CHECKSUM_SEED: u8 = 0xEF;
/// `ESP_APP_DESC_MAGIC_WORD`.
pub const APP_DESC_MAGIC: u32 = 0xABCD_5432;
/// `sizeof(esp_app_desc_t)`.
pub const APP_DESC_SIZE: usize = 256;
/// The appended SHA-256.
pub const DIGEST_SIZE: u32 = 32;

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The header and extended header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspHeader {
    pub segment_count: u8,
    pub spi_mode: u8,
    pub spi_speed: u8,
    pub spi_size: u8,
    pub entry_addr: u32,
    pub wp_pin: u8,
    pub spi_pin_drv: [u8; 3],
    pub chip_id: u16,
    pub min_chip_rev: u8,
    pub min_chip_rev_full: u16,
    pub max_chip_rev_full: u16,
    pub hash_appended: bool,
}

impl EspHeader {
    /// Decodes the 24 header bytes; `None` without the magic.
    pub fn parse(b: &[u8; HEADER_SIZE]) -> Option<EspHeader> {
        if b[0] != ESP_IMAGE_MAGIC {
            return None;
        }
        Some(EspHeader {
            segment_count: b[1],
            spi_mode: b[2],
            spi_speed: b[3] & 0x0f,
            spi_size: b[3] >> 4,
            entry_addr: le32(b, 4),
            wp_pin: b[8],
            spi_pin_drv: [b[9], b[10], b[11]],
            chip_id: le16(b, 12),
            min_chip_rev: b[14],
            min_chip_rev_full: le16(b, 15),
            max_chip_rev_full: le16(b, 17),
            hash_appended: b[23] != 0,
        })
    }
}

/// One segment: where it loads and where its data is in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Segment {
    pub load_addr: u32,
    pub data_len: u32,
    /// Offset of the data from the start of the image.
    pub data_offset: u32,
}

/// Where everything of an image is, from its headers (nothing checked but the sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspLayout {
    pub header: EspHeader,
    segments: [Segment; MAX_SEGMENTS],
    /// Offset of the checksum byte (the last byte of a 16-byte block).
    pub checksum_at: u32,
    /// The bytes the appended SHA-256 covers: header to checksum.
    pub image_len: u32,
    /// The whole image: `image_len` and the appended SHA-256, if any.
    pub total_size: u32,
}

impl EspLayout {
    pub fn segments(&self) -> &[Segment] {
        &self.segments[..usize::from(self.header.segment_count).min(MAX_SEGMENTS)]
    }
}

/// Why an image is refused, in the order the bootloader checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EspImageError {
    /// No 0xE9 magic at the start.
    NoHeader,
    /// No segment, or more than the bootloader loads.
    SegmentCount(u8),
    /// Segment `index` is cut short by the end of the slot, or its length is not a multiple
    /// of 4.
    BadSegment {
        index: u8,
    },
    /// The checksum (or the appended hash) lies past the end of the slot.
    Truncated,
    /// The stored checksum is not the XOR of the segment data.
    Checksum {
        stored: u8,
        computed: u8,
    },
    /// The appended SHA-256 is not the digest of the image.
    HashMismatch,
    Flash(FlashError),
}

impl From<FlashError> for EspImageError {
    fn from(e: FlashError) -> Self {
        EspImageError::Flash(e)
    }
}

impl core::fmt::Display for EspImageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EspImageError::NoHeader => write!(f, "no image magic 0xe9"),
            EspImageError::SegmentCount(n) => write!(f, "{n} segments (1 to {MAX_SEGMENTS} allowed)"),
            EspImageError::BadSegment { index } => {
                write!(
                    f,
                    "segment {index} runs past the slot or its length is not a multiple of 4"
                )
            }
            EspImageError::Truncated => write!(f, "the checksum or the appended SHA-256 is past the end of the slot"),
            EspImageError::Checksum { stored, computed } => {
                write!(f, "checksum 0x{stored:02x} stored, 0x{computed:02x} computed")
            }
            EspImageError::HashMismatch => write!(f, "the appended SHA-256 does not match the image"),
            EspImageError::Flash(e) => write!(f, "flash read failed: {e:?}"),
        }
    }
}

/// Reads the header at the start of `slot`.
pub fn read_header<F: Flash + ?Sized>(flash: &mut F, slot: Area) -> Result<EspHeader, EspImageError> {
    if slot.size < HEADER_SIZE as u32 {
        return Err(EspImageError::Truncated);
    }
    let mut b = [0u8; HEADER_SIZE];
    flash.read(slot.offset, &mut b)?;
    EspHeader::parse(&b).ok_or(EspImageError::NoHeader)
}

/// Walks the segment headers of the image at the start of `slot`; every size is checked
/// against the slot.
pub fn read_layout<F: Flash + ?Sized>(flash: &mut F, slot: Area) -> Result<EspLayout, EspImageError> {
    let header = read_header(flash, slot)?;
    let count = header.segment_count;
    if count == 0 || usize::from(count) > MAX_SEGMENTS {
        return Err(EspImageError::SegmentCount(count));
    }
    let mut segments = [Segment::default(); MAX_SEGMENTS];
    let mut at = HEADER_SIZE as u32;
    for (index, seg) in segments.iter_mut().take(usize::from(count)).enumerate() {
        let bad = EspImageError::BadSegment { index: index as u8 };
        let data_offset = at
            .checked_add(SEGMENT_HEADER_SIZE)
            .filter(|e| *e <= slot.size)
            .ok_or(bad)?;
        let mut b = [0u8; SEGMENT_HEADER_SIZE as usize];
        flash.read(slot.offset + at, &mut b)?;
        let data_len = le32(&b, 4);
        // esp_image_format.c, process_segment(): "unaligned segment length" is refused.
        if !data_len.is_multiple_of(4) {
            return Err(bad);
        }
        at = data_offset
            .checked_add(data_len)
            .filter(|e| *e <= slot.size)
            .ok_or(bad)?;
        *seg = Segment {
            load_addr: le32(&b, 0),
            data_len,
            data_offset,
        };
    }
    // The checksum is the last byte of a 16-byte block (esp_image_format.c, verify_checksum()).
    let checksum_at = (at | 15).min(u32::MAX - 1);
    let image_len = checksum_at + 1;
    let total_size = if header.hash_appended {
        image_len.checked_add(DIGEST_SIZE)
    } else {
        Some(image_len)
    }
    .filter(|e| *e <= slot.size)
    .ok_or(EspImageError::Truncated)?;
    Ok(EspLayout {
        header,
        segments,
        checksum_at,
        image_len,
        total_size,
    })
}

/// The XOR of every segment's data, seeded with 0xEF.
pub fn compute_checksum<F: Flash + ?Sized>(flash: &mut F, slot: Area, layout: &EspLayout) -> Result<u8, FlashError> {
    let mut sum = CHECKSUM_SEED;
    let mut buf = [0u8; 256];
    for seg in layout.segments() {
        let mut done = 0u32;
        while done < seg.data_len {
            let n = (seg.data_len - done).min(buf.len() as u32) as usize;
            flash.read(slot.offset + seg.data_offset + done, &mut buf[..n])?;
            sum = buf[..n].iter().fold(sum, |s, b| s ^ b);
            done += n as u32;
        }
    }
    Ok(sum)
}

/// The image's `esp_app_desc_t`, when its first segment starts with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppDesc {
    pub secure_version: u32,
    pub version: [u8; 32],
    pub project_name: [u8; 32],
    pub time: [u8; 16],
    pub date: [u8; 16],
    pub idf_ver: [u8; 32],
    pub app_elf_sha256: [u8; 32],
}

/// A NUL-terminated field as text: up to the first NUL, `None` when not UTF-8.
pub fn c_str(b: &[u8]) -> Option<&str> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    core::str::from_utf8(&b[..end]).ok()
}

impl AppDesc {
    /// Decodes the 256 bytes; `None` without the magic word.
    pub fn parse(b: &[u8; APP_DESC_SIZE]) -> Option<AppDesc> {
        if le32(b, 0) != APP_DESC_MAGIC {
            return None;
        }
        let field = |at: usize, out: &mut [u8]| {
            let n = out.len();
            out.copy_from_slice(&b[at..at + n]);
        };
        let mut d = AppDesc {
            secure_version: le32(b, 4),
            version: [0; 32],
            project_name: [0; 32],
            time: [0; 16],
            date: [0; 16],
            idf_ver: [0; 32],
            app_elf_sha256: [0; 32],
        };
        field(16, &mut d.version);
        field(48, &mut d.project_name);
        field(80, &mut d.time);
        field(96, &mut d.date);
        field(112, &mut d.idf_ver);
        field(144, &mut d.app_elf_sha256);
        Some(d)
    }

    pub fn version_str(&self) -> Option<&str> {
        c_str(&self.version)
    }
}

/// Reads the app descriptor at the start of the first segment, if there is one.
pub fn read_app_desc<F: Flash + ?Sized>(
    flash: &mut F,
    slot: Area,
    layout: &EspLayout,
) -> Result<Option<AppDesc>, FlashError> {
    let Some(first) = layout.segments().first() else {
        return Ok(None);
    };
    if (first.data_len as usize) < APP_DESC_SIZE {
        return Ok(None);
    }
    let mut b = [0u8; APP_DESC_SIZE];
    flash.read(slot.offset + first.data_offset, &mut b)?;
    Ok(AppDesc::parse(&b))
}

/// Where an app image's `esp_app_desc_t` is: right after the image header and the first
/// segment's header. ESP-IDF's application reads it there from a partition or a download
/// without checking the image (`esp_ota_get_partition_description` in
/// components/app_update/esp_ota_ops.c reads `sizeof(esp_image_header_t) +
/// sizeof(esp_image_segment_header_t)` bytes in; examples/system/ota/native_ota_example reads
/// the new version from the first chunk of a download at the same offset).
pub const APP_DESC_OFFSET: u32 = HEADER_SIZE as u32 + SEGMENT_HEADER_SIZE;

/// The app descriptor at [`APP_DESC_OFFSET`] of the image at the start of `slot`, read as the
/// application reads it: the header's magic and the descriptor's magic word, nothing else
/// checked (a download half done names its version). `Ok(None)` without either magic.
pub fn peek_app_desc<F: Flash + ?Sized>(flash: &mut F, slot: Area) -> Result<Option<AppDesc>, FlashError> {
    if slot.size < APP_DESC_OFFSET + APP_DESC_SIZE as u32 {
        return Ok(None);
    }
    let mut magic = [0u8; 1];
    flash.read(slot.offset, &mut magic)?;
    if magic[0] != ESP_IMAGE_MAGIC {
        return Ok(None);
    }
    let mut b = [0u8; APP_DESC_SIZE];
    flash.read(slot.offset + APP_DESC_OFFSET, &mut b)?;
    Ok(AppDesc::parse(&b))
}

/// Which checks a build of the bootloader runs (the reference runs both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspChecks {
    pub checksum: bool,
    /// The appended SHA-256, when the header says there is one.
    pub hash: bool,
}

impl EspChecks {
    pub const ALL: EspChecks = EspChecks {
        checksum: true,
        hash: true,
    };
}

/// A valid image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspImageInfo {
    pub layout: EspLayout,
    /// SHA-256 of the image (header to checksum): the appended one when it matched.
    pub digest: [u8; 32],
    pub app_desc: Option<AppDesc>,
}

/// Checks the image at the start of `slot` as ESP-IDF's bootloader does without secure boot
/// (esp_image_format.c, image_load(): the header, each segment, the checksum, then the
/// appended SHA-256 when `hash_appended` is set).
pub fn validate<H: Crypto + Clock + ?Sized>(
    hal: &mut H,
    slot: Area,
    checks: EspChecks,
) -> Result<EspImageInfo, EspImageError> {
    let layout = read_layout(hal, slot)?;
    let computed = compute_checksum(hal, slot, &layout)?;
    hal.spend_us(HASH_US_PER_KIB * u64::from(layout.image_len).div_ceil(1024));
    let mut stored = [0u8; 1];
    hal.read(slot.offset + layout.checksum_at, &mut stored)?;
    if checks.checksum && stored[0] != computed {
        return Err(EspImageError::Checksum {
            stored: stored[0],
            computed,
        });
    }
    let digest = hash_flash(hal, slot.offset, layout.image_len)?;
    if layout.header.hash_appended && checks.hash {
        let mut appended = [0u8; DIGEST_SIZE as usize];
        hal.read(slot.offset + layout.image_len, &mut appended)?;
        if appended != digest {
            return Err(EspImageError::HashMismatch);
        }
    }
    let app_desc = read_app_desc(hal, slot, &layout)?;
    Ok(EspImageInfo {
        layout,
        digest,
        app_desc,
    })
}

/// The app descriptor's version as an image version: ESP-IDF's `PROJECT_VER` is free text;
/// a plain `X.Y.Z` or `vX.Y.Z` (each number in range) reads as `X.Y.Z+0`, anything else as
/// `None`.
pub fn app_version(desc: &AppDesc) -> Option<crate::image::Version> {
    let s = desc.version_str()?;
    let s = s.strip_prefix('v').unwrap_or(s);
    let mut parts = s.split('.');
    let num = |p: Option<&str>| -> Option<u32> {
        let p = p?;
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let (major, minor, revision) = (num(parts.next())?, num(parts.next())?, num(parts.next())?);
    if parts.next().is_some() {
        return None;
    }
    Some(crate::image::Version {
        major: u8::try_from(major).ok()?,
        minor: u8::try_from(minor).ok()?,
        revision: u16::try_from(revision).ok()?,
        build: 0,
    })
}
