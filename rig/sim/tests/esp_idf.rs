//! The esp-idf A/B scheme on the simulated board: the control runs boot the new image from the
//! other slot, and a sweep cuts every flash operation of the update (before, inside, after):
//! every recovered board boots the old or the new image (only the new one once the new image
//! marked itself valid), then settles on the new one from the secondary slot.

use std::sync::Arc;

use cutpoint_sim::board::{CutAt, CutPlan, FaultKind, OpPoint, RunEnd, RunOptions, SimBoard};
use cutpoint_sim::flash::NorFlash;
use cutpoint_sim::replay::{Cursor, Recording};
use cutpoint_sim::scenario::Scenario;
use fut::scheme::esp_idf::{self, Entry, ENTRY_SIZE, STATE_ABORTED, STATE_VALID};
use fut::Variant;

#[path = "support/ab.rs"]
mod ab;
use ab::{console, from_secondary as from_ota_1, jumps, SweepRules};

fn scenario(board: &str, variant: Variant) -> Scenario {
    ab::scenario(board, ab::mode("esp-idf"), variant)
}

fn entries(s: &Scenario, flash: &NorFlash) -> [Entry; 2] {
    let l = s.profile.layout;
    [0, 1].map(|i| {
        let at = esp_idf::otadata_sector(&l, i).offset as usize;
        let b: [u8; ENTRY_SIZE] = flash.raw()[at..at + ENTRY_SIZE].try_into().unwrap();
        Entry::parse(&b)
    })
}

#[test]
fn the_control_run_boots_the_new_image_from_the_other_slot() {
    for board in ["nrf52840", "stm32l4"] {
        let s = scenario(board, Variant::Reference);
        let mut b = s.board();
        let log = b.run(RunOptions::default());
        assert_eq!(log.end, RunEnd::Idle, "{board}");
        assert_eq!(jumps(&log), ["1.0.0+0", "2.0.0+0"], "{board}");
        let text = console(&log);
        assert!(text.contains(&"boot: otadata-empty slot=primary"), "{text:#?}");
        assert!(text.contains(&"boot: otadata-init sector=0 seq=1"), "{text:#?}");
        assert!(
            text.contains(&"ota: otadata-write sector=1 seq=2 state=new"),
            "{text:#?}"
        );
        assert!(text.contains(&"boot: otadata-pending sector=1 seq=2"), "{text:#?}");
        assert!(
            text.contains(&"boot: integrity slot=secondary ok version=2.0.0+0 hash=")
                || text
                    .iter()
                    .any(|l| l.starts_with("boot: integrity slot=secondary ok version=2.0.0+0"))
        );
        let e = entries(&s, &b.flash);
        assert_eq!((e[0].seq, e[0].state), (1, STATE_VALID));
        assert_eq!((e[1].seq, e[1].state), (2, STATE_VALID));
        // The old image was never touched.
        let p = s.profile.layout.primary;
        assert_eq!(
            &b.flash.raw()[p.offset as usize..p.offset as usize + s.old_image.len()],
            &s.old_image[..]
        );
    }
}

#[test]
fn an_unconfirmed_image_is_aborted_and_the_old_slot_boots() {
    let s = scenario("nrf52840", Variant::Reference).with_bad_update();
    let mut b = s.board();
    let log = b.run(RunOptions::default());
    assert_eq!(log.end, RunEnd::Idle);
    assert_eq!(jumps(&log), ["1.0.0+0", "2.0.0+0", "1.0.0+0"]);
    let text = console(&log);
    assert!(text.contains(&"boot: otadata-abort sector=1 seq=2"), "{text:#?}");
    assert!(text.contains(&"ota: idle reason=rejected version=2.0.0+0"), "{text:#?}");
    let e = entries(&s, &b.flash);
    assert_eq!(
        (e[1].seq, e[1].state),
        (2, STATE_ABORTED),
        "the bootloader rewrote the entry ABORTED"
    );
}

