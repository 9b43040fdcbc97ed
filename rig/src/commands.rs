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
use cutpoint::bench_target::BenchTarget;
use cutpoint::engine::{self, Event, RunSpec};
use cutpoint::exit::{BAD_INPUT, FAIL, PASS, RIG_ERROR};
use cutpoint::judge::Expectations;
use cutpoint::setup::{bench_setup, read_public_key, sim_setup, BenchSetup, SetupError, SimSetup};
use cutpoint::target::Target;
use cutpoint_campaign::{self as campaign, format_errors, Campaign, Expect};
use cutpoint_report::journal::read_journal;
use cutpoint_report::{CutResult, Status};
use cutpoint_sim::imgtool::{build_image, default_test_key, parse_version, test_key, ImageSpec};
use cutpoint_sim::BoardProfile;

fn load(path: &Path) -> Result<Campaign, i32> {
    campaign::load_campaign(path).map_err(|errors| {
        eprintln!("{}", format_errors(&errors));
        BAD_INPUT
    })
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

fn timestamp() -> String {
    let fmt = time::macros::format_description!("[year][month][day]-[hour][minute][second]");
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_else(|_| "now".into())
}

/// The newest `reports/<campaign>-*` directory whose journal has no end record.
fn unfinished_dir(c: &Campaign) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("reports")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{}-", c.name)))
        })
        .filter(|p| read_journal(&p.join("results.jsonl")).is_ok_and(|j| j.end.is_none()))
        .collect();
    dirs.sort();
    dirs.pop()
}

pub fn run(
    path: &Path,
    out: Option<PathBuf>,
    partition: Option<&str>,
    resume: Option<String>,
    n: Option<usize>,
) -> i32 {
    let c = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let partition = match partition_arg(partition) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let setup = match prepare(&c, workers(n)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return BAD_INPUT;
        }
    };
    let out_dir = match (&resume, out) {
        (Some(dir), _) if !dir.is_empty() => PathBuf::from(dir),
        (Some(_), Some(o)) => o,
        (Some(_), None) => match unfinished_dir(&c) {
            Some(d) => d,
            None => {
                eprintln!(
                    "--resume: no unfinished run of campaign `{}` under reports/; give its directory",
                    c.name
                );
                return BAD_INPUT;
            }
        },
        (None, Some(o)) => o,
        (None, None) => PathBuf::from("reports").join(format!("{}-{}", c.name, timestamp())),
    };
    let spec = RunSpec {
        campaign: &c,
        campaign_path: path.display().to_string(),
        campaign_sha256: c.sha256.clone(),
        out_dir: out_dir.clone(),
        partition,
        resume: resume.is_some(),
        expect: setup.expect().clone(),
        update_size: setup.update_size(),
        seed: c.run.seed,
    };
    let target = match setup.open() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cutpoint: opening the station: {e}");
            return RIG_ERROR;
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&cancel));
    }
    eprintln!("cutpoint: campaign {} on {}", c.name, target.describe());
    let mut progress = Progress::new();
    let outcome = match engine::run(target.as_ref(), &spec, &mut |e| progress.event(e), &cancel) {
        Ok(o) => o,
        Err(e) => {
            progress.finish();
            eprintln!("cutpoint: {e}");
            return RIG_ERROR;
        }
    };
    progress.finish();
    let summary = match cutpoint_report::rebuild::write_reports(&out_dir, &outcome.journal) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cutpoint: writing reports to {}: {e}", out_dir.display());
            return RIG_ERROR;
        }
    };
    let cuts = &outcome.journal.cuts;
    let count = |s: Status| cuts.iter().filter(|c| c.status == s).count();
    let (pass, fail, error) = (count(Status::Pass), count(Status::Fail), count(Status::Error));
    eprintln!(
        "cutpoint: {} cut points: {pass} passed, {fail} failed, {error} rig errors{}; reports in {}",
        cuts.len(),
        if outcome.cancelled { " (cancelled)" } else { "" },
        out_dir.display()
    );
    let _ = summary;
    outln!("{pass} passed, {fail} failed");
    verdict_code(&c, outcome.control_failed, fail, error)
}

/// A campaign's target, set up but not opened: the simulated board or a station.
enum Prepared {
    Sim(Box<SimSetup>),
    Bench(Box<BenchSetup>),
}

