//! The public key the bootloader trusts, and MCUboot's rules for naming and checking it.
//!
//! Facts from MCUboot's source (read, not copied):
//! - imgtool's KEYHASH TLV is the SHA-256 of `get_public_bytes()`, which for Ed25519 and for
//!   ECDSA keys is the DER SubjectPublicKeyInfo, not the raw key (scripts/imgtool/image.py
//!   `create`; keys/ed25519.py and keys/ecdsa.py `get_public_bytes`).
//! - bootutil's key table holds that same DER (what `imgtool getpub` prints), and
//!   `bootutil_find_key` hashes each entry with SHA-256 to compare it with the KEYHASH TLV
//!   (boot/bootutil/src/bootutil_find_key.c).
//! - Ed25519 signs the 32-byte SHA-256 image digest as its message unless the image is "pure"
//!   (a SIG_PURE TLV; imgtool 2.x `image.py` "Unless pure, we are signing digest" and
//!   `Ed25519.sign_digest`; image_ed25519.c `bootutil_verify_sig` wants
//!   `mlen == IMAGE_HASH_SIZE`). imgtool signs ECDSA P-256 images with ECDSA-SHA256 over the
//!   payload, which is a signature over that same SHA-256 digest; bootutil verifies it against
//!   the digest, DER-encoded in the ECDSA_SIG TLV, 0x22 (image_ecdsa.c,
//!   include/bootutil/crypto/ecdsa.h; keys/ecdsa.py `ECDSA256P1.sign`, which does not
//!   normalise `s`).

use sha2::{Digest, Sha256};

use crate::image::{TLV_ECDSA_SIG, TLV_ED25519};

/// DER SubjectPublicKeyInfo of an Ed25519 key, up to the 32 key bytes: SEQUENCE { SEQUENCE {
/// OID 1.3.101.112 }, BIT STRING (0 unused bits) } (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// DER SubjectPublicKeyInfo of a P-256 key, up to the 65-byte uncompressed point: SEQUENCE {
/// SEQUENCE { OID id-ecPublicKey, OID prime256v1 }, BIT STRING (0 unused bits) } (RFC 5480).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A public key of an algorithm the bootloader verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublicKey {
    /// The 32-byte Ed25519 key.
    Ed25519([u8; 32]),
    /// The 65-byte uncompressed SEC1 point (`04 || x || y`) of a P-256 key; bootutil only
    /// supports uncompressed keys.
    P256([u8; 65]),
}

impl PublicKey {
    /// The key from its DER SubjectPublicKeyInfo, as imgtool exports it; `None` for any other
    /// algorithm or encoding.
    pub fn from_spki_der(der: &[u8]) -> Option<PublicKey> {
        if let Some(k) = der.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
            return k.try_into().ok().map(PublicKey::Ed25519);
        }
        let point: [u8; 65] = der.strip_prefix(&P256_SPKI_PREFIX[..])?.try_into().ok()?;
        (point[0] == 0x04).then_some(PublicKey::P256(point))
    }

    /// The key's DER SubjectPublicKeyInfo in two parts: the algorithm's fixed prefix and the
    /// key's own bytes (a KEYHASH TLV is a digest of the two, one after the other).
    pub fn spki_parts(&self) -> (&'static [u8], &[u8]) {
        match self {
            PublicKey::Ed25519(k) => (&ED25519_SPKI_PREFIX, k),
            PublicKey::P256(k) => (&P256_SPKI_PREFIX, k),
        }
    }

    /// What the KEYHASH TLV of an image signed with this key holds: SHA-256 of the DER
    /// SubjectPublicKeyInfo.
    pub fn key_hash(&self) -> [u8; 32] {
        let (prefix, key): (&[u8], &[u8]) = match self {
            PublicKey::Ed25519(k) => (&ED25519_SPKI_PREFIX, k),
            PublicKey::P256(k) => (&P256_SPKI_PREFIX, k),
        };
        Sha256::new().chain_update(prefix).chain_update(key).finalize().into()
    }

    /// The TLV type of this key's signatures.
    pub const fn signature_tlv(&self) -> u16 {
        match self {
            PublicKey::Ed25519(_) => TLV_ED25519,
            PublicKey::P256(_) => TLV_ECDSA_SIG,
        }
    }

    /// The algorithm's name as the rig prints it.
    pub const fn algorithm(&self) -> &'static str {
        match self {
            PublicKey::Ed25519(_) => "Ed25519",
            PublicKey::P256(_) => "ECDSA P-256",
        }
    }
}

