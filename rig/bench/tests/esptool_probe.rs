//! The esptool probe up to the OS call: a fake esptool (`common/esptool.rs`) over a flash image
//! file, a port that is a file the test creates and removes (a USB-Serial-JTAG that goes away at
//! every power cut), and the real esptool's command line where it is installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::esptool::FakeEsptool;
use cutpoint_bench::config::{EsptoolAfter, EsptoolCli, EsptoolConfig};
use cutpoint_bench::probe::esptool::{EsptoolProbe, Op};
use cutpoint_bench::{Probe, RigErrorKind};

const FLASH: usize = 64 * 1024;

struct Rig {
    _dir: tempfile::TempDir,
    fake: FakeEsptool,
    port: PathBuf,
}

fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEsptool::new(&dir.path().join("fake"), FLASH);
    let port = dir.path().join("ttyACM-esp32c3");
    std::fs::write(&port, b"").unwrap();
    Rig { _dir: dir, fake, port }
}

fn cfg(r: &Rig) -> EsptoolConfig {
    EsptoolConfig {
        port: Some(r.port.to_string_lossy().into()),
        usb_serial: None,
        chip: "esp32c3".into(),
        baud: Some(921_600),
        command: Some(r.fake.command()),
        cli: None,
        after: None,
        port_wait_ms: Some(300),
        timeout_ms: Some(2000),
        regions: vec![],
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)).collect()
}

#[test]
fn reads_and_writes_go_through_esptool_at_flash_offsets() {
    let r = rig();
    let otadata = pattern(0x2000, 3);
    r.fake.put(0x7000, &otadata);
    let mut p = EsptoolProbe::open(&cfg(&r)).unwrap();
    assert_eq!(p.describe(), format!("probe/esptool:{} esp32c3", r.port.display()));
    assert_eq!(p.read_flash(0x7000, 0x2000).unwrap(), otadata);

    // A whole-sector write is one write-flash of exactly those bytes.
    r.fake.clear_calls();
    let data = pattern(0x1000, 9);
    let mut seen = Vec::new();
    p.write_flash(0x3000, &data, &mut |done, total| seen.push((done, total)))
        .unwrap();
    assert_eq!(&r.fake.flash()[0x3000..0x4000], &data[..]);
    assert_eq!(seen, [(0, 0x1000), (0x1000, 0x1000)]);
    let calls = r.fake.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].contains(" write-flash 0x3000 "), "{calls:?}");

    // A write inside a sector keeps the sector's other bytes: esptool erases whole sectors.
    r.fake.clear_calls();
    let before = r.fake.flash();
    p.write_flash(0x7010, &[0xAA; 0x20], &mut |_, _| {}).unwrap();
    let after = r.fake.flash();
    assert_eq!(&after[0x7010..0x7030], &[0xAA; 0x20]);
    assert_eq!(&after[0x7000..0x7010], &before[0x7000..0x7010]);
    assert_eq!(&after[0x7030..0x8000], &before[0x7030..0x8000]);
    assert_eq!(&after[..0x7000], &before[..0x7000]);
    let calls = r.fake.calls();
    assert_eq!(calls.len(), 3, "head read, tail read, write: {calls:?}");
    assert!(calls[0].contains("read-flash 0x7000 0x10 "), "{calls:?}");
    assert!(calls[1].contains("read-flash 0x7030 0xfd0 "), "{calls:?}");
    assert!(calls[2].contains("write-flash 0x7000 "), "{calls:?}");
    assert_eq!(p.read_flash(0, 0).unwrap(), Vec::<u8>::new());
}

#[test]
fn argument_forms_follow_the_cli_spelling_and_the_after_setting() {
    let r = rig();
    let p = EsptoolProbe::new(&cfg(&r)).unwrap();
    let port = Path::new("/dev/ttyACM0");
    let file = Path::new("/tmp/x.bin");
    let common = "--chip esp32c3 --port /dev/ttyACM0 --baud 921600 --before default-reset";
    let j = |op: Op<'_>, p: &EsptoolProbe| p.args(&op, port).join(" ");
    assert_eq!(
        j(
            Op::Read {
                addr: 0xf000,
                len: 0x2000,
                file
            },
            &p
        ),
        format!("{common} --after no-reset read-flash 0xf000 0x2000 /tmp/x.bin")
    );
    assert_eq!(
        j(Op::Write { addr: 0x20000, file }, &p),
        format!("{common} --after no-reset write-flash 0x20000 /tmp/x.bin")
    );
    assert_eq!(j(Op::Reset, &p), format!("{common} --after hard-reset run"));
    assert_eq!(j(Op::Halt, &p), format!("{common} --after no-reset chip-id"));
    assert_eq!(j(Op::Version, &p), "version");

    let mut c = cfg(&r);
    c.cli = Some(EsptoolCli::V4);
    c.after = Some(EsptoolAfter::HardReset);
    let v4 = EsptoolProbe::new(&c).unwrap();
    assert_eq!(
        j(
            Op::Read {
                addr: 0xf000,
                len: 0x2000,
                file
            },
            &v4
        ),
        "--chip esp32c3 --port /dev/ttyACM0 --baud 921600 --before default_reset --after hard_reset \
         read_flash 0xf000 0x2000 /tmp/x.bin"
    );
    assert!(j(Op::Halt, &v4).ends_with("--after no_reset chip_id"));

    // Leading arguments of the command come first, then these.
    let mut c = cfg(&r);
    c.command = Some(vec!["sh".into(), r.fake.command()[0].clone()]);
    let mut p = EsptoolProbe::open(&c).unwrap();
    p.reset().unwrap();
    p.halt().unwrap();
    let calls = r.fake.calls();
    assert!(calls.iter().any(|c| c.ends_with("--after hard-reset run")), "{calls:?}");
    assert!(
        calls.iter().any(|c| c.ends_with("--after no-reset chip-id")),
        "{calls:?}"
    );
}

