//! A cut that never fired (a bench device done before the cut's instant) leaves the update
//! uncut: that cut point was not tested, so it is a rig error, never a pass.

#[path = "support/wrapped_target.rs"]
mod wrapped_target;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use cutpoint::engine::{self, RunSpec};
use cutpoint::setup::sim_setup;
use cutpoint::target::Target;
use cutpoint_report::journal::read_journal;
use cutpoint_report::Status;
use wrapped_target::Wrapped;

/// The simulated target, saying of the cut point `never` what a bench says when the device
/// finished before the cut's instant: it ran the update uncut and the cut never fired.
fn late_switch<'a>(inner: &'a dyn Target, never: &'a str) -> Wrapped<'a> {
    Wrapped::new(inner).on_run_chain(move |inner, worker, id, chain, rules| {
        if id != never {
            return inner.run_chain(worker, id, chain, rules);
        }
        // The uncut update, as the control run saw it, and a landing that says so.
        let control = inner.control()?;
        let mut obs = inner.run_chain(worker, id, chain, rules)?;
        obs.console = control.console;
        obs.dump = control.dump;
        obs.dump_base = control.dump_base;
        obs.post_cut_state = None;
        obs.final_state = None;
        obs.reset_from = None;
        obs.unfired = true;
        if let Some(l) = obs.landings.first_mut() {
            l.requested_us = None;
            l.torn = Some("the cut never fired: the device was done before 12 ms into verify".into());
        }
        Ok(obs)
    })
}

#[test]
fn a_cut_that_never_fired_is_a_rig_error_not_a_pass() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../campaigns/smoke.toml");
    let c = cutpoint_campaign::load_campaign(&path).expect("smoke campaign");
    let setup = sim_setup(&c, 1).expect("setup");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cutpoint-unfired");
    let _ = std::fs::remove_dir_all(&out);
    let spec = RunSpec::whole(&c, out.clone(), setup.expect.clone(), setup.update_size);
    let never = "swap/end";
    let target = late_switch(&setup.target, never);
    let outcome = engine::run(&target, &spec, &mut cutpoint::sink::ignore(), &AtomicBool::new(false)).expect("run");
    assert!(!outcome.cancelled);
    let journal = read_journal(&out.join("results.jsonl")).unwrap();
    let late = journal.cuts.iter().find(|c| c.id == never).expect("the cut point ran");
    assert_eq!(late.status, Status::Error, "{:?}", late.reasons);
    assert!(
        late.reasons
            .iter()
            .any(|r| r.contains("the cut never fired") && r.contains("not tested")),
        "{:?}",
        late.reasons
    );
    assert!(
        journal
            .cuts
            .iter()
            .filter(|c| c.id != never)
            .all(|c| c.status == Status::Pass),
        "the others pass"
    );
    let v = cutpoint::verdict::run_verdict(&c, &outcome, 0, 1);
    assert_eq!(v.code, cutpoint::exit::RIG_ERROR, "{:?}", v.notes);
}
