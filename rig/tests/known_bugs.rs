//! Every shipped known-bug campaign through the engine and the pass rule: each broken variant
//! fails at least one cut (or its unfaulted control run), and the reference controls pass every
//! cut point. A control that is blind on its part has no place in this set: it proves nothing
//! and would read as a proof (`campaigns/embassy-boot/magic-rewrite-blind-stm32l4.toml`, row 11
//! on the STM32L4, lives outside it). Any exception would be named below with its reason.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use cutpoint::engine::{self, RunSpec};
use cutpoint::setup::sim_setup;
use cutpoint_campaign::Expect;
use cutpoint_report::Status;

/// Negative controls that no cut can catch on their part, and why.
const BLIND: &[(&str, &str)] = &[];

#[test]
fn each_variant_is_caught_and_each_reference_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../campaigns/known-bugs");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 8, "one campaign per variant plus the references");
    for path in files {
        let c = cutpoint_campaign::load_campaign(&path).expect("campaign");
        let setup = sim_setup(&c, 2).expect("setup");
        let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-kb-{}", c.name));
        let _ = std::fs::remove_dir_all(&out);
        let spec = RunSpec::whole(&c, out.clone(), setup.expect.clone(), setup.update_size);
        let outcome = engine::run(
            &setup.target,
            &spec,
            &mut cutpoint::sink::ignore(),
            &AtomicBool::new(false),
        )
        .expect("run");
        let journal = cutpoint_report::journal::read_journal(&outcome.journal_path).expect("journal");
        let count = |s| journal.cuts.iter().filter(|c| c.status == s).count();
        let (fail, error) = (count(Status::Fail), count(Status::Error));
        assert_eq!(
            (fail, error),
            (outcome.tally.fail, outcome.tally.error),
            "the tally agrees with the journal"
        );
        assert_eq!(error, 0, "{}: no rig errors on the simulated board", c.name);
        let blind = BLIND.iter().find(|(name, _)| *name == c.name);
        match c.pass.expect {
            Expect::Fail if blind.is_some() => {
                assert!(!outcome.control_failed, "{}: control run", c.name);
                assert_eq!(fail, 0, "{}: caught, though blind: {}", c.name, blind.unwrap().1);
            }
            Expect::Fail => assert!(fail > 0, "{}: the broken variant was not caught", c.name),
            Expect::Pass => {
                assert!(!outcome.control_failed, "{}: control run", c.name);
                assert_eq!(fail, 0, "{}: the reference failed a cut", c.name);
                assert!(!journal.cuts.is_empty());
            }
        }
        println!(
            "{:>40}: {} cut points, {fail} failing, control failed: {}",
            c.name,
            journal.cuts.len(),
            outcome.control_failed
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}