fn prepare(c: &Campaign, workers: usize) -> Result<Prepared, SetupError> {
    if c.is_simulated() {
        sim_setup(c, workers).map(|s| Prepared::Sim(Box::new(s)))
    } else {
        bench_setup(c).map(|b| Prepared::Bench(Box::new(b)))
    }
}

impl Prepared {
    fn expect(&self) -> &Expectations {
        match self {
            Prepared::Sim(s) => &s.expect,
            Prepared::Bench(b) => &b.expect,
        }
    }

    fn update_size(&self) -> u64 {
        match self {
            Prepared::Sim(s) => s.update_size,
            Prepared::Bench(b) => b.update_size,
        }
    }

    /// The target, with a station's backends opened.
    fn open(self) -> Result<Box<dyn Target>, cutpoint_bench::RigError> {
        match self {
            Prepared::Sim(s) => Ok(Box::new(s.target)),
            Prepared::Bench(b) => {
                let b = *b;
                Ok(Box::new(BenchTarget::open(&b.station, b.config)?))
            }
        }
    }
}

fn verdict_code(c: &Campaign, control_failed: bool, fail: usize, error: usize) -> i32 {
    if control_failed {
        eprintln!("cutpoint: the control run failed: the device does not update cleanly even without a cut");
    }
    let caught = control_failed || fail > 0;
    match c.pass.expect {
        Expect::Fail if caught => {
            eprintln!("cutpoint: negative control: the rig caught the broken firmware, as expected");
            PASS
        }
        Expect::Fail => {
            eprintln!("cutpoint: negative control: no cut point failed, but this firmware is expected to fail");
            FAIL
        }
        Expect::Pass if caught => FAIL,
        Expect::Pass if error > 0 => RIG_ERROR,
        Expect::Pass => PASS,
    }
}

/// A progress bar on a terminal; plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: usize,
    next_line: usize,
}

impl Progress {
    fn new() -> Self {
        Progress {
            bar: None,
            total: 0,
            done: 0,
            next_line: 0,
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Control(c) => eprintln!("control run: {} ({} console lines)", c.status.name(), c.console.len()),
            Event::Planned {
                total,
                already_done,
                skipped,
            } => {
                self.total = total;
                self.done = already_done;
                eprintln!("{total} cut points planned, {already_done} already done");
                if !skipped.is_empty() {
                    eprintln!(
                        "{} offsets gave no cut point on this run (`cutpoint plan` lists them with the reason)",
                        skipped.len()
                    );
                }
                if std::io::stderr().is_terminal() {
                    let bar = indicatif::ProgressBar::new(total as u64);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{bar:40} {pos}/{len} cuts, {per_sec}, eta {eta} {msg}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                    bar.set_position(already_done as u64);
                    self.bar = Some(bar);
                }
            }
            Event::Cut(cut) => self.cut(cut),
        }
    }

