//! The live page, `GET /`: the benches, the queue, every running run with its progress and its
//! phase x offset matrix, and the recent runs with their reports. Server-rendered HTML that
//! reads without JavaScript; a small inline script follows each running run's event stream
//! (`/v1/runs/{id}/events`) and updates the matrix and the progress in place.
//!
//! The matrix has a bounded size however big the campaign: a row per phase (at most
//! [`MAX_ROWS`]; phases past that share the last row) and at most [`COLUMNS`] cells per row,
//! each cell a bucket of consecutive cut points of its phase in planned order, counting how
//! many passed, failed, failed as expected (a negative control) and ended in rig errors.

use std::collections::HashMap;
use std::fmt::Write as _;

use cutpoint_report::{JournalHeader, Status};
use serde_json::{json, Value};

use crate::db::RunRow;

/// Cells per row of a live matrix at most.
pub const COLUMNS: usize = 16;
/// Rows of a live matrix at most; phases past the last share it.
pub const MAX_ROWS: usize = 24;
/// Failing cut points listed per running run at most (the rest are counted).
pub const MAX_FAILING: usize = 20;
/// Finished runs on the page.
pub const RECENT: usize = 20;

/// The counts of a cell: pass, fail, expected failure, rig error.
pub type Counts = [u32; 4];

const PASS: usize = 0;
const FAIL: usize = 1;
const EXPECTED: usize = 2;
const ERROR: usize = 3;

/// A failing cut point of a running run, as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingCut {
    pub id: String,
    /// `fail`, `expected` or `error`.
    pub kind: &'static str,
    pub reason: String,
}

/// The live matrix of one run.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// Row titles.
    pub rows: Vec<String>,
    /// Per row, per cell: how many cut points it holds.
    pub planned: Vec<Vec<u32>>,
    /// Per row, per cell: how they ended so far.
    pub counts: Vec<Vec<Counts>>,
    /// Where each cut point's result goes, by a hash of its id.
    cells: HashMap<u64, (u16, u16)>,
    /// The sequence number of the last cut event counted (the page's script follows the
    /// stream from there, so no cut is counted twice or missed).
    pub last_seq: i64,
    pub failing: Vec<FailingCut>,
    /// Failing cut points beyond [`MAX_FAILING`].
    pub failing_more: usize,
}

