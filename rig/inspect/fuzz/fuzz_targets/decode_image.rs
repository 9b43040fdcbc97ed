//! Any bytes as a signed image, with and without the key of the rig's default test image.
#![no_main]

use cutpoint_inspect::{decode_image, render_image_text};
use fut::PublicKey;
use libfuzzer_sys::fuzz_target;

/// Public key of cutpoint's default test-only signing key (the seeds are signed with it).
const KEY: [u8; 32] = [
    0x04, 0xfb, 0x8c, 0x8c, 0xe0, 0x63, 0x6d, 0x1c, 0xd0, 0xf0, 0xce, 0x7d, 0xfb, 0xf1, 0x2b, 0x3a, 0x41, 0xec, 0x15,
    0xdc, 0x39, 0x5f, 0x29, 0xfa, 0x32, 0xaf, 0xe0, 0xfb, 0x12, 0x02, 0x11, 0x44,
];

fuzz_target!(|data: &[u8]| {
    let key = PublicKey::Ed25519(KEY);
    let with_key = decode_image(data, Some(&key));
    let without = decode_image(data, None);
    assert_eq!(with_key, decode_image(data, Some(&key)), "deterministic");
    assert_eq!(with_key.header, without.header);
    assert_eq!(with_key.tlvs, without.tlvs);
    let _ = render_image_text(&with_key);
    assert!(serde_json::to_string(&without).is_ok());
});
