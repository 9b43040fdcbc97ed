//! A bench in-process, for tests: the simulated board running the firmware under test, seen
//! through the bench traits.
//!
//! At power-on (or reset) the emulated device runs the board from its flash with the staged
//! update, ahead of time, and a thread plays its console out at `SCALE` virtual microseconds
//! per wall microsecond. Power off at wall instant w stops the board at virtual instant
//! `(w - power-on) * SCALE`: the board is run again from the same flash with a power cut there,
//! and only its flash survives. A transport hold at byte N makes the device wait after N bytes
//! (the board run stops there); moving the hold lets it go on from where it waited. The probe
//! reads and writes the flash directly and resets the device. The switch can be told to ignore
//! "off", like a relay on the wrong contact, and "off" can mute the console (a switch that
//! powers only the console's adapter). Staging the update again after the device rejected
//! it (`ota: idle reason=rejected`) offers it as a retry, as the simulated board's server does.

#![allow(dead_code)]

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cutpoint::bench_target::BenchParts;
use cutpoint_bench::{
    BenchClock, Console, ConsoleLine, DeliveryCounter, OtaTransport, PowerSwitch, Probe, RigError, RigResult,
};
use cutpoint_campaign::TargetKind;
use cutpoint_sim::board::RunLog;
use cutpoint_sim::{CutAt, CutPlan, FaultKind, Firmware, NorFlash, RunOptions, SimBoard, Update};
use fut::image::{ImageHeader, HEADER_SIZE};

/// Virtual microseconds per wall microsecond.
pub const SCALE: u64 = 50;

/// One power-on of the device.
struct Session {
    start: Instant,
    start_flash: NorFlash,
    update: Option<Update>,
    log: RunLog,
    /// The flash when the run ended (or began waiting on the transport).
    end_flash: NorFlash,
    /// The device waits on the transport hold from the end of `log`.
    stalled: bool,
    /// Console lines of `log` already printed.
    played: usize,
}

/// The flash while no session runs (off, or halted by the probe).
enum Flash {
    Settled(NorFlash),
    /// Where a stopped run left it, worked out when first needed (so a power cut returns at once).
    Stopped {
        start_flash: NorFlash,
        update: Option<Update>,
        plan: CutPlan,
    },
}

struct State {
    powered: bool,
    flash: Flash,
    session: Option<Session>,
    /// Bumped whenever the playing session changes; a player with an older one stops.
    generation: u64,
    staged: Option<Update>,
    /// The device rejected the update since it was last staged: staging it again asks the
    /// device to retry it (the server's part of a re-trigger).
    rejected: bool,
    hold: Option<u64>,
    counter: DeliveryCounter,
    lines: Sender<ConsoleLine>,
    cuts: u64,
    /// Power-on count.
    power_ons: u64,
    /// Bytes the probe has programmed.
    programmed: u64,
    /// Times the probe halted the CPU.
    halts: u64,
    /// Probe accesses past its reach.
    out_of_reach: u64,
    /// Whether the first power cut's scribble was left.
    scribbled: bool,
    /// What the device prints is lost (the console's adapter is off).
    muted: bool,
    /// Power was cut and not yet turned on again.
    cut_since_on: bool,
    /// The switch already failed once to turn power back on.
    restore_failed: bool,
}

/// The console adapter's link, as the emulated console reports it.
pub struct FakeLink {
    up: std::sync::atomic::AtomicBool,
}

impl cutpoint_bench::ConsoleLink for FakeLink {
    fn connected(&self) -> bool {
        self.up.load(std::sync::atomic::Ordering::Acquire)
    }

    fn device(&self) -> String {
        "/dev/emulated-uart".into()
    }
}

struct Shared {
    state: Mutex<State>,
    clock: BenchClock,
    firmware: Firmware,
    max_boots: u32,
    /// Virtual microseconds per wall-clock microsecond.
    scale: u64,
    /// The end of what the probe reaches: the part's own flash, when a device beside it (a
    /// serial NOR) is mapped above; a read or write past it fails, as a real probe's does.
    probe_reach: Option<u32>,
    /// A byte the first power cut leaves programmed at an address (as a write that strayed
    /// outside the update's areas would): `(address, value)`.
    scribble: Option<(u32, u8)>,
    /// A byte every run of the update that reaches its end leaves programmed at an address
    /// (an update whose uncut path writes outside its areas): `(address, value)`.
    scribble_each_update: Option<(u32, u8)>,
    /// The switch's "off" reaches the console's adapter only: the device keeps running, and
    /// what it prints while "off" is lost (it seems quiet through the dwell).
    off_mutes_console: bool,
    /// The switch has a sense on the device's supply rail (`PowerSwitch::sense`).
    supply_sense: bool,
    /// The switch's first "on" after a power cut switches nothing (a relay that sticks open
    /// once); later ones work.
    first_restore_fails: bool,
    /// The console's adapter goes away at the first power cut, for good: its link reads down
    /// and what the device prints is lost.
    console_drops_at_first_cut: bool,
    link: Arc<FakeLink>,
}

