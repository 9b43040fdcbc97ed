//! Any bytes as the redundant-copies boot record. The first byte picks the sector size (at
//! most 4 KiB); the rest is the dump. The same bytes are also decoded as the redundant-copies
//! scheme's whole flash (slots and the two copies in the scratch region of a small map), and
//! both render.
#![no_main]

use cutpoint_inspect::redundant::decode_redundant_sectors;
use cutpoint_inspect::{decode_flash_for, render_redundant_text, render_text};
use fut::layout::{Area, Layout};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&s, rest)) = data.split_first() else {
        return;
    };
    let sector = usize::from(s) * 16;
    let a = decode_redundant_sectors(rest, sector);
    assert_eq!(a, decode_redundant_sectors(rest, sector), "deterministic");
    assert_eq!(a.copies.len(), 2);
    let _ = render_redundant_text(&a);
    let layout = Layout {
        sector_size: 256,
        write_size: 4,
        bootloader: Area { offset: 0, size: 256 },
        primary: Area { offset: 256, size: 2048 },
        secondary: Area { offset: 2304, size: 2048 },
        scratch: Area { offset: 4352, size: 512 },
    };
    let r = decode_flash_for("redundant-copies", rest, 0, &layout, None);
    assert_eq!(r, decode_flash_for("redundant-copies", rest, 0, &layout, None), "deterministic");
    let _ = render_text(&r);
});
