//! MCUboot image trailer at the end of a slot: magic, image_ok, copy_done, swap_info,
//! swap_size and the swap status records (BOOT_MAX_ALIGN = 8).

use crate::hal::{Flash, FlashError};
use crate::layout::{Area, Layout, STATUS_STATES, TRAILER_ALIGN, TRAILER_INFO_SIZE};

/// The trailer magic for an 8-byte BOOT_MAX_ALIGN.
pub const MAGIC: [u8; 16] = [
    0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80,
];

pub const FLAG_SET: u8 = 0x01;
pub const ERASED: u8 = 0xff;

/// Offsets back from the end of the area.
pub const MAGIC_FROM_END: u32 = 16;
pub const IMAGE_OK_FROM_END: u32 = 24;
pub const COPY_DONE_FROM_END: u32 = 32;
pub const SWAP_INFO_FROM_END: u32 = 40;
pub const SWAP_SIZE_FROM_END: u32 = 48;
/// Bytes of the fixed-field block at the end of an area.
pub const TRAILER_INFO_BYTES: usize = TRAILER_INFO_SIZE as usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Good,
    Unset,
    Bad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Set,
    Unset,
    Bad,
}

/// Swap types as stored in the low nibble of swap_info.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapType {
    None,
    Test,
    Perm,
    Revert,
}

impl SwapType {
    pub const fn code(self) -> u8 {
        match self {
            SwapType::None => 1,
            SwapType::Test => 2,
            SwapType::Perm => 3,
            SwapType::Revert => 4,
        }
    }

    pub const fn from_code(c: u8) -> Option<SwapType> {
        match c {
            1 => Some(SwapType::None),
            2 => Some(SwapType::Test),
            3 => Some(SwapType::Perm),
            4 => Some(SwapType::Revert),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            SwapType::None => "none",
            SwapType::Test => "test",
            SwapType::Perm => "perm",
            SwapType::Revert => "revert",
        }
    }
}

/// Decoded trailer fields of one area (a slot or the scratch journal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub magic: Magic,
    pub image_ok: Flag,
    pub copy_done: Flag,
    /// Raw swap_info byte (0xff when erased).
    pub swap_info: u8,
    /// Raw swap_size (0xffffffff when erased).
    pub swap_size: u32,
}

impl Trailer {
    pub fn swap_type(&self) -> Option<SwapType> {
        SwapType::from_code(self.swap_info & 0x0f)
    }
}

pub fn decode_magic(b: &[u8; 16]) -> Magic {
    if *b == MAGIC {
        Magic::Good
    } else if b.iter().all(|&x| x == ERASED) {
        Magic::Unset
    } else {
        Magic::Bad
    }
}

pub fn decode_flag(b: u8) -> Flag {
    match b {
        FLAG_SET => Flag::Set,
        ERASED => Flag::Unset,
        _ => Flag::Bad,
    }
}

/// How many times a settled read reads each field. A bit whose program was cut part-way can be
/// weak: it reads 0 on one read and 1 on the next (FAULT-MODEL.md; Zephyr PR #103452 saw it
/// after a cut NVS write). One read decides on a coin flip; a bit that reads 0 even once has
/// been programmed (a program only ever clears bits), so a settled read keeps every 0 it saw
/// and notes the fields whose reads disagreed. A single weak bit escapes all of them with
/// probability 2^-16 per decision.
pub const SETTLE_READS: u32 = 16;

/// The fixed fields of a trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    SwapSize,
    SwapInfo,
    CopyDone,
    ImageOk,
    Magic,
}

impl Field {
    pub const ALL: [Field; 5] = [
        Field::SwapSize,
        Field::SwapInfo,
        Field::CopyDone,
        Field::ImageOk,
        Field::Magic,
    ];

    /// Offset of the field back from the end of the area.
    pub const fn from_end(self) -> u32 {
        match self {
            Field::SwapSize => SWAP_SIZE_FROM_END,
            Field::SwapInfo => SWAP_INFO_FROM_END,
            Field::CopyDone => COPY_DONE_FROM_END,
            Field::ImageOk => IMAGE_OK_FROM_END,
            Field::Magic => MAGIC_FROM_END,
        }
    }

