//! The subcommands: each loads its input, reports bad input with its location, and returns an
//! exit code from [`cutpoint::exit`].

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Subcommand;

/// Prints a line to stdout; a closed pipe (`cutpoint plan | head`) is not an error.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
use cutpoint::bench_setup::bench_setup;
use cutpoint::cut_filter::CutFilter;
use cutpoint::engine::{self, RunSpec};
use cutpoint::exit::{BAD_INPUT, FAIL, INCOMPLETE, PASS, RIG_ERROR};
use cutpoint::failures::FailureGroups;
use cutpoint::prepare::{self, PrepareError};
use cutpoint::prepared::{prepare, Prepared};
use cutpoint::replay::{self, Replayed};
use cutpoint::run_dir;
use cutpoint::setup::read_public_key;
use cutpoint::sink::{RunEvent, Sink, SinkError};
use cutpoint_campaign::{self as campaign, format_errors, Campaign, Expect};
use cutpoint_report::journal::read_journal;
use cutpoint_report::{CutResult, Status};
use cutpoint_sim::imgtool::{
    build_image, build_tampered_image, default_test_key, parse_version, test_key, ImageSpec, Tamper,
};

fn load(path: &Path) -> Result<Campaign, i32> {
    let c = campaign::load_campaign(path).map_err(|errors| {
        eprintln!("{}", format_errors(&errors));
        BAD_INPUT
    })?;
    warn(&c.warnings);
    Ok(c)
}

/// Prints deprecated spellings read from a file: `warning: file:line:col: ...`.
fn warn(warnings: &[campaign::FileError]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

fn partition_arg(s: Option<&str>) -> Result<Option<(u32, u32)>, i32> {
    s.map(|p| {
        campaign::parse_partition(p).map_err(|e| {
            eprintln!("--partition {p}: {e}");
            BAD_INPUT
        })
    })
    .transpose()
}

fn workers(n: Option<usize>) -> usize {
    n.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// What `cutpoint run` was asked for, besides the campaign.
pub struct RunArgs {
    pub out: Option<PathBuf>,
    pub partition: Option<String>,
    pub resume: Option<String>,
    pub workers: Option<usize>,
    pub filter: Vec<String>,
    /// Events as JSON lines on stdout (`--message-format json`).
    pub json: bool,
    /// Which cut points get an artifact folder (`--artifacts`).
    pub artifacts: cutpoint_report::Artifacts,
}

pub fn run(path: &Path, args: RunArgs) -> i32 {
    let c = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let partition = match partition_arg(args.partition.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let filter = match CutFilter::parse(&args.filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return BAD_INPUT;
        }
    };
    let setup = match prepare(&c, workers(args.workers)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return BAD_INPUT;
        }
    };
    let resume = args.resume;
    let out_dir = match run_dir::out_dir(&c, partition, resume.as_deref(), args.out) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return BAD_INPUT;
        }
    };
    let spec = RunSpec {
        campaign: &c,
        campaign_path: path.display().to_string(),
        campaign_sha256: c.sha256.clone(),
        out_dir: out_dir.clone(),
        partition,
        resume: resume.is_some(),
        filter,
        expect: setup.expect().clone(),
        update_size: setup.update_size(),
        seed: c.run.seed,
    };
    // A bench one process drives at a time: the lab daemon's run on it shows here.
    let _station_lock = match &c.target.kind {
        campaign::TargetKind::Station { path, .. } => {
            match cutpoint::station_lock::StationLock::acquire(path, "cutpoint run") {
                Ok(l) => Some(l),
                Err(e) => {
                    eprintln!("cutpoint: {e}");
                    return e.exit_code();
                }
            }
        }
        campaign::TargetKind::Simulated { .. } => None,
    };
    let target = match setup.open() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cutpoint: opening the station: {e}");
            return RIG_ERROR;
        }
    };
    // The first interrupt lets the cuts in flight finish and be journaled; a second one
    // restores a bench's power and stops at once.
    let resume_hint = format!(
        "Resume with: {}",
        run_dir::resume_command(path, &out_dir, partition, &args.filter)
    );
    let cancel = Arc::new(AtomicBool::new(false));
    if let Err(e) = cutpoint_bench::stop_gracefully(Arc::clone(&cancel), INCOMPLETE, resume_hint.clone()) {
        eprintln!("cutpoint: {e}");
        return RIG_ERROR;
    }
    eprintln!("cutpoint: campaign {} on {}", c.name, target.describe());
    let negative = c.pass.expect == Expect::Fail;
    let mut progress = Progress::new(args.json, negative);
    let outcome = match engine::run(target.as_ref(), &spec, &mut progress, &cancel) {
        Ok(o) => o,
        Err(e) => {
            progress.finish();
            eprintln!("cutpoint: {e}");
            let code = e.exit_code();
            if args.json {
                let end = cutpoint::events_json::End {
                    outcome: if code == BAD_INPUT { "bad-input" } else { "rig-error" },
                    exit_code: code,
                    planned: 0,
                    passed: 0,
                    failed: 0,
                    errors: 0,
                    report_dir: &out_dir.display().to_string(),
                };
                outln!("{}", cutpoint::events_json::end(&end));
            }
            return code;
        }
    };
    progress.finish();
    let t = outcome.tally;
    let (pass, fail, error) = (t.pass, t.fail, t.error);
    // A negative control's failures are expected, and every line that counts them says so,
    // as `report`, `replay`, `submit --wait` and `runs` do.
    let failed = failed_label(negative, fail);
    let end = |outcome_name: &str, code: i32| {
        if args.json {
            let e = cutpoint::events_json::End {
                outcome: outcome_name,
                exit_code: code,
                planned: outcome.planned,
                passed: pass,
                failed: fail,
                errors: error,
                report_dir: &out_dir.display().to_string(),
            };
            outln!("{}", cutpoint::events_json::end(&e));
        }
        code
    };
    if outcome.cancelled || t.ran() < outcome.planned {
        // Reports of a part of the plan would read as a verdict; the journal keeps every
        // finished cut, and the reports come with the run that completes it.
        eprintln!(
            "cutpoint: INCOMPLETE: {} of {} cut points run ({pass} passed, {failed}, {error} rig errors); \
             nothing is concluded about the device",
            t.ran(),
            outcome.planned
        );
        eprintln!("cutpoint: {resume_hint}");
        eprintln!(
            "cutpoint: reports of the part done: cutpoint report {}",
            out_dir.display()
        );
        if !args.json {
            outln!(
                "{pass} passed, {failed}, {} not run (incomplete)",
                outcome.planned.saturating_sub(t.ran())
            );
        }
        return end("incomplete", INCOMPLETE);
    }
    // The reports read the results back from the journal, as `cutpoint report` does, one
    // streaming pass and then one result at a time.
    let options = cutpoint_report::ReportOptions {
        artifacts: args.artifacts,
    };
    let written = cutpoint_report::write_reports_from_journals(&out_dir, &[&outcome.journal_path], &options);
    if let Err(e) = written {
        eprintln!("cutpoint: writing reports to {}: {e}", out_dir.display());
        return end("rig-error", RIG_ERROR);
    }
    for line in progress.failures.lines(negative) {
        eprintln!("{line}");
    }
    eprintln!(
        "cutpoint: {} cut points: {pass} passed, {failed}, {error} rig errors; reports in {}",
        t.ran(),
        out_dir.display()
    );
    if let Some(f) = &spec.filter {
        eprintln!("cutpoint: only the cut points taken by --filter {} ran", f.describe());
    }
    if !args.json {
        outln!("{pass} passed, {failed}");
    }
    let verdict = cutpoint::verdict::run_verdict(&c, &outcome, fail, error);
    let nothing_taken = (outcome.planned == 0)
        .then(|| selected_nothing(spec.filter.as_ref().map(|f| f.describe()), spec.partition))
        .flatten();
    for note in &verdict.notes {
        // The offsets are not to blame when a filter or a partition took nothing.
        let note = match &nothing_taken {
            Some(taken) => note.replace(
                &format!("check the phases' offsets (`cutpoint plan {}`)", c.path.display()),
                taken,
            ),
            None => note.clone(),
        };
        eprintln!("cutpoint: {note}");
    }
    end(cutpoint::verdict::outcome_name(verdict.code), verdict.code)
}

