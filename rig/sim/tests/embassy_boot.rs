//! embassy-boot, the published crate (0.7.0), on the simulated board: the control run swaps
//! the new image in and marks it booted, an image that fails its health check is reverted, and
//! a sweep cuts every flash operation of the update (before, inside, after) on the nRF52840 and
//! the STM32L4 (ECC).
//!
//! The crate is third-party code: what the sweep finds in it is stated here as findings, each
//! class pinned down (where the cut lands and what the next boots do), so that a new class, or
//! a known one that disappears, fails the test.

use std::sync::Arc;

use cutpoint_sim::board::{CutAt, CutPlan, FaultKind, OpPoint, RunEnd, RunOptions, SimBoard};
use cutpoint_sim::flash::NorFlash;
use cutpoint_sim::replay::{Cursor, Recording};
use cutpoint_sim::scenario::Scenario;
use fut::scheme::embassy_boot::{self, decode_state, Magic, BOOT_MAGIC, REVERT_MAGIC};
use fut::Variant;

#[path = "support/ab.rs"]
mod ab;
use ab::{console, jumps};

fn scenario(board: &str) -> Scenario {
    ab::scenario(board, ab::mode("embassy-boot"), Variant::Reference)
}

fn state_bytes(s: &Scenario, flash: &NorFlash) -> Vec<u8> {
    let a = embassy_boot::state(&s.profile.layout);
    flash.raw()[a.offset as usize..a.end() as usize].to_vec()
}

fn magic(s: &Scenario, flash: &NorFlash) -> Magic {
    let l = s.profile.layout;
    let b = state_bytes(s, flash);
    decode_state(&b, l.write_size as usize, embassy_boot::pages(&l), b.len())
        .unwrap()
        .magic
}

#[test]
fn the_control_run_swaps_and_marks_the_new_image_booted() {
    for board in ["nrf52840", "stm32l4"] {
        let s = scenario(board);
        let mut b = s.board();
        let log = b.run(RunOptions::default());
        assert_eq!(log.end, RunEnd::Idle, "{board}");
        assert_eq!(jumps(&log), ["1.0.0+0", "2.0.0+0"], "{board}");
        let text = console(&log);
        let n = embassy_boot::pages(&s.profile.layout);
        for want in [
            format!("boot: embassy-state magic=swap progress=0/{} action=swap", 4 * n),
            "boot: embassy-prepared returned=swap".to_string(),
            "app: first-boot version=2.0.0+0 pending=confirm".to_string(),
            "app: confirm version=2.0.0+0".to_string(),
        ] {
            assert!(text.contains(&want.as_str()), "{board}: no `{want}` in {text:#?}");
        }
        let st = state_bytes(&s, &b.flash);
        let w = s.profile.layout.write_size as usize;
        assert!(
            st[..w].iter().all(|&x| x == BOOT_MAGIC),
            "{board}: mark_booted wrote the boot magic"
        );
        assert!(st[w..].iter().all(|&x| x == 0xff), "{board}: and erased the progress");
        // The DFU partition keeps the old image one page up: the swap's layout.
        let l = s.profile.layout;
        let page = l.sector_size as usize;
        let dfu = l.secondary.offset as usize + page;
        assert_eq!(
            &b.flash.raw()[dfu..dfu + s.old_image.len()],
            &s.old_image[..],
            "{board}"
        );
    }
}

#[test]
fn an_image_that_fails_its_health_check_is_reverted_and_refused() {
    for board in ["nrf52840", "stm32l4"] {
        let s = scenario(board).with_bad_update();
        let mut b = s.board();
        let log = b.run(RunOptions::default());
        assert_eq!(log.end, RunEnd::Idle, "{board}");
        assert_eq!(jumps(&log), ["1.0.0+0", "2.0.0+0", "1.0.0+0"], "{board}");
        let text = console(&log);
        assert!(text.iter().any(|l| l.ends_with("action=revert")), "{board}: {text:#?}");
        assert!(
            text.contains(&"ota: idle reason=rejected version=2.0.0+0"),
            "{board}: {text:#?}"
        );
        assert_eq!(magic(&s, &b.flash), Magic::Revert, "{board}");
    }
}

/// What one cut led to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Pass,
    /// The recovery passed, with the state reading `revert` under the new image.
    RevertUnderNewImage,
    Fail(String),
}

