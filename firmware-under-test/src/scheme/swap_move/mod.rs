//! Swap using move (MCUboot's swap-move, `MCUBOOT_SWAP_USING_MOVE`): no scratch area. The
//! primary slot keeps one spare sector above the image; the swap first moves the primary image
//! up by one sector, from the top down, then swaps sector by sector: secondary sector `i` into
//! primary sector `i`, then the moved primary sector `i + 1` into secondary sector `i`. A status
//! record after each step (`status.rs`) lets a swap cut at any flash operation resume.
//!
//! Facts from MCUboot, read in its sources, not copied: `docs/design.md` ("Swap using move",
//! "Swap status"); `boot/bootutil/src/swap_move.c` (`swap_run`, `boot_move_sector_up`,
//! `boot_swap_sectors`, `fixup_revert`, `boot_read_image_header`, `boot_slots_compatible`,
//! `app_max_size`, `swap_status_source`); `boot/bootutil/src/swap_misc.c` (`swap_status_init`:
//! swap_info, image_ok when the request has it, swap_size, then the magic).
//!
//! - A swap in progress is read from the primary trailer (magic good, copy_done not set) while
//!   the secondary holds no request (`swap_status_source`).
//! - A new swap writes the primary trailer (erase, swap_info, image_ok for a permanent request,
//!   swap_size, magic last), checks that it reads back steadily, and only then consumes the
//!   request in the secondary trailer: until then a cut leaves the request standing and no
//!   data moved, so the swap starts over.
//! - A revert first writes a request into the secondary trailer (image_ok, swap_size, swap type,
//!   magic) while the primary trailer still records the finished test swap, as MCUboot's
//!   `fixup_revert` does: the window in which the primary trailer is erased and written again
//!   is then covered by that request (without it, MCUboot #1966: a torn magic, no revert). The
//!   swap type in the request is cutpoint's addition (MCUboot writes image_ok, swap_size and
//!   the magic): it keeps the revert a revert, so the application learns it was reverted.
//! - A resumed swap finds both image headers where its progress puts them, as MCUboot's
//!   `boot_read_image_header` does with a swap status, and stops when one is missing.

pub mod status;

use super::{mcuboot, AppBoot, CommitPoint, Scheme, Upgrade};
use crate::app::AppConfig;
use crate::boot::{self, ops, BootConfig};
use crate::hal::{Console, Flash, FlashError, Hal, RestState};
use crate::image::{self, Version};
use crate::layout::{Area, Layout, LayoutError, Role, Slot, STATUS_STATES};
use crate::trailer::{self, Field, Flag, Magic, SwapType, Trailer};
use crate::variant::Variant;
use crate::{say, FwError};
use status::{Algo, Step};

/// The scheme's name (a campaign's `mode`).
pub const NAME: &str = "swap-move";

/// A swap without scratch: swap-move or swap-offset. The two share the decision, the trailers,
/// the revert's request, the resume and the application's side (`mcuboot`), and differ in their
/// steps, where the images sit and the layouts they accept (`Algo`); this one type is the
/// scheme of both.
#[derive(Debug, Clone, Copy)]
pub struct NoScratch(Algo);

/// Swap using move.
pub const SWAP_MOVE: NoScratch = NoScratch(Algo::Move);

impl NoScratch {
    /// The scheme for `algo`.
    pub const fn new(algo: Algo) -> NoScratch {
        NoScratch(algo)
    }

    pub fn algo(self) -> Algo {
        self.0
    }
}