/// `N failed`, and for a negative control with failures `N failed, as expected (negative
/// control)`: the words `submit --wait` prints for a daemon's run.
fn failed_label(negative: bool, fail: usize) -> String {
    if negative && fail > 0 {
        format!("{fail} failed, as expected (negative control)")
    } else {
        format!("{fail} failed")
    }
}

/// Why a run with a filter or a partition has no cut point: they took none of the plan's.
fn selected_nothing(filter: Option<String>, partition: Option<(u32, u32)>) -> Option<String> {
    let what = match (filter, partition) {
        (Some(f), Some((k, n))) => format!("--filter {f} with --partition {k}/{n}"),
        (Some(f), None) => format!("--filter {f}"),
        (None, Some((k, n))) => format!("--partition {k}/{n} (more partitions than cut points?)"),
        (None, None) => return None,
    };
    Some(format!(
        "{what} took none of the plan's cut points; `cutpoint plan CAMPAIGN` lists their ids"
    ))
}

/// A progress bar on a terminal; plain lines otherwise. With `json`, every event is also a
/// JSON line on stdout.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: usize,
    next_line: usize,
    json: bool,
    /// A negative control: failures are expected, and labelled so.
    negative: bool,
    failures: FailureGroups,
}

impl Sink for Progress {
    fn event(&mut self, e: &RunEvent) -> Result<(), SinkError> {
        Progress::event(self, e);
        Ok(())
    }
}

impl Progress {
    fn new(json: bool, negative: bool) -> Self {
        Progress {
            bar: None,
            total: 0,
            done: 0,
            next_line: 0,
            json,
            negative,
            failures: FailureGroups::default(),
        }
    }

