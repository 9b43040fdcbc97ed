//! Builds and signs MCUboot-format images for the firmware under test, and derives the
//! project's test-only keys. Nothing here is downloaded: keys come from fixed seeds.

use ed25519_dalek::{Signer, SigningKey};
use fut::image::{self, Descriptor, ImageHeader, Version};
use fut::PublicKey;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// Header size the images use (MCUboot's minimum; Zephyr builds often pad to 0x200).
pub const DEFAULT_HDR_SIZE: u16 = 32;

/// What to put in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    pub version: Version,
    /// Body bytes (descriptor included).
    pub body_size: u32,
    /// Descriptor flags, e.g. [`fut::image::DESC_HEALTH_FAILS`] for a bad update.
    pub flags: u32,
    /// Seed of the pseudo-random body payload.
    pub payload_seed: u64,
    pub hdr_size: u16,
}

impl ImageSpec {
    pub fn new(version: Version, body_size: u32) -> Self {
        ImageSpec {
            version,
            body_size,
            flags: 0,
            payload_seed: version_seed(version),
            hdr_size: DEFAULT_HDR_SIZE,
        }
    }

    pub fn with_flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }
}

fn version_seed(v: Version) -> u64 {
    (u64::from(v.major) << 48) ^ (u64::from(v.minor) << 40) ^ (u64::from(v.revision) << 24) ^ u64::from(v.build)
}

/// The test-only signing key named `name` (deterministic; never use it for a real product).
pub fn test_key(name: &str) -> SigningKey {
    let seed: [u8; 32] = Sha256::digest(format!("cutpoint test-only key: {name}").as_bytes()).into();
    SigningKey::from_bytes(&seed)
}

/// The key the simulated board's firmware is built with.
pub fn default_test_key() -> SigningKey {
    test_key("default")
}

/// The public half of a signing key, as the bootloader's key table holds it.
pub fn public_key(key: &SigningKey) -> PublicKey {
    PublicKey::Ed25519(key.verifying_key().to_bytes())
}

/// Builds a signed image: header, body (descriptor + payload), TLVs (key hash, SHA-256, Ed25519).
pub fn build_image(spec: &ImageSpec, key: &SigningKey) -> Vec<u8> {
    let mut out = unsigned_bytes(spec);
    append_tlvs(&mut out, Some(key), KeyForm::Hash);
    out
}

/// Header and body, before the TLVs.
fn unsigned_bytes(spec: &ImageSpec) -> Vec<u8> {
    let hdr = ImageHeader {
        load_addr: 0,
        hdr_size: spec.hdr_size.max(image::HEADER_SIZE as u16),
        protect_tlv_size: 0,
        img_size: spec.body_size,
        flags: 0,
        version: spec.version,
    };
    let mut out = Vec::with_capacity(hdr.hdr_size as usize + spec.body_size as usize + 160);
    out.extend_from_slice(&hdr.encode());
    out.resize(hdr.hdr_size as usize, 0);
    out.extend_from_slice(&body(spec));
    out
}

fn body(spec: &ImageSpec) -> Vec<u8> {
    let mut body = vec![0u8; spec.body_size as usize];
    ChaCha8Rng::seed_from_u64(spec.payload_seed).fill_bytes(&mut body);
    let desc = Descriptor { flags: spec.flags }.encode();
    let n = desc.len().min(body.len());
    body[..n].copy_from_slice(&desc[..n]);
    body
}

/// How a signed image names its key (imgtool's `--public-key-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyForm {
    /// KEYHASH: the SHA-256 of the key's DER SubjectPublicKeyInfo (`hash`, the default).
    Hash,
    /// PUBKEY: the DER SubjectPublicKeyInfo itself (`full`).
    Full,
}

