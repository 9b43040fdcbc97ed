//! Decodes MCUboot images and the slot, trailer and scratch state of a flash dump.
//!
//! Verdicts come from the firmware's own code ([`fut::image::validate`] and friends, run over a
//! [`SliceFlash`]), so the decoder says what the bootloader would say; the listings around them
//! (every TLV, every status record) are read here with their own bounds checks.

use std::fmt;

use serde::{Deserialize, Serialize};

use fut::hal::{verify_ed25519, verify_p256};
use fut::image::{
    self, ImageError, ImageHeader, HEADER_SIZE, IMAGE_MAGIC, TLV_ECDSA_SIG, TLV_ED25519, TLV_KEYHASH, TLV_SHA256,
};
use fut::key::p256_signature_from_der;
use fut::layout::{Area, Layout};
use fut::trailer::{Flag, Magic};
use fut::PublicKey;

use crate::image_cache::{DumpKeys, ImageCache};
pub use crate::render::{render_image_text, render_text};
use crate::scheme::{self, MetadataDecoder};
use crate::signature::{self, unsupported_note, Scheme};
use crate::slice_flash::SliceFlash;
use crate::tlv::{self, TlvArea};

/// The largest address any area may end at; keeps the firmware's u32 arithmetic (an entry
/// length added to an offset near the end of a slot) far from overflowing.
pub(crate) const ADDR_LIMIT: u64 = u32::MAX as u64 - 0x2_0000;

/// The verdict on one image: `valid` or the first check that failed, in the bootloader's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validity {
    Valid,
    /// No image magic at the start (erased, torn or garbage).
    NoHeader,
    /// Header sizes do not fit the slot (or the bytes stop inside the header).
    BadSize,
    /// The TLV area is missing or malformed.
    BadTlv,
    /// The SHA-256 TLV does not match the image (or there is none).
    HashMismatch,
    /// The key hash TLV names another key (or there is none).
    UnknownKey,
    /// The signature is missing or does not verify.
    BadSignature,
    /// Header, TLVs and hash are sound, but the signature is of an algorithm cutpoint does not
    /// verify (RSA, ECDSA P-384...): the image is not known to be valid.
    Unverified,
    /// Deciding needs bytes the dump does not hold.
    OutsideDump,
}

impl Validity {
    pub const fn name(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::NoHeader => "no-header",
            Validity::BadSize => "bad-size",
            Validity::BadTlv => "bad-tlv",
            Validity::HashMismatch => "hash-mismatch",
            Validity::UnknownKey => "unknown-key",
            Validity::BadSignature => "bad-signature",
            Validity::Unverified => "unverified",
            Validity::OutsideDump => "outside-dump",
        }
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<ImageError> for Validity {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::NoHeader => Validity::NoHeader,
            ImageError::BadSize => Validity::BadSize,
            ImageError::BadTlv => Validity::BadTlv,
            ImageError::HashMismatch => Validity::HashMismatch,
            ImageError::UnknownKey => Validity::UnknownKey,
            ImageError::BadSignature => Validity::BadSignature,
            // A policy refusal of a sound image (validate never returns it): the image is valid.
            ImageError::Downgrade => Validity::Valid,
            // A dump's only read error is a read outside it.
            ImageError::Flash(_) => Validity::OutsideDump,
        }
    }
}

/// The decoded 32-byte image header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderReport {
    pub load_addr: u32,
    pub hdr_size: u16,
    pub protect_tlv_size: u16,
    /// Body size.
    pub img_size: u32,
    pub flags: u32,
    /// Names of the set flag bits (`PIC`, `NON_BOOTABLE`...; unknown bits as hex).
    pub flag_names: Vec<String>,
    /// `major.minor.revision+build`.
    pub version: String,
}

/// The image's hash: as computed over header, body and protected TLVs, and as claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashReport {
    /// The hash TLV's type name: `SHA256`, or `SHA384` / `SHA512` when the image has no
    /// SHA256 TLV but one of those.
    pub algorithm: String,
    /// Bytes the hash covers (`hdr_size + img_size + protect_tlv_size`).
    pub covered: Option<u32>,
    /// Computed digest, hex; `None` when the covered bytes are not all at hand.
    pub computed: Option<String>,
    /// The hash TLV, hex.
    pub tlv: Option<String>,
    pub matches: bool,
}

/// The key hash TLV against the key the caller trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyReport {
    /// The KEYHASH TLV, hex: 32 bytes (SHA-256), or 48 / 64 (an image hashed with SHA-384 or
    /// SHA-512, whose key hash is of that length).
    pub tlv: Option<String>,
    /// What the TLV must hold for the given key: SHA-256 of its DER SubjectPublicKeyInfo, hex.
    pub expected: Option<String>,
    /// Whether they are equal; `None` without a key.
    pub matches: Option<bool>,
}