/// Sweeps every flash operation of a run of `s` (`ab::sweep`); returns the failures and the
/// number of cuts. Every post-cut flash is also checked for the predicted window of a torn
/// `ota_state` under a good CRC: an entry whose CRC matches its seq but whose state is none of
/// the enum's.
fn sweep(s: &Scenario) -> (Vec<String>, usize) {
    let torn_state = |flash: &NorFlash| {
        let mut out = Vec::new();
        for (n, e) in entries(s, flash).iter().enumerate() {
            let known = matches!(e.state, 0..=4 | u32::MAX);
            if e.crc == esp_idf::seq_crc(e.seq) && !known {
                out.push(format!("sector {n} holds state 0x{:08x} under a good CRC", e.state));
            }
        }
        out
    };
    ab::sweep(
        s,
        &SweepRules {
            no_revert_after_commit: false,
            post_cut: &torn_state,
        },
    )
}

/// Also the evidence on the predicted window of FIELD-BUGS (a torn `ota_state` under a good
/// CRC): it does not open in the real layout. The entry is one program of 32 bytes in address
/// order, seq first and the CRC last, after the state; a cut that leaves the state part-written
/// leaves the CRC erased or part-written, which fails the check. On the STM32L4 the state and
/// the CRC share one 8-byte ECC double-word, which a cut leaves unreadable as a whole. An erase
/// cut short leaves seq and CRC bits mixed, which do not match. The sweep below checks every
/// post-cut flash for such an entry and finds none.
#[test]
fn the_reference_survives_every_cut_on_both_profiles() {
    for board in ["nrf52840", "stm32l4"] {
        for (what, s) in [
            ("ota_0 -> ota_1", scenario(board, Variant::Reference)),
            ("ota_1 -> ota_0", from_ota_1(scenario(board, Variant::Reference))),
            (
                "ota_0 -> ota_1, failing",
                scenario(board, Variant::Reference).with_bad_update(),
            ),
            (
                "ota_1 -> ota_0, failing",
                from_ota_1(scenario(board, Variant::Reference).with_bad_update()),
            ),
        ] {
            let (failures, cuts) = sweep(&s);
            assert!(cuts > 100, "{board} {what}: {cuts} cuts");
            assert!(
                failures.is_empty(),
                "{board} {what}: {} failures: {:#?}",
                failures.len(),
                &failures[..failures.len().min(8)]
            );
        }
    }
}

#[test]
fn from_ota_1_the_update_goes_to_ota_0() {
    let s = from_ota_1(scenario("nrf52840", Variant::Reference));
    let mut b = s.board();
    let log = b.run(RunOptions::default());
    assert_eq!(log.end, RunEnd::Idle);
    assert_eq!(jumps(&log), ["1.0.0+0", "2.0.0+0"]);
    let text = console(&log);
    assert!(
        text.contains(&"boot: otadata-select sector=1 seq=2 slot=secondary"),
        "{text:#?}"
    );
    assert!(
        text.contains(&"ota: otadata-write sector=0 seq=3 state=new"),
        "{text:#?}"
    );
    let e = entries(&s, &b.flash);
    assert_eq!((e[0].seq, e[0].state), (3, STATE_VALID));
    assert_eq!((e[1].seq, e[1].state), (2, STATE_VALID));
}

#[test]
fn each_broken_otadata_variant_fails_at_least_one_cut_on_both_profiles() {
    for variant in [Variant::OtadataRunningRewritten, Variant::OtadataSingleSector] {
        for board in ["nrf52840", "stm32l4"] {
            let s = from_ota_1(scenario(board, variant).with_bad_update());
            let (failures, _) = sweep(&s);
            let cut_failures = failures.iter().filter(|f| f.starts_with("op ")).count();
            assert!(cut_failures > 0, "{variant} on {board}: no cut failed");
            println!(
                "{variant} on {board}: {} failures, e.g. {}",
                failures.len(),
                failures[0]
            );
        }
    }
}

