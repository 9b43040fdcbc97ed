//! ESP-IDF app images made by esptool (`fixtures/esp/make.sh`: `esptool --chip esp32c3
//! elf2image` over ELFs with an `esp_app_desc_t`), decoded from a file and from a slot of an
//! esp-idf dump; corrupted copies (a flipped byte, a cut short image) are refused, and no bytes
//! make the decoder panic.

use std::path::PathBuf;

use cutpoint_inspect::{decode_flash_for, decode_image, image_verdict, render_image_text, Gate, Validity};
use fut::layout::{Area, Layout};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/esp")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What `esptool image-info` (5.6.0) prints for the fixtures: checksum, validation hash.
const APP_1_CHECKSUM: u8 = 0x49;
const APP_1_SHA256: &str = "3fcaa2a411ef00e76f258db5e1d080528a1d38927d15237c06ac5ff7084108fc";
const APP_2_SHA256: &str = "f0a7c34625eaad1a4bc16bfbc0ca5fd53f91b9351c8311bf38b4c333c480cae2";

#[test]
fn an_esptool_image_decodes_with_its_app_descriptor() {
    let r = decode_image(&fixture("app-1.0.0.bin"), None);
    assert_eq!(r.validity, Validity::Valid, "{}", render_image_text(&r));
    let e = r.esp.as_ref().expect("an ESP image report");
    assert_eq!(e.chip.as_deref(), Some("ESP32-C3"));
    assert_eq!(e.chip_id, 5);
    assert_eq!(e.segment_count, 3);
    assert_eq!(e.entry_addr, 0x4038_0000);
    assert!(e.hash_appended);
    let loads: Vec<u32> = e.segments.iter().map(|s| s.load_addr).collect();
    assert_eq!(loads, [0x3c00_0020, 0x3fc8_8000, 0x4038_0000]);
    assert_eq!(e.segments[0].data_offset, 0x20);
    assert_eq!(e.checksum_stored, Some(APP_1_CHECKSUM));
    assert_eq!(e.checksum_computed, Some(APP_1_CHECKSUM));
    assert_eq!(r.hash.tlv.as_deref(), Some(APP_1_SHA256));
    assert_eq!(r.hash.computed.as_deref(), Some(APP_1_SHA256));
    assert_eq!(e.total_size, Some(5728), "the file's whole length");
    let app = e.app.as_ref().expect("an app descriptor");
    assert_eq!(app.version, "1.0.0");
    assert_eq!(app.project_name, "cutpoint-esp-fixture");
    assert_eq!(app.idf_ver, "none (make_elf.py)");
    assert_eq!(app.secure_version, 0);
    assert_ne!(
        app.app_elf_sha256,
        "0".repeat(64),
        "elf2image --elf-sha256-offset filled it"
    );
    assert_eq!(r.version(), Some("1.0.0+0"));
    assert_eq!(r.short_hash(), Some(&APP_1_SHA256[..8]));
    let v = image_verdict(&r);
    assert_eq!(v.gate, Gate::Valid, "{:?}", v.reasons);
    let text = render_image_text(&r);
    assert!(text.contains("ESP app image: ESP32-C3 segments=3"), "{text}");
    assert!(
        text.contains("app: version=1.0.0 project=cutpoint-esp-fixture"),
        "{text}"
    );
    assert!(text.contains("verdict: valid"), "{text}");

    let r2 = decode_image(&fixture("app-2.0.0.bin"), None);
    assert_eq!(r2.validity, Validity::Valid);
    assert_eq!(r2.version(), Some("2.0.0+0"));
    assert_eq!(r2.hash.tlv.as_deref(), Some(APP_2_SHA256));
}

#[test]
fn an_image_without_an_appended_digest_is_checked_by_its_checksum_alone() {
    let bytes = fixture("app-1.0.0-no-digest.bin");
    let r = decode_image(&bytes, None);
    assert_eq!(r.validity, Validity::Valid);
    let e = r.esp.as_ref().unwrap();
    assert!(!e.hash_appended);
    assert_eq!(r.hash.tlv, None);
    assert_eq!(e.total_size, Some(bytes.len() as u32));
    assert_eq!(r.short_hash().map(str::len), Some(8), "its computed SHA-256 names it");
    let mut flipped = bytes.clone();
    flipped[0x200] ^= 0x10;
    let r = decode_image(&flipped, None);
    assert_eq!(r.validity, Validity::HashMismatch);
    assert!(r.esp.unwrap().problem.unwrap().contains("checksum"));
}

#[test]
fn a_flipped_byte_is_refused_by_the_checksum_or_the_hash() {
    let good = fixture("app-1.0.0.bin");
    let e = decode_image(&good, None).esp.unwrap();
    let image_len = e.image_len.unwrap() as usize;
    // In segment data: the checksum catches it (and the hash would).
    let mut b = good.clone();
    b[0x300] ^= 0x01;
    let r = decode_image(&b, None);
    assert_eq!(r.validity, Validity::HashMismatch);
    assert!(
        r.esp
            .as_ref()
            .unwrap()
            .problem
            .as_deref()
            .unwrap()
            .starts_with("checksum"),
        "{r:?}"
    );
    assert_eq!(image_verdict(&r).gate, Gate::Invalid);
    // In the extended header, which the checksum does not cover: the appended SHA-256 does.
    let mut b = good.clone();
    b[8] ^= 0x01; // wp_pin
    let r = decode_image(&b, None);
    assert_eq!(r.validity, Validity::HashMismatch);
    assert!(r.esp.as_ref().unwrap().problem.as_deref().unwrap().contains("SHA-256"));
    // The checksum byte itself, and the appended digest.
    for at in [image_len - 1, image_len + 5] {
        let mut b = good.clone();
        b[at] ^= 0x80;
        assert_eq!(decode_image(&b, None).validity, Validity::HashMismatch, "byte {at:#x}");
    }
}

