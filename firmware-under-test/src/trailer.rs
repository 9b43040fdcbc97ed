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

/// Reads the trailer fields at the end of `area`.
pub fn read<F: Flash + ?Sized>(flash: &mut F, area: Area) -> Result<Trailer, FlashError> {
    let end = area.end();
    let mut b = [0u8; TRAILER_INFO_SIZE as usize];
    // Read field by field so one torn ECC granule spoils only its own field.
    let base = end - TRAILER_INFO_SIZE;
    for field in 0..(TRAILER_INFO_SIZE / TRAILER_ALIGN) {
        let at = (field * TRAILER_ALIGN) as usize;
        read_or_garbage(
            flash,
            base + field * TRAILER_ALIGN,
            &mut b[at..at + TRAILER_ALIGN as usize],
        )?;
    }
    let field = |from_end: u32| (TRAILER_INFO_SIZE - from_end) as usize;
    let mut magic = [0u8; 16];
    magic.copy_from_slice(&b[field(MAGIC_FROM_END)..field(MAGIC_FROM_END) + 16]);
    let ss = field(SWAP_SIZE_FROM_END);
    Ok(Trailer {
        magic: decode_magic(&magic),
        image_ok: decode_flag(b[field(IMAGE_OK_FROM_END)]),
        copy_done: decode_flag(b[field(COPY_DONE_FROM_END)]),
        swap_info: b[field(SWAP_INFO_FROM_END)],
        swap_size: u32::from_le_bytes([b[ss], b[ss + 1], b[ss + 2], b[ss + 3]]),
    })
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

/// True when the status record reads as written. A torn record on an ECC part reads as an
/// uncorrectable error: it was being written, so the step before it had completed.
pub fn status_written<F: Flash + ?Sized>(flash: &mut F, addr: u32) -> Result<bool, FlashError> {
    let mut b = [0u8; 1];
    match flash.read(addr, &mut b) {
        Ok(()) => Ok(b[0] != ERASED),
        Err(FlashError::Uncorrectable { .. }) => Ok(true),
        Err(e) => Err(e),
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
