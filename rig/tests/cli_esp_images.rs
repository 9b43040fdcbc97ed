//! ESP-IDF app images (magic 0xE9, made by esptool: `fixtures/esp/make.sh`) through the CLI:
//! `inspect` shows one from a file, `check` accepts them in `[images]` of an esp-idf campaign
//! (a station's or the simulated board's) and refuses them, with the place, for another scheme
//! and when corrupt, and `run` sweeps them on the simulated board.

#[path = "support/cli.rs"]
mod cli;
use std::path::{Path, PathBuf};

use cli::{cutpoint, root};

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-cli-esp-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn esp(name: &str) -> String {
    root().join("fixtures/esp").join(name).display().to_string()
}

/// The ESP-IDF HTTPS OTA template with `[images]` naming `baseline` and `update`; `target`
/// replaces its `[target]` table when given.
fn campaign(dir: &Path, baseline: &str, update: &str, target: Option<&str>) -> String {
    let template = std::fs::read_to_string(root().join("campaigns/templates/esp-idf-https-ota.toml")).unwrap();
    let station = root().join("rig/bench/stations/pi-gpio-esp32c3-devkitm.toml");
    let mut text = template.replace(
        "\"../../rig/bench/stations/pi-gpio-esp32c3-devkitm.toml\"",
        &format!("'{}'", station.display()),
    );
    if let Some(t) = target {
        let start = text.find("[target]").unwrap();
        let end = text[start..].find("\n\n").unwrap() + start;
        text.replace_range(start..end, t);
    }
    let text = text.replacen(
        "[markers]",
        &format!("[images]\nbaseline = {{ file = '{baseline}' }}\nupdate = {{ file = '{update}' }}\n\n[markers]"),
        1,
    );
    let p = dir.join("c.toml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn images_line(c: &str) -> usize {
    std::fs::read_to_string(c)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("baseline = { file"))
        .unwrap()
        + 1
}

