//! The campaign engine: control run, cut-point plan, the per-cut loop on the target's workers,
//! the journal, and the events a progress view or a daemon observes. No global state; a run is
//! cancelled through the flag it is given.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use crate::state_cache::StateCache;
use cutpoint_campaign::{self as campaign, Campaign, CutPoint, Timeline};
use cutpoint_core::RigError;
use cutpoint_report::journal::{JournalError, JournalWriter};
use cutpoint_report::{ControlRun, CutResult, EndReason, JournalEnd, JournalHeader, LogLine, PlannedCut, Status};

use crate::exit::{BAD_INPUT, RIG_ERROR};
use crate::judge::{decode_cached, judge, judge_control, judge_decoded, Expectations, Verdict};
use crate::sink::{RunEvent, Sink, SinkError, Tally};
use crate::stages::{Stage, StageTimes};
use crate::target::{CommitMarker, Guarded, Observation, RecoveryRules, StabilityScan, Target, STABILITY_READS};
use fut::scheme::CommitPoint;

/// Everything a run needs besides the target.
#[derive(Clone)]
pub struct RunSpec<'a> {
    pub campaign: &'a Campaign,
    pub campaign_path: String,
    pub campaign_sha256: String,
    pub out_dir: PathBuf,
    /// `(k, n)`: run the k-th of n partitions.
    pub partition: Option<(u32, u32)>,
    /// Continue the journal in `out_dir`, skipping finished cut points.
    pub resume: bool,
    /// Run only the cut points this takes (`--filter`); `None`: the whole plan.
    pub filter: Option<crate::cut_filter::CutFilter>,
    pub expect: Expectations,
    /// Size of the update image in bytes (for byte offsets).
    pub update_size: u64,
    pub seed: u64,
}

impl<'a> RunSpec<'a> {
    /// A fresh run of the whole campaign into `out_dir` (no partition, resume or filter).
    pub fn whole(campaign: &'a Campaign, out_dir: PathBuf, expect: Expectations, update_size: u64) -> Self {
        RunSpec {
            campaign,
            campaign_path: campaign.path.display().to_string(),
            campaign_sha256: campaign.sha256.clone(),
            out_dir,
            partition: None,
            resume: false,
            filter: None,
            expect,
            update_size,
            seed: campaign.run.seed,
        }
    }
}

/// Why a run or a plan stopped before its end. Each variant keeps the error it comes from
/// ([`std::error::Error::source`]); [`EngineError::exit_code`] says whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("rig error during the control run: {0}")]
    Rig(#[from] RigError),
    /// The campaign does not expand on the control run's console.
    #[error(transparent)]
    Plan(campaign::ExpandError),
    /// The campaign cannot be used as written (a marker that matches nothing, a plan past
    /// the limit): bad input, never a device failure.
    #[error("{0}")]
    BadInput(String),
    /// The report directory holds a journal this run must not write to (another campaign,
    /// partition or plan, or a finished run where a fresh one starts): the user's mistake.
    #[error(transparent)]
    JournalRefused(JournalError),
    /// The journal could not be written or read back: the rig's failure.
    #[error("journal: {0}")]
    Journal(#[source] JournalError),
    /// Another run writes the report directory.
    #[error("{0}")]
    Busy(#[from] crate::run_lock::LockError),
    /// A sink refused an event (it could not record it).
    #[error("{0}")]
    Sink(#[source] SinkError),
}

impl EngineError {
    /// The exit code of a run that stopped on this error: a campaign the rig cannot use is bad
    /// input, a report directory another run holds too; the rest is the rig's own failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::BadInput(_) | EngineError::JournalRefused(_) => BAD_INPUT,
            EngineError::Busy(e) => e.exit_code(),
            _ => RIG_ERROR,
        }
    }
}

/// How a run ended. The results are in the journal (`journal_path`), not here: memory stays
/// bounded by the work in flight.
pub struct RunOutcome {
    pub journal_path: PathBuf,
    /// Results of each status in the journal (earlier parts of a resumed run included).
    pub tally: Tally,
    /// The unfaulted control run did not update cleanly (for a negative control, its cut
    /// points still ran).
    pub control_failed: bool,
    pub cancelled: bool,
    /// Cut points in this run's plan (this partition), finished or not.
    pub planned: usize,
    /// CPU time per stage of this run.
    pub stages: StageTimes,
}

/// One unit of work: a chain of one or more cuts with its id.
#[derive(Debug, Clone)]
pub struct WorkItem {
    /// Position in the whole campaign's plan, before partitioning.
    pub index: u64,
    /// Position of its first cut among the first-level points: a partition takes whole groups,
    /// so the chains that follow a first cut stay with it.
    pub group: u64,
    pub id: String,
    pub phase: String,
    pub offset: String,
    pub repetition: u32,
    pub seed: u64,
    pub chain: Chain,
}

/// The cuts of a work item, first to last. The chains that grow from one cut share it (one
/// copy, counted), so a plan of a million double cuts holds each first cut once, not once per
/// second cut. The last cut of a chain of two or more is kept packed (see [`Packing`]): its
/// id is the item's, its phase, repetition and anchor pattern are shared with the other cuts
/// of its expansion, and only its aim, seed and anchor position are its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// The cuts before the packed one, or every cut when none is packed.
    cuts: Vec<Arc<CutPoint>>,
    packed: Option<PackedCut>,
}

/// A chain's last cut without what it shares with its item (the id) and its neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PackedCut {
    aim: campaign::Aim,
    seed: u64,
    /// The anchor's `nth` and `delay_us` (its pattern is in the shape).
    anchor: Option<(u32, u64)>,
    shape: Arc<CutShape>,
}

/// What the later cuts of one expansion have in common.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CutShape {
    phase: String,
    repetition: u32,
    anchor_pattern: Option<String>,
}

/// Packs the last cuts of a plan's chains, sharing their shapes.
#[derive(Default)]
struct Packing {
    shapes: HashSet<Arc<CutShape>>,
}

impl Packing {
    /// `chain` with its last cut packed, when it is a later cut that unpacks to itself from
    /// the item's id; else `chain` as it is.
    fn pack(&mut self, mut chain: Chain) -> Chain {
        if chain.packed.is_some() || chain.cuts.len() < 2 {
            return chain;
        }
        let Some(last) = chain.cuts.last() else { return chain };
        let c: &CutPoint = last;
        // What unpacking derives must be what the cut holds.
        if c.then.is_some() || c.id.as_ref().last().offset != c.offset {
            return chain;
        }
        let shape = CutShape {
            phase: c.phase.clone(),
            repetition: c.repetition,
            anchor_pattern: c.anchor.as_ref().map(|a| a.pattern.clone()),
        };
        let shape = match self.shapes.get(&shape) {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(shape);
                self.shapes.insert(s.clone());
                s
            }
        };
        let packed = PackedCut {
            aim: c.aim,
            seed: c.seed,
            anchor: c.anchor.as_ref().map(|a| (a.nth, a.delay_us)),
            shape,
        };
        chain.cuts.pop();
        chain.cuts.shrink_to_fit();
        chain.packed = Some(packed);
        chain
    }
}

