//! The reports' view of a campaign without its results in memory: every cut point in planned
//! order with how it ended (a byte) and where its whole result is (a journal file and offset), plus
//! the few totals the reports print. Built in one streaming pass over each journal; a report reads
//! a cut point's whole result back only when it writes about it.
//!
//! It reads journals exactly as [`read_journal`](crate::journal::read_journal) and
//! [`merge_journals`](crate::merge::merge_journals) do (same notes, same errors, same order of
//! cut points), so a report is the same whichever way it was built.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::journal::{self, Journal, JournalError, JournalReader};
use crate::merge::{merge_parts, merged_failure_stands, merged_twice, MergeError, Part};
use crate::model::{ControlRun, CutResult, JournalEnd, JournalHeader, JournalRecord, PlannedCut, Status};
use crate::rebuild::ReportError;
use crate::shared_console::{self, ConsoleCache};
use crate::store::{FileCursor, Loc, Store};
use crate::verdict::{self, NegativeControl};
use crate::view::{Counts, Kind};

/// How a cut point ended, in one byte: its status (if it ran), whether it has warnings, whether
/// it gives reasons, whether the bootloader picks the secondary slot after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State(u8);

impl State {
    const STATUS: u8 = 0b11;
    const WARNINGS: u8 = 0b100;
    const REASONS: u8 = 0b1000;
    const SECONDARY: u8 = 0b1_0000;

    pub fn of(cut: &CutResult) -> Self {
        let status = match cut.status {
            Status::Pass => 1,
            Status::Fail => 2,
            Status::Error => 3,
        };
        let warnings = if cut.warnings.is_empty() { 0 } else { Self::WARNINGS };
        let reasons = if cut.reasons.is_empty() { 0 } else { Self::REASONS };
        let secondary = match &cut.booted_slot {
            Some(b) if b.slot.as_deref() == Some("secondary") => Self::SECONDARY,
            _ => 0,
        };
        State(status | warnings | reasons | secondary)
    }

    /// The bootloader picks the secondary slot after this cut ([`CutResult::booted_slot`]).
    pub fn boots_secondary(self) -> bool {
        self.0 & Self::SECONDARY != 0
    }

    /// `None`: not run.
    pub fn status(self) -> Option<Status> {
        match self.0 & Self::STATUS {
            1 => Some(Status::Pass),
            2 => Some(Status::Fail),
            3 => Some(Status::Error),
            _ => None,
        }
    }

    pub fn has_warnings(self) -> bool {
        self.0 & Self::WARNINGS != 0
    }

    pub fn has_reasons(self) -> bool {
        self.0 & Self::REASONS != 0
    }

    /// How it shows; `negative_control`: its failures are expected.
    pub fn kind(self, negative_control: bool) -> Kind {
        match self.status() {
            None => Kind::NotRun,
            Some(Status::Pass) if self.has_warnings() => Kind::Warned,
            Some(Status::Pass) => Kind::Pass,
            Some(Status::Fail) if negative_control => Kind::ExpectedFailure,
            Some(Status::Fail) => Kind::Fail,
            Some(Status::Error) => Kind::Error,
        }
    }
}

/// Sums over a set of results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub results: usize,
    pub failed: usize,
    pub warnings: usize,
    pub wall_ms: u128,
    /// How late the cuts aimed at an instant landed after it: microseconds, how many.
    pub late: BTreeMap<u64, usize>,
}

impl Totals {
    pub fn add(&mut self, cut: &CutResult) {
        self.results += 1;
        self.failed += usize::from(cut.status == Status::Fail);
        self.warnings += cut.warnings.len();
        self.wall_ms += u128::from(cut.wall_ms);
        if let Some(late) = lateness(cut) {
            *self.late.entry(late).or_default() += 1;
        }
    }

    /// Takes back a result [`Totals::add`] counted (a result recorded again).
    pub fn remove(&mut self, cut: &CutResult) {
        self.results -= 1;
        self.failed -= usize::from(cut.status == Status::Fail);
        self.warnings -= cut.warnings.len();
        self.wall_ms -= u128::from(cut.wall_ms);
        if let Some(late) = lateness(cut) {
            if let Some(n) = self.late.get_mut(&late) {
                *n -= 1;
                if *n == 0 {
                    self.late.remove(&late);
                }
            }
        }
    }

