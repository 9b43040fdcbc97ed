//! `cutpoint inspect --mode swap-move` on a hand-made dump of a swap-move cut part-way: twelve
//! of forty sectors moved up, nothing swapped yet.

use cutpoint_sim::imgtool::{build_image, default_test_key, ImageSpec};
use cutpoint_sim::BoardProfile;
use fut::image::Version;
use fut::scheme::swap_move::status::{self, Step};
use fut::trailer::{self, SwapType};

#[path = "support/cli.rs"]
mod cli;
use cli::cutpoint;

const S: usize = 4096;

fn version(major: u8) -> Version {
    Version {
        major,
        minor: 0,
        revision: 0,
        build: 0,
    }
}

/// The nRF52840 map from the primary slot to the end of the secondary, mid-move.
fn mid_move_dump(moved: u32) -> (Vec<u8>, u32) {
    let l = BoardProfile::builtin("nrf52840").unwrap().layout;
    let key = default_test_key();
    // 159 KiB bodies: 40 sectors with header and TLVs.
    let old = build_image(&ImageSpec::new(version(1), 159 * 1024), &key);
    let new = build_image(&ImageSpec::new(version(2), 159 * 1024), &key);
    let base = l.primary.offset;
    let mut dump = vec![0xffu8; (l.secondary.end() - base) as usize];
    let pri = 0usize;
    let sec = (l.secondary.offset - base) as usize;
    dump[pri..pri + old.len()].copy_from_slice(&old);
    dump[sec..sec + new.len()].copy_from_slice(&new);
    let regions = new.len().div_ceil(S) as u32;
    assert_eq!(regions, 40);
    // Move i took sector regions - i up to regions - i + 1, the top one first.
    for i in 1..=moved {
        let (from, to) = ((regions - i) as usize * S, (regions - i + 1) as usize * S);
        let sector = dump[pri + from..pri + from + S].to_vec();
        dump[pri + to..pri + to + S].copy_from_slice(&sector);
    }
    // The primary trailer as the swap wrote it, then one record per move.
    let end = l.primary.end() - base;
    let put = |dump: &mut Vec<u8>, from_end: u32, bytes: &[u8]| {
        let at = (end - from_end) as usize;
        dump[at..at + bytes.len()].copy_from_slice(bytes);
    };
    put(&mut dump, trailer::SWAP_INFO_FROM_END, &[SwapType::Test.code()]);
    put(
        &mut dump,
        trailer::SWAP_SIZE_FROM_END,
        &(regions * S as u32).to_le_bytes(),
    );
    put(&mut dump, trailer::MAGIC_FROM_END, &trailer::MAGIC);
    for i in 1..=moved {
        let at = (status::addr(&l, l.primary, Step::Move(i)) - base) as usize;
        dump[at] = status::value(Step::Move(i));
    }
    (dump, base)
}

#[test]
fn inspect_says_how_far_a_swap_move_got() {
    let (dump, base) = mid_move_dump(12);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cutpoint-test-swap-move");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mid-move.bin");
    std::fs::write(&file, &dump).unwrap();
    let base = format!("0x{base:x}");
    let (code, stdout, stderr) = cutpoint(&[
        "inspect",
        "--mode",
        "swap-move",
        "--base",
        &base,
        file.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("swap status: move: 12/40 sectors, swap: 0/40"),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("move 1 move 2"), "{stdout}");
    // The primary image is half moved: not a valid image; the dump itself is good input.
    assert_eq!(code, 1, "{stderr}");

    let (code, stdout, _) = cutpoint(&[
        "inspect",
        "--mode",
        "swap-move",
        "--json",
        "--base",
        &base,
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["progress"]["moved"], 12);
    assert_eq!(v["progress"]["swapped"], 0);
    assert_eq!(v["progress"]["regions"], 40);

    let (code, _, stderr) = cutpoint(&["inspect", "--mode", "swap-mvoe", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "--mode swap-mvoe: no such update scheme; known: swap-scratch, overwrite, swap-move, swap-offset, esp-idf"
        ),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_decoder_reads_swap_steps_after_the_moves() {
    let l = BoardProfile::builtin("nrf52840").unwrap().layout;
    let (mut dump, base) = mid_move_dump(40);
    for (i, s) in [(1, 1), (1, 2), (2, 1)] {
        let at = (status::addr(&l, l.primary, Step::Swap(i, s)) - base) as usize;
        dump[at] = s as u8;
    }
    let r = cutpoint_inspect::decode_flash_for("swap-move", &dump, base, &l, None);
    let p = r.progress.clone().expect("progress");
    assert_eq!(p.summary, "move: 40/40 sectors, swap: 1/40");
    assert!(p
        .records
        .ends_with(&["swap 1.1".to_string(), "swap 1.2".into(), "swap 2.1".into()]));
    let warnings = cutpoint_inspect::scheme::decoder("swap-move").unwrap().leftovers(&r);
    assert!(
        warnings.iter().any(|w| w.starts_with("unfinished swap")),
        "{warnings:?}"
    );
}
