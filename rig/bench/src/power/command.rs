//! Power switched by external commands (uhubctl, a PDU client, a script).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config::CommandPowerConfig;
use cutpoint_core::{PowerSwitch, RigError, RigResult};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `argv` to completion (at most `timeout`). A spawn failure, a timeout or a non-zero exit
/// is an error that quotes the command's stderr.
pub(crate) fn run_argv(argv: &[String], timeout: Duration, backend: &str) -> RigResult<()> {
    let (status, err) = run_status(argv, timeout, backend)?;
    if status.success() {
        Ok(())
    } else {
        let stderr = if err.is_empty() { "(empty)".to_string() } else { err };
        Err(RigError::io(
            backend,
            format!("`{}` failed ({status}); stderr: {stderr}", argv.join(" ")),
        ))
    }
}

/// Runs `argv` to completion (at most `timeout`): how it exited and its stderr. A spawn failure
/// or a timeout is an error.
fn run_status(argv: &[String], timeout: Duration, backend: &str) -> RigResult<(std::process::ExitStatus, String)> {
    let Some((program, args)) = argv.split_first() else {
        return Err(RigError::open(backend, "empty command"));
    };
    let shown = argv.join(" ");
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout can end everything the command started.
        .process_group(0)
        .spawn()
        .map_err(|e| RigError::io(backend, format!("cannot run `{shown}`: {e}")))?;
    let mut stderr = child.stderr.take();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(err) = stderr.as_mut() {
            let _ = err.take(64 * 1024).read_to_end(&mut s);
        }
        let _ = tx.send(String::from_utf8_lossy(&s).trim().to_string());
    });
    // A grandchild may keep stderr open after the command ended: do not wait for it long, but
    // long enough for a loaded machine to schedule the reader.
    let stderr_text = move || rx.recv_timeout(Duration::from_millis(500)).unwrap_or_default();
    let deadline = cutpoint_core::clock::from_now(timeout);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                let err = stderr_text();
                return Err(RigError::timeout(
                    backend,
                    format!("`{shown}` did not finish within {timeout:?}; stderr: {err}"),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(RigError::io(backend, format!("waiting for `{shown}`: {e}"))),
        }
    };
    Ok((status, stderr_text()))
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals the process group the child leads; it
        // touches no memory of ours.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Power switched by running one command for on and another for off.
pub struct CommandPower {
    on: Vec<String>,
    off: Vec<String>,
    sense: Option<Vec<String>>,
    timeout: Duration,
}

impl CommandPower {
    pub fn open(cfg: &CommandPowerConfig) -> RigResult<Self> {
        if cfg.on.is_empty() || cfg.off.is_empty() {
            return Err(RigError::open(
                "power/command",
                "both `on` and `off` need a program to run",
            ));
        }
        Ok(CommandPower {
            on: cfg.on.clone(),
            off: cfg.off.clone(),
            sense: cfg.sense.clone().filter(|s| !s.is_empty()),
            timeout: cfg.timeout_ms.map(crate::config::millis).unwrap_or(DEFAULT_TIMEOUT),
        })
    }
}

impl PowerSwitch for CommandPower {
    fn describe(&self) -> String {
        format!("power/command:{}", self.on.first().map(String::as_str).unwrap_or(""))
    }

    fn set_power(&mut self, on: bool) -> RigResult<()> {
        let argv = if on { &self.on } else { &self.off };
        run_argv(argv, self.timeout, &self.describe())
    }

    /// Runs the `sense` command: exit 0 = powered, 1 = not; anything else is the rig's error.
    fn sense(&mut self) -> RigResult<Option<bool>> {
        let Some(argv) = &self.sense else {
            return Ok(None);
        };
        let backend = self.describe();
        let (status, err) = run_status(argv, self.timeout, &backend)?;
        match status.code() {
            Some(0) => Ok(Some(true)),
            Some(1) => Ok(Some(false)),
            _ => Err(RigError::io(
                backend,
                format!(
                    "the sense command `{}` ended {status}: it must exit 0 while the target is powered and 1 \
                     while it is not; stderr: {}",
                    argv.join(" "),
                    if err.is_empty() { "(empty)" } else { &err }
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn the_sense_command_reads_the_supply_by_its_exit_status() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("rail");
        let mut cfg = CommandPowerConfig {
            on: sh(&format!("echo 1 > {}", f.display())),
            off: sh(&format!("echo 0 > {}", f.display())),
            timeout_ms: None,
            sense: Some(sh(&format!("grep -q 1 {}", f.display()))),
        };
        let mut p = CommandPower::open(&cfg).unwrap();
        p.set_power(true).unwrap();
        assert_eq!(p.sense().unwrap(), Some(true));
        p.set_power(false).unwrap();
        assert_eq!(p.sense().unwrap(), Some(false));
        // Neither 0 nor 1: the rig cannot tell, which is its own error.
        cfg.sense = Some(sh("echo 'no meter' >&2; exit 3"));
        let e = CommandPower::open(&cfg).unwrap().sense().unwrap_err().to_string();
        assert!(
            e.contains("must exit 0 while the target is powered") && e.contains("no meter"),
            "{e}"
        );
        cfg.sense = None;
        assert_eq!(CommandPower::open(&cfg).unwrap().sense().unwrap(), None);
    }

    #[test]
    fn runs_on_and_off() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("state");
        let cfg = CommandPowerConfig {
            on: sh(&format!("echo on >> {}", f.display())),
            off: sh(&format!("echo off >> {}", f.display())),
            timeout_ms: None,
            sense: None,
        };
        let mut p = CommandPower::open(&cfg).unwrap();
        p.set_power(false).unwrap();
        p.set_power(true).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "off\non\n");
        assert_eq!(p.read_back().unwrap(), None);
    }

    #[test]
    fn failures_carry_stderr() {
        let cfg = CommandPowerConfig {
            on: sh("echo relay jammed >&2; exit 3"),
            off: sh("true"),
            timeout_ms: None,
            sense: None,
        };
        let mut p = CommandPower::open(&cfg).unwrap();
        let err = p.set_power(true).unwrap_err();
        assert_eq!(err.kind, crate::RigErrorKind::Io);
        assert!(err.message.contains("relay jammed"), "{err}");
        let cfg = CommandPowerConfig {
            on: vec!["/nonexistent/uhubctl".into()],
            off: sh("true"),
            timeout_ms: None,
            sense: None,
        };
        let err = CommandPower::open(&cfg).unwrap().set_power(true).unwrap_err();
        assert!(err.message.contains("/nonexistent/uhubctl"), "{err}");
        let cfg = CommandPowerConfig {
            on: sh("sleep 5"),
            off: sh("true"),
            timeout_ms: Some(100),
            sense: None,
        };
        let t = Instant::now();
        let err = CommandPower::open(&cfg).unwrap().set_power(true).unwrap_err();
        assert_eq!(err.kind, crate::RigErrorKind::Timeout);
        assert!(t.elapsed() < Duration::from_secs(3));
        assert!(CommandPower::open(&CommandPowerConfig {
            on: vec![],
            off: sh("true"),
            timeout_ms: None,
            sense: None,
        })
        .is_err());
    }
}
