//! MCUboot image format: 32-byte header, body, protected and unprotected TLVs.
//!
//! Decoding never trusts the bytes: every size is bounds-checked against the slot.

use core::fmt;

use crate::hal::{Clock, Crypto, Flash, FlashError};
use crate::key::{p256_signature_from_der, PublicKey};
use crate::layout::Area;

pub const IMAGE_MAGIC: u32 = 0x96f3_b83d;
pub const HEADER_SIZE: usize = 32;
pub const TLV_INFO_MAGIC: u16 = 0x6907;
pub const TLV_PROT_INFO_MAGIC: u16 = 0x6908;
pub const TLV_KEYHASH: u16 = 0x01;
/// The whole public key, DER SubjectPublicKeyInfo (`imgtool sign --public-key-format full`):
/// a bootloader built to take its key from the image (MCUboot's MCUBOOT_HW_KEY) compares the
/// key's hash with the one it trusts, then verifies with that key.
pub const TLV_PUBKEY: u16 = 0x02;
/// The longest PUBKEY entry the bootloader reads (a P-256 SubjectPublicKeyInfo is 91 bytes).
pub const PUBKEY_DER_MAX: usize = 91;
pub const TLV_SHA256: u16 = 0x10;
/// ECDSA signature, DER-encoded (MCUboot's IMAGE_TLV_ECDSA_SIG).
pub const TLV_ECDSA_SIG: u16 = 0x22;
pub const TLV_ED25519: u16 = 0x24;
/// The longest DER encoding of a P-256 signature (two 33-byte integers and their headers).
pub const P256_DER_SIG_MAX: usize = 72;

/// Cost model of the CPU work, in microseconds (a Cortex-M4 at 64 MHz with a hardware hash).
pub const HASH_US_PER_KIB: u64 = 20;
pub const VERIFY_SIGNATURE_US: u64 = 15_000;
/// An ECDSA P-256 verification on the same part (an estimate: a few times an Ed25519 one).
pub const VERIFY_P256_US: u64 = 40_000;

/// Image version as in the header: major.minor.revision+build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    pub revision: u16,
    pub build: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}+{}", self.major, self.minor, self.revision, self.build)
    }
}

/// Header flag: the body is encrypted with AES-128 (MCUboot's `IMAGE_F_ENCRYPTED_AES128`).
pub const IMAGE_F_ENCRYPTED_AES128: u32 = 0x04;
/// Header flag: the body is encrypted with AES-256 (`IMAGE_F_ENCRYPTED_AES256`).
pub const IMAGE_F_ENCRYPTED_AES256: u32 = 0x08;
/// Either encryption flag.
pub const IMAGE_F_ENCRYPTED: u32 = IMAGE_F_ENCRYPTED_AES128 | IMAGE_F_ENCRYPTED_AES256;

/// The decoded 32-byte image header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    pub load_addr: u32,
    pub hdr_size: u16,
    pub protect_tlv_size: u16,
    pub img_size: u32,
    pub flags: u32,
    pub version: Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageError {
    /// The slot does not start with the image magic (erased, torn or garbage).
    NoHeader,
    /// Header fields do not fit the slot.
    BadSize,
    /// The TLV area is missing or malformed.
    BadTlv,
    /// The SHA-256 TLV does not match the image.
    HashMismatch,
    /// The key hash TLV names another key.
    UnknownKey,
    /// The signature is missing, malformed or does not verify.
    BadSignature,
    /// The update is older than the running image and the build refuses downgrades.
    Downgrade,
    /// A flash read failed while checking.
    Flash(FlashError),
}

impl ImageError {
    pub const fn name(self) -> &'static str {
        match self {
            ImageError::NoHeader => "no-header",
            ImageError::BadSize => "bad-size",
            ImageError::BadTlv => "bad-tlv",
            ImageError::HashMismatch => "hash-mismatch",
            ImageError::UnknownKey => "unknown-key",
            ImageError::BadSignature => "bad-signature",
            ImageError::Downgrade => "downgrade",
            ImageError::Flash(_) => "flash-error",
        }
    }
}

