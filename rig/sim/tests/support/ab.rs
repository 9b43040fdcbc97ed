//! Scaffolding the A/B schemes' tests share (`esp_idf.rs`, `redundant.rs`, `embassy_boot.rs`,
//! `pending_log.rs`): a scenario on a built-in board with the scheme named, the versions each
//! boot jumped to, the scenario started from the other slot (as after an earlier update), and
//! the sweep that cuts every flash operation of the update (before, inside, after), recovers
//! each post-cut flash and judges the recovery.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use cutpoint_sim::board::{BootResult, CutAt, CutPlan, FaultKind, OpPoint, RunEnd, RunOptions, SimBoard};
use cutpoint_sim::flash::NorFlash;
use cutpoint_sim::replay::{Cursor, Recording};
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::BoardProfile;
use fut::scheme::{Mode, Registry};
use fut::Variant;

/// The built-in scheme called `name`.
pub fn mode(name: &str) -> Mode {
    Registry::builtin()
        .find(name)
        .unwrap_or_else(|| panic!("{name} is built in"))
}

/// A 16 KiB update of `variant` on `board` with the scheme `mode`.
pub fn scenario(board: &str, mode: Mode, variant: Variant) -> Scenario {
    let mut s = Scenario::new(BoardProfile::builtin(board).unwrap(), 16);
    s.mode = mode;
    s.variant = variant;
    s
}

/// The same scenario starting from the secondary slot, as after an earlier update: the update
/// goes to the primary.
pub fn from_secondary(mut s: Scenario) -> Scenario {
    s.baseline_slot = fut::layout::Slot::Secondary;
    s
}

/// The versions the boots of `r` jumped to, in order.
pub fn jumps(r: &cutpoint_sim::RunLog) -> Vec<String> {
    r.boots
        .iter()
        .filter_map(|b| match &b.result {
            BootResult::Jump { version, .. } => Some(version.clone()),
            _ => None,
        })
        .collect()
}

/// The console lines of `r`.
pub fn console(r: &cutpoint_sim::RunLog) -> Vec<&str> {
    r.console.iter().map(|l| l.text.as_str()).collect()
}

/// What a board recovered from a post-cut flash did: the versions it jumped to, its console,
/// how its last run ended and the flash it left. A good update rolled back by a cut during its
/// trial boot is refused until the server asks again, as the rig's recovery does on the
/// `rejected` line (an update that fails its health check is meant to be rejected): the
/// recovery then runs once more with the server asking.
pub struct Recovery {
    pub booted: Vec<String>,
    pub text: Vec<String>,
    pub end: RunEnd,
    pub flash: NorFlash,
}

/// Powers a board with `flash` and the update of `s` until it idles (see [`Recovery`]).
pub fn recover(s: &Scenario, flash: NorFlash) -> Recovery {
    let mut board = SimBoard::new(flash, s.firmware(), Some(s.update()));
    let mut r = board.run(RunOptions::default());
    let mut booted = jumps(&r);
    let mut text: Vec<String> = r.console.iter().map(|l| l.text.clone()).collect();
    let rejected = r
        .console
        .last()
        .is_some_and(|l| l.text.starts_with("ota: idle reason=rejected"));
    if rejected && !s.bad_update {
        board.update = Some(cutpoint_sim::board::Update {
            retry: true,
            ..s.update()
        });
        r = board.run(RunOptions::default());
        booted.extend(jumps(&r));
        text.extend(r.console.iter().map(|l| l.text.clone()));
    }
    Recovery {
        booted,
        text,
        end: r.end,
        flash: board.flash,
    }
}

/// The pass rule of every A/B sweep: the recovered board boots the old or the new image first
/// (only the new one once the update `committed`), never the old one after the commit when
/// `no_revert_after_commit`, and settles idle on the image that should stay. `None` passes.
pub fn judge(s: &Scenario, r: &Recovery, committed: bool, no_revert_after_commit: bool) -> Option<String> {
    let (old, new) = (s.old_version.to_string(), s.new_version.to_string());
    let last = if s.bad_update { &old } else { &new };
    let Some(first) = r.booted.first() else {
        return Some(format!("nothing booted: {:?}", r.end));
    };
    if *first != new && (committed || *first != old) {
        return Some(format!("first boot ran {first} (committed: {committed})"));
    }
    if no_revert_after_commit && committed && r.booted.contains(&old) {
        return Some(format!("the committed update was reverted: {:?}", r.booted));
    }
    if r.end != RunEnd::Idle || r.booted.last() != Some(last) {
        return Some(format!("settled {:?} on {:?}", r.end, r.booted.last()));
    }
    None
}

/// Where one cut of a sweep landed: the operation's index, the operation
/// (`Program 0x…+N`) and the point in it.
#[derive(Debug, Clone)]
pub struct CutSite {
    pub index: u64,
    pub op: String,
    pub point: OpPoint,
}

/// One cut of a sweep: where it landed, what the checks of the post-cut flash found, and the
/// verdict on its recovery.
pub struct Cut<V> {
    pub site: CutSite,
    pub post_cut: Vec<String>,
    pub verdict: V,
}

/// A sweep's control run (`Some` when it did not settle idle on the image that should stay)
/// and its cuts.
pub struct SweepRun<V> {
    pub control: Option<String>,
    pub cuts: Vec<Cut<V>>,
}

