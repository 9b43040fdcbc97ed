//! The shipped atomic-word campaigns on the simulated board: the reference passes every cut
//! point on the STM32L4 profile, which rewrites the boot word atomically, and on the nRF52840
//! profile, which tears it (a torn or erased word reads as no word, and the bootloader starts
//! from the valid image of the lower version); a build relying on the word being atomic is
//! caught on the nRF52840. `cutpoint inspect --scheme atomic-word` reads the word from a dump.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::{parse_campaign, Expect};
use cutpoint_report::Status;
use sim_run::{run, shipped_path};

fn shipped(rel: &str) -> cutpoint_campaign::Campaign {
    let path = shipped_path(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    parse_campaign(&text, &path).unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)))
}

#[test]
fn the_reference_passes_where_the_part_rewrites_the_word_atomically() {
    for rel in [
        "atomic-word/smoke",
        "atomic-word/revert-from-b-stm32l4",
        "atomic-word/smoke-nrf52840",
    ] {
        let c = shipped(rel);
        assert_eq!(c.pass.expect, Expect::Pass, "{rel}");
        let ran = run(&c);
        assert!(!ran.control_failed, "{rel}: {:?}", ran.control_reasons());
        assert!(ran.journal.cuts.len() >= 15, "{rel}: {} cuts", ran.journal.cuts.len());
        assert!(ran.failures().is_empty(), "{rel}: {:#?}", ran.failures());
    }
}

/// On the part that tears the word, a failing update from slot b: a cut after the erase of a
/// rewrite leaves no word, and the bootloader goes back to the lower version (slot b, the
/// image that ran before the update) instead of booting the failing update in slot a with no
/// trial (which never settled: 23 of these 30 cuts failed while the bootloader started from
/// slot a). The cuts that left no word are there, and each of them booted 1.0.0 from slot b.
#[test]
fn without_the_flag_a_cut_word_goes_back_to_the_image_that_ran_before() {
    let rel = "atomic-word/revert-from-b-nrf52840";
    let c = shipped(rel);
    assert_eq!(c.pass.expect, Expect::Pass, "{rel}");
    let atomic = shipped("atomic-word/revert-from-b-stm32l4");
    assert_eq!(atomic.phases.len(), c.phases.len(), "the same matrix on another part");
    let ran = run(&c);
    assert!(!ran.control_failed, "{rel}: {:?}", ran.control_reasons());
    assert_eq!(ran.journal.cuts.len(), 30, "{rel}");
    assert!(ran.failures().is_empty(), "{rel}: {:#?}", ran.failures());
    let no_word: Vec<_> = ran
        .journal
        .cuts
        .iter()
        .filter(|c| {
            c.booted_slot
                .as_ref()
                .is_some_and(|b| b.record.contains("nothing selects"))
        })
        .collect();
    assert!(no_word.len() >= 5, "{rel}: {} cuts left no word", no_word.len());
    for c in no_word {
        let b = c.booted_slot.as_ref().unwrap();
        assert_eq!(b.slot.as_deref(), Some("secondary"), "{}: {}", c.id, b.record);
        assert_eq!(c.first_boot.as_deref(), Some("1.0.0+0"), "{}: {:?}", c.id, c.reasons);
    }
}

/// Double cuts on the word's rewrites (request, trial booted, confirmation, then every
/// rewrite of the recovery's bootloader): the reference passes every chain on both parts, and
/// the chains really reach a second cut.
#[test]
fn the_reference_passes_double_cuts_on_the_boot_word_rewrites() {
    for rel in ["atomic-word/double-cuts", "atomic-word/double-cuts-nrf52840"] {
        let c = shipped(rel);
        assert_eq!(c.pass.expect, Expect::Pass, "{rel}");
        let ran = run(&c);
        assert!(!ran.control_failed, "{rel}: {:?}", ran.control_reasons());
        assert!(ran.failures().is_empty(), "{rel}: {:#?}", ran.failures());
        let chains = ran.journal.cuts.iter().filter(|c| !c.later_landings.is_empty()).count();
        assert!(chains >= 40, "{rel}: {chains} chains reached a second cut");
    }
}

