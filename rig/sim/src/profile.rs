//! Flash part profiles: geometry and datasheet timings of a NOR part.
//!
//! A profile is plain data. The built-in ones describe real parts: `crate::datasheet` cites
//! the document and table of every number, and a test holds each profile to it. Tests and
//! campaigns may build their own, usually much smaller, profiles.

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
    /// ECC parts only: whether a program of an all-zero granule is accepted over a granule
    /// already written (or torn), leaving a correct all-zero granule. Any other program over a
    /// written granule is refused as before. STM32L4 (RM0351, "Flash main memory programming
    /// sequences": programming a previously programmed address is not allowed except if the
    /// data to write is full zero, else PROGERR is set; FLASH_SR PROGERR: set when a
    /// double-word to be programmed holds a value other than all ones before programming,
    /// except if the data to write is all zero). False where the part refuses it or where no
    /// reference manual sentence says it accepts it.
    #[serde(default)]
    pub zero_overwrite: bool,
    /// Parts with `zero_overwrite` only: whether that all-zero program is refused over a granule
    /// that already reads all zero. STM32U5 (RM0456 Rev 6, §7.3.9 "Flash memory errors flags":
    /// PROGERR is set when the word to program points to an address "already fully programmed
    /// to 0", or "already partially programmed (contains 0 and 1) and the new value to program
    /// is not full zero"; "In case of error, the flash memory operation (programming or
    /// erasing) is aborted"). The STM32L4 has no such case (RM0351: PROGERR only when the word
    /// is not erased and the value to program is not full zero). Written only when true, so the
    /// other parts serialise as before.
    #[serde(default, skip_serializing_if = "is_false")]
    pub zero_over_zero_refused: bool,
    /// Parts whose sectors differ in size (an STM32F4 bank: 16, 64 and 128 KiB sectors): the
    /// runs of equal sectors in address order, each with its own erase time. Empty: every
    /// sector is `sector_size` and erases in `erase_sector_us`. When given, the runs cover the
    /// whole part and `sector_size` is the largest of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sector_map: Vec<SectorRun>,
    /// A board whose flash is several devices (an MCU's own flash and a serial NOR beside it):
    /// each device in address order, one after the other in the one address map the firmware's
    /// flash driver presents. Each keeps its own geometry, timings, program limit and ECC; an
    /// operation stays on one device. Empty: the part is one device. When given, `size` is the
    /// devices' sum, `sector_size` their largest sector, `write_size` their widest write (the
    /// alignment the firmware writes with: MCUboot's `boot_write_sz` takes the widest of the
    /// areas it writes) and the other figures are unused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<FlashProfile>,
}

/// `count` consecutive sectors of `size` bytes, each erased in `erase_us` microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorRun {
    pub count: u32,
    pub size: u32,
    pub erase_us: u32,
}

impl SectorRun {
    pub const fn new(count: u32, size: u32, erase_us: u32) -> SectorRun {
        SectorRun { count, size, erase_us }
    }
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
    #[error("profile {name}: sector_map: {detail}")]
    SectorMap { name: String, detail: String },
    #[error("profile {name}: devices: {detail}")]
    Devices { name: String, detail: String },
}

const KIB: u32 = 1024;
const MIB: u32 = 1024 * KIB;

fn is_false(b: &bool) -> bool {
    !*b
}

impl FlashProfile {
    /// The built-in profile called `name`, if there is one.
    pub fn builtin(name: &str) -> Option<FlashProfile> {
        match name {
            "nrf52840" => Some(Self::nrf52840()),
            "stm32l4" => Some(Self::stm32l4()),
            "w25q128" => Some(Self::w25q128()),
            "w25q32" => Some(Self::w25q32()),
            "stm32f4" => Some(Self::stm32f4()),
            "stm32h7" => Some(Self::stm32h7()),
            "nrf5340" => Some(Self::nrf5340()),
            "nrf52840-qspi" => Some(Self::nrf52840_qspi()),
            "stm32u5" => Some(Self::stm32u5()),
            _ => None,
        }
    }

