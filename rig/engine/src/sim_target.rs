//! The simulated board as a [`Target`]. A cut never re-runs the firmware up to the cut: the
//! post-cut flash comes from the control run's journal, and identical post-cut states are
//! recovered once (as long as a bounded cache holds them).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use cutpoint_campaign::{CutPoint, OpSpan, RegionMap, RegionSet};
use cutpoint_core::{RigError, RigErrorKind};
use cutpoint_report::{BootedSlot, Landing, LogLine, OpRelation};

use crate::rest_points::{Budget, Join, JoinRun, JoinTable, Joining, Passed, TornProgram, JOIN_RUNS_KEPT};
use crate::state_cache::StateCache;
use cutpoint_sim::board::ConsoleLine;
use cutpoint_sim::board::CryptoEngine;
use cutpoint_sim::board::{CutPlan, CutRecord, OpPoint, OpRecord, RunLog};
use cutpoint_sim::flash::StateSketch;
use cutpoint_sim::replay::{Cursor, Recording};
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::{CutAt, FaultKind, FlashOp, Joiner, NoJoin, NorFlash, RunEnd, RunOptions, SimBoard};

use crate::target::{
    ControlObservation, Dump, Guarded, Observation, Outside, OutsideChange, RecoveryRules, RecoveryTimeline, Stability,
    Target, UnstableByte,
};

/// Boots after which a recovering board that has not settled counts as unsettled.
pub const MAX_BOOTS: u32 = 12;

/// The recovery of one post-cut state, shared by every cut point that left that state.
#[derive(Debug, Clone)]
struct Recovered {
    console: Arc<Vec<LogLine>>,
    dump: Dump,
    /// The flash's hashes of the dump's sectors, when the dump starts on a sector.
    hashes: Option<Arc<Vec<u64>>>,
    final_state: String,
    retriggered: bool,
    reset_from: Option<usize>,
    /// The weak bits of the flash after recovery, inside the dump: (address, mask).
    weak: Arc<Vec<(u32, u8)>>,
    /// The guarded parts ([`RecoveryRules::outside`]) that read differently after recovery
    /// than at the baseline.
    outside: Arc<Vec<OutsideChange>>,
}

/// A recovery as the cache keeps it: its dump only while the cache of dumps (or a cut in
/// flight) holds it. Thousands of recoveries kept with a dump each took most of a run's memory
/// (a dump is the size of the slots), and the pages of that memory, faulted in fresh, a sixth
/// of its CPU time; a recovery whose dump is gone is simulated again.
#[derive(Debug, Clone)]
struct KeptRecovery {
    console: Arc<Vec<LogLine>>,
    dump: Weak<Vec<u8>>,
    /// The bytes that replace the dump's (see [`Dump::patched`]).
    patch: Option<crate::target::Patch>,
    hashes: Option<Arc<Vec<u64>>>,
    final_state: String,
    retriggered: bool,
    reset_from: Option<usize>,
    weak: Arc<Vec<(u32, u8)>>,
    outside: Arc<Vec<OutsideChange>>,
}

/// What decides a run of the simulated board from a power-on without a planned fault, and
/// so the key under which its outcome is reused: the physical state of the flash (stored
/// bytes, weak bits, torn granules, marginal sectors and program counts: `memo_key`), the
/// part's seed (every draw of a weak or marginal read derives from it and from the access
/// counter, which restarts at each power-on), what the OTA server does (offers an update,
/// asks again after a revert, offers it once per power-on), and the boot limit. The firmware
/// builds, the update image and the flash profile are the target's own, the same for every
/// run it keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PowerOn {
    state: u64,
    seed: u64,
    update: Option<(bool, bool)>,
    max_boots: u32,
}

impl PowerOn {
    fn of(board: &SimBoard, opts: &RunOptions) -> Self {
        PowerOn {
            state: board.flash.memo_key(),
            seed: board.flash.seed(),
            update: board.update.as_ref().map(|u| (u.retry, u.once)),
            max_boots: opts.max_boots,
        }
    }
}

/// What a run from a power-on left: what the recovery reads of it, and the flash after it.
#[derive(Debug, Clone)]
struct RunOutcome {
    console: Arc<Vec<ConsoleLine>>,
    end: RunEnd,
    duration_us: u64,
    /// The flash after the run; `None` when the run wrote nothing, so the flash is as it was.
    after: Option<Arc<NorFlash>>,
}

/// A cursor over the recording of the run from a flash state, with that state's key and seed.
type KeyedCursor = ((u64, u64), Cursor);

/// Runs kept that wrote nothing (a few KiB each: their console).
const RUNS_KEPT: usize = 4096;
/// Runs kept that changed the flash (each holds a copy of the flash).
const CHANGING_RUNS_KEPT: usize = 8;
/// Recordings of the run after a chain's cut, for the chain's next cut (each holds the flash
/// and the data of every operation of that run).
const LATER_RECORDINGS_KEPT: usize = 4;

/// Set (to anything) to simulate every run in full: no run from a power-on, no later cut and
/// no recovery of a differing post-cut state (see [`Donor`]) is served from an earlier one. The results are the same, only slower; the tests prove it.
pub const NO_MEMO_ENV: &str = "CUTPOINT_NO_MEMO";

/// Recoveries kept for the cuts that end in the same post-cut state (a few KiB each).
const RECOVERIES_KEPT: usize = 4096;
/// Recent recoveries kept with the blocks their runs erased before observing (see [`Donor`]).
const DONORS_KEPT: usize = 8;

/// A recovery whose runs erased some blocks of the flash before they read or programmed
/// anything there. The firmware's runs are decided by what they read (and by the time and
/// the OTA server, the same for every recovery), and the flash model's by the state of the
/// blocks an operation touches, so a post-cut state that differs from this one's only in
/// those blocks recovers exactly alike: the same reads return the same bytes, the same
/// operations leave the same flash. A cut torn part-way into a sector the resumed swap erases
/// again before it looks at it is recovered once for every offset into that sector.
struct Donor {
    /// The post-cut state the recovery started from.
    sketch: StateSketch,
    /// Per block: erased by the recovery before it observed it.
    ignore: Vec<bool>,
    /// The recovery rules it ran under (re-trigger, reset after settling).
    rules: (bool, bool),
    rec: Recovered,
}
/// Flash dumps kept for the recoveries that end in the same state (up to the flash's size each).
const DUMPS_KEPT: usize = 16;

