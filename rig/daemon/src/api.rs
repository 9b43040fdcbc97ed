//! The HTTP API, versioned under `/v1`, JSON. Every route checks the bearer token's scope
//! first: none or an unknown one is 401, one without the scope 403 (with no tokens file, on
//! loopback, every request is allowed).
//!
//! | route | scope | what |
//! | --- | --- | --- |
//! | `POST /v1/runs` | submit | queue a run: [`crate::upload::Submission`] |
//! | `GET /v1/runs`, `GET /v1/runs/{id}` | read | runs, newest first / one run |
//! | `POST /v1/runs/{id}/cancel` | submit | cancel a queued or running run |
//! | `POST /v1/runs/{id}/replay` | submit | `{cut_id}`: a run of that one cut point, first in the queue |
//! | `GET /v1/runs/{id}/events` | read | server-sent events, resumable with `Last-Event-ID` |
//! | `GET /v1/runs/{id}/reports/{file}` | read | junit.xml, summary.md, report.html, results.jsonl |
//! | `GET /v1/runs/{id}/archive` | read | the report directory with its artifacts, tar.gz |
//! | `GET /v1/benches` | read | stations: state, current run, lease, queue |
//! | `POST /v1/benches/{name}/drain`, `.../resume` | admin | stop / restart taking runs |
//! | `GET /v1/leases`, `POST /v1/leases` | read / submit | leases; take one `{station, ttl_s, holder}` |
//! | `POST /v1/leases/{id}/renew`, `DELETE /v1/leases/{id}` | submit | renew / release |
//! | `GET /v1/runs/{id}/cut/console.log?id=CUT`, `.../cut/state.json?id=CUT` | read | one cut point's console, and its decoded flash (slots, where the cut landed), from the run's journal |
//! | `GET /` | read | the live page ([`crate::live`]); `/?token=TOKEN` once keeps a read token in a cookie |
//!
//! A browser passes its token as a cookie (`cutpoint_token`, set by `/?token=`); a cookie
//! allows reading only, so a page cannot be made to submit or drain.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Scope;
use crate::db::LeaseRefused;
use crate::station::report_dir;
use crate::Daemon;

type D = State<Arc<Daemon>>;

/// An error answer: a status and `{"error": message}`.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

fn db_error(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("database: {e}"))
}

type Answer = Result<Response, ApiError>;

/// The cookie a browser keeps its token in (set by `/?token=`).
pub const TOKEN_COOKIE: &str = "cutpoint_token";

/// The token of the `cutpoint_token` cookie.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix(TOKEN_COOKIE)?
                .strip_prefix('=')
                .map(percent_decode)
        })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token's name when the request may do what `need` allows.
