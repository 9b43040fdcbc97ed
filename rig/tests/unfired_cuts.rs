//! A cut that never fired (a bench device done before the cut's instant) leaves the update
//! uncut: that cut point was not tested, so it is a rig error, never a pass.

#[path = "support/wrapped_target.rs"]
mod wrapped_target;

#[path = "support/cli.rs"]
mod cli;

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
        obs.dump = cutpoint_engine::target::Dump::whole(control.dump);
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

/// One first cut at the swap's end, and a second cut 1 ms into the swap the recovery resumes.
const LATER_TIME: &str = r#"
name = "later-time"
[target]
board = "nrf52840"
variant = "reference"
[images]
baseline = { version = "1.0.0", size_kib = 16 }
update = { version = "2.0.0", size_kib = 16 }
[run]
max_boots = 12
[[phases]]
name = "swap"
start = 'boot: swap-(start|resume)'
end = 'boot: swap-done'
offsets = { fixed = ["start"] }
[[sequences]]
name = "late"
first = { phase = "swap", offsets = { fixed = ["end"] } }
then = { phase = "swap", offsets = { ms = [1] } }
"#;

/// The simulated target, saying of chain `never` what a bench says when the run after the first
/// cut ended before the second cut's instant: the second cut never fired.
fn late_second_cut<'a>(inner: &'a dyn Target, never: &'a str) -> Wrapped<'a> {
    Wrapped::new(inner).on_run_chain(move |inner, worker, id, chain, rules| {
        let mut obs = inner.run_chain(worker, id, chain, rules)?;
        if id == never {
            obs.unfired = true;
            let second = obs.landings.last_mut().expect("a landing per cut");
            second.requested_us = None;
            second.torn = Some("the cut never fired: the device was done before 1 ms into swap".into());
        }
        Ok(obs)
    })
}

#[test]
fn a_later_cut_aimed_at_a_time_that_never_fired_is_not_tested_and_says_so() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cutpoint-unfired-later");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("later-time.toml");
    std::fs::write(&path, LATER_TIME).unwrap();
    let c = cutpoint_campaign::load_campaign(&path).expect("campaign");
    let setup = sim_setup(&c, 1).expect("setup");
    let out = dir.join("r");
    let spec = RunSpec::whole(&c, out.clone(), setup.expect.clone(), setup.update_size);
    let never = "late:swap/end>swap/ms-1";
    let target = late_second_cut(&setup.target, never);
    let outcome = engine::run(&target, &spec, &mut cutpoint::sink::ignore(), &AtomicBool::new(false)).expect("run");
    assert_eq!(outcome.planned, 2);
    let journal = read_journal(&out.join("results.jsonl")).unwrap();
    let late = journal
        .cuts
        .iter()
        .find(|c| c.id == never)
        .expect("the cut point is journaled");
    assert_eq!(late.status, Status::Error, "never a pass: {:?}", late.reasons);
    let reason = late.reasons.join("; ");
    assert!(
        reason.contains(
            "not tested: cut 2 of the chain, a time offset (`ms-1` into phase `swap`), never fired: \
             the run it aimed into ended first (the cut never fired: the device was done before 1 ms into swap)"
        ),
        "{reason}"
    );
    assert!(reason.contains("(skipped, kind time)"), "{reason}");
    assert!(!reason.starts_with("rig error"), "the rig did not fail: {reason}");
    let others = journal.cuts.iter().filter(|c| c.id != never);
    assert!(others.clone().all(|c| c.status == Status::Pass), "the others pass");
    let v = cutpoint::verdict::run_verdict(&c, &outcome, 0, 1);
    assert_ne!(v.code, cutpoint::exit::PASS, "not green: {:?}", v.notes);

    // The reports show it with its reason, and `cutpoint report` is not green either.
    let (code, stdout, stderr) = cli::cutpoint(&["report", out.to_str().unwrap()]);
    assert_eq!(code, v.code, "{stdout}{stderr}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("never fired"), "{summary}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains("not tested: cut 2 of the chain, a time offset"),
        "{junit}"
    );
}
