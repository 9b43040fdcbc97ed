//! The client verbs of the `cutpoint` command against a daemon: `submit`, `runs`, `cancel`,
//! `benches`, `lease`. The server and token come from the flags or from `CUTPOINT_SERVER` and
//! `CUTPOINT_TOKEN`. Exit codes as for a local run: 0 pass, 1 device failure, 2 bad input
//! (this includes a refused token), 3 rig error (the daemon unreachable too), 4 incomplete.

/// `println!` that does not panic when stdout is gone (`cutpoint runs | head -1`): a reader
/// that stops reading is not this command's failure.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use cutpoint_engine::exit::{BAD_INPUT, INCOMPLETE, PASS, RIG_ERROR};

use crate::upload::{Submission, UploadFile};

/// The daemon's URL when neither `--server` nor `CUTPOINT_SERVER` gives one.
pub fn default_server() -> String {
    format!("http://127.0.0.1:{}", crate::lab::DEFAULT_PORT)
}

/// A connection to a daemon.
pub struct Conn {
    server: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A request that did not get a 2xx answer, with the exit code it stands for.
#[derive(Debug)]
pub struct Failed {
    pub code: i32,
    pub message: String,
}

impl Conn {
    /// `server`: the flag's value, else `CUTPOINT_SERVER`, else the default; the token likewise
    /// from `CUTPOINT_TOKEN`.
    pub fn new(server: Option<String>, token: Option<String>) -> Conn {
        let server = server
            .or_else(|| std::env::var("CUTPOINT_SERVER").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(default_server);
        let token = token.or_else(|| std::env::var("CUTPOINT_TOKEN").ok().filter(|s| !s.is_empty()));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Conn {
            server: server.trim_end_matches('/').to_string(),
            token,
            agent,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    fn unreachable(&self, e: ureq::Error) -> Failed {
        Failed {
            code: RIG_ERROR,
            message: format!(
                "cannot reach the daemon at {}: {e}; start it with `cutpoint daemon`, or give --server / CUTPOINT_SERVER",
                self.server
            ),
        }
    }

    fn answer(
        &self,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>, Failed> {
        let mut r = r.map_err(|e| self.unreachable(e))?;
        let status = r.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(r);
        }
        let text = r.body_mut().read_to_string().unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or(text);
        let code = if status >= 500 { RIG_ERROR } else { BAD_INPUT };
        Err(Failed {
            code,
            message: format!("{} ({status}): {message}", self.server),
        })
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }

    /// A GET, asked once more when the connection closed before the answer came: a GET changes
    /// nothing, and a daemon under load (or a proxy) may drop a connection as it arrives.
    pub fn get(&self, path: &str) -> Result<ureq::http::Response<ureq::Body>, Failed> {
        let url = self.url(path);
        let r = match self.auth(self.agent.get(&url)).call() {
            Err(e) if dropped(&e) => {
                tracing::info!("GET {url}: {e}; asking again");
                self.auth(self.agent.get(&url)).call()
            }
            r => r,
        };
        self.answer(r)
    }

    /// [`Conn::get`] and its JSON body, asked once more when the connection closed part-way.
    pub fn get_json(&self, path: &str) -> Result<Value, Failed> {
        let mut r = self.get(path)?;
        match read_body(&mut r) {
            Err(e) if dropped(&e) => read_json(&mut self.get(path)?),
            Err(e) => Err(unreadable(e)),
            Ok(text) => parse_json(&text),
        }
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value, Failed> {
        let req = self
            .auth(self.agent.post(&self.url(path)))
            .content_type("application/json");
        let mut r = self.answer(req.send(body.to_string()))?;
        read_json(&mut r)
    }

    /// POSTs `bytes` as they are (JSON by its content type).
    pub fn post_bytes(&self, path: &str, bytes: &[u8]) -> Result<Value, Failed> {
        let req = self
            .auth(self.agent.post(&self.url(path)))
            .content_type("application/json");
        let mut r = self.answer(req.send(bytes))?;
        read_json(&mut r)
    }

    /// Run `id`'s server-sent events after `last_event_id` (all of them with `None`).
    pub fn event_stream(&self, id: i64, last_event_id: Option<&str>) -> Result<impl Read, Failed> {
        let mut req = self.auth(self.agent.get(&self.url(&format!("/v1/runs/{id}/events"))));
        if let Some(l) = last_event_id {
            req = req.header("Last-Event-ID", l);
        }
        Ok(self.answer(req.call())?.into_body().into_reader())
    }

    pub fn delete(&self, path: &str) -> Result<Value, Failed> {
        let mut r = self.answer(self.auth(self.agent.delete(&self.url(path))).call())?;
        read_json(&mut r)
    }
}

/// Whether `e` is a connection closed before the whole answer came.
fn dropped(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(e, ureq::Error::Io(io) if matches!(
        io.kind(),
        K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
    ))
}

fn read_body(r: &mut ureq::http::Response<ureq::Body>) -> Result<String, ureq::Error> {
    r.body_mut().with_config().limit(256 << 20).read_to_string()
}

fn unreadable(e: ureq::Error) -> Failed {
    Failed {
        code: RIG_ERROR,
        message: format!("reading the daemon's answer: {e}"),
    }
}

fn parse_json(text: &str) -> Result<Value, Failed> {
    serde_json::from_str(text).map_err(|e| Failed {
        code: RIG_ERROR,
        message: format!("the daemon's answer is not JSON: {e}"),
    })
}

fn read_json(r: &mut ureq::http::Response<ureq::Body>) -> Result<Value, Failed> {
    parse_json(&read_body(r).map_err(unreadable)?)
}

fn report(f: Failed) -> i32 {
    eprintln!("cutpoint: {}", f.message);
    f.code
}

fn absolute(p: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(p)
}

/// The deepest folder holding every file.
fn common_root(files: &[PathBuf]) -> PathBuf {
    let mut root: Option<PathBuf> = None;
    for f in files {
        let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
        root = Some(match root {
            None => dir,
            Some(r) => {
                let mut common = PathBuf::new();
                for (a, b) in r.components().zip(dir.components()) {
                    if a != b {
                        break;
                    }
                    common.push(a);
                }
                common
            }
        });
    }
    root.unwrap_or_default()
}

fn slash_path(p: &Path) -> String {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A campaign and every file it names, read for upload. Err: the exit code (printed).
pub fn build_submission(campaign: &Path) -> Result<Submission, i32> {
    let c = cutpoint_campaign::load_campaign(campaign).map_err(|errors| {
        eprintln!("{}", cutpoint_campaign::format_errors(&errors));
        BAD_INPUT
    })?;
    let mut abs = Vec::new();
    for f in crate::upload::named_files(&c) {
        abs.push(absolute(&f).map_err(|e| {
            eprintln!("{}: {e}", f.display());
            BAD_INPUT
        })?);
    }
    let root = common_root(&abs);
    let cwd = std::env::current_dir().ok().and_then(|d| absolute(&d).ok());
    let root_display = match cwd.as_ref().and_then(|d| root.strip_prefix(d).ok()) {
        Some(rel) if rel.as_os_str().is_empty() => String::new(),
        Some(rel) => rel.display().to_string(),
        None => root.display().to_string(),
    };
    let mut files: Vec<UploadFile> = Vec::new();
    for f in &abs {
        let rel = slash_path(f.strip_prefix(&root).unwrap_or(f));
        if files.iter().any(|u| u.path == rel) {
            continue;
        }
        let bytes = std::fs::read(f).map_err(|e| {
            eprintln!("{}: {e}", f.display());
            BAD_INPUT
        })?;
        files.push(UploadFile {
            path: rel,
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        });
    }
    Ok(Submission {
        campaign: campaign.display().to_string(),
        root: root_display,
        campaign_file: slash_path(abs[0].strip_prefix(&root).unwrap_or(&abs[0])),
        files,
        station: None,
        tag: None,
        partition: None,
        priority: None,
    })
}

/// What `cutpoint submit` was asked for.
pub struct SubmitArgs {
    pub campaign: PathBuf,
    pub server: Option<String>,
    pub token: Option<String>,
    pub station: Option<String>,
    pub tag: Option<String>,
    pub partition: Option<String>,
    pub priority: Option<String>,
    pub wait: bool,
    pub out: Option<PathBuf>,
}

pub fn submit(a: SubmitArgs) -> i32 {
    let mut sub = match build_submission(&a.campaign) {
        Ok(s) => s,
        Err(code) => return code,
    };
    sub.station = a.station;
    sub.tag = a.tag;
    sub.partition = a.partition;
    sub.priority = a.priority;
    // Ctrl-C from here on cancels the run (once it exists); a second one leaves at once. So do
    // SIGTERM (a CI job's cancel or timeout) and SIGHUP (the terminal gone): a waiting client
    // that dies without a word would leave its run holding the bench.
    let interrupted = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    if a.wait {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        for (signal, code) in [(SIGINT, 130), (SIGTERM, 143), (SIGHUP, 129)] {
            let _ = signal_hook::flag::register_conditional_shutdown(signal, code, Arc::clone(&interrupted));
            let _ = signal_hook::flag::register(signal, Arc::clone(&interrupted));
        }
    }
    let conn = Conn::new(a.server, a.token);
    let body = match serde_json::to_value(&sub) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cutpoint: {e}");
            return RIG_ERROR;
        }
    };
    let run = match conn.post_json("/v1/runs", &body) {
        Ok(r) => r,
        Err(f) => return report(f),
    };
    let id = run.get("id").and_then(Value::as_i64).unwrap_or(0);
    outln!("{}", conn.url(&format!("/v1/runs/{id}")));
    if !a.wait {
        return PASS;
    }
    let name = run.get("name").and_then(Value::as_str).unwrap_or("run").to_string();
    let code = follow(&conn, id, &interrupted);
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from("reports").join(format!("{name}-run{id}")));
    match download(&conn, id, &out) {
        Ok(true) => eprintln!("cutpoint: reports of run {id} in {}", out.display()),
        Ok(false) => {}
        Err(f) => {
            eprintln!("cutpoint: downloading the reports: {}", f.message);
            if code == PASS {
                return f.code;
            }
        }
    }
    code
}

/// One server-sent event.
#[derive(Debug, Default, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

/// Reads server-sent events from `r`, calling `on` for each (and with `None` on every
/// keep-alive comment); stops when `on` returns false. Ok(true): stopped by `on`.
pub fn read_sse(r: impl Read, mut on: impl FnMut(Option<&SseEvent>) -> bool) -> std::io::Result<bool> {
    let mut lines = BufReader::new(r);
    let mut cur = SseEvent::default();
    let mut has = false;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(false);
        }
        let l = line.trim_end_matches(['\n', '\r']);
        if l.is_empty() {
            if has && !on(Some(&cur)) {
                return Ok(true);
            }
            cur = SseEvent::default();
            has = false;
            continue;
        }
        if l.starts_with(':') {
            if !on(None) {
                return Ok(true);
            }
            continue;
        }
        let (field, value) = l
            .split_once(':')
            .map_or((l, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
        match field {
            "id" => cur.id = Some(value.to_string()),
            "event" => cur.event = value.to_string(),
            "data" => {
                if !cur.data.is_empty() {
                    cur.data.push('\n');
                }
                cur.data.push_str(value);
            }
            _ => {}
        }
        has = true;
    }
}

/// Follows run `id`'s events until its end, showing progress on stderr; Ctrl-C cancels the
/// run on the daemon (a second one leaves at once). A dropped stream is resumed with
/// Last-Event-ID. Returns the run's exit code.
fn follow(conn: &Conn, id: i64, interrupted: &AtomicBool) -> i32 {
    let mut view = View::default();
    let mut last: Option<String> = None;
    let mut cancel_sent = false;
    let mut failures = 0;
    loop {
        let resp = match conn.event_stream(id, last.as_deref()) {
            Ok(r) => r,
            // The daemon restarting (a reboot of the lab machine): wait for it up to two minutes.
            Err(f) if f.code == RIG_ERROR && failures < 120 => {
                failures += 1;
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            Err(f) => return report(f),
        };
        let mut end: Option<i32> = None;
        let read = read_sse(resp, |e| {
            if interrupted.load(Ordering::SeqCst) && !cancel_sent {
                cancel_sent = true;
                eprintln!("cutpoint: cancelling run {id} on the daemon (Ctrl-C again leaves at once)");
                if let Err(f) = conn.post_json(&format!("/v1/runs/{id}/cancel"), &json!({})) {
                    eprintln!("cutpoint: {}", f.message);
                }
            }
            let Some(e) = e else { return true };
            last = e.id.clone();
            if let Some(code) = view.event(e) {
                end = Some(code);
                return false;
            }
            true
        });
        if let Some(code) = end {
            return code;
        }
        match read {
            Ok(_) => failures = 0,
            Err(e) if failures < 120 => {
                failures += 1;
                tracing::info!("event stream dropped ({e}); resuming after event {last:?}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => {
                eprintln!("cutpoint: lost the event stream of run {id}: {e}");
                return RIG_ERROR;
            }
        }
        // The stream ended without the run's end (the daemon restarted): resume it.
        failures += 1;
        if failures > 120 {
            eprintln!("cutpoint: the daemon keeps closing the event stream of run {id}");
            return RIG_ERROR;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The progress view of a followed run (the same lines as a local run without a terminal).
#[derive(Default)]
struct View {
    total: usize,
    done: usize,
    next_line: usize,
    started: Option<Instant>,
}

impl View {
    /// Shows `e`; the exit code when it is the run's end.
    fn event(&mut self, e: &SseEvent) -> Option<i32> {
        let v: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
        match e.event.as_str() {
            "queued" => eprintln!("cutpoint: queued ({} priority)", s("priority")),
            "requeued" | "interrupted" => eprintln!("cutpoint: {}", s("why")),
            "started" => {
                self.started.get_or_insert_with(Instant::now);
                eprintln!(
                    "cutpoint: {} on station {}{}",
                    if v.get("resumed").and_then(Value::as_bool) == Some(true) {
                        "resumed"
                    } else {
                        "started"
                    },
                    s("station"),
                    format_args!(" ({})", s("target"))
                );
            }
            "control" => eprintln!("control run: {} ({} console lines)", s("status"), n("console_lines")),
            "planned" => {
                self.total = n("total");
                self.done = n("already_done");
                eprintln!("{} cut points planned, {} already done", self.total, self.done);
                self.next_line = self.done;
            }
            "cut" => {
                self.done += 1;
                let status = s("status");
                if status != "pass" {
                    let label = if v.get("expected").and_then(Value::as_bool) == Some(true) {
                        "FAIL (expected)".to_string()
                    } else {
                        status.to_uppercase()
                    };
                    let reason = v
                        .get("reasons")
                        .and_then(|r| r.get(0))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    eprintln!("{label} {}: {reason}", s("id"));
                }
                if self.done >= self.next_line {
                    eprintln!("progress: {}/{} cut points", self.done, self.total);
                    self.next_line = self.done + (self.total / 10).max(1);
                }
            }
            "end" => {
                let code = v
                    .get("exit_code")
                    .and_then(Value::as_i64)
                    .unwrap_or(i64::from(RIG_ERROR)) as i32;
                let (err, out) = end_lines(&v);
                for l in err {
                    eprintln!("{l}");
                }
                outln!("{out}");
                return Some(if s("state") == "cancelled" { INCOMPLETE } else { code });
            }
            _ => {}
        }
        None
    }
}

/// What a run's `end` event prints: the lines for stderr and the one for stdout. A negative
/// control's failures (`expected` in the event) are labelled as expected.
fn end_lines(v: &Value) -> (Vec<String>, String) {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
    let expected = v.get("expected").and_then(Value::as_bool) == Some(true);
    let label = if expected {
        ", as expected (negative control)"
    } else {
        ""
    };
    let mut err = Vec::new();
    if !s("message").is_empty() {
        err.push(format!("cutpoint: {}", s("message")));
    }
    err.push(format!(
        "cutpoint: run {}: {} cut points: {} passed, {} failed{label}, {} rig errors",
        s("state"),
        n("passed") + n("failed") + n("errors"),
        n("passed"),
        n("failed"),
        n("errors")
    ));
    (err, format!("{} passed, {} failed{label}", n("passed"), n("failed")))
}

/// Downloads run `id`'s report directory into `out`. Ok(false): it has none.
pub fn download(conn: &Conn, id: i64, out: &Path) -> Result<bool, Failed> {
    let r = conn
        .auth(conn.agent.get(&conn.url(&format!("/v1/runs/{id}/archive"))))
        .call();
    let r = match conn.answer(r) {
        Ok(r) => r,
        Err(f) if f.code == BAD_INPUT => return Ok(false),
        Err(f) => return Err(f),
    };
    let io = |e: std::io::Error| Failed {
        code: RIG_ERROR,
        message: format!("{}: {e}", out.display()),
    };
    std::fs::create_dir_all(out).map_err(io)?;
    let gz = flate2::read::GzDecoder::new(r.into_body().into_reader());
    let mut ar = tar::Archive::new(gz);
    for entry in ar.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let path = entry.path().map_err(io)?.into_owned();
        // `run-<id>/...`: the part after the first folder, inside `out`.
        let rel: PathBuf = path
            .components()
            .skip(1)
            .map(|c| match c {
                Component::Normal(s) => Ok(s.to_owned()),
                _ => Err(std::io::Error::other(format!(
                    "unsafe path in the archive: {}",
                    path.display()
                ))),
            })
            .collect::<Result<_, _>>()
            .map_err(io)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let to = out.join(rel);
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).map_err(io)?;
        }
        entry.unpack(&to).map_err(io)?;
    }
    Ok(true)
}

fn run_line(r: &Value) -> String {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let n = |k: &str| r.get(k).and_then(Value::as_i64).unwrap_or(0);
    let on = r
        .get("assigned")
        .and_then(Value::as_str)
        .or_else(|| r.get("station").and_then(Value::as_str))
        .map(str::to_string)
        .or_else(|| r.get("tag").and_then(Value::as_str).map(|t| format!("tag:{t}")))
        .unwrap_or_else(|| "any".into());
    let planned = r
        .get("planned")
        .and_then(Value::as_i64)
        .map_or("-".into(), |p| p.to_string());
    let code = r
        .get("exit_code")
        .and_then(Value::as_i64)
        .map_or("-".into(), |c| c.to_string());
    // A negative control's failures are what it expects: its exit 0 says the rig caught them.
    let expected = r.get("negative").and_then(Value::as_bool) == Some(true) && n("failed") > 0;
    format!(
        "{:>5}  {:<10} {:<8} {:<12} {:<28} {:>3}/{:<5} pass {} fail {}{} err {}  exit {}",
        n("id"),
        s("state"),
        s("priority_name"),
        on,
        s("name"),
        n("passed") + n("failed") + n("errors"),
        planned,
        n("passed"),
        n("failed"),
        if expected { " (expected: negative control)" } else { "" },
        n("errors"),
        code
    )
}

pub fn runs(server: Option<String>, token: Option<String>, json_out: bool) -> i32 {
    let conn = Conn::new(server, token);
    match conn.get_json("/v1/runs") {
        Ok(v) => {
            if json_out {
                outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                for r in v.as_array().into_iter().flatten() {
                    outln!("{}", run_line(r));
                }
            }
            PASS
        }
        Err(f) => report(f),
    }
}

/// `RUN` as a number, or the id at the end of a run URL.
pub fn run_id(s: &str) -> Option<i64> {
    s.trim_end_matches('/').rsplit('/').next()?.parse().ok()
}

/// `cutpoint replay --server URL RUN CUT_ID`: the daemon re-runs one cut point of a run on
/// the same station (same id, same seed) before its other queued runs; this follows it and
/// compares the outcome and post-cut flash with the recorded ones. Exit: a replay that differs
/// from the record is the rig's failure (3); one that matches exits as its verdict.
pub fn replay(server: Option<String>, token: Option<String>, run: &str, cut_id: &str) -> i32 {
    let Some(id) = run_id(run) else {
        eprintln!("cutpoint: `{run}`: expected a run number or its URL");
        return BAD_INPUT;
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    {
        use signal_hook::consts::SIGINT;
        let _ = signal_hook::flag::register_conditional_shutdown(SIGINT, 130, Arc::clone(&interrupted));
        let _ = signal_hook::flag::register(SIGINT, Arc::clone(&interrupted));
    }
    let conn = Conn::new(server, token);
    let r = match conn.post_json(&format!("/v1/runs/{id}/replay"), &json!({"cut_id": cut_id})) {
        Ok(r) => r,
        Err(f) => return report(f),
    };
    let new = r.get("id").and_then(Value::as_i64).unwrap_or(0);
    outln!("{}", conn.url(&format!("/v1/runs/{new}")));
    let code = follow(&conn, new, &interrupted);
    if ![PASS, cutpoint_engine::exit::FAIL].contains(&code) {
        return code;
    }
    let journal = match conn.get(&format!("/v1/runs/{new}/reports/results.jsonl")) {
        Ok(mut resp) => resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .unwrap_or_default(),
        Err(f) => return report(f),
    };
    let replayed = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            v.get("record").and_then(Value::as_str) == Some("cut")
                && v.get("id").and_then(Value::as_str) == Some(cut_id)
        });
    let Some(replayed) = replayed else {
        eprintln!("cutpoint: cut point `{cut_id}` is no longer in the campaign's plan");
        return BAD_INPUT;
    };
    let recorded = r.get("recorded").cloned().unwrap_or(Value::Null);
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let (rec_state, rep_state) = (field(&recorded, "post_cut_state"), field(&replayed, "post_cut_state"));
    let same_bits = rec_state == rep_state;
    let status = field(&replayed, "status");
    let same_outcome = same_outcome(&recorded, &replayed);
    outln!(
        "post-cut flash: {} (recorded {rec_state}, replayed {rep_state})",
        match (same_bits, rep_state != "-") {
            (_, false) => "not fingerprinted on a bench",
            (true, true) => "identical",
            (false, true) => "DIFFERENT",
        }
    );
    outln!(
        "outcome: {} the recorded one ({})",
        if same_outcome { "matches" } else { "DIFFERS from" },
        field(&recorded, "status")
    );
    let negative = r.get("negative").and_then(Value::as_bool) == Some(true);
    outln!("verdict: {}", replay_verdict_label(&status, negative));
    if !(same_bits && same_outcome) {
        return RIG_ERROR;
    }
    match status.as_str() {
        "pass" => PASS,
        // A negative control's failing cut: exit 0, as its report exits for it.
        "fail" if negative => PASS,
        "fail" => cutpoint_engine::exit::FAIL,
        _ => RIG_ERROR,
    }
}

/// Whether a replayed cut record has the recorded one's outcome: the same status, first boot
/// and final image, as a local replay compares them. The status alone is not enough: a
/// negative control's cut that bricks on replay where it booted the old image when recorded
/// fails both times, and a bench has no post-cut fingerprint to tell them apart.
fn same_outcome(recorded: &Value, replayed: &Value) -> bool {
    let get = |v: &Value, k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    ["status", "first_boot", "final_image"]
        .iter()
        .all(|k| get(recorded, k) == get(replayed, k))
}

/// A replayed cut's verdict as printed: a negative control's failure is labelled expected.
pub fn replay_verdict_label(status: &str, negative: bool) -> String {
    if negative && status == "fail" {
        "fail (expected: this campaign is a negative control)".to_string()
    } else {
        status.to_string()
    }
}

pub fn cancel(server: Option<String>, token: Option<String>, run: &str) -> i32 {
    let Some(id) = run_id(run) else {
        eprintln!("cutpoint: `{run}`: expected a run number or its URL");
        return BAD_INPUT;
    };
    let conn = Conn::new(server, token);
    match conn.post_json(&format!("/v1/runs/{id}/cancel"), &json!({})) {
        Ok(v) => {
            outln!("{}", v.get("message").and_then(Value::as_str).unwrap_or("cancel sent"));
            PASS
        }
        Err(f) => report(f),
    }
}

/// What `cutpoint benches` changes before it lists them.
pub enum BenchAction {
    Drain { station: String, reason: Option<String> },
    Resume { station: String },
}

pub fn benches(server: Option<String>, token: Option<String>, json_out: bool, action: Option<BenchAction>) -> i32 {
    let conn = Conn::new(server, token);
    let changed = match &action {
        Some(BenchAction::Drain { station, reason }) => {
            conn.post_json(&format!("/v1/benches/{station}/drain"), &json!({"reason": reason}))
        }
        Some(BenchAction::Resume { station }) => conn.post_json(&format!("/v1/benches/{station}/resume"), &json!({})),
        None => Ok(Value::Null),
    };
    if let Err(f) = changed {
        return report(f);
    }
    match conn.get_json("/v1/benches") {
        Ok(v) => {
            if json_out {
                outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return PASS;
            }
            for b in v.as_array().into_iter().flatten() {
                let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let mut line = format!("{:<12} {:<9} {}", s("name"), s("state"), s("kind"));
                let tags: Vec<&str> = b
                    .get("tags")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if !tags.is_empty() {
                    line.push_str(&format!("; tags {}", tags.join(", ")));
                }
                if let Some(r) = b.get("current_run").and_then(Value::as_i64) {
                    line.push_str(&format!("; running run {r}"));
                }
                if let Some(l) = b.get("lease").filter(|l| !l.is_null()) {
                    line.push_str(&format!(
                        "; leased by {} ({:.0} s left)",
                        l.get("holder").and_then(Value::as_str).unwrap_or("?"),
                        l.get("expires_in_s").and_then(Value::as_f64).unwrap_or(0.0)
                    ));
                }
                if let Some(q) = b.get("queued").and_then(Value::as_i64).filter(|q| *q > 0) {
                    line.push_str(&format!("; {q} queued"));
                }
                let health = s("health");
                if !health.is_empty() && health != "ok" && b.get("drain_reason").is_none_or(Value::is_null) {
                    line.push_str(&format!("; health {health}: {}", s("health_reason")));
                }
                if let Some(r) = b.get("drain_reason").and_then(Value::as_str) {
                    line.push_str(&format!("; drained: {r}"));
                }
                outln!("{line}");
            }
            PASS
        }
        Err(f) => report(f),
    }
}

/// `30m`, `90s`, `1h`, `45` (seconds).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Takes a lease on `station` and holds it, renewing it, until Ctrl-C (then releases it). When
/// this process dies, the lease expires by itself after its TTL.
pub fn lease(server: Option<String>, token: Option<String>, station: &str, ttl: &str, holder: Option<String>) -> i32 {
    let Some(ttl) = parse_duration(ttl) else {
        eprintln!("cutpoint: --ttl {ttl}: expected a duration like 30m, 90s or 1h");
        return BAD_INPUT;
    };
    let conn = Conn::new(server, token);
    let holder = holder.unwrap_or_else(|| {
        let user = std::env::var("USER").unwrap_or_else(|_| "someone".into());
        format!("{user} (cutpoint lease)")
    });
    let l = match conn.post_json(
        "/v1/leases",
        &json!({"station": station, "ttl_s": ttl.as_secs_f64(), "holder": holder}),
    ) {
        Ok(l) => l,
        Err(f) => return report(f),
    };
    let id = l.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    outln!("{id}");
    eprintln!(
        "cutpoint: station {station} is yours (lease {id}, TTL {:.0} s, renewed while this runs); Ctrl-C releases it",
        ttl.as_secs_f64()
    );
    let stop = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    {
        let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop));
        let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop));
    }
    let every = (ttl / 3).max(Duration::from_millis(100));
    let mut last = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() >= every {
            if let Err(f) = conn.post_json(&format!("/v1/leases/{id}/renew"), &json!({})) {
                return report(f);
            }
            last = Instant::now();
        }
    }
    match conn.delete(&format!("/v1/leases/{id}")) {
        Ok(_) => {
            eprintln!("cutpoint: lease {id} released");
            PASS
        }
        Err(f) => report(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_matches_only_with_the_same_status_first_boot_and_final_image() {
        let recorded = json!({"id": "swap/sector-3", "status": "fail", "first_boot": "old", "final_image": "old",
                              "post_cut_state": "-"});
        assert!(same_outcome(&recorded, &recorded.clone()));
        // Fails both times, but bricks where it booted the old image when recorded.
        let bricked = json!({"id": "swap/sector-3", "status": "fail", "first_boot": null, "final_image": null});
        assert!(!same_outcome(&recorded, &bricked));
        let new_image = json!({"id": "swap/sector-3", "status": "fail", "first_boot": "old", "final_image": "new"});
        assert!(!same_outcome(&recorded, &new_image));
        // A field a record leaves out reads as null.
        let terse = json!({"status": "pass"});
        assert!(same_outcome(&terse, &json!({"status": "pass", "first_boot": null})));
    }

    #[test]
    fn a_negative_controls_failures_read_as_expected_in_runs_and_at_the_end() {
        let run = |negative: bool, failed: i64| {
            json!({"id": 5, "state": "finished", "priority_name": "manual", "assigned": "sim-a",
                   "name": "known-bug-torn-magic-revert", "planned": 1025, "passed": 1025 - failed,
                   "failed": failed, "errors": 0, "exit_code": if negative == (failed > 0) { 0 } else { 1 },
                   "negative": negative})
        };
        let end = |negative: bool, failed: i64| {
            let expected = negative && failed > 0;
            json!({"type": "end", "state": "finished", "outcome": "pass", "exit_code": 0, "planned": 1025,
                   "passed": 1025 - failed, "failed": failed, "errors": 0, "negative": negative,
                   "expected": expected, "message": if expected {
                       "negative control: 12 of 1025 cut points failed, as expected (the rig caught the broken firmware)"
                   } else { "" }})
        };
        let mut text = String::new();
        for (negative, failed) in [(true, 12), (false, 12), (true, 0), (false, 0)] {
            text += &format!(
                "negative {negative}, {failed} failed:\n{}\n",
                run_line(&run(negative, failed))
            );
            let (err, out) = end_lines(&end(negative, failed));
            text += &format!("{}\n{out}\n\n", err.join("\n"));
        }
        text += &format!(
            "replay: {} | {} | {}\n",
            replay_verdict_label("fail", true),
            replay_verdict_label("fail", false),
            replay_verdict_label("pass", true)
        );
        insta::assert_snapshot!(text);
    }

    /// A server on loopback that closes the first `drops` connections as soon as it has read
    /// their request, then answers `{"ok":true}`; returns its URL.
    fn dropping_server(drops: usize) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|k| k > 2) {
                    line.clear();
                }
                if n >= drops {
                    let body = "{\"ok\":true}";
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            }
        });
        url
    }

    #[test]
    fn a_get_whose_connection_closes_before_the_answer_is_asked_once_more() {
        let conn = Conn::new(Some(dropping_server(1)), None);
        assert_eq!(conn.get_json("/v1/runs/1").unwrap(), json!({"ok": true}));
        // Twice in a row is the daemon's trouble: a rig error that says what happened.
        let conn = Conn::new(Some(dropping_server(2)), None);
        let f = conn.get_json("/v1/runs/1").unwrap_err();
        assert_eq!(f.code, RIG_ERROR);
        assert!(f.message.contains("cannot reach the daemon"), "{}", f.message);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("0"), None);
    }

    #[test]
    fn sse_events_and_keep_alives() {
        let text = "id: 3\nevent: cut\ndata: {\"a\":1}\n\n:\n\nid: 4\nevent: end\ndata: x\ndata: y\n\n";
        let mut seen = Vec::new();
        let mut pings = 0;
        read_sse(text.as_bytes(), |e| {
            match e {
                Some(e) => seen.push((e.id.clone(), e.event.clone(), e.data.clone())),
                None => pings += 1,
            }
            true
        })
        .unwrap();
        assert_eq!(pings, 1);
        assert_eq!(
            seen,
            [
                (Some("3".into()), "cut".into(), "{\"a\":1}".into()),
                (Some("4".into()), "end".into(), "x\ny".into())
            ]
        );
    }

    #[test]
    fn run_ids_from_numbers_and_urls() {
        assert_eq!(run_id("12"), Some(12));
        assert_eq!(run_id("http://127.0.0.1:7350/v1/runs/7"), Some(7));
        assert_eq!(run_id("x"), None);
    }
}
