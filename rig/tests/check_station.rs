//! `cutpoint check` of station files validates the backends as `doctor` does, without opening
//! any device; old key spellings are read with a warning.

use std::path::Path;

#[path = "support/cli.rs"]
mod cli;
use cli::cutpoint;

const STATION: &str = r#"name = "lab"
off_dwell_ms = 500

[target]
board = "nrf52840"

[power]
kind = "gpio"
pin = 26
on_level = "high"

[console]
kind = "serial"
port = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10KXYZ1-if00-port0"
baud = 115200

[probe]
kind = "probe-rs"
selector = "1366:1051:001050234567"
chip = "nRF52840_xxAA"

[transport]
kind = "smp"
port = "/dev/serial/by-id/usb-smp"
baud = 115200
"#;

fn check(dir: &Path, text: &str) -> (i32, String, String) {
    let path = dir.join("lab.toml");
    std::fs::write(&path, text).unwrap();
    cutpoint(&["check", path.to_str().unwrap()])
}

#[test]
fn a_sound_station_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = check(dir.path(), STATION);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("flash map: built-in nrf52840"), "{stdout}");
    assert!(stderr.is_empty(), "no warnings for current spellings: {stderr}");
}

#[test]
fn backend_typos_and_bad_values_fail_check_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "pin = 26",
            "pn = 26",
            "lab.toml:9:1: power.pn: unknown key \"pn\"; did you mean \"pin\"?",
        ),
        (
            "on_level = \"high\"",
            "on_level = \"hi\"",
            "lab.toml:10:12: power.on_level: expected one of \"high\", \"low\", got \"hi\"",
        ),
        (
            "kind = \"smp\"",
            "kind = \"smp-serial\"",
            "lab.toml:23:8: transport.kind: expected one of \"http\", \"smp\", \"probe-write\", \"command\", got \
             \"smp-serial\"; did you mean \"smp\"?",
        ),
        (
            "pin = 26",
            "pin = 37",
            "lab.toml:9:7: power.pin: expected a BCM GPIO number 0-27",
        ),
        (
            "selector = \"1366:1051:001050234567\"",
            "selector = \"jlink\"",
            "lab.toml:19:12: probe.selector: probe selector \"jlink\" must look like VID:PID",
        ),
    ];
    for (from, to, expected) in cases {
        let (code, _, stderr) = check(dir.path(), &STATION.replace(from, to));
        assert_eq!(code, 2, "{to}: {stderr}");
        assert!(stderr.contains(expected), "{to}:\n{stderr}");
    }
}

#[test]
fn old_spellings_pass_with_a_warning_naming_file_line_and_the_new_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let old = STATION
        .replace("off_dwell_ms", "dwell_ms")
        .replace("on_level", "on-level");
    let (code, _, stderr) = check(dir.path(), &old);
    assert_eq!(code, 0, "{stderr}");
    let file = dir.path().join("lab.toml");
    assert!(
        stderr.contains(&format!(
            "warning: {}:2:1: dwell_ms is deprecated; write off_dwell_ms",
            file.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "warning: {}:10:1: on-level is deprecated; write on_level",
            file.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_campaign_on_a_station_checks_the_station_and_its_flash_map() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.toml"), STATION.replace("pin = 26", "pn = 26")).unwrap();
    let campaign = dir.path().join("c.toml");
    std::fs::write(
        &campaign,
        "[target]\nstation = \"lab.toml\"\n[[phases]]\nname = \"swap\"\nstart = 'a'\nend = 'b'\n",
    )
    .unwrap();
    let (code, _, stderr) = cutpoint(&["check", campaign.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("lab.toml:9:1: power.pn"), "{stderr}");

    let no_map = STATION
        .replace("board = \"nrf52840\"", "board = \"custom\"")
        .replace("nRF52840_xxAA", "STM32F446RETx");
    std::fs::write(dir.path().join("lab.toml"), no_map).unwrap();
    let (code, _, stderr) = cutpoint(&["check", campaign.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("add [target] board = \"nrf52840\""), "{stderr}");
    assert!(stderr.contains("[[layout.regions]]"), "{stderr}");
}

#[test]
fn probe_write_must_write_the_secondary_slot_of_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let probe_write = STATION.replace(
        "kind = \"smp\"\nport = \"/dev/serial/by-id/usb-smp\"\nbaud = 115200\n",
        "kind = \"probe-write\"\nslot_addr = 0x82000\nslot_size = 0x76000\n",
    );
    std::fs::write(dir.path().join("lab.toml"), &probe_write).unwrap();
    let campaign = dir.path().join("c.toml");
    std::fs::write(
        &campaign,
        "[target]\nstation = \"lab.toml\"\n[[phases]]\nname = \"swap\"\nstart = 'a'\nend = 'b'\n",
    )
    .unwrap();
    let (code, _, stderr) = cutpoint(&["check", campaign.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("lab.toml:24:13: transport.slot_addr: probe-write writes to 0x82000+0x76000"),
        "{stderr}"
    );
    assert!(
        stderr.contains("0x40000+0x30000"),
        "the built-in map's secondary slot: {stderr}"
    );
    let fixed = probe_write.replace("0x82000", "0x40000").replace("0x76000", "0x30000");
    std::fs::write(dir.path().join("lab.toml"), fixed).unwrap();
    let (code, _, stderr) = cutpoint(&["check", campaign.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn old_probe_slots_load_with_a_warning_and_must_fit_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let old = STATION.replace(
        "chip = \"nRF52840_xxAA\"\n\n[transport]",
        "chip = \"nRF52840_xxAA\"\nslots = [{ name = \"primary\", offset = 0x10000, size = 0x30000 }]\n\n[transport]",
    );
    let (code, stdout, stderr) = check(dir.path(), &old);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("flash map: built-in nrf52840"), "{stdout}");
    assert!(
        stderr.contains("warning: ") && stderr.contains("lab.toml:21:9: probe.slots: slots is deprecated"),
        "{stderr}"
    );
    assert!(stderr.contains("remove slots"), "{stderr}");

    let (code, _, stderr) = check(dir.path(), &old.replace("offset = 0x10000", "offset = 0x20000"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("lab.toml:21:10: probe.slots.primary: slot \"primary\" is 0x20000+0x30000, but the region of the flash map (nrf52840) is 0x10000+0x30000"),
        "{stderr}"
    );
}
