//! A run cancelled part-way (as a lab Pi losing power would leave it) resumes without
//! repeating finished cut points.

#[path = "support/wrapped_target.rs"]
mod wrapped_target;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use cutpoint::engine::{self, RunSpec};
use cutpoint::setup::sim_setup;
use cutpoint::sink::RunEvent;
use cutpoint::target::Target;
use cutpoint_report::journal::read_journal;
use wrapped_target::Wrapped;

/// The simulated target, on one worker, raising `cancel` as its `stop_after`-th cut point
/// finishes: the engine cannot have computed a result past it, however fast it runs.
fn cancelled_part_way<'a>(
    inner: &'a dyn Target,
    stop_after: usize,
    ran: &'a AtomicUsize,
    cancel: &'a AtomicBool,
) -> Wrapped<'a> {
    Wrapped::new(inner).on_run_chain(move |inner, worker, id, chain, rules| {
        let obs = inner.run_chain(worker, id, chain, rules);
        // Only the cut points themselves count toward the stop, not planning runs.
        if ran.fetch_add(1, Ordering::SeqCst) + 1 == stop_after {
            cancel.store(true, Ordering::SeqCst);
        }
        obs
    })
}

#[test]
fn resume_after_a_kill_finishes_without_repeating() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../campaigns/smoke.toml");
    let c = cutpoint_campaign::load_campaign(&path).expect("smoke campaign");
    let setup = sim_setup(&c, 1).expect("setup");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cutpoint-resume");
    let _ = std::fs::remove_dir_all(&out);
    let spec = |resume| RunSpec {
        filter: None,
        campaign: &c,
        campaign_path: path.display().to_string(),
        campaign_sha256: c.sha256.clone(),
        out_dir: out.clone(),
        partition: None,
        resume,
        expect: setup.expect.clone(),
        update_size: setup.update_size,
        seed: c.run.seed,
    };
    let cancel = AtomicBool::new(false);
    let ran = AtomicUsize::new(0);
    let killed = cancelled_part_way(&setup.target, 7, &ran, &cancel);
    let first = engine::run(&killed, &spec(false), &mut cutpoint::sink::ignore(), &cancel).expect("first part");
    assert!(first.cancelled);
    let done_before = read_journal(&out.join("results.jsonl")).unwrap().cuts.len();
    assert_eq!(done_before, 7, "the journal holds exactly the cut points that finished");
    assert!(done_before < first.planned);
    assert_eq!(first.tally.ran(), 7);

    let fresh = AtomicBool::new(false);
    let mut rerun = Vec::new();
    let second = engine::run(
        &setup.target,
        &spec(true),
        &mut |e: &RunEvent| {
            if let RunEvent::CutFinished(c) = e {
                rerun.push(c.id.clone());
            }
        },
        &fresh,
    )
    .expect("resumed part");
    assert!(!second.cancelled);
    let journal = read_journal(&out.join("results.jsonl")).unwrap();
    let ids: Vec<&str> = journal.cuts.iter().map(|c| c.id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no cut point ran twice");
    assert_eq!(
        unique.len(),
        journal.header.planned.len(),
        "every planned cut point ran"
    );
    assert_eq!(rerun.len(), journal.header.planned.len() - done_before);
}

/// Results are synced in groups, and none is reported before it is in the journal: when the
/// sink hears of a finished cut point, its record is already in the file, and at the end every
/// reported result is there exactly once.
#[test]
fn a_result_is_in_the_journal_before_it_is_reported() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../campaigns/smoke.toml");
    let c = cutpoint_campaign::load_campaign(&path).expect("smoke campaign");
    let setup = sim_setup(&c, 2).expect("setup");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cutpoint-synced");
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
    let journal = out.join("results.jsonl");
    let mut reported = Vec::new();
    let cancel = AtomicBool::new(false);
    let run = engine::run(
        &setup.target,
        &spec,
        &mut |e: &RunEvent| {
            if let RunEvent::CutFinished(c) = e {
                let text = std::fs::read_to_string(&journal).unwrap();
                let record = format!("{{\"record\":\"cut\",\"id\":{},", serde_json::to_string(&c.id).unwrap());
                assert!(text.contains(&record), "{} reported before it was journaled", c.id);
                reported.push(c.id.clone());
            }
        },
        &cancel,
    )
    .expect("run");
    assert!(!run.cancelled);
    let j = read_journal(&journal).unwrap();
    let recorded: Vec<&str> = j.cuts.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(recorded.len(), j.header.planned.len());
    let mut reported_sorted = reported.clone();
    reported_sorted.sort();
    let mut recorded_sorted = recorded.clone();
    recorded_sorted.sort_unstable();
    assert_eq!(reported_sorted, recorded_sorted);
    let _ = std::fs::remove_dir_all(&out);
}
