//! Whole-flash decoding of the simulated board after update runs, cut and uncut.

use cutpoint_inspect::{decode_flash, render_text, Coverage, FlagState, FlashReport, MagicState, SwapPoint, Validity};
use cutpoint_sim::board::{CutAt, CutPlan, FaultKind, RunEnd};
use cutpoint_sim::imgtool::default_test_key;
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::{BoardProfile, RunOptions, SimBoard};
use fut::layout::{Area, Layout};

fn key() -> fut::PublicKey {
    cutpoint_sim::imgtool::public_key(&default_test_key())
}

fn scenario() -> Scenario {
    Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 64)
}

fn layout() -> Layout {
    BoardProfile::builtin("nrf52840").unwrap().layout
}

/// The board after an uncut test upgrade from 1.0.0 to 2.0.0, confirmed by the application.
fn updated_board() -> SimBoard {
    let mut board = scenario().board();
    let log = board.run(RunOptions::default());
    assert_eq!(log.end, RunEnd::Idle);
    board
}

#[test]
fn after_an_update_the_primary_holds_the_new_image_confirmed() {
    let board = updated_board();
    let r = decode_flash(board.flash.raw(), 0, &layout(), Some(&key()));
    assert_eq!(r.layout_error, None);

    let p = r.slot("primary").unwrap();
    assert_eq!(p.coverage, Coverage::Full);
    let img = p.image.as_ref().unwrap();
    assert_eq!(img.validity, Validity::Valid);
    assert_eq!(img.version(), Some("2.0.0+0"));
    assert_eq!(
        img.hash.tlv.as_deref(),
        Some(hex::encode(sha_tlv(&scenario().new_image)).as_str())
    );
    let t = p.trailer.as_ref().unwrap();
    assert_eq!(t.magic, MagicState::Good);
    assert_eq!(t.copy_done, FlagState::Set);
    assert_eq!(t.image_ok, FlagState::Set, "the application confirmed itself");
    assert_eq!(t.swap_type, "test");
    let status = p.status.as_ref().unwrap();
    let regions = status.swap_regions.unwrap();
    assert_eq!(status.written.len() as u32, regions * 3);
    assert_eq!(
        status.last_completed,
        Some(SwapPoint {
            region: regions,
            step: 3
        })
    );
    assert_eq!(p.trailer_sectors_blank, Some(false));

    let s = r.slot("secondary").unwrap();
    let img = s.image.as_ref().unwrap();
    assert_eq!(img.validity, Validity::Valid);
    assert_eq!(img.version(), Some("1.0.0+0"));
    assert_eq!(
        s.trailer.as_ref().unwrap().magic,
        MagicState::Unset,
        "the request was consumed"
    );
    assert_eq!(s.trailer_sectors_blank, Some(true));

    let scratch = r.scratch.as_ref().unwrap();
    assert_eq!(scratch.blank, Some(true));
    assert_eq!(scratch.marker_region, None);

    let sums = r.slot_summaries();
    assert_eq!(sums[0].0, "primary");
    assert_eq!(sums[0].1.as_deref(), Some("2.0.0+0"));
    assert_eq!(sums[0].2.as_deref(), img_short(&scenario().new_image).as_deref());
    assert_eq!(sums[0].3, Validity::Valid);
    assert_eq!(sums[0].4, "magic=good image_ok=set copy_done=set swap=test");
    assert_eq!(sums[1].1.as_deref(), Some("1.0.0+0"));
    assert_eq!(sums[1].4, "magic=unset image_ok=unset copy_done=unset swap=unset");
    assert!(p.summary.starts_with("primary: 2.0.0+0 hash="), "{}", p.summary);
    assert!(p
        .summary
        .ends_with(" valid; trailer magic=good image_ok=set copy_done=set swap=test"));
}

/// The SHA-256 TLV value of an imgtool image (the last 32 bytes before the signature entry).
fn sha_tlv(img: &[u8]) -> [u8; 32] {
    let at = img.len() - 68 - 32;
    img[at..at + 32].try_into().unwrap()
}

