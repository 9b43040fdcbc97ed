//! Torn and weak trailer fields: after a cut inside a trailer write the reference firmware
//! must leave a trailer that reads the same on every read, resume from it safely even when cut
//! again, and never sit on an unconfirmed image.

use std::sync::Arc;

use cutpoint_sim::board::{BootResult, CutAt, CutPlan, FaultKind, OpPoint, RunEnd, RunLog, RunOptions, SimBoard};
use cutpoint_sim::replay::{Cursor, Recording};
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::{BoardProfile, NorFlash, OpKind};
use fut::layout::Area;
use fut::trailer::{self, MAGIC};

fn scenario(board: &str, kib: u32, seed: u64) -> Scenario {
    let mut s = Scenario::new(BoardProfile::builtin(board).unwrap(), kib);
    s.seed = seed;
    s
}

fn record(s: &Scenario) -> Arc<Recording> {
    let log = s.board().run(RunOptions {
        record_data: true,
        ..RunOptions::default()
    });
    assert_eq!(log.end, RunEnd::Idle, "control run");
    Arc::new(Recording {
        baseline: s.baseline_flash(),
        log,
    })
}

/// The first program of `addr` in `log` at or after the console line starting with `after`.
fn program_at(log: &RunLog, addr: u32, after: &str) -> u64 {
    let from = log
        .console
        .iter()
        .find(|l| l.text.starts_with(after))
        .unwrap_or_else(|| panic!("no `{after}` line"))
        .t_us;
    log.ops
        .iter()
        .find(|r| r.kind == OpKind::Program && r.addr == addr && r.start_us >= from)
        .unwrap_or_else(|| panic!("no program of {addr:#x} after `{after}`"))
        .index
}

fn run(s: &Scenario, flash: NorFlash, plan: Option<CutPlan>) -> (NorFlash, RunLog) {
    let mut board = SimBoard::new(flash, s.firmware(), Some(s.update()));
    let log = board.run(RunOptions {
        plan,
        ..RunOptions::default()
    });
    (board.flash, log)
}

fn cut(index: u64, point: OpPoint, seed: u64) -> CutPlan {
    CutPlan {
        at: CutAt::Op { index, point },
        kind: FaultKind::PowerCut,
        seed,
    }
}

/// Reads `len` bytes at `addr` many times: whether every read agreed.
fn reads_steadily(flash: &mut NorFlash, addr: u32, len: usize) -> bool {
    let mut first = vec![0u8; len];
    flash.read(addr, &mut first).unwrap();
    (0..64).all(|_| {
        let mut b = vec![0u8; len];
        flash.read(addr, &mut b).unwrap();
        b == first
    })
}

/// The primary trailer's magic reads good, and the same, on every read.
fn magic_is_solid(flash: &mut NorFlash, primary: Area) -> bool {
    let at = primary.end() - trailer::MAGIC_FROM_END;
    let mut b = [0u8; 16];
    flash.read(at, &mut b).unwrap();
    b == MAGIC && reads_steadily(flash, at, 16)
}

fn jumps(log: &RunLog) -> Vec<String> {
    log.boots
        .iter()
        .filter_map(|b| match &b.result {
            BootResult::Jump { version, .. } => Some(version.clone()),
            _ => None,
        })
        .collect()
}

fn says(log: &RunLog, prefix: &str) -> bool {
    log.console.iter().any(|l| l.text.starts_with(prefix))
}

/// A cut inside the program of the primary magic as the swap starts that leaves a weak bit in
/// it, with every other bit programmed (the first seed that does): the post-cut flash. Such a
/// magic reads good on some reads and bad on others.
fn weak_magic_cut(s: &Scenario, rec: &Arc<Recording>) -> NorFlash {
    let primary = s.profile.layout.primary;
    let at = primary.end() - trailer::MAGIC_FROM_END;
    let op = program_at(&rec.log, at, "boot: swap-start");
    let mut cursor = Cursor::new(rec.clone());
    for seed in 0..1000 {
        let (mut flash, _) = cursor.post_cut(&cut(op, OpPoint::Inside { ppm: 900_000 }, seed));
        let reads: Vec<bool> = (0..32)
            .map(|_| {
                let mut b = [0u8; 16];
                flash.read(at, &mut b).unwrap();
                b == MAGIC
            })
            .collect();
        if reads.contains(&true) && reads.contains(&false) {
            return flash;
        }
    }
    panic!("no seed leaves a weak bit in the magic");
}