    fn event(&mut self, e: &RunEvent) {
        if self.json {
            let v = match e {
                RunEvent::Control(c) => Some(cutpoint::events_json::control(c)),
                RunEvent::Planned {
                    total,
                    already_done,
                    skipped,
                } => Some(cutpoint::events_json::planned(*total, *already_done, skipped.len())),
                RunEvent::CutFinished(c) => Some(cutpoint::events_json::cut(c, self.negative)),
                RunEvent::Started { .. } | RunEvent::Finished { .. } => None,
            };
            if let Some(v) = v {
                outln!("{v}");
            }
        }
        match e {
            RunEvent::Control(c) => eprintln!("control run: {} ({} console lines)", c.status.name(), c.console.len()),
            RunEvent::Planned {
                total,
                already_done,
                skipped,
            } => {
                self.total = *total;
                self.done = *already_done;
                eprintln!("{total} cut points planned, {already_done} already done");
                if !skipped.is_empty() {
                    eprintln!(
                        "{} offsets gave no cut point on this run (`cutpoint plan` lists them with the reason)",
                        skipped.len()
                    );
                }
                if std::io::stderr().is_terminal() {
                    let bar = indicatif::ProgressBar::new(*total as u64);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{bar:40} {pos}/{len} cuts, {per_sec}, eta {eta} {msg}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                    bar.set_position(*already_done as u64);
                    self.bar = Some(bar);
                }
            }
            RunEvent::CutFinished(cut) => {
                self.failures.add(cut);
                self.cut(cut);
            }
            RunEvent::Started { warnings, .. } => {
                for warning in warnings {
                    eprintln!("warning: {warning}");
                }
            }
            RunEvent::Finished { .. } => {}
        }
    }

