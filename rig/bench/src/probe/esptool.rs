//! The ESP32 family's flash through Espressif's esptool: the chip's ROM serial bootloader
//! (over a UART bridge or the built-in USB-Serial-JTAG) reads and writes the SPI flash at its
//! flash offsets, where a debug probe would see only what the cache MMU maps.
//!
//! Each operation runs one esptool command:
//!
//! ```text
//! esptool --chip esp32c3 --port PORT --baud 460800 --before default-reset --after no-reset \
//!         read-flash 0xf000 0x2000 FILE
//! esptool ... write-flash 0xf000 FILE
//! esptool ... --after hard-reset run          (reset)
//! esptool ... --after no-reset chip-id        (halt: the chip stays in its download mode)
//! ```
//!
//! in esptool 5's spelling (`cli = "v4"`: `read_flash`, `hard_reset`, ...). `--before
//! default-reset` puts the chip in its download mode first, so the application is stopped
//! while the flash is read or written. A built-in USB-Serial-JTAG goes away at every power cut
//! and comes back under the same serial number: every command first waits, bounded, for the
//! port to be there. Whatever goes wrong (esptool missing, a non-zero exit, "A fatal error
//! occurred", a timeout, a file shorter than asked) is an error of this probe with esptool's
//! last lines in its message, never a verdict on the device; a command that overruns is killed
//! with its process group.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config::{millis, EsptoolAfter, EsptoolCli, EsptoolConfig};
use crate::serial_id::SerialIdentity;
use cutpoint_core::{Probe, RigError, RigResult};

/// The erase unit of the SPI NOR parts ESP32 modules carry; esptool erases whole sectors
/// around what it writes.
pub const SECTOR: u32 = 4096;

/// How many of esptool's last output lines an error quotes.
const TAIL_LINES: usize = 6;

/// The probe backend.
pub struct EsptoolProbe {
    cfg: EsptoolConfig,
    id: SerialIdentity,
    argv0: Vec<String>,
    cli: EsptoolCli,
    after: EsptoolAfter,
    baud: u32,
    port_wait: Duration,
    timeout: Duration,
}

/// The esptool operations the probe runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<'a> {
    Read {
        addr: u32,
        len: usize,
        file: &'a Path,
    },
    Write {
        addr: u32,
        file: &'a Path,
    },
    /// Reset into the application.
    Reset,
    /// Stop the application: the chip stays in its download mode.
    Halt,
    Version,
}

impl EsptoolProbe {
    /// Checks the settings and that the command runs (`esptool version`), then waits for the
    /// port. Without esptool this fails with an open error saying how to install it.
    pub fn open(cfg: &EsptoolConfig) -> RigResult<Self> {
        let me = Self::new(cfg)?;
        me.check_version()?;
        let mut me = me;
        me.attach()?;
        Ok(me)
    }