/// FIELD-BUGS row 9 (otadata with crc = 0): an erase of blank otadata cut late in its
/// pre-program phase leaves a sector of zeros, an entry with seq 0, state NEW and crc 0. The
/// bootloader must not take it as valid (CRC-32 of seq 0 is not 0): it tries every slot and
/// boots ota_0, and the update then installs.
#[test]
fn a_zeroed_entry_from_a_cut_erase_is_not_taken_as_valid() {
    let s = scenario("nrf52840", Variant::Reference);
    let log = s.board().run(RunOptions {
        record_data: true,
        ..RunOptions::default()
    });
    let erase = log
        .ops
        .iter()
        .position(|o| o.kind == cutpoint_sim::flash::OpKind::Erase)
        .expect("the first boot erases otadata sector 0") as u64;
    let rec = Arc::new(Recording {
        baseline: s.baseline_flash(),
        log,
    });
    let mut cursor = Cursor::new(rec);
    let plan = CutPlan {
        at: CutAt::Op {
            index: erase,
            point: OpPoint::Inside { ppm: 333_000 },
        },
        kind: FaultKind::PowerCut,
        seed: 7,
    };
    let (flash, _) = cursor.post_cut(&plan);
    let e = entries(&s, &flash);
    assert_eq!((e[0].seq, e[0].state, e[0].crc), (0, 0, 0), "a zeroed entry");
    assert_ne!(esp_idf::seq_crc(0), 0);
    let r = SimBoard::new(flash, s.firmware(), Some(s.update())).run(RunOptions::default());
    let text = console(&r);
    assert_eq!(text[1], "boot: otadata-invalid try=all", "{text:#?}");
    assert_eq!(r.end, RunEnd::Idle);
    assert_eq!(jumps(&r), ["1.0.0+0", "2.0.0+0"]);
}

/// FIELD-BUGS row 9 (ruuvi.gateway_esp.c #1278 / PR #1279), the very entry of the gateway's
/// log: the bootloader's first otadata write (seq 1, VALID on blank otadata) cut at 0.88 of its
/// program with the unreached tail stored as zeros leaves `ota_seq=1, ota_state=2, crc=0`. The
/// bootloader tries every slot and boots ota_0 at every boot. The reference application goes on
/// and its update writes otadata afresh; the `otadata-invalid-reboot` build finds no boot
/// partition (`esp_ota_get_boot_partition` is NULL), is refused its rollback and restarts, at
/// every boot: it never settles.
#[test]
fn the_field_entry_with_crc_zero_loops_only_the_build_that_restarts_on_it() {
    for board in ["nrf52840", "stm32l4"] {
        let mut last = None;
        for variant in [Variant::Reference, Variant::OtadataInvalidReboot] {
            let s = scenario(board, variant);
            let log = s.board().run(RunOptions {
                record_data: true,
                ..RunOptions::default()
            });
            let program = log
                .ops
                .iter()
                .position(|o| o.kind == cutpoint_sim::flash::OpKind::Program)
                .expect("the first boot programs otadata sector 0") as u64;
            let rec = Arc::new(Recording {
                baseline: s.baseline_flash(),
                log,
            });
            let plan = CutPlan {
                at: CutAt::Op {
                    index: program,
                    point: OpPoint::Inside { ppm: 880_000 },
                },
                kind: FaultKind::ZeroedTail,
                seed: 9,
            };
            let (flash, _) = Cursor::new(rec).post_cut(&plan);
            let e = entries(&s, &flash);
            assert_eq!(
                (e[0].seq, e[0].state, e[0].crc),
                (1, STATE_VALID, 0),
                "{board}: the field's entry"
            );
            assert_eq!(e[1], Entry::ERASED, "{board}");
            if let Some(before) = last.replace(flash.raw().to_vec()) {
                assert_eq!(before, flash.raw(), "{board}: both builds start from the same flash");
            }
            let r = SimBoard::new(flash, s.firmware(), Some(s.update())).run(RunOptions::default());
            let text = console(&r);
            assert_eq!(text[1], "boot: otadata-invalid try=all", "{board} {variant}: {text:#?}");
            if variant == Variant::Reference {
                assert_eq!(r.end, RunEnd::Idle, "{board}");
                assert_eq!(jumps(&r), ["1.0.0+0", "2.0.0+0"], "{board}");
            } else {
                assert_eq!(r.end, RunEnd::Unsettled, "{board}: {text:#?}");
                assert!(jumps(&r).iter().all(|v| v == "1.0.0+0"), "{board}");
                assert!(
                    text.contains(&"app: otadata-unreadable boot-partition=none")
                        && text.contains(&"app: restart reason=start-up-failed version=1.0.0+0"),
                    "{board}: {text:#?}"
                );
                assert!(
                    !text.iter().any(|l| l.starts_with("ota: ")),
                    "{board}: never reaches the download"
                );
            }
        }
    }
}

