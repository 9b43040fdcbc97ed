//! Runs a campaign through the engine on the simulated board, for the tests that judge shipped
//! campaigns (the reference passes them, broken builds fail them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use cutpoint::engine::{self, RunSpec};
use cutpoint::setup::sim_setup;
use cutpoint_campaign::{parse_campaign, Campaign};
use cutpoint_report::journal::Journal;
use cutpoint_report::Status;

/// The path of the shipped campaign `rel` (under `campaigns/`, without `.toml`).
pub fn shipped_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../campaigns/{rel}.toml"))
}

/// The shipped campaign `rel` with its text changed by `edit` (another variant, another
/// expectation), parsed as if it were the file itself.
pub fn shipped_with(rel: &str, edit: impl FnOnce(String) -> String) -> Campaign {
    let path = shipped_path(rel);
    let text = edit(std::fs::read_to_string(&path).unwrap());
    parse_campaign(&text, &path).unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)))
}

/// The shipped campaign `rel`, parsed as it is.
pub fn shipped(rel: &str) -> Campaign {
    shipped_with(rel, |text| text)
}

/// Runs each shipped campaign of `rels`, positive ones: each passes every cut point (at least
/// `min_cuts` of them) and its control run.
pub fn assert_reference_passes(rels: &[&str], min_cuts: usize) {
    for rel in rels {
        assert_shipped_passes(rel, min_cuts);
    }
}

/// Runs the shipped campaign `rel`, a positive one: it passes its control run and every cut
/// point, at least `min_cuts` of them.
pub fn assert_shipped_passes(rel: &str, min_cuts: usize) {
    let c = shipped(rel);
    assert_eq!(c.pass.expect, cutpoint_campaign::Expect::Pass, "{rel}");
    let ran = run(&c);
    assert!(!ran.control_failed, "{rel}: control run: {:?}", ran.control_reasons());
    let failures = ran.failures();
    assert!(
        failures.is_empty(),
        "{rel}: {} failing cuts, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let cuts = ran.journal.cuts.len();
    println!("{rel}: {cuts} cut points, all pass");
    assert!(cuts >= min_cuts, "{rel}: {cuts} cut points");
}

/// A finished run: its journal read back from disk, and whether the control run failed.
pub struct Ran {
    pub journal: Journal,
    pub control_failed: bool,
}

impl Ran {
    /// How many cut points ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.journal.cuts.iter().filter(|c| c.status == status).count()
    }

    /// Why the unfaulted control run failed, if it did.
    pub fn control_reasons(&self) -> Vec<String> {
        self.journal
            .control
            .as_ref()
            .map(|c| c.reasons.clone())
            .unwrap_or_default()
    }

    /// `id: reasons` of every cut point that did not pass.
    pub fn failures(&self) -> Vec<String> {
        self.journal
            .cuts
            .iter()
            .filter(|c| c.status != Status::Pass)
            .map(|c| format!("{}: {}", c.id, c.reasons.join("; ")))
            .collect()
    }
}

/// Runs `c` on the simulated board with two workers, into a directory removed afterwards.
pub fn run(c: &Campaign) -> Ran {
    let setup = sim_setup(c, 2).expect("setup");
    let out = tempfile::tempdir().unwrap();
    let spec = RunSpec::whole(c, out.path().join("report"), setup.expect.clone(), setup.update_size);
    let o = engine::run(
        &setup.target,
        &spec,
        &mut cutpoint::sink::ignore(),
        &AtomicBool::new(false),
    )
    .expect("run");
    Ran {
        journal: cutpoint_report::journal::read_journal(&o.journal_path).expect("journal"),
        control_failed: o.control_failed,
    }
}
