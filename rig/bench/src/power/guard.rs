//! Leaves the target powered whatever happens to the rig: when the guard is dropped, and when
//! the process gets SIGINT, SIGTERM or SIGHUP.
//!
//! One signal thread serves every guard of the process. On a signal it turns every guarded
//! switch on, then lets the signal take its default effect (the process ends as it would have).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::shared::SharedSwitch;
use crate::traits::{PowerSwitch, RigError, RigResult};

type WeakSwitch = Weak<Mutex<Box<dyn PowerSwitch>>>;

static GUARDS: Mutex<Vec<(u64, WeakSwitch)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static SIGNAL_THREAD: OnceLock<Result<(), String>> = OnceLock::new();

fn guards() -> std::sync::MutexGuard<'static, Vec<(u64, WeakSwitch)>> {
    GUARDS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Turns every guarded switch on. A switch whose lock is held (a cut in progress) gets up to
/// two seconds to be released.
fn restore_all() {
    let list: Vec<WeakSwitch> = guards().iter().map(|(_, w)| w.clone()).collect();
    for weak in list {
        let Some(sw) = weak.upgrade() else { continue };
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match sw.try_lock() {
                Ok(mut s) => {
                    let _ = s.set_power(true);
                    break;
                }
                Err(std::sync::TryLockError::Poisoned(p)) => {
                    let _ = p.into_inner().set_power(true);
                    break;
                }
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(std::sync::TryLockError::WouldBlock) => break,
            }
        }
    }
}

fn install_signal_thread() -> RigResult<()> {
    let r = SIGNAL_THREAD.get_or_init(|| {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("power-guard-signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    restore_all();
                    if signal_hook::low_level::emulate_default_handler(sig).is_err() {
                        std::process::exit(128 + sig);
                    }
                    // The default effect of these signals ends the process; if it did not, exit.
                    std::process::exit(128 + sig);
                }
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    r.clone()
        .map_err(|e| RigError::open("power/guard", format!("cannot install signal handlers: {e}")))
}

/// Restores power when dropped and on SIGINT/SIGTERM/SIGHUP.
pub struct PowerGuard {
    switch: SharedSwitch,
    id: u64,
}

impl PowerGuard {
    /// Guards `switch`. Use [`PowerGuard::switch`] for every later use of it.
    pub fn new(switch: Box<dyn PowerSwitch>) -> RigResult<Self> {
        Self::guard(SharedSwitch::new(switch))
    }

    /// Guards a switch that is already shared.
    pub fn guard(switch: SharedSwitch) -> RigResult<Self> {
        install_signal_thread()?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        guards().push((id, switch.downgrade()));
        Ok(PowerGuard { switch, id })
    }

    /// The guarded switch (clones share it).
    pub fn switch(&self) -> SharedSwitch {
        self.switch.clone()
    }

    /// Turns power on now.
    pub fn restore(&self) -> RigResult<()> {
        self.switch.clone().set_power(true)
    }
}

impl Drop for PowerGuard {
    fn drop(&mut self) {
        if let Err(e) = self.restore() {
            tracing::error!("could not restore the target's power: {e}");
        }
        guards().retain(|(id, _)| *id != self.id);
    }
}
