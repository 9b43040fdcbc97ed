//! Board profiles: a flash part plus the flash map the firmware is built with.

use fut::layout::{Area, Layout, LayoutError, Role};
use fut::map::{FlashMap, Region, Sectors};
use fut::scheme::Mode;
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
    /// The flash map the layout is the bootloader's view of, with each region's sectors as the
    /// part has them (a scheme checks the slots' sectors against it: [`BoardProfile::check_mode`]).
    #[serde(skip)]
    pub regions: Vec<Region<'static>>,
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
        Err(e) => unreachable!("the built-in maps divide into whole swap units: {e:?}"),
    }
}

/// One STM32F4 bank's small sectors: four of 16 KiB and one of 64 KiB (RM0090 §3.3).
const F4_SMALL_SECTORS: &[u32] = &[16 * KIB, 16 * KIB, 16 * KIB, 16 * KIB, 64 * KIB];

/// The STM32F4 board's map, as MCUboot is laid out on a 2 MiB STM32F42x/43x (RM0090 §3.3: per
/// bank sectors 0-3 of 16 KiB, 4 of 64 KiB, 5-11 of 128 KiB):
///
/// * the bootloader in bank 1's small sectors 0-4 (128 KiB);
/// * the primary slot in bank 1's 128 KiB sectors 5-11 (896 KiB);
/// * the scratch area in bank 2's small sectors 12-16: 128 KiB of 16 and 64 KiB sectors, as
///   large as the largest sector a swap step moves, which is what MCUboot's swap-scratch asks of
///   it (bootutil swap_scratch.c, `boot_slots_compatible`: "not all sectors fit inside
///   scratch" otherwise);
/// * the secondary slot in bank 2's 128 KiB sectors 17-23 (896 KiB).
fn stm32f4_map() -> Vec<Region<'static>> {
    vec![
        Region {
            sectors: Sectors::List(F4_SMALL_SECTORS),
            ..Region::internal(Role::Bootloader, 0, 128 * KIB, 16 * KIB)
        },
        Region::internal(Role::Primary, 128 * KIB, 896 * KIB, 128 * KIB),
        Region {
            sectors: Sectors::List(F4_SMALL_SECTORS),
            ..Region::internal(Role::Scratch, 1024 * KIB, 128 * KIB, 16 * KIB)
        },
        Region::internal(Role::Secondary, 1152 * KIB, 896 * KIB, 128 * KIB),
    ]
}

/// The STM32H7 board's map over 2 MiB of 128 KiB sectors (RM0433: two banks of eight): the
/// bootloader in sector 0, the primary slot in sectors 1-7 (896 KiB, the rest of bank 1), the
/// secondary in bank 2's sectors 8-14, the scratch area in its last sector. Two 1 MiB slots do
/// not fit beside a bootloader on a 2 MiB part.
fn stm32h7_map() -> Vec<Region<'static>> {
    let s = 128 * KIB;
    vec![
        Region::internal(Role::Bootloader, 0, s, s),
        Region::internal(Role::Primary, s, 7 * s, s),
        Region::internal(Role::Secondary, 8 * s, 7 * s, s),
        Region::internal(Role::Scratch, 15 * s, s, s),
    ]
}

/// The nRF5340 board's map over the application core's 1 MiB of 4 KiB pages: the bootloader
/// 64 KiB, two slots of 472 KiB, a 16 KiB scratch area (the whole part; the nRF Connect SDK
/// lays MCUboot out the same way, with its own partition sizes).
fn nrf5340_map() -> Vec<Region<'static>> {
    let s = 4 * KIB;
    vec![
        Region::internal(Role::Bootloader, 0, 64 * KIB, s),
        Region::internal(Role::Primary, 64 * KIB, 472 * KIB, s),
        Region::internal(Role::Secondary, 536 * KIB, 472 * KIB, s),
        Region::internal(Role::Scratch, 1008 * KIB, 16 * KIB, s),
    ]
}

