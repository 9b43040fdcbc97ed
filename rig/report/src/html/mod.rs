//! `report.html`: one self-contained page (inline CSS and script, nothing loaded from elsewhere).
//!
//! Up to [`PER_CUT_LIMIT`] cut points, the phase x offset matrix is rendered as coloured cells, one
//! block per phase (each phase has its own offsets), in planned order: the phase named down the
//! side, its offsets along the top (every column of the block's first line) and at the start of
//! each line. A pass with warnings has a colour of its own; in a negative control a failure shows
//! as an expected failure. The per-cut data sits once in a `<script type="application/json">`
//! element; a small script fills a single details panel when a cell is clicked, so the page stays
//! light with 10,000 cut points.
//!
//! Past that, one cell per cut point would not open in a browser: the matrix becomes an overview
//! ([`overview`]), one line per phase and kind of offset with its counts, coloured by the worst
//! result in it, followed by the windows of contiguous failing cut points; the page says so, and
//! the details panel holds only the cut points the page lists.
//!
//! All device text is escaped: in HTML by entity escaping, in the JSON by `\u` escapes, and the
//! script only ever sets `textContent`. The page is written as it is built, a piece at a time, and
//! each cut point's result is read back from the journal only while its part of the page is
//! written.

mod assets;
mod cell;
mod matrix;
pub mod overview;

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::groups::{Grouping, Problems};
use crate::index::{PhaseRows, ResultIndex};
use crate::journal::Journal;
use crate::model::{CutResult, Status};
use crate::rebuild::{ReportError, WriteError};
use crate::text::{html, json_for_script, push_html};
use crate::view::{not_run_reason_of, Counts, CutRow, Kind};

use assets::{SCRIPT, STYLE};
use cell::cell_data;

/// Longest lists of failures and warnings shown as links (the matrix still shows every cut point).
const MAX_LISTED: usize = 1000;

/// Most cut points shown one cell each; a larger campaign gets the overview.
pub const PER_CUT_LIMIT: usize = 20_000;

/// Most failing windows the overview lists.
pub(crate) const MAX_WINDOWS_LISTED: usize = 200;

/// Whether the page holds the details of every row (else it is an overview).
pub(crate) fn shows_every_row(index: &ResultIndex<'_>) -> bool {
    index.len() <= PER_CUT_LIMIT
}