impl Scheme for NoScratch {
    fn name(&self) -> &'static str {
        match self.0 {
            Algo::Move => NAME,
            Algo::Offset => super::swap_offset::NAME,
        }
    }

    fn can_revert(&self) -> bool {
        true
    }

    fn regions(&self) -> &'static [Role] {
        &[Role::Bootloader, Role::Primary, Role::Secondary]
    }

    /// The two slots only: no scratch area (a scratch region in the map is not written).
    fn areas(&self, layout: &Layout, put: &mut dyn FnMut(&'static str, crate::layout::Area)) {
        super::slot_areas(layout, put);
    }

    fn sector_rule(&self) -> crate::map::SectorRule {
        crate::map::SectorRule::Equal
    }

    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        match self.0 {
            Algo::Move => check_layout(layout),
            Algo::Offset => super::swap_offset::check_layout(layout),
        }
    }

    fn max_image_size(&self, layout: &Layout) -> u32 {
        max_for(self.0, layout)
    }

    fn staging_area(&self, layout: &Layout) -> Area {
        match self.0 {
            Algo::Move => layout.secondary,
            Algo::Offset => super::swap_offset::staging(layout),
        }
    }

    /// As swap-scratch: a test swap commits at the confirmation, a permanent one when the
    /// bootloader finished it.
    fn commit_point(&self, upgrade: Upgrade) -> CommitPoint {
        match upgrade {
            Upgrade::Test => CommitPoint::Confirm,
            Upgrade::Permanent => CommitPoint::Installed,
        }
    }

    fn boot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<(), FwError> {
        run(hal, cfg, self.0)
    }

    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        mcuboot::app_boot(hal, cfg)
    }

    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        mcuboot::confirm(hal, cfg, me)
    }

    fn upload_blocked(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<bool, FwError> {
        mcuboot::upload_blocked(hal, cfg)
    }

    fn prepare_download(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        mcuboot::prepare_download(hal, cfg)
    }

    fn downloaded_chunk(&self, hal: &mut dyn Hal, cfg: &AppConfig, offset: u32) -> Result<(), FwError> {
        mcuboot::downloaded_chunk(hal, cfg, offset)
    }

    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        mcuboot::request(hal, cfg)
    }
}

/// Whether `layout` fits swap-move (MCUboot's `boot_slots_compatible`): slots of whole, equal
/// sectors apart from each other, the primary with as many sectors as the secondary or one
/// more, and room for an image below the spare sector and the trailer. No scratch area is
/// needed (one in the map is ignored, as long as it is sector-aligned and overlaps nothing).
pub fn check_layout(l: &Layout) -> Result<(), LayoutError> {
    check_scratchless_layout(l, Slot::Primary)
}

/// The largest image swap-move can install (MCUboot's `app_max_size`): the primary slot less
/// its spare sector and its trailer sectors, and no more than the secondary less its trailer.
pub fn max_image_size(l: &Layout) -> u32 {
    scratchless_max_image_size(l, Slot::Primary)
}

/// The layout check of a swap without scratch (swap-move, swap-offset), which differ only in
/// the slot that keeps the spare sector, `spare_in`: swap-move's primary (the sector its image
/// moves up into), swap-offset's secondary (the sector before the update). That slot may hold
/// one sector more than the other (MCUboot's `boot_slots_compatible` in swap_move.c and
/// swap_offset.c). Checked in order: the write size against the trailer's alignment, every
/// region on whole sectors (a scratch area in the map, unused, as well), addresses and status
/// records that fit in 32 bits, regions apart, the slot-size rule, room for an image.
pub fn check_scratchless_layout(l: &Layout, spare_in: Slot) -> Result<(), LayoutError> {
    let s = l.sector_size;
    let mut areas = [l.bootloader, l.primary, l.secondary, l.scratch];
    if l.scratch.size == 0 {
        areas[3] = l.bootloader;
    }
    if l.write_size > crate::trailer::MAX_ALIGN {
        return Err(LayoutError::WriteTooWide);
    }
    if s == 0
        || l.write_size == 0
        || areas
            .iter()
            .any(|a| !a.offset.is_multiple_of(s) || !a.size.is_multiple_of(s))
    {
        return Err(LayoutError::NotSectorAligned);
    }
    let records = u64::from(l.sectors_per_slot()) * u64::from(STATUS_STATES) * u64::from(l.write_size);
    if areas.iter().any(|a| a.offset.checked_add(a.size).is_none()) || records > u64::from(u32::MAX / 2) {
        return Err(LayoutError::TrailerTooLarge);
    }
    for (i, a) in areas.iter().enumerate() {
        for b in &areas[i + 1..] {
            if a != b && a.size > 0 && b.size > 0 && a.offset < b.end() && b.offset < a.end() {
                return Err(LayoutError::Overlap);
            }
        }
    }
    let (np, ns) = (l.primary.size / s, l.secondary.size / s);
    let (spare, other) = match spare_in {
        Slot::Primary => (np, ns),
        Slot::Secondary => (ns, np),
    };
    if spare != other && spare != other + 1 {
        return Err(LayoutError::SlotsDiffer);
    }
    if scratchless_max_image_size(l, spare_in) == 0 {
        return Err(LayoutError::TrailerTooLarge);
    }
    Ok(())
}

