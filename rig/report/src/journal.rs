//! The append-only journal `results.jsonl`: one JSON record per line, synced to storage after every
//! record, so a campaign's results survive a power loss of the machine running it.
//!
//! Layout: a `header` record first, then `control`, `cut` and `end` records. A resumed campaign
//! (same campaign, partition and plan) appends a small `resumed` record and goes on; readers fold it
//! all into one [`Journal`]. A cut record whose console repeats one written lately names the
//! record that holds it (`console_of`); every reader gives the console back (see
//! `shared_console`). Journals written by earlier builds repeat the header at each resume;
//! they read the same.
//!
//! Crashes leave two kinds of damage, and every reader (reports, replay, resume) recovers from them
//! the same way:
//! - the last record torn (cut short, zero-filled, or cut short and followed by a newline): it is
//!   dropped, with one line on stderr naming the file and line; [`JournalWriter::resume`] cuts it
//!   off the file before appending, so its cut point runs again;
//! - no header at all (killed as it started): an unfinished start; [`JournalWriter::create`] and
//!   [`JournalWriter::resume`] both start the journal afresh.
//!
//! A damaged record that is not the last one is real corruption: an error naming the file and line.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::fsio::{self, PathError};
use crate::index::PlanLookup;
use crate::model::{
    ControlRun, CutResult, JournalEnd, JournalHeader, JournalRecord, JournalResumed, PlannedCut, Status,
};
use crate::shared_console::{self, ConsoleCache, ConsoleLedger};

/// File name of the journal inside a report directory.
pub const JOURNAL_FILE: &str = "results.jsonl";

/// The newest journal format this build writes and reads.
pub const JOURNAL_FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Io(#[from] PathError),
    /// A record that is not valid or not allowed where it is.
    #[error("{}:{line}: {message}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "{}: the journal has no header record: the run was stopped as it started; \
         run the campaign again into this directory (with or without --resume)",
        path.display()
    )]
    NoHeader { path: PathBuf },
    #[error("{}: a journal is already there; resume the campaign or choose another directory", path.display())]
    Exists { path: PathBuf },
    /// Resuming with a campaign (or partition) other than the journal's.
    #[error("{}: {what}", path.display())]
    Mismatch { path: PathBuf, what: String },
    /// A record read before is not there any more when read again.
    #[error(
        "{}: the record at byte {offset} is not the one read a moment ago: the journal changed \
         while the reports were written; write them again once nothing else writes the journal",
        path.display()
    )]
    Changed { path: PathBuf, offset: u64 },
    /// A cut record whose id the journal's plan does not hold (every header's plan, once the
    /// whole journal is read): pasted from another campaign's journal, or a hand edit. Counting
    /// it would change the verdict of a plan it is not part of.
    #[error(
        "{}:{line}: cut point `{id}` is not in this journal's plan: the record belongs to another \
         plan (pasted from another campaign's journal, or the journal was edited); remove line {line} \
         from the journal, or report the journal the record came from",
        path.display()
    )]
    NotPlanned { path: PathBuf, line: usize, id: String },
    /// A cut record's `console_at` names no cut record with a console of its own.
    #[error("{}: the cut record at byte {offset}: {message}", path.display())]
    Console {
        path: PathBuf,
        offset: u64,
        message: String,
    },
    #[error("{}: cannot encode a record: {source}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Everything one journal (or several merged) says about a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    /// The first header; `planned` is the union over all headers of a resumed journal.
    pub header: JournalHeader,
    /// The latest control run.
    pub control: Option<ControlRun>,
    /// One result per cut point id, in the order they were first recorded.
    pub cuts: Vec<CutResult>,
    /// How the latest run ended; None when it was interrupted (or resumed and not yet ended).
    pub end: Option<JournalEnd>,
    /// What a reader should know: a torn last line, resumes, duplicate ids, merged partitions.
    pub notes: Vec<String>,
    /// The journal files this was read from.
    pub sources: Vec<PathBuf>,
}

impl Journal {
    /// A journal holding only its header (what a fresh campaign starts with).
    pub fn new(header: JournalHeader) -> Self {
        Journal {
            header,
            control: None,
            cuts: Vec::new(),
            end: None,
            notes: Vec::new(),
            sources: Vec::new(),
        }
    }

    /// Ids of the cut points that have a result; a resumed campaign skips these.
    pub fn finished_ids(&self) -> HashSet<&str> {
        self.cuts.iter().map(|c| c.id.as_str()).collect()
    }

    /// Planned cut points without a result, in planned order.
    pub fn remaining(&self) -> Vec<&PlannedCut> {
        let done = self.finished_ids();
        self.header
            .planned
            .iter()
            .filter(|p| !done.contains(p.id.as_str()))
            .collect()
    }

    /// The result of one cut point.
    pub fn cut(&self, id: &str) -> Option<&CutResult> {
        self.cuts.iter().find(|c| c.id == id)
    }

    /// The records that rebuild this journal: header, control, cuts, end.
    pub fn to_records(&self) -> Vec<JournalRecord> {
        let mut records = Vec::with_capacity(self.cuts.len() + 3);
        records.push(JournalRecord::Header(self.header.clone()));
        if let Some(control) = &self.control {
            records.push(JournalRecord::Control(control.clone()));
        }
        records.extend(self.cuts.iter().cloned().map(JournalRecord::Cut));
        if let Some(end) = &self.end {
            records.push(JournalRecord::End(end.clone()));
        }
        records
    }
}

/// `dir/results.jsonl` when `path` is a directory, else `path` itself.
pub fn journal_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(JOURNAL_FILE)
    } else {
        path.to_path_buf()
    }
}

/// Reads a journal file (or the journal inside a report directory). A torn last record is
/// dropped with a note (and a line on stderr).
pub fn read_journal(path: &Path) -> Result<Journal, JournalError> {
    let path = journal_path(path);
    let (builder, torn) = read_records(&path)?;
    let mut journal = builder.finish()?;
    if let Some(torn) = torn {
        journal.notes.push(torn_note(&path, torn, "ignored"));
    }
    Ok(journal)
}

/// Folds every record of `path` into a builder; also returns the torn last line, if any.
fn read_records(path: &Path) -> Result<(Builder<'_>, Option<TornTail>), JournalError> {
    let mut reader = JournalReader::open(path)?;
    let mut builder = Builder::new(path);
    for item in reader.by_ref() {
        let at = item?;
        builder.add(at.line, at.record)?;
    }
    Ok((builder, reader.torn_tail()))
}

/// The note about a dropped torn record, also said on stderr at once: the reports, a replay and
/// a resume all read journals, and whichever it is, the operator learns that a record was lost.
pub(crate) fn torn_note(path: &Path, torn: TornTail, what: &str) -> String {
    let note = format!(
        "{}:{}: torn last record {what} ({} bytes; the run stopped while writing it)",
        path.display(),
        torn.line,
        torn.len
    );
    eprintln!("cutpoint: {note}");
    note
}

/// One record, the line it was read from (from 1) and the byte offset where that line starts
/// (so a report can read it again when it needs it).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordAt {
    pub line: usize,
    pub offset: u64,
    pub record: JournalRecord,
}

/// The unfinished last line left by a crash mid-write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Line number, from 1.
    pub line: usize,
    /// Byte offset where the torn line starts (the journal's good length).
    pub offset: u64,
    /// Length of the torn bytes.
    pub len: usize,
}

/// Iterates over the records of one journal file, line by line, holding one line at a time.
///
/// Blank lines are skipped. The last line may be torn: it is not complete JSON (cut short, with or
/// without a final newline, or holding NUL bytes), which is what an interrupted write leaves;
/// iteration then stops and [`JournalReader::torn_tail`] tells where. Any other line that fails to
/// parse (a torn line in the middle, or complete JSON that is not a record) yields an error naming
/// `file:line`, and iteration stops.
pub struct JournalReader {
    path: PathBuf,
    input: Box<dyn BufRead>,
    /// Byte offset of the next line.
    pos: u64,
    line: usize,
    buf: Vec<u8>,
    torn: Option<TornTail>,
    done: bool,
    /// Cut records without their consoles (see [`JournalReader::without_consoles`]).
    brief: bool,
    /// Where a console a record names (`console_of`) is read from, and the ones read lately.
    backing: Backing,
    consoles: ConsoleCache,
    /// Per cut point id, the offset of its latest record that holds a console (whole reads).
    holders: HashMap<String, u64>,
}

/// What a [`JournalReader`] reads from, to read a record again at an earlier offset.
enum Backing {
    /// A file, opened again when a record first names a console.
    File(Option<Box<crate::store::FileCursor>>),
    Bytes(std::sync::Arc<[u8]>),
}

impl Backing {
    /// The console of the cut record of `of` whose line starts at byte `at`, when that record
    /// holds one.
    fn console_at(&mut self, path: &Path, at: u64, of: &str) -> Result<Vec<crate::model::LogLine>, String> {
        let reading = |e: JournalError| format!("reading the console it names at byte {at}: {e}");
        let record = match self {
            Backing::File(cursor) => {
                let cursor = match cursor {
                    Some(c) => c,
                    None => cursor.insert(Box::new(crate::store::FileCursor::open(path).map_err(reading)?)),
                };
                cursor.record_at(at).map_err(reading)?
            }
            Backing::Bytes(data) => usize::try_from(at)
                .ok()
                .and_then(|at| data.get(at..))
                .map(|rest| rest.split(|b| *b == b'\n').next().unwrap_or(rest))
                .and_then(|line| parse_record(line).ok()),
        };
        match record {
            Some(JournalRecord::Cut(c)) if c.id == of && c.console_of.is_none() && !c.console.is_empty() => {
                Ok(c.console)
            }
            _ => Err(shared_console::not_there(of)),
        }
    }
}

