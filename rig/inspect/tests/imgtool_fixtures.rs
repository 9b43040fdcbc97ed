//! Images signed by MCUboot's own imgtool (fixtures/imgtool, made by its make.sh) decode as
//! imgtool made them: version, digest, key hash (of the key's DER SubjectPublicKeyInfo) and
//! signature; a flipped byte and a wrong key are caught; algorithms cutpoint does not verify
//! are named, never passed as valid.

use std::path::PathBuf;

use cutpoint_inspect::{decode_image, render_image_text, ImageReport, Validity};
use fut::PublicKey;
use sha2::{Digest, Sha256, Sha384};

/// imgtool's layout for these images: `--header-size 0x200`, 8 KiB bodies, no protected TLVs.
const HDR: usize = 0x200;
const BODY: usize = 0x2000;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/imgtool")
}

fn image(name: &str) -> Vec<u8> {
    std::fs::read(dir().join("images").join(name)).unwrap()
}

/// The DER inside a PEM key file.
fn der(key: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(dir().join("keys").join(key)).unwrap();
    let (label, der) = pem_rfc7468::decode_vec(text.as_bytes()).unwrap();
    assert_eq!(label, "PUBLIC KEY");
    der
}

fn key(name: &str) -> PublicKey {
    PublicKey::from_spki_der(&der(name)).unwrap()
}

fn check_valid(r: &ImageReport, img: &[u8], pem: &str, algorithm: &str, version: &str) {
    assert_eq!(r.validity, Validity::Valid, "{}", render_image_text(r));
    let h = r.header.as_ref().unwrap();
    assert_eq!(h.version, version);
    assert_eq!((h.hdr_size as usize, h.img_size as usize), (HDR, BODY));
    let digest = hex::encode(Sha256::digest(&img[..HDR + BODY]));
    assert_eq!(r.hash.computed.as_deref(), Some(digest.as_str()));
    assert_eq!(r.hash.tlv.as_deref(), Some(digest.as_str()));
    let spki_hash = hex::encode(Sha256::digest(der(pem)));
    assert_eq!(
        r.key.tlv.as_deref(),
        Some(spki_hash.as_str()),
        "KEYHASH is SHA-256 of the SPKI DER"
    );
    assert_eq!(r.key.expected.as_deref(), Some(spki_hash.as_str()));
    assert_eq!(r.signature.algorithm.as_deref(), Some(algorithm));
    assert_eq!(r.signature.verified, Some(true));
    assert_eq!(r.signature.status, "verified");
}

#[test]
fn ed25519_images_decode_as_imgtool_signed_them() {
    for v in ["1.0.0", "2.0.0"] {
        let img = image(&format!("ed25519-app-{v}.bin"));
        let r = decode_image(&img, Some(&key("ed25519.pub.pem")));
        check_valid(&r, &img, "ed25519.pub.pem", "Ed25519", &format!("{v}+0"));
        assert_eq!(r.signature.kind.as_deref(), Some("ED25519"));
        assert_eq!(r.total_size, Some(img.len() as u32));
    }
}

#[test]
fn p256_images_decode_as_imgtool_signed_them() {
    for v in ["1.0.0", "2.0.0"] {
        let img = image(&format!("ecdsa-p256-app-{v}.bin"));
        let r = decode_image(&img, Some(&key("ecdsa-p256.pub.pem")));
        check_valid(&r, &img, "ecdsa-p256.pub.pem", "ECDSA P-256", &format!("{v}+0"));
        assert_eq!(r.signature.kind.as_deref(), Some("ECDSA_SIG"));
    }
}

#[test]
fn a_padded_confirmed_image_decodes_up_to_its_tlvs() {
    let img = image("ed25519-app-1.0.0-confirmed.bin");
    assert_eq!(img.len(), 0x30000, "padded to the slot");
    let r = decode_image(&img, Some(&key("ed25519.pub.pem")));
    check_valid(&r, &img, "ed25519.pub.pem", "Ed25519", "1.0.0+0");
    assert_eq!(
        r.total_size.map(|n| n as usize),
        Some(image("ed25519-app-1.0.0.bin").len())
    );
}

