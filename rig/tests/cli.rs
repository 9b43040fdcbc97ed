//! The `cutpoint` command end to end on the simulated board.

use std::path::PathBuf;
use std::process::Command;

#[path = "support/cli.rs"]
mod cli;
use cli::{cutpoint, root};

fn tmp(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-test-{name}"));
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

/// The id of the first failing cut point in the journal of report directory `out`.
fn first_failing_cut(out: &std::path::Path) -> String {
    let journal = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    journal
        .lines()
        .filter(|l| l.contains("\"record\":\"cut\"") && l.contains("\"status\":\"fail\""))
        .find_map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()?
                .get("id")?
                .as_str()
                .map(str::to_string)
        })
        .expect("a failing cut")
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
    let failing = first_failing_cut(&out);
    let (code, stdout, stderr) = cutpoint(&["replay", out.to_str().unwrap(), &failing]);
    assert!(stdout.contains("post-cut flash: identical"), "{stdout}\n{stderr}");
    assert!(stdout.contains("outcome: matches"), "{stdout}");
    // A negative control: its failing cut fails again, labelled expected, and exits 0 as the
    // campaign's report does for it (a campaign that must pass exits 1: the daemon's replay test).
    assert!(
        stdout.contains("--- verdict: fail (expected: this campaign is a negative control) "),
        "{stdout}"
    );
    assert_eq!(code, 0, "the replayed cut fails again, as expected: {stderr}");
}

