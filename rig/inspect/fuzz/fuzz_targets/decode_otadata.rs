//! Any bytes as ESP-IDF otadata. The first two bytes pick the sector size (at most 4 KiB) and
//! the number of OTA slots; the rest is the dump. The same bytes are also decoded as the
//! esp-idf scheme's whole flash (slots and otadata in the scratch region of a small map).
#![no_main]

use cutpoint_inspect::decode_flash_for;
use cutpoint_inspect::otadata::decode_otadata_sectors;
use fut::layout::{Area, Layout};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[s, n], rest)) = data.split_first_chunk::<2>().map(|(a, r)| (a, r)) else {
        return;
    };
    let sector = usize::from(s) * 16;
    let a = decode_otadata_sectors(rest, sector, u32::from(n % 17));
    assert_eq!(a, decode_otadata_sectors(rest, sector, u32::from(n % 17)), "deterministic");
    assert_eq!(a.entries.len(), 2);
    let layout = Layout {
        sector_size: 256,
        write_size: 4,
        bootloader: Area { offset: 0, size: 256 },
        primary: Area { offset: 256, size: 2048 },
        secondary: Area { offset: 2304, size: 2048 },
        scratch: Area { offset: 4352, size: 512 },
    };
    let r = decode_flash_for("esp-idf", rest, 0, &layout, None);
    assert_eq!(r, decode_flash_for("esp-idf", rest, 0, &layout, None), "deterministic");
});
