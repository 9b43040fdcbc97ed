//! Verdicts a lab can trust, end to end through the `cutpoint` command: an interrupted run is
//! never green, a negative control passes only on failing cut points, a marker that matches
//! nothing is bad input, and one run writes a report directory at a time.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "support/cli.rs"]
mod cli;
use cli::{cutpoint, root};

fn tmp(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-verdicts-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `campaigns/<from>` with `edit` applied, written into `dir` under a unique name.
fn campaign_from(dir: &Path, from: &str, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(root().join("campaigns").join(from)).unwrap();
    let text = edit(text);
    let text = text.replacen("name = \"", &format!("name = \"{name}-"), 1);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A campaign big enough that it is still cutting when the test interrupts it.
fn long_campaign(dir: &Path, name: &str) -> PathBuf {
    campaign_from(dir, "smoke.toml", name, |t| {
        let t = t.replace("[run]\nseed = 42", "[run]\nseed = 42\nrepetitions = 200");
        t.replace("random = 6 }", "random = 400 }")
    })
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cutpoint")
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

/// Lines of the child's stderr, as they come.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (generously: CI machines are slow) for a line containing `needle`; returns the
/// lines read so far.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            let hit = l.contains(needle);
            seen.push(l);
            if hit {
                return;
            }
        }
    }
    panic!("no line with `{needle}` on stderr:\n{}", seen.join("\n"));
}

fn journaled_cuts(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"record\":\"cut\""))
        .count()
}

