//! What a user waits for, and where it goes. For each campaign (by default the exhaustive
//! campaign, the double-cut campaign and the 1 MiB exhaustive campaign, then the exhaustive and
//! 1 MiB exhaustive campaigns of swap-move and swap-offset, an overwrite campaign, the
//! STM32F4 swap-scratch campaign of campaigns/profiles/, and a swap-move of 940 KiB images on
//! the two-device nRF52840 DK board, the secondary slot on its QSPI NOR):
//!
//! 1. the whole `cutpoint run` process (the release binary, spawned, reports included): its CPU
//!    time (user + system, from the kernel's resource usage of the child), CPU per cut, cut
//!    points per CPU second, wall time, peak resident memory, and the bytes it left in its
//!    report directory;
//! 2. the same run in this process, stage by stage: planning (control run and expansion), board
//!    (the rig's side of post-cut states and recoveries), device (the simulated firmware and
//!    flash running from each power-on: the device's own work), pass rule (decode and judge),
//!    journal (append and sync), artifacts (dumps of failing cuts), then reports (junit,
//!    summary, html from the journal): the CPU time of the threads doing each stage, CPU per
//!    cut, and the peak memory and bytes written of the cut loop and of the reports; and last
//!    the rig alone (all but the device) per cut.
//!
//! Figures are printed, never asserted. `cargo bench -p cutpoint --bench cut_rate` runs all
//! twelve; `-- ../campaigns/scale.toml` (paths from `rig/`) runs the campaigns given instead.
//!
//! Every run ends with the cut points per CPU second of each MCUboot mode on the nRF52840
//! (the exhaustive campaign of swap-scratch, overwrite, swap-move, swap-offset and direct-XIP,
//! whole process). `-- --modes` is the quick form: those five campaigns only, whole process
//! only.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use cutpoint::engine::{self, RunSpec};
use cutpoint::setup::sim_setup;
use cutpoint::stages::{thread_cpu_ns, Stage};

/// As in the `cutpoint` binary: the board allocates and frees flash images per cut.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One exhaustive campaign per MCUboot mode on the nRF52840: `(mode, campaign)`.
const MODE_CAMPAIGNS: [(&str, &str); 5] = [
    ("swap-scratch", "exhaustive.toml"),
    ("overwrite", "overwrite/exhaustive.toml"),
    ("swap-move", "swap-move/exhaustive.toml"),
    ("swap-offset", "swap-offset/exhaustive.toml"),
    ("direct-xip", "direct-xip/exhaustive.toml"),
];

const DEFAULT_CAMPAIGNS: [&str; 12] = [
    "exhaustive.toml",
    "double-cuts.toml",
    "exhaustive-1mib.toml",
    "swap-move/exhaustive.toml",
    "swap-move/exhaustive-1mib.toml",
    "swap-offset/exhaustive.toml",
    "swap-offset/exhaustive-1mib.toml",
    // Overwrite on the nRF52840, and a swap of 128 KiB sectors through a scratch area of mixed
    // 16 and 64 KiB sectors (the STM32F4).
    "metadata-overwrite.toml",
    "profiles/stm32f4-swap-scratch.toml",
    "overwrite/exhaustive.toml",
    "direct-xip/exhaustive.toml",
    // The largest swap the two-device board has room for: 940 KiB images, the primary in the
    // nRF52840's own flash, the secondary on the MX25R6435F.
    "nrf52840-qspi/swap-move-exhaustive-large.toml",
];

fn main() {
    cutpoint::alloc_tuning::keep_freed_memory();
    let args: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| a.ends_with(".toml"))
        .map(PathBuf::from)
        .collect();
    let quick = std::env::args().any(|a| a == "--modes");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../campaigns");
    let campaigns = if quick {
        MODE_CAMPAIGNS.iter().map(|(_, c)| dir.join(c)).collect()
    } else if args.is_empty() {
        DEFAULT_CAMPAIGNS.iter().map(|c| dir.join(c)).collect()
    } else {
        args
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("cutpoint cut rate on {workers} cores (CPU = user + system time; figures, not assertions)");
    let loaded: Vec<_> = campaigns
        .iter()
        .filter_map(|path| match cutpoint_campaign::load_campaign(path) {
            Ok(c) => Some((c, path)),
            Err(e) => {
                println!("\n{}: cannot load: {e:?}", path.display());
                None
            }
        })
        .collect();
    // Every child first, while this process is small: a child's peak memory as the kernel
    // counts it starts from this process's resident size at the fork, so a child spawned after
    // the in-process runs below would report this process's memory as its own.
    let mut rates = Vec::new();
    for (c, path) in &loaded {
        println!("\n== {} ({})", c.name, path.display());
        if let Some(r) = whole_process(path) {
            rates.push((path.as_path(), r));
        }
    }
    if !quick {
        println!("\n-- the same campaigns stage by stage, in this process --");
        for (c, path) in &loaded {
            println!("\n== {} ({})", c.name, path.display());
            stages(c, path, workers);
        }
    }
    print_modes(&dir, &rates);
}

