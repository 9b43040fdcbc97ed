//! The small flash map several decoder tests lay their dumps on: 256-byte sectors, a 256-byte
//! bootloader, two 2 KiB slots and a 512-byte scratch/record region, 4864 bytes in all.
#![allow(dead_code)] // each test crate uses what it needs

use fut::layout::{Area, Layout};

/// The bytes of the whole map, from address 0.
pub const SMALL_FLASH: usize = 4864;

/// The small map with program granules of `write_size` bytes.
pub fn small_layout(write_size: u32) -> Layout {
    Layout {
        sector_size: 256,
        write_size,
        bootloader: Area { offset: 0, size: 256 },
        primary: Area {
            offset: 256,
            size: 2048,
        },
        secondary: Area {
            offset: 2304,
            size: 2048,
        },
        scratch: Area {
            offset: 4352,
            size: 512,
        },
    }
}
