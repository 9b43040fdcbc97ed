//! Double cuts: a second cut aimed at every flash operation of the run that recovers from the
//! first, through the `cutpoint` command on the simulated board.

use std::path::{Path, PathBuf};

#[path = "support/cli.rs"]
mod cli;
use cli::cutpoint;

fn tmp(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-double-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A 16 KiB test update; the first cut inside the swap after region marker 1 and 3, then the
/// later cuts `then` (TOML: a table or an array of tables).
fn campaign(dir: &Path, variant: &str, then: &str) -> PathBuf {
    campaign_with(dir, variant, "", then)
}

/// Like [`campaign`], with `phases` (TOML) before the swap phase.
fn campaign_with(dir: &Path, variant: &str, phases: &str, then: &str) -> PathBuf {
    let text = format!(
        r#"
name = "double"
[target]
board = "nrf52840"
variant = "{variant}"
mode = "swap-scratch"
upgrade = "test"
[images]
baseline = {{ version = "1.0.0", size_kib = 16 }}
update = {{ version = "2.0.0", size_kib = 16 }}
[run]
seed = 11
max_boots = 12
[pass]
final = "auto"
expect = "{expect}"
{phases}
[[phases]]
name = "swap"
start = 'boot: swap-(start|resume)'
end = 'boot: swap-done'
progress = 'boot: swap-progress .* region=(?P<n>\d+)'
offsets = {{ fixed = ["start"] }}
[[phases]]
name = "confirm"
start = 'app: health ok'
end = 'app: confirm'
offsets = {{ fixed = ["start"] }}
[[phases]]
name = "settle"
start = 'app: confirm'
end = 'ota: idle'
offsets = {{ fixed = ["start"] }}
[[sequences]]
name = "twice"
first = {{ phase = "swap", offsets = {{ sectors = {{ every = 2, fraction = 0.5 }} }} }}
then = {then}
"#,
        expect = if variant == "reference" { "pass" } else { "fail" },
    );
    let f = dir.join(format!("{variant}.toml"));
    std::fs::write(&f, text).unwrap();
    f
}

fn cuts(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["record"] == "cut")
        .collect()
}

