//! What a journal says is trusted only as far as it belongs together: a cut record outside the
//! journal's plan is bad input for every command that reads it (`report`, `replay`, a resume),
//! and a later record of a cut point never hides its device failure.

use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::{cutpoint, root};

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-trust-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn old_journal(name: &str) -> Vec<String> {
    let path = root()
        .join("rig/report/tests/data/old-journals")
        .join(name)
        .join("results.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Writes `lines` as the journal of report directory `dir`; returns the journal's path.
fn write_journal(dir: &Path, lines: &[String]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("results.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn id_of(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// The smoke journal with `line` inserted before its `end` record; the 1-based line it is at.
fn smoke_with(line: String) -> (Vec<String>, usize) {
    let mut lines = old_journal("smoke");
    let end = lines.pop().unwrap();
    assert!(end.starts_with(r#"{"record":"end""#), "{end}");
    lines.push(line);
    let at = lines.len();
    lines.push(end);
    (lines, at)
}

#[test]
fn report_and_replay_refuse_a_record_pasted_from_another_campaign() {
    let dir = tmp("pasted");
    let pasted = old_journal("chains")
        .into_iter()
        .find(|l| l.starts_with(r#"{"record":"cut""#))
        .unwrap();
    let id = id_of(&pasted);
    let (lines, at) = smoke_with(pasted);
    let journal = write_journal(&dir.join("run"), &lines);
    let expected = format!(
        "{}:{at}: cut point `{id}` is not in this journal's plan: the record belongs to another plan",
        journal.display()
    );

    let out = dir.join("out");
    let run = dir.join("run");
    let (code, stdout, stderr) = cutpoint(&["report", run.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "bad input: {stdout}{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "remove line {at} from the journal, or report the journal the record came from"
        )),
        "{stderr}"
    );
    assert!(!out.join("summary.md").exists(), "no verdict of a journal refused");

    let (code, _, stderr) = cutpoint(&["replay", run.to_str().unwrap(), "download/start"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");

    // Without the pasted record the same journal reports green.
    let mut clean = lines.clone();
    clean.remove(at - 1);
    write_journal(&run, &clean);
    let (code, stdout, stderr) = cutpoint(&["report", run.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

const SMALL: &str = r#"
name = "trust"

[target]
board = "nrf52840"
variant = "reference"

[images]
baseline = { version = "1.0.0", size_kib = 16 }
update = { version = "2.0.0", size_kib = 16 }

[[phases]]
name = "verify"
start = 'ota: verify-start'
end = 'ota: verify-(ok|fail)'
offsets = { fixed = ["start", "end"] }
"#;

#[test]
fn a_resume_refuses_a_journal_holding_a_record_outside_its_plan() {
    let dir = tmp("resume");
    let campaign = dir.join("trust.toml");
    std::fs::write(&campaign, SMALL).unwrap();
    let out = dir.join("r");
    let (code, _, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    // The run stopped before its last cut point; a record of another campaign sits in its place.
    let journal = out.join("results.jsonl");
    let mut lines: Vec<String> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.pop(); // the end
    let last = lines.pop().unwrap();
    let pasted = last.replacen(&format!("\"id\":\"{}\"", id_of(&last)), "\"id\":\"swap/start\"", 1);
    lines.push(pasted);
    let at = lines.len();
    write_journal(&out, &lines);
    let before = std::fs::read(&journal).unwrap();

    let (code, _, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--resume", out.to_str().unwrap()]);
    assert_eq!(code, 2, "bad input, not a rig error: {stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:{at}: cut point `swap/start` is not in this journal's plan",
            journal.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&journal).unwrap(), before, "nothing appended");
}

/// The smoke journal with its cut record at `line` (1-based) recorded first as `status`, and
/// recorded as it was (a pass) again before the end; the line the pass is at.
fn smoke_recorded_twice(first: usize, status: &str, reason: &str) -> (Vec<String>, usize, String) {
    let mut lines = old_journal("smoke");
    let pass = lines[first - 1].clone();
    assert!(pass.contains(r#""status":"pass","reasons":[]"#), "{pass}");
    lines[first - 1] = pass.replacen(
        r#""status":"pass","reasons":[]"#,
        &format!(r#""status":"{status}","reasons":["{reason}"]"#),
        1,
    );
    let id = id_of(&pass);
    let (end, at) = (lines.pop().unwrap(), lines.len() + 1);
    lines.push(pass);
    lines.push(end);
    (lines, at, id)
}

#[test]
fn a_later_pass_never_hides_a_device_failure_of_the_same_cut_point() {
    let dir = tmp("fail-then-pass");
    let (lines, at, id) = smoke_recorded_twice(5, "fail", "silent revert: 1.0.0 runs");
    let run = dir.join("run");
    let journal = write_journal(&run, &lines);
    let out = dir.join("out");
    let (code, stdout, stderr) = cutpoint(&["report", run.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1, "the failure stands: {stdout}{stderr}");
    assert!(stdout.contains("42 cut points: 41 passed, 1 failed"), "{stdout}");
    let note = format!(
        "{}:{at}: cut point `{id}` recorded again as pass after a device failure at line 5; the failure stands",
        journal.display()
    );
    assert!(stderr.contains(&note), "on stderr: {stderr}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    // Markdown escapes the backquotes of the id.
    assert!(summary.contains(&note.replace('`', "\\`")), "in summary.md: {summary}");
    assert!(summary.contains("silent revert: 1.0.0 runs"), "{summary}");
}

#[test]
fn a_later_pass_supersedes_an_earlier_rig_error() {
    let dir = tmp("error-then-pass");
    let (lines, at, id) = smoke_recorded_twice(5, "error", "rig error: lost console");
    let run = dir.join("run");
    let journal = write_journal(&run, &lines);
    let out = dir.join("out");
    let (code, stdout, stderr) = cutpoint(&["report", run.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("42 cut points: 42 passed, 0 failed, 0 rig errors"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "note: {}:{at}: cut point `{id}` recorded again (first at line 5); keeping the later result",
            journal.display()
        )),
        "{stdout}"
    );
}