fn img_short(img: &[u8]) -> Option<String> {
    Some(hex::encode(&sha_tlv(img)[..4]))
}

#[test]
fn snapshot_of_the_updated_flash() {
    let board = updated_board();
    let r = decode_flash(board.flash.raw(), 0, &layout(), Some(&key()));
    insta::assert_snapshot!("updated_flash_text", render_text(&r));
    insta::assert_json_snapshot!("updated_flash_json", r);
}

#[test]
fn json_round_trips() {
    let board = updated_board();
    let r = decode_flash(board.flash.raw(), 0, &layout(), Some(&key()));
    let json = r.to_json().unwrap();
    let back: FlashReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn a_dump_of_only_the_slots_decodes_them_and_leaves_the_rest_absent() {
    let board = updated_board();
    let l = layout();
    let full = decode_flash(board.flash.raw(), 0, &l, Some(&key()));
    let slots = &board.flash.raw()[l.primary.offset as usize..l.secondary.end() as usize];
    let r = decode_flash(slots, l.primary.offset, &l, Some(&key()));
    assert_eq!(r.slots, full.slots);
    let scratch = r.scratch.unwrap();
    assert_eq!(scratch.coverage, Coverage::Absent);
    assert_eq!((scratch.trailer, scratch.blank), (None, None));
}

#[test]
fn a_dump_cut_inside_a_slot_says_what_it_cannot_decide() {
    let board = updated_board();
    let l = layout();
    let part = &board.flash.raw()[l.primary.offset as usize..][..0x8000];
    let r = decode_flash(part, l.primary.offset, &l, Some(&key()));
    let p = r.slot("primary").unwrap();
    assert_eq!(p.coverage, Coverage::Partial);
    let img = p.image.as_ref().unwrap();
    assert_eq!(img.version(), Some("2.0.0+0"));
    assert_eq!(img.validity, Validity::OutsideDump);
    assert_eq!(img.hash.computed, None);
    assert_eq!((&p.trailer, &p.status, p.trailer_sectors_blank), (&None, &None, None));
    assert_eq!(
        p.summary,
        "primary: 2.0.0+0 hash=none outside-dump; trailer outside dump"
    );
    let s = r.slot("secondary").unwrap();
    assert_eq!((s.coverage, &s.image), (Coverage::Absent, &None));
    assert_eq!(r.slot_summaries()[1].3, Validity::OutsideDump);
    assert_eq!(r.slot_summaries()[1].4, "absent");

    // Nothing at all, and a dump placed at the top of the address space.
    let r = decode_flash(&[], 0, &l, None);
    assert!(r
        .slots
        .iter()
        .all(|s| s.coverage == Coverage::Absent && s.image.is_none()));
    let r = decode_flash(&[0xff; 64], u32::MAX - 10, &l, None);
    assert!(r.slots.iter().all(|s| s.coverage == Coverage::Absent));
}

#[test]
fn a_layout_that_cannot_be_decoded_is_reported() {
    let mut l = layout();
    l.secondary.size += l.sector_size;
    let r = decode_flash(&[0xff; 1024], 0, &l, None);
    assert_eq!(r.layout_error.as_deref(), Some("SlotsDiffer"));
    assert!(r.slots.is_empty() && r.scratch.is_none());
    assert!(render_text(&r).contains("layout error: SlotsDiffer"));

    let mut l = layout();
    l.sector_size = 0;
    assert!(decode_flash(&[], 0, &l, None).layout_error.is_some());
    let mut l = layout();
    l.scratch.offset = u32::MAX - 100;
    assert!(decode_flash(&[], 0, &l, None).layout_error.unwrap().contains("scratch"));

    // Found by fuzzing: sectors x 3 x write_size overflowed u64 in the trailer size check.
    let l = Layout {
        sector_size: 1,
        write_size: 0xa805_0000,
        bootloader: Area {
            offset: 0x033d_08d0,
            size: 0x2c,
        },
        primary: Area {
            offset: 0,
            size: 0xffd0_ffda,
        },
        secondary: Area {
            offset: 0x3d33_7227,
            size: 0x0003_0008,
        },
        scratch: Area {
            offset: 0x00ff_ff04,
            size: 0x7500,
        },
    };
    let r = decode_flash(&[0xb5; 8], 0, &l, None);
    assert_eq!(r.layout_error.as_deref(), Some("trailer does not fit the slot"));
}

/// The resume point the bootloader prints after the cut, from its console line.
fn resume_point(board: &mut SimBoard) -> Option<SwapPoint> {
    let log = board.run(RunOptions::default());
    let line = log.console.iter().find(|l| l.text.starts_with("boot: swap-resume"))?;
    let field = |name: &str| -> u32 {
        let s = line.text.split(' ').find_map(|w| w.strip_prefix(name)).unwrap();
        s.parse().unwrap()
    };
    match (field("after-region="), field("after-step=")) {
        (0, 0) => None,
        (region, step) => Some(SwapPoint { region, step }),
    }
}

#[test]
fn a_swap_cut_midway_decodes_to_the_point_the_bootloader_resumes_from() {
    let log = scenario().board().run(RunOptions::default());
    let t = |prefix: &str| log.console.iter().find(|l| l.text.starts_with(prefix)).unwrap().t_us;
    let (start, done) = (t("boot: swap-start"), t("boot: swap-done"));
    let mut seen = Vec::new();
    for i in 1..8u64 {
        let at = start + (done - start) * i / 8;
        let mut board = scenario().board();
        let plan = CutPlan {
            at: CutAt::Time { us: at },
            kind: FaultKind::PowerCut,
            seed: i,
        };
        let cut = board.run(RunOptions {
            plan: Some(plan),
            ..RunOptions::default()
        });
        assert_eq!(cut.end, RunEnd::Cut);
        let r = decode_flash(board.flash.raw(), 0, &layout(), Some(&key()));
        let p = r.slot("primary").unwrap();
        let t = p.trailer.as_ref().unwrap();
        assert_eq!(
            (t.magic, t.copy_done, t.swap_type.as_str()),
            (MagicState::Good, FlagState::Unset, "test")
        );
        let decoded = p.status.as_ref().unwrap().last_completed;
        assert_eq!(decoded, resume_point(&mut board), "cut at {at} us");
        seen.push(decoded);
    }
    seen.dedup();
    assert!(seen.len() >= 5, "the cuts land at different points: {seen:?}");
}

#[test]
fn decoding_is_the_same_with_or_without_a_key_except_the_key_checks() {
    let board = updated_board();
    let with = decode_flash(board.flash.raw(), 0, &layout(), Some(&key()));
    let without = decode_flash(board.flash.raw(), 0, &layout(), None);
    for (a, b) in with.slots.iter().zip(&without.slots) {
        assert_eq!(a.summary, b.summary);
        assert_eq!(a.trailer, b.trailer);
        assert_eq!(a.status, b.status);
        assert_eq!(a.image.as_ref().unwrap().tlvs, b.image.as_ref().unwrap().tlvs);
    }
}

/// The flash before the update, after it, and cut at eight points of its swap.
fn states_of_a_swap() -> Vec<cutpoint_sim::NorFlash> {
    let log = scenario().board().run(RunOptions::default());
    let t = |prefix: &str| log.console.iter().find(|l| l.text.starts_with(prefix)).unwrap().t_us;
    let (start, done) = (t("boot: swap-start"), t("boot: swap-done"));
    let mut flashes = vec![scenario().baseline_flash(), updated_board().flash];
    for i in 0..8u64 {
        let mut board = scenario().board();
        let plan = CutPlan {
            at: CutAt::Time {
                us: start + (done - start) * i / 7,
            },
            kind: FaultKind::PowerCut,
            seed: i,
        };
        board.run(RunOptions {
            plan: Some(plan),
            ..RunOptions::default()
        });
        flashes.push(board.flash);
    }
    flashes
}

/// Decoding through an image cache gives the report decoding without one gives, for every
/// state a swap passes through (cuts at eight points, each decoded twice through one cache):
/// an image is taken from the cache only while its slot holds the same bytes.
#[test]
fn an_image_cache_changes_no_report() {
    let images = cutpoint_inspect::ImageCache::new();
    let decode_cached = |raw: &[u8], key: Option<&fut::PublicKey>| {
        cutpoint_inspect::decode_flash_for_cached("swap-scratch", raw, 0, &layout(), key, &images, None)
    };
    let mut flashes: Vec<Vec<u8>> = states_of_a_swap().iter().map(|f| f.raw().to_vec()).collect();
    // An image with one byte of its body changed: the hash no longer matches.
    let mut tampered = flashes[1].clone();
    let p = layout().primary;
    tampered[(p.offset + 0x400) as usize] ^= 0x01;
    flashes.push(tampered);
    for round in 0..2 {
        for (n, raw) in flashes.iter().enumerate() {
            for key in [Some(key()), None] {
                let plain = cutpoint_inspect::decode_flash_for("swap-scratch", raw, 0, &layout(), key.as_ref());
                assert_eq!(
                    decode_cached(raw, key.as_ref()),
                    plain,
                    "flash {n}, round {round}, key {}",
                    key.is_some()
                );
            }
        }
    }
    let last = decode_cached(flashes.last().unwrap(), Some(&key()));
    assert_ne!(
        last.slot("primary").unwrap().image.as_ref().unwrap().validity,
        Validity::Valid
    );
    assert!(!images.is_empty());
}

/// Keyed by the simulated flash's own sector hashes, an image cache gives the report decoding
/// without one gives, for every state a swap passes through, and fingerprints no slot byte:
/// the key of a slot is folded from the hashes of its sectors.
#[test]
fn images_keyed_by_the_flashs_sector_hashes_change_no_report_and_read_no_slot() {
    let images = cutpoint_inspect::ImageCache::new();
    let mut flashes = states_of_a_swap();
    // One byte of the new image's body changed: its sector hash changes, and so its key.
    let mut tampered = flashes[1].clone();
    let at = layout().primary.offset + 0x400;
    let byte = tampered.raw()[at as usize] ^ 0x01;
    tampered.load(at, &[byte]);
    flashes.push(tampered);
    for round in 0..2 {
        for (n, flash) in flashes.iter().enumerate() {
            let raw = flash.raw();
            let hashes = flash.sector_hashes(0, raw.len() as u32).unwrap();
            let keys = cutpoint_inspect::DumpKeys::new(flash.hash_unit(), std::sync::Arc::new(hashes));
            for key in [Some(key()), None] {
                let plain = cutpoint_inspect::decode_flash_for("swap-scratch", raw, 0, &layout(), key.as_ref());
                let keyed = cutpoint_inspect::decode_flash_for_cached(
                    "swap-scratch",
                    raw,
                    0,
                    &layout(),
                    key.as_ref(),
                    &images,
                    keys.as_ref(),
                );
                assert_eq!(keyed, plain, "flash {n}, round {round}, key {}", key.is_some());
            }
        }
    }
    let primary = |f: &FlashReport| f.slot("primary").unwrap().image.as_ref().unwrap().validity;
    let raw = flashes.last().unwrap().raw();
    let last = cutpoint_inspect::decode_flash_for_cached(
        "swap-scratch",
        raw,
        0,
        &layout(),
        Some(&key()),
        &images,
        cutpoint_inspect::DumpKeys::new(
            4096,
            std::sync::Arc::new(flashes.last().unwrap().sector_hashes(0, raw.len() as u32).unwrap()),
        )
        .as_ref(),
    );
    assert_ne!(
        primary(&last),
        Validity::Valid,
        "the tampered image is not the one kept"
    );
    assert!(!images.is_empty());
    assert_eq!(
        images.fingerprinted_bytes(),
        0,
        "every slot was keyed by its sector hashes"
    );
}