/// The image's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureReport {
    /// Type name of the signature TLV found (`ED25519`, `ECDSA_SIG`...), if any.
    pub kind: Option<String>,
    /// The signature's algorithm (`Ed25519`, `ECDSA P-256`, `RSA-2048`...), if signed.
    pub algorithm: Option<String>,
    /// Whether the signature was checked against the given key.
    pub checked: bool,
    /// The result of that check (over the computed digest).
    pub verified: Option<bool>,
    /// In words: `verified`, `does NOT verify`, `not verified (RSA-2048 is not supported by
    /// cutpoint)`, `not checked (...)`, `none`.
    pub status: String,
}

/// Everything about one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageReport {
    /// The verdict. Without a key it covers header, TLVs, hash and the presence of the key
    /// hash and signature; the key and the signature themselves are unchecked.
    pub validity: Validity,
    /// Whether the verdict includes the key and signature checks.
    pub key_checked: bool,
    /// The header, when the image magic is there and all 32 bytes are at hand.
    pub header: Option<HeaderReport>,
    /// The first 32 bytes read as erased.
    pub header_erased: bool,
    /// Protected TLV area, when the header announces one.
    pub protected_tlvs: Option<TlvArea>,
    /// Unprotected TLV area (after the hashed bytes).
    pub tlvs: Option<TlvArea>,
    pub hash: HashReport,
    pub key: KeyReport,
    pub signature: SignatureReport,
    /// Header, body and all TLVs, when the bootloader's TLV walk accepts the image.
    pub total_size: Option<u32>,
    /// An ESP-IDF app image (magic 0xE9) instead of an MCUboot one: its header, segments,
    /// checksum and app descriptor (absent from every MCUboot image's report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esp: Option<crate::esp_image::EspImageReport>,
}

impl ImageReport {
    /// The version string, when there is a header; of an ESP app image, its app
    /// descriptor's version in the rig's form (see [`crate::esp_image::rig_version`]).
    pub fn version(&self) -> Option<&str> {
        match &self.header {
            Some(h) => Some(h.version.as_str()),
            None => self.esp.as_ref()?.rig_version.as_deref(),
        }
    }

    /// First 4 bytes of the SHA-256 TLV in hex, as the rig's logs print it; of an ESP app
    /// image, of its appended SHA-256 (its computed one when none is appended).
    pub fn short_hash(&self) -> Option<&str> {
        let esp_computed = || self.esp.as_ref().and(self.hash.computed.as_deref());
        self.hash.tlv.as_deref().or_else(esp_computed).and_then(|h| h.get(..8))
    }
}

/// The header flags that encrypt the body (AES-128, AES-256): the hash TLV covers the
/// plaintext, which a dump does not hold.
pub const IMAGE_F_ENCRYPTED: u32 = 0x04 | 0x08;
/// IMAGE_F_NON_BOOTABLE: MCUboot does not boot the image.
pub const IMAGE_F_NON_BOOTABLE: u32 = 0x10;
/// IMAGE_F_ROM_FIXED: the image runs only at its header's load address.
pub const IMAGE_F_ROM_FIXED: u32 = 0x100;

/// Names of the header flag bits.
fn flag_names(flags: u32) -> Vec<String> {
    // MCUboot's boot/bootutil/include/bootutil/image.h: IMAGE_F_PIC 0x1,
    // IMAGE_F_ENCRYPTED_AES128 0x4, IMAGE_F_ENCRYPTED_AES256 0x8, IMAGE_F_NON_BOOTABLE 0x10,
    // IMAGE_F_RAM_LOAD 0x20, IMAGE_F_ROM_FIXED 0x100 (mcumgr's image.h: IMAGE_F_ROM_FIXED_ADDR).
    const KNOWN: [(u32, &str); 6] = [
        (0x01, "PIC"),
        (0x04, "ENCRYPTED_AES128"),
        (0x08, "ENCRYPTED_AES256"),
        (0x10, "NON_BOOTABLE"),
        (0x20, "RAM_LOAD"),
        (IMAGE_F_ROM_FIXED, "ROM_FIXED"),
    ];
    let mut names: Vec<String> = KNOWN
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let unknown = KNOWN.iter().fold(flags, |f, (bit, _)| f & !bit);
    if unknown != 0 {
        names.push(format!("0x{unknown:x}"));
    }
    names
}

fn header_report(h: &ImageHeader) -> HeaderReport {
    HeaderReport {
        load_addr: h.load_addr,
        hdr_size: h.hdr_size,
        protect_tlv_size: h.protect_tlv_size,
        img_size: h.img_size,
        flags: h.flags,
        flag_names: flag_names(h.flags),
        version: h.version.to_string(),
    }
}

