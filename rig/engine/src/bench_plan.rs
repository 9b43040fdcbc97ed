//! The plan of a campaign on a station, without opening the bench: from the control run a
//! report recorded, or, without one, the ids that need no run and what needs one.

use std::path::{Path, PathBuf};

use cutpoint_campaign::{self as campaign, Campaign, OfflinePlan, Pending, Skipped, Timeline};
use cutpoint_report::journal::read_journal;
use cutpoint_report::Status;

/// One cut point of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    pub id: String,
    pub phase: String,
}

/// The plan on the console of a control run recorded in a report.
#[derive(Debug, Clone)]
pub struct RecordedPlan {
    /// The report directory.
    pub report: PathBuf,
    /// Whether the campaign file changed since that run (the plan uses it as it is now).
    pub campaign_changed: bool,
    /// The input files that run recorded (the plan uses them as they are now).
    pub inputs: Vec<cutpoint_report::InputDigest>,
    pub items: Vec<PlanItem>,
    pub skipped: Vec<Skipped>,
    /// Sequences whose later cuts only the recovery runs can give.
    pub pending: Vec<Pending>,
}

/// Why a report cannot give the plan.
#[derive(Debug, thiserror::Error)]
pub enum FromReportError {
    /// The directory has no readable journal or no control run: bad input.
    #[error("{0}")]
    Input(String),
    /// The recorded control run failed: nothing to plan on.
    #[error("{0}")]
    ControlFailed(String),
}

/// The campaign's plan on the control run recorded in `dir`'s journal (an earlier run of this
/// campaign on the bench).
pub fn plan_from_report(
    c: &Campaign,
    update_size: u64,
    dir: &Path,
    partition: Option<(u32, u32)>,
) -> Result<RecordedPlan, FromReportError> {
    let journal_path = dir.join("results.jsonl");
    let journal = read_journal(&journal_path).map_err(|e| {
        FromReportError::Input(format!(
            "--control-from {}: {e}; give the directory of a report that `cutpoint run` wrote",
            dir.display()
        ))
    })?;
    let control = journal.control.ok_or_else(|| {
        FromReportError::Input(format!(
            "--control-from {}: the report has no control run (the run stopped before it finished)",
            dir.display()
        ))
    })?;
    if control.status != Status::Pass {
        return Err(FromReportError::ControlFailed(format!(
            "the control run recorded in {} failed ({}); there is no timeline to plan on",
            dir.display(),
            control.reasons.join("; ")
        )));
    }
    let lines: Vec<(u64, &str)> = control.console.iter().map(|l| (l.t_us, l.text.as_str())).collect();
    let tl = Timeline {
        console: &lines,
        ops: None,
        update_size,
    };
    let plan = campaign::expand_plan(c, &tl).map_err(|e| {
        FromReportError::Input(format!(
            "--control-from {}: the campaign does not fit the recorded console: {e}",
            dir.display()
        ))
    })?;
    let mut items = Vec::new();
    let mut heads: Vec<(String, String, usize)> = Vec::new();
    for (i, p) in plan.points.iter().enumerate() {
        if !campaign::in_partition(i as u64, partition) {
            continue;
        }
        match p.sequence().filter(|_| p.then.is_some()) {
            Some(seq) => match heads.iter_mut().find(|(s, _, _)| s == seq) {
                Some((_, _, n)) => *n += 1,
                None => heads.push((seq.to_string(), p.phase.clone(), 1)),
            },
            None => items.push(PlanItem {
                id: p.id.to_string(),
                phase: p.phase.clone(),
            }),
        }
    }
    let pending = heads
        .into_iter()
        .map(|(seq, phase, n)| Pending {
            what: format!("{seq}:{phase}/* > ..."),
            phase,
            reason: format!(
                "sequence {seq}: {n} first cuts; the cuts after each are found in the console of the run that \
                 recovers from it, so only a run lists them"
            ),
        })
        .collect();
    Ok(RecordedPlan {
        report: dir.to_path_buf(),
        campaign_changed: journal.header.campaign_sha256 != c.sha256,
        inputs: journal.header.inputs,
        items,
        skipped: plan.skipped,
        pending,
    })
}

/// The ids of `plan` in partition `k/n`, when the offline plan is the whole plan; `None` when
/// it is not (the split needs the control run).
pub fn offline_partition(plan: &OfflinePlan, partition: Option<(u32, u32)>) -> Option<Vec<PlanItem>> {
    if partition.is_some() && !plan.is_complete() {
        return None;
    }
    Some(
        plan.points
            .iter()
            .enumerate()
            .filter(|(i, _)| campaign::in_partition(*i as u64, partition))
            .map(|(_, p)| PlanItem {
                id: p.id.to_string(),
                phase: p.phase.clone(),
            })
            .collect(),
    )
}

/// Items per phase, in first-seen order.
pub fn per_phase(items: &[PlanItem]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for it in items {
        match out.iter_mut().find(|(p, _)| *p == it.phase) {
            Some((_, n)) => *n += 1,
            None => out.push((it.phase.clone(), 1)),
        }
    }
    out
}
