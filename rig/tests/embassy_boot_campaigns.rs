//! The shipped embassy-boot campaigns on the simulated board. The scheme runs the published
//! crate (0.7.0), third-party code: where a campaign finds failures in it they are findings of
//! the crate, stated here class by class (where the cut lands, what the device does), so that
//! a new class fails the test as surely as a lost one. The 0.1.1 negative control (FIELD-BUGS
//! row 11) is proven on the STM32U5, which refuses the write that is its bug (RM0456), and is
//! blind on the STM32L4, which accepts it (RM0351).

#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::{parse_campaign, Expect};
use cutpoint_report::Status;
use sim_run::{run, shipped_path, shipped_with, Ran};

fn shipped(rel: &str) -> cutpoint_campaign::Campaign {
    let path = shipped_path(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    parse_campaign(&text, &path).unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)))
}

/// The state partition on both boards: the map's scratch region at 448 KiB (two sectors).
fn in_state_partition(op: &str) -> bool {
    let Some(addr) = op
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.strip_prefix("0x"))
        .and_then(|a| a.split('+').next())
        .and_then(|a| u32::from_str_radix(a, 16).ok())
    else {
        return false;
    };
    (0x70000..0x72000).contains(&addr)
}

fn op(ran: &Ran, id: &str) -> String {
    let c = ran.journal.cuts.iter().find(|c| c.id == id).unwrap();
    c.landing.as_ref().and_then(|l| l.op.clone()).unwrap_or_default()
}

fn warned(ran: &Ran, what: &str) -> Vec<String> {
    ran.journal
        .cuts
        .iter()
        .filter(|c| c.warnings.iter().any(|w| w.contains(what)))
        .map(|c| c.id.clone())
        .collect()
}

#[test]
fn the_smoke_campaign_passes() {
    let c = shipped("embassy-boot/smoke");
    assert_eq!(c.pass.expect, Expect::Pass);
    let ran = run(&c);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert!(ran.journal.cuts.len() > 300, "{} cuts", ran.journal.cuts.len());
    assert!(ran.failures().is_empty(), "{:#?}", ran.failures());
}

/// nRF52840, every flash operation: the predicted window of FIELD-BUGS shows as a warning (the
/// revert magic under the running new image, after a cut between `mark_booted`'s progress
/// invalidation and its state erase), and the one failure class is a weak progress-valid
/// marker left by a cut inside that write, which bricks the device.
#[test]
fn the_nrf52840_exhaustive_campaign_finds_the_mark_booted_window() {
    let ran = run(&shipped("embassy-boot/exhaustive"));
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert!(ran.journal.cuts.len() > 1_500, "{} cuts", ran.journal.cuts.len());
    let window = warned(
        &ran,
        "embassy-boot state reads revert, but the active partition runs 2.0.0+0",
    );
    assert!(
        window
            .iter()
            .any(|id| id.starts_with("mark-booted/") && id.ends_with("-after")),
        "{window:#?}"
    );
    assert!(window.iter().all(|id| id.starts_with("mark-booted/")), "{window:#?}");
    let failing: Vec<_> = ran.journal.cuts.iter().filter(|c| c.status == Status::Fail).collect();
    assert!(
        !failing.is_empty(),
        "the weak marker no longer bricks: the finding is gone"
    );
    for c in failing {
        let op = op(&ran, &c.id);
        assert!(
            c.id.starts_with("mark-booted/")
                && c.id.contains("-inside-")
                && op.contains("program 0x70004+4")
                && c.reasons.iter().any(|r| r.starts_with("bricked")),
            "a failure outside the known class: {} ({op}): {:?}",
            c.id,
            c.reasons
        );
    }
}

/// STM32L4 (ECC), every flash operation: every failure is a cut in the state partition, a torn
/// double-word the crate reads back as an uncorrectable error, and the device then never
/// settles. The marker programmed again after a cut `mark_booted` is all zero, which the part
/// accepts over the written one (RM0351), so it is no failure.
#[test]
fn the_stm32l4_exhaustive_campaign_fails_only_on_the_state_partition() {
    let ran = run(&shipped("embassy-boot/exhaustive-stm32l4"));
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    let failing: Vec<_> = ran.journal.cuts.iter().filter(|c| c.status == Status::Fail).collect();
    assert!(failing.len() > 100, "{} failures", failing.len());
    for c in failing {
        let op = op(&ran, &c.id);
        let said = c.console.iter().any(|l| l.text.contains("embassy-state unreadable"));
        assert!(
            in_state_partition(&op) && said,
            "a failure outside the state partition: {} ({op}): {:?}",
            c.id,
            c.reasons
        );
    }
}

/// The revert of an image that fails its health check resumes at every cut; the one failure is
/// a torn revert magic left with a weak bit, which a later read may take for another state.
#[test]
fn the_revert_campaign_fails_only_on_a_weak_revert_magic() {
    let ran = run(&shipped("embassy-boot/revert"));
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert!(ran.journal.cuts.len() > 1_000, "{} cuts", ran.journal.cuts.len());
    for f in ran.failures() {
        assert!(
            f.contains("metadata left unstable: weak bit in embassy-boot state magic"),
            "{f}"
        );
    }
}