#[test]
fn a_flipped_body_byte_is_caught() {
    for (name, pem) in [
        ("ed25519-app-1.0.0.bin", "ed25519.pub.pem"),
        ("ecdsa-p256-app-1.0.0.bin", "ecdsa-p256.pub.pem"),
    ] {
        let mut img = image(name);
        img[HDR + 100] ^= 0x01;
        let r = decode_image(&img, Some(&key(pem)));
        assert_eq!(r.validity, Validity::HashMismatch, "{name}");
        assert!(!r.hash.matches);
    }
}

#[test]
fn a_flipped_signature_byte_is_caught() {
    for (name, pem) in [
        ("ed25519-app-1.0.0.bin", "ed25519.pub.pem"),
        ("ecdsa-p256-app-1.0.0.bin", "ecdsa-p256.pub.pem"),
    ] {
        let mut img = image(name);
        // The last byte of the signature, the TLV area's last entry.
        let last = img.len() - 1;
        img[last] ^= 0x01;
        let r = decode_image(&img, Some(&key(pem)));
        assert_eq!(r.validity, Validity::BadSignature, "{name}");
        assert_eq!(r.signature.verified, Some(false));
        assert_eq!(r.signature.status, "does NOT verify");
    }
}

#[test]
fn the_wrong_key_is_an_unknown_key() {
    let ed = key("ed25519.pub.pem");
    let p256 = key("ecdsa-p256.pub.pem");
    let r = decode_image(&image("ed25519-app-1.0.0.bin"), Some(&p256));
    assert_eq!(r.validity, Validity::UnknownKey);
    assert_eq!(r.key.matches, Some(false));
    assert!(r.signature.status.starts_with("not checked"), "{}", r.signature.status);
    assert_eq!(
        decode_image(&image("ecdsa-p256-app-1.0.0.bin"), Some(&ed)).validity,
        Validity::UnknownKey
    );
    // cutpoint's own test key is not imgtool's.
    let test_key = cutpoint_sim::imgtool::public_key(&cutpoint_sim::imgtool::default_test_key());
    assert_eq!(
        decode_image(&image("ed25519-app-1.0.0.bin"), Some(&test_key)).validity,
        Validity::UnknownKey
    );
}

#[test]
fn rsa_and_p384_images_are_unverified_not_valid() {
    for (name, algorithm, hash_len) in [
        ("rsa-2048-app-1.0.0.bin", "RSA-2048", 32),
        ("ecdsa-p384-app-1.0.0.bin", "ECDSA P-384", 48),
    ] {
        let img = image(name);
        for key in [Some(key("ed25519.pub.pem")), None] {
            let r = decode_image(&img, key.as_ref());
            assert_eq!(r.validity, Validity::Unverified, "{name}: {}", render_image_text(&r));
            assert_eq!(r.signature.algorithm.as_deref(), Some(algorithm));
            assert_eq!(r.signature.verified, None);
            let status = format!("not verified ({algorithm} is not supported by cutpoint)");
            assert_eq!(r.signature.status, status);
            let text = render_image_text(&r);
            assert!(text.contains(&status), "{text}");
            assert!(text.contains("verdict: unverified ("), "{text}");
            // The hash is still checked, with the image's own algorithm.
            assert!(r.hash.matches, "{name}");
            assert_eq!(r.hash.tlv.as_ref().map(|h| h.len() / 2), Some(hash_len));
            assert_eq!(r.total_size, Some(img.len() as u32));
        }
        let mut bad = img.clone();
        bad[HDR + 7] ^= 0x80;
        assert_eq!(decode_image(&bad, None).validity, Validity::HashMismatch, "{name}");
    }
    let p384 = image("ecdsa-p384-app-1.0.0.bin");
    let r = decode_image(&p384, None);
    assert_eq!(r.hash.algorithm, "SHA384");
    assert_eq!(
        r.hash.computed.as_deref(),
        Some(hex::encode(Sha384::digest(&p384[..HDR + BODY])).as_str())
    );
}