/// FNV-1a, 64 bits: the key of a cut id (the matrix keeps no copy of the ids).
fn key(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Matrix {
    /// The matrix of a plan: rows by phase in planned order, each phase's cut points spread
    /// in planned order over its cells.
    pub fn new<'a>(planned: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> Matrix {
        let mut rows: Vec<String> = Vec::new();
        let mut row_of: HashMap<&str, usize> = HashMap::new();
        let mut per_row: Vec<u32> = Vec::new();
        let mut phases_in_last = 0usize;
        for (_, phase) in planned.clone() {
            let r = match row_of.get(phase) {
                Some(&r) => r,
                None => {
                    let r = rows.len().min(MAX_ROWS - 1);
                    if r == rows.len() {
                        rows.push(phase.to_string());
                        per_row.push(0);
                    }
                    if r == MAX_ROWS - 1 {
                        phases_in_last += 1;
                    }
                    row_of.insert(phase, r);
                    r
                }
            };
            per_row[r] += 1;
        }
        if phases_in_last > 1 {
            rows[MAX_ROWS - 1] = format!("{phases_in_last} more phases");
        }
        let cols: Vec<usize> = per_row.iter().map(|&n| (n as usize).clamp(1, COLUMNS)).collect();
        let mut planned_cells: Vec<Vec<u32>> = cols.iter().map(|&c| vec![0; c]).collect();
        let mut seen = vec![0u32; rows.len()];
        let mut cells = HashMap::new();
        for (id, phase) in planned {
            let r = row_of[phase];
            let c = (seen[r] as usize * cols[r]) / per_row[r].max(1) as usize;
            seen[r] += 1;
            planned_cells[r][c] += 1;
            cells.insert(key(id), (r as u16, c as u16));
        }
        let counts = cols.iter().map(|&c| vec![[0; 4]; c]).collect();
        Matrix {
            rows,
            planned: planned_cells,
            counts,
            cells,
            last_seq: 0,
            failing: Vec::new(),
            failing_more: 0,
        }
    }

    pub fn of_header(h: &JournalHeader) -> Matrix {
        Matrix::new(h.planned.iter().map(|p| (p.id.as_str(), p.phase.as_str())))
    }

    /// Where a cut point's result goes, when the plan has it.
    pub fn cell(&self, id: &str) -> Option<(u16, u16)> {
        self.cells.get(&key(id)).copied()
    }

    /// The matrix as the page shows it: without the cells of the cut ids.
    pub fn snapshot(&self) -> Matrix {
        Matrix {
            rows: self.rows.clone(),
            planned: self.planned.clone(),
            counts: self.counts.clone(),
            cells: HashMap::new(),
            last_seq: self.last_seq,
            failing: self.failing.clone(),
            failing_more: self.failing_more,
        }
    }

    /// Counts one finished cut point (event `seq`); its cell, when the plan has it.
    pub fn record(
        &mut self,
        id: &str,
        status: Status,
        expected: bool,
        reason: Option<&str>,
        seq: i64,
    ) -> Option<(u16, u16)> {
        self.last_seq = self.last_seq.max(seq);
        let (r, c) = *self.cells.get(&key(id))?;
        let k = match status {
            Status::Pass => PASS,
            Status::Fail if expected => EXPECTED,
            Status::Fail => FAIL,
            Status::Error => ERROR,
        };
        self.counts[r as usize][c as usize][k] += 1;
        if k != PASS {
            if self.failing.len() < MAX_FAILING {
                self.failing.push(FailingCut {
                    id: id.to_string(),
                    kind: kind_name(k),
                    reason: reason.unwrap_or_default().to_string(),
                });
            } else {
                self.failing_more += 1;
            }
        }
        Some((r, c))
    }

    /// Totals over every cell: pass, fail, expected, rig error.
    pub fn totals(&self) -> Counts {
        let mut t = [0; 4];
        for row in &self.counts {
            for cell in row {
                for k in 0..4 {
                    t[k] += cell[k];
                }
            }
        }
        t
    }

    pub fn planned_total(&self) -> u64 {
        self.planned.iter().flatten().map(|&n| u64::from(n)).sum()
    }

    /// The layout the page's script builds a matrix from when the run started after the page
    /// was served (the `matrix` field of the `started` event).
    pub fn layout_json(&self) -> Value {
        json!({
            "rows": self.rows.iter().zip(&self.planned).map(|(name, p)| json!({"phase": name, "planned": p})).collect::<Vec<_>>(),
        })
    }
}

fn kind_name(k: usize) -> &'static str {
    match k {
        PASS => "pass",
        FAIL => "fail",
        EXPECTED => "expected",
        _ => "error",
    }
}

/// A cell's class: what someone looking at it first needs to see.
fn cell_class(planned: u32, n: &Counts) -> &'static str {
    let done: u32 = n.iter().sum();
    if n[FAIL] > 0 {
        "fail"
    } else if n[ERROR] > 0 {
        "error"
    } else if n[EXPECTED] > 0 {
        "expected"
    } else if done == 0 {
        "todo"
    } else if done < planned {
        "part"
    } else {
        "pass"
    }
}

fn cell_title(row: &str, col: usize, cols: usize, planned: u32, n: &Counts) -> String {
    let done: u32 = n.iter().sum();
    format!(
        "{row}, part {} of {cols}: {done} of {planned} done: {} pass, {} fail, {} expected, {} rig error",
        col + 1,
        n[PASS],
        n[FAIL],
        n[EXPECTED],
        n[ERROR]
    )
}

/// HTML text and attribute escaping.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A query-string value.
pub fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A word for a shell (the replay command on the page).
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:+=@%,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A running run as the page shows it.
#[derive(Debug, Clone)]
pub struct RunningView {
    pub run: RunRow,
    /// None while the run has not started (its journal is not open yet).
    pub matrix: Option<Matrix>,
    /// The last event of the run the page shows (the script follows the stream from there).
    pub after: i64,
}

