//! The direct-XIP decoder: on dumps with an image (of any version, intact or spoiled) and any
//! trailer state in each slot, the slot it says boots is the one MCUboot's rules pick
//! (docs/design.md, "Revert mechanism in direct-xip": the highest version; a slot with no good
//! magic, or tried and never confirmed, is erased and the next taken; an invalid image too),
//! computed here independently; and it never panics on any bytes.

mod support;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use cutpoint_inspect::{decode_flash_for, render_text};
use cutpoint_sim::imgtool::{build_image, default_test_key, ImageSpec};
use fut::image::Version;
use fut::layout::{Area, Layout};
use proptest::prelude::*;

fn key() -> fut::PublicKey {
    cutpoint_sim::imgtool::public_key(&default_test_key())
}

/// A map with 256-byte sectors and 2 KiB slots.
fn layout() -> Layout {
    support::small_layout(4)
}

const FLASH: usize = support::SMALL_FLASH;
/// MCUboot's trailer magic (docs/design.md), and where the fields sit from the end of a slot
/// with 8-byte alignment.
const MAGIC: [u8; 16] = [
    0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80,
];
const MAGIC_FROM_END: usize = 16;
const IMAGE_OK_FROM_END: usize = 24;
const COPY_DONE_FROM_END: usize = 32;

/// major, minor, revision, build.
type V = (u8, u8, u16, u32);

fn image(v: V) -> Vec<u8> {
    static CACHE: OnceLock<Mutex<HashMap<V, Vec<u8>>>> = OnceLock::new();
    let mut m = CACHE.get_or_init(Default::default).lock().unwrap();
    m.entry(v)
        .or_insert_with(|| {
            let version = Version {
                major: v.0,
                minor: v.1,
                revision: v.2,
                build: v.3,
            };
            build_image(&ImageSpec::new(version, 600), &default_test_key())
        })
        .clone()
}

#[derive(Debug, Clone)]
struct SlotSpec {
    version: Option<V>,
    spoiled: bool,
    magic: u8,
    copy_done: u8,
    image_ok: u8,
}

fn flag() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0xffu8), Just(0x01u8), any::<u8>()]
}

fn slot_spec() -> impl Strategy<Value = SlotSpec> {
    (
        prop::option::weighted(0.85, (0u8..3, 0u8..2, 0u16..2, 0u32..3)),
        prop::bool::weighted(0.2),
        prop_oneof![3 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        flag(),
        flag(),
    )
        .prop_map(|(version, spoiled, magic, copy_done, image_ok)| SlotSpec {
            version,
            spoiled,
            magic,
            copy_done,
            image_ok,
        })
}

fn put(flash: &mut [u8], area: Area, s: &SlotSpec) {
    let start = area.offset as usize;
    if let Some(v) = s.version {
        let mut img = image(v);
        if s.spoiled {
            let n = img.len();
            img[n / 2] ^= 0x40;
        }
        flash[start..start + img.len()].copy_from_slice(&img);
    }
    let end = area.end() as usize;
    match s.magic {
        0 => flash[end - MAGIC_FROM_END..end].copy_from_slice(&MAGIC),
        1 => {}
        _ => {
            flash[end - MAGIC_FROM_END..end].copy_from_slice(&MAGIC);
            flash[end - 9] = 0x00;
        }
    }
    flash[end - COPY_DONE_FROM_END] = s.copy_done;
    flash[end - IMAGE_OK_FROM_END] = s.image_ok;
}

/// MCUboot's choice, written from its documentation.
fn oracle(specs: &[SlotSpec; 2]) -> Option<&'static str> {
    let names = ["primary", "secondary"];
    let mut available: Vec<usize> = (0..2).filter(|&i| specs[i].version.is_some()).collect();
    loop {
        let key = |i: &usize| {
            let v = specs[*i].version.unwrap();
            (v.0, v.1, v.2)
        };
        // The highest version; the first slot on a tie.
        let best = available
            .iter()
            .copied()
            .reduce(|a, b| if key(&b) > key(&a) { b } else { a })?;
        let s = &specs[best];
        let magic_good = s.magic == 0;
        let erased = !magic_good || (s.copy_done == 0x01 && s.image_ok != 0x01);
        if erased || s.spoiled {
            available.retain(|&i| i != best);
            continue;
        }
        return Some(names[best]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_booted_slot_is_the_one_mcuboot_picks(a in slot_spec(), b in slot_spec()) {
        let l = layout();
        let mut flash = vec![0xffu8; FLASH];
        put(&mut flash, l.primary, &a);
        put(&mut flash, l.secondary, &b);
        let r = decode_flash_for("direct-xip", &flash, 0, &l, Some(&key()));
        let x = r.direct_xip.as_ref().expect("a direct-xip report");
        let want = oracle(&[a.clone(), b.clone()]);
        prop_assert_eq!(x.boot_slot.as_deref(), want, "{}", render_text(&r));
        prop_assert_eq!(&r, &decode_flash_for("direct-xip", &flash, 0, &l, Some(&key())));
        if let Some(s) = &x.boot_slot {
            prop_assert!(x.steps.last().is_some_and(|l| l.starts_with(s.as_str()) && l.ends_with("booted")));
        }
    }

    #[test]
    fn any_bytes_decode_without_panic(
        bytes in prop::collection::vec(prop_oneof![Just(0xffu8), any::<u8>()], 0..FLASH + 64),
        base in 0u32..5000,
    ) {
        let l = layout();
        let a = decode_flash_for("direct-xip", &bytes, base, &l, Some(&key()));
        prop_assert_eq!(&a, &decode_flash_for("direct-xip", &bytes, base, &l, Some(&key())));
        let _ = render_text(&a);
        prop_assert!(a.slots.is_empty() == a.layout_error.is_some());
    }
}
