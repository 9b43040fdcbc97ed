//! ESP-IDF app images (magic 0xE9) read from a file or a slot of a dump: header, segments,
//! checksum, appended SHA-256 and the app descriptor. The verdict is the firmware's own
//! ([`fut::esp_image::validate`], the esp-idf bootloader's check) over a read-only
//! [`SliceFlash`]; the listing around it is read with the same bounds checks, so nothing here
//! panics on any bytes.

use serde::{Deserialize, Serialize};

use fut::esp_image::{self, c_str, EspChecks, EspImageError, EspLayout, ESP_IMAGE_MAGIC};
use fut::layout::Area;

use crate::decode::{ImageReport, KeyReport, SignatureReport, Validity, ADDR_LIMIT};
use crate::slice_flash::SliceFlash;

/// One segment of the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EspSegmentReport {
    pub load_addr: u32,
    pub data_len: u32,
    /// Offset of its data from the start of the image.
    pub data_offset: u32,
}

/// The image's `esp_app_desc_t`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EspAppReport {
    /// As stored (`v1.2.3`, `1.0.0-dirty`...); non-UTF-8 bytes read as `?`.
    pub version: String,
    pub project_name: String,
    pub time: String,
    pub date: String,
    pub idf_ver: String,
    pub secure_version: u32,
    /// Hex.
    pub app_elf_sha256: String,
}

/// Everything about one ESP app image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EspImageReport {
    pub segment_count: u8,
    pub chip_id: u16,
    /// `ESP32-C3`..., when the chip id is known.
    pub chip: Option<String>,
    pub spi_mode: u8,
    pub entry_addr: u32,
    /// Chip revisions the image runs on, major * 100 + minor.
    pub min_chip_rev_full: u16,
    pub max_chip_rev_full: u16,
    pub hash_appended: bool,
    /// The segments, when every header fits the bytes at hand.
    pub segments: Vec<EspSegmentReport>,
    /// Header to checksum: the bytes the SHA-256 covers.
    pub image_len: Option<u32>,
    /// `image_len` and the appended SHA-256.
    pub total_size: Option<u32>,
    pub checksum_stored: Option<u8>,
    pub checksum_computed: Option<u8>,
    /// The first check that failed, in the bootloader's words.
    pub problem: Option<String>,
    pub app: Option<EspAppReport>,
    /// The app descriptor's version as the rig names versions ([`rig_version`]).
    pub rig_version: Option<String>,
}

/// The chip ids of `esp_chip_id_t` (components/bootloader_support/include/esp_app_format.h).
fn chip_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0x0000 => "ESP32",
        0x0002 => "ESP32-S2",
        0x0005 => "ESP32-C3",
        0x0009 => "ESP32-S3",
        0x000C => "ESP32-C2",
        0x000D => "ESP32-C6",
        0x0010 => "ESP32-H2",
        0x0012 => "ESP32-P4",
        0x0014 => "ESP32-C61",
        0x0017 => "ESP32-C5",
        _ => return None,
    })
}

/// A version as the rig names versions, `MAJOR.MINOR.REVISION+BUILD`: ESP-IDF's `PROJECT_VER`
/// is free text, often `v1.2.3` or `1.2.3`; a plain `[v]X.Y.Z` gets build 0, anything else is
/// kept as written.
pub fn rig_version(stored: &str) -> String {
    let v = stored.strip_prefix('v').unwrap_or(stored);
    let numeric = |s: &str| !s.is_empty() && s.len() <= 5 && s.chars().all(|c| c.is_ascii_digit());
    if !v.contains('+') && v.split('.').count() == 3 && v.split('.').all(numeric) {
        format!("{v}+0")
    } else {
        v.to_string()
    }
}

fn text(b: &[u8]) -> String {
    match c_str(b) {
        Some(s) => s.to_string(),
        None => {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).replace('\u{fffd}', "?")
        }
    }
}

/// Whether `bytes` start like an ESP app image (the magic byte).
pub fn is_esp_image(bytes: &[u8]) -> bool {
    bytes.first() == Some(&ESP_IMAGE_MAGIC)
}

fn validity(e: EspImageError) -> Validity {
    match e {
        EspImageError::NoHeader => Validity::NoHeader,
        EspImageError::SegmentCount(_) | EspImageError::BadSegment { .. } | EspImageError::Truncated => {
            Validity::BadSize
        }
        EspImageError::Checksum { .. } | EspImageError::HashMismatch => Validity::HashMismatch,
        EspImageError::Flash(_) => Validity::OutsideDump,
    }
}

