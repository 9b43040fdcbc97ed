//! Probe selectors: `VID:PID[:serial]`, VID and PID in hexadecimal.

use std::fmt;

/// Which USB debug probe to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSelector {
    pub vid: u16,
    pub pid: u16,
    /// The probe's USB serial number; may itself contain `:` (some probes use a MAC address).
    pub serial: Option<String>,
}

impl fmt::Display for ProbeSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vid, self.pid)?;
        if let Some(s) = &self.serial {
            write!(f, ":{s}")?;
        }
        Ok(())
    }
}

fn hex16(s: &str, what: &str, whole: &str) -> Result<u16, String> {
    let t = s.trim();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    if t.is_empty() || t.len() > 4 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "probe selector {whole:?}: {what} {s:?} is not a 16-bit hexadecimal number"
        ));
    }
    u16::from_str_radix(t, 16).map_err(|e| format!("probe selector {whole:?}: {what}: {e}"))
}

impl std::str::FromStr for ProbeSelector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, ':');
        let vid = parts.next().unwrap_or("");
        let Some(pid) = parts.next() else {
            return Err(format!(
                "probe selector {s:?} must look like VID:PID or VID:PID:SERIAL (e.g. 1366:1051:000683123456)"
            ));
        };
        let serial = match parts.next() {
            None => None,
            Some("") => {
                return Err(format!(
                    "probe selector {s:?}: the serial after the second `:` is empty"
                ))
            }
            Some(x) => Some(x.to_string()),
        };
        Ok(ProbeSelector {
            vid: hex16(vid, "VID", s)?,
            pid: hex16(pid, "PID", s)?,
            serial,
        })
    }
}

impl ProbeSelector {
    /// The selector in probe-rs's terms.
    pub fn to_probe_rs(&self) -> ::probe_rs::probe::DebugProbeSelector {
        ::probe_rs::probe::DebugProbeSelector {
            vendor_id: self.vid,
            product_id: self.pid,
            interface: None,
            serial_number: self.serial.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vid_pid_and_serial() {
        let s: ProbeSelector = "1366:1051:001050234567".parse().unwrap();
        assert_eq!(
            s,
            ProbeSelector {
                vid: 0x1366,
                pid: 0x1051,
                serial: Some("001050234567".into())
            }
        );
        assert_eq!(s.to_string(), "1366:1051:001050234567");
        let s: ProbeSelector = "0483:374B".parse().unwrap();
        assert_eq!((s.vid, s.pid, s.serial), (0x0483, 0x374b, None));
        let s: ProbeSelector = "303a:1001:aa:bb:cc:dd:ee:ff".parse().unwrap();
        assert_eq!(s.serial.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
        let p = s.to_probe_rs();
        assert_eq!((p.vendor_id, p.product_id), (0x303a, 0x1001));
        assert_eq!(p.serial_number.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
        assert_eq!("0x1366:0x1051".parse::<ProbeSelector>().unwrap().vid, 0x1366);
    }

    #[test]
    fn rejects_malformed_selectors() {
        for bad in [
            "",
            "1366",
            "1366:",
            "zz:1051",
            "13666:1051",
            "1366:1051:",
            ":1051",
            "1366 1051",
        ] {
            let e = bad.parse::<ProbeSelector>().unwrap_err();
            assert!(e.contains("probe selector"), "{bad:?}: {e}");
        }
    }
}
