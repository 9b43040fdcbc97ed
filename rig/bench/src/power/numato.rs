//! Numato USB relays (CDC-ACM, ASCII commands, prompt `>`).
//!
//! `relay on N\r`, `relay off N\r`, `relay read N\r` (answers `on` or `off`). N counts from 0
//! and relays 10 and up are letters A, B, ... The module echoes each command and ends every
//! answer with the prompt, which the backend waits for so it knows the command was taken.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serialport::SerialPort;

use crate::config::NumatoPowerConfig;
use crate::serial_id::{open_identity, LineSettings, SerialIdentity};
use cutpoint_core::{PowerSwitch, RigError, RigResult};

pub const BAUD: u32 = 19200;
const PROMPT: u8 = b'>';
const ANSWER_TIMEOUT: Duration = Duration::from_millis(1000);

/// The character naming relay `n` (0-9, then A for 10, B for 11, ...).
pub fn relay_char(n: u8) -> Option<char> {
    match n {
        0..=9 => Some((b'0' + n) as char),
        10..=35 => Some((b'A' + n - 10) as char),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    On,
    Off,
    Read,
}

/// The command line for `op` on relay `n` (with its `\r`).
pub fn command(op: Op, n: u8) -> Option<String> {
    let c = relay_char(n)?;
    let word = match op {
        Op::On => "on",
        Op::Off => "off",
        Op::Read => "read",
    };
    Some(format!("relay {word} {c}\r"))
}

/// Reads the state out of the answer to `relay read N` (echo, state, prompt).
pub fn parse_read(answer: &str) -> Option<bool> {
    answer
        .split(['\r', '\n', '>'])
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("relay"))
        .find_map(|l| match l {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        })
}

/// One relay of a Numato module.
pub struct NumatoPower {
    id: SerialIdentity,
    path: PathBuf,
    port: Box<dyn SerialPort>,
    relay: u8,
}

impl NumatoPower {
    pub fn open(cfg: &NumatoPowerConfig) -> RigResult<Self> {
        let backend = format!("power/numato:{} relay{}", cfg.port, cfg.relay);
        if relay_char(cfg.relay).is_none() {
            return Err(RigError::open(
                backend,
                format!("relay {} out of range (0-35)", cfg.relay),
            ));
        }
        let id = SerialIdentity::Path(PathBuf::from(&cfg.port));
        let (path, port) = open_identity(&id, &LineSettings::new(BAUD), &backend)?;
        let mut me = NumatoPower {
            id,
            path,
            port,
            relay: cfg.relay,
        };
        // An empty line gets a fresh prompt and clears anything half-typed.
        me.transact("\r")
            .map_err(|e| RigError::open(&backend, format!("no prompt from the Numato module: {}", e.message)))?;
        Ok(me)
    }

    /// Sends `line` and returns everything up to the prompt.
    fn transact(&mut self, line: &str) -> RigResult<String> {
        let backend = self.describe();
        let _ = self.port.clear(serialport::ClearBuffer::Input);
        self.port
            .write_all(line.as_bytes())
            .and_then(|_| self.port.flush())
            .map_err(|e| RigError::io(&backend, format!("writing to {}: {e}", self.path.display())))?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let mut answer = Vec::new();
        let mut buf = [0u8; 64];
        // Skip the echo of the command itself: the prompt we want follows it.
        let echo = line.trim_end_matches('\r');
        loop {
            if Instant::now() >= deadline {
                return Err(RigError::timeout(
                    backend,
                    format!(
                        "no `>` prompt within {ANSWER_TIMEOUT:?} after {echo:?} (got {:?})",
                        String::from_utf8_lossy(&answer)
                    ),
                ));
            }
            match self.port.read(&mut buf) {
                Ok(0) => return Err(RigError::io(backend, "the port closed")),
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.len() > 4096 {
                        return Err(RigError::protocol(backend, "answer too long without a prompt"));
                    }
                    let text = String::from_utf8_lossy(&answer);
                    let after_echo = text.find(echo).map(|i| i + echo.len()).unwrap_or(0);
                    if text[after_echo..].as_bytes().contains(&PROMPT) {
                        return Ok(text.into_owned());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => return Err(RigError::io(backend, format!("reading {}: {e}", self.path.display()))),
            }
        }
    }
}

impl PowerSwitch for NumatoPower {
    fn describe(&self) -> String {
        format!("power/numato:{} relay{}", self.id, self.relay)
    }

    fn set_power(&mut self, on: bool) -> RigResult<()> {
        let op = if on { Op::On } else { Op::Off };
        let cmd = command(op, self.relay).ok_or_else(|| RigError::open(self.describe(), "relay out of range"))?;
        self.transact(&cmd).map(|_| ())
    }

    fn read_back(&mut self) -> RigResult<Option<bool>> {
        let cmd = command(Op::Read, self.relay).ok_or_else(|| RigError::open(self.describe(), "relay out of range"))?;
        let answer = self.transact(&cmd)?;
        match parse_read(&answer) {
            Some(state) => Ok(Some(state)),
            None => Err(RigError::protocol(
                self.describe(),
                format!("unexpected answer to {:?}: {answer:?}", cmd.trim_end()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_names() {
        assert_eq!(relay_char(0), Some('0'));
        assert_eq!(relay_char(9), Some('9'));
        assert_eq!(relay_char(10), Some('A'));
        assert_eq!(relay_char(11), Some('B'));
        assert_eq!(relay_char(35), Some('Z'));
        assert_eq!(relay_char(36), None);
    }

    #[test]
    fn commands() {
        assert_eq!(command(Op::On, 0).unwrap(), "relay on 0\r");
        assert_eq!(command(Op::Off, 12).unwrap(), "relay off C\r");
        assert_eq!(command(Op::Read, 3).unwrap(), "relay read 3\r");
    }

    #[test]
    fn read_answers() {
        assert_eq!(parse_read("relay read 0\n\ron\n\r>"), Some(true));
        assert_eq!(parse_read("relay read 0\n\roff\n\r>"), Some(false));
        assert_eq!(parse_read("relay read 0\n\r>"), None);
        assert_eq!(parse_read("garbage"), None);
    }
}
