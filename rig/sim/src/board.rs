//! The simulated board: a CPU that runs the firmware under test on the NOR-flash model,
//! with a virtual clock, a console, an OTA server, and a power supply that can be cut at
//! any virtual instant or flash operation.
//!
//! Every power-on starts the firmware from nothing: the only state that crosses a cut is the
//! flash. The firmware sees the board only through `fut::hal`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use fut::app::{self, AppConfig, AppExit};
use fut::boot::{self, BootConfig, BootOutcome};
use fut::hal::{self, FlashError, Offer, TransportError};
use fut::image::Version;
use fut::layout::{Layout, Slot};
use fut::scheme::Mode;
use fut::{PublicKey, Variant};
use serde::{Deserialize, Serialize};

pub use cutpoint_core::{ConsoleLine, FaultKind, OpPoint};

use crate::flash::{FlashOp, NorError, NorFlash, OpKind, TornReport};

/// Time from reset to the first instruction of the bootloader.
pub const RESET_US: u64 = 1_000;
/// How long a brownout keeps the flash controller refusing work before the reset trips.
pub const BROWNOUT_WINDOW_US: u64 = 2_000;
/// Transport speed: microseconds per KiB delivered (about 8 Mbit/s).
pub const LINK_US_PER_KIB: u64 = 1_000;

/// The builds of bootloader and application running on the board.
#[derive(Debug, Clone, Copy)]
pub struct Firmware {
    pub boot: BootConfig,
    pub app: AppConfig,
}

impl Firmware {
    pub fn new(layout: Layout, mode: Mode, variant: Variant, key: PublicKey, permanent: bool) -> Self {
        Firmware {
            boot: BootConfig {
                layout,
                mode,
                key,
                variant,
                refuse_downgrade: false,
            },
            app: AppConfig {
                layout,
                key,
                permanent,
                variant,
                mode: mode.effective(variant),
                verify: true,
                refuse_downgrade: false,
                running: Slot::Primary,
            },
        }
    }

    /// The same builds, delivering the update the `delivery` way.
    pub fn with_delivery(mut self, delivery: Delivery) -> Self {
        self.app.verify = delivery == Delivery::Download;
        self
    }

    /// The same builds, refusing (or not) an update older than the running image.
    pub fn with_refuse_downgrade(mut self, refuse: bool) -> Self {
        self.boot.refuse_downgrade = refuse;
        self.app.refuse_downgrade = refuse;
        self
    }
}

/// How the update reaches the secondary slot. Reads and writes as its [`Delivery::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// The application downloads the offered update and checks it (hash, key, signature)
    /// before it raises the upgrade request.
    #[default]
    Download,
    /// The update is uploaded into the secondary slot the way an mcumgr SMP upload is: the
    /// application does not check it, and the host uploads it once per power-on (it does not
    /// upload again after the device rebooted). The bootloader is the only gate.
    Upload,
}

impl Delivery {
    pub const ALL: [Delivery; 2] = [Delivery::Download, Delivery::Upload];

    pub const fn name(self) -> &'static str {
        match self {
            Delivery::Download => "download",
            Delivery::Upload => "upload",
        }
    }
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// When the fault fires: the rig's one cut-aim type.
pub use cutpoint_core::CutAt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutPlan {
    pub at: CutAt,
    pub kind: FaultKind,
    /// Seeds the torn outcome.
    pub seed: u64,
}

/// One journaled flash operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpRecord {
    pub index: u64,
    pub kind: OpKind,
    pub addr: u32,
    pub len: u32,
    pub start_us: u64,
    pub end_us: u64,
    /// The operation did not happen (brownout).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// The data, kept when the run records for replay.
    #[serde(skip)]
    pub op: Option<FlashOp>,
}

/// Where and how the fault landed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutRecord {
    pub kind: FaultKind,
    pub requested: CutAt,
    /// Virtual instant the power died, microseconds after power-on.
    pub actual_us: u64,
    /// The flash operation in flight or just finished, when the cut was aimed at one.
    pub op_index: Option<u64>,
    pub torn: Option<TornReport>,
    /// A cut just before operation `op_index`: that operation, which never started (so it is
    /// not in the run's journal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unstarted_op: Option<OpRecord>,
}

/// What one boot ended in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum BootResult {
    Jump {
        version: String,
        hash: String,
    },
    NoImage {
        reason: String,
    },
    /// The firmware faulted (e.g. an uncorrectable ECC read) and the part reset.
    Fault {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootRecord {
    pub t_us: u64,
    pub result: BootResult,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "end")]
