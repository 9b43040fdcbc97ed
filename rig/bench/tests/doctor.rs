//! `doctor` against a fake board: power through commands that write a state file, console on a
//! pseudo-terminal that the board writes to while it is powered.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{point, Pty};
use cutpoint_bench::config::*;
use cutpoint_bench::doctor::{doctor_with, DoctorOptions};
use cutpoint_bench::StationBackends;

fn sh(s: String) -> Vec<String> {
    vec!["sh".into(), "-c".into(), s]
}

/// A board that boots (banner after 30 ms, then a tick every 20 ms) while the state file says
/// `on`. With `obeys = false` it ignores the power state (a relay that does not cut).
fn board(pty: &Pty, state: PathBuf, obeys: bool) {
    let mut m = pty.master_clone();
    std::thread::spawn(move || {
        let mut was_on = false;
        let mut next_tick = 0u32;
        loop {
            let on = !obeys
                || std::fs::read_to_string(&state)
                    .map(|s| s.trim() == "on")
                    .unwrap_or(false);
            if on && !was_on {
                std::thread::sleep(Duration::from_millis(30));
                if m.write_all(b"*** Booting Zephyr OS build v3.7.0 ***\r\n").is_err() {
                    return;
                }
                next_tick = 0;
            } else if on {
                next_tick += 1;
                if next_tick.is_multiple_of(10) && m.write_all(b"I: tick\r\n").is_err() {
                    return;
                }
            }
            was_on = on;
            std::thread::sleep(Duration::from_millis(2));
        }
    });
}

fn station(dir: &Path, link: &Path) -> StationBackends {
    let state = dir.join("power");
    StationBackends {
        name: Some("fake bench".into()),
        power: PowerConfig::Command(CommandPowerConfig {
            on: sh(format!("echo on > '{}'", state.display())),
            off: sh(format!("echo off > '{}'", state.display())),
            timeout_ms: None,
        }),
        console: ConsoleConfig::Serial(SerialConsoleConfig {
            port: Some(link.to_string_lossy().into()),
            usb_serial: None,
            baud: 115200,
            dtr: None,
            rts: None,
        }),
        probe: None,
        transport: TransportConfig::Http(HttpTransportConfig {
            bind: "127.0.0.1:0".into(),
            path: None,
        }),
        off_dwell_ms: Some(150),
    }
}

fn opts() -> DoctorOptions {
    DoctorOptions {
        cycles: 2,
        off_dwell: None,
        quiet_after: Duration::from_millis(60),
        boot_timeout: Duration::from_secs(2),
        settle: Duration::from_millis(100),
    }
}

#[test]
fn a_working_bench_is_fit_and_measured() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-console");
    let pty = Pty::new();
    point(&link, &pty.path);
    board(&pty, dir.path().join("power"), true);
    let mut out = Vec::new();
    let report = doctor_with(&station(dir.path(), &link), &mut out, &opts());
    let text = String::from_utf8_lossy(&out);
    assert!(report.fit, "{text}");
    assert!(text.contains("station is FIT"), "{text}");
    assert_eq!(report.relay_off_us.len(), 2);
    assert_eq!(report.boot_banner_ms.len(), 2, "{text}");
    // The fake board prints its banner about 30 ms after power-on; how late the doctor notices
    // that the switch command finished depends on the machine's load, so only the upper bound
    // is firm.
    assert!(
        report.boot_banner_ms.iter().all(|&ms| ms < 1000),
        "{:?}",
        report.boot_banner_ms
    );
    assert!(text.contains("Booting Zephyr"), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("power")).unwrap().trim(),
        "on",
        "left powered"
    );
}

#[test]
fn a_cut_that_does_not_take_makes_the_bench_unfit() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-console");
    let pty = Pty::new();
    point(&link, &pty.path);
    board(&pty, dir.path().join("power"), false);
    let mut out = Vec::new();
    let report = doctor_with(&station(dir.path(), &link), &mut out, &opts());
    let text = String::from_utf8_lossy(&out);
    assert!(!report.fit, "{text}");
    assert!(text.contains("kept talking"), "{text}");
    assert!(text.contains("station is UNFIT"), "{text}");
}

#[test]
fn missing_hardware_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = station(dir.path(), Path::new("/dev/serial/by-id/usb-absent-console"));
    st.power = PowerConfig::Lcus(LcusPowerConfig {
        port: "/dev/serial/by-id/usb-1a86_absent".into(),
        channel: 1,
    });
    st.probe = Some(ProbeConfig::ProbeRs(ProbeRsConfig {
        selector: "1366:1051:000000000001".into(),
        chip: "nRF52840_xxAA".into(),
        connect_under_reset: false,
        speed_khz: None,
        slots: vec![],
    }));
    let mut out = Vec::new();
    let report = doctor_with(&st, &mut out, &opts());
    let text = String::from_utf8_lossy(&out);
    assert!(!report.fit);
    for needle in [
        "usb-1a86_absent",
        "usb-absent-console",
        "1366:1051:000000000001",
        "station is UNFIT",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn the_gpio_polarity_is_described_as_the_guide_does() {
    // Off a Raspberry Pi the pin cannot be claimed; the power line still names the polarity.
    let on_a_pi = std::fs::read_to_string("/proc/device-tree/model").is_ok_and(|m| m.contains("Raspberry Pi"));
    if on_a_pi {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut st = station(dir.path(), Path::new("/dev/serial/by-id/usb-absent-console"));
    st.power = PowerConfig::Gpio(GpioPowerConfig {
        pin: 26,
        on_level: Level::High,
    });
    let mut out = Vec::new();
    doctor_with(&st, &mut out, &opts());
    let text = String::from_utf8_lossy(&out);
    let line = text
        .lines()
        .find(|l| l.contains("] power: "))
        .unwrap_or_else(|| panic!("no power line in:\n{text}"));
    assert!(
        line.contains(
            "power/gpio BCM26 (on_level = \"high\": target powered while the pin is HIGH, cut while it is LOW)"
        ),
        "{line}"
    );
    assert!(!line.contains("active-"), "{line}");
    // The guide uses the same words for the same setting.
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bench-on-a-pi.md")).unwrap();
    assert!(
        guide.contains("target powered while the pin is HIGH"),
        "the guide must use the doctor's wording"
    );
}
