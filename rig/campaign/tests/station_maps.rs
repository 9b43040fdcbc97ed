//! A station's flash map is one list of named, typed regions: the probe's reads and
//! probe-write's writes are views of it, the old `[probe] slots` and `slot_addr`/`slot_size`
//! still load (mapped onto the list, with a warning saying what to write), and bad regions are
//! errors at their line and key.

use std::path::Path;

use cutpoint_campaign::{format_errors, parse_station, MapSource, SectorSizes, StationFile};
use fut::layout::Role;

const BACKENDS: &str = r#"
[power]
kind = "command"
on = ["true"]
off = ["true"]

[console]
kind = "serial"
port = "/dev/null"
baud = 115200
"#;

/// The built-in nrf52840 map, stated the old way: the probe's own slots and probe-write's own
/// addresses beside a board name.
const OLD: &str = r#"
[target]
board = "nrf52840"

[probe]
kind = "probe-rs"
selector = "1366:1051:001050234567"
chip = "nRF52840_xxAA"
slots = [
    { name = "primary", offset = 0x10000, size = 0x30000 },
    { name = "secondary", addr = 0x40000, size = 0x30000 },
]

[transport]
kind = "probe-write"
slot_addr = 0x40000
slot_size = 0x30000
"#;

/// A `[[layout.regions]]` table, after a blank line: its name, then `keys` (one a line, e.g.
/// `role = "bootloader"\n`), its offset and size.
fn region(name: &str, offset: u32, size: u32, keys: &str) -> String {
    format!("\n[[layout.regions]]\nname = \"{name}\"\n{keys}offset = {offset:#x}\nsize = {size:#x}\n")
}

/// A `[layout]` table with `regions` (see [`region`]), after a blank line.
fn layout(sector_size: &str, write_size: u32, regions: &[String]) -> String {
    format!(
        "\n[layout]\nsector_size = {sector_size}\nwrite_size = {write_size}\n{}",
        regions.concat()
    )
}

/// A probe-rs `[probe]` table.
fn probe_rs(selector: &str, chip: &str) -> String {
    format!("[probe]\nkind = \"probe-rs\"\nselector = \"{selector}\"\nchip = \"{chip}\"\n")
}

/// An http `[transport]` table.
const HTTP: &str = "[transport]\nkind = \"http\"\nbind = \"0.0.0.0:8080\"\n";

/// The built-in nrf52840 map's primary and secondary slots and scratch area, as regions.
fn nrf52840_slots() -> String {
    [
        region("primary", 0x10000, 0x30000, ""),
        region("secondary", 0x40000, 0x30000, ""),
        region("scratch", 0x70000, 0x2000, ""),
    ]
    .concat()
}

/// The same station stated once: the map's regions, and nothing else about them.
fn new_station() -> String {
    format!(
        "\n{}\n[transport]\nkind = \"probe-write\"\n{}{}",
        probe_rs("1366:1051:001050234567", "nRF52840_xxAA"),
        layout("4096", 4, &[region("bootloader", 0, 0x10000, "")]),
        nrf52840_slots()
    )
}

fn station(name: &str, body: &str) -> Result<StationFile, String> {
    parse_station(&format!("{BACKENDS}{body}"), Path::new(name)).map_err(|e| format_errors(&e))
}

fn map_error(body: &str) -> String {
    match station("lab.toml", body) {
        Err(e) => e,
        Ok(st) => match st.flash_map() {
            Err(e) => e.to_string(),
            Ok(_) => panic!("expected an error for\n{body}"),
        },
    }
}

#[test]
fn old_and_new_station_files_give_the_same_map() {
    let old = station("old.toml", OLD).unwrap();
    let new = station("new.toml", &new_station()).unwrap();
    let old_map = old.flash_map().unwrap().expect("the board names a map");
    let new_map = new.flash_map().unwrap().expect("the station has a [layout]");
    assert_eq!(old_map.map, new_map.map);
    assert_eq!(old_map.source, MapSource::Builtin("nrf52840".into()));
    assert_eq!(new_map.source, MapSource::Layout);
    assert_eq!(old_map.probe_regions(), new_map.probe_regions());
    assert_eq!(
        old_map
            .probe_regions()
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["primary", "secondary"]
    );
    let slot = new_map.probe_write_slot().unwrap();
    assert_eq!((slot.offset, slot.size), (0x40000, 0x30000));
    assert_eq!(old_map.probe_write_slot(), new_map.probe_write_slot());

    // The old keys load with a warning each, saying what to write instead; the new file has none.
    assert!(new.warnings.is_empty(), "{:?}", new.warnings);
    let warnings = format_errors(&old.warnings);
    assert!(
        warnings.contains("old.toml:19:9: probe.slots: slots is deprecated"),
        "{warnings}"
    );
    assert!(warnings.contains("remove slots"), "{warnings}");
    assert!(warnings.contains("addr is deprecated; write offset"), "{warnings}");
    assert!(
        warnings.contains("old.toml:26:13: transport.slot_addr: slot_addr and slot_size are deprecated"),
        "{warnings}"
    );
    assert!(
        warnings.contains("secondary region of the station's flash map"),
        "{warnings}"
    );
}

