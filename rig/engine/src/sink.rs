//! What a run tells the world, as owned events, and the sinks that take them: the progress
//! view, the JSON event stream, the report writers and, later, a daemon's database. The
//! engine journals each result (synced) before any sink hears of it, and keeps none of them:
//! a sink that needs the results folds them as they arrive or reads the journal back.

use cutpoint_campaign::Skipped;
use cutpoint_report::{ControlRun, CutResult, JournalEnd, JournalHeader, Status};

/// One thing that happened in a run, in order: `Started`, `Control`, `Planned` (unless the
/// control run stopped the campaign), `CutFinished` for each cut point, `Finished`.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The journal is open; `resumed`: it continues an earlier, unfinished run.
    Started {
        header: Box<JournalHeader>,
        resumed: bool,
        /// What the resume could not check (input files an earlier cutpoint's journal does not
        /// record); empty for a fresh run.
        warnings: Vec<String>,
    },
    /// The unfaulted control run.
    Control(Box<ControlRun>),
    /// The plan of this run; `already_done`: finished by an earlier part of it.
    Planned {
        total: usize,
        already_done: usize,
        skipped: Vec<Skipped>,
    },
    /// A cut point's result, already journaled.
    CutFinished(Box<CutResult>),
    /// The end record, already journaled, and the tally of every result in the journal.
    Finished { end: JournalEnd, tally: Tally },
}

/// How many results of each status a run's journal holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
}

impl Tally {
    pub fn add(&mut self, s: Status) {
        match s {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Error => self.error += 1,
        }
    }

    /// Cut points with a result.
    pub fn ran(&self) -> usize {
        self.pass + self.fail + self.error
    }
}

/// Why a sink could not take an event (its database or file refused it), kept as the run's
/// error's source.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Takes a run's events. A sink's error stops the run (as a journal error would).
pub trait Sink {
    fn event(&mut self, e: &RunEvent) -> Result<(), SinkError>;
}

/// A closure is a sink that never fails.
impl<F: FnMut(&RunEvent)> Sink for F {
    fn event(&mut self, e: &RunEvent) -> Result<(), SinkError> {
        self(e);
        Ok(())
    }
}

/// A sink that hears nothing.
pub fn ignore() -> impl Sink {
    |_: &RunEvent| {}
}