    /// The probe without running anything.
    pub fn new(cfg: &EsptoolConfig) -> RigResult<Self> {
        let backend = format!("probe/esptool:{}", cfg.chip);
        let id = SerialIdentity::from_config(cfg.port.as_deref(), cfg.usb_serial.as_deref(), &backend)?;
        let argv0 = cfg
            .command
            .clone()
            .unwrap_or_else(|| vec![EsptoolConfig::DEFAULT_COMMAND.to_string()]);
        if argv0.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(RigError::open(
                &backend,
                "`command` is empty: give the program that runs esptool, e.g. [\"esptool\"]",
            ));
        }
        if cfg.chip.trim().is_empty() {
            return Err(RigError::open(
                &backend,
                "`chip` is empty: give esptool's --chip, e.g. \"esp32c3\"",
            ));
        }
        let baud = cfg.baud.unwrap_or(EsptoolConfig::DEFAULT_BAUD);
        if baud == 0 {
            return Err(RigError::open(
                &backend,
                "`baud` is 0: give esptool's --baud, e.g. 460800",
            ));
        }
        Ok(EsptoolProbe {
            cfg: cfg.clone(),
            id,
            argv0,
            cli: cfg.cli.unwrap_or_default(),
            after: cfg.after.unwrap_or_default(),
            baud,
            port_wait: millis(cfg.port_wait_ms.unwrap_or(EsptoolConfig::DEFAULT_PORT_WAIT_MS)),
            timeout: millis(cfg.timeout_ms.unwrap_or(EsptoolConfig::DEFAULT_TIMEOUT_MS)),
        })
    }

    /// The serial device this probe names.
    pub fn identity(&self) -> &SerialIdentity {
        &self.id
    }

    /// The arguments after the command for `op`, on port `port`.
    pub fn args(&self, op: &Op<'_>, port: &Path) -> Vec<String> {
        let v5 = self.cli == EsptoolCli::V5;
        let word = |v5_word: &str| {
            if v5 {
                v5_word.to_string()
            } else {
                v5_word.replace('-', "_")
            }
        };
        if *op == Op::Version {
            return vec!["version".into()];
        }
        let after = match op {
            Op::Reset => "hard-reset",
            Op::Halt => "no-reset",
            _ => match self.after {
                EsptoolAfter::NoReset => "no-reset",
                EsptoolAfter::HardReset => "hard-reset",
            },
        };
        let mut a = vec![
            "--chip".to_string(),
            self.cfg.chip.clone(),
            "--port".into(),
            port.to_string_lossy().into_owned(),
            "--baud".into(),
            self.baud.to_string(),
            "--before".into(),
            word("default-reset"),
            "--after".into(),
            word(after),
        ];
        match op {
            Op::Read { addr, len, file } => a.extend([
                word("read-flash"),
                format!("{addr:#x}"),
                format!("{len:#x}"),
                file.to_string_lossy().into_owned(),
            ]),
            Op::Write { addr, file } => a.extend([
                word("write-flash"),
                format!("{addr:#x}"),
                file.to_string_lossy().into_owned(),
            ]),
            Op::Reset => a.push("run".into()),
            Op::Halt => a.push(word("chip-id")),
            Op::Version => {}
        }
        a
    }

    /// How long `op` over `bytes` bytes may run: the configured allowance plus three times
    /// what the bytes take on the line at the baud rate (10 bits a byte).
    pub fn budget(&self, bytes: usize) -> Duration {
        let line_us = (bytes as u64).saturating_mul(10_000_000) / u64::from(self.baud.max(1));
        self.timeout + Duration::from_micros(line_us.saturating_mul(3))
    }

    /// `esptool version`, checked against the `cli` spelling.
    fn check_version(&self) -> RigResult<()> {
        let out = self.run_raw(&self.args(&Op::Version, Path::new("")), self.timeout, "version")?;
        let Some(major) = version_major(&out) else {
            return Err(RigError::protocol(
                self.describe(),
                format!(
                    "`{} version` printed no esptool version: {}",
                    self.argv0.join(" "),
                    tail(&out)
                ),
            ));
        };
        let fits = match self.cli {
            EsptoolCli::V5 => major >= 5,
            EsptoolCli::V4 => major <= 4,
        };
        if !fits {
            let want = if major >= 5 { "v5" } else { "v4" };
            return Err(RigError::open(
                self.describe(),
                format!("the installed esptool is version {major}, the station's `cli` spelling is not: set cli = \"{want}\""),
            ));
        }
        Ok(())
    }

    /// Waits until the port is there; returns its device path.
    fn wait_for_port(&self) -> RigResult<PathBuf> {
        let end = Instant::now() + self.port_wait;
        loop {
            if let Some(node) = self.id.resolve() {
                return Ok(match &self.id {
                    SerialIdentity::Path(p) => p.clone(),
                    SerialIdentity::UsbSerial(_) => node,
                });
            }
            if Instant::now() >= end {
                return Err(RigError::timeout(
                    self.describe(),
                    format!(
                        "the serial port {} did not come back within {} ms of power-on (is the board \
                         powered and its USB data cable plugged in? raise port_wait_ms if it enumerates slowly)",
                        self.id,
                        self.port_wait.as_millis()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs one esptool operation on the port.
    fn run(&self, op: &Op<'_>, bytes: usize, what: &str) -> RigResult<String> {
        let port = self.wait_for_port()?;
        self.run_raw(&self.args(op, &port), self.budget(bytes), what)
    }

    /// Runs the command with `args`, killing it after `budget`.
    fn run_raw(&self, args: &[String], budget: Duration, what: &str) -> RigResult<String> {
        let name = self.describe();
        let mut cmd = Command::new(&self.argv0[0]);
        cmd.args(&self.argv0[1..])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let shown = format!("{} {}", self.argv0.join(" "), args.join(" "));
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RigError::open(
                    &name,
                    format!(
                        "esptool command {:?} not found: install esptool (`pip install \"esptool>=5,<6\"`) \
                         or set the station's [probe] command",
                        self.argv0[0]
                    ),
                )
            } else {
                RigError::open(&name, format!("cannot run {:?}: {e}", self.argv0[0]))
            }
        })?;
        let output = collect(&mut child);
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if start.elapsed() >= budget => {
                    kill_group(&mut child);
                    let out = output.finish();
                    return Err(RigError::timeout(
                        &name,
                        format!(
                            "{what}: esptool ran longer than {} ms and was killed (`{shown}`); last output: {}",
                            budget.as_millis(),
                            tail(&out)
                        ),
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => {
                    kill_group(&mut child);
                    return Err(RigError::io(&name, format!("{what}: waiting for esptool: {e}")));
                }
            }
        };
        let out = output.finish();
        if !status.success() {
            let code = status
                .code()
                .map_or_else(|| "was killed by a signal".to_string(), |c| format!("exited with {c}"));
            return Err(RigError::io(
                &name,
                format!("{what}: esptool {code} (`{shown}`): {}", tail(&out)),
            ));
        }
        if out.contains("A fatal error occurred") {
            return Err(RigError::io(
                &name,
                format!("{what}: esptool reported a fatal error (`{shown}`): {}", tail(&out)),
            ));
        }
        Ok(out)
    }

    fn scratch_dir(&self) -> RigResult<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix("cutpoint-esptool")
            .tempdir()
            .map_err(|e| RigError::io(self.describe(), format!("creating a temporary directory: {e}")))
    }

    fn read_exact(&self, addr: u32, len: usize) -> RigResult<Vec<u8>> {
        let name = self.describe();
        if u64::from(addr) + len as u64 > 1 << 32 {
            return Err(RigError::unsupported(
                &name,
                format!("{len} bytes at {addr:#x} end past 4 GiB"),
            ));
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        let dir = self.scratch_dir()?;
        let file = dir.path().join(format!("read-{addr:08x}-{len:x}.bin"));
        let what = format!("reading {len} bytes at {addr:#x}");
        let out = self.run(&Op::Read { addr, len, file: &file }, len, &what)?;
        let data = std::fs::read(&file).map_err(|e| {
            RigError::protocol(
                &name,
                format!(
                    "{what}: esptool exited 0 but left no file {} ({e}); last output: {}",
                    file.display(),
                    tail(&out)
                ),
            )
        })?;
        if data.len() != len {
            return Err(RigError::protocol(
                &name,
                format!(
                    "{what}: esptool wrote {} bytes instead of {len}; last output: {}",
                    data.len(),
                    tail(&out)
                ),
            ));
        }
        Ok(data)
    }
}

/// The output of a child, read on two threads so neither pipe fills up.
struct Output {
    rx: mpsc::Receiver<(u8, Vec<u8>)>,
    streams: usize,
}

fn collect(child: &mut Child) -> Output {
    let (tx, rx) = mpsc::channel();
    let mut streams = 0;
    let readers: [(u8, Option<Box<dyn Read + Send>>); 2] = [
        (0, child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>)),
        (1, child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>)),
    ];
    for (i, r) in readers {
        let Some(mut r) = r else { continue };
        let tx = tx.clone();
        streams += 1;
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            let _ = tx.send((i, buf));
        });
    }
    Output { rx, streams }
}