/// Renders `report.html`. `report_dir` is the directory named in replay commands.
pub fn report_html(journal: &Journal, report_dir: &str) -> Result<String, ReportError> {
    let index = ResultIndex::of_journal(journal);
    let phases = index.phases();
    let problems = Problems::of(&index, &phases, MAX_WINDOWS_LISTED)?;
    let mut bytes = Vec::new();
    write_html(&index, &phases, &problems, report_dir, &mut bytes).map_err(|e| match e {
        WriteError::Report(e) => e,
        // Writing to memory does not fail.
        WriteError::Io(e) => ReportError::Io(crate::PathError::new(std::path::Path::new("report.html"), e)),
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The page as it is written: text gathers in `buf` and goes out in large pieces.
pub(super) struct Page<W: Write> {
    pub buf: String,
    out: W,
}

/// Bytes gathered before they are written out.
const SPILL: usize = 64 * 1024;

impl<W: Write> Page<W> {
    /// Writes out what gathered once it is large.
    pub fn spill(&mut self) -> io::Result<()> {
        if self.buf.len() >= SPILL {
            self.out.write_all(self.buf.as_bytes())?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.write_all(self.buf.as_bytes())?;
        self.buf.clear();
        Ok(())
    }
}

/// The rows whose details the page holds, and the place of each in the page's data.
enum Shown {
    /// Every row, at its own index.
    All,
    /// The rows listed (sorted); a row's place is its position here.
    Listed(Vec<u32>),
}

impl Shown {
    fn data_index(&self, row: u32) -> Option<usize> {
        match self {
            Shown::All => Some(row as usize),
            Shown::Listed(rows) => rows.binary_search(&row).ok(),
        }
    }
}

/// The failures and rig errors listed as links (rows, in plan order), and how many there are.
fn listed_problems(index: &ResultIndex<'_>) -> (Vec<u32>, usize) {
    let mut rows = Vec::new();
    let mut total = 0;
    for row in index.rows() {
        if matches!(index.state(row).status(), Some(Status::Fail | Status::Error)) {
            total += 1;
            if rows.len() < MAX_LISTED {
                rows.push(row);
            }
        }
    }
    (rows, total)
}

/// The first warnings listed as links: row and text.
fn listed_warnings(index: &ResultIndex<'_>) -> Result<Vec<(u32, String)>, ReportError> {
    let mut listed = Vec::new();
    for row in index.rows() {
        if listed.len() >= MAX_LISTED {
            break;
        }
        if !index.state(row).has_warnings() {
            continue;
        }
        if let Some(cut) = index.load(row)? {
            let room = MAX_LISTED - listed.len();
            listed.extend(cut.warnings.iter().take(room).map(|w| (row, w.clone())));
        }
    }
    Ok(listed)
}

/// Writes `report.html` of an index, with its phases and problems, to `out`.
pub(crate) fn write_html<W: Write>(
    index: &ResultIndex<'_>,
    phases: &[PhaseRows<'_>],
    problems: &Problems,
    report_dir: &str,
    out: W,
) -> Result<(), WriteError> {
    write_html_with(index, phases, problems, report_dir, out, None)
}

/// Called with each row and its result (`None`: not run) as the page's data reads them back.
pub(crate) type EachRow<'h> = &'h mut dyn FnMut(u32, Option<&CutResult>) -> Result<(), WriteError>;

/// [`write_html`]; when the page holds every row's details ([`shows_every_row`]), `each_row`
/// sees every row in [`ResultIndex::rows`] order, each result read back once for both.
pub(crate) fn write_html_with<W: Write>(
    index: &ResultIndex<'_>,
    phases: &[PhaseRows<'_>],
    problems: &Problems,
    report_dir: &str,
    out: W,
    each_row: Option<EachRow<'_>>,
) -> Result<(), WriteError> {
    let negative = index.is_negative_control();
    let per_cut = shows_every_row(index);
    let (problem_rows, problem_count) = listed_problems(index);
    let warnings = listed_warnings(index)?;
    let shown = if per_cut {
        Shown::All
    } else {
        let mut rows: Vec<u32> = problem_rows
            .iter()
            .copied()
            .chain(warnings.iter().map(|w| w.0))
            .collect();
        rows.extend(overview::listed_windows(problems).map(|(_, w)| w.first));
        rows.sort_unstable();
        rows.dedup();
        Shown::Listed(rows)
    };

    let mut page = Page {
        buf: String::with_capacity(2 * SPILL),
        out,
    };
    let h = &index.header;
    let _ = write!(
        page.buf,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>cutpoint: {}</title>\n<style>\n{STYLE}</style>\n",
        html(&h.campaign)
    );
    if !per_cut {
        let _ = write!(page.buf, "<style>\n{}</style>\n", overview::STYLE);
    }
    page.buf.push_str("</head>\n<body>\n");

    // Header: what ran, and the counts.
    let counts = index.counts();
    let out = &mut page.buf;
    let _ = writeln!(out, "<header>\n<h1>cutpoint report: {}</h1>", html(&h.campaign));
    if let Some(nc) = index.negative_control() {
        let class = if nc.caught() { "caught" } else { "missed" };
        let _ = writeln!(out, "<p class=\"verdict {class}\">{}</p>", html(&nc.headline()));
    }
    for why in index.incomplete() {
        let _ = writeln!(out, "<p class=\"verdict incomplete\">incomplete: {}</p>", html(&why));
    }
    out.push_str("<p class=\"meta\">");
    meta(out, "target", &h.target);
    meta(out, "seed", &h.seed.to_string());
    meta(out, "partition", h.partition.as_deref().unwrap_or("whole campaign"));
    meta(out, "campaign file", &h.campaign_path);
    meta(out, "sha256", &h.campaign_sha256);
    for input in &h.inputs {
        meta(out, &input.key, &format!("{} (sha256 {})", input.path, input.sha256));
    }
    meta(out, "started", &h.started);
    match &index.end {
        Some(end) => meta(out, "finished", &format!("{} ({})", end.finished, end.how)),
        None => meta(out, "finished", "no, interrupted"),
    }
    match &index.control {
        Some(control) => {
            let mut text = control.status.name().to_owned();
            if !control.reasons.is_empty() {
                text.push_str(": ");
                text.push_str(&control.reasons.join("; "));
            }
            meta(out, "control run", &text);
        }
        None => meta(out, "control run", "not run"),
    }
    if let Some(timing) = crate::summary::cut_timing(&index.recorded_totals.late) {
        meta(out, "cut timing", &timing);
    }
    out.push_str("</p>\n");
    counts_line(out, counts, negative);
    out.push_str("</header>\n<main>\n<div class=\"left\">\n");

    // The matrix, or its overview.
    out.push_str("<section id=\"matrix\">\n<h2>Cut points</h2>\n<p class=\"legend\">");
    let fail = if negative { Kind::ExpectedFailure } else { Kind::Fail };
    for kind in [Kind::Pass, Kind::Warned, fail, Kind::Error, Kind::NotRun] {
        let _ = write!(out, "<i class=\"c {}\"></i> {} ", kind.class(), kind.label());
    }
    if per_cut && index.rows().any(|row| index.state(row).boots_secondary()) {
        out.push_str(
            "<br><i class=\"c none b2\"></i> a bar along the bottom: after this cut the bootloader picks the \
             secondary slot (read from the flash by the scheme's inspector; click for the record)",
        );
    }
    if per_cut {
        out.push_str(
            "<br>Phases run down the side, one block each (a double cut's second cuts get a block per \
             first cut); offsets run along the top and each line starts with the offset of its first \
             cut point, in planned order. Hover for the id, click for details.</p>\n",
        );
        matrix::write_blocks(&mut page, index, phases, negative)?;
    } else {
        overview::write_legend(out, index.len(), PER_CUT_LIMIT);
        overview::write_phases(&mut page, index, phases, negative)?;
    }
    page.buf.push_str("</section>\n");
    if !per_cut {
        overview::write_windows(&mut page.buf, index, phases, problems, negative, |row| {
            shown.data_index(row)
        });
    }

    // Failures and rig errors as links, then warnings and notes.
    let out = &mut page.buf;
    let _ = writeln!(
        out,
        "<section id=\"problems\">\n<h2>{} and rig errors ({})</h2>",
        if negative { "Expected failures" } else { "Failures" },
        problem_count
    );
    if problem_count == 0 {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str("<ul class=\"list\">\n");
        for &row in &problem_rows {
            let at = shown.data_index(row).unwrap_or(0);
            let kind = index.state(row).kind(negative);
            let _ = write!(
                page.buf,
                "<li><a href=\"#cut={}\" data-i=\"{at}\"><i class=\"c {}\"></i>",
                fragment(index.id(row)),
                kind.class()
            );
            push_html(&mut page.buf, index.id(row));
            page.buf.push_str("</a> ");
            if kind == Kind::ExpectedFailure {
                page.buf.push_str("expected failure: ");
            }
            if index.state(row).has_reasons() {
                if let Some(cut) = index.load(row)? {
                    push_html(&mut page.buf, cut.first_reason());
                }
            }
            page.buf.push_str("</li>\n");
            page.spill()?;
        }
        page.buf.push_str("</ul>\n");
        more(&mut page.buf, problem_count);
    }
    page.buf.push_str("</section>\n");

    let warning_count = index.row_totals.warnings;
    let out = &mut page.buf;
    let _ = writeln!(out, "<section id=\"warnings\">\n<h2>Warnings ({warning_count})</h2>");
    if warning_count == 0 {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str("<ul class=\"list\">\n");
        for (row, warning) in &warnings {
            let at = shown.data_index(*row).unwrap_or(0);
            let _ = write!(
                out,
                "<li><a href=\"#cut={}\" data-i=\"{at}\">",
                fragment(index.id(*row))
            );
            push_html(out, index.id(*row));
            out.push_str("</a> ");
            push_html(out, warning);
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
        more(out, warning_count);
    }
    out.push_str("</section>\n");

    if !h.skipped.is_empty() {
        let _ = writeln!(
            out,
            "<section id=\"skipped\">\n<h2>Skipped offsets ({}): requested, gave no cut point, not run</h2>\n<ul>",
            h.skipped.len()
        );
        for s in &h.skipped {
            out.push_str("<li><code>");
            push_html(out, &s.id);
            out.push_str("</code> (");
            push_html(out, &s.kind);
            out.push_str("): ");
            push_html(out, &s.reason);
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n</section>\n");
    }
    if !index.notes.is_empty() {
        out.push_str("<section id=\"notes\">\n<h2>Notes</h2>\n<ul>\n");
        for note in &index.notes {
            out.push_str("<li>");
            push_html(out, note);
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
    out.push_str("<script type=\"application/json\" id=\"cut-data\">");
    write_data(&mut page, index, &shown, report_dir, each_row)?;
    page.buf.push_str("</script>\n");
    let _ = writeln!(page.buf, "<script>\n{SCRIPT}</script>\n</body>\n</html>");
    page.finish()?;
    Ok(())
}

/// The JSON array of the details of every shown row, each read back in turn.
fn write_data<W: Write>(
    page: &mut Page<W>,
    index: &ResultIndex<'_>,
    shown: &Shown,
    report_dir: &str,
    mut each_row: Option<EachRow<'_>>,
) -> Result<(), WriteError> {
    let negative = index.is_negative_control();
    let not_run = not_run_reason_of(index.end.as_ref());
    let all;
    let rows: &[u32] = match shown {
        Shown::All => {
            all = index.rows().collect::<Vec<_>>();
            &all
        }
        Shown::Listed(rows) => rows,
    };
    page.buf.push('[');
    for (i, &row) in rows.iter().enumerate() {
        if i > 0 {
            page.buf.push(',');
        }
        let cut = index.load(row)?;
        if let (Shown::All, Some(each)) = (shown, each_row.as_mut()) {
            each(row, cut.as_deref())?;
        }
        let view = CutRow {
            id: index.id(row),
            phase: index.phase(row),
            offset: index.offset(row),
            result: cut.as_deref(),
        };
        let json =
            json_for_script(&cell_data(&view, negative, &not_run, report_dir)).map_err(|source| ReportError::Json {
                path: std::path::PathBuf::from(crate::rebuild::HTML_FILE),
                source,
            })?;
        page.buf.push_str(&json);
        page.spill()?;
    }
    page.buf.push(']');
    Ok(())
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

/// The groups of failures and rig errors, in that order.
fn failing_groups(problems: &Problems) -> [&Grouping; 2] {
    [&problems.failing, &problems.errors]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogLine;
    use crate::testutil::{cut, header};

    #[test]
    fn script_and_style_cannot_close_their_elements() {
        assert!(!SCRIPT.contains("</") && !SCRIPT.contains("<!--"));
        assert!(!STYLE.contains("</") && !overview::STYLE.contains("</"));
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
