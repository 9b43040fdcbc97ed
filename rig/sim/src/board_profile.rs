//! Board profiles: a flash part plus the flash map the firmware is built with.

use fut::layout::{Layout, Role};
use fut::map::{FlashMap, Region};
use serde::Serialize;

use crate::board_name::Board;
use crate::profile::FlashProfile;

/// A simulated board: its flash part and where bootloader, slots and scratch live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoardProfile {
    pub name: String,
    pub flash: FlashProfile,
    #[serde(skip)]
    pub layout: Layout,
}

const KIB: u32 = 1024;

/// The flash map every built-in board is built with, stated once: bootloader 64 KiB, two
/// 192 KiB slots, a two-sector scratch area.
fn standard_map(flash: &FlashProfile) -> [Region<'static>; 4] {
    let s = flash.sector_size;
    [
        Region::internal(Role::Bootloader, 0, 64 * KIB, s),
        Region::internal(Role::Primary, 64 * KIB, 192 * KIB, s),
        Region::internal(Role::Secondary, 256 * KIB, 192 * KIB, s),
        Region::internal(Role::Scratch, 448 * KIB, 2 * s, s),
    ]
}

/// The bootloader's view of [`standard_map`].
fn standard_layout(flash: &FlashProfile) -> Layout {
    let regions = standard_map(flash);
    let map = FlashMap {
        write_size: flash.write_size,
        regions: &regions,
    };
    match map.layout() {
        Ok(layout) => layout,
        Err(e) => unreachable!("the standard map has uniform sectors: {e:?}"),
    }
}

impl BoardProfile {
    pub fn builtin_names() -> &'static [&'static str] {
        Board::NAMES
    }

    /// `nrf52840` (4 KiB pages, 4 B words), `stm32l4` (2 KiB pages, 8 B ECC double-words),
    /// `w25q128` (serial NOR, 256 B pages, 4 KiB sectors).
    pub fn builtin(name: &str) -> Option<BoardProfile> {
        Board::from_name(name).map(Board::profile)
    }

    /// A board with the standard map over a custom flash part.
    pub fn with_flash(name: &str, flash: FlashProfile) -> BoardProfile {
        let layout = standard_layout(&flash);
        BoardProfile {
            name: name.to_string(),
            flash,
            layout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_layouts_are_valid() {
        for name in BoardProfile::builtin_names() {
            let b = BoardProfile::builtin(name).unwrap();
            assert_eq!(b.layout.validate(), Ok(()), "{name}");
            assert!(b.layout.scratch.end() <= b.flash.size, "{name}");
            assert!(b.layout.max_image_size() >= 128 * KIB, "{name}");
        }
    }
}