impl PackedCut {
    /// The cut, whole, under the id of its item.
    fn unpack(&self, id: &str) -> Result<CutPoint, RigError> {
        let id = cutpoint_core::CutId::parse(id)
            .map_err(|e| RigError::new("plan", cutpoint_core::RigErrorKind::Unsupported, e.to_string()))?;
        Ok(CutPoint {
            offset: id.as_ref().last().offset.to_string(),
            id,
            phase: self.shape.phase.clone(),
            repetition: self.shape.repetition,
            seed: self.seed,
            aim: self.aim,
            anchor: match (&self.shape.anchor_pattern, self.anchor) {
                (Some(pattern), Some((nth, delay_us))) => Some(campaign::Anchor {
                    pattern: pattern.clone(),
                    nth,
                    delay_us,
                }),
                _ => None,
            },
            then: None,
        })
    }
}

impl Chain {
    /// A chain of one cut.
    pub fn of(cut: CutPoint) -> Self {
        Chain {
            cuts: vec![Arc::new(cut)],
            packed: None,
        }
    }

    /// This chain with `cut` after its last one; the cuts before it are shared, not copied.
    /// (A chain whose last cut is packed ends there: planning extends chains before packing.)
    fn then(&self, cut: CutPoint) -> Self {
        let mut cuts = Vec::with_capacity(self.cuts.len() + 1);
        cuts.extend(self.cuts.iter().cloned());
        cuts.push(Arc::new(cut));
        Chain { cuts, packed: None }
    }

    pub fn len(&self) -> usize {
        self.cuts.len() + usize::from(self.packed.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn first(&self) -> Option<&CutPoint> {
        self.cuts.first().map(|c| &**c)
    }

    /// The cuts, first to last, for the item of id `id` (the last cut's id).
    pub fn cuts(&self, id: &str) -> Result<Vec<Cow<'_, CutPoint>>, RigError> {
        let mut out: Vec<Cow<'_, CutPoint>> = self.cuts.iter().map(|c| Cow::Borrowed(&**c)).collect();
        if let Some(p) = &self.packed {
            out.push(Cow::Owned(p.unpack(id)?));
        }
        Ok(out)
    }

    /// The last cut, while the chain is being planned (before it is packed).
    fn planned_last(&self) -> Option<&CutPoint> {
        self.cuts.last().map(|c| &**c)
    }

    /// The last cut, to change before the chain is shared (a clone of it when it already is).
    fn last_mut(&mut self) -> Option<&mut CutPoint> {
        self.cuts.last_mut().map(Arc::make_mut)
    }
}

impl WorkItem {
    /// The cuts of the item, first to last (see [`Chain::cuts`]).
    pub fn cuts(&self) -> Result<Vec<Cow<'_, CutPoint>>, RigError> {
        self.chain.cuts(&self.id)
    }

    /// The item of a chain of cuts, under the last cut's id, in the first cut's phase (the row
    /// of the matrix); its offset is the id after the first phase name.
    fn chain(index: u64, group: u64, chain: Chain) -> Option<WorkItem> {
        let (first, last) = (chain.first()?, chain.planned_last()?);
        let offset = if chain.len() == 1 {
            first.offset.clone()
        } else {
            last.id.as_ref().after_first_phase().to_string()
        };
        Some(WorkItem {
            index,
            group,
            id: last.id.to_string(),
            phase: first.phase.clone(),
            offset,
            repetition: last.repetition,
            seed: last.seed,
            chain,
        })
    }
}

/// What plans the chains that grow from one first-level point.
struct Planning<'a> {
    target: &'a dyn Target,
    spec: &'a RunSpec<'a>,
    rules: &'a RecoveryRules,
    group: u64,
}

impl Planning<'_> {
    /// Plans `chain`: as it is when no further cut follows its last one, else every chain that
    /// a sequence's next cuts extend it to, found on the run that recovers from it (depth
    /// first, so the plan keeps each first cut's chains together).
    fn chain(
        &self,
        mut chain: Chain,
        items: &mut Vec<WorkItem>,
        skipped: &mut Vec<campaign::Skipped>,
        packing: &mut Packing,
    ) -> Result<(), EngineError> {
        if items.len() >= campaign::MAX_POINTS {
            return Err(EngineError::BadInput(format!(
                "{}: sequences: the plan would pass {} cut points; give the sequences fewer offsets",
                self.spec.campaign.path.display(),
                campaign::MAX_POINTS
            )));
        }
        let Some(last) = chain.planned_last() else {
            return Ok(());
        };
        let next = if last.then.is_some() {
            self.next_cuts(&chain, skipped)?
        } else {
            Vec::new()
        };
        if next.is_empty() {
            if let Some(last) = chain.last_mut() {
                last.then = None;
            }
            if let Some(mut item) = WorkItem::chain(items.len() as u64, self.group, chain) {
                item.chain = packing.pack(std::mem::take(&mut item.chain));
                items.push(item);
            }
            return Ok(());
        }
        for n in next {
            self.chain(chain.then(n), items, skipped, packing)?;
        }
        Ok(())
    }

    /// The cuts that follow `chain`'s last one, on the run that recovers from the chain.
    fn next_cuts(&self, chain: &Chain, skipped: &mut Vec<campaign::Skipped>) -> Result<Vec<CutPoint>, EngineError> {
        let Some(last) = chain.planned_last() else {
            return Ok(Vec::new());
        };
        let refs: Vec<&CutPoint> = chain.cuts.iter().map(|c| &**c).collect();
        let recovery = self.target.recovery_timeline(last.id.as_str(), &refs, self.rules)?;
        let lines = log_lines(&recovery.console);
        let rtl = Timeline {
            console: &lines,
            ops: recovery.ops.as_deref(),
            update_size: self.spec.update_size,
        };
        match campaign::expand_second_plan(self.spec.campaign, last, &rtl) {
            Ok(plan) => {
                skipped.extend(plan.skipped);
                Ok(plan.points)
            }
            // The chain left nothing to interrupt again: it still counts as it is.
            Err(
                e @ (campaign::ExpandError::PhaseStartNotFound { .. } | campaign::ExpandError::PhaseEndNotFound { .. }),
            ) => {
                skipped.push(campaign::Skipped {
                    id: format!("{}>*", last.id),
                    phase: chain.first().map(|c| c.phase.clone()).unwrap_or_default(),
                    kind: campaign::SkipKind::Chain,
                    reason: format!(
                        "no cut {}: in the recovery from this cut, {e}; the chain runs without it",
                        chain.len() + 1
                    ),
                });
                Ok(Vec::new())
            }
            Err(e) => Err(expand_error(self.spec.campaign, e)),
        }
    }
}

/// An expansion error as an engine error: a plan past the limit is bad input, located at
/// the phase that asked for it.
fn expand_error(c: &Campaign, e: campaign::ExpandError) -> EngineError {
    match &e {
        campaign::ExpandError::TooMany { phase } => {
            let at = c
                .phases
                .iter()
                .position(|p| p.name == *phase)
                .and_then(|i| Some((i, c.phases[i].start.origin.clone()?)));
            EngineError::BadInput(match at {
                Some((_, o)) if o.line > 0 => {
                    format!("{}:{}:{}: phases.{phase}.offsets: {e}", o.file, o.line, o.column)
                }
                _ => format!("{}: phases.{phase}.offsets: {e}", c.path.display()),
            })
        }
        _ => EngineError::Plan(e),
    }
}