    fn merge(&mut self, other: Totals) {
        self.results += other.results;
        self.failed += other.failed;
        self.warnings += other.warnings;
        self.wall_ms += other.wall_ms;
        for (late, n) in other.late {
            *self.late.entry(late).or_default() += n;
        }
    }

    /// The wall time of every result, as the sum of their durations saturating at
    /// [`Duration::MAX`] would be.
    pub fn wall_time(&self) -> Duration {
        let secs = self.wall_ms / 1000;
        let nanos = (self.wall_ms % 1000) as u32 * 1_000_000;
        match u64::try_from(secs) {
            Ok(secs) => Duration::new(secs, nanos),
            Err(_) => Duration::MAX,
        }
    }
}

/// How late a cut aimed at an instant landed after it.
fn lateness(cut: &CutResult) -> Option<u64> {
    let landing = cut.landing.as_ref()?;
    landing.requested_us.map(|r| landing.actual_us.saturating_sub(r))
}

/// One cut point of the report.
#[derive(Debug, Clone, Copy)]
struct Row {
    /// Where its result is; meaningless when `state` says it did not run.
    loc: Loc,
    state: State,
}

/// The cut points of one phase, in planned order (rows of the index).
#[derive(Debug, Clone)]
pub struct PhaseRows<'i> {
    pub name: &'i str,
    pub rows: Vec<u32>,
    pub counts: Counts,
}

/// Every cut point of a report in planned order (see the module documentation).
pub struct ResultIndex<'a> {
    pub header: JournalHeader,
    pub control: Option<ControlRun>,
    pub end: Option<JournalEnd>,
    pub notes: Vec<String>,
    pub sources: Vec<PathBuf>,
    rows: Vec<Row>,
    /// Where each row's id, phase and offset are: `header.planned[i]` below the plan's length,
    /// else `extra[i - plan length]`.
    row_cut: Vec<u32>,
    /// Results that are not in the plan (hand-edited journals, older plans).
    extra: Vec<PlannedCut>,
    /// Rows with a result, in the order their results were first recorded.
    recorded: Vec<u32>,
    /// Over the recorded results (a journal in memory may hold an id twice).
    pub(crate) recorded_totals: Totals,
    /// Over the rows' results.
    pub(crate) row_totals: Totals,
    store: Store<'a>,
    /// Results read back so far.
    loads: std::cell::Cell<usize>,
    /// From journal files: each planned id's plan index, and each plan index's row, to find the
    /// record a result names for its console (`console_of`); and the consoles found lately.
    named: Option<(PlanLookup, Vec<u32>)>,
    consoles: RefCell<ConsoleCache>,
}

impl<'a> ResultIndex<'a> {
    /// The index of a journal already in memory.
    pub fn of_journal(journal: &'a Journal) -> Self {
        let planned = &journal.header.planned;
        // As `Journal::rows`: a planned row shows the last result of its id, an unplanned row
        // the first.
        let by_id: HashMap<&str, usize> = journal
            .cuts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        let mut seen = HashSet::new();
        let (mut rows, mut row_cut, mut extra) = (Vec::new(), Vec::new(), Vec::new());
        let mut row_totals = Totals::default();
        let mut push = |rows: &mut Vec<Row>, at: Option<usize>| {
            rows.push(match at {
                Some(i) => {
                    row_totals.add(&journal.cuts[i]);
                    Row {
                        loc: Loc::memory(i),
                        state: State::of(&journal.cuts[i]),
                    }
                }
                None => Row {
                    loc: Loc::memory(0),
                    state: State::default(),
                },
            });
        };
        for (i, p) in planned.iter().enumerate() {
            if seen.insert(p.id.as_str()) {
                push(&mut rows, by_id.get(p.id.as_str()).copied());
                row_cut.push(to_u32(i));
            }
        }
        for (i, cut) in journal.cuts.iter().enumerate() {
            if seen.insert(cut.id.as_str()) {
                push(&mut rows, Some(i));
                row_cut.push(to_u32(planned.len() + extra.len()));
                extra.push(PlannedCut::of_result(cut));
            }
        }
        let mut recorded_totals = Totals::default();
        for cut in &journal.cuts {
            recorded_totals.add(cut);
        }
        let row_of: HashMap<&str, u32> = (0..rows.len())
            .map(|r| (cut_of(planned, &extra, &row_cut, r).id.as_str(), to_u32(r)))
            .collect();
        let mut recorded_ids = HashSet::new();
        let recorded = journal
            .cuts
            .iter()
            .filter(|c| recorded_ids.insert(c.id.as_str()))
            .filter_map(|c| row_of.get(c.id.as_str()).copied())
            .collect();
        ResultIndex {
            header: journal.header.clone(),
            control: journal.control.clone(),
            end: journal.end.clone(),
            notes: journal.notes.clone(),
            sources: journal.sources.clone(),
            rows,
            row_cut,
            extra,
            recorded,
            recorded_totals,
            row_totals,
            store: Store::Memory(&journal.cuts),
            loads: Default::default(),
            named: None,
            consoles: Default::default(),
        }
    }