/// Appends the unprotected TLV area to header + body, as imgtool does: the key (its hash,
/// [`PublicKey::key_hash`], or the whole DER SubjectPublicKeyInfo), the SHA-256 digest, and the
/// Ed25519 signature of the digest. Without a key only the digest is written (`imgtool sign`
/// without `--key`).
fn append_tlvs(image_bytes: &mut Vec<u8>, key: Option<&SigningKey>, form: KeyForm) {
    let digest: [u8; 32] = Sha256::digest(&image_bytes[..]).into();
    let mut entries: Vec<(u16, Vec<u8>)> = Vec::new();
    if let Some(key) = key {
        entries.push(match form {
            KeyForm::Hash => (image::TLV_KEYHASH, public_key(key).key_hash().to_vec()),
            KeyForm::Full => (image::TLV_PUBKEY, ed25519_spki(key)),
        });
    }
    entries.push((image::TLV_SHA256, digest.to_vec()));
    if let Some(key) = key {
        entries.push((image::TLV_ED25519, key.sign(&digest).to_bytes().to_vec()));
    }
    let total: usize = 4 + entries.iter().map(|(_, d)| 4 + d.len()).sum::<usize>();
    image_bytes.extend_from_slice(&image::TLV_INFO_MAGIC.to_le_bytes());
    image_bytes.extend_from_slice(&(total as u16).to_le_bytes());
    for (kind, data) in entries {
        image_bytes.extend_from_slice(&kind.to_le_bytes());
        image_bytes.extend_from_slice(&(data.len() as u16).to_le_bytes());
        image_bytes.extend_from_slice(&data);
    }
}

/// The DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410), what `imgtool getpub -e pem`
/// wraps in PEM.
fn ed25519_spki(key: &SigningKey) -> Vec<u8> {
    let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    der.extend_from_slice(key.verifying_key().as_bytes());
    der
}

/// A way to spoil an image the device must refuse (a campaign's `tamper`). Reads and writes
/// as its [`Tamper::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tamper {
    /// One bit of a body byte flipped after signing: the SHA-256 TLV no longer matches.
    BodyByte,
    /// Signed by a real other key, which the image carries whole in a PUBKEY TLV (as
    /// `imgtool sign --public-key-format full` writes it): its hash is not the trusted key's.
    WrongKey,
    /// No key and no signature: the SHA-256 TLV alone (as `imgtool sign` without `--key`).
    Unsigned,
    /// The image stops half-way through its body: the rest and the TLVs are missing.
    Truncated,
    /// The header claims a body 1 MiB longer than the image holds (after signing).
    SizeLie,
    /// A forgery: the KEYHASH TLV names the trusted key and the SHA-256 TLV matches the image,
    /// but the Ed25519 signature was made by another key. Only the signature's verification
    /// refuses it (a key hash is public: anyone can copy it into an image).
    ForgedSignature,
}

