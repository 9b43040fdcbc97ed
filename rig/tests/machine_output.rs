//! What scripts read instead of scraping text: `plan --json`, `run --message-format json`,
//! and `--filter` to run a subset (by glob, or the failures of an earlier report).

use std::path::PathBuf;

#[path = "support/cli.rs"]
mod cli;
use cli::cutpoint;

fn tmp(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-machine-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn plan_json_lists_every_id_with_counts_that_agree_with_the_text_plan() {
    let (code, text, _) = cutpoint(&["plan", "campaigns/smoke.toml"]);
    assert_eq!(code, 0);
    let (code, json, stderr) = cutpoint(&["plan", "campaigns/smoke.toml", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
    let ids: Vec<&str> = doc["cut_points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let text_ids: Vec<&str> = text.lines().collect();
    assert_eq!(ids, text_ids);
    assert_eq!(doc["total"].as_u64().unwrap() as usize, ids.len());
    let per_phase: u64 = doc["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["cut_points"].as_u64().unwrap())
        .sum();
    assert_eq!(per_phase as usize, ids.len());
    assert_eq!(doc["expect"], "pass");
}

#[test]
fn run_json_events_end_with_the_exit_code_and_failures_are_marked_expected_in_a_negative_control() {
    let out = tmp("events");
    let (code, stdout, stderr) = cutpoint(&[
        "run",
        "campaigns/known-bugs/overwrite-no-rollback.toml",
        "--out",
        out.to_str().unwrap(),
        "--message-format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let events = json_lines(&stdout);
    assert_eq!(events[0]["type"], "control");
    assert_eq!(events[1]["type"], "planned");
    let planned = events[1]["total"].as_u64().unwrap() as usize;
    let cuts: Vec<_> = events.iter().filter(|e| e["type"] == "cut").collect();
    assert_eq!(cuts.len(), planned);
    let failed: Vec<_> = cuts.iter().filter(|c| c["status"] == "fail").collect();
    assert!(!failed.is_empty());
    assert!(
        failed.iter().all(|c| c["expected"] == true),
        "failures of a negative control are expected"
    );
    let end = events.last().unwrap();
    assert_eq!(end["type"], "end");
    assert_eq!(end["exit_code"], 0);
    assert_eq!(end["outcome"], "pass");
    assert_eq!(end["failed"].as_u64().unwrap() as usize, failed.len());
    assert!(stderr.contains("failing cut points by reason"), "{stderr}");
    assert!(stderr.contains("FAIL (expected) x"), "{stderr}");
}

#[test]
fn filter_runs_a_glob_subset_and_failed_reruns_only_the_failures() {
    let out = tmp("glob");
    let (code, stdout, stderr) = cutpoint(&[
        "run",
        "campaigns/smoke.toml",
        "--out",
        out.to_str().unwrap(),
        "--filter",
        "swap/*",
        "--message-format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let cuts: Vec<_> = json_lines(&stdout).into_iter().filter(|e| e["type"] == "cut").collect();
    assert!(!cuts.is_empty());
    assert!(cuts.iter().all(|c| c["id"].as_str().unwrap().starts_with("swap/")));
    assert!(
        stderr.contains("--filter swap/*"),
        "the run says it ran a subset: {stderr}"
    );
    let journal = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert!(journal.lines().next().unwrap().contains("\"filter\":\"swap/*\""));
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("**A subset:**"),
        "the reports say a subset ran: {summary:.400}"
    );
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("name=\"filter\" value=\"swap/*\""), "{junit:.600}");

    let bug = tmp("bug");
    let (code, _, stderr) = cutpoint(&[
        "run",
        "campaigns/known-bugs/overwrite-no-rollback.toml",
        "--out",
        bug.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let again = tmp("again");
    let failed = format!("failed:{}", bug.display());
    let (code, stdout, stderr) = cutpoint(&[
        "run",
        "campaigns/known-bugs/overwrite-no-rollback.toml",
        "--out",
        again.to_str().unwrap(),
        "--filter",
        &failed,
        "--message-format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let cuts: Vec<_> = json_lines(&stdout).into_iter().filter(|e| e["type"] == "cut").collect();
    assert!(!cuts.is_empty());
    assert!(
        cuts.iter().all(|c| c["status"] == "fail"),
        "only the earlier failures ran, and fail again"
    );

    let (code, _, stderr) = cutpoint(&["plan", "campaigns/smoke.toml", "--filter", "swap/["]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a glob"), "{stderr}");
    let (code, _, stderr) = cutpoint(&[
        "run",
        "campaigns/smoke.toml",
        "--filter",
        &format!("failed:{}", out.display()),
    ]);
    assert_eq!(code, 2, "nothing failed there: {stderr}");
}
