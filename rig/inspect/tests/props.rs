//! The decoders never panic on any bytes (or any layout), and say the same thing twice.

mod support;

use std::sync::OnceLock;

use cutpoint_inspect::{
    decode_flash, decode_flash_for, decode_image, decode_otadata, render_image_text, render_text, ImageReport,
};
use cutpoint_sim::imgtool::{build_image, default_test_key, parse_version, ImageSpec};
use fut::image::{ImageHeader, Version, IMAGE_MAGIC, TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC};
use fut::layout::{Area, Layout};
use fut::trailer::MAGIC;
use proptest::prelude::*;

fn key() -> fut::PublicKey {
    cutpoint_sim::imgtool::public_key(&default_test_key())
}

fn signed_image() -> &'static [u8] {
    static IMG: OnceLock<Vec<u8>> = OnceLock::new();
    IMG.get_or_init(|| {
        build_image(
            &ImageSpec::new(parse_version("2.1.0+7").unwrap(), 700),
            &default_test_key(),
        )
    })
}

/// Sizes that are usually small (so the structure is reached) and sometimes anything.
fn size16() -> impl Strategy<Value = u16> {
    prop_oneof![4 => 0u16..96, 1 => any::<u16>(), 1 => Just(u16::MAX), 1 => 0xfff0u16..=u16::MAX]
}

fn size32() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..700, 1 => any::<u32>(), 1 => u32::MAX - 0x1_0000..=u32::MAX]
}

fn tlv_kind() -> impl Strategy<Value = u16> {
    prop_oneof![
        prop::sample::select(vec![0x01u16, 0x02, 0x10, 0x11, 0x24, 0x22, 0x50, 0x6907, 0x6908]),
        any::<u16>()
    ]
}

/// A TLV entry: type, declared length, and the bytes actually written after it.
fn tlv_entry() -> impl Strategy<Value = (u16, u16, Vec<u8>)> {
    (tlv_kind(), size16(), prop::collection::vec(any::<u8>(), 0..80))
}

/// Bytes shaped like an image: a header with the magic and arbitrary sizes, a body, an optional
/// protected area, a TLV area with arbitrary totals and entry lengths, cut anywhere.
fn image_like() -> impl Strategy<Value = Vec<u8>> {
    (
        (size16(), size16(), size32(), any::<u32>(), any::<u32>()),
        prop::collection::vec(tlv_entry(), 0..6),
        prop::option::of(size16()),
        prop::option::of(size16()),
        prop::collection::vec(any::<u8>(), 0..64),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(
            |((hdr_size, prot, img_size, flags, build), entries, total, prot_total, tail, cut, do_cut)| {
                let h = ImageHeader {
                    load_addr: 0,
                    hdr_size,
                    protect_tlv_size: prot,
                    img_size,
                    flags,
                    version: Version {
                        major: 1,
                        minor: 2,
                        revision: 3,
                        build,
                    },
                };
                let mut b = h.encode().to_vec();
                // Body and padding only when small enough to write out.
                let hashed = usize::from(hdr_size) + img_size as usize;
                if hashed < 4096 {
                    b.resize(hashed.max(32), 0xa5);
                }
                if prot > 0 {
                    b.extend_from_slice(&TLV_PROT_INFO_MAGIC.to_le_bytes());
                    b.extend_from_slice(&prot_total.unwrap_or(prot).to_le_bytes());
                    b.resize(b.len() + usize::from(prot.saturating_sub(4)).min(256), 0x50);
                }
                let body: usize = entries.iter().map(|(_, _, d)| 4 + d.len()).sum();
                b.extend_from_slice(&TLV_INFO_MAGIC.to_le_bytes());
                b.extend_from_slice(&total.unwrap_or((4 + body).min(0xffff) as u16).to_le_bytes());
                for (kind, len, data) in entries {
                    b.extend_from_slice(&kind.to_le_bytes());
                    b.extend_from_slice(&len.to_le_bytes());
                    b.extend_from_slice(&data);
                }
                b.extend_from_slice(&tail);
                if do_cut {
                    b.truncate(cut.index(b.len() + 1));
                }
                b
            },
        )
}

/// The signed image with a few bytes changed and maybe cut short.
fn mutated_image() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(edits, cut)| {
            let mut b = signed_image().to_vec();
            for (at, v) in edits {
                let i = at.index(b.len());
                b[i] = v;
            }
            if let Some(cut) = cut {
                b.truncate(cut.index(b.len() + 1));
            }
            b
        })
}

