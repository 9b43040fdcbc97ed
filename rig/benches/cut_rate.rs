//! Prints cut points per second for the exhaustive campaign on the simulated nRF52840 board:
//! first the simulated board alone (post-cut state and recovery, on every core), then the whole
//! engine: pass rule and a journal synced before each result is reported, then the reports
//! written from that journal. After each step: the process's peak resident memory (VmHWM), and
//! at the end the bytes and files written.
//!
//! `cargo bench -p cutpoint --bench cut_rate` (optionally with a campaign path as argument;
//! `-- ../campaigns/scale.toml` runs 200,000 cut points; `--engine-only` skips the first step).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use cutpoint::engine::{self, RunSpec};
use cutpoint::setup::sim_setup;
use cutpoint::target::Target;

/// The simulated board allocates and frees a flash image per cut; mimalloc keeps those pages
/// instead of returning them to the kernel each time.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| a.ends_with(".toml"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../campaigns/exhaustive.toml"));
    let engine_only = std::env::args().any(|a| a == "--engine-only");
    let c = cutpoint_campaign::load_campaign(&path).expect("campaign");
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let spec_for = |setup: &cutpoint::setup::SimSetup, out: PathBuf| RunSpec {
        filter: None,
        campaign: &c,
        campaign_path: path.display().to_string(),
        campaign_sha256: c.sha256.clone(),
        out_dir: out,
        partition: None,
        resume: false,
        expect: setup.expect.clone(),
        update_size: setup.update_size,
        seed: c.run.seed,
    };

    println!("campaign: {} on {workers} cores", c.name);
    if !engine_only {
        board_alone(&c, workers, &spec_for);
    }

    // 2. The whole engine: journal synced per cut.
    let setup = sim_setup(&c, workers).expect("setup");
    let out = std::env::temp_dir().join(format!("cutpoint-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let spec = spec_for(&setup, out.clone());
    let t2 = Instant::now();
    let outcome = engine::run(
        &setup.target,
        &spec,
        &mut cutpoint::sink::ignore(),
        &AtomicBool::new(false),
    )
    .expect("run");
    let run_s = t2.elapsed().as_secs_f64();
    let n = outcome.tally.ran();
    println!(
        "engine (pass rule, journal synced before each result is reported): {:.0} cut points/s ({n} in {:.3} s); {}",
        n as f64 / run_s,
        run_s,
        peak_memory()
    );
    drop(setup);

    // 3. The reports, streamed from the journal.
    let t3 = Instant::now();
    let written = cutpoint_report::write_reports_from_journals(
        &out,
        &[&outcome.journal_path],
        &cutpoint_report::ReportOptions::default(),
    )
    .expect("reports");
    println!(
        "reports (junit.xml, summary.md, report.html, {} artifact folders): {:.3} s; {}",
        written.artifact_dirs,
        t3.elapsed().as_secs_f64(),
        peak_memory()
    );
    let (bytes, files) = disk_use(&out);
    println!(
        "written: {:.1} MiB in {files} files (journal {:.1} MiB)",
        bytes as f64 / (1 << 20) as f64,
        std::fs::metadata(&outcome.journal_path).map_or(0, |m| m.len()) as f64 / (1 << 20) as f64
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// The peak resident memory of this process so far (Linux), e.g. `peak memory 192 MiB`.
fn peak_memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    match status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
        Some(kb) => {
            let kib: u64 = kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
            format!("peak memory {} MiB", kib >> 10)
        }
        None => "peak memory unknown".to_owned(),
    }
}

/// Bytes and files under `dir`.
fn disk_use(dir: &std::path::Path) -> (u64, usize) {
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

/// 1. The simulated board alone: post-cut state and recovery of every cut point, no pass rule.
fn board_alone<'c>(
    c: &'c cutpoint_campaign::Campaign,
    workers: usize,
    spec_for: &dyn Fn(&cutpoint::setup::SimSetup, PathBuf) -> RunSpec<'c>,
) {
    let setup = sim_setup(c, workers).expect("setup");
    let rules = engine::recovery_rules(&setup.expect);
    let spec = spec_for(&setup, PathBuf::new());
    let t0 = Instant::now();
    let items = engine::plan(&setup.target, &spec, &rules).expect("plan").items;
    let plan_s = t0.elapsed().as_secs_f64();
    let next = AtomicUsize::new(0);
    let fails = AtomicUsize::new(0);
    let t1 = Instant::now();
    std::thread::scope(|s| {
        for w in 0..workers {
            let (next, fails, items, setup, rules) = (&next, &fails, &items, &setup, &rules);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let chain: Vec<_> = item.chain.iter().collect();
                let obs = setup.target.run_chain(w, &item.id, &chain, rules).expect("run");
                let settled = obs
                    .console
                    .last()
                    .is_some_and(|l| setup.expect.markers.settled.is_match(&l.text));
                if !settled {
                    fails.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let sweep_s = t1.elapsed().as_secs_f64();
    println!("target: {}", setup.target.describe());
    println!("control run + plan: {:.3} s, {} cut points", plan_s, items.len());
    println!(
        "simulated board alone (post-cut state and recovery, no pass rule): {:.0} cut points/s ({} cut points in {:.3} s, {} unsettled); {}",
        items.len() as f64 / sweep_s,
        items.len(),
        sweep_s,
        fails.load(Ordering::Relaxed),
        peak_memory()
    );
}
