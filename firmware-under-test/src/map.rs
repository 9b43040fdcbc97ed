//! A flash map as a list of named, typed regions: each with a role, an address, a size, its
//! sector geometry (one sector size, or the list of its sectors when they differ) and the flash
//! device it lives on. The bootloader's compiled-in [`Layout`] is a view of it.
//!
//! No allocation: a map borrows its region table (a `static` one on a board, a parsed one on
//! the host).

use crate::layout::{Area, Layout, LayoutError, Role};

/// How a region is divided into erase sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sectors<'a> {
    /// Every sector has this size.
    Uniform(u32),
    /// The sizes of the region's sectors in address order (mixed sector sizes).
    List(&'a [u32]),
}

impl Sectors<'_> {
    /// The sector size when every sector of the region has the same one.
    pub fn uniform(&self) -> Option<u32> {
        match *self {
            Sectors::Uniform(s) => Some(s),
            Sectors::List([first, rest @ ..]) if rest.iter().all(|s| s == first) => Some(*first),
            Sectors::List(_) => None,
        }
    }

    /// The bytes the sectors cover (`None` for a uniform size, which covers any multiple).
    pub fn total(&self) -> Option<u64> {
        match *self {
            Sectors::Uniform(_) => None,
            Sectors::List(list) => Some(list.iter().map(|&s| u64::from(s)).sum()),
        }
    }
}

/// One named region of a flash map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region<'a> {
    pub name: &'a str,
    pub role: Role,
    pub area: Area,
    pub sectors: Sectors<'a>,
    /// The flash device the region lives on; `None` for the part's own flash.
    pub device: Option<&'a str>,
}

impl<'a> Region<'a> {
    /// A region of the part's own flash with uniform sectors, named after its role.
    pub const fn internal(role: Role, offset: u32, size: u32, sector_size: u32) -> Region<'static> {
        Region {
            name: role.name(),
            role,
            area: Area { offset, size },
            sectors: Sectors::Uniform(sector_size),
            device: None,
        }
    }
}

/// A flash map: the program unit and the regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashMap<'a> {
    /// Program unit in bytes.
    pub write_size: u32,
    pub regions: &'a [Region<'a>],
}

impl<'a> FlashMap<'a> {
    /// The first region with `role`.
    pub fn region(&self, role: Role) -> Option<&'a Region<'a>> {
        self.regions.iter().find(|r| r.role == role)
    }

    /// The region called `name`.
    pub fn named(&self, name: &str) -> Option<&'a Region<'a>> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// The bootloader's view: the slots and the scratch area, on one device, swapped in units
    /// of one size (a missing region reads as an empty area at 0, which [`Layout::validate`]
    /// rejects where a scheme needs it). A region on another device is not part of that view.
    ///
    /// The unit is the slots' largest sector. Slots of uniform sectors swap sector by sector,
    /// as before; slots of mixed sizes (an STM32F4 bank: 16, 64 and 128 KiB sectors) swap in
    /// groups of sectors that fill one unit each, as MCUboot pairs groups of sectors in
    /// `boot_slots_compatible` (bootutil's swap_scratch.c). Each slot and the scratch area must
    /// divide into whole units: a sector crossing a unit's end has no such view.
    pub fn layout(&self) -> Result<Layout, LayoutError> {
        let empty = Area { offset: 0, size: 0 };
        let internal = |role| self.region(role).filter(|r| r.device.is_none());
        let slots = [Role::Primary, Role::Secondary].map(internal);
        let unit = if slots.iter().any(Option::is_some) {
            slots.iter().flatten().map(|r| r.sectors.largest()).max().unwrap_or(0)
        } else {
            [Role::Scratch, Role::Bootloader]
                .into_iter()
                .find_map(internal)
                .map_or(Some(0), |r| r.sectors.uniform())
                .ok_or(LayoutError::NotSectorAligned)?
        };
        for role in [Role::Primary, Role::Secondary, Role::Scratch] {
            if let Some(r) = internal(role) {
                if !r.tiles(unit) {
                    return Err(LayoutError::NotSectorAligned);
                }
            }
        }
        let area = |role| internal(role).map_or(empty, |r| r.area);
        Ok(Layout {
            sector_size: unit,
            write_size: self.write_size,
            bootloader: area(Role::Bootloader),
            primary: area(Role::Primary),
            secondary: area(Role::Secondary),
            scratch: area(Role::Scratch),
        })
    }

