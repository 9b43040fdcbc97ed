//! A console written once per journal. A cut record whose console equals one written in full
//! earlier in the same journal names that record instead of repeating it: `console_of`, the id of
//! the cut point whose latest earlier record holds the console. An id, not a byte offset: a line
//! taken out of the journal (as some errors advise) moves no reference.
//!
//! Consoles repeat: on the simulated board every cut point whose recovery is served from the same
//! run prints that run's console, and a resumed swap of a 1 MiB image prints hundreds of progress
//! lines. Written whole each time they were most of a journal's bytes and of the time spent
//! writing it and reading it back.
//!
//! Every reader gives the cut with its console, as if it were written in full: the writer
//! ([`ConsoleLedger`]) and the readers ([`ConsoleCache`]) are the only places that know.

use std::collections::VecDeque;

use crate::model::{LogLine, Status};

/// Recent consoles a writer wrote in full, and the ids of their records: the most recently used
/// first.
#[derive(Debug, Default)]
pub(crate) struct ConsoleLedger {
    recent: VecDeque<(String, Vec<LogLine>)>,
}

/// Consoles a writer remembers. A journal's repeated consoles come in runs (the cut points of one
/// sector, served from one recovery), so a few suffice.
const KEPT: usize = 16;

/// Shorter consoles are written in full: a reference would save next to nothing.
const MIN_LINES: usize = 2;

/// Longer consoles (in bytes of text) are not kept: memory stays bounded.
const MAX_KEPT_BYTES: usize = 1 << 20;

impl ConsoleLedger {
    /// The id of a record that holds an equal console in full, when one of the recent ones does.
    pub fn find(&mut self, console: &[LogLine]) -> Option<String> {
        if console.len() < MIN_LINES {
            return None;
        }
        let i = self.recent.iter().position(|(_, c)| c.as_slice() == console)?;
        let hit = self.recent.remove(i)?;
        let id = hit.0.clone();
        self.recent.push_front(hit);
        Some(id)
    }

    /// `console` was written in full in a record of cut point `id`. A rig error's record is
    /// never named: a resume runs its cut point again, and a later record of the id would hold
    /// another console.
    pub fn wrote(&mut self, id: &str, status: Status, console: &[LogLine]) {
        // The id's latest record is this one now: an older console of the id is not its to name.
        self.recent.retain(|(i, _)| i != id);
        if status == Status::Error
            || console.len() < MIN_LINES
            || console.iter().map(|l| l.text.len()).sum::<usize>() > MAX_KEPT_BYTES
        {
            return;
        }
        if self.recent.len() == KEPT {
            self.recent.pop_back();
        }
        self.recent.push_front((id.to_string(), console.to_vec()));
    }

    /// Forgets everything (the records written since the last success were taken back).
    pub fn clear(&mut self) {
        self.recent.clear();
    }
}

/// Consoles a reader found at the offsets records named, the most recently used first.
#[derive(Debug, Default)]
pub(crate) struct ConsoleCache {
    recent: VecDeque<(u64, Vec<LogLine>)>,
}

/// Consoles a reader keeps.
const CACHED: usize = 8;

impl ConsoleCache {
    /// The console at `at`: from the cache, else `read` (the console of the cut record whose line
    /// starts there), kept for the next record naming it.
    pub fn get<E>(&mut self, at: u64, read: impl FnOnce(u64) -> Result<Vec<LogLine>, E>) -> Result<Vec<LogLine>, E> {
        if let Some(i) = self.recent.iter().position(|(o, _)| *o == at) {
            if let Some(hit) = self.recent.remove(i) {
                let console = hit.1.clone();
                self.recent.push_front(hit);
                return Ok(console);
            }
        }
        let console = read(at)?;
        if self.recent.len() == CACHED {
            self.recent.pop_back();
        }
        self.recent.push_front((at, console.clone()));
        Ok(console)
    }
}

/// What is wrong with a record that names a console (`console_of`), if the record alone shows it.
pub(crate) fn misplaced(of: &str, console_lines: usize) -> Option<String> {
    (console_lines > 0).then(|| {
        format!(
            "the record has both a console and `console_of` `{of}`: a record holds its console or \
             names the record that does, not both"
        )
    })
}

/// What to say when no earlier record of cut point `of` holds a console.
pub(crate) fn not_there(of: &str) -> String {
    format!(
        "`console_of` names cut point `{of}`, but no earlier record of it in this journal holds a \
         console: the journal was edited or damaged; remove this record (its cut point runs again \
         with --resume), or run the campaign again"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(texts: &[&str]) -> Vec<LogLine> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| LogLine {
                t_us: i as u64 * 10,
                text: t.to_string(),
            })
            .collect()
    }

    #[test]
    fn a_writer_names_an_equal_console_it_wrote_and_keeps_the_most_used() {
        let mut l = ConsoleLedger::default();
        let a = console(&["boot: start", "boot: jump"]);
        assert_eq!(l.find(&a), None);
        l.wrote("s/a", Status::Pass, &a);
        assert_eq!(l.find(&a).as_deref(), Some("s/a"));
        let mut timed = a.clone();
        timed[1].t_us += 1;
        assert_eq!(l.find(&timed), None, "the times are part of the console");
        // Fifteen others, then the first is used again: it stays while newer ones go.
        for i in 0..KEPT - 1 {
            l.wrote(&format!("s/{i}"), Status::Fail, &console(&["x", &i.to_string()]));
        }
        assert_eq!(l.find(&a).as_deref(), Some("s/a"));
        l.wrote("s/y", Status::Pass, &console(&["y", "z"]));
        assert_eq!(l.find(&a).as_deref(), Some("s/a"));
        assert_eq!(l.find(&console(&["x", "0"])), None, "the least used went");
        l.clear();
        assert_eq!(l.find(&a), None);
    }

    #[test]
    fn a_console_of_one_line_or_of_a_rig_error_is_always_written_in_full() {
        let mut l = ConsoleLedger::default();
        let one = console(&["boot: start"]);
        l.wrote("s/a", Status::Pass, &one);
        assert_eq!(l.find(&one), None);
        assert_eq!(l.find(&[]), None);
        let two = console(&["boot: start", "boot: jump"]);
        l.wrote("s/b", Status::Error, &two);
        assert_eq!(l.find(&two), None, "a resume runs a rig error again");
        // A later record of an id takes its place, whatever it holds.
        l.wrote("s/c", Status::Pass, &two);
        assert_eq!(l.find(&two).as_deref(), Some("s/c"));
        l.wrote("s/c", Status::Error, &one);
        assert_eq!(l.find(&two), None, "s/c's latest record holds another console");
    }

    #[test]
    fn a_reader_reads_each_place_once_while_it_is_in_use() {
        let mut c = ConsoleCache::default();
        let mut reads = 0;
        let mut get = |c: &mut ConsoleCache, at: u64| {
            c.get(at, |at| {
                reads += 1;
                Ok::<_, ()>(console(&["a", &at.to_string()]))
            })
            .unwrap()
        };
        assert_eq!(get(&mut c, 7), console(&["a", "7"]));
        assert_eq!(get(&mut c, 7), console(&["a", "7"]));
        assert_eq!(reads, 1);
    }

    #[test]
    fn a_reference_beside_a_console_is_refused() {
        assert!(misplaced("s/a", 0).is_none());
        assert!(misplaced("s/a", 2).unwrap().contains("both a console"));
    }
}
