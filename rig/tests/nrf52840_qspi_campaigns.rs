//! The nRF52840 DK with the secondary slot on its MX25R6435F QSPI NOR (board `nrf52840-qspi`)
//! through the engine, the pass rule and the command line: every MCUboot mode that keeps the
//! secondary on an external device passes its shipped campaigns, a broken swap-move build is
//! caught there and the reference passes the same matrix, and a cut replays bit for bit from
//! its id with the dump decoded against the board's map.

use std::path::{Path, PathBuf};

use cutpoint_report::Status;

#[path = "support/sim_run.rs"]
mod sim_run;

#[path = "support/cli.rs"]
mod cli;

#[test]
fn every_mcuboot_mode_passes_with_the_secondary_on_the_external_nor() {
    sim_run::assert_shipped_passes("nrf52840-qspi/swap-move-smoke", 40);
    sim_run::assert_shipped_passes("nrf52840-qspi/swap-scratch-exhaustive", 900);
    sim_run::assert_shipped_passes("nrf52840-qspi/overwrite-exhaustive", 250);
    sim_run::assert_shipped_passes("nrf52840-qspi/swap-move-exhaustive", 900);
    sim_run::assert_shipped_passes("nrf52840-qspi/swap-offset-exhaustive", 600);
    sim_run::assert_shipped_passes("nrf52840-qspi/swap-move-double-cuts", 1000);
}

#[test]
fn the_large_campaign_fills_the_room_the_board_has() {
    // Not run here (about 21,000 cut points; the cut_rate bench runs it): it loads, and its
    // images are as large as swap-move can install in the board's 952 KiB slots.
    let c = sim_run::shipped("nrf52840-qspi/swap-move-exhaustive-large");
    let profile = cutpoint_sim::BoardProfile::builtin("nrf52840-qspi").unwrap();
    assert_eq!(profile.layout.primary.size, 952 * 1024);
    let max = c.target.mode.scheme().max_image_size(&profile.layout);
    assert!(max >= 940 * 1024 + 0x100, "swap-move installs up to {max} bytes");
    assert!(max < 952 * 1024);
}

