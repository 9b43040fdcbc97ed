//! A control run that misses a campaign marker: the campaign's typo when the reference
//! firmware misses it too (bad input, located), the device's failure when the reference prints
//! it (the simulated board can tell the two apart).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use cutpoint::engine::{self, EngineError, RunSpec};
use cutpoint::setup::sim_setup;
use cutpoint::target::{ControlObservation, Observation, RecoveryRules, RecoveryTimeline, Target};
use cutpoint_bench::RigError;
use cutpoint_campaign::CutPoint;

/// The simulated target, whose firmware stops talking once the swap is done (a bootloader that
/// hangs after its swap): its control run misses every marker after it. `reference_too`: the
/// reference firmware's control run does the same (what a typo in those markers looks like).
struct HangsAfterSwap<'a> {
    inner: &'a dyn Target,
    reference_too: bool,
}

fn cut_after_swap(mut c: ControlObservation) -> ControlObservation {
    if let Some(i) = c.console.iter().position(|l| l.text.contains("boot: swap-done")) {
        c.console.truncate(i);
    }
    c
}

impl Target for HangsAfterSwap<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn workers(&self) -> usize {
        1
    }
    fn control(&self) -> Result<ControlObservation, RigError> {
        self.inner.control().map(cut_after_swap)
    }
    fn reference_control(&self, max_boots: u32) -> Option<Result<ControlObservation, RigError>> {
        let r = self.inner.reference_control(max_boots)?;
        Some(if self.reference_too { r.map(cut_after_swap) } else { r })
    }
    fn run_chain(
        &self,
        worker: usize,
        id: &str,
        chain: &[&CutPoint],
        rules: &RecoveryRules,
    ) -> Result<Observation, RigError> {
        self.inner.run_chain(worker, id, chain, rules)
    }
    fn recovery_timeline(
        &self,
        id: &str,
        chain: &[&CutPoint],
        rules: &RecoveryRules,
    ) -> Result<RecoveryTimeline, RigError> {
        self.inner.recovery_timeline(id, chain, rules)
    }
}

#[test]
fn a_marker_the_reference_prints_and_the_device_does_not_is_the_devices_failure() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../campaigns/smoke.toml");
    let c = cutpoint_campaign::load_campaign(&path).expect("smoke campaign");
    let setup = sim_setup(&c, 1).expect("setup");
    for reference_too in [false, true] {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-control-markers-{reference_too}"));
        let _ = std::fs::remove_dir_all(&out);
        let spec = RunSpec::whole(&c, out, setup.expect.clone(), setup.update_size);
        let target = HangsAfterSwap {
            inner: &setup.target,
            reference_too,
        };
        let got = engine::run(&target, &spec, &mut cutpoint::sink::ignore(), &AtomicBool::new(false));
        if reference_too {
            match got {
                Err(EngineError::BadInput(msg)) => assert!(msg.contains("swap"), "{msg}"),
                Err(other) => panic!("a marker the reference misses too is the campaign's: {other:?}"),
                Ok(o) => panic!(
                    "a marker the reference misses too is the campaign's, not a run (control failed: {})",
                    o.control_failed
                ),
            }
        } else {
            let outcome = got.expect("the device's failure is a finished run");
            assert!(outcome.control_failed, "the device's control run failed");
            let j = cutpoint_report::journal::read_journal(&outcome.journal_path).unwrap();
            let control = j.control.expect("control run journaled");
            assert!(
                control
                    .reasons
                    .iter()
                    .any(|r| r.contains("the device never printed a line the reference firmware prints here")),
                "{:?}",
                control.reasons
            );
        }
    }
}