/// Decodes a signed image held alone in `bytes` (header at offset 0). `key` is the public key
/// the bootloader trusts; with it, the key hash and the signature are checked.
pub fn decode_image(bytes: &[u8], key: Option<&PublicKey>) -> ImageReport {
    if crate::esp_image::is_esp_image(bytes) {
        // An ESP-IDF app image: no MCUboot header starts with 0xe9 (its magic is 0x96f3b83d,
        // little-endian, first byte 0x3d).
        return crate::esp_image::decode_esp_image(bytes);
    }
    // Sizes past the address limit cannot be a slot's; the bytes beyond it are not looked at.
    let usable = bytes.len().min(ADDR_LIMIT as usize);
    let bytes = &bytes[..usable];
    let mut flash = SliceFlash::new(bytes, 0);
    let slot = Area {
        offset: 0,
        size: usable as u32,
    };
    decode_image_in(&mut flash, slot, key)
}

/// Decodes the image at the start of `slot` in a dump. `slot` must end at or below
/// [`ADDR_LIMIT`] (checked by the callers).
pub(crate) fn decode_image_in(flash: &mut SliceFlash<'_>, slot: Area, key: Option<&PublicKey>) -> ImageReport {
    match flash.image_cache() {
        Some(cache) => {
            // What the report depends on: the slot's bytes in the dump, the slot, the
            // geometry and the key.
            let bytes = flash.get_prefix(slot.offset, slot.size as usize);
            let keyed = flash.content_key(slot.offset, bytes.len());
            let mut copy = *flash;
            cache.get_or_decode(slot, flash.geometry(), key, (bytes, keyed), || {
                decode_image_uncached(&mut copy, slot, key)
            })
        }
        None => decode_image_uncached(flash, slot, key),
    }
}

fn decode_image_uncached(flash: &mut SliceFlash<'_>, slot: Area, key: Option<&PublicKey>) -> ImageReport {
    let avail = flash.get_prefix(slot.offset, slot.size as usize);
    let first = avail.get(..HEADER_SIZE);
    let header = first
        .and_then(|b| <&[u8; HEADER_SIZE]>::try_from(b).ok())
        .and_then(ImageHeader::parse);
    let header_erased = first.is_some_and(|b| b.iter().all(|&x| x == 0xff));

    let protected_tlvs = header
        .filter(|h| h.protect_tlv_size > 0)
        .and_then(|h| h.tlv_offset())
        .map(|at| tlv::walk(avail, at as usize, image::TLV_PROT_INFO_MAGIC));
    let hashed = header.and_then(|h| h.hashed_len());
    let tlvs = hashed.map(|at| tlv::walk(avail, at as usize, image::TLV_INFO_MAGIC));
    let scheme = tlvs.as_ref().map_or(Scheme::Unsigned, Scheme::of);
    let (hash_kind, hash_name) = tlvs.as_ref().map_or((TLV_SHA256, "SHA256"), signature::hash_tlv);

    let covered = hashed.filter(|n| *n <= slot.size && (*n as usize) <= avail.len());
    let computed: Option<Vec<u8>> = covered.and_then(|n| {
        if hash_kind == TLV_SHA256 {
            image::hash_flash(flash, slot.offset, n).ok().map(|d| d.to_vec())
        } else {
            Some(signature::digest(hash_kind, &avail[..n as usize]))
        }
    });
    let claimed = tlvs.as_ref().and_then(|t| t.last_bytes(avail, hash_kind));
    let claimed_key = tlvs
        .as_ref()
        .and_then(|t| t.last_bytes(avail, TLV_KEYHASH))
        .filter(|k| [32, 48, 64].contains(&k.len()));
    let sig_kind = tlvs
        .as_ref()
        .and_then(|t| t.entries.iter().rev().find(|e| tlv::is_signature(e.kind)))
        .map(|e| e.name.clone());

    // The key hash is of the length the image's KEYHASH TLV has (imgtool hashes the key with
    // the image's hash algorithm): SHA-256, SHA-384 or SHA-512 of the DER SubjectPublicKeyInfo.
    let expected_key: Option<Vec<u8>> = key.map(|k| {
        let (prefix, bytes) = k.spki_parts();
        let der = [prefix, bytes].concat();
        match claimed_key.map(<[u8]>::len) {
            Some(48) => signature::digest(signature::TLV_SHA384, &der),
            Some(64) => signature::digest(signature::TLV_SHA512, &der),
            _ => k.key_hash().to_vec(),
        }
    });
    let sha256: Option<[u8; 32]> = computed
        .as_deref()
        .filter(|_| hash_kind == TLV_SHA256)
        .and_then(|d| d.try_into().ok());
    let validity = verdict(flash, slot, key, avail, tlvs.as_ref(), scheme, computed.as_deref());
    let verified = match (key, tlvs.as_ref(), sha256) {
        // The bootloader's check verified this very signature: no second verification (the
        // judge decodes every cut's slots).
        (Some(k), Some(_), Some(_)) if validity == Validity::Valid && scheme_matches_key(scheme, k) => Some(true),
        (Some(k), Some(t), Some(digest)) if scheme_matches_key(scheme, k) => Some(verify(k, t, avail, &digest)),
        _ => None,
    };
    let status = signature_status(scheme, key, verified);
    let total_size = image::total_size(flash, slot).ok().or_else(|| {
        tlvs.as_ref()
            .filter(|_| matches!(scheme, Scheme::Unsupported { .. }))
            .and_then(listed_end)
    });
    ImageReport {
        validity,
        key_checked: key.is_some(),
        header: header.as_ref().map(header_report),
        header_erased,
        protected_tlvs,
        tlvs,
        hash: HashReport {
            algorithm: hash_name.to_string(),
            covered: hashed,
            computed: computed.as_deref().map(hex::encode),
            tlv: claimed.map(hex::encode),
            matches: computed.is_some() && computed.as_deref() == claimed,
        },
        key: KeyReport {
            tlv: claimed_key.map(hex::encode),
            expected: expected_key.as_deref().map(hex::encode),
            matches: expected_key.as_deref().map(|e| Some(e) == claimed_key),
        },
        signature: SignatureReport {
            kind: sig_kind,
            algorithm: scheme.algorithm().map(str::to_string),
            checked: verified.is_some(),
            verified,
            status,
        },
        total_size,
        esp: None,
    }
}

