//! Submissions of the same files at once: each is stored once and every one is queued.

use std::path::Path;
use std::sync::Arc;

use cutpoint_daemon::lab::default_lab;
use cutpoint_daemon::station::Hooks;
use cutpoint_daemon::{start, ServeOptions};

#[test]
fn the_same_files_submitted_at_once_are_all_queued() {
    for _ in 0..10 {
        at_once();
    }
}

fn at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut lab = default_lab();
    lab.data_dir = dir.path().join("data");
    let d = start(lab, Hooks::sim_only(), &ServeOptions::default()).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sub = Arc::new(cutpoint_daemon::client::build_submission(&root.join("campaigns/smoke.toml")).unwrap());
    let go = Arc::new(std::sync::Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (d, sub, go) = (Arc::clone(&d), Arc::clone(&sub), Arc::clone(&go));
            std::thread::spawn(move || {
                go.wait();
                cutpoint_daemon::upload::submit(&d, &sub, None).map_err(|r| r.message)
            })
        })
        .collect();
    let mut ids: Vec<i64> = threads.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (1..=16).collect::<Vec<_>>());
    let stored = std::fs::read_dir(dir.path().join("data/files")).unwrap().count();
    assert_eq!(stored, 1, "one file, stored once by its hash, no temporary left");
    assert_eq!(std::fs::read_dir(dir.path().join("data/inputs")).unwrap().count(), 1);
}