impl From<FlashError> for ImageError {
    fn from(e: FlashError) -> Self {
        ImageError::Flash(e)
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl ImageHeader {
    /// Decodes a header; `None` when the magic is wrong.
    pub fn parse(b: &[u8; HEADER_SIZE]) -> Option<ImageHeader> {
        if le32(b, 0) != IMAGE_MAGIC {
            return None;
        }
        Some(ImageHeader {
            load_addr: le32(b, 4),
            hdr_size: le16(b, 8),
            protect_tlv_size: le16(b, 10),
            img_size: le32(b, 12),
            flags: le32(b, 16),
            version: Version {
                major: b[20],
                minor: b[21],
                revision: le16(b, 22),
                build: le32(b, 24),
            },
        })
    }

    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..4].copy_from_slice(&IMAGE_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&self.load_addr.to_le_bytes());
        b[8..10].copy_from_slice(&self.hdr_size.to_le_bytes());
        b[10..12].copy_from_slice(&self.protect_tlv_size.to_le_bytes());
        b[12..16].copy_from_slice(&self.img_size.to_le_bytes());
        b[16..20].copy_from_slice(&self.flags.to_le_bytes());
        b[20] = self.version.major;
        b[21] = self.version.minor;
        b[22..24].copy_from_slice(&self.version.revision.to_le_bytes());
        b[24..28].copy_from_slice(&self.version.build.to_le_bytes());
        b
    }

    /// Offset of the TLV area (protected TLVs first, when present).
    pub fn tlv_offset(&self) -> Option<u32> {
        (self.hdr_size as u32).checked_add(self.img_size)
    }

    /// Bytes covered by the hash: header, body and protected TLVs.
    pub fn hashed_len(&self) -> Option<u32> {
        self.tlv_offset()?.checked_add(self.protect_tlv_size as u32)
    }
}

/// What a valid image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub header: ImageHeader,
    pub hash: [u8; 32],
    /// Header + body + all TLVs: the bytes a copy must move.
    pub total_size: u32,
}

/// Reads and decodes the header at the start of `slot`.
pub fn read_header<F: Flash + ?Sized>(flash: &mut F, slot: Area) -> Result<ImageHeader, ImageError> {
    let mut b = [0u8; HEADER_SIZE];
    flash.read(slot.offset, &mut b)?;
    let h = ImageHeader::parse(&b).ok_or(ImageError::NoHeader)?;
    if (h.hdr_size as usize) < HEADER_SIZE {
        return Err(ImageError::BadSize);
    }
    match h.hashed_len() {
        Some(n) if n < slot.size => Ok(h),
        _ => Err(ImageError::BadSize),
    }
}

/// The TLVs the bootloader needs, found by walking the unprotected TLV area.
#[derive(Default)]
struct FoundTlvs {
    sha256: Option<[u8; 32]>,
    keyhash: Option<[u8; 32]>,
    /// A PUBKEY entry that decodes as a key of an algorithm the bootloader verifies; `Err` for
    /// one that does not.
    pubkey: Option<Result<PublicKey, ()>>,
    ed25519: Option<[u8; 64]>,
    /// The DER bytes of an ECDSA_SIG entry short enough to be a P-256 signature, and their length.
    ecdsa: Option<([u8; P256_DER_SIG_MAX], usize)>,
    end: u32,
}

fn read_tlv_header<F: Flash + ?Sized>(flash: &mut F, addr: u32) -> Result<(u16, u16), ImageError> {
    let mut b = [0u8; 4];
    flash.read(addr, &mut b)?;
    Ok((le16(&b, 0), le16(&b, 2)))
}

fn walk_tlvs<F: Flash + ?Sized>(flash: &mut F, slot: Area, h: &ImageHeader) -> Result<FoundTlvs, ImageError> {
    let hashed = h.hashed_len().ok_or(ImageError::BadSize)?;
    if h.protect_tlv_size > 0 {
        let prot_at = slot.offset + h.tlv_offset().ok_or(ImageError::BadSize)?;
        let (magic, total) = read_tlv_header(flash, prot_at)?;
        if magic != TLV_PROT_INFO_MAGIC || total != h.protect_tlv_size {
            return Err(ImageError::BadTlv);
        }
    }
    let info_at = hashed
        .checked_add(4)
        .filter(|e| *e <= slot.size)
        .ok_or(ImageError::BadTlv)?;
    let (magic, total) = read_tlv_header(flash, slot.offset + hashed)?;
    let end = hashed.checked_add(total as u32).ok_or(ImageError::BadTlv)?;
    if magic != TLV_INFO_MAGIC || (total as u32) < 4 || end > slot.size {
        return Err(ImageError::BadTlv);
    }
    let mut found = FoundTlvs {
        end,
        ..FoundTlvs::default()
    };
    let mut at = info_at;
    while at < end {
        if end - at < 4 {
            return Err(ImageError::BadTlv);
        }
        let (kind, len) = read_tlv_header(flash, slot.offset + at)?;
        let data_at = at + 4;
        if data_at + len as u32 > end {
            return Err(ImageError::BadTlv);
        }
        match (kind, len) {
            (TLV_SHA256, 32) => found.sha256 = Some(read_array(flash, slot.offset + data_at)?),
            (TLV_KEYHASH, 32) => found.keyhash = Some(read_array(flash, slot.offset + data_at)?),
            (TLV_ED25519, 64) => found.ed25519 = Some(read_array(flash, slot.offset + data_at)?),
            (TLV_PUBKEY, n) => {
                let mut der = [0u8; PUBKEY_DER_MAX];
                found.pubkey = Some(match der.get_mut(..usize::from(n)) {
                    Some(d) => {
                        flash.read(slot.offset + data_at, d)?;
                        PublicKey::from_spki_der(d).ok_or(())
                    }
                    None => Err(()),
                });
            }
            (TLV_ECDSA_SIG, n) if usize::from(n) <= P256_DER_SIG_MAX => {
                let mut der = [0u8; P256_DER_SIG_MAX];
                flash.read(slot.offset + data_at, &mut der[..usize::from(n)])?;
                found.ecdsa = Some((der, usize::from(n)));
            }
            (TLV_SHA256 | TLV_KEYHASH | TLV_ED25519, _) => return Err(ImageError::BadTlv),
            _ => {}
        }
        at = data_at + len as u32;
    }
    Ok(found)
}