/// The end of a TLV area listed whole, without faults.
fn listed_end(tlvs: &TlvArea) -> Option<u32> {
    tlvs.total
        .filter(|_| tlvs.error.is_none() && tlvs.magic == Some(tlvs.expected_magic))
        .map(|t| tlvs.offset + u32::from(t))
}

/// True when `key` is of the algorithm the image's signature uses.
fn scheme_matches_key(scheme: Scheme, key: &PublicKey) -> bool {
    matches!(scheme, Scheme::Supported { tlv, .. } if tlv == key.signature_tlv())
}

/// Checks the image's last signature of `key`'s type over `digest`.
fn verify(key: &PublicKey, tlvs: &TlvArea, avail: &[u8], digest: &[u8; 32]) -> bool {
    match key {
        PublicKey::Ed25519(k) => tlvs
            .last_value::<64>(TLV_ED25519)
            .is_some_and(|sig| verify_ed25519(k, digest, &sig)),
        PublicKey::P256(k) => tlvs
            .last_bytes(avail, TLV_ECDSA_SIG)
            .and_then(p256_signature_from_der)
            .is_some_and(|sig| verify_p256(k, digest, &sig)),
    }
}

fn signature_status(scheme: Scheme, key: Option<&PublicKey>, verified: Option<bool>) -> String {
    match (scheme, key, verified) {
        (Scheme::Unsigned, _, _) => "none".into(),
        (Scheme::Unsupported { algorithm }, _, _) => format!("not verified ({})", unsupported_note(algorithm)),
        (_, _, Some(true)) => "verified".into(),
        (_, _, Some(false)) => "does NOT verify".into(),
        (_, None, None) => "not checked (no key given)".into(),
        (Scheme::Supported { algorithm, .. }, Some(k), None) if !scheme_matches_key(scheme, k) => format!(
            "not checked (signed with {algorithm}, the key given is {})",
            k.algorithm()
        ),
        (_, Some(_), None) => "not checked (the hashed bytes are not all at hand)".into(),
    }
}

