//! Which flash map a device has: a built-in board's, or the one a station's `[layout]` (or an
//! `inspect --layout` file) states in the same region table.

use cutpoint_bench::config::{FlashRegion, ProbeConfig, StationBackends, TransportConfig};
use cutpoint_campaign::{StationFile, StationMap};
use cutpoint_sim::BoardProfile;

pub use cutpoint_engine::station_setup::{profile_of, station_map};

/// The simulated board profile whose flash map a station's device has: the first of the
/// station's `[target] board`, `[target] chip` and probe `chip` that names one
/// (`nRF52840_xxAA` names `nrf52840`, `STM32L476RG` names `stm32l4`).
pub fn station_profile(station: &StationFile, probe: Option<&ProbeConfig>) -> Option<BoardProfile> {
    let probe_chip = probe.map(ProbeConfig::chip);
    station
        .named_board()
        .or_else(|| {
            let chip = probe_chip?.to_ascii_lowercase();
            BoardProfile::builtin_names()
                .iter()
                .copied()
                .find(|b| chip.contains(*b))
        })
        .and_then(BoardProfile::builtin)
}

/// The board profile of a station's device (see [`cutpoint_engine::station_setup::station_board`]).
pub fn station_board(station: &StationFile, _probe: Option<&ProbeConfig>) -> Result<BoardProfile, String> {
    cutpoint_engine::station_setup::station_board(station)
}

/// One line saying where a station's flash map comes from.
pub fn describe_station_map(station: &StationFile, _probe: Option<&ProbeConfig>) -> String {
    cutpoint_engine::station_setup::describe_station_map(station)
}

/// The backends as the station's flash map makes them: the probe reads the map's regions
/// (`doctor`; esptool also the scratch region, where the A/B schemes keep their record, e.g.
/// ESP-IDF's otadata), probe-write writes to its secondary region. A station without a map
/// keeps what its file states.
pub fn apply_station_map(backends: &mut StationBackends, map: &StationMap) {
    let view = |r: &cutpoint_campaign::Region| FlashRegion {
        name: r.name.clone(),
        offset: r.offset,
        size: r.size,
    };
    match backends.probe.as_mut() {
        Some(ProbeConfig::ProbeRs(p)) => {
            p.slots = map.probe_regions().into_iter().map(view).collect();
        }
        Some(ProbeConfig::Esptool(p)) => {
            p.regions = map.probe_regions().into_iter().map(view).collect();
            if let Some(scratch) = map.map.with_role(fut::layout::Role::Scratch) {
                if !p.regions.iter().any(|r| r.name == scratch.name) {
                    p.regions.push(view(scratch));
                }
            }
        }
        None => {}
    }
    if let TransportConfig::ProbeWrite(p) = &mut backends.transport {
        if let Some(r) = map.probe_write_slot() {
            p.slot_addr = r.offset;
            p.slot_size = r.size;
        }
        p.trailer_align = Some(fut::trailer::Geom::for_write_size(map.map.write_size).align());
    }
}

/// Puts probe-write's image where the campaign's scheme looks for a pending update: the
/// firmware's own staging area for `mode` ([`fut::scheme::Scheme::staging_area`]) over the
/// station's `layout`, measured from the start of the slot probe-write writes. For MCUboot's
/// swap-using-offset that is one sector in, the sector size being the station map's; for the
/// other schemes the slot's start. Call it after [`apply_station_map`].
pub fn apply_scheme(backends: &mut StationBackends, layout: &fut::layout::Layout, mode: fut::scheme::Mode) {
    if let TransportConfig::ProbeWrite(p) = &mut backends.transport {
        let staged = mode.scheme().staging_area(layout);
        let end = u64::from(p.slot_addr) + u64::from(p.slot_size);
        p.image_offset = if staged.offset > p.slot_addr && u64::from(staged.offset) < end {
            staged.offset - p.slot_addr
        } else {
            0
        };
    }
}

/// Gives the probe and probe-write their views of the station's flash map, when it has one
/// (see [`apply_station_map`]).
pub fn fill_probe_slots(
    backends: &mut StationBackends,
    station: &StationFile,
) -> Result<(), cutpoint_campaign::FileError> {
    if let Some(map) = station.flash_map()? {
        apply_station_map(backends, &map);
    }
    Ok(())
}

