//! Flash chores shared by the update schemes.

use super::BootConfig;
use crate::hal::{Flash, FlashError};
use crate::layout::{Area, Layout, Slot};

/// Copy buffer size (MCUboot copies through a 1 KiB buffer as well).
pub const COPY_CHUNK: usize = 1024;

/// Copies `len` bytes from `src` to `dst` (the destination must be erased).
pub fn copy<F: Flash + ?Sized>(flash: &mut F, src: u32, dst: u32, len: u32) -> Result<(), FlashError> {
    let mut buf = [0u8; COPY_CHUNK];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(COPY_CHUNK as u32) as usize;
        flash.read(src + done, &mut buf[..n])?;
        flash.write(dst + done, &buf[..n])?;
        done += n as u32;
    }
    Ok(())
}

/// Erases `area` one sector at a time from the top down, so a cut leaves the low part intact
/// and the top (where trailers and markers live) erased first.
pub fn erase_backwards<F: Flash + ?Sized>(flash: &mut F, area: Area, sector: u32) -> Result<(), FlashError> {
    let mut at = area.end();
    while at > area.offset {
        at -= sector;
        flash.erase(at, sector)?;
    }
    Ok(())
}

/// The trailer sectors at the end of a slot.
pub fn trailer_area(layout: &Layout, slot: Slot) -> Area {
    let s = layout.slot(slot);
    // The trailer sectors end the slot (slots may differ in size by a sector in swap-move).
    let off = s
        .size
        .saturating_sub(layout.trailer_sectors().saturating_mul(layout.sector_size));
    Area {
        offset: s.offset + off,
        size: s.size - off,
    }
}

pub fn erase_trailer<F: Flash + ?Sized>(flash: &mut F, cfg: &BootConfig, slot: Slot) -> Result<(), FlashError> {
    erase_trailer_of(flash, &cfg.layout, slot)
}

pub fn erase_trailer_of<F: Flash + ?Sized>(flash: &mut F, layout: &Layout, slot: Slot) -> Result<(), FlashError> {
    erase_backwards(flash, trailer_area(layout, slot), layout.sector_size)
}

/// True when every byte of `area` reads erased.
pub fn is_blank<F: Flash + ?Sized>(flash: &mut F, area: Area) -> Result<bool, FlashError> {
    let mut buf = [0u8; COPY_CHUNK];
    let mut at = area.offset;
    while at < area.end() {
        let n = (area.end() - at).min(COPY_CHUNK as u32) as usize;
        match flash.read(at, &mut buf[..n]) {
            Ok(()) => {}
            Err(FlashError::Uncorrectable { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        if buf[..n].iter().any(|&b| b != 0xff) {
            return Ok(false);
        }
        at += n as u32;
    }
    Ok(true)
}