/// The bootloader's verdict. With a key it is exactly [`fut::image::validate`]; without one the
/// same steps run up to the key check, which becomes "is there a key hash and a signature".
/// An image signed with a scheme cutpoint does not verify gets its structure and hash checked
/// and is [`Validity::Unverified`].
fn verdict(
    flash: &mut SliceFlash<'_>,
    slot: Area,
    key: Option<&PublicKey>,
    avail: &[u8],
    tlvs: Option<&TlvArea>,
    scheme: Scheme,
    computed: Option<&[u8]>,
) -> Validity {
    if avail.len() < HEADER_SIZE {
        // The bytes stop inside the header (decode_flash never gets here: it decodes a slot only
        // when its header is in the dump). With the magic, the header is cut short.
        return if avail.get(..4) == Some(&IMAGE_MAGIC.to_le_bytes()[..]) {
            Validity::BadSize
        } else {
            Validity::NoHeader
        };
    }
    if let (Some(k), Scheme::Supported { .. } | Scheme::Unsigned) = (key, scheme) {
        return match image::validate(flash, slot, k) {
            Ok(_) => Validity::Valid,
            Err(e) => e.into(),
        };
    }
    let mut checks = || -> Result<Validity, ImageError> {
        let header = image::read_header(flash, slot)?;
        header.hashed_len().ok_or(ImageError::BadSize)?;
        let tlvs = tlvs.ok_or(ImageError::BadTlv)?;
        if let Scheme::Unsupported { .. } = scheme {
            // The bootloader's walk only knows its own algorithm's entries (a SHA-384 key hash
            // is a fault to it); the listing must be whole instead.
            if listed_end(tlvs).is_none() {
                return Err(ImageError::BadTlv);
            }
        } else {
            // The bootloader's walk accepted the area, so the listing holds the same entries.
            image::total_size(flash, slot)?;
        }
        let (hash_kind, _) = signature::hash_tlv(tlvs);
        let claimed = tlvs.last_bytes(avail, hash_kind);
        let Some(computed) = computed else {
            return Ok(Validity::OutsideDump);
        };
        if claimed != Some(computed) {
            return Err(ImageError::HashMismatch);
        }
        match scheme {
            Scheme::Unsupported { .. } => return Ok(Validity::Unverified),
            Scheme::Unsigned => return Err(ImageError::BadSignature),
            Scheme::Supported { .. } => {}
        }
        if tlvs.last_value::<32>(TLV_KEYHASH).is_none() {
            return Err(ImageError::UnknownKey);
        }
        let signature_present = tlvs.last_value::<64>(TLV_ED25519).is_some()
            || tlvs
                .last_bytes(avail, TLV_ECDSA_SIG)
                .and_then(p256_signature_from_der)
                .is_some();
        if !signature_present {
            return Err(ImageError::BadSignature);
        }
        Ok(Validity::Valid)
    };
    match checks() {
        Ok(v) => v,
        Err(e) => e.into(),
    }
}

/// How much of an area the dump holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coverage {
    Full,
    Partial,
    Absent,
    /// The area lives on a device the probe cannot read (a serial NOR beside the part): what
    /// it holds is unknown, which is a limitation of the rig, not the device's state.
    Unreadable,
}

impl Coverage {
    pub(crate) fn of(flash: &SliceFlash<'_>, area: Area) -> Coverage {
        if flash.covers(area.offset, area.size) {
            Coverage::Full
        } else if flash.touches(area.offset, area.size) {
            Coverage::Partial
        } else {
            Coverage::Absent
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Coverage::Full => "full",
            Coverage::Partial => "partial",
            Coverage::Absent => "absent",
            Coverage::Unreadable => "not readable through the probe",
        }
    }
}

/// A trailer magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MagicState {
    Good,
    Unset,
    Bad,
}

impl MagicState {
    pub const fn name(self) -> &'static str {
        match self {
            MagicState::Good => "good",
            MagicState::Unset => "unset",
            MagicState::Bad => "bad",
        }
    }
}

impl From<Magic> for MagicState {
    fn from(m: Magic) -> Self {
        match m {
            Magic::Good => MagicState::Good,
            Magic::Unset => MagicState::Unset,
            Magic::Bad => MagicState::Bad,
        }
    }
}

/// A trailer flag (image_ok, copy_done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlagState {
    Set,
    Unset,
    Bad,
}

impl FlagState {
    pub const fn name(self) -> &'static str {
        match self {
            FlagState::Set => "set",
            FlagState::Unset => "unset",
            FlagState::Bad => "bad",
        }
    }
}

impl From<Flag> for FlagState {
    fn from(f: Flag) -> Self {
        match f {
            Flag::Set => FlagState::Set,
            Flag::Unset => FlagState::Unset,
            Flag::Bad => FlagState::Bad,
        }
    }
}

/// The fixed trailer fields at the end of an area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailerReport {
    pub magic: MagicState,
    /// The 16 magic bytes in hex, when the magic is bad.
    pub magic_raw: Option<String>,
    pub image_ok: FlagState,
    pub image_ok_raw: u8,
    pub copy_done: FlagState,
    pub copy_done_raw: u8,
    pub swap_info_raw: u8,
    /// `unset` (erased), `none`, `test`, `perm`, `revert`, or `bad`.
    pub swap_type: String,
    /// Image number (high nibble of swap_info), when swap_info is written.
    pub image_num: Option<u8>,
    /// `None` when erased.
    pub swap_size: Option<u32>,
}