fn any_image_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        image_like(),
        mutated_image()
    ]
}

/// Checks what holds for every report, whatever the bytes.
fn check_image_report(bytes: &[u8], r: &ImageReport) {
    for area in [&r.tlvs, &r.protected_tlvs].into_iter().flatten() {
        for e in &area.entries {
            assert!(e.offset as usize + 4 <= bytes.len(), "entry header inside the bytes");
            if let Some(v) = &e.value {
                assert_eq!(v.len(), 2 * usize::from(e.len));
                let at = e.offset as usize + 4;
                assert_eq!(hex::decode(v).unwrap(), &bytes[at..at + usize::from(e.len)]);
            }
        }
    }
    if r.validity == cutpoint_inspect::Validity::Valid {
        assert!(r.hash.matches);
        assert!(r.total_size.is_some_and(|n| n as usize <= bytes.len()));
    }
    if let Some(n) = r.hash.covered.filter(|_| r.hash.computed.is_some()) {
        assert!(n as usize <= bytes.len());
    }
}

/// A small flash map: 256-byte sectors, 8-sector slots, a 2-sector scratch area.
fn small_layout() -> Layout {
    support::small_layout(4)
}

const SMALL_FLASH: usize = support::SMALL_FLASH;

/// Meaningful bytes to drop at the places the decoder looks.
fn patch() -> impl Strategy<Value = (usize, Vec<u8>)> {
    let l = small_layout();
    let starts = vec![l.primary.offset as usize, l.secondary.offset as usize];
    let ends = vec![
        l.primary.end() as usize,
        l.secondary.end() as usize,
        l.scratch.end() as usize,
    ];
    let from_end = vec![16usize, 24, 32, 40, 48, 144, 100, 60];
    prop_oneof![
        // A header with the magic, the signed image or a damaged copy at a slot start.
        (prop::sample::select(starts.clone()), image_like()),
        (prop::sample::select(starts.clone()), mutated_image()),
        prop::sample::select(starts).prop_map(|at| (at, signed_image().to_vec())),
        // The trailer magic, or a field, at the end of an area.
        (prop::sample::select(ends.clone())).prop_map(|end| (end - 16, MAGIC.to_vec())),
        (
            prop::sample::select(ends),
            prop::sample::select(from_end),
            prop::collection::vec(any::<u8>(), 1..8)
        )
            .prop_map(|(end, back, v)| (end - back, v)),
        // Anything anywhere.
        (0..SMALL_FLASH, prop::collection::vec(any::<u8>(), 1..64)),
        // A scratch marker.
        any::<u32>().prop_map(|r| {
            let mut m = b"CPSM".to_vec();
            m.extend_from_slice(&r.to_le_bytes());
            (SMALL_FLASH - 16, m)
        }),
    ]
}

/// A small flash, erased then patched, dumped from some base for some length.
fn small_dump() -> impl Strategy<Value = (Vec<u8>, u32)> {
    (
        prop::collection::vec(patch(), 0..12),
        0..SMALL_FLASH + 1,
        0..SMALL_FLASH + 1,
        any::<bool>(),
    )
        .prop_map(|(patches, from, len, whole)| {
            let mut flash = vec![0xffu8; SMALL_FLASH];
            for (at, bytes) in patches {
                let n = bytes.len().min(SMALL_FLASH.saturating_sub(at));
                flash[at..at + n].copy_from_slice(&bytes[..n]);
            }
            if whole {
                return (flash, 0);
            }
            let end = (from + len).min(SMALL_FLASH);
            (flash[from..end].to_vec(), from as u32)
        })
}

fn any_u32ish() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..0x2000, any::<u32>(), u32::MAX - 0x3_0000..=u32::MAX]
}