    /// Reads journal files (report directories or `results.jsonl` files) and merges them as
    /// [`merge_journals`](crate::merge::merge_journals) would, keeping of each result only its
    /// place and how it ended.
    pub fn of_files<P: AsRef<Path>>(journals: &[P]) -> Result<ResultIndex<'static>, ReportError> {
        if journals.len() > Loc::MAX_SOURCES {
            return Err(MergeError::TooMany {
                count: journals.len(),
                most: Loc::MAX_SOURCES,
            }
            .into());
        }
        let mut cursors = Vec::with_capacity(journals.len());
        let mut parts = Vec::with_capacity(journals.len());
        for (source, path) in journals.iter().enumerate() {
            let path = journal::journal_path(path.as_ref());
            let cursor = RefCell::new(FileCursor::open(&path)?);
            parts.push(gather_file(&path, source, &cursor)?);
            cursors.push(cursor);
        }
        let store = Store::Files(cursors);
        let gathered = match parts.pop() {
            Some(only) if parts.is_empty() => only,
            last => {
                parts.extend(last);
                merge_gathered(parts, &store)?
            }
        };
        Ok(gathered.finish(store))
    }

    /// How many results [`ResultIndex::load`] has read back.
    #[cfg(test)]
    pub(crate) fn loads(&self) -> usize {
        self.loads.get()
    }

    /// How many cut points (rows) the report has.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn cut(&self, row: u32) -> &PlannedCut {
        cut_of(&self.header.planned, &self.extra, &self.row_cut, row as usize)
    }

    pub fn id(&self, row: u32) -> &str {
        &self.cut(row).id
    }

    pub fn phase(&self, row: u32) -> &str {
        &self.cut(row).phase
    }

    pub fn offset(&self, row: u32) -> &str {
        &self.cut(row).offset
    }

    pub fn state(&self, row: u32) -> State {
        self.rows[row as usize].state
    }

    pub fn rows(&self) -> impl Iterator<Item = u32> {
        0..to_u32(self.rows.len())
    }

    /// Rows with a result, in the order the results were first recorded.
    pub fn recorded(&self) -> &[u32] {
        &self.recorded
    }

    /// The whole result of a row, read back from its journal; `None` when it did not run.
    pub fn load(&self, row: u32) -> Result<Option<Cow<'a, CutResult>>, ReportError> {
        let Row { loc, state } = self.rows[row as usize];
        if state.status().is_none() {
            return Ok(None);
        }
        let mut cut = self.store.load(loc)?;
        self.loads.set(self.loads.get() + 1);
        if cut.id != self.id(row) {
            return Err(JournalError::Changed {
                path: self.store.path(loc).unwrap_or_default(),
                offset: loc.offset(),
            }
            .into());
        }
        if let Some(of) = cut.console_of.clone() {
            let console = self.console_named(&of, loc, cut.console.len())?;
            let cut = cut.to_mut();
            cut.console = console;
            cut.console_of = None;
        }
        Ok(Some(cut))
    }

    /// The console of the record at `loc`, which names cut point `of`'s earlier record for it
    /// (`console_of`; see `shared_console`).
    fn console_named(&self, of: &str, loc: Loc, own_lines: usize) -> Result<Vec<crate::model::LogLine>, JournalError> {
        let wrong = |message| JournalError::Console {
            path: self.store.path(loc).unwrap_or_default(),
            offset: loc.offset(),
            message,
        };
        if let Some(message) = shared_console::misplaced(of, own_lines) {
            return Err(wrong(message));
        }
        // The record of `of` the index kept: it must be an earlier one of the same journal.
        let holder = self
            .named
            .as_ref()
            .and_then(|(lookup, plan_row)| Some(plan_row[lookup.get(&self.header.planned, of)? as usize]))
            .and_then(|r| self.rows.get(r as usize))
            .filter(|r| r.state.status().is_some())
            .map(|r| r.loc)
            .filter(|h| h.source() == loc.source() && h.offset() < loc.offset());
        let Some(holder) = holder else {
            return Err(wrong(shared_console::not_there(of)));
        };
        self.consoles.borrow_mut().get(holder.key(), |_| {
            let held = self.store.load(holder)?;
            if held.id == of && held.console_of.is_none() && !held.console.is_empty() {
                Ok(held.into_owned().console)
            } else {
                Err(wrong(shared_console::not_there(of)))
            }
        })
    }

    pub fn is_negative_control(&self) -> bool {
        self.header.expect == crate::model::Expect::Fail
    }

    pub fn negative_control(&self) -> Option<NegativeControl> {
        verdict::negative_control(
            &self.header,
            self.control.as_ref(),
            self.recorded_totals.failed,
            self.recorded_totals.results,
        )
    }

    pub fn incomplete(&self) -> Vec<String> {
        verdict::incomplete(
            &self.header,
            self.end.as_ref(),
            self.control.as_ref(),
            self.counts().not_run,
        )
    }

    /// Counts over all rows.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for row in &self.rows {
            counts.add_state(row.state);
        }
        counts
    }

    /// The rows grouped by phase; phases in the order the rows first reach them.
    pub fn phases(&self) -> Vec<PhaseRows<'_>> {
        let mut phases: Vec<PhaseRows<'_>> = Vec::new();
        let mut at: HashMap<&str, usize> = HashMap::new();
        for row in self.rows() {
            let name = self.phase(row);
            let i = *at.entry(name).or_insert_with(|| {
                phases.push(PhaseRows {
                    name,
                    rows: Vec::new(),
                    counts: Counts::default(),
                });
                phases.len() - 1
            });
            phases[i].rows.push(row);
            phases[i].counts.add_state(self.state(row));
        }
        phases
    }
}

