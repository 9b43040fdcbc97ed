//! NOR-flash model with power-loss physics.
//!
//! The model keeps the stored bits of the whole part plus a small set of
//! anomalies that a power cut can leave behind:
//!
//! * **weak bits**: bits that read 0 on one read and 1 on another;
//! * **torn ECC granules** (ECC parts only): reading any byte of such a granule
//!   is an uncorrectable error;
//! * **marginal sectors**: sectors whose erase was cut late; they read 0xFF but
//!   a read may rarely see a bit at 0, and a program into them may not stick;
//! * **program counts** per granule, for parts that limit how often a granule
//!   may be programmed between erases.
//!
//! Choices the physics leaves open, made here:
//!
//! * A refused program (ECC granule not erased, program limit reached) is
//!   refused as a whole before any byte changes, even when only its last
//!   granule is at fault.
//! * ECC parts whose profile says so ([`FlashProfile::zero_overwrite`], STM32L4) accept a
//!   granule of all-zero data over a written or torn granule; finished, it is a correct
//!   all-zero granule. Cut part-way it tears like any other program, and a torn granule it
//!   was rewriting stays torn. Any other data over a written granule is refused. Parts whose
//!   profile says so ([`FlashProfile::zero_over_zero_refused`], STM32U5) refuse it too over a
//!   granule that already reads all zero.
//! * A cut at time t of a program finishes the units that end at or before t;
//!   the unit strictly in flight gets an outcome `none`/`some`/`most`/`all`,
//!   each with at least 10% weight (`none` leans to early cuts, `all` to late
//!   ones). A cut exactly on a unit boundary leaves nothing in flight. The
//!   unit in flight counts as one program of its granules.
//! * Non-ECC parts: a torn unit leaves 1-4 weak bits (`some`, `most`) or one
//!   with probability 1/4 (`none`, `all`). ECC parts get no weak bits; their
//!   granules tear instead: always for `some`/`most`, half of the time for
//!   `all` (check bits are written last), never for `none`.
//! * Erase cuts: early = each 1 bit pre-programmed to 0 with probability
//!   3f; middle = each bit erased to 1 with probability 3f - 1; late = erased
//!   and marginal. Early and middle leave a few weak bits on non-ECC parts and
//!   tear every granule of the sector on ECC parts. Middle restarts program
//!   counts; early keeps them.
//! * A marginal sector reads a 1 bit as 0 in about one byte read in
//!   [`MARGINAL_READ_FLIP_ONE_IN`] (on ECC parts too: silently wrong data); a
//!   program unit into it leaves 1-3 newly cleared bits weak (ECC: a torn
//!   granule) once in [`MARGINAL_PROGRAM_UNSTUCK_ONE_IN`].
//! * A completed program makes the weak bits it programs to 0 solid.
//!
//! Everything random is deterministic. A cut draws from a ChaCha8 stream
//! seeded from (flash seed, cut seed, op address). Reads of weak bits and of
//! marginal sectors, and programs into marginal sectors, hash (flash seed,
//! access counter, address), where the access counter counts `read` calls and
//! program operations (and restarts at [`NorFlash::power_cycle`]). No global or thread RNG is involved: the same seed and
//! the same sequence of calls give the same bits.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use rand::seq::index::sample;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::profile::{FlashProfile, SectorRun};

/// One flash operation as the firmware issues it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlashOp {
    /// Clear bits: every stored byte becomes `old & data`.
    Program { addr: u32, data: Vec<u8> },
    /// Erase whole sectors to 0xFF, in ascending order.
    Erase { addr: u32, len: u32 },
    /// Replace one word (whole write granules) by `data` as a single operation, the way a part
    /// rewrites a word of its option area (STM32 option bytes, applied at once by the
    /// option-byte loader): a cut leaves the old word or the new one, never a mix. Issued only
    /// on parts whose profile says so ([`FlashProfile::atomic_word`]).
    ReplaceWord { addr: u32, data: Vec<u8> },
}

impl FlashOp {
    /// First address the operation touches.
    pub fn addr(&self) -> u32 {
        match self {
            FlashOp::Program { addr, .. } | FlashOp::Erase { addr, .. } | FlashOp::ReplaceWord { addr, .. } => *addr,
        }
    }

    /// Length in bytes (program data longer than `u32::MAX` saturates).
    pub fn len(&self) -> u32 {
        match self {
            FlashOp::Program { data, .. } | FlashOp::ReplaceWord { data, .. } => {
                u32::try_from(data.len()).unwrap_or(u32::MAX)
            }
            FlashOp::Erase { len, .. } => *len,
        }
    }

    /// Whether the operation covers no byte at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Program or erase (a word replaced at once counts as a program).
    pub fn kind(&self) -> OpKind {
        match self {
            FlashOp::Program { .. } | FlashOp::ReplaceWord { .. } => OpKind::Program,
            FlashOp::Erase { .. } => OpKind::Erase,
        }
    }
}

/// Kind of a [`FlashOp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Program,
    Erase,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpKind::Program => "program",
            OpKind::Erase => "erase",
        })
    }
}

/// Why the flash refused an operation or a read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum NorError {
    #[error("{len} bytes at {addr:#x} reach outside the flash")]
    OutOfBounds { addr: u32, len: u32 },
    #[error("{len} bytes at {addr:#x} are not aligned to {align} bytes")]
    Misaligned { addr: u32, len: u32, align: u32 },
    /// ECC part: program over a granule that is not erased; nothing changed.
    #[error("program over the non-erased ECC granule at {addr:#x}")]
    ProgramNotErased { addr: u32 },
    /// The granule was already programmed as often as the part allows.
    #[error("granule at {addr:#x} programmed more often than allowed between erases")]
    TooManyPrograms { addr: u32 },
    /// ECC read of a torn granule.
    #[error("uncorrectable ECC error reading {addr:#x}")]
    Uncorrectable { addr: u32 },
}

/// What became of the unit or sector in flight when power died.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TornOutcome {
    /// The operation was refused (see the report's error); nothing changed.
    Rejected,
    /// Power died before the operation started; nothing changed.
    NotStarted,
    /// Power died exactly between two units or sectors; none was in flight.
    Boundary,
    /// Power died at or after the end; the operation completed.
    Completed,
    /// Program: none of the unit's intended 1->0 bits went.
    None,
    /// Program: some (up to half) of the intended bits went.
    Some,
    /// Program: most, but not all, of the intended bits went.
    Most,
    /// Program: all intended bits went.
    All,
    /// Erase cut in the pre-program phase: old data with more zeros.
    Early,
    /// Erase cut during the erase pulses: old bits mixed with erased bits.
    Middle,
    /// Erase cut during soft-program: reads 0xFF, sector left marginal.
    Late,
    /// Program cut on a part that stores the bytes it had not reached as zeros
    /// ([`NorFlash::apply_zeroed_tail`]): written data, no weak bit, no torn granule.
    Zeroed,
}

impl TornOutcome {
    /// The word a report prints.
    pub fn as_str(&self) -> &'static str {
        match self {
            TornOutcome::Rejected => "rejected",
            TornOutcome::NotStarted => "not_started",
            TornOutcome::Boundary => "boundary",
            TornOutcome::Completed => "completed",
            TornOutcome::None => "none",
            TornOutcome::Some => "some",
            TornOutcome::Most => "most",
            TornOutcome::All => "all",
            TornOutcome::Early => "early",
            TornOutcome::Middle => "middle",
            TornOutcome::Late => "late",
            TornOutcome::Zeroed => "zeroed",
        }
    }
}

impl fmt::Display for TornOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The program unit or sector that was in flight at the cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub addr: u32,
    pub len: u32,
    /// How far through its own time the unit or sector was, in 1/1000.
    pub progress_permille: u32,
}

/// What a power cut did to the flash, in words a report can print.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TornReport {
    pub op: OpKind,
    pub op_addr: u32,
    pub op_len: u32,
    pub elapsed_us: u64,
    pub duration_us: u64,
    /// Program units (programs) or sectors (erases) the operation covers.
    pub steps_total: u64,
    /// Units or sectors completed before the cut.
    pub steps_done: u64,
    pub in_flight: Option<InFlight>,
    pub outcome: TornOutcome,
    /// Stored bits of the operation's range that differ from before it.
    pub bits_changed: u64,
    /// Weak bits the operation created.
    pub weak_bits: u32,
    /// ECC granules the operation left torn.
    pub torn_granules: u32,
    /// Whether at least one ECC granule is now torn.
    pub ecc_torn: bool,
    pub error: Option<NorError>,
    /// A zeroed tail: the first address of the program that reads zeros instead of its data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zeroed_from: Option<u32>,
}

impl TornReport {
    fn new(op: &FlashOp, elapsed_us: u64, duration_us: u64, steps_total: u64) -> Self {
        TornReport {
            op: op.kind(),
            op_addr: op.addr(),
            op_len: op.len(),
            elapsed_us,
            duration_us,
            steps_total,
            steps_done: 0,
            in_flight: None,
            outcome: TornOutcome::NotStarted,
            bits_changed: 0,
            weak_bits: 0,
            torn_granules: 0,
            ecc_torn: false,
            error: None,
            zeroed_from: None,
        }
    }

    fn record_tear(&mut self, tear: Tear) {
        self.outcome = tear.outcome;
        self.weak_bits += tear.weak_bits;
        self.torn_granules += tear.torn_granules;
        self.ecc_torn = self.torn_granules > 0;
    }
}

impl fmt::Display for TornReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:#x}+{:#x} cut at {}/{} us: {}/{} done",
            self.op, self.op_addr, self.op_len, self.elapsed_us, self.duration_us, self.steps_done, self.steps_total
        )?;
        if let Some(unit) = &self.in_flight {
            write!(
                f,
                ", {:#x}+{:#x} in flight at {}.{}%",
                unit.addr,
                unit.len,
                unit.progress_permille / 10,
                unit.progress_permille % 10
            )?;
        }
        write!(f, " -> {}", self.outcome)?;
        if let Some(from) = self.zeroed_from {
            write!(
                f,
                " from {:#x} ({} of {} bytes zeros)",
                from,
                self.op_addr + self.op_len - from,
                self.op_len
            )?;
        }
        write!(f, "; {} bits changed, {} weak bits", self.bits_changed, self.weak_bits)?;
        if self.ecc_torn {
            write!(f, ", {} torn ECC granules", self.torn_granules)?;
        }
        if let Some(error) = &self.error {
            write!(f, " ({error})")?;
        }
        Ok(())
    }
}

/// Counts of the anomalies the flash currently holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalySummary {
    pub weak_bits: u32,
    pub weak_bytes: u32,
    pub torn_granules: u32,
    pub marginal_sectors: u32,
    /// Granules programmed more than once since their last erase (tracked
    /// only on parts with a program limit).
    pub reprogrammed_granules: u32,
}

impl AnomalySummary {
    /// No weak bit, torn granule or marginal sector.
    pub fn is_clean(&self) -> bool {
        self.weak_bits == 0 && self.torn_granules == 0 && self.marginal_sectors == 0
    }
}

/// Outcome of tearing one unit or sector.
#[derive(Clone, Copy, Debug)]
struct Tear {
    outcome: TornOutcome,
    weak_bits: u32,
    torn_granules: u32,
}

/// One bit of the flash: byte address and a single-bit mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bit {
    addr: u32,
    mask: u8,
}

/// Sizes used for arithmetic, never zero.
///
/// `sector` is the unit the content hashes and versions are kept in: the erase sector of a part
/// with uniform sectors, the smallest sector of one with mixed sizes (whose erase sectors are
/// listed in `map`).
#[derive(Clone, Debug)]
struct Geometry {
    size: u32,
    sector: u32,
    granule: u32,
    map: Option<Arc<SectorTable>>,
    /// A part of several devices: each device's own physics, in address order.
    parts: Option<Arc<[Phys]>>,
}

/// The physics of the device that holds an address: where it starts and ends, how it programs
/// and what it checks.
#[derive(Clone, Copy, Debug)]
struct Phys {
    end: u32,
    granule: u32,
    unit: u32,
    ecc: bool,
    zero_overwrite: bool,
    zero_over_zero_refused: bool,
    max_programs: Option<u8>,
    program_unit_us: u32,
    read_ns_per_byte: u32,
}

impl Phys {
    fn of(start: u32, p: &FlashProfile) -> Phys {
        Phys {
            end: start.saturating_add(p.size),
            granule: p.write_size.max(1),
            unit: p.program_unit.max(1),
            ecc: p.ecc,
            zero_overwrite: p.zero_overwrite,
            zero_over_zero_refused: p.zero_over_zero_refused,
            max_programs: p.max_programs_per_granule,
            program_unit_us: p.program_unit_us,
            read_ns_per_byte: p.read_ns_per_byte,
        }
    }
}

/// The erase sectors of a part with mixed sector sizes.
#[derive(Debug)]
struct SectorTable {
    /// Start of every sector, then the end of the part: `bounds[i]..bounds[i + 1]` is sector i.
    bounds: Vec<u32>,
    /// Erase time of every sector, in microseconds.
    erase_us: Vec<u64>,
}

impl Geometry {
    fn of(profile: &FlashProfile) -> Self {
        let map =
            (!profile.sector_map.is_empty() || !profile.devices.is_empty()).then(|| Arc::new(SectorTable::of(profile)));
        let parts = (!profile.devices.is_empty()).then(|| {
            profile
                .device_map()
                .into_iter()
                .map(|(at, d)| Phys::of(at, d))
                .collect::<Arc<[Phys]>>()
        });
        let sector = match &map {
            Some(t) => t.bounds.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(1).max(1),
            None => profile.sector_size.max(1),
        };
        Geometry {
            size: profile.size,
            sector,
            granule: profile.write_size.max(1),
            map,
            parts,
        }
    }

    /// Number of erase sectors.
    fn sector_count(&self) -> usize {
        match &self.map {
            Some(t) => t.erase_us.len(),
            None => self.block_count(),
        }
    }

    /// Number of hash blocks (`sector`-sized pieces, the last one possibly short).
    fn block_count(&self) -> usize {
        self.size.div_ceil(self.sector) as usize
    }

    fn sector_range(&self, sector: u32) -> Range<u32> {
        if let Some(t) = &self.map {
            let i = sector as usize;
            return match (t.bounds.get(i), t.bounds.get(i + 1)) {
                (Some(&a), Some(&b)) => a..b,
                _ => self.size..self.size,
            };
        }
        let start = u64::from(sector) * u64::from(self.sector);
        let end = start + u64::from(self.sector);
        clip_to_u32(start, self.size)..clip_to_u32(end, self.size)
    }

    /// Index of the erase sector that holds `addr`.
    fn sector_index(&self, addr: u32) -> u32 {
        match &self.map {
            Some(t) => t.bounds.partition_point(|&b| b <= addr).saturating_sub(1) as u32,
            None => addr / self.sector,
        }
    }

    /// Indexes of the sectors that overlap `range`.
    fn sectors_of(&self, range: &Range<u32>) -> Range<u32> {
        if range.is_empty() {
            return 0..0;
        }
        self.sector_index(range.start)..self.sector_index(range.end - 1) + 1
    }

