//! Prints cut points per second for the exhaustive campaign on the simulated nRF52840 board:
//! first the simulated board alone (post-cut state and recovery, on every core), then the whole
//! engine: pass rule and a journal synced before each result is reported.
//!
//! `cargo bench -p cutpoint --bench cut_rate` (optionally with a campaign path as argument).

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

    // 1. The simulated board alone.
    let setup = sim_setup(&c, workers).expect("setup");
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
    println!("campaign: {} ({} on {workers} cores)", c.name, setup.target.describe());
    println!("control run + plan: {:.3} s, {} cut points", plan_s, items.len());
    println!(
        "simulated board alone (post-cut state and recovery, no pass rule): {:.0} cut points/s ({} cut points in {:.3} s, {} unsettled)",
        items.len() as f64 / sweep_s,
        items.len(),
        sweep_s,
        fails.load(Ordering::Relaxed)
    );

    // 2. The whole engine: journal synced per cut, artifacts, reports.
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
        "engine (pass rule, journal synced before each result is reported): {:.0} cut points/s ({n} in {:.3} s)",
        n as f64 / run_s,
        run_s
    );
    let _ = std::fs::remove_dir_all(&out);
}