fn area() -> impl Strategy<Value = Area> {
    (any_u32ish(), any_u32ish()).prop_map(|(offset, size)| Area { offset, size })
}

/// Layouts of every kind: arbitrary fields, and well-formed ones placed anywhere (including
/// the top of the address space).
fn any_layout() -> impl Strategy<Value = Layout> {
    let arbitrary = (any_u32ish(), any_u32ish(), area(), area(), area(), area()).prop_map(
        |(sector_size, write_size, bootloader, primary, secondary, scratch)| Layout {
            sector_size,
            write_size,
            bootloader,
            primary,
            secondary,
            scratch,
        },
    );
    let formed = (
        prop::sample::select(vec![1u32, 2, 16, 64, 256, 4096]),
        prop::sample::select(vec![1u32, 4, 8, 32]),
        1u32..40,
        1u32..4,
        any::<u32>(),
    )
        .prop_map(|(s, w, slot, scratch, at)| {
            let base = (at / s) * s;
            let off = |n: u32| base.wrapping_add(n.wrapping_mul(s));
            Layout {
                sector_size: s,
                write_size: w,
                bootloader: Area {
                    offset: off(0),
                    size: s,
                },
                primary: Area {
                    offset: off(1),
                    size: slot * s,
                },
                secondary: Area {
                    offset: off(1 + slot),
                    size: slot * s,
                },
                scratch: Area {
                    offset: off(1 + 2 * slot),
                    size: scratch * s,
                },
            }
        });
    // Tiny sectors, huge slots and write sizes: the trailer size overflows 64 bits.
    let huge = (1u32..4, any::<u32>(), 0u32..0x1000, any::<u32>()).prop_map(|(s, w, at, size)| Layout {
        sector_size: s,
        write_size: w,
        bootloader: Area { offset: at, size: s },
        primary: Area { offset: 0, size },
        secondary: Area { offset: at, size },
        scratch: Area { offset: at, size: s },
    });
    prop_oneof![arbitrary, formed, huge]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_image_never_panics_and_is_deterministic(bytes in any_image_bytes(), with_key in any::<bool>()) {
        let key = key();
        let key = with_key.then_some(&key);
        let a = decode_image(&bytes, key);
        let b = decode_image(&bytes, key);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(render_image_text(&a), render_image_text(&b));
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        check_image_report(&bytes, &a);
    }

    #[test]
    fn decode_image_verdict_is_the_bootloaders(bytes in mutated_image()) {
        // The key hash, hash and signature checks only pass on the untouched bytes.
        let r = decode_image(&bytes, Some(&key()));
        let untouched = bytes.len() == signed_image().len() && bytes == signed_image();
        prop_assert_eq!(r.validity == cutpoint_inspect::Validity::Valid, untouched);
    }

    #[test]
    fn decode_flash_never_panics_and_is_deterministic((dump, base) in small_dump(), with_key in any::<bool>()) {
        let key = key();
        let key = with_key.then_some(&key);
        let l = small_layout();
        let a = decode_flash(&dump, base, &l, key);
        let b = decode_flash(&dump, base, &l, key);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(render_text(&a), render_text(&b));
        prop_assert_eq!(a.to_json().unwrap(), b.to_json().unwrap());
        prop_assert_eq!(&a.layout_error, &None);
        prop_assert_eq!(a.slots.len(), 2);
        prop_assert_eq!(a.slot_summaries().len(), 2);
        for s in &a.slots {
            if let Some(img) = &s.image {
                let start = (s.offset - base) as usize;
                let end = (start + s.size as usize).min(dump.len());
                check_image_report(&dump[start..end], img);
            }
            if let Some(st) = &s.status {
                prop_assert!(st.written.len() as u32 <= st.capacity * 3);
            }
        }
    }

    #[test]
    fn decode_flash_never_panics_on_any_layout(
        layout in any_layout(),
        dump in prop::collection::vec(prop_oneof![Just(0xffu8), any::<u8>()], 0..1024),
        base in any_u32ish(),
    ) {
        let a = decode_flash(&dump, base, &layout, Some(&key()));
        prop_assert_eq!(&a, &decode_flash(&dump, base, &layout, Some(&key())));
        let _ = render_text(&a);
        prop_assert!(a.slots.is_empty() == a.layout_error.is_some());
    }

    #[test]
    fn swap_move_and_offset_decoders_never_panic_and_are_deterministic((dump, base) in small_dump(), with_key in any::<bool>()) {
        let key = key();
        let key = with_key.then_some(&key);
        let l = small_layout();
        for scheme in ["swap-move", "swap-offset"] {
            let a = decode_flash_for(scheme, &dump, base, &l, key);
            let b = decode_flash_for(scheme, &dump, base, &l, key);
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(render_text(&a), render_text(&b));
            prop_assert_eq!(&a.layout_error, &None);
            prop_assert_eq!(a.slots.len(), 2);
            if let Some(p) = &a.progress {
                let n = p.regions.unwrap_or(l.sectors_per_slot());
                prop_assert!(p.moved <= n && p.swapped <= n);
                prop_assert!(scheme == "swap-move" || p.moved == 0);
                prop_assert!(p.records.len() as u32 <= l.sectors_per_slot() * 3);
            }
        }
    }

    #[test]
    fn swap_move_and_offset_decoders_never_panic_on_any_layout(
        layout in any_layout(),
        dump in prop::collection::vec(prop_oneof![Just(0xffu8), any::<u8>()], 0..1024),
        base in any_u32ish(),
    ) {
        for scheme in ["swap-move", "swap-offset"] {
            let a = decode_flash_for(scheme, &dump, base, &layout, Some(&key()));
            prop_assert_eq!(&a, &decode_flash_for(scheme, &dump, base, &layout, Some(&key())));
            let _ = render_text(&a);
            prop_assert!(a.slots.is_empty() == a.layout_error.is_some());
        }
    }

    #[test]
    fn decode_otadata_never_panics(bytes in prop::collection::vec(prop_oneof![Just(0xffu8), any::<u8>()], 0..9000),
                                   slots in prop_oneof![Just(0u32), 1u32..16, any::<u32>()]) {
        let a = decode_otadata(&bytes, slots);
        prop_assert_eq!(&a, &decode_otadata(&bytes, slots));
        prop_assert_eq!(a.entries.len(), 2);
    }
}

