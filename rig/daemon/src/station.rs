//! The stations' workers: one thread per station takes the next run of its queue (holding
//! the bench through a lease), drives the engine through its public API (events in, cancel
//! flag out) and records what happens in the database.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cutpoint_campaign::{format_errors, Campaign, FileError, TargetKind};
use cutpoint_engine::engine::{self, RunSpec};
use cutpoint_engine::exit::{BAD_INPUT, INCOMPLETE, RIG_ERROR};
use cutpoint_engine::judge::Expectations;
use cutpoint_engine::sink::{RunEvent, Sink, SinkError};
use cutpoint_engine::target::Target;
use serde_json::json;

use crate::db::RunRow;
use crate::lab::{StationDef, StationKind};
use crate::Daemon;

/// A campaign's target, opened for a run.
pub struct Opened {
    pub target: Box<dyn Target>,
    pub expect: Expectations,
    pub update_size: u64,
    /// Held as long as the target (a bench's lock, that a manual run on it sees).
    pub hold: Option<Box<dyn std::any::Any>>,
}

/// Why a target could not be opened: the campaign's fault, the rig's, or the bench is in use
/// by another process (a manual run on the lab machine): the run waits for it.
#[derive(Debug)]
pub enum OpenError {
    Input(String),
    Rig(String),
    Busy(String),
}

/// Opens a campaign's target with a number of workers. The daemon gets the one that knows the
/// benches from the `cutpoint` binary; [`sim_only`] knows the simulated board alone.
pub type OpenTarget = Arc<dyn Fn(&Campaign, usize) -> Result<Opened, OpenError> + Send + Sync>;

/// Opens simulated campaigns only.
pub fn sim_only() -> OpenTarget {
    Arc::new(|c: &Campaign, workers: usize| {
        if !c.is_simulated() {
            return Err(OpenError::Input(format!(
                "{}: this daemon was built without the bench stack; it runs simulated stations only",
                c.path.display()
            )));
        }
        let s = cutpoint_engine::setup::sim_setup(c, workers).map_err(|e| OpenError::Input(e.to_string()))?;
        Ok(Opened {
            target: Box::new(s.target),
            expect: s.expect,
            update_size: s.update_size,
            hold: None,
        })
    })
}

/// Checks a station before its next run after a rig error (`cutpoint doctor` for a bench):
/// Ok with a note when it is fit, Err with the reason when not.
pub type Doctor = Arc<dyn Fn(&StationDef) -> Result<String, DoctorError> + Send + Sync>;

/// Why a station was not found fit.
#[derive(Debug, Clone)]
pub enum DoctorError {
    /// The checks failed: a rig failure.
    Unfit(String),
    /// Another process drives the bench: not checked, tried again later.
    Busy(String),
}

/// The doctor of a daemon without the bench stack: a simulated station is always fit; a bench
/// cannot be checked.
pub fn sim_doctor() -> Doctor {
    Arc::new(|s: &StationDef| match s.kind {
        StationKind::Sim { .. } => Ok("simulated board: nothing to check".into()),
        StationKind::Bench { .. } => Err(DoctorError::Unfit(
            "this daemon was built without the bench stack".into(),
        )),
    })
}

/// Puts a station in its safe state when the daemon starts (a bench: power restored as its
/// station file says), before it takes any run.
pub type SafeState = Arc<dyn Fn(&StationDef) -> Result<(), String> + Send + Sync>;

/// What the daemon does to its stations, given by the binary that has the bench stack.
#[derive(Clone)]
pub struct Hooks {
    pub open: OpenTarget,
    pub doctor: Doctor,
    pub safe_state: SafeState,
}

impl Hooks {
    /// Simulated stations only: no bench can be opened, checked or powered.
    pub fn sim_only() -> Hooks {
        Hooks {
            open: sim_only(),
            doctor: sim_doctor(),
            safe_state: Arc::new(|s: &StationDef| match s.kind {
                StationKind::Sim { .. } => Ok(()),
                StationKind::Bench { .. } => Err("this daemon was built without the bench stack".into()),
            }),
        }
    }
}

/// Rig failures in a row (runs with rig errors, failed doctor checks) that take a station out
/// of service.
pub const BAD_AFTER: i64 = 3;

/// How long a station whose bench another process holds waits before trying its run again.
const BUSY_RETRY: Duration = Duration::from_secs(5);

/// How long a station whose doctor check failed waits before the next one.
const DOCTOR_RETRY: Duration = Duration::from_secs(10);

