//! `cutpoint report` on journals written before the journal's fields were typed
//! (`rig/report/tests/data/old-journals/`) writes the very files it wrote then: the same
//! exit code and output, `junit.xml`, `summary.md`, `report.html` and per-cut artifacts, and a
//! journal of the same records.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::{cutpoint, root};

const JOURNALS: [&str; 6] = ["smoke", "chains", "resets", "brownouts", "stopped", "negative"];

fn fixtures() -> PathBuf {
    root().join("rig/report/tests/data/old-journals")
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out
}

#[test]
fn report_of_an_old_journal_writes_the_files_it_wrote_then() {
    for name in JOURNALS {
        let journal_dir = fixtures().join(name);
        let expected_dir = journal_dir.join("report");
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join(name);
        let out_text = out.to_str().unwrap();
        let (code, stdout, stderr) = cutpoint(&["report", journal_dir.to_str().unwrap(), "--out", out_text]);
        let cli = format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}").replace(out_text, "{OUT}");
        let want = std::fs::read_to_string(expected_dir.join("cli.txt")).unwrap();
        assert_eq!(cli, want, "{name}: exit code and output");

        // The journal written with the reports holds the same records, as this build writes
        // them (a console written once and named by the records that repeat it).
        let old = cutpoint_report::read_journal(&journal_dir).unwrap();
        let new = cutpoint_report::read_journal(&out).unwrap();
        assert_eq!(
            (&new.header, &new.control, &new.cuts, &new.end),
            (&old.header, &old.control, &old.cuts, &old.end),
            "{name}: results.jsonl"
        );
        let mut written = files(&out);
        written.remove(Path::new("results.jsonl"));
        written.remove(Path::new(".lock"));
        let mut expected = files(&expected_dir);
        expected.remove(Path::new("cli.txt"));
        assert_eq!(written, expected, "{name}: the files of the report");
        for file in &expected {
            let got = std::fs::read_to_string(out.join(file))
                .unwrap()
                .replace(out_text, "{OUT}");
            let want = std::fs::read_to_string(expected_dir.join(file)).unwrap();
            assert!(
                got == want,
                "{name}/{}: differs from the report written then",
                file.display()
            );
        }
    }
}