/// The emulated device. Clones share it.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

impl Emulator {
    /// A device with erased flash (the bootloader and application are built into `firmware`),
    /// powered off. Returns its console.
    pub fn new(flash: NorFlash, firmware: Firmware, max_boots: u32, clock: BenchClock) -> (Emulator, FakeConsole) {
        let (tx, rx) = mpsc::channel();
        let link = Arc::new(FakeLink {
            up: std::sync::atomic::AtomicBool::new(true),
        });
        let emu = Emulator {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    powered: false,
                    flash: Flash::Settled(flash),
                    session: None,
                    generation: 0,
                    staged: None,
                    rejected: false,
                    hold: None,
                    counter: DeliveryCounter::new(),
                    lines: tx,
                    cuts: 0,
                    power_ons: 0,
                    programmed: 0,
                    halts: 0,
                    out_of_reach: 0,
                    scribbled: false,
                    muted: false,
                    cut_since_on: false,
                    restore_failed: false,
                }),
                clock,
                firmware,
                max_boots,
                scale: SCALE,
                probe_reach: None,
                scribble: None,
                scribble_each_update: None,
                off_mutes_console: false,
                supply_sense: false,
                first_restore_fails: false,
                console_drops_at_first_cut: false,
                link: link.clone(),
            }),
        };
        (emu, FakeConsole { rx, link })
    }

    /// The same device with `change` made to what it shares, before anything shares it
    /// (`what` names the change in the panic otherwise).
    fn changed(self, what: &str, change: impl FnOnce(Shared) -> Shared) -> Emulator {
        let shared =
            Arc::try_unwrap(self.shared).unwrap_or_else(|_| panic!("set the {what} before sharing the device"));
        Emulator {
            shared: Arc::new(change(shared)),
        }
    }

    /// The same device with its clock `scale` times faster than the wall clock (default
    /// [`SCALE`]): a lower scale widens, in wall time, the windows a test aims a cut at.
    pub fn with_scale(self, scale: u64) -> Emulator {
        self.changed("scale", |s| Shared {
            scale: scale.max(1),
            ..s
        })
    }

    /// The same device with a probe that reaches the flash below `end` only (the part's own,
    /// not a device beside it): a read or write past it is a rig error, counted.
    pub fn with_probe_reach(self, end: u32) -> Emulator {
        self.changed("probe's reach", |s| Shared {
            probe_reach: Some(end),
            ..s
        })
    }

    /// The same device, whose first power cut also leaves `value` programmed at `addr`.
    pub fn with_scribble_on_first_cut(self, addr: u32, value: u8) -> Emulator {
        self.changed("scribble", |s| Shared {
            scribble: Some((addr, value)),
            ..s
        })
    }

    /// The same device, whose every run of the update that reaches its end (no cut, no
    /// transport hold) also leaves `value` programmed at `addr`.
    pub fn with_scribble_on_every_update(self, addr: u32, value: u8) -> Emulator {
        self.changed("scribble", |s| Shared {
            scribble_each_update: Some((addr, value)),
            ..s
        })
    }

    /// The same device behind a switch that switches nothing but its console's adapter: "off"
    /// leaves the device running and loses what it prints until "on" (use with
    /// `relay_ignores_off`).
    pub fn with_off_muting_the_console(self) -> Emulator {
        self.changed("switch", |s| Shared {
            off_mutes_console: true,
            ..s
        })
    }

    /// The same device with a sense on its supply rail, which the switch reads back.
    pub fn with_a_supply_sense(self) -> Emulator {
        self.changed("sense", |s| Shared {
            supply_sense: true,
            ..s
        })
    }

    /// The same device behind a switch whose first "on" after a power cut switches nothing.
    pub fn with_a_switch_that_fails_to_restore_once(self) -> Emulator {
        self.changed("switch", |s| Shared {
            first_restore_fails: true,
            ..s
        })
    }

    /// The same device whose console adapter goes away at the first power cut.
    pub fn with_a_console_that_drops_at_the_first_cut(self) -> Emulator {
        self.changed("console", |s| Shared {
            console_drops_at_first_cut: true,
            ..s
        })
    }

    /// How many probe reads or writes went past its reach.
    pub fn out_of_reach(&self) -> u64 {
        self.lock().out_of_reach
    }

    /// A probe access of `len` bytes at `addr` past the probe's reach: counted, and the error.
    fn beyond_reach(&self, st: &mut State, addr: u32, len: usize) -> Option<RigError> {
        let end = self.shared.probe_reach?;
        (u64::from(addr) + len as u64 > u64::from(end)).then(|| {
            st.out_of_reach += 1;
            RigError::protocol(
                "probe/emulated",
                format!("no memory at {addr:#x}+{len:#x}: the probe reaches the part's flash below {end:#x}"),
            )
        })
    }

    fn virtual_us(&self, start: Instant, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(start).as_micros())
            .unwrap_or(u64::MAX)
            .saturating_mul(self.shared.scale)
    }

    fn wall(&self, t_virtual: u64) -> Duration {
        Duration::from_micros(t_virtual / self.shared.scale)
    }

    /// The parts of a bench around this device.
    pub fn parts(&self, console: FakeConsole, relay_ignores_off: bool) -> BenchParts {
        BenchParts {
            clock: self.shared.clock,
            power: Box::new(FakeSwitch {
                emu: self.clone(),
                ignores_off: relay_ignores_off,
            }),
            console: Box::new(console),
            probe: Box::new(FakeProbe { emu: self.clone() }),
            transport: Box::new(FakeTransport { emu: self.clone() }),
        }
    }

    /// How many times the device was powered on or reset.
    pub fn power_ons(&self) -> u64 {
        self.lock().power_ons
    }

    /// How many times the probe halted the CPU.
    pub fn halts(&self) -> u64 {
        self.lock().halts
    }

    /// How many bytes the probe has programmed.
    pub fn bytes_programmed(&self) -> u64 {
        self.lock().programmed
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run_board(&self, flash: NorFlash, update: Option<Update>, plan: Option<CutPlan>) -> (RunLog, NorFlash) {
        let offered = update.is_some();
        let mut board = SimBoard::new(flash, self.shared.firmware, update);
        let log = board.run(RunOptions {
            plan,
            max_boots: self.shared.max_boots,
            record_data: false,
        });
        let mut flash = board.flash;
        if let Some((addr, value)) = self
            .shared
            .scribble_each_update
            .filter(|_| offered && log.cut.is_none())
        {
            flash.load(addr, &[value]);
        }
        (log, flash)
    }

    fn hold_plan(hold: Option<u64>) -> Option<CutPlan> {
        hold.map(|n| CutPlan {
            at: CutAt::Byte { n },
            kind: FaultKind::PowerCut,
            seed: 0,
        })
    }

    /// The flash of a device that is not running.
    fn settle(&self, st: &mut State) -> NorFlash {
        let flash = match &st.flash {
            Flash::Settled(f) => f.clone(),
            Flash::Stopped {
                start_flash,
                update,
                plan,
            } => self.run_board(start_flash.clone(), update.clone(), Some(*plan)).1,
        };
        st.flash = Flash::Settled(flash.clone());
        flash
    }

    /// Powers the device's CPU up from its flash. It starts now; working its run out takes
    /// the rig's time, not the device's.
    fn start(&self, st: &mut State) {
        let flash = self.settle(st);
        let update = st.staged.clone();
        let (log, end_flash) = self.run_board(flash.clone(), update.clone(), Self::hold_plan(st.hold));
        // The device's clock starts once its run is worked out, so a slow simulation delays
        // the boot instead of bunching its first lines together.
        let start = Instant::now();
        let stalled = st.hold.is_some() && log.cut.is_some();
        st.power_ons += 1;
        st.session = Some(Session {
            start,
            start_flash: flash,
            update,
            log,
            end_flash,
            stalled,
            played: 0,
        });
        self.play(st);
    }

    /// Starts a player for the current session.
    fn play(&self, st: &mut State) {
        st.generation += 1;
        let generation = st.generation;
        let emu = self.clone();
        std::thread::spawn(move || emu.player(generation));
    }

    fn player(&self, generation: u64) {
        loop {
            // The next thing to do and when.
            let (at, line) = {
                let st = self.lock();
                let Some(s) = st.session.as_ref().filter(|_| st.generation == generation) else {
                    return;
                };
                match s.log.console.get(s.played) {
                    Some(l) => (s.start + self.wall(l.t_us), true),
                    None if s.stalled => (s.start + self.wall(s.log.duration_us), false),
                    None => return,
                }
            };
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            let mut st = self.lock();
            if st.generation != generation {
                return;
            }
            if line {
                self.emit_next(&mut st);
            } else {
                if let (Some(n), Some(_)) = (st.hold, st.session.as_ref()) {
                    st.counter.raise_to(n);
                }
                return;
            }
        }
    }

    fn emit_next(&self, st: &mut State) {
        let Some(s) = st.session.as_mut() else { return };
        let Some(l) = s.log.console.get(s.played) else { return };
        let text = l.text.clone();
        s.played += 1;
        if text.starts_with("ota: idle reason=rejected") {
            st.rejected = true;
        }
        if st.muted {
            return;
        }
        let _ = st.lines.send(ConsoleLine {
            t_us: self.shared.clock.now_us(),
            text,
        });
    }

    /// Stops the CPU now: what it printed before this instant comes out, and the flash is what
    /// the run left at this instant (`kind` decides the flash operation in flight).
    fn stop(&self, st: &mut State, kind: FaultKind) {
        let Some(s) = st.session.as_ref() else { return };
        let t = self.virtual_us(s.start, Instant::now());
        while st
            .session
            .as_ref()
            .is_some_and(|s| s.log.console.get(s.played).is_some_and(|l| l.t_us < t))
        {
            self.emit_next(st);
        }
        let Some(s) = st.session.take() else { return };
        st.generation += 1;
        st.flash = if t >= s.log.duration_us {
            Flash::Settled(s.end_flash)
        } else {
            st.cuts += 1;
            Flash::Stopped {
                start_flash: s.start_flash,
                update: s.update,
                plan: CutPlan {
                    at: CutAt::Time { us: t },
                    kind,
                    seed: 0x5eed ^ st.cuts,
                },
            }
        };
    }

    /// The flash as the running device has it now, without stopping it.
    fn snapshot(&self, st: &mut State) -> NorFlash {
        match st.session.as_ref() {
            None => self.settle(st),
            Some(s) => {
                let t = self.virtual_us(s.start, Instant::now());
                if t >= s.log.duration_us {
                    s.end_flash.clone()
                } else {
                    let plan = CutPlan {
                        at: CutAt::Time { us: t },
                        kind: FaultKind::Reset,
                        seed: 0,
                    };
                    self.run_board(s.start_flash.clone(), s.update.clone(), Some(plan)).1
                }
            }
        }
    }

    /// A new hold: a device waiting on the transport goes on from where it waited.
    fn set_hold(&self, hold: Option<u64>) {
        let mut st = self.lock();
        st.hold = hold;
        let Some(s) = st.session.as_ref() else { return };
        let now = Instant::now();
        let waited_from = s.start + self.wall(s.log.duration_us);
        let start = if s.stalled && now > waited_from {
            // The device's clock stood still while it waited.
            s.start + (now - waited_from)
        } else {
            s.start
        };
        let (log, end_flash) = self.run_board(s.start_flash.clone(), s.update.clone(), Self::hold_plan(hold));
        let stalled = hold.is_some() && log.cut.is_some();
        if let Some(s) = st.session.as_mut() {
            s.start = start;
            s.log = log;
            s.end_flash = end_flash;
            s.stalled = stalled;
        }
        self.play(&mut st);
    }
}