impl Tamper {
    pub const ALL: [Tamper; 6] = [
        Tamper::BodyByte,
        Tamper::WrongKey,
        Tamper::Unsigned,
        Tamper::Truncated,
        Tamper::SizeLie,
        Tamper::ForgedSignature,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Tamper::BodyByte => "body-byte",
            Tamper::WrongKey => "wrong-key",
            Tamper::Unsigned => "unsigned",
            Tamper::Truncated => "truncated",
            Tamper::SizeLie => "size-lie",
            Tamper::ForgedSignature => "forged-signature",
        }
    }

    pub fn from_name(name: &str) -> Option<Tamper> {
        Tamper::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl std::fmt::Display for Tamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The key a [`Tamper::WrongKey`] image is signed with: a real Ed25519 key the device does not
/// trust.
pub fn other_test_key() -> SigningKey {
    test_key("other")
}

/// Builds the image `spec` describes, signed with `key`, then spoiled the `tamper` way.
pub fn build_tampered_image(spec: &ImageSpec, key: &SigningKey, tamper: Tamper) -> Vec<u8> {
    let hdr_size = usize::from(spec.hdr_size.max(image::HEADER_SIZE as u16));
    let body_len = spec.body_size as usize;
    match tamper {
        Tamper::BodyByte => {
            let mut img = build_image(spec, key);
            // Past the descriptor, so the image still reads as the same application.
            let at = (hdr_size + body_len / 2).min(img.len() - 1);
            img[at] ^= 0x01;
            img
        }
        Tamper::WrongKey => {
            let mut img = unsigned_bytes(spec);
            append_tlvs(&mut img, Some(&other_test_key()), KeyForm::Full);
            img
        }
        Tamper::Unsigned => {
            let mut img = unsigned_bytes(spec);
            append_tlvs(&mut img, None, KeyForm::Hash);
            img
        }
        Tamper::Truncated => {
            let mut img = build_image(spec, key);
            img.truncate(hdr_size + body_len / 2);
            img
        }
        Tamper::SizeLie => {
            let mut img = build_image(spec, key);
            let claimed = spec.body_size.saturating_add(1 << 20);
            img[12..16].copy_from_slice(&claimed.to_le_bytes());
            img
        }
        Tamper::ForgedSignature => {
            let mut img = unsigned_bytes(spec);
            let tlv_at = img.len();
            append_tlvs(&mut img, Some(&other_test_key()), KeyForm::Hash);
            // The KEYHASH entry comes first, right after the 4-byte TLV info header; its data
            // starts after its own 4-byte type and length. The TLVs are not hashed, so the
            // SHA-256 TLV still matches.
            let at = tlv_at + 8;
            img[at..at + 32].copy_from_slice(&public_key(key).key_hash());
            img
        }
    }
}

/// Parses `1.2.3+4` (build optional) into a version.
pub fn parse_version(s: &str) -> Option<Version> {
    let (main, build) = match s.split_once('+') {
        Some((m, b)) => (m, b.parse().ok()?),
        None => (s, 0),
    };
    let mut it = main.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next().map_or(Some(0), |x| x.parse().ok())?;
    let revision = it.next().map_or(Some(0), |x| x.parse().ok())?;
    if it.next().is_some() {
        return None;
    }
    Some(Version {
        major,
        minor,
        revision,
        build,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("1.2.3+4"),
            Some(Version {
                major: 1,
                minor: 2,
                revision: 3,
                build: 4
            })
        );
        assert_eq!(
            parse_version("2"),
            Some(Version {
                major: 2,
                ..Version::default()
            })
        );
        assert_eq!(parse_version("1.2.3.4"), None);
        assert_eq!(parse_version("x"), None);
        assert_eq!(parse_version("300.0.0"), None);
    }

    #[test]
    fn image_layout_matches_the_mcuboot_format() {
        let img = build_image(
            &ImageSpec::new(parse_version("1.0.0").unwrap(), 1000),
            &default_test_key(),
        );
        assert_eq!(&img[..4], &0x96f3_b83du32.to_le_bytes());
        assert_eq!(u32::from_le_bytes(img[12..16].try_into().unwrap()), 1000);
        let tlv = 32 + 1000;
        assert_eq!(u16::from_le_bytes([img[tlv], img[tlv + 1]]), 0x6907);
        let total = u16::from_le_bytes([img[tlv + 2], img[tlv + 3]]) as usize;
        assert_eq!(img.len(), tlv + total);
        assert_eq!(&img[32..36], b"CPFW");
    }

    #[test]
    fn the_key_hash_is_that_of_the_spki_der_as_imgtool_makes_it() {
        let key = default_test_key();
        let img = build_image(&ImageSpec::new(parse_version("1.0.0").unwrap(), 100), &key);
        let tlv = 32 + 100 + 4;
        assert_eq!(u16::from_le_bytes([img[tlv], img[tlv + 1]]), image::TLV_KEYHASH);
        let mut spki = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        spki.extend_from_slice(key.verifying_key().as_bytes());
        assert_eq!(&img[tlv + 4..tlv + 36], Sha256::digest(&spki).as_slice());
    }

    #[test]
    fn a_forged_signature_names_the_trusted_key_and_is_signed_by_another() {
        use ed25519_dalek::{Signature, Verifier};
        let key = default_test_key();
        let spec = ImageSpec::new(parse_version("2.0.0").unwrap(), 100);
        let img = build_tampered_image(&spec, &key, Tamper::ForgedSignature);
        let good = build_image(&spec, &key);
        assert_eq!(img.len(), good.len());
        // Header, body, TLV info, KEYHASH and SHA-256 entries are those of the good image.
        let sig_at = img.len() - 64;
        assert_eq!(&img[..sig_at], &good[..sig_at]);
        let tlv = 32 + 100 + 4;
        assert_eq!(&img[tlv + 4..tlv + 36], public_key(&key).key_hash().as_slice());
        let digest: [u8; 32] = Sha256::digest(&img[..132]).into();
        let sig = Signature::from_bytes(img[sig_at..].try_into().unwrap());
        assert!(key.verifying_key().verify(&digest, &sig).is_err());
        assert!(other_test_key().verifying_key().verify(&digest, &sig).is_ok());
    }

    #[test]
    fn keys_are_deterministic_and_distinct() {
        assert_eq!(test_key("a").to_bytes(), test_key("a").to_bytes());
        assert_ne!(test_key("a").to_bytes(), test_key("b").to_bytes());
    }
}
