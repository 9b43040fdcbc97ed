//! Runs from a power-on served from an earlier one, and later cuts forked from a recording of
//! the run they interrupt, change no result: with the memo on and off, the journal and every
//! report of a campaign are the same, byte for byte (wall-clock times aside).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use cutpoint_engine::engine::{self, RunSpec};
use cutpoint_engine::setup::sim_setup;

/// What the memo served in a run (see [`run`]).
#[derive(Debug, PartialEq)]
struct Served {
    /// Runs from a power-on served from an earlier one.
    runs: u64,
    /// Later cuts forked from a recording.
    forks: u64,
    /// Recoveries served from one that erased first where the post-cut states differ.
    equivalent: u64,
    /// Recoveries that joined an earlier one at a rest point, and those of them whose cut
    /// tore a program the course they joined never touched.
    joined: u64,
    joined_torn: u64,
}

/// Runs `campaign` (a path under `campaigns/`) on one worker with the memo on or off, writes
/// its reports, and returns what the memo served.
fn run(campaign: &str, memo: bool, out: &Path) -> Served {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../campaigns")
        .join(campaign);
    let c =
        cutpoint_campaign::load_campaign(&path).unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)));
    let mut setup = sim_setup(&c, 1).unwrap();
    setup.target = setup.target.with_memo(memo);
    let spec = RunSpec::whole(&c, out.to_path_buf(), setup.expect.clone(), setup.update_size);
    let outcome = engine::run(
        &setup.target,
        &spec,
        &mut cutpoint_engine::sink::ignore(),
        &AtomicBool::new(false),
    )
    .unwrap();
    cutpoint_report::write_reports_from_journals(
        out,
        &[&outcome.journal_path],
        &cutpoint_report::ReportOptions::default(),
    )
    .unwrap();
    let (runs, forks) = setup.target.memo_counts();
    Served {
        runs,
        forks,
        equivalent: setup.target.equivalent_recoveries(),
        joined: setup.target.joined_recoveries().0,
        joined_torn: setup.target.joined_recoveries().1,
    }
}

/// A report file with what a clock says taken out: instants, `wall_ms` and JUnit times (a
/// binary file, a flash dump, as it is).
fn normalised(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return e.into_bytes().iter().map(|b| format!("{b:02x}")).collect(),
    };
    let instant = regex::Regex::new(r"\d{4}-\d\d-\d\dT[0-9:.]+Z").unwrap();
    let wall = regex::Regex::new(r#""wall_ms": ?\d+"#).unwrap();
    let junit = regex::Regex::new(r#"time="[0-9.]+""#).unwrap();
    let text = instant.replace_all(&text, "T");
    let text = wall.replace_all(&text, "");
    junit.replace_all(&text, "").into_owned()
}

/// Every file the run left, by its path inside the report directory.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Runs `campaign` both ways and compares; returns what the memo served with it on.
fn same_both_ways(campaign: &str) -> Served {
    let tmp = tempfile::tempdir().unwrap();
    // The same directory both ways (reports quote it), moved aside after the first run.
    let (dir, on) = (tmp.path().join("run"), tmp.path().join("on"));
    let counts = run(campaign, true, &dir);
    std::fs::rename(&dir, &on).unwrap();
    let no_memo = run(campaign, false, &dir);
    let off = dir;
    let nothing = Served {
        runs: 0,
        forks: 0,
        equivalent: 0,
        joined: 0,
        joined_torn: 0,
    };
    assert_eq!(no_memo, nothing, "{campaign}: the memo was off");
    let listed = files(&on);
    assert_eq!(listed, files(&off), "{campaign}: the same files");
    assert!(listed.iter().any(|f| f.ends_with("results.jsonl")), "{listed:?}");
    for f in &listed {
        let (a, b) = (normalised(&on.join(f)), normalised(&off.join(f)));
        if a != b {
            let at = a
                .bytes()
                .zip(b.bytes())
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            let around = |s: &str| {
                s.get(at.saturating_sub(60)..(at + 400).min(s.len()))
                    .unwrap_or("")
                    .to_string()
            };
            panic!(
                "{campaign}: {} differs with the memo on, at byte {at}:\n on: {}\noff: {}",
                f.display(),
                around(&a),
                around(&b)
            );
        }
    }
    eprintln!("{campaign}: {counts:?}");
    counts
}

#[test]
fn exhaustive_is_the_same_with_the_memo_and_joins_resumed_swaps() {
    let Served {
        equivalent,
        joined,
        joined_torn,
        ..
    } = same_both_ways("exhaustive.toml");
    // A cut torn into a sector the resumed swap erases before it reads it recovers as the
    // cut before it did.
    eprintln!("exhaustive: {equivalent} recoveries served from one that erased first");
    assert!(
        equivalent > 1000,
        "recoveries served from one that erased first: {equivalent}"
    );
    // A resumed swap reaches, a region later, the flash the recovery of the cut before it
    // reached there: it takes the rest from that recovery.
    eprintln!("exhaustive: {joined} recoveries joined an earlier one at a rest point");
    assert!(joined > 200, "recoveries joined at a rest point: {joined}");
    // A cut torn into a status record leaves weak bits there; the rest of the swap never
    // reads that record again, so it joins the recovery that wrote it whole.
    assert!(
        joined_torn > 50,
        "recoveries joined with their torn program as it was: {joined_torn}"
    );
}

#[test]
fn rest_points_of_swaps_whose_boot_does_more_after_them_are_the_same_with_the_memo() {
    // The stale-header build checks the primary slot after a resumed swap, not after a new
    // one: the swap's rest points say what the boot does after it. Swap-offset's steps differ
    // from swap-move's; both are expected failures with their artifact folders.
    for campaign in [
        "known-bugs/stale-header-after-resume.toml",
        "known-bugs/stale-header-after-move-swap-offset.toml",
    ] {
        let served = same_both_ways(campaign);
        assert!(served.joined > 0, "{campaign}: {served:?}");
    }
}

#[test]
fn double_cuts_are_the_same_with_the_memo_and_fork_their_second_cuts() {
    let Served { runs, forks, .. } = same_both_ways("double-cuts.toml");
    assert!(runs > 0, "a re-triggered update is served from the first: {runs}");
    assert!(
        forks > 1000,
        "second cuts forked from the recording of their run: {forks}"
    );
}

#[test]
fn a_known_bug_is_the_same_with_the_memo() {
    // Expected failures, with their artifact folders (console, state, dumps).
    same_both_ways("known-bugs/torn-magic-revert.toml");
}

#[test]
fn an_ab_scheme_is_the_same_with_the_memo() {
    let Served { runs, forks, .. } = same_both_ways("redundant-copies/double-cuts.toml");
    assert!(runs + forks > 0, "{runs} {forks}");
}

#[test]
fn an_ecc_part_with_its_zero_overwrite_rule_is_the_same_with_the_memo() {
    // STM32L4: torn state words, and the all-zero marker written again over a written or torn
    // double-word (RM0351's rule), with failures and their artifact folders.
    same_both_ways("embassy-boot/exhaustive-stm32l4.toml");
}

#[test]
fn a_board_of_two_flash_devices_is_the_same_with_the_memo() {
    // The nRF52840 DK with the secondary slot on its QSPI NOR: second cuts forked from the
    // recording of a resumed swap that runs on both devices; and a broken build's expected
    // failures, whose dumps span both devices.
    let Served { forks, .. } = same_both_ways("nrf52840-qspi/swap-move-double-cuts.toml");
    assert!(
        forks > 100,
        "second cuts forked from the recording of their run: {forks}"
    );
    same_both_ways("nrf52840-qspi/known-bugs.toml");
}
