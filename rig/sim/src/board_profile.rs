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

/// The map of a board with the room for 1 MiB images: bootloader 64 KiB, two 1 MiB slots, a
/// two-sector scratch area (2 MiB + 72 KiB of a 4 MiB part).
fn large_slot_map(flash: &FlashProfile) -> [Region<'static>; 4] {
    let s = flash.sector_size;
    [
        Region::internal(Role::Bootloader, 0, 64 * KIB, s),
        Region::internal(Role::Primary, 64 * KIB, 1024 * KIB, s),
        Region::internal(Role::Secondary, 1088 * KIB, 1024 * KIB, s),
        Region::internal(Role::Scratch, 2112 * KIB, 2 * s, s),
    ]
}

/// The bootloader's view of a built-in map.
fn layout_of(flash: &FlashProfile, regions: &[Region<'static>]) -> Layout {
    let map = FlashMap {
        write_size: flash.write_size,
        regions,
    };
    match map.layout() {
        Ok(layout) => layout,
        Err(e) => unreachable!("the built-in maps have uniform sectors: {e:?}"),
    }
}

/// The bootloader's view of [`standard_map`].
fn standard_layout(flash: &FlashProfile) -> Layout {
    layout_of(flash, &standard_map(flash))
}

impl BoardProfile {
    pub fn builtin_names() -> &'static [&'static str] {
        Board::NAMES
    }

    /// `nrf52840` (4 KiB pages, 4 B words), `stm32l4` (2 KiB pages, 8 B ECC double-words),
    /// `w25q128` (serial NOR, 256 B pages, 4 KiB sectors), `w25q32` (the same family, 4 MiB,
    /// two 1 MiB slots).
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

    /// A board with two 1 MiB slots over a flash part of at least 2 MiB + 72 KiB.
    pub fn with_large_slots(name: &str, flash: FlashProfile) -> BoardProfile {
        let layout = layout_of(&flash, &large_slot_map(&flash));
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

    #[test]
    fn w25q32_has_the_room_for_1_mib_images() {
        let b = BoardProfile::builtin("w25q32").unwrap();
        assert_eq!(
            (b.layout.primary.size, b.layout.secondary.size),
            (1024 * KIB, 1024 * KIB)
        );
        assert!(b.layout.max_image_size() >= 1000 * KIB, "{}", b.layout.max_image_size());
    }
}
