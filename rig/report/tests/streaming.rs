//! The reports written from journal files in one streaming pass are byte for byte the reports of
//! the same journals read whole and merged in memory, whatever the journals hold: results
//! recorded twice, results outside the plan, a plan grown by a resume of an earlier build, a torn
//! last line, partitions merged in any order, results in both of two merged journals.

mod fixture;

use std::fs;
use std::path::{Path, PathBuf};

use cutpoint_report::{
    junit_xml, merge_journals, read_journal, report_html, summary_markdown, write_journal_file,
    write_reports_from_journals, CutIdRef, CutResult, Journal, JournalHeader, JournalRecord, Landing, RecordedFault,
    ReportOptions, Status, HTML_FILE, JOURNAL_FILE, JUNIT_FILE, SUMMARY_FILE,
};

use fixture::{failing_run, fixture, negative_control, planned};

/// A journal file written line by line, with whatever `tail` after the last line.
fn write_journal(dir: &Path, records: &[JournalRecord], tail: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let mut text = String::new();
    for record in records {
        text.push_str(&serde_json::to_string(record).unwrap());
        text.push('\n');
    }
    text.push_str(tail);
    let path = dir.join(JOURNAL_FILE);
    fs::write(&path, text).unwrap();
    path
}

fn records(journal: &Journal) -> Vec<JournalRecord> {
    let mut records = vec![JournalRecord::Header(journal.header.clone())];
    records.extend(journal.control.clone().map(JournalRecord::Control));
    records.extend(journal.cuts.iter().cloned().map(JournalRecord::Cut));
    records.extend(journal.end.clone().map(JournalRecord::End));
    records
}

/// Writes the reports of `dirs` into a new directory both ways and compares every file.
fn assert_same_reports(tmp: &Path, name: &str, dirs: &[PathBuf]) {
    let out = tmp.join(format!("{name}-out"));
    let summary = write_reports_from_journals(&out, dirs, &ReportOptions::default()).unwrap();
    let report_dir = out.display().to_string();

    let read: Vec<Journal> = dirs.iter().map(|d| read_journal(d).unwrap()).collect();
    let merged = merge_journals(read).unwrap();
    let expected_journal = tmp.join(format!("{name}-expected.jsonl"));
    write_journal_file(&expected_journal, &merged).unwrap();

    let text = |file: &str| fs::read_to_string(out.join(file)).unwrap();
    assert_eq!(
        text(JUNIT_FILE),
        junit_xml(&merged, &report_dir).unwrap(),
        "{name}: junit"
    );
    assert_eq!(
        text(SUMMARY_FILE),
        summary_markdown(&merged, &report_dir),
        "{name}: summary"
    );
    assert_eq!(
        text(HTML_FILE),
        report_html(&merged, &report_dir).unwrap(),
        "{name}: html"
    );
    assert_eq!(
        text(JOURNAL_FILE),
        fs::read_to_string(&expected_journal).unwrap(),
        "{name}: merged journal"
    );
    assert_eq!(summary.counts, merged.counts(), "{name}: counts");
    assert_eq!(summary.notes, merged.notes, "{name}: notes");
    assert_eq!(summary.negative_control, merged.negative_control(), "{name}");
    assert_eq!(summary.incomplete, merged.incomplete(), "{name}");
}

fn cut_with(template: &CutResult, id: &str, status: Status, reason: &str) -> CutResult {
    let parsed = CutIdRef::parse(id).unwrap();
    let (phase, offset) = (parsed.first().phase, parsed.after_first_phase());
    let mut cut = template.clone();
    cut.id = id.to_owned();
    cut.phase = phase.to_owned();
    cut.offset = offset.to_owned();
    cut.status = status;
    cut.reasons = if reason.is_empty() {
        vec![]
    } else {
        vec![reason.to_owned()]
    };
    cut
}

#[test]
fn whole_journals_stream_to_the_same_reports() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, journal) in [
        ("fixture", fixture()),
        ("negative", negative_control()),
        ("failing", failing_run()),
    ] {
        let dir = tmp.path().join(name);
        write_journal(&dir, &records(&journal), "");
        assert_same_reports(tmp.path(), name, &[dir]);
    }
}

