//! Results reach the journal in the plan's order, whatever the workers' timing: two runs of one
//! campaign write the same journal, record for record (wall times aside), on one worker or two.

#[path = "support/wrapped_target.rs"]
mod wrapped_target;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use cutpoint::engine::{self, RunSpec};
use cutpoint::setup::sim_setup;
use cutpoint::target::Target;
use cutpoint_report::journal::read_journal;
use wrapped_target::Wrapped;

/// The cut records of the journal in `out`, each line as written with its wall time left out.
fn cut_lines(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    text.lines()
        .filter(|l| l.contains("\"wall_ms\":"))
        .map(|l| {
            let at = l.find("\"wall_ms\":").unwrap();
            let end = l[at + 10..].find([',', '}']).unwrap() + at + 10;
            format!("{}{}", &l[..at], &l[end..])
        })
        .collect()
}

/// Worker 0 slowed on every fifth cut point it runs, so that worker 1 finishes later cut points
/// first: the journal still holds them in the plan's order, `same_state_as` names the first cut
/// point of the plan that left each state and `console_of` the same records, as on one worker.
#[test]
fn results_reach_the_journal_in_the_plans_order_whatever_finishes_first() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../campaigns/exhaustive.toml");
    let c = cutpoint_campaign::load_campaign(&path).expect("exhaustive campaign");
    let setup = sim_setup(&c, 2).expect("setup");
    let run = |target: &dyn Target, name: &str| -> PathBuf {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::remove_dir_all(&out);
        let spec = RunSpec {
            filter: None,
            campaign: &c,
            campaign_path: path.display().to_string(),
            campaign_sha256: c.sha256.clone(),
            out_dir: out.clone(),
            partition: None,
            resume: false,
            expect: setup.expect.clone(),
            update_size: setup.update_size,
            seed: c.run.seed,
        };
        let cancel = AtomicBool::new(false);
        let outcome = engine::run(target, &spec, &mut cutpoint::sink::ignore(), &cancel).expect("run");
        assert!(!outcome.cancelled);
        out
    };
    let one = run(&Wrapped::new(&setup.target), "cutpoint-order-one");

    let finished = Mutex::new(Vec::new());
    let slowed = Wrapped::new(&setup.target)
        .with_workers(2)
        .on_run_chain(|inner, worker, id, chain, rules| {
            let obs = inner.run_chain(worker, id, chain, rules);
            let mut f = finished.lock().unwrap();
            if worker == 0 && f.len() % 5 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            f.push(id.to_string());
            obs
        });
    let two = run(&slowed, "cutpoint-order-two");
    drop(slowed);

    let planned: Vec<String> = read_journal(&two.join("results.jsonl"))
        .unwrap()
        .header
        .planned
        .iter()
        .map(|p| p.id.clone())
        .collect();
    let finished = finished.into_inner().unwrap();
    assert_eq!(finished.len(), planned.len());
    assert_ne!(
        finished, planned,
        "the workers finished cut points out of the plan's order"
    );

    let journal = read_journal(&two.join("results.jsonl")).unwrap();
    let ids: Vec<String> = journal.cuts.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, planned, "records in the plan's order");
    assert!(
        journal.cuts.iter().filter(|c| c.same_state_as.is_some()).count() > 100,
        "many cut points share a post-cut state"
    );
    let (a, b) = (cut_lines(&one), cut_lines(&two));
    assert_eq!(a.len(), planned.len());
    for (n, (a, b)) in a.iter().zip(&b).enumerate() {
        assert_eq!(a, b, "record {n}");
    }
    assert_eq!(a.len(), b.len());
}
