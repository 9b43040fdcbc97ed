//! The LCUS and Numato relay backends against fake relays on pseudo-terminals.

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{point, read_byte, wait_for, Pty};
use cutpoint_bench::config::{LcusPowerConfig, NumatoPowerConfig};
use cutpoint_bench::power::lcus::LcusPower;
use cutpoint_bench::power::numato::NumatoPower;
use cutpoint_bench::{PowerSwitch, RigErrorKind};

#[derive(Default)]
struct LcusLog {
    states: Vec<(u8, bool)>,
    bad_frames: Vec<[u8; 4]>,
}

/// A CH340 relay board: takes 4-byte frames, checks them, never answers.
fn fake_lcus(pty: &Pty) -> Arc<Mutex<LcusLog>> {
    let log = Arc::new(Mutex::new(LcusLog::default()));
    let mut m = pty.master_clone();
    let l = log.clone();
    std::thread::spawn(move || {
        let mut f = [0u8; 4];
        while m.read_exact(&mut f).is_ok() {
            // Checked here from the board's description, independently of the backend's encoder.
            let sum = (0xA0u32 + u32::from(f[1]) + u32::from(f[2])) & 0xFF;
            let ok = f[0] == 0xA0 && f[2] <= 1 && u32::from(f[3]) == sum;
            let mut g = l.lock().unwrap();
            if ok {
                g.states.push((f[1], f[2] == 1));
            } else {
                g.bad_frames.push(f);
            }
        }
    });
    log
}

#[test]
fn lcus_sends_checked_frames_to_its_channel() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-1a86_USB_Serial-if00-port0");
    let pty = Pty::new();
    point(&link, &pty.path);
    let log = fake_lcus(&pty);
    let mut relay = LcusPower::open(&LcusPowerConfig {
        port: link.to_string_lossy().into(),
        channel: 2,
    })
    .unwrap();
    assert!(relay.describe().contains("ch2"));
    relay.set_power(false).unwrap();
    relay.set_power(true).unwrap();
    relay.set_power(false).unwrap();
    assert!(wait_for(Duration::from_secs(10), || log.lock().unwrap().states.len() == 3));
    let g = log.lock().unwrap();
    assert!(g.bad_frames.is_empty(), "bad frames: {:02x?}", g.bad_frames);
    assert_eq!(g.states, [(2, false), (2, true), (2, false)]);
    assert_eq!(relay.read_back().unwrap(), None, "LCUS cannot be read back");
}

#[test]
fn lcus_without_its_port_fails_naming_it() {
    let err = LcusPower::open(&LcusPowerConfig {
        port: "/dev/serial/by-id/usb-1a86_gone-if00".into(),
        channel: 1,
    })
    .err()
    .unwrap();
    assert_eq!(err.kind, RigErrorKind::Open);
    assert!(err.message.contains("usb-1a86_gone-if00"), "{err}");
}

/// A Numato module: echoes each command, answers `relay read`, ends with `>`.
fn fake_numato(pty: &Pty, with_prompt: bool) -> Arc<Mutex<[bool; 36]>> {
    let state = Arc::new(Mutex::new([true; 36]));
    let mut m = pty.master_clone();
    let s = state.clone();
    std::thread::spawn(move || {
        let mut line = Vec::new();
        while let Some(b) = read_byte(&mut m) {
            if b != b'\r' {
                line.push(b);
                continue;
            }
            let cmd = String::from_utf8_lossy(&line).to_string();
            line.clear();
            let mut reply = format!("{cmd}\n\r");
            let words: Vec<&str> = cmd.split_whitespace().collect();
            if let ["relay", op, idx] = words[..] {
                let c = idx.chars().next().unwrap_or('?');
                let n = match c {
                    '0'..='9' => c as usize - '0' as usize,
                    'A'..='Z' => c as usize - 'A' as usize + 10,
                    _ => 99,
                };
                if n < 36 {
                    let mut st = s.lock().unwrap();
                    match op {
                        "on" => st[n] = true,
                        "off" => st[n] = false,
                        "read" => reply.push_str(if st[n] { "on\n\r" } else { "off\n\r" }),
                        _ => {}
                    }
                }
            }
            if with_prompt {
                reply.push('>');
            }
            if m.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    });
    state
}

#[test]
fn numato_switches_and_reads_back_lettered_relays() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir
        .path()
        .join("usb-Numato_Systems_Pvt._Ltd._Numato_Lab_16_Channel_USB_Relay_Module-if00");
    let pty = Pty::new();
    point(&link, &pty.path);
    let state = fake_numato(&pty, true);
    let mut relay = NumatoPower::open(&NumatoPowerConfig {
        port: link.to_string_lossy().into(),
        relay: 11,
    })
    .unwrap();
    relay.set_power(false).unwrap();
    assert!(!state.lock().unwrap()[11], "relay B (11) must be off");
    assert!(state.lock().unwrap()[1], "relay 1 untouched");
    assert_eq!(relay.read_back().unwrap(), Some(false));
    relay.set_power(true).unwrap();
    assert_eq!(relay.read_back().unwrap(), Some(true));
    assert!(state.lock().unwrap()[11]);
}

#[test]
fn numato_without_a_prompt_is_a_rig_error() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-numato-mute");
    let pty = Pty::new();
    point(&link, &pty.path);
    let _state = fake_numato(&pty, false);
    let err = NumatoPower::open(&NumatoPowerConfig {
        port: link.to_string_lossy().into(),
        relay: 0,
    })
    .err()
    .unwrap();
    assert_eq!(err.kind, RigErrorKind::Open);
    assert!(err.message.contains("prompt"), "{err}");
}
