//! Flash part profiles: geometry and datasheet timings of a NOR part.
//!
//! A profile is plain data. The built-in ones describe real parts (see
//! `shared/FAULT-MODEL.md` for the sources of the numbers); tests and campaigns
//! may build their own, usually much smaller, profiles.

use serde::{Deserialize, Serialize};

/// Geometry, ECC behaviour and timings of one NOR-flash part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashProfile {
    /// Short name of the part, e.g. `nrf52840`.
    pub name: String,
    /// Total size in bytes.
    pub size: u32,
    /// Erase unit in bytes (sector or page, depending on the vendor's word).
    pub sector_size: u32,
    /// Program alignment and granule as the firmware sees it; on ECC parts
    /// this is also the ECC granule.
    pub write_size: u32,
    /// Unit the part programs in one timed step and which tears as a whole:
    /// the granule on MCU flash, the 256-byte page on serial NOR.
    pub program_unit: u32,
    /// Whether the part stores ECC check bits per write granule.
    pub ecc: bool,
    /// How many times a granule may be programmed between two erases.
    pub max_programs_per_granule: Option<u8>,
    /// Time to program one program unit, in microseconds.
    pub program_unit_us: u32,
    /// Time to erase one sector, in microseconds.
    pub erase_sector_us: u32,
    /// Approximate read time per byte, in nanoseconds.
    pub read_ns_per_byte: u32,
    /// Whether the part rewrites one word of its option area atomically: the old word or the
    /// new, never a torn mix (STM32 option bytes: the new values are programmed into the
    /// option area and loaded at once by the option-byte loader; RM0351, "Flash option bytes"). The
    /// firmware's `replace_word` is then one operation a cut cannot tear; on other parts it is
    /// an erase and a program, each of which can.
    #[serde(default)]
    pub atomic_word: bool,
}

/// Why a profile cannot describe a consistent part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("profile {name}: {field} must not be zero")]
    Zero { name: String, field: &'static str },
    #[error("profile {name}: {what} ({value}) is not a multiple of {unit_name} ({unit})")]
    NotMultiple {
        name: String,
        what: &'static str,
        value: u32,
        unit_name: &'static str,
        unit: u32,
    },
}

const KIB: u32 = 1024;
const MIB: u32 = 1024 * KIB;

const BUILTIN_NAMES: &[&str] = &["nrf52840", "stm32l4", "w25q128", "w25q32"];

impl FlashProfile {
    /// The built-in profile called `name`, if there is one.
    pub fn builtin(name: &str) -> Option<FlashProfile> {
        match name {
            "nrf52840" => Some(Self::nrf52840()),
            "stm32l4" => Some(Self::stm32l4()),
            "w25q128" => Some(Self::w25q128()),
            "w25q32" => Some(Self::w25q32()),
            _ => None,
        }
    }

