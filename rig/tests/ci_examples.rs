#![cfg(target_os = "linux")]
//! The example CI jobs of docs/ci/: they parse as YAML, every `cutpoint` command they run
//! exists with the flags they give it, and what they do works: partitions submitted to a
//! daemon with `--wait --out` merge with `cutpoint report` (and partitions of different
//! campaigns are refused, naming the journals).

#[path = "support/cli.rs"]
mod cli;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use yaml_serde::Value;

/// Every `cutpoint ...` command line in a CI file: GitHub's `run:` and GitLab's `script:`.
fn commands(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let key = k.as_str().unwrap_or("");
                let lines: Vec<&str> = match (key, v) {
                    ("run", Value::String(s)) => vec![s.as_str()],
                    ("script" | "before_script" | "after_script", Value::Sequence(items)) => {
                        items.iter().filter_map(Value::as_str).collect()
                    }
                    _ => vec![],
                };
                for l in lines {
                    // A folded `>-` block is one line already; a literal block has several.
                    out.extend(
                        l.lines()
                            .map(str::trim)
                            .filter(|l| l.starts_with("cutpoint "))
                            .map(str::to_string),
                    );
                }
                commands(v, out);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| commands(v, out)),
        _ => {}
    }
}

#[test]
fn the_ci_examples_parse_and_call_commands_the_cli_has() {
    for (file, jobs_key) in [
        ("docs/ci/github-actions.yml", "jobs"),
        ("docs/ci/gitlab-ci.yml", "stages"),
    ] {
        let path = cli::root().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let v: Value = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{file}: not YAML: {e}"));
        assert!(v.get(jobs_key).is_some(), "{file}: no `{jobs_key}`");
        let mut cmds = Vec::new();
        commands(&v, &mut cmds);
        let joined = cmds.join("\n");
        for needed in ["cutpoint submit ", "--partition", "--wait", "--out", "cutpoint report "] {
            assert!(joined.contains(needed), "{file}: no `{needed}` in:\n{joined}");
        }
        for c in &cmds {
            let words: Vec<&str> = c.split_whitespace().collect();
            let verb = words[1];
            let (code, help, err) = cli::cutpoint(&[verb, "--help"]);
            assert_eq!(code, 0, "{file}: `{c}`: `cutpoint {verb}` is no command: {err}");
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                assert!(
                    help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                    "{file}: `{c}`: `cutpoint {verb}` has no {flag}:\n{help}"
                );
            }
            for campaign in words.iter().filter(|w| w.ends_with(".toml")) {
                assert!(cli::root().join(campaign).is_file(), "{file}: `{c}`: no {campaign}");
            }
        }
        // The campaign the examples run checks clean.
        let (code, _, err) = cli::cutpoint(&["check", "campaigns/nightly.toml"]);
        assert_eq!(code, 0, "{err}");
    }
}

/// `cutpoint args...` in `dir`, without the environment's server or token.
fn cutpoint_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args(args)
        .current_dir(dir)
        .env_remove("CUTPOINT_SERVER")
        .env_remove("CUTPOINT_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn partitions_submitted_with_wait_merge_with_report_and_other_campaigns_are_refused() {
    let lab = tempfile::tempdir().unwrap();
    std::fs::write(
        lab.path().join("lab.toml"),
        "[[stations]]\nname = \"sim\"\nsim = \"nrf52840\"\nworkers = 2\ntags = [\"nrf52840\"]\n",
    )
    .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args([
            "daemon",
            "--lab",
            "lab.toml",
            "--listen",
            "127.0.0.1:0",
            "--addr-file",
            "addr",
        ])
        .current_dir(lab.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let url = loop {
        if let Ok(u) = std::fs::read_to_string(lab.path().join("addr")) {
            if u.ends_with('\n') {
                break u.trim().to_string();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the daemon did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = tempfile::tempdir().unwrap();
    let root = cli::root();
    let part = |campaign: &str, k: &str, dir: &str| {
        let campaign = root.join(campaign);
        let dest = out.path().join(dir);
        let (code, stdout, stderr) = cutpoint_in(
            out.path(),
            &[
                "submit",
                campaign.to_str().unwrap(),
                "--server",
                &url,
                "--tag",
                "nrf52840",
                "--priority",
                "ci",
                "--partition",
                k,
                "--wait",
                "--out",
                dest.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(dest.join("results.jsonl").is_file(), "{}", dest.display());
    };
    part("campaigns/smoke.toml", "1/2", "part-1");
    part("campaigns/smoke.toml", "2/2", "part-2");
    let (code, stdout, stderr) = cutpoint_in(out.path(), &["report", "part-1", "part-2", "--out", "merged"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Every cut point of the campaign ran, in one partition or the other.
    assert!(
        stdout.contains("0 failed, 0 rig errors, 0 not run (complete)"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(out.path().join("merged/junit.xml")).unwrap();
    assert!(junit.contains("<testsuite"), "{junit}");
    // A partition of another campaign does not merge: the error names both journals.
    part("campaigns/revert.toml", "2/2", "other");
    let (code, stdout, stderr) = cutpoint_in(out.path(), &["report", "part-1", "other", "--out", "bad"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("cannot merge different campaigns"), "{stderr}");
    assert!(
        stderr.contains("part-1/results.jsonl") && stderr.contains("other/results.jsonl"),
        "{stderr}"
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
}
