//! The report's view of a journal: every cut point in planned order with its result (if any),
//! grouped by phase, and the counts of each verdict.

use std::collections::HashMap;

use cutpoint_core::CutIdRef;

use crate::journal::Journal;
use crate::model::{CutResult, JournalEnd, Landing, OpRelation, PlannedCut, Status};

/// How many cut points ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    /// Planned but without a result (the campaign was interrupted or is still running).
    pub not_run: usize,
    /// Of the passes, those with warnings (unexpected states that still boot).
    pub warned: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.error + self.not_run
    }

    pub fn add(&mut self, status: Option<Status>) {
        match status {
            Some(Status::Pass) => self.pass += 1,
            Some(Status::Fail) => self.fail += 1,
            Some(Status::Error) => self.error += 1,
            None => self.not_run += 1,
        }
    }

    /// Counts one cut point of a report's index, its warnings included.
    pub fn add_state(&mut self, state: crate::index::State) {
        self.add(state.status());
        if state.kind(false) == Kind::Warned {
            self.warned += 1;
        }
    }

    /// Counts one cut point, its warnings included.
    pub fn add_row(&mut self, row: &CutRow<'_>) {
        self.add(row.status());
        if row.kind(false) == Kind::Warned {
            self.warned += 1;
        }
    }
}

/// How a cut point shows in the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pass,
    /// Passed, with warnings.
    Warned,
    Fail,
    /// Failed in a negative control, as it should.
    ExpectedFailure,
    Error,
    NotRun,
}

impl Kind {
    /// The CSS class of its cell.
    pub const fn class(self) -> &'static str {
        match self {
            Kind::Pass => "pass",
            Kind::Warned => "warn",
            Kind::Fail => "fail",
            Kind::ExpectedFailure => "xfail",
            Kind::Error => "error",
            Kind::NotRun => "not-run",
        }
    }

    /// What the reports call it.
    pub const fn label(self) -> &'static str {
        match self {
            Kind::Pass => "pass",
            Kind::Warned => "pass with warnings",
            Kind::Fail => "fail",
            Kind::ExpectedFailure => "expected failure",
            Kind::Error => "rig error",
            Kind::NotRun => "not run",
        }
    }
}

/// One cut point: where it sits in the plan, and its result when it ran.
#[derive(Debug, Clone, Copy)]
pub struct CutRow<'a> {
    pub id: &'a str,
    pub phase: &'a str,
    pub offset: &'a str,
    pub result: Option<&'a CutResult>,
}

impl CutRow<'_> {
    pub fn status(&self) -> Option<Status> {
        self.result.map(|r| r.status)
    }

    /// `pass`, `fail`, `error` or `not-run`.
    pub fn status_name(&self) -> &'static str {
        status_name(self.status())
    }

    /// How it shows; `negative_control`: its failures are expected.
    pub fn kind(&self, negative_control: bool) -> Kind {
        match self.result {
            None => Kind::NotRun,
            Some(cut) => match cut.status {
                Status::Pass if cut.warnings.is_empty() => Kind::Pass,
                Status::Pass => Kind::Warned,
                Status::Fail if negative_control => Kind::ExpectedFailure,
                Status::Fail => Kind::Fail,
                Status::Error => Kind::Error,
            },
        }
    }
}

/// `pass`, `fail`, `error`, or `not-run` for a cut point without a result.
pub fn status_name(status: Option<Status>) -> &'static str {
    status.map_or("not-run", Status::name)
}

/// The cut points of one phase, in planned order.
#[derive(Debug, Clone)]
pub struct PhaseBlock<'a> {
    pub name: &'a str,
    pub rows: Vec<CutRow<'a>>,
    pub counts: Counts,
}

/// `rows` grouped by `key`, groups in the order their first row comes, with their counts.
/// For a later cut of a chain, the id of the chain's first cut (the block the matrix shows it
/// in); `None` for a single cut, and for an id this version cannot read (a row of its phase).
pub(crate) fn chain_head(id: &str) -> Option<&str> {
    CutIdRef::parse(id).ok()?.chain_head().map(CutIdRef::as_str)
}

