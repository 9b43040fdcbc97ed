use cutpoint_sim::board::{BootResult, RunEnd, RunOptions};
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::BoardProfile;

fn last_jump(log: &cutpoint_sim::RunLog) -> Option<String> {
    log.boots.iter().rev().find_map(|b| match &b.result {
        BootResult::Jump { version, .. } => Some(version.clone()),
        _ => None,
    })
}

#[test]
fn unfaulted_update_installs_and_confirms_on_every_profile() {
    for name in BoardProfile::builtin_names() {
        let profile = BoardProfile::builtin(name).unwrap();
        let s = Scenario::new(profile, 96);
        let mut board = s.board();
        let log = board.run(RunOptions::default());
        let text: Vec<_> = log.console.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(log.end, RunEnd::Idle, "{name}: {text:#?}");
        assert_eq!(last_jump(&log).as_deref(), Some("2.0.0+0"), "{name}");
        assert!(
            text.iter().any(|l| l.starts_with("app: confirm version=2.0.0")),
            "{name}: {text:#?}"
        );
        assert!(
            text.iter().any(|l| l.starts_with("boot: swap-done type=test")),
            "{name}"
        );
    }
}

#[test]
fn bad_update_is_reverted() {
    let s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 64).with_bad_update();
    let log = s.board().run(RunOptions::default());
    let text: Vec<_> = log.console.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(log.end, RunEnd::Idle, "{text:#?}");
    assert_eq!(last_jump(&log).as_deref(), Some("1.0.0+0"));
    assert!(
        text.iter().any(|l| l.starts_with("boot: swap-done type=revert")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|l| l.starts_with("ota: idle reason=rejected")),
        "{text:#?}"
    );
}

/// The console grammar the rig reads (firmware-under-test/README.md): the events of an
/// unfaulted test update, in order, with the clock moving forward.
#[test]
fn the_console_follows_the_documented_grammar() {
    let s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 96);
    let log = s.board().run(RunOptions::default());
    let expected = [
        "boot: start",
        "boot: jump version=1.0.0+0",
        "app: banner version=1.0.0+0",
        "app: health ok",
        "ota: download-start version=2.0.0+0",
        "ota: download-done",
        "ota: verify-start",
        "ota: verify-ok",
        "ota: request-start type=test",
        "ota: request-done type=test",
        "ota: reboot",
        "boot: integrity slot=secondary ok",
        "boot: swap-start type=test",
        "boot: swap-progress type=test region=1",
        "boot: swap-done type=test",
        "boot: jump version=2.0.0+0",
        "app: first-boot version=2.0.0+0 pending=confirm",
        "app: confirm version=2.0.0+0",
        "ota: idle reason=up-to-date",
    ];
    let mut at = 0;
    for want in expected {
        let found = log.console[at..].iter().position(|l| l.text.starts_with(want));
        let Some(i) = found else {
            panic!(
                "`{want}` missing after line {at}: {:#?}",
                &log.console[at.saturating_sub(3)..]
            );
        };
        at += i + 1;
    }
    assert!(
        log.console.windows(2).all(|w| w[0].t_us <= w[1].t_us),
        "timestamps never go back"
    );
    assert!(
        log.ops.len() > 100 && log.duration_us > 1_000_000,
        "{} ops in {} us",
        log.ops.len(),
        log.duration_us
    );
}