#[test]
fn the_port_is_waited_for_after_a_power_cut_and_not_forever() {
    let r = rig();
    let mut p = EsptoolProbe::open(&cfg(&r)).unwrap();
    // The USB-Serial-JTAG is gone (power cut) and comes back 150 ms later.
    std::fs::remove_file(&r.port).unwrap();
    let port = r.port.clone();
    let back = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        std::fs::write(port, b"").unwrap();
    });
    let t = Instant::now();
    p.attach().unwrap();
    assert!(t.elapsed() >= Duration::from_millis(100), "{:?}", t.elapsed());
    back.join().unwrap();
    assert_eq!(p.read_flash(0, 16).unwrap(), vec![0xff; 16]);

    // It does not come back: a timeout of the probe after port_wait_ms, and esptool never ran.
    std::fs::remove_file(&r.port).unwrap();
    r.fake.clear_calls();
    let t = Instant::now();
    let e = p.read_flash(0, 16).unwrap_err();
    assert_eq!(e.kind, RigErrorKind::Timeout, "{e}");
    assert!(e.backend.starts_with("probe/esptool:"), "{e}");
    assert!(e.message.contains("did not come back within 300 ms"), "{e}");
    assert!(t.elapsed() >= Duration::from_millis(300) && t.elapsed() < Duration::from_secs(3));
    assert!(r.fake.calls().is_empty(), "{:?}", r.fake.calls());
    assert_eq!(p.attach().unwrap_err().kind, RigErrorKind::Timeout);
}

#[test]
fn a_usb_serial_selector_that_matches_nothing_times_out_naming_it() {
    let r = rig();
    let mut c = cfg(&r);
    c.port = None;
    c.usb_serial = Some("F4:12:FA:4C:2B:10".into());
    c.port_wait_ms = Some(50);
    let e = EsptoolProbe::open(&c).err().unwrap();
    assert_eq!(e.kind, RigErrorKind::Timeout, "{e}");
    assert!(e.message.contains("usb-serial=F4:12:FA:4C:2B:10"), "{e}");
}

#[test]
fn every_esptool_failure_is_an_error_of_the_probe_with_its_last_lines() {
    let r = rig();
    let mut p = EsptoolProbe::open(&cfg(&r)).unwrap();

    r.fake.set_mode("fail");
    let e = p.read_flash(0x1000, 32).unwrap_err();
    assert_eq!(e.kind, RigErrorKind::Io, "{e}");
    assert!(e.message.contains("exited with 2"), "{e}");
    assert!(e.message.contains("No serial data received"), "{e}");
    assert!(
        e.message.contains("read-flash 0x1000 0x20"),
        "the command is quoted: {e}"
    );
    assert!(e.message.starts_with("reading 32 bytes at 0x1000"), "{e}");
    let e = p.write_flash(0x1000, &[0; 4096], &mut |_, _| {}).unwrap_err();
    assert_eq!(e.kind, RigErrorKind::Io, "{e}");
    assert_eq!(r.fake.flash()[0x1000], 0xff, "nothing written");
    assert_eq!(p.reset().unwrap_err().kind, RigErrorKind::Io);
    assert_eq!(p.halt().unwrap_err().kind, RigErrorKind::Io);

    // "A fatal error occurred" with a zero exit is a failure all the same.
    r.fake.set_mode("fatal0");
    let e = p.read_flash(0, 16).unwrap_err();
    assert_eq!(e.kind, RigErrorKind::Io, "{e}");
    assert!(e.message.contains("Packet content transfer stopped"), "{e}");

    // A usage error (a changed command line) names itself.
    r.fake.set_mode("garbage");
    let e = p.read_flash(0, 16).unwrap_err();
    assert!(e.message.contains("Usage: esptool"), "{e}");

    r.fake.set_mode("short");
    let e = p.read_flash(0, 4096).unwrap_err();
    assert_eq!(e.kind, RigErrorKind::Protocol, "{e}");
    assert!(e.message.contains("wrote 2048 bytes instead of 4096"), "{e}");
    assert!(e.message.contains("Read 2048 bytes"), "its last lines: {e}");

    r.fake.set_mode("nofile");
    let e = p.read_flash(0, 64).unwrap_err();
    assert_eq!(e.kind, RigErrorKind::Protocol, "{e}");
    assert!(e.message.contains("left no file"), "{e}");

    r.fake.set_mode("");
    assert_eq!(
        p.read_flash(0, 16).unwrap(),
        vec![0xff; 16],
        "a good run after bad ones"
    );
}

