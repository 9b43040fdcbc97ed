//! The shipped swap-move and swap-offset campaigns through the engine and the pass rule on the
//! simulated nRF52840: the reference passes every cut of the smoke, exhaustive (every flash
//! operation of the request, move, swap and confirmation, before, inside and after), double-cut
//! and known-bug-control campaigns; each swap-move field bug fails its known-bug campaign.

#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::{load_campaign, Expect};
use cutpoint_report::Status;
use sim_run::{run, shipped_path};

fn passes(rel: &str, min_cuts: usize) {
    let dir = rel.split('/').next().unwrap();
    assert_eq!(
        sim_run::shipped(rel).target.mode.name(),
        dir,
        "{rel}: a campaign of its mode's folder"
    );
    sim_run::assert_shipped_passes(rel, min_cuts);
}

#[test]
fn swap_move_smoke_passes() {
    passes("swap-move/smoke", 40);
}

#[test]
fn swap_move_exhaustive_passes_every_flash_operation() {
    passes("swap-move/exhaustive", 3000);
}

#[test]
fn swap_move_double_cuts_pass() {
    passes("swap-move/double-cuts", 1000);
}

#[test]
fn swap_offset_campaigns_pass() {
    passes("swap-offset/smoke", 40);
    passes("swap-offset/exhaustive", 2000);
    passes("swap-offset/double-cuts", 2000);
    passes("swap-offset/revert", 60);
}

#[test]
fn swap_move_known_bug_controls_pass() {
    passes("swap-move/known-bugs", 600);
    passes("swap-move/known-bugs-revert", 1300);
    passes("swap-offset/known-bugs-revert", 900);
}

#[test]
fn each_swap_move_field_bug_fails_its_campaign() {
    for rel in [
        "known-bugs/stale-header-after-move",
        "known-bugs/trailer-init-skipped",
        "known-bugs/torn-magic-revert-swap-move",
        "known-bugs/revert-confirm-in-secondary",
        "known-bugs/torn-magic-revert-swap-offset",
    ] {
        let c = load_campaign(shipped_path(rel)).expect("campaign");
        assert_eq!(c.pass.expect, Expect::Fail, "{rel}: a negative control");
        let r = run(&c);
        let fail = r.count(Status::Fail);
        assert_eq!(r.count(Status::Error), 0, "{rel}: no rig errors");
        println!("{rel}: {fail} of {} cut points fail, as expected", r.journal.cuts.len());
        assert!(fail > 0, "{rel}: the broken build was not caught");
    }
}

#[test]
fn swap_move_metadata_campaigns_pass_on_nor_and_ecc() {
    // Every trailer write of a failing test update and its revert, torn and after: on the
    // nRF52840 (single cuts) and on the stm32l4, whose torn copy_done stays torn (with double
    // cuts in the revert).
    passes("swap-move/metadata-revert", 150);
    passes("swap-move/metadata-revert-ecc", 1000);
}

/// A known defect of the reference, shipped as an expected failure: two cuts inside the program
/// of one status record, both leaving it unwritten, make the resume program that word a third
/// time, which the nRF52840 refuses; every later boot stops there. When the bootloader learns
/// to survive it, this test and the campaign's `expect` change together.
#[test]
fn two_cuts_inside_one_status_record_brick_the_swap_move_reference() {
    let rel = "swap-move/status-record-double-cuts";
    let c = load_campaign(shipped_path(rel)).expect("campaign");
    assert_eq!(c.pass.expect, Expect::Fail, "{rel}: an expected failure");
    let r = run(&c);
    assert!(!r.control_failed, "{rel}: control run: {:?}", r.control_reasons());
    assert_eq!(r.count(Status::Error), 0, "{rel}: no rig errors");
    let failures = r.failures();
    assert!(!failures.is_empty(), "{rel}: the defect no longer shows");
    for f in &failures {
        assert!(
            f.contains("swap-twice:") && f.contains("bricked: nothing booted after the cut"),
            "{rel}: another failure than the known one: {f}"
        );
    }
    println!(
        "{rel}: {} of {} cut points brick the reference, as known",
        failures.len(),
        r.journal.cuts.len()
    );
}