/// The user's report, exactly: `smoke.toml`'s target with 96 KiB images and seed 42, cut at
/// 3,506,259 µs (seed 15676871869914038155) inside the program of the primary magic at
/// 0x3fff0. The last word is in flight and lands with one weak bit. The resumed swap completed
/// and 2.0.0 settled "up to date" without ever confirming; the next reset read the magic good
/// and reverted the update.
#[test]
fn a_weak_primary_magic_after_a_cut_swap_start_ends_confirmed_and_stays() {
    let s = scenario("nrf52840", 96, 42);
    let rec = record(&s);
    let plan = CutPlan {
        at: CutAt::Time { us: 3_506_259 },
        kind: FaultKind::PowerCut,
        seed: 15_676_871_869_914_038_155,
    };
    let (flash, landing) = Cursor::new(rec.clone()).post_cut(&plan);
    let torn = landing.torn.expect("the cut lands inside an operation");
    assert_eq!((torn.op_addr, torn.weak_bits), (0x3fff0, 1), "{torn}");

    let (flash, recovery) = run(&s, flash, None);
    assert_eq!(recovery.end, RunEnd::Idle);
    // The bootloader settles the magic before the resumed swap moves any data.
    let first_program = recovery.ops.iter().find(|r| r.kind == OpKind::Program).unwrap();
    let first_erase = recovery.ops.iter().find(|r| r.kind == OpKind::Erase).unwrap();
    assert_eq!(first_program.addr, 0x3fff0);
    assert!(first_program.index < first_erase.index);
    assert_eq!(jumps(&recovery), ["2.0.0+0"]);
    assert!(
        says(&recovery, "app: first-boot version=2.0.0+0 pending=confirm") && says(&recovery, "app: confirm"),
        "the new image must confirm itself: {:#?}",
        recovery.console
    );
    let mut flash = flash;
    assert!(magic_is_solid(&mut flash, s.profile.layout.primary));

    // A plain reset: the update stays.
    let (_, again) = run(&s, flash, None);
    assert_eq!(jumps(&again), ["2.0.0+0"], "{:#?}", again.console);
    assert!(!says(&again, "boot: swap-start type=revert"));
}

