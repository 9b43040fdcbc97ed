//! Any bytes as embassy-boot's state partition on a small map (4 KiB pages, 4-byte words, 7
//! active pages), and as that scheme's whole flash (the bytes laid from the state partition's
//! start); both are deterministic and render.
#![no_main]

use cutpoint_inspect::scheme::decode_embassy_state;
use cutpoint_inspect::{decode_flash_for, render_text};
use fut::layout::{Area, Layout};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let layout = Layout {
        sector_size: 4096,
        write_size: 4,
        bootloader: Area { offset: 0, size: 4096 },
        primary: Area { offset: 4096, size: 8 * 4096 },
        secondary: Area { offset: 9 * 4096, size: 8 * 4096 },
        scratch: Area { offset: 17 * 4096, size: 2 * 4096 },
    };
    let a = decode_embassy_state(data, &layout);
    assert_eq!(a, decode_embassy_state(data, &layout), "deterministic");
    let mut flash = vec![0xffu8; 19 * 4096];
    let n = data.len().min(2 * 4096);
    flash[17 * 4096..17 * 4096 + n].copy_from_slice(&data[..n]);
    let r = decode_flash_for("embassy-boot", &flash, 0, &layout, None);
    assert_eq!(r, decode_flash_for("embassy-boot", &flash, 0, &layout, None), "deterministic");
    let _ = render_text(&r);
});