/// What the page shows, gathered at one instant.
#[derive(Debug, Clone)]
pub struct PageData {
    /// The daemon's URL as the browser reached it (for the replay commands).
    pub server: String,
    /// `GET /v1/benches`'s entries.
    pub benches: Vec<Value>,
    pub queued: Vec<RunRow>,
    pub running: Vec<RunningView>,
    pub recent: Vec<RunRow>,
    /// When the page was made (UTC, RFC 3339).
    pub at: String,
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}\
table{border-collapse:collapse}th,td{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd;vertical-align:top}\
table.matrix td{width:2.2em;text-align:center;border:1px solid #fff;font-size:12px}\
table.matrix th{font-weight:normal;white-space:nowrap}\
td.todo{background:#eee;color:#999}td.part{background:#cfe8cf}td.pass{background:#8c8}\
td.fail{background:#e66;color:#fff}td.error{background:#f90}td.expected{background:#b9b}\
.bad{color:#b00}.unknown{color:#b60}.ok{color:#080}code{background:#f4f4f4;padding:0 3px}\
small{color:#666}progress{width:20em}";

/// The page's script: follows each running run's event stream and updates its matrix and
/// progress in place. Without it (or without EventSource) the page is the same, as of when
/// it was served.
const SCRIPT: &str = r#"(function(){
if(!window.EventSource)return;
function cls(p,n){var d=n[0]+n[1]+n[2]+n[3];return n[1]?'fail':n[3]?'error':n[2]?'expected':d==0?'todo':d<p?'part':'pass';}
function paint(td){var n=td.dataset.n.split(',').map(Number),p=+td.dataset.planned,d=n[0]+n[1]+n[2]+n[3];
td.className=cls(p,n);td.textContent=d;
td.title=td.dataset.row+', part '+td.dataset.part+': '+d+' of '+p+' done: '+n[0]+' pass, '+n[1]+' fail, '+n[2]+' expected, '+n[3]+' rig error';}
function build(s,m){var t=document.createElement('table');t.className='matrix';var id=s.dataset.run;
m.rows.forEach(function(r,i){var tr=t.insertRow(),th=document.createElement('th');th.textContent=r.phase;tr.appendChild(th);
r.planned.forEach(function(p,j){var td=tr.insertCell();td.id='c'+id+'-'+i+'-'+j;td.dataset.n='0,0,0,0';td.dataset.planned=p;
td.dataset.row=r.phase;td.dataset.part=(j+1)+' of '+r.planned.length;paint(td);});});
var old=s.querySelector('.matrix-slot');old.replaceWith(t);}
function follow(s){var id=s.dataset.run,es=new EventSource('/v1/runs/'+id+'/events?after='+s.dataset.after);
var done=s.querySelector('.done'),bar=s.querySelector('progress'),tally=s.querySelector('.tally');
es.addEventListener('started',function(e){var v=JSON.parse(e.data);if(v.matrix&&!s.querySelector('table.matrix'))build(s,v.matrix);
if(bar&&v.planned){bar.max=v.planned;s.querySelector('.planned').textContent=v.planned;}});
es.addEventListener('planned',function(e){var v=JSON.parse(e.data);if(bar&&v.total){bar.max=v.total;s.querySelector('.planned').textContent=v.total;}});
es.addEventListener('cut',function(e){var v=JSON.parse(e.data);if(!v.cell)return;
var td=document.getElementById('c'+id+'-'+v.cell[0]+'-'+v.cell[1]);if(!td)return;
var k=v.status=='pass'?0:v.status=='error'?3:v.expected?2:1;
var n=td.dataset.n.split(',').map(Number);n[k]++;td.dataset.n=n.join(',');paint(td);
var t=tally.dataset.n.split(',').map(Number);t[k]++;tally.dataset.n=t.join(',');
tally.textContent=t[0]+' pass, '+t[1]+' fail, '+t[2]+' expected, '+t[3]+' rig error';
var d=t[0]+t[1]+t[2]+t[3];done.textContent=d;if(bar)bar.value=d;});
es.addEventListener('end',function(e){var v=JSON.parse(e.data);es.close();
var st=s.querySelector('.state');st.textContent='ended: '+v.state+', '+v.outcome+' (exit '+v.exit_code+')'+(v.message?': '+v.message:'');
var l=s.querySelector('.links');if(l&&v.state=='finished')l.hidden=false;});}
document.querySelectorAll('section.run[data-run]').forEach(follow);
})();"#;

fn run_target(r: &RunRow) -> String {
    match (&r.assigned, &r.station, &r.tag) {
        (Some(a), _, _) => format!("on {a}"),
        (None, Some(s), _) => format!("for {s}"),
        (None, None, Some(t)) => format!("for any `{t}`"),
        (None, None, None) => "for any station".into(),
    }
}

fn run_title(r: &RunRow) -> String {
    let mut t = format!("run {}: {}", r.id, r.name);
    if let Some(p) = &r.partition {
        let _ = write!(t, " (partition {p})");
    }
    if let Some(of) = r.replay_of {
        let _ = write!(t, " (replay of run {of})");
    }
    t
}

fn report_links(out: &mut String, id: i64) {
    let _ = write!(
        out,
        "<a href=\"/v1/runs/{id}/reports/report.html\">report.html</a> \
         <a href=\"/v1/runs/{id}/reports/junit.xml\">junit.xml</a> \
         <a href=\"/v1/runs/{id}/reports/summary.md\">summary.md</a> \
         <a href=\"/v1/runs/{id}/archive\">archive</a>"
    );
}

fn write_benches(out: &mut String, benches: &[Value]) {
    out.push_str("<h2>Benches</h2>\n");
    if benches.is_empty() {
        out.push_str("<p>This lab has no station.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"benches\"><tr><th>station</th><th>what</th><th>state</th><th>health</th>\
         <th>runs</th><th>lease</th><th>queued</th></tr>\n",
    );
    for b in benches {
        let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let health = s("health");
        let mut what = esc(&s("kind"));
        let tags: Vec<&str> = b
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !tags.is_empty() {
            let _ = write!(what, " <small>tags: {}</small>", esc(&tags.join(", ")));
        }
        let mut health_cell = format!("<span class=\"{}\">{}</span>", esc(&health), esc(&health));
        if let Some(r) = b.get("health_reason").and_then(Value::as_str) {
            let _ = write!(health_cell, ": {}", esc(r));
        }
        if let Some(r) = b.get("drain_reason").and_then(Value::as_str) {
            let _ = write!(health_cell, "<br><small>drained: {}</small>", esc(r));
        }
        let runs = match b.get("current_run").and_then(Value::as_i64) {
            Some(r) => format!("<a href=\"#run-{r}\">run {r}</a>"),
            None => "nothing".into(),
        };
        let lease = match b.get("lease").filter(|l| !l.is_null()) {
            Some(l) => {
                let holder = l.get("holder").and_then(Value::as_str).unwrap_or("?");
                let left = l.get("expires_in_s").and_then(Value::as_f64).unwrap_or(0.0);
                match l.get("run").and_then(Value::as_i64) {
                    Some(r) => format!("held by run {r}"),
                    None => format!("{} ({left:.0} s left)", esc(holder)),
                }
            }
            None => "free".into(),
        };
        let queued = b.get("queued").and_then(Value::as_i64).unwrap_or(0);
        let _ = writeln!(
            out,
            "<tr id=\"bench-{name}\"><td><b>{name}</b></td><td>{what}</td><td>{state}</td><td>{health_cell}</td>\
             <td>{runs}</td><td>{lease}</td><td>{queued}</td></tr>",
            name = esc(&s("name")),
            state = esc(&s("state")),
        );
    }
    out.push_str("</table>\n");
}

fn write_queue(out: &mut String, queued: &[RunRow]) {
    out.push_str("<h2>Queue</h2>\n");
    if queued.is_empty() {
        out.push_str("<p>No run waits.</p>\n");
        return;
    }
    out.push_str("<table class=\"queue\"><tr><th>run</th><th>where</th><th>priority</th><th>submitted</th></tr>\n");
    for r in queued {
        let by = r
            .submitted_by
            .as_deref()
            .map(|b| format!(" by {}", esc(b)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{by}</td></tr>",
            esc(&run_title(r)),
            esc(&run_target(r)),
            esc(&crate::upload::priority_name(r.priority)),
            esc(&r.created)
        );
    }
    out.push_str("</table>\n");
}

fn write_matrix(out: &mut String, run: i64, m: &Matrix) {
    out.push_str("<table class=\"matrix\">\n");
    for (i, row) in m.rows.iter().enumerate() {
        let _ = write!(out, "<tr><th>{}</th>", esc(row));
        let cols = m.planned[i].len();
        for (j, (&p, n)) in m.planned[i].iter().zip(&m.counts[i]).enumerate() {
            let done: u32 = n.iter().sum();
            let _ = write!(
                out,
                "<td id=\"c{run}-{i}-{j}\" class=\"{}\" data-n=\"{},{},{},{}\" data-planned=\"{p}\" \
                 data-row=\"{}\" data-part=\"{} of {cols}\" title=\"{}\">{done}</td>",
                cell_class(p, n),
                n[0],
                n[1],
                n[2],
                n[3],
                esc(row),
                j + 1,
                esc(&cell_title(row, j, cols, p, n)),
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn write_running(out: &mut String, server: &str, running: &[RunningView]) {
    out.push_str("<h2>Running</h2>\n");
    if running.is_empty() {
        out.push_str("<p>No run is running.</p>\n");
        return;
    }
    for v in running {
        let r = &v.run;
        let id = r.id;
        let (totals, planned) = match &v.matrix {
            Some(m) => (m.totals(), m.planned_total()),
            None => ([0; 4], r.planned.unwrap_or(0).max(0) as u64),
        };
        let done: u32 = totals.iter().sum();
        let _ = writeln!(
            out,
            "<section class=\"run\" id=\"run-{id}\" data-run=\"{id}\" data-after=\"{}\">\n<h3>{} <small>{}</small></h3>",
            v.after,
            esc(&run_title(r)),
            esc(&run_target(r))
        );
        let _ = writeln!(
            out,
            "<p><progress value=\"{done}\" max=\"{}\"></progress> <span class=\"done\">{done}</span> of \
             <span class=\"planned\">{planned}</span> cut points: <span class=\"tally\" data-n=\"{},{},{},{}\">{} pass, \
             {} fail, {} expected, {} rig error</span> <span class=\"state\">running</span></p>",
            planned.max(1),
            totals[0],
            totals[1],
            totals[2],
            totals[3],
            totals[0],
            totals[1],
            totals[2],
            totals[3],
        );
        match &v.matrix {
            Some(m) => write_matrix(out, id, m),
            None => out.push_str("<p class=\"matrix-slot\">starting: the matrix comes when the journal is open</p>\n"),
        }
        out.push_str("<p class=\"links\" hidden>");
        report_links(out, id);
        out.push_str("</p>\n");
        if let Some(m) = &v.matrix {
            write_failing(out, server, id, m);
        }
        out.push_str("</section>\n");
    }
}

fn write_failing(out: &mut String, server: &str, run: i64, m: &Matrix) {
    if m.failing.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"failing\"><tr><th>cut point</th><th>ended</th><th>why</th><th>look</th><th>replay</th></tr>\n",
    );
    for f in &m.failing {
        let q = url_escape(&f.id);
        let kind = match f.kind {
            "expected" => "fail (expected: negative control)",
            "error" => "rig error",
            k => k,
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{kind}</td><td>{}</td><td><a href=\"/v1/runs/{run}/cut/console.log?id={q}\">log</a> \
             <a href=\"/v1/runs/{run}/cut/state.json?id={q}\">decoded flash</a></td><td><code>cutpoint replay --server {} {run} {}</code></td></tr>",
            esc(&f.id),
            esc(&f.reason),
            esc(&shell_word(server)),
            esc(&shell_word(&f.id)),
        );
    }
    out.push_str("</table>\n");
    if m.failing_more > 0 {
        let _ = writeln!(
            out,
            "<p>and {} more failing cut points: see the report when the run ends</p>",
            m.failing_more
        );
    }
}

fn write_recent(out: &mut String, recent: &[RunRow]) {
    out.push_str("<h2>Recent runs</h2>\n");
    if recent.is_empty() {
        out.push_str("<p>No run has ended yet.</p>\n");
        return;
    }
    out.push_str("<table class=\"recent\"><tr><th>run</th><th>where</th><th>ended</th><th>cut points</th><th>reports</th></tr>\n");
    for r in recent {
        let outcome = r.outcome.as_deref().unwrap_or("");
        let code = r.exit_code.map(|c| format!(" (exit {c})")).unwrap_or_default();
        let mut ended = format!("{} {}{code}", esc(&r.state), esc(outcome));
        if r.negative && r.exit_code == Some(0) {
            ended.push_str(" <small>negative control: its failures were expected</small>");
        }
        if let Some(m) = &r.message {
            let _ = write!(ended, "<br><small>{}</small>", esc(m));
        }
        let counts = format!(
            "{} pass, {} fail, {} rig error{}",
            r.passed,
            r.failed,
            r.errors,
            r.planned.map(|p| format!(" of {p}")).unwrap_or_default()
        );
        let _ = write!(
            out,
            "<tr id=\"run-{}\"><td>{}</td><td>{}</td><td>{ended}{}</td><td>{counts}</td><td>",
            r.id,
            esc(&run_title(r)),
            esc(&run_target(r)),
            r.finished
                .as_deref()
                .map(|f| format!("<br><small>{}</small>", esc(f)))
                .unwrap_or_default()
        );
        if r.state == "finished" {
            report_links(out, r.id);
        } else {
            out.push_str("<small>no reports</small>");
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n");
}

/// The page.
pub fn render(p: &PageData) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>cutpoint lab</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body>\n");
    let _ = writeln!(
        out,
        "<h1>cutpoint lab</h1>\n<p><small>{} as of {}; the running runs update live (reload for the rest)</small></p>",
        esc(&p.server),
        esc(&p.at)
    );
    write_benches(&mut out, &p.benches);
    write_queue(&mut out, &p.queued);
    write_running(&mut out, &p.server, &p.running);
    write_recent(&mut out, &p.recent);
    out.push_str("<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body></html>\n");
    out
}

/// The page that asks for a token (a daemon with a tokens file).
pub fn token_page(message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cutpoint lab: token needed</title></head><body>\n\
         <h1>cutpoint lab</h1>\n<p>{}</p>\n<p>Open this page once as <code>/?token=TOKEN</code> with a read token from the \
         lab's tokens file: the daemon keeps it in a cookie for this browser and takes it out of the address.</p>\n</body></html>\n",
        esc(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| {
                let phase = if i < n / 2 { "download" } else { "swap" };
                (format!("{phase}/byte-{i}"), phase.to_string())
            })
            .collect()
    }

    #[test]
    fn the_matrix_is_bounded_however_big_the_plan() {
        let p = plan(100_000);
        let m = Matrix::new(p.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        assert_eq!(m.rows, ["download", "swap"]);
        assert_eq!(m.planned.iter().map(Vec::len).collect::<Vec<_>>(), [COLUMNS, COLUMNS]);
        assert_eq!(m.planned_total(), 100_000);
        // Buckets are even.
        assert!(m.planned[0].iter().all(|&n| n == 3125), "{:?}", m.planned[0]);
        // Many phases share the last row.
        let many: Vec<(String, String)> = (0..100).map(|i| (format!("p{i}/x"), format!("p{i}"))).collect();
        let m = Matrix::new(many.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        assert_eq!(m.rows.len(), MAX_ROWS);
        assert_eq!(m.rows[MAX_ROWS - 1], format!("{} more phases", 100 - (MAX_ROWS - 1)));
        assert_eq!(m.planned_total(), 100);
    }

    #[test]
    fn a_cut_counts_in_its_cell_once_by_kind() {
        let p = plan(40);
        let mut m = Matrix::new(p.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        assert_eq!(m.record("download/byte-0", Status::Pass, false, None, 5), Some((0, 0)));
        assert_eq!(
            m.record("swap/byte-39", Status::Fail, false, Some("bricked"), 6),
            Some((1, 15))
        );
        assert_eq!(m.record("swap/byte-20", Status::Fail, true, Some("x"), 7), Some((1, 0)));
        assert_eq!(
            m.record("swap/byte-21", Status::Error, false, Some("probe"), 8),
            Some((1, 0))
        );
        assert_eq!(m.record("nope", Status::Pass, false, None, 9), None);
        assert_eq!(m.totals(), [1, 1, 1, 1]);
        assert_eq!(m.last_seq, 9);
        assert_eq!(
            m.failing.iter().map(|f| f.kind).collect::<Vec<_>>(),
            ["fail", "expected", "error"]
        );
    }

    fn row(id: i64, name: &str, state: &str) -> RunRow {
        RunRow {
            id,
            campaign: format!("campaigns/{name}.toml"),
            name: name.to_string(),
            station: None,
            tag: None,
            assigned: None,
            priority: 0,
            partition: None,
            state: state.to_string(),
            exit_code: None,
            outcome: None,
            message: None,
            submitted_by: None,
            created: format!("2026-01-02T03:04:{id:02}Z"),
            started: None,
            finished: None,
            planned: None,
            passed: 0,
            failed: 0,
            errors: 0,
            negative: false,
            filter: None,
            replay_of: None,
            input_dir: String::new(),
            campaign_rel: String::new(),
            root: String::new(),
            resume: false,
        }
    }

    /// A lab in every state the page shows: a bench running, one leased and bad, runs queued,
    /// two running (one not started yet), finished ones of each kind.
    fn fixture() -> PageData {
        let p = plan(40);
        let mut m = Matrix::new(p.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        for i in 0..12 {
            m.record(&format!("download/byte-{i}"), Status::Pass, false, None, 10 + i as i64);
        }
        m.record("swap/byte-20", Status::Fail, false, Some("bricked: nothing boots"), 30);
        m.record(
            "swap/byte-21",
            Status::Error,
            false,
            Some("lost the console <uart>"),
            31,
        );
        let mut running = row(7, "smoke", "running");
        running.assigned = Some("sim".into());
        running.planned = Some(40);
        let mut starting = row(8, "exhaustive", "running");
        starting.assigned = Some("sim2".into());
        starting.partition = Some("2/3".into());
        let mut q1 = row(9, "nightly", "queued");
        q1.tag = Some("nrf52840".into());
        q1.submitted_by = Some("ci".into());
        let mut q2 = row(10, "smoke", "queued");
        q2.station = Some("sim".into());
        q2.priority = 10;
        q2.replay_of = Some(3);
        let mut pass = row(6, "smoke", "finished");
        (pass.exit_code, pass.outcome, pass.assigned) = (Some(0), Some("pass".into()), Some("sim".into()));
        (pass.passed, pass.planned, pass.finished) = (40, Some(40), Some("2026-01-02T04:00:00Z".into()));
        let mut neg = row(5, "known-bugs", "finished");
        (neg.exit_code, neg.outcome, neg.negative) = (Some(0), Some("pass".into()), true);
        (neg.passed, neg.failed, neg.planned) = (30, 10, Some(40));
        let mut err = row(4, "smoke", "error");
        (err.exit_code, err.outcome) = (Some(2), Some("bad-input".into()));
        err.message = Some("campaigns/smoke.toml:3:9: images.update: no file".into());
        PageData {
            server: "http://127.0.0.1:8080".into(),
            benches: vec![
                json!({"name": "sim", "kind": "simulated nrf52840 with 2 workers", "tags": ["nrf52840"],
                       "state": "running", "health": "ok", "health_reason": null, "current_run": 7,
                       "lease": {"id": "run-7", "station": "sim", "holder": "run 7", "run": 7, "ttl_s": 30.0, "expires_in_s": 29.5},
                       "queued": 1}),
                json!({"name": "sim2", "kind": "simulated board (any) with 1 worker", "tags": [],
                       "state": "drained", "health": "bad", "health_reason": "bad: 3 rig failures in a row; last: run 3: probe lost",
                       "drain_reason": "bad: 3 rig failures in a row; last: run 3: probe lost", "current_run": 8,
                       "lease": {"id": "l1", "station": "sim2", "holder": "ana", "run": null, "ttl_s": 1800.0, "expires_in_s": 1200.4},
                       "queued": 0}),
            ],
            queued: vec![q2, q1],
            running: vec![
                RunningView {
                    run: running,
                    matrix: Some(m),
                    after: 31,
                },
                RunningView {
                    run: starting,
                    matrix: None,
                    after: 0,
                },
            ],
            recent: vec![pass, neg, err],
            at: "2026-01-02T04:05:06Z".into(),
        }
    }

    #[test]
    fn the_page_of_a_busy_lab() {
        let html = render(&fixture());
        // The token never shows; every link stays on this daemon.
        assert!(!html.contains("token="));
        assert!(!html.contains("https://"));
        insta::assert_snapshot!(html);
    }

    #[test]
    fn the_page_of_an_empty_lab() {
        let p = PageData {
            server: "http://127.0.0.1:8080".into(),
            benches: vec![],
            queued: vec![],
            running: vec![],
            recent: vec![],
            at: "2026-01-02T04:05:06Z".into(),
        };
        let html = render(&p);
        assert!(html.contains("<p>No run waits.</p>"));
        assert!(html.contains("<p>No run is running.</p>"));
        assert!(html.contains("<p>No run has ended yet.</p>"));
    }
}
