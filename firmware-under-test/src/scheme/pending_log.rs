//! Pending-flag log: an A/B scheme whose boot target is changed by a small transaction kept in
//! an append-only log. Two app slots (`a` = the primary region, `b` = the secondary) and the
//! log in the first two sectors of the map's scratch region.
//!
//! A transaction is one record of three words, appended after the last used record and
//! programmed in this order, each only once (bits only go from 1 to 0, no word is ever written
//! twice, which a part with ECC granules refuses):
//! 1. the **pending** word: a transaction is open, for this target (slot and state);
//! 2. the **target** word: the new boot target, the same slot and state;
//! 3. the **done** word, which clears pending: the transaction completed.
//!
//! The boot target is the target of the last completed record in the sector (every record is
//! read, so a record a cut left reading erased on some reads hides nothing after it). A record
//! whose done word does not read valid did not complete, whatever else of it is on flash: the
//! bootloader falls back to the target before it, the known-good state, and the next
//! transaction is appended after it. An empty log is the factory state: slot a, confirmed. Every word carries its own check
//! (`tag | value | !tag | !value`, then zero bytes up to the part's write granule), so a word
//! that a cut left part-programmed, or one that reads as an uncorrectable error on an ECC part,
//! reads as no word: never as another valid one. A word is read several times and one that
//! does not read the same every time (a bit a cut left weak) is no word either, so a done word
//! left weak by a cut leaves its transaction open, and the fallback appends a later one after
//! it. The header of a compacted sector is programmed only once the carried record's done
//! word is complete, and a completed program leaves no weak bit.
//!
//! Why two sectors, not one: a log fills up, and a full log must be erased to go on. With one
//! sector, a cut during that erase (or before the current target is written back) leaves an
//! empty log, which boots the factory slot whatever ran before: an update from slot b would
//! lose its known-good slot. With two, the log is compacted into the other sector: that
//! sector is erased, the current target is written there as a completed record, and only then
//! its header (a generation one higher) is written, which makes it the active sector. Until
//! the header is complete the full sector stays active; after it, the new one. A sector header
//! is one word, `tag | generation | !tag | !generation`; the reader takes the valid header with
//! the newer generation (an 8-bit counter compared with its wrap, as a serial number).
//!
//! States and the boot-once logic are those of the redundant-copies scheme: the application
//! appends the new slot on trial, the bootloader records that it booted it once, the image
//! clears the trial when its health check passes (`app: confirm`, the commit point), and a
//! boot that finds the trial booted but never cleared reverts to the other slot. Each of these
//! is one transaction.
//!
//! The broken build [`Variant::PendingClearedBeforeTarget`] programs the done word before the
//! target word (FIELD-BUGS row 15: esp8266/Arduino PR #6823, the boot command cleared before
//! the copy was done).

use super::redundant::{state_name, STATE_BOOTED, STATE_CONFIRMED, STATE_REVERTED, STATE_TRIAL};
use super::{AbRecord, AppBoot};
use crate::app::AppConfig;
use crate::boot::BootConfig;
use crate::hal::{Flash, FlashError, Hal};
use crate::image::Version;
use crate::layout::{Area, Layout, LayoutError, Slot};
use crate::variant::Variant;
use crate::{say, FwError};

/// The scheme's name (a campaign's `mode`).
pub const NAME: &str = "pending-log";

/// The longest word this build writes (the largest write granule it supports).
pub const MAX_WORD: usize = 32;

/// Tag of a sector header word.
pub const TAG_HEADER: u8 = 0x4c;
/// Tag of a pending word (a transaction opened).
pub const TAG_PENDING: u8 = 0x50;
/// Tag of a target word.
pub const TAG_TARGET: u8 = 0x54;
/// Tag of a done word (pending cleared).
pub const TAG_DONE: u8 = 0x44;
/// The value a done word carries.
pub const DONE_VALUE: u8 = 0x00;

