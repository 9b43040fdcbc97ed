//! The verdict scripts gate on: every image valid, an image invalid, or not a dump at all.

use cutpoint_inspect::{decode_flash, decode_image, flash_verdict, image_verdict, Gate};
use cutpoint_sim::board::RunEnd;
use cutpoint_sim::imgtool::{build_image, default_test_key, public_key, test_key, ImageSpec};
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::{BoardProfile, RunOptions};
use fut::image::Version;
use fut::PublicKey;

fn key() -> PublicKey {
    public_key(&default_test_key())
}

fn board() -> BoardProfile {
    BoardProfile::builtin("nrf52840").unwrap()
}

/// Flash after an uncut update: 2.0.0 in the primary slot, 1.0.0 in the secondary.
fn updated_flash() -> Vec<u8> {
    let mut b = Scenario::new(board(), 64).board();
    assert_eq!(b.run(RunOptions::default()).end, RunEnd::Idle);
    b.flash.raw().to_vec()
}

#[test]
fn a_dump_whose_images_all_verify_is_valid() {
    let v = flash_verdict(&decode_flash(&updated_flash(), 0, &board().layout, Some(&key())));
    assert_eq!(v.gate, Gate::Valid, "{:?}", v.reasons);
    assert_eq!(v.reasons.len(), 2, "both slots hold an image: {:?}", v.reasons);
}

#[test]
fn a_hash_mismatch_or_another_key_is_invalid() {
    let mut dump = updated_flash();
    // A byte of the primary image's body.
    let at = board().layout.primary.offset as usize + 0x400;
    dump[at] ^= 0x01;
    let v = flash_verdict(&decode_flash(&dump, 0, &board().layout, Some(&key())));
    assert_eq!(v.gate, Gate::Invalid);
    assert!(
        v.reasons.iter().any(|r| r.starts_with("primary: hash-mismatch")),
        "{:?}",
        v.reasons
    );

    let other = public_key(&test_key("other"));
    let v = flash_verdict(&decode_flash(&updated_flash(), 0, &board().layout, Some(&other)));
    assert_eq!(v.gate, Gate::Invalid);
    assert!(v.reasons.iter().all(|r| r.contains("unknown-key")), "{:?}", v.reasons);
}

#[test]
fn an_erased_device_has_nothing_to_boot() {
    let dump = vec![0xFF; 1 << 20];
    let v = flash_verdict(&decode_flash(&dump, 0, &board().layout, Some(&key())));
    assert_eq!(v.gate, Gate::Invalid);
    assert!(v.reasons[0].contains("nothing to boot"), "{:?}", v.reasons);
}

#[test]
fn what_is_not_a_dump_of_the_map_is_bad_input() {
    let text = b"# cutpoint\n".repeat(100_000);
    let v = flash_verdict(&decode_flash(&text, 0, &board().layout, Some(&key())));
    assert_eq!(v.gate, Gate::NotInput, "{:?}", v.reasons);
    // A dump that holds none of the slots (wrong base or a tiny file).
    let v = flash_verdict(&decode_flash(&[0xFF; 64], 0, &board().layout, Some(&key())));
    assert_eq!(v.gate, Gate::NotInput);
    assert!(v.reasons[0].contains("--base"), "{:?}", v.reasons);
    // A map that cannot be decoded against.
    let mut bad = board().layout;
    bad.secondary.size = bad.primary.size / 2;
    let v = flash_verdict(&decode_flash(&updated_flash(), 0, &bad, Some(&key())));
    assert_eq!(v.gate, Gate::NotInput);
}

#[test]
fn one_image_is_valid_invalid_or_not_an_image() {
    let v = Version {
        major: 1,
        minor: 2,
        revision: 3,
        build: 0,
    };
    let img = build_image(&ImageSpec::new(v, 4096), &default_test_key());
    assert_eq!(image_verdict(&decode_image(&img, Some(&key()))).gate, Gate::Valid);
    let mut torn = img.clone();
    torn[100] ^= 0xFF;
    assert_eq!(image_verdict(&decode_image(&torn, Some(&key()))).gate, Gate::Invalid);
    let other = public_key(&test_key("other"));
    assert_eq!(image_verdict(&decode_image(&img, Some(&other))).gate, Gate::Invalid);
    assert_eq!(
        image_verdict(&decode_image(b"hello", Some(&key()))).gate,
        Gate::NotInput
    );
    assert_eq!(
        image_verdict(&decode_image(&[0xFF; 4096], Some(&key()))).gate,
        Gate::NotInput
    );
}