    fn cut(&mut self, cut: &CutResult) {
        self.done += 1;
        let line = (cut.status != Status::Pass).then(|| {
            let label = match cut.status {
                Status::Fail if self.negative => "FAIL (expected)".to_string(),
                s => s.name().to_uppercase(),
            };
            format!("{label} {}: {}", cut.id, cut.reasons.first().map_or("", String::as_str))
        });
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                if let Some(l) = line {
                    bar.println(l);
                }
            }
            None => {
                if let Some(l) = line {
                    eprintln!("{l}");
                }
                if self.done >= self.next_line {
                    eprintln!("progress: {}/{} cut points", self.done, self.total);
                    self.next_line = self.done + (self.total / 10).max(1);
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// `cutpoint boards`: the built-in simulated boards and the modes each runs.
pub fn boards() -> i32 {
    for line in cutpoint::flash_map::boards_text() {
        outln!("{line}");
    }
    PASS
}

pub fn check(path: &Path) -> i32 {
    match cutpoint::check::check_file(path) {
        Ok(report) => {
            warn(&report.warnings);
            let summary = report.summary;
            outln!("{}: ok ({:?} `{}`)", path.display(), summary.kind, summary.name);
            for l in &summary.lines {
                outln!("  {l}");
            }
            PASS
        }
        Err(errors) => {
            eprintln!("{}", format_errors(&errors));
            BAD_INPUT
        }
    }
}

/// How `cutpoint plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanOutput {
    /// One id a line, counts on stderr.
    Ids,
    /// Counts only.
    Counts,
    /// One JSON document on stdout.
    Json,
}

pub fn plan(
    path: &Path,
    partition: Option<&str>,
    filter: &[String],
    output: PlanOutput,
    control_from: Option<&Path>,
) -> i32 {
    let c = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let partition = match partition_arg(partition) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let filter = match CutFilter::parse(filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return BAD_INPUT;
        }
    };
    if !c.is_simulated() {
        return bench_plan(&c, path, partition, filter.as_ref(), output, control_from);
    }
    if control_from.is_some() {
        eprintln!("note: --control-from is for station campaigns; the simulated board's control run is run here");
    }
    // On a station the control run powers the bench: planning needs the phases' instants.
    let engine::RunPlan {
        control,
        mut items,
        skipped,
        ..
    } = match open_and_plan(&c, path, partition) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(f) = &filter {
        items.retain(|it| f.matches(&it.id));
    }
    if control.status != Status::Pass {
        eprintln!("control run failed: {}", control.reasons.join("; "));
        if items.is_empty() {
            return FAIL;
        }
        eprintln!("(a negative control: its cut points run all the same, to catch the broken firmware)");
    }
    if items.is_empty() {
        eprintln!("no cut point planned: check the phases' offsets");
        return BAD_INPUT;
    }
    let mut per_phase: Vec<(String, usize)> = Vec::new();
    for it in &items {
        match per_phase.iter_mut().find(|(p, _)| *p == it.phase) {
            Some((_, n)) => *n += 1,
            None => per_phase.push((it.phase.clone(), 1)),
        }
        if output == PlanOutput::Ids {
            outln!("{}", it.id);
        }
    }
    if output == PlanOutput::Json {
        print_plan_json(&c, &control, &items, &per_phase, &skipped, filter.as_ref());
        return PASS;
    }
    for s in &skipped {
        eprintln!("skipped {}: {}", s.id, s.reason);
    }
    for (phase, n) in &per_phase {
        eprintln!("{phase:>12}: {n} cut points");
    }
    let cycle_s = (c.run.dwell_ms + c.run.settle_timeout_ms / 4) as f64 / 1000.0;
    eprintln!(
        "{:>12}: {} cut points (on a bench at ~{cycle_s:.1} s per cut: about {:.1} h; on the simulated board: seconds)",
        "total",
        items.len(),
        items.len() as f64 * cycle_s / 3600.0
    );
    PASS
}

/// `cutpoint plan --json`: one document, written item by item so a large plan is not built
/// twice in memory.
fn print_plan_json(
    c: &Campaign,
    control: &cutpoint_report::ControlRun,
    items: &[engine::WorkItem],
    per_phase: &[(String, usize)],
    skipped: &[cutpoint_campaign::Skipped],
    filter: Option<&CutFilter>,
) {
    use std::io::Write as _;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let head = serde_json::json!({
        "campaign": c.name,
        "campaign_path": c.path.display().to_string(),
        "campaign_sha256": c.sha256,
        "expect": match c.pass.expect { Expect::Pass => "pass", Expect::Fail => "fail" },
        "filter": filter.map(CutFilter::describe),
        "control": {"status": control.status.name(), "reasons": control.reasons},
        "total": items.len(),
        "phases": per_phase.iter().map(|(p, n)| serde_json::json!({"phase": p, "cut_points": n})).collect::<Vec<_>>(),
        "skipped": skipped.iter().map(|s| serde_json::json!({"id": s.id, "phase": s.phase, "reason": s.reason})).collect::<Vec<_>>(),
    });
    let head = head.to_string();
    // The head object without its closing brace, then the cut points.
    let _ = write!(w, "{},\"cut_points\":[", &head[..head.len() - 1]);
    for (n, it) in items.iter().enumerate() {
        let v = serde_json::json!({
            "id": it.id,
            "phase": it.phase,
            "offset": it.offset,
            "repetition": it.repetition,
            "seed": it.seed,
            "chain": it.chain.len(),
        });
        let _ = write!(w, "{}{v}", if n == 0 { "" } else { "," });
    }
    let _ = writeln!(w, "]}}");
}

/// `plan` of a station campaign: never opens the bench. With `--control-from` the plan is
/// expanded on the control run a report recorded; without, it lists what needs no run and says
/// what does.
fn bench_plan(
    c: &Campaign,
    path: &Path,
    partition: Option<(u32, u32)>,
    filter: Option<&CutFilter>,
    output: PlanOutput,
    control_from: Option<&Path>,
) -> i32 {
    use cutpoint::bench_plan::{offline_partition, per_phase, plan_from_report, FromReportError};
    let setup = match bench_setup(c) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return BAD_INPUT;
        }
    };
    let (items, pending) = match control_from {
        Some(dir) => match plan_from_report(c, setup.update_size, dir, partition) {
            Ok(r) => {
                eprintln!("plan on the control run recorded in {}", r.report.display());
                if r.campaign_changed {
                    eprintln!(
                        "warning: {} changed since that run; the plan uses the file as it is now",
                        path.display()
                    );
                }
                for warning in inputs_warnings(&r.inputs, c, "the plan") {
                    eprintln!("warning: {warning}");
                }
                for s in &r.skipped {
                    eprintln!("skipped {}: {}", s.id, s.reason);
                }
                (r.items, r.pending)
            }
            Err(e @ FromReportError::Input(_)) => {
                eprintln!("{e}");
                return BAD_INPUT;
            }
            Err(e @ FromReportError::ControlFailed(_)) => {
                eprintln!("{e}");
                return FAIL;
            }
        },
        None => {
            let offline = campaign::plan_offline(c, setup.update_size);
            let Some(items) = offline_partition(&offline, partition) else {
                eprintln!(
                    "--partition: how the plan splits depends on the control run's console; give it with \
                     `cutpoint plan {} --control-from REPORT_DIR`",
                    path.display()
                );
                return BAD_INPUT;
            };
            eprintln!("plan without a control run (the bench is not opened): the ids that need no run");
            for (id, why) in &offline.skipped {
                eprintln!("skipped {id}: {why}");
            }
            let tentative: Vec<&str> = offline
                .points
                .iter()
                .filter(|p| p.unless.is_some())
                .map(|p| p.id.as_str())
                .collect();
            if let Some(why) = offline.points.iter().find_map(|p| p.unless.as_deref()) {
                eprintln!(
                    "{} of them may still be left out ({why}, e.g. {})",
                    tentative.len(),
                    tentative[0]
                );
            }
            (items, offline.pending)
        }
    };
    let mut items = items;
    if let Some(f) = filter {
        items.retain(|it| f.matches(&it.id));
    }
    if output == PlanOutput::Json {
        let doc = serde_json::json!({
            "campaign": c.name,
            "campaign_path": c.path.display().to_string(),
            "campaign_sha256": c.sha256,
            "filter": filter.map(CutFilter::describe),
            "control": {"from": control_from.map(|d| d.display().to_string())},
            "total": items.len(),
            "phases": per_phase(&items).iter().map(|(p, n)| serde_json::json!({"phase": p, "cut_points": n})).collect::<Vec<_>>(),
            "needs_a_run": pending.iter().map(|p| serde_json::json!({"what": p.what, "phase": p.phase, "reason": p.reason})).collect::<Vec<_>>(),
            "cut_points": items.iter().map(|it| serde_json::json!({"id": it.id, "phase": it.phase})).collect::<Vec<_>>(),
        });
        outln!("{doc}");
        return PASS;
    }
    for it in &items {
        if output == PlanOutput::Ids {
            outln!("{}", it.id);
        }
    }
    for (phase, n) in per_phase(&items) {
        eprintln!("{phase:>12}: {n} cut points");
    }
    eprintln!("{:>12}: {} cut points", "total", items.len());
    if !pending.is_empty() {
        for p in &pending {
            eprintln!("needs a run: {}: {}", p.what, p.reason);
        }
        if control_from.is_none() {
            eprintln!(
                "for the full plan, give the control run of an earlier run of this campaign on the bench: \
                 `cutpoint plan {} --control-from reports/{}-<time>`, or run it: `cutpoint run {}`",
                path.display(),
                c.name,
                path.display()
            );
        }
    }
    PASS
}