/// Words in a record: pending, target, done.
pub const RECORD_WORDS: u32 = 3;

/// Bytes of one word on a part with write granule `write_size`: the 4 bytes of the word rounded
/// up to whole granules.
pub const fn word_size(write_size: u32) -> u32 {
    let w = if write_size == 0 { 1 } else { write_size };
    4u32.div_ceil(w) * w
}

/// One word, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Word {
    /// Every byte erased: never written.
    Erased,
    /// A word whose check holds.
    Valid { tag: u8, value: u8 },
    /// Anything else: part-programmed, unreadable, or not this build's.
    Invalid,
}

impl Word {
    /// The value of a valid word with `tag`.
    pub fn value_if(self, tag: u8) -> Option<u8> {
        match self {
            Word::Valid { tag: t, value } if t == tag => Some(value),
            _ => None,
        }
    }
}

/// The word's bytes; the first [`word_size`] of them are written.
pub fn encode_word(tag: u8, value: u8) -> [u8; MAX_WORD] {
    let mut b = [0u8; MAX_WORD];
    b[0] = tag;
    b[1] = value;
    b[2] = !tag;
    b[3] = !value;
    b
}

/// Decodes a word's bytes.
pub fn decode_word(b: &[u8]) -> Word {
    if b.len() < 4 {
        return Word::Invalid;
    }
    if b.iter().all(|&x| x == 0xff) {
        return Word::Erased;
    }
    if b[2] != !b[0] || b[3] != !b[1] || b[4..].iter().any(|&x| x != 0) {
        return Word::Invalid;
    }
    Word::Valid { tag: b[0], value: b[1] }
}

/// A boot target: a slot and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub slot: Slot,
    /// One of the redundant-copies scheme's states (`STATE_*`).
    pub state: u8,
}

impl Target {
    /// The factory target: slot a, confirmed (an empty log).
    pub const FACTORY: Target = Target {
        slot: Slot::Primary,
        state: STATE_CONFIRMED,
    };

    /// The value byte: the slot in the high nibble, the state in the low one.
    pub fn value(self) -> u8 {
        let s = match self.slot {
            Slot::Primary => 0u8,
            Slot::Secondary => 1u8,
        };
        (s << 4) | (self.state & 0x0f)
    }

    /// The target a value byte names; `None` for a slot or a state this build does not know.
    pub fn from_value(v: u8) -> Option<Target> {
        let slot = match v >> 4 {
            0 => Slot::Primary,
            1 => Slot::Secondary,
            _ => return None,
        };
        let state = v & 0x0f;
        state_name(state)?;
        Some(Target { slot, state })
    }

    /// The image in the selected slot has not cleared its trial.
    pub fn on_trial(self) -> bool {
        self.state == STATE_TRIAL || self.state == STATE_BOOTED
    }

    pub fn state_name(self) -> &'static str {
        state_name(self.state).unwrap_or("unknown")
    }
}

/// Where log sector `i` (0 or 1) lives: sector `i` of the map's scratch region.
pub fn log_sector(layout: &Layout, i: usize) -> Area {
    Area {
        offset: layout.scratch.offset + i as u32 * layout.sector_size,
        size: layout.sector_size,
    }
}

/// Bytes of one record.
pub fn record_size(layout: &Layout) -> u32 {
    RECORD_WORDS * word_size(layout.write_size)
}

/// Records a sector holds after its header.
pub fn capacity(layout: &Layout) -> u32 {
    layout.sector_size.saturating_sub(word_size(layout.write_size)) / record_size(layout)
}

/// Address of record `n` of log sector `i`.
pub fn record_addr(layout: &Layout, i: usize, n: u32) -> u32 {
    log_sector(layout, i).offset + word_size(layout.write_size) + n * record_size(layout)
}

/// One record of the log, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub pending: Word,
    pub target: Word,
    pub done: Word,
}

