//! `report.html`: one self-contained page (inline CSS and script, nothing loaded from elsewhere).
//!
//! The phase x offset matrix is rendered as coloured cells, one block per phase (each phase has its
//! own offsets), in planned order. The per-cut data sits once in a `<script type="application/json">`
//! element; a small script fills a single details panel when a cell is clicked, so the page stays
//! light with 10,000 cut points. All device text is escaped: in HTML by entity escaping, in the
//! JSON by `\u` escapes, and the script only ever sets `textContent`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::journal::Journal;
use crate::model::{SlotState, Status};
use crate::text::{html, json_for_script, push_html, replay_command};
use crate::view::{describe_landing, not_run_reason, Counts, CutRow};

/// Longest lists of failures and warnings shown as links (the matrix still shows every cut point).
const MAX_LISTED: usize = 1000;

/// What the details panel shows for one cut point.
#[derive(Serialize)]
struct CellData<'a> {
    id: &'a str,
    phase: &'a str,
    offset: &'a str,
    status: &'static str,
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

fn cell_data<'a>(row: &CutRow<'a>, not_run: &'a str, report_dir: &str) -> CellData<'a> {
    let mut data = CellData {
        id: row.id,
        phase: row.phase,
        offset: row.offset,
        status: row.status_name(),
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
    let not_run = not_run_reason(journal);
    let data: Vec<CellData<'_>> = rows.iter().map(|r| cell_data(r, &not_run, report_dir)).collect();
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
    counts_line(&mut out, counts);
    out.push_str("</header>\n<main>\n<div class=\"left\">\n");

    // The matrix.
    out.push_str(
        "<section id=\"matrix\">\n<h2>Cut points</h2>\n<p class=\"legend\">\
         <i class=\"c pass\"></i> pass <i class=\"c fail\"></i> fail <i class=\"c error\"></i> rig error \
         <i class=\"c not-run\"></i> not run. Each block is a phase, its offsets in planned order \
         (a double cut's second cuts get a block per first cut); hover for the id, click for details.</p>\n",
    );
    for phase in journal.matrix_blocks() {
        out.push_str("<div class=\"phase\"><h3>");
        push_html(&mut out, &phase.title);
        out.push_str(" <small>");
        push_html(&mut out, &phase_counts_text(phase.counts));
        out.push_str("</small></h3><div class=\"cells\">");
        for row in &phase.rows {
            // The phases regroup the journal's rows: the data index is the row's place among them.
            let at = index_of.get(row.id).copied().unwrap_or(0);
            let _ = write!(out, "<i class=\"c {}\" data-i=\"{at}\" title=\"", row.status_name());
            push_html(&mut out, &cell_title(row));
            out.push_str("\"></i>");
        }
        out.push_str("</div></div>\n");
    }
    out.push_str("</section>\n");

    // Failures and rig errors as links, then warnings and notes.
    let problems: Vec<&CutRow<'_>> = rows
        .iter()
        .filter(|r| matches!(r.status(), Some(Status::Fail | Status::Error)))
        .collect();
    let _ = writeln!(
        out,
        "<section id=\"problems\">\n<h2>Failures and rig errors ({})</h2>",
        problems.len()
    );
    if problems.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str("<ul class=\"list\">\n");
        for row in problems.iter().take(MAX_LISTED) {
            let at = index_of.get(row.id).copied().unwrap_or(0);
            let _ = write!(
                out,
                "<li><a href=\"#cut={}\" data-i=\"{at}\"><i class=\"c {}\"></i>",
                fragment(row.id),
                row.status_name()
            );
            push_html(&mut out, row.id);
            out.push_str("</a> ");
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

fn counts_line(out: &mut String, c: Counts) {
    let _ = writeln!(
        out,
        "<p class=\"counts\"><span class=\"k total\">{} cut points</span> <span class=\"k pass\">{} pass</span> \
         <span class=\"k fail\">{} fail</span> <span class=\"k error\">{} rig error</span> \
         <span class=\"k not-run\">{} not run</span></p>",
        c.total(),
        c.pass,
        c.fail,
        c.error,
        c.not_run
    );
}

fn phase_counts_text(c: Counts) -> String {
    let mut parts = vec![format!("{} pass", c.pass)];
    if c.fail > 0 {
        parts.push(format!("{} fail", c.fail));
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
fn cell_title(row: &CutRow<'_>) -> String {
    let mut title = format!("{} \u{2014} {}", row.id, row.status_name());
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

const STYLE: &str = r#":root { --pass: #2da44e; --fail: #cf222e; --error: #e8830c; --none: #b8bcc2;
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
.k.error { background: var(--error); } .k.not-run { background: var(--none); color: var(--fg); }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(320px, 42%); gap: 24px; padding: 0 24px 24px; }
@media (max-width: 900px) { main { grid-template-columns: minmax(0, 1fr); } }
.legend { color: var(--muted); margin: 0 0 8px; }
.legend .c { display: inline-block; vertical-align: middle; cursor: default; }
.phase h3 small { color: var(--muted); font-weight: normal; }
.cells { display: flex; flex-wrap: wrap; gap: 2px; }
.c { display: block; width: 14px; height: 14px; border-radius: 2px; cursor: pointer; background: var(--none); }
.c.pass { background: var(--pass); } .c.fail { background: var(--fail); }
.c.error { background: var(--error); } .c.not-run { background: var(--none); }
.cells .c:hover { outline: 2px solid var(--muted); }
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
    title.appendChild(el("span", "badge " + c.status, c.status));
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