/// A campaign's spec for a plan on its prepared target.
fn plan_spec<'a>(c: &'a Campaign, path: &Path, prepared: &Prepared, partition: Option<(u32, u32)>) -> RunSpec<'a> {
    prepare::plan_spec(c, path, prepared.expect().clone(), prepared.update_size(), partition)
}

/// The campaign's target, opened (a station's backends too): its control run and plan.
fn open_and_plan(c: &Campaign, path: &Path, partition: Option<(u32, u32)>) -> Result<engine::RunPlan, i32> {
    let prepared = prepare(c, 1).map_err(|e| {
        eprintln!("{e}");
        BAD_INPUT
    })?;
    let spec = plan_spec(c, path, &prepared, partition);
    let expect = prepared.expect().clone();
    let target = prepared.open().map_err(|e| {
        eprintln!("cutpoint: opening the station: {e}");
        RIG_ERROR
    })?;
    let rules = engine::recovery_rules(&expect);
    engine::plan(target.as_ref(), &spec, &rules).map_err(|e| {
        eprintln!("cutpoint: {e}");
        e.exit_code()
    })
}

pub fn replay(dir: &Path, id: &str) -> i32 {
    let journal = match read_journal(&dir.join("results.jsonl")) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("{e}");
            return BAD_INPUT;
        }
    };
    let Some(recorded) = journal.cut(id).cloned() else {
        eprintln!(
            "{}: no cut point `{id}` in this report; `cutpoint plan` lists the ids",
            dir.display()
        );
        return BAD_INPUT;
    };
    let path = PathBuf::from(&journal.header.campaign_path);
    let c = match load(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if c.sha256 != journal.header.campaign_sha256 {
        eprintln!(
            "warning: {} changed since the run; the replay uses the file as it is now",
            path.display()
        );
    }
    for warning in inputs_warnings(&journal.header.inputs, &c, "the replay") {
        eprintln!("warning: {warning}");
    }
    let Some(replayed) = replay_cut(&c, &path, id) else {
        return BAD_INPUT;
    };
    let Replayed {
        faulted_console,
        observation: obs,
        committed,
        expect,
        seed,
    } = match replayed {
        Ok(r) => r,
        Err(code) => return code,
    };
    outln!("--- until the cut (seed {seed}) ---");
    for l in &faulted_console {
        outln!("{:>12} {}", l.t_us, l.text);
    }
    for (n, l) in obs.landings.iter().enumerate() {
        outln!("--- cut {}: {} ---", n + 1, cutpoint_report::describe_landing(l));
    }
    for (i, l) in obs.console.iter().enumerate() {
        if obs.reset_from == Some(i) {
            outln!("--- plain reset (no cut) after the device settled ---");
        }
        outln!("{:>12} {}", l.t_us, l.text);
    }
    let v = cutpoint::judge::judge_observed(&expect, committed, &obs);
    // The run's own expectation, as its journal recorded it: a campaign edited since (to
    // `expect = "fail"`, say) must not turn a failure of a run that had to pass into an
    // expected one, nor the other way round.
    let negative = journal.header.expect == cutpoint_report::Expect::Fail;
    if negative != (c.pass.expect == Expect::Fail) {
        eprintln!(
            "warning: {} now says `expect = \"{}\"`, the run said \"{}\"; the replay is labelled as the run was",
            path.display(),
            if c.pass.expect == Expect::Fail { "fail" } else { "pass" },
            if negative { "fail" } else { "pass" }
        );
    }
    outln!(
        "--- verdict: {} {} ---",
        replay::Comparison::verdict_label(v.status, negative),
        v.reasons.join("; ")
    );
    let compared = replay::Comparison::of(&recorded, &v, &obs);
    let (same_bits, same_outcome) = (compared.same_bits, compared.same_outcome);
    outln!(
        "post-cut flash: {} (recorded {}, replayed {})",
        match (same_bits, obs.post_cut_state.is_some()) {
            (_, false) => "not fingerprinted on a bench",
            (true, true) => "identical",
            (false, true) => "DIFFERENT",
        },
        recorded.post_cut_state.as_deref().unwrap_or("-"),
        obs.post_cut_state.as_deref().unwrap_or("-")
    );
    outln!(
        "outcome: {} the recorded one ({})",
        if same_outcome { "matches" } else { "DIFFERS from" },
        recorded.status.name()
    );
    compared.exit_code_in(v.status, negative)
}

