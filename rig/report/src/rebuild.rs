//! Writing a report directory: `junit.xml`, `summary.md`, `report.html` and the per-cut artifacts,
//! from the journal of a finished run or rebuilt from one or several journals.

use std::path::{Path, PathBuf};

use crate::artifacts::write_all_artifacts;
use crate::fsio::{self, PathError};
use crate::journal::{journal_path, read_journal, write_journal_file, Journal, JournalError, JOURNAL_FILE};
use crate::merge::{merge_journals, MergeError};
use crate::model::Status;
use crate::verdict::NegativeControl;
use crate::view::Counts;
use crate::{html, junit, summary};

pub const JUNIT_FILE: &str = "junit.xml";
pub const SUMMARY_FILE: &str = "summary.md";
pub const HTML_FILE: &str = "report.html";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Io(#[from] PathError),
    #[error("cannot write {}: {source}", path.display())]
    Junit {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode the cut data of {}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// What a report says, for the command line to print and pick an exit code from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSummary {
    pub campaign: String,
    pub counts: Counts,
    /// Counts per phase, phases in planned order.
    pub phases: Vec<(String, Counts)>,
    /// The control run's verdict; None when it did not run.
    pub control: Option<Status>,
    /// How the campaign ended (`complete`, `cancelled`, `stopped: ...`); None when interrupted.
    pub end: Option<String>,
    /// Why the report does not cover a finished campaign (see [`Journal::incomplete`]); empty
    /// when it does.
    pub incomplete: Vec<String>,
    /// A negative control's outcome; None for an ordinary campaign.
    pub negative_control: Option<NegativeControl>,
    pub notes: Vec<String>,
    /// The files written, report directory first-level files only (not the per-cut artifacts).
    pub files: Vec<PathBuf>,
    /// How many per-cut artifact directories were written.
    pub artifact_dirs: usize,
}

impl ReportSummary {
    /// Every planned cut point ran and passed, and so did the control run.
    pub fn all_passed(&self) -> bool {
        self.control == Some(Status::Pass)
            && self.counts.fail == 0
            && self.counts.error == 0
            && self.counts.not_run == 0
    }

    pub fn has_failures(&self) -> bool {
        self.counts.fail > 0 || self.control == Some(Status::Fail)
    }

    pub fn has_rig_errors(&self) -> bool {
        self.counts.error > 0 || self.control == Some(Status::Error)
    }
}

/// Writes the reports of `journal` into `out_dir` (created when missing). The engine calls this at
/// the end of a run, with the journal read back from `out_dir`.
pub fn write_reports(out_dir: &Path, journal: &Journal) -> Result<ReportSummary, ReportError> {
    fsio::create_dir_all(out_dir)?;
    let report_dir = out_dir.display().to_string();

    let junit_path = out_dir.join(JUNIT_FILE);
    let xml = junit::junit_xml(journal, &report_dir).map_err(|source| ReportError::Junit {
        path: junit_path.clone(),
        source,
    })?;
    fsio::write_atomic(&junit_path, xml.as_bytes())?;

    let summary_path = out_dir.join(SUMMARY_FILE);
    fsio::write_atomic(
        &summary_path,
        summary::summary_markdown(journal, &report_dir).as_bytes(),
    )?;

    let html_path = out_dir.join(HTML_FILE);
    let page = html::report_html(journal, &report_dir).map_err(|source| ReportError::Json {
        path: html_path.clone(),
        source,
    })?;
    fsio::write_atomic(&html_path, page.as_bytes())?;

    let artifact_dirs = write_all_artifacts(out_dir, journal)?;

    Ok(ReportSummary {
        campaign: journal.header.campaign.clone(),
        counts: journal.counts(),
        phases: journal.phases().iter().map(|p| (p.name.to_owned(), p.counts)).collect(),
        control: journal.control.as_ref().map(|c| c.status),
        end: journal.end.as_ref().map(|e| e.how.clone()),
        incomplete: journal.incomplete(),
        negative_control: journal.negative_control(),
        notes: journal.notes.clone(),
        files: vec![junit_path, summary_path, html_path],
        artifact_dirs,
    })
}

/// Reads and merges journals (report directories or `results.jsonl` files), then writes the reports
/// into `out_dir`: this is `cutpoint report <dir>...`.
///
/// When `out_dir/results.jsonl` is not one of the inputs, the merged journal is written there too, so
/// `cutpoint replay <out_dir> <id>` works on the merged directory. When it is an input it is left alone
/// (a note says so if other journals were merged in).
pub fn rebuild_reports<P: AsRef<Path>>(out_dir: &Path, journals: &[P]) -> Result<ReportSummary, ReportError> {
    let paths: Vec<PathBuf> = journals.iter().map(|p| journal_path(p.as_ref())).collect();
    let mut read = Vec::with_capacity(paths.len());
    for path in &paths {
        read.push(read_journal(path)?);
    }
    let mut journal = merge_journals(read)?;

    fsio::create_dir_all(out_dir)?;
    let target = out_dir.join(JOURNAL_FILE);
    let mut written = None;
    if is_one_of(&target, &paths) {
        if paths.len() > 1 {
            journal.notes.push(format!(
                "{} is one of the merged journals and was left as it was; the merged results are in the reports only",
                target.display()
            ));
        }
    } else {
        write_journal_file(&target, &journal)?;
        written = Some(target);
    }

    let mut summary = write_reports(out_dir, &journal)?;
    summary.files.extend(written);
    Ok(summary)
}

/// Whether `path` names the same existing file as one of `others`.
fn is_one_of(path: &Path, others: &[PathBuf]) -> bool {
    let Ok(path) = path.canonicalize() else {
        return false;
    };
    others.iter().any(|o| o.canonicalize().is_ok_and(|o| o == path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalWriter;
    use crate::testutil::{cut, header};

    #[test]
    fn rebuild_into_a_new_directory_writes_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let (p1, p2, out) = (tmp.path().join("p1"), tmp.path().join("p2"), tmp.path().join("merged"));
        let mut w = JournalWriter::create(&p1, &header("aa", Some("1/2"), &["s/1"])).unwrap();
        w.append_cut(&cut("s/1", Status::Pass)).unwrap();
        let mut w = JournalWriter::create(&p2, &header("aa", Some("2/2"), &["s/2"])).unwrap();
        w.append_cut(&cut("s/2", Status::Fail)).unwrap();

        let summary = rebuild_reports(&out, &[&p1, &p2]).unwrap();
        assert_eq!(summary.counts.pass, 1);
        assert_eq!(summary.counts.fail, 1);
        assert!(summary.has_failures() && !summary.all_passed());
        assert_eq!(summary.artifact_dirs, 2);
        for name in [JUNIT_FILE, SUMMARY_FILE, HTML_FILE, JOURNAL_FILE] {
            assert!(out.join(name).is_file(), "{name}");
        }
        assert!(out.join("cuts").join("s_2f2").join("state.json").is_file());
        let merged = read_journal(&out).unwrap();
        assert_eq!(merged.cuts.len(), 2);
        assert_eq!(merged.header.partition, None);
    }

    #[test]
    fn rebuild_in_place_leaves_the_journal_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let (p1, p2) = (tmp.path().join("p1"), tmp.path().join("p2"));
        JournalWriter::create(&p1, &header("aa", Some("1/2"), &["s/1"])).unwrap();
        JournalWriter::create(&p2, &header("aa", Some("2/2"), &["s/2"])).unwrap();
        let before = std::fs::read(p1.join(JOURNAL_FILE)).unwrap();
        let summary = rebuild_reports(&p1, &[&p1, &p2]).unwrap();
        assert_eq!(std::fs::read(p1.join(JOURNAL_FILE)).unwrap(), before);
        assert!(
            summary.notes.iter().any(|n| n.contains("was left as it was")),
            "{:?}",
            summary.notes
        );
        assert_eq!(summary.counts.not_run, 2);
    }

    #[test]
    fn a_merge_lacking_a_partition_says_so_in_its_reports() {
        let tmp = tempfile::tempdir().unwrap();
        let (p1, p2, out) = (tmp.path().join("p1"), tmp.path().join("p2"), tmp.path().join("merged"));
        for (dir, partition, id) in [(&p1, "1/3", "s/1"), (&p2, "2/3", "s/2")] {
            let mut w = JournalWriter::create(dir, &header("aa", Some(partition), &[id])).unwrap();
            w.append_cut(&cut(id, Status::Pass)).unwrap();
            w.append_end(&crate::model::JournalEnd {
                finished: "2025-01-01T01:00:00Z".into(),
                how: "complete".into(),
            })
            .unwrap();
        }
        let summary = rebuild_reports(&out, &[&p1, &p2]).unwrap();
        assert_eq!(summary.end.as_deref(), Some("complete"));
        assert_eq!(summary.incomplete.len(), 1, "{:?}", summary.incomplete);
        assert!(summary.incomplete[0].starts_with("partition 3/3 is missing"));
        let md = std::fs::read_to_string(out.join(SUMMARY_FILE)).unwrap();
        assert!(md.contains("**Incomplete:** partition 3/3 is missing"), "{md}");
        let html = std::fs::read_to_string(out.join(HTML_FILE)).unwrap();
        assert!(html.contains("<p class=\"verdict incomplete\">incomplete: partition 3/3 is missing"));
    }

    #[test]
    fn errors_name_the_bad_journal() {
        let tmp = tempfile::tempdir().unwrap();
        let err = rebuild_reports(tmp.path(), &[tmp.path().join("nowhere")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("nowhere"), "{err}");
    }
}
