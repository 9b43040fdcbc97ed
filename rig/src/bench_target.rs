//! A lab bench as a [`Target`]: the station's power switch, console, debug probe and OTA
//! transport driving a real device through the same control run and cut chains as the
//! simulated board.
//!
//! Every run starts from the baseline, written through the probe: the baseline image in the
//! primary slot, the secondary slot and the scratch area erased. The update is staged on the
//! transport and the device reset, so its application fetches it (HTTP) or gets it pushed
//! (SMP, probe write). Cuts go through the cut trigger: a byte aim holds the transport at that
//! byte and cuts once the delivery counter reaches it; a time aim waits for its anchor, the nth
//! console line matching a pattern since power-on, plus a delay. Power stays off for the dwell,
//! then the device recovers while the rig reads its console until it settles, and the probe
//! reads the slots back. Console times and landings count microseconds from the power-on of
//! the run they belong to, on the bench clock, so a landing's requested and actual instants
//! show the relay's latency.
//!
//! The bench cannot see flash operations, so cuts aimed at one (`every_op`) are unsupported,
//! and it cannot tell two post-cut states apart: every cut recovers on its own.

mod anchor;

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cutpoint_bench::config::StationBackends;
use cutpoint_bench::trigger::TriggerOutcome;
use cutpoint_bench::{
    BenchClock, Console, ConsoleLine, CutCondition, CutTiming, OtaTransport, PowerGuard, PowerSwitch, Probe, RigError,
    RigErrorKind, RigResult, SharedSwitch, Trigger, TriggerPlan,
};
use cutpoint_campaign::{Aim, CutPoint, FileError, Markers, RestorePolicy, Role, StationFile};
use cutpoint_report::{Landing, LogLine, RecordedFault};
use fut::layout::Layout;
use regex::Regex;

pub use crate::flash_map::station_profile;
pub use anchor::{AnchorConsole, AnchorWatch, Watch, SENTINEL, SENTINEL_PATTERN};

use crate::target::{ControlObservation, Observation, RecoveryRules, Target};

const BACKEND: &str = "bench";
/// Console lines that arrive this long after the cut (at most half the dwell) mean the cut
/// did not take; earlier ones were on their way when power went.
pub const QUIET_AFTER: Duration = Duration::from_millis(100);
/// A console that produces more lines than this in one run is not settling.
pub const MAX_LINES: usize = 200_000;
/// How often the rig looks at the trigger while it reads the console.
const POLL: Duration = Duration::from_millis(5);
/// How long a cut that races the device settling gets to report itself.
const LATE_CUT: Duration = Duration::from_millis(200);

/// What a campaign asks of the bench.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// For reports, e.g. the station's name.
    pub name: String,
    /// The device's flash map.
    pub layout: Layout,
    /// Written into the primary slot before every run.
    pub baseline: Arc<Vec<u8>>,
    /// Whether that rewrites the areas in full or only the sectors that differ.
    pub restore: RestorePolicy,
    /// Staged on the transport for every run.
    pub update: Arc<Vec<u8>>,
    /// The update is healthy: when the device reverts it after a cut, re-trigger it once.
    pub retrigger: bool,
    /// Power-off time of a cut.
    pub dwell: Duration,
    /// Longest wait from power-on (or reset) for the device's first console line; a device
    /// that stays silent this long is left alone. Once it talks, only `settle_timeout` applies
    /// (a swap may take long without a word).
    pub boot_timeout: Duration,
    /// Longest wait for the device to settle.
    pub settle_timeout: Duration,
    /// Boots after which a device that has not settled is left alone.
    pub max_boots: u32,
    /// The campaign's console markers: a boot begins, the device settled, nothing bootable.
    pub markers: Markers,
}

/// One bench of each kind of part, opened: what [`BenchTarget::from_parts`] drives.
pub struct BenchParts {
    /// Stamps console lines; shared by every part.
    pub clock: BenchClock,
    pub power: Box<dyn PowerSwitch>,
    pub console: Box<dyn Console>,
    pub probe: Box<dyn Probe>,
    pub transport: Box<dyn OtaTransport>,
}