    /// An erase must start and end on sector boundaries.
    fn require_erase_aligned(&self, range: &Range<u32>) -> Result<(), NorError> {
        let Some(t) = &self.map else {
            return require_aligned(range, self.sector);
        };
        let on_bound = |a: u32| t.bounds.binary_search(&a).is_ok();
        if on_bound(range.start) && on_bound(range.end) {
            return Ok(());
        }
        let sectors = self.sectors_of(range);
        let align = self.sector_range(sectors.start).len() as u32;
        Err(NorError::Misaligned {
            addr: range.start,
            len: range.end - range.start,
            align,
        })
    }

    /// Erase time of sector `i`; `uniform` on a part without a sector map.
    fn erase_us(&self, sector: u32, uniform: u64) -> u64 {
        match &self.map {
            Some(t) => t.erase_us.get(sector as usize).copied().unwrap_or(uniform),
            None => uniform,
        }
    }

    fn granule_start(&self, addr: u32) -> u32 {
        addr - addr % self.granule
    }

    /// Addresses at which a torn granule overlapping `range` may start.
    fn granule_starts_overlapping(&self, range: &Range<u32>) -> Range<u32> {
        self.granule_start(range.start)..range.end
    }
}

impl SectorTable {
    /// The profile's runs, clipped to the part (a map that stops short ends with one sector
    /// that reaches the end, so every address has a sector whatever the input).
    fn of(profile: &FlashProfile) -> SectorTable {
        let mut bounds = vec![0u32];
        let mut erase_us = Vec::new();
        let mut at = 0u32;
        let device_runs: Vec<SectorRun> = if profile.devices.is_empty() {
            Vec::new()
        } else {
            profile
                .sectors()
                .into_iter()
                .map(|(_, size, us)| SectorRun::new(1, size, us))
                .collect()
        };
        let runs = if device_runs.is_empty() {
            &profile.sector_map
        } else {
            &device_runs
        };
        'runs: for run in runs {
            for _ in 0..run.count {
                if at >= profile.size {
                    break 'runs;
                }
                at = at.saturating_add(run.size.max(1)).min(profile.size);
                bounds.push(at);
                erase_us.push(u64::from(run.erase_us));
            }
        }
        if at < profile.size {
            bounds.push(profile.size);
            erase_us.push(u64::from(profile.erase_sector_us));
        }
        SectorTable { bounds, erase_us }
    }
}

/// A NOR-flash part with power-loss physics. Cloning copies the stored bytes
/// and the (small) anomaly maps.
#[derive(Clone)]
pub struct NorFlash {
    profile: FlashProfile,
    geom: Geometry,
    seed: u64,
    data: Vec<u8>,
    /// Byte address -> mask of weak bits in that byte.
    weak: BTreeMap<u32, u8>,
    /// Start addresses of torn ECC granules.
    torn: BTreeSet<u32>,
    /// Indexes of marginal sectors.
    marginal: BTreeSet<u32>,
    /// Programs per granule since its last erase; empty when the part has no
    /// program limit.
    program_counts: Vec<u8>,
    /// `hash_bytes` of `program_counts`, computed on demand by `state_hash` and dropped when a
    /// count changes: a megabyte part has a quarter of a million counts, and a cut's states are
    /// hashed several times between two changes.
    counts_hash: CountsHash,
    /// Per sector: whether it holds a weak bit, torn granule or is marginal.
    sector_has_anomaly: Vec<bool>,
    /// Counts reads and program operations; feeds the read/program hashes.
    access_count: u64,
    /// Hash of each sector's bytes, computed on demand by `state_hash` and dropped when an
    /// operation touches the sector, so hashing a state costs only the sectors that changed.
    sector_hashes: SectorHashes,
    /// Hash of each sector's program counts, computed on demand by `memo_key` and dropped when
    /// a count in the sector changes.
    sector_count_hashes: SectorHashes,
    /// Per sector: a number no other content of any sector of any flash in this process has
    /// had, renewed by every operation that touches the sector and kept by copies. Two flashes
    /// whose sector has the same version hold the same bytes there, so a copy skips it.
    sector_versions: Vec<u64>,
    /// While a run is watched (see [`NorFlash::watch_start`]): per block of `geom.sector`
    /// bytes, whether the run observed it (read or programmed it) or erased it first.
    watch: Watch,
}

/// What a watched run did to each block first: nothing yet, observed it (a read, or a program,
/// whose outcome depends on what was there), or erased it before either. A copy of a flash is
/// not watched.
#[derive(Debug, Default)]
struct Watch(Option<Vec<u8>>);

impl Clone for Watch {
    fn clone(&self) -> Self {
        Watch(None)
    }
}

const UNTOUCHED: u8 = 0;
const OBSERVED: u8 = 1;
const ERASED_FIRST: u8 = 2;

/// What a watched run had done to each block of the flash at some point of it (see
/// [`NorFlash::watch_marks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchMarks(Vec<u8>);

/// Enough of a flash state to tell, later, whether another state equals it outside some blocks
/// (see [`NorFlash::equals_outside`]): the blocks' versions and the anomaly maps.
#[derive(Debug, Clone)]
pub struct StateSketch {
    seed: u64,
    size: usize,
    versions: Vec<u64>,
    weak: Vec<(u32, u8)>,
    torn: Vec<u32>,
    marginal: Vec<u32>,
}

/// `hash_bytes(program_counts, 1)` by [`NorFlash::counts_key`] and the number of counts, for
/// every flash in the process (the hash depends on the counts alone).
static COUNTS_HASHES: LazyLock<Mutex<HashMap<(u64, usize), u64>>> = LazyLock::new(Mutex::default);
/// Entries of [`COUNTS_HASHES`] before it is emptied (16 bytes of key and 8 of value each).
const COUNTS_HASHES_KEPT: usize = 1 << 16;

/// The next unused sector version.
static NEXT_SECTOR_VERSION: AtomicU64 = AtomicU64::new(1);

/// Versions a thread takes from [`NEXT_SECTOR_VERSION`] at a time: every flash operation
/// renews a version, and one counter shared by the workers' threads cost a contended atomic
/// per operation.
const VERSIONS_PER_BATCH: u64 = 1 << 12;

