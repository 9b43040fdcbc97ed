//! Images built by the rig's imgtool, decoded whole and after one deliberate fault each.

use cutpoint_inspect::{decode_image, render_image_text, Validity};
use cutpoint_sim::imgtool::{build_image, default_test_key, parse_version, test_key, ImageSpec};
use ed25519_dalek::Signer;
use fut::image::{ImageHeader, TLV_ED25519, TLV_INFO_MAGIC, TLV_KEYHASH, TLV_PROT_INFO_MAGIC, TLV_SHA256};
use sha2::{Digest, Sha256};

const BODY: u32 = 3000;
/// Offset of the unprotected TLV area in the test image (32-byte header + body).
const TLV_AT: usize = 32 + BODY as usize;

fn image() -> Vec<u8> {
    build_image(
        &ImageSpec::new(parse_version("1.2.3+4").unwrap(), BODY),
        &default_test_key(),
    )
}

fn key() -> fut::PublicKey {
    cutpoint_sim::imgtool::public_key(&default_test_key())
}

/// Offset of the value of the first TLV of `kind` in an imgtool image.
fn tlv_value_at(img: &[u8], kind: u16) -> usize {
    let mut p = TLV_AT + 4;
    loop {
        let k = u16::from_le_bytes([img[p], img[p + 1]]);
        let len = u16::from_le_bytes([img[p + 2], img[p + 3]]) as usize;
        if k == kind {
            return p + 4;
        }
        p += 4 + len;
    }
}

#[test]
fn a_signed_image_decodes_as_valid() {
    let img = image();
    let r = decode_image(&img, Some(&key()));
    assert_eq!(r.validity, Validity::Valid);
    assert!(r.key_checked);
    let h = r.header.as_ref().unwrap();
    assert_eq!(h.version, "1.2.3+4");
    assert_eq!((h.hdr_size, h.img_size, h.protect_tlv_size, h.flags), (32, BODY, 0, 0));
    assert!(h.flag_names.is_empty());
    let tlvs = r.tlvs.as_ref().unwrap();
    assert_eq!(tlvs.error, None);
    let names: Vec<_> = tlvs.entries.iter().map(|e| (e.name.as_str(), e.len)).collect();
    assert_eq!(names, [("KEYHASH", 32), ("SHA256", 32), ("ED25519", 64)]);
    assert!(tlvs.entries.iter().all(|e| e.value.is_some()));
    assert_eq!(r.protected_tlvs, None);
    let digest = hex::encode(Sha256::digest(&img[..TLV_AT]));
    assert_eq!(r.hash.computed.as_deref(), Some(digest.as_str()));
    assert!(r.hash.matches);
    assert_eq!(r.hash.covered, Some(TLV_AT as u32));
    assert_eq!(r.key.matches, Some(true));
    assert_eq!(r.signature.kind.as_deref(), Some("ED25519"));
    assert_eq!(r.signature.verified, Some(true));
    assert_eq!(r.total_size, Some(img.len() as u32));
    assert_eq!(r.short_hash(), Some(&digest[..8]));
    let text = render_image_text(&r);
    assert!(text.contains("verdict: valid\n"), "{text}");
    assert!(text.contains("signature: ED25519 verified"), "{text}");
}

#[test]
fn without_a_key_only_the_structure_and_hash_are_judged() {
    let r = decode_image(&image(), None);
    assert_eq!(r.validity, Validity::Valid);
    assert!(!r.key_checked);
    assert_eq!(r.key.matches, None);
    assert_eq!(r.key.expected, None);
    assert!(!r.signature.checked);
    assert_eq!(r.signature.verified, None);
    assert!(render_image_text(&r).contains("verdict: valid (key and signature not checked)"));
}

#[test]
fn a_flipped_body_byte_is_a_hash_mismatch() {
    let mut img = image();
    img[32 + 1234] ^= 0x01;
    for key in [Some(key()), None] {
        let r = decode_image(&img, key.as_ref());
        assert_eq!(r.validity, Validity::HashMismatch);
        assert!(!r.hash.matches);
        assert_ne!(r.hash.computed, r.hash.tlv);
    }
    assert!(render_image_text(&decode_image(&img, None)).contains("MISMATCH"));
}