/// Most cut points (planned, and results outside the plan) one report holds: rows are counted
/// in 32 bits. Reading journals checks it ([`Gathered::check_size`]), so the conversions below
/// cannot fail.
const MAX_CUTS: usize = u32::MAX as usize - 1;

fn to_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn cut_of<'p>(planned: &'p [PlannedCut], extra: &'p [PlannedCut], row_cut: &[u32], row: usize) -> &'p PlannedCut {
    let i = row_cut[row] as usize;
    if i < planned.len() {
        &planned[i]
    } else {
        &extra[i - planned.len()]
    }
}

/// Finds the first position of an id in a plan, keeping 12 bytes per id rather than a copy of it.
pub(crate) struct PlanLookup {
    hasher: RandomState,
    by_hash: HashMap<u64, u32>,
    /// Ids whose hash another id of the plan already has.
    collided: HashMap<String, u32>,
}

impl PlanLookup {
    pub(crate) fn new(plan: &[PlannedCut]) -> Self {
        let mut lookup = PlanLookup {
            hasher: RandomState::new(),
            by_hash: HashMap::with_capacity(plan.len()),
            collided: HashMap::new(),
        };
        for (i, p) in plan.iter().enumerate() {
            lookup.insert(plan, &p.id, i);
        }
        lookup
    }

    pub(crate) fn get(&self, plan: &[PlannedCut], id: &str) -> Option<u32> {
        match self.by_hash.get(&self.hasher.hash_one(id)) {
            Some(&i) if plan[i as usize].id == id => Some(i),
            Some(_) => self.collided.get(id).copied(),
            None => None,
        }
    }

    /// Records that `id` is at `at` unless it is in the plan already; whether it was new.
    pub(crate) fn insert(&mut self, plan: &[PlannedCut], id: &str, at: usize) -> bool {
        if self.get(plan, id).is_some() {
            return false;
        }
        match self.by_hash.entry(self.hasher.hash_one(id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(to_u32(at));
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(id.to_owned(), to_u32(at));
            }
        }
        true
    }
}

