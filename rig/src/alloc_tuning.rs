//! How the `cutpoint` process keeps the memory it frees. Each recovery of the simulated board
//! allocates flash-sized buffers (a dump of the slots, up to a few MiB) and frees them a cut
//! later. mimalloc by default returns freed pages to the kernel a second later ("purging"); the
//! next cut's buffer then faults fresh pages in, which the kernel zeroes, 2 MiB at a time where
//! transparent huge pages are on. On the exhaustive campaign that was a third of the process's
//! CPU time (system time 0.45 s of 1.2 s). Keeping freed pages instead costs no peak memory:
//! the pages are reused by the next cut.

use std::ffi::c_long;

// Links mimalloc, whose functions these are, into every binary of this crate.
use mimalloc as _;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same position in its v2 and v3
/// headers): how long freed memory waits before it goes back to the kernel, in ms; -1: never.
const MI_OPTION_PURGE_DELAY: i32 = 15;
/// mimalloc's defaults for that option: 1000 ms in mimalloc 3 (the version linked today),
/// 10 ms in mimalloc 2.
const DEFAULT_PURGE_DELAYS: [c_long; 2] = [1000, 10];

extern "C" {
    fn mi_option_get(option: i32) -> c_long;
    fn mi_option_set(option: i32, value: c_long);
}

/// Faults the process's memory in as small pages from now on (Linux), unless
/// `MIMALLOC_ALLOW_THP` says otherwise. mimalloc asks for transparent huge pages, and the
/// kernel zeroes each one whole, 2 MiB, at its first touch: on the exhaustive campaign that was
/// a third of the process's CPU time (system time 0.27 s of 0.75 s) and 100 MiB of peak memory
/// where small pages need 61-65 MiB and 0.05-0.09 s. Returns whether it changed anything.
pub fn small_pages() -> bool {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and touches no memory of ours.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Keeps freed memory in the process unless `MIMALLOC_PURGE_DELAY` says otherwise, and faults
/// it in as small pages ([`small_pages`]). Does nothing to mimalloc when the option at that
/// position does not hold mimalloc's default (another mimalloc version), so it never changes an
/// option it does not know. Returns whether it changed it.
pub fn keep_freed_memory() -> bool {
    small_pages();
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return false;
    }
    // SAFETY: both functions take an option index and read or write a global option; an
    // index out of range is ignored by mimalloc.
    unsafe {
        if !DEFAULT_PURGE_DELAYS.contains(&mi_option_get(MI_OPTION_PURGE_DELAY)) {
            return false;
        }
        mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        mi_option_get(MI_OPTION_PURGE_DELAY) == -1
    }
}

#[cfg(test)]
mod tests {
    /// Fails when the linked mimalloc has another option at that position or another default:
    /// then the constants above need a look.
    #[test]
    fn the_purge_delay_option_is_where_mimalloc_has_it() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        assert!(
            super::keep_freed_memory(),
            "mimalloc's purge delay option was not found"
        );
        // SAFETY: as above.
        assert_eq!(unsafe { super::mi_option_get(super::MI_OPTION_PURGE_DELAY) }, -1);
    }
}
