//! MCUboot image trailer at the end of a slot: magic, image_ok, copy_done, swap_info,
//! swap_size and the swap status records. Every field is padded to BOOT_MAX_ALIGN, which the
//! layout sets ([`Geom::of`]): 8 by default, the write size on parts that program in wider
//! units (16 or 32 bytes, e.g. the STM32H7's 32-byte flash word).
//!
//! Offsets as MCUboot computes them (bootutil_misc.h and bootutil_public.c at 2d4bacc):
//! magic at `size - 16`; image_ok at `ALIGN_DOWN(size - 16 - A, A)`; copy_done, swap_info and
//! swap_size each A below the one before. The magic is written as one block of
//! `BOOT_MAGIC_ALIGN_SIZE = ALIGN_UP(16, A)` bytes, erased padding first. imgtool lays a padded
//! image out the same way (`--align W` sets `max_align = max(8, W)` unless `--max-align` is
//! given; image.py `_trailer_size` and `pad_to`).

use crate::hal::{Flash, FlashError};
use crate::layout::{Area, Layout, STATUS_STATES};

/// The trailer magic for an 8-byte BOOT_MAX_ALIGN.
pub const MAGIC: [u8; 16] = [
    0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80,
];

/// The last 14 bytes of the magic for any other BOOT_MAX_ALIGN; the first two hold the
/// alignment as a little-endian u16 (`boot_img_magic` in bootutil_public.c, imgtool's
/// `boot_magic`).
pub const MAGIC_TAIL: [u8; 14] = [
    0x2d, 0xe1, 0x5d, 0x29, 0x41, 0x0b, 0x8d, 0x77, 0x67, 0x9c, 0x11, 0x0f, 0x1f, 0x8a,
];

pub const FLAG_SET: u8 = 0x01;
pub const ERASED: u8 = 0xff;

/// Offsets back from the end of the area at the default alignment of 8 ([`Geom::DEFAULT`]).
pub const MAGIC_FROM_END: u32 = 16;
pub const IMAGE_OK_FROM_END: u32 = 24;
pub const COPY_DONE_FROM_END: u32 = 32;
pub const SWAP_INFO_FROM_END: u32 = 40;
pub const SWAP_SIZE_FROM_END: u32 = 48;
/// The largest BOOT_MAX_ALIGN MCUboot's swap modes accept (bootutil_public.h asserts
/// `MCUBOOT_BOOT_MAX_ALIGN >= 8 && <= 32`).
pub const MAX_ALIGN: u32 = 32;
/// Bytes of the fixed-field block at the largest alignment (32 + 4 * 32).
pub const MAX_INFO_BYTES: usize = 160;
/// Bytes of the fixed-field block at the default alignment.
pub const TRAILER_INFO_BYTES: usize = 48;

/// The fixed-field block, right-aligned: the block of a trailer with alignment A fills the
/// last [`Geom::info_size`] bytes, and the bytes before it read erased.
pub type Block = [u8; MAX_INFO_BYTES];

/// The trailer's geometry: BOOT_MAX_ALIGN and the field offsets that follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Geom {
    align: u32,
}

impl Geom {
    /// MCUboot's default BOOT_MAX_ALIGN of 8.
    pub const DEFAULT: Geom = Geom { align: 8 };

    /// A geometry for BOOT_MAX_ALIGN `align` (8, 16 or 32).
    pub const fn new(align: u32) -> Option<Geom> {
        match align {
            8 | 16 | 32 => Some(Geom { align }),
            _ => None,
        }
    }

    /// The geometry a layout's bootloader is built with: BOOT_MAX_ALIGN is the write size
    /// where that is wider than 8, else 8 (imgtool's default `max(8, align)`). A write size a
    /// layout refuses ([`crate::layout::LayoutError::WriteTooWide`]) is clamped to 32.
    pub const fn of(layout: &Layout) -> Geom {
        Geom::for_write_size(layout.write_size)
    }

    /// The geometry for a part programming in `write_size` units.
    pub const fn for_write_size(write_size: u32) -> Geom {
        let a = if write_size <= 8 {
            8
        } else if write_size <= 16 {
            16
        } else {
            MAX_ALIGN
        };
        Geom { align: a }
    }

    /// BOOT_MAX_ALIGN.
    pub const fn align(self) -> u32 {
        self.align
    }

    /// BOOT_MAGIC_ALIGN_SIZE: the magic padded up to the alignment.
    pub const fn magic_block(self) -> u32 {
        if self.align > 16 {
            self.align
        } else {
            16
        }
    }

    /// Bytes of the fixed-field block: swap_size, swap_info, copy_done, image_ok, magic.
    pub const fn info_size(self) -> u32 {
        self.magic_block() + 4 * self.align
    }