fn read_array<const N: usize, F: Flash + ?Sized>(flash: &mut F, addr: u32) -> Result<[u8; N], ImageError> {
    let mut b = [0u8; N];
    flash.read(addr, &mut b)?;
    Ok(b)
}

/// SHA-256 over `len` bytes of flash at `addr`, charging the CPU time to the clock.
pub fn hash_flash<H: Crypto + Clock + ?Sized>(hal: &mut H, addr: u32, len: u32) -> Result<[u8; 32], FlashError> {
    let digest = hal.sha256_flash(addr, len)?;
    hal.spend_us(HASH_US_PER_KIB * (len as u64).div_ceil(1024));
    Ok(digest)
}

/// Which of its checks a build of the image validation runs. The reference runs all of them;
/// a broken variant skips one (see [`crate::Variant::image_checks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// The SHA-256 TLV is compared with the digest of the image. Without it the signature is
    /// verified over the digest the TLV claims.
    pub compare_hash: bool,
    /// The key the image names (KEYHASH) or carries (PUBKEY) is compared with the trusted key.
    pub compare_key: bool,
    /// A signature by that key must be present and verify.
    pub verify_signature: bool,
}

impl Checks {
    /// Every check, in MCUboot's order.
    pub const ALL: Checks = Checks {
        compare_hash: true,
        compare_key: true,
        verify_signature: true,
    };
}

/// Checks the image in `slot`: header, hash, key and signature, as MCUboot's
/// `bootutil_img_validate` does for a bootloader built with `key` alone in its key table.
pub fn validate<H: Crypto + Clock + ?Sized>(hal: &mut H, slot: Area, key: &PublicKey) -> Result<ImageInfo, ImageError> {
    validate_with(hal, slot, key, Checks::ALL)
}

/// [`validate`] with only the `checks` a build runs.
///
/// The order is bootutil's: the digest is compared with the SHA-256 TLV; the key is found by
/// its KEYHASH (compared with the trusted key's hash), or, for an image that carries its whole
/// key in a PUBKEY TLV, by hashing that key and comparing the hash with the trusted one (the
/// MCUBOOT_HW_KEY build: boot_retrieve_public_key_hash, then the signature is verified with
/// the image's key); then the signature must verify over the digest. An image with neither a
/// key nor a signature (`imgtool sign` without `--key`: the SHA-256 TLV alone) is
/// [`ImageError::BadSignature`].
pub fn validate_with<H: Crypto + Clock + ?Sized>(
    hal: &mut H,
    slot: Area,
    key: &PublicKey,
    checks: Checks,
) -> Result<ImageInfo, ImageError> {
    let header = read_header(hal, slot)?;
    validate_with_header(hal, slot, header, key, checks)
}