    /// Names accepted by [`FlashProfile::builtin`].
    /// Each built-in board is named after its part (the two-device board after its pair), so
    /// the names are the boards' own.
    pub fn builtin_names() -> &'static [&'static str] {
        crate::board_name::Board::NAMES
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
            zero_overwrite: false,
            zero_over_zero_refused: false,
            sector_map: Vec::new(),
            devices: Vec::new(),
        }
    }

    /// STM32L4 internal flash: 2 KiB pages, 64-bit double-words with ECC. Times from the
    /// STM32L476xx datasheet (DS10198, "Flash memory characteristics"): a double-word in 81.69 us
    /// typical, a page erase in 24.47 ms maximum (`crate::datasheet`).
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
            erase_sector_us: 24_470,
            read_ns_per_byte: 8,
            atomic_word: true,
            zero_overwrite: true,
            zero_over_zero_refused: false,
            sector_map: Vec::new(),
            devices: Vec::new(),
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
            zero_overwrite: false,
            zero_over_zero_refused: false,
            sector_map: Vec::new(),
            devices: Vec::new(),
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

    /// STM32F42x/43x internal flash, 2 MiB in two banks (RM0090 §3.3, "Flash module - 2 Mbyte
    /// dual bank organization"): each bank has four 16 KiB sectors, one of 64 KiB and seven of
    /// 128 KiB. No ECC; a word may be programmed again to clear more bits (RM0090 §3.5.4: "Successive
    /// write operations are possible without the need of an erase operation when changing bits
    /// from 1 to 0"). With a 2.7-3.6 V supply the driver programs with x32 parallelism (RM0090
    /// §3.6.2, PSIZE), so the write unit is a 32-bit word. Typical times at x32 from the
    /// STM32F427xx/429xx datasheet's flash programming table: word 16 us, sector erase 250 ms
    /// (16 KiB), 550 ms (64 KiB), 1 s (128 KiB).
    pub fn stm32f4() -> FlashProfile {
        let bank = [
            SectorRun::new(4, 16 * KIB, 250_000),
            SectorRun::new(1, 64 * KIB, 550_000),
            SectorRun::new(7, 128 * KIB, 1_000_000),
        ];
        FlashProfile {
            name: "stm32f4".to_string(),
            size: 2 * MIB,
            sector_size: 128 * KIB,
            write_size: 4,
            program_unit: 4,
            ecc: false,
            max_programs_per_granule: None,
            program_unit_us: 16,
            erase_sector_us: 1_000_000,
            read_ns_per_byte: 6,
            sector_map: [bank, bank].concat(),
            atomic_word: false,
            zero_overwrite: false,
            zero_over_zero_refused: false,
            devices: Vec::new(),
        }
    }

    /// STM32H743/753 internal flash, 2 MiB in two banks of eight 128 KiB sectors (RM0433,
    /// embedded flash memory organisation). It programs a 256-bit flash word (32 bytes) at a
    /// time and stores 10 ECC bits per word, so a word is written once between erases (the
    /// ECC of a word programmed twice is wrong). Typical times at x64 parallelism from the
    /// STM32H743xI datasheet's flash characteristics: flash word 100 us, 128 KiB sector erase
    /// 1 s. `zero_overwrite` stays false: no sentence of RM0433 says an all-zero flash word is
    /// accepted over a programmed one (the STM32L4 rule is RM0351's, a different flash
    /// interface). What RM0433 does say (§4.3.9) is that the H7 has no refusal flag for it:
    /// "It is not recommended to overwrite a flash word that is not virgin. The result may lead
    /// to an inconsistent ECC code that will be systematically reported by the embedded flash
    /// memory" (SNECCERR/DBECCERR, §4.7.7); its status register has no PROGERR. The model
    /// still refuses such a program, as for any written granule of an ECC part: a choice of
    /// the model, not RM0433's, kept because the manual does not say which ECC outcome (a
    /// corrected or an uncorrectable word) a real part gives.
    pub fn stm32h7() -> FlashProfile {
        FlashProfile {
            name: "stm32h7".to_string(),
            size: 2 * MIB,
            sector_size: 128 * KIB,
            write_size: 32,
            program_unit: 32,
            ecc: true,
            max_programs_per_granule: None,
            program_unit_us: 100,
            erase_sector_us: 1_000_000,
            read_ns_per_byte: 4,
            sector_map: Vec::new(),
            atomic_word: false,
            zero_overwrite: false,
            zero_over_zero_refused: false,
            devices: Vec::new(),
        }
    }

    /// STM32U575/585 internal flash, 2 MiB in two banks of 128 pages of 8 KiB, programmed a
    /// quad-word (128 bits, with 9 ECC bits) at a time (RM0456 Rev 6, "Embedded flash memory
    /// (FLASH)": §7.3.7 "Flash main memory programming sequences": only quad-words can be
    /// programmed). A program over a written quad-word is refused (PROGERR) unless the data is
    /// all zero and the quad-word does not already read all zero (§7.3.9, quoted at
    /// [`FlashProfile::zero_over_zero_refused`]). The page erase is the maximum the part's
    /// Zephyr devicetree gives for an 8 KiB page (`max-erase-time = <5>` ms, `dts/arm/st/u5/
    /// stm32u5.dtsi`). The quad-word programming time is NOT CITED: the STM32U575/585
    /// datasheet's "Flash memory characteristics" table (DS13737, t_prog for 128 bits) was
    /// looked for in the reference store and not found, nor any other copy of that figure; the
    /// quad-word takes the STM32L4's cited double-word time (DS10198, 81.69 us) instead, an
    /// assumption `crate::datasheet` marks as such. Replace it when the table is at hand.
    pub fn stm32u5() -> FlashProfile {
        FlashProfile {
            name: "stm32u5".to_string(),
            size: 2 * MIB,
            sector_size: 8 * KIB,
            write_size: 16,
            program_unit: 16,
            ecc: true,
            max_programs_per_granule: None,
            program_unit_us: 82,
            erase_sector_us: 5_000,
            read_ns_per_byte: 8,
            atomic_word: false,
            zero_overwrite: true,
            zero_over_zero_refused: true,
            sector_map: Vec::new(),
            devices: Vec::new(),
        }
    }

    /// nRF5340 application core flash (NVMC): 1 MiB of 4 KiB pages, 32-bit words, no ECC, at
    /// most two writes per word between erases (nRF5340 Product Specification, "Memory" and
    /// "NVMC - Non-volatile memory controller": nWRITE = 2). Times from the NVMC electrical
    /// specification, as for the nRF52840 family part: a word in 43 us, a page erase 87.5 ms.
    pub fn nrf5340() -> FlashProfile {
        FlashProfile {
            name: "nrf5340".to_string(),
            size: MIB,
            sector_size: 4 * KIB,
            write_size: 4,
            program_unit: 4,
            ecc: false,
            max_programs_per_granule: Some(2),
            program_unit_us: 43,
            erase_sector_us: 87_500,
            read_ns_per_byte: 8,
            sector_map: Vec::new(),
            atomic_word: false,
            zero_overwrite: false,
            zero_over_zero_refused: false,
            devices: Vec::new(),
        }
    }

    /// Macronix MX25R6435F, the 64 Mbit (8 MiB) QSPI NOR on the nRF52840 DK: 4 KiB sectors,
    /// byte-writable, programmed in 256-byte pages, no ECC. Times are the part's own typical
    /// figures from its JEDEC SFDP Basic Flash Parameter table (JESD216), as read from the part
    /// and given in Zephyr's devicetree for the board (`sfdp-bfp` of the `mx25r6435f@0` node):
    /// DWORD 11 `0xcc04ed82` gives a 256-byte page (bits 7:4 = 8) programmed in (13 + 1) x 64 us
    /// = 896 us (bits 13:8), DWORD 10 `0x00f57223` a 4 KiB sector (erase type 1, DWORD 8
    /// `0x200c`: 2^12 bytes, opcode 0x20) erased in (2 + 1) x 16 ms = 48 ms (bits 10:4).
    /// These are the manufacturer's typical times as the part itself publishes them; the SFDP
    /// encoding rounds them to its units (64 us, 16 ms), so the datasheet's own erase and
    /// programming performance table may state them a little lower. Reads at 32 MHz on four
    /// lines: 16 MB/s.
    pub fn mx25r6435f() -> FlashProfile {
        FlashProfile {
            name: "mx25r6435f".to_string(),
            size: 8 * MIB,
            sector_size: 4 * KIB,
            write_size: 1,
            program_unit: 256,
            ecc: false,
            max_programs_per_granule: None,
            program_unit_us: 896,
            erase_sector_us: 48_000,
            read_ns_per_byte: 63,
            atomic_word: false,
            zero_overwrite: false,
            zero_over_zero_refused: false,
            sector_map: Vec::new(),
            devices: Vec::new(),
        }
    }

    /// The nRF52840 DK's two flash devices in one address map: the nRF52840's own 1 MiB
    /// (NVMC, [`FlashProfile::nrf52840`]) at 0, the on-board MX25R6435F QSPI NOR
    /// ([`FlashProfile::mx25r6435f`]) right after it at 1 MiB. The firmware's flash driver
    /// routes each address to its device, as a Zephyr flash area on the external device is read
    /// through its own driver; a cut can land in an operation on either.
    pub fn nrf52840_qspi() -> FlashProfile {
        FlashProfile::of_devices("nrf52840-qspi", vec![Self::nrf52840(), Self::mx25r6435f()])
    }

    /// A part made of `devices`, one after the other in one address map.
    pub fn of_devices(name: &str, devices: Vec<FlashProfile>) -> FlashProfile {
        let first = devices.first().cloned().unwrap_or_else(Self::nrf52840);
        FlashProfile {
            name: name.to_string(),
            size: devices.iter().map(|d| d.size).sum(),
            sector_size: devices.iter().map(|d| d.sector_size).max().unwrap_or(0),
            write_size: devices.iter().map(|d| d.write_size).max().unwrap_or(0),
            program_unit: devices.iter().map(|d| d.write_size).max().unwrap_or(0),
            ecc: false,
            max_programs_per_granule: None,
            atomic_word: false,
            zero_overwrite: false,
            zero_over_zero_refused: false,
            sector_map: Vec::new(),
            devices,
            ..first
        }
    }

    /// The device that holds `addr`: its start address and its profile (the part itself when
    /// it is one device; `None` past the end).
    pub fn device_at(&self, addr: u32) -> Option<(u32, &FlashProfile)> {
        if self.devices.is_empty() {
            return (addr < self.size).then_some((0, self));
        }
        let mut start = 0u32;
        for d in &self.devices {
            if addr >= start && addr - start < d.size {
                return Some((start, d));
            }
            start = start.saturating_add(d.size);
        }
        None
    }

    /// The devices with their start addresses (the part itself when it is one device).
    pub fn device_map(&self) -> Vec<(u32, &FlashProfile)> {
        if self.devices.is_empty() {
            return vec![(0, self)];
        }
        let mut start = 0u32;
        self.devices
            .iter()
            .map(|d| {
                let at = start;
                start = start.saturating_add(d.size);
                (at, d)
            })
            .collect()
    }

    /// Number of sectors (a partial last sector counts as one).
    pub fn sector_count(&self) -> u32 {
        if !self.devices.is_empty() {
            return self.devices.iter().map(|d| d.sector_count()).sum();
        }
        if !self.sector_map.is_empty() {
            return self.sector_map.iter().map(|r| r.count).sum();
        }
        match self.sector_size {
            0 => 0,
            s => self.size.div_ceil(s),
        }
    }

    /// The sectors in address order: offset, size and erase time of each.
    pub fn sectors(&self) -> Vec<(u32, u32, u32)> {
        if !self.devices.is_empty() {
            return self
                .device_map()
                .into_iter()
                .flat_map(|(at, d)| {
                    d.sectors()
                        .into_iter()
                        .map(move |(o, size, us)| (at.saturating_add(o), size, us))
                })
                .collect();
        }
        if self.sector_map.is_empty() {
            let s = self.sector_size.max(1);
            return (0..self.size.div_ceil(s))
                .map(|i| (i * s, s.min(self.size - i * s), self.erase_sector_us))
                .collect();
        }
        let mut at = 0u32;
        let mut out = Vec::new();
        for run in &self.sector_map {
            for _ in 0..run.count {
                out.push((at, run.size, run.erase_us));
                at = at.saturating_add(run.size);
            }
        }
        out
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
        self.require_multiple("program_unit", self.program_unit, "write_size", self.write_size)?;
        self.validate_sector_map()?;
        self.validate_devices()
    }

    /// Each device is a consistent part of its own, one level deep; together they make the
    /// part's size, largest sector and widest write; an ECC device writes in the part's unit
    /// (its check bits are kept per write granule of the address map).
    fn validate_devices(&self) -> Result<(), ProfileError> {
        if self.devices.is_empty() {
            return Ok(());
        }
        let bad = |detail: String| {
            Err(ProfileError::Devices {
                name: self.name.clone(),
                detail,
            })
        };
        if !self.sector_map.is_empty() {
            return bad("a part of several devices takes its sectors from them, not from sector_map".into());
        }
        let mut total = 0u64;
        for (i, d) in self.devices.iter().enumerate() {
            if !d.devices.is_empty() {
                return bad(format!("device {i} ({}) has devices of its own", d.name));
            }
            d.validate()?;
            if d.ecc && d.write_size != self.write_size {
                return bad(format!(
                    "device {i} ({}) has ECC over {}-byte writes, the part writes {}",
                    d.name, d.write_size, self.write_size
                ));
            }
            total += u64::from(d.size);
        }
        if total != u64::from(self.size) {
            return bad(format!("the devices cover {total} bytes, the part has {}", self.size));
        }
        let largest = self.devices.iter().map(|d| d.sector_size).max().unwrap_or(0);
        let widest = self.devices.iter().map(|d| d.write_size).max().unwrap_or(0);
        if (largest, widest) != (self.sector_size, self.write_size) {
            return bad(format!(
                "sector_size and write_size ({}, {}) must be the devices' largest sector and widest write ({largest}, {widest})",
                self.sector_size, self.write_size
            ));
        }
        Ok(())
    }

    /// A sector map covers the part exactly, with whole program units per sector, and names
    /// its largest sector as `sector_size`.
    fn validate_sector_map(&self) -> Result<(), ProfileError> {
        if self.sector_map.is_empty() {
            return Ok(());
        }
        let bad = |detail: String| {
            Err(ProfileError::SectorMap {
                name: self.name.clone(),
                detail,
            })
        };
        let mut total = 0u64;
        for (i, run) in self.sector_map.iter().enumerate() {
            if run.count == 0 || run.size == 0 || run.erase_us == 0 {
                return bad(format!("run {i}: count, size and erase_us must not be zero"));
            }
            if !run.size.is_multiple_of(self.program_unit) {
                return bad(format!(
                    "run {i}: sector size {} is not a multiple of program_unit ({})",
                    run.size, self.program_unit
                ));
            }
            total += u64::from(run.count) * u64::from(run.size);
        }
        if total != u64::from(self.size) {
            return bad(format!("the runs cover {total} bytes, the part has {}", self.size));
        }
        let largest = self.sector_map.iter().map(|r| r.size).max().unwrap_or(0);
        if largest != self.sector_size {
            return bad(format!(
                "sector_size ({}) must be the largest sector of the map ({largest})",
                self.sector_size
            ));
        }
        Ok(())
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
        assert_eq!((stm.program_unit_us, stm.erase_sector_us), (82, 24_470));
        assert!(
            stm.zero_overwrite,
            "RM0351: all-zero data may overwrite a programmed double-word"
        );

        let w25 = FlashProfile::w25q128();
        assert_eq!((w25.size, w25.sector_size), (16 * MIB, 4096));
        assert_eq!((w25.write_size, w25.program_unit), (1, 256));
        assert_eq!((w25.program_unit_us, w25.erase_sector_us), (400, 45_000));
        assert_eq!(w25.sector_count(), 4096);

        let w32 = FlashProfile::w25q32();
        assert_eq!((w32.size, w32.sector_size), (4 * MIB, 4096));
        assert_eq!((w32.write_size, w32.program_unit), (1, 256));
        assert_eq!((w32.program_unit_us, w32.erase_sector_us), (400, 45_000));

        // RM0090: per 1 MiB bank, sectors 0-3 of 16 KiB, sector 4 of 64 KiB, 5-11 of 128 KiB.
        let f4 = FlashProfile::stm32f4();
        let sizes: Vec<u32> = f4.sectors().iter().map(|s| s.1 / KIB).collect();
        let bank = [16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128];
        assert_eq!(sizes, [bank, bank].concat());
        assert_eq!(f4.sector_count(), 24);
        assert_eq!(f4.sectors()[12].0, MIB, "bank 2 starts at 1 MiB");
        let erase: Vec<u32> = f4.sectors()[3..6].iter().map(|s| s.2).collect();
        assert_eq!(erase, [250_000, 550_000, 1_000_000]);

        let h7 = FlashProfile::stm32h7();
        assert_eq!((h7.size, h7.sector_size, h7.write_size), (2 * MIB, 128 * KIB, 32));
        assert!(h7.ecc);
        assert!(!h7.zero_overwrite, "no RM0433 citation for the STM32L4 rule");
        for name in FlashProfile::builtin_names() {
            let p = FlashProfile::builtin(name).unwrap();
            assert!(
                !p.zero_overwrite || p.ecc,
                "{name}: zero_overwrite only means something with ECC"
            );
        }
        assert_eq!(h7.sector_count(), 16);

        let n53 = FlashProfile::nrf5340();
        assert_eq!((n53.size, n53.sector_size, n53.write_size), (MIB, 4 * KIB, 4));
        assert_eq!(n53.max_programs_per_granule, Some(2));
    }

    #[test]
    fn validate_rejects_a_sector_map_that_does_not_cover_the_part() {
        let mut p = FlashProfile::stm32f4();
        p.sector_map.pop();
        assert!(
            matches!(p.validate(), Err(ProfileError::SectorMap { .. })),
            "{:?}",
            p.validate()
        );
        let mut p = FlashProfile::stm32f4();
        p.sector_size = 16 * KIB;
        assert!(p.validate().is_err());
        let mut p = FlashProfile::stm32f4();
        p.sector_map[0].size = 16 * KIB + 2;
        assert!(p.validate().is_err());
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
        assert!(!json.contains("sector_map"), "a uniform part writes as before: {json}");
        let back: FlashProfile = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(p, back);
        let p = FlashProfile::stm32f4();
        let back: FlashProfile = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(p, back);
    }
}