/// A build that relies on the word being atomic (check bytes unread, no fallback) passes where
/// the part's profile makes it atomic and fails, labelled expected, where the part tears it,
/// on a matrix the reference passes on that part: what fails is the reliance.
#[test]
fn the_build_relying_on_an_atomic_word_passes_on_stm32l4_and_is_caught_on_nrf52840() {
    let atomic = shipped("atomic-word/unchecked-stm32l4");
    assert_eq!(atomic.pass.expect, Expect::Pass);
    let ran = run(&atomic);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert!(ran.failures().is_empty(), "{:#?}", ran.failures());
    assert!(ran.journal.cuts.len() >= 20);

    let torn = shipped("known-bugs/atomic-word-unchecked");
    assert_eq!(torn.pass.expect, Expect::Fail);
    assert_eq!(torn.phases.len(), atomic.phases.len(), "the same matrix");
    let ran = run(&torn);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    let failed = ran.count(Status::Fail);
    assert!(failed > 0, "no cut point failed");
    // Every failing cut landed inside a rewrite of the word (its erase or its program).
    for c in ran.journal.cuts.iter().filter(|c| c.status == Status::Fail) {
        assert!(c.id.contains("-inside-"), "{}: {:?}", c.id, c.reasons);
    }
}

#[test]
fn inspect_reads_the_boot_word() {
    use cutpoint_sim::board::RunOptions;
    use cutpoint_sim::scenario::Scenario;
    use cutpoint_sim::BoardProfile;
    let profile = BoardProfile::builtin("stm32l4").unwrap();
    let l = profile.layout;
    let mut s = Scenario::new(profile, 16);
    s.mode = fut::Registry::builtin().find("atomic-word").unwrap();
    let mut board = s.board();
    board.run(RunOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join(format!("flash-0x{:x}.bin", l.primary.offset));
    std::fs::write(
        &f,
        &board.flash.raw()[l.primary.offset as usize..l.scratch.end() as usize],
    )
    .unwrap();
    let (code, stdout, stderr) = cli::cutpoint(&[
        "inspect",
        "--scheme",
        "atomic-word",
        "--board",
        "stm32l4",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "boot word at {:#x}: 0101fefe00000000 (valid, secondary slot, confirmed)",
            l.scratch.offset
        )),
        "{stdout}"
    );
    assert!(stdout.contains("boot word boot: secondary slot"), "{stdout}");
    // A torn word (one bit of its complement still erased) reads as no word: the valid image
    // of the lower version, 1.0.0 in the primary.
    let mut raw = board.flash.raw()[l.primary.offset as usize..l.scratch.end() as usize].to_vec();
    raw[(l.scratch.offset - l.primary.offset) as usize + 2] |= 0x01;
    std::fs::write(&f, &raw).unwrap();
    let (_, stdout, _) = cli::cutpoint(&[
        "inspect",
        "--scheme",
        "atomic-word",
        "--board",
        "stm32l4",
        f.to_str().unwrap(),
    ]);
    assert!(stdout.contains("(invalid)"), "{stdout}");
    assert!(stdout.contains("boot word boot: primary slot"), "{stdout}");
}

/// FIELD-BUGS row 17 on the boot word (`fault = "zeroed-tail"`). On the nRF52840 (the word an
/// erase and a program) a good update a -> b: a zeroed word fails its check bytes and reads as
/// no word, slot a still holds a valid image, and every cut passes. On the STM32L4 the part
/// programs the word whole (the profile's atomic flag): a failing update from slot b whose word
/// writes all land on a boundary, the old word or the new, never a zeroed one.
#[test]
fn a_zeroed_boot_word_tail_is_survived_or_cannot_happen() {
    for (rel, cuts, zeroed_at_least) in [
        ("atomic-word/zeroed-tail", 90, 40),
        ("atomic-word/zeroed-tail-stm32l4", 45, 0),
    ] {
        let c = shipped(rel);
        assert_eq!(c.run.fault, cutpoint_campaign::FaultKind::ZeroedTail, "{rel}");
        assert_eq!(c.pass.expect, Expect::Pass, "{rel}");
        let ran = run(&c);
        assert!(!ran.control_failed, "{rel}: {:?}", ran.control_reasons());
        assert_eq!(ran.failures(), Vec::<String>::new(), "{rel}");
        assert_eq!(ran.journal.cuts.len(), cuts, "{rel}");
        let torn: Vec<&str> = ran
            .journal
            .cuts
            .iter()
            .filter_map(|c| c.landing.as_ref()?.torn.as_deref())
            .collect();
        let zeroed = torn.iter().filter(|t| t.contains("-> zeroed from")).count();
        if zeroed_at_least == 0 {
            assert!(
                torn.iter().all(|t| t.contains("-> boundary")),
                "{rel}: a word write that did not land whole: {torn:#?}"
            );
        } else {
            assert!(
                zeroed >= zeroed_at_least,
                "{rel}: only {zeroed} cuts left a zeroed tail"
            );
        }
    }
}