#[test]
fn replay_labels_a_failure_as_the_run_expected_it_not_as_the_campaign_now_says() {
    // A run that had to pass, of the broken build: its failing cut fails the replay (exit 1),
    // and editing the campaign to `expect = "fail"` afterwards does not make it expected.
    let dir = tmp("replay-expect");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(root().join("campaigns/known-bugs/overwrite-no-rollback.toml")).unwrap();
    let must_pass = text.replace("expect = \"fail\"", "expect = \"pass\"");
    assert_ne!(must_pass, text);
    let campaign = dir.join("c.toml");
    std::fs::write(&campaign, &must_pass).unwrap();
    let out = dir.join("r");
    let (code, _, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    let failing = first_failing_cut(&out);
    std::fs::write(&campaign, &text).unwrap();
    let (code, stdout, stderr) = cutpoint(&["replay", out.to_str().unwrap(), &failing]);
    assert!(stdout.contains("outcome: matches"), "{stdout}\n{stderr}");
    assert!(!stdout.contains("expected"), "{stdout}");
    assert!(stdout.contains("--- verdict: fail "), "{stdout}");
    assert!(stderr.contains("the replay is labelled as the run was"), "{stderr}");
    assert_eq!(code, 1, "a failure of a run that had to pass: {stderr}");
}

#[test]
fn a_downgrade_between_image_files_that_the_build_refuses_leaves_the_old_image_expected() {
    // As campaigns/rejected/downgrade.toml, with its images as files: their versions are known
    // only once read, and `final = "auto"` must still expect the old image to stay.
    let dir = tmp("downgrade-files");
    std::fs::create_dir_all(&dir).unwrap();
    for (version, file) in [("1.0.0", "old.bin"), ("0.9.0", "new.bin")] {
        let out = dir.join(file);
        let (code, _, stderr) = cutpoint(&[
            "image",
            "build",
            "--version",
            version,
            "--size-kib",
            "32",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stderr}");
    }
    let text = std::fs::read_to_string(root().join("campaigns/rejected/downgrade.toml")).unwrap();
    let files = text
        .replace(
            "baseline = { version = \"1.0.0\", size_kib = 32 }",
            "baseline = { file = \"old.bin\" }",
        )
        .replace(
            "update = { version = \"0.9.0\", size_kib = 32 }",
            "update = { file = \"new.bin\" }",
        );
    assert_eq!(files.matches(".bin\"").count(), 2, "{files}");
    std::fs::write(dir.join("c.toml"), files).unwrap();
    // `check` cannot read the versions yet, and says what `auto` will decide.
    let (code, stdout, stderr) = cutpoint(&["check", dir.join("c.toml").to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("final image new (old instead if the update file's version is below the baseline's"),
        "{stdout}"
    );
    let out = dir.join("r");
    let (code, stdout, stderr) = cutpoint(&[
        "run",
        dir.join("c.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!stderr.contains("the control run failed"), "{stderr}");
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_station_command_this_machine_lacks_is_bad_input_at_its_line() {
    let dir = tmp("missing-program");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("station.toml"),
        "[target]\nboard = \"nrf52840\"\n\n[power]\nkind = \"command\"\non = [\"/nonexistent/relay-on\"]\n\
         off = [\"true\"]\n\n[console]\nkind = \"serial\"\nport = \"/dev/null\"\nbaud = 115200\n\n\
         [probe]\nkind = \"probe-rs\"\nselector = \"1366:1051\"\nchip = \"nRF52840_xxAA\"\n\n\
         [transport]\nkind = \"probe-write\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("campaign.toml"),
        "name = \"missing-program\"\n\n[target]\nstation = \"station.toml\"\nmode = \"swap-scratch\"\n\
         upgrade = \"test\"\n\n[images]\nbaseline = { version = \"1.0.0\", size_kib = 24 }\n\
         update = { version = \"2.0.0\", size_kib = 24 }\n\n[[phases]]\nname = \"swap\"\n\
         start = 'boot: swap-start'\nend = 'boot: swap-done'\n",
    )
    .unwrap();
    let (code, stdout, stderr) = cutpoint(&["check", dir.join("campaign.toml").to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("station.toml:6:"), "{stderr}");
    assert!(
        stderr.contains("power.on: no program \"/nonexistent/relay-on\""),
        "{stderr}"
    );
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
    // Not otadata to decode: bad input, never a clean decode of two absent sectors.
    let (code, _, stderr) = cutpoint(&["inspect", "--otadata", "0", f.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--otadata 0"), "{stderr}");
    let empty = dir.join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let (code, stdout, stderr) = cutpoint(&["inspect", "--otadata", "2", empty.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("0 bytes, but two otadata sectors of 4096 bytes need at least 4128"),
        "{stderr}"
    );
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

/// `cutpoint run CAMPAIGN --out DIR ...` must pass.
fn run_ok(args: &[&str]) {
    let (code, stdout, stderr) = cutpoint(args);
    assert_eq!(code, 0, "cutpoint {args:?}:\n{stdout}\n{stderr}");
}

#[test]
fn report_of_an_incomplete_merge_is_not_complete() {
    let (a, b, m) = (tmp("inc-p1"), tmp("inc-p2"), tmp("inc-merged"));
    for (dir, partition) in [(&a, "1/3"), (&b, "2/3")] {
        run_ok(&[
            "run",
            "campaigns/smoke.toml",
            "--partition",
            partition,
            "--out",
            dir.to_str().unwrap(),
        ]);
    }
    let (code, stdout, stderr) = cutpoint(&[
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        m.to_str().unwrap(),
    ]);
    assert_eq!(
        code, 4,
        "a merge lacking partition 3/3 is incomplete: {stdout}\n{stderr}"
    );
    assert!(!stdout.contains("(complete)"), "{stdout}");
    assert!(stdout.contains(" not run (incomplete)"), "{stdout}");
    assert!(
        stderr.contains("cutpoint: incomplete: partition 3/3 is missing"),
        "{stderr}"
    );
    let summary = std::fs::read_to_string(m.join("summary.md")).unwrap();
    assert!(
        summary.contains("**Incomplete:** partition 3/3 is missing"),
        "{summary}"
    );

    // A run that did not finish: what a kill leaves (no end record).
    let journal = std::fs::read_to_string(a.join("results.jsonl")).unwrap();
    let unfinished: String = journal
        .lines()
        .filter(|l| !l.contains("\"record\":\"end\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let u = tmp("inc-unfinished");
    std::fs::create_dir_all(&u).unwrap();
    std::fs::write(u.join("results.jsonl"), unfinished).unwrap();
    let (code, _, stderr) = cutpoint(&["report", u.to_str().unwrap()]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("incomplete: the run did not finish"), "{stderr}");
}

#[test]
fn report_refuses_journals_of_different_campaigns() {
    let work = tmp("other-campaign");
    std::fs::create_dir_all(&work).unwrap();
    let smoke = std::fs::read_to_string(root().join("campaigns/smoke.toml")).unwrap();
    let other = work.join("smoke-seed-7.toml");
    std::fs::write(&other, smoke.replace("seed = 42", "seed = 7")).unwrap();
    let (a, b) = (work.join("a"), work.join("b"));
    run_ok(&["run", "campaigns/smoke.toml", "--out", a.to_str().unwrap()]);
    run_ok(&["run", other.to_str().unwrap(), "--out", b.to_str().unwrap()]);
    let (code, _, stderr) = cutpoint(&[
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        work.join("m").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot merge different campaigns"), "{stderr}");
}

#[test]
fn a_torn_last_record_is_dropped_by_report_and_run_again_by_resume() {
    let dir = tmp("torn");
    run_ok(&["run", "campaigns/smoke.toml", "--out", dir.to_str().unwrap()]);
    let path = dir.join("results.jsonl");
    let journal = std::fs::read_to_string(&path).unwrap();
    // The journal up to some cut, then that cut's record torn, then a newline.
    let lines: Vec<&str> = journal.lines().filter(|l| !l.contains("\"record\":\"end\"")).collect();
    let keep = 12;
    let torn = &lines[keep][..lines[keep].len() / 2];
    let torn_id = serde_json::from_str::<serde_json::Value>(lines[keep]).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(&path, lines[..keep].join("\n") + "\n" + torn + "\n").unwrap();
    let torn_at = format!("{}:{}: torn last record", path.display(), keep + 1);

    let (code, _, stderr) = cutpoint(&["report", dir.to_str().unwrap()]);
    assert_eq!(code, 4, "read, and incomplete (no end record): {stderr}");
    assert!(stderr.contains(&format!("{torn_at} ignored")), "{stderr}");

    let mut rerun = Command::new(env!("CARGO_BIN_EXE_cutpoint"));
    let out = rerun
        .args(["run", "campaigns/smoke.toml", "--resume", dir.to_str().unwrap()])
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("{torn_at} removed before resuming; its cut point runs again")),
        "{stderr}"
    );
    let resumed = std::fs::read_to_string(&path).unwrap();
    for line in resumed.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "torn line left: {line}"
        );
    }
    let ids: Vec<String> = resumed
        .lines()
        .filter(|l| l.contains("\"record\":\"cut\""))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        ids.iter().filter(|id| **id == torn_id).count(),
        1,
        "the torn cut point ran again"
    );
    assert_eq!(ids.len(), 42, "every cut point once");
    assert_eq!(
        resumed.matches("\"record\":\"header\"").count(),
        1,
        "the plan is recorded once"
    );
    assert_eq!(resumed.matches("\"record\":\"resumed\"").count(), 1);

    let (code, stdout, stderr) = cutpoint(&["report", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

#[test]
fn a_journal_without_its_header_is_run_afresh() {
    for how in [&["--out"][..], &["--resume"][..]] {
        let dir = tmp(&format!("headerless{}", how[0]));
        std::fs::create_dir_all(&dir).unwrap();
        // What a kill in the first milliseconds leaves.
        std::fs::write(dir.join("results.jsonl"), "").unwrap();
        let mut args = vec!["run", "campaigns/smoke.toml"];
        args.extend_from_slice(how);
        args.push(dir.to_str().unwrap());
        let (code, stdout, stderr) = cutpoint(&args);
        assert_eq!(code, 0, "{args:?}: {stdout}\n{stderr}");
        let journal = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
        assert!(journal.starts_with("{\"record\":\"header\""), "{journal}");
        assert_eq!(journal.matches("\"record\":\"cut\"").count(), 42);
    }
}

#[test]
fn a_negative_control_reports_its_failures_as_expected() {
    let out = tmp("negative");
    run_ok(&[
        "run",
        "campaigns/known-bugs/overwrite-no-rollback.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains(" failures=\"0\""), "no unexpected failure");
    assert!(junit.contains("<skipped type=\"expected-failure\" message=\"expected failure: "));
    assert!(junit.contains("<testcase name=\"negative-control\" classname=\"negative-control\">"));
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary
            .contains("**negative control: 105 cut points failed, as expected (the rig caught the broken firmware).**"),
        "{summary}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<p class=\"verdict caught\">negative control: 105 cut points failed"));
}

#[test]
fn check_defaults_a_bound_variant_mode_and_locates_a_contradiction() {
    let dir = tmp("bound");
    std::fs::create_dir_all(&dir).unwrap();
    let body = std::fs::read_to_string(root().join("campaigns/known-bugs/otadata-single-sector.toml")).unwrap();
    // The shipped campaign names its mode; without it the variant brings the same one.
    assert!(body.contains("mode = \"esp-idf\"\n"), "{body}");
    let f = dir.join("default.toml");
    std::fs::write(&f, body.replace("mode = \"esp-idf\"\n", "")).unwrap();
    let (code, stdout, stderr) = cutpoint(&["check", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (_, plan_default, _) = cutpoint(&["plan", f.to_str().unwrap()]);
    let (_, plan_shipped, _) = cutpoint(&["plan", "campaigns/known-bugs/otadata-single-sector.toml"]);
    assert!(!plan_default.is_empty());
    assert_eq!(plan_default, plan_shipped, "the default is the variant's mode");
    let f = dir.join("bad.toml");
    let bad = body.replace("mode = \"esp-idf\"\n", "mode = \"swap-move\"\n");
    std::fs::write(&f, &bad).unwrap();
    let line = bad.lines().position(|l| l == "mode = \"swap-move\"").unwrap() + 1;
    let (code, _, stderr) = cutpoint(&["check", f.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "bad.toml:{line}:8: target.mode: variant \"otadata-single-sector\" breaks the esp-idf scheme's record: expected \"esp-idf\", got \"swap-move\""
        )),
        "{stderr}"
    );
}
