//! Writing a report directory: `junit.xml`, `summary.md`, `report.html` and the per-cut artifacts,
//! from the journal of a finished run or rebuilt from one or several journals.
//!
//! The reports are written from a [`ResultIndex`]: one streaming pass over each journal keeps how
//! each cut point ended and where its result is; each report then reads back the results it
//! writes about, one at a time. Memory follows the number of cut points (a few bytes each, and
//! the plan), never the size of their results.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::artifacts::{write_index_artifacts, Artifacts};
use crate::fsio::{self, AtomicError, PathError};
use crate::groups::Problems;
use crate::index::ResultIndex;
use crate::journal::{encode_cut, journal_path, Journal, JournalError, RecordRef, JOURNAL_FILE};
use crate::merge::MergeError;
use crate::model::Status;
use crate::shared_console::ConsoleLedger;
use crate::verdict::NegativeControl;
use crate::view::Counts;
use crate::{html, junit, summary};

pub const JUNIT_FILE: &str = "junit.xml";
pub const SUMMARY_FILE: &str = "summary.md";
pub const HTML_FILE: &str = "report.html";

/// What a report is written with, besides its journals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// Which cut points get an artifact directory.
    pub artifacts: Artifacts,
}

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
    #[error("{}: the journal is too large for one report (a record starts past 256 TiB)", path.display())]
    TooLarge { path: PathBuf },
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
    /// How many per-cut artifact directories were written (see [`ReportOptions::artifacts`]).
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

/// A failure while streaming a report out: writing it, or reading back a result for it.
#[derive(Debug)]
pub(crate) enum WriteError {
    Io(io::Error),
    Report(ReportError),
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        WriteError::Io(e)
    }
}

impl From<ReportError> for WriteError {
    fn from(e: ReportError) -> Self {
        WriteError::Report(e)
    }
}

/// Writes the reports of `journal` (in memory) into `out_dir` (created when missing), with the
/// default options.
pub fn write_reports(out_dir: &Path, journal: &Journal) -> Result<ReportSummary, ReportError> {
    fsio::create_dir_all(out_dir)?;
    write_index_reports(out_dir, &ResultIndex::of_journal(journal), &ReportOptions::default())
}

/// Reads and merges journals (report directories or `results.jsonl` files) in one streaming pass
/// each, then writes the reports into `out_dir`: this is the end of `cutpoint run` (with the
/// run's own journal) and `cutpoint report <dir>...`.
///
/// When `out_dir/results.jsonl` is not one of the inputs, the merged journal is written there too,
/// so `cutpoint replay <out_dir> <id>` works on the merged directory. When it is an input it is
/// left alone (a note says so if other journals were merged in).
pub fn write_reports_from_journals<P: AsRef<Path>>(
    out_dir: &Path,
    journals: &[P],
    options: &ReportOptions,
) -> Result<ReportSummary, ReportError> {
    let paths: Vec<PathBuf> = journals.iter().map(|p| journal_path(p.as_ref())).collect();
    let mut index = ResultIndex::of_files(&paths)?;

    fsio::create_dir_all(out_dir)?;
    let target = out_dir.join(JOURNAL_FILE);
    let mut written = None;
    if is_one_of(&target, &paths) {
        if paths.len() > 1 {
            index.notes.push(format!(
                "{} is one of the merged journals and was left as it was; the merged results are in the reports only",
                target.display()
            ));
        }
    } else {
        write_index_journal(&target, &index)?;
        written = Some(target);
    }

    let mut summary = write_index_reports(out_dir, &index, options)?;
    summary.files.extend(written);
    Ok(summary)
}

/// [`write_reports_from_journals`] with the default options.
pub fn rebuild_reports<P: AsRef<Path>>(out_dir: &Path, journals: &[P]) -> Result<ReportSummary, ReportError> {
    write_reports_from_journals(out_dir, journals, &ReportOptions::default())
}