/// How a bench fires one cut.
#[derive(Debug, Clone)]
pub enum BenchAim {
    /// Hold the transport at `n` bytes and cut once the delivery counter reaches `n`.
    Bytes { n: u64 },
    /// `delay` after the `nth` console line matching `pattern` since power-on (no pattern: after
    /// power-on itself).
    Marker {
        pattern: Option<Regex>,
        nth: u32,
        delay: Duration,
    },
}

impl BenchAim {
    pub fn describe(&self) -> String {
        match self {
            BenchAim::Bytes { n } => format!("{n} bytes delivered"),
            BenchAim::Marker {
                pattern: None, delay, ..
            } => format!("power-on + {} µs", delay.as_micros()),
            BenchAim::Marker {
                pattern: Some(p),
                nth,
                delay,
            } => format!("line #{nth} matching /{p}/ + {} µs", delay.as_micros()),
        }
    }
}

/// How the bench fires `point`: byte aims through the transport's counter, every other aim
/// through its console anchor. An operation aim has no anchor and cannot be fired on a bench.
pub fn bench_aim(point: &CutPoint) -> RigResult<BenchAim> {
    match (point.aim, &point.anchor) {
        (Aim::Byte { n }, _) => Ok(BenchAim::Bytes { n }),
        (_, Some(a)) => {
            let pattern = Regex::new(&a.pattern).map_err(|e| {
                RigError::unsupported(
                    BACKEND,
                    format!("cut {}: anchor /{}/ is not a pattern: {e}", point.id, a.pattern),
                )
            })?;
            Ok(BenchAim::Marker {
                pattern: Some(pattern),
                nth: a.nth.max(1),
                delay: Duration::from_micros(a.delay_us),
            })
        }
        (Aim::Time { us }, None) => Ok(BenchAim::Marker {
            pattern: None,
            nth: 1,
            delay: Duration::from_micros(us),
        }),
        (Aim::Op { .. }, None) => Err(RigError::unsupported(
            BACKEND,
            format!(
                "cut {}: a bench cannot aim at a flash operation (it has no operation journal); use sectors or ms offsets",
                point.id
            ),
        )),
    }
}

/// The flash the rig reads back after a run: from the lowest of the slots and the scratch area
/// to the highest end. Returns the base address and the length.
pub fn dump_range(layout: &Layout) -> (u32, usize) {
    let areas = [layout.primary, layout.secondary, layout.scratch];
    let start = areas.iter().map(|a| a.offset).min().unwrap_or(0);
    let end = areas.iter().map(|a| a.end()).max().unwrap_or(start);
    (start, end.saturating_sub(start) as usize)
}

/// The writes that restore the baseline: the image padded with erased bytes over the primary
/// slot, erased bytes over the secondary slot and the scratch area. `None` when the image does
/// not fit the primary slot.
pub fn baseline_writes(layout: &Layout, baseline: &[u8]) -> Option<Vec<(u32, Vec<u8>)>> {
    let size = layout.primary.size as usize;
    if baseline.len() > size {
        return None;
    }
    let mut primary = vec![0xFF; size];
    primary[..baseline.len()].copy_from_slice(baseline);
    Some(vec![
        (layout.primary.offset, primary),
        (layout.secondary.offset, vec![0xFF; layout.secondary.size as usize]),
        (layout.scratch.offset, vec![0xFF; layout.scratch.size as usize]),
    ])
}

/// The runs of whole sectors where `current` differs from `wanted` (both starting at `addr`,
/// a sector boundary), adjacent sectors merged: `(address, range into wanted)`.
pub fn changed_sectors(addr: u32, wanted: &[u8], current: &[u8], sector_size: u32) -> Vec<(u32, Range<usize>)> {
    let sector = (sector_size as usize).max(1);
    let mut runs: Vec<(u32, Range<usize>)> = Vec::new();
    for start in (0..wanted.len()).step_by(sector) {
        let end = (start + sector).min(wanted.len());
        if current.get(start..end) == Some(&wanted[start..end]) {
            continue;
        }
        match runs.last_mut() {
            Some((_, r)) if r.end == start => r.end = end,
            _ => runs.push((addr.wrapping_add(start as u32), start..end)),
        }
    }
    runs
}

