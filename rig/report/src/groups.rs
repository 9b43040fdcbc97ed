//! Cut points grouped for reading: by reason (or warning), then by window of contiguous cut points
//! in plan order within a phase, so that hundreds of failures read as a few lines
//! (`swap sector-1 .. op-0355-after (261 cut points)`).
//!
//! Grouping holds a count and the first windows of each group, never the cut points themselves:
//! a million failures group in the memory of a few.

use std::collections::HashMap;

use crate::index::{PhaseRows, ResultIndex};
use crate::model::{CutResult, Status};
use crate::rebuild::ReportError;

/// Contiguous cut points of one phase, in plan order, that share a group's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The phase's position in [`ResultIndex::phases`].
    pub phase: usize,
    /// First and last row of the window.
    pub first: u32,
    pub last: u32,
    pub len: usize,
}

/// The cut points that share one reason.
#[derive(Debug, Clone)]
pub struct Group {
    /// The reason, without its per-cut details (see [`reason_class`]).
    pub key: String,
    /// How many cut points have it.
    pub count: usize,
    /// The first of them in plan order (a row): the one to look at.
    pub first: u32,
    /// The first windows, in plan order (at most the number asked for).
    pub windows: Vec<Window>,
    /// How many windows there are in all.
    pub window_count: usize,
    /// Where its last cut point sits: phase, position in the phase.
    last_at: (usize, usize),
}