/// The nRF52840 DK with its two flash devices (see [`FlashProfile::nrf52840_qspi`]): in the
/// nRF52840's own 1 MiB of 4 KiB pages the bootloader (64 KiB), the primary slot (952 KiB, all
/// the room there is) and a two-page scratch area; on the MX25R6435F QSPI NOR, mapped at 1 MiB,
/// the secondary slot, as the nRF Connect SDK places `mcuboot_secondary` on the external flash
/// (its "external flash" MCUboot configuration). The external part's 4 KiB sectors match the
/// internal pages, so every sector of the two slots has one size, which swap-move and
/// swap-offset need (bootutil swap_move.c, `boot_slots_compatible`: "not same sector layout").
fn nrf52840_qspi_map() -> Vec<Region<'static>> {
    let s = 4 * KIB;
    let slot = 952 * KIB;
    vec![
        Region::internal(Role::Bootloader, 0, 64 * KIB, s),
        Region::internal(Role::Primary, 64 * KIB, slot, s),
        Region::internal(Role::Scratch, 64 * KIB + slot, 2 * s, s),
        Region::internal(Role::Secondary, 1024 * KIB, slot, s),
    ]
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
        let regions = standard_map(&flash).to_vec();
        Self::with_map(name, flash, regions)
    }

    /// A board with two 1 MiB slots over a flash part of at least 2 MiB + 72 KiB.
    pub fn with_large_slots(name: &str, flash: FlashProfile) -> BoardProfile {
        let regions = large_slot_map(&flash).to_vec();
        Self::with_map(name, flash, regions)
    }

    /// The STM32F4 board: mixed sector sizes, the scratch area in 16 and 64 KiB sectors.
    pub fn stm32f4(name: &str, flash: FlashProfile) -> BoardProfile {
        Self::with_map(name, flash, stm32f4_map())
    }

    /// The STM32H7 board: 128 KiB sectors, 32-byte ECC flash words.
    pub fn stm32h7(name: &str, flash: FlashProfile) -> BoardProfile {
        Self::with_map(name, flash, stm32h7_map())
    }

    /// The nRF5340 board: the application core's flash.
    pub fn nrf5340(name: &str, flash: FlashProfile) -> BoardProfile {
        Self::with_map(name, flash, nrf5340_map())
    }

    /// The nRF52840 DK with the secondary slot on its external QSPI NOR.
    pub fn nrf52840_qspi(name: &str, flash: FlashProfile) -> BoardProfile {
        Self::with_map(name, flash, nrf52840_qspi_map())
    }

    /// A board with a built-in region list (which must divide into whole swap units).
    fn with_map(name: &str, flash: FlashProfile, regions: Vec<Region<'static>>) -> BoardProfile {
        let layout = layout_of(&flash, &regions);
        BoardProfile {
            name: name.to_string(),
            flash,
            layout,
            regions,
        }
    }

    /// A board over `flash` whose map is `layout` (a station's map): one region per area, with
    /// the layout's sector size.
    pub fn with_layout(name: &str, flash: FlashProfile, layout: Layout) -> BoardProfile {
        BoardProfile {
            name: name.to_string(),
            flash,
            regions: layout.regions().collect(),
            layout,
        }
    }

    /// The board's flash map.
    pub fn map(&self) -> FlashMap<'_> {
        FlashMap {
            write_size: self.flash.write_size,
            regions: &self.regions,
        }
    }

    /// Whether `mode` can run on this board as MCUboot would: the slots' sectors fit the
    /// scheme (swap-move and swap-offset: all of one size; swap-scratch: the scratch holds the
    /// largest group a swap step moves), then the scheme's own layout check.
    ///
    /// On a board of several flash devices, a scheme that runs images from the secondary slot
    /// needs that slot on the part's own flash (the first device): elsewhere it is
    /// [`LayoutError::SecondaryNotExecutable`].
    pub fn check_mode(&self, mode: Mode) -> Result<(), LayoutError> {
        let layout = mode.check_map(&self.map())?;
        if mode.scheme().runs_from_secondary() && self.is_external(layout.secondary.offset) {
            return Err(LayoutError::SecondaryNotExecutable);
        }
        Ok(())
    }

    /// Whether `addr` is on a flash device other than the part's own (the first one).
    pub fn is_external(&self, addr: u32) -> bool {
        self.flash.device_at(addr).is_some_and(|(start, _)| start > 0)
    }

    /// The flash device that holds `addr`, by name (the part's own for a one-device board).
    pub fn device_name(&self, addr: u32) -> Option<&str> {
        self.flash.device_at(addr).map(|(_, d)| d.name.as_str())
    }

    /// The flash of the board's map that `mode` never writes ([`Mode::outside_areas`]): each
    /// part with the name of its region, in map order.
    pub fn outside(&self, mode: Mode) -> Vec<(String, Area)> {
        let mut out = Vec::new();
        mode.outside_areas(&self.map(), &self.layout, &mut |name, a| {
            out.push((name.to_string(), a))
        });
        out
    }

    /// The region of the map at `addr` and its sector sizes (for a report).
    pub fn region_at(&self, addr: u32) -> Option<&Region<'static>> {
        self.regions
            .iter()
            .find(|r| r.device.is_none() && Area::contains(&r.area, addr))
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
    fn the_new_parts_lay_mcuboot_out_as_their_manuals_allow() {
        let f4 = BoardProfile::builtin("stm32f4").unwrap();
        assert_eq!(f4.layout.sector_size, 128 * KIB);
        assert_eq!(
            (f4.layout.primary.size, f4.layout.secondary.size),
            (896 * KIB, 896 * KIB)
        );
        assert_eq!(f4.layout.scratch.size, 128 * KIB);
        // The bootloader and the scratch sit in the small sectors, the slots in the large ones:
        // each region's boundaries are sector boundaries of the part.
        let bounds: Vec<u32> = f4.flash.sectors().iter().map(|s| s.0).collect();
        for r in &f4.regions {
            assert!(bounds.contains(&r.area.offset), "{}", r.name);
            assert!(
                r.area.end() == f4.flash.size || bounds.contains(&r.area.end()),
                "{}",
                r.name
            );
        }
        for mode in [Mode::SWAP_SCRATCH, Mode::OVERWRITE, Mode::SWAP_MOVE, Mode::SWAP_OFFSET] {
            assert_eq!(f4.check_mode(mode), Ok(()), "{mode}");
        }
        let h7 = BoardProfile::builtin("stm32h7").unwrap();
        assert_eq!((h7.layout.sector_size, h7.layout.write_size), (128 * KIB, 32));
        // BOOT_MAX_ALIGN 32: the trailer's fixed fields take 32 + 4 x 32 bytes.
        assert_eq!(h7.layout.trailer_geom().align(), 32);
        assert_eq!(h7.layout.trailer_size(), 7 * 3 * 32 + 160);
        for mode in [Mode::SWAP_SCRATCH, Mode::OVERWRITE, Mode::SWAP_MOVE, Mode::SWAP_OFFSET] {
            assert_eq!(h7.check_mode(mode), Ok(()), "{mode}");
        }
        let n53 = BoardProfile::builtin("nrf5340").unwrap();
        assert_eq!(n53.layout.scratch.end(), n53.flash.size);
        for mode in [Mode::SWAP_SCRATCH, Mode::OVERWRITE, Mode::SWAP_MOVE, Mode::SWAP_OFFSET] {
            assert_eq!(n53.check_mode(mode), Ok(()), "{mode}");
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
