//! Rest points: a swap tells the board, before each region, that what it does from there is
//! decided by the flash and the state it names; a joiner may stop the run there.

use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::{BoardProfile, Joiner, RestPoint, RunEnd, RunOptions};

/// Notes every rest point; stops the run at the one numbered `stop_at`, if any.
#[derive(Default)]
struct Noting {
    /// Each rest point: its key, the flash's, when, the lines, operations and touches before.
    points: Vec<(u64, u64, u64, usize, usize, usize)>,
    stop_at: Option<usize>,
}

impl Joiner for Noting {
    fn at_rest(&mut self, p: &RestPoint<'_>) -> bool {
        self.points
            .push((p.key, p.flash.memo_key(), p.t_us, p.lines, p.ops, p.touches));
        self.stop_at == Some(self.points.len() - 1)
    }
}

fn scenario() -> Scenario {
    Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 16)
}

#[test]
fn a_swap_passes_a_rest_point_before_each_region_and_a_joiner_can_stop_it_there() {
    let s = scenario();
    let mut all = Noting::default();
    let log = s.board().run_joining(RunOptions::default(), &mut all);
    let plain = s.board().run(RunOptions::default());
    assert!(!log.joined);
    assert_eq!(log.console, plain.console, "a joiner that never stops changes nothing");
    assert_eq!(log.ops, plain.ops);
    assert_eq!(log.end, RunEnd::Idle);

    let progress: Vec<&str> = log
        .console
        .iter()
        .map(|l| l.text.as_str())
        .filter(|t| t.starts_with("boot: swap-progress"))
        .collect();
    assert!(progress.len() >= 4, "{progress:?}");
    assert_eq!(all.points.len(), progress.len(), "one rest point per region");
    for (k, &(_, _, t, lines, ops, _)) in all.points.iter().enumerate() {
        let before = &log.console[lines - 1].text;
        match k {
            0 => assert!(before.starts_with("boot: swap-start"), "{before}"),
            _ => assert!(before.contains(&format!(" region={k} ")), "{k}: {before}"),
        }
        assert!(
            log.ops[ops - 1].end_us <= t,
            "{k}: the operations before it ended before it"
        );
    }
    let keys: std::collections::HashSet<u64> = all.points.iter().map(|p| p.0).collect();
    assert_eq!(keys.len(), all.points.len(), "each rest point has its own state");

    // What it touched: every operation, and reads besides.
    assert!(
        log.touches.len() > log.ops.len(),
        "{} {}",
        log.touches.len(),
        log.ops.len()
    );
    assert!(plain.touches.is_empty(), "a run without a joiner keeps none");
    let mut again = Noting::default();
    s.board().run_joining(RunOptions::default(), &mut again);
    assert_eq!(again.points, all.points, "the same run passes the same rest points");

    let mut stop = Noting {
        stop_at: Some(2),
        ..Noting::default()
    };
    let stopped = s.board().run_joining(RunOptions::default(), &mut stop);
    let (_, _, t, lines, ops, touches) = all.points[2];
    assert!(stopped.joined);
    assert_eq!(stopped.end, RunEnd::Cut);
    assert_eq!(
        stopped.console,
        log.console[..lines],
        "nothing is said after the rest point"
    );
    assert_eq!(stopped.ops, log.ops[..ops], "nothing is done after the rest point");
    assert_eq!(stopped.duration_us, t);
    assert_eq!(
        stopped.touches,
        log.touches[..touches],
        "it touched what the whole run had by then"
    );
    assert!(log.touches.len() > touches);
    assert!(stopped.cut.is_none(), "not a cut");
}

#[test]
fn no_rest_point_is_told_while_anything_else_can_change_the_course() {
    let s = scenario();
    let mut recorded = Noting::default();
    s.board().run_joining(
        RunOptions {
            record_data: true,
            ..RunOptions::default()
        },
        &mut recorded,
    );
    assert!(recorded.points.is_empty(), "a run recorded for replay runs whole");
    let mut planned = Noting::default();
    let plan = cutpoint_sim::CutPlan {
        at: cutpoint_sim::CutAt::Time { us: u64::MAX / 2 },
        kind: cutpoint_core::FaultKind::PowerCut,
        seed: 1,
    };
    s.board().run_joining(
        RunOptions {
            plan: Some(plan),
            ..RunOptions::default()
        },
        &mut planned,
    );
    assert!(planned.points.is_empty(), "a run with a fault to come runs whole");
}