/// The `otadata-invalid-reboot` build fails a sweep of every flash operation of a good update
/// from blank otadata on both profiles (the cuts inside the bootloader's first otadata write),
/// where the reference passes every cut (`the_reference_survives_every_cut_on_both_profiles`);
/// without a cut it updates like the reference.
#[test]
fn the_build_that_restarts_on_unreadable_otadata_fails_a_sweep_on_both_profiles() {
    for board in ["nrf52840", "stm32l4"] {
        let s = scenario(board, Variant::OtadataInvalidReboot);
        let log = s.board().run(RunOptions::default());
        assert_eq!(log.end, RunEnd::Idle, "{board}: the control run updates");
        assert_eq!(jumps(&log), ["1.0.0+0", "2.0.0+0"], "{board}");
        let (failures, cuts) = sweep(&s);
        assert!(cuts > 100, "{board}: {cuts} cuts");
        assert!(!failures.is_empty(), "{board}: no cut failed");
        assert!(
            failures
                .iter()
                .all(|f| f.starts_with("op 0 ") || f.starts_with("op 1 ")),
            "{board}: only cuts in the first otadata write (ops 0 and 1) fail: {failures:#?}"
        );
        println!(
            "otadata-invalid-reboot on {board}: {} of {cuts} cuts fail, e.g. {}",
            failures.len(),
            failures[0]
        );
    }
}

/// The ESP-IDF app image `name` of fixtures/esp (made by `esptool elf2image`).
fn esp_fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/esp")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `s` with the fixtures' ESP app images `baseline` and `update` instead of the generated
/// MCUboot ones; each fixture's name says the version in its app descriptor (`app-2.0.0.bin`).
fn with_esp_images(mut s: Scenario, baseline: &str, update: &str) -> Scenario {
    let version = |name: &str| {
        let v = name.strip_prefix("app-").unwrap().split(['-', 'b']).next().unwrap();
        cutpoint_sim::imgtool::parse_version(v.trim_end_matches('.')).unwrap()
    };
    s.old_image = Arc::new(esp_fixture(baseline));
    s.old_version = version(baseline);
    s.new_image = Arc::new(esp_fixture(update));
    s.new_version = version(update);
    s
}

#[test]
fn esp_app_images_boot_from_either_slot_by_their_app_descriptor_version() {
    for board in ["nrf52840", "stm32l4"] {
        for (what, s) in [
            ("ota_0 -> ota_1", scenario(board, Variant::Reference)),
            ("ota_1 -> ota_0", from_ota_1(scenario(board, Variant::Reference))),
        ] {
            let s = with_esp_images(s, "app-1.0.0.bin", "app-2.0.0.bin");
            let mut b = s.board();
            let log = b.run(RunOptions::default());
            assert_eq!(log.end, RunEnd::Idle, "{board} {what}");
            assert_eq!(jumps(&log), ["1.0.0+0", "2.0.0+0"], "{board} {what}");
            let text = console(&log);
            // The application checked the download (segments, checksum, SHA-256) before it
            // wrote otadata, and the hash it names is the image's appended SHA-256.
            let appended = &s.new_image[s.new_image.len() - 32..];
            let short: String = appended[..4].iter().map(|b| format!("{b:02x}")).collect();
            let verify = text.iter().position(|l| l.starts_with("ota: verify-ok")).unwrap();
            let write = text.iter().position(|l| l.starts_with("ota: otadata-write")).unwrap();
            assert!(verify < write, "{text:#?}");
            assert_eq!(text[verify], format!("ota: verify-ok version=2.0.0+0 hash={short}"));
            assert!(
                text.contains(&format!("boot: jump version=2.0.0+0 hash={short}").as_str()),
                "{text:#?}"
            );
        }
    }
}

