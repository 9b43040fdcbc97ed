//! The ESP32-C3 example station with its probe pointed at a fake esptool (a script over a flash
//! image, `rig/bench/tests/common/esptool.rs`): `cutpoint doctor` reads the regions of the
//! station's own map through it, otadata included, and decodes the A/B record.

#[path = "support/cli.rs"]
mod cli;
#[path = "../bench/tests/common/esptool.rs"]
mod fake_esptool;

use cli::{cutpoint, root};
use fake_esptool::FakeEsptool;
use fut::scheme::esp_idf::{seq_crc, STATE_VALID};

const ESP_STATION: &str = "rig/bench/stations/pi-gpio-esp32c3-devkitm.toml";

#[test]
fn doctor_reads_the_esp32c3_stations_otadata_through_esptool() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEsptool::new(&dir.path().join("esptool"), 4 * 1024 * 1024);
    // Two valid entries: sector 1 (seq 3) wins over sector 0 (seq 2) and names ota_0.
    for (at, seq) in [(0xf000usize, 2u32), (0x10000, 3)] {
        let mut e = [0xffu8; 32];
        e[0..4].copy_from_slice(&seq.to_le_bytes());
        e[24..28].copy_from_slice(&STATE_VALID.to_le_bytes());
        e[28..32].copy_from_slice(&seq_crc(seq).to_le_bytes());
        fake.put(at, &e);
    }
    fake.put(0x20000, &[0xe9, 0x06, 0x02, 0x20]);
    let port = dir.path().join("ttyACM-jtag");
    let power = dir.path().join("power");
    let text = std::fs::read_to_string(root().join(ESP_STATION)).unwrap();
    let text = text
        .replace(
            "kind = \"gpio\"\npin = 20 ",
            &format!(
                "kind = \"command\"\non = [\"sh\", \"-c\", \"echo on > '{p}'; touch '{port}'\"]\n\
                 off = [\"sh\", \"-c\", \"echo off > '{p}'; rm -f '{port}'\"]\n#",
                p = power.display(),
                port = port.display()
            ),
        )
        .replace("on_level = \"high\" ", "# ")
        .replace(
            "usb_serial = \"F4:12:FA:4C:2B:10\"",
            &format!("port = \"{}\"", port.display()),
        )
        .replace(
            "command = [\"esptool\"]",
            &format!("command = [\"{}\"]", fake.command()[0]),
        )
        .replace("port_wait_ms = 5000", "port_wait_ms = 2000")
        .replace(
            "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A10KXYZ2-if00-port0",
            &dir.path().join("no-console").display().to_string(),
        );
    assert!(
        text.contains("kind = \"command\"") && text.contains(&fake.command()[0]),
        "{text}"
    );
    let station = dir.path().join("esp32c3.toml");
    std::fs::write(&station, text).unwrap();
    let (code, _, stderr) = cutpoint(&["check", station.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");

    let (code, stdout, stderr) = cutpoint(&["doctor", station.to_str().unwrap()]);
    // No console on this machine: unfit, but every region was read through esptool first.
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("[FAIL] console:"), "{stdout}");
    assert!(stdout.contains("[ok  ] probe: probe/esptool:"), "{stdout}");
    assert!(
        stdout.contains("[ok  ] region primary: 0x20000+0x1a9000: ESP image magic 0xe9"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[ok  ] region secondary: 0x1d0000+0x1a9000: erased"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "[ok  ] region otadata: 0xf000+0x2000: otadata sector 0: seq 2 state valid crc ok, \
             sector 1: seq 3 state valid crc ok; boots ota_0 (sector 1)"
        ),
        "{stdout}"
    );
    let calls = fake.calls();
    assert!(
        calls.iter().any(|c| c.contains("--chip esp32c3")
            && c.contains("--baud 460800")
            && c.contains("--after no-reset read-flash 0xf000 0x2000 ")),
        "{calls:?}"
    );
}