#[test]
fn a_header_with_the_largest_sizes() {
    // hdr_size + img_size + protect_tlv_size at the edge of u32.
    for (hdr, prot, img) in [
        (u16::MAX, u16::MAX, u32::MAX),
        (32, 0, u32::MAX - 32),
        (32, 4, u32::MAX - 36),
        (0, 0, 0),
    ] {
        let h = ImageHeader {
            load_addr: 0,
            hdr_size: hdr,
            protect_tlv_size: prot,
            img_size: img,
            flags: u32::MAX,
            version: Version::default(),
        };
        let mut b = h.encode().to_vec();
        b.extend_from_slice(&[0xff; 64]);
        assert_eq!(u32::from_le_bytes(b[..4].try_into().unwrap()), IMAGE_MAGIC);
        let r = decode_image(&b, Some(&key()));
        assert_ne!(r.validity, cutpoint_inspect::Validity::Valid);
    }
}

proptest! {
    #[test]
    fn decode_otadata_sectors_never_panics(bytes in prop::collection::vec(prop_oneof![Just(0xffu8), Just(0u8), any::<u8>()], 0..5000),
                                           sector in 0usize..3000, slots in 0u32..4) {
        let a = cutpoint_inspect::otadata::decode_otadata_sectors(&bytes, sector, slots);
        prop_assert_eq!(&a, &cutpoint_inspect::otadata::decode_otadata_sectors(&bytes, sector, slots));
        prop_assert_eq!(a.entries.len(), 2);
    }
}