impl JournalReader {
    /// Reads each cut record's console only to check it, and gives the cut with an empty one:
    /// for a pass that keeps how each cut point ended and where its record is, and reads the
    /// record again when it needs the console. The journal is checked as strictly as before.
    pub(crate) fn without_consoles(mut self) -> Self {
        self.brief = true;
        self
    }

    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let file = File::open(path).map_err(|e| PathError::new(path, e))?;
        Ok(Self::from_reader(
            path,
            BufReader::with_capacity(READ_BUFFER, file),
            Backing::File(None),
        ))
    }

    /// Reads records from bytes already in memory; `path` only names them in messages.
    pub fn from_bytes(path: impl Into<PathBuf>, data: Vec<u8>) -> Self {
        let data: std::sync::Arc<[u8]> = data.into();
        Self::from_reader(path, io::Cursor::new(data.clone()), Backing::Bytes(data))
    }

    fn from_reader(path: impl Into<PathBuf>, input: impl BufRead + 'static, backing: Backing) -> Self {
        JournalReader {
            path: path.into(),
            input: Box::new(input),
            pos: 0,
            line: 0,
            buf: Vec::new(),
            torn: None,
            done: false,
            brief: false,
            backing,
            consoles: ConsoleCache::default(),
            holders: HashMap::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The torn last line, once iteration reached it.
    pub fn torn_tail(&self) -> Option<TornTail> {
        self.torn
    }

    /// Gives `cut` (whose line starts at byte `offset`) the console it names, if it names one;
    /// notes where a console is held. A brief read only checks the record's shape.
    fn console_of(&mut self, cut: &mut CutResult, offset: u64) -> Result<(), String> {
        let Some(of) = &cut.console_of else {
            // The id's latest record is this one: it holds a console to name, or none.
            if !self.brief && !cut.console.is_empty() {
                match self.holders.get_mut(&cut.id) {
                    Some(at) => *at = offset,
                    None => {
                        self.holders.insert(cut.id.clone(), offset);
                    }
                }
            } else if !self.brief {
                self.holders.remove(&cut.id);
            }
            return Ok(());
        };
        if let Some(wrong) = shared_console::misplaced(of, cut.console.len()) {
            return Err(wrong);
        }
        if self.brief {
            return Ok(());
        }
        let at = *self
            .holders
            .get(of.as_str())
            .ok_or_else(|| shared_console::not_there(of))?;
        let (backing, path) = (&mut self.backing, &self.path);
        cut.console = self.consoles.get(at, |at| backing.console_at(path, at, of))?;
        cut.console_of = None;
        // This record holds no console of its own to name.
        self.holders.remove(&cut.id);
        Ok(())
    }

    fn io_error(&mut self, e: io::Error) -> Option<Result<RecordAt, JournalError>> {
        self.done = true;
        Some(Err(PathError::new(&self.path, e).into()))
    }

    /// Reads what is left after a bad line: whether it is only whitespace, and how many bytes.
    fn rest(&mut self) -> io::Result<(bool, u64)> {
        let (mut blank, mut len) = (true, 0u64);
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                return Ok((blank, len));
            }
            blank = blank && chunk.iter().all(u8::is_ascii_whitespace);
            let n = chunk.len();
            len += n as u64;
            self.input.consume(n);
        }
    }
}

/// Parses one line of a journal. The writer puts the `record` tag first, so the two records that
/// matter for speed and memory, `header` (a plan of a million cut points) and `cut` (one per cut
/// point), are read straight into their types; the general path buffers the whole record to find
/// its tag first.
pub(crate) fn parse_record(line: &[u8]) -> serde_json::Result<JournalRecord> {
    parse_record_as(line, false)
}

/// [`parse_record`]; `brief`: a cut record's console is checked, not kept (see
/// [`JournalReader::without_consoles`]).
fn parse_record_as(line: &[u8], brief: bool) -> serde_json::Result<JournalRecord> {
    const HEADER: &[u8] = br#"{"record":"header","#;
    const CUT: &[u8] = br#"{"record":"cut","#;
    if line.starts_with(HEADER) {
        serde_json::from_slice(line).map(JournalRecord::Header)
    } else if line.starts_with(CUT) && brief {
        serde_json::from_slice::<crate::model::BriefCut>(line).map(|c| JournalRecord::Cut(c.into()))
    } else if line.starts_with(CUT) {
        serde_json::from_slice(line).map(JournalRecord::Cut)
    } else {
        serde_json::from_slice(line)
    }
}

/// Bytes read from a journal at a time.
const READ_BUFFER: usize = 256 * 1024;

/// The longest line whose buffer is kept for the next line.
const KEPT_LINE_BUFFER: usize = 1024 * 1024;

impl Iterator for JournalReader {
    type Item = Result<RecordAt, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            if self.buf.capacity() > KEPT_LINE_BUFFER {
                // A plan of a million cut points is one long line; the records after it are short.
                self.buf = Vec::new();
            }
            let read = match self.input.read_until(b'\n', &mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => return self.io_error(e),
            };
            let start = self.pos;
            self.pos += read as u64;
            self.line += 1;
            let text = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match parse_record_as(text, self.brief) {
                Ok(mut record) => {
                    if let JournalRecord::Cut(cut) = &mut record {
                        if let Err(message) = self.console_of(cut, start) {
                            self.done = true;
                            return Some(Err(line_error(&self.path, self.line, message)));
                        }
                    }
                    return Some(Ok(RecordAt {
                        line: self.line,
                        offset: start,
                        record,
                    }));
                }
                Err(e) => {
                    self.done = true;
                    // Complete JSON of the wrong shape was written whole: not a tear.
                    let looks_torn = !e.is_data() || text.contains(&0);
                    let (is_last, rest) = match self.rest() {
                        Ok(r) => r,
                        Err(e) => return self.io_error(e),
                    };
                    if is_last && looks_torn {
                        self.torn = Some(TornTail {
                            line: self.line,
                            offset: start,
                            len: usize::try_from(read as u64 + rest).unwrap_or(usize::MAX),
                        });
                        return None;
                    }
                    let hint = if looks_torn {
                        "only the last record can be torn by a crash, so the journal is damaged here"
                    } else {
                        "the line was written whole but is not a record this build reads"
                    };
                    return Some(Err(JournalError::Line {
                        path: self.path.clone(),
                        line: self.line,
                        message: format!(
                            "not a valid journal record: {e}; {hint}: repair or remove line {}, \
                             or run the campaign again into a new directory",
                            self.line
                        ),
                    }));
                }
            }
        }
        self.done = true;
        None
    }
}

/// Folds records into a [`Journal`], checking that they belong together.
struct Builder<'p> {
    path: &'p Path,
    header: Option<JournalHeader>,
    header_line: usize,
    planned_ids: HashSet<String>,
    control: Option<ControlRun>,
    cuts: Vec<CutResult>,
    cut_at: HashMap<String, CutAt>,
    end: Option<JournalEnd>,
    notes: Vec<String>,
}

/// Where the result kept for an id is, and the lines it was first recorded at and kept from.
struct CutAt {
    index: usize,
    first_line: usize,
    kept_line: usize,
}

impl<'p> Builder<'p> {
    fn new(path: &'p Path) -> Self {
        Builder {
            path,
            header: None,
            header_line: 0,
            planned_ids: HashSet::new(),
            control: None,
            cuts: Vec::new(),
            cut_at: HashMap::new(),
            end: None,
            notes: Vec::new(),
        }
    }

    fn add(&mut self, line: usize, record: JournalRecord) -> Result<(), JournalError> {
        let Some(first) = &mut self.header else {
            return match record {
                JournalRecord::Header(header) => {
                    check_format(self.path, line, &header)?;
                    self.planned_ids = header.planned.iter().map(|p| p.id.clone()).collect();
                    self.header = Some(header);
                    self.header_line = line;
                    Ok(())
                }
                other => Err(header_first(self.path, line, &other)),
            };
        };
        match record {
            JournalRecord::Header(header) => {
                check_same_campaign(self.path, line, &header, first, self.header_line)?;
                for planned in header.planned {
                    if self.planned_ids.insert(planned.id.clone()) {
                        first.planned.push(planned);
                    }
                }
                self.notes.push(resumed_note(self.path, line, &header.started));
                self.end = None;
            }
            JournalRecord::Resumed(JournalResumed { started }) => {
                self.notes.push(resumed_note(self.path, line, &started));
                self.end = None;
            }
            JournalRecord::Control(control) => self.control = Some(control),
            JournalRecord::Cut(cut) => match self.cut_at.get_mut(&cut.id) {
                Some(at) => {
                    let kept = &self.cuts[at.index];
                    if hides_a_failure(kept.status, cut.status) {
                        self.notes
                            .push(failure_stands_note(self.path, line, &cut.id, cut.status, at.kept_line));
                    } else {
                        self.notes
                            .push(recorded_again_note(self.path, line, &cut.id, at.first_line));
                        at.kept_line = line;
                        self.cuts[at.index] = cut;
                    }
                }
                None => {
                    let at = CutAt {
                        index: self.cuts.len(),
                        first_line: line,
                        kept_line: line,
                    };
                    self.cut_at.insert(cut.id.clone(), at);
                    self.cuts.push(cut);
                }
            },
            JournalRecord::End(end) => self.end = Some(end),
        }
        Ok(())
    }

