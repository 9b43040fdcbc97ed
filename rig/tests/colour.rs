//! Log lines (probe-rs and backend warnings) carry no colour codes when stderr is not a terminal.

#[path = "support/cli.rs"]
mod cli;

use std::process::Command;

#[test]
fn a_warning_on_a_piped_stderr_has_no_escape_codes() {
    let dir = tempfile::tempdir().unwrap();
    let station = dir.path().join("station.toml");
    // A console named /dev/ttyUSB9: the serial backend warns that the name is not stable.
    std::fs::write(
        &station,
        "[power]\nkind = \"command\"\non = [\"true\"]\noff = [\"true\"]\n[console]\nkind = \"serial\"\n\
         port = \"/dev/ttyUSB9\"\nbaud = 115200\n[transport]\nkind = \"http\"\nbind = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args(["doctor", station.to_str().unwrap()])
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .output()
        .expect("run cutpoint");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WARN"), "the warning is logged: {stderr}");
    assert!(stderr.contains("not a stable name"), "{stderr}");
    assert!(!out.stderr.contains(&0x1b), "escape codes in piped output: {stderr:?}");
}