/// Decodes a station file's backend tables and checks them as far as that needs no hardware
/// ([`cutpoint_bench::validate`]); every error names the station file, line, column and key.
pub fn station_backends(st: &StationFile) -> Result<StationBackends, Vec<FileError>> {
    let mut errors = Vec::new();
    let power = st.decode_role(Role::Power).map_err(|e| errors.push(e)).ok();
    let console = st.decode_role(Role::Console).map_err(|e| errors.push(e)).ok();
    let transport = st.decode_role(Role::Transport).map_err(|e| errors.push(e)).ok();
    let probe = if st.has_role(Role::Probe) {
        st.decode_role(Role::Probe).map_err(|e| errors.push(e)).ok()
    } else {
        None
    };
    match (power, console, transport) {
        (Some(power), Some(console), Some(transport)) if errors.is_empty() => {
            let backends = StationBackends {
                name: Some(st.name.clone()),
                power,
                console,
                probe,
                transport,
                off_dwell_ms: st.dwell_ms,
            };
            let problems = cutpoint_bench::validate::problems(&backends);
            if problems.is_empty() {
                return Ok(backends);
            }
            Err(problems
                .into_iter()
                .map(|p| {
                    let role = Role::ALL
                        .into_iter()
                        .find(|r| r.name() == p.role)
                        .unwrap_or(Role::Power);
                    st.locate(role, p.field, p.message)
                })
                .collect())
        }
        _ => Err(errors),
    }
}

/// The fingerprint of a flash dump: equal dumps decode the same.
pub fn fingerprint(dump: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(dump)[..16])
}

/// A lab bench running the device under test.
pub struct BenchTarget {
    config: BenchConfig,
    describe: String,
    bench: Mutex<Bench>,
}

struct Bench {
    clock: BenchClock,
    switch: SharedSwitch,
    trigger: Trigger,
    watch: AnchorWatch,
    probe: Box<dyn Probe>,
    transport: Box<dyn OtaTransport>,
    /// Restores power when the target is dropped; declared last so the trigger stops first.
    _guard: PowerGuard,
}

/// How the wait for a cut ended.
enum Wait {
    /// The cut, and the console of the faulted run until then.
    Cut(CutTiming, Vec<LogLine>),
    /// The device settled (or stopped) before the cut was due; its console until then.
    NotReached(Vec<LogLine>),
}

impl BenchTarget {
    /// Drives a bench made of already opened parts. Power is switched on and guarded: it is
    /// restored when the target is dropped and when the process is signalled.
    pub fn from_parts(parts: BenchParts, config: BenchConfig) -> RigResult<BenchTarget> {
        let guard = PowerGuard::new(parts.power)?;
        Self::assemble(parts.clock, guard, parts.console, parts.probe, parts.transport, config)
    }

    /// Opens a station's backends and drives them. The station needs a probe.
    pub fn open(station: &StationBackends, config: BenchConfig) -> RigResult<BenchTarget> {
        if station.probe.is_none() {
            return Err(RigError::open(
                BACKEND,
                "the station has no [probe]: the rig needs one to restore the baseline and read the slots",
            ));
        }
        let st = cutpoint_bench::open_station(station, BenchClock::new())?;
        let probe = st
            .probe
            .map(|p| Box::new(p.probe) as Box<dyn Probe>)
            .ok_or_else(|| RigError::open(BACKEND, "the station's probe did not open"))?;
        Self::assemble(st.clock, st.power, st.console, probe, st.transport, config)
    }

    fn assemble(
        clock: BenchClock,
        guard: PowerGuard,
        console: Box<dyn Console>,
        probe: Box<dyn Probe>,
        transport: Box<dyn OtaTransport>,
        config: BenchConfig,
    ) -> RigResult<BenchTarget> {
        if baseline_writes(&config.layout, &config.baseline).is_none() {
            return Err(RigError::unsupported(
                BACKEND,
                format!(
                    "the baseline image ({} bytes) does not fit the primary slot ({} bytes)",
                    config.baseline.len(),
                    config.layout.primary.size
                ),
            ));
        }
        guard.restore()?;
        let switch = guard.switch();
        let describe = format!(
            "bench {} (power {}, console {}, probe {}, transport {})",
            config.name,
            switch.describe(),
            console.describe(),
            probe.describe(),
            transport.describe()
        );
        let watch = AnchorWatch::default();
        let trigger = Trigger::spawn(
            Box::new(AnchorConsole::new(console, watch.clone())),
            switch.clone(),
            clock,
        )?;
        Ok(BenchTarget {
            config,
            describe,
            bench: Mutex::new(Bench {
                clock,
                switch,
                trigger,
                watch,
                probe,
                transport,
                _guard: guard,
            }),
        })
    }