impl Output {
    /// stdout then stderr, as text. A stream still held open by a process that escaped the
    /// group is given up after a second.
    fn finish(self) -> String {
        let mut parts: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..self.streams {
            match self.rx.recv_timeout(Duration::from_secs(1)) {
                Ok((i, b)) => parts[usize::from(i)] = b,
                Err(_) => break,
            }
        }
        let mut s = String::from_utf8_lossy(&parts[0]).into_owned();
        if !parts[1].is_empty() {
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&String::from_utf8_lossy(&parts[1]));
        }
        s
    }
}

fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) on the process group this probe created for the child.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// esptool's last non-empty output lines, joined with ` | `; `(no output)` when there are none.
pub fn tail(out: &str) -> String {
    let lines: Vec<&str> = out
        .lines()
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\r'))
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return "(no output)".into();
    }
    lines[lines.len().saturating_sub(TAIL_LINES)..].join(" | ")
}

/// The major version in esptool's `version` output (`esptool v5.6.0`, `esptool.py v4.7.0`).
pub fn version_major(out: &str) -> Option<u32> {
    out.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("esptool")?;
        let rest = rest.strip_prefix(".py").unwrap_or(rest).trim_start();
        let v = rest.strip_prefix('v')?;
        v.split('.').next()?.parse().ok()
    })
}

impl Probe for EsptoolProbe {
    fn describe(&self) -> String {
        format!("probe/esptool:{} {}", self.id, self.cfg.chip)
    }

