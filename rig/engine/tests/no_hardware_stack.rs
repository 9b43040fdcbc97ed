//! The engine builds without the hardware stack: none of the bench backends' crates is among
//! its normal dependencies, so a daemon or a simulation-only tool can link it alone.

use std::process::Command;

/// Crates of the bench backends (async runtime, HTTP server, debug probe, USB HID, GPIO,
/// serial port, mcumgr) that must stay out of the engine's dependency tree.
const HARDWARE_STACK: &[&str] = &[
    "tokio",
    "axum",
    "tower",
    "tower-http",
    "probe-rs",
    "hidapi",
    "rppal",
    "serialport",
    "mcumgr-toolkit",
];

/// The package names of `cargo tree -p cutpoint-engine -e normal`, one per line.
fn engine_dependencies() -> Vec<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "-p", "cutpoint-engine", "-e", "normal", "--prefix", "none"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p cutpoint-engine failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_engine_depends_on_no_crate_of_the_hardware_stack() {
    let deps = engine_dependencies();
    assert!(
        deps.iter().any(|d| d == "cutpoint-engine") && deps.iter().any(|d| d == "cutpoint-sim"),
        "cargo tree listed no dependency tree: {deps:?}"
    );
    let mut found: Vec<&str> = deps
        .iter()
        .map(String::as_str)
        .filter(|d| HARDWARE_STACK.contains(d))
        .collect();
    found.sort_unstable();
    found.dedup();
    assert!(
        found.is_empty(),
        "cutpoint-engine depends on the hardware stack through {found:?}; `cargo tree -p cutpoint-engine -e normal -i {}` shows the path",
        found[0]
    );
}