#[test]
fn an_old_slot_the_map_lacks_is_added_to_it_and_read_by_the_probe() {
    let body = OLD.replace(
        "    { name = \"secondary\", addr = 0x40000, size = 0x30000 },\n",
        "    { name = \"secondary\", addr = 0x40000, size = 0x30000 },\n    { name = \"settings\", offset = 0xF8000, size = 0x8000 },\n",
    );
    let st = station("old.toml", &body).unwrap();
    let m = st.flash_map().unwrap().unwrap();
    let settings = m.map.region("settings").expect("mapped onto the region list");
    assert_eq!(
        (settings.role, settings.offset, settings.size),
        (Role::Metadata, 0xF8000, 0x8000)
    );
    assert_eq!(
        m.probe_regions().iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["primary", "secondary", "settings"]
    );
}

#[test]
fn a_mixed_sector_map_with_a_second_device_loads() {
    let body = layout(
        "0x20000",
        8,
        &[
            region(
                "mcuboot",
                0,
                0x20000,
                "role = \"bootloader\"\nsectors = [0x4000, 0x4000, 0x4000, 0x4000, 0x10000]\n",
            ),
            region("image-0", 0x20000, 0x60000, "role = \"primary\"\n"),
            region("image-1", 0x80000, 0x60000, "role = \"secondary\"\n"),
            region("scratch", 0xE0000, 0x20000, ""),
            region(
                "log",
                0,
                0x10000,
                "role = \"metadata\"\ndevice = \"w25q128\"\nsector_size = 0x1000\n",
            ),
        ],
    );
    let body = format!("{HTTP}{}{body}", probe_rs("0483:374b", "STM32F407VGTx"));
    let st = station("lab.toml", &body).unwrap();
    let m = st.flash_map().unwrap().unwrap();
    let boot = m.map.region("mcuboot").unwrap();
    assert_eq!(boot.role, Role::Bootloader);
    assert_eq!(
        boot.sectors,
        Some(SectorSizes::List(vec![0x4000, 0x4000, 0x4000, 0x4000, 0x10000]))
    );
    let log = m.map.region("log").unwrap();
    assert_eq!((log.device.as_deref(), log.offset), (Some("w25q128"), 0));
    let l = m.map.layout();
    assert_eq!(l.validate(), Ok(()));
    assert_eq!(
        (l.sector_size, l.primary.offset, l.secondary.offset),
        (0x20000, 0x20000, 0x80000)
    );
    assert_eq!((l.bootloader.offset, l.bootloader.size), (0, 0x20000));
    assert_eq!(
        m.probe_regions().iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["image-0", "image-1"]
    );
    assert_eq!(m.probe_write_slot().unwrap().name, "image-1");
}

fn with_region(region: &str) -> String {
    format!(
        "{HTTP}\n[layout]\nsector_size = 4096\nwrite_size = 4\n{region}{}",
        nrf52840_slots()
    )
}