/// Decodes an ESP app image held alone in `bytes` (header at offset 0).
pub fn decode_esp_image(bytes: &[u8]) -> ImageReport {
    let usable = bytes.len().min(ADDR_LIMIT as usize);
    let mut flash = SliceFlash::new(&bytes[..usable], 0);
    decode_esp_image_in(
        &mut flash,
        Area {
            offset: 0,
            size: usable as u32,
        },
    )
}

/// Decodes the ESP app image at the start of `slot` in a dump (`slot` ends at or below the
/// address limit).
pub fn decode_esp_image_in(flash: &mut SliceFlash<'_>, slot: Area) -> ImageReport {
    let avail = flash.get_prefix(slot.offset, slot.size as usize);
    let header = avail
        .get(..esp_image::HEADER_SIZE)
        .and_then(|b| <&[u8; esp_image::HEADER_SIZE]>::try_from(b).ok())
        .and_then(esp_image::EspHeader::parse);
    let header_erased = avail
        .get(..esp_image::HEADER_SIZE)
        .is_some_and(|b| b.iter().all(|&x| x == 0xff));
    let layout: Option<Result<EspLayout, EspImageError>> = header.map(|_| esp_image::read_layout(flash, slot));
    let ok_layout = layout.and_then(Result::ok);
    let verdict = esp_image::validate(flash, slot, EspChecks::ALL);
    let validity_now = match &verdict {
        Ok(_) => Validity::Valid,
        Err(e) => validity(*e),
    };
    let checksum_computed = ok_layout.and_then(|l| esp_image::compute_checksum(flash, slot, &l).ok());
    let checksum_stored = ok_layout.and_then(|l| avail.get(l.checksum_at as usize).copied());
    let computed = ok_layout.and_then(|l| {
        avail
            .get(..l.image_len as usize)
            .map(|b| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b)))
    });
    let appended = ok_layout.filter(|l| l.header.hash_appended).and_then(|l| {
        avail
            .get(l.image_len as usize..(l.image_len + esp_image::DIGEST_SIZE) as usize)
            .map(hex::encode)
    });
    let app = ok_layout
        .and_then(|l| esp_image::read_app_desc(flash, slot, &l).ok().flatten())
        .map(|d| EspAppReport {
            version: text(&d.version),
            project_name: text(&d.project_name),
            time: text(&d.time),
            date: text(&d.date),
            idf_ver: text(&d.idf_ver),
            secure_version: d.secure_version,
            app_elf_sha256: hex::encode(d.app_elf_sha256),
        });
    let esp = header.map(|h| EspImageReport {
        segment_count: h.segment_count,
        chip_id: h.chip_id,
        chip: chip_name(h.chip_id).map(str::to_string),
        spi_mode: h.spi_mode,
        entry_addr: h.entry_addr,
        min_chip_rev_full: h.min_chip_rev_full,
        max_chip_rev_full: h.max_chip_rev_full,
        hash_appended: h.hash_appended,
        segments: ok_layout.map_or_else(Vec::new, |l| {
            l.segments()
                .iter()
                .map(|s| EspSegmentReport {
                    load_addr: s.load_addr,
                    data_len: s.data_len,
                    data_offset: s.data_offset,
                })
                .collect()
        }),
        image_len: ok_layout.map(|l| l.image_len),
        total_size: ok_layout.map(|l| l.total_size),
        checksum_stored,
        checksum_computed,
        problem: verdict.as_ref().err().map(ToString::to_string),
        rig_version: app.as_ref().map(|a| rig_version(&a.version)),
        app,
    });
    let matches = match (&computed, &appended) {
        (Some(c), Some(a)) => c == a,
        _ => false,
    };
    ImageReport {
        validity: validity_now,
        key_checked: false,
        header: None,
        header_erased,
        protected_tlvs: None,
        tlvs: None,
        hash: crate::decode::HashReport {
            algorithm: "SHA256".to_string(),
            covered: ok_layout.map(|l| l.image_len),
            computed,
            tlv: appended,
            matches,
        },
        key: KeyReport {
            tlv: None,
            expected: None,
            matches: None,
        },
        signature: SignatureReport {
            kind: None,
            algorithm: None,
            checked: false,
            verified: None,
            status: "none (an ESP app image without secure boot: checksum and SHA-256 only)".to_string(),
        },
        total_size: ok_layout.map(|l| l.total_size),
        esp,
    }
}