/// The cut rate of each MCUboot mode on the nRF52840, from the whole-process runs of
/// [`MODE_CAMPAIGNS`] among those measured.
fn print_modes(dir: &Path, rates: &[(&Path, (usize, Duration))]) {
    let rows: Vec<_> = MODE_CAMPAIGNS
        .iter()
        .filter_map(|(mode, c)| {
            let want = dir.join(c);
            let (_, (cuts, cpu)) = rates.iter().find(|(p, _)| **p == want)?;
            Some((*mode, *c, *cuts, *cpu))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    println!("\n-- cut points per CPU second by MCUboot mode, nRF52840, whole process --");
    println!("| mode | campaign | cut points | CPU | per CPU second | CPU per cut |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (mode, c, cuts, cpu) in rows {
        println!(
            "| {mode} | {c} | {cuts} | {:.2} s | {} | {:.3} ms |",
            cpu.as_secs_f64(),
            rate(cuts, cpu),
            per_cut_ms(cpu, cuts)
        );
    }
}

/// 1. The release binary, as a user runs it.
///
/// Gives its cut points and CPU time, when the kernel gave its resource usage.
fn whole_process(path: &Path) -> Option<(usize, Duration)> {
    let out = scratch_dir("process");
    let started = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cutpoint"))
        .arg("run")
        .arg(path)
        .arg("--out")
        .arg(&out)
        .args(["--message-format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            println!("whole process: cannot start cutpoint: {e}");
            return None;
        }
    };
    // Read stdout while the child runs, then reap it with its resource usage.
    let stdout = child.stdout.take().map(|mut s| {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut text);
        text
    });
    let usage = reap(&mut child);
    let wall = started.elapsed();
    let cuts = stdout
        .as_deref()
        .unwrap_or("")
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"cut\"") || l.contains("\"type\":\"cut\""))
        .count();
    let (bytes, files) = disk_use(&out);
    match &usage {
        Some(u) => {
            println!(
                "whole process: {cuts} cut points, CPU {:.2} s ({:.3} ms per cut, {:.0} cut points per CPU second), wall {:.2} s, peak memory {} MiB, exit {}",
                u.cpu.as_secs_f64(),
                per_cut_ms(u.cpu, cuts),
                per_cpu_s(cuts, u.cpu),
                wall.as_secs_f64(),
                u.max_rss_kib >> 10,
                u.exit
            );
        }
        None => println!(
            "whole process: {cuts} cut points, wall {:.2} s (no resource usage)",
            wall.as_secs_f64()
        ),
    }
    println!("  written: {:.1} MiB in {files} files", mib(bytes));
    let _ = std::fs::remove_dir_all(&out);
    usage.map(|u| (cuts, u.cpu))
}