#[test]
fn bad_regions_are_errors_at_their_line_and_key() {
    // Lines: the backends take 10, the transport and [layout] header 6 more.
    let e = map_error(&with_region(
        "[[layout.regions]]\nname = \"log\"\nrole = \"logs\"\noffset = 0x0\nsize = 0x1000\n",
    ));
    assert!(
        e.contains("lab.toml:20:8: layout.regions.log.role: unknown role \"logs\": expected one of"),
        "{e}"
    );

    let e = map_error(&with_region(
        "[[layout.regions]]\nname = \"boot\"\nrole = \"bootloader\"\noffset = 0x0\nsize = 0x10000\nsectors = [0x4000, 0x4000]\n",
    ));
    assert!(
        e.contains("lab.toml:23:11: layout.regions.boot.sectors: the sectors add up to 0x8000 bytes, but the region's size is 0x10000"),
        "{e}"
    );

    let e = map_error(&with_region(
        "[[layout.regions]]\nname = \"settings\"\nrole = \"metadata\"\noffset = 0x800\nsize = 0x1000\n",
    ));
    assert!(
        e.contains("lab.toml:21:10: layout.regions.settings.offset: expected a sector boundary (a multiple of 0x1000), got 0x800"),
        "{e}"
    );

    let e = map_error(&with_region(
        "[[layout.regions]]\nname = \"settings\"\nrole = \"metadata\"\noffset = 0x3F000\nsize = 0x2000\n",
    ));
    assert!(
        e.contains(
            "layout.regions.secondary.offset: secondary (0x40000..0x70000) overlaps settings (0x3f000..0x41000)"
        ),
        "{e}"
    );
    // The same addresses on another device do not overlap.
    let other = with_region(
        "[[layout.regions]]\nname = \"settings\"\nrole = \"metadata\"\ndevice = \"w25q128\"\noffset = 0x3F000\nsize = 0x2000\n",
    );
    station("lab.toml", &other).unwrap().flash_map().unwrap().unwrap();

    let e = map_error(&with_region(
        "[[layout.regions]]\nname = \"boot\"\nrole = \"bootloader\"\noffset = 0x0\nsize = 0x10000\nsector_size = 0x1000\nsectors = [0x10000]\n",
    ));
    assert!(
        e.contains("layout.regions.boot.sector_size: give the region's sector_size"),
        "{e}"
    );

    // Slots whose sectors differ swap in groups of whole sectors (two 4 KiB sectors for one of
    // 8 KiB), as MCUboot pairs them; a map that cannot be divided into groups of the largest
    // sector (an 8 KiB scratch area beside 64 KiB secondary sectors) cannot be swapped at all.
    let grouped = with_region("").replace(
        "name = \"secondary\"\noffset = 0x40000\nsize = 0x30000\n",
        "name = \"secondary\"\noffset = 0x40000\nsize = 0x30000\nsector_size = 0x2000\n",
    );
    station("lab.toml", &grouped).unwrap().flash_map().unwrap().unwrap();
    let e = map_error(&with_region("").replace(
        "name = \"secondary\"\noffset = 0x40000\nsize = 0x30000\n",
        "name = \"secondary\"\noffset = 0x40000\nsize = 0x30000\nsector_size = 0x10000\n",
    ));
    assert!(
        e.contains("must have sectors of one size, or divide into groups"),
        "{e}"
    );

    // An old key that disagrees with the map is an error at the old key.
    let e = map_error(&OLD.replace("addr = 0x40000", "addr = 0x50000"));
    assert!(
        e.contains("lab.toml:21:5: probe.slots.secondary: slot \"secondary\" is 0x50000+0x30000, but the region of the flash map (nrf52840) is 0x40000+0x30000"),
        "{e}"
    );
    let e = map_error(&OLD.replace("slot_addr = 0x40000", "slot_addr = 0x42000"));
    assert!(
        e.contains("lab.toml:26:13: transport.slot_addr: probe-write writes to 0x42000+0x30000, but the secondary slot of the flash map (nrf52840) is 0x40000+0x30000"),
        "{e}"
    );
    let e = map_error(&OLD.replace("slot_size = 0x30000\n", ""));
    assert!(e.contains("give neither slot_addr nor slot_size"), "{e}");
}