/// Why a control run's console cannot be the device's own words: it holds no line, or mostly
/// bytes that are no text (control characters, bytes that are not UTF-8: a wrong baud rate).
pub fn unreadable_console(console: &[LogLine]) -> Option<String> {
    if console.is_empty() {
        return Some("gave no line".to_string());
    }
    let (mut total, mut garbage) = (0usize, 0usize);
    for c in console.iter().flat_map(|l| l.text.chars()) {
        total += 1;
        if c == char::REPLACEMENT_CHARACTER || (c.is_control() && c != '\t') {
            garbage += 1;
        }
    }
    (total > 0 && garbage * 2 > total).then(|| {
        format!("is not text: {garbage} of its {total} characters are control characters or bytes that are not UTF-8")
    })
}

/// Markers of the campaign that the control run never printed, as one error message.
fn unmatched_error(unmatched: &[campaign::UnmatchedMarker]) -> EngineError {
    let mut msg = String::from(
        "the control run (no cut) never printed what these markers look for; fix the pattern, or set \
         [markers] / the phase to a line the firmware prints:",
    );
    for u in unmatched {
        msg.push_str("\n  ");
        msg.push_str(&u.to_string());
    }
    EngineError::BadInput(msg)
}

fn log_lines(tl: &[LogLine]) -> Vec<(u64, &str)> {
    tl.iter().map(|l| (l.t_us, l.text.as_str())).collect()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The control run and the work it planned.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub control: ControlRun,
    /// The work items of this partition, in plan order.
    pub items: Vec<WorkItem>,
    /// When the control run's update committed (µs after power-on), or `u64::MAX`.
    pub commit_us: u64,
    /// Offsets that gave no cut point on this run, with the reason (whole campaign).
    pub skipped: Vec<campaign::Skipped>,
}

/// Runs the control run and expands the campaign into work items (the plan).
pub fn plan(target: &dyn Target, spec: &RunSpec, rules: &RecoveryRules) -> Result<RunPlan, EngineError> {
    let control = target.control()?;
    let lines = log_lines(&control.console);
    let tl = Timeline {
        console: &lines,
        ops: control.ops.as_deref(),
        update_size: spec.update_size,
    };
    // The same rule as a cut point's, with what the target found outside the scheme's areas.
    let verdict = judge_control(&spec.expect, &control);
    let phases = campaign::find_phases(spec.campaign, &tl);
    // An update meant to end on the new image must show its commit point: the confirm line of
    // a test upgrade, the bootloader's finished-install line of a permanent one.
    let expect_commit = spec.expect.final_version == spec.expect.new_version;
    let mut unmatched = campaign::unmatched_markers(spec.campaign, &tl, expect_commit);
    // An update the device must refuse: the refusal's line may be missing for the device's own
    // reason (a broken build let the update through and booted it), else it is the campaign's
    // marker that is wrong.
    let let_through = spec.expect.refused.is_some() && crate::judge::booted_update(&spec.expect, &control.console);
    if spec.expect.refused.is_some() {
        unmatched.extend(campaign::unmatched_refusal(spec.campaign, &lines));
    }
    // A clean update whose console a marker never matches: the campaign is wrong, not the
    // device. So is a jump marker that misses even the baseline's boot before the update.
    // So is any marker but the commit line, whatever the verdict: the baseline boots, the
    // device settles and every phase shows even in a broken firmware's control run, and a
    // typo there would otherwise read as the device failing every cut (or, in a negative
    // control, as the broken firmware caught). The commit line may be missing for the
    // device's own reason (it never confirms): that stays a device failure.
    let m = &spec.campaign.markers;
    // A device that kept rebooting until the rig's boot limit never settles for its own
    // reason (a broken firmware's control run): then a missing settled line is the device's.
    let boots = control.console.iter().filter(|l| m.boot.is_match(&l.text)).count();
    let looped = boots >= spec.campaign.run.max_boots as usize;
    let commit_source = match spec.expect.commit_point() {
        CommitPoint::Confirm => &m.commit.source,
        CommitPoint::Installed => &m.installed.source,
    };
    let mut hard = unmatched.iter().any(|u| {
        u.pattern != *commit_source
            && !(let_through && u.pattern == m.refused.source)
            && !(looped && u.pattern == m.settled.source)
    });
    // A control run that broke the rule and missed a marker: where the target can run the
    // reference firmware's control run (the simulated board), a marker that matches there is
    // right, and it is the device's firmware that does not print it (a swap it never starts,
    // a phase it skips): the device's failure, not the campaign's typo.
    let mut device_missed = false;
    if hard && verdict.status != Status::Pass {
        if let Some(Ok(reference)) = target.reference_control(spec.campaign.run.max_boots) {
            let rlines = log_lines(&reference.console);
            let rtl = Timeline {
                console: &rlines,
                ops: reference.ops.as_deref(),
                update_size: spec.update_size,
            };
            let mut still = campaign::unmatched_markers(spec.campaign, &rtl, expect_commit);
            if spec.expect.refused.is_some() {
                still.extend(campaign::unmatched_refusal(spec.campaign, &rlines));
            }
            if !unmatched.iter().any(|u| still.iter().any(|s| s.pattern == u.pattern)) {
                hard = false;
                device_missed = true;
            }
        }
    }
    if !unmatched.is_empty() && (verdict.status == Status::Pass || hard) {
        // No readable console at all is the rig's (a console on the wrong port or baud rate, a
        // cable off), not a typo in every marker: the device printed nothing the rig could read.
        if let Some(why) = unreadable_console(&control.console) {
            return Err(EngineError::Rig(RigError::io(
                target.describe(),
                format!(
                    "the control run's console {why}; check the console's port, baud rate and wiring \
                     (`cutpoint doctor`)"
                ),
            )));
        }
        let mut e = unmatched_error(&unmatched);
        if verdict.status != Status::Pass {
            if let EngineError::BadInput(msg) = &mut e {
                msg.push_str(&format!(
                    "\n(the control run also broke the rule: {})",
                    verdict.reasons.join("; ")
                ));
            }
        }
        return Err(e);
    }
    let mut reasons = verdict.reasons.clone();
    if let Err(e) = &phases {
        reasons.push(e.to_string());
    }
    for u in &unmatched {
        if device_missed {
            reasons.push(format!(
                "the device never printed a line the reference firmware prints here: {u}"
            ));
        } else {
            reasons.push(format!("(if this is a typo, not the device) {u}"));
        }
    }
    let run = ControlRun {
        status: if reasons.is_empty() { Status::Pass } else { Status::Fail },
        reasons,
        phases: phases
            .as_ref()
            .map(|ps| ps.iter().map(|p| p.span.clone()).collect())
            .unwrap_or_default(),
        console: control.console.clone(),
        flash_ops: control.ops.as_ref().map(|o| o.len() as u64),
    };
    if run.status != Status::Pass && spec.campaign.pass.expect == campaign::Expect::Fail {
        if let Some(e) = negative_control_mistake(target, spec)? {
            return Err(e);
        }
    }
    let commit_us = commit_instant(&spec.expect, &control.console);
    if !cuts_follow(spec.campaign, &run) {
        return Ok(RunPlan {
            control: run,
            items: Vec::new(),
            commit_us,
            skipped: Vec::new(),
        });
    }
    let first_level = campaign::expand_plan(spec.campaign, &tl).map_err(|e| expand_error(spec.campaign, e))?;
    let mut skipped = first_level.skipped;
    let mut items = Vec::with_capacity(first_level.points.len());
    let mut packing = Packing::default();
    for (group, p) in first_level.points.into_iter().enumerate() {
        let at = Planning {
            target,
            spec,
            rules,
            group: group as u64,
        };
        at.chain(Chain::of(p), &mut items, &mut skipped, &mut packing)?;
    }
    if let Some(e) = phase_without_cuts(spec.campaign, &items, &skipped) {
        return Err(e);
    }
    if spec.partition.is_some() {
        items.retain(|it| campaign::in_partition(it.group, spec.partition));
    }
    if let Some(f) = &spec.filter {
        items.retain(|it| f.matches(&it.id));
    }
    Ok(RunPlan {
        control: run,
        items,
        commit_us,
        skipped,
    })
}

