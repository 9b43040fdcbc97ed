//! dcttech USB HID relays (USB 16c0:05df, product string `USBRelayN`).
//!
//! Switching is a feature report `[0x00, 0xFF on | 0xFD off, relay (1-based), 0, ...]`. The
//! status is feature report 1: bytes 0-4 are the board's serial, byte 7 the bitmask of relays
//! that are on, so the state can be read back.

use hidapi::{HidApi, HidDevice};

use crate::config::HidRelayPowerConfig;
use cutpoint_core::{PowerSwitch, RigError, RigResult};

pub const VID: u16 = 0x16c0;
pub const PID: u16 = 0x05df;
const REPORT_LEN: usize = 9;

/// The feature report that switches `relay` (1-based) on or off.
pub fn switch_report(relay: u8, on: bool) -> [u8; REPORT_LEN] {
    let mut r = [0u8; REPORT_LEN];
    r[1] = if on { 0xFF } else { 0xFD };
    r[2] = relay;
    r
}

/// The buffer to pass to a get-feature-report call for the status report.
pub fn status_request() -> [u8; REPORT_LEN] {
    let mut r = [0u8; REPORT_LEN];
    r[0] = 0x01;
    r
}

/// A decoded status report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayStatus {
    /// The board serial (5 characters).
    pub serial: String,
    /// Bit n-1 set: relay n is on.
    pub mask: u8,
}

impl RelayStatus {
    pub fn is_on(&self, relay: u8) -> Option<bool> {
        (1..=8).contains(&relay).then(|| self.mask & (1 << (relay - 1)) != 0)
    }
}

/// Decodes the status report (`buf` as returned, `len` bytes valid).
pub fn parse_status(buf: &[u8]) -> Option<RelayStatus> {
    if buf.len() < 8 {
        return None;
    }
    let serial: String = buf[0..5]
        .iter()
        .take_while(|b| **b != 0)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect();
    Some(RelayStatus { serial, mask: buf[7] })
}

/// The number of relays a product string (`USBRelay2`) announces.
pub fn relay_count(product: &str) -> Option<u8> {
    product.strip_prefix("USBRelay")?.trim().parse().ok()
}

/// One relay of a dcttech board.
pub struct HidRelayPower {
    dev: HidDevice,
    serial: String,
    relay: u8,
}

fn backend_name(serial: Option<&str>, relay: u8) -> String {
    match serial {
        Some(s) => format!("power/hid-relay:{s} relay{relay}"),
        None => format!("power/hid-relay relay{relay}"),
    }
}

fn read_status(dev: &HidDevice) -> Result<RelayStatus, String> {
    let mut buf = status_request();
    let n = dev.get_feature_report(&mut buf).map_err(|e| e.to_string())?;
    parse_status(&buf[..n.min(REPORT_LEN)]).ok_or_else(|| format!("status report too short ({n} bytes)"))
}