/// [`validate_with`] with the sizes taken from `header` instead of the one at the start of
/// `slot` (the bootloader's copy of a header it read earlier): the digest still covers the
/// bytes on flash, from the slot's start over `header`'s lengths, and the TLVs are looked for
/// where `header` says they are.
pub fn validate_with_header<H: Crypto + Clock + ?Sized>(
    hal: &mut H,
    slot: Area,
    header: ImageHeader,
    key: &PublicKey,
    checks: Checks,
) -> Result<ImageInfo, ImageError> {
    let tlvs = walk_tlvs(hal, slot, &header)?;
    let hashed = header.hashed_len().ok_or(ImageError::BadSize)?;
    let computed = hash_flash(hal, slot.offset, hashed)?;
    let digest = if checks.compare_hash {
        if tlvs.sha256 != Some(computed) {
            return Err(ImageError::HashMismatch);
        }
        computed
    } else {
        tlvs.sha256.ok_or(ImageError::HashMismatch)?
    };
    if checks.verify_signature {
        let signer = signing_key(&tlvs, key, checks)?;
        if !signature_verifies(hal, &tlvs, &signer, &digest)? {
            return Err(ImageError::BadSignature);
        }
    }
    Ok(ImageInfo {
        header,
        hash: digest,
        total_size: tlvs.end,
    })
}

/// The key the signature is checked with.
fn signing_key(tlvs: &FoundTlvs, trusted: &PublicKey, checks: Checks) -> Result<PublicKey, ImageError> {
    let signed = tlvs.ed25519.is_some() || tlvs.ecdsa.is_some();
    match (tlvs.pubkey, tlvs.keyhash) {
        (Some(Err(())), _) => Err(ImageError::UnknownKey),
        (Some(Ok(carried)), _) => {
            if checks.compare_key && carried.key_hash() != trusted.key_hash() {
                return Err(ImageError::UnknownKey);
            }
            Ok(carried)
        }
        (None, Some(hash)) => {
            if checks.compare_key && hash != trusted.key_hash() {
                return Err(ImageError::UnknownKey);
            }
            Ok(*trusted)
        }
        (None, None) if signed => Err(ImageError::UnknownKey),
        (None, None) => Err(ImageError::BadSignature),
    }
}

fn signature_verifies<H: Crypto + Clock + ?Sized>(
    hal: &mut H,
    tlvs: &FoundTlvs,
    key: &PublicKey,
    digest: &[u8; 32],
) -> Result<bool, ImageError> {
    Ok(match key {
        PublicKey::Ed25519(k) => {
            let sig = tlvs.ed25519.ok_or(ImageError::BadSignature)?;
            hal.spend_us(VERIFY_SIGNATURE_US);
            if !hal.ed25519_key_valid(k) {
                return Err(ImageError::UnknownKey);
            }
            hal.ed25519_verify(k, digest, &sig)
        }
        PublicKey::P256(k) => {
            let (der, len) = tlvs.ecdsa.ok_or(ImageError::BadSignature)?;
            let sig = p256_signature_from_der(&der[..len]).ok_or(ImageError::BadSignature)?;
            hal.spend_us(VERIFY_P256_US);
            hal.p256_verify(k, digest, &sig)
        }
    })
}

/// The image's total size from its header and TLV info, without checking hash or signature.
pub fn total_size<F: Flash + ?Sized>(flash: &mut F, slot: Area) -> Result<u32, ImageError> {
    let header = read_header(flash, slot)?;
    Ok(walk_tlvs(flash, slot, &header)?.end)
}

/// The SHA-256 TLV of the image in `slot` (what the image claims, not recomputed).
pub fn read_hash<F: Flash + ?Sized>(flash: &mut F, slot: Area) -> Result<[u8; 32], ImageError> {
    let header = read_header(flash, slot)?;
    walk_tlvs(flash, slot, &header)?.sha256.ok_or(ImageError::BadTlv)
}

/// Behaviour flags the image body carries right after the header (see [`Descriptor`]).
pub const DESCRIPTOR_MAGIC: [u8; 4] = *b"CPFW";
/// The image's health check fails: it never confirms itself (a bad update).
pub const DESC_HEALTH_FAILS: u32 = 1 << 0;

/// What the application image is, from the first bytes of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Descriptor {
    pub flags: u32,
}

impl Descriptor {
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&DESCRIPTOR_MAGIC);
        b[4..].copy_from_slice(&self.flags.to_le_bytes());
        b
    }

    pub fn health_fails(&self) -> bool {
        self.flags & DESC_HEALTH_FAILS != 0
    }
}

/// Reads the descriptor of the image in `slot`; an image without one behaves normally.
pub fn read_descriptor<F: Flash + ?Sized>(flash: &mut F, slot: Area) -> Result<Descriptor, ImageError> {
    let header = read_header(flash, slot)?;
    let mut b = [0u8; 8];
    flash.read(slot.offset + header.hdr_size as u32, &mut b)?;
    if b[..4] != DESCRIPTOR_MAGIC {
        return Ok(Descriptor::default());
    }
    Ok(Descriptor {
        flags: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
    })
}
