//! The pending-flag log A/B scheme on the simulated board: the control runs boot the new image
//! from the other slot, an unconfirmed image is reverted, a sweep cuts every flash operation
//! of the update (before, inside, after) on the nRF52840 and the STM32L4 (ECC: a torn word
//! reads as an uncorrectable error, which the bootloader takes as no word), a history of
//! earlier updates fills the log so the swept update compacts it into the other sector, and
//! the broken build that clears the pending flag before the boot target fails a cut
//! (FIELD-BUGS row 15).

use cutpoint_sim::board::{RunEnd, RunOptions};
use cutpoint_sim::flash::NorFlash;
use cutpoint_sim::scenario::Scenario;
use fut::hal::{Flash, FlashError};
use fut::layout::Slot;
use fut::scheme::pending_log::{self, Log, Target};
use fut::scheme::redundant::{STATE_CONFIRMED, STATE_REVERTED};
use fut::Variant;

#[path = "support/ab.rs"]
mod ab;
use ab::{console, from_secondary as from_b, jumps, sweep_no_revert as sweep};

fn scenario(board: &str, variant: Variant) -> Scenario {
    ab::scenario(board, ab::mode("pending-log"), variant)
}

/// A dump read through the firmware's flash trait (reads only).
struct Raw<'a>(&'a [u8]);

impl Flash for Raw<'_> {
    fn sector_size(&self) -> u32 {
        4096
    }
    fn write_size(&self) -> u32 {
        4
    }
    fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        let a = addr as usize;
        let b = self.0.get(a..a + buf.len()).ok_or(FlashError::OutOfBounds { addr })?;
        buf.copy_from_slice(b);
        Ok(())
    }
    fn write(&mut self, addr: u32, _: &[u8]) -> Result<(), FlashError> {
        Err(FlashError::ProgramRefused { addr })
    }
    fn erase(&mut self, addr: u32, _: u32) -> Result<(), FlashError> {
        Err(FlashError::ProgramRefused { addr })
    }
}

fn log(s: &Scenario, flash: &NorFlash) -> Log {
    pending_log::read_log(&mut Raw(flash.raw()), &s.profile.layout).unwrap()
}

#[test]
fn the_control_run_boots_the_new_image_from_the_other_slot() {
    for board in ["nrf52840", "stm32l4"] {
        let s = scenario(board, Variant::Reference);
        let mut b = s.board();
        let r = b.run(RunOptions::default());
        assert_eq!(r.end, RunEnd::Idle, "{board}");
        assert_eq!(jumps(&r), ["1.0.0+0", "2.0.0+0"], "{board}");
        let text = console(&r);
        for want in [
            "boot: pending-log-select record=0 slot=primary state=confirmed",
            "ota: pending-log-write sector=0 record=1 slot=secondary state=trial",
            "boot: pending-log-select record=1 slot=secondary state=trial",
            "boot: pending-log-write sector=0 record=2 slot=secondary state=trial-booted",
            "app: pending-log-write sector=0 record=3 slot=secondary state=confirmed",
        ] {
            assert!(text.contains(&want), "{board}: no `{want}` in {text:#?}");
        }
        let l = log(&s, &b.flash);
        assert_eq!((l.active, l.used, l.open), (Some(0), 4, None), "{board}");
        assert_eq!(
            l.boot_target(),
            Some(Target {
                slot: Slot::Secondary,
                state: STATE_CONFIRMED
            })
        );
        let p = s.profile.layout.primary;
        assert_eq!(
            &b.flash.raw()[p.offset as usize..p.offset as usize + s.old_image.len()],
            &s.old_image[..],
            "{board}: the old image is never touched"
        );
    }
}

#[test]
fn an_unconfirmed_image_is_reverted_and_refused() {
    let s = scenario("stm32l4", Variant::Reference).with_bad_update();
    let mut b = s.board();
    let r = b.run(RunOptions::default());
    assert_eq!(r.end, RunEnd::Idle);
    assert_eq!(jumps(&r), ["1.0.0+0", "2.0.0+0", "1.0.0+0"]);
    let text = console(&r);
    assert!(text.contains(&"boot: pending-log-revert slot=primary"), "{text:#?}");
    assert!(text.contains(&"ota: idle reason=rejected version=2.0.0+0"), "{text:#?}");
    let t = log(&s, &b.flash).boot_target().unwrap();
    assert_eq!((t.slot, t.state), (Slot::Primary, STATE_REVERTED));
}