/// Sweeps every flash operation of a run of `s` at five points ([`ab::sweep_with`], where a
/// committed update must never be reverted); each failure is `(op index, op, point, why)`,
/// with the crate's error line when it said one; also counts the cuts that leave the revert
/// magic under the new image.
struct Sweep {
    cuts: usize,
    failures: Vec<(u64, String, OpPoint, String)>,
    revert_under_new: Vec<(u64, String, OpPoint)>,
}

fn sweep(s: &Scenario) -> Sweep {
    let new = s.new_version.to_string();
    let run = ab::sweep_with(
        s,
        |_| Vec::new(),
        |r, committed| {
            if let Some(what) = ab::judge(s, r, committed, true) {
                let said = r
                    .text
                    .iter()
                    .find(|l| l.contains("embassy-error") || l.contains("unreadable") || l.contains("ProgramRefused"))
                    .cloned()
                    .unwrap_or_default();
                return Outcome::Fail(format!("{what} [{said}]"));
            }
            let st = state_bytes(s, &r.flash);
            let w = s.profile.layout.write_size as usize;
            if st[..w].iter().all(|&x| x == REVERT_MAGIC) && r.booted.last() == Some(&new) {
                return Outcome::RevertUnderNewImage;
            }
            Outcome::Pass
        },
    );
    assert_eq!(run.control, None, "control run");
    let mut out = Sweep {
        cuts: run.cuts.len(),
        failures: Vec::new(),
        revert_under_new: Vec::new(),
    };
    for c in run.cuts {
        let ab::CutSite { index, op, point } = c.site;
        match c.verdict {
            Outcome::Pass => {}
            Outcome::RevertUnderNewImage => out.revert_under_new.push((index, op, point)),
            Outcome::Fail(why) => out.failures.push((index, op, point, why)),
        }
    }
    out
}

fn marker_addr(s: &Scenario) -> u32 {
    let l = s.profile.layout;
    embassy_boot::state(&l).offset + l.write_size
}

/// nRF52840 (no ECC, two writes per word). The predicted window of FIELD-BUGS is there: a cut
/// after `mark_booted` wrote the progress-valid marker and before its erase of the state
/// partition changed the magic leaves the swap magic over an invalid progress; the next
/// `prepare_boot` reverts with every step skipped and writes the revert magic under the new
/// image, which runs on. The one failure class: a cut inside that marker write that leaves a
/// weak bit in it. `prepare_boot` reads the marker again before every revert step, reads it
/// valid for some steps and invalid for others, copies some pages back and not others, and
/// the active partition ends holding no valid image: a brick.
#[test]
fn nrf52840_sweep_finds_the_mark_booted_window_and_nothing_else() {
    let s = scenario("nrf52840");
    let w = sweep(&s);
    assert!(w.cuts > 1_500, "{} cuts", w.cuts);
    let marker = format!("Program 0x{:x}+4", marker_addr(&s));
    assert!(
        w.revert_under_new
            .iter()
            .any(|(_, op, p)| *op == marker && *p == OpPoint::After),
        "the revert magic under the new image after the marker write: {:#?}",
        w.revert_under_new
    );
    for (i, op, point, why) in &w.failures {
        assert!(
            *op == marker && matches!(point, OpPoint::Inside { .. }) && why.starts_with("nothing booted"),
            "a failure outside the known class: op {i} {op} {point:?}: {why}"
        );
    }
    eprintln!(
        "nrf52840: {} cuts, {} failures (weak marker inside mark_booted), {} with the revert magic under the new image",
        w.cuts,
        w.failures.len(),
        w.revert_under_new.len()
    );
}

/// A failing update on the nRF52840: the revert is resumable at every cut.
#[test]
fn nrf52840_sweep_of_a_revert_passes() {
    let s = scenario("nrf52840").with_bad_update();
    let w = sweep(&s);
    assert!(w.cuts > 1_500, "{} cuts", w.cuts);
    assert!(w.failures.is_empty(), "{:#?}", &w.failures[..w.failures.len().min(8)]);
}