    /// Waits for the port to be back (after a power cut); esptool connects at each command.
    fn attach(&mut self) -> RigResult<()> {
        self.wait_for_port().map(|_| ())
    }

    /// Writes whole sectors: esptool erases every sector it writes into, so the bytes of a
    /// partly written sector around `data` are read first and written back.
    fn write_flash(&mut self, addr: u32, data: &[u8], progress: &mut dyn FnMut(usize, usize)) -> RigResult<()> {
        let name = self.describe();
        if data.is_empty() {
            return Ok(());
        }
        let end = u64::from(addr) + data.len() as u64;
        let start = addr - addr % SECTOR;
        let end_aligned = end.div_ceil(u64::from(SECTOR)) * u64::from(SECTOR);
        if end_aligned > 1 << 32 {
            return Err(RigError::unsupported(
                &name,
                format!("{} bytes at {addr:#x} end past 4 GiB", data.len()),
            ));
        }
        let total = (end_aligned - u64::from(start)) as usize;
        let mut buf = Vec::with_capacity(total);
        let head = (addr - start) as usize;
        if head > 0 {
            buf.extend(self.read_exact(start, head)?);
        }
        buf.extend_from_slice(data);
        let tail_len = (end_aligned - end) as usize;
        if tail_len > 0 {
            buf.extend(self.read_exact(end as u32, tail_len)?);
        }
        progress(0, total);
        let dir = self.scratch_dir()?;
        let file = dir.path().join(format!("write-{start:08x}-{total:x}.bin"));
        std::fs::write(&file, &buf).map_err(|e| RigError::io(&name, format!("{}: {e}", file.display())))?;
        let what = format!("writing {total} bytes at {start:#x}");
        self.run(
            &Op::Write {
                addr: start,
                file: &file,
            },
            total,
            &what,
        )?;
        progress(total, total);
        Ok(())
    }

    fn read_flash(&mut self, addr: u32, len: usize) -> RigResult<Vec<u8>> {
        self.read_exact(addr, len)
    }

    fn reset(&mut self) -> RigResult<()> {
        self.run(&Op::Reset, 0, "reset").map(|_| ())
    }

    fn halt(&mut self) -> RigResult<()> {
        self.run(&Op::Halt, 0, "halt").map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutpoint_core::RigErrorKind;

    fn cfg() -> EsptoolConfig {
        EsptoolConfig {
            port: Some("/dev/serial/by-id/usb-Espressif_USB_JTAG_serial_debug_unit_F4:12:FA:4C:2B:10-if00".into()),
            usb_serial: None,
            chip: "esp32c3".into(),
            baud: None,
            command: None,
            cli: None,
            after: None,
            port_wait_ms: None,
            timeout_ms: None,
            regions: vec![],
        }
    }

    #[test]
    fn versions_are_read_from_both_spellings() {
        assert_eq!(version_major("esptool v5.6.0\n5.6.0\n"), Some(5));
        assert_eq!(version_major("esptool.py v4.7.0\n4.7.0\n"), Some(4));
        assert_eq!(
            version_major("WARNING: DEPRECATED: 'esptool.py' is deprecated.\nesptool v5.6.0\n"),
            Some(5)
        );
        assert_eq!(version_major("Usage: something"), None);
    }

    #[test]
    fn tails_keep_the_last_lines() {
        let out = (1..=9).map(|i| format!("line {i}\r\n\n")).collect::<String>();
        assert_eq!(tail(&out), "line 4 | line 5 | line 6 | line 7 | line 8 | line 9");
        assert_eq!(tail("  \n"), "(no output)");
    }

    #[test]
    fn the_budget_grows_with_the_bytes() {
        let p = EsptoolProbe::new(&cfg()).unwrap();
        assert_eq!(p.budget(0), Duration::from_secs(30));
        // 46080 bytes at 460800 baud take one second on the line: three are allowed.
        assert_eq!(p.budget(46_080), Duration::from_secs(33));
    }

    #[test]
    fn settings_are_checked_before_anything_runs() {
        let mut c = cfg();
        c.usb_serial = Some("F4:12:FA:4C:2B:10".into());
        let e = EsptoolProbe::new(&c).err().unwrap();
        assert_eq!(e.kind, RigErrorKind::Open);
        assert!(e.message.contains("not both"), "{e}");
        let mut c = cfg();
        c.command = Some(vec![]);
        assert!(EsptoolProbe::new(&c).err().unwrap().message.contains("`command`"));
        let mut c = cfg();
        c.baud = Some(0);
        assert!(EsptoolProbe::new(&c).err().unwrap().message.contains("`baud`"));
    }
}
