//! Scaffolding the A/B schemes' tests share (`esp_idf.rs`, `redundant.rs`): a scenario on a
//! built-in board with the scheme named, the versions each boot jumped to, the scenario started
//! from the other slot (as after an earlier update), and the sweep that cuts every flash
//! operation of the update (before, inside, after) and recovers each post-cut flash.

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

/// What a sweep checks beyond the first boot and the settled image.
pub struct SweepRules<'a> {
    /// A committed update must never boot the old image again.
    pub no_revert_after_commit: bool,
    /// Failures read from each post-cut flash (before any recovery), one line each.
    pub post_cut: &'a dyn Fn(&NorFlash) -> Vec<String>,
}

/// Sweeps every flash operation of a run of `s`: every recovered board boots the old or the
/// new image first (only the new one once the new image confirmed itself), then settles on
/// the image that should stay. Returns the failures and the number of cuts.
pub fn sweep(s: &Scenario, rules: &SweepRules<'_>) -> (Vec<String>, usize) {
    let (old, new) = (s.old_version.to_string(), s.new_version.to_string());
    let last = if s.bad_update { old.clone() } else { new.clone() };
    let log = s.board().run(RunOptions {
        record_data: true,
        ..RunOptions::default()
    });
    let mut failures = Vec::new();
    if log.end != RunEnd::Idle || jumps(&log).last() != Some(&last) {
        failures.push(format!(
            "control run: settled {:?} on {:?}",
            log.end,
            jumps(&log).last()
        ));
    }
    let commit_us = log
        .console
        .iter()
        .find(|l| l.text.starts_with(&format!("app: confirm version={new}")))
        .map_or(u64::MAX, |l| l.t_us);
    let rec = Arc::new(Recording {
        baseline: s.baseline_flash(),
        log,
    });
    let mut cursor = Cursor::new(rec.clone());
    let mut verdicts: HashMap<(u64, bool), Option<String>> = HashMap::new();
    let mut cuts = 0;
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
            cuts += 1;
            for why in (rules.post_cut)(&flash) {
                failures.push(format!("op {i} {point:?}: {why}"));
            }
            let verdict = verdicts
                .entry((flash.state_hash(), committed))
                .or_insert_with(|| {
                    let mut board = SimBoard::new(flash, s.firmware(), Some(s.update()));
                    let mut r = board.run(RunOptions::default());
                    let mut booted = jumps(&r);
                    // A good update rolled back by a cut during its trial boot is refused until
                    // the server asks again, as the rig's recovery does on the `rejected` line
                    // (an update that fails its health check is meant to be rejected).
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
                    }
                    let Some(first) = booted.first() else {
                        return Some(format!("nothing booted: {:?}", r.end));
                    };
                    if *first != new && (committed || *first != old) {
                        return Some(format!("first boot ran {first} (committed: {committed})"));
                    }
                    if rules.no_revert_after_commit && committed && booted.contains(&old) {
                        return Some(format!("the committed update was reverted: {booted:?}"));
                    }
                    if r.end != RunEnd::Idle || booted.last() != Some(&last) {
                        return Some(format!("settled {:?} on {:?}", r.end, booted.last()));
                    }
                    None
                })
                .clone();
            if let Some(why) = verdict {
                failures.push(format!("op {i} {point:?}: {why}"));
            }
        }
    }
    (failures, cuts)
}