impl Record {
    /// Never written: the end of the log.
    pub fn erased(&self) -> bool {
        self.pending == Word::Erased && self.target == Word::Erased && self.done == Word::Erased
    }

    /// Pending cleared: the transaction completed. The target is then what the record selects
    /// (it was written before pending was cleared).
    pub fn done(&self) -> bool {
        self.done.value_if(TAG_DONE) == Some(DONE_VALUE)
    }

    /// What the record's target word names, if it reads valid.
    pub fn target(&self) -> Option<Target> {
        Target::from_value(self.target.value_if(TAG_TARGET)?)
    }

    /// What the record's pending word names, if it reads valid.
    pub fn pending_target(&self) -> Option<Target> {
        Target::from_value(self.pending.value_if(TAG_PENDING)?)
    }
}

/// Times each word is read: a word that does not read the same every time holds a bit a cut
/// left weak, and is taken as invalid (the rule the MCUboot schemes apply to image_ok,
/// `trailer::SETTLE_READS`).
pub const SETTLE_READS: u32 = 16;

/// Reads `n` bytes at `addr` into a word, [`SETTLE_READS`] times; an uncorrectable read, or
/// bytes that differ from one read to the next, make an invalid word.
fn read_word<F: Flash + ?Sized>(flash: &mut F, addr: u32, n: usize) -> Result<Word, FlashError> {
    let mut first = [0u8; MAX_WORD];
    let mut b = [0u8; MAX_WORD];
    for pass in 0..SETTLE_READS {
        match flash.read(addr, &mut b[..n]) {
            Ok(()) => {}
            Err(FlashError::Uncorrectable { .. }) => return Ok(Word::Invalid),
            Err(e) => return Err(e),
        }
        if pass == 0 {
            first = b;
        } else if b[..n] != first[..n] {
            return Ok(Word::Invalid);
        }
    }
    Ok(decode_word(&first[..n]))
}

/// Whether generation `a` is newer than `b` (serial-number arithmetic on 8 bits).
pub fn gen_newer(a: u8, b: u8) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x80
}

/// The log as the bootloader reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Log {
    /// Each sector's header generation, when its header reads valid.
    pub headers: [Option<u8>; 2],
    /// The active sector: the valid header with the newer generation (sector 0 on a tie);
    /// `None` when neither header is valid (an empty log).
    pub active: Option<usize>,
    /// Records used in the active sector: up to the last one that does not read erased (the
    /// next transaction is appended after it).
    pub used: u32,
    /// The target of the last completed record, with its index; `None`: no completed record.
    pub last_done: Option<(u32, Option<Target>)>,
    /// The last used record, when it did not complete: an open transaction, with what its
    /// pending word names.
    pub open: Option<(u32, Option<Target>)>,
}

impl Log {
    /// The boot target: the target of the last completed record, or the factory target for
    /// an empty log. `None`: the last completed record's target does not read valid (which the
    /// reference never leaves: it clears pending only once the target is written).
    pub fn boot_target(&self) -> Option<Target> {
        match self.last_done {
            None => Some(Target::FACTORY),
            Some((_, t)) => t,
        }
    }
}

/// Reads the header of log sector `i`.
pub fn read_header<F: Flash + ?Sized>(flash: &mut F, layout: &Layout, i: usize) -> Result<Option<u8>, FlashError> {
    let w = read_word(
        flash,
        log_sector(layout, i).offset,
        word_size(layout.write_size) as usize,
    )?;
    Ok(w.value_if(TAG_HEADER))
}

/// Reads record `n` of log sector `i`.
pub fn read_record<F: Flash + ?Sized>(flash: &mut F, layout: &Layout, i: usize, n: u32) -> Result<Record, FlashError> {
    let ws = word_size(layout.write_size);
    let at = record_addr(layout, i, n);
    Ok(Record {
        pending: read_word(flash, at, ws as usize)?,
        target: read_word(flash, at + ws, ws as usize)?,
        done: read_word(flash, at + 2 * ws, ws as usize)?,
    })
}

