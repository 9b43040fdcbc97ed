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

/// A temporary directory, the console link in it and the pseudo-terminal behind it, and a board
/// on that console powered by the switch's state file `power` there (`obeys`: the board loses
/// power when the switch says off).
fn fake_board(obeys: bool) -> (tempfile::TempDir, PathBuf, Pty) {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-console");
    let pty = Pty::new();
    point(&link, &pty.path);
    board(&pty, dir.path().join("power"), obeys);
    (dir, link, pty)
}

fn station(dir: &Path, link: &Path) -> StationBackends {
    let state = dir.join("power");
    StationBackends {
        name: Some("fake bench".into()),
        power: PowerConfig::Command(CommandPowerConfig {
            on: sh(format!("echo on > '{}'", state.display())),
            off: sh(format!("echo off > '{}'", state.display())),
            timeout_ms: None,
            sense: None,
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
    let (dir, link, _pty) = fake_board(true);
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

/// `station` with a supply sense: a command that reads `rail` (exit 0 while it says on).
fn sensed_station(dir: &Path, link: &Path, rail: &Path) -> StationBackends {
    let mut st = station(dir, link);
    if let PowerConfig::Command(c) = &mut st.power {
        c.sense = Some(sh(format!("grep -q on '{}'", rail.display())));
    }
    st
}

#[test]
fn a_supply_sense_that_follows_the_switch_is_checked_and_one_stuck_on_makes_the_bench_unfit() {
    let (dir, link, _pty) = fake_board(true);
    // The rail follows the switch.
    let mut out = Vec::new();
    let report = doctor_with(
        &sensed_station(dir.path(), &link, &dir.path().join("power")),
        &mut out,
        &opts(),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(report.fit, "{text}");
    assert!(text.contains("supply sense: off while cut, on once restored"), "{text}");
    // The rail stays live whatever the switch says: a relay whose contacts stayed closed.
    let stuck = dir.path().join("stuck-rail");
    std::fs::write(&stuck, "on\n").unwrap();
    let mut out = Vec::new();
    let report = doctor_with(&sensed_station(dir.path(), &link, &stuck), &mut out, &opts());
    let text = String::from_utf8_lossy(&out);
    assert!(!report.fit, "{text}");
    assert!(
        text.contains("the supply sense read powered with power off and powered with power on"),
        "{text}"
    );
}

#[test]
fn a_cut_that_does_not_take_makes_the_bench_unfit() {
    let (dir, link, _pty) = fake_board(false);
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
        sense: None,
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

/// An ESP32 bench: esptool (a fake over a flash image) as the probe, its port a file that
/// exists only while the board is powered (a USB-Serial-JTAG that goes away at every cut).
/// Doctor reads the station's regions through it and decodes otadata.
#[test]
fn an_esptool_bench_reads_and_decodes_otadata_and_loses_the_port_at_each_cut() {
    use fut::scheme::esp_idf::{seq_crc, STATE_NEW};
    let (dir, link, _pty) = fake_board(true);
    let fake = common::esptool::FakeEsptool::new(&dir.path().join("esptool"), 0x40000);
    // otadata: sector 0 selects ota_1 (seq 2, state new, its CRC); sector 1 is blank.
    let mut entry = [0xffu8; 32];
    entry[0..4].copy_from_slice(&2u32.to_le_bytes());
    entry[24..28].copy_from_slice(&STATE_NEW.to_le_bytes());
    entry[28..32].copy_from_slice(&seq_crc(2).to_le_bytes());
    fake.put(0xf000, &entry);
    fake.put(0x20000, &[0xe9, 0x06, 0x02, 0x20]);
    let port = dir.path().join("ttyACM-jtag");
    let mut st = station(dir.path(), &link);
    let power = dir.path().join("power");
    st.power = PowerConfig::Command(CommandPowerConfig {
        on: sh(format!("echo on > '{}'; touch '{}'", power.display(), port.display())),
        off: sh(format!("echo off > '{}'; rm -f '{}'", power.display(), port.display())),
        timeout_ms: None,
        sense: None,
    });
    let region = |name: &str, offset: u32, size: u32| FlashRegion {
        name: name.into(),
        offset,
        size,
    };
    st.probe = Some(ProbeConfig::Esptool(EsptoolConfig {
        port: Some(port.to_string_lossy().into()),
        usb_serial: None,
        chip: "esp32c3".into(),
        baud: None,
        command: Some(fake.command()),
        cli: None,
        after: None,
        port_wait_ms: Some(1000),
        timeout_ms: Some(5000),
        regions: vec![
            region("primary", 0x20000, 0x10000),
            region("secondary", 0x30000, 0x10000),
            region("otadata", 0xf000, 0x2000),
        ],
    }));
    let mut out = Vec::new();
    let report = doctor_with(&st, &mut out, &opts());
    let text = String::from_utf8_lossy(&out);
    assert!(report.fit, "{text}");
    assert!(
        text.contains("[ok  ] probe: probe/esptool:") && text.contains(" esp32c3 attached"),
        "{text}"
    );
    assert!(
        text.contains("[ok  ] region primary: 0x20000+0x10000: ESP image magic 0xe9"),
        "{text}"
    );
    assert!(
        text.contains("[ok  ] region secondary: 0x30000+0x10000: erased"),
        "{text}"
    );
    assert!(
        text.contains(
            "[ok  ] region otadata: 0xf000+0x2000: otadata sector 0: seq 2 state new crc ok, sector 1: blank; boots ota_1 (sector 0)"
        ),
        "{text}"
    );
    let calls = fake.calls();
    assert!(
        calls.iter().any(|c| c.contains("read-flash 0xf000 0x2000 ")),
        "{calls:?}"
    );

    // A torn entry (its CRC gone) is shown as such, and the station is still fit: the record is
    // what the device left, not a fault of the bench.
    fake.put(0xf000 + 28, &[0xff; 4]);
    let mut out = Vec::new();
    let report = doctor_with(&st, &mut out, &opts());
    let text = String::from_utf8_lossy(&out);
    assert!(report.fit, "{text}");
    assert!(
        text.contains("sector 0: seq 2 state new crc bad (half-erased: seq written, crc erased"),
        "{text}"
    );
    assert!(text.contains("no valid entry"), "{text}");

    // esptool failing is a finding about the probe, and the station is unfit.
    fake.set_mode("fail");
    let mut out = Vec::new();
    let report = doctor_with(&st, &mut out, &opts());
    let text = String::from_utf8_lossy(&out);
    assert!(!report.fit, "{text}");
    assert!(text.contains("[FAIL] region otadata: probe/esptool:"), "{text}");
    assert!(text.contains("No serial data received"), "{text}");

    // A port that stays while power is off (the board fed through its USB cable): the cut did
    // not take, as far as the probe can tell.
    fake.set_mode("");
    st.power = PowerConfig::Command(CommandPowerConfig {
        on: sh(format!("echo on > '{}'; touch '{}'", power.display(), port.display())),
        off: sh(format!("echo off > '{}'", power.display())),
        timeout_ms: None,
        sense: None,
    });
    let mut out = Vec::new();
    let report = doctor_with(&st, &mut out, &opts());
    let text = String::from_utf8_lossy(&out);
    assert!(!report.fit, "{text}");
    assert!(
        text.contains("the probe still reaches the target while power is off"),
        "{text}"
    );
}
