//! Finding and opening a serial device by a stable identity.
//!
//! USB serial adapters come back under another `/dev/ttyUSBn` or `/dev/ttyACMn` after they
//! re-enumerate, so the rig names them by a stable path (`/dev/serial/by-id/...`) or by the
//! USB serial number, and resolves that to the current device node each time it opens.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serialport::{SerialPort, SerialPortType};

use cutpoint_core::{RigError, RigResult};

/// How a serial device is named in a station file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialIdentity {
    /// A path, ideally a `/dev/serial/by-id/...` symlink.
    Path(PathBuf),
    /// The USB serial number of the adapter.
    UsbSerial(String),
}

impl std::fmt::Display for SerialIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SerialIdentity::Path(p) => write!(f, "{}", p.display()),
            SerialIdentity::UsbSerial(s) => write!(f, "usb-serial={s}"),
        }
    }
}

impl SerialIdentity {
    /// The identity from a station file's `port` / `usb_serial` pair (exactly one must be set).
    pub fn from_config(port: Option<&str>, usb_serial: Option<&str>, backend: &str) -> RigResult<Self> {
        match (port, usb_serial) {
            (Some(p), None) if !p.is_empty() => Ok(SerialIdentity::Path(PathBuf::from(p))),
            (None, Some(s)) if !s.is_empty() => Ok(SerialIdentity::UsbSerial(s.to_string())),
            (Some(_), Some(_)) => Err(RigError::open(backend, "give either `port` or `usb_serial`, not both")),
            _ => Err(RigError::open(
                backend,
                "no serial device named: give `port` (a /dev/serial/by-id/... path) or `usb_serial`",
            )),
        }
    }

    /// The device node this identity points at right now, or `None` when it is absent.
    pub fn resolve(&self) -> Option<PathBuf> {
        match self {
            SerialIdentity::Path(p) => std::fs::canonicalize(p).ok(),
            SerialIdentity::UsbSerial(serial) => find_by_usb_serial(serial),
        }
    }

    /// Warns about unstable names: `/dev/ttyUSB0` may be another adapter after a re-plug.
    pub fn stability_hint(&self) -> Option<String> {
        match self {
            SerialIdentity::Path(p) => {
                let s = p.to_string_lossy();
                let unstable = ["/dev/ttyUSB", "/dev/ttyACM"].iter().any(|pre| s.starts_with(pre));
                unstable.then(|| {
                    format!(
                        "{s} is not a stable name: it can point at another adapter after the device \
                         re-enumerates; use its /dev/serial/by-id/... link or usb_serial"
                    )
                })
            }
            SerialIdentity::UsbSerial(_) => None,
        }
    }
}

/// Looks up a USB serial device by its serial number.
pub fn find_by_usb_serial(serial: &str) -> Option<PathBuf> {
    // serialport's sysfs scan panics when /sys/class/tty is missing (e.g. in some containers).
    if !Path::new("/sys/class/tty").is_dir() {
        return None;
    }
    let ports = serialport::available_ports().ok()?;
    ports.into_iter().find_map(|p| match p.port_type {
        SerialPortType::UsbPort(info) if info.serial_number.as_deref() == Some(serial) => {
            Some(PathBuf::from(p.port_name))
        }
        _ => None,
    })
}

/// Line settings applied on open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSettings {
    pub baud: u32,
    /// `None` leaves DTR as it is (as far as the OS allows: Linux raises DTR briefly on open).
    pub dtr: Option<bool>,
    /// `None` leaves RTS as it is.
    pub rts: Option<bool>,
    /// Read timeout of the opened port.
    pub timeout: Duration,
}

impl LineSettings {
    pub fn new(baud: u32) -> Self {
        LineSettings {
            baud,
            dtr: None,
            rts: None,
            timeout: Duration::from_millis(50),
        }
    }
}

/// Opens the device node `path` 8N1 without flow control.
pub fn open_port(path: &Path, settings: &LineSettings, backend: &str) -> RigResult<Box<dyn SerialPort>> {
    let name = path.to_string_lossy().to_string();
    let mut builder = serialport::new(name.as_str(), settings.baud)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .timeout(settings.timeout);
    builder = match settings.dtr {
        Some(level) => builder.dtr_on_open(level),
        None => builder.preserve_dtr_on_open(),
    };
    let mut port = builder.open().map_err(|e| open_error(backend, path, &e))?;
    if let Some(level) = settings.rts {
        port.write_request_to_send(level)
            .map_err(|e| RigError::io(backend, format!("setting RTS on {name}: {e}")))?;
    }
    Ok(port)
}

fn open_error(backend: &str, path: &Path, e: &serialport::Error) -> RigError {
    let hint = match e.kind() {
        serialport::ErrorKind::NoDevice => "the device is missing or already in use",
        serialport::ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => {
            "permission denied: add the user to the `dialout` group and log in again"
        }
        serialport::ErrorKind::Io(std::io::ErrorKind::NotFound) => "no such device: is it plugged in?",
        _ => "check the device is plugged in and not used by another program",
    };
    RigError::open(backend, format!("cannot open {}: {e} ({hint})", path.display()))
}

/// Resolves `id` and opens it, with an error that names the identity when it is absent.
pub fn open_identity(
    id: &SerialIdentity,
    settings: &LineSettings,
    backend: &str,
) -> RigResult<(PathBuf, Box<dyn SerialPort>)> {
    let Some(path) = id.resolve() else {
        let what = match id {
            SerialIdentity::Path(p) => format!("{} does not exist: is the adapter plugged in?", p.display()),
            SerialIdentity::UsbSerial(s) => {
                format!("no USB serial device with serial number {s:?} is plugged in (see /dev/serial/by-id/)")
            }
        };
        return Err(RigError::open(backend, what));
    };
    let port = open_port(&path, settings, backend)?;
    Ok((path, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_needs_exactly_one_name() {
        assert_eq!(
            SerialIdentity::from_config(Some("/dev/serial/by-id/x"), None, "b").unwrap(),
            SerialIdentity::Path("/dev/serial/by-id/x".into())
        );
        assert_eq!(
            SerialIdentity::from_config(None, Some("A10K"), "b").unwrap(),
            SerialIdentity::UsbSerial("A10K".into())
        );
        assert!(SerialIdentity::from_config(Some("a"), Some("b"), "b").is_err());
        assert!(SerialIdentity::from_config(None, None, "b").is_err());
        assert!(SerialIdentity::from_config(Some(""), None, "b").is_err());
    }

    #[test]
    fn missing_devices_fail_to_open_with_their_name() {
        let id = SerialIdentity::Path("/dev/serial/by-id/usb-nothing-here".into());
        let err = open_identity(&id, &LineSettings::new(115200), "console/serial").unwrap_err();
        assert_eq!(err.kind, crate::RigErrorKind::Open);
        assert!(err.message.contains("usb-nothing-here"), "{err}");
        let id = SerialIdentity::UsbSerial("NO-SUCH-SERIAL-0".into());
        let err = open_identity(&id, &LineSettings::new(115200), "console/serial").unwrap_err();
        assert!(err.message.contains("NO-SUCH-SERIAL-0"), "{err}");
    }

    #[test]
    fn unstable_names_are_flagged() {
        assert!(SerialIdentity::Path("/dev/ttyUSB0".into()).stability_hint().is_some());
        assert!(SerialIdentity::Path("/dev/serial/by-id/usb-x".into())
            .stability_hint()
            .is_none());
    }
}