/// The STM32H7 fixtures: imgtool `--align 32 --max-sectors 7 --pad`, padded to the board's
/// 896 KiB slots (make.sh `sign_h7`).
fn h7_slot_images() -> (Vec<u8>, Vec<u8>) {
    (
        image("ed25519-app-1.0.0-align32-confirmed.bin"),
        image("ed25519-app-2.0.0-align32-pending.bin"),
    )
}

#[test]
fn align_32_trailers_decode_where_imgtool_wrote_them() {
    use cutpoint_inspect::{decode_flash, FlagState, MagicState};
    let l = cutpoint_sim::BoardProfile::builtin("stm32h7").unwrap().layout;
    let g = l.trailer_geom();
    assert_eq!(g.align(), 32);
    let (confirmed, pending) = h7_slot_images();
    assert_eq!(confirmed.len() as u32, l.primary.size, "padded to the slot");
    // imgtool's own bytes: the magic starts with the alignment, image_ok 64 bytes from the end.
    let end = confirmed.len();
    assert_eq!(confirmed[end - 16..], g.magic());
    assert_eq!(&confirmed[end - 16..end - 14], &[0x20, 0x00]);
    assert_eq!(confirmed[end - 64], 0x01);
    assert_eq!(pending[end - 64], 0xff, "a test request leaves image_ok erased");

    let mut dump = vec![0xffu8; l.scratch.end() as usize];
    dump[l.primary.offset as usize..l.primary.end() as usize].copy_from_slice(&confirmed);
    dump[l.secondary.offset as usize..l.secondary.end() as usize].copy_from_slice(&pending);
    let r = decode_flash(&dump, 0, &l, Some(&key("ed25519.pub.pem")));
    assert_eq!(r.layout_error, None);
    for (slot, version, image_ok) in [
        ("primary", "1.0.0+0", FlagState::Set),
        ("secondary", "2.0.0+0", FlagState::Unset),
    ] {
        let s = r.slot(slot).unwrap();
        let img = s.image.as_ref().unwrap();
        assert_eq!(img.validity, Validity::Valid, "{slot}");
        assert_eq!(img.version(), Some(version), "{slot}");
        let t = s.trailer.as_ref().unwrap();
        assert_eq!(t.magic, MagicState::Good, "{slot}");
        assert_eq!(t.image_ok, image_ok, "{slot}");
        assert_eq!(t.copy_done, FlagState::Unset, "{slot}");
        assert_eq!(t.swap_type, "unset", "{slot}");
    }
    // Read with the default 8-byte geometry (a board whose bootloader is built with
    // BOOT_MAX_ALIGN 8), the same slot's magic is not MCUboot's.
    let t8 = fut::trailer::decode_tail(fut::trailer::Geom::DEFAULT, &confirmed).unwrap();
    assert_eq!(t8.magic, fut::trailer::Magic::Bad);
}

#[test]
fn an_align_32_confirmed_baseline_boots_and_takes_an_update_on_the_stm32h7() {
    use cutpoint_sim::board::{BootResult, RunEnd, RunOptions};
    let profile = cutpoint_sim::BoardProfile::builtin("stm32h7").unwrap();
    let l = profile.layout;
    let (confirmed, _) = h7_slot_images();
    let mut s = cutpoint_sim::scenario::Scenario::new(profile, 16);
    s.old_image = std::sync::Arc::new(confirmed);
    s.new_image = std::sync::Arc::new(image("ed25519-app-2.0.0.bin"));
    s.key = key("ed25519.pub.pem");
    let mut board = s.board();
    let log = board.run(RunOptions::default());
    let text: Vec<_> = log.console.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(log.end, RunEnd::Idle, "{text:#?}");
    let jumps: Vec<_> = log
        .boots
        .iter()
        .filter_map(|b| match &b.result {
            BootResult::Jump { version, .. } => Some(version.clone()),
            _ => None,
        })
        .collect();
    // The confirmed baseline runs (no revert of it), then the update is swapped in and confirmed.
    assert_eq!(jumps.first().map(String::as_str), Some("1.0.0+0"), "{text:#?}");
    assert_eq!(jumps.last().map(String::as_str), Some("2.0.0+0"), "{text:#?}");
    assert!(
        text.iter().any(|t| t.starts_with("app: confirm version=2.0.0")),
        "{text:#?}"
    );
    let dump = &board.flash.raw()[..l.scratch.end() as usize];
    let r = cutpoint_inspect::decode_flash(dump, 0, &l, Some(&key("ed25519.pub.pem")));
    let p = r.slot("primary").unwrap();
    assert_eq!(p.image.as_ref().unwrap().version(), Some("2.0.0+0"));
    let t = p.trailer.as_ref().unwrap();
    assert_eq!(t.magic, cutpoint_inspect::MagicState::Good);
    assert_eq!(t.image_ok, cutpoint_inspect::FlagState::Set);
    assert_eq!(t.copy_done, cutpoint_inspect::FlagState::Set);
    assert_eq!(t.swap_type, "test");
}

