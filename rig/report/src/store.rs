//! Where the reports find a cut point's whole result when they need it: in a journal file, read
//! back one record at a time from the byte offset it was first read at, or in a journal already in
//! memory. The reports keep only these places, never the results (consoles and all) themselves.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::fsio::PathError;
use crate::journal::{parse_record, JournalError};
use crate::model::{CutResult, JournalRecord};

/// The place of one result: a journal file (its number among the sources) and the byte offset of
/// the record's line, or an index into a journal in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc(u64);

impl Loc {
    const OFFSET_BITS: u32 = 48;
    /// Journals one report can read at once.
    pub const MAX_SOURCES: usize = 1 << (64 - Self::OFFSET_BITS);
    /// Largest byte offset a place can hold (256 TiB).
    pub const MAX_OFFSET: u64 = (1 << Self::OFFSET_BITS) - 1;

    /// `None` when the source number or the offset is out of range.
    pub fn file(source: usize, offset: u64) -> Option<Self> {
        (source < Self::MAX_SOURCES && offset <= Self::MAX_OFFSET)
            .then_some(Loc(((source as u64) << Self::OFFSET_BITS) | offset))
    }

    pub fn memory(index: usize) -> Self {
        Loc(index as u64)
    }

    /// The place as one number (its source and offset), to key a cache by.
    pub fn key(self) -> u64 {
        self.0
    }

    /// The journal file's number (0 for a journal in memory).
    pub fn source(self) -> usize {
        (self.0 >> Self::OFFSET_BITS) as usize
    }

    /// The byte offset in its journal file.
    pub fn offset(self) -> u64 {
        self.0 & Self::MAX_OFFSET
    }
}

/// The results a report reads back.
pub(crate) enum Store<'a> {
    /// A journal read whole (the library's in-memory API, and tests).
    Memory(&'a [CutResult]),
    /// Journal files, by source number.
    Files(Vec<RefCell<FileCursor>>),
}

impl<'a> Store<'a> {
    /// The result at `loc`.
    pub fn load(&self, loc: Loc) -> Result<Cow<'a, CutResult>, JournalError> {
        match self {
            Store::Memory(cuts) => Ok(Cow::Borrowed(&cuts[loc.0 as usize])),
            Store::Files(files) => {
                let cursor = files.get(loc.source()).ok_or_else(|| JournalError::Changed {
                    path: PathBuf::new(),
                    offset: loc.offset(),
                })?;
                cursor.borrow_mut().cut_at(loc.offset()).map(Cow::Owned)
            }
        }
    }

    /// The journal file a place is in (`None` in memory).
    pub fn path(&self, loc: Loc) -> Option<PathBuf> {
        match self {
            Store::Memory(_) => None,
            Store::Files(files) => files.get(loc.source()).map(|f| f.borrow().path.clone()),
        }
    }
}

/// Reads records of one journal file at given offsets; cheap when they come in file order.
pub(crate) struct FileCursor {
    path: PathBuf,
    reader: BufReader<File>,
    /// Offset the reader stands at.
    pos: u64,
    line: Vec<u8>,
}

/// Bytes read at a time when reading results back.
const CURSOR_BUFFER: usize = 64 * 1024;

impl FileCursor {
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let file = File::open(path).map_err(|e| PathError::new(path, e))?;
        Ok(FileCursor {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(CURSOR_BUFFER, file),
            pos: 0,
            line: Vec::new(),
        })
    }

    /// The cut record whose line starts at `offset`, as written: a record that names the record
    /// holding its console (`console_of`) has none here ([`crate::index::ResultIndex::load`]
    /// gives it back).
    pub fn cut_at(&mut self, offset: u64) -> Result<CutResult, JournalError> {
        match self.record_at(offset)? {
            Some(JournalRecord::Cut(cut)) => Ok(cut),
            _ => Err(self.changed(offset)),
        }
    }

    /// The record whose line starts at `offset` (`None`: no record starts there).
    pub fn record_at(&mut self, offset: u64) -> Result<Option<JournalRecord>, JournalError> {
        let io = |e| JournalError::from(PathError::new(&self.path, e));
        if offset != self.pos {
            let delta = i64::try_from(offset)
                .ok()
                .zip(i64::try_from(self.pos).ok())
                .map(|(to, from)| to - from)
                .ok_or_else(|| self.changed(offset))?;
            self.reader.seek_relative(delta).map_err(io)?;
            self.pos = offset;
        }
        self.line.clear();
        let n = self.reader.read_until(b'\n', &mut self.line).map_err(io)?;
        self.pos += n as u64;
        let record = parse_record(self.line.strip_suffix(b"\n").unwrap_or(&self.line));
        if self.line.capacity() > 4 * CURSOR_BUFFER {
            self.line = Vec::new();
        }
        Ok(record.ok())
    }

    fn changed(&self, offset: u64) -> JournalError {
        JournalError::Changed {
            path: self.path.clone(),
            offset,
        }
    }
}