/// STM32L4 (ECC double-words). One failure class, in the state partition: a cut inside any
/// write of it (a progress word, the marker, a magic) or inside its erase tears an ECC granule;
/// the crate reads that word on the next boot, the read is an uncorrectable error (an NMI on
/// the part), `prepare_boot` fails on every boot (the chip HALs `expect` it): a brick, or an
/// application that fails in `mark_updated` at every boot.
///
/// A cut after `mark_booted` wrote the progress marker makes the next `prepare_boot` revert
/// and write the marker again over the written one. The marker is all zero, and RM0351 lets an
/// STM32L4 program all-zero data over a written double-word (the profile's `zero_overwrite`),
/// so that rewrite succeeds and is no failure here. On an ECC part that refuses every
/// reprogramming it is refused and the device fails: [`ecc_part_without_the_zero_rule_also_refuses_the_marker_rewrite`].
fn stm32l4_failures(s: &Scenario) -> (Sweep, usize, usize) {
    let w = sweep(s);
    assert!(w.cuts > 1_500, "{} cuts", w.cuts);
    let state = embassy_boot::state(&s.profile.layout);
    let mut torn = 0;
    let mut rewrite = 0;
    for (i, op, point, why) in &w.failures {
        let in_state = w_addr(op).is_some_and(|a| state.contains(a));
        if in_state && why.contains("Uncorrectable") || why.contains("unreadable") {
            torn += 1;
        } else if in_state && why.contains("ProgramRefused") {
            rewrite += 1;
        } else {
            panic!("a failure outside the known classes: op {i} {op} {point:?}: {why}");
        }
    }
    (w, torn, rewrite)
}

#[test]
fn stm32l4_sweep_finds_only_torn_state_words() {
    let s = scenario("stm32l4");
    assert!(s.profile.flash.zero_overwrite, "RM0351's rule is the part's");
    let (w, torn, rewrite) = stm32l4_failures(&s);
    assert!(torn > 0, "torn {torn}");
    assert_eq!(rewrite, 0, "the all-zero marker rewrite is accepted by an STM32L4");
    eprintln!(
        "stm32l4: {} cuts, {} failures: {torn} torn state words",
        w.cuts,
        w.failures.len()
    );
}

/// The same sweep on the STM32L4 geometry with the zero-overwrite rule taken away (an ECC part
/// that refuses every program over a written granule): the marker rewrite after `mark_booted`
/// is refused and the device fails. Kept to show the class is the rule's, not the crate's.
#[test]
fn ecc_part_without_the_zero_rule_also_refuses_the_marker_rewrite() {
    let mut s = scenario("stm32l4");
    s.profile.flash.zero_overwrite = false;
    let (w, torn, rewrite) = stm32l4_failures(&s);
    assert!(torn > 0 && rewrite > 0, "torn {torn}, rewrite {rewrite}");
    eprintln!(
        "stm32l4 without the zero rule: {} cuts, {} failures: {torn} torn state words, {rewrite} marker rewrites",
        w.cuts,
        w.failures.len()
    );
}

fn w_addr(op: &str) -> Option<u32> {
    let hex = op.split_whitespace().nth(1)?.strip_prefix("0x")?.split('+').next()?;
    u32::from_str_radix(hex, 16).ok()
}

/// The weak marker of the nRF52840 sweep, made to happen: a cut at 10 % of `mark_booted`'s
/// marker write, over many seeds. The model leaves a weak bit in a program cut early one time
/// in four; each such cut bricks the device (the revert copies some pages and skips others as
/// the marker reads valid or not), and every other one recovers on the old or the new image.
#[test]
fn nrf52840_a_weak_progress_marker_inside_mark_booted_bricks_the_device() {
    let s = scenario("nrf52840");
    let log = s.board().run(RunOptions {
        record_data: true,
        ..RunOptions::default()
    });
    let confirm = log
        .console
        .iter()
        .find(|l| l.text.starts_with("app: confirm"))
        .map(|l| l.t_us)
        .unwrap();
    let marker = marker_addr(&s);
    let index = log
        .ops
        .iter()
        .rev()
        .find(|o| o.addr == marker && o.end_us <= confirm)
        .map(|o| o.index)
        .expect("mark_booted writes the marker");
    let rec = Arc::new(Recording {
        baseline: s.baseline_flash(),
        log,
    });
    let mut cursor = Cursor::new(rec);
    let (mut bricked, mut weak) = (0, 0);
    for seed in 0..64u64 {
        let plan = CutPlan {
            at: CutAt::Op {
                index,
                point: OpPoint::Inside { ppm: 100_000 },
            },
            kind: FaultKind::PowerCut,
            seed,
        };
        let (flash, landing) = cursor.post_cut(&plan);
        let torn = landing.torn.as_ref().map(|t| t.to_string()).unwrap_or_default();
        let weak_bits = weak_bits(&torn);
        if weak_bits > 0 {
            weak += 1;
        }
        let mut board = SimBoard::new(flash, s.firmware(), Some(s.update()));
        let r = board.run(RunOptions::default());
        let booted = jumps(&r);
        if booted.is_empty() {
            bricked += 1;
            let text = console(&r);
            assert!(
                text.contains(&"boot: halt reason=no-bootable-image"),
                "seed {seed}: {text:#?}"
            );
            assert!(weak_bits > 0, "seed {seed}: a brick without a weak bit: {torn}");
        } else {
            assert_eq!(r.end, RunEnd::Idle, "seed {seed}");
        }
    }
    assert!(bricked > 0, "no weak marker bricked the device ({weak} weak of 64)");
    eprintln!("nrf52840: cut at 10 % of the marker write, 64 seeds: {weak} left a weak bit, {bricked} bricked");
}

