//! The daemon's state in SQLite (WAL) in the data directory: runs, the queue (runs waiting,
//! per station, by priority then submission order), bench leases, the benches' drain flags and
//! an append-only event log with sequence numbers.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

pub type DbResult<T> = Result<T, rusqlite::Error>;

pub const DB_FILE: &str = "cutpoint.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign TEXT NOT NULL,
    name TEXT NOT NULL,
    input_dir TEXT NOT NULL,
    campaign_rel TEXT NOT NULL,
    root TEXT NOT NULL,
    station TEXT,
    tag TEXT,
    assigned TEXT,
    priority INTEGER NOT NULL,
    partition TEXT,
    state TEXT NOT NULL,
    resume INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    outcome TEXT,
    message TEXT,
    submitted_by TEXT,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    planned INTEGER,
    passed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    negative INTEGER NOT NULL DEFAULT 0,
    filter TEXT,
    replay_of INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run INTEGER NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_run ON events(run, seq);
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    station TEXT NOT NULL,
    holder TEXT NOT NULL,
    run INTEGER,
    ttl_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS benches (
    name TEXT PRIMARY KEY,
    drained INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    health TEXT NOT NULL DEFAULT 'ok',
    health_reason TEXT,
    rig_failures INTEGER NOT NULL DEFAULT 0
);
-- A user's cancel of a running run, kept so a restart of the daemon ends the run as
-- cancelled instead of resuming it (a table of its own: older databases gain it as they open).
CREATE TABLE IF NOT EXISTS cancel_requests (
    run INTEGER PRIMARY KEY,
    requested_by TEXT,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    first_seen TEXT NOT NULL
);
";

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The database, one connection behind a lock (every statement is short).
pub struct Db {
    conn: Mutex<Connection>,
}

/// A run as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub campaign: String,
    pub name: String,
    pub station: Option<String>,
    pub tag: Option<String>,
    /// The station it runs or ran on.
    pub assigned: Option<String>,
    pub priority: i64,
    pub partition: Option<String>,
    /// queued, running, finished, cancelled, error
    pub state: String,
    /// The run's own exit code: 0 pass, 1 device failure, 2 bad input, 3 rig error, 4 incomplete.
    pub exit_code: Option<i64>,
    pub outcome: Option<String>,
    pub message: Option<String>,
    pub submitted_by: Option<String>,
    pub created: String,
    pub started: Option<String>,
    pub finished: Option<String>,
    pub planned: Option<i64>,
    pub passed: i64,
    pub failed: i64,
    pub errors: i64,
    /// A negative control: its failures are expected.
    pub negative: bool,
    /// Only the cut points this glob takes (a replay: one id).
    pub filter: Option<String>,
    /// The run whose cut point this run replays.
    pub replay_of: Option<i64>,
    #[serde(skip)]
    pub input_dir: String,
    #[serde(skip)]
    pub campaign_rel: String,
    #[serde(skip)]
    pub root: String,
    #[serde(skip)]
    pub resume: bool,
}

impl RunRow {
    /// A negative control whose cut points failed: the failures are what it expects (its exit
    /// code says whether the rig caught the broken firmware).
    pub fn failures_expected(&self) -> bool {
        self.negative && self.failed > 0
    }
}

const RUN_COLS: &str = "id, campaign, name, station, tag, assigned, priority, partition, state, exit_code, outcome, \
     message, submitted_by, created, started, finished, planned, passed, failed, errors, negative, input_dir, \
     campaign_rel, root, resume, filter, replay_of";

fn run_row(r: &rusqlite::Row) -> DbResult<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        campaign: r.get(1)?,
        name: r.get(2)?,
        station: r.get(3)?,
        tag: r.get(4)?,
        assigned: r.get(5)?,
        priority: r.get(6)?,
        partition: r.get(7)?,
        state: r.get(8)?,
        exit_code: r.get(9)?,
        outcome: r.get(10)?,
        message: r.get(11)?,
        submitted_by: r.get(12)?,
        created: r.get(13)?,
        started: r.get(14)?,
        finished: r.get(15)?,
        planned: r.get(16)?,
        passed: r.get(17)?,
        failed: r.get(18)?,
        errors: r.get(19)?,
        negative: r.get::<_, i64>(20)? != 0,
        input_dir: r.get(21)?,
        campaign_rel: r.get(22)?,
        root: r.get(23)?,
        resume: r.get::<_, i64>(24)? != 0,
        filter: r.get(25)?,
        replay_of: r.get(26)?,
    })
}

