//! What a station file says about each backend.
//!
//! Each of `power`, `console`, `probe` and `transport` is a table whose `kind` picks the
//! backend; every other key belongs to that backend. Keys are snake_case. Unknown keys are
//! rejected, so a typo in a station file is an error rather than a silently ignored setting.
//! Parsing the file and reporting where an error is belongs to the caller; this module defines
//! the types, and [`crate::validate`] the checks that need no hardware.

use serde::{Deserialize, Serialize};

/// The backends of one station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StationBackends {
    /// A name for reports, e.g. `pi-3 nrf52840dk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub power: PowerConfig,
    pub console: ConsoleConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeConfig>,
    pub transport: TransportConfig,
    /// How long power stays off during a power cycle, so the board's capacitors drain and the
    /// target really resets (measure it for each board). Default 500 ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_dwell_ms: Option<u64>,
}

impl StationBackends {
    pub const DEFAULT_OFF_DWELL_MS: u64 = 500;

    pub fn off_dwell(&self) -> std::time::Duration {
        millis(self.off_dwell_ms.unwrap_or(Self::DEFAULT_OFF_DWELL_MS))
    }
}

/// A duration from a station file's milliseconds, bounded to a day so that no deadline
/// computed from it can overflow.
pub fn millis(ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(ms.min(24 * 3600 * 1000))
}

// ---------------------------------------------------------------------------------------------
// Power

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PowerConfig {
    /// A relay module or MOSFET on a Raspberry Pi GPIO pin.
    Gpio(GpioPowerConfig),
    /// A CH340 "LCUS" serial relay.
    Lcus(LcusPowerConfig),
    /// A dcttech USB HID relay (16c0:05df, "USBRelayN").
    HidRelay(HidRelayPowerConfig),
    /// A Numato USB relay (CDC-ACM, ASCII commands).
    Numato(NumatoPowerConfig),
    /// External commands that switch power on and off.
    Command(CommandPowerConfig),
}

/// A GPIO pin level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    High,
    Low,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioPowerConfig {
    /// BCM GPIO number (not the header pin number).
    pub pin: u8,
    /// The pin level at which the target is powered. It depends on the relay board and on the
    /// contact wired through (docs/bench-on-a-pi.md): an active-low HAT through its normally
    /// closed contact powers the target while the pin is high.
    pub on_level: Level,
    /// An input pin wired (through a divider or an opto-coupler) to the target's supply rail:
    /// what tells a cut that took from a relay whose contacts stayed closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sense: Option<GpioSenseConfig>,
}

