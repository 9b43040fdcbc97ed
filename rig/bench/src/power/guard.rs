//! Leaves the target powered whatever happens to the rig: when the guard is dropped, and when
//! the process gets SIGINT, SIGTERM or SIGHUP.
//!
//! One signal thread serves every guard of the process. On a signal it turns every guarded
//! switch on, then lets the signal take its default effect (the process ends as it would have).
//!
//! A long run asks for a graceful first signal with [`stop_gracefully`]: the first signal only
//! raises the run's cancel flag (the cuts in flight finish and are journaled); the second one
//! restores power at once and ends the process with the run's exit code.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::shared::SharedSwitch;
use cutpoint_core::{PowerSwitch, RigError, RigResult};

type WeakSwitch = Weak<Mutex<Box<dyn PowerSwitch>>>;

static GUARDS: Mutex<Vec<(u64, WeakSwitch)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static SIGNAL_THREAD: OnceLock<Result<(), String>> = OnceLock::new();
/// The cancel flag a first signal raises, and the exit code of a second signal.
static GRACEFUL: Mutex<Option<(Arc<AtomicBool>, i32, String)>> = Mutex::new(None);

/// Makes the first SIGINT/SIGTERM/SIGHUP raise `cancel` instead of ending the process; a
/// second one (or a first one while `cancel` is already raised) restores every guarded
/// switch and exits with `exit_code` at once, printing `farewell` (how to resume).
pub fn stop_gracefully(cancel: Arc<AtomicBool>, exit_code: i32, farewell: String) -> RigResult<()> {
    install_signal_thread()?;
    *GRACEFUL.lock().unwrap_or_else(|p| p.into_inner()) = Some((cancel, exit_code, farewell));
    Ok(())
}

/// What a signal does now: `Some(flag)` to raise when the first signal should only cancel.
fn on_signal() -> Result<Arc<AtomicBool>, Option<(i32, String)>> {
    match GRACEFUL.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        Some((flag, code, farewell)) if flag.load(Ordering::SeqCst) => Err(Some((*code, farewell.clone()))),
        Some((flag, _, _)) => Ok(Arc::clone(flag)),
        None => Err(None),
    }
}

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
                for sig in signals.forever() {
                    let code = match on_signal() {
                        Ok(flag) => {
                            flag.store(true, Ordering::SeqCst);
                            eprintln!(
                                "cutpoint: stopping after the cut points in flight (interrupt again to stop at once)"
                            );
                            continue;
                        }
                        Err(code) => code,
                    };
                    restore_all();
                    if let Some((code, farewell)) = code {
                        eprintln!("cutpoint: stopped at once; power restored. {farewell}");
                        std::process::exit(code);
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_only_cancels_and_the_second_stops_with_the_run_code() {
        // Before a run asks for a graceful stop, a signal ends the process at once.
        assert!(matches!(on_signal(), Err(None)));
        let cancel = Arc::new(AtomicBool::new(false));
        stop_gracefully(
            Arc::clone(&cancel),
            4,
            "Resume with: cutpoint run c.toml --resume d".into(),
        )
        .unwrap();
        let flag = on_signal().expect("the first signal raises the cancel flag");
        flag.store(true, Ordering::SeqCst);
        assert!(cancel.load(Ordering::SeqCst));
        match on_signal() {
            Err(Some((code, farewell))) => {
                assert_eq!(code, 4);
                assert!(farewell.contains("--resume"), "{farewell}");
            }
            other => panic!("the second signal must stop at once: {:?}", other.map(|_| ())),
        }
        *GRACEFUL.lock().unwrap() = None;
    }
}
