//! CH340 "LCUS" serial relays (USB 1a86:7523, 9600 8N1).
//!
//! Each command is 4 bytes: `A0, channel, state (01 on / 00 off), (A0 + channel + state) & FF`.
//! The boards do not answer, so the relay's state cannot be read back.

use std::io::Write;
use std::path::PathBuf;

use serialport::SerialPort;

use crate::config::LcusPowerConfig;
use crate::serial_id::{open_identity, LineSettings, SerialIdentity};
use cutpoint_core::{PowerSwitch, RigError, RigResult};

pub const BAUD: u32 = 9600;
const START: u8 = 0xA0;

/// The command frame that switches `channel` (1-based) on or off.
pub fn frame(channel: u8, on: bool) -> [u8; 4] {
    let state = u8::from(on);
    let sum = START.wrapping_add(channel).wrapping_add(state);
    [START, channel, state, sum]
}

/// Decodes a frame: `Some((channel, on))` when it is well formed and its checksum matches.
pub fn decode_frame(f: &[u8]) -> Option<(u8, bool)> {
    let [start, channel, state, sum] = *f else { return None };
    let on = match state {
        0 => false,
        1 => true,
        _ => return None,
    };
    (start == START && frame(channel, on)[3] == sum).then_some((channel, on))
}

/// An LCUS relay channel.
pub struct LcusPower {
    id: SerialIdentity,
    path: PathBuf,
    port: Box<dyn SerialPort>,
    channel: u8,
}

impl LcusPower {
    pub fn open(cfg: &LcusPowerConfig) -> RigResult<Self> {
        let backend = format!("power/lcus:{} ch{}", cfg.port, cfg.channel);
        if cfg.channel == 0 {
            return Err(RigError::open(
                backend,
                "LCUS channels count from 1; channel 0 does not exist",
            ));
        }
        let id = SerialIdentity::Path(PathBuf::from(&cfg.port));
        let (path, port) = open_identity(&id, &LineSettings::new(BAUD), &backend)?;
        Ok(LcusPower {
            id,
            path,
            port,
            channel: cfg.channel,
        })
    }

    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.port.write_all(bytes)?;
        self.port.flush()
    }
}

impl PowerSwitch for LcusPower {
    fn describe(&self) -> String {
        format!("power/lcus:{} ch{}", self.id, self.channel)
    }

    fn set_power(&mut self, on: bool) -> RigResult<()> {
        let f = frame(self.channel, on);
        if let Err(first) = self.send(&f) {
            // The adapter may have re-enumerated: reopen it once by its stable name.
            let backend = self.describe();
            let (path, port) = open_identity(&self.id, &LineSettings::new(BAUD), &backend).map_err(|e| {
                RigError::io(
                    &backend,
                    format!(
                        "writing to {}: {first}; reopening failed: {}",
                        self.path.display(),
                        e.message
                    ),
                )
            })?;
            self.path = path;
            self.port = port;
            self.send(&f)
                .map_err(|e| RigError::io(&backend, format!("writing to {}: {e}", self.path.display())))?;
        }
        Ok(())
    }

    fn read_back(&mut self) -> RigResult<Option<bool>> {
        // LCUS boards never answer reliably: there is nothing to read.
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_match_the_datasheet_examples() {
        assert_eq!(frame(1, true), [0xA0, 0x01, 0x01, 0xA2]);
        assert_eq!(frame(1, false), [0xA0, 0x01, 0x00, 0xA1]);
        assert_eq!(frame(2, true), [0xA0, 0x02, 0x01, 0xA3]);
        assert_eq!(frame(0x70, true), [0xA0, 0x70, 0x01, 0x11]);
    }

    #[test]
    fn decode_checks_start_state_and_sum() {
        assert_eq!(decode_frame(&[0xA0, 0x02, 0x01, 0xA3]), Some((2, true)));
        assert_eq!(decode_frame(&[0xA0, 0x02, 0x01, 0xA4]), None);
        assert_eq!(decode_frame(&[0xA1, 0x02, 0x01, 0xA4]), None);
        assert_eq!(decode_frame(&[0xA0, 0x02, 0x02, 0xA4]), None);
        assert_eq!(decode_frame(&[0xA0, 0x02, 0x01]), None);
    }

    #[test]
    fn channel_zero_is_rejected_before_opening() {
        let err = LcusPower::open(&LcusPowerConfig {
            port: "/dev/null".into(),
            channel: 0,
        })
        .err()
        .unwrap();
        assert!(err.message.contains("channel 0"), "{err}");
    }
}