/// The active sector of two headers.
pub fn active_sector(headers: [Option<u8>; 2]) -> Option<usize> {
    match headers {
        [Some(a), Some(b)] => Some(if gen_newer(b, a) { 1 } else { 0 }),
        [Some(_), None] => Some(0),
        [None, Some(_)] => Some(1),
        [None, None] => None,
    }
}

/// Reads the whole log.
pub fn read_log<F: Flash + ?Sized>(flash: &mut F, layout: &Layout) -> Result<Log, FlashError> {
    let headers = [read_header(flash, layout, 0)?, read_header(flash, layout, 1)?];
    let active = active_sector(headers);
    let mut log = Log {
        headers,
        active,
        used: 0,
        last_done: None,
        open: None,
    };
    let Some(i) = active else {
        return Ok(log);
    };
    // Every record of the sector, not only up to the first erased one: a word a cut left with
    // a weak bit can read erased on some reads, and must not hide the records after it.
    for n in 0..capacity(layout) {
        let r = read_record(flash, layout, i, n)?;
        if r.erased() {
            continue;
        }
        log.used = n + 1;
        if r.done() {
            log.last_done = Some((n, r.target()));
            log.open = None;
        } else {
            log.open = Some((n, r.pending_target()));
        }
    }
    Ok(log)
}

/// Writes word `tag | value` at `addr`.
fn put_word<F: Flash + ?Sized>(
    flash: &mut F,
    layout: &Layout,
    addr: u32,
    tag: u8,
    value: u8,
) -> Result<(), FlashError> {
    let n = word_size(layout.write_size) as usize;
    flash.write(addr, &encode_word(tag, value)[..n])
}

/// Writes one complete record at `at`: pending, target, done (the broken build: pending, done,
/// target).
fn put_record<F: Flash + ?Sized>(
    flash: &mut F,
    layout: &Layout,
    variant: Variant,
    at: u32,
    t: Target,
) -> Result<(), FlashError> {
    let ws = word_size(layout.write_size);
    put_word(flash, layout, at, TAG_PENDING, t.value())?;
    if variant == Variant::PendingClearedBeforeTarget {
        put_word(flash, layout, at + 2 * ws, TAG_DONE, DONE_VALUE)?;
        return put_word(flash, layout, at + ws, TAG_TARGET, t.value());
    }
    put_word(flash, layout, at + ws, TAG_TARGET, t.value())?;
    put_word(flash, layout, at + 2 * ws, TAG_DONE, DONE_VALUE)
}

/// Where a transaction goes, as [`transact`] decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The log sector and record index written.
    pub sector: usize,
    pub record: u32,
    /// The log was full, or empty: it was (re)started in `sector`, with this header generation.
    pub compacted: Option<u8>,
}

/// Appends a transaction selecting `t`. When the active sector has no room left (or there is no
/// log yet), the other sector is erased, the current boot target is written there as the first
/// completed record, then its header with the next generation; the transaction follows it.
pub fn transact<F: Flash + ?Sized>(
    flash: &mut F,
    layout: &Layout,
    variant: Variant,
    t: Target,
) -> Result<Appended, FlashError> {
    let log = read_log(flash, layout)?;
    if let Some(i) = log.active {
        if log.used < capacity(layout) {
            put_record(flash, layout, variant, record_addr(layout, i, log.used), t)?;
            return Ok(Appended {
                sector: i,
                record: log.used,
                compacted: None,
            });
        }
    }
    let (into, generation) = match log.active {
        Some(i) => (1 - i, log.headers[i].unwrap_or(0).wrapping_add(1)),
        None => (0, 1),
    };
    let keep = log.boot_target().unwrap_or(Target::FACTORY);
    let area = log_sector(layout, into);
    flash.erase(area.offset, area.size)?;
    put_record(flash, layout, variant, record_addr(layout, into, 0), keep)?;
    put_word(flash, layout, area.offset, TAG_HEADER, generation)?;
    put_record(flash, layout, variant, record_addr(layout, into, 1), t)?;
    Ok(Appended {
        sector: into,
        record: 1,
        compacted: Some(generation),
    })
}