/// The largest image a swap without scratch installs (MCUboot's `app_max_size`): each slot less
/// its trailer sectors, the slot `spare_in` also less its spare sector; the smaller of the two.
pub fn scratchless_max_image_size(l: &Layout, spare_in: Slot) -> u32 {
    let s = l.sector_size;
    if s == 0 {
        return 0;
    }
    let t = l.trailer_sectors();
    let spare = |slot: Slot| u32::from(slot == spare_in);
    let pri = (l.primary.size / s)
        .saturating_sub(spare(Slot::Primary))
        .saturating_sub(t);
    let sec = (l.secondary.size / s)
        .saturating_sub(spare(Slot::Secondary))
        .saturating_sub(t);
    pri.min(sec).saturating_mul(s)
}

/// The largest image `algo` can install with `l`.
fn max_for(algo: Algo, l: &Layout) -> u32 {
    match algo {
        Algo::Move => max_image_size(l),
        Algo::Offset => super::swap_offset::max_image_size(l),
    }
}

fn size_ok(cfg: &BootConfig, algo: Algo, size: u32) -> bool {
    size > 0 && size.is_multiple_of(cfg.layout.sector_size) && size <= max_for(algo, &cfg.layout)
}

/// Decide from the trailers, then resume, install or revert (shared by swap-move and
/// swap-offset, which differ only in their steps and where the images sit).
fn run(hal: &mut dyn Hal, cfg: &BootConfig, algo: Algo) -> Result<(), FwError> {
    let l = cfg.layout;
    let primary = trailer::read(hal, cfg.layout.trailer_geom(), l.primary)?;
    let secondary = trailer::read(hal, cfg.layout.trailer_geom(), l.secondary)?;
    // A swap in progress: its status is in the primary trailer and no request stands.
    let done = swap_finished(hal, cfg, algo, &primary)?;
    if primary.magic == Magic::Good && !done && secondary.magic != Magic::Good {
        let kind = primary.swap_type();
        if let (Some(kind @ (SwapType::Test | SwapType::Perm | SwapType::Revert)), true) =
            (kind, size_ok(cfg, algo, primary.swap_size))
        {
            return resume(hal, cfg, algo, kind, primary.swap_size);
        }
    }
    if secondary.magic == Magic::Good {
        if secondary.swap_type() == Some(SwapType::Revert) {
            // A revert's own request (written before the primary trailer is rewritten): the
            // image it brings back was running before, no check of it applies.
            let fixup = records_revert(&primary, done) && cfg.variant != Variant::TornMagicRevert;
            return start(hal, cfg, algo, SwapType::Revert, fixup);
        }
        let kind = if secondary.image_ok == Flag::Set {
            SwapType::Perm
        } else {
            SwapType::Test
        };
        if boot::accept_request(hal, cfg)? {
            start(hal, cfg, algo, kind, false)?;
        }
        return Ok(());
    }
    if records_revert(&primary, done) {
        return start(
            hal,
            cfg,
            algo,
            SwapType::Revert,
            cfg.variant != Variant::TornMagicRevert,
        );
    }
    if primary.magic == Magic::Good && done {
        settle_finished(hal, cfg)?;
    }
    Ok(())
}

/// A boot with nothing to do still makes a finished swap's copy_done steady and set. A cut
/// while the swap's last flag was programmed can leave it torn or weak: this boot takes the
/// swap for finished (its last step is recorded) and has nothing to resume, so nothing else
/// would program it again, and some later boot that reads it differently could take the
/// finished swap for an unfinished one. On an ECC part the granule cannot be programmed again;
/// a torn one reads as finished there (`swap_finished`).
fn settle_finished<F: Flash + Console + ?Sized>(flash: &mut F, cfg: &BootConfig) -> Result<(), FwError> {
    let primary = cfg.layout.primary;
    let r = trailer::read_settled(flash, cfg.layout.trailer_geom(), primary)?;
    let torn = r.trailer.copy_done == Flag::Bad;
    if r.trailer.copy_done == Flag::Unset || (!torn && r.steady(Field::CopyDone)) {
        return Ok(());
    }
    let mut want = r.trailer;
    want.copy_done = Flag::Set;
    match settle(flash, cfg.layout.trailer_geom(), primary, &want, &[Field::CopyDone]) {
        Err(FwError::Flash(FlashError::ProgramRefused { .. })) => Ok(()),
        other => other,
    }
}