#[test]
fn inspect_shows_an_esp_app_image_file_and_refuses_a_corrupt_one() {
    let (code, stdout, stderr) = cutpoint(&["inspect", "--image", &esp("app-2.0.0.bin")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("ESP app image: ESP32-C3 segments=3"), "{stdout}");
    assert!(
        stdout.contains("app: version=2.0.0 project=cutpoint-esp-fixture"),
        "{stdout}"
    );
    assert!(stdout.contains("checksum: stored=0x3a computed=0x3a match"), "{stdout}");
    assert!(
        stderr.contains("2.0.0+0 valid ESP app image, checksum and SHA-256 verified"),
        "{stderr}"
    );

    let dir = tmp("inspect");
    let mut b = std::fs::read(esp("app-2.0.0.bin")).unwrap();
    b[0x200] ^= 0x20;
    let bad = dir.join("bad.bin");
    std::fs::write(&bad, &b).unwrap();
    let (code, stdout, stderr) = cutpoint(&["inspect", "--image", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("checksum: stored=0x3a computed=0x1a MISMATCH"),
        "{stdout}"
    );
    assert!(
        stderr.contains("hash-mismatch: checksum 0x3a stored, 0x1a computed"),
        "{stderr}"
    );
}

#[test]
fn check_accepts_esp_app_images_in_an_esp_idf_station_campaign() {
    let dir = tmp("station");
    let c = campaign(&dir, &esp("app-1.0.0.bin"), &esp("app-2.0.0.bin"), None);
    let (code, stdout, stderr) = cutpoint(&["check", &c]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("app-2.0.0.bin, health ok"), "{stdout}");
}

#[test]
fn check_refuses_an_esp_app_image_for_another_scheme_and_a_corrupt_one_at_its_key() {
    let dir = tmp("refused");
    // Another scheme.
    let station = root().join("rig/bench/stations/pi-gpio-esp32c3-devkitm.toml");
    let target = format!(
        "[target]\nstation = '{}'\nmode = \"swap-scratch\"\nupgrade = \"test\"",
        station.display()
    );
    let c = campaign(&dir, &esp("app-1.0.0.bin"), &esp("app-2.0.0.bin"), Some(&target));
    let (code, _, stderr) = cutpoint(&["check", &c]);
    assert_eq!(code, 2, "{stderr}");
    let line = images_line(&c);
    assert!(
        stderr.contains(&format!("{c}:{line}:")) && stderr.contains("images.baseline.file: image file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("an ESP-IDF app image (magic 0xe9); the swap-scratch scheme's bootloader boots MCUboot images"),
        "{stderr}"
    );

    // A flipped byte, and a cut short image.
    let mut b = std::fs::read(esp("app-2.0.0.bin")).unwrap();
    b[0x400] ^= 1;
    std::fs::write(dir.join("flipped.bin"), &b).unwrap();
    let good = std::fs::read(esp("app-2.0.0.bin")).unwrap();
    std::fs::write(dir.join("short.bin"), &good[..good.len() - 20]).unwrap();
    std::fs::write(dir.join("shorter.bin"), &good[..good.len() - 100]).unwrap();
    for (file, why) in [
        (
            "flipped.bin",
            "an ESP-IDF app image the bootloader would refuse: checksum",
        ),
        (
            "short.bin",
            "an ESP-IDF app image the bootloader would refuse: the checksum or the appended SHA-256",
        ),
        (
            "shorter.bin",
            "an ESP-IDF app image the bootloader would refuse: segment 2 runs past the slot",
        ),
    ] {
        let f = dir.join(file).display().to_string();
        let c = campaign(&dir, &esp("app-1.0.0.bin"), &f, None);
        let (code, _, stderr) = cutpoint(&["check", &c]);
        assert_eq!(code, 2, "{file}: {stderr}");
        assert!(stderr.contains("images.update.file: image file"), "{file}: {stderr}");
        assert!(stderr.contains(why), "{file}: {stderr}");
    }

    // The simulated board boots ESP app images now, and checks them at their key the same way.
    let sim = "[target]\nboard = \"nrf52840\"\nmode = \"esp-idf\"\nupgrade = \"test\"";
    let c = campaign(&dir, &esp("app-1.0.0.bin"), &esp("app-2.0.0.bin"), Some(sim));
    let (code, stdout, stderr) = cutpoint(&["check", &c]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let flipped = dir.join("flipped.bin").display().to_string();
    let c = campaign(&dir, &esp("app-1.0.0.bin"), &flipped, Some(sim));
    let (code, _, stderr) = cutpoint(&["check", &c]);
    assert_eq!(code, 2, "{stderr}");
    let line = images_line(&c) + 1;
    assert!(
        stderr.contains(&format!("{c}:{line}:")) && stderr.contains("images.update.file: image file"),
        "{stderr}"
    );
    assert!(
        stderr.contains("an ESP-IDF app image the bootloader would refuse: checksum"),
        "{stderr}"
    );
}

/// The shipped campaign esp-idf/esp-images runs the fixtures' ESP app images through the
/// simulated board's sweep: every cut passes, and the reports name the image that booted (its
/// app descriptor's version and its SHA-256) and the slot it booted from.
#[test]
fn run_sweeps_esp_app_images_on_the_simulated_board() {
    let dir = tmp("run");
    let out = dir.join("report");
    let campaign = root().join("campaigns/esp-idf/esp-images.toml");
    let (code, stdout, stderr) = cutpoint(&[
        "run",
        campaign.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--workers",
        "2",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("60 cut points: 60 passed, 0 failed, 0 rig errors"),
        "{stderr}"
    );
    let results = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let cuts: Vec<serde_json::Value> = results
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["record"] == "cut")
        .collect();
    assert_eq!(cuts.len(), 60);
    // The update's appended SHA-256, as the bootloader's jump line and the judge name it.
    let update = std::fs::read(esp("app-2.0.0.bin")).unwrap();
    let short: String = update[update.len() - 32..][..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for c in &cuts {
        assert_eq!(c["status"], "pass", "{c}");
        assert_eq!(c["final_image"], "2.0.0+0", "{c}");
    }
    let booted_new = cuts
        .iter()
        .filter(|c| {
            c["slots"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["slot"] == "secondary" && s["version"] == "2.0.0+0" && s["hash"] == short.as_str())
        })
        .count();
    assert!(booted_new > 0);
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"name="booted-slot" value="secondary (ota_1)""#),
        "the judge names the slot the update booted from"
    );
    // A cut in the image's second sector resumes there: the application read the version of the
    // half-written image from its app descriptor.
    assert!(
        results.contains("ota: download-resume version=2.0.0+0 offset=4096 size=5728"),
        "no download resumed"
    );
    let console = cuts[0]["console"].as_array().unwrap();
    assert!(
        console
            .iter()
            .any(|l| l["text"] == format!("boot: jump version=2.0.0+0 hash={short}").as_str()),
        "{console:?}"
    );
}
