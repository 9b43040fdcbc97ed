//! `cutpoint inspect --mode direct-xip`: which slot a direct-XIP bootloader boots and why, on a
//! dump taken after a run on the simulated board, and on dumps written by hand from MCUboot's
//! trailer layout (an image tried and never confirmed, a torn trailer).

#[path = "support/cli.rs"]
mod cli;

use cli::cutpoint;
use cutpoint_sim::board::RunOptions;
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::BoardProfile;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-xip-inspect-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// MCUboot's trailer magic, written out from docs/design.md (not taken from the firmware).
const MAGIC: [u8; 16] = [
    0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80,
];

fn inspect(dir: &std::path::Path, base: u32, dump: &[u8], json: bool) -> String {
    let f = dir.join(format!("flash-0x{base:x}.bin"));
    std::fs::write(&f, dump).unwrap();
    let mut args = vec!["inspect", "--mode", "direct-xip", f.to_str().unwrap()];
    if json {
        args.insert(1, "--json");
    }
    let (code, stdout, stderr) = cutpoint(&args);
    assert_eq!(code, 0, "{stderr}");
    stdout
}

#[test]
fn after_an_update_the_secondary_boots_confirmed_and_the_note_names_it() {
    let profile = BoardProfile::builtin("nrf52840").unwrap();
    let l = profile.layout;
    let mut s = Scenario::new(profile, 64);
    s.mode = fut::scheme::Mode::DIRECT_XIP;
    let mut board = s.board();
    board.run(RunOptions::default());
    let dump = board.flash.raw()[l.primary.offset as usize..l.scratch.end() as usize].to_vec();
    let dir = tmp("after");
    let out = inspect(&dir, l.primary.offset, &dump, false);
    for want in [
        "direct-xip primary: image 1.0.0+0 (trailer confirmed)",
        "direct-xip secondary: image 2.0.0+0 (trailer confirmed)",
        "direct-xip step: secondary: 2.0.0+0 confirmed: booted",
        "direct-xip boot: secondary slot (2.0.0+0 is the highest version and is confirmed (copy_done and image_ok set))",
        "direct-xip note: the application handed over to 2.0.0+0",
    ] {
        assert!(out.contains(want), "no `{want}` in\n{out}");
    }

    // The same flash with the secondary's image_ok erased: tried, never confirmed.
    let mut tried = dump.clone();
    let image_ok = (l.secondary.end() - 24 - l.primary.offset) as usize;
    tried[image_ok..image_ok + 8].fill(0xff);
    let out = inspect(&dir, l.primary.offset, &tried, false);
    for want in [
        "direct-xip secondary: image 2.0.0+0 (trailer tried-unconfirmed)",
        "direct-xip step: secondary: 2.0.0+0 tried-unconfirmed: erased",
        "direct-xip step: primary: 1.0.0+0 confirmed: booted",
        "direct-xip boot: primary slot",
    ] {
        assert!(out.contains(want), "no `{want}` in\n{out}");
    }
    let v: serde_json::Value = serde_json::from_str(inspect(&dir, l.primary.offset, &tried, true).trim()).unwrap();
    assert_eq!(v["direct_xip"]["boot_slot"], "primary");
    assert_eq!(v["direct_xip"]["slots"][1]["state"], "tried-unconfirmed");
    assert!(v.get("otadata").is_none());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_hand_made_dump_without_magic_boots_nothing_new() {
    let profile = BoardProfile::builtin("nrf52840").unwrap();
    let l = profile.layout;
    let mut s = Scenario::new(profile, 32);
    s.mode = fut::scheme::Mode::DIRECT_XIP;
    let mut dump = vec![0xffu8; (l.scratch.end() - l.primary.offset) as usize];
    // Both images, by hand: 1.0.0 in the primary with a trailer written as `imgtool --pad
    // --confirm` writes it, 2.0.0 in the secondary with no trailer (a request never raised).
    let at = |a: u32| (a - l.primary.offset) as usize;
    dump[at(l.primary.offset)..at(l.primary.offset) + s.old_image.len()].copy_from_slice(&s.old_image);
    dump[at(l.secondary.offset)..at(l.secondary.offset) + s.new_image.len()].copy_from_slice(&s.new_image);
    dump[at(l.primary.end() - 16)..at(l.primary.end())].copy_from_slice(&MAGIC);
    dump[at(l.primary.end() - 24)] = 0x01;
    let dir = tmp("hand");
    let out = inspect(&dir, l.primary.offset, &dump, false);
    for want in [
        "direct-xip secondary: image 2.0.0+0 (trailer no-magic)",
        "direct-xip step: secondary: 2.0.0+0 no-magic: erased",
        "direct-xip step: primary: 1.0.0+0 first-try: booted",
        "direct-xip boot: primary slot (1.0.0+0 is the highest version and was never tried",
    ] {
        assert!(out.contains(want), "no `{want}` in\n{out}");
    }
    assert!(!out.contains("direct-xip note"), "{out}");
    // A torn magic in the primary too: nothing boots.
    dump[at(l.primary.end() - 10)] = 0x00;
    let out = inspect(&dir, l.primary.offset, &dump, false);
    assert!(
        out.contains("direct-xip step: primary: 1.0.0+0 no-magic: erased"),
        "{out}"
    );
    assert!(
        out.contains("direct-xip boot: none (no slot holds a bootable image: nothing boots)"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