/// The primary trailer records a finished test swap whose image never confirmed itself.
fn records_revert(t: &Trailer, done: bool) -> bool {
    t.magic == Magic::Good && t.image_ok == Flag::Unset && done
}

/// Whether the primary trailer records a finished swap: copy_done set, or written but torn
/// (on an ECC part a torn granule reads as garbage and cannot be programmed again) after the
/// record of the swap's last step.
fn swap_finished<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig, algo: Algo, t: &Trailer) -> Result<bool, FwError> {
    match t.copy_done {
        Flag::Set => Ok(true),
        Flag::Unset => Ok(false),
        Flag::Bad if t.magic == Magic::Good && size_ok(cfg, algo, t.swap_size) => {
            let regions = t.swap_size / cfg.layout.sector_size;
            let last = status::last_of(flash, algo, &cfg.layout, cfg.layout.primary, regions)?;
            Ok(last == Some(Step::Swap(regions, 2)))
        }
        Flag::Bad => Ok(false),
    }
}

/// Bytes to swap: the larger image, rounded up to whole sectors. Swap-offset's update sits one
/// sector into the secondary; the image a revert brings back, at its start.
fn swap_size<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig, algo: Algo, kind: SwapType) -> Result<u32, FwError> {
    let mut size = 0;
    let incoming = match (algo, kind) {
        (Algo::Offset, SwapType::Test | SwapType::Perm) => super::swap_offset::staging(&cfg.layout),
        _ => cfg.layout.secondary,
    };
    for slot in [cfg.layout.primary, incoming] {
        match image::total_size(flash, slot) {
            Ok(n) => size = size.max(n),
            Err(image::ImageError::Flash(e)) if !matches!(e, FlashError::Uncorrectable { .. }) => return Err(e.into()),
            Err(_) => {}
        }
    }
    let s = cfg.layout.sector_size;
    Ok(size
        .div_ceil(s)
        .max(1)
        .saturating_mul(s)
        .min(max_for(algo, &cfg.layout)))
}

/// Starts a swap of `kind`; `fixup` first writes the revert's request into the secondary.
fn start(hal: &mut dyn Hal, cfg: &BootConfig, algo: Algo, kind: SwapType, fixup: bool) -> Result<(), FwError> {
    let size = swap_size(hal, cfg, algo, kind)?;
    let regions = size / cfg.layout.sector_size;
    say!(
        hal,
        "boot: swap-start type={} size={} regions={}",
        kind.name(),
        size,
        regions
    );
    if fixup {
        write_revert_request(hal, cfg, size)?;
    }
    init_primary(hal, cfg, kind, size)?;
    // The request is consumed only once the primary trailer records the swap.
    ops::erase_trailer_of(hal, &cfg.layout, Slot::Secondary)?;
    run_steps(hal, cfg, algo, kind, size, None)
}

/// The revert's request in the secondary trailer (MCUboot's `fixup_revert`).
fn write_revert_request<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig, size: u32) -> Result<(), FwError> {
    let secondary = cfg.layout.secondary;
    ops::erase_trailer_of(flash, &cfg.layout, Slot::Secondary)?;
    trailer::write_image_ok(flash, cfg.layout.trailer_geom(), secondary)?;
    trailer::write_swap_size(flash, cfg.layout.trailer_geom(), secondary, size)?;
    trailer::write_swap_info(flash, cfg.layout.trailer_geom(), secondary, SwapType::Revert)?;
    trailer::write_magic(flash, cfg.layout.trailer_geom(), secondary)?;
    Ok(())
}

/// Whether this build writes a revert's image_ok only when the revert finishes, into the slot
/// it takes for the running one (the revert-confirm-in-secondary variant).
fn late_revert_confirm(cfg: &BootConfig, kind: SwapType) -> bool {
    kind == SwapType::Revert && cfg.variant == Variant::RevertConfirmInSecondary
}

/// What the primary trailer says while a swap of `kind` runs.
fn running(cfg: &BootConfig, kind: SwapType, size: u32) -> Trailer {
    Trailer {
        magic: Magic::Good,
        image_ok: if kind == SwapType::Test || late_revert_confirm(cfg, kind) {
            Flag::Unset
        } else {
            Flag::Set
        },
        copy_done: Flag::Unset,
        swap_info: kind.code(),
        swap_size: size,
    }
}

