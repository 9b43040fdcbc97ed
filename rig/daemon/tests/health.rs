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
