//! embassy-boot, the published crate itself (`embassy-boot` 0.7.0 from crates.io, blocking
//! API), run on the board's flash through the embedded-storage NOR-flash traits it is generic
//! over. Nothing of its algorithm is restated here: the bootloader calls
//! [`BootLoader::prepare_boot`] and boots the active partition; the application erases the DFU
//! partition with [`BlockingFirmwareUpdater::prepare_update`], raises the swap with
//! `mark_updated` and, once its health check passes, `mark_booted`.
//!
//! The map (embassy-boot's three partitions on one flash, as its users lay them out in their
//! linker file):
//! - ACTIVE: the primary slot less its last sector (the DFU partition must be one page larger
//!   than the active one for the swap, the crate's `assert_partitions`);
//! - DFU: the whole secondary slot;
//! - STATE: the map's scratch region, which must hold `2 + 4 * N` write granules for `N`
//!   active pages (the magic word, the progress-valid word, the swap and the revert progress
//!   indexes; the crate's doc of `BootLoader::state` and `assert_partitions`).
//!
//! The state partition's words, as the crate writes them (facts read from its source,
//! `src/lib.rs` and `src/boot_loader.rs`, used by the inspector through [`decode_state`]):
//! word 0 is the magic, every byte `0xF0` (swap), `0xC0` (revert), `0xE0` (DFU detach); any
//! other value means boot (`0xD0` after `mark_booted`). Word 1 is the progress-valid marker:
//! any byte not `0xFF` makes the progress invalid, which the bootloader reads as "every step
//! done". Words `2..2 + 2N` count the swap's steps and `2 + 2N..2 + 4N` the revert's, a step
//! done when no byte of its word reads `0xFF`.
//!
//! The crate's `PAGE_SIZE` and `WRITE_SIZE` are compile-time constants of the flash type, so the
//! adapter is built for the board geometries the simulated board has (4 KiB / 4 B, 2 KiB /
//! 8 B, 4 KiB / 1 B, 8 KiB / 16 B); another geometry is a layout error at `target.mode`.
//!
//! The update is always on trial: the swap commits when the new image marks itself booted
//! (`app: confirm`), and a boot that finds the swap done but never marked reverts it.

use core::cell::RefCell;

use embassy_boot::{
    BlockingFirmwareState, BlockingFirmwareUpdater, BootError, BootLoader, BootLoaderConfig, FirmwareUpdaterConfig,
    FirmwareUpdaterError, State,
};
use embassy_embedded_hal::flash::partition::BlockingPartition;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};

use super::{AbRecord, AppBoot};
use crate::app::AppConfig;
use crate::boot::BootConfig;
use crate::hal::{FlashError, Hal};
use crate::image::Version;
use crate::layout::{Area, Layout, LayoutError};
use crate::variant::Variant;
use crate::{say, FwError};

/// The scheme's name (a campaign's `mode`).
pub const NAME: &str = "embassy-boot";

/// The published version this scheme runs.
pub const CRATE_VERSION: &str = "0.7.0";

/// Magic bytes of the state partition's first word (embassy-boot `src/lib.rs`).
pub const SWAP_MAGIC: u8 = 0xF0;
pub const REVERT_MAGIC: u8 = 0xC0;
pub const BOOT_MAGIC: u8 = 0xD0;
pub const DFU_DETACH_MAGIC: u8 = 0xE0;
/// The value of an erased byte (the crate without its `flash-erase-zero` feature).
pub const ERASE_VALUE: u8 = 0xFF;

/// The board geometries (erase size, write size) the adapter is built for.
pub const GEOMETRIES: [(u32, u32); 4] = [(4096, 4), (2048, 8), (4096, 1), (8192, 16)];

/// The active partition: the primary slot less its last sector.
pub fn active(l: &Layout) -> Area {
    Area {
        offset: l.primary.offset,
        size: l.primary.size.saturating_sub(l.sector_size),
    }
}

/// The DFU partition: the whole secondary slot.
pub fn dfu(l: &Layout) -> Area {
    l.secondary
}

