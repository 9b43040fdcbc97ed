//! The shipped redundant-copies campaigns on the simulated board: the reference passes every
//! cut point of each (nRF52840 and STM32L4, from either slot, through the generation's wrap
//! after 84 and 340 earlier updates), and the no-wrap build fails the campaign its reference
//! control passes, labelled expected.

#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::Expect;
use cutpoint_report::Status;
use sim_run::{assert_reference_passes, run, shipped};

#[test]
fn the_reference_passes_every_redundant_copies_campaign() {
    assert_reference_passes(
        &[
            "redundant-copies/smoke",
            "redundant-copies/exhaustive",
            "redundant-copies/exhaustive-stm32l4",
            "redundant-copies/revert",
            "redundant-copies/revert-stm32l4",
            "redundant-copies/double-cuts",
            "redundant-copies/double-cuts-stm32l4",
            "redundant-copies/wrap",
            "redundant-copies/wrap-stm32l4",
            "redundant-copies/wrap-341",
        ],
        15,
    );
}

/// The wrap campaigns really reach it: 84 (340) earlier updates leave generation 253 (1021,
/// stored as 253) in the winning copy, and the swept update confirms with generation 0.
#[test]
fn the_wrap_campaigns_reach_the_wrap_through_earlier_updates() {
    for (rel, prior) in [("redundant-copies/wrap", 84), ("redundant-copies/wrap-341", 340)] {
        let c = shipped(rel);
        assert_eq!(c.target.prior_updates, prior, "{rel}");
        let ran = run(&c);
        let control: Vec<&str> = ran
            .journal
            .control
            .as_ref()
            .unwrap()
            .console
            .iter()
            .map(|l| l.text.as_str())
            .collect();
        assert!(
            control
                .iter()
                .any(|l| l.starts_with("boot: redundant-select copy=0 gen=253 slot=primary")),
            "{rel}: {control:#?}"
        );
        assert!(
            control
                .iter()
                .any(|l| l.starts_with("app: redundant-write copy=1 gen=0 slot=secondary state=confirmed")),
            "{rel}: {control:#?}"
        );
    }
}

/// The no-wrap build passes its control run (the wrong copy is read only at the next boot)
/// and fails cut points of the campaign its reference control passes: the committed update
/// does not stick.
#[test]
fn the_no_wrap_build_fails_where_the_reference_passes() {
    for rel in ["known-bugs/redundant-generation-no-wrap", "redundant-copies/known-bugs"] {
        let c = shipped(rel);
        assert_eq!(c.pass.expect, Expect::Fail, "{rel}");
        let ran = run(&c);
        assert!(!ran.control_failed, "{rel}: {:?}", ran.control_reasons());
        assert!(ran.count(Status::Fail) > 0, "{rel}: no cut point failed");
        assert!(
            ran.failures().iter().any(|f| f.contains("1.0.0")),
            "{rel}: {:#?}",
            ran.failures()
        );
    }
}