/// `M` of the landing's `..., N bits changed, M weak bits`.
fn weak_bits(torn: &str) -> u32 {
    torn.split(", ")
        .find_map(|p| p.strip_suffix(" weak bits").or_else(|| p.strip_suffix(" weak bit")))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// FIELD-BUGS row 11 in a run without cuts. embassy-boot 0.1.1's `set_magic` programs zeros over
/// the written magic before it erases the state partition. On the STM32L4 that write is allowed
/// (RM0351: all-zero data over any programmed double-word), so 0.1.1 updates cleanly there. On an
/// ECC part that refuses every program over a written granule (the STM32L4 geometry with the
/// rule taken away) `mark_booted` is refused and the new image never marks itself booted, where
/// 0.7.0 updates cleanly. The cited part where it fails is the STM32U5, and only after a cut:
/// [`stm32u5_0_1_1_can_never_request_an_update_again_after_a_cut_in_its_magic_rewrite`].
#[test]
fn magic_rewrite_of_0_1_1_is_refused_only_on_a_part_without_the_zero_rule() {
    let run = |variant: Variant, zero_overwrite: bool| {
        let mut s = scenario("stm32l4");
        s.variant = variant;
        s.profile.flash.zero_overwrite = zero_overwrite;
        let log = s.board().run(RunOptions::default());
        let text: Vec<String> = log.console.iter().map(|l| l.text.clone()).collect();
        let booted = jumps(&log);
        (log.end, booted, text)
    };
    let old = Variant::EmbassyBootMagicRewrite;
    let (end, booted, text) = run(old, true);
    assert!(text.iter().any(|l| l.contains("crate=0.1.1")), "{text:#?}");
    assert_eq!(end, RunEnd::Idle, "0.1.1 on the STM32L4: {text:#?}");
    assert_eq!(booted, ["1.0.0+0", "2.0.0+0"], "{text:#?}");
    assert!(text.iter().any(|l| l == "app: confirm version=2.0.0+0"), "{text:#?}");

    let (end, booted, text) = run(old, false);
    assert!(
        text.iter().any(|l| l.contains("ProgramRefused")),
        "0.1.1 on a part that refuses the rewrite: {text:#?}"
    );
    eprintln!("0.1.1 on a part that refuses the rewrite: {end:?}, booted {booted:?}");
    assert!(
        end != RunEnd::Idle || booted.last().map(String::as_str) != Some("2.0.0+0"),
        "0.1.1 settled on its update on a part that refuses the rewrite: {end:?} {booted:?} {text:#?}"
    );
    let (end, booted, _) = run(Variant::Reference, false);
    assert_eq!(
        (end, booted.as_slice()),
        (RunEnd::Idle, &["1.0.0+0".to_string(), "2.0.0+0".to_string()][..])
    );
}

/// Where a failure of an STM32U5 sweep lands: the state partition's magic (word 0), its
/// progress-valid marker (word 1), or elsewhere.
fn u5_site(s: &Scenario, op: &str) -> &'static str {
    let state = embassy_boot::state(&s.profile.layout);
    match w_addr(op) {
        Some(a) if a == state.offset => "magic",
        Some(a) if a == marker_addr(s) => "marker",
        Some(a) if state.contains(a) => "state",
        _ => "elsewhere",
    }
}

