//! Reads the public key a bootloader trusts from the files people have: imgtool's PEM public
//! keys (`imgtool getpub -e pem`), imgtool's PEM private keys (`imgtool keygen`; the public half
//! is derived), and 32 raw Ed25519 key bytes. Keys of other algorithms are refused by name.

use std::path::Path;

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use fut::PublicKey;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::der::Decode;
use p256::pkcs8::spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};
use p256::pkcs8::PrivateKeyInfo;

const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// What cutpoint verifies, for the error messages.
const SUPPORTED: &str = "cutpoint verifies Ed25519 and ECDSA P-256 images";

/// Reads a public key: 32 raw Ed25519 bytes, a PEM `PUBLIC KEY`, or a PEM `PRIVATE KEY`
/// (PKCS#8) or `EC PRIVATE KEY` (SEC1) whose public half is taken.
pub fn read_public_key(path: &Path) -> Result<PublicKey, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_public_key(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// [`read_public_key`] on the file's bytes.
pub fn parse_public_key(bytes: &[u8]) -> Result<PublicKey, String> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Ok(PublicKey::Ed25519(raw));
    }
    let not_pem = |e: pem_rfc7468::Error| {
        format!("neither 32 raw Ed25519 key bytes nor a PEM key file ({e}); give imgtool's key file or `imgtool getpub -e pem` output")
    };
    let (label, der) = pem_rfc7468::decode_vec(bytes).map_err(not_pem)?;
    match label {
        "PUBLIC KEY" => from_spki(&der),
        "PRIVATE KEY" => from_pkcs8(&der),
        "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&der)
            .map(|k| p256_key(&k.public_key()))
            .map_err(|e| format!("an EC private key that is not a P-256 key ({e}); {SUPPORTED}")),
        "ENCRYPTED PRIVATE KEY" => Err(
            "a password-protected private key; give its public half instead (`imgtool getpub -k KEY -e pem`)".into(),
        ),
        "RSA PUBLIC KEY" | "RSA PRIVATE KEY" => {
            Err(format!("an RSA key; RSA is not supported by cutpoint ({SUPPORTED})"))
        }
        other => Err(format!(
            "a PEM `{other}`, not a key; give a `PUBLIC KEY` or `PRIVATE KEY` file"
        )),
    }
}

fn p256_key(k: &p256::PublicKey) -> PublicKey {
    let point = k.to_encoded_point(false);
    let mut raw = [0u8; 65];
    raw.copy_from_slice(point.as_bytes());
    PublicKey::P256(raw)
}

fn from_spki(der: &[u8]) -> Result<PublicKey, String> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| format!("a malformed PUBLIC KEY ({e})"))?;
    match (spki.algorithm.oid, spki.algorithm.parameters_oid().ok()) {
        (ED25519, _) => ed25519_dalek::VerifyingKey::from_public_key_der(der)
            .map(|k| PublicKey::Ed25519(k.to_bytes()))
            .map_err(|e| format!("a malformed Ed25519 PUBLIC KEY ({e})")),
        (EC_PUBLIC_KEY, Some(PRIME256V1)) => p256::PublicKey::from_public_key_der(der)
            .map(|k| p256_key(&k))
            .map_err(|e| format!("a malformed P-256 PUBLIC KEY ({e})")),
        _ => Err(unsupported(&spki.algorithm)),
    }
}

fn from_pkcs8(der: &[u8]) -> Result<PublicKey, String> {
    let info = PrivateKeyInfo::from_der(der).map_err(|e| format!("a malformed PRIVATE KEY ({e})"))?;
    match (info.algorithm.oid, info.algorithm.parameters_oid().ok()) {
        (ED25519, _) => ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map(|k| PublicKey::Ed25519(k.verifying_key().to_bytes()))
            .map_err(|e| format!("a malformed Ed25519 PRIVATE KEY ({e})")),
        (EC_PUBLIC_KEY, Some(PRIME256V1)) => p256::SecretKey::from_pkcs8_der(der)
            .map(|k| p256_key(&k.public_key()))
            .map_err(|e| format!("a malformed P-256 PRIVATE KEY ({e})")),
        _ => Err(unsupported(&info.algorithm)),
    }
}

/// Names the algorithm of a key cutpoint does not verify.
fn unsupported(alg: &AlgorithmIdentifierRef<'_>) -> String {
    let name = match (
        alg.oid.to_string().as_str(),
        alg.parameters_oid().ok().map(|o| o.to_string()),
    ) {
        ("1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10", _) => "an RSA key".to_string(),
        ("1.2.840.10045.2.1", Some(curve)) if curve == "1.3.132.0.34" => "an ECDSA P-384 key".to_string(),
        ("1.2.840.10045.2.1", Some(curve)) => format!("an EC key on curve {curve}"),
        ("1.3.101.110", _) => "an X25519 key (for image encryption, not signatures)".to_string(),
        (oid, _) => format!("a key of algorithm {oid}"),
    };
    format!("{name}, which cutpoint does not verify ({SUPPORTED})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/imgtool/keys");
        std::fs::read(root.join(name)).unwrap()
    }

    #[test]
    fn imgtool_public_and_private_keys_give_the_same_key() {
        for (public, private) in [
            ("ed25519.pub.pem", "ed25519.pem"),
            ("ecdsa-p256.pub.pem", "ecdsa-p256.pem"),
        ] {
            let k = parse_public_key(&fixture(public)).unwrap();
            assert_eq!(parse_public_key(&fixture(private)).unwrap(), k, "{private}");
        }
        assert!(matches!(
            parse_public_key(&fixture("ed25519.pub.pem")),
            Ok(PublicKey::Ed25519(_))
        ));
        assert!(matches!(
            parse_public_key(&fixture("ecdsa-p256.pub.pem")),
            Ok(PublicKey::P256(_))
        ));
    }

    #[test]
    fn a_p256_private_key_in_sec1_form_is_read() {
        use p256::elliptic_curve::SecretKey;
        use p256::pkcs8::DecodePrivateKey as _;
        let text = String::from_utf8(fixture("ecdsa-p256.pem")).unwrap();
        let sk: SecretKey<p256::NistP256> = SecretKey::from_pkcs8_pem(&text).unwrap();
        let sec1 = sk.to_sec1_pem(Default::default()).unwrap();
        assert_eq!(
            parse_public_key(sec1.as_bytes()).unwrap(),
            parse_public_key(&fixture("ecdsa-p256.pub.pem")).unwrap()
        );
    }

    #[test]
    fn other_algorithms_are_refused_by_name() {
        for (file, name) in [
            ("rsa-2048.pub.pem", "an RSA key"),
            ("rsa-2048.pem", "an RSA key"),
            ("ecdsa-p384.pub.pem", "an ECDSA P-384 key"),
            ("ecdsa-p384.pem", "an ECDSA P-384 key"),
        ] {
            let e = parse_public_key(&fixture(file)).unwrap_err();
            assert!(e.starts_with(name), "{file}: {e}");
            assert!(e.contains("Ed25519 and ECDSA P-256"), "{file}: {e}");
        }
    }

    #[test]
    fn garbage_is_explained() {
        let e = parse_public_key(b"hello").unwrap_err();
        assert!(e.contains("neither 32 raw Ed25519 key bytes nor a PEM key file"), "{e}");
        let e = parse_public_key(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap_err();
        assert!(e.contains("CERTIFICATE"), "{e}");
        assert_eq!(parse_public_key(&[9; 32]).unwrap(), PublicKey::Ed25519([9; 32]));
    }
}