fn wait_for_cuts(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while journaled_cuts(dir) == 0 {
        assert!(Instant::now() < deadline, "no cut journaled in {}", dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `cutpoint run` whose plan is made, with its stderr so far and to come.
struct Running {
    child: Child,
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

fn start(args: &[&str]) -> Running {
    let mut child = spawn(args);
    let rx = stderr_lines(&mut child);
    let mut seen = Vec::new();
    wait_for(&rx, "cut points planned", &mut seen);
    Running { child, rx, seen }
}

/// A long campaign started on one worker into `dir/out`, its plan made.
fn start_long(dir: &Path, name: &str) -> (PathBuf, PathBuf, Running) {
    let campaign = long_campaign(dir, name);
    let out = dir.join("out");
    let run = start(&[
        "run",
        campaign.to_str().unwrap(),
        "--workers",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    (campaign, out, run)
}

impl Running {
    fn finish(self) -> (i32, String, String) {
        finish(self.child, self.rx, self.seen)
    }
}

fn finish(mut child: Child, rx: mpsc::Receiver<String>, mut seen: Vec<String>) -> (i32, String, String) {
    let status = child.wait().unwrap();
    seen.extend(rx.iter());
    let mut out = String::new();
    use std::io::Read;
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    (status.code().unwrap_or(-1), out, seen.join("\n"))
}

#[test]
fn an_interrupted_run_is_incomplete_says_how_to_resume_and_a_bare_resume_finds_it() {
    let dir = tmp("sigint");
    let name = format!("sigint{}", std::process::id());
    let campaign = long_campaign(&dir, &name);
    let run = start(&["run", campaign.to_str().unwrap(), "--workers", "1"]);
    let reports = root().join("reports");
    let run_dir = std::fs::read_dir(&reports)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().unwrap().to_string_lossy().contains(&name))
        .expect("the run's directory");
    wait_for_cuts(&run_dir);
    signal(&run.child, "INT");
    let (code, stdout, stderr) = run.finish();
    assert_eq!(code, 4, "an interrupted run exits 4 (incomplete)\n{stderr}");
    assert!(stderr.contains("INCOMPLETE"), "{stderr}");
    assert!(stderr.contains("--resume"), "says how to resume: {stderr}");
    assert!(stdout.contains("not run (incomplete)"), "{stdout}");
    assert!(
        !run_dir.join("junit.xml").exists(),
        "no report of a part of the plan that CI could read as a verdict"
    );
    let before = journaled_cuts(&run_dir);
    assert!(before > 0);

    // A bare --resume finds the cancelled run (it has an end record that says "cancelled"),
    // and a second interrupt stops it at once.
    let mut child = spawn(&["run", campaign.to_str().unwrap(), "--resume", "--workers", "1"]);
    let rx = stderr_lines(&mut child);
    let mut seen = Vec::new();
    wait_for(&rx, "already done", &mut seen);
    assert!(
        seen.iter().any(|l| l.contains(&format!("{before} already done"))),
        "the resume continues the cancelled run: {seen:?}"
    );
    signal(&child, "INT");
    wait_for(&rx, "interrupt again", &mut seen);
    signal(&child, "INT");
    let (code, _, stderr) = finish(child, rx, seen);
    assert_eq!(code, 4, "{stderr}");
    let _ = std::fs::remove_dir_all(&run_dir);
}

#[test]
fn sigterm_as_a_ci_timeout_sends_it_is_incomplete_too() {
    let dir = tmp("sigterm");
    let (_, out, run) = start_long(&dir, "sigterm");
    wait_for_cuts(&out);
    signal(&run.child, "TERM");
    let (code, _, stderr) = run.finish();
    assert_eq!(code, 4, "{stderr}");
}

#[test]
fn a_phase_marker_typo_is_bad_input_located_with_the_nearest_console_lines() {
    let dir = tmp("typo");
    let campaign = campaign_from(&dir, "smoke.toml", "typo", |t| {
        t.replace(
            "start = 'boot: swap-(start|resume)'",
            "start = 'boot: swap-(strat|resume)'",
        )
    });
    for cmd in ["run", "plan"] {
        let out = dir.join(format!("out-{cmd}"));
        let mut args = vec![cmd, campaign.to_str().unwrap()];
        if cmd == "run" {
            args.extend(["--out", out.to_str().unwrap()]);
        }
        let (code, _, stderr) = cutpoint(&args);
        assert_eq!(
            code, 2,
            "{cmd}: a marker typo is bad input, not a device failure\n{stderr}"
        );
        assert!(stderr.contains("typo.toml:"), "{cmd}: names the file: {stderr}");
        assert!(stderr.contains("phases.swap.start"), "{cmd}: names the field: {stderr}");
        assert!(
            stderr.contains("boot: swap-start"),
            "{cmd}: shows the line it meant: {stderr}"
        );
        assert!(!stderr.contains("does not update cleanly"), "{stderr}");
    }
    assert!(
        !dir.join("out-run").join("junit.xml").exists(),
        "no device verdict is written"
    );
}

#[test]
fn a_jump_marker_that_matches_nothing_is_bad_input_not_a_brick() {
    let dir = tmp("jump");
    let campaign = campaign_from(&dir, "smoke.toml", "jump", |t| {
        t.replacen(
            "[[phases]]",
            "[markers]\njump = 'booting image v(?P<version>[0-9.]+)'\n\n[[phases]]",
            1,
        )
    });
    let (code, _, stderr) = cutpoint(&["plan", campaign.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("markers.jump"), "{stderr}");
    assert!(!stderr.contains("does not update cleanly"), "{stderr}");
}

#[test]
fn a_negative_control_run_says_its_failures_are_expected_and_exits_as_its_report() {
    let dir = tmp("negative-lines");
    let campaign = root().join("campaigns/known-bugs/stale-header-after-resume.toml");
    let out = dir.join("run");
    let (code, stdout, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "the broken firmware was caught: {stderr}");
    assert_eq!(
        stdout.lines().last(),
        Some("0 passed, 6 failed, as expected (negative control)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("cutpoint: 6 cut points: 0 passed, 6 failed, as expected (negative control), 0 rig errors;"),
        "{stderr}"
    );
    assert!(stderr.contains("FAIL (expected) swap/"), "{stderr}");
    assert!(
        stderr
            .lines()
            .filter(|l| l.starts_with("FAIL"))
            .all(|l| l.starts_with("FAIL (expected) ")),
        "no failure unlabelled: {stderr}"
    );
    // `cutpoint report` on the same journal: the same words, the same exit code.
    let (report_code, report_out, report_err) = cutpoint(&[
        "report",
        out.to_str().unwrap(),
        "--out",
        dir.join("report").to_str().unwrap(),
    ]);
    assert_eq!(report_code, code, "{report_out}{report_err}");
    assert!(report_out.contains("failed, as expected"), "{report_out}");

    // An ordinary campaign's failures are not labelled expected.
    let broken = campaign_from(&dir, "known-bugs/stale-header-after-resume.toml", "notnegative", |t| {
        t.replace("expect = \"fail\"", "expect = \"pass\"")
    });
    let out = dir.join("plain");
    let (code, stdout, stderr) = cutpoint(&["run", broken.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout.lines().last(), Some("0 passed, 6 failed"), "{stdout}");
    assert!(!stderr.contains("as expected"), "{stderr}");
}

#[test]
fn a_negative_control_that_plans_no_cut_point_is_an_error_not_green() {
    let dir = tmp("empty-negative");
    let campaign = campaign_from(&dir, "known-bugs/overwrite-no-rollback.toml", "emptyneg", |t| {
        // Every offset lands past its phase's end: nothing is planned.
        let mut out = String::new();
        for l in t.lines() {
            if l.starts_with("offsets = ") {
                out.push_str("offsets = { ms = [600000] }\n");
            } else {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    });
    let out = dir.join("out");
    let (code, _, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains("as expected"), "{stderr}");
    assert!(stderr.contains("no cut point was planned"), "{stderr}");
}

#[test]
fn a_plan_past_the_limit_is_bad_input_that_check_reports_with_its_location() {
    let dir = tmp("huge");
    let campaign = campaign_from(&dir, "smoke.toml", "huge", |t| {
        t.replace("[run]\nseed = 42", "[run]\nseed = 42\nrepetitions = 1000")
            .replace("random = 6 }", "random = 5000 }")
    });
    for cmd in ["check", "plan", "run"] {
        let (code, _, stderr) = cutpoint(&[cmd, campaign.to_str().unwrap()]);
        assert_eq!(code, 2, "{cmd}: {stderr}");
        assert!(stderr.contains("huge.toml:"), "{cmd}: {stderr}");
        assert!(
            stderr.contains("phases.swap.offsets"),
            "{cmd}: located at the phase: {stderr}"
        );
        assert!(stderr.contains("1000000"), "{cmd}: {stderr}");
    }
}

#[test]
fn a_second_run_into_a_directory_in_use_is_refused() {
    let dir = tmp("lock");
    let (campaign, out, run) = start_long(&dir, "lock");
    let (code, _, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--resume", out.to_str().unwrap()]);
    signal(&run.child, "INT");
    let _ = run.finish();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("another cutpoint run is writing"), "{stderr}");
}

#[test]
fn a_bare_resume_finds_a_run_killed_before_its_journal_header() {
    let dir = tmp("headerless");
    let name = format!("headerless{}", std::process::id());
    let campaign = campaign_from(&dir, "smoke.toml", &name, |t| t);
    let run_dir = root().join("reports").join(format!("{name}-smoke-20990101-000000"));
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::write(run_dir.join("results.jsonl"), b"").unwrap();
    let (code, _, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--resume"]);
    let journal = std::fs::read_to_string(run_dir.join("results.jsonl")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&run_dir);
    assert_eq!(code, 0, "{stderr}");
    assert!(journal.starts_with("{\"record\":\"header\""), "{journal:.200}");
}

#[test]
fn check_counts_byte_steps_toward_the_plan_limit() {
    let dir = tmp("bytes");
    let campaign = campaign_from(&dir, "smoke.toml", "bytes", |t| {
        t.replace("[run]\nseed = 42", "[run]\nseed = 42\nrepetitions = 20")
            .replace("bytes = [4096, 49152, 94208]", "bytes = { step = 1 }")
    });
    let (code, _, stderr) = cutpoint(&["check", campaign.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("phases.download.offsets"), "{stderr}");
}

#[test]
fn a_settled_marker_typo_in_a_negative_control_is_bad_input_not_a_catch() {
    let dir = tmp("settled");
    let campaign = campaign_from(&dir, "known-bugs/overwrite-no-rollback.toml", "settled", |t| {
        t.replacen("[[phases]]", "[markers]\nsettled = '^ota: idel'\n\n[[phases]]", 1)
    });
    let out = dir.join("out");
    let (code, _, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("markers.settled"), "{stderr}");
    assert!(!stderr.contains("as expected"), "{stderr}");
}

#[test]
fn a_bare_resume_takes_only_this_campaigns_directories() {
    let dir = tmp("prefix");
    let name = format!("pfx{}", std::process::id());
    // A campaign whose name extends this one's: its unfinished run is not ours to resume.
    let other = root()
        .join("reports")
        .join(format!("{name}-smoke-revert-20990101-000000"));
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("results.jsonl"), b"").unwrap();
    let campaign = campaign_from(&dir, "smoke.toml", &name, |t| t);
    let (code, _, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--resume"]);
    let _ = std::fs::remove_dir_all(&other);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no unfinished run"), "{stderr}");
}

#[test]
fn report_exits_as_the_run_did() {
    let dir = tmp("report-code");
    let fail = campaign_from(&dir, "smoke.toml", "fails", |t| {
        t.replace("variant = \"reference\"", "variant = \"no-swap-status\"")
    });
    let out = dir.join("out");
    let (run_code, _, stderr) = cutpoint(&["run", fail.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(run_code, 1, "{stderr}");
    let (code, _, stderr) = cutpoint(&["report", out.to_str().unwrap()]);
    assert_eq!(code, 1, "a report of a failing run is not green: {stderr}");
}

/// The journal of a finished run, with the result lines `keep` says yes to.
fn edit_results(out: &Path, keep: impl Fn(usize, &str) -> bool) {
    let journal = out.join("results.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut cut = 0;
    let mut kept = String::new();
    for line in text.lines() {
        let is_cut = line.contains("\"record\":\"cut\"") || line.contains("\"type\":\"cut\"");
        if !is_cut || keep(cut, line) {
            kept.push_str(line);
            kept.push('\n');
        }
        if is_cut {
            cut += 1;
        }
    }
    assert!(cut > 2, "no cut records found in {}", journal.display());
    std::fs::write(&journal, kept).unwrap();
}

#[test]
fn a_complete_journal_that_lost_cut_records_is_incomplete_not_green() {
    let dir = tmp("lost-records");
    let c = campaign_from(&dir, "smoke.toml", "lost", |t| t);
    let out = dir.join("out");
    let (code, _, stderr) = cutpoint(&["run", c.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cutpoint(&["report", out.to_str().unwrap()]);
    assert_eq!(code, 0, "the untouched journal reports green: {stderr}");

    // A record that names another's console (so no record needs its own): the first such.
    let first_naming = std::cell::Cell::new(None);
    edit_results(&out, |i, line| {
        if first_naming.get().is_none() && line.contains("\"console_of\":") {
            first_naming.set(Some(i));
        }
        first_naming.get() != Some(i)
    });
    assert!(first_naming.get().is_some(), "a record names another's console");
    let (code, _, stderr) = cutpoint(&["report", out.to_str().unwrap()]);
    assert_eq!(code, 4, "a journal that lost a result is incomplete: {stderr}");
    assert!(stderr.contains("1 cut point of the plan has no result"), "{stderr}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("type=\"incomplete\""), "{junit}");
}

#[test]
fn a_file_given_as_out_is_bad_input_not_a_rig_error() {
    let dir = tmp("out-file");
    let file = dir.join("afile");
    std::fs::write(&file, "notes").unwrap();
    let (code, _, stderr) = cutpoint(&["run", "campaigns/smoke.toml", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is a file, not a directory"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "notes",
        "the file is left as it was"
    );
}

/// A `refused` marker written for another console (a timestamp prefix the device does not
/// print) is the campaign's mistake: located, not "the device never said why it refused".
#[test]
fn a_refused_marker_that_matches_nothing_is_bad_input_not_a_device_failure() {
    let dir = tmp("refused-typo");
    let c = campaign_from(&dir, "rejected/body-byte-upload-overwrite.toml", "refused-typo", |t| {
        t + "\n[markers]\nrefused = '^\\[[0-9.]+\\] ota: verify-fail reason=(?P<reason>\\S+)'\n"
    });
    let out = dir.join("out");
    let (code, _, stderr) = cutpoint(&["run", c.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("markers.refused"), "{stderr}");
    assert!(
        stderr.contains("the device saying why it refused the update"),
        "{stderr}"
    );
}

/// A phase whose every offset falls past its end would be left out of every report as if it
/// had been tested: the campaign's mistake, located.
#[test]
fn a_phase_none_of_whose_offsets_gives_a_cut_point_is_bad_input() {
    let dir = tmp("phase-no-cut");
    let c = campaign_from(&dir, "smoke.toml", "phase-no-cut", |t| {
        t.replace(
            "offsets = { fixed = [\"start\", \"end\"], bytes = [4096, 49152, 94208], random = 4 }",
            "offsets = { bytes = [999999] }",
        )
    });
    let out = dir.join("out");
    let (code, _, stderr) = cutpoint(&["run", c.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("phase \"download\"") && stderr.contains("none of its offsets gave a cut point"),
        "{stderr}"
    );
    // One offset past the end among others that cut is reported, not refused.
    let c = campaign_from(&dir, "smoke.toml", "phase-some-cut", |t| {
        t.replace("bytes = [4096, 49152, 94208]", "bytes = [4096, 999999]")
    });
    let (code, _, stderr) = cutpoint(&["run", c.to_str().unwrap(), "--out", dir.join("out2").to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
}

/// A filter that takes none of the plan's cut points is bad input that names the filter, not
/// the phases' offsets (which are fine).
#[test]
fn a_filter_that_takes_no_cut_point_is_bad_input_naming_the_filter() {
    let dir = tmp("filter-nothing");
    let out = dir.join("out");
    let (code, _, stderr) = cutpoint(&[
        "run",
        "campaigns/smoke.toml",
        "--filter",
        "nomatch/*",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--filter nomatch/* took none of the plan's cut points"),
        "{stderr}"
    );
    assert!(!stderr.contains("check the phases' offsets"), "{stderr}");
}
