//! Deliberately broken variants, each modelled on a power-loss bug that reached the field.
//!
//! The reference variant is correct; every other one reintroduces one window that the rig
//! must find.

/// Which build of the firmware runs. With the `serde` feature it reads and writes as its
/// [`Variant::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Variant {
    /// The correct bootloader and application.
    Reference,
    /// The swap writes no status records, so an interrupted swap restarts from the first
    /// region over half-swapped data (the reason MCUboot keeps swap status).
    NoSwapStatus,
    /// The application raises the upgrade request (trailer magic) before the image is
    /// complete, and the bootloader trusts a raised request without validating the image.
    EarlyTrailerMagic,
    /// The application confirms itself at boot, before its health check (MCUboot users'
    /// common mistake; a broken image then stays).
    ConfirmAtBoot,
    /// The swap records the scratch copy in a marker at the top of a multi-sector scratch
    /// area and erases the scratch forward in one call: a cut part-way leaves the marker
    /// and erased data (MCUboot commit f76fba70).
    ScratchEraseForward,
    /// A torn trailer magic at the start of a revert is read as "no swap" and the unconfirmed
    /// image keeps running (MCUboot #1966).
    TornMagicRevert,
    /// Overwrite-only upgrade that clears the request before the copy, so a cut mid-copy
    /// leaves no image and no way back (esp8266/Arduino PR #6823).
    OverwriteNoRollback,
    /// Swap progress kept in one metadata record rewritten by erase-then-write of its sector
    /// (rboot #33).
    SingleSectorMetadata,
    /// The swap records the step that moves the old image into the secondary slot as done
    /// once that region is erased, before the copy it describes: a cut inside the copy leaves
    /// the step recorded, the resumed swap skips it and the new image boots, but the copy the
    /// device would revert to is torn (progress recorded before the data it describes; the
    /// rollback copy is lost while the update is still on test).
    StatusBeforeCopy,
    /// The swap leaves the upgrade request in the secondary trailer until the swap is done and
    /// reported, then clears it, instead of consuming it before the first region moves: a cut
    /// in between leaves the request standing over the old image the swap put in the
    /// secondary, and the next boot swaps it back (a stale request re-run after a committed
    /// permanent upgrade: a silent downgrade).
    StaleSwapRequest,
}

impl Variant {
    pub const ALL: [Variant; 10] = [
        Variant::Reference,
        Variant::NoSwapStatus,
        Variant::EarlyTrailerMagic,
        Variant::ConfirmAtBoot,
        Variant::ScratchEraseForward,
        Variant::TornMagicRevert,
        Variant::OverwriteNoRollback,
        Variant::SingleSectorMetadata,
        Variant::StatusBeforeCopy,
        Variant::StaleSwapRequest,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Variant::Reference => "reference",
            Variant::NoSwapStatus => "no-swap-status",
            Variant::EarlyTrailerMagic => "early-trailer-magic",
            Variant::ConfirmAtBoot => "confirm-at-boot",
            Variant::ScratchEraseForward => "scratch-erase-forward",
            Variant::TornMagicRevert => "torn-magic-revert",
            Variant::OverwriteNoRollback => "overwrite-no-rollback",
            Variant::SingleSectorMetadata => "single-sector-metadata",
            Variant::StatusBeforeCopy => "status-before-copy",
            Variant::StaleSwapRequest => "stale-swap-request",
        }
    }

    pub fn from_name(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The bootloader mode this variant needs (overwrite-only variants cannot swap).
    pub const fn forces_overwrite(self) -> bool {
        matches!(self, Variant::OverwriteNoRollback)
    }
}

impl core::fmt::Display for Variant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
