//! `summary.md`: the campaign at a glance (what it concludes, counts per phase), then what to
//! look at. Failures, rig errors and warnings are grouped by reason and by window of contiguous
//! cut points, so a run with hundreds of failures still reads in one screen; every cut point is
//! in `report.html` and `results.jsonl`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::groups::{Grouping, Problems};
use crate::index::{PhaseRows, ResultIndex};
use crate::journal::Journal;
use crate::model::{CutResult, Status};
use crate::rebuild::ReportError;
use crate::text::{md, md_code, replay_command};
use crate::verdict::cut_points;
use crate::view::{describe_landing, not_run_reason_of, Counts};

/// Most windows listed per section; the rest are counted.
pub(crate) const MAX_WINDOWS: usize = 20;

/// Renders `summary.md`. `report_dir` is the directory named in replay commands.
pub fn summary_markdown(journal: &Journal, report_dir: &str) -> String {
    let index = ResultIndex::of_journal(journal);
    let phases = index.phases();
    // A journal in memory reads back without failing.
    Problems::of(&index, &phases, MAX_WINDOWS)
        .and_then(|problems| summary_text(&index, &phases, &problems, report_dir))
        .unwrap_or_else(|e| format!("cannot write the summary: {e}\n"))
}

/// Renders `summary.md` of an index, with its phases and problems.
pub(crate) fn summary_text(
    index: &ResultIndex<'_>,
    phases: &[PhaseRows<'_>],
    problems: &Problems,
    report_dir: &str,
) -> Result<String, ReportError> {
    let mut out = String::new();
    let mut loaded = Ok(());
    // Writing into a String cannot fail; reading a result back can.
    let _ = write_summary(&mut out, index, phases, problems, report_dir, &mut loaded);
    loaded.map(|()| out)
}

/// The results a summary reads back, and the first error doing so.
type Loaded = Result<(), ReportError>;

fn write_summary(
    out: &mut String,
    index: &ResultIndex<'_>,
    phases: &[PhaseRows<'_>],
    problems: &Problems,
    report_dir: &str,
    loaded: &mut Loaded,
) -> std::fmt::Result {
    let h = &index.header;
    writeln!(out, "# cutpoint report: {}", md(&h.campaign))?;
    writeln!(out)?;
    if let Some(nc) = index.negative_control() {
        let mark = if nc.caught() { "" } else { "**NOT CAUGHT:** " };
        writeln!(out, "{mark}**{}.**", md(&nc.headline()))?;
        writeln!(out)?;
    }
    for why in index.incomplete() {
        writeln!(out, "**Incomplete:** {}.", md(&why))?;
        writeln!(out)?;
    }
    if let Some(f) = &h.filter {
        writeln!(
            out,
            "**A subset:** only the cut points taken by `--filter {}` ran, not the whole campaign.",
            md(f)
        )?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "- Campaign file: {} (sha256 {})",
        md_code(&h.campaign_path),
        md_code(&h.campaign_sha256)
    )?;
    for input in &h.inputs {
        writeln!(
            out,
            "- Input file {}: {} (sha256 {})",
            md_code(&input.key),
            md_code(&input.path),
            md_code(&input.sha256)
        )?;
    }
    writeln!(out, "- Target: {}", md_code(&h.target))?;
    writeln!(out, "- Seed: {}", h.seed)?;
    match &h.partition {
        Some(p) => writeln!(out, "- Partition: {}", md(p))?,
        None => writeln!(out, "- Partition: whole campaign")?,
    }
    writeln!(out, "- Started: {}", md(&h.started))?;
    match &index.end {
        Some(end) => writeln!(out, "- Finished: {} ({})", md(&end.finished), md(&end.how.to_string()))?,
        None => writeln!(out, "- Finished: no, the campaign was interrupted")?,
    }
    match &index.control {
        Some(control) if control.reasons.is_empty() => writeln!(out, "- Control run: {}", control.status)?,
        Some(control) => writeln!(
            out,
            "- Control run: {}: {}",
            control.status,
            control.reasons.iter().map(|r| md(r)).collect::<Vec<_>>().join("; ")
        )?,
        None => writeln!(out, "- Control run: not run")?,
    }
    writeln!(out)?;

    let negative = index.is_negative_control();
    let all = index.counts();
    writeln!(out, "## Counts")?;
    writeln!(out)?;
    let fail = if negative { "Expected failure" } else { "Fail" };
    writeln!(
        out,
        "| Phase | Cut points | Pass | Pass with warnings | {fail} | Rig error | Not run |"
    )?;
    writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")?;
    for phase in phases {
        counts_row(out, &md(phase.name), phase.counts)?;
    }
    counts_row(out, "**All**", all)?;
    writeln!(out)?;
    // A phase the campaign asked to cut whose every offset gave no cut point is absent from
    // the table above: say it was not tested, rather than leave the reader to notice.
    let mut untested: Vec<&str> = Vec::new();
    for s in &h.skipped {
        if !phases.iter().any(|p| p.name == s.phase) && !untested.contains(&s.phase.as_str()) {
            untested.push(&s.phase);
        }
    }
    // (A failed control run, or an incomplete run, is said above as such.)
    let control_failed = index.control.as_ref().is_some_and(|c| c.status != Status::Pass);
    if all.pass + all.fail + all.error + all.not_run == 0 && !control_failed && index.incomplete().is_empty() {
        writeln!(
            out,
            "**No cut point ran: nothing about the device was tested.** `cutpoint plan` shows what the campaign, \
             its filter and its partition give."
        )?;
        writeln!(out)?;
    }
    for phase in untested {
        writeln!(
            out,
            "Phase {} has no cut point: every offset it asked for gave none on this run (see Skipped offsets), \
             so it was not tested.",
            md_code(phase)
        )?;
        writeln!(out)?;
    }
    if all.not_run > 0 {
        let reason = not_run_reason_of(index.end.as_ref());
        let why = reason.strip_prefix("not run").unwrap_or("");
        let plural = if all.not_run == 1 { " did" } else { "s did" };
        writeln!(out, "{} planned cut point{plural} not run{}.", all.not_run, md(why))?;
        writeln!(out)?;
    }

    if !h.skipped.is_empty() {
        writeln!(
            out,
            "## Skipped offsets ({}): requested, gave no cut point, not run",
            h.skipped.len()
        )?;
        writeln!(out)?;
        writeln!(out, "| Offset | Phase | Kind | Why |")?;
        writeln!(out, "| --- | --- | --- | --- |")?;
        for s in &h.skipped {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                md_code(&s.id),
                md(&s.phase),
                md(&s.kind),
                md(&s.reason)
            )?;
        }
        writeln!(out)?;
    }

    write_cut_timing(out, &index.recorded_totals.late)?;

    let failing = &problems.failing;
    let failed = failing.cut_count();
    if negative {
        writeln!(out, "## Expected failures ({failed})")?;
    } else {
        writeln!(out, "## Failures ({failed})")?;
    }
    writeln!(out)?;
    if failing.is_empty() {
        if negative {
            writeln!(out, "No cut point failed: the rig did not catch this broken firmware.")?;
        } else {
            writeln!(out, "No cut point broke the rule.")?;
        }
        writeln!(out)?;
    } else {
        let what = if negative {
            "failed, as expected of this broken firmware"
        } else {
            "broke the rule"
        };
        intro(out, failing, what)?;
        let label = if negative { "expected failure: " } else { "" };
        write_groups(out, index, phases, failing, label, loaded, |out, cut| {
            cut_details(out, cut, report_dir)
        })?;
    }

    let errors = &problems.errors;
    let errored = errors.cut_count();
    writeln!(out, "## Rig errors ({errored})")?;
    writeln!(out)?;
    if errors.is_empty() {
        writeln!(out, "None.")?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "The rig failed on these cut points; they have no verdict and should be run again."
        )?;
        writeln!(out)?;
        intro(out, errors, "met a rig error")?;
        write_groups(out, index, phases, errors, "", loaded, |out, cut| {
            writeln!(out, "- Reasons: {}", reasons(cut))?;
            writeln!(out, "- Replay: {}", md_code(&replay_command(report_dir, &cut.id)))
        })?;
    }

    let warned = &problems.warned;
    let warning_count = index.recorded_totals.warnings;
    writeln!(out, "## Warnings ({warning_count})")?;
    writeln!(out)?;
    if warned.is_empty() {
        writeln!(out, "None.")?;
        writeln!(out)?;
    } else {
        intro(out, warned, "left an unexpected state that still boots")?;
        write_groups(out, index, phases, warned, "", loaded, |out, cut| {
            for warning in &cut.warnings {
                writeln!(out, "- Warning: {}", md(warning))?;
            }
            writeln!(out, "- Replay: {}", md_code(&replay_command(report_dir, &cut.id)))
        })?;
    }

    if !index.notes.is_empty() {
        writeln!(out, "## Notes")?;
        writeln!(out)?;
        for note in &index.notes {
            writeln!(out, "- {}", md(note))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// `N cut points <what>: R reasons, W windows of contiguous cut points (plan order, within a phase).`
fn intro(out: &mut String, groups: &Grouping, what: &str) -> std::fmt::Result {
    let cuts = groups.cut_count();
    let windows = groups.window_count();
    let reasons = if groups.groups.len() == 1 {
        "1 reason".to_owned()
    } else {
        format!("{} reasons", groups.groups.len())
    };
    let windows = if windows == 1 {
        "1 window".to_owned()
    } else {
        format!("{windows} windows")
    };
    writeln!(
        out,
        "{} {what}: {reasons}, {windows} of contiguous cut points (plan order, within a phase).",
        capitalized(&cut_points(cuts))
    )?;
    writeln!(out)
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Each group: `label`, its reason and count, its windows (at most [`MAX_WINDOWS`] over all
/// groups), and `first` about the first cut point of the group (read back; an error reading it
/// goes to `loaded`).
fn write_groups(
    out: &mut String,
    index: &ResultIndex<'_>,
    phases: &[PhaseRows<'_>],
    groups: &Grouping,
    label: &str,
    loaded: &mut Loaded,
    first: impl Fn(&mut String, &CutResult) -> std::fmt::Result,
) -> std::fmt::Result {
    let mut budget = MAX_WINDOWS;
    let mut hidden_groups = (0, 0);
    for group in &groups.groups {
        if budget == 0 {
            hidden_groups = (hidden_groups.0 + 1, hidden_groups.1 + group.count);
            continue;
        }
        writeln!(out, "### {label}{} ({})", md(&group.key), cut_points(group.count))?;
        writeln!(out)?;
        let shown = group.window_count.min(budget).min(group.windows.len());
        budget -= shown;
        for w in &group.windows[..shown] {
            let phase = phases[w.phase].name;
            if w.len == 1 {
                writeln!(out, "- {}: {}", md(phase), md_code(index.offset(w.first)))?;
            } else {
                writeln!(
                    out,
                    "- {}: {} .. {} ({})",
                    md(phase),
                    md_code(index.offset(w.first)),
                    md_code(index.offset(w.last)),
                    cut_points(w.len)
                )?;
            }
        }
        let rest = group.window_count - shown;
        if rest > 0 {
            let cuts = group.count - group.windows[..shown].iter().map(|w| w.len).sum::<usize>();
            writeln!(
                out,
                "- ... {} more windows ({}), see report.html / results.jsonl",
                rest,
                cut_points(cuts)
            )?;
        }
        writeln!(out)?;
        writeln!(out, "First of them, {}:", md_code(index.id(group.first)))?;
        writeln!(out)?;
        match index.load(group.first) {
            Ok(Some(cut)) => first(out, &cut)?,
            Ok(None) => {}
            Err(e) => {
                if loaded.is_ok() {
                    *loaded = Err(e);
                }
            }
        }
        writeln!(out)?;
    }
    if hidden_groups.0 > 0 {
        writeln!(
            out,
            "... {} more reasons ({}), see report.html / results.jsonl.",
            hidden_groups.0,
            cut_points(hidden_groups.1)
        )?;
        writeln!(out)?;
    }
    Ok(())
}

fn counts_row(out: &mut String, name: &str, c: Counts) -> std::fmt::Result {
    writeln!(
        out,
        "| {name} | {} | {} | {} | {} | {} | {} |",
        c.total(),
        c.pass - c.warned,
        c.warned,
        c.fail,
        c.error,
        c.not_run
    )
}

fn reasons(cut: &CutResult) -> String {
    if cut.reasons.is_empty() {
        "no reason given".to_owned()
    } else {
        cut.reasons.iter().map(|r| md(r)).collect::<Vec<_>>().join("; ")
    }
}

fn cut_details(out: &mut String, cut: &CutResult, report_dir: &str) -> std::fmt::Result {
    writeln!(
        out,
        "- Phase {}, offset {}, repetition {}, seed {}",
        md_code(&cut.phase),
        md_code(&cut.offset),
        cut.repetition,
        cut.seed
    )?;
    if cut.reasons.is_empty() {
        writeln!(out, "- Reasons: none given")?;
    } else {
        writeln!(out, "- Reasons:")?;
        for reason in &cut.reasons {
            writeln!(out, "  - {}", md(reason))?;
        }
    }
    match &cut.landing {
        Some(landing) => writeln!(out, "- Landing: {}", md(&describe_landing(landing)))?,
        None => writeln!(out, "- Landing: unknown")?,
    }
    for (n, landing) in cut.later_landings.iter().enumerate() {
        writeln!(out, "- Landing of cut {}: {}", n + 2, md(&describe_landing(landing)))?;
    }
    match &cut.first_boot {
        Some(v) => writeln!(out, "- First boot: {}", md_code(v))?,
        None => writeln!(out, "- First boot: nothing booted")?,
    }
    match &cut.final_image {
        Some(v) => writeln!(out, "- Final image: {}", md_code(v))?,
        None => writeln!(out, "- Final image: none")?,
    }
    writeln!(
        out,
        "- Committed at the cut: {}",
        if cut.committed { "yes" } else { "no" }
    )?;
    if let Some(same) = &cut.same_state_as {
        writeln!(out, "- Same flash state as {}", md_code(same))?;
    }
    if let Some(state) = &cut.post_cut_state {
        writeln!(out, "- Post-cut flash fingerprint: {}", md_code(state))?;
    }
    writeln!(out, "- Replay: {}", md_code(&replay_command(report_dir, &cut.id)))
}

/// How late the cuts landed after the instant they were aimed at: the latency and jitter of
/// this bench's cut path (on the simulated board, exactly zero). `late` counts the cuts by how
/// late they were (microseconds); `None` when no cut was aimed at an instant.
pub(crate) fn cut_timing(late: &BTreeMap<u64, usize>) -> Option<String> {
    let n: usize = late.values().sum();
    if n == 0 {
        return None;
    }
    // The value at a position of the sorted list of every cut's lateness.
    let at_rank = |rank: usize| {
        let mut seen = 0;
        for (&value, &count) in late {
            seen += count;
            if rank < seen {
                return value;
            }
        }
        late.keys().next_back().copied().unwrap_or(0)
    };
    let at = |q: usize| at_rank((n - 1) * q / 100);
    Some(format!(
        "{} cuts aimed at an instant landed after it by: p50 {} us, p90 {} us, p99 {} us, max {} us.",
        n,
        at(50),
        at(90),
        at(99),
        at_rank(n - 1)
    ))
}

fn write_cut_timing(out: &mut String, late: &BTreeMap<u64, usize>) -> std::fmt::Result {
    if let Some(line) = cut_timing(late) {
        writeln!(out, "## Cut timing")?;
        writeln!(out)?;
        writeln!(out, "{line}")?;
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cut, header};

    #[test]
    fn device_text_cannot_break_out_of_the_markdown() {
        let mut j = Journal::new(header("aa", None, &["s/1"]));
        let mut c = cut("s/1", Status::Fail);
        c.reasons = vec!["<img src=x> | *boom*\n# heading -> &lt;".into()];
        j.cuts.push(c);
        let text = summary_markdown(&j, "out");
        assert!(
            text.contains("  - \\<img src=x> \\| \\*boom\\* # heading -> \\&lt;\n"),
            "{text}"
        );
        assert!(!text.contains(" <img"), "{text}");
        assert!(!text.contains("&gt;"), "no HTML entities in the Markdown: {text}");
    }

    #[test]
    fn a_phase_whose_offsets_all_gave_no_cut_and_a_run_that_tested_nothing_are_said() {
        let skipped = |id: &str, phase: &str| crate::model::SkippedOffset {
            id: id.into(),
            phase: phase.into(),
            kind: "time".into(),
            reason: "past the phase's end".into(),
        };
        // The phase `verify` asked for two offsets and got none; `s` ran.
        let mut h = header("aa", None, &["s/1"]);
        h.skipped = vec![
            skipped("verify/us-100", "verify"),
            skipped("verify/us-400", "verify"),
            skipped("s/us-9", "s"),
        ];
        let mut j = Journal::new(h);
        j.cuts.push(cut("s/1", Status::Pass));
        let text = summary_markdown(&j, "out");
        assert_eq!(text.matches("has no cut point").count(), 1, "{text}");
        assert!(text.contains("Phase `verify` has no cut point"), "{text}");
        assert!(!text.contains("nothing about the device was tested"), "{text}");
        // Nothing planned at all, in a run that finished.
        let mut j = Journal::new(header("aa", None, &[]));
        j.end = Some(crate::model::JournalEnd {
            finished: "2025-01-01T01:00:00Z".into(),
            how: "complete".into(),
        });
        let text = summary_markdown(&j, "out");
        assert!(
            text.contains("**No cut point ran: nothing about the device was tested.**"),
            "{text}"
        );
    }

    #[test]
    fn failures_are_grouped_into_windows_and_capped() {
        let ids: Vec<String> = (0..100).map(|i| format!("swap/op-{i:04}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut j = Journal::new(header("aa", None, &ids));
        for (i, id) in ids.iter().enumerate() {
            // Failing windows of two, separated by a pass: 34 windows.
            let status = if i % 3 == 2 { Status::Pass } else { Status::Fail };
            let mut c = cut(id, status);
            if status == Status::Fail {
                c.reasons = vec![format!("bricked: nothing booted after the cut ({i} console lines)")];
            }
            j.cuts.push(c);
        }
        let text = summary_markdown(&j, "out");
        assert!(text.contains("## Failures (67)\n"), "{text}");
        assert!(
            text.contains("### bricked: nothing booted after the cut (67 cut points)\n"),
            "{text}"
        );
        assert!(
            text.contains("- swap: `op-0000` .. `op-0001` (2 cut points)\n"),
            "{text}"
        );
        assert_eq!(text.matches("\n- swap: `").count(), 20, "{text}");
        assert!(
            text.contains("- ... 14 more windows (27 cut points), see report.html / results.jsonl\n"),
            "{text}"
        );
        assert!(text.lines().count() < 80, "{text}");
    }

    #[test]
    fn a_negative_control_says_its_failures_were_expected() {
        let mut h = header("aa", None, &["s/1", "s/2"]);
        h.expect = crate::model::Expect::Fail;
        let mut j = Journal::new(h);
        j.cuts.push(cut("s/1", Status::Fail));
        j.cuts.push(cut("s/2", Status::Pass));
        let text = summary_markdown(&j, "out");
        assert!(
            text.contains(
                "\n**negative control: 1 cut point failed, as expected (the rig caught the broken firmware).**\n"
            ),
            "{text}"
        );
        assert!(text.contains("| Expected failure |"), "{text}");
        assert!(text.contains("## Expected failures (1)"), "{text}");
        assert!(text.contains("### expected failure: bricked (1 cut point)"), "{text}");
        assert!(!text.contains("## Failures"), "{text}");

        j.cuts[0].status = Status::Pass;
        let text = summary_markdown(&j, "out");
        assert!(
            text.contains("**NOT CAUGHT:** **negative control: none of 2 cut points failed"),
            "{text}"
        );
    }
}
