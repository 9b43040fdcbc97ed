//! The three fault kinds differ in what happens to the flash operation in flight, and the
//! journal-served post-cut state equals a live run's.

use std::sync::Arc;

use cutpoint_sim::board::{CutAt, CutPlan, FaultKind, OpPoint, RunEnd, RunOptions};
use cutpoint_sim::replay::{Cursor, Recording};
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::BoardProfile;

fn scenario() -> Scenario {
    Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 64)
}

fn control() -> Arc<Recording> {
    let s = scenario();
    let log = s.board().run(RunOptions {
        record_data: true,
        ..RunOptions::default()
    });
    Arc::new(Recording {
        baseline: s.baseline_flash(),
        log,
    })
}

/// The first erase of a primary-slot sector during the swap (it holds data, so a torn erase shows).
fn swap_erase(rec: &Recording) -> u64 {
    let start = rec
        .log
        .console
        .iter()
        .find(|l| l.text.starts_with("boot: swap-start"))
        .unwrap()
        .t_us;
    let primary = scenario().profile.layout.primary;
    rec.log
        .ops
        .iter()
        .find(|r| {
            r.start_us >= start
                && r.kind == cutpoint_sim::flash::OpKind::Erase
                && primary.contains(r.addr)
                && r.addr < primary.offset + 32 * 1024
        })
        .unwrap()
        .index
}

fn live(plan: CutPlan) -> (cutpoint_sim::NorFlash, cutpoint_sim::RunLog) {
    let mut board = scenario().board();
    let log = board.run(RunOptions {
        plan: Some(plan),
        ..RunOptions::default()
    });
    (board.flash, log)
}

#[test]
fn power_cut_tears_reset_completes_brownout_drops() {
    let rec = control();
    let i = swap_erase(&rec);
    let r = &rec.log.ops[i as usize];
    let mid = r.start_us + (r.end_us - r.start_us) / 2;
    let at = CutAt::Time { us: mid };
    let (cut, cut_log) = live(CutPlan {
        at,
        kind: FaultKind::PowerCut,
        seed: 5,
    });
    let (reset, _) = live(CutPlan {
        at,
        kind: FaultKind::Reset,
        seed: 5,
    });
    let (brown, brown_log) = live(CutPlan {
        at,
        kind: FaultKind::Brownout,
        seed: 5,
    });
    let mut cursor = Cursor::new(rec.clone());
    let (before, _) = cursor.post_cut(&CutPlan {
        at: CutAt::Op {
            index: i,
            point: OpPoint::Before,
        },
        kind: FaultKind::PowerCut,
        seed: 5,
    });
    let (after, _) = cursor.post_cut(&CutPlan {
        at: CutAt::Op {
            index: i,
            point: OpPoint::After,
        },
        kind: FaultKind::PowerCut,
        seed: 5,
    });
    assert_eq!(cut_log.end, RunEnd::Cut);
    assert!(
        cut_log.cut.as_ref().unwrap().torn.is_some(),
        "a power cut tears the erase in flight"
    );
    assert_ne!(cut.state_hash(), before.state_hash());
    assert_ne!(cut.state_hash(), after.state_hash());
    assert_eq!(reset.raw(), after.raw(), "a reset lets the erase in flight complete");
    assert!(
        brown_log.ops.iter().any(|o| o.dropped),
        "a brownout drops the operation in flight"
    );
    assert_eq!(brown.raw(), before.raw(), "the dropped erase changed nothing");
}

#[test]
fn journal_post_cut_state_equals_a_live_run() {
    let rec = control();
    let mut cursor = Cursor::new(rec.clone());
    for (n, r) in rec.log.ops.iter().enumerate().step_by(37) {
        for point in [OpPoint::Before, OpPoint::Inside { ppm: 400_000 }, OpPoint::After] {
            let plan = CutPlan {
                at: CutAt::Op { index: n as u64, point },
                kind: FaultKind::PowerCut,
                seed: 11 + n as u64,
            };
            let (fast, landing) = cursor.post_cut(&plan);
            let (slow, log) = live(plan);
            assert_eq!(fast.state_hash(), slow.state_hash(), "op {n} ({:?}) {point:?}", r.kind);
            assert_eq!(fast.raw(), slow.raw());
            assert_eq!(Some(landing.actual_us), log.cut.map(|c| c.actual_us));
        }
    }
}