/// ESP-IDF's `bootloader_utility_load_boot_image`: a selected image that fails its check is
/// skipped and the other slot boots. The selected ota_1 image is spoiled three ways: a byte of
/// segment data (the checksum catches it; the image without a SHA-256 has nothing else), the
/// appended SHA-256 alone, and a segment length that runs past the partition.
#[test]
fn a_selected_esp_image_that_fails_its_check_falls_back_to_the_other_slot() {
    let spoil_data = |img: &mut Vec<u8>| img[0x400] ^= 0x04;
    let spoil_hash = |img: &mut Vec<u8>| {
        let n = img.len();
        img[n - 1] ^= 0x01;
    };
    // The first segment header's data length (bytes 24 + 4 ..): past the end of the slot.
    let spoil_len = |img: &mut Vec<u8>| img[28..32].copy_from_slice(&0x00F0_0000u32.to_le_bytes());
    type Spoil<'a> = &'a dyn Fn(&mut Vec<u8>);
    let cases: [(&str, &str, Spoil<'_>); 4] = [
        ("segment data", "app-2.0.0.bin", &spoil_data),
        ("segment data, no SHA-256", "app-1.0.0-no-digest.bin", &spoil_data),
        ("appended SHA-256", "app-2.0.0.bin", &spoil_hash),
        ("segment length", "app-2.0.0.bin", &spoil_len),
    ];
    for (what, update, spoil) in cases {
        // The no-digest fixture is 1.0.0: it updates the 2.0.0 image.
        let baseline = if update.contains("1.0.0") {
            "app-2.0.0.bin"
        } else {
            "app-1.0.0.bin"
        };
        let s = with_esp_images(scenario("nrf52840", Variant::Reference), baseline, update);
        let mut b = s.board();
        assert_eq!(b.run(RunOptions::default()).end, RunEnd::Idle, "{what}");
        // otadata now selects ota_1, holding the update: spoil it there.
        let l = s.profile.layout;
        let mut img = b.flash.raw()[l.secondary.offset as usize..][..s.new_image.len()].to_vec();
        spoil(&mut img);
        let mut flash = b.flash.clone();
        flash.load(l.secondary.offset, &img);
        let mut b = SimBoard::new(flash, s.firmware(), None);
        let log = b.run(RunOptions::default());
        let text = console(&log);
        assert!(
            text.contains(&"boot: otadata-select sector=1 seq=2 slot=secondary"),
            "{what}: {text:#?}"
        );
        assert!(text.contains(&"boot: fallback slot=primary"), "{what}: {text:#?}");
        assert_eq!(jumps(&log), [s.old_version.to_string()], "{what}: {text:#?}");
    }
}

/// The application checks the image it downloaded before it writes otadata (`esp_ota_end`'s
/// `esp_image_verify`): a spoiled one is refused, erased, and otadata is never written.
#[test]
fn a_spoiled_esp_download_is_refused_before_otadata_is_written() {
    let mut s = with_esp_images(
        scenario("nrf52840", Variant::Reference),
        "app-1.0.0.bin",
        "app-2.0.0.bin",
    );
    let mut img = s.new_image.to_vec();
    img[0x400] ^= 0x04;
    s.new_image = Arc::new(img);
    let mut b = s.board();
    let log = b.run(RunOptions::default());
    assert_eq!(log.end, RunEnd::Idle);
    assert_eq!(jumps(&log), ["1.0.0+0"]);
    let text = console(&log);
    assert!(text.contains(&"ota: verify-fail reason=hash-mismatch"), "{text:#?}");
    assert!(
        text.contains(&"ota: idle reason=verify-fail version=2.0.0+0"),
        "{text:#?}"
    );
    assert!(!text.iter().any(|l| l.starts_with("ota: otadata-write")), "{text:#?}");
    assert_eq!(entries(&s, &b.flash)[1], Entry::ERASED);
}

/// Every flash operation of an ESP app image update cut before, inside and after, on both
/// profiles and from either slot, good and failing its trial (a cut in the trial boot): every
/// recovered board boots the old or the new image and settles on the new one. A download cut
/// short leaves a torn image in the other slot that is never selected.
#[test]
fn the_reference_survives_every_cut_of_an_esp_image_update() {
    for board in ["nrf52840", "stm32l4"] {
        for (what, s) in [
            ("ota_0 -> ota_1", scenario(board, Variant::Reference)),
            ("ota_1 -> ota_0", from_ota_1(scenario(board, Variant::Reference))),
            ("ota_0 -> ota_1, no SHA-256", scenario(board, Variant::Reference)),
        ] {
            // The no-digest fixture is 1.0.0: it updates the 2.0.0 image.
            let s = if what.contains("no SHA") {
                with_esp_images(s, "app-2.0.0.bin", "app-1.0.0-no-digest.bin")
            } else {
                with_esp_images(s, "app-1.0.0.bin", "app-2.0.0.bin")
            };
            let (failures, cuts) = sweep(&s);
            assert!(cuts > 50, "{board} {what}: {cuts} cuts");
            assert!(
                failures.is_empty(),
                "{board} {what}: {} failures: {:#?}",
                failures.len(),
                &failures[..failures.len().min(8)]
            );
        }
    }
}