/// What `cutpoint inspect` prints for images whose checks it cannot make or that MCUboot
/// treats apart (fixtures/imgtool/make-refused.sh): an encrypted body's hash is said not
/// checked, not a mismatch; the non-bootable and ROM_FIXED flags are spelled out with the load
/// address; the key hash of an image hashed with SHA-512 (64 bytes) or SHA-384 (48) is decoded,
/// its length shown, and checked against the key hashed the same way.
#[test]
fn inspect_says_why_a_check_is_not_made_and_reads_long_key_hashes() {
    let text = |name: &str, k: Option<&PublicKey>| render_image_text(&decode_image(&image(name), k));

    let enc = text("ed25519-app-2.0.0-encrypted.bin", None);
    let hash_line = enc.lines().find(|l| l.starts_with("sha256:")).unwrap();
    assert!(hash_line.ends_with(" encrypted (flag 0x4), not checked"), "{enc}");
    assert!(!enc.contains("MISMATCH"), "{enc}");

    let nb = text("ed25519-app-2.0.0-non-bootable.bin", None);
    assert!(
        nb.contains("\nnon-bootable (flag 0x10): MCUboot does not boot this image\n"),
        "{nb}"
    );
    let rom = text("ed25519-app-1.0.0-rom-fixed-primary.bin", None);
    assert!(rom.contains("flags=0x100 (ROM_FIXED)"), "{rom}");
    assert!(
        rom.contains("\nrom-fixed (flag 0x100): runs only at load address 0x00010000\n"),
        "{rom}"
    );
    let plain = text("ed25519-app-2.0.0.bin", Some(&key("ed25519.pub.pem")));
    assert!(!plain.contains("non-bootable") && !plain.contains("rom-fixed") && !plain.contains("bytes)"));

    let k = key("ed25519.pub.pem");
    let r = decode_image(&image("ed25519-app-2.0.0-sha512.bin"), Some(&k));
    assert_eq!(r.hash.algorithm, "SHA512");
    assert!(r.hash.matches);
    let expected = hex::encode(sha2::Sha512::digest(der("ed25519.pub.pem")));
    assert_eq!(r.key.tlv.as_deref(), Some(expected.as_str()));
    assert_eq!(r.key.matches, Some(true));
    let sha512 = render_image_text(&r);
    assert!(
        sha512.contains(&format!(
            "key hash: tlv={expected} (64 bytes) expected={expected} match"
        )),
        "{sha512}"
    );
    assert!(
        sha512
            .lines()
            .any(|l| l.starts_with("sha512: ") && l.ends_with(" match")),
        "{sha512}"
    );
    // Another key's SHA-512 hash is a mismatch, not a missing TLV.
    let other = decode_image(&image("ed25519-app-2.0.0-sha512.bin"), Some(&key("ecdsa-p256.pub.pem")));
    assert_eq!(other.key.matches, Some(false));

    let p384 = text("ecdsa-p384-app-1.0.0.bin", None);
    let keyhash = hex::encode(Sha384::digest(der("ecdsa-p384.pub.pem")));
    assert!(p384.contains(&format!("key hash: tlv={keyhash} (48 bytes)")), "{p384}");
    assert!(
        p384.lines().any(|l| l.starts_with("sha384: ") && l.ends_with(" match")),
        "{p384}"
    );
}