/// Records a rig failure of `station`: its health becomes `unknown` (doctor before the next
/// run), or `bad` after [`BAD_AFTER`] in a row, which drains it with the reason.
pub fn rig_failure(d: &Daemon, station: &str, why: &str) {
    let failures = d.db.health(station).map_or(0, |h| h.2) + 1;
    let result = if failures >= BAD_AFTER {
        let reason = format!("bad: {failures} rig failures in a row; last: {why}");
        tracing::warn!("station {station}: {reason}");
        d.db.mark_bad(station, &reason, failures)
    } else {
        d.db.set_health(station, "unknown", Some(why), Some(failures))
    };
    if let Err(e) = result {
        tracing::error!("station {station}: recording its health: {e}");
    }
}

/// What a run's end says of its station's health: rig errors count against it; a run that
/// judged the device without one clears it; bad input and cancels say nothing.
fn health_after(d: &Daemon, station: &str, run: i64, code: i32, message: Option<&str>) {
    let errors = d.db.run(run).ok().flatten().map_or(0, |r| r.errors);
    if code == RIG_ERROR || errors > 0 {
        let why = match message {
            Some(m) if code == RIG_ERROR => format!("run {run}: {m}"),
            _ => format!("run {run}: {errors} cut points ended in rig errors"),
        };
        rig_failure(d, station, &why);
    } else if code == cutpoint_engine::exit::PASS || code == cutpoint_engine::exit::FAIL {
        let _ = d.db.set_health(station, "ok", None, Some(0));
    }
}

/// How long a run's lease on its bench lasts without renewal; the station's worker renews it
/// while the run goes on.
pub const RUN_LEASE_MS: i64 = 30_000;

