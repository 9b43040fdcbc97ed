//! Durable file writes: a report or artifact is either the old file or the complete new one,
//! never half of each, even if the lab Pi loses power while writing it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// An I/O failure together with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct PathError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl PathError {
    pub fn new(path: &Path, source: io::Error) -> Self {
        PathError {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Creates `dir` and its parents when missing.
pub fn create_dir_all(dir: &Path) -> Result<(), PathError> {
    fs::create_dir_all(dir).map_err(|e| PathError::new(dir, e))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, syncs it and renames it
/// into place, then syncs the directory so the new name survives a power loss too.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PathError> {
    write_atomic_with(path, |w| w.write_all(bytes)).map_err(|e| match e {
        AtomicError::Io(e) => e,
        AtomicError::Write(e) => PathError::new(path, e),
    })
}

/// What went wrong in [`write_atomic_with`]: the file system, or the writer's own work.
#[derive(Debug)]
pub enum AtomicError<E> {
    Io(PathError),
    /// `write` failed; the temporary file is gone and `path` was left as it was.
    Write(E),
}

/// Like [`write_atomic`], with the contents streamed by `write` into a buffered writer, so a
/// large file is never held in memory. An I/O error of `write` (`E: From<io::Error>`) is
/// reported by the caller's own error type.
pub fn write_atomic_with<E: From<io::Error>>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
) -> Result<(), AtomicError<E>> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| AtomicError::Io(PathError::new(&tmp, e)))?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        write(&mut out).map_err(AtomicError::Write)?;
        let file = out
            .into_inner()
            .map_err(|e| AtomicError::Io(PathError::new(&tmp, e.into_error())))?;
        file.sync_all().map_err(|e| AtomicError::Io(PathError::new(&tmp, e)))?;
        drop(file);
        fs::rename(&tmp, path).map_err(|e| AtomicError::Io(PathError::new(path, e)))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir).map_err(AtomicError::Io)
}

/// Bytes buffered before a streamed file is written out.
const WRITE_BUFFER: usize = 256 * 1024;

/// Makes the directory entries of `dir` durable (a new or renamed file in it).
/// Directories cannot be opened for syncing on every platform; there it is a no-op.
pub fn sync_dir(dir: &Path) -> Result<(), PathError> {
    #[cfg(unix)]
    {
        let handle = File::open(dir).map_err(|e| PathError::new(dir, e))?;
        handle.sync_all().map_err(|e| PathError::new(dir, e))?;
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn atomic_write_error_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("x.txt");
        let err = write_atomic(&path, b"x").unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }
}
