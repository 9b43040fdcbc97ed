//! The shipped pending-log campaigns on the simulated board: the reference passes every cut
//! point of each (nRF52840 and STM32L4, a good update, a failing one reverted from slot b,
//! double cuts, and a log compacted into its other sector after earlier updates); the broken
//! build that clears the pending flag before the boot target (FIELD-BUGS row 15) fails the
//! campaign the reference passes, labelled expected; `cutpoint inspect --mode pending-log` says
//! the log's state, the slot the bootloader picks and whether a transaction is open.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/sim_run.rs"]
mod sim_run;

use cutpoint_campaign::Expect;
use cutpoint_report::Status;
use sim_run::{assert_reference_passes, run, shipped, shipped_with};

#[test]
fn the_reference_passes_every_pending_log_campaign() {
    assert_reference_passes(
        &[
            "pending-log/smoke",
            "pending-log/exhaustive",
            "pending-log/double-cuts",
            "pending-log/double-cuts-stm32l4",
            "pending-log/revert-from-b",
            "pending-log/compaction-stm32l4",
            "pending-log/compaction-nrf52840",
        ],
        40,
    );
}

/// The compaction campaigns reach it: the control run's transactions move the log into the
/// other sector.
#[test]
fn the_compaction_campaigns_compact_the_log() {
    for (rel, line) in [
        (
            "pending-log/compaction-stm32l4",
            "ota: pending-log-compact sector=1 gen=2",
        ),
        (
            "pending-log/compaction-nrf52840",
            "app: pending-log-compact sector=0 gen=3",
        ),
    ] {
        let ran = run(&shipped(rel));
        let control = ran.journal.control.as_ref().unwrap();
        assert!(
            control.console.iter().any(|l| l.text == line),
            "{rel}: no `{line}` in {:#?}",
            control.console.iter().map(|l| l.text.as_str()).collect::<Vec<_>>()
        );
    }
}

/// FIELD-BUGS row 15: the build that clears pending before it writes the target fails cut
/// points of the campaign whose reference control (`revert-from-b`, the same cuts) passes, and
/// only by not settling on the old image: the failing update in slot a boots with no trial.
#[test]
fn pending_cleared_before_target_fails_where_the_reference_passes() {
    for rel in ["known-bugs/pending-cleared-before-target", "pending-log/known-bugs"] {
        let c = shipped(rel);
        assert_eq!(c.pass.expect, Expect::Fail, "{rel}");
        assert!(c.description.starts_with("EXPECTED FAILURE"), "{rel}");
        let ran = run(&c);
        assert!(!ran.control_failed, "{rel}: {:?}", ran.control_reasons());
        assert!(ran.count(Status::Fail) > 0, "{rel}: no cut point failed");
        assert!(
            ran.failures().iter().all(|f| f.contains("did not settle")),
            "{rel}: {:#?}",
            ran.failures()
        );
    }
    // The same file with the reference build passes every cut.
    let c = shipped_with("pending-log/known-bugs", |t| {
        t.replace("variant = \"pending-cleared-before-target\"", "variant = \"reference\"")
            .replace("expect = \"fail\"", "expect = \"pass\"")
    });
    let ran = run(&c);
    assert!(!ran.control_failed);
    assert_eq!(ran.count(Status::Fail), 0, "{:#?}", ran.failures());
}

#[test]
fn inspect_says_the_log_state_the_boot_slot_and_an_open_transaction() {
    use cutpoint_sim::board::{CutAt, CutPlan, FaultKind, OpPoint, RunOptions};
    use cutpoint_sim::scenario::Scenario;
    use cutpoint_sim::BoardProfile;
    use fut::scheme::pending_log::{record_addr, word_size};
    let profile = BoardProfile::builtin("stm32l4").unwrap();
    let l = profile.layout;
    let mut s = Scenario::new(profile, 16);
    s.mode = fut::Registry::builtin().find("pending-log").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join(format!("flash-0x{:x}.bin", l.primary.offset));
    let inspect = |raw: &[u8]| {
        std::fs::write(&f, &raw[l.primary.offset as usize..l.scratch.end() as usize]).unwrap();
        let (code, stdout, stderr) = cli::cutpoint(&[
            "inspect",
            "--mode",
            "pending-log",
            "--board",
            "stm32l4",
            f.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        stdout
    };
    let mut board = s.board();
    board.run(RunOptions::default());
    let out = inspect(board.flash.raw());
    for want in [
        format!(
            "pending-log sector 0 at {:#x}: header valid gen=1 (active)",
            l.scratch.offset
        ),
        "pending-log records: 4 of 85 used".to_string(),
        "pending-log state: ok (record 3: slot=secondary state=confirmed)".to_string(),
        "pending-log transaction: none open".to_string(),
        "pending-log boot: secondary slot".to_string(),
    ] {
        assert!(out.contains(&want), "no `{want}` in:\n{out}");
    }
    // Cut after the request's target word, before its done word: the transaction is open and
    // the bootloader stays on the known-good slot.
    let ws = word_size(l.write_size);
    let target_word = record_addr(&l, 0, 1) + ws;
    let control = s.board().run(RunOptions::default());
    let index = control
        .ops
        .iter()
        .find(|o| o.addr == target_word)
        .map(|o| o.index)
        .unwrap();
    let mut board = s.board();
    board.run(RunOptions {
        plan: Some(CutPlan {
            at: CutAt::Op {
                index,
                point: OpPoint::After,
            },
            kind: FaultKind::PowerCut,
            seed: 3,
        }),
        ..RunOptions::default()
    });
    let out = inspect(board.flash.raw());
    for want in [
        "pending-log state: open (record 0: slot=primary state=confirmed)",
        "pending-log transaction: open at record 1 (slot=secondary state=trial): the bootloader falls back to the last completed target",
        "pending-log boot: primary slot",
    ] {
        assert!(out.contains(want), "no `{want}` in:\n{out}");
    }
}