fn grouped<'a, K: std::hash::Hash + Eq>(
    rows: Vec<CutRow<'a>>,
    key: impl Fn(&CutRow<'a>) -> K,
) -> Vec<(K, Vec<CutRow<'a>>, Counts)> {
    let mut groups: Vec<(K, Vec<CutRow<'a>>, Counts)> = Vec::new();
    let mut index: HashMap<K, usize> = HashMap::new();
    for row in rows {
        let k = key(&row);
        let i = match index.get(&k) {
            Some(&i) => i,
            None => {
                groups.push((key(&row), Vec::new(), Counts::default()));
                index.insert(k, groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[i].2.add_row(&row);
        groups[i].1.push(row);
    }
    groups
}

/// One block of the HTML matrix (see [`Journal::matrix_blocks`]).
pub struct MatrixBlock<'a> {
    pub title: String,
    pub rows: Vec<CutRow<'a>>,
    pub counts: Counts,
}

impl Journal {
    /// Every cut point in planned order; results that were not planned (hand-edited or older plans)
    /// follow in the order they were recorded.
    pub fn rows(&self) -> Vec<CutRow<'_>> {
        let by_id: HashMap<&str, &CutResult> = self.cuts.iter().map(|c| (c.id.as_str(), c)).collect();
        let mut rows = Vec::with_capacity(self.header.planned.len());
        let mut seen = std::collections::HashSet::new();
        for PlannedCut { id, phase, offset, .. } in &self.header.planned {
            if seen.insert(id.as_str()) {
                rows.push(CutRow {
                    id,
                    phase,
                    offset,
                    result: by_id.get(id.as_str()).copied(),
                });
            }
        }
        for cut in &self.cuts {
            if seen.insert(cut.id.as_str()) {
                rows.push(CutRow {
                    id: &cut.id,
                    phase: &cut.phase,
                    offset: &cut.offset,
                    result: Some(cut),
                });
            }
        }
        rows
    }

    /// The cut points grouped by phase; phases in the order the plan first reaches them.
    pub fn phases(&self) -> Vec<PhaseBlock<'_>> {
        grouped(self.rows(), |row| row.phase)
            .into_iter()
            .map(|(name, rows, counts)| PhaseBlock { name, rows, counts })
            .collect()
    }

    /// The blocks of the report's matrix: each phase's single cuts, then, for each first cut of
    /// a sequence, its second cuts (ids `first-id>phase/offset`) in a block of their own
    /// titled `first-id ›`, so an exhaustive double-cut campaign reads as one row per first cut.
    pub fn matrix_blocks(&self) -> Vec<MatrixBlock<'_>> {
        let mut blocks = Vec::new();
        for phase in self.phases() {
            for (head, rows, counts) in grouped(phase.rows, |row| chain_head(row.id)) {
                let title = match head {
                    None => phase.name.to_string(),
                    Some(h) => format!("{h} \u{203a}"),
                };
                blocks.push(MatrixBlock { title, rows, counts });
            }
        }
        blocks
    }

    /// Counts over all cut points, planned or recorded.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for row in self.rows() {
            counts.add_row(&row);
        }
        counts
    }
}

/// One line describing where a cut landed, e.g.
/// `power-cut at 1240 µs (requested 1234 µs) during #123 erase 0x4f000+4096; program torn: ...`.
pub fn describe_landing(landing: &Landing) -> String {
    let mut text = format!("{} at {} µs", landing.fault, landing.actual_us);
    if let Some(requested) = landing.requested_us {
        text.push_str(&format!(" (requested {requested} µs)"));
    }
    if let Some(op) = &landing.op {
        // An unknown relation (a newer journal's) reads as the default: inside.
        let relation = match landing.op_point {
            Some(OpRelation::Before) => "just before",
            Some(OpRelation::After) => "just after",
            Some(OpRelation::Inside | OpRelation::Other(_)) | None => "during",
        };
        text.push_str(&format!(" {relation} {op}"));
    }
    if let Some(torn) = &landing.torn {
        text.push_str(&format!("; {torn}"));
    }
    text
}