impl TrailerReport {
    /// `unset`, the swap type's name, or `bad(0x..)`.
    fn swap_token(&self) -> String {
        if self.swap_type == "bad" {
            format!("bad(0x{:02x})", self.swap_info_raw)
        } else {
            self.swap_type.clone()
        }
    }

    /// `magic=good image_ok=unset copy_done=set swap=test`.
    pub fn summary(&self) -> String {
        format!(
            "magic={} image_ok={} copy_done={} swap={}",
            self.magic.name(),
            self.image_ok.name(),
            self.copy_done.name(),
            self.swap_token()
        )
    }
}

/// One written swap status record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    /// Region index, 1 = the first region swapped (the highest-addressed).
    pub region: u32,
    /// Copy step 1..=3.
    pub step: u32,
    /// First byte of the record (the step number when written by the bootloader).
    pub value: u8,
}

/// A (region, step) position in a swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapPoint {
    pub region: u32,
    pub step: u32,
}

/// The swap status records of a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Regions the records cover (one per sector of the slot).
    pub capacity: u32,
    /// Regions of the swap in progress (`swap_size / sector_size`), when swap_size is sane.
    pub swap_regions: Option<u32>,
    /// Every record that reads as written.
    pub written: Vec<StatusRecord>,
    /// The last completed (region, step) as the bootloader finds it when resuming (within
    /// `swap_regions`, or all regions when swap_size is not sane).
    pub last_completed: Option<SwapPoint>,
}

/// One slot of the dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotReport {
    /// `primary` or `secondary`.
    pub name: String,
    pub offset: u32,
    pub size: u32,
    pub coverage: Coverage,
    /// `None` when the slot's header is not in the dump.
    pub image: Option<ImageReport>,
    /// `None` when the trailer fields are not in the dump.
    pub trailer: Option<TrailerReport>,
    /// `None` when the status area is not in the dump.
    pub status: Option<StatusReport>,
    /// Whether the trailer sectors are all erased; `None` when not all in the dump.
    pub trailer_sectors_blank: Option<bool>,
    /// One line: `primary: 2.0.0+0 hash=1a2b3c4d valid; trailer magic=good ...`.
    pub summary: String,
}

/// The scratch area: the revert journal uses the trailer fields at its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScratchReport {
    pub offset: u32,
    pub size: u32,
    pub coverage: Coverage,
    /// Trailer-like fields at the end of the area; `None` when not in the dump or the area is
    /// smaller than the fields.
    pub trailer: Option<TrailerReport>,
    /// Whether the whole area is erased; `None` when not all in the dump.
    pub blank: Option<bool>,
    /// Region named by a scratch marker (`CPSM` + u32) at the top of the area, if one is there.
    pub marker_region: Option<u32>,
}

/// A region of flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaReport {
    pub offset: u32,
    pub size: u32,
}

impl From<Area> for AreaReport {
    fn from(a: Area) -> Self {
        AreaReport {
            offset: a.offset,
            size: a.size,
        }
    }
}

/// The flash map as decoded against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutReport {
    pub sector_size: u32,
    pub write_size: u32,
    pub primary: AreaReport,
    pub secondary: AreaReport,
    pub scratch: AreaReport,
    /// Trailer bytes and sectors at the end of each slot (when the layout is valid).
    pub trailer_size: Option<u32>,
    pub trailer_sectors: Option<u32>,
}

/// Everything decoded from a dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashReport {
    /// Address of the dump's first byte.
    pub base_addr: u32,
    pub dump_len: u64,
    pub layout: LayoutReport,
    /// Why the layout cannot be decoded against, if it cannot (no slot is decoded then).
    pub layout_error: Option<String>,
    pub key_given: bool,
    /// Primary, then secondary.
    pub slots: Vec<SlotReport>,
    pub scratch: Option<ScratchReport>,
    /// ESP-IDF otadata, on a scheme that keeps it (absent from every other report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otadata: Option<crate::otadata::OtadataReport>,
    /// The redundant-copies boot record, on that scheme (absent from every other report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redundant: Option<crate::redundant::RedundantReport>,
    /// The atomic-word scheme's boot word, on that scheme (absent from every other report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atomic_word: Option<crate::scheme::AtomicWordReport>,
    /// embassy-boot's state partition, on that scheme (absent from every other report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embassy: Option<crate::scheme::EmbassyStateReport>,
    /// The pending-flag log, on that scheme (absent from every other report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_log: Option<crate::scheme::PendingLogReport>,
    /// How far a swap that keeps its own progress records got (swap-move); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<SwapProgress>,
    /// Which slot a direct-XIP bootloader boots and why (absent from every other report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_xip: Option<DirectXipReport>,
}

