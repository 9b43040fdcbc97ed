//! One cut: arming the trigger (a transport hold or a console anchor), starting the run it
//! aims into, waiting for it to fire, and holding power off for the dwell.

use std::time::{Duration, Instant};

use cutpoint_bench::trigger::TriggerOutcome;
use cutpoint_bench::{CutCondition, CutTiming, PowerSwitch, Probe, RigError, RigResult, TriggerPlan};
use cutpoint_report::LogLine;
use regex::Regex;

use super::console::{Capture, POLL};
use super::{Bench, BenchAim, BenchConfig, Watch, BACKEND, SENTINEL, SENTINEL_PATTERN};

/// Console lines that arrive this long after the cut (at most half the dwell) mean the cut
/// did not take; earlier ones were on their way when power went.
pub const QUIET_AFTER: Duration = Duration::from_millis(100);
/// How long a cut that races the device settling gets to report itself.
const LATE_CUT: Duration = Duration::from_millis(200);

/// How the wait for a cut ended.
pub(super) enum Wait {
    /// The cut, and the console of the faulted run until then.
    Cut(CutTiming, Vec<LogLine>),
    /// The device settled (or stopped) before the cut was due; its console until then.
    NotReached(Vec<LogLine>),
}

impl Bench {
    /// Disarms everything and forgets outcomes of earlier cuts.
    pub(super) fn quiesce(&mut self) -> RigResult<()> {
        self.trigger.disarm()?;
        self.watch.clear();
        while self.trigger.wait(Duration::ZERO)?.is_some() {}
        Ok(())
    }

    /// Arms `aim` (if any) for the run about to start: the transport hold and the trigger.
    pub(super) fn arm(&mut self, aim: Option<&BenchAim>, cfg: &BenchConfig) -> RigResult<()> {
        self.quiesce()?;
        let hold = match aim {
            Some(BenchAim::Bytes { n }) => Some(*n),
            _ => None,
        };
        self.transport.hold_at(hold)?;
        let Some(aim) = aim else { return Ok(()) };
        let condition = match aim {
            BenchAim::Bytes { n } => {
                let counter = self.transport.delivery_counter().ok_or_else(|| {
                    RigError::unsupported(
                        self.transport.describe(),
                        "this transport has no live byte counter, so it cannot fire byte cuts; use marker offsets",
                    )
                })?;
                CutCondition::BytesDelivered {
                    counter,
                    bytes: *n,
                    delay: Duration::ZERO,
                }
            }
            BenchAim::Marker { delay, .. } => CutCondition::ConsoleMarker {
                pattern: Regex::new(SENTINEL_PATTERN)
                    .map_err(|e| RigError::unsupported(BACKEND, format!("sentinel pattern: {e}")))?,
                delay: *delay,
            },
        };
        self.trigger.arm(TriggerPlan {
            condition,
            timeout: cfg.settle_timeout.saturating_add(cfg.boot_timeout),
            restore_after: None,
        })
    }

    /// Starts counting anchor lines from the power-on at `t0_us` (after [`Bench::arm`]).
    pub(super) fn watch(&mut self, aim: Option<&BenchAim>, t0_us: u64) {
        if let Some(BenchAim::Marker { pattern, nth, .. }) = aim {
            self.watch.set(Watch {
                pattern: pattern.clone(),
                nth: *nth,
                t0_us,
            });
        }
    }

    /// Offers the update and resets the device so it starts the OTA. Returns the power-on instant.
    pub(super) fn start_update(&mut self, aim: Option<&BenchAim>, cfg: &BenchConfig) -> RigResult<u64> {
        self.transport.stage(&cfg.update)?;
        self.drain()?;
        self.arm(aim, cfg)?;
        let t0 = self.clock.now_us();
        self.watch(aim, t0);
        self.probe.reset()?;
        Ok(t0)
    }

    /// Turns power back on after a cut, with `aim` armed for the run that starts.
    pub(super) fn power_on(&mut self, aim: Option<&BenchAim>, cfg: &BenchConfig) -> RigResult<u64> {
        if matches!(aim, Some(BenchAim::Bytes { .. })) {
            // A new count of delivered bytes for this run.
            self.transport.stage(&cfg.update)?;
        }
        self.arm(aim, cfg)?;
        let t0 = self.clock.now_us();
        self.watch(aim, t0);
        self.switch.set_power(true)?;
        Ok(t0)
    }