/// What to warn of when `what` (a replay, a plan) uses campaign `c`'s input files as they are
/// now, against those a journal recorded: each file that changed, or that they could not be
/// compared (a journal of an earlier cutpoint).
fn inputs_warnings(recorded: &[cutpoint_report::InputDigest], c: &Campaign, what: &str) -> Vec<String> {
    use cutpoint_report::InputsCompared;
    match cutpoint_report::compare_inputs(recorded, &engine::input_digests(c)) {
        InputsCompared::Same => Vec::new(),
        InputsCompared::NotRecorded => vec![format!(
            "the report does not record the campaign's input files (an earlier cutpoint wrote it): whether \
             they changed since the run could not be compared; {what} uses them as they are now"
        )],
        InputsCompared::Changed(changes) => changes
            .iter()
            .map(|ch| {
                format!(
                    "{} changed since the run; {what} uses the file as it is now",
                    ch.describe("at the run", "now")
                )
            })
            .collect(),
    }
}

/// Re-runs cut `id`: on the simulated board live from power-on (no journal shortcut, no shared
/// recovery), on a station through its backends. `None` when the id is not in the plan.
fn replay_cut(c: &Campaign, path: &Path, id: &str) -> Option<Result<Replayed, i32>> {
    if c.is_simulated() {
        return match replay::replay_sim(c, path, id) {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                no_longer_planned(id);
                None
            }
            Err(e) => {
                match &e {
                    PrepareError::Setup(e) => eprintln!("{e}"),
                    PrepareError::Engine(e) => eprintln!("cutpoint: {e}"),
                }
                Some(Err(e.exit_code()))
            }
        };
    }
    let prepared = match prepare(c, 1) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Some(Err(BAD_INPUT));
        }
    };
    let spec = plan_spec(c, path, &prepared, None);
    let expect = prepared.expect().clone();
    let target = match prepared.open() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cutpoint: opening the station: {e}");
            return Some(Err(RIG_ERROR));
        }
    };
    match replay::replay_on(target.as_ref(), &spec, expect, id) {
        Ok(Some(r)) => Some(Ok(r)),
        Ok(None) => {
            no_longer_planned(id);
            None
        }
        Err(e) => {
            eprintln!("cutpoint: {e}");
            Some(Err(e.exit_code()))
        }
    }
}

fn no_longer_planned(id: &str) {
    eprintln!("cut point `{id}` is no longer in the campaign's plan");
}

fn base_from_name(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let at = name.find("0x")?;
    let hex: String = name[at + 2..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    u32::from_str_radix(&hex, 16).ok()
}

/// What `cutpoint inspect` decodes a file as.
pub enum Decode {
    /// A flash dump laid out like the board's flash map, decoded as the scheme `--mode` names
    /// keeps its metadata (MCUboot trailers when none is named).
    Flash,
    /// One signed MCUboot image.
    Image,
    /// ESP-IDF otadata in sectors of `sector` bytes, for a device with `slots` OTA app slots.
    Otadata { slots: u32, sector: u32 },
}

/// The flash map `inspect` decodes a dump against.
pub struct MapArgs<'a> {
    pub board: &'a str,
    pub layout: Option<&'a Path>,
    pub primary: Option<&'a str>,
    pub secondary: Option<&'a str>,
    pub scratch: Option<&'a str>,
    /// The update scheme whose metadata the dump holds (`--mode`).
    pub mode: Option<&'a str>,
}