thread_local! {
    /// The thread's unused versions: `next..end`.
    static VERSION_BATCH: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// `count` consecutive versions no other sector content of this process has had.
fn take_versions(count: u64) -> u64 {
    if count > VERSIONS_PER_BATCH / 4 {
        return NEXT_SECTOR_VERSION.fetch_add(count, Ordering::Relaxed);
    }
    VERSION_BATCH.with(|b| {
        let (mut next, mut end) = b.get();
        if end - next < count {
            next = NEXT_SECTOR_VERSION.fetch_add(VERSIONS_PER_BATCH, Ordering::Relaxed);
            end = next + VERSIONS_PER_BATCH;
        }
        b.set((next + count, end));
        next
    })
}

fn fresh_versions(count: usize) -> Vec<u64> {
    let first = take_versions(count as u64);
    (first..first + count as u64).collect()
}

/// The cached hash of the program counts (`DIRTY` = not computed).
struct CountsHash(AtomicU64);

impl Clone for CountsHash {
    fn clone(&self) -> Self {
        CountsHash(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl CountsHash {
    fn dirty() -> Self {
        CountsHash(AtomicU64::new(DIRTY))
    }

    fn invalidate(&self) {
        self.0.store(DIRTY, Ordering::Relaxed);
    }
}

/// Cached per-sector hashes (`DIRTY` = not computed). Atomics keep `NorFlash` `Sync`.
struct SectorHashes(Vec<AtomicU64>);

const DIRTY: u64 = u64::MAX;

impl Clone for SectorHashes {
    fn clone(&self) -> Self {
        SectorHashes(
            self.0
                .iter()
                .map(|h| AtomicU64::new(h.load(Ordering::Relaxed)))
                .collect(),
        )
    }
}

impl SectorHashes {
    fn new(sectors: usize) -> Self {
        SectorHashes((0..sectors).map(|_| AtomicU64::new(DIRTY)).collect())
    }

    fn invalidate(&self, sectors: Range<usize>) {
        for h in self.0.get(sectors).unwrap_or(&[]) {
            h.store(DIRTY, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for NorFlash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NorFlash")
            .field("profile", &self.profile.name)
            .field("seed", &self.seed)
            .field("anomalies", &self.anomalies())
            .field("access_count", &self.access_count)
            .finish_non_exhaustive()
    }
}

/// Salts that keep the different hashed draws independent.
const SALT_WEAK_READ: u64 = 0x5745_414b_5245_4144;
const SALT_MARGINAL_READ: u64 = 0x4d41_5247_5245_4144;
const SALT_MARGINAL_PROGRAM: u64 = 0x4d41_5247_5052_4f47;
const SALT_CUT: u64 = 0x4355_5453_4545_4421;

/// A byte of a marginal sector reads one bit at 0 on about one read in this
/// many (only bits stored as 1 can flip).
pub const MARGINAL_READ_FLIP_ONE_IN: u64 = 16_384;
/// A program unit written into a marginal sector leaves some of its newly
/// cleared bits weak in about one program in this many.
pub const MARGINAL_PROGRAM_UNSTUCK_ONE_IN: u64 = 4;

impl NorFlash {
    /// A fully erased, clean part. Zero sizes in the profile are treated as 1
    /// so that no input can divide by zero (see [`FlashProfile::validate`]).
    pub fn new(profile: FlashProfile, seed: u64) -> Self {
        let geom = Geometry::of(&profile);
        let limited = profile.max_programs_per_granule.is_some()
            || profile.devices.iter().any(|d| d.max_programs_per_granule.is_some());
        let program_counts = match limited {
            true => vec![0; geom.size.div_ceil(geom.granule) as usize],
            false => Vec::new(),
        };
        NorFlash {
            data: vec![0xFF; geom.size as usize],
            sector_has_anomaly: vec![false; geom.sector_count()],
            weak: BTreeMap::new(),
            torn: BTreeSet::new(),
            marginal: BTreeSet::new(),
            program_counts,
            counts_hash: CountsHash::dirty(),
            access_count: 0,
            sector_hashes: SectorHashes::new(geom.block_count()),
            sector_count_hashes: SectorHashes::new(geom.block_count()),
            sector_versions: fresh_versions(geom.block_count()),
            watch: Watch(None),
            profile,
            geom,
            seed,
        }
    }

    pub fn profile(&self) -> &FlashProfile {
        &self.profile
    }

    /// The seed of the part's own draws (weak-bit and marginal reads, marginal programs, cuts).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether a sector is marginal: programs into it then draw on the access counter, so
    /// what an operation leaves depends on the reads before it, not only on the stored state.
    pub fn has_marginal_sectors(&self) -> bool {
        !self.marginal.is_empty()
    }

    /// Whether an operation on this state may draw on the access counter (a weak bit read, a
    /// marginal sector read or programmed): then what a run does from here depends on how
    /// many accesses came before it since the power-on, not only on the state. Without a cut,
    /// a state without draws leads only to states without draws.
    pub fn may_draw(&self) -> bool {
        !self.weak.is_empty() || !self.marginal.is_empty()
    }

    /// Whether every read of the byte at `addr` returns what the last one did: it holds no
    /// weak bit, and no granule of the part is torn and no sector marginal (their reads go the
    /// general way). Out of bounds, no.
    pub fn reads_alike(&self, addr: u32) -> bool {
        addr < self.geom.size && self.marginal.is_empty() && self.torn.is_empty() && !self.weak.contains_key(&addr)
    }

    #[cfg(test)]
    pub(crate) fn access_count_for_tests(&self) -> u64 {
        self.access_count
    }

    /// Counts a read that [`NorFlash::reads_alike`] says returns what the last one did,
    /// without reading: the access counter moves as a read moves it.
    pub fn count_read(&mut self) {
        self.access_count = self.access_count.wrapping_add(1);
    }

    /// The blocks (as [`NorFlash::watch_marks`] counts them) that `addr..addr + len` overlaps.
    pub fn blocks_touched(&self, addr: u32, len: u32) -> Range<usize> {
        self.blocks_of(addr, len)
    }

    /// Whether each granule `addr..addr + len` overlaps can be programmed `times` more times
    /// before its next erase (always, on a part without a program limit).
    pub fn program_budget_allows(&self, addr: u32, len: u32, times: u32) -> bool {
        let Some(max) = self.phys(addr).max_programs else {
            return true;
        };
        if self.program_counts.is_empty() {
            return true;
        }
        let range = addr..addr.saturating_add(len);
        let granules = self.granule_indexes(&range);
        self.program_counts
            .get(granules)
            .is_some_and(|counts| counts.iter().all(|&c| u32::from(c) + times <= u32::from(max)))
    }

    /// Becomes a copy of `other`, reusing this part's buffers (a simulated board forks a
    /// post-cut flash per cut; reusing the megabyte it had avoids fresh pages every time).
    pub fn copy_from(&mut self, other: &NorFlash) {
        self.profile.clone_from(&other.profile);
        self.geom.clone_from(&other.geom);
        self.seed = other.seed;
        // Before the versions are copied: they tell which sectors' counts differ.
        self.copy_program_counts(other);
        if self.data.len() == other.data.len() && self.sector_versions.len() == other.sector_versions.len() {
            // Only the sectors whose content differs.
            let sector = self.geom.sector.max(1) as usize;
            let chunks = self.data.chunks_mut(sector).zip(other.data.chunks(sector));
            for ((mine, theirs), (v, w)) in chunks.zip(self.sector_versions.iter().zip(&other.sector_versions)) {
                if v != w {
                    mine.copy_from_slice(theirs);
                }
            }
        } else {
            self.data.clone_from(&other.data);
        }
        self.sector_versions.clone_from(&other.sector_versions);
        self.weak.clone_from(&other.weak);
        self.torn.clone_from(&other.torn);
        self.marginal.clone_from(&other.marginal);
        self.counts_hash
            .0
            .store(other.counts_hash.0.load(Ordering::Relaxed), Ordering::Relaxed);
        self.sector_has_anomaly.clone_from(&other.sector_has_anomaly);
        self.access_count = other.access_count;
        if self.sector_hashes.0.len() == other.sector_hashes.0.len() {
            for (mine, theirs) in self.sector_hashes.0.iter().zip(&other.sector_hashes.0) {
                mine.store(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        } else {
            self.sector_hashes = other.sector_hashes.clone();
        }
        if self.sector_count_hashes.0.len() == other.sector_count_hashes.0.len() {
            for (mine, theirs) in self.sector_count_hashes.0.iter().zip(&other.sector_count_hashes.0) {
                mine.store(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        } else {
            self.sector_count_hashes = other.sector_count_hashes.clone();
        }
    }

    /// The program counts of `other`, copied only for the sectors whose version differs: an
    /// operation that changes a sector's counts renews its version, as it does for its bytes.
    fn copy_program_counts(&mut self, other: &NorFlash) {
        let per_sector = (self.geom.sector / self.geom.granule.max(1)).max(1) as usize;
        let same_shape = self.program_counts.len() == other.program_counts.len()
            && self.sector_versions.len() == other.sector_versions.len()
            && self.geom.sector.is_multiple_of(self.geom.granule.max(1))
            && self.program_counts.len() == self.sector_versions.len() * per_sector;
        if !same_shape {
            self.program_counts.clone_from(&other.program_counts);
            return;
        }
        let chunks = self
            .program_counts
            .chunks_mut(per_sector)
            .zip(other.program_counts.chunks(per_sector));
        for ((mine, theirs), (v, w)) in chunks.zip(self.sector_versions.iter().zip(&other.sector_versions)) {
            if v != w {
                mine.copy_from_slice(theirs);
            }
        }
    }

    /// Starts watching what the runs from here do to each block: which they observe (read or
    /// program: what happens next may depend on what was there) and which they erase before
    /// observing (what was there cannot matter to them). [`NorFlash::watch_end`] says.
    pub fn watch_start(&mut self) {
        self.watch.0 = Some(vec![UNTOUCHED; self.sector_versions.len()]);
    }

    /// A run observed `addr..addr + len` (read it, or computed something from its bytes).
    pub fn watch_access(&mut self, addr: u32, len: u32) {
        let blocks = self.blocks_of(addr, len);
        if let Some(w) = self.watch.0.as_mut() {
            for b in &mut w[blocks] {
                if *b == UNTOUCHED {
                    *b = OBSERVED;
                }
            }
        }
    }

    /// A run is about to apply `op`, which [`NorFlash::check`] accepted: a program observes its
    /// range (its outcome depends on the bytes and counts there), an erase erases its blocks.
    pub fn watch_op(&mut self, op: &FlashOp) {
        if self.watch.0.is_none() {
            return;
        }
        match op {
            FlashOp::Erase { addr, len } => {
                let blocks = self.blocks_of(*addr, *len);
                let sector = self.geom.sector.max(1);
                // Only blocks the erase covers whole (an accepted erase covers every one).
                let whole = |i: usize| {
                    let start = i as u64 * u64::from(sector);
                    start >= u64::from(*addr) && start + u64::from(sector) <= u64::from(*addr) + u64::from(*len)
                };
                if let Some(w) = self.watch.0.as_mut() {
                    for i in blocks {
                        if w[i] == UNTOUCHED {
                            w[i] = if whole(i) { ERASED_FIRST } else { OBSERVED };
                        }
                    }
                }
            }
            FlashOp::Program { .. } | FlashOp::ReplaceWord { .. } => self.watch_access(op.addr(), op.len()),
        }
    }

    /// Something the watch cannot see read the flash (a run served from an earlier one): every
    /// block not erased first counts as observed.
    pub fn watch_everything(&mut self) {
        if let Some(w) = self.watch.0.as_mut() {
            for b in w.iter_mut().filter(|b| **b == UNTOUCHED) {
                *b = OBSERVED;
            }
        }
    }

    /// Ends the watch: per block, whether the watched runs erased it before observing it, so
    /// that its content before the runs made no difference to them. `None` if not watched.
    pub fn watch_end(&mut self) -> Option<Vec<bool>> {
        self.watch
            .0
            .take()
            .map(|w| w.into_iter().map(|b| b == ERASED_FIRST).collect())
    }

    /// What the watched run has done to each block so far (`None` when not watched): kept at a
    /// rest point and at the end of a run, to tell later what a run that joins it there did
    /// (see [`NorFlash::watch_join`]).
    pub fn watch_marks(&self) -> Option<WatchMarks> {
        self.watch.0.clone().map(WatchMarks)
    }

    /// This watched run stopped at a rest point and takes the rest of its course from an
    /// earlier run that passed the same rest point with the same flash: `at_rest` is what that
    /// run had done to each block when it passed there, `at_end` what it had done by its end.
    /// A block this run has not touched yet is touched first by that course as the earlier
    /// run touched it after the rest point: as at its end, when it had not touched it before
    /// the rest point; otherwise the earlier run's first touch after it is not known, and the
    /// block counts as observed (which only ever keeps a state from being served alike).
    pub fn watch_join(&mut self, at_rest: Option<&WatchMarks>, at_end: Option<&WatchMarks>) {
        let Some(w) = self.watch.0.as_mut() else {
            return;
        };
        let (Some(at_rest), Some(at_end)) = (at_rest, at_end) else {
            return self.watch_everything();
        };
        if at_rest.0.len() != w.len() || at_end.0.len() != w.len() {
            return self.watch_everything();
        }
        for ((mark, &then), &last) in w.iter_mut().zip(&at_rest.0).zip(&at_end.0) {
            if *mark == UNTOUCHED {
                *mark = if then == UNTOUCHED { last } else { OBSERVED };
            }
        }
    }

    /// The blocks (of `geom.sector` bytes, as the versions count them) `addr..addr + len`
    /// overlaps, clamped to the part.
    fn blocks_of(&self, addr: u32, len: u32) -> Range<usize> {
        let sector = u64::from(self.geom.sector.max(1));
        let n = self.sector_versions.len();
        let first = (u64::from(addr) / sector).min(n as u64) as usize;
        let last = (u64::from(addr) + u64::from(len)).div_ceil(sector).min(n as u64) as usize;
        first..last.max(first)
    }

    /// A sketch of this state, to compare later states with (see [`NorFlash::equals_outside`]).
    pub fn sketch(&self) -> StateSketch {
        StateSketch {
            seed: self.seed,
            size: self.data.len(),
            versions: self.sector_versions.clone(),
            weak: self.weak.iter().map(|(&a, &m)| (a, m)).collect(),
            torn: self.torn.iter().copied().collect(),
            marginal: self.marginal.iter().copied().collect(),
        }
    }

    /// Whether this state is the sketched one in every block where `ignore` is false: same
    /// seed, same block versions (a version is renewed by every operation on its block and
    /// kept by copies, so equal versions hold equal bytes and program counts), same weak bits,
    /// torn granules and marginal sectors. Blocks whose versions differ count as different
    /// even if their bytes happen to agree.
    pub fn equals_outside(&self, sketch: &StateSketch, ignore: &[bool]) -> bool {
        if sketch.seed != self.seed
            || sketch.size != self.data.len()
            || sketch.versions.len() != self.sector_versions.len()
            || ignore.len() != self.sector_versions.len()
        {
            return false;
        }
        let same_versions = self
            .sector_versions
            .iter()
            .zip(&sketch.versions)
            .zip(ignore)
            .all(|((a, b), &skip)| skip || a == b);
        if !same_versions {
            return false;
        }
        let sector = u64::from(self.geom.sector.max(1));
        let kept = |addr: u32| {
            !ignore
                .get((u64::from(addr) / sector) as usize)
                .copied()
                .unwrap_or(false)
        };
        let weak_here = self.weak.iter().map(|(&a, &m)| (a, m)).filter(|&(a, _)| kept(a));
        let weak_there = sketch.weak.iter().copied().filter(|&(a, _)| kept(a));
        let torn_here = self.torn.iter().copied().filter(|&a| kept(a));
        let torn_there = sketch.torn.iter().copied().filter(|&a| kept(a));
        // Marginal sectors are numbered by physical sector, which is the block on a part of
        // uniform sectors; on a part of mixed sectors they are compared whole.
        let uniform = self.geom.map.is_none();
        let kept_sector = |s: u32| !uniform || !ignore.get(s as usize).copied().unwrap_or(false);
        let marginal_here = self.marginal.iter().copied().filter(|&s| kept_sector(s));
        let marginal_there = sketch.marginal.iter().copied().filter(|&s| kept_sector(s));
        weak_here.eq(weak_there) && torn_here.eq(torn_there) && marginal_here.eq(marginal_there)
    }

    /// Power returns: the access counter that feeds weak-bit and marginal draws restarts, so
    /// what happens after a power-on depends only on the stored state and what the firmware
    /// does from then on.
    pub fn power_cycle(&mut self) {
        self.access_count = 0;
    }

    /// The error [`NorFlash::apply`] would return for `op`, without changing
    /// anything: bounds and alignment, then the state checks (ECC granule not
    /// erased, program limit reached).
    pub fn check(&self, op: &FlashOp) -> Result<(), NorError> {
        match op {
            FlashOp::Program { addr, data } => {
                let range = self.span(*addr, data.len())?;
                self.require_one_device(&range)?;
                require_aligned(&range, self.phys(*addr).granule)?;
                self.require_program_allowed(&range, data)
            }
            FlashOp::Erase { addr, len } => {
                let range = self.span(*addr, *len as usize)?;
                self.require_one_device(&range)?;
                self.geom.require_erase_aligned(&range)
            }
            FlashOp::ReplaceWord { addr, data } => {
                let range = self.span(*addr, data.len())?;
                self.require_one_device(&range)?;
                require_aligned(&range, self.phys(*addr).granule)
            }
        }
    }

    /// Datasheet time of the whole operation: program units touched times
    /// the unit time, or the erase times of the sectors touched.
    pub fn duration_us(&self, op: &FlashOp) -> u64 {
        match op {
            FlashOp::Erase { addr, len } if self.geom.map.is_some() => {
                let range = *addr..addr.saturating_add(*len);
                self.geom
                    .sectors_of(&range)
                    .map(|i| self.geom.erase_us(i, self.step_us(op)))
                    .sum()
            }
            _ => self.step_count(op) * self.step_us(op),
        }
    }

    /// Runs the operation to completion.
    pub fn apply(&mut self, op: &FlashOp) -> Result<(), NorError> {
        self.check(op)?;
        self.apply_after_check(op);
        Ok(())
    }

    /// [`NorFlash::apply`] of an operation [`NorFlash::check`] has just accepted on this state
    /// (the board checks every operation before it decides where a cut lands; checking it a
    /// second time cost a tenth of a swap's operations).
    pub(crate) fn apply_after_check(&mut self, op: &FlashOp) {
        self.invalidate_hashes(op.addr(), op.len());
        self.apply_checked(op);
    }

    /// Power dies `elapsed_us` into `op`. Elapsed 0 changes nothing; elapsed
    /// at or past [`NorFlash::duration_us`] is exactly [`NorFlash::apply`].
    /// An op that `check` refuses changes nothing and is reported `rejected`.
    pub fn apply_cut(&mut self, op: &FlashOp, elapsed_us: u64, cut_seed: u64) -> TornReport {
        let steps = self.step_count(op);
        let mut report = TornReport::new(op, elapsed_us, self.duration_us(op), steps);
        if let Err(error) = self.check(op) {
            report.outcome = TornOutcome::Rejected;
            report.error = Some(error);
            return report;
        }
        if elapsed_us == 0 {
            return report;
        }
        self.invalidate_hashes(op.addr(), op.len());
        let range = op.addr()..op.addr() + op.len();
        let before = self.data[to_usize(&range)].to_vec();
        if elapsed_us >= report.duration_us {
            report.weak_bits = self.apply_checked(op);
            report.steps_done = steps;
            report.outcome = TornOutcome::Completed;
        } else {
            let mut rng = self.cut_rng(cut_seed, op.addr());
            self.cut_part_way(op, &mut report, &mut rng);
        }
        report.bits_changed = bits_differing(&before, &self.data[to_usize(&range)]);
        report
    }

    /// Power dies `elapsed_us` into `op` on a part, or a storage stack in front of it, that
    /// stores the part of a write it had not reached as zeros: a program keeps its first
    /// `len * elapsed / duration` bytes and the rest is programmed 0x00, whole (no weak bit, no
    /// torn granule: the zeros are written data, good ECC and all). The report's outcome is
    /// [`TornOutcome::Zeroed`]. An erase or an atomic word rewrite in flight tears as in
    /// [`NorFlash::apply_cut`], as do elapsed 0 (nothing) and a cut at or past the end (done).
    pub fn apply_zeroed_tail(&mut self, op: &FlashOp, elapsed_us: u64, cut_seed: u64) -> TornReport {
        let dur = self.duration_us(op);
        let FlashOp::Program { addr, data } = op else {
            return self.apply_cut(op, elapsed_us, cut_seed);
        };
        if elapsed_us == 0 || elapsed_us >= dur || self.check(op).is_err() {
            return self.apply_cut(op, elapsed_us, cut_seed);
        }
        let steps = self.step_count(op);
        let mut report = TornReport::new(op, elapsed_us, dur, steps);
        let kept = usize::try_from(data.len() as u64 * elapsed_us / dur).unwrap_or(data.len());
        let mut written = data.clone();
        written[kept..].fill(0);
        let zeroed = FlashOp::Program {
            addr: *addr,
            data: written,
        };
        let range = *addr..*addr + data.len() as u32;
        let before = self.data[to_usize(&range)].to_vec();
        self.invalidate_hashes(*addr, op.len());
        report.weak_bits = self.apply_checked(&zeroed);
        report.steps_done = steps;
        report.outcome = TornOutcome::Zeroed;
        report.zeroed_from = Some(*addr + kept as u32);
        report.bits_changed = bits_differing(&before, &self.data[to_usize(&range)]);
        report
    }

    /// Reads `buf.len()` bytes at `addr`. A clean region is a plain copy;
    /// weak bits and marginal sectors read as the hashed draw of this read.
    #[inline]
    pub fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), NorError> {
        if self.watch.0.is_some() {
            self.watch_access(addr, buf.len() as u32);
        }
        // A part without anomalies (nearly every read of a run): the stored bytes, copied
        // inline, without the frame of the general path (a trailer's status scan reads one
        // byte at a time, thousands of times a recovery on a large slot).
        if self.weak.is_empty() && self.marginal.is_empty() && self.torn.is_empty() {
            let start = addr as usize;
            let end = start.wrapping_add(buf.len());
            if let Some(stored) = self.data.get(start..end).filter(|_| end <= self.geom.size as usize) {
                self.access_count = self.access_count.wrapping_add(1);
                if let ([b], [s]) = (&mut *buf, stored) {
                    *b = *s;
                } else {
                    buf.copy_from_slice(stored);
                }
                return Ok(());
            }
        } else if let Some(stored) = self.stored_if_clean(addr, buf.len()) {
            // A part with anomalies elsewhere (a torn program leaves weak bits in the sector it
            // tore): a range whose sectors hold none reads as stored, as the general path
            // would read it, without its searches.
            buf.copy_from_slice(stored);
            self.access_count = self.access_count.wrapping_add(1);
            return Ok(());
        }
        self.read_general(addr, buf)
    }

    /// The stored bytes of `addr..addr + len` when every read of them returns them: no torn
    /// granule anywhere, uniform sectors, in bounds, not empty, and no sector of the range
    /// flagged as holding a weak bit or as marginal. `None` otherwise (the general path reads).
    #[inline]
    fn stored_if_clean(&self, addr: u32, len: usize) -> Option<&[u8]> {
        if !self.torn.is_empty() || self.geom.map.is_some() || len == 0 {
            return None;
        }
        let start = addr as usize;
        let end = start.checked_add(len).filter(|&e| e <= self.geom.size as usize)?;
        // Sectors are a power of two on every part but the odd one: a shift, not a division
        // (one per read, and the status scans read a byte at a time).
        let sector = self.geom.sector.max(1) as usize;
        let index = |a: usize| match sector.is_power_of_two() {
            true => a >> sector.trailing_zeros(),
            false => a / sector,
        };
        let flags = self.sector_has_anomaly.get(index(start)..=index(end - 1))?;
        if flags.iter().any(|&f| f) {
            return None;
        }
        self.data.get(start..end)
    }

    /// [`NorFlash::read`] of a part with anomalies, or out of bounds.
    #[inline(never)]
    fn read_general(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), NorError> {
        let range = self.span(addr, buf.len())?;
        self.access_count = self.access_count.wrapping_add(1);
        self.require_no_torn_granule(&range)?;
        let stored = &self.data[to_usize(&range)];
        if let ([b], [s]) = (&mut *buf, stored) {
            // A trailer's flags and status records are read a byte at a time, thousands of
            // times a recovery on a large slot: no call to a general copy for one byte.
            *b = *s;
        } else {
            buf.copy_from_slice(stored);
        }
        if self.range_is_clean(&range) {
            return Ok(());
        }
        self.blur_weak_bits(&range, buf);
        self.disturb_marginal_bytes(&range, buf);
        Ok(())
    }

    /// Stored bits; weak bits at their current stored value.
    pub fn raw(&self) -> &[u8] {
        &self.data
    }

    /// Factory or probe programming: sets the bytes exactly and clears every
    /// anomaly that touches the range (weak bytes, torn granules, marginal
    /// sectors, program counts). Bytes past the end of the flash are ignored.
    pub fn load(&mut self, addr: u32, bytes: &[u8]) {
        let start = addr.min(self.geom.size);
        let room = (self.geom.size - start) as usize;
        let count = bytes.len().min(room);
        let range = start..start + count as u32;
        if range.is_empty() {
            return;
        }
        self.invalidate_hashes(range.start, count as u32);
        self.data[to_usize(&range)].copy_from_slice(&bytes[..count]);
        self.clear_anomalies(&range);
    }

    /// A fingerprint of the bytes in `addr..addr + len`, from the cached sector hashes, when
    /// every read of that range would return the stored bytes (no weak bit, marginal sector or
    /// torn granule in its sectors); `None` otherwise or out of bounds.
    pub fn content_key(&self, addr: u32, len: u32) -> Option<u64> {
        let range = self.span(addr, len as usize).ok()?;
        if self.require_no_torn_granule(&range).is_err() || !self.range_is_clean(&range) {
            return None;
        }
        let sector = self.geom.sector.max(1) as usize;
        let first = range.start as usize / sector;
        let last = (range.end as usize).div_ceil(sector);
        let mut h = fold(u64::from(addr), u64::from(len));
        for i in first..last {
            let chunk = self.data.get(i * sector..((i + 1) * sector).min(self.data.len()))?;
            h = fold(h, self.sector_hash(i, chunk));
        }
        Some(finalize(h))
    }

    /// A fingerprint of the stored bytes of the sectors `addr..addr + len` overlaps, from the
    /// cached sector hashes, whatever anomalies they hold (what a dump of the range copies:
    /// equal keys, equal dumps); `None` out of bounds. Cheaper than [`NorFlash::state_hash`],
    /// which also hashes every program count of the part.
    pub fn bytes_key(&self, addr: u32, len: u32) -> Option<u64> {
        Some(bytes_key_of(addr, len, &self.sector_hashes(addr, len)?))
    }

    /// The hashes [`NorFlash::bytes_key`] folds for `addr..addr + len`: one per sector it
    /// overlaps, from the first. `None` out of bounds.
    pub fn sector_hashes(&self, addr: u32, len: u32) -> Option<Vec<u64>> {
        let range = self.span(addr, len as usize).ok()?;
        let sector = self.geom.sector.max(1) as usize;
        let first = range.start as usize / sector;
        let last = (range.end as usize).div_ceil(sector);
        (first..last)
            .map(|i| {
                let chunk = self.data.get(i * sector..((i + 1) * sector).min(self.data.len()))?;
                Some(self.sector_hash(i, chunk))
            })
            .collect()
    }

    /// The bytes of the sector [`NorFlash::bytes_key`] hashes: a whole number of them covers
    /// every range such a key is asked of whose ends are multiples of it.
    pub fn hash_unit(&self) -> u32 {
        self.geom.sector.max(1)
    }

    /// [`NorFlash::bytes_key`] of a state whose bytes of `addr..addr + len` (a whole number of
    /// [`NorFlash::hash_unit`]s from a multiple of it) are `bytes`, given the hashes of its
    /// sectors there (`sector_hashes`) for those not in `changed` (byte offsets into `bytes`),
    /// whose hashes are taken from `bytes` anew.
    pub fn bytes_key_with(&self, addr: u32, bytes: &[u8], hashes: &[u64], changed: &Range<usize>) -> Option<u64> {
        let hashes = self.sector_hashes_with(addr, bytes, hashes, changed)?;
        Some(bytes_key_of(addr, bytes.len() as u32, &hashes))
    }

    /// The sector hashes of a state whose bytes of `addr..addr + len` (a whole number of
    /// [`NorFlash::hash_unit`]s from a multiple of it) are `bytes`: `hashes` (its
    /// `sector_hashes` there) for the sectors not in `changed` (byte offsets into `bytes`), the
    /// others taken from `bytes` anew. [`bytes_key_of`] of them is [`NorFlash::bytes_key_with`].
    pub fn sector_hashes_with(
        &self,
        addr: u32,
        bytes: &[u8],
        hashes: &[u64],
        changed: &Range<usize>,
    ) -> Option<Vec<u64>> {
        let sector = self.hash_unit() as usize;
        u32::try_from(bytes.len()).ok()?;
        if !(addr as usize).is_multiple_of(sector)
            || !bytes.len().is_multiple_of(sector)
            || hashes.len() != bytes.len() / sector
        {
            return None;
        }
        let first = addr as usize / sector;
        let mut out = hashes.to_vec();
        for (k, v) in out.iter_mut().enumerate() {
            let span = k * sector..(k + 1) * sector;
            if span.start < changed.end && changed.start < span.end {
                *v = hash_bytes(&bytes[span], (first + k) as u64) & !(1 << 63);
            }
        }
        Some(out)
    }

    /// The hash [`NorFlash::sector_hashes`] gives sector `index` when it stores `bytes`.
    pub fn sector_hash_of(&self, index: usize, bytes: &[u8]) -> u64 {
        hash_bytes(bytes, index as u64) & !(1 << 63)
    }

    fn sector_hash(&self, i: usize, chunk: &[u8]) -> u64 {
        let cached = self.sector_hashes.0.get(i).map_or(DIRTY, |c| c.load(Ordering::Relaxed));
        if cached != DIRTY {
            return cached;
        }
        let v = hash_bytes(chunk, i as u64) & !(1 << 63);
        if let Some(c) = self.sector_hashes.0.get(i) {
            c.store(v, Ordering::Relaxed);
        }
        v
    }

    fn invalidate_hashes(&mut self, addr: u32, len: u32) {
        let sector = self.geom.sector.max(1) as usize;
        let first = addr as usize / sector;
        let last = (addr as usize + len as usize).div_ceil(sector);
        self.sector_hashes.invalidate(first..last);
        let end = last.min(self.sector_versions.len());
        if first < end {
            let fresh = take_versions((end - first) as u64);
            for (v, n) in self.sector_versions[first..end].iter_mut().zip(fresh..) {
                *v = n;
            }
        }
    }

    /// Hash of the stored bytes: the hashes of the sectors, each computed once per change.
    fn data_hash(&self) -> u64 {
        let sector = self.geom.sector.max(1) as usize;
        let mut h = self.data.len() as u64;
        for (i, chunk) in self.data.chunks(sector).enumerate() {
            h = fold(h, self.sector_hash(i, chunk));
        }
        h
    }

    /// Fast 64-bit hash of the stored bytes and every anomaly (weak bits,
    /// torn granules, marginal sectors, program counts). It leaves out the
    /// seed and the access counter: two flashes with equal hashes hold the
    /// same physical state.
    pub fn state_hash(&self) -> u64 {
        self.state_hash_with(self.program_counts_hash())
    }

    /// [`NorFlash::state_hash`], given the hash of the program counts.
    fn state_hash_with(&self, counts_hash: u64) -> u64 {
        let mut h = self.data_hash();
        h = fold(h, self.weak.len() as u64);
        for (&addr, &mask) in &self.weak {
            h = fold(h, u64::from(addr) << 8 | u64::from(mask));
        }
        h = fold(h, self.torn.len() as u64);
        for &addr in &self.torn {
            h = fold(h, u64::from(addr));
        }
        h = fold(h, self.marginal.len() as u64);
        for &sector in &self.marginal {
            h = fold(h, u64::from(sector));
        }
        finalize(fold(h, counts_hash))
    }

    /// A key of the same physical state as [`NorFlash::state_hash`] (stored bytes, weak bits,
    /// torn granules, marginal sectors, program counts), for keying work done from a state
    /// within one process: equal keys, equal states (up to a 64-bit collision). Unlike
    /// `state_hash`, whose value journals record, it hashes the program counts sector by sector
    /// and keeps each sector's hash until a count in it changes, so keying a state after an
    /// operation costs the sectors it touched, not the whole part's counts.
    pub fn memo_key(&self) -> u64 {
        self.memo_key_from(self.bytes_and_anomalies_key())
    }

    /// [`NorFlash::memo_key`] from [`NorFlash::bytes_and_anomalies_key`].
    fn memo_key_from(&self, h: u64) -> u64 {
        let h = fold(h, self.program_counts.len() as u64);
        if self.program_counts.is_empty() {
            return finalize(h);
        }
        match self.counts_key() {
            Some(k) => finalize(fold(h, k)),
            None => finalize(fold(h, self.program_counts_hash())),
        }
    }

    /// [`NorFlash::memo_key`] without the program counts: the stored bytes, weak bits, torn
    /// granules and marginal sectors. Equal keys, states that read alike and differ at most in
    /// how many more times a granule can be programmed before its next erase.
    pub fn bytes_and_anomalies_key(&self) -> u64 {
        self.anomalies_key(self.data_hash(), &(0..0))
    }

    /// [`NorFlash::bytes_and_anomalies_key`] from the hash of the stored bytes, leaving out the
    /// weak bits and torn granules in `skip`.
    fn anomalies_key(&self, data_hash: u64, skip: &Range<u32>) -> u64 {
        let mut h = fold(data_hash, 0x004d_454d_4f4b_4559);
        let weak = || self.weak.iter().filter(|(a, _)| !skip.contains(a));
        h = fold(h, weak().count() as u64);
        for (&addr, &mask) in weak() {
            h = fold(h, u64::from(addr) << 8 | u64::from(mask));
        }
        let torn = || self.torn.iter().filter(|a| !skip.contains(a));
        h = fold(h, torn().count() as u64);
        for &addr in torn() {
            h = fold(h, u64::from(addr));
        }
        h = fold(h, self.marginal.len() as u64);
        for &sector in &self.marginal {
            h = fold(h, u64::from(sector));
        }
        h
    }

    /// The keys ([`NorFlash::bytes_and_anomalies_key`], then [`NorFlash::memo_key`]) of the
    /// state this one would be had the program of `data` at `addr`, which a cut tore, run to
    /// its end: its bytes cleared as the program clears them, without the weak bits and torn
    /// granules the tear left there, the program counts as they are (a torn program counts).
    /// `None` unless every weak bit and torn granule of the part is in that range and no
    /// sector is marginal: then that state draws nothing.
    pub fn keys_if_completed(&self, addr: u32, data: &[u8]) -> Option<(u64, u64)> {
        let range = self.span(addr, data.len()).ok()?;
        if !self.marginal.is_empty()
            || self.weak.keys().any(|a| !range.contains(a))
            || self.torn.iter().any(|a| !range.contains(a))
        {
            return None;
        }
        let sector = self.geom.sector.max(1) as usize;
        let touched = range.start as usize / sector..(range.end as usize).div_ceil(sector);
        let mut h = self.data.len() as u64;
        let mut patched = Vec::new();
        for (i, chunk) in self.data.chunks(sector).enumerate() {
            if !touched.contains(&i) {
                h = fold(h, self.sector_hash(i, chunk));
                continue;
            }
            patched.clear();
            patched.extend_from_slice(chunk);
            let base = i * sector;
            for (a, &b) in (range.start as usize..range.end as usize).zip(data) {
                if let Some(byte) = a.checked_sub(base).and_then(|o| patched.get_mut(o)) {
                    *byte &= b;
                }
            }
            h = fold(h, hash_bytes(&patched, i as u64) & !(1 << 63));
        }
        let loose = self.anomalies_key(h, &range);
        Some((loose, self.memo_key_from(loose)))
    }

    /// A key of the program counts from the hashes of each sector's counts, each kept until a
    /// count in its sector changes: equal keys, equal counts (up to a 64-bit collision).
    /// `None` when the counts do not split into whole sectors.
    fn counts_key(&self) -> Option<u64> {
        let per_sector = (self.geom.sector / self.geom.granule.max(1)).max(1) as usize;
        let regular = self.geom.sector.is_multiple_of(self.geom.granule.max(1))
            && self.program_counts.len() == self.sector_count_hashes.0.len() * per_sector;
        if !regular {
            return None;
        }
        let mut h = 0x0043_4f55_4e54_534b;
        for (i, (counts, cached)) in self
            .program_counts
            .chunks(per_sector)
            .zip(&self.sector_count_hashes.0)
            .enumerate()
        {
            let mut v = cached.load(Ordering::Relaxed);
            if v == DIRTY {
                v = hash_bytes(counts, i as u64) & !(1 << 63);
                cached.store(v, Ordering::Relaxed);
            }
            h = fold(h, v);
        }
        Some(h)
    }

    /// Drops the cached count hashes of the sectors `range` overlaps.
    fn invalidate_count_hashes(&self, range: &Range<u32>) {
        let sectors = self.geom.sectors_of(range);
        self.sector_count_hashes
            .invalidate(sectors.start as usize..sectors.end as usize);
    }

    /// `hash_bytes(program_counts, 1)`, once per change of the counts. (A hash of the whole
    /// array, as every build has computed it: the post-cut states recorded in journals stay
    /// comparable with a replay's.)
    ///
    /// The whole array is hashed once per distinct content in the process: a post-cut state
    /// usually has the counts of a state hashed before (the cuts before, inside and after one
    /// operation share them), found by [`NorFlash::counts_key`], which costs only the sectors
    /// whose counts changed (a megabyte part has a quarter of a million counts).
    fn program_counts_hash(&self) -> u64 {
        let cached = self.counts_hash.0.load(Ordering::Relaxed);
        if cached != DIRTY {
            return cached;
        }
        let key = self
            .counts_key()
            .map(|k| (fold(k, self.program_counts.len() as u64), self.program_counts.len()));
        let known = key.and_then(|k| COUNTS_HASHES.lock().ok().and_then(|m| m.get(&k).copied()));
        let v = known.unwrap_or_else(|| {
            let v = hash_bytes(&self.program_counts, 1);
            if let (Some(k), Ok(mut m)) = (key, COUNTS_HASHES.lock()) {
                if m.len() >= COUNTS_HASHES_KEPT {
                    m.clear();
                }
                m.insert(k, v);
            }
            v
        });
        // A hash that happens to equal the marker is recomputed each time, never wrong.
        self.counts_hash.0.store(v, Ordering::Relaxed);
        v
    }

    /// The bytes in `range` that hold weak bits, each with the mask of its weak bits: what
    /// reading the range over and over would find unstable (the model knows it exactly).
    pub fn weak_bits_in(&self, range: Range<u32>) -> Vec<(u32, u8)> {
        if range.is_empty() {
            return Vec::new();
        }
        self.weak.range(range).map(|(&a, &m)| (a, m)).collect()
    }

    pub fn anomalies(&self) -> AnomalySummary {
        AnomalySummary {
            weak_bits: self.weak.values().map(|m| m.count_ones()).sum(),
            weak_bytes: count_u32(self.weak.len()),
            torn_granules: count_u32(self.torn.len()),
            marginal_sectors: count_u32(self.marginal.len()),
            reprogrammed_granules: count_u32(self.program_counts.iter().filter(|&&c| c > 1).count()),
        }
    }
}

// Checks and geometry.
impl NorFlash {
    /// The physics of the device that holds `addr` (the part's own on a one-device part).
    fn phys(&self, addr: u32) -> Phys {
        if let Some(parts) = &self.geom.parts {
            let i = parts.partition_point(|p| p.end <= addr).min(parts.len() - 1);
            return parts[i];
        }
        Phys::of(0, &self.profile)
    }

    /// An operation stays on one device: a range that crosses from one into the next is out
    /// of bounds for both.
    fn require_one_device(&self, range: &Range<u32>) -> Result<(), NorError> {
        if self.geom.parts.is_none() || range.is_empty() {
            return Ok(());
        }
        let p = self.phys(range.start);
        if range.end > p.end {
            return Err(NorError::OutOfBounds {
                addr: range.start,
                len: range.end - range.start,
            });
        }
        Ok(())
    }

    /// Read time per byte at `addr`, in nanoseconds (the device's own).
    pub fn read_ns_per_byte(&self, addr: u32) -> u32 {
        if self.geom.parts.is_none() {
            return self.profile.read_ns_per_byte;
        }
        self.phys(addr).read_ns_per_byte
    }

    fn span(&self, addr: u32, len: usize) -> Result<Range<u32>, NorError> {
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        let end = u32::try_from(len)
            .ok()
            .and_then(|len| addr.checked_add(len))
            .filter(|&end| end <= self.geom.size);
        end.map(|end| addr..end)
            .ok_or(NorError::OutOfBounds { addr, len: len32 })
    }

    fn require_program_allowed(&self, range: &Range<u32>, data: &[u8]) -> Result<(), NorError> {
        let phys = self.phys(range.start);
        if phys.ecc {
            match self.require_granules_erased(range) {
                Err(_) if phys.zero_overwrite => self.require_written_granules_zeroed(range, data)?,
                other => other?,
            }
        }
        self.require_program_budget(range)
    }

    /// Parts that accept an all-zero granule over a written one ([`FlashProfile::zero_overwrite`]):
    /// the first granule of `range` that is not erased and whose new data is not all zero.
    /// `range` is granule-aligned and `data` covers it exactly.
    ///
    /// Parts that refuse it over a granule already reading all zero
    /// ([`FlashProfile::zero_over_zero_refused`], STM32U5) also refuse such a granule.
    fn require_written_granules_zeroed(&self, range: &Range<u32>, data: &[u8]) -> Result<(), NorError> {
        let phys = self.phys(range.start);
        for granule in chunks(range.clone(), phys.granule) {
            let offset = (granule.start - range.start) as usize..(granule.end - range.start) as usize;
            let stored = &self.data[to_usize(&granule)];
            if data.get(offset).is_some_and(|new| new.iter().all(|&b| b == 0)) {
                if phys.zero_over_zero_refused && stored.iter().all(|&b| b == 0) {
                    return Err(NorError::ProgramNotErased { addr: granule.start });
                }
                continue;
            }
            let written = stored.iter().any(|&b| b != 0xFF);
            if written || self.torn.contains(&granule.start) {
                return Err(NorError::ProgramNotErased { addr: granule.start });
            }
        }
        Ok(())
    }

    /// First granule of `range` that is not erased (a byte not 0xFF, or torn).
    fn require_granules_erased(&self, range: &Range<u32>) -> Result<(), NorError> {
        let dirty = self.data[to_usize(range)]
            .iter()
            .position(|&b| b != 0xFF)
            .map(|offset| self.geom.granule_start(range.start + offset as u32));
        let torn = self
            .torn
            .range(self.geom.granule_starts_overlapping(range))
            .next()
            .copied();
        match dirty.into_iter().chain(torn).min() {
            Some(addr) => Err(NorError::ProgramNotErased { addr }),
            None => Ok(()),
        }
    }

    fn require_program_budget(&self, range: &Range<u32>) -> Result<(), NorError> {
        let Some(max) = self.phys(range.start).max_programs else {
            return Ok(());
        };
        let granules = self.granule_indexes(range);
        let first = granules.start;
        // The largest count first (a loop the compiler vectorises; most programs are allowed),
        // then where the first spent granule is.
        let spent = self
            .program_counts
            .get(granules)
            .filter(|counts| counts.iter().fold(0u8, |m, &c| m.max(c)) >= max)
            .and_then(|counts| counts.iter().position(|&c| c >= max));
        match spent {
            Some(offset) => Err(NorError::TooManyPrograms {
                addr: ((first + offset) as u32).saturating_mul(self.geom.granule),
            }),
            None => Ok(()),
        }
    }

    /// Indexes (into the program counts) of the granules that overlap `range`.
    fn granule_indexes(&self, range: &Range<u32>) -> Range<usize> {
        if range.is_empty() {
            return 0..0;
        }
        (range.start / self.geom.granule) as usize..((range.end - 1) / self.geom.granule) as usize + 1
    }

    fn step_count(&self, op: &FlashOp) -> u64 {
        match op {
            FlashOp::Program { .. } => chunk_count(op.addr(), op.len(), self.phys(op.addr()).unit),
            FlashOp::Erase { addr, len } => {
                let range = *addr..addr.saturating_add(*len);
                u64::from(self.geom.sectors_of(&range).len() as u32)
            }
            // One step, whatever its length: the word changes at once.
            FlashOp::ReplaceWord { data, .. } => chunk_count(
                op.addr(),
                op.len(),
                u32::try_from(data.len()).unwrap_or(u32::MAX).max(1),
            ),
        }
    }

    fn step_us(&self, op: &FlashOp) -> u64 {
        match op {
            FlashOp::Program { .. } => u64::from(self.phys(op.addr()).program_unit_us),
            FlashOp::Erase { .. } => u64::from(self.profile.erase_sector_us),
            // The option area is erased and programmed behind the firmware's back.
            FlashOp::ReplaceWord { .. } => {
                u64::from(self.profile.erase_sector_us) + u64::from(self.profile.program_unit_us)
            }
        }
    }

    fn cut_rng(&self, cut_seed: u64, op_addr: u32) -> ChaCha8Rng {
        let seed = mix3(self.seed ^ SALT_CUT, cut_seed, u64::from(op_addr));
        ChaCha8Rng::seed_from_u64(seed)
    }

    fn sector_is_marginal(&self, addr: u32) -> bool {
        !self.marginal.is_empty() && self.marginal.contains(&self.geom.sector_index(addr))
    }

    fn touches_marginal_sector(&self, range: &Range<u32>) -> bool {
        !self.marginal.is_empty() && self.geom.sectors_of(range).any(|s| self.marginal.contains(&s))
    }
}

// Whole operations.
impl NorFlash {
    /// Applies an op that passed `check`; returns the weak bits it created.
    fn apply_checked(&mut self, op: &FlashOp) -> u32 {
        match op {
            FlashOp::Program { addr, data } => {
                self.access_count = self.access_count.wrapping_add(1);
                self.program_fully(*addr, data)
            }
            FlashOp::ReplaceWord { addr, data } => {
                self.access_count = self.access_count.wrapping_add(1);
                self.replace_word(*addr, data)
            }
            FlashOp::Erase { addr, len } => {
                let range = *addr..*addr + *len;
                for sector in self.geom.sectors_of(&range) {
                    self.erase_sector(sector);
                }
                0
            }
        }
    }

    /// Cut strictly inside the op (0 < elapsed < duration).
    fn cut_part_way(&mut self, op: &FlashOp, report: &mut TornReport, rng: &mut ChaCha8Rng) {
        let (done, into_step, step_us) = match op {
            FlashOp::Erase { addr, len } => self.erase_progress(&(*addr..*addr + *len), report.elapsed_us),
            FlashOp::Program { .. } | FlashOp::ReplaceWord { .. } => {
                let step_us = self.step_us(op).max(1);
                (report.elapsed_us / step_us, report.elapsed_us % step_us, step_us)
            }
        };
        report.steps_done = done;
        report.outcome = TornOutcome::Boundary;
        match op {
            FlashOp::Program { addr, data } => {
                self.access_count = self.access_count.wrapping_add(1);
                self.cut_program(*addr, data, done, into_step, step_us, report, rng);
            }
            FlashOp::Erase { addr, len } => {
                self.cut_erase(*addr..*addr + *len, done, into_step, step_us, report, rng);
            }
            // Never torn: the old word until half-way, the new one from then on.
            FlashOp::ReplaceWord { addr, data } => {
                if report.elapsed_us * 2 >= step_us {
                    self.access_count = self.access_count.wrapping_add(1);
                    report.weak_bits += self.replace_word(*addr, data);
                    report.steps_done = 1;
                }
            }
        }
    }

    /// The word's granules erased and programmed with `data`, anomalies and all gone. Returns
    /// the weak bits left (none: the part does not tear this word).
    fn replace_word(&mut self, addr: u32, data: &[u8]) -> u32 {
        let range = addr..addr + data.len() as u32;
        self.data[to_usize(&range)].fill(0xFF);
        if !self.weak.is_empty() {
            remove_keys_in(&mut self.weak, range.clone());
        }
        if !self.torn.is_empty() {
            let starts = self.geom.granule_starts_overlapping(&range);
            let doomed: Vec<u32> = self.torn.range(starts).copied().collect();
            for granule in doomed {
                self.torn.remove(&granule);
            }
        }
        self.reset_program_counts(&range);
        self.refresh_sector_flags(&range);
        self.program_fully(addr, data)
    }

    /// How far an erase of `range` got `elapsed` microseconds in: the sectors finished, the
    /// time spent in the next one and that sector's erase time (sectors erase one after the
    /// other, each in its own datasheet time).
    fn erase_progress(&self, range: &Range<u32>, elapsed: u64) -> (u64, u64, u64) {
        let uniform = u64::from(self.profile.erase_sector_us).max(1);
        if self.geom.map.is_none() {
            return (elapsed / uniform, elapsed % uniform, uniform);
        }
        let mut left = elapsed;
        let mut done = 0u64;
        let mut last = uniform;
        for sector in self.geom.sectors_of(range) {
            let t = self.geom.erase_us(sector, uniform).max(1);
            last = t;
            if left < t {
                return (done, left, t);
            }
            left -= t;
            done += 1;
        }
        (done, 0, last)
    }

    #[allow(clippy::too_many_arguments)]
    fn cut_program(
        &mut self,
        addr: u32,
        data: &[u8],
        units_done: u64,
        into_unit_us: u64,
        unit_us: u64,
        report: &mut TornReport,
        rng: &mut ChaCha8Rng,
    ) {
        let op_range = addr..addr + data.len() as u32;
        let Some(in_flight) = nth_chunk(&op_range, self.phys(addr).unit, units_done) else {
            return;
        };
        report.weak_bits += self.program_fully(addr, &data[..(in_flight.start - addr) as usize]);
        if into_unit_us == 0 {
            return;
        }
        report.in_flight = Some(in_flight_of(&in_flight, into_unit_us, unit_us));
        let bytes = &data[to_usize(&(in_flight.start - addr..in_flight.end - addr))];
        let fraction = into_unit_us as f64 / unit_us as f64;
        let tear = self.tear_program_unit(in_flight.start, bytes, fraction, rng);
        report.record_tear(tear);
    }

    fn cut_erase(
        &mut self,
        range: Range<u32>,
        sectors_done: u64,
        into_sector_us: u64,
        sector_us: u64,
        report: &mut TornReport,
        rng: &mut ChaCha8Rng,
    ) {
        let sectors = self.geom.sectors_of(&range);
        let done_end = sectors
            .start
            .saturating_add(u32::try_from(sectors_done).unwrap_or(u32::MAX))
            .min(sectors.end);
        for sector in sectors.start..done_end {
            self.erase_sector(sector);
        }
        if into_sector_us == 0 || done_end >= sectors.end {
            return;
        }
        let span = self.geom.sector_range(done_end);
        report.in_flight = Some(in_flight_of(&span, into_sector_us, sector_us));
        let tear = self.tear_erase_sector(done_end, into_sector_us, sector_us, rng);
        report.record_tear(tear);
    }
}

// Programs.
impl NorFlash {
    /// Programs every unit of the range completely; returns the weak bits
    /// left by programs into marginal sectors.
    fn program_fully(&mut self, start: u32, bytes: &[u8]) -> u32 {
        let range = start..start + bytes.len() as u32;
        if range.is_empty() {
            return 0;
        }
        let before = self
            .touches_marginal_sector(&range)
            .then(|| self.data[to_usize(&range)].to_vec());
        for (stored, &new) in self.data[to_usize(&range)].iter_mut().zip(bytes) {
            *stored &= new;
        }
        self.solidify_weak_bits(&range, bytes);
        self.mend_zeroed_granules(&range, bytes);
        let weak = match before {
            Some(old) => self.leave_some_bits_unstuck(&range, &old, bytes),
            None => 0,
        };
        self.count_programs(&range);
        self.refresh_sector_flags(&range);
        weak
    }

    /// Parts that accept an all-zero granule over a written one: a torn granule whose all-zero
    /// program ran to the end is a correct all-zero granule again (the part accepts the program
    /// and writes its check bits with it).
    fn mend_zeroed_granules(&mut self, range: &Range<u32>, bytes: &[u8]) {
        let phys = self.phys(range.start);
        if !phys.zero_overwrite || self.torn.is_empty() {
            return;
        }
        let starts = self.geom.granule_starts_overlapping(range);
        let torn: Vec<u32> = self.torn.range(starts).copied().collect();
        for granule in torn {
            let end = granule.saturating_add(phys.granule);
            let covered = granule >= range.start && end <= range.end;
            let offset = (granule.saturating_sub(range.start)) as usize..(end.saturating_sub(range.start)) as usize;
            if covered && bytes.get(offset).is_some_and(|new| new.iter().all(|&b| b == 0)) {
                self.torn.remove(&granule);
            }
        }
    }

    /// Bits programmed to 0 by a completed program are no longer weak.
    fn solidify_weak_bits(&mut self, range: &Range<u32>, bytes: &[u8]) {
        if self.weak.is_empty() {
            return;
        }
        let mut emptied = Vec::new();
        for (&addr, mask) in self.weak.range_mut(range.clone()) {
            *mask &= bytes[(addr - range.start) as usize];
            if *mask == 0 {
                emptied.push(addr);
            }
        }
        for addr in emptied {
            self.weak.remove(&addr);
        }
    }

    /// A program into a marginal sector may not stick: in some units a few
    /// newly cleared bits stay weak (or, on ECC parts, tear the granule).
    fn leave_some_bits_unstuck(&mut self, range: &Range<u32>, old: &[u8], bytes: &[u8]) -> u32 {
        let mut weak_bits = 0;
        for unit in chunks(range.clone(), self.phys(range.start).unit) {
            if !self.sector_is_marginal(unit.start) {
                continue;
            }
            let draw = mix3(
                self.seed ^ SALT_MARGINAL_PROGRAM,
                self.access_count,
                u64::from(unit.start),
            );
            if !draw.is_multiple_of(MARGINAL_PROGRAM_UNSTUCK_ONE_IN) {
                continue;
            }
            let offset = (unit.start - range.start) as usize..(unit.end - range.start) as usize;
            let cleared = bits_to_clear(unit.start, &old[offset.clone()], &bytes[offset]);
            weak_bits += self.mark_unstuck_bits(&cleared, draw);
        }
        weak_bits
    }

    fn mark_unstuck_bits(&mut self, cleared: &[Bit], draw: u64) -> u32 {
        if cleared.is_empty() {
            return 0;
        }
        let count = 1 + (draw >> 8) % 3;
        let mut weak_bits = 0;
        for pick in 0..count {
            let index = (mix3(draw, pick, 0) % cleared.len() as u64) as usize;
            let bit = cleared[index];
            if self.phys(bit.addr).ecc {
                self.torn.insert(self.geom.granule_start(bit.addr));
            } else {
                weak_bits += self.make_weak(bit);
            }
        }
        weak_bits
    }

    fn count_programs(&mut self, range: &Range<u32>) {
        if self.geom.parts.is_some() && self.phys(range.start).max_programs.is_none() {
            // A device without a program limit beside one with it: nothing to count.
            return;
        }
        if self.program_counts.is_empty() {
            // A part without a program limit keeps no counts: nothing changes.
            return;
        }
        let granules = self.granule_indexes(range);
        self.counts_hash.invalidate();
        self.invalidate_count_hashes(range);
        if let Some(counts) = self.program_counts.get_mut(granules) {
            for count in counts {
                *count = count.saturating_add(1);
            }
        }
    }

    /// The unit in flight: the drawn share of its intended 1->0 bits goes,
    /// a few bits turn weak, and on ECC parts its granules may tear.
    fn tear_program_unit(&mut self, start: u32, bytes: &[u8], fraction: f64, rng: &mut ChaCha8Rng) -> Tear {
        let range = start..start + bytes.len() as u32;
        let mut intended = bits_to_clear(start, &self.data[to_usize(&range)], bytes);
        self.count_programs(&range);
        if intended.is_empty() {
            return Tear {
                outcome: TornOutcome::All,
                weak_bits: 0,
                torn_granules: 0,
            };
        }
        let outcome = draw_program_outcome(rng, fraction);
        intended.shuffle(rng);
        let cleared = cleared_count(outcome, intended.len(), rng);
        for bit in &intended[..cleared] {
            self.data[bit.addr as usize] &= !bit.mask;
        }
        let tear = if self.phys(start).ecc {
            self.tear_ecc_granules(outcome, &intended, rng)
        } else {
            self.weaken_torn_bits(outcome, &intended, rng)
        };
        self.refresh_sector_flags(&range);
        tear
    }

    fn weaken_torn_bits(&mut self, outcome: TornOutcome, bits: &[Bit], rng: &mut ChaCha8Rng) -> Tear {
        let count = weak_count_for(outcome, rng).min(bits.len());
        let mut weak_bits = 0;
        for index in sample(rng, bits.len(), count) {
            weak_bits += self.make_weak(bits[index]);
        }
        Tear {
            outcome,
            weak_bits,
            torn_granules: 0,
        }
    }

    /// On ECC parts a partly programmed granule is torn; a fully programmed
    /// one is torn half of the time (check bits are written last).
    fn tear_ecc_granules(&mut self, outcome: TornOutcome, bits: &[Bit], rng: &mut ChaCha8Rng) -> Tear {
        let torn = match outcome {
            TornOutcome::Some | TornOutcome::Most => true,
            TornOutcome::All => rng.gen_bool(0.5),
            _ => false,
        };
        let mut torn_granules = 0;
        if torn {
            let granules: BTreeSet<u32> = bits.iter().map(|b| self.geom.granule_start(b.addr)).collect();
            for granule in granules {
                torn_granules += u32::from(self.torn.insert(granule));
            }
        }
        Tear {
            outcome,
            weak_bits: 0,
            torn_granules,
        }
    }

    /// Marks a bit weak; returns 1 if it was not weak already.
    fn make_weak(&mut self, bit: Bit) -> u32 {
        let mask = self.weak.entry(bit.addr).or_insert(0);
        let fresh = *mask & bit.mask == 0;
        *mask |= bit.mask;
        self.flag_sector_of(bit.addr);
        u32::from(fresh)
    }
}

// Erases.
impl NorFlash {
    fn erase_sector(&mut self, sector: u32) {
        let range = self.geom.sector_range(sector);
        self.data[to_usize(&range)].fill(0xFF);
        self.clear_anomalies(&range);
    }

    fn tear_erase_sector(&mut self, sector: u32, into_us: u64, sector_us: u64, rng: &mut ChaCha8Rng) -> Tear {
        let range = self.geom.sector_range(sector);
        let (outcome, weak_bits) = if into_us * 3 < sector_us {
            let share = (3 * into_us) as f64 / sector_us as f64;
            (TornOutcome::Early, self.preprogram_partly(&range, share, rng))
        } else if into_us * 3 < 2 * sector_us {
            let share = (3 * into_us - sector_us) as f64 / sector_us as f64;
            (TornOutcome::Middle, self.erase_partly(&range, share, rng))
        } else {
            self.erase_sector(sector);
            self.marginal.insert(sector);
            (TornOutcome::Late, 0)
        };
        let torn_granules = match outcome {
            TornOutcome::Late => 0,
            _ if self.phys(range.start).ecc => self.tear_all_granules(&range),
            _ => 0,
        };
        self.refresh_sector_flags(&range);
        Tear {
            outcome,
            weak_bits,
            torn_granules,
        }
    }

    /// Pre-program phase: each 1 bit has gone to 0 with probability `share`.
    /// Bits cleared here are no longer weak; a few of them become weak.
    fn preprogram_partly(&mut self, range: &Range<u32>, share: f64, rng: &mut ChaCha8Rng) -> u32 {
        let mut cleared = BitList::default();
        for addr in range.clone() {
            let stored = self.data[addr as usize];
            let hit = stored & random_mask(rng, share);
            if hit == 0 {
                continue;
            }
            self.data[addr as usize] = stored & !hit;
            self.unweaken(addr, hit);
            cleared.push(addr, hit);
        }
        self.weaken_some(&cleared, 4, rng)
    }

    /// Erase-pulse phase: each bit is erased (1) with probability `share`,
    /// otherwise keeps its old value. Program counts restart.
    fn erase_partly(&mut self, range: &Range<u32>, share: f64, rng: &mut ChaCha8Rng) -> u32 {
        let mut raised = BitList::default();
        for addr in range.clone() {
            let stored = self.data[addr as usize];
            let hit = random_mask(rng, share);
            self.data[addr as usize] = stored | hit;
            self.unweaken(addr, hit);
            raised.push(addr, !stored & hit);
        }
        self.reset_program_counts(range);
        self.weaken_some(&raised, 8, rng)
    }

    /// Non-ECC parts: up to `most` of `bits` become weak.
    fn weaken_some(&mut self, bits: &BitList, most: usize, rng: &mut ChaCha8Rng) -> u32 {
        if bits.is_empty() || self.phys(bits.get(0).addr).ecc {
            return 0;
        }
        let count = rng.gen_range(0..=most).min(bits.len());
        let mut weak_bits = 0;
        for index in sample(rng, bits.len(), count) {
            weak_bits += self.make_weak(bits.get(index));
        }
        weak_bits
    }

    fn tear_all_granules(&mut self, range: &Range<u32>) -> u32 {
        let mut torn = 0;
        for granule in chunks(range.clone(), self.geom.granule) {
            torn += u32::from(self.torn.insert(granule.start));
        }
        torn
    }
}

// Reads.
impl NorFlash {
    fn require_no_torn_granule(&self, range: &Range<u32>) -> Result<(), NorError> {
        if self.torn.is_empty() || range.is_empty() {
            return Ok(());
        }
        let starts = self.geom.granule_starts_overlapping(range);
        match self.torn.range(starts).next() {
            Some(&granule) => Err(NorError::Uncorrectable {
                addr: granule.max(range.start),
            }),
            None => Ok(()),
        }
    }

    fn range_is_clean(&self, range: &Range<u32>) -> bool {
        if self.weak.is_empty() && self.marginal.is_empty() {
            return true;
        }
        if self.geom.map.is_none() && !range.is_empty() {
            // Uniform sectors (most parts): one division per end, no table search.
            let first = (range.start / self.geom.sector) as usize;
            let last = ((range.end - 1) / self.geom.sector) as usize;
            return !self.sector_has_anomaly[first..=last].iter().any(|&f| f);
        }
        let sectors = self.geom.sectors_of(range);
        let flags = &self.sector_has_anomaly[sectors.start as usize..sectors.end as usize];
        !flags.iter().any(|&f| f)
    }

    /// Each weak bit reads as a hashed coin flip of this read.
    fn blur_weak_bits(&self, range: &Range<u32>, buf: &mut [u8]) {
        for (&addr, &mask) in self.weak.range(range.clone()) {
            let draw = mix3(self.seed ^ SALT_WEAK_READ, self.access_count, u64::from(addr));
            let byte = &mut buf[(addr - range.start) as usize];
            *byte = (*byte & !mask) | (draw as u8 & mask);
        }
    }

    /// A byte of a marginal sector rarely reads one of its 1 bits as 0.
    fn disturb_marginal_bytes(&self, range: &Range<u32>, buf: &mut [u8]) {
        for sector in self.geom.sectors_of(range) {
            if !self.marginal.contains(&sector) {
                continue;
            }
            let sector_range = self.geom.sector_range(sector);
            let from = sector_range.start.max(range.start);
            let to = sector_range.end.min(range.end);
            for addr in from..to {
                let draw = mix3(self.seed ^ SALT_MARGINAL_READ, self.access_count, u64::from(addr));
                if draw.is_multiple_of(MARGINAL_READ_FLIP_ONE_IN) {
                    buf[(addr - range.start) as usize] &= !(1u8 << ((draw >> 32) & 7));
                }
            }
        }
    }
}

// Anomaly bookkeeping.
impl NorFlash {
    fn clear_anomalies(&mut self, range: &Range<u32>) {
        if !self.weak.is_empty() {
            remove_keys_in(&mut self.weak, range.clone());
        }
        if !self.torn.is_empty() {
            let starts = self.geom.granule_starts_overlapping(range);
            let doomed: Vec<u32> = self.torn.range(starts).copied().collect();
            for granule in doomed {
                self.torn.remove(&granule);
            }
        }
        for sector in self.geom.sectors_of(range) {
            self.marginal.remove(&sector);
        }
        self.reset_program_counts(range);
        self.refresh_sector_flags(range);
    }

    fn reset_program_counts(&mut self, range: &Range<u32>) {
        if self.program_counts.is_empty() {
            // A part without a program limit keeps no counts: nothing changes.
            return;
        }
        let granules = self.granule_indexes(range);
        self.counts_hash.invalidate();
        self.invalidate_count_hashes(range);
        if let Some(counts) = self.program_counts.get_mut(granules) {
            counts.fill(0);
        }
    }

    fn unweaken(&mut self, addr: u32, bits: u8) {
        if let Some(mask) = self.weak.get_mut(&addr) {
            *mask &= !bits;
            if *mask == 0 {
                self.weak.remove(&addr);
            }
        }
    }

    fn flag_sector_of(&mut self, addr: u32) {
        if let Some(flag) = self.sector_has_anomaly.get_mut(self.geom.sector_index(addr) as usize) {
            *flag = true;
        }
    }

    fn refresh_sector_flags(&mut self, range: &Range<u32>) {
        if self.weak.is_empty() && self.torn.is_empty() && self.marginal.is_empty() {
            // No anomaly anywhere: every flag of the range is clear, without a search per sector.
            let sectors = self.geom.sectors_of(range);
            if let Some(flags) = self
                .sector_has_anomaly
                .get_mut(sectors.start as usize..sectors.end as usize)
            {
                flags.fill(false);
                return;
            }
        }
        for sector in self.geom.sectors_of(range) {
            let flagged = self.sector_holds_anomaly(sector);
            if let Some(flag) = self.sector_has_anomaly.get_mut(sector as usize) {
                *flag = flagged;
            }
        }
    }

    fn sector_holds_anomaly(&self, sector: u32) -> bool {
        let range = self.geom.sector_range(sector);
        self.marginal.contains(&sector)
            || self.weak.range(range.clone()).next().is_some()
            || self
                .torn
                .range(self.geom.granule_starts_overlapping(&range))
                .next()
                .is_some()
    }
}

fn require_aligned(range: &Range<u32>, align: u32) -> Result<(), NorError> {
    let len = range.end - range.start;
    if !range.start.is_multiple_of(align) || !len.is_multiple_of(align) {
        return Err(NorError::Misaligned {
            addr: range.start,
            len,
            align,
        });
    }
    Ok(())
}

fn to_usize(range: &Range<u32>) -> Range<usize> {
    range.start as usize..range.end as usize
}

fn clip_to_u32(value: u64, limit: u32) -> u32 {
    value.min(u64::from(limit)) as u32
}

fn count_u32(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// How many `unit`-aligned chunks `len` bytes at `addr` overlap.
fn chunk_count(addr: u32, len: u32, unit: u32) -> u64 {
    if len == 0 {
        return 0;
    }
    let unit = u64::from(unit.max(1));
    let last = u64::from(addr) + u64::from(len) - 1;
    last / unit - u64::from(addr) / unit + 1
}

/// The `unit`-aligned pieces of `range`, clipped to it.
fn chunks(range: Range<u32>, unit: u32) -> impl Iterator<Item = Range<u32>> {
    let count = chunk_count(range.start, range.end - range.start, unit);
    (0..count).filter_map(move |k| nth_chunk(&range, unit, k))
}

fn nth_chunk(range: &Range<u32>, unit: u32, k: u64) -> Option<Range<u32>> {
    let unit = u64::from(unit.max(1));
    let base = (u64::from(range.start) / unit + k) * unit;
    let start = base.max(u64::from(range.start));
    let end = (base + unit).min(u64::from(range.end));
    (start < end).then_some(start as u32..end as u32)
}

fn in_flight_of(span: &Range<u32>, into_us: u64, step_us: u64) -> InFlight {
    InFlight {
        addr: span.start,
        len: span.end - span.start,
        progress_permille: (into_us * 1000 / step_us.max(1)) as u32,
    }
}

/// Bits stored as 1 that `new` wants at 0.
fn bits_to_clear(start: u32, old: &[u8], new: &[u8]) -> Vec<Bit> {
    let mut bits = Vec::new();
    for (offset, (&o, &n)) in old.iter().zip(new).enumerate() {
        push_bits(&mut bits, start + offset as u32, o & !n);
    }
    bits
}

/// An ordered list of single bits kept as one entry per byte: the same bits, in the same
/// order, as pushing each bit on its own, without a 32K-entry vector per torn sector.
#[derive(Default)]
struct BitList {
    bytes: Vec<Bit>,
    total: usize,
}

impl BitList {
    fn push(&mut self, addr: u32, mask: u8) {
        if mask != 0 {
            self.bytes.push(Bit { addr, mask });
            self.total += mask.count_ones() as usize;
        }
    }

    fn len(&self) -> usize {
        self.total
    }

    fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The `index`-th single bit, lowest bit of each byte first.
    fn get(&self, mut index: usize) -> Bit {
        for b in &self.bytes {
            let n = b.mask.count_ones() as usize;
            if index < n {
                let mut m = b.mask;
                for _ in 0..index {
                    m &= m - 1;
                }
                return Bit {
                    addr: b.addr,
                    mask: m & m.wrapping_neg(),
                };
            }
            index -= n;
        }
        Bit { addr: 0, mask: 0 }
    }
}

fn push_bits(bits: &mut Vec<Bit>, addr: u32, mask: u8) {
    for bit in 0..8 {
        if mask & (1 << bit) != 0 {
            bits.push(Bit { addr, mask: 1 << bit });
        }
    }
}

fn bits_differing(before: &[u8], after: &[u8]) -> u64 {
    before
        .iter()
        .zip(after)
        .map(|(&a, &b)| u64::from((a ^ b).count_ones()))
        .sum()
}

/// Class of the unit in flight. Every class keeps at least 10% weight; cuts
/// late in the unit lean towards `all`, early ones towards `none`.
fn draw_program_outcome(rng: &mut ChaCha8Rng, fraction: f64) -> TornOutcome {
    let fraction = fraction.clamp(0.0, 1.0);
    let none = 0.1 + 0.3 * (1.0 - fraction);
    let some = none + 0.25;
    let most = some + 0.25;
    let x: f64 = rng.gen();
    if x < none {
        TornOutcome::None
    } else if x < some {
        TornOutcome::Some
    } else if x < most {
        TornOutcome::Most
    } else {
        TornOutcome::All
    }
}

/// How many of `n >= 1` intended bits went, for a program outcome.
fn cleared_count(outcome: TornOutcome, n: usize, rng: &mut ChaCha8Rng) -> usize {
    match outcome {
        TornOutcome::None => 0,
        TornOutcome::Some => rng.gen_range(1..=(n / 2).max(1)),
        TornOutcome::Most if n >= 2 => rng.gen_range((n / 2 + 1).min(n - 1)..=n - 1),
        _ => n,
    }
}

/// Weak bits left by a torn program unit (non-ECC parts).
fn weak_count_for(outcome: TornOutcome, rng: &mut ChaCha8Rng) -> usize {
    match outcome {
        TornOutcome::Some | TornOutcome::Most => rng.gen_range(1..=4),
        _ if rng.gen_ratio(1, 4) => 1,
        _ => 0,
    }
}

/// A byte whose bits are each set with probability `share`.
fn random_mask(rng: &mut ChaCha8Rng, share: f64) -> u8 {
    let threshold = (share.clamp(0.0, 1.0) * 4_294_967_296.0) as u64;
    let mut mask = 0;
    for bit in 0..8 {
        if u64::from(rng.next_u32()) < threshold {
            mask |= 1 << bit;
        }
    }
    mask
}

fn remove_keys_in<V>(map: &mut BTreeMap<u32, V>, range: Range<u32>) {
    let doomed: Vec<u32> = map.range(range).map(|(&k, _)| k).collect();
    for key in doomed {
        map.remove(&key);
    }
}

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xBF58_476D_1CE4_E5B9;
const K2: u64 = 0x94D0_49BB_1331_11EB;

/// Bijective 64-bit finalizer.
/// [`NorFlash::bytes_key`] of `addr..addr + len` from the hashes of the sectors it overlaps
/// ([`NorFlash::sector_hashes`]).
pub fn bytes_key_of(addr: u32, len: u32, hashes: &[u64]) -> u64 {
    let mut h = fold(u64::from(addr), u64::from(len) ^ 0x005E_C70B_17E5_u64);
    for &v in hashes {
        h = fold(h, v);
    }
    finalize(h)
}

fn finalize(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(K1);
    x ^= x >> 27;
    x = x.wrapping_mul(K2);
    x ^ (x >> 31)
}

fn mix3(a: u64, b: u64, c: u64) -> u64 {
    finalize(finalize(finalize(a.wrapping_add(K0)) ^ b).wrapping_add(K0) ^ c)
}

/// One absorbing step; bijective in both `acc` and `word`.
fn lane_round(acc: u64, word: u64) -> u64 {
    (acc ^ word.wrapping_mul(K1)).rotate_left(31).wrapping_mul(K0)
}

fn fold(h: u64, value: u64) -> u64 {
    lane_round(h, value ^ K2)
}

/// Fast non-cryptographic hash: four independent lanes over 32-byte blocks.
/// A change confined to one lane never collides (every step is bijective).
fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let mut lanes = [seed ^ K0, seed ^ K1, seed ^ K2, !seed];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            let w = u64::from_le_bytes([word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7]]);
            *lane = lane_round(*lane, w);
        }
    }
    for (lane, word) in lanes.iter_mut().zip(blocks.remainder().chunks(8)) {
        *lane = lane_round(*lane, le_word(word));
    }
    let mut h = bytes.len() as u64;
    for lane in lanes {
        h = finalize(h ^ lane).wrapping_add(K0);
    }
    finalize(h)
}

/// Little-endian word from up to 8 bytes, zero padded.
fn le_word(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .enumerate()
        .fold(0, |w, (i, &b)| w | u64::from(b) << (8 * i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `state_hash` computed from scratch, with no cached part.
    fn uncached_state_hash(f: &NorFlash) -> u64 {
        let fresh = f.clone();
        fresh.sector_hashes.invalidate(0..fresh.sector_hashes.0.len());
        fresh.counts_hash.invalidate();
        fresh.state_hash()
    }

    #[test]
    fn the_bytes_key_follows_the_bytes_of_its_range_only() {
        let mut a = NorFlash::new(FlashProfile::nrf52840(), 1);
        let b = NorFlash::new(FlashProfile::nrf52840(), 2);
        let key = |f: &NorFlash| f.bytes_key(0x1000, 0x2000).unwrap();
        assert_eq!(key(&a), key(&b));
        // Ones over ones: a program count changes, no byte does.
        a.apply(&FlashOp::Program {
            addr: 0x1000,
            data: vec![0xFF; 4],
        })
        .unwrap();
        assert_eq!(key(&a), key(&b), "program counts are not bytes");
        assert_ne!(a.state_hash(), b.state_hash());
        a.apply(&FlashOp::Program {
            addr: 0x2ffc,
            data: vec![0xFE; 4],
        })
        .unwrap();
        assert_ne!(key(&a), key(&b), "a byte in the range");
        let outside = |f: &NorFlash| f.bytes_key(0x4000, 0x1000).unwrap();
        assert_eq!(outside(&a), outside(&b), "a byte outside the range");
        assert_ne!(
            a.bytes_key(0x1000, 0x1000),
            a.bytes_key(0x1000, 0x2000),
            "the range counts"
        );
        assert_eq!(a.bytes_key(0x000f_f000, 0x2000), None, "out of bounds");
    }

    #[test]
    fn the_cached_hash_of_the_program_counts_follows_every_change() {
        let mut f = NorFlash::new(FlashProfile::nrf52840(), 1);
        let before = f.state_hash();
        let program = |addr, data: &[u8]| FlashOp::Program {
            addr,
            data: data.to_vec(),
        };
        // Programming ones over ones changes no byte, only a count.
        f.apply(&program(8, &[0xFF; 4])).unwrap();
        assert_ne!(f.state_hash(), before, "a program count changed");
        assert_eq!(f.state_hash(), uncached_state_hash(&f));
        f.apply(&program(8, &[0x0F; 4])).unwrap();
        assert_eq!(f.state_hash(), uncached_state_hash(&f));
        f.apply(&FlashOp::Erase { addr: 0, len: 4096 }).unwrap();
        assert_eq!(f.state_hash(), before, "an erase resets the counts");
        assert_eq!(f.state_hash(), uncached_state_hash(&f));

        let mut copy = NorFlash::new(FlashProfile::nrf52840(), 1);
        let _ = copy.state_hash();
        f.apply(&program(4096, &[0xFF; 4])).unwrap();
        let hash = f.state_hash();
        copy.copy_from(&f);
        assert_eq!(copy.state_hash(), hash);
        assert_eq!(uncached_state_hash(&copy), hash);

        // A copy takes the counts of the sectors either side changed since they were alike.
        let mut fork = f.clone();
        f.apply(&program(8192, &[0xFF; 8])).unwrap();
        fork.apply(&program(12288, &[0xFF; 8])).unwrap();
        fork.copy_from(&f);
        assert_eq!(fork.program_counts, f.program_counts);
        assert_eq!(uncached_state_hash(&fork), f.state_hash());
    }

    #[test]
    fn a_one_byte_read_is_the_byte_a_wider_read_gives_and_blurs_its_weak_bits() {
        let mut f = NorFlash::new(FlashProfile::nrf52840(), 3);
        let sector = f.profile().sector_size;
        f.load(0, &(0..2 * sector).map(|i| i as u8 & 0xF0).collect::<Vec<_>>());
        // A weak bit stored as 0 in the second sector: some reads see it as 1.
        let weak_at = sector + 17;
        f.make_weak(Bit {
            addr: weak_at,
            mask: 0x01,
        });
        let mut wide = vec![0u8; 2 * sector as usize];
        let mut one = [0u8; 1];
        for addr in (0..2 * sector)
            .step_by(61)
            .chain([sector - 1, sector, weak_at - 1, weak_at + 1])
        {
            f.read(addr, &mut one).unwrap();
            assert_eq!(one[0], f.raw()[addr as usize], "byte at {addr:#x}");
        }
        let (mut ones, mut zeros) = (0, 0);
        for _ in 0..64 {
            f.read(weak_at, &mut one).unwrap();
            match one[0] & 1 {
                1 => ones += 1,
                _ => zeros += 1,
            }
            f.read(0, &mut wide).unwrap();
            assert_eq!(wide[..weak_at as usize], f.raw()[..weak_at as usize]);
        }
        assert!(
            ones > 0 && zeros > 0,
            "a weak bit read a byte at a time: {ones} ones, {zeros} zeros"
        );
        // Every read counts, one byte or many: the draws that follow stay the same.
        let before = f.access_count;
        f.read(weak_at, &mut one).unwrap();
        f.read(0, &mut wide).unwrap();
        assert_eq!(f.access_count, before + 2);
        // The last byte of the part reads; the one past it does not.
        let end = f.profile().size;
        assert!(f.read(end - 1, &mut one).is_ok());
        assert!(matches!(f.read(end, &mut one), Err(NorError::OutOfBounds { .. })));
    }

    #[test]
    fn a_part_with_weak_bits_reads_every_range_as_the_general_path_does_and_counts_alike() {
        // Weak bits in the second sector and a marginal fourth sector; the first and third
        // hold none. Every read through `read` returns what the general path returns to a
        // copy of the part, read for read, and leaves the same access count (the draws of
        // the reads after it depend on it).
        let mut fast = NorFlash::new(FlashProfile::nrf52840(), 11);
        let sector = fast.profile().sector_size;
        fast.load(0, &(0..5 * sector).map(|i| (i * 13) as u8 & 0xF3).collect::<Vec<_>>());
        for (addr, mask) in [(sector + 3, 0x01), (2 * sector - 1, 0x80)] {
            fast.make_weak(Bit { addr, mask });
        }
        fast.marginal.insert(3);
        fast.refresh_sector_flags(&(3 * sector..4 * sector));
        assert!(fast.torn.is_empty() && !fast.anomalies().is_clean());
        let mut general = fast.clone();
        let end = fast.profile().size;
        let mut reads = Vec::new();
        for addr in (0..5 * sector)
            .step_by(97)
            .chain([sector - 1, sector, 2 * sector - 1, 2 * sector])
        {
            reads.push((addr, 1usize));
            reads.push((addr, 40));
        }
        reads.extend([
            (0, 2 * sector as usize),
            (2 * sector, sector as usize),
            (end - 1, 1),
            (end, 1),
            (end, 0),
        ]);
        reads.extend([(3 * sector + 5, 4096), (u32::MAX, 1), (0, 0), (2 * sector + 7, 0)]);
        let mut flipped = 0;
        for _ in 0..40 {
            for &(addr, len) in &reads {
                let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
                let got = fast.read(addr, &mut a);
                let want = general.read_general(addr, &mut b);
                assert_eq!(got, want, "{addr:#x}+{len}");
                assert_eq!(a, b, "{addr:#x}+{len}");
                assert_eq!(fast.access_count, general.access_count, "{addr:#x}+{len}");
                let stored = fast.raw().get(addr as usize..).and_then(|r| r.get(..len));
                flipped += usize::from(got.is_ok() && stored.is_some_and(|r| r != a));
            }
        }
        assert!(
            flipped > 0,
            "the weak bits and the marginal sector never read differently"
        );
        // The clean sectors' flags are clear, so the fast path served them.
        assert!(fast.stored_if_clean(0, sector as usize).is_some());
        assert!(fast.stored_if_clean(2 * sector, sector as usize).is_some());
        assert!(fast.stored_if_clean(sector + 3, 1).is_none());
        assert!(fast.stored_if_clean(3 * sector, 1).is_none());
    }

    #[test]
    fn a_part_without_anomalies_reads_its_stored_bytes_counts_each_read_and_refuses_the_end() {
        let mut f = NorFlash::new(FlashProfile::nrf52840(), 5);
        let sector = f.profile().sector_size;
        let image: Vec<u8> = (0..3 * sector).map(|i| (i * 7 + 3) as u8).collect();
        f.load(sector, &image);
        assert!(f.anomalies().is_clean() && f.torn.is_empty());
        let mut one = [0u8; 1];
        let mut wide = vec![0u8; sector as usize + 9];
        let before = f.access_count;
        for addr in [0, sector - 1, sector, 2 * sector + 5, 4 * sector - 1] {
            f.read(addr, &mut one).unwrap();
            assert_eq!(one[0], f.raw()[addr as usize], "byte at {addr:#x}");
        }
        // Across a sector boundary.
        f.read(sector + 100, &mut wide).unwrap();
        assert_eq!(wide[..], f.raw()[sector as usize + 100..][..wide.len()]);
        f.read(0, &mut []).unwrap();
        assert_eq!(f.access_count, before + 7, "every read counts, an empty one too");
        // Past the end and wrapping around: refused, and not counted.
        let end = f.profile().size;
        let counted = f.access_count;
        assert_eq!(
            f.read(end - 4, &mut wide),
            Err(NorError::OutOfBounds {
                addr: end - 4,
                len: wide.len() as u32
            })
        );
        assert_eq!(
            f.read(u32::MAX, &mut one),
            Err(NorError::OutOfBounds { addr: u32::MAX, len: 1 })
        );
        assert!(f.read(end, &mut []).is_ok());
        assert!(f.read(end + 1, &mut []).is_err());
        assert_eq!(f.access_count, counted + 1);
    }

    #[test]
    fn a_watch_tells_the_blocks_erased_before_anything_looked_at_them() {
        let mut f = NorFlash::new(FlashProfile::nrf52840(), 4);
        let sector = f.profile().sector_size;
        f.load(0, &vec![0x5A; 6 * sector as usize]);
        assert_eq!(f.watch_end(), None, "not watched");
        f.watch_start();
        // Block 1: read, then erased: observed. Block 2: erased, then read: erased first.
        // Block 3: programmed (what a program leaves depends on what was there): observed.
        // Blocks 0 and 4: untouched. Block 5: erased twice.
        f.read(sector + 3, &mut [0u8; 2]).unwrap();
        let erase = |addr: u32| FlashOp::Erase { addr, len: sector };
        for op in [erase(sector), erase(2 * sector), erase(5 * sector), erase(5 * sector)] {
            f.check(&op).unwrap();
            f.watch_op(&op);
            f.apply(&op).unwrap();
        }
        f.read(2 * sector, &mut [0u8; 16]).unwrap();
        f.watch_op(&FlashOp::Program {
            addr: 3 * sector,
            data: vec![0; 4],
        });
        // A copy is never watched.
        assert_eq!(f.clone().watch_end(), None);
        let ignore = f.watch_end().unwrap();
        assert_eq!(&ignore[..7], &[false, false, true, false, false, true, false]);
        assert_eq!(f.watch_end(), None, "the watch ended");
        // A run served whole from an earlier one read what it read: only what was erased first
        // before it stays erased first.
        f.watch_start();
        f.watch_op(&erase(sector));
        f.watch_everything();
        f.watch_op(&erase(2 * sector));
        let ignore = f.watch_end().unwrap();
        assert_eq!(&ignore[..3], &[false, true, false]);
    }

    #[test]
    fn a_run_joined_at_a_rest_point_learns_what_the_earlier_run_did_after_it() {
        let mut f = NorFlash::new(FlashProfile::nrf52840(), 4);
        let sector = f.profile().sector_size;
        let erase = |addr: u32| FlashOp::Erase { addr, len: sector };
        // The earlier run: erased block 1 and read block 2 before its rest point; after it,
        // erased block 3 first, read block 4, and erased block 2 (read before the rest point,
        // so what it did to it after is not known).
        let mut earlier = NorFlash::new(FlashProfile::nrf52840(), 4);
        earlier.watch_start();
        earlier.watch_op(&erase(sector));
        earlier.read(2 * sector, &mut [0u8; 4]).unwrap();
        let at_rest = earlier.watch_marks();
        earlier.watch_op(&erase(3 * sector));
        earlier.read(4 * sector, &mut [0u8; 4]).unwrap();
        earlier.watch_op(&erase(2 * sector));
        let at_end = earlier.watch_marks();
        // This run read block 3 itself before it joined there: its own first touch stays.
        f.watch_start();
        f.read(3 * sector, &mut [0u8; 4]).unwrap();
        f.watch_join(at_rest.as_ref(), at_end.as_ref());
        let ignore = f.watch_end().unwrap();
        assert_eq!(&ignore[..6], &[false, false, false, false, false, false]);
        // Joined before it touched anything: block 3 is erased first, as by the earlier run
        // after its rest point; blocks 1 and 2, which that run touched before it, count as
        // observed (what it did to them after is not known); block 4 was read.
        f.watch_start();
        f.watch_join(at_rest.as_ref(), at_end.as_ref());
        let ignore = f.watch_end().unwrap();
        assert_eq!(&ignore[..6], &[false, false, false, true, false, false]);
        // Without the earlier run's marks, everything not erased first counts as observed.
        f.watch_start();
        f.watch_op(&erase(5 * sector));
        f.watch_join(None, at_end.as_ref());
        let ignore = f.watch_end().unwrap();
        assert_eq!(&ignore[..6], &[false, false, false, false, false, true]);
    }

    #[test]
    fn states_that_differ_only_in_program_counts_share_their_loose_key_and_budget_tells_them_apart() {
        let mut a = NorFlash::new(FlashProfile::nrf52840(), 4);
        let max = u32::from(
            a.profile()
                .max_programs_per_granule
                .expect("the nRF52840 limits programs"),
        );
        let program = FlashOp::Program {
            addr: 64,
            data: vec![0x0F; 4],
        };
        a.apply(&program).unwrap();
        let mut b = a.clone();
        // The same bits programmed again: the same bytes, one program more.
        b.apply(&program).unwrap();
        assert_eq!(a.raw(), b.raw());
        assert_eq!(a.bytes_and_anomalies_key(), b.bytes_and_anomalies_key());
        assert_ne!(a.memo_key(), b.memo_key());
        assert!(a.program_budget_allows(64, 4, max - 1));
        assert!(!a.program_budget_allows(64, 4, max));
        assert!(b.program_budget_allows(64, 4, max - 2));
        assert!(!b.program_budget_allows(64, 4, max - 1));
        assert!(b.program_budget_allows(68, 4, max), "the next granule is untouched");
        assert!(!b.program_budget_allows(60, 8, max), "a range over a spent granule");
        // A part without a program limit allows any number.
        let w = NorFlash::new(FlashProfile::w25q32(), 4);
        assert!(w.program_budget_allows(0, 4096, 1000));
        // Weak bits draw on the access counter; a clean part draws nothing.
        assert!(!a.may_draw());
    }

    #[test]
    fn a_torn_program_completed_keys_as_the_program_run_to_its_end() {
        let sector = FlashProfile::nrf52840().sector_size;
        let data = vec![0x00; 1024];
        let program = FlashOp::Program {
            addr: 2 * sector + 1024,
            data: data.clone(),
        };
        let mut whole = NorFlash::new(FlashProfile::nrf52840(), 9);
        whole.load(0, &vec![0xA5; sector as usize]);
        let mut torn = whole.clone();
        whole.apply(&program).unwrap();
        // Cut half-way: some bits cleared, some weak (the seed decides which).
        let report = torn.apply_cut(&program, whole.duration_us(&program) / 2 + 20, 3);
        assert!(report.weak_bits > 0 && torn.may_draw(), "{report:?}");
        assert_ne!(torn.raw(), whole.raw());
        let keys = torn.keys_if_completed(2 * sector + 1024, &data);
        // The bytes and anomalies as the whole program left them; the granules the cut never
        // reached were not programmed, and their counts say so.
        assert_eq!(keys.map(|k| k.0), Some(whole.bytes_and_anomalies_key()));
        assert_ne!(keys.map(|k| k.1), Some(whole.memo_key()));
        // A one-granule program (a status record) torn inside its only unit counts as the
        // whole one does: the same keys.
        let record = [0x01, 0x00, 0x00, 0x00];
        let op = FlashOp::Program {
            addr: 3 * sector,
            data: record.to_vec(),
        };
        let base = NorFlash::new(FlashProfile::nrf52840(), 9);
        let (mut whole_record, mut torn_record) = (base.clone(), base.clone());
        whole_record.apply(&op).unwrap();
        let r = torn_record.apply_cut(&op, base.duration_us(&op) / 2, 5);
        assert!(r.weak_bits > 0, "{r:?}");
        assert_eq!(
            torn_record.keys_if_completed(3 * sector, &record),
            Some((whole_record.bytes_and_anomalies_key(), whole_record.memo_key()))
        );
        // A weak bit outside the program's range: no such state.
        assert_eq!(torn.keys_if_completed(2 * sector + 1024, &data[..256]), None);
        // The final state of a dump with the torn bytes in place, from the kept hashes.
        let dumped = 0..4 * sector;
        let hashes = whole.sector_hashes(0, dumped.end).unwrap();
        let mut dump = whole.raw()[0..dumped.end as usize].to_vec();
        let at = (2 * sector + 1024) as usize..(2 * sector + 2048) as usize;
        dump[at.clone()].copy_from_slice(&torn.raw()[at.clone()]);
        assert_eq!(
            whole.bytes_key_with(0, &dump, &hashes, &at),
            torn.bytes_key(0, dumped.end)
        );
        assert_eq!(
            whole.bytes_key_with(0, &whole.raw()[..dumped.end as usize], &hashes, &(0..0)),
            whole.bytes_key(0, dumped.end)
        );
        assert_eq!(
            whole.bytes_key_with(1, &dump, &hashes, &at),
            None,
            "not from a sector's start"
        );
    }

    #[test]
    fn states_that_differ_only_in_ignored_blocks_are_equal_outside_them() {
        let mut base = NorFlash::new(FlashProfile::nrf52840(), 6);
        let sector = base.profile().sector_size;
        base.load(0, &vec![0x11; 4 * sector as usize]);
        let sketch = base.sketch();
        let blocks = base.sector_versions.len();
        let none = vec![false; blocks];
        let mut only_2 = none.clone();
        only_2[2] = true;
        // A fork is the same state; a cut torn into block 2 differs there only.
        let mut fork = base.clone();
        assert!(fork.equals_outside(&sketch, &none));
        let program = FlashOp::Program {
            addr: 2 * sector,
            data: vec![0; 64],
        };
        fork.apply(&FlashOp::Erase {
            addr: 2 * sector,
            len: sector,
        })
        .unwrap();
        let _ = fork.apply_cut(&program, 3, 9);
        assert!(!fork.equals_outside(&sketch, &none));
        assert!(fork.equals_outside(&sketch, &only_2));
        // The same bytes written again elsewhere: a new version, so no longer equal.
        let mut elsewhere = base.clone();
        elsewhere.load(sector, &[0x11]);
        assert!(!elsewhere.equals_outside(&sketch, &only_2));
        // A weak bit outside the ignored blocks makes a difference; inside, none.
        let mut weak = base.clone();
        weak.weak.insert(3 * sector + 1, 0x04);
        assert!(!weak.equals_outside(&sketch, &only_2));
        let mut weak_inside = base.clone();
        weak_inside.weak.insert(2 * sector + 1, 0x04);
        assert!(weak_inside.equals_outside(&sketch, &only_2));
        // Another seed draws weak reads differently: never equal.
        let other = NorFlash::new(FlashProfile::nrf52840(), 7);
        assert!(!other.equals_outside(&sketch, &none));
        // A mask of the wrong length compares nothing.
        assert!(!base.equals_outside(&sketch, &none[..blocks - 1]));
    }

    #[test]
    fn sector_versions_stay_unique_across_threads_so_a_copy_never_skips_a_changed_sector() {
        let base = NorFlash::new(FlashProfile::nrf52840(), 9);
        let sector = base.profile().sector_size;
        // Two threads change the same sector of their own copies differently, many times (each
        // takes its versions in batches of its own).
        let forks: Vec<NorFlash> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..2u8)
                .map(|t| {
                    let mut f = base.clone();
                    s.spawn(move || {
                        for i in 0..(VERSIONS_PER_BATCH as u32 / 2) {
                            f.load(sector + i % 64, &[t.wrapping_mul(0x51) ^ i as u8]);
                        }
                        f
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let seen: BTreeSet<u64> = forks.iter().flat_map(|f| f.sector_versions.iter().copied()).collect();
        assert_eq!(
            seen.len(),
            2 * forks[0].sector_versions.len() - (forks[0].sector_versions.len() - 1)
        );
        let mut into = forks[0].clone();
        into.copy_from(&forks[1]);
        assert_eq!(into.raw(), forks[1].raw());
        assert_ne!(forks[0].raw(), forks[1].raw());
    }

    #[test]
    fn chunks_clip_to_the_range() {
        let pieces: Vec<_> = chunks(3..17, 8).collect();
        assert_eq!(pieces, vec![3..8, 8..16, 16..17]);
        assert_eq!(chunks(8..8, 8).count(), 0);
        assert_eq!(chunk_count(0, 0, 256), 0);
        assert_eq!(chunk_count(250, 10, 256), 2);
        assert_eq!(chunk_count(u32::MAX - 1, 1, 4), 1);
    }

    #[test]
    fn hash_separates_single_word_changes_and_lengths() {
        let base = vec![0u8; 1000];
        let h = hash_bytes(&base, 0);
        for at in [0usize, 7, 31, 32, 500, 999] {
            let mut changed = base.clone();
            changed[at] = 1;
            assert_ne!(hash_bytes(&changed, 0), h, "change at {at}");
        }
        assert_ne!(hash_bytes(&base[..999], 0), h);
        assert_ne!(hash_bytes(&base, 1), h);
    }

    #[test]
    fn le_word_pads_short_tails() {
        assert_eq!(le_word(&[1, 2]), 0x0201);
        assert_eq!(le_word(&[0xFF; 8]), u64::MAX);
    }

    #[test]
    fn the_memo_key_tells_states_apart_as_the_state_hash_does() {
        let profile = crate::profile::FlashProfile::builtin("nrf52840").unwrap();
        let mut a = NorFlash::new(profile, 3);
        let sector = a.profile().sector_size;
        a.apply(&FlashOp::Program {
            addr: sector,
            data: vec![0x5A; 64],
        })
        .unwrap();
        let mut b = a.clone();
        assert_eq!(a.memo_key(), b.memo_key());
        // The same bytes, one more program of a granule: another state.
        b.apply(&FlashOp::Program {
            addr: sector,
            data: vec![0xFF; 4],
        })
        .unwrap();
        assert_eq!(a.raw(), b.raw());
        assert_ne!(a.state_hash(), b.state_hash());
        assert_ne!(a.memo_key(), b.memo_key(), "a program count differs");
        // Erased again and programmed as `a` was: the same state, the same key.
        b.apply(&FlashOp::Erase {
            addr: sector,
            len: sector,
        })
        .unwrap();
        b.apply(&FlashOp::Program {
            addr: sector,
            data: vec![0x5A; 64],
        })
        .unwrap();
        assert_eq!(a.state_hash(), b.state_hash());
        assert_eq!(a.memo_key(), b.memo_key());
        // A copy keys as its original, and a key from scratch as a cached one.
        let mut c = NorFlash::new(a.profile().clone(), 3);
        c.copy_from(&b);
        assert_eq!(c.memo_key(), a.memo_key());
        let fresh = a.clone();
        fresh.sector_hashes.invalidate(0..fresh.sector_hashes.0.len());
        fresh
            .sector_count_hashes
            .invalidate(0..fresh.sector_count_hashes.0.len());
        assert_eq!(fresh.memo_key(), a.memo_key());
    }

    #[test]
    fn a_state_hash_whose_counts_were_hashed_before_is_the_hash_of_its_counts() {
        // Forks and parts that reach counts another part had: each hash, served by the counts'
        // content or not, is the one the whole array gives.
        let direct = |f: &NorFlash| f.state_hash_with(hash_bytes(&f.program_counts, 1));
        let mut a = NorFlash::new(FlashProfile::nrf52840(), 1);
        let mut b = NorFlash::new(FlashProfile::nrf52840(), 2);
        let ops = [
            FlashOp::Program {
                addr: 0x1000,
                data: vec![0x5A; 8],
            },
            FlashOp::Program {
                addr: 0x2008,
                data: vec![0xA5; 16],
            },
            FlashOp::Program {
                addr: 0x1000,
                data: vec![0x50; 8],
            },
            FlashOp::Erase {
                addr: 0x2000,
                len: 0x1000,
            },
            FlashOp::Program {
                addr: 0x2008,
                data: vec![0xA5; 16],
            },
        ];
        let mut seen = Vec::new();
        for op in &ops {
            a.apply(op).unwrap();
            assert_eq!(a.state_hash(), direct(&a));
            let mut fork = NorFlash::new(FlashProfile::nrf52840(), 3);
            fork.copy_from(&a);
            fork.counts_hash.invalidate();
            assert_eq!(fork.state_hash(), direct(&fork));
            let _ = fork.apply_cut(&ops[0], 1, 7);
            assert_eq!(fork.state_hash(), direct(&fork));
            seen.push(a.state_hash());
        }
        // The same operations on another part reach the same counts again: same hashes.
        for (op, want) in ops.iter().zip(&seen) {
            b.apply(op).unwrap();
            assert_eq!(b.state_hash(), *want);
            assert_eq!(b.state_hash(), direct(&b));
        }
    }

    #[test]
    fn random_mask_honours_the_extremes() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(random_mask(&mut rng, 0.0), 0);
        assert_eq!(random_mask(&mut rng, 1.0), 0xFF);
    }

    #[test]
    fn cleared_counts_stay_inside_their_class() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for n in 1..40 {
            for _ in 0..20 {
                let some = cleared_count(TornOutcome::Some, n, &mut rng);
                assert!((1..=n.div_ceil(2)).contains(&some));
                let most = cleared_count(TornOutcome::Most, n, &mut rng);
                assert!(most <= n && (n < 3 || (most > n / 2 && most < n)));
            }
        }
    }
}
