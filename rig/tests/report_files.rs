//! What a run leaves on disk: artifact folders for the cut points someone looks into (failures
//! and rig errors) unless `--artifacts all`, reports whose links all resolve, and a journal a
//! replay needs nothing else than.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::cutpoint;

fn tmp(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-files-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Id and status of every cut record of a journal.
fn results(dir: &Path) -> Vec<(String, String)> {
    let journal = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    journal
        .lines()
        .filter(|l| l.contains("\"record\":\"cut\""))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_owned(),
                v["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The artifact folders under `dir/cuts`.
fn artifact_dirs(dir: &Path) -> BTreeSet<PathBuf> {
    match std::fs::read_dir(dir.join("cuts")) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// The targets of `href="..."` in an HTML page and of `](...)` in Markdown.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (start, end) in [("href=\"", '"'), ("](", ')')] {
        for part in text.split(start).skip(1) {
            if let Some(at) = part.find(end) {
                found.push(part[..at].to_owned());
            }
        }
    }
    found
}

/// Every link of the report's pages is a place in the page or a file of the report directory.
fn assert_links_resolve(dir: &Path) {
    for page in ["report.html", "summary.md"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        for link in links(&text) {
            if link.starts_with('#') {
                continue;
            }
            assert!(
                !link.contains("://") && dir.join(&link).exists(),
                "{page} links `{link}`, which is not in {}",
                dir.display()
            );
        }
    }
}

#[test]
fn failing_cut_points_get_artifacts_passing_ones_none_and_replay_needs_only_the_journal() {
    let out = tmp("known-bug");
    let (code, _, stderr) = cutpoint(&[
        "run",
        "campaigns/known-bugs/overwrite-no-rollback.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let results = results(&out);
    let wanted: BTreeSet<PathBuf> = results
        .iter()
        .filter(|(_, status)| status != "pass")
        .map(|(id, _)| cutpoint_report::cut_dir(&out, id))
        .collect();
    assert!(!wanted.is_empty() && wanted.len() < results.len(), "{results:?}");
    assert_eq!(
        artifact_dirs(&out),
        wanted,
        "artifact folders of failures and rig errors only"
    );
    for dir in &wanted {
        assert!(dir.join("console.log").is_file() && dir.join("state.json").is_file());
    }
    assert_links_resolve(&out);

    // A replay reads the journal alone: without any artifact folder, a passing and a failing
    // cut point reproduce.
    std::fs::remove_dir_all(out.join("cuts")).unwrap();
    let passing = &results.iter().find(|(_, s)| s == "pass").unwrap().0;
    let failing = &results.iter().find(|(_, s)| s == "fail").unwrap().0;
    // A negative control: its failing cut exits 0, as its report does.
    for (id, code) in [(passing, 0), (failing, 0)] {
        let (got, stdout, stderr) = cutpoint(&["replay", out.to_str().unwrap(), id]);
        assert!(stdout.contains("outcome: matches"), "{id}: {stdout}\n{stderr}");
        assert_eq!(got, code, "{id}: {stderr}");
    }
}

#[test]
fn artifacts_all_gives_every_cut_point_a_folder() {
    let out = tmp("all");
    let (code, _, stderr) = cutpoint(&[
        "run",
        "campaigns/smoke.toml",
        "--out",
        out.to_str().unwrap(),
        "--artifacts",
        "all",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let every: BTreeSet<PathBuf> = results(&out)
        .iter()
        .map(|(id, _)| cutpoint_report::cut_dir(&out, id))
        .collect();
    assert_eq!(artifact_dirs(&out), every);
    assert_links_resolve(&out);

    // Rebuilt by default, a passing run has none; asked, all again.
    let (plain, asked) = (tmp("plain"), tmp("asked"));
    let (code, stdout, stderr) = cutpoint(&["report", out.to_str().unwrap(), "--out", plain.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("(0 per-cut artifact folders)"), "{stdout}");
    assert!(artifact_dirs(&plain).is_empty());
    let (code, stdout, stderr) = cutpoint(&[
        "report",
        out.to_str().unwrap(),
        "--out",
        asked.to_str().unwrap(),
        "--artifacts",
        "all",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("({} per-cut artifact folders)", every.len())),
        "{stdout}"
    );
    assert_eq!(artifact_dirs(&asked).len(), every.len());

    let (code, _, stderr) = cutpoint(&["run", "campaigns/smoke.toml", "--artifacts", "some"]);
    assert_eq!(code, 2, "a value clap refuses is bad input: {stderr}");
    assert!(stderr.contains("--artifacts"), "{stderr}");
}