/// Which cut point a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// Position in the plan.
    Plan(u32),
    /// Position among the results that are not in the plan.
    Extra(u32),
}

/// One result kept: where it is and how it ended.
#[derive(Debug, Clone, Copy)]
struct Entry {
    loc: Loc,
    key: Key,
    state: State,
    /// The line it was first recorded at (for the note when it is recorded again).
    line: u32,
    /// The line of the result kept (for the note when a later one would hide its failure).
    kept_line: u32,
}

impl Entry {
    /// An entry whose key [`Gathered::add_entry`] sets.
    fn new(loc: Loc, state: State, line: usize) -> Self {
        Entry {
            loc,
            key: Key::Plan(0),
            state,
            line: to_u32(line),
            kept_line: to_u32(line),
        }
    }
}

/// What [`Gathered::record`] did with a result.
enum Recorded {
    /// The first result of its id.
    New,
    /// It replaced the result of this entry.
    Replaced(Entry),
    /// It was not kept: it would hide the device failure of this entry.
    FailureKept(Entry),
}

const NONE: u32 = u32::MAX;

/// What one journal (or several merged) holds, results as [`Entry`]s.
struct Gathered {
    header: JournalHeader,
    control: Option<ControlRun>,
    end: Option<JournalEnd>,
    notes: Vec<String>,
    sources: Vec<PathBuf>,
    lookup: PlanLookup,
    /// For each plan position, its entry (`NONE`: no result).
    plan_entry: Vec<u32>,
    extra: Vec<PlannedCut>,
    /// Unplanned ids and their entries.
    unplanned: HashMap<String, u32>,
    /// One per id, in the order first recorded.
    entries: Vec<Entry>,
    totals: Totals,
}

impl Gathered {
    fn new(header: JournalHeader, sources: Vec<PathBuf>) -> Self {
        let lookup = PlanLookup::new(&header.planned);
        let plan_entry = vec![NONE; header.planned.len()];
        Gathered {
            header,
            control: None,
            end: None,
            notes: Vec::new(),
            sources,
            lookup,
            plan_entry,
            extra: Vec::new(),
            unplanned: HashMap::new(),
            entries: Vec::new(),
            totals: Totals::default(),
        }
    }

    fn id(&self, key: Key) -> &PlannedCut {
        match key {
            Key::Plan(i) => &self.header.planned[i as usize],
            Key::Extra(i) => &self.extra[i as usize],
        }
    }

    /// The entry holding the result of `id`, if any.
    fn entry_of(&self, id: &str) -> Option<usize> {
        match self.lookup.get(&self.header.planned, id) {
            Some(p) => Some(self.plan_entry[p as usize]).filter(|&e| e != NONE),
            None => self.unplanned.get(id).copied(),
        }
        .map(|e| e as usize)
    }