/// The failure classes of an STM32U5 sweep (16-byte ECC quad-words; RM0456 refuses an all-zero
/// program over a quad-word already all zero): (torn state words, the zeros written again over
/// the zeroed magic, the all-zero marker written again over itself).
fn stm32u5_failures(s: &Scenario) -> (Sweep, usize, usize, usize) {
    let w = sweep(s);
    assert!(w.cuts > 500, "{} cuts", w.cuts);
    let (mut torn, mut magic, mut marker) = (0, 0, 0);
    let refused_at = |a: u32| format!("ProgramRefused {{ addr: {a} }}");
    let magic_refused = refused_at(embassy_boot::state(&s.profile.layout).offset);
    let marker_refused = refused_at(marker_addr(s));
    for (i, op, point, why) in &w.failures {
        let site = u5_site(s, op);
        let between = matches!(point, OpPoint::After) && op.starts_with("Program")
            || matches!(point, OpPoint::Before) && op.starts_with("Erase");
        if site != "elsewhere" && (why.contains("Uncorrectable") || why.contains("unreadable")) {
            torn += 1;
        } else if between && why.contains(&magic_refused) {
            magic += 1;
        } else if between && why.contains(&marker_refused) {
            marker += 1;
        } else {
            panic!("a failure outside the known classes: op {i} {op} {point:?}: {why}");
        }
    }
    (w, torn, magic, marker)
}

/// FIELD-BUGS row 11 on the STM32U5, where it bites (RM0456 Rev 6, §7.3.9: PROGERR over a
/// quad-word "already fully programmed to 0"). A cut after 0.1.1's `mark_updated` programmed
/// zeros over the magic and before its erase leaves the magic all zero; the old image boots and
/// asks for the update again, and 0.1.1 programs zeros over the zeroed magic: refused, at that
/// boot and every later one. 0.7.0, which reads the word before it writes (the crate's fix),
/// never fails there. The other failures are the two crates' shared torn state words, and
/// 0.7.0's own marker rewrite ([`stm32u5_0_7_0_bricks_when_its_all_zero_marker_is_written_again`]).
#[test]
fn stm32u5_0_1_1_can_never_request_an_update_again_after_a_cut_in_its_magic_rewrite() {
    let mut s = scenario("stm32u5");
    assert!(s.profile.flash.zero_over_zero_refused, "RM0456's rule is the part's");
    s.variant = Variant::EmbassyBootMagicRewrite;
    let log = s.board().run(RunOptions::default());
    assert!(console(&log).iter().any(|l| l.contains("crate=0.1.1")));
    let (w, torn, magic, marker) = stm32u5_failures(&s);
    assert!(magic > 0, "the zeroed magic rewrite is gone");
    assert_eq!(marker, 0, "0.1.1 has no progress-valid marker");
    assert!(torn > 0);
    eprintln!(
        "stm32u5, 0.1.1: {} cuts, {} failures: {magic} zeroed magic rewritten, {torn} torn state words",
        w.cuts,
        w.failures.len()
    );

    let mut reference = scenario("stm32u5");
    reference.variant = Variant::Reference;
    let (_, _, magic, _) = stm32u5_failures(&reference);
    assert_eq!(magic, 0, "0.7.0 never writes over its magic");
}

/// A finding in the published 0.7.0 on the STM32U5. `mark_booted` programs the all-zero
/// progress-valid marker and then erases the state partition; a cut between the two leaves the
/// swap magic over an invalid progress, and the next `prepare_boot` reverts (every step reads
/// done) and programs the all-zero marker again, over the all-zero marker, without reading it
/// first (boot_loader.rs, the revert branch of `prepare_boot`). The STM32U5 refuses that program
/// (RM0456 §7.3.9), `prepare_boot` fails at every boot: a brick. On the STM32L4 the same write
/// is accepted and the device runs the new image under the revert magic (the predicted window
/// of FIELD-BUGS); the nRF52840 allows two writes per word.
#[test]
fn stm32u5_0_7_0_bricks_when_its_all_zero_marker_is_written_again() {
    let s = scenario("stm32u5");
    let (w, torn, magic, marker) = stm32u5_failures(&s);
    assert_eq!(magic, 0);
    assert!(marker > 0, "the marker rewrite is gone");
    assert!(torn > 0);
    let marker_refused = format!("ProgramRefused {{ addr: {} }}", marker_addr(&s));
    for (_, op, point, why) in &w.failures {
        if why.contains("ProgramRefused") {
            assert!(why.contains(&marker_refused), "{op} {point:?}: {why}");
            assert!(why.starts_with("nothing booted"), "{why}");
        }
    }
    eprintln!(
        "stm32u5, 0.7.0: {} cuts, {} failures: {marker} marker rewrites refused (brick), {torn} torn state words",
        w.cuts,
        w.failures.len()
    );
}
