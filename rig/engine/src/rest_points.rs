//! Recoveries joined at a rest point.
//!
//! A swap's bootloader tells the board, before each region it copies, that everything it does
//! from there is decided by the flash and a few words it names (`fut::hal::Progress`). Two
//! recoveries that pass such a point with the same words and the same flash, in the same boot
//! of a power-on and with the same server, do the same from there on, shifted in time. A cut in
//! region 40 of a 250-region swap resumes there and, once region 40 is copied again, reaches
//! the flash that the recovery of a cut in region 39 reached at region 41: it stops there and
//! takes the rest of its course (console lines, final flash, later power-ons) from that
//! recovery. What a recovery simulates is then the work up to its first known rest point, not
//! the rest of the image.
//!
//! "The same flash" is the stored bytes and every anomaly. Program counts (how many times a
//! granule was programmed since its erase, on parts that limit it) often differ where nothing
//! will look: a status record the recovery programmed a second time to settle it. They decide
//! only whether a program is refused, so two states that differ only in counts are joined when
//! the earlier run's course from the rest point had no program refused, and every granule that
//! course programs before erasing it has the programs left for it in this run too
//! ([`Budget`]).
//!
//! The table keeps the rest points of the last few recoveries ([`JOIN_RUNS_KEPT`]); a campaign
//! runs its cut points in operation order, so the recovery a cut joins is one of the last.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use cutpoint_sim::board::OpRecord;
use cutpoint_sim::flash::{OpKind, WatchMarks};
use cutpoint_sim::{Joiner, NorFlash, RestPoint};

/// Recoveries whose rest points are kept.
pub const JOIN_RUNS_KEPT: usize = 8;

/// Budget checks a run tries before it joins only states equal in their counts too: one that
/// failed at a rest point usually fails at the next (the counts that differ stay), and each
/// costs the earlier run's remaining programs.
const BUDGET_TRIES: usize = 2;

/// A rest point a run passed.
#[derive(Debug, Clone)]
pub struct Passed {
    key: u64,
    loose_key: u64,
    /// Flash operations the run had started before it.
    ops: usize,
    /// Flash ranges the run had touched before it.
    touches: usize,
    /// When, since the run's power-on.
    pub t_us: u64,
    /// Console lines written before it.
    pub lines: usize,
    /// What the watched run had done to each block of the flash when it passed.
    pub watch: Option<WatchMarks>,
}

/// A program of a run that some rest point's course makes before it erases the blocks the
/// program touches: whether it is refused depends on the count of programs there.
#[derive(Debug, Clone, Copy)]
struct Program {
    /// Its index among the run's operations.
    at: usize,
    /// The index of the last erase of one of its blocks before it, if any.
    since: Option<usize>,
    addr: u32,
    len: u32,
}

/// What a run's course from each of its rest points asks of the program counts: the programs
/// into granules not erased since the rest point, and where a program was refused.
#[derive(Debug, Default)]
pub struct Budget {
    programs: Vec<Program>,
    last_refusal: Option<usize>,
}

impl Budget {
    /// The budget of a recovery whose runs from a power-on (the first, where the rest points
    /// are, then the later ones) made the operations `runs` hold, with programs refused for
    /// want of programs where the second of each pair says. `flash` names the blocks.
    pub fn of(runs: &[(Vec<OpRecord>, Vec<usize>)], points: &[Passed], flash: &NorFlash) -> Self {
        let mut last_erase: HashMap<usize, usize> = HashMap::new();
        let mut programs = Vec::new();
        let mut last_refusal = None;
        let mut base = 0;
        let ops = runs.iter().flat_map(|(ops, _)| ops);
        for (ops, refusals) in runs {
            if let Some(r) = refusals.iter().max() {
                last_refusal = Some(base + r);
            }
            base += ops.len();
        }
        for (at, op) in ops.enumerate() {
            let blocks = flash.blocks_touched(op.addr, op.len);
            if op.kind == OpKind::Erase {
                for b in blocks {
                    last_erase.insert(b, at);
                }
                continue;
            }
            // The earliest of its blocks' last erases: granules after it may carry counts from
            // before any rest point after it.
            let since = blocks.map(|b| last_erase.get(&b).copied()).min().flatten();
            let first_point_after = points.partition_point(|p| since.is_some_and(|e| p.ops <= e));
            if points.get(first_point_after).is_some_and(|p| p.ops <= at) {
                programs.push(Program {
                    at,
                    since,
                    addr: op.addr,
                    len: op.len,
                });
            }
        }
        Budget { programs, last_refusal }
    }

