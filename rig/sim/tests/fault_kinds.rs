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