/// The state partition: the map's scratch region.
pub fn state(l: &Layout) -> Area {
    l.scratch
}

/// Pages of the active partition (`N`).
pub fn pages(l: &Layout) -> u32 {
    active(l).size / l.sector_size.max(1)
}

/// What the first word of the state partition says (the crate's `State::from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Swap,
    Revert,
    DfuDetach,
    /// Any other value: the bootloader boots the active partition as it is.
    Boot,
}

impl Magic {
    pub fn of(word: &[u8]) -> Magic {
        let all = |m: u8| !word.is_empty() && word.iter().all(|&b| b == m);
        if all(SWAP_MAGIC) {
            Magic::Swap
        } else if all(DFU_DETACH_MAGIC) {
            Magic::DfuDetach
        } else if all(REVERT_MAGIC) {
            Magic::Revert
        } else {
            Magic::Boot
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Magic::Swap => "swap",
            Magic::Revert => "revert",
            Magic::DfuDetach => "dfu-detach",
            Magic::Boot => "boot",
        }
    }
}

/// What the next boot's `prepare_boot` does, from the state partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Boots the active partition as it is.
    Boot,
    /// Swaps (or resumes the swap at `step` of `2N`).
    Swap { step: u32 },
    /// Reverts (or resumes the revert at `step` of `2N`); with the progress invalid nothing is
    /// copied and only the revert magic is written.
    Revert { step: u32 },
}

/// The state partition decoded the way the crate reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateWords {
    pub magic: Magic,
    /// The progress-valid word reads erased.
    pub progress_valid: bool,
    /// The crate's `current_progress`: the first step whose word has a byte reading erased
    /// (the last index when the progress is invalid).
    pub progress: u32,
    /// Steps of one pass (`2N`).
    pub steps: u32,
    pub action: Action,
}

/// Decodes the state partition `bytes` (written with `write` byte granules) for an active
/// partition of `pages` pages. Facts from embassy-boot 0.7.0 `boot_loader.rs`:
/// `read_state`, `current_progress`, `is_swapped`.
///
/// `bytes` holds the partition's first bytes (at least its first two words), `capacity` is the
/// partition's size: the crate's last progress index follows from it. Words past `bytes` read
/// as erased.
pub fn decode_state(bytes: &[u8], write: usize, pages: u32, capacity: usize) -> Option<StateWords> {
    let w = write.max(1);
    if bytes.len() < 2 * w || capacity < 3 * w {
        return None;
    }
    let word = |i: usize| bytes.get(i * w..(i + 1) * w);
    let magic = Magic::of(word(0)?);
    let progress_valid = word(1)?.iter().all(|&b| b == ERASE_VALUE);
    let max_index = ((capacity - w) / w).saturating_sub(2);
    let progress = if !progress_valid {
        max_index
    } else {
        (0..max_index)
            .find(|&i| word(2 + i).is_none_or(|x| x.contains(&ERASE_VALUE)))
            .unwrap_or(max_index)
    };
    let steps = 2 * pages;
    let progress = progress as u32;
    let action = match magic {
        Magic::Swap if progress < steps => Action::Swap { step: progress },
        Magic::Swap => Action::Revert {
            step: progress.saturating_sub(steps).min(steps),
        },
        _ => Action::Boot,
    };
    Some(StateWords {
        magic,
        progress_valid,
        progress,
        steps,
        action,
    })
}

/// Why the crate cannot run on `layout`, if it cannot.
pub fn check_layout(l: &Layout) -> Result<(), LayoutError> {
    l.validate()?;
    l.require_scratch(1)?;
    if !GEOMETRIES.contains(&(l.sector_size, l.write_size)) {
        return Err(LayoutError::GeometryUnsupported);
    }
    let n = pages(l);
    if n == 0 {
        return Err(LayoutError::TrailerTooLarge);
    }
    // The crate's assert_partitions: 2 + 4N state words.
    if (2 + 4 * u64::from(n)) * u64::from(l.write_size) > u64::from(state(l).size) {
        return Err(LayoutError::ScratchTooSmall);
    }
    Ok(())
}