#[test]
fn damaged_and_resumed_journals_stream_to_the_same_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = fixture();
    let template = journal.cuts[0].clone();
    let mut records = records(&journal);
    records.pop(); // no end: interrupted
                   // Recorded again, worse, with warnings that repeat a class out of order.
    let mut again = journal.cuts[1].clone();
    again.status = Status::Fail;
    again.reasons = vec!["bricked: nothing booted (3 lines)".to_owned()];
    again.warnings = vec!["w1 (a)".to_owned(), "w2".to_owned(), "w1 (b)".to_owned()];
    again.wall_ms = 123_456;
    records.push(JournalRecord::Cut(again));
    // And again as a pass: the failure stands.
    records.push(JournalRecord::Cut(journal.cuts[1].clone()));
    // A result outside the plan, later planned by the header an earlier build repeats on resume.
    records.push(JournalRecord::Cut(cut_with(&template, "late/one", Status::Pass, "")));
    let mut resumed_header: JournalHeader = journal.header.clone();
    resumed_header.planned.push(planned("late/one", 100));
    resumed_header.planned.push(planned("late/two", 101));
    resumed_header.started = "2025-06-02T00:00:00Z".to_owned();
    records.push(JournalRecord::Header(resumed_header));
    // A planned cut point recorded as a rig error, then as a pass: the pass is kept.
    let planned_id = journal.header.planned[2].id.clone();
    records.push(JournalRecord::Cut(cut_with(
        &template,
        &planned_id,
        Status::Error,
        "rig error: lost console",
    )));
    records.push(JournalRecord::Cut(cut_with(&template, &planned_id, Status::Pass, "")));
    // Cuts aimed at instants that landed late by different amounts.
    let mut late = cut_with(&template, "late/two", Status::Pass, "");
    late.landing = Some(Landing {
        fault: RecordedFault::PowerCut,
        requested_us: Some(1_000),
        actual_us: 1_250,
        op: None,
        op_point: None,
        torn: None,
    });
    records.push(JournalRecord::Cut(late));
    let torn = serde_json::to_string(&JournalRecord::Cut(template.clone())).unwrap();
    let dir = tmp.path().join("damaged");
    write_journal(&dir, &records, &torn[..torn.len() / 2]);
    assert_same_reports(tmp.path(), "damaged", std::slice::from_ref(&dir));

    // The damaged journal merged with the whole one, both ways round: results in both.
    let whole = tmp.path().join("whole");
    write_journal(&whole, &self::records(&journal), "");
    assert_same_reports(tmp.path(), "damaged-whole", &[dir.clone(), whole.clone()]);
    assert_same_reports(tmp.path(), "whole-damaged", &[whole, dir]);
}

#[test]
fn a_result_outside_the_plan_is_refused_either_way_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = fixture();
    let mut records = records(&journal);
    let end = records.pop();
    // A record pasted from another campaign's journal.
    let pasted_at = records.len() + 1;
    records.push(JournalRecord::Cut(cut_with(
        &journal.cuts[0],
        "elsewhere/a",
        Status::Pass,
        "",
    )));
    records.extend(end);
    let dir = tmp.path().join("pasted");
    let path = write_journal(&dir, &records, "");
    let whole = read_journal(&dir).unwrap_err().to_string();
    let out = tmp.path().join("out");
    let streamed = write_reports_from_journals(&out, std::slice::from_ref(&dir), &ReportOptions::default())
        .unwrap_err()
        .to_string();
    let expected = format!(
        "{}:{pasted_at}: cut point `elsewhere/a` is not in this journal's plan",
        path.display()
    );
    assert!(whole.starts_with(&expected), "{whole}");
    assert!(streamed.contains(&expected), "{streamed}");
    assert!(!out.join(SUMMARY_FILE).exists(), "no report of a journal refused");
    // Merged with a good journal of the campaign, it is refused the same.
    let good = tmp.path().join("good");
    write_journal(&good, &self::records(&journal), "");
    let merged = write_reports_from_journals(&out, &[good, dir], &ReportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(merged.contains(&expected), "{merged}");
}

#[test]
fn partitions_stream_to_the_same_merged_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = failing_run();
    let n = 3;
    let mut dirs = Vec::new();
    for k in 0..n {
        let mut part = journal.clone();
        part.header.partition = Some(format!("{}/{n}", k + 1));
        part.header.planned = journal
            .header
            .planned
            .iter()
            .enumerate()
            .filter(|(i, _)| i % n == k)
            .map(|(_, p)| p.clone())
            .collect();
        part.cuts = journal
            .cuts
            .iter()
            .enumerate()
            .filter(|(i, _)| i % n == k)
            .map(|(_, c)| c.clone())
            .collect();
        // The last partition is still running: its last results are missing.
        if k == n - 1 {
            part.cuts.truncate(part.cuts.len() - 5);
            part.end = None;
        }
        let dir = tmp.path().join(format!("p{k}"));
        write_journal(&dir, &records(&part), "");
        dirs.push(dir);
    }
    assert_same_reports(tmp.path(), "all", &dirs);
    let reversed: Vec<PathBuf> = dirs.iter().rev().cloned().collect();
    assert_same_reports(tmp.path(), "reversed", &reversed);
    assert_same_reports(tmp.path(), "missing-one", &dirs[..2]);
}

#[test]
fn a_journal_that_changes_under_the_reports_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let path = write_journal(&dir, &records(&fixture()), "");
    let index = cutpoint_report::ResultIndex::of_files(&[&path]).unwrap();
    // Another cut record now sits where the first one was.
    let mut journal = fixture();
    journal.cuts.reverse();
    write_journal(&dir, &records(&journal), "");
    let row = index.rows().find(|&r| index.state(r).status().is_some()).unwrap();
    let err = index.load(row).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains("the journal changed while the reports were written"),
        "{err}"
    );
}