    pub fn config(&self) -> &BenchConfig {
        &self.config
    }

    fn bench(&self) -> MutexGuard<'_, Bench> {
        self.bench.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Reads a run's console and decides when it is over.
struct Capture<'a> {
    m: &'a Markers,
    t0_us: u64,
    lines: Vec<LogLine>,
    boots: u32,
    max_boots: u32,
    /// The first line must come by then.
    silent_until: Option<Instant>,
    deadline: Instant,
    done: bool,
}

impl<'a> Capture<'a> {
    fn new(cfg: &'a BenchConfig, t0_us: u64) -> Self {
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
    fn restart(&mut self, cfg: &BenchConfig) {
        let now = Instant::now();
        self.boots = 0;
        self.silent_until = Some(cutpoint_bench::clock::after(now, cfg.boot_timeout));
        self.deadline = cutpoint_bench::clock::after(now, cfg.settle_timeout);
        self.done = false;
    }

    fn push(&mut self, line: ConsoleLine) {
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
    fn over(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline || self.silent_until.is_some_and(|d| now >= d) {
            self.done = true;
        }
        self.done
    }

    fn wait(&self) -> Duration {
        let until = self.silent_until.map_or(self.deadline, |d| d.min(self.deadline));
        until.saturating_duration_since(Instant::now()).min(POLL * 4)
    }
}

impl Bench {
    fn read(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        self.trigger.read_line(timeout)
    }

    /// Drops what the console has buffered.
    fn drain(&mut self) -> RigResult<()> {
        while self.read(Duration::ZERO)?.is_some() {}
        Ok(())
    }

    /// Disarms everything and forgets outcomes of earlier cuts.
    fn quiesce(&mut self) -> RigResult<()> {
        self.trigger.disarm()?;
        self.watch.clear();
        while self.trigger.wait(Duration::ZERO)?.is_some() {}
        Ok(())
    }

    /// Power on, the baseline in flash, the update not yet offered.
    fn restore_baseline(&mut self, cfg: &BenchConfig) -> RigResult<()> {
        self.quiesce()?;
        self.transport.hold_at(None)?;
        self.switch.set_power(true)?;
        self.probe.attach()?;
        let writes = baseline_writes(&cfg.layout, &cfg.baseline)
            .ok_or_else(|| RigError::unsupported(BACKEND, "the baseline image does not fit the primary slot"))?;
        for (addr, data) in writes {
            match cfg.restore {
                RestorePolicy::Full => self.probe.write_flash(addr, &data, &mut |_, _| {})?,
                RestorePolicy::ChangedSectors => {
                    // A running bootloader could change a sector after it compared equal.
                    self.probe.halt()?;
                    let current = self.probe.read_flash(addr, data.len())?;
                    for (at, range) in changed_sectors(addr, &data, &current, cfg.layout.sector_size) {
                        self.probe.write_flash(at, &data[range], &mut |_, _| {})?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Arms `aim` (if any) for the run about to start: the transport hold and the trigger.
    fn arm(&mut self, aim: Option<&BenchAim>, cfg: &BenchConfig) -> RigResult<()> {
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
    fn watch(&mut self, aim: Option<&BenchAim>, t0_us: u64) {
        if let Some(BenchAim::Marker { pattern, nth, .. }) = aim {
            self.watch.set(Watch {
                pattern: pattern.clone(),
                nth: *nth,
                t0_us,
            });
        }
    }

    /// Offers the update and resets the device so it starts the OTA. Returns the power-on instant.
    fn start_update(&mut self, aim: Option<&BenchAim>, cfg: &BenchConfig) -> RigResult<u64> {
        self.transport.stage(&cfg.update)?;
        self.drain()?;
        self.arm(aim, cfg)?;
        let t0 = self.clock.now_us();
        self.watch(aim, t0);
        self.probe.reset()?;
        Ok(t0)
    }

    /// Turns power back on after a cut, with `aim` armed for the run that starts.
    fn power_on(&mut self, aim: Option<&BenchAim>, cfg: &BenchConfig) -> RigResult<u64> {
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
    fn wait_for_cut(&mut self, cfg: &BenchConfig, t0: u64) -> RigResult<Wait> {
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
    /// and the console goes quiet.
    fn dwell(&mut self, cfg: &BenchConfig, rec: &CutTiming) -> RigResult<()> {
        self.transport.hold_at(None)?;
        self.watch.clear();
        let off_at = self.clock.instant_at(rec.actual_us);
        let until = cutpoint_bench::clock::after(off_at, cfg.dwell);
        let grace = QUIET_AFTER.min(cfg.dwell / 2);
        let quiet_from = rec.actual_us.saturating_add(grace.as_micros() as u64);
        let mut talking = Vec::new();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Some(l) = self.read(left)? {
                if l.text != SENTINEL && l.t_us > quiet_from {
                    talking.push(l.text);
                }
            }
        }
        if let Ok(Some(true)) = self.switch.read_back() {
            return Err(RigError::io(
                self.switch.describe(),
                "the switch reads back ON while the cut should hold power off; check the relay's channel",
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
        Ok(())
    }

    /// Reads the console of a run until it is over; re-triggers a reverted update once.
    fn recover(&mut self, cfg: &BenchConfig, t0: u64, rules: &RecoveryRules) -> RigResult<(Vec<LogLine>, bool)> {
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
    fn plain_reset(&mut self, cfg: &BenchConfig, t_on: u64) -> RigResult<Vec<LogLine>> {
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

    fn capture(&mut self, cap: &mut Capture) -> RigResult<()> {
        while !cap.over() {
            if let Some(line) = self.read(cap.wait())? {
                cap.push(line);
            }
        }
        Ok(())
    }

    /// Reads the slots and the scratch area through the probe.
    fn dump(&mut self, cfg: &BenchConfig) -> RigResult<(Arc<Vec<u8>>, u32)> {
        let (base, len) = dump_range(&cfg.layout);
        self.probe.attach()?;
        let data = self.probe.read_flash(base, len)?;
        if data.len() != len {
            return Err(RigError::protocol(
                self.probe.describe(),
                format!("asked for {len} bytes at {base:#x}, got {}", data.len()),
            ));
        }
        Ok((Arc::new(data), base))
    }

    /// Leaves the device powered and nothing armed after a failed run.
    fn recover_from_error(&mut self) {
        let _ = self.trigger.disarm();
        self.watch.clear();
        let _ = self.transport.hold_at(None);
        if let Err(e) = self.switch.set_power(true) {
            tracing::error!("could not restore the target's power: {e}");
        }
    }

    fn control(&mut self, cfg: &BenchConfig) -> RigResult<ControlObservation> {
        self.restore_baseline(cfg)?;
        let t0 = self.start_update(None, cfg)?;
        let mut cap = Capture::new(cfg, t0);
        self.capture(&mut cap)?;
        let (dump, dump_base) = self.dump(cfg)?;
        Ok(ControlObservation {
            console: cap.lines,
            ops: None,
            dump,
            dump_base,
        })
    }

    fn run_chain(&mut self, cfg: &BenchConfig, aims: &[BenchAim], rules: &RecoveryRules) -> RigResult<Observation> {
        self.restore_baseline(cfg)?;
        let mut landings = Vec::with_capacity(aims.len());
        // The console of a run whose cut never fired: the device was done without it.
        let mut unfired: Option<Vec<LogLine>> = None;
        let mut committed = None;
        for (i, aim) in aims.iter().enumerate() {
            let t0 = if i == 0 {
                self.start_update(Some(aim), cfg)?
            } else {
                self.power_on(Some(aim), cfg)?
            };
            match self.wait_for_cut(cfg, t0)? {
                Wait::Cut(rec, before) => {
                    // Once any run of the chain saw the update commit, only the new image may run.
                    let seen = rules.commit.as_ref().is_some_and(|m| m.seen_by(&before, rec.actual_us));
                    committed = Some(committed.unwrap_or(false) || seen);
                    landings.push(Landing {
                        fault: RecordedFault::PowerCut,
                        requested_us: Some(rec.requested_us.saturating_sub(t0)),
                        actual_us: rec.actual_us.saturating_sub(t0),
                        op: None,
                        op_point: None,
                        torn: None,
                    });
                    self.dwell(cfg, &rec)?;
                }
                Wait::NotReached(lines) => {
                    let end = lines.last().map_or(0, |l| l.t_us);
                    landings.push(Landing {
                        fault: RecordedFault::PowerCut,
                        requested_us: None,
                        actual_us: end,
                        op: None,
                        op_point: None,
                        torn: Some(format!(
                            "the cut never fired: the device was done before {}",
                            aim.describe()
                        )),
                    });
                    unfired = Some(lines);
                    break;
                }
            }
        }
        let was_unfired = unfired.is_some();
        let (mut console, retriggered, t_on) = match unfired {
            Some(lines) => (lines, false, None),
            None => {
                let t_on = self.power_on(None, cfg)?;
                let (lines, retriggered) = self.recover(cfg, t_on, rules)?;
                (lines, retriggered, Some(t_on))
            }
        };
        // Only a device that settled after the cut gets the plain reset.
        let settled = console.last().is_some_and(|l| cfg.markers.settled.is_match(&l.text));
        let reset_from = match t_on {
            Some(t_on) if rules.reset_after && settled => {
                let at = console.len();
                let after = self.plain_reset(cfg, t_on)?;
                console.extend(after);
                Some(at)
            }
            _ => None,
        };
        let (dump, dump_base) = self.dump(cfg)?;
        let final_state = Some(fingerprint(&dump));
        Ok(Observation {
            landings,
            console,
            dump,
            dump_base,
            post_cut_state: None,
            final_state,
            same_state_as: None,
            committed,
            retriggered,
            unfired: was_unfired,
            reset_from,
        })
    }
}

impl Target for BenchTarget {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn workers(&self) -> usize {
        1
    }

    fn control(&self) -> Result<ControlObservation, RigError> {
        let mut bench = self.bench();
        let r = bench.control(&self.config);
        if r.is_err() {
            bench.recover_from_error();
        }
        r
    }

    fn run_chain(
        &self,
        _worker: usize,
        _id: &str,
        chain: &[&CutPoint],
        rules: &RecoveryRules,
    ) -> Result<Observation, RigError> {
        if chain.is_empty() {
            return Err(RigError::new(
                BACKEND,
                RigErrorKind::Unsupported,
                "a cut chain needs at least one cut",
            ));
        }
        let aims = chain.iter().map(|p| bench_aim(p)).collect::<RigResult<Vec<_>>>()?;
        let mut bench = self.bench();
        let r = bench.run_chain(&self.config, &aims, rules);
        if r.is_err() {
            bench.recover_from_error();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutpoint_campaign::{Anchor, OpPoint};
    use cutpoint_sim::BoardProfile;

    fn point(aim: Aim, anchor: Option<Anchor>) -> CutPoint {
        CutPoint {
            id: "swap/sector-3".parse().unwrap(),
            phase: "swap".into(),
            offset: "sector-3".into(),
            repetition: 1,
            seed: 7,
            aim,
            anchor,
            then: None,
        }
    }

    #[test]
    fn only_sectors_that_differ_are_rewritten_and_neighbours_merge() {
        let wanted: Vec<u8> = (0..64u8).collect();
        assert!(changed_sectors(0x1000, &wanted, &wanted, 16).is_empty());
        let mut current = wanted.clone();
        current[3] ^= 1; // sector 0
        current[20] = 0xFF; // sector 1
        current[63] = 0; // sector 3, the last
        assert_eq!(
            changed_sectors(0x1000, &wanted, &current, 16),
            vec![(0x1000, 0..32), (0x1030, 48..64)]
        );
        // A short read (the probe returned less) rewrites what it could not compare.
        assert_eq!(changed_sectors(0, &wanted, &wanted[..40], 16), vec![(32, 32..64)]);
        // An area that is not a whole number of sectors ends with a partial one.
        assert_eq!(changed_sectors(0, &wanted[..40], &[0u8; 40], 16), vec![(0, 0..40)]);
        assert_eq!(
            changed_sectors(0, &wanted, &[], 0).len(),
            1,
            "a zero sector size is one run"
        );
    }

    #[test]
    fn aims_map_to_trigger_conditions() {
        match bench_aim(&point(Aim::Byte { n: 4096 }, None)).unwrap() {
            BenchAim::Bytes { n } => assert_eq!(n, 4096),
            other => panic!("{other:?}"),
        }
        let anchored = point(
            Aim::Time { us: 123_456 },
            Some(Anchor {
                pattern: r"boot: swap-progress .* region=(?P<n>\d+)".into(),
                nth: 3,
                delay_us: 250,
            }),
        );
        match bench_aim(&anchored).unwrap() {
            BenchAim::Marker {
                pattern: Some(p),
                nth,
                delay,
            } => {
                assert!(p.is_match("boot: swap-progress type=test region=3 of=5"));
                assert_eq!((nth, delay), (3, Duration::from_micros(250)));
            }
            other => panic!("{other:?}"),
        }
        // nth 0 would never fire: the first line counts.
        let zeroth = point(
            Aim::Time { us: 1 },
            Some(Anchor {
                pattern: "x".into(),
                nth: 0,
                delay_us: 0,
            }),
        );
        assert!(matches!(bench_aim(&zeroth).unwrap(), BenchAim::Marker { nth: 1, .. }));
        match bench_aim(&point(Aim::Time { us: 5_000 }, None)).unwrap() {
            BenchAim::Marker {
                pattern: None, delay, ..
            } => assert_eq!(delay, Duration::from_millis(5)),
            other => panic!("{other:?}"),
        }
        let op = point(
            Aim::Op {
                index: 12,
                point: OpPoint::After,
            },
            None,
        );
        let err = bench_aim(&op).unwrap_err();
        assert_eq!(err.kind, RigErrorKind::Unsupported);
        assert!(err.message.contains("flash operation"), "{err}");
        let bad = point(
            Aim::Time { us: 1 },
            Some(Anchor {
                pattern: "(".into(),
                nth: 1,
                delay_us: 0,
            }),
        );
        assert_eq!(bench_aim(&bad).unwrap_err().kind, RigErrorKind::Unsupported);
    }

    #[test]
    fn dump_spans_slots_and_scratch_and_baseline_fills_them() {
        let nrf = BoardProfile::builtin("nrf52840").unwrap().layout;
        assert_eq!(dump_range(&nrf), (64 * 1024, (448 - 64) * 1024 + 2 * 4096));
        let mut odd = nrf;
        // Scratch below the slots: the dump starts there.
        odd.scratch.offset = 0x8000;
        assert_eq!(dump_range(&odd), (0x8000, (448 * 1024 - 0x8000) as usize));
        let writes = baseline_writes(&nrf, &[1, 2, 3]).unwrap();
        assert_eq!(writes.len(), 3);
        assert_eq!(writes[0].0, nrf.primary.offset);
        assert_eq!(writes[0].1.len(), nrf.primary.size as usize);
        assert_eq!(&writes[0].1[..4], &[1, 2, 3, 0xFF]);
        assert!(writes[1..].iter().all(|(_, d)| d.iter().all(|&b| b == 0xFF)));
        assert_eq!(writes[2].0, nrf.scratch.offset);
        assert!(baseline_writes(&nrf, &vec![0; nrf.primary.size as usize + 1]).is_none());
    }

    #[test]
    fn station_names_its_board() {
        let text = |target: &str| {
            format!(
                "{target}\n[power]\nkind = \"command\"\non = [\"true\"]\noff = [\"true\"]\n\
                 [console]\nkind = \"serial\"\nport = \"/dev/null\"\nbaud = 115200\n\
                 [transport]\nkind = \"http\"\nbind = \"127.0.0.1:0\"\n"
            )
        };
        let load = |t: &str| cutpoint_campaign::parse_station(&text(t), std::path::Path::new("s.toml")).unwrap();
        let nrf = load("[target]\nchip = \"nRF52840_xxAA\"\nboard = \"nRF52840-DK\"");
        assert_eq!(station_profile(&nrf, None).unwrap().name, "nrf52840");
        let st = load("[target]\nchip = \"STM32L476RGTx\"");
        assert_eq!(station_profile(&st, None).unwrap().name, "stm32l4");
        let unknown = load("[target]\nchip = \"STM32F446RETx\"");
        assert!(station_profile(&unknown, None).is_none());
        let backends = station_backends(&unknown).unwrap();
        assert!(backends.probe.is_none());
        assert_eq!(backends.name.as_deref(), Some("s"));
    }
}
