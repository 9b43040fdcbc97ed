//! Any bytes as an ESP-IDF app image: alone (as `cutpoint inspect --image` reads a file), and
//! laid into the primary slot of a small esp-idf map decoded with `--mode esp-idf`. Both are
//! deterministic, render, serialize, and agree on the image.
#![no_main]

use cutpoint_inspect::{decode_esp_image, decode_flash_for, render_image_text, render_text};
use fut::layout::{Area, Layout};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let alone = decode_esp_image(data);
    assert_eq!(alone, decode_esp_image(data), "deterministic");
    let _ = render_image_text(&alone);
    assert!(serde_json::to_string(&alone).is_ok());

    let l = Layout {
        sector_size: 256,
        write_size: 4,
        bootloader: Area { offset: 0, size: 256 },
        primary: Area { offset: 256, size: 8192 },
        secondary: Area { offset: 8448, size: 8192 },
        scratch: Area { offset: 16640, size: 512 },
    };
    let mut dump = vec![0xffu8; 17152];
    let n = data.len().min(8192);
    dump[256..256 + n].copy_from_slice(&data[..n]);
    let r = decode_flash_for("esp-idf", &dump, 0, &l, None);
    let _ = render_text(&r);
    if data.len() <= 8192 && data.first() == Some(&0xe9) {
        // The slot's erased tail is not part of a whole image: same validity whenever the image
        // ended inside the data.
        let slot = r.slots[0].image.as_ref().expect("the slot's image");
        if alone.validity == cutpoint_inspect::Validity::Valid {
            assert_eq!(slot.validity, alone.validity);
            assert_eq!(slot.version(), alone.version());
        }
    }
});