pub enum RunEnd {
    /// The application settled: confirmed and nothing more to do.
    Idle,
    /// The bootloader found nothing to boot.
    Bricked { reason: String },
    /// Still rebooting after the boot limit.
    Unsettled,
    /// The power was cut.
    Cut,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLog {
    pub end: RunEnd,
    pub console: Vec<ConsoleLine>,
    pub ops: Vec<OpRecord>,
    pub boots: Vec<BootRecord>,
    pub cut: Option<CutRecord>,
    pub duration_us: u64,
    /// For each console line, how many flash operations the run had started before it was
    /// written: a cut at operation `i` leaves exactly the lines whose count is at most `i`.
    #[serde(skip)]
    pub console_ops: Vec<u64>,
    /// The run stopped at a rest point its [`Joiner`] knew: what it did from there on is the
    /// course of the earlier run the joiner holds, not in this log (which ends there, as
    /// [`RunEnd::Cut`]).
    #[serde(skip)]
    pub joined: bool,
    /// Where programs were refused because a granule had used up its programs since its last
    /// erase: the number of operations the run had started before each.
    #[serde(skip)]
    pub budget_refusals: Vec<usize>,
    /// Under a joiner ([`SimBoard::run_joining`]): every range of the flash the run read,
    /// hashed, programmed or erased, in order: (address, length).
    #[serde(skip)]
    pub touches: Vec<(u32, u32)>,
}

impl RunLog {
    /// The console lines a cut aimed at operation `index` (before, inside or after it) leaves
    /// behind: those written before that operation started.
    pub fn console_before_op(&self, index: u64) -> impl Iterator<Item = &ConsoleLine> {
        self.console
            .iter()
            .zip(&self.console_ops)
            .take_while(move |(_, &n)| n <= index)
            .map(|(l, _)| l)
    }
}

/// The update the OTA server offers.
#[derive(Debug, Clone)]
pub struct Update {
    pub image: Arc<Vec<u8>>,
    pub version: Version,
    /// The server re-triggers an update the device reverted.
    pub retry: bool,
    /// The host delivers the update once per power-on: once the device has fetched it whole,
    /// it is offered no more until the next power-on (an upload, [`Delivery::Upload`]).
    pub once: bool,
}

/// How to run the board from power-on.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub plan: Option<CutPlan>,
    /// Boots after which a run that has not settled counts as unsettled.
    pub max_boots: u32,
    /// Keep each operation's data in the journal (for replay).
    pub record_data: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            plan: None,
            max_boots: 12,
            record_data: false,
        }
    }
}

/// The board's hash and signature engine. Its answers are pure functions of their inputs, so
/// it remembers them: a digest by a fingerprint of the flash bytes, a signature check by its
/// inputs. Boards that share one (the recoveries of a campaign) hash each image once.
#[derive(Debug, Default)]
pub struct CryptoEngine {
    digests: Mutex<HashMap<u64, [u8; 32]>>,
    /// By algorithm tag, key, digest and signature.
    verdicts: Mutex<HashMap<Vec<u8>, bool>>,
}

impl CryptoEngine {
    /// The verdict of `check` on `inputs`, computed once.
    fn verdict(&self, inputs: &[&[u8]], check: impl FnOnce() -> bool) -> bool {
        let k = inputs.concat();
        if let Some(v) = self.verdicts.lock().ok().and_then(|m| m.get(&k).copied()) {
            return v;
        }
        let v = check();
        if let Ok(mut m) = self.verdicts.lock() {
            m.insert(k, v);
        }
        v
    }
}

/// A rest point a run passed (see [`fut::hal::Progress`]): the firmware said that all it does
/// from here is decided by the flash and the state it told.
pub struct RestPoint<'a> {
    /// Everything but the flash that decides the rest of the run from here, as one key: the
    /// firmware's state, the part's seed, the boots so far, the boot limit and what the OTA
    /// server will do. Two runs of the same firmware builds and update that pass rest points
    /// with equal keys and equal flash states do the same from there, shifted in time, as long
    /// as nothing draws on the access counter ([`NorFlash::may_draw`]).
    pub key: u64,
    /// When, since the power-on.
    pub t_us: u64,
    /// Console lines written before it.
    pub lines: usize,
    /// Flash operations the run started before it (its index in [`RunLog::ops`]).
    pub ops: usize,
    /// Flash ranges the run touched before it (its index in [`RunLog::touches`]).
    pub touches: usize,
    pub flash: &'a NorFlash,
}