pub struct SimTarget {
    scenario: Scenario,
    fault: FaultKind,
    max_boots: u32,
    recording: OnceLock<Arc<Recording>>,
    cursors: Vec<Mutex<Option<Cursor>>>,
    /// Per worker: flash images whose buffers the next cut reuses.
    spares: Vec<Mutex<Vec<NorFlash>>>,
    /// Recoveries by post-cut state and the rules that shape a recovery (re-trigger, reset
    /// after settling), a bounded number (see [`StateCache`]).
    recovered: Mutex<StateCache<(u64, bool, bool), KeptRecovery>>,
    /// Flash dumps after recovery by final state: thousands of cuts end in a handful of states.
    dumps: Mutex<StateCache<u64, Arc<Vec<u8>>>>,
    crypto: Arc<CryptoEngine>,
    /// Whether runs from a power-on and later cuts are served from earlier ones.
    memo: bool,
    /// Runs from a power-on that wrote nothing, by what decides them.
    runs: Mutex<StateCache<PowerOn, RunOutcome>>,
    /// Runs from a power-on that changed the flash, and the keys of those seen once (a run
    /// is copied only the second time its power-on comes: most are seen once).
    changing_runs: Mutex<StateCache<PowerOn, RunOutcome>>,
    seen_once: Mutex<StateCache<PowerOn, ()>>,
    /// Recordings of the unfaulted run from a post-cut state, by that state and seed.
    later_recordings: Mutex<StateCache<(u64, u64), Arc<Recording>>>,
    /// Per worker: the recording its chains' later cuts are forked from, and its key.
    later_cursors: Vec<Mutex<Option<KeyedCursor>>>,
    /// Per worker: the first cut of its last chain of two or more cuts, the flash it left and
    /// where it landed: the chains that share a first cut come one after the other.
    last_first_cut: Vec<Mutex<Option<(CutPlan, NorFlash, Landing)>>>,
    /// Runs from a power-on served from an earlier one, and later cuts forked from a recording.
    reused_runs: AtomicU64,
    forked_later_cuts: AtomicU64,
    /// Images decoded for a boot pick that needs them (direct-XIP), by content.
    pick_images: cutpoint_inspect::ImageCache,
    /// The last recoveries that erased blocks before observing them, newest first.
    donors: Mutex<VecDeque<Donor>>,
    /// Recoveries served from a donor whose post-cut state differed only where it did not matter.
    equivalent_recoveries: AtomicU64,
    /// CPU time spent running the device: the firmware on the simulated MCU and its flash.
    device_ns: AtomicU64,
    /// The rest points of the last recoveries, which a later recovery may join.
    joins: Mutex<JoinTable<Recovered>>,
    /// Recoveries that joined an earlier one at a rest point, and how many of those with the
    /// program their cut tore left as it was.
    joined_recoveries: AtomicU64,
    joined_torn: AtomicU64,
    /// The flash's sector-hash unit, read once.
    hash_unit: OnceLock<u32>,
}

impl SimTarget {
    pub fn new(scenario: Scenario, fault: FaultKind, max_boots: u32, workers: usize) -> Self {
        SimTarget {
            scenario,
            fault,
            max_boots,
            recording: OnceLock::new(),
            cursors: (0..workers.max(1)).map(|_| Mutex::new(None)).collect(),
            spares: (0..workers.max(1)).map(|_| Mutex::new(Vec::new())).collect(),
            recovered: Mutex::new(StateCache::new(RECOVERIES_KEPT)),
            dumps: Mutex::new(StateCache::new(DUMPS_KEPT)),
            crypto: Arc::default(),
            memo: std::env::var_os(NO_MEMO_ENV).is_none(),
            runs: Mutex::new(StateCache::new(RUNS_KEPT)),
            changing_runs: Mutex::new(StateCache::new(CHANGING_RUNS_KEPT)),
            seen_once: Mutex::new(StateCache::new(RUNS_KEPT)),
            later_recordings: Mutex::new(StateCache::new(LATER_RECORDINGS_KEPT)),
            later_cursors: (0..workers.max(1)).map(|_| Mutex::new(None)).collect(),
            last_first_cut: (0..workers.max(1)).map(|_| Mutex::new(None)).collect(),
            reused_runs: AtomicU64::new(0),
            forked_later_cuts: AtomicU64::new(0),
            pick_images: cutpoint_inspect::ImageCache::new(),
            donors: Mutex::new(VecDeque::new()),
            equivalent_recoveries: AtomicU64::new(0),
            device_ns: AtomicU64::new(0),
            joins: Mutex::new(JoinTable::new(JOIN_RUNS_KEPT)),
            joined_recoveries: AtomicU64::new(0),
            joined_torn: AtomicU64::new(0),
            hash_unit: OnceLock::new(),
        }
    }

    /// Runs the firmware on `board` from a power-on: the device's own work, whose CPU time
    /// [`Target::device_cpu_ns`] tells apart from the rig's.
    fn device(&self, board: &mut SimBoard, opts: RunOptions) -> RunLog {
        let start = crate::stages::thread_cpu_ns();
        let log = board.run(opts);
        self.device_ns
            .fetch_add(crate::stages::thread_cpu_ns().saturating_sub(start), Ordering::Relaxed);
        log
    }

    /// [`SimTarget::device`] for a run that may stop at a rest point `joiner` knows.
    fn device_joining(&self, board: &mut SimBoard, opts: RunOptions, joiner: &mut dyn Joiner) -> RunLog {
        let start = crate::stages::thread_cpu_ns();
        let log = board.run_joining(opts, joiner);
        self.device_ns
            .fetch_add(crate::stages::thread_cpu_ns().saturating_sub(start), Ordering::Relaxed);
        log
    }

    /// How many recoveries joined an earlier one at a rest point (see [`crate::rest_points`]),
    /// and how many of those with the program their cut tore left as it was.
    pub fn joined_recoveries(&self) -> (u64, u64) {
        (
            self.joined_recoveries.load(Ordering::Relaxed),
            self.joined_torn.load(Ordering::Relaxed),
        )
    }

    /// How many recoveries were served from an earlier one whose post-cut state differed
    /// only in blocks that recovery erased before it observed them (see [`Donor`]).
    pub fn equivalent_recoveries(&self) -> u64 {
        self.equivalent_recoveries.load(Ordering::Relaxed)
    }

    /// A kept recovery that `flash` recovers exactly as (see [`Donor`]).
    fn donor_for(&self, flash: &NorFlash, rules: (bool, bool)) -> Option<Recovered> {
        let donors = self.donors.lock().ok()?;
        donors
            .iter()
            .find(|d| d.rules == rules && flash.equals_outside(&d.sketch, &d.ignore))
            .map(|d| d.rec.clone())
    }

    /// Keeps `rec`, the recovery from the state `sketch`, as a donor when its runs erased a
    /// block before observing it.
    fn keep_donor(&self, sketch: StateSketch, ignore: Vec<bool>, rules: (bool, bool), rec: &Recovered) {
        if !ignore.iter().any(|&b| b) {
            return;
        }
        if let Ok(mut d) = self.donors.lock() {
            if d.len() >= DONORS_KEPT {
                d.pop_back();
            }
            d.push_front(Donor {
                sketch,
                ignore,
                rules,
                rec: rec.clone(),
            });
        }
    }