/// After a cut leaves the primary magic weak, the resumed swap is cut again anywhere: the
/// update still completes and the magic ends solid, whichever step the second cut interrupted
/// (the bootloader's program of the magic included).
#[test]
fn a_resumed_swap_on_a_weak_magic_survives_a_second_cut() {
    let s = scenario("nrf52840", 64, 3);
    let rec = record(&s);
    let weak = weak_magic_cut(&s, &rec);
    let (_, recovery) = run(&s, weak.clone(), None);
    assert!(says(&recovery, "boot: swap-resume"), "{:#?}", recovery.console);
    let ops = recovery.ops.len() as u64;
    let mut failures = Vec::new();
    for index in (0..ops).filter(|i| i % 3 == 0 || *i < 12) {
        for point in [OpPoint::Before, OpPoint::Inside { ppm: 500_000 }] {
            let (after_cut, log) = run(&s, weak.clone(), Some(cut(index, point, index)));
            if log.cut.is_none() {
                continue;
            }
            let (mut flash, mut log) = run(&s, after_cut, None);
            if says(&log, "ota: idle reason=rejected") {
                // Cut before the new image confirmed: reverted, as it may be; the server asks again.
                let mut board = SimBoard::new(flash, s.firmware(), Some(s.update()));
                board.update.as_mut().unwrap().retry = true;
                log = board.run(RunOptions::default());
                flash = board.flash;
            }
            let ok = log.end == RunEnd::Idle
                && jumps(&log).last().map(String::as_str) == Some("2.0.0+0")
                && magic_is_solid(&mut flash, s.profile.layout.primary);
            if !ok {
                failures.push(format!("op {index} {point:?}: {:?} {:?}", log.end, jumps(&log)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

/// The nRF52840 allows two programs of a word between erases. A cut tears the magic, the resumed
/// swap programs it once more and is cut inside that program too: the third boot cannot program
/// it again and rewrites the primary trailer through the journal, which it then drops.
#[test]
fn a_magic_torn_twice_is_rewritten_through_the_journal() {
    let s = scenario("nrf52840", 64, 3);
    let l = s.profile.layout;
    let rec = record(&s);
    let weak = weak_magic_cut(&s, &rec);
    let (_, recovery) = run(&s, weak.clone(), None);
    let again = program_at(
        &recovery,
        l.primary.end() - trailer::MAGIC_FROM_END,
        "boot: swap-resume",
    );
    let twice = (0..400)
        .map(|seed| {
            run(
                &s,
                weak.clone(),
                Some(cut(again, OpPoint::Inside { ppm: 800_000 }, seed)),
            )
            .0
        })
        .find_map(|mut f| (!reads_steadily(&mut f, l.primary.end() - 16, 16)).then_some(f))
        .expect("a seed that leaves the magic weak again");
    let (mut flash, log) = run(&s, twice, None);
    assert_eq!(log.end, RunEnd::Idle, "{:#?}", log.console);
    assert_eq!(jumps(&log).last().map(String::as_str), Some("2.0.0+0"));
    assert!(says(&log, "app: confirm version=2.0.0+0"));
    // The journal went through the secondary trailer sector: erased there, then the primary rewritten.
    let secondary_trailer = l.secondary.end() - l.sector_size;
    assert!(
        log.ops
            .iter()
            .any(|r| r.kind == OpKind::Program && r.addr == l.secondary.end() - trailer::MAGIC_FROM_END),
        "no journal was written"
    );
    assert!(magic_is_solid(&mut flash, l.primary));
    let mut tail = vec![0u8; l.sector_size as usize];
    flash.read(secondary_trailer, &mut tail).unwrap();
    assert!(tail.iter().all(|&b| b == 0xff), "the journal was not dropped");
}

/// A running image whose primary magic reads bad (torn) is not confirmed: MCUboot's
/// `boot_set_confirmed` refuses it, and the bootloader treats it as "no swap". The application
/// must still confirm itself once its health check passes, not settle as up to date.
#[test]
fn an_unconfirmed_image_with_a_bad_magic_confirms_itself() {
    let s = scenario("nrf52840", 64, 1);
    let l = s.profile.layout;
    let rec = record(&s);
    // The flash just after the swap finished: 2.0.0 in the primary slot, not yet confirmed.
    let done = rec
        .log
        .console
        .iter()
        .find(|c| c.text.starts_with("boot: swap-done"))
        .unwrap()
        .t_us;
    let last_swap_op = rec.log.ops.iter().rev().find(|r| r.end_us <= done).unwrap().index;
    let (mut flash, _) = Cursor::new(rec.clone()).post_cut(&cut(last_swap_op, OpPoint::After, 0));
    let mut torn = MAGIC;
    torn[15] &= 0x0f;
    flash.load(l.primary.end() - trailer::MAGIC_FROM_END, &torn);

    let (flash, log) = run(&s, flash, None);
    assert_eq!(jumps(&log), ["2.0.0+0"]);
    assert!(says(&log, "app: confirm version=2.0.0+0"), "{:#?}", log.console);
    let mut b = [0u8; 1];
    let mut flash = flash;
    flash
        .read(l.primary.end() - trailer::IMAGE_OK_FROM_END, &mut b)
        .unwrap();
    assert_eq!(b[0], trailer::FLAG_SET);
}

/// On an ECC part a torn flag cannot be programmed again: the bootloader rewrites the trailer.
/// A second cut right after that rewrite erased the primary trailer must not lose the swap's
/// state: with a failing test update the device must still revert to 1.0.0, not keep the
/// failing image as if it were permanent.
#[test]
fn a_torn_copy_done_on_ecc_flash_is_rewritten_without_losing_the_test_state() {
    let s = scenario("stm32l4", 64, 1).with_bad_update();
    let l = s.profile.layout;
    let rec = record(&s);
    let op = program_at(
        &rec.log,
        l.primary.end() - trailer::COPY_DONE_FROM_END,
        "boot: swap-start",
    );
    let mut cursor = Cursor::new(rec.clone());
    let torn = (0..400)
        .map(|seed| cursor.post_cut(&cut(op, OpPoint::Inside { ppm: 500_000 }, seed)).0)
        .find(|f| f.anomalies().torn_granules > 0)
        .expect("a seed that tears the copy_done granule");
    let (_, recovery) = run(&s, torn.clone(), None);
    let trailer_start = l.primary.end() - l.trailer_sectors() * l.sector_size;
    let erase = recovery
        .ops
        .iter()
        .find(|r| r.kind == OpKind::Erase && r.addr >= trailer_start && r.addr < l.primary.end())
        .expect("the recovery rewrites the primary trailer")
        .index;
    let (after, cut_log) = run(&s, torn, Some(cut(erase, OpPoint::After, 0)));
    assert!(cut_log.cut.is_some());
    let (_, log) = run(&s, after, None);
    assert_eq!(log.end, RunEnd::Idle, "{:#?}", log.console);
    assert_eq!(
        jumps(&log).last().map(String::as_str),
        Some("1.0.0+0"),
        "{:#?}",
        log.console
    );
}