/// What a direct-XIP bootloader (with revert) does with the dump: each slot's candidate image
/// and trailer state, the steps it takes (a slot erased, the next one selected) and the slot
/// it boots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectXipReport {
    /// One entry per slot, primary first.
    pub slots: Vec<DirectXipSlot>,
    /// What the bootloader does, in order: `secondary: 2.0.0+0 tried-unconfirmed: erased`.
    pub steps: Vec<String>,
    /// The slot it boots; `None` when no slot holds a bootable image.
    pub boot_slot: Option<String>,
    /// Why that slot (or why none).
    pub why: String,
    /// The application's note of the version it last handed over to, when one reads whole.
    pub note: Option<String>,
}

/// One slot as the direct-XIP bootloader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectXipSlot {
    pub name: String,
    /// The version in a valid image header; `None` when the header is not an image's.
    pub version: Option<String>,
    /// `boot_select_or_erase`'s reading of the trailer: `no-magic`, `tried-unconfirmed`,
    /// `first-try`, `confirmed`; `None` when the trailer is not in the dump.
    pub state: Option<String>,
}

/// How far a swap-move got, from the status records in the primary trailer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapProgress {
    /// Sectors the swap covers (`swap_size / sector_size`), when swap_size is sane.
    pub regions: Option<u32>,
    /// Sectors moved up one place.
    pub moved: u32,
    /// Sectors swapped (both steps done).
    pub swapped: u32,
    /// Every status record that reads written, as `move N` or `swap N.S` (a value other than
    /// the state number in brackets).
    pub records: Vec<String>,
    /// `move: 12/40 sectors, swap: 0/40`.
    pub summary: String,
}

/// `(slot name, version, first 4 bytes of the SHA-256 TLV, validity, trailer summary)`.
pub type SlotSummary = (String, Option<String>, Option<String>, Validity, String);

impl FlashReport {
    /// Marks each slot and the scratch area lying in one of `areas` (each with the device it
    /// is on) as not readable through the probe: nothing is decoded from it, so it reads as
    /// neither erased nor corrupt, whatever bytes the dump has (or lacks) at its address.
    pub fn mark_unreadable(&mut self, areas: &[(Area, String)]) {
        let on = |offset: u32, size: u32| {
            areas
                .iter()
                .find(|(a, _)| a.offset <= offset && offset.saturating_add(size) <= a.end() && size > 0)
                .map(|(_, d)| d.clone())
        };
        for s in &mut self.slots {
            if let Some(device) = on(s.offset, s.size) {
                s.coverage = Coverage::Unreadable;
                s.image = None;
                s.trailer = None;
                s.status = None;
                s.trailer_sectors_blank = None;
                s.summary = format!("{}: not readable through the probe (on {device})", s.name);
            }
        }
        if let Some(s) = self.scratch.as_mut() {
            if on(s.offset, s.size).is_some() {
                s.coverage = Coverage::Unreadable;
                s.trailer = None;
                s.blank = None;
                s.marker_region = None;
            }
        }
    }

    /// The slots the probe could not read, by name.
    pub fn unreadable_slots(&self) -> Vec<&str> {
        self.slots
            .iter()
            .filter(|s| s.coverage == Coverage::Unreadable)
            .map(|s| s.name.as_str())
            .collect()
    }

    /// One tuple per slot, in the shape of the rig's slot states.
    pub fn slot_summaries(&self) -> Vec<SlotSummary> {
        self.slots
            .iter()
            .map(|s| {
                let image = s.image.as_ref();
                (
                    s.name.clone(),
                    image.and_then(|i| i.version()).map(str::to_string),
                    image.and_then(|i| i.short_hash()).map(str::to_string),
                    image.map_or(Validity::OutsideDump, |i| i.validity),
                    s.trailer.as_ref().map_or_else(
                        || match s.coverage {
                            Coverage::Unreadable => Coverage::Unreadable.name().to_string(),
                            _ => "absent".to_string(),
                        },
                        TrailerReport::summary,
                    ),
                )
            })
            .collect()
    }

    /// The report of slot `name` (`primary` or `secondary`).
    pub fn slot(&self, name: &str) -> Option<&SlotReport> {
        self.slots.iter().find(|s| s.name == name)
    }

    /// Pretty JSON with the structs' field names.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }
}

/// Decodes a dump of flash starting at `base_addr` against `layout` with the metadata of the
/// swap-scratch scheme (the MCUboot trailers every built-in scheme keeps): both slots' images,
/// trailers and swap status, and the scratch area. Areas outside the dump come out as absent.
pub fn decode_flash(dump: &[u8], base_addr: u32, layout: &Layout, key: Option<&PublicKey>) -> FlashReport {
    decode_flash_with(scheme::default_decoder(), dump, base_addr, layout, key)
}