/// A phase the campaign asks to cut at bytes that all fall past its end on this control run,
/// and no other offset of it cuts: the campaign would be reported without that
/// phase, as if it had been tested. The campaign's mistake, before any partition or filter
/// (which may leave a phase out on purpose).
fn phase_without_cuts(c: &Campaign, items: &[WorkItem], skipped: &[campaign::Skipped]) -> Option<EngineError> {
    c.phases.iter().find_map(|p| {
        // Byte offsets count into the campaign's own download; an operation, sector, marker or
        // time the firmware does not reach in the phase is its behaviour (a campaign may cut
        // every operation of a phase where only a broken build writes, or a check a refused
        // image ends at once).
        let fixed_by_campaign = |s: &&campaign::Skipped| s.kind == campaign::SkipKind::Byte;
        let gave: Vec<&campaign::Skipped> = skipped
            .iter()
            .filter(|s| s.phase == p.name)
            .filter(fixed_by_campaign)
            .collect();
        let first = gave.first()?;
        if items.iter().any(|it| it.phase == p.name) {
            return None;
        }
        Some(EngineError::BadInput(format!(
            "{}: phase \"{}\" (its start marker at {}): none of its offsets gave a cut point on this run \
             ({} skipped; `{}`: {}); fix its offsets (`cutpoint plan {}` lists each with its reason)",
            c.path.display(),
            p.name,
            p.start.located(),
            gave.len(),
            first.id,
            first.reason,
            c.path.display()
        )))
    })
}

/// A negative control whose own control run (no cut) failed: the same control run on the
/// reference firmware tells whether the broken firmware failed it or the campaign did. When the
/// reference fails it too, the campaign is wrong (a boot limit too low, an expected image the
/// update never ends on, an image the bootloader refuses): bad input at the key to fix, never
/// "caught". `None` when the reference passes, or the target cannot run it (a bench).
fn negative_control_mistake(target: &dyn Target, spec: &RunSpec) -> Result<Option<EngineError>, EngineError> {
    let c = spec.campaign;
    let Some(obs) = target.reference_control(c.run.max_boots) else {
        return Ok(None);
    };
    let obs = obs?;
    let verdict = judge(&spec.expect, false, &obs.console, None, &obs.dump, obs.dump_base);
    if verdict.status == Status::Pass {
        return Ok(None);
    }
    let boots = |console: &[LogLine]| console.iter().filter(|l| c.markers.boot.is_match(&l.text)).count();
    let reasons = verdict.reasons.join("; ");
    let bad = |keys: &[&str], message: String| {
        EngineError::BadInput(campaign::locate_in_campaign(&c.path, keys, message).to_string())
    };
    if boots(&obs.console) >= c.run.max_boots as usize {
        // The reference ran out of boots: how many does it need?
        let roomy = c.run.max_boots.saturating_mul(4).max(32);
        if let Some(Ok(more)) = target.reference_control(roomy) {
            let v = judge(&spec.expect, false, &more.console, None, &more.dump, more.dump_base);
            if v.status == Status::Pass {
                let n = boots(&more.console);
                return Ok(Some(bad(
                    &["run", "max_boots"],
                    format!(
                        "campaign mistake, not the device caught: this negative control's control run (no cut) \
                         reaches max_boots = {} on the reference firmware too ({reasons}); the update needs {n} boots \
                         without a cut: set max_boots to {n} or more (a cut adds boots: leave room)",
                        c.run.max_boots
                    ),
                )));
            }
        }
    }
    let keys: &[&str] = if c.pass.final_image == campaign::FinalImage::Auto {
        &["pass", "expect"]
    } else {
        &["pass", "final"]
    };
    Ok(Some(bad(
        keys,
        format!(
            "campaign mistake, not the device caught: this negative control's control run (no cut) fails on the \
             reference firmware too ({reasons}); a negative control must hold on the reference firmware and fail \
             only on the broken one: fix [pass] final, [run] or the images so that the reference firmware passes"
        ),
    )))
}

/// Whether cut points are run after this control run: always after a clean one; after a
/// failed one only for a negative control whose phases were all found, so the broken
/// firmware is caught by its cuts (a negative control passes only on failing cut points).
fn cuts_follow(c: &Campaign, control: &ControlRun) -> bool {
    control.status == Status::Pass
        || (c.pass.expect == campaign::Expect::Fail && !c.phases.is_empty() && control.phases.len() == c.phases.len())
}

/// The line that says this update committed, at the commit point the scheme names for the
/// upgrade type: the new image's confirm line (`commit`), or the bootloader's line for a
/// finished install (`installed`) of an upgrade that never confirms. `None` when the update is
/// not meant to commit (a failing update ends on the old image).
pub fn commit_marker(exp: &Expectations) -> Option<CommitMarker> {
    commit_pattern(exp).map(|pattern| CommitMarker {
        pattern: pattern.clone(),
        version: exp.new_version.clone(),
    })
}

/// The pattern of [`commit_marker`], borrowed. Matching through it, not through a marker made
/// for one cut, keeps the regex's search caches from one cut to the next (a cloned `Regex`
/// starts with empty ones, and building them again took a sixteenth of a run's CPU).
pub fn commit_pattern(exp: &Expectations) -> Option<&regex::Regex> {
    let pattern = match exp.commit_point() {
        CommitPoint::Confirm => &exp.markers.commit,
        CommitPoint::Installed => &exp.markers.installed,
    };
    (exp.final_version == exp.new_version).then_some(&pattern.regex)
}

/// The rules a target recovers by for this campaign's expectations.
pub fn recovery_rules(exp: &Expectations) -> RecoveryRules {
    RecoveryRules {
        retrigger_on: Some(exp.markers.rejected.regex.clone()),
        commit: commit_marker(exp),
        reset_after: true,
        // The metadata the scheme keeps, read for unstable bits once the device settled.
        // The areas a target cannot read (`exp.unreadable`) are left out: it cannot look.
        stability: cutpoint_inspect::scheme::decoder(exp.mode.name()).map(|d| StabilityScan {
            areas: d
                .metadata_areas(&exp.layout)
                .into_iter()
                .filter(|r| {
                    !exp.unreadable
                        .iter()
                        .any(|(a, _)| r.start < a.end() && a.offset < r.end)
                })
                .collect(),
            reads: STABILITY_READS,
        }),
        outside: exp
            .outside
            .iter()
            .map(|(region, a)| Guarded {
                region: region.clone(),
                range: a.offset..a.end(),
            })
            .collect(),
    }
}

