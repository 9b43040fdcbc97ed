//! The shipped redundant-copies campaigns on the simulated board: the reference passes every
//! cut point of each (nRF52840 and STM32L4, from either slot, through the generation's wrap
//! after 84 and 340 earlier updates), and the no-wrap build fails the campaign its reference
//! control passes, labelled expected.

#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::Expect;
use cutpoint_report::Status;
use sim_run::{assert_reference_passes, run, shipped, shipped_with};

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

/// FIELD-BUGS row 17: record writes whose tail reads zeros (`fault = "zeroed-tail"`, the
/// storage's fault, injected by the simulated board whatever the scheme). The reference's CRC
/// over the whole record rejects a zeroed copy and the other copy wins: every cut passes, and
/// the cuts really left zeroed copies. The build that takes the newest generation without
/// checking the body boots the slot a zeroed body names, without a trial, and the failing
/// update is never reverted: it fails cut points of the same matrix, labelled expected.
#[test]
fn a_zeroed_record_tail_is_survived_by_the_reference_and_caught_in_the_body_unchecked_build() {
    let reference = shipped("redundant-copies/zeroed-tail");
    assert_eq!(reference.run.fault, cutpoint_campaign::FaultKind::ZeroedTail);
    let ran = run(&reference);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert_eq!(ran.failures(), Vec::<String>::new());
    assert!(ran.journal.cuts.len() >= 90, "{}", ran.journal.cuts.len());
    let zeroed = ran
        .journal
        .cuts
        .iter()
        .filter_map(|c| c.landing.as_ref()?.torn.as_deref())
        .filter(|t| t.contains("-> zeroed from"))
        .count();
    assert!(zeroed >= 40, "only {zeroed} cuts left a zeroed tail");

    let broken = shipped("known-bugs/redundant-body-unchecked");
    assert_eq!(broken.pass.expect, Expect::Fail);
    let ran = run(&broken);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    let failed = ran.count(Status::Fail);
    assert!(failed > 0, "no cut point failed");
    // Each failing cut left the slot and the state zeroed (1/3 of the copy's time: 5 or 6 of
    // its 16 bytes kept), and the failing update then runs for good.
    for c in ran.journal.cuts.iter().filter(|c| c.status == Status::Fail) {
        assert!(
            c.id.ends_with("inside-0.32") || c.id.ends_with("inside-0.38"),
            "{}: {:?}",
            c.id,
            c.reasons
        );
        assert!(
            c.final_image.as_deref().unwrap_or("2.0.0").starts_with("2.0.0"),
            "{}",
            c.id
        );
    }
    // The same matrix with the reference's reader passes: what fails is the unchecked body.
    let fixed = shipped_with("known-bugs/redundant-body-unchecked", |t| {
        t.replace("variant = \"redundant-body-unchecked\"", "variant = \"reference\"")
            .replace("expect = \"fail\"", "expect = \"pass\"")
    });
    let ran = run(&fixed);
    assert_eq!(ran.failures(), Vec::<String>::new());
}

/// Row 17 on the ECC part as well (issue 13: every broken variant fails on the nRF52840 and the
/// STM32L4): the matrix of `known-bugs/redundant-body-unchecked.toml` on the STM32L4 fails the
/// body-unchecked build, and the same matrix passes the reference there.
#[test]
fn the_body_unchecked_build_fails_on_the_stm32l4_where_the_reference_passes() {
    let on_l4 = |t: String| t.replace("board = \"nrf52840\"", "board = \"stm32l4\"");
    let broken = shipped_with("known-bugs/redundant-body-unchecked", on_l4);
    let cutpoint_campaign::TargetKind::Simulated { board, .. } = broken.target.kind else {
        panic!("not simulated")
    };
    assert_eq!(board.to_string(), "stm32l4");
    let ran = run(&broken);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert!(ran.count(Status::Fail) > 0, "no cut point failed on the stm32l4");
    let fixed = shipped_with("known-bugs/redundant-body-unchecked", |t| {
        on_l4(t)
            .replace("variant = \"redundant-body-unchecked\"", "variant = \"reference\"")
            .replace("expect = \"fail\"", "expect = \"pass\"")
    });
    let ran = run(&fixed);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert_eq!(ran.failures(), Vec::<String>::new());
}