#[test]
fn a_hung_esptool_is_killed_with_its_children_at_the_timeout() {
    let r = rig();
    let mut c = cfg(&r);
    c.timeout_ms = Some(400);
    let mut p = EsptoolProbe::open(&c).unwrap();
    r.fake.set_mode("hang");
    let t = Instant::now();
    let e = p.read_flash(0, 16).unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.kind, RigErrorKind::Timeout, "{e}");
    assert!(e.message.contains("was killed"), "{e}");
    assert!(e.message.contains("Connected to ESP32-C3"), "its last lines: {e}");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // The script's `sleep 600` was in its process group: it is gone (or a zombie nobody reaped).
    let pid = std::fs::read_to_string(r.fake.dir.join("sleep.pid")).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    let state = stat.rsplit_once(") ").map(|(_, s)| s.chars().next().unwrap_or('?'));
    assert!(
        stat.is_empty() || state == Some('Z'),
        "the child's child still runs: {stat}"
    );
}

#[test]
fn a_missing_esptool_or_the_wrong_major_version_fails_at_open() {
    let r = rig();
    let mut c = cfg(&r);
    c.command = Some(vec!["/nonexistent/esptool-not-here".into()]);
    let e = EsptoolProbe::open(&c).err().unwrap();
    assert_eq!(e.kind, RigErrorKind::Open, "{e}");
    assert!(
        e.message.contains("not found") && e.message.contains("pip install"),
        "{e}"
    );

    r.fake.set_mode("v4");
    let e = EsptoolProbe::open(&cfg(&r)).err().unwrap();
    assert_eq!(e.kind, RigErrorKind::Open, "{e}");
    assert!(
        e.message.contains("version 4") && e.message.contains("cli = \"v4\""),
        "{e}"
    );
    let mut c = cfg(&r);
    c.cli = Some(EsptoolCli::V4);
    assert!(EsptoolProbe::open(&c).is_ok());
}

/// The real esptool, where installed: its help still lists the commands and options the probe
/// uses, and each command line the probe builds gets past esptool's argument parser (it fails
/// at opening the absent port, not on a usage error).
#[test]
fn the_installed_esptool_takes_the_probes_command_lines() {
    let Ok(v) = Command::new("esptool").arg("version").output() else {
        println!("skipped: esptool is not installed (`pip install \"esptool>=5,<6\"`)");
        return;
    };
    let text = String::from_utf8_lossy(&v.stdout).to_string() + &String::from_utf8_lossy(&v.stderr);
    let major = cutpoint_bench::probe::esptool::version_major(&text);
    if major.is_none_or(|m| m < 5) {
        println!("skipped: the installed esptool is not version 5 ({text:?}); the probe's cli = \"v4\" covers it");
        return;
    }
    let help = |args: &[&str]| {
        let o = Command::new("esptool")
            .args(args)
            .env("COLUMNS", "200")
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
    };
    let top = help(&["--help"]);
    for word in [
        "read-flash",
        "write-flash",
        "chip-id",
        "run",
        "--chip",
        "--port",
        "--baud",
        "--before",
        "--after",
        "default-reset",
        "hard-reset",
        "no-reset",
        "esp32c3",
    ] {
        assert!(top.contains(word), "esptool --help no longer lists {word}:\n{top}");
    }
    assert!(help(&["read-flash", "--help"]).contains("ADDRESS SIZE OUTPUT"));
    assert!(help(&["write-flash", "--help"]).contains("<address> <filename>"));

    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("no-such-port");
    let c = EsptoolConfig {
        port: Some(absent.to_string_lossy().into()),
        usb_serial: None,
        chip: "esp32c3".into(),
        baud: None,
        command: None,
        cli: None,
        after: None,
        port_wait_ms: Some(1),
        timeout_ms: None,
        regions: vec![],
    };
    let p = EsptoolProbe::new(&c).unwrap();
    let file = dir.path().join("x.bin");
    for op in [
        Op::Read {
            addr: 0xf000,
            len: 0x2000,
            file: &file,
        },
        Op::Write {
            addr: 0xf000,
            file: &file,
        },
        Op::Reset,
        Op::Halt,
    ] {
        std::fs::write(&file, [0xffu8; 4096]).unwrap();
        let o = Command::new("esptool").args(p.args(&op, &absent)).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{op:?}: {out}");
        assert!(
            out.contains("A fatal error occurred") && out.contains("Could not open"),
            "{op:?}: esptool did not get as far as the port:\n{out}"
        );
        assert!(!out.contains("Usage:"), "{op:?}: {out}");
    }
}
