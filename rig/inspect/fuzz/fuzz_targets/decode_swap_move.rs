//! Any bytes as a flash dump decoded with swap-move's and swap-offset's metadata (trailers and
//! the move/swap status records). The first byte picks how the rest is used:
//! - 0: a dump of a small flash (256-byte sectors) from the base address in bytes 1..3;
//! - 1: a layout from bytes 1..45 (ten u32 fields and a base address), the dump after it;
//! - 2: bytes 3.. pasted into an erased small flash at the offset in bytes 1..3.
#![no_main]

use cutpoint_inspect::{decode_flash_for, render_text};
use fut::layout::{Area, Layout};
use libfuzzer_sys::fuzz_target;

const SMALL_FLASH: usize = 4864;

fn small_layout() -> Layout {
    Layout {
        sector_size: 256,
        write_size: 4,
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

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

fn check(dump: &[u8], base: u32, layout: &Layout) {
    for scheme in ["swap-move", "swap-offset"] {
        let a = decode_flash_for(scheme, dump, base, layout, None);
        assert_eq!(a, decode_flash_for(scheme, dump, base, layout, None), "deterministic");
        let _ = render_text(&a);
        let _ = a.slot_summaries();
        assert_eq!(a.slots.is_empty(), a.layout_error.is_some());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 if rest.len() >= 2 => {
            let base = u32::from(u16::from_le_bytes([rest[0], rest[1]])) % SMALL_FLASH as u32;
            check(&rest[2..], base, &small_layout());
        }
        1 if rest.len() >= 44 => {
            let f = |i| u32_at(rest, i);
            let area = |i| Area {
                offset: f(i),
                size: f(i + 1),
            };
            let layout = Layout {
                sector_size: f(0),
                write_size: f(1),
                bootloader: area(2),
                primary: area(4),
                secondary: area(6),
                scratch: area(8),
            };
            check(&rest[44..], f(10), &layout);
        }
        2 if rest.len() >= 2 => {
            let at = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % SMALL_FLASH;
            let mut flash = vec![0xffu8; SMALL_FLASH];
            let n = (rest.len() - 2).min(SMALL_FLASH - at);
            flash[at..at + n].copy_from_slice(&rest[2..2 + n]);
            check(&flash, 0, &small_layout());
        }
        _ => {}
    }
});
