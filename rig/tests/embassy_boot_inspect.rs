//! `cutpoint inspect --mode embassy-boot`: a whole flash decoded as embassy-boot keeps it, after
//! a run of the published crate on the simulated board, and state partitions written by hand
//! from the crate's format (its magic bytes and progress words, facts from its source): a
//! swap cut part-way, the window inside `mark_booted`, and a torn magic.

#[path = "support/cli.rs"]
mod cli;

use cli::cutpoint;
use cutpoint_sim::board::RunOptions;
use cutpoint_sim::scenario::Scenario;
use cutpoint_sim::BoardProfile;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-embassy-inspect-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The nRF52840 after an update of 1.0.0 to 2.0.0 (marked booted), with `state` written over
/// the state partition's first bytes when given; inspected from the primary slot's start.
fn inspect(name: &str, state: Option<&[u8]>) -> String {
    inspect_as(name, state, &[])
}

fn inspect_as(name: &str, state: Option<&[u8]>, extra: &[&str]) -> String {
    let profile = BoardProfile::builtin("nrf52840").unwrap();
    let l = profile.layout;
    let mut s = Scenario::new(profile, 16);
    s.mode = fut::Registry::builtin().find("embassy-boot").unwrap();
    let mut board = s.board();
    board.run(RunOptions::default());
    let mut dump = board.flash.raw()[l.primary.offset as usize..l.scratch.end() as usize].to_vec();
    if let Some(st) = state {
        let at = (l.scratch.offset - l.primary.offset) as usize;
        dump[at..at + 4096].fill(0xff);
        dump[at..at + st.len()].copy_from_slice(st);
    }
    let dir = tmp(name);
    let f = dir.join(format!("flash-0x{:x}.bin", l.primary.offset));
    std::fs::write(&f, &dump).unwrap();
    let mut args = vec!["inspect", "--mode", "embassy-boot"];
    args.extend_from_slice(extra);
    args.push(f.to_str().unwrap());
    let (code, stdout, stderr) = cutpoint(&args);
    assert_eq!(code, 0, "{stderr}");
    stdout
}

/// Words of 4 bytes: each `(index, byte)` fills word `index` with `byte`.
fn words(list: &[(usize, u8)]) -> Vec<u8> {
    let mut b = vec![0xffu8; 1024];
    for &(i, v) in list {
        b[i * 4..i * 4 + 4].fill(v);
    }
    b
}

#[test]
fn a_dump_after_mark_booted_reads_boot() {
    let out = inspect("booted", None);
    assert!(
        out.contains(
            "embassy-boot state: magic=boot, swap: 0/94 steps, revert: 0/94 steps; next boot: boot the active partition"
        ),
        "{out}"
    );
    assert!(out.contains("primary: 2.0.0+0"), "{out}");
}

#[test]
fn a_swap_cut_part_way_resumes_from_its_first_step_not_done() {
    // The swap magic (0xf0), the marker erased, steps 0..=9 done, step 10 torn (a byte erased).
    let mut list = vec![(0, 0xf0)];
    list.extend((2..12).map(|i| (i, 0x00)));
    let mut b = words(&list);
    b[12 * 4..12 * 4 + 4].copy_from_slice(&[0, 0, 0xff, 0]);
    let out = inspect("swap", Some(&b));
    assert!(
        out.contains("magic=swap, swap: 10/94 steps, revert: 0/94 steps; next boot: swap from step 10 of 94"),
        "{out}"
    );
}

#[test]
fn the_mark_booted_window_reads_as_a_revert_that_copies_nothing() {
    // mark_booted cut after it invalidated the progress: swap magic, marker 0, steps done.
    let mut list = vec![(0, 0xf0), (1, 0x00)];
    list.extend((2..96).map(|i| (i, 0x00)));
    let out = inspect("window", Some(&words(&list)));
    assert!(out.contains("(progress invalidated)"), "{out}");
    assert!(out.contains("next boot: revert with the progress invalidated"), "{out}");
    // The next boot's revert copies nothing and writes the revert magic: as it leaves it.
    let out = inspect("revert-under-new", Some(&words(&[(0, 0xc0)])));
    assert!(out.contains("magic=revert"), "{out}");
}

#[test]
fn a_torn_magic_reads_as_boot_and_the_json_names_the_bytes() {
    let mut b = words(&[]);
    b[..4].copy_from_slice(&[0xf0, 0xf0, 0xf4, 0xf0]);
    let out = inspect("torn", Some(&b));
    assert!(out.contains("magic=boot"), "{out}");
    let stdout = inspect_as("json", Some(&b), &["--json"]);
    assert!(stdout.contains("\"magic_bytes\": \"f0f0f4f0\""), "{stdout}");
}