fn say_transact(hal: &mut dyn Hal, who: &str, t: Target, a: Appended) {
    if let Some(g) = a.compacted {
        say!(hal, "{}: pending-log-compact sector={} gen={}", who, a.sector, g);
    }
    say!(
        hal,
        "{}: pending-log-write sector={} record={} slot={} state={}",
        who,
        a.sector,
        a.record,
        t.slot.name(),
        t.state_name()
    );
}

fn append(hal: &mut dyn Hal, layout: &Layout, variant: Variant, who: &str, t: Target) -> Result<(), FwError> {
    let a = transact(hal, layout, variant, t)?;
    say_transact(hal, who, t, a);
    Ok(())
}

/// The pending-flag log A/B scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct PendingLog;

impl AbRecord for PendingLog {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The slots, two log sectors, and room in a sector for its header and two records (the
    /// carried target and a transaction).
    fn check_layout(&self, layout: &Layout) -> Result<(), LayoutError> {
        super::check_record_layout(layout)?;
        if (layout.write_size as usize) > MAX_WORD || capacity(layout) < 2 {
            return Err(LayoutError::TrailerTooLarge);
        }
        Ok(())
    }

    fn boot_slot(&self, hal: &mut dyn Hal, cfg: &BootConfig) -> Result<Slot, FwError> {
        let l = &cfg.layout;
        let v = cfg.variant;
        let log = read_log(hal, l)?;
        if let Some((n, t)) = log.open {
            match t {
                Some(t) => say!(
                    hal,
                    "boot: pending-log-open record={} slot={} state={} fallback",
                    n,
                    t.slot.name(),
                    t.state_name()
                ),
                None => say!(hal, "boot: pending-log-open record={} torn fallback", n),
            }
        }
        let start = match (log.last_done, log.boot_target()) {
            (None, _) => {
                say!(hal, "boot: pending-log-empty slot=primary");
                Slot::Primary
            }
            (Some((n, _)), None) => {
                say!(hal, "boot: pending-log-no-target record={} slot=primary", n);
                Slot::Primary
            }
            (Some((n, _)), Some(t)) => {
                say!(
                    hal,
                    "boot: pending-log-select record={} slot={} state={}",
                    n,
                    t.slot.name(),
                    t.state_name()
                );
                match t.state {
                    STATE_TRIAL => {
                        append(
                            hal,
                            l,
                            v,
                            "boot",
                            Target {
                                state: STATE_BOOTED,
                                ..t
                            },
                        )?;
                        t.slot
                    }
                    STATE_BOOTED => {
                        let back = t.slot.other();
                        say!(hal, "boot: pending-log-revert slot={}", back.name());
                        append(
                            hal,
                            l,
                            v,
                            "boot",
                            Target {
                                slot: back,
                                state: STATE_REVERTED,
                            },
                        )?;
                        back
                    }
                    _ => t.slot,
                }
            }
        };
        super::first_valid_slot(hal, cfg, start, true)
    }

    /// Slot a: sector 0 with generation 1 and one record selecting a, confirmed (as a factory
    /// image is written). Slot b, as after an earlier update: the record selects b.
    fn provision(&self, layout: &Layout, slot: Slot, put: &mut dyn FnMut(u32, &[u8])) -> bool {
        let ws = word_size(layout.write_size);
        if ws as usize > MAX_WORD {
            return false;
        }
        let n = ws as usize;
        let t = Target {
            slot,
            state: STATE_CONFIRMED,
        };
        let at = record_addr(layout, 0, 0);
        put(log_sector(layout, 0).offset, &encode_word(TAG_HEADER, 1)[..n]);
        put(at, &encode_word(TAG_PENDING, t.value())[..n]);
        put(at + ws, &encode_word(TAG_TARGET, t.value())[..n]);
        put(at + 2 * ws, &encode_word(TAG_DONE, DONE_VALUE)[..n]);
        true
    }

    /// The boot target selects the running slot on trial: it must clear it. It selects the
    /// running slot as reverted: the bootloader rolled the other slot's update back.
    fn app_boot(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<AppBoot, FwError> {
        let Some(t) = read_log(hal, &cfg.layout)?.boot_target() else {
            return Ok(AppBoot::default());
        };
        let mine = t.slot == cfg.running;
        Ok(AppBoot {
            pending: mine && t.on_trial(),
            reverted: mine && t.state == STATE_REVERTED,
            restart: false,
        })
    }

    /// Clears the trial: a transaction selecting the running slot, confirmed.
    fn confirm(&self, hal: &mut dyn Hal, cfg: &AppConfig, me: Version) -> Result<(), FwError> {
        let on_trial = read_log(hal, &cfg.layout)?
            .boot_target()
            .is_some_and(|t| t.slot == cfg.running && t.on_trial());
        if on_trial {
            let t = Target {
                slot: cfg.running,
                state: STATE_CONFIRMED,
            };
            append(hal, &cfg.layout, cfg.variant, "app", t)?;
        }
        say!(hal, "app: confirm version={}", me);
        Ok(())
    }

    /// Selects the target slot on trial: one transaction.
    fn request(&self, hal: &mut dyn Hal, cfg: &AppConfig) -> Result<(), FwError> {
        let t = Target {
            slot: cfg.target(),
            state: STATE_TRIAL,
        };
        append(hal, &cfg.layout, cfg.variant, "ota", t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_a_torn_word_is_no_word() {
        for w in [1u32, 4, 8, 16, 32] {
            let n = word_size(w) as usize;
            assert!(n >= 4 && n.is_multiple_of(w as usize), "{w}: {n}");
            let b = encode_word(TAG_TARGET, 0x12);
            assert_eq!(
                decode_word(&b[..n]),
                Word::Valid {
                    tag: TAG_TARGET,
                    value: 0x12
                }
            );
        }
        assert_eq!(decode_word(&[0xff; 8]), Word::Erased);
        let mut torn = encode_word(TAG_DONE, DONE_VALUE);
        torn[3] = 0xfe;
        assert_eq!(decode_word(&torn[..4]), Word::Invalid);
        let mut pad = encode_word(TAG_DONE, DONE_VALUE);
        pad[6] = 1;
        assert_eq!(decode_word(&pad[..8]), Word::Invalid);
    }

    /// A flash of `bytes` at address 0 where the byte at `weak` reads as stored on its first
    /// read and `alt` on every second one (a bit a cut left weak).
    struct WeakFlash {
        bytes: [u8; 64],
        weak: usize,
        alt: u8,
        reads: u32,
    }

    impl Flash for WeakFlash {
        fn sector_size(&self) -> u32 {
            32
        }
        fn write_size(&self) -> u32 {
            4
        }
        fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
            let a = addr as usize;
            buf.copy_from_slice(&self.bytes[a..a + buf.len()]);
            if (a..a + buf.len()).contains(&self.weak) {
                self.reads += 1;
                if self.reads.is_multiple_of(2) {
                    buf[self.weak - a] = self.alt;
                }
            }
            Ok(())
        }
        fn write(&mut self, addr: u32, _: &[u8]) -> Result<(), FlashError> {
            Err(FlashError::ProgramRefused { addr })
        }
        fn erase(&mut self, addr: u32, _: u32) -> Result<(), FlashError> {
            Err(FlashError::ProgramRefused { addr })
        }
    }

    /// A done word left weak by a cut reads valid on some reads and not on others: it is no
    /// word, so the transaction stays open (one read of it would take whatever it read first).
    #[test]
    fn a_word_that_does_not_read_steadily_is_no_word() {
        let l = Layout {
            sector_size: 32,
            write_size: 4,
            bootloader: Area { offset: 0, size: 0 },
            primary: Area { offset: 0, size: 0 },
            secondary: Area { offset: 0, size: 0 },
            scratch: Area { offset: 0, size: 64 },
        };
        let mut bytes = [0xffu8; 64];
        let mut put = |at: usize, tag: u8, value: u8| bytes[at..at + 4].copy_from_slice(&encode_word(tag, value)[..4]);
        let old = Target::FACTORY;
        let new = Target {
            slot: Slot::Secondary,
            state: STATE_TRIAL,
        };
        put(0, TAG_HEADER, 1);
        for (at, t) in [(4, old), (16, new)] {
            put(at, TAG_PENDING, t.value());
            put(at + 4, TAG_TARGET, t.value());
            put(at + 8, TAG_DONE, DONE_VALUE);
        }
        // The new record's done word: its last byte (!DONE_VALUE = 0xff) reads 0xfe every
        // other read.
        let mut f = WeakFlash {
            bytes,
            weak: 16 + 8 + 3,
            alt: 0xfe,
            reads: 0,
        };
        let log = read_log(&mut f, &l).unwrap();
        assert_eq!(log.open.map(|(n, _)| n), Some(1), "{log:?}");
        assert_eq!(log.boot_target(), Some(old));
        // Read steadily, the same bytes are a completed record.
        let mut f = WeakFlash { alt: 0xff, ..f };
        assert_eq!(read_log(&mut f, &l).unwrap().boot_target(), Some(new));
    }

    #[test]
    fn targets_round_trip_and_unknown_ones_are_refused() {
        for slot in [Slot::Primary, Slot::Secondary] {
            for state in [STATE_CONFIRMED, STATE_TRIAL, STATE_BOOTED, STATE_REVERTED] {
                let t = Target { slot, state };
                assert_eq!(Target::from_value(t.value()), Some(t));
            }
        }
        assert_eq!(Target::from_value(0x21), None, "slot 2");
        assert_eq!(Target::from_value(0x09), None, "state 9");
    }

    #[test]
    fn generations_compare_across_the_wrap() {
        assert!(gen_newer(2, 1));
        assert!(gen_newer(0, 0xff));
        assert!(!gen_newer(0xff, 0));
        assert!(!gen_newer(5, 5));
        assert_eq!(active_sector([Some(0xff), Some(0)]), Some(1));
        assert_eq!(active_sector([Some(3), Some(2)]), Some(0));
        assert_eq!(active_sector([None, Some(2)]), Some(1));
        assert_eq!(active_sector([None, None]), None);
    }

    #[test]
    fn a_record_completes_only_with_its_done_word() {
        let v = |tag, value| Word::Valid { tag, value };
        let t = Target {
            slot: Slot::Secondary,
            state: STATE_TRIAL,
        };
        let open = Record {
            pending: v(TAG_PENDING, t.value()),
            target: v(TAG_TARGET, t.value()),
            done: Word::Erased,
        };
        assert!(!open.done() && !open.erased());
        assert_eq!(open.pending_target(), Some(t));
        let done = Record {
            done: v(TAG_DONE, DONE_VALUE),
            ..open
        };
        assert!(done.done());
        assert_eq!(done.target(), Some(t));
        let torn_done = Record {
            done: Word::Invalid,
            ..open
        };
        assert!(!torn_done.done());
        let log = Log {
            headers: [Some(1), None],
            active: Some(0),
            used: 2,
            last_done: Some((1, None)),
            open: None,
        };
        assert_eq!(log.boot_target(), None);
        let empty = Log { last_done: None, ..log };
        assert_eq!(empty.boot_target(), Some(Target::FACTORY));
    }
}
