//! systemd's notify protocol (`Type=notify`): readiness once the daemon serves, the watchdog
//! while it is alive, and the stop. Without systemd (no `NOTIFY_SOCKET`) each is a no-op.

use std::time::Duration;

/// Tells systemd the daemon is ready, with a status line.
pub fn ready(status: &str) {
    #[cfg(unix)]
    {
        let _ = sd_notify::notify(
            false,
            &[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(status)],
        );
    }
    #[cfg(not(unix))]
    let _ = status;
}

/// How often to feed the watchdog (half its timeout), when systemd set one.
pub fn watchdog_interval() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut usec = 0u64;
        if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
            return Some(Duration::from_micros(usec / 2));
        }
    }
    None
}

pub fn watchdog() {
    #[cfg(unix)]
    {
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
    }
}

/// Tells systemd the daemon is stopping (the cuts in flight finish and are journaled).
pub fn stopping() {
    #[cfg(unix)]
    {
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    }
}
