//! Where things live in flash, and the MCUboot trailer geometry that follows from it.

/// A region of flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub offset: u32,
    pub size: u32,
}

impl Area {
    /// End address (saturating: a layout reaching past 4 GiB fails validation instead).
    pub const fn end(&self) -> u32 {
        self.offset.saturating_add(self.size)
    }

    pub const fn contains(&self, addr: u32) -> bool {
        addr >= self.offset && addr < self.end()
    }
}

/// What a region of the flash map is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The bootloader's own code.
    Bootloader,
    /// The slot the device boots from.
    Primary,
    /// The slot an update is downloaded into.
    Secondary,
    /// Scratch space a scheme copies through (and keeps a journal in).
    Scratch,
    /// A region that holds only a scheme's metadata.
    Metadata,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Bootloader,
        Role::Primary,
        Role::Secondary,
        Role::Scratch,
        Role::Metadata,
    ];

    /// The name flash map files give the region.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Bootloader => "bootloader",
            Role::Primary => "primary",
            Role::Secondary => "secondary",
            Role::Scratch => "scratch",
            Role::Metadata => "metadata",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// The flash map compiled into the bootloader and the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub sector_size: u32,
    pub write_size: u32,
    pub bootloader: Area,
    pub primary: Area,
    pub secondary: Area,
    pub scratch: Area,
}

/// Status records per region (one per copy step).
pub const STATUS_STATES: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    SlotsDiffer,
    NotSectorAligned,
    Overlap,
    /// The scratch region is smaller than the scheme needs (one sector for swap-scratch, two for
    /// an A/B scheme's record).
    ScratchTooSmall,
    /// The scheme keeps something in the map's scratch region (swap-scratch swaps the slots
    /// through it; an A/B scheme keeps its record there) and the map has none
    /// ([`Layout::require_scratch`]). Swap-move, swap-offset and overwrite need none: MCUboot
    /// builds them without a scratch partition.
    NoScratch,
    TrailerTooLarge,
    /// The part's erase and write sizes are not among those a scheme's flash driver is built
    /// for (embassy-boot takes them as compile-time constants).
    GeometryUnsupported,
    /// The slots' sectors differ in size where the scheme swaps sector for sector.
    SectorsDiffer,
    /// The part programs in larger units than the widest trailer alignment MCUboot takes
    /// ([`crate::trailer::MAX_ALIGN`], 32): BOOT_MAX_ALIGN must be at least the write size.
    WriteTooWide,
    /// The scheme runs an image in place from the secondary slot, and the secondary slot is on
    /// a device the part does not run code from (a serial NOR read through its driver). MCUboot
    /// runs an image from the flash it was built for (docs/design.md, "Limitations": "Built to
    /// run from flash", "from a fixed location"); only the schemes that copy the image into the
    /// primary slot can keep the secondary on such a device.
    SecondaryNotExecutable,
}

impl Layout {
    /// Checks the invariants the bootloader relies on. The scratch area is checked only when
    /// the map has one (a size above 0): on whole sectors and apart from the others. Whether a
    /// scheme needs one is the scheme's to say ([`Layout::require_scratch`]).
    pub fn validate(&self) -> Result<(), LayoutError> {
        if self.primary.size != self.secondary.size {
            return Err(LayoutError::SlotsDiffer);
        }
        if self.write_size > crate::trailer::MAX_ALIGN {
            return Err(LayoutError::WriteTooWide);
        }
        let s = self.sector_size;
        let areas = [self.bootloader, self.primary, self.secondary, self.scratch];
        if s == 0
            || areas
                .iter()
                .any(|a| !a.offset.is_multiple_of(s) || !a.size.is_multiple_of(s))
        {
            return Err(LayoutError::NotSectorAligned);
        }
        if areas.iter().any(|a| a.offset.checked_add(a.size).is_none())
            || (self.sectors_per_slot() as u64) * (STATUS_STATES as u64) * (self.write_size as u64)
                > u32::MAX as u64 / 2
        {
            return Err(LayoutError::TrailerTooLarge);
        }
        for (i, a) in areas.iter().enumerate() {
            for b in &areas[i + 1..] {
                if a.offset < b.end() && b.offset < a.end() {
                    return Err(LayoutError::Overlap);
                }
            }
        }
        if self.trailer_sectors() >= self.sectors_per_slot() {
            return Err(LayoutError::TrailerTooLarge);
        }
        Ok(())
    }

    /// Whether the map has a scratch region of at least `sectors` sectors: none at all is
    /// [`LayoutError::NoScratch`], a smaller one [`LayoutError::ScratchTooSmall`].
    pub const fn require_scratch(&self, sectors: u32) -> Result<(), LayoutError> {
        if self.scratch.size == 0 {
            return Err(LayoutError::NoScratch);
        }
        if (self.scratch.size as u64) < sectors as u64 * self.sector_size as u64 {
            return Err(LayoutError::ScratchTooSmall);
        }
        Ok(())
    }

    /// Whether the map states a scratch region.
    pub const fn has_scratch(&self) -> bool {
        self.scratch.size > 0
    }

    pub const fn sectors_per_slot(&self) -> u32 {
        self.primary.size / self.sector_size
    }

    /// Size of one swap status record (one write granule).
    pub const fn status_record_size(&self) -> u32 {
        self.write_size
    }

    /// The trailer's geometry (BOOT_MAX_ALIGN and the field offsets) this layout's bootloader uses.
    pub const fn trailer_geom(&self) -> crate::trailer::Geom {
        crate::trailer::Geom::of(self)
    }

    /// Bytes of the trailer's fixed fields: swap_size, swap_info, copy_done, image_ok, magic.
    pub const fn trailer_info_size(&self) -> u32 {
        self.trailer_geom().info_size()
    }

    /// Bytes of trailer at the end of a slot: status records for every sector plus the fixed fields.
    pub const fn trailer_size(&self) -> u32 {
        self.sectors_per_slot() * STATUS_STATES * self.status_record_size() + self.trailer_info_size()
    }

    /// Number of sectors at the end of a slot that hold the trailer (never image data).
    pub const fn trailer_sectors(&self) -> u32 {
        self.trailer_size().div_ceil(self.sector_size)
    }

    /// The largest signed image (header, body, TLVs) a slot can hold.
    pub const fn max_image_size(&self) -> u32 {
        (self.sectors_per_slot() - self.trailer_sectors()) * self.sector_size
    }

    /// Offset of the trailer sectors within a slot.
    pub const fn trailer_sector_offset(&self) -> u32 {
        self.max_image_size()
    }

    pub const fn slot(&self, which: Slot) -> Area {
        match which {
            Slot::Primary => self.primary,
            Slot::Secondary => self.secondary,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Primary,
    Secondary,
}

impl Slot {
    /// The other slot of the pair.
    pub const fn other(self) -> Slot {
        match self {
            Slot::Primary => Slot::Secondary,
            Slot::Secondary => Slot::Primary,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Slot::Primary => "primary",
            Slot::Secondary => "secondary",
        }
    }
}