/// What a new run is.
pub struct NewRun<'a> {
    pub campaign: &'a str,
    pub name: &'a str,
    pub input_dir: &'a str,
    pub campaign_rel: &'a str,
    pub root: &'a str,
    pub station: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub priority: i64,
    pub partition: Option<&'a str>,
    pub submitted_by: Option<&'a str>,
    pub negative: bool,
    pub filter: Option<&'a str>,
    pub replay_of: Option<i64>,
}

/// One event of the log.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub seq: i64,
    pub run: i64,
    pub kind: String,
    pub data: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeaseRow {
    pub id: String,
    pub station: String,
    pub holder: String,
    /// The run that holds the bench through this lease, when a run does.
    pub run: Option<i64>,
    pub ttl_s: f64,
    /// Seconds until it expires unless renewed.
    pub expires_in_s: f64,
}

/// A station's health and drain flag at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchState {
    /// `ok`, `unknown` (the doctor checks it before its next run) or `bad`.
    pub health: String,
    pub health_reason: Option<String>,
    /// Rig failures in a row.
    pub rig_failures: i64,
    /// Drained, and why.
    pub drained: Option<Option<String>>,
}

impl Default for BenchState {
    fn default() -> Self {
        BenchState {
            health: "ok".into(),
            health_reason: None,
            rig_failures: 0,
            drained: None,
        }
    }
}

/// The runs that were running when the daemon last stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interrupted {
    /// Cancelled by a user before the daemon stopped: ended `cancelled`.
    pub cancelled: Vec<i64>,
    /// Back in the queue, to resume from their journal.
    pub requeued: Vec<i64>,
}

/// A lease could not be taken.
#[derive(Debug)]
pub enum LeaseRefused {
    Held(LeaseRow),
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for LeaseRefused {
    fn from(e: rusqlite::Error) -> Self {
        LeaseRefused::Db(e)
    }
}

impl Db {
    pub fn open(data_dir: &Path) -> DbResult<Db> {
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db { conn: Mutex::new(conn) })
    }