/// Writes the journal an index was read from (merged) to `path`, atomically: header, control run,
/// each result read back in the order first recorded, end.
fn write_index_journal(path: &Path, index: &ResultIndex<'_>) -> Result<(), ReportError> {
    let encode = |source| JournalError::Encode {
        path: path.to_path_buf(),
        source,
    };
    write_streamed(path, |out| {
        // A cut whose console was written in full here lately names that record instead.
        let mut ledger = ConsoleLedger::default();
        let line = |out: &mut io::BufWriter<std::fs::File>, record: &RecordRef<'_>| -> Result<(), WriteError> {
            serde_json::to_writer(&mut *out, record).map_err(|e| ReportError::from(encode(e)))?;
            out.write_all(b"\n")?;
            Ok(())
        };
        line(out, &RecordRef::Header(&index.header))?;
        if let Some(control) = &index.control {
            line(out, &RecordRef::Control(control))?;
        }
        for &row in index.recorded() {
            if let Some(cut) = index.load(row)? {
                encode_cut(out, &cut, &mut ledger).map_err(|e| ReportError::from(encode(e)))?;
            }
        }
        if let Some(end) = &index.end {
            line(out, &RecordRef::End(end))?;
        }
        Ok(())
    })
}

/// Writes `path` atomically with `write` streaming its contents.
fn write_streamed(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<std::fs::File>) -> Result<(), WriteError>,
) -> Result<(), ReportError> {
    fsio::write_atomic_with(path, write).map_err(|e| match e {
        AtomicError::Io(e) => ReportError::Io(e),
        AtomicError::Write(WriteError::Io(e)) => ReportError::Io(PathError::new(path, e)),
        AtomicError::Write(WriteError::Report(e)) => e,
    })
}

