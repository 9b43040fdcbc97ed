//! Which flash map a device has: a built-in board's, or the one a station's `[layout]` (or an
//! `inspect --layout` file) states in the same region table.

use cutpoint_bench::config::{FlashRegion, ProbeConfig, StationBackends};
use cutpoint_campaign::{FlashMap, StationFile};
use cutpoint_sim::BoardProfile;

/// The board profile a flash map describes: the map, over the flash part of the built-in board
/// named `part` (its timings matter only to the simulated board).
pub fn profile_of(map: &FlashMap, name: &str, part: &str) -> BoardProfile {
    let mut profile = BoardProfile::builtin(part)
        .or_else(|| BoardProfile::builtin("nrf52840"))
        .unwrap_or_else(|| unreachable!("nrf52840 is a built-in board"));
    profile.name = name.to_string();
    profile.layout = map.layout();
    profile
}

/// The simulated board profile whose flash map a station's device has: the first of the
/// station's `[target] board`, `[target] chip` and probe `chip` that names one
/// (`nRF52840_xxAA` names `nrf52840`, `STM32L476RG` names `stm32l4`).
pub fn station_profile(station: &StationFile, probe: Option<&ProbeConfig>) -> Option<BoardProfile> {
    let probe_chip = probe.map(|p| match p {
        ProbeConfig::ProbeRs(c) => c.chip.as_str(),
    });
    [station.board.as_deref(), station.chip.as_deref(), probe_chip]
        .into_iter()
        .flatten()
        .find_map(|name| {
            let name = name.to_ascii_lowercase();
            BoardProfile::builtin_names()
                .iter()
                .find(|b| name.contains(*b))
                .and_then(|b| BoardProfile::builtin(b))
        })
}

/// The flash map of a station's device: its `[layout]`, else the built-in map of the board it
/// names. The error says what to add to the station file.
pub fn station_board(station: &StationFile, probe: Option<&ProbeConfig>) -> Result<BoardProfile, String> {
    let file = station.path.display();
    if let Some(map) = &station.layout {
        let part = station_profile(station, probe).map_or_else(|| "nrf52840".to_string(), |p| p.name);
        return Ok(profile_of(map, &format!("{file} [layout]"), &part));
    }
    station_profile(station, probe).ok_or_else(|| {
        format!(
            "{file}: the station names no board whose flash map cutpoint knows; in {file}, add \
             [target] board = \"{}\" (one of {}) or give the map as a [layout] table \
             (sector_size, write_size, [[layout.regions]] with name, offset, size)",
            BoardProfile::builtin_names()[0],
            BoardProfile::builtin_names().join(", ")
        )
    })
}

/// One line saying where a station's flash map comes from.
pub fn describe_station_map(station: &StationFile, probe: Option<&ProbeConfig>) -> String {
    match (&station.layout, station_profile(station, probe)) {
        (Some(_), _) => "flash map: the station's [layout]".to_string(),
        (None, Some(p)) => format!("flash map: built-in {} (from the board or chip named)", p.name),
        (None, None) => "flash map: none; a campaign on this station needs [layout] or a [target] board".to_string(),
    }
}

/// Gives a probe with no `slots` of its own the primary and secondary slots of the station's
/// flash map, so `doctor` reads the slots the campaign uses.
pub fn fill_probe_slots(backends: &mut StationBackends, station: &StationFile) {
    let Ok(profile) = station_board(station, backends.probe.as_ref()) else {
        return;
    };
    if let Some(ProbeConfig::ProbeRs(p)) = backends.probe.as_mut() {
        if p.slots.is_empty() {
            let l = profile.layout;
            p.slots = [("primary", l.primary), ("secondary", l.secondary)]
                .into_iter()
                .map(|(name, a)| FlashRegion {
                    name: name.to_string(),
                    offset: a.offset,
                    size: a.size,
                })
                .collect();
        }
    }
}

/// What is wrong with a flash map, in words.
pub fn layout_problem(e: fut::layout::LayoutError) -> &'static str {
    use fut::layout::LayoutError as E;
    match e {
        E::SlotsDiffer => "the primary and secondary slots differ in size",
        E::NotSectorAligned => "a region does not start or end on a sector boundary",
        E::Overlap => "two regions overlap",
        E::ScratchTooSmall => "the scratch area is smaller than a sector",
        E::TrailerTooLarge => "the slots are too small for MCUboot's trailer and an image",
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

/// `primary 0x10000+0x30000, secondary ..., scratch ...`.
pub fn describe_layout(l: &fut::layout::Layout) -> String {
    format!(
        "primary {:#x}+{:#x}, secondary {:#x}+{:#x}, scratch {:#x}+{:#x} (sectors of {:#x})",
        l.primary.offset,
        l.primary.size,
        l.secondary.offset,
        l.secondary.size,
        l.scratch.offset,
        l.scratch.size,
        l.sector_size
    )
}