/// The worker of one station: runs its queue until the daemon stops.
pub fn station_loop(d: Arc<Daemon>, station: StationDef) {
    // When the doctor last failed here, at which count of failures in a row.
    let mut last_doctor: Option<(std::time::Instant, i64)> = None;
    while !d.shutdown.load(Ordering::SeqCst) {
        // One read of health and drain: a decision on two reads could straddle an admin's
        // resume and start a run on a station still `bad`, before its doctor check.
        let st = match d.db.bench_state(&station.name) {
            Ok(st) => st,
            Err(e) => {
                tracing::error!("station {}: {e}", station.name);
                d.wait(Duration::from_millis(200));
                continue;
            }
        };
        let failures = st.rig_failures;
        if st.drained.is_none() && st.health != "ok" {
            // After a rig error, the doctor checks the station before it takes a run. A failed
            // check is retried after a pause (at once when an admin reset the count).
            let due = last_doctor.is_none_or(|(t, n)| n != failures || t.elapsed() >= DOCTOR_RETRY);
            if due && d.db.has_work(&station.name, &station.tags).unwrap_or(false) {
                match (d.doctor)(&station) {
                    Ok(note) => {
                        last_doctor = None;
                        let _ =
                            d.db.set_health(&station.name, "ok", Some(&format!("doctor: {note}")), None);
                    }
                    Err(DoctorError::Unfit(why)) => {
                        rig_failure(&d, &station.name, &format!("doctor: {why}"));
                        last_doctor = Some((std::time::Instant::now(), failures + 1));
                    }
                    Err(DoctorError::Busy(why)) => {
                        tracing::info!("station {}: doctor put off: {why}", station.name);
                        last_doctor = Some((std::time::Instant::now(), failures));
                    }
                }
                d.notify();
            } else {
                d.wait(Duration::from_millis(200));
            }
            continue;
        }
        let next = if st.drained.is_some() {
            None
        } else {
            d.db.claim_next(&station.name, &station.tags, RUN_LEASE_MS)
                .unwrap_or_else(|e| {
                    tracing::error!("station {}: reading the queue: {e}", station.name);
                    None
                })
        };
        match next {
            Some(run) => {
                let lease = LeaseKeeper::start(&d, format!("run-{}", run.id));
                let end = execute(&d, &station, &run);
                // The bench is free before anyone hears that the run ended.
                drop(lease);
                match end {
                    Some((state, code, message)) => {
                        health_after(&d, &station.name, run.id, code, message.as_deref());
                        end_run(&d, &run, state, code, message.as_deref());
                    }
                    // Requeued (the bench in use by another process): wait before retrying.
                    None if !d.shutdown.load(Ordering::SeqCst) => {
                        let until = std::time::Instant::now() + BUSY_RETRY;
                        while std::time::Instant::now() < until && !d.shutdown.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                    None => {}
                }
            }
            None => d.wait(Duration::from_millis(200)),
        }
    }
}

/// Keeps a run's lease alive while it runs.
struct LeaseKeeper {
    d: Arc<Daemon>,
    lease: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LeaseKeeper {
    fn start(d: &Arc<Daemon>, lease: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (d2, s, l) = (Arc::clone(d), Arc::clone(&stop), lease.clone());
        let thread = std::thread::spawn(move || {
            let (d, lease) = (d2, l);
            let mut since = std::time::Instant::now();
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                if since.elapsed() >= Duration::from_millis((RUN_LEASE_MS / 3) as u64) {
                    let _ = d.db.renew_lease(&lease);
                    since = std::time::Instant::now();
                }
            }
        });
        LeaseKeeper {
            d: Arc::clone(d),
            lease,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // A run that stops because the daemon does keeps no lease either: the next start
        // drops the run leases of the last one.
        let _ = self.d.db.release_lease(&self.lease);
        self.d.notify();
    }
}

/// A run's report directory: the engine's usual one, under the data directory.
pub fn report_dir(data_dir: &Path, run: i64) -> PathBuf {
    data_dir.join("runs").join(run.to_string())
}

/// Rewrites the daemon's copy of the uploaded files in `text` to the paths the client named,
/// so a located error reads as `cutpoint check` prints it on the client's machine.
pub fn client_paths(text: &str, input_dir: &str, root: &str) -> String {
    let from = format!("{input_dir}/");
    let to = if root.is_empty() || root == "." {
        String::new()
    } else {
        format!("{}/", root.trim_end_matches('/'))
    };
    text.replace(&from, &to)
}

/// Fits campaign `c` to `station`: a bench runs a station campaign on its own station file; a
/// simulated station runs simulated campaigns of its board. The error says what to change.
pub fn fit_to_station(c: &mut Campaign, station: &StationDef) -> Result<(), String> {
    match (&station.kind, &c.target.kind) {
        (StationKind::Sim { board, .. }, TargetKind::Simulated { board: wants, .. }) => match board {
            Some(b) if b != wants => Err(format!(
                "station `{}` simulates {}; this campaign's board is {} (name another station or tag)",
                station.name,
                b.name(),
                wants.name()
            )),
            _ => Ok(()),
        },
        (StationKind::Sim { .. }, TargetKind::Station { .. }) => Err(format!(
            "station `{}` is a simulated board; this campaign names a station file: submit it to a bench",
            station.name
        )),
        (StationKind::Bench { path, station: st }, TargetKind::Station { .. }) => {
            c.target.kind = TargetKind::Station {
                path: path.clone(),
                station: st.clone(),
            };
            Ok(())
        }
        (StationKind::Bench { .. }, TargetKind::Simulated { .. }) => Err(format!(
            "station `{}` is a bench; this campaign runs on the simulated board: submit it to a `sim` station",
            station.name
        )),
    }
}

/// Records a run's events in the database as the engine reports them.
struct DbSink<'a> {
    d: &'a Daemon,
    run: i64,
    negative: bool,
    station: &'a str,
}

impl Sink for DbSink<'_> {
    fn event(&mut self, e: &RunEvent) -> Result<(), SinkError> {
        let db = &self.d.db;
        match e {
            RunEvent::Started { header, resumed, .. } => {
                let mut matrix = crate::live::Matrix::of_header(header);
                if *resumed {
                    count_earlier_cuts(db, self.run, &mut matrix)?;
                }
                let v = json!({
                    "type": "started",
                    "station": self.station,
                    "resumed": resumed,
                    "target": header.target,
                    "planned": header.planned.len(),
                    "matrix": matrix.layout_json(),
                });
                if let Ok(mut live) = self.d.live.lock() {
                    live.insert(self.run, matrix);
                }
                db.append_event(self.run, "started", &v.to_string())?;
            }
            RunEvent::Control(c) => {
                db.append_event(
                    self.run,
                    "control",
                    &cutpoint_engine::events_json::control(c).to_string(),
                )?;
            }
            RunEvent::Planned {
                total,
                already_done,
                skipped,
            } => {
                let v = cutpoint_engine::events_json::planned(*total, *already_done, skipped.len());
                db.set_planned_total(self.run, *total as i64)?;
                db.append_event(self.run, "planned", &v.to_string())?;
            }
            RunEvent::CutFinished(c) => {
                let mut v = cutpoint_engine::events_json::cut(c, self.negative);
                // The live matrix counts the cut under the same lock as its event is logged, so
                // the page's count and the stream's sequence number agree.
                let mut live = self.d.live.lock().ok();
                let m = live.as_mut().and_then(|l| l.get_mut(&self.run));
                let cell = m.as_ref().and_then(|m| m.cell(&c.id));
                if let Some((r, col)) = cell {
                    v["cell"] = json!([r, col]);
                }
                let seq = db.append_cut(self.run, &v.to_string(), c.status)?;
                if let Some(m) = m {
                    let expected = c.status == cutpoint_report::Status::Fail && self.negative;
                    m.record(&c.id, c.status, expected, c.reasons.first().map(String::as_str), seq);
                }
            }
            RunEvent::Finished { end, tally } => {
                db.set_counts(self.run, tally.pass as i64, tally.fail as i64, tally.error as i64)?;
                let v = json!({
                    "type": "journal-end",
                    "how": end.how.to_string(),
                    "passed": tally.pass,
                    "failed": tally.fail,
                    "errors": tally.error,
                });
                db.append_event(self.run, "journal-end", &v.to_string())?;
            }
        }
        self.d.notify();
        Ok(())
    }
}

