//! Merging the journals of one campaign (its partitions `k/n`, or copies of a resumed run) into one
//! view that the reports are built from.

use crate::journal::Journal;
use crate::model::{
    compare_inputs, ControlRun, CutResult, EndReason, InputsCompared, JournalEnd, JournalHeader, PlannedCut, Status,
};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no journals to merge")]
    Empty,
    #[error(
        "cannot merge different campaigns: {} is campaign `{}` (sha256 {}) but {} is campaign `{}` (sha256 {}); \
         only partitions or resumes of one campaign file merge",
        .first.journal, .first.campaign, .first.sha256, .other.journal, .other.campaign, .other.sha256
    )]
    DifferentCampaigns {
        first: Box<CampaignOf>,
        other: Box<CampaignOf>,
    },
    #[error(
        "cannot merge {first} and {other}: they were run from different input files ({files}); \
         merge only partitions run from the same files: run the partition again from those files \
         into a new --out directory, or restore the file"
    )]
    DifferentInputs {
        first: String,
        other: String,
        files: String,
    },
    #[error("cannot merge {count} journals at once (at most {most}): merge them in groups")]
    TooMany { count: usize, most: usize },
    #[error("cannot merge partitions of different splits ({listed}): give the partitions k/n of one n")]
    MixedSplits { listed: String },
    #[error(
        "cannot merge {first} (filter {first_filter}) and {other} (filter {other_filter}): together they \
         cover neither the campaign nor one subset of it; run every partition with the same `--filter`"
    )]
    MixedFilters {
        first: String,
        first_filter: String,
        other: String,
        other_filter: String,
    },
}

/// Which campaign a journal holds (for [`MergeError::DifferentCampaigns`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignOf {
    pub journal: String,
    pub campaign: String,
    pub sha256: String,
}

/// One journal as the merge sees it: everything but its results.
pub(crate) struct Part<'a> {
    pub header: &'a JournalHeader,
    pub control: Option<&'a ControlRun>,
    pub end: Option<&'a JournalEnd>,
    pub notes: &'a [String],
    pub sources: &'a [PathBuf],
}

impl<'a> Part<'a> {
    pub fn of(journal: &'a Journal) -> Self {
        Part {
            header: &journal.header,
            control: journal.control.as_ref(),
            end: journal.end.as_ref(),
            notes: &journal.notes,
            sources: &journal.sources,
        }
    }
}

/// What merging several journals gives, results aside: the notes come in two parts because
/// the notes about results merged twice go between them.
pub(crate) struct Merged {
    /// How each part is named in notes and errors.
    pub names: Vec<String>,
    pub header: JournalHeader,
    pub control: Option<ControlRun>,
    pub end: Option<JournalEnd>,
    pub notes_before_cuts: Vec<String>,
    pub notes_after_cuts: Vec<String>,
}

/// Merges journals of the same campaign (same name and `campaign_sha256`), in the order given.
///
/// - planned cut points: the union; in campaign order when every planned cut carries its `index`,
///   else in order of first appearance;
/// - results by id; when two journals hold the same id the later journal wins, with a note,
///   unless the earlier one failed and the later did not: the failure stands;
/// - the control run: the first that did not pass, else the first;
/// - the end: only when every journal ended (else the merged campaign counts as interrupted);
/// - the partition: none when the partitions cover the whole campaign (or one journal is of the
///   whole campaign), else the list of them (see [`Journal::missing_partitions`]); partitions of
///   different splits (`1/2` and `1/3`) are refused.
pub fn merge_journals(journals: Vec<Journal>) -> Result<Journal, MergeError> {
    if journals.len() == 1 {
        return Ok(journals.into_iter().next().expect("one journal"));
    }
    let parts: Vec<Part<'_>> = journals.iter().map(Part::of).collect();
    let merged = merge_parts(&parts)?;
    let mut notes = merged.notes_before_cuts;
    let names = merged.names;

    let mut cuts: Vec<CutResult> = Vec::new();
    let mut where_from: HashMap<String, (usize, usize)> = HashMap::new();
    for (j, journal) in journals.iter().enumerate() {
        for cut in &journal.cuts {
            match where_from.get(&cut.id) {
                Some(&(index, from)) if crate::journal::hides_a_failure(cuts[index].status, cut.status) => {
                    notes.push(merged_failure_stands(&cut.id, &names[from], &names[j], cut.status));
                }
                Some(&(index, from)) => {
                    notes.push(merged_twice(&cut.id, &names[from], &names[j]));
                    cuts[index] = cut.clone();
                    where_from.insert(cut.id.clone(), (index, j));
                }
                None => {
                    where_from.insert(cut.id.clone(), (cuts.len(), j));
                    cuts.push(cut.clone());
                }
            }
        }
    }
    notes.extend(merged.notes_after_cuts);

    Ok(Journal {
        header: merged.header,
        control: merged.control,
        cuts,
        end: merged.end,
        notes,
        sources: journals.iter().flat_map(|j| j.sources.iter().cloned()).collect(),
    })
}