    /// Bytes the field occupies (padded to the trailer alignment).
    pub const fn size(self) -> u32 {
        match self {
            Field::Magic => 16,
            _ => TRAILER_ALIGN,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Field::SwapSize => "swap_size",
            Field::SwapInfo => "swap_info",
            Field::CopyDone => "copy_done",
            Field::ImageOk => "image_ok",
            Field::Magic => "magic",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The field holding the byte at `offset` of the fixed-field block.
    fn at(offset: usize) -> Field {
        let from_end = TRAILER_INFO_SIZE - offset as u32;
        match Field::ALL
            .into_iter()
            .find(|f| from_end <= f.from_end() && from_end > f.from_end() - f.size())
        {
            Some(f) => f,
            None => Field::Magic,
        }
    }
}

/// A set of trailer fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fields(u8);

impl Fields {
    pub const NONE: Fields = Fields(0);

    pub const fn of(fields: &[Field]) -> Fields {
        let mut bits = 0;
        let mut i = 0;
        while i < fields.len() {
            bits |= fields[i].bit();
            i += 1;
        }
        Fields(bits)
    }

    pub const fn contains(self, f: Field) -> bool {
        self.0 & f.bit() != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn insert(&mut self, f: Field) {
        self.0 |= f.bit();
    }

    pub const fn intersects(self, other: Fields) -> bool {
        self.0 & other.0 != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

/// A settled read of a trailer: the fields decoded from every 0 the reads saw, and the fields
/// whose reads disagreed (a weak bit in them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub trailer: Trailer,
    pub unsteady: Fields,
    /// The fixed-field block as decoded (every read ANDed), from `end - 48`.
    pub raw: [u8; TRAILER_INFO_BYTES],
}

impl Reading {
    /// The field reads the same on every read.
    pub const fn steady(&self, f: Field) -> bool {
        !self.unsteady.contains(f)
    }

    /// Bytes of one field as decoded.
    pub fn field_bytes(&self, f: Field) -> &[u8] {
        let at = field_offset(f);
        &self.raw[at..at + f.size() as usize]
    }
}

/// Reads bytes, turning an uncorrectable ECC read into "garbage" so the caller sees BAD.
fn read_or_garbage<F: Flash + ?Sized>(flash: &mut F, addr: u32, buf: &mut [u8]) -> Result<(), FlashError> {
    match flash.read(addr, buf) {
        Err(FlashError::Uncorrectable { .. }) => {
            buf.fill(0x5a);
            Ok(())
        }
        other => other,
    }
}

/// Reads the trailer fields at the end of `area` [`SETTLE_READS`] times.
pub fn read_settled<F: Flash + ?Sized>(flash: &mut F, area: Area) -> Result<Reading, FlashError> {
    const N: usize = TRAILER_INFO_BYTES;
    let base = area.end() - TRAILER_INFO_SIZE;
    let mut first = [0u8; N];
    let mut all = [ERASED; N];
    let mut unsteady = Fields::NONE;
    let mut b = [0u8; N];
    for pass in 0..SETTLE_READS {
        // Field by field, so one torn ECC granule spoils only its own field.
        for granule in 0..(TRAILER_INFO_SIZE / TRAILER_ALIGN) {
            let at = (granule * TRAILER_ALIGN) as usize;
            read_or_garbage(
                flash,
                base + granule * TRAILER_ALIGN,
                &mut b[at..at + TRAILER_ALIGN as usize],
            )?;
        }
        if pass == 0 {
            first = b;
        } else if b != first {
            for (i, (x, y)) in b.iter().zip(first.iter()).enumerate() {
                if x != y {
                    unsteady.insert(Field::at(i));
                }
            }
        }
        for (acc, x) in all.iter_mut().zip(b.iter()) {
            *acc &= *x;
        }
    }
    Ok(Reading {
        trailer: decode(&all),
        unsteady,
        raw: all,
    })
}

/// Decodes the fixed-field block (`end - 48 .. end`).
pub fn decode(b: &[u8; TRAILER_INFO_BYTES]) -> Trailer {
    let field = |from_end: u32| (TRAILER_INFO_SIZE - from_end) as usize;
    let mut magic = [0u8; 16];
    magic.copy_from_slice(&b[field(MAGIC_FROM_END)..field(MAGIC_FROM_END) + 16]);
    let ss = field(SWAP_SIZE_FROM_END);
    Trailer {
        magic: decode_magic(&magic),
        image_ok: decode_flag(b[field(IMAGE_OK_FROM_END)]),
        copy_done: decode_flag(b[field(COPY_DONE_FROM_END)]),
        swap_info: b[field(SWAP_INFO_FROM_END)],
        swap_size: u32::from_le_bytes([b[ss], b[ss + 1], b[ss + 2], b[ss + 3]]),
    }
}

/// Offset of a field inside the fixed-field block.
pub const fn field_offset(f: Field) -> usize {
    (TRAILER_INFO_SIZE - f.from_end()) as usize
}

/// The fixed-field block that holds `t` (the inverse of [`decode`] for well-formed fields).
pub fn encode(t: &Trailer) -> [u8; TRAILER_INFO_BYTES] {
    let mut b = [ERASED; TRAILER_INFO_BYTES];
    let flag = |f: Flag| if f == Flag::Set { FLAG_SET } else { ERASED };
    if t.magic == Magic::Good {
        b[field_offset(Field::Magic)..].copy_from_slice(&MAGIC);
    }
    b[field_offset(Field::ImageOk)] = flag(t.image_ok);
    b[field_offset(Field::CopyDone)] = flag(t.copy_done);
    b[field_offset(Field::SwapInfo)] = t.swap_info;
    let ss = field_offset(Field::SwapSize);
    b[ss..ss + 4].copy_from_slice(&t.swap_size.to_le_bytes());
    b
}

/// Reads the trailer fields at the end of `area` (a settled read).
pub fn read<F: Flash + ?Sized>(flash: &mut F, area: Area) -> Result<Trailer, FlashError> {
    read_settled(flash, area).map(|r| r.trailer)
}

/// Programs `field` again with the value `want` holds (the magic when `want.magic` is good, a
/// flag when set, swap_info and swap_size as they are). Programming the same value once more
/// makes a weak bit solid on parts that allow a second program of a word (the nRF52840 allows
/// two between erases); an ECC part refuses it (`ProgramRefused`).
pub fn program_field<F: Flash + ?Sized>(
    flash: &mut F,
    area: Area,
    field: Field,
    want: &Trailer,
) -> Result<(), FlashError> {
    let flag = |f: Flag| if f == Flag::Set { FLAG_SET } else { ERASED };
    match field {
        Field::Magic if want.magic == Magic::Good => write_magic(flash, area),
        Field::Magic => Ok(()),
        Field::ImageOk => write_field(flash, area, IMAGE_OK_FROM_END, &[flag(want.image_ok)]),
        Field::CopyDone => write_field(flash, area, COPY_DONE_FROM_END, &[flag(want.copy_done)]),
        Field::SwapInfo => write_field(flash, area, SWAP_INFO_FROM_END, &[want.swap_info]),
        Field::SwapSize => write_swap_size(flash, area, want.swap_size),
    }
}

/// Whether a decoded field holds what `want` says.
pub fn field_matches(have: &Trailer, want: &Trailer, field: Field) -> bool {
    match field {
        Field::Magic => have.magic == want.magic,
        Field::ImageOk => have.image_ok == want.image_ok,
        Field::CopyDone => have.copy_done == want.copy_done,
        Field::SwapInfo => have.swap_info == want.swap_info,
        Field::SwapSize => have.swap_size == want.swap_size,
    }
}

/// Programs one trailer field: `value` padded with the erased value to the field alignment.
fn write_field<F: Flash + ?Sized>(flash: &mut F, area: Area, from_end: u32, value: &[u8]) -> Result<(), FlashError> {
    let mut b = [ERASED; TRAILER_ALIGN as usize];
    b[..value.len()].copy_from_slice(value);
    flash.write(area.end() - from_end, &b)
}

pub fn write_magic<F: Flash + ?Sized>(flash: &mut F, area: Area) -> Result<(), FlashError> {
    flash.write(area.end() - MAGIC_FROM_END, &MAGIC)
}

pub fn write_image_ok<F: Flash + ?Sized>(flash: &mut F, area: Area) -> Result<(), FlashError> {
    write_field(flash, area, IMAGE_OK_FROM_END, &[FLAG_SET])
}

pub fn write_copy_done<F: Flash + ?Sized>(flash: &mut F, area: Area) -> Result<(), FlashError> {
    write_field(flash, area, COPY_DONE_FROM_END, &[FLAG_SET])
}

pub fn write_swap_info<F: Flash + ?Sized>(flash: &mut F, area: Area, kind: SwapType) -> Result<(), FlashError> {
    write_field(flash, area, SWAP_INFO_FROM_END, &[kind.code()])
}

pub fn write_swap_size<F: Flash + ?Sized>(flash: &mut F, area: Area, size: u32) -> Result<(), FlashError> {
    write_field(flash, area, SWAP_SIZE_FROM_END, &size.to_le_bytes())
}

/// Address of the swap status record for region `idx` (1-based, 1 = highest region) and
/// copy step `state` (1..=3), inside `slot`.
pub fn status_addr(layout: &Layout, slot: Area, idx: u32, state: u32) -> u32 {
    let w = layout.status_record_size();
    let base = slot.end() - layout.trailer_size();
    base + (idx - 1) * STATUS_STATES * w + (state - 1) * w
}

/// True when the status record reads as written on any of [`SETTLE_READS`] reads (a record
/// whose program began was written after its step completed). A torn record on an ECC part
/// reads as an uncorrectable error: it was being written, so the step before it had completed.
pub fn status_written<F: Flash + ?Sized>(flash: &mut F, addr: u32) -> Result<bool, FlashError> {
    Ok(status_reads(flash, addr)?.0)
}

/// True when the status record reads as written on every read (none of its bits is weak).
pub fn status_steady<F: Flash + ?Sized>(flash: &mut F, addr: u32) -> Result<bool, FlashError> {
    let (any, every) = status_reads(flash, addr)?;
    Ok(any == every)
}

/// (written on some read, written on every read).
fn status_reads<F: Flash + ?Sized>(flash: &mut F, addr: u32) -> Result<(bool, bool), FlashError> {
    let mut any = false;
    let mut every = true;
    for _ in 0..SETTLE_READS {
        let mut b = [0u8; 1];
        let written = match flash.read(addr, &mut b) {
            Ok(()) => b[0] != ERASED,
            Err(FlashError::Uncorrectable { .. }) => true,
            Err(e) => return Err(e),
        };
        any |= written;
        every &= written;
    }
    Ok((any, every))
}

pub fn write_status<F: Flash + ?Sized>(
    flash: &mut F,
    layout: &Layout,
    slot: Area,
    idx: u32,
    state: u32,
) -> Result<(), FlashError> {
    let mut b = [ERASED; 32];
    let w = (layout.status_record_size() as usize).min(b.len());
    b[0] = state as u8;
    flash.write(status_addr(layout, slot, idx, state), &b[..w])
}

/// The last completed (region, step) recorded in `slot`'s status area, in swap order.
pub fn last_status<F: Flash + ?Sized>(
    flash: &mut F,
    layout: &Layout,
    slot: Area,
    regions: u32,
) -> Result<Option<(u32, u32)>, FlashError> {
    let mut last = None;
    for idx in 1..=regions.min(layout.sectors_per_slot()) {
        for state in 1..=STATUS_STATES {
            if status_written(flash, status_addr(layout, slot, idx, state))? {
                last = Some((idx, state));
            }
        }
    }
    Ok(last)
}
