//! The matrix of a campaign too large for one cell per cut point: per phase, one line per kind of
//! offset (`op-*-inside-0.50`, `random-*`, `sector-*+0.50`; later cuts of a sequence by the phase
//! and kind of their last cut) with its counts and a cell coloured by the worst result in it, then
//! the windows of contiguous failing cut points. Its size depends on the phases and kinds of
//! offsets, not on the number of cut points.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;

use cutpoint_core::CutIdRef;

use super::{failing_groups, fragment, phase_counts_text, Page, MAX_WINDOWS_LISTED};
use crate::groups::{Problems, Window};
use crate::index::{PhaseRows, ResultIndex};
use crate::rebuild::WriteError;
use crate::text::push_html;
use crate::verdict::cut_points;
use crate::view::{Counts, Kind};

/// Most kinds of offset listed per phase; the rest share one line.
const MAX_KINDS: usize = 64;

/// What the lines of the overview are called past [`MAX_KINDS`].
const OTHER_KINDS: &str = "other offsets";

/// The overview's own style (the per-cut page does not need it).
pub(super) const STYLE: &str = r#"table.overview { margin: 0; }
table.overview td.n { text-align: right; }
table.overview td .c { cursor: default; }
.windows h3 { font-weight: 600; }
"#;

/// The kind of an offset: its first number (after a `-`) becomes `*`, and a `~N` repeat suffix
/// goes: `op-0123-inside-0.50` is `op-*-inside-0.50`, `sector-12~2+0.50` is `sector-*+0.50`,
/// `random-0042` is `random-*`, `start` stays `start`.
pub fn offset_kind(offset: &str) -> String {
    let bytes = offset.as_bytes();
    let Some(start) = (1..bytes.len()).find(|&i| bytes[i - 1] == b'-' && bytes[i].is_ascii_digit()) else {
        return offset.to_owned();
    };
    let mut end = start;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if end + 1 < bytes.len() && bytes[end] == b'~' && bytes[end + 1].is_ascii_digit() {
        end += 1;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
    }
    format!("{}*{}", &offset[..start], &offset[end..])
}

/// The kind of a cut point: its offset's, or for a later cut of a sequence
/// (`seq:swap/sector-1>swap/op-0010-before`), `› ` and the phase and offset kind of its last cut.
pub fn cut_kind(id: &str, offset: &str) -> String {
    match CutIdRef::parse(id) {
        Ok(chain) if chain.len() > 1 => {
            let last = chain.last();
            format!("\u{203a} {}/{}", last.phase, offset_kind(last.offset))
        }
        // A single cut, or an id this version cannot read: its own offset's kind.
        _ => offset_kind(offset),
    }
}

/// The worst result among counted cut points: a failure, then a rig error, warnings, not run.
pub fn worst(c: Counts, negative: bool) -> Kind {
    if c.fail > 0 {
        if negative {
            Kind::ExpectedFailure
        } else {
            Kind::Fail
        }
    } else if c.error > 0 {
        Kind::Error
    } else if c.warned > 0 {
        Kind::Warned
    } else if c.not_run > 0 {
        Kind::NotRun
    } else {
        Kind::Pass
    }
}

/// The kinds of offset of one phase with their counts, in the order the plan first reaches them.
pub fn phase_kinds(index: &ResultIndex<'_>, phase: &PhaseRows<'_>) -> Vec<(String, Counts)> {
    let mut kinds: Vec<(String, Counts)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for &row in &phase.rows {
        let mut kind = cut_kind(index.id(row), index.offset(row));
        if !at.contains_key(&kind) && at.len() >= MAX_KINDS {
            kind = OTHER_KINDS.to_owned();
        }
        let k = *at.entry(kind.clone()).or_insert_with(|| {
            kinds.push((kind, Counts::default()));
            kinds.len() - 1
        });
        kinds[k].1.add_state(index.state(row));
    }
    kinds
}

/// What the legend says of the overview.
pub(super) fn write_legend(out: &mut String, cut_points: usize, limit: usize) {
    let _ = writeln!(
        out,
        "<br>This campaign has {cut_points} cut points, more than the {limit} shown one cell each: \
         each phase shows one line per kind of offset (a number in the offset is written <code>*</code>; \
         a double cut's later cuts by the phase and offset of their last cut), with its counts and a \
         cell coloured by the worst result in it (failure, rig error, warnings, not run). The failing \
         windows below say where the failures are; every cut point is in results.jsonl and junit.xml.</p>"
    );
}

