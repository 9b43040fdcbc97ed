//! The datasheet facts each built-in flash profile is taken from, with the document and the
//! table they are read from, in the datasheet's own units. A test compares every built-in
//! profile with its entry, so a profile cannot drift from its part, and a new profile without a
//! cited entry fails.
//!
//! Times are the column the profile models (typical unless said otherwise), in nanoseconds as
//! printed; a profile holds them in whole microseconds, rounded to the nearest.

/// One sector size of a part and the time to erase a sector of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CitedErase {
    pub sector_bytes: u32,
    pub erase_ns: u64,
}

/// What a part's datasheet says about its flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datasheet {
    /// The built-in profile these facts are for.
    pub profile: &'static str,
    /// The document (title, number, revision where it matters).
    pub document: &'static str,
    /// Where in it: the tables or sections the numbers below come from.
    pub tables: &'static str,
    pub size: u32,
    pub write_size: u32,
    /// The unit programmed (and timed) in one step.
    pub program_unit: u32,
    pub program_ns: u64,
    /// Every sector size of the part, in address order of first appearance.
    pub erase: &'static [CitedErase],
    pub ecc: bool,
    /// Programs of one granule allowed between erases, where the datasheet limits them.
    pub max_programs: Option<u8>,
}

const KIB: u32 = 1024;
const MIB: u32 = 1024 * KIB;
const MS: u64 = 1_000_000;
const US: u64 = 1_000;

