//! One writer per report directory: a run holds an exclusive lock on `DIR/.lock` for as long
//! as it writes there. The OS releases the lock when the process ends, however it ends, so a
//! run killed with -9 never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The name of the lock file inside a report directory.
pub const LOCK_FILE: &str = ".lock";

/// Held while a run writes its report directory; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{dir}: another cutpoint run is writing to this directory{holder}; wait for it to finish, \
         or give another directory with --out"
    )]
    Busy { dir: String, holder: String },
    #[error("{path}: cannot lock the report directory: {source}")]
    Io { path: String, source: std::io::Error },
}

impl LockError {
    /// A report directory that another run holds is the user's mistake (bad input); one that
    /// cannot be created or locked is the machine's (a rig error).
    pub fn exit_code(&self) -> i32 {
        match self {
            LockError::Busy { .. } => crate::exit::BAD_INPUT,
            LockError::Io { .. } => crate::exit::RIG_ERROR,
        }
    }
}

/// Why an exclusive file lock could not be taken.
#[derive(Debug)]
pub enum FileLockError {
    /// Another process holds it; `holder` is the note it left in the file (may be empty).
    Busy {
        holder: String,
    },
    Io(std::io::Error),
}

/// Takes an exclusive lock on the file at `path` (created if missing) without waiting, and
/// leaves `note` in it for whoever finds it taken. The lock lasts as long as the returned file
/// is open; the OS drops it when the process ends, however it ends: never a stale lock.
pub fn lock_file(path: &Path, note: &str) -> Result<File, FileLockError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(FileLockError::Io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(FileLockError::Busy {
                holder: holder.trim().to_string(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(FileLockError::Io(e)),
    }
    file.set_len(0).map_err(FileLockError::Io)?;
    file.seek(SeekFrom::Start(0)).map_err(FileLockError::Io)?;
    writeln!(file, "{note}").map_err(FileLockError::Io)?;
    file.flush().map_err(FileLockError::Io)?;
    Ok(file)
}

impl RunLock {
    /// Creates `dir` if needed and locks it, or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        match lock_file(&path, &std::process::id().to_string()) {
            Ok(file) => Ok(RunLock { _file: file, path }),
            Err(FileLockError::Busy { holder }) => Err(LockError::Busy {
                dir: dir.display().to_string(),
                holder: if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (process {holder})")
                },
            }),
            Err(FileLockError::Io(e)) => Err(io(e)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }), "{err}");
        assert!(err.to_string().contains(&std::process::id().to_string()), "{err}");
        drop(first);
        RunLock::acquire(dir.path()).unwrap();
    }
}
