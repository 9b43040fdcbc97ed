//! The oracle of the mutation pass (`scripts/mutants.sh`): the shipped campaigns on the simulated
//! board, each on the reference firmware, must pass every cut point. A mutant of the firmware
//! under test is caught when this test fails: a cut point fails, the rig reports an error, the
//! unfaulted control run does not update cleanly, or the campaign no longer plans (a phase the
//! firmware stopped printing).
//!
//! The default set is the campaigns that cut the reference paths (bootloader decision, swap,
//! trailer writes, the application's download, resume, request and confirm) and that together
//! run in seconds; `CUTPOINT_ORACLE=smoke,revert` runs only the campaigns named (paths under
//! `campaigns/`, without `.toml`). It runs as an ordinary test too, so the set stays green on
//! the reference.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use cutpoint_campaign::{load_campaign, Campaign, Expect, TargetKind, Variant};
use cutpoint_engine::engine::{self, RunSpec};
use cutpoint_engine::setup::sim_setup;
use cutpoint_report::Status;

/// The shipped campaigns the mutation pass runs, cheapest first so a caught mutant stops early.
pub const ORACLE: &[&str] = &[
    "smoke",
    "metadata-confirm",
    "metadata-perm",
    "metadata-overwrite",
    "metadata-revert",
    "max-image",
    "metadata-revert-ecc",
    "trailer-faults",
    "trailer-faults-revert",
    "revert",
    "double-cuts",
    "nightly",
    "exhaustive",
    "known-bugs/reference",
    "known-bugs/reference-revert",
    "known-bugs/reference-overwrite",
    "known-bugs/reference-perm",
    "overwrite/smoke",
    "rejected/body-byte",
    "rejected/truncated",
    "rejected/body-byte-upload",
    "rejected/wrong-key",
    "rejected/unsigned",
    "rejected/size-lie",
    "rejected/downgrade",
    "rejected/downgrade-download",
    "rejected/body-byte-upload-overwrite",
    "rejected/forged-signature",
    "downgrade-guard",
    "upload-resume",
    "metadata-confirm-ecc",
    "download-first-chunk",
    // The other schemes' reference campaigns (their 1 MiB runs are left to the shipped set:
    // they cut the same operations at a larger size).
    "swap-move/smoke",
    "swap-offset/smoke",
    "esp-idf/smoke",
    "redundant-copies/smoke",
    // The largest image of each swap without scratch: the status records of every region,
    // next to the trailer's fixed fields.
    "swap-move/max-image",
    "swap-offset/max-image",
    // An update of more sectors than the image it replaces (the swap's size from the larger).
    "swap-offset/grow",
    // A first and a second cut inside every operation of a swap-move revert's start.
    "swap-move/revert-request-double-cuts",
    "swap-move/known-bugs",
    "swap-move/known-bugs-revert",
    // Every trailer write of a failing test update and its revert on swap-move, torn and after:
    // on the nRF52840 (a weak or torn copy_done the next boot must program again) and on the
    // stm32l4, whose torn copy_done cannot be programmed again and is told finished by the
    // last status record alone (with double cuts in the revert).
    "swap-move/metadata-revert",
    "swap-move/metadata-revert-ecc",
    // An uploaded update on swap-move (the reference's control of FIELD-BUGS row 3).
    "known-bugs/reference-invalid-erase-swap-move",
    "swap-offset/revert",
    "swap-offset/known-bugs-revert",
    // A refused download on swap-offset: the wipe of the staging area, and nothing past it.
    "swap-offset/rejected-body-byte",
    "esp-idf/revert",
    "esp-idf/revert-from-ota-1",
    "esp-idf/revert-from-ota-1-stm32l4",
    "esp-idf/after-rollback",
    "redundant-copies/revert",
    "redundant-copies/revert-stm32l4",
    "redundant-copies/wrap",
    "redundant-copies/wrap-341",
    "redundant-copies/wrap-stm32l4",
    "swap-move/exhaustive",
    "swap-offset/exhaustive",
    "esp-idf/exhaustive",
    "esp-idf/exhaustive-stm32l4",
    "redundant-copies/exhaustive",
    "redundant-copies/exhaustive-stm32l4",
    "swap-move/double-cuts",
    "swap-offset/double-cuts",
    "esp-idf/double-cuts",
    "redundant-copies/double-cuts",
    "redundant-copies/double-cuts-stm32l4",
    // Images signed by MCUboot's imgtool, as users bring them: Zephyr's 0x200-byte padded
    // header, the user's own Ed25519 and ECDSA P-256 keys (fixtures/imgtool/make.sh).
    "../fixtures/imgtool-ed25519",
    "../fixtures/imgtool-ecdsa-p256",
];