/// The 0.1.1 control (FIELD-BUGS row 11) on the STM32U5: a cut after 0.1.1's `mark_updated`
/// programmed zeros over the magic and before its erase leaves an all-zero magic, and every
/// later `mark_updated` programs zeros over it again, which the part refuses (RM0456 Rev 6,
/// §7.3.9: PROGERR over a quad-word "already fully programmed to 0"): the update can never be
/// requested again. Each failing cut says so on its console. The reference (0.7.0, same cuts,
/// `known-bugs/reference-embassy-boot-stm32u5`) passes every one.
#[test]
fn the_magic_rewrite_control_is_caught_on_the_stm32u5_where_the_reference_passes() {
    let variant_text = |rel: &str| std::fs::read_to_string(shipped_path(rel)).unwrap();
    for rel in ["embassy-boot/known-bugs", "known-bugs/embassy-boot-magic-rewrite"] {
        let c = shipped(rel);
        assert_eq!(c.pass.expect, Expect::Fail, "{rel}");
        assert!(
            matches!(&c.target.kind, cutpoint_campaign::TargetKind::Simulated { board, .. } if board.name() == "stm32u5"),
            "{rel}"
        );
        let ran = run(&c);
        let control = ran.journal.control.as_ref().unwrap();
        assert!(
            control.console.iter().any(|l| l.text.contains("crate=0.1.1")),
            "{rel}: the old crate did not run: {:#?}",
            control.console
        );
        assert!(!ran.control_failed, "{rel}: {:?}", ran.control_reasons());
        let failing: Vec<_> = ran.journal.cuts.iter().filter(|c| c.status == Status::Fail).collect();
        assert!(!failing.is_empty(), "{rel}: 0.1.1 is not caught on the STM32U5");
        for cut in &failing {
            let at = op(&ran, &cut.id);
            assert!(in_state_partition(&at), "{rel}: {}: {at}", cut.id);
            assert!(
                cut.console.iter().any(|l| l
                    .text
                    .starts_with("app: embassy-error mark_updated=Flash(ProgramRefused { addr: 458752 })")),
                "{rel}: {} failed for another reason: {:?} {:#?}",
                cut.id,
                cut.reasons,
                cut.console
            );
        }
        eprintln!("{rel}: {} of {} cuts fail", failing.len(), ran.journal.cuts.len());
    }
    // The reference control is the same campaign but for the build.
    let strip = |t: String| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("name") && !l.starts_with("description"))
            .map(|l| {
                l.replace("embassy-boot-magic-rewrite", "reference")
                    .replace("\"fail\"", "\"pass\"")
            })
            .collect()
    };
    assert_eq!(
        strip(variant_text("known-bugs/embassy-boot-magic-rewrite")),
        strip(variant_text("known-bugs/reference-embassy-boot-stm32u5"))
    );
    let ran = run(&shipped("known-bugs/reference-embassy-boot-stm32u5"));
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert!(ran.journal.cuts.len() >= 8, "{} cuts", ran.journal.cuts.len());
    assert_eq!(
        ran.failures(),
        Vec::<String>::new(),
        "the reference fails a cut of the control"
    );
}

/// The same control on the STM32L4 is blind, and must be reported so: its zeros over the written
/// magic are all-zero data, which the part accepts (RM0351, even over an all-zero double-word),
/// so 0.1.1 updates cleanly and passes every cut, as 0.7.0 does. The file says so and is in no
/// set of campaigns read as a proof.
#[test]
fn the_magic_rewrite_control_is_blind_on_the_stm32l4_as_is_the_reference() {
    let rel = "embassy-boot/magic-rewrite-blind-stm32l4";
    let text = std::fs::read_to_string(shipped_path(rel)).unwrap();
    assert!(
        text.starts_with("# BLIND: NOT A PROOF."),
        "{rel} must say it is blind first"
    );
    let c = shipped(rel);
    let ran = run(&c);
    assert!(!ran.control_failed, "{rel}: {:?}", ran.control_reasons());
    assert!(ran.journal.cuts.len() >= 16, "{rel}: {} cuts", ran.journal.cuts.len());
    assert_eq!(
        ran.count(Status::Fail),
        0,
        "{rel}: 0.1.1 fails a cut on the STM32L4; if 0.7.0 passes it, the control is proven \
         there and the campaign's comment and campaigns/README.md must say so: {:#?}",
        ran.failures()
    );
    let reference = shipped_with(rel, |t| {
        t.replace("variant = \"embassy-boot-magic-rewrite\"", "variant = \"reference\"")
            .replace("expect = \"fail\"", "expect = \"pass\"")
    });
    let ran = run(&reference);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert!(
        ran.failures().is_empty(),
        "the reference fails a cut of the control: {:#?}",
        ran.failures()
    );
}

