//! `summary.md`: the campaign at a glance (counts per phase), then what to look at: each failing
//! cut point with how to replay it, the rig errors, and the warnings.

use std::fmt::Write as _;

use crate::journal::Journal;
use crate::model::{CutResult, Status};
use crate::text::{md, md_code, replay_command};
use crate::view::{describe_landing, not_run_reason, Counts};

/// Renders `summary.md`. `report_dir` is the directory named in replay commands.
pub fn summary_markdown(journal: &Journal, report_dir: &str) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_summary(&mut out, journal, report_dir);
    out
}

fn write_summary(out: &mut String, journal: &Journal, report_dir: &str) -> std::fmt::Result {
    let h = &journal.header;
    writeln!(out, "# cutpoint report: {}", md(&h.campaign))?;
    writeln!(out)?;
    writeln!(
        out,
        "- Campaign file: {} (sha256 {})",
        md_code(&h.campaign_path),
        md_code(&h.campaign_sha256)
    )?;
    writeln!(out, "- Target: {}", md_code(&h.target))?;
    writeln!(out, "- Seed: {}", h.seed)?;
    match &h.partition {
        Some(p) => writeln!(out, "- Partition: {}", md(p))?,
        None => writeln!(out, "- Partition: whole campaign")?,
    }
    writeln!(out, "- Started: {}", md(&h.started))?;
    match &journal.end {
        Some(end) => writeln!(out, "- Finished: {} ({})", md(&end.finished), md(&end.how))?,
        None => writeln!(out, "- Finished: no, the campaign was interrupted")?,
    }
    match &journal.control {
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

    let phases = journal.phases();
    let all = journal.counts();
    writeln!(out, "## Counts")?;
    writeln!(out)?;
    writeln!(out, "| Phase | Cut points | Pass | Fail | Rig error | Not run |")?;
    writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: |")?;
    for phase in &phases {
        counts_row(out, &md(phase.name), phase.counts)?;
    }
    counts_row(out, "**All**", all)?;
    writeln!(out)?;
    if all.not_run > 0 {
        let reason = not_run_reason(journal);
        let why = reason.strip_prefix("not run").unwrap_or("");
        let plural = if all.not_run == 1 { " did" } else { "s did" };
        writeln!(out, "{} planned cut point{plural} not run{}.", all.not_run, md(why))?;
        writeln!(out)?;
    }

    write_cut_timing(out, journal)?;

    let failing: Vec<&CutResult> = by_status(journal, Status::Fail);
    writeln!(out, "## Failures ({})", failing.len())?;
    writeln!(out)?;
    if failing.is_empty() {
        writeln!(out, "No cut point broke the rule.")?;
        writeln!(out)?;
    }
    for cut in failing {
        writeln!(out, "### {}", md_code(&cut.id))?;
        writeln!(out)?;
        cut_details(out, cut, report_dir)?;
        writeln!(out)?;
    }

    let errors = by_status(journal, Status::Error);
    writeln!(out, "## Rig errors ({})", errors.len())?;
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
    }
    for cut in &errors {
        writeln!(out, "- {}: {}", md_code(&cut.id), reasons(cut))?;
        writeln!(out, "  - Replay: {}", md_code(&replay_command(report_dir, &cut.id)))?;
    }
    if !errors.is_empty() {
        writeln!(out)?;
    }

    let warned: Vec<&CutResult> = journal.cuts.iter().filter(|c| !c.warnings.is_empty()).collect();
    let warning_count: usize = warned.iter().map(|c| c.warnings.len()).sum();
    writeln!(out, "## Warnings ({warning_count})")?;
    writeln!(out)?;
    if warned.is_empty() {
        writeln!(out, "None.")?;
        writeln!(out)?;
    }
    for cut in &warned {
        for warning in &cut.warnings {
            writeln!(out, "- {}: {}", md_code(&cut.id), md(warning))?;
        }
    }
    if !warned.is_empty() {
        writeln!(out)?;
    }

    if !journal.notes.is_empty() {
        writeln!(out, "## Notes")?;
        writeln!(out)?;
        for note in &journal.notes {
            writeln!(out, "- {}", md(note))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn counts_row(out: &mut String, name: &str, c: Counts) -> std::fmt::Result {
    writeln!(
        out,
        "| {name} | {} | {} | {} | {} | {} |",
        c.total(),
        c.pass,
        c.fail,
        c.error,
        c.not_run
    )
}

/// Results with `status`, in the report's row order.
fn by_status(journal: &Journal, status: Status) -> Vec<&CutResult> {
    journal
        .rows()
        .into_iter()
        .filter_map(|r| r.result)
        .filter(|c| c.status == status)
        .collect()
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
/// this bench's cut path (on the simulated board, exactly zero). `None` when no cut was aimed
/// at an instant.
pub(crate) fn cut_timing(journal: &Journal) -> Option<String> {
    let mut late: Vec<u64> = journal
        .cuts
        .iter()
        .filter_map(|c| c.landing.as_ref())
        .filter_map(|l| l.requested_us.map(|r| l.actual_us.saturating_sub(r)))
        .collect();
    if late.is_empty() {
        return None;
    }
    late.sort_unstable();
    let at = |q: usize| late[(late.len() - 1) * q / 100];
    Some(format!(
        "{} cuts aimed at an instant landed after it by: p50 {} us, p90 {} us, p99 {} us, max {} us.",
        late.len(),
        at(50),
        at(90),
        at(99),
        late[late.len() - 1]
    ))
}

fn write_cut_timing(out: &mut String, journal: &Journal) -> std::fmt::Result {
    if let Some(line) = cut_timing(journal) {
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
        c.reasons = vec!["<img src=x> | *boom*\n# heading".into()];
        j.cuts.push(c);
        let text = summary_markdown(&j, "out");
        assert!(
            text.contains("  - &lt;img src=x&gt; \\| \\*boom\\* # heading\n"),
            "{text}"
        );
        assert!(!text.contains("<img"), "{text}");
    }
}