/// A flash error the crate sees (its `NorFlashError`), keeping the board's own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartError(pub FlashError);

impl NorFlashError for PartError {
    fn kind(&self) -> NorFlashErrorKind {
        match self.0 {
            FlashError::OutOfBounds { .. } => NorFlashErrorKind::OutOfBounds,
            FlashError::Misaligned { .. } => NorFlashErrorKind::NotAligned,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// The board's whole flash as an embedded-storage NOR flash with erase size `E` and write size
/// `W`. An erase goes page by page, lowest first, as the chip HALs embassy-boot runs on do.
pub struct Part<'h, const E: usize, const W: usize> {
    hal: &'h mut dyn Hal,
    capacity: usize,
    /// The last error the board returned (the crate keeps only its kind).
    last: Option<FlashError>,
}

impl<'h, const E: usize, const W: usize> Part<'h, E, W> {
    pub fn new(hal: &'h mut dyn Hal, layout: &Layout) -> Self {
        let ends = [layout.primary.end(), layout.secondary.end(), layout.scratch.end()];
        Part {
            hal,
            capacity: ends.into_iter().max().unwrap_or(0) as usize,
            last: None,
        }
    }

    fn keep<T>(&mut self, r: Result<T, FlashError>) -> Result<T, PartError> {
        r.map_err(|e| {
            self.last = Some(e);
            PartError(e)
        })
    }
}

impl<const E: usize, const W: usize> ErrorType for Part<'_, E, W> {
    type Error = PartError;
}

impl<const E: usize, const W: usize> ReadNorFlash for Part<'_, E, W> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), PartError> {
        let r = self.hal.read(offset, bytes);
        self.keep(r)
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

impl<const E: usize, const W: usize> NorFlash for Part<'_, E, W> {
    const WRITE_SIZE: usize = W;
    const ERASE_SIZE: usize = E;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), PartError> {
        let mut at = from;
        while at < to {
            let r = self.hal.erase(at, E as u32);
            self.keep(r)?;
            at += E as u32;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), PartError> {
        let r = self.hal.write(offset, bytes);
        self.keep(r)
    }
}

type Shared<'h, const E: usize, const W: usize> = Mutex<NoopRawMutex, RefCell<Part<'h, E, W>>>;
type Partition<'m, 'h, const E: usize, const W: usize> = BlockingPartition<'m, NoopRawMutex, Part<'h, E, W>>;

fn partition<'m, 'h, const E: usize, const W: usize>(flash: &'m Shared<'h, E, W>, a: Area) -> Partition<'m, 'h, E, W> {
    BlockingPartition::new(flash, a.offset, a.size)
}

fn last_error<const E: usize, const W: usize>(flash: Shared<'_, E, W>) -> FlashError {
    flash.into_inner().into_inner().last.unwrap_or(FlashError::Device)
}

/// What the crate answered, as the firmware's error: the board's own flash error when the
/// board refused (the crate keeps only its kind).
fn boot_error<const E: usize, const W: usize>(flash: Shared<'_, E, W>, e: BootError) -> FwError {
    let part = flash.into_inner().into_inner();
    let why = part.last.unwrap_or(FlashError::Device);
    say!(part.hal, "boot: embassy-error prepare_boot={:?} flash={:?}", e, why);
    FwError::Flash(why)
}

fn updater_error<const E: usize, const W: usize>(flash: Shared<'_, E, W>, e: FirmwareUpdaterError) -> FwError {
    match e {
        FirmwareUpdaterError::Flash(_) => FwError::Flash(last_error(flash)),
        // The crate refused the call in this state (`BadState`) or a signature: no flash fault,
        // a refusal the application cannot go past.
        _ => FwError::Flash(FlashError::Device),
    }
}

