//! The files a campaign reads besides itself (image files, public key, station file) are
//! recorded with their SHA-256 in the journal: a resume or a merge of partitions refuses one
//! that changed, a replay warns.

use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::{cutpoint_in, root};

/// A copy of fixtures/imgtool-ed25519.toml and the files it reads in a fresh folder.
fn campaign_copy(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-inputs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("imgtool/images")).unwrap();
    std::fs::create_dir_all(dir.join("imgtool/keys")).unwrap();
    let fixtures = root().join("fixtures");
    for f in [
        "imgtool-ed25519.toml",
        "imgtool/images/ed25519-app-1.0.0.bin",
        "imgtool/images/ed25519-app-2.0.0.bin",
        "imgtool/keys/ed25519.pub.pem",
    ] {
        std::fs::copy(fixtures.join(f), dir.join(f)).unwrap();
    }
    dir
}

/// Replaces the campaign's update with another build signed by the same key.
fn replace_update(dir: &Path) {
    std::fs::copy(
        root().join("fixtures/imgtool/images/ed25519-app-2.0.0-rom-fixed-primary.bin"),
        dir.join("imgtool/images/ed25519-app-2.0.0.bin"),
    )
    .unwrap();
}

fn restore_update(dir: &Path) {
    std::fs::copy(
        root().join("fixtures/imgtool/images/ed25519-app-2.0.0.bin"),
        dir.join("imgtool/images/ed25519-app-2.0.0.bin"),
    )
    .unwrap();
}

fn sha256_of(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// What an interrupted run leaves: the journal without its end record and its last results.
fn interrupt(journal: &Path, keep: usize) {
    let text = std::fs::read_to_string(journal).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("\"record\":\"end\""))
        .take(keep)
        .collect();
    std::fs::write(journal, kept.join("\n") + "\n").unwrap();
}

fn header(journal: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(journal).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

#[test]
fn the_journal_header_records_each_input_file_with_its_hash() {
    let dir = campaign_copy("header");
    let (code, _, stderr) = cutpoint_in(&dir, &["run", "imgtool-ed25519.toml", "--out", "r"]);
    assert_eq!(code, 0, "{stderr}");
    let h = header(&dir.join("r/results.jsonl"));
    let inputs = h["inputs"].as_array().expect("an inputs list in the header");
    let keys: Vec<&str> = inputs.iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["images.baseline.file", "images.update.file", "images.public_key"]
    );
    let update = &inputs[1];
    assert!(update["path"]
        .as_str()
        .unwrap()
        .ends_with("imgtool/images/ed25519-app-2.0.0.bin"));
    assert_eq!(
        update["sha256"].as_str().unwrap(),
        sha256_of(&dir.join("imgtool/images/ed25519-app-2.0.0.bin"))
    );
    // The reports list them.
    let summary = std::fs::read_to_string(dir.join("r/summary.md")).unwrap();
    assert!(summary.contains("- Input file `images.update.file`"), "{summary}");
    let html = std::fs::read_to_string(dir.join("r/report.html")).unwrap();
    assert!(
        html.contains("images.public_key: <b>"),
        "the HTML metadata lists the inputs"
    );
}

#[test]
fn resume_refuses_an_update_image_that_changed_since_the_run_started() {
    let dir = campaign_copy("resume");
    let (code, _, stderr) = cutpoint_in(&dir, &["run", "imgtool-ed25519.toml", "--out", "r"]);
    assert_eq!(code, 0, "{stderr}");
    let journal = dir.join("r/results.jsonl");
    interrupt(&journal, 6);
    let before = std::fs::read_to_string(&journal).unwrap();
    let recorded = sha256_of(&dir.join("imgtool/images/ed25519-app-2.0.0.bin"));

    replace_update(&dir);
    let current = sha256_of(&dir.join("imgtool/images/ed25519-app-2.0.0.bin"));
    let (code, _, stderr) = cutpoint_in(&dir, &["run", "imgtool-ed25519.toml", "--resume", "r"]);
    assert_eq!(code, 2, "a changed input is the user's to settle: {stderr}");
    assert!(stderr.contains("images.update.file"), "{stderr}");
    assert!(stderr.contains("ed25519-app-2.0.0.bin"), "names the file: {stderr}");
    assert!(
        stderr.contains(&format!("sha256 {recorded} when the run started, {current} now")),
        "{stderr}"
    );
    assert!(stderr.contains("restore the file"), "{stderr}");
    assert!(stderr.contains("new --out"), "{stderr}");
    assert!(
        !stderr.contains("control run:"),
        "refused before the control run: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&journal).unwrap(),
        before,
        "the journal is left as it was"
    );

    // With the file restored the run resumes and completes.
    restore_update(&dir);
    let (code, _, stderr) = cutpoint_in(&dir, &["run", "imgtool-ed25519.toml", "--resume", "r"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("could not be compared"), "{stderr}");
}

#[test]
fn a_journal_without_recorded_inputs_resumes_with_a_warning() {
    let dir = campaign_copy("old-journal");
    let (code, _, stderr) = cutpoint_in(&dir, &["run", "imgtool-ed25519.toml", "--out", "r"]);
    assert_eq!(code, 0, "{stderr}");
    let journal = dir.join("r/results.jsonl");
    interrupt(&journal, 6);
    // As an earlier cutpoint wrote it: the header without `inputs`.
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut h: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    h.as_object_mut().unwrap().remove("inputs").expect("recorded");
    lines[0] = h.to_string();
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();

    replace_update(&dir);
    let (code, _, stderr) = cutpoint_in(&dir, &["run", "imgtool-ed25519.toml", "--resume", "r"]);
    assert_eq!(code, 0, "resumes as before: {stderr}");
    assert!(
        stderr.contains("warning: ") && stderr.contains("could not be compared"),
        "{stderr}"
    );
}

#[test]
fn partitions_run_from_different_update_images_do_not_merge() {
    let dir = campaign_copy("merge");
    let (code, _, stderr) = cutpoint_in(
        &dir,
        &["run", "imgtool-ed25519.toml", "--partition", "1/2", "--out", "p1"],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cutpoint_in(
        &dir,
        &["run", "imgtool-ed25519.toml", "--partition", "2/2", "--out", "p2"],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cutpoint_in(&dir, &["report", "p1", "p2", "--out", "both"]);
    assert_eq!(code, 0, "the same files merge: {stderr}");

    replace_update(&dir);
    let (code, _, stderr) = cutpoint_in(
        &dir,
        &["run", "imgtool-ed25519.toml", "--partition", "2/2", "--out", "p2-other"],
    );
    assert!(code == 0 || code == 1, "{stderr}");
    let (code, stdout, stderr) = cutpoint_in(&dir, &["report", "p1", "p2-other", "--out", "mixed"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("different input files"), "{stderr}");
    assert!(stderr.contains("images.update.file"), "{stderr}");
    assert!(stderr.contains("new --out"), "{stderr}");
}

#[test]
fn replay_warns_of_a_changed_input_file_and_goes_on() {
    let dir = campaign_copy("replay");
    let (code, _, stderr) = cutpoint_in(&dir, &["run", "imgtool-ed25519.toml", "--out", "r"]);
    assert_eq!(code, 0, "{stderr}");
    replace_update(&dir);
    let (_, stdout, stderr) = cutpoint_in(&dir, &["replay", "r", "download/start"]);
    assert!(
        stderr.contains("warning: images.update.file") && stderr.contains("the replay uses the file as it is now"),
        "{stderr}"
    );
    assert!(stdout.contains("--- verdict:"), "the replay ran: {stdout}\n{stderr}");
}