    /// How many runs from a power-on were served from an earlier one, and how many later cuts
    /// were forked from a recording, so far.
    pub fn memo_counts(&self) -> (u64, u64) {
        (
            self.reused_runs.load(Ordering::Relaxed),
            self.forked_later_cuts.load(Ordering::Relaxed),
        )
    }

    /// The same target, serving runs and later cuts from earlier ones (`true`, the default
    /// unless [`NO_MEMO_ENV`] is set) or simulating every one in full.
    pub fn with_memo(mut self, memo: bool) -> Self {
        self.memo = memo;
        self
    }

    /// Runs `board` from a power-on without a planned fault. With `memo`, a run whose power-on
    /// (see [`PowerOn`]) came before is not simulated again: its outcome and the flash it left
    /// are reused.
    fn power_on(&self, board: &mut SimBoard, opts: RunOptions, memo: bool) -> RunOutcome {
        let key = (memo && self.memo && opts.plan.is_none()).then(|| PowerOn::of(board, &opts));
        if let Some(k) = &key {
            let hit = self
                .runs
                .lock()
                .ok()
                .and_then(|mut m| m.get(k))
                .or_else(|| self.changing_runs.lock().ok().and_then(|mut m| m.get(k)));
            if let Some(hit) = hit {
                // What this run read is not known here: a watched flash counts every block it
                // did not erase first as read.
                board.flash.watch_everything();
                if let Some(after) = &hit.after {
                    board.flash.copy_from(after);
                }
                self.reused_runs.fetch_add(1, Ordering::Relaxed);
                return hit;
            }
        }
        let log = self.device(board, opts);
        let wrote = !log.ops.is_empty();
        cutpoint_sim::board::recycle_ops(log.ops);
        let mut out = RunOutcome {
            console: Arc::new(log.console),
            end: log.end,
            duration_us: log.duration_us,
            after: None,
        };
        if let Some(k) = key {
            if !wrote {
                if let Ok(mut m) = self.runs.lock() {
                    m.insert(k, out.clone());
                }
            } else if self.seen_once.lock().is_ok_and(|mut m| {
                m.get(&k).is_some() || {
                    m.insert(k, ());
                    false
                }
            }) {
                let kept = RunOutcome {
                    after: Some(Arc::new(board.flash.clone())),
                    ..out.clone()
                };
                if let Ok(mut m) = self.changing_runs.lock() {
                    m.insert(k, kept);
                }
            }
        }
        out.after = None;
        out
    }

    /// The recording of the unfaulted run from `flash` (a post-cut state), made once.
    fn later_recording(&self, flash: &NorFlash) -> Arc<Recording> {
        let key = (flash.memo_key(), flash.seed());
        if let Some(r) = self.later_recordings.lock().ok().and_then(|mut m| m.get(&key)) {
            return r;
        }
        let mut board = SimBoard::new(flash.clone(), self.scenario.firmware(), Some(self.scenario.update()))
            .with_crypto(self.crypto.clone());
        let log = self.device(
            &mut board,
            RunOptions {
                plan: None,
                max_boots: self.max_boots,
                record_data: true,
            },
        );
        let rec = Arc::new(Recording {
            baseline: flash.clone(),
            log,
        });
        if let Ok(mut m) = self.later_recordings.lock() {
            m.insert(key, rec.clone());
        }
        rec
    }

