//! Cut points grouped for reading: by reason (or warning), then by window of contiguous cut points
//! in plan order within a phase, so that hundreds of failures read as a few lines
//! (`swap sector-1 .. op-0355-after (261 cut points)`).

use std::collections::HashMap;

use crate::journal::Journal;
use crate::model::CutResult;
use crate::view::CutRow;

/// Contiguous cut points of one phase, in plan order, that share a group's reason.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    pub phase: &'a str,
    pub first: CutRow<'a>,
    pub last: CutRow<'a>,
    pub len: usize,
}

/// The cut points that share one reason.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// The reason, without its per-cut details (see [`reason_class`]).
    pub key: &'a str,
    /// How many cut points have it.
    pub count: usize,
    /// The first of them in plan order: the one to look at.
    pub first: &'a CutResult,
    pub windows: Vec<Window<'a>>,
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

/// Groups the cut points that have results by the keys `keys` gives each (none: not grouped),
/// groups in the order the plan first reaches them, windows in plan order.
pub fn group_cuts<'a>(journal: &'a Journal, keys: impl Fn(&'a CutResult) -> Vec<&'a str>) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    // Per group: where its last cut point sits (phase, position in the phase).
    let mut last_at: Vec<(usize, usize)> = Vec::new();
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    for (p, phase) in journal.phases().into_iter().enumerate() {
        for (at, row) in phase.rows.iter().enumerate() {
            let Some(cut) = row.result else { continue };
            let mut cut_keys = keys(cut);
            cut_keys.dedup();
            for key in cut_keys {
                let g = *index.entry(key).or_insert_with(|| {
                    groups.push(Group {
                        key,
                        count: 0,
                        first: cut,
                        windows: Vec::new(),
                    });
                    last_at.push((usize::MAX, usize::MAX));
                    groups.len() - 1
                });
                let group = &mut groups[g];
                group.count += 1;
                let (last_phase, last_pos) = last_at[g];
                match group.windows.last_mut() {
                    Some(w) if last_phase == p && last_pos.wrapping_add(1) == at => {
                        w.last = *row;
                        w.len += 1;
                    }
                    _ => group.windows.push(Window {
                        phase: phase.name,
                        first: *row,
                        last: *row,
                        len: 1,
                    }),
                }
                last_at[g] = (p, at);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
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
        let groups = group_cuts(&j, |c| match c.status {
            Status::Fail => vec![reason_class(c.first_reason())],
            _ => vec![],
        });
        let windows = |g: &Group<'_>| -> Vec<String> {
            g.windows
                .iter()
                .map(|w| format!("{} {}..{} ({})", w.phase, w.first.id, w.last.id, w.len))
                .collect()
        };
        assert_eq!(
            groups.iter().map(|g| (g.key, g.count)).collect::<Vec<_>>(),
            [("bricked", 5), ("silent revert", 1)]
        );
        assert_eq!(
            windows(&groups[0]),
            ["a a/1..a/2 (2)", "a a/4..a/4 (1)", "b b/1..b/2 (2)"]
        );
        assert_eq!(windows(&groups[1]), ["a a/5..a/5 (1)"]);
        assert_eq!(groups[0].first.id, "a/1");
    }
}
