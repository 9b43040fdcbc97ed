//! Watching a run's console: when a boot begins, when the device settles, halts, runs out of
//! boots or time, and the recovery after a cut (with the re-triggered update and the plain
//! reset).

use std::time::{Duration, Instant};

use cutpoint_bench::{Console, ConsoleLine, Probe, RigResult};
use cutpoint_report::LogLine;

use cutpoint_campaign::Markers;

use super::{Bench, BenchConfig, SENTINEL};
use crate::target::RecoveryRules;

/// A console that produces more lines than this in one run is not settling.
pub const MAX_LINES: usize = 200_000;
/// How often the rig looks at the trigger while it reads the console.
pub(super) const POLL: Duration = Duration::from_millis(5);

/// Reads a run's console and decides when it is over.
pub(super) struct Capture<'a> {
    m: &'a Markers,
    t0_us: u64,
    pub(super) lines: Vec<LogLine>,
    boots: u32,
    max_boots: u32,
    /// The first line must come by then.
    silent_until: Option<Instant>,
    deadline: Instant,
    done: bool,
}

impl<'a> Capture<'a> {
    pub(super) fn new(cfg: &'a BenchConfig, t0_us: u64) -> Self {
        let now = Instant::now();
        Capture {
            m: &cfg.markers,
            t0_us,
            lines: Vec::new(),
            boots: 0,
            max_boots: cfg.max_boots.max(1),
            silent_until: Some(cutpoint_bench::clock::after(now, cfg.boot_timeout)),
            deadline: cutpoint_bench::clock::after(now, cfg.settle_timeout),
            done: false,
        }
    }

    /// Starts waiting again (after a re-trigger), keeping the lines.
    pub(super) fn restart(&mut self, cfg: &BenchConfig) {
        let now = Instant::now();
        self.boots = 0;
        self.silent_until = Some(cutpoint_bench::clock::after(now, cfg.boot_timeout));
        self.deadline = cutpoint_bench::clock::after(now, cfg.settle_timeout);
        self.done = false;
    }

    pub(super) fn push(&mut self, line: ConsoleLine) {
        // Lines stamped before the power-on are what the previous run left in the console.
        if line.text == SENTINEL || self.done || line.t_us < self.t0_us {
            return;
        }
        let text = line.text;
        self.silent_until = None;
        if self.m.boot.is_match(&text) {
            self.boots += 1;
            if self.boots > self.max_boots {
                self.done = true;
            }
        }
        if self.m.settled.is_match(&text) || self.m.halt.is_match(&text) {
            self.done = true;
        }
        self.lines.push(LogLine {
            t_us: line.t_us.saturating_sub(self.t0_us),
            text,
        });
        if self.lines.len() >= MAX_LINES {
            self.done = true;
        }
    }

    /// Whether the run is over: settled, halted, out of boots, silent, or out of time.
    pub(super) fn over(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline || self.silent_until.is_some_and(|d| now >= d) {
            self.done = true;
        }
        self.done
    }

    pub(super) fn wait(&self) -> Duration {
        let until = self.silent_until.map_or(self.deadline, |d| d.min(self.deadline));
        until.saturating_duration_since(Instant::now()).min(POLL * 4)
    }
}

impl Bench {
    pub(super) fn read(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        self.trigger.read_line(timeout)
    }

    /// Drops what the console has buffered.
    pub(super) fn drain(&mut self) -> RigResult<()> {
        while self.read(Duration::ZERO)?.is_some() {}
        Ok(())
    }

    /// Reads the console of a run until it is over; re-triggers a reverted update once.
    pub(super) fn recover(
        &mut self,
        cfg: &BenchConfig,
        t0: u64,
        rules: &RecoveryRules,
    ) -> RigResult<(Vec<LogLine>, bool)> {
        let mut cap = Capture::new(cfg, t0);
        self.capture(&mut cap)?;
        let rejected = match (&rules.retrigger_on, cap.lines.last()) {
            (Some(re), Some(last)) => re.is_match(&last.text),
            _ => false,
        };
        if !(rejected && cfg.retrigger) {
            return Ok((cap.lines, false));
        }
        self.transport.stage(&cfg.update)?;
        self.probe.attach()?;
        self.probe.reset()?;
        cap.restart(cfg);
        self.capture(&mut cap)?;
        Ok((cap.lines, true))
    }

    /// Resets the settled device through the probe (no cut, the update left as staged) and reads
    /// its console until it settles again; times count from the power-on at `t_on`.
    pub(super) fn plain_reset(&mut self, cfg: &BenchConfig, t_on: u64) -> RigResult<Vec<LogLine>> {
        self.drain()?;
        self.probe.attach()?;
        let t_reset = self.clock.now_us();
        self.probe.reset()?;
        let mut cap = Capture::new(cfg, t_reset);
        self.capture(&mut cap)?;
        let shift = t_reset.saturating_sub(t_on);
        Ok(cap
            .lines
            .into_iter()
            .map(|l| LogLine {
                t_us: l.t_us + shift,
                text: l.text,
            })
            .collect())
    }

    pub(super) fn capture(&mut self, cap: &mut Capture) -> RigResult<()> {
        while !cap.over() {
            if let Some(line) = self.read(cap.wait())? {
                cap.push(line);
            }
        }
        Ok(())
    }
}