/// A cut after a transaction's pending word, before its done word: the bootloader says the
/// transaction is open and boots the known-good slot, and the next transaction goes after it.
#[test]
fn an_open_transaction_falls_back_to_the_known_good_slot() {
    let s = from_b(scenario("nrf52840", Variant::Reference));
    let control = s.board().run(RunOptions {
        record_data: true,
        ..RunOptions::default()
    });
    let l = s.profile.layout;
    let ws = pending_log::word_size(l.write_size);
    // The request's target word: record 1 of sector 0, one word in.
    let target_at = pending_log::record_addr(&l, 0, 1) + ws;
    let index = control
        .ops
        .iter()
        .find(|o| o.addr == target_at)
        .map(|o| o.index)
        .expect("the request writes its target word");
    let mut b = s.board();
    let r = b.run(RunOptions {
        plan: Some(cutpoint_sim::board::CutPlan {
            at: cutpoint_sim::board::CutAt::Op {
                index,
                point: cutpoint_sim::board::OpPoint::After,
            },
            kind: cutpoint_sim::board::FaultKind::PowerCut,
            seed: 1,
        }),
        ..RunOptions::default()
    });
    assert_eq!(jumps(&r), ["1.0.0+0"]);
    let open = log(&s, &b.flash);
    assert_eq!(open.open.map(|(n, _)| n), Some(1), "{open:?}");
    let again = b.run(RunOptions::default());
    let text = console(&again);
    assert!(
        text.contains(&"boot: pending-log-open record=1 slot=primary state=trial fallback"),
        "{text:#?}"
    );
    assert!(
        text.contains(&"boot: pending-log-select record=0 slot=secondary state=confirmed"),
        "{text:#?}"
    );
    assert!(
        text.contains(&"ota: pending-log-write sector=0 record=2 slot=primary state=trial"),
        "{text:#?}"
    );
    assert_eq!(jumps(&again), ["1.0.0+0", "2.0.0+0"]);
}

#[test]
fn the_reference_survives_every_cut_on_both_profiles() {
    ab::assert_reference_survives_every_cut("pending-log", 50);
}

/// Earlier updates fill the active sector, so the swept update's transactions compact the log
/// into the other sector (erase, the carried target, the header) at some point: every cut of
/// that passes too.
#[test]
fn the_reference_survives_every_cut_of_a_compaction() {
    for board in ["nrf52840", "stm32l4"] {
        let l = cutpoint_sim::BoardProfile::builtin(board).unwrap().layout;
        let cap = pending_log::capacity(&l);
        // Each update appends 3 transactions; a sector holds `cap - 1` of them after the
        // record it starts with (the factory one, or the target carried over). The first even
        // history after which fewer than 3 records are free, so the swept update compacts.
        let n = (1..)
            .map(|k| 2 * k)
            .find(|&n| {
                let r = (3 * n) % (cap - 1);
                r == 0 || r > cap - 4
            })
            .unwrap();
        let s = scenario(board, Variant::Reference).with_prior_updates(n).unwrap();
        let before = log(&s, &s.baseline_flash());
        assert!(cap - before.used < 3, "{board}: {} of {cap} used", before.used);
        let mut b = s.board();
        let r = b.run(RunOptions::default());
        assert_eq!(jumps(&r), ["1.0.0+0", "2.0.0+0"], "{board}");
        assert!(
            console(&r).iter().any(|l| l.contains("pending-log-compact")),
            "{board}: {:#?}",
            console(&r)
        );
        let after = log(&s, &b.flash);
        assert_ne!(after.active, before.active, "{board}: the other sector is active");
        assert_eq!(after.boot_target().map(|t| t.slot), Some(Slot::Secondary));
        let (failures, cuts) = sweep(&s);
        assert!(failures.is_empty(), "{board}: {failures:#?}");
        println!("{board}: {n} earlier updates, {cuts} cuts across the compaction, all pass");
    }
}

/// FIELD-BUGS row 15: the broken build clears pending (the done word) before it writes the
/// target. From slot b with a failing update, a cut between the two boots slot a with no trial:
/// the failing update runs for good.
#[test]
fn pending_cleared_before_target_fails_a_cut_on_both_profiles() {
    for board in ["nrf52840", "stm32l4"] {
        let s = from_b(scenario(board, Variant::PendingClearedBeforeTarget).with_bad_update());
        let (failures, cuts) = sweep(&s);
        let cut_failures = failures.iter().filter(|f| f.starts_with("op ")).count();
        assert!(cut_failures > 0, "{board}: no cut failed of {cuts}");
        println!(
            "pending-cleared-before-target on {board}: {cut_failures} of {cuts} cuts fail, e.g. {}",
            failures[0]
        );
    }
}