/// Decides, at each rest point of a run, whether the run stops there and takes the rest of its
/// course from an earlier run (see [`SimBoard::run_joining`]).
pub trait Joiner {
    /// `true` stops the run here.
    fn at_rest(&mut self, point: &RestPoint<'_>) -> bool;
}

/// A joiner that never stops a run: a run under it still notes what it touched.
pub struct NoJoin;

impl Joiner for NoJoin {
    fn at_rest(&mut self, _: &RestPoint<'_>) -> bool {
        false
    }
}

/// The simulated board.
#[derive(Debug, Clone)]
pub struct SimBoard {
    pub flash: NorFlash,
    pub firmware: Firmware,
    pub update: Option<Update>,
    pub crypto: Arc<CryptoEngine>,
}

impl SimBoard {
    pub fn new(flash: NorFlash, firmware: Firmware, update: Option<Update>) -> Self {
        SimBoard {
            flash,
            firmware,
            update,
            crypto: Arc::default(),
        }
    }

    /// Shares a crypto engine with other boards of the same campaign.
    pub fn with_crypto(mut self, crypto: Arc<CryptoEngine>) -> Self {
        self.crypto = crypto;
        self
    }

    /// Powers the board on and runs it until it settles, bricks, exhausts `max_boots`, or the
    /// planned fault fires.
    pub fn run(&mut self, opts: RunOptions) -> RunLog {
        self.flash.power_cycle();
        let mut mcu = Mcu::new(&mut self.flash, self.update.as_ref(), &self.crypto, opts);
        let fw = self.firmware;
        let end = run_boots(&mut mcu, &fw, opts.max_boots);
        mcu.finish(end)
    }

    /// [`SimBoard::run`], telling `joiner` each rest point the firmware passes and noting what
    /// the run touches ([`RunLog::touches`]), unless something else can change what happens
    /// from a rest point: a fault planned, or operation data recorded. A run the joiner stops
    /// ends there ([`RunLog::joined`]).
    pub fn run_joining(&mut self, opts: RunOptions, joiner: &mut dyn Joiner) -> RunLog {
        self.flash.power_cycle();
        let mut mcu = Mcu::new(&mut self.flash, self.update.as_ref(), &self.crypto, opts);
        if opts.plan.is_none() && !opts.record_data {
            mcu.joiner = Some(joiner);
            mcu.touches = Some(Vec::new());
        }
        let fw = self.firmware;
        let end = run_boots(&mut mcu, &fw, opts.max_boots);
        mcu.finish(end)
    }
}

/// Runs `f` (firmware code); a panic becomes `Err(message)`. A firmware that panics on what it
/// read (a division by zero, an index out of range) is a device that crashed, not a crash of
/// the rig: the message is said on the console (`board: firmware panic: ...`), as a panic
/// handler that prints and resets the part would, and the part resets.
fn guarded<T>(mcu: &mut Mcu<'_>, f: impl FnOnce(&mut Mcu<'_>) -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(mcu))).map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        hal::Console::write_line(mcu, &format!("board: firmware panic: {msg}"));
        msg
    })
}

fn run_boots(mcu: &mut Mcu<'_>, fw: &Firmware, max_boots: u32) -> RunEnd {
    for pass in 0..max_boots {
        mcu.boot_pass = pass;
        let t = mcu.now;
        let booted = match guarded(mcu, |m| boot::boot(m, &fw.boot)) {
            Ok(b) => b,
            Err(_) if mcu.dead => return RunEnd::Cut,
            Err(msg) => {
                mcu.panicked(t, msg);
                mcu.reset_cpu();
                continue;
            }
        };
        match booted {
            Ok(BootOutcome::Jump(info, slot)) => {
                mcu.boots.push(BootRecord {
                    t_us: t,
                    result: BootResult::Jump {
                        version: info.header.version.to_string(),
                        hash: hex::encode(&info.hash[..4]),
                    },
                });
                // The image runs from the slot the bootloader jumped to.
                let app_cfg = AppConfig {
                    running: slot,
                    ..fw.app
                };
                match guarded(mcu, |m| app::run(m, &app_cfg)) {
                    Ok(Ok(AppExit::Idle)) => return RunEnd::Idle,
                    Ok(Ok(AppExit::Reset | AppExit::Crash)) => {}
                    Ok(Err(e)) if !mcu.dead => mcu.fault(t, e),
                    Err(msg) if !mcu.dead => mcu.panicked(t, msg),
                    _ => return RunEnd::Cut,
                }
            }
            Ok(BootOutcome::NoBootableImage(e)) => {
                mcu.boots.push(BootRecord {
                    t_us: t,
                    result: BootResult::NoImage {
                        reason: e.name().to_string(),
                    },
                });
                return RunEnd::Bricked {
                    reason: e.name().to_string(),
                };
            }
            Err(_) if mcu.dead => return RunEnd::Cut,
            Err(e) => {
                mcu.boots.push(BootRecord {
                    t_us: t,
                    result: BootResult::Fault {
                        error: format!("{e:?}"),
                    },
                });
            }
        }
        if mcu.dead {
            return RunEnd::Cut;
        }
        mcu.reset_cpu();
        if mcu.dead {
            return RunEnd::Cut;
        }
    }
    RunEnd::Unsettled
}