/// Counts in a resumed run's live matrix the cut points its earlier parts finished (their
/// events are in the log).
fn count_earlier_cuts(db: &crate::db::Db, run: i64, m: &mut crate::live::Matrix) -> Result<(), SinkError> {
    let mut after = 0;
    loop {
        let rows = db.events_after(run, after, 2000)?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = last.seq;
        for e in rows.iter().filter(|e| e.kind == "cut") {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&e.data) else {
                continue;
            };
            let status = match v["status"].as_str() {
                Some("pass") => cutpoint_report::Status::Pass,
                Some("fail") => cutpoint_report::Status::Fail,
                _ => cutpoint_report::Status::Error,
            };
            let id = v["id"].as_str().unwrap_or_default();
            let reason = v["reasons"].get(0).and_then(serde_json::Value::as_str);
            m.record(id, status, v["expected"] == true, reason, e.seq);
        }
    }
}

/// Ends run `id` in the database with its exit code, and logs the `end` event that closes its
/// event stream.
pub fn end_run(d: &Daemon, run: &RunRow, state: &str, code: i32, message: Option<&str>) {
    let outcome = match code {
        INCOMPLETE => "incomplete",
        c => cutpoint_engine::verdict::outcome_name(c),
    };
    if let Ok(mut live) = d.live.lock() {
        live.remove(&run.id);
    }
    if let Err(e) = d.db.finish_run(run.id, state, code, outcome, message) {
        tracing::error!("run {}: recording its end: {e}", run.id);
    }
    if let Err(e) = log_end(&d.db, run.id) {
        tracing::error!("run {}: logging its end: {e}", run.id);
    }
    d.notify();
}

/// Logs the `end` event of run `id`, ended in the database, from its record: state, outcome,
/// exit code, counts and message; a negative control's failures are marked `expected`.
pub fn log_end(db: &crate::db::Db, id: i64) -> Result<(), rusqlite::Error> {
    let Some(r) = db.run(id)? else { return Ok(()) };
    let v = json!({
        "type": "end",
        "state": r.state,
        "outcome": r.outcome,
        "exit_code": r.exit_code,
        "planned": r.planned.unwrap_or(0),
        "passed": r.passed,
        "failed": r.failed,
        "errors": r.errors,
        "message": r.message,
        "negative": r.negative,
        "expected": r.failures_expected(),
    });
    db.append_event(id, "end", &v.to_string())?;
    Ok(())
}

