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
        let s = Scenario::new(BoardProfile::builtin(name).unwrap(), 96);
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

#[test]
fn print_console_of_a_run() {
    let s = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 96);
    let log = s.board().run(RunOptions::default());
    for l in &log.console {
        if !l.text.contains("progress") {
            println!("{:>10} {}", l.t_us, l.text);
        }
    }
    println!("ops={} duration={}us", log.ops.len(), log.duration_us);
}