/// Operation records a run has room for before its first grows.
const OPS_RESERVED: usize = 256;
/// Record buffers kept per thread for the next run, and the largest kept (in records): a
/// recovery's swap on a megabyte slot records thousands of operations, and growing a fresh
/// buffer each time copied them over and over.
const OPS_POOL_KEPT: usize = 2;
const OPS_POOL_MAX_RECORDS: usize = 1 << 16;

thread_local! {
    static OPS_POOL: std::cell::RefCell<Vec<Vec<OpRecord>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hands the operation records of a finished run back for the next run on this thread (only
/// their room is reused; the records are dropped).
pub fn recycle_ops(mut ops: Vec<OpRecord>) {
    if ops.capacity() > OPS_POOL_MAX_RECORDS {
        return;
    }
    ops.clear();
    OPS_POOL.with(|p| {
        if let Ok(mut pool) = p.try_borrow_mut() {
            if pool.len() < OPS_POOL_KEPT {
                pool.push(ops);
            }
        }
    });
}

fn fresh_ops() -> Vec<OpRecord> {
    OPS_POOL
        .with(|p| p.try_borrow_mut().ok().and_then(|mut pool| pool.pop()))
        .unwrap_or_else(|| Vec::with_capacity(OPS_RESERVED))
}

/// The part as the firmware sees it during one run.
struct Mcu<'a> {
    flash: &'a mut NorFlash,
    update: Option<&'a Update>,
    crypto: &'a CryptoEngine,
    opts: RunOptions,
    now: u64,
    dead: bool,
    delivered: u64,
    /// The update's last byte was fetched during this power-on.
    fetched_whole: bool,
    brownout_until: Option<u64>,
    console: Vec<ConsoleLine>,
    console_ops: Vec<u64>,
    ops: Vec<OpRecord>,
    boots: Vec<BootRecord>,
    cut: Option<CutRecord>,
    /// The buffer of the last program's data, reused by the next (a swap programs thousands).
    spare: Vec<u8>,
    joiner: Option<&'a mut dyn Joiner>,
    /// The joiner stopped the run at a rest point.
    joined: bool,
    budget_refusals: Vec<usize>,
    /// What the run touched, kept under a joiner.
    touches: Option<Vec<(u32, u32)>>,
    /// The pass of the boot loop running now (from 0): the boots left are the limit less it.
    boot_pass: u32,
}

impl<'a> Mcu<'a> {
    fn new(flash: &'a mut NorFlash, update: Option<&'a Update>, crypto: &'a CryptoEngine, opts: RunOptions) -> Self {
        Mcu {
            flash,
            update,
            crypto,
            opts,
            now: 0,
            dead: false,
            delivered: 0,
            fetched_whole: false,
            brownout_until: None,
            console: Vec::new(),
            console_ops: Vec::new(),
            // A recovery's swap runs a few hundred operations: room for them from the start.
            ops: fresh_ops(),
            boots: Vec::new(),
            cut: None,
            spare: Vec::new(),
            joiner: None,
            joined: false,
            budget_refusals: Vec::new(),
            touches: None,
            boot_pass: 0,
        }
    }

    fn finish(self, end: RunEnd) -> RunLog {
        RunLog {
            end,
            console: self.console,
            ops: self.ops,
            boots: self.boots,
            cut: self.cut,
            duration_us: self.now,
            console_ops: self.console_ops,
            joined: self.joined,
            budget_refusals: self.budget_refusals,
            touches: self.touches.unwrap_or_default(),
        }
    }

    fn fault(&mut self, boot_t: u64, e: fut::FwError) {
        self.boots.push(BootRecord {
            t_us: boot_t,
            result: BootResult::Fault {
                error: format!("{e:?}"),
            },
        });
    }

    fn panicked(&mut self, boot_t: u64, msg: String) {
        self.boots.push(BootRecord {
            t_us: boot_t,
            result: BootResult::Fault {
                error: format!("panic: {msg}"),
            },
        });
    }

    /// Notes that the run touched `addr..addr + len`, when it keeps what it touched.
    #[inline]
    fn touched(&mut self, addr: u32, len: u32) {
        if let Some(t) = self.touches.as_mut() {
            t.push((addr, len));
        }
    }

    fn reset_cpu(&mut self) {
        self.advance(RESET_US);
    }

    fn die(&mut self, actual_us: u64, op_index: Option<u64>, torn: Option<TornReport>) {
        self.dead = true;
        self.now = actual_us;
        if let Some(plan) = self.opts.plan {
            self.cut = Some(CutRecord {
                kind: plan.kind,
                requested: plan.at,
                actual_us,
                op_index,
                torn,
                unstarted_op: None,
            });
        }
    }

    /// Moves the clock, firing a time-aimed fault or the end of a brownout on the way.
    #[inline]
    fn advance(&mut self, us: u64) {
        let timed = matches!(
            self.opts.plan,
            Some(CutPlan {
                at: CutAt::Time { .. },
                ..
            })
        );
        if !self.dead && self.brownout_until.is_none() && !timed {
            // Nothing can fire on the way (every read moves the clock).
            self.now += us;
            return;
        }
        self.advance_firing(us);
    }

    /// [`Mcu::advance`] when a fault may fire on the way.
    #[inline(never)]
    fn advance_firing(&mut self, us: u64) {
        if self.dead {
            return;
        }
        let to = self.now + us;
        if let Some(until) = self.brownout_until {
            if to >= until {
                self.die(until, None, None);
                return;
            }
        }
        if let Some(CutPlan {
            at: CutAt::Time { us: t },
            kind,
            ..
        }) = self.opts.plan
        {
            if to >= t && self.brownout_until.is_none() {
                if kind == FaultKind::Brownout {
                    self.brownout_until = Some(t + BROWNOUT_WINDOW_US);
                    self.now = to;
                    return self.advance_firing(0);
                }
                self.die(t.max(self.now), None, None);
                return;
            }
        }
        self.now = to;
    }

    fn flash_op(&mut self, op: &FlashOp) -> Result<(), FlashError> {
        if self.dead {
            return Err(FlashError::Device);
        }
        // What a refused operation was refused for is in the range it touched.
        self.touched(op.addr(), op.len());
        if let Err(e) = self.flash.check(op) {
            if matches!(e, NorError::TooManyPrograms { .. }) {
                self.budget_refusals.push(self.ops.len());
            }
            return Err(to_hal_error(e));
        }
        self.flash.watch_op(op);
        let dur = self.flash.duration_us(op);
        let index = self.ops.len() as u64;
        let start = self.now;
        let fault = self.fault_in(index, start, dur);
        match fault {
            None => self.complete(op, index, start, dur, false),
            Some(Landing::Before) => {
                self.die(start, Some(index), None);
                if let Some(cut) = self.cut.as_mut() {
                    cut.unstarted_op = Some(OpRecord {
                        index,
                        kind: op.kind(),
                        addr: op.addr(),
                        len: op.len(),
                        start_us: start,
                        end_us: start,
                        dropped: false,
                        op: None,
                    });
                }
                Err(FlashError::Device)
            }
            Some(Landing::After) => {
                self.complete(op, index, start, dur, false)?;
                self.die(start + dur, Some(index), None);
                Err(FlashError::Device)
            }
            Some(Landing::Inside(elapsed)) => self.fault_inside(op, index, start, dur, elapsed),
        }
    }

    /// Whether the planned fault lands on this operation, and where.
    fn fault_in(&self, index: u64, start: u64, dur: u64) -> Option<Landing> {
        if let Some(until) = self.brownout_until {
            return (start < until).then_some(Landing::Inside(0));
        }
        let plan = self.opts.plan?;
        match plan.at {
            CutAt::Op { index: i, point } if i == index => Some(match point {
                OpPoint::Before => Landing::Before,
                OpPoint::After => Landing::After,
                OpPoint::Inside { ppm } => Landing::Inside(dur * u64::from(ppm.min(1_000_000)) / 1_000_000),
            }),
            CutAt::Time { us } if us < start + dur => Some(Landing::Inside(us.saturating_sub(start))),
            _ => None,
        }
    }

    fn fault_inside(&mut self, op: &FlashOp, index: u64, start: u64, dur: u64, elapsed: u64) -> Result<(), FlashError> {
        let plan = match self.opts.plan {
            Some(p) => p,
            None => return self.complete(op, index, start, dur, false),
        };
        match plan.kind {
            FaultKind::PowerCut | FaultKind::ZeroedTail => {
                let torn = if plan.kind == FaultKind::ZeroedTail {
                    self.flash.apply_zeroed_tail(op, elapsed, plan.seed)
                } else {
                    self.flash.apply_cut(op, elapsed, plan.seed)
                };
                self.journal(op, index, start, start + elapsed, false);
                self.die(start + elapsed, Some(index), Some(torn));
                Err(FlashError::Device)
            }
            FaultKind::Reset => {
                self.complete(op, index, start, dur, false)?;
                self.die(start + dur, Some(index), None);
                Err(FlashError::Device)
            }
            FaultKind::Brownout => {
                if self.brownout_until.is_none() {
                    self.brownout_until = Some(start + elapsed + BROWNOUT_WINDOW_US);
                }
                self.journal(op, index, start, start + dur, true);
                self.advance(dur);
                if self.dead {
                    if let Some(c) = self.cut.as_mut() {
                        c.op_index = Some(index);
                    }
                    return Err(FlashError::Device);
                }
                Ok(())
            }
        }
    }

    fn complete(&mut self, op: &FlashOp, index: u64, start: u64, dur: u64, dropped: bool) -> Result<(), FlashError> {
        // `flash_op` checked `op` on this very state before it got here.
        self.flash.apply_after_check(op);
        self.journal(op, index, start, start + dur, dropped);
        self.now = start + dur;
        Ok(())
    }

    fn journal(&mut self, op: &FlashOp, index: u64, start: u64, end: u64, dropped: bool) {
        self.ops.push(OpRecord {
            index,
            kind: op.kind(),
            addr: op.addr(),
            len: op.len(),
            start_us: start,
            end_us: end,
            dropped,
            op: self.opts.record_data.then(|| op.clone()),
        });
    }
}

enum Landing {
    Before,
    Inside(u64),
    After,
}

fn to_hal_error(e: NorError) -> FlashError {
    match e {
        NorError::OutOfBounds { addr, .. } => FlashError::OutOfBounds { addr },
        NorError::Misaligned { addr, .. } => FlashError::Misaligned { addr },
        NorError::ProgramNotErased { addr } | NorError::TooManyPrograms { addr } => FlashError::ProgramRefused { addr },
        NorError::Uncorrectable { addr } => FlashError::Uncorrectable { addr },
    }
}

impl hal::Flash for Mcu<'_> {
    fn sector_size(&self) -> u32 {
        self.flash.profile().sector_size
    }

    fn write_size(&self) -> u32 {
        self.flash.profile().write_size
    }

    fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
        if self.dead {
            return Err(FlashError::Device);
        }
        self.touched(addr, buf.len() as u32);
        let ns = u64::from(self.flash.read_ns_per_byte(addr)) * buf.len() as u64;
        self.advance(ns / 1000);
        if self.dead {
            return Err(FlashError::Device);
        }
        self.flash.read(addr, buf).map_err(to_hal_error)
    }

    /// The first read as any; when the byte reads the same on every read (no weak bit, torn
    /// granule or marginal sector of the part can change it) and nothing can fire on the way
    /// (no time-aimed fault, no brownout), the later reads are counted (the access counter,
    /// the clock) without going to the array: what the reads would have returned, one by one.
    fn read_byte_times(
        &mut self,
        addr: u32,
        times: u32,
        each: &mut dyn FnMut(Result<u8, FlashError>) -> std::ops::ControlFlow<()>,
    ) {
        if times == 0 {
            return;
        }
        let mut b = [0u8; 1];
        let first = hal::Flash::read(self, addr, &mut b).map(|()| b[0]);
        let timed = matches!(
            self.opts.plan,
            Some(CutPlan {
                at: CutAt::Time { .. },
                ..
            })
        );
        let steady =
            first.is_ok() && !self.dead && !timed && self.brownout_until.is_none() && self.flash.reads_alike(addr);
        if each(first).is_break() {
            return;
        }
        let per_read_us = u64::from(self.flash.read_ns_per_byte(addr)) / 1000;
        for _ in 1..times {
            let read = match steady {
                true => {
                    self.flash.count_read();
                    self.now += per_read_us;
                    Ok(b[0])
                }
                false => hal::Flash::read(self, addr, &mut b).map(|()| b[0]),
            };
            if each(read).is_break() {
                return;
            }
        }
    }

    fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), FlashError> {
        let mut buf = std::mem::take(&mut self.spare);
        buf.clear();
        buf.extend_from_slice(data);
        let op = FlashOp::Program { addr, data: buf };
        let done = self.flash_op(&op);
        if let FlashOp::Program { data, .. } = op {
            self.spare = data;
        }
        done
    }

    fn erase(&mut self, addr: u32, len: u32) -> Result<(), FlashError> {
        self.flash_op(&FlashOp::Erase { addr, len })
    }

    /// One operation on a part that rewrites the word atomically; an erase and a program, each
    /// of which a cut can tear, on any other.
    fn replace_word(&mut self, addr: u32, word: &[u8]) -> Result<(), FlashError> {
        if self.flash.profile().atomic_word {
            return self.flash_op(&FlashOp::ReplaceWord {
                addr,
                data: word.to_vec(),
            });
        }
        let sector = self.flash.profile().sector_size;
        self.erase(addr - addr % sector, sector)?;
        self.write(addr, word)
    }
}

