//! What the markers the pass rule looks for on every console line say of each line, found
//! once per distinct line text and kept.
//!
//! The rule reads a recovery's console several times (the boots, the commit, a blocked upload,
//! a halt followed by a jump), and a recovery's console repeats the texts of thousands of
//! others: a swap prints a line per region, the same lines at every cut. A regular-expression
//! search per marker, per line, per cut was most of the rule's time on large images; a lookup
//! of the line's text is one hash. The kept marks are those of one set of markers (the
//! campaign's, with its new version, compared whole): another set starts the table over, and so does a full
//! table, so memory stays bounded.

use std::cell::RefCell;
use std::collections::HashMap;

use cutpoint_report::LogLine;

use crate::judge::{canonical_version, Expectations};

/// Line texts kept per thread before the table starts over (about 150 bytes each: a few MiB
/// at most; a 1 MiB swap campaign's consoles hold a few thousand distinct lines).
const LINES_KEPT: usize = 1 << 14;

/// What the markers say of one console line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LineMarks {
    /// `markers.boot` matches.
    pub boot: bool,
    /// `markers.halt` matches.
    pub halt: bool,
    /// `markers.blocked` matches.
    pub blocked: bool,
    /// The commit pattern of the campaign ([`crate::engine::commit_pattern`]) matches with
    /// the new version, where it has a version group ([`crate::target::commit_line`]).
    pub commit: bool,
    /// `markers.jump` matches: the version (canonical) and the hash it names.
    pub jump: Option<(String, String)>,
}

impl LineMarks {
    fn of(exp: &Expectations, text: &str) -> LineMarks {
        let m = &exp.markers;
        LineMarks {
            boot: m.boot.is_match(text),
            halt: m.halt.is_match(text),
            blocked: m.blocked.is_match(text),
            commit: crate::engine::commit_pattern(exp)
                .is_some_and(|p| crate::target::commit_line(p, &exp.new_version, text)),
            jump: m.jump.captures(text).map(|c| {
                (
                    canonical_version(c.name("version").map_or("", |x| x.as_str())),
                    c.name("hash").map_or("", |x| x.as_str()).to_string(),
                )
            }),
        }
    }
}

/// The marks kept on this thread, for the markers `markers` (see [`markers_of`]).
#[derive(Default)]
struct Kept {
    markers: Vec<String>,
    lines: HashMap<String, LineMarks>,
}

thread_local! {
    static KEPT: RefCell<Kept> = RefCell::new(Kept::default());
}

/// What decides the marks of a line, compared whole (not a hash of it): the patterns read,
/// the commit pattern (or none) and the version the commit needs.
fn markers_of(exp: &Expectations) -> [&str; 7] {
    let m = &exp.markers;
    let commit = crate::engine::commit_pattern(exp);
    [
        &m.boot.source,
        &m.halt.source,
        &m.blocked.source,
        &m.jump.source,
        commit.map_or("", regex::Regex::as_str),
        if commit.is_some() { "commit" } else { "" },
        &exp.new_version,
    ]
}

/// The marks of every line of `console`, in order.
pub(crate) fn marks(exp: &Expectations, console: &[LogLine]) -> Vec<LineMarks> {
    let markers = markers_of(exp);
    KEPT.with(|kept| {
        let Ok(mut kept) = kept.try_borrow_mut() else {
            return console.iter().map(|l| LineMarks::of(exp, &l.text)).collect();
        };
        if kept.markers.iter().map(String::as_str).ne(markers) {
            kept.markers = markers.iter().map(|m| m.to_string()).collect();
            kept.lines.clear();
        }
        console
            .iter()
            .map(|l| {
                if let Some(m) = kept.lines.get(l.text.as_str()) {
                    return m.clone();
                }
                let m = LineMarks::of(exp, &l.text);
                if kept.lines.len() >= LINES_KEPT {
                    kept.lines.clear();
                }
                kept.lines.insert(l.text.clone(), m.clone());
                m
            })
            .collect()
    })
}
