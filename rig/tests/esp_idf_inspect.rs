//! `cutpoint inspect` on esp-idf dumps: otadata alone (with the part's sector size) and a
//! whole flash decoded the esp-idf way after a run on the simulated board.

#[path = "support/cli.rs"]
mod cli;

use cli::cutpoint;
use cutpoint_sim::board::RunOptions;
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::BoardProfile;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-esp-idf-inspect-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn entry(seq: u32, state: u32, crc: u32) -> [u8; 32] {
    let mut b = [0xffu8; 32];
    b[0..4].copy_from_slice(&seq.to_le_bytes());
    b[24..28].copy_from_slice(&state.to_le_bytes());
    b[28..32].copy_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn otadata_in_2_kib_sectors_with_a_torn_copy() {
    // STM32L4-sized sectors: sector 0 valid seq 3 (0xED4A5011), sector 1 seq 4 with its CRC
    // still erased (a cut inside the entry's program).
    let mut bytes = vec![0xffu8; 0x1000];
    bytes[..32].copy_from_slice(&entry(3, 2, 0xED4A_5011));
    bytes[0x800..0x820].copy_from_slice(&entry(4, 0, u32::MAX));
    let f = tmp("torn").join("otadata.bin");
    std::fs::write(&f, bytes).unwrap();
    let (code, stdout, stderr) = cutpoint(&[
        "inspect",
        "--otadata",
        "2",
        "--otadata-sector",
        "2048",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["active_sector"], 0);
    assert_eq!(v["boot_slot"], 0, "(3 - 1) mod 2");
    assert_eq!(v["entries"][1]["condition"], "half-erased");
    let d = v["disagreement"][0].as_str().unwrap();
    assert!(d.starts_with("sector 1 is damaged"), "{d}");

    // With the default 4 KiB sectors the dump ends before the second sector's entry: not a
    // decode of an absent copy, but bad input that names the option.
    let (code, stdout, stderr) = cutpoint(&["inspect", "--otadata", "2", f.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("--otadata-sector"), "{stderr}");
}

#[test]
fn a_flash_dump_decoded_as_esp_idf_names_the_slot_the_bootloader_picks() {
    let profile = BoardProfile::builtin("nrf52840").unwrap();
    let l = profile.layout;
    let mut s = Scenario::new(profile, 16);
    s.mode = fut::Registry::builtin().find("esp-idf").unwrap();
    let mut board = s.board();
    board.run(RunOptions::default());
    let dump = &board.flash.raw()[l.primary.offset as usize..l.scratch.end() as usize];
    let f = tmp("flash").join(format!("flash-0x{:x}.bin", l.primary.offset));
    std::fs::write(&f, dump).unwrap();
    let (code, stdout, stderr) = cutpoint(&["inspect", "--scheme", "esp-idf", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("otadata sector 0: seq=1 state=valid crc=0x4743989a (ok) valid"),
        "{stdout}"
    );
    assert!(
        stdout.contains("otadata sector 1: seq=2 state=valid crc=0x55f63774 (ok) valid"),
        "{stdout}"
    );
    assert!(stdout.contains("otadata boot: sector 1, ota_1"), "{stdout}");
    assert!(stdout.contains("otadata copies: consistent"), "{stdout}");

    let (code, _, stderr) = cutpoint(&["inspect", "--scheme", "esp-idff", f.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "--mode esp-idff: no such update scheme; known: swap-scratch, overwrite, swap-move, swap-offset, esp-idf"
        ),
        "{stderr}"
    );
}