    /// Refuses more cut points than a report holds.
    fn check_size(&self, path: &Path) -> Result<(), ReportError> {
        if self.header.planned.len().saturating_add(self.extra.len()) > MAX_CUTS {
            return Err(ReportError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }

    /// Adds planned cut points of a later header, as the journal reader does.
    fn extend_plan(&mut self, planned: Vec<PlannedCut>) {
        for p in planned {
            let at = self.header.planned.len();
            if self.lookup.insert(&self.header.planned, &p.id, at) {
                // A result recorded before it was planned now belongs to the plan.
                let entry = self.unplanned.remove(&p.id).unwrap_or(NONE);
                if entry != NONE {
                    self.entries[entry as usize].key = Key::Plan(to_u32(at));
                }
                self.plan_entry.push(entry);
                self.header.planned.push(p);
            }
        }
    }

    /// Records a result (see [`journal::hides_a_failure`] for the one that is not kept).
    fn record(&mut self, cut: &CutResult, loc: Loc, line: usize) -> Recorded {
        let state = State::of(cut);
        if let Some(e) = self.entry_of(&cut.id) {
            let old = self.entries[e];
            if old
                .state
                .status()
                .is_some_and(|kept| journal::hides_a_failure(kept, cut.status))
            {
                return Recorded::FailureKept(old);
            }
            self.replace(e, loc, state, || PlannedCut::of_result(cut));
            self.entries[e].kept_line = to_u32(line);
            return Recorded::Replaced(old);
        }
        self.add_entry(&cut.id, || PlannedCut::of_result(cut), Entry::new(loc, state, line));
        Recorded::New
    }

    /// Keeps a later result of entry `e`; one outside the plan shows the later result's phase
    /// and offset, `cut`.
    fn replace(&mut self, e: usize, loc: Loc, state: State, cut: impl FnOnce() -> PlannedCut) {
        let entry = &mut self.entries[e];
        entry.loc = loc;
        entry.state = state;
        if let Key::Extra(x) = entry.key {
            self.extra[x as usize] = cut();
        }
    }

    /// Adds the first result of `id`; `cut` names it when it is not in the plan.
    fn add_entry(&mut self, id: &str, cut: impl FnOnce() -> PlannedCut, mut entry: Entry) {
        let e = to_u32(self.entries.len());
        entry.key = match self.lookup.get(&self.header.planned, id) {
            Some(p) => {
                self.plan_entry[p as usize] = e;
                Key::Plan(p)
            }
            None => {
                self.unplanned.insert(id.to_owned(), e);
                self.extra.push(cut());
                Key::Extra(to_u32(self.extra.len() - 1))
            }
        };
        self.entries.push(entry);
    }

    /// The index: rows in planned order (each id once), then the unplanned results.
    fn finish(self, store: Store<'static>) -> ResultIndex<'static> {
        let planned = &self.header.planned;
        let mut rows = Vec::with_capacity(planned.len() + self.extra.len());
        let mut row_cut = Vec::with_capacity(planned.len() + self.extra.len());
        let mut entry_row = vec![NONE; self.entries.len()];
        let not_run = Row {
            loc: Loc::memory(0),
            state: State::default(),
        };
        let mut plan_row = vec![NONE; planned.len()];
        for (i, p) in planned.iter().enumerate() {
            if self.lookup.get(planned, &p.id) != Some(to_u32(i)) {
                continue; // planned twice: one row
            }
            plan_row[i] = to_u32(rows.len());
            let e = self.plan_entry[i];
            if e != NONE {
                entry_row[e as usize] = to_u32(rows.len());
            }
            rows.push(match self.entries.get(e as usize) {
                Some(entry) => Row {
                    loc: entry.loc,
                    state: entry.state,
                },
                None => not_run,
            });
            row_cut.push(to_u32(i));
        }
        for (e, entry) in self.entries.iter().enumerate() {
            if let Key::Extra(x) = entry.key {
                entry_row[e] = to_u32(rows.len());
                rows.push(Row {
                    loc: entry.loc,
                    state: entry.state,
                });
                row_cut.push(to_u32(planned.len()) + x);
            }
        }
        ResultIndex {
            rows,
            row_cut,
            extra: self.extra,
            recorded: entry_row,
            recorded_totals: self.totals.clone(),
            row_totals: self.totals,
            header: self.header,
            control: self.control,
            end: self.end,
            notes: self.notes,
            sources: self.sources,
            store,
            loads: Default::default(),
            named: Some((self.lookup, plan_row)),
            consoles: Default::default(),
        }
    }
}

/// One streaming pass over one journal file (journal number `source`), folding its records as
/// [`read_journal`](crate::journal::read_journal) does. `cursor` reads back a result that is
/// recorded again, to take it out of the totals.
fn gather_file(path: &Path, source: usize, cursor: &RefCell<FileCursor>) -> Result<Gathered, ReportError> {
    // Consoles are read back with the rest of a result when a report writes about it.
    let mut reader = JournalReader::open(path)?.without_consoles();
    let mut gathered: Option<Gathered> = None;
    let mut header_line = 0;
    for item in reader.by_ref() {
        let at = item?;
        let Some(g) = &mut gathered else {
            match at.record {
                JournalRecord::Header(header) => {
                    journal::check_format(path, at.line, &header)?;
                    header_line = at.line;
                    let g = Gathered::new(header, vec![path.to_path_buf()]);
                    g.check_size(path)?;
                    gathered = Some(g);
                    continue;
                }
                other => return Err(journal::header_first(path, at.line, &other).into()),
            }
        };
        match at.record {
            JournalRecord::Header(header) => {
                journal::check_same_campaign(path, at.line, &header, &g.header, header_line)?;
                g.notes.push(journal::resumed_note(path, at.line, &header.started));
                g.extend_plan(header.planned);
                g.end = None;
            }
            JournalRecord::Resumed(resumed) => {
                g.notes.push(journal::resumed_note(path, at.line, &resumed.started));
                g.end = None;
            }
            JournalRecord::Control(control) => g.control = Some(control),
            JournalRecord::Cut(cut) => {
                let loc = Loc::file(source, at.offset).ok_or_else(|| ReportError::TooLarge {
                    path: path.to_path_buf(),
                })?;
                match g.record(&cut, loc, at.line) {
                    Recorded::New => g.totals.add(&cut),
                    Recorded::Replaced(old) => {
                        g.notes
                            .push(journal::recorded_again_note(path, at.line, &cut.id, old.line as usize));
                        g.totals.add(&cut);
                        let old = cursor.borrow_mut().cut_at(old.loc.offset())?;
                        g.totals.remove(&old);
                    }
                    Recorded::FailureKept(kept) => g.notes.push(journal::failure_stands_note(
                        path,
                        at.line,
                        &cut.id,
                        cut.status,
                        kept.kept_line as usize,
                    )),
                }
            }
            JournalRecord::End(end) => g.end = Some(end),
        }
        g.check_size(path)?;
    }
    let Some(mut gathered) = gathered else {
        return Err(JournalError::NoHeader {
            path: path.to_path_buf(),
        }
        .into());
    };
    // A result outside the plan (every header's, now that all are read) is refused: counted,
    // it would change the verdict of a plan it is not part of. Entries are in the order first
    // recorded, so the first one outside is the earliest.
    if let Some(entry) = gathered.entries.iter().find(|e| matches!(e.key, Key::Extra(_))) {
        return Err(journal::not_planned(path, entry.line as usize, &gathered.id(entry.key).id).into());
    }
    if let Some(torn) = reader.torn_tail() {
        gathered.notes.push(journal::torn_note(path, torn, "ignored"));
    }
    gathered.header.planned.shrink_to_fit();
    Ok(gathered)
}

/// Merges gathered journals as [`merge_journals`](crate::merge::merge_journals) does.
fn merge_gathered(parts: Vec<Gathered>, store: &Store<'_>) -> Result<Gathered, ReportError> {
    let merged = {
        let views: Vec<Part<'_>> = parts
            .iter()
            .map(|g| Part {
                header: &g.header,
                control: g.control.as_ref(),
                end: g.end.as_ref(),
                notes: &g.notes,
                sources: &g.sources,
            })
            .collect();
        merge_parts(&views)?
    };
    let sources = parts.iter().flat_map(|g| g.sources.iter().cloned()).collect();
    let mut all = Gathered::new(merged.header, sources);
    let first_path = all.sources.first().cloned().unwrap_or_default();
    all.check_size(&first_path)?;
    all.control = merged.control;
    all.end = merged.end;
    all.notes = merged.notes_before_cuts;
    for mut part in parts {
        all.totals.merge(std::mem::take(&mut part.totals));
        for entry in &part.entries {
            let cut = part.id(entry.key);
            let j = entry.loc.source();
            if let Some(e) = all.entry_of(&cut.id) {
                let old = all.entries[e];
                let (kept, later) = (old.state.status(), entry.state.status());
                if let (Some(kept), Some(later)) = (kept, later) {
                    if journal::hides_a_failure(kept, later) {
                        all.notes.push(merged_failure_stands(
                            &cut.id,
                            &merged.names[old.loc.source()],
                            &merged.names[j],
                            later,
                        ));
                        all.totals.remove(&*store.load(entry.loc)?);
                        continue;
                    }
                }
                all.notes
                    .push(merged_twice(&cut.id, &merged.names[old.loc.source()], &merged.names[j]));
                all.totals.remove(&*store.load(old.loc)?);
                all.replace(e, entry.loc, entry.state, || cut.clone());
                continue;
            }
            all.add_entry(&cut.id, || cut.clone(), *entry);
        }
        all.check_size(part.sources.first().map_or(&first_path, |p| p))?;
    }
    all.notes.extend(merged.notes_after_cuts);
    Ok(all)
}
