//! A control run that misses a campaign marker: the campaign's typo when the reference
//! firmware misses it too (bad input, located), the device's failure when the reference prints
//! it (the simulated board can tell the two apart).

#[path = "support/wrapped_target.rs"]
mod wrapped_target;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use cutpoint::engine::{self, EngineError, RunSpec};
use cutpoint::setup::sim_setup;
use cutpoint::target::ControlObservation;
use wrapped_target::Wrapped;

/// The console of a firmware that stops talking once the swap is done (a bootloader that hangs
/// after its swap): its control run misses every marker after it.
fn cut_after_swap(mut c: ControlObservation) -> ControlObservation {
    if let Some(i) = c.console.iter().position(|l| l.text.contains("boot: swap-done")) {
        c.console.truncate(i);
    }
    c
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
        // `reference_too`: the reference firmware's control run stops there as well (what a
        // typo in those markers looks like).
        let mut target = Wrapped::new(&setup.target).on_control(cut_after_swap);
        if reference_too {
            target = target.on_reference_control(cut_after_swap);
        }
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
