//! Two properties of a safe update beyond "it boots": while a test update is undecided the
//! image it would revert to stays intact (rollback safety), and once a permanent upgrade is
//! installed the old image never runs again. Each is shown on a broken build that boots fine
//! and settles on the new image, so only that rule catches it.

use std::path::{Path, PathBuf};

use cutpoint_report::{CutResult, Status};

#[path = "support/cli.rs"]
mod cli;
#[path = "support/sim_run.rs"]
mod sim_run;
use cli::{cutpoint, root};

fn known_bug(name: &str) -> PathBuf {
    root().join("campaigns/known-bugs").join(format!("{name}.toml"))
}

/// Runs a campaign on the simulated board; its cut results.
fn run(path: &Path) -> Vec<CutResult> {
    let c = cutpoint_campaign::load_campaign(path).expect("campaign");
    let ran = sim_run::run(&c);
    assert!(!ran.control_failed, "{}: the unfaulted run updates cleanly", c.name);
    ran.journal.cuts
}

fn failing(cuts: &[CutResult]) -> Vec<&CutResult> {
    cuts.iter().filter(|c| c.status == Status::Fail).collect()
}

#[test]
fn a_cut_that_tears_the_rollback_copy_fails_though_the_device_boots_the_new_image() {
    let cuts = run(&known_bug("status-before-copy"));
    let failed = failing(&cuts);
    assert!(!failed.is_empty(), "a torn rollback copy went through");
    for c in failed {
        assert_eq!(c.phase, "swap", "{}", c.id);
        assert_eq!(
            c.final_image.as_deref(),
            Some("2.0.0+0"),
            "{}: settled on the new image",
            c.id
        );
        assert_eq!(c.reasons.len(), 1, "{}: {:?}", c.id, c.reasons);
        assert!(
            c.reasons[0].starts_with("rollback safety lost: the secondary slot holds ")
                && c.reasons[0].contains("the primary trailer records a finished test swap"),
            "{}: {:?}",
            c.id,
            c.reasons
        );
        let secondary = c
            .slots
            .iter()
            .find(|s| s.slot == "secondary")
            .expect("secondary slot state");
        assert_ne!(secondary.validity, cutpoint_report::SlotValidity::Valid, "{}", c.id);
    }
}

#[test]
fn a_silent_downgrade_after_a_committed_permanent_upgrade_fails() {
    let cuts = run(&known_bug("stale-swap-request"));
    let failed = failing(&cuts);
    assert!(!failed.is_empty(), "a downgrade after the install went through");
    let mut downgrades = 0;
    for c in failed {
        // A cut inside the late erase of the stale request leaves its magic weak: the same bug,
        // caught by the weak-bit check (a later boot may read the request and swap back).
        if c.reasons.len() == 1
            && c.reasons[0].starts_with("metadata left unstable: weak bit in secondary trailer magic")
        {
            assert_eq!(c.final_image.as_deref(), Some("2.0.0+0"), "{}", c.id);
            continue;
        }
        downgrades += 1;
        assert!(
            c.committed,
            "{}: only a cut after the install line is judged committed",
            c.id
        );
        assert_eq!(c.first_boot.as_deref(), Some("1.0.0+0"), "{}", c.id);
        // Offered the update again, the device installs it anew: the run ends on the new image.
        assert_eq!(c.final_image.as_deref(), Some("2.0.0+0"), "{}", c.id);
        assert_eq!(
            c.reasons,
            [
                "silent downgrade after a committed permanent upgrade: the update had committed before the cut, \
              but the device booted 1.0.0+0"
            ],
            "{}",
            c.id
        );
    }
    assert!(downgrades > 0, "no cut was judged a silent downgrade");
    // A cut in the same place on the reference: the install stays.
    let reference = run(&known_bug("reference-perm"));
    let after_install: Vec<_> = reference.iter().filter(|c| c.phase == "after-install").collect();
    assert!(!after_install.is_empty());
    for c in after_install {
        assert_eq!(c.status, Status::Pass, "{}: {:?}", c.id, c.reasons);
        assert!(c.committed, "{}", c.id);
    }
}

#[test]
fn a_permanent_upgrade_whose_install_line_never_shows_is_bad_input() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cutpoint-rollback-installed");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(known_bug("reference-perm")).unwrap().replacen(
        "[[phases]]",
        "[markers]\ninstalled = 'I: Swap complete'\n\n[[phases]]",
        1,
    );
    let path = dir.join("installed.toml");
    std::fs::write(&path, text).unwrap();
    let (code, _, stderr) = cutpoint(&[
        "run",
        path.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("markers.installed"), "{stderr}");
    assert!(
        stderr.contains("the bootloader finishing the install for good"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