impl hal::Console for Mcu<'_> {
    fn write_line(&mut self, line: &str) {
        if !self.dead {
            self.console.push(ConsoleLine {
                t_us: self.now,
                text: line.to_string(),
            });
            self.console_ops.push(self.ops.len() as u64);
        }
    }
}

impl hal::Progress for Mcu<'_> {
    fn at_rest(&mut self, state: &[u8]) {
        if self.dead || self.brownout_until.is_some() {
            return;
        }
        let Some(joiner) = self.joiner.as_deref_mut() else {
            return;
        };
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        state.hash(&mut h);
        self.flash.seed().hash(&mut h);
        // The pass of the boot loop this is in (the boot limit counts passes; a pass whose
        // application faults after the jump leaves two boot records), and the server: what it
        // offers and whether it already delivered the update whole during this power-on.
        (self.boot_pass, self.opts.max_boots, self.fetched_whole).hash(&mut h);
        self.update.map(|u| (u.retry, u.once)).hash(&mut h);
        let point = RestPoint {
            key: h.finish(),
            t_us: self.now,
            lines: self.console.len(),
            ops: self.ops.len(),
            touches: self.touches.as_ref().map_or(0, Vec::len),
            flash: &*self.flash,
        };
        if joiner.at_rest(&point) {
            // Nothing more happens in this run: the firmware unwinds as it would at a cut.
            self.joined = true;
            self.dead = true;
        }
    }
}