fn say_state(hal: &mut dyn Hal, l: &Layout) -> Result<(), FlashError> {
    let s = state(l);
    let w = l.write_size as usize;
    let n = pages(l);
    // Only the words the crate reads: the magic, the marker and both progress runs.
    let words = (2 + 4 * n as usize) * w;
    let mut buf = [0u8; 4096];
    let take = words.min(buf.len()).min(s.size as usize);
    match hal.read(s.offset, &mut buf[..take]) {
        Ok(()) => {}
        Err(FlashError::Uncorrectable { addr }) => {
            say!(hal, "boot: embassy-state unreadable addr=0x{:x}", addr);
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    if let Some(d) = decode_state(&buf[..take], w, n, s.size as usize) {
        let action = match d.action {
            Action::Boot => "boot",
            Action::Swap { .. } => "swap",
            Action::Revert { .. } => "revert",
        };
        say!(
            hal,
            "boot: embassy-state magic={} progress={}{}/{} action={}",
            d.magic.name(),
            d.progress.min(2 * d.steps),
            if d.progress_valid { "" } else { " (invalid)" },
            2 * d.steps,
            action
        );
    }
    Ok(())
}

fn run_boot<const E: usize, const W: usize>(hal: &mut dyn Hal, l: &Layout) -> Result<(), FwError> {
    say_state(hal, l)?;
    let flash: Shared<'_, E, W> = Mutex::new(RefCell::new(Part::new(hal, l)));
    let result = {
        let mut bl = BootLoader::new(BootLoaderConfig {
            active: partition(&flash, active(l)),
            dfu: partition(&flash, dfu(l)),
            state: partition(&flash, state(l)),
        });
        let mut page = [0u8; E];
        bl.prepare_boot(&mut page)
    };
    let state = match result {
        Ok(s) => s,
        Err(e) => {
            // The crate's chip HALs panic here (`expect("Boot prepare error")`): say why, then
            // stop as they do.
            let e = boot_error(flash, e);
            return Err(e);
        }
    };
    let hal = flash.into_inner().into_inner().hal;
    say!(hal, "boot: embassy-prepared returned={}", state_name(&state));
    Ok(())
}

fn state_name(s: &State) -> &'static str {
    match s {
        State::Boot => "boot",
        State::Swap => "swap",
        State::Revert => "revert",
        State::DfuDetach => "dfu-detach",
    }
}

fn read_app_state<const E: usize, const W: usize>(hal: &mut dyn Hal, l: &Layout) -> Result<State, FwError> {
    let flash: Shared<'_, E, W> = Mutex::new(RefCell::new(Part::new(hal, l)));
    let r = {
        let mut aligned = [0u8; W];
        let mut st = BlockingFirmwareState::new(partition(&flash, state(l)), &mut aligned);
        st.get_state()
    };
    r.map_err(|e| updater_error(flash, e))
}

/// Which updater call the application makes.
#[derive(Clone, Copy)]
enum Call {
    MarkBooted,
    MarkUpdated,
    PrepareUpdate,
}

fn updater_call<const E: usize, const W: usize>(hal: &mut dyn Hal, l: &Layout, call: Call) -> Result<(), FwError> {
    let flash: Shared<'_, E, W> = Mutex::new(RefCell::new(Part::new(hal, l)));
    let r = {
        let mut aligned = [0u8; W];
        let mut up = BlockingFirmwareUpdater::new(
            FirmwareUpdaterConfig {
                dfu: partition(&flash, dfu(l)),
                state: partition(&flash, state(l)),
            },
            &mut aligned,
        );
        match call {
            Call::MarkBooted => up.mark_booted(),
            Call::MarkUpdated => up.mark_updated(),
            Call::PrepareUpdate => up.prepare_update().map(|_| ()),
        }
    };
    r.map_err(|e| updater_error(flash, e))
}

/// Runs `$f::<E, W>` for the layout's geometry.
macro_rules! with_geometry {
    ($l:expr, $f:ident ( $($arg:expr),* )) => {
        match ($l.sector_size, $l.write_size) {
            (4096, 4) => $f::<4096, 4>($($arg),*),
            (2048, 8) => $f::<2048, 8>($($arg),*),
            (4096, 1) => $f::<4096, 1>($($arg),*),
            (8192, 16) => $f::<8192, 16>($($arg),*),
            _ => Err(FwError::Flash(FlashError::Device)),
        }
    };
}

/// The published embassy-boot 0.1.1 (November 2022), run the same way: the negative control
/// of FIELD-BUGS row 11 (fixed by the crate's commit df3a1e1b9, April 2023, first published in
/// 0.2.0). Its updater's `set_magic` writes zeros over the magic word, whatever it holds,
/// before it erases the state partition; its bootloader does the same after a revert. Its
/// state partition has no progress-valid word: the progress indexes start at word 1.
#[cfg(feature = "embassy-boot-old")]
mod old {
    use embassy_boot_old::{BootFlash, BootLoader, FirmwareUpdater, Partition, SingleFlashConfig, State};

    use super::{active, dfu, pages, state, Part};
    use crate::hal::{FlashError, Hal};
    use crate::layout::{Area, Layout};
    use crate::{say, FwError};

    fn part(a: Area) -> Partition {
        Partition::new(a.offset as usize, a.end() as usize)
    }

    fn fault<const E: usize, const W: usize>(p: &Part<'_, E, W>) -> FwError {
        FwError::Flash(p.last.unwrap_or(FlashError::Device))
    }

    /// The 0.1.1 reading of the state partition, for the console: the magic, and the first
    /// progress word (from word 1) with a byte reading erased.
    fn say_state(hal: &mut dyn Hal, l: &Layout) -> Result<(), FlashError> {
        let s = state(l);
        let w = l.write_size as usize;
        let n = pages(l);
        let mut buf = [0u8; 4096];
        let take = ((1 + 4 * n as usize) * w).min(buf.len()).min(s.size as usize);
        match hal.read(s.offset, &mut buf[..take]) {
            Ok(()) => {}
            Err(FlashError::Uncorrectable { addr }) => {
                say!(hal, "boot: embassy-state unreadable addr=0x{:x}", addr);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let magic = super::Magic::of(&buf[..w]);
        let progress = (0..(take / w).saturating_sub(1))
            .find(|&i| buf[(1 + i) * w..(2 + i) * w].contains(&super::ERASE_VALUE))
            .unwrap_or(take / w - 1) as u32;
        let action = match magic {
            super::Magic::Swap if progress < 2 * n => "swap",
            super::Magic::Swap => "revert",
            _ => "boot",
        };
        say!(
            hal,
            "boot: embassy-state magic={} progress={}/{} action={} crate=0.1.1",
            magic.name(),
            progress.min(4 * n),
            4 * n,
            action
        );
        Ok(())
    }

    pub fn run_boot<const E: usize, const W: usize>(hal: &mut dyn Hal, l: &Layout) -> Result<(), FwError> {
        say_state(hal, l)?;
        let mut p = Part::<E, W>::new(hal, l);
        let r = {
            let mut flash = BootFlash::<_, E>::new(&mut p);
            let mut cfg = SingleFlashConfig::new(&mut flash);
            let mut bl = BootLoader::new(part(active(l)), part(dfu(l)), part(state(l)));
            let mut magic = [0u8; W];
            let mut page = [0u8; E];
            bl.prepare_boot(&mut cfg, &mut magic, &mut page)
        };
        match r {
            Ok(st) => {
                let name = if st == State::Swap { "swap" } else { "boot" };
                say!(p.hal, "boot: embassy-prepared returned={}", name);
                Ok(())
            }
            Err(e) => {
                let why = fault(&p);
                say!(p.hal, "boot: embassy-error prepare_boot={:?} flash={:?}", e, why);
                Err(why)
            }
        }
    }

    pub fn swapped<const E: usize, const W: usize>(hal: &mut dyn Hal, l: &Layout) -> Result<bool, FwError> {
        let mut p = Part::<E, W>::new(hal, l);
        let mut aligned = [0u8; W];
        FirmwareUpdater::new(part(dfu(l)), part(state(l)))
            .get_state_blocking(&mut p, &mut aligned)
            .map(|s| s == State::Swap)
            .map_err(|_| fault(&p))
    }

    pub fn call<const E: usize, const W: usize>(hal: &mut dyn Hal, l: &Layout, c: super::Call) -> Result<(), FwError> {
        let mut p = Part::<E, W>::new(hal, l);
        let mut aligned = [0u8; W];
        let mut up = FirmwareUpdater::new(part(dfu(l)), part(state(l)));
        let r = match c {
            super::Call::MarkBooted => up.mark_booted_blocking(&mut p, &mut aligned),
            super::Call::MarkUpdated => up.mark_updated_blocking(&mut p, &mut aligned),
            super::Call::PrepareUpdate => up.prepare_update_blocking(&mut p).map(|_| ()),
        };
        r.map_err(|_| fault(&p))
    }
}

/// The old crate's entry points on a build without it: nothing runs (a rig that asks for the
/// variant on such a build gets a device that never boots, never a reference that passes).
#[cfg(not(feature = "embassy-boot-old"))]
mod old {
    use crate::hal::{FlashError, Hal};
    use crate::layout::Layout;
    use crate::{say, FwError};

    fn absent(hal: &mut dyn Hal) -> FwError {
        say!(
            hal,
            "boot: embassy-error embassy-boot 0.1.1 is not built in (feature embassy-boot-old)"
        );
        FwError::Flash(FlashError::Device)
    }

    pub fn run_boot<const E: usize, const W: usize>(hal: &mut dyn Hal, _l: &Layout) -> Result<(), FwError> {
        Err(absent(hal))
    }

    pub fn swapped<const E: usize, const W: usize>(hal: &mut dyn Hal, _l: &Layout) -> Result<bool, FwError> {
        Err(absent(hal))
    }

    pub fn call<const E: usize, const W: usize>(
        hal: &mut dyn Hal,
        _l: &Layout,
        _c: super::Call,
    ) -> Result<(), FwError> {
        Err(absent(hal))
    }
}

/// Whether `variant` runs the published 0.1.1 instead of 0.7.0.
fn old_crate(variant: Variant) -> bool {
    matches!(
        variant,
        Variant::EmbassyBootMagicRewrite | Variant::EmbassyBootDfuErasedBeforeBooted
    )
}

/// Makes an updater call, and says on the console when the crate returned an error and which
/// flash error was under it (a refused program, an uncorrectable read): the application then
/// gives up this boot.
fn updater(hal: &mut dyn Hal, cfg: &AppConfig, call: Call) -> Result<(), FwError> {
    let l = cfg.layout;
    let r = if old_crate(cfg.variant) {
        use old::call as call_old;
        with_geometry!(l, call_old(hal, &l, call))
    } else {
        with_geometry!(l, updater_call(hal, &l, call))
    };
    if let Err(e) = &r {
        let name = match call {
            Call::MarkBooted => "mark_booted",
            Call::MarkUpdated => "mark_updated",
            Call::PrepareUpdate => "prepare_update",
        };
        say!(hal, "app: embassy-error {}={:?}", name, e);
    }
    r
}

/// embassy-boot.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassyBoot;

impl AbRecord for EmbassyBoot {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The bootloader swaps the update into the active partition and runs it there.
    fn runs_from_secondary(&self) -> bool {
        false
    }

    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        check_layout(layout)
    }

    fn scratch_use(&self) -> &'static str {
        "it is the state partition (2 + 4 words per page swapped)"
    }

    /// The state partition: the whole scratch region.
    fn record_area(&self, layout: &Layout) -> Area {
        state(layout)
    }

    /// The active partition: the primary slot less the sector the crate leaves out.
    fn max_image_size(&self, layout: &Layout) -> u32 {
        active(layout).size
    }

    /// The update is written from the start of the DFU partition, at most the active size.
    fn staging_area(&self, layout: &Layout) -> Area {
        Area {
            offset: layout.secondary.offset,
            size: active(layout).size,
        }
    }

    fn boot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
        let l = cfg.layout;
        if old_crate(cfg.variant) {
            use old::run_boot as run_old;
            return with_geometry!(l, run_old(hal, &l));
        }
        with_geometry!(l, run_boot(hal, &l))
    }

    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        let l = cfg.layout;
        if old_crate(cfg.variant) {
            use old::swapped;
            // 0.1.1 knows only boot and swap: a revert leaves the boot magic.
            let pending = with_geometry!(l, swapped(hal, &l))?;
            if pending && cfg.variant == Variant::EmbassyBootDfuErasedBeforeBooted {
                // The application makes room for its next update before it marks itself
                // booted: 0.1.1 erases the DFU partition, which holds the old image.
                say!(hal, "app: embassy-prepare-update booted=no");
                updater(hal, cfg, Call::PrepareUpdate)?;
                say!(hal, "app: embassy-prepare-update-done");
            }
            return Ok(AppBoot {
                pending,
                reverted: false,
                restart: false,
            });
        }
        let s = with_geometry!(l, read_app_state(hal, &l))?;
        Ok(AppBoot {
            pending: s == State::Swap,
            reverted: s == State::Revert,
            restart: false,
        })
    }

    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        updater(hal, cfg, Call::MarkBooted)?;
        say!(hal, "app: confirm version={}", me);
        Ok(())
    }

    /// The updater erases the whole DFU partition (it refuses while a swapped image is not
    /// marked booted).
    fn prepare_download(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        let l = cfg.layout;
        let _ = l;
        updater(hal, cfg, Call::PrepareUpdate)
    }

    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        let l = cfg.layout;
        let _ = l;
        updater(hal, cfg, Call::MarkUpdated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state partition of 72 bytes (4 pages, 4-byte words: 2 + 16 words) holding `list`.
    fn part(list: &[[u8; 4]]) -> [u8; 72] {
        let mut b = [0xffu8; 72];
        for (i, x) in list.iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(x);
        }
        b
    }

    fn decode(b: &[u8]) -> StateWords {
        decode_state(b, 4, 4, b.len()).unwrap()
    }

    #[test]
    fn the_state_reads_as_the_crate_reads_it() {
        let d = decode(&part(&[]));
        assert_eq!(
            (d.magic, d.progress_valid, d.progress, d.action),
            (Magic::Boot, true, 0, Action::Boot)
        );
        let d = decode(&part(&[[0xf0; 4], [0xff; 4], [0; 4], [0; 4], [0, 0, 0xff, 0]]));
        assert_eq!(
            (d.magic, d.progress, d.action),
            (Magic::Swap, 2, Action::Swap { step: 2 })
        );
        let mut done = [[0u8; 4]; 10];
        done[0] = [0xf0; 4];
        done[1] = [0xff; 4];
        assert_eq!(decode(&part(&done)).action, Action::Revert { step: 0 });
        // The marker written: every step reads done, a revert copies nothing.
        let d = decode(&part(&[[0xf0; 4], [0, 0xff, 0xff, 0xff]]));
        assert!(!d.progress_valid);
        // The crate's last index is (capacity - 1 word) / word - 2: in a partition of exactly
        // 2 + 4N words it is the revert's last step, which is then not skipped.
        assert_eq!(d.action, Action::Revert { step: 7 });
        let marker = part(&[[0xf0; 4], [0, 0xff, 0xff, 0xff]]);
        let d = decode_state(&marker, 4, 4, 4096).unwrap();
        assert_eq!(d.action, Action::Revert { step: 8 });
        assert_eq!(decode(&part(&[[0xf0, 0xf0, 0xf0, 0xf1]])).magic, Magic::Boot);
        assert_eq!(decode(&part(&[[0xc0; 4]])).magic, Magic::Revert);
        assert_eq!(decode(&part(&[[0xe0; 4]])).magic, Magic::DfuDetach);
        assert_eq!(decode(&part(&[[0xd0; 4]])).magic, Magic::Boot);
        assert!(decode_state(&[0xff; 4], 4, 4, 72).is_none());
    }
}