#[test]
fn another_key_is_unknown() {
    let other = cutpoint_sim::imgtool::public_key(&test_key("someone else"));
    let r = decode_image(&image(), Some(&other));
    assert_eq!(r.validity, Validity::UnknownKey);
    assert_eq!(r.key.matches, Some(false));
    // The signature check against the wrong key fails too.
    assert_eq!(r.signature.verified, Some(false));

    // An image signed with another key, checked against the board's key.
    let img = build_image(
        &ImageSpec::new(parse_version("1.0.0").unwrap(), BODY),
        &test_key("someone else"),
    );
    assert_eq!(decode_image(&img, Some(&key())).validity, Validity::UnknownKey);
}

#[test]
fn a_corrupted_signature_is_bad() {
    let mut img = image();
    let at = tlv_value_at(&img, TLV_ED25519);
    img[at + 10] ^= 0x40;
    let r = decode_image(&img, Some(&key()));
    assert_eq!(r.validity, Validity::BadSignature);
    assert!(r.hash.matches);
    assert_eq!(r.key.matches, Some(true));
    assert_eq!(r.signature.verified, Some(false));
    // Without a key the signature is present and the rest holds.
    assert_eq!(decode_image(&img, None).validity, Validity::Valid);
}

#[test]
fn truncated_images() {
    let img = image();
    let cases: [(usize, Validity); 7] = [
        (0, Validity::NoHeader),
        (2, Validity::NoHeader),
        (20, Validity::BadSize),
        (32, Validity::BadSize),
        (TLV_AT / 2, Validity::BadSize),
        (TLV_AT, Validity::BadSize),
        (TLV_AT + 40, Validity::BadTlv),
    ];
    for (len, want) in cases {
        let r = decode_image(&img[..len], Some(&key()));
        assert_eq!(r.validity, want, "cut at {len}");
        assert_eq!(decode_image(&img[..len], None).validity, want, "cut at {len}, no key");
        assert_eq!(r.total_size, None);
    }
    // Cut inside the TLVs: the listing shows the entries it has and says where it stopped.
    let r = decode_image(&img[..TLV_AT + 44], None);
    assert_eq!(r.validity, Validity::BadTlv);
    let tlvs = r.tlvs.unwrap();
    assert_eq!(tlvs.entries.len(), 2);
    assert_eq!(tlvs.entries[1].value, None);
    assert!(tlvs.error.unwrap().contains("past the end of the data"));
    assert_eq!(r.hash.tlv, None);
}

#[test]
fn erased_and_garbage_bytes_have_no_header() {
    let r = decode_image(&[0xff; 256], Some(&key()));
    assert_eq!(r.validity, Validity::NoHeader);
    assert!(r.header_erased);
    assert_eq!(r.header, None);
    assert_eq!(r.tlvs, None);
    let r = decode_image(&[0x5a; 256], None);
    assert_eq!(r.validity, Validity::NoHeader);
    assert!(!r.header_erased);
}