    /// A later cut of a chain, forked from the recording of the run it interrupts as first
    /// cuts are from the control run's, when that is exact: the cut is aimed at a flash
    /// operation the run reaches, is not a brownout, and no sector is marginal (a program into
    /// a marginal sector draws on the reads before it, which a recording does not replay).
    /// `None`: run it live.
    fn cut_recorded(
        &self,
        worker: usize,
        flash: &NorFlash,
        point: &CutPoint,
        rules: &RecoveryRules,
        later: &mut LaterCuts,
    ) -> Option<(NorFlash, Landing)> {
        let plan = self.plan(point);
        let CutAt::Op { index, .. } = plan.at else {
            return None;
        };
        if !self.memo || !Recording::supports(&plan) || flash.has_marginal_sectors() {
            return None;
        }
        let key = (flash.memo_key(), flash.seed());
        let slot = &self.later_cursors[worker % self.later_cursors.len()];
        let mut guard = slot.lock().ok()?;
        if guard.as_ref().is_none_or(|(k, _)| *k != key) {
            *guard = Some((key, Cursor::new(self.later_recording(flash))));
        }
        let (_, cursor) = guard.as_mut()?;
        let rec = cursor.recording().clone();
        if index >= rec.log.ops.len() as u64 {
            // The run ends first: the cut never fires; the live run says how.
            return None;
        }
        let spare = self.spares[worker % self.spares.len()]
            .lock()
            .ok()
            .and_then(|mut v| v.pop());
        let mut out = spare.unwrap_or_else(|| rec.baseline.clone());
        let record = cursor.post_cut_into(&plan, &mut out);
        later.saw_lines(true, rec.log.console_before_op(index), record.actual_us, rules);
        self.forked_later_cuts.fetch_add(1, Ordering::Relaxed);
        Some((out, landing(&record, &rec.log.ops)))
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    fn dump_range(&self) -> (u32, u32) {
        let l = &self.scenario.profile.layout;
        let areas = [l.primary, l.secondary, l.scratch];
        // A map without scratch: the slots alone.
        let used = || areas.iter().filter(|a| a.size > 0);
        let start = used().map(|a| a.offset).min().unwrap_or(0);
        let end = used().map(|a| a.end()).max().unwrap_or(start);
        (start, end)
    }

    /// The slot the bootloader picks on `flash` as a cut left it, read in place by the
    /// inspector of the scenario's scheme (only what the pick needs).
    fn pick_after_cut(&self, flash: &NorFlash) -> Option<BootedSlot> {
        let (start, end) = self.dump_range();
        let raw = flash.raw();
        let bytes = &raw[(start as usize).min(raw.len())..(end as usize).min(raw.len())];
        let s = &self.scenario;
        let hashes = self
            .dump_keys_possible()
            .then(|| flash.sector_hashes(start, end - start))
            .flatten()
            .map(Arc::new);
        cutpoint_inspect::boot_pick_for(
            s.mode.name(),
            bytes,
            start,
            &s.profile.layout,
            Some(&s.key),
            (Some(&self.pick_images), self.dump_keys(hashes.as_ref()).as_ref()),
        )
        .map(|p| crate::judge::booted_slot(crate::judge::READ_AFTER_CUT, p))
    }

    fn dump(&self, flash: &NorFlash) -> Arc<Vec<u8>> {
        let (start, end) = self.dump_range();
        let raw = flash.raw();
        Arc::new(raw[(start as usize).min(raw.len())..(end as usize).min(raw.len())].to_vec())
    }

    fn recording(&self) -> Result<Arc<Recording>, RigError> {
        if let Some(r) = self.recording.get() {
            return Ok(r.clone());
        }
        let log = self.device(
            &mut self.scenario.board(),
            RunOptions {
                max_boots: self.max_boots,
                record_data: true,
                plan: None,
            },
        );
        let rec = Arc::new(Recording {
            baseline: self.scenario.baseline_flash(),
            log,
        });
        Ok(self.recording.get_or_init(|| rec).clone())
    }

    fn plan(&self, point: &CutPoint) -> CutPlan {
        CutPlan {
            at: point.aim,
            kind: self.fault,
            seed: point.seed,
        }
    }

    /// The flash after the first cut, served from the journal when the plan allows it.
    fn first_cut(&self, worker: usize, plan: &CutPlan) -> Result<(NorFlash, Landing), RigError> {
        self.first_cut_torn(worker, plan)
            .map(|(flash, landing, _)| (flash, landing))
    }

    /// [`SimTarget::first_cut`], and the program the cut tore part-way, if it did: a power
    /// cut inside a program of the control run's recording.
    fn first_cut_torn(
        &self,
        worker: usize,
        plan: &CutPlan,
    ) -> Result<(NorFlash, Landing, Option<TornProgram>), RigError> {
        let rec = self.recording()?;
        if Recording::supports(plan) {
            let slot = &self.cursors[worker % self.cursors.len()];
            let mut guard = slot.lock().map_err(|_| poisoned())?;
            let cursor = guard.get_or_insert_with(|| Cursor::new(rec.clone()));
            let spare = self.spares[worker % self.spares.len()]
                .lock()
                .ok()
                .and_then(|mut v| v.pop());
            let mut flash = spare.unwrap_or_else(|| rec.baseline.clone());
            let record = cursor.post_cut_into(plan, &mut flash);
            let torn = match (plan.kind, &record.torn, record.op_index) {
                (FaultKind::PowerCut, Some(_), Some(i)) => {
                    match rec.log.ops.get(i as usize).and_then(|r| r.op.as_ref()) {
                        Some(FlashOp::Program { addr, data }) => Some(TornProgram {
                            addr: *addr,
                            data: data.clone(),
                        }),
                        _ => None,
                    }
                }
                _ => None,
            };
            return Ok((flash, landing(&record, &rec.log.ops), torn));
        }
        let mut board = self.scenario.board();
        let log = self.device(
            &mut board,
            RunOptions {
                plan: Some(*plan),
                max_boots: self.max_boots,
                record_data: false,
            },
        );
        Ok((board.flash, live_landing(&log, plan), None))
    }

    /// The first cut of a chain of two or more: the flash and landing the worker's last such
    /// chain left when it had the same first cut (the chains that share a first cut run one
    /// after the other), else [`SimTarget::first_cut`].
    fn shared_first_cut(&self, worker: usize, plan: &CutPlan) -> Result<(NorFlash, Landing), RigError> {
        let slot = &self.last_first_cut[worker % self.last_first_cut.len()];
        let spare = |rec: &Recording| {
            self.spares[worker % self.spares.len()]
                .lock()
                .ok()
                .and_then(|mut v| v.pop())
                .unwrap_or_else(|| rec.baseline.clone())
        };
        if let Some((p, kept, landing)) = slot.lock().map_err(|_| poisoned())?.as_ref() {
            if p == plan {
                let rec = self.recording()?;
                let mut flash = spare(&rec);
                flash.copy_from(kept);
                return Ok((flash, landing.clone()));
            }
        }
        let (flash, landing) = self.first_cut(worker, plan)?;
        let mut guard = slot.lock().map_err(|_| poisoned())?;
        match guard.as_mut() {
            Some((p, kept, l)) => {
                kept.copy_from(&flash);
                *p = *plan;
                *l = landing.clone();
            }
            None => *guard = Some((*plan, flash.clone(), landing.clone())),
        }
        Ok((flash, landing))
    }

    /// Keeps a used flash image for the worker's next cut.
    fn recycle(&self, worker: usize, flash: NorFlash) {
        if let Ok(mut v) = self.spares[worker % self.spares.len()].lock() {
            if v.len() < 2 {
                v.push(flash);
            }
        }
    }

    /// The recovery from `flash`, whose [`NorFlash::state_hash`] is `state` (the caller's: the
    /// journal records it as the post-cut state; hashing the same flash twice cost a second hash).
    fn recover(
        &self,
        worker: usize,
        flash: NorFlash,
        state: u64,
        rules: &RecoveryRules,
        torn: Option<TornProgram>,
    ) -> Recovered {
        debug_assert_eq!(state, flash.state_hash());
        let key = (state, rules.retrigger_on.is_some(), rules.reset_after);
        let kept = self.recovered.lock().ok().and_then(|mut m| m.get(&key));
        if let Some(k) = kept {
            let dump = k.dump.upgrade().and_then(|base| match k.patch.clone() {
                None => Some(Dump::whole(base)),
                Some((at, bytes)) => Dump::patched(base, at, bytes),
            });
            if let Some(dump) = dump {
                self.recycle(worker, flash);
                let rec = Recovered {
                    console: k.console,
                    dump,
                    hashes: k.hashes,
                    final_state: k.final_state,
                    retriggered: k.retriggered,
                    reset_from: k.reset_from,
                    weak: k.weak,
                    outside: k.outside,
                };
                return rec;
            }
            // Its dump is gone: simulated again.
            let (rec, used, _) = self.recover_uncached(flash, rules, true, torn);
            self.recycle(worker, used);
            if let Ok(mut m) = self.recovered.lock() {
                m.replace(key, keep(&rec));
            }
            return rec;
        }
        let rules_key = (key.1, key.2);
        let mut flash = flash;
        let sketch = if self.memo {
            if let Some(rec) = self.donor_for(&flash, rules_key) {
                // A different post-cut state, recovered alike: kept under its own state, as a
                // simulated one is.
                self.recycle(worker, flash);
                self.equivalent_recoveries.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut m) = self.recovered.lock() {
                    m.insert(key, keep(&rec));
                }
                return rec;
            }
            flash.watch_start();
            Some(flash.sketch())
        } else {
            None
        };
        let (rec, mut used, passed) = self.recover_uncached(flash, rules, true, torn);
        let end_watch = used.watch_marks();
        let ignore = used.watch_end();
        if !passed.points.is_empty() && end_watch.is_some() {
            let final_hashes = rec.hashes.clone().filter(|_| self.torn_joins_possible());
            if let Ok(mut t) = self.joins.lock() {
                t.keep(JoinRun {
                    rec: rec.clone(),
                    points: passed.points,
                    end_watch,
                    budget: passed.budget,
                    touches: passed.touches,
                    final_hashes,
                });
            }
        }
        self.recycle(worker, used);
        if let (Some(sketch), Some(ignore)) = (sketch, ignore) {
            self.keep_donor(sketch, ignore, rules_key, &rec);
        }
        if let Ok(mut m) = self.recovered.lock() {
            m.insert(key, keep(&rec));
        }
        rec
    }