/// A GPIO input that reads the target's supply rail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioSenseConfig {
    /// BCM GPIO number of the input.
    pub pin: u8,
    /// The level the input reads while the target is powered.
    pub on_level: Level,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LcusPowerConfig {
    /// Serial port, preferably a `/dev/serial/by-id/...` path.
    pub port: String,
    /// Relay channel, counting from 1.
    pub channel: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HidRelayPowerConfig {
    /// The board serial (5 characters, from the status report) when several boards are plugged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Relay number, counting from 1.
    pub relay: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumatoPowerConfig {
    /// Serial port, preferably a `/dev/serial/by-id/...` path.
    pub port: String,
    /// Relay index, counting from 0.
    pub relay: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandPowerConfig {
    /// Program and arguments that turn power on, e.g. `["uhubctl", "-l", "1-1", "-p", "2", "-a", "on"]`.
    pub on: Vec<String>,
    /// Program and arguments that turn power off.
    pub off: Vec<String>,
    /// Longest a command may run (default 10 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Program and arguments that read the target's supply rail (a GPIO input, a PDU outlet's
    /// current, a USB power meter): exit status 0 while the target is powered, 1 while it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sense: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// Console

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConsoleConfig {
    /// A UART through a USB serial adapter.
    Serial(SerialConsoleConfig),
    /// SEGGER RTT read through the debug probe.
    Rtt(RttConsoleConfig),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialConsoleConfig {
    /// A stable path (`/dev/serial/by-id/...`). Give this or `usb_serial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The USB serial number of the adapter. Give this or `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb_serial: Option<String>,
    pub baud: u32,
    /// Drive DTR to this level after opening; left alone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtr: Option<bool>,
    /// Drive RTS to this level after opening; left alone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rts: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RttConsoleConfig {
    /// Probe selector `VID:PID[:serial]`; when absent the station's `[probe]` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Chip name as probe-rs knows it; when absent the station's `[probe]` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chip: Option<String>,
    #[serde(default)]
    pub connect_under_reset: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_khz: Option<u32>,
    /// RTT up-channel number (0 is the usual terminal).
    #[serde(default)]
    pub channel: usize,
    /// Address of the RTT control block (`_SEGGER_RTT`) when known; RAM is scanned otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_block: Option<u64>,
    /// How often the up-channel is polled (default 10 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_ms: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Probe

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProbeConfig {
    /// A debug probe driven through probe-rs (CMSIS-DAP, J-Link, ST-Link, ...).
    ProbeRs(ProbeRsConfig),
    /// Espressif's esptool over the chip's serial bootloader (UART or USB-Serial-JTAG): reads
    /// and writes the SPI flash at its flash offsets, for the ESP32 family.
    Esptool(EsptoolConfig),
}

impl ProbeConfig {
    /// The flash regions `doctor` reads back (filled in by the rig from the station's map).
    pub fn regions(&self) -> &[FlashRegion] {
        match self {
            ProbeConfig::ProbeRs(c) => &c.slots,
            ProbeConfig::Esptool(c) => &c.regions,
        }
    }

    /// The chip as the backend names it.
    pub fn chip(&self) -> &str {
        match self {
            ProbeConfig::ProbeRs(c) => &c.chip,
            ProbeConfig::Esptool(c) => &c.chip,
        }
    }
}

/// Which command-line spelling of esptool to use: v5 spells its commands and reset modes with
/// hyphens (`read-flash`, `--after hard-reset`) and still takes v4's underscores with a
/// deprecation warning; v4 takes underscores only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EsptoolCli {
    #[default]
    V5,
    V4,
}

/// What esptool does with the chip once a command is done (its `--after`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EsptoolAfter {
    /// Leave the chip in its ROM download mode: the application does not run again until the
    /// rig resets it, so nothing writes the flash between the rig's reads and writes.
    #[default]
    NoReset,
    /// Reset the chip into its application after every command.
    HardReset,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsptoolConfig {
    /// The chip's serial port, ideally a `/dev/serial/by-id/...` path. Give this or `usb_serial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The USB serial number of the port (an ESP32-C3/C6/S3's USB-Serial-JTAG reports the
    /// chip's MAC address). Give this or `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb_serial: Option<String>,
    /// esptool's `--chip`, e.g. `esp32c3`.
    pub chip: String,
    /// esptool's `--baud` for reads and writes (default 460800).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baud: Option<u32>,
    /// The program and any leading arguments that run esptool (default `["esptool"]`; e.g.
    /// `["python3", "-m", "esptool"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The command-line spelling of the installed esptool (default `v5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli: Option<EsptoolCli>,
    /// What esptool does after each read or write (default `no-reset`). The rig's own resets
    /// always end with `hard-reset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<EsptoolAfter>,
    /// How long to wait for the port to come back after power-on before running esptool
    /// (default 5000 ms): a built-in USB-Serial-JTAG goes away at every power cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_wait_ms: Option<u64>,
    /// Longest one esptool command may run besides the time its bytes take on the line
    /// (default 30000 ms); a command that overruns is killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Flash regions `doctor` reads back: a view of the station's flash map (its primary,
    /// secondary and scratch regions), filled in by the rig; not a station-file key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<FlashRegion>,
}

impl EsptoolConfig {
    pub const DEFAULT_BAUD: u32 = 460_800;
    pub const DEFAULT_PORT_WAIT_MS: u64 = 5000;
    pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
    pub const DEFAULT_COMMAND: &'static str = "esptool";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeRsConfig {
    /// `VID:PID[:serial]`, hexadecimal VID and PID, e.g. `1366:1051:001050234567`.
    pub selector: String,
    /// Chip name as probe-rs knows it, e.g. `nRF52840_xxAA`.
    pub chip: String,
    /// Hold the target in reset while attaching (needed when the firmware disables the SWD pins
    /// or sleeps deeply).
    #[serde(default)]
    pub connect_under_reset: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_khz: Option<u32>,
    /// Flash regions `doctor` reads back to check the probe: a view of the station's flash map
    /// (its primary and secondary regions), filled in by the rig. Deprecated in station files:
    /// the regions are stated once, in the map.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<FlashRegion>,
}

/// A named flash region, as in a flash map's `[[regions]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlashRegion {
    pub name: String,
    pub offset: u32,
    pub size: u32,
}

// ---------------------------------------------------------------------------------------------
// Transport

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TransportConfig {
    /// The rig serves the image over HTTP; the device fetches it.
    Http(HttpTransportConfig),
    /// mcumgr SMP over a serial line; the rig pushes the image.
    Smp(SmpTransportConfig),
    /// The rig writes the image into the secondary slot through the probe and marks it pending.
    ProbeWrite(ProbeWriteTransportConfig),
    /// An external command delivers the image.
    Command(CommandTransportConfig),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTransportConfig {
    /// Address to listen on, e.g. `0.0.0.0:8080` (port 0 picks a free one).
    pub bind: String,
    /// URL path the image is served under (default `/image.bin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmpTransportConfig {
    /// Serial port, preferably a `/dev/serial/by-id/...` path.
    pub port: String,
    pub baud: u32,
    /// The device's SMP buffer size (MCUMGR_TRANSPORT_NETBUF_SIZE); default 384.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<usize>,
    /// Per-request timeout (default 5000 ms; the first chunk may erase the slot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Image number for multi-image devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<u32>,
    /// What the rig asks once the whole image is uploaded; unset: nothing (the device's own
    /// firmware marks the upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_upload: Option<AfterUpload>,
}

/// What the rig asks of a device after a complete SMP upload, as the mcumgr command line does
/// it: `image test HASH` or `image confirm HASH`, where HASH is the image's SHA-256 TLV (the
/// hash img_mgmt lists images by). The reset that follows is the rig's own, through the probe,
/// as for every transport. For a stock application such as Zephyr's `smp_svr`, which stores an
/// upload and does nothing else with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AfterUpload {
    /// Mark the upload for one trial boot (MCUboot swap type test).
    Test,
    /// Mark the upload permanent (swap type perm).
    Confirm,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeWriteTransportConfig {
    /// Start of the secondary slot: a view of the station's flash map (its secondary region),
    /// filled in by the rig. Deprecated in station files.
    #[serde(default)]
    pub slot_addr: u32,
    /// Size of the secondary slot; the MCUboot trailer sits at its end. 0 until the rig fills
    /// it in from the station's flash map. Deprecated in station files.
    #[serde(default)]
    pub slot_size: u32,
    /// Mark the update permanent (image_ok set) instead of test.
    #[serde(default)]
    pub permanent: bool,
    /// BOOT_MAX_ALIGN of the target's bootloader, which lays the trailer out (8, 16 or 32):
    /// filled in by the rig from the station's flash map (its `write_size`, as
    /// `fut::trailer::Geom::for_write_size` reads it), never read from a station file. `None`:
    /// MCUboot's default of 8.
    #[serde(skip)]
    pub trailer_align: Option<u32>,
    /// Bytes from the slot's start to where the image is written: 0, except where the
    /// campaign's scheme stages the update further in (MCUboot's swap-using-offset: one sector,
    /// the secondary slot's first, as the station's flash map gives it). Filled in by the rig
    /// from the campaign's `mode` and the station's map, never read from a station file.
    #[serde(skip)]
    pub image_offset: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandTransportConfig {
    /// Program and arguments; `{image}` is replaced by the path of the staged image file.
    pub argv: Vec<String>,
    /// Longest the command may run (default 600 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<StationBackends, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn tagged_backends_parse() {
        let st = parse(
            r#"{"power": {"kind": "gpio", "pin": 26, "on_level": "low"},
                "console": {"kind": "serial", "usb_serial": "A10K", "baud": 115200},
                "transport": {"kind": "http", "bind": "127.0.0.1:0"}}"#,
        )
        .unwrap();
        assert_eq!(
            st.power,
            PowerConfig::Gpio(GpioPowerConfig {
                pin: 26,
                on_level: Level::Low,
                sense: None,
            })
        );
        assert!(st.probe.is_none());
        assert_eq!(st.off_dwell(), std::time::Duration::from_millis(500));
    }

    #[test]
    fn unknown_keys_and_kinds_are_rejected() {
        let typo = parse(
            r#"{"power": {"kind": "lcus", "port": "/dev/x", "chanel": 1},
                "console": {"kind": "serial", "port": "/dev/y", "baud": 9600},
                "transport": {"kind": "http", "bind": "127.0.0.1:0"}}"#,
        );
        assert!(typo.unwrap_err().to_string().contains("chanel"));
        let kind = parse(
            r#"{"power": {"kind": "zigbee"},
                "console": {"kind": "serial", "port": "/dev/y", "baud": 9600},
                "transport": {"kind": "http", "bind": "127.0.0.1:0"}}"#,
        );
        assert!(kind.unwrap_err().to_string().contains("zigbee"));
    }

    #[test]
    fn round_trips_through_json() {
        let st = StationBackends {
            name: Some("x".into()),
            power: PowerConfig::Command(CommandPowerConfig {
                on: vec!["true".into()],
                off: vec!["false".into()],
                timeout_ms: None,
                sense: None,
            }),
            console: ConsoleConfig::Rtt(RttConsoleConfig {
                selector: None,
                chip: None,
                connect_under_reset: false,
                speed_khz: None,
                channel: 0,
                control_block: Some(0x2000_0000),
                poll_ms: None,
            }),
            probe: None,
            transport: TransportConfig::ProbeWrite(ProbeWriteTransportConfig {
                slot_addr: 0x80000,
                slot_size: 0x70000,
                permanent: true,
                trailer_align: None,
                image_offset: 0,
            }),
            off_dwell_ms: Some(800),
        };
        let text = serde_json::to_string(&st).unwrap();
        assert_eq!(parse(&text).unwrap(), st);
    }
}