/// A zeroed tail keeps the program's bytes up to the cut and stores zeros after them, whole:
/// no weak bit, no torn granule; an erase in flight tears exactly as in a power cut; and the
/// journal serves the same post-cut flash as a live run.
#[test]
fn a_zeroed_tail_keeps_the_bytes_up_to_the_cut_and_zeroes_the_rest() {
    use cutpoint_sim::flash::{FlashOp, NorFlash, TornOutcome};
    for board in ["nrf52840", "stm32l4", "w25q128"] {
        let profile = BoardProfile::builtin(board).unwrap();
        let flash = NorFlash::new(profile.flash.clone(), 3);
        let granule = profile.flash.write_size.max(1) as usize;
        let len = 16usize.div_ceil(granule) * granule;
        let data: Vec<u8> = (0..len as u8).map(|b| 0xA0 | (b & 0x0f)).collect();
        let addr = profile.layout.scratch.offset;
        let op = FlashOp::Program {
            addr,
            data: data.clone(),
        };
        let dur = flash.duration_us(&op);
        for quarter in 1..4u64 {
            let elapsed = dur * quarter / 4;
            let mut f = flash.clone();
            let report = f.apply_zeroed_tail(&op, elapsed, 9);
            let kept = len * quarter as usize / 4;
            assert_eq!(report.outcome, TornOutcome::Zeroed, "{board}");
            assert_eq!(report.zeroed_from, Some(addr + kept as u32), "{board}");
            assert_eq!(report.weak_bits, 0);
            assert!(!report.ecc_torn);
            let mut back = vec![0u8; len];
            f.read(addr, &mut back).unwrap();
            assert_eq!(&back[..kept], &data[..kept], "{board} {quarter}/4");
            assert!(back[kept..].iter().all(|&b| b == 0), "{board} {quarter}/4: {back:x?}");
            assert!(f.anomalies().is_clean(), "{board}: the zeros are written data");
            assert!(report.to_string().contains("zeroed from"), "{report}");
        }
        // Before it starts nothing changes; at its end it is the whole program.
        let mut f = flash.clone();
        f.apply_zeroed_tail(&op, 0, 9);
        assert_eq!(f.raw(), flash.raw());
        let mut f = flash.clone();
        f.apply_zeroed_tail(&op, dur, 9);
        let mut whole = flash.clone();
        whole.apply(&op).unwrap();
        assert_eq!(f.raw(), whole.raw());
        // An erase tears as in a power cut.
        let sector = profile.flash.sector_size;
        let erase = FlashOp::Erase {
            addr: profile.layout.primary.offset,
            len: sector,
        };
        let half = flash.duration_us(&erase) / 2;
        let (mut a, mut b) = (flash.clone(), flash.clone());
        let ra = a.apply_zeroed_tail(&erase, half, 4);
        let rb = b.apply_cut(&erase, half, 4);
        assert_eq!(a.raw(), b.raw(), "{board}");
        assert_eq!(ra, rb);
    }
}

#[test]
fn journal_post_cut_state_of_a_zeroed_tail_equals_a_live_run() {
    let rec = control();
    let mut cursor = Cursor::new(rec.clone());
    let mut zeroed = 0;
    for (n, r) in rec.log.ops.iter().enumerate().step_by(23) {
        let plan = CutPlan {
            at: CutAt::Op {
                index: n as u64,
                point: OpPoint::Inside { ppm: 300_000 },
            },
            kind: FaultKind::ZeroedTail,
            seed: 7 + n as u64,
        };
        let (fast, landing) = cursor.post_cut(&plan);
        let (slow, log) = live(plan);
        assert_eq!(fast.raw(), slow.raw(), "op {n} ({:?})", r.kind);
        assert_eq!(fast.state_hash(), slow.state_hash());
        assert_eq!(Some(landing.actual_us), log.cut.as_ref().map(|c| c.actual_us));
        let live_torn = log.cut.and_then(|c| c.torn);
        assert_eq!(landing.torn, live_torn);
        if landing
            .torn
            .is_some_and(|t| t.outcome == cutpoint_sim::flash::TornOutcome::Zeroed)
        {
            zeroed += 1;
        }
    }
    assert!(zeroed > 0, "no program was cut");
}
