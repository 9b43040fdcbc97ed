//! An external command delivers the update (a vendor CLI, `mcumgr`, a script).
//!
//! `{image}` in the arguments is replaced by the path of the staged image file. The command runs
//! to completion inside `stage`; it cannot be held at a byte. The file is the image alone:
//! where it goes in the slot (one sector in, under MCUboot's swap-using-offset) is the
//! command's or the device's business, as it is for `mcumgr image upload`.

use std::time::Duration;

use crate::config::CommandTransportConfig;
use crate::power::command::run_argv;
use cutpoint_core::DeliveryCounter;
use cutpoint_core::{OtaTransport, RigError, RigResult};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub struct CommandTransport {
    argv: Vec<String>,
    timeout: Duration,
    dir: tempfile::TempDir,
    delivered: DeliveryCounter,
}

/// `argv` with `{image}` replaced by `image_path`.
pub fn expand(argv: &[String], image_path: &str) -> Vec<String> {
    argv.iter().map(|a| a.replace("{image}", image_path)).collect()
}

impl CommandTransport {
    pub fn open(cfg: &CommandTransportConfig) -> RigResult<Self> {
        if cfg.argv.is_empty() {
            return Err(RigError::open("transport/command", "`argv` needs a program to run"));
        }
        let dir = tempfile::Builder::new()
            .prefix("cutpoint-cmd-")
            .tempdir()
            .map_err(|e| RigError::open("transport/command", format!("cannot create a staging directory: {e}")))?;
        Ok(CommandTransport {
            argv: cfg.argv.clone(),
            timeout: cfg.timeout_ms.map(crate::config::millis).unwrap_or(DEFAULT_TIMEOUT),
            dir,
            delivered: DeliveryCounter::new(),
        })
    }
}

impl OtaTransport for CommandTransport {
    fn describe(&self) -> String {
        format!(
            "transport/command:{}",
            self.argv.first().map(String::as_str).unwrap_or("")
        )
    }

    fn stage(&mut self, image: &[u8]) -> RigResult<()> {
        self.delivered.set(0);
        let path = self.dir.path().join("image.bin");
        std::fs::write(&path, image).map_err(|e| RigError::io(self.describe(), format!("staging the image: {e}")))?;
        let argv = expand(&self.argv, &path.to_string_lossy());
        run_argv(&argv, self.timeout, &self.describe())?;
        self.delivered.set(image.len() as u64);
        Ok(())
    }

    fn hold_at(&mut self, byte: Option<u64>) -> RigResult<()> {
        match byte {
            None => Ok(()),
            Some(_) => Err(RigError::unsupported(
                self.describe(),
                "an external command cannot be held at a byte",
            )),
        }
    }

    fn bytes_delivered(&self) -> u64 {
        self.delivered.get()
    }

    fn delivery_counter(&self) -> Option<DeliveryCounter> {
        Some(self.delivered.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_with_the_image_path() {
        let out = tempfile::tempdir().unwrap();
        let copy = out.path().join("copy.bin");
        let cfg = CommandTransportConfig {
            argv: vec!["cp".into(), "{image}".into(), copy.to_string_lossy().into()],
            timeout_ms: None,
        };
        let mut t = CommandTransport::open(&cfg).unwrap();
        t.stage(b"firmware").unwrap();
        assert_eq!(std::fs::read(&copy).unwrap(), b"firmware");
        assert_eq!(t.bytes_delivered(), 8);
        assert_eq!(t.hold_at(Some(3)).unwrap_err().kind, crate::RigErrorKind::Unsupported);
        let bad = CommandTransportConfig {
            argv: vec!["false".into()],
            timeout_ms: None,
        };
        assert!(CommandTransport::open(&bad).unwrap().stage(b"x").is_err());
    }
}
