//! Flash maps: a station's `[layout]` and an `inspect --layout` file are the same region table.

use std::path::Path;

use cutpoint_campaign::{format_errors, parse_flash_map, parse_station, FlashMap, Region};

const BASE: &str = r#"
[power]
kind = "command"
on = ["true"]
off = ["true"]
[console]
kind = "serial"
port = "/dev/null"
[transport]
kind = "http"
"#;

const REGIONS: &str = r#"sector_size = 4096
write_size = 4
[[regions]]
name = "bootloader"
offset = 0x0
size = 0xC000
[[regions]]
name = "primary"
offset = 0xC000
size = 0x76000
[[regions]]
name = "secondary"
offset = 0x82000
size = 0x76000
[[regions]]
name = "scratch"
offset = 0xF8000
size = 0x2000
"#;

/// The same regions as the `[layout]` table of a station.
fn station_layout(map: &str) -> String {
    format!("{BASE}\n[layout]\n{}", map.replace("[[regions]]", "[[layout.regions]]"))
}

fn region(name: &str, offset: u32, size: u32) -> Region {
    Region::new(name, offset, size)
}

#[test]
fn a_map_file_and_a_station_layout_read_the_same() {
    let file = parse_flash_map(REGIONS, Path::new("map.toml")).unwrap_or_else(|e| panic!("{}", format_errors(&e)));
    assert_eq!(
        file,
        FlashMap {
            sector_size: 4096,
            write_size: 4,
            regions: vec![
                region("bootloader", 0, 0xC000),
                region("primary", 0xC000, 0x76000),
                region("secondary", 0x82000, 0x76000),
                region("scratch", 0xF8000, 0x2000),
            ],
        }
    );
    let st = parse_station(&station_layout(REGIONS), Path::new("lab.toml"))
        .unwrap_or_else(|e| panic!("{}", format_errors(&e)));
    assert_eq!(st.layout.as_ref(), Some(&file));
    assert_eq!(file.layout().primary.offset, 0xC000);
    assert_eq!(FlashMap::from_layout(&file.layout()), file);
}

#[test]
fn a_station_without_layout_has_none() {
    let st = parse_station(BASE, Path::new("lab.toml")).expect("station");
    assert!(st.layout.is_none());
}

fn errors(map: &str) -> String {
    let file = parse_flash_map(map, Path::new("map.toml"))
        .map(|_| String::new())
        .unwrap_or_else(|e| format_errors(&e));
    let station = parse_station(&station_layout(map), Path::new("lab.toml"))
        .map(|_| String::new())
        .unwrap_or_else(|e| format_errors(&e));
    format!("{file}{station}")
}

#[test]
fn bad_regions_are_located_in_both_forms() {
    let msg = errors(&REGIONS.replace("\"primary\"", "\"primry\""));
    assert!(
        msg.contains("map.toml:8:8: regions.primry.name: expected one of"),
        "{msg}"
    );
    assert!(msg.contains("did you mean \"primary\"?"), "{msg}");
    assert!(msg.contains("lab.toml:"), "{msg}");
    assert!(msg.contains("layout.regions.primry.name"), "{msg}");
    assert!(msg.contains("missing region \"primary\""), "{msg}");

    let msg = errors(&REGIONS.replace("\"primary\"", "\"slot0_partition\""));
    assert!(
        msg.contains("did you mean \"primary\"?"),
        "Zephyr's names get a hint: {msg}"
    );

    let msg = errors(&REGIONS.replace("offset = 0x82000", "offset = 0x82100"));
    assert!(
        msg.contains("map.toml:13:10: regions.secondary.offset: expected a sector boundary"),
        "{msg}"
    );

    let msg = errors(&REGIONS.replace("offset = 0x82000", "offset = 0x70000"));
    assert!(msg.contains("overlaps primary"), "{msg}");

    let msg = errors(&REGIONS.replace(
        "size = 0x76000\n[[regions]]\nname = \"scratch\"",
        "size = 0x75000\n[[regions]]\nname = \"scratch\"",
    ));
    assert!(
        msg.contains("regions.secondary.size: the secondary slot must be the size of the primary slot"),
        "{msg}"
    );

    let msg = errors(&REGIONS.replace("sector_size = 4096", "sector_size = 4096\nsector_sise = 1"));
    assert!(
        msg.contains("unknown key \"sector_sise\"; did you mean \"sector_size\"?"),
        "{msg}"
    );
}

#[test]
fn the_earlier_inline_form_says_how_to_write_regions() {
    let text = format!("{BASE}\n[layout]\nsector_size = 4096\nwrite_size = 4\nprimary = {{ offset = 0, size = 1 }}\n");
    let msg = format_errors(&parse_station(&text, Path::new("lab.toml")).unwrap_err());
    assert!(msg.contains("lab.toml:15:1: layout.primary:"), "{msg}");
    assert!(msg.contains("[[layout.regions]]"), "{msg}");
}