    /// Powers the board on after the cut and lets it recover, re-triggering a reverted update once.
    /// The dump of `flash`, shared with every earlier recovery that ended in the same state.
    fn shared_dump(&self, flash: &NorFlash, state: u64) -> Arc<Vec<u8>> {
        if let Some(d) = self.dumps.lock().ok().and_then(|mut m| m.get(&state)) {
            return d;
        }
        let d = self.dump(flash);
        if let Ok(mut m) = self.dumps.lock() {
            m.insert(state, d.clone());
        }
        d
    }

    /// The guarded parts `guarded` that read differently on `flash` than at the baseline. The
    /// simulated flash holds its bytes in memory: each part is compared whole, byte for byte
    /// (a few tens of KiB per recovery; the baseline fills them, so an erase shows).
    fn outside_changes(&self, flash: &NorFlash, guarded: &[Guarded]) -> Vec<OutsideChange> {
        if guarded.is_empty() {
            return Vec::new();
        }
        // The baseline every run starts from (the recording's; it is made before any cut).
        let rec = self.recording().ok();
        let made;
        let baseline = match &rec {
            Some(r) => &r.baseline,
            None => {
                made = self.scenario.baseline_flash();
                &made
            }
        };
        let (before, after) = (baseline.raw(), flash.raw());
        guarded
            .iter()
            .filter_map(|g| {
                let r = g.range.start as usize..g.range.end as usize;
                let (b, a) = (before.get(r.clone())?, after.get(r)?);
                OutsideChange::between(g, b, a)
            })
            .collect()
    }

    /// Powers the board on after the cut and lets it recover. With `memo`, a re-triggered
    /// update (a whole update again, from the state the revert left, which many recoveries
    /// reach) is served from the first run that started from that state (see [`PowerOn`]).
    /// A recovery's first run may join an earlier recovery at a rest point (see
    /// [`crate::rest_points`]), with `memo`, also with the program its cut tore (`torn`) left
    /// as it is; the rest points it passed before are returned, for the table.
    fn recover_uncached(
        &self,
        flash: NorFlash,
        rules: &RecoveryRules,
        memo: bool,
        torn: Option<TornProgram>,
    ) -> (Recovered, NorFlash, Passes) {
        let mut board = SimBoard::new(flash, self.scenario.firmware(), Some(self.scenario.update()))
            .with_crypto(self.crypto.clone());
        let opts = RunOptions {
            max_boots: self.max_boots,
            ..RunOptions::default()
        };
        let salt = u64::from(rules.retrigger_on.is_some()) | u64::from(rules.reset_after) << 1;
        let torn = torn.filter(|t| self.torn_join_allowed(&t.range(), rules));
        let mut joining = (memo && self.memo).then(|| Joining::new(&self.joins, salt, torn));
        let first = match joining.as_mut() {
            Some(j) => self.device_joining(&mut board, opts, j),
            None => self.device(&mut board, opts),
        };
        let (joined, passed) = joining.map_or((None, Vec::new()), |j| (j.joined, j.passed));
        if let Some(join) = joined {
            let rec = self.joined(&mut board.flash, &first.console, &join);
            cutpoint_sim::board::recycle_ops(first.ops);
            return (rec, board.flash, Passes::default());
        }
        let mut first = first;
        // The operations of the runs this recovery simulated itself, for the budget of its
        // rest points, and the ranges they touched.
        let mut runs = vec![(
            std::mem::take(&mut first.ops),
            std::mem::take(&mut first.budget_refusals),
        )];
        let mut touches = Some(std::mem::take(&mut first.touches));
        let mut log = outcome(first);
        let mut console = lines(&log.console);
        // Where the console's last run ended; a later run starts a second after it.
        let mut end_us = log.duration_us;
        let mut retriggered = false;
        if let (Some(re), false) = (&rules.retrigger_on, self.scenario.bad_update) {
            if console.last().is_some_and(|l| re.is_match(&l.text)) {
                if let Some(u) = board.update.as_mut() {
                    u.retry = true;
                }
                let offset = end_us + 1_000_000;
                log = self.power_on(&mut board, opts, memo);
                append(&mut console, &log.console, offset);
                end_us = offset + log.duration_us;
                retriggered = true;
                // Maybe served from an earlier run: what it did is not known here.
                runs.clear();
                touches = None;
            }
        }
        let mut reset_from = None;
        if rules.reset_after && log.end == RunEnd::Idle {
            // A plain reset: the server offers the same update, but does not ask again.
            if let Some(u) = board.update.as_mut() {
                u.retry = false;
            }
            let offset = end_us + 1_000_000;
            reset_from = Some(console.len());
            // Not served from an earlier one: this run only boots and idles, cheaper than
            // keying the state it starts from (measured on the exhaustive campaign).
            let mut reset = self.device_joining(&mut board, opts, &mut NoJoin);
            append(&mut console, &reset.console, offset);
            if !runs.is_empty() {
                runs.push((
                    std::mem::take(&mut reset.ops),
                    std::mem::take(&mut reset.budget_refusals),
                ));
            }
            if let Some(t) = touches.as_mut() {
                t.append(&mut reset.touches);
            }
            cutpoint_sim::board::recycle_ops(reset.ops);
        }
        let budget = (!passed.is_empty() && !runs.is_empty()).then(|| Budget::of(&runs, &passed, &board.flash));
        for (ops, _) in runs {
            cutpoint_sim::board::recycle_ops(ops);
        }
        // The dump and its decoding depend only on the bytes of the dumped range: keyed by
        // them (the program counts of the whole part, which `state_hash` adds, change nothing
        // a dump shows).
        let (start, end) = self.dump_range();
        let hashes = board.flash.sector_hashes(start, end.saturating_sub(start));
        let final_hash = hashes.as_ref().map_or_else(
            || board.flash.state_hash(),
            |h| cutpoint_sim::flash::bytes_key_of(start, end.saturating_sub(start), h),
        );
        let rec = Recovered {
            outside: Arc::new(self.outside_changes(&board.flash, &rules.outside)),
            weak: Arc::new(board.flash.weak_bits_in(start..end)),
            console: Arc::new(console),
            dump: Dump::whole(self.shared_dump(&board.flash, final_hash)),
            hashes: hashes.filter(|_| self.dump_keys_possible()).map(Arc::new),
            final_state: format!("{final_hash:016x}"),
            retriggered,
            reset_from,
        };
        (
            rec,
            board.flash,
            Passes {
                points: passed,
                budget,
                touches,
            },
        )
    }