/// Decodes a dump with the metadata decoder of `scheme` (a registered scheme's name); a scheme
/// without a registered decoder gets a report whose `layout_error` says so.
pub fn decode_flash_for(
    scheme: &str,
    dump: &[u8],
    base_addr: u32,
    layout: &Layout,
    key: Option<&PublicKey>,
) -> FlashReport {
    match scheme::decoder(scheme) {
        Some(d) => decode_flash_with(d, dump, base_addr, layout, key),
        None => {
            let mut report = empty_report(dump, base_addr, layout, key, false);
            report.layout_error = Some(format!("no metadata decoder is registered for scheme \"{scheme}\""));
            report
        }
    }
}

/// As [`decode_flash_for`], decoding images through `images` (see [`ImageCache`]): the report
/// is the same, an image already decoded unchanged is not hashed or verified again. `keys`: the
/// hashes the dump's source keeps of its bytes (see [`DumpKeys`]), which key its slots without
/// reading them.
pub fn decode_flash_for_cached(
    scheme: &str,
    dump: &[u8],
    base_addr: u32,
    layout: &Layout,
    key: Option<&PublicKey>,
    images: &ImageCache,
    keys: Option<&DumpKeys>,
) -> FlashReport {
    match scheme::decoder(scheme) {
        Some(d) => decode_into(d, dump, base_addr, layout, key, (Some(images), keys)),
        None => decode_flash_for(scheme, dump, base_addr, layout, key),
    }
}

/// The slot the bootloader of scheme `scheme` picks on the flash `dump` (from `base_addr`) and
/// what its record says, decoding only what the pick needs (see
/// [`MetadataDecoder::decode_pick`](crate::scheme::MetadataDecoder::decode_pick)); images,
/// when the pick needs them, through `images`, keyed by `keys` when the dump comes with them.
/// `None` when no decoder is registered for the scheme or the layout does not fit it.
pub fn boot_pick_for(
    scheme: &str,
    dump: &[u8],
    base_addr: u32,
    layout: &Layout,
    key: Option<&PublicKey>,
    (images, keys): (Option<&ImageCache>, Option<&DumpKeys>),
) -> Option<crate::scheme::BootPick> {
    let decoder = scheme::decoder(scheme)?;
    decoder.check_layout(layout).ok()?;
    let mut flash = SliceFlash::new(dump, base_addr)
        .with_geometry(layout.sector_size, layout.write_size)
        .with_dump_keys(keys);
    if let Some(cache) = images {
        flash = flash.with_image_cache(cache);
    }
    let mut report = empty_report(dump, base_addr, layout, key, true);
    decoder.decode_pick(&mut flash, layout, key, &mut report);
    Some(decoder.boot_pick(&report))
}

/// Decodes a dump with `decoder`.
pub fn decode_flash_with(
    decoder: &dyn MetadataDecoder,
    dump: &[u8],
    base_addr: u32,
    layout: &Layout,
    key: Option<&PublicKey>,
) -> FlashReport {
    decode_into(decoder, dump, base_addr, layout, key, (None, None))
}

fn decode_into(
    decoder: &dyn MetadataDecoder,
    dump: &[u8],
    base_addr: u32,
    layout: &Layout,
    key: Option<&PublicKey>,
    (images, keys): (Option<&ImageCache>, Option<&DumpKeys>),
) -> FlashReport {
    let mut flash = SliceFlash::new(dump, base_addr)
        .with_geometry(layout.sector_size, layout.write_size)
        .with_dump_keys(keys);
    if let Some(cache) = images {
        flash = flash.with_image_cache(cache);
    }
    let layout_error = decoder.check_layout(layout).err();
    let valid = layout_error.is_none();
    let mut report = empty_report(dump, base_addr, layout, key, valid);
    report.layout_error = layout_error;
    if valid {
        decoder.decode(&mut flash, layout, key, &mut report);
    }
    report
}

fn empty_report(dump: &[u8], base_addr: u32, layout: &Layout, key: Option<&PublicKey>, valid: bool) -> FlashReport {
    FlashReport {
        base_addr,
        dump_len: dump.len() as u64,
        layout: LayoutReport {
            sector_size: layout.sector_size,
            write_size: layout.write_size,
            primary: layout.primary.into(),
            secondary: layout.secondary.into(),
            scratch: layout.scratch.into(),
            trailer_size: valid.then(|| layout.trailer_size()),
            trailer_sectors: valid.then(|| layout.trailer_sectors()),
        },
        layout_error: None,
        key_given: key.is_some(),
        slots: Vec::new(),
        scratch: None,
        otadata: None,
        progress: None,
        redundant: None,
        direct_xip: None,
        atomic_word: None,
        embassy: None,
        pending_log: None,
    }
}