/// Exit codes: 0 every image found is valid, 1 an image is invalid (or none is there), 2 the
/// input is not a dump or image of the map, or a flag is wrong.
pub fn inspect(file: &Path, map: &MapArgs, base: Option<&str>, key: Option<&Path>, what: Decode, json: bool) -> i32 {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return BAD_INPUT;
        }
    };
    let key = match key.map(read_public_key).transpose() {
        Ok(k) => k.unwrap_or_else(|| cutpoint_sim::imgtool::public_key(&default_test_key())),
        Err(e) => {
            eprintln!("--key: {e}");
            return BAD_INPUT;
        }
    };
    let regions = [
        ("primary", map.primary),
        ("secondary", map.secondary),
        ("scratch", map.scratch),
    ];
    let layout = match cutpoint::flash_map::inspect_layout(map.board, map.layout, &regions) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return BAD_INPUT;
        }
    };
    let base = match base {
        Some(b) => match cutpoint::flash_map::parse_number(b) {
            Some(a) => a,
            None => {
                eprintln!("--base {b}: expected an address like 0x10000");
                return BAD_INPUT;
            }
        },
        None => base_from_name(file).unwrap_or(0),
    };
    let (out, verdict) = match what {
        Decode::Image => {
            let r = cutpoint_inspect::decode_image(&bytes, Some(&key));
            let text = if json {
                serde_json::to_string_pretty(&r).unwrap_or_default()
            } else {
                cutpoint_inspect::render_image_text(&r)
            };
            (text, Some(cutpoint_inspect::image_verdict(&r)))
        }
        Decode::Otadata { slots, sector } => {
            // Not otadata to decode: no slot to pick from, or a file that ends before the second
            // sector's entry (an empty file read as two absent sectors said nothing true).
            let entry = cutpoint_inspect::otadata::ENTRY_BYTES;
            let second_entry_end = (sector as usize).max(entry).saturating_add(entry);
            if slots == 0 {
                eprintln!("--otadata 0: give the number of OTA app slots the partition table has (at least 1)");
                return BAD_INPUT;
            }
            if bytes.len() < second_entry_end {
                eprintln!(
                    "{}: {} bytes, but two otadata sectors of {sector} bytes need at least {second_entry_end} (the \
                     second sector's entry); give the otadata partition's dump, or its sector size with \
                     --otadata-sector",
                    file.display(),
                    bytes.len()
                );
                return BAD_INPUT;
            }
            // JSON either way, as it always printed: short and readable (the text form is in a
            // whole-flash decode with `--mode esp-idf`).
            let r = cutpoint_inspect::otadata::decode_otadata_sectors(&bytes, sector as usize, slots);
            (serde_json::to_string_pretty(&r).unwrap_or_default(), None)
        }
        Decode::Flash => {
            let mut r = match map.mode {
                Some(m) if cutpoint_inspect::scheme::decoder(m).is_none() => {
                    let known: Vec<&str> = cutpoint_inspect::scheme::DECODERS.iter().map(|(n, _)| *n).collect();
                    eprintln!("--mode {m}: no such update scheme; known: {}", known.join(", "));
                    return BAD_INPUT;
                }
                Some(m) => cutpoint_inspect::decode_flash_for(m, &bytes, base, &layout, Some(&key)),
                None => cutpoint_inspect::decode_flash(&bytes, base, &layout, Some(&key)),
            };
            r.mark_unreadable(&cutpoint::flash_map::inspect_unreadable(map.layout));
            let text = if json {
                serde_json::to_string_pretty(&r).unwrap_or_default()
            } else {
                cutpoint_inspect::render_text(&r)
            };
            (text, Some(cutpoint_inspect::flash_verdict(&r)))
        }
    };
    outln!("{out}");
    let Some(v) = verdict else { return PASS };
    for r in &v.reasons {
        eprintln!("inspect: {r}");
    }
    match v.gate {
        cutpoint_inspect::Gate::Valid => PASS,
        cutpoint_inspect::Gate::Invalid => FAIL,
        cutpoint_inspect::Gate::NotInput => BAD_INPUT,
    }
}

pub fn report(dirs: &[PathBuf], out: Option<PathBuf>, artifacts: cutpoint_report::Artifacts) -> i32 {
    if dirs.is_empty() {
        eprintln!("give at least one report directory");
        return BAD_INPUT;
    }
    let journals: Vec<PathBuf> = dirs.iter().map(|d| d.join("results.jsonl")).collect();
    let out = out.unwrap_or_else(|| dirs[0].clone());
    // A run still writing there must not have its reports (or journal) replaced under it.
    let _lock = match cutpoint::run_lock::RunLock::acquire(&out) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cutpoint: {e}");
            return e.exit_code();
        }
    };
    let options = cutpoint_report::ReportOptions { artifacts };
    match cutpoint_report::write_reports_from_journals(&out, &journals, &options) {
        Ok(s) => {
            let c = s.counts;
            let how = if s.incomplete.is_empty() {
                s.end.as_deref().unwrap_or("interrupted")
            } else {
                "incomplete"
            };
            outln!(
                "{}: {} cut points: {} passed, {} failed, {} rig errors, {} not run ({how})",
                s.campaign,
                c.total(),
                c.pass,
                c.fail,
                c.error,
                c.not_run,
            );
            if let Some(nc) = &s.negative_control {
                outln!("{}", nc.headline());
            }
            for note in &s.notes {
                outln!("note: {note}");
            }
            outln!(
                "reports written to {}: {} ({} per-cut artifact folders)",
                out.display(),
                s.files
                    .iter()
                    .filter_map(|f| f.file_name())
                    .map(|f| f.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
                s.artifact_dirs
            );
            if s.incomplete.is_empty() {
                let v = cutpoint::verdict::report_verdict(&s);
                for note in &v.notes {
                    eprintln!("cutpoint: {note}");
                }
                return v.code;
            }
            for why in &s.incomplete {
                eprintln!("cutpoint: incomplete: {why}");
            }
            INCOMPLETE
        }
        Err(e) => {
            eprintln!("{e}");
            BAD_INPUT
        }
    }
}