    /// Whether a recovery may join a kept one with the program its cut tore left as it is
    /// (see [`TornProgram`]): the final state of such a recovery is the kept one's with the
    /// torn range as the cut left it, which needs the dumped range in whole sectors of the
    /// flash's hashes.
    fn torn_joins_possible(&self) -> bool {
        let (start, end) = self.dump_range();
        let unit = self.hash_unit();
        start < end && start.is_multiple_of(unit) && end.is_multiple_of(unit)
    }

    /// Whether the flash's sector hashes key the dump (see [`cutpoint_inspect::DumpKeys`]): it
    /// starts on a sector (the last may run past its end).
    fn dump_keys_possible(&self) -> bool {
        let (start, end) = self.dump_range();
        start < end && start.is_multiple_of(self.hash_unit())
    }

    /// The dump's keys from the flash's hashes of its sectors.
    fn dump_keys(&self, hashes: Option<&Arc<Vec<u64>>>) -> Option<cutpoint_inspect::DumpKeys> {
        cutpoint_inspect::DumpKeys::new(self.hash_unit(), hashes?.clone())
    }

    /// The unit of the flash's sector hashes (see `NorFlash::bytes_key_with`).
    fn hash_unit(&self) -> u32 {
        *self
            .hash_unit
            .get_or_init(|| self.scenario.baseline_flash().hash_unit())
    }

    /// Whether a recovery whose cut tore a program over `range` may join a kept one with the
    /// torn program as it is: the range is dumped (its bytes are patched into the kept dump)
    /// and no guarded part outside the slots overlaps it (their changes are the kept run's).
    fn torn_join_allowed(&self, range: &std::ops::Range<u32>, rules: &RecoveryRules) -> bool {
        let (start, end) = self.dump_range();
        self.torn_joins_possible()
            && start <= range.start
            && range.end <= end
            && rules
                .outside
                .iter()
                .all(|g| g.range.end <= range.start || g.range.start >= range.end)
    }

    /// The recovery `earlier` ended in, with `flash`'s bytes of `torn` (the program its cut
    /// tore, which the course it joins never touched) in place of the completed program's:
    /// its dump, final state and weak bits.
    fn with_torn_program(
        &self,
        flash: &NorFlash,
        earlier: &Recovered,
        hashes: &[u64],
        torn: &std::ops::Range<u32>,
    ) -> Recovered {
        let (start, end) = self.dump_range();
        let at = (torn.start - start) as usize..(torn.end - start) as usize;
        let from = flash.raw().get(torn.start as usize..torn.end as usize);
        // `torn_join_allowed` checked that the torn range is dumped, and the dumped range in
        // whole sectors: the earlier dump is shared, the torn bytes laid over it, and only the
        // hashes of the sectors they fall in are taken anew.
        let unit = self.hash_unit() as usize;
        let patched = match (earlier.dump.parts(), from) {
            ((base, None), Some(from)) if hashes.len() * unit == base.len() => {
                Dump::patched(base.clone(), at.start, Arc::from(from)).map(|dump| {
                    let mut hashes = hashes.to_vec();
                    let first = start as usize / unit;
                    let touched = at.start / unit..at.end.div_ceil(unit);
                    for (k, h) in hashes.iter_mut().enumerate().take(touched.end).skip(touched.start) {
                        let span = k * unit..(k + 1) * unit;
                        let mut sector = base[span.clone()].to_vec();
                        let (lo, hi) = (at.start.max(span.start), at.end.min(span.end));
                        sector[lo - span.start..hi - span.start].copy_from_slice(&from[lo - at.start..hi - at.start]);
                        *h = flash.sector_hash_of(first + k, &sector);
                    }
                    (dump, hashes)
                })
            }
            _ => None,
        };
        let (dump, hashes, final_hash) = match patched {
            Some((dump, hashes)) => {
                let key = cutpoint_sim::flash::bytes_key_of(start, end - start, &hashes);
                (dump, Some(hashes), key)
            }
            None => {
                // Laid out whole (not reached while the checks above hold).
                let mut bytes = earlier.dump.to_vec();
                if let (Some(to), Some(from)) = (bytes.get_mut(at.clone()), from) {
                    to.copy_from_slice(from);
                }
                let hashes = flash.sector_hashes_with(start, &bytes, hashes, &at);
                let key = hashes.as_ref().map_or_else(
                    || flash.state_hash(),
                    |h| cutpoint_sim::flash::bytes_key_of(start, end - start, h),
                );
                (Dump::whole(Arc::new(bytes)), hashes, key)
            }
        };
        Recovered {
            dump,
            hashes: hashes.map(Arc::new),
            final_state: format!("{final_hash:016x}"),
            weak: Arc::new(flash.weak_bits_in(start..end)),
            ..earlier.clone()
        }
    }

    /// The recovery whose first run, `console` so far, stopped at a rest point where it joined
    /// an earlier recovery: this run's lines up to there, then the earlier recovery's from
    /// there on, shifted to this run's time; its final flash and what follows are the earlier
    /// recovery's. `flash`'s watch learns what the joined course did to each block.
    fn joined(&self, flash: &mut NorFlash, console: &[ConsoleLine], join: &Join<Recovered>) -> Recovered {
        let (there, here) = (join.point(), &join.here);
        flash.watch_join(there.watch.as_ref(), join.run.end_watch.as_ref());
        let patched;
        let earlier = match (&join.torn, &join.run.final_hashes) {
            (Some(torn), Some(hashes)) => {
                self.joined_torn.fetch_add(1, Ordering::Relaxed);
                patched = self.with_torn_program(flash, &join.run.rec, hashes, torn);
                &patched
            }
            _ => &join.run.rec,
        };
        let mut lines = lines(console.get(..here.lines).unwrap_or(console));
        let rest = earlier.console.get(there.lines..).unwrap_or(&[]);
        lines.extend(rest.iter().map(|l| LogLine {
            t_us: l.t_us.wrapping_sub(there.t_us).wrapping_add(here.t_us),
            text: l.text.clone(),
        }));
        self.joined_recoveries.fetch_add(1, Ordering::Relaxed);
        Recovered {
            console: Arc::new(lines),
            reset_from: earlier
                .reset_from
                .map(|r| r.saturating_sub(there.lines).saturating_add(here.lines)),
            ..earlier.clone()
        }
    }
}

