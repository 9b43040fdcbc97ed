//! One user of a bench at a time, across processes: whoever drives a station (a `cutpoint
//! run`, or the lab daemon's run on it) holds an exclusive lock on a file named after the
//! station file, so a manual run on the lab machine sees the daemon's run (and the other way
//! round) instead of fighting it for the relay. The OS drops the lock when the process ends,
//! however it ends: never a stale lock. The lock itself is the engine's (`run_lock::lock_file`),
//! the one a report directory's writer takes.

use std::fs::File;
use std::path::{Path, PathBuf};

use cutpoint_engine::run_lock::{lock_file, FileLockError};

use sha2::{Digest, Sha256};

/// The folder of the lock files, when not the system's temporary folder.
pub const LOCK_DIR_ENV: &str = "CUTPOINT_LOCK_DIR";

/// Held while a process drives a station; dropping it releases the bench.
#[derive(Debug)]
pub struct StationLock {
    _file: File,
}

#[derive(Debug)]
pub enum StationLockError {
    /// Another process drives the bench.
    Busy {
        station: String,
        holder: String,
    },
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl std::fmt::Display for StationLockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StationLockError::Busy { station, holder } => write!(
                f,
                "{station}: this bench is in use by {holder}; wait for it to finish, or, on a lab daemon's \
                 bench, take it with `cutpoint lease` (the daemon then starts no run on it)"
            ),
            StationLockError::Io { path, source } => write!(f, "{path}: cannot lock the bench: {source}"),
        }
    }
}

impl std::error::Error for StationLockError {}

impl StationLockError {
    /// A bench in use is not the rig failing, nor the device: the run was asked at the wrong
    /// time (bad input, as a report directory another run writes). A lock that cannot be
    /// taken at all is the machine's failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            StationLockError::Busy { .. } => crate::exit::BAD_INPUT,
            StationLockError::Io { .. } => crate::exit::RIG_ERROR,
        }
    }
}

/// The lock file of `station` in `dir`: named by the hash of the station file's full path.
pub fn lock_path_in(dir: &Path, station: &Path) -> PathBuf {
    let full = std::fs::canonicalize(station).unwrap_or_else(|_| station.to_path_buf());
    let hash = hex::encode(Sha256::digest(full.to_string_lossy().as_bytes()));
    dir.join(format!("cutpoint-station-{}.lock", &hash[..16]))
}

/// The folder of the lock files: `CUTPOINT_LOCK_DIR`, else the temporary folder.
pub fn lock_dir() -> PathBuf {
    std::env::var_os(LOCK_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map_or_else(std::env::temp_dir, PathBuf::from)
}

impl StationLock {
    /// Locks `station` for `who` (shown to whoever finds it taken).
    pub fn acquire(station: &Path, who: &str) -> Result<StationLock, StationLockError> {
        Self::acquire_in(&lock_dir(), station, who)
    }

    pub fn acquire_in(dir: &Path, station: &Path, who: &str) -> Result<StationLock, StationLockError> {
        let path = lock_path_in(dir, station);
        match lock_file(&path, &format!("{who} (process {})", std::process::id())) {
            Ok(file) => Ok(StationLock { _file: file }),
            Err(FileLockError::Busy { holder }) => Err(StationLockError::Busy {
                station: station.display().to_string(),
                holder: if holder.is_empty() {
                    "another cutpoint process".into()
                } else {
                    holder
                },
            }),
            Err(FileLockError::Io(source)) => Err(StationLockError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}
