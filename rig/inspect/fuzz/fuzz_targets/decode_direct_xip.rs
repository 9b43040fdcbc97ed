//! Any bytes as a flash dump decoded as MCUboot direct-XIP keeps it (both slots' images and
//! trailers, the application's note): the decoder must not panic, must say the same twice, and
//! a slot it says boots must hold an image whose trailer lets it boot. The first byte picks how
//! the rest is used:
//! - 0: a dump of a small flash (256-byte sectors) from the base address in bytes 1..3;
//! - 1: bytes 3.. pasted into an erased small flash at the offset in bytes 1..3.
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

fn check(dump: &[u8], base: u32, layout: &Layout) {
    let a = decode_flash_for("direct-xip", dump, base, layout, None);
    assert_eq!(a, decode_flash_for("direct-xip", dump, base, layout, None), "deterministic");
    let _ = render_text(&a);
    assert_eq!(a.slots.is_empty(), a.layout_error.is_some());
    if let Some(x) = &a.direct_xip {
        if let Some(s) = &x.boot_slot {
            let slot = x.slots.iter().find(|d| &d.name == s).expect("a slot of the report");
            assert!(slot.version.is_some());
            assert!(matches!(slot.state.as_deref(), Some("first-try" | "confirmed")));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 2 {
        0 if rest.len() >= 2 => {
            let base = u32::from(u16::from_le_bytes([rest[0], rest[1]])) % SMALL_FLASH as u32;
            check(&rest[2..], base, &small_layout());
        }
        1 if rest.len() >= 2 => {
            let at = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % SMALL_FLASH;
            let mut flash = vec![0xffu8; SMALL_FLASH];
            let n = (rest.len() - 2).min(SMALL_FLASH - at);
            flash[at..at + n].copy_from_slice(&rest[2..2 + n]);
            check(&flash, 0, &small_layout());
        }
        _ => {}
    }
});
