//! An ESP-IDF A/B campaign end to end on an emulated ESP32 bench: the simulated board running
//! the esp-idf scheme (support/fake_bench.rs), its console read through a pseudo-terminal by
//! the serial console backend, its power switched through the command power backend (which
//! also makes the USB-Serial-JTAG port appear and vanish), and its flash read and written by
//! the esptool probe backend running a fake esptool, which hands each request to the emulated
//! device. After every cut the rig reads the slots and otadata back through esptool.

#[cfg(target_os = "linux")]
#[path = "support/fake_bench.rs"]
mod fake_bench;

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::fake_bench::{emulated_station, SCALE};
    use cutpoint::bench_target::{dump_range, BenchParts, BenchTarget};
    use cutpoint::engine::{self, RunSpec};
    use cutpoint_bench::config::{CommandPowerConfig, EsptoolConfig, PowerConfig, SerialConsoleConfig};
    use cutpoint_bench::console::serial::SerialConsole;
    use cutpoint_bench::probe::esptool::EsptoolProbe;
    use cutpoint_bench::{Console, PowerSwitch, Probe, RigResult};
    use cutpoint_report::Status;
    use fut::Variant;

    /// esptool's command line in front, a request to the test's device behind: each run writes
    /// one request line to the `req` FIFO and waits for the answer on `resp`.
    const SCRIPT: &str = r#"#!/bin/sh
dir=$(dirname "$0")
if [ "$1" = "version" ]; then echo "esptool v5.6.0"; echo "5.6.0"; exit 0; fi
port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --chip|--baud|--before|--after) shift 2 ;;
    --port) port="$2"; shift 2 ;;
    *) break ;;
  esac
done
cmd="$1"; shift
echo "esptool v5.6.0"
if [ ! -e "$port" ]; then
  echo "A fatal error occurred: Could not open $port, the port is busy or doesn't exist." >&2
  exit 2
fi
case "$cmd" in
  read-flash) req="read $(($1)) $(($2)) $3" ;;
  write-flash) req="write $(($1)) $2" ;;
  run) req="reset" ;;
  chip-id) req="halt" ;;
  *) echo "Usage: esptool [OPTIONS] COMMAND" >&2; exit 2 ;;
esac
echo "$req" > "$dir/req"
read reply < "$dir/resp"
case "$reply" in
  ok) echo "done: $req"; exit 0 ;;
  *) echo "A fatal error occurred: $reply" >&2; exit 2 ;;