    fn finish(self) -> Result<Journal, JournalError> {
        let Some(header) = self.header else {
            return Err(JournalError::NoHeader {
                path: self.path.to_path_buf(),
            });
        };
        // The cuts are in the order first recorded: the first outside the plan is the earliest.
        if let Some(cut) = self.cuts.iter().find(|c| !self.planned_ids.contains(&c.id)) {
            let line = self.cut_at.get(&cut.id).map_or(0, |at| at.first_line);
            return Err(not_planned(self.path, line, &cut.id));
        }
        Ok(Journal {
            header,
            control: self.control,
            cuts: self.cuts,
            end: self.end,
            notes: self.notes,
            sources: vec![self.path.to_path_buf()],
        })
    }
}

/// What a resumed run needs of the journal it continues: which cut points have a result and
/// how the last one ended, and whether the control run is recorded. The results themselves
/// stay in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Resumed {
    /// By position in the plan (the journal's, which a resume checks is the run's): the status
    /// of the cut point's last result, if it has one.
    by_plan: Vec<Option<Status>>,
    /// The last status of each recorded id that is not in the plan.
    unplanned: HashMap<String, Status>,
    /// The journal holds a control run.
    pub has_control: bool,
    /// What a reader should know: a torn last line removed, a journal started afresh.
    pub notes: Vec<String>,
    /// What the resume could not check (input files a journal of an earlier cutpoint does not
    /// record), for the caller to show: unlike the notes, not printed here.
    pub warnings: Vec<String>,
}

impl Resumed {
    fn new(planned: usize) -> Self {
        Resumed {
            by_plan: vec![None; planned],
            unplanned: HashMap::new(),
            has_control: false,
            notes: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Whether the cut point at `index` of the plan has a result.
    pub fn is_done(&self, index: usize) -> bool {
        self.by_plan.get(index).is_some_and(Option::is_some)
    }

    /// The status of each cut point with a result (its last one), planned or not.
    pub fn statuses(&self) -> impl Iterator<Item = Status> + '_ {
        self.by_plan
            .iter()
            .flatten()
            .copied()
            .chain(self.unplanned.values().copied())
    }

    /// How many cut points have a result.
    pub fn finished(&self) -> usize {
        self.statuses().count()
    }

    /// The cut points of `plan` (the run's) without a result, in planned order.
    pub fn remaining<'p>(&self, plan: &'p [PlannedCut]) -> Vec<&'p PlannedCut> {
        plan.iter()
            .enumerate()
            .filter(|(i, _)| !self.is_done(*i))
            .map(|(_, p)| p)
            .collect()
    }
}

/// Folds a journal's records into a [`Resumed`], with the checks [`Builder`] makes, keeping
/// one status per cut point instead of its record.
struct ResumeFold<'p> {
    path: &'p Path,
    /// The first header, its plan grown by the ids later headers add.
    header: Option<JournalHeader>,
    header_line: usize,
    lookup: Option<PlanLookup>,
    resumed: Resumed,
    /// The line each recorded id outside the plan was first recorded at.
    unplanned_at: HashMap<String, usize>,
}

impl<'p> ResumeFold<'p> {
    fn new(path: &'p Path) -> Self {
        ResumeFold {
            path,
            header: None,
            header_line: 0,
            lookup: None,
            resumed: Resumed::new(0),
            unplanned_at: HashMap::new(),
        }
    }

    /// Refuses a result outside the plan, once every header has added its cut points.
    fn check_planned(&self) -> Result<(), JournalError> {
        match self.unplanned_at.iter().min_by_key(|(_, &line)| line) {
            Some((id, &line)) => Err(not_planned(self.path, line, id)),
            None => Ok(()),
        }
    }

    fn add(&mut self, line: usize, record: JournalRecord) -> Result<(), JournalError> {
        let (Some(first), Some(lookup)) = (&mut self.header, &mut self.lookup) else {
            return match record {
                JournalRecord::Header(header) => {
                    check_format(self.path, line, &header)?;
                    self.lookup = Some(PlanLookup::new(&header.planned));
                    self.resumed.by_plan = vec![None; header.planned.len()];
                    self.header = Some(header);
                    self.header_line = line;
                    Ok(())
                }
                other => Err(header_first(self.path, line, &other)),
            };
        };
        match record {
            JournalRecord::Header(header) => {
                check_same_campaign(self.path, line, &header, first, self.header_line)?;
                for planned in header.planned {
                    let at = first.planned.len();
                    if lookup.insert(&first.planned, &planned.id, at) {
                        // A result recorded before it was planned now belongs to the plan.
                        let earlier = self.resumed.unplanned.remove(&planned.id);
                        self.unplanned_at.remove(&planned.id);
                        self.resumed.by_plan.push(earlier);
                        first.planned.push(planned);
                    }
                }
            }
            JournalRecord::Control(_) => self.resumed.has_control = true,
            JournalRecord::Cut(cut) => match lookup.get(&first.planned, &cut.id) {
                Some(i) => {
                    let kept = &mut self.resumed.by_plan[i as usize];
                    if !kept.is_some_and(|k| hides_a_failure(k, cut.status)) {
                        *kept = Some(cut.status);
                    }
                }
                None => {
                    self.unplanned_at.entry(cut.id.clone()).or_insert(line);
                    self.resumed.unplanned.insert(cut.id, cut.status);
                }
            },
            JournalRecord::Resumed(_) | JournalRecord::End(_) => {}
        }
        Ok(())
    }
}

/// The error for a cut record at `line` whose id the journal's plan does not hold.
pub(crate) fn not_planned(path: &Path, line: usize, id: &str) -> JournalError {
    JournalError::NotPlanned {
        path: path.to_path_buf(),
        line,
        id: id.to_owned(),
    }
}

fn line_error(path: &Path, line: usize, message: String) -> JournalError {
    JournalError::Line {
        path: path.to_path_buf(),
        line,
        message,
    }
}

/// Refuses a header of a newer journal format than this build reads.
pub(crate) fn check_format(path: &Path, line: usize, header: &JournalHeader) -> Result<(), JournalError> {
    if header.format > JOURNAL_FORMAT {
        return Err(line_error(
            path,
            line,
            format!(
                "journal format {} is newer than this build reads (up to {JOURNAL_FORMAT})",
                header.format
            ),
        ));
    }
    Ok(())
}

/// The error for a journal whose first record is not its header.
pub(crate) fn header_first(path: &Path, line: usize, record: &JournalRecord) -> JournalError {
    line_error(
        path,
        line,
        format!("expected a `header` record first, found `{}`", record_kind(record)),
    )
}

/// Refuses a later header (a resume by an earlier build) of another campaign or partition than
/// the `first` header, read at `first_line`.
pub(crate) fn check_same_campaign(
    path: &Path,
    line: usize,
    header: &JournalHeader,
    first: &JournalHeader,
    first_line: usize,
) -> Result<(), JournalError> {
    if header.campaign_sha256 != first.campaign_sha256 || header.partition != first.partition {
        let what = format!(
            "header for campaign `{}` (sha256 {}, partition {}) does not match line {}: \
             campaign `{}` (sha256 {}, partition {}); a journal holds one campaign partition",
            header.campaign,
            header.campaign_sha256,
            partition_name(&header.partition),
            first_line,
            first.campaign,
            first.campaign_sha256,
            partition_name(&first.partition),
        );
        return Err(line_error(path, line, what));
    }
    if let crate::model::InputsCompared::Changed(changes) = crate::model::compare_inputs(&first.inputs, &header.inputs)
    {
        let list: Vec<String> = changes
            .iter()
            .map(|c| c.describe(&format!("at line {first_line}"), "here"))
            .collect();
        let what = format!(
            "header of a resumed run read other input files than line {first_line}: {}; a journal holds the \
             results of one set of inputs",
            list.join("; ")
        );
        return Err(line_error(path, line, what));
    }
    Ok(())
}

/// Why a resume is refused: the input files that changed since the run started.
pub fn inputs_changed(changes: &[crate::model::InputChange]) -> String {
    let list: Vec<String> = changes
        .iter()
        .map(|c| c.describe("when the run started", "now"))
        .collect();
    format!(
        "{} the campaign reads changed since the run started ({}); a resumed run would mix results of \
         two different inputs: restore the file as it was, or start a new run in a new --out directory",
        if changes.len() == 1 { "a file" } else { "files" },
        list.join("; ")
    )
}

/// The warning for a resume of a journal that recorded no input files.
pub(crate) fn inputs_not_recorded_note(path: &Path) -> String {
    format!(
        "{}: the journal does not record the campaign's input files (image files, public key, station \
         file): it was written by an earlier cutpoint, so whether they changed since the run started \
         could not be compared",
        path.display()
    )
}

pub(crate) fn resumed_note(path: &Path, line: usize, started: &str) -> String {
    format!("{}:{line}: campaign resumed (started {started})", path.display())
}

