//! A debug probe through probe-rs: attach (optionally under reset), write and read flash, reset,
//! and reattach after every power cut.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use ::probe_rs::flashing::{DownloadOptions, FlashProgress, ProgressEvent, ProgressOperation};
use ::probe_rs::probe::list::Lister;
use ::probe_rs::{MemoryInterface, Permissions, Session};

use super::selector::ProbeSelector;
use crate::config::ProbeRsConfig;
use cutpoint_core::{Probe, RigError, RigResult};

/// The probe-rs session, shared with the RTT console.
pub type SessionHandle = Arc<Mutex<Option<Session>>>;

/// Image formats probe-rs's loader understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFile {
    Elf,
    Hex,
    /// A raw binary placed at `base`.
    Bin {
        base: u64,
    },
}

impl ImageFile {
    /// Guesses the format from the file name (`.elf`/no extension, `.hex`/`.ihex`); `.bin`
    /// needs a base address and is not guessed.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("elf") | Some("axf") | None => Some(ImageFile::Elf),
            Some("hex") | Some("ihex") => Some(ImageFile::Hex),
            _ => None,
        }
    }
}

/// The probe backend.
pub struct ProbeRsProbe {
    cfg: ProbeRsConfig,
    selector: ProbeSelector,
    session: SessionHandle,
}

fn lock(h: &SessionHandle) -> MutexGuard<'_, Option<Session>> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sums programming progress events into (done, total) bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProgressSum {
    pub done: u64,
    pub total: u64,
}

impl ProgressSum {
    /// Takes one event; returns true when the numbers changed.
    pub fn take(&mut self, ev: &ProgressEvent) -> bool {
        match ev {
            ProgressEvent::AddProgressBar {
                operation: ProgressOperation::Program,
                total: Some(t),
            } => {
                self.total += t;
                true
            }
            ProgressEvent::Progress {
                operation: ProgressOperation::Program,
                size,
                ..
            } => {
                self.done += size;
                true
            }
            _ => false,
        }
    }
}

impl ProbeRsProbe {
    /// Parses the selector and attaches. Without the probe (or the target) this fails with an
    /// open error naming the selector.
    pub fn open(cfg: &ProbeRsConfig) -> RigResult<Self> {
        let selector: ProbeSelector = cfg
            .selector
            .parse()
            .map_err(|e: String| RigError::open(format!("probe/probe-rs:{}", cfg.selector), e))?;
        let mut me = ProbeRsProbe {
            cfg: cfg.clone(),
            selector,
            session: Arc::new(Mutex::new(None)),
        };
        me.attach()?;
        Ok(me)
    }

    /// The selector this probe was opened with.
    pub fn selector(&self) -> &ProbeSelector {
        &self.selector
    }

    /// The session, for the RTT console (it must lock it only briefly).
    pub fn session(&self) -> SessionHandle {
        self.session.clone()
    }

    /// Drops the session (before a power cut, so nothing talks to a dead target).
    pub fn detach(&mut self) {
        *lock(&self.session) = None;
    }

    /// Whether the target answers through the probe right now (false after a cut took).
    pub fn target_answers(&mut self) -> bool {
        let mut g = lock(&self.session);
        let Some(s) = g.as_mut() else { return false };
        let Ok(mut core) = s.core(0) else { return false };
        core.status().is_ok()
    }

    /// Loads an ELF, Intel HEX or BIN file with probe-rs's loader and programs it.
    pub fn load_file(
        &mut self,
        path: &Path,
        format: ImageFile,
        progress: &mut dyn FnMut(usize, usize),
    ) -> RigResult<()> {
        let name = self.describe();
        let fmt = match format {
            ImageFile::Elf => "elf",
            ImageFile::Hex => "hex",
            ImageFile::Bin { base } => {
                let data = std::fs::read(path).map_err(|e| RigError::io(&name, format!("{}: {e}", path.display())))?;
                let base = u32::try_from(base)
                    .map_err(|_| RigError::io(&name, format!("base address {base:#x} is past 4 GiB")))?;
                return self.write_flash(base, &data, progress);
            }
        };
        let factory = ::probe_rs::flashing::image_format(fmt)
            .ok_or_else(|| RigError::unsupported(&name, format!("this probe-rs build has no {fmt} loader")))?;
        let mut file =
            std::fs::File::open(path).map_err(|e| RigError::io(&name, format!("{}: {e}", path.display())))?;
        self.with_session(|s| {
            let mut loader = s.target().flash_loader();
            loader
                .load_image(s, &mut file, factory.create_loader(None), None)
                .map_err(|e| RigError::io(&name, format!("loading {}: {e}", path.display())))?;
            commit(s, &loader, progress, &name)
        })
    }

    fn with_session<T>(&mut self, f: impl FnOnce(&mut Session) -> RigResult<T>) -> RigResult<T> {
        if lock(&self.session).is_none() {
            self.attach()?;
        }
        let mut g = lock(&self.session);
        let s = g
            .as_mut()
            .ok_or_else(|| RigError::io(self.describe(), "not attached"))?;
        f(s)
    }
}

fn commit(
    s: &mut Session,
    loader: &::probe_rs::flashing::FlashLoader,
    progress: &mut dyn FnMut(usize, usize),
    name: &str,
) -> RigResult<()> {
    let mut sum = ProgressSum::default();
    let mut opts = DownloadOptions::default();
    opts.keep_unwritten_bytes = true;
    opts.verify = true;
    opts.progress = FlashProgress::new(|ev| {
        if sum.take(&ev) {
            progress(sum.done as usize, sum.total as usize);
        }
    });
    loader
        .commit(s, opts)
        .map_err(|e| RigError::io(name, format!("programming flash: {e}")))
}