/// Writes the primary trailer for a new swap (MCUboot's `swap_status_init`: swap_info,
/// image_ok when the request has it, swap_size, the magic last) and checks it reads back the
/// same on every read; a trailer that does not is written again (the request still stands,
/// nothing has moved).
fn init_primary<F: Flash + Console + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    kind: SwapType,
    size: u32,
) -> Result<(), FwError> {
    let primary = cfg.layout.primary;
    let want = running(cfg, kind, size);
    if cfg.variant == Variant::TrailerInitSkipped
        && trailer::read(flash, cfg.layout.trailer_geom(), primary)?.magic == Magic::Good
    {
        // The broken build takes a primary trailer that already reads good as its own.
        return Ok(());
    }
    for _ in 0..3 {
        ops::erase_trailer_of(flash, &cfg.layout, Slot::Primary)?;
        trailer::write_swap_info(flash, cfg.layout.trailer_geom(), primary, kind)?;
        if want.image_ok == Flag::Set {
            trailer::write_image_ok(flash, cfg.layout.trailer_geom(), primary)?;
        }
        trailer::write_swap_size(flash, cfg.layout.trailer_geom(), primary, size)?;
        trailer::write_magic(flash, cfg.layout.trailer_geom(), primary)?;
        let r = trailer::read_settled(flash, cfg.layout.trailer_geom(), primary)?;
        if r.unsteady.is_empty() && r.trailer == want {
            return Ok(());
        }
        say!(flash, "boot: trailer-rewrite slot=primary field=unsteady");
    }
    Err(FwError::Flash(FlashError::Device))
}

/// Resumes a swap cut part-way.
fn resume(hal: &mut dyn Hal, cfg: &BootConfig, algo: Algo, kind: SwapType, size: u32) -> Result<(), FwError> {
    let l = cfg.layout;
    let regions = size / l.sector_size;
    let last = status::last_of(hal, algo, &l, l.primary, regions)?;
    let (moved, swapped) = match algo {
        Algo::Move => status::counts(last, regions),
        Algo::Offset => (0, status::counts(last, regions).1),
    };
    say!(
        hal,
        "boot: swap-resume type={} size={} moved={} swapped={} of={}",
        kind.name(),
        size,
        moved,
        swapped,
        regions
    );
    // A cut may have left a field the resume relies on weak: settle it first.
    let mut fields = [Field::Magic, Field::SwapInfo, Field::SwapSize, Field::ImageOk].as_slice();
    if kind == SwapType::Test || late_revert_confirm(cfg, kind) {
        fields = &fields[..3];
    }
    settle(hal, l.trailer_geom(), l.primary, &running(cfg, kind, size), fields)?;
    if !headers_in_place(hal, cfg, algo, kind, regions, last)? {
        say!(hal, "boot: halt reason=swap-headers-not-found");
        return Ok(());
    }
    if last.is_none() {
        // The cut may have come while the request was consumed.
        ops::erase_trailer_of(hal, &l, Slot::Secondary)?;
    }
    run_steps(hal, cfg, algo, kind, size, last)
}

/// Programs again each of `fields` that does not read `want` steadily (a completed program
/// makes weak bits solid; the nRF52840 allows two programs of a word between erases).
fn settle<F: Flash + Console + ?Sized>(
    flash: &mut F,
    g: trailer::Geom,
    area: Area,
    want: &Trailer,
    fields: &[Field],
) -> Result<(), FwError> {
    let r = trailer::read_settled(flash, g, area)?;
    for &f in fields {
        if r.steady(f) && trailer::field_matches(&r.trailer, want, f) {
            continue;
        }
        say!(flash, "boot: trailer-reprogram slot=primary field={}", f.name());
        trailer::program_field(flash, g, area, f, want)?;
    }
    Ok(())
}

/// Where the header of the image being installed and of the image being moved out are, once
/// `last` is complete: `(slot, sector)` pairs (MCUboot's `boot_read_image_header` with a swap
/// status).
fn header_places(cfg: &BootConfig, algo: Algo, kind: SwapType, regions: u32, last: Option<Step>) -> [(Area, u32); 2] {
    let l = cfg.layout;
    let (pri, sec) = (l.primary, l.secondary);
    if algo == Algo::Offset {
        let lost = cfg.variant == Variant::StaleHeaderAfterMove;
        return super::swap_offset::header_places(pri, sec, kind, regions, last, lost);
    }
    let incoming = match last {
        None | Some(Step::Move(_)) => (sec, 0),
        Some(Step::Swap(..)) => (pri, 0),
    };
    let outgoing = match last {
        None => (pri, 0),
        Some(Step::Move(i)) if i < regions => (pri, 0),
        // Every sector moved up: the image starts at the primary's second sector. The broken
        // build still looks at the first (MCUboot #1588: a global last index lost at reset).
        Some(Step::Move(_)) if cfg.variant == Variant::StaleHeaderAfterMove => (pri, 0),
        Some(Step::Move(_)) | Some(Step::Swap(1, 1)) => (pri, 1),
        Some(Step::Swap(..)) => (sec, 0),
    };
    [incoming, outgoing]
}

