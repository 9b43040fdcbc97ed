//! Marker-to-cut latency of the cut trigger on this machine.
//!
//! 1. Scripted console: a line is stamped and handed to the trigger; latency is from the
//!    stamp (the due moment) to the switch call returning.
//! 2. Serial console on a pseudo-terminal: the marker is written to the terminal; latency is
//!    from just before the write to the switch call returning (reader thread, line assembly,
//!    channel hop and trigger thread included).
//! 3. Delayed cut (marker + 2 ms): how close to the due moment the cut lands.
//!
//! The switch is a fake that returns at once, so the figures are the rig's software path only;
//! add the relay's own switching time (measured by `cutpoint doctor`).

use std::io::Write;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cutpoint_bench::config::SerialConsoleConfig;
use cutpoint_bench::console::serial::SerialConsole;
use cutpoint_bench::trigger::{latency_stats, CutCondition, Trigger, TriggerOutcome, TriggerPlan};
use cutpoint_bench::{BenchClock, Console, ConsoleLine, PowerSwitch, RigResult, SharedSwitch};
use regex::Regex;

struct Fed(Receiver<ConsoleLine>);

impl Console for Fed {
    fn describe(&self) -> String {
        "fed".into()
    }
    fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        Ok(self.0.recv_timeout(timeout).ok())
    }
}

struct Fake {
    clock: BenchClock,
    last_off: Arc<Mutex<u64>>,
}

impl PowerSwitch for Fake {
    fn describe(&self) -> String {
        "fake".into()
    }
    fn set_power(&mut self, on: bool) -> RigResult<()> {
        if !on {
            *self.last_off.lock().unwrap_or_else(|p| p.into_inner()) = self.clock.now_us();
        }
        Ok(())
    }
}

fn plan(delay: Duration) -> TriggerPlan {
    TriggerPlan {
        condition: CutCondition::ConsoleMarker {
            pattern: Regex::new("^I: Erasing slot").expect("constant pattern"),
            delay,
        },
        timeout: Duration::from_secs(2),
        restore_after: None,
    }
}

fn report(title: &str, lat: &[i64]) {
    match latency_stats(lat) {
        Some(s) => println!(
            "{title:<44} n={:<5} p50={:>6} µs  p99={:>6} µs  max={:>6} µs  min={:>6} µs",
            s.count, s.p50_us, s.p99_us, s.max_us, s.min_us
        ),
        None => println!("{title}: no cuts"),
    }
}

fn scripted(n: usize, delay: Duration) -> Vec<i64> {
    let clock = BenchClock::new();
    let (tx, rx) = mpsc::channel();
    let last = Arc::new(Mutex::new(0));
    let sw = SharedSwitch::new(Box::new(Fake { clock, last_off: last }));
    let Ok(mut trig) = Trigger::spawn(Box::new(Fed(rx)), sw, clock) else {
        return vec![];
    };
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        if trig.arm(plan(delay)).is_err() {
            break;
        }
        let _ = tx.send(ConsoleLine {
            t_us: clock.now_us(),
            text: format!("I: chunk {i}"),
        });
        std::thread::sleep(Duration::from_micros(200));
        let _ = tx.send(ConsoleLine {
            t_us: clock.now_us(),
            text: "I: Erasing slot 1".into(),
        });
        if let Ok(Some(TriggerOutcome::Cut(rec))) = trig.wait(Duration::from_secs(2)) {
            lat.push(rec.latency_us());
        }
        while let Ok(Some(_)) = trig.read_line(Duration::ZERO) {}
    }
    lat
}

fn over_pty(n: usize) -> Vec<i64> {
    let Ok(p) = nix::pty::openpty(None, None) else {
        return vec![];
    };
    if let Ok(mut t) = nix::sys::termios::tcgetattr(&p.slave) {
        nix::sys::termios::cfmakeraw(&mut t);
        let _ = nix::sys::termios::tcsetattr(&p.slave, nix::sys::termios::SetArg::TCSANOW, &t);
    }
    let Ok(path) = nix::unistd::ttyname(&p.slave) else {
        return vec![];
    };
    let mut master = std::fs::File::from(p.master);
    let clock = BenchClock::new();
    let cfg = SerialConsoleConfig {
        port: Some(path.to_string_lossy().into()),
        usb_serial: None,
        baud: 115200,
        dtr: None,
        rts: None,
    };
    let Ok(console) = SerialConsole::open(&cfg, clock) else {
        return vec![];
    };
    let last = Arc::new(Mutex::new(0));
    let sw = SharedSwitch::new(Box::new(Fake {
        clock,
        last_off: last.clone(),
    }));
    let Ok(mut trig) = Trigger::spawn(Box::new(console), sw, clock) else {
        return vec![];
    };
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        if trig.arm(plan(Duration::ZERO)).is_err() {
            break;
        }
        let _ = write!(master, "I: chunk {i}\r\n");
        std::thread::sleep(Duration::from_micros(300));
        let written = clock.now_us();
        let _ = master.write_all(b"I: Erasing slot 1\r\n");
        if let Ok(Some(TriggerOutcome::Cut(_))) = trig.wait(Duration::from_secs(2)) {
            let off = *last.lock().unwrap_or_else(|p| p.into_inner());
            lat.push(off as i64 - written as i64);
        }
        while let Ok(Some(_)) = trig.read_line(Duration::ZERO) {}
    }
    lat
}

fn main() {
    // `cargo test --benches` runs this too; keep that run short.
    let quick = std::env::args().any(|a| a == "--test") || std::env::var_os("CUTPOINT_BENCH_QUICK").is_some();
    let n = if quick { 20 } else { 1000 };
    println!("trigger latency on this machine (fake switch; add the relay's switching time)");
    report("marker -> cut, scripted console", &scripted(n, Duration::ZERO));
    report("marker -> cut, serial console over a pty", &over_pty(n));
    report(
        "marker + 2 ms -> cut (lateness), scripted",
        &scripted(n / 2, Duration::from_millis(2)),
    );
}