fn authorize(d: &Daemon, headers: &HeaderMap, need: Scope) -> Result<Option<String>, ApiError> {
    let Some(tokens) = &d.tokens else { return Ok(None) };
    let unauthorized = |m: &str| ApiError(StatusCode::UNAUTHORIZED, m.to_string());
    let (token, from_cookie) = match headers.get(header::AUTHORIZATION) {
        Some(value) => (
            value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| unauthorized("expected `Authorization: Bearer TOKEN`"))?
                .to_string(),
            false,
        ),
        None => match cookie_token(headers) {
            Some(t) => (t, true),
            None => {
                return Err(unauthorized(
                    "this daemon needs a token: `Authorization: Bearer TOKEN` (CUTPOINT_TOKEN)",
                ))
            }
        },
    };
    let entry = tokens.find(token.trim()).ok_or_else(|| unauthorized("unknown token"))?;
    if from_cookie && need > Scope::Read {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "a browser's cookie allows reading only; this needs `{}`: send `Authorization: Bearer TOKEN`",
                need.name()
            ),
        ));
    }
    if entry.scope < need {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` has scope `{}`; this needs `{}`",
                entry.name,
                entry.scope.name(),
                need.name()
            ),
        ));
    }
    Ok(Some(entry.name.clone()))
}

pub fn router(d: Arc<Daemon>) -> Router {
    let limit = d.lab.max_upload_bytes;
    Router::new()
        // The upload limit is the submit handler's own: it answers 413 after reading the body.
        .route(
            "/v1/runs",
            post(submit).layer(DefaultBodyLimit::disable()).get(list_runs),
        )
        .route("/v1/runs/{id}", get(get_run))
        .route("/v1/runs/{id}/cancel", post(cancel))
        .route("/v1/runs/{id}/replay", post(replay))
        .route("/v1/runs/{id}/events", get(events))
        .route("/v1/runs/{id}/reports/{file}", get(report_file))
        .route("/v1/runs/{id}/archive", get(archive))
        .route("/v1/runs/{id}/cut/{file}", get(cut_file))
        .route("/", get(page))
        .route("/v1/benches", get(benches))
        .route("/v1/benches/{name}/drain", post(drain))
        .route("/v1/benches/{name}/resume", post(resume))
        .route("/v1/leases", get(leases).post(take_lease))
        .route("/v1/leases/{id}/renew", post(renew_lease))
        .route("/v1/leases/{id}", axum::routing::delete(release_lease))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(d)
}

/// Says where it listens, and serves until SIGTERM or SIGINT.
pub async fn serve_http(d: Arc<Daemon>, listener: tokio::net::TcpListener, addr_file: Option<PathBuf>) -> i32 {
    let addr = listener.local_addr().unwrap_or(d.lab.listen);
    println!(
        "cutpoint daemon: listening on http://{addr} ({} station{}; data in {})",
        d.lab.stations.len(),
        if d.lab.stations.len() == 1 { "" } else { "s" },
        d.lab.data_dir.display()
    );
    if let Some(f) = &addr_file {
        if let Err(e) = std::fs::write(f, format!("http://{addr}\n")) {
            eprintln!("cutpoint daemon: {}: {e}", f.display());
        }
    }
    let app = router(Arc::clone(&d));
    // Ready for systemd (Type=notify): the database is open, the stations are in their safe
    // state and the address is bound. The watchdog is fed while the database answers.
    crate::notify::ready(&format!("listening on http://{addr}"));
    if let Some(every) = crate::notify::watchdog_interval() {
        let d = Arc::clone(&d);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let d2 = Arc::clone(&d);
                let alive = tokio::task::spawn_blocking(move || d2.db.journal_mode().is_ok())
                    .await
                    .unwrap_or(false);
                if alive {
                    crate::notify::watchdog();
                }
            }
        });
    }
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
                (Ok(mut t), Ok(mut i)) => {
                    tokio::select! {
                        _ = t.recv() => {}
                        _ = i.recv() => {}
                    }
                }
                _ => std::future::pending::<()>().await,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        eprintln!("cutpoint daemon: stopping: the cuts in flight finish and are journaled");
    };
    let d2 = Arc::clone(&d);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // The event streams end when the runs do; the server waits for no stream.
            d2.shutdown.store(true, std::sync::atomic::Ordering::SeqCst);
            d2.notify();
        })
        .await;
    match result {
        Ok(()) => cutpoint_engine::exit::PASS,
        Err(e) => {
            eprintln!("cutpoint daemon: serving: {e}");
            cutpoint_engine::exit::RIG_ERROR
        }
    }
}

fn run_json(r: &crate::db::RunRow) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("url".into(), json!(format!("/v1/runs/{}", r.id)));
        m.insert("priority_name".into(), json!(crate::upload::priority_name(r.priority)));
        // A negative control's failures are expected: its exit code 0 says the rig caught them.
        m.insert("expected".into(), json!(r.failures_expected()));
    }
    v
}

/// Reads a body of at most `limit` bytes. A longer one is read on to its end (up to a bound,
/// past which the connection is dropped) and discarded, so the client gets the 413 rather
/// than a broken pipe.
async fn read_limited(body: axum::body::Body, limit: usize) -> Result<Bytes, ApiError> {
    use futures_util::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen: usize = 0;
    let drain_bound = limit.saturating_mul(4).max(64 << 20);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("reading the upload: {e}")))?;
        seen = seen.saturating_add(chunk.len());
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        } else if seen > drain_bound {
            break;
        }
    }
    if seen > limit {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload ({seen} bytes) is larger than this lab's limit of {} MiB (max_upload_mib in the lab file)",
                limit / (1024 * 1024)
            ),
        ));
    }
    Ok(Bytes::from(buf))
}

async fn submit(State(d): D, headers: HeaderMap, body: axum::body::Body) -> Answer {
    let by = authorize(&d, &headers, Scope::Submit)?;
    let body = read_limited(body, d.lab.max_upload_bytes).await?;
    let sub: crate::upload::Submission = serde_json::from_slice(&body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("request body:{}:{}: {e}", e.line(), e.column()),
        )
    })?;
    let d2 = Arc::clone(&d);
    let id = tokio::task::spawn_blocking(move || crate::upload::submit(&d2, &sub, by.as_deref()))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|r| {
            ApiError(
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
                r.message,
            )
        })?;
    let run = d.db.run(id).map_err(db_error)?;
    Ok((StatusCode::CREATED, Json(run.as_ref().map_or(Value::Null, run_json))).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
}

async fn list_runs(State(d): D, headers: HeaderMap, Query(q): Query<ListQuery>) -> Answer {
    authorize(&d, &headers, Scope::Read)?;
    let runs = d.db.runs(q.limit.unwrap_or(50).clamp(1, 1000)).map_err(db_error)?;
    Ok(Json(Value::Array(runs.iter().map(run_json).collect())).into_response())
}

fn find_run(d: &Daemon, id: i64) -> Result<crate::db::RunRow, ApiError> {
    d.db.run(id).map_err(db_error)?.ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no run {id}; `cutpoint runs` lists them"),
        )
    })
}

async fn get_run(State(d): D, headers: HeaderMap, Path(id): Path<i64>) -> Answer {
    authorize(&d, &headers, Scope::Read)?;
    Ok(Json(run_json(&find_run(&d, id)?)).into_response())
}

async fn cancel(State(d): D, headers: HeaderMap, Path(id): Path<i64>) -> Answer {
    let by = authorize(&d, &headers, Scope::Submit)?;
    let run = find_run(&d, id)?;
    let what = if d.db.cancel_queued(id).map_err(db_error)? {
        let r = find_run(&d, id)?;
        let _ = d.db.append_event(
            id,
            "end",
            &json!({"type": "end", "state": "cancelled", "outcome": "incomplete", "exit_code": 4,
                    "planned": 0, "passed": 0, "failed": 0, "errors": 0,
                    "message": format!("cancelled before it started{}", by.map(|b| format!(" (by {b})")).unwrap_or_default())})
            .to_string(),
        );
        d.notify();
        format!("run {id} was queued; it is cancelled ({})", r.state)
    } else if run.state == "running" || find_run(&d, id)?.state == "running" {
        d.cancel_running(id, by.as_deref());
        format!("run {id} stops after the cut points in flight")
    } else {
        format!("run {id} is {}; nothing to cancel", run.state)
    };
    Ok(Json(json!({"id": id, "message": what})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    cut_id: String,
}

/// Queues a replay of one cut point of a run: 201 with the new run and the recorded result.
async fn replay(
    State(d): D,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<ReplayBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let by = authorize(&d, &headers, Scope::Submit)?;
    let Json(b) = body.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let d2 = Arc::clone(&d);
    let (new, recorded) = tokio::task::spawn_blocking(move || crate::upload::replay(&d2, id, &b.cut_id, by.as_deref()))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|r| {
            ApiError(
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
                r.message,
            )
        })?;
    let mut v = run_json(&find_run(&d, new)?);
    v["recorded"] = json!({
        "id": recorded.id,
        "status": recorded.status.name(),
        "reasons": recorded.reasons,
        "post_cut_state": recorded.post_cut_state,
        "seed": recorded.seed,
        "first_boot": recorded.first_boot,
        "final_image": recorded.final_image,
    });
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// The event stream of a run: every event after `Last-Event-ID` (or `?after=`), then the new
/// ones as they happen, until its `end` event.
async fn events(State(d): D, headers: HeaderMap, Path(id): Path<i64>, Query(q): Query<AfterQuery>) -> Answer {
    authorize(&d, &headers, Scope::Read)?;
    find_run(&d, id)?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(q.after)
        .unwrap_or(0);
    let rx = d.subscribe();
    struct St {
        d: Arc<Daemon>,
        rx: tokio::sync::watch::Receiver<i64>,
        after: i64,
        buf: std::collections::VecDeque<crate::db::EventRow>,
        ended: bool,
    }
    let st = St {
        d,
        rx,
        after,
        buf: Default::default(),
        ended: false,
    };
    let stream = futures_util::stream::unfold(st, move |mut st| async move {
        loop {
            if let Some(e) = st.buf.pop_front() {
                st.after = e.seq;
                if e.kind == "end" {
                    st.ended = true;
                }
                let ev = Event::default().id(e.seq.to_string()).event(e.kind).data(e.data);
                return Some((Ok::<_, Infallible>(ev), st));
            }
            if st.ended || st.d.shutdown.load(std::sync::atomic::Ordering::SeqCst) {
                return None;
            }
            st.rx.mark_unchanged();
            match st.d.db.events_after(id, st.after, 500) {
                Ok(rows) if !rows.is_empty() => {
                    st.buf.extend(rows);
                    continue;
                }
                Ok(_) => {}
                Err(_) => return None,
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), st.rx.changed()).await;
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(1)))
        .into_response())
}

#[derive(Deserialize)]
struct AfterQuery {
    after: Option<i64>,
}

/// The report files a run's API serves by name.
pub const REPORT_FILES: [&str; 4] = ["junit.xml", "summary.md", "report.html", "results.jsonl"];

async fn report_file(State(d): D, headers: HeaderMap, Path((id, file)): Path<(i64, String)>) -> Answer {
    authorize(&d, &headers, Scope::Read)?;
    find_run(&d, id)?;
    if !REPORT_FILES.contains(&file.as_str()) {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "`{file}`: the reports are {}; the archive has the rest",
                REPORT_FILES.join(", ")
            ),
        ));
    }
    let path = report_dir(&d.lab.data_dir, id).join(&file);
    let bytes = tokio::fs::read(&path).await.map_err(|_| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("run {id} has no {file} yet (the reports come when the run completes)"),
        )
    })?;
    let kind = match file.as_str() {
        "report.html" => "text/html; charset=utf-8",
        "junit.xml" => "application/xml",
        "results.jsonl" => "application/jsonl",
        _ => "text/markdown; charset=utf-8",
    };
    Ok(([(header::CONTENT_TYPE, kind)], bytes).into_response())
}

/// The run's report directory (reports, journal, per-cut artifacts) as one tar.gz, paths under
/// `run-<id>/`.
async fn archive(State(d): D, headers: HeaderMap, Path(id): Path<i64>) -> Answer {
    authorize(&d, &headers, Scope::Read)?;
    find_run(&d, id)?;
    let dir = report_dir(&d.lab.data_dir, id);
    if !dir.is_dir() {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("run {id} has no report directory yet"),
        ));
    }
    let bytes = tokio::task::spawn_blocking(move || tar_gz(&dir, &format!("run-{id}")))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("archiving: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"run-{id}.tar.gz\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn tar_gz(dir: &std::path::Path, prefix: &str) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut t = tar::Builder::new(gz);
    t.follow_symlinks(false);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let name = e.file_name();
            if name == cutpoint_engine::run_lock::LOCK_FILE {
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap_or(&p);
            let ty = e.file_type()?;
            if ty.is_dir() {
                stack.push(p);
            } else if ty.is_file() {
                t.append_path_with_name(&p, std::path::Path::new(prefix).join(rel))?;
            }
        }
    }
    t.into_inner()?.finish()
}

fn bench_json(d: &Daemon, s: &crate::lab::StationDef, leases: &[crate::db::LeaseRow]) -> Result<Value, ApiError> {
    let drained = d.db.drained(&s.name).map_err(db_error)?;
    let running = d.db.running_on(&s.name).map_err(db_error)?;
    let lease = leases.iter().find(|l| l.station == s.name);
    let (health, health_reason, rig_failures) = d.db.health(&s.name).map_err(db_error)?;
    let state = match (&drained, running, lease) {
        (_, Some(_), _) => "running",
        (Some(_), None, _) => "drained",
        (None, None, Some(_)) => "leased",
        (None, None, None) => "idle",
    };
    Ok(json!({
        "name": s.name,
        "kind": s.describe(),
        "workers": s.workers(),
        "tags": s.tags,
        "state": state,
        "health": health,
        "health_reason": health_reason,
        "rig_failures": rig_failures,
        "drained": drained.is_some(),
        "drain_reason": drained.flatten(),
        "current_run": running,
        "lease": lease,
        "queued": d.db.queued_for(&s.name).map_err(db_error)?,
    }))
}

async fn benches(State(d): D, headers: HeaderMap) -> Answer {
    authorize(&d, &headers, Scope::Read)?;
    let leases = d.db.leases().map_err(db_error)?;
    let v = d
        .lab
        .stations
        .iter()
        .map(|s| bench_json(&d, s, &leases))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Value::Array(v)).into_response())
}

fn station<'a>(d: &'a Daemon, name: &str) -> Result<&'a crate::lab::StationDef, ApiError> {
    d.lab
        .stations
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no station `{name}` in this lab")))
}

#[derive(Deserialize, Default)]
struct DrainBody {
    reason: Option<String>,
}

async fn drain(State(d): D, headers: HeaderMap, Path(name): Path<String>, body: Option<Json<DrainBody>>) -> Answer {
    let by = authorize(&d, &headers, Scope::Admin)?;
    let s = station(&d, &name)?;
    let reason = body
        .and_then(|b| b.0.reason)
        .unwrap_or_else(|| format!("drained by {}", by.as_deref().unwrap_or("an operator")));
    d.db.set_drained(&s.name, true, Some(&reason)).map_err(db_error)?;
    let leases = d.db.leases().map_err(db_error)?;
    Ok(Json(bench_json(&d, s, &leases)?).into_response())
}

/// Puts a drained station back in service. A bad station comes back as unknown (the doctor
/// checks it before its next run), in the same statement that lifts the drain: the station's
/// worker never sees it undrained and still bad.
pub fn resume_station(d: &Daemon, station: &str) -> crate::db::DbResult<()> {
    d.db.resume_bench(station, "resumed by an admin; doctor before the next run")
}

async fn resume(State(d): D, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    authorize(&d, &headers, Scope::Admin)?;
    let s = station(&d, &name)?;
    resume_station(&d, &s.name).map_err(db_error)?;
    d.notify();
    let leases = d.db.leases().map_err(db_error)?;
    Ok(Json(bench_json(&d, s, &leases)?).into_response())
}

async fn leases(State(d): D, headers: HeaderMap) -> Answer {
    authorize(&d, &headers, Scope::Read)?;
    Ok(Json(d.db.leases().map_err(db_error)?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaseBody {
    station: String,
    ttl_s: f64,
    holder: Option<String>,
}

async fn take_lease(
    State(d): D,
    headers: HeaderMap,
    body: Result<Json<LeaseBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let by = authorize(&d, &headers, Scope::Submit)?;
    let Json(b) = body.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let s = station(&d, &b.station)?;
    if !(b.ttl_s.is_finite() && b.ttl_s >= 0.1 && b.ttl_s <= 7.0 * 86400.0) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "ttl_s: expected a time from 0.1 s to 7 days".into(),
        ));
    }
    let holder = b.holder.or(by).unwrap_or_else(|| "someone".into());
    match d.db.take_lease(&s.name, &holder, (b.ttl_s * 1000.0) as i64) {
        Ok(l) => Ok((StatusCode::CREATED, Json(l)).into_response()),
        Err(LeaseRefused::Held(h)) => Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "station `{}` is held by {} (lease {}, {:.0} s left); try again when it is free",
                s.name, h.holder, h.id, h.expires_in_s
            ),
        )),
        Err(LeaseRefused::Db(e)) => Err(db_error(e)),
    }
}

async fn renew_lease(State(d): D, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    authorize(&d, &headers, Scope::Submit)?;
    match d.db.renew_lease(&id).map_err(db_error)? {
        Some(l) => Ok(Json(l).into_response()),
        None => Err(ApiError(
            StatusCode::GONE,
            format!("lease {id} expired or was released; take a new one"),
        )),
    }
}

async fn release_lease(State(d): D, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    authorize(&d, &headers, Scope::Submit)?;
    let released = d.db.release_lease(&id).map_err(db_error)?;
    d.notify();
    Ok(Json(json!({"id": id, "released": released})).into_response())
}

#[derive(Deserialize)]
struct PageQuery {
    token: Option<String>,
}

/// The live page. With a tokens file: `/?token=TOKEN` checks a read token, keeps it in an
/// HttpOnly cookie and sends the browser on to `/` (so the token leaves the address bar and
/// is in no link); then the cookie is the page's (and its event streams' and links') token.
async fn page(State(d): D, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let html = |status: StatusCode, body: String| {
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    };
    if let (Some(tokens), Some(t)) = (&d.tokens, q.token.as_deref()) {
        return match tokens.find(t.trim()) {
            Some(_) => (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, "/".to_string()),
                    (
                        header::SET_COOKIE,
                        format!(
                            "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                            crate::live::url_escape(t.trim())
                        ),
                    ),
                ],
            )
                .into_response(),
            None => html(StatusCode::UNAUTHORIZED, crate::live::token_page("unknown token")),
        };
    }
    if let Err(ApiError(status, m)) = authorize(&d, &headers, Scope::Read) {
        return html(status, crate::live::token_page(&m));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| d.lab.listen.to_string(), str::to_string);
    let server = format!("http://{host}");
    let d2 = Arc::clone(&d);
    match tokio::task::spawn_blocking(move || page_data(&d2, server)).await {
        Ok(Ok(p)) => html(StatusCode::OK, crate::live::render(&p)),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// What the live page shows now.
pub fn page_data(d: &Daemon, server: String) -> Result<crate::live::PageData, ApiError> {
    let leases = d.db.leases().map_err(db_error)?;
    let benches = d
        .lab
        .stations
        .iter()
        .map(|s| bench_json(d, s, &leases))
        .collect::<Result<Vec<_>, _>>()?;
    let runs = d.db.runs(1000).map_err(db_error)?;
    let mut queued: Vec<_> = runs.iter().filter(|r| r.state == "queued").cloned().collect();
    // In the order the stations take them: priority first, then first come.
    queued.sort_by_key(|r| (-r.priority, r.id));
    let mut running: Vec<_> = runs.iter().filter(|r| r.state == "running").cloned().collect();
    running.sort_by_key(|r| r.id);
    let recent = runs
        .iter()
        .filter(|r| r.state != "queued" && r.state != "running")
        .take(crate::live::RECENT)
        .cloned()
        .collect();
    let running = running
        .into_iter()
        .map(|run| {
            let matrix = d
                .live
                .lock()
                .ok()
                .and_then(|l| l.get(&run.id).map(crate::live::Matrix::snapshot));
            let after = matrix.as_ref().map_or(0, |m| m.last_seq);
            crate::live::RunningView { run, matrix, after }
        })
        .collect();
    Ok(crate::live::PageData {
        server,
        benches,
        queued,
        running,
        recent,
        at: crate::db::now_rfc3339(),
    })
}

#[derive(Deserialize)]
struct CutQuery {
    id: String,
}

/// One cut point's console (`console.log`) or decoded flash (`state.json`), read from the
/// run's journal, while the run runs or after.
async fn cut_file(
    State(d): D,
    headers: HeaderMap,
    Path((run, file)): Path<(i64, String)>,
    Query(q): Query<CutQuery>,
) -> Answer {
    authorize(&d, &headers, Scope::Read)?;
    find_run(&d, run)?;
    if file != "console.log" && file != "state.json" {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("`{file}`: a cut point has console.log and state.json"),
        ));
    }
    let journal = cutpoint_report::journal_path(&report_dir(&d.lab.data_dir, run));
    let id = q.id.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<Option<cutpoint_report::CutResult>, String> {
        let reader = cutpoint_report::JournalReader::open(&journal).map_err(|e| e.to_string())?;
        let mut last = None;
        for rec in reader {
            // A line being written as we read ends the reading: what came before is whole.
            let Ok(rec) = rec else { break };
            if let cutpoint_report::JournalRecord::Cut(c) = rec.record {
                if c.id == id {
                    last = Some(c);
                }
            }
        }
        Ok(last)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError(StatusCode::NOT_FOUND, format!("run {run} has no journal yet: {e}")))?;
    let Some(cut) = found else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("run {run} has no result for cut point `{}` (yet)", q.id),
        ));
    };
    if file == "console.log" {
        Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            cutpoint_report::console_text(&cut.console),
        )
            .into_response())
    } else {
        let bytes = cutpoint_report::cut_state_json(&cut)
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
    }
}