impl Probe for ProbeRsProbe {
    fn describe(&self) -> String {
        format!("probe/probe-rs:{} {}", self.selector, self.cfg.chip)
    }

    fn attach(&mut self) -> RigResult<()> {
        let name = self.describe();
        *lock(&self.session) = None;
        let lister = Lister::new();
        let mut probe = lister.open(self.selector.to_probe_rs()).map_err(|e| {
            let present: Vec<String> = lister
                .list_all()
                .iter()
                .map(|p| {
                    format!("{:04x}:{:04x}{}", p.vendor_id, p.product_id, p.serial_number.as_deref().map(|s| format!(":{s}")).unwrap_or_default())
                })
                .collect();
            let present = if present.is_empty() { "none".to_string() } else { present.join(", ") };
            RigError::open(
                &name,
                format!(
                    "cannot open debug probe {}: {e} (probes present: {present}; check the USB cable and the udev rule for the probe)",
                    self.selector
                ),
            )
        })?;
        if let Some(khz) = self.cfg.speed_khz {
            probe
                .set_speed(khz)
                .map_err(|e| RigError::open(&name, format!("setting {khz} kHz: {e}")))?;
        }
        let chip = self.cfg.chip.clone();
        let session = if self.cfg.connect_under_reset {
            probe.attach_under_reset(chip.as_str(), Permissions::default())
        } else {
            probe.attach(chip.as_str(), Permissions::default())
        }
        .map_err(|e| {
            RigError::open(
                &name,
                format!(
                    "probe {} cannot attach to {chip}: {e} (is the target powered? try connect_under_reset = true)",
                    self.selector
                ),
            )
        })?;
        *lock(&self.session) = Some(session);
        Ok(())
    }

    fn write_flash(&mut self, addr: u32, data: &[u8], progress: &mut dyn FnMut(usize, usize)) -> RigResult<()> {
        let name = self.describe();
        self.with_session(|s| {
            let mut loader = s.target().flash_loader();
            loader
                .add_data(u64::from(addr), data)
                .map_err(|e| RigError::io(&name, format!("{} bytes at {addr:#x}: {e}", data.len())))?;
            commit(s, &loader, progress, &name)
        })
    }

    fn read_flash(&mut self, addr: u32, len: usize) -> RigResult<Vec<u8>> {
        let name = self.describe();
        self.with_session(|s| {
            let mut core = s.core(0).map_err(|e| RigError::io(&name, format!("core 0: {e}")))?;
            let mut buf = vec![0u8; len];
            core.read(u64::from(addr), &mut buf)
                .map_err(|e| RigError::io(&name, format!("reading {len} bytes at {addr:#x}: {e}")))?;
            Ok(buf)
        })
    }

    fn reset(&mut self) -> RigResult<()> {
        let name = self.describe();
        self.with_session(|s| {
            let mut core = s.core(0).map_err(|e| RigError::io(&name, format!("core 0: {e}")))?;
            core.reset().map_err(|e| RigError::io(&name, format!("reset: {e}")))
        })
    }

    fn halt(&mut self) -> RigResult<()> {
        let name = self.describe();
        self.with_session(|s| {
            let mut core = s.core(0).map_err(|e| RigError::io(&name, format!("core 0: {e}")))?;
            core.reset_and_halt(HALT_TIMEOUT)
                .map(|_| ())
                .map_err(|e| RigError::io(&name, format!("reset and halt: {e}")))
        })
    }
}

/// How long the core may take to stop after a reset-and-halt request.
const HALT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn progress_sums_programming_only() {
        let mut s = ProgressSum::default();
        assert!(s.take(&ProgressEvent::AddProgressBar {
            operation: ProgressOperation::Program,
            total: Some(4096)
        }));
        assert!(!s.take(&ProgressEvent::AddProgressBar {
            operation: ProgressOperation::Erase,
            total: Some(8192)
        }));
        assert!(s.take(&ProgressEvent::Progress {
            operation: ProgressOperation::Program,
            size: 1024,
            time: Duration::from_millis(1)
        }));
        assert!(!s.take(&ProgressEvent::Progress {
            operation: ProgressOperation::Erase,
            size: 1024,
            time: Duration::ZERO
        }));
        assert_eq!(
            s,
            ProgressSum {
                done: 1024,
                total: 4096
            }
        );
    }

    #[test]
    fn image_formats_from_names() {
        assert_eq!(ImageFile::from_path(Path::new("zephyr.elf")), Some(ImageFile::Elf));
        assert_eq!(ImageFile::from_path(Path::new("fw.HEX")), Some(ImageFile::Hex));
        assert_eq!(ImageFile::from_path(Path::new("fw.bin")), None);
    }

    #[test]
    fn bad_selector_fails_before_usb() {
        let cfg = ProbeRsConfig {
            selector: "nope".into(),
            chip: "nRF52840_xxAA".into(),
            connect_under_reset: false,
            speed_khz: None,
            slots: vec![],
        };
        let err = ProbeRsProbe::open(&cfg).err().unwrap();
        assert_eq!(err.kind, crate::RigErrorKind::Open);
        assert!(err.message.contains("nope"), "{err}");
    }

    #[test]
    fn absent_probe_fails_naming_the_selector() {
        let cfg = ProbeRsConfig {
            selector: "1366:1051:000000000000".into(),
            chip: "nRF52840_xxAA".into(),
            connect_under_reset: true,
            speed_khz: Some(4000),
            slots: vec![],
        };
        let err = ProbeRsProbe::open(&cfg).err().unwrap();
        assert_eq!(err.kind, crate::RigErrorKind::Open);
        assert!(err.message.contains("1366:1051:000000000000"), "{err}");
        assert!(err.backend.contains("1366:1051"), "{err}");
    }
}