    fn c(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn journal_mode(&self) -> DbResult<String> {
        self.c().query_row("PRAGMA journal_mode", [], |r| r.get(0))
    }

    pub fn insert_run(&self, n: &NewRun) -> DbResult<i64> {
        let c = self.c();
        c.execute(
            "INSERT INTO runs (campaign, name, input_dir, campaign_rel, root, station, tag, priority, partition, \
             state, submitted_by, created, negative, filter, replay_of) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?11, ?12, ?13, ?14)",
            params![
                n.campaign,
                n.name,
                n.input_dir,
                n.campaign_rel,
                n.root,
                n.station,
                n.tag,
                n.priority,
                n.partition,
                n.submitted_by,
                now_rfc3339(),
                n.negative as i64,
                n.filter,
                n.replay_of
            ],
        )?;
        Ok(c.last_insert_rowid())
    }

    pub fn run(&self, id: i64) -> DbResult<Option<RunRow>> {
        self.c()
            .query_row(&format!("SELECT {RUN_COLS} FROM runs WHERE id = ?1"), [id], run_row)
            .optional()
    }

    /// The newest `limit` runs, newest first.
    pub fn runs(&self, limit: i64) -> DbResult<Vec<RunRow>> {
        let c = self.c();
        let mut st = c.prepare(&format!("SELECT {RUN_COLS} FROM runs ORDER BY id DESC LIMIT ?1"))?;
        let rows = st.query_map([limit], run_row)?.collect::<DbResult<Vec<_>>>();
        rows
    }

    /// Appends an event to a run's log; returns its sequence number.
    pub fn append_event(&self, run: i64, kind: &str, data: &str) -> DbResult<i64> {
        let c = self.c();
        c.execute(
            "INSERT INTO events (run, at, kind, data) VALUES (?1, ?2, ?3, ?4)",
            params![run, now_rfc3339(), kind, data],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// A cut's event and the run's counts, in one transaction.
    pub fn append_cut(&self, run: i64, data: &str, status: cutpoint_report::Status) -> DbResult<i64> {
        let mut c = self.c();
        let tx = c.transaction()?;
        tx.execute(
            "INSERT INTO events (run, at, kind, data) VALUES (?1, ?2, 'cut', ?3)",
            params![run, now_rfc3339(), data],
        )?;
        let seq = tx.last_insert_rowid();
        let col = match status {
            cutpoint_report::Status::Pass => "passed",
            cutpoint_report::Status::Fail => "failed",
            cutpoint_report::Status::Error => "errors",
        };
        tx.execute(&format!("UPDATE runs SET {col} = {col} + 1 WHERE id = ?1"), [run])?;
        tx.commit()?;
        Ok(seq)
    }

    pub fn events_after(&self, run: i64, after: i64, limit: i64) -> DbResult<Vec<EventRow>> {
        let c = self.c();
        let mut st =
            c.prepare("SELECT seq, run, kind, data FROM events WHERE run = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
        let rows = st
            .query_map(params![run, after, limit], |r| {
                Ok(EventRow {
                    seq: r.get(0)?,
                    run: r.get(1)?,
                    kind: r.get(2)?,
                    data: r.get(3)?,
                })
            })?
            .collect::<DbResult<Vec<_>>>();
        rows
    }

    pub fn set_planned_total(&self, run: i64, planned: i64) -> DbResult<()> {
        self.c()
            .execute("UPDATE runs SET planned = ?2 WHERE id = ?1", params![run, planned])?;
        Ok(())
    }

    /// The counts of every result in the run's journal (earlier parts of a resumed run too).
    pub fn set_counts(&self, run: i64, passed: i64, failed: i64, errors: i64) -> DbResult<()> {
        self.c().execute(
            "UPDATE runs SET passed = ?2, failed = ?3, errors = ?4 WHERE id = ?1",
            params![run, passed, failed, errors],
        )?;
        Ok(())
    }

    /// Ends a run: its state, exit code, outcome name and message.
    pub fn finish_run(&self, run: i64, state: &str, code: i32, outcome: &str, message: Option<&str>) -> DbResult<()> {
        self.c().execute(
            "UPDATE runs SET state = ?2, exit_code = ?3, outcome = ?4, message = ?5, finished = ?6, resume = 0 \
             WHERE id = ?1",
            params![run, state, code, outcome, message, now_rfc3339()],
        )?;
        Ok(())
    }

    /// Cancels a queued run; false when it is not queued (any more).
    pub fn cancel_queued(&self, run: i64) -> DbResult<bool> {
        let n = self.c().execute(
            "UPDATE runs SET state = 'cancelled', exit_code = 4, outcome = 'incomplete', \
             message = 'cancelled before it started', finished = ?2 WHERE id = ?1 AND state = 'queued'",
            params![run, now_rfc3339()],
        )?;
        Ok(n == 1)
    }

    /// Records a user's cancel of a running run, so that it holds across a restart of the
    /// daemon.
    pub fn request_cancel(&self, run: i64, by: Option<&str>) -> DbResult<()> {
        self.c().execute(
            "INSERT OR IGNORE INTO cancel_requests (run, requested_by, at) VALUES (?1, ?2, ?3)",
            params![run, by, now_rfc3339()],
        )?;
        Ok(())
    }

    /// Whether a user cancelled run `run`.
    pub fn cancel_requested(&self, run: i64) -> DbResult<bool> {
        let n: i64 = self
            .c()
            .query_row("SELECT COUNT(*) FROM cancel_requests WHERE run = ?1", [run], |r| {
                r.get(0)
            })?;
        Ok(n > 0)
    }

    /// What the daemon does at its start with the runs that were running when it stopped, in
    /// one transaction: one a user cancelled ends `cancelled` (exit 4, incomplete); every other
    /// goes back to the head of its station's queue, to resume from its journal.
    pub fn settle_interrupted(&self) -> DbResult<Interrupted> {
        let mut c = self.c();
        let tx = c.transaction()?;
        let ids = |sql: &str| -> DbResult<Vec<i64>> {
            tx.prepare(sql)?.query_map([], |r| r.get(0))?.collect::<DbResult<_>>()
        };
        let cancelled =
            ids("SELECT id FROM runs WHERE state = 'running' AND id IN (SELECT run FROM cancel_requests) ORDER BY id")?;
        let requeued = ids(
            "SELECT id FROM runs WHERE state = 'running' AND id NOT IN (SELECT run FROM cancel_requests) ORDER BY id",
        )?;
        let now = now_rfc3339();
        for id in &cancelled {
            tx.execute(
                "UPDATE runs SET state = 'cancelled', exit_code = 4, outcome = 'incomplete', finished = ?2, \
                 resume = 0, message = 'cancelled: ' || (passed + failed + errors) || ' of ' || \
                 COALESCE(planned, 0) || ' cut points run; nothing is concluded about the device \
                 (the daemon stopped before the run did)' WHERE id = ?1",
                params![id, now],
            )?;
        }
        tx.execute(
            "UPDATE runs SET state = 'queued', resume = 1, station = assigned WHERE state = 'running'",
            [],
        )?;
        // The daemon is the only holder of its runs' leases: none survives it.
        tx.execute("DELETE FROM leases WHERE run IS NOT NULL", [])?;
        tx.commit()?;
        Ok(Interrupted { cancelled, requeued })
    }

    /// Takes the next run for `station` (tags `tags`) and the bench's lease for it, in one
    /// transaction: interrupted runs first, then by priority, then in submission order. None
    /// when nothing waits, or a lease (a person's) holds the bench.
    pub fn claim_next(&self, station: &str, tags: &[String], lease_ttl_ms: i64) -> DbResult<Option<RunRow>> {
        let mut c = self.c();
        let tx = c.transaction()?;
        let now = now_ms();
        tx.execute("DELETE FROM leases WHERE expires_ms < ?1", [now])?;
        let held: i64 = tx.query_row("SELECT COUNT(*) FROM leases WHERE station = ?1", [station], |r| {
            r.get(0)
        })?;
        if held > 0 {
            return Ok(None);
        }
        let tags_json = serde_json::to_string(tags).unwrap_or_else(|_| "[]".into());
        let row = tx
            .query_row(
                &format!(
                    "SELECT {RUN_COLS} FROM runs WHERE state = 'queued' AND (station = ?1 OR (station IS NULL AND \
                     (tag IS NULL OR tag IN (SELECT value FROM json_each(?2))))) \
                     ORDER BY resume DESC, priority DESC, id ASC LIMIT 1"
                ),
                params![station, tags_json],
                run_row,
            )
            .optional()?;
        let Some(mut run) = row else { return Ok(None) };
        tx.execute(
            "UPDATE runs SET state = 'running', assigned = ?2, started = COALESCE(started, ?3) WHERE id = ?1",
            params![run.id, station, now_rfc3339()],
        )?;
        tx.execute(
            "INSERT INTO leases (id, station, holder, run, ttl_ms, expires_ms, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                format!("run-{}", run.id),
                station,
                format!("run {}", run.id),
                run.id,
                lease_ttl_ms,
                now + lease_ttl_ms,
                now_rfc3339()
            ],
        )?;
        tx.commit()?;
        run.state = "running".into();
        run.assigned = Some(station.to_string());
        Ok(Some(run))
    }

    /// Puts a running run back in its station's queue (its bench was in use).
    pub fn requeue(&self, run: i64) -> DbResult<()> {
        self.c().execute(
            "UPDATE runs SET state = 'queued', station = COALESCE(station, assigned) WHERE id = ?1 AND state = 'running'",
            [run],
        )?;
        Ok(())
    }

    /// Drops expired leases.
    pub fn expire_leases(&self) -> DbResult<usize> {
        self.c().execute("DELETE FROM leases WHERE expires_ms < ?1", [now_ms()])
    }

    fn lease_row(r: &rusqlite::Row, now: i64) -> DbResult<LeaseRow> {
        let ttl: i64 = r.get(4)?;
        let expires: i64 = r.get(5)?;
        Ok(LeaseRow {
            id: r.get(0)?,
            station: r.get(1)?,
            holder: r.get(2)?,
            run: r.get(3)?,
            ttl_s: ttl as f64 / 1000.0,
            expires_in_s: (expires - now).max(0) as f64 / 1000.0,
        })
    }

    pub fn leases(&self) -> DbResult<Vec<LeaseRow>> {
        self.expire_leases()?;
        let now = now_ms();
        let c = self.c();
        let mut st = c.prepare("SELECT id, station, holder, run, ttl_ms, expires_ms FROM leases ORDER BY station")?;
        let rows = st
            .query_map([], |r| Db::lease_row(r, now))?
            .collect::<DbResult<Vec<_>>>();
        rows
    }

    /// A person's lease on `station` for `ttl_ms`, refused while any lease holds it.
    pub fn take_lease(&self, station: &str, holder: &str, ttl_ms: i64) -> Result<LeaseRow, LeaseRefused> {
        let mut c = self.c();
        let tx = c.transaction()?;
        let now = now_ms();
        tx.execute("DELETE FROM leases WHERE expires_ms < ?1", [now])?;
        let held = tx
            .query_row(
                "SELECT id, station, holder, run, ttl_ms, expires_ms FROM leases WHERE station = ?1",
                [station],
                |r| Db::lease_row(r, now),
            )
            .optional()?;
        if let Some(h) = held {
            return Err(LeaseRefused::Held(h));
        }
        let mut bytes = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let id = format!("lease-{}", hex::encode(bytes));
        tx.execute(
            "INSERT INTO leases (id, station, holder, run, ttl_ms, expires_ms, created) VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
            params![id, station, holder, ttl_ms, now + ttl_ms, now_rfc3339()],
        )?;
        tx.commit()?;
        Ok(LeaseRow {
            id,
            station: station.to_string(),
            holder: holder.to_string(),
            run: None,
            ttl_s: ttl_ms as f64 / 1000.0,
            expires_in_s: ttl_ms as f64 / 1000.0,
        })
    }

    /// Extends lease `id` by its TTL from now; None when it expired or was released.
    pub fn renew_lease(&self, id: &str) -> DbResult<Option<LeaseRow>> {
        self.expire_leases()?;
        let now = now_ms();
        let c = self.c();
        c.execute(
            "UPDATE leases SET expires_ms = ?2 + ttl_ms WHERE id = ?1",
            params![id, now],
        )?;
        c.query_row(
            "SELECT id, station, holder, run, ttl_ms, expires_ms FROM leases WHERE id = ?1",
            [id],
            |r| Db::lease_row(r, now),
        )
        .optional()
    }

    pub fn release_lease(&self, id: &str) -> DbResult<bool> {
        Ok(self.c().execute("DELETE FROM leases WHERE id = ?1", [id])? == 1)
    }

    pub fn set_drained(&self, station: &str, drained: bool, reason: Option<&str>) -> DbResult<()> {
        self.c().execute(
            "INSERT INTO benches (name, drained, reason) VALUES (?1, ?2, ?3) \
             ON CONFLICT(name) DO UPDATE SET drained = ?2, reason = ?3",
            params![station, drained as i64, reason],
        )?;
        Ok(())
    }

    /// Whether `station` is drained, and why.
    pub fn drained(&self, station: &str) -> DbResult<Option<Option<String>>> {
        self.c()
            .query_row(
                "SELECT reason FROM benches WHERE name = ?1 AND drained = 1",
                [station],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
    }

    /// A station's health: `ok`, `unknown` (a rig error: `doctor` runs before its next run)
    /// or `bad` (out of service), the reason, and the rig failures in a row.
    pub fn health(&self, station: &str) -> DbResult<(String, Option<String>, i64)> {
        Ok(self
            .c()
            .query_row(
                "SELECT health, health_reason, rig_failures FROM benches WHERE name = ?1",
                [station],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .unwrap_or_else(|| ("ok".to_string(), None, 0)))
    }

    /// A station's health and drain flag read together, so a decision made on them sees one
    /// instant (two reads could straddle an admin's resume and see the drain lifted on a
    /// station still `bad`).
    pub fn bench_state(&self, station: &str) -> DbResult<BenchState> {
        Ok(self
            .c()
            .query_row(
                "SELECT health, health_reason, rig_failures, drained, reason FROM benches WHERE name = ?1",
                [station],
                |r| {
                    Ok(BenchState {
                        health: r.get(0)?,
                        health_reason: r.get(1)?,
                        rig_failures: r.get(2)?,
                        drained: (r.get::<_, i64>(3)? != 0).then(|| r.get(4)).transpose()?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Puts a drained station back in service in one statement: a `bad` one comes back as
    /// `unknown` with its count of failures reset, so the doctor checks it before its next run.
    /// Whoever reads the station sees it either drained or checked first, never in between.
    pub fn resume_bench(&self, station: &str, reason: &str) -> DbResult<()> {
        let c = self.c();
        c.execute("INSERT OR IGNORE INTO benches (name) VALUES (?1)", [station])?;
        c.execute(
            "UPDATE benches SET drained = 0, reason = NULL, \
             health_reason = CASE WHEN health = 'bad' THEN ?2 ELSE health_reason END, \
             rig_failures = CASE WHEN health = 'bad' THEN 0 ELSE rig_failures END, \
             health = CASE WHEN health = 'bad' THEN 'unknown' ELSE health END \
             WHERE name = ?1",
            params![station, reason],
        )?;
        Ok(())
    }

    /// Takes a station out of service as `bad`, drained with the same reason, in one
    /// transaction.
    pub fn mark_bad(&self, station: &str, reason: &str, failures: i64) -> DbResult<()> {
        let mut c = self.c();
        let tx = c.transaction()?;
        tx.execute("INSERT OR IGNORE INTO benches (name) VALUES (?1)", [station])?;
        tx.execute(
            "UPDATE benches SET health = 'bad', health_reason = ?2, rig_failures = ?3, drained = 1, reason = ?2 \
             WHERE name = ?1",
            params![station, reason, failures],
        )?;
        tx.commit()
    }

    /// Sets a station's health; `failures`: the new count of rig failures in a row (None:
    /// unchanged).
    pub fn set_health(&self, station: &str, health: &str, reason: Option<&str>, failures: Option<i64>) -> DbResult<()> {
        let c = self.c();
        c.execute("INSERT OR IGNORE INTO benches (name) VALUES (?1)", [station])?;
        c.execute(
            "UPDATE benches SET health = ?2, health_reason = ?3, rig_failures = COALESCE(?4, rig_failures)              WHERE name = ?1",
            params![station, health, reason, failures],
        )?;
        Ok(())
    }

    /// Whether a run waits that `station` could take.
    pub fn has_work(&self, station: &str, tags: &[String]) -> DbResult<bool> {
        let tags_json = serde_json::to_string(tags).unwrap_or_else(|_| "[]".into());
        let n: i64 = self.c().query_row(
            "SELECT COUNT(*) FROM runs WHERE state = 'queued' AND (station = ?1 OR (station IS NULL AND \
             (tag IS NULL OR tag IN (SELECT value FROM json_each(?2)))))",
            params![station, tags_json],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Runs waiting for `station` by name.
    pub fn queued_for(&self, station: &str) -> DbResult<i64> {
        self.c().query_row(
            "SELECT COUNT(*) FROM runs WHERE state = 'queued' AND station = ?1",
            [station],
            |r| r.get(0),
        )
    }

    /// The run `station` runs now.
    pub fn running_on(&self, station: &str) -> DbResult<Option<i64>> {
        self.c()
            .query_row(
                "SELECT id FROM runs WHERE state = 'running' AND assigned = ?1 ORDER BY id LIMIT 1",
                [station],
                |r| r.get(0),
            )
            .optional()
    }

    pub fn note_file(&self, sha256: &str, size: u64) -> DbResult<()> {
        self.c().execute(
            "INSERT OR IGNORE INTO files (sha256, size, first_seen) VALUES (?1, ?2, ?3)",
            params![sha256, size as i64, now_rfc3339()],
        )?;
        Ok(())
    }
}