    /// Whether the slots' sectors suit a scheme that copies by `rule`, as MCUboot's
    /// `boot_slots_compatible` judges it (bootutil's swap_move.c and swap_scratch.c), then the
    /// bootloader's view of the map.
    ///
    /// * [`SectorRule::Equal`] (swap-move, swap-offset): every sector of both slots has the same
    ///   size, else [`LayoutError::SectorsDiffer`] (MCUboot: "Cannot upgrade: not same sector
    ///   layout").
    /// * [`SectorRule::Scratch`] (swap-scratch): the scratch area holds the largest group of
    ///   sectors one swap step moves, else [`LayoutError::ScratchTooSmall`] (MCUboot: "Cannot
    ///   upgrade: not all sectors fit inside scratch").
    /// * [`SectorRule::Groups`] (overwrite) and [`SectorRule::Any`]: the view itself.
    pub fn check_sectors(&self, rule: SectorRule) -> Result<Layout, LayoutError> {
        let internal = |role| self.region(role).filter(|r| r.device.is_none());
        let (pri, sec) = (internal(Role::Primary), internal(Role::Secondary));
        match rule {
            SectorRule::Equal => {
                let sizes = [pri, sec].map(|r| r.map(|r| r.sectors.uniform()));
                match sizes {
                    [Some(Some(a)), Some(Some(b))] if a == b => {}
                    [Some(_), Some(_)] => return Err(LayoutError::SectorsDiffer),
                    _ => {}
                }
            }
            SectorRule::Scratch => {
                let unit = [pri, sec].iter().flatten().map(|r| r.sectors.largest()).max();
                if let (Some(unit), Some(scratch)) = (unit, internal(Role::Scratch)) {
                    if scratch.area.size < unit {
                        return Err(LayoutError::ScratchTooSmall);
                    }
                }
            }
            SectorRule::Groups | SectorRule::Any => {}
        }
        self.layout()
    }
}

/// What a scheme needs of the two slots' sectors to copy an image between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectorRule {
    /// Nothing is copied between the slots (A/B schemes): any sectors.
    Any,
    /// The image is copied in groups of sectors (overwrite-only).
    Groups,
    /// The slots swap through the scratch area, one group of sectors at a time: the scratch
    /// holds the largest group (swap-scratch).
    Scratch,
    /// The slots swap sector for sector: every sector of both the same size (swap-move,
    /// swap-offset).
    Equal,
}

impl Sectors<'_> {
    /// The largest sector.
    pub fn largest(&self) -> u32 {
        match *self {
            Sectors::Uniform(s) => s,
            Sectors::List(list) => list.iter().copied().max().unwrap_or(0),
        }
    }
}

impl Region<'_> {
    /// Whether the region divides into whole `unit`s with no sector crossing a unit's end
    /// (and its sector list, if it has one, covers it exactly).
    pub fn tiles(&self, unit: u32) -> bool {
        if unit == 0 || !self.area.size.is_multiple_of(unit) {
            return false;
        }
        match self.sectors {
            Sectors::Uniform(s) => s != 0 && unit.is_multiple_of(s),
            Sectors::List(list) => {
                let mut in_unit = 0u64;
                for &s in list {
                    in_unit += u64::from(s);
                    if s == 0 || in_unit > u64::from(unit) {
                        return false;
                    }
                    if in_unit == u64::from(unit) {
                        in_unit = 0;
                    }
                }
                in_unit == 0 && self.sectors.total() == Some(u64::from(self.area.size))
            }
        }
    }
}

