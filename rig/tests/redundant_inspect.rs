//! `cutpoint inspect --scheme redundant-copies`: a whole flash decoded as the redundant-copies
//! scheme keeps its boot record, after a run on the simulated board through the counter's wrap,
//! and a dump written by hand from the format with an independent CRC and a torn copy; a
//! campaign whose earlier updates break down is a located setup error.

#[path = "support/cli.rs"]
mod cli;

use cli::cutpoint;
use cutpoint_sim::board::RunOptions;
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::BoardProfile;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-redundant-inspect-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// zlib's CRC-32, written out here so the test does not use the firmware's.
fn zlib_crc32(bytes: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| (0..8).fold(n, |c, _| if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 }))
        .collect();
    !bytes
        .iter()
        .fold(!0u32, |c, &b| table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

fn copy(generation: u8, slot: u8, state: u8) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[4] = generation;
    b[5] = slot;
    b[6] = state;
    let crc = zlib_crc32(&b[5..]);
    b[..4].copy_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn a_dump_after_the_wrap_names_the_copy_that_wins_and_why() {
    let profile = BoardProfile::builtin("nrf52840").unwrap();
    let l = profile.layout;
    let mut s = Scenario::new(profile, 16);
    s.mode = fut::Registry::builtin().find("redundant-copies").unwrap();
    let s = s.with_prior_updates(84).unwrap();
    let mut board = s.board();
    board.run(RunOptions::default());
    let dump = &board.flash.raw()[l.primary.offset as usize..l.scratch.end() as usize];
    let dir = tmp("flash");
    let f = dir.join(format!("flash-0x{:x}.bin", l.primary.offset));
    std::fs::write(&f, dump).unwrap();
    let (code, stdout, stderr) = cutpoint(&["inspect", "--scheme", "redundant-copies", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let c0 = u32::from_le_bytes(copy(255, 1, 3)[..4].try_into().unwrap());
    let c1 = u32::from_le_bytes(copy(0, 1, 1)[..4].try_into().unwrap());
    for want in [
        format!("redundant copy 0: gen=255 slot=secondary state=trial-booted crc=0x{c0:08x} (ok) valid"),
        format!("redundant copy 1: gen=0 slot=secondary state=confirmed crc=0x{c1:08x} (ok) valid"),
        "redundant boot: secondary slot (copy 1 holds generation 0 after 255: the counter wrapped, it is the newer; \
         a reader comparing without the wrap takes the other copy (FIELD-BUGS row 16))"
            .to_string(),
        "redundant copies: consistent".to_string(),
    ] {
        assert!(stdout.contains(&want), "no `{want}` in\n{stdout}");
    }
    let (code, stdout, _) = cutpoint(&["inspect", "--scheme", "redundant-copies", "--json", f.to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["redundant"]["winner"], 1);
    assert_eq!(v["redundant"]["boot_slot"], "secondary");
    assert!(v.get("otadata").is_none());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_hand_made_dump_with_a_torn_copy_disagrees() {
    let profile = BoardProfile::builtin("nrf52840").unwrap();
    let l = profile.layout;
    let mut dump = vec![0xffu8; (l.scratch.end() - l.primary.offset) as usize];
    let at = |i: u32| (l.scratch.offset + i * l.sector_size - l.primary.offset) as usize;
    dump[at(0)..at(0) + 16].copy_from_slice(&copy(7, 0, 1));
    let mut torn = copy(8, 1, 2);
    torn[12..].fill(0xff);
    dump[at(1)..at(1) + 16].copy_from_slice(&torn);
    let dir = tmp("torn");
    let f = dir.join(format!("flash-0x{:x}.bin", l.primary.offset));
    std::fs::write(&f, &dump).unwrap();
    let (code, stdout, stderr) = cutpoint(&["inspect", "--scheme", "redundant-copies", f.to_str().unwrap()]);
    // No image in either slot: the verdict says the device has nothing to boot.
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.contains("redundant copy 1: gen=8 slot=secondary state=trial crc="),
        "{stdout}"
    );
    assert!(stdout.contains("(bad) not valid"), "{stdout}");
    assert!(
        stdout.contains("redundant boot: primary slot (copy 0 is the only valid copy)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("redundant copies disagree: copy 1 is damaged (crc 0x"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A baseline that cannot be made is a setup error naming the earlier update that did not
/// settle (exit 2), never a device failure of the swept update: the no-wrap build cannot live
/// through the wrap, so 88 earlier updates break down at the 86th or 87th.
#[test]
fn a_history_that_breaks_down_is_a_located_setup_error() {
    let text = std::fs::read_to_string(cli::root().join("campaigns/known-bugs/redundant-generation-no-wrap.toml"))
        .unwrap()
        .replace("prior_updates = 84", "prior_updates = 88");
    let dir = tmp("history");
    let f = dir.join("history.toml");
    std::fs::write(&f, text).unwrap();
    let out = dir.join("out");
    let (code, stdout, stderr) = cutpoint(&["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("history.toml: target.prior_updates: prior update 8"),
        "{stderr}"
    );
    assert!(stderr.contains("of 88 (to "), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
