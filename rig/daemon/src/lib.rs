//! cutpoint's lab daemon: it owns the stations of a lab file (benches, or simulated boards
//! with workers), queues the runs that CI jobs and people submit over HTTP, runs each on its
//! station through the engine's public API (events and cancel flag, the engine unchanged),
//! and keeps its state in SQLite so a kill -9 loses nothing: a run that was running resumes
//! from its journal when the daemon starts again.
//!
//! [`client`] is the other side: the `cutpoint submit`, `runs`, `cancel`, `benches` and
//! `lease` verbs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub mod api;
pub mod auth;
pub mod client;
pub mod db;
pub mod lab;
pub mod live;
pub mod notify;
pub mod station;
pub mod upload;

use crate::auth::Tokens;
use crate::db::Db;
use crate::lab::Lab;
use crate::station::{Doctor, Hooks, OpenTarget};

/// The daemon's shared state.
pub struct Daemon {
    /// Held for the daemon's life: one daemon per data directory.
    _data_lock: cutpoint_engine::run_lock::RunLock,
    pub lab: Lab,
    pub db: Db,
    /// `None`: no tokens file (loopback only): every request is allowed.
    pub tokens: Option<Tokens>,
    pub open: OpenTarget,
    pub doctor: Doctor,
    pub shutdown: AtomicBool,
    cancels: Mutex<HashMap<i64, Arc<AtomicBool>>>,
    /// The live matrices of the running runs (the page's).
    pub live: Mutex<HashMap<i64, live::Matrix>>,
    /// The newest event's sequence number, for the event streams.
    events: tokio::sync::watch::Sender<i64>,
    wake: (Mutex<u64>, Condvar),
}

impl Daemon {
    /// Wakes the stations' workers and the event streams.
    pub fn notify(&self) {
        self.events.send_modify(|n| *n += 1);
        let (m, cv) = &self.wake;
        if let Ok(mut g) = m.lock() {
            *g += 1;
        }
        cv.notify_all();
    }

    /// Waits for [`Daemon::notify`] or `timeout`.
    pub fn wait(&self, timeout: Duration) {
        let (m, cv) = &self.wake;
        if let Ok(g) = m.lock() {
            let start = *g;
            let _ = cv.wait_timeout_while(g, timeout, |n| *n == start);
        }
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.events.subscribe()
    }

    /// The cancel flag of a run about to start: already raised when a cancel came between
    /// its claim and now.
    fn register_cancel(&self, run: i64) -> Arc<AtomicBool> {
        match self.cancels.lock() {
            Ok(mut m) => Arc::clone(m.entry(run).or_default()),
            Err(_) => Arc::default(),
        }
    }

    fn unregister_cancel(&self, run: i64) {
        if let Ok(mut m) = self.cancels.lock() {
            m.remove(&run);
        }
    }

    /// Raises the cancel flag of a running run (one claimed but not yet started finds it
    /// raised).
    pub fn cancel_running(&self, run: i64, by: Option<&str>) {
        // In the database first: the cancel holds across a restart of the daemon.
        if let Err(e) = self.db.request_cancel(run, by) {
            tracing::error!("run {run}: recording its cancel: {e}");
        }
        if let Ok(mut m) = self.cancels.lock() {
            m.entry(run).or_default().store(true, Ordering::SeqCst);
        }
    }

    fn cancel_all(&self) {
        if let Ok(m) = self.cancels.lock() {
            for f in m.values() {
                f.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// How `cutpoint daemon` was started, besides its lab.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Listen here instead of the lab's address (`--listen`).
    pub listen: Option<SocketAddr>,
    /// Write the address listened on to this file once serving (for scripts and tests that
    /// ask for port 0).
    pub addr_file: Option<PathBuf>,
}

/// Why the daemon did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Io(String),
}

impl StartError {
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Config(_) => cutpoint_engine::exit::BAD_INPUT,
            StartError::Io(_) => cutpoint_engine::exit::RIG_ERROR,
        }
    }
}

