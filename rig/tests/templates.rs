//! The campaign templates for stock targets (`campaigns/templates/`) and their example stations:
//! `cutpoint check` accepts them, and their markers and phases match a console made of the lines
//! the stock bootloader and application really print (a fixture under `fixtures/logs/`, each
//! line taken from their sources, cited in the template), run through the rig's own phase
//! finder and marker check. The same patterns must miss a console that differs where it matters
//! (another MCUboot mode, another OTA log), so the match is not vacuous.

#[path = "support/cli.rs"]
mod cli;

use cli::{cutpoint, root};
use cutpoint_campaign::{expand_plan, find_phases, load_campaign, unmatched_markers, Campaign, Timeline};

fn check_ok(rel: &str, kind: &str) {
    let (code, stdout, stderr) = cutpoint(&["check", rel]);
    assert_eq!(code, 0, "cutpoint check {rel}:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("ok ({kind}")), "{rel}: {stdout}");
}

fn template(rel: &str) -> Campaign {
    load_campaign(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {}", cutpoint_campaign::format_errors(&e)))
}

/// The fixture's lines, stamped 1 ms apart (a line-oriented capture has no times).
fn console(text: &str) -> Vec<(u64, &str)> {
    text.lines().enumerate().map(|(i, l)| (i as u64 * 1000, l)).collect()
}

/// Every marker that must match a control run matches, and each phase is found, starting and
/// ending at the expected lines; the plan has points in every phase.
fn matches_log(c: &Campaign, log: &str, phases: &[(&str, &str, &str)]) {
    let lines = console(log);
    let tl = Timeline {
        console: &lines,
        ops: None,
        update_size: 0,
    };
    let unmatched = unmatched_markers(c, &tl, true);
    assert!(
        unmatched.is_empty(),
        "{}",
        unmatched.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("\n")
    );
    let found = find_phases(c, &tl).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    assert_eq!(found.len(), phases.len());
    for (f, (name, start, end)) in found.iter().zip(phases) {
        assert_eq!(f.span.name, *name);
        assert!(
            lines[f.start_line].1.contains(start),
            "{name} starts at {:?}",
            lines[f.start_line].1
        );
        assert!(
            lines[f.end_line].1.contains(end),
            "{name} ends at {:?}",
            lines[f.end_line].1
        );
    }
    let plan = expand_plan(c, &tl).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    for (name, _, _) in phases {
        assert!(plan.points.iter().any(|p| p.phase == *name), "no cut point in {name}");
    }
}

#[test]
fn zephyr_mcuboot_template_and_station_check() {
    check_ok("rig/bench/stations/pi-gpio-nrf52840dk-zephyr-mcuboot.toml", "Station");
    check_ok("campaigns/templates/zephyr-mcuboot.toml", "Campaign");
    let c = template("campaigns/templates/zephyr-mcuboot.toml");
    assert_eq!(c.target.mode.name(), "swap-move", "Zephyr's default MCUboot mode");
}

#[test]
fn zephyr_mcuboot_patterns_match_mcuboot_and_zephyr_lines() {
    let c = template("campaigns/templates/zephyr-mcuboot.toml");
    let log = std::fs::read_to_string(root().join("fixtures/logs/zephyr-mcuboot-swap-move.log")).unwrap();
    matches_log(
        &c,
        &log,
        &[
            (
                "swap",
                "I: Starting swap using move algorithm.",
                "I: Bootloader chainload address offset: 0xc000",
            ),
            (
                "first-boot",
                "I: Jumping to the first image slot",
                "<inf> smp_sample: build time:",
            ),
        ],
    );
    // The jump marker reads the version MCUboot names, the new one after the swap.
    let versions: Vec<&str> = log
        .lines()
        .filter_map(|l| c.markers.jump.captures(l))
        .filter_map(|m| m.name("version").map(|v| v.as_str()))
        .collect();
    assert_eq!(versions, ["1.0.0", "2.0.0"]);
    // A bootloader built for swap using scratch prints another line: the swap phase is not there.
    let scratch = log.replace("using move algorithm", "using scratch algorithm");
    let lines = console(&scratch);
    let tl = Timeline {
        console: &lines,
        ops: None,
        update_size: 0,
    };
    let err = find_phases(&c, &tl).unwrap_err().to_string();
    assert!(err.contains("phase \"swap\" not found"), "{err}");
    // Full logging (time stamp and `<inf> mcuboot:` instead of `I:`) matches as well.
    let full = log.replace("I: ", "[00:00:00.000,000] <inf> mcuboot: ");
    matches_log(
        &c,
        &full,
        &[
            (
                "swap",
                "Starting swap using move algorithm.",
                "Bootloader chainload address offset",
            ),
            (
                "first-boot",
                "Jumping to the first image slot",
                "smp_sample: build time:",
            ),
        ],
    );
}

const ESP_STATION: &str = "rig/bench/stations/pi-gpio-esp32c3-devkitm.toml";
const ESP_TEMPLATE: &str = "campaigns/templates/esp-idf-https-ota.toml";

#[test]
fn esp_idf_template_and_esp32c3_station_check() {
    check_ok(ESP_STATION, "Station");
    check_ok(ESP_TEMPLATE, "Campaign");
    let c = template(ESP_TEMPLATE);
    assert_eq!(c.target.mode.name(), "esp-idf");
}

#[test]
fn esp_idf_patterns_match_the_bootloader_and_https_ota_lines() {
    let c = template(ESP_TEMPLATE);
    let log = std::fs::read_to_string(root().join("fixtures/logs/esp-idf-https-ota.log")).unwrap();
    matches_log(
        &c,
        &log,
        &[
            (
                "download",
                "esp_https_ota: Starting OTA...",
                "ESP_HTTPS_OTA upgrade successful. Rebooting ...",
            ),
            (
                "bootloader",
                "boot: ESP-IDF v5.3.1 2nd stage bootloader",
                "boot: Loaded app from partition at offset 0x1d0000",
            ),
            (
                "first-boot",
                "boot: Loaded app from partition at offset 0x1d0000",
                "Marked valid: version 2.0.0",
            ),
        ],
    );
    let lines = console(&log);
    let tl = Timeline {
        console: &lines,
        ops: None,
        update_size: 0,
    };
    let found = find_phases(&c, &tl).unwrap();
    assert!(
        found[1].start_line > found[0].end_line,
        "the bootloader phase is the boot after the download, not the first one"
    );
    let versions: Vec<&str> = log
        .lines()
        .filter_map(|l| c.markers.jump.captures(l))
        .filter_map(|m| m.name("version").map(|v| v.as_str()))
        .collect();
    assert_eq!(versions, ["1.0.0", "2.0.0"]);
    // The stock example without the added line prints no commit line: the control run says so.
    let stock: String = log
        .lines()
        .filter(|l| !l.contains("Marked valid"))
        .map(|l| format!("{l}\n"))
        .collect();
    let lines = console(&stock);
    let tl = Timeline {
        console: &lines,
        ops: None,
        update_size: 0,
    };
    let unmatched = unmatched_markers(&c, &tl, true);
    let fields: Vec<&str> = unmatched
        .iter()
        .map(|u| u.located.rsplit(": ").next().unwrap())
        .collect();
    assert_eq!(fields, ["markers.commit", "phases.first-boot.end"], "{unmatched:?}");
}

#[test]
fn esp_app_images_are_refused_where_they_are_named() {
    // A stock ESP-IDF build's app image starts with the ESP image magic 0xE9, not MCUboot's
    // header: the template says the rig cannot take it yet, and check says where.
    let dir = tempfile::tempdir().unwrap();
    let mut app = vec![0xE9u8, 0x06, 0x02, 0x20];
    app.resize(4096, 0xAA);
    std::fs::write(dir.path().join("app-1.0.0.bin"), &app).unwrap();
    let text = std::fs::read_to_string(root().join(ESP_TEMPLATE))
        .unwrap()
        .replace(
            "../../rig/bench/stations/pi-gpio-esp32c3-devkitm.toml",
            &root().join(ESP_STATION).display().to_string(),
        )
        .replace("[run]", "[images]\nbaseline = { file = \"app-1.0.0.bin\" }\n\n[run]");
    let path = dir.path().join("esp.toml");
    std::fs::write(&path, text).unwrap();
    let (code, stdout, stderr) = cutpoint(&["check", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(stderr.contains("images.baseline.file"), "{stderr}");
}

#[test]
fn the_probe_read_of_the_esp32c3_map_holds_otadata_and_decodes() {
    use cutpoint::bench_target::dump_range;
    use cutpoint_sim::board::RunOptions;
    use cutpoint_sim::scenario::Scenario;
    let station = cutpoint_campaign::load_station(root().join(ESP_STATION)).unwrap();
    let map = cutpoint_engine::station_setup::station_map(&station).unwrap();
    // The station's map over the part its `[target] flash` names: a 4 MiB serial NOR with
    // 4 KiB sectors, the board's flash.
    let profile = cutpoint_engine::station_setup::station_board(&station).unwrap();
    assert_eq!(profile.flash.name, "w25q32");
    assert_eq!(profile.flash.size, 4 * 1024 * 1024);
    assert_eq!(
        profile.layout,
        cutpoint_engine::station_setup::profile_of(&map.map, "esp32c3", "w25q32").layout
    );
    let l = profile.layout;
    assert_eq!((l.scratch.offset, l.scratch.size), (0xf000, 0x2000), "otadata");
    assert_eq!(
        (l.primary.offset, l.secondary.offset),
        (0x20000, 0x1d0000),
        "ota_0, ota_1"
    );
    let esp_idf = fut::Registry::builtin().find("esp-idf").unwrap();
    assert!(
        esp_idf.scheme().check_layout(&l).is_ok(),
        "the esp-idf scheme fits the station's map"
    );
    // What the bench reads back after each cut: one read from the lowest region to the highest.
    let (base, len) = dump_range(&l);
    assert_eq!(base, 0xf000, "the read starts at otadata");
    assert!(u64::from(base) + len as u64 >= u64::from(l.secondary.end()));
    // An update on the simulated board laid out as the station, read back the same way.
    let mut s = Scenario::new(profile, 16);
    s.mode = esp_idf;
    let mut board = s.board();
    board.run(RunOptions::default());
    let dump = &board.flash.raw()[base as usize..base as usize + len];
    let report = cutpoint_inspect::decode_flash_for("esp-idf", dump, base, &l, None);
    let text = cutpoint_inspect::render::render_text(&report);
    assert!(
        text.contains("otadata boot: sector 1, ota_1"),
        "the record read from the station's otadata names ota_1 after the update: {text}"
    );
}

/// The ESP32-C3 station without the part it has (`[target] flash`): its map (3.5 MiB) would be
/// modelled on the default 1 MiB part. That is a mistake in the station file, refused before
/// any cut by `check` and by `run`, at each region that reaches past the part, saying what to
/// write.
#[test]
fn a_station_map_larger_than_its_part_is_refused_before_any_cut() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(ESP_STATION)).unwrap();
    assert!(text.contains("\nflash = \"w25q32\"\n"));
    let station = dir.path().join("esp32c3-no-part.toml");
    std::fs::write(&station, text.replace("\nflash = \"w25q32\"\n", "\n")).unwrap();
    let (code, stdout, stderr) = cutpoint(&["check", station.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    for region in ["primary", "secondary"] {
        assert!(
            stderr.contains("esp32c3-no-part.toml:")
                && stderr.contains(&format!("layout.regions.{region}.size: region \"{region}\"")),
            "{stderr}"
        );
    }
    assert!(stderr.contains("ends past the end of the nrf52840 flash the device is modelled on (0x100000, 1024 KiB; no [target] board, chip or flash names a part cutpoint knows"), "{stderr}");
    assert!(
        stderr.contains("[target] flash = \"...\" (one at least this large: w25q128, w25q32)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("layout.regions.otadata"),
        "otadata fits the part: {stderr}"
    );

    // A campaign on it stops as bad input before any cut point.
    let campaign = dir.path().join("esp.toml");
    let c = std::fs::read_to_string(root().join(ESP_TEMPLATE)).unwrap().replace(
        "../../rig/bench/stations/pi-gpio-esp32c3-devkitm.toml",
        station.to_str().unwrap(),
    );
    std::fs::write(&campaign, c).unwrap();
    let out = dir.path().join("report");
    let (code, stdout, stderr) = cutpoint(&["run", campaign.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(stderr.contains("layout.regions.secondary.size"), "{stderr}");
    assert!(
        !stdout.contains("cut point") && !stderr.contains("cut points planned"),
        "{stdout}\n{stderr}"
    );
    assert!(!out.join("results.jsonl").exists(), "no journal: nothing ran");
}