/// The device's UART.
pub struct FakeConsole {
    rx: Receiver<ConsoleLine>,
    link: Arc<FakeLink>,
}

impl Console for FakeConsole {
    fn describe(&self) -> String {
        "console/emulated".into()
    }

    fn read_line(&mut self, timeout: Duration) -> RigResult<Option<ConsoleLine>> {
        match self.rx.recv_timeout(timeout) {
            Ok(l) => Ok(Some(l)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(RigError::io("console/emulated", "the device is gone")),
        }
    }

    fn link(&self) -> Option<Arc<dyn cutpoint_bench::ConsoleLink>> {
        Some(self.link.clone())
    }
}

/// The relay.
pub struct FakeSwitch {
    emu: Emulator,
    ignores_off: bool,
}

impl PowerSwitch for FakeSwitch {
    fn sense(&mut self) -> RigResult<Option<bool>> {
        Ok(self.emu.shared.supply_sense.then(|| self.emu.lock().powered))
    }

    fn describe(&self) -> String {
        if self.ignores_off {
            "power/emulated (stuck on)".into()
        } else {
            "power/emulated".into()
        }
    }

    fn set_power(&mut self, on: bool) -> RigResult<()> {
        let mut st = self.emu.lock();
        if self.emu.shared.off_mutes_console && !self.emu.shared.console_drops_at_first_cut {
            st.muted = !on;
        }
        match (on, st.powered) {
            (true, false) if self.emu.shared.first_restore_fails && st.cut_since_on && !st.restore_failed => {
                st.restore_failed = true;
            }
            (true, false) => {
                st.cut_since_on = false;
                st.powered = true;
                self.emu.start(&mut st);
            }
            (false, true) if !self.ignores_off => {
                self.emu.stop(&mut st, FaultKind::PowerCut);
                st.powered = false;
                st.cut_since_on = true;
                if self.emu.shared.console_drops_at_first_cut {
                    st.muted = true;
                    self.emu
                        .shared
                        .link
                        .up
                        .store(false, std::sync::atomic::Ordering::Release);
                }
                if let Some((addr, value)) = self.emu.shared.scribble.filter(|_| !st.scribbled) {
                    let mut flash = self.emu.settle(&mut st);
                    flash.load(addr, &[value]);
                    st.flash = Flash::Settled(flash);
                    st.scribbled = true;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The debug probe.
pub struct FakeProbe {
    emu: Emulator,
}

fn unpowered() -> RigError {
    RigError::io("probe/emulated", "the target does not answer (no power)")
}

impl Probe for FakeProbe {
    fn describe(&self) -> String {
        "probe/emulated".into()
    }

    fn attach(&mut self) -> RigResult<()> {
        if self.emu.lock().powered {
            Ok(())
        } else {
            Err(unpowered())
        }
    }

    /// Halts the CPU (the operation in flight completes) and programs the bytes.
    fn write_flash(&mut self, addr: u32, data: &[u8], progress: &mut dyn FnMut(usize, usize)) -> RigResult<()> {
        let mut st = self.emu.lock();
        if !st.powered {
            return Err(unpowered());
        }
        if let Some(e) = self.emu.beyond_reach(&mut st, addr, data.len()) {
            return Err(e);
        }
        self.emu.stop(&mut st, FaultKind::Reset);
        let mut flash = self.emu.settle(&mut st);
        let end = u64::from(addr) + data.len() as u64;
        if end > u64::from(flash.profile().size) {
            return Err(RigError::protocol(
                "probe/emulated",
                format!("write past the end at {addr:#x}"),
            ));
        }
        flash.load(addr, data);
        st.programmed += data.len() as u64;
        // Reprogrammed, the device has nothing of its past left.
        st.rejected = false;
        st.flash = Flash::Settled(flash);
        progress(data.len(), data.len());
        Ok(())
    }

    fn read_flash(&mut self, addr: u32, len: usize) -> RigResult<Vec<u8>> {
        let mut st = self.emu.lock();
        if !st.powered {
            return Err(unpowered());
        }
        if let Some(e) = self.emu.beyond_reach(&mut st, addr, len) {
            return Err(e);
        }
        let flash = self.emu.snapshot(&mut st);
        let raw = flash.raw();
        let start = addr as usize;
        raw.get(start..start.saturating_add(len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| RigError::protocol("probe/emulated", format!("read past the end at {addr:#x}")))
    }

    fn reset(&mut self) -> RigResult<()> {
        let mut st = self.emu.lock();
        if !st.powered {
            return Err(unpowered());
        }
        self.emu.stop(&mut st, FaultKind::Reset);
        self.emu.start(&mut st);
        Ok(())
    }

    /// Resets the device and keeps its CPU stopped: the flash holds still until the next reset.
    fn halt(&mut self) -> RigResult<()> {
        let mut st = self.emu.lock();
        if !st.powered {
            return Err(unpowered());
        }
        self.emu.stop(&mut st, FaultKind::Reset);
        let flash = self.emu.settle(&mut st);
        st.flash = Flash::Settled(flash);
        st.halts += 1;
        Ok(())
    }
}

/// The update server the device's application fetches from.
pub struct FakeTransport {
    emu: Emulator,
}

impl OtaTransport for FakeTransport {
    fn describe(&self) -> String {
        "transport/emulated".into()
    }

    fn stage(&mut self, image: &[u8]) -> RigResult<()> {
        let header: Option<[u8; HEADER_SIZE]> = image.get(..HEADER_SIZE).and_then(|b| b.try_into().ok());
        let version = header
            .as_ref()
            .and_then(ImageHeader::parse)
            .map(|h| h.version)
            .ok_or_else(|| RigError::protocol("transport/emulated", "the image has no MCUboot header"))?;
        let mut st = self.emu.lock();
        st.staged = Some(Update {
            image: Arc::new(image.to_vec()),
            version,
            retry: std::mem::take(&mut st.rejected),
            once: false,
        });
        st.counter.set(0);
        Ok(())
    }

    fn hold_at(&mut self, byte: Option<u64>) -> RigResult<()> {
        if self.emu.lock().hold != byte {
            self.emu.set_hold(byte);
        }
        Ok(())
    }

    fn bytes_delivered(&self) -> u64 {
        self.emu.lock().counter.get()
    }

    fn delivery_counter(&self) -> Option<DeliveryCounter> {
        Some(self.emu.lock().counter.clone())
    }
}

/// A campaign on an emulated station, set up as the rig sets up a lab bench: the station and
/// campaign files in a temporary directory, [`bench_setup`](cutpoint::bench_setup::bench_setup)
/// read from them, and the emulated device of the station's board running the firmware with the
/// campaign's layout, `mode` and `variant`, powered off.
pub struct EmulatedStation {
    pub dir: tempfile::TempDir,
    pub campaign: cutpoint_campaign::Campaign,
    pub setup: cutpoint::bench_setup::BenchSetup,
    pub emulator: Emulator,
    pub console: FakeConsole,
    pub clock: BenchClock,
}

/// Writes `station` and `campaign` (which names `station.toml`) and sets them up (see
/// [`EmulatedStation`]); the device's clock runs `scale` times the wall clock's, and on a
/// board of several flash devices its probe reaches the first only (the part's own flash).
pub fn emulated_station(
    station: &str,
    campaign: &str,
    mode: fut::scheme::Mode,
    variant: fut::Variant,
    scale: u64,
) -> EmulatedStation {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("station.toml"), station).unwrap();
    let path = dir.path().join("campaign.toml");
    std::fs::write(&path, campaign).unwrap();
    let c =
        cutpoint_campaign::load_campaign(&path).unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)));
    let setup = cutpoint::bench_setup::bench_setup(&c).unwrap_or_else(|e| panic!("{e}"));
    // The built-in board whose map the station has, else the station's own map (its
    // `[layout]`) over the flash part it names.
    let profile = cutpoint_sim::BoardProfile::builtin_names()
        .iter()
        .filter_map(|b| cutpoint_sim::BoardProfile::builtin(b))
        .find(|p| p.layout == setup.config.layout)
        .or_else(|| {
            let TargetKind::Station { station, .. } = &c.target.kind else {
                return None;
            };
            cutpoint::flash_map::station_board(station, None).ok()
        })
        .expect("the station's board or [layout] gives the map");
    let key = cutpoint_sim::imgtool::public_key(&cutpoint_sim::imgtool::default_test_key());
    let permanent = c.target.upgrade.scheme_upgrade() == fut::scheme::Upgrade::Permanent;
    let firmware = Firmware::new(profile.layout, mode, variant, key, permanent);
    let clock = BenchClock::new();
    let (emulator, console) = Emulator::new(NorFlash::new(profile.flash.clone(), 3), firmware, 12, clock);
    let mut emulator = emulator.with_scale(scale);
    if let Some(first) = profile
        .flash
        .devices
        .first()
        .filter(|_| profile.flash.devices.len() > 1)
    {
        // The probe reaches the part's own flash, not the serial NOR mapped above it.
        emulator = emulator.with_probe_reach(first.size);
    }
    EmulatedStation {
        dir,
        campaign: c,
        setup,
        emulator,
        console,
        clock,
    }
}