/// The rest points a recovery passed, and what its course from each asks of the program
/// counts (see [`crate::rest_points`]).
#[derive(Debug, Default)]
struct Passes {
    points: Vec<Passed>,
    budget: Option<Budget>,
    touches: Option<Vec<(u32, u32)>>,
}

/// What a recovery reads of a run from a power-on (its operation records go back to the pool).
fn outcome(log: RunLog) -> RunOutcome {
    cutpoint_sim::board::recycle_ops(log.ops);
    RunOutcome {
        console: Arc::new(log.console),
        end: log.end,
        duration_us: log.duration_us,
        after: None,
    }
}

/// The simulated flash knows its weak bits: the answer is exact, no read is compared.
fn stability(rules: &RecoveryRules, weak: &[(u32, u8)]) -> Stability {
    match &rules.stability {
        None => Stability::NotChecked,
        Some(scan) => Stability::Scanned {
            reads: None,
            unstable: weak
                .iter()
                .filter(|(a, _)| scan.areas.iter().any(|r| r.contains(a)))
                .map(|&(addr, mask)| UnstableByte { addr, mask })
                .collect(),
        },
    }
}

/// The simulated flash is compared with its baseline exactly.
fn outside(rules: &RecoveryRules, changes: &[OutsideChange]) -> Outside {
    if rules.outside.is_empty() {
        Outside::NotChecked
    } else {
        Outside::Scanned(changes.to_vec())
    }
}

/// A recovery as the cache keeps it (see [`KeptRecovery`]).
fn keep(rec: &Recovered) -> KeptRecovery {
    KeptRecovery {
        console: rec.console.clone(),
        dump: Arc::downgrade(rec.dump.parts().0),
        patch: rec.dump.parts().1.cloned(),
        hashes: rec.hashes.clone(),
        final_state: rec.final_state.clone(),
        retriggered: rec.retriggered,
        reset_from: rec.reset_from,
        weak: rec.weak.clone(),
        outside: rec.outside.clone(),
    }
}

/// Appends a later run's console, its times shifted by `offset`.
fn append(console: &mut Vec<LogLine>, later: &[ConsoleLine], offset: u64) {
    console.extend(later.iter().map(|l| LogLine {
        t_us: offset + l.t_us,
        text: l.text.clone(),
    }));
}

fn poisoned() -> RigError {
    RigError::new("sim", RigErrorKind::Io, "a worker of the simulated board panicked")
}

fn lines(console: &[ConsoleLine]) -> Vec<LogLine> {
    console
        .iter()
        .map(|l| LogLine {
            t_us: l.t_us,
            text: l.text.clone(),
        })
        .collect()
}

fn describe_op(r: &OpRecord) -> String {
    format!("#{} {} {:#x}+{} @{}us", r.index, r.kind, r.addr, r.len, r.start_us)
}

/// Where on its operation a cut fell.
fn op_point(record: &CutRecord) -> OpRelation {
    match record.requested {
        CutAt::Op {
            point: point @ (OpPoint::Before | OpPoint::After),
            ..
        } => point.into(),
        // A watchdog reset lets the operation in flight finish first.
        _ if record.kind == FaultKind::Reset => OpRelation::After,
        _ => OpRelation::Inside,
    }
}

fn requested_us(at: &CutAt) -> Option<u64> {
    match at {
        CutAt::Time { us } => Some(*us),
        _ => None,
    }
}

fn landing(record: &CutRecord, ops: &[OpRecord]) -> Landing {
    let op = record
        .op_index
        .and_then(|i| ops.get(i as usize))
        .or(record.unstarted_op.as_ref());
    Landing {
        fault: record.kind.into(),
        requested_us: requested_us(&record.requested),
        actual_us: record.actual_us,
        op: op.map(describe_op),
        op_point: op.map(|_| op_point(record)),
        torn: record.torn.as_ref().map(|t| t.to_string()),
    }
}

fn live_landing(log: &RunLog, plan: &CutPlan) -> Landing {
    match &log.cut {
        Some(record) => landing(record, &log.ops),
        None => Landing {
            fault: plan.kind.into(),
            requested_us: requested_us(&plan.at),
            actual_us: log.duration_us,
            op: None,
            op_point: None,
            torn: Some(format!("the fault never fired: the run ended ({:?}) first", log.end)),
        },
    }
}

/// A cut point re-run from power-on without any shortcut, for `cutpoint replay`.
pub struct LiveReplay {
    /// Console of the faulted runs, up to each cut.
    pub faulted_console: Vec<LogLine>,
    pub observation: Observation,
}

impl SimTarget {
    /// Powers the board on from `flash` and runs it until the cut at `point` fires.
    fn cut_live(&self, flash: NorFlash, point: &CutPoint) -> (NorFlash, RunLog, Landing) {
        let plan = self.plan(point);
        let mut board = SimBoard::new(flash, self.scenario.firmware(), Some(self.scenario.update()))
            .with_crypto(self.crypto.clone());
        let log = self.device(
            &mut board,
            RunOptions {
                plan: Some(plan),
                max_boots: self.max_boots,
                record_data: false,
            },
        );
        let landing = live_landing(&log, &plan);
        (board.flash, log, landing)
    }

    /// Runs the chain live from the baseline (no journal, no shared recoveries).
    pub fn replay_live(&self, chain: &[&CutPoint], rules: &RecoveryRules) -> LiveReplay {
        let mut flash = self.scenario.baseline_flash();
        let mut faulted_console = Vec::new();
        let mut landings = Vec::new();
        let mut later = LaterCuts::default();
        for (i, point) in chain.iter().enumerate() {
            let (after, log, landing) = self.cut_live(flash, point);
            if i > 0 {
                later.saw(&log, &landing, rules);
            }
            faulted_console.extend(lines(&log.console));
            landings.push(landing);
            flash = after;
        }
        let post_cut_state = Some(format!("{:016x}", flash.state_hash()));
        let booted_slot = self.pick_after_cut(&flash);
        let (rec, ..) = self.recover_uncached(flash, rules, false, None);
        LiveReplay {
            faulted_console,
            observation: Observation {
                landings,
                console: rec.console.as_ref().clone(),
                dump_keys: self.dump_keys(rec.hashes.as_ref()),
                dump: rec.dump,
                dump_base: self.dump_range().0,
                post_cut_state,
                final_state: Some(rec.final_state),
                committed: later.committed.then_some(true),
                retriggered: rec.retriggered,
                unfired: later.unfired,
                reset_from: rec.reset_from,
                stability: stability(rules, &rec.weak),
                booted_slot,
                outside: outside(rules, &rec.outside),
            },
        }
    }
}

