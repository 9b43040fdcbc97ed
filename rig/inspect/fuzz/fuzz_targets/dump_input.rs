//! The input shapes the dump fuzz targets share (`decode_flash`, `decode_swap_move`,
//! `decode_direct_xip`, `decode_atomic_word`, `decode_pending_log`): any bytes
//! as a flash dump, the first byte picking how the rest is used:
//! - 0: a dump of a small flash (256-byte sectors) from the base address in bytes 1..3;
//! - 1: a layout from bytes 1..45 (ten u32 fields and a base address), the dump after it;
//! - 2: bytes 3.. pasted into an erased small flash at the offset in bytes 1..3.
//!
//! The checks each target makes of a decoded dump are here too, and
//! `rig/inspect/tests/fuzz_seeds.rs` runs the seeds through them in the ordinary test suite.

#![allow(dead_code)]

use cutpoint_inspect::{decode_flash, decode_flash_for, render_text, FlashReport};
use fut::layout::{Area, Layout};

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

/// Calls `check(dump, base, layout)` with the dump `data` describes, if it describes one.
pub fn with_dump(data: &[u8], check: impl FnOnce(&[u8], u32, &Layout)) {
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
}

/// What every decoding must keep: the same report twice, a report that renders, and slots
/// exactly when the layout could be decoded against.
fn check_report(a: &FlashReport, again: &FlashReport) {
    assert_eq!(a, again, "deterministic");
    let _ = render_text(a);
    let _ = a.slot_summaries();
    assert_eq!(a.slots.is_empty(), a.layout_error.is_some());
}

/// `decode_flash`: the default decoder (MCUboot trailers and a scratch area).
pub fn check_default(dump: &[u8], base: u32, layout: &Layout) {
    check_report(
        &decode_flash(dump, base, layout, None),
        &decode_flash(dump, base, layout, None),
    );
}

/// `decode_swap_move`: swap-move's and swap-offset's decoders (trailers and status records).
pub fn check_swap_move(dump: &[u8], base: u32, layout: &Layout) {
    for scheme in ["swap-move", "swap-offset"] {
        check_report(
            &decode_flash_for(scheme, dump, base, layout, None),
            &decode_flash_for(scheme, dump, base, layout, None),
        );
    }
}

/// `decode_direct_xip`: MCUboot direct-XIP's decoder; a slot it says boots holds an image whose
/// trailer lets it boot.
pub fn check_direct_xip(dump: &[u8], base: u32, layout: &Layout) {
    let a = decode_flash_for("direct-xip", dump, base, layout, None);
    check_report(&a, &decode_flash_for("direct-xip", dump, base, layout, None));
    if let Some(x) = &a.direct_xip {
        if let Some(s) = &x.boot_slot {
            let slot = x.slots.iter().find(|d| &d.name == s).expect("a slot of the report");
            assert!(slot.version.is_some());
            assert!(matches!(slot.state.as_deref(), Some("first-try" | "confirmed")));
        }
    }
}

/// `decode_atomic_word`: the atomic-word scheme's decoder; a slot is named only for a valid word,
/// and the bootloader starts from the primary slot otherwise.
pub fn check_atomic_word(dump: &[u8], base: u32, layout: &Layout) {
    let a = decode_flash_for("atomic-word", dump, base, layout, None);
    check_report(&a, &decode_flash_for("atomic-word", dump, base, layout, None));
    if let Some(w) = &a.atomic_word {
        assert_eq!(w.slot.is_some(), w.condition == "valid");
        if w.condition != "valid" {
            assert_eq!(w.boot_slot, "primary");
        }
    }
}

/// `decode_pending_log`: the pending-log scheme's decoder; the bootloader starts from the slot
/// of a valid boot target, from the primary otherwise, and an open transaction lies after the
/// last completed record.
pub fn check_pending_log(dump: &[u8], base: u32, layout: &Layout) {
    let a = decode_flash_for("pending-log", dump, base, layout, None);
    check_report(&a, &decode_flash_for("pending-log", dump, base, layout, None));
    if let Some(l) = &a.pending_log {
        assert_eq!(l.records.len() as u32, l.used);
        assert!(l.used <= l.capacity);
        match &l.target_slot {
            Some(slot) => assert_eq!(&l.boot_slot, slot),
            None => assert_eq!(l.boot_slot, "primary"),
        }
        if let (Some(o), Some(c)) = (l.open_transaction, l.last_completed) {
            assert!(o > c);
        }
    }
}