impl Layout {
    /// The layout as named, typed regions (the bootloader's four, those with a size).
    pub fn regions(&self) -> impl Iterator<Item = Region<'static>> + '_ {
        [
            (Role::Bootloader, self.bootloader),
            (Role::Primary, self.primary),
            (Role::Secondary, self.secondary),
            (Role::Scratch, self.scratch),
        ]
        .into_iter()
        .filter(|(_, a)| a.size > 0)
        .map(|(role, a)| Region::internal(role, a.offset, a.size, self.sector_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: u32 = 1024;

    /// An STM32F4 bank's small sectors: four of 16 KiB and one of 64 KiB (RM0090).
    const F4_SMALL: &[u32] = &[16 * K, 16 * K, 16 * K, 16 * K, 64 * K];

    /// A region of the part's own flash called `name`, its sectors listed.
    fn listed(name: &'static str, role: Role, offset: u32, sectors: &'static [u32]) -> Region<'static> {
        Region {
            name,
            role,
            area: Area {
                offset,
                size: sectors.iter().sum(),
            },
            sectors: Sectors::List(sectors),
            device: None,
        }
    }

    /// The map of `regions` on a part that programs 4-byte words.
    fn words4<'a>(regions: &'a [Region<'a>]) -> FlashMap<'a> {
        FlashMap { write_size: 4, regions }
    }

    #[test]
    fn a_map_with_mixed_sectors_and_a_second_device_gives_the_bootloader_its_layout() {
        // An STM32F4-like part: four 16 KiB sectors and one of 64 KiB for the bootloader, 128 KiB
        // sectors for the slots, and a serial NOR beside it for logs.
        let regions = [
            listed("mcuboot", Role::Bootloader, 0, F4_SMALL),
            Region::internal(Role::Primary, 128 * K, 384 * K, 128 * K),
            Region::internal(Role::Secondary, 512 * K, 384 * K, 128 * K),
            Region::internal(Role::Scratch, 896 * K, 128 * K, 128 * K),
            Region {
                name: "log",
                role: Role::Metadata,
                area: Area {
                    offset: 0,
                    size: 64 * K,
                },
                sectors: Sectors::Uniform(4 * K),
                device: Some("w25q128"),
            },
        ];
        let map = FlashMap {
            write_size: 8,
            regions: &regions,
        };
        let l = map.layout().unwrap();
        assert_eq!(l.sector_size, 128 * K);
        assert_eq!(
            l.bootloader,
            Area {
                offset: 0,
                size: 128 * K
            }
        );
        assert_eq!(l.primary.offset, 128 * K);
        assert_eq!(l.validate(), Ok(()));
        assert_eq!(map.named("log").unwrap().device, Some("w25q128"));
        assert_eq!(l.regions().count(), 4);

        // Slots whose sectors differ cannot be swapped sector for sector.
        let odd = [64 * K, 128 * K, 192 * K];
        let mut bad = regions;
        bad[1].sectors = Sectors::List(&odd);
        let map = FlashMap {
            write_size: 8,
            regions: &bad,
        };
        assert_eq!(map.layout(), Err(LayoutError::NotSectorAligned));
    }

    #[test]
    fn a_layout_and_its_regions_round_trip() {
        let l = Layout {
            sector_size: 4096,
            write_size: 4,
            bootloader: Area {
                offset: 0,
                size: 0x10000,
            },
            primary: Area {
                offset: 0x10000,
                size: 0x30000,
            },
            secondary: Area {
                offset: 0x40000,
                size: 0x30000,
            },
            scratch: Area {
                offset: 0x70000,
                size: 0x2000,
            },
        };
        let regions: [Region<'static>; 4] = {
            let mut it = l.regions();
            core::array::from_fn(|_| it.next().unwrap())
        };
        assert_eq!(regions[1].name, "primary");
        let map = words4(&regions);
        assert_eq!(map.layout(), Ok(l));
    }

    /// An STM32F4-like 2 MiB part: bank 1 is 4x16, 1x64, 7x128 KiB (RM0090), bank 2 the same.
    fn f4_regions(scratch: &'static [u32], primary: Sectors<'static>) -> [Region<'static>; 4] {
        [
            listed("mcuboot", Role::Bootloader, 0, F4_SMALL),
            Region {
                sectors: primary,
                ..Region::internal(Role::Primary, 128 * K, 896 * K, 128 * K)
            },
            Region::internal(Role::Secondary, 1152 * K, 896 * K, 128 * K),
            listed("scratch", Role::Scratch, 1024 * K, scratch),
        ]
    }

    #[test]
    fn a_scratch_of_small_sectors_holds_a_large_slot_sector_when_it_adds_up_to_one() {
        // Bank 2's four 16 KiB sectors and its 64 KiB one: 128 KiB of scratch, as large as a
        // slot sector, so swap-scratch accepts it (MCUboot: the scratch holds each swap step).
        let regions = f4_regions(F4_SMALL, Sectors::Uniform(128 * K));
        let map = words4(&regions);
        let l = map.check_sectors(SectorRule::Scratch).unwrap();
        assert_eq!((l.sector_size, l.scratch.size), (128 * K, 128 * K));
        assert_eq!(l.validate(), Ok(()));
        // The slots are of one sector size, so swap-move accepts them too.
        assert_eq!(map.check_sectors(SectorRule::Equal), Ok(l));

        // Only the four 16 KiB sectors: smaller than a slot sector, refused as MCUboot refuses
        // it ("not all sectors fit inside scratch").
        const SMALL: &[u32] = &[16 * K, 16 * K, 16 * K, 16 * K];
        let regions = f4_regions(SMALL, Sectors::Uniform(128 * K));
        let map = words4(&regions);
        assert_eq!(
            map.check_sectors(SectorRule::Scratch),
            Err(LayoutError::ScratchTooSmall)
        );
        // Swap-move uses no scratch, but a scratch region in the map is part of the bootloader's
        // view, which swaps in 128 KiB units: a 64 KiB scratch has no place in it.
        assert_eq!(map.check_sectors(SectorRule::Equal), Err(LayoutError::NotSectorAligned));
    }

    #[test]
    fn mixed_slot_sectors_swap_in_groups_but_not_sector_for_sector() {
        // A primary of 64 KiB sectors beside a secondary of 128 KiB ones: two primary sectors
        // pair with one secondary sector (MCUboot's swap-scratch and overwrite accept it),
        // swap-move and swap-offset do not ("not same sector layout").
        let regions = f4_regions(F4_SMALL, Sectors::Uniform(64 * K));
        let map = words4(&regions);
        let l = map.check_sectors(SectorRule::Scratch).unwrap();
        assert_eq!(l.sector_size, 128 * K);
        assert_eq!(map.check_sectors(SectorRule::Groups), Ok(l));
        assert_eq!(map.check_sectors(SectorRule::Equal), Err(LayoutError::SectorsDiffer));

        // A slot whose sectors cannot be grouped into 128 KiB units (64 KiB then 128 KiB).
        const ODD: &[u32] = &[64 * K, 128 * K, 128 * K, 128 * K, 128 * K, 128 * K, 128 * K, 64 * K];
        let regions = f4_regions(F4_SMALL, Sectors::List(ODD));
        let map = words4(&regions);
        assert_eq!(
            map.check_sectors(SectorRule::Scratch),
            Err(LayoutError::NotSectorAligned)
        );
        assert_eq!(map.check_sectors(SectorRule::Equal), Err(LayoutError::SectorsDiffer));
    }
}
