//! Runs the `cutpoint` binary from the repository's root, for the command-line tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root (where `campaigns/` is).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Exit code, stdout and stderr of `cutpoint args...`.
pub fn cutpoint(args: &[&str]) -> (i32, String, String) {
    cutpoint_in(&root(), args)
}

/// Exit code, stdout and stderr of `cutpoint args...` run in `dir`.
pub fn cutpoint_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run cutpoint");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