esac
"#;

    fn mkfifo(p: &Path) {
        let c = CString::new(p.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", p.display());
    }

    /// A raw pseudo-terminal: (master, slave kept open, slave path).
    fn pty() -> (File, OwnedFd, PathBuf) {
        let (mut m, mut s) = (0, 0);
        // SAFETY: out-pointers to two ints; no name, termios or window size.
        let rc = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: fresh descriptors from openpty, owned from here on.
        let (master, slave) = unsafe { (File::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        // SAFETY: termios is plain data, filled by tcgetattr before use.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(s, &mut t), 0);
            libc::cfmakeraw(&mut t);
            assert_eq!(libc::tcsetattr(s, libc::TCSANOW, &t), 0);
        }
        let path = std::fs::read_link(format!("/proc/self/fd/{s}")).unwrap();
        (master, slave, path)
    }

    /// The emulated device's side of the fake esptool: answers each request with its probe.
    /// The `fail_read`th read of `fail_len` bytes (counting from 1) is answered with a fatal error.
    fn serve(dir: PathBuf, mut probe: Box<dyn Probe>, log: Arc<Mutex<Vec<String>>>, fail_read: Option<(usize, usize)>) {
        std::thread::spawn(move || {
            let mut reads = 0;
            loop {
                let Ok(req) = std::fs::read_to_string(dir.join("req")) else {
                    return;
                };
                let w: Vec<&str> = req.split_whitespace().collect();
                let r: RigResult<()> = match w.as_slice() {
                    ["read", a, n, file] => {
                        let (a, n): (u32, usize) = (a.parse().unwrap(), n.parse().unwrap());
                        if fail_read.is_some_and(|(_, len)| len == n) {
                            reads += 1;
                        }
                        if fail_read.is_some_and(|(k, len)| len == n && k == reads) {
                            Err(cutpoint_bench::RigError::io(
                                "device",
                                "Failed to connect to ESP32-C3: No serial data received.",
                            ))
                        } else {
                            probe.read_flash(a, n).map(|d| std::fs::write(file, d).unwrap())
                        }
                    }
                    ["write", a, file] => {
                        let d = std::fs::read(file).unwrap();
                        probe.write_flash(a.parse().unwrap(), &d, &mut |_, _| {})
                    }
                    ["reset"] => probe.reset(),
                    ["halt"] => probe.halt(),
                    _ => Ok(()),
                };
                log.lock().unwrap().push(req.trim().to_string());
                let reply = match r {
                    Ok(()) => "ok\n".to_string(),
                    Err(e) => format!("{}\n", e.message),
                };
                if std::fs::write(dir.join("resp"), reply).is_err() {
                    return;
                }
            }
        });
    }

    /// The command power switch (it makes the port appear and vanish) and the device's supply.
    struct Supply {
        command: Box<dyn PowerSwitch>,
        device: Box<dyn PowerSwitch>,
    }

    impl PowerSwitch for Supply {
        fn describe(&self) -> String {
            self.command.describe()
        }
        fn set_power(&mut self, on: bool) -> RigResult<()> {
            if on {
                self.command.set_power(true)?;
                self.device.set_power(true)
            } else {
                self.device.set_power(false)?;
                self.command.set_power(false)
            }
        }
    }

    const STATION: &str = r#"
name = "emulated-esp32"
off_dwell_ms = 40

[target]
board = "nrf52840"

[power]
kind = "command"
on = ["true"]
off = ["true"]

[console]
kind = "serial"
port = "/dev/null"
baud = 115200

[probe]
kind = "esptool"
port = "/dev/null"
chip = "esp32c3"

[transport]
kind = "http"
bind = "127.0.0.1:0"
"#;

    const CAMPAIGN: &str = r#"
name = "esptool-bench"

[target]
station = "station.toml"
mode = "esp-idf"
upgrade = "test"

[images]
baseline = { version = "1.0.0", size_kib = 16 }
update = { version = "2.0.0", size_kib = 16, health = "ok" }

[run]
seed = 7
off_dwell_ms = 40
boot_timeout_ms = 3000
settle_timeout_ms = 10000

[[phases]]
name = "download"
start = 'ota: download-(start|resume)'
end = 'ota: download-done'
progress = 'ota: download-progress bytes=(?P<n>\d+)'
offsets = { fixed = ["start"], bytes = [6000] }
"#;

    struct Ran {
        journal: cutpoint_report::journal::Journal,
        log: Vec<String>,
        dump: (u32, usize),
        port_gone_at_cuts: bool,
    }

    fn run(fail_read: Option<usize>) -> Ran {
        let mode = fut::Registry::builtin().find("esp-idf").unwrap();
        let st = emulated_station(STATION, CAMPAIGN, mode, Variant::Reference, SCALE / 5);
        let (dir, c, setup, clock) = (st.dir, st.campaign, st.setup, st.clock);
        let dump = dump_range(&setup.config.layout);
        let parts = st.emulator.parts(st.console, false);

        // The fake esptool and the device behind it.
        let fake = dir.path().join("esptool");
        std::fs::create_dir_all(&fake).unwrap();
        let script = fake.join("esptool");
        std::fs::write(&script, SCRIPT).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        mkfifo(&fake.join("req"));
        mkfifo(&fake.join("resp"));
        let log = Arc::new(Mutex::new(Vec::new()));
        serve(fake.clone(), parts.probe, log.clone(), fail_read.map(|k| (k, dump.1)));

        // The port exists while the board is powered; the power commands record whether it
        // was gone after each cut.
        let port = dir.path().join("ttyACM-jtag");
        let gone = dir.path().join("gone");
        let sh = |s: String| vec!["sh".to_string(), "-c".to_string(), s];
        let command = cutpoint_bench::open_power(&PowerConfig::Command(CommandPowerConfig {
            on: sh(format!(
                "[ -e '{p}' ] || echo gone >> '{g}'; touch '{p}'",
                p = port.display(),
                g = gone.display()
            )),
            off: sh(format!("rm -f '{}'", port.display())),
            timeout_ms: None,
            sense: None,
        }))
        .unwrap();
        let power = Box::new(Supply {
            command,
            device: parts.power,
        });

        // The device's console on a pseudo-terminal, read by the serial console backend.
        let (mut master, _slave, tty) = pty();
        let mut device_console = parts.console;
        std::thread::spawn(move || loop {
            match device_console.read_line(Duration::from_millis(100)) {
                Ok(Some(l)) => {
                    if master.write_all(format!("{}\r\n", l.text).as_bytes()).is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(_) => return,
            }
        });
        let console: Box<dyn Console> = Box::new(
            SerialConsole::open(
                &SerialConsoleConfig {
                    port: Some(tty.to_string_lossy().into()),
                    usb_serial: None,
                    baud: 115200,
                    dtr: None,
                    rts: None,
                },
                clock,
            )
            .unwrap(),
        );

        std::fs::write(&port, b"").unwrap();
        let probe = EsptoolProbe::open(&EsptoolConfig {
            port: Some(port.to_string_lossy().into()),
            usb_serial: None,
            chip: "esp32c3".into(),
            baud: None,
            command: Some(vec![script.to_string_lossy().into()]),
            cli: None,
            after: None,
            port_wait_ms: Some(3000),
            timeout_ms: Some(10_000),
            regions: vec![],
        })
        .unwrap();
        let target = BenchTarget::from_parts(
            BenchParts {
                clock,
                power,
                console,
                probe: Box::new(probe),
                transport: parts.transport,
            },
            setup.config.clone(),
        )
        .unwrap();
        let spec = RunSpec::whole(&c, dir.path().join("report"), setup.expect.clone(), setup.update_size);
        let o = engine::run(&target, &spec, &mut cutpoint::sink::ignore(), &AtomicBool::new(false)).unwrap();
        let journal = cutpoint_report::journal::read_journal(&o.journal_path).unwrap();
        drop(target);
        let gone_count = std::fs::read_to_string(&gone).unwrap_or_default().lines().count();
        let log = log.lock().unwrap().clone();
        Ran {
            port_gone_at_cuts: gone_count >= journal.cuts.len(),
            journal,
            log,
            dump,
        }
    }

    fn statuses(o: &Ran) -> String {
        o.journal
            .cuts
            .iter()
            .map(|c| format!("{} {}: {}", c.id, c.status.name(), c.reasons.join("; ")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn an_esp_idf_campaign_runs_through_esptool_and_reads_otadata_after_each_cut() {
        let o = run(None);
        let control = o.journal.control.as_ref().unwrap();
        assert_eq!(control.status, Status::Pass, "{:?}", control.reasons);
        assert_eq!(o.journal.cuts.len(), 2, "{}", statuses(&o));
        assert!(
            o.journal.cuts.iter().all(|c| c.status == Status::Pass),
            "{}",
            statuses(&o)
        );
        for c in &o.journal.cuts {
            assert_eq!(c.final_image.as_deref(), Some("2.0.0+0"), "{}", c.id);
        }
        // The read-back after the control run and after each cut: one read-flash of the
        // slots and otadata (the scheme's record, in the scratch region) through esptool.
        let (base, len) = o.dump;
        let reads = o
            .log
            .iter()
            .filter(|l| **l == format!("read {base} {len}") || l.starts_with(&format!("read {base} {len} ")))
            .count();
        assert!(
            reads > o.journal.cuts.len(),
            "{reads} reads of {base:#x}+{len:#x}: {:?}",
            o.log
        );
        assert!(
            o.log.iter().any(|l| l.starts_with("write ")),
            "the baseline restored through esptool"
        );
        assert!(o.log.iter().any(|l| l == "reset"), "{:?}", o.log);
        assert!(
            o.port_gone_at_cuts,
            "the port vanished at each cut and the probe waited for it"
        );
    }

    #[test]
    fn esptool_failing_after_a_cut_is_a_rig_error_of_that_cut_not_a_device_failure() {
        // The control run's read-back is the first read of the dump range; the first cut's is
        // the second.
        let o = run(Some(2));
        assert_eq!(o.journal.control.as_ref().unwrap().status, Status::Pass);
        let first = &o.journal.cuts[0];
        assert_eq!(first.status, Status::Error, "{}", statuses(&o));
        let why = first.reasons.join("; ");
        assert!(why.contains("probe/esptool:"), "{why}");
        assert!(why.contains("No serial data received"), "esptool's last lines: {why}");
        assert!(
            o.journal.cuts.iter().all(|c| c.status != Status::Fail),
            "{}",
            statuses(&o)
        );
    }
}