/// Writes the reports of an index into `out_dir` (which exists).
fn write_index_reports(
    out_dir: &Path,
    index: &ResultIndex<'_>,
    options: &ReportOptions,
) -> Result<ReportSummary, ReportError> {
    let report_dir = out_dir.display().to_string();
    let phases = index.phases();
    let problems = Problems::of(index, &phases, html::MAX_WINDOWS_LISTED)?;

    let junit_path = out_dir.join(JUNIT_FILE);
    let html_path = out_dir.join(HTML_FILE);
    let write_html = |each_row: Option<html::EachRow<'_>>| {
        write_streamed(&html_path, |out| {
            html::write_html_with(index, &phases, &problems, &report_dir, out, each_row)
        })
    };
    let mut html_written = false;
    write_streamed(&junit_path, |out| {
        if !html::shows_every_row(index) {
            return junit::write_junit(index, &report_dir, out);
        }
        // The page's data reads back every row in the order of the test cases: each result is
        // read once for both files (reading it back was most of the reports' time).
        let mut cases = junit::JunitCases::start(index, &report_dir, out)?;
        let mut junit_error = None;
        let mut each_row = |row: u32, cut: Option<&crate::model::CutResult>| {
            cases.row(index, row, cut).map_err(|e| match e {
                // Told apart from the page's own errors, to name the file.
                WriteError::Io(e) => {
                    junit_error = Some(e);
                    WriteError::Io(io::Error::other("junit.xml"))
                }
                e => e,
            })
        };
        let written = write_html(Some(&mut each_row));
        if let Some(e) = junit_error {
            return Err(WriteError::Io(e));
        }
        written?;
        html_written = true;
        cases.finish(index)
    })
    .map_err(|e| match e {
        ReportError::Io(PathError { path, source }) if path == junit_path => ReportError::Junit { path, source },
        e => e,
    })?;

    let summary_path = out_dir.join(SUMMARY_FILE);
    let text = summary::summary_text(index, &phases, &problems, &report_dir)?;
    fsio::write_atomic(&summary_path, text.as_bytes())?;

    if !html_written {
        write_html(None)?;
    }

    let artifact_dirs = write_index_artifacts(out_dir, index, options.artifacts)?;

    Ok(ReportSummary {
        campaign: index.header.campaign.clone(),
        counts: index.counts(),
        phases: phases.iter().map(|p| (p.name.to_owned(), p.counts)).collect(),
        control: index.control.as_ref().map(|c| c.status),
        end: index.end.as_ref().map(|e| e.how.to_string()),
        incomplete: index.incomplete(),
        negative_control: index.negative_control(),
        notes: index.notes.clone(),
        files: vec![junit_path, summary_path, html_path],
        artifact_dirs,
    })
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
    use crate::journal::{read_journal, JournalWriter};
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
        // Only the failing cut point gets an artifact directory.
        assert_eq!(summary.artifact_dirs, 1);
        for name in [JUNIT_FILE, SUMMARY_FILE, HTML_FILE, JOURNAL_FILE] {
            assert!(out.join(name).is_file(), "{name}");
        }
        assert!(out.join("cuts").join("s_2f2").join("state.json").is_file());
        assert!(!out.join("cuts").join("s_2f1").exists());
        let merged = read_journal(&out).unwrap();
        assert_eq!(merged.cuts.len(), 2);
        assert_eq!(merged.header.partition, None);
    }

    #[test]
    fn a_merged_journal_names_repeated_consoles_and_reads_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let (p1, p2, out) = (tmp.path().join("p1"), tmp.path().join("p2"), tmp.path().join("merged"));
        let console: Vec<crate::model::LogLine> = ["boot: start", "boot: swap-resume", "boot: jump"]
            .iter()
            .map(|t| crate::model::LogLine {
                t_us: 7,
                text: (*t).into(),
            })
            .collect();
        let with = |id: &str| crate::model::CutResult {
            console: console.clone(),
            ..cut(id, Status::Pass)
        };
        let mut w = JournalWriter::create(&p1, &header("aa", Some("1/2"), &["s/1", "s/3"])).unwrap();
        w.append_cuts(&[with("s/1"), with("s/3")]).unwrap();
        let mut w = JournalWriter::create(&p2, &header("aa", Some("2/2"), &["s/2"])).unwrap();
        w.append_cut(&with("s/2")).unwrap();

        rebuild_reports(&out, &[&p1, &p2]).unwrap();
        let text = std::fs::read_to_string(out.join(JOURNAL_FILE)).unwrap();
        assert_eq!(text.matches("boot: swap-resume").count(), 1, "{text}");
        assert_eq!(text.matches("\"console_of\":").count(), 2, "{text}");
        let merged = read_journal(&out).unwrap();
        assert_eq!(merged.cuts.len(), 3);
        assert!(merged
            .cuts
            .iter()
            .all(|c| c.console == console && c.console_of.is_none()));
        // The reports of the merged directory read it back too.
        rebuild_reports(&tmp.path().join("again"), &[&out]).unwrap();
        assert_eq!(read_journal(&tmp.path().join("again")).unwrap().cuts, merged.cuts);
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
    fn junit_and_html_read_each_result_back_once_between_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (run, out) = (tmp.path().join("run"), tmp.path().join("out"));
        let ids: Vec<String> = (1..=40).map(|n| format!("s/{n}")).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut w = JournalWriter::create(&run, &header("aa", None, &id_refs)).unwrap();
        for id in &ids[..30] {
            w.append_cut(&cut(id, Status::Pass)).unwrap();
        }
        let index = ResultIndex::of_files(&[journal_path(&run)]).unwrap();
        fsio::create_dir_all(&out).unwrap();
        write_index_reports(&out, &index, &ReportOptions::default()).unwrap();
        // 30 results (10 cut points did not run); all pass, so nothing else reads one back.
        assert_eq!(index.loads(), 30);
        // The files are those each writer makes on its own.
        let mut junit = Vec::new();
        junit::write_junit(&index, &out.display().to_string(), &mut junit).unwrap();
        assert_eq!(std::fs::read(out.join(JUNIT_FILE)).unwrap(), junit);
        let phases = index.phases();
        let problems = Problems::of(&index, &phases, html::MAX_WINDOWS_LISTED).unwrap();
        let mut page = Vec::new();
        html::write_html(&index, &phases, &problems, &out.display().to_string(), &mut page).unwrap();
        assert_eq!(std::fs::read(out.join(HTML_FILE)).unwrap(), page);
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