/// Whether the update had committed when the chain's cuts fell: what the target saw, else the
/// first cut's instant against the control run's commit instant.
pub fn committed_at_cut(obs: &Observation, commit_us: u64) -> bool {
    obs.committed
        .unwrap_or_else(|| obs.landings.first().is_some_and(|l| l.actual_us >= commit_us))
}

/// The instant (µs after power-on of the control run) the update committed, or never.
pub fn commit_instant(exp: &Expectations, console: &[LogLine]) -> u64 {
    let Some(pattern) = commit_pattern(exp) else {
        return u64::MAX;
    };
    console
        .iter()
        .find(|l| crate::target::commit_line(pattern, &exp.new_version, &l.text))
        .map_or(u64::MAX, |l| l.t_us)
}

/// The files `c` reads besides itself, as a journal header records them.
pub fn input_digests(c: &Campaign) -> Vec<cutpoint_report::InputDigest> {
    c.inputs
        .iter()
        .map(|i| cutpoint_report::InputDigest {
            key: i.key.to_owned(),
            path: i.path.display().to_string(),
            sha256: i.sha256.clone(),
        })
        .collect()
}

/// Refuses, before the control run, to resume a journal of another campaign file or other
/// input files (the journal's resume checks it again with the plan).
fn check_resumable(spec: &RunSpec) -> Result<(), EngineError> {
    let path = spec.out_dir.join(cutpoint_report::journal::JOURNAL_FILE);
    let Ok(mut reader) = cutpoint_report::journal::JournalReader::open(&path) else {
        return Ok(());
    };
    let Some(Ok(first)) = reader.next() else {
        return Ok(());
    };
    let cutpoint_report::JournalRecord::Header(h) = first.record else {
        return Ok(());
    };
    let inputs = input_digests(spec.campaign);
    if h.campaign_sha256 == spec.campaign_sha256 {
        if let cutpoint_report::InputsCompared::Changed(changes) = cutpoint_report::compare_inputs(&h.inputs, &inputs) {
            return Err(EngineError::JournalRefused(JournalError::Mismatch {
                path,
                what: cutpoint_report::journal::inputs_changed(&changes),
            }));
        }
    }
    Ok(())
}

/// Runs the campaign: plan, journal, cuts, end record.
pub fn run(
    target: &dyn Target,
    spec: &RunSpec,
    sink: &mut dyn Sink,
    cancel: &AtomicBool,
) -> Result<RunOutcome, EngineError> {
    // One writer per report directory, for the whole run.
    let _lock = crate::run_lock::RunLock::acquire(&spec.out_dir)?;
    if spec.resume {
        check_resumable(spec)?;
    }
    let rules = recovery_rules(&spec.expect);
    let stages = StageTimes::default();
    let RunPlan {
        control,
        mut items,
        commit_us,
        skipped,
    } = stages.time(Stage::Planning, || plan(target, spec, &rules))?;
    tracing::info!(
        status = control.status.name(),
        phases = control.phases.len(),
        "control run on {}",
        target.describe()
    );
    let header = JournalHeader {
        format: 1,
        campaign: spec.campaign.name.clone(),
        campaign_path: spec.campaign_path.clone(),
        campaign_sha256: spec.campaign_sha256.clone(),
        target: target.describe(),
        seed: spec.seed,
        partition: spec.partition.map(|(k, n)| format!("{k}/{n}")),
        filter: spec.filter.as_ref().map(|f| f.describe()),
        // The texts move to the header, which the run keeps: one copy of a million ids, not two.
        planned: items
            .iter_mut()
            .map(|i| PlannedCut {
                id: std::mem::take(&mut i.id),
                phase: std::mem::take(&mut i.phase),
                offset: std::mem::take(&mut i.offset),
                index: Some(i.index),
            })
            .collect(),
        started: now_rfc3339(),
        expect: match spec.campaign.pass.expect {
            campaign::Expect::Pass => cutpoint_report::Expect::Pass,
            campaign::Expect::Fail => cutpoint_report::Expect::Fail,
        },
        inputs: input_digests(spec.campaign),
        skipped: skipped
            .iter()
            .map(|s| cutpoint_report::SkippedOffset {
                id: s.id.clone(),
                phase: s.phase.clone(),
                kind: s.kind.name().to_owned(),
                reason: s.reason.clone(),
            })
            .collect(),
    };
    // A journal of another campaign, partition or plan, one holding a result outside its plan,
    // or one already there for a fresh run, is the user's mistake; the rest is the rig's.
    let jerr = |e: cutpoint_report::journal::JournalError| match e {
        JournalError::Mismatch { .. } | JournalError::Exists { .. } | JournalError::NotPlanned { .. } => {
            EngineError::JournalRefused(e)
        }
        e => EngineError::Journal(e),
    };
    // A resume of a run killed before its journal existed starts it afresh.
    let resume = spec.resume && spec.out_dir.join(cutpoint_report::journal::JOURNAL_FILE).exists();
    let (mut writer, earlier) = if resume {
        let (w, j) = JournalWriter::resume(&spec.out_dir, &header).map_err(jerr)?;
        (w, Some(j))
    } else {
        (JournalWriter::create(&spec.out_dir, &header).map_err(jerr)?, None)
    };
    let send = |sink: &mut dyn Sink, e: RunEvent| sink.event(&e).map_err(EngineError::Sink);
    let journal_path = writer.path().to_path_buf();
    let started = RunEvent::Started {
        header: Box::new(header),
        resumed: earlier.is_some(),
        warnings: earlier.as_ref().map(|r| r.warnings.clone()).unwrap_or_default(),
    };
    sink.event(&started).map_err(EngineError::Sink)?;
    let planned = match started {
        RunEvent::Started { header, .. } => header.planned,
        _ => unreachable!("the event built above"),
    };
    // Of an earlier part of the run, only what is needed: which cut points finished, and
    // how they ended.
    let mut tally = Tally::default();
    let mut has_control = false;
    if let Some(r) = &earlier {
        for status in r.statuses() {
            tally.add(status);
        }
        has_control = r.has_control;
    }
    if !has_control {
        writer.append_control(&control).map_err(jerr)?;
    }
    let control_failed = control.status != Status::Pass;
    let follow = cuts_follow(spec.campaign, &control);
    send(sink, RunEvent::Control(Box::new(control)))?;
    if !follow {
        let end = JournalEnd {
            finished: now_rfc3339(),
            how: EndReason::Stopped("the control run did not update cleanly".into()),
        };
        writer.append_end(&end).map_err(jerr)?;
        send(sink, RunEvent::Finished { end, tally })?;
        return Ok(RunOutcome {
            journal_path,
            tally,
            control_failed: true,
            cancelled: false,
            planned: 0,
            stages,
        });
    }
    // Each item with its id, phase and offset (in the header's plan, in the same order).
    // The journal's plan is this run's (a resume checks it), so a finished cut point is known
    // by its position.
    let todo: Vec<(&WorkItem, &PlannedCut)> = items
        .iter()
        .zip(&planned)
        .enumerate()
        .filter(|(i, _)| !earlier.as_ref().is_some_and(|r| r.is_done(*i)))
        .map(|(_, pair)| pair)
        .collect();
    drop(earlier);
    send(
        sink,
        RunEvent::Planned {
            total: items.len(),
            already_done: items.len() - todo.len(),
            skipped,
        },
    )?;
    tracing::info!(
        planned = items.len(),
        to_run = todo.len(),
        workers = target.workers(),
        "cut points"
    );
    let device_before = target.device_cpu_ns();
    let cancelled = run_items(target, spec, &rules, &todo, commit_us, cancel, &stages, &mut |cuts| {
        stages
            .time(Stage::Journal, || writer.append_cuts(&cuts))
            .map_err(jerr)?;
        for cut in cuts {
            tracing::debug!(id = %cut.id, status = cut.status.name(), "cut point done");
            tally.add(cut.status);
            send(sink, RunEvent::CutFinished(Box::new(cut)))?;
        }
        Ok(())
    })?;
    // The device's own runs were timed as part of the board's work.
    let device = target.device_cpu_ns().saturating_sub(device_before);
    stages.move_to(Stage::Board, Stage::Device, device);
    let how = if cancelled {
        EndReason::Cancelled
    } else {
        EndReason::Complete
    };
    let end = JournalEnd {
        finished: now_rfc3339(),
        how,
    };
    stages.time(Stage::Journal, || writer.append_end(&end)).map_err(jerr)?;
    send(sink, RunEvent::Finished { end, tally })?;
    tracing::debug!("CPU per stage: {stages}");
    Ok(RunOutcome {
        journal_path,
        tally,
        control_failed,
        cancelled,
        planned: items.len(),
        stages,
    })
}