#[test]
fn malformed_tlv_areas() {
    // Wrong info magic.
    let mut img = image();
    img[TLV_AT] ^= 0xff;
    let r = decode_image(&img, Some(&key()));
    assert_eq!(r.validity, Validity::BadTlv);
    assert!(r.tlvs.unwrap().error.unwrap().contains("bad magic"));

    // An entry length pointing past the end of the area.
    let mut img = image();
    let at = tlv_value_at(&img, TLV_SHA256) - 2;
    img[at..at + 2].copy_from_slice(&0xfff0u16.to_le_bytes());
    let r = decode_image(&img, Some(&key()));
    assert_eq!(r.validity, Validity::BadTlv);
    assert!(r.tlvs.unwrap().error.unwrap().contains("area end"));

    // A SHA256 TLV of the wrong length: the bootloader rejects the area.
    let mut img = image();
    let at = tlv_value_at(&img, TLV_SHA256) - 2;
    img[at..at + 2].copy_from_slice(&31u16.to_le_bytes());
    assert_eq!(decode_image(&img, Some(&key())).validity, Validity::BadTlv);

    // Header sizes past the end.
    let mut img = image();
    img[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    let r = decode_image(&img, Some(&key()));
    assert_eq!(r.validity, Validity::BadSize);
    assert_eq!(r.hash.covered, None, "hdr_size + img_size overflows u32");
    assert_eq!(r.tlvs, None);
}

/// Builds an image with a protected TLV area (a security counter), signed like imgtool does.
fn image_with_protected_tlvs() -> Vec<u8> {
    let sk = default_test_key();
    let body = vec![0x42u8; 500];
    let prot: Vec<u8> = [
        TLV_PROT_INFO_MAGIC.to_le_bytes(),
        12u16.to_le_bytes(),
        0x50u16.to_le_bytes(),
        4u16.to_le_bytes(),
        7u16.to_le_bytes(),
        0u16.to_le_bytes(),
    ]
    .concat();
    let hdr = ImageHeader {
        load_addr: 0x2000_0000,
        hdr_size: 0x200,
        protect_tlv_size: prot.len() as u16,
        img_size: body.len() as u32,
        flags: 0x21,
        version: parse_version("3.1.0+9").unwrap(),
    };
    let mut img = hdr.encode().to_vec();
    img.resize(0x200, 0);
    img.extend_from_slice(&body);
    img.extend_from_slice(&prot);
    let digest: [u8; 32] = Sha256::digest(&img).into();
    let keyhash = key().key_hash();
    let sig = sk.sign(&digest).to_bytes();
    img.extend_from_slice(&TLV_INFO_MAGIC.to_le_bytes());
    img.extend_from_slice(&(4u16 + 36 + 36 + 68).to_le_bytes());
    for (kind, data) in [
        (TLV_KEYHASH, &keyhash[..]),
        (TLV_SHA256, &digest[..]),
        (TLV_ED25519, &sig[..]),
    ] {
        img.extend_from_slice(&kind.to_le_bytes());
        img.extend_from_slice(&(data.len() as u16).to_le_bytes());
        img.extend_from_slice(data);
    }
    img
}

#[test]
fn protected_tlvs_are_listed_and_hashed() {
    let img = image_with_protected_tlvs();
    let r = decode_image(&img, Some(&key()));
    assert_eq!(r.validity, Validity::Valid);
    let h = r.header.as_ref().unwrap();
    assert_eq!(h.flag_names, ["PIC", "RAM_LOAD"]);
    assert_eq!(h.load_addr, 0x2000_0000);
    let prot = r.protected_tlvs.as_ref().unwrap();
    assert_eq!(prot.offset, 0x200 + 500);
    assert_eq!(prot.error, None);
    assert_eq!(prot.entries.len(), 1);
    assert_eq!(prot.entries[0].name, "SEC_CNT");
    assert_eq!(prot.entries[0].value.as_deref(), Some("07000000"));
    assert_eq!(r.hash.covered, Some(0x200 + 500 + 12));
    assert_eq!(r.total_size, Some(img.len() as u32));

    // The protected entries are covered by the hash.
    let mut bad = img.clone();
    bad[0x200 + 500 + 8] = 8;
    assert_eq!(decode_image(&bad, Some(&key())).validity, Validity::HashMismatch);
    // A protected info header that disagrees with the image header.
    let mut bad = img;
    bad[0x200 + 500 + 2] = 16;
    assert_eq!(decode_image(&bad, Some(&key())).validity, Validity::BadTlv);
}

#[test]
fn json_uses_stable_names() {
    let v: serde_json::Value = serde_json::to_value(decode_image(&image(), Some(&key()))).unwrap();
    assert_eq!(v["validity"], "valid");
    assert_eq!(v["header"]["version"], "1.2.3+4");
    assert_eq!(v["tlvs"]["entries"][1]["name"], "SHA256");
    assert_eq!(v["signature"]["verified"], true);
    let back: cutpoint_inspect::ImageReport = serde_json::from_value(v).unwrap();
    assert_eq!(back, decode_image(&image(), Some(&key())));
}