    /// Offset of field `f` back from the end of the area.
    pub const fn from_end(self, f: Field) -> u32 {
        let a = self.align;
        match f {
            Field::Magic => 16,
            Field::ImageOk => self.magic_block() + a,
            Field::CopyDone => self.magic_block() + 2 * a,
            Field::SwapInfo => self.magic_block() + 3 * a,
            Field::SwapSize => self.magic_block() + 4 * a,
        }
    }

    /// Bytes field `f` occupies (the flags and sizes are padded to the alignment).
    pub const fn size(self, f: Field) -> u32 {
        match f {
            Field::Magic => 16,
            _ => self.align,
        }
    }

    /// The magic MCUboot writes at this alignment.
    pub const fn magic(self) -> [u8; 16] {
        if self.align == 8 {
            return MAGIC;
        }
        let mut m = [0u8; 16];
        m[0] = self.align as u8;
        m[1] = (self.align >> 8) as u8;
        let mut i = 0;
        while i < MAGIC_TAIL.len() {
            m[2 + i] = MAGIC_TAIL[i];
            i += 1;
        }
        m
    }

    /// Offset of field `f` inside a [`Block`].
    pub const fn field_offset(self, f: Field) -> usize {
        MAX_INFO_BYTES - self.from_end(f) as usize
    }

    /// The bytes of `block` that belong to this geometry's fixed-field block.
    pub fn info(self, block: &Block) -> &[u8] {
        &block[MAX_INFO_BYTES - self.info_size() as usize..]
    }

    /// The field holding the byte at `offset` of a [`Block`].
    fn field_at(self, offset: usize) -> Field {
        let from_end = (MAX_INFO_BYTES - offset) as u32;
        match Field::ALL
            .into_iter()
            .find(|&f| from_end <= self.from_end(f) && from_end > self.from_end(f) - self.size(f))
        {
            Some(f) => f,
            None => Field::Magic,
        }
    }
}

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