#[derive(Subcommand)]
pub enum ImageAction {
    /// Build an image signed with a test-only key.
    Build {
        #[arg(long)]
        version: String,
        #[arg(long, default_value_t = 64)]
        size_kib: u32,
        /// The whole image (header, body and TLVs) exactly this many bytes, instead of a body of
        /// --size-kib: an image file of a whole number of KiB, as a build that pads to its
        /// flash's blocks ships it.
        #[arg(long, conflicts_with = "size_kib")]
        total_bytes: Option<u32>,
        /// The image fails its health check (a bad update).
        #[arg(long)]
        health_fails: bool,
        #[arg(long, default_value = "default")]
        key_name: String,
        /// Spoil the signed image so a device must refuse it: body-byte, wrong-key, unsigned,
        /// truncated, size-lie or forged-signature (as a campaign's `tamper`).
        #[arg(long)]
        tamper: Option<String>,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Write the public half of a test-only key (PEM).
    Key {
        #[arg(long, default_value = "default")]
        name: String,
        #[arg(short, long)]
        out: PathBuf,
    },
}

pub fn image(action: ImageAction) -> i32 {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    let result = match action {
        ImageAction::Build {
            version,
            size_kib,
            total_bytes,
            health_fails,
            key_name,
            tamper,
            out,
        } => {
            let Some(v) = parse_version(&version) else {
                eprintln!("--version {version}: expected a version like 1.2.3+4");
                return BAD_INPUT;
            };
            let flags = if health_fails { fut::image::DESC_HEALTH_FAILS } else { 0 };
            let tamper = match tamper.as_deref().map(|t| (t, Tamper::from_name(t))) {
                None => None,
                Some((_, Some(t))) => Some(t),
                Some((t, None)) => {
                    let names: Vec<String> = Tamper::ALL.iter().map(|k| format!("\"{k}\"")).collect();
                    eprintln!("--tamper {t}: expected one of {}", names.join(", "));
                    return BAD_INPUT;
                }
            };
            let body = match total_bytes {
                None => size_kib * 1024,
                Some(total) => {
                    // Header and TLVs do not depend on the body's length.
                    let overhead = build_image(&ImageSpec::new(v, 1024), &test_key(&key_name)).len() as u32 - 1024;
                    match total.checked_sub(overhead).filter(|b| *b >= 1024) {
                        Some(b) => b,
                        None => {
                            eprintln!(
                                "--total-bytes {total}: an image needs {overhead} bytes of header and TLVs and a body \
                                 of at least 1024 bytes"
                            );
                            return BAD_INPUT;
                        }
                    }
                }
            };
            let spec = ImageSpec::new(v, body).with_flags(flags);
            let img = match tamper {
                Some(t) => build_tampered_image(&spec, &test_key(&key_name), t),
                None => build_image(&spec, &test_key(&key_name)),
            };
            std::fs::write(&out, img).map_err(|e| format!("{}: {e}", out.display()))
        }
        ImageAction::Key { name, out } => test_key(&name)
            .verifying_key()
            .to_public_key_pem(Default::default())
            .map_err(|e| e.to_string())
            .and_then(|pem| std::fs::write(&out, pem).map_err(|e| format!("{}: {e}", out.display()))),
    };
    match result {
        Ok(()) => PASS,
        Err(e) => {
            eprintln!("{e}");
            BAD_INPUT
        }
    }
}

pub fn doctor(path: &Path) -> i32 {
    let loaded = campaign::load_station(path).and_then(|st| {
        warn(&st.warnings);
        let mut b = cutpoint::bench_target::station_backends(&st)?;
        cutpoint::flash_map::fill_probe_slots(&mut b, &st).map_err(|e| vec![e])?;
        Ok(b)
    });
    let backends = match loaded {
        Ok(b) => b,
        Err(errors) => {
            eprintln!("{}", format_errors(&errors));
            return BAD_INPUT;
        }
    };
    let report = cutpoint_bench::doctor::doctor(&backends, &mut std::io::stdout());
    if report.fit {
        PASS
    } else {
        eprintln!("cutpoint doctor: this bench is not fit for a nightly run (see the findings above)");
        RIG_ERROR
    }
}
