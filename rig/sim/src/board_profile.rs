//! Board profiles: a flash part plus the flash map the firmware is built with.

use fut::layout::{Area, Layout};
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

/// Bootloader 64 KiB, two 192 KiB slots, a two-sector scratch area.
fn standard_layout(flash: &FlashProfile) -> Layout {
    let s = flash.sector_size;
    Layout {
        sector_size: s,
        write_size: flash.write_size,
        bootloader: Area {
            offset: 0,
            size: 64 * KIB,
        },
        primary: Area {
            offset: 64 * KIB,
            size: 192 * KIB,
        },
        secondary: Area {
            offset: 256 * KIB,
            size: 192 * KIB,
        },
        scratch: Area {
            offset: 448 * KIB,
            size: 2 * s,
        },
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
