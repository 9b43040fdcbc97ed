//! Verdicts a lab can trust: an update image the bootloader must refuse (damaged, signed by
//! another key, encrypted, the baseline itself) is bad input at `images.update` before any cut,
//! in `check` and in `run`, never a device failure and never a negative control "caught". The
//! images are imgtool's (`fixtures/imgtool/make-refused.sh`).

#[path = "support/cli.rs"]
mod cli;
use std::path::{Path, PathBuf};

use cli::{cutpoint, root};

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-trusted-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn imgtool(rel: &str) -> String {
    root().join("fixtures/imgtool").join(rel).display().to_string()
}

/// A two-cut campaign in `dir` over imgtool image files and the imgtool Ed25519 key (or `key`,
/// a path as written), `expect` = "pass" or "fail".
fn campaign(dir: &Path, baseline: &str, update: &str, key: Option<&str>, expect: &str, extra: &str) -> String {
    let key = key.map_or_else(|| imgtool("keys/ed25519.pub.pem"), str::to_string);
    let text = format!(
        "name = \"trusted\"\n\n[target]\nboard = \"nrf52840\"\nvariant = \"reference\"\n{extra}\n\
         [images]\nbaseline = {{ file = '{}' }}\nupdate = {{ file = '{}' }}\npublic_key = '{key}'\n\n\
         [run]\nseed = 11\n\n[pass]\nexpect = \"{expect}\"\n\n\
         [[phases]]\nname = \"download\"\nstart = 'ota: download-(start|resume)'\nend = 'ota: download-done'\n\
         offsets = {{ fixed = [\"start\", \"end\"] }}\n",
        imgtool(baseline),
        imgtool(update)
    );
    let path = dir.join("c.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `check` and `run` both exit 2 and name `field`, with `words` in the message.
fn refused_before_any_cut(name: &str, c: &str, field: &str, words: &[&str]) {
    let dir = Path::new(c).parent().unwrap().to_path_buf();
    let (code, stdout, stderr) = cutpoint(&["check", c]);
    assert_eq!(code, 2, "{name}: check: {stdout}{stderr}");
    assert!(stderr.contains(field), "{name}: check names {field}: {stderr}");
    for w in words {
        assert!(stderr.contains(w), "{name}: check says {w:?}: {stderr}");
    }
    let (code, stdout, stderr) = cutpoint(&["run", c, "--out", dir.join("r").to_str().unwrap()]);
    assert_eq!(code, 2, "{name}: run: {stdout}{stderr}");
    assert!(stderr.contains(field), "{name}: run names {field}: {stderr}");
    for w in words {
        assert!(stderr.contains(w), "{name}: run says {w:?}: {stderr}");
    }
    assert!(!stdout.contains("as expected"), "{name}: {stdout}");
}

#[test]
fn a_damaged_update_is_bad_input_not_a_negative_control_caught() {
    for expect in ["fail", "pass"] {
        let dir = tmp(&format!("corrupt-{expect}"));
        let c = campaign(
            &dir,
            "images/ed25519-app-1.0.0.bin",
            "images/ed25519-app-2.0.0-corrupt.bin",
            None,
            expect,
            "",
        );
        refused_before_any_cut(
            &format!("corrupt, expect {expect}"),
            &c,
            "images.update.file",
            &["SHA-256 does not match", "tamper"],
        );
    }
}

#[test]
fn an_update_signed_by_another_key_carrying_the_full_key_is_bad_input() {
    let dir = tmp("otherkey-full");
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0.bin",
        "images/ed25519-app-2.0.0-otherkey-full.bin",
        None,
        "fail",
        "",
    );
    refused_before_any_cut("other key, PUBKEY TLV", &c, "images.update.file", &["another key"]);
}

#[test]
fn the_baseline_given_again_as_the_update_is_bad_input() {
    let dir = tmp("same");
    let c = campaign(
        &dir,
        "images/ed25519-app-2.0.0.bin",
        "images/ed25519-app-2.0.0.bin",
        None,
        "pass",
        "",
    );
    refused_before_any_cut("same image", &c, "images.update.file", &["same image as the baseline"]);
}

#[test]
fn an_encrypted_update_is_refused_by_the_simulated_board() {
    let dir = tmp("encrypted");
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0.bin",
        "images/ed25519-app-2.0.0-encrypted.bin",
        None,
        "pass",
        "",
    );
    refused_before_any_cut("encrypted", &c, "images.update.file", &["encrypted", "not supported"]);
}