/// 2. The same run in this process, CPU per stage.
fn stages(c: &cutpoint_campaign::Campaign, path: &Path, workers: usize) {
    let setup = match sim_setup(c, workers) {
        Ok(s) => s,
        Err(e) => {
            println!("stages: setup: {e}");
            return;
        }
    };
    let out = scratch_dir("stages");
    let spec = RunSpec {
        filter: None,
        campaign: c,
        campaign_path: path.display().to_string(),
        campaign_sha256: c.sha256.clone(),
        out_dir: out.clone(),
        partition: None,
        resume: false,
        expect: setup.expect.clone(),
        update_size: setup.update_size,
        seed: c.run.seed,
    };
    reset_peak_memory();
    let cpu0 = process_cpu();
    let outcome = match engine::run(
        &setup.target,
        &spec,
        &mut cutpoint::sink::ignore(),
        &AtomicBool::new(false),
    ) {
        Ok(o) => o,
        Err(e) => {
            println!("stages: run: {e}");
            return;
        }
    };
    let run_cpu = process_cpu().saturating_sub(cpu0);
    let run_peak = peak_memory_mib();
    let n = outcome.tally.ran();
    drop(setup);
    println!("stages ({n} cut points, CPU of the threads doing each):");
    let mut covered = Duration::ZERO;
    for s in Stage::ALL {
        let t = outcome.stages.get(s);
        covered += t;
        println!(
            "  {:<10} CPU {:>8.3} s  {:>8.4} ms per cut  {:>10} cut points per CPU second",
            s.name(),
            t.as_secs_f64(),
            per_cut_ms(t, n),
            rate(n, t)
        );
    }
    println!(
        "  cut loop: CPU {:.2} s ({:.0} cut points per CPU second; {:.2} s in no stage: threads, channels, allocation), peak memory {run_peak} MiB, journal {:.1} MiB, artifacts {:.1} MiB",
        run_cpu.as_secs_f64(),
        per_cpu_s(n, run_cpu),
        run_cpu.saturating_sub(covered).as_secs_f64(),
        mib(std::fs::metadata(&outcome.journal_path).map_or(0, |m| m.len())),
        mib(disk_use(&out.join("cuts")).0)
    );

    reset_peak_memory();
    let before = disk_use(&out).0;
    let t0 = thread_cpu_ns();
    let cpu0 = process_cpu();
    let written = cutpoint_report::write_reports_from_journals(
        &out,
        &[&outcome.journal_path],
        &cutpoint_report::ReportOptions::default(),
    );
    let report_cpu = process_cpu().saturating_sub(cpu0);
    let report_thread = Duration::from_nanos(thread_cpu_ns().saturating_sub(t0));
    match written {
        Ok(_) => println!(
            "  {:<10} CPU {:>8.3} s  {:>8.4} ms per cut  {:>10.0} cut points per CPU second (this thread {:.3} s), peak memory {} MiB, written {:.1} MiB",
            "reports",
            report_cpu.as_secs_f64(),
            per_cut_ms(report_cpu, n),
            per_cpu_s(n, report_cpu),
            report_thread.as_secs_f64(),
            peak_memory_mib(),
            mib(disk_use(&out).0.saturating_sub(before))
        ),
        Err(e) => println!("  reports: {e}"),
    }
    let total = run_cpu + report_cpu;
    println!(
        "  in all: CPU {:.2} s, {:.3} ms per cut, {:.0} cut points per CPU second",
        total.as_secs_f64(),
        per_cut_ms(total, n),
        per_cpu_s(n, total)
    );
    // What grows with the image by nature: the device's own runs (resumed swaps copy what is
    // left of the image). The rest is the rig's.
    let device = outcome.stages.get(Stage::Device);
    let rig = total.saturating_sub(device);
    println!(
        "  the rig alone (all but the device): CPU {:.2} s, {:.3} ms per cut; the device: {:.3} ms per cut",
        rig.as_secs_f64(),
        per_cut_ms(rig, n),
        per_cut_ms(device, n)
    );
    let _ = std::fs::remove_dir_all(&out);
}

fn per_cut_ms(t: Duration, n: usize) -> f64 {
    t.as_secs_f64() * 1e3 / n.max(1) as f64
}

fn per_cpu_s(n: usize, t: Duration) -> f64 {
    n as f64 / t.as_secs_f64().max(1e-9)
}

/// `per_cpu_s` for a line of the table: a stage that took no measurable CPU has no rate.
fn rate(n: usize, t: Duration) -> String {
    if t < Duration::from_micros(1) {
        "-".to_string()
    } else {
        format!("{:.0}", per_cpu_s(n, t))
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

fn scratch_dir(what: &str) -> PathBuf {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cutpoint-bench-{what}"));
    let _ = std::fs::remove_dir_all(&out);
    out
}

/// What the kernel counted for a reaped child.
struct Usage {
    cpu: Duration,
    max_rss_kib: u64,
    exit: i32,
}

#[cfg(target_os = "linux")]
fn reap(child: &mut std::process::Child) -> Option<Usage> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 writes it and the status for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: `status` and `ru` are valid and writable; `pid` is a child not yet reaped.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    if rc != pid {
        let _ = child.wait();
        return None;
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    Some(Usage {
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        max_rss_kib: ru.ru_maxrss as u64,
        exit: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
    })
}

#[cfg(not(target_os = "linux"))]
fn reap(child: &mut std::process::Child) -> Option<Usage> {
    let _ = child.wait();
    None
}

/// User + system CPU time of this process so far.
#[cfg(target_os = "linux")]
fn process_cpu() -> Duration {
    // SAFETY: an all-zero rusage is valid; getrusage writes it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid and writable.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(not(target_os = "linux"))]
fn process_cpu() -> Duration {
    Duration::ZERO
}

/// Starts a new peak-memory window (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident memory of this process since the last reset, in MiB (0 when unknown).
fn peak_memory_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib >> 10)
}

/// Bytes and files under `dir`.
fn disk_use(dir: &Path) -> (u64, usize) {
    let (mut bytes, mut files) = (0, 0);
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => todo.push(entry.path()),
                Ok(m) => {
                    bytes += m.len();
                    files += 1;
                }
                Err(_) => {}
            }
        }
    }
    (bytes, files)
}
