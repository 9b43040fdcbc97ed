//! The `cutpoint` command end to end on the simulated board.

use std::path::PathBuf;
use std::process::Command;

#[path = "support/cli.rs"]
mod cli;
use cli::{cutpoint, root};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cutpoint-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn smoke_campaign_passes_and_writes_reports() {
    let out = tmp("smoke");
    let (code, stdout, stderr) = cutpoint(&["run", "campaigns/smoke.toml", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    for f in ["results.jsonl", "junit.xml", "summary.md", "report.html"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains("classname=\"swap\""),
        "one testcase per cut, classname = phase"
    );
}

#[test]
fn a_known_bug_is_caught_and_the_reference_is_not() {
    let out = tmp("kb");
    let (code, _, stderr) = cutpoint(&[
        "run",
        "campaigns/known-bugs/overwrite-no-rollback.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "negative control must catch the bug: {stderr}");
    let j = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert!(
        j.contains("\"status\":\"fail\""),
        "at least one failing cut is journaled"
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("cutpoint replay"),
        "failing cuts carry their replay command"
    );
}

#[test]
fn replay_reproduces_the_recorded_bits_and_outcome() {
    let out = tmp("replay");
    let (code, _, stderr) = cutpoint(&[
        "run",
        "campaigns/known-bugs/overwrite-no-rollback.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let journal = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let failing = journal
        .lines()
        .filter(|l| l.contains("\"record\":\"cut\"") && l.contains("\"status\":\"fail\""))
        .find_map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()?
                .get("id")?
                .as_str()
                .map(str::to_string)
        })
        .expect("a failing cut");
    let (code, stdout, stderr) = cutpoint(&["replay", out.to_str().unwrap(), &failing]);
    assert!(stdout.contains("post-cut flash: identical"), "{stdout}\n{stderr}");
    assert!(stdout.contains("outcome: matches"), "{stdout}");
    assert_eq!(code, 1, "the replayed cut fails again");
}

#[test]
fn bad_campaign_is_bad_input_with_a_location() {
    let dir = tmp("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.toml");
    std::fs::write(&f, "[run]\nseeed = 3\n").unwrap();
    let (code, _, stderr) = cutpoint(&["check", f.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("bad.toml:2:"), "{stderr}");
    let (code, _, _) = cutpoint(&["run", f.to_str().unwrap()]);
    assert_eq!(code, 2);
}

#[test]
fn partitions_cover_the_plan_and_merge() {
    let (code, all, _) = cutpoint(&["plan", "campaigns/smoke.toml"]);
    assert_eq!(code, 0);
    let (_, p1, _) = cutpoint(&["plan", "campaigns/smoke.toml", "--partition", "1/2"]);
    let (_, p2, _) = cutpoint(&["plan", "campaigns/smoke.toml", "--partition", "2/2"]);
    let mut merged: Vec<&str> = p1.lines().chain(p2.lines()).collect();
    merged.sort();
    let mut whole: Vec<&str> = all.lines().collect();
    whole.sort();
    assert_eq!(merged, whole);
    let (a, b, m) = (tmp("p1"), tmp("p2"), tmp("merged"));
    assert_eq!(
        cutpoint(&[
            "run",
            "campaigns/smoke.toml",
            "--partition",
            "1/2",
            "--out",
            a.to_str().unwrap()
        ])
        .0,
        0
    );
    assert_eq!(
        cutpoint(&[
            "run",
            "campaigns/smoke.toml",
            "--partition",
            "2/2",
            "--out",
            b.to_str().unwrap()
        ])
        .0,
        0
    );
    let (code, stdout, stderr) = cutpoint(&[
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!(
            "smoke: {n} cut points: {n} passed, 0 failed, 0 rig errors, 0 not run (complete)",
            n = whole.len()
        )),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(m.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase").count(), whole.len());
}

#[test]
fn inspect_decodes_a_built_image() {
    let dir = tmp("img");
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("app.bin");
    assert_eq!(
        cutpoint(&[
            "image",
            "build",
            "--version",
            "3.1.4",
            "--size-kib",
            "8",
            "-o",
            img.to_str().unwrap()
        ])
        .0,
        0
    );
    let (code, stdout, _) = cutpoint(&["inspect", "--image", "--json", img.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("3.1.4"), "{stdout}");
    assert!(stdout.contains("\"valid\""), "{stdout}");
}

#[test]
fn resume_without_a_directory_finds_the_unfinished_run() {
    let work = tmp("resume-cli");
    std::fs::create_dir_all(&work).unwrap();
    let campaign = root().join("campaigns/smoke.toml");
    let full = work.join("full");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
            .args(args)
            .current_dir(&work)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        run(&["run", campaign.to_str().unwrap(), "--out", full.to_str().unwrap()]).0,
        0
    );
    // What a power loss of the lab Pi leaves: the journal up to some cut, no end record.
    let journal = std::fs::read_to_string(full.join("results.jsonl")).unwrap();
    let kept: Vec<&str> = journal
        .lines()
        .filter(|l| !l.contains("\"record\":\"end\""))
        .take(12)
        .collect();
    let cut_dir = work.join("reports/smoke-20260101-000000");
    std::fs::create_dir_all(&cut_dir).unwrap();
    std::fs::write(cut_dir.join("results.jsonl"), kept.join("\n") + "\n").unwrap();
    let (code, stderr) = run(&["run", campaign.to_str().unwrap(), "--resume"]);
    assert_eq!(code, 0, "{stderr}");
    let resumed = std::fs::read_to_string(cut_dir.join("results.jsonl")).unwrap();
    let ids: Vec<String> = resumed
        .lines()
        .filter(|l| l.contains("\"record\":\"cut\""))
        .filter_map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()?
                .get("id")?
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "no cut point ran twice");
    assert_eq!(ids.len(), 42, "the resumed run finished the plan");
    assert!(resumed.contains("\"record\":\"end\""));
}

#[test]
fn inspect_decodes_esp_idf_otadata() {
    let dir = tmp("otadata");
    std::fs::create_dir_all(&dir).unwrap();
    // Sector 0: seq 2, state VALID, CRC-32 of the seq bytes (0x55F63774); sector 1 erased.
    let mut bytes = vec![0xffu8; 0x2000];
    bytes[0..4].copy_from_slice(&2u32.to_le_bytes());
    bytes[24..28].copy_from_slice(&2u32.to_le_bytes());
    bytes[28..32].copy_from_slice(&0x55F6_3774u32.to_le_bytes());
    let f = dir.join("otadata.bin");
    std::fs::write(&f, bytes).unwrap();
    let (code, stdout, stderr) = cutpoint(&["inspect", "--otadata", "2", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["active_sector"], 0);
    assert_eq!(v["boot_slot"], 1, "(seq 2 - 1) mod 2 slots");
}

#[test]
fn landings_say_where_on_the_operation_the_fault_fell() {
    let dir = tmp("landings");
    std::fs::create_dir_all(&dir).unwrap();
    let campaign = |fault: &str| {
        let f = dir.join(format!("{fault}.toml"));
        std::fs::write(
            &f,
            format!(
                r#"name = "landings"
[target]
board = "nrf52840"
variant = "reference"
[images]
baseline = {{ version = "1.0.0", size_kib = 8 }}
update = {{ version = "2.0.0", size_kib = 8 }}
[run]
seed = 5
fault = "{fault}"
[[phases]]
name = "request"
start = 'ota: request-start'
end = 'ota: request-done'
offsets = {{ every_op = ["before", "inside:0.5", "after"] }}
"#
            ),
        )
        .unwrap();
        f
    };
    for (fault, inside) in [("power-cut", "inside"), ("reset", "after")] {
        let out = dir.join(fault);
        let f = campaign(fault);
        let (code, stdout, stderr) = cutpoint(&["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let journal = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
        let mut seen = 0;
        for line in journal.lines().filter(|l| l.contains("\"record\":\"cut\"")) {
            let c: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = c["id"].as_str().unwrap();
            let want = match id.rsplit('-').next().unwrap() {
                "before" => "before",
                "after" => "after",
                _ => inside,
            };
            assert_eq!(c["landing"]["op_point"], want, "{fault} {id}: {c}");
            seen += 1;
        }
        assert!(seen >= 3, "{journal}");
    }
}