#[test]
fn pure_and_sha512_signatures_say_how_to_sign_instead() {
    for (img, fix) in [("pure", "without --pure"), ("sha512", "--sha 256")] {
        let dir = tmp(img);
        let c = campaign(
            &dir,
            "images/ed25519-app-1.0.0.bin",
            &format!("images/ed25519-app-2.0.0-{img}.bin"),
            None,
            "pass",
            "",
        );
        refused_before_any_cut(img, &c, "[images] update", &[fix]);
    }
}

#[test]
fn check_reads_the_public_key_and_locates_a_bad_one() {
    let dir = tmp("bad-key");
    let not_a_key = dir.join("not-a-key.toml");
    std::fs::write(&not_a_key, "name = \"x\"\n").unwrap();
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0.bin",
        "images/ed25519-app-2.0.0.bin",
        Some(not_a_key.to_str().unwrap()),
        "pass",
        "",
    );
    // The line and column of `public_key` (line 10 of the file above).
    refused_before_any_cut("bad key", &c, "c.toml:10:", &["images.public_key", "PEM"]);
}

#[test]
fn a_valid_imgtool_update_still_passes() {
    let dir = tmp("valid");
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0.bin",
        "images/ed25519-app-2.0.0.bin",
        None,
        "pass",
        "",
    );
    let (code, stdout, stderr) = cutpoint(&["check", &c]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = cutpoint(&["run", &c, "--out", dir.join("r").to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

/// A negative control over generated images, with `run_extra` in [run] and `pass_extra` in [pass].
fn negative_control(dir: &Path, run_extra: &str, pass_extra: &str) -> String {
    let text = format!(
        "name = \"neg\"\n\n[target]\nboard = \"nrf52840\"\nvariant = \"reference\"\nmode = \"swap-scratch\"\n\
         upgrade = \"test\"\n\n[images]\nbaseline = {{ version = \"1.0.0\", size_kib = 8 }}\n\
         update = {{ version = \"2.0.0\", size_kib = 8, health = \"ok\" }}\n\n[run]\nseed = 1\n{run_extra}\n\n\
         [pass]\nexpect = \"fail\"\n{pass_extra}\n\n\
         [[phases]]\nname = \"verify\"\nstart = 'ota: verify-start'\nend = 'ota: verify-(ok|fail)'\n\
         offsets = {{ fixed = [\"start\", \"end\"] }}\n"
    );
    let path = dir.join("neg.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn a_negative_control_whose_boot_limit_the_reference_also_hits_is_a_campaign_mistake() {
    let dir = tmp("neg-max-boots");
    let c = negative_control(&dir, "max_boots = 1", "");
    let (code, stdout, stderr) = cutpoint(&["run", &c, "--out", dir.join("r").to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("run.max_boots"), "{stderr}");
    assert!(
        stderr.contains("campaign mistake") && stderr.contains("needs"),
        "{stderr}"
    );
    assert!(!stdout.contains("as expected"), "{stdout}");
}

#[test]
fn a_negative_control_expecting_the_old_image_of_a_healthy_update_is_a_campaign_mistake() {
    let dir = tmp("neg-final-old");
    let c = negative_control(&dir, "max_boots = 12", "final = \"old\"");
    let (code, stdout, stderr) = cutpoint(&["run", &c, "--out", dir.join("r").to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("pass.final"), "{stderr}");
    assert!(stderr.contains("campaign mistake"), "{stderr}");
    assert!(!stdout.contains("as expected"), "{stdout}");
}

#[test]
fn a_negative_control_of_a_broken_build_is_still_caught() {
    // The shipped control: the broken build fails, the reference passes its control run.
    let dir = tmp("neg-caught");
    let (code, stdout, stderr) = cutpoint(&[
        "run",
        "campaigns/known-bugs/torn-magic-revert.toml",
        "--out",
        dir.join("r").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(format!("{stdout}{stderr}").contains("as expected"), "{stdout}{stderr}");
}

#[test]
fn a_non_bootable_update_is_refused_before_any_cut() {
    let dir = tmp("non-bootable");
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0.bin",
        "images/ed25519-app-2.0.0-non-bootable.bin",
        None,
        "pass",
        "",
    );
    refused_before_any_cut("non-bootable", &c, "images.update.file", &["non-bootable", "0x10"]);
}

#[test]
fn a_rom_fixed_update_run_in_place_from_the_wrong_slot_is_refused() {
    let dir = tmp("rom-fixed");
    let c = campaign(
        &dir,
        "images/ed25519-app-1.0.0-rom-fixed-primary.bin",
        "images/ed25519-app-2.0.0-rom-fixed-primary.bin",
        None,
        "pass",
        "mode = \"direct-xip\"\nupgrade = \"test\"",
    );
    refused_before_any_cut("rom-fixed", &c, "images.update.file", &["ROM-fixed", "secondary slot"]);
}
