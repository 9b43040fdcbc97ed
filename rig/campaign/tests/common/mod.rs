//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use cutpoint_campaign::{
    expand_plan, expand_second_plan, Campaign, CutPoint, Delivery, Downgrade, ExpandError, ImageSource, OpSpan,
    RegionSet, TargetKind, Timeline,
};

pub mod plan_summary;

/// The cut points of a campaign on an unfaulted run's timeline.
pub fn expand(campaign: &Campaign, tl: &Timeline) -> Result<Vec<CutPoint>, ExpandError> {
    expand_plan(campaign, tl).map(|p| p.points)
}

/// The next cuts after `first`, on the console of the run that recovers from it.
pub fn expand_second(campaign: &Campaign, first: &CutPoint, recovery: &Timeline) -> Result<Vec<CutPoint>, ExpandError> {
    expand_second_plan(campaign, first, recovery).map(|p| p.points)
}

/// The repository's `campaigns/` folder.
pub fn campaigns_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../campaigns")
}

/// Every `*.toml` under `dir`, sorted.
pub fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A recorded unfaulted run (see `tests/timelines/README.md`).
pub struct Recorded {
    pub console: Vec<(u64, String)>,
    pub ops: Vec<OpSpan>,
    pub update_size: u64,
}

impl Recorded {
    pub fn parse(text: &str) -> Recorded {
        let mut rec = Recorded {
            console: Vec::new(),
            ops: Vec::new(),
            update_size: 0,
        };
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("L ") {
                let (t, text) = rest.split_once(' ').expect("L <us> <text>");
                rec.console.push((t.parse().expect("time"), text.to_string()));
            } else if let Some(rest) = line.strip_prefix("O ") {
                let f: Vec<&str> = rest.split(' ').collect();
                let n = |i: usize| -> u64 { f[i].parse().expect("number") };
                rec.ops.push(OpSpan {
                    index: n(0),
                    start_us: n(1),
                    end_us: n(2),
                    regions: f
                        .get(3)
                        .map_or(RegionSet::NONE, |r| RegionSet::parse(r).expect("region names")),
                });
            } else if let Some(rest) = line.strip_prefix("update_size ") {
                rec.update_size = rest.parse().expect("size");
            }
        }
        rec
    }

    pub fn lines(&self) -> Vec<(u64, &str)> {
        self.console.iter().map(|(t, l)| (*t, l.as_str())).collect()
    }

    pub fn timeline<'a>(&'a self, lines: &'a [(u64, &'a str)]) -> Timeline<'a> {
        Timeline {
            console: lines,
            ops: Some(&self.ops),
            update_size: self.update_size,
        }
    }
}

/// The name of the recorded timeline of a simulated campaign's unfaulted run.
pub fn timeline_key(c: &Campaign) -> String {
    let TargetKind::Simulated { board, variant } = &c.target.kind else {
        panic!("{}: not a simulated campaign", c.name);
    };
    // The same names as rig/tests/timelines.rs gives them: an image file's run is keyed by the
    // files' names.
    let stem = |p: &Path| {
        p.file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
    };
    let size = match (&c.images.baseline, &c.images.update) {
        (_, ImageSource::Generated { size_kib, .. }) => format!("{size_kib}k"),
        (baseline, ImageSource::File { path, .. }) => {
            let base = match baseline {
                ImageSource::File { path, .. } => stem(path),
                ImageSource::Generated { .. } => "generated".to_string(),
            };
            format!("file-{base}-{}", stem(path))
        }
    };
    let mut suffix = String::new();
    if c.target.delivery != Delivery::Download {
        suffix.push_str(&format!("-{}", c.target.delivery));
    }
    if let Some(t) = c.tamper() {
        suffix.push_str(&format!("-{t}"));
    }
    if let (Downgrade::Refused, ImageSource::Generated { version, .. }) = (c.images.downgrade, &c.images.update) {
        suffix.push_str(&format!("-no-downgrade-{version}"));
    }
    if c.target.baseline_slot != fut::layout::Slot::Primary {
        suffix.push_str(&format!("-from-{}", c.target.baseline_slot.name()));
    }
    if c.images.baseline_confirmed {
        suffix.push_str("-confirmed-baseline");
    }
    if c.target.prior_updates > 0 {
        suffix.push_str(&format!("-after-{}-updates", c.target.prior_updates));
    }
    format!(
        "{board}-{variant}-{}-{}-{}-{size}{suffix}",
        c.target.mode,
        c.target.upgrade,
        c.images.update.health()
    )
}

pub fn recorded_for(c: &Campaign) -> Recorded {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/timelines")
        .join(format!("{}.txt", timeline_key(c)));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: no recorded timeline {}: {e}", c.name, path.display()));
    Recorded::parse(&text)
}