    fn cut(&mut self, cut: &CutResult) {
        self.done += 1;
        let line = (cut.status != Status::Pass).then(|| {
            format!(
                "{} {}: {}",
                cut.status.name().to_uppercase(),
                cut.id,
                cut.reasons.first().map_or("", String::as_str)
            )
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

pub fn check(path: &Path) -> i32 {
    match campaign::check_file(path) {
        Ok(summary) => {
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

pub fn plan(path: &Path, partition: Option<&str>, counts_only: bool) -> i32 {
    let c = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let partition = match partition_arg(partition) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // On a station the control run powers the bench: planning needs the phases' instants.
    let Planned {
        control,
        items,
        skipped,
        ..
    } = match open_and_plan(&c, path, partition) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if control.status != Status::Pass {
        eprintln!("control run failed: {}", control.reasons.join("; "));
        return FAIL;
    }
    let mut per_phase: Vec<(String, usize)> = Vec::new();
    for it in &items {
        match per_phase.iter_mut().find(|(p, _)| *p == it.phase) {
            Some((_, n)) => *n += 1,
            None => per_phase.push((it.phase.clone(), 1)),
        }
        if !counts_only {
            outln!("{}", it.id);
        }
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

/// The simulated board's control run and plan for a campaign (for `plan` and `replay`).
fn sim_plan(
    c: &Campaign,
    path: &Path,
    partition: Option<(u32, u32)>,
) -> Result<
    (
        cutpoint::setup::SimSetup,
        cutpoint_report::ControlRun,
        Vec<engine::WorkItem>,
        u64,
    ),
    i32,
> {
    let prepared = Prepared::Sim(Box::new(sim_setup(c, 1).map_err(|e| {
        eprintln!("{e}");
        BAD_INPUT
    })?));
    let spec = plan_spec(c, path, &prepared, partition);
    let Prepared::Sim(setup) = prepared else {
        return Err(BAD_INPUT);
    };
    let setup = *setup;
    let rules = engine::recovery_rules(&setup.expect);
    let planned = engine::plan(&setup.target, &spec, &rules).map_err(|e| {
        eprintln!("cutpoint: {e}");
        RIG_ERROR
    })?;
    Ok((setup, planned.control, planned.items, planned.commit_us))
}

fn plan_spec<'a>(c: &'a Campaign, path: &Path, prepared: &Prepared, partition: Option<(u32, u32)>) -> RunSpec<'a> {
    RunSpec {
        campaign: c,
        campaign_path: path.display().to_string(),
        campaign_sha256: c.sha256.clone(),
        out_dir: PathBuf::new(),
        partition,
        resume: false,
        expect: prepared.expect().clone(),
        update_size: prepared.update_size(),
        seed: c.run.seed,
    }
}

/// The campaign's target, opened (a station's backends too), with its control run and plan.
struct Planned {
    target: Box<dyn Target>,
    expect: Expectations,
    control: cutpoint_report::ControlRun,
    items: Vec<engine::WorkItem>,
    commit_us: u64,
    skipped: Vec<cutpoint_campaign::Skipped>,
}

fn open_and_plan(c: &Campaign, path: &Path, partition: Option<(u32, u32)>) -> Result<Planned, i32> {
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
    let planned = engine::plan(target.as_ref(), &spec, &rules).map_err(|e| {
        eprintln!("cutpoint: {e}");
        RIG_ERROR
    })?;
    Ok(Planned {
        target,
        expect,
        control: planned.control,
        items: planned.items,
        commit_us: planned.commit_us,
        skipped: planned.skipped,
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
    let Some(replayed) = replay_cut(&c, &path, id) else {
        return BAD_INPUT;
    };
    let (faulted_console, obs, committed, expect, seed) = match replayed {
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
    let v = cutpoint::judge::judge(
        &expect,
        committed,
        &obs.console,
        obs.reset_from,
        &obs.dump,
        obs.dump_base,
    );
    outln!("--- verdict: {} {} ---", v.status.name(), v.reasons.join("; "));
    // A bench cannot fingerprint its flash at the cut; there the outcome is what is compared.
    let same_bits = recorded.post_cut_state.is_none()
        || obs.post_cut_state.is_none()
        || recorded.post_cut_state == obs.post_cut_state;
    let same_outcome =
        v.status == recorded.status && v.first_boot == recorded.first_boot && v.final_image == recorded.final_image;
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
    if !(same_bits && same_outcome) {
        return RIG_ERROR;
    }
    match v.status {
        Status::Pass => PASS,
        Status::Fail => FAIL,
        Status::Error => RIG_ERROR,
    }
}

/// What a replay produced: the faulted run's console, the observation after the cut, whether
/// the update had committed at the cut, the expectations, and the cut's seed.
type Replayed = (
    Vec<cutpoint_report::LogLine>,
    cutpoint::target::Observation,
    bool,
    Expectations,
    u64,
);

/// Re-runs cut `id`: on the simulated board live from power-on (no journal shortcut, no shared
/// recovery), on a station through its backends. `None` when the id is not in the plan.
fn replay_cut(c: &Campaign, path: &Path, id: &str) -> Option<Result<Replayed, i32>> {
    if c.is_simulated() {
        let (setup, _, items, commit_us) = match sim_plan(c, path, None) {
            Ok(p) => p,
            Err(code) => return Some(Err(code)),
        };
        let rules = engine::recovery_rules(&setup.expect);
        let item = find_item(&items, id)?;
        let chain: Vec<_> = item.chain.iter().collect();
        let live = setup.target.replay_live(&chain, &rules);
        let obs = live.observation;
        let committed = engine::committed_at_cut(&obs, commit_us);
        return Some(Ok((live.faulted_console, obs, committed, setup.expect, item.seed)));
    }
    let planned = match open_and_plan(c, path, None) {
        Ok(p) => p,
        Err(code) => return Some(Err(code)),
    };
    let item = find_item(&planned.items, id)?;
    let rules = engine::recovery_rules(&planned.expect);
    let chain: Vec<_> = item.chain.iter().collect();
    let obs = match planned.target.run_chain(0, id, &chain, &rules) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("cutpoint: {e}");
            return Some(Err(RIG_ERROR));
        }
    };
    let committed = engine::committed_at_cut(&obs, planned.commit_us);
    Some(Ok((Vec::new(), obs, committed, planned.expect, item.seed)))
}

fn find_item<'a>(items: &'a [engine::WorkItem], id: &str) -> Option<&'a engine::WorkItem> {
    let found = items.iter().find(|i| i.id == id);
    if found.is_none() {
        eprintln!("cut point `{id}` is no longer in the campaign's plan");
    }
    found
}

fn parse_addr(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn base_from_name(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let at = name.find("0x")?;
    let hex: String = name[at + 2..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    u32::from_str_radix(&hex, 16).ok()
}

/// What `cutpoint inspect` decodes a file as.
pub enum Decode {
    /// A flash dump laid out like the board's flash map.
    Flash,
    /// One signed MCUboot image.
    Image,
    /// ESP-IDF otadata for a device with `slots` OTA app slots.
    Otadata { slots: u32 },
}

pub fn inspect(file: &Path, board: &str, base: Option<&str>, key: Option<&Path>, what: Decode, json: bool) -> i32 {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return BAD_INPUT;
        }
    };
    let key = match key.map(read_public_key).transpose() {
        Ok(k) => k.unwrap_or_else(|| default_test_key().verifying_key().to_bytes()),
        Err(e) => {
            eprintln!("--key: {e}");
            return BAD_INPUT;
        }
    };
    let Some(profile) = BoardProfile::builtin(board) else {
        eprintln!(
            "--board {board}: unknown board; known: {}",
            BoardProfile::builtin_names().join(", ")
        );
        return BAD_INPUT;
    };
    let base = match base {
        Some(b) => match parse_addr(b) {
            Some(a) => a,
            None => {
                eprintln!("--base {b}: expected an address like 0x10000");
                return BAD_INPUT;
            }
        },
        None => base_from_name(file).unwrap_or(0),
    };
    let out = match what {
        Decode::Image => {
            let r = cutpoint_inspect::decode_image(&bytes, Some(&key));
            if json {
                serde_json::to_string_pretty(&r).unwrap_or_default()
            } else {
                cutpoint_inspect::render_image_text(&r)
            }
        }
        // otadata has no text rendering of its own: its JSON is short and readable.
        Decode::Otadata { slots } => {
            serde_json::to_string_pretty(&cutpoint_inspect::decode_otadata(&bytes, slots)).unwrap_or_default()
        }
        Decode::Flash => {
            let r = cutpoint_inspect::decode_flash(&bytes, base, &profile.layout, Some(&key));
            if json {
                serde_json::to_string_pretty(&r).unwrap_or_default()
            } else {
                cutpoint_inspect::render_text(&r)
            }
        }
    };
    outln!("{out}");
    PASS
}

pub fn report(dirs: &[PathBuf], out: Option<PathBuf>) -> i32 {
    if dirs.is_empty() {
        eprintln!("give at least one report directory");
        return BAD_INPUT;
    }
    let journals: Vec<PathBuf> = dirs.iter().map(|d| d.join("results.jsonl")).collect();
    let out = out.unwrap_or_else(|| dirs[0].clone());
    match cutpoint_report::rebuild::rebuild_reports(&out, &journals) {
        Ok(s) => {
            let c = s.counts;
            outln!(
                "{}: {} cut points: {} passed, {} failed, {} rig errors, {} not run ({})",
                s.campaign,
                c.total(),
                c.pass,
                c.fail,
                c.error,
                c.not_run,
                s.end.as_deref().unwrap_or("interrupted")
            );
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
            PASS
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
        /// The image fails its health check (a bad update).
        #[arg(long)]
        health_fails: bool,
        #[arg(long, default_value = "default")]
        key_name: String,
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
            health_fails,
            key_name,
            out,
        } => {
            let Some(v) = parse_version(&version) else {
                eprintln!("--version {version}: expected a version like 1.2.3+4");
                return BAD_INPUT;
            };
            let flags = if health_fails { fut::image::DESC_HEALTH_FAILS } else { 0 };
            let img = build_image(
                &ImageSpec::new(v, size_kib * 1024).with_flags(flags),
                &test_key(&key_name),
            );
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
    let loaded = campaign::load_station(path).and_then(|st| cutpoint::bench_target::station_backends(&st));
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