/// Entries a per-state cache holds before it starts over: most recoveries end in a few
/// states, so the cache stays useful, and a campaign of a million distinct states cannot
/// grow it without bound.
const CACHE_LIMIT: usize = 4096;

fn bounded_insert<K: std::hash::Hash + Eq, V>(m: &mut HashMap<K, V>, k: K, v: V) {
    if m.len() >= CACHE_LIMIT {
        m.clear();
    }
    m.insert(k, v);
}

/// Verdicts by (post-cut state, committed): identical states judge alike.
type Verdicts = Mutex<HashMap<(String, bool), Verdict>>;
/// A cut's result and, for the dump artifact, the flash after recovery with its base address.
type Finished = (CutResult, Option<(u32, crate::target::Dump)>);

/// Decoded flash states by their fingerprint (most recoveries end in the same few states), and
/// decoded images by their content (a new state mostly holds images decoded before).
struct Decoded {
    states: Mutex<HashMap<String, std::sync::Arc<cutpoint_inspect::FlashReport>>>,
    images: cutpoint_inspect::ImageCache,
}

fn decoded_flash(
    spec: &RunSpec,
    obs: &Observation,
    decoded: &Decoded,
) -> std::sync::Arc<cutpoint_inspect::FlashReport> {
    let key = obs.final_state.clone();
    if let Some(r) = key.as_ref().and_then(|k| decoded.states.lock().ok()?.get(k).cloned()) {
        return r;
    }
    let r = std::sync::Arc::new(obs.dump.with_bytes(|dump| {
        decode_cached(
            &spec.expect,
            dump,
            obs.dump_base,
            &decoded.images,
            obs.dump_keys.as_ref(),
        )
    }));
    if let (Some(k), Ok(mut m)) = (key, decoded.states.lock()) {
        bounded_insert(&mut m, k, r.clone());
    }
    r
}

type Batches<'a> = dyn FnMut(Vec<CutResult>) -> Result<(), EngineError> + 'a;

/// The longest a finished result waits for the journal's sync: results that finish within it
/// share one (a sync per result was most of a run's system time).
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_millis(50);
/// The most results waiting for a sync.
const MAX_UNSYNCED: usize = 256;
/// The most results a worker holds before it sends them to the journal's thread.
const HELD_RESULTS: usize = 16;
/// The longest a worker holds a finished result before it sends it (checked as each cut point
/// finishes, so a result also waits for the cut point after it).
const HELD_FOR: std::time::Duration = std::time::Duration::from_millis(10);

/// How far past the oldest result not yet passed on a worker may start a cut point: results
/// reach the journal in the plan's order, and those that finish before an earlier one wait
/// for it (their dumps are written at once, so what waits is a result each).
const REORDER_WINDOW: usize = 1024;

/// Post-cut states kept to name the first cut point that left each (see `StateNames`).
const STATE_NAMES_KEPT: usize = 4096;

/// The first cut point, in the plan's order, that left each post-cut state: what a later
/// record's `same_state_as` names. Results reach it in the plan's order, so the name is the
/// same from run to run whatever the workers' timing (bounded as the target's own cache of
/// recoveries is, and used the same way: one lookup per cut point, kept when new).
struct StateNames(StateCache<String, String>);

impl StateNames {
    fn name(&mut self, cut: &mut CutResult) {
        cut.same_state_as = None;
        let Some(state) = cut.post_cut_state.clone() else {
            return;
        };
        match self.0.get(&state) {
            Some(first) => cut.same_state_as = Some(first),
            None => {
                self.0.insert(state, cut.id.clone());
            }
        }
    }
}

