//! Named regions of the flash map, so an `every_op` offset can aim at the operations that
//! touch one of them (the trailers, say) instead of every operation of a phase.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// A region of the flash map, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlashRegion {
    /// The whole primary slot (trailer included).
    Primary,
    Secondary,
    Scratch,
    /// The MCUboot trailer at the end of the primary slot: swap status records, swap_size,
    /// swap_info, copy_done, image_ok, magic.
    PrimaryTrailer,
    SecondaryTrailer,
    /// The same number of bytes at the end of the scratch area (where a swap keeps its journal).
    ScratchTrailer,
}

impl FlashRegion {
    pub const ALL: [FlashRegion; 6] = [
        FlashRegion::Primary,
        FlashRegion::Secondary,
        FlashRegion::Scratch,
        FlashRegion::PrimaryTrailer,
        FlashRegion::SecondaryTrailer,
        FlashRegion::ScratchTrailer,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            FlashRegion::Primary => "primary",
            FlashRegion::Secondary => "secondary",
            FlashRegion::Scratch => "scratch",
            FlashRegion::PrimaryTrailer => "primary-trailer",
            FlashRegion::SecondaryTrailer => "secondary-trailer",
            FlashRegion::ScratchTrailer => "scratch-trailer",
        }
    }

    pub fn from_name(name: &str) -> Option<FlashRegion> {
        FlashRegion::ALL.into_iter().find(|r| r.name() == name)
    }

    pub fn names() -> Vec<&'static str> {
        FlashRegion::ALL.iter().map(|r| r.name()).collect()
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of flash regions: the ones an operation touches, or the ones an offset aims at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegionSet(u8);

impl RegionSet {
    pub const NONE: RegionSet = RegionSet(0);

    pub fn insert(&mut self, r: FlashRegion) {
        self.0 |= r.bit();
    }

    pub const fn contains(self, r: FlashRegion) -> bool {
        self.0 & r.bit() != 0
    }

    pub const fn intersects(self, other: RegionSet) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = FlashRegion> {
        FlashRegion::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// The regions of `map` that `[addr, addr + len)` overlaps.
    pub fn touched_by(addr: u32, len: u32, map: &RegionMap) -> RegionSet {
        let op = u64::from(addr)..u64::from(addr) + u64::from(len);
        let mut set = RegionSet::NONE;
        for (region, range) in &map.0 {
            if op.start < u64::from(range.end) && u64::from(range.start) < op.end {
                set.insert(*region);
            }
        }
        set
    }

    /// Parses `primary-trailer,scratch` (the form [`fmt::Display`] writes; empty for none).
    pub fn parse(text: &str) -> Option<RegionSet> {
        let mut set = RegionSet::NONE;
        for name in text.split(',').filter(|n| !n.is_empty()) {
            set.insert(FlashRegion::from_name(name)?);
        }
        Some(set)
    }
}

impl FromIterator<FlashRegion> for RegionSet {
    fn from_iter<I: IntoIterator<Item = FlashRegion>>(iter: I) -> Self {
        let mut set = RegionSet::NONE;
        for r in iter {
            set.insert(r);
        }
        set
    }
}

impl fmt::Display for RegionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(FlashRegion::name).collect();
        f.write_str(&names.join(","))
    }
}

/// Where each named region lies (byte addresses, end exclusive), from the target's flash map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionMap(pub Vec<(FlashRegion, Range<u32>)>);

impl RegionMap {
    /// The map of a slot-and-scratch layout: each area, and the last `trailer_size` bytes of
    /// each as its trailer.
    pub fn of_areas(primary: Range<u32>, secondary: Range<u32>, scratch: Range<u32>, trailer_size: u32) -> RegionMap {
        let tail = |r: &Range<u32>| r.end.saturating_sub(trailer_size).max(r.start)..r.end;
        RegionMap(vec![
            (FlashRegion::PrimaryTrailer, tail(&primary)),
            (FlashRegion::SecondaryTrailer, tail(&secondary)),
            (FlashRegion::ScratchTrailer, tail(&scratch)),
            (FlashRegion::Primary, primary),
            (FlashRegion::Secondary, secondary),
            (FlashRegion::Scratch, scratch),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_tagged_with_every_region_they_overlap() {
        let map = RegionMap::of_areas(0x1000..0x5000, 0x5000..0x9000, 0x9000..0xb000, 0x100);
        let t = |addr, len| RegionSet::touched_by(addr, len, &map).to_string();
        assert_eq!(t(0x1000, 0x1000), "primary");
        assert_eq!(t(0x4ff0, 0x10), "primary,primary-trailer");
        assert_eq!(t(0x4000, 0x1000), "primary,primary-trailer");
        assert_eq!(t(0x4eff, 1), "primary");
        assert_eq!(t(0xa000, 0x1000), "scratch,scratch-trailer");
        assert_eq!(t(0xb000, 4), "");
        // An erase across both slots.
        assert_eq!(t(0x4000, 0x2000), "primary,secondary,primary-trailer");
    }

    #[test]
    fn names_round_trip() {
        let set: RegionSet = [FlashRegion::ScratchTrailer, FlashRegion::Primary]
            .into_iter()
            .collect();
        assert_eq!(set.to_string(), "primary,scratch-trailer");
        assert_eq!(RegionSet::parse(&set.to_string()), Some(set));
        assert_eq!(RegionSet::parse(""), Some(RegionSet::NONE));
        assert_eq!(RegionSet::parse("primary,trailer"), None);
    }
}