/// Cuts every flash operation of a run of `s` at five points (before, at 10, 50 and 90 %,
/// after). Each post-cut flash is checked by `post_cut` (before any recovery); then it is
/// recovered ([`recover`]) and `verdict` says what the recovery means, given whether the cut
/// landed after the new image confirmed itself. Verdicts are reused for cuts that leave the
/// same flash on the same side of the commit.
pub fn sweep_with<V: Clone>(
    s: &Scenario,
    post_cut: impl Fn(&NorFlash) -> Vec<String>,
    verdict: impl Fn(&Recovery, bool) -> V,
) -> SweepRun<V> {
    let (old, new) = (s.old_version.to_string(), s.new_version.to_string());
    let last = if s.bad_update { old } else { new.clone() };
    let log = s.board().run(RunOptions {
        record_data: true,
        ..RunOptions::default()
    });
    let control = (log.end != RunEnd::Idle || jumps(&log).last() != Some(&last))
        .then(|| format!("control run: settled {:?} on {:?}", log.end, jumps(&log).last()));
    let commit_us = log
        .console
        .iter()
        .find(|l| l.text.starts_with(&format!("app: confirm version={new}")))
        .map_or(u64::MAX, |l| l.t_us);
    let ops: Vec<String> = log
        .ops
        .iter()
        .map(|o| format!("{:?} 0x{:x}+{}", o.kind, o.addr, o.len))
        .collect();
    let rec = Arc::new(Recording {
        baseline: s.baseline_flash(),
        log,
    });
    let mut cursor = Cursor::new(rec.clone());
    let mut verdicts: HashMap<(u64, bool), V> = HashMap::new();
    let mut cuts = Vec::new();
    let points = [
        OpPoint::Before,
        OpPoint::Inside { ppm: 100_000 },
        OpPoint::Inside { ppm: 500_000 },
        OpPoint::Inside { ppm: 900_000 },
        OpPoint::After,
    ];
    for i in 0..rec.log.ops.len() as u64 {
        for point in points {
            let plan = CutPlan {
                at: CutAt::Op { index: i, point },
                kind: FaultKind::PowerCut,
                seed: i * 31 + 7,
            };
            let (flash, landing) = cursor.post_cut(&plan);
            let committed = landing.actual_us >= commit_us;
            let site = CutSite {
                index: i,
                op: ops[i as usize].clone(),
                point,
            };
            let found = post_cut(&flash);
            let verdict = verdicts
                .entry((flash.state_hash(), committed))
                .or_insert_with(|| verdict(&recover(s, flash), committed))
                .clone();
            cuts.push(Cut {
                site,
                post_cut: found,
                verdict,
            });
        }
    }
    SweepRun { control, cuts }
}

/// What a sweep checks beyond the first boot and the settled image.
pub struct SweepRules<'a> {
    /// A committed update must never boot the old image again.
    pub no_revert_after_commit: bool,
    /// Failures read from each post-cut flash (before any recovery), one line each.
    pub post_cut: &'a dyn Fn(&NorFlash) -> Vec<String>,
}

/// Sweeps every flash operation of a run of `s` ([`sweep_with`]) under the pass rule
/// ([`judge`]) and `rules`. Returns the failures (`op I POINT: why`, or the control run's) and
/// the number of cuts.
pub fn sweep(s: &Scenario, rules: &SweepRules<'_>) -> (Vec<String>, usize) {
    let run = sweep_with(s, rules.post_cut, |r, committed| {
        judge(s, r, committed, rules.no_revert_after_commit)
    });
    let mut failures: Vec<String> = run.control.into_iter().collect();
    for c in &run.cuts {
        for why in c.post_cut.iter().chain(&c.verdict) {
            failures.push(format!("op {} {:?}: {why}", c.site.index, c.site.point));
        }
    }
    (failures, run.cuts.len())
}

/// [`sweep`] where a committed update must never be reverted and the post-cut flash is not
/// checked: the sweep of the schemes whose record says when the update committed.
pub fn sweep_no_revert(s: &Scenario) -> (Vec<String>, usize) {
    sweep(
        s,
        &SweepRules {
            no_revert_after_commit: true,
            post_cut: &|_| Vec::new(),
        },
    )
}

/// The reference of the scheme `mode` survives every cut ([`sweep_no_revert`]) of four updates
/// on the nRF52840 and the STM32L4: a -> b and b -> a, good and failing; each sweep has more
/// than `min_cuts` cuts.
pub fn assert_reference_survives_every_cut(mode_name: &str, min_cuts: usize) {
    for board in ["nrf52840", "stm32l4"] {
        let base = || scenario(board, mode(mode_name), Variant::Reference);
        for (what, s) in [
            ("a -> b", base()),
            ("b -> a", from_secondary(base())),
            ("a -> b, failing", base().with_bad_update()),
            ("b -> a, failing", from_secondary(base().with_bad_update())),
        ] {
            let (failures, cuts) = sweep_no_revert(&s);
            assert!(cuts > min_cuts, "{mode_name} {board} {what}: {cuts} cuts");
            assert!(
                failures.is_empty(),
                "{mode_name} {board} {what}: {} failures: {:#?}",
                failures.len(),
                &failures[..failures.len().min(8)]
            );
            println!("{mode_name} {board} {what}: {cuts} cuts, all pass");
        }
    }
}