    /// Whether a run at a rest point passed at operation `from` by the run this budget is of,
    /// with `flash` equal to that run's there except maybe in program counts, does the same
    /// from there: that run's course had no program refused, and `flash` has the programs left
    /// for every program of that course into a granule not erased since.
    fn allows(&self, from: usize, flash: &NorFlash) -> bool {
        if self.last_refusal.is_some_and(|r| r >= from) {
            return false;
        }
        let mut due: Vec<(u32, u32)> = self
            .programs
            .iter()
            .filter(|p| p.at >= from && p.since.is_none_or(|e| e < from))
            .map(|p| (p.addr, p.addr.saturating_add(p.len)))
            .collect();
        due.sort_unstable();
        // How many of the due programs overlap each: a granule programmed twice needs two.
        let mut times = vec![1u32; due.len()];
        for i in 0..due.len() {
            for j in i + 1..due.len() {
                if due[j].0 >= due[i].1 {
                    break;
                }
                times[i] += 1;
                times[j] += 1;
            }
        }
        due.iter()
            .zip(times)
            .all(|(&(start, end), n)| flash.program_budget_allows(start, end - start, n))
    }
}

/// A finished recovery, its rest points and what it had done to each block by its end.
#[derive(Debug)]
pub struct JoinRun<R> {
    pub rec: R,
    pub points: Vec<Passed>,
    pub end_watch: Option<WatchMarks>,
    /// `None` when a run joins it only at a state equal in its program counts too (its course
    /// went on past the run whose operations the budget knows: a later power-on).
    pub budget: Option<Budget>,
    /// Every range of the flash its runs touched, in order (`None` when not all are known): a
    /// run whose torn program the course from a rest point never touches joins it there.
    pub touches: Option<Vec<(u32, u32)>>,
    /// The hashes of the sectors of the dumped range after it (see
    /// `NorFlash::bytes_key_with`), for the final state of a run that joins it with its torn
    /// program left as the cut left it.
    pub final_hashes: Option<std::sync::Arc<Vec<u64>>>,
}

impl<R> JoinRun<R> {
    /// Whether the course of this run from the rest point at which it had touched `from`
    /// ranges never touched `range`.
    fn never_touches_after(&self, from: usize, range: &Range<u32>) -> bool {
        let Some(touches) = &self.touches else {
            return false;
        };
        touches.get(from..).is_some_and(|after| {
            after
                .iter()
                .all(|&(a, len)| a.saturating_add(len) <= range.start || a >= range.end)
        })
    }
}

/// The program a cut tore in the post-cut state a recovery starts from: with it completed, a
/// state holding the weak bits it left draws nothing, and a run in it may join a kept run that
/// never touches its range.
#[derive(Debug, Clone)]
pub struct TornProgram {
    pub addr: u32,
    pub data: Vec<u8>,
}

impl TornProgram {
    pub fn range(&self) -> Range<u32> {
        self.addr..self.addr.saturating_add(self.data.len() as u32)
    }
}

/// Where a run joined an earlier one: `run`'s rest point `at`, passed by this run as `here`;
/// `torn`, the range of the torn program this run's flash holds where that run's held the
/// completed one, when the states differed there.
#[derive(Debug)]
pub struct Join<R> {
    pub run: Arc<JoinRun<R>>,
    pub at: usize,
    pub here: Passed,
    pub torn: Option<Range<u32>>,
}

impl<R> Join<R> {
    /// The earlier run's rest point this run joined.
    pub fn point(&self) -> &Passed {
        &self.run.points[self.at]
    }
}

/// The rest points of the last recoveries, by loose key.
#[derive(Debug)]
pub struct JoinTable<R> {
    by_key: HashMap<u64, (Arc<JoinRun<R>>, usize)>,
    runs: VecDeque<Arc<JoinRun<R>>>,
    limit: usize,
}