/// Opens the lab's state (creating the data directory and database), ends as `cancelled` every
/// run a user cancelled that was still running when the daemon last stopped, puts back in the
/// queue every other run that was running then, and starts a worker per station.
pub fn start(mut lab: Lab, hooks: Hooks, opts: &ServeOptions) -> Result<Arc<Daemon>, StartError> {
    if let Some(l) = opts.listen {
        lab.listen = l;
    }
    if !lab.listen.ip().is_loopback() && lab.tokens.is_none() {
        return Err(StartError::Config(lab::non_loopback_message(&lab.listen)));
    }
    std::fs::create_dir_all(&lab.data_dir).map_err(|e| {
        StartError::Io(format!(
            "{}: cannot create the data directory: {e}",
            lab.data_dir.display()
        ))
    })?;
    // Absolute, so the paths it keeps in the database mean the same whatever the working folder.
    lab.data_dir =
        std::fs::canonicalize(&lab.data_dir).map_err(|e| StartError::Io(format!("{}: {e}", lab.data_dir.display())))?;
    // A second daemon on the same data would resume the first one's runs under it.
    let data_lock = cutpoint_engine::run_lock::RunLock::acquire(&lab.data_dir).map_err(|e| match e {
        cutpoint_engine::run_lock::LockError::Busy { holder, .. } => StartError::Config(format!(
            "{}: another cutpoint daemon uses this data directory{holder}; stop it, or give this one \
             another data_dir",
            lab.data_dir.display()
        )),
        e => StartError::Io(e.to_string()),
    })?;
    let db = Db::open(&lab.data_dir)
        .map_err(|e| StartError::Io(format!("{}: cannot open the database: {e}", lab.data_dir.display())))?;
    let tokens = match &lab.tokens {
        Some(p) => Some(auth::load_tokens(p).map_err(|e| StartError::Config(cutpoint_campaign::format_errors(&e)))?),
        None => None,
    };
    let interrupted = db
        .settle_interrupted()
        .map_err(|e| StartError::Io(format!("reading the database: {e}")))?;
    // A run a user cancelled before the daemon stopped ends here, with the `end` event its
    // waiting clients follow; it does not resume.
    for id in &interrupted.cancelled {
        if let Err(e) = station::log_end(&db, *id) {
            tracing::error!("run {id}: logging its end: {e}");
        }
    }
    for id in &interrupted.requeued {
        let _ = db.append_event(
            *id,
            "requeued",
            &serde_json::json!({"type": "requeued", "why": "the daemon restarted; the run resumes from its journal"})
                .to_string(),
        );
    }
    // Every station in its safe state before anything runs; one that cannot be is `unknown`
    // (the doctor checks it before its next run).
    for s in &lab.stations {
        if let Err(why) = (hooks.safe_state)(s) {
            tracing::warn!("station {}: safe state: {why}", s.name);
            let failures = db.health(&s.name).map_or(0, |h| h.2) + 1;
            let _ = db.set_health(&s.name, "unknown", Some(&format!("at start: {why}")), Some(failures));
        }
    }
    let (events, _) = tokio::sync::watch::channel(0);
    let d = Arc::new(Daemon {
        _data_lock: data_lock,
        lab,
        db,
        tokens,
        open: hooks.open,
        doctor: hooks.doctor,
        shutdown: AtomicBool::new(false),
        cancels: Mutex::new(HashMap::new()),
        live: Mutex::new(HashMap::new()),
        events,
        wake: (Mutex::new(0), Condvar::new()),
    });
    Ok(d)
}

/// Runs the daemon until SIGTERM or SIGINT: the stations' workers and the HTTP API. On the
/// signal, the runs in progress stop after the cuts in flight (journaled), stay `running` in
/// the database, and resume at the next start. Returns the exit code.
pub fn serve(lab: Lab, hooks: Hooks, opts: ServeOptions) -> i32 {
    let d = match start(lab, hooks, &opts) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cutpoint daemon: {e}");
            return e.exit_code();
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cutpoint daemon: {e}");
            return cutpoint_engine::exit::RIG_ERROR;
        }
    };
    // The address first: a daemon that cannot serve takes no run.
    let listener = match rt.block_on(tokio::net::TcpListener::bind(d.lab.listen)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cutpoint daemon: cannot listen on {}: {e}", d.lab.listen);
            return cutpoint_engine::exit::RIG_ERROR;
        }
    };
    let workers: Vec<_> = d
        .lab
        .stations
        .iter()
        .cloned()
        .map(|s| {
            let d = Arc::clone(&d);
            std::thread::Builder::new()
                .name(format!("station-{}", s.name))
                .spawn(move || station::station_loop(d, s))
        })
        .collect();
    let workers: Vec<_> = match workers.into_iter().collect::<Result<_, _>>() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("cutpoint daemon: starting the stations' workers: {e}");
            return cutpoint_engine::exit::RIG_ERROR;
        }
    };
    let code = rt.block_on(api::serve_http(Arc::clone(&d), listener, opts.addr_file.clone()));
    notify::stopping();
    d.shutdown.store(true, Ordering::SeqCst);
    d.cancel_all();
    d.notify();
    for w in workers {
        let _ = w.join();
    }
    eprintln!("cutpoint daemon: stopped; runs in progress resume at the next start");
    code
}