    /// Names accepted by [`FlashProfile::builtin`].
    pub fn builtin_names() -> &'static [&'static str] {
        BUILTIN_NAMES
    }

    /// nRF52840 internal flash (NVMC): 4 KiB pages, 32-bit words, no ECC,
    /// at most two writes per word between erases.
    pub fn nrf52840() -> FlashProfile {
        FlashProfile {
            name: "nrf52840".to_string(),
            size: MIB,
            sector_size: 4 * KIB,
            write_size: 4,
            program_unit: 4,
            ecc: false,
            max_programs_per_granule: Some(2),
            program_unit_us: 41,
            erase_sector_us: 85_000,
            read_ns_per_byte: 8,
            atomic_word: false,
        }
    }

    /// STM32L4 internal flash: 2 KiB pages, 64-bit double-words with ECC.
    pub fn stm32l4() -> FlashProfile {
        FlashProfile {
            name: "stm32l4".to_string(),
            size: MIB,
            sector_size: 2 * KIB,
            write_size: 8,
            program_unit: 8,
            ecc: true,
            max_programs_per_granule: None,
            program_unit_us: 82,
            erase_sector_us: 24_500,
            read_ns_per_byte: 8,
            atomic_word: true,
        }
    }

    /// Winbond W25Q128JV serial NOR: 16 MiB, 4 KiB sectors, byte-writable,
    /// programmed in 256-byte pages, no ECC.
    pub fn w25q128() -> FlashProfile {
        FlashProfile {
            name: "w25q128".to_string(),
            size: 16 * MIB,
            sector_size: 4 * KIB,
            write_size: 1,
            program_unit: 256,
            ecc: false,
            max_programs_per_granule: None,
            program_unit_us: 400,
            erase_sector_us: 45_000,
            read_ns_per_byte: 20,
            atomic_word: false,
        }
    }

    /// Winbond W25Q32JV serial NOR: 4 MiB, 4 KiB sectors, byte-writable, programmed in
    /// 256-byte pages, no ECC; the part that holds the application on Raspberry Pi RP2350
    /// boards. Its datasheet gives the W25Q128JV's typical times: page program 0.4 ms, 4 KiB
    /// sector erase 45 ms.
    pub fn w25q32() -> FlashProfile {
        FlashProfile {
            name: "w25q32".to_string(),
            size: 4 * MIB,
            ..Self::w25q128()
        }
    }

    /// Number of sectors (a partial last sector counts as one).
    pub fn sector_count(&self) -> u32 {
        match self.sector_size {
            0 => 0,
            s => self.size.div_ceil(s),
        }
    }

    /// Checks that the geometry is consistent: no zero sizes, the size is a
    /// whole number of sectors, a sector a whole number of program units and
    /// a program unit a whole number of write granules.
    pub fn validate(&self) -> Result<(), ProfileError> {
        self.require_nonzero("size", self.size)?;
        self.require_nonzero("sector_size", self.sector_size)?;
        self.require_nonzero("write_size", self.write_size)?;
        self.require_nonzero("program_unit", self.program_unit)?;
        self.require_multiple("size", self.size, "sector_size", self.sector_size)?;
        self.require_multiple("sector_size", self.sector_size, "program_unit", self.program_unit)?;
        self.require_multiple("program_unit", self.program_unit, "write_size", self.write_size)
    }

    fn require_nonzero(&self, field: &'static str, value: u32) -> Result<(), ProfileError> {
        if value == 0 {
            return Err(ProfileError::Zero {
                name: self.name.clone(),
                field,
            });
        }
        Ok(())
    }

    fn require_multiple(
        &self,
        what: &'static str,
        value: u32,
        unit_name: &'static str,
        unit: u32,
    ) -> Result<(), ProfileError> {
        if !value.is_multiple_of(unit) {
            return Err(ProfileError::NotMultiple {
                name: self.name.clone(),
                what,
                value,
                unit_name,
                unit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_name_resolves_and_validates() {
        for name in FlashProfile::builtin_names() {
            let profile = FlashProfile::builtin(name).expect("builtin exists");
            assert_eq!(&profile.name, name);
            profile.validate().expect("builtin is consistent");
        }
        assert!(FlashProfile::builtin("no-such-part").is_none());
    }

    #[test]
    fn builtin_facts_match_the_datasheets() {
        let nrf = FlashProfile::nrf52840();
        assert_eq!((nrf.size, nrf.sector_size, nrf.write_size), (MIB, 4096, 4));
        assert_eq!(nrf.max_programs_per_granule, Some(2));
        assert_eq!((nrf.program_unit_us, nrf.erase_sector_us), (41, 85_000));
        assert!(!nrf.ecc);

        let stm = FlashProfile::stm32l4();
        assert_eq!((stm.size, stm.sector_size, stm.write_size), (MIB, 2048, 8));
        assert!(stm.ecc);
        assert_eq!((stm.program_unit_us, stm.erase_sector_us), (82, 24_500));

        let w25 = FlashProfile::w25q128();
        assert_eq!((w25.size, w25.sector_size), (16 * MIB, 4096));
        assert_eq!((w25.write_size, w25.program_unit), (1, 256));
        assert_eq!((w25.program_unit_us, w25.erase_sector_us), (400, 45_000));
        assert_eq!(w25.sector_count(), 4096);

        let w32 = FlashProfile::w25q32();
        assert_eq!((w32.size, w32.sector_size), (4 * MIB, 4096));
        assert_eq!((w32.write_size, w32.program_unit), (1, 256));
        assert_eq!((w32.program_unit_us, w32.erase_sector_us), (400, 45_000));
    }

    #[test]
    fn validate_rejects_inconsistent_geometry() {
        let mut p = FlashProfile::nrf52840();
        p.write_size = 0;
        assert!(matches!(p.validate(), Err(ProfileError::Zero { .. })));
        let mut p = FlashProfile::nrf52840();
        p.size = 4097;
        assert!(matches!(p.validate(), Err(ProfileError::NotMultiple { .. })));
        let mut p = FlashProfile::w25q128();
        p.program_unit = 3000;
        assert!(p.validate().is_err());
    }

    #[test]
    fn profile_round_trips_through_json() {
        let p = FlashProfile::w25q128();
        let json = serde_json::to_string(&p).expect("serialize");
        let back: FlashProfile = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(p, back);
    }
}