impl HidRelayPower {
    pub fn open(cfg: &HidRelayPowerConfig) -> RigResult<Self> {
        let backend = backend_name(cfg.serial.as_deref(), cfg.relay);
        if !(1..=8).contains(&cfg.relay) {
            return Err(RigError::open(
                backend,
                format!("relay {} out of range: dcttech relays count from 1 to 8", cfg.relay),
            ));
        }
        let api = HidApi::new().map_err(|e| RigError::open(&backend, format!("cannot enumerate HID devices: {e}")))?;
        let mut seen = Vec::new();
        let mut problems = Vec::new();
        for info in api
            .device_list()
            .filter(|d| d.vendor_id() == VID && d.product_id() == PID)
        {
            let product = info.product_string().unwrap_or("").to_string();
            let dev = match info.open_device(&api) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(format!(
                        "{}: {e} (add a udev rule giving the user access to hidraw for 16c0:05df)",
                        info.path().to_string_lossy()
                    ));
                    continue;
                }
            };
            let status = match read_status(&dev) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(format!("{}: status: {e}", info.path().to_string_lossy()));
                    continue;
                }
            };
            let wanted = cfg.serial.as_deref().is_none_or(|s| s == status.serial);
            seen.push(status.serial.clone());
            if !wanted {
                continue;
            }
            if let Some(n) = relay_count(&product) {
                if cfg.relay > n {
                    return Err(RigError::open(
                        backend,
                        format!("board {} ({product}) has only {n} relays", status.serial),
                    ));
                }
            }
            if cfg.serial.is_none() {
                // Refuse to guess when several boards are plugged in.
                let others = api
                    .device_list()
                    .filter(|d| d.vendor_id() == VID && d.product_id() == PID)
                    .count();
                if others > 1 {
                    return Err(RigError::open(
                        backend,
                        format!(
                            "{others} dcttech relay boards are plugged in: name one with `serial` (found {})",
                            status.serial
                        ),
                    ));
                }
            }
            return Ok(HidRelayPower {
                dev,
                serial: status.serial,
                relay: cfg.relay,
            });
        }
        let mut msg = match &cfg.serial {
            Some(s) => format!("no dcttech HID relay (USB 16c0:05df) with serial {s:?} found"),
            None => "no dcttech HID relay (USB 16c0:05df) found: is it plugged in?".to_string(),
        };
        if !seen.is_empty() {
            msg.push_str(&format!("; boards present: {}", seen.join(", ")));
        }
        if !problems.is_empty() {
            msg.push_str(&format!("; {}", problems.join("; ")));
        }
        Err(RigError::open(backend, msg))
    }
}

impl PowerSwitch for HidRelayPower {
    fn describe(&self) -> String {
        backend_name(Some(&self.serial), self.relay)
    }

    fn set_power(&mut self, on: bool) -> RigResult<()> {
        self.dev
            .send_feature_report(&switch_report(self.relay, on))
            .map_err(|e| RigError::io(self.describe(), format!("send feature report: {e}")))
    }

    fn read_back(&mut self) -> RigResult<Option<bool>> {
        let status = read_status(&self.dev).map_err(|e| RigError::io(self.describe(), e))?;
        Ok(status.is_on(self.relay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_reports() {
        assert_eq!(switch_report(1, true), [0, 0xFF, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(switch_report(2, false), [0, 0xFD, 2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(status_request()[0], 1);
    }

    #[test]
    fn status_decoding() {
        let s = parse_status(&[b'Q', b'W', b'E', b'R', b'T', 0, 0, 0b0000_0101, 0]).unwrap();
        assert_eq!(s.serial, "QWERT");
        assert_eq!(s.is_on(1), Some(true));
        assert_eq!(s.is_on(2), Some(false));
        assert_eq!(s.is_on(3), Some(true));
        assert_eq!(s.is_on(9), None);
        assert_eq!(s.is_on(0), None);
        assert!(parse_status(&[1, 2, 3]).is_none());
        let odd = parse_status(&[b'A', 0xFF, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(odd.serial, "A?");
    }

    #[test]
    fn relay_count_from_product() {
        assert_eq!(relay_count("USBRelay2"), Some(2));
        assert_eq!(relay_count("USBRelay8"), Some(8));
        assert_eq!(relay_count("Other"), None);
    }

    #[test]
    fn open_without_a_board_fails_clearly() {
        let err = HidRelayPower::open(&HidRelayPowerConfig {
            serial: Some("ZZZZZ".into()),
            relay: 1,
        })
        .err()
        .expect("no relay board here");
        assert_eq!(err.kind, crate::RigErrorKind::Open);
        assert!(err.message.contains("16c0:05df"), "{err}");
        let err = HidRelayPower::open(&HidRelayPowerConfig { serial: None, relay: 9 })
            .err()
            .unwrap();
        assert!(err.message.contains("out of range"), "{err}");
    }
}
