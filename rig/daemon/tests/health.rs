//! A station's doctor check, in-process: after a rig error the station runs no campaign until
//! its check passes, and a failing check counts as a rig failure (bad after three in a row).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cutpoint_daemon::lab::default_lab;
use cutpoint_daemon::station::{station_loop, Doctor, Hooks};
use cutpoint_daemon::{start, ServeOptions};

fn smoke() -> cutpoint_daemon::upload::Submission {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    cutpoint_daemon::client::build_submission(&root.join("campaigns/smoke.toml")).unwrap()
}

fn wait(limit: Duration, what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "never {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_failing_doctor_keeps_the_run_waiting_and_the_third_failure_drains_the_station() {
    let dir = tempfile::tempdir().unwrap();
    let mut lab = default_lab();
    lab.data_dir = dir.path().join("data");
    let checks = Arc::new(AtomicUsize::new(0));
    let fit = Arc::new(AtomicUsize::new(0));
    let (c, f) = (Arc::clone(&checks), Arc::clone(&fit));
    let doctor: Doctor = Arc::new(move |_s: &cutpoint_daemon::lab::StationDef| {
        c.fetch_add(1, Ordering::SeqCst);
        if f.load(Ordering::SeqCst) == 1 {
            Ok("fit".into())
        } else {
            Err(cutpoint_daemon::station::DoctorError::Unfit(
                "the relay does not cut".into(),
            ))
        }
    });
    let hooks = Hooks {
        doctor,
        ..Hooks::sim_only()
    };
    let d = start(lab, hooks, &ServeOptions::default()).unwrap();
    let station = d.lab.stations[0].clone();
    // Two rig failures already: unknown, so the doctor runs before the next run.
    d.db.set_health("sim", "unknown", Some("run 0: a rig error"), Some(2))
        .unwrap();
    let worker = {
        let d = Arc::clone(&d);
        std::thread::spawn(move || station_loop(d, station))
    };
    let id = cutpoint_daemon::upload::submit(&d, &smoke(), None).unwrap();
    wait(Duration::from_secs(10), "checked", || {
        checks.load(Ordering::SeqCst) >= 1
    });
    wait(Duration::from_secs(10), "bad", || {
        d.db.health("sim").unwrap().0 == "bad"
    });
    let (_, reason, failures) = d.db.health("sim").unwrap();
    assert_eq!(failures, 3);
    assert_eq!(
        reason.as_deref(),
        Some("bad: 3 rig failures in a row; last: doctor: the relay does not cut")
    );
    assert!(d.db.drained("sim").unwrap().is_some());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        d.db.run(id).unwrap().unwrap().state,
        "queued",
        "no run on a bad station"
    );
    assert_eq!(
        checks.load(Ordering::SeqCst),
        1,
        "a drained station is not checked again"
    );

    // Fixed and resumed (as the API's resume does): checked, then the run goes.
    fit.store(1, Ordering::SeqCst);
    d.db.set_drained("sim", false, None).unwrap();
    d.db.set_health("sim", "unknown", None, Some(0)).unwrap();
    d.notify();
    wait(Duration::from_secs(60), "finished", || {
        d.db.run(id).unwrap().unwrap().state == "finished"
    });
    assert_eq!(d.db.run(id).unwrap().unwrap().exit_code, Some(0));
    assert_eq!(checks.load(Ordering::SeqCst), 2);
    assert_eq!(d.db.health("sim").unwrap().0, "ok");
    d.shutdown.store(true, Ordering::SeqCst);
    d.notify();
    worker.join().unwrap();
}

/// The race behind a flaky `benches --resume`: the admin's resume lifted the drain, then reset
/// the health, in two statements; a station's worker reading between them saw a bench neither
/// drained nor waiting for its doctor, and took a run on a station still `bad` (and the late
/// health reset then overwrote the run's own verdict on the station). Going bad, and coming
/// back, are now each one write; this reader, reading as the worker does, never sees a bench in
/// service and bad.
#[test]
fn a_station_is_never_seen_in_service_and_bad_while_it_goes_bad_and_is_resumed() {
    use std::sync::atomic::AtomicBool;
    let dir = tempfile::tempdir().unwrap();
    let mut lab = default_lab();
    lab.data_dir = dir.path().join("data");
    let d = start(lab, Hooks::sim_only(), &ServeOptions::default()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // A connection of its own, as another process would have: it sees every commit.
    let db = d.lab.data_dir.join(cutpoint_daemon::db::DB_FILE);
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let c = rusqlite::Connection::open(db).unwrap();
            c.busy_timeout(Duration::from_secs(5)).unwrap();
            let (mut reads, mut seen) = (0u64, Vec::new());
            while !stop.load(Ordering::SeqCst) {
                let st: Option<(String, i64, Option<String>)> = c
                    .query_row(
                        "SELECT health, drained, health_reason FROM benches WHERE name = 'sim'",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .ok();
                if let Some((health, 0, why)) = st {
                    if health == "bad" {
                        seen.push(why);
                    }
                }
                reads += 1;
            }
            (reads, seen)
        })
    };
    for round in 0..300 {
        for n in 1..=cutpoint_daemon::station::BAD_AFTER {
            cutpoint_daemon::station::rig_failure(&d, "sim", &format!("round {round}: failure {n}"));
        }
        let st = d.db.bench_state("sim").unwrap();
        assert_eq!((st.health.as_str(), st.drained.is_some()), ("bad", true), "{st:?}");
        cutpoint_daemon::api::resume_station(&d, "sim").unwrap();
        let st = d.db.bench_state("sim").unwrap();
        assert_eq!(
            (st.health.as_str(), st.rig_failures, st.drained.is_some()),
            ("unknown", 0, false),
            "{st:?}"
        );
    }
    stop.store(true, Ordering::SeqCst);
    let (reads, seen) = reader.join().unwrap();
    assert!(reads > 100, "{reads} reads");
    assert!(
        seen.is_empty(),
        "{} of {reads} reads saw the station in service and bad: {:?}",
        seen.len(),
        seen[0]
    );
}
