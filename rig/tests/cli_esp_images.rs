//! ESP-IDF app images (magic 0xE9, made by esptool: `fixtures/esp/make.sh`) through the CLI:
//! `inspect` shows one from a file, `check` accepts them in `[images]` of an esp-idf station
//! campaign and refuses them, with the place, for another scheme, when corrupt, and on the
//! simulated board (whose esp-idf bootloader boots MCUboot images).

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
fn check_refuses_an_esp_app_image_for_another_scheme_a_corrupt_one_and_on_the_simulated_board() {
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

    // The simulated board.
    let c = campaign(
        &dir,
        &esp("app-1.0.0.bin"),
        &esp("app-2.0.0.bin"),
        Some("[target]\nboard = \"nrf52840\"\nmode = \"esp-idf\"\nupgrade = \"test\""),
    );
    let (code, _, stderr) = cutpoint(&["check", &c]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("the simulated board's esp-idf bootloader boots MCUboot images only"),
        "{stderr}"
    );
}