/// Decodes a magic written for geometry `g`.
pub fn decode_magic(g: Geom, b: &[u8; 16]) -> Magic {
    if *b == g.magic() {
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
    pub geom: Geom,
    /// The fixed-field block as decoded (every read ANDed), right-aligned ([`Block`]).
    pub raw: Block,
}

impl Reading {
    /// The field reads the same on every read.
    pub const fn steady(&self, f: Field) -> bool {
        !self.unsteady.contains(f)
    }

    /// Bytes of one field as decoded.
    pub fn field_bytes(&self, f: Field) -> &[u8] {
        let at = self.geom.field_offset(f);
        &self.raw[at..at + self.geom.size(f) as usize]
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
pub fn read_settled<F: Flash + ?Sized>(flash: &mut F, g: Geom, area: Area) -> Result<Reading, FlashError> {
    let info = g.info_size();
    let a = g.align();
    let base = area.end() - info;
    let skip = MAX_INFO_BYTES - info as usize;
    let mut first: Block = [ERASED; MAX_INFO_BYTES];
    let mut all: Block = [ERASED; MAX_INFO_BYTES];
    let mut unsteady = Fields::NONE;
    let mut b: Block = [ERASED; MAX_INFO_BYTES];
    for pass in 0..SETTLE_READS {
        // Field by field, so one torn ECC granule spoils only its own field.
        for granule in 0..(info / a) {
            let at = skip + (granule * a) as usize;
            read_or_garbage(flash, base + granule * a, &mut b[at..at + a as usize])?;
        }
        if pass == 0 {
            first = b;
        } else if b != first {
            for (i, (x, y)) in b.iter().zip(first.iter()).enumerate() {
                if x != y {
                    unsteady.insert(g.field_at(i));
                }
            }
        }
        for (acc, x) in all.iter_mut().zip(b.iter()) {
            *acc &= *x;
        }
    }
    Ok(Reading {
        trailer: decode(g, &all),
        unsteady,
        geom: g,
        raw: all,
    })
}

/// Decodes a fixed-field block of geometry `g`.
pub fn decode(g: Geom, b: &Block) -> Trailer {
    let mut magic = [0u8; 16];
    let m = g.field_offset(Field::Magic);
    magic.copy_from_slice(&b[m..m + 16]);
    let ss = g.field_offset(Field::SwapSize);
    Trailer {
        magic: decode_magic(g, &magic),
        image_ok: decode_flag(b[g.field_offset(Field::ImageOk)]),
        copy_done: decode_flag(b[g.field_offset(Field::CopyDone)]),
        swap_info: b[g.field_offset(Field::SwapInfo)],
        swap_size: u32::from_le_bytes([b[ss], b[ss + 1], b[ss + 2], b[ss + 3]]),
    }
}

/// Decodes the last `g.info_size()` bytes of `tail` (a slice at least that long ending where
/// the area ends); `None` when it is shorter.
pub fn decode_tail(g: Geom, tail: &[u8]) -> Option<Trailer> {
    let n = g.info_size() as usize;
    let bytes = tail.get(tail.len().checked_sub(n)?..)?;
    let mut b: Block = [ERASED; MAX_INFO_BYTES];
    b[MAX_INFO_BYTES - n..].copy_from_slice(bytes);
    Some(decode(g, &b))
}

/// The fixed-field block that holds `t` (the inverse of [`decode`] for well-formed fields).
pub fn encode(g: Geom, t: &Trailer) -> Block {
    let mut b: Block = [ERASED; MAX_INFO_BYTES];
    let flag = |f: Flag| if f == Flag::Set { FLAG_SET } else { ERASED };
    if t.magic == Magic::Good {
        b[g.field_offset(Field::Magic)..].copy_from_slice(&g.magic());
    }
    b[g.field_offset(Field::ImageOk)] = flag(t.image_ok);
    b[g.field_offset(Field::CopyDone)] = flag(t.copy_done);
    b[g.field_offset(Field::SwapInfo)] = t.swap_info;
    let ss = g.field_offset(Field::SwapSize);
    b[ss..ss + 4].copy_from_slice(&t.swap_size.to_le_bytes());
    b
}

/// Reads the trailer fields at the end of `area` (a settled read).
pub fn read<F: Flash + ?Sized>(flash: &mut F, g: Geom, area: Area) -> Result<Trailer, FlashError> {
    read_settled(flash, g, area).map(|r| r.trailer)
}

/// Programs `field` again with the value `want` holds (the magic when `want.magic` is good, a
/// flag when set, swap_info and swap_size as they are). Programming the same value once more
/// makes a weak bit solid on parts that allow a second program of a word (the nRF52840 allows
/// two between erases); an ECC part refuses it (`ProgramRefused`).
pub fn program_field<F: Flash + ?Sized>(
    flash: &mut F,
    g: Geom,
    area: Area,
    field: Field,
    want: &Trailer,
) -> Result<(), FlashError> {
    let flag = |f: Flag| if f == Flag::Set { FLAG_SET } else { ERASED };
    match field {
        Field::Magic if want.magic == Magic::Good => write_magic(flash, g, area),
        Field::Magic => Ok(()),
        Field::ImageOk => write_field(flash, g, area, Field::ImageOk, &[flag(want.image_ok)]),
        Field::CopyDone => write_field(flash, g, area, Field::CopyDone, &[flag(want.copy_done)]),
        Field::SwapInfo => write_field(flash, g, area, Field::SwapInfo, &[want.swap_info]),
        Field::SwapSize => write_swap_size(flash, g, area, want.swap_size),
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
fn write_field<F: Flash + ?Sized>(
    flash: &mut F,
    g: Geom,
    area: Area,
    f: Field,
    value: &[u8],
) -> Result<(), FlashError> {
    let mut b = [ERASED; MAX_ALIGN as usize];
    b[..value.len()].copy_from_slice(value);
    flash.write(area.end() - g.from_end(f), &b[..g.align() as usize])
}

/// Writes the magic as MCUboot's `boot_write_magic` does: one block of BOOT_MAGIC_ALIGN_SIZE
/// bytes, erased padding then the 16 magic bytes.
pub fn write_magic<F: Flash + ?Sized>(flash: &mut F, g: Geom, area: Area) -> Result<(), FlashError> {
    write_magic_bytes(flash, g, area, &g.magic())
}

/// Writes `magic` where a trailer's magic goes, padded as [`write_magic`] pads it.
pub fn write_magic_bytes<F: Flash + ?Sized>(
    flash: &mut F,
    g: Geom,
    area: Area,
    magic: &[u8; 16],
) -> Result<(), FlashError> {
    let n = g.magic_block() as usize;
    let mut b = [ERASED; MAX_ALIGN as usize];
    b[n - 16..n].copy_from_slice(magic);
    flash.write(area.end() - n as u32, &b[..n])
}

pub fn write_image_ok<F: Flash + ?Sized>(flash: &mut F, g: Geom, area: Area) -> Result<(), FlashError> {
    write_field(flash, g, area, Field::ImageOk, &[FLAG_SET])
}

pub fn write_copy_done<F: Flash + ?Sized>(flash: &mut F, g: Geom, area: Area) -> Result<(), FlashError> {
    write_field(flash, g, area, Field::CopyDone, &[FLAG_SET])
}

pub fn write_swap_info<F: Flash + ?Sized>(
    flash: &mut F,
    g: Geom,
    area: Area,
    kind: SwapType,
) -> Result<(), FlashError> {
    write_field(flash, g, area, Field::SwapInfo, &[kind.code()])
}

pub fn write_swap_size<F: Flash + ?Sized>(flash: &mut F, g: Geom, area: Area, size: u32) -> Result<(), FlashError> {
    write_field(flash, g, area, Field::SwapSize, &size.to_le_bytes())
}

/// What `imgtool sign --pad --confirm` leaves at the end of `area`: image_ok (0x01 padded with
/// the erased value to the alignment) and the magic, everything between erased (image.py
/// `pad_to`: `image_ok_idx = -(magic_align_size + max_align)`).
pub fn put_confirmed(g: Geom, area: Area, put: &mut dyn FnMut(u32, &[u8])) {
    let mut image_ok = [ERASED; MAX_ALIGN as usize];
    image_ok[0] = FLAG_SET;
    put(area.end() - g.from_end(Field::ImageOk), &image_ok[..g.align() as usize]);
    put(area.end() - g.from_end(Field::Magic), &g.magic());
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
    use core::ops::ControlFlow;
    let mut any = false;
    let mut every = true;
    let mut failed = None;
    flash.read_byte_times(addr, SETTLE_READS, &mut |read| {
        let written = match read {
            Ok(b) => b != ERASED,
            Err(FlashError::Uncorrectable { .. }) => true,
            Err(e) => {
                failed = Some(e);
                return ControlFlow::Break(());
            }
        };
        any |= written;
        every &= written;
        ControlFlow::Continue(())
    });
    match failed {
        Some(e) => Err(e),
        None => Ok((any, every)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_geometry_is_the_8_byte_layout_byte_for_byte() {
        let g = Geom::DEFAULT;
        assert_eq!(g.info_size() as usize, TRAILER_INFO_BYTES);
        assert_eq!(g.from_end(Field::Magic), MAGIC_FROM_END);
        assert_eq!(g.from_end(Field::ImageOk), IMAGE_OK_FROM_END);
        assert_eq!(g.from_end(Field::CopyDone), COPY_DONE_FROM_END);
        assert_eq!(g.from_end(Field::SwapInfo), SWAP_INFO_FROM_END);
        assert_eq!(g.from_end(Field::SwapSize), SWAP_SIZE_FROM_END);
        assert_eq!(g.magic(), MAGIC);
        for w in [1, 2, 4, 8] {
            assert_eq!(Geom::for_write_size(w), g);
        }
    }

    #[test]
    fn wider_alignments_lay_the_fields_out_as_mcuboot_does() {
        // image_ok = ALIGN_DOWN(size - 16 - A, A); each next field A below; the magic block
        // ALIGN_UP(16, A); the info block BOOT_MAGIC_ALIGN_SIZE + 4A (bootutil_area.c).
        let g16 = Geom::new(16).unwrap();
        let g32 = Geom::new(32).unwrap();
        let offs = |g: Geom| Field::ALL.map(|f| g.from_end(f));
        assert_eq!(offs(g16), [80, 64, 48, 32, 16]);
        assert_eq!(offs(g32), [160, 128, 96, 64, 16]);
        assert_eq!((g16.info_size(), g32.info_size()), (80, 160));
        assert_eq!((g16.magic_block(), g32.magic_block()), (16, 32));
        assert_eq!(g32.magic()[..2], [0x20, 0x00]);
        assert_eq!(g16.magic()[..2], [0x10, 0x00]);
        assert_eq!(g32.magic()[2..], MAGIC_TAIL);
        assert_eq!(Geom::for_write_size(32), g32);
        assert_eq!(Geom::for_write_size(16), g16);
        assert_eq!(Geom::new(12), None);
    }

    #[test]
    fn an_encoded_block_decodes_to_itself_at_every_alignment() {
        for a in [8, 16, 32] {
            let g = Geom::new(a).unwrap();
            let t = Trailer {
                magic: Magic::Good,
                image_ok: Flag::Set,
                copy_done: Flag::Unset,
                swap_info: 0x12,
                swap_size: 0x0006_0000,
            };
            let b = encode(g, &t);
            assert_eq!(decode(g, &b), t, "{a}");
            assert_eq!(decode_tail(g, g.info(&b)), Some(t), "{a}");
            // Bytes before this geometry's block are never written.
            assert!(b[..MAX_INFO_BYTES - g.info_size() as usize]
                .iter()
                .all(|&x| x == ERASED));
            // A block read with another alignment does not hold a good magic.
            for other in [8, 16, 32].into_iter().filter(|&o| o != a) {
                let o = Geom::new(other).unwrap();
                assert_ne!(decode(o, &b).magic, Magic::Good, "{a} read as {other}");
            }
        }
    }
}
