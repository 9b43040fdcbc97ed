//! The redundant-copies A/B scheme on the simulated board: the control run boots the new image
//! from the other slot, an unconfirmed image is reverted, a sweep cuts every flash operation of
//! the update (before, inside, after) on both profiles, and a baseline made of hundreds of
//! earlier updates takes the 8-bit generation through its wrap, where the broken build reverts
//! a committed update and the reference does not.

use cutpoint_sim::board::{RunEnd, RunOptions};
use cutpoint_sim::flash::NorFlash;
use cutpoint_sim::scenario::Scenario;
use fut::scheme::redundant::{self, RecordCopy, COPY_SIZE, STATE_CONFIRMED, STATE_REVERTED};
use fut::Variant;

#[path = "support/ab.rs"]
mod ab;
use ab::{console, jumps, sweep_no_revert as sweep};

fn scenario(board: &str, variant: Variant) -> Scenario {
    ab::scenario(board, ab::mode("redundant-copies"), variant)
}

fn copies(s: &Scenario, flash: &NorFlash) -> [RecordCopy; 2] {
    let l = s.profile.layout;
    [0, 1].map(|i| {
        let at = redundant::copy_sector(&l, i).offset as usize;
        let b: [u8; COPY_SIZE] = flash.raw()[at..at + COPY_SIZE].try_into().unwrap();
        RecordCopy::parse(&b)
    })
}

#[test]
fn the_control_run_boots_the_new_image_from_the_other_slot() {
    for board in ["nrf52840", "stm32l4"] {
        let s = scenario(board, Variant::Reference);
        let mut b = s.board();
        let log = b.run(RunOptions::default());
        assert_eq!(log.end, RunEnd::Idle, "{board}");
        assert_eq!(jumps(&log), ["1.0.0+0", "2.0.0+0"], "{board}");
        let text = console(&log);
        for want in [
            "boot: redundant-select copy=0 gen=1 slot=primary state=confirmed",
            "ota: redundant-write copy=1 gen=2 slot=secondary state=trial",
            "boot: redundant-select copy=1 gen=2 slot=secondary state=trial",
            "boot: redundant-write copy=0 gen=3 slot=secondary state=trial-booted",
            "app: redundant-write copy=1 gen=4 slot=secondary state=confirmed",
        ] {
            assert!(text.contains(&want), "{board}: no `{want}` in {text:#?}");
        }
        let c = copies(&s, &b.flash);
        assert_eq!((c[1].generation, c[1].slot, c[1].state), (4, 1, STATE_CONFIRMED));
        assert!(c[0].valid() && c[1].valid());
        let p = s.profile.layout.primary;
        assert_eq!(
            &b.flash.raw()[p.offset as usize..p.offset as usize + s.old_image.len()],
            &s.old_image[..],
            "the old image is never touched"
        );
    }
}

#[test]
fn an_unconfirmed_image_is_reverted_and_refused() {
    let s = scenario("nrf52840", Variant::Reference).with_bad_update();
    let mut b = s.board();
    let log = b.run(RunOptions::default());
    assert_eq!(log.end, RunEnd::Idle);
    assert_eq!(jumps(&log), ["1.0.0+0", "2.0.0+0", "1.0.0+0"]);
    let text = console(&log);
    assert!(text.contains(&"boot: redundant-revert slot=primary"), "{text:#?}");
    assert!(text.contains(&"ota: idle reason=rejected version=2.0.0+0"), "{text:#?}");
    let c = copies(&s, &b.flash);
    let w = redundant::winner(&c, Variant::Reference).unwrap();
    assert_eq!((c[w].slot, c[w].state), (0, STATE_REVERTED));
}

#[test]
fn the_reference_survives_every_cut_on_both_profiles() {
    ab::assert_reference_survives_every_cut("redundant-copies", 100);
}

/// After the factory record (generation 1), update k writes generations 3k - 1 (request),
/// 3k (trial booted) and 3k + 1 (confirm). With 84 earlier updates, the swept 85th confirms
/// with generation 256, which the 8-bit counter stores as 0 beside 255.
#[test]
fn earlier_updates_take_the_generation_to_the_wrap() {
    let s = scenario("nrf52840", Variant::Reference).with_prior_updates(84).unwrap();
    let c = copies(&s, &s.baseline_flash());
    let w = redundant::winner(&c, Variant::Reference).unwrap();
    assert_eq!(c[w].generation, 253, "1 + 3 * 84 = 253");
    assert_eq!((c[w].slot, c[w].state), (0, STATE_CONFIRMED), "1.0.0 runs from slot a");
    let mut b = s.board();
    let log = b.run(RunOptions::default());
    assert_eq!(jumps(&log), ["1.0.0+0", "2.0.0+0"]);
    let text = console(&log);
    assert!(
        text.contains(&"app: redundant-write copy=1 gen=0 slot=secondary state=confirmed"),
        "{text:#?}"
    );
    // The reference reads the wrapped copy as the newer one on the next power-on.
    let again = b.run(RunOptions::default());
    assert_eq!(jumps(&again), ["2.0.0+0"]);
    assert!(console(&again).contains(&"boot: redundant-select copy=1 gen=0 slot=secondary state=confirmed"));
}

#[test]
fn an_odd_or_failing_history_is_refused() {
    let e = scenario("nrf52840", Variant::Reference)
        .with_prior_updates(3)
        .unwrap_err();
    assert!(e.contains("odd"), "{e}");
    let e = scenario("nrf52840", Variant::Reference)
        .with_bad_update()
        .with_prior_updates(2)
        .unwrap_err();
    assert!(e.contains("health"), "{e}");
    // The broken build cannot live through the wrap: its history breaks down after it.
    let e = scenario("nrf52840", Variant::RedundantGenerationNoWrap)
        .with_prior_updates(88)
        .unwrap_err();
    assert!(e.starts_with("prior update 8"), "{e}");
}

#[test]
fn the_reference_survives_every_cut_across_the_wrap_and_the_broken_build_does_not() {
    for board in ["nrf52840", "stm32l4"] {
        let s = scenario(board, Variant::Reference).with_prior_updates(84).unwrap();
        let (failures, cuts) = sweep(&s);
        assert!(cuts >= 30, "{board}: {cuts} cuts");
        assert!(failures.is_empty(), "{board}: {failures:#?}");
        let s = scenario(board, Variant::RedundantGenerationNoWrap)
            .with_prior_updates(84)
            .unwrap();
        let (failures, _) = sweep(&s);
        let cut_failures = failures.iter().filter(|f| f.starts_with("op ")).count();
        assert!(cut_failures > 0, "{board}: no cut failed: {failures:#?}");
        println!("no-wrap on {board}: {} failures, e.g. {}", failures.len(), failures[0]);
        // Far from the wrap the broken build is as good as the reference: what fails is the wrap.
        let (failures, _) = sweep(&scenario(board, Variant::RedundantGenerationNoWrap));
        assert!(failures.is_empty(), "{board}, no history: {failures:#?}");
    }
}