/// Double cuts on the nRF52840: the failures are a device that settles on the new image and
/// reverts at the next plain reset (a weak swap magic read one way by the bootloader and the
/// other by the application), or a brick (torn progress words, a word programmed a third time).
#[test]
fn the_double_cuts_campaign_fails_only_in_the_known_classes() {
    let ran = run(&shipped("embassy-boot/double-cuts"));
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert!(ran.journal.cuts.len() > 20_000, "{} cuts", ran.journal.cuts.len());
    let failing: Vec<_> = ran.journal.cuts.iter().filter(|c| c.status == Status::Fail).collect();
    assert!(!failing.is_empty(), "the double-cut findings are gone");
    for c in failing {
        assert!(
            c.reasons.iter().all(|r| {
                r.starts_with("the update did not stick: the device settled on 2.0.0+0, then a plain reset")
                    || r.starts_with("bricked: nothing booted after the cut")
            }),
            "a failure outside the known classes: {}: {:?}",
            c.id,
            c.reasons
        );
    }
}

/// FIELD-BUGS row 12 against the published 0.1.1 (before the crate's commit 76659d900): its
/// updater lets the application erase the DFU partition, the revert copy, before
/// `mark_booted`, and a cut in that stretch leaves nothing to boot. The control run passes
/// (nothing interrupts it); the reference (0.7.0, which writes nothing there but `mark_booted`)
/// passes the same matrix, and so does 0.1.1 under an application that does not erase early:
/// what fails is the early erase the fix refuses.
#[test]
fn the_dfu_erased_before_booted_control_fails_where_the_reference_passes() {
    let c = shipped("known-bugs/embassy-boot-dfu-erased-before-booted");
    assert_eq!(c.pass.expect, Expect::Fail);
    let ran = run(&c);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    let failed = ran.count(Status::Fail);
    assert!(failed > 100, "{failed} of {} failed", ran.journal.cuts.len());
    for c in ran.journal.cuts.iter().filter(|c| c.status == Status::Fail) {
        assert!(
            c.reasons.iter().any(|r| r.contains("bricked")),
            "{}: {:?}",
            c.id,
            c.reasons
        );
    }
    let control = ran.journal.control.as_ref().unwrap();
    assert!(
        control
            .console
            .iter()
            .any(|l| l.text == "app: embassy-prepare-update booted=no"),
        "the 0.1.1 build erases the DFU partition before mark_booted"
    );

    let reference = shipped("embassy-boot/first-boot");
    let ran = run(&reference);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert_eq!(ran.failures(), Vec::<String>::new());
    assert!(ran.journal.cuts.len() >= 10);

    let old_without_early_erase = shipped_with("known-bugs/embassy-boot-dfu-erased-before-booted", |t| {
        t.replace(
            "variant = \"embassy-boot-dfu-erased-before-booted\"",
            "variant = \"embassy-boot-magic-rewrite\"",
        )
        .replace("expect = \"fail\"", "expect = \"pass\"")
    });
    let ran = run(&old_without_early_erase);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    // 0.1.1's own `mark_booted` (zeros over the magic, then the erase) can leave a weak magic
    // when cut inside its write, as 0.7.0's marker can (the exhaustive campaign's finding):
    // at most that one, in the state partition, never a cut of the DFU partition.
    let left = ran.failures();
    assert!(left.len() <= 1, "{left:#?}");
    for c in ran.journal.cuts.iter().filter(|c| c.status == Status::Fail) {
        let at = c.landing.as_ref().and_then(|l| l.op.clone()).unwrap_or_default();
        assert!(in_state_partition(&at), "{}: {at}", c.id);
    }
}

/// FIELD-BUGS row 12 on the STM32L4, cut between operations only: a cut inside 0.7.0's own
/// state-page erase in `mark_booted` bricks it on this part (another finding, of
/// `embassy-boot/exhaustive-stm32l4`), so the pair's matrix cuts before and after each
/// operation. The reference passes every cut; 0.1.1 under the application that erases the DFU
/// partition before `mark_booted` fails, each failure a brick.
#[test]
fn the_dfu_erased_before_booted_control_fails_on_the_stm32l4_where_the_reference_passes() {
    let reference = shipped("embassy-boot/first-boot-stm32l4");
    assert_eq!(reference.pass.expect, Expect::Pass);
    let ran = run(&reference);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert_eq!(ran.failures(), Vec::<String>::new());
    assert!(ran.journal.cuts.len() >= 8, "{} cuts", ran.journal.cuts.len());

    let c = shipped("known-bugs/embassy-boot-dfu-erased-before-booted-stm32l4");
    assert_eq!(c.pass.expect, Expect::Fail);
    assert_eq!(c.phases.len(), reference.phases.len(), "the same matrix");
    let ran = run(&c);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    let failed = ran.count(Status::Fail);
    assert!(failed > 100, "{failed} of {} failed", ran.journal.cuts.len());
    for c in ran.journal.cuts.iter().filter(|c| c.status == Status::Fail) {
        assert!(!c.id.contains("-inside-"), "{}", c.id);
        assert!(
            c.reasons.iter().any(|r| r.contains("bricked")),
            "{}: {:?}",
            c.id,
            c.reasons
        );
    }
}
