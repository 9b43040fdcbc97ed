//! One nRF52840 flash map: the one `inspect` decodes with, the example station's and the
//! guide's agree; `inspect --layout` and `--primary/--secondary/--scratch` give custom maps; the
//! exit code says whether every image is valid.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/docs.rs"]
mod docs;

use std::path::Path;

use cli::{cutpoint, root};
use cutpoint::flash_map::station_board;
use cutpoint_campaign::{load_station, parse_flash_map, parse_station, FlashMap};
use cutpoint_sim::board::RunEnd;
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::{BoardProfile, RunOptions};

fn builtin() -> fut::layout::Layout {
    BoardProfile::builtin("nrf52840").unwrap().layout
}

fn station_map(path: &Path, text: &str) -> fut::layout::Layout {
    let st = parse_station(text, path).unwrap_or_else(|e| panic!("{}", cutpoint_campaign::format_errors(&e)));
    let backends = cutpoint::bench_target::station_backends(&st).unwrap();
    station_board(&st, backends.probe.as_ref()).unwrap().layout
}

/// The first station example of a Markdown file (a block with a [power] table).
fn doc_station(md: &str) -> (String, String) {
    let block = docs::toml_blocks(&root().join(md))
        .into_iter()
        .find(|b| !b.partial && b.text.contains("[power]"))
        .unwrap_or_else(|| panic!("{md}: no station example"));
    (block.origin, block.text)
}

#[test]
fn the_nrf52840_maps_of_inspect_the_example_station_and_the_guide_agree() {
    let nrf = builtin();
    let example = root().join("rig/bench/stations/pi-gpio-nrf52840dk.toml");
    let st = load_station(&example).unwrap();
    let backends = cutpoint::bench_target::station_backends(&st).unwrap();
    assert_eq!(
        station_board(&st, backends.probe.as_ref()).unwrap().layout,
        nrf,
        "the example station"
    );
    for md in ["docs/bench-on-a-pi.md", "rig/campaign/SCHEMA.md"] {
        let (origin, text) = doc_station(md);
        assert_eq!(station_map(Path::new(&origin), &text), nrf, "{origin}");
    }
    // The map the guide writes out is the built-in one, region for region.
    let block = docs::toml_blocks(&root().join("docs/bench-on-a-pi.md"))
        .into_iter()
        .find(|b| b.file.as_deref() == Some("nrf52840-map.toml"))
        .expect("the guide writes the nrf52840 map out");
    let written = parse_flash_map(&block.text, Path::new(&block.origin)).unwrap();
    assert_eq!(written, FlashMap::from_layout(&nrf));
    assert_eq!(written.layout(), nrf);
}

/// A dump of the whole flash after an unfaulted update (2.0.0 in the primary slot).
fn dump(dir: &Path) -> std::path::PathBuf {
    let mut b = Scenario::new(BoardProfile::builtin("nrf52840").unwrap(), 32).board();
    assert_eq!(b.run(RunOptions::default()).end, RunEnd::Idle);
    let path = dir.join("flash.bin");
    std::fs::write(&path, b.flash.raw()).unwrap();
    path
}

#[test]
fn inspect_exit_codes_gate_on_every_image_being_valid() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dump(dir.path());
    let (code, stdout, stderr) = cutpoint(&["inspect", flash.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("primary"), "{stdout}");
    assert!(
        stderr.contains("primary: 2.0.0+0 valid, signature verified"),
        "{stderr}"
    );

    // A flipped bit in the primary image: the dump decodes, an image is invalid.
    let mut bytes = std::fs::read(&flash).unwrap();
    bytes[builtin().primary.offset as usize + 0x300] ^= 0x40;
    let torn = dir.path().join("torn.bin");
    std::fs::write(&torn, &bytes).unwrap();
    let (code, _, stderr) = cutpoint(&["inspect", torn.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("primary: hash-mismatch"), "{stderr}");

    // Signed by another key than the one given.
    let key = dir.path().join("other.pem");
    let (code, _, stderr) = cutpoint(&["image", "key", "--name", "other", "-o", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cutpoint(&["inspect", flash.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("unknown-key"), "{stderr}");

    // Not a dump: bad input.
    let (code, _, stderr) = cutpoint(&["inspect", "README.md"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = cutpoint(&["inspect", "--image", "README.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not an MCUboot image"), "{stderr}");
}

fn map_file(dir: &Path, regions: &[(&str, u32, u32)]) -> std::path::PathBuf {
    let mut text = "sector_size = 4096\nwrite_size = 4\n".to_string();
    for (name, offset, size) in regions {
        text.push_str(&format!(
            "[[regions]]\nname = \"{name}\"\noffset = {offset:#x}\nsize = {size:#x}\n"
        ));
    }
    let path = dir.join("map.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn inspect_decodes_with_a_map_file_or_region_flags() {
    let dir = tempfile::tempdir().unwrap();
    let flash = dump(dir.path());
    let f = flash.to_str().unwrap();
    let l = builtin();
    let same = map_file(
        dir.path(),
        &[
            ("primary", l.primary.offset, l.primary.size),
            ("secondary", l.secondary.offset, l.secondary.size),
            ("scratch", l.scratch.offset, l.scratch.size),
        ],
    );
    let (code, with_file, stderr) = cutpoint(&["inspect", f, "--layout", same.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (_, with_board, _) = cutpoint(&["inspect", f]);
    assert_eq!(with_file, with_board, "the same map decodes the same");

    let region = |a: fut::layout::Area| format!("{:#x}:{:#x}", a.offset, a.size);
    let (code, with_flags, stderr) = cutpoint(&[
        "inspect",
        f,
        "--board",
        "w25q128",
        "--primary",
        &region(l.primary),
        "--secondary",
        &region(l.secondary),
        "--scratch",
        &region(l.scratch),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(with_flags.contains("2.0.0+0"), "{with_flags}");

    // Slots swapped by the flags: the secondary's image (1.0.0) reads as the primary's.
    let (code, swapped, stderr) = cutpoint(&[
        "inspect",
        f,
        "--primary",
        &region(l.secondary),
        "--secondary",
        &region(l.primary),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("primary: 1.0.0+0 valid"), "{stderr}\n{swapped}");

    // A bad map file is located; bad flags name themselves.
    let bad = map_file(
        dir.path(),
        &[("primary", 0x10000, 0x30000), ("secondry", 0x40000, 0x30000)],
    );
    let (code, _, stderr) = cutpoint(&["inspect", f, "--layout", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("map.toml:8:8: regions.secondry.name"), "{stderr}");
    assert!(stderr.contains("did you mean \"secondary\"?"), "{stderr}");
    let (code, _, stderr) = cutpoint(&["inspect", f, "--secondary", "0x40000"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--secondary 0x40000: expected ADDR:SIZE"), "{stderr}");
    let (code, _, stderr) = cutpoint(&["inspect", f, "--secondary", "0x40000:0x20000"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--secondary: the primary and secondary slots differ in size"),
        "{stderr}"
    );
}