/// The 64-byte `r || s` of a DER-encoded P-256 signature: SEQUENCE { INTEGER r, INTEGER s }.
/// Bytes after the SEQUENCE are ignored, as bootutil does (imgtool's `--pad-sig` appends zeros).
/// `None` when the encoding is not that or an integer does not fit 32 bytes.
pub fn p256_signature_from_der(der: &[u8]) -> Option<[u8; 64]> {
    let (tag, body, _) = der_element(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag_r, r, rest) = der_element(body)?;
    let (tag_s, s, rest) = der_element(rest)?;
    if tag_r != 0x02 || tag_s != 0x02 || !rest.is_empty() {
        return None;
    }
    let mut out = [0u8; 64];
    put_unsigned(&mut out[..32], r)?;
    put_unsigned(&mut out[32..], s)?;
    Some(out)
}

/// One DER element: (tag, contents, the bytes after it). Short and one-byte long lengths only
/// (a P-256 signature never needs more).
fn der_element(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let (len, rest) = match len {
        0x81 => {
            let (&l, rest) = rest.split_first()?;
            (usize::from(l), rest)
        }
        l if l < 0x80 => (usize::from(l), rest),
        _ => return None,
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A non-negative DER INTEGER right-aligned into `out`.
fn put_unsigned(out: &mut [u8], int: &[u8]) -> Option<()> {
    let first_nonzero = int.iter().position(|&b| b != 0).unwrap_or(int.len());
    let digits = &int[first_nonzero..];
    if int.is_empty() || int[0] & 0x80 != 0 || digits.len() > out.len() {
        return None;
    }
    let at = out.len() - digits.len();
    out[at..].copy_from_slice(digits);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ed25519_spki_round_trips() {
        let mut der = [0u8; 44];
        der[..12].copy_from_slice(&ED25519_SPKI_PREFIX);
        der[12..].copy_from_slice(&[7; 32]);
        let key = PublicKey::from_spki_der(&der).unwrap();
        assert_eq!(key, PublicKey::Ed25519([7; 32]));
        let expected: [u8; 32] = Sha256::digest(der).into();
        assert_eq!(key.key_hash(), expected);
        assert_ne!(key.key_hash(), <[u8; 32]>::from(Sha256::digest([7u8; 32])));
        assert_eq!(PublicKey::from_spki_der(&der[..43]), None);
    }

    #[test]
    fn the_p256_spki_needs_an_uncompressed_point() {
        let mut der = [0u8; 91];
        der[..26].copy_from_slice(&P256_SPKI_PREFIX);
        der[26] = 0x04;
        let expected: [u8; 32] = Sha256::digest(der).into();
        let key = PublicKey::from_spki_der(&der).unwrap();
        assert_eq!(key.key_hash(), expected);
        assert_eq!(key.signature_tlv(), TLV_ECDSA_SIG);
        der[26] = 0x02;
        assert_eq!(PublicKey::from_spki_der(&der), None);
    }

    #[test]
    fn der_signatures_decode_to_fixed_width_integers() {
        // r = 0x01 (one byte), s = 0x80.. (33 bytes with the sign byte), two padding zeros.
        let mut der = [0u8; 48];
        let body = [0x02, 0x01, 0x01, 0x02, 0x21, 0x00];
        der[0] = 0x30;
        der[1] = (body.len() + 32) as u8;
        der[2..8].copy_from_slice(&body);
        der[8] = 0x80;
        let sig = p256_signature_from_der(&der[..40]).unwrap();
        assert_eq!(sig[31], 1);
        assert!(sig[..31].iter().all(|&b| b == 0));
        assert_eq!(sig[32], 0x80);
        assert_eq!(
            p256_signature_from_der(&der[..42]),
            Some(sig),
            "trailing padding is ignored"
        );
        assert_eq!(p256_signature_from_der(&der[..39]), None, "truncated");
        let mut negative = der;
        negative[7] = 0x80;
        assert_eq!(p256_signature_from_der(&negative[..40]), None);
        assert_eq!(p256_signature_from_der(&[0x30, 0x00]), None);
        assert_eq!(p256_signature_from_der(&[]), None);
    }
}
