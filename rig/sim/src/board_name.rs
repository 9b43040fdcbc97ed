//! The built-in simulated boards, by the names campaign files use.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::board_profile::BoardProfile;
use crate::profile::FlashProfile;

/// A built-in simulated board: `[target] board` of a campaign. It reads and writes as its
/// [`Board::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Board {
    /// nRF52840: 4 KiB pages, 4 B words.
    Nrf52840,
    /// STM32L4: 2 KiB pages, 8 B ECC double-words.
    Stm32l4,
    /// W25Q128 serial NOR: 256 B pages, 4 KiB sectors.
    W25q128,
    /// W25Q32 serial NOR (4 MiB, as on RP2350 boards) with two 1 MiB slots.
    W25q32,
    /// STM32F42x/43x: 2 MiB of 16, 64 and 128 KiB sectors, 4 B words.
    Stm32f4,
    /// STM32H743: 2 MiB of 128 KiB sectors, 32 B ECC flash words.
    Stm32h7,
    /// nRF5340 application core: 1 MiB of 4 KiB pages, 4 B words.
    Nrf5340,
    /// nRF52840 DK: the nRF52840's own flash with the bootloader and the primary slot, the
    /// on-board MX25R6435F QSPI NOR (256 B pages, 4 KiB sectors) with the secondary slot.
    Nrf52840Qspi,
    /// STM32U575/585: 2 MiB of 8 KiB pages, 16 B ECC quad-words; an all-zero program over a
    /// written quad-word is accepted once (RM0456 §7.3.9).
    Stm32u5,
}

impl Board {
    pub const ALL: [Board; 9] = [
        Board::Nrf52840,
        Board::Stm32l4,
        Board::W25q128,
        Board::W25q32,
        Board::Stm32f4,
        Board::Stm32h7,
        Board::Nrf5340,
        Board::Nrf52840Qspi,
        Board::Stm32u5,
    ];
    /// The names of [`Board::ALL`], in order.
    pub const NAMES: &'static [&'static str] = &[
        "nrf52840",
        "stm32l4",
        "w25q128",
        "w25q32",
        "stm32f4",
        "stm32h7",
        "nrf5340",
        "nrf52840-qspi",
        "stm32u5",
    ];

    pub const fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    pub fn from_name(name: &str) -> Option<Board> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The board's flash part.
    pub fn flash(self) -> FlashProfile {
        match self {
            Board::Nrf52840 => FlashProfile::nrf52840(),
            Board::Stm32l4 => FlashProfile::stm32l4(),
            Board::W25q128 => FlashProfile::w25q128(),
            Board::W25q32 => FlashProfile::w25q32(),
            Board::Stm32f4 => FlashProfile::stm32f4(),
            Board::Stm32h7 => FlashProfile::stm32h7(),
            Board::Nrf5340 => FlashProfile::nrf5340(),
            Board::Nrf52840Qspi => FlashProfile::nrf52840_qspi(),
            Board::Stm32u5 => FlashProfile::stm32u5(),
        }
    }

    /// The board: its flash part and its flash map.
    pub fn profile(self) -> BoardProfile {
        match self {
            Board::W25q32 => BoardProfile::with_large_slots(self.name(), self.flash()),
            Board::Stm32f4 => BoardProfile::stm32f4(self.name(), self.flash()),
            Board::Stm32h7 => BoardProfile::stm32h7(self.name(), self.flash()),
            Board::Nrf5340 => BoardProfile::nrf5340(self.name(), self.flash()),
            Board::Nrf52840Qspi => BoardProfile::nrf52840_qspi(self.name(), self.flash()),
            Board::Nrf52840 | Board::Stm32l4 | Board::W25q128 | Board::Stm32u5 => {
                BoardProfile::with_flash(self.name(), self.flash())
            }
        }
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_spellings_and_the_flash_parts_names() {
        assert_eq!(Board::ALL.len(), Board::NAMES.len());
        for b in Board::ALL {
            let json = serde_json::to_string(&b).unwrap();
            assert_eq!(json, format!("\"{}\"", b.name()));
            assert_eq!(serde_json::from_str::<Board>(&json).unwrap(), b);
            assert_eq!(Board::from_name(b.name()), Some(b));
            assert_eq!(FlashProfile::builtin(b.name()), Some(b.flash()), "{b}");
        }
        assert_eq!(FlashProfile::builtin_names(), Board::NAMES);
    }
}