fn campaigns_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../campaigns")
}

fn names() -> Vec<String> {
    match std::env::var("CUTPOINT_ORACLE") {
        Ok(list) if !list.trim().is_empty() => list.split(',').map(|s| s.trim().to_owned()).collect(),
        _ => ORACLE.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn load(name: &str) -> Campaign {
    let path = campaigns_dir().join(format!("{name}.toml"));
    let c = load_campaign(&path).unwrap_or_else(|e| panic!("{name}: {}", cutpoint_campaign::format_errors(&e)));
    let TargetKind::Simulated { variant, .. } = c.target.kind else {
        panic!("{name}: the oracle runs on the simulated board only");
    };
    assert_eq!(
        variant,
        Variant::Reference,
        "{name}: the oracle runs the reference firmware"
    );
    assert_eq!(
        c.pass.expect,
        Expect::Pass,
        "{name}: the oracle runs positive campaigns only"
    );
    c
}

/// Every cut point that did not pass, as `id: reasons`, or why the run could not be judged.
fn failures(name: &str, c: &Campaign) -> Vec<String> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let setup = match sim_setup(c, workers) {
        Ok(s) => s,
        Err(e) => return vec![format!("{name}: setup: {e}")],
    };
    let out = tempfile::tempdir().expect("temporary directory");
    let spec = RunSpec::whole(c, out.path().join("report"), setup.expect.clone(), setup.update_size);
    let o = match engine::run(
        &setup.target,
        &spec,
        &mut cutpoint_engine::sink::ignore(),
        &AtomicBool::new(false),
    ) {
        Ok(o) => o,
        Err(e) => return vec![format!("{name}: run: {e}")],
    };
    let mut bad = Vec::new();
    if o.control_failed {
        bad.push(format!("{name}: the unfaulted control run failed"));
    }
    if o.tally.pass == 0 {
        bad.push(format!("{name}: no cut point passed"));
    }
    let journal = match cutpoint_report::journal::read_journal(&o.journal_path) {
        Ok(j) => j,
        Err(e) => return vec![format!("{name}: journal: {e}")],
    };
    eprintln!("oracle: {name}: {} cut points judged", journal.cuts.len());
    bad.extend(
        journal
            .cuts
            .iter()
            .filter(|c| c.status != Status::Pass)
            .map(|c| format!("{name}: {} {}: {}", c.id, c.status.name(), c.reasons.join("; "))),
    );
    bad
}

#[test]
fn the_reference_firmware_passes_every_cut_of_the_oracle_campaigns() {
    let mut bad = Vec::new();
    for name in names() {
        let c = load(&name);
        let t = Instant::now();
        let f = failures(&name, &c);
        eprintln!(
            "oracle: {name}: {} in {:.2?}",
            if f.is_empty() { "pass" } else { "FAIL" },
            t.elapsed()
        );
        if !f.is_empty() {
            bad.extend(f.into_iter().take(5));
            // One failing campaign is enough to catch a mutant.
            break;
        }
    }
    assert!(bad.is_empty(), "cut points that did not pass:\n{}", bad.join("\n"));
}
