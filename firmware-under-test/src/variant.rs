//! Deliberately broken variants, each modelled on a bug that reached the field.
//!
//! The reference variant is correct; every other one reintroduces one window that the rig
//! must find: a power-loss window, or (the last three) an image check the build skips, which
//! only a spoiled update shows.

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
    /// image keeps running (MCUboot #1966). In swap-move the build starts a revert without first
    /// writing the revert's request into the secondary trailer (MCUboot's `fixup_revert`): a cut
    /// while the primary trailer is rewritten leaves no record of the revert, and the failing
    /// image runs on (FIELD-BUGS row 5: MCUboot #1966 / PR #2100).
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
    /// Image validation never compares the SHA-256 TLV with the digest of the image: the
    /// signature is verified over the digest the TLV claims, so the bytes it stands for are
    /// never looked at and a body changed after signing boots (the class of a signed manifest
    /// whose hash is not recomputed over the payload). Both gates run this validation: the
    /// application's check after a download and the bootloader's before it installs. Invisible
    /// with a genuine image, whose TLV is its digest.
    IntegritySkipped,
    /// Image validation checks the SHA-256 TLV but never verifies the signature (signature
    /// checking configured out, or a fail-open path that accepts an image without a signature
    /// entry): an unsigned image (`imgtool sign` without a key: the hash TLV alone) boots.
    SignatureSkipped,
    /// A build that takes its key from the image (MCUboot's MCUBOOT_HW_KEY: the whole public
    /// key in a PUBKEY TLV, its hash provisioned in the device, MCUboot PR #704) but skips
    /// comparing the hash of the image's key with the provisioned one (as MCUboot PR #2310's
    /// MCUBOOT_BYPASS_KEY_MATCH does, which is safe only when the key is built in): the
    /// signature is verified with whatever key the image carries, so an image signed by any
    /// key boots. With a built-in key and a KEYHASH TLV the bug is invisible: the signature is
    /// still verified with the trusted key.
    KeyNotCompared,
    /// ESP-IDF otadata: after a bootloader fallback (the newer entry aborted, the older slot
    /// booted), the application selects its own slot again, which rewrites the running slot's
    /// entry in place: erase, then write. A cut in between leaves no valid entry beside the
    /// aborted one, and the bootloader's no-otadata path boots `ota_0` whatever it holds
    /// (FIELD-BUGS row 8, ruuvi.gateway_esp.c #1280 / PR #1283: otadata entry of the running
    /// slot overwritten after a bootloader fallback).
    OtadataRunningRewritten,
    /// ESP-IDF otadata: the application selects the new slot by rewriting the *active* entry's
    /// sector (erase, then write) instead of the inactive one, so one sector holds the record
    /// that matters and a cut between the erase and the write loses it (FIELD-BUGS row 10,
    /// rboot #33: erase-then-write of a single config sector).
    OtadataSingleSector,
    /// ESP-IDF otadata: the application's start-up requires `esp_ota_get_boot_partition` to
    /// name a partition; when otadata holds no valid entry (an entry that is not erased and
    /// not aborted, with a CRC that does not match: the field's `crc=0x00000000`) that call
    /// returns NULL on a partition table without a factory app, the start-up fails, the
    /// rollback it then asks for is refused (no active entry: "Running firmware is factory")
    /// and the application restarts. The bootloader tries every slot and boots `ota_0` again,
    /// and nothing ever rewrites otadata: a reboot loop (FIELD-BUGS row 9, ruuvi.gateway_esp.c
    /// #1278 / PR #1279: `fw_update_read_flash_info_internal` returned false on a NULL boot
    /// partition and `app_main` rolled back and restarted). The reference goes on running the
    /// image the bootloader booted, and its next update writes otadata afresh.
    OtadataInvalidReboot,
    /// The application takes an image_ok that reads set for a finished confirmation, without
    /// checking that it reads set on every read (MCUboot's `boot_set_confirmed_multi` returns
    /// at once when image_ok reads set): a cut inside the confirmation that leaves image_ok
    /// weak is never programmed again, and some later boot that reads it unset reverts an
    /// image the device reported committed. Caught only by the pass rule's check that no
    /// metadata the bootloader relies on holds a weak bit once the device settled.
    ConfirmedOnOneRead,
    /// Swap-move: a new swap takes a primary trailer that already reads a good magic as its
    /// own and writes neither swap type nor swap size into it. A primary flashed padded and
    /// confirmed (`imgtool sign --pad --confirm`) has one: a cut mid-swap leaves a resumed swap
    /// reading swap_size as erased, so nothing resumes and the half-moved slot is booted
    /// (FIELD-BUGS row 2: MCUboot #829, Zephyr #28933, fixed by MCUboot PR #830).
    TrailerInitSkipped,
    /// Swap-move: a swap resumed after its last move-up (every sector moved, no swap step
    /// recorded) looks for the moving image's header in the primary's first sector instead of
    /// its second; a cut inside the first swap step has erased that sector, no header is found
    /// and the swap never completes: a permanent brick (FIELD-BUGS row 4: MCUboot #1588, fixed
    /// by PR #1597; about 1 in 50 resets on an nRF52840).
    ///
    /// Swap-offset has no move stage, but the bug's cause (the index of the swap's last sector
    /// kept in a global a reset loses) reaches its header lookup too: forwards, the index only
    /// bounds a test a lost one still answers right, so no window; a revert resumed inside or
    /// after its last step (sector 0) looks for the headers where they were before that step,
    /// in sectors the step and the end of the revert erase: a brick
    /// (`swap_offset::header_places`; campaign known-bugs/stale-header-after-move-swap-offset).
    StaleHeaderAfterMove,
    /// Swap-move: a revert sets image_ok only when it finishes, into the slot it takes for the
    /// running one, and a revert resumed after a cut takes the secondary: the confirm flag lands
    /// in the wrong slot, the primary reads unconfirmed with copy_done set, and the next boot
    /// reverts again, an extra swap that brings the failing image back (FIELD-BUGS row 1:
    /// MCUboot #480, fixed by PR #485, which keeps the swap type in the trailer).
    RevertConfirmInSecondary,
    /// Redundant copies: the 8-bit generation counter is compared as a plain number, without
    /// its wrap, so after generation 255 the copy written next (flags 0) loses to the older one
    /// and the reader takes the stale record (FIELD-BUGS row 16, fwup #214 / PR #215: the wrong
    /// U-Boot environment selected once the 8-bit counter wrapped).
    RedundantGenerationNoWrap,
    /// Direct-XIP: the bootloader boots the valid slot with the highest version without reading
    /// its trailer, so an image that was tried and never confirmed is booted again at every
    /// reset: no revert. A new image that fails its health check crash-loops for good instead
    /// of falling back to the other slot (a direct-XIP build without MCUBOOT_DIRECT_XIP_REVERT
    /// under an application that asks for test upgrades and expects them reverted).
    XipBootsUnconfirmed,
    /// Swap-scratch: once a swap resumed after a cut completes, the bootloader validates the
    /// primary slot with the header of the image the swap moved out (its copy of the headers,
    /// reloaded the wrong way round for the slots' new contents). When the two images differ in
    /// size the TLVs are looked for in the wrong place, the primary reads invalid and the boot
    /// stops; the next boot finds a finished test swap never confirmed and reverts it: a
    /// spurious revert of a good update (FIELD-BUGS row 6: MCUboot PR #2109, commit 2ac79767,
    /// "Fix the reading of image headers after partial swap completion").
    StaleHeaderAfterResume,
    /// embassy-boot: the published 0.1.1 instead of 0.7.0. Its updater's `set_magic` (and its
    /// bootloader after a revert) programs zeros over the magic word without erasing it first
    /// (FIELD-BUGS row 11, fixed by embassy-boot commit df3a1e1b9 "Avoid write to not-erased
    /// magic", April 2023, first published in 0.2.0). Where it bites: the STM32U5, which refuses
    /// an all-zero program over a quad-word already all zero (RM0456 Rev 6, §7.3.9). A cut after
    /// the zero write and before the erase leaves the magic all zero, and every later
    /// `mark_updated` writes zeros over it again and is refused: the update can never be
    /// requested again (`known-bugs/embassy-boot-magic-rewrite.toml`). On the STM32L4, which
    /// accepts all-zero data over any written double-word (RM0351), the bug is invisible.
    EmbassyBootMagicRewrite,
    /// Redundant copies: the reader takes the copy with the newer generation as soon as its
    /// bytes are not all erased, without checking the CRC over its body, boots the slot the
    /// body names and takes a state it does not know for no trial (a reader that trusts the
    /// header of an environment copy and never checks the data the CRC stands for). A write
    /// whose tail reads back as zeros (FIELD-BUGS row 17, nerves_runtime #375: the last 32 KiB
    /// of a 128 KiB U-Boot environment write found zeroed on 0.002 % of field devices) leaves
    /// a copy whose generation is written and whose slot and state are zeros: this build boots
    /// the slot a zeroed body names, without a trial, where the reference's CRC over the whole
    /// record rejects the copy and the other one wins. The zeroed tail is a fault the campaign
    /// injects (`[run] fault = "zeroed-tail"`), not this build's writer: the field report puts
    /// it in the storage below a writer that wrote the whole block, and a fault of the storage
    /// is the same for every scheme.
    RedundantBodyUnchecked,
    /// embassy-boot: the published 0.1.1, under an application that prepares the DFU partition
    /// for its next update (`prepare_update`, which erases it) as soon as it starts, before its
    /// health check and `mark_booted`. After a swap the DFU partition holds the old image, the
    /// only copy a revert can bring back: a failed health check, or a cut before `mark_booted`,
    /// reverts from an erased partition and leaves no image to boot (FIELD-BUGS row 12, fixed by
    /// embassy-boot commit 76659d900 "Prevent accidental revert when using firmware updater",
    /// June 2023, first published in 0.2.0: the updater's `prepare_update` and `write_firmware`
    /// refuse with `BadState` until the image is marked booted, `verify_booted` in 0.7.0's
    /// `firmware_updater/blocking.rs`).
    EmbassyBootDfuErasedBeforeBooted,
    /// Atomic word: a build that relies on the part rewriting the boot word atomically. It
    /// trusts the word as read: the check bytes (`!slot`, `!state`) are never compared, a word
    /// that is not all erased selects the slot its first byte names (0 = a, anything else = b)
    /// in the state its second byte names (one it does not know is no trial), and the
    /// bootloader never falls back to the other slot when the selected one holds no valid
    /// image: it stops. Correct where the part's profile says the word is atomic (`stm32l4`,
    /// as STM32 option bytes); on a part that tears the word (`nrf52840`) a cut word selects a
    /// slot nobody wrote, or a trial state nobody meant.
    AtomicWordUnchecked,
    /// An invalid image in the secondary slot is erased with its whole slot from the first
    /// sector up (header first, trailer and its upgrade request last), and a slot whose header
    /// reads erased is taken for "no image" and left as it is. A cut inside that erase leaves
    /// the request standing over an erased header for good: the device boots its old image,
    /// but mcumgr takes the slot for pending and refuses every later upload (FIELD-BUGS row 3:
    /// MCUboot commit 260ec457, "Fix erase of possible trailer leftover after reset"). Reached
    /// in the modes that drop an invalid request: swap-scratch, overwrite, swap-move and
    /// swap-offset; with an update that fails the bootloader's check, uploaded
    /// (`delivery = "upload"`).
    ///
    /// Direct-XIP has no such window, and the variant runs there as the reference does (this
    /// bootloader's direct-XIP erases an invalid slot as MCUboot does, and nothing in it reads a
    /// trailer left over an erased header). MCUboot's direct-XIP
    /// does erase an invalid slot forwards, header first (`boot_validate_slot` calls
    /// `boot_scramble_slot` for either slot there, since `ARE_SLOTS_EQUIVALENT()` is 1 under
    /// MCUBOOT_DIRECT_XIP, bootutil_priv.h; `boot_scramble_slot` scrambles from offset 0 up,
    /// bootutil_area.c; loader.c and both files at mcu-tools/mcuboot 2d4bacc), and the
    /// trailer-clearing fix of 260ec457 is compiled only under MCUBOOT_SWAP_USING_SCRATCH,
    /// _MOVE and _OFFSET. But a trailer left over an erased header blocks nothing there:
    /// - the bootloader never reads it: a slot whose header is not valid is no candidate
    ///   (`boot_get_slot_usage`, `find_slot_with_highest_version`), so it is not the next boot;
    /// - mcumgr does not take the slot for in use: in direct-XIP `img_mgmt_slot_in_use` skips
    ///   the next-boot-slot check and answers for the running slot only
    ///   (`#if !defined(CONFIG_MCUBOOT_BOOTLOADER_MODE_DIRECT_XIP)`, Zephyr's
    ///   subsys/mgmt/mcumgr/grp/img_mgmt/src/img_mgmt_state.c);
    /// - the next upload erases the trailer with the slot (`img_mgmt_erase_image_data`: "erase
    ///   the image trailer area if it was not erased", zephyr_img_mgmt.c), as this firmware's
    ///   direct-XIP application does (`prepare_download`).
    InvalidEraseForward,
    /// MCUboot: the bootloader reads each slot's trailer with one plain flash read and takes an
    /// uncorrectable ECC error as a fault, as the STM32H7 raises a bus fault on a flash word
    /// with a double-bit error. A cut inside a trailer write leaves such a word, and every later
    /// boot stops on it: the device never boots again (FIELD-BUGS row 13: Zephyr #33140, a bus
    /// fault stopped MCUboot after an interrupted upgrade on an STM32H7; row 14, RIOT #17874,
    /// is the same class at the image header). The reference reads a torn word as a bad field.
    EccErrorFaults,
    /// Pending-flag log: a transaction clears its pending flag (programs the done word) before
    /// it writes the boot target. A cut between the two leaves a completed record with no
    /// target: the bootloader boots slot a, the factory slot, with no trial, whatever slot the
    /// log selected before (FIELD-BUGS row 15: esp8266/Arduino PR #6823, the boot command
    /// cleared before the copy was done; a cut bricked the device).
    PendingClearedBeforeTarget,
}