/// What is wrong with a flash map, in words.
pub fn layout_problem(e: fut::layout::LayoutError) -> &'static str {
    use fut::layout::LayoutError as E;
    match e {
        E::SlotsDiffer => "the primary and secondary slots differ in size",
        E::NotSectorAligned => "a region does not start or end on a sector boundary",
        E::Overlap => "two regions overlap",
        E::ScratchTooSmall => "the scratch area is smaller than the mode needs",
        E::NoScratch => "the mode needs a scratch region and the map has none",
        E::TrailerTooLarge => "the slots are too small for MCUboot's trailer and an image",
        E::GeometryUnsupported => "the part's erase and write sizes are not among those the scheme is built for",
        E::SectorsDiffer => "the slots' sectors are not all of one size",
        E::WriteTooWide => "the part writes in units wider than 32 bytes, the widest trailer alignment MCUboot takes",
        E::SecondaryNotExecutable => {
            "the mode runs images from the secondary slot, which is on the external serial NOR"
        }
    }
}

/// `ADDR:SIZE`, each decimal or `0x` hexadecimal.
pub fn parse_region_arg(s: &str) -> Option<(u32, u32)> {
    let (a, n) = s.split_once(':')?;
    Some((parse_number(a)?, parse_number(n)?))
}

/// A decimal or `0x` hexadecimal number.
pub fn parse_number(s: &str) -> Option<u32> {
    let s = s.trim().replace('_', "");
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The flash map `cutpoint inspect` decodes against: the `--layout` file's, else the built-in
/// map of `board`, with the regions that `--primary`, `--secondary` and `--scratch` give
/// (`(flag, ADDR:SIZE)`) in place of the map's. Errors say which flag or file to fix.
pub fn inspect_layout(
    board: &str,
    file: Option<&std::path::Path>,
    regions: &[(&str, Option<&str>)],
) -> Result<fut::layout::Layout, String> {
    let mut layout = match file {
        Some(f) => cutpoint_campaign::load_flash_map(f)
            .map_err(|e| cutpoint_campaign::format_errors(&e).trim_end().to_string())?
            .layout(),
        None => {
            BoardProfile::builtin(board)
                .ok_or_else(|| {
                    format!(
                        "--board {board}: unknown board; known: {} (or give the map with --layout FILE)",
                        BoardProfile::builtin_names().join(", ")
                    )
                })?
                .layout
        }
    };
    let mut given = Vec::new();
    for (flag, value) in regions {
        let Some(v) = value else { continue };
        let (offset, size) = parse_region_arg(v)
            .ok_or_else(|| format!("--{flag} {v}: expected ADDR:SIZE, e.g. --{flag} 0x10000:0x30000"))?;
        let area = fut::layout::Area { offset, size };
        match *flag {
            "primary" => layout.primary = area,
            "secondary" => layout.secondary = area,
            _ => layout.scratch = area,
        }
        given.push(format!("--{flag}"));
    }
    layout.validate().map_err(|e| {
        let source = match (file, given.is_empty()) {
            (Some(f), true) => f.display().to_string(),
            (None, true) => format!("--board {board}"),
            (_, false) => given.join(", "),
        };
        format!(
            "{source}: {}; the map is {}",
            layout_problem(e),
            describe_layout(&layout)
        )
    })?;
    Ok(layout)
}

/// The slots and scratch area of the `--layout` file that live on another device than the
/// part's own flash (`device = "..."`), which a probe cannot read; none for a built-in board,
/// whose dumps come from the simulated board and hold every device.
pub fn inspect_unreadable(file: Option<&std::path::Path>) -> Vec<(fut::layout::Area, String)> {
    file.and_then(|f| cutpoint_campaign::load_flash_map(f).ok())
        .map(|m| m.unreadable())
        .unwrap_or_default()
}

/// `primary 0x10000+0x30000, secondary ..., scratch ...` (`no scratch` for a map without one).
pub fn describe_layout(l: &fut::layout::Layout) -> String {
    let scratch = if l.has_scratch() {
        format!("scratch {:#x}+{:#x}", l.scratch.offset, l.scratch.size)
    } else {
        "no scratch".to_string()
    };
    format!(
        "primary {:#x}+{:#x}, secondary {:#x}+{:#x}, {scratch} (sectors of {:#x})",
        l.primary.offset, l.primary.size, l.secondary.offset, l.secondary.size, l.sector_size
    )
}

/// `cutpoint boards`: every built-in simulated board, its flash part (size, sectors, write
/// size, ECC), its flash map and, for each update scheme, whether it runs there or why not.
pub fn boards_text() -> Vec<String> {
    use fut::map::Sectors;
    let kib = |b: u32| {
        if b.is_multiple_of(1024) {
            format!("{} KiB", b / 1024)
        } else {
            format!("{b} B")
        }
    };
    let mut out = Vec::new();
    for name in BoardProfile::builtin_names() {
        let Some(p) = BoardProfile::builtin(name) else { continue };
        let f = &p.flash;
        let sectors = if f.sector_map.is_empty() {
            format!("{} sectors of {}", f.sector_count(), kib(f.sector_size))
        } else {
            let runs: Vec<String> = f
                .sector_map
                .iter()
                .map(|r| format!("{}x{} ({} ms)", r.count, kib(r.size), r.erase_us / 1000))
                .collect();
            format!("sectors {}", runs.join(", "))
        };
        out.push(format!(
            "{name}: {} flash, {sectors}, writes of {} B{}",
            kib(f.size),
            f.write_size,
            if f.ecc { " with ECC" } else { "" }
        ));
        if !f.devices.is_empty() {
            for (at, d) in f.device_map() {
                out.push(format!(
                    "  device {} at 0x{at:06x}: {}, {} sectors of {} erased in {} ms, writes of {} B in {} B program units of {} us{}",
                    d.name,
                    kib(d.size),
                    d.sector_count(),
                    kib(d.sector_size),
                    d.erase_sector_us / 1000,
                    d.write_size,
                    d.program_unit,
                    d.program_unit_us,
                    d.max_programs_per_granule
                        .map(|n| format!(", at most {n} writes per word"))
                        .unwrap_or_default()
                ));
            }
        }
        for r in &p.regions {
            let s = match r.sectors {
                Sectors::Uniform(s) => kib(s),
                Sectors::List(list) => list.iter().map(|&s| kib(s)).collect::<Vec<_>>().join(" + "),
            };
            let on = match p.device_name(r.area.offset) {
                Some(d) if !f.devices.is_empty() => format!(" on {d}"),
                _ => String::new(),
            };
            out.push(format!(
                "  {:<10} 0x{:06x} {:>9}  sectors {s}{on}",
                r.name,
                r.area.offset,
                kib(r.area.size)
            ));
        }
        let modes: Vec<String> = fut::Registry::builtin()
            .iter()
            .map(|m| match p.check_mode(m) {
                Ok(()) => m.name().to_string(),
                Err(e) => format!("{} (no: {})", m.name(), layout_problem(e)),
            })
            .collect();
        out.push(format!("  modes: {}", modes.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutpoint_campaign::parse_station;

    #[test]
    fn the_probe_and_probe_write_take_their_regions_from_the_station_map() {
        let text = r#"
[target]
board = "nrf52840"
[power]
kind = "command"
on = ["true"]
off = ["true"]
[console]
kind = "serial"
port = "/dev/null"
baud = 115200
[probe]
kind = "probe-rs"
selector = "1366:1051"
chip = "nRF52840_xxAA"
[transport]
kind = "probe-write"
"#;
        let st = parse_station(text, std::path::Path::new("lab.toml")).unwrap();
        let mut b = crate::bench_target::station_backends(&st).unwrap();
        let TransportConfig::ProbeWrite(p) = &b.transport else {
            panic!()
        };
        assert_eq!((p.slot_addr, p.slot_size), (0, 0), "not stated in the file");
        fill_probe_slots(&mut b, &st).unwrap();
        let TransportConfig::ProbeWrite(p) = &b.transport else {
            panic!()
        };
        assert_eq!((p.slot_addr, p.slot_size), (0x40000, 0x30000));
        let Some(ProbeConfig::ProbeRs(probe)) = &b.probe else {
            panic!()
        };
        let slots: Vec<_> = probe
            .slots
            .iter()
            .map(|s| (s.name.as_str(), s.offset, s.size))
            .collect();
        assert_eq!(slots, [("primary", 0x10000, 0x30000), ("secondary", 0x40000, 0x30000)]);
    }

    /// Flash in memory from address 0, for the probe-write transport to write into.
    struct MemProbe(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl cutpoint_bench::Probe for MemProbe {
        fn describe(&self) -> String {
            "probe/mem".into()
        }
        fn attach(&mut self) -> cutpoint_bench::RigResult<()> {
            Ok(())
        }
        fn write_flash(
            &mut self,
            addr: u32,
            data: &[u8],
            _: &mut dyn FnMut(usize, usize),
        ) -> cutpoint_bench::RigResult<()> {
            self.0.lock().unwrap()[addr as usize..addr as usize + data.len()].copy_from_slice(data);
            Ok(())
        }
        fn read_flash(&mut self, addr: u32, len: usize) -> cutpoint_bench::RigResult<Vec<u8>> {
            Ok(self.0.lock().unwrap()[addr as usize..addr as usize + len].to_vec())
        }
        fn reset(&mut self) -> cutpoint_bench::RigResult<()> {
            Ok(())
        }
        fn halt(&mut self) -> cutpoint_bench::RigResult<()> {
            Ok(())
        }
    }

    const ROLES: &str = r#"
[power]
kind = "command"
on = ["true"]
off = ["true"]
[console]
kind = "serial"
port = "/dev/null"
baud = 115200
[transport]
kind = "probe-write"
"#;

    #[test]
    fn probe_write_marks_the_update_with_the_trailer_of_the_stations_alignment() {
        use cutpoint_bench::OtaTransport;
        use cutpoint_inspect::{FlagState, MagicState};
        let layout16 = r#"
[layout]
sector_size = 0x2000
write_size = 16
[[layout.regions]]
name = "primary"
offset = 0x10000
size = 0x20000
[[layout.regions]]
name = "secondary"
offset = 0x30000
size = 0x20000
[[layout.regions]]
name = "scratch"
offset = 0x50000
size = 0x2000
"#;
        let stations = [
            // (the station's own table, the BOOT_MAX_ALIGN its map gives)
            ("[target]\nboard = \"nrf52840\"\n", 8),
            ("[target]\nboard = \"stm32h7\"\n", 32),
            (layout16, 16),
        ];
        for (own, align) in stations {
            let text =
                format!("{own}{ROLES}[probe]\nkind = \"probe-rs\"\nselector = \"1366:1051\"\nchip = \"RP2040\"\n");
            let st = parse_station(&text, std::path::Path::new("lab.toml")).unwrap();
            let mut b = crate::bench_target::station_backends(&st).unwrap();
            fill_probe_slots(&mut b, &st).unwrap();
            let TransportConfig::ProbeWrite(p) = &b.transport else {
                panic!()
            };
            assert_eq!(p.trailer_align, Some(align), "{own}");
            let layout = station_map(&st).unwrap().map.layout();
            let flash = std::sync::Arc::new(std::sync::Mutex::new(vec![0u8; layout.scratch.end() as usize]));
            let probe = cutpoint_bench::SharedProbe::new(Box::new(MemProbe(flash.clone())));
            let mut t = cutpoint_bench::transport::probe_write::ProbeWriteTransport::open(p, probe).unwrap();
            t.stage(&[0x5a; 1000]).unwrap();
            let dump = flash.lock().unwrap().clone();
            // The rig's own decoder, at the alignment of the station's map, reads a test request.
            let r = cutpoint_inspect::decode_flash_for("swap-scratch", &dump, 0, &layout, None);
            let tr = r
                .slot("secondary")
                .and_then(|s| s.trailer.clone())
                .expect("a secondary trailer");
            assert_eq!(
                (tr.magic, tr.image_ok, tr.copy_done, tr.swap_type.as_str()),
                (MagicState::Good, FlagState::Unset, FlagState::Unset, "test"),
                "{own}"
            );
        }
    }
}
