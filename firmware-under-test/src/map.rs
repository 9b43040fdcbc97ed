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

    /// The bootloader's view: the slots and the scratch area, on one device with one sector
    /// size (a missing region reads as an empty area at 0, which [`Layout::validate`] rejects
    /// where a scheme needs it). A region on another device, or with sectors of another size
    /// than the slots', is not part of that view: the bootloader's swap works on whole,
    /// equal sectors of the part it runs on.
    pub fn layout(&self) -> Result<Layout, LayoutError> {
        let empty = Area { offset: 0, size: 0 };
        let internal = |role| self.region(role).filter(|r| r.device.is_none());
        let slot_sector = [Role::Primary, Role::Secondary, Role::Scratch, Role::Bootloader]
            .into_iter()
            .find_map(internal)
            .map_or(Some(0), |r| r.sectors.uniform())
            .ok_or(LayoutError::NotSectorAligned)?;
        for role in [Role::Primary, Role::Secondary, Role::Scratch] {
            if let Some(r) = internal(role) {
                if r.sectors.uniform() != Some(slot_sector)
                    || r.sectors.total().is_some_and(|t| t != u64::from(r.area.size))
                {
                    return Err(LayoutError::NotSectorAligned);
                }
            }
        }
        let area = |role| internal(role).map_or(empty, |r| r.area);
        Ok(Layout {
            sector_size: slot_sector,
            write_size: self.write_size,
            bootloader: area(Role::Bootloader),
            primary: area(Role::Primary),
            secondary: area(Role::Secondary),
            scratch: area(Role::Scratch),
        })
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

    #[test]
    fn a_map_with_mixed_sectors_and_a_second_device_gives_the_bootloader_its_layout() {
        // An STM32F4-like part: four 16 KiB sectors and one of 64 KiB for the bootloader, 128 KiB
        // sectors for the slots, and a serial NOR beside it for logs.
        let boot_sectors = [16 * K, 16 * K, 16 * K, 16 * K, 64 * K];
        let regions = [
            Region {
                name: "mcuboot",
                role: Role::Bootloader,
                area: Area {
                    offset: 0,
                    size: 128 * K,
                },
                sectors: Sectors::List(&boot_sectors),
                device: None,
            },
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
        let map = FlashMap {
            write_size: 4,
            regions: &regions,
        };
        assert_eq!(map.layout(), Ok(l));
    }
}
