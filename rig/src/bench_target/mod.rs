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
//!
//! One job a file: [`config`](BenchConfig) what the campaign asks, `aim` how a cut fires,
//! `anchor` counting anchor lines for the trigger, `baseline` restoring the flash before a run,
//! `cut` arming and taking one cut, `guard` the flash outside the scheme's areas, `console` watching a run's console until it is over, `run`
//! the control run and a cut chain, `slots` reading the flash back, `station` the station's
//! backend tables.

mod aim;
mod anchor;
mod baseline;
mod config;
mod console;
mod cut;
mod guard;
mod run;
mod slots;
mod station;

use std::sync::{Mutex, MutexGuard};

use cutpoint_bench::config::StationBackends;
use cutpoint_bench::{
    BenchClock, Console, OtaTransport, PowerGuard, PowerSwitch, Probe, RigError, RigErrorKind, RigResult, SharedSwitch,
    Trigger,
};
use cutpoint_campaign::CutPoint;

pub use crate::flash_map::station_profile;
pub use aim::{bench_aim, BenchAim};
pub use anchor::{AnchorConsole, AnchorWatch, Watch, SENTINEL, SENTINEL_PATTERN};
pub use baseline::{baseline_writes, changed_sectors};
pub use config::{BenchConfig, BenchParts};
pub use console::MAX_LINES;
pub use cut::QUIET_AFTER;
pub use slots::{dump_areas, dump_range, fingerprint};
pub use station::station_backends;

use crate::target::{ControlObservation, Observation, RecoveryRules, Target};

const BACKEND: &str = "bench";

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
    /// The console's link, where the console can tell its state (a serial adapter).
    link: Option<std::sync::Arc<dyn cutpoint_bench::ConsoleLink>>,
    /// The flash outside the scheme's areas as first read (the pass rule's guarded parts).
    guard: guard::GuardCopy,
    /// Restores power when the target is dropped; declared last so the trigger stops first.
    _guard: PowerGuard,
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
        let link = console.link();
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
                link,
                guard: guard::GuardCopy::default(),
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