/// Runs the items on the target's workers; results reach `sink` on this thread, one at a time,
/// in the order of `todo`.
#[allow(clippy::too_many_arguments)]
fn run_items(
    target: &dyn Target,
    spec: &RunSpec,
    rules: &RecoveryRules,
    todo: &[(&WorkItem, &PlannedCut)],
    commit_us: u64,
    cancel: &AtomicBool,
    stages: &StageTimes,
    batches: &mut Batches<'_>,
) -> Result<bool, EngineError> {
    let next = AtomicUsize::new(0);
    let verdicts: Verdicts = Mutex::new(HashMap::new());
    let decoded = Decoded {
        states: Mutex::new(HashMap::new()),
        images: cutpoint_inspect::ImageCache::new(),
    };
    // Bounded: a slow sink (a synced journal on a slow card) holds the workers back rather
    // than letting finished results pile up in memory.
    let (tx, rx) = mpsc::sync_channel::<Vec<(usize, Finished)>>(target.workers().max(1) * 2);
    // Results passed on in order so far: a worker starts no cut point `REORDER_WINDOW` past it.
    let released = AtomicUsize::new(0);
    let mut sink_error = None;
    std::thread::scope(|s| {
        for worker in 0..target.workers().max(1) {
            let tx = tx.clone();
            let (next, verdicts, decoded, released) = (&next, &verdicts, &decoded, &released);
            s.spawn(move || {
                // The worker's own copy of the console markers: a compiled pattern lends its
                // scratch space without a lock to the first thread that used it only, and the
                // pass rule matches every console line of every cut point against several.
                let own = spec.clone();
                let spec = &own;
                // Results go to the journal's thread a few at a time: a send per result woke
                // that thread once per cut point (a tenth of a short campaign's CPU time went
                // to the wake-ups). A result waits here at most `HELD_FOR`, or until
                // `HELD_RESULTS` are held, and every held result is sent before the worker
                // stops (cancelled or out of work).
                let mut held: Vec<(usize, Finished)> = Vec::new();
                let mut oldest: Option<Instant> = None;
                loop {
                    if cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&item) = todo.get(i) else { break };
                    // Too far ahead of the oldest result not passed on: wait for it, with what
                    // this worker holds sent first (it may hold that very result).
                    while i >= released.load(Ordering::Acquire) + REORDER_WINDOW {
                        if !held.is_empty() {
                            oldest = None;
                            if tx.send(std::mem::take(&mut held)).is_err() {
                                return;
                            }
                        }
                        if cancel.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    let mut result = run_one(
                        target,
                        spec,
                        rules,
                        worker,
                        item,
                        commit_us,
                        (verdicts, decoded, stages),
                    );
                    // Only a failing cut point's dump is written (below); a failing result is
                    // not held: held dumps would grow the memory of a run that fails often.
                    if !matches!(result.0.status, Status::Fail) {
                        result.1 = None;
                    }
                    let dump = result.1.is_some();
                    held.push((i, result));
                    let since = *oldest.get_or_insert_with(Instant::now);
                    if dump || held.len() >= HELD_RESULTS || since.elapsed() >= HELD_FOR {
                        oldest = None;
                        if tx.send(std::mem::take(&mut held)).is_err() {
                            return;
                        }
                    }
                }
                if !held.is_empty() {
                    let _ = tx.send(held);
                }
            });
        }
        drop(tx);
        // Group commit: results are written and synced together, at most `SYNC_EVERY` after
        // the first of them finished (or once `MAX_UNSYNCED` wait), and only then reported. A
        // crash loses at most the results not yet synced, none of them reported as done, and
        // a resume runs them again.
        let mut unsynced: Vec<CutResult> = Vec::new();
        let mut oldest: Option<Instant> = None;
        // Results that finished before an earlier one, by their place in `todo`.
        let mut waiting: std::collections::BTreeMap<usize, CutResult> = std::collections::BTreeMap::new();
        let mut names = StateNames(StateCache::new(STATE_NAMES_KEPT));
        loop {
            let received = match oldest {
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(t) => rx.recv_timeout(SYNC_EVERY.saturating_sub(t.elapsed())),
            };
            let disconnected = matches!(received, Err(mpsc::RecvTimeoutError::Disconnected));
            let mut batch: Vec<(usize, Finished)> = received.unwrap_or_default();
            while let Ok(more) = rx.try_recv() {
                batch.extend(more);
            }
            for (i, (cut, dump)) in batch {
                // A failing cut point's dump is written at once, whatever waits.
                if let (Status::Fail, Some((base, d))) = (cut.status, dump) {
                    let name = format!("flash-{base:#x}-after-recovery.bin");
                    stages.time(Stage::Artifacts, || {
                        let _ =
                            d.with_bytes(|d| cutpoint_report::artifacts::write_dump(&spec.out_dir, &cut.id, &name, d));
                    });
                }
                waiting.insert(i, cut);
            }
            // In order; once the workers are done (or cancelled), whatever finished, gaps and all.
            let mut next_out = released.load(Ordering::Relaxed);
            loop {
                let cut = match waiting.remove(&next_out) {
                    Some(cut) => cut,
                    None if disconnected => match waiting.pop_first() {
                        Some((_, cut)) => cut,
                        None => break,
                    },
                    None => break,
                };
                next_out += 1;
                let mut cut = cut;
                names.name(&mut cut);
                oldest.get_or_insert_with(Instant::now);
                unsynced.push(cut);
            }
            released.store(next_out, Ordering::Release);
            let due =
                disconnected || unsynced.len() >= MAX_UNSYNCED || oldest.is_some_and(|t| t.elapsed() >= SYNC_EVERY);
            if due && !unsynced.is_empty() {
                oldest = None;
                if let Err(e) = batches(std::mem::take(&mut unsynced)) {
                    cancel.store(true, Ordering::Relaxed);
                    sink_error = Some(e);
                    break;
                }
            }
            if disconnected {
                break;
            }
        }
    });
    match sink_error {
        Some(e) => Err(e),
        None => Ok(cancel.load(Ordering::Relaxed)),
    }
}

/// The later cut of `item`'s chain that never fired, when it is aimed at a time: its number in
/// the chain (from 1), the cut and how its landing says it never fired.
fn unfired_later_time_cut(item: &WorkItem, id: &str, obs: &Observation) -> Option<(usize, CutPoint, String)> {
    let (n, torn) = obs
        .landings
        .iter()
        .enumerate()
        .find_map(|(i, l)| l.torn.as_deref().filter(|t| t.contains("never fired")).map(|t| (i, t)))?;
    if n == 0 {
        return None;
    }
    let cuts = item.chain.cuts(id).ok()?;
    let cut = cuts.get(n)?;
    matches!(cut.aim, campaign::Aim::Time { .. }).then(|| (n + 1, cut.clone().into_owned(), torn.to_owned()))
}