/// Whether a later result of `later` status for an id whose kept result is `kept` would hide a
/// device failure: it is then not kept.
///
/// The engine records an id once: a resume runs only the cut points without a result, whatever
/// their status, and running failures and rig errors again (`--filter failed:DIR`) writes a new
/// report directory. So a second record of an id is a copy or an edit of the journal (or two
/// merged journals of one campaign). It is still this plan's result, so the journal still reads
/// (unlike a record outside the plan) and a later result supersedes an earlier rig error or
/// pass, as before; but a device failure is evidence that a later result cannot take back: the
/// failure stands, and the conflict is noted with both lines.
pub(crate) fn hides_a_failure(kept: Status, later: Status) -> bool {
    kept == Status::Fail && later != Status::Fail
}

/// The note (also said on stderr at once) about a later result that would hide a device
/// failure recorded at `failed_line`.
pub(crate) fn failure_stands_note(path: &Path, line: usize, id: &str, later: Status, failed_line: usize) -> String {
    let note = format!(
        "{}:{line}: cut point `{id}` recorded again as {later} after a device failure at line {failed_line}; \
         the failure stands (a later result never hides a device failure): check which record is \
         right, and run the cut point again into a new report directory to see it now",
        path.display()
    );
    eprintln!("cutpoint: {note}");
    note
}

pub(crate) fn recorded_again_note(path: &Path, line: usize, id: &str, first_line: usize) -> String {
    format!(
        "{}:{line}: cut point `{id}` recorded again (first at line {first_line}); keeping the later result",
        path.display()
    )
}

fn record_kind(record: &JournalRecord) -> &'static str {
    match record {
        JournalRecord::Header(_) => "header",
        JournalRecord::Resumed(_) => "resumed",
        JournalRecord::Control(_) => "control",
        JournalRecord::Cut(_) => "cut",
        JournalRecord::End(_) => "end",
    }
}

pub(crate) fn partition_name(partition: &Option<String>) -> &str {
    partition.as_deref().unwrap_or("none")
}

/// Appends records to `results.jsonl`, syncing the data to storage after every record.
#[derive(Debug)]
pub struct JournalWriter {
    path: PathBuf,
    file: File,
    /// Length of the file after the last complete record.
    len: u64,
    /// Consoles written in full lately, for later records with the same to name.
    ledger: ConsoleLedger,
}

