//! The files a campaign reads besides itself (its station file, image files and public key),
//! each with the SHA-256 of its bytes as loaded, so a resumed or merged run can tell that one
//! of them changed since the run started.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::model::{Campaign, ImageSource, TargetKind};

/// One file a campaign reads, named by the key that gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The campaign key that names the file: `target.station`, `images.baseline.file`,
    /// `images.update.file` or `images.public_key`.
    pub key: &'static str,
    /// The path as resolved against the campaign file's folder.
    pub path: PathBuf,
    /// SHA-256 (hex) of the file's bytes when the campaign was loaded.
    pub sha256: String,
}

/// The files `c` reads, in key order, without their hashes.
pub(crate) fn input_paths(c: &Campaign) -> Vec<(&'static str, PathBuf)> {
    let mut out = Vec::new();
    if let TargetKind::Station { path, .. } = &c.target.kind {
        out.push(("target.station", path.clone()));
    }
    for (key, source) in [
        ("images.baseline.file", &c.images.baseline),
        ("images.update.file", &c.images.update),
    ] {
        if let ImageSource::File { path, .. } = source {
            out.push((key, path.clone()));
        }
    }
    if let Some(key) = &c.images.public_key {
        out.push(("images.public_key", key.clone()));
    }
    out
}

/// SHA-256 (hex) of the regular file at `path`, read in pieces (a FIFO or a device is refused,
/// as the loader refuses it as an image).
pub(crate) fn file_sha256(path: &Path) -> Result<String, String> {
    let (mut file, _) = crate::image_file::open_regular(path).map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read it: {e}")),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The files `c` reads with their hashes; the key and why of the first that cannot be read.
pub(crate) fn hash_inputs(c: &Campaign) -> Result<Vec<InputFile>, (&'static str, String)> {
    input_paths(c)
        .into_iter()
        .map(|(key, path)| match file_sha256(&path) {
            Ok(sha256) => Ok(InputFile { key, path, sha256 }),
            Err(e) => Err((key, format!("\"{}\": {e}", path.display()))),
        })
        .collect()
}
