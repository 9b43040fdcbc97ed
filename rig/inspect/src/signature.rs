//! Which signature scheme an image's TLVs use, whether cutpoint verifies it, and the digests
//! of the hash TLVs the firmware's SHA-256 check does not cover.
//!
//! cutpoint verifies what its bootloader verifies: Ed25519 and ECDSA P-256 over the SHA-256
//! image digest. Anything else (RSA, ECDSA P-384, a pure signature over the whole image) is
//! named, its hash is still checked, and the image is reported as unverified, never as valid.

use sha2::{Digest, Sha256, Sha384, Sha512};

use fut::image::{TLV_ECDSA_SIG, TLV_ED25519, TLV_SHA256};

use crate::tlv::TlvArea;

/// MCUboot's hash TLVs (boot/bootutil/include/bootutil/image.h: IMAGE_TLV_SHA384 0x11,
/// IMAGE_TLV_SHA512 0x12; the digest of header, body and protected TLVs, as the SHA256 TLV).
pub const TLV_SHA384: u16 = 0x11;
pub const TLV_SHA512: u16 = 0x12;
const TLV_RSA2048_PSS: u16 = 0x20;
const TLV_ECDSA224: u16 = 0x21;
const TLV_RSA3072_PSS: u16 = 0x23;
/// Marks a signature over the image itself rather than its digest.
const TLV_SIG_PURE: u16 = 0x25;

/// How an image is signed, from its unprotected TLVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// No signature TLV.
    Unsigned,
    /// A scheme cutpoint verifies; the TLV type of its signature.
    Supported { algorithm: &'static str, tlv: u16 },
    /// A scheme cutpoint does not verify.
    Unsupported { algorithm: &'static str },
}

impl Scheme {
    /// Reads the scheme off the TLV listing: the last signature entry decides, with the hash
    /// TLV telling ECDSA curves apart (imgtool pairs P-256 with SHA-256 and P-384 with SHA-384,
    /// image.py `ALLOWED_KEY_SHA`).
    pub fn of(tlvs: &TlvArea) -> Scheme {
        if tlvs.has(TLV_SIG_PURE) {
            return Scheme::Unsupported {
                algorithm: "a pure signature (over the whole image, not its digest)",
            };
        }
        let Some(kind) = tlvs
            .entries
            .iter()
            .rev()
            .map(|e| e.kind)
            .find(|k| (TLV_RSA2048_PSS..=TLV_ED25519).contains(k))
        else {
            return Scheme::Unsigned;
        };
        let sha256 = tlvs.has(TLV_SHA256);
        let algorithm = match kind {
            TLV_ED25519 if sha256 => {
                return Scheme::Supported {
                    algorithm: "Ed25519",
                    tlv: kind,
                }
            }
            TLV_ECDSA_SIG if sha256 => {
                return Scheme::Supported {
                    algorithm: "ECDSA P-256",
                    tlv: kind,
                }
            }
            TLV_ED25519 => "Ed25519 over a SHA-384/512 digest",
            TLV_ECDSA_SIG if tlvs.has(TLV_SHA384) => "ECDSA P-384",
            TLV_ECDSA_SIG => "ECDSA over a SHA-384/512 digest",
            TLV_RSA2048_PSS => "RSA-2048",
            TLV_RSA3072_PSS => "RSA-3072",
            TLV_ECDSA224 => "ECDSA P-224",
            _ => "an unknown signature type",
        };
        Scheme::Unsupported { algorithm }
    }

    /// The algorithm's name, when there is a signature.
    pub fn algorithm(&self) -> Option<&'static str> {
        match self {
            Scheme::Unsigned => None,
            Scheme::Supported { algorithm, .. } | Scheme::Unsupported { algorithm } => Some(algorithm),
        }
    }
}

/// Why cutpoint does not verify a scheme, in the words the reports use.
pub fn unsupported_note(algorithm: &str) -> String {
    format!("{algorithm} is not supported by cutpoint")
}

/// The image's hash TLV: SHA-256 when present (the one cutpoint's bootloader checks), else
/// SHA-384, else SHA-512. Returns the TLV type and its name.
pub fn hash_tlv(tlvs: &TlvArea) -> (u16, &'static str) {
    [(TLV_SHA256, "SHA256"), (TLV_SHA384, "SHA384"), (TLV_SHA512, "SHA512")]
        .into_iter()
        .find(|(k, _)| tlvs.has(*k))
        .unwrap_or((TLV_SHA256, "SHA256"))
}

/// The digest of `covered` with the algorithm of hash TLV `kind`.
pub fn digest(kind: u16, covered: &[u8]) -> Vec<u8> {
    match kind {
        TLV_SHA384 => Sha384::digest(covered).to_vec(),
        TLV_SHA512 => Sha512::digest(covered).to_vec(),
        _ => Sha256::digest(covered).to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::TlvEntry;

    fn area(kinds: &[u16]) -> TlvArea {
        TlvArea {
            offset: 0,
            magic: Some(0x6907),
            expected_magic: 0x6907,
            total: None,
            entries: kinds
                .iter()
                .map(|&kind| TlvEntry {
                    offset: 0,
                    kind,
                    name: crate::tlv::tlv_name(kind).to_string(),
                    len: 0,
                    value: None,
                })
                .collect(),
            error: None,
        }
    }

    #[test]
    fn schemes_are_named() {
        let supported = |k: &[u16]| matches!(Scheme::of(&area(k)), Scheme::Supported { .. });
        assert!(supported(&[0x10, 0x01, 0x24]));
        assert!(supported(&[0x10, 0x01, 0x22]));
        assert_eq!(Scheme::of(&area(&[0x10])), Scheme::Unsigned);
        let name = |k: &[u16]| Scheme::of(&area(k)).algorithm().unwrap();
        assert_eq!(name(&[0x10, 0x01, 0x20]), "RSA-2048");
        assert_eq!(name(&[0x10, 0x01, 0x23]), "RSA-3072");
        assert_eq!(name(&[0x11, 0x01, 0x22]), "ECDSA P-384");
        assert!(name(&[0x10, 0x25, 0x24]).contains("pure"));
        assert!(!supported(&[0x12, 0x01, 0x24]));
    }

    #[test]
    fn the_hash_tlv_prefers_sha256() {
        assert_eq!(hash_tlv(&area(&[0x11, 0x10])).0, TLV_SHA256);
        assert_eq!(hash_tlv(&area(&[0x11])).1, "SHA384");
        assert_eq!(digest(TLV_SHA384, b"abc").len(), 48);
        assert_eq!(digest(TLV_SHA512, b"abc").len(), 64);
    }
}