fn run_one(
    target: &dyn Target,
    spec: &RunSpec,
    rules: &RecoveryRules,
    worker: usize,
    (item, planned): (&WorkItem, &PlannedCut),
    commit_us: u64,
    (verdicts, decoded, stages): (&Verdicts, &Decoded, &StageTimes),
) -> Finished {
    let started = Instant::now();
    let base = CutResult {
        id: planned.id.clone(),
        phase: planned.phase.clone(),
        offset: planned.offset.clone(),
        repetition: item.repetition,
        status: Status::Error,
        reasons: Vec::new(),
        warnings: Vec::new(),
        seed: item.seed,
        landing: None,
        later_landings: Vec::new(),
        first_boot: None,
        final_image: None,
        committed: false,
        slots: Vec::new(),
        console: Vec::new(),
        console_of: None,
        wall_ms: 0,
        same_state_as: None,
        post_cut_state: None,
        booted_slot: None,
    };
    let obs: Observation = match stages.time(Stage::Board, || {
        let cuts = item.chain.cuts(&planned.id)?;
        let chain: Vec<&CutPoint> = cuts.iter().map(|c| &**c).collect();
        target.run_chain(worker, &planned.id, &chain, rules)
    }) {
        Ok(o) => o,
        Err(e) => {
            let wall_ms = started.elapsed().as_millis() as u64;
            return (
                CutResult {
                    reasons: vec![format!("rig error: {e}")],
                    wall_ms,
                    ..base
                },
                None,
            );
        }
    };
    let pass_rule_start = crate::stages::thread_cpu_ns();
    let committed = committed_at_cut(&obs, commit_us);
    let key = obs.post_cut_state.clone().map(|s| (s, committed));
    let cached = key.as_ref().and_then(|k| verdicts.lock().ok()?.get(k).cloned());
    let verdict = match cached {
        Some(v) => v,
        None => {
            let report = decoded_flash(spec, &obs, decoded);
            let v = judge_decoded(
                &spec.expect,
                committed,
                &obs.console,
                obs.reset_from,
                &report,
                &obs.stability,
                &obs.outside,
            );
            if let (Some(k), Ok(mut m)) = (key, verdicts.lock()) {
                bounded_insert(&mut m, k, v.clone());
            }
            v
        }
    };
    let mut warnings = verdict.warnings;
    if obs.retriggered {
        warnings.push("the device reverted the update after the cut; the rig re-triggered it once".into());
    }
    if planned.phase == "download"
        && obs
            .console
            .iter()
            .any(|l| spec.expect.markers.download_restart.is_match(&l.text))
    {
        warnings.push("progress lost: the download started over from byte 0 after the cut".into());
    }
    stages.add(
        Stage::PassRule,
        crate::stages::thread_cpu_ns().saturating_sub(pass_rule_start),
    );
    // A cut that never fired (the device was done before its instant: a bench's timing is not
    // the control run's) leaves the update uncut: that cut point was not tested, and a pass
    // would say it was. A failure stays the device's: it broke the rule even so.
    let (status, mut reasons) = (verdict.status, verdict.reasons);
    let later_time = obs
        .unfired
        .then(|| unfired_later_time_cut(item, &planned.id, &obs))
        .flatten();
    let status = if let (Some((n, cut, torn)), Status::Pass) = (&later_time, status) {
        // A later cut of a chain aimed at a time into the run after the cut before it, which
        // ended first: on this run the offset gave no cut, as a time past its phase's end does
        // at planning (a skipped offset of kind `time`). The chain without it is not this cut
        // point, so it has no verdict: counted as not tested, never a pass, and said so.
        reasons.push(format!(
            "not tested: cut {n} of the chain, a time offset (`{}` into phase `{}`), never fired: \
             the run it aimed into ended first ({torn}); like a time past its phase's end, the offset \
             gave no cut on this run (skipped, kind time), and the chain without it is not this cut \
             point: run it again, or aim it earlier in its phase",
            cut.offset, cut.phase
        ));
        Status::Error
    } else if obs.unfired && status == Status::Pass {
        reasons.push(format!(
            "rig error: the cut never fired ({}): this cut point was not tested; aim it earlier \
             in its phase, or replay it",
            obs.landings
                .iter()
                .find_map(|l| l.torn.as_deref().filter(|t| t.contains("never fired")))
                .unwrap_or("the device was done before the cut's instant")
        ));
        Status::Error
    } else {
        status
    };
    let cut = CutResult {
        status,
        reasons,
        warnings,
        landing: obs.landings.first().cloned(),
        later_landings: obs.landings.iter().skip(1).cloned().collect(),
        first_boot: verdict.first_boot,
        final_image: verdict.final_image,
        committed,
        slots: verdict.slots,
        console: obs.console,
        wall_ms: started.elapsed().as_millis() as u64,
        // Named as results reach the journal, in the plan's order (see `StateNames`).
        same_state_as: None,
        post_cut_state: obs.post_cut_state,
        // The flash the cut left, when the target read it; else the settled flash.
        booted_slot: obs.booted_slot.or(verdict.settled_slot),
        ..base
    };
    (cut, Some((obs.dump_base, obs.dump)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutpoint_core::{CutAt, CutId, OpPoint};

    fn point(id: &str, offset: &str, anchor: Option<(&str, u32)>, then: bool) -> CutPoint {
        CutPoint {
            id: CutId::parse(id).unwrap(),
            phase: "swap".into(),
            offset: offset.into(),
            repetition: 2,
            seed: id.len() as u64 * 7919,
            aim: CutAt::Op {
                index: id.len() as u64,
                point: OpPoint::Before,
            },
            anchor: anchor.map(|(pattern, nth)| campaign::Anchor {
                pattern: pattern.into(),
                nth,
                delay_us: 1234,
            }),
            then: then.then(|| campaign::SecondSpec {
                sequence: "twice".into(),
                phase: "swap".into(),
                stage: 0,
            }),
        }
    }

    fn owned(chain: &Chain, id: &str) -> Vec<CutPoint> {
        chain.cuts(id).unwrap().into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn a_packed_last_cut_unpacks_to_itself_and_shares_its_shape() {
        let first = point("twice:swap/op-01-inside-0.50#2", "op-01-inside-0.50", None, true);
        let mut packing = Packing::default();
        let mut chains = Vec::new();
        for (offset, anchor) in [("op-02-before", Some(("boot: swap", 3))), ("op-03-after", None)] {
            let id = format!("{}>swap/{offset}", first.id);
            let second = point(&id, offset, anchor, false);
            let whole = Chain::of(first.clone()).then(second.clone());
            let packed = packing.pack(whole.clone());
            assert!(packed.packed.is_some(), "{id}: packed");
            assert_eq!(packed.len(), 2);
            assert_eq!(owned(&packed, &id), [first.clone(), second], "{id}");
            assert_eq!(owned(&whole, &id), owned(&packed, &id));
            chains.push(packed);
        }
        // Another chain of the first shape shares it.
        let id = format!("{}>swap/op-04-before", first.id);
        let again =
            packing.pack(Chain::of(first.clone()).then(point(&id, "op-04-before", Some(("boot: swap", 9)), false)));
        let shape = |c: &Chain| c.packed.as_ref().unwrap().shape.clone();
        assert!(Arc::ptr_eq(&shape(&again), &shape(&chains[0])));
        assert!(
            !Arc::ptr_eq(&shape(&chains[1]), &shape(&chains[0])),
            "no anchor: another shape"
        );
        assert_eq!(packing.shapes.len(), 2);
    }

    #[test]
    fn a_cut_that_would_not_unpack_to_itself_stays_whole() {
        let first = point("twice:swap/op-01-inside-0.50", "op-01-inside-0.50", None, true);
        let single = Chain::of(first.clone());
        let mut packing = Packing::default();
        assert!(packing.pack(single).packed.is_none(), "a single cut is its item's own");
        let id = format!("{}>swap/op-02-before", first.id);
        // An offset the id does not end in.
        let odd = point(&id, "op-2-before", None, false);
        let kept = packing.pack(Chain::of(first.clone()).then(odd.clone()));
        assert!(kept.packed.is_none());
        assert_eq!(owned(&kept, &id), [first.clone(), odd]);
        // A cut that another follows.
        let middle = point(&id, "op-02-before", None, true);
        let kept = packing.pack(Chain::of(first.clone()).then(middle.clone()));
        assert!(kept.packed.is_none());
        assert_eq!(owned(&kept, &id), [first, middle]);
    }
}

#[cfg(test)]
mod console_tests {
    use super::*;

    fn line(text: &str) -> LogLine {
        LogLine {
            t_us: 0,
            text: text.to_string(),
        }
    }

    #[test]
    fn an_empty_or_garbled_control_console_is_unreadable_and_a_real_one_is_not() {
        assert_eq!(unreadable_console(&[]).as_deref(), Some("gave no line"));
        let garbled = [line("\u{fffd}\u{fffd}\u{1}x\u{fffd}"), line("\u{fffd}\u{7f}\u{fffd}")];
        assert!(unreadable_console(&garbled)
            .unwrap()
            .starts_with("is not text: 7 of its 8"));
        let real = [line("boot: start"), line("boot: jump version=1.0.0+0 hash=ab\u{fffd}")];
        assert_eq!(unreadable_console(&real), None);
    }
}