/// One table per phase.
pub(super) fn write_phases<W: Write>(
    page: &mut Page<W>,
    index: &ResultIndex<'_>,
    phases: &[PhaseRows<'_>],
    negative: bool,
) -> Result<(), WriteError> {
    let fail = if negative { "expected failure" } else { "fail" };
    for phase in phases {
        let out = &mut page.buf;
        out.push_str("<div class=\"phase\"><div class=\"side\"><b>");
        push_html(out, phase.name);
        out.push_str("</b><small>");
        push_html(out, &phase_counts_text(phase.counts, negative));
        let _ = writeln!(
            out,
            "</small></div><div class=\"grid\"><table class=\"overview\"><tr><th></th><th>offsets</th>\
             <th>cut points</th><th>pass</th><th>pass with warnings</th><th>{fail}</th><th>rig error</th>\
             <th>not run</th></tr>"
        );
        for (kind, c) in phase_kinds(index, phase) {
            let worst = worst(c, negative);
            out.push_str("<tr><td><i class=\"c ");
            out.push_str(worst.class());
            out.push_str("\" title=\"");
            push_html(out, &kind);
            let _ = write!(out, " \u{2014} worst: {}\"></i></td><td>", worst.label());
            push_html(out, &kind);
            let _ = writeln!(
                out,
                "</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                c.total(),
                c.pass - c.warned,
                c.warned,
                c.fail,
                c.error,
                c.not_run
            );
        }
        out.push_str("</table></div></div>\n");
        page.spill()?;
    }
    Ok(())
}

/// The windows the page lists, with their group's reason, in the order they are listed: the
/// failures' groups, then the rig errors'.
pub(super) fn listed_windows(problems: &Problems) -> impl Iterator<Item = (&str, &Window)> {
    failing_groups(problems)
        .into_iter()
        .flat_map(|g| g.groups.iter())
        .flat_map(|g| g.windows.iter().map(move |w| (g.key.as_str(), w)))
        .take(MAX_WINDOWS_LISTED)
}

/// The section of failing windows: each group of failures and rig errors with its first
/// windows, each window linking its first cut point.
pub(super) fn write_windows(
    out: &mut String,
    index: &ResultIndex<'_>,
    phases: &[PhaseRows<'_>],
    problems: &Problems,
    negative: bool,
    data_index: impl Fn(u32) -> Option<usize>,
) {
    let [failing, errors] = failing_groups(problems);
    let windows = failing.window_count() + errors.window_count();
    let _ = writeln!(
        out,
        "<section id=\"windows\" class=\"windows\">\n<h2>Failing windows ({windows})</h2>"
    );
    if windows == 0 {
        out.push_str("<p>None: no cut point failed or met a rig error.</p>\n</section>\n");
        return;
    }
    let _ = writeln!(
        out,
        "<p class=\"muted\">Contiguous cut points (plan order, within a phase) that {} or met a rig error, \
         grouped by reason; click one for its first cut point.</p>",
        if negative { "failed as expected" } else { "failed" }
    );
    let mut budget = MAX_WINDOWS_LISTED;
    let (mut hidden_windows, mut hidden_cuts) = (0, 0);
    for (groups, kind) in [
        (failing, if negative { Kind::ExpectedFailure } else { Kind::Fail }),
        (errors, Kind::Error),
    ] {
        for group in &groups.groups {
            let shown = group.windows.len().min(budget);
            budget -= shown;
            let shown_cuts: usize = group.windows[..shown].iter().map(|w| w.len).sum();
            hidden_windows += group.window_count - shown;
            hidden_cuts += group.count - shown_cuts;
            if shown == 0 {
                continue;
            }
            out.push_str("<h3>");
            if kind == Kind::Error {
                out.push_str("rig error: ");
            } else if negative {
                out.push_str("expected failure: ");
            }
            push_html(out, &group.key);
            let _ = writeln!(out, " ({})</h3>\n<ul class=\"list\">", cut_points(group.count));
            for w in &group.windows[..shown] {
                let at = data_index(w.first).unwrap_or(0);
                let _ = write!(
                    out,
                    "<li><a href=\"#cut={}\" data-i=\"{at}\"><i class=\"c {}\"></i>",
                    fragment(index.id(w.first)),
                    kind.class()
                );
                push_html(out, phases[w.phase].name);
                out.push_str(": ");
                push_html(out, index.offset(w.first));
                if w.len > 1 {
                    out.push_str(" .. ");
                    push_html(out, index.offset(w.last));
                }
                let _ = writeln!(out, "</a> ({})</li>", cut_points(w.len));
            }
            out.push_str("</ul>\n");
        }
    }
    if hidden_windows > 0 {
        let _ = writeln!(
            out,
            "<p class=\"muted\">and {hidden_windows} more windows ({}): see summary.md and results.jsonl.</p>",
            cut_points(hidden_cuts)
        );
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_kinds_drop_the_number() {
        for (offset, kind) in [
            ("op-0123-inside-0.50", "op-*-inside-0.50"),
            ("op-0001-before", "op-*-before"),
            ("sector-12+0.50", "sector-*+0.50"),
            ("sector-1~2", "sector-*"),
            ("sector-1~2+0.10", "sector-*+0.10"),
            ("random-0042", "random-*"),
            ("byte-81920", "byte-*"),
            ("ms-5", "ms-*"),
            ("start", "start"),
            ("end", "end"),
            ("", ""),
            ("-7", "-*"),
        ] {
            assert_eq!(offset_kind(offset), kind, "{offset}");
        }
        assert_eq!(
            cut_kind("seq:swap/sector-1>swap/op-0010-before", "op-0010-before"),
            "\u{203a} swap/op-*-before"
        );
        assert_eq!(cut_kind("swap/random-03#2", "random-03"), "random-*");
    }

    #[test]
    fn the_worst_result_colours_a_line() {
        let c = |pass, warned, fail, error, not_run| Counts {
            pass,
            warned,
            fail,
            error,
            not_run,
        };
        assert_eq!(worst(c(9, 1, 1, 1, 1), false), Kind::Fail);
        assert_eq!(worst(c(9, 1, 1, 1, 1), true), Kind::ExpectedFailure);
        assert_eq!(worst(c(9, 1, 0, 1, 1), false), Kind::Error);
        assert_eq!(worst(c(9, 1, 0, 0, 1), false), Kind::Warned);
        assert_eq!(worst(c(9, 0, 0, 0, 1), false), Kind::NotRun);
        assert_eq!(worst(c(9, 0, 0, 0, 0), false), Kind::Pass);
    }
}
