//! The shipped direct-XIP campaigns through the engine and the pass rule on the simulated
//! nRF52840: the reference passes every cut of the smoke, exhaustive (every flash operation
//! from the download to the confirmation), revert and double-cut campaigns; the
//! xip-boots-unconfirmed build fails its known-bug campaign, which the reference passes. Plain
//! direct-XIP (no revert) passes every cut of its download and selection.

#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::{load_campaign, Expect, TargetKind};
use cutpoint_report::Status;
use fut::Variant;
use sim_run::{run, shipped_path};

fn passes(rel: &str, min_cuts: usize) {
    assert_eq!(sim_run::shipped(rel).target.mode.name(), "direct-xip", "{rel}");
    sim_run::assert_shipped_passes(rel, min_cuts);
}

#[test]
fn direct_xip_smoke_and_exhaustive_pass() {
    passes("direct-xip/smoke", 25);
    passes("direct-xip/exhaustive", 400);
}

#[test]
fn direct_xip_revert_passes_every_operation_of_the_trial_and_the_erase() {
    passes("direct-xip/revert", 250);
}

#[test]
fn direct_xip_without_revert_passes_every_operation_of_the_download_and_the_selection() {
    let rel = "direct-xip/no-revert";
    assert_eq!(sim_run::shipped(rel).target.mode.name(), "direct-xip-no-revert");
    sim_run::assert_shipped_passes(rel, 400);
}

#[test]
fn direct_xip_double_cuts_pass() {
    passes("direct-xip/double-cuts", 400);
}

#[test]
fn xip_boots_unconfirmed_fails_its_campaign_and_the_reference_passes_it() {
    let rel = "direct-xip/known-bugs";
    let mut c = load_campaign(shipped_path(rel)).expect("campaign");
    assert_eq!(c.pass.expect, Expect::Fail, "{rel}: a negative control");
    let TargetKind::Simulated { variant, .. } = &mut c.target.kind else {
        panic!("{rel}: a simulated target");
    };
    assert_eq!(*variant, Variant::XipBootsUnconfirmed);
    *variant = Variant::Reference;
    let control = c.clone();
    c.target.kind = match c.target.kind {
        TargetKind::Simulated { board, .. } => TargetKind::Simulated {
            board,
            variant: Variant::XipBootsUnconfirmed,
        },
        k => k,
    };
    let r = run(&c);
    assert_eq!(r.count(Status::Error), 0, "{rel}: no rig errors");
    let fail = r.count(Status::Fail);
    println!("{rel}: {fail} of {} cut points fail, as expected", r.journal.cuts.len());
    assert!(fail > 0, "{rel}: the broken build was not caught");
    let mut c = control;
    c.pass.expect = Expect::Pass;
    let r = run(&c);
    assert!(!r.control_failed, "reference control run: {:?}", r.control_reasons());
    assert!(r.failures().is_empty(), "{:#?}", r.failures());
    assert_eq!(r.count(Status::Pass), r.journal.cuts.len());
}