impl JournalWriter {
    /// Starts a new journal `dir/results.jsonl` (creating `dir` when missing) and writes its header.
    /// Refuses when a journal with records is already there, so earlier results are never
    /// overwritten; a journal without a single record (a run stopped as it started) is started
    /// afresh.
    pub fn create(dir: &Path, header: &JournalHeader) -> Result<Self, JournalError> {
        fsio::create_dir_all(dir)?;
        let path = dir.join(JOURNAL_FILE);
        let file = match OpenOptions::new().append(true).create_new(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !holds_no_record(&path)? {
                    return Err(JournalError::Exists { path });
                }
                return Self::start_afresh(path, header);
            }
            Err(e) => return Err(PathError::new(&path, e).into()),
        };
        fsio::sync_dir(dir)?;
        let mut writer = JournalWriter {
            path,
            file,
            len: 0,
            ledger: ConsoleLedger::default(),
        };
        if let Err(e) = writer.append_ref(&RecordRef::Header(header)) {
            // An empty journal would block the next attempt: remove it.
            let _ = fs::remove_file(&writer.path);
            return Err(e);
        }
        Ok(writer)
    }

    /// Empties the journal at `path` (it holds no record) and writes `header`.
    fn start_afresh(path: PathBuf, header: &JournalHeader) -> Result<Self, JournalError> {
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| PathError::new(&path, e))?;
        file.set_len(0).map_err(|e| PathError::new(&path, e))?;
        let mut writer = JournalWriter {
            path,
            file,
            len: 0,
            ledger: ConsoleLedger::default(),
        };
        writer.append_ref(&RecordRef::Header(header))?;
        Ok(writer)
    }

    /// Reopens `dir/results.jsonl` to resume a campaign: reads what is there one record at a
    /// time, refuses a different campaign (SHA-256 of the campaign file), partition or plan, cuts
    /// off a torn last line, then appends a `resumed` record (the header is not written again).
    /// Returns which cut points finished and how (see [`Resumed`]): not their records, so a
    /// resume of a million results holds a byte or so per cut point.
    ///
    /// A journal without a header (the run was stopped as it started) is started afresh with
    /// `header`, as [`JournalWriter::create`] would.
    pub fn resume(dir: &Path, header: &JournalHeader) -> Result<(Self, Resumed), JournalError> {
        let path = dir.join(JOURNAL_FILE);
        // How each cut point ended is all a resume needs: consoles are checked, not kept.
        let mut reader = JournalReader::open(&path)?.without_consoles();
        let mut fold = ResumeFold::new(&path);
        for item in reader.by_ref() {
            let at = item?;
            fold.add(at.line, at.record)?;
        }
        let torn = reader.torn_tail();
        drop(reader);
        let Some(first) = fold.header.take() else {
            let note = format!(
                "{}: the journal had no header (the run was stopped as it started); started afresh",
                path.display()
            );
            let writer = Self::start_afresh(path, header)?;
            let mut resumed = Resumed::new(header.planned.len());
            resumed.notes.push(note);
            return Ok((writer, resumed));
        };
        if first.campaign_sha256 != header.campaign_sha256 {
            return Err(JournalError::Mismatch {
                path,
                what: format!(
                    "the journal is for campaign `{}` (sha256 {}), not `{}` (sha256 {}); \
                     the campaign file changed since the run started",
                    first.campaign, first.campaign_sha256, header.campaign, header.campaign_sha256
                ),
            });
        }
        let inputs_note = match crate::model::compare_inputs(&first.inputs, &header.inputs) {
            crate::model::InputsCompared::Same => None,
            crate::model::InputsCompared::NotRecorded => Some(inputs_not_recorded_note(&path)),
            crate::model::InputsCompared::Changed(changes) => {
                return Err(JournalError::Mismatch {
                    what: inputs_changed(&changes),
                    path,
                });
            }
        };
        if first.partition != header.partition {
            return Err(JournalError::Mismatch {
                path,
                what: format!(
                    "the journal is for partition {}, not {}",
                    partition_name(&first.partition),
                    partition_name(&header.partition)
                ),
            });
        }
        if let Some(what) = plan_difference(&first.planned, &header.planned) {
            return Err(JournalError::Mismatch {
                path,
                what: format!(
                    "the journal's plan differs from this run's: {what}; the campaign file is the same, \
                     so the firmware or cutpoint changed since the run started: \
                     start a new run in another directory instead of resuming"
                ),
            });
        }
        fold.check_planned()?;
        let mut resumed = fold.resumed;
        resumed.warnings.extend(inputs_note);
        drop(first);

        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| PathError::new(&path, e))?;
        let mut len = file.metadata().map_err(|e| PathError::new(&path, e))?.len();
        if let Some(torn) = torn {
            file.set_len(torn.offset).map_err(|e| PathError::new(&path, e))?;
            file.sync_data().map_err(|e| PathError::new(&path, e))?;
            len = torn.offset;
            resumed.notes.push(torn_note(
                &path,
                torn,
                "removed before resuming; its cut point runs again",
            ));
        }
        let mut writer = JournalWriter {
            path,
            file,
            len,
            ledger: ConsoleLedger::default(),
        };
        if len > 0 && !writer.ends_with_newline()? {
            writer.write_synced(b"\n")?;
        }
        writer.append(&JournalRecord::Resumed(JournalResumed {
            started: header.started.clone(),
        }))?;
        Ok((writer, resumed))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one record as one line and syncs it to storage before returning.
    pub fn append(&mut self, record: &JournalRecord) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(record).map_err(|source| JournalError::Encode {
            path: self.path.clone(),
            source,
        })?;
        line.push(b'\n');
        self.write_synced(&line)
    }

    pub fn append_control(&mut self, control: &ControlRun) -> Result<(), JournalError> {
        self.append_ref(&RecordRef::Control(control))
    }

    pub fn append_cut(&mut self, cut: &CutResult) -> Result<(), JournalError> {
        self.append_cuts(std::slice::from_ref(cut))
    }

    /// Writes one record as one line, streamed to the file (a header with a plan of a million
    /// cut points is never held as text), and syncs it.
    fn append_ref(&mut self, record: &RecordRef<'_>) -> Result<(), JournalError> {
        let mut out = Counted {
            inner: io::BufWriter::with_capacity(64 * 1024, &self.file),
            written: 0,
        };
        let result = serde_json::to_writer(&mut out, record)
            .map_err(|source| match source.io_error_kind() {
                Some(_) => JournalError::from(PathError::new(&self.path, io::Error::from(source))),
                None => JournalError::Encode {
                    path: self.path.clone(),
                    source,
                },
            })
            .and_then(|()| {
                out.write_all(b"\n")
                    .and_then(|()| out.flush())
                    .map_err(|e| PathError::new(&self.path, e).into())
            });
        let written = out.written;
        drop(out);
        let result = result.and_then(|()| {
            self.file
                .sync_data()
                .map_err(|e| JournalError::from(PathError::new(&self.path, e)))
        });
        if let Err(e) = result {
            // Do not leave half a line for the next record to be glued to.
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += written;
        Ok(())
    }

    /// Writes several cut records (the results that finished together) with one sync: none of
    /// them is reported before it is on storage, and a burst costs one sync instead of many.
    /// A cut whose console equals one written in full lately names it instead (`console_at`).
    pub fn append_cuts(&mut self, cuts: &[CutResult]) -> Result<(), JournalError> {
        let mut lines = Vec::new();
        for cut in cuts {
            let written = encode_cut(&mut lines, cut, &mut self.ledger);
            if let Err(source) = written {
                self.ledger.clear();
                return Err(JournalError::Encode {
                    path: self.path.clone(),
                    source,
                });
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        let result = self.write_synced(&lines);
        if result.is_err() {
            // The records are taken back: their consoles are not there to name.
            self.ledger.clear();
        }
        result
    }

    pub fn append_end(&mut self, end: &JournalEnd) -> Result<(), JournalError> {
        self.append_ref(&RecordRef::End(end))
    }

    fn write_synced(&mut self, bytes: &[u8]) -> Result<(), JournalError> {
        let result = self.file.write_all(bytes).and_then(|()| self.file.sync_data());
        if let Err(e) = result {
            // Do not leave half a line for the next record to be glued to.
            let _ = self.file.set_len(self.len);
            return Err(PathError::new(&self.path, e).into());
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn ends_with_newline(&self) -> Result<bool, JournalError> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = File::open(&self.path).map_err(|e| PathError::new(&self.path, e))?;
        file.seek(SeekFrom::Start(self.len.saturating_sub(1)))
            .map_err(|e| PathError::new(&self.path, e))?;
        let mut last = [0u8; 1];
        let n = file.read(&mut last).map_err(|e| PathError::new(&self.path, e))?;
        Ok(n == 1 && last[0] == b'\n')
    }
}

/// Writes `cut`'s record, as a line, to `out`: naming the record of an equal console `ledger`
/// holds, or with its console in full (then kept in `ledger`).
pub(crate) fn encode_cut(out: &mut impl Write, cut: &CutResult, ledger: &mut ConsoleLedger) -> serde_json::Result<()> {
    debug_assert!(cut.console_of.is_none(), "a result read back has its console");
    match ledger.find(&cut.console) {
        Some(of) => serde_json::to_writer(&mut *out, &RecordRef::Cut(&cut.naming_console(&of)))?,
        None => {
            serde_json::to_writer(&mut *out, &RecordRef::Cut(cut))?;
            ledger.wrote(&cut.id, cut.status, &cut.console);
        }
    }
    out.write_all(b"\n").map_err(serde_json::Error::io)
}

/// A writer that counts the bytes it passes on.
struct Counted<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A journal record that borrows what it holds: written exactly as the [`JournalRecord`] holding
/// the same, without copying it (a plan of a million cut points, a cut's console).
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum RecordRef<'a> {
    Header(&'a JournalHeader),
    Control(&'a ControlRun),
    Cut(&'a CutResult),
    End(&'a JournalEnd),
}

/// Whether the journal at `path` holds no record at all (empty, blank, or only a torn first line).
fn holds_no_record(path: &Path) -> Result<bool, JournalError> {
    let mut reader = JournalReader::open(path)?;
    Ok(reader.next().is_none())
}

/// How the recorded plan differs from `now` (ids, phases and offsets, in order), if it does.
fn plan_difference(recorded: &[PlannedCut], now: &[PlannedCut]) -> Option<String> {
    let same = |a: &PlannedCut, b: &PlannedCut| a.id == b.id && a.phase == b.phase && a.offset == b.offset;
    if recorded.len() == now.len() && recorded.iter().zip(now).all(|(a, b)| same(a, b)) {
        return None;
    }
    let counts = format!("it plans {} cut points, this run {}", recorded.len(), now.len());
    let first = recorded.iter().zip(now).position(|(a, b)| !same(a, b));
    Some(match first {
        Some(i) => format!(
            "{counts}; cut point #{} is `{}` in the journal, `{}` now",
            i + 1,
            recorded[i].id,
            now[i].id
        ),
        None => counts,
    })
}

/// Writes a whole journal at once (a merged view), atomically and synced once at the end.
pub fn write_journal_file(path: &Path, journal: &Journal) -> Result<(), JournalError> {
    let mut bytes = Vec::new();
    let mut ledger = ConsoleLedger::default();
    for record in journal.to_records() {
        let written = match &record {
            JournalRecord::Cut(cut) => encode_cut(&mut bytes, cut, &mut ledger),
            other => serde_json::to_writer(&mut bytes, other).map(|()| bytes.push(b'\n')),
        };
        written.map_err(|source| JournalError::Encode {
            path: path.to_path_buf(),
            source,
        })?;
    }
    fsio::write_atomic(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use crate::testutil::{cut, header};

    /// A cut record with a console of two lines, as the writer writes it.
    fn cut_line_with_console() -> (CutResult, Vec<u8>) {
        let mut c = cut("swap/a", Status::Pass);
        c.warnings = vec!["late".into()];
        c.console = vec![
            crate::model::LogLine {
                t_us: 5,
                text: "boot \"1.0.0\" \u{e9}".into(),
            },
            crate::model::LogLine {
                t_us: 9,
                text: "ok".into(),
            },
        ];
        let line = serde_json::to_vec(&RecordRef::Cut(&c)).unwrap();
        (c, line)
    }

    #[test]
    fn a_brief_read_is_the_whole_read_without_the_console() {
        let (whole, line) = cut_line_with_console();
        let Ok(JournalRecord::Cut(brief)) = parse_record_as(&line, true) else {
            panic!("not read as a cut")
        };
        assert!(brief.console.is_empty());
        assert_eq!(
            CutResult {
                console: whole.console.clone(),
                ..brief
            },
            whole
        );
        assert_eq!(parse_record(&line).unwrap(), JournalRecord::Cut(whole));
    }

    #[test]
    fn a_brief_read_still_refuses_a_console_of_the_wrong_shape() {
        let (_, line) = cut_line_with_console();
        let text = String::from_utf8(line).unwrap();
        for bad in [
            text.replace("\"t_us\":5", "\"t_us\":\"5\""),
            text.replace("\"text\":\"ok\"", "\"text\":7"),
            text.replace(",\"text\":\"ok\"", ""),
            text.replace("\"console\":[", "\"console\":{\"a\":["),
        ] {
            assert_ne!(bad, text);
            let whole = parse_record(bad.as_bytes()).unwrap_err();
            let brief = parse_record_as(bad.as_bytes(), true).unwrap_err();
            assert!(whole.is_data() || whole.is_syntax(), "{whole}");
            assert_eq!(brief.classify(), whole.classify(), "{bad}: {brief} / {whole}");
        }
        // A tear is still a tear.
        let torn = &text.as_bytes()[..text.len() - 20];
        assert!(parse_record_as(torn, true).unwrap_err().is_eof());
    }

    #[test]
    fn write_then_read_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let h = header("aa", None, &["swap/a", "swap/b", "swap/c"]);
        let mut w = JournalWriter::create(dir.path(), &h).unwrap();
        let control = ControlRun {
            status: Status::Pass,
            reasons: vec![],
            phases: vec![],
            console: vec![],
            flash_ops: Some(12),
        };
        w.append_control(&control).unwrap();
        w.append_cut(&cut("swap/a", Status::Pass)).unwrap();
        w.append_cut(&cut("swap/b", Status::Fail)).unwrap();
        let end = JournalEnd {
            finished: "2025-01-01T01:00:00Z".into(),
            how: "cancelled".into(),
        };
        w.append_end(&end).unwrap();

        let j = read_journal(dir.path()).unwrap();
        assert_eq!(j.header, h);
        assert_eq!(j.control, Some(control));
        assert_eq!(j.cuts, vec![cut("swap/a", Status::Pass), cut("swap/b", Status::Fail)]);
        assert_eq!(j.end, Some(end));
        assert!(j.notes.is_empty(), "{:?}", j.notes);
        assert_eq!(j.finished_ids(), HashSet::from(["swap/a", "swap/b"]));
        assert_eq!(
            j.remaining().iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["swap/c"]
        );
    }

    #[test]
    fn records_read_straight_into_their_types_read_as_the_tagged_record() {
        let h = header("aa", None, &["swap/a"]);
        let mut c = cut("swap/a", Status::Fail);
        c.console = vec![crate::model::LogLine {
            t_us: 3,
            text: "a \"quoted\" \\ line".into(),
        }];
        for record in [JournalRecord::Header(h), JournalRecord::Cut(c)] {
            let line = serde_json::to_vec(&record).unwrap();
            assert_eq!(parse_record(&line).unwrap(), record);
            assert_eq!(serde_json::from_slice::<JournalRecord>(&line).unwrap(), record);
            // A tear is a tear either way, and a record of the wrong shape is not.
            let torn = &line[..line.len() - 3];
            assert!(!parse_record(torn).unwrap_err().is_data());
            assert!(!serde_json::from_slice::<JournalRecord>(torn).unwrap_err().is_data());
        }
        let bad = br#"{"record":"cut","id":"swap/a"}"#;
        assert!(parse_record(bad).unwrap_err().is_data());
        assert!(serde_json::from_slice::<JournalRecord>(bad).unwrap_err().is_data());
    }

    #[test]
    fn borrowed_records_are_written_as_owned_ones() {
        let h = header("aa", Some("1/2"), &["swap/a"]);
        let c = cut("swap/a", Status::Fail);
        let control = ControlRun {
            status: Status::Pass,
            reasons: vec![],
            phases: vec![],
            console: vec![],
            flash_ops: Some(1),
        };
        let end = JournalEnd {
            finished: "x".into(),
            how: "complete".into(),
        };
        let pairs = [
            (RecordRef::Header(&h), JournalRecord::Header(h.clone())),
            (RecordRef::Control(&control), JournalRecord::Control(control.clone())),
            (RecordRef::Cut(&c), JournalRecord::Cut(c.clone())),
            (RecordRef::End(&end), JournalRecord::End(end.clone())),
        ];
        for (borrowed, owned) in pairs {
            assert_eq!(
                serde_json::to_string(&borrowed).unwrap(),
                serde_json::to_string(&owned).unwrap()
            );
        }
    }

    #[test]
    fn create_refuses_an_existing_journal() {
        let dir = tempfile::tempdir().unwrap();
        JournalWriter::create(dir.path(), &header("aa", None, &[])).unwrap();
        let err = JournalWriter::create(dir.path(), &header("aa", None, &[])).unwrap_err();
        assert!(matches!(err, JournalError::Exists { .. }), "{err}");
        // A damaged first line is not mistaken for an unfinished start.
        fs::write(dir.path().join(JOURNAL_FILE), "{\"record\":\"hea\n{}\n").unwrap();
        let err = JournalWriter::create(dir.path(), &header("aa", None, &[])).unwrap_err();
        assert!(matches!(err, JournalError::Exists { .. }), "{err}");
    }

    fn write_lines(dir: &Path, lines: &[String], tail: &[u8]) -> PathBuf {
        let path = dir.join(JOURNAL_FILE);
        let mut bytes = Vec::new();
        for line in lines {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(tail);
        fs::write(&path, bytes).unwrap();
        path
    }

    fn line(record: JournalRecord) -> String {
        serde_json::to_string(&record).unwrap()
    }

    #[test]
    fn torn_last_line_is_tolerated_and_noted() {
        let dir = tempfile::tempdir().unwrap();
        let full = line(JournalRecord::Cut(cut("swap/b", Status::Pass)));
        let lines = [
            line(JournalRecord::Header(header("aa", None, &["swap/a", "swap/b"]))),
            line(JournalRecord::Cut(cut("swap/a", Status::Pass))),
        ];
        let path = write_lines(dir.path(), &lines, &full.as_bytes()[..full.len() / 2]);
        let j = read_journal(&path).unwrap();
        assert_eq!(j.cuts.len(), 1);
        assert_eq!(j.notes.len(), 1);
        assert!(
            j.notes[0].contains("results.jsonl:3: torn last record ignored"),
            "{:?}",
            j.notes
        );
    }

    #[test]
    fn torn_last_line_ending_in_a_newline_is_torn_too() {
        let dir = tempfile::tempdir().unwrap();
        let full = line(JournalRecord::Cut(cut("swap/b", Status::Pass)));
        let lines = [
            line(JournalRecord::Header(header("aa", None, &["swap/a", "swap/b"]))),
            line(JournalRecord::Cut(cut("swap/a", Status::Pass))),
            full[..full.len() / 2].to_owned(),
        ];
        let path = write_lines(dir.path(), &lines, b"\n");
        let j = read_journal(&path).unwrap();
        assert_eq!(j.cuts.len(), 1);
        assert!(
            j.notes[0].contains("results.jsonl:3: torn last record ignored"),
            "{:?}",
            j.notes
        );
    }

    #[test]
    fn resume_cuts_a_torn_line_that_ends_in_a_newline() {
        let dir = tempfile::tempdir().unwrap();
        let h = header("aa", None, &["swap/a", "swap/b"]);
        let full = line(JournalRecord::Cut(cut("swap/b", Status::Pass)));
        let lines = [
            line(JournalRecord::Header(h.clone())),
            line(JournalRecord::Cut(cut("swap/a", Status::Pass))),
            full[..40].to_owned(),
        ];
        write_lines(dir.path(), &lines, b"");
        let (mut w, before) = JournalWriter::resume(dir.path(), &h).unwrap();
        assert_eq!(
            before
                .remaining(&h.planned)
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>(),
            ["swap/b"],
            "the torn cut point runs again"
        );
        assert!(
            before
                .notes
                .iter()
                .any(|n| n.contains("results.jsonl:3: torn last record removed before resuming")),
            "{:?}",
            before.notes
        );
        w.append_cut(&cut("swap/b", Status::Pass)).unwrap();
        drop(w);
        let text = fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert!(
            text.lines().all(|l| serde_json::from_str::<JournalRecord>(l).is_ok()),
            "torn line cut off: {text}"
        );
        assert_eq!(text.lines().count(), 4, "header, swap/a, resumed, swap/b: {text}");
        let j = read_journal(dir.path()).unwrap();
        assert_eq!(j.cuts.len(), 2);
        assert!(j.notes.iter().all(|n| !n.contains("torn")), "{:?}", j.notes);
    }

    #[test]
    fn a_journal_without_its_header_is_an_unfinished_start() {
        let h = header("aa", None, &["swap/a"]);
        let torn_header = line(JournalRecord::Header(h.clone()));
        let leftovers: [&[u8]; 3] = [b"", b"\n", &torn_header.as_bytes()[..30]];
        for leftover in leftovers {
            // A fresh run into the directory is allowed...
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(JOURNAL_FILE), leftover).unwrap();
            let mut w = JournalWriter::create(dir.path(), &h).unwrap();
            w.append_cut(&cut("swap/a", Status::Pass)).unwrap();
            let j = read_journal(dir.path()).unwrap();
            assert_eq!((j.header.clone(), j.cuts.len()), (h.clone(), 1));

            // ...and so is a resume, which starts afresh.
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(JOURNAL_FILE), leftover).unwrap();
            let (mut w, before) = JournalWriter::resume(dir.path(), &h).unwrap();
            assert_eq!(before.finished(), 0);
            assert_eq!(before.remaining(&h.planned).len(), 1);
            assert!(before.notes[0].contains("started afresh"), "{:?}", before.notes);
            w.append_cut(&cut("swap/a", Status::Pass)).unwrap();
            let j = read_journal(dir.path()).unwrap();
            assert_eq!((j.header, j.cuts.len()), (h.clone(), 1));
            assert!(j.notes.is_empty(), "{:?}", j.notes);
        }
    }

    #[test]
    fn zero_filled_tail_is_torn() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [line(JournalRecord::Header(header("aa", None, &["swap/a"])))];
        let path = write_lines(dir.path(), &lines, &[0u8; 300]);
        let j = read_journal(&path).unwrap();
        assert!(j.notes[0].contains(":2: torn last record"), "{:?}", j.notes);
    }

    #[test]
    fn bad_middle_line_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            line(JournalRecord::Header(header("aa", None, &["swap/a", "swap/b"]))),
            String::new(),
            r#"{"record":"cut","id":"swap/a"#.to_owned(),
            line(JournalRecord::Cut(cut("swap/b", Status::Pass))),
        ];
        let path = write_lines(dir.path(), &lines, b"");
        let err = read_journal(&path).unwrap_err().to_string();
        let expected = format!("{}:3: not a valid journal record: ", path.display());
        assert!(err.starts_with(&expected), "{err}");
    }

    #[test]
    fn complete_but_invalid_last_line_is_an_error() {
        // A hand-edited last line ends with a newline: it is not torn, so it is reported.
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            line(JournalRecord::Header(header("aa", None, &["swap/a"]))),
            r#"{"record":"cut","id":"swap/a"}"#.to_owned(),
        ];
        let path = write_lines(dir.path(), &lines, b"");
        let err = read_journal(&path).unwrap_err().to_string();
        assert!(
            err.contains("results.jsonl:2: not a valid journal record: missing field"),
            "{err}"
        );
    }

    #[test]
    fn first_record_must_be_a_header() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [line(JournalRecord::Cut(cut("swap/a", Status::Pass)))];
        let path = write_lines(dir.path(), &lines, b"");
        let err = read_journal(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("results.jsonl:1: expected a `header` record first, found `cut`"),
            "{err}"
        );
    }

    #[test]
    fn empty_and_missing_journals_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_journal(&dir.path().join("nope.jsonl")).unwrap_err().to_string();
        assert!(err.contains("nope.jsonl"), "{err}");
        let path = write_lines(dir.path(), &[], b"\n\n");
        let err = read_journal(&path).unwrap_err();
        assert!(matches!(err, JournalError::NoHeader { .. }), "{err}");
    }

    #[test]
    fn newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = header("aa", None, &[]);
        h.format = JOURNAL_FORMAT + 1;
        let path = write_lines(dir.path(), &[line(JournalRecord::Header(h))], b"");
        let err = read_journal(&path).unwrap_err().to_string();
        assert!(err.contains(":1: journal format 2 is newer"), "{err}");
    }

    #[test]
    fn append_after_reopen_keeps_earlier_records() {
        let dir = tempfile::tempdir().unwrap();
        let h = header("aa", Some("1/2"), &["swap/a", "swap/b"]);
        let mut w = JournalWriter::create(dir.path(), &h).unwrap();
        w.append_cut(&cut("swap/a", Status::Fail)).unwrap();
        drop(w);

        let mut h2 = h.clone();
        h2.started = "2025-01-02T00:00:00Z".into();
        let (mut w, before) = JournalWriter::resume(dir.path(), &h2).unwrap();
        let remaining: Vec<_> = before.remaining(&h2.planned).iter().map(|p| p.id.as_str()).collect();
        assert_eq!(remaining, ["swap/b"]);
        assert_eq!(before.statuses().collect::<Vec<_>>(), [Status::Fail]);
        w.append_cut(&cut("swap/b", Status::Pass)).unwrap();
        drop(w);

        let j = read_journal(dir.path()).unwrap();
        assert_eq!(j.header, h, "the first header stays the journal's header");
        let ids: Vec<_> = j.cuts.iter().map(|c| (c.id.as_str(), c.status)).collect();
        assert_eq!(ids, [("swap/a", Status::Fail), ("swap/b", Status::Pass)]);
        assert!(
            j.notes
                .iter()
                .any(|n| n.contains(":3: campaign resumed (started 2025-01-02")),
            "{:?}",
            j.notes
        );
        let text = fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(
            text.matches("\"record\":\"header\"").count(),
            1,
            "a resume records its plan once: {text}"
        );
        assert!(text.contains("{\"record\":\"resumed\",\"started\":\"2025-01-02T00:00:00Z\"}\n"));
    }

    #[test]
    fn journals_of_earlier_builds_repeat_the_header_and_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let h = header("aa", None, &["swap/a", "swap/b"]);
        let lines = [
            line(JournalRecord::Header(h.clone())),
            line(JournalRecord::Cut(cut("swap/a", Status::Pass))),
            line(JournalRecord::Header(h.clone())),
            line(JournalRecord::Cut(cut("swap/b", Status::Pass))),
        ];
        let path = write_lines(dir.path(), &lines, b"");
        let j = read_journal(&path).unwrap();
        assert_eq!(j.cuts.len(), 2);
        assert_eq!(j.header.planned.len(), 2);
        // An old header has no `expect`: it reads as an ordinary campaign.
        let old = line(JournalRecord::Header(h)).replace(",\"expect\":\"pass\"", "");
        assert!(!old.contains("expect"), "{old}");
        let path = write_lines(dir.path(), &[old], b"");
        assert_eq!(read_journal(&path).unwrap().header.expect, crate::model::Expect::Pass);
    }

    #[test]
    fn resume_refuses_a_different_plan_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        JournalWriter::create(dir.path(), &header("aa", None, &["swap/a", "swap/b"])).unwrap();
        let before = fs::read(dir.path().join(JOURNAL_FILE)).unwrap();
        let err = JournalWriter::resume(dir.path(), &header("aa", None, &["swap/a", "swap/c"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "the journal's plan differs from this run's: it plans 2 cut points, this run 2; \
                 cut point #2 is `swap/b` in the journal, `swap/c` now"
            ),
            "{err}"
        );
        assert!(err.contains("start a new run in another directory"), "{err}");
        assert_eq!(fs::read(dir.path().join(JOURNAL_FILE)).unwrap(), before);
    }

    #[test]
    fn resume_cuts_a_torn_tail_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let h = header("aa", None, &["swap/a", "swap/b"]);
        let full = line(JournalRecord::Cut(cut("swap/b", Status::Pass)));
        let lines = [
            line(JournalRecord::Header(h.clone())),
            line(JournalRecord::Cut(cut("swap/a", Status::Pass))),
        ];
        write_lines(dir.path(), &lines, &full.as_bytes()[..40]);

        let (mut w, before) = JournalWriter::resume(dir.path(), &h).unwrap();
        assert!(
            before.notes.iter().any(|n| n.contains("torn last record removed")),
            "{:?}",
            before.notes
        );
        w.append_cut(&cut("swap/b", Status::Pass)).unwrap();
        drop(w);
        let j = read_journal(dir.path()).unwrap();
        assert_eq!(j.cuts.len(), 2);
        assert!(j.notes.iter().all(|n| !n.contains("torn")), "{:?}", j.notes);
    }

    #[test]
    fn resume_adds_a_missing_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let h = header("aa", None, &["swap/a"]);
        let text = line(JournalRecord::Header(h.clone()));
        write_lines(dir.path(), &[], text.as_bytes());
        let (mut w, _) = JournalWriter::resume(dir.path(), &h).unwrap();
        w.append_cut(&cut("swap/a", Status::Pass)).unwrap();
        drop(w);
        assert_eq!(read_journal(dir.path()).unwrap().cuts.len(), 1);
    }

    #[test]
    fn resume_refuses_another_campaign_or_partition() {
        let dir = tempfile::tempdir().unwrap();
        JournalWriter::create(dir.path(), &header("aa", Some("1/2"), &[])).unwrap();
        let err = JournalWriter::resume(dir.path(), &header("bb", Some("1/2"), &[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("campaign file changed"), "{err}");
        let err = JournalWriter::resume(dir.path(), &header("aa", Some("2/2"), &[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("partition 1/2, not 2/2"), "{err}");
        // Nothing was appended by the refused attempts.
        let text = fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn a_header_of_another_campaign_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            line(JournalRecord::Header(header("aa", None, &[]))),
            line(JournalRecord::Header(header("bb", None, &[]))),
        ];
        let path = write_lines(dir.path(), &lines, b"");
        let err = read_journal(&path).unwrap_err().to_string();
        assert!(err.contains("results.jsonl:2: header for campaign"), "{err}");
    }

    #[test]
    fn duplicate_cut_keeps_the_later_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            line(JournalRecord::Header(header("aa", None, &["swap/a"]))),
            line(JournalRecord::Cut(cut("swap/a", Status::Error))),
            line(JournalRecord::Cut(cut("swap/a", Status::Pass))),
        ];
        let path = write_lines(dir.path(), &lines, b"");
        let j = read_journal(&path).unwrap();
        assert_eq!(j.cuts.len(), 1);
        assert_eq!(j.cuts[0].status, Status::Pass);
        assert!(
            j.notes[0].contains(":3: cut point `swap/a` recorded again (first at line 2)"),
            "{:?}",
            j.notes
        );
    }

    #[test]
    fn a_cut_outside_the_plan_is_refused_with_its_line_and_id() {
        let dir = tempfile::tempdir().unwrap();
        let h = header("aa", None, &["swap/a", "swap/b"]);
        let lines = [
            line(JournalRecord::Header(h.clone())),
            line(JournalRecord::Cut(cut("swap/a", Status::Pass))),
            line(JournalRecord::Cut(cut("other/x", Status::Pass))),
            line(JournalRecord::Cut(cut("other/y", Status::Fail))),
        ];
        let path = write_lines(dir.path(), &lines, b"");
        let err = read_journal(&path).unwrap_err();
        assert!(matches!(err, JournalError::NotPlanned { line: 3, .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "{}:3: cut point `other/x` is not in this journal's plan: the record belongs to another plan",
                path.display()
            )),
            "{text}"
        );
        assert!(
            text.contains("remove line 3 from the journal, or report the journal the record came from"),
            "{text}"
        );

        // A resume refuses it too, and writes nothing.
        let before = fs::read(&path).unwrap();
        let err = JournalWriter::resume(dir.path(), &h).unwrap_err();
        assert!(matches!(err, JournalError::NotPlanned { line: 3, .. }), "{err}");
        assert!(err.to_string().contains("`other/x`"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_cut_that_a_later_header_plans_still_reads() {
        // Earlier builds repeated the header at each resume; one may plan an id recorded before.
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            line(JournalRecord::Header(header("aa", None, &["swap/a"]))),
            line(JournalRecord::Cut(cut("swap/b", Status::Pass))),
            line(JournalRecord::Header(header("aa", None, &["swap/a", "swap/b"]))),
        ];
        let path = write_lines(dir.path(), &lines, b"");
        assert_eq!(read_journal(&path).unwrap().cuts.len(), 1);
        let (_, resumed) = JournalWriter::resume(dir.path(), &header("aa", None, &["swap/a", "swap/b"])).unwrap();
        assert_eq!(resumed.finished(), 1);
    }

    #[test]
    fn a_later_result_never_hides_a_device_failure() {
        let dir = tempfile::tempdir().unwrap();
        let h = header("aa", None, &["swap/a"]);
        let lines = [
            line(JournalRecord::Header(h.clone())),
            line(JournalRecord::Cut(cut("swap/a", Status::Fail))),
            line(JournalRecord::Cut(cut("swap/a", Status::Pass))),
            line(JournalRecord::Cut(cut("swap/a", Status::Error))),
        ];
        let path = write_lines(dir.path(), &lines, b"");
        let j = read_journal(&path).unwrap();
        assert_eq!(j.cuts.len(), 1);
        assert_eq!(j.cuts[0].status, Status::Fail, "the failure stands");
        assert!(
            j.notes[0].contains(
                ":3: cut point `swap/a` recorded again as pass after a device failure at line 2; \
                 the failure stands"
            ),
            "{:?}",
            j.notes
        );
        assert!(
            j.notes[1].contains(":4: cut point `swap/a` recorded again as error after a device failure at line 2"),
            "{:?}",
            j.notes
        );
        let (_, resumed) = JournalWriter::resume(dir.path(), &h).unwrap();
        assert_eq!(resumed.statuses().collect::<Vec<_>>(), [Status::Fail]);
    }

    #[test]
    fn a_later_failure_replaces_an_earlier_pass() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            line(JournalRecord::Header(header("aa", None, &["swap/a"]))),
            line(JournalRecord::Cut(cut("swap/a", Status::Pass))),
            line(JournalRecord::Cut(cut("swap/a", Status::Fail))),
        ];
        let path = write_lines(dir.path(), &lines, b"");
        let j = read_journal(&path).unwrap();
        assert_eq!(j.cuts[0].status, Status::Fail);
        assert!(
            j.notes[0].contains(":3: cut point `swap/a` recorded again (first at line 2)"),
            "{:?}",
            j.notes
        );
    }

    #[test]
    fn written_journal_file_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::new(header("aa", None, &["swap/a"]));
        j.cuts.push(cut("swap/a", Status::Fail));
        let path = dir.path().join(JOURNAL_FILE);
        write_journal_file(&path, &j).unwrap();
        let back = read_journal(&path).unwrap();
        assert_eq!(back.header, j.header);
        assert_eq!(back.cuts, j.cuts);
    }

    fn console(texts: &[&str]) -> Vec<crate::model::LogLine> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| crate::model::LogLine {
                t_us: 100 * i as u64,
                text: (*t).into(),
            })
            .collect()
    }

    fn with_console(id: &str, texts: &[&str]) -> CutResult {
        CutResult {
            console: console(texts),
            ..cut(id, Status::Pass)
        }
    }

    #[test]
    fn a_repeated_console_is_written_once_and_every_reader_gives_it_back() {
        let tmp = tempfile::tempdir().unwrap();
        let ids = ["swap/a", "swap/b", "swap/c", "swap/d", "swap/e"];
        let mut w = JournalWriter::create(tmp.path(), &header("aa", None, &ids)).unwrap();
        let x = ["boot: start", "boot: swap-resume", "boot: jump"];
        let cuts = [
            with_console("swap/a", &x),
            with_console("swap/b", &x),
            with_console("swap/c", &["boot: start", "boot: jump"]),
        ];
        w.append_cut(&cuts[0]).unwrap();
        // In one batch: a console of this batch and one of an earlier write are both named.
        let batch = vec![
            cuts[1].clone(),
            cuts[2].clone(),
            with_console("swap/d", &["boot: start", "boot: jump"]),
        ];
        w.append_cuts(&batch).unwrap();
        let path = tmp.path().join(JOURNAL_FILE);
        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].contains("boot: swap-resume") && !lines[1].contains("console_of"));
        assert!(
            lines[2].contains("\"console\":[],\"console_of\":\"swap/a\","),
            "{}",
            lines[2]
        );
        assert!(!lines[3].contains("console_of"));
        assert!(lines[4].contains("\"console_of\":\"swap/c\","), "{}", lines[4]);

        // Whole reads, from the file and from bytes.
        let expected = [cuts[0].clone(), cuts[1].clone(), cuts[2].clone(), batch[2].clone()];
        assert_eq!(read_journal(tmp.path()).unwrap().cuts, expected);
        let from_bytes: Vec<CutResult> = JournalReader::from_bytes("mem", text.clone().into_bytes())
            .filter_map(|r| match r.unwrap().record {
                JournalRecord::Cut(c) => Some(c),
                _ => None,
            })
            .collect();
        assert_eq!(from_bytes, expected);
        // Read back one at a time, as the reports do.
        let index = crate::index::ResultIndex::of_files(&[&path]).unwrap();
        let loaded: Vec<CutResult> = index
            .recorded()
            .iter()
            .map(|&row| index.load(row).unwrap().unwrap().into_owned())
            .collect();
        assert_eq!(loaded, expected);

        // A resume reads it (briefly) and goes on; what it writes reads back whole.
        drop(w);
        let (mut w, resumed) = JournalWriter::resume(tmp.path(), &header("aa", None, &ids)).unwrap();
        assert_eq!(resumed.finished(), 4);
        w.append_cut(&with_console("swap/e", &x)).unwrap();
        let j = read_journal(tmp.path()).unwrap();
        assert_eq!(j.cuts.len(), 5);
        assert_eq!(j.cuts[4].console, console(&x));

        // A line taken out (as some errors advise) moves no reference.
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("{\"record\":\"cut\",\"id\":\"swap/d\""))
            .collect();
        fs::write(&path, kept.join("\n") + "\n").unwrap();
        assert_eq!(read_journal(tmp.path()).unwrap().cuts, expected[..3]);
    }

    #[test]
    fn a_console_of_that_names_no_console_is_refused_with_its_line() {
        let tmp = tempfile::tempdir().unwrap();
        let ids = ["swap/a", "swap/b"];
        let mut w = JournalWriter::create(tmp.path(), &header("aa", None, &ids)).unwrap();
        let x = ["boot: start", "boot: jump"];
        w.append_cuts(&[with_console("swap/a", &x), with_console("swap/b", &x)])
            .unwrap();
        drop(w);
        let path = tmp.path().join(JOURNAL_FILE);
        let good = fs::read_to_string(&path).unwrap();
        let named = "\"console_of\":\"swap/a\",";
        assert!(good.contains(named), "{good}");
        let refused = |text: String, line: usize, says: &str| {
            fs::write(&path, text).unwrap();
            let e = read_journal(tmp.path()).unwrap_err().to_string();
            assert!(e.contains(&format!(":{line}: ")) && e.contains(says), "{e}");
            // The reports read it back and refuse it too, naming the file.
            let e = crate::index::ResultIndex::of_files(&[&path])
                .and_then(|index| {
                    for &row in index.recorded() {
                        index.load(row)?;
                    }
                    Ok(())
                })
                .unwrap_err()
                .to_string();
            assert!(e.contains("results.jsonl") && e.contains(says), "{e}");
        };
        // No record of that id before it; a later one does not count.
        refused(
            good.replace(named, "\"console_of\":\"swap/b\","),
            3,
            "no earlier record of it",
        );
        let swapped: Vec<&str> = good.lines().collect();
        refused(
            format!("{}\n{}\n{}\n", swapped[0], swapped[2], swapped[1]),
            2,
            "no earlier record of it",
        );
        // The latest earlier record of the id must hold it: a later record of `swap/a` without
        // a console (a rig error run again, by hand) leaves nothing to name.
        let again = swapped[1]
            .replace("\"status\":\"pass\"", "\"status\":\"error\"")
            .replace(
                "\"console\":[{\"t_us\":0,\"text\":\"boot: start\"},{\"t_us\":100,\"text\":\"boot: jump\"}]",
                "\"console\":[]",
            );
        assert!(again.contains("\"console\":[]"), "{again}");
        refused(
            format!("{}\n{}\n{again}\n{}\n", swapped[0], swapped[1], swapped[2]),
            4,
            "no earlier record of it",
        );
        refused(
            good.replace(
                &format!("\"console\":[],{named}"),
                &format!("\"console\":[{{\"t_us\":1,\"text\":\"x\"}}],{named}"),
            ),
            3,
            "both a console",
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        /// Any run of results, consoles repeating or not, written in any batches, reads back as
        /// written; with any of its cut lines taken out, every record read back is still the one
        /// written (never another record's console), or the journal is refused.
        #[test]
        fn consoles_named_read_back_as_written_even_with_lines_taken_out(
            cuts in proptest::collection::vec((0u8..3, 0usize..5), 1..24),
            batch in 1usize..5,
            taken in proptest::collection::vec(proptest::bool::weighted(0.2), 24),
        ) {
            let pool: [&[&str]; 5] = [
                &[],
                &["boot: start"],
                &["boot: start", "boot: jump"],
                &["boot: start", "boot: swap-resume", "boot: jump"],
                &["boot: start", "boot: swap-resume", "boot: jump", "app: idle"],
            ];
            let status = [Status::Pass, Status::Fail, Status::Error];
            let ids: Vec<String> = (0..cuts.len()).map(|i| format!("swap/c{i}")).collect();
            let written: Vec<CutResult> = cuts
                .iter()
                .zip(&ids)
                .map(|(&(st, c), id)| CutResult {
                    status: status[st as usize],
                    ..with_console(id, pool[c])
                })
                .collect();
            let tmp = tempfile::tempdir().unwrap();
            let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let mut w = JournalWriter::create(tmp.path(), &header("aa", None, &id_refs)).unwrap();
            for chunk in written.chunks(batch) {
                w.append_cuts(chunk).unwrap();
            }
            drop(w);
            proptest::prop_assert_eq!(&read_journal(tmp.path()).unwrap().cuts, &written);

            let path = tmp.path().join(JOURNAL_FILE);
            let text = fs::read_to_string(&path).unwrap();
            let kept: Vec<&str> = text
                .lines()
                .enumerate()
                .filter(|(i, _)| *i == 0 || !taken[(i - 1) % taken.len()])
                .map(|(_, l)| l)
                .collect();
            fs::write(&path, kept.join("\n") + "\n").unwrap();
            if let Ok(j) = read_journal(tmp.path()) {
                for c in &j.cuts {
                    let original = written.iter().find(|w| w.id == c.id).unwrap();
                    proptest::prop_assert_eq!(c, original);
                }
            }
        }
    }
}
