//! Swap-move and swap-offset dumps of the simulated board, cut part-way through a swap, decoded
//! with their schemes' decoders: the progress the records give agrees with the console of the
//! run that was cut, and swap-offset's waiting update is found one sector into the secondary.

use cutpoint_inspect::{decode_flash_for, render_text, Validity};
use cutpoint_sim::board::{CutAt, CutPlan, FaultKind, RunEnd};
use cutpoint_sim::imgtool::default_test_key;
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::{BoardProfile, RunOptions};
use fut::scheme::Mode;

fn scenario(mode: Mode) -> Scenario {
    let mut s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 64);
    s.mode = mode;
    s
}

fn key() -> fut::PublicKey {
    cutpoint_sim::imgtool::public_key(&default_test_key())
}

/// Cuts the run of `mode` at the `i`-th eighth of its swap; returns the decoded report and the
/// last progress line printed before the cut.
fn cut_in_swap(mode: Mode, i: u64) -> (cutpoint_inspect::FlashReport, Option<String>) {
    let log = scenario(mode).board().run(RunOptions::default());
    let t = |prefix: &str| log.console.iter().find(|l| l.text.starts_with(prefix)).unwrap().t_us;
    let (start, done) = (t("boot: swap-start"), t("boot: swap-done"));
    let at = start + (done - start) * i / 8;
    let mut board = scenario(mode).board();
    let cut = board.run(RunOptions {
        plan: Some(CutPlan {
            at: CutAt::Time { us: at },
            kind: FaultKind::PowerCut,
            seed: i,
        }),
        ..RunOptions::default()
    });
    assert_eq!(cut.end, RunEnd::Cut);
    let last = cut
        .console
        .iter()
        .rev()
        .find(|l| l.text.starts_with("boot: swap-progress") || l.text.starts_with("boot: move-progress"))
        .map(|l| l.text.clone());
    let l = scenario(mode).profile.layout;
    (
        decode_flash_for(mode.name(), board.flash.raw(), 0, &l, Some(&key())),
        last,
    )
}

#[test]
fn a_cut_swap_offset_decodes_to_the_sectors_swapped() {
    for i in 1..8 {
        let (r, last) = cut_in_swap(Mode::SWAP_OFFSET, i);
        assert_eq!(r.layout_error, None);
        let p = r.progress.as_ref().expect("progress");
        // The console's last region line is a lower bound: the cut may come after the record
        // of the next step and before its line.
        let printed: u32 = last
            .as_deref()
            .and_then(|l| l.split("region=").nth(1))
            .and_then(|s| s.split(' ').next())
            .map_or(0, |n| n.parse().unwrap());
        assert!(p.swapped == printed || p.swapped == printed + 1, "{p:?} vs {last:?}");
        assert_eq!(p.moved, 0);
        assert!(p.summary.starts_with("swap: "), "{}", p.summary);
        assert!(render_text(&r).contains("swap status: swap: "));
    }
}

#[test]
fn swap_offset_finds_the_waiting_update_one_sector_in() {
    // Cut as the swap starts: the update waits at the secondary's second sector.
    let log = scenario(Mode::SWAP_OFFSET).board().run(RunOptions::default());
    let at = log
        .console
        .iter()
        .find(|l| l.text.starts_with("ota: request-done"))
        .unwrap()
        .t_us;
    let mut board = scenario(Mode::SWAP_OFFSET).board();
    board.run(RunOptions {
        plan: Some(CutPlan {
            at: CutAt::Time { us: at },
            kind: FaultKind::PowerCut,
            seed: 3,
        }),
        ..RunOptions::default()
    });
    let l = scenario(Mode::SWAP_OFFSET).profile.layout;
    let r = decode_flash_for("swap-offset", board.flash.raw(), 0, &l, Some(&key()));
    let s = r.slot("secondary").unwrap();
    let img = s.image.as_ref().unwrap();
    assert_eq!(img.version(), Some("2.0.0+0"));
    assert_eq!(img.validity, Validity::Valid);
    // Swap-move's decoder looks for it at the start of the slot and finds nothing there.
    let m = decode_flash_for("swap-move", board.flash.raw(), 0, &l, Some(&key()));
    assert!(m.slot("secondary").unwrap().image.as_ref().unwrap().header.is_none());
}

#[test]
fn a_cut_swap_move_decodes_moves_then_swaps() {
    let mut seen = Vec::new();
    for i in 1..8 {
        let (r, _) = cut_in_swap(Mode::SWAP_MOVE, i);
        let p = r.progress.clone().expect("progress");
        assert!(p.swapped <= p.moved && p.regions == Some(17), "{p:?}");
        seen.push((p.moved, p.swapped));
    }
    seen.dedup();
    assert!(seen.len() >= 5, "{seen:?}");
    assert!(
        seen.iter().any(|(m, s)| *m < 17 && *s == 0),
        "a cut in the move stage: {seen:?}"
    );
    assert!(
        seen.iter().any(|(m, s)| *m == 17 && *s > 0),
        "a cut in the swap stage: {seen:?}"
    );
}