pub const DATASHEETS: &[Datasheet] = &[
    Datasheet {
        profile: "nrf52840",
        document: "nRF52840 Product Specification v1.7",
        tables: "4.3 NVMC: 4.3.9 Electrical specification (tWRITE, tERASEPAGE, maximum values); \
                 4.2 Memory (1 MB flash, 4 kB pages); nWRITE = 2",
        size: MIB,
        write_size: 4,
        program_unit: 4,
        program_ns: 41 * US,
        erase: &[CitedErase {
            sector_bytes: 4 * KIB,
            erase_ns: 85 * MS,
        }],
        ecc: false,
        max_programs: Some(2),
    },
    Datasheet {
        profile: "stm32l4",
        document: "STM32L476xx datasheet DS10198",
        tables: "Table 'Flash memory characteristics': tprog 64-bit programming time typ 81.69 us; \
                 tERASE page (2 KB) erase time max 24.47 ms; 3.4 Embedded Flash memory (1 MB, 2 KB pages, \
                 64-bit double-words with ECC)",
        size: MIB,
        write_size: 8,
        program_unit: 8,
        program_ns: 81_690,
        erase: &[CitedErase {
            sector_bytes: 2 * KIB,
            erase_ns: 24_470 * US,
        }],
        ecc: true,
        max_programs: None,
    },
    Datasheet {
        profile: "w25q128",
        document: "Winbond W25Q128JV datasheet",
        tables: "9.6 AC Electrical Characteristics: tPP page program typ 0.4 ms, tSE 4KB sector erase typ 45 ms; \
                 128M-bit, 256-byte pages, 4KB sectors",
        size: 16 * MIB,
        write_size: 1,
        program_unit: 256,
        program_ns: 400 * US,
        erase: &[CitedErase {
            sector_bytes: 4 * KIB,
            erase_ns: 45 * MS,
        }],
        ecc: false,
        max_programs: None,
    },
    Datasheet {
        profile: "w25q32",
        document: "Winbond W25Q32JV datasheet",
        tables: "AC Electrical Characteristics: tPP typ 0.4 ms, tSE 4KB typ 45 ms; 32M-bit, 256-byte pages, \
                 4KB sectors",
        size: 4 * MIB,
        write_size: 1,
        program_unit: 256,
        program_ns: 400 * US,
        erase: &[CitedErase {
            sector_bytes: 4 * KIB,
            erase_ns: 45 * MS,
        }],
        ecc: false,
        max_programs: None,
    },
    Datasheet {
        profile: "stm32f4",
        document: "STM32F427xx/STM32F429xx datasheet DS9405; reference manual RM0090",
        tables: "DS9405 Table 'Flash memory programming', x32 parallelism: tprog word typ 16 us, \
                 tERASE16KB typ 250 ms, tERASE64KB typ 550 ms, tERASE128KB typ 1 s; RM0090 3.3 \
                 'Flash module - 2 Mbyte dual bank organization'",
        size: 2 * MIB,
        write_size: 4,
        program_unit: 4,
        program_ns: 16 * US,
        erase: &[
            CitedErase {
                sector_bytes: 16 * KIB,
                erase_ns: 250 * MS,
            },
            CitedErase {
                sector_bytes: 64 * KIB,
                erase_ns: 550 * MS,
            },
            CitedErase {
                sector_bytes: 128 * KIB,
                erase_ns: 1_000 * MS,
            },
        ],
        ecc: false,
        max_programs: None,
    },
    Datasheet {
        profile: "stm32h7",
        document: "STM32H743xI datasheet DS12110; reference manual RM0433",
        tables: "DS12110 Table 'Flash memory characteristics', x64 parallelism: tprog word (266 bits) \
                 typ 100 us, tERASE128KB typ 1 s; RM0433 'Embedded flash memory' (2 MB, two banks of \
                 eight 128 KB sectors, 256-bit flash words with 10 ECC bits)",
        size: 2 * MIB,
        write_size: 32,
        program_unit: 32,
        program_ns: 100 * US,
        erase: &[CitedErase {
            sector_bytes: 128 * KIB,
            erase_ns: 1_000 * MS,
        }],
        ecc: true,
        max_programs: None,
    },
    Datasheet {
        profile: "nrf5340",
        document: "nRF5340 Product Specification",
        tables: "NVMC - Non-volatile memory controller, Electrical specification (tWRITE 43 us, \
                 tERASEPAGE 87.5 ms); Memory (application core: 1 MB flash, 4 kB pages); nWRITE = 2",
        size: MIB,
        write_size: 4,
        program_unit: 4,
        program_ns: 43 * US,
        erase: &[CitedErase {
            sector_bytes: 4 * KIB,
            erase_ns: 87_500 * US,
        }],
        ecc: false,
        max_programs: Some(2),
    },
    Datasheet {
        profile: "stm32u5",
        document: "STM32U575/585 reference manual RM0456 Rev 6; the part's Zephyr devicetree \
                   (dts/arm/st/u5/stm32u5.dtsi, flash0 node)",
        tables: "RM0456 'Embedded flash memory (FLASH)': 2 MB in two banks of 128 pages of 8 KB, \
                 quad-word (128-bit) programming with ECC (7.3.7), PROGERR over a written or \
                 all-zero quad-word (7.3.9); devicetree write-block-size 16, erase-block-size 8192, \
                 max-erase-time 5 ms for an 8K page. NOT CITED: the quad-word programming time, \
                 the STM32U575/585 datasheet's table (DS13737, t_prog 128-bit) was not found; the STM32L4's \
                 double-word time (DS10198, 81.69 us) is assumed",
        size: 2 * MIB,
        write_size: 16,
        program_unit: 16,
        program_ns: 81_690,
        erase: &[CitedErase {
            sector_bytes: 8 * KIB,
            erase_ns: 5 * MS,
        }],
        ecc: true,
        max_programs: None,
    },
    // The external NOR of the `nrf52840-qspi` board (a device of it, not a board of its own).
    Datasheet {
        profile: "mx25r6435f",
        document: "Macronix MX25R6435F, its JESD216 SFDP Basic Flash Parameter table as the \
                   nRF52840 DK's Zephyr devicetree gives it (sfdp-bfp of the mx25r6435f@0 node)",
        tables: "BFPT DWORD 11 0xcc04ed82 (256-byte page, 896 us typical page program), DWORD 10 \
                 0x00f57223 and DWORD 8 0x200c (4 KB sector erase, 48 ms typical); 64 Mbit",
        size: 8 * MIB,
        write_size: 1,
        program_unit: 256,
        program_ns: 896 * US,
        erase: &[CitedErase {
            sector_bytes: 4 * KIB,
            erase_ns: 48 * MS,
        }],
        ecc: false,
        max_programs: None,
    },
];