/// The part of a reason that cut points share: the text before its first `; ` or ` (`, where the
/// per-cut details start (`bricked: nothing booted after the cut (12 console lines, ...)`).
pub fn reason_class(reason: &str) -> &str {
    let end = [reason.find("; "), reason.find(" (")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(reason.len());
    reason[..end].trim_end()
}

/// Groups in the order the plan first reaches them, keeping at most `kept` windows each.
#[derive(Debug, Clone)]
pub struct Grouping {
    pub groups: Vec<Group>,
    index: HashMap<String, usize>,
    kept: usize,
}

impl Grouping {
    pub fn new(kept: usize) -> Self {
        Grouping {
            groups: Vec::new(),
            index: HashMap::new(),
            kept,
        }
    }

    /// Adds the cut point at `row`, position `at` of phase `phase`, under each of `keys`
    /// (repeated keys in a row count once).
    pub fn add(&mut self, mut keys: Vec<&str>, phase: usize, at: usize, row: u32) {
        keys.dedup();
        for key in keys {
            let g = match self.index.get(key) {
                Some(&g) => g,
                None => {
                    self.groups.push(Group {
                        key: key.to_owned(),
                        count: 0,
                        first: row,
                        windows: Vec::new(),
                        window_count: 0,
                        last_at: (usize::MAX, usize::MAX),
                    });
                    self.index.insert(key.to_owned(), self.groups.len() - 1);
                    self.groups.len() - 1
                }
            };
            let group = &mut self.groups[g];
            group.count += 1;
            let (last_phase, last_pos) = group.last_at;
            if group.window_count > 0 && last_phase == phase && last_pos.wrapping_add(1) == at {
                if group.window_count <= group.windows.len() {
                    if let Some(w) = group.windows.last_mut() {
                        w.last = row;
                        w.len += 1;
                    }
                }
            } else {
                group.window_count += 1;
                if group.windows.len() < self.kept {
                    group.windows.push(Window {
                        phase,
                        first: row,
                        last: row,
                        len: 1,
                    });
                }
            }
            group.last_at = (phase, at);
        }
    }

    /// Cut points in all groups.
    pub fn cut_count(&self) -> usize {
        self.groups.iter().map(|g| g.count).sum()
    }

    /// Windows in all groups.
    pub fn window_count(&self) -> usize {
        self.groups.iter().map(|g| g.window_count).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// What the reports list: failures and rig errors by their first reason, warnings by each of
/// theirs.
#[derive(Debug, Clone)]
pub struct Problems {
    pub failing: Grouping,
    pub errors: Grouping,
    pub warned: Grouping,
}

impl Problems {
    /// One pass over the rows in phase order, reading back only the results that have a
    /// failure, a rig error or a warning. Each group keeps its first `kept` windows.
    pub fn of(index: &ResultIndex<'_>, phases: &[PhaseRows<'_>], kept: usize) -> Result<Self, ReportError> {
        let mut problems = Problems {
            failing: Grouping::new(kept),
            errors: Grouping::new(kept),
            warned: Grouping::new(kept),
        };
        for (p, phase) in phases.iter().enumerate() {
            for (at, &row) in phase.rows.iter().enumerate() {
                let state = index.state(row);
                let listed = matches!(state.status(), Some(Status::Fail | Status::Error));
                if !listed && !state.has_warnings() {
                    continue;
                }
                let Some(cut) = index.load(row)? else { continue };
                problems.add(&cut, p, at, row);
            }
        }
        Ok(problems)
    }

    fn add(&mut self, cut: &CutResult, phase: usize, at: usize, row: u32) {
        match cut.status {
            Status::Fail => self.failing.add(vec![reason_class(cut.first_reason())], phase, at, row),
            Status::Error => self.errors.add(vec![reason_class(cut.first_reason())], phase, at, row),
            Status::Pass => {}
        }
        if !cut.warnings.is_empty() {
            let keys = cut.warnings.iter().map(|w| reason_class(w)).collect();
            self.warned.add(keys, phase, at, row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Journal;
    use crate::testutil::{cut, header};

    #[test]
    fn reasons_lose_their_details() {
        assert_eq!(
            reason_class("bricked: nothing booted after the cut; the bootloader said `x`"),
            "bricked: nothing booted after the cut"
        );
        assert_eq!(
            reason_class("bricked: nothing booted after the cut (12 console lines, no boot marker)"),
            "bricked: nothing booted after the cut"
        );
        assert_eq!(reason_class("did not settle"), "did not settle");
    }

    #[test]
    fn windows_are_contiguous_within_a_phase() {
        let ids = ["a/1", "a/2", "a/3", "a/4", "a/5", "b/1", "b/2"];
        let mut j = Journal::new(header("aa", None, &ids));
        for (id, status, reason) in [
            ("a/1", Status::Fail, "bricked (1 line)"),
            ("a/2", Status::Fail, "bricked (2 lines)"),
            ("a/3", Status::Pass, ""),
            ("a/4", Status::Fail, "bricked"),
            ("a/5", Status::Fail, "silent revert"),
            ("b/1", Status::Fail, "bricked"),
            ("b/2", Status::Fail, "bricked"),
        ] {
            let mut c = cut(id, status);
            c.reasons = vec![reason.to_owned()];
            j.cuts.push(c);
        }
        let index = ResultIndex::of_journal(&j);
        let phases = index.phases();
        let groups = Problems::of(&index, &phases, 100).unwrap().failing;
        let windows = |g: &Group| -> Vec<String> {
            g.windows
                .iter()
                .map(|w| {
                    format!(
                        "{} {}..{} ({})",
                        phases[w.phase].name,
                        index.id(w.first),
                        index.id(w.last),
                        w.len
                    )
                })
                .collect()
        };
        assert_eq!(
            groups
                .groups
                .iter()
                .map(|g| (g.key.as_str(), g.count))
                .collect::<Vec<_>>(),
            [("bricked", 5), ("silent revert", 1)]
        );
        assert_eq!(
            windows(&groups.groups[0]),
            ["a a/1..a/2 (2)", "a a/4..a/4 (1)", "b b/1..b/2 (2)"]
        );
        assert_eq!(windows(&groups.groups[1]), ["a a/5..a/5 (1)"]);
        assert_eq!(index.id(groups.groups[0].first), "a/1");
        assert_eq!((groups.cut_count(), groups.window_count()), (6, 4));

        // Past the windows kept, windows are still counted and the last kept one stays whole.
        let few = Problems::of(&index, &phases, 1).unwrap().failing;
        assert_eq!(windows(&few.groups[0]), ["a a/1..a/2 (2)"]);
        assert_eq!(few.groups[0].window_count, 3);
        assert_eq!(few.groups[0].count, 5);
    }
}