#[test]
fn a_truncated_image_is_refused_at_every_length() {
    let good = fixture("app-1.0.0.bin");
    for len in (1..good.len())
        .step_by(7)
        .chain([good.len() - 1, good.len() - 32, 24, 31])
    {
        let r = decode_image(&good[..len], None);
        assert_eq!(r.validity, Validity::BadSize, "cut at {len}");
        assert_ne!(image_verdict(&r).gate, Gate::Valid, "cut at {len}");
    }
}

#[test]
fn segment_counts_past_the_bootloaders_limit_are_refused() {
    let good = fixture("app-1.0.0.bin");
    for n in [0u8, 17, 0xff] {
        let mut b = good.clone();
        b[1] = n;
        let r = decode_image(&b, None);
        assert_eq!(r.validity, Validity::BadSize, "{n} segments");
        assert!(r.esp.unwrap().problem.unwrap().contains("segments"));
    }
    // A segment length that is not a multiple of 4 (esp_image_format.c refuses it).
    let mut b = good.clone();
    b[0x1c] ^= 0x01;
    assert_eq!(decode_image(&b, None).validity, Validity::BadSize);
}

/// An esp-idf map: two 64 KiB slots, otadata in two 4 KiB sectors.
fn layout() -> Layout {
    Layout {
        sector_size: 4096,
        write_size: 4,
        bootloader: Area {
            offset: 0,
            size: 0x1_0000,
        },
        primary: Area {
            offset: 0x1_0000,
            size: 0x1_0000,
        },
        secondary: Area {
            offset: 0x2_0000,
            size: 0x1_0000,
        },
        scratch: Area {
            offset: 0x3_0000,
            size: 0x2000,
        },
    }
}

#[test]
fn a_dump_slot_holding_an_esp_image_is_judged_by_that_format() {
    let l = layout();
    let mut dump = vec![0xffu8; 0x3_2000];
    let one = fixture("app-1.0.0.bin");
    let two = fixture("app-2.0.0.bin");
    dump[0x1_0000..0x1_0000 + one.len()].copy_from_slice(&one);
    dump[0x2_0000..0x2_0000 + two.len()].copy_from_slice(&two);
    let r = decode_flash_for("esp-idf", &dump, 0, &l, None);
    assert_eq!(r.layout_error, None);
    let p = r.slot("primary").unwrap().image.as_ref().unwrap();
    assert_eq!((p.validity, p.version()), (Validity::Valid, Some("1.0.0+0")));
    assert!(r
        .slot("primary")
        .unwrap()
        .summary
        .starts_with("primary: 1.0.0+0 hash=3fcaa2a4 valid"));
    let s = r.slot("secondary").unwrap().image.as_ref().unwrap();
    assert_eq!((s.validity, s.version()), (Validity::Valid, Some("2.0.0+0")));
    assert_eq!(cutpoint_inspect::flash_verdict(&r).gate, Gate::Valid);
    // A cut in the secondary's download: the rest of the slot is erased.
    dump[0x2_0000 + 0x800..0x3_0000].fill(0xff);
    let r = decode_flash_for("esp-idf", &dump, 0, &l, None);
    let s = r.slot("secondary").unwrap().image.as_ref().unwrap();
    // Segment 1's header now reads erased: a length of 0xffffffff runs past the slot.
    assert_eq!(s.validity, Validity::BadSize, "{:?}", s.esp);
    assert_eq!(cutpoint_inspect::flash_verdict(&r).gate, Gate::Invalid);
    // Other schemes do not read ESP images: the slot has no MCUboot header.
    let r = decode_flash_for("swap-scratch", &dump, 0, &l, None);
    assert_eq!(
        r.slot("primary").unwrap().image.as_ref().unwrap().validity,
        Validity::NoHeader
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes after the magic: never a panic, and the verdict is deterministic.
    #[test]
    fn any_bytes_decode_without_panic(tail in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut b = vec![0xe9];
        b.extend_from_slice(&tail);
        let r = decode_image(&b, None);
        prop_assert_eq!(&r, &decode_image(&b, None));
        let _ = render_image_text(&r);
        prop_assert!(serde_json::to_string(&r).is_ok());
    }

    /// One flipped byte anywhere in an image with an appended SHA-256 is caught, except the
    /// one flip the format cannot see: `hash_appended` (byte 23) turned from 1 to 0, which
    /// leaves only the checksum to check (as ESP-IDF's bootloader does then).
    #[test]
    fn one_flipped_byte_is_caught(at in 0usize..5728, mask in 1u8..=255) {
        let mut b = fixture("app-1.0.0.bin");
        prop_assume!(!(at == 23 && b[23] ^ mask == 0));
        b[at] ^= mask;
        let r = decode_image(&b, None);
        prop_assert_ne!(r.validity, Validity::Valid, "flip {:#x} at {:#x}", mask, at);
    }

    /// A slot cut anywhere or overwritten with garbage in a dump: never a panic.
    #[test]
    fn any_slot_bytes_decode_without_panic(len in 0usize..6000, garbage in any::<u8>()) {
        let l = layout();
        let mut dump = vec![0xffu8; 0x3_2000];
        let one = fixture("app-1.0.0.bin");
        let n = len.min(one.len());
        dump[0x1_0000..0x1_0000 + n].copy_from_slice(&one[..n]);
        dump[0x1_0000 + n] = garbage;
        let r = decode_flash_for("esp-idf", &dump, 0, &l, None);
        let v = r.slot("primary").unwrap().image.as_ref().unwrap().validity;
        prop_assert!(n == one.len() || v != Validity::Valid, "cut at {}: {:?}", n, v);
    }
}