impl Target for SimTarget {
    fn describe(&self) -> String {
        format!(
            "simulated {} ({} {}, variant {})",
            self.scenario.profile.name,
            self.scenario.profile.flash.name,
            fut::boot::effective_mode(&self.scenario.firmware().boot).name(),
            self.scenario.variant.name()
        )
    }

    fn workers(&self) -> usize {
        self.cursors.len()
    }

    fn device_cpu_ns(&self) -> u64 {
        self.device_ns.load(Ordering::Relaxed)
    }

    fn control(&self) -> Result<ControlObservation, RigError> {
        let rec = self.recording()?;
        let mut board = SimBoard::new(rec.baseline.clone(), self.scenario.firmware(), None);
        for r in &rec.log.ops {
            if let (Some(op), false) = (&r.op, r.dropped) {
                let _ = board.flash.apply(op);
            }
        }
        Ok(ControlObservation {
            console: lines(&rec.log.console),
            ops: Some(op_spans(&rec.log.ops, &region_map(&self.scenario.profile.layout))),
            dump: self.dump(&board.flash),
            dump_base: self.dump_range().0,
            // Each cut point's flash is compared with the baseline's fill instead.
            outside: Outside::NotChecked,
        })
    }

    fn reference_control(&self, max_boots: u32) -> Option<Result<ControlObservation, RigError>> {
        let scenario = self.scenario.clone().with_variant(fut::Variant::Reference);
        Some(SimTarget::new(scenario, self.fault, max_boots, 1).control())
    }

    fn run_chain(
        &self,
        worker: usize,
        _id: &str,
        chain: &[&CutPoint],
        rules: &RecoveryRules,
    ) -> Result<Observation, RigError> {
        let (first, rest) = split_chain(chain)?;
        let (mut flash, first_landing, torn) = if rest.is_empty() || !self.memo {
            self.first_cut_torn(worker, &self.plan(first))?
        } else {
            let (flash, landing) = self.shared_first_cut(worker, &self.plan(first))?;
            (flash, landing, None)
        };
        let mut landings = vec![first_landing];
        let mut later = LaterCuts::default();
        for point in rest {
            if let Some((after, landing)) = self.cut_recorded(worker, &flash, point, rules, &mut later) {
                landings.push(landing);
                self.recycle(worker, std::mem::replace(&mut flash, after));
                continue;
            }
            let (after, log, landing) = self.cut_live(flash, point);
            later.saw(&log, &landing, rules);
            landings.push(landing);
            flash = after;
        }
        let state = flash.state_hash();
        let post_cut_state = Some(format!("{state:016x}"));
        let booted_slot = self.pick_after_cut(&flash);
        // A torn program is of use only when the post-cut state is the first cut's.
        let torn = torn.filter(|_| rest.is_empty());
        let rec = self.recover(worker, flash, state, rules, torn);
        Ok(Observation {
            landings,
            console: rec.console.as_ref().clone(),
            dump_keys: self.dump_keys(rec.hashes.as_ref()),
            dump: rec.dump,
            dump_base: self.dump_range().0,
            post_cut_state,
            final_state: Some(rec.final_state.clone()),
            committed: later.committed.then_some(true),
            retriggered: rec.retriggered,
            unfired: later.unfired,
            reset_from: rec.reset_from,
            stability: stability(rules, &rec.weak),
            booted_slot,
            outside: outside(rules, &rec.outside),
        })
    }

    /// The run after the chain's last cut, without a fault, exactly as the next cut's live run
    /// sees it up to its own cut: console and flash operations, counted from its power-on.
    fn recovery_timeline(
        &self,
        _id: &str,
        chain: &[&CutPoint],
        _rules: &RecoveryRules,
    ) -> Result<RecoveryTimeline, RigError> {
        let (first, rest) = split_chain(chain)?;
        let (mut flash, _) = self.first_cut(0, &self.plan(first))?;
        for point in rest {
            flash = self.cut_live(flash, point).0;
        }
        if self.memo && !flash.has_marginal_sectors() {
            // The same run the chain's next cuts will be forked from: recorded once for both.
            let rec = self.later_recording(&flash);
            return Ok(RecoveryTimeline {
                console: lines(&rec.log.console),
                ops: Some(op_spans(&rec.log.ops, &region_map(&self.scenario.profile.layout))),
            });
        }
        let mut board = SimBoard::new(flash, self.scenario.firmware(), Some(self.scenario.update()))
            .with_crypto(self.crypto.clone());
        let log = self.device(
            &mut board,
            RunOptions {
                max_boots: self.max_boots,
                ..RunOptions::default()
            },
        );
        Ok(RecoveryTimeline {
            console: lines(&log.console),
            ops: Some(op_spans(&log.ops, &region_map(&self.scenario.profile.layout))),
        })
    }
}

/// The first cut of a chain and the later ones.
fn split_chain<'c, 'p>(chain: &'c [&'p CutPoint]) -> Result<(&'p CutPoint, &'c [&'p CutPoint]), RigError> {
    chain
        .split_first()
        .map(|(first, rest)| (*first, rest))
        .ok_or_else(|| RigError::new("sim", RigErrorKind::Unsupported, "a cut chain needs at least one cut"))
}

/// What the runs a chain's later cuts interrupted showed. (The first cut's commit is judged
/// by the engine from the control run's timeline.)
#[derive(Default)]
struct LaterCuts {
    /// A later cut came after the update committed in the run it interrupted.
    committed: bool,
    /// A later cut never fired.
    unfired: bool,
}

impl LaterCuts {
    fn saw(&mut self, log: &RunLog, landing: &Landing, rules: &RecoveryRules) {
        self.saw_lines(log.cut.is_some(), log.console.iter(), landing.actual_us, rules);
    }

    /// A later cut that fired (or not) at `actual_us`, after the run printed `console`.
    fn saw_lines<'l>(
        &mut self,
        fired: bool,
        mut console: impl Iterator<Item = &'l ConsoleLine>,
        actual_us: u64,
        rules: &RecoveryRules,
    ) {
        if !fired {
            self.unfired = true;
        }
        if let Some(m) = &rules.commit {
            self.committed |= console.any(|l| l.t_us <= actual_us && m.matches(&l.text));
        }
    }
}

fn op_spans(ops: &[OpRecord], map: &RegionMap) -> Vec<OpSpan> {
    ops.iter()
        .map(|r| OpSpan {
            index: r.index,
            start_us: r.start_us,
            end_us: r.end_us,
            regions: RegionSet::touched_by(r.addr, r.len, map),
        })
        .collect()
}

/// The named regions of a layout: slots, scratch, and the trailer at the end of each.
pub fn region_map(l: &fut::layout::Layout) -> RegionMap {
    let range = |a: fut::layout::Area| a.offset..a.end();
    RegionMap::of_areas(range(l.primary), range(l.secondary), range(l.scratch), l.trailer_size())
}