proptest! {
    /// The redundant-copies decoder never panics and is deterministic on any bytes and sector
    /// size, and its text renders; a whole flash decoded as that scheme neither.
    #[test]
    fn decode_redundant_never_panics(bytes in prop::collection::vec(prop_oneof![Just(0xffu8), Just(0u8), any::<u8>()], 0..5000),
                                     sector in 0usize..3000) {
        let a = cutpoint_inspect::redundant::decode_redundant_sectors(&bytes, sector);
        prop_assert_eq!(&a, &cutpoint_inspect::redundant::decode_redundant_sectors(&bytes, sector));
        prop_assert_eq!(a.copies.len(), 2);
        prop_assert!(a.winner.is_none_or(|w| a.copies[usize::from(w)].valid));
        let _ = cutpoint_inspect::render_redundant_text(&a);
        let layout = Layout {
            sector_size: 256,
            write_size: 4,
            bootloader: Area { offset: 0, size: 256 },
            primary: Area { offset: 256, size: 2048 },
            secondary: Area { offset: 2304, size: 2048 },
            scratch: Area { offset: 4352, size: 512 },
        };
        let r = cutpoint_inspect::decode_flash_for("redundant-copies", &bytes, 0, &layout, None);
        let _ = render_text(&r);
    }
}

/// A small map embassy-boot fits: 4 KiB pages, 4-byte words, slots of 8 pages (7 active),
/// a state partition of 2 pages (2 + 4 * 7 = 30 words needed, 2048 there).
fn embassy_layout() -> Layout {
    Layout {
        sector_size: 4096,
        write_size: 4,
        bootloader: Area { offset: 0, size: 4096 },
        primary: Area {
            offset: 4096,
            size: 8 * 4096,
        },
        secondary: Area {
            offset: 9 * 4096,
            size: 8 * 4096,
        },
        scratch: Area {
            offset: 17 * 4096,
            size: 2 * 4096,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// The embassy-boot decoder never panics and is deterministic on any bytes, as a state
    /// partition and as a whole flash.
    #[test]
    fn decode_embassy_never_panics(bytes in prop::collection::vec(prop_oneof![Just(0xffu8), Just(0u8), Just(0xf0u8), Just(0xc0u8), any::<u8>()], 0..600)) {
        let layout = embassy_layout();
        let a = cutpoint_inspect::scheme::decode_embassy_state(&bytes, &layout);
        prop_assert_eq!(&a, &cutpoint_inspect::scheme::decode_embassy_state(&bytes, &layout));
        let mut flash = vec![0xffu8; 19 * 4096];
        let at = 17 * 4096;
        flash[at..at + bytes.len()].copy_from_slice(&bytes);
        let r = decode_flash_for("embassy-boot", &flash, 0, &layout, None);
        prop_assert_eq!(&r, &decode_flash_for("embassy-boot", &flash, 0, &layout, None));
        let _ = render_text(&r);
    }

    /// The swap magic over `done` progress words reads as the crate reads it: a swap resumed at
    /// step `done` while it is below 2N, then a revert resumed at `done - 2N`; with the marker
    /// written, a revert whatever the words say.
    #[test]
    fn embassy_progress_reads_as_the_crate_counts_it(done in 0u32..=28, torn_byte in 0usize..4, marker in any::<bool>()) {
        let layout = embassy_layout();
        let mut st = vec![0xffu8; 2 * 4096];
        st[..4].fill(fut::scheme::embassy_boot::SWAP_MAGIC);
        if marker {
            st[4] = 0;
        }
        for i in 0..done as usize {
            st[(2 + i) * 4..(3 + i) * 4].fill(0);
        }
        // The next word torn: every byte programmed but one.
        let next = (2 + done as usize) * 4;
        st[next..next + 4].fill(0);
        st[next + torn_byte] = 0xff;
        let (e, _) = cutpoint_inspect::scheme::decode_embassy_state(&st, &layout).unwrap();
        prop_assert_eq!(e.magic.as_str(), "swap");
        prop_assert_eq!(e.steps, 14);
        if marker {
            prop_assert!(!e.progress_valid);
            prop_assert!(e.next_boot.starts_with("revert with the progress invalidated"), "{}", e.next_boot);
        } else if done < 14 {
            prop_assert_eq!(e.progress, done);
            prop_assert_eq!(e.next_boot, format!("swap from step {done} of 14"));
        } else {
            prop_assert_eq!(e.next_boot, format!("revert from step {} of 14", done - 14));
        }
    }
}
