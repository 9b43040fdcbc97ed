//! The power guard leaves the target powered: on drop, and when the process is signalled.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cutpoint_bench::config::CommandPowerConfig;
use cutpoint_bench::power::command::CommandPower;
use cutpoint_bench::{PowerGuard, PowerSwitch};

const CHILD_ENV: &str = "CUTPOINT_GUARD_CHILD_STATE";

fn logging_switch(state: &Path) -> Box<dyn PowerSwitch> {
    let cmd = |word: &str| {
        vec![
            "sh".to_string(),
            "-c".to_string(),
            format!("echo {word} >> '{}'", state.display()),
        ]
    };
    Box::new(
        CommandPower::open(&CommandPowerConfig {
            on: cmd("on"),
            off: cmd("off"),
            timeout_ms: None,
            sense: None,
        })
        .unwrap(),
    )
}

fn states(state: &Path) -> Vec<String> {
    std::fs::read_to_string(state)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn dropping_the_guard_restores_power() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("power");
    {
        let guard = PowerGuard::new(logging_switch(&state)).unwrap();
        let mut sw = guard.switch();
        sw.set_power(false).unwrap();
        assert_eq!(states(&state), ["off"]);
    }
    assert_eq!(states(&state), ["off", "on"]);
}

#[test]
fn dropping_the_guard_during_a_panic_restores_power() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("power");
    let s2 = state.clone();
    let r = std::thread::spawn(move || {
        let guard = PowerGuard::new(logging_switch(&s2)).unwrap();
        guard.switch().set_power(false).unwrap();
        panic!("engine bug while power is off");
    })
    .join();
    assert!(r.is_err());
    assert_eq!(states(&state), ["off", "on"]);
}

/// Run as a child process by `sigterm_restores_power_before_the_process_ends`: cuts power,
/// reports ready, and waits to be killed. Does nothing in a normal test run.
#[test]
fn guard_child_process() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let guard = PowerGuard::new(logging_switch(Path::new(&path))).unwrap();
    guard.switch().set_power(false).unwrap();
    println!("GUARD-CHILD-READY");
    std::thread::sleep(Duration::from_secs(20));
    println!("GUARD-CHILD-NOT-KILLED");
}

fn signal_restores(sig: nix::sys::signal::Signal) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("power");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "guard_child_process", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !line.contains("GUARD-CHILD-READY") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child ended before it was ready");
        assert!(Instant::now() < deadline);
    }
    assert_eq!(states(&state), ["off"]);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, sig).unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(sig as i32),
        "the signal still ends the process: {status:?}"
    );
    assert_eq!(states(&state), ["off", "on"], "power restored before the process ended");
}

#[test]
fn sigterm_restores_power_before_the_process_ends() {
    signal_restores(nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn sigint_restores_power_before_the_process_ends() {
    signal_restores(nix::sys::signal::Signal::SIGINT);
}
