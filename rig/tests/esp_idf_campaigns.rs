//! The shipped esp-idf campaigns on the simulated board: the reference passes every cut point
//! of each (nRF52840 and STM32L4), and the negative control fails, labelled expected.

#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::Expect;
use cutpoint_report::Status;
use sim_run::{assert_reference_passes, run, shipped};

#[test]
fn the_reference_passes_every_esp_idf_campaign() {
    assert_reference_passes(
        &[
            "esp-idf/smoke",
            "esp-idf/exhaustive",
            "esp-idf/exhaustive-stm32l4",
            "esp-idf/revert",
            "esp-idf/double-cuts",
            "esp-idf/revert-from-ota-1",
            "esp-idf/revert-from-ota-1-stm32l4",
        ],
        15,
    );
}

/// The broken otadata builds fail the campaigns whose scenario the reference passes
/// (`esp-idf/revert-from-ota-1`): the running slot's entry rewritten after a fallback is caught
/// by cuts alone (its control run passes), the single-sector selection even without a cut.
#[test]
fn the_broken_otadata_builds_fail_where_the_reference_passes() {
    let rewritten = run(&shipped("known-bugs/otadata-running-rewritten"));
    assert!(!rewritten.control_failed, "{:?}", rewritten.control_reasons());
    assert!(rewritten.count(Status::Fail) > 0, "no cut point failed");
    assert!(
        rewritten.failures().iter().all(|f| f.contains("rewrite/")),
        "only cuts inside the rewrite fail: {:#?}",
        rewritten.failures()
    );
    let single = run(&shipped("known-bugs/otadata-single-sector"));
    assert!(single.control_failed);
    assert!(single.count(Status::Fail) > 0);
}

#[test]
fn the_esp_idf_negative_control_fails_as_expected() {
    let c = shipped("esp-idf/known-bugs");
    assert_eq!(c.pass.expect, Expect::Fail);
    let ran = run(&c);
    assert!(ran.control_failed, "the broken build fails even without a cut");
    assert!(ran.count(Status::Fail) > 0, "no cut point failed");
}