/// The cited facts for the built-in profile `name`.
pub fn for_profile(name: &str) -> Option<&'static Datasheet> {
    DATASHEETS.iter().find(|d| d.profile == name)
}

/// A time in nanoseconds as a profile holds it: whole microseconds, rounded to the nearest.
pub const fn profile_us(ns: u64) -> u32 {
    ((ns + 500) / 1_000) as u32
}

/// Where `profile` differs from its cited datasheet, one line per fact; empty when it agrees.
pub fn drift(profile: &crate::FlashProfile) -> Vec<String> {
    // A board of several devices: each device against its own datasheet.
    if !profile.devices.is_empty() {
        return profile.devices.iter().flat_map(drift).collect();
    }
    let Some(d) = for_profile(&profile.name) else {
        return vec![format!("{}: no datasheet cited", profile.name)];
    };
    let mut out = Vec::new();
    let mut check = |what: &str, have: u64, want: u64| {
        if have != want {
            out.push(format!(
                "{}: {what} is {have}, {} ({}) says {want}",
                profile.name, d.document, d.tables
            ));
        }
    };
    check("size", profile.size.into(), d.size.into());
    check("write_size", profile.write_size.into(), d.write_size.into());
    check("program_unit", profile.program_unit.into(), d.program_unit.into());
    check(
        "program_unit_us",
        profile.program_unit_us.into(),
        profile_us(d.program_ns).into(),
    );
    check("ecc", profile.ecc.into(), d.ecc.into());
    check(
        "max_programs_per_granule",
        profile.max_programs_per_granule.map_or(0, u64::from),
        d.max_programs.map_or(0, u64::from),
    );
    // Every sector of the part: its size is a cited one and it erases in the cited time.
    let largest = d.erase.iter().map(|e| e.sector_bytes).max().unwrap_or(0);
    check("sector_size (the largest)", profile.sector_size.into(), largest.into());
    for (offset, size, erase_us) in profile.sectors() {
        match d.erase.iter().find(|e| e.sector_bytes == size) {
            Some(e) => check(
                &format!("erase time of the sector at 0x{offset:x}"),
                erase_us.into(),
                profile_us(e.erase_ns).into(),
            ),
            None => check(&format!("size of the sector at 0x{offset:x}"), size.into(), 0),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FlashProfile;

    #[test]
    fn every_builtin_profile_equals_the_datasheet_it_cites() {
        for name in FlashProfile::builtin_names() {
            let p = FlashProfile::builtin(name).unwrap();
            let drift = drift(&p);
            assert!(drift.is_empty(), "{}", drift.join("\n"));
        }
        // Every cited datasheet is a built-in profile's.
        let devices: Vec<String> = FlashProfile::builtin_names()
            .iter()
            .flat_map(|n| FlashProfile::builtin(n).unwrap().devices)
            .map(|d| d.name)
            .collect();
        for d in DATASHEETS {
            assert!(
                FlashProfile::builtin(d.profile).is_some() || devices.iter().any(|n| n == d.profile),
                "{}",
                d.profile
            );
        }
    }

    #[test]
    fn a_drifted_profile_is_named_with_its_datasheet() {
        let mut p = FlashProfile::stm32h7();
        p.erase_sector_us += 1;
        let d = drift(&p);
        assert_eq!(d.len(), 16, "every sector: {d:#?}");
        assert!(d[0].contains("DS12110"), "{}", d[0]);
        let mut p = FlashProfile::stm32f4();
        p.sector_map[1].erase_us = 300_000;
        assert_eq!(
            drift(&p).len(),
            1,
            "one 64 KiB sector per bank, the first bank's: {:?}",
            drift(&p)
        );
        let mut p = FlashProfile::nrf52840();
        p.program_unit_us = 40;
        assert_eq!(drift(&p).len(), 1);
        let mut p = FlashProfile::nrf52840();
        p.name = "unknown-part".into();
        assert_eq!(drift(&p), ["unknown-part: no datasheet cited"]);
    }
}