impl Variant {
    pub const ALL: [Variant; 30] = [
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
        Variant::IntegritySkipped,
        Variant::SignatureSkipped,
        Variant::KeyNotCompared,
        Variant::OtadataRunningRewritten,
        Variant::OtadataSingleSector,
        Variant::ConfirmedOnOneRead,
        Variant::TrailerInitSkipped,
        Variant::StaleHeaderAfterMove,
        Variant::RevertConfirmInSecondary,
        Variant::RedundantGenerationNoWrap,
        Variant::XipBootsUnconfirmed,
        Variant::StaleHeaderAfterResume,
        Variant::EmbassyBootMagicRewrite,
        Variant::RedundantBodyUnchecked,
        Variant::EmbassyBootDfuErasedBeforeBooted,
        Variant::AtomicWordUnchecked,
        Variant::InvalidEraseForward,
        Variant::EccErrorFaults,
        Variant::PendingClearedBeforeTarget,
        Variant::OtadataInvalidReboot,
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
            Variant::IntegritySkipped => "integrity-skipped",
            Variant::SignatureSkipped => "signature-skipped",
            Variant::KeyNotCompared => "key-not-compared",
            Variant::OtadataRunningRewritten => "otadata-running-rewritten",
            Variant::OtadataSingleSector => "otadata-single-sector",
            Variant::ConfirmedOnOneRead => "confirmed-on-one-read",
            Variant::TrailerInitSkipped => "trailer-init-skipped",
            Variant::StaleHeaderAfterMove => "stale-header-after-move",
            Variant::RevertConfirmInSecondary => "revert-confirm-in-secondary",
            Variant::RedundantGenerationNoWrap => "redundant-generation-no-wrap",
            Variant::XipBootsUnconfirmed => "xip-boots-unconfirmed",
            Variant::StaleHeaderAfterResume => "stale-header-after-resume",
            Variant::EmbassyBootMagicRewrite => "embassy-boot-magic-rewrite",
            Variant::RedundantBodyUnchecked => "redundant-body-unchecked",
            Variant::EmbassyBootDfuErasedBeforeBooted => "embassy-boot-dfu-erased-before-booted",
            Variant::AtomicWordUnchecked => "atomic-word-unchecked",
            Variant::InvalidEraseForward => "invalid-erase-forward",
            Variant::EccErrorFaults => "ecc-error-faults",
            Variant::PendingClearedBeforeTarget => "pending-cleared-before-target",
            Variant::OtadataInvalidReboot => "otadata-invalid-reboot",
        }
    }

    pub fn from_name(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The checks this build's image validation runs (the application's and the bootloader's,
    /// which share it).
    pub const fn image_checks(self) -> crate::image::Checks {
        let all = crate::image::Checks::ALL;
        match self {
            Variant::IntegritySkipped => crate::image::Checks {
                compare_hash: false,
                ..all
            },
            Variant::SignatureSkipped => crate::image::Checks {
                verify_signature: false,
                ..all
            },
            Variant::KeyNotCompared => crate::image::Checks {
                compare_key: false,
                ..all
            },
            _ => all,
        }
    }

    /// Whether this build's bug is a skipped image check rather than a power-loss window: it
    /// shows only with an update the device must refuse.
    pub const fn skips_image_check(self) -> bool {
        matches!(
            self,
            Variant::IntegritySkipped | Variant::SignatureSkipped | Variant::KeyNotCompared
        )
    }

    /// The scheme a broken build belongs to: its bug lives in that scheme's code, so it runs
    /// with that mode only (a campaign that names no mode gets it, one that names another is
    /// refused). `None`: the variant runs with any mode, as the reference does where its bug
    /// is not reached. The one rule binding variants to schemes: the firmware's
    /// `Mode::effective` and the campaign loader both read it.
    pub const fn scheme(self) -> Option<SchemeBinding> {
        use crate::scheme::{atomic_word, embassy_boot, esp_idf, pending_log, redundant, Mode};
        let (mode, what) = match self {
            Variant::OverwriteNoRollback => (Mode::OVERWRITE, "is an overwrite-only bootloader"),
            Variant::TrailerInitSkipped | Variant::StaleHeaderAfterMove | Variant::RevertConfirmInSecondary => {
                (Mode::SWAP_MOVE, "is a swap-move bootloader")
            }
            Variant::OtadataRunningRewritten | Variant::OtadataSingleSector | Variant::OtadataInvalidReboot => {
                (Mode::of(&esp_idf::EspIdf), "breaks the esp-idf scheme's record")
            }
            Variant::RedundantGenerationNoWrap | Variant::RedundantBodyUnchecked => (
                Mode::of(&redundant::RedundantCopies),
                "breaks the redundant-copies scheme's record",
            ),
            Variant::XipBootsUnconfirmed => (Mode::DIRECT_XIP, "is a direct-XIP bootloader"),
            Variant::AtomicWordUnchecked => (
                Mode::of(&atomic_word::AtomicWord),
                "relies on the atomic-word scheme's atomic rewrite",
            ),
            Variant::EmbassyBootMagicRewrite | Variant::EmbassyBootDfuErasedBeforeBooted => (
                Mode::of(&embassy_boot::EmbassyBoot),
                "runs the published embassy-boot 0.1.1",
            ),
            Variant::PendingClearedBeforeTarget => (
                Mode::of(&pending_log::PendingLog),
                "breaks the pending-log scheme's transaction order",
            ),
            _ => return None,
        };
        let also = match self {
            Variant::StaleHeaderAfterMove => Some(Mode::SWAP_OFFSET),
            _ => None,
        };
        Some(SchemeBinding { mode, what, also })
    }
}

impl SchemeBinding {
    /// Whether the build runs with `mode`: its own, or the one it shares code with.
    pub fn allows(&self, mode: crate::scheme::Mode) -> bool {
        mode == self.mode || self.also == Some(mode)
    }
}

/// The scheme a broken build belongs to ([`Variant::scheme`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemeBinding {
    /// The mode the build runs.
    pub mode: crate::scheme::Mode,
    /// Another mode whose code the build shares and may run instead, when a campaign names it
    /// (swap-offset for a swap-move build: one scheme type, `swap_move::NoScratch`).
    pub also: Option<crate::scheme::Mode>,
    /// Why, for an error naming the variant: "is an overwrite-only bootloader".
    pub what: &'static str,
}

impl core::fmt::Display for Variant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