impl hal::Clock for Mcu<'_> {
    fn now_us(&self) -> u64 {
        self.now
    }

    fn spend_us(&mut self, us: u64) {
        self.advance(us);
    }
}

impl hal::Transport for Mcu<'_> {
    fn offer(&mut self) -> Result<Option<Offer>, TransportError> {
        if self.dead {
            return Err(TransportError::Unreachable);
        }
        self.advance(LINK_US_PER_KIB);
        if self.fetched_whole && self.update.is_some_and(|u| u.once) {
            return Ok(None);
        }
        Ok(self.update.map(|u| Offer {
            size: u.image.len() as u32,
            version: u.version,
            retry: u.retry,
        }))
    }

    fn fetch(&mut self, offset: u32, buf: &mut [u8]) -> Result<usize, TransportError> {
        if self.dead {
            return Err(TransportError::Unreachable);
        }
        let update = self.update.ok_or(TransportError::Protocol)?;
        let start = (offset as usize).min(update.image.len());
        let mut n = buf.len().min(update.image.len() - start);
        let mut cut_after = false;
        if let Some(CutPlan {
            at: CutAt::Byte { n: limit },
            ..
        }) = self.opts.plan
        {
            let room = limit.saturating_sub(self.delivered);
            if (n as u64) >= room {
                n = room as usize;
                cut_after = true;
            }
        }
        buf[..n].copy_from_slice(&update.image[start..start + n]);
        self.delivered += n as u64;
        if start + n == update.image.len() {
            self.fetched_whole = true;
        }
        self.advance(LINK_US_PER_KIB * n as u64 / 1024);
        if cut_after && !self.dead {
            let now = self.now;
            self.die(now, None, None);
        }
        if self.dead && n == 0 {
            return Err(TransportError::Unreachable);
        }
        Ok(n)
    }
}

