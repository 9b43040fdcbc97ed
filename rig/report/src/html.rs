//! `report.html`: one self-contained page (inline CSS and script, nothing loaded from elsewhere).
//!
//! The phase x offset matrix is rendered as coloured cells, one block per phase (each phase has its
//! own offsets), in planned order: the phase named down the side, its offsets along the top (every
//! column of the block's first line) and at the start of each line. A pass with warnings has a
//! colour of its own; in a negative control a failure shows as an expected failure. The per-cut data sits once in a `<script type="application/json">`
//! element; a small script fills a single details panel when a cell is clicked, so the page stays
//! light with 10,000 cut points. All device text is escaped: in HTML by entity escaping, in the
//! JSON by `\u` escapes, and the script only ever sets `textContent`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::journal::Journal;
use crate::model::{SlotState, Status};
use crate::text::{html, json_for_script, push_html, replay_command};
use crate::view::{describe_landing, not_run_reason, Counts, CutRow, Kind};

/// Longest lists of failures and warnings shown as links (the matrix still shows every cut point).
const MAX_LISTED: usize = 1000;

/// Cells per line of a matrix block.
const COLUMNS: usize = 32;

/// What the details panel shows for one cut point.
#[derive(Serialize)]
struct CellData<'a> {
    id: &'a str,
    phase: &'a str,
    offset: &'a str,
    /// `pass`, `warn`, `fail`, `xfail`, `error` or `not-run` (the cell's class).
    status: &'static str,
    /// What the status is called, e.g. `expected failure`.
    label: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repetition: Option<u32>,
    /// A string: seeds exceed the integers JavaScript numbers hold exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    reasons: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    landing: Option<String>,
    /// Where cut 2, 3... of a sequence landed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    later_landings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_boot: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    final_image: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    committed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    same_state_as: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_cut_state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wall_ms: Option<u64>,
    #[serde(skip_serializing_if = "<[SlotState]>::is_empty")]
    slots: &'a [SlotState],
    /// `[t_us, text]` pairs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    console: Vec<(u64, &'a str)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replay: Option<String>,
}

fn cell_data<'a>(row: &CutRow<'a>, negative: bool, not_run: &'a str, report_dir: &str) -> CellData<'a> {
    let kind = row.kind(negative);
    let mut data = CellData {
        id: row.id,
        phase: row.phase,
        offset: row.offset,
        status: kind.class(),
        label: kind.label(),
        note: None,
        repetition: None,
        seed: None,
        reasons: &[],
        warnings: &[],
        landing: None,
        later_landings: Vec::new(),
        first_boot: None,
        final_image: None,
        committed: None,
        same_state_as: None,
        post_cut_state: None,
        wall_ms: None,
        slots: &[],
        console: Vec::new(),
        replay: None,
    };
    match row.result {
        None => data.note = Some(not_run),
        Some(cut) => {
            data.repetition = Some(cut.repetition);
            data.seed = Some(cut.seed.to_string());
            data.reasons = &cut.reasons;
            data.warnings = &cut.warnings;
            data.landing = cut.landing.as_ref().map(describe_landing);
            data.later_landings = cut.later_landings.iter().map(describe_landing).collect();
            // After a rig error nothing is known about the device: no "nothing booted".
            let known = cut.status != Status::Error;
            data.first_boot = cut.first_boot.as_deref().or(known.then_some("nothing booted"));
            data.final_image = cut.final_image.as_deref().or(known.then_some("none"));
            data.committed = known.then_some(cut.committed);
            data.same_state_as = cut.same_state_as.as_deref();
            data.post_cut_state = cut.post_cut_state.as_deref();
            data.wall_ms = Some(cut.wall_ms);
            data.slots = &cut.slots;
            data.console = cut.console.iter().map(|l| (l.t_us, l.text.as_str())).collect();
            data.replay = Some(replay_command(report_dir, &cut.id));
        }
    }
    data
}