    /// Reads the console until the armed cut fires or the device is done without it.
    pub(super) fn wait_for_cut(&mut self, cfg: &BenchConfig, t0: u64) -> RigResult<Wait> {
        let mut cap = Capture::new(cfg, t0);
        loop {
            match self.trigger.wait(Duration::ZERO)? {
                Some(TriggerOutcome::Cut(rec)) => return Ok(Wait::Cut(rec, cap.lines)),
                Some(TriggerOutcome::NotReached) => return Ok(Wait::NotReached(cap.lines)),
                None => {}
            }
            if let Some(line) = self.read(POLL)? {
                cap.push(line);
            }
            if cap.over() {
                break;
            }
        }
        self.trigger.disarm()?;
        self.watch.clear();
        // A cut that was due as the device settled may still come in.
        match self.trigger.wait(LATE_CUT)? {
            Some(TriggerOutcome::Cut(rec)) => Ok(Wait::Cut(rec, cap.lines)),
            _ => Ok(Wait::NotReached(cap.lines)),
        }
    }

    /// Keeps power off for the dwell and checks the cut took: the switch does not read back on
    /// and the console goes quiet. Returns the lines that arrived in the grace after the cut:
    /// printed before the device died (in the adapter's buffer, or on the wire, when power went).
    pub(super) fn dwell(&mut self, cfg: &BenchConfig, rec: &CutTiming) -> RigResult<Vec<LogLine>> {
        self.transport.hold_at(None)?;
        self.watch.clear();
        let off_at = self.clock.instant_at(rec.actual_us);
        let until = cutpoint_bench::clock::after(off_at, cfg.dwell);
        let grace = QUIET_AFTER.min(cfg.dwell / 2);
        let quiet_from = rec.actual_us.saturating_add(grace.as_micros() as u64);
        let mut talking = Vec::new();
        let mut in_flight = Vec::new();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Some(l) = self.read(left)? {
                if l.text == SENTINEL {
                    continue;
                }
                if l.t_us > quiet_from {
                    talking.push(l.text);
                } else {
                    in_flight.push(LogLine {
                        t_us: l.t_us,
                        text: l.text,
                    });
                }
            }
        }
        if let Ok(Some(true)) = self.switch.read_back() {
            return Err(RigError::io(
                self.switch.describe(),
                "the switch reads back ON while the cut should hold power off; check the relay's channel",
            ));
        }
        // The supply rail itself, where the station wires a sense: a relay stuck closed reads
        // back OFF and may leave a device quiet through the dwell that then reboots on its own.
        if self.switch.sense()? == Some(true) {
            return Err(RigError::io(
                self.switch.describe(),
                "the cut did not take: the supply sense reads the target powered at the end of the dwell while the cut \
                 should hold power off (a relay whose contacts stayed closed, or a second supply through USB or the \
                 probe); check the relay and its wiring (`cutpoint doctor`)",
            ));
        }
        if let Some(first) = talking.first() {
            return Err(RigError::io(
                self.switch.describe(),
                format!(
                    "the cut did not take: the console kept talking while power was off ({} lines, e.g. {first:?}); \
                     check the relay wiring and that the target is not fed through USB or the probe (`cutpoint doctor`)",
                    talking.len()
                ),
            ));
        }
        Ok(in_flight)
    }

    /// Checks power came back after a cut, where the switch can tell (a read-back, a supply
    /// sense): a switch that fails to turn power on again leaves a device that never boots,
    /// and that is the rig's fault, never the device's failure. Called once the run after
    /// power-on has been heard out, long after the relay moved.
    pub(super) fn check_restored(&mut self) -> RigResult<()> {
        if let Ok(Some(false)) = self.switch.read_back() {
            return Err(RigError::io(
                self.switch.describe(),
                "power did not come back: the switch reads back OFF after it was told to restore power; check the \
                 relay's channel and its supply (`cutpoint doctor`)",
            ));
        }
        if self.switch.sense()? == Some(false) {
            return Err(RigError::io(
                self.switch.describe(),
                "power did not come back: the supply sense reads the target unpowered after power was restored, so \
                 whatever the device did not print was never run; check the relay and its wiring (`cutpoint doctor`)",
            ));
        }
        Ok(())
    }

    /// Checks the console's link held through the run after power-on, where the console can
    /// tell (a serial adapter): an adapter unplugged, or gone with a USB hub, leaves a console
    /// without a line, and a device that printed into it is not a device that booted nothing.
    pub(super) fn check_console_link(&self) -> RigResult<()> {
        match &self.link {
            Some(link) if !link.connected() => Err(RigError::io(
                format!("console {}", link.device()),
                "the console's link is down at the end of the run after the cut, so what the device printed \
                 then was lost; check the serial adapter, its cable and hub (`cutpoint doctor`)",
            )),
            _ => Ok(()),
        }
    }

    /// Leaves the device powered and nothing armed after a failed run.
    pub(super) fn recover_from_error(&mut self) {
        let _ = self.trigger.disarm();
        self.watch.clear();
        let _ = self.transport.hold_at(None);
        if let Err(e) = self.switch.set_power(true) {
            tracing::error!("could not restore the target's power: {e}");
        }
    }
}
