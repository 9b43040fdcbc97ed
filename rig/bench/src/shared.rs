//! Backends shared between threads: the engine, the cut trigger and the power guard all
//! switch the same relay; the probe transport and the engine use the same probe.

use std::sync::{Arc, Mutex, MutexGuard};

use cutpoint_core::{PowerSwitch, Probe, RigResult};

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A backend that panicked while locked leaves nothing half-done that matters more than
    // restoring power, so a poisoned lock is used as is.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A power switch several threads can drive. Implements [`PowerSwitch`] itself.
#[derive(Clone)]
pub struct SharedSwitch {
    inner: Arc<Mutex<Box<dyn PowerSwitch>>>,
    name: Arc<str>,
}

impl SharedSwitch {
    pub fn new(switch: Box<dyn PowerSwitch>) -> Self {
        let name: Arc<str> = switch.describe().into();
        SharedSwitch {
            inner: Arc::new(Mutex::new(switch)),
            name,
        }
    }

    pub(crate) fn downgrade(&self) -> std::sync::Weak<Mutex<Box<dyn PowerSwitch>>> {
        Arc::downgrade(&self.inner)
    }
}

impl PowerSwitch for SharedSwitch {
    fn describe(&self) -> String {
        self.name.to_string()
    }
    fn set_power(&mut self, on: bool) -> RigResult<()> {
        lock(&self.inner).set_power(on)
    }
    fn read_back(&mut self) -> RigResult<Option<bool>> {
        lock(&self.inner).read_back()
    }
    fn sense(&mut self) -> RigResult<Option<bool>> {
        lock(&self.inner).sense()
    }
}

/// A probe several users can drive (the probe-write transport and the engine).
#[derive(Clone)]
pub struct SharedProbe {
    inner: Arc<Mutex<Box<dyn Probe>>>,
    name: Arc<str>,
}

impl SharedProbe {
    pub fn new(probe: Box<dyn Probe>) -> Self {
        let name: Arc<str> = probe.describe().into();
        SharedProbe {
            inner: Arc::new(Mutex::new(probe)),
            name,
        }
    }
}

impl Probe for SharedProbe {
    fn describe(&self) -> String {
        self.name.to_string()
    }
    fn attach(&mut self) -> RigResult<()> {
        lock(&self.inner).attach()
    }
    fn write_flash(&mut self, addr: u32, data: &[u8], progress: &mut dyn FnMut(usize, usize)) -> RigResult<()> {
        lock(&self.inner).write_flash(addr, data, progress)
    }
    fn read_flash(&mut self, addr: u32, len: usize) -> RigResult<Vec<u8>> {
        lock(&self.inner).read_flash(addr, len)
    }
    fn reset(&mut self) -> RigResult<()> {
        lock(&self.inner).reset()
    }
    fn halt(&mut self) -> RigResult<()> {
        lock(&self.inner).halt()
    }
}
