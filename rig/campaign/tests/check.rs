//! `check_file`: tells campaigns from station files, validates them, and summarises them.

mod common;

use std::path::Path;

use cutpoint_campaign::{check_file, format_errors, load_campaign, FileKind, TargetKind};

#[test]
fn a_shipped_campaign_is_summarised() {
    let summary = check_file(common::campaigns_dir().join("smoke.toml")).expect("smoke is valid");
    assert_eq!(summary.kind, FileKind::Campaign);
    assert_eq!(summary.name, "smoke");
    insta::assert_snapshot!("check_smoke", summary.to_string());
}

#[test]
fn a_station_file_is_recognised_and_summarised() {
    let summary = check_file("tests/data/station-ok.toml").expect("station is valid");
    assert_eq!(summary.kind, FileKind::Station);
    insta::assert_snapshot!("check_station", summary.to_string());
}

#[test]
fn a_campaign_on_a_station_loads_the_station() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy("tests/data/station-ok.toml", dir.path().join("bench.toml")).expect("copy");
    let path = dir.path().join("hw.toml");
    std::fs::write(
        &path,
        "[target]\nstation = \"bench.toml\"\n[run]\noff_dwell_ms = 100\n[[phases]]\nname = \"swap\"\n\
         start = 'boot: swap-start'\nend = 'boot: swap-done'\noffsets = { ms = [10] }\n",
    )
    .expect("write");
    let c = load_campaign(&path).unwrap_or_else(|e| panic!("{}", format_errors(&e)));
    let TargetKind::Station { station, .. } = &c.target.kind else {
        panic!("not a station target")
    };
    assert_eq!(station.name, "test-bench");
    assert!(!c.is_simulated());
    // The station needs 300 ms off, more than the campaign's 100.
    assert_eq!(c.effective_dwell_ms(), 300);
    assert_eq!(c.name, "hw");
    assert_eq!(c.sha256.len(), 64);
    let summary = check_file(&path).expect("valid");
    assert!(
        summary.lines[0].starts_with("target: station test-bench"),
        "{}",
        summary
    );
}

#[test]
fn neither_kind_and_unreadable_files_are_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notes.toml");
    std::fs::write(&path, "title = \"hello\"\n").expect("write");
    let errors = check_file(&path).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.starts_with("neither a campaign"), "{}", errors[0]);

    let missing = Path::new("tests/data/does-not-exist.toml");
    let errors = check_file(missing).unwrap_err();
    assert!(
        errors[0]
            .to_string()
            .starts_with("tests/data/does-not-exist.toml: cannot read:"),
        "{}",
        errors[0]
    );

    let binary = dir.path().join("binary.toml");
    std::fs::write(&binary, [0xffu8, 0xfe, 0x00]).expect("write");
    assert!(check_file(&binary).unwrap_err()[0].message.contains("not UTF-8"));
}

#[test]
fn a_bad_campaign_reports_all_its_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[phases]]\nname = \"a\"\nstart = '('\nend = 'x'\noffsets = { random = 0 }\n",
    )
    .expect("write");
    let errors = check_file(&path).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["phases.a.start", "phases.a.offsets.random"]);
    assert_eq!((errors[0].line, errors[0].column), (3, 9));
}