fn headers_in_place<F: Flash + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    algo: Algo,
    kind: SwapType,
    regions: u32,
    last: Option<Step>,
) -> Result<bool, FwError> {
    for (slot, sector) in header_places(cfg, algo, kind, regions, last) {
        let mut b = [0u8; 4];
        match flash.read(slot.offset + sector * cfg.layout.sector_size, &mut b) {
            Ok(()) => {}
            Err(FlashError::Uncorrectable { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        if u32::from_le_bytes(b) != image::IMAGE_MAGIC {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs (or resumes after `last`) the moves and the swaps, then finishes the swap.
fn run_steps(
    hal: &mut dyn Hal,
    cfg: &BootConfig,
    algo: Algo,
    kind: SwapType,
    size: u32,
    last: Option<Step>,
) -> Result<(), FwError> {
    let l = cfg.layout;
    let regions = size / l.sector_size;
    let mut step = match last {
        None => Some(Step::first_of(algo)),
        Some(s) => s.next(regions),
    };
    while let Some(s) = step {
        // Nothing of this step is done: what follows is decided by the flash, the swap's
        // parameters and this step (both callers return what this returns).
        let (tag, a, b) = match s {
            Step::Move(i) => (0, i, 0),
            Step::Swap(i, part) => (1, i, part),
        };
        RestState::new(b"swap-move")
            .bytes(&[algo as u8, kind.code(), u8::from(last.is_some()), tag])
            .word(size)
            .word(a)
            .word(b)
            .tell(hal);
        match algo {
            Algo::Move => do_step(hal, &l, regions, s)?,
            Algo::Offset => super::swap_offset::do_step(hal, &l, kind, regions, s)?,
        }
        status::write(hal, algo, &l, l.primary, s)?;
        match s {
            Step::Move(i) => {
                say!(
                    hal,
                    "boot: move-progress type={} sector={} of={}",
                    kind.name(),
                    i,
                    regions
                );
                if i == regions {
                    say!(hal, "boot: move-done type={} sectors={}", kind.name(), regions);
                }
            }
            Step::Swap(i, 2) => say!(
                hal,
                "boot: swap-progress type={} region={} of={}",
                kind.name(),
                i,
                regions
            ),
            Step::Swap(..) => {}
        }
        step = s.next(regions);
    }
    if algo == Algo::Offset && kind == SwapType::Revert {
        super::swap_offset::after_revert(hal, &l)?;
    }
    finish(hal, cfg, kind, size, last.is_some())?;
    say!(hal, "boot: swap-done type={}", kind.name());
    Ok(())
}

fn do_step<F: Flash + ?Sized>(flash: &mut F, l: &Layout, regions: u32, step: Step) -> Result<(), FlashError> {
    let s = l.sector_size;
    let (pri, sec) = (l.primary.offset, l.secondary.offset);
    let (src, dst) = match step {
        // Move `i` takes sector `regions - i` up to `regions - i + 1` (the top one first).
        Step::Move(i) => (pri + (regions - i) * s, pri + (regions - i + 1) * s),
        Step::Swap(i, 1) => (sec + (i - 1) * s, pri + (i - 1) * s),
        Step::Swap(i, _) => (pri + i * s, sec + (i - 1) * s),
    };
    flash.erase(dst, s)?;
    ops::copy(flash, src, dst, s)
}

/// Marks the swap complete: image_ok (written when the swap started, for a permanent swap and
/// a revert) and copy_done must read set on every read; a torn one is programmed again. On an
/// ECC part a torn copy_done cannot be programmed again (the controller refuses a written
/// granule): it stays torn, and with the last step recorded it reads as a finished swap
/// (`swap_finished`).
fn finish<F: Flash + Console + ?Sized>(
    flash: &mut F,
    cfg: &BootConfig,
    kind: SwapType,
    size: u32,
    resumed: bool,
) -> Result<(), FwError> {
    let primary = cfg.layout.primary;
    let mut want = running(cfg, kind, size);
    if late_revert_confirm(cfg, kind) {
        // The broken build confirms the image a revert brought back only now, and a resumed
        // revert, which lost track of the slots, confirms the secondary (MCUboot #480).
        let slot = if resumed { cfg.layout.secondary } else { primary };
        trailer::write_image_ok(flash, cfg.layout.trailer_geom(), slot)?;
        want.image_ok = if resumed { Flag::Unset } else { Flag::Set };
    } else if kind != SwapType::Test {
        settle(flash, cfg.layout.trailer_geom(), primary, &want, &[Field::ImageOk])?;
    }
    want.copy_done = Flag::Set;
    let r = trailer::read_settled(flash, cfg.layout.trailer_geom(), primary)?;
    if r.trailer.copy_done == Flag::Unset && r.steady(Field::CopyDone) {
        trailer::write_copy_done(flash, cfg.layout.trailer_geom(), primary)?;
    }
    match settle(flash, cfg.layout.trailer_geom(), primary, &want, &[Field::CopyDone]) {
        Err(FwError::Flash(FlashError::ProgramRefused { .. })) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const K: u32 = 1024;

    /// A map with no scratch area: 4 KiB sectors, the bootloader in the first 64 KiB, then the
    /// two slots (the layouts of the swap-move and swap-offset tests).
    pub(crate) fn layout(primary: u32, secondary: u32) -> Layout {
        Layout {
            sector_size: 4 * K,
            write_size: 4,
            bootloader: Area {
                offset: 0,
                size: 64 * K,
            },
            primary: Area {
                offset: 64 * K,
                size: primary,
            },
            secondary: Area {
                offset: 64 * K + primary,
                size: secondary,
            },
            scratch: Area { offset: 0, size: 0 },
        }
    }

    #[test]
    fn the_primary_keeps_a_spare_sector_and_needs_no_scratch() {
        // Equal slots: the image is one sector and the trailer sector smaller than the slot.
        let l = layout(192 * K, 192 * K);
        assert_eq!(check_layout(&l), Ok(()));
        assert_eq!(max_image_size(&l), 184 * K);
        // MCUboot's optimal map: the primary one sector larger; the same image fits.
        let l = layout(196 * K, 192 * K);
        assert_eq!(check_layout(&l), Ok(()));
        assert_eq!(max_image_size(&l), 188 * K);
        // Swap-scratch would want a scratch area here; the map itself is whole without one.
        let l = layout(192 * K, 192 * K);
        assert_eq!(l.validate(), Ok(()));
        assert_eq!(l.require_scratch(1), Err(LayoutError::NoScratch));
        assert_eq!(
            crate::scheme::Mode::SWAP_SCRATCH.scheme().check_layout(&l),
            Err(LayoutError::NoScratch)
        );
        assert_eq!(crate::scheme::Mode::SWAP_MOVE.scratch_use(), None);
        assert!(crate::scheme::Mode::SWAP_SCRATCH.scratch_use().is_some());
    }

    #[test]
    fn a_smaller_secondary_keeps_its_trailer_at_its_own_end() {
        // The primary one sector larger: each slot's trailer sectors end that slot.
        let l = layout(196 * K, 192 * K);
        let t = ops::trailer_area(&l, Slot::Secondary);
        assert_eq!((t.offset, t.size), (l.secondary.end() - 4 * K, 4 * K));
        let t = ops::trailer_area(&l, Slot::Primary);
        assert_eq!((t.offset, t.size), (l.primary.end() - 4 * K, 4 * K));
    }

    #[test]
    fn maps_that_do_not_fit_are_refused() {
        assert_eq!(check_layout(&layout(200 * K, 192 * K)), Err(LayoutError::SlotsDiffer));
        assert_eq!(check_layout(&layout(188 * K, 192 * K)), Err(LayoutError::SlotsDiffer));
        assert_eq!(check_layout(&layout(8 * K, 8 * K)), Err(LayoutError::TrailerTooLarge));
        let mut odd = layout(192 * K, 192 * K);
        odd.secondary.offset += 1024;
        assert_eq!(check_layout(&odd), Err(LayoutError::NotSectorAligned));
        let mut overlap = layout(192 * K, 192 * K);
        overlap.secondary.offset = overlap.primary.offset + 4 * K;
        assert_eq!(check_layout(&overlap), Err(LayoutError::Overlap));
    }
}