#[test]
fn a_torn_magic_at_revert_is_caught_with_the_secondary_on_the_external_nor() {
    let c = sim_run::shipped("nrf52840-qspi/known-bugs");
    let ran = sim_run::run(&c);
    let failed = ran.count(Status::Fail);
    assert!(failed > 0, "the broken build was not caught");
    assert_eq!(ran.count(Status::Error), 0);
    println!(
        "torn-magic-revert on nrf52840-qspi: {failed} of {} cuts fail",
        ran.journal.cuts.len()
    );
    // The reference passes the same matrix.
    let reference = sim_run::shipped_with("nrf52840-qspi/known-bugs", |t| {
        t.replace("variant = \"torn-magic-revert\"", "variant = \"reference\"")
            .replace("expect = \"fail\"", "expect = \"pass\"")
    });
    let ran = sim_run::run(&reference);
    assert!(!ran.control_failed, "{:?}", ran.control_reasons());
    assert_eq!(ran.failures(), Vec::<String>::new());
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-qspi-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_cut_on_either_device_replays_and_its_dump_decodes_against_the_board_map() {
    let out = tmp("known-bugs").join("out");
    let (code, stdout, stderr) = cli::cutpoint(&[
        "run",
        "campaigns/nrf52840-qspi/known-bugs.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "expected failures: {stdout}\n{stderr}");
    assert!(stderr.contains("as expected"), "{stderr}");
    let results = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let cuts: Vec<serde_json::Value> = results
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["record"] == "cut")
        .collect();
    // The landing names the operation's address: cuts inside an operation on the internal
    // flash (below 1 MiB) and on the external NOR (from 1 MiB) are both in the run.
    let addr_of = |c: &serde_json::Value| {
        let op = c["landing"]["op"].as_str()?;
        let at = op.split_whitespace().find(|w| w.starts_with("0x"))?;
        let hex = at.trim_start_matches("0x").split('+').next()?;
        u32::from_str_radix(hex, 16).ok()
    };
    let inside: Vec<&serde_json::Value> = cuts.iter().filter(|c| c["landing"]["torn"].is_string()).collect();
    let ext = inside.iter().find(|c| addr_of(c).is_some_and(|a| a >= 0x10_0000));
    let int = inside.iter().find(|c| addr_of(c).is_some_and(|a| a < 0x10_0000));
    let (Some(ext), Some(int)) = (ext, int) else {
        panic!(
            "cuts inside operations on both devices: {}",
            &results[..results.len().min(3000)]
        )
    };
    for c in [ext, int] {
        let id = c["id"].as_str().unwrap();
        let (code, stdout, stderr) = cli::cutpoint(&["replay", out.to_str().unwrap(), id]);
        assert_eq!(code, 0, "{id}: {stdout}\n{stderr}");
        assert!(stdout.contains("post-cut flash: identical"), "{id}: {stdout}");
        assert!(stdout.contains("outcome: matches"), "{id}: {stdout}");
    }
    // A failing cut's dump spans both devices and decodes against the board's map.
    let failing = cuts.iter().find(|c| c["status"] == "fail").expect("a failing cut");
    let dir = std::fs::read_dir(out.join("cuts"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            std::fs::read_dir(p)
                .unwrap()
                .flatten()
                .any(|f| f.file_name().to_string_lossy().starts_with("flash-"))
        })
        .unwrap_or_else(|| panic!("a dump for {}", failing["id"]));
    let dump = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("flash-"))
        .unwrap();
    let (code, stdout, stderr) = cli::cutpoint(&[
        "inspect",
        "--board",
        "nrf52840-qspi",
        "--mode",
        "swap-move",
        dump.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("secondary=0x00100000+0xee000"), "{stdout}");
    assert!(
        stdout.contains("secondary:") && stdout.contains("(in dump: full)"),
        "{stdout}"
    );
}

/// The station map of an nRF52840 DK whose secondary slot is on the MX25R6435F: the probe reads
/// the nRF52840's own 1 MiB only.
const DK_MAP: &str = r#"sector_size = 0x1000
write_size = 4

[[regions]]
name = "mcuboot"
role = "bootloader"
offset = 0x0
size = 0x10000

[[regions]]
name = "primary"
offset = 0x10000
size = 0xEE000

[[regions]]
name = "scratch"
offset = 0xFE000
size = 0x2000

[[regions]]
name = "secondary"
device = "mx25r6435f"
offset = 0x100000
size = 0xEE000
"#;

#[test]
fn a_secondary_the_probe_cannot_read_is_reported_as_such_never_as_erased() {
    let dir = tmp("probe-view");
    // What a probe reads of the DK after an update: the part's own flash, the external NOR not.
    let mut s =
        cutpoint_sim::scenario::Scenario::new(cutpoint_sim::BoardProfile::builtin("nrf52840-qspi").unwrap(), 32);
    s.mode = fut::scheme::Mode::SWAP_MOVE;
    let mut board = s.board();
    let log = board.run(cutpoint_sim::RunOptions::default());
    assert_eq!(log.end, cutpoint_sim::RunEnd::Idle);
    let dump = dir.join("flash-0x0.bin");
    std::fs::write(&dump, &board.flash.raw()[..0x10_0000]).unwrap();
    let map = dir.join("dk-map.toml");
    std::fs::write(&map, DK_MAP).unwrap();
    let (code, stdout, stderr) = cli::cutpoint(&[
        "inspect",
        "--layout",
        map.to_str().unwrap(),
        "--mode",
        "swap-move",
        dump.to_str().unwrap(),
    ]);
    // The primary's image is valid: the unknown secondary does not fail the dump.
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("primary: 2.0.0+0"), "{stdout}");
    assert!(
        stdout.contains("secondary: not readable through the probe (on mx25r6435f)"),
        "{stdout}"
    );
    assert!(stdout.contains("(in dump: not readable through the probe)"), "{stdout}");
    let secondary = &stdout[stdout.find("secondary: not readable").unwrap()..];
    let secondary = &secondary[..secondary.find("\n\n").unwrap_or(secondary.len())];
    for verdict in ["(erased)", "sectors: erased", "invalid", "magic="] {
        assert!(!secondary.contains(verdict), "{verdict}: {secondary}");
    }
    assert!(stderr.contains("secondary: not readable through the probe"), "{stderr}");
    // The same dump against the map without the device: the secondary is outside the dump.
    let plain = DK_MAP.replace("device = \"mx25r6435f\"\n", "");
    std::fs::write(&map, plain).unwrap();
    let (_, stdout, _) = cli::cutpoint(&["inspect", "--layout", map.to_str().unwrap(), dump.to_str().unwrap()]);
    assert!(stdout.contains("(in dump: absent)"), "{stdout}");
    assert!(!stdout.contains("not readable"), "{stdout}");
}