/// How a run ended: its state, exit code and message; `None` when the daemon stopped it
/// (it resumes at the next start).
type Ended = Option<(&'static str, i32, Option<String>)>;

fn ended(state: &'static str, code: i32, message: impl Into<String>) -> Ended {
    Some((state, code, Some(message.into())))
}

/// Runs one claimed run to its end (or, when the daemon stops, to a journal it resumes from).
fn execute(d: &Arc<Daemon>, station: &StationDef, run: &RunRow) -> Ended {
    let out_dir = report_dir(&d.lab.data_dir, run.id);
    let path = Path::new(&run.input_dir).join(&run.campaign_rel);
    let located = |errors: &[FileError]| client_paths(&format_errors(errors), &run.input_dir, &run.root);
    let mut c = match cutpoint_campaign::load_campaign(&path) {
        Ok(c) => c,
        Err(errors) => return ended("error", BAD_INPUT, located(&errors).trim_end()),
    };
    if let Err(m) = fit_to_station(&mut c, station) {
        return ended("error", BAD_INPUT, m);
    }
    let partition = match run
        .partition
        .as_deref()
        .map(cutpoint_campaign::parse_partition)
        .transpose()
    {
        Ok(p) => p,
        Err(e) => return ended("error", BAD_INPUT, format!("partition: {e}")),
    };
    let filter = match run
        .filter
        .as_ref()
        .map(|f| cutpoint_engine::cut_filter::CutFilter::parse(std::slice::from_ref(f)))
    {
        None => None,
        Some(Ok(f)) => f,
        Some(Err(e)) => return ended("error", BAD_INPUT, e),
    };
    // Cancelled while it waited for its bench (or before a restart): it does not start.
    if d.db.cancel_requested(run.id).unwrap_or(false) {
        return ended("cancelled", INCOMPLETE, "cancelled before it started");
    }
    let opened = match (d.open)(&c, station.workers()) {
        Ok(o) => o,
        Err(OpenError::Input(m)) => return ended("error", BAD_INPUT, client_paths(&m, &run.input_dir, &run.root)),
        Err(OpenError::Rig(m)) => return ended("error", RIG_ERROR, format!("opening station `{}`: {m}", station.name)),
        Err(OpenError::Busy(m)) => {
            // Not a failure of anyone's: back to the head of the queue, tried again shortly.
            if let Err(e) = d.db.requeue(run.id) {
                tracing::error!("run {}: {e}", run.id);
            }
            let _ = d.db.append_event(
                run.id,
                "waiting",
                &json!({"type": "waiting", "why": format!("station `{}`: {m}", station.name)}).to_string(),
            );
            d.notify();
            return None;
        }
    };
    let spec = RunSpec {
        campaign: &c,
        campaign_path: run.campaign.clone(),
        campaign_sha256: c.sha256.clone(),
        out_dir: out_dir.clone(),
        partition,
        resume: run.resume,
        filter,
        expect: opened.expect.clone(),
        update_size: opened.update_size,
        seed: c.run.seed,
    };
    let cancel = d.register_cancel(run.id);
    let mut sink = DbSink {
        d,
        run: run.id,
        negative: run.negative,
        station: &station.name,
    };
    let result = engine::run(opened.target.as_ref(), &spec, &mut sink, &cancel);
    d.unregister_cancel(run.id);
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            let m = client_paths(&e.to_string(), &run.input_dir, &run.root);
            return ended("error", e.exit_code(), m);
        }
    };
    let t = outcome.tally;
    if outcome.cancelled || t.ran() < outcome.planned {
        // A user's cancel wins over the daemon's stop: a cancelled run must not resume at the
        // next start. The request is in the database, so it holds even when the flag was
        // raised by the stop.
        let cancelled_by_user = d.db.cancel_requested(run.id).unwrap_or_else(|e| {
            tracing::error!("run {}: reading its cancel: {e}", run.id);
            false
        });
        if d.shutdown.load(Ordering::SeqCst) && !cancelled_by_user {
            // The daemon stops: the run stays `running` in the database, and its journal
            // (every finished cut synced) is where the next start resumes it.
            let _ = d.db.append_event(
                run.id,
                "interrupted",
                &json!({"type": "interrupted", "why": "the daemon stopped; the run resumes when it starts again"})
                    .to_string(),
            );
            d.notify();
            return None;
        }
        let m = format!(
            "cancelled: {} of {} cut points run; nothing is concluded about the device",
            t.ran(),
            outcome.planned
        );
        return ended("cancelled", INCOMPLETE, m);
    }
    let options = cutpoint_report::ReportOptions {
        artifacts: cutpoint_report::Artifacts::Failing,
    };
    if let Err(e) = cutpoint_report::write_reports_from_journals(&out_dir, &[&outcome.journal_path], &options) {
        let m = format!("writing the reports: {e}");
        return ended("error", RIG_ERROR, m);
    }
    let v = cutpoint_engine::verdict::run_verdict(&c, &outcome, t.fail, t.error);
    let notes = v.notes.join("; ");
    Some(("finished", v.code, (!notes.is_empty()).then_some(notes)))
}
