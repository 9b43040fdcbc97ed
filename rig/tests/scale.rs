//! A campaign of 200,000 cut points (`campaigns/scale.toml`) runs on the simulated board in
//! bounded memory and still produces its reports: the engine keeps no results, the per-state
//! caches are bounded, and the reports stream from the journal.
//!
//! It takes about a minute on a 2-core machine (more when busy) and writes about 600 MB, so it
//! only runs when asked: `cargo test -p cutpoint --test scale -- --ignored`.

#[path = "support/cli.rs"]
mod cli;

use std::process::Command;

/// The peak memory the campaign may take: the goal is a million cut points in 1 GiB.
const LIMIT_BYTES: u64 = 1 << 30;

/// The largest peak resident memory of the children this process waited for, in bytes.
#[cfg(target_os = "linux")]
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage
    };
    // Linux counts ru_maxrss in KiB.
    u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024
}

#[cfg(target_os = "linux")]
#[test]
#[ignore = "200,000 cut points: about a minute, 600 MB on disk"]
fn two_hundred_thousand_cut_points_run_in_bounded_memory() {
    let out = std::env::temp_dir().join(format!("cutpoint-scale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .args(["run", "campaigns/scale.toml", "--out", out.to_str().unwrap()])
        .current_dir(cli::root())
        .output()
        .expect("run cutpoint");
    let peak = children_peak_rss();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("200000 passed, 0 failed"),
        "{stderr}"
    );
    println!("peak resident memory: {} MiB", peak >> 20);
    assert!(
        peak > 0 && peak < LIMIT_BYTES,
        "peak resident memory {} MiB",
        peak >> 20
    );

    let mut bytes = 0;
    for name in ["results.jsonl", "junit.xml", "summary.md", "report.html"] {
        let len = std::fs::metadata(out.join(name)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{name} written");
        bytes += len;
    }
    println!("reports and journal: {} MiB", bytes >> 20);
    let junit = std::fs::File::open(out.join("junit.xml")).unwrap();
    let head: String = std::io::BufRead::lines(std::io::BufReader::new(junit))
        .take(3)
        .map(Result::unwrap)
        .collect();
    assert!(head.contains(" tests=\"200000\" failures=\"0\" errors=\"0\""), "{head}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("This campaign has 200000 cut points"), "the overview");
    assert!(html.len() < 16 << 20, "report.html: {} bytes", html.len());
    assert!(!out.join("cuts").exists(), "no artifact folder for passing cut points");
    let _ = std::fs::remove_dir_all(&out);
}