/// Why a planned cut point has no result, judged from how the campaign ended.
pub fn not_run_reason(journal: &Journal) -> String {
    not_run_reason_of(journal.end.as_ref())
}

/// Why a planned cut point has no result, given how the campaign ended (`None`: it did not).
pub fn not_run_reason_of(end: Option<&JournalEnd>) -> String {
    match end {
        None => "not run: the campaign was interrupted".to_owned(),
        Some(end) if end.how.is_complete() => "not run".to_owned(),
        Some(end) => format!("not run: campaign {}", end.how),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use crate::testutil::{cut, header};

    #[test]
    fn rows_follow_the_plan_and_keep_unplanned_results() {
        let mut j = Journal::new(header("aa", None, &["b/1", "a/1", "b/2"]));
        j.cuts.push(cut("b/2", Status::Fail));
        j.cuts.push(cut("x/9", Status::Pass));
        let rows: Vec<_> = j.rows().iter().map(|r| (r.id, r.status_name())).collect();
        assert_eq!(
            rows,
            [("b/1", "not-run"), ("a/1", "not-run"), ("b/2", "fail"), ("x/9", "pass")]
        );

        let phases: Vec<_> = j.phases().iter().map(|p| (p.name, p.rows.len(), p.counts)).collect();
        let two_not_run = Counts {
            fail: 1,
            not_run: 1,
            ..Counts::default()
        };
        assert_eq!(phases[0], ("b", 2, two_not_run));
        assert_eq!(phases[1].0, "a");
        assert_eq!(phases[2].0, "x");
        assert_eq!(j.counts().total(), 4);
    }

    #[test]
    fn second_cuts_get_a_matrix_block_per_first_cut() {
        let ids = [
            "swap/start",
            "twice:swap/sector-1>swap/op-0001-before",
            "twice:swap/sector-1>swap/op-0002-before",
            "swap/end",
            "twice:swap/sector-5>swap/op-0001-before",
            "confirm/start",
        ];
        let mut h = header("aa", None, &ids);
        // As the engine plans them: a double cut sits in its first cut's phase.
        for p in &mut h.planned {
            if p.id.starts_with("twice:") {
                p.phase = "swap".into();
            }
        }
        let mut j = Journal::new(h);
        j.cuts.push(cut("swap/start", Status::Pass));
        let blocks: Vec<_> = j
            .matrix_blocks()
            .iter()
            .map(|b| (b.title.clone(), b.rows.iter().map(|r| r.id).collect::<Vec<_>>()))
            .collect();
        assert_eq!(
            blocks,
            [
                ("swap".to_string(), vec!["swap/start", "swap/end"]),
                (
                    "twice:swap/sector-1 \u{203a}".to_string(),
                    vec![
                        "twice:swap/sector-1>swap/op-0001-before",
                        "twice:swap/sector-1>swap/op-0002-before"
                    ]
                ),
                (
                    "twice:swap/sector-5 \u{203a}".to_string(),
                    vec!["twice:swap/sector-5>swap/op-0001-before"]
                ),
                ("confirm".to_string(), vec!["confirm/start"]),
            ]
        );
        assert_eq!(j.matrix_blocks()[0].counts.pass, 1);
    }

    #[test]
    fn landing_is_described_on_one_line() {
        let landing = Landing {
            fault: "power-cut".into(),
            requested_us: Some(1234),
            actual_us: 1240,
            op: Some("#123 erase 0x4f000+4096".into()),
            op_point: None,
            torn: Some("erase torn: 40%".into()),
        };
        assert_eq!(
            describe_landing(&landing),
            "power-cut at 1240 µs (requested 1234 µs) during #123 erase 0x4f000+4096; erase torn: 40%"
        );
        let before = Landing {
            requested_us: None,
            op_point: Some("before".into()),
            torn: None,
            ..landing.clone()
        };
        assert_eq!(
            describe_landing(&before),
            "power-cut at 1240 µs just before #123 erase 0x4f000+4096"
        );
        let after = Landing {
            op_point: Some("after".into()),
            ..before
        };
        assert!(describe_landing(&after).ends_with(" just after #123 erase 0x4f000+4096"));
    }
}