#[test]
fn every_op_second_cuts_land_on_the_operation_their_id_names() {
    let dir = tmp("every-op");
    let f = campaign(
        &dir,
        "reference",
        r#"{ phase = "swap", offsets = { every_op = ["before", "inside:0.5", "after"] } }"#,
    );
    let (code, ids, stderr) = cutpoint(&["plan", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let seconds: Vec<&str> = ids.lines().filter(|l| l.contains(">swap/op-")).collect();
    assert!(seconds.len() > 30, "{ids}");
    assert!(!stderr.contains("skipped"), "{stderr}");

    let out = dir.join("out");
    let (code, stdout, stderr) = cutpoint(&["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "the reference survives every double cut: {stdout}\n{stderr}");
    let results = cuts(&out);
    assert_eq!(results.len(), ids.lines().count());
    let mut checked = 0;
    for c in results
        .iter()
        .filter(|c| c["id"].as_str().unwrap().contains(">swap/op-"))
    {
        let id = c["id"].as_str().unwrap();
        let (_, second) = id.split_once(">swap/op-").unwrap();
        let (n, point) = second.split_once('-').unwrap();
        let n: u64 = n.parse().unwrap();
        let later = c["later_landings"].as_array().expect("the second cut's landing");
        assert_eq!(later.len(), 1, "{id}");
        // Operation n is named even when the cut fell just before it started.
        let op = later[0]["op"].as_str().unwrap_or_default();
        assert!(op.starts_with(&format!("#{n} ")), "{id} landed in {op:?}");
        let expected_point = point.split('-').next().unwrap();
        assert_eq!(later[0]["op_point"], expected_point, "{id}: {c}");
        assert_eq!(later[0]["torn"].is_string(), expected_point == "inside", "{id}: {c}");
        checked += 1;
    }
    assert_eq!(checked, seconds.len());
    // Every second cut fell in the resumed swap, before the new image confirmed itself.
    assert!(
        results
            .iter()
            .filter(|c| c["id"].as_str().unwrap().contains('>'))
            .all(|c| c["committed"] == false),
        "a cut before the commit is judged as undecided"
    );

    // One second cut, replayed from power-on, gives the same bits and outcome.
    let pick = seconds[seconds.len() / 2];
    let (code, stdout, stderr) = cutpoint(&["replay", out.to_str().unwrap(), pick]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("post-cut flash: identical"), "{stdout}");
    assert!(stdout.contains("outcome: matches"), "{stdout}");
}

#[test]
fn a_variant_without_swap_status_fails_double_cuts() {
    let dir = tmp("no-status");
    let f = campaign(
        &dir,
        "no-swap-status",
        r#"{ phase = "swap", offsets = { every_op = ["inside:0.5"] } }"#,
    );
    let out = dir.join("out");
    let (code, stdout, stderr) = cutpoint(&["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "expect = \"fail\" and it failed: {stdout}\n{stderr}");
    let failed = cuts(&out)
        .iter()
        .filter(|c| c["status"] == "fail" && c["id"].as_str().unwrap().contains(">swap/op-"))
        .count();
    assert!(failed > 0, "{stdout}");
}

#[test]
fn a_recovery_without_the_second_phase_runs_the_first_cut_alone() {
    let dir = tmp("alone");
    // The recovery from a cut in the swap resumes the swap; the confirm phase comes only after
    // it, so look for a phase the recovery never shows: the download.
    let f = campaign_with(
        &dir,
        "reference",
        r#"
[[phases]]
name = "download"
start = 'ota: download-start'
end = 'ota: download-done'
offsets = { fixed = ["end"] }"#,
        r#"{ phase = "download", offsets = { fixed = ["start"] } }"#,
    );
    let (code, ids, stderr) = cutpoint(&["plan", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let alone: Vec<&str> = ids.lines().filter(|l| l.starts_with("twice:")).collect();
    assert!(!alone.is_empty(), "{ids}");
    assert!(alone.iter().all(|id| !id.contains('>')), "{ids}");
    for id in &alone {
        assert!(
            stderr.contains(&format!("skipped {id}>*: no cut 2")),
            "{id} not listed as skipped:\n{stderr}"
        );
    }
    let out = dir.join("out");
    let (code, _, stderr) = cutpoint(&["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("offsets gave no cut point"), "{stderr}");
    let ran: Vec<String> = cuts(&out)
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    for id in alone {
        assert!(ran.iter().any(|r| r == id), "{id} did not run");
    }
}

#[test]
fn a_third_cut_lands_in_the_recovery_from_the_second() {
    let dir = tmp("thrice");
    let f = campaign(
        &dir,
        "reference",
        r#"[
  { phase = "swap", offsets = { random = 2 } },
  { phase = "swap", offsets = { every_op = ["inside:0.5"] } },
]"#,
    );
    let (code, ids, stderr) = cutpoint(&["plan", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let thirds: Vec<&str> = ids.lines().filter(|l| l.matches('>').count() == 2).collect();
    assert!(thirds.len() > 20, "{ids}");
    assert!(
        ids.lines()
            .all(|l| !l.starts_with("twice:") || l.matches('>').count() == 2),
        "every chain reaches its third cut: {ids}"
    );

    let out = dir.join("out");
    let (code, stdout, stderr) = cutpoint(&["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "the reference survives every triple cut: {stdout}\n{stderr}");
    for c in cuts(&out)
        .iter()
        .filter(|c| c["id"].as_str().unwrap().matches('>').count() == 2)
    {
        let id = c["id"].as_str().unwrap();
        let later = c["later_landings"].as_array().expect("landings of cuts 2 and 3");
        assert_eq!(later.len(), 2, "{id}");
        let n: u64 = id.rsplit_once(">swap/op-").unwrap().1[..4].parse().unwrap();
        let op = later[1]["op"].as_str().unwrap_or_default();
        assert!(op.starts_with(&format!("#{n} ")), "{id}: cut 3 landed in {op:?}");
    }
    let pick = thirds[thirds.len() / 3];
    let (code, stdout, stderr) = cutpoint(&["replay", out.to_str().unwrap(), pick]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("post-cut flash: identical"), "{stdout}");
    assert!(stdout.contains("outcome: matches"), "{stdout}");
}

#[test]
fn a_later_cut_after_the_commit_is_judged_as_committed() {
    let dir = tmp("committed");
    // The first cut falls in the swap, long before the commit; the second at the confirmation
    // line of the run that recovers from it: from then on only the new image may run.
    let f = campaign(
        &dir,
        "reference",
        r#"{ phase = "settle", offsets = { fixed = ["start"] } }"#,
    );
    let out = dir.join("out");
    let (code, stdout, stderr) = cutpoint(&["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let seconds: Vec<_> = cuts(&out)
        .into_iter()
        .filter(|c| c["id"].as_str().unwrap().contains(">settle/start"))
        .collect();
    assert!(!seconds.is_empty());
    for c in &seconds {
        assert_eq!(c["committed"], true, "{c}");
        assert_eq!(c["first_boot"], "2.0.0+0", "{c}");
    }
    // The first cuts alone are not committed.
    assert!(cuts(&out)
        .iter()
        .filter(|c| c["id"] == "swap/start")
        .all(|c| c["committed"] == false));
}

#[test]
fn partitions_keep_each_first_cut_with_its_chains() {
    let dir = tmp("partition");
    let f = campaign(
        &dir,
        "reference",
        r#"{ phase = "swap", offsets = { every_op = ["inside:0.5"] } }"#,
    );
    let f = f.to_str().unwrap();
    let (code, whole, stderr) = cutpoint(&["plan", f]);
    assert_eq!(code, 0, "{stderr}");
    let mut parts: Vec<Vec<String>> = Vec::new();
    for k in 1..=3 {
        let (code, ids, stderr) = cutpoint(&["plan", f, "--partition", &format!("{k}/3")]);
        assert_eq!(code, 0, "{stderr}");
        parts.push(ids.lines().map(str::to_string).collect());
    }
    let mut union: Vec<String> = parts.concat();
    union.sort();
    let mut all: Vec<String> = whole.lines().map(str::to_string).collect();
    all.sort();
    assert_eq!(union, all, "the partitions are disjoint and cover the plan");
    let head = |id: &str| {
        let id = cutpoint_report::CutIdRef::parse(id).unwrap();
        id.chain_head().map(|h| h.to_string())
    };
    for (k, part) in parts.iter().enumerate() {
        for id in part {
            if let Some(h) = head(id) {
                let elsewhere = parts
                    .iter()
                    .enumerate()
                    .any(|(j, p)| j != k && p.iter().any(|o| head(o).as_deref() == Some(h.as_str())));
                assert!(!elsewhere, "the chains after {h} are split across partitions");
            }
        }
    }
}