impl hal::Crypto for Mcu<'_> {
    fn sha256_flash(&mut self, addr: u32, len: u32) -> Result<[u8; 32], FlashError> {
        self.flash.watch_access(addr, len);
        self.touched(addr, len);
        let Some(key) = self.flash.content_key(addr, len) else {
            // Weak bits, marginal sectors or torn granules: every read counts.
            return hal::sha256_by_reads(self, addr, len);
        };
        if self.dead {
            return Err(FlashError::Device);
        }
        self.advance(u64::from(self.flash.read_ns_per_byte(addr)) * u64::from(len) / 1000);
        if self.dead {
            return Err(FlashError::Device);
        }
        if let Some(d) = self.crypto.digests.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Ok(d);
        }
        let range = addr as usize..addr as usize + len as usize;
        let digest: [u8; 32] = Sha256::digest(&self.flash.raw()[range]).into();
        if let Ok(mut m) = self.crypto.digests.lock() {
            m.insert(key, digest);
        }
        Ok(digest)
    }

    fn ed25519_key_valid(&mut self, key: &[u8; 32]) -> bool {
        self.crypto
            .verdict(&[b"ed25519-key", key], || hal::ed25519_key_valid(key))
    }

    fn ed25519_verify(&mut self, key: &[u8; 32], digest: &[u8; 32], sig: &[u8; 64]) -> bool {
        self.crypto.verdict(&[b"ed25519", key, digest, sig], || {
            hal::verify_ed25519(key, digest, sig)
        })
    }

    fn p256_verify(&mut self, key: &[u8; 65], digest: &[u8; 32], sig: &[u8; 64]) -> bool {
        self.crypto
            .verdict(&[b"p256", key, digest, sig], || hal::verify_p256(key, digest, sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::FlashProfile;
    use fut::hal::Flash as _;
    use std::ops::ControlFlow;

    /// What reads returned, and the access counter and the clock after them.
    type Reads = (Vec<Result<u8, FlashError>>, u64, u64);

    /// Every result of `times` reads of `addr` through `read_byte_times`, then the same
    /// through the reads one by one.
    fn both_ways(flash: &NorFlash, addr: u32, times: u32) -> [Reads; 2] {
        let crypto = CryptoEngine::default();
        let run = |repeated: bool| {
            let mut f = flash.clone();
            let mut mcu = Mcu::new(&mut f, None, &crypto, RunOptions::default());
            let mut seen = Vec::new();
            if repeated {
                mcu.read_byte_times(addr, times, &mut |r| {
                    seen.push(r);
                    ControlFlow::Continue(())
                });
            } else {
                for _ in 0..times {
                    let mut b = [0u8; 1];
                    seen.push(mcu.read(addr, &mut b).map(|()| b[0]));
                }
            }
            let now = mcu.now;
            drop(mcu);
            (seen, f.access_count_for_tests(), now)
        };
        [run(true), run(false)]
    }

    /// Keeps the key of each rest point told.
    struct Keys(Vec<u64>);

    impl Joiner for Keys {
        fn at_rest(&mut self, p: &RestPoint<'_>) -> bool {
            self.0.push(p.key);
            false
        }
    }

    /// The key of a rest point told in boot-loop pass `pass`, after `records` boot records.
    fn key_at(pass: u32, records: usize) -> u64 {
        let mut flash = NorFlash::new(FlashProfile::nrf52840(), 3);
        let crypto = CryptoEngine::default();
        let mut keys = Keys(Vec::new());
        let mut mcu = Mcu::new(&mut flash, None, &crypto, RunOptions::default());
        mcu.joiner = Some(&mut keys);
        mcu.boot_pass = pass;
        let record = BootRecord {
            t_us: 0,
            result: BootResult::Fault { error: "x".into() },
        };
        mcu.boots = vec![record; records];
        hal::Progress::at_rest(&mut mcu, b"state");
        drop(mcu);
        keys.0[0]
    }

    #[test]
    fn a_rest_point_is_keyed_by_the_boots_left_not_by_the_boot_records() {
        // A pass whose application faulted after the jump left two records: the third pass
        // has one boot fewer left than the second, with two records either way.
        assert_ne!(key_at(1, 2), key_at(2, 2), "the boots left differ");
        assert_eq!(key_at(1, 1), key_at(1, 2), "the records do not decide anything");
    }

    #[test]
    fn a_byte_read_over_and_over_reads_as_the_reads_one_by_one() {
        let op = FlashOp::Program {
            addr: 0x1000,
            data: vec![0x01, 0x00, 0x00, 0x00],
        };
        // A cut half-way through a status record that leaves weak bits (the seed decides).
        let flash = (0..64)
            .map(|seed| {
                let mut f = NorFlash::new(FlashProfile::nrf52840(), 3);
                let report = f.apply_cut(&op, f.duration_us(&op) / 2, seed);
                (f, report.weak_bits)
            })
            .find(|(_, weak)| *weak > 0)
            .map(|(f, _)| f)
            .unwrap();
        let weak = flash.weak_bits_in(0x1000..0x1004)[0].0;
        for addr in [weak, 0x1004, 0x0FFF, u32::MAX] {
            let [repeated, one_by_one] = both_ways(&flash, addr, 16);
            assert_eq!(repeated, one_by_one, "{addr:#x}");
        }
        let [repeated, _] = both_ways(&flash, weak, 16);
        let values: std::collections::HashSet<u8> = repeated.0.iter().filter_map(|r| r.ok()).collect();
        assert!(values.len() > 1, "a weak byte reads differently: {values:?}");
    }
}