/// A station's map over the part its device is modelled on: a region of the part's own flash
/// past the part's end is a mistake in the file, refused where it is written (the region's
/// `size`), with the part, its size and what to change; never a device failure later.
#[test]
fn a_map_larger_than_the_part_it_models_is_refused_at_the_region() {
    // The stm32l4 (1 MiB) named by the board; the scratch area lies past 1 MiB.
    let big = with_region("").replace(
        "name = \"scratch\"\noffset = 0x70000\nsize = 0x2000\n",
        "name = \"scratch\"\noffset = 0x100000\nsize = 0x2000\n",
    );
    let e = station("lab.toml", &format!("[target]\nboard = \"stm32l4\"\n{big}")).unwrap_err();
    // Lines: the backends take 10, [target] 2, the transport and [layout] header 6, primary 4.
    assert!(
        e.contains(
            "lab.toml:34:8: layout.regions.scratch.size: region \"scratch\" (0x100000..0x102000) ends past the end \
             of the stm32l4 flash the device is modelled on (0x100000, 1024 KiB; the [target] board or chip names it)"
        ),
        "{e}"
    );
    assert!(
        e.contains("[target] flash = \"...\" (one at least this large: w25q128, w25q32, stm32f4, stm32h7, stm32u5)"),
        "{e}"
    );
    assert_eq!(
        e.matches("ends past the end").count(),
        1,
        "only the region past the end: {e}"
    );

    // No part named at all: the default part (nrf52840, 1 MiB) is said to be the default.
    let e = station("lab.toml", &big).unwrap_err();
    assert!(
        e.contains("no [target] board, chip or flash names a part cutpoint knows, so it is the default"),
        "{e}"
    );

    // Naming the device's part fixes it; the part is the map's, the board stays free text.
    let ok = station(
        "lab.toml",
        &format!("[target]\nboard = \"Some-DevKit\"\nflash = \"w25q32\"\n{big}"),
    )
    .unwrap();
    assert_eq!(ok.part(), "w25q32");
    ok.flash_map().unwrap().unwrap();

    // A region on another device is not on the part: it may lie past the part's end.
    let ext = with_region(
        "[[layout.regions]]\nname = \"log\"\nrole = \"metadata\"\ndevice = \"w25q128\"\noffset = 0x200000\nsize = 0x1000\n",
    );
    station("lab.toml", &ext).unwrap().flash_map().unwrap().unwrap();

    // A part cutpoint does not know is an error at the key, with a hint.
    let e = station(
        "lab.toml",
        &format!("[target]\nflash = \"w25q23\"\n{}", with_region("")),
    )
    .unwrap_err();
    assert!(
        e.contains("lab.toml:12:9: target.flash: unknown flash part \"w25q23\"; did you mean \"w25q")
            && e.contains("known: nrf52840, stm32l4, w25q128, w25q32"),
        "{e}"
    );
}

/// The built-in map of a named board over a part too small for it, named by `flash`.
#[test]
fn a_built_in_map_over_a_smaller_flash_part_is_refused_at_flash() {
    let body =
        "[transport]\nkind = \"http\"\nbind = \"0.0.0.0:8080\"\n[target]\nboard = \"w25q32\"\nflash = \"nrf52840\"\n";
    let e = station("lab.toml", body).unwrap_err();
    assert!(
        e.contains("lab.toml:16:9: target.flash: the built-in w25q32 flash map reaches")
            && e.contains("past the end of the nrf52840 flash (0x100000)"),
        "{e}"
    );
}

#[test]
fn a_secondary_slot_on_an_external_nor_is_in_the_bootloaders_view_but_not_the_probes() {
    // The nRF52840 DK as the nRF Connect SDK lays MCUboot out with external flash: the
    // secondary slot on the MX25R6435F, at its address in the map the target's flash driver
    // presents. The probe reads the part's own flash only.
    let body = format!(
        "\n{HTTP}{}{}",
        probe_rs("1366:1051", "nRF52840_xxAA"),
        layout(
            "0x1000",
            4,
            &[
                region("mcuboot", 0, 0x10000, "role = \"bootloader\"\n"),
                region("primary", 0x10000, 0xEE000, ""),
                region("scratch", 0xFE000, 0x2000, ""),
                region("secondary", 0x100000, 0xEE000, "device = \"mx25r6435f\"\n"),
            ]
        )
    );
    let st = station("dk.toml", &body).unwrap();
    let m = st.flash_map().unwrap().unwrap();
    let l = m.map.layout();
    assert_eq!(l.validate(), Ok(()));
    assert_eq!((l.secondary.offset, l.secondary.size), (0x100000, 0xEE000));
    assert_eq!(
        m.probe_regions().iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["primary"],
        "the probe does not read the external device"
    );
    assert!(m.probe_write_slot().is_none(), "nor can it write the update there");
    let unreadable = m.map.unreadable();
    assert_eq!(unreadable.len(), 1);
    assert_eq!(
        (unreadable[0].0.offset, unreadable[0].0.size, unreadable[0].1.as_str()),
        (0x100000, 0xEE000, "mx25r6435f")
    );
}