/// Renders `report.html`. `report_dir` is the directory named in replay commands.
pub fn report_html(journal: &Journal, report_dir: &str) -> Result<String, serde_json::Error> {
    let rows = journal.rows();
    let negative = journal.is_negative_control();
    let not_run = not_run_reason(journal);
    let data: Vec<CellData<'_>> = rows
        .iter()
        .map(|r| cell_data(r, negative, &not_run, report_dir))
        .collect();
    let json = json_for_script(&data)?;
    let index_of: std::collections::HashMap<&str, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();

    let mut out = String::with_capacity(json.len() + rows.len() * 120 + 16 * 1024);
    let h = &journal.header;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>cutpoint: {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        html(&h.campaign)
    );

    // Header: what ran, and the counts.
    let counts = journal.counts();
    let _ = writeln!(out, "<header>\n<h1>cutpoint report: {}</h1>", html(&h.campaign));
    if let Some(nc) = journal.negative_control() {
        let class = if nc.caught() { "caught" } else { "missed" };
        let _ = writeln!(out, "<p class=\"verdict {class}\">{}</p>", html(&nc.headline()));
    }
    for why in journal.incomplete() {
        let _ = writeln!(out, "<p class=\"verdict incomplete\">incomplete: {}</p>", html(&why));
    }
    out.push_str("<p class=\"meta\">");
    meta(&mut out, "target", &h.target);
    meta(&mut out, "seed", &h.seed.to_string());
    meta(
        &mut out,
        "partition",
        h.partition.as_deref().unwrap_or("whole campaign"),
    );
    meta(&mut out, "campaign file", &h.campaign_path);
    meta(&mut out, "sha256", &h.campaign_sha256);
    meta(&mut out, "started", &h.started);
    match &journal.end {
        Some(end) => meta(&mut out, "finished", &format!("{} ({})", end.finished, end.how)),
        None => meta(&mut out, "finished", "no, interrupted"),
    }
    match &journal.control {
        Some(control) => {
            let mut text = control.status.name().to_owned();
            if !control.reasons.is_empty() {
                text.push_str(": ");
                text.push_str(&control.reasons.join("; "));
            }
            meta(&mut out, "control run", &text);
        }
        None => meta(&mut out, "control run", "not run"),
    }
    if let Some(timing) = crate::summary::cut_timing(journal) {
        meta(&mut out, "cut timing", &timing);
    }
    out.push_str("</p>\n");
    counts_line(&mut out, counts, negative);
    out.push_str("</header>\n<main>\n<div class=\"left\">\n");

    // The matrix.
    out.push_str("<section id=\"matrix\">\n<h2>Cut points</h2>\n<p class=\"legend\">");
    let fail = if negative { Kind::ExpectedFailure } else { Kind::Fail };
    for kind in [Kind::Pass, Kind::Warned, fail, Kind::Error, Kind::NotRun] {
        let _ = write!(out, "<i class=\"c {}\"></i> {} ", kind.class(), kind.label());
    }
    out.push_str(
        "<br>Phases run down the side, one block each (a double cut's second cuts get a block per \
         first cut); offsets run along the top and each line starts with the offset of its first \
         cut point, in planned order. Hover for the id, click for details.</p>\n",
    );
    for block in journal.matrix_blocks() {
        matrix_block(&mut out, &block, negative, &index_of);
    }
    out.push_str("</section>\n");

    // Failures and rig errors as links, then warnings and notes.
    let problems: Vec<&CutRow<'_>> = rows
        .iter()
        .filter(|r| matches!(r.status(), Some(Status::Fail | Status::Error)))
        .collect();
    let _ = writeln!(
        out,
        "<section id=\"problems\">\n<h2>{} and rig errors ({})</h2>",
        if negative { "Expected failures" } else { "Failures" },
        problems.len()
    );
    if problems.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str("<ul class=\"list\">\n");
        for row in problems.iter().take(MAX_LISTED) {
            let at = index_of.get(row.id).copied().unwrap_or(0);
            let kind = row.kind(negative);
            let _ = write!(
                out,
                "<li><a href=\"#cut={}\" data-i=\"{at}\"><i class=\"c {}\"></i>",
                fragment(row.id),
                kind.class()
            );
            push_html(&mut out, row.id);
            out.push_str("</a> ");
            if kind == Kind::ExpectedFailure {
                out.push_str("expected failure: ");
            }
            let reason = row.result.map(|c| c.first_reason()).unwrap_or("");
            push_html(&mut out, reason);
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
        more(&mut out, problems.len());
    }
    out.push_str("</section>\n");

    let warnings: Vec<(&str, usize, &str)> = rows
        .iter()
        .enumerate()
        .filter_map(|(at, r)| r.result.map(|c| (at, r.id, c)))
        .flat_map(|(at, id, c)| c.warnings.iter().map(move |w| (id, at, w.as_str())))
        .collect();
    let _ = writeln!(out, "<section id=\"warnings\">\n<h2>Warnings ({})</h2>", warnings.len());
    if warnings.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str("<ul class=\"list\">\n");
        for (id, at, warning) in warnings.iter().take(MAX_LISTED) {
            let _ = write!(out, "<li><a href=\"#cut={}\" data-i=\"{at}\">", fragment(id));
            push_html(&mut out, id);
            out.push_str("</a> ");
            push_html(&mut out, warning);
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
        more(&mut out, warnings.len());
    }
    out.push_str("</section>\n");

    if !journal.notes.is_empty() {
        out.push_str("<section id=\"notes\">\n<h2>Notes</h2>\n<ul>\n");
        for note in &journal.notes {
            out.push_str("<li>");
            push_html(&mut out, note);
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n</section>\n");
    }
    out.push_str("</div>\n");

    // The one details panel, filled by the script.
    out.push_str(
        "<aside id=\"detail\">\n<div id=\"detail-body\"><p class=\"muted\">Click a cell or a listed cut point \
         to see its console, flash state and replay command.</p></div>\n</aside>\n</main>\n",
    );
    let _ = writeln!(out, "<script type=\"application/json\" id=\"cut-data\">{json}</script>");
    let _ = writeln!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>");
    Ok(out)
}

fn meta(out: &mut String, name: &str, value: &str) {
    out.push_str("<span>");
    push_html(out, name);
    out.push_str(": <b>");
    push_html(out, value);
    out.push_str("</b></span> ");
}

fn counts_line(out: &mut String, c: Counts, negative: bool) {
    let fail = if negative { Kind::ExpectedFailure } else { Kind::Fail };
    let _ = write!(
        out,
        "<p class=\"counts\"><span class=\"k total\">{} cut points</span>",
        c.total()
    );
    for (kind, n) in [
        (Kind::Pass, c.pass - c.warned),
        (Kind::Warned, c.warned),
        (fail, c.fail),
        (Kind::Error, c.error),
        (Kind::NotRun, c.not_run),
    ] {
        let _ = write!(out, " <span class=\"k {}\">{n} {}</span>", kind.class(), kind.label());
    }
    out.push_str("</p>\n");
}

/// One block of the matrix: the phase down the side, its offsets along the top, lines of
/// [`COLUMNS`] cells each headed by the offset of their first cell.
fn matrix_block(
    out: &mut String,
    block: &crate::view::MatrixBlock<'_>,
    negative: bool,
    index_of: &std::collections::HashMap<&str, usize>,
) {
    out.push_str("<div class=\"phase\"><div class=\"side\"><b>");
    push_html(out, &block.title);
    out.push_str("</b><small>");
    push_html(out, &phase_counts_text(block.counts, negative));
    out.push_str("</small></div><div class=\"grid\"><div class=\"top\"><span class=\"at\">offset</span>");
    for row in block.rows.iter().take(COLUMNS) {
        out.push_str("<span title=\"");
        push_html(out, row.offset);
        out.push_str("\">");
        push_html(out, row.offset);
        out.push_str("</span>");
    }
    out.push_str("</div>");
    for line in block.rows.chunks(COLUMNS) {
        out.push_str("<div class=\"line\"><span class=\"at\">");
        if let Some(first) = line.first() {
            push_html(out, first.offset);
        }
        out.push_str("</span>");
        for row in line {
            // The blocks regroup the journal's rows: the data index is the row's place among them.
            let at = index_of.get(row.id).copied().unwrap_or(0);
            let _ = write!(
                out,
                "<i class=\"c {}\" data-i=\"{at}\" title=\"",
                row.kind(negative).class()
            );
            push_html(out, &cell_title(row, negative));
            out.push_str("\"></i>");
        }
        out.push_str("</div>");
    }
    out.push_str("</div></div>\n");
}

fn phase_counts_text(c: Counts, negative: bool) -> String {
    let mut parts = vec![format!("{} pass", c.pass - c.warned)];
    if c.warned > 0 {
        parts.push(format!("{} pass with warnings", c.warned));
    }
    if c.fail > 0 {
        let fail = if negative { "expected failure" } else { "fail" };
        parts.push(format!("{} {fail}", c.fail));
    }
    if c.error > 0 {
        parts.push(format!("{} rig error", c.error));
    }
    if c.not_run > 0 {
        parts.push(format!("{} not run", c.not_run));
    }
    format!("{} cut points: {}", c.total(), parts.join(", "))
}

/// Hover text of a cell: id, status and the first reason.
fn cell_title(row: &CutRow<'_>, negative: bool) -> String {
    let mut title = format!("{} \u{2014} {}", row.id, row.kind(negative).label());
    if let Some(reason) = row.result.map(|c| c.first_reason()).filter(|r| !r.is_empty()) {
        title.push_str(" \u{2014} ");
        title.push_str(reason);
    }
    title
}

fn more(out: &mut String, total: usize) {
    if total > MAX_LISTED {
        let _ = writeln!(
            out,
            "<p class=\"muted\">and {} more: see the matrix.</p>",
            total - MAX_LISTED
        );
    }
}

/// Percent-encodes an id for a URL fragment (the script decodes it with `decodeURIComponent`).
fn fragment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const STYLE: &str = r#":root { --pass: #2da44e; --warn: #c9d22a; --fail: #cf222e; --xfail: #8250df; --error: #e8830c; --none: #b8bcc2;
  --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
header { padding: 14px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { font-size: 20px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 18px 0 8px; }
h3 { font-size: 14px; margin: 12px 0 4px; }
.meta { margin: 0 0 8px; color: var(--muted); }
.meta span { margin-right: 16px; white-space: nowrap; }
.meta b { color: var(--fg); font-weight: 600; white-space: normal; word-break: break-all; }
.counts { margin: 0; }
.k { display: inline-block; margin-right: 6px; padding: 1px 10px; border-radius: 12px; color: #fff; font-weight: 600; }
.k.total { background: var(--fg); }
.k.pass { background: var(--pass); } .k.fail { background: var(--fail); }
.k.warn { background: var(--warn); color: var(--fg); } .k.xfail { background: var(--xfail); }
.k.error { background: var(--error); } .k.not-run { background: var(--none); color: var(--fg); }
.verdict { margin: 0 0 8px; padding: 4px 10px; border-radius: 4px; font-weight: 600; color: #fff; }
.verdict.caught { background: var(--pass); } .verdict.missed { background: var(--fail); }
.verdict.incomplete { background: var(--error); }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(320px, 42%); gap: 24px; padding: 0 24px 24px; }
@media (max-width: 900px) { main { grid-template-columns: minmax(0, 1fr); } }
.legend { color: var(--muted); margin: 0 0 8px; }
.legend .c { display: inline-block; vertical-align: middle; cursor: default; }
.phase { display: flex; gap: 10px; padding: 8px 0; border-top: 1px solid var(--line); }
.side { flex: 0 0 120px; word-break: break-word; }
.side small { display: block; color: var(--muted); font-size: 11px; }
.grid { min-width: 0; overflow-x: auto; }
.top, .line { display: flex; gap: 2px; align-items: flex-end; }
.line { margin-top: 2px; align-items: center; }
.at { flex: 0 0 110px; padding-right: 6px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  text-align: right; color: var(--muted); font: 11px ui-monospace, SFMono-Regular, Menlo, monospace; }
.top span:not(.at) { flex: 0 0 14px; max-height: 96px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  writing-mode: vertical-rl; transform: rotate(180deg); color: var(--muted); font: 10px/14px ui-monospace, SFMono-Regular, Menlo, monospace; }
.c { display: block; flex: 0 0 14px; width: 14px; height: 14px; border-radius: 2px; cursor: pointer; background: var(--none); }
.c.pass { background: var(--pass); } .c.fail { background: var(--fail); }
.c.warn { background: var(--warn); } .c.xfail { background: var(--xfail); }
.c.error { background: var(--error); } .c.not-run { background: var(--none); }
.line .c:hover { outline: 2px solid var(--muted); }
.c.sel { outline: 2px solid var(--fg); outline-offset: 1px; }
.list { padding-left: 18px; }
.list li { margin: 2px 0; word-break: break-word; }
.list .c { display: inline-block; width: 10px; height: 10px; margin-right: 6px; }
.list a { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
.muted { color: var(--muted); }
#detail { position: sticky; top: 12px; align-self: start; max-height: calc(100vh - 24px); overflow: auto;
  margin-top: 18px; padding: 8px 16px 16px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); }
#detail h2 { word-break: break-all; }
.badge { margin-left: 8px; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; vertical-align: middle; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.warn { background: var(--warn); color: var(--fg); } .badge.xfail { background: var(--xfail); }
.badge.error { background: var(--error); } .badge.not-run { background: var(--none); color: var(--fg); }
dl.fields { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 12px; margin: 0; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; word-break: break-word; }
.replay { display: flex; gap: 6px; }
.replay input { flex: 1; min-width: 0; padding: 4px 6px; font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: 2px 6px; text-align: left; font-size: 12px; vertical-align: top; }
td { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { margin: 0; padding: 8px; max-height: 50vh; overflow: auto; background: #0d1117; color: #e6edf3; border-radius: 4px;
  font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; white-space: pre-wrap; word-break: break-all; }
"#;

/// The details panel. It must never contain the two characters that close a script element.
const SCRIPT: &str = r##"(function () {
  "use strict";
  var cuts = null;
  var selected = null;
  function data() {
    if (cuts === null) {
      cuts = JSON.parse(document.getElementById("cut-data").textContent);
    }
    return cuts;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function field(dl, name, value) {
    if (value === undefined || value === null || value === "") { return; }
    dl.appendChild(el("dt", null, name));
    dl.appendChild(el("dd", null, value));
  }
  function list(parent, title, items) {
    if (!items || items.length === 0) { return; }
    parent.appendChild(el("h3", null, title));
    var ul = el("ul");
    items.forEach(function (t) { ul.appendChild(el("li", null, t)); });
    parent.appendChild(ul);
  }
  function slots(parent, rows) {
    if (!rows || rows.length === 0) { return; }
    parent.appendChild(el("h3", null, "Flash state after recovery"));
    var table = el("table");
    var head = el("tr");
    ["slot", "version", "hash", "validity", "trailer"].forEach(function (k) { head.appendChild(el("th", null, k)); });
    table.appendChild(head);
    rows.forEach(function (s) {
      var tr = el("tr");
      [s.slot, s.version || "-", s.hash || "-", s.validity, s.trailer].forEach(function (v) {
        tr.appendChild(el("td", null, v));
      });
      table.appendChild(tr);
    });
    parent.appendChild(table);
  }
  function replay(parent, command) {
    if (!command) { return; }
    parent.appendChild(el("h3", null, "Replay"));
    var box = el("div", "replay");
    var input = el("input");
    input.readOnly = true;
    input.value = command;
    input.setAttribute("aria-label", "replay command");
    var button = el("button", "copy", "Copy");
    button.type = "button";
    button.addEventListener("click", function () {
      function done() { button.textContent = "Copied"; }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(command).then(done, function () {
          input.select(); document.execCommand("copy"); done();
        });
      } else {
        input.select(); document.execCommand("copy"); done();
      }
    });
    box.appendChild(input);
    box.appendChild(button);
    parent.appendChild(box);
  }
  function consoleLog(parent, lines) {
    parent.appendChild(el("h3", null, "Console after the cut"));
    if (!lines || lines.length === 0) {
      parent.appendChild(el("p", "muted", "(no console output)"));
      return;
    }
    var text = lines.map(function (l) { return "[" + l[0] + "] " + l[1]; }).join("\n");
    parent.appendChild(el("pre", null, text));
  }
  function show(i) {
    var c = data()[i];
    if (!c) { return; }
    if (selected) { selected.classList.remove("sel"); }
    selected = document.querySelector("#matrix .c[data-i='" + i + "']");
    if (selected) { selected.classList.add("sel"); }
    var body = document.getElementById("detail-body");
    body.textContent = "";
    var title = el("h2", null, c.id);
    title.appendChild(el("span", "badge " + c.status, c.label));
    body.appendChild(title);
    var dl = el("dl", "fields");
    field(dl, "phase", c.phase);
    field(dl, "offset", c.offset);
    field(dl, "repetition", c.repetition);
    field(dl, "seed", c.seed);
    field(dl, "landing", c.landing);
    (c.later_landings || []).forEach(function (l, n) { field(dl, "landing of cut " + (n + 2), l); });
    field(dl, "first boot", c.first_boot);
    field(dl, "final image", c.final_image);
    if (c.committed !== undefined) { field(dl, "committed at the cut", c.committed ? "yes" : "no"); }
    field(dl, "same flash state as", c.same_state_as);
    field(dl, "post-cut flash fingerprint", c.post_cut_state);
    if (c.wall_ms !== undefined) { field(dl, "wall time", c.wall_ms + " ms"); }
    body.appendChild(dl);
    if (c.note) {
      body.appendChild(el("p", "muted", c.note));
      return;
    }
    list(body, "Reasons", c.reasons);
    list(body, "Warnings", c.warnings);
    replay(body, c.replay);
    slots(body, c.slots);
    consoleLog(body, c.console);
    if (history.replaceState) { history.replaceState(null, "", "#cut=" + encodeURIComponent(c.id)); }
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest("[data-i]") : null;
    if (!t) { return; }
    ev.preventDefault();
    show(Number(t.getAttribute("data-i")));
  });
  var m = /^#cut=(.*)$/.exec(location.hash);
  if (m) {
    var id = null;
    try { id = decodeURIComponent(m[1]); } catch (e) { id = null; }
    var all = data();
    for (var i = 0; id !== null && i < all.length; i++) {
      if (all[i].id === id) { show(i); break; }
    }
  }
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogLine;
    use crate::testutil::{cut, header};

    #[test]
    fn script_and_style_cannot_close_their_elements() {
        assert!(!SCRIPT.contains("</") && !SCRIPT.contains("<!--"));
        assert!(!STYLE.contains("</"));
    }

    #[test]
    fn fragments_are_percent_encoded() {
        assert_eq!(fragment("swap/sector-1+0.50 x\"<"), "swap/sector-1%2B0.50%20x%22%3C");
    }

    #[test]
    fn device_text_is_escaped_everywhere() {
        let mut j = Journal::new(header("aa", None, &["s/1"]));
        let mut c = cut("s/1", Status::Fail);
        c.reasons = vec!["bad \"<b>\" & </script>".into()];
        c.console = vec![LogLine {
            t_us: 1,
            text: "</script><script>alert(1)</script>".into(),
        }];
        j.cuts.push(c);
        let page = report_html(&j, "out").unwrap();
        assert_eq!(
            page.matches("</script>").count(),
            2,
            "only the two real script elements close"
        );
        assert!(!page.contains("\"<b>\""), "reasons are escaped in lists and titles");
        assert!(page.contains("</a> bad &quot;&lt;b&gt;&quot; &amp; &lt;/script&gt;</li>"));
        assert!(page.contains("title=\"s/1 \u{2014} fail \u{2014} bad &quot;&lt;b&gt;&quot; &amp; &lt;/script&gt;\""));
    }
}