impl<R> JoinTable<R> {
    pub fn new(limit: usize) -> Self {
        JoinTable {
            by_key: HashMap::new(),
            runs: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    fn find(&self, loose_key: u64) -> Option<(Arc<JoinRun<R>>, usize)> {
        self.by_key.get(&loose_key).map(|(run, at)| (run.clone(), *at))
    }

    /// Keeps `run`'s rest points, forgetting the oldest run's when full. A key kept already
    /// moves to `run`, which is kept longer.
    pub fn keep(&mut self, run: JoinRun<R>) {
        if run.points.is_empty() {
            return;
        }
        if self.runs.len() >= self.limit {
            if let Some(old) = self.runs.pop_front() {
                for p in &old.points {
                    if self.by_key.get(&p.loose_key).is_some_and(|(r, _)| Arc::ptr_eq(r, &old)) {
                        self.by_key.remove(&p.loose_key);
                    }
                }
            }
        }
        let run = Arc::new(run);
        for (i, p) in run.points.iter().enumerate() {
            self.by_key.insert(p.loose_key, (run.clone(), i));
        }
        self.runs.push_back(run);
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// The joiner of one recovery's first run: stops it at the first rest point where it does what
/// a kept run did, and notes the others it passes. `salt` keys what the run's course depends on
/// beyond the board (the recovery's rules).
pub struct Joining<'t, R> {
    table: &'t Mutex<JoinTable<R>>,
    salt: u64,
    /// The program the cut tore, when a run with it completed may be joined (see
    /// [`TornProgram`]).
    torn: Option<TornProgram>,
    budget_tries: usize,
    pub passed: Vec<Passed>,
    pub joined: Option<Join<R>>,
}

impl<'t, R> Joining<'t, R> {
    pub fn new(table: &'t Mutex<JoinTable<R>>, salt: u64, torn: Option<TornProgram>) -> Self {
        Joining {
            table,
            salt,
            torn,
            budget_tries: 0,
            passed: Vec::new(),
            joined: None,
        }
    }

    fn salted(&self, key: u64, flash_key: u64) -> u64 {
        let k = key ^ self.salt.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (k ^ flash_key.wrapping_mul(0xff51_afd7_ed55_8ccd)).rotate_left(29)
    }
}

impl<R> Joiner for Joining<'_, R> {
    fn at_rest(&mut self, point: &RestPoint<'_>) -> bool {
        let flash = point.flash;
        // The flash's keys; with weak bits, those of the state with the torn program completed,
        // when they are all its own.
        let (loose, strict, torn) = if !flash.may_draw() {
            (flash.bytes_and_anomalies_key(), flash.memo_key(), None)
        } else {
            match self
                .torn
                .as_ref()
                .and_then(|t| Some((flash.keys_if_completed(t.addr, &t.data)?, t.range())))
            {
                Some(((loose, strict), range)) => (loose, strict, Some(range)),
                None => return false,
            }
        };
        let loose_key = self.salted(point.key, loose);
        let here = Passed {
            key: self.salted(loose_key, strict),
            loose_key,
            ops: point.ops,
            touches: point.touches,
            t_us: point.t_us,
            lines: point.lines,
            watch: flash.watch_marks(),
        };
        let found = self.table.lock().ok().and_then(|t| t.find(here.loose_key));
        if let Some((run, at)) = found {
            let there = &run.points[at];
            let untouched = match &torn {
                Some(range) => run.final_hashes.is_some() && run.never_touches_after(there.touches, range),
                None => true,
            };
            let alike = untouched
                && (there.key == here.key
                    || match &run.budget {
                        Some(b) if self.budget_tries < BUDGET_TRIES => {
                            self.budget_tries += 1;
                            b.allows(there.ops, flash)
                        }
                        _ => false,
                    });
            if alike {
                self.joined = Some(Join { run, at, here, torn });
                return true;
            }
        }
        // A rest point passed with a torn program is this run's own: no later run joins it
        // there (its keys are of another state).
        if torn.is_none() {
            self.passed.push(here);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passed(loose_key: u64) -> Passed {
        Passed {
            key: loose_key,
            loose_key,
            ops: 0,
            touches: 0,
            t_us: 0,
            lines: 0,
            watch: None,
        }
    }

    fn run(rec: &'static str, keys: &[u64]) -> JoinRun<&'static str> {
        JoinRun {
            rec,
            points: keys.iter().map(|&k| passed(k)).collect(),
            end_watch: None,
            budget: None,
            touches: None,
            final_hashes: None,
        }
    }

    fn op(kind: OpKind, addr: u32, len: u32) -> OpRecord {
        OpRecord {
            index: 0,
            kind,
            addr,
            len,
            start_us: 0,
            end_us: 0,
            dropped: false,
            op: None,
        }
    }

    #[test]
    fn a_budget_asks_for_the_programs_a_course_makes_before_it_erases() {
        let mut flash = NorFlash::new(cutpoint_sim::FlashProfile::nrf52840(), 1);
        let sector = flash.profile().sector_size;
        let at = |ops| Passed { ops, ..passed(0) };
        let ops = vec![
            op(OpKind::Erase, sector, sector),
            op(OpKind::Program, sector, 4),
            op(OpKind::Program, 64, 4),
            // The rest point: 3 operations before it.
            op(OpKind::Program, 68, 4),
            op(OpKind::Erase, sector, sector),
            op(OpKind::Program, sector, 4),
            op(OpKind::Program, 64, 4),
        ];
        let budget = Budget::of(&[(ops.clone(), Vec::new())], &[at(3)], &flash);
        // Only the programs after the rest point into granules not erased since: 68 and 64.
        let due: Vec<u32> = budget.programs.iter().map(|p| p.addr).collect();
        assert_eq!(due, [68, 64]);
        assert!(budget.allows(3, &flash));
        let program = |f: &mut NorFlash, addr| {
            f.apply(&cutpoint_sim::flash::FlashOp::Program { addr, data: vec![0; 4] })
                .unwrap()
        };
        program(&mut flash, 64);
        assert!(budget.allows(3, &flash), "one program left at 64");
        program(&mut flash, 64);
        assert!(!budget.allows(3, &flash), "none left at 64");
        // A block erased after the rest point needs nothing before its erase is counted anew.
        let mut clean = NorFlash::new(cutpoint_sim::FlashProfile::nrf52840(), 1);
        program(&mut clean, sector);
        program(&mut clean, sector);
        assert!(budget.allows(3, &clean));
        // Two programs of one granule after the rest point need two.
        let twice = vec![op(OpKind::Program, 64, 4), op(OpKind::Program, 64, 4)];
        let budget = Budget::of(&[(twice, Vec::new())], &[at(0)], &clean);
        program(&mut clean, 64);
        assert!(!budget.allows(0, &clean));
        // A refusal after the rest point in the earlier run: its course is not this one's.
        let refused = Budget::of(
            &[(ops, vec![5])],
            &[at(3)],
            &NorFlash::new(cutpoint_sim::FlashProfile::nrf52840(), 1),
        );
        assert!(!refused.allows(3, &NorFlash::new(cutpoint_sim::FlashProfile::nrf52840(), 1)));
    }

    #[test]
    fn a_full_table_forgets_the_oldest_run_but_not_a_key_a_newer_run_holds() {
        let mut t = JoinTable::new(2);
        t.keep(run("a", &[1, 2]));
        t.keep(run("b", &[2, 3]));
        assert_eq!(
            t.find(2).map(|(r, at)| (r.rec, at)),
            Some(("b", 0)),
            "the newer run holds the key"
        );
        t.keep(run("c", &[4]));
        assert!(t.find(1).is_none(), "the oldest run is forgotten");
        assert_eq!(
            t.find(2).map(|(r, at)| (r.rec, at)),
            Some(("b", 0)),
            "a key a newer run holds stays"
        );
        assert_eq!(t.find(3).map(|(r, at)| (r.rec, at)), Some(("b", 1)));
        assert_eq!(t.find(4).map(|(r, _)| r.rec), Some("c"));
        assert_eq!(t.len(), 3);
    }
}