/// The note about a cut point found in two merged journals.
pub(crate) fn merged_twice(id: &str, earlier: &str, later: &str) -> String {
    format!("cut point `{id}` is in {earlier} and {later}; keeping the later ({later})")
}

/// The note about a cut point that failed in one merged journal and has another result in a
/// later one: the failure stands (see [`crate::journal::hides_a_failure`]).
pub(crate) fn merged_failure_stands(id: &str, earlier: &str, later: &str, status: Status) -> String {
    let note = format!(
        "cut point `{id}` failed in {earlier} and is {status} in {later}; the failure stands \
         (a later result never hides a device failure)"
    );
    eprintln!("cutpoint: {note}");
    note
}

/// Merges everything but the results of two or more journals (see [`merge_journals`]).
pub(crate) fn merge_parts(all: &[Part<'_>]) -> Result<Merged, MergeError> {
    let Some(first) = all.first() else {
        return Err(MergeError::Empty);
    };
    let names: Vec<String> = all.iter().enumerate().map(|(i, p)| source_name(p.sources, i)).collect();

    let base = first.header;
    for (part, name) in all.iter().zip(&names).skip(1) {
        if part.header.campaign_sha256 != base.campaign_sha256 || part.header.campaign != base.campaign {
            return Err(MergeError::DifferentCampaigns {
                first: Box::new(CampaignOf {
                    journal: names[0].clone(),
                    campaign: base.campaign.clone(),
                    sha256: base.campaign_sha256.clone(),
                }),
                other: Box::new(CampaignOf {
                    journal: name.clone(),
                    campaign: part.header.campaign.clone(),
                    sha256: part.header.campaign_sha256.clone(),
                }),
            });
        }
    }

    // Partitions run from different image files (or key, or station file) are not one
    // campaign's results, whatever the campaign file says.
    for (part, name) in all.iter().zip(&names).skip(1) {
        if let InputsCompared::Changed(changes) = compare_inputs(&base.inputs, &part.header.inputs) {
            return Err(MergeError::DifferentInputs {
                first: names[0].clone(),
                other: name.clone(),
                files: changes
                    .iter()
                    .map(|c| c.describe(&format!("in {}", names[0]), &format!("in {name}")))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
    }

    // A filter selects a subset of the plan: parts run with different filters (or one with a
    // filter and one without) make a merge that is neither the campaign nor one subset of it,
    // and a report of it would call the cut points no part selected "not run" at best, or the
    // partitions "the whole campaign" at worst.
    for (part, name) in all.iter().zip(&names).skip(1) {
        if part.header.filter != base.filter {
            let shown = |f: &Option<String>| f.as_deref().map_or_else(|| "none".to_owned(), |f| format!("`{f}`"));
            return Err(MergeError::MixedFilters {
                first: names[0].clone(),
                first_filter: shown(&base.filter),
                other: name.clone(),
                other_filter: shown(&part.header.filter),
            });
        }
    }

    let mut notes: Vec<String> = all.iter().flat_map(|p| p.notes.iter().cloned()).collect();
    let mut header = without_plan(base);
    // One part without recorded inputs (an earlier cutpoint's) cannot be compared.
    if let Some((_, name)) = all.iter().zip(&names).find(|(p, _)| p.header.inputs.is_empty()) {
        if let Some((_, with)) = all.iter().zip(&names).find(|(p, _)| !p.header.inputs.is_empty()) {
            notes.push(format!(
                "{name} does not record the campaign's input files (an earlier cutpoint wrote it): whether it ran \
                 from the same image files, key and station file as {with} could not be compared"
            ));
        }
    }

    for (part, name) in all.iter().zip(&names).skip(1) {
        if part.header.target != base.target {
            notes.push(format!(
                "{name} ran on target `{}`, {} on `{}`",
                part.header.target, names[0], base.target
            ));
        }
        if part.header.seed != base.seed {
            notes.push(format!(
                "{name} has campaign seed {}, {} has {}",
                part.header.seed, names[0], base.seed
            ));
        }
    }

    // Each partition records the whole campaign's skipped offsets: one copy of each.
    for part in all.iter().skip(1) {
        for s in &part.header.skipped {
            if !header.skipped.iter().any(|k| k.id == s.id) {
                header.skipped.push(s.clone());
            }
        }
    }
    header.planned = merged_plan(all, &names, &mut notes);
    header.partition = merged_partition(all, &mut notes)?;

    let mut tail = Vec::new();
    let control = merged_control(all, &names, &mut tail);
    let end = merged_end(all, &names, &mut tail);
    Ok(Merged {
        names,
        header,
        control,
        end,
        notes_before_cuts: notes,
        notes_after_cuts: tail,
    })
}

/// A copy of `header` with an empty plan (the merged plan is built apart).
fn without_plan(header: &JournalHeader) -> JournalHeader {
    JournalHeader {
        format: header.format,
        campaign: header.campaign.clone(),
        campaign_path: header.campaign_path.clone(),
        campaign_sha256: header.campaign_sha256.clone(),
        target: header.target.clone(),
        seed: header.seed,
        partition: header.partition.clone(),
        filter: header.filter.clone(),
        planned: Vec::new(),
        started: header.started.clone(),
        expect: header.expect,
        inputs: header.inputs.clone(),
        skipped: header.skipped.clone(),
    }
}

fn source_name(sources: &[PathBuf], i: usize) -> String {
    match sources {
        [one] => one.display().to_string(),
        [] => format!("journal #{}", i + 1),
        many => many
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join("+"),
    }
}

fn merged_plan(all: &[Part<'_>], names: &[String], notes: &mut Vec<String>) -> Vec<PlannedCut> {
    let mut planned: Vec<PlannedCut> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for (part, name) in all.iter().zip(names) {
        for cut in &part.header.planned {
            match at.get(cut.id.as_str()) {
                Some(&i) => {
                    let known = &planned[i];
                    if known.phase != cut.phase || known.offset != cut.offset {
                        notes.push(format!(
                            "{name} plans `{}` at {}/{}, an earlier journal at {}/{}; keeping the earlier",
                            cut.id, cut.phase, cut.offset, known.phase, known.offset
                        ));
                    }
                }
                None => {
                    at.insert(&cut.id, planned.len());
                    planned.push(cut.clone());
                }
            }
        }
    }
    if planned.iter().all(|p| p.index.is_some()) {
        // Stable: equal indexes keep their order of first appearance.
        planned.sort_by_key(|p| p.index);
    }
    planned
}

fn merged_partition(all: &[Part<'_>], notes: &mut Vec<String>) -> Result<Option<String>, MergeError> {
    let labels: BTreeSet<(u64, u64, &str)> = all
        .iter()
        .map(|j| {
            let p = j.header.partition.as_deref();
            let parsed = p.and_then(parse_partition).unwrap_or((0, 0));
            (parsed.1, parsed.0, p.unwrap_or("none"))
        })
        .collect();
    if labels.len() == 1 {
        return Ok(all[0].header.partition.clone());
    }
    let listed = labels.iter().map(|&(_, _, p)| p).collect::<Vec<_>>().join(", ");
    if all.iter().any(|j| j.header.partition.is_none()) {
        notes.push(format!(
            "merged partitions {listed}: a journal of the whole campaign covers it all"
        ));
        return Ok(None);
    }
    let splits: BTreeSet<u64> = labels.iter().map(|&(n, _, _)| n).collect();
    if splits.len() > 1 || splits.contains(&0) {
        return Err(MergeError::MixedSplits { listed });
    }
    let covered: BTreeSet<u64> = labels.iter().map(|&(_, k, _)| k).collect();
    let n = splits.first().copied().unwrap_or(0);
    if (1..=n).all(|k| covered.contains(&k)) {
        notes.push(format!("merged partitions {listed}: the whole campaign"));
        Ok(None)
    } else {
        notes.push(format!("merged partitions {listed}"));
        Ok(Some(listed))
    }
}

/// `k/n` with 1 <= k <= n.
pub(crate) fn parse_partition(p: &str) -> Option<(u64, u64)> {
    let (k, n) = p.split_once('/')?;
    let (k, n) = (k.trim().parse().ok()?, n.trim().parse().ok()?);
    (k >= 1 && k <= n).then_some((k, n))
}

fn merged_control(all: &[Part<'_>], names: &[String], notes: &mut Vec<String>) -> Option<ControlRun> {
    let controls: Vec<(&ControlRun, &String)> = all
        .iter()
        .zip(names)
        .filter_map(|(j, name)| j.control.map(|c| (c, name)))
        .collect();
    let bad = controls.iter().find(|(c, _)| c.status != Status::Pass);
    match bad {
        Some((control, name)) => {
            notes.push(format!("the control run of {name} ended {}", control.status));
            Some((*control).clone())
        }
        None => controls.first().map(|(c, _)| (*c).clone()),
    }
}

fn merged_end(all: &[Part<'_>], names: &[String], notes: &mut Vec<String>) -> Option<JournalEnd> {
    let mut ends = Vec::new();
    let mut unfinished = false;
    for (journal, name) in all.iter().zip(names) {
        match journal.end {
            Some(end) => {
                if !end.how.is_complete() {
                    notes.push(format!("{name} ended: {}", end.how));
                }
                ends.push(end);
            }
            None => {
                notes.push(format!("{name} did not finish (no end record)"));
                unfinished = true;
            }
        }
    }
    if unfinished {
        return None;
    }
    let finished = ends
        .iter()
        .map(|e| e.finished.as_str())
        .max()
        .unwrap_or_default()
        .to_owned();
    // A cancelled journal makes the merge cancelled, whatever else the others say.
    let how = ends
        .iter()
        .find(|e| e.how.is_cancelled())
        .or_else(|| ends.iter().find(|e| !e.how.is_complete()))
        .map_or(EndReason::Complete, |e| e.how.clone());
    Some(JournalEnd { finished, how })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use crate::testutil::{cut, header};
    use std::path::PathBuf;

    fn journal(path: &str, sha: &str, partition: Option<&str>, planned: &[&str]) -> Journal {
        let mut j = Journal::new(header(sha, partition, planned));
        j.sources.push(PathBuf::from(path));
        j
    }

    fn end(how: &str) -> Option<JournalEnd> {
        Some(JournalEnd {
            finished: "2025-01-01T02:00:00Z".into(),
            how: how.into(),
        })
    }

    #[test]
    fn partitions_merge_into_the_campaign_order() {
        // Round-robin partitions of a/1 a/2 a/3 b/1.
        let mut p1 = journal("p1/results.jsonl", "aa", Some("1/2"), &["a/1", "a/3"]);
        let mut p2 = journal("p2/results.jsonl", "aa", Some("2/2"), &["a/2", "b/1"]);
        for (p, indexes) in [(&mut p1, [0, 2]), (&mut p2, [1, 3])] {
            for (planned, index) in p.header.planned.iter_mut().zip(indexes) {
                planned.index = Some(index);
            }
        }
        p1.cuts.push(cut("a/1", Status::Pass));
        p2.cuts.push(cut("b/1", Status::Fail));
        p1.end = end("complete");
        p2.end = end("complete");

        let m = merge_journals(vec![p2, p1]).unwrap();
        let order: Vec<_> = m.header.planned.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(order, ["a/1", "a/2", "a/3", "b/1"]);
        assert_eq!(m.header.partition, None);
        assert_eq!(m.cuts.len(), 2);
        assert_eq!(m.end.as_ref().map(|e| &e.how), Some(&EndReason::Complete));
        assert!(
            m.notes
                .iter()
                .any(|n| n == "merged partitions 1/2, 2/2: the whole campaign"),
            "{:?}",
            m.notes
        );
        assert_eq!(m.sources.len(), 2);
    }

    #[test]
    fn plans_without_index_keep_first_appearance() {
        let p1 = journal("p1", "aa", Some("1/3"), &["a/1", "a/3"]);
        let p2 = journal("p2", "aa", Some("2/3"), &["a/2"]);
        let m = merge_journals(vec![p1, p2]).unwrap();
        let order: Vec<_> = m.header.planned.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(order, ["a/1", "a/3", "a/2"]);
        assert_eq!(m.header.partition.as_deref(), Some("1/3, 2/3"));
        assert_eq!(
            m.end, None,
            "a journal without an end record makes the merge interrupted"
        );
    }

    #[test]
    fn different_campaigns_are_refused() {
        let a = journal("nightly/results.jsonl", "aa", None, &[]);
        let b = journal("other/results.jsonl", "bb", None, &[]);
        let err = merge_journals(vec![a, b]).unwrap_err().to_string();
        assert_eq!(
            err,
            "cannot merge different campaigns: nightly/results.jsonl is campaign `swap-basic` (sha256 aa) \
             but other/results.jsonl is campaign `swap-basic` (sha256 bb); \
             only partitions or resumes of one campaign file merge"
        );
        assert!(matches!(merge_journals(vec![]), Err(MergeError::Empty)));

        // Same file contents, another name (a hand-edited header): still two campaigns.
        let a = journal("nightly/results.jsonl", "aa", None, &[]);
        let mut b = journal("other/results.jsonl", "aa", None, &[]);
        b.header.campaign = "nightly".into();
        let err = merge_journals(vec![a, b]).unwrap_err();
        assert!(matches!(err, MergeError::DifferentCampaigns { .. }), "{err}");
    }

    #[test]
    fn partitions_of_different_splits_are_refused() {
        let a = journal("a", "aa", Some("1/2"), &[]);
        let b = journal("b", "aa", Some("2/3"), &[]);
        let err = merge_journals(vec![a, b]).unwrap_err().to_string();
        assert_eq!(
            err,
            "cannot merge partitions of different splits (1/2, 2/3): give the partitions k/n of one n"
        );
    }

    #[test]
    fn missing_partitions_and_unfinished_journals_make_the_merge_incomplete() {
        let mut p1 = journal("p1", "aa", Some("1/3"), &["a/1"]);
        let mut p2 = journal("p2", "aa", Some("2/3"), &["a/2"]);
        p1.cuts.push(cut("a/1", Status::Pass));
        p2.cuts.push(cut("a/2", Status::Pass));
        p1.end = end("complete");
        p2.end = end("complete");
        let m = merge_journals(vec![p1.clone(), p2.clone()]).unwrap();
        assert_eq!(m.end.as_ref().map(|e| &e.how), Some(&EndReason::Complete));
        assert_eq!(m.missing_partitions(), ["3/3"]);
        assert_eq!(m.incomplete().len(), 1, "{:?}", m.incomplete());

        let mut p3 = journal("p3", "aa", Some("3/3"), &["a/3"]);
        p3.end = end("cancelled");
        p2.end = end("stopped: the control run did not update cleanly");
        let m = merge_journals(vec![p1.clone(), p2, p3.clone()]).unwrap();
        assert!(m.missing_partitions().is_empty());
        assert_eq!(m.end.as_ref().map(|e| &e.how), Some(&EndReason::Cancelled));
        assert!(
            m.incomplete()[0].starts_with("the run was cancelled"),
            "{:?}",
            m.incomplete()
        );
        assert!(m.notes.contains(&"p3 ended: cancelled".to_owned()), "{:?}", m.notes);

        p3.end = None;
        let m = merge_journals(vec![p1, p3]).unwrap();
        assert_eq!(m.end, None);
        assert!(
            m.notes.contains(&"p3 did not finish (no end record)".to_owned()),
            "{:?}",
            m.notes
        );
        assert_eq!(m.incomplete().len(), 2, "{:?}", m.incomplete());
    }

    #[test]
    fn partitions_run_with_different_filters_do_not_merge() {
        let a = journal("a", "aa", Some("1/2"), &["a/1"]);
        let mut b = journal("b", "aa", Some("2/2"), &["a/2"]);
        b.header.filter = Some("confirm/*".into());
        let err = merge_journals(vec![a.clone(), b.clone()]).unwrap_err().to_string();
        assert_eq!(
            err,
            "cannot merge a (filter none) and b (filter `confirm/*`): together they cover neither the \
             campaign nor one subset of it; run every partition with the same `--filter`"
        );
        let mut a = a;
        a.header.filter = Some("confirm/*".into());
        let m = merge_journals(vec![a, b]).unwrap();
        assert_eq!(
            m.header.filter.as_deref(),
            Some("confirm/*"),
            "one subset, kept as such"
        );
    }

    #[test]
    fn a_journal_of_the_whole_campaign_covers_partitions_merged_with_it() {
        let a = journal("a", "aa", None, &["a/1", "a/2"]);
        let b = journal("b", "aa", Some("1/2"), &["a/1"]);
        let m = merge_journals(vec![a, b]).unwrap();
        assert_eq!(m.header.partition, None);
        assert!(m.missing_partitions().is_empty());
    }

    #[test]
    fn duplicate_ids_keep_the_later_journal() {
        let mut a = journal("a", "aa", None, &["s/1", "s/2"]);
        let mut b = journal("b", "aa", None, &["s/1", "s/2"]);
        a.cuts.push(cut("s/1", Status::Error));
        a.cuts.push(cut("s/2", Status::Pass));
        b.cuts.push(cut("s/1", Status::Pass));
        let m = merge_journals(vec![a, b]).unwrap();
        let got: Vec<_> = m.cuts.iter().map(|c| (c.id.as_str(), c.status)).collect();
        assert_eq!(got, [("s/1", Status::Pass), ("s/2", Status::Pass)]);
        assert!(
            m.notes
                .contains(&"cut point `s/1` is in a and b; keeping the later (b)".to_owned()),
            "{:?}",
            m.notes
        );
        assert_eq!(
            m.header.partition, None,
            "copies of one unpartitioned run stay unpartitioned"
        );
    }

    #[test]
    fn a_later_journal_never_hides_a_device_failure() {
        let mut a = journal("a", "aa", None, &["s/1", "s/2"]);
        let mut b = journal("b", "aa", None, &["s/1", "s/2"]);
        a.cuts.push(cut("s/1", Status::Fail));
        a.cuts.push(cut("s/2", Status::Pass));
        b.cuts.push(cut("s/1", Status::Pass));
        b.cuts.push(cut("s/2", Status::Fail));
        let m = merge_journals(vec![a, b]).unwrap();
        let got: Vec<_> = m.cuts.iter().map(|c| (c.id.as_str(), c.status)).collect();
        assert_eq!(got, [("s/1", Status::Fail), ("s/2", Status::Fail)]);
        assert!(
            m.notes.contains(
                &"cut point `s/1` failed in a and is pass in b; the failure stands \
                  (a later result never hides a device failure)"
                    .to_owned()
            ),
            "{:?}",
            m.notes
        );
        assert!(
            m.notes
                .contains(&"cut point `s/2` is in a and b; keeping the later (b)".to_owned()),
            "{:?}",
            m.notes
        );
    }

    #[test]
    fn a_failed_control_run_wins_and_is_noted() {
        let mut a = journal("a", "aa", Some("1/2"), &[]);
        let mut b = journal("b", "aa", Some("2/2"), &[]);
        let control = |status| ControlRun {
            status,
            reasons: vec![],
            phases: vec![],
            console: vec![],
            flash_ops: None,
        };
        a.control = Some(control(Status::Pass));
        b.control = Some(control(Status::Fail));
        a.end = end("complete");
        b.end = end("stopped: operator");
        let m = merge_journals(vec![a, b]).unwrap();
        assert_eq!(m.control.map(|c| c.status), Some(Status::Fail));
        assert_eq!(m.end.map(|e| e.how), Some(EndReason::Stopped("operator".to_owned())));
    }
}
